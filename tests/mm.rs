//! The memory manager on QEMU: Linux's brk semantics item by item (../shared/conformance.md),
//! allocators, hostile arguments, /proc, and no frame leaks.
mod common;
use common::Boot;

#[test]
fn brk_conformance_without_randomisation() {
    let o = Boot::default()
        .args("norandmaps")
        .program("c-brk_conformance", "")
        .run();
    o.assert_tap("brk", 16);
    o.assert_no_frame_leak();
}

#[test]
fn brk_conformance_with_randomisation() {
    let o = Boot::default().program("c-brk_conformance", "").run();
    o.assert_tap("brk", 16);
}

#[test]
fn allocators_hostile_arguments_and_proc() {
    let o = Boot::default().program("c-mm", "").run();
    o.assert_tap("mm", 44);
    o.assert_no_frame_leak();
}

#[test]
fn musl_allocator_with_its_heap_guard_page_leaks_nothing() {
    // musl's mallocng maps a PROT_NONE page with MAP_FIXED over the first heap page and keeps
    // growing the break past it (conformance item 19).
    let o = Boot::default().program("rust-alloc_stress", "").run();
    o.assert_status(0);
    o.assert_contains("alloc_stress: ok");
    o.assert_no_frame_leak();
}

#[test]
fn glibc_programs_leak_nothing() {
    let o = Boot::default().program("c-hello", "").run();
    o.assert_status(0);
    o.assert_no_frame_leak();
}

/// `user/c/elfmap.c`: a program's segments are mapped from the page cache: its maps line names
/// the file with its device and inode, status counts the mapped pages of the file (RssShmem, the
/// root being in memory), and four more processes running the program share its text (each costs
/// less than the text's size).
#[test]
fn programs_run_from_the_page_cache() {
    let o = Boot::default().program("c-elfmap", "").run();
    o.assert_tap("elfmap", 7);
    o.assert_no_frame_leak();
    // Linux's batched counters may still read 0 here; tidemark's are exact.
    assert!(!o.output.contains("(file pages 0 kB)"), "{}", o.output);
}

/// `user/c/smaps.c`: smaps splits each mapping's pages into shared and private by how many
/// mappings each has, divides Pss among them, tells anonymous pages (private copies included)
/// from an object's own, and names the flags; smaps_rollup sums it all. A memfd mapped shared
/// and privately and anonymous memory, before and during a fork, after a copy-on-write and
/// after the child exits.
#[test]
fn smaps_accounts_sharing_as_linux_does() {
    let o = Boot::default().program("c-smaps", "").run();
    o.assert_tap("smaps", 17);
    o.assert_no_frame_leak();
}

/// `user/c/anon_vma.c`: which neighbouring VMAs merge, by Linux's anon_vma rules: after
/// mprotect, mlock and munlock, new mappings, a fork (in the child and the parent, the break
/// too), mremap moves and growth, and anon_vmas reused from a neighbour.
#[test]
fn vmas_merge_by_their_anon_vmas() {
    let o = Boot::default().program("c-anon_vma", "").run();
    o.assert_tap("anon_vma", 14);
    o.assert_no_frame_leak();
}

/// `user/c/pagemap.c`: /proc/self/pagemap's entries for pages untouched, read, written, shared
/// with a fork's child, of shared memory and of a file (LTP's mmap12 case), and its reads.
#[test]
fn pagemap_says_what_each_page_is() {
    let o = Boot::default().program("c-pagemap", "").run();
    o.assert_tap("pagemap", 17);
    o.assert_no_frame_leak();
}

/// `user/c/thp.c`: transparent huge pages for anonymous memory in the default mode `always`: a
/// write per 2 MiB range maps a 2 MiB page (one fault, AnonHugePages in smaps and meminfo);
/// munmap, mprotect and MADV_DONTNEED of one page split it and keep the data; fork; and
/// PR_SET_THP_DISABLE, MADV_NOHUGEPAGE and MADV_HUGEPAGE. On one core and on four.
#[test]
fn transparent_huge_pages() {
    for smp in [1, 4] {
        let o = Boot {
            smp,
            mem: "1G".into(),
            ..Boot::default()
        }
        .program("c-thp", "")
        .run();
        o.assert_tap("thp", 18);
        o.assert_no_frame_leak();
    }
}

/// `transparent_hugepage=never` on the command line: sysfs says so, and the same writes map
/// 4 KiB pages only.
#[test]
fn transparent_huge_pages_never() {
    let o = Boot {
        mem: "1G".into(),
        args: "transparent_hugepage=never".into(),
        ..Boot::default()
    }
    .program("c-thp", "")
    .run();
    assert!(
        o.output.contains("(always madvise [never])"),
        "{}",
        o.output
    );
    assert!(
        o.output
            .contains("smaps: AnonHugePages 8192 kB, Rss 8192 kB (0, 16)"),
        "{}",
        o.output
    );
    o.assert_no_frame_leak();
}
