//! `_start`: the first instructions, run with the MMU off at the physical load address.
//!
//! QEMU loads the image as an arm64 Linux `Image` (the 64-byte header below), so it enters at
//! physical 0x4008_0000 with the DTB's physical address in x0, at EL1 or, with
//! `-machine virt,virtualization=on`, at EL2. The code parks every core but core 0 (QEMU holds the
//! others off until PSCI CPU_ON starts them at `secondary_entry`), drops from EL2 to EL1, lets EL0 use FP/SIMD, clears BSS, maps the first 5 GiB of the physical address space twice with
//! 1 GiB blocks (identity in TTBR0 for the jump, linear map in TTBR1 for the kernel; one L0 and one L1
//! table serve both since both use L0 index 0), turns the MMU on and jumps to `kmain` in the higher half.
//! The Rust MMU driver later replaces these tables with the final ones.
use core::arch::global_asm;

global_asm!(
    r#"
.equ KERNEL_VA_BASE,    0xffff000000000000
.equ MAIR_VALUE,        0x0444ff            // idx0 normal WB, idx1 normal NC, idx2 device nGnRE
.equ BLOCK_NORMAL,      0x0000000000000701  // block | AttrIndx 0 | SH inner | AF
.equ BLOCK_DEVICE,      0x0060000000000409  // block | AttrIndx 2 | AF | PXN | UXN
.equ SCTLR_EL1_RES1,    0x30d00800
.equ SCTLR_EL1_MMU_ON,  0x34d5d81d          // RES1 | M | C | SA | SA0 | I | DZE | UCT | nTWI | nTWE | UCI

.macro DROP_TO_EL1 target
    // EL2 -> EL1: EL1 is AArch64, gets the timers and FP without traps, sees the real MIDR/MPIDR.
    mov     x0, #(1 << 31)          // HCR_EL2.RW
    msr     hcr_el2, x0
    mov     x0, #3                  // CNTHCTL_EL2.EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff             // CPTR_EL2: RES1 bits, no FP/SIMD trap
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    // A GICv3 CPU interface: let EL1 use its system registers (ICC_SRE_EL2.SRE | Enable).
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4
    cbz     x0, 6f
    mrs     x0, S3_4_C12_C9_5       // ICC_SRE_EL2
    orr     x0, x0, #0x1            // SRE
    orr     x0, x0, #0x8            // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x0
    isb
6:
    ldr     x0, =SCTLR_EL1_RES1
    msr     sctlr_el1, x0
    mov     x0, #0x3c5              // SPSR: EL1h, D A I F masked
    msr     spsr_el2, x0
    adr     x0, \target
    msr     elr_el2, x0
    eret

.endm

// TTBR0/TTBR1 are set: drop stale TLB entries, turn the MMU on and jump to `target` (absolute:
// the higher-half address).
.macro MMU_ON_AND_JUMP target
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x1, =SCTLR_EL1_MMU_ON
    msr     sctlr_el1, x1
    isb
    ldr     x1, =\target
    br      x1
.endm

.section .text.boot, "ax"
.global _start
_start:
    // arm64 Image header (Documentation/arch/arm64/booting.rst).
    b       primary_entry
    .long   0
    .quad   0x80000                 // text_offset
    .quad   __image_size            // image_size
    .quad   0x2                     // flags: little endian, 4 KiB pages
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .long   0

primary_entry:
    mov     x19, x0                 // DTB physical address
    mrs     x1, mpidr_el1
    ldr     x2, =0xff00ffffff       // Aff3..Aff0
    and     x1, x1, x2
    cbz     x1, 1f
park:                               // secondary cores stay here; they are never woken
    wfe
    b       park
1:
    mrs     x20, CurrentEL
    lsr     x20, x20, #2            // exception level we were entered at, handed to kmain
    cmp     x20, #2
    b.ne    el1_entry

    DROP_TO_EL1 el1_entry

el1_entry:
    ldr     x0, =SCTLR_EL1_RES1     // MMU and caches off, whatever the loader left
    msr     sctlr_el1, x0
    isb
    msr     tpidr_el1, xzr          // this is CPU 0 (crate::smp::cpu_id)
    mov     x0, #(3 << 20)          // CPACR_EL1.FPEN: no FP/SIMD traps at EL0 or EL1
    msr     cpacr_el1, x0

    // Clear BSS (physical addresses; MMU off, so only aligned stores).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0], #16
    b       2b
3:
    // Early tables: L0[0] -> L1; L1[0] device (0..1 GiB), L1[1..4] normal RAM (1..5 GiB).
    adrp    x0, early_l0
    adrp    x1, early_l1
    orr     x2, x1, #3              // table descriptor
    str     x2, [x0]
    ldr     x2, =BLOCK_DEVICE
    str     x2, [x1]
    ldr     x2, =BLOCK_NORMAL
    mov     x3, #1
4:  orr     x4, x2, x3, lsl #30
    str     x4, [x1, x3, lsl #3]
    add     x3, x3, #1
    cmp     x3, #5
    b.lo    4b
    dsb     ishst

    ldr     x1, =MAIR_VALUE
    msr     mair_el1, x1
    // TCR: T0SZ=T1SZ=16, 4 KiB granules, WB-WA inner-shareable walks, IPS from PARange.
    ldr     x1, =0x00000000b5103510
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #7
    bfi     x1, x2, #32, #3
    msr     tcr_el1, x1
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x0
    MMU_ON_AND_JUMP high_entry

// A secondary core, started by PSCI CPU_ON at this physical address with the MMU off and x0 the
// physical address of a `smp::BootBlock`: the same drop to EL1, the boot identity map in TTBR0
// for the jump, the kernel's final tables in TTBR1, then the block's entry on the block's stack.
.global secondary_entry
secondary_entry:
    mov     x19, x0
    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.ne    secondary_el1
    DROP_TO_EL1 secondary_el1
secondary_el1:
    ldr     x0, =SCTLR_EL1_RES1
    msr     sctlr_el1, x0
    isb
    mov     x0, #(3 << 20)          // CPACR_EL1.FPEN
    msr     cpacr_el1, x0
    ldp     x1, x2, [x19, #0]       // TTBR1, TCR
    ldr     x3, [x19, #16]          // MAIR
    msr     mair_el1, x3
    msr     tcr_el1, x2
    adrp    x0, early_l0
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x1
    MMU_ON_AND_JUMP secondary_high

.section .text, "ax"
secondary_high:
    ldp     x1, x2, [x19, #24]      // stack top, CPU index (the block is still identity-mapped)
    ldr     x3, [x19, #40]          // entry
    mov     sp, x1
    msr     tpidr_el1, x2
    mov     x29, xzr
    mov     x30, xzr
    adr     x4, exception_vectors
    msr     vbar_el1, x4
    isb
    mov     x0, x2                  // entry(cpu, stack top)
    br      x3

high_entry:
    ldr     x1, =__boot_stack_top
    mov     sp, x1
    mov     x29, xzr
    mov     x30, xzr
    adr     x1, exception_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x19
    mov     x1, x20
    bl      kmain
5:  wfe
    b       5b

.section .bss.early_tables, "aw", %nobits
.balign 4096
.global early_l0
early_l0:
    .space 4096
early_l1:
    .space 4096
"#
);
