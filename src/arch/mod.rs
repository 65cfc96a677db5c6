//! Architecture support. Only AArch64 exists; this is the only place with `asm!` and system registers.
pub mod aarch64;
