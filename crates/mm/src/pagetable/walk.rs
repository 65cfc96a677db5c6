//! Table-walking internals shared by the public operations in `mod.rs`.
//!
//! Helpers take `&self`: table memory lives outside the `PageTable` value and is reached through
//! [`PhysMem::phys_to_virt`]; the public API takes `&mut self` to guarantee exclusive access.
use super::descriptor::{Attrs, Descriptor};
use super::{PageTable, PtError};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::phys::PhysMem;
use crate::tlb::{TlbBatch, TlbFlush};

pub(super) const ENTRIES: usize = 512;

/// log2 of the span of one entry at `level` (L0: 512 GiB, L1: 1 GiB, L2: 2 MiB, L3: 4 KiB).
pub(super) const fn level_shift(level: usize) -> u32 {
    12 + 9 * (3 - level as u32)
}

pub(super) const fn level_size(level: usize) -> usize {
    1 << level_shift(level)
}

pub(super) const fn index(va: usize, level: usize) -> usize {
    (va >> level_shift(level)) & (ENTRIES - 1)
}

/// Buddy order of a leaf at `level`, for freeing owned frames.
const fn leaf_order(level: usize) -> usize {
    9 * (3 - level)
}

/// Allocates a zeroed table frame.
pub(super) fn alloc_zeroed_table<M: PhysMem>(mem: &M) -> Result<PhysAddr, PtError> {
    let pa = mem.alloc_frames(0).ok_or(PtError::NoMemory)?;
    // `zero_frames` (DC ZVA on the kernel) rather than a byte loop: population creates a table per
    // 2 MiB of pages, and a memset of it cost as much as the entries written into it.
    mem.zero_frames(pa, 0);
    Ok(pa)
}

/// Result of walking to the entry that translates one VA.
pub(super) enum Lookup {
    /// The walk hit an invalid entry at `level`, so the whole aligned `level_size(level)` around the
    /// VA is unmapped.
    Absent { level: usize },
    Leaf {
        level: usize,
        desc: Descriptor,
        table: PhysAddr,
        idx: usize,
    },
}

/// What [`PageTable::walk_l3`] found at a VA.
pub(super) enum PageWalk {
    /// A leaf at `level` maps it.
    Leaf { level: usize, desc: Descriptor },
    /// Nothing maps it; `l3` is the level-3 table holding its invalid entry, `None` when a table
    /// above is missing.
    Vacant { l3: Option<PhysAddr> },
}

/// Deferred frees per batch; when full, the batch is flushed early (like `tlb_flush_mmu`).
const MAX_FREES: usize = 512;
/// Deferred frees of more than one frame (blocks) per batch.
const MAX_BIG_FREES: usize = 8;

/// Per-operation state: pending TLB invalidations plus frames whose freeing must wait until those
/// invalidations completed (a stale TLB or walk-cache entry must never reach a reused frame), as in
/// Linux's `mmu_gather`.
pub(super) struct Gather<'a, F: TlbFlush + ?Sized> {
    pub batch: TlbBatch,
    tlb: &'a F,
    /// Single frames: `frees[..nfree]` are initialised; the rest is never read (no memset per
    /// operation). Released with one `free_frames_batch`.
    frees: [core::mem::MaybeUninit<PhysAddr>; MAX_FREES],
    nfree: usize,
    /// Some frame in `frees` may have other references (its entry was not
    /// [exclusive](Descriptor::is_exclusive)): the batch goes back through
    /// `free_frames_batch`, which looks for them, instead of `free_exclusive_batch`.
    maybe_shared: bool,
    /// Blocks (order > 0): `big[..nbig]` are initialised.
    big: [core::mem::MaybeUninit<(PhysAddr, usize)>; MAX_BIG_FREES],
    nbig: usize,
    /// Some live descriptor was written, so at least a publish barrier is due.
    wrote: bool,
    pub unmapped_pages: usize,
    /// [`PageTable::clear_range`] looks at every table it walks for emptiness, not only at those
    /// it cleared an entry in: set by a rollback, whose fresh tables may be empty untouched.
    pub sweep: bool,
}

impl<'a, F: TlbFlush + ?Sized> Gather<'a, F> {
    pub fn new(asid: Option<u16>, tlb: &'a F) -> Self {
        Gather {
            batch: TlbBatch::new(asid),
            tlb,
            frees: [const { core::mem::MaybeUninit::uninit() }; MAX_FREES],
            nfree: 0,
            maybe_shared: false,
            big: [const { core::mem::MaybeUninit::uninit() }; MAX_BIG_FREES],
            nbig: 0,
            wrote: false,
            unmapped_pages: 0,
            sweep: false,
        }
    }

