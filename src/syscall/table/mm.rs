//! The memory calls: brk, mmap, munmap, mprotect, mremap, madvise, the mlock family, mincore.
//! Each takes the mm and, where Linux populates after dropping the mmap lock, populates after
//! the operation. The hot ones are inlined into the dispatcher: as calls of their own they cost
//! brk 24 instructions (the callee-saved registers of a second frame).
use super::*;

/// brk(2).
#[inline(always)]
pub(super) fn brk(p: &mut Process, addr: usize) -> SysResult {
    let r = sys_brk(&mut p.mm, addr);
    if let Some(range) = r.populate {
        // Linux populates after dropping mmap_lock; errors are ignored.
        mm_populate(&mut p.mm, range.start, range.len);
    }
    Ok(r.ret)
}

/// mmap(2).
#[inline(always)]
pub(super) fn mmap(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    if !a[5].is_multiple_of(crate::mm::addr::PAGE_SIZE as u64) {
        return Err(errno::EINVAL);
    }
    let r = do_mmap(&mut p.mm, a0, a1, a2 as u32, a3 as u32).map_err(mm_err)?;
    if let Some(range) = r.populate {
        mm_populate(&mut p.mm, range.start, range.len);
    }
    Ok(r.addr)
}

/// munmap(2).
#[inline(always)]
pub(super) fn munmap(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    do_munmap(&mut p.mm, a0, a1).map(|_| 0).map_err(mm_err)
}

/// mprotect(2).
#[inline(always)]
pub(super) fn mprotect(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    do_mprotect(&mut p.mm, a0, a1, a2 as u32)
        .map(|_| 0)
        .map_err(mm_err)
}

/// mremap(2).
#[inline(always)]
pub(super) fn mremap(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    let r = do_mremap(&mut p.mm, a0, a1, a2, a3 as u32, a[4] as usize).map_err(mm_err)?;
    if let Some(range) = r.populate {
        mm_populate(&mut p.mm, range.start, range.len);
    }
    Ok(r.addr)
}

/// madvise(2).
#[inline(always)]
pub(super) fn madvise(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    do_madvise(&mut p.mm, a0, a1, a2 as i32)
        .map(|_| 0)
        .map_err(mm_err)
}

/// mlock(2) and mlock2(2).
pub(super) fn mlock(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    let flags = if call.nr == SYS_mlock { 0 } else { a2 as u32 };
    if let Some(range) = do_mlock(&mut p.mm, a0, a1, flags).map_err(mm_err)? {
        // mlock(2) reports a failed population (Linux `__mm_populate` without
        // ignore_errors); mlockall does not.
        mlock_populate(&mut p.mm, range).map_err(mm_err)?;
    }
    Ok(0)
}

/// munlock(2).
pub(super) fn munlock(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    do_munlock(&mut p.mm, a0, a1).map(|_| 0).map_err(mm_err)
}

/// mlockall(2).
pub(super) fn mlockall(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    if let Some(range) = do_mlockall(&mut p.mm, a0 as u32).map_err(mm_err)? {
        mm_populate(&mut p.mm, range.start, range.len);
    }
    Ok(0)
}

/// munlockall(2).
pub(super) fn munlockall(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    do_munlockall(&mut p.mm).map(|_| 0).map_err(mm_err)
}

/// mincore(2): the residency vector is produced and copied a chunk at a time, so a hole after
/// part of the range still leaves the part before it in the user's vector, as on Linux.
pub(super) fn sys_mincore(p: &mut Process, start: usize, len: usize, vec: usize) -> SysResult {
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
