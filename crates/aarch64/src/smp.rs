//! The cores: which one this is, and starting the others.
//!
//! Each core keeps its index in `TPIDR_EL1` (the boot core's is set to 0 before anything else
//! runs), which the kernel's per-CPU data is indexed by. A secondary core is started with PSCI
//! CPU_ON at `secondary_entry` (boot.rs) and handed a `BootBlock`: the MMU configuration the
//! boot core built, and the stack and function to run on it. Cores are started one at a time, so
//! one block serves them all.
use aarch64_cpu::registers::{Readable, MAIR_EL1, TCR_EL1, TPIDR_EL1, TTBR1_EL1};
use core::sync::atomic::{AtomicUsize, Ordering};

pub use crate::MAX_CPUS;

/// This core's index: 0 for the boot core, then in device-tree order.
#[inline(always)]
pub fn cpu_id() -> usize {
    TPIDR_EL1.get() as usize
}

/// What `secondary_entry` reads, with the MMU off: layout shared with boot.rs.
#[repr(C, align(64))]
struct BootBlock {
    ttbr1: u64,
    tcr: u64,
    mair: u64,
    stack_top: u64,
    cpu: u64,
    entry: u64,
}

/// The block for the core being started; written only by the boot core while no core reads it.
static BLOCK: spin::mutex::Mutex<BootBlock, crate::relax::CpuRelax> =
    spin::mutex::Mutex::new(BootBlock {
        ttbr1: 0,
        tcr: 0,
        mair: 0,
        stack_top: 0,
        cpu: 0,
        entry: 0,
    });

/// Cores that reached [`secondary_online`].
static ONLINE: AtomicUsize = AtomicUsize::new(1);

/// Why a core did not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// PSCI refused CPU_ON with this status.
    Psci(i64),
    /// CPU_ON succeeded but the core never reported in.
    Timeout,
}

/// Starts core `cpu` (MPIDR `mpidr`) on the stack whose top is `stack_top`, running
/// `entry(cpu, stack_top)`
/// with the MMU on, this core's translation tables and interrupts masked; returns once it has
/// called [`secondary_online`].
pub fn start_cpu(
    cpu: usize,
    mpidr: u64,
    stack_top: usize,
    entry: extern "C" fn(usize, usize) -> !,
) -> Result<(), StartError> {
    extern "C" {
        static secondary_entry: u8;
    }
    let mut b = BLOCK.lock();
    *b = BootBlock {
        ttbr1: TTBR1_EL1.get(),
        tcr: TCR_EL1.get(),
        mair: MAIR_EL1.get(),
        stack_top: stack_top as u64,
        cpu: cpu as u64,
        entry: entry as usize as u64,
    };
    let block = &*b as *const BootBlock as usize;
    // The core reads the block with its MMU off, straight from memory.
    crate::cache::clean_to_poc(block, core::mem::size_of::<BootBlock>());
    let phys =
        |va: usize| tidemark_mm::layout::virt_to_phys(tidemark_mm::addr::VirtAddr(va)).as_usize();
    let before = ONLINE.load(Ordering::Acquire);
    let status = crate::psci::cpu_on(
        mpidr,
        phys(&raw const secondary_entry as usize) as u64,
        phys(block) as u64,
    );
    if status != 0 {
        return Err(StartError::Psci(status));
    }
    let timer = crate::timer::frequency();
    let until = crate::timer::ticks() + timer;
    while ONLINE.load(Ordering::Acquire) == before {
        if crate::timer::ticks() > until {
            return Err(StartError::Timeout);
        }
        crate::relax::cpu_relax();
    }
    Ok(())
}

/// A secondary core is up: its boot block may be reused.
pub fn secondary_online() {
    ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// Cores running the kernel.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}
