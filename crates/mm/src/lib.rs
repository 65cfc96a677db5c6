//! tidemark's memory manager: portable code with Linux's names (`find_vma`, `vma_merge`,
//! `do_munmap`, `do_brk_flags`, `mm_populate`...), the ARMv8 translation-table driver, and the
//! frame pool. It reaches the hardware only through two traits, `phys::PhysMem` (frames and
//! their bytes) and `tlb::TlbFlush` (TLB maintenance), which the kernel implements with the
//! linear map and TLBI instructions and the host tests implement with simulated memory.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod addr;
pub mod anon_vma;
pub mod asid;
pub mod brk;
pub mod error;
pub mod fault;
pub mod fork;
pub mod frame;
pub mod layout;
pub mod madvise;
pub mod mincore;
pub mod mlock;
pub mod mm_struct;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod object;
pub mod pagemap;
pub mod pagetable;
pub mod phys;
pub mod populate;
pub mod proc_fmt;
pub mod smaps;
#[cfg(test)]
mod tests;
pub mod thp;
pub mod tlb;
pub mod user_pages;
pub mod vma;
pub mod vma_tree;
