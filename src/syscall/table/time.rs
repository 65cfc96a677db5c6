//! Clocks, sleeping and timers: clock_gettime, clock_settime, clock_getres, gettimeofday,
//! settimeofday, nanosleep, clock_nanosleep, setitimer and getitimer.
use super::*;

/// clock_gettime(2).
pub(super) fn clock_gettime(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    const CLOCKS: usize = 12;
    if a0 >= CLOCKS {
        return Err(errno::EINVAL);
    }
    let ns = match a0 {
        CLOCK_PROCESS_CPUTIME_ID => timer::ticks_to_ns(p.process_cpu_ticks()),
        CLOCK_THREAD_CPUTIME_ID => timer::ticks_to_ns(p.thread_cpu_ticks()),
        id => clock_ns(id),
    };
    let ts = abi::Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    };
    p.write_pod(a1, &ts).map(|_| 0)
}

const CLOCK_PROCESS_CPUTIME_ID: usize = 2;
const CLOCK_THREAD_CPUTIME_ID: usize = 3;

/// The clocks by id: CLOCK_REALTIME (0), its coarse form (5) and CLOCK_TAI (11, no leap-second
/// offset set, as on a fresh Linux) from the RTC anchored at boot; the monotonic and boot-time
/// clocks from the counter since boot. (The CPU-time clocks are the caller's, in
/// `clock_gettime`.)
fn clock_ns(id: usize) -> u64 {
    match id {
        0 | 5 | 11 => timer::realtime_ns(),
        _ => timer::uptime_ns(),
    }
}

