//! Which processes map an object, found by looking (Linux keeps the reverse map in `i_mmap`):
//! truncating or punching a file unmaps its pages from all of them.
use crate::fs::inode::Inode;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::mm_struct::{MmStruct, PageTableOps};
use crate::mm::vm_space::VmSpace;
use crate::task::process::MmRef;
use crate::task::sched::{with_active_mm, TASKS};
use alloc::vec::Vec;

/// Calls `f` with every address space once, until it returns `true`: the one running on this
/// core (its task is in a call), then those of the tasks in the table. Says whether `f` did.
fn any_mm(mut f: impl FnMut(&mut MmStruct<VmSpace>) -> bool) -> bool {
    if with_active_mm(|mm| f(&mut mm.write())) == Some(true) {
        return true;
    }
    let active = with_active_mm(|mm| mm as *const _).unwrap_or(core::ptr::null());
    let mms: Vec<MmRef> = {
        let tasks = TASKS.lock();
        let mut v: Vec<MmRef> = Vec::new();
        for t in tasks.iter() {
            if alloc::sync::Arc::as_ptr(&t.mm) != active
                && !v.iter().any(|m| alloc::sync::Arc::ptr_eq(m, &t.mm))
            {
                v.push(t.mm.clone());
            }
        }
        v
    };
    mms.iter().any(|mm| f(&mut mm.write()))
}

/// Whether `v` maps `inode`.
fn maps(v: &crate::mm::vma::Vma, inode: &Inode) -> bool {
    v.backing()
        .is_some_and(|b| core::ptr::addr_eq(alloc::sync::Arc::as_ptr(&b.0), inode))
}

/// `unmap_mapping_range` over every address space.
pub fn unmap_mapping_range(inode: &Inode, first: u64, end: u64, even_cows: bool) {
    any_mm(|mm| {
        unmap_in(mm, inode, first, end, even_cows);
        false
    });
}

/// Whether any address space maps `inode` shared and writable (`VM_SHARED`: a `MAP_SHARED`
/// mapping through a writable descriptor).
pub fn mapped_writable(inode: &Inode) -> bool {
    any_mm(|mm| {
        mm.vmas()
            .any(|v| v.flags.contains(crate::mm::vma::VM_SHARED) && maps(v, inode))
    })
}

/// The pages `[first, end)` of `inode` in the mappings of it in `mm`.
fn unmap_in(mm: &mut MmStruct<VmSpace>, inode: &Inode, first: u64, end: u64, even_cows: bool) {
    let ranges: Vec<(usize, usize, usize)> = mm
        .vmas()
        .filter(|v| maps(v, inode))
        .map(|v| (v.start, v.end, v.pgoff))
        .collect();
    for (start, vend, pgoff) in ranges {
        let pages = ((vend - start) / PAGE_SIZE) as u64;
        let lo = first.max(pgoff as u64);
        let hi = end.min(pgoff as u64 + pages);
        if lo >= hi {
            continue;
        }
        let va = |index: u64| start + (index - pgoff as u64) as usize * PAGE_SIZE;
        if even_cows {
            let _ = mm.pt.unmap_range(va(lo), va(hi));
            continue;
        }
        use crate::mm::object::PageObject;
        for index in lo..hi {
            let at = va(index);
            let own = inode.peek_page(index as usize);
            let mapped = mm.pt.translate(at).map(|t| t.pa.align_down(PAGE_SIZE));
            if own.is_some() && mapped == own {
                let _ = mm.pt.unmap_range(at, at + PAGE_SIZE);
            }
        }
    }
}
