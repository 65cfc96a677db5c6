//! tidemark's AArch64 layer: boot, the exception vectors and entering EL0, system registers,
//! the MMU controls, TLB and cache maintenance, user copies, firmware calls (PSCI,
//! semihosting). It is the only place with `asm!` and system registers.
//!
//! It depends on the portable mm (`tidemark-mm`, for addresses and the page-table driver) and on
//! nothing of the kernel above it: the kernel calls in, and the layer answers by returning. A
//! task's exceptions from EL0 return from `exception::enter_user` with a reason; the three ways
//! back up are given to it, not named by it: the boot code's `kmain` symbol (the one entry), the
//! entry function a new task or core starts in, and the fatal-exception handler
//! (`exception::set_fatal_handler`).
#![cfg_attr(not(test), no_std)]
pub mod esr;

/// The most cores the kernel drives (per-CPU tables are this long).
pub const MAX_CPUS: usize = 16;

pub mod regs;
pub mod relax;

#[cfg(target_os = "none")]
pub mod backtrace;
#[cfg(target_os = "none")]
pub mod barrier;
#[cfg(target_os = "none")]
pub mod boot;
#[cfg(target_os = "none")]
pub mod cache;
#[cfg(target_os = "none")]
pub mod context;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod exception;
#[cfg(target_os = "none")]
pub mod extable;
#[cfg(target_os = "none")]
pub mod gic_cpuif;
#[cfg(target_os = "none")]
pub mod mem;
#[cfg(target_os = "none")]
pub mod mmu;
#[cfg(target_os = "none")]
pub mod psci;
#[cfg(target_os = "none")]
pub mod semihosting;
#[cfg(target_os = "none")]
pub mod smp;
#[cfg(target_os = "none")]
pub mod timer;
#[cfg(target_os = "none")]
pub mod tlb;
#[cfg(target_os = "none")]
pub mod uaccess;
