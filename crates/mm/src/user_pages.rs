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
use super::object::{ObjectError, PageObject};
use super::pagetable::{
    Attrs, MapSize, MappedPage, PageEntry, PageTable, PtError, UnmapReserve, L2_BLOCK_SIZE,
};
use super::phys::PhysMem;
use super::tlb::TlbFlush;
use super::vma::{
    VmFlags, VM_ACCESS_FLAGS, VM_EXEC, VM_LOCKED, VM_LOCKONFAULT, VM_MAYSHARE, VM_SHARED, VM_WRITE,
};

/// Zero-page entries written per `map_pages` batch during population of read-only memory.
const POPULATE_BATCH: usize = 64;
/// The largest run of frames (1 MiB) page population asks the allocator for at once: one buddy
/// allocation, one zeroing call and one `map` per run. Runs need no array of addresses, so they
/// can be larger than [`POPULATE_BATCH`]; the allocator's per-call cost (its free lists are
/// trees) then spreads over 256 pages instead of 64.
const PAGE_RUN_ORDER: usize = 8;
/// Buddy order of an L2 block's frames.
const BLOCK_ORDER: usize = (L2_BLOCK_SIZE / PAGE_SIZE).trailing_zeros() as usize;

/// Whether population may map whole 2 MiB blocks in a VMA with `flags`: memory that is locked
/// and populated eagerly (not VM_LOCKONFAULT), writable and private. Locked memory is never
/// reclaimed and is written anyway, so one block costs nothing a page would not, and it saves 511
/// descriptors, 511 TLB entries and most of the per-page work; anything else stays demand-paged
/// in 4 KiB pages, as Linux with THP disabled.
pub fn wants_blocks(flags: VmFlags) -> bool {
    flags.contains(VM_LOCKED | VM_WRITE)
        && !flags.intersects(VM_LOCKONFAULT.union(VM_SHARED).union(VM_MAYSHARE))
}

/// Resident owned memory (what VmRSS and `Rss:` count; the zero page is not), in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resident {
    pub pages: usize,
    /// The part of `pages` mapped by blocks (`AnonHugePages:`).
    pub block_pages: usize,
}

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

/// Why a fault in an object's mapping failed: the mm's errors, or a page past the end of the
/// file (`SIGBUS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackedFaultError {
    Mm(MmError),
    Bus,
}

