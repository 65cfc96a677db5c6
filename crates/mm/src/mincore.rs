//! mincore(2): which pages of a range are resident (Linux 6.x `mm/mincore.c`).
//!
//! Linux works in chunks: `sys_mincore` validates the range, then calls `do_mincore` for up to a
//! page's worth of entries at a time under the mmap read lock, each call stopping at the end of
//! a VMA, and copies each chunk to user space before the next. [`mincore_check`] and
//! [`do_mincore`] are those two steps, for a syscall layer that copies as it goes;
//! [`mincore_range`] runs the whole loop into one kernel buffer.
use super::addr::{is_page_aligned, PAGE_SHIFT, PAGE_SIZE};
use super::error::MmError;
use super::mm_struct::{MmStruct, PageTableOps, TASK_SIZE};

/// Validates a mincore(2) request and returns the number of entries the caller's vector needs
/// (`len` rounded up to pages): EINVAL for an unaligned `start`, ENOMEM for a range reaching
/// beyond `TASK_SIZE` (`access_ok`). A zero `len` needs no entries and succeeds.
pub fn mincore_check(start: usize, len: usize) -> Result<usize, MmError> {
    if !is_page_aligned(start) {
        return Err(MmError::Invalid);
    }
    if start > TASK_SIZE || len > TASK_SIZE - start {
        return Err(MmError::NoMemory);
    }
    Ok((len >> PAGE_SHIFT) + usize::from(len & (PAGE_SIZE - 1) != 0))
}

/// Fills `out` (at most `out.len()` entries) with the residency of the pages from the aligned
/// `addr`, stopping at the end of the VMA that contains `addr`, and returns how many entries it
/// wrote (Linux `do_mincore`). ENOMEM when `addr` is not in a VMA. Called with the mmap lock
/// held (read side suffices).
pub fn do_mincore<P: PageTableOps>(
    mm: &MmStruct<P>,
    addr: usize,
    out: &mut [u8],
) -> Result<usize, MmError> {
    let vma = mm
        .find_vma(addr)
        .filter(|v| v.start <= addr)
        .ok_or(MmError::NoMemory)?;
    let want_end = addr.saturating_add(out.len().saturating_mul(PAGE_SIZE));
    let end = vma.end.min(want_end);
    let pages = (end - addr) >> PAGE_SHIFT;
    mm.pt.mincore(addr, end, &mut out[..pages])?;
    // A mapping of an object also counts the object's pages this process has not touched, as
    // Linux's `mincore_page` looks in the page cache.
    if let Some(b) = vma.backing() {
        let first = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT);
        for (i, o) in out[..pages].iter_mut().enumerate() {
            if *o == 0 && b.0.has_page(first + i) {
                *o = 1;
            }
        }
    }
    Ok(pages)
}

/// The whole of mincore(2) into a kernel buffer: validates like [`mincore_check`], then fills
/// `out[..pages]` VMA by VMA. On ENOMEM for a hole the entries before the hole are filled and
/// the number of them is returned in the error's place: `Err((filled, err))`; Linux has copied
/// exactly those to user space before failing. `out` shorter than the range needs is EFAULT
/// (Linux checks the user vector with `access_ok`).
pub fn mincore_range<P: PageTableOps>(
    mm: &MmStruct<P>,
    start: usize,
    len: usize,
    out: &mut [u8],
) -> Result<(), (usize, MmError)> {
    let pages = mincore_check(start, len).map_err(|e| (0, e))?;
    if out.len() < pages {
        return Err((0, MmError::Fault));
    }
    let mut done = 0;
    while done < pages {
        let n = do_mincore(mm, start + done * PAGE_SIZE, &mut out[done..pages])
            .map_err(|e| (done, e))?;
        done += n;
    }
    Ok(())
}
