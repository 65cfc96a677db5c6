//! Random mmap/munmap/mprotect/brk/touch sequences against a per-page model of a 64-page window
//! around the heap, with `validate_mm` after every step.
use proptest::prelude::*;

use super::*;
use crate::mm::addr::page_align_up;
use crate::mm::brk::sys_brk;
use crate::mm::mmap::{do_mmap, do_munmap};
use crate::mm::mprotect::do_mprotect;

const W: usize = B - 8 * P;
const N: usize = 64;

#[derive(Clone, Debug)]
enum Op {
    Mmap { first: usize, n: usize, prot: u32 },
    Munmap { first: usize, n: usize },
    Mprotect { first: usize, n: usize, prot: u32 },
    Brk { pages: usize, extra: usize },
    Touch { page: usize, write: bool, value: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..N, 1..8usize, 0..8u32).prop_map(|(first, n, prot)| Op::Mmap { first, n, prot }),
        (0..N, 1..8usize).prop_map(|(first, n)| Op::Munmap { first, n }),
        (0..N, 1..8usize, 0..8u32).prop_map(|(first, n, prot)| Op::Mprotect { first, n, prot }),
        (0..48usize, prop_oneof![Just(0usize), Just(1), Just(100)])
            .prop_map(|(pages, extra)| Op::Brk { pages, extra }),
        (0..N, any::<bool>(), 1..255u8).prop_map(|(page, write, value)| Op::Touch {
            page,
            write,
            value
        }),
    ]
}

/// Per page of the window: `Some((prot, last byte written))` when mapped.
struct Model {
    pages: [Option<(u32, u8)>; N],
    brk: usize,
}

impl Model {
    fn idx(addr: usize) -> usize {
        (addr - W) / P
    }
    fn mapped_in(&self, start: usize, end: usize) -> impl Iterator<Item = bool> + '_ {
        (Self::idx(start)..Self::idx(end)).map(|i| self.pages[i].is_some())
    }
}

fn apply(mm: &mut Mm, model: &mut Model, op: &Op) {
    let clip = |first: usize, n: usize| (first, (first + n).min(N));
    match *op {
        Op::Mmap { first, n, prot } => {
            let (a, b) = clip(first, n);
            let r = do_mmap(
                mm,
                W + a * P,
                (b - a) * P,
                prot,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            );
            assert_eq!(r.map(|r| r.addr), Ok(W + a * P));
            (a..b).for_each(|i| model.pages[i] = Some((prot, 0)));
        }
        Op::Munmap { first, n } => {
            let (a, b) = clip(first, n);
            assert_eq!(do_munmap(mm, W + a * P, (b - a) * P), Ok(()));
            (a..b).for_each(|i| model.pages[i] = None);
        }
        Op::Mprotect { first, n, prot } => {
            let (a, b) = clip(first, n);
            let hole = (a..b).find(|&i| model.pages[i].is_none());
            let want = if hole.is_some() {
                Err(MmError::NoMemory)
            } else {
                Ok(())
            };
            assert_eq!(do_mprotect(mm, W + a * P, (b - a) * P, prot), want);
            for i in a..hole.unwrap_or(b) {
                model.pages[i].as_mut().unwrap().0 = prot;
            }
        }
        Op::Brk { pages, extra } => {
            let target = B + pages * P + extra;
            let (newal, oldal) = (
                page_align_up(target).unwrap(),
                page_align_up(model.brk).unwrap(),
            );
            let ok = if newal == oldal {
                true
            } else if target <= model.brk {
                model.mapped_in(newal, oldal).any(|m| m)
            } else {
                !model.mapped_in(oldal, newal + P).any(|m| m)
            };
            let r = sys_brk(mm, target);
            assert_eq!(
                r.ret,
                if ok { target } else { model.brk },
                "brk({target:#x}) from {:#x}",
                model.brk
            );
            if ok {
                let (lo, hi) = (newal.min(oldal), newal.max(oldal));
                let grow = newal > oldal;
                (Model::idx(lo)..Model::idx(hi))
                    .for_each(|i| model.pages[i] = grow.then_some((PROT_READ | PROT_WRITE, 0)));
                model.brk = target;
            }
        }
        Op::Touch { page, write, value } => {
            let addr = W + page * P + 8;
            let want = match model.pages[page] {
                None => Err(FaultError::MapErr),
                Some((prot, _)) if write && prot & PROT_WRITE == 0 => Err(FaultError::AccErr),
                Some((0, _)) => Err(FaultError::AccErr),
                Some((_, d)) => Ok(d),
            };
            if write {
                assert_eq!(write_byte(mm, addr, value), want.map(|_| ()));
                if want.is_ok() {
                    model.pages[page].as_mut().unwrap().1 = value;
                }
            } else {
                assert_eq!(read_byte(mm, addr), want);
            }
        }
    }
}

fn check(mm: &Mm, model: &Model) {
    mm.validate_mm().unwrap();
    assert_eq!(mm.brk, model.brk);
    for (i, page) in model.pages.iter().enumerate() {
        let addr = W + i * P;
        let vma = mm.find_vma(addr).filter(|v| v.start <= addr);
        match (page, vma) {
            (None, None) => assert!(
                !mm.pt.pages.contains_key(&addr),
                "page present outside a VMA at {addr:#x}"
            ),
            (Some((prot, d)), Some(v)) => {
                assert_eq!(
                    v.flags & VM_ACCESS_FLAGS,
                    calc_vm_prot_bits(*prot),
                    "flags at {addr:#x}"
                );
                let have = match mm.pt.pages.get(&addr) {
                    Some(Page::Frame(x)) => *x,
                    _ => 0,
                };
                assert_eq!(have, *d, "content at {addr:#x}");
            }
            (p, v) => panic!("model {p:?} but VMA {v:?} at {addr:#x}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_match_page_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut mm = bare_mm();
        let mut model = Model { pages: [None; N], brk: B };
        for op in &ops {
            apply(&mut mm, &mut model, op);
            check(&mm, &model);
        }
    }
}
