//! Cache-block operations.
use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

/// `DC ZVA` block size in bytes, 0 if the instruction is prohibited (read once from DCZID_EL0).
static ZVA_BLOCK: AtomicUsize = AtomicUsize::new(usize::MAX);

fn zva_block() -> usize {
    let cached = ZVA_BLOCK.load(Ordering::Relaxed);
    if cached != usize::MAX {
        return cached;
    }
    let dczid: u64;
    // SAFETY: reading an ID register.
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack)) };
    let block = if dczid & (1 << 4) != 0 {
        0
    } else {
        4usize << (dczid & 0xf)
    };
    ZVA_BLOCK.store(block, Ordering::Relaxed);
    block
}

/// Zeroes `len` bytes at `va`, one cache block per `DC ZVA` where allowed.
///
/// # Safety
/// `[va, va + len)` must be writable normal memory owned by the caller; `va` and `len` must be
/// multiples of the page size (which every ZVA block size divides).
pub unsafe fn zero_range(va: *mut u8, len: usize) {
    let block = zva_block();
    if block == 0 {
        // SAFETY: forwarded from the caller.
        unsafe { core::ptr::write_bytes(va, 0, len) };
        return;
    }
    let mut p = va as usize;
    let end = p + len;
    while p < end {
        // SAFETY: zeroes one naturally aligned block inside the caller's range.
        unsafe { asm!("dc zva, {}", in(reg) p, options(nostack, preserves_flags)) };
        p += block;
    }
}

/// Writes `[va, va + len)` back to the point of coherency, for a reader with its MMU off (a core
/// being started reads its boot block that way).
pub fn clean_to_poc(va: usize, len: usize) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no effect.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    // DminLine: log2 of the smallest data cache line, in words.
    let line = 4usize << ((ctr >> 16) & 0xf);
    let mut p = va & !(line - 1);
    while p < va + len {
        // SAFETY: cleaning a line changes no memory contents; `p` is mapped (the caller's object).
        unsafe { asm!("dc cvac, {}", in(reg) p, options(nostack, preserves_flags)) };
        p += line;
    }
    // SAFETY: a barrier only.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}
