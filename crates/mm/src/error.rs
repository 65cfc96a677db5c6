//! Errors of the portable memory manager and their Linux errno values, kept in one place.

/// Why a memory-management operation failed. Each variant names the errno Linux returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmError {
    /// `ENOMEM`: no room in the address space, a limit (RLIMIT_AS/RLIMIT_DATA, map count, overcommit)
    /// was hit, or the range touches a hole where a mapping was required.
    NoMemory,
    /// `EINVAL`: misaligned address, zero or overflowing length, unknown flag combination.
    Invalid,
    /// `EEXIST`: `MAP_FIXED_NOREPLACE` found a mapping in the way.
    Exists,
    /// `EACCES`: `mprotect` asked for a permission the VMA may never have (`VM_MAY*` missing).
    Access,
    /// `EAGAIN`: RLIMIT_MEMLOCK would be exceeded by a locked mapping.
    Again,
    /// `EPERM`: below `mmap_min_addr`, or `MAP_LOCKED` with a zero RLIMIT_MEMLOCK.
    Permission,
    /// `EFAULT`: the VMA cannot be grown as a stack.
    Fault,
    /// `ENOSPC`: `check_data_rlimit` refused (Linux returns this from prctl(PR_SET_MM)).
    NoSpace,
}

impl MmError {
    /// The positive Linux errno; the syscall layer negates it for the return register.
    pub const fn to_errno(self) -> i32 {
        match self {
            MmError::Permission => 1,
            MmError::Again => 11,
            MmError::NoMemory => 12,
            MmError::Access => 13,
            MmError::Fault => 14,
            MmError::Exists => 17,
            MmError::Invalid => 22,
            MmError::NoSpace => 28,
        }
    }
}