impl From<MmError> for BackedFaultError {
    fn from(e: MmError) -> Self {
        BackedFaultError::Mm(e)
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
    /// A page mapped read-only that the VMA lets this access write in place was made writable:
    /// the last sharer of a frame since a fork takes it over, a shared mapping's page is written
    /// (Linux's `wp_page_reuse`, `wp_page_shared`), or an entry behind its VMA is brought in line.
    /// A fault like any other for the counters, as on Linux.
    MadeWritable,
    /// A write to a frame shared since a fork made a private copy.
    CowCopy,
    /// A zeroed 2 MiB block was mapped around the page (a transparent huge page).
    HugePage,
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

    /// Resolves a fault at `addr` in a VMA with `flags` that allows `access` (the caller checked
    /// the VMA).
    #[inline]
    pub fn handle_mm_fault(
        &mut self,
        addr: usize,
        flags: VmFlags,
        access: FaultAccess,
    ) -> Result<FaultResult, MmError> {
        self.handle_mm_fault_with(addr, flags, access, &mut None, None)
    }

    /// [`handle_mm_fault`](Self::handle_mm_fault) with a zeroed frame made beforehand, which a
    /// write to an unmapped page takes (`frame` left `None`) instead of allocating and zeroing
    /// one: so a caller that holds the page tables' lock around this call does that work before
    /// taking it, as Linux's `do_anonymous_page` allocates before taking the page-table lock.
    /// A frame not taken stays in `frame`, the caller's to free. `huge` is the 2 MiB range around
    /// `addr` when the caller found it eligible for a transparent huge page
    /// ([`crate::thp`]): a write maps a zeroed block there if nothing maps any of it yet and the
    /// allocator has an aligned run, and a page otherwise.
    #[inline]
    pub fn handle_mm_fault_with(
        &mut self,
        addr: usize,
        flags: VmFlags,
        access: FaultAccess,
        frame: &mut Option<PhysAddr>,
        huge: Option<usize>,
    ) -> Result<FaultResult, MmError> {
        let va = VirtAddr(addr & !(PAGE_SIZE - 1));
        let attrs = pte_attrs(flags);
        if let Some(base) = huge {
            // Before the entry is looked up: that walk makes the page's table, after which the
            // range can no longer take a block.
            if access == FaultAccess::Write && self.try_block(base, attrs) {
                return Ok(FaultResult::HugePage);
            }
        }
        // One walk finds the entry and, when it is missing, the table to write it into.
        match self.pt.page_entry(va).map_err(pt_err)? {
            PageEntry::Mapped(m) => self.fault_on_mapped(va, m, attrs, access, frame),
            PageEntry::Vacant(slot) if access != FaultAccess::Write => {
                let zero = attrs.with_writable(false).with_owned(false);
                slot.insert(self.zero_page, zero, &self.tlb)
                    .map_err(pt_err)?;
                Ok(FaultResult::ZeroPage)
            }
            PageEntry::Vacant(slot) => {
                let mem = slot.phys_mem();
                let pa = match frame.take() {
                    Some(pa) => pa,
                    None => {
                        let pa = mem.alloc_frames(0).ok_or(MmError::NoMemory)?;
                        mem.zero_frames(pa, 0);
                        pa
                    }
                };
                // A frame just taken: nothing else refers to it.
                if let Err(e) = slot.insert(pa, attrs.with_exclusive(true), &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e));
                }
                Ok(FaultResult::NewPage)
            }
        }
    }

    /// A fault in a VMA whose pages come from `object` (with `VM_BACKED`); `index` is the page
    /// of the object at `addr`. A shared mapping (`VM_MAYSHARE`) maps the object's own frame and
    /// never copies it; a private one maps it read-only and copies it on the first write, after
    /// which the copy is anonymous (Linux's `do_read_fault`, `do_cow_fault`, `do_shared_fault`).
    pub fn handle_backed_fault(
        &mut self,
        addr: usize,
        flags: VmFlags,
        access: FaultAccess,
        object: &dyn PageObject,
        index: usize,
    ) -> Result<FaultResult, BackedFaultError> {
        let va = VirtAddr(addr & !(PAGE_SIZE - 1));
        let attrs = pte_attrs(flags);
        let shared = flags.contains(VM_MAYSHARE);
        match self.pt.page_entry(va).map_err(pt_err)? {
            PageEntry::Mapped(m) if shared => {
                let t = m.translation();
                if t.attrs.user && (access != FaultAccess::Write || t.attrs.writable) {
                    return Ok(FaultResult::Spurious);
                }
                self.pt
                    .protect(va, PAGE_SIZE, attrs, &self.tlb)
                    .map_err(pt_err)?;
                Ok(FaultResult::MadeWritable)
            }
            PageEntry::Mapped(m) => Ok(self.fault_on_mapped(va, m, attrs, access, &mut None)?),
            PageEntry::Vacant(slot) => {
                let pa = object.get_page(index).map_err(|e| match e {
                    ObjectError::Bus => BackedFaultError::Bus,
                    ObjectError::NoMemory => BackedFaultError::Mm(MmError::NoMemory),
                })?;
                let mem = slot.phys_mem();
                let (pa, attrs) = if shared {
                    (pa, attrs)
                } else if access == FaultAccess::Write {
                    // A private copy at once.
                    let copy = match mem.alloc_frames(0) {
                        Some(c) => c,
                        None => {
                            mem.free_frames(pa, 0);
                            return Err(MmError::NoMemory.into());
                        }
                    };
                    // SAFETY: two distinct frames, reached through the kernel's view of RAM.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            mem.phys_to_virt(pa),
                            mem.phys_to_virt(copy),
                            PAGE_SIZE,
                        )
                    };
                    mem.free_frames(pa, 0);
                    (copy, attrs)
                } else {
                    (pa, attrs.with_writable(false))
                };
                if let Err(e) = slot.insert(pa, attrs, &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e).into());
                }
                Ok(FaultResult::NewPage)
            }
        }
    }

    /// [`handle_mm_fault`](Self::handle_mm_fault) when a leaf maps the page: the zero page or a
    /// frame shared since a fork written to, a spurious fault, or an entry behind its VMA.
    #[inline(never)]
    fn fault_on_mapped(
        &mut self,
        va: VirtAddr,
        m: MappedPage,
        attrs: Attrs,
        access: FaultAccess,
        frame: &mut Option<PhysAddr>,
    ) -> Result<FaultResult, MmError> {
        match m.translation() {
            t if access == FaultAccess::Write && t.pa.align_down(PAGE_SIZE) == self.zero_page => {
                // Write to the zero page: give the page a frame of its own (break-before-make
                // through unmap + map; the zero page is not owned, so nothing is freed).
                let pa = match frame.take() {
                    Some(pa) => pa,
                    None => self.zeroed_frame()?,
                };
                self.pt.unmap_page(va, &self.tlb).map_err(pt_err)?;
                if let Err(e) = self.pt.map_page(va, pa, attrs, &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e));
                }
                Ok(FaultResult::NewPage)
            }
            t if t.attrs.user && (access != FaultAccess::Write || t.attrs.writable) => {
                Ok(FaultResult::Spurious)
            }
            t if access == FaultAccess::Write
                && t.level == 3
                && t.attrs.owned
                && self.pt.phys_mem().frame_refs(t.pa.align_down(PAGE_SIZE)) > 1 =>
            {
                // Copy-on-write (Linux `wp_page_copy`): the frame is shared since a fork; this
                // process gets a private copy and drops its reference to the shared one. The last
                // sharer finds the count at one and takes the frame over below, without a copy.
                let old = t.pa.align_down(PAGE_SIZE);
                let mem = self.pt.phys_mem();
                let pa = mem.alloc_frames(0).ok_or(MmError::NoMemory)?;
                // SAFETY: two distinct frames, both reached through the kernel's view of RAM.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        mem.phys_to_virt(old),
                        mem.phys_to_virt(pa),
                        PAGE_SIZE,
                    )
                };
                self.pt.unmap_page(va, &self.tlb).map_err(pt_err)?;
                if let Err(e) = self.pt.map_page(va, pa, attrs, &self.tlb) {
                    self.pt.phys_mem().free_frames(pa, 0);
                    return Err(pt_err(e));
                }
                Ok(FaultResult::CowCopy)
            }
            _ => {
                // The VMA allows the access but the entry does not (e.g. it predates an mprotect
                // that raced with a fault), or this process is the last sharer of a frame since
                // a fork: bring the entry in line with the VMA.
                self.pt
                    .protect(va, PAGE_SIZE, attrs, &self.tlb)
                    .map_err(pt_err)?;
                Ok(FaultResult::MadeWritable)
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

    /// Resident anonymous pages (owned frames mapped, a block counting as all its pages), for
    /// VmRSS.
    pub fn rss_pages(&self) -> usize {
        self.resident().pages
    }

    /// Resident pages (the zero page aside), and how many of them blocks map.
    pub fn resident(&self) -> Resident {
        let mut r = Resident::default();
        self.pt.for_each_mapping(|m| {
            if m.attrs.owned {
                r.pages += m.size / PAGE_SIZE;
                if m.size > PAGE_SIZE {
                    r.block_pages += m.size / PAGE_SIZE;
                }
            }
        });
        r
    }

    /// Of the resident pages, those that are an object's own frames rather than private copies:
    /// Linux's file and shmem RSS, in that order. `vmas` lists the mappings of objects as
    /// `(start, end, pgoff, object)`, ascending.
    pub fn object_pages(&self, vmas: &[(usize, usize, usize, &dyn PageObject)]) -> (usize, usize) {
        let (mut file, mut shmem) = (0, 0);
        self.for_each_object_page(vmas, |_, is_shmem| {
            if is_shmem {
                shmem += 1;
            } else {
                file += 1;
            }
        });
        (file, shmem)
    }

    /// Calls `f` with the frame of each page that is an object's own (see
    /// [`object_pages`](Self::object_pages)), and whether the object is shared memory.
    pub fn for_each_object_page(
        &self,
        vmas: &[(usize, usize, usize, &dyn PageObject)],
        mut f: impl FnMut(PhysAddr, bool),
    ) {
        self.pt.for_each_mapping(|m| {
            let va = m.va.as_usize();
            let i = vmas.partition_point(|v| v.1 <= va);
            if let Some(&(start, end, pgoff, object)) = vmas.get(i) {
                if m.attrs.owned && start <= va && va < end && m.size == PAGE_SIZE {
                    let index = pgoff + (va - start) / PAGE_SIZE;
                    if object.peek_page(index) == Some(m.pa.align_down(PAGE_SIZE)) {
                        f(m.pa.align_down(PAGE_SIZE), object.is_shmem());
                    }
                }
            }
        });
    }

    /// Maps the page of frame `pa` at `dst` for [`move_range`](PageTableOps::move_range); returns
    /// the bytes moved.
    fn move_page(&mut self, pa: PhysAddr, dst: usize, attrs: Attrs) -> Result<usize, PtError> {
        self.pt
            .map_page(VirtAddr(dst), pa.align_down(PAGE_SIZE), attrs, &self.tlb)
            .map(|()| PAGE_SIZE)
    }

    /// Maps the shared zero page read-only and unowned over the unmapped `[start, end)`, in
    /// `map_pages` batches (what a read fault would give each page).
    fn fill_zero_page(&mut self, start: usize, end: usize, attrs: Attrs) -> Result<(), MmError> {
        let attrs = attrs.with_writable(false).with_owned(false);
        let batch = [self.zero_page; POPULATE_BATCH];
        let mut va = start;
        while va < end {
            let n = ((end - va) / PAGE_SIZE).min(POPULATE_BATCH);
            self.pt
                .map_pages(VirtAddr(va), &batch[..n], attrs, &self.tlb)
                .map_err(pt_err)?;
            va += n * PAGE_SIZE;
        }
        Ok(())
    }

    /// Fills the unmapped `[start, end)` with zeroed private frames mapped with `attrs`: 2 MiB
    /// blocks where `blocks` allows and the allocator has an aligned 512-frame run, pages
    /// elsewhere. Pages go up to the next 2 MiB boundary at a time so that every aligned chunk
    /// gets its chance at a block; after the first refused run the rest is pages (the allocator
    /// will not find one a moment later either).
    fn fill_private(
        &mut self,
        start: usize,
        end: usize,
        attrs: Attrs,
        mut blocks: bool,
    ) -> Result<(), MmError> {
        let mut va = start;
        while va < end {
            if blocks && va.is_multiple_of(L2_BLOCK_SIZE) && end - va >= L2_BLOCK_SIZE {
                if self.try_block(va, attrs) {
                    va += L2_BLOCK_SIZE;
                    continue;
                }
                blocks = false;
            }
            let stop = if blocks {
                end.min((va | (L2_BLOCK_SIZE - 1)) + 1)
            } else {
                end
            };
            self.fill_pages(va, stop, attrs)?;
            va = stop;
        }
        Ok(())
    }

    /// Maps a zeroed 2 MiB block at the aligned `va` if the allocator has a run for it and the L2
    /// slot is free (no leaf, no table, so that no break-before-make is needed). Zeroes before
    /// mapping: the frames must never be visible with old contents. `false` leaves nothing
    /// changed (a table created on the way stays, empty, as with any failed map).
    fn try_block(&mut self, va: usize, attrs: Attrs) -> bool {
        let e = self.pt.extent(VirtAddr(va));
        if e.mapped || e.level > 2 {
            return false;
        }
        let mem = self.pt.phys_mem();
        let Some(pa) = mem.alloc_frames(BLOCK_ORDER) else {
            return false;
        };
        mem.zero_frames(pa, BLOCK_ORDER);
        if self
            .pt
            .map_block(VirtAddr(va), pa, attrs.with_exclusive(true), &self.tlb)
            .is_err()
        {
            self.pt.phys_mem().free_frames(pa, BLOCK_ORDER);
            return false;
        }
        true
    }

    /// Fills the unmapped `[start, end)` with zeroed pages in batches: each batch is one run of up
    /// to 2^[`PAGE_RUN_ORDER`] contiguous frames (smaller runs, down to single frames, when memory is
    /// fragmented or short), zeroed by one `zero_frames` call and mapped by one `map` whose
    /// entries are written in a loop with a single barrier. Owned pages of a run are later freed
    /// one by one, which `PhysMem` allows for any aligned part of an allocation.
    fn fill_pages(&mut self, start: usize, end: usize, attrs: Attrs) -> Result<(), MmError> {
        let mut va = start;
        while va < end {
            let pages = (end - va) / PAGE_SIZE;
            let mut order = PAGE_RUN_ORDER.min(pages.ilog2() as usize);
            let mem = self.pt.phys_mem();
            let pa = loop {
                if let Some(pa) = mem.alloc_frames(order) {
                    break pa;
                }
                if order == 0 {
                    return Err(MmError::NoMemory);
                }
                order -= 1;
            };
            mem.zero_frames(pa, order);
            let len = PAGE_SIZE << order;
            if let Err(e) = self.pt.map(
                VirtAddr(va),
                pa,
                len,
                attrs.with_exclusive(true),
                MapSize::PagesOnly,
                &self.tlb,
            ) {
                self.pt.phys_mem().free_frames(pa, order);
                return Err(pt_err(e));
            }
            va += len;
        }
        Ok(())
    }
}

