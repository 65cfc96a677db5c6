//! Creating and removing mappings: `get_unmapped_area`, `do_mmap`/`mmap_region` for anonymous memory,
//! `do_munmap`, and the tree surgery they share (`split_vma`, `vma_merge`). Mirrors Linux 6.x
//! `mm/mmap.c` and `mm/vma.c`.
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::addr::{is_page_aligned, page_align_up, PAGE_SHIFT, PAGE_SIZE};
use super::anon_vma::anon_vmas_joinable;
use super::error::MmError;
use super::mm_struct::{
    MmStruct, PageTableOps, DAC_MMAP_MIN_ADDR, MMAP_MIN_ADDR, TASK_SIZE, TASK_UNMAPPED_BASE,
};
use super::populate::PopulateRange;
use super::vma::*;
use super::vma_tree::{vm_end_gap, vm_start_gap};

/// What a successful `do_mmap` returns: the address, and the range the caller must populate after
/// dropping the mmap lock (MAP_POPULATE, MAP_LOCKED or mlockall(MCL_FUTURE)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapResult {
    pub addr: usize,
    pub populate: Option<PopulateRange>,
}

impl<P: PageTableOps> MmStruct<P> {
    /// Inserts `vma` (already disjoint from the tree) and accounts it; no merging.
    pub(crate) fn link_vma(&mut self, vma: Vma) {
        let n = vma.pages();
        self.vm_stat_account(vma.flags, n as isize);
        if vma.flags.contains(VM_LOCKED) {
            self.stat.locked_vm += n;
        }
        self.tree.insert(vma);
    }

    /// Links a new `vma` (disjoint from the tree) and accounts it, merged with its neighbours
    /// where they are compatible: Linux's `mmap_region` tries `vma_merge` before `vma_link`, so
    /// the tree changes once (the VMA inserted, or a neighbour stretched) rather than an
    /// insertion being taken out and put back. Returns the start of the VMA that holds the range.
    pub(crate) fn link_vma_merged(&mut self, vma: Vma) -> usize {
        self.account_new(&vma);
        insert_merged(self, vma)
    }

    /// [`link_vma_merged`](Self::link_vma_merged) with the neighbours to merge with already
    /// known ([`merge_partners`]).
    fn link_vma_merged_with(&mut self, vma: Vma, partners: (Option<usize>, Option<usize>)) {
        self.account_new(&vma);
        insert_with_partners(self, vma, partners);
    }

    fn account_new(&mut self, vma: &Vma) {
        let n = vma.pages();
        self.vm_stat_account(vma.flags, n as isize);
        if vma.flags.contains(VM_LOCKED) {
            self.stat.locked_vm += n;
        }
    }

    /// Removes the VMA starting at `start` and takes it out of the counters; gives back its
    /// object, all the callers keep of it (not the whole VMA, a 48-byte copy).
    pub(crate) fn unlink_vma(&mut self, start: usize) -> Option<Backing> {
        let (flags, n, backing) = self
            .tree
            .remove_with(start, |vma| {
                (
                    vma.flags,
                    vma.pages(),
                    vma.file.and_then(|f| f.backing.clone()),
                )
            })
            .expect("unlink_vma: no VMA at start");
        self.vm_stat_account(flags, -(n as isize));
        if flags.contains(VM_LOCKED) {
            self.stat.locked_vm -= n;
        }
        backing
    }
}

/// Splits the VMA starting at `vma_start` at `addr` into `[start, addr)` and `[addr, end)`, without
/// the map-count check (Linux `__split_vma`). Counters are unchanged.
pub(crate) fn __split_vma<P: PageTableOps>(mm: &mut MmStruct<P>, vma_start: usize, addr: usize) {
    let mut lo = mm.tree.remove(vma_start).expect("split of a missing VMA");
    debug_assert!(lo.start < addr && addr < lo.end && is_page_aligned(addr));
    let hi = Vma {
        start: addr,
        end: lo.end,
        flags: lo.flags,
        pgoff: lo.pgoff + ((addr - lo.start) >> PAGE_SHIFT),
        file: lo.file.clone(),
        anon_vma: lo.anon_vma,
    };
    lo.end = addr;
    mm.tree.insert(lo);
    mm.tree.insert(hi);
}

