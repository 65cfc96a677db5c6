//! Portable ARMv8-A stage 1 translation tables: 4 KiB granule, 48-bit VA, four levels (L0..L3).
//!
//! [`PageTable`] owns its tables (allocated from a [`PhysMem`]) and keeps the architecture's rules
//! for changing live entries (break-before-make, barriers, TLB maintenance through [`TlbFlush`]),
//! so the same code runs on the kernel and, against `SimRam` (`mm::phys::sim`), on the host.
//!
//! Ownership: a leaf mapped with [`Attrs::owned`] set (kept in the `SW_OWNED` descriptor bit) owns
//! its frames: `unmap` and `Drop` free them (after the TLB flush), at the granularity of the leaf
//! being removed (order 0 for pages, 9 for 2 MiB, 18 for 1 GiB blocks; a split owned block hands
//! back its pieces separately). Linear-map and MMIO mappings are mapped unowned and never freed.
//! An owned leaf may also say [`Attrs::exclusive`] (`SW_EXCLUSIVE`): its frame was taken fresh
//! for it and nothing else refers to it, so a batch of such frames is freed without a look at
//! reference counts. Only the mm sets it, where a fault or population maps a frame it just took;
//! `protect` keeps it, and a fork's sharing drops it first (`share_page`).
//!
//! Merging back: after `protect` changed a leaf in a user table (never the kernel's, which are
//! live under the running code), an L3 table whose 512 pages are owned, unshared (`frame_refs`
//! of one), physically contiguous from a 2 MiB-aligned frame and identical in every attribute and
//! software bit becomes a 2 MiB block again, and an L2 table of 512 such 2 MiB blocks a 1 GiB
//! block, through break-before-make; the table is freed after the invalidation. So a block split
//! by a partial `protect` is one block again once the range has uniform attributes.
//!
//! Holes: `unmap` and `protect` skip unmapped pages, like Linux's `zap_pte_range` and
//! `change_pte_range`, because demand-paged VMAs are only partly populated. `map` refuses to
//! overwrite anything ([`PtError::AlreadyMapped`]) and has no partial effects on failure.
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::phys::PhysMem;
use crate::tlb::TlbFlush;

mod descriptor;
mod walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_tlb;

pub use descriptor::{
    Attrs, Descriptor, MemType, MAIR_EL1_VALUE, MAIR_IDX_DEVICE_NGNRE, MAIR_IDX_NORMAL,
    MAIR_IDX_NORMAL_NC, STAGE1_DESCRIPTOR,
};
use walk::{index, level_shift, level_size, Gather, Lookup, Reserve, ENTRIES};

/// Size of the usable VA space of one table (TCR_EL1.T0SZ/T1SZ = 16).
pub const VA_BITS: u32 = 48;
/// Largest output address (TCR_EL1.IPS = 48 bits).
pub const PA_LIMIT: usize = 1 << 48;
/// 1 GiB: an L1 block.
pub const L1_BLOCK_SIZE: usize = 1 << 30;
/// 2 MiB: an L2 block.
pub const L2_BLOCK_SIZE: usize = 1 << 21;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtError {
    /// VA, PA or length not page aligned.
    Misaligned,
    /// Range outside this table's half of the address space, or beyond the 48-bit PA limit.
    OutOfRange,
    /// Part of the range is already mapped (`map`), nothing was changed.
    AlreadyMapped,
    /// No mapping at the address (single-page operations).
    NotMapped,
    /// A table allocation failed; nothing was changed.
    NoMemory,
    /// Attributes that are always a bug: user + global, device + exec, user in the kernel half.
    InvalidAttrs,
}

impl core::fmt::Display for PtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            PtError::Misaligned => "misaligned address or length",
            PtError::OutOfRange => "address range out of range",
            PtError::AlreadyMapped => "already mapped",
            PtError::NotMapped => "not mapped",
            PtError::NoMemory => "out of memory for page tables",
            PtError::InvalidAttrs => "invalid attribute combination",
        };
        f.write_str(s)
    }
}

/// Which half of the 64-bit VA space the table translates: TTBR0 (`Lower`, 0..2^48) or TTBR1
/// (`Upper`, 0xffff_0000_0000_0000..).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaRange {
    Lower,
    Upper,
}

