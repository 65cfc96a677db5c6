//! Processes and the machine: exit, clone (fork), wait4, waitid, reboot, prctl, uname, and the
//! calls that identify a process.
use super::*;

/// exit(2) and exit_group(2).
#[inline(always)]
pub(super) fn exit(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let reason = ExitReason::Exited(call.args[0] as i32);
    if call.nr == SYS_exit_group {
        p.group_exit(reason);
    }
    p.exit = Some(reason);
    Ok(0)
}

/// set_tid_address(2).
pub(super) fn set_tid_address(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    p.clear_child_tid = a0;
    Ok(p.pid as usize)
}

/// `sizeof(struct robust_list_head)`: the only length set_robust_list takes.
const ROBUST_LIST_HEAD_SIZE: usize = 24;

/// set_robust_list(2): where this thread's list of held robust futexes starts; walked when the
/// thread ends (`exit_robust_list`).
pub(super) fn set_robust_list(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    if call.args[1] as usize != ROBUST_LIST_HEAD_SIZE {
        return Err(errno::EINVAL);
    }
    p.robust_list = call.args[0] as usize;
    Ok(0)
}

/// get_robust_list(2): a thread's list head (0 for the caller), `ESRCH` for no such thread,
/// `EPERM` for another user's unless root.
pub(super) fn get_robust_list(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (pid, head_ptr, len_ptr) = (
        call.args[0] as i32,
        call.args[1] as usize,
        call.args[2] as usize,
    );
    let head = if pid == 0 || pid == p.pid {
        p.robust_list
    } else {
        let tasks = TASKS.lock();
        let t = tasks.get(pid).ok_or(errno::ESRCH)?;
        if p.creds.euid != 0 && t.creds.uid != p.creds.euid && t.creds.uid != p.creds.uid {
            return Err(errno::EPERM);
        }
        t.robust_list
    };
    p.write_pod(len_ptr, &(ROBUST_LIST_HEAD_SIZE as u64))?;
    p.write_pod(head_ptr, &(head as u64))?;
    Ok(0)
}

/// getpid(2): the process's id (its thread group's).
#[inline(always)]
pub(super) fn getpid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.tgid as usize)
}

/// gettid(2): the calling thread's id.
pub(super) fn gettid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
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
        const PR_GET_DUMPABLE: usize = 3;
        const PR_SET_DUMPABLE: usize = 4;
        const PR_SET_CHILD_SUBREAPER: usize = 36;
        const PR_GET_CHILD_SUBREAPER: usize = 37;
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
            PR_GET_DUMPABLE => {
                Ok(p.group.dumpable.load(core::sync::atomic::Ordering::Relaxed) as usize)
            }
            // 0 or 1 (`SUID_DUMP_USER`); 2 is for the sysctl alone.
            PR_SET_DUMPABLE => {
                if a1 > 1 {
                    return Err(errno::EINVAL);
                }
                p.group
                    .dumpable
                    .store(a1 == 1, core::sync::atomic::Ordering::Relaxed);
                Ok(0)
            }
            PR_SET_CHILD_SUBREAPER => {
                p.group
                    .is_child_subreaper
                    .store(a1 != 0, core::sync::atomic::Ordering::Relaxed);
                Ok(0)
            }
            PR_GET_CHILD_SUBREAPER => {
                let is = p
                    .group
                    .is_child_subreaper
                    .load(core::sync::atomic::Ordering::Relaxed);
                p.write_pod(a1, &(is as i32)).map(|_| 0)
            }
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
                p.mm().thp_disabled = a1 != 0;
                Ok(0)
            }
            PR_GET_THP_DISABLE => {
                if a1 | a2 | a3 | a[4] as usize != 0 {
                    return Err(errno::EINVAL);
                }
                Ok(p.mm().thp_disabled as usize)
            }
            _ => Err(errno::EINVAL),
        }
    }
}

/// sched_yield(2): the caller goes to the back of the run queue.
pub(super) fn sched_yield(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    p.wait = Some(WaitFor::Yield);
    Ok(0)
}

/// A CPU mask is `CPU_MASK_BYTES` long, as Linux's `cpumask_size()` is for up to 64 CPUs.
const CPU_MASK_BYTES: usize = 8;

