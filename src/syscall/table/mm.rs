//! The memory calls: brk, mmap, munmap, mprotect, mremap, madvise, the mlock family, mincore.
//! Each takes the mm and, where Linux populates after dropping the mmap lock, populates after
//! the operation. The hot ones are inlined into the dispatcher: as calls of their own they cost
//! brk 24 instructions (the callee-saved registers of a second frame).
use super::*;

/// brk(2).
#[inline(always)]
pub(super) fn brk(p: &mut Process, addr: usize) -> SysResult {
    let mut mm = p.mm();
    let r = sys_brk(&mut mm, addr);
    if let Some(d) = mm.pending_unmap.take() {
        finish_unmap(mm, d);
    } else {
        drop(mm);
    }
    if let Some(range) = r.populate {
        // Linux populates after dropping the write lock; errors are ignored.
        populate_shared(p, range);
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
    let flags = a3 as u32;
    let r = if flags & crate::mm::vma::MAP_TYPE == crate::mm::vma::MAP_PRIVATE
        && flags & crate::mm::vma::MAP_ANONYMOUS != 0
    {
        do_mmap(&mut p.mm(), a0, a1, a2 as u32, flags)
    } else {
        let object = mmap_object(p, flags, a2 as u32, a[4] as i32, a[5], a1)?;
        crate::mm::mmap::do_mmap_object(&mut p.mm(), a0, a1, a2 as u32, flags, object)
    }
    .map_err(mm_err)?;
    if let Some(range) = r.populate {
        populate_shared(p, range);
    }
    Ok(r.addr)
}

/// The object a mapping maps, from `do_mmap`'s file checks: for `MAP_ANONYMOUS | MAP_SHARED`
/// a new shared-memory object the size of the mapping (`shmem_zero_setup`; its /proc name is
/// Linux's `/dev/zero (deleted)`); for a descriptor, its file: `EBADF` if not open, `EACCES`
/// unless open for reading, `ENODEV` for files that cannot be mapped (pipes, the terminal,
/// directories, /proc), `EOVERFLOW` when the offset and length overflow. `/dev/zero` maps as
/// anonymous memory, private or shared.
#[inline(never)]
fn mmap_object(
    p: &mut Process,
    flags: u32,
    prot: u32,
    fd: i32,
    offset: u64,
    len: usize,
) -> Result<Option<crate::mm::mmap::MmapObject>, Errno> {
    use crate::fs::fdtable::{CharDev, FileKind};
    use crate::mm::addr::PAGE_SHIFT;
    use crate::mm::mmap::MmapObject;
    use crate::mm::vma::{
        Backing, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE,
    };
    let shared_anon = |len: usize, writable: bool| -> Result<Option<MmapObject>, Errno> {
        let inode = crate::fs::shm_object(len).ok_or(errno::ENOMEM)?;
        Ok(Some(MmapObject {
            backing: Backing(inode),
            name: alloc::sync::Arc::from("/dev/zero (deleted)"),
            pgoff: 0,
            writable,
        }))
    };
    // `ksys_mmap_pgoff` finds the file first, then `do_mmap` checks the length and the type.
    let file = if flags & MAP_ANONYMOUS != 0 {
        None
    } else if fd < 0 {
        return Err(errno::EBADF);
    } else {
        Some(p.files.lock().get(fd as u32)?.file.clone())
    };
    if len == 0 {
        return Err(errno::EINVAL);
    }
    match flags & MAP_TYPE {
        MAP_PRIVATE | MAP_SHARED => {}
        MAP_SHARED_VALIDATE => {
            // MAP_SHARED_VALIDATE refuses flags it does not know (`LEGACY_MAP_MASK` and the
            // newer ones).
            const KNOWN: u32 = 0x3
                | 0x10
                | 0x20
                | 0x100
                | 0x800
                | 0x1000
                | 0x2000
                | 0x4000
                | 0x8000
                | 0x1_0000
                | 0x2_0000
                | 0x4_0000
                | 0x8_0000
                | 0x10_0000
                | 0xfc00_0000;
            if flags & !KNOWN != 0 {
                return Err(errno::EOPNOTSUPP);
            }
        }
        _ => return Err(errno::EINVAL),
    }
    let Some(file) = file else {
        return shared_anon(len, true);
    };
    let file = file.lock();
    let pages = len.div_ceil(crate::mm::addr::PAGE_SIZE) as u64;
    if (offset >> PAGE_SHIFT)
        .checked_add(pages)
        .is_none_or(|e| e > (u64::MAX >> PAGE_SHIFT))
    {
        return Err(errno::EOVERFLOW);
    }
    match &file.kind {
        FileKind::Path(_) => Err(errno::EBADF),
        FileKind::Regular { .. } | FileKind::Device { .. } if !file.readable() => {
            Err(errno::EACCES)
        }
        FileKind::Regular { inode, path, .. } => {
            use crate::fs::inode::F_SEALS_NO_WRITE;
            let mut writable = file.writable();
            // Seals (`seal_check_write`): a write-sealed file has no writable shared mapping,
            // now or later (mprotect cannot add the write right).
            let seals = inode.lock().seals;
            if flags & MAP_TYPE != MAP_PRIVATE && writable && seals & F_SEALS_NO_WRITE != 0 {
                if prot & crate::mm::vma::PROT_WRITE != 0 {
                    return Err(errno::EPERM);
                }
                writable = false;
            }
            Ok(Some(MmapObject {
                backing: Backing(inode.clone()),
                name: alloc::sync::Arc::from(alloc::string::String::from_utf8_lossy(path).as_ref()),
                pgoff: (offset >> PAGE_SHIFT) as usize,
                writable,
            }))
        }
        FileKind::Device {
            dev: CharDev::Zero, ..
        } => {
            if flags & MAP_TYPE == MAP_PRIVATE {
                Ok(None)
            } else {
                // A read-only descriptor makes a mapping that can never be written.
                let writable = file.writable();
                drop(file);
                shared_anon(len, writable)
            }
        }
        _ => Err(errno::ENODEV),
    }
}

/// munmap(2).
#[inline(always)]
pub(super) fn munmap(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    let mut mm = p.mm();
    if let Some(d) = do_munmap_deferred(&mut mm, a0, a1).map_err(mm_err)? {
        finish_unmap(mm, d);
    }
    Ok(0)
}

/// Removes the translations of a range whose VMAs have gone, with the mmap lock downgraded to
/// its shared side and the page tables' lock taken, as Linux 6.1's munmap and brk do: the
/// process's other threads fault meanwhile.
fn finish_unmap(
    mm: crate::sync::RwSemWriteGuard<'_, MmStruct<VmSpace>>,
    d: DeferredUnmap<UnmapReserve>,
) {
    let mm = mm.downgrade();
    d.finish(&mut *mm.pt.pages.lock());
}

/// mprotect(2).
#[inline(always)]
pub(super) fn mprotect(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    do_mprotect(&mut p.mm(), a0, a1, a2 as u32)
        .map(|_| 0)
        .map_err(mm_err)
}

/// mremap(2).
#[inline(always)]
pub(super) fn mremap(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2, a3) = (a[0] as usize, a[1] as usize, a[2] as usize, a[3] as usize);
    let r = do_mremap(&mut p.mm(), a0, a1, a2, a3 as u32, a[4] as usize).map_err(mm_err)?;
    if let Some(range) = r.populate {
        populate_shared(p, range);
    }
    Ok(r.addr)
}