/// Ends the VMA starting at `vma_start` at `addr` (inside it, page-aligned) and takes the pages
/// above out of the counters: the outcome of `__split_vma` at `addr` followed by `unlink_vma` of
/// the upper part.
fn trim_vma_end<P: PageTableOps>(mm: &mut MmStruct<P>, vma_start: usize, addr: usize) {
    let vma = mm.tree.get_mut(vma_start).expect("trim of a missing VMA");
    debug_assert!(vma.start < addr && addr < vma.end && is_page_aligned(addr));
    let n = (vma.end - addr) >> PAGE_SHIFT;
    let flags = vma.flags;
    vma.end = addr;
    mm.vm_stat_account(flags, -(n as isize));
    if flags.contains(VM_LOCKED) {
        mm.stat.locked_vm -= n;
    }
}

/// Splits a VMA at `addr` if the map count allows one more VMA (Linux `split_vma`).
pub fn split_vma<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    addr: usize,
) -> Result<(), MmError> {
    if mm.map_count() >= mm.max_map_count {
        return Err(MmError::NoMemory);
    }
    __split_vma(mm, vma_start, addr);
    mm.debug_validate();
    Ok(())
}

/// Merges the VMA starting at `start` with its neighbours on both sides where they are compatible
/// (the outcome of Linux `vma_merge` for a range just created or changed). Returns the start of the
/// resulting VMA.
pub fn vma_merge<P: PageTableOps>(mm: &mut MmStruct<P>, start: usize) -> usize {
    let vma = mm.tree.remove(start).expect("vma_merge: no VMA at start");
    insert_merged(mm, vma)
}

/// Puts `vma` (disjoint from the tree) into the tree, joined with the VMA ending at its start and
/// the one starting at its end where they are compatible; counters are unchanged. Returns the
/// start of the VMA that holds its range.
fn insert_merged<P: PageTableOps>(mm: &mut MmStruct<P>, vma: Vma) -> usize {
    // Both neighbours from one search: the VMA below `vma` ends at or before its start, the one
    // above starts at or after its end.
    let (prev, next) = mm.tree.prev_next(vma.start);
    let partners = merge_partners(prev, next, &vma);
    insert_with_partners(mm, vma, partners)
}

/// Whom `vma` (disjoint from the tree) merges with, given the VMAs below and above its range
/// ([`VmaTree::prev_next`](crate::vma_tree::VmaTree::prev_next)): the start of the one that
/// ends at its start, and the end of the one that starts at its end, where compatible. Where it
/// could join both but they cannot become one (two different anon_vmas), it joins the one below,
/// as Linux's `vma_merge` does.
fn merge_partners(
    prev: Option<&Vma>,
    next: Option<&Vma>,
    vma: &Vma,
) -> (Option<usize>, Option<usize>) {
    let prev = prev.filter(|prev| vma.can_join_prev(prev));
    let next = next.filter(|next| vma.can_join_next(next));
    match (prev, next) {
        (Some(p), Some(n)) if !anon_vmas_joinable(p.anon_vma, n.anon_vma) => (Some(p.start), None),
        (p, n) => (p.map(|p| p.start), n.map(|n| n.end)),
    }
}

/// The second half of [`insert_merged`]: the tree changes once, or twice when both neighbours
/// merge (the next one goes, the previous one stretches over both).
fn insert_with_partners<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    mut vma: Vma,
    (prev, next_end): (Option<usize>, Option<usize>),
) -> usize {
    // The VMA that remains takes the anon_vma of whichever had one (the rules above allow one
    // at most).
    if let Some(end) = next_end {
        let next = mm.tree.remove(vma.end).expect("next vanished");
        vma.end = end;
        vma.anon_vma = vma.anon_vma.or(next.anon_vma);
    }
    match prev {
        Some(start) => {
            let prev = mm.tree.get_mut(start).expect("prev vanished");
            prev.end = vma.end;
            prev.anon_vma = prev.anon_vma.or(vma.anon_vma);
            start
        }
        None => {
            let start = vma.start;
            mm.tree.insert(vma);
            start
        }
    }
}

