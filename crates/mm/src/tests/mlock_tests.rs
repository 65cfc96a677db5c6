//! mlock, mlock2, munlock, mlockall and munlockall: conformance items 20–25 through the calls
//! themselves, VMA splitting and merging as lock state changes, and `locked_vm`.
use super::*;
use crate::brk::sys_brk;
use crate::fault::FaultAccess;
use crate::mlock::*;
use crate::mm_struct::{Rlimit, TASK_SIZE};
use crate::mmap::{do_mmap, do_munmap};
use crate::mprotect::do_mprotect;
use crate::populate::{mm_populate, PopulateRange};

const RW: u32 = PROT_READ | PROT_WRITE;
const A: usize = 0x1000_0000;

fn anon(mm: &mut Mm, addr: usize, pages: usize, prot: u32) {
    let r = do_mmap(
        mm,
        addr,
        pages * P,
        prot,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    )
    .unwrap();
    assert_eq!(r.addr, addr);
}

fn memlock(mm: &mut Mm, pages: usize) {
    mm.rlimits.memlock = Rlimit {
        cur: pages * P,
        max: pages * P,
    };
}

fn locked(mm: &Mm) -> usize {
    mm.counters().locked_vm
}

fn run(mm: &mut Mm, r: Option<PopulateRange>) {
    if let Some(r) = r {
        mm_populate(mm, r.start, r.len);
    }
}

/// `(start, end, lock bits)` of every VMA in `[lo, hi)`.
fn locks(mm: &Mm, lo: usize, hi: usize) -> Vec<(usize, usize, VmFlags)> {
    mm.vmas()
        .filter(|v| v.start < hi && v.end > lo)
        .map(|v| (v.start, v.end, v.flags & VM_LOCKED_MASK))
        .collect()
}

#[test]
fn mlock_20_mlockall_current_future_then_brk_growth_populates_at_once() {
    let mut mm = exec_mm();
    let r = do_mlockall(&mut mm, MCL_CURRENT | MCL_FUTURE).unwrap();
    assert_eq!(
        r,
        Some(PopulateRange {
            start: 0,
            len: TASK_SIZE
        })
    );
    assert!(mm.vmas().all(|v| v.flags.contains(VM_LOCKED)));
    assert_eq!(locked(&mm), mm.counters().total_vm);
    run(&mut mm, r);
    let (frames, lck) = (mm.pt.frames(), locked(&mm));
    let b = sys_brk(&mut mm, B + (1 << 20));
    assert_eq!(b.ret, B + (1 << 20));
    run(&mut mm, b.populate);
    assert_eq!(mm.pt.frames() - frames, 256, "VmRSS +1024 kB");
    assert_eq!(locked(&mm) - lck, 256, "VmLck +1024 kB");
    // Touching the heap takes no fault: every page is already there and writable.
    assert!((B..B + (1 << 20))
        .step_by(P)
        .all(|a| mm.pt.pages.get(&a) == Some(&Page::Frame(0))));
}

#[test]
fn mlock_21_future_onfault_counts_locked_but_stays_lazy() {
    let mut mm = exec_mm();
    assert_eq!(do_mlockall(&mut mm, MCL_FUTURE | MCL_ONFAULT), Ok(None));
    assert_eq!(mm.def_flags, VM_LOCKED | VM_LOCKONFAULT);
    assert_eq!(locked(&mm), 0, "MCL_FUTURE alone locks nothing that exists");
    let b = sys_brk(&mut mm, B + (1 << 20));
    assert_eq!(b.ret, B + (1 << 20));
    run(&mut mm, b.populate);
    assert_eq!(locked(&mm), 256);
    assert_eq!(mm.pt.frames(), 0, "nothing resident until touched");
    write_byte(&mut mm, B + 5 * P, 1).unwrap();
    assert_eq!(mm.pt.frames(), 1);
}

