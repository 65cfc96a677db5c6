//! The Linux AArch64 ABI, each fact defined once: syscall numbers (`numbers`), errno values and
//! the kernel-internal restart codes (`errno`), signal numbers (`signal`), and the layouts of
//! the structs that cross the user/kernel boundary (`layout`). Nothing here knows about the
//! kernel that uses it.
#![cfg_attr(not(any(test, feature = "probe")), no_std)]

extern crate alloc;

pub mod errno;
pub mod layout;
pub mod numbers;
pub mod signal;
