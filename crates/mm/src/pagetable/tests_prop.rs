//! Property test: random map/unmap/protect sequences over a small VA window, checked against a
//! page-granular model after every step (translations, iteration, frame accounting, freed tables
//! and TLB invalidation of every changed translation).
use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::phys::sim::SimRam;
use crate::tlb::fake::{RecordingTlb, TlbOp};

const P: usize = PAGE_SIZE;
/// 1 GiB aligned, so the window's 2 MiB regions can hold blocks.
const WINDOW: usize = 0x4000_0000;
const PAGES: usize = 1024;
const FAR_PA: usize = 0x80_0000_0000;
const ASID: u16 = 9;

#[derive(Clone, Debug)]
enum Op {
    Map {
        page: usize,
        n: usize,
        pa_page: usize,
        attrs: usize,
        pages_only: bool,
    },
    MapOwnedPages {
        page: usize,
        n: usize,
    },
    MapOwnedBlock {
        block: usize,
    },
    Unmap {
        page: usize,
        n: usize,
    },
    Protect {
        page: usize,
        n: usize,
        attrs: usize,
    },
    SetAccessed {
        page: usize,
    },
}

const ATTRS: [Attrs; 5] = [
    Attrs::user_rw(),
    Attrs::user_ro(),
    Attrs::user_rx(),
    Attrs::user_rw().with_mem(MemType::NonCacheable),
    Attrs::user_rw().with_accessed(false),
];

fn page() -> impl Strategy<Value = usize> {
    prop_oneof![(0..2usize).prop_map(|b| b * 512), 0..PAGES]
}

fn count() -> impl Strategy<Value = usize> {
    prop_oneof![Just(512usize), Just(1024), 1..600usize]
}

fn op() -> impl Strategy<Value = Op> {
    let pa_page = prop_oneof![(0..8usize).prop_map(|b| b * 512), 0..4096usize];
    prop_oneof![
        3 => (page(), count(), pa_page, 0..ATTRS.len(), any::<bool>())
            .prop_map(|(page, n, pa_page, attrs, pages_only)| Op::Map { page, n, pa_page, attrs, pages_only }),
        1 => (page(), 1..40usize).prop_map(|(page, n)| Op::MapOwnedPages { page, n }),
        1 => (0..2usize).prop_map(|block| Op::MapOwnedBlock { block }),
        2 => (page(), count()).prop_map(|(page, n)| Op::Unmap { page, n }),
        2 => (page(), count(), 0..ATTRS.len()).prop_map(|(page, n, attrs)| Op::Protect { page, n, attrs }),
        // The whole window: gives split regions their chance to be merged back.
        1 => (0..ATTRS.len()).prop_map(|attrs| Op::Protect { page: 0, n: PAGES, attrs }),
        1 => page().prop_map(|page| Op::SetAccessed { page }),
    ]
}

type Model = BTreeMap<usize, (PhysAddr, Attrs)>;

fn va_of(page: usize) -> VirtAddr {
    VirtAddr::new(WINDOW + page * P)
}

