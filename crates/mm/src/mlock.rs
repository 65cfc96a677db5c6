//! Locking memory: mlock(2), mlock2(2), munlock(2), mlockall(2) and munlockall(2) with Linux 6.x
//! semantics (`mm/mlock.c`), and the error-reporting population mlock needs.
//!
//! VM_LOCKED on tidemark means "populated and never reclaimed": there is no swap, so locking only
//! changes the VMA flags (splitting and merging VMAs as Linux does), `locked_vm`, and whether the
//! range is populated at once. The callers hold the mmap lock for writing, and populate the
//! returned range after dropping it, as Linux's `do_mlock` → `__mm_populate` and
//! `mlockall` → `mm_populate` do.
//!
//! RLIMIT_MEMLOCK applies to programs without CAP_IPC_LOCK, which on tidemark are the ones with
//! `mm.privileged` clear.
use super::addr::{is_page_aligned, PAGE_SHIFT, PAGE_SIZE};
use super::error::MmError;
use super::mm_struct::{MmStruct, PageTableOps, TASK_SIZE};
use super::mprotect::vma_modify_flags;
use super::populate::{PopulateRange, PopulateVma};
use super::vma::{VmFlags, VM_DONTEXPAND, VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT};

/// mlock2 flag: lock pages as they are faulted in instead of populating the range.
pub const MLOCK_ONFAULT: u32 = 0x01;
/// mlockall flags (`include/uapi/asm-generic/mman-common.h`).
pub const MCL_CURRENT: u32 = 1;
pub const MCL_FUTURE: u32 = 2;
pub const MCL_ONFAULT: u32 = 4;

/// Linux `VM_PFNMAP`, `VM_IO` and `VM_MIXEDMAP`: never set by tidemark today, kept so that
/// [`VM_SPECIAL`] has Linux's meaning when a driver mapping appears.
pub const VM_PFNMAP: VmFlags = VmFlags::from_bits(0x400);
pub const VM_IO: VmFlags = VmFlags::from_bits(0x4000);
pub const VM_MIXEDMAP: VmFlags = VmFlags::from_bits(0x1000_0000);
/// Linux `VM_SPECIAL`: mappings mlock leaves alone (no VM_LOCKED, not counted in `locked_vm`).
/// Special mappings such as a `[sigpage]` are VM_DONTEXPAND and so fall under it.
pub const VM_SPECIAL: VmFlags =
    VmFlags::from_bits(VM_IO.bits() | VM_DONTEXPAND.bits() | VM_PFNMAP.bits() | VM_MIXEDMAP.bits());

/// `PAGE_ALIGN` with Linux's wrap-around: `~0` aligns to 0.
const fn page_align_wrapping(x: usize) -> usize {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Pages of `[start, start + len)` already in VM_LOCKED VMAs (Linux `count_mm_mlocked_page_nr`),
/// so that relocking them does not count against RLIMIT_MEMLOCK twice.
pub fn count_mm_mlocked_page_nr<P: PageTableOps>(
    mm: &MmStruct<P>,
    start: usize,
    len: usize,
) -> usize {
    let end = start.saturating_add(len);
    mm.tree
        .range(start, end)
        .filter(|v| v.flags.contains(VM_LOCKED))
        .map(|v| (v.end.min(end) - v.start.max(start)) >> PAGE_SHIFT)
        .sum()
}

/// Sets the lock bits of `[start, end)` inside the VMA starting at `vma_start` to those of
/// `newflags` (Linux `mlock_fixup`): VM_SPECIAL VMAs are skipped silently; otherwise the VMA is
/// split and merged by [`vma_modify_flags`], which also keeps `locked_vm` exact.
fn mlock_fixup<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    start: usize,
    end: usize,
    newflags: VmFlags,
) -> Result<(), MmError> {
    let oldflags = mm.tree.get(vma_start).expect("mlock_fixup: no VMA").flags;
    if newflags == oldflags || oldflags.intersects(VM_SPECIAL) {
        return Ok(());
    }
    vma_modify_flags(mm, vma_start, start, end, newflags)
}

