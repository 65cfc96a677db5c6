//! The GICv3 CPU interface: its system registers (`ICC_*_EL1`, Arm IHI 0069), which take the place
//! of GICv2's memory-mapped CPU interface. Named by their encodings, since `aarch64-cpu` does not
//! describe them all.
use core::arch::asm;

/// Whether the CPU has a GICv3 system-register interface (`ID_AA64PFR0_EL1.GIC`).
pub fn present() -> bool {
    let pfr0: u64;
    // SAFETY: reading an ID register has no effect.
    unsafe { asm!("mrs {}, id_aa64pfr0_el1", out(reg) pfr0, options(nomem, nostack)) };
    (pfr0 >> 24) & 0xf != 0
}

/// Turns the interface on for this CPU: system-register access (`ICC_SRE_EL1.SRE`), every
/// priority let through (`ICC_PMR_EL1`), no priority grouping, Group 1 interrupts enabled.
pub fn enable() {
    // SAFETY: these writes only configure this CPU's interrupt interface; the kernel runs with
    // interrupts masked, so nothing is delivered until it unmasks them at EL0.
    unsafe {
        asm!(
            "mrs {t}, S3_0_C12_C12_5", // ICC_SRE_EL1
            "orr {t}, {t}, #1",        // SRE
            "msr S3_0_C12_C12_5, {t}",
            "isb",
            "mov {t}, #0xff",
            "msr S3_0_C4_C6_0, {t}",   // ICC_PMR_EL1
            "msr S3_0_C12_C12_3, xzr", // ICC_BPR1_EL1
            "msr S3_0_C12_C12_4, xzr", // ICC_CTLR_EL1: EOImode 0
            "mov {t}, #1",
            "msr S3_0_C12_C12_7, {t}", // ICC_IGRPEN1_EL1
            "isb",
            t = out(reg) _,
            options(nostack),
        )
    };
}

/// Acknowledges the highest-priority pending Group 1 interrupt (`ICC_IAR1_EL1`): its INTID, 1023
/// for none.
pub fn acknowledge() -> u32 {
    let iar: u64;
    // SAFETY: reading IAR1 acknowledges an interrupt, which the caller then ends with `end`.
    unsafe { asm!("mrs {}, S3_0_C12_C12_0", out(reg) iar, options(nostack)) };
    iar as u32
}

/// Ends the handling of interrupt `intid` (`ICC_EOIR1_EL1`).
pub fn end(intid: u32) {
    // SAFETY: `intid` was returned by `acknowledge`; priority drop and deactivation.
    unsafe { asm!("msr S3_0_C12_C12_1, {}", "isb", in(reg) intid as u64, options(nostack)) };
}

/// Sends a Group 1 software-generated interrupt (`ICC_SGI1R_EL1`, its fields already packed).
pub fn send_sgi1(value: u64) {
    // SAFETY: raising an SGI has no effect on memory; the barrier orders earlier stores before it,
    // so the target sees what it is kicked for.
    unsafe { asm!("dsb ishst", "msr S3_0_C12_C11_5, {}", "isb", in(reg) value, options(nostack)) };
}