/// The highest free range of `len` bytes in `[low, high)` that keeps clear of stack guard gaps
/// (Linux `unmapped_area_topdown`).
fn unmapped_area_topdown<P: PageTableOps>(
    mm: &MmStruct<P>,
    low: usize,
    high: usize,
    len: usize,
) -> Option<usize> {
    let low = low.max(MMAP_MIN_ADDR);
    let mut hi = high;
    for v in mm.vmas().rev() {
        if v.end <= hi {
            let lo = vm_end_gap(v).max(low);
            if hi >= lo && hi - lo >= len {
                return Some(hi - len);
            }
        }
        hi = hi.min(vm_start_gap(v));
        if hi < low {
            return None;
        }
    }
    (hi >= low && hi - low >= len).then(|| hi - len)
}

/// The lowest free range of `len` bytes in `[low, high)` (Linux `unmapped_area`, the fallback).
fn unmapped_area<P: PageTableOps>(
    mm: &MmStruct<P>,
    low: usize,
    high: usize,
    len: usize,
) -> Option<usize> {
    let mut lo = low.max(MMAP_MIN_ADDR);
    for v in mm.vmas() {
        let gap_end = vm_start_gap(v).min(high);
        if gap_end >= lo && gap_end - lo >= len {
            return Some(lo);
        }
        lo = lo.max(vm_end_gap(v));
        if lo >= high {
            return None;
        }
    }
    (high >= lo && high - lo >= len).then_some(lo)
}

/// Chooses where a mapping of `len` (page-aligned) bytes goes (Linux `__get_unmapped_area` +
/// `generic_get_unmapped_area_topdown`): `MAP_FIXED` takes `addr` as is; otherwise a free, page-aligned
/// hint is honoured, else the highest gap below `mmap_base`, else the lowest above `TASK_UNMAPPED_BASE`.
pub fn get_unmapped_area<P: PageTableOps>(
    mm: &MmStruct<P>,
    addr: usize,
    len: usize,
    flags: u32,
) -> Result<usize, MmError> {
    if len > TASK_SIZE || len > TASK_SIZE - MMAP_MIN_ADDR {
        return Err(MmError::NoMemory);
    }
    let addr = if flags & MAP_FIXED != 0 {
        addr
    } else {
        let hint = match page_align_up(addr) {
            Some(a) if a != 0 => {
                let (vma, prev) = mm.find_vma_prev(a);
                let free = TASK_SIZE - len >= a
                    && a >= MMAP_MIN_ADDR
                    && vma.is_none_or(|v| a + len <= vm_start_gap(v))
                    && prev.is_none_or(|p| a >= vm_end_gap(p));
                free.then_some(a)
            }
            _ => None,
        };
        match hint {
            Some(a) => a,
            None => unmapped_area_topdown(mm, PAGE_SIZE, mm.mmap_base, len)
                .or_else(|| unmapped_area(mm, TASK_UNMAPPED_BASE, TASK_SIZE, len))
                .ok_or(MmError::NoMemory)?,
        }
    };
    if addr > TASK_SIZE - len {
        return Err(MmError::NoMemory);
    }
    if !is_page_aligned(addr) {
        return Err(MmError::Invalid);
    }
    // security_mmap_addr / cap_mmap_addr: below dac_mmap_min_addr only with CAP_SYS_RAWIO (root).
    if addr < DAC_MMAP_MIN_ADDR && !mm.privileged {
        return Err(MmError::Permission);
    }
    Ok(addr)
}

/// Linux `round_hint_to_min`: a non-zero hint below `mmap_min_addr` is raised to it.
fn round_hint_to_min(hint: usize) -> usize {
    let hint = hint & !(PAGE_SIZE - 1);
    if hint != 0 && hint < MMAP_MIN_ADDR {
        MMAP_MIN_ADDR
    } else {
        hint
    }
}