/// The cores running the kernel, one bit each.
fn online_cpus() -> u64 {
    (1u64 << crate::arch::aarch64::smp::online()) - 1
}

/// The task a scheduler call names: the caller for 0, else a thread by its id (`ESRCH`).
fn sched_target(p: &Process, pid: i32) -> Result<(), Errno> {
    if pid < 0 {
        return Err(errno::EINVAL);
    }
    if pid == 0 || pid == p.pid || TASKS.lock().get(pid).is_some() {
        Ok(())
    } else {
        Err(errno::ESRCH)
    }
}

/// The cores the task `pid` names may run on.
fn cpus_allowed(p: &Process, pid: i32) -> Result<u64, Errno> {
    sched_target(p, pid)?;
    let mask = if pid == 0 || pid == p.pid {
        p.cpus_allowed
    } else {
        TASKS.lock().get(pid).ok_or(errno::ESRCH)?.cpus_allowed
    };
    Ok(mask & online_cpus())
}

/// sched_getaffinity(2): `EINVAL` for a buffer too small for the CPUs or not a whole number of
/// longs; returns how many bytes it wrote.
pub(super) fn sched_getaffinity(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (pid, len, mask) = (
        call.args[0] as i32,
        call.args[1] as usize,
        call.args[2] as usize,
    );
    if len == 0 || !len.is_multiple_of(8) {
        return Err(errno::EINVAL);
    }
    let allowed = cpus_allowed(p, pid)?;
    let n = len.min(CPU_MASK_BYTES);
    p.copy_to_user(mask, &allowed.to_le_bytes()[..n])?;
    Ok(n)
}

/// sched_setaffinity(2): a mask with no CPU tidemark runs on is `EINVAL`. A caller that may no
/// longer run on its core leaves it at once (the run queue gives it to an allowed one).
pub(super) fn sched_setaffinity(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (pid, len, mask) = (
        call.args[0] as i32,
        call.args[1] as usize,
        call.args[2] as usize,
    );
    let mut bytes = [0u8; CPU_MASK_BYTES];
    let n = len.min(CPU_MASK_BYTES);
    p.copy_from_user(mask, &mut bytes[..n])?;
    sched_target(p, pid)?;
    let new = u64::from_le_bytes(bytes) & online_cpus();
    if new == 0 {
        return Err(errno::EINVAL);
    }
    if pid == 0 || pid == p.pid {
        p.cpus_allowed = new;
        if new & (1 << crate::arch::aarch64::smp::cpu_id()) == 0 {
            p.wait = Some(WaitFor::Yield);
        }
    } else {
        TASKS.lock().get_mut(pid).ok_or(errno::ESRCH)?.cpus_allowed = new;
        // If it is queued, a core it may now run on looks for it.
        crate::task::klock::want_cpu(new);
    }
    Ok(0)
}

/// getcpu(2): the core the caller runs on, of NUMA node 0.
pub(super) fn getcpu(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let cpu = crate::arch::aarch64::smp::cpu_id() as u32;
    for (addr, v) in [(call.args[0] as usize, cpu), (call.args[1] as usize, 0)] {
        if addr != 0 {
            p.write_pod(addr, &v)?;
        }
    }
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

/// What `clone` and `clone3` ask for, in `clone3`'s terms (`struct kernel_clone_args`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CloneArgs {
    pub flags: u64,
    pub child_tid: usize,
    pub parent_tid: usize,
    pub exit_signal: u64,
    pub stack: u64,
    pub tls: u64,
}

/// clone(2): `(flags, newsp, parent_tid, tls, child_tid)` on arm64.
pub(super) fn sys_clone(
    p: &mut Process,
    tf: &TrapFrame,
    flags: usize,
    newsp: usize,
    parent_tid: usize,
    tls: usize,
    child_tid: usize,
) -> SysResult {
    use crate::syscall::abi::clone::CSIGNAL;
    let flags = flags as u64;
    kernel_clone(
        p,
        tf,
        CloneArgs {
            // clone(2) takes the flags as an int: the upper half is not looked at.
            flags: flags & 0xffff_ffff & !CSIGNAL,
            child_tid,
            parent_tid,
            exit_signal: flags & CSIGNAL,
            stack: newsp as u64,
            tls: tls as u64,
        },
    )
}

