//! Memory management: portable code, unit-tested on the host.
pub mod addr;
pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
pub mod layout;