impl<M: PhysMem, T: TlbFlush> PageTableOps for UserPages<M, T> {
    fn populate_backed(
        &mut self,
        start: usize,
        end: usize,
        flags: VmFlags,
        object: &dyn PageObject,
        first_index: usize,
    ) -> Result<(), MmError> {
        let access = if flags.contains(VM_WRITE) {
            FaultAccess::Write
        } else {
            FaultAccess::Read
        };
        for (i, va) in (start..end).step_by(PAGE_SIZE).enumerate() {
            match self.handle_backed_fault(va, flags, access, object, first_index + i) {
                Ok(_) => {}
                // Past the end of the file: population stops there, as `__mm_populate` does.
                Err(BackedFaultError::Bus) => return Err(MmError::Fault),
                Err(BackedFaultError::Mm(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), MmError> {
        self.pt
            .unmap(VirtAddr(start), end - start, &self.tlb)
            .map(|_| ())
            .map_err(pt_err)
    }

    type UnmapReserve = UnmapReserve;

    fn prepare_unmap(&mut self, start: usize, end: usize) -> Result<Option<UnmapReserve>, MmError> {
        self.pt
            .prepare_unmap(VirtAddr(start), end - start)
            .map_err(pt_err)
    }

    fn unmap_prepared(&mut self, start: usize, end: usize, reserve: UnmapReserve) {
        self.pt
            .unmap_prepared(VirtAddr(start), end - start, reserve, &self.tlb);
    }

    fn protect_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.pt
            .protect(VirtAddr(start), end - start, pte_attrs(flags), &self.tlb)
            .map_err(pt_err)?;
        if flags.contains(VM_WRITE) {
            // The zero page and frames shared since a fork stay read-only whatever the VMA says;
            // a write faults and copies (Linux's `can_change_pte_writable`).
            let zero = self.zero_page;
            let mem = self.pt.phys_mem();
            let mut zero_pages = alloc::vec::Vec::new();
            self.pt
                .for_each_mapping_in(VirtAddr(start), VirtAddr(end), |m| {
                    let va = m.va.as_usize();
                    let shared = m.attrs.owned && m.size == PAGE_SIZE && mem.frame_refs(m.pa) > 1;
                    if va >= start && (m.pa == zero || shared) {
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
    /// the frames ([`PageTable::unmap_keep`]). A block wholly inside the range moves as a block
    /// when the new address keeps it 2 MiB aligned (and its L2 slot is free), else as its 512
    /// pages, which then own their frames piecewise. A failure in either step unmaps (keeping
    /// frames) what the first step added, so nothing changes; the new range held nothing before,
    /// and only whole leaves were mapped there, so that undo never splits a block, needs no table
    /// and cannot fail.
    fn move_range(
        &mut self,
        old_start: usize,
        new_start: usize,
        len: usize,
    ) -> Result<(), MmError> {
        debug_assert!(old_start + len <= new_start || new_start + len <= old_start);
        let old_end = old_start + len;
        let mut off = 0;
        while off < len {
            let va = old_start + off;
            let e = self.pt.extent(VirtAddr(va));
            if !e.mapped {
                off = e.end.min(old_end) - old_start;
                continue;
            }
            let t = self.pt.translate(VirtAddr(va)).expect("extent said mapped");
            let dst = new_start + off;
            let whole_block = t.level == 2
                && va.is_multiple_of(L2_BLOCK_SIZE)
                && e.end <= old_end
                && dst.is_multiple_of(L2_BLOCK_SIZE);
            let moved = if whole_block {
                match self.pt.map_block(VirtAddr(dst), t.pa, t.attrs, &self.tlb) {
                    Ok(()) => Ok(L2_BLOCK_SIZE),
                    // An empty L3 table left in the slot: move the block as pages.
                    Err(PtError::AlreadyMapped) => self.move_page(t.pa, dst, t.attrs),
                    Err(e) => Err(e),
                }
            } else {
                self.move_page(t.pa, dst, t.attrs)
            };
            match moved {
                Ok(step) => off += step,
                Err(e) => {
                    let _ = self.pt.unmap_keep(VirtAddr(new_start), off, &self.tlb);
                    return Err(pt_err(e));
                }
            }
        }
        if let Err(e) = self.pt.unmap_keep(VirtAddr(old_start), len, &self.tlb) {
            let _ = self.pt.unmap_keep(VirtAddr(new_start), len, &self.tlb);
            return Err(pt_err(e));
        }
        Ok(())
    }

    /// One walk per leaf or hole ([`PageTable::extent`]), so a block or a missing table fills
    /// its whole span of `out` at once.
    fn mincore(&self, start: usize, end: usize, out: &mut [u8]) -> Result<(), MmError> {
        let mut va = start;
        while va < end {
            let e = self.pt.extent(VirtAddr(va));
            let stop = e.end.min(end);
            out[(va - start) / PAGE_SIZE..(stop - start) / PAGE_SIZE].fill(u8::from(e.mapped));
            va = stop;
        }
        Ok(())
    }

    /// Writable memory gets zeroed frames, the rest the zero page, as a write or read fault
    /// would (`populate_vma_page_range` touches writable mappings with writes). Each run of
    /// absent pages ([`PageTable::next_hole`]; present pages, blocks included, are left alone) is
    /// filled in batches with one barrier per batch; for locked private memory 2 MiB-aligned parts
    /// become blocks where the allocator has the frames ([`wants_blocks`]).
    fn populate_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        let write = flags.contains(VM_WRITE);
        let blocks = wants_blocks(flags);
        let mut va = start;
        while let Some((hole, len)) = self.pt.next_hole(VirtAddr(va), VirtAddr(end)) {
            let (hs, he) = (hole.as_usize(), hole.as_usize() + len);
            if write {
                self.fill_private(hs, he, pte_attrs(flags), blocks)?;
            } else {
                self.fill_zero_page(hs, he, pte_attrs(flags))?;
            }
            va = he;
        }
        Ok(())
    }
}

impl<M: PhysMem + Clone, T: TlbFlush> UserPages<M, T> {
    /// Copies this address space's pages into `child` for fork (Linux `copy_page_range`): every
    /// private page becomes shared copy-on-write — read-only on both sides, one more reference on
    /// the frame — and the zero page stays shared. Blocks (2 MiB runs, used for locked memory,
    /// which a child does not inherit locked) are copied outright: a COW break of a block would
    /// have to split it anyway. Returns the number of pages shared.
    pub fn fork_into(&mut self, child: &mut UserPages<M, T>) -> Result<usize, MmError> {
        self.fork_into_except(child, &[])
    }

    /// [`fork_into`](Self::fork_into) leaving out the `(start, end)` ranges of shared mappings:
    /// as Linux's `copy_page_range` skips them, the child faults their pages in from the object
    /// (which a copy-on-write share would wrongly make private).
    pub fn fork_into_except(
        &mut self,
        child: &mut UserPages<M, T>,
        shared_ranges: &[(usize, usize)],
    ) -> Result<usize, MmError> {
        let mut leaves = alloc::vec::Vec::new();
        self.pt.for_each_mapping(|m| {
            let va = m.va.0;
            if !shared_ranges.iter().any(|&(s, e)| s <= va && va < e) {
                leaves.push(m)
            }
        });
        let mem = self.pt.phys_mem().clone();
        let mut shared = 0;
        for m in leaves {
            // The child's entries never say exclusive: their frames are shared, or not owned.
            let ro = m.attrs.with_writable(false).with_exclusive(false);
            if !m.attrs.owned {
                child
                    .pt
                    .map_page(m.va, m.pa, ro, &child.tlb)
                    .map_err(pt_err)?;
            } else if m.size == PAGE_SIZE {
                if m.attrs.writable {
                    self.pt
                        .protect(m.va, PAGE_SIZE, ro, &self.tlb)
                        .map_err(pt_err)?;
                }
                if m.attrs.exclusive {
                    self.pt.share_page(m.va, &self.tlb);
                }
                mem.get_frame(m.pa);
                if let Err(e) = child.pt.map_page(m.va, m.pa, ro, &child.tlb) {
                    mem.free_frames(m.pa, 0);
                    return Err(pt_err(e));
                }
                shared += 1;
            } else {
                let order = (m.size / PAGE_SIZE).trailing_zeros() as usize;
                let pa = mem.alloc_frames(order).ok_or(MmError::NoMemory)?;
                // SAFETY: two distinct runs of `m.size` bytes, reached through the kernel's view.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        mem.phys_to_virt(m.pa),
                        mem.phys_to_virt(pa),
                        m.size,
                    )
                };
                let r = child
                    .pt
                    .map(m.va, pa, m.size, m.attrs, MapSize::Any, &child.tlb);
                if let Err(e) = r {
                    mem.free_frames(pa, order);
                    return Err(pt_err(e));
                }
            }
        }
        Ok(shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::sim::SimRam;
    use crate::tlb::fake::RecordingTlb;
    use crate::vma::VM_READ;

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

    /// Another address space (a fork's child) with ASID `asid` and the same zero page.
    fn child_of(ram: &SimRam, asid: u16, zero: PhysAddr) -> UserPages<&SimRam, RecordingTlb> {
        UserPages::new(
            PageTable::new_user(ram, asid).unwrap(),
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
    fn a_write_in_an_empty_eligible_range_maps_a_huge_page() {
        let ram = SimRam::new(2048);
        let mut up = setup(&ram);
        let base = 2 * L2_BLOCK_SIZE;
        let va = base + 77 * PAGE_SIZE;
        assert_eq!(
            up.handle_mm_fault_with(va, RW, FaultAccess::Write, &mut None, Some(base)),
            Ok(FaultResult::HugePage)
        );
        let t = up.pt.translate(VirtAddr(va)).unwrap();
        assert_eq!(t.level, 2);
        assert_eq!(read_byte(&up, base + L2_BLOCK_SIZE - 1), 0, "zeroed");
        assert_eq!(up.resident().block_pages, 512);
        assert_eq!(
            up.handle_mm_fault_with(base, RW, FaultAccess::Write, &mut None, Some(base)),
            Ok(FaultResult::Spurious),
            "the rest of the range is mapped already"
        );
        // A read first leaves the next range in pages: its table exists when the write comes.
        let next = base + L2_BLOCK_SIZE;
        up.handle_mm_fault(next, RW, FaultAccess::Read).unwrap();
        assert_eq!(
            up.handle_mm_fault_with(next, RW, FaultAccess::Write, &mut None, Some(next)),
            Ok(FaultResult::NewPage)
        );
        assert_eq!(up.pt.translate(VirtAddr(next)).unwrap().level, 3);
    }

    #[test]
    fn a_frame_made_beforehand_is_taken_by_a_write_only() {
        let ram = SimRam::new(256);
        let mut up = setup(&ram);
        let va = 0x40_0000;
        let made = ram.alloc_frames(0).unwrap();
        let mut frame = Some(made);
        assert_eq!(
            up.handle_mm_fault_with(va, RW, FaultAccess::Read, &mut frame, None),
            Ok(FaultResult::ZeroPage)
        );
        assert_eq!(
            frame,
            Some(made),
            "a read maps the zero page and leaves the frame"
        );
        assert_eq!(
            up.handle_mm_fault_with(va, RW, FaultAccess::Write, &mut frame, None),
            Ok(FaultResult::NewPage)
        );
        assert_eq!(frame, None, "the write over the zero page took it");
        assert_eq!(up.pt.translate(VirtAddr(va)).unwrap().pa, made);
        let other = ram.alloc_frames(0).unwrap();
        let mut frame = Some(other);
        assert_eq!(
            up.handle_mm_fault_with(va + PAGE_SIZE, RW, FaultAccess::Write, &mut frame, None),
            Ok(FaultResult::NewPage)
        );
        assert_eq!(up.pt.translate(VirtAddr(va + PAGE_SIZE)).unwrap().pa, other);
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

    #[test]
    fn fork_shares_pages_copy_on_write_and_returns_every_frame() {
        let ram = SimRam::new(512);
        let base = ram.allocated_frames();
        {
            let mut parent = setup(&ram);
            let zero = parent.zero_page();
            let va = 0x40_0000;
            let pa = parent.install_frame(va, RW).unwrap();
            // SAFETY: the frame just installed.
            unsafe { *ram.phys_to_virt(pa) = 7 };
            parent
                .handle_mm_fault(va + PAGE_SIZE, RW, FaultAccess::Read)
                .unwrap();
            let mut child = child_of(&ram, 2, zero);
            assert_eq!(parent.fork_into(&mut child), Ok(1));
            assert_eq!(ram.frame_refs(pa), 2);
            assert!(!parent.pt.translate(VirtAddr(va)).unwrap().attrs.writable);
            assert_eq!(
                child.pt.translate(VirtAddr(va + PAGE_SIZE)).unwrap().pa,
                zero
            );
            // A read in the child copies nothing.
            assert_eq!(
                child.handle_mm_fault(va, RW, FaultAccess::Read),
                Ok(FaultResult::Spurious)
            );
            assert_eq!(read_byte(&child, va), 7);
            // The child's write copies; the parent keeps its data and, as last sharer, takes the
            // frame over without a copy.
            assert_eq!(
                child.handle_mm_fault(va, RW, FaultAccess::Write),
                Ok(FaultResult::CowCopy)
            );
            let cpa = child.pt.translate(VirtAddr(va)).unwrap().pa;
            assert_ne!(cpa, pa);
            // SAFETY: the child's private copy.
            unsafe { *ram.phys_to_virt(cpa) = 9 };
            assert_eq!(read_byte(&parent, va), 7);
            assert_eq!(ram.frame_refs(pa), 1);
            assert_eq!(
                parent.handle_mm_fault(va, RW, FaultAccess::Write),
                Ok(FaultResult::MadeWritable)
            );
            assert_eq!(parent.pt.translate(VirtAddr(va)).unwrap().pa, pa);
            assert!(parent.pt.translate(VirtAddr(va)).unwrap().attrs.writable);
            // mprotect(RW) must not make a shared frame writable.
            let mut child2 = child_of(&ram, 3, zero);
            parent.fork_into(&mut child2).unwrap();
            parent.protect_range(va, va + PAGE_SIZE, RW).unwrap();
            assert!(!parent.pt.translate(VirtAddr(va)).unwrap().attrs.writable);
            drop(child2);
            assert_eq!(ram.frame_refs(pa), 1);
            ram.free_frames(zero, 0);
        }
        assert_eq!(ram.allocated_frames(), base);
    }

    /// Pages a fault took are exclusive, and go back without a look at reference counts; once
    /// a fork shares them they are not, in either process, and unmapping them in one drops only
    /// a reference (SimRam refuses an exclusive free of a shared frame).
    #[test]
    fn faulted_pages_are_exclusive_until_a_fork_shares_them() {
        let ram = SimRam::new(512);
        let base = ram.allocated_frames();
        {
            let mut parent = setup(&ram);
            let zero = parent.zero_page();
            let va = 0x40_0000;
            for i in 0..8 {
                let a = va + i * PAGE_SIZE;
                parent.handle_mm_fault(a, RW, FaultAccess::Write).unwrap();
                assert!(parent.pt.translate(VirtAddr(a)).unwrap().attrs.exclusive);
            }
            let mut child = child_of(&ram, 2, zero);
            assert_eq!(parent.fork_into(&mut child), Ok(8));
            for up in [&parent, &child] {
                let t = up.pt.translate(VirtAddr(va)).unwrap();
                assert!(!t.attrs.exclusive && t.attrs.owned);
            }
            // SAFETY: the frame both map.
            unsafe { *ram.phys_to_virt(child.pt.translate(VirtAddr(va)).unwrap().pa) = 5 };
            parent.unmap_range(va, va + 8 * PAGE_SIZE).unwrap();
            assert_eq!(read_byte(&child, va), 5);
            // The child, last to map them, frees them through the reference counts.
            child.unmap_range(va, va + 8 * PAGE_SIZE).unwrap();
            // A new fault is exclusive again, and its unmap frees the frame.
            child.handle_mm_fault(va, RW, FaultAccess::Write).unwrap();
            assert!(child.pt.translate(VirtAddr(va)).unwrap().attrs.exclusive);
            child.unmap_range(va, va + PAGE_SIZE).unwrap();
            ram.free_frames(zero, 0);
        }
        assert_eq!(ram.allocated_frames(), base);
    }

    const LOCKED: VmFlags = RW.union(VM_LOCKED);
    const MB2: usize = L2_BLOCK_SIZE;

    fn level_at(up: &UserPages<&SimRam, RecordingTlb>, va: usize) -> usize {
        up.pt.translate(VirtAddr(va)).unwrap().level
    }

    #[test]
    fn locked_population_maps_aligned_parts_as_blocks_and_the_rest_as_pages() {
        let ram = SimRam::new(4096);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        let (start, end) = (MB2 - 3 * PAGE_SIZE, 3 * MB2 + 5 * PAGE_SIZE);
        up.populate_range(start, end, LOCKED).unwrap();
        assert_eq!(level_at(&up, start), 3);
        assert_eq!(level_at(&up, MB2), 2);
        assert_eq!(level_at(&up, 2 * MB2 + 12345), 2);
        assert_eq!(level_at(&up, 3 * MB2), 3);
        assert!(up.pt.translate(VirtAddr(end)).is_none());
        let r = up.resident();
        assert_eq!(r.pages, (end - start) / PAGE_SIZE);
        assert_eq!(r.block_pages, 1024);
        assert!((start..end)
            .step_by(PAGE_SIZE * 7)
            .all(|va| read_byte(&up, va + 100) == 0));
        let mut v = alloc::vec![9u8; (end - start) / PAGE_SIZE + 2];
        up.mincore(start - PAGE_SIZE, end + PAGE_SIZE, &mut v)
            .unwrap();
        assert!(v[0] == 0 && v[v.len() - 1] == 0 && v[1..v.len() - 1].iter().all(|&b| b == 1));
        // Populating again finds nothing missing and changes nothing.
        let frames = ram.allocated_frames();
        up.populate_range(start, end, LOCKED).unwrap();
        assert_eq!(ram.allocated_frames(), frames);
        up.unmap_range(start, end).unwrap();
        assert_eq!(
            ram.allocated_frames(),
            base,
            "frames and tables all returned"
        );
    }

    #[test]
    fn no_blocks_unless_locked_eagerly_and_privately_writable() {
        for flags in [
            RW,
            LOCKED.union(VM_LOCKONFAULT),
            LOCKED.union(VM_SHARED).union(VM_MAYSHARE),
        ] {
            assert!(!wants_blocks(flags), "{flags:?}");
        }
        let ram = SimRam::new(2048);
        let mut up = setup(&ram);
        up.populate_range(MB2, 2 * MB2, RW).unwrap();
        assert_eq!(level_at(&up, MB2), 3);
        assert_eq!(up.resident().block_pages, 0);
    }

    #[test]
    fn pages_when_no_aligned_run_is_free() {
        let ram = SimRam::new(1024);
        let mut up = setup(&ram);
        // Frames 0 and 1 hold the zero page and the root table; pin one frame of the only other
        // aligned 512-frame run.
        let pin = ram.alloc_frames(9).unwrap();
        ram.free_frames(pin + PAGE_SIZE, 0);
        for i in 2..512 {
            ram.free_frames(pin + i * PAGE_SIZE, 0);
        }
        let base = ram.allocated_frames();
        up.populate_range(MB2, 2 * MB2, LOCKED).unwrap();
        up.populate_range(4 * MB2, 4 * MB2 + 100 * PAGE_SIZE, LOCKED)
            .unwrap();
        assert_eq!(up.rss_pages(), 612);
        assert_eq!(up.resident().block_pages, 0);
        up.unmap_range(0, 5 * MB2).unwrap();
        assert_eq!(ram.allocated_frames(), base);
        ram.free_frames(pin, 0);
    }

    #[test]
    fn partial_unmap_splits_a_block_keeps_contents_and_frees_piecewise() {
        let ram = SimRam::new(2048);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        up.populate_range(MB2, 2 * MB2, LOCKED).unwrap();
        let block_pa = up.pt.translate(VirtAddr(MB2)).unwrap().pa;
        for i in 0..512 {
            write_byte(&up, MB2 + i * PAGE_SIZE + 9, i as u8 ^ 0x5a);
        }
        // brk shrink from the top: the upper part goes, the lower part stays.
        up.unmap_range(MB2 + 300 * PAGE_SIZE, 2 * MB2).unwrap();
        assert_eq!(level_at(&up, MB2), 3, "split");
        assert_eq!(up.rss_pages(), 300);
        assert_eq!(up.resident().block_pages, 0);
        assert_eq!(
            up.pt.translate(VirtAddr(MB2 + PAGE_SIZE)).unwrap().pa,
            block_pa + PAGE_SIZE
        );
        assert!((0..300).all(|i| read_byte(&up, MB2 + i * PAGE_SIZE + 9) == i as u8 ^ 0x5a));
        assert!(
            !ram.is_allocated(block_pa + 300 * PAGE_SIZE),
            "tail returned"
        );
        assert!(ram.is_allocated(block_pa + 299 * PAGE_SIZE));
        // munmap of a hole in the middle.
        up.unmap_range(MB2 + 10 * PAGE_SIZE, MB2 + 20 * PAGE_SIZE)
            .unwrap();
        assert_eq!(up.rss_pages(), 290);
        assert_eq!(read_byte(&up, MB2 + 20 * PAGE_SIZE + 9), 20 ^ 0x5a);
        up.unmap_range(MB2, 2 * MB2).unwrap();
        assert_eq!(ram.allocated_frames(), base, "every piece returned");
    }

    #[test]
    fn protect_splits_a_block_and_a_fault_on_a_block_is_spurious() {
        let ram = SimRam::new(2048);
        let mut up = setup(&ram);
        up.populate_range(MB2, 2 * MB2, LOCKED).unwrap();
        assert_eq!(
            up.handle_mm_fault(MB2 + 77 * PAGE_SIZE + 5, LOCKED, FaultAccess::Write),
            Ok(FaultResult::Spurious)
        );
        assert_eq!(
            level_at(&up, MB2),
            2,
            "a spurious fault leaves the block whole"
        );
        write_byte(&up, MB2 + 5 * PAGE_SIZE, 0x42);
        up.protect_range(MB2 + 4 * PAGE_SIZE, MB2 + 8 * PAGE_SIZE, VM_READ)
            .unwrap();
        assert_eq!(level_at(&up, MB2), 3);
        assert!(
            !up.pt
                .translate(VirtAddr(MB2 + 5 * PAGE_SIZE))
                .unwrap()
                .attrs
                .writable
        );
        assert!(
            up.pt
                .translate(VirtAddr(MB2 + 8 * PAGE_SIZE))
                .unwrap()
                .attrs
                .writable
        );
        assert_eq!(read_byte(&up, MB2 + 5 * PAGE_SIZE), 0x42);
        // The VMA allows writing again but the entry does not: the fault fixes the entry.
        assert_eq!(
            up.handle_mm_fault(MB2 + 5 * PAGE_SIZE, LOCKED, FaultAccess::Write),
            Ok(FaultResult::MadeWritable)
        );
        assert!(
            up.pt
                .translate(VirtAddr(MB2 + 5 * PAGE_SIZE))
                .unwrap()
                .attrs
                .writable
        );
        assert_eq!(up.rss_pages(), 512);
    }

    #[test]
    fn move_range_keeps_blocks_where_alignment_allows() {
        let ram = SimRam::new(4096);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        up.populate_range(MB2, 3 * MB2, LOCKED).unwrap();
        write_byte(&up, MB2 + 3, 0x31);
        write_byte(&up, 2 * MB2 + 4 * PAGE_SIZE, 0x32);
        let pa = up.pt.translate(VirtAddr(MB2)).unwrap().pa;
        // Aligned destination: both blocks stay blocks, same frames.
        up.move_range(MB2, 8 * MB2, 2 * MB2).unwrap();
        assert_eq!(level_at(&up, 8 * MB2), 2);
        assert_eq!(up.pt.translate(VirtAddr(8 * MB2)).unwrap().pa, pa);
        assert_eq!(read_byte(&up, 8 * MB2 + 3), 0x31);
        assert!(up.pt.translate(VirtAddr(MB2)).is_none());
        // Unaligned destination: pages of the same frames.
        up.move_range(8 * MB2, 12 * MB2 + PAGE_SIZE, 2 * MB2)
            .unwrap();
        assert_eq!(level_at(&up, 12 * MB2 + PAGE_SIZE), 3);
        assert_eq!(read_byte(&up, 12 * MB2 + PAGE_SIZE + 3), 0x31);
        assert_eq!(read_byte(&up, 13 * MB2 + 5 * PAGE_SIZE), 0x32);
        assert_eq!(up.rss_pages(), 1024);
        up.unmap_range(12 * MB2, 15 * MB2).unwrap();
        assert_eq!(ram.allocated_frames(), base);
    }

    #[test]
    fn locked_population_out_of_memory_leaks_nothing() {
        let ram = SimRam::new(1024);
        let mut up = setup(&ram);
        let base = ram.allocated_frames();
        assert_eq!(
            up.populate_range(0, 8 * MB2, LOCKED),
            Err(MmError::NoMemory)
        );
        assert!(
            up.rss_pages() > 512,
            "a block and pages were mapped before memory ran out"
        );
        up.unmap_range(0, 8 * MB2).unwrap();
        assert_eq!(ram.allocated_frames(), base);
    }
}