/// Runs one op against both the table and the model. `budget` limits table allocations.
fn apply(
    pt: &mut PageTable<&SimRam>,
    ram: &SimRam,
    tlb: &RecordingTlb,
    model: &mut Model,
    op: &Op,
    budget: Option<usize>,
) {
    let clamp = |page: usize, n: usize| n.min(PAGES - page);
    let mapped_in =
        |model: &Model, page: usize, n: usize| model.range(page..page + n).next().is_some();
    match *op {
        Op::Map {
            page,
            n,
            pa_page,
            attrs,
            pages_only,
        } => {
            let n = clamp(page, n);
            let size = if pages_only {
                MapSize::PagesOnly
            } else {
                MapSize::Any
            };
            let pa = PhysAddr::new(FAR_PA + pa_page * P);
            ram.set_budget(budget);
            let r = pt.map(va_of(page), pa, n * P, ATTRS[attrs], size, tlb);
            ram.set_budget(None);
            if mapped_in(model, page, n) {
                assert_eq!(r, Err(PtError::AlreadyMapped));
            } else if r != Err(PtError::NoMemory) || budget.is_none() {
                r.unwrap();
                model.extend((0..n).map(|i| (page + i, (pa + i * P, ATTRS[attrs]))));
            }
        }
        Op::MapOwnedPages { page, n } => {
            let n = clamp(page, n);
            let frames: Vec<_> = (0..n).map(|_| ram.alloc_frames(0).unwrap()).collect();
            let a = Attrs::user_rw().with_owned(true);
            ram.set_budget(budget);
            let r = pt.map_pages(va_of(page), &frames, a, tlb);
            ram.set_budget(None);
            if r.is_ok() {
                frames.iter().enumerate().for_each(|(i, &f)| {
                    model.insert(page + i, (f, a));
                });
            } else {
                assert!(
                    mapped_in(model, page, n) || (budget.is_some() && r == Err(PtError::NoMemory))
                );
                frames.iter().for_each(|&f| ram.free_frames(f, 0));
            }
        }
        Op::MapOwnedBlock { block } => {
            let Some(frames) = ram.alloc_frames(9) else {
                return;
            };
            let a = Attrs::user_rx().with_owned(true);
            ram.set_budget(budget);
            let r = pt.map(
                va_of(block * 512),
                frames,
                L2_BLOCK_SIZE,
                a,
                MapSize::Any,
                tlb,
            );
            ram.set_budget(None);
            if r.is_ok() {
                assert_eq!(pt.translate(va_of(block * 512)).unwrap().level, 2);
                model.extend((0..512).map(|i| (block * 512 + i, (frames + i * P, a))));
            } else {
                ram.free_frames(frames, 9);
            }
        }
        Op::Unmap { page, n } => {
            let n = clamp(page, n);
            ram.set_budget(budget);
            let r = pt.unmap(va_of(page), n * P, tlb);
            ram.set_budget(None);
            if r != Err(PtError::NoMemory) || budget.is_none() {
                let expect = (page..page + n)
                    .filter(|p| model.remove(p).is_some())
                    .count();
                assert_eq!(r, Ok(expect));
            }
        }
        Op::Protect { page, n, attrs } => {
            let n = clamp(page, n);
            ram.set_budget(budget);
            let r = pt.protect(va_of(page), n * P, ATTRS[attrs], tlb);
            ram.set_budget(None);
            if r != Err(PtError::NoMemory) || budget.is_none() {
                r.unwrap();
                let mut changed = std::collections::BTreeSet::new();
                for (&p, (_, a)) in model.range_mut(page..page + n) {
                    let new = ATTRS[attrs].with_owned(a.owned);
                    if new != *a {
                        changed.insert(p / 512);
                    }
                    *a = new;
                }
                // A 2 MiB region in which a page changed is one block afterwards if it can be.
                for region in changed.into_iter().filter(|&r| mergeable(model, r)) {
                    let level = pt.translate(va_of(region * 512)).unwrap().level;
                    assert_eq!(level, 2, "region {region} not merged");
                }
            }
        }
        Op::SetAccessed { page } => {
            let r = pt.set_accessed(va_of(page), tlb);
            match pt.translate(va_of(page)) {
                None => assert_eq!(r, Err(PtError::NotMapped)),
                Some(t) => {
                    let first = (va_of(page).as_usize() & !(t.size() - 1)) / P - WINDOW / P;
                    for (_, (_, a)) in model.range_mut(first..first + t.size() / P) {
                        a.accessed = true;
                    }
                }
            }
        }
    }
}

/// Whether the model's 2 MiB region `region` is what one owned block maps: 512 owned pages with
/// the same attributes on an aligned physically contiguous run (no frame is shared here).
fn mergeable(model: &Model, region: usize) -> bool {
    let first = region * 512;
    let Some(&(pa, a)) = model.get(&first) else {
        return false;
    };
    a.owned
        && pa.is_aligned(L2_BLOCK_SIZE)
        && (0..512).all(|i| model.get(&(first + i)) == Some(&(pa + i * P, a)))
}