    #[inline]
    fn defer_free<M: PhysMem>(&mut self, mem: &M, pa: PhysAddr, order: usize) {
        if order == 0 {
            if self.nfree == MAX_FREES {
                self.flush(mem);
            }
            self.frees[self.nfree].write(pa);
            self.nfree += 1;
        } else {
            if self.nbig == MAX_BIG_FREES {
                self.flush(mem);
            }
            self.big[self.nbig].write((pa, order));
            self.nbig += 1;
        }
    }

    /// Issues pending invalidations (one publish/sync pair) and then frees the deferred frames.
    pub fn flush<M: PhysMem>(&mut self, mem: &M) {
        self.batch.flush(self.tlb);
        self.wrote = false;
        self.release_frees(mem);
    }

    fn release_frees<M: PhysMem>(&mut self, mem: &M) {
        if self.nfree != 0 {
            // SAFETY: slots below `nfree` were written by `defer_free`; `MaybeUninit<PhysAddr>`
            // has the layout of `PhysAddr`.
            let pas = unsafe {
                core::slice::from_raw_parts(self.frees.as_ptr().cast::<PhysAddr>(), self.nfree)
            };
            if self.maybe_shared {
                mem.free_frames_batch(pas);
            } else {
                mem.free_exclusive_batch(pas);
            }
            self.nfree = 0;
            self.maybe_shared = false;
        }
        for slot in &self.big[..self.nbig] {
            // SAFETY: slots below `nbig` were written by `defer_free`.
            let (pa, order) = unsafe { slot.assume_init() };
            mem.free_frames(pa, order);
        }
        self.nbig = 0;
    }

    /// Ends the operation. Without invalidations, new entries still need a barrier: kernel (global)
    /// tables get `sync` (DSB ISH + ISB, Linux's `dsb(ishst); isb()` in `__set_pte_complete`) so they
    /// can be used on return; for user tables `publish` suffices because the exception return
    /// synchronises context. Takes `&mut self` rather than `self`: moving the 1 KiB of deferred
    /// frees into the call was a memcpy on every unmap.
    pub fn finish<M: PhysMem>(&mut self, mem: &M, kernel: bool) {
        if !self.batch.is_empty() {
            self.batch.flush(self.tlb);
        } else if self.wrote && kernel {
            self.tlb.sync();
        } else if self.wrote {
            self.tlb.publish();
        }
        self.wrote = false;
        self.release_frees(mem);
    }
}

/// Tables allocated up front for block splits, so `unmap`/`protect` either fail with `NoMemory`
/// before touching anything or run to completion (Linux deposits a pte table with each THP for the
/// same reason).
pub(super) struct Reserve {
    frames: [PhysAddr; 4],
    n: usize,
}

impl Reserve {
    pub fn empty() -> Self {
        Reserve {
            frames: [PhysAddr::new(0); 4],
            n: 0,
        }
    }

