//! madvise(2) for anonymous memory (Linux 6.x `mm/madvise.c`).
//!
//! Only the advice with a visible effect on tidemark does anything: MADV_DONTNEED (and
//! MADV_DONTNEED_LOCKED) drop the pages of private memory, so that later reads see zeros and the
//! frames go back to the allocator; the VMAs are not touched. MADV_FREE is treated as
//! MADV_DONTNEED: Linux frees the pages lazily, only under memory pressure, and keeps them if they
//! are written again before that; dropping them at once is one of the outcomes Linux allows, and
//! the one a program must be ready for. MADV_HUGEPAGE and MADV_NOHUGEPAGE mark the VMAs for
//! transparent huge pages ([`crate::thp`]), MADV_DONTDUMP and MADV_DODUMP for core dumps
//! (`VM_DONTDUMP`). The other hints (MADV_NORMAL, RANDOM, SEQUENTIAL,
//! WILLNEED, DONTFORK, DOFORK) are accepted and ignored: tidemark has no readahead and no
//! fork-time page sharing. Any other advice is EINVAL.
use super::addr::{is_page_aligned, PAGE_SIZE};
use super::error::MmError;
use super::mlock::VM_PFNMAP;
use super::mm_struct::{MmStruct, PageTableOps};
use super::mprotect::vma_modify_flags;
use super::thp::{VM_HUGEPAGE, VM_NOHUGEPAGE};
use super::vma::{VmFlags, VM_DONTDUMP, VM_DONTEXPAND, VM_LOCKED, VM_SHARED};

/// `VM_SPECIAL`: mappings MADV_DODUMP refuses (tidemark has `VM_DONTEXPAND` and `VM_PFNMAP` of
/// Linux's four).
const VM_SPECIAL: VmFlags = VmFlags::from_bits(VM_DONTEXPAND.bits() | VM_PFNMAP.bits());

pub const MADV_NORMAL: i32 = 0;
pub const MADV_RANDOM: i32 = 1;
pub const MADV_SEQUENTIAL: i32 = 2;
pub const MADV_WILLNEED: i32 = 3;
pub const MADV_DONTNEED: i32 = 4;
pub const MADV_FREE: i32 = 8;
pub const MADV_DONTFORK: i32 = 10;
pub const MADV_DOFORK: i32 = 11;
pub const MADV_HUGEPAGE: i32 = 14;
pub const MADV_NOHUGEPAGE: i32 = 15;
pub const MADV_DONTDUMP: i32 = 16;
pub const MADV_DODUMP: i32 = 17;
pub const MADV_DONTNEED_LOCKED: i32 = 24;

/// Whether tidemark knows `advice` (Linux `madvise_behavior_valid`, restricted to the advice
/// tidemark implements).
pub const fn madvise_behavior_valid(advice: i32) -> bool {
    matches!(
        advice,
        MADV_NORMAL
            | MADV_RANDOM
            | MADV_SEQUENTIAL
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_FREE
            | MADV_DONTFORK
            | MADV_DOFORK
            | MADV_HUGEPAGE
            | MADV_NOHUGEPAGE
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_DONTNEED_LOCKED
    )
}

/// Applies `advice` to `[start, end)`, which lies inside one VMA with `flags`
/// (Linux `madvise_vma_behavior`).
fn madvise_vma_behavior<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    flags: VmFlags,
    start: usize,
    end: usize,
    advice: i32,
) -> Result<(), MmError> {
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_DONTNEED_LOCKED => {
            // madvise_dontneed_free_valid_vma: locked (unless DONTNEED_LOCKED) and PFN-mapped
            // VMAs refuse; MADV_FREE is for anonymous private memory only.
            let forbidden = if advice == MADV_DONTNEED_LOCKED {
                VM_PFNMAP
            } else {
                VM_LOCKED | VM_PFNMAP
            };
            if flags.intersects(forbidden) || (advice == MADV_FREE && flags.contains(VM_SHARED)) {
                return Err(MmError::Invalid);
            }
            if flags.contains(VM_SHARED) {
                // Linux zaps the PTEs but the data lives on in the shmem object and comes back
                // on the next fault; tidemark's shared anonymous pages live only in the page
                // table, so keeping them is what gives the same contents.
                return Ok(());
            }
            mm.pt.unmap_range(start, end)
        }
        MADV_DONTDUMP | MADV_DODUMP => {
            // `madvise_vma_behavior`: the VMA leaves core dumps, or comes back to them (not
            // a special mapping: EINVAL).
            let newflags = if advice == MADV_DONTDUMP {
                VmFlags::from_bits(flags.bits() | VM_DONTDUMP.bits())
            } else {
                if flags.intersects(VM_SPECIAL) {
                    return Err(MmError::Invalid);
                }
                VmFlags::from_bits(flags.bits() & !VM_DONTDUMP.bits())
            };
            let vma_start = mm.find_vma(start).map_or(start, |v| v.start);
            vma_modify_flags(mm, vma_start, start, end, newflags)
        }
        MADV_HUGEPAGE | MADV_NOHUGEPAGE => {
            // `hugepage_madvise`: the VMA's advice for transparent huge pages, one flag set and
            // the other cleared; blocks already mapped stay.
            let (set, clear) = if advice == MADV_HUGEPAGE {
                (VM_HUGEPAGE, VM_NOHUGEPAGE)
            } else {
                (VM_NOHUGEPAGE, VM_HUGEPAGE)
            };
            let newflags = VmFlags::from_bits((flags.bits() | set.bits()) & !clear.bits());
            let vma_start = mm.find_vma(start).map_or(start, |v| v.start);
            vma_modify_flags(mm, vma_start, start, end, newflags)
        }
        _ => Ok(()),
    }
}

/// madvise(2) (Linux `do_madvise`). EINVAL for unknown advice, an unaligned `start`, or a length
/// that wraps; a zero length succeeds. The advice is applied VMA by VMA; holes are skipped and
/// reported as ENOMEM at the end (unlike mlock, which stops at the hole), and an error from one
/// VMA (EINVAL for MADV_DONTNEED on a locked VMA) stops there, leaving the VMAs before it
/// advised. Called with the mmap lock held.
pub fn do_madvise<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    start: usize,
    len_in: usize,
    advice: i32,
) -> Result<(), MmError> {
    if !madvise_behavior_valid(advice) || !is_page_aligned(start) {
        return Err(MmError::Invalid);
    }
    let len = len_in.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    if len_in != 0 && len == 0 {
        return Err(MmError::Invalid);
    }
    let end = start.wrapping_add(len);
    if end < start {
        return Err(MmError::Invalid);
    }
    if end == start {
        return Ok(());
    }
    // madvise_walk_vmas.
    let mut unmapped_error = false;
    let mut cursor = start;
    loop {
        let Some(vma) = mm.find_vma(cursor) else {
            return Err(MmError::NoMemory);
        };
        if cursor < vma.start {
            unmapped_error = true;
            cursor = vma.start;
            if cursor >= end {
                break;
            }
        }
        let (flags, tmp) = (vma.flags, vma.end.min(end));
        madvise_vma_behavior(mm, flags, cursor, tmp, advice)?;
        cursor = tmp;
        if cursor >= end {
            break;
        }
    }
    if unmapped_error {
        Err(MmError::NoMemory)
    } else {
        Ok(())
    }
}
