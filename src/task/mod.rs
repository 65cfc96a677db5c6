//! Programs: turning an executable file into a runnable address-space plan and initial stack.
//!
//! `elf` validates a static AArch64 executable and says what to map where; `stack` builds the argv/envp/
//! auxv image Linux puts at the top of the user stack, and `hwcaps` computes the hwcaps it
//! advertises. All three are portable and host-tested: the kernel only copies their output into
//! user pages.
pub mod binfmt;
#[cfg(target_os = "none")]
pub mod coredump;
pub mod elf;
#[cfg(target_os = "none")]
pub mod exec;
#[cfg(target_os = "none")]
mod exit;
#[cfg(target_os = "none")]
pub mod futex;
pub mod hwcaps;
#[cfg(target_os = "none")]
pub mod klock;
#[cfg(target_os = "none")]
pub mod kstack;
#[cfg(target_os = "none")]
pub mod process;
#[cfg(target_os = "none")]
pub mod rmap;
#[cfg(target_os = "none")]
pub mod sched;
pub mod sigframe;
pub mod signal;
pub mod stack;
pub mod wait;
