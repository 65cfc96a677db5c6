//! The VMA side of fork (Linux `dup_mm` / `dup_mmap`): the child gets a copy of every VMA, the
//! layout (`start_brk`, `brk`, stack, mmap base), the rlimits and the counters, but not the locks:
//! Linux clears VM_LOCKED and VM_LOCKONFAULT in the child's VMAs and `def_flags`, so the child
//! starts with `locked_vm` 0 and lazy growth. Each of the child's VMAs that had an anon_vma gets
//! a new one, chained to the parent's (Linux `anon_vma_fork`; [`crate::anon_vma`]). The pages
//! are the page-table side's business ([`super::user_pages::UserPages::fork_into`]).
use super::mm_struct::{MmStruct, PageTableOps};
use super::mmap::vma_merge;
use super::vma::VM_LOCKED_MASK;

/// A copy of `old`'s address-space description over the child's page table `pt`.
///
/// VMAs that differed only in their lock bits become mergeable once those are cleared. Linux
/// leaves them apart in the child. Where they had anon_vmas, the child's new ones differ and keep
/// them apart here too; where neither had one, tidemark merges them, so that the tree's invariant
/// (equal neighbours are merged) holds without exceptions. Only the number of lines in the
/// child's /proc/self/maps can tell.
pub fn dup_mmap<P: PageTableOps, Q: PageTableOps>(old: &MmStruct<P>, pt: Q) -> MmStruct<Q> {
    let mut mm = MmStruct::new(pt);
    mm.start_code = old.start_code;
    mm.end_code = old.end_code;
    mm.start_data = old.start_data;
    mm.end_data = old.end_data;
    mm.start_brk = old.start_brk;
    mm.brk = old.brk;
    mm.start_stack = old.start_stack;
    mm.mmap_base = old.mmap_base;
    mm.rlimits = old.rlimits;
    mm.privileged = old.privileged;
    mm.thp_disabled = old.thp_disabled;
    mm.max_map_count = old.max_map_count;
    mm.totalram_pages = old.totalram_pages;
    let mut starts = alloc::vec::Vec::with_capacity(old.map_count());
    for vma in old.vmas() {
        let mut v = vma.clone();
        v.flags &= !VM_LOCKED_MASK;
        v.anon_vma = vma.anon_vma.map(|_| mm.new_anon_vma(true));
        starts.push(v.start);
        mm.link_vma(v);
    }
    if old.counters().locked_vm != 0 {
        for start in starts {
            if mm.tree.get(start).is_some() {
                vma_merge(&mut mm, start);
            }
        }
    }
    mm.stat.hiwater_vm = old.counters().hiwater_vm;
    mm.debug_validate();
    mm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlock::{do_mlock, do_mlockall, MCL_CURRENT, MCL_FUTURE};
    use crate::mmap::do_mmap;
    use crate::tests::exec_mm;
    use crate::vma::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};

    #[test]
    fn child_gets_every_vma_and_the_layout_but_no_locks() {
        let mut mm = exec_mm();
        let a = do_mmap(
            &mut mm,
            0,
            8 << 12,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
        )
        .unwrap()
        .addr;
        do_mlock(&mut mm, a, 4 << 12, 0).unwrap();
        do_mlockall(&mut mm, MCL_CURRENT | MCL_FUTURE).unwrap();
        assert!(mm.counters().locked_vm > 0);
        let child = dup_mmap(&mm, crate::tests::FakePt::default());
        assert_eq!(child.counters().locked_vm, 0);
        assert!(child.def_flags.is_empty());
        assert_eq!(child.brk, mm.brk);
        assert_eq!(child.counters().total_vm, mm.counters().total_vm);
        assert!(child.vmas().all(|v| !v.flags.intersects(VM_LOCKED_MASK)));
        child.validate_mm().unwrap();
    }
}
