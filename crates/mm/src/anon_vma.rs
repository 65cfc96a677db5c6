//! Linux's `anon_vma` as far as merging can tell (mm/rmap.c `anon_vma_prepare`,
//! `find_mergeable_anon_vma`; mm/mmap.c `is_mergeable_anon_vma`). tidemark's reverse map does not
//! need it, but /proc/self/maps shows its effect: two neighbours with the same flags stay apart
//! when their anon_vmas differ.
//!
//! - A private VMA gets one at its first anonymous page: a write fault, a transparent huge page,
//!   or a population that writes. It is reused from a neighbour that differs only in its
//!   protection, when that neighbour's chain is its anon_vma alone.
//! - It is set with the mmap lock held for writing: a fault that would set it takes the exclusive
//!   way, once per VMA, and a population has it set before the lock is dropped. (Linux sets it
//!   under the read lock and the page-table lock; a field that changes under a shared lock would
//!   have to be atomic, and would cost every VMA copy.)
//! - A split gives both pieces the same one.
//! - A fork gives each of the child's VMAs that had one a new one of its own, whose chain also
//!   holds the parent's: it is [`AnonVma::forked`].
//! - A range joins an existing neighbour when both have none, when it has none and the
//!   neighbour's chain is singular, or when both have the same one. A range with one never joins a
//!   neighbour without one.
use core::num::NonZeroU64;

use super::fault::FaultAccess;
use super::mm_struct::{MmStruct, PageTableOps};
use super::populate::PopulateRange;
use super::thp::{hugepage_vma_check, transhuge_vma_suitable};
use super::vma::{VmFlags, Vma, VM_ACCESS_FLAGS, VM_LOCKONFAULT, VM_MAYSHARE, VM_WRITE};

/// Which anon_vma a VMA has (an identity within its address space), and whether it came from a
/// fork, so that the VMA's `anon_vma_chain` also holds the parent's and is not singular. One
/// word: the identity, and the top bit for a fork.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AnonVma(NonZeroU64);

const FORKED: u64 = 1 << 63;

impl AnonVma {
    fn new(id: u64, forked: bool) -> Self {
        debug_assert!(id != 0 && id & FORKED == 0);
        Self(NonZeroU64::new(id | if forked { FORKED } else { 0 }).expect("non-zero"))
    }

    pub fn id(self) -> u64 {
        self.0.get() & !FORKED
    }

    pub fn forked(self) -> bool {
        self.0.get() & FORKED != 0
    }
}

impl core::fmt::Debug for AnonVma {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "AnonVma({}{})",
            self.id(),
            if self.forked() { ", forked" } else { "" }
        )
    }
}

/// Linux `is_mergeable_anon_vma(range, existing->anon_vma, existing)`: whether a range whose
/// anon_vma is `range` may join an existing neighbour whose anon_vma is `existing`.
#[inline]
pub fn anon_vma_mergeable(range: Option<AnonVma>, existing: Option<AnonVma>) -> bool {
    match (range, existing) {
        (None, None) => true,
        (None, Some(e)) => !e.forked(),
        (Some(r), Some(e)) => r.id() == e.id(),
        (Some(_), None) => false,
    }
}

/// Linux `is_mergeable_anon_vma(prev->anon_vma, next->anon_vma, NULL)`: whether a range that
/// joins both neighbours may make them one.
#[inline]
pub fn anon_vmas_joinable(prev: Option<AnonVma>, next: Option<AnonVma>) -> bool {
    match (prev, next) {
        (Some(p), Some(n)) => p.id() == n.id(),
        _ => true,
    }
}

/// Whether a fault of `access` at `addr`, in the VMA `bounds` with `flags`, makes an anonymous
/// page: a write to private memory, or any fault where a transparent huge page may go (Linux's
/// huge fault prepares the anon_vma before it maps the huge zero page for a read).
#[inline]
pub fn fault_makes_anon_pages(
    flags: VmFlags,
    thp_disabled: bool,
    access: FaultAccess,
    bounds: (usize, usize),
    addr: usize,
) -> bool {
    !flags.contains(VM_MAYSHARE)
        && (access == FaultAccess::Write
            || hugepage_vma_check(flags, thp_disabled)
                && transhuge_vma_suitable(bounds.0, bounds.1, addr).is_some())
}