/// Applies `flags` (VM_LOCKED, VM_LOCKED|VM_LOCKONFAULT or nothing) to the page-aligned
/// `[start, start + len)` (Linux `apply_vma_lock_flags`). VMA by VMA, as Linux: a hole returns
/// ENOMEM after the part before it has been changed; so does a range that does not start in a VMA.
fn apply_vma_lock_flags<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
    flags: VmFlags,
) -> Result<(), MmError> {
    debug_assert!(is_page_aligned(start) && is_page_aligned(len));
    let end = start.wrapping_add(len);
    if end < start {
        return Err(MmError::Invalid);
    }
    if end == start {
        return Ok(());
    }
    if mm.find_vma(start).is_none_or(|v| v.start > start) {
        return Err(MmError::NoMemory);
    }
    let mut nstart = start;
    while nstart < end {
        let Some(vma) = mm.find_vma_intersection(nstart, end) else {
            break;
        };
        if vma.start > nstart {
            return Err(MmError::NoMemory);
        }
        let newflags = (vma.flags & !VM_LOCKED_MASK) | flags;
        let (vs, tmp) = (vma.start, vma.end.min(end));
        mlock_fixup(mm, vs, nstart, tmp, newflags)?;
        nstart = tmp;
    }
    if nstart < end {
        return Err(MmError::NoMemory);
    }
    Ok(())
}

/// mlock(2) (`flags` = 0) and mlock2(2) (`flags` = 0 or [`MLOCK_ONFAULT`]) (Linux `do_mlock` and
/// the mlock2 flag check). `start` need not be aligned: the range is widened to whole pages.
///
/// Errors: EINVAL for unknown flags or a range that wraps; EPERM when RLIMIT_MEMLOCK is 0 and
/// the caller is unprivileged; ENOMEM when the pages to lock (`len` plus `locked_vm`, minus the
/// pages of the range already locked) exceed RLIMIT_MEMLOCK, or when the range has a hole or
/// lies beyond `TASK_SIZE` (the VMAs before the hole are locked already, as in Linux).
///
/// Returns the range to populate after the mmap lock is dropped (`None` for MLOCK_ONFAULT or an
/// empty range); populate it with [`mlock_populate`] to get mlock's errors, or with
/// `mm_populate` to ignore them.
pub fn do_mlock<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
    flags: u32,
) -> Result<Option<PopulateRange>, MmError> {
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(MmError::Invalid);
    }
    let mut vm_flags = VM_LOCKED;
    if flags & MLOCK_ONFAULT != 0 {
        vm_flags |= VM_LOCKONFAULT;
    }
    if !mm.can_do_mlock() {
        return Err(MmError::Permission);
    }
    let len = page_align_wrapping(len.wrapping_add(start & (PAGE_SIZE - 1)));
    let start = start & !(PAGE_SIZE - 1);
    let lock_limit = mm.rlimits.memlock.cur >> PAGE_SHIFT;
    let mut locked = (len >> PAGE_SHIFT) + mm.stat.locked_vm;
    if locked > lock_limit && !mm.privileged {
        locked -= count_mm_mlocked_page_nr(mm, start, len);
    }
    if locked > lock_limit && !mm.privileged {
        return Err(MmError::NoMemory);
    }
    apply_vma_lock_flags(mm, start, len, vm_flags)?;
    let populate = len != 0 && !vm_flags.contains(VM_LOCKONFAULT);
    Ok(populate.then(|| mm.populate_range(start, len)))
}

/// munlock(2): clears VM_LOCKED and VM_LOCKONFAULT on the range, widened to whole pages. Needs
/// no privilege. ENOMEM for holes (after unlocking the part before), EINVAL if the range wraps.
pub fn do_munlock<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
) -> Result<(), MmError> {
    let len = page_align_wrapping(len.wrapping_add(start & (PAGE_SIZE - 1)));
    let start = start & !(PAGE_SIZE - 1);
    apply_vma_lock_flags(mm, start, len, VmFlags::empty())
}

/// Linux `apply_mlockall_flags`: resets `def_flags` to the future-locking `flags` ask for, then
/// (with MCL_CURRENT, or with no flags at all for munlockall) sets or clears the lock bits of
/// every VMA, ignoring errors.
fn apply_mlockall_flags<P: PageTableOps>(mm: &mut MmStruct<P>, flags: u32) {
    mm.def_flags &= !VM_LOCKED_MASK;
    if flags & MCL_FUTURE != 0 {
        mm.def_flags |= VM_LOCKED;
        if flags & MCL_ONFAULT != 0 {
            mm.def_flags |= VM_LOCKONFAULT;
        }
        if flags & MCL_CURRENT == 0 {
            return;
        }
    }
    let mut to_add = VmFlags::empty();
    if flags & MCL_CURRENT != 0 {
        to_add |= VM_LOCKED;
        if flags & MCL_ONFAULT != 0 {
            to_add |= VM_LOCKONFAULT;
        }
    }
    let mut cursor = 0;
    while let Some(vma) = mm.find_vma(cursor) {
        let (vs, ve) = (vma.start, vma.end);
        let newflags = (vma.flags & !VM_LOCKED_MASK) | to_add;
        // Ignore errors (a split refused at max_map_count leaves that VMA as it was).
        let _ = mlock_fixup(mm, vs, vs, ve, newflags);
        cursor = ve;
    }
}

