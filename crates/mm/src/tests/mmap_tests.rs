//! Tree operations, get_unmapped_area, mmap/munmap/mprotect limits, faults (items 26) and the
//! /proc formatters (item 28).
use alloc::string::String;

use super::*;
use crate::fault::expand_downwards;
use crate::mm_struct::{Rlimit, DAC_MMAP_MIN_ADDR, MMAP_MIN_ADDR, TASK_SIZE};
use crate::mmap::{do_mmap, do_munmap, get_unmapped_area, split_vma};
use crate::mprotect::do_mprotect;
use crate::proc_fmt::{show_maps, show_status_vm, RssInfo};
use crate::vma_tree::STACK_GUARD_GAP;

const RW: u32 = PROT_READ | PROT_WRITE;
const ANON: u32 = MAP_PRIVATE | MAP_ANONYMOUS;

fn fixed(mm: &mut Mm, addr: usize, len: usize, prot: u32) -> Result<usize, MmError> {
    do_mmap(mm, addr, len, prot, ANON | MAP_FIXED).map(|r| r.addr)
}

const X: usize = 0x1000_0000;

#[test]
fn mmap_merges_with_both_neighbours() {
    let mut mm = bare_mm();
    fixed(&mut mm, X, P, RW).unwrap();
    fixed(&mut mm, X + 2 * P, P, RW).unwrap();
    assert_eq!(mm.map_count(), 2);
    fixed(&mut mm, X + P, P, RW).unwrap();
    assert_eq!(layout(&mm), [(X, X + 3 * P, VM_READ | VM_WRITE)]);
}

#[test]
fn munmap_middle_splits_and_frees() {
    let mut mm = bare_mm();
    fixed(&mut mm, X, 3 * P, RW).unwrap();
    for i in 0..3 {
        write_byte(&mut mm, X + i * P, 1).unwrap();
    }
    do_munmap(&mut mm, X + P, P).unwrap();
    assert_eq!(
        layout(&mm),
        [
            (X, X + P, VM_READ | VM_WRITE),
            (X + 2 * P, X + 3 * P, VM_READ | VM_WRITE)
        ]
    );
    assert!(!mm.pt.pages.contains_key(&(X + P)));
    assert_eq!(mm.pt.frames(), 2);
    assert_eq!(mm.counters().total_vm, 2);
    // Refilling the hole merges everything back; map_count limit refuses a middle split.
    fixed(&mut mm, X + P, P, RW).unwrap();
    assert_eq!(mm.map_count(), 1);
    mm.max_map_count = 1;
    assert_eq!(do_munmap(&mut mm, X + P, P), Err(MmError::NoMemory));
    assert_eq!(do_munmap(&mut mm, X, P), Ok(()));
    assert_eq!(do_munmap(&mut mm, X + 1, P), Err(MmError::Invalid));
    assert_eq!(do_munmap(&mut mm, X, 0), Err(MmError::Invalid));
    assert_eq!(do_munmap(&mut mm, 0x7000_0000, P), Ok(()));
}

#[test]
fn split_vma_respects_map_count() {
    let mut mm = bare_mm();
    fixed(&mut mm, X, 4 * P, RW).unwrap();
    mm.max_map_count = 1;
    assert_eq!(split_vma(&mut mm, X, X + P), Err(MmError::NoMemory));
    mm.max_map_count = 2;
    // A split leaves two mergeable halves, which validate_mm rejects; check the raw tree instead.
    crate::mmap::__split_vma(&mut mm, X, X + P);
    assert_eq!(mm.map_count(), 2);
    assert_eq!(mm.find_vma(X + P).unwrap().pgoff, (X + P) >> 12);
    crate::mmap::vma_merge(&mut mm, X + P);
    assert_eq!(mm.map_count(), 1);
}

