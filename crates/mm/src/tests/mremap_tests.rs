//! mremap (shrink, grow in place, move with contents, MREMAP_FIXED/DONTUNMAP, locked mappings),
//! mincore and madvise, on the fake page table and on `UserPages` over simulated RAM.
use super::*;
use crate::addr::VirtAddr;
use crate::fault::FaultAccess;
use crate::madvise::*;
use crate::mincore::{do_mincore, mincore_check, mincore_range};
use crate::mlock::{do_mlock, do_mlockall, MCL_FUTURE, MLOCK_ONFAULT};
use crate::mm_struct::{Rlimit, TASK_SIZE};
use crate::mmap::{do_mmap, do_munmap};
use crate::mremap::*;
use crate::pagetable::PageTable;
use crate::phys::sim::SimRam;
use crate::phys::PhysMem;
use crate::populate::{mm_populate, PopulateRange};
use crate::tlb::fake::RecordingTlb;
use crate::user_pages::UserPages;

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

fn mremap(mm: &mut Mm, addr: usize, old: usize, new: usize, flags: u32) -> Result<usize, MmError> {
    do_mremap(mm, addr, old, new, flags, 0).map(|r| r.addr)
}

/// Writes `i + 1` to page `i` of `[addr, addr + pages * P)`.
fn fill(mm: &mut Mm, addr: usize, pages: usize) {
    for i in 0..pages {
        write_byte(mm, addr + i * P, i as u8 + 1).unwrap();
    }
}

fn vma_span(mm: &Mm, addr: usize) -> Option<(usize, usize)> {
    mm.find_vma(addr)
        .filter(|v| v.start <= addr)
        .map(|v| (v.start, v.end))
}

