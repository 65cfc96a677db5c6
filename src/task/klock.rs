//! The kernel lock: one core at a time runs the kernel on behalf of tasks (Linux 2.0's SMP, and
//! its big kernel lock until 2.6.39).
//!
//! A core takes it on every trap from EL0 and gives it back on the way out; switching tasks in
//! between hands it from one task to the next on the same core, and an idle core gives it back
//! while it waits. So everything a task reaches from the kernel (the task table, another core's
//! running task, the shared mm, files and signal state) is touched by one core at a time, and
//! the single-core reasoning of the rest of the kernel holds, while user code runs on every core
//! at once. It is a ticket lock: cores get it in the order they asked, and the spin is a `YIELD`,
//! which QEMU's round-robin TCG takes as a hint to run another core.
//!
//! Giving the lock back is also where other cores are told of work for them: a core whose running
//! task was sent a signal or asked to exit (`kick_cpu`), and an idle core while a task waits in
//! the run queue, get an SGI, so that they come into the kernel and take the lock in their turn.
//!
//! At the end of the run every other core is stopped at the lock's door (`stop_others`): it
//! leaves its user address space and waits for ever, holding nothing.
use crate::arch::aarch64::smp::{cpu_id, online, MAX_CPUS};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);
static SERVING: AtomicU32 = AtomicU32::new(0);
/// The core holding the lock, plus one (0: nobody), for the debug checks.
static OWNER: AtomicUsize = AtomicUsize::new(0);

/// Cores to interrupt when the lock is next given back: each bit a core whose running task has
/// news (a signal, a stop, an exit).
static KICKS: AtomicUsize = AtomicUsize::new(0);
/// Cores idle without the lock, waiting for an interrupt.
static IDLE: AtomicUsize = AtomicUsize::new(0);
/// Tasks in the run queue (kept by the scheduler), so that the unlock path sees at a glance
/// whether an idle core is wanted.
pub static QUEUED: AtomicUsize = AtomicUsize::new(0);

static STOPPING: AtomicBool = AtomicBool::new(false);
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Takes the kernel lock for this core.
#[inline]
pub fn lock() {
    let ticket = NEXT.fetch_add(1, Ordering::Relaxed);
    while SERVING.load(Ordering::Acquire) != ticket {
        if STOPPING.load(Ordering::Relaxed) {
            park();
        }
        core::hint::spin_loop();
    }
    debug_assert_eq!(OWNER.load(Ordering::Relaxed), 0, "kernel lock taken twice");
    OWNER.store(cpu_id() + 1, Ordering::Relaxed);
}

/// Gives the kernel lock back, first interrupting the cores that have work waiting.
#[inline]
pub fn unlock() {
    debug_assert!(
        held(),
        "kernel lock released by a core that does not hold it"
    );
    if KICKS.load(Ordering::Relaxed) != 0
        || (QUEUED.load(Ordering::Relaxed) != 0 && IDLE.load(Ordering::Relaxed) != 0)
    {
        send_kicks();
    }
    OWNER.store(0, Ordering::Relaxed);
    SERVING.fetch_add(1, Ordering::Release);
}

/// Whether this core holds the kernel lock.
pub fn held() -> bool {
    OWNER.load(Ordering::Relaxed) == cpu_id() + 1
}

#[inline(never)]
fn send_kicks() {
    let mut mask = KICKS.swap(0, Ordering::Relaxed);
    let idle = IDLE.load(Ordering::Relaxed);
    if QUEUED.load(Ordering::Relaxed) != 0 && idle != 0 {
        // One idle core for the queue: when it returns to EL0 with a task, this runs again and
        // wakes the next one if tasks are still waiting.
        mask |= idle & idle.wrapping_neg();
    }
    let me = cpu_id();
    for cpu in (0..MAX_CPUS).filter(|&c| c != me && mask & (1 << c) != 0) {
        crate::drivers::gic::kick(cpu);
    }
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
    let me = cpu_id();
    for cpu in (0..online()).filter(|&c| c != me) {
        crate::drivers::gic::kick(cpu);
    }
    let until = crate::arch::aarch64::timer::ticks() + crate::arch::aarch64::timer::frequency();
    while PARKED.load(Ordering::Acquire) < others && crate::arch::aarch64::timer::ticks() < until {
        core::hint::spin_loop();
    }
}

fn park() -> ! {
    crate::mm::vm_space::VmSpace::deactivate_all();
    PARKED.fetch_add(1, Ordering::Release);
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Whether the run is ending (idle cores then stop instead of waiting).
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Relaxed)
}

/// Parks this core if the run is ending.
pub fn park_if_stopping() {
    if stopping() {
        park();
    }
}
