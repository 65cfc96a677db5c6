//! How a core waits for something another core will do: `YIELD`, Linux's arm64 `cpu_relax`.
//!
//! The hint tells the hardware this core is spinning (an SMT core gives its pipeline to its
//! sibling). Under QEMU's TCG with the cores run in turn (`-icount`, or a one-thread host), it
//! also ends this core's turn, so that the core it waits for runs now instead of after a whole
//! time slice spent spinning: with `ISB` (what `core::hint::spin_loop` emits), two threads
//! creating and joining a third cost 588,000 instructions per pair on four cores instead of
//! 111,000, as waiters for the kernel lock spun out their slices.

/// One turn of a wait loop.
#[inline(always)]
pub fn cpu_relax() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a hint; it touches no memory and no register.
    unsafe {
        core::arch::asm!("yield", options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(target_arch = "aarch64"))]
    core::hint::spin_loop();
}

/// [`cpu_relax`] as the wait of `spin`'s locks.
pub struct CpuRelax;

impl spin::relax::RelaxStrategy for CpuRelax {
    #[inline(always)]
    fn relax() {
        cpu_relax();
    }
}