#[test]
fn mprotect_splits_then_merges_back() {
    let mut mm = bare_mm();
    fixed(&mut mm, X, 4 * P, RW).unwrap();
    do_mprotect(&mut mm, X + P, 2 * P, PROT_READ).unwrap();
    assert_eq!(mm.map_count(), 3);
    assert_eq!(mm.counters().data_vm, 2);
    do_mprotect(&mut mm, X + P, 2 * P, RW).unwrap();
    assert_eq!(layout(&mm), [(X, X + 4 * P, VM_READ | VM_WRITE)]);
    assert_eq!(mm.counters().data_vm, 4);
    // Write to the read-only part faults with ACCERR.
    do_mprotect(&mut mm, X, P, PROT_READ).unwrap();
    assert_eq!(write_byte(&mut mm, X, 1), Err(FaultError::AccErr));
    // At the map-count limit a split is refused but a merge into a neighbour is not.
    mm.max_map_count = mm.map_count();
    assert_eq!(
        do_mprotect(&mut mm, X + 2 * P, P, PROT_READ),
        Err(MmError::NoMemory)
    );
    assert_eq!(do_mprotect(&mut mm, X + P, P, PROT_READ), Ok(()));
}

#[test]
fn mprotect_errors_hole_and_eacces() {
    let mut mm = bare_mm();
    fixed(&mut mm, X, 2 * P, RW).unwrap();
    fixed(&mut mm, X + 3 * P, P, RW).unwrap();
    // Hole after the first VMA: ENOMEM, but the first VMA was changed (Linux applies VMA by VMA).
    assert_eq!(
        do_mprotect(&mut mm, X, 4 * P, PROT_READ),
        Err(MmError::NoMemory)
    );
    assert_eq!(mm.find_vma(X).unwrap().flags & VM_ACCESS_FLAGS, VM_READ);
    assert_eq!(
        mm.find_vma(X + 3 * P).unwrap().flags & VM_ACCESS_FLAGS,
        VM_READ | VM_WRITE
    );
    assert_eq!(
        do_mprotect(&mut mm, X + 2 * P, P, PROT_READ),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        do_mprotect(&mut mm, X + 1, P, PROT_READ),
        Err(MmError::Invalid)
    );
    assert_eq!(do_mprotect(&mut mm, X, P, 0x40), Err(MmError::Invalid));
    // A VMA that may never be executable (noexec file): EACCES.
    let flags = VM_READ | VM_MAYREAD | VM_MAYWRITE;
    crate::mmap::mmap_region(&mut mm, X + 8 * P, P, flags, 0, Some("/x".into())).unwrap();
    assert_eq!(
        do_mprotect(&mut mm, X + 8 * P, P, PROT_READ | PROT_EXEC),
        Err(MmError::Access)
    );
}

