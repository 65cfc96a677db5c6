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

/// Zeroes `len` bytes of whole frames at `va` (page aligned, a multiple of the page size). One
/// 4 KiB page with 64-byte blocks, the fault path's case on the cores tidemark runs on, is 64
/// `DC ZVA`s unrolled, without a loop; longer runs go 32 blocks a turn.
///
/// # Safety
/// As [`zero_range`].
#[inline(always)]
pub unsafe fn zero_frames(va: *mut u8, len: usize) {
    const UNROLL: usize = 32;
    let dczid: u64;
    // SAFETY: reading an ID register; one instruction, cheaper than a load of the cached size.
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    // DZP clear, BS 4: 64-byte blocks.
    if len == 4096 && dczid & 0x1f == 4 {
        // SAFETY: each DC ZVA zeroes one 64-byte block of the caller's page.
        unsafe {
            asm!(
                ".rept 64",
                "dc zva, {p}",
                "add {p}, {p}, #64",
                ".endr",
                p = inout(reg) va as usize => _,
                options(nostack, preserves_flags),
            )
        };
        return;
    }
    let block = zva_block();
    if block == 0 || !len.is_multiple_of(UNROLL * block) {
        // SAFETY: forwarded from the caller.
        unsafe { zero_range(va, len) };
        return;
    }
    let end = va as usize + len;
    // SAFETY: each DC ZVA zeroes one naturally aligned block inside the caller's range (page
    // aligned, a multiple of UNROLL blocks).
    unsafe {
        asm!(
            "2:",
            ".rept {n}",
            "dc zva, {p}",
            "add {p}, {p}, {b}",
            ".endr",
            "cmp {p}, {end}",
            "b.lo 2b",
            p = inout(reg) va as usize => _,
            b = in(reg) block,
            end = in(reg) end,
            n = const UNROLL,
            options(nostack),
        )
    };
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