/// clock_getres(2).
pub(super) fn clock_getres(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a1 = a[1] as usize;
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

/// gettimeofday(2).
pub(super) fn gettimeofday(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    if a0 != 0 {
        let us = timer::realtime_ns() / 1000;
        let tv = abi::Timeval {
            tv_sec: (us / 1_000_000) as i64,
            tv_usec: (us % 1_000_000) as i64,
        };
        p.write_pod(a0, &tv)?;
    }
    Ok(0)
}

/// nanosleep(2) and clock_nanosleep(2).
pub(super) fn nanosleep(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
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

const ITIMER_REAL: usize = 0;
const ITIMER_PROF: usize = 2;

/// `struct itimerval`: the period, then the value.
fn itimerval_bytes(interval_ns: u64, value_ns: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, ns) in [interval_ns, value_ns].into_iter().enumerate() {
        // Rounded up to the microsecond, so that an armed timer never reads as 0.
        let us = ns.div_ceil(1000);
        b[16 * i..16 * i + 8].copy_from_slice(&((us / 1_000_000) as i64).to_le_bytes());
        b[16 * i + 8..16 * i + 16].copy_from_slice(&((us % 1_000_000) as i64).to_le_bytes());
    }
    b
}

/// Timer `which` now, as `itimerval` bytes: `ITIMER_REAL` on the uptime clock, the other two
/// on the process's CPU time.
fn itimer_now(p: &Process, which: usize) -> [u8; 32] {
    if which == ITIMER_REAL {
        return match *p.group.itimer_real.lock() {
            Some(t) => itimerval_bytes(
                t.interval,
                t.deadline.saturating_sub(timer::uptime_ns()).max(1),
            ),
            None => [0; 32],
        };
    }
    let t = p.group.itimer_cpu.lock()[which - 1];
    match t {
        Some(t) => itimerval_bytes(
            t.interval,
            t.expires.saturating_sub(p.process_cpu_ns()).max(1),
        ),
        None => [0; 32],
    }
}

/// `which` for the timer calls: `ITIMER_REAL`, `ITIMER_VIRTUAL` or `ITIMER_PROF`; `EINVAL` for
/// anything else.
fn itimer_which(which: usize) -> Result<(), Errno> {
    if which <= ITIMER_PROF {
        Ok(())
    } else {
        Err(errno::EINVAL)
    }
}

/// getitimer(2).
pub(super) fn getitimer(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (which, addr) = (call.args[0] as u32 as usize, call.args[1] as usize);
    itimer_which(which)?;
    let b = itimer_now(p, which);
    p.copy_to_user(addr, &b).map(|_| 0)
}

/// setitimer(2) (`do_setitimer`): the new value is read first (`EFAULT`; `EINVAL` for a
/// microsecond count outside 0..1,000,000 or a negative time; a NULL value disarms, as Linux
/// 6.1 allows), then the old one is stored if asked. A zero value disarms; a zero period fires once.
pub(super) fn setitimer(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (which, new, old) = (
        call.args[0] as u32 as usize,
        call.args[1] as usize,
        call.args[2] as usize,
    );
    itimer_which(which)?;
    let mut v = [0u8; 32];
    if new != 0 {
        p.copy_from_user(new, &mut v)?;
    }
    let field = |i: usize| i64::from_le_bytes(v[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    let (isec, iusec, vsec, vusec) = (field(0), field(1), field(2), field(3));
    if [isec, vsec].iter().any(|&s| s < 0)
        || [iusec, vusec].iter().any(|&u| !(0..1_000_000).contains(&u))
    {
        return Err(errno::EINVAL);
    }
    let ns = |s: i64, u: i64| {
        (s as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(u as u64 * 1000)
    };
    let previous = itimer_now(p, which);
    let (value, interval) = (ns(vsec, vusec), ns(isec, iusec));
    if which == ITIMER_REAL {
        let mut real = p.group.itimer_real.lock();
        *real = (value != 0).then(|| crate::task::process::ItimerReal {
            deadline: timer::uptime_ns().saturating_add(value),
            interval,
        });
        p.group
            .real_armed
            .store(real.is_some(), core::sync::atomic::Ordering::Relaxed);
    } else {
        let expires = p.process_cpu_ns().saturating_add(value);
        let mut timers = p.group.itimer_cpu.lock();
        timers[which - 1] =
            (value != 0).then_some(crate::task::process::ItimerCpu { expires, interval });
        p.group.rearm_cpu_timers(&timers);
    }
    if old != 0 {
        p.copy_to_user(old, &previous)?;
    }
    Ok(0)
}

/// clock_settime(2): only CLOCK_REALTIME can be set (`EINVAL` for the others, and for a time
/// outside the timespec rules or before the epoch), and only by root (`EPERM`, CAP_SYS_TIME).
pub(super) fn clock_settime(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let (id, addr) = (call.args[0] as u32 as usize, call.args[1] as usize);
    let ts: abi::Timespec = p.read_pod(addr)?;
    if id != 0 {
        return Err(errno::EINVAL);
    }
    let ns = ts.as_nanos().ok_or(errno::EINVAL)?;
    if p.creds.euid != 0 {
        return Err(errno::EPERM);
    }
    timer::set_realtime_ns(ns);
    Ok(0)
}

/// settimeofday(2): the time from a timeval (`EINVAL` for microseconds outside 0..1,000,000 or a
/// negative time); a NULL time sets nothing; the timezone is accepted and ignored. Root only.
pub(super) fn settimeofday(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let addr = call.args[0] as usize;
    if addr == 0 {
        return if p.creds.euid == 0 {
            Ok(0)
        } else {
            Err(errno::EPERM)
        };
    }
    let tv: abi::Timeval = p.read_pod(addr)?;
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(errno::EINVAL);
    }
    if p.creds.euid != 0 {
        return Err(errno::EPERM);
    }
    timer::set_realtime_ns((tv.tv_sec as u64) * 1_000_000_000 + (tv.tv_usec as u64) * 1000);
    Ok(0)
}

/// times(2): the process's and its reaped children's CPU time in clock ticks (`USER_HZ`, 100),
/// all of it counted as user time; returns the ticks since boot.
pub(super) fn times(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    const USER_HZ: u64 = 100;
    let hz = |t: u64| (timer::ticks_to_ns(t) / (1_000_000_000 / USER_HZ)) as i64;
    let buf = call.args[0] as usize;
    if buf != 0 {
        let own = hz(p.process_cpu_ticks());
        let children = hz(p
            .group
            .children_cpu
            .load(core::sync::atomic::Ordering::Relaxed));
        let mut tms = [0u8; 32];
        tms[0..8].copy_from_slice(&own.to_le_bytes());
        tms[16..24].copy_from_slice(&children.to_le_bytes());
        p.copy_to_user(buf, &tms)?;
    }
    Ok(hz(timer::ticks()) as usize)
}
