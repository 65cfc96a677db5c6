//! Credentials: the uid and gid families (`kernel/sys.c`).
use super::*;

/// getuid(2).
pub(super) fn getuid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.creds.uid as usize)
}

/// geteuid(2).
pub(super) fn geteuid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.creds.euid as usize)
}

/// getgid(2).
pub(super) fn getgid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.creds.gid as usize)
}

/// getegid(2).
pub(super) fn getegid(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(p.creds.egid as usize)
}

/// getresuid(2) and getresgid(2).
pub(super) fn getresuid(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
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

/// setuid(2), setgid(2), setreuid(2), setregid(2), setresuid(2) and setresgid(2).
pub(super) fn setuid(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    set_ids(p, call.nr, [a0 as u32, a1 as u32, a2 as u32]).map(|_| 0)
}

/// getgroups(2).
pub(super) fn getgroups(_p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    Ok(0)
}

/// setgroups(2).
pub(super) fn setgroups(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    if p.creds.euid != 0 {
        return Err(errno::EPERM);
    }
    Ok(0)
}

/// The set*id family with Linux's rules (kernel/sys.c): root may set anything; others may only
/// switch among their real, effective and saved ids. `-1` (as u32) leaves an id unchanged.
/// Effective uid 0 is tidemark's stand-in for every capability, CAP_IPC_LOCK included, so the
/// address space's `privileged` follows it.
pub(super) fn set_ids(p: &mut Process, nr: usize, a: [u32; 3]) -> Result<(), Errno> {
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
    p.mm().privileged = p.creds.euid == 0;
    Ok(())
}