    /// Fills an empty reserve with `n` tables, or leaves it empty and fails. In place: a
    /// `Result<Reserve, _>` travelled through unaligned memcpys on every unmap.
    pub(super) fn fill<M: PhysMem>(&mut self, mem: &M, n: usize) -> Result<(), PtError> {
        debug_assert_eq!(self.n, 0);
        while self.n < n {
            match mem.alloc_frames(0) {
                Some(pa) => {
                    self.frames[self.n] = pa;
                    self.n += 1;
                }
                None => {
                    self.free_all(mem);
                    return Err(PtError::NoMemory);
                }
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn take(&mut self) -> PhysAddr {
        assert!(self.n > 0, "split without a reserved table");
        self.n -= 1;
        self.frames[self.n]
    }

    /// Gives back the tables not used.
    pub fn free_all<M: PhysMem>(&mut self, mem: &M) {
        while self.n > 0 {
            mem.free_frames(self.take(), 0);
        }
    }
}

impl<M: PhysMem> PageTable<M> {
    fn slot(&self, table: PhysAddr, idx: usize) -> *mut u64 {
        debug_assert!(idx < ENTRIES && table.is_aligned(PAGE_SIZE));
        (self.mem.phys_to_virt(table) as *mut u64).wrapping_add(idx)
    }

    pub(super) fn read(&self, table: PhysAddr, idx: usize) -> Descriptor {
        // SAFETY: `table` is a table frame this PageTable owns, mapped by phys_to_virt for the
        // whole frame; idx < 512 keeps the access inside it. Volatile: the walker is a concurrent
        // observer and the access must be a single 64-bit load.
        Descriptor::from_raw(unsafe { self.slot(table, idx).read_volatile() })
    }

    /// Writes an entry of a table that is not yet reachable by the walker (no ordering rules).
    fn write_new(&self, table: PhysAddr, idx: usize, d: Descriptor) {
        // SAFETY: as in `read`; the table is private to this call chain until linked.
        unsafe { self.slot(table, idx).write_volatile(d.raw()) }
    }

    /// The single place where descriptors of live (walker-reachable) tables are written.
    ///
    /// Break-before-make rule (ARM ARM DDI 0487, D8.16 "Translation table entry changes", the
    /// break-before-make requirements): replacing a valid entry by another valid one that differs
    /// in output address, block/table type, memory type, shareability, nG or the contiguous hint
    /// must go through an invalid entry, a TLBI of that VA, and a completed DSB ISH before the new
    /// entry is written; otherwise PEs may hold conflicting TLB entries (loss of coherency,
    /// TLB conflict aborts). Permission changes (AP, PXN, UXN), setting or clearing AF, software
    /// bits and valid -> invalid may be written in place and invalidated afterwards.
    /// [`Self::break_before_make`] implements the sequence; this function checks (debug builds)
    /// that no caller skips it: no BBM-class change of a valid entry, and no invalid -> valid
    /// write at a VA whose earlier invalidation has not been flushed yet.
    pub(super) fn write_entry<F>(
        &self,
        table: PhysAddr,
        idx: usize,
        va: VirtAddr,
        new: Descriptor,
        g: &mut Gather<F>,
    ) where
        F: TlbFlush + ?Sized,
    {
        // Only the checks read the old entry; a volatile load would stay in release builds, on
        // the population path's per-page loop.
        #[cfg(debug_assertions)]
        {
            let old = self.read(table, idx);
            debug_assert!(
                !(old.is_valid() && new.is_valid() && old.needs_bbm(new)),
                "break-before-make violation at {va:?}: {old:?} -> {new:?}"
            );
            debug_assert!(
                old.is_valid() || !new.is_valid() || !g.batch.covers(va),
                "{va:?} made valid again before its invalidation was flushed"
            );
        }
        #[cfg(not(debug_assertions))]
        let _ = va;
        // SAFETY: as in `read`; a single aligned 64-bit store is single-copy atomic for the walker.
        unsafe { self.slot(table, idx).write_volatile(new.raw()) };
        g.wrote = true;
    }

    /// invalid -> TLBI -> DSB ISH -> new, for a valid entry at `level` covering `va`.
    fn break_before_make<F>(
        &self,
        table: PhysAddr,
        idx: usize,
        level: usize,
        va: VirtAddr,
        new: Descriptor,
        g: &mut Gather<F>,
    ) where
        F: TlbFlush + ?Sized,
    {
        let old = self.read(table, idx);
        self.write_entry(table, idx, va, Descriptor::INVALID, g);
        g.batch.add(va, level_size(level));
        if old.is_table(level) {
            g.batch.note_freed_table(va, level_size(level));
        }
        g.flush(&self.mem);
        self.write_entry(table, idx, va, new, g);
    }

    pub(super) fn lookup(&self, va: usize) -> Lookup {
        let mut table = self.root;
        for level in 0..4 {
            let idx = index(va, level);
            let desc = self.read(table, idx);
            if !desc.is_valid() {
                return Lookup::Absent { level };
            }
            if desc.is_leaf(level) {
                debug_assert!(level > 0, "L0 block descriptor");
                return Lookup::Leaf {
                    level,
                    desc,
                    table,
                    idx,
                };
            }
            table = desc.output_addr();
        }
        unreachable!("level 3 entries are pages or invalid")
    }

    /// One walk for the fault path, allocating nothing.
    #[inline]
    pub(super) fn walk_l3(&self, va: usize) -> PageWalk {
        let mut table = self.root;
        for level in 0..3 {
            let desc = self.read(table, index(va, level));
            if !desc.is_valid() {
                return PageWalk::Vacant { l3: None };
            }
            if desc.is_leaf(level) {
                return PageWalk::Leaf { level, desc };
            }
            table = desc.output_addr();
        }
        let desc = self.read(table, index(va, 3));
        if desc.is_valid() {
            PageWalk::Leaf { level: 3, desc }
        } else {
            PageWalk::Vacant { l3: Some(table) }
        }
    }

    /// brk's and munmap's one mapped page, found by [`lookup`](Self::lookup) as `desc` in L3
    /// `table`: clears the entry and queues its frame. A table left empty is unlinked as
    /// `clear_range` does, by running it over the page (which then has nothing left to clear).
    #[inline(always)]
    pub(super) fn unmap_one_page<F: TlbFlush + ?Sized>(
        &self,
        va: usize,
        (table, desc): (PhysAddr, Descriptor),
        free_owned: bool,
        g: &mut Gather<F>,
    ) -> usize {
        debug_assert!(desc.is_valid());
        let before = g.unmapped_pages;
        let idx = index(va, 3);
        self.write_entry(table, idx, VirtAddr::new(va), Descriptor::INVALID, g);
        g.batch.add(VirtAddr::new(va), PAGE_SIZE);
        g.unmapped_pages += 1;
        if free_owned && desc.is_owned() {
            // After the deferral, which may flush the batch before it and start a new one.
            g.defer_free(&self.mem, desc.output_addr(), 0);
            g.maybe_shared |= !desc.is_exclusive();
        }
        // The root is never unlinked; any other table that is now empty is, with its ancestors
        // that become empty in turn. One nothing was cleared in has not become empty (no table
        // but the root is left empty): its 512 entries are not looked at, which cost up to 1,200
        // instructions where the table's one mapping sat at its far end.
        if table != self.root && self.is_empty_table(table) {
            let last = va + (PAGE_SIZE - 1);
            // The entry is cleared already: the walk must look at the tables without it.
            g.sweep = true;
            self.clear_range(self.root, 0, va, last, free_owned, g, &mut Reserve::empty());
        }
        g.unmapped_pages - before
    }

    /// Fails with `AlreadyMapped` if any page in `[va, last]` is mapped; skips holes a whole
    /// missing table at a time.
    pub(super) fn check_unmapped(&self, va: usize, last: usize) -> Result<(), PtError> {
        let mut cur = va;
        loop {
            let level = match self.lookup(cur) {
                Lookup::Leaf { .. } => return Err(PtError::AlreadyMapped),
                Lookup::Absent { level } => level,
            };
            let end = cur | (level_size(level) - 1);
            if end >= last {
                return Ok(());
            }
            cur = end + 1;
        }
    }

    /// Links a new entry where the walker sees an invalid one: invalid -> valid needs no TLB
    /// maintenance, only a publish barrier before the new entry is relied on (the caller's).
    pub(super) fn write_invalid_to_valid(&self, table: PhysAddr, idx: usize, new: Descriptor) {
        debug_assert!(!self.read(table, idx).is_valid(), "not an invalid entry");
        // SAFETY: as in `read`; a single aligned 64-bit store is single-copy atomic for the walker.
        unsafe { self.slot(table, idx).write_volatile(new.raw()) };
    }

    /// The level-3 table for `va`, creating missing tables (each published before it is linked);
    /// `AlreadyMapped` if a block covers `va`. A table created before a later allocation fails
    /// stays linked and empty; it is reused or freed with the address space.
    pub(super) fn walk_alloc_l3<F: TlbFlush + ?Sized>(
        &self,
        va: usize,
        tlb: &F,
    ) -> Result<PhysAddr, PtError> {
        let mut table = self.root;
        for l in 0..3 {
            let idx = index(va, l);
            let d = self.read(table, idx);
            table = if d.is_table(l) {
                d.output_addr()
            } else if d.is_valid() {
                return Err(PtError::AlreadyMapped);
            } else {
                let t = alloc_zeroed_table(&self.mem)?;
                tlb.publish();
                self.write_invalid_to_valid(table, idx, Descriptor::table(t));
                t
            };
        }
        Ok(table)
    }

    /// Returns the table at `level` that translates `va`, creating missing intermediate tables.
    pub(super) fn walk_alloc<F: TlbFlush + ?Sized>(
        &self,
        va: usize,
        level: usize,
        g: &mut Gather<F>,
    ) -> Result<PhysAddr, PtError> {
        let mut table = self.root;
        for l in 0..level {
            let idx = index(va, l);
            let d = self.read(table, idx);
            table = if d.is_table(l) {
                d.output_addr()
            } else if d.is_valid() {
                return Err(PtError::AlreadyMapped);
            } else {
                let t = alloc_zeroed_table(&self.mem)?;
                // The zeroed contents must be visible to walkers before the pointer to them.
                g.tlb.publish();
                let base = VirtAddr::new(va & !(level_size(l) - 1));
                self.write_entry(table, idx, base, Descriptor::table(t), g);
                t
            };
        }
        Ok(table)
    }

    /// Writes leaves for `[va, va + len)`, which must be unmapped; `next(off)` gives the output
    /// address and level of the leaf at offset `off`. Consecutive leaves in one table reuse the
    /// walk. On error the caller rolls back with [`Self::clear_range`].
    pub(super) fn populate<F: TlbFlush + ?Sized>(
        &self,
        va: usize,
        len: usize,
        attrs: Attrs,
        g: &mut Gather<F>,
        mut next: impl FnMut(usize, usize) -> (PhysAddr, usize),
    ) -> Result<(), PtError> {
        // Each level's leaf descriptor with output address 0, built once: a leaf is then its
        // template ORed with the (aligned, in-range) output address, which keeps the encoding of
        // `attrs` out of the per-page loop.
        let templates = [1, 2, 3].map(|l| Descriptor::leaf(l, PhysAddr::new(0), attrs).raw());
        let mut off = 0;
        let mut cached: Option<(usize, usize, PhysAddr)> = None;
        while off < len {
            let v = va.wrapping_add(off);
            let (pa, level) = next(off, v);
            let region = v >> (level_shift(level) + 9);
            let table = match cached {
                Some((l, r, t)) if l == level && r == region => t,
                _ => {
                    let t = self.walk_alloc(v, level, g)?;
                    cached = Some((level, region, t));
                    t
                }
            };
            if level == 3 {
                // Pages to the end of this L3 table are all pages (a block can only start where a
                // table's span does), so they are written in a loop without the per-leaf level
                // and table checks: the population path's inner loop.
                let first = index(v, 3);
                let n = (ENTRIES - first).min((len - off) / PAGE_SIZE);
                for i in 0..n {
                    let (o, va_i) = (off + i * PAGE_SIZE, v.wrapping_add(i * PAGE_SIZE));
                    let (pa, _) = next(o, va_i);
                    let leaf = Descriptor::from_raw(templates[2] | pa.as_usize() as u64);
                    debug_assert_eq!(leaf, Descriptor::leaf(3, pa, attrs));
                    self.write_entry(table, first + i, VirtAddr::new(va_i), leaf, g);
                }
                off += n * PAGE_SIZE;
                continue;
            }
            let leaf = Descriptor::from_raw(templates[level - 1] | pa.as_usize() as u64);
            debug_assert_eq!(leaf, Descriptor::leaf(level, pa, attrs));
            self.write_entry(table, index(v, level), VirtAddr::new(v), leaf, g);
            off += level_size(level);
        }
        Ok(())
    }

    /// Allocates into the empty `r` the tables that splitting blocks at the two ends of
    /// `[va, last]` may need. `protect` passes its target attributes: a block that already has
    /// them is left alone.
    pub(super) fn reserve_splits(
        &self,
        va: usize,
        last: usize,
        protect: Option<Attrs>,
        r: &mut Reserve,
    ) -> Result<(), PtError> {
        let n = self.splits_needed(va, last, protect);
        r.fill(&self.mem, n)
    }

    /// The tables splitting the blocks across the ends of `[va, last]` takes (none for a
    /// `protect` to attributes a block already has).
    pub(super) fn splits_needed(&self, va: usize, last: usize, protect: Option<Attrs>) -> usize {
        let splits_at = |probe: usize, aligned: &dyn Fn(usize) -> bool| match self.lookup(probe) {
            Lookup::Leaf { desc, .. }
                if protect.is_some_and(|a| desc.with_attrs(a.keeping_bits_of(desc)) == desc) =>
            {
                0
            }
            Lookup::Leaf { level: 1, .. } if !aligned(level_size(1)) => {
                1 + !aligned(level_size(2)) as usize
            }
            Lookup::Leaf { level: 2, .. } if !aligned(level_size(2)) => 1,
            _ => 0,
        };
        if va >> level_shift(2) == last >> level_shift(2) && protect.is_none() {
            // Both ends in one 2 MiB range (brk1, a munmap of a few pages): one walk. Only a
            // block leaf can need a split, and the same leaf covers both ends.
            return match self.lookup(va) {
                Lookup::Leaf { level, .. } if level < 3 => {
                    splits_at(va, &|s| va & (s - 1) == 0)
                        + splits_at(last, &|s| last & (s - 1) == s - 1)
                }
                _ => 0,
            };
        }
        splits_at(va, &|s| va & (s - 1) == 0) + splits_at(last, &|s| last & (s - 1) == s - 1)
    }

    /// Replaces the block at `table[idx]` by a table of 512 next-level leaves with the same output
    /// addresses and attributes; returns the new table.
    fn split<F>(
        &self,
        table: PhysAddr,
        idx: usize,
        level: usize,
        base: usize,
        g: &mut Gather<F>,
        r: &mut Reserve,
    ) -> PhysAddr
    where
        F: TlbFlush + ?Sized,
    {
        let block = self.read(table, idx);
        let child = r.take();
        let clevel = level + 1;
        for i in 0..ENTRIES {
            self.write_new(
                child,
                i,
                block.relocated(clevel, block.output_addr() + i * level_size(clevel)),
            );
        }
        g.tlb.publish();
        self.break_before_make(
            table,
            idx,
            level,
            VirtAddr::new(base),
            Descriptor::table(child),
            g,
        );
        child
    }

    /// Calls `f(table, idx, level, entry_base, cur, chunk_last)` for each entry of `table`
    /// (at `level`) that intersects `[va, last]`.
    fn for_entries(
        level: usize,
        va: usize,
        last: usize,
        mut f: impl FnMut(usize, usize, usize, usize),
    ) {
        let size = level_size(level);
        let mut cur = va;
        loop {
            let base = cur & !(size - 1);
            let chunk_last = last.min(base + (size - 1));
            f(index(cur, level), base, cur, chunk_last);
            if chunk_last == last {
                return;
            }
            cur = chunk_last + 1;
        }
    }

    /// The first valid entry of `table` in `from..=to`: eight entries a turn while none is valid
    /// (four paired loads, the descriptors or'ed, one test), then one at a time.
    #[inline]
    fn next_valid(&self, table: PhysAddr, from: usize, to: usize) -> Option<usize> {
        let mut i = from;
        if !i.is_multiple_of(2) && i <= to {
            if self.read(table, i).is_valid() {
                return Some(i);
            }
            i += 1;
        }
        while i + 7 <= to && !self.any_valid8(table, i) {
            i += 8;
        }
        (i..=to).find(|&i| self.read(table, i).is_valid())
    }

    /// Whether any of entries `i..i + 8` of `table` is valid; `i` is even.
    #[inline(always)]
    fn any_valid8(&self, table: PhysAddr, i: usize) -> bool {
        debug_assert!(i.is_multiple_of(2) && i + 8 <= ENTRIES);
        let p = self.slot(table, i) as *const u128;
        // SAFETY: as in `read`, for entries `i..i + 8`; a table is a whole frame and `i` is
        // even, so `p` is 16-byte aligned. Each volatile 16-byte load is one LDP, whose two
        // 64-bit halves are single-copy atomic as `read`'s loads are.
        let any = unsafe {
            p.read_volatile()
                | p.add(1).read_volatile()
                | p.add(2).read_volatile()
                | p.add(3).read_volatile()
        };
        Descriptor::from_raw(any as u64 | (any >> 64) as u64).is_valid()
    }

    /// The valid entries of `table` (at `level`) under `[va, last]`, each as `(idx, base, cur,
    /// chunk_last)`: its index, the start of the span it covers, and that span cut to the
    /// range. Each step looks from the entry after the last one given, so the caller may change
    /// entries as it goes.
    #[inline(always)]
    fn valid_entries(
        &self,
        table: PhysAddr,
        level: usize,
        va: usize,
        last: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        let size = level_size(level);
        let table_base = va & !(size * ENTRIES - 1);
        let (mut from, to) = (index(va, level), index(last, level));
        core::iter::from_fn(move || {
            let idx = self.next_valid(table, from, to)?;
            from = idx + 1;
            let base = table_base + idx * size;
            Some((idx, base, va.max(base), last.min(base + (size - 1))))
        })
    }

    /// Whether any page of `[va, last]` below `table` (at `level`) is mapped: a walk of the valid
    /// entries only, which stops at the first leaf. While the range lies under one entry (a
    /// range inside 1 GiB, from the root) the walk goes straight down it.
    pub(super) fn has_leaves(
        &self,
        mut table: PhysAddr,
        mut level: usize,
        va: usize,
        last: usize,
    ) -> bool {
        while level < 3 && va >> level_shift(level) == last >> level_shift(level) {
            let d = self.read(table, index(va, level));
            if !d.is_table(level) {
                return d.is_valid();
            }
            table = d.output_addr();
            level += 1;
        }
        for (idx, _, cur, chunk_last) in self.valid_entries(table, level, va, last) {
            let d = self.read(table, idx);
            if d.is_leaf(level)
                || (d.is_table(level)
                    && self.has_leaves(d.output_addr(), level + 1, cur, chunk_last))
            {
                return true;
            }
        }
        false
    }

    fn is_empty_table(&self, table: PhysAddr) -> bool {
        (0..ENTRIES).step_by(8).all(|i| !self.any_valid8(table, i))
    }

    /// Clears every leaf in `[va, last]` below `table` (at `level`), splitting blocks that are only
    /// partly covered, freeing owned frames if `free_owned`, and unlinking tables that became
    /// empty. Returns whether `table` itself is now empty. Only a table an entry was cleared in
    /// can have become so (no table but the root is ever left empty), so only those are looked
    /// at, unless `g.sweep`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn clear_range<F: TlbFlush + ?Sized>(
        &self,
        table: PhysAddr,
        level: usize,
        va: usize,
        last: usize,
        free_owned: bool,
        g: &mut Gather<F>,
        r: &mut Reserve,
    ) -> bool {
        if level == 3 {
            // The pages of one table: per page, the entry, the count and the frame; the range of
            // a run joins the TLB batch once, before the frees' batch can fill and be flushed (a
            // flush must cover every entry whose frame it frees). The range machinery below cost
            // about 50 instructions per page of a heap being torn down, a page at a time 45.
            let mut cleared = g.sweep;
            let base = va & !(level_size(2) - 1);
            let end = index(last, 3);
            let mut idx = index(va, 3);
            while idx <= end {
                if g.nfree == MAX_FREES {
                    g.flush(&self.mem);
                }
                let room = MAX_FREES - g.nfree;
                let (mut lo, mut hi, mut n, mut freed) = (usize::MAX, 0, 0, 0);
                // The freed entries' bits and'ed: whether every one was exclusive.
                let mut all = u64::MAX;
                while idx <= end && freed < room {
                    let d = self.read(table, idx);
                    if d.is_valid() {
                        let page = VirtAddr::new(base + idx * PAGE_SIZE);
                        self.write_entry(table, idx, page, Descriptor::INVALID, g);
                        lo = lo.min(idx);
                        hi = idx;
                        n += 1;
                        if free_owned && d.is_owned() {
                            g.frees[g.nfree + freed].write(d.output_addr());
                            freed += 1;
                            all &= d.raw();
                        }
                    }
                    idx += 1;
                }
                if n > 0 {
                    cleared = true;
                    g.batch
                        .add_pages(VirtAddr::new(base + lo * PAGE_SIZE), hi - lo + 1);
                    g.unmapped_pages += n;
                    g.nfree += freed;
                    g.maybe_shared |= !Descriptor::from_raw(all).is_exclusive();
                }
            }
            return cleared && self.is_empty_table(table);
        }
        let size = level_size(level);
        let mut cleared = g.sweep;
        // Only the valid entries: a range mapped but never touched has none below it, and
        // looking at an empty entry is then a load and a test.
        for (idx, base, cur, chunk_last) in self.valid_entries(table, level, va, last) {
            let d = self.read(table, idx);
            if d.is_leaf(level) {
                if cur == base && chunk_last == base + (size - 1) {
                    cleared = true;
                    self.write_entry(table, idx, VirtAddr::new(base), Descriptor::INVALID, g);
                    g.batch.add(VirtAddr::new(base), size);
                    g.unmapped_pages += size / PAGE_SIZE;
                    if free_owned && d.is_owned() {
                        g.defer_free(&self.mem, d.output_addr(), leaf_order(level));
                    }
                } else {
                    let child = self.split(table, idx, level, base, g, r);
                    self.clear_range(child, level + 1, cur, chunk_last, free_owned, g, r);
                }
            } else if d.is_table(level) {
                let child = d.output_addr();
                if self.clear_range(child, level + 1, cur, chunk_last, free_owned, g, r) {
                    cleared = true;
                    self.write_entry(table, idx, VirtAddr::new(base), Descriptor::INVALID, g);
                    // A non-leaf TLBI at any VA the table translated drops walk-cache entries for it.
                    g.batch.note_freed_table(VirtAddr::new(cur), size);
                    g.defer_free(&self.mem, child, 0);
                }
            }
        }
        cleared && self.is_empty_table(table)
    }

    /// Applies `attrs` (keeping each leaf's ownership) to every leaf in `[va, last]` below `table`;
    /// returns whether any leaf changed. In a user table, each L3 (L2) table in which a leaf
    /// changed is then collapsed into a 2 MiB (1 GiB) block if it can be ([`Self::try_collapse`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn protect_range<F: TlbFlush + ?Sized>(
        &self,
        table: PhysAddr,
        level: usize,
        va: usize,
        last: usize,
        attrs: Attrs,
        g: &mut Gather<F>,
        r: &mut Reserve,
    ) -> bool {
        let size = level_size(level);
        let mut changed = false;
        Self::for_entries(level, va, last, |idx, base, cur, chunk_last| {
            let d = self.read(table, idx);
            if d.is_leaf(level) {
                let new = d.with_attrs(attrs.keeping_bits_of(d));
                if new == d {
                    return;
                }
                changed = true;
                if cur == base && chunk_last == base + (size - 1) {
                    self.update_leaf(table, idx, level, VirtAddr::new(base), new, g);
                } else {
                    // The split table is left mixed (part of it keeps the old attributes), so
                    // there is nothing to collapse.
                    let child = self.split(table, idx, level, base, g, r);
                    self.protect_range(child, level + 1, cur, chunk_last, attrs, g, r);
                }
            } else if d.is_table(level) {
                let child = d.output_addr();
                if self.protect_range(child, level + 1, cur, chunk_last, attrs, g, r) {
                    changed = true;
                    // Never in the kernel's tables: they are live under the running code, and the
                    // invalid window of break-before-make could unmap it.
                    if (1..=2).contains(&level) && self.asid.is_some() {
                        let touched = (index(cur, level + 1), index(chunk_last, level + 1));
                        self.try_collapse(table, idx, level, base, child, touched, g);
                    }
                }
            }
        });
        changed
    }

    /// The level-`level - 1` block that can replace the level-`level` table `child`, if its 512
    /// entries are owned leaves with identical attribute and software bits (AF and ownership
    /// included) mapping one physically contiguous run aligned to the block size, whose frames are
    /// not shared (a frame shared copy-on-write since a fork must stay a page so that a write can
    /// copy it alone). Unowned leaves (borrowed memory: the zero page, MMIO) are left as they are.
    ///
    /// `touched` (first and last index of the entries that just changed) picks the entries
    /// compared first: their neighbours are the likeliest to differ (fork write-protects a table
    /// page by page; a mapping filled in piece by piece is checked after each piece), so a failed
    /// attempt usually costs a few loads rather than 512.
    fn collapsible(
        &self,
        child: PhysAddr,
        level: usize,
        touched: (usize, usize),
    ) -> Option<Descriptor> {
        let first = self.read(child, 0);
        if !first.is_leaf(level) || !first.is_owned() {
            return None;
        }
        let (pa, size) = (first.output_addr(), level_size(level));
        if !pa.is_aligned(level_size(level - 1)) {
            return None;
        }
        // Entry `i` must be `first` with the output address advanced by `i` leaves. The addition
        // cannot carry out of the output-address field unless the run ended past the 48-bit PA
        // limit, and then the entry (never written with those bits) does not match.
        let same = |i: usize| self.read(child, i).raw() == first.raw() + (i * size) as u64;
        let (lo, hi) = touched;
        let probes = [
            (hi + 1) % ENTRIES,
            (lo + ENTRIES - 1) % ENTRIES,
            ENTRIES - 1,
        ];
        if !probes.into_iter().all(same) || !(1..ENTRIES).all(same) {
            return None;
        }
        // Only single frames are ever shared (fork copies blocks), so for a table of blocks the
        // first frame of each stands for all of it.
        if !(0..ENTRIES).all(|i| self.mem.frame_refs(pa + i * size) == 1) {
            return None;
        }
        Some(first.relocated(level - 1, pa))
    }

    /// Replaces the table `child` linked at `table[idx]` (a `level` entry covering `base`) by one
    /// block when [`Self::collapsible`] allows (khugepaged's collapse, made only where it is exact):
    /// break-before-make with the table entry invalid, then an invalidation of every leaf the
    /// table held, walk caches included (512 leaf-sized TLBIs reach the batch's threshold, so this
    /// is one `TLBI ASIDE1IS`, as Linux's `pmdp_collapse_flush` ends up doing), its completion,
    /// and then the block. The table frame is freed once the invalidation completed. An owned
    /// block is later freed whole or, after a split, piecewise; `PhysMem` accepts either.
    #[allow(clippy::too_many_arguments)]
    fn try_collapse<F: TlbFlush + ?Sized>(
        &self,
        table: PhysAddr,
        idx: usize,
        level: usize,
        base: usize,
        child: PhysAddr,
        touched: (usize, usize),
        g: &mut Gather<F>,
    ) {
        let Some(block) = self.collapsible(child, level + 1, touched) else {
            return;
        };
        let (size, csize) = (level_size(level), level_size(level + 1));
        let va = VirtAddr::new(base);
        self.write_entry(table, idx, va, Descriptor::INVALID, g);
        g.batch.add(va, csize);
        g.batch.add(VirtAddr::new(base + (size - csize)), csize);
        g.batch.note_freed_table(va, size);
        g.defer_free(&self.mem, child, 0);
        g.flush(&self.mem);
        self.write_entry(table, idx, va, block, g);
    }

    /// Replaces a valid leaf, with break-before-make only when the change requires it.
    pub(super) fn update_leaf<F>(
        &self,
        table: PhysAddr,
        idx: usize,
        level: usize,
        va: VirtAddr,
        new: Descriptor,
        g: &mut Gather<F>,
    ) where
        F: TlbFlush + ?Sized,
    {
        if self.read(table, idx).needs_bbm(new) {
            self.break_before_make(table, idx, level, va, new, g);
        } else {
            self.write_entry(table, idx, va, new, g);
            g.batch.add(va, level_size(level));
        }
    }

    /// Frees every table below `table` (and owned leaf frames) without TLB maintenance; only for
    /// tables no TTBR points at any more.
    pub(super) fn free_subtree(&self, table: PhysAddr, level: usize) {
        for idx in 0..ENTRIES {
            let d = self.read(table, idx);
            if d.is_table(level) {
                self.free_subtree(d.output_addr(), level + 1);
                self.mem.free_frames(d.output_addr(), 0);
            } else if d.is_leaf(level) && d.is_owned() {
                self.mem.free_frames(d.output_addr(), leaf_order(level));
            }
        }
    }

    /// Number of table frames reachable from `table`, itself included.
    pub(super) fn count_tables(&self, table: PhysAddr, level: usize) -> usize {
        1 + (0..ENTRIES)
            .map(|i| self.read(table, i))
            .filter(|d| d.is_table(level))
            .map(|d| self.count_tables(d.output_addr(), level + 1))
            .sum::<usize>()
    }
}
