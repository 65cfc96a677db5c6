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
