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
use crate::mm::mlock::{do_mlock, do_mlockall, do_munlock, do_munlockall, mlock_populate};
use crate::mm::mm_struct::Rlimit;
use crate::mm::mmap::{do_mmap, do_munmap};
use crate::mm::mprotect::do_mprotect;
use crate::mm::mremap::do_mremap;
use crate::mm::populate::mm_populate;
use crate::task::process::{ExitReason, Process};
use crate::task::sched::{WaitFor, TASKS};
use crate::task::signal::{self, SigAction, SigInfo, SigSet};
use crate::task::wait::{
    wait4_args, wait_status, waitid_args, ChildState, WaitOptions, WaitTarget, WaitidInfo,
    SIGINFO_SIZE as WAIT_SIGINFO_SIZE, WAITID_INFO_LEN,
};

static UNKNOWN: UnknownSyscalls = UnknownSyscalls::new();

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

/// Runs the syscall in `tf` for `p` and stores the result in x0. Never inlined: it is the place to
/// stop in GDB for any syscall (`tbreak *tidemark::syscall::table::dispatch if ...`).
#[inline(never)]
pub fn dispatch(p: &mut Process, tf: &mut TrapFrame) {
    let call = SyscallArgs::from_regs(&tf.x);
    if call.nr == SYS_rt_sigreturn {
        // Restores the whole frame, x0 included.
        p.sigreturn(tf);
        return;
    }
    match handle(p, &call, tf) {
        Ok(v) => {
            if tracing() {
                trace_call(tf, Ok(v));
            }
            tf.x[0] = v as u64;
        }
        Err(e) => finish_error(p, tf, e),
    }
}

