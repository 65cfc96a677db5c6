//! TLB maintenance: the trait arch code implements, and the batching policy the portable code uses.
//!
//! All barriers go through [`TlbFlush`] so the portable page-table code contains no assembly. The
//! required ordering for a change to a live translation is (ARM ARM, "TLB maintenance" and
//! "Translation table entry changes"):
//!
//! 1. store the descriptor(s);
//! 2. [`TlbFlush::publish`] (`DSB ISHST`): the stores are visible to every table walker;
//! 3. `TLBI ...IS` ([`TlbFlush::flush_va`] / [`TlbFlush::flush_asid`] / [`TlbFlush::flush_all`]);
//! 4. [`TlbFlush::sync`] (`DSB ISH; ISB`): the invalidation has completed on all PEs and this PE
//!    refetches with the new translations.
use crate::addr::{VirtAddr, PAGE_SIZE};

/// Hardware TLB maintenance, inner-shareable broadcast.
pub trait TlbFlush {
    /// `DSB ISHST`: make prior descriptor stores visible to the table walkers (before any TLBI).
    fn publish(&self);
    /// Invalidate the translation of one VA: `TLBI VAE1IS` (or `VALE1IS` when `leaf_only`) with the
    /// ASID for non-global entries; `TLBI VAAE1IS` / `VAALE1IS` (all ASIDs) when `asid` is `None`.
    /// `leaf_only == false` also drops cached intermediate (walk-cache) entries; required whenever
    /// a table was unlinked.
    fn flush_va(&self, asid: Option<u16>, va: VirtAddr, leaf_only: bool);
    /// `TLBI ASIDE1IS`: every non-global entry of `asid`.
    fn flush_asid(&self, asid: u16);
    /// `TLBI VMALLE1IS`: everything at EL1&0 for the current VMID.
    fn flush_all(&self);
    /// `DSB ISH; ISB`: wait for preceding TLBIs (and descriptor stores) to complete everywhere and
    /// resynchronise this PE's context.
    fn sync(&self);
}

/// Above this many per-VA invalidations it is cheaper to drop the whole ASID (Linux's
/// `MAX_DVM_OPS`, equal to `PTRS_PER_PTE`): a range needing `>= MAX_DVM_OPS` TLBIs is flushed
/// with one `TLBI ASIDE1IS` (or `VMALLE1IS` for global mappings), as `__flush_tlb_range` does.
pub const MAX_DVM_OPS: usize = 512;

/// Accumulates the invalidations one page-table operation needs (Linux's `mmu_gather` range
/// tracking) so they are issued once, between a single publish/sync barrier pair.
///
/// It tracks one covering range like Linux does, plus the smallest leaf size seen as the stride:
/// invalidating any VA inside a block invalidates the block, so a range of 2 MiB blocks needs one
/// TLBI per block, not per page.
#[derive(Debug)]
pub struct TlbBatch {
    asid: Option<u16>,
    start: usize,
    /// Inclusive, so a range ending at the top of the address space does not overflow.
    last: usize,
    stride_shift: u32,
    freed_tables: bool,
    pending: bool,
}

impl TlbBatch {
    /// `asid`: `Some` for a non-global (user) address space, `None` for global kernel mappings.
    pub const fn new(asid: Option<u16>) -> Self {
        TlbBatch {
            asid,
            start: usize::MAX,
            last: 0,
            stride_shift: u32::MAX,
            freed_tables: false,
            pending: false,
        }
    }

    /// Records that the leaf of `size` bytes (a power of two) at `va` changed or went away.
    pub fn add(&mut self, va: VirtAddr, size: usize) {
        debug_assert!(size.is_power_of_two() && va.is_aligned(size));
        self.start = self.start.min(va.as_usize());
        self.last = self.last.max(va.as_usize() + (size - 1));
        self.stride_shift = self.stride_shift.min(size.trailing_zeros());
        self.pending = true;
    }

    /// Adds the `n` pages from `va` (some of which may have been left as they were: the batch
    /// is one range anyway), for a run of pages cleared in one table.
    pub fn add_pages(&mut self, va: VirtAddr, n: usize) {
        debug_assert!(n > 0);
        self.add(va, PAGE_SIZE);
        self.last = self.last.max(va.as_usize() + (n * PAGE_SIZE - 1));
    }

    /// Records that the table translating the naturally aligned `span` bytes around `va` was
    /// unlinked, so walk caches must be invalidated too (non-leaf TLBIs at a VA inside the span).
    /// Usually the leaves just cleared from that table already put a TLBI inside it (the stride is
    /// at most their size, which is below `span`); otherwise `va` is added as a page.
    pub fn note_freed_table(&mut self, va: VirtAddr, span: usize) {
        if !(self.covers(va) && 1usize << self.stride_shift <= span) {
            self.add(va.align_down(PAGE_SIZE), PAGE_SIZE);
        }
        self.freed_tables = true;
    }

    pub fn is_empty(&self) -> bool {
        !self.pending
    }