/// Whether `map` may use blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSize {
    /// 1 GiB / 2 MiB blocks wherever VA, PA and remaining length allow, pages elsewhere.
    Any,
    /// 4 KiB pages only (e.g. memory whose permissions will change page by page).
    PagesOnly,
}

/// The result of [`PageTable::translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address of the translated byte (page offset included).
    pub pa: PhysAddr,
    pub attrs: Attrs,
    /// Level of the leaf: 1 (1 GiB block), 2 (2 MiB block) or 3 (page).
    pub level: usize,
}

impl Translation {
    pub fn size(&self) -> usize {
        level_size(self.level)
    }
}

/// The result of [`PageTable::page_entry`].
pub enum PageEntry<'a, M: PhysMem> {
    /// A leaf maps the page.
    Mapped(MappedPage),
    /// Nothing maps the page.
    Vacant(VacantPage<'a, M>),
}

/// A mapped page found by [`PageTable::page_entry`]: the leaf, kept raw until asked (decoding
/// [`Attrs`] is work the fault path's common case does not need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedPage {
    desc: Descriptor,
    level: usize,
    va: usize,
}

impl MappedPage {
    /// What [`PageTable::translate`] says of the page's first byte.
    pub fn translation(&self) -> Translation {
        Translation {
            pa: self.desc.output_addr() + (self.va & (level_size(self.level) - 1)),
            attrs: self.desc.attrs(),
            level: self.level,
        }
    }
}

/// An unmapped page found by [`PageTable::page_entry`], with the level-3 table that would hold
/// it if the walk reached one; borrowing the table keeps that walk valid until
/// [`insert`](Self::insert).
pub struct VacantPage<'a, M: PhysMem> {
    pt: &'a mut PageTable<M>,
    va: usize,
    /// The level-3 table whose entry for `va` is invalid; `None` when a table above is missing.
    l3: Option<PhysAddr>,
}

impl<M: PhysMem> VacantPage<'_, M> {
    pub fn va(&self) -> VirtAddr {
        VirtAddr::new(self.va)
    }

    pub fn phys_mem(&self) -> &M {
        &self.pt.mem
    }

    /// Maps the page to `pa` as [`PageTable::map_page`] would: one store into the table the walk
    /// found (creating the missing tables only if there was none) and one barrier.
    #[inline]
    pub fn insert<F: TlbFlush + ?Sized>(
        self,
        pa: PhysAddr,
        attrs: Attrs,
        tlb: &F,
    ) -> Result<(), PtError> {
        let Some(table) = self.l3 else {
            return self.pt.map_page(VirtAddr::new(self.va), pa, attrs, tlb);
        };
        PageTable::<M>::check_pa(pa, PAGE_SIZE)?;
        self.pt.check_attrs(attrs)?;
        let idx = walk::index(self.va, 3);
        self.pt
            .write_invalid_to_valid(table, idx, Descriptor::page(pa, attrs));
        if self.pt.is_kernel() {
            tlb.sync();
        } else {
            tlb.publish();
        }
        Ok(())
    }
}

/// The result of [`PageTable::extent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// A leaf maps the page.
    pub mapped: bool,
    /// Level of that leaf, or of the invalid entry the walk stopped at.
    pub level: usize,
    /// End (exclusive, saturating) of the naturally aligned region at `level` around the page.
    pub end: usize,
}

/// One leaf, as yielded by [`PageTable::iter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub va: VirtAddr,
    pub pa: PhysAddr,
    pub size: usize,
    pub attrs: Attrs,
}

/// What [`PageTable::prepare_unmap`] gives for [`PageTable::unmap_prepared`]: the promise that
/// the tables it set aside (kept in the page table) are used or given back there.
#[must_use = "the tables set aside go back through `unmap_prepared`"]
pub struct UnmapReserve {
    _private: (),
}

