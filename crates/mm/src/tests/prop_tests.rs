//! Random mmap/munmap/mprotect/brk/touch/mlock/munlock/mremap sequences against a per-page model
//! of a 64-page window around the heap, with `validate_mm` after every step.
use proptest::prelude::*;

use super::*;
use crate::addr::page_align_up;
use crate::brk::sys_brk;
use crate::mlock::{do_mlock, do_munlock};
use crate::mmap::{do_mmap, do_munmap};
use crate::mprotect::do_mprotect;
use crate::mremap::{do_mremap, MREMAP_FIXED, MREMAP_MAYMOVE};
use crate::populate::mm_populate;

const W: usize = B - 8 * P;
const N: usize = 64;

#[derive(Clone, Debug)]
enum Op {
    Mmap {
        first: usize,
        n: usize,
        prot: u32,
    },
    Munmap {
        first: usize,
        n: usize,
    },
    Mprotect {
        first: usize,
        n: usize,
        prot: u32,
    },
    Brk {
        pages: usize,
        extra: usize,
    },
    Touch {
        page: usize,
        write: bool,
        value: u8,
    },
    Mlock {
        first: usize,
        n: usize,
        lock: bool,
    },
    /// `dest`: `None` resizes in place, `Some(page)` moves with MREMAP_FIXED.
    Mremap {
        first: usize,
        old_n: usize,
        new_n: usize,
        dest: Option<usize>,
    },
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
        (0..N, 1..8usize, any::<bool>()).prop_map(|(first, n, lock)| Op::Mlock { first, n, lock }),
        (0..N, 1..8usize, 1..8usize, proptest::option::of(0..N)).prop_map(
            |(first, old_n, new_n, dest)| Op::Mremap {
                first,
                old_n,
                new_n,
                dest
            }
        ),
    ]
}

/// Per page of the window: `Some((prot, last byte written))` when mapped, and whether it is
/// mlocked.
struct Model {
    pages: [Option<(u32, u8)>; N],
    locked: [bool; N],
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
            (a..b).for_each(|i| model.locked[i] = false);
        }
        Op::Munmap { first, n } => {
            let (a, b) = clip(first, n);
            assert_eq!(do_munmap(mm, W + a * P, (b - a) * P), Ok(()));
            (a..b).for_each(|i| model.pages[i] = None);
            (a..b).for_each(|i| model.locked[i] = false);
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
                (Model::idx(lo)..Model::idx(hi)).for_each(|i| model.locked[i] = false);
                model.brk = target;
            }
        }
        Op::Mlock { first, n, lock } => apply_mlock(mm, model, first, n, lock),
        Op::Mremap {
            first,
            old_n,
            new_n,
            dest,
        } => apply_mremap(mm, model, first, old_n, new_n, dest),
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

fn apply_mlock(mm: &mut Mm, model: &mut Model, first: usize, n: usize, lock: bool) {
    let (a, b) = (first, (first + n).min(N));
    // VMA by VMA up to the first hole, then ENOMEM (pages past the window are never mapped).
    let hole = (a..b).find(|&i| model.pages[i].is_none());
    let r = if lock {
        do_mlock(mm, W + a * P, (b - a) * P, 0).map(|pop| {
            if let Some(pop) = pop {
                mm_populate(mm, pop.start, pop.len);
            }
        })
    } else {
        do_munlock(mm, W + a * P, (b - a) * P)
    };
    let want = if hole.is_some() {
        Err(MmError::NoMemory)
    } else {
        Ok(())
    };
    assert_eq!(r, want, "mlock({lock}) pages {a}..{b}");
    (a..hole.unwrap_or(b)).for_each(|i| model.locked[i] = lock);
}

fn apply_mremap(
    mm: &mut Mm,
    model: &mut Model,
    first: usize,
    old_n: usize,
    new_n: usize,
    dest: Option<usize>,
) {
    let old_n = old_n.min(N - first);
    let addr = W + first * P;
    let vma_end = mm.find_vma(addr).filter(|v| v.start <= addr).map(|v| v.end);
    let unmap = |model: &mut Model, a: usize, b: usize| {
        (a..b).for_each(|i| {
            model.pages[i] = None;
            model.locked[i] = false;
        })
    };
    match dest {
        None => {
            let new_n = new_n.min(N - first);
            let r = do_mremap(mm, addr, old_n * P, new_n * P, 0, 0);
            let Some(vma_end) = vma_end else {
                assert_eq!(r, Err(MmError::Fault));
                return;
            };
            if new_n <= old_n {
                assert_eq!(r.map(|r| r.addr), Ok(addr));
                unmap(model, first + new_n, first + old_n);
                return;
            }
            let end = addr + old_n * P;
            let want = if end > vma_end {
                Err(MmError::Fault)
            } else if end == vma_end
                && (first + old_n..first + new_n).all(|i| model.pages[i].is_none())
            {
                Ok(addr)
            } else {
                Err(MmError::NoMemory)
            };
            assert_eq!(r.map(|r| r.addr), want, "mremap in place");
            if want.is_ok() {
                if let Some(pop) = r.unwrap().populate {
                    mm_populate(mm, pop.start, pop.len);
                }
                let (prot, _) = model.pages[first].unwrap();
                let lock = model.locked[first];
                for i in first + old_n..first + new_n {
                    model.pages[i] = Some((prot, 0));
                    model.locked[i] = lock;
                }
            }
        }
        Some(d) => {
            let new_n = new_n.min(N - d);
            let new_addr = W + d * P;
            let r = do_mremap(
                mm,
                addr,
                old_n * P,
                new_n * P,
                MREMAP_MAYMOVE | MREMAP_FIXED,
                new_addr,
            );
            let Some(vma_end) = vma_end else {
                assert_eq!(r, Err(MmError::Fault));
                return;
            };
            if first + old_n > d && d + new_n > first {
                assert_eq!(r, Err(MmError::Invalid), "overlap");
                return;
            }
            // mremap_to: the destination goes first, then the tail beyond new_len.
            let src: Vec<_> = (first..first + old_n)
                .map(|i| (model.pages[i], model.locked[i]))
                .collect();
            unmap(model, d, d + new_n);
            let moved = old_n.min(new_n);
            unmap(model, first + moved, first + old_n);
            let vma_end = if new_addr > addr && new_addr < vma_end {
                new_addr
            } else {
                vma_end
            };
            if addr + moved * P > vma_end {
                assert_eq!(r, Err(MmError::Fault), "old range leaves its VMA");
                return;
            }
            assert_eq!(r.map(|r| r.addr), Ok(new_addr));
            if let Some(pop) = r.unwrap().populate {
                mm_populate(mm, pop.start, pop.len);
            }
            let (prot, _) = src[0].0.unwrap();
            let lock = src[0].1;
            unmap(model, first, first + moved);
            let tail = core::iter::repeat((Some((prot, 0)), lock));
            for (i, (page, l)) in src[..moved]
                .iter()
                .copied()
                .chain(tail)
                .take(new_n)
                .enumerate()
            {
                model.pages[d + i] = page;
                model.locked[d + i] = l;
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
                assert_eq!(
                    v.flags.contains(VM_LOCKED),
                    model.locked[i],
                    "lock at {addr:#x}"
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
        let mut model = Model {
            pages: [None; N],
            locked: [false; N],
            brk: B,
        };
        for op in &ops {
            apply(&mut mm, &mut model, op);
            check(&mm, &model);
        }
    }
}
