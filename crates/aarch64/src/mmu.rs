//! The kernel's final translation tables and the switch to them (TTBR1), and the MMU controls
//! (TCR_EL1, SCTLR_EL1, PAN).
//!
//! The boot tables map 5 GiB with 1 GiB blocks, all writable and executable. `init` replaces them
//! with a TTBR1 table built by the portable page-table driver:
//! - a linear map of all RAM, RW and execute-never, with 1 GiB / 2 MiB blocks where they fit;
//! - the kernel image inside it with its own permissions: text RX, rodata RO, data/bss RW;
//! - no mapping for the page under the boot stack (the guard page);
//! - MMIO (UART, GIC) as device memory.
//!
//! Then TTBR1 is replaced from the identity map with the break-before-make sequence Linux uses
//! (`idmap_cpu_replace_ttbr1`): the old and new tables map the same addresses with different block
//! sizes, so both must never be live in the TLB at once. TTBR0 then gets an empty table: the user
//! half holds no kernel mapping.
use aarch64_cpu::registers::{
    Readable, Writeable, ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, MAIR_EL1, SCTLR_EL1, TCR_EL1,
    TTBR0_EL1,
};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use tidemark_mm::addr::Range;
use tidemark_mm::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use tidemark_mm::frame;
use tidemark_mm::layout::{phys_to_virt, virt_to_phys, LINEAR_MAP_BASE};
use tidemark_mm::pagetable::{Attrs, MapSize, PageTable, PtError, MAIR_EL1_VALUE};
use tidemark_mm::phys::PhysMem;

use crate::tlb::HwTlb;

static RESERVED_TTBR0: AtomicU32 = AtomicU32::new(0);
static ASID_BITS: AtomicU32 = AtomicU32::new(8);
static HAS_PAN: AtomicBool = AtomicBool::new(false);

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __boot_stack_bottom: u8;
    static __kernel_end: u8;
    fn __replace_ttbr1(new_ttbr1: u64, reserved: u64, kernel_va_base: u64);
}

global_asm!(
    r#"
.section .text, "ax"
// Runs its middle part from the identity map, so that no TTBR1 translation is needed while
// TTBR1 points at the empty table. Uses no stack.
.global __replace_ttbr1
__replace_ttbr1:
    adr     x3, 1f
    sub     x3, x3, x2              // physical = identity-mapped address of 1:
    mov     x4, x30
    br      x3
1:  msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0
    isb
    ret     x4
"#
);

fn sym(s: *const u8) -> usize {
    virt_to_phys(VirtAddr(s as usize)).as_usize()
}

fn map_linear<P: PhysMem>(
    pt: &mut PageTable<P>,
    start: usize,
    end: usize,
    attrs: Attrs,
) -> Result<(), PtError> {
    if start < end {
        let va = phys_to_virt(PhysAddr(start));
        pt.map(
            va,
            PhysAddr(start),
            end - start,
            attrs,
            MapSize::Any,
            &HwTlb,
        )?;
    }
    Ok(())
}

/// Number of ASID bits (8 or 16) the CPU supports and TCR_EL1.AS selects.
pub fn asid_bits() -> u32 {
    ASID_BITS.load(Ordering::Relaxed)
}

pub fn has_pan() -> bool {
    HAS_PAN.load(Ordering::Relaxed)
}

/// The physical address of the empty table TTBR0 holds while no process runs.
pub fn reserved_ttbr0() -> u64 {
    (RESERVED_TTBR0.load(Ordering::Relaxed) as u64) << 12
}

