//! Memory barriers the kernel above needs by name.
use core::arch::asm;

/// Orders this core's earlier stores before its later ones, as the other cores and devices in
/// the inner shareable domain see them (`DMB ISHST`): what a kick through a device register
/// must come after.
#[inline(always)]
pub fn store_barrier() {
    // SAFETY: a barrier only.
    unsafe { asm!("dmb ishst", options(nostack, preserves_flags)) };
}
