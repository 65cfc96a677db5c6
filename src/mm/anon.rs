//! Anonymous private memory: the page-table side of the VMAs (Linux `do_anonymous_page`, the
//! zero-page rule, `populate_vma_page_range`, `zap_page_range`).
//!
//! [`UserPages`] owns a process's TTBR0 table and implements [`PageTableOps`] for `MmStruct`, plus
//! the fault path: a read fault maps the shared zero page read-only, a write fault maps a zeroed
//! frame (replacing the zero page if it was there). PROT_NONE pages keep their frame mapped
//! EL1-only, so EL0 accesses fault with a permission fault while the contents survive a later
//! mprotect back to readable, as Linux's `PTE_PROT_NONE` does.
use super::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use super::error::MmError;
use super::fault::FaultAccess;
use super::mm_struct::PageTableOps;
use super::pagetable::{Attrs, PageTable, PtError};
use super::phys::PhysMem;
use super::tlb::TlbFlush;
use super::vma::{VmFlags, VM_ACCESS_FLAGS, VM_EXEC, VM_WRITE};

/// Pages written per `map_pages` batch during population.
const POPULATE_BATCH: usize = 64;

/// The leaf attributes a VMA's flags give an anonymous page.
pub fn pte_attrs(flags: VmFlags) -> Attrs {
    if !flags.intersects(VM_ACCESS_FLAGS) {
        // PROT_NONE: present for the kernel's bookkeeping, inaccessible to EL0 (and to the
        // kernel's unprivileged LDTR/STTR user accesses).
        return Attrs {
            user: false,
            global: false,
            ..Attrs::kernel_ro()
        }
        .with_owned(true);
    }
    Attrs::user_ro()
        .with_writable(flags.contains(VM_WRITE))
        .with_exec(flags.contains(VM_EXEC))
        .with_owned(true)
}

fn pt_err(e: PtError) -> MmError {
    match e {
        PtError::NoMemory => MmError::NoMemory,
        _ => MmError::Fault,
    }
}

/// What a fault did, for the fault counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultResult {
    /// The shared zero page was mapped (read fault).
    ZeroPage,
    /// A zeroed frame was mapped.
    NewPage,
    /// Nothing was missing: another path mapped it, or a stale TLB entry faulted.
    Spurious,
}

pub struct UserPages<M: PhysMem, T: TlbFlush> {
    pub pt: PageTable<M>,
    tlb: T,
    zero_page: PhysAddr,
}

impl<M: PhysMem, T: TlbFlush> UserPages<M, T> {
    /// `zero_page` is a frame of zeros shared by every process and never freed.
    pub fn new(pt: PageTable<M>, tlb: T, zero_page: PhysAddr) -> Self {
        Self { pt, tlb, zero_page }
    }

    pub fn zero_page(&self) -> PhysAddr {
        self.zero_page
    }

    pub fn tlb(&self) -> &T {
        &self.tlb
    }

    fn zeroed_frame(&self) -> Result<PhysAddr, MmError> {
        let mem = self.pt.phys_mem();
        let pa = mem.alloc_frames(0).ok_or(MmError::NoMemory)?;
        mem.zero_frames(pa, 0);
        Ok(pa)
    }

    fn is_present(&self, va: usize) -> bool {
        self.pt.translate(VirtAddr(va)).is_some()
    }

