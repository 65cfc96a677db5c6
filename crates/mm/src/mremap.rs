//! mremap(2) for anonymous memory (Linux 6.x `mm/mremap.c`): shrink in place, grow in place,
//! or move to a new area (MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP), carrying the pages
//! along by moving their translations ([`PageTableOps::move_range`]); nothing is copied.
//!
//! Where tidemark differs from Linux: an `old_len` of 0 (Linux: duplicate a *shared* mapping) is
//! EINVAL for every mapping, and MREMAP_DONTUNMAP is EINVAL for shared mappings, because
//! tidemark's shared anonymous pages live only in the page table and cannot appear at two
//! addresses. With MREMAP_DONTUNMAP, Linux clears the lock bits of the whole old VMA; tidemark
//! clears them on the old range only (the same thing when the range is the whole VMA, the usual
//! case), so that `locked_vm` stays exact.
use super::addr::{is_page_aligned, PAGE_SHIFT, PAGE_SIZE};
use super::error::MmError;
use super::mlock::VM_PFNMAP;
use super::mm_struct::{MmStruct, PageTableOps, TASK_SIZE};
use super::mmap::{do_munmap, do_vmi_align_munmap, get_unmapped_area, vma_merge};
use super::mprotect::vma_modify_flags;
use super::populate::PopulateRange;
use super::vma::{
    VmFlags, Vma, MAP_FIXED, MAP_SHARED, VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED, VM_LOCKED_MASK,
    VM_MAYSHARE, VM_SHARED,
};

pub const MREMAP_MAYMOVE: u32 = 1;
pub const MREMAP_FIXED: u32 = 2;
pub const MREMAP_DONTUNMAP: u32 = 4;

/// What a successful mremap returns: the (possibly new) address, and the range the caller must
/// populate after dropping the mmap lock (the grown part of a VM_LOCKED mapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MremapResult {
    pub addr: usize,
    pub populate: Option<PopulateRange>,
}

impl MremapResult {
    fn at(addr: usize) -> Self {
        MremapResult {
            addr,
            populate: None,
        }
    }
}

/// `PAGE_ALIGN` with Linux's wrap-around.
const fn page_align_wrapping(x: usize) -> usize {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// The VMA containing `addr` as `(start, end, flags)`.
fn vma_at<P: PageTableOps>(mm: &MmStruct<P>, addr: usize) -> Option<(usize, usize, VmFlags)> {
    mm.find_vma(addr)
        .filter(|v| v.start <= addr)
        .map(|v| (v.start, v.end, v.flags))
}

/// Checks that `[addr, addr + old_len)` may become `new_len` bytes (Linux `vma_to_resize`) and
/// returns the start of its VMA. EFAULT when the old range is not inside one VMA or the VMA may
/// not grow, EAGAIN for RLIMIT_MEMLOCK, ENOMEM for RLIMIT_AS/RLIMIT_DATA.
fn vma_to_resize<P: PageTableOps>(
    mm: &MmStruct<P>,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: u32,
) -> Result<usize, MmError> {
    let vma = mm
        .find_vma(addr)
        .filter(|v| v.start <= addr)
        .ok_or(MmError::Fault)?;
    if old_len == 0 {
        return Err(MmError::Invalid);
    }
    if flags & MREMAP_DONTUNMAP != 0
        && vma
            .flags
            .intersects(VM_DONTEXPAND | VM_PFNMAP | VM_SHARED | VM_MAYSHARE)
    {
        return Err(MmError::Invalid);
    }
    if old_len > vma.end - addr {
        return Err(MmError::Fault);
    }
    if new_len == old_len {
        return Ok(vma.start);
    }
    let pgoff = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT);
    if pgoff.checked_add(new_len >> PAGE_SHIFT).is_none() {
        return Err(MmError::Invalid);
    }
    if vma.flags.intersects(VM_DONTEXPAND | VM_PFNMAP) {
        return Err(MmError::Fault);
    }
    if !mm.mlock_future_ok(vma.flags, new_len - old_len) {
        return Err(MmError::Again);
    }
    if !mm.may_expand_vm(vma.flags, (new_len - old_len) >> PAGE_SHIFT) {
        return Err(MmError::NoMemory);
    }
    Ok(vma.start)
}

