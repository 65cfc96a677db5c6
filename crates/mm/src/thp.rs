//! Transparent huge pages for anonymous memory (Linux's `mm/huge_memory.c` policy,
//! `hugepage_vma_check` and `transhuge_vma_suitable`): a write fault in a 2 MiB-aligned range
//! that lies wholly inside an eligible private anonymous VMA, and that nothing maps yet, maps a
//! zeroed 2 MiB block instead of a page. No free 2 MiB run means a page, never an error.
//! Partial munmap, mprotect, mlock, mremap and MADV_DONTNEED split a block into pages that keep
//! the data (the page-table driver splits any block an operation covers in part); fork copies a
//! block whole, so that neither side's write needs to copy it later; a read fault maps the 4 KiB
//! zero page, as before, after which that 2 MiB range stays in pages.
use core::sync::atomic::{AtomicU8, Ordering};

use super::fault::FaultAccess;
use super::pagetable::L2_BLOCK_SIZE;
use super::vma::{VmFlags, VM_BACKED, VM_MAYSHARE, VM_SHARED, VM_WRITE};

/// `VM_HUGEPAGE`: MADV_HUGEPAGE asked for huge pages here.
pub const VM_HUGEPAGE: VmFlags = VmFlags::from_bits(0x2000_0000);
/// `VM_NOHUGEPAGE`: MADV_NOHUGEPAGE refused them.
pub const VM_NOHUGEPAGE: VmFlags = VmFlags::from_bits(0x4000_0000);

/// `/sys/kernel/mm/transparent_hugepage/enabled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThpMode {
    /// Every eligible VMA not marked MADV_NOHUGEPAGE (Debian's default, and tidemark's).
    Always,
    /// Only VMAs marked MADV_HUGEPAGE.
    Madvise,
    Never,
}

static MODE: AtomicU8 = AtomicU8::new(0);

impl ThpMode {
    /// The mode the machine runs with (`transparent_hugepage=` on the command line).
    pub fn get() -> ThpMode {
        match MODE.load(Ordering::Relaxed) {
            0 => ThpMode::Always,
            1 => ThpMode::Madvise,
            _ => ThpMode::Never,
        }
    }

    pub fn set(self) {
        MODE.store(self as u8, Ordering::Relaxed);
    }

    /// The command line's word for it.
    pub fn parse(word: &str) -> Option<ThpMode> {
        match word {
            "always" => Some(ThpMode::Always),
            "madvise" => Some(ThpMode::Madvise),
            "never" => Some(ThpMode::Never),
            _ => None,
        }
    }

    /// The sysfs file's text: every mode, the one in force in brackets.
    pub fn sysfs_text(self) -> &'static str {
        match self {
            ThpMode::Always => "[always] madvise never\n",
            ThpMode::Madvise => "always [madvise] never\n",
            ThpMode::Never => "always madvise [never]\n",
        }
    }
}

/// Whether a VMA with `flags` may get huge pages (`hugepage_vma_check` for anonymous memory):
/// private, anonymous and writable, allowed by the machine's mode and the VMA's advice, in an
/// address space that did not disable them (`PR_SET_THP_DISABLE`).
pub fn hugepage_vma_check(flags: VmFlags, thp_disabled: bool) -> bool {
    hugepage_vma_check_in(ThpMode::get(), flags, thp_disabled)
}

/// [`hugepage_vma_check`] under `mode`.
pub fn hugepage_vma_check_in(mode: ThpMode, flags: VmFlags, thp_disabled: bool) -> bool {
    if thp_disabled
        || !flags.contains(VM_WRITE)
        || flags.intersects(
            VM_SHARED
                .union(VM_MAYSHARE)
                .union(VM_BACKED)
                .union(VM_NOHUGEPAGE),
        )
    {
        return false;
    }
    match mode {
        ThpMode::Always => true,
        ThpMode::Madvise => flags.contains(VM_HUGEPAGE),
        ThpMode::Never => false,
    }
}

/// The 2 MiB range a fault at `addr` may fill with a huge page: a write, in a VMA with `flags`
/// that [`hugepage_vma_check`] allows, whose bounds `vma` gives (asked only then), the range lying
/// wholly inside them.
pub fn huge_fault_range(
    access: FaultAccess,
    flags: VmFlags,
    thp_disabled: bool,
    addr: usize,
    vma: impl FnOnce() -> Option<(usize, usize)>,
) -> Option<usize> {
    if access != FaultAccess::Write || !hugepage_vma_check(flags, thp_disabled) {
        return None;
    }
    let (start, end) = vma()?;
    transhuge_vma_suitable(start, end, addr)
}

/// The 2 MiB range around `addr`, if it lies wholly inside `[start, end)`
/// (`transhuge_vma_suitable`).
pub fn transhuge_vma_suitable(start: usize, end: usize, addr: usize) -> Option<usize> {
    let base = addr & !(L2_BLOCK_SIZE - 1);
    (base >= start && base.checked_add(L2_BLOCK_SIZE)? <= end).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vma::{VM_READ, VM_WRITE};

    #[test]
    fn eligibility_follows_the_mode_the_advice_and_the_mapping() {
        let rw = VM_READ.union(VM_WRITE);
        let check = hugepage_vma_check_in;
        assert!(check(ThpMode::Always, rw, false));
        assert!(!check(ThpMode::Always, rw, true), "PR_SET_THP_DISABLE");
        assert!(!check(ThpMode::Always, rw.union(VM_NOHUGEPAGE), false));
        assert!(!check(
            ThpMode::Always,
            rw.union(VM_SHARED).union(VM_MAYSHARE),
            false
        ));
        assert!(
            !check(ThpMode::Always, VM_READ, false),
            "read-only memory stays in zero pages"
        );
        assert!(!check(ThpMode::Madvise, rw, false));
        assert!(check(ThpMode::Madvise, rw.union(VM_HUGEPAGE), false));
        assert!(!check(ThpMode::Never, rw.union(VM_HUGEPAGE), false));
        let m = L2_BLOCK_SIZE;
        assert_eq!(transhuge_vma_suitable(m, 3 * m, 2 * m + 5), Some(2 * m));
        assert_eq!(transhuge_vma_suitable(m + 4096, 3 * m, m + 8192), None);
        assert_eq!(transhuge_vma_suitable(m, 3 * m - 4096, 2 * m), None);
        assert_eq!(ThpMode::parse("madvise"), Some(ThpMode::Madvise));
        assert_eq!(ThpMode::Always.sysfs_text(), "[always] madvise never\n");
    }
}