    /// Resolves a fault at `addr` in a VMA with `flags` that allows `access` (the caller checked
    /// the VMA).
    pub fn handle_mm_fault(
        &mut self,
        addr: usize,
        flags: VmFlags,
        access: FaultAccess,
    ) -> Result<FaultResult, MmError> {
        let va = VirtAddr(addr & !(PAGE_SIZE - 1));
        let attrs = pte_attrs(flags);
        match self.pt.translate(va) {
            None if access != FaultAccess::Write => {
                let zero = attrs.with_writable(false).with_owned(false);
                self.pt
                    .map_page(va, self.zero_page, zero, &self.tlb)
                    .map_err(pt_err)?;
                Ok(FaultResult::ZeroPage)
            }
            None => {
                let pa = self.zeroed_frame()?;
                if let Err(e) = self.pt.map_page(va, pa, attrs, &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e));
                }
                Ok(FaultResult::NewPage)
            }
            Some(t)
                if access == FaultAccess::Write && t.pa.align_down(PAGE_SIZE) == self.zero_page =>
            {
                // Write to the zero page: give the page a frame of its own (break-before-make
                // through unmap + map; the zero page is not owned, so nothing is freed).
                let pa = self.zeroed_frame()?;
                self.pt.unmap_page(va, &self.tlb).map_err(pt_err)?;
                if let Err(e) = self.pt.map_page(va, pa, attrs, &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e));
                }
                Ok(FaultResult::NewPage)
            }
            Some(t) if t.attrs.user && (access != FaultAccess::Write || t.attrs.writable) => {
                Ok(FaultResult::Spurious)
            }
            Some(_) => {
                // The VMA allows the access but the entry does not (e.g. it predates an mprotect
                // that raced with a fault): bring the entry in line with the VMA.
                self.pt
                    .protect(va, PAGE_SIZE, attrs, &self.tlb)
                    .map_err(pt_err)?;
                Ok(FaultResult::Spurious)
            }
        }
    }

    /// Maps a zeroed private frame at `va` (which must be unmapped) with `flags`' permissions and
    /// returns it, so that the caller can fill it (the ELF loader, the initial stack).
    pub fn install_frame(&mut self, va: usize, flags: VmFlags) -> Result<PhysAddr, MmError> {
        let va = VirtAddr(va & !(PAGE_SIZE - 1));
        if let Some(t) = self.pt.translate(va) {
            if t.attrs.owned {
                return Ok(t.pa.align_down(PAGE_SIZE));
            }
            self.pt.unmap_page(va, &self.tlb).map_err(pt_err)?;
        }
        let pa = self.zeroed_frame()?;
        if let Err(e) = self.pt.map_page(va, pa, pte_attrs(flags), &self.tlb) {
            self.pt.phys_mem().free_frames(pa, 0);
            return Err(pt_err(e));
        }
        Ok(pa)
    }

    /// Resident anonymous pages (owned frames mapped), for VmRSS.
    pub fn rss_pages(&self) -> usize {
        let mut pages = 0;
        self.pt.for_each_mapping(|m| {
            if m.attrs.owned {
                pages += m.size / PAGE_SIZE;
            }
        });
        pages
    }

    /// Maps `pas` at `va` with `attrs`, freeing owned frames if that fails.
    fn map_batch(&mut self, va: usize, pas: &[PhysAddr], attrs: Attrs) -> Result<(), MmError> {
        if let Err(e) = self.pt.map_pages(VirtAddr(va), pas, attrs, &self.tlb) {
            if attrs.owned {
                pas.iter()
                    .for_each(|&pa| self.pt.phys_mem().free_frames(pa, 0));
            }
            return Err(pt_err(e));
        }
        Ok(())
    }
}