#[test]
fn mlock_22_memlock_limit_on_future_growth_unless_privileged() {
    let mut mm = exec_mm();
    memlock(&mut mm, 16);
    assert_eq!(do_mlockall(&mut mm, MCL_FUTURE), Ok(None));
    assert_eq!(sys_brk(&mut mm, B + 16 * P).ret, B + 16 * P);
    // locked_vm + len > limit: growth fails, the break stays, nothing is mapped.
    let b = sys_brk(&mut mm, B + 17 * P);
    assert_eq!((b.ret, b.populate), (B + 16 * P, None));
    assert!(mm.find_vma_intersection(B + 16 * P, B + 17 * P).is_none());
    let flags = MAP_PRIVATE | MAP_ANONYMOUS;
    assert_eq!(
        do_mmap(&mut mm, 0, P, RW, flags).map(|r| r.addr),
        Err(MmError::Again)
    );
    mm.privileged = true;
    assert_eq!(sys_brk(&mut mm, B + 32 * P).ret, B + 32 * P);
    assert!(do_mmap(&mut mm, 0, P, RW, flags).is_ok());
    assert_eq!(locked(&mm), 33);
    mm.validate_mm().unwrap();
}

#[test]
fn mlock_23_mlockall_current_checks_total_vm_and_zero_limit() {
    let mut mm = exec_mm();
    let total = mm.counters().total_vm;
    memlock(&mut mm, total - 1);
    let before = layout(&mm);
    assert_eq!(do_mlockall(&mut mm, MCL_CURRENT), Err(MmError::NoMemory));
    assert_eq!(layout(&mm), before);
    assert_eq!(locked(&mm), 0);
    // MCL_FUTURE alone is not checked against the limit at call time.
    assert_eq!(do_mlockall(&mut mm, MCL_FUTURE), Ok(None));
    memlock(&mut mm, total);
    assert!(do_mlockall(&mut mm, MCL_CURRENT).is_ok());
    assert_eq!(locked(&mm), total);
    memlock(&mut mm, 0);
    assert_eq!(do_mlockall(&mut mm, MCL_CURRENT), Err(MmError::Permission));
    assert_eq!(do_mlockall(&mut mm, MCL_FUTURE), Err(MmError::Permission));
    assert_eq!(do_mlock(&mut mm, B, P, 0), Err(MmError::Permission));
    // munlock and munlockall need no privilege.
    assert_eq!(do_munlockall(&mut mm), Ok(()));
    assert_eq!(locked(&mm), 0);
    mm.privileged = true;
    assert!(do_mlockall(&mut mm, MCL_CURRENT).is_ok());
    assert_eq!(locked(&mm), total);
}

#[test]
fn mlock_24_mlockall_invalid_flags() {
    let mut mm = exec_mm();
    for f in [0, 8, MCL_CURRENT | 8, 1 << 31, MCL_ONFAULT] {
        assert_eq!(do_mlockall(&mut mm, f), Err(MmError::Invalid), "{f:#x}");
    }
    assert_eq!(mm.def_flags, VmFlags::empty());
    assert!(do_mlockall(&mut mm, MCL_CURRENT | MCL_ONFAULT).is_ok());
    assert!(mm
        .vmas()
        .all(|v| v.flags.contains(VM_LOCKED | VM_LOCKONFAULT)));
}

#[test]
fn mlock_25_later_mlockall_without_future_and_munlockall() {
    let mut mm = exec_mm();
    do_mlockall(&mut mm, MCL_CURRENT | MCL_FUTURE).unwrap();
    assert_eq!(mm.def_flags, VM_LOCKED);
    // A later mlockall without MCL_FUTURE clears future locking.
    do_mlockall(&mut mm, MCL_CURRENT).unwrap();
    assert_eq!(mm.def_flags, VmFlags::empty());
    let b = sys_brk(&mut mm, B + 4 * P);
    assert_eq!(b.populate, None, "growth is lazy again");
    do_mlockall(&mut mm, MCL_CURRENT | MCL_FUTURE).unwrap();
    let b = sys_brk(&mut mm, B + 8 * P);
    run(&mut mm, b.populate);
    let lck = locked(&mm);
    // Shrinking a locked heap lowers VmLck.
    assert_eq!(sys_brk(&mut mm, B + 6 * P).ret, B + 6 * P);
    assert_eq!(locked(&mm), lck - 2);
    // munlockall: VmLck 0, no future locking, later growth lazy.
    do_munlockall(&mut mm).unwrap();
    assert_eq!(locked(&mm), 0);
    assert_eq!(mm.def_flags, VmFlags::empty());
    assert!(mm.vmas().all(|v| !v.flags.intersects(VM_LOCKED_MASK)));
    let frames = mm.pt.frames();
    let b = sys_brk(&mut mm, B + 12 * P);
    assert_eq!(b.populate, None);
    assert_eq!(mm.pt.frames(), frames);
    mm.validate_mm().unwrap();
}

