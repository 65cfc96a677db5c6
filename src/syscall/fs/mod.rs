//! File-descriptor system calls: read, write, readv, writev, openat, close, lseek, fstat,
//! newfstatat, ioctl, readlinkat, ppoll, faccessat/faccessat2, pipe2, dup, dup3, fcntl.
//!
//! Each handler takes the raw register values and narrows them the way Linux's
//! `SYSCALL_DEFINE` wrappers do (an `unsigned int fd` ignores the upper 32 bits, an `int` flag
//! argument is sign-extended from the low 32), then checks its arguments in the order Linux
//! does, so the same hostile call gets the same error. Everything the handlers touch is behind
//! [`FsCtx`]: user memory, the descriptor table, the console, the process behind `/proc/self`,
//! and a way to sleep; the kernel supplies the real ones, tests supply fakes.
//!
//! # What the kernel must do around [`dispatch`]
//!
//! * **Blocking.** Sample [`crate::fs::pipe::events`] before dispatching. A result of
//!   [`errno::EWOULDBLOCK_RESTART`] means the call did nothing and must sleep: if a signal is
//!   deliverable, replace the result with [`interrupted_errno`] and deliver as usual; otherwise
//!   park the caller until `pipe::events()` differs from the sample (or a signal arrives, or the
//!   wait that [`Sleeper::block`] recorded ends), then re-run the same syscall with the same
//!   arguments. Calls that can return it: `read`, `readv`, `write`, `writev` on pipes, `openat`
//!   of a FIFO waiting for its other side, and `ppoll` with nothing ready (on pipes, a
//!   deadline, or only a signal).
//! * **SIGPIPE.** When [`raises_sigpipe`] says so (a write-family call failed with `EPIPE`,
//!   which only a pipe without readers produces), send `SIGPIPE` to the caller (`send_sig(SIGPIPE,
//!   current, 0)`: `SI_USER` from the caller itself in Linux; `SigInfo::kernel` is close enough),
//!   then return `EPIPE` as usual; the default action kills the process.
//! * **fork.** Give the child `files.fork_clone()`; the descriptions (and so pipe ends, offsets
//!   and status flags) are shared. **exit** drops the table, closing every end.
use alloc::vec;
use alloc::vec::Vec;

use super::abi::{
    Iovec, Pod, Stat, Termios, Timespec, Winsize, S_IFCHR, S_IFDIR, S_IFREG, UIO_MAXIOV,
};
use super::errno::{self, Errno};
use super::numbers::*;
use super::user::{access_ok, user_chunks, UserMem, UserMemExt, PATH_MAX, USER_CHUNK};
use super::SysResult;
use crate::fs::fdtable::*;
use crate::fs::inode::{Cred, Inode};
use crate::fs::pipe::{FifoWait, Pipe, PIPE_SIZE};
use crate::fs::procfs::{Node, ProcSource};
use crate::fs::vfs::{FsState, Loc, Namei, Vfs};

mod attr;
mod fcntl;
mod ioctl;
mod mount;
mod namei;
mod open;
mod pipe;
mod poll;
mod read_write;
mod readdir;
mod stat;
#[cfg(test)]
mod tests;
mod xattr;

pub use attr::*;
pub use fcntl::*;
pub use ioctl::*;
pub use mount::*;
pub use namei::*;
pub use open::*;
pub use pipe::*;
pub use poll::*;
pub use read_write::*;
pub use readdir::*;
pub use stat::*;
pub use xattr::*;

/// Whether the kernel must send `SIGPIPE` to the caller for this result: a write-family call
/// that failed with `EPIPE` (only a pipe with no readers left produces it, and Linux's
/// `pipe_write` sends the signal whenever it does).
#[allow(non_upper_case_globals)]
pub fn raises_sigpipe(nr: usize, result: &SysResult) -> bool {
    matches!(
        nr,
        SYS_write | SYS_writev | SYS_pwrite64 | SYS_pwritev | SYS_pwritev2
    ) && *result == Err(errno::EPIPE)
}

/// What a call that returned [`errno::EWOULDBLOCK_RESTART`] becomes when a signal interrupts
/// its sleep, as Linux returns it from the wait: `ERESTARTNOHAND` for `ppoll`/`pselect6` (never
/// restarted after a handler), `ERESTARTSYS` for everything else (restarted under
/// `SA_RESTART`, else `EINTR`).
#[allow(non_upper_case_globals)]
pub fn interrupted_errno(nr: usize) -> Errno {
    match nr {
        SYS_ppoll | SYS_pselect6 | SYS_rt_sigsuspend => errno::ERESTARTNOHAND,
        _ => errno::ERESTARTSYS,
    }
}

