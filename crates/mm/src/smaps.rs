//! What `/proc/PID/smaps` and `smaps_rollup` say of each VMA (`smaps_account`,
//! `smaps_page_accumulate`, `__show_smap`, `show_smap_vma_flags` in fs/proc/task_mmu.c): every
//! resident page counted as shared or private by how many mappings it has, its proportional
//! share (Pss) divided among them, and whether it is anonymous, a file's or shared memory.
//!
//! How many mappings a frame has is read from its reference count: a page-table entry holds
//! one reference, and an object's page one more for the object (the page cache). Every counted
//! page is dirty: an anonymous page is mapped only on a write (a read maps the zero page, which
//! is not counted), and the objects are in-memory files with nowhere to write back to, whose
//! pages Linux's tmpfs also keeps dirty once written.
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::addr::{PhysAddr, PAGE_SIZE};
use super::mm_struct::{MmStruct, PageTableOps};
use super::object::PageObject;
use super::pagetable::L2_BLOCK_SIZE;
use super::phys::PhysMem;
use super::proc_fmt::{show_map_vma, NAME_COLUMN};
use super::tlb::TlbFlush;
use super::user_pages::{wants_blocks, UserPages};
use super::vma::{VmFlags, Vma, VM_LOCKED};

/// Pss is summed in 1/4096ths of a byte (Linux's `PSS_SHIFT`), so that pages shared three ways
/// do not each round down.
pub const PSS_SHIFT: u32 = 12;

/// One VMA as smaps accounts it.
#[derive(Clone, Copy)]
pub struct SmapsVma<'a> {
    pub start: usize,
    pub end: usize,
    pub flags: VmFlags,
    /// The page index of `start` in `object`.
    pub pgoff: usize,
    pub object: Option<&'a dyn PageObject>,
}

/// What kind of page a resident frame is, for `Anonymous` and `Pss_Anon/File/Shmem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// A process's own page (Linux's `PageAnon`): anonymous memory, or a private copy of an
    /// object's page.
    Anon,
    /// An object's page, of a file.
    File,
    /// An object's page, of shared memory (Linux's `PageSwapBacked`: tmpfs, memfd, shm).
    Shmem,
}

/// Linux's `struct mem_size_stats`: byte counts, and `pss*` in bytes << [`PSS_SHIFT`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSizeStats {
    pub resident: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub anonymous_thp: u64,
    pub pss: u64,
    pub pss_dirty: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    pub pss_locked: u64,
}

impl MemSizeStats {
    /// `smaps_account` for `pages` pages of one frame (or block) mapped `mapcount` times.
    pub fn account(&mut self, pages: usize, mapcount: usize, kind: PageKind, locked: bool) {
        let size = (pages * PAGE_SIZE) as u64;
        if kind == PageKind::Anon {
            self.anonymous += size;
        }
        self.resident += size;
        self.referenced += size;
        // `smaps_page_accumulate`: a page mapped once is private and wholly this VMA's.
        let pss = (size << PSS_SHIFT) / mapcount.max(1) as u64;
        self.pss += pss;
        match kind {
            PageKind::Anon => self.pss_anon += pss,
            PageKind::File => self.pss_file += pss,
            PageKind::Shmem => self.pss_shmem += pss,
        }
        if locked {
            self.pss_locked += pss;
        }
        self.pss_dirty += pss;
        if mapcount < 2 {
            self.private_dirty += size;
        } else {
            self.shared_dirty += size;
        }
    }

    /// Adds `other` in (`smaps_rollup` sums before it shifts, as Linux does).
    pub fn add(&mut self, other: &Self) {
        let pairs = [
            (&mut self.resident, other.resident),
            (&mut self.shared_clean, other.shared_clean),
            (&mut self.shared_dirty, other.shared_dirty),
            (&mut self.private_clean, other.private_clean),
            (&mut self.private_dirty, other.private_dirty),
            (&mut self.referenced, other.referenced),
            (&mut self.anonymous, other.anonymous),
            (&mut self.anonymous_thp, other.anonymous_thp),
            (&mut self.pss, other.pss),
            (&mut self.pss_dirty, other.pss_dirty),
            (&mut self.pss_anon, other.pss_anon),
            (&mut self.pss_file, other.pss_file),
            (&mut self.pss_shmem, other.pss_shmem),
            (&mut self.pss_locked, other.pss_locked),
        ];
        for (a, b) in pairs {
            *a += b;
        }
    }