/// madvise(2).
#[inline(always)]
pub(super) fn madvise(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    do_madvise(&mut p.mm(), a0, a1, a2 as i32)
        .map(|_| 0)
        .map_err(mm_err)
}

/// mlock(2) and mlock2(2).
pub(super) fn mlock(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    let flags = if call.nr == SYS_mlock { 0 } else { a2 as u32 };
    // The write side is dropped between the two steps, as Linux populates after `do_mlock`.
    let locked = do_mlock(&mut p.mm(), a0, a1, flags).map_err(mm_err)?;
    if let Some(range) = locked {
        // mlock(2) reports a failed population (Linux `__mm_populate` without
        // ignore_errors); mlockall does not.
        mlock_populate_shared(p, range).map_err(mm_err)?;
    }
    Ok(0)
}

/// munlock(2).
pub(super) fn munlock(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1) = (a[0] as usize, a[1] as usize);
    do_munlock(&mut p.mm(), a0, a1).map(|_| 0).map_err(mm_err)
}

/// mlockall(2).
pub(super) fn mlockall(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let a0 = a[0] as usize;
    let locked = do_mlockall(&mut p.mm(), a0 as u32).map_err(mm_err)?;
    if let Some(range) = locked {
        populate_shared(p, range);
    }
    Ok(0)
}