/// Linux `anon_vma_compatible`: `a` just below `b`, the same object and offsets, and flags that
/// differ only in the access bits.
fn anon_vma_compatible(a: &Vma, b: &Vma) -> bool {
    a.end == b.start
        && a.same_file(b)
        && (a.flags.bits() ^ b.flags.bits()) & !VM_ACCESS_FLAGS.bits() == 0
        && b.pgoff == a.pgoff.wrapping_add(a.pages())
}

impl<P: PageTableOps> MmStruct<P> {
    /// A new anon_vma's identity.
    pub(crate) fn new_anon_vma(&mut self, forked: bool) -> AnonVma {
        // From 1, and never near bit 63: a new one a nanosecond would take centuries.
        self.anon_vma_ids += 1;
        AnonVma::new(self.anon_vma_ids, forked)
    }

    /// Linux `anon_vma_prepare` for the VMA that holds `addr`, if any: gives it an anon_vma
    /// unless it has one, reusing a neighbour's where `find_mergeable_anon_vma` would (the next
    /// one first).
    pub fn anon_vma_prepare_at(&mut self, addr: usize) {
        let Some(vma) = self.tree.find_vma(addr).filter(|v| v.start <= addr) else {
            return;
        };
        if vma.anon_vma.is_some() {
            return;
        }
        let reusable = |near: &Vma, a: &Vma, b: &Vma| {
            anon_vma_compatible(a, b)
                .then_some(near.anon_vma)
                .flatten()
                .filter(|x| !x.forked())
        };
        let start = vma.start;
        let found = self
            .tree
            .get(vma.end)
            .and_then(|next| reusable(next, vma, next))
            .or_else(|| {
                self.tree
                    .vma_ending_at(vma.start)
                    .and_then(|prev| reusable(prev, prev, vma))
            });
        let a = found.unwrap_or_else(|| self.new_anon_vma(false));
        self.tree.get_mut(start).expect("VMA vanished").anon_vma = Some(a);
    }

