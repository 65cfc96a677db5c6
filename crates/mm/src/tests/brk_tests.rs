//! One test per conformance item 1–19 (brk) plus the brk side of 20–22 (VM_LOCKED growth).
use alloc::string::String;

use super::*;
use crate::brk::{check_data_rlimit, sys_brk};
use crate::fault::FaultAccess;
use crate::mm_struct::{Rlimit, TASK_SIZE};
use crate::mmap::{do_mmap, do_munmap, DEFERRED_UNMAP_MIN};
use crate::mprotect::do_mprotect;
use crate::populate::mm_populate;
use crate::proc_fmt::show_maps;

fn brk(mm: &mut Mm, b: usize) -> usize {
    sys_brk(mm, b).ret
}

fn maps(mm: &Mm) -> String {
    let mut s = String::new();
    show_maps(&mut s, mm).unwrap();
    s
}

fn anon_fixed(mm: &mut Mm, addr: usize, len: usize, prot: u32) {
    let r = do_mmap(mm, addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED).unwrap();
    assert_eq!(r.addr, addr);
}

#[test]
fn brk_01_query_returns_start_brk() {
    let mut mm = exec_mm();
    assert_eq!(brk(&mut mm, 0), B);
    assert_eq!(mm.brk, mm.start_brk);
    assert!(mm.find_vma_intersection(B, B + P).is_none());
}

#[test]
fn brk_02_below_start_brk_fails() {
    let mut mm = exec_mm();
    assert_eq!(brk(&mut mm, B + 2 * P), B + 2 * P);
    assert_eq!(brk(&mut mm, B - 1), B + 2 * P);
    assert_eq!(brk(&mut mm, 0x41_0000), B + 2 * P);
    assert_eq!(mm.brk, B + 2 * P);
}

#[test]
fn brk_03_back_to_start_removes_heap_vma() {
    let mut mm = exec_mm();
    assert_eq!(brk(&mut mm, B + 3 * P), B + 3 * P);
    assert!(maps(&mm).contains("[heap]"));
    assert_eq!(brk(&mut mm, B), B);
    assert!(mm.find_vma_intersection(B, B + 3 * P).is_none());
    assert!(!maps(&mm).contains("[heap]"));
}

#[test]
fn brk_04_absurd_values_fail() {
    let mut mm = exec_mm();
    let before = layout(&mm);
    for v in [
        1usize << 62,
        usize::MAX,
        usize::MAX - P,
        TASK_SIZE,
        TASK_SIZE + P,
        0xffff_0000_0000_0000,
    ] {
        assert_eq!(brk(&mut mm, v), B, "brk({v:#x})");
        assert_eq!(mm.brk, B);
    }
    assert_eq!(layout(&mm), before);
}

#[test]
fn brk_05_unaligned_break_keeps_heap_end_page_aligned() {
    let mut mm = exec_mm();
    assert_eq!(brk(&mut mm, B + 1), B + 1);
    let heap = mm.find_vma(B).unwrap();
    assert_eq!((heap.start, heap.end), (B, B + P));
    assert!(write_byte(&mut mm, B + 4095, 1).is_ok());
    assert_eq!(write_byte(&mut mm, B + 4096, 1), Err(FaultError::MapErr));
    // Same page: only mm.brk moves; no VMA change, no page-table call, no populate.
    mm.pt.calls.clear();
    let before = layout(&mm);
    let r = sys_brk(&mut mm, B + 2);
    assert_eq!((r.ret, r.populate), (B + 2, None));
    assert_eq!(mm.brk, B + 2);
    assert_eq!(layout(&mm), before);
    assert!(mm.pt.calls.is_empty());
}

#[test]
fn brk_06_glibc_unaligned_start_then_132k_steps() {
    let mut mm = exec_mm();
    let tls = B + 0x9a8;
    assert_eq!(brk(&mut mm, tls), tls);
    let mut cur = tls;
    for _ in 0..8 {
        cur += 132 * 1024;
        assert_eq!(brk(&mut mm, cur), cur);
    }
    let heap = mm.find_vma(B).unwrap();
    assert_eq!(
        (heap.start, heap.end),
        (B, crate::addr::page_align_up(cur).unwrap())
    );
    assert_eq!(brk(&mut mm, 0), cur);
}