/// Leaf level of every mapped page, from the table itself.
fn levels(pt: &PageTable<&SimRam>) -> BTreeMap<usize, usize> {
    (0..PAGES)
        .filter_map(|p| pt.translate(va_of(p)).map(|t| (p, t.level)))
        .collect()
}

fn check(pt: &PageTable<&SimRam>, ram: &SimRam, model: &Model) {
    for p in 0..PAGES {
        let got = pt.translate(va_of(p) + 0x18).map(|t| (t.pa, t.attrs));
        let want = model.get(&p).map(|&(pa, a)| (pa + 0x18, a));
        assert_eq!(got, want, "page {p}");
    }
    let mut pages = Model::new();
    for m in pt.iter() {
        for i in 0..m.size / P {
            pages.insert((m.va.as_usize() - WINDOW) / P + i, (m.pa + i * P, m.attrs));
        }
    }
    assert_eq!(&pages, model);
    // Exactly the tables needed: root, L1, L2 and one L3 per 2 MiB region holding pages.
    let l3 = pt
        .iter()
        .filter(|m| m.size == P)
        .map(|m| m.va.as_usize() >> 21)
        .collect::<std::collections::BTreeSet<_>>();
    let want_tables = if model.is_empty() { 1 } else { 3 + l3.len() };
    assert_eq!(pt.table_frames(), want_tables);
    let owned = model.values().filter(|(_, a)| a.owned).count();
    assert_eq!(ram.allocated_frames(), pt.table_frames() + owned);
}

/// Every translation that changed or vanished must have been invalidated, between a publish and a
/// sync. Setting AF needs no invalidation (faulting entries are not cached).
fn check_tlb(before: &Model, old_levels: &BTreeMap<usize, usize>, after: &Model, ops: &[TlbOp]) {
    let asid_flush = ops.contains(&TlbOp::Asid(ASID));
    for (&p, &(pa, a)) in before {
        let ok_af_only = after.get(&p)
            == Some(&(
                pa,
                Attrs {
                    accessed: true,
                    ..a
                },
            ))
            && !a.accessed;
        if after.get(&p) == Some(&(pa, a)) || ok_af_only || asid_flush {
            continue;
        }
        let shift = level_shift(old_levels[&p]);
        let hit = ops.iter().any(|o| match *o {
            TlbOp::Va { asid, va, .. } => {
                asid == Some(ASID) && va >> shift == va_of(p).as_usize() >> shift
            }
            _ => false,
        });
        assert!(hit, "page {p} changed without TLBI: {ops:?}");
    }
    // Invalidations come in publish, TLBI..., sync groups.
    let mut in_group = false;
    for (i, o) in ops.iter().enumerate() {
        match o {
            TlbOp::Va { .. } | TlbOp::Asid(_) => {
                assert!(
                    in_group || ops[i - 1] == TlbOp::Publish,
                    "TLBI without publish: {ops:?}"
                );
                in_group = true;
            }
            TlbOp::Sync => in_group = false,
            _ => assert!(!in_group, "TLBI group not closed by sync: {ops:?}"),
        }
    }
    assert!(!in_group, "TLBI group not closed by sync: {ops:?}");
    assert!(
        !ops.contains(&TlbOp::All),
        "user tables never flush all ASIDs"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_match_model(ops in prop::collection::vec((op(), prop::option::weighted(0.15, 0..4usize)), 1..24)) {
        let ram = SimRam::new(4096);
        let tlb = RecordingTlb::new();
        let mut pt = PageTable::new_user(&ram, ASID).unwrap();
        let mut model = Model::new();
        for (op, budget) in &ops {
            let before = model.clone();
            let old_levels = levels(&pt);
            tlb.take();
            apply(&mut pt, &ram, &tlb, &mut model, op, *budget);
            check(&pt, &ram, &model);
            check_tlb(&before, &old_levels, &model, &tlb.take());
        }
        drop(pt);
        prop_assert_eq!(ram.allocated_frames(), 0);
    }
}