/// Whether the VMA `[vma_start, vma_end)` can grow by `delta` bytes where it is (Linux
/// `vma_expandable`): nothing mapped above it in the way and the result inside `TASK_SIZE`.
fn vma_expandable<P: PageTableOps>(
    mm: &MmStruct<P>,
    vma_start: usize,
    vma_end: usize,
    delta: usize,
) -> bool {
    let Some(end) = vma_end.checked_add(delta) else {
        return false;
    };
    mm.find_vma_intersection(vma_end, end).is_none()
        && get_unmapped_area(mm, vma_start, end - vma_start, MAP_FIXED).is_ok()
}

/// Moves `[old_addr, old_addr + old_len)` of the VMA starting at `vma_start` to a new VMA of
/// `new_len` bytes at `new_addr` (free, page-aligned) (Linux `move_vma`). The page tables move
/// first and all-or-nothing, so a failure leaves everything as it was; then the new VMA is
/// linked (merging with compatible neighbours) and the old range unmapped, unless
/// MREMAP_DONTUNMAP keeps it as an empty, unlocked mapping.
fn move_vma<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    old_addr: usize,
    old_len: usize,
    new_len: usize,
    new_addr: usize,
    flags: u32,
) -> Result<MremapResult, MmError> {
    if mm.map_count() >= mm.max_map_count.saturating_sub(3) {
        return Err(MmError::NoMemory);
    }
    let vma = mm.tree.get(vma_start).expect("move_vma: no VMA");
    let (vm_flags, file, anon_vma) = (vma.flags, vma.file.clone(), vma.anon_vma);
    let new_pgoff = vma.pgoff + ((old_addr - vma.start) >> PAGE_SHIFT);
    let to_account = if flags & MREMAP_DONTUNMAP != 0 {
        new_len
    } else {
        new_len - old_len
    };
    if vm_flags.contains(VM_ACCOUNT) {
        mm.vm_enough_memory(to_account >> PAGE_SHIFT)?;
    }
    mm.pt.move_range(old_addr, new_addr, old_len)?;
    // copy_vma: the new VMA keeps the old page offset and anon_vma, so it merges only where Linux
    // would.
    mm.link_vma(Vma {
        start: new_addr,
        end: new_addr + new_len,
        flags: vm_flags,
        pgoff: new_pgoff,
        file,
        anon_vma,
    });
    vma_merge(mm, new_addr);
    if flags & MREMAP_DONTUNMAP != 0 {
        if vm_flags.intersects(VM_LOCKED_MASK) {
            let vs = mm
                .find_vma(old_addr)
                .expect("move_vma: old VMA vanished")
                .start;
            // Cannot hit max_map_count: the check above left room for two splits.
            let _ = vma_modify_flags(
                mm,
                vs,
                old_addr,
                old_addr + old_len,
                vm_flags & !VM_LOCKED_MASK,
            );
        }
        mm.debug_validate();
        return Ok(MremapResult::at(new_addr));
    }
    // The old range's page tables are empty now, so this only changes the tree; the map-count
    // check above leaves room for its split.
    let _ = do_vmi_align_munmap(mm, old_addr, old_addr + old_len);
    mm.debug_validate();
    let grown = vm_flags.contains(VM_LOCKED) && new_len > old_len;
    Ok(MremapResult {
        addr: new_addr,
        populate: grown.then(|| mm.populate_range(new_addr + old_len, new_len - old_len)),
    })
}

/// MREMAP_FIXED and MREMAP_DONTUNMAP (Linux `mremap_to`): the destination is `new_addr` (with
/// MREMAP_FIXED, replacing whatever is mapped there) or a hint.
fn mremap_to<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    old_len: usize,
    new_addr: usize,
    new_len: usize,
    flags: u32,
) -> Result<MremapResult, MmError> {
    if !is_page_aligned(new_addr) || new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len {
        return Err(MmError::Invalid);
    }
    if addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
        return Err(MmError::Invalid);
    }
    if mm.map_count() + 2 >= mm.max_map_count.saturating_sub(3) {
        return Err(MmError::NoMemory);
    }
    if flags & MREMAP_FIXED != 0 {
        do_munmap(mm, new_addr, new_len)?;
    }
    let mut old_len = old_len;
    if old_len > new_len {
        do_munmap(mm, addr + new_len, old_len - new_len)?;
        old_len = new_len;
    }
    let vma_start = vma_to_resize(mm, addr, old_len, new_len, flags)?;
    let vm_flags = mm.tree.get(vma_start).expect("vma_to_resize lied").flags;
    if flags & MREMAP_DONTUNMAP != 0 && !mm.may_expand_vm(vm_flags, old_len >> PAGE_SHIFT) {
        return Err(MmError::NoMemory);
    }
    let mut map_flags = 0;
    if flags & MREMAP_FIXED != 0 {
        map_flags |= MAP_FIXED;
    }
    if vm_flags.contains(VM_MAYSHARE) {
        map_flags |= MAP_SHARED;
    }
    let got = get_unmapped_area(mm, new_addr, new_len, map_flags)?;
    let new_addr = if flags & MREMAP_FIXED != 0 {
        new_addr
    } else {
        got
    };
    move_vma(mm, vma_start, addr, old_len, new_len, new_addr, flags)
}

