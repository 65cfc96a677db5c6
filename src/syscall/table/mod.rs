//! The system-call table: Linux AArch64 numbers to handlers (kernel side).
//!
//! Handlers get the current process and the raw arguments; everything from EL0 is hostile, so
//! each argument is range-checked before use, user memory is reached only through the process's
//! fault-aware copies, and every failure is an errno, never a panic.
// Linux spells the syscall numbers `SYS_read`, `SYS_brk`: matching on them keeps that spelling.
#![allow(non_upper_case_globals)]

use super::abi;
use super::errno::{self, Errno};
use super::numbers::*;
use super::user::UserMemExt;
use super::{SysResult, SyscallArgs, UnknownSyscalls};
use crate::arch::aarch64::exception::TrapFrame;
use crate::arch::aarch64::timer;
use crate::mm::brk::sys_brk;
use crate::mm::madvise::do_madvise;
use crate::mm::mincore::{mincore_check, mincore_range};
use crate::mm::mlock::{do_mlock, do_mlockall, do_munlock, do_munlockall};
use crate::mm::mm_struct::MmStruct;
use crate::mm::mm_struct::Rlimit;
use crate::mm::mmap::{do_mmap, do_munmap_deferred, DeferredUnmap};
use crate::mm::mprotect::do_mprotect;
use crate::mm::mremap::do_mremap;
use crate::mm::pagetable::UnmapReserve;
use crate::mm::vm_space::VmSpace;
use crate::task::process::{ExitReason, Process};
use crate::task::sched::{WaitFor, TASKS};
use crate::task::signal::{self, SigAction, SigInfo, SigSet};
use crate::task::wait::{
    wait4_args, wait_status, waitid_args, ChildState, WaitOptions, WaitTarget, WaitidInfo,
    SIGINFO_SIZE as WAIT_SIGINFO_SIZE, WAITID_INFO_LEN,
};

/// What `uname` and `/proc/version` call this kernel.
pub const UTS_RELEASE: &str = "6.1.0-tidemark";
pub const UTS_VERSION: &str = concat!("#1 tidemark ", env!("CARGO_PKG_VERSION"));

mod cred;
mod exec;
mod fs_ctx;
pub mod futex;
mod mm;
mod process;
mod random;
mod resource;
mod shm;
mod signals;
mod time;

static UNKNOWN: UnknownSyscalls = UnknownSyscalls::new();

const RLIMIT_CPU: usize = 0;
const RLIMIT_FSIZE: usize = 1;
const RLIMIT_STACK: usize = 3;
const RLIMIT_DATA: usize = 2;
const RLIMIT_NPROC: usize = 6;
const RLIMIT_NOFILE: usize = 7;
const RLIMIT_MEMLOCK: usize = 8;
const RLIMIT_AS: usize = 9;
const RLIM_NLIMITS: usize = 16;

fn mm_err(e: crate::mm::error::MmError) -> Errno {
    Errno(e.to_errno())
}

/// Runs the syscall in `tf` for `p` and stores the result in x0. Returns `true` when the call
/// must sleep: the registers are left as they were and `p.wait` says what it waits for; the
/// caller switches away and, once `p` is woken, runs the call again from the start (see
/// `trap::syscall_sleep`). Never inlined: it is the place to stop in GDB for any syscall
/// (`tbreak *tidemark::syscall::table::dispatch if ...`).
#[inline(never)]
pub fn dispatch(p: &mut Process, tf: &mut TrapFrame) -> bool {
    let nr = SyscallArgs::from_regs(&tf.x).nr;
    let entry = TABLE.get(nr).copied().unwrap_or(Entry::ENOSYS);
    let ret = if entry.kind == Kind::Plain {
        (entry.handler)(p, tf)
    } else {
        match special_call(p, tf, entry) {
            Some(ret) => ret,
            None => return false,
        }
    };
    // `-4095..=-1` is an error, as libc reads x0 and as Linux's return path takes a restart
    // code in it (`IS_ERR_VALUE`).
    match Errno::from_ret(ret as isize) {
        None => {
            if tracing() {
                trace_call(tf, Ok(ret as usize));
            }
            tf.x[0] = ret;
            false
        }
        Some(e) => finish_error(p, tf, e),
    }
}

