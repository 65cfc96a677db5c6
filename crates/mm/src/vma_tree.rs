//! The ordered set of an address space's VMAs, keyed by start address (Linux: the maple tree).
//!
//! A `BTreeMap` gives O(log n) `find_vma`; the tree itself does not check for overlap — callers
//! (mmap.rs, brk.rs) keep VMAs disjoint and `MmStruct::validate_mm` verifies it.
use alloc::collections::BTreeMap;
use core::ops::Bound::{Excluded, Unbounded};
use core::ptr::NonNull;

use super::addr::PAGE_SIZE;
use super::vma::{Vma, VM_GROWSDOWN};

/// Linux `stack_guard_gap`: 256 pages kept free below a VM_GROWSDOWN VMA (Stack Clash fix).
pub const STACK_GUARD_GAP: usize = 256 * PAGE_SIZE;

/// Lowest address a VMA's neighbours must keep clear of (Linux `vm_start_gap`): its start, minus the
/// guard gap for stacks, saturating at 0.
pub fn vm_start_gap(vma: &Vma) -> usize {
    if vma.flags.contains(VM_GROWSDOWN) {
        vma.start.saturating_sub(STACK_GUARD_GAP)
    } else {
        vma.start
    }
}

/// Linux `vm_end_gap`: only upward-growing stacks (not on arm64) have a gap above them.
pub fn vm_end_gap(vma: &Vma) -> usize {
    vma.end
}

/// The VMAs, plus the last one a fault or an in-place change went to (Linux's per-thread
/// `vmacache` of 3.15–5.18, one entry): faults come in runs in one VMA and brk works on the heap
/// over and over, and a hit is a bounds check instead of a search from the root.
///
/// `hint` points into a node of `map`. Nodes move or go only when the tree's shape changes
/// (`insert`, `remove`, `clear`), which all reset it; values stay put under `get_mut`, whose
/// callers never change a VMA's `start` (its key). The pointer is only ever taken from a `&mut`
/// borrow of the value, so writing through it in `get_mut` is allowed; `&self` lookups only read
/// through it.
#[derive(Debug)]
pub struct VmaTree {
    map: BTreeMap<usize, Vma>,
    hint: Option<NonNull<Vma>>,
    /// The VMA after the hinted one once a search found it (`Some(None)`: there is none), so
    /// that brk, which grows the heap towards it call after call, looks it up once. Reset with
    /// the hint; a change to the hinted VMA through `get_mut` keeps it (VMAs stay disjoint, so
    /// the next one stays next).
    hint_next: Option<Option<NonNull<Vma>>>,
    /// Changes made so far (from 1): whoever remembers a VMA's bounds and flags from a lookup
    /// may use them while this is unchanged (the fault path's [`FaultHint`](crate::fault::FaultHint)).
    seq: u64,
}

impl Default for VmaTree {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `hint` points into `map`, which the tree owns; it is used only with the borrow of the
// whole tree that the method holds (`&self` reads, `&mut self` writes), like the map's own node
// pointers.
unsafe impl Send for VmaTree {}
// SAFETY: as above; `&self` methods only read through `hint`.
unsafe impl Sync for VmaTree {}

impl Clone for VmaTree {
    fn clone(&self) -> Self {
        VmaTree {
            map: self.map.clone(),
            hint: None,
            hint_next: None,
            seq: 1,
        }
    }
}

impl VmaTree {
    pub const fn new() -> Self {
        VmaTree {
            map: BTreeMap::new(),
            hint: None,
            hint_next: None,
            seq: 1,
        }
    }

    /// The tree's change count: it moves whenever a VMA may have been added, removed or changed.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The hinted VMA, if any.
    #[inline]
    fn hinted(&self) -> Option<&Vma> {
        // SAFETY: `hint` is reset whenever the map's nodes may move (see the type's notes), so
        // it points at a live value of `map`; `&self` keeps the map from changing meanwhile.
        self.hint.map(|p| unsafe { &*p.as_ptr() })
    }

    /// [`find_vma`](Self::find_vma) for the fault path, which holds the tree mutably: the
    /// containing VMA becomes the hint, so that the next fault in it skips the search.
    #[inline]
    pub fn find_vma_hinted(&mut self, addr: usize) -> Option<&Vma> {
        if let Some(v) = self.hinted() {
            if v.start <= addr && addr < v.end {
                return self.hinted();
            }
        }
        self.find_vma_and_hint(addr)
    }

