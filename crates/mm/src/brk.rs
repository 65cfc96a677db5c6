//! The program break (Linux 6.x `SYSCALL_DEFINE1(brk)`, `check_brk_limits`, `do_brk_flags`,
//! `check_data_rlimit`). See docs/conformance.md items 1–19 for the behaviour each step produces.
use super::addr::{page_align_up, PAGE_SHIFT, PAGE_SIZE};
use super::error::MmError;
use super::mm_struct::{MmStruct, PageTableOps, RLIM_INFINITY};
use super::mmap::{get_unmapped_area, vmi_align_munmap_deferred, DeferredUnmap};
use super::populate::PopulateRange;
use super::vma::{VmFlags, Vma, MAP_FIXED, VM_ACCOUNT, VM_DATA_DEFAULT_FLAGS, VM_LOCKED};
use super::vma_tree::vm_start_gap;

/// What `sys_brk` returns: the raw syscall's value (the new break, or the old one on any failure —
/// brk never returns -errno) and a range to populate after the mmap lock is dropped (mlockall(MCL_FUTURE)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrkResult {
    pub ret: usize,
    pub populate: Option<PopulateRange>,
}

/// RLIMIT_DATA check on the unaligned new break plus the data segment (Linux `check_data_rlimit`).
/// Done before alignment so that a non-page-aligned limit cannot be escaped by rounding.
pub fn check_data_rlimit(
    rlim: usize,
    new: usize,
    start: usize,
    end_data: usize,
    start_data: usize,
) -> Result<(), MmError> {
    if rlim < RLIM_INFINITY
        && new
            .wrapping_sub(start)
            .wrapping_add(end_data.wrapping_sub(start_data))
            > rlim
    {
        return Err(MmError::NoSpace);
    }
    Ok(())
}

/// Address-range and future-mlock checks for growing the heap by `len` at `addr`
/// (Linux `check_brk_limits`: `get_unmapped_area(MAP_FIXED)` then `mlock_future_ok`).
pub fn check_brk_limits<P: PageTableOps>(
    mm: &MmStruct<P>,
    addr: usize,
    len: usize,
) -> Result<(), MmError> {
    get_unmapped_area(mm, addr, len, MAP_FIXED)?;
    if mm.mlock_future_ok(mm.def_flags, len) {
        Ok(())
    } else {
        Err(MmError::Again)
    }
}

/// Maps `[addr, addr + len)` as heap, expanding `brkvma` in place when it ends at `addr` with the same
/// flags, else inserting a new VMA (Linux `do_brk_flags`). Never merges upward: `sys_brk` has already
/// made sure a page stays free below the next VMA.
pub fn do_brk_flags<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    brkvma: Option<usize>,
    addr: usize,
    len: usize,
    flags: VmFlags,
) -> Result<(), MmError> {
    let flags = flags | VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm.def_flags;
    let npages = len >> PAGE_SHIFT;
    if !mm.may_expand_vm(flags, npages) || mm.map_count() > mm.max_map_count {
        return Err(MmError::NoMemory);
    }
    mm.vm_enough_memory(npages)?;
    let candidate = Vma::new_anon(addr, addr + len, flags);
    // Expanding in place changes only the VMA's end, not its key: one lookup, no re-insertion.
    let expanded = match brkvma.and_then(|s| mm.tree.get_mut(s)) {
        // The new range has no anon_vma: it joins a heap whose chain is its own (not after a
        // fork).
        Some(v) if candidate.can_join_prev(v) => {
            v.end = addr + len;
            true
        }
        _ => false,
    };
    if expanded {
        mm.vm_stat_account(flags, npages as isize);
        if flags.contains(VM_LOCKED) {
            mm.stat.locked_vm += npages;
        }
    } else {
        mm.link_vma(candidate);
    }
    mm.debug_validate();
    Ok(())
}

