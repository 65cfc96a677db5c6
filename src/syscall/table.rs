//! The system-call table: Linux AArch64 numbers to handlers (kernel side).
//!
//! Handlers get the current process and the raw arguments; everything from EL0 is hostile, so
//! each argument is range-checked before use, user memory is reached only through the process's
//! fault-aware copies, and every failure is an errno, never a panic.
// Linux spells the syscall numbers `SYS_read`, `SYS_brk`: matching on them keeps that spelling.
#![allow(non_upper_case_globals)]

use super::abi::{self, Pod};
use super::errno::{self, Errno};
use super::numbers::*;
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
use crate::task::signal::{self, SigAction, SigInfo, SigSet};

static UNKNOWN: UnknownSyscalls = UnknownSyscalls::new();

const RLIMIT_STACK: usize = 3;
const RLIMIT_DATA: usize = 2;
const RLIMIT_NOFILE: usize = 7;
const RLIMIT_MEMLOCK: usize = 8;
const RLIMIT_AS: usize = 9;
const RLIM_NLIMITS: usize = 16;

impl Process {
    pub fn read_pod<T: Pod + Default>(&mut self, addr: usize) -> Result<T, Errno> {
        let mut v = T::default();
        let mut buf = alloc::vec![0u8; core::mem::size_of::<T>()];
        self.copy_from_user(addr, &mut buf)?;
        if let Some(x) = T::from_bytes(&buf) {
            v = x;
        }
        Ok(v)
    }

    pub fn write_pod<T: Pod>(&mut self, addr: usize, v: &T) -> Result<(), Errno> {
        self.copy_to_user(addr, v.as_bytes())
    }
}

fn mm_err(e: crate::mm::error::MmError) -> Errno {
    Errno(e.to_errno())
}

/// Runs the syscall in `tf` for `p` and stores the result in x0.
pub fn dispatch(p: &mut Process, tf: &mut TrapFrame) {
    let call = SyscallArgs::from_regs(&tf.x);
    if call.nr == SYS_rt_sigreturn {
        // Restores the whole frame, x0 included.
        p.sigreturn(tf);
        return;
    }
    let ret = handle(p, &call);
    log::trace!(
        "{}({:#x}, {:#x}, {:#x}) = {:?}",
        call.name(),
        call.args[0],
        call.args[1],
        call.args[2],
        ret
    );
    tf.x[0] = SyscallArgs::ret(ret);
}

/// The file syscalls, through the portable handlers in `syscall::fs`.
fn fs_call(p: &mut Process, call: &SyscallArgs) -> Option<SysResult> {
    use crate::task::procview::{KernelConsole, MemView, ProcView, Shared, SpinSleeper};
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
        sleeper: &SpinSleeper,
    };
    let r = super::fs::dispatch(&mut ctx, call.nr, call.args);
    shared.0.into_inner().files = files;
    r
}

fn handle(p: &mut Process, call: &SyscallArgs) -> SysResult {
    if matches!(
        call.nr,
        SYS_read
            | SYS_write
            | SYS_readv
            | SYS_writev
            | SYS_openat
            | SYS_close
            | SYS_lseek
            | SYS_fstat
            | SYS_newfstatat
            | SYS_ioctl
            | SYS_readlinkat
            | SYS_ppoll
            | SYS_faccessat
            | SYS_faccessat2
    ) {
        if let Some(r) = fs_call(p, call) {
            return r;
        }
    }
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    match call.nr {
        SYS_exit | SYS_exit_group => {
            p.exit = Some(ExitReason::Exited(a0 as i32));
            Ok(0)
        }
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
        SYS_getuid => Ok(p.creds.uid as usize),
        SYS_geteuid => Ok(p.creds.euid as usize),
        SYS_getgid => Ok(p.creds.gid as usize),
        SYS_getegid => Ok(p.creds.egid as usize),
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
            if a2 & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 {
                return Err(errno::EINVAL);
            }
            let n = a1.min(1 << 25);
            let mut buf = [0u8; 256];
            let mut done = 0;
            while done < n {
                let k = (n - done).min(buf.len());
                crate::random::fill(&mut buf[..k]);
                p.copy_to_user(a0 + done, &buf[..k])?;
                done += k;
            }
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
            let ts_addr = if call.nr == SYS_nanosleep { a0 } else { a2 };
            let ts: abi::Timespec = p.read_pod(ts_addr)?;
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(errno::EINVAL);
            }
            const TIMER_ABSTIME: usize = 1;
            let now = timer::uptime_ns();
            let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            let deadline = if call.nr == SYS_clock_nanosleep && a1 & TIMER_ABSTIME != 0 {
                ns
            } else {
                now + ns
            };
            while timer::uptime_ns() < deadline {
                core::hint::spin_loop();
            }
            Ok(0)
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
        SYS_sigaltstack => {
            let new = if a0 != 0 {
                Some(p.read_pod::<abi::StackT>(a0)?)
            } else {
                None
            };
            let sp = p.frame.sp_el0;
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
                _ => {
                    if a0 as i32 != p.pid {
                        return Err(errno::ESRCH);
                    }
                    (a1 as i32, a2 as u32, signal::SI_TKILL)
                }
            };
            if target != p.pid && !(call.nr == SYS_kill && (target == 0 || target == -1)) {
                return Err(errno::ESRCH);
            }
            let info = SigInfo::user(sig, code, p.pid as u32, p.creds.uid);
            p.signals.send(sig, info).map(|_| 0)
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
        _ => {
            if UNKNOWN.first_time(call.nr) {
                log::warn!(
                    "unimplemented syscall {} ({}) returns ENOSYS",
                    call.name(),
                    call.nr
                );
            }
            Err(errno::ENOSYS)
        }
    }
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
        RLIMIT_NOFILE => Rlimit {
            cur: 1024,
            max: 4096,
        },
        n if n < RLIM_NLIMITS => Rlimit::INFINITY,
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
    let r = &mut p.mm.rlimits;
    match resource {
        RLIMIT_DATA => r.data = new,
        RLIMIT_STACK => r.stack = new,
        RLIMIT_MEMLOCK => r.memlock = new,
        RLIMIT_AS => r.address_space = new,
        _ => {}
    }
    Ok(())
}
