//! Host tests of TLB maintenance, break-before-make and barriers of the page-table driver.
use super::tests::{is_va, pa, user, va, FAR_PA, G, M2, P};
use super::*;
use crate::phys::sim::SimRam;
use crate::tlb::fake::{RecordingTlb, TlbOp};

#[test]
fn protect_in_place_vs_break_before_make() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(
        va(0),
        pa(FAR_PA),
        2 * P,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    tlb.take();
    pt.protect(va(0), 2 * P, Attrs::user_rx(), &tlb).unwrap();
    let va_op = |v| TlbOp::Va {
        asid: Some(5),
        va: v,
        leaf_only: true,
    };
    assert_eq!(
        tlb.take(),
        [TlbOp::Publish, va_op(0), va_op(P), TlbOp::Sync]
    );
    // A memory-type change must break first: one flush per entry before the new value.
    pt.protect(
        va(0),
        2 * P,
        Attrs::user_rx().with_mem(MemType::NonCacheable),
        &tlb,
    )
    .unwrap();
    let bbm = |v| [TlbOp::Publish, va_op(v), TlbOp::Sync];
    let expect: Vec<_> = bbm(0)
        .into_iter()
        .chain(bbm(P))
        .chain([TlbOp::Publish])
        .collect();
    assert_eq!(tlb.take(), expect);
    assert_eq!(
        pt.translate(va(P)).unwrap().attrs.mem,
        MemType::NonCacheable
    );
}

#[test]
#[should_panic(expected = "break-before-make violation")]
fn direct_output_address_change_is_caught() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(va(0), pa(FAR_PA), P, Attrs::user_rw(), MapSize::Any, &tlb)
        .unwrap();
    let walk::Lookup::Leaf { table, idx, .. } = pt.lookup(0) else {
        panic!("not mapped")
    };
    let mut g = Gather::new(pt.asid, &tlb);
    pt.write_entry(
        table,
        idx,
        va(0),
        Descriptor::leaf(3, pa(FAR_PA + P), Attrs::user_rw()),
        &mut g,
    );
}

#[test]
#[should_panic(expected = "before its invalidation was flushed")]
fn remap_before_flush_is_caught() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(va(0), pa(FAR_PA), P, Attrs::user_rw(), MapSize::Any, &tlb)
        .unwrap();
    let walk::Lookup::Leaf { table, idx, .. } = pt.lookup(0) else {
        panic!("not mapped")
    };
    let mut g = Gather::new(pt.asid, &tlb);
    pt.write_entry(table, idx, va(0), Descriptor::INVALID, &mut g);
    g.batch.add(va(0), P);
    pt.write_entry(
        table,
        idx,
        va(0),
        Descriptor::leaf(3, pa(FAR_PA + P), Attrs::user_rw()),
        &mut g,
    );
}

#[test]
fn tlb_batching_threshold() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(
        va(0),
        pa(FAR_PA),
        1024 * P,
        Attrs::user_rw(),
        MapSize::PagesOnly,
        &tlb,
    )
    .unwrap();
    tlb.take();
    // Under the threshold: one TLBI per page, one barrier pair.
    pt.protect(va(0), 511 * P, Attrs::user_ro(), &tlb).unwrap();
    let ops = tlb.take();
    assert_eq!(ops.len(), 511 + 2);
    assert_eq!((ops[0], ops[512]), (TlbOp::Publish, TlbOp::Sync));
    assert!(ops[1..512].iter().all(|o| matches!(
        o,
        TlbOp::Va {
            asid: Some(5),
            leaf_only: true,
            ..
        }
    )));
    // At the threshold: the whole ASID.
    pt.protect(va(0), 512 * P, Attrs::user_rx(), &tlb).unwrap();
    assert_eq!(tlb.take(), [TlbOp::Publish, TlbOp::Asid(5), TlbOp::Sync]);
    // Freeing a table asks for non-leaf invalidation (walk caches).
    pt.unmap(va(512 * P), 8 * P, &tlb).unwrap();
    assert!(tlb.take().iter().filter(|o| is_va(o)).all(|o| matches!(
        o,
        TlbOp::Va {
            leaf_only: true,
            ..
        }
    )));
    pt.unmap(va(520 * P), 504 * P, &tlb).unwrap();
    let ops = tlb.take();
    assert!(
        ops.iter().filter(|o| is_va(o)).all(|o| matches!(
            o,
            TlbOp::Va {
                leaf_only: false,
                ..
            }
        )),
        "{ops:?}"
    );
    // Blocks use a block stride: unmapping 8 x 2 MiB is 8 TLBIs, not 4096.
    pt.map(
        va(G),
        pa(FAR_PA),
        8 * M2,
        Attrs::user_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    tlb.take();
    pt.unmap(va(G), 8 * M2, &tlb).unwrap();
    assert_eq!(tlb.take().iter().filter(|o| is_va(o)).count(), 8);
}