/// The error half of [`dispatch`], out of line so that the common `Ok` return stays short: a
/// call that would block sleeps, a restartable one is restarted or becomes EINTR, EPIPE raises
/// SIGPIPE, and the errno goes to x0.
#[inline(never)]
fn finish_error(p: &mut Process, tf: &mut TrapFrame, e: Errno) {
    let call = SyscallArgs::from_regs(&tf.x);
    let mut ret: SysResult = Err(e);
    if e == errno::EWOULDBLOCK_RESTART {
        if p.signals.next_deliverable().is_none() {
            // Block: leave the registers as they are and rewind to the `svc`, so that the call
            // runs again from scratch when the process is woken (see task::sched). A pipe
            // wait was recorded by `fs_call` with the pipe events as they were before the call.
            p.wait
                .get_or_insert_with(|| WaitFor::Pipe(crate::fs::pipe::events()));
            tf.elr -= 4;
            return;
        }
        // The deadline of a timed wait stays for a restart (the call goes on towards it, as
        // Linux's restarted ppoll and nanosleep do); it goes below if the call ends here.
        p.wait = None;
        ret = Err(super::fs::interrupted_errno(call.nr));
    }
    if let Err(e) = ret {
        if e.is_restart() {
            // A signal interrupted a call that would have waited: restart it after the handler
            // (SA_RESTART) or report EINTR, as arm64's `do_signal` decides.
            match signal::syscall_restart(e.as_ret(), pending_handler_flags(p)) {
                signal::Restart::Restart | signal::Restart::RestartBlock => {
                    tf.elr -= 4;
                    return;
                }
                _ => ret = Err(errno::EINTR),
            }
        }
    }
    // The call ends with an error: no later call may take its deadline for its own.
    p.sleep_deadline = None;
    if super::fs::raises_sigpipe(call.nr, &ret) {
        let _ = p
            .signals
            .send(signal::SIGPIPE, SigInfo::kernel(signal::SIGPIPE));
    }
    if tracing() {
        trace_call(tf, ret);
    }
    tf.x[0] = SyscallArgs::ret(ret);
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
    use crate::task::fs_ctx::{KernelConsole, MemView, ProcView, SchedSleeper, Shared};
    let call = SyscallArgs::from_regs(&tf.x);
    let since = crate::fs::pipe::events();
    let mut files = core::mem::replace(&mut p.files, crate::fs::fdtable::Files::empty());
    let (exe, pid) = (p.exe.clone(), p.pid);
    let shared = Shared(core::cell::RefCell::new(p));
    let mut mem = MemView(&shared);
    let proc = ProcView {
        shared: &shared,
        exe,
        pid,
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
    };
    let r = super::fs::dispatch(&mut ctx, call.nr, call.args);
    let p = shared.0.into_inner();
    p.files = files;
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

/// The calls that make kernel objects outliving them, as a bitmap by number: one load and a bit
/// test on the syscall path, so that calls not in it pay nothing more. `brk` is left out: it
/// makes at most one VMA per call, and only where the heap cannot grow in place, which takes an
/// admitted call (mmap, mprotect, munmap) to arrange.
const ADMITTED: [u64; NR_SYSCALLS.div_ceil(64)] = {
    let calls = [
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
        SYS_dup,
        SYS_dup3,
        SYS_fcntl,
        SYS_openat,
        SYS_write,
        SYS_writev,
        SYS_prlimit64,
        SYS_setrlimit,
    ];
    let mut map = [0u64; NR_SYSCALLS.div_ceil(64)];
    let mut i = 0;
    while i < calls.len() {
        map[calls[i] / 64] |= 1 << (calls[i] % 64);
        i += 1;
    }
    map
};

/// Admission control for kernel memory (see `FramePool::admits`): a call that makes kernel
/// objects for the program runs only while the kernel would keep half of its reserve afterwards;
/// otherwise it fails as Linux's does when memory is short (`ENOMEM`). Calls that free memory, or
/// make nothing that outlives them, always run.
#[inline(always)]
fn admit_call(p: &Process, nr: usize) -> Result<(), Errno> {
    if ADMITTED
        .get(nr / 64)
        .is_none_or(|w| w & (1 << (nr % 64)) == 0)
    {
        return Ok(());
    }
    admit_slow(p, nr)
}

#[inline(never)]
fn admit_slow(p: &Process, nr: usize) -> Result<(), Errno> {
    let need = if nr == SYS_clone || nr == SYS_clone3 {
        FORK_BASE + p.mm.map_count() * FORK_PER_VMA + p.mm.pt.pages.rss_pages() * FORK_PER_PAGE
    } else {
        CALL_HEADROOM
    };
    if crate::mm::heap::admit(need) {
        Ok(())
    } else {
        Err(errno::ENOMEM)
    }
}

fn handle(p: &mut Process, call: &SyscallArgs, tf: &TrapFrame) -> SysResult {
    admit_call(p, call.nr)?;
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    match call.nr {
        SYS_read | SYS_pipe2 | SYS_dup | SYS_dup3 | SYS_fcntl | SYS_write | SYS_readv
        | SYS_writev | SYS_openat | SYS_close | SYS_lseek | SYS_fstat | SYS_newfstatat
        | SYS_ioctl | SYS_readlinkat | SYS_ppoll | SYS_faccessat | SYS_faccessat2 => {
            match fs_call(p, tf) {
                Some(r) => r,
                None => unimplemented(call.nr),
            }
        }
        SYS_exit | SYS_exit_group => {
            p.exit = Some(ExitReason::Exited(a0 as i32));
            Ok(0)
        }
        SYS_clone => sys_clone(p, tf, a0, a1, a2, a3, a[4] as usize),
        SYS_wait4 => sys_wait4(p, a0 as i32, a1, a2, a3),
        SYS_waitid => sys_waitid(p, a0 as u32, a1 as i32, a2, a3),
        SYS_reboot => sys_reboot(p, a0 as u32, a1 as u32, a2 as u32),
        SYS_brk => {
            let r = sys_brk(&mut p.mm, a0);
            if let Some(range) = r.populate {
                // Linux populates after dropping mmap_lock; errors are ignored.
                mm_populate(&mut p.mm, range.start, range.len);
            }
            Ok(r.ret)
        }
        SYS_mmap => {
            if !a[5].is_multiple_of(crate::mm::addr::PAGE_SIZE as u64) {
                return Err(errno::EINVAL);
            }
            let r = do_mmap(&mut p.mm, a0, a1, a2 as u32, a3 as u32).map_err(mm_err)?;
            if let Some(range) = r.populate {
                mm_populate(&mut p.mm, range.start, range.len);
            }
            Ok(r.addr)
        }
        SYS_munmap => do_munmap(&mut p.mm, a0, a1).map(|_| 0).map_err(mm_err),
        SYS_mprotect => do_mprotect(&mut p.mm, a0, a1, a2 as u32)
            .map(|_| 0)
            .map_err(mm_err),
        SYS_mremap => {
            let r = do_mremap(&mut p.mm, a0, a1, a2, a3 as u32, a[4] as usize).map_err(mm_err)?;
            if let Some(range) = r.populate {
                mm_populate(&mut p.mm, range.start, range.len);
            }
            Ok(r.addr)
        }
        SYS_madvise => do_madvise(&mut p.mm, a0, a1, a2 as i32)
            .map(|_| 0)
            .map_err(mm_err),
        SYS_mlock | SYS_mlock2 => {
            let flags = if call.nr == SYS_mlock { 0 } else { a2 as u32 };
            if let Some(range) = do_mlock(&mut p.mm, a0, a1, flags).map_err(mm_err)? {
                // mlock(2) reports a failed population (Linux `__mm_populate` without
                // ignore_errors); mlockall does not.
                mlock_populate(&mut p.mm, range).map_err(mm_err)?;
            }
            Ok(0)
        }
        SYS_munlock => do_munlock(&mut p.mm, a0, a1).map(|_| 0).map_err(mm_err),
        SYS_mlockall => {
            if let Some(range) = do_mlockall(&mut p.mm, a0 as u32).map_err(mm_err)? {
                mm_populate(&mut p.mm, range.start, range.len);
            }
            Ok(0)
        }
        SYS_munlockall => do_munlockall(&mut p.mm).map(|_| 0).map_err(mm_err),
        SYS_mincore => sys_mincore(p, a0, a1, a2),
        SYS_set_tid_address => {
            p.clear_child_tid = a0;
            Ok(p.pid as usize)
        }
        SYS_set_robust_list => {
            if a1 != 24 {
                return Err(errno::EINVAL);
            }
            Ok(0)
        }
        SYS_getpid | SYS_gettid => Ok(p.pid as usize),
        SYS_getppid => Ok(p.ppid as usize),
        SYS_prctl => {
            const PR_SET_NAME: usize = 15;
            const PR_GET_NAME: usize = 16;
            const PR_SET_THP_DISABLE: usize = 41;
            const PR_GET_THP_DISABLE: usize = 42;
            match a0 {
                PR_SET_NAME => {
                    // strncpy_from_user of up to 15 bytes: the name ends at a NUL or there.
                    let mut name = [0u8; 16];
                    for (i, b) in name.iter_mut().take(15).enumerate() {
                        let mut c = [0u8; 1];
                        p.copy_from_user(a1.wrapping_add(i), &mut c)?;
                        if c[0] == 0 {
                            break;
                        }
                        *b = c[0];
                    }
                    p.comm = name;
                    Ok(0)
                }
                PR_GET_NAME => p.copy_to_user(a1, &p.comm.clone()).map(|_| 0),
                PR_SET_THP_DISABLE => {
                    if a2 | a3 | a[4] as usize != 0 {
                        return Err(errno::EINVAL);
                    }
                    p.thp_disabled = a1 != 0;
                    Ok(0)
                }
                PR_GET_THP_DISABLE => {
                    if a1 | a2 | a3 | a[4] as usize != 0 {
                        return Err(errno::EINVAL);
                    }
                    Ok(p.thp_disabled as usize)
                }
                _ => Err(errno::EINVAL),
            }
        }
        // No file system can be mounted yet: say so (EPERM first for the unprivileged, as
        // `may_mount` checks before anything else).
        SYS_mount | SYS_umount2 => Err(if p.creds.euid != 0 {
            errno::EPERM
        } else {
            errno::ENOSYS
        }),
        SYS_getuid => Ok(p.creds.uid as usize),
        SYS_geteuid => Ok(p.creds.euid as usize),
        SYS_getgid => Ok(p.creds.gid as usize),
        SYS_getegid => Ok(p.creds.egid as usize),
        SYS_getresuid | SYS_getresgid => {
            let c = p.creds;
            let ids = if call.nr == SYS_getresuid {
                [c.uid, c.euid, c.suid]
            } else {
                [c.gid, c.egid, c.sgid]
            };
            for (addr, id) in [a0, a1, a2].into_iter().zip(ids) {
                p.write_pod(addr, &id)?;
            }
            Ok(0)
        }
        SYS_setuid | SYS_setgid | SYS_setreuid | SYS_setregid | SYS_setresuid | SYS_setresgid => {
            set_ids(p, call.nr, [a0 as u32, a1 as u32, a2 as u32]).map(|_| 0)
        }
        SYS_getgroups => Ok(0),
        SYS_setgroups => {
            if p.creds.euid != 0 {
                return Err(errno::EPERM);
            }
            Ok(0)
        }
        SYS_sched_yield => Ok(0),
        SYS_uname => {
            let u = abi::Utsname::new(
                "Linux",
                "tidemark",
                "6.1.0-tidemark",
                concat!("#1 tidemark ", env!("CARGO_PKG_VERSION")),
                "aarch64",
                "(none)",
            );
            p.write_pod(a0, &u).map(|_| 0)
        }
        SYS_getrandom => {
            const GRND_NONBLOCK: usize = 1;
            const GRND_RANDOM: usize = 2;
            const GRND_INSECURE: usize = 4;
            if a2 & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
                || a2 & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
            {
                return Err(errno::EINVAL);
            }
            // The generator is seeded before the first process runs, so no flag ever waits.
            let n = a1.min(i32::MAX as usize);
            let mut buf = [0u8; 256];
            let mut done = 0;
            while done < n {
                // Never across a page boundary, so a fault leaves exactly `done` bytes written.
                let to_page = crate::mm::addr::PAGE_SIZE
                    - (a0.wrapping_add(done) % crate::mm::addr::PAGE_SIZE);
                let k = (n - done).min(buf.len()).min(to_page);
                crate::random::fill(&mut buf[..k]);
                if let Err(e) = p.copy_to_user(a0.wrapping_add(done), &buf[..k]) {
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
                done += k;
            }
            buf.fill(0);
            Ok(n)
        }
        SYS_clock_gettime => {
            const CLOCKS: usize = 12;
            if a0 >= CLOCKS {
                return Err(errno::EINVAL);
            }
            let ns = timer::uptime_ns();
            let ts = abi::Timespec {
                tv_sec: (ns / 1_000_000_000) as i64,
                tv_nsec: (ns % 1_000_000_000) as i64,
            };
            p.write_pod(a1, &ts).map(|_| 0)
        }
        SYS_clock_getres => {
            if a1 != 0 {
                p.write_pod(
                    a1,
                    &abi::Timespec {
                        tv_sec: 0,
                        tv_nsec: 1,
                    },
                )?;
            }
            Ok(0)
        }
        SYS_gettimeofday => {
            if a0 != 0 {
                let us = timer::uptime_us();
                let tv = abi::Timeval {
                    tv_sec: (us / 1_000_000) as i64,
                    tv_usec: (us % 1_000_000) as i64,
                };
                p.write_pod(a0, &tv)?;
            }
            Ok(0)
        }
        SYS_nanosleep | SYS_clock_nanosleep => {
            // A restarted call (after the process was woken) finds its deadline here.
            if let Some(deadline) = p.sleep_deadline {
                if timer::uptime_ns() >= deadline {
                    p.sleep_deadline = None;
                    return Ok(0);
                }
                p.wait = Some(WaitFor::Until(deadline));
                return Err(errno::EWOULDBLOCK_RESTART);
            }
            let ts_addr = if call.nr == SYS_nanosleep { a0 } else { a2 };
            let ts: abi::Timespec = p.read_pod(ts_addr)?;
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(errno::EINVAL);
            }
            const TIMER_ABSTIME: usize = 1;
            let now = timer::uptime_ns();
            let ns = (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64);
            let absolute = call.nr == SYS_clock_nanosleep && a1 & TIMER_ABSTIME != 0;
            let deadline = if absolute { ns } else { now.saturating_add(ns) };
            if deadline <= now {
                return Ok(0);
            }
            p.sleep_deadline = Some(deadline);
            p.wait = Some(WaitFor::Until(deadline));
            Err(errno::EWOULDBLOCK_RESTART)
        }
        SYS_getrlimit => get_rlimit(p, a0, a1),
        SYS_setrlimit => set_rlimit(p, a0, a1),
        SYS_prlimit64 => {
            if a0 != 0 && a0 != p.pid as usize {
                return Err(errno::ESRCH);
            }
            let new = if a2 != 0 {
                Some(p.read_pod::<abi::Rlimit>(a2)?)
            } else {
                None
            };
            if a3 != 0 {
                get_rlimit(p, a1, a3)?;
            } else if a1 >= RLIM_NLIMITS {
                return Err(errno::EINVAL);
            }
            if let Some(l) = new {
                apply_rlimit(p, a1, l)?;
            }
            Ok(0)
        }
        SYS_rt_sigaction => {
            let act = if a1 != 0 {
                Some(SigAction::from(p.read_pod::<abi::SigAction>(a1)?))
            } else {
                None
            };
            let old = p.signals.rt_sigaction(a0 as u32, act, a3)?;
            if a2 != 0 {
                p.write_pod(a2, &abi::SigAction::from(old))?;
            }
            Ok(0)
        }
        SYS_rt_sigprocmask => {
            let set = if a1 != 0 {
                Some(SigSet(p.read_pod::<u64>(a1)?))
            } else {
                None
            };
            let old = p.signals.rt_sigprocmask(a0 as u32, set, a3)?;
            if a2 != 0 {
                p.write_pod(a2, &old.0)?;
            }
            Ok(0)
        }
        SYS_rt_sigpending => {
            let set = p.signals.sigpending(a1)?;
            p.copy_to_user(a0, &set.0.to_le_bytes()[..a1]).map(|_| 0)
        }
        SYS_sigaltstack => {
            let new = if a0 != 0 {
                Some(p.read_pod::<abi::StackT>(a0)?)
            } else {
                None
            };
            let sp = tf.sp_el0;
            let old = p.signals.sigaltstack(new, sp)?;
            if a1 != 0 {
                p.write_pod(a1, &old)?;
            }
            Ok(0)
        }
        SYS_kill | SYS_tgkill | SYS_tkill => {
            let (target, sig, code) = match call.nr {
                SYS_kill => (a0 as i32, a1 as u32, signal::SI_USER),
                SYS_tkill => (a0 as i32, a1 as u32, signal::SI_TKILL),
                _ => (a1 as i32, a2 as u32, signal::SI_TKILL),
            };
            if call.nr == SYS_tgkill && a0 as i32 != target {
                return Err(errno::ESRCH);
            }
            let info = SigInfo::user(sig, code, p.pid as u32, p.creds.uid);
            if target == p.pid || (call.nr == SYS_kill && (target == 0 || target == -1)) {
                if call.nr == SYS_kill && target == -1 {
                    let mut tasks = TASKS.lock();
                    let pids: alloc::vec::Vec<i32> = tasks.pids().collect();
                    for pid in pids.into_iter().filter(|&pid| pid != 1) {
                        let _ = send_to(&mut tasks, pid, sig, info);
                    }
                }
                return p.signals.send(sig, info).map(|_| 0);
            }
            if target <= 0 {
                return Err(errno::ESRCH);
            }
            let mut tasks = TASKS.lock();
            if tasks.get_mut(target).is_none() {
                return Err(errno::ESRCH);
            }
            send_to(&mut tasks, target, sig, info)
        }
        SYS_sysinfo => {
            let (free, total) = {
                let f = crate::mm::frame::FRAMES.lock();
                (f.free_frames(), f.total_frames())
            };
            let info = abi::Sysinfo {
                uptime: (timer::uptime_ns() / 1_000_000_000) as i64,
                totalram: total as u64,
                freeram: free as u64,
                procs: TASKS.lock().process_count() as u16,
                mem_unit: crate::mm::addr::PAGE_SIZE as u32,
                ..Default::default()
            };
            p.write_pod(a0, &info).map(|_| 0)
        }
        SYS_getrusage => {
            let ru = abi::Rusage {
                ru_minflt: p.minflt as i64,
                ru_majflt: p.majflt as i64,
                ru_maxrss: (p.mm.pt.pages.rss_pages() * 4) as i64,
                ..Default::default()
            };
            p.write_pod(a1, &ru).map(|_| 0)
        }
        SYS_rseq => Err(errno::ENOSYS),
        _ => unimplemented(call.nr),
    }
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

/// Sends `sig` to a process that is not running, waking it so that it can act on it.
fn send_to(tasks: &mut crate::task::sched::Tasks, pid: i32, sig: u32, info: SigInfo) -> SysResult {
    let Some(t) = tasks.get_mut(pid) else {
        return Err(errno::ESRCH);
    };
    t.signals.send(sig, info)?;
    if sig != 0 && t.signals.next_deliverable().is_some() {
        tasks.wake(pid);
    }
    Ok(0)
}

/// clone(2) without CLONE_VM: fork. tidemark has no threads, so thread-making flags are refused.
fn sys_clone(
    p: &mut Process,
    tf: &TrapFrame,
    flags: usize,
    newsp: usize,
    parent_tid: usize,
    tls: usize,
    child_tid: usize,
) -> SysResult {
    const CSIGNAL: usize = 0xff;
    const CLONE_VM: usize = 0x100;
    const CLONE_FS: usize = 0x200;
    const CLONE_FILES: usize = 0x400;
    const CLONE_SIGHAND: usize = 0x800;
    const CLONE_VFORK: usize = 0x4000;
    const CLONE_THREAD: usize = 0x1_0000;
    const CLONE_SETTLS: usize = 0x8_0000;
    const CLONE_PARENT_SETTID: usize = 0x10_0000;
    const CLONE_CHILD_CLEARTID: usize = 0x20_0000;
    const CLONE_CHILD_SETTID: usize = 0x100_0000;
    if flags & (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FS | CLONE_FILES) != 0 {
        if UNKNOWN.first_time(SYS_clone) {
            log::warn!(
                "clone with shared memory or files (threads, vfork) is not supported: {flags:#x}"
            );
        }
        return Err(errno::ENOSYS);
    }
    let _ = (CSIGNAL, CLONE_VFORK);
    let mut tasks = TASKS.lock();
    // RLIMIT_NPROC counts the user's processes; root is exempt (CAP_SYS_RESOURCE/ADMIN).
    if p.creds.euid != 0 && 1 + tasks.count_uid(p.creds.uid) >= p.mm.rlimits.nproc.cur {
        return Err(errno::EAGAIN);
    }
    let pid = tasks.alloc_pid().ok_or(errno::EAGAIN)?;
    drop(tasks);
    let mut child = match p.fork(tf, pid) {
        Ok(c) => c,
        Err(e) => {
            TASKS.lock().free_pid();
            return Err(e);
        }
    };
    if newsp != 0 {
        child.frame.sp_el0 = newsp as u64;
    }
    if flags & CLONE_SETTLS != 0 {
        child.tpidr = tls as u64;
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = child_tid;
    }
    // Both stores are best effort, as Linux's (`schedule_tail` and `kernel_clone` ignore a failed
    // `put_user`): a bad pointer, or no memory for the child's copy of the page, does not undo
    // the fork.
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = child.poke_inactive(child_tid, &pid.to_le_bytes());
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = p.write_pod(parent_tid, &(pid as u32));
    }
    TASKS.lock().add(child);
    Ok(pid as usize)
}

fn child_state(reason: ExitReason) -> ChildState {
    match reason {
        ExitReason::Exited(code) => ChildState::Exited(code),
        ExitReason::Signaled { sig, .. } => ChildState::Killed(sig),
        ExitReason::OutOfMemory => ChildState::Killed(signal::SIGKILL),
    }
}

/// The common part of wait4 and waitid: a zombie child matching `target` (reaped unless
/// WNOWAIT), `None` with WNOHANG when none has exited yet, or block until a child exits (the call
/// is re-run then). tidemark has one process group, so a group target means any child.
fn wait_for_child(
    p: &mut Process,
    target: WaitTarget,
    opts: WaitOptions,
) -> Result<Option<(i32, crate::task::sched::Zombie)>, Errno> {
    let pid = match target {
        WaitTarget::Pid(pid) => pid,
        WaitTarget::Any | WaitTarget::Pgid(_) => -1,
    };
    let mut tasks = TASKS.lock();
    if tasks.no_such_child(p.pid, pid) {
        return Err(errno::ECHILD);
    }
    let found = if opts.nowait() {
        tasks.peek_zombie(p.pid, pid)
    } else {
        tasks.reap(p.pid, pid)
    };
    match found {
        Some(z) => Ok(Some(z)),
        None if opts.nohang() => Ok(None),
        None => {
            p.wait = Some(WaitFor::Child);
            Err(errno::EWOULDBLOCK_RESTART)
        }
    }
}

/// wait4(2) with Linux's status word.
fn sys_wait4(
    p: &mut Process,
    pid: i32,
    wstatus: usize,
    options: usize,
    rusage: usize,
) -> SysResult {
    let (target, opts) = wait4_args(pid, options as i32)?;
    let Some((child, z)) = wait_for_child(p, target, opts)? else {
        return Ok(0);
    };
    if wstatus != 0 {
        p.write_pod(wstatus, &wait_status(child_state(z.reason)))?;
    }
    if rusage != 0 {
        let ru = abi::Rusage {
            ru_minflt: z.minflt as i64,
            ..Default::default()
        };
        p.write_pod(rusage, &ru)?;
    }
    Ok(child as usize)
}

/// waitid(2): the child's state in a `siginfo_t` (all of which must be writable).
fn sys_waitid(p: &mut Process, idtype: u32, id: i32, infop: usize, options: usize) -> SysResult {
    let (target, opts) = waitid_args(idtype, id, options as i32)?;
    let found = wait_for_child(p, target, opts)?;
    if infop != 0 {
        let info = WaitidInfo::new(found.map(|(child, z)| (child, 0, child_state(z.reason))));
        let mut si = [0u8; WAIT_SIGINFO_SIZE];
        si[..WAITID_INFO_LEN].copy_from_slice(&info.to_bytes());
        p.copy_to_user(infop, &si)?;
    }
    Ok(0)
}

/// reboot(2): power-off and restart for root (the run ends with status 0), EPERM otherwise.
fn sys_reboot(p: &mut Process, magic1: u32, magic2: u32, cmd: u32) -> SysResult {
    const MAGIC1: u32 = 0xfee1_dead;
    const MAGIC2: [u32; 4] = [672274793, 85072278, 369367448, 537993216];
    const CMD_RESTART: u32 = 0x0123_4567;
    const CMD_HALT: u32 = 0xcdef_0123;
    const CMD_POWER_OFF: u32 = 0x4321_fedc;
    const CMD_CAD_ON: u32 = 0x89ab_cdef;
    const CMD_CAD_OFF: u32 = 0;
    if p.creds.euid != 0 {
        return Err(errno::EPERM);
    }
    if magic1 != MAGIC1 || !MAGIC2.contains(&magic2) {
        return Err(errno::EINVAL);
    }
    match cmd {
        CMD_CAD_ON | CMD_CAD_OFF => Ok(0),
        CMD_POWER_OFF | CMD_HALT | CMD_RESTART => {
            log::info!("reboot(2) by pid {}: powering off", p.pid);
            crate::exit::exit(0)
        }
        _ => Err(errno::EINVAL),
    }
}

/// The set*id family with Linux's rules (kernel/sys.c): root may set anything; others may only
/// switch among their real, effective and saved ids. `-1` (as u32) leaves an id unchanged.
/// Effective uid 0 is tidemark's stand-in for every capability, CAP_IPC_LOCK included, so the
/// address space's `privileged` follows it.
fn set_ids(p: &mut Process, nr: usize, a: [u32; 3]) -> Result<(), Errno> {
    const KEEP: u32 = u32::MAX;
    let c = &mut p.creds;
    let root = c.euid == 0;
    let user = matches!(nr, SYS_setuid | SYS_setreuid | SYS_setresuid);
    let (r, e, s) = if user {
        (c.uid, c.euid, c.suid)
    } else {
        (c.gid, c.egid, c.sgid)
    };
    let allowed = |id: u32| id == KEEP || root || id == r || id == e || id == s;
    let (nr_, ne, ns) = match nr {
        // setuid: root sets all three; others only the effective id, to the real or saved one.
        SYS_setuid | SYS_setgid => {
            if root {
                (a[0], a[0], a[0])
            } else if a[0] == r || a[0] == s {
                (KEEP, a[0], KEEP)
            } else {
                return Err(errno::EPERM);
            }
        }
        SYS_setreuid | SYS_setregid => {
            if !(a[0] == KEEP || root || a[0] == r || a[0] == e) || !allowed(a[1]) {
                return Err(errno::EPERM);
            }
            // The saved id follows the effective one when the real id is set or the effective one
            // differs from the old real id.
            let new_e = if a[1] == KEEP { e } else { a[1] };
            let save = if a[0] != KEEP || (a[1] != KEEP && a[1] != r) {
                new_e
            } else {
                KEEP
            };
            (a[0], a[1], save)
        }
        _ => {
            if !(allowed(a[0]) && allowed(a[1]) && allowed(a[2])) {
                return Err(errno::EPERM);
            }
            (a[0], a[1], a[2])
        }
    };
    let pick = |new: u32, old: u32| if new == KEEP { old } else { new };
    if user {
        (c.uid, c.euid, c.suid) = (pick(nr_, r), pick(ne, e), pick(ns, s));
    } else {
        (c.gid, c.egid, c.sgid) = (pick(nr_, r), pick(ne, e), pick(ns, s));
    }
    p.mm.privileged = p.creds.euid == 0;
    Ok(())
}

/// mincore(2): the residency vector is produced and copied a chunk at a time, so a hole after
/// part of the range still leaves the part before it in the user's vector, as on Linux.
fn sys_mincore(p: &mut Process, start: usize, len: usize, vec: usize) -> SysResult {
    const CHUNK: usize = 4096;
    let pages = mincore_check(start, len).map_err(mm_err)?;
    let mut out = alloc::vec![0u8; pages.min(CHUNK)];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(CHUNK);
        let addr = start + done * crate::mm::addr::PAGE_SIZE;
        let r = mincore_range(&p.mm, addr, n * crate::mm::addr::PAGE_SIZE, &mut out[..n]);
        let filled = match r {
            Ok(()) => n,
            Err((filled, _)) => filled,
        };
        p.copy_to_user(vec + done, &out[..filled])?;
        if let Err((_, e)) = r {
            return Err(mm_err(e));
        }
        done += n;
    }
    Ok(0)
}

