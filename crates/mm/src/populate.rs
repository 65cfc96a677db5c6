//! Eager population of a range (Linux `mm_populate` / `__mm_populate` in mm/gup.c): used after brk
//! growth or mmap under mlockall(MCL_FUTURE), MAP_LOCKED and MAP_POPULATE.
use super::addr::PAGE_SHIFT;
use super::mm_struct::{MmStruct, PageTableOps};
use super::vma::VM_LOCKONFAULT;

/// A range the syscall asks its caller to populate once the mmap write lock is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PopulateRange {
    pub start: usize,
    pub len: usize,
}

/// Faults in every page of `[start, start + len)` VMA by VMA, ignoring errors like Linux
/// (`mm_populate` passes `ignore_errors`): a failure only skips the rest of that VMA. VMAs that are
/// PROT_NONE or VM_LOCKONFAULT are skipped, as `populate_vma_page_range` does.
///
/// Linux runs this under the mmap read lock after dropping the write lock, so another thread may
/// have changed the range in between; walking the tree afresh here keeps that behaviour.
pub fn mm_populate<P: PageTableOps>(mm: &mut MmStruct<P>, start: usize, len: usize) {
    let end = start.saturating_add(len);
    let mut cursor = start;
    while cursor < end {
        let Some(vma) = mm.find_vma_intersection(cursor, end) else {
            break;
        };
        let (vs, ve, flags) = (vma.start.max(cursor), vma.end.min(end), vma.flags);
        if flags.is_accessible() && !flags.contains(VM_LOCKONFAULT) {
            let _ = populate_in_vma(mm, vs, ve, flags);
        }
        cursor = ve;
    }
}

/// Populates `[start, end)`, which lies in one VMA whose flags are `flags`: from the VMA's
/// object when it has one (a shared or file mapping), else with anonymous pages.
pub(crate) fn populate_in_vma<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    end: usize,
    flags: crate::vma::VmFlags,
) -> Result<(), crate::error::MmError> {
    let backed = mm.find_vma(start).and_then(|v| {
        Some((
            v.backing.clone()?,
            v.pgoff + ((start - v.start) >> PAGE_SHIFT),
        ))
    });
    match backed {
        Some((b, first)) => mm.pt.populate_backed(start, end, flags, &*b.0, first),
        None => mm.pt.populate_range(start, end, flags),
    }
}

impl PopulateRange {
    /// Populates this range in `mm` (see [`mm_populate`]).
    pub fn run<P: PageTableOps>(self, mm: &mut MmStruct<P>) {
        mm_populate(mm, self.start, self.len);
    }
}