#[test]
fn kernel_table_upper_half_and_global_flushes() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut k = PageTable::new_kernel(&ram).unwrap();
    let top = usize::MAX - P + 1;
    let lin = 0xffff_0000_0000_0000;
    k.map(
        va(top - P),
        pa(FAR_PA),
        2 * P,
        Attrs::kernel_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    k.map(
        va(lin),
        pa(FAR_PA),
        G,
        Attrs::kernel_rw(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    k.map(
        va(lin + G),
        pa(0x0900_0000),
        P,
        Attrs::kernel_device(),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    // New kernel entries end with DSB ISH + ISB, no TLBI.
    let ops = tlb.take();
    assert_eq!(ops.last(), Some(&TlbOp::Sync));
    assert!(!ops.iter().any(is_va));
    let t = k.translate(va(top + 0x10)).unwrap();
    assert_eq!(
        (t.pa, t.level, t.attrs.global),
        (pa(FAR_PA + P + 0x10), 3, true)
    );
    assert_eq!(k.translate(va(lin + G)).unwrap().attrs.mem, MemType::Device);
    let got: Vec<_> = k.iter().map(|m| (m.va.as_usize(), m.size)).collect();
    assert_eq!(got, [(lin, G), (lin + G, P), (top - P, P), (top, P)]);
    k.unmap(va(top - P), 2 * P, &tlb).unwrap();
    let ops = tlb.take();
    assert!(
        ops.contains(&TlbOp::Va {
            asid: None,
            va: top,
            leaf_only: false
        }),
        "{ops:?}"
    );
    k.unmap(va(lin), G, &tlb).unwrap();
    assert_eq!(
        tlb.take(),
        [
            TlbOp::Publish,
            TlbOp::Va {
                asid: None,
                va: lin,
                leaf_only: true
            },
            TlbOp::Sync
        ]
    );
    assert_eq!(k.ttbr(), k.root().as_usize() as u64);
    assert_eq!(user(&ram).ttbr() >> 48, 5);
}

#[test]
fn access_flag_cleared_then_set_in_place() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    pt.map(
        va(0x5000),
        pa(FAR_PA),
        P,
        Attrs::user_rw().with_accessed(false),
        MapSize::Any,
        &tlb,
    )
    .unwrap();
    assert!(!pt.translate(va(0x5000)).unwrap().attrs.accessed);
    tlb.take();
    pt.set_accessed(va(0x5abc), &tlb).unwrap();
    assert!(pt.translate(va(0x5000)).unwrap().attrs.accessed);
    assert_eq!(tlb.take(), [TlbOp::Publish], "no TLBI for AF 0 -> 1");
    pt.set_accessed(va(0x5000), &tlb).unwrap();
    assert_eq!(tlb.take(), [], "already set: nothing to do");
    // Clearing AF (young tracking) is in place but needs the TLBI.
    pt.protect(va(0x5000), P, Attrs::user_rw().with_accessed(false), &tlb)
        .unwrap();
    assert_eq!(
        tlb.take(),
        [
            TlbOp::Publish,
            TlbOp::Va {
                asid: Some(5),
                va: 0x5000,
                leaf_only: true
            },
            TlbOp::Sync
        ]
    );
}

#[test]
fn map_pages_crosses_tables_with_one_final_barrier() {
    let ram = SimRam::new(64);
    let tlb = RecordingTlb::new();
    let mut pt = user(&ram);
    let pages: Vec<_> = (0..8).map(|i| pa(FAR_PA + (7 - i) * P)).collect();
    let start = M2 - 4 * P;
    pt.map_pages(va(start), &pages, Attrs::user_rx(), &tlb)
        .unwrap();
    for (i, &p) in pages.iter().enumerate() {
        assert_eq!(pt.translate(va(start + i * P)).unwrap().pa, p);
    }
    // Publishes before linking each of the 4 new tables, then one for the PTEs.
    assert_eq!(tlb.take(), [TlbOp::Publish; 5]);
    pt.map_pages(va(start + 8 * P), &[pa(FAR_PA)], Attrs::user_rx(), &tlb)
        .unwrap();
    assert_eq!(tlb.take(), [TlbOp::Publish]);
    assert_eq!(
        pt.map_pages(va(start + 7 * P), &pages[..2], Attrs::user_rx(), &tlb),
        Err(PtError::AlreadyMapped)
    );
    assert_eq!(
        pt.map_pages(va(0), &[pa(FAR_PA + 1)], Attrs::user_rx(), &tlb),
        Err(PtError::Misaligned)
    );
    assert_eq!(pt.map_pages(va(0), &[], Attrs::user_rx(), &tlb), Ok(()));
}
