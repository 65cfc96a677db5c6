//! Ending the machine with a status the host sees.
//!
//! Status 0 powers off through PSCI (QEMU exits 0). Any other status goes through semihosting's
//! `SYS_EXIT_EXTENDED`, which QEMU started with `-semihosting` turns into its own exit code; without
//! semihosting the status is lost, so it is also printed as the last console line, which the runner
//! in `qemu/` reads as a fallback.
use crate::arch::aarch64::{psci, semihosting};

/// A kernel panic.
pub const STATUS_PANIC: u32 = 101;
/// An exception the kernel cannot handle (the decoded report precedes it).
pub const STATUS_FATAL_EXCEPTION: u32 = 102;

pub fn exit(status: u32) -> ! {
    crate::println!("tidemark: exit status {status}");
    crate::console::flush();
    if status != 0 {
        semihosting::exit(status);
    }
    psci::system_off();
    loop {
        aarch64_cpu::asm::wfe();
    }
}