/// A call that is not [`Kind::Plain`]: its result, or `None` when it wrote the registers itself.
#[inline(never)]
fn special_call(p: &mut Process, tf: &mut TrapFrame, entry: Entry) -> Option<u64> {
    match entry.kind {
        Kind::Admitted => Some(admitted_call(p, tf, entry.handler)),
        Kind::Sigreturn => {
            // Restores the whole frame, x0 included.
            p.sigreturn(tf);
            None
        }
        Kind::Plain => Some((entry.handler)(p, tf)),
    }
}

/// The error half of [`dispatch`], out of line so that the common `Ok` return stays short: a
/// call that would block sleeps (`true`), a restartable one is restarted or becomes EINTR, EPIPE
/// raises SIGPIPE, and the errno goes to x0.
#[inline(never)]
fn finish_error(p: &mut Process, tf: &mut TrapFrame, e: Errno) -> bool {
    let call = SyscallArgs::from_regs(&tf.x);
    let mut ret: SysResult = Err(e);
    if e == errno::EWOULDBLOCK_RESTART {
        if p.signals.next_deliverable().is_none() {
            // Block: leave the registers as they are, so that the call runs again from scratch
            // in the kernel when the process is woken. A pipe wait was recorded by `fs_call`
            // with the pipe events as they were before the call.
            p.wait
                .get_or_insert_with(|| WaitFor::Pipe(crate::fs::pipe::events()));
            return true;
        }
        // The deadline of a timed wait stays for a restart (the call goes on towards it, as
        // Linux's restarted ppoll and nanosleep do); it goes below if the call ends here.
        p.wait = None;
        ret = Err(futex::interrupted_errno(&call)
            .unwrap_or_else(|| super::fs::interrupted_errno(call.nr)));
    }
    if let Err(e) = ret {
        if e.is_restart() {
            // A signal interrupted a call that would have waited: restart it after the handler
            // (SA_RESTART) or report EINTR, as arm64's `do_signal` decides.
            match signal::syscall_restart(e.as_ret(), pending_handler_flags(p)) {
                signal::Restart::Restart | signal::Restart::RestartBlock => {
                    tf.elr -= 4;
                    return false;
                }
                _ => ret = Err(errno::EINTR),
            }
        }
    }
    // The call ends with an error: no later call may take its deadline, or the FIFO end it
    // waited with, for its own.
    p.sleep_deadline = None;
    p.fifo_wait = None;
    if ret == Err(errno::EFBIG_XFSZ) {
        ret = Err(errno::EFBIG);
        let _ = p
            .signals
            .send(signal::SIGXFSZ, SigInfo::kernel(signal::SIGXFSZ));
    }
    if super::fs::raises_sigpipe(call.nr, &ret) {
        let _ = p
            .signals
            .send(signal::SIGPIPE, SigInfo::kernel(signal::SIGPIPE));
    }
    if tracing() {
        trace_call(tf, ret);
    }
    tf.x[0] = SyscallArgs::ret(ret);
    false
}

/// Whether syscalls are logged (`trace` level): one load and compare on the hot path.
#[inline(always)]
fn tracing() -> bool {
    log::max_level() >= log::LevelFilter::Trace
}

/// The `trace`-level log line of a finished call, whose registers are still in `tf`.
#[cold]
#[inline(never)]
fn trace_call(tf: &TrapFrame, ret: SysResult) {
    let call = SyscallArgs::from_regs(&tf.x);
    log::trace!(
        "{}({:#x}, {:#x}, {:#x}) = {:?}",
        call.name(),
        call.args[0],
        call.args[1],
        call.args[2],
        ret
    );
}

/// The `sa_flags` of the handler the next deliverable signal will run, if it runs one. A function
/// of its own, so that `dispatch` has no closures: GDB would take `dispatch` for a namespace.
fn pending_handler_flags(p: &Process) -> Option<u64> {
    let sig = p.signals.next_deliverable()?;
    let a = p.signals.action(sig);
    (a.handler != signal::SIG_DFL && a.handler != signal::SIG_IGN).then_some(a.flags)
}

