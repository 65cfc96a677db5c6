//! Memory management in the kernel: the portable memory manager (the `tidemark-mm` crate,
//! re-exported here under its module names) and the parts that need the machine: the frame pool
//! behind its lock with the linear map (`frame`), the kernel heap (`heap`), and the user address
//! space with its ASID and the hardware TLB (`address_space`).
pub use tidemark_mm::{
    addr, anon, asid, brk, error, fault, fork, layout, madvise, mincore, mlock, mm_struct, mmap,
    mprotect, mremap, pagetable, phys, populate, proc_fmt, tlb, vma, vma_tree,
};

#[cfg(target_os = "none")]
pub mod address_space;
pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