/// Builds the final kernel tables from frames of `phys` and switches to them; returns the table
/// for the kernel to keep (dropping it would free tables the MMU walks).
pub fn init<P: PhysMem + Clone>(
    phys: P,
    ram: &[Range],
    mmio: &[Range],
) -> Result<PageTable<P>, PtError> {
    let mut pt = PageTable::new_kernel(phys.clone())?;
    let (kstart, text_end, rodata_end, stack_bottom, kend) = (
        sym(&raw const __kernel_start),
        sym(&raw const __text_end),
        sym(&raw const __rodata_end),
        sym(&raw const __boot_stack_bottom),
        sym(&raw const __kernel_end),
    );
    let image = [Range {
        start: kstart,
        size: kend - kstart,
    }];
    let mut result = Ok(());
    frame::for_each_free_range(ram, &image, |s, e| {
        if result.is_ok() {
            result = map_linear(&mut pt, s, e, Attrs::kernel_rw());
        }
    });
    result?;
    let guard = stack_bottom - PAGE_SIZE;
    map_linear(&mut pt, kstart, text_end, Attrs::kernel_rx())?;
    map_linear(&mut pt, text_end, rodata_end, Attrs::kernel_ro())?;
    map_linear(&mut pt, rodata_end, guard, Attrs::kernel_rw())?;
    map_linear(&mut pt, stack_bottom, kend, Attrs::kernel_rw())?;
    for r in mmio {
        let start = r.start & !(PAGE_SIZE - 1);
        let end = r.end().next_multiple_of(PAGE_SIZE);
        map_linear(&mut pt, start, end, Attrs::kernel_device())?;
    }

    let reserved = phys.alloc_frames(0).ok_or(PtError::NoMemory)?;
    // SAFETY: a fresh frame, reached through the linear map.
    unsafe { core::ptr::write_bytes(phys.phys_to_virt(reserved), 0, PAGE_SIZE) };
    RESERVED_TTBR0.store((reserved.as_usize() >> 12) as u32, Ordering::Relaxed);

    let asid16 = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010;
    ASID_BITS.store(if asid16 { 16 } else { 8 }, Ordering::Relaxed);
    let pa_range = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange);
    MAIR_EL1.set(MAIR_EL1_VALUE);
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(16)
            + TCR_EL1::T1SZ.val(16)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::TG1::KiB_4
            + TCR_EL1::SH0::Inner
            + TCR_EL1::SH1::Inner
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IRGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IPS.val(pa_range)
            + TCR_EL1::A1::TTBR0
            + if asid16 {
                TCR_EL1::AS::ASID16Bits
            } else {
                TCR_EL1::AS::ASID8Bits
            },
    );
    // SAFETY: the new table maps the kernel image, its stack and the console at the same virtual
    // addresses as the boot tables, and the switch runs from the identity map.
    unsafe {
        __replace_ttbr1(
            pt.ttbr(),
            reserved.as_usize() as u64,
            LINEAR_MAP_BASE as u64,
        )
    };
    TTBR0_EL1.set(reserved.as_usize() as u64);
    // SAFETY: drop every TLB entry of the boot identity map; barriers only otherwise.
    unsafe { asm!("isb", "tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    if ID_AA64MMFR1_EL1.read(ID_AA64MMFR1_EL1::PAN) != 0 {
        enable_pan();
    }
    Ok(pt)
}

/// A secondary core's part of the switch, once it runs in the higher half on the final TTBR1
/// table (boot.rs put it there): the empty TTBR0 instead of the boot identity map, and PAN.
pub fn init_secondary() {
    TTBR0_EL1.set(reserved_ttbr0());
    // SAFETY: drop every TLB entry of the boot identity map; barriers only otherwise.
    unsafe { asm!("isb", "tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    if has_pan() {
        enable_pan();
    }
}

/// FEAT_PAN: privileged accesses to user memory fault, and every exception entry sets PSTATE.PAN
/// (SCTLR_EL1.SPAN = 0); the kernel reaches user memory only with LDTR/STTR, which PAN ignores.
fn enable_pan() {
    const SPAN: u64 = 1 << 23;
    SCTLR_EL1.set(SCTLR_EL1.get() & !SPAN);
    // SAFETY: writes PSTATE.PAN (MSR PAN, #1 as a system-register write: S3_0_C4_C2_3).
    unsafe { asm!("msr S3_0_C4_C2_3, {}", "isb", in(reg) 1u64 << 22, options(nostack)) };
    HAS_PAN.store(true, Ordering::Relaxed);
}

/// Points TTBR0 at a user table (root | ASID << 48), or at the empty table with `None`.
pub fn set_ttbr0(ttbr: Option<u64>) {
    TTBR0_EL1.set(ttbr.unwrap_or_else(reserved_ttbr0));
    // SAFETY: context synchronisation so that following user accesses use the new table.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// The TTBR0 value in use.
pub fn ttbr0() -> u64 {
    TTBR0_EL1.get()
}
