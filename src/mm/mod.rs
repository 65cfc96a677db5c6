//! Memory management in the kernel: the portable memory manager (the `tidemark-mm` crate,
//! re-exported here under its module names) and the parts that need the machine: the frame pool
//! behind its lock with the linear map (`frame`), the kernel heap (`heap`), and the user address
//! space with its ASID and the hardware TLB (`vm_space`).
pub use tidemark_mm::{
    addr, anon_vma, asid, brk, error, fault, fork, layout, madvise, mincore, mlock, mm_struct,
    mmap, mprotect, mremap, object, pagemap, pagetable, phys, populate, proc_fmt, smaps, thp, tlb,
    user_pages, vma, vma_tree,
};

pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
pub mod uaccess;
#[cfg(target_os = "none")]
pub mod vm_space;

/// The kernel's TTBR1 table, built at boot by the MMU driver and kept for later changes (e.g.
/// mapping more MMIO): the MMU walks its frames for the rest of the run.
#[cfg(target_os = "none")]
pub static KERNEL_TABLE: spin::Once<crate::sync::Mutex<pagetable::PageTable<frame::KernelPhys>>> =
    spin::Once::new();