/// clone3(2): `struct clone_args` of `size` bytes at `uargs` (`copy_clone_args_from_user`):
/// `EINVAL` below the first version's 64 bytes, `E2BIG` above a page or with non-zero bytes
/// past the fields this kernel knows; `set_tid` and `cgroup` are refused (`EINVAL`), and a stack
/// is given as its base and size.
pub(super) fn sys_clone3(p: &mut Process, tf: &TrapFrame, uargs: usize, size: usize) -> SysResult {
    const VER0: usize = 64;
    const KNOWN: usize = 88;
    if size < VER0 {
        return Err(errno::EINVAL);
    }
    if size > crate::mm::addr::PAGE_SIZE {
        return Err(errno::E2BIG);
    }
    let mut raw = [0u8; KNOWN];
    let n = size.min(KNOWN);
    p.copy_from_user(uargs, &mut raw[..n])?;
    if size > KNOWN {
        let mut rest = alloc::vec![0u8; size - KNOWN];
        p.copy_from_user(uargs + KNOWN, &mut rest)?;
        if rest.iter().any(|&b| b != 0) {
            return Err(errno::E2BIG);
        }
    }
    let f = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
    let (flags, pidfd, child_tid, parent_tid, exit_signal) = (f(0), f(1), f(2), f(3), f(4));
    let (stack, stack_size, tls, set_tid, set_tid_size, cgroup) =
        (f(5), f(6), f(7), f(8), f(9), f(10));
    use crate::syscall::abi::clone::*;
    let _ = pidfd;
    // `clone3_args_valid`.
    if exit_signal & !CSIGNAL != 0 || exit_signal > signal::NSIG as u64 {
        return Err(errno::EINVAL);
    }
    if set_tid != 0 || set_tid_size != 0 || cgroup != 0 || flags & CLONE_INTO_CGROUP != 0 {
        return Err(errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(errno::EINVAL);
    }
    if flags & CLONE_CLEAR_SIGHAND != 0 && flags & CLONE_SIGHAND != 0 {
        return Err(errno::EINVAL);
    }
    kernel_clone(
        p,
        tf,
        CloneArgs {
            flags,
            child_tid: child_tid as usize,
            parent_tid: parent_tid as usize,
            exit_signal,
            // The stack grows down from the top of what was given.
            stack: stack.wrapping_add(stack_size),
            tls,
        },
    )
}

/// `kernel_clone`: checks the flags as `copy_process` does, makes the thread or process, and
/// starts it. Namespaces, pidfds, cgroups and ptrace are not implemented: asking for them is
/// `EINVAL` (a request for a new namespace by an unprivileged caller is `EPERM`, as on Linux).
pub(super) fn kernel_clone(p: &mut Process, tf: &TrapFrame, args: CloneArgs) -> SysResult {
    use crate::syscall::abi::clone::*;
    let flags = args.flags;
    if flags & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS {
        return Err(errno::EINVAL);
    }
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(errno::EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(errno::EINVAL);
    }
    if flags & CLONE_PARENT != 0 && p.tgid == 1 {
        return Err(errno::EINVAL);
    }
    if flags & CLONE_NAMESPACES != 0 {
        return Err(if p.creds.euid == 0 {
            errno::EINVAL
        } else {
            errno::EPERM
        });
    }
    if flags & (CLONE_PIDFD | CLONE_INTO_CGROUP) != 0 {
        if UNKNOWN.first_time(SYS_clone3) {
            log::warn!("clone: pidfds and cgroups are not implemented ({flags:#x})");
        }
        return Err(errno::EINVAL);
    }
    let mut tasks = TASKS.lock();
    // RLIMIT_NPROC counts the user's tasks; root is exempt (CAP_SYS_RESOURCE/ADMIN).
    let nproc = p.mm().rlimits.nproc.cur;
    if p.creds.euid != 0 && 1 + tasks.count_uid(p.creds.uid) >= nproc {
        return Err(errno::EAGAIN);
    }
    let pid = tasks.alloc_pid().ok_or(errno::EAGAIN)?;
    drop(tasks);
    let mut child = match p.copy_process(tf, pid, flags, args.stack, args.tls) {
        Ok(c) => c,
        Err(e) => {
            TASKS.lock().free_pid();
            return Err(e);
        }
    };
    if flags & CLONE_PARENT != 0 {
        child.ppid = p.ppid;
    }
    if flags & CLONE_CLEAR_SIGHAND != 0 {
        // Handlers go back to SIG_DFL in the child; ignored signals stay ignored.
        for a in child.signals.hand.actions.lock().iter_mut() {
            if a.handler != signal::SIG_IGN {
                *a = signal::SigAction::DEFAULT;
            }
        }
    }
    if flags & CLONE_THREAD == 0 {
        child.group.exit_signal.store(
            args.exit_signal as u32,
            core::sync::atomic::Ordering::Relaxed,
        );
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = args.child_tid;
    }
    // Both stores are best effort, as Linux's (`schedule_tail` and `kernel_clone` ignore a failed
    // `put_user`): a bad pointer, or no memory for the child's copy of the page, does not undo
    // the clone. Into a shared address space, the store is the caller's own.
    if flags & CLONE_CHILD_SETTID != 0 {
        if flags & CLONE_VM != 0 {
            let _ = p.write_pod(args.child_tid, &pid);
        } else {
            let _ = child.poke_inactive(args.child_tid, &pid.to_le_bytes());
        }
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = p.write_pod(args.parent_tid, &pid);
    }
    if flags & CLONE_VFORK != 0 {
        child.vfork_parent = Some(p.pid);
        p.wait = Some(WaitFor::Vfork(pid));
    }
    TASKS.lock().add(child);
    Ok(pid as usize)
}

pub(super) fn child_state(reason: ExitReason) -> ChildState {
    match reason {
        ExitReason::Exited(code) => ChildState::Exited(code),
        ExitReason::Signaled { sig, core: false } => ChildState::Killed(sig),
        ExitReason::Signaled { sig, core: true } => ChildState::Dumped(sig),
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
    if tasks.no_such_child(p.tgid, target) {
        return Err(errno::ECHILD);
    }
    let mut found = if opts.nowait() {
        tasks.peek_zombie(p.tgid, target)
    } else {
        tasks.reap(p.tgid, target).inspect(|(_, z)| {
            p.group
                .children_cpu
                .fetch_add(z.cpu_ticks, core::sync::atomic::Ordering::Relaxed);
        })
    }
    .map(|(c, z)| (c, child_state(z.reason), z.minflt));
    if found.is_none() && (opts.stopped() || opts.continued()) {
        // A live child that stopped or continued since the last wait that saw it.
        let me = p.tgid;
        let hit = tasks
            .iter()
            .find(|c| {
                c.ppid == me
                    && crate::task::sched::wait_matches(target, c.tgid, c.pgid)
                    && c.report.is_some_and(|r| crate::task::wait::wanted(r, opts))
            })
            .map(|c| (c.tgid, c.report.expect("checked"), c.minflt));
        if let Some((child, _, _)) = hit {
            if !opts.nowait() {
                for t in tasks.threads_of(child) {
                    if let Some(mut c) = tasks.get_mut(t) {
                        c.report = None;
                    }
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
    let pid = if pid == 0 { p.tgid } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    if pgid < 0 {
        return Err(errno::EINVAL);
    }
    let mut tasks = TASKS.lock();
    let sid = p.sid;
    let exists =
        pgid == pid || p.pgid == pgid || tasks.iter().any(|q| q.pgid == pgid && q.sid == sid);
    let mut child;
    let target: &mut Process = if pid == p.tgid {
        p
    } else {
        let Some(c) = tasks.get_mut(pid).filter(|c| c.ppid == p.tgid) else {
            return Err(errno::ESRCH);
        };
        if c.sid != sid {
            return Err(errno::EPERM);
        }
        child = c;
        &mut child
    };
    if target.sid == target.tgid || !exists {
        return Err(errno::EPERM);
    }
    target.pgid = pgid;
    Ok(0)
}

/// The process `pid` names for getpgid/getsid (0: the caller): `(pgid, sid)`, or `ESRCH`.
fn group_of(p: &Process, pid: i32) -> Result<(i32, i32), Errno> {
    if pid == 0 || pid == p.tgid {
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
    let pid = p.tgid;
    if p.pgid == pid || TASKS.lock().iter().any(|q| q.pgid == pid) {
        return Err(errno::EPERM);
    }
    p.sid = pid;
    p.pgid = pid;
    Ok(pid as usize)
}