#[test]
fn brk_07_shrink_then_regrow_zero_fills_above_new_break() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 4 * P);
    for i in 0..4 {
        write_byte(&mut mm, B + i * P, 10 + i as u8).unwrap();
    }
    assert_eq!(brk(&mut mm, B + P + 100), B + P + 100);
    assert!(
        mm.pt.pages.range(B + 2 * P..B + 4 * P).next().is_none(),
        "shrink freed the frames"
    );
    assert_eq!(brk(&mut mm, B + 4 * P), B + 4 * P);
    assert_eq!(read_byte(&mut mm, B).unwrap(), 10);
    assert_eq!(read_byte(&mut mm, B + P).unwrap(), 11);
    assert_eq!(read_byte(&mut mm, B + 2 * P).unwrap(), 0);
    assert_eq!(read_byte(&mut mm, B + 3 * P).unwrap(), 0);
}

#[test]
fn brk_08_shrink_across_split_vmas() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 2 * P);
    do_mprotect(&mut mm, B + P, P, PROT_READ).unwrap();
    assert_eq!(brk(&mut mm, B + 3 * P), B + 3 * P);
    assert_eq!(
        mm.vmas()
            .filter(|v| v.start >= B && v.start < B + 3 * P)
            .count(),
        3
    );
    assert_eq!(brk(&mut mm, B), B);
    assert!(mm.find_vma_intersection(B, B + 3 * P).is_none());
}

#[test]
fn brk_09_shrink_of_fully_unmapped_range_fails() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 2 * P);
    do_munmap(&mut mm, B, 2 * P).unwrap();
    assert_eq!(brk(&mut mm, B), B + 2 * P);
    assert_eq!(mm.brk, B + 2 * P);
}

#[test]
fn brk_10_shrink_removes_user_fixed_mapping_in_heap_range() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 4 * P);
    anon_fixed(&mut mm, B + 2 * P, P, PROT_READ);
    assert_eq!(brk(&mut mm, B + P), B + P);
    assert!(mm.find_vma_intersection(B + P, B + 4 * P).is_none());
    assert_eq!(mm.find_vma(B).unwrap().end, B + P);
}

#[test]
fn brk_11_failed_unmap_restores_break() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 2 * P);
    let before = layout(&mm);
    mm.pt.fail_unmap = true;
    assert_eq!(brk(&mut mm, B), B + 2 * P);
    assert_eq!(mm.brk, B + 2 * P);
    assert_eq!(layout(&mm), before);
    // A map-count refusal of a middle split fails the same way: a user mapping straddles the break.
    mm.pt.fail_unmap = false;
    assert_eq!(brk(&mut mm, B + 8 * P + 1), B + 8 * P + 1);
    anon_fixed(&mut mm, B + 6 * P, 4 * P, PROT_READ);
    mm.max_map_count = mm.map_count();
    assert_eq!(brk(&mut mm, B + 7 * P), B + 8 * P + 1);
    assert_eq!(mm.find_vma(B + 7 * P).unwrap().start, B + 6 * P);
}

#[test]
fn brk_12_growth_keeps_one_page_below_next_vma() {
    for (target, ok) in [(15, true), (16, false), (17, false)] {
        let mut mm = exec_mm();
        anon_fixed(&mut mm, B + 16 * P, P, PROT_READ | PROT_WRITE);
        let want = if ok { B + target * P } else { B };
        assert_eq!(brk(&mut mm, B + target * P), want, "target {target}");
    }
}

#[test]
fn brk_13_stack_guard_gap_below_growsdown_vma() {
    for (target, ok) in [(767, true), (768, false)] {
        let mut mm = exec_mm();
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN;
        do_mmap(&mut mm, B + 1024 * P, P, PROT_READ | PROT_WRITE, flags).unwrap();
        let want = if ok { B + target * P } else { B };
        assert_eq!(brk(&mut mm, B + target * P), want, "target {target}");
    }
}

#[test]
fn brk_14_rlimit_data_check_on_unaligned_break() {
    let mut mm = exec_mm();
    mm.end_data = mm.start_data + 10 * P; // check 1 uses these fields, not the VMAs
    let rlim = 15 * P + 100;
    mm.rlimits.data = Rlimit {
        cur: rlim,
        max: rlim,
    };
    assert_eq!(brk(&mut mm, B + 5 * P + 100), B + 5 * P + 100);
    assert_eq!(brk(&mut mm, B + 5 * P + 101), B + 5 * P + 100);
    assert!(check_data_rlimit(rlim, B + 5 * P + 101, B, 10 * P, 0).is_err());
    assert!(check_data_rlimit(usize::MAX, usize::MAX, B, 10 * P, 0).is_ok());
}

