//! The Linux AArch64 system-call ABI, as far as it is portable: numbers, error codes, structure
//! layouts, and the register convention.
//!
//! A program issues `svc #0` with the syscall number in `x8` and up to six arguments in `x0`–`x5`;
//! the kernel returns the result, or `-errno` in `-4095..=-1`, in `x0` and preserves every other
//! register (`arch/arm64/kernel/syscall.c` `invoke_syscall`). Handlers return a [`SysResult`] and
//! [`SyscallArgs::ret`] folds it into the `x0` value; the kernel side of the trap only moves
//! registers. Numbers, errors and structures are the `tidemark-abi` crate's ([`numbers`],
//! [`errno`], [`abi`]), each defined once.
use core::sync::atomic::{AtomicU64, Ordering};

pub use tidemark_abi::layout as abi;
pub use tidemark_abi::{errno, numbers};
pub mod fs;
#[cfg(target_os = "none")]
pub mod table;
/// User memory as handlers see it; it lives with the kernel's mm, where the file and task
/// layers below reach it too.
pub use crate::mm::uaccess as user;

use errno::Errno;

/// What a syscall handler produces: a non-negative value for `x0`, or an error.
pub type SysResult = Result<usize, Errno>;

/// One syscall as the trap saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallArgs {
    /// `x8`.
    pub nr: usize,
    /// `x0`–`x5`.
    pub args: [u64; 6],
}

impl SyscallArgs {
    /// From the saved EL0 registers `x[0..=8]`.
    pub fn from_regs(x: &[u64; 31]) -> SyscallArgs {
        SyscallArgs {
            nr: x[8] as usize,
            args: [x[0], x[1], x[2], x[3], x[4], x[5]],
        }
    }

    /// The syscall's Linux name, for logs.
    pub fn name(&self) -> &'static str {
        numbers::syscall_name(self.nr)
    }

    /// The value to put in `x0`: the result, or `-errno` as two's complement.
    pub fn ret(result: SysResult) -> u64 {
        match result {
            Ok(v) => v as u64,
            Err(e) => e.as_ret() as u64,
        }
    }
}

/// Remembers which unimplemented syscalls have been reported, so each is logged once by name (a
/// libc probing `rseq` or `statx` on every call must not flood the console). Lock-free: the trap
/// path may use it from any CPU.
pub struct UnknownSyscalls {
    seen: [AtomicU64; UnknownSyscalls::WORDS],
    /// Numbers beyond the table share one flag.
    seen_out_of_range: AtomicU64,
}

impl UnknownSyscalls {
    const WORDS: usize = numbers::NR_SYSCALLS.div_ceil(64);

    pub const fn new() -> UnknownSyscalls {
        UnknownSyscalls {
            seen: [const { AtomicU64::new(0) }; UnknownSyscalls::WORDS],
            seen_out_of_range: AtomicU64::new(0),
        }
    }

    /// `true` the first time `nr` is passed, `false` afterwards.
    pub fn first_time(&self, nr: usize) -> bool {
        let (word, bit) = match self.seen.get(nr / 64) {
            Some(w) => (w, 1u64 << (nr % 64)),
            None => (&self.seen_out_of_range, 1),
        };
        word.fetch_or(bit, Ordering::Relaxed) & bit == 0
    }
}

impl Default for UnknownSyscalls {
    fn default() -> Self {
        UnknownSyscalls::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_convention() {
        let mut x = [0u64; 31];
        x[8] = numbers::SYS_write as u64;
        x[0] = 1;
        x[1] = 0x1000;
        x[2] = 5;
        let a = SyscallArgs::from_regs(&x);
        assert_eq!(a.nr, 64);
        assert_eq!(a.args[..3], [1, 0x1000, 5]);
        assert_eq!(a.name(), "write");
        assert_eq!(SyscallArgs::ret(Ok(5)), 5);
        assert_eq!(SyscallArgs::ret(Err(errno::EFAULT)), (-14i64) as u64);
        assert_eq!(SyscallArgs::ret(Err(errno::ENOSYS)), 0xffff_ffff_ffff_ffda);
    }

    #[test]
    fn unknown_logged_once() {
        let u = UnknownSyscalls::new();
        assert!(u.first_time(numbers::SYS_rseq));
        assert!(!u.first_time(numbers::SYS_rseq));
        assert!(u.first_time(numbers::SYS_statx));
        assert!(u.first_time(100_000));
        assert!(!u.first_time(200_000));
    }
}