/// The file syscalls, through the portable handlers in `syscall::fs`. A call that must wait
/// ([`errno::EWOULDBLOCK_RESTART`] without a wait of its own) waits for the pipes to move on from
/// their state before the call.
fn fs_call(p: &mut Process, tf: &TrapFrame) -> Option<SysResult> {
    use fs_ctx::{KernelConsole, MemView, ProcView, SchedSleeper, Shared};
    let call = SyscallArgs::from_regs(&tf.x);
    let since = crate::fs::pipe::events();
    // The descriptor table and working directory are held for the call. Syscalls run one at a
    // time under the kernel lock, and a call that waits returns before it sleeps, so the only
    // other taker while they are held is /proc inside this call, asked about a task that shares
    // them: the walker answers from the call's own (`Namei::own`, `ProcSource::shares_files`),
    // and /proc's looks at other tasks' tables only try their locks.
    let (files_lock, fs_lock) = (p.files.clone(), p.fs.clone());
    let mut files = files_lock.lock();
    let mut fs = fs_lock.lock();
    let cred = crate::fs::inode::Cred {
        fsuid: p.creds.euid,
        fsgid: p.creds.egid,
    };
    let (pid, tid) = (p.tgid, p.pid);
    let p_ids = (p.pgid, p.sid);
    let shared = Shared(core::cell::RefCell::new(p));
    let mut mem = MemView(&shared);
    let proc = ProcView {
        shared: &shared,
        pid,
        tid,
        umask: fs.umask,
    };
    let mut ctx = super::fs::FsCtx {
        mem: &mut mem,
        files: &mut files,
        console: &KernelConsole,
        proc: &proc,
        sleeper: &SchedSleeper {
            shared: &shared,
            since,
        },
        vfs: crate::fs::vfs(),
        fs: &mut fs,
        cred,
        job: super::fs::JobIds {
            pid,
            pgid: p_ids.0,
            sid: p_ids.1,
        },
    };
    let r = super::fs::dispatch(&mut ctx, call.nr, call.args);
    drop((files, fs));
    let p = shared.0.into_inner();
    // A wait with a temporary signal mask that ends other than by a signal gives the mask
    // back now (`restore_saved_sigmask_unless`); an interrupted one leaves it for the handler's
    // frame, or for the call's restart.
    if matches!(call.nr, SYS_ppoll | SYS_pselect6) && r != Some(Err(errno::EWOULDBLOCK_RESTART)) {
        p.signals.restore_saved_mask();
    }
    // A background job used the terminal: its process group stops (SIGTTIN or SIGTTOU), the
    // caller included, and the call restarts once it is continued.
    if let Some((pgrp, sig)) = crate::console::take_job_signal() {
        TASKS.lock().signal_group(pgrp, sig);
        if p.pgid == pgrp {
            let _ = p.signals.send(sig, SigInfo::kernel(sig));
        }
    }
    if r == Some(Err(errno::EWOULDBLOCK_RESTART)) {
        p.wait.get_or_insert(WaitFor::Pipe(since));
    }
    r
}

/// Kernel memory a call may commit on the program's behalf: the VMAs of a split, a descriptor
/// table's growth, a pipe's buffer. Far more than any of these calls takes in one go.
const CALL_HEADROOM: usize = 64 << 10;
/// A fork: the process and its tables, then per VMA and per shared page (a VMA node, a
/// reference-count entry), generously.
const FORK_BASE: usize = 64 << 10;
const FORK_PER_VMA: usize = 256;
const FORK_PER_PAGE: usize = 32;

