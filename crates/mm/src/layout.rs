//! The virtual memory map.
//!
//! ```text
//! 0x0000_0000_0000_0000 .. 0x0001_0000_0000_0000   user (TTBR0, one per process, nG, ASID-tagged)
//! 0xffff_0000_0000_0000 .. (+ end of RAM)           kernel: linear map of physical memory (TTBR1);
//!                                                   the kernel image sits inside it at PA + base
//! ```
//! Linking the kernel at its own linear-map address means every kernel byte has one virtual
//! address, so changing the permissions of kernel text or a stack guard page never leaves a
//! writable alias behind.
use super::addr::{PhysAddr, VirtAddr};

/// TTBR1 base: the lowest address of a 48-bit higher half.
pub const LINEAR_MAP_BASE: usize = 0xffff_0000_0000_0000;
/// One past the highest user address (48-bit TTBR0 range), Linux's `TASK_SIZE` on arm64.
pub const TASK_SIZE: usize = 1 << 48;
/// The early boot tables map this much physical address space (5 x 1 GiB blocks); RAM above it
/// is reached only once the MMU driver has built the full linear map.
pub const EARLY_MAP_LIMIT: usize = 5 << 30;

pub const fn phys_to_virt(pa: PhysAddr) -> VirtAddr {
    VirtAddr(pa.0 + LINEAR_MAP_BASE)
}

/// The physical address behind a linear-map (kernel) address.
pub const fn virt_to_phys(va: VirtAddr) -> PhysAddr {
    PhysAddr(va.0 - LINEAR_MAP_BASE)
}
