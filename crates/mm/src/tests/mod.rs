//! Host tests of the portable mm core: a fake page table that tracks which pages are present, a
//! loader-like address-space setup, and helpers that act like the arch fault handler.
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::addr::{page_align_down, PAGE_SIZE};
use super::error::MmError;
use super::fault::{find_vma_for_fault, FaultAccess, FaultError};
use super::mm_struct::{MmStruct, PageTableOps};
use super::mmap::mmap_region;
use super::vma::*;

mod brk_tests;
mod mlock_tests;
mod mmap_tests;
mod mremap_tests;
mod prop_tests;

pub const P: usize = PAGE_SIZE;
/// Where the test loader puts the heap.
pub const B: usize = 0x50_0000;
pub const STACK_TOP: usize = 0x7fff_f000_0000;

/// A present page: either the shared zero page or a private frame holding one byte of "content".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Zero,
    Frame(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Unmap(usize, usize),
    Protect(usize, usize, VmFlags),
    Populate(usize, usize, VmFlags),
    Move(usize, usize, usize),
}

/// Simulated page tables: which pages are present, and every call made.
#[derive(Default)]
pub struct FakePt {
    pub pages: BTreeMap<usize, Page>,
    pub calls: Vec<Call>,
    pub fail_unmap: bool,
    pub fail_move: bool,
}

impl PageTableOps for FakePt {
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), MmError> {
        if self.fail_unmap {
            return Err(MmError::NoMemory);
        }
        self.calls.push(Call::Unmap(start, end));
        let doomed: Vec<usize> = self.pages.range(start..end).map(|(&a, _)| a).collect();
        for a in doomed {
            self.pages.remove(&a);
        }
        Ok(())
    }
    type UnmapReserve = ();
    fn prepare_unmap(&mut self, start: usize, end: usize) -> Result<Option<()>, MmError> {
        if self.fail_unmap {
            return Err(MmError::NoMemory);
        }
        Ok(self.pages.range(start..end).next().map(|_| ()))
    }
    fn unmap_prepared(&mut self, start: usize, end: usize, _reserve: ()) {
        self.unmap_range(start, end)
            .expect("unmap_prepared after a prepare_unmap that succeeded");
    }
    fn protect_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.calls.push(Call::Protect(start, end, flags));
        Ok(())
    }
    fn populate_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.calls.push(Call::Populate(start, end, flags));
        let writable = flags & (VM_WRITE | VM_SHARED) == VM_WRITE;
        for a in (start..end).step_by(PAGE_SIZE) {
            let e = self.pages.entry(a).or_insert(Page::Zero);
            if writable && *e == Page::Zero {
                *e = Page::Frame(0);
            }
        }
        Ok(())
    }
    fn move_range(
        &mut self,
        old_start: usize,
        new_start: usize,
        len: usize,
    ) -> Result<(), MmError> {
        if self.fail_move {
            return Err(MmError::NoMemory);
        }
        self.calls.push(Call::Move(old_start, new_start, len));
        let moved: Vec<(usize, Page)> = self
            .pages
            .range(old_start..old_start + len)
            .map(|(&a, &p)| (a, p))
            .collect();
        for (a, p) in moved {
            self.pages.remove(&a);
            self.pages.insert(a - old_start + new_start, p);
        }
        Ok(())
    }
    fn mincore(&self, start: usize, end: usize, out: &mut [u8]) -> Result<(), MmError> {
        for (i, a) in (start..end).step_by(PAGE_SIZE).enumerate() {
            out[i] = u8::from(self.pages.contains_key(&a));
        }
        Ok(())
    }
}

impl FakePt {
    /// Number of present private frames (the "RSS" of the fake).
    pub fn frames(&self) -> usize {
        self.pages
            .values()
            .filter(|p| matches!(p, Page::Frame(_)))
            .count()
    }
}

pub type Mm = MmStruct<FakePt>;

/// An empty address space with only the break set up.
pub fn bare_mm() -> Mm {
    let mut mm = MmStruct::new(FakePt::default());
    mm.start_brk = B;
    mm.brk = B;
    mm
}

/// A loader-like address space: program text and data (file-backed copies), an empty heap at `B`
/// (a page above the end of data) and a 32-page stack.
pub fn exec_mm() -> Mm {
    let mut mm = bare_mm();
    let prog: Arc<str> = Arc::from("/bin/prog");
    let may = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    mmap_region(
        &mut mm,
        0x40_0000,
        2 * P,
        VM_READ | VM_EXEC | may,
        0,
        Some(prog.clone()),
    )
    .unwrap();
    mmap_region(
        &mut mm,
        0x41_0000,
        2 * P,
        VM_READ | VM_WRITE | may,
        16,
        Some(prog),
    )
    .unwrap();
    mm.start_code = 0x40_0000;
    mm.end_code = 0x40_1800;
    mm.start_data = 0x41_0000;
    mm.end_data = 0x41_1800;
    let stack_lo = STACK_TOP - 32 * P;
    mmap_region(
        &mut mm,
        stack_lo,
        32 * P,
        VM_STACK_FLAGS,
        stack_lo >> 12,
        None,
    )
    .unwrap();
    mm.start_stack = STACK_TOP - 0x100;
    mm.pt.calls.clear();
    mm
}

/// What the arch fault handler would do for an access at `addr`.
pub fn fault(mm: &mut Mm, addr: usize, access: FaultAccess) -> Result<(), FaultError> {
    let flags = find_vma_for_fault(mm, addr, access, false)?;
    let page = page_align_down(addr);
    let writable_private = flags & (VM_WRITE | VM_SHARED) == VM_WRITE;
    let entry = mm.pt.pages.entry(page).or_insert(Page::Zero);
    if access == FaultAccess::Write && writable_private && *entry == Page::Zero {
        *entry = Page::Frame(0);
    }
    Ok(())
}

pub fn write_byte(mm: &mut Mm, addr: usize, v: u8) -> Result<(), FaultError> {
    fault(mm, addr, FaultAccess::Write)?;
    mm.pt.pages.insert(page_align_down(addr), Page::Frame(v));
    Ok(())
}

pub fn read_byte(mm: &mut Mm, addr: usize) -> Result<u8, FaultError> {
    fault(mm, addr, FaultAccess::Read)?;
    Ok(match mm.pt.pages[&page_align_down(addr)] {
        Page::Zero => 0,
        Page::Frame(v) => v,
    })
}

/// `(start, end, access flags)` of every VMA.
pub fn layout(mm: &Mm) -> Vec<(usize, usize, VmFlags)> {
    mm.vmas()
        .map(|v| (v.start, v.end, v.flags & VM_ACCESS_FLAGS))
        .collect()
}