/// Admission control for kernel memory (see `FramePool::admits`): a call that makes kernel
/// objects for the program runs only while the kernel would keep half of its reserve afterwards;
/// otherwise it fails as Linux's does when memory is short (`ENOMEM`). Calls that free memory, or
/// make nothing that outlives them, are not in it ([`Kind::Admitted`]) and always run.
#[inline]
fn admitted_call(p: &mut Process, tf: &mut TrapFrame, handler: Handler) -> u64 {
    if let Err(e) = admit(p, &SyscallArgs::from_regs(&tf.x)) {
        return SyscallArgs::ret(Err(e));
    }
    let r = handler(p, tf);
    crate::mm::heap::end_admitted_call();
    r
}

/// Whether a clone shares the caller's address space (`CLONE_VM`), from clone's first argument
/// or clone3's first field; a field that cannot be read counts as a fork (the call itself then
/// fails with EFAULT).
fn clone_shares_mm(call: &SyscallArgs) -> bool {
    use crate::syscall::abi::clone::CLONE_VM;
    let flags = if call.nr == SYS_clone {
        call.args[0]
    } else {
        let mut word = [0u8; 8];
        if crate::arch::aarch64::uaccess::copy_from_user(&mut word, call.args[0] as usize).is_err()
        {
            return false;
        }
        u64::from_le_bytes(word)
    };
    flags & CLONE_VM != 0
}

/// The kernel memory `call` may make, admitted or refused.
fn admit(p: &Process, call: &SyscallArgs) -> Result<(), Errno> {
    let nr = call.nr;
    let need = if (nr == SYS_clone || nr == SYS_clone3) && !clone_shares_mm(call) {
        let mut mm = p.mm();
        FORK_BASE
            + mm.map_count() * FORK_PER_VMA
            + mm.pt.pages.get_mut().rss_pages() * FORK_PER_PAGE
    } else if nr == SYS_clone || nr == SYS_clone3 {
        // A thread copies no address space: its task and kernel stack.
        FORK_BASE
    } else {
        CALL_HEADROOM
    };
    if crate::mm::heap::admit(need) {
        Ok(())
    } else {
        Err(errno::ENOMEM)
    }
}

/// A system call's handler: the calling process and its saved registers, which hold the call's
/// number and arguments (and which exec, clone and sigreturn rewrite). A handler reads the
/// arguments it needs (`SyscallArgs`) itself, so that a call with none copies none.
type Handler = fn(&mut Process, &mut TrapFrame) -> u64;

/// One row of [`TABLE`].
#[derive(Clone, Copy)]
struct Entry {
    handler: Handler,
    kind: Kind,
}

/// How [`dispatch`] runs a handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Called, its result to x0.
    Plain,
    /// The call makes kernel objects that outlive it, and runs only once admitted
    /// ([`admitted_call`]).
    Admitted,
    /// rt_sigreturn, which restores every register, x0 included: nothing is written back.
    Sigreturn,
}

impl Entry {
    const ENOSYS: Entry = Entry {
        handler: enosys,
        kind: Kind::Plain,
    };
}

/// The file syscalls, handled by the portable handlers in `syscall::fs` ([`fs_call`]).
const FS_CALLS: &[usize] = &[
    SYS_read,
    SYS_pipe2,
    SYS_dup,
    SYS_dup3,
    SYS_fcntl,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_openat,
    SYS_close,
    SYS_lseek,
    SYS_fstat,
    SYS_newfstatat,
    SYS_ioctl,
    SYS_readlinkat,
    SYS_ppoll,
    SYS_pselect6,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_pread64,
    SYS_pwrite64,
    SYS_preadv,
    SYS_pwritev,
    SYS_preadv2,
    SYS_pwritev2,
    SYS_sendfile,
    SYS_getdents64,
    SYS_mkdirat,
    SYS_mknodat,
    SYS_symlinkat,
    SYS_linkat,
    SYS_unlinkat,
    SYS_renameat,
    SYS_renameat2,
    SYS_chdir,
    SYS_fchdir,
    SYS_getcwd,
    SYS_umask,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_fchmodat2,
    SYS_fchown,
    SYS_fchownat,
    SYS_truncate,
    SYS_ftruncate,
    SYS_utimensat,
    SYS_fsync,
    SYS_fdatasync,
    SYS_statfs,
    SYS_fstatfs,
    SYS_statx,
    SYS_sync,
    SYS_syncfs,
    SYS_mount,
    SYS_umount2,
    SYS_fallocate,
    SYS_getxattr,
    SYS_lgetxattr,
    SYS_fgetxattr,
    SYS_listxattr,
    SYS_llistxattr,
    SYS_flistxattr,
    SYS_setxattr,
    SYS_lsetxattr,
    SYS_fsetxattr,
    SYS_removexattr,
    SYS_lremovexattr,
    SYS_fremovexattr,
    SYS_fadvise64,
];