/// mlockall(2) (Linux `SYSCALL_DEFINE1(mlockall)`).
///
/// Errors: EINVAL for 0, unknown bits or MCL_ONFAULT alone; EPERM when unprivileged with
/// RLIMIT_MEMLOCK 0; ENOMEM for MCL_CURRENT when unprivileged and `total_vm` exceeds
/// RLIMIT_MEMLOCK (MCL_FUTURE alone is not checked against the limit: later growth is).
///
/// A call without MCL_FUTURE clears future locking. With MCL_CURRENT the whole address space is
/// returned for population (Linux `mm_populate(0, TASK_SIZE)`, errors ignored; PROT_NONE and
/// VM_LOCKONFAULT VMAs are skipped by `mm_populate`).
pub fn do_mlockall<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    flags: u32,
) -> Result<Option<PopulateRange>, MmError> {
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(MmError::Invalid);
    }
    if !mm.can_do_mlock() {
        return Err(MmError::Permission);
    }
    let lock_limit = mm.rlimits.memlock.cur >> PAGE_SHIFT;
    if flags & MCL_CURRENT != 0 && mm.stat.total_vm > lock_limit && !mm.privileged {
        return Err(MmError::NoMemory);
    }
    apply_mlockall_flags(mm, flags);
    mm.debug_validate();
    Ok((flags & MCL_CURRENT != 0).then(|| mm.populate_range(0, TASK_SIZE)))
}

/// munlockall(2): no future locking, and no VMA locked any more (`locked_vm` drops to 0).
pub fn do_munlockall<P: PageTableOps>(mm: &mut MmStruct<P>) -> Result<(), MmError> {
    apply_mlockall_flags(mm, 0);
    mm.debug_validate();
    Ok(())
}

/// Populates a range mlock returned and reports failure as mlock does (Linux `__mm_populate`
/// with `ignore_errors == 0`, then `__mlock_posix_error_return`). VM_LOCKONFAULT VMAs are skipped;
/// a PROT_NONE VMA cannot be populated (EFAULT in Linux's GUP, reported as ENOMEM); running out
/// of memory is reported as EAGAIN. Stops at the first failure; pages populated before it stay.
/// Call it after dropping the mmap write lock; the kernel, which holds the lock shared there,
/// takes the same steps with [`mlock_step`].
pub fn mlock_populate<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    range: PopulateRange,
) -> Result<(), MmError> {
    let end = range.start.saturating_add(range.len);
    let mut cursor = range.start;
    loop {
        match mlock_step(mm, cursor, end)? {
            MlockStep::Done => return Ok(()),
            MlockStep::Skip(next) => cursor = next,
            MlockStep::Fill(v) => {
                v.fill(&mut mm.pt, v.start, v.end)
                    .map_err(mlock_populate_error)?;
                cursor = v.end;
            }
        }
    }
}

/// What mlock's population does next from `cursor` in `[cursor, end)`, the VMAs looked up
/// afresh (another thread may have changed them since the lock was last held).
pub enum MlockStep {
    /// Fill this part of one VMA.
    Fill(PopulateVma),
    /// Go on from here: the part of a VM_LOCKONFAULT VMA is left to its faults.
    Skip(usize),
    /// Nothing is mapped in the rest.
    Done,
}

/// The next [`MlockStep`] of [`mlock_populate`]; a PROT_NONE VMA fails it with ENOMEM.
pub fn mlock_step<P: PageTableOps>(
    mm: &MmStruct<P>,
    cursor: usize,
    end: usize,
) -> Result<MlockStep, MmError> {
    if cursor >= end {
        return Ok(MlockStep::Done);
    }
    let Some(vma) = mm.find_vma_intersection(cursor, end) else {
        return Ok(MlockStep::Done);
    };
    let (s, e, flags) = (vma.start.max(cursor), vma.end.min(end), vma.flags);
    if flags.contains(VM_LOCKONFAULT) {
        return Ok(MlockStep::Skip(e));
    }
    if !flags.is_accessible() {
        return Err(MmError::NoMemory);
    }
    let object = vma
        .backing()
        .cloned()
        .map(|b| (b, vma.pgoff + ((s - vma.start) >> PAGE_SHIFT)));
    Ok(MlockStep::Fill(PopulateVma {
        start: s,
        end: e,
        flags,
        object,
    }))
}

/// mlock's error for a population that failed: out of memory is EAGAIN, a page that cannot be
/// made (EFAULT in Linux's GUP) is ENOMEM (`__mlock_posix_error_return`).
pub fn mlock_populate_error(e: MmError) -> MmError {
    match e {
        MmError::NoMemory => MmError::Again,
        MmError::Fault => MmError::NoMemory,
        other => other,
    }
}
