//! `AddressSpace`: one process's TTBR0 translation table and its ASID.
//!
//! The table is tagged with the ASID the allocator gives it at activation; after a roll-over the
//! same address space may come back with another ASID, so the tag lives here and the table is
//! retagged on activation. Dropping an address space switches TTBR0 away from it if it is live,
//! invalidates its ASID and frees every table and frame it owns.
use super::asid::{AsidAllocator, AsidTag};
use super::frame::KernelPhys;
use super::pagetable::{PageTable, PtError};
use crate::arch::aarch64::mmu;
use crate::arch::aarch64::tlb::HwTlb;
use crate::mm::tlb::TlbFlush;

static ASIDS: spin::Once<spin::Mutex<AsidAllocator>> = spin::Once::new();

fn asids() -> &'static spin::Mutex<AsidAllocator> {
    ASIDS.call_once(|| spin::Mutex::new(AsidAllocator::new(mmu::asid_bits())))
}

pub struct AddressSpace {
    table: PageTable<KernelPhys>,
    tag: AsidTag,
}

impl AddressSpace {
    pub fn new() -> Result<Self, PtError> {
        // ASID 0 is never live for user tables; the real one is set at activation.
        Ok(Self {
            table: PageTable::new_user(KernelPhys, 0)?,
            tag: AsidTag::NONE,
        })
    }

    /// Makes this the current user address space.
    pub fn activate(&mut self) {
        let a = asids().lock().activate(&mut self.tag);
        if a.flush_all {
            HwTlb.flush_all();
            HwTlb.sync();
        }
        self.table.set_asid(a.asid);
        mmu::set_ttbr0(Some(self.table.ttbr()));
    }

    pub fn is_active(&self) -> bool {
        self.table.asid() != Some(0) && mmu::ttbr0() == self.table.ttbr()
    }

    /// Leaves the user half empty (no process running).
    pub fn deactivate_all() {
        mmu::set_ttbr0(None);
    }

    pub fn table(&mut self) -> &mut PageTable<KernelPhys> {
        &mut self.table
    }

    pub fn table_ref(&self) -> &PageTable<KernelPhys> {
        &self.table
    }
}

impl Drop for AddressSpace {
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