#[test]
fn mremap_shrinks_in_place() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 8, RW);
    fill(&mut mm, A, 8);
    assert_eq!(mremap(&mut mm, A, 8 * P, 3 * P + 1, 0), Ok(A));
    assert_eq!(vma_span(&mm, A), Some((A, A + 4 * P)));
    assert_eq!(mm.pt.frames(), 4);
    assert_eq!(read_byte(&mut mm, A + 3 * P), Ok(4));
    // Same size: nothing to do, the address comes back.
    assert_eq!(mremap(&mut mm, A, 4 * P, 4 * P, 0), Ok(A));
    assert_eq!(mm.counters().total_vm, 4);
    // Shrinking unmaps the tail even across VMAs, as Linux does.
    anon(&mut mm, A + 4 * P, 2, PROT_READ);
    assert_eq!(mremap(&mut mm, A, 6 * P, P, 0), Ok(A));
    assert_eq!(mm.counters().total_vm, 1);
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_grows_in_place_when_the_gap_is_free() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    fill(&mut mm, A, 4);
    let r = do_mremap(&mut mm, A, 4 * P, 8 * P, 0, 0).unwrap();
    assert_eq!((r.addr, r.populate), (A, None));
    assert_eq!(vma_span(&mm, A), Some((A, A + 8 * P)));
    assert_eq!(mm.map_count(), 1);
    assert_eq!(mm.counters().total_vm, 8);
    assert_eq!(read_byte(&mut mm, A + 3 * P), Ok(4));
    assert_eq!(read_byte(&mut mm, A + 7 * P), Ok(0));
    // Growing up to a compatible mapping: an untouched one does not join this one, which has an
    // anon_vma; an untouched VMA grown up to it does.
    do_munmap(&mut mm, A + 6 * P, 2 * P).unwrap();
    let r = do_mmap(
        &mut mm,
        A + 8 * P,
        2 * P,
        RW,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    );
    assert!(r.is_ok());
    mm.tree.get_mut(A + 8 * P).unwrap().pgoff = (A >> 12) + 8;
    assert_eq!(mremap(&mut mm, A, 6 * P, 8 * P, 0), Ok(A));
    assert_eq!(vma_span(&mm, A), Some((A, A + 8 * P)));
    assert_eq!(mm.map_count(), 2);
    anon(&mut mm, B, 4, RW);
    anon(&mut mm, B + 6 * P, 2, RW);
    assert_eq!(mremap(&mut mm, B, 4 * P, 6 * P, 0), Ok(B));
    assert_eq!(vma_span(&mm, B), Some((B, B + 8 * P)));
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_moves_with_contents_when_it_cannot_grow() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 4 * P, 1, PROT_READ);
    fill(&mut mm, A, 4);
    assert_eq!(mremap(&mut mm, A, 4 * P, 6 * P, 0), Err(MmError::NoMemory));
    let new = mremap(&mut mm, A, 4 * P, 6 * P, MREMAP_MAYMOVE).unwrap();
    assert_ne!(new, A);
    assert!(vma_span(&mm, A).is_none(), "old range unmapped");
    assert_eq!(vma_span(&mm, new), Some((new, new + 6 * P)));
    assert_eq!(
        mm.find_vma(new).unwrap().pgoff,
        A >> 12,
        "page offset moves along"
    );
    for i in 0..4 {
        assert_eq!(read_byte(&mut mm, new + i * P), Ok(i as u8 + 1));
    }
    assert_eq!(read_byte(&mut mm, new + 5 * P), Ok(0));
    assert!(!mm.pt.pages.range(A..A + 4 * P).any(|_| true));
    assert_eq!(mm.counters().total_vm, 7);
    assert_eq!(mm.pt.calls.last(), Some(&Call::Unmap(A, A + 4 * P)));
    // A move of part of a VMA splits it.
    let part = mremap(&mut mm, new + P, P, P, MREMAP_MAYMOVE).unwrap();
    assert_eq!(part, new + P, "same size, nothing to move");
    let part = mremap(&mut mm, new + P, P, 2 * P, MREMAP_MAYMOVE).unwrap();
    assert_eq!(read_byte(&mut mm, part), Ok(2));
    assert_eq!(vma_span(&mm, new), Some((new, new + P)));
    assert_eq!(vma_span(&mm, new + 2 * P), Some((new + 2 * P, new + 6 * P)));
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_errors() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 4 * P, 2, PROT_READ);
    let inval = Err(MmError::Invalid);
    assert_eq!(mremap(&mut mm, A + 1, P, 2 * P, MREMAP_MAYMOVE), inval);
    assert_eq!(mremap(&mut mm, A, P, 0, MREMAP_MAYMOVE), inval);
    assert_eq!(mremap(&mut mm, A, P, usize::MAX, MREMAP_MAYMOVE), inval);
    assert_eq!(mremap(&mut mm, A, P, 2 * P, 8), inval);
    assert_eq!(mremap(&mut mm, A, P, 2 * P, MREMAP_FIXED), inval);
    assert_eq!(mremap(&mut mm, A, P, 2 * P, MREMAP_DONTUNMAP), inval);
    let dontunmap = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    assert_eq!(mremap(&mut mm, A, P, 2 * P, dontunmap), inval);
    assert_eq!(
        mremap(&mut mm, A, 0, 2 * P, MREMAP_MAYMOVE),
        inval,
        "old_len 0"
    );
    let fixed = MREMAP_MAYMOVE | MREMAP_FIXED;
    assert_eq!(
        do_mremap(&mut mm, A, 2 * P, 2 * P, fixed, A + P).map(|r| r.addr),
        inval
    );
    assert_eq!(
        do_mremap(&mut mm, A, P, P, fixed, A + 8 * P + 1).map(|r| r.addr),
        inval
    );
    assert_eq!(
        do_mremap(&mut mm, A, P, P, fixed, TASK_SIZE).map(|r| r.addr),
        inval
    );
    // EFAULT: nothing mapped at addr, or the old range leaves its VMA.
    assert_eq!(
        mremap(&mut mm, A - P, P, 2 * P, MREMAP_MAYMOVE),
        Err(MmError::Fault)
    );
    assert_eq!(
        mremap(&mut mm, A, 5 * P, 8 * P, MREMAP_MAYMOVE),
        Err(MmError::Fault)
    );
    assert_eq!(
        mremap(&mut mm, A + 2 * P, 3 * P, 3 * P, MREMAP_MAYMOVE),
        Ok(A + 2 * P)
    );
    assert_eq!(
        do_mremap(&mut mm, A + 2 * P, 3 * P, 3 * P, fixed, A + 16 * P).map(|r| r.addr),
        Err(MmError::Fault)
    );
    // RLIMIT_AS.
    mm.rlimits.address_space = Rlimit {
        cur: 7 * P,
        max: 7 * P,
    };
    assert_eq!(
        mremap(&mut mm, A, 4 * P, 6 * P, MREMAP_MAYMOVE),
        Err(MmError::NoMemory)
    );
    mm.rlimits.address_space = Rlimit::INFINITY;
    // A failed page-table move changes nothing.
    mm.pt.fail_move = true;
    let before = layout(&mm);
    fill(&mut mm, A, 1);
    assert_eq!(
        mremap(&mut mm, A, 4 * P, 6 * P, MREMAP_MAYMOVE),
        Err(MmError::NoMemory)
    );
    assert_eq!(layout(&mm), before);
    assert_eq!(read_byte(&mut mm, A), Ok(1));
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_fixed_replaces_the_destination() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 16 * P, 8, PROT_READ);
    fill(&mut mm, A, 4);
    let fixed = MREMAP_MAYMOVE | MREMAP_FIXED;
    // Shrink while moving: the tail is unmapped first.
    let r = do_mremap(&mut mm, A, 4 * P, 2 * P, fixed, A + 18 * P).unwrap();
    assert_eq!((r.addr, r.populate), (A + 18 * P, None));
    assert_eq!(vma_span(&mm, A + 16 * P), Some((A + 16 * P, A + 18 * P)));
    assert_eq!(vma_span(&mm, A + 18 * P), Some((A + 18 * P, A + 20 * P)));
    assert_eq!(vma_span(&mm, A + 20 * P), Some((A + 20 * P, A + 24 * P)));
    assert_eq!(read_byte(&mut mm, A + 19 * P), Ok(2));
    assert!(mm.find_vma_intersection(A, A + 16 * P).is_none());
    assert_eq!(mm.counters().total_vm, 8);
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_dontunmap_leaves_an_empty_old_mapping() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    fill(&mut mm, A, 4);
    do_mlock(&mut mm, A, 4 * P, MLOCK_ONFAULT).unwrap();
    let flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    let r = do_mremap(&mut mm, A, 4 * P, 4 * P, flags, 0).unwrap();
    assert_ne!(r.addr, A);
    assert_eq!(vma_span(&mm, A), Some((A, A + 4 * P)));
    assert!(!mm.find_vma(A).unwrap().flags.intersects(VM_LOCKED_MASK));
    assert!(mm.find_vma(r.addr).unwrap().flags.contains(VM_LOCKED));
    assert_eq!(mm.counters().locked_vm, 4);
    assert_eq!(mm.counters().total_vm, 8);
    assert_eq!(read_byte(&mut mm, A + 2 * P), Ok(0), "old range reads zero");
    assert_eq!(read_byte(&mut mm, r.addr + 2 * P), Ok(3));
    // Shared mappings cannot be duplicated on tidemark.
    let s = do_mmap(&mut mm, 0, P, RW, MAP_SHARED | MAP_ANONYMOUS)
        .unwrap()
        .addr;
    assert_eq!(mremap(&mut mm, s, P, P, flags), Err(MmError::Invalid));
    mm.validate_mm().unwrap();
}