/// brk(2), Linux 6.x semantics. Called with the mmap lock held for writing; if the result carries a
/// populate range, the caller drops the lock and then calls [`crate::populate::mm_populate`].
/// A shrink of [`DEFERRED_UNMAP_MIN`](crate::mmap::DEFERRED_UNMAP_MIN) or more leaves its
/// translations in `mm.pending_unmap` where the page tables defer (the kernel's: its caller
/// removes them after downgrading the lock, as Linux 6.1's brk does after `do_brk_munmap`), and
/// removes them here otherwise; either way the heap's VMA is already shorter.
///
/// Every failure restores and returns the break as it was on entry (`origbrk`).
///
/// Never inlined, so that a debugger can stop in it (`docs/debugging.md`).
#[inline(never)]
pub fn sys_brk<P: PageTableOps>(mm: &mut MmStruct<P>, brk: usize) -> BrkResult {
    let origbrk = mm.brk;
    match brk_locked(mm, brk) {
        Some(BrkDone::Grown(populate)) => BrkResult { ret: brk, populate },
        Some(BrkDone::Shrunk(unmap)) => {
            if let Some(d) = unmap {
                if P::DEFERS_UNMAPS {
                    mm.pending_unmap = Some(d);
                } else {
                    d.finish(&mut mm.pt);
                }
            }
            BrkResult {
                ret: brk,
                populate: None,
            }
        }
        None => {
            mm.brk = origbrk;
            BrkResult {
                ret: origbrk,
                populate: None,
            }
        }
    }
}

/// How a brk call that did not fail ended.
pub(crate) enum BrkDone<R> {
    /// Grown (or unchanged), with locked growth to populate.
    Grown(Option<PopulateRange>),
    /// Shrunk, perhaps with the translations of what went still to remove.
    Shrunk(Option<DeferredUnmap<R>>),
}

/// The body of `sys_brk`: `None` is Linux's `goto out`, `Some` its success paths.
pub(crate) fn brk_locked<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    brk: usize,
) -> Option<BrkDone<P::UnmapReserve>> {
    // No CONFIG_COMPAT_BRK: the floor is start_brk, wherever the loader put it.
    if brk < mm.start_brk {
        return None;
    }
    check_data_rlimit(
        mm.rlimits.data.cur,
        brk,
        mm.start_brk,
        mm.end_data,
        mm.start_data,
    )
    .ok()?;
    // Linux's PAGE_ALIGN wraps for brk near ~0 and then fails in check_brk_limits; fail directly.
    let newbrk = page_align_up(brk)?;
    let oldbrk = page_align_up(mm.brk)?;
    if oldbrk == newbrk {
        mm.brk = brk;
        return Some(BrkDone::Grown(None));
    }
    if brk <= mm.brk {
        // Shrink: there must be something to unmap in [newbrk, oldbrk) (6.x), and everything there
        // goes, including mappings the user placed inside the heap range.
        let first = mm
            .find_vma_intersection(newbrk, oldbrk)
            .map(|v| (v.start, v.end))?;
        mm.brk = brk;
        let unmap = vmi_align_munmap_deferred(mm, first, newbrk, oldbrk).ok()?;
        return Some(BrkDone::Shrunk(unmap));
    }
    check_brk_limits(mm, oldbrk, newbrk - oldbrk).ok()?;
    // One look at the tree around oldbrk: the next VMA (find_vma) and the heap below it.
    let (ending, next) = mm.tree.ending_at_and_next(oldbrk);
    // Keep one page, or the stack guard gap, free below the next VMA.
    if let Some(next) = next {
        if newbrk + PAGE_SIZE > vm_start_gap(next) {
            return None;
        }
    }
    // vma_prev_limit(start_brk): only a VMA reaching above start_brk can be the heap to expand.
    let brkvma = ending.filter(|v| v.end > mm.start_brk).map(|v| v.start);
    do_brk_flags(mm, brkvma, oldbrk, newbrk - oldbrk, VmFlags::empty()).ok()?;
    mm.brk = brk;
    let populate = mm
        .def_flags
        .contains(VM_LOCKED)
        .then(|| mm.populate_range(oldbrk, newbrk - oldbrk));
    Some(BrkDone::Grown(populate))
}