impl<M: PhysMem, T: TlbFlush> PageTableOps for UserPages<M, T> {
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), MmError> {
        self.pt
            .unmap(VirtAddr(start), end - start, &self.tlb)
            .map(|_| ())
            .map_err(pt_err)
    }

    fn protect_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.pt
            .protect(VirtAddr(start), end - start, pte_attrs(flags), &self.tlb)
            .map_err(pt_err)?;
        if flags.contains(VM_WRITE) {
            // The zero page stays read-only whatever the VMA says; a write faults and copies.
            let zero = self.zero_page;
            let mut zero_pages = alloc::vec::Vec::new();
            self.pt.for_each_mapping(|m| {
                let va = m.va.as_usize();
                if va >= start && va < end && m.pa == zero {
                    zero_pages.push(va);
                }
            });
            let ro = pte_attrs(flags).with_writable(false);
            for va in zero_pages {
                self.pt
                    .protect(VirtAddr(va), PAGE_SIZE, ro, &self.tlb)
                    .map_err(pt_err)?;
            }
        }
        Ok(())
    }

    /// Maps every present page of the old range at the new address to the same frame with the
    /// same attributes (ownership included), then removes the old translations without freeing
    /// the frames ([`PageTable::unmap_keep`]). A failure in either step unmaps (keeping frames)
    /// what the first step added, so nothing changes; the new range held nothing before, and only
    /// pages were mapped there, so that undo never needs a table and cannot fail.
    fn move_range(
        &mut self,
        old_start: usize,
        new_start: usize,
        len: usize,
    ) -> Result<(), MmError> {
        debug_assert!(old_start + len <= new_start || new_start + len <= old_start);
        let mut off = 0;
        while off < len {
            if let Some(t) = self.pt.translate(VirtAddr(old_start + off)) {
                let pa = t.pa.align_down(PAGE_SIZE);
                if let Err(e) = self
                    .pt
                    .map_page(VirtAddr(new_start + off), pa, t.attrs, &self.tlb)
                {
                    let _ = self.pt.unmap_keep(VirtAddr(new_start), off, &self.tlb);
                    return Err(pt_err(e));
                }
            }
            off += PAGE_SIZE;
        }
        if let Err(e) = self.pt.unmap_keep(VirtAddr(old_start), len, &self.tlb) {
            let _ = self.pt.unmap_keep(VirtAddr(new_start), len, &self.tlb);
            return Err(pt_err(e));
        }
        Ok(())
    }

    fn mincore(&self, start: usize, end: usize, out: &mut [u8]) -> Result<(), MmError> {
        for (i, va) in (start..end).step_by(PAGE_SIZE).enumerate() {
            out[i] = u8::from(self.is_present(va));
        }
        Ok(())
    }

    /// Writable memory gets zeroed frames, the rest the zero page, as a write or read fault
    /// would (`populate_vma_page_range` touches writable mappings with writes). Runs of absent
    /// pages are mapped in batches, one barrier per batch.
    fn populate_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        let write = flags.contains(VM_WRITE);
        let attrs = if write {
            pte_attrs(flags)
        } else {
            pte_attrs(flags).with_writable(false).with_owned(false)
        };
        let mut batch: [PhysAddr; POPULATE_BATCH] = [PhysAddr(0); POPULATE_BATCH];
        let mut va = start;
        while va < end {
            if self.is_present(va) {
                va += PAGE_SIZE;
                continue;
            }
            let mut n = 0;
            while n < POPULATE_BATCH
                && va + n * PAGE_SIZE < end
                && !self.is_present(va + n * PAGE_SIZE)
            {
                batch[n] = if write {
                    match self.zeroed_frame() {
                        Ok(pa) => pa,
                        Err(e) => {
                            batch[..n]
                                .iter()
                                .for_each(|&pa| self.pt.phys_mem().free_frames(pa, 0));
                            return Err(e);
                        }
                    }
                } else {
                    self.zero_page
                };
                n += 1;
            }
            self.map_batch(va, &batch[..n], attrs)?;
            va += n * PAGE_SIZE;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::phys::sim::SimRam;
    use crate::mm::tlb::fake::RecordingTlb;
    use crate::mm::vma::VM_READ;

    const RW: VmFlags = VM_READ.union(VM_WRITE);

    fn setup(ram: &SimRam) -> UserPages<&SimRam, RecordingTlb> {
        let zero = ram.alloc_frames(0).unwrap();
        // SAFETY: a SimRam frame, zeroed for the zero page.
        unsafe { core::ptr::write_bytes(ram.phys_to_virt(zero), 0, PAGE_SIZE) };
        UserPages::new(
            PageTable::new_user(ram, 1).unwrap(),
            RecordingTlb::new(),
            zero,
        )
    }

    fn read_byte(up: &UserPages<&SimRam, RecordingTlb>, va: usize) -> u8 {
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        // SAFETY: a mapped SimRam frame.
        unsafe { *up.pt.phys_mem().phys_to_virt(t.pa) }
    }

    #[test]
    fn read_fault_maps_the_zero_page_and_a_write_replaces_it() {
        let ram = SimRam::new(256);
        let mut up = setup(&ram);
        let va = 0x40_0000;
        assert_eq!(
            up.handle_mm_fault(va + 8, RW, FaultAccess::Read),
            Ok(FaultResult::ZeroPage)
        );
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        assert_eq!(t.pa, up.zero_page());
        assert!(!t.attrs.writable && !t.attrs.owned);
        assert_eq!(up.rss_pages(), 0, "the zero page is not resident set");
        assert_eq!(
            up.handle_mm_fault(va, RW, FaultAccess::Write),
            Ok(FaultResult::NewPage)
        );
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        assert_ne!(t.pa, up.zero_page());
        assert!(t.attrs.writable && t.attrs.owned);
        assert_eq!(read_byte(&up, va), 0, "fresh pages read zero");
        assert_eq!(up.rss_pages(), 1);
    }

    #[test]
    fn populate_then_unmap_returns_every_frame() {
        let ram = SimRam::new(512);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        up.populate_range(0x100_0000, 0x100_0000 + 100 * PAGE_SIZE, RW)
            .unwrap();
        assert_eq!(up.rss_pages(), 100);
        up.unmap_range(0x100_0000, 0x100_0000 + 100 * PAGE_SIZE)
            .unwrap();
        assert_eq!(up.rss_pages(), 0);
        assert_eq!(
            ram.allocated_frames(),
            base,
            "frames and tables all returned"
        );
    }

    #[test]
    fn populate_out_of_memory_is_an_error_and_leaks_nothing() {
        let ram = SimRam::new(64);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        assert_eq!(
            up.populate_range(0, 128 * PAGE_SIZE, RW),
            Err(MmError::NoMemory)
        );
        up.unmap_range(0, 128 * PAGE_SIZE).unwrap();
        assert_eq!(ram.allocated_frames(), base);
    }

    #[test]
    fn prot_none_keeps_contents_but_denies_el0() {
        let ram = SimRam::new(256);
        let mut up = setup(&ram);
        let va = 0x20_0000;
        let pa = up.install_frame(va, RW).unwrap();
        // SAFETY: the frame just installed.
        unsafe { *ram.phys_to_virt(pa) = 0x5a };
        up.protect_range(va, va + PAGE_SIZE, VmFlags::empty())
            .unwrap();
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        assert!(!t.attrs.user);
        up.protect_range(va, va + PAGE_SIZE, RW).unwrap();
        assert!(up.pt.translate(VirtAddr(va)).unwrap().attrs.user);
        assert_eq!(read_byte(&up, va), 0x5a);
    }

    fn write_byte(up: &UserPages<&SimRam, RecordingTlb>, va: usize, v: u8) {
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        // SAFETY: a mapped SimRam frame.
        unsafe { *up.pt.phys_mem().phys_to_virt(t.pa) = v };
    }

    #[test]
    fn move_range_moves_frames_and_holes_without_copying() {
        let ram = SimRam::new(512);
        let mut up = setup(&ram);
        let (old, new) = (0x100_0000, 0x300_0000);
        up.populate_range(old, old + 4 * PAGE_SIZE, RW).unwrap();
        up.unmap_range(old + 2 * PAGE_SIZE, old + 3 * PAGE_SIZE)
            .unwrap();
        up.handle_mm_fault(old + 5 * PAGE_SIZE, RW, FaultAccess::Read)
            .unwrap();
        for i in [0, 1, 3] {
            write_byte(&up, old + i * PAGE_SIZE + 7, 0x10 + i as u8);
        }
        let pa1 = up.pt.translate(VirtAddr(old + PAGE_SIZE)).unwrap().pa;
        let frames = ram.allocated_frames();
        up.move_range(old, new, 6 * PAGE_SIZE).unwrap();
        for i in [0, 1, 3] {
            assert_eq!(read_byte(&up, new + i * PAGE_SIZE + 7), 0x10 + i as u8);
        }
        assert_eq!(
            up.pt.translate(VirtAddr(new + PAGE_SIZE)).unwrap().pa,
            pa1,
            "not copied"
        );
        assert!(
            up.pt.translate(VirtAddr(new + 2 * PAGE_SIZE)).is_none(),
            "hole stays a hole"
        );
        assert!(up.pt.translate(VirtAddr(new + 4 * PAGE_SIZE)).is_none());
        let z = up.pt.translate(VirtAddr(new + 5 * PAGE_SIZE)).unwrap();
        assert!(z.pa == up.zero_page() && !z.attrs.owned && !z.attrs.writable);
        assert!((0..6).all(|i| up.pt.translate(VirtAddr(old + i * PAGE_SIZE)).is_none()));
        assert_eq!(up.rss_pages(), 3);
        // Same frames; the tables of the old range went, those of the new one came.
        assert_eq!(ram.allocated_frames(), frames);
        let mut v = [9u8; 6];
        up.mincore(new, new + 6 * PAGE_SIZE, &mut v).unwrap();
        assert_eq!(v, [1, 1, 0, 1, 0, 1]);
        up.unmap_range(new, new + 6 * PAGE_SIZE).unwrap();
        assert_eq!(
            ram.allocated_frames(),
            1 + 1,
            "root table and the zero page"
        );
    }

    #[test]
    fn move_range_out_of_table_memory_changes_nothing() {
        let ram = SimRam::new(64);
        let mut up = setup(&ram);
        let old = 0x100_0000;
        up.populate_range(old, old + 2 * PAGE_SIZE, RW).unwrap();
        write_byte(&up, old, 0x77);
        // Use up the rest of RAM so that the new range's tables cannot be allocated.
        let mut hog = alloc::vec::Vec::new();
        while let Some(pa) = ram.alloc_frames(0) {
            hog.push(pa);
        }
        // 1 GiB away: needs a new L2 and L3 table.
        let new = old + (1 << 30);
        assert_eq!(
            up.move_range(old, new, 2 * PAGE_SIZE),
            Err(MmError::NoMemory)
        );
        assert_eq!(read_byte(&up, old), 0x77);
        assert!(up.pt.translate(VirtAddr(new)).is_none());
        hog.iter().for_each(|&pa| ram.free_frames(pa, 0));
        up.move_range(old, new, 2 * PAGE_SIZE).unwrap();
        assert_eq!(read_byte(&up, new), 0x77);
    }

    #[test]
    fn mprotect_writable_keeps_the_zero_page_read_only() {
        let ram = SimRam::new(256);
        let mut up = setup(&ram);
        let va = 0x30_0000;
        up.handle_mm_fault(va, VM_READ, FaultAccess::Read).unwrap();
        up.protect_range(va, va + PAGE_SIZE, RW).unwrap();
        assert!(!up.pt.translate(VirtAddr(va)).unwrap().attrs.writable);
    }
}