#[test]
fn mremap_keeps_locked_vm_and_populates_locked_growth() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 4 * P, 1, PROT_READ);
    anon(&mut mm, A + 8 * P, 2, RW);
    do_mlock(&mut mm, A, 4 * P, 0).unwrap();
    do_mlock(&mut mm, A + 8 * P, 2 * P, 0).unwrap();
    fill(&mut mm, A, 4);
    // Grow in place: the new pages are locked and handed back for population.
    let r = do_mremap(&mut mm, A + 8 * P, 2 * P, 4 * P, 0, 0).unwrap();
    assert_eq!(
        r.populate,
        Some(PopulateRange {
            start: A + 10 * P,
            len: 2 * P
        })
    );
    assert_eq!(mm.counters().locked_vm, 8);
    // Move: locked_vm follows the new size.
    let r = do_mremap(&mut mm, A, 4 * P, 6 * P, MREMAP_MAYMOVE, 0).unwrap();
    assert_eq!(
        r.populate,
        Some(PopulateRange {
            start: r.addr + 4 * P,
            len: 2 * P
        })
    );
    assert_eq!(mm.counters().locked_vm, 10);
    mm_populate(&mut mm, r.populate.unwrap().start, 2 * P);
    assert_eq!(read_byte(&mut mm, r.addr + 3 * P), Ok(4));
    assert_eq!(mm.pt.pages.get(&(r.addr + 5 * P)), Some(&Page::Frame(0)));
    // Shrink: locked_vm drops.
    do_mremap(&mut mm, r.addr, 6 * P, 2 * P, 0, 0).unwrap();
    assert_eq!(mm.counters().locked_vm, 6);
    // RLIMIT_MEMLOCK: EAGAIN.
    mm.rlimits.memlock = Rlimit {
        cur: 7 * P,
        max: 7 * P,
    };
    assert_eq!(
        mremap(&mut mm, r.addr, 2 * P, 4 * P, MREMAP_MAYMOVE),
        Err(MmError::Again)
    );
    mm.validate_mm().unwrap();
}

