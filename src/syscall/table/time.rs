//! Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, nanosleep, clock_nanosleep.
use super::*;

/// clock_gettime(2).
pub(super) fn clock_gettime(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
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
        let us = timer::uptime_us();
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