/// How a file call waits (ppoll's timeout). The kernel does not sleep inside a call: it parks
/// the caller and runs the call again from the start when woken, so a timed wait is a deadline
/// recorded for the restarted call.
pub trait Sleeper {
    /// The uptime clock, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// The deadline [`block`](Self::block) recorded before this run of the call, if it is a
    /// restart of a timed wait.
    fn deadline(&self) -> Option<u64>;
    /// Parks the caller until `deadline` passes (never, when `None`), until some pipe changes
    /// (when `pipes`), or until a signal arrives, with the signal mask meant to be replaced by
    /// `mask` meanwhile (ppoll's `sigmask`); returns the errno the call must return
    /// ([`errno::EWOULDBLOCK_RESTART`]).
    fn block(&self, deadline: Option<u64>, pipes: bool, mask: Option<u64>) -> Errno;
    /// The call completes: its deadline is forgotten.
    fn finish(&self);
    /// The FIFO open this call waits in, when this run is a re-run of one (the end it opened,
    /// kept by [`keep_fifo_wait`](Self::keep_fifo_wait)). The kernel drops a kept wait when the
    /// call ends any other way (an error, a signal), closing that end.
    fn take_fifo_wait(&self) -> Option<FifoWait> {
        None
    }
    /// Keeps `w` for the next run of this call, which [`block`](Self::block) schedules.
    fn keep_fifo_wait(&self, w: FifoWait) {
        drop(w);
    }
    /// Whether the caller blocks or ignores `sig`: a background job's terminal read then fails
    /// with EIO rather than stopping, and its write goes ahead (job control at the terminal).
    fn ignores(&self, _sig: u32) -> bool {
        false
    }
    /// Whether the caller's process group is orphaned (`is_current_pgrp_orphaned`): no member
    /// has a parent in another group of its session (init's children aside), so a stopped job
    /// could never be continued; its terminal use fails with `EIO` instead.
    fn pgrp_orphaned(&self) -> bool {
        false
    }
}

/// How the caller stands toward job-control signal `sig` at the terminal.
pub fn background(sleeper: &dyn Sleeper, sig: u32) -> crate::fs::tty::Background {
    use crate::fs::tty::Background;
    if sleeper.ignores(sig) {
        Background::Ignores
    } else if sleeper.pgrp_orphaned() {
        Background::Orphaned
    } else {
        Background::Stops
    }
}

/// Everything a file syscall needs, borrowed from the calling process for the call.
pub struct FsCtx<'a> {
    pub mem: &'a mut dyn UserMem,
    pub files: &'a mut Files,
    pub console: &'a dyn Console,
    pub proc: &'a dyn ProcSource,
    pub sleeper: &'a dyn Sleeper,
    /// The name space, and the caller's place in it (`current->fs`) and credentials.
    pub vfs: &'a Vfs,
    pub fs: &'a mut FsState,
    pub cred: Cred,
    /// The caller's process ids, for the terminal's job control.
    pub job: JobIds,
}

/// A process's place in job control: its pid, process group and session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobIds {
    pub pid: i32,
    pub pgid: i32,
    pub sid: i32,
}

impl FsCtx<'_> {
    /// The job-control check before a terminal read (`SIGTTIN`) or a write (`SIGTTOU`, only
    /// under `TOSTOP`).
    fn tty_job_check(&self, read: bool) -> Result<(), Errno> {
        use crate::task::signal::{SIGTTIN, SIGTTOU};
        let mut tty = self.console.tty().lock();
        let sig = if read {
            SIGTTIN
        } else if tty.tostop() {
            SIGTTOU
        } else {
            return Ok(());
        };
        tty.job_check(self.job.sid, self.job.pgid, sig, || {
            background(self.sleeper, sig)
        })
    }
}

impl FsCtx<'_> {
    /// The caller's walker.
    fn nd(&self) -> Namei<'_> {
        Namei {
            vfs: self.vfs,
            cwd: &self.fs.cwd,
            cred: self.cred,
            proc: self.proc,
            own: Some((self.files, self.fs)),
        }
    }
}