type RealMm<'a> = MmStruct<UserPages<&'a SimRam, RecordingTlb>>;

fn real_mm(ram: &SimRam) -> RealMm<'_> {
    let zero = ram.alloc_frames(0).unwrap();
    // SAFETY: a SimRam frame, zeroed for the zero page.
    unsafe { core::ptr::write_bytes(ram.phys_to_virt(zero), 0, PAGE_SIZE) };
    let pt = PageTable::new_user(ram, 1).unwrap();
    MmStruct::new(UserPages::new(pt, RecordingTlb::new(), zero))
}

fn real_write(mm: &mut RealMm<'_>, va: usize, v: u8) {
    let flags = mm.find_vma(va).unwrap().flags;
    mm.pt
        .handle_mm_fault(va, flags, FaultAccess::Write)
        .unwrap();
    let t = mm.pt.pt.translate(VirtAddr(va)).unwrap();
    // SAFETY: a mapped SimRam frame.
    unsafe { *mm.pt.pt.phys_mem().phys_to_virt(t.pa) = v };
}

fn real_read(mm: &RealMm<'_>, va: usize) -> Option<u8> {
    let t = mm.pt.pt.translate(VirtAddr(va))?;
    // SAFETY: a mapped SimRam frame.
    Some(unsafe { *mm.pt.pt.phys_mem().phys_to_virt(t.pa) })
}