    /// `__show_smap`: the lines from `Rss:` to `Locked:`, in kB; `rollup` adds the Pss split
    /// that only `smaps_rollup` shows.
    pub fn write<W: Write>(&self, w: &mut W, rollup: bool) -> fmt::Result {
        let kb = |bytes: u64| bytes >> 10;
        let pss = |v: u64| v >> (10 + PSS_SHIFT);
        let mut line =
            |label: &str, width: usize, value: u64| writeln!(w, "{label}{value:>width$} kB");
        line("Rss:            ", 8, kb(self.resident))?;
        line("Pss:            ", 8, pss(self.pss))?;
        line("Pss_Dirty:      ", 8, pss(self.pss_dirty))?;
        if rollup {
            line("Pss_Anon:       ", 8, pss(self.pss_anon))?;
            line("Pss_File:       ", 8, pss(self.pss_file))?;
            line("Pss_Shmem:      ", 8, pss(self.pss_shmem))?;
        }
        line("Shared_Clean:   ", 8, kb(self.shared_clean))?;
        line("Shared_Dirty:   ", 8, kb(self.shared_dirty))?;
        line("Private_Clean:  ", 8, kb(self.private_clean))?;
        line("Private_Dirty:  ", 8, kb(self.private_dirty))?;
        line("Referenced:     ", 8, kb(self.referenced))?;
        line("Anonymous:      ", 8, kb(self.anonymous))?;
        line("LazyFree:       ", 8, 0)?;
        line("AnonHugePages:  ", 8, kb(self.anonymous_thp))?;
        line("ShmemPmdMapped: ", 8, 0)?;
        line("FilePmdMapped:  ", 8, 0)?;
        line("Shared_Hugetlb: ", 8, 0)?;
        // The one label longer than the column takes a place from the number, as in Linux.
        line("Private_Hugetlb: ", 7, 0)?;
        line("Swap:           ", 8, 0)?;
        line("SwapPss:        ", 8, 0)?;
        line("Locked:         ", 8, pss(self.pss_locked))
    }
}

/// The two-letter names of the `VmFlags:` line, by bit (`show_smap_vma_flags` as built for
/// arm64 with BTI and MTE). A set bit with no name prints `??`, as Linux does for
/// VM_LOCKONFAULT; an empty name prints nothing.
const MNEMONICS: [(u32, &str); 32] = [
    (0, "rd"),
    (1, "wr"),
    (2, "ex"),
    (3, "sh"),
    (4, "mr"),
    (5, "mw"),
    (6, "me"),
    (7, "ms"),
    (8, "gd"),
    (9, "um"),
    (10, "pf"),
    (12, "uw"),
    (13, "lo"),
    (14, "io"),
    (15, "sr"),
    (16, "rr"),
    (17, "dc"),
    (18, "de"),
    (20, "ac"),
    (21, "nr"),
    (22, "ht"),
    (23, "sf"),
    (24, "bt"),
    (25, "wf"),
    (26, "dd"),
    (28, "mm"),
    (29, "hg"),
    (30, "nh"),
    (31, "mg"),
    (32, "mt"),
    (33, ""),
    (37, "ui"),
];

/// Bits at and above this one are tidemark's own (such as `VM_BACKED`), never shown.
const FIRST_PRIVATE_BIT: u32 = 48;

/// The `VmFlags:` line.
pub fn show_smap_vma_flags<W: Write>(w: &mut W, flags: VmFlags) -> fmt::Result {
    w.write_str("VmFlags: ")?;
    for bit in 0..FIRST_PRIVATE_BIT {
        if flags.bits() & (1 << bit) == 0 {
            continue;
        }
        let name = MNEMONICS.iter().find(|m| m.0 == bit).map_or("??", |m| m.1);
        if !name.is_empty() {
            write!(w, "{name} ")?;
        }
    }
    w.write_char('\n')
}

/// `THPeligible:` for a VMA: whether tidemark would map 2 MiB blocks in it (transparent huge
/// pages, or the blocks of locked memory), which needs a block's worth of aligned range inside it
/// (Linux's `transhuge_vma_suitable` on its last block).
pub fn thp_eligible(start: usize, end: usize, flags: VmFlags, thp_disabled: bool) -> bool {
    let last = end.saturating_sub(L2_BLOCK_SIZE) & !(L2_BLOCK_SIZE - 1);
    (wants_blocks(flags) || crate::thp::hugepage_vma_check(flags, thp_disabled))
        && end >= L2_BLOCK_SIZE
        && last >= start
}