#[test]
fn get_unmapped_area_top_down_hint_fixed_and_guard_gap() {
    let mut mm = bare_mm();
    let base = mm.mmap_base;
    let a = do_mmap(&mut mm, 0, 2 * P, RW, ANON).unwrap().addr;
    assert_eq!(a, base - 2 * P);
    let b = do_mmap(&mut mm, 0, P, PROT_READ, ANON).unwrap().addr;
    assert_eq!(b, a - P);
    // A free hint is honoured; a taken one falls back to the top-down search.
    // (round_hint_to_min truncates the hint to its page first.)
    assert_eq!(do_mmap(&mut mm, X + 5, P, RW, ANON).unwrap().addr, X);
    assert_eq!(do_mmap(&mut mm, X, P, RW, ANON).unwrap().addr, b - P);
    // Hints below mmap_min_addr are raised to it.
    assert_eq!(
        do_mmap(&mut mm, 0x1000, P, RW, ANON).unwrap().addr,
        MMAP_MIN_ADDR
    );
    // MAP_FIXED_NOREPLACE over a mapping: EEXIST; MAP_FIXED: misaligned EINVAL, too low EPERM.
    assert_eq!(
        do_mmap(&mut mm, X, P, RW, ANON | MAP_FIXED_NOREPLACE),
        Err(MmError::Exists)
    );
    assert_eq!(
        do_mmap(&mut mm, X + 1, P, RW, ANON | MAP_FIXED),
        Err(MmError::Invalid)
    );
    // Below dac_mmap_min_addr (page 0) only root (CAP_SYS_RAWIO) may map; from there up to
    // mmap_min_addr anyone may, with MAP_FIXED.
    assert_eq!(
        do_mmap(&mut mm, 0, P, RW, ANON | MAP_FIXED),
        Err(MmError::Permission)
    );
    assert_eq!(
        do_mmap(&mut mm, DAC_MMAP_MIN_ADDR, P, RW, ANON | MAP_FIXED).map(|r| r.addr),
        Ok(DAC_MMAP_MIN_ADDR)
    );
    mm.privileged = true;
    assert_eq!(
        do_mmap(&mut mm, 0, P, RW, ANON | MAP_FIXED).map(|r| r.addr),
        Ok(0)
    );
    mm.privileged = false;
    assert_eq!(
        do_mmap(&mut mm, TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        do_mmap(&mut mm, 0, TASK_SIZE, RW, ANON),
        Err(MmError::NoMemory)
    );
    assert_eq!(do_mmap(&mut mm, 0, 0, RW, ANON), Err(MmError::Invalid));
    assert_eq!(
        do_mmap(&mut mm, 0, usize::MAX, RW, ANON),
        Err(MmError::NoMemory)
    );
    // MAP_SHARED_VALIDATE is MAP_SHARED whose flags are all known.
    assert!(do_mmap(&mut mm, 0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS).is_ok());
    assert_eq!(
        do_mmap(&mut mm, 0, P, RW, 0x7 | MAP_ANONYMOUS),
        Err(MmError::Invalid)
    );
    // A stack's guard gap is kept free by the search and by hints.
    let mut mm = bare_mm();
    let top = mm.mmap_base;
    do_mmap(&mut mm, top - P, P, RW, ANON | MAP_FIXED | MAP_GROWSDOWN).unwrap();
    let below = get_unmapped_area(&mm, 0, P, 0).unwrap();
    assert_eq!(below, top - P - STACK_GUARD_GAP - P);
    assert_eq!(get_unmapped_area(&mm, top - 2 * P, P, 0).unwrap(), below);
}

#[test]
fn mmap_limits_as_map_count_memlock() {
    let mut mm = bare_mm();
    mm.rlimits.address_space = Rlimit {
        cur: 4 * P,
        max: usize::MAX,
    };
    fixed(&mut mm, X, 4 * P, RW).unwrap();
    assert_eq!(do_mmap(&mut mm, 0, P, RW, ANON), Err(MmError::NoMemory));
    // MAP_FIXED over existing pages only counts the growth.
    assert_eq!(fixed(&mut mm, X, 4 * P, PROT_READ), Ok(X));
    let mut mm = bare_mm();
    fixed(&mut mm, X, P, RW).unwrap();
    fixed(&mut mm, X + 2 * P, P, PROT_READ).unwrap();
    mm.max_map_count = 1;
    assert_eq!(do_mmap(&mut mm, 0, P, RW, ANON), Err(MmError::NoMemory));
    let mut mm = bare_mm();
    mm.rlimits.memlock = Rlimit { cur: 0, max: 0 };
    assert_eq!(
        do_mmap(&mut mm, 0, P, RW, ANON | MAP_LOCKED),
        Err(MmError::Permission)
    );
    mm.rlimits.memlock = Rlimit {
        cur: 2 * P,
        max: 2 * P,
    };
    assert_eq!(
        do_mmap(&mut mm, 0, 3 * P, RW, ANON | MAP_LOCKED),
        Err(MmError::Again)
    );
    let r = do_mmap(&mut mm, 0, 2 * P, RW, ANON | MAP_LOCKED).unwrap();
    assert_eq!(r.populate.map(|p| p.len), Some(2 * P));
    assert_eq!(mm.counters().locked_vm, 2);
    let r = do_mmap(&mut mm, 0, P, RW, ANON | MAP_POPULATE).unwrap();
    assert!(r.populate.is_some());
    mm.totalram_pages = 1;
    assert_eq!(do_mmap(&mut mm, 0, 2 * P, RW, ANON), Err(MmError::NoMemory));
    assert!(
        do_mmap(&mut mm, 0, 2 * P, PROT_READ, ANON).is_ok(),
        "read-only is not committed"
    );
}

#[test]
fn heap_does_not_merge_with_adjacent_anon_mmap() {
    let mut mm = exec_mm();
    crate::brk::sys_brk(&mut mm, B + 2 * P);
    fixed(&mut mm, B + 2 * P, P, RW).unwrap();
    assert_eq!(
        mm.vmas()
            .filter(|v| v.start >= B && v.end <= B + 3 * P)
            .count(),
        2
    );
}

#[test]
fn fault_26_maperr_accerr_and_exec() {
    let mut mm = exec_mm();
    assert_eq!(
        fault(&mut mm, 0x30_0000, FaultAccess::Read),
        Err(FaultError::MapErr)
    );
    assert_eq!(
        fault(&mut mm, 0x40_0000, FaultAccess::Write),
        Err(FaultError::AccErr)
    );
    assert_eq!(
        fault(&mut mm, 0x41_0000, FaultAccess::Exec),
        Err(FaultError::AccErr)
    );
    assert_eq!(fault(&mut mm, 0x40_0000, FaultAccess::Exec), Ok(()));
    assert_eq!(FaultError::MapErr.si_code(), 1);
    assert_eq!(FaultError::AccErr.si_code(), 2);
    // Execute-only memory: readable without EPAN, not with it.
    let flags = VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    crate::mmap::mmap_region(&mut mm, X, P, flags, X >> 12, None).unwrap();
    assert!(find_vma_for_fault(&mut mm, X, FaultAccess::Read, false).is_ok());
    assert_eq!(
        find_vma_for_fault(&mut mm, X, FaultAccess::Read, true).err(),
        Some(FaultError::AccErr)
    );
}

#[test]
fn fault_stack_growth_rlimit_and_guard_gap() {
    let mut mm = exec_mm();
    let lo = STACK_TOP - 32 * P;
    let stk = mm.counters().stack_vm;
    assert_eq!(write_byte(&mut mm, lo - 10 * P, 1), Ok(()));
    assert_eq!(mm.find_vma(lo - 10 * P).unwrap().start, lo - 10 * P);
    assert_eq!(mm.counters().stack_vm, stk + 10);
    // RLIMIT_STACK (8 MiB = 2048 pages) bounds the size.
    assert_eq!(write_byte(&mut mm, STACK_TOP - 2048 * P, 1), Ok(()));
    assert_eq!(
        write_byte(&mut mm, STACK_TOP - 2049 * P, 1),
        Err(FaultError::MapErr)
    );
    // An accessible mapping within stack_guard_gap below stops growth.
    let low = STACK_TOP - 2048 * P - STACK_GUARD_GAP - 4 * P;
    fixed(&mut mm, low, P, RW).unwrap();
    mm.rlimits.stack = Rlimit::INFINITY;
    assert_eq!(
        write_byte(&mut mm, low + P + STACK_GUARD_GAP - P, 1),
        Err(FaultError::MapErr)
    );
    assert_eq!(write_byte(&mut mm, low + P + STACK_GUARD_GAP, 1), Ok(()));
    let not_stack = mm.find_vma(low).unwrap().start;
    assert_eq!(
        expand_downwards(&mut mm, not_stack, low - P),
        Err(MmError::Fault)
    );
}

#[test]
fn proc_28_maps_and_status_format() {
    let mut mm = exec_mm();
    crate::brk::sys_brk(&mut mm, B + 2 * P + 5);
    let mut s = String::new();
    show_maps(&mut s, &mm).unwrap();
    let lines: alloc::vec::Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 4);
    let pad = |prefix: &str, name: &str| alloc::format!("{prefix:<72} {name}");
    assert_eq!(
        lines[0],
        pad("00400000-00402000 r-xp 00000000 00:00 0 ", "/bin/prog")
    );
    assert_eq!(
        lines[1],
        pad("00410000-00412000 rw-p 00010000 00:00 0 ", "/bin/prog")
    );
    assert_eq!(
        lines[2],
        pad("00500000-00503000 rw-p 00000000 00:00 0 ", "[heap]")
    );
    assert_eq!(
        lines[3],
        pad(
            "7fffeffe0000-7ffff0000000 rw-p 00000000 00:00 0 ",
            "[stack]"
        )
    );
    fixed(&mut mm, X, P, PROT_READ).unwrap();
    let mut s = String::new();
    show_maps(&mut s, &mm).unwrap();
    assert!(s.contains("\n10000000-10001000 r--p 00000000 00:00 0 \n"));

    let mut st = String::new();
    let rss = RssInfo {
        anon: 3,
        file: 1,
        ..RssInfo::default()
    };
    show_status_vm(&mut st, &mm, &rss).unwrap();
    // 2 text + 2 data + 3 heap + 32 stack + 1 = 40 pages.
    assert!(st.starts_with("VmPeak:\t     160 kB\nVmSize:\t     160 kB\nVmLck:\t       0 kB\n"));
    assert!(st.contains("VmRSS:\t      16 kB\nRssAnon:\t      12 kB\n"));
    assert!(st.contains(
        "VmData:\t      20 kB\nVmStk:\t     128 kB\nVmExe:\t       8 kB\nVmLib:\t       0 kB\n"
    ));
    assert!(st.ends_with("VmSwap:\t       0 kB\n"));
}

