//! Resource limits and usage: getrlimit, setrlimit, prlimit64, sysinfo, getrusage.
use super::*;

/// prlimit64(2).
pub(super) fn prlimit64(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    if a0 != 0 && a0 != p.tgid as usize {
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

/// sysinfo(2).
pub(super) fn sysinfo(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    let free = crate::mm::frame::free_frames();
    let total = crate::mm::frame::FRAMES.lock().total_frames();
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

/// getrusage(2).
pub(super) fn getrusage(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a1 = a[1] as usize;
    const RUSAGE_SELF: i64 = 0;
    const RUSAGE_CHILDREN: i64 = -1;
    const RUSAGE_THREAD: i64 = 1;
    // CPU time, all of it reported as user time (the kernel does not tell the two apart).
    let cpu = match a[0] as i64 {
        RUSAGE_SELF => p.process_cpu_ticks(),
        RUSAGE_THREAD => p.thread_cpu_ticks(),
        RUSAGE_CHILDREN => p
            .group
            .children_cpu
            .load(core::sync::atomic::Ordering::Relaxed),
        _ => return Err(errno::EINVAL),
    };
    let us = crate::arch::aarch64::timer::ticks_to_ns(cpu) / 1000;
    crate::task::sched::fold_faults(p);
    let ru = abi::Rusage {
        ru_utime: abi::Timeval {
            tv_sec: (us / 1_000_000) as i64,
            tv_usec: (us % 1_000_000) as i64,
        },
        ru_minflt: p.minflt as i64,
        ru_majflt: p.majflt as i64,
        ru_maxrss: (p.mm().pt.pages.get_mut().rss_pages() * 4) as i64,
        ..Default::default()
    };
    p.write_pod(a1, &ru).map(|_| 0)
}

pub(super) fn rlimit_of(p: &Process, resource: usize) -> Result<Rlimit, Errno> {
    let r = &p.mm().rlimits;
    Ok(match resource {
        RLIMIT_DATA => r.data,
        RLIMIT_STACK => r.stack,
        RLIMIT_MEMLOCK => r.memlock,
        RLIMIT_AS => r.address_space,
        RLIMIT_NPROC => r.nproc,
        RLIMIT_NOFILE => Rlimit {
            cur: p.files.lock().nofile(),
            max: r.nofile_max,
        },
        RLIMIT_CPU => *p.group.rlimit_cpu.lock(),
        n if n < RLIM_NLIMITS => r.recorded[n],
        _ => return Err(errno::EINVAL),
    })
}

pub(super) fn get_rlimit(p: &mut Process, resource: usize, addr: usize) -> SysResult {
    let l = rlimit_of(p, resource)?;
    let v = abi::Rlimit {
        rlim_cur: l.cur as u64,
        rlim_max: l.max as u64,
    };
    p.write_pod(addr, &v).map(|_| 0)
}

pub(super) fn set_rlimit(p: &mut Process, resource: usize, addr: usize) -> SysResult {
    let l: abi::Rlimit = p.read_pod(addr)?;
    apply_rlimit(p, resource, l).map(|_| 0)
}

/// `do_prlimit`: cur must not exceed max; raising max needs privilege.
pub(super) fn apply_rlimit(p: &mut Process, resource: usize, l: abi::Rlimit) -> Result<(), Errno> {
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
        p.files.lock().set_nofile(new.max as u64)?;
        p.files.lock().set_nofile(new.cur as u64)?;
    }
    if resource == RLIMIT_CPU {
        // `update_rlimit_cpu`: the tick checks the limit from its next beat.
        *p.group.rlimit_cpu.lock() = new;
        p.group.rearm_cpu_timers(&p.group.itimer_cpu.lock());
        return Ok(());
    }
    let r = &mut p.mm().rlimits;
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