    /// The search of [`find_vma_hinted`](Self::find_vma_hinted) after a miss.
    #[inline(never)]
    fn find_vma_and_hint(&mut self, addr: usize) -> Option<&Vma> {
        let found = match self.map.range_mut(..=addr).next_back() {
            Some((_, v)) if v.end > addr => Some(NonNull::from(v)),
            _ => None,
        };
        if found.is_some() {
            // The pointer was made from a unique borrow of the value (see the type's notes).
            self.hint = found;
            self.hint_next = None;
            return self.hinted();
        }
        self.find_vma(addr)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma> {
        self.map.values()
    }

    /// The first VMA with `end > addr`: the one containing `addr`, or the next above it (Linux `find_vma`).
    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        if let Some(v) = self.hinted() {
            if v.start <= addr && addr < v.end {
                debug_assert!(core::ptr::eq(self.search_vma(addr).unwrap(), v));
                return Some(v);
            }
        }
        self.search_vma(addr)
    }

    /// `find_vma` by a search from the root.
    fn search_vma(&self, addr: usize) -> Option<&Vma> {
        if let Some((_, v)) = self.map.range(..=addr).next_back() {
            if v.end > addr {
                return Some(v);
            }
        }
        self.map
            .range((Excluded(addr), Unbounded))
            .next()
            .map(|(_, v)| v)
    }

    /// `find_vma(addr)` and the VMA just before it (the last VMA when nothing lies at or above `addr`)
    /// (Linux `find_vma_prev`).
    pub fn find_vma_prev(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        let vma = self.find_vma(addr);
        let prev = match vma {
            Some(v) => self.map.range(..v.start).next_back().map(|(_, p)| p),
            None => self.map.values().next_back(),
        };
        (vma, prev)
    }

    /// The first VMA overlapping `[start, end)` (Linux `find_vma_intersection`).
    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&Vma> {
        self.find_vma(start).filter(|v| v.start < end)
    }

    /// The VMA that ends exactly at `addr`, if any.
    pub fn vma_ending_at(&self, addr: usize) -> Option<&Vma> {
        self.map
            .range(..addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.end == addr)
    }

    /// `(vma_ending_at(addr), find_vma(addr))` in two tree searches instead of three or four: the
    /// VMA that ends exactly at `addr`, and the first VMA with `end > addr`. When the hinted VMA
    /// ends at `addr` (the heap at the break) it needs no search, and the next one is searched
    /// for once per hint.
    pub fn ending_at_and_next(&mut self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        let ends_here = self.hinted().is_some_and(|v| v.end == addr);
        if ends_here && self.hint_next.is_none() {
            self.hint_next = Some(self.map.range(addr..).next().map(|(_, v)| NonNull::from(v)));
        }
        let hinted = self.hinted().and_then(|v| {
            if v.end == addr {
                // SAFETY: `hint_next` points at a live value of `map` like `hint` (it is reset
                // with it), and `&self` keeps the map from changing meanwhile.
                let next = self.hint_next.flatten().map(|p| unsafe { &*p.as_ptr() });
                Some((Some(v), next))
            } else if v.start < addr && addr < v.end {
                Some((None, Some(v)))
            } else {
                None
            }
        });
        match hinted {
            Some(r) => {
                debug_assert!({
                    let s = self.search_ending_at_and_next(addr);
                    let same = |a: Option<&Vma>, b: Option<&Vma>| match (a, b) {
                        (Some(a), Some(b)) => core::ptr::eq(a, b),
                        (a, b) => a.is_none() && b.is_none(),
                    };
                    same(r.0, s.0) && same(r.1, s.1)
                });
                r
            }
            None => self.search_ending_at_and_next(addr),
        }
    }

    /// `ending_at_and_next` by searches from the root.
    fn search_ending_at_and_next(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        let below = self.map.range(..addr).next_back().map(|(_, v)| v);
        match below {
            Some(v) if v.end > addr => (None, Some(v)),
            _ => (
                below.filter(|v| v.end == addr),
                self.map.range(addr..).next().map(|(_, v)| v),
            ),
        }
    }

    /// The VMA just below the one starting at `start` (Linux `vma_prev`).
    pub fn prev_vma(&self, start: usize) -> Option<&Vma> {
        self.map.range(..start).next_back().map(|(_, v)| v)
    }

    /// VMAs overlapping `[start, end)` in address order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &Vma> {
        let first = self.find_vma(start).map(|v| v.start).unwrap_or(usize::MAX);
        self.map
            .range(first..)
            .map(|(_, v)| v)
            .take_while(move |v| v.start < end)
    }

    /// The VMA starting at `start`.
    pub fn get(&self, start: usize) -> Option<&Vma> {
        self.map.get(&start)
    }