/// A four-level translation table tree.
///
/// Dropping it frees every table and every owned frame without any TLB maintenance: drop it only
/// once no TTBR points at it and its ASID has been invalidated (or retired by the ASID allocator).
pub struct PageTable<M: PhysMem> {
    mem: M,
    root: PhysAddr,
    range: VaRange,
    asid: Option<u16>,
    /// The tables set aside by [`prepare_unmap`](Self::prepare_unmap) for the one unmap whose
    /// second half is still to come (the mmap lock allows no second one meanwhile). Kept here
    /// rather than moved through the callers: a reserve passed by value cost some 600
    /// instructions of copies per brk call.
    pending: Reserve,
}

impl<M: PhysMem> PageTable<M> {
    /// An empty table. `asid` tags TLB maintenance (user address spaces); `None` means the
    /// mappings are global kernel ones and are invalidated for all ASIDs.
    pub fn new(mem: M, range: VaRange, asid: Option<u16>) -> Result<Self, PtError> {
        // Allocate before constructing: Drop must never see a table without a root.
        let root = walk::alloc_zeroed_table(&mem)?;
        Ok(PageTable {
            mem,
            root,
            range,
            asid,
            pending: Reserve::empty(),
        })
    }

    /// A user address space (TTBR0, non-global mappings tagged with `asid`).
    pub fn new_user(mem: M, asid: u16) -> Result<Self, PtError> {
        Self::new(mem, VaRange::Lower, Some(asid))
    }

    /// The kernel's TTBR1 table (global mappings).
    pub fn new_kernel(mem: M) -> Result<Self, PtError> {
        Self::new(mem, VaRange::Upper, None)
    }

    pub fn root(&self) -> PhysAddr {
        self.root
    }
    pub fn asid(&self) -> Option<u16> {
        self.asid
    }
    /// Retags a user table after the ASID allocator gave its address space a new ASID (after a
    /// generation roll-over, which invalidated the whole TLB).
    pub fn set_asid(&mut self, asid: u16) {
        debug_assert!(self.asid.is_some(), "kernel tables are global");
        self.asid = Some(asid);
    }
    pub fn range(&self) -> VaRange {
        self.range
    }
    pub fn phys_mem(&self) -> &M {
        &self.mem
    }

    /// The TTBRn_EL1 value: BADDR = root, ASID in bits \[63:48\] (with TCR_EL1.AS = 1 for 16-bit ASIDs).
    pub fn ttbr(&self) -> u64 {
        self.root.as_usize() as u64 | (self.asid.unwrap_or(0) as u64) << 48
    }

    fn is_kernel(&self) -> bool {
        self.asid.is_none()
    }

    /// Validates `[va, va + len)` for this table; returns the inclusive last byte (`None` for an
    /// empty range).
    fn check_range(&self, va: VirtAddr, len: usize) -> Result<Option<usize>, PtError> {
        if !va.is_aligned(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
            return Err(PtError::Misaligned);
        }
        let (lo, hi) = match self.range {
            VaRange::Lower => (0, (1usize << VA_BITS) - 1),
            VaRange::Upper => (!((1usize << VA_BITS) - 1), usize::MAX),
        };
        let va = va.as_usize();
        if va < lo || va > hi || (len > 0 && len - 1 > hi - va) {
            return Err(PtError::OutOfRange);
        }
        Ok((len > 0).then(|| va + (len - 1)))
    }

    fn check_attrs(&self, attrs: Attrs) -> Result<(), PtError> {
        if !attrs.is_sane() || (attrs.user && self.range == VaRange::Upper) {
            return Err(PtError::InvalidAttrs);
        }
        Ok(())
    }

    fn check_pa(pa: PhysAddr, len: usize) -> Result<(), PtError> {
        if !pa.is_aligned(PAGE_SIZE) {
            return Err(PtError::Misaligned);
        }
        match pa.as_usize().checked_add(len) {
            Some(end) if end <= PA_LIMIT => Ok(()),
            _ => Err(PtError::OutOfRange),
        }
    }

