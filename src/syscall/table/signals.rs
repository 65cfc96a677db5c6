//! Signals: rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend, sigaltstack, kill, tkill,
//! tgkill.
use super::*;

/// rt_sigaction(2).
pub(super) fn rt_sigaction(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
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

/// rt_sigprocmask(2).
pub(super) fn rt_sigprocmask(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
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

/// rt_sigpending(2).
pub(super) fn rt_sigpending(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    let set = p.signals.sigpending(a1)?;
    p.copy_to_user(a0, &set.0.to_le_bytes()[..a1]).map(|_| 0)
}

/// sigaltstack(2).
pub(super) fn sigaltstack(p: &mut Process, call: &SyscallArgs, tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
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

/// kill(2), tgkill(2) and tkill(2).
pub(super) fn kill(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    let (target, sig, code) = match call.nr {
        SYS_kill => (a0 as i32, a1 as u32, signal::SI_USER),
        SYS_tkill => (a0 as i32, a1 as u32, signal::SI_TKILL),
        _ => (a1 as i32, a2 as u32, signal::SI_TKILL),
    };
    let info = SigInfo::user(sig, code, p.tgid as u32, p.creds.uid);
    if call.nr != SYS_kill {
        // tkill/tgkill: one thread, which must belong to process `a0` for tgkill.
        if target <= 0 || (call.nr == SYS_tgkill && (a0 as i32) <= 0) {
            return Err(errno::EINVAL);
        }
        if sig > signal::NSIG {
            return Err(errno::EINVAL);
        }
        let tgid = if call.nr == SYS_tgkill {
            Some(a0 as i32)
        } else {
            None
        };
        if target == p.pid {
            if tgid.is_some_and(|g| g != p.tgid) {
                return Err(errno::ESRCH);
            }
            return p.signals.send_thread(sig, info).map(|_| 0);
        }
        let mut tasks = TASKS.lock();
        match tasks.get(target) {
            Some(t) if tgid.is_none_or(|g| g == t.tgid) => {}
            _ => return Err(errno::ESRCH),
        }
        return tasks.signal(target, sig, info).map(|_| 0);
    }
    if target != -1 && target <= 0 {
        // A process group: the caller's own for 0, else `-target` (`kill_pgrp`).
        if target == i32::MIN {
            return Err(errno::ESRCH);
        }
        let pgrp = if target == 0 { p.pgid } else { -target };
        if sig > signal::NSIG {
            return Err(errno::EINVAL);
        }
        let mut tasks = TASKS.lock();
        let mut members: alloc::vec::Vec<i32> = tasks
            .iter()
            .filter(|t| t.pgid == pgrp && t.tgid != p.tgid)
            .map(|t| t.tgid)
            .collect();
        members.sort_unstable();
        members.dedup();
        let mine = p.pgid == pgrp;
        if members.is_empty() && !mine {
            return Err(errno::ESRCH);
        }
        for tgid in members {
            let _ = tasks.signal_process(tgid, sig, info);
        }
        drop(tasks);
        if mine {
            send_own(p, sig, info)?;
        }
        return Ok(0);
    }
    if target == -1 {
        // Every process but the first and the caller's, then the caller's.
        let mut tasks = TASKS.lock();
        let mut tgids: alloc::vec::Vec<i32> = tasks
            .iter()
            .map(|t| t.tgid)
            .filter(|&g| g != 1 && g != p.tgid)
            .collect();
        tgids.sort_unstable();
        tgids.dedup();
        for tgid in tgids {
            let _ = tasks.signal_process(tgid, sig, info);
        }
        drop(tasks);
        return send_own(p, sig, info).map(|_| 0);
    }
    if target == p.tgid {
        return send_own(p, sig, info).map(|_| 0);
    }
    TASKS.lock().signal_process(target, sig, info).map(|_| 0)
}

/// A signal for the caller's own process: queued for the process; the caller takes it on its
/// way out unless it blocks it, in which case another thread that does not is woken. SIGKILL
/// ends every thread.
fn send_own(p: &mut Process, sig: u32, info: SigInfo) -> Result<(), Errno> {
    p.signals.send(sig, info)?;
    if p.is_threaded() && sig != 0 {
        if sig == signal::SIGKILL {
            p.group_exit(ExitReason::Signaled { sig, core: false });
        } else if p.signals.blocked.contains(sig) {
            TASKS.lock().wake_taker(p.tgid);
        }
    }
    Ok(())
}

/// rt_sigsuspend(2): waits with the given mask until a signal runs a handler (the call then fails
/// with EINTR and the handler's frame restores the mask from before) or ends the process.
/// `EINVAL` unless `sigsetsize` is 8, `EFAULT` for the mask. A restart after a signal that ran
/// no handler keeps the temporary mask and waits on.
pub(super) fn rt_sigsuspend(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (mask, size) = (call.args[0] as usize, call.args[1] as usize);
    if size != 8 {
        return Err(errno::EINVAL);
    }
    if p.signals.saved_sigmask.is_none() {
        let m = SigSet(p.read_pod::<u64>(mask)?);
        p.signals.set_temporary_mask(m);
    }
    p.wait = Some(WaitFor::Signal);
    Err(errno::EWOULDBLOCK_RESTART)
}