#[test]
fn mlock_splits_merges_and_counts() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 8, RW);
    let r = do_mlock(&mut mm, A + 2 * P, 2 * P, 0).unwrap();
    assert_eq!(
        r,
        Some(PopulateRange {
            start: A + 2 * P,
            len: 2 * P
        })
    );
    assert_eq!(
        locks(&mm, A, A + 8 * P),
        [
            (A, A + 2 * P, VmFlags::empty()),
            (A + 2 * P, A + 4 * P, VM_LOCKED),
            (A + 4 * P, A + 8 * P, VmFlags::empty())
        ]
    );
    assert_eq!(locked(&mm), 2);
    run(&mut mm, r);
    assert_eq!(mm.pt.frames(), 2);
    // Unaligned start and length widen to whole pages; the neighbour merges.
    do_mlock(&mut mm, A + 4 * P + 100, P - 50, 0).unwrap();
    assert_eq!(locks(&mm, A, A + 8 * P).len(), 3);
    assert_eq!(locked(&mm), 4);
    assert_eq!(
        mm.vmas().find(|v| v.start == A + 2 * P).unwrap().end,
        A + 6 * P
    );
    // mlock2(MLOCK_ONFAULT) on a locked part: locked_vm unchanged, flags change, no populate.
    assert_eq!(do_mlock(&mut mm, A + 5 * P, P, MLOCK_ONFAULT), Ok(None));
    assert_eq!(locked(&mm), 4);
    assert_eq!(
        locks(&mm, A, A + 8 * P)[2],
        (A + 5 * P, A + 6 * P, VM_LOCKED_MASK)
    );
    assert_eq!(do_mlock(&mut mm, A, P, 2), Err(MmError::Invalid));
    // munlock of everything: the part mlock populated has an anon_vma, its neighbours none, so
    // it stays apart from them, as on Linux.
    do_munlock(&mut mm, A, 8 * P).unwrap();
    assert_eq!(
        locks(&mm, A, A + 8 * P),
        [
            (A, A + 2 * P, VmFlags::empty()),
            (A + 2 * P, A + 6 * P, VmFlags::empty()),
            (A + 6 * P, A + 8 * P, VmFlags::empty())
        ]
    );
    assert_eq!(locked(&mm), 0);
    assert_eq!(mm.pt.frames(), 2, "munlock keeps the pages");
    mm.validate_mm().unwrap();
}

#[test]
fn mlock_holes_and_ranges_out_of_bounds() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 6 * P, 4, RW);
    // Hole in the middle: the part before it is locked, then ENOMEM.
    assert_eq!(
        do_mlock(&mut mm, A + 2 * P, 8 * P, 0),
        Err(MmError::NoMemory)
    );
    assert_eq!(locked(&mm), 2);
    assert_eq!(
        locks(&mm, A, A + 4 * P)[1],
        (A + 2 * P, A + 4 * P, VM_LOCKED)
    );
    // Starting in a hole or past the end: nothing changes.
    assert_eq!(
        do_mlock(&mut mm, A + 4 * P, 4 * P, 0),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        do_mlock(&mut mm, A + 6 * P, 5 * P, 0),
        Err(MmError::NoMemory)
    );
    assert_eq!(locked(&mm), 6, "the second VMA was locked before the end");
    assert_eq!(do_mlock(&mut mm, TASK_SIZE, P, 0), Err(MmError::NoMemory));
    assert_eq!(
        do_mlock(&mut mm, TASK_SIZE - P, 2 * P, 0),
        Err(MmError::NoMemory)
    );
    assert_eq!(do_munlock(&mut mm, A, 10 * P), Err(MmError::NoMemory));
    assert_eq!(locked(&mm), 4, "munlock stopped at the hole too");
    // A length that wraps the address space: Linux's PAGE_ALIGN(~0) is 0, nothing to do.
    assert_eq!(do_mlock(&mut mm, A, usize::MAX, 0), Ok(None));
    // A range that wraps past the top of memory: too much for RLIMIT_MEMLOCK, and EINVAL for a
    // privileged caller, who gets past that check.
    assert_eq!(
        do_mlock(&mut mm, A, usize::MAX - P, 0),
        Err(MmError::NoMemory)
    );
    mm.privileged = true;
    assert_eq!(
        do_mlock(&mut mm, A, usize::MAX - P, 0),
        Err(MmError::Invalid)
    );
    mm.privileged = false;
    assert_eq!(do_mlock(&mut mm, A, 0, 0), Ok(None));
    mm.validate_mm().unwrap();
}