    /// Mutable access to the VMA starting at `start`; its `start` must not be changed through it
    /// (use [`VmaTree::remove`] + [`VmaTree::insert`]).
    /// The VMA becomes the hint.
    pub fn get_mut(&mut self, start: usize) -> Option<&mut Vma> {
        self.seq += 1;
        if let Some(p) = self.hint {
            // SAFETY: see `hinted`; the hint was taken from a unique borrow of the value and
            // `&mut self` makes this the only access.
            if unsafe { (*p.as_ptr()).start } == start {
                debug_assert!(self
                    .map
                    .get(&start)
                    .is_some_and(|w| core::ptr::eq(w, p.as_ptr())));
                // SAFETY: as above.
                return Some(unsafe { &mut *p.as_ptr() });
            }
        }
        let v = self.map.get_mut(&start)?;
        let p = NonNull::from(v);
        self.hint = Some(p);
        self.hint_next = None;
        // SAFETY: `p` was just made from a unique borrow of the value.
        Some(unsafe { &mut *p.as_ptr() })
    }

    pub fn insert(&mut self, vma: Vma) {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        let old = self.map.insert(vma.start, vma);
        debug_assert!(old.is_none(), "two VMAs at one start address");
    }

    pub fn remove(&mut self, start: usize) -> Option<Vma> {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        self.map.remove(&start)
    }

    pub fn clear(&mut self) {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vma::{VM_READ, VM_WRITE};

    fn tree(ranges: &[(usize, usize)]) -> VmaTree {
        let mut t = VmaTree::new();
        for &(s, e) in ranges {
            t.insert(Vma::new_anon(
                s * PAGE_SIZE,
                e * PAGE_SIZE,
                VM_READ | VM_WRITE,
            ));
        }
        t
    }

    #[test]
    fn find_vma_returns_containing_or_next() {
        let t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        assert_eq!(t.find_vma(0).unwrap().start, 10 * p);
        assert_eq!(t.find_vma(15 * p).unwrap().start, 10 * p);
        assert_eq!(t.find_vma(20 * p).unwrap().start, 30 * p);
        assert_eq!(t.find_vma(20 * p - 1).unwrap().start, 10 * p);
        assert!(t.find_vma(40 * p).is_none());
    }

    #[test]
    fn find_vma_prev_and_intersection() {
        let mut t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        let (v, prev) = t.find_vma_prev(25 * p);
        assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * p, 10 * p));
        let (v, prev) = t.find_vma_prev(35 * p);
        assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * p, 10 * p));
        let (v, prev) = t.find_vma_prev(50 * p);
        assert!(v.is_none());
        assert_eq!(prev.unwrap().start, 30 * p);
        assert!(t.find_vma_intersection(20 * p, 30 * p).is_none());
        assert_eq!(
            t.find_vma_intersection(20 * p, 31 * p).unwrap().start,
            30 * p
        );
        assert_eq!(t.range(15 * p, 35 * p).count(), 2);
        assert_eq!(t.vma_ending_at(20 * p).unwrap().start, 10 * p);
        assert!(t.vma_ending_at(19 * p).is_none());
        for a in [0, 5, 10, 15, 19, 20, 25, 30, 35, 40, 45] {
            let want = (
                t.vma_ending_at(a * p).map(|v| v.start),
                t.find_vma(a * p).map(|v| v.start),
            );
            let (ending, next) = t.ending_at_and_next(a * p);
            assert_eq!((ending.map(|v| v.start), next.map(|v| v.start)), want);
        }
    }

    /// brk's pattern: the heap is the hint, grows and shrinks through `get_mut`, and its
    /// successor is found once; a VMA put in between is seen.
    #[test]
    fn ending_at_and_next_keeps_the_successor_of_the_hint() {
        let mut t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        let starts = |t: &mut VmaTree, a: usize| {
            let (e, n) = t.ending_at_and_next(a * p);
            (e.map(|v| v.start / p), n.map(|v| v.start / p))
        };
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 20), (Some(10), Some(30)));
        t.get_mut(10 * p).unwrap().end = 25 * p;
        assert_eq!(starts(&mut t, 25), (Some(10), Some(30)));
        t.get_mut(10 * p).unwrap().end = 12 * p;
        assert_eq!(starts(&mut t, 12), (Some(10), Some(30)));
        t.insert(Vma::new_anon(20 * p, 22 * p, VM_READ | VM_WRITE));
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 12), (Some(10), Some(20)));
        t.get_mut(30 * p).unwrap();
        assert_eq!(starts(&mut t, 40), (Some(30), None));
        t.remove(20 * p);
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 12), (Some(10), Some(30)));
    }

    #[test]
    fn start_gap_of_stack_saturates() {
        let mut v = Vma::new_anon(PAGE_SIZE, 2 * PAGE_SIZE, VM_GROWSDOWN);
        assert_eq!(vm_start_gap(&v), 0);
        v.start = 1 << 30;
        assert_eq!(vm_start_gap(&v), (1 << 30) - STACK_GUARD_GAP);
        assert_eq!(vm_end_gap(&v), v.end);
    }
}
