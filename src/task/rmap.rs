//! Which processes map an object, found by looking (Linux keeps the reverse map in `i_mmap`):
//! truncating or punching a file unmaps its pages from all of them.
use crate::fs::inode::Inode;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::mm_struct::PageTableOps;
use crate::task::process::MmRef;
use crate::task::sched::{with_active_mm, TASKS};
use alloc::vec::Vec;

/// `unmap_mapping_range` over every address space: the one running on this core (its task is
/// in a call) and those of the tasks in the table, each once.
pub fn unmap_mapping_range(inode: &Inode, first: u64, end: u64, even_cows: bool) {
    with_active_mm(|mm| unmap_in(&mut mm.lock(), inode, first, end, even_cows));
    let mms: Vec<MmRef> = {
        let tasks = TASKS.lock();
        let mut v: Vec<MmRef> = Vec::new();
        for t in tasks.iter() {
            if !v.iter().any(|m| alloc::sync::Arc::ptr_eq(m, &t.mm)) {
                v.push(t.mm.clone());
            }
        }
        v
    };
    let active = with_active_mm(|mm| mm as *const _).unwrap_or(core::ptr::null());
    for mm in mms.iter().filter(|m| alloc::sync::Arc::as_ptr(m) != active) {
        unmap_in(&mut mm.lock(), inode, first, end, even_cows);
    }
}

/// Whether any address space maps `inode` shared and writable (`VM_SHARED`: a `MAP_SHARED`
/// mapping through a writable descriptor).
pub fn mapped_writable(inode: &Inode) -> bool {
    let maps = |mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>| {
        mm.vmas().any(|v| {
            v.flags.contains(crate::mm::vma::VM_SHARED)
                && v.backing
                    .as_ref()
                    .is_some_and(|b| core::ptr::addr_eq(alloc::sync::Arc::as_ptr(&b.0), inode))
        })
    };
    if with_active_mm(|mm| maps(&mm.lock())) == Some(true) {
        return true;
    }
    let active = with_active_mm(|mm| mm as *const _).unwrap_or(core::ptr::null());
    let tasks = TASKS.lock();
    let found = tasks
        .iter()
        .any(|t| alloc::sync::Arc::as_ptr(&t.mm) != active && maps(&t.mm.lock()));
    found
}

/// The pages `[first, end)` of `inode` in the mappings of it in `mm`.
fn unmap_in(
    mm: &mut crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>,
    inode: &Inode,
    first: u64,
    end: u64,
    even_cows: bool,
) {
    let ranges: Vec<(usize, usize, usize)> = mm
        .vmas()
        .filter(|v| {
            v.backing
                .as_ref()
                .is_some_and(|b| core::ptr::addr_eq(alloc::sync::Arc::as_ptr(&b.0), inode))
        })
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
            let mapped = mm
                .pt
                .pages
                .pt
                .translate(crate::mm::addr::VirtAddr(at))
                .map(|t| t.pa.align_down(PAGE_SIZE));
            if own.is_some() && mapped == own {
                let _ = mm.pt.unmap_range(at, at + PAGE_SIZE);
            }
        }
    }
}
