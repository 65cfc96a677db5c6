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
