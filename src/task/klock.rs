//! The kernel lock: one core at a time runs the kernel on behalf of tasks (Linux 2.0's SMP, and
//! its big kernel lock until 2.6.39).
//!
//! A core takes it on every trap from EL0 and gives it back on the way out; switching tasks in
//! between hands it from one task to the next on the same core, and an idle core gives it back
//! while it waits. So everything a task reaches from the kernel (the task table, another core's
//! running task, the shared mm, files and signal state) is touched by one core at a time, and
//! the single-core reasoning of the rest of the kernel holds, while user code runs on every core
//! at once. It is a ticket lock: cores get it in the order they asked. A core that does not get it
//! soon sleeps in `WFI` until the holder's unlock kicks it: on a host with fewer CPUs than the
//! machine has cores, a spinning core would take the host CPU that the holder needs.
//!
//! Giving the lock back is also where other cores are told of work for them: a core whose running
//! task was sent a signal or asked to exit (`kick_cpu`), and an idle core while a task waits in
//! the run queue, get an SGI, so that they come into the kernel and take the lock in their turn.
//!
//! At the end of the run every other core is stopped at the lock's door (`stop_others`): it
//! leaves its user address space and waits for ever, holding nothing.
use crate::arch::aarch64::smp::{cpu_id, online, MAX_CPUS};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);
static SERVING: AtomicU32 = AtomicU32::new(0);
/// The core holding the lock, plus one (0: nobody): [`held`].
static OWNER: AtomicUsize = AtomicUsize::new(0);

/// Cores to interrupt when the lock is next given back: each bit a core whose running task has
/// news (a signal, a stop, an exit).
static KICKS: AtomicUsize = AtomicUsize::new(0);
/// Cores idle without the lock, waiting for an interrupt.
static IDLE: AtomicUsize = AtomicUsize::new(0);
/// Cores that may run a task queued since idle cores were last woken (the union of the queued
/// tasks' affinities): one idle core among them is woken to take it, as Linux's wake-up picks
/// one idle CPU.
static WANTED: AtomicU64 = AtomicU64::new(0);

/// Set once a second core runs the kernel: until then (and for good on a one-core machine) there
/// is nobody to exclude, and the lock costs one load.
static SHARED: AtomicBool = AtomicBool::new(false);

/// A second core is about to run tasks: from now on the lock is taken. Called by the boot core
/// before any task exists, with no lock held.
pub fn enable() {
    SHARED.store(true, Ordering::SeqCst);
}

static STOPPING: AtomicBool = AtomicBool::new(false);
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Cores asleep in [`lock`], to kick at each unlock.
static SLEEPING: AtomicUsize = AtomicUsize::new(0);

/// Turns of the wait loop before a core waiting for the lock sleeps.
const SPINS: u32 = 256;

/// Takes the kernel lock for this core.
#[inline]
pub fn lock() {
    if !SHARED.load(Ordering::Relaxed) {
        return;
    }
    let ticket = NEXT.fetch_add(1, Ordering::Relaxed);
    if SERVING.load(Ordering::Acquire) != ticket {
        wait_for_turn(ticket);
    }
    debug_assert_eq!(OWNER.load(Ordering::Relaxed), 0, "kernel lock taken twice");
    OWNER.store(cpu_id() + 1, Ordering::Relaxed);
}

#[inline(never)]
fn wait_for_turn(ticket: u32) {
    let me = 1 << cpu_id();
    let mut spins = 0;
    while SERVING.load(Ordering::Acquire) != ticket {
        if STOPPING.load(Ordering::Relaxed) {
            park();
        }
        if spins < SPINS {
            spins += 1;
            crate::arch::aarch64::relax::cpu_relax();
            continue;
        }
        // Announce the sleep, then look again: an unlock either sees the announcement and
        // kicks, or came before the look (both sides are sequentially consistent).
        SLEEPING.fetch_or(me, Ordering::SeqCst);
        if SERVING.load(Ordering::SeqCst) != ticket {
            // An interrupt wakes WFI even while masked; taking it here (a tick, input, a kick)
            // lets the next WFI sleep again.
            aarch64_cpu::asm::wfi();
            crate::console::irq_taken(crate::drivers::gic::handle_irq());
        }
        SLEEPING.fetch_and(!me, Ordering::SeqCst);
    }
}