#[test]
fn mremap_on_real_page_tables_moves_the_data_and_leaks_nothing() {
    let ram = SimRam::new(1024);
    let mut mm = real_mm(&ram);
    let base = ram.allocated_frames();
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    do_mmap(&mut mm, A, 16 * P, RW, flags).unwrap();
    do_mmap(&mut mm, A + 16 * P, P, PROT_READ, flags).unwrap();
    for i in 0..16 {
        if i != 5 {
            real_write(&mut mm, A + i * P + 9, 0xa0 + i as u8);
        }
    }
    let rss = mm.pt.rss_pages();
    assert_eq!(rss, 15);
    let new = do_mremap(&mut mm, A, 16 * P, 32 * P, MREMAP_MAYMOVE, 0)
        .unwrap()
        .addr;
    assert_ne!(new, A);
    for i in 0..16 {
        let want = if i == 5 { None } else { Some(0xa0 + i as u8) };
        assert_eq!(real_read(&mm, new + i * P + 9), want, "page {i}");
        assert!(mm.pt.pt.translate(VirtAddr(A + i * P)).is_none());
    }
    assert_eq!(mm.pt.rss_pages(), rss, "frames moved, not copied");
    // mincore sees the moved pages; a hole reads 0.
    let mut v = [7u8; 20];
    assert_eq!(mincore_range(&mm, new, 20 * P, &mut v), Ok(()));
    assert_eq!(&v[..6], &[1, 1, 1, 1, 1, 0]);
    assert_eq!(&v[16..], &[0; 4]);
    // MADV_DONTNEED gives frames back; later reads see zeros.
    do_madvise(&mut mm, new, 4 * P, MADV_DONTNEED).unwrap();
    assert_eq!(mm.pt.rss_pages(), rss - 4);
    assert_eq!(real_read(&mm, new + 9), None);
    mm.pt
        .handle_mm_fault(new, VM_READ | VM_WRITE, FaultAccess::Read)
        .unwrap();
    assert_eq!(real_read(&mm, new + 9), Some(0));
    // Shrink back and unmap everything: every frame and table returns.
    do_mremap(&mut mm, new, 32 * P, 8 * P, 0, 0).unwrap();
    assert_eq!(mm.pt.rss_pages(), 3);
    do_munmap(&mut mm, new, 8 * P).unwrap();
    do_munmap(&mut mm, A + 16 * P, P).unwrap();
    assert_eq!(mm.map_count(), 0);
    assert_eq!(ram.allocated_frames(), base, "no frame or table leaked");
}

#[test]
fn mincore_reports_residency_and_errors() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 4 * P, 2, PROT_READ);
    write_byte(&mut mm, A, 1).unwrap();
    fault(&mut mm, A + 2 * P, FaultAccess::Read).unwrap();
    fault(&mut mm, A + 5 * P, FaultAccess::Read).unwrap();
    let mut v = [9u8; 6];
    assert_eq!(mincore_range(&mm, A, 6 * P - 100, &mut v), Ok(()));
    assert_eq!(v, [1, 0, 1, 0, 0, 1], "the zero page counts as resident");
    // do_mincore stops at the end of a VMA.
    assert_eq!(do_mincore(&mm, A + 2 * P, &mut v), Ok(2));
    assert_eq!(mincore_check(A + 1, P), Err(MmError::Invalid));
    assert_eq!(mincore_check(A, 0), Ok(0));
    assert_eq!(mincore_check(TASK_SIZE - P, 2 * P), Err(MmError::NoMemory));
    assert_eq!(mincore_range(&mm, A, 0, &mut []), Ok(()));
    assert_eq!(
        mincore_range(&mm, A, 6 * P, &mut v[..5]),
        Err((0, MmError::Fault))
    );
    // A hole: the entries before it are filled, then ENOMEM.
    do_munmap(&mut mm, A + 3 * P, P).unwrap();
    let mut v = [9u8; 6];
    assert_eq!(
        mincore_range(&mm, A, 6 * P, &mut v),
        Err((3, MmError::NoMemory))
    );
    assert_eq!(&v[..3], &[1, 0, 1]);
    assert_eq!(do_mincore(&mm, A + 3 * P, &mut v), Err(MmError::NoMemory));
}