fn rlimit_of(p: &Process, resource: usize) -> Result<Rlimit, Errno> {
    let r = &p.mm.rlimits;
    Ok(match resource {
        RLIMIT_DATA => r.data,
        RLIMIT_STACK => r.stack,
        RLIMIT_MEMLOCK => r.memlock,
        RLIMIT_AS => r.address_space,
        RLIMIT_NPROC => r.nproc,
        RLIMIT_NOFILE => Rlimit {
            cur: p.files.nofile(),
            max: r.nofile_max,
        },
        n if n < RLIM_NLIMITS => r.recorded[n],
        _ => return Err(errno::EINVAL),
    })
}

fn get_rlimit(p: &mut Process, resource: usize, addr: usize) -> SysResult {
    let l = rlimit_of(p, resource)?;
    let v = abi::Rlimit {
        rlim_cur: l.cur as u64,
        rlim_max: l.max as u64,
    };
    p.write_pod(addr, &v).map(|_| 0)
}

fn set_rlimit(p: &mut Process, resource: usize, addr: usize) -> SysResult {
    let l: abi::Rlimit = p.read_pod(addr)?;
    apply_rlimit(p, resource, l).map(|_| 0)
}

/// `do_prlimit`: cur must not exceed max; raising max needs privilege.
fn apply_rlimit(p: &mut Process, resource: usize, l: abi::Rlimit) -> Result<(), Errno> {
    let old = rlimit_of(p, resource)?;
    let new = Rlimit {
        cur: l.rlim_cur as usize,
        max: l.rlim_max as usize,
    };
    if new.cur > new.max {
        return Err(errno::EINVAL);
    }
    if new.max > old.max && p.creds.euid != 0 {
        return Err(errno::EPERM);
    }
    if resource == RLIMIT_NOFILE {
        // Above `sysctl_nr_open`: EPERM, even for root.
        p.files.set_nofile(new.max as u64)?;
        p.files.set_nofile(new.cur as u64)?;
    }
    let r = &mut p.mm.rlimits;
    match resource {
        RLIMIT_DATA => r.data = new,
        RLIMIT_STACK => r.stack = new,
        RLIMIT_MEMLOCK => r.memlock = new,
        RLIMIT_AS => r.address_space = new,
        RLIMIT_NPROC => r.nproc = new,
        RLIMIT_NOFILE => r.nofile_max = new.max,
        n => r.recorded[n] = new,
    }
    Ok(())
}