/// Routes the syscalls this module implements; `None` for any other number.
#[allow(non_upper_case_globals)] // Linux's `SYS_read` spelling, used as patterns.
pub fn dispatch(ctx: &mut FsCtx<'_>, nr: usize, a: [u64; 6]) -> Option<SysResult> {
    Some(match nr {
        SYS_read => sys_read(ctx, a[0], a[1], a[2]),
        SYS_write => sys_write(ctx, a[0], a[1], a[2]),
        SYS_readv => sys_readv(ctx, a[0], a[1], a[2]),
        SYS_writev => sys_writev(ctx, a[0], a[1], a[2]),
        SYS_openat => sys_openat(ctx, a[0], a[1], a[2], a[3]),
        SYS_close => sys_close(ctx, a[0]),
        SYS_lseek => sys_lseek(ctx, a[0], a[1], a[2]),
        SYS_fstat => sys_fstat(ctx, a[0], a[1]),
        SYS_newfstatat => sys_newfstatat(ctx, a[0], a[1], a[2], a[3]),
        SYS_getxattr | SYS_lgetxattr | SYS_fgetxattr => sys_getxattr(ctx, nr, a[0], a[1]),
        SYS_listxattr | SYS_llistxattr | SYS_flistxattr => sys_listxattr(ctx, nr, a[0]),
        SYS_setxattr | SYS_lsetxattr | SYS_fsetxattr => {
            sys_setxattr(ctx, nr, a[0], a[1], a[3], a[4])
        }
        SYS_removexattr | SYS_lremovexattr | SYS_fremovexattr => {
            sys_removexattr(ctx, nr, a[0], a[1])
        }
        SYS_fadvise64 => sys_fadvise64(ctx, a[0], a[2], a[3]),
        SYS_ioctl => sys_ioctl(ctx, a[0], a[1], a[2]),
        SYS_readlinkat => sys_readlinkat(ctx, a[0], a[1], a[2], a[3]),
        SYS_ppoll => sys_ppoll(ctx, a[0], a[1], a[2], a[3], a[4]),
        SYS_pselect6 => sys_pselect6(ctx, a),
        SYS_faccessat => sys_faccessat2(ctx, a[0], a[1], a[2], 0),
        SYS_faccessat2 => sys_faccessat2(ctx, a[0], a[1], a[2], a[3]),
        SYS_pipe2 => sys_pipe2(ctx, a[0], a[1]),
        SYS_dup => sys_dup(ctx, a[0]),
        SYS_dup3 => sys_dup3(ctx, a[0], a[1], a[2]),
        SYS_fcntl => sys_fcntl(ctx, a[0], a[1], a[2]),
        SYS_pread64 => sys_pread64(ctx, a[0], a[1], a[2], a[3]),
        SYS_pwrite64 => sys_pwrite64(ctx, a[0], a[1], a[2], a[3]),
        SYS_preadv => sys_preadv(ctx, a[0], a[1], a[2], a[3], 0),
        SYS_pwritev => sys_pwritev(ctx, a[0], a[1], a[2], a[3], 0),
        SYS_preadv2 => sys_preadv(ctx, a[0], a[1], a[2], a[3], a[5]),
        SYS_pwritev2 => sys_pwritev(ctx, a[0], a[1], a[2], a[3], a[5]),
        SYS_sendfile => sys_sendfile(ctx, a[0], a[1], a[2], a[3]),
        SYS_getdents64 => sys_getdents64(ctx, a[0], a[1], a[2]),
        SYS_mkdirat => sys_mkdirat(ctx, a[0], a[1], a[2]),
        SYS_mknodat => sys_mknodat(ctx, a[0], a[1], a[2], a[3]),
        SYS_symlinkat => sys_symlinkat(ctx, a[0], a[1], a[2]),
        SYS_linkat => sys_linkat(ctx, a[0], a[1], a[2], a[3], a[4]),
        SYS_unlinkat => sys_unlinkat(ctx, a[0], a[1], a[2]),
        SYS_renameat => sys_renameat2(ctx, a[0], a[1], a[2], a[3], 0),
        SYS_renameat2 => sys_renameat2(ctx, a[0], a[1], a[2], a[3], a[4]),
        SYS_chdir => sys_chdir(ctx, a[0]),
        SYS_fchdir => sys_fchdir(ctx, a[0]),
        SYS_getcwd => sys_getcwd(ctx, a[0], a[1]),
        SYS_umask => sys_umask(ctx, a[0]),
        SYS_fchmod => sys_fchmod(ctx, a[0], a[1]),
        SYS_fchmodat => sys_fchmodat2(ctx, a[0], a[1], a[2], 0),
        SYS_fchmodat2 => sys_fchmodat2(ctx, a[0], a[1], a[2], a[3]),
        SYS_fchown => sys_fchown(ctx, a[0], a[1], a[2]),
        SYS_fchownat => sys_fchownat(ctx, a[0], a[1], a[2], a[3], a[4]),
        SYS_truncate => sys_truncate(ctx, a[0], a[1]),
        SYS_fallocate => sys_fallocate(ctx, a[0], a[1], a[2], a[3]),
        SYS_ftruncate => sys_ftruncate(ctx, a[0], a[1]),
        SYS_utimensat => sys_utimensat(ctx, a[0], a[1], a[2], a[3]),
        SYS_fsync | SYS_fdatasync => sys_fsync(ctx, a[0]),
        // Memory is the storage: there is nothing to write back.
        SYS_sync => Ok(0),
        SYS_mount => sys_mount(ctx, a[0], a[1], a[2], a[3]),
        SYS_umount2 => sys_umount2(ctx, a[0], a[1]),
        SYS_syncfs => ctx.files.get(ufd(a[0])).map(|_| 0),
        SYS_statfs => sys_statfs(ctx, a[0], a[1]),
        SYS_fstatfs => sys_fstatfs(ctx, a[0], a[1]),
        SYS_statx => sys_statx(ctx, a[0], a[1], a[2], a[3], a[4]),
        _ => return None,
    })
}

/// An `unsigned int fd` argument.
fn ufd(v: u64) -> u32 {
    v as u32
}

/// An `int` argument (`dfd`, flags, sizes).
fn int(v: u64) -> i32 {
    v as u32 as i32
}