/// One VMA's part of `/proc/PID/smaps` (`show_smap`): its maps line, sizes, `stats`, whether
/// it may get blocks, and its flags.
pub fn show_smap<P: PageTableOps, W: Write>(
    w: &mut W,
    mm: &MmStruct<P>,
    vma: &Vma,
    stats: &MemSizeStats,
    thp_disabled: bool,
) -> fmt::Result {
    show_map_vma(w, mm, vma)?;
    writeln!(w, "Size:           {:>8} kB", (vma.end - vma.start) >> 10)?;
    writeln!(w, "KernelPageSize: {:>8} kB", PAGE_SIZE >> 10)?;
    writeln!(w, "MMUPageSize:    {:>8} kB", PAGE_SIZE >> 10)?;
    stats.write(w, false)?;
    let eligible = thp_eligible(vma.start, vma.end, vma.flags, thp_disabled);
    writeln!(w, "THPeligible:    {}", eligible as u8)?;
    show_smap_vma_flags(w, vma.flags)
}

/// `/proc/PID/smaps_rollup` (`show_smaps_rollup`): a header spanning `[start, end)`, the first
/// VMA's start to the last one's end (0-0 without VMAs), then the sum of every VMA's stats.
pub fn show_smaps_rollup<W: Write>(
    w: &mut W,
    start: usize,
    end: usize,
    stats: &MemSizeStats,
) -> fmt::Result {
    let mut header = alloc::format!("{start:08x}-{end:08x} ---p 00000000 00:00 0 ");
    while header.len() < NAME_COLUMN {
        header.push(' ');
    }
    writeln!(w, "{header} [rollup]")?;
    stats.write(w, true)
}