    /// Maps `[va, va + len)` to `[pa, pa + len)`. Fails with `AlreadyMapped` if any page in the
    /// range is mapped; on any error nothing has changed. Ends with one barrier (no TLBI is needed
    /// for invalid -> valid).
    pub fn map<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        len: usize,
        attrs: Attrs,
        size: MapSize,
        tlb: &F,
    ) -> Result<(), PtError> {
        let Some(last) = self.check_range(va, len)? else {
            return Ok(());
        };
        Self::check_pa(pa, len)?;
        self.check_attrs(attrs)?;
        self.check_unmapped(va.as_usize(), last)?;
        let (va, pa) = (va.as_usize(), pa.as_usize());
        self.populate_or_rollback(va, last, len, attrs, tlb, |off, v| {
            let p = pa + off;
            let level = (1..=2)
                .find(|&l| {
                    let s = level_size(l);
                    size == MapSize::Any && v % s == 0 && p % s == 0 && len - off >= s
                })
                .unwrap_or(3);
            (PhysAddr::new(p), level)
        })
    }

    /// Maps a single page: the fault path's operation, so it walks once, writes one entry and
    /// issues one barrier, without the range machinery of [`map`](Self::map).
    pub fn map_page<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        attrs: Attrs,
        tlb: &F,
    ) -> Result<(), PtError> {
        self.check_range(va, PAGE_SIZE)?;
        Self::check_pa(pa, PAGE_SIZE)?;
        self.check_attrs(attrs)?;
        let v = va.as_usize();
        let table = self.walk_alloc_l3(v, tlb)?;
        let idx = walk::index(v, 3);
        if self.read(table, idx).is_valid() {
            return Err(PtError::AlreadyMapped);
        }
        self.write_invalid_to_valid(table, idx, Descriptor::leaf(3, pa, attrs));
        if self.is_kernel() {
            tlb.sync();
        } else {
            tlb.publish();
        }
        Ok(())
    }

    /// The page at `va` as the fault path needs it, in one walk that allocates nothing: what maps
    /// it, or a [`VacantPage`] that maps a page there without walking again when the level-3 table
    /// already exists (Linux's `pte_offset_map` then `set_pte_at` on the same PTE). `va` is rounded
    /// down to its page.
    #[inline]
    pub fn page_entry(&mut self, va: VirtAddr) -> Result<PageEntry<'_, M>, PtError> {
        let v = va.as_usize() & !(PAGE_SIZE - 1);
        // `check_range` for one page: the VA's top 16 bits say which half it is in.
        let top = if self.range == VaRange::Lower {
            0
        } else {
            0xffff
        };
        if v >> VA_BITS != top {
            return Err(PtError::OutOfRange);
        }
        Ok(match self.walk_l3(v) {
            walk::PageWalk::Leaf { level, desc } => {
                PageEntry::Mapped(MappedPage { desc, level, va: v })
            }
            walk::PageWalk::Vacant { l3 } => PageEntry::Vacant(VacantPage {
                pt: self,
                va: v,
                l3,
            }),
        })
    }

    /// Maps one 2 MiB L2 block `va` -> `pa` (both 2 MiB aligned): the population path's way to
    /// give a locked region one descriptor and one TLB entry per 2 MiB instead of 512. The L2 slot
    /// must be invalid: `AlreadyMapped` if a leaf covers `va` or an L3 table sits in the slot,
    /// even an empty one (replacing a table needs break-before-make and a walk-cache flush, which
    /// callers avoid by falling back to pages). Missing L0/L1 tables are created; one barrier.
    pub fn map_block<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        attrs: Attrs,
        tlb: &F,
    ) -> Result<(), PtError> {
        if !va.is_aligned(L2_BLOCK_SIZE) || !pa.is_aligned(L2_BLOCK_SIZE) {
            return Err(PtError::Misaligned);
        }
        self.check_range(va, L2_BLOCK_SIZE)?;
        Self::check_pa(pa, L2_BLOCK_SIZE)?;
        self.check_attrs(attrs)?;
        let v = va.as_usize();
        let mut g = Gather::new(self.asid, tlb);
        let res = self.walk_alloc(v, 2, &mut g).and_then(|table| {
            let idx = walk::index(v, 2);
            if self.read(table, idx).is_valid() {
                return Err(PtError::AlreadyMapped);
            }
            self.write_entry(table, idx, va, Descriptor::leaf(2, pa, attrs), &mut g);
            Ok(())
        });
        g.finish(&self.mem, self.is_kernel());
        res
    }

    /// Maps `pages.len()` pages at `va` to arbitrary frames: the PTEs of each L3 table are written
    /// in one run after one walk, with a single barrier at the end (fast population path).
    pub fn map_pages<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        pages: &[PhysAddr],
        attrs: Attrs,
        tlb: &F,
    ) -> Result<(), PtError> {
        let len = pages
            .len()
            .checked_mul(PAGE_SIZE)
            .ok_or(PtError::OutOfRange)?;
        let Some(last) = self.check_range(va, len)? else {
            return Ok(());
        };
        pages
            .iter()
            .try_for_each(|&pa| Self::check_pa(pa, PAGE_SIZE))?;
        self.check_attrs(attrs)?;
        self.check_unmapped(va.as_usize(), last)?;
        self.populate_or_rollback(va.as_usize(), last, len, attrs, tlb, |off, _| {
            (pages[off / PAGE_SIZE], 3)
        })
    }

    fn populate_or_rollback<F: TlbFlush + ?Sized>(
        &mut self,
        va: usize,
        last: usize,
        len: usize,
        attrs: Attrs,
        tlb: &F,
        next: impl FnMut(usize, usize) -> (PhysAddr, usize),
    ) -> Result<(), PtError> {
        let mut g = Gather::new(self.asid, tlb);
        let res = self.populate(va, len, attrs, &mut g, next);
        if res.is_err() {
            // The range was empty and only whole leaves inside it were written, so clearing it
            // (keeping the caller's frames) restores the old state and unlinks the new tables,
            // which may be empty without a leaf cleared in them.
            g.sweep = true;
            self.clear_range(self.root, 0, va, last, false, &mut g, &mut Reserve::empty());
        }
        g.finish(&self.mem, self.is_kernel());
        res
    }

    /// Unmaps every mapped page in `[va, va + len)` (holes are skipped), splitting blocks that
    /// straddle the ends, freeing owned frames and tables that became empty after the batched TLB
    /// invalidation. Returns the number of 4 KiB pages that were mapped. Fails only before
    /// changing anything (`NoMemory` when a needed split table cannot be allocated).
    pub fn unmap<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        tlb: &F,
    ) -> Result<usize, PtError> {
        self.unmap_inner(va, len, true, tlb)
    }

    /// Like [`PageTable::unmap`], but owned frames are not freed: their ownership passes to the
    /// caller, which must map them elsewhere or free them (mremap moves a translation this way).
    /// Tables that become empty are still freed. Fails only before changing anything.
    pub fn unmap_keep<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        tlb: &F,
    ) -> Result<usize, PtError> {
        self.unmap_inner(va, len, false, tlb)
    }

    fn unmap_inner<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        free_owned: bool,
        tlb: &F,
    ) -> Result<usize, PtError> {
        let Some(last) = self.check_range(va, len)? else {
            return Ok(0);
        };
        if let Some(pages) = self.unmap_single(va, len, free_owned, tlb) {
            return Ok(pages);
        }
        let mut r = Reserve::empty();
        self.reserve_splits(va.as_usize(), last, None, &mut r)?;
        Ok(self.clear_reserved(va.as_usize(), last, free_owned, &mut r, tlb))
    }

    /// brk and munmap of one page: one walk, no split reserve, no range recursion. `None`, with
    /// nothing changed, for a longer range or a page inside a block.
    #[inline(always)]
    fn unmap_single<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        free_owned: bool,
        tlb: &F,
    ) -> Option<usize> {
        if len != PAGE_SIZE {
            return None;
        }
        match self.lookup(va.as_usize()) {
            // Nothing mapped (a page never touched): nothing to clear, free or flush.
            Lookup::Absent { .. } => Some(0),
            Lookup::Leaf {
                level: 3,
                desc,
                table,
                ..
            } => Some(self.clear_one_page(va.as_usize(), (table, desc), free_owned, tlb)),
            Lookup::Leaf { .. } => None,
        }
    }

    /// The clearing half of [`unmap_single`](Self::unmap_single), out of line: its gather of
    /// frames and TLB ranges is a stack frame of over 4 KiB, which a page never mapped does not
    /// pay for.
    #[inline(never)]
    fn clear_one_page<F: TlbFlush + ?Sized>(
        &mut self,
        va: usize,
        entry: (PhysAddr, Descriptor),
        free_owned: bool,
        tlb: &F,
    ) -> usize {
        let mut g = Gather::new(self.asid, tlb);
        let pages = self.unmap_one_page(va, entry, free_owned, &mut g);
        g.finish(&self.mem, self.is_kernel());
        pages
    }

    /// Clears `[va, last]` with the split tables `r` holds, gives back those not used, and
    /// returns the number of 4 KiB pages that were mapped. Out of line for the same reason as
    /// [`clear_one_page`](Self::clear_one_page).
    #[inline(never)]
    fn clear_reserved<F: TlbFlush + ?Sized>(
        &mut self,
        va: usize,
        last: usize,
        free_owned: bool,
        r: &mut Reserve,
        tlb: &F,
    ) -> usize {
        let mut g = Gather::new(self.asid, tlb);
        self.clear_range(self.root, 0, va, last, free_owned, &mut g, r);
        r.free_all(&self.mem);
        let pages = g.unmapped_pages;
        g.finish(&self.mem, self.is_kernel());
        pages
    }

    /// The half of [`unmap`](Self::unmap) that can fail: sets aside the tables that splitting
    /// blocks across the ends of `[va, va + len)` will take, and changes no translation. With
    /// [`unmap_prepared`](Self::unmap_prepared) after it, the VMAs can leave the tree between
    /// the two, and the tables be cleared under a weaker lock (Linux 6.1's downgraded munmap).
    ///
    /// `None` when no page of the range is mapped (memory mapped and never touched, the common
    /// munmap of a reservation): the range's tables are only looked at, not set up to be
    /// cleared, and there is no second half.
    pub fn prepare_unmap(
        &mut self,
        va: VirtAddr,
        len: usize,
    ) -> Result<Option<UnmapReserve>, PtError> {
        debug_assert!(self.pending.is_empty(), "two unmaps prepared at once");
        let Some(last) = self.check_range(va, len)? else {
            return Ok(None);
        };
        if !self.has_leaves(self.root, 0, va.as_usize(), last) {
            return Ok(None);
        }
        let n = self.splits_needed(va.as_usize(), last, None);
        if n > 0 {
            self.pending.fill(&self.mem, n)?;
        }
        Ok(Some(UnmapReserve { _private: () }))
    }

    /// [`unmap`](Self::unmap) with the tables [`prepare_unmap`](Self::prepare_unmap) set aside,
    /// which cannot fail: no block can have come to straddle an end of the range since, because
    /// a block never crosses a VMA's bounds and the range's VMAs were taken out of the tree (or
    /// the lock held since kept the tables as they were). Gives back the tables not used.
    pub fn unmap_prepared<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        reserve: UnmapReserve,
        tlb: &F,
    ) -> usize {
        let UnmapReserve { _private: () } = reserve;
        let Ok(Some(last)) = self.check_range(va, len) else {
            self.take_pending().free_all(&self.mem);
            return 0;
        };
        let mut r = self.take_pending();
        match self.unmap_single(va, len, true, tlb) {
            Some(pages) => {
                r.free_all(&self.mem);
                pages
            }
            None => self.clear_reserved(va.as_usize(), last, true, &mut r, tlb),
        }
    }

    /// The tables [`prepare_unmap`](Self::prepare_unmap) set aside, moved out only when there
    /// are any: a move of the reserve is a 40-byte copy.
    #[inline]
    fn take_pending(&mut self) -> Reserve {
        if self.pending.is_empty() {
            Reserve::empty()
        } else {
            core::mem::replace(&mut self.pending, Reserve::empty())
        }
    }

    /// Unmaps the page at `va` (splitting a block around it), returning what was mapped there.
    pub fn unmap_page<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        tlb: &F,
    ) -> Result<Translation, PtError> {
        self.check_range(va, PAGE_SIZE)?;
        let t = self.translate(va).ok_or(PtError::NotMapped)?;
        self.unmap(va, PAGE_SIZE, tlb)?;
        Ok(t)
    }

    /// Sets the attributes of every mapped page in `[va, va + len)` to `attrs` (each leaf keeps its
    /// `owned` and `exclusive` bits; holes are skipped), splitting blocks that straddle the ends.
    /// Permission and AF changes are made in place; memory-type or nG changes use
    /// break-before-make. In a user table, a table in which a leaf changed is merged back into a
    /// block if it now holds one (see the module documentation); kernel tables keep their tables.
    pub fn protect<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        len: usize,
        attrs: Attrs,
        tlb: &F,
    ) -> Result<(), PtError> {
        let Some(last) = self.check_range(va, len)? else {
            return Ok(());
        };
        self.check_attrs(attrs)?;
        let mut r = Reserve::empty();
        self.reserve_splits(va.as_usize(), last, Some(attrs), &mut r)?;
        let mut g = Gather::new(self.asid, tlb);
        self.protect_range(self.root, 0, va.as_usize(), last, attrs, &mut g, &mut r);
        r.free_all(&self.mem);
        g.finish(&self.mem, self.is_kernel());
        Ok(())
    }

    /// Drops the [`exclusive`](Attrs::exclusive) bit of the leaf mapping `va`: another
    /// reference to its frame is about to be taken (a fork's sharing). A software bit, which the
    /// walker ignores: the store needs no TLB maintenance.
    pub fn share_page<F: TlbFlush + ?Sized>(&mut self, va: VirtAddr, tlb: &F) {
        let _ = self.rewrite_leaf(va, tlb, Descriptor::without_exclusive);
    }

    /// Sets AF on the leaf mapping `va` (the access-flag fault path). No TLBI: entries that would
    /// fault (AF clear) are never held in a TLB, so only the store needs publishing.
    pub fn set_accessed<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        tlb: &F,
    ) -> Result<(), PtError> {
        self.check_range(va.align_down(PAGE_SIZE), PAGE_SIZE)?;
        self.rewrite_leaf(va, tlb, Descriptor::with_af)
    }

    /// Replaces the leaf mapping `va` by `f` of it, in place, when that changes it: for the
    /// changes no TLB entry can hold stale (software bits, AF set), so only the store is
    /// published.
    fn rewrite_leaf<F: TlbFlush + ?Sized>(
        &mut self,
        va: VirtAddr,
        tlb: &F,
        f: impl FnOnce(Descriptor) -> Descriptor,
    ) -> Result<(), PtError> {
        let Lookup::Leaf {
            level,
            desc,
            table,
            idx,
        } = self.lookup(va.as_usize())
        else {
            return Err(PtError::NotMapped);
        };
        let new = f(desc);
        if new != desc {
            let mut g = Gather::new(self.asid, tlb);
            let base = VirtAddr::new(va.as_usize() & !(level_size(level) - 1));
            self.write_entry(table, idx, base, new, &mut g);
            g.finish(&self.mem, self.is_kernel());
        }
        Ok(())
    }

    /// What `va` translates to, if anything.
    pub fn translate(&self, va: VirtAddr) -> Option<Translation> {
        self.check_range(va.align_down(PAGE_SIZE), PAGE_SIZE).ok()?;
        match self.lookup(va.as_usize()) {
            Lookup::Leaf { level, desc, .. } => Some(Translation {
                pa: desc.output_addr() + (va.as_usize() & (level_size(level) - 1)),
                attrs: desc.attrs(),
                level,
            }),
            Lookup::Absent { .. } => None,
        }
    }

    /// The state of the address space around `va` as one walk sees it: whether a leaf maps the
    /// page, and the end of the aligned region that shares that state (the leaf itself, or the span
    /// of the invalid entry the walk stopped at). Lets range scans (population, mincore, mremap)
    /// step over a missing table or a block in one go instead of walking every page.
    pub fn extent(&self, va: VirtAddr) -> Extent {
        let v = va.as_usize() & !(PAGE_SIZE - 1);
        let (mapped, level) = match self.lookup(v) {
            Lookup::Leaf { level, .. } => (true, level),
            Lookup::Absent { level } => (false, level),
        };
        Extent {
            mapped,
            level,
            end: (v | (level_size(level) - 1)).saturating_add(1),
        }
    }

    /// The first run of unmapped pages in `[va, end)`: its start and length, or `None` if every
    /// page there is mapped. Steps by [`extent`](Self::extent), so large holes and blocks cost one
    /// walk each.
    pub fn next_hole(&self, va: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, usize)> {
        let (mut cur, end) = (va.as_usize(), end.as_usize());
        loop {
            if cur >= end {
                return None;
            }
            let e = self.extent(VirtAddr::new(cur));
            if !e.mapped {
                break;
            }
            cur = e.end;
        }
        let start = cur;
        while cur < end {
            let e = self.extent(VirtAddr::new(cur));
            if e.mapped {
                break;
            }
            cur = e.end;
        }
        Some((VirtAddr::new(start), cur.min(end) - start))
    }

    /// Every leaf in ascending VA order.
    pub fn iter(&self) -> Mappings<'_, M> {
        Mappings {
            pt: self,
            stack: [(self.root, 0); 4],
            depth: 1,
        }
    }

    /// Calls `f` for every leaf in ascending VA order.
    pub fn for_each_mapping(&self, f: impl FnMut(Mapping)) {
        self.iter().for_each(f)
    }

    /// The leaves from the one at or after `va` on (a block holding `va` included), in
    /// ascending VA order: the walk starts on `va`'s path instead of at the first entry, so a
    /// range costs what it holds, not what the whole table does.
    pub fn iter_from(&self, va: VirtAddr) -> Mappings<'_, M> {
        let va = va.as_usize();
        let mut stack = [(self.root, index(va, 0)); 4];
        let mut depth = 1;
        let mut table = self.root;
        for level in 0..3 {
            let d = self.read(table, index(va, level));
            if !d.is_table(level) {
                break;
            }
            table = d.output_addr();
            stack[level + 1] = (table, index(va, level + 1));
            depth = level + 2;
        }
        Mappings {
            pt: self,
            stack,
            depth,
        }
    }

    /// Calls `f` for every leaf that overlaps `[start, end)`, in ascending VA order.
    pub fn for_each_mapping_in(&self, start: VirtAddr, end: VirtAddr, mut f: impl FnMut(Mapping)) {
        for m in self.iter_from(start) {
            if m.va >= end {
                break;
            }
            if m.va.as_usize() + m.size > start.as_usize() {
                f(m);
            }
        }
    }

    /// Table frames in use, root included (Linux's `VmPTE` counts these).
    pub fn table_frames(&self) -> usize {
        self.count_tables(self.root, 0)
    }
}

