//! Changing the flags of a range: mprotect(2) (Linux 6.x `do_mprotect_pkey`, `mprotect_fixup`) and the
//! split/merge primitive it shares with mlock (`vma_modify_flags`).
use super::addr::{is_page_aligned, page_align_up, PAGE_SHIFT};
use super::error::MmError;
use super::mm_struct::{MmStruct, PageTableOps};
use super::mmap::{__split_vma, vma_merge};
use super::vma::*;

/// Sets `newflags` on `[start, end)`, which must lie inside the VMA starting at `vma_start`: splits
/// off the parts outside the range, updates the page tables and counters, then merges with the
/// neighbours (the outcome of Linux `vma_modify_flags`/`vma_merge` + `split_vma`). Refused with
/// ENOMEM only when the result needs more VMAs than `max_map_count` allows.
pub fn vma_modify_flags<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    start: usize,
    end: usize,
    newflags: VmFlags,
) -> Result<(), MmError> {
    let vma = mm.tree.get(vma_start).expect("vma_modify_flags: no VMA");
    debug_assert!(vma.start <= start && start < end && end <= vma.end);
    let (vs, ve, oldflags) = (vma.start, vma.end, vma.flags);
    if newflags == oldflags {
        return Ok(());
    }
    let piece = Vma {
        start,
        end,
        flags: newflags,
        pgoff: vma.pgoff + ((start - vs) >> PAGE_SHIFT),
        file: vma.file.clone(),
        anon_vma: vma.anon_vma,
    };
    // Linux's vma_merge succeeds without splitting when the range reaches a compatible neighbour;
    // otherwise each split_vma needs room under max_map_count.
    let merges_prev = start == vs
        && mm
            .tree
            .vma_ending_at(vs)
            .is_some_and(|p| piece.can_join_prev(p));
    let merges_next = end == ve && mm.tree.get(ve).is_some_and(|n| piece.can_join_next(n));
    let splits = usize::from(start != vs) + usize::from(end != ve);
    if !merges_prev && !merges_next && mm.map_count() + splits > mm.max_map_count {
        return Err(MmError::NoMemory);
    }
    if (oldflags.bits() ^ newflags.bits()) & (VM_ACCESS_FLAGS | VM_ARM64_BTI).bits() != 0 {
        mm.pt.protect_range(start, end, newflags)?;
    }
    if start != vs {
        __split_vma(mm, vs, start);
    }
    if end != ve {
        __split_vma(mm, start, end);
    }
    let n = (end - start) >> PAGE_SHIFT;
    mm.vm_stat_account(oldflags, -(n as isize));
    mm.vm_stat_account(newflags, n as isize);
    match (oldflags.contains(VM_LOCKED), newflags.contains(VM_LOCKED)) {
        (true, false) => mm.stat.locked_vm -= n,
        (false, true) => mm.stat.locked_vm += n,
        _ => {}
    }
    mm.tree.get_mut(start).expect("split piece vanished").flags = newflags;
    vma_merge(mm, start);
    mm.debug_validate();
    Ok(())
}

/// One VMA's part of mprotect (Linux `mprotect_fixup`): RLIMIT_DATA and overcommit checks when the
/// range becomes writable private data (which also makes it VM_ACCOUNT, never cleared again),
/// then the flag change, then pre-faulting of a locked range that just became writable.
fn mprotect_fixup<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    start: usize,
    end: usize,
    newflags: VmFlags,
) -> Result<(), MmError> {
    let oldflags = mm
        .tree
        .get(vma_start)
        .expect("mprotect_fixup: no VMA")
        .flags;
    if newflags == oldflags {
        return Ok(());
    }
    let n = (end - start) >> PAGE_SHIFT;
    let mut newflags = newflags;
    if newflags.contains(VM_WRITE) {
        if !mm.may_expand_vm(newflags, n) && mm.may_expand_vm(oldflags, n) {
            return Err(MmError::NoMemory);
        }
        if !oldflags.intersects(VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE) {
            mm.vm_enough_memory(n)?;
            newflags |= VM_ACCOUNT;
        }
    }
    vma_modify_flags(mm, vma_start, start, end, newflags)?;
    if oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED) == VM_LOCKED
        && newflags.contains(VM_WRITE)
        && !newflags.contains(VM_LOCKONFAULT)
    {
        let _ = crate::populate::populate_in_vma(mm, start, end, newflags);
    }
    Ok(())
}

/// mprotect(2) (Linux `do_mprotect_pkey` without pkeys). As in Linux the change is applied VMA by
/// VMA, so an error part-way (a hole: ENOMEM, a missing VM_MAY* bit: EACCES) leaves the VMAs before
/// it changed.
pub fn do_mprotect<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len: usize,
    prot: u32,
) -> Result<(), MmError> {
    let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    let prot = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
    if grows == PROT_GROWSDOWN | PROT_GROWSUP || !is_page_aligned(start) {
        return Err(MmError::Invalid);
    }
    if len == 0 {
        return Ok(());
    }
    let end = page_align_up(len)
        .and_then(|l| start.checked_add(l))
        .ok_or(MmError::NoMemory)?;
    // arm64_validate_prot: BTI is supported, MTE is not.
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_BTI) != 0 {
        return Err(MmError::Invalid);
    }
    let vma = mm
        .find_vma_intersection(start, end)
        .ok_or(MmError::NoMemory)?;
    let mut start = start;
    if grows & PROT_GROWSDOWN != 0 {
        start = vma.start;
        if !vma.flags.contains(VM_GROWSDOWN) {
            return Err(MmError::Invalid);
        }
    } else {
        if vma.start > start {
            return Err(MmError::NoMemory);
        }
        if grows & PROT_GROWSUP != 0 {
            return Err(MmError::Invalid);
        }
    }
    let mut cursor = start;
    while cursor < end {
        let Some(vma) = mm.find_vma_intersection(cursor, end) else {
            break;
        };
        if vma.start > cursor {
            return Err(MmError::NoMemory);
        }
        let keep = vma.flags & !(VM_ACCESS_FLAGS | VM_FLAGS_CLEAR);
        let newflags = calc_vm_prot_bits(prot) | keep;
        // VM_MAY* sit four bits above the VM_* they allow.
        if newflags.bits() & !(newflags.bits() >> 4) & VM_ACCESS_FLAGS.bits() != 0 {
            return Err(MmError::Access);
        }
        let (vs, chunk_end) = (vma.start, vma.end.min(end));
        mprotect_fixup(mm, vs, cursor, chunk_end, newflags)?;
        cursor = chunk_end;
    }
    if cursor < end {
        return Err(MmError::NoMemory);
    }
    Ok(())
}