impl<M: PhysMem, T: TlbFlush> UserPages<M, T> {
    /// `smap_gather_stats` for every VMA of `vmas` (ascending, as the tree yields them), in one
    /// walk of the page table. A block is counted for the part of it each VMA covers: one can
    /// straddle a VMA boundary after munlock or madvise split the VMA but left the block whole.
    pub fn smaps_by_vma(&self, vmas: &[SmapsVma<'_>]) -> Vec<MemSizeStats> {
        let mut out = alloc::vec![MemSizeStats::default(); vmas.len()];
        let mem = self.pt.phys_mem();
        let mut first = 0;
        self.pt.for_each_mapping(|m| {
            if !m.attrs.owned {
                return;
            }
            let (start, end) = (m.va.as_usize(), m.va.as_usize() + m.size);
            while first < vmas.len() && vmas[first].end <= start {
                first += 1;
            }
            let pa = m.pa.align_down(PAGE_SIZE);
            let refs = mem.frame_refs(pa);
            for (i, v) in vmas.iter().enumerate().skip(first) {
                if v.start >= end {
                    break;
                }
                let pages = (v.end.min(end) - v.start.max(start)) / PAGE_SIZE;
                let (kind, mapcount) = classify(v, start, pa, m.size, refs);
                let stats = &mut out[i];
                stats.account(pages, mapcount, kind, v.flags.contains(VM_LOCKED));
                if m.size > PAGE_SIZE {
                    stats.anonymous_thp += (pages * PAGE_SIZE) as u64;
                }
            }
        });
        out
    }
}

/// The kind of the frame `pa` mapped at `va` in `vma`, and how many mappings it has, from its
/// `refs` references: an object's own page has one more, the object's.
pub(crate) fn classify(
    vma: &SmapsVma<'_>,
    va: usize,
    pa: PhysAddr,
    size: usize,
    refs: usize,
) -> (PageKind, usize) {
    if let Some(object) = vma.object {
        if size == PAGE_SIZE && va >= vma.start {
            let index = vma.pgoff + (va - vma.start) / PAGE_SIZE;
            if object.peek_page(index) == Some(pa) {
                let kind = if object.is_shmem() {
                    PageKind::Shmem
                } else {
                    PageKind::File
                };
                return (kind, refs.saturating_sub(1).max(1));
            }
        }
    }
    (PageKind::Anon, refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn pss_divides_among_the_mappings_and_sums_before_rounding() {
        let mut s = MemSizeStats::default();
        // Six pages each mapped three times: each adds 4096 / 3 bytes in 1/4096ths of a byte,
        // truncated as in Linux, so the six show as 7 kB where rounding each page to a kB
        // would give 6.
        for i in 0..6 {
            s.account(1, 3, PageKind::Shmem, i == 0);
        }
        s.account(2, 1, PageKind::Anon, false);
        let mut t = String::new();
        s.write(&mut t, true).unwrap();
        let v = |name: &str| {
            let line = t.lines().find(|l| l.starts_with(name)).unwrap();
            line[16..line.len() - 3].trim().parse::<u64>().unwrap()
        };
        assert_eq!(v("Rss:"), 32);
        assert_eq!(v("Pss:"), 15);
        assert_eq!(v("Pss_Shmem:"), 7);
        assert_eq!(v("Pss_Anon:"), 8);
        assert_eq!(v("Shared_Dirty:"), 24);
        assert_eq!(v("Private_Dirty:"), 8);
        assert_eq!(v("Anonymous:"), 8);
        assert_eq!(v("Locked:"), 1, "a third of one locked page");
        assert!(t.lines().all(|l| l.len() == 27), "{t}");
        let mut per_vma = String::new();
        s.write(&mut per_vma, false).unwrap();
        assert_eq!(per_vma.lines().count() + 3, t.lines().count());
    }

    #[test]
    fn a_straddling_block_counts_for_the_part_each_vma_covers() {
        use crate::fault::FaultAccess;
        use crate::mm_struct::PageTableOps;
        use crate::pagetable::PageTable;
        use crate::phys::sim::SimRam;
        use crate::tlb::fake::RecordingTlb;
        use crate::vma::{VM_READ, VM_WRITE};
        let rw = VM_READ.union(VM_WRITE);
        let locked = rw.union(VM_LOCKED);
        let mb2 = L2_BLOCK_SIZE;
        let ram = SimRam::new(2048);
        let zero = ram.alloc_frames(0).unwrap();
        let mut up = UserPages::new(
            PageTable::new_user(&ram, 1).unwrap(),
            RecordingTlb::new(),
            zero,
        );
        up.populate_range(mb2, 2 * mb2, locked).unwrap();
        up.handle_mm_fault(4 * mb2, rw, FaultAccess::Write).unwrap();
        // munlock of the upper part split the VMA but not the block.
        let mid = mb2 + 100 * PAGE_SIZE;
        let vma = |start, end, flags| SmapsVma {
            start,
            end,
            flags,
            pgoff: 0,
            object: None,
        };
        let vmas = [
            vma(mb2, mid, locked),
            vma(mid, 2 * mb2, rw),
            vma(4 * mb2, 5 * mb2, rw),
        ];
        let s = up.smaps_by_vma(&vmas);
        let kb = |pages: u64| pages * 4096;
        assert_eq!(s[0].resident, kb(100));
        assert_eq!(s[0].anonymous_thp, kb(100));
        assert_eq!(s[0].pss_locked >> PSS_SHIFT, kb(100));
        assert_eq!(s[1].resident, kb(412));
        assert_eq!(s[1].pss_locked, 0);
        assert_eq!(
            (s[2].resident, s[2].private_dirty, s[2].anonymous),
            (kb(1), kb(1), kb(1))
        );
        assert_eq!(s[2].anonymous_thp, 0);
    }

    #[test]
    fn smaps_rollup_layout() {
        let mut s = MemSizeStats::default();
        s.account(1024, 1, PageKind::Anon, false);
        s.anonymous_thp = 2 << 20;
        let mut t = String::new();
        show_smaps_rollup(&mut t, 0x40_0000, 0xffff_ffff_f000, &s).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "00400000-fffffffff000 ---p 00000000 00:00 0                              [rollup]"
        );
        assert_eq!(lines[1], "Rss:                4096 kB");
        // Linux 6.1's lines: no `KSM:` yet.
        assert_eq!(lines[14], "AnonHugePages:      2048 kB");
        assert_eq!(lines[18], "Private_Hugetlb:       0 kB");
        assert_eq!(lines.len(), 22);
    }

    #[test]
    fn vm_flags_line_names_bits_as_linux() {
        let mut t = String::new();
        let flags = VmFlags::from_bits(
            0x1 | 0x2 | 0x10 | 0x20 | 0x40 | 0x2000 | 0x8_0000 | 0x10_0000 | (1 << 33) | (1 << 48),
        );
        show_smap_vma_flags(&mut t, flags).unwrap();
        assert_eq!(t, "VmFlags: rd wr mr mw me lo ?? ac \n");
    }

    #[test]
    fn thp_eligibility_needs_an_aligned_block_inside() {
        use crate::vma::{VM_READ, VM_WRITE};
        let locked = VM_READ.union(VM_WRITE).union(VM_LOCKED);
        let mb2 = L2_BLOCK_SIZE;
        assert!(thp_eligible(mb2, 2 * mb2, locked, false));
        assert!(!thp_eligible(
            mb2 + PAGE_SIZE,
            3 * mb2 - PAGE_SIZE,
            locked,
            false
        ));
        assert!(thp_eligible(mb2 - PAGE_SIZE, 2 * mb2, locked, false));
        // Locked memory gets its blocks whatever the process said of huge pages; other memory
        // follows the THP policy (the machine's default mode is `always`).
        assert!(thp_eligible(mb2, 2 * mb2, locked, true));
        assert!(!thp_eligible(mb2, 2 * mb2, VM_READ.union(VM_WRITE), true));
        assert!(thp_eligible(mb2, 2 * mb2, VM_READ.union(VM_WRITE), false));
        assert!(!thp_eligible(mb2, 2 * mb2, VM_READ, false));
    }
}
