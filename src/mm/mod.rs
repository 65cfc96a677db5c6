//! Memory management: portable code, unit-tested on the host.
pub mod addr;