impl<M: PhysMem> Drop for PageTable<M> {
    fn drop(&mut self) {
        debug_assert!(self.pending.is_empty(), "a prepared unmap never finished");
        self.pending.free_all(&self.mem);
        self.free_subtree(self.root, 0);
        self.mem.free_frames(self.root, 0);
    }
}

/// Iterator over the leaves of a [`PageTable`]; see [`PageTable::iter`].
pub struct Mappings<'a, M: PhysMem> {
    pt: &'a PageTable<M>,
    /// (table, next index) per level; `depth` levels are active.
    stack: [(PhysAddr, usize); 4],
    depth: usize,
}

impl<M: PhysMem> Iterator for Mappings<'_, M> {
    type Item = Mapping;

    fn next(&mut self) -> Option<Mapping> {
        while self.depth > 0 {
            let level = self.depth - 1;
            let (table, idx) = self.stack[level];
            if idx == ENTRIES {
                self.depth -= 1;
                if self.depth > 0 {
                    self.stack[self.depth - 1].1 += 1;
                }
                continue;
            }
            let d = self.pt.read(table, idx);
            if d.is_table(level) {
                self.stack[level + 1] = (d.output_addr(), 0);
                self.depth += 1;
                continue;
            }
            if d.is_leaf(level) {
                let mut va = (0..=level).fold(0, |va, l| va | self.stack[l].1 << level_shift(l));
                if self.pt.range == VaRange::Upper {
                    va |= !((1usize << VA_BITS) - 1);
                }
                self.stack[level].1 += 1;
                return Some(Mapping {
                    va: VirtAddr::new(va),
                    pa: d.output_addr(),
                    size: level_size(level),
                    attrs: d.attrs(),
                });
            }
            self.stack[level].1 += 1;
        }
        None
    }
}