/// mmap(2) of anonymous memory (Linux `do_mmap` with `file == NULL`); the syscall layer has already
/// rejected file mappings and a misaligned offset. Called with the mmap lock held for writing; the
/// caller populates `populate` after dropping it.
pub fn do_mmap<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
) -> Result<MmapResult, MmError> {
    do_mmap_object(mm, addr, len, prot, flags, None)
}

/// What a mapping of an object maps: the object, the name /proc shows, the first page, and
/// whether the descriptor was open for writing (`FMODE_WRITE`).
#[derive(Clone, Debug)]
pub struct MmapObject {
    pub backing: Backing,
    pub name: Arc<str>,
    pub pgoff: usize,
    pub writable: bool,
}

/// [`do_mmap`] with the object a file descriptor (or `MAP_SHARED | MAP_ANONYMOUS`, whose
/// object the caller made) gives. A shared mapping of a descriptor not open for writing may not
/// be made writable, now (`EACCES`) or later (no `VM_MAYWRITE`).
pub fn do_mmap_object<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
    object: Option<MmapObject>,
) -> Result<MmapResult, MmError> {
    if len == 0 {
        return Err(MmError::Invalid);
    }
    let mut flags = flags;
    if flags & MAP_FIXED_NOREPLACE != 0 {
        flags |= MAP_FIXED;
    }
    let addr = if flags & MAP_FIXED == 0 {
        round_hint_to_min(addr)
    } else {
        addr
    };
    let len = page_align_up(len).ok_or(MmError::NoMemory)?;
    if mm.map_count() > mm.max_map_count {
        return Err(MmError::NoMemory);
    }
    let mut vm_flags = calc_vm_prot_bits(prot)
        | calc_vm_flag_bits(flags)
        | mm.def_flags
        | VM_MAYREAD
        | VM_MAYWRITE
        | VM_MAYEXEC;
    let addr = get_unmapped_area(mm, addr, len, flags)?;
    if flags & MAP_FIXED_NOREPLACE != 0 && mm.find_vma_intersection(addr, addr + len).is_some() {
        return Err(MmError::Exists);
    }
    if flags & MAP_LOCKED != 0 && !mm.can_do_mlock() {
        return Err(MmError::Permission);
    }
    if !mm.mlock_future_ok(vm_flags, len) {
        return Err(MmError::Again);
    }
    let pgoff = match flags & MAP_TYPE {
        MAP_SHARED | MAP_SHARED_VALIDATE => {
            if vm_flags.contains(VM_GROWSDOWN) {
                return Err(MmError::Invalid);
            }
            vm_flags |= VM_SHARED | VM_MAYSHARE;
            if let Some(o) = &object {
                if !o.writable {
                    if prot & PROT_WRITE != 0 {
                        return Err(MmError::Access);
                    }
                    vm_flags &= !(VM_MAYWRITE | VM_SHARED);
                }
            }
            0
        }
        MAP_PRIVATE => addr >> PAGE_SHIFT,
        _ => return Err(MmError::Invalid),
    };
    if flags & MAP_NORESERVE != 0 {
        vm_flags |= VM_NORESERVE;
    }
    let addr = match object {
        Some(o) => mmap_region_backed(
            mm,
            addr,
            len,
            vm_flags,
            o.pgoff,
            Some(o.name),
            Some(o.backing),
        )?,
        None => mmap_region(mm, addr, len, vm_flags, pgoff, None)?,
    };
    let populate =
        vm_flags.contains(VM_LOCKED) || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
    Ok(MmapResult {
        addr,
        populate: populate.then(|| mm.populate_range(addr, len)),
    })
}

/// Maps `[addr, addr + len)` with `vm_flags`, replacing whatever is there (Linux `mmap_region`).
/// Also the loader's entry point for ELF segments (`file` = program path, `pgoff` = file page).
/// All limits are checked before the old mappings are removed, so a failure leaves them intact.
pub fn mmap_region<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    len: usize,
    vm_flags: VmFlags,
    pgoff: usize,
    file: Option<Arc<str>>,
) -> Result<usize, MmError> {
    mmap_region_backed(mm, addr, len, vm_flags, pgoff, file, None)
}

