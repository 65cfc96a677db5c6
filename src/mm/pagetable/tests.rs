//! Host tests of the page-table driver against simulated RAM.
use super::*;
use crate::mm::phys::sim::SimRam;
use crate::mm::tlb::fake::{RecordingTlb, TlbOp};

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