#[test]
fn brk_15_rlimit_data_counts_private_writable_mmaps() {
    let mut mm = exec_mm();
    mm.rlimits.data = Rlimit {
        cur: 64 * P,
        max: 64 * P,
    };
    assert_eq!(mm.counters().data_vm, 2);
    let r = do_mmap(
        &mut mm,
        0,
        62 * P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
    )
    .unwrap();
    assert_eq!(mm.counters().data_vm, 64);
    assert_eq!(brk(&mut mm, B + P), B);
    do_munmap(&mut mm, r.addr, P).unwrap();
    assert_eq!(brk(&mut mm, B + P), B + P);
}

#[test]
fn brk_16_rlimit_as_map_count_and_overcommit_fail_growth() {
    let mut mm = exec_mm();
    let total = mm.counters().total_vm;
    mm.rlimits.address_space = Rlimit {
        cur: (total + 1) * P,
        max: usize::MAX,
    };
    assert_eq!(brk(&mut mm, B + P), B + P);
    assert_eq!(brk(&mut mm, B + 2 * P), B + P);

    let mut mm = exec_mm();
    mm.max_map_count = mm.map_count() - 1;
    assert_eq!(brk(&mut mm, B + P), B);

    let mut mm = exec_mm();
    mm.totalram_pages = 4;
    assert_eq!(brk(&mut mm, B + 5 * P), B);
    assert_eq!(brk(&mut mm, B + 4 * P), B + 4 * P);
}

#[test]
fn brk_17_repeated_growth_expands_one_vma() {
    let mut mm = exec_mm();
    brk(&mut mm, B + P);
    let count = mm.map_count();
    for i in 2..100 {
        assert_eq!(brk(&mut mm, B + i * P + 3), B + i * P + 3);
    }
    assert_eq!(mm.map_count(), count);
    let heap = mm.find_vma(B).unwrap();
    assert_eq!((heap.start, heap.end), (B, B + 100 * P));
}

#[test]
fn brk_18_fresh_heap_page_reads_zero_without_a_frame() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 2 * P);
    assert_eq!(read_byte(&mut mm, B).unwrap(), 0);
    assert_eq!(mm.pt.pages[&B], Page::Zero);
    assert_eq!(mm.pt.frames(), 0);
    write_byte(&mut mm, B + 8, 7).unwrap();
    assert_eq!(mm.pt.frames(), 1);
    assert_eq!(read_byte(&mut mm, B).unwrap(), 7);
}

#[test]
fn brk_19_musl_guard_page_inside_heap_keeps_growth_working() {
    let mut mm = exec_mm();
    assert_eq!(brk(&mut mm, 0), B);
    assert_eq!(brk(&mut mm, B + 2 * P), B + 2 * P);
    anon_fixed(&mut mm, B, P, PROT_NONE);
    for i in 3..10 {
        assert_eq!(brk(&mut mm, B + i * P), B + i * P);
    }
    let heap = mm.find_vma(B + P).unwrap();
    assert_eq!((heap.start, heap.end), (B + P, B + 9 * P));
    assert_eq!(maps(&mm).matches("[heap]").count(), 2);
    assert_eq!(brk(&mut mm, B), B);
    assert!(mm.find_vma_intersection(B, B + 9 * P).is_none());
}

#[test]
fn brk_20_locked_growth_returns_populate_and_mm_populate_faults_in() {
    let mut mm = exec_mm();
    mm.def_flags = VM_LOCKED;
    mm.rlimits.memlock = Rlimit::INFINITY;
    let r = sys_brk(&mut mm, B + 256 * P);
    assert_eq!(r.ret, B + 256 * P);
    let pop = r.populate.expect("locked growth asks for population");
    assert_eq!((pop.start, pop.len), (B, 256 * P));
    assert_eq!(mm.counters().locked_vm, 256);
    assert_eq!(mm.pt.frames(), 0, "nothing is populated under the lock");
    mm_populate(&mut mm, pop.start, pop.len);
    assert_eq!(mm.pt.frames(), 256);
    // Shrinking a locked heap lowers locked_vm.
    brk(&mut mm, B + 56 * P);
    assert_eq!(mm.counters().locked_vm, 56);
}