/// Gives the kernel lock back, first interrupting the cores that have work waiting.
#[inline]
pub fn unlock() {
    if !SHARED.load(Ordering::Relaxed) {
        return;
    }
    debug_assert!(
        held(),
        "kernel lock released by a core that does not hold it"
    );
    if KICKS.load(Ordering::Relaxed) != 0
        || (WANTED.load(Ordering::Relaxed) != 0 && IDLE.load(Ordering::Relaxed) != 0)
    {
        send_kicks();
    }
    OWNER.store(0, Ordering::Relaxed);
    SERVING.fetch_add(1, Ordering::SeqCst);
    if SLEEPING.load(Ordering::SeqCst) != 0 {
        wake_sleepers();
    }
}

/// Kicks the cores asleep in [`lock`]: the next in line takes the lock, the others sleep again.
#[inline(never)]
fn wake_sleepers() {
    kick_mask(SLEEPING.load(Ordering::Relaxed));
}

/// Interrupts every core of `mask` but this one.
fn kick_mask(mask: usize) {
    let me = cpu_id();
    for cpu in (0..MAX_CPUS).filter(|&c| c != me && mask & (1 << c) != 0) {
        crate::drivers::gic::kick(cpu);
    }
}

/// Whether this core holds the kernel lock.
pub fn held() -> bool {
    !SHARED.load(Ordering::Relaxed) || OWNER.load(Ordering::Relaxed) == cpu_id() + 1
}

#[inline(never)]
fn send_kicks() {
    let mask = KICKS.swap(0, Ordering::Relaxed);
    let idle = IDLE.load(Ordering::Relaxed) & WANTED.swap(0, Ordering::Relaxed) as usize;
    // The woken core, if it leaves tasks in the queue, wants another (`want_cpu` in the
    // scheduler's pick).
    kick_mask(mask | (idle & idle.wrapping_neg()));
}

/// A task that may run on the cores of `allowed` was queued: one of them, if idle, is woken at
/// the next unlock.
#[inline]
pub fn want_cpu(allowed: u64) {
    WANTED.fetch_or(allowed, Ordering::Relaxed);
}

/// Asks core `cpu` to look at its running task at the next unlock.
pub fn kick_cpu(cpu: usize) {
    KICKS.fetch_or(1 << cpu, Ordering::Relaxed);
}

/// This core stops holding the lock to wait for an interrupt; [`idle_end`] when it is woken.
pub fn idle_begin() {
    IDLE.fetch_or(1 << cpu_id(), Ordering::Relaxed);
    unlock();
}

/// This core woke from its idle wait: it takes the lock back.
pub fn idle_end() {
    IDLE.fetch_and(!(1 << cpu_id()), Ordering::Relaxed);
    lock();
}

/// Stops every other core, for the end of the run: each leaves its user tables and waits for
/// ever, so that the caller may free everything. Returns once all have stopped (or after a
/// second, for a core that does not answer).
pub fn stop_others() {
    debug_assert!(held());
    let others = online() - 1;
    if others == 0 {
        return;
    }
    STOPPING.store(true, Ordering::SeqCst);
    kick_mask((1 << online()) - 1);
    let until = crate::arch::aarch64::timer::ticks() + crate::arch::aarch64::timer::frequency();
    while PARKED.load(Ordering::Acquire) < others && crate::arch::aarch64::timer::ticks() < until {
        crate::arch::aarch64::relax::cpu_relax();
    }
}

fn park() -> ! {
    crate::mm::vm_space::VmSpace::deactivate_all();
    PARKED.fetch_add(1, Ordering::Release);
    loop {
        aarch64_cpu::asm::wfe();
    }
}