#[test]
fn mlock_rlimit_counts_already_locked_pages_once() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 8, RW);
    memlock(&mut mm, 4);
    do_mlock(&mut mm, A, 4 * P, 0).unwrap();
    assert_eq!(do_mlock(&mut mm, A, 4 * P, 0).map(|_| ()), Ok(()));
    assert_eq!(
        do_mlock(&mut mm, A + 2 * P, 3 * P, 0),
        Err(MmError::NoMemory)
    );
    assert_eq!(locked(&mm), 4);
    mm.privileged = true;
    do_mlock(&mut mm, A, 8 * P, 0).unwrap();
    assert_eq!(locked(&mm), 8);
}

#[test]
fn mlock_leaves_special_mappings_alone() {
    let mut mm = bare_mm();
    let flags = VM_READ | VM_MAYREAD | VM_DONTEXPAND;
    mmap_region(&mut mm, A, P, flags, A >> 12, None).unwrap();
    anon(&mut mm, A + 2 * P, 2, RW);
    do_mlockall(&mut mm, MCL_CURRENT).unwrap();
    assert_eq!(mm.find_vma(A).unwrap().flags, flags);
    assert_eq!(locked(&mm), 2);
    do_mlock(&mut mm, A, P, 0).unwrap();
    assert_eq!(locked(&mm), 2);
    mm.validate_mm().unwrap();
}

#[test]
fn mlock_populate_reports_errors_like_mlock() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 2, RW);
    anon(&mut mm, A + 2 * P, 1, PROT_NONE);
    let r = do_mlock(&mut mm, A, 3 * P, 0).unwrap().unwrap();
    // PROT_NONE cannot be faulted in: mlock returns ENOMEM, the range stays locked.
    assert_eq!(mlock_populate(&mut mm, r), Err(MmError::NoMemory));
    assert_eq!(locked(&mm), 3);
    assert_eq!(mm.pt.frames(), 2);
    do_mprotect(&mut mm, A + 2 * P, P, PROT_READ).unwrap();
    assert_eq!(mlock_populate(&mut mm, r), Ok(()));
    assert_eq!(mm.pt.pages.get(&(A + 2 * P)), Some(&Page::Zero));
    // mlockall(MCL_CURRENT) ignores errors: the PROT_NONE page is skipped by mm_populate.
    anon(&mut mm, A + 8 * P, 1, PROT_NONE);
    let r = do_mlockall(&mut mm, MCL_CURRENT).unwrap();
    run(&mut mm, r);
    assert!(!mm.pt.pages.contains_key(&(A + 8 * P)));
}

#[test]
fn mlock_then_munmap_and_mprotect_keep_locked_vm_exact() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 8, RW);
    do_mlock(&mut mm, A + P, 6 * P, 0).unwrap();
    do_munmap(&mut mm, A + 3 * P, 2 * P).unwrap();
    assert_eq!(locked(&mm), 4);
    do_mprotect(&mut mm, A + P, P, PROT_READ).unwrap();
    assert_eq!(locked(&mm), 4);
    assert!(mm.find_vma(A + P).unwrap().flags.contains(VM_LOCKED));
    fault(&mut mm, A + P, FaultAccess::Read).unwrap();
    mm.validate_mm().unwrap();
}
