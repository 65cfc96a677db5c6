//! Memory management: portable code, unit-tested on the host.
pub mod addr;
#[cfg(target_os = "none")]
pub mod address_space;
pub mod anon;
pub mod asid;
pub mod brk;
pub mod error;
pub mod fault;
pub mod fork;
pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
pub mod layout;
pub mod madvise;
pub mod mincore;
pub mod mlock;
pub mod mm_struct;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod pagetable;
pub mod phys;
pub mod populate;
pub mod proc_fmt;
#[cfg(test)]
mod tests;
pub mod tlb;
pub mod vma;
pub mod vma_tree;