/// Linux AArch64 syscall numbers to handlers: one indexed load and an indirect call on the
/// syscall path, so that the common call pays for neither a chain of tests nor the frame of a
/// function that holds every handler inlined.
static TABLE: [Entry; NR_SYSCALLS] = {
    let mut t = [Entry::ENOSYS; NR_SYSCALLS];
    // `set!(NR | NR => |p, call, tf| body)`: the handler of those numbers, with `call` the
    // call's arguments.
    macro_rules! set {
        ($($nr:ident)|+ => |$p:pat_param, $c:pat_param, $tf:pat_param| $body:expr) => {{
            let h: Handler = |$p, regs| {
                let $c = &SyscallArgs::from_regs(&regs.x);
                let $tf = regs;
                SyscallArgs::ret($body)
            };
            $( t[$nr].handler = h; )+
        }};
    }
    let fs: Handler = |p, tf| {
        SyscallArgs::ret(match fs_call(p, tf) {
            Some(r) => r,
            None => unimplemented(SyscallArgs::from_regs(&tf.x).nr),
        })
    };
    let mut i = 0;
    while i < FS_CALLS.len() {
        t[FS_CALLS[i]].handler = fs;
        i += 1;
    }
    t[SYS_rt_sigreturn].kind = Kind::Sigreturn;
    set!(SYS_exit | SYS_exit_group => |p, c, tf| process::exit(p, c, tf));
    // A successful exec replaces the whole frame; the 0 it returns is its x0.
    set!(SYS_execve => |p, c, tf| {
        let a = c.args;
        exec::sys_execveat(p, tf, -100, a[0] as usize, a[1] as usize, a[2] as usize, 0)
    });
    set!(SYS_execveat => |p, c, tf| {
        let a = c.args;
        let (dirfd, flags) = (a[0] as i32, a[4] as u32);
        exec::sys_execveat(p, tf, dirfd, a[1] as usize, a[2] as usize, a[3] as usize, flags)
    });
    set!(SYS_clone => |p, c, tf| {
        let a = c.args.map(|v| v as usize);
        process::sys_clone(p, tf, a[0], a[1], a[2], a[3], a[4])
    });
    set!(SYS_clone3 => |p, c, tf| process::sys_clone3(p, tf, c.args[0] as usize, c.args[1] as usize));
    set!(SYS_wait4 => |p, c, _| {
        let a = c.args;
        process::sys_wait4(p, a[0] as i32, a[1] as usize, a[2] as usize, a[3] as usize)
    });
    set!(SYS_waitid => |p, c, _| {
        let a = c.args;
        process::sys_waitid(p, a[0] as u32, a[1] as i32, a[2] as usize, a[3] as usize)
    });
    set!(SYS_reboot => |p, c, _| {
        let a = c.args;
        process::sys_reboot(p, a[0] as u32, a[1] as u32, a[2] as u32)
    });
    set!(SYS_brk => |p, c, _| mm::brk(p, c.args[0] as usize));
    set!(SYS_mmap => |p, c, tf| mm::mmap(p, c, tf));
    set!(SYS_munmap => |p, c, tf| mm::munmap(p, c, tf));
    set!(SYS_mprotect => |p, c, tf| mm::mprotect(p, c, tf));
    set!(SYS_mremap => |p, c, tf| mm::mremap(p, c, tf));
    set!(SYS_madvise => |p, c, tf| mm::madvise(p, c, tf));
    set!(SYS_mlock | SYS_mlock2 => |p, c, tf| mm::mlock(p, c, tf));
    set!(SYS_munlock => |p, c, tf| mm::munlock(p, c, tf));
    set!(SYS_mlockall => |p, c, tf| mm::mlockall(p, c, tf));
    set!(SYS_munlockall => |p, c, tf| mm::munlockall(p, c, tf));
    set!(SYS_mincore => |p, c, _| {
        let a = c.args;
        mm::sys_mincore(p, a[0] as usize, a[1] as usize, a[2] as usize)
    });
    set!(SYS_msync => |p, c, _| {
        let a = c.args;
        mm::sys_msync(p, a[0] as usize, a[1] as usize, a[2] as i32)
    });
    set!(SYS_memfd_create => |p, c, _| mm::sys_memfd_create(p, c.args[0] as usize, c.args[1] as u32));
    set!(SYS_set_tid_address => |p, c, tf| process::set_tid_address(p, c, tf));
    set!(SYS_set_robust_list => |p, c, tf| process::set_robust_list(p, c, tf));
    set!(SYS_get_robust_list => |p, c, tf| process::get_robust_list(p, c, tf));
    set!(SYS_getpid => |p, c, tf| process::getpid(p, c, tf));
    set!(SYS_gettid => |p, c, tf| process::gettid(p, c, tf));
    set!(SYS_getppid => |p, c, tf| process::getppid(p, c, tf));
    set!(SYS_setpgid => |p, c, tf| process::setpgid(p, c, tf));
    set!(SYS_getpgid => |p, c, tf| process::getpgid(p, c, tf));
    set!(SYS_getsid => |p, c, tf| process::getsid(p, c, tf));
    set!(SYS_setsid => |p, c, tf| process::setsid(p, c, tf));
    set!(SYS_prctl => |p, c, tf| process::prctl(p, c, tf));
    set!(SYS_getuid => |p, c, tf| cred::getuid(p, c, tf));
    set!(SYS_geteuid => |p, c, tf| cred::geteuid(p, c, tf));
    set!(SYS_getgid => |p, c, tf| cred::getgid(p, c, tf));
    set!(SYS_getegid => |p, c, tf| cred::getegid(p, c, tf));
    set!(SYS_getresuid | SYS_getresgid => |p, c, tf| cred::getresuid(p, c, tf));
    set!(SYS_setuid | SYS_setgid | SYS_setreuid | SYS_setregid | SYS_setresuid | SYS_setresgid
        => |p, c, tf| cred::setuid(p, c, tf));
    set!(SYS_getgroups => |p, c, tf| cred::getgroups(p, c, tf));
    set!(SYS_setgroups => |p, c, tf| cred::setgroups(p, c, tf));
    set!(SYS_sched_yield => |p, c, tf| process::sched_yield(p, c, tf));
    set!(SYS_shmget => |p, c, _| {
        let a = c.args;
        shm::sys_shmget(p, a[0] as i32, a[1] as usize, a[2] as u32)
    });
    set!(SYS_shmat => |p, c, _| {
        let a = c.args;
        shm::sys_shmat(p, a[0] as i32, a[1] as usize, a[2] as u32)
    });
    set!(SYS_shmdt => |p, c, _| shm::sys_shmdt(p, c.args[0] as usize));
    set!(SYS_shmctl => |p, c, _| {
        let a = c.args;
        shm::sys_shmctl(p, a[0] as i32, a[1] as u32, a[2] as usize)
    });
    set!(SYS_sched_getaffinity => |p, c, tf| process::sched_getaffinity(p, c, tf));
    set!(SYS_sched_setaffinity => |p, c, tf| process::sched_setaffinity(p, c, tf));
    set!(SYS_getcpu => |p, c, tf| process::getcpu(p, c, tf));
    set!(SYS_uname => |p, c, tf| process::uname(p, c, tf));
    set!(SYS_getrandom => |p, c, tf| random::getrandom(p, c, tf));
    set!(SYS_clock_gettime => |p, c, tf| time::clock_gettime(p, c, tf));
    set!(SYS_clock_getres => |p, c, tf| time::clock_getres(p, c, tf));
    set!(SYS_gettimeofday => |p, c, tf| time::gettimeofday(p, c, tf));
    set!(SYS_settimeofday => |p, c, tf| time::settimeofday(p, c, tf));
    set!(SYS_clock_settime => |p, c, tf| time::clock_settime(p, c, tf));
    set!(SYS_nanosleep | SYS_clock_nanosleep => |p, c, tf| time::nanosleep(p, c, tf));
    set!(SYS_futex => |p, c, tf| futex::futex(p, c, tf));
    set!(SYS_getitimer => |p, c, tf| time::getitimer(p, c, tf));
    set!(SYS_setitimer => |p, c, tf| time::setitimer(p, c, tf));
    set!(SYS_getrlimit => |p, c, _| resource::get_rlimit(p, c.args[0] as usize, c.args[1] as usize));
    set!(SYS_setrlimit => |p, c, _| resource::set_rlimit(p, c.args[0] as usize, c.args[1] as usize));
    set!(SYS_prlimit64 => |p, c, tf| resource::prlimit64(p, c, tf));
    set!(SYS_rt_sigaction => |p, c, tf| signals::rt_sigaction(p, c, tf));
    set!(SYS_rt_sigprocmask => |p, c, tf| signals::rt_sigprocmask(p, c, tf));
    set!(SYS_rt_sigpending => |p, c, tf| signals::rt_sigpending(p, c, tf));
    set!(SYS_rt_sigsuspend => |p, c, tf| signals::rt_sigsuspend(p, c, tf));
    set!(SYS_sigaltstack => |p, c, tf| signals::sigaltstack(p, c, tf));
    set!(SYS_kill | SYS_tgkill | SYS_tkill => |p, c, tf| signals::kill(p, c, tf));
    set!(SYS_sysinfo => |p, c, tf| resource::sysinfo(p, c, tf));
    set!(SYS_getrusage => |p, c, tf| resource::getrusage(p, c, tf));
    set!(SYS_times => |p, c, tf| time::times(p, c, tf));
    set!(SYS_rseq => |p, c, tf| process::rseq(p, c, tf));
    // The calls that make kernel objects outliving them. `brk` is left out: it makes at most
    // one VMA per call, and only where the heap cannot grow in place, which takes an admitted
    // call (mmap, mprotect, munmap) to arrange.
    let admitted = [
        SYS_clone,
        SYS_clone3,
        SYS_mmap,
        SYS_munmap,
        SYS_mprotect,
        SYS_mremap,
        SYS_mlock,
        SYS_mlock2,
        SYS_munlock,
        SYS_mlockall,
        SYS_munlockall,
        SYS_madvise,
        SYS_pipe2,
        SYS_shmget,
        SYS_shmat,
        SYS_dup,
        SYS_dup3,
        SYS_fcntl,
        SYS_openat,
        SYS_write,
        SYS_writev,
        SYS_pwrite64,
        SYS_pwritev,
        SYS_pwritev2,
        SYS_sendfile,
        SYS_mkdirat,
        SYS_mknodat,
        SYS_symlinkat,
        SYS_linkat,
        SYS_renameat,
        SYS_renameat2,
        SYS_execve,
        SYS_execveat,
        SYS_memfd_create,
        SYS_prlimit64,
        SYS_setrlimit,
    ];
    let mut i = 0;
    while i < admitted.len() {
        t[admitted[i]].kind = Kind::Admitted;
        i += 1;
    }
    t
};

/// A number without a handler: ENOSYS.
fn enosys(_: &mut Process, tf: &mut TrapFrame) -> u64 {
    SyscallArgs::ret(unimplemented(SyscallArgs::from_regs(&tf.x).nr))
}

/// ENOSYS, logged by name the first time each number is seen.
fn unimplemented(nr: usize) -> SysResult {
    if UNKNOWN.first_time(nr) {
        log::warn!(
            "unimplemented syscall {} ({}) returns ENOSYS",
            super::numbers::syscall_name(nr),
            nr
        );
    }
    Err(errno::ENOSYS)
}
