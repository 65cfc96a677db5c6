//! Host tests of the page-table driver against simulated RAM.
use super::*;
use crate::phys::sim::SimRam;
use crate::tlb::fake::{RecordingTlb, TlbOp};

pub(super) const G: usize = L1_BLOCK_SIZE;
pub(super) const M2: usize = L2_BLOCK_SIZE;
pub(super) const P: usize = PAGE_SIZE;
/// Output addresses outside SimRam: borrowed (unowned) memory such as MMIO or the linear map.
pub(super) const FAR_PA: usize = 0x80_0000_0000;

pub(super) fn va(v: usize) -> VirtAddr {
    VirtAddr::new(v)
}
pub(super) fn pa(p: usize) -> PhysAddr {
    PhysAddr::new(p)
}

pub(super) fn user(ram: &SimRam) -> PageTable<&SimRam> {
    PageTable::new_user(ram, 5).unwrap()
}

pub(super) fn is_va(op: &TlbOp) -> bool {
    matches!(op, TlbOp::Va { .. })
}

#[test]
fn map_translate_unmap_pages() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    assert_eq!(ram.allocated_frames(), 1);
    pt.map(
        va(0x40_0000),
        pa(FAR_PA),
        3 * P,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    let t = pt.translate(va(0x40_1234)).unwrap();
    assert_eq!(
        t,
        Translation {
            pa: pa(FAR_PA + 0x1234),
            attrs: Attrs::user_rw(),
            level: 3
        }
    );
    assert_eq!(pt.translate(va(0x40_3000)), None);
    assert_eq!(pt.translate(va(0x3f_f000)), None);
    // Root + L1 + L2 + L3.
    assert_eq!((ram.allocated_frames(), pt.table_frames()), (4, 4));
    // Only invalid -> valid: barriers, no TLBI.
    assert!(!tlb.take().iter().any(is_va));
    assert_eq!(pt.unmap(va(0x40_0000), 3 * P, &tlb).unwrap(), 3);
    assert_eq!(pt.translate(va(0x40_0000)), None);
    assert_eq!(ram.allocated_frames(), 1, "empty tables are freed");
    drop(pt);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn blocks_where_aligned() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let len = G + M2 + P;
    pt.map(va(G), pa(FAR_PA), len, Attrs::user_ro(), MapSize::Any, &tlb)
        .unwrap();
    let level = |v| pt.translate(va(v)).unwrap().level;
    assert_eq!((level(G), level(2 * G), level(2 * G + M2)), (1, 2, 3));
    let sizes: Vec<_> = pt
        .iter()
        .map(|m| (m.va.as_usize(), m.pa.as_usize(), m.size))
        .collect();
    assert_eq!(
        sizes,
        [
            (G, FAR_PA, G),
            (2 * G, FAR_PA + G, M2),
            (2 * G + M2, FAR_PA + G + M2, P)
        ]
    );

    // PA only page aligned: pages everywhere even though the VA is block aligned.
    let mut pt2 = user(&ram);
    pt2.map(
        va(G),
        pa(FAR_PA + P),
        M2 + P,
        Attrs::user_ro(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    assert_eq!(pt2.iter().count(), 513);
    assert!(pt2.iter().all(|m| m.size == P));
    // PagesOnly.
    let mut pt3 = user(&ram);
    pt3.map(
        va(G),
        pa(FAR_PA),
        M2,
        Attrs::user_ro(),
        MapSize::PagesOnly,
        &tlb,
    )
    .unwrap();
    assert_eq!(pt3.translate(va(G + 5 * P)).unwrap().level, 3);
    assert_eq!(pt3.iter().count(), 512);
}

#[test]
fn partial_unmap_splits_block_and_keeps_rest() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(va(G), pa(FAR_PA), G, Attrs::user_rw(), MapSize::Any, &tlb)
        .unwrap();
    assert_eq!(pt.table_frames(), 2);
    tlb.take();
    // One page in the middle of the 1 GiB block: L1 block -> L2 table -> L3 table.
    let hole = G + 3 * M2 + 7 * P;
    assert_eq!(pt.unmap(va(hole), P, &tlb).unwrap(), 1);
    assert_eq!(pt.table_frames(), 4);
    assert_eq!(
        ram.allocated_frames(),
        4,
        "unused reserved split tables are returned"
    );
    assert_eq!(pt.translate(va(hole)), None);
    let t = |v: usize| pt.translate(va(v)).unwrap();
    assert_eq!(
        (t(hole - P).pa, t(hole - P).level),
        (pa(FAR_PA + hole - G - P), 3)
    );
    assert_eq!(
        (t(hole + P).pa, t(hole + P).level),
        (pa(FAR_PA + hole - G + P), 3)
    );
    assert_eq!((t(G).pa, t(G).level), (pa(FAR_PA), 2));
    assert_eq!(
        (t(2 * G - P).pa, t(2 * G - P).level),
        (pa(FAR_PA + G - P), 2)
    );
    assert_eq!(t(G + 3 * M2).attrs, Attrs::user_rw());
    assert_eq!(pt.iter().map(|m| m.size).sum::<usize>(), G - P);
    // Each split is a break-before-make: invalidate the block, flush it, then link the table.
    let ops = tlb.take();
    let bbm1 = [
        TlbOp::Publish,
        TlbOp::Va {
            asid: Some(5),
            va: G,
            leaf_only: true,
        },
        TlbOp::Sync,
    ];
    assert!(ops.windows(3).any(|w| w == bbm1), "{ops:?}");
    let bbm2 = [
        TlbOp::Publish,
        TlbOp::Va {
            asid: Some(5),
            va: G + 3 * M2,
            leaf_only: true,
        },
        TlbOp::Sync,
    ];
    assert!(ops.windows(3).any(|w| w == bbm2), "{ops:?}");
    let tail = [
        TlbOp::Publish,
        TlbOp::Va {
            asid: Some(5),
            va: hole,
            leaf_only: true,
        },
        TlbOp::Sync,
    ];
    assert!(ops.ends_with(&tail), "{ops:?}");
    // Unmapping the rest frees every table again.
    assert_eq!(pt.unmap(va(G), G, &tlb).unwrap(), G / P - 1);
    assert_eq!(ram.allocated_frames(), 1);
}

#[test]
fn partial_protect_splits_block() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(va(M2), pa(FAR_PA), M2, Attrs::user_rw(), MapSize::Any, &tlb)
        .unwrap();
    pt.protect(va(M2 + 4 * P), 2 * P, Attrs::user_ro(), &tlb)
        .unwrap();
    let t = |v: usize| pt.translate(va(v)).unwrap();
    assert_eq!(
        (t(M2 + 4 * P).attrs, t(M2 + 4 * P).pa),
        (Attrs::user_ro(), pa(FAR_PA + 4 * P))
    );
    assert_eq!(t(M2 + 5 * P).attrs, Attrs::user_ro());
    assert_eq!(
        (t(M2 + 6 * P).attrs, t(M2 + 6 * P).level),
        (Attrs::user_rw(), 3)
    );
    assert_eq!(t(M2 + 3 * P).attrs, Attrs::user_rw());
    // Protecting to the attributes a block already has neither splits nor allocates.
    pt.map(
        va(2 * M2),
        pa(FAR_PA + M2),
        M2,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    let frames = ram.allocated_frames();
    tlb.take();
    pt.protect(va(2 * M2 + P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    let level = pt.translate(va(2 * M2)).unwrap().level;
    assert_eq!((ram.allocated_frames(), level), (frames, 2));
    assert_eq!(tlb.take(), [], "nothing changed, nothing written");
}

#[test]
fn owned_frames_are_freed_unowned_are_not() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let borrowed = ram.alloc_frames(0).unwrap();
    let pages: Vec<_> = (0..3).map(|_| ram.alloc_frames(0).unwrap()).collect();
    pt.map_pages(
        va(0x1000_0000),
        &pages,
        Attrs::user_rw().with_owned(true),
        &tlb,
    )
    .unwrap();
    pt.map_page(va(0x2000_0000), borrowed, Attrs::user_rw(), &tlb)
        .unwrap();
    let base = ram.allocated_frames();
    pt.unmap(va(0x1000_0000), P, &tlb).unwrap();
    assert!(!ram.is_allocated(pages[0]) && ram.is_allocated(pages[1]));
    assert_eq!(pt.unmap_page(va(0x2000_0000), &tlb).unwrap().pa, borrowed);
    assert!(ram.is_allocated(borrowed));
    // An owned 2 MiB block split by a partial unmap hands back its pieces.
    let block = ram.alloc_frames(9).unwrap();
    pt.map(
        va(0x4000_0000),
        block,
        M2,
        Attrs::user_rw().with_owned(true),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    assert_eq!(pt.translate(va(0x4000_0000)).unwrap().level, 2);
    pt.unmap(va(0x4000_0000 + 16 * P), 16 * P, &tlb).unwrap();
    assert!(!ram.is_allocated(block + 16 * P) && !ram.is_allocated(block + 31 * P));
    assert!(ram.is_allocated(block + 15 * P) && ram.is_allocated(block + 32 * P));
    assert!(pt.translate(va(0x4000_0000 + 32 * P)).unwrap().attrs.owned);
    let _ = base;
    drop(pt);
    assert_eq!(ram.allocated_frames(), 1, "only the borrowed frame is left");
}

#[test]
fn drop_frees_everything() {
    let ram = SimRam::new(256);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    for i in 0..20 {
        pt.map(
            va(i * 0x80_0000_0000 + i * M2),
            pa(FAR_PA),
            2 * P,
            Attrs::user_ro(),
            MapSize::Any,
            &tlb,
        )
        .unwrap();
    }
    assert!(ram.allocated_frames() > 20);
    drop(pt);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn errors() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let a = Attrs::user_rw();
    let m = |pt: &mut PageTable<&SimRam>, v, p, len, a| {
        pt.map(va(v), pa(p), len, a, MapSize::Any, &tlb)
    };
    assert_eq!(m(&mut pt, 0x1001, FAR_PA, P, a), Err(PtError::Misaligned));
    assert_eq!(
        m(&mut pt, 0x1000, FAR_PA + 8, P, a),
        Err(PtError::Misaligned)
    );
    assert_eq!(m(&mut pt, 0x1000, FAR_PA, 100, a), Err(PtError::Misaligned));
    assert_eq!(m(&mut pt, 1 << 48, FAR_PA, P, a), Err(PtError::OutOfRange));
    assert_eq!(
        m(&mut pt, (1 << 48) - P, FAR_PA, 2 * P, a),
        Err(PtError::OutOfRange)
    );
    assert_eq!(
        m(&mut pt, 0, (1 << 48) - P, 2 * P, a),
        Err(PtError::OutOfRange)
    );
    assert_eq!(
        m(&mut pt, 0, FAR_PA, P, Attrs::user_rw().with_accessed(true)),
        Ok(())
    );
    assert_eq!(
        m(&mut pt, P, FAR_PA, P, Attrs { global: true, ..a }),
        Err(PtError::InvalidAttrs)
    );
    assert_eq!(
        m(
            &mut pt,
            P,
            FAR_PA,
            P,
            Attrs::kernel_device().with_exec(true)
        ),
        Err(PtError::InvalidAttrs)
    );
    assert_eq!(
        m(&mut pt, P, FAR_PA, usize::MAX & !(P - 1), a),
        Err(PtError::OutOfRange)
    );
    // Overlap: nothing changes, not even the non-overlapping part.
    let frames = ram.allocated_frames();
    assert_eq!(
        m(&mut pt, 0x20_0000 - 2 * P, FAR_PA, 0x20_0000 + 4 * P, a),
        Ok(())
    );
    assert_eq!(
        m(&mut pt, 0x40_0000 + P, FAR_PA, 2 * P, a),
        Err(PtError::AlreadyMapped)
    );
    assert_eq!(pt.translate(va(0x40_0000 + 2 * P)), None);
    assert_eq!(m(&mut pt, 0x60_0000, FAR_PA, 0x20_0000, a), Ok(()));
    assert_eq!(
        m(&mut pt, 0x50_0000, FAR_PA, 0x20_0000, a),
        Err(PtError::AlreadyMapped)
    );
    assert!(pt.translate(va(0x50_0000)).is_none());
    assert!(ram.allocated_frames() > frames);
    assert_eq!(pt.unmap_page(va(0x80_0000), &tlb), Err(PtError::NotMapped));
    assert_eq!(
        pt.set_accessed(va(0x80_0000), &tlb),
        Err(PtError::NotMapped)
    );
    assert_eq!(
        pt.unmap(va(0x80_0000), 0x100_0000, &tlb),
        Ok(0),
        "holes are fine"
    );
    assert_eq!(pt.protect(va(0x100), P, a, &tlb), Err(PtError::Misaligned));
    ram.set_budget(Some(0));
    assert!(matches!(
        PageTable::new_kernel(&ram),
        Err(PtError::NoMemory)
    ));
    ram.set_budget(None);
    let mut k = PageTable::new_kernel(&ram).unwrap();
    assert_eq!(
        k.map(
            va(0x1000),
            pa(FAR_PA),
            P,
            Attrs::kernel_rw(),
            MapSize::Any,
            &tlb
        ),
        Err(PtError::OutOfRange)
    );
    let kva = va(0xffff_0000_0000_0000);
    assert_eq!(
        k.map(kva, pa(FAR_PA), P, Attrs::user_rw(), MapSize::Any, &tlb),
        Err(PtError::InvalidAttrs)
    );
    assert_eq!(k.translate(va(0x1000)), None);
}

#[test]
fn no_memory_has_no_effect() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(
        va(0x20_0000),
        pa(FAR_PA),
        M2,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    let before: Vec<_> = pt.iter().collect();
    let frames = ram.allocated_frames();
    // Needs an L3 table per 2 MiB region and a new L1/L2 for the far VA: fail part-way.
    for budget in 0..3 {
        ram.set_budget(Some(budget));
        let r = pt.map(
            va(0x80_0000_0000 - 2 * P),
            pa(FAR_PA),
            4 * P,
            Attrs::user_rw(),
            MapSize::Any,
            &tlb,
        );
        assert_eq!(r, Err(PtError::NoMemory));
        assert_eq!(
            (ram.allocated_frames(), pt.iter().collect::<Vec<_>>()),
            (frames, before.clone())
        );
    }
    // Splitting the block needs a table.
    ram.set_budget(Some(0));
    assert_eq!(pt.unmap(va(0x20_0000 + P), P, &tlb), Err(PtError::NoMemory));
    assert_eq!(
        pt.protect(va(0x20_0000), P, Attrs::user_ro(), &tlb),
        Err(PtError::NoMemory)
    );
    assert_eq!(
        (ram.allocated_frames(), pt.iter().collect::<Vec<_>>()),
        (frames, before)
    );
    // Whole-block operations, and partial ones that change nothing, need no allocation.
    pt.protect(va(0x20_0000 + P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    pt.protect(va(0x20_0000), M2, Attrs::user_ro(), &tlb)
        .unwrap();
    assert_eq!(pt.unmap(va(0x20_0000), M2, &tlb), Ok(512));
    ram.set_budget(None);
    assert_eq!(ram.allocated_frames(), 1);
}

#[test]
fn unmap_keep_hands_owned_frames_to_the_caller() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let pages: Vec<_> = (0..3).map(|_| ram.alloc_frames(0).unwrap()).collect();
    let owned = Attrs::user_rw().with_owned(true);
    pt.map_pages(va(0x1000_0000), &pages, owned, &tlb).unwrap();
    assert_eq!(pt.unmap_keep(va(0x1000_0000), 4 * P, &tlb).unwrap(), 3);
    assert_eq!(pt.translate(va(0x1000_0000)), None);
    assert!(pages.iter().all(|&p| ram.is_allocated(p)), "frames kept");
    assert_eq!(
        ram.allocated_frames(),
        3 + 1,
        "empty tables freed, root kept"
    );
    assert!(
        tlb.take().iter().any(is_va),
        "the old translations are invalidated"
    );
    // A piece of an owned block: the kept pages survive, the rest of the block stays mapped.
    let block = ram.alloc_frames(9).unwrap();
    pt.map(va(0x4000_0000), block, M2, owned, MapSize::Any, &tlb)
        .unwrap();
    pt.unmap_keep(va(0x4000_0000 + 16 * P), 2 * P, &tlb)
        .unwrap();
    assert!(ram.is_allocated(block + 16 * P) && ram.is_allocated(block + 17 * P));
    assert!(pt.translate(va(0x4000_0000 + 16 * P)).is_none());
    assert!(pt.translate(va(0x4000_0000 + 18 * P)).unwrap().attrs.owned);
    drop(pt);
    // The two kept pieces and the three pages are the caller's now.
    assert_eq!(ram.allocated_frames(), 5);
    pages.iter().for_each(|&p| ram.free_frames(p, 0));
    ram.free_frames(block + 16 * P, 0);
    ram.free_frames(block + 17 * P, 0);
    assert_eq!(ram.allocated_frames(), 0);
}

/// Records TLB maintenance like [`RecordingTlb`], and for each op whether `watch` (a table frame)
/// was still allocated when it was issued: shows when a collapsed table is freed.
struct FreeWatch<'a> {
    ram: &'a SimRam,
    watch: PhysAddr,
    ops: RecordingTlb,
    live: std::cell::RefCell<Vec<bool>>,
}

impl FreeWatch<'_> {
    fn note(&self) {
        self.live
            .borrow_mut()
            .push(self.ram.is_allocated(self.watch));
    }
    fn take(&self) -> Vec<(TlbOp, bool)> {
        let live = core::mem::take(&mut *self.live.borrow_mut());
        self.ops.take().into_iter().zip(live).collect()
    }
}

impl crate::tlb::TlbFlush for FreeWatch<'_> {
    fn publish(&self) {
        self.note();
        self.ops.publish()
    }
    fn flush_va(&self, asid: Option<u16>, va: VirtAddr, leaf_only: bool) {
        self.note();
        self.ops.flush_va(asid, va, leaf_only)
    }
    fn flush_asid(&self, asid: u16) {
        self.note();
        self.ops.flush_asid(asid)
    }
    fn flush_all(&self) {
        self.note();
        self.ops.flush_all()
    }
    fn sync(&self) {
        self.note();
        self.ops.sync()
    }
}

/// The L3 table that maps `v`.
fn l3_table(pt: &PageTable<&SimRam>, v: usize) -> PhysAddr {
    match pt.lookup(v) {
        walk::Lookup::Leaf {
            level: 3, table, ..
        } => table,
        _ => panic!("{v:#x} is not mapped by a page"),
    }
}

#[test]
fn protect_splits_and_merges_back_an_owned_block() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let owned = Attrs::user_rw().with_owned(true);
    let block = ram.alloc_frames(9).unwrap();
    pt.map(va(M2), block, M2, owned, MapSize::Any, &tlb)
        .unwrap();
    let (tables, frames) = (pt.table_frames(), ram.allocated_frames());
    let t = |pt: &PageTable<&SimRam>, v: usize| pt.translate(va(v)).unwrap();
    assert_eq!(t(&pt, M2).level, 2);

    // One page read-only: the block is split, that page alone changes.
    pt.protect(va(M2 + 5 * P), P, Attrs::user_ro(), &tlb)
        .unwrap();
    assert_eq!(
        (t(&pt, M2 + 5 * P).level, t(&pt, M2 + 5 * P).attrs),
        (3, Attrs::user_ro().with_owned(true))
    );
    for v in [M2, M2 + 4 * P, M2 + 6 * P, 2 * M2 - P] {
        assert_eq!((t(&pt, v).level, t(&pt, v).attrs), (3, owned), "{v:#x}");
    }
    assert_eq!(pt.table_frames(), tables + 1);
    let l3 = l3_table(&pt, M2);

    // Back to read-write: the table is uniform again and becomes the block it was, through
    // invalid -> TLBI (the whole 2 MiB at page stride: the ASID) -> DSB -> block, and the L3
    // table is freed only after that invalidation completed.
    let watch = FreeWatch {
        ram: &ram,
        watch: l3,
        ops: RecordingTlb::new(),
        live: Default::default(),
    };
    pt.protect(va(M2 + 5 * P), P, Attrs::user_rw(), &watch)
        .unwrap();
    assert_eq!(
        watch.take(),
        [
            (TlbOp::Publish, true),
            (TlbOp::Asid(5), true),
            (TlbOp::Sync, true),
            (TlbOp::Publish, false),
        ]
    );
    assert_eq!(
        pt.translate(va(M2 + 5 * P + 0x10)),
        Some(Translation {
            pa: block + 5 * P + 0x10,
            attrs: owned,
            level: 2
        })
    );
    assert_eq!(pt.iter().count(), 1);
    assert_eq!(
        (pt.table_frames(), ram.allocated_frames()),
        (tables, frames),
        "the L3 table is freed"
    );

    // A collapsed owned block is freed piecewise after another split, or whole with the table.
    pt.unmap(va(M2 + 9 * P), P, &tlb).unwrap();
    assert!(!ram.is_allocated(block + 9 * P) && ram.is_allocated(block + 10 * P));
    assert_eq!(pt.translate(va(M2)).unwrap().level, 3);
    drop(pt);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn uniformly_protected_pages_of_an_aligned_run_become_a_block() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let run = ram.alloc_frames(9).unwrap();
    let owned = Attrs::user_rw().with_owned(true);
    pt.map(va(4 * M2), run, M2, owned, MapSize::PagesOnly, &tlb)
        .unwrap();
    assert_eq!(pt.translate(va(4 * M2)).unwrap().level, 3);
    // Protecting half of it leaves two kinds of pages; the other half makes them one kind again.
    pt.protect(va(4 * M2), M2 / 2, Attrs::user_ro(), &tlb)
        .unwrap();
    assert_eq!(pt.translate(va(4 * M2)).unwrap().level, 3);
    pt.protect(va(4 * M2 + M2 / 2), M2 / 2, Attrs::user_ro(), &tlb)
        .unwrap();
    let t = pt.translate(va(4 * M2 + 3 * P)).unwrap();
    assert_eq!(
        (t.level, t.pa, t.attrs),
        (2, run + 3 * P, Attrs::user_ro().with_owned(true))
    );
    assert_eq!(pt.table_frames(), 3);
    // Freed whole with the table: 512 order-0 pieces of one allocation came back as one order-9.
    drop(pt);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn inexact_regions_are_not_merged() {
    let ram = SimRam::new(4096);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let owned = Attrs::user_rw().with_owned(true);
    let ro = Attrs::user_ro();
    let level = |pt: &PageTable<&SimRam>, v: usize| pt.translate(va(v)).unwrap().level;

    // Not contiguous: two frames swapped.
    let run = ram.alloc_frames(9).unwrap();
    let mut pages: Vec<_> = (0..512).map(|i| run + i * P).collect();
    pages.swap(100, 101);
    pt.map_pages(va(0), &pages, owned, &tlb).unwrap();
    pt.protect(va(0), M2, ro, &tlb).unwrap();
    assert_eq!(level(&pt, 0), 3);

    // Contiguous but not 2 MiB aligned in physical memory.
    let run4 = ram.alloc_frames(10).unwrap();
    pt.map(va(M2), run4 + P, M2, owned, MapSize::PagesOnly, &tlb)
        .unwrap();
    pt.protect(va(M2), M2, ro, &tlb).unwrap();
    assert_eq!(level(&pt, M2), 3);

    // Different attributes: AF clear on one page (AF is an attribute like any other), then set
    // like the others, which merges.
    let block = ram.alloc_frames(9).unwrap();
    pt.map(va(2 * M2), block, M2, owned, MapSize::Any, &tlb)
        .unwrap();
    let young = Attrs::user_rw().with_accessed(false);
    pt.protect(va(2 * M2 + 7 * P), P, young, &tlb).unwrap();
    pt.protect(va(2 * M2 + 8 * P), P, Attrs::user_rx(), &tlb)
        .unwrap();
    pt.protect(va(2 * M2 + 8 * P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    assert_eq!(level(&pt, 2 * M2), 3, "page 7 still differs");
    pt.protect(va(2 * M2 + 7 * P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    assert_eq!(level(&pt, 2 * M2), 2);

    // A hole.
    let block2 = ram.alloc_frames(9).unwrap();
    pt.map(va(3 * M2), block2, M2, owned, MapSize::PagesOnly, &tlb)
        .unwrap();
    pt.unmap(va(3 * M2 + 511 * P), P, &tlb).unwrap();
    pt.protect(va(3 * M2), M2, ro, &tlb).unwrap();
    assert_eq!(level(&pt, 3 * M2), 3);

    // Unowned (borrowed) memory keeps the granularity it was mapped with.
    pt.map(
        va(5 * M2),
        pa(FAR_PA),
        M2,
        owned.with_owned(false),
        MapSize::PagesOnly,
        &tlb,
    )
    .unwrap();
    pt.protect(va(5 * M2), M2, ro, &tlb).unwrap();
    assert_eq!(level(&pt, 5 * M2), 3);

    // Root, L1, L2 and the four L3 tables that stayed.
    assert_eq!(pt.table_frames(), 3 + 4);
    drop(pt);
    // What the misaligned mapping did not own of its 1024-frame run, in aligned pieces.
    ram.free_frames(run4, 0);
    ram.free_frames(run4 + 513 * P, 0);
    (1..=8).for_each(|o| ram.free_frames(run4 + (512 + (1 << o)) * P, o));
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn frames_shared_copy_on_write_are_not_merged() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let owned = Attrs::user_rw().with_owned(true);
    let block = ram.alloc_frames(9).unwrap();
    pt.map(va(M2), block, M2, owned, MapSize::Any, &tlb)
        .unwrap();
    pt.protect(va(M2 + 5 * P), P, Attrs::user_ro(), &tlb)
        .unwrap();
    // A fork shares one frame: the table must stay pages, so that a write copies that page alone.
    ram.get_frame(block + 7 * P);
    pt.protect(va(M2 + 5 * P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    assert_eq!(pt.translate(va(M2)).unwrap().level, 3);
    assert_eq!(pt.table_frames(), 4);
    // The other sharer went away: the next change merges.
    ram.free_frames(block + 7 * P, 0);
    assert!(ram.is_allocated(block + 7 * P));
    pt.protect(va(M2 + 5 * P), P, Attrs::user_ro(), &tlb)
        .unwrap();
    pt.protect(va(M2 + 5 * P), P, Attrs::user_rw(), &tlb)
        .unwrap();
    assert_eq!(pt.translate(va(M2)).unwrap().level, 2);
    assert_eq!(pt.table_frames(), 3);
    drop(pt);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn kernel_tables_never_merge() {
    let ram = SimRam::new(2048);
    let tlb = RecordingTlb::new();
    let mut k = PageTable::new_kernel(&ram).unwrap();
    let kva = 0xffff_0000_0020_0000;
    let block = ram.alloc_frames(9).unwrap();
    let rw = Attrs::kernel_rw().with_owned(true);
    k.map(va(kva), block, M2, rw, MapSize::Any, &tlb).unwrap();
    k.protect(va(kva + 5 * P), P, Attrs::kernel_ro(), &tlb)
        .unwrap();
    let tables = k.table_frames();
    tlb.take();
    k.protect(va(kva + 5 * P), P, Attrs::kernel_rw(), &tlb)
        .unwrap();
    let t = k.translate(va(kva + 5 * P)).unwrap();
    assert_eq!((t.level, t.attrs), (3, rw));
    assert_eq!(k.table_frames(), tables);
    let va_op = TlbOp::Va {
        asid: None,
        va: kva + 5 * P,
        leaf_only: true,
    };
    assert_eq!(tlb.take(), [TlbOp::Publish, va_op, TlbOp::Sync]);
    drop(k);
    assert_eq!(ram.allocated_frames(), 0);
}

#[test]
fn split_gigabyte_block_merges_back_level_by_level() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    // Owned but outside SimRam: the frames are never touched, and `unmap_keep` hands them back
    // at the end instead of freeing them.
    let owned = Attrs::user_rw().with_owned(true);
    pt.map(va(G), pa(FAR_PA), G, owned, MapSize::Any, &tlb)
        .unwrap();
    assert_eq!(pt.table_frames(), 2);
    let page = G + 3 * M2 + 7 * P;
    pt.protect(va(page), P, Attrs::user_ro(), &tlb).unwrap();
    assert_eq!(pt.translate(va(page)).unwrap().level, 3);
    assert_eq!(pt.translate(va(G)).unwrap().level, 2);
    assert_eq!(pt.table_frames(), 4);
    tlb.take();
    pt.protect(va(page), P, Attrs::user_rw(), &tlb).unwrap();
    // The L3 table becomes a 2 MiB block, which completes an L2 table of 512 blocks: one
    // break-before-make each (at 2 MiB stride the 1 GiB is 512 TLBIs too, so again the ASID).
    let bbm = [TlbOp::Publish, TlbOp::Asid(5), TlbOp::Sync];
    let expect: Vec<_> = bbm.into_iter().chain(bbm).chain([TlbOp::Publish]).collect();
    assert_eq!(tlb.take(), expect);
    assert_eq!(
        pt.translate(va(page)),
        Some(Translation {
            pa: pa(FAR_PA + page - G),
            attrs: owned,
            level: 1
        })
    );
    assert_eq!((pt.table_frames(), ram.allocated_frames()), (2, 2));
    assert_eq!(pt.unmap_keep(va(G), G, &tlb), Ok(G / P));
    assert_eq!(ram.allocated_frames(), 1);
}

#[test]
fn a_range_walk_yields_what_the_full_walk_has_in_the_range() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    // Pages in two L3 tables, a 2 MiB block between them, and one page far away (another L1).
    let far = 3 * G + 5 * P;
    for &(v, len, size) in &[
        (M2 - 2 * P, 4 * P, MapSize::Any),
        (4 * M2, M2, MapSize::Any),
        (6 * M2 + P, P, MapSize::Any),
        (far, P, MapSize::Any),
    ] {
        pt.map(va(v), pa(FAR_PA + v), len, Attrs::user_rw(), size, &tlb)
            .unwrap();
    }
    let all: Vec<Mapping> = pt.iter().collect();
    for &(start, end) in &[
        (0, usize::MAX >> 16),
        (M2 - P, M2 + P),
        (4 * M2 + 100 * P, 4 * M2 + 101 * P),
        (5 * M2, far),
        (far + P, far + 2 * P),
        (M2 + 2 * P, 4 * M2),
    ] {
        let mut got = Vec::new();
        pt.for_each_mapping_in(va(start), va(end), |m| got.push(m));
        let want: Vec<Mapping> = all
            .iter()
            .copied()
            .filter(|m| m.va.as_usize() < end && m.va.as_usize() + m.size > start)
            .collect();
        assert_eq!(got, want, "[{start:#x}, {end:#x})");
    }
}

#[test]
fn unmapping_a_tables_last_page_frees_the_tables_and_a_hole_costs_no_look() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    // The one page of its L3 table at the far end of it, then one page unmapped where nothing is.
    let far = 2 * M2 - P;
    pt.map(va(far), pa(FAR_PA), P, Attrs::user_rw(), MapSize::Any, &tlb)
        .unwrap();
    assert_eq!(pt.table_frames(), 4);
    assert_eq!(pt.unmap(va(far - 100 * P), P, &tlb).unwrap(), 0);
    assert_eq!(pt.unmap(va(M2 * 7), 3 * P, &tlb).unwrap(), 0);
    assert_eq!(pt.table_frames(), 4, "unmapping holes frees nothing");
    assert_eq!(pt.unmap(va(far), P, &tlb).unwrap(), 1);
    assert_eq!(pt.table_frames(), 1, "the last page's tables go with it");
    pt.map(
        va(far),
        pa(FAR_PA),
        2 * P,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    assert_eq!(pt.unmap(va(far), 2 * P, &tlb).unwrap(), 2);
    assert_eq!(pt.table_frames(), 1, "and a range's tables with it");
}

#[test]
fn prepared_unmap_takes_its_split_tables_beforehand_and_then_cannot_fail() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    // Unowned: the frames are outside SimRam and nothing frees them.
    pt.map(
        va(0x20_0000),
        pa(FAR_PA),
        M2,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    // The top half of the block goes: one split table, taken now or never.
    let (start, len) = (0x20_0000 + M2 / 2, M2 / 2);
    ram.set_budget(Some(0));
    assert!(matches!(
        pt.prepare_unmap(va(start), len),
        Err(PtError::NoMemory)
    ));
    assert_eq!(pt.translate(va(start)).unwrap().level, 2, "nothing changed");
    ram.set_budget(Some(1));
    let reserve = pt.prepare_unmap(va(start), len).unwrap().unwrap();
    assert_eq!(pt.translate(va(start)).unwrap().level, 2, "still nothing");
    ram.set_budget(Some(0));
    assert_eq!(pt.unmap_prepared(va(start), len, reserve, &tlb), 256);
    ram.set_budget(None);
    assert!(pt.translate(va(start)).is_none());
    assert_eq!(
        pt.translate(va(start - P)).map(|t| (t.pa, t.level)),
        Some((pa(FAR_PA + M2 / 2 - P), 3))
    );
    // A reserve that was not needed goes back whole.
    let frames = ram.allocated_frames();
    let reserve = pt.prepare_unmap(va(0x20_0000), P).unwrap().unwrap();
    assert_eq!(pt.unmap_prepared(va(0x20_0000), P, reserve, &tlb), 1);
    assert!(ram.allocated_frames() <= frames);
    // Nothing mapped in the range, beside a mapped page or under a table other pages use:
    // nothing to prepare, and no table is taken.
    let frames = ram.allocated_frames();
    for (start, len) in [
        (0x20_0000, P),
        (0x20_0000 - 64 * P, 64 * P),
        (1 << 30, 1 << 30),
    ] {
        assert!(pt.prepare_unmap(va(start), len).unwrap().is_none());
    }
    assert_eq!(ram.allocated_frames(), frames);
    let reserve = pt.prepare_unmap(va(0x20_0000), 2 * P).unwrap().unwrap();
    assert_eq!(pt.unmap_prepared(va(0x20_0000), 2 * P, reserve, &tlb), 1);
}
