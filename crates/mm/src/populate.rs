//! Eager population of a range (Linux `mm_populate` / `__mm_populate` in mm/gup.c): used after brk
//! growth or mmap under mlockall(MCL_FUTURE), MAP_LOCKED and MAP_POPULATE.
use super::addr::PAGE_SHIFT;
use super::mm_struct::{MmStruct, PageTableOps};
use super::object::Backing;
use super::vma::{VmFlags, VM_LOCKONFAULT};

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
/// have changed the range in between; walking the tree afresh here keeps that behaviour. The
/// kernel does the same under its shared lock with [`for_each_populate_range`].
pub fn mm_populate<P: PageTableOps>(mm: &mut MmStruct<P>, start: usize, len: usize) {
    let mut ranges = alloc::vec::Vec::new();
    for_each_populate_range(mm, start, len, |r| ranges.push(r));
    for r in ranges {
        let _ = r.fill(&mut mm.pt, r.start, r.end);
    }
}

/// One VMA's part of a range to populate: its bounds, the VMA's flags, and its object with the
/// object's page at `start` when it has one.
pub struct PopulateVma {
    pub start: usize,
    pub end: usize,
    pub flags: VmFlags,
    pub object: Option<(Backing, usize)>,
}

impl PopulateVma {
    /// Populates `[start, end)`, a part of this one: from the VMA's object when it has one (a
    /// shared or file mapping), else with anonymous pages.
    pub fn fill<T: PageTableOps + ?Sized>(
        &self,
        pt: &mut T,
        start: usize,
        end: usize,
    ) -> Result<(), crate::error::MmError> {
        match &self.object {
            Some((b, first)) => {
                let index = first + ((start - self.start) >> PAGE_SHIFT);
                pt.populate_backed(start, end, self.flags, &*b.0, index)
            }
            None => pt.populate_range(start, end, self.flags),
        }
    }
}

/// The VMAs' parts of `[start, start + len)` that [`mm_populate`] fills, looked up afresh, for a
/// caller that holds the mmap lock shared and fills them under the page tables' own lock.
pub fn for_each_populate_range<P: PageTableOps>(
    mm: &MmStruct<P>,
    start: usize,
    len: usize,
    mut f: impl FnMut(PopulateVma),
) {
    let end = start.saturating_add(len);
    let mut cursor = start;
    while cursor < end {
        let Some(vma) = mm.find_vma_intersection(cursor, end) else {
            break;
        };
        let (vs, ve, flags) = (vma.start.max(cursor), vma.end.min(end), vma.flags);
        if flags.is_accessible() && !flags.contains(VM_LOCKONFAULT) {
            let object = vma
                .backing()
                .cloned()
                .map(|b| (b, vma.pgoff + ((vs - vma.start) >> PAGE_SHIFT)));
            f(PopulateVma {
                start: vs,
                end: ve,
                flags,
                object,
            });
        }
        cursor = ve;
    }
}

/// Populates `[start, end)`, which lies in one VMA whose flags are `flags` (see
/// [`PopulateVma::fill`]).
pub(crate) fn populate_in_vma<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    end: usize,
    flags: VmFlags,
) -> Result<(), crate::error::MmError> {
    mm.populate_range(start, end - start);
    let object = mm.find_vma(start).and_then(|v| {
        Some((
            v.backing()?.clone(),
            v.pgoff + ((start - v.start) >> PAGE_SHIFT),
        ))
    });
    PopulateVma {
        start,
        end,
        flags,
        object,
    }
    .fill(&mut mm.pt, start, end)
}

impl PopulateRange {
    /// Populates this range in `mm` (see [`mm_populate`]).
    pub fn run<P: PageTableOps>(self, mm: &mut MmStruct<P>) {
        mm_populate(mm, self.start, self.len);
    }
}
