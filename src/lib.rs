//! tidemark: an AArch64 microkernel whose memory manager behaves like Linux's.
//!
//! The library holds all kernel code. Portable parts (`mm`, most of `task` and `syscall`) also build
//! for the host, where their unit tests run against simulated physical memory; everything that touches
//! the hardware lives in `arch::aarch64` and `drivers` and only builds for the kernel target.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod mm;

#[cfg(target_os = "none")]
pub mod arch;
#[cfg(target_os = "none")]
pub mod drivers;