    /// The range a syscall asks its caller to populate once the mmap lock is dropped, with the
    /// anon_vmas that population needs given now: Linux's population writes to private writable
    /// memory (`FOLL_WRITE`), which prepares the VMA as any write fault does. (It also prepares
    /// where a read takes a huge zero page; tidemark gives huge pages to writable memory only,
    /// so that case is the same one.)
    pub(crate) fn populate_range(&mut self, start: usize, len: usize) -> PopulateRange {
        let end = start.saturating_add(len);
        let mut cursor = start;
        while let Some(v) = self.find_vma_intersection(cursor, end) {
            let (at, next) = (v.start.max(cursor), v.end);
            let populated = v.flags.is_accessible() && !v.flags.contains(VM_LOCKONFAULT);
            if populated && v.flags.contains(VM_WRITE) && !v.flags.contains(VM_MAYSHARE) {
                self.anon_vma_prepare_at(at);
            }
            cursor = next;
        }
        PopulateRange { start, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultAccess;
    use crate::fork::dup_mmap;
    use crate::mlock::{do_mlock, do_munlock, mlock_populate};
    use crate::mmap::do_mmap;
    use crate::mprotect::do_mprotect;
    use crate::tests::{bare_mm, fault, FakePt, Mm, P};
    use crate::vma::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE};

    const A: usize = 0x4000_0000;
    const RW: u32 = PROT_READ | PROT_WRITE;

    fn map(mm: &mut Mm, addr: usize, pages: usize, prot: u32) {
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        assert_eq!(
            do_mmap(mm, addr, pages * P, prot, flags).unwrap().addr,
            addr
        );
    }

    fn ids(mm: &Mm) -> alloc::vec::Vec<(usize, usize, Option<u64>)> {
        mm.vmas()
            .map(|v| (v.start, v.end, v.anon_vma.map(|a| a.id())))
            .collect()
    }

    #[test]
    fn the_merge_rule_is_linux_is_mergeable_anon_vma() {
        let a = |id, forked| Some(AnonVma::new(id, forked));
        assert!(anon_vma_mergeable(None, None));
        assert!(anon_vma_mergeable(None, a(1, false)));
        assert!(!anon_vma_mergeable(None, a(1, true)), "a forked chain");
        assert!(!anon_vma_mergeable(a(1, false), None));
        assert!(anon_vma_mergeable(a(1, false), a(1, false)));
        assert!(!anon_vma_mergeable(a(1, false), a(2, false)));
        assert!(anon_vmas_joinable(a(1, false), None) && anon_vmas_joinable(None, a(2, true)));
        assert!(!anon_vmas_joinable(a(1, false), a(2, false)));
    }

    #[test]
    fn a_write_fault_prepares_reusing_a_neighbour_that_differs_in_protection() {
        let mut mm = bare_mm();
        map(&mut mm, A, 2, RW);
        do_mprotect(&mut mm, A + P, P, RW | PROT_EXEC).unwrap();
        fault(&mut mm, A, FaultAccess::Read).unwrap();
        assert_eq!(
            ids(&mm),
            [(A, A + P, None), (A + P, A + 2 * P, None)],
            "a read"
        );
        fault(&mut mm, A + P, FaultAccess::Write).unwrap();
        fault(&mut mm, A, FaultAccess::Write).unwrap();
        let id = mm.tree.get(A + P).unwrap().anon_vma.unwrap().id();
        assert_eq!(
            ids(&mm),
            [(A, A + P, Some(id)), (A + P, A + 2 * P, Some(id))]
        );
        do_mprotect(&mut mm, A + P, P, RW).unwrap();
        assert_eq!(ids(&mm), [(A, A + 2 * P, Some(id))], "the same one: merged");
        mm.validate_mm().unwrap();
    }

    #[test]
    fn a_range_with_one_does_not_join_neighbours_without() {
        let mut mm = bare_mm();
        map(&mut mm, A, 3, RW);
        do_mprotect(&mut mm, A + P, P, PROT_READ).unwrap();
        do_mprotect(&mut mm, A + P, P, RW).unwrap();
        assert_eq!(ids(&mm), [(A, A + 3 * P, None)]);
        // mlock populates the middle page alone, which gets one; munlock leaves it apart.
        mm.rlimits.memlock.cur = usize::MAX;
        let r = do_mlock(&mut mm, A + P, P, 0).unwrap().unwrap();
        mlock_populate(&mut mm, r).unwrap();
        do_munlock(&mut mm, A + P, P).unwrap();
        assert_eq!(mm.map_count(), 3, "{:?}", ids(&mm));
        // A new mapping joins the untouched VMA before it; the middle one keeps its bounds.
        map(&mut mm, A + 3 * P, 1, RW);
        assert_eq!(mm.map_count(), 3);
        assert_eq!(mm.tree.get(A + P).unwrap().end, A + 2 * P);
        mm.validate_mm().unwrap();
    }

    #[test]
    fn a_child_has_its_own_forked_anon_vmas() {
        let mut mm = bare_mm();
        map(&mut mm, A, 4, RW);
        map(&mut mm, A + 8 * P, 1, RW);
        fault(&mut mm, A, FaultAccess::Write).unwrap();
        do_mprotect(&mut mm, A + 2 * P, P, PROT_READ).unwrap();
        let mut child = dup_mmap(&mm, FakePt::default());
        let parent = ids(&mm);
        let got = ids(&child);
        assert_eq!(got.len(), parent.len());
        assert_eq!(got[3].2, None, "untouched in the parent");
        let forked: alloc::vec::Vec<_> = child.vmas().filter_map(|v| v.anon_vma).collect();
        assert_eq!(forked.len(), 3);
        assert!(forked.iter().all(|a| a.forked()));
        assert!(forked[0].id() != forked[1].id() && forked[1].id() != forked[2].id());
        // The pieces of one parent VMA no longer share: they stay apart when made equal again.
        do_mprotect(&mut child, A + 2 * P, P, RW).unwrap();
        assert_eq!(child.map_count(), 4);
        // And a new mapping after one of them stays apart too.
        map(&mut child, A + 4 * P, 1, RW);
        assert_eq!(child.map_count(), 5);
        child.validate_mm().unwrap();
    }
}
