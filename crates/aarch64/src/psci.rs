//! PSCI calls (Arm DEN 0022) through the conduit the device tree names: `hvc` when QEMU runs the
//! kernel at EL1 below its own emulated EL2 firmware, `smc` when the kernel was entered at EL2.
use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
const PSCI_CPU_ON_64: u32 = 0xc400_0003;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Conduit {
    None = 0,
    Hvc = 1,
    Smc = 2,
}

static CONDUIT: AtomicU8 = AtomicU8::new(Conduit::None as u8);

pub fn set_conduit(c: Conduit) {
    CONDUIT.store(c as u8, Ordering::Relaxed);
}

pub fn conduit() -> Conduit {
    match CONDUIT.load(Ordering::Relaxed) {
        1 => Conduit::Hvc,
        2 => Conduit::Smc,
        _ => Conduit::None,
    }
}

fn call(function: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let mut x0 = function as u64;
    match conduit() {
        // SAFETY: a PSCI call clobbers x0..x3 at most; the firmware keeps all other state.
        Conduit::Hvc => unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _)
        },
        // SAFETY: as above.
        Conduit::Smc => unsafe {
            asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _)
        },
        Conduit::None => return -1,
    }
    x0 as i64
}

/// Powers the machine off; returns only if there is no PSCI or the call failed.
pub fn system_off() {
    call(PSCI_SYSTEM_OFF, 0, 0, 0);
}

/// Starts the core whose MPIDR affinity is `mpidr` at physical address `entry`, MMU off, at the
/// exception level the boot core was entered at, with `context` in x0. Returns PSCI's status
/// (0 for success; -4 ALREADY_ON, -2 INVALID_PARAMETERS, ...), -1 without PSCI.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    call(PSCI_CPU_ON_64, mpidr, entry, context)
}
