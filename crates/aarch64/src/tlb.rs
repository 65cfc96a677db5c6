//! TLB maintenance and table-walk barriers: the kernel's implementation of [`TlbFlush`].
//!
//! Inner-shareable (broadcast) forms everywhere, so a later SMP kernel needs no IPIs. The portable
//! page-table code batches invalidations and calls [`TlbFlush::sync`] once per batch.
use core::arch::asm;
use tidemark_mm::addr::VirtAddr;
use tidemark_mm::tlb::TlbFlush;

/// The hardware TLB of this CPU (and, through broadcast, of the inner-shareable domain).
pub struct HwTlb;

/// TLBI operand for a VA: VA[55:12] in bits 43:0, ASID in bits 63:48.
fn operand(asid: Option<u16>, va: VirtAddr) -> u64 {
    ((va.as_usize() as u64 >> 12) & ((1 << 44) - 1)) | ((asid.unwrap_or(0) as u64) << 48)
}

impl TlbFlush for HwTlb {
    fn publish(&self) {
        // SAFETY: a barrier only orders memory accesses.
        unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    }

    fn flush_va(&self, asid: Option<u16>, va: VirtAddr, leaf_only: bool) {
        let op = operand(asid, va);
        // SAFETY: TLB invalidation has no effect on memory; the caller orders it with barriers.
        unsafe {
            match (asid.is_some(), leaf_only) {
                (true, true) => asm!("tlbi vale1is, {}", in(reg) op, options(nostack)),
                (true, false) => asm!("tlbi vae1is, {}", in(reg) op, options(nostack)),
                // Global (kernel) entries match every ASID.
                (false, true) => asm!("tlbi vaale1is, {}", in(reg) op, options(nostack)),
                (false, false) => asm!("tlbi vaae1is, {}", in(reg) op, options(nostack)),
            }
        }
    }

    fn flush_asid(&self, asid: u16) {
        // SAFETY: as above.
        unsafe { asm!("tlbi aside1is, {}", in(reg) (asid as u64) << 48, options(nostack)) };
    }

    fn flush_all(&self) {
        // SAFETY: as above.
        unsafe { asm!("tlbi vmalle1is", options(nostack)) };
    }

    fn sync(&self) {
        // SAFETY: barriers only: complete the invalidations, then resynchronise the instruction stream.
        unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
    }
}