#[test]
fn a_fault_hint_serves_until_the_tree_changes() {
    use crate::fault::{find_vma_for_fault_shared, FaultHint};
    let mut mm = bare_mm();
    fixed(&mut mm, X, 4 * P, RW).unwrap();
    let mut hint = FaultHint::EMPTY;
    let rw = mm.find_vma(X).unwrap().flags;
    let get = |mm: &Mm, addr, access, hint: &mut FaultHint| {
        find_vma_for_fault_shared(mm, addr, access, false, hint)
    };
    assert_eq!(get(&mm, X + P, FaultAccess::Read, &mut hint), Some(Ok(rw)));
    // The VMA's first anonymous page takes the exclusive way, which gives it its anon_vma.
    assert_eq!(get(&mm, X + P, FaultAccess::Write, &mut hint), None);
    fault(&mut mm, X + P, FaultAccess::Write).unwrap();
    assert_eq!(get(&mm, X + P, FaultAccess::Write, &mut hint), Some(Ok(rw)));
    // A hit needs no tree: the same answer from the hint alone.
    assert_eq!(
        get(&mm, X + 3 * P, FaultAccess::Write, &mut hint),
        Some(Ok(rw))
    );
    // mprotect changes the tree: the hint is stale and the new flags are read.
    do_mprotect(&mut mm, X, 4 * P, PROT_READ).unwrap();
    assert_eq!(
        get(&mm, X + 3 * P, FaultAccess::Write, &mut hint),
        Some(Err(FaultError::AccErr))
    );
    let ro = mm.find_vma(X).unwrap().flags;
    assert!(!ro.contains(VM_WRITE));
    assert_eq!(get(&mm, X, FaultAccess::Read, &mut hint), Some(Ok(ro)));
    do_munmap(&mut mm, X, 4 * P).unwrap();
    assert_eq!(
        get(&mm, X, FaultAccess::Read, &mut hint),
        None,
        "no VMA: the exclusive way"
    );
}
