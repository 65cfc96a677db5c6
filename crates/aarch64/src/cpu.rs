//! Identification of the CPU we run on, for the boot banner and the auxiliary vector.
use aarch64_cpu::registers::{Readable, MIDR_EL1};

/// Implementer and part name from MIDR_EL1, for the parts QEMU's `virt` machine offers.
pub fn midr_name(midr: u64) -> &'static str {
    let implementer = (midr >> 24) & 0xff;
    let part = (midr >> 4) & 0xfff;
    match (implementer, part) {
        (0x41, 0xd03) => "Arm Cortex-A53",
        (0x41, 0xd07) => "Arm Cortex-A57",
        (0x41, 0xd08) => "Arm Cortex-A72",
        (0x41, 0xd0b) => "Arm Cortex-A76",
        (0x41, 0xd0c) => "Arm Neoverse-N1",
        (0x41, 0xd40) => "Arm Neoverse-V1",
        (0x41, 0xd49) => "Arm Neoverse-N2",
        (0x41, 0xd15) => "Arm Cortex-R82",
        (0x41, 0xd4f) => "Arm Neoverse-V2",
        (0x00, _) => "QEMU max (implementer reserved for software)",
        (0x41, _) => "Arm (unknown part)",
        _ => "unknown",
    }
}

pub fn midr() -> u64 {
    MIDR_EL1.get()
}

/// This CPU's `MPIDR_EL1`: its affinity fields name it to the interrupt controller.
pub fn mpidr() -> u64 {
    use aarch64_cpu::registers::MPIDR_EL1;
    MPIDR_EL1.get()
}

/// The ID registers that decide AT_HWCAP / AT_HWCAP2 (read by encoding, since not every
/// assembler knows all of their names).
pub fn id_registers() -> crate::regs::IdRegisters {
    macro_rules! read {
        ($enc:literal) => {{
            let v: u64;
            // SAFETY: reading an ID register has no side effects and is permitted at EL1.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $enc), out(reg) v, options(nomem, nostack)) };
            v
        }};
    }
    crate::regs::IdRegisters {
        id_aa64isar0: read!("S3_0_C0_C6_0"),
        id_aa64isar1: read!("S3_0_C0_C6_1"),
        id_aa64isar2: read!("S3_0_C0_C6_2"),
        id_aa64pfr0: read!("S3_0_C0_C4_0"),
        id_aa64pfr1: read!("S3_0_C0_C4_1"),
        id_aa64mmfr2: read!("S3_0_C0_C7_2"),
    }
}

/// Fills `out` from the CPU's random number generator (`RNDR`, FEAT_RNG); false when the CPU has
/// none or it fails to deliver (`out` is then partly filled and must not be credited).
pub fn hw_random(out: &mut [u8]) -> bool {
    let Some(rng) = aarch64_cpu::asm::random::ArmRng::new() else {
        return false;
    };
    for chunk in out.chunks_mut(8) {
        // RNDR may report a transient failure; a few retries, as Linux's arch_get_random does.
        let Some(v) = (0..10).find_map(|_| rng.rndr()) else {
            return false;
        };
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    true
}

/// Whether the CPU has FEAT_RNG, for the boot log.
pub fn has_hw_random() -> bool {
    aarch64_cpu::asm::random::ArmRng::new().is_some()
}