#[test]
fn brk_21_lockonfault_growth_counts_locked_but_stays_lazy() {
    let mut mm = exec_mm();
    mm.def_flags = VM_LOCKED | VM_LOCKONFAULT;
    let r = sys_brk(&mut mm, B + 16 * P);
    assert_eq!(r.ret, B + 16 * P);
    if let Some(p) = r.populate {
        mm_populate(&mut mm, p.start, p.len);
    }
    assert_eq!(mm.counters().locked_vm, 16);
    assert_eq!(mm.pt.frames(), 0);
}

#[test]
fn brk_22_memlock_limit_unless_privileged() {
    let mut mm = exec_mm();
    mm.def_flags = VM_LOCKED;
    mm.rlimits.memlock = Rlimit {
        cur: 8 * P,
        max: 8 * P,
    };
    assert_eq!(brk(&mut mm, B + 8 * P), B + 8 * P);
    assert_eq!(brk(&mut mm, B + 9 * P), B + 8 * P);
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    assert_eq!(
        do_mmap(&mut mm, 0, P, PROT_READ, flags),
        Err(MmError::Again)
    );
    mm.privileged = true;
    assert_eq!(brk(&mut mm, B + 9 * P), B + 9 * P);
}

#[test]
fn brk_growth_after_user_munmap_of_heap_top_creates_new_vma() {
    let mut mm = exec_mm();
    brk(&mut mm, B + 4 * P);
    do_munmap(&mut mm, B + 3 * P, P).unwrap();
    assert_eq!(brk(&mut mm, B + 6 * P), B + 6 * P);
    assert_eq!(
        layout(&mm)
            .iter()
            .filter(|v| v.0 >= B && v.0 < B + 6 * P)
            .count(),
        2
    );
    let _ = FaultAccess::Read;
}

/// What a shrink leaves for after the downgrade (`brk_locked`, which `sys_brk` wraps).
fn shrink_deferred(mm: &mut Mm, b: usize) -> Option<crate::mmap::DeferredUnmap<()>> {
    match crate::brk::brk_locked(mm, b) {
        Some(crate::brk::BrkDone::Shrunk(d)) => d,
        _ => None,
    }
}

#[test]
fn brk_shrink_leaves_the_translations_for_after_the_downgrade() {
    let mut mm = exec_mm();
    let n = DEFERRED_UNMAP_MIN / P;
    brk(&mut mm, B + (n + 1) * P);
    mm.pt
        .populate_range(B, B + (n + 1) * P, VM_READ | VM_WRITE)
        .unwrap();
    let unmap = shrink_deferred(&mut mm, B + P);
    assert_eq!(mm.brk, B + P);
    // The heap is one page already; its old pages are still mapped until the caller goes on
    // under the shared lock.
    assert_eq!(mm.find_vma(B).unwrap().end, B + P);
    assert_eq!(mm.pt.frames(), n + 1);
    let d = unmap.expect("a shrink leaves its translations");
    assert_eq!((d.start, d.end), (B + P, B + (n + 1) * P));
    d.finish(&mut mm.pt);
    assert_eq!(mm.pt.frames(), 1);
    // A smaller shrink clears them at once.
    brk(&mut mm, B + n * P);
    mm.pt
        .populate_range(B, B + n * P, VM_READ | VM_WRITE)
        .unwrap();
    assert!(shrink_deferred(&mut mm, B + P).is_none());
    assert_eq!((mm.brk, mm.pt.frames()), (B + P, 1));
    // Page tables that do not defer (these) get the whole shrink from sys_brk.
    brk(&mut mm, B + (n + 1) * P);
    mm.pt
        .populate_range(B, B + (n + 1) * P, VM_READ | VM_WRITE)
        .unwrap();
    assert_eq!(brk(&mut mm, B + P), B + P);
    assert!(mm.pending_unmap.is_none());
    assert_eq!(mm.pt.frames(), 1);
    // A failure leaves nothing, and the break where it was.
    brk(&mut mm, B + (n + 1) * P);
    mm.pt.fail_unmap = true;
    assert_eq!(brk(&mut mm, B), B + (n + 1) * P);
    assert!(mm.pending_unmap.is_none());
}