/// [`mmap_region`] for a mapping of an object (a file, shared memory): its pages come from
/// `backing`, starting at page `pgoff` of the object.
pub fn mmap_region_backed<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    len: usize,
    vm_flags: VmFlags,
    pgoff: usize,
    file: Option<Arc<str>>,
    backing: Option<Backing>,
) -> Result<usize, MmError> {
    debug_assert!(is_page_aligned(addr) && is_page_aligned(len) && len > 0);
    let end = addr
        .checked_add(len)
        .filter(|&e| e <= TASK_SIZE)
        .ok_or(MmError::NoMemory)?;
    let npages = len >> PAGE_SHIFT;
    if !mm.may_expand_vm(vm_flags, npages) {
        let replaced = mm.count_vma_pages_range(addr, end);
        if !mm.may_expand_vm(vm_flags, npages - replaced) {
            return Err(MmError::NoMemory);
        }
    }
    let mut vm_flags = vm_flags;
    if vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE) == VM_WRITE {
        mm.vm_enough_memory(npages)?;
        vm_flags |= VM_ACCOUNT;
    }
    if backing.is_some() {
        vm_flags |= VM_BACKED;
    }
    debug_assert!(
        file.is_some() || backing.is_none(),
        "an object's mapping has a name"
    );
    let file = file.map(|name| {
        let (dev, ino) = backing.as_ref().map_or((0, 0), |b| b.0.ident());
        Arc::new(VmaFile {
            name,
            backing,
            dev,
            ino,
        })
    });
    let vma = Vma {
        start: addr,
        end,
        flags: vm_flags,
        pgoff,
        file,
        anon_vma: None,
    };
    // One search tells whether the range is free and, when it is, whom the VMA merges with.
    let (prev, next) = mm.tree.prev_next(addr);
    if prev.is_some_and(|p| p.end > addr) || next.is_some_and(|n| n.start < end) {
        do_vmi_align_munmap(mm, addr, end).map_err(|_| MmError::NoMemory)?;
        mm.link_vma_merged(vma);
    } else {
        let partners = merge_partners(prev, next, &vma);
        mm.link_vma_merged_with(vma, partners);
    }
    mm.debug_validate();
    Ok(addr)
}

/// munmap(2) (Linux `do_munmap`/`do_vmi_munmap`): `start` must be page-aligned, `len` is rounded up;
/// unmapping nothing succeeds.
pub fn do_munmap<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
) -> Result<(), MmError> {
    if let Some(d) = do_munmap_deferred(mm, start, len)? {
        d.finish(&mut mm.pt);
    }
    Ok(())
}

/// [`do_munmap`] that leaves the translations for the caller to remove, after downgrading the
/// mmap lock (Linux 6.1's `__vm_munmap` with `downgrade`); `None` when nothing was mapped.
pub fn do_munmap_deferred<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
) -> Result<Option<DeferredUnmap<P::UnmapReserve>>, MmError> {
    if !is_page_aligned(start) || start > TASK_SIZE || len > TASK_SIZE - start {
        return Err(MmError::Invalid);
    }
    let end = start + page_align_up(len).ok_or(MmError::Invalid)?;
    if end == start {
        return Err(MmError::Invalid);
    }
    let Some(first) = mm.find_vma_intersection(start, end) else {
        return Ok(None);
    };
    let first = (first.start, first.end);
    vmi_align_munmap_deferred(mm, first, start, end)
}

/// Removes every VMA part inside the page-aligned `[start, end)`, which must intersect a VMA
/// (Linux `do_vmi_align_munmap`). Only a split in the middle of one VMA is refused at the map-count
/// limit; the tables a page-table split needs are set aside before the tree changes, so that a
/// failure leaves everything as it was.
pub(crate) fn do_vmi_align_munmap<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    end: usize,
) -> Result<(), MmError> {
    let first = mm
        .find_vma_intersection(start, end)
        .expect("do_vmi_align_munmap: nothing to unmap");
    let first = (first.start, first.end);
    vmi_align_munmap_from(mm, first, start, end)
}

