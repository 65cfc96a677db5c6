//! `VmSpace`: one process's TTBR0 translation table (with its anonymous pages) and its ASID.
//!
//! The table is tagged with the ASID the allocator gives it at activation; after a roll-over the
//! same address space may come back with another ASID, so the tag lives here and the table is
//! retagged on activation. Dropping an address space switches TTBR0 away from it if it is live,
//! invalidates its ASID and frees every table and frame it owns.
use super::addr::{PhysAddr, PAGE_SIZE};
use super::asid::{AsidAllocator, AsidTag};
use super::error::MmError;
use super::frame::KernelPhys;
use super::mm_struct::PageTableOps;
use super::pagetable::{PageTable, PtError};
use super::phys::PhysMem;
use super::user_pages::UserPages;
use super::vma::VmFlags;
use crate::arch::aarch64::mmu;
use crate::arch::aarch64::tlb::HwTlb;
use crate::mm::tlb::TlbFlush;

static ASIDS: spin::Once<crate::sync::Mutex<AsidAllocator>> = spin::Once::new();
static ZERO_PAGE: spin::Once<PhysAddr> = spin::Once::new();

fn asids() -> &'static crate::sync::Mutex<AsidAllocator> {
    ASIDS.call_once(|| {
        crate::sync::Mutex::new(AsidAllocator::new(
            mmu::asid_bits(),
            crate::arch::aarch64::MAX_CPUS,
        ))
    })
}

/// Allocates the shared zero page and the ASID allocator; called once at boot, before any
/// process exists, so that neither counts against the first program's memory.
pub fn init() -> Result<(), PtError> {
    asids();
    zero_page().map(|_| ())
}

/// The shared zero page (allocated on first use, never freed).
fn zero_page() -> Result<PhysAddr, PtError> {
    if let Some(&pa) = ZERO_PAGE.get() {
        return Ok(pa);
    }
    let pa = KernelPhys.alloc_frames(0).ok_or(PtError::NoMemory)?;
    // SAFETY: a fresh frame reached through the linear map.
    unsafe { core::ptr::write_bytes(KernelPhys.phys_to_virt(pa), 0, PAGE_SIZE) };
    Ok(*ZERO_PAGE.call_once(|| pa))
}

pub type KernelUserPages = UserPages<KernelPhys, HwTlb>;

pub struct VmSpace {
    /// The page tables and their anonymous pages, behind Linux's `page_table_lock`: a fault that
    /// holds the mmap lock shared takes it to change an entry; an exclusive holder of the mmap
    /// lock reaches them with `get_mut`, without it.
    pub pages: crate::sync::Mutex<KernelUserPages>,
    tag: AsidTag,
}

impl VmSpace {
    pub fn new() -> Result<Self, PtError> {
        // ASID 0 is never live for user tables; the real one is set at activation.
        let pt = PageTable::new_user(KernelPhys, 0)?;
        Ok(Self {
            pages: crate::sync::Mutex::new(UserPages::new(pt, HwTlb, zero_page()?)),
            tag: AsidTag::NONE,
        })
    }

    /// Makes this the current user address space.
    pub fn activate(&mut self) {
        let cpu = crate::arch::aarch64::smp::cpu_id();
        let a = asids().lock().activate(cpu, &mut self.tag);
        if a.flush_all {
            HwTlb.flush_all();
            HwTlb.sync();
        }
        let pt = &mut self.pages.get_mut().pt;
        pt.set_asid(a.asid);
        mmu::set_ttbr0(Some(pt.ttbr()));
    }

    pub fn is_active(&mut self) -> bool {
        let pt = &self.pages.get_mut().pt;
        pt.asid() != Some(0) && mmu::ttbr0() == pt.ttbr()
    }

    /// Leaves the user half empty (no process running).
    pub fn deactivate_all() {
        mmu::set_ttbr0(None);
    }

    /// Where the user page of `addr` is mapped, if it is (under the page tables' lock).
    pub fn translate(&self, addr: usize) -> Option<crate::mm::pagetable::Translation> {
        self.pages
            .lock()
            .pt
            .translate(crate::mm::addr::VirtAddr(addr))
    }

    pub fn table(&mut self) -> &mut PageTable<KernelPhys> {
        &mut self.pages.get_mut().pt
    }
}

impl PageTableOps for VmSpace {
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), MmError> {
        self.pages.get_mut().unmap_range(start, end)
    }
    type UnmapReserve = crate::mm::pagetable::UnmapReserve;
    /// The tables have their own lock (`pages`): clearing can wait for the shared side.
    const DEFERS_UNMAPS: bool = true;
    fn prepare_unmap(
        &mut self,
        start: usize,
        end: usize,
    ) -> Result<Option<Self::UnmapReserve>, MmError> {
        self.pages.get_mut().prepare_unmap(start, end)
    }
    fn unmap_prepared(&mut self, start: usize, end: usize, reserve: Self::UnmapReserve) {
        self.pages.get_mut().unmap_prepared(start, end, reserve)
    }
    fn protect_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.pages.get_mut().protect_range(start, end, flags)
    }
    fn populate_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError> {
        self.pages.get_mut().populate_range(start, end, flags)
    }
    fn populate_backed(
        &mut self,
        start: usize,
        end: usize,
        flags: VmFlags,
        object: &dyn crate::mm::object::PageObject,
        first_index: usize,
    ) -> Result<(), MmError> {
        self.pages
            .get_mut()
            .populate_backed(start, end, flags, object, first_index)
    }
    fn move_range(&mut self, old: usize, new: usize, len: usize) -> Result<(), MmError> {
        self.pages.get_mut().move_range(old, new, len)
    }
    fn mincore(&self, start: usize, end: usize, out: &mut [u8]) -> Result<(), MmError> {
        self.pages.lock().mincore(start, end, out)
    }
}

impl Drop for VmSpace {
    fn drop(&mut self) {
        if self.is_active() {
            mmu::set_ttbr0(None);
        }
        if let Some(asid) = asids().lock().release(self.tag) {
            HwTlb.flush_asid(asid);
            HwTlb.sync();
        }
    }
}
