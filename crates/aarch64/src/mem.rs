//! `memcpy`, `memmove` and `memset` for the kernel, in place of `compiler_builtins`' portable ones
//! (which are weak symbols, so these win at link time).
//!
//! The kernel moves many mid-sized values: VMAs shifted inside the tree's nodes, results handed
//! up the mm's calls. The portable loops spent about one instruction per byte there (43 for 40
//! bytes; an mmap and munmap pair ran 880 instructions in them); these copy 32 bytes per turn
//! with `LDP`/`STP` and the last 0 to 31 bytes by their binary digits, about a quarter of that.
//! `memset` stores 64 bytes per turn: zeroing a 4 KiB stack buffer took 1,557 instructions.
//!
//! Unaligned accesses are fine: every caller copies Normal memory with the MMU on, and
//! `SCTLR_EL1.A` is clear (boot.rs). Only general registers are used (the kernel is built
//! without floating point).
use core::arch::global_asm;

global_asm!(
    r#"
.section .text.memcpy, "ax"
.balign 16
// void *memcpy(void *dst, const void *src, size_t n): forward, 32 bytes per turn. Each piece is
// loaded whole before it is stored, so this is also right for overlapping ranges with dst below
// src, which memmove sends here.
.global memcpy
.type memcpy, %function
memcpy:
    mov     x3, x0
    cmp     x2, #32
    b.lo    22f
    sub     x2, x2, #32
21: ldp     x6, x7, [x1]
    ldp     x8, x9, [x1, #16]
    add     x1, x1, #32
    subs    x2, x2, #32
    stp     x6, x7, [x3]
    stp     x8, x9, [x3, #16]
    add     x3, x3, #32
    b.hs    21b
    add     x2, x2, #32
22: tbz     x2, #4, 23f
    ldp     x6, x7, [x1], #16
    stp     x6, x7, [x3], #16
23: tbz     x2, #3, 24f
    ldr     x6, [x1], #8
    str     x6, [x3], #8
24: tbz     x2, #2, 25f
    ldr     w6, [x1], #4
    str     w6, [x3], #4
25: tbz     x2, #1, 26f
    ldrh    w6, [x1], #2
    strh    w6, [x3], #2
26: tbz     x2, #0, 27f
    ldrb    w6, [x1]
    strb    w6, [x3]
27: ret
.size memcpy, . - memcpy

// void *memmove(void *dst, const void *src, size_t n): forward (memcpy) unless dst lies inside
// (src, src + n); then backward from the ends, each piece loaded whole before it is stored.
.global memmove
.type memmove, %function
memmove:
    sub     x4, x0, x1
    cmp     x4, x2
    b.hs    memcpy
    add     x1, x1, x2
    add     x3, x0, x2
    cmp     x2, #32
    b.lo    32f
    sub     x2, x2, #32
31: ldp     x6, x7, [x1, #-16]
    ldp     x8, x9, [x1, #-32]
    sub     x1, x1, #32
    subs    x2, x2, #32
    stp     x6, x7, [x3, #-16]
    stp     x8, x9, [x3, #-32]
    sub     x3, x3, #32
    b.hs    31b
    add     x2, x2, #32
32: tbz     x2, #4, 33f
    ldp     x6, x7, [x1, #-16]!
    stp     x6, x7, [x3, #-16]!
33: tbz     x2, #3, 34f
    ldr     x6, [x1, #-8]!
    str     x6, [x3, #-8]!
34: tbz     x2, #2, 35f
    ldr     w6, [x1, #-4]!
    str     w6, [x3, #-4]!
35: tbz     x2, #1, 36f
    ldrh    w6, [x1, #-2]!
    strh    w6, [x3, #-2]!
36: tbz     x2, #0, 37f
    ldrb    w6, [x1, #-1]
    strb    w6, [x3, #-1]
37: ret
.size memmove, . - memmove

// void *memset(void *dst, int c, size_t n): the byte spread over a register, 64 bytes per turn,
// the last 0 to 63 by their binary digits.
.global memset
.type memset, %function
memset:
    mov     x3, x0
    and     x1, x1, #0xff
    mov     x4, #0x0101010101010101
    mul     x1, x1, x4
    cmp     x2, #64
    b.lo    42f
    sub     x2, x2, #64
41: stp     x1, x1, [x3]
    stp     x1, x1, [x3, #16]
    stp     x1, x1, [x3, #32]
    stp     x1, x1, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hs    41b
    add     x2, x2, #64
42: tbz     x2, #5, 43f
    stp     x1, x1, [x3], #16
    stp     x1, x1, [x3], #16
43: tbz     x2, #4, 44f
    stp     x1, x1, [x3], #16
44: tbz     x2, #3, 45f
    str     x1, [x3], #8
45: tbz     x2, #2, 46f
    str     w1, [x3], #4
46: tbz     x2, #1, 47f
    strh    w1, [x3], #2
47: tbz     x2, #0, 48f
    strb    w1, [x3]
48: ret
.size memset, . - memset
"#
);
