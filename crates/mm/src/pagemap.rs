//! `/proc/PID/pagemap`: one 64-bit entry per virtual page (Linux `pagemap_read` in
//! fs/proc/task_mmu.c; Documentation/admin-guide/mm/pagemap.rst). A present page has bit 63,
//! its frame number in bits 0–54 for a reader with `CAP_SYS_ADMIN` (0 for others, as since
//! Linux 4.2), bit 61 when it is an object's page (a file's or shared memory's) rather than an
//! anonymous one, and bit 56 when no other mapping has it. Absent pages, and pages outside
//! every VMA, read as 0: tidemark has no swap, and arm64 has no soft-dirty bit.
use super::addr::{VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use super::phys::PhysMem;
use super::smaps::{classify, PageKind, SmapsVma};
use super::tlb::TlbFlush;
use super::user_pages::UserPages;

/// Bytes per entry; reads and offsets must be multiples of it.
pub const PM_ENTRY_BYTES: usize = 8;
const PM_PFRAME_MASK: u64 = (1 << 55) - 1;
const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
const PM_FILE: u64 = 1 << 61;
const PM_PRESENT: u64 = 1 << 63;

impl<M: PhysMem, T: TlbFlush> UserPages<M, T> {
    /// Fills `out` with the entries of the pages from number `first` on; `vmas` are the address
    /// space's, in order. `show_pfn`: the reader may see frame numbers.
    pub fn pagemap(&self, vmas: &[SmapsVma<'_>], first: usize, out: &mut [u64], show_pfn: bool) {
        let mem = self.pt.phys_mem();
        let mut vi = vmas.partition_point(|v| v.end <= first << PAGE_SHIFT);
        for (i, entry) in out.iter_mut().enumerate() {
            let va = (first + i) << PAGE_SHIFT;
            while vmas.get(vi).is_some_and(|v| v.end <= va) {
                vi += 1;
            }
            *entry = 0;
            let Some(vma) = vmas.get(vi).filter(|v| v.start <= va) else {
                continue;
            };
            let Some(t) = self.pt.translate(VirtAddr(va)) else {
                continue;
            };
            let pa = t.pa.align_down(PAGE_SIZE);
            *entry = PM_PRESENT;
            if show_pfn {
                *entry |= (pa.0 as u64 >> PAGE_SHIFT) & PM_PFRAME_MASK;
            }
            // The zero page and other frames no mapping owns are no page of Linux's
            // `vm_normal_page`: present, nothing more.
            if t.attrs.owned {
                let refs = mem.frame_refs(t.pa.align_down(t.size()));
                let (kind, mapcount) = classify(vma, va, pa, t.size(), refs);
                if kind != PageKind::Anon {
                    *entry |= PM_FILE;
                }
                if mapcount == 1 {
                    *entry |= PM_MMAP_EXCLUSIVE;
                }
            }
        }
    }
}
