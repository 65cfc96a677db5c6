//! Arm semihosting (`HLT #0xF000`), used only to hand an exit status to the host: QEMU started with
//! `-semihosting` ends with that status. Without `-semihosting` the `HLT` is an undefined instruction;
//! an exception-table entry then resumes after it, so the caller can fall back to PSCI.
use core::arch::asm;

const SYS_EXIT_EXTENDED: u64 = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends the emulation with `status`; returns only when semihosting is not available.
pub fn exit(status: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, status as u64];
    // SAFETY: the call reads the two-word parameter block and does not return; if semihosting is off
    // the exception table sends the resulting undefined-instruction trap to label 2.
    unsafe {
        asm!(
            "1: hlt #0xf000",
            "2:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 1b, 2b",
            ".popsection",
            in("x0") SYS_EXIT_EXTENDED,
            in("x1") block.as_ptr(),
            options(nostack)
        );
    }
}