/// munlockall(2).
pub(super) fn munlockall(p: &mut Process, _call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    do_munlockall(&mut p.mm()).map(|_| 0).map_err(mm_err)
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
        let r = mincore_range(&p.mm(), addr, n * crate::mm::addr::PAGE_SIZE, &mut out[..n]);
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

/// msync(2) (`ksys_msync`): flags beyond `MS_ASYNC | MS_INVALIDATE | MS_SYNC`, both `MS_ASYNC`
/// and `MS_SYNC`, or an unaligned start are `EINVAL`; `MS_INVALIDATE` over locked memory is
/// `EBUSY`; a range with unmapped parts is `ENOMEM`. Shared mappings are the file's own pages,
/// so there is nothing to write back or to invalidate.
pub(super) fn sys_msync(p: &mut Process, start: usize, len: usize, flags: i32) -> SysResult {
    const MS_ASYNC: i32 = 1;
    const MS_INVALIDATE: i32 = 2;
    const MS_SYNC: i32 = 4;
    use crate::mm::addr::{page_align_up, PAGE_SIZE};
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
        || !start.is_multiple_of(PAGE_SIZE)
    {
        return Err(errno::EINVAL);
    }
    let end = page_align_up(len)
        .and_then(|l| start.checked_add(l))
        .ok_or(errno::ENOMEM)?;
    if end == start {
        return Ok(0);
    }
    let mut cursor = start;
    let mut unmapped = false;
    let mm = p.mm();
    while cursor < end {
        let Some(v) = mm.find_vma(cursor) else {
            return Err(errno::ENOMEM);
        };
        if v.start >= end {
            return Err(errno::ENOMEM);
        }
        if v.start > cursor {
            unmapped = true;
        }
        if flags & MS_INVALIDATE != 0 && v.flags.contains(crate::mm::vma::VM_LOCKED) {
            return Err(errno::EBUSY);
        }
        cursor = v.end;
    }
    if unmapped {
        Err(errno::ENOMEM)
    } else {
        Ok(0)
    }
}

/// memfd_create(2): a file with no name in any directory, in memory, that can be written,
/// mapped and shared (`/proc/self/fd/N` says `/memfd:NAME (deleted)`). The name (at most 249
/// bytes: `EINVAL` beyond) is only for that. Flags other than `MFD_CLOEXEC` and
/// `MFD_ALLOW_SEALING` are `EINVAL`; without the latter the file starts sealed against seals.
pub(super) fn sys_memfd_create(p: &mut Process, name: usize, flags: u32) -> SysResult {
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_NAME_MAX: usize = 249;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING) != 0 {
        return Err(errno::EINVAL);
    }
    let n = p.read_cstring(name, MFD_NAME_MAX + 1).map_err(|e| {
        if e == errno::ENAMETOOLONG {
            errno::EINVAL
        } else {
            e
        }
    })?;
    let inode = crate::fs::shm_object(0).ok_or(errno::ENOMEM)?;
    {
        let mut i = inode.lock();
        if flags & MFD_ALLOW_SEALING != 0 {
            i.seals = 0;
        }
        i.mode = crate::syscall::abi::S_IFREG | 0o777;
        i.uid = p.creds.euid;
        i.gid = p.creds.egid;
    }
    let mut path = alloc::vec::Vec::from(&b"/memfd:"[..]);
    path.extend_from_slice(&n);
    path.extend_from_slice(b" (deleted)");
    let file = crate::fs::fdtable::OpenFile {
        kind: crate::fs::fdtable::FileKind::Regular {
            write: Some(crate::fs::write_access::WriteAccess::get(&inode)?),
            inode,
            pos: 0,
            path: path.into(),
        },
        flags: crate::fs::fdtable::O_RDWR | crate::fs::fdtable::O_LARGEFILE,
    };
    let fd = p.files.lock().alloc(file, flags & MFD_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// `mm_populate` as Linux runs it: after the mmap write lock is dropped, under the lock shared
/// with the VMAs looked up afresh, and errors ignored.
fn populate_shared(p: &Process, range: crate::mm::populate::PopulateRange) {
    let mm = p.mm.read();
    crate::mm::populate::for_each_populate_range(&mm, range.start, range.len, |v| {
        let _ = fill_shared(&mm, &v);
    });
}

/// mlock(2)'s population, as Linux runs it after `do_mlock`: under the mmap lock shared, the
/// VMAs looked up afresh at each step, with mlock's errors.
fn mlock_populate_shared(
    p: &Process,
    range: crate::mm::populate::PopulateRange,
) -> Result<(), crate::mm::error::MmError> {
    use crate::mm::mlock::{mlock_populate_error, mlock_step, MlockStep};
    let mm = p.mm.read();
    let end = range.start.saturating_add(range.len);
    let mut cursor = range.start;
    loop {
        match mlock_step(&mm, cursor, end)? {
            MlockStep::Done => return Ok(()),
            MlockStep::Skip(next) => cursor = next,
            MlockStep::Fill(v) => {
                fill_shared(&mm, &v).map_err(mlock_populate_error)?;
                cursor = v.end;
            }
        }
    }
}

/// Fills one VMA's part with the mmap lock held shared, taking the page tables' lock 2 MiB at a
/// time, so that other threads of the process fault between the steps.
fn fill_shared(
    mm: &MmStruct<VmSpace>,
    v: &crate::mm::populate::PopulateVma,
) -> Result<(), crate::mm::error::MmError> {
    use crate::mm::pagetable::L2_BLOCK_SIZE;
    let mut at = v.start;
    while at < v.end {
        let next = ((at | (L2_BLOCK_SIZE - 1)) + 1).min(v.end);
        v.fill(&mut *mm.pt.pages.lock(), at, next)?;
        at = next;
    }
    Ok(())
}
