//! Processes and the machine: exit, clone (fork), wait4, waitid, reboot, prctl, uname, and the
//! calls that identify a process.
use super::*;

/// exit(2) and exit_group(2).
#[inline(always)]
pub(super) fn exit(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    p.exit = Some(ExitReason::Exited(a0 as i32));
    Ok(0)
}

/// set_tid_address(2).
pub(super) fn set_tid_address(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    p.clear_child_tid = a0;
    Ok(p.pid as usize)
}

/// set_robust_list(2).
pub(super) fn set_robust_list(_p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a1 = a[1] as usize;
    if a1 != 24 {
        return Err(errno::EINVAL);
    }
    Ok(0)
}

/// getpid(2) and gettid(2).
#[inline(always)]
pub(super) fn getpid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.pid as usize)
}

/// getppid(2).
#[inline(always)]
pub(super) fn getppid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.ppid as usize)
}

/// prctl(2).
pub(super) fn prctl(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    {
        const PR_SET_NAME: usize = 15;
        const PR_GET_NAME: usize = 16;
        const PR_SET_THP_DISABLE: usize = 41;
        const PR_GET_THP_DISABLE: usize = 42;
        const PR_SET_PDEATHSIG: usize = 1;
        const PR_GET_PDEATHSIG: usize = 2;
        const PR_SET_TIMERSLACK: usize = 29;
        const PR_GET_TIMERSLACK: usize = 30;
        match a0 {
            PR_SET_PDEATHSIG => {
                if a1 > signal::NSIG as usize {
                    return Err(errno::EINVAL);
                }
                p.pdeath_signal = a1 as u32;
                Ok(0)
            }
            PR_GET_PDEATHSIG => p.write_pod(a1, &(p.pdeath_signal as i32)).map(|_| 0),
            // The slack the kernel may add to this process's timers (`current->timer_slack_ns`):
            // 0 sets the default back. tidemark's timers have no slack; the value is kept for
            // the caller, as Linux's is.
            PR_SET_TIMERSLACK => {
                p.timer_slack_ns = if a1 == 0 {
                    p.default_timer_slack_ns
                } else {
                    a1 as u64
                };
                Ok(0)
            }
            PR_GET_TIMERSLACK => Ok(p.timer_slack_ns as usize),
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
}

/// sched_yield(2).
pub(super) fn sched_yield(_p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(0)
}

/// uname(2).
pub(super) fn uname(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    let u = abi::Utsname::new(
        "Linux",
        "tidemark",
        UTS_RELEASE,
        UTS_VERSION,
        "aarch64",
        "(none)",
    );
    p.write_pod(a0, &u).map(|_| 0)
}

/// rseq(2).
pub(super) fn rseq(_p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Err(errno::ENOSYS)
}

/// clone(2) without CLONE_VM: fork. tidemark has no threads, so thread-making flags are refused.
pub(super) fn sys_clone(
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
    // vfork (`CLONE_VM | CLONE_VFORK`, as glibc's vfork and posix_spawn ask) runs the child on
    // a copy-on-write copy of the memory rather than on the parent's own: the parent sleeps
    // until the child execs or exits, as Linux's does, but what the child writes before its
    // exec stays its own (a posix_spawn whose exec fails is seen as the child's exit status
    // 127, not as an error return). Threads need the shared address space of a later change.
    let vfork = flags & (CLONE_VM | CLONE_VFORK) == CLONE_VM | CLONE_VFORK;
    let shared = flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_FS | CLONE_FILES) != 0
        || (flags & CLONE_VM != 0 && !vfork);
    if shared {
        if UNKNOWN.first_time(SYS_clone) {
            log::warn!("clone with shared memory or files (threads) is not supported: {flags:#x}");
        }
        return Err(errno::ENOSYS);
    }
    let _ = CSIGNAL;
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
    if vfork {
        child.vfork_parent = Some(p.pid);
        p.wait = Some(WaitFor::Vfork(pid));
    }
    TASKS.lock().add(child);
    Ok(pid as usize)
}

pub(super) fn child_state(reason: ExitReason) -> ChildState {
    match reason {
        ExitReason::Exited(code) => ChildState::Exited(code),
        ExitReason::Signaled { sig, .. } => ChildState::Killed(sig),
        ExitReason::OutOfMemory => ChildState::Killed(signal::SIGKILL),
    }
}

/// The common part of wait4 and waitid: a zombie child matching `target` (reaped unless
/// WNOWAIT), `None` with WNOHANG when none has exited yet, or block until a child exits (the call
/// is re-run then). tidemark has one process group, so a group target means any child.
pub(super) fn wait_for_child(
    p: &mut Process,
    target: WaitTarget,
    opts: WaitOptions,
) -> Result<Option<(i32, ChildState, u64)>, Errno> {
    // `waitpid(0)` and `waitid(P_PGID, 0)`: the caller's own group.
    let target = match target {
        WaitTarget::Pgid(None) => WaitTarget::Pgid(Some(p.pgid)),
        t => t,
    };
    let mut tasks = TASKS.lock();
    if tasks.no_such_child(p.pid, target) {
        return Err(errno::ECHILD);
    }
    let mut found = if opts.nowait() {
        tasks.peek_zombie(p.pid, target)
    } else {
        tasks.reap(p.pid, target)
    }
    .map(|(c, z)| (c, child_state(z.reason), z.minflt));
    if found.is_none() && (opts.stopped() || opts.continued()) {
        // A live child that stopped or continued since the last wait that saw it.
        let me = p.pid;
        let hit = tasks
            .iter()
            .find(|c| {
                c.ppid == me
                    && crate::task::sched::wait_matches(target, c.pid, c.pgid)
                    && c.report.is_some_and(|r| crate::task::wait::wanted(r, opts))
            })
            .map(|c| (c.pid, c.report.expect("checked"), c.minflt));
        if let Some((child, _, _)) = hit {
            if !opts.nowait() {
                if let Some(c) = tasks.get_mut(child) {
                    c.report = None;
                }
            }
        }
        found = hit;
    }
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
pub(super) fn sys_wait4(
    p: &mut Process,
    pid: i32,
    wstatus: usize,
    options: usize,
    rusage: usize,
) -> SysResult {
    let (target, opts) = wait4_args(pid, options as i32)?;
    let Some((child, state, minflt)) = wait_for_child(p, target, opts)? else {
        return Ok(0);
    };
    if wstatus != 0 {
        p.write_pod(wstatus, &wait_status(state))?;
    }
    if rusage != 0 {
        let ru = abi::Rusage {
            ru_minflt: minflt as i64,
            ..Default::default()
        };
        p.write_pod(rusage, &ru)?;
    }
    Ok(child as usize)
}

/// waitid(2): the child's state in a `siginfo_t` (all of which must be writable).
pub(super) fn sys_waitid(
    p: &mut Process,
    idtype: u32,
    id: i32,
    infop: usize,
    options: usize,
) -> SysResult {
    let (target, opts) = waitid_args(idtype, id, options as i32)?;
    let found = wait_for_child(p, target, opts)?;
    if infop != 0 {
        let info = WaitidInfo::new(found.map(|(child, state, _)| (child, 0, state)));
        let mut si = [0u8; WAIT_SIGINFO_SIZE];
        si[..WAITID_INFO_LEN].copy_from_slice(&info.to_bytes());
        p.copy_to_user(infop, &si)?;
    }
    Ok(0)
}

/// reboot(2): power-off and restart for root (the run ends with status 0), EPERM otherwise.
pub(super) fn sys_reboot(p: &mut Process, magic1: u32, magic2: u32, cmd: u32) -> SysResult {
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

/// setpgid(2), in Linux's order (`kernel/sys.c`): `EINVAL` for a negative group; the target is
/// the caller or one of its children (`ESRCH` otherwise), a child in the caller's session
/// (`EPERM`); a session leader cannot move (`EPERM`); a group other than the target's own must
/// exist in the caller's session (`EPERM`). tidemark has no execve yet, so the `EACCES` for a
/// child that has exec'd cannot arise.
pub(super) fn setpgid(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (pid, pgid) = (call.args[0] as i32, call.args[1] as i32);
    let pid = if pid == 0 { p.pid } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    if pgid < 0 {
        return Err(errno::EINVAL);
    }
    let mut tasks = TASKS.lock();
    let sid = p.sid;
    let exists =
        pgid == pid || p.pgid == pgid || tasks.iter().any(|q| q.pgid == pgid && q.sid == sid);
    let target: &mut Process = if pid == p.pid {
        p
    } else {
        let Some(c) = tasks.get_mut(pid).filter(|c| c.ppid == p.pid) else {
            return Err(errno::ESRCH);
        };
        if c.sid != sid {
            return Err(errno::EPERM);
        }
        c
    };
    if target.sid == target.pid || !exists {
        return Err(errno::EPERM);
    }
    target.pgid = pgid;
    Ok(0)
}

/// The process `pid` names for getpgid/getsid (0: the caller): `(pgid, sid)`, or `ESRCH`.
fn group_of(p: &Process, pid: i32) -> Result<(i32, i32), Errno> {
    if pid == 0 || pid == p.pid {
        return Ok((p.pgid, p.sid));
    }
    if pid < 0 {
        return Err(errno::ESRCH);
    }
    TASKS
        .lock()
        .get_mut(pid)
        .map(|q| (q.pgid, q.sid))
        .ok_or(errno::ESRCH)
}

/// getpgid(2) (glibc's getpgrp is getpgid(0) on arm64).
pub(super) fn getpgid(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    group_of(p, call.args[0] as i32).map(|(g, _)| g as usize)
}

/// getsid(2).
pub(super) fn getsid(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    group_of(p, call.args[0] as i32).map(|(_, s)| s as usize)
}

/// setsid(2): `EPERM` if a process group with the caller's pid exists (the caller leads one, or
/// did and others remain); otherwise the caller leads a new session and group.
pub(super) fn setsid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let pid = p.pid;
    if p.pgid == pid || TASKS.lock().iter().any(|q| q.pgid == pid) {
        return Err(errno::EPERM);
    }
    p.sid = pid;
    p.pgid = pid;
    Ok(pid as usize)
}