    /// Whether `va` may still have a stale TLB entry that this batch has not flushed yet.
    pub fn covers(&self, va: VirtAddr) -> bool {
        self.pending && (self.start..=self.last).contains(&va.as_usize())
    }

    /// Issues the accumulated invalidations between one publish/sync pair and resets the batch.
    /// With nothing pending only `publish` is issued, which is still needed to make new entries
    /// visible to the walkers.
    pub fn flush<F: TlbFlush + ?Sized>(&mut self, tlb: &F) {
        tlb.publish();
        if !self.pending {
            return;
        }
        let ops = ((self.last - self.start) >> self.stride_shift) + 1;
        if ops >= MAX_DVM_OPS {
            match self.asid {
                Some(asid) => tlb.flush_asid(asid),
                None => tlb.flush_all(),
            }
        } else {
            for i in 0..ops {
                let va = VirtAddr::new(self.start + (i << self.stride_shift));
                tlb.flush_va(self.asid, va, !self.freed_tables);
            }
        }
        tlb.sync();
        *self = TlbBatch::new(self.asid);
    }
}

#[cfg(test)]
pub mod fake {
    //! A [`TlbFlush`] that records what it was asked to do.
    use super::TlbFlush;
    use crate::addr::VirtAddr;
    use std::sync::Mutex;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TlbOp {
        Publish,
        Va {
            asid: Option<u16>,
            va: usize,
            leaf_only: bool,
        },
        Asid(u16),
        All,
        Sync,
    }

    #[derive(Default)]
    pub struct RecordingTlb {
        ops: Mutex<Vec<TlbOp>>,
    }

    impl RecordingTlb {
        pub fn new() -> Self {
            Self::default()
        }
        /// Returns and forgets everything recorded so far.
        pub fn take(&self) -> Vec<TlbOp> {
            core::mem::take(&mut *self.ops.lock().unwrap())
        }
        fn push(&self, op: TlbOp) {
            self.ops.lock().unwrap().push(op);
        }
    }

    impl TlbFlush for RecordingTlb {
        fn publish(&self) {
            self.push(TlbOp::Publish)
        }
        fn flush_va(&self, asid: Option<u16>, va: VirtAddr, leaf_only: bool) {
            self.push(TlbOp::Va {
                asid,
                va: va.as_usize(),
                leaf_only,
            })
        }
        fn flush_asid(&self, asid: u16) {
            self.push(TlbOp::Asid(asid))
        }
        fn flush_all(&self) {
            self.push(TlbOp::All)
        }
        fn sync(&self) {
            self.push(TlbOp::Sync)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{RecordingTlb, TlbOp};
    use super::*;

    #[test]
    fn small_range_is_per_page() {
        let tlb = RecordingTlb::new();
        let mut b = TlbBatch::new(Some(7));
        b.add(VirtAddr::new(0x3000), 0x1000);
        b.add(VirtAddr::new(0x1000), 0x1000);
        assert!(b.covers(VirtAddr::new(0x2000)) && !b.covers(VirtAddr::new(0x4000)));
        b.flush(&tlb);
        let va = |va| TlbOp::Va {
            asid: Some(7),
            va,
            leaf_only: true,
        };
        assert_eq!(
            tlb.take(),
            [
                TlbOp::Publish,
                va(0x1000),
                va(0x2000),
                va(0x3000),
                TlbOp::Sync
            ]
        );
        assert!(b.is_empty());
        b.flush(&tlb);
        assert_eq!(tlb.take(), [TlbOp::Publish]);
    }

    #[test]
    fn threshold_switches_to_asid_or_all() {
        let tlb = RecordingTlb::new();
        let mut b = TlbBatch::new(Some(3));
        b.add(VirtAddr::new(0), 0x1000);
        b.add(VirtAddr::new(510 * 0x1000), 0x1000);
        b.flush(&tlb);
        assert_eq!(tlb.take().len(), 511 + 2);
        b.add(VirtAddr::new(0), 0x1000);
        b.add(VirtAddr::new(511 * 0x1000), 0x1000);
        b.flush(&tlb);
        assert_eq!(tlb.take(), [TlbOp::Publish, TlbOp::Asid(3), TlbOp::Sync]);
        let mut k = TlbBatch::new(None);
        k.add(VirtAddr::new(usize::MAX - 0x3f_ffff), 0x20_0000);
        k.add(VirtAddr::new(usize::MAX - 0x1f_ffff), 0x20_0000);
        k.note_freed_table(VirtAddr::new(usize::MAX - 0x1f_ffff), 1 << 30);
        k.flush(&tlb);
        let va = |va| TlbOp::Va {
            asid: None,
            va,
            leaf_only: false,
        };
        assert_eq!(
            tlb.take(),
            [
                TlbOp::Publish,
                va(usize::MAX - 0x3f_ffff),
                va(usize::MAX - 0x1f_ffff),
                TlbOp::Sync
            ]
        );
        k.add(VirtAddr::new(0), 1 << 30);
        k.add(VirtAddr::new(0x1000), 0x1000);
        k.flush(&tlb);
        assert_eq!(tlb.take(), [TlbOp::Publish, TlbOp::All, TlbOp::Sync]);
    }
}