#[test]
fn madvise_dontneed_drops_private_pages() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    anon(&mut mm, A + 6 * P, 2, RW);
    fill(&mut mm, A, 4);
    fill(&mut mm, A + 6 * P, 2);
    let before = layout(&mm);
    do_madvise(&mut mm, A + P, 2 * P, MADV_DONTNEED).unwrap();
    assert_eq!(layout(&mm), before, "VMAs untouched");
    assert_eq!(read_byte(&mut mm, A + P), Ok(0));
    assert_eq!(read_byte(&mut mm, A + 3 * P), Ok(4));
    // A hole: the mapped parts are advised, then ENOMEM.
    assert_eq!(
        do_madvise(&mut mm, A, 8 * P, MADV_FREE),
        Err(MmError::NoMemory)
    );
    assert_eq!(mm.pt.frames(), 0);
    assert_eq!(
        do_madvise(&mut mm, A + 4 * P, 2 * P, MADV_DONTNEED),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        do_madvise(&mut mm, A + 8 * P, P, MADV_DONTNEED),
        Err(MmError::NoMemory)
    );
    // EINVAL: unaligned, unknown advice, wrapping length; zero length is fine.
    assert_eq!(
        do_madvise(&mut mm, A + 1, P, MADV_DONTNEED),
        Err(MmError::Invalid)
    );
    for bad in [5, 7, 100, -1] {
        assert_eq!(do_madvise(&mut mm, A, P, bad), Err(MmError::Invalid));
    }
    assert_eq!(
        do_madvise(&mut mm, A, usize::MAX, MADV_DONTNEED),
        Err(MmError::Invalid)
    );
    assert_eq!(do_madvise(&mut mm, A, 0, MADV_DONTNEED), Ok(()));
    // The hints are accepted and change nothing.
    fill(&mut mm, A, 1);
    for hint in [
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTFORK,
        MADV_DOFORK,
        MADV_HUGEPAGE,
        MADV_NOHUGEPAGE,
    ] {
        assert_eq!(do_madvise(&mut mm, A, 4 * P, hint), Ok(()));
    }
    assert_eq!(layout(&mm), before);
    assert_eq!(read_byte(&mut mm, A), Ok(1));
    mm.validate_mm().unwrap();
}

#[test]
fn madvise_dontneed_refuses_locked_memory() {
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    fill(&mut mm, A, 4);
    do_mlock(&mut mm, A + 2 * P, 2 * P, 0).unwrap();
    // Applied to the unlocked VMA first, then EINVAL at the locked one.
    assert_eq!(
        do_madvise(&mut mm, A, 4 * P, MADV_DONTNEED),
        Err(MmError::Invalid)
    );
    assert_eq!(read_byte(&mut mm, A), Ok(0));
    assert_eq!(read_byte(&mut mm, A + 2 * P), Ok(3));
    assert_eq!(
        do_madvise(&mut mm, A + 2 * P, P, MADV_FREE),
        Err(MmError::Invalid)
    );
    assert_eq!(
        do_madvise(&mut mm, A + 2 * P, P, MADV_DONTNEED_LOCKED),
        Ok(())
    );
    assert_eq!(read_byte(&mut mm, A + 2 * P), Ok(0));
    // Future locking applies too.
    do_mlockall(&mut mm, MCL_FUTURE).unwrap();
    anon(&mut mm, A + 8 * P, 1, RW);
    assert_eq!(
        do_madvise(&mut mm, A + 8 * P, P, MADV_DONTNEED),
        Err(MmError::Invalid)
    );
}

/// MADV_DONTDUMP marks the range `VM_DONTDUMP`, splitting its VMA, and keeps the pages;
/// MADV_DODUMP clears it, and the pieces merge again.
#[test]
fn madvise_dontdump_marks_and_dodump_unmarks() {
    use crate::vma::VM_DONTDUMP;
    let mut mm = bare_mm();
    anon(&mut mm, A, 4, RW);
    fill(&mut mm, A, 4);
    do_madvise(&mut mm, A + P, 2 * P, MADV_DONTDUMP).unwrap();
    let marked: Vec<_> = mm
        .vmas()
        .map(|v| (v.start, v.end, v.flags.contains(VM_DONTDUMP)))
        .collect();
    assert_eq!(
        marked,
        [
            (A, A + P, false),
            (A + P, A + 3 * P, true),
            (A + 3 * P, A + 4 * P, false)
        ]
    );
    assert_eq!(read_byte(&mut mm, A + P), Ok(2), "the pages stay");
    do_madvise(&mut mm, A, 4 * P, MADV_DODUMP).unwrap();
    assert_eq!(mm.vmas().count(), 1);
    assert!(!mm.vmas().any(|v| v.flags.contains(VM_DONTDUMP)));
}
