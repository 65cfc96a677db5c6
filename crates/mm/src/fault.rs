//! The portable half of a user page fault: which VMA serves the address, whether the access is
//! allowed, and stack growth (Linux `lock_mm_and_find_vma`, `expand_downwards`, `acct_stack_growth`
//! and the VMA checks of arm64 `do_page_fault`). The arch handler decodes ESR, asks
//! [`find_vma_for_fault`], then maps a page or raises SIGSEGV with the returned `si_code`.
use super::addr::{page_align_down, PAGE_SHIFT};
use super::anon_vma::fault_makes_anon_pages;
use super::error::MmError;
use super::mm_struct::{MmStruct, PageTableOps, MMAP_MIN_ADDR};
use super::vma::{VmFlags, Vma, VM_EXEC, VM_GROWSDOWN, VM_LOCKED, VM_READ, VM_WRITE};
use super::vma_tree::STACK_GUARD_GAP;

/// The kind of access that faulted, as decoded from ESR_EL1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAccess {
    Read,
    Write,
    /// Instruction abort from EL0.
    Exec,
}

/// Why a fault becomes SIGSEGV; maps to `si_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No VMA (or the stack could not grow): `SEGV_MAPERR`.
    MapErr,
    /// The VMA forbids this access: `SEGV_ACCERR`.
    AccErr,
    /// A mapping of a file past its end: `SIGBUS` with `BUS_ADRERR`.
    Bus,
}

impl FaultError {
    /// Linux `si_code` values (`SEGV_MAPERR`, `SEGV_ACCERR`, `BUS_ADRERR`).
    pub const fn si_code(self) -> i32 {
        match self {
            FaultError::MapErr => 1,
            FaultError::AccErr => 2,
            FaultError::Bus => 2,
        }
    }

    /// The signal the fault raises: `SIGBUS` (7) past a file's end, else `SIGSEGV` (11).
    pub const fn signal(self) -> u32 {
        match self {
            FaultError::Bus => 7,
            _ => 11,
        }
    }
}

/// The VMA flags a fault of `access` needs at least one of (arm64 `do_page_fault`): writes need
/// VM_WRITE, instruction fetches VM_EXEC; reads are allowed by READ or WRITE, and by EXEC too on
/// CPUs without EPAN, where execute-only memory is readable.
pub const fn required_flags(access: FaultAccess, cpu_has_epan: bool) -> VmFlags {
    match access {
        FaultAccess::Write => VM_WRITE,
        FaultAccess::Exec => VM_EXEC,
        FaultAccess::Read if cpu_has_epan => VM_READ.union(VM_WRITE),
        FaultAccess::Read => VM_READ.union(VM_WRITE).union(VM_EXEC),
    }
}

/// Finds the VMA for a fault at `addr`, growing a VM_GROWSDOWN VMA down to it if needed, and checks
/// the access. Returns the VMA's flags, which is all the arch handler needs to map the page (no
/// copy of the VMA on the fault path).
#[inline]
pub fn find_vma_for_fault<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    access: FaultAccess,
    cpu_has_epan: bool,
) -> Result<VmFlags, FaultError> {
    let thp_disabled = mm.thp_disabled;
    let (flags, first_anon) = match mm.tree.find_vma_hinted(addr) {
        Some(v) if v.start <= addr => (v.flags, first_anon_page(v, thp_disabled, access, addr)),
        _ => return find_vma_for_fault_grow(mm, addr, access, cpu_has_epan),
    };
    if !flags.intersects(required_flags(access, cpu_has_epan)) {
        return Err(FaultError::AccErr);
    }
    if first_anon {
        mm.anon_vma_prepare_at(addr);
    }
    Ok(flags)
}

/// Whether a fault of `access` at `addr` makes the first anonymous page of `vma`, which then
/// needs its anon_vma ([`crate::anon_vma`]).
fn first_anon_page(vma: &Vma, thp_disabled: bool, access: FaultAccess, addr: usize) -> bool {
    vma.anon_vma.is_none()
        && fault_makes_anon_pages(vma.flags, thp_disabled, access, (vma.start, vma.end), addr)
}

/// What a core remembers of the last VMA a fault under the shared mmap lock found (Linux's
/// per-thread `vmacache` of 3.15–5.18, with its sequence number): its bounds and flags, valid
/// while the tree's change count is the one they were read at. Faults that share the lock cannot
/// move the tree's own hint, which needs it exclusively; this one belongs to the caller.
///
/// It describes one address space: whoever keeps one must forget it when the address space it
/// was filled from is no longer the one it asks about (the kernel keeps one per core and resets
/// it when the core switches address spaces).
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultHint {
    /// The tree's change count when this was filled; 0: empty (a tree counts from 1).
    seq: u64,
    start: usize,
    end: usize,
    flags: VmFlags,
    /// Whether the VMA had an anon_vma (or was given one since).
    anon_vma: bool,
}

impl FaultHint {
    pub const EMPTY: FaultHint = FaultHint {
        seq: 0,
        start: 0,
        end: 0,
        flags: VmFlags::empty(),
        anon_vma: false,
    };

    /// The bounds of the VMA the last lookup found.
    pub fn bounds(&self) -> (usize, usize) {
        (self.start, self.end)
    }
}