/// [`do_vmi_align_munmap`] for a caller that already looked up `first`, the `(start, end)` of
/// the first VMA intersecting `[start, end)` (brk shrinking).
pub(crate) fn vmi_align_munmap_from<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    first: (usize, usize),
    start: usize,
    end: usize,
) -> Result<(), MmError> {
    if let Some(d) = vmi_align_munmap_deferred(mm, first, start, end)? {
        d.finish(&mut mm.pt);
    }
    Ok(())
}

/// The smallest unmap whose translations are removed after the VMAs leave the tree, with the
/// mmap lock downgraded: 64 KiB, where the clearing (some 10-20 instructions a page) starts to
/// outweigh the second walk and the downgrade (about 200 instructions, which a one-page brk
/// shrink would pay on top of its 250).
pub const DEFERRED_UNMAP_MIN: usize = 16 * PAGE_SIZE;

/// The translations of a range whose VMAs have left the tree, still to be removed: what Linux
/// 6.1's munmap and brk do after `mmap_write_downgrade`, so that the process's other threads
/// fault meanwhile (the range has no VMA: a fault there is a SIGSEGV, as once the call returns).
#[must_use = "the range is still mapped"]
pub struct DeferredUnmap<R> {
    pub start: usize,
    pub end: usize,
    reserve: R,
    /// The objects of the VMAs taken out, kept until their translations are gone: an object a
    /// VMA kept alive must outlive the mappings of its pages.
    detached: Vec<crate::object::Backing>,
}

impl<R> DeferredUnmap<R> {
    /// Removes the translations; given the page tables with the mmap lock held either way (and
    /// the page tables' lock, if shared), since `prepare_unmap`.
    pub fn finish<P: PageTableOps<UnmapReserve = R> + ?Sized>(self, pt: &mut P) {
        pt.unmap_prepared(self.start, self.end, self.reserve);
        drop(self.detached);
    }
}

/// [`do_vmi_align_munmap`] up to the point where the VMAs are out of the tree and only the page
/// tables remain to clear: everything that can fail (a split at the map-count limit, the tables
/// a block split will take) is done before anything changes.
///
/// A range below [`DEFERRED_UNMAP_MIN`] is cleared here, before the tree changes, and `None`
/// returned: for it the lock's downgrade and the second walk cost more than the clearing.
pub(crate) fn vmi_align_munmap_deferred<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    first: (usize, usize),
    start: usize,
    end: usize,
) -> Result<Option<DeferredUnmap<P::UnmapReserve>>, MmError> {
    let (first_start, first_end) = first;
    debug_assert_eq!(
        mm.find_vma_intersection(start, end)
            .map(|v| (v.start, v.end)),
        Some(first)
    );
    if start > first_start && end < first_end && mm.map_count() >= mm.max_map_count {
        return Err(MmError::NoMemory);
    }
    let reserve = if end - start < DEFERRED_UNMAP_MIN {
        mm.pt.unmap_range(start, end)?;
        None
    } else {
        mm.pt.prepare_unmap(start, end)?
    };
    let mut detached = Vec::new();
    if start > first_start && end == first_end {
        // The tail of one VMA (brk shrinking the heap, munmap of a mapping's end): nothing else
        // intersects the range, so splitting at `start` and unlinking the upper part comes down
        // to moving this VMA's end. Done in place: no re-keying, no second VMA.
        trim_vma_end(mm, first_start, start);
    } else if start == first_start && end == first_end {
        // Exactly one VMA (munmap of a whole mapping): unlinked without looking for others.
        let backing = mm.unlink_vma(start);
        if reserve.is_some() {
            detached.extend(backing);
        }
    } else {
        if start > first_start {
            __split_vma(mm, first_start, start);
        }
        let last = mm
            .find_vma(end - 1)
            .filter(|v| v.start < end)
            .map(|v| (v.start, v.end));
        if let Some((ls, le)) = last {
            if le > end {
                __split_vma(mm, ls, end);
            }
        }
        while let Some(v) = mm.find_vma_intersection(start, end) {
            let s = v.start;
            let backing = mm.unlink_vma(s);
            if reserve.is_some() {
                detached.extend(backing);
            }
        }
    }
    mm.debug_validate();
    Ok(reserve.map(|reserve| DeferredUnmap {
        start,
        end,
        reserve,
        detached,
    }))
}