/// mremap(2) (Linux 6.x `SYSCALL_DEFINE5(mremap)`). Called with the mmap lock held for writing;
/// the caller populates the returned range (if any) after dropping it.
///
/// Errors: EINVAL for unknown flags, MREMAP_FIXED without MREMAP_MAYMOVE, MREMAP_DONTUNMAP
/// without MREMAP_MAYMOVE or with a size change (or on a shared mapping), an unaligned `addr`
/// or `new_addr`, a zero `new_len` (or `old_len`, see the module docs), overlapping old and new
/// ranges; EFAULT when `addr` is not mapped or the old range leaves its VMA; EAGAIN for
/// RLIMIT_MEMLOCK; ENOMEM for other limits, or when the mapping cannot grow in place and
/// MREMAP_MAYMOVE was not given.
///
/// Shrinking always works in place (the tail is unmapped, even across VMAs, as in Linux). Growth
/// is in place when the old range ends its VMA and the space above is free; otherwise, with
/// MREMAP_MAYMOVE, the mapping moves to a new area with its contents.
pub fn do_mremap<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: u32,
    new_addr: usize,
) -> Result<MremapResult, MmError> {
    if flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
        return Err(MmError::Invalid);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        return Err(MmError::Invalid);
    }
    if flags & MREMAP_DONTUNMAP != 0 && (flags & MREMAP_MAYMOVE == 0 || old_len != new_len) {
        return Err(MmError::Invalid);
    }
    if !is_page_aligned(addr) {
        return Err(MmError::Invalid);
    }
    let old_len = page_align_wrapping(old_len);
    let new_len = page_align_wrapping(new_len);
    if new_len == 0 {
        return Err(MmError::Invalid);
    }
    if vma_at(mm, addr).is_none() {
        return Err(MmError::Fault);
    }
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        return mremap_to(mm, addr, old_len, new_addr, new_len, flags);
    }
    if old_len >= new_len {
        if old_len != new_len {
            let tail = addr.checked_add(new_len).ok_or(MmError::Invalid)?;
            do_munmap(mm, tail, old_len - new_len)?;
        }
        return Ok(MremapResult::at(addr));
    }
    let vma_start = vma_to_resize(mm, addr, old_len, new_len, flags)?;
    let (vs, ve, vm_flags) = vma_at(mm, vma_start).expect("vma_to_resize lied");
    let delta = new_len - old_len;
    if old_len == ve - addr && vma_expandable(mm, vs, ve, delta) {
        let pages = delta >> PAGE_SHIFT;
        if vm_flags.contains(VM_ACCOUNT) {
            mm.vm_enough_memory(pages)?;
        }
        mm.tree.get_mut(vs).expect("VMA vanished").end = ve + delta;
        mm.vm_stat_account(vm_flags, pages as isize);
        if vm_flags.contains(VM_LOCKED) {
            mm.stat.locked_vm += pages;
        }
        // vma_merge_extend: the grown VMA may now touch a compatible next VMA (never the
        // previous one, which it did not merge with before).
        let vma = mm.tree.get(vs).expect("VMA vanished");
        if mm.tree.get(vma.end).is_some_and(|n| vma.can_join_next(n)) {
            let next = mm.tree.remove(ve + delta).expect("next vanished");
            let vma = mm.tree.get_mut(vs).expect("VMA vanished");
            vma.end = next.end;
            vma.anon_vma = vma.anon_vma.or(next.anon_vma);
        }
        mm.debug_validate();
        return Ok(MremapResult {
            addr,
            populate: vm_flags
                .contains(VM_LOCKED)
                .then(|| mm.populate_range(addr + old_len, delta)),
        });
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(MmError::NoMemory);
    }
    let map_flags = if vm_flags.contains(VM_MAYSHARE) {
        MAP_SHARED
    } else {
        0
    };
    let new_addr = get_unmapped_area(mm, 0, new_len, map_flags)?;
    move_vma(mm, vs, addr, old_len, new_len, new_addr, flags)
}