/// [`find_vma_for_fault`] for a fault that holds the mmap lock shared: the VMA's flags, from
/// `hint` when it is still good. `None` when the caller must go the exclusive way: no VMA
/// contains `addr` (growing a stack changes the tree), or the fault makes the VMA's first
/// anonymous page (which gives it an anon_vma, [`crate::anon_vma`]).
#[inline]
pub fn find_vma_for_fault_shared<P: PageTableOps>(
    mm: &MmStruct<P>,
    addr: usize,
    access: FaultAccess,
    cpu_has_epan: bool,
    hint: &mut FaultHint,
) -> Option<Result<VmFlags, FaultError>> {
    let seq = mm.tree.seq();
    let flags = if hint.seq == seq && hint.start <= addr && addr < hint.end {
        hint.flags
    } else {
        let v = mm.tree.find_vma(addr).filter(|v| v.start <= addr)?;
        *hint = FaultHint {
            seq,
            start: v.start,
            end: v.end,
            flags: v.flags,
            anon_vma: v.anon_vma.is_some(),
        };
        v.flags
    };
    if !flags.intersects(required_flags(access, cpu_has_epan)) {
        return Some(Err(FaultError::AccErr));
    }
    // The VMA's first anonymous page needs its anon_vma set, which takes the exclusive way; the
    // hint may also predate its setting.
    if !hint.anon_vma && fault_makes_anon_pages(flags, mm.thp_disabled, access, hint.bounds(), addr)
    {
        hint.anon_vma = mm.tree.find_vma(addr)?.anon_vma.is_some();
        if !hint.anon_vma {
            return None;
        }
    }
    Some(Ok(flags))
}

/// [`find_vma_for_fault`] when no VMA contains `addr`: a stack below it may grow down to it.
#[inline(never)]
fn find_vma_for_fault_grow<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    addr: usize,
    access: FaultAccess,
    cpu_has_epan: bool,
) -> Result<VmFlags, FaultError> {
    let vma = mm.tree.find_vma_hinted(addr).ok_or(FaultError::MapErr)?;
    let (start, flags) = (vma.start, vma.flags);
    if start > addr {
        if !flags.contains(VM_GROWSDOWN) {
            return Err(FaultError::MapErr);
        }
        expand_downwards(mm, start, addr).map_err(|_| FaultError::MapErr)?;
    }
    let vma = mm.find_vma(addr).ok_or(FaultError::MapErr)?;
    let (flags, first_anon) = (
        vma.flags,
        first_anon_page(vma, mm.thp_disabled, access, addr),
    );
    if !flags.intersects(required_flags(access, cpu_has_epan)) {
        return Err(FaultError::AccErr);
    }
    if first_anon {
        mm.anon_vma_prepare_at(addr);
    }
    Ok(flags)
}

/// Limits on growing a stack by `grow` pages to `size` bytes (Linux `acct_stack_growth`).
fn acct_stack_growth<P: PageTableOps>(
    mm: &MmStruct<P>,
    flags: VmFlags,
    size: usize,
    grow: usize,
) -> Result<(), MmError> {
    if !mm.may_expand_vm(flags, grow) || size > mm.rlimits.stack.cur {
        return Err(MmError::NoMemory);
    }
    if !mm.mlock_future_ok(flags, grow << PAGE_SHIFT) {
        return Err(MmError::NoMemory);
    }
    mm.vm_enough_memory(grow)
}

/// Grows the VM_GROWSDOWN VMA starting at `vma_start` down to the page of `address` (Linux
/// `expand_downwards`): refused below `mmap_min_addr`, within `stack_guard_gap` of an accessible
/// non-stack VMA below, past RLIMIT_STACK/RLIMIT_AS, or over RLIMIT_MEMLOCK when locked.
pub fn expand_downwards<P: PageTableOps>(
    mm: &mut MmStruct<P>,
    vma_start: usize,
    address: usize,
) -> Result<(), MmError> {
    let vma = mm.tree.get(vma_start).ok_or(MmError::Fault)?;
    if !vma.flags.contains(VM_GROWSDOWN) {
        return Err(MmError::Fault);
    }
    let (flags, end, pgoff) = (vma.flags, vma.end, vma.pgoff);
    let address = page_align_down(address);
    if address < MMAP_MIN_ADDR {
        return Err(MmError::Permission);
    }
    if let Some(prev) = mm.tree.prev_vma(vma_start) {
        if address < prev.end {
            return Err(MmError::NoMemory);
        }
        if !prev.flags.contains(VM_GROWSDOWN)
            && prev.flags.is_accessible()
            && address - prev.end < STACK_GUARD_GAP
        {
            return Err(MmError::NoMemory);
        }
    }
    if address >= vma_start {
        return Ok(());
    }
    let size = end - address;
    let grow = (vma_start - address) >> PAGE_SHIFT;
    if grow > pgoff {
        return Err(MmError::NoMemory);
    }
    acct_stack_growth(mm, flags, size, grow)?;
    let mut vma = mm.tree.remove(vma_start).expect("stack VMA vanished");
    vma.start = address;
    vma.pgoff -= grow;
    mm.tree.insert(vma);
    if flags.contains(VM_LOCKED) {
        mm.stat.locked_vm += grow;
    }
    mm.vm_stat_account(flags, grow as isize);
    mm.debug_validate();
    Ok(())
}
