//! The generic timer's virtual counter: time since boot, and EL0 access to it.
use aarch64_cpu::registers::{Readable, Writeable, CNTFRQ_EL0, CNTKCTL_EL1, CNTVCT_EL0};

/// Counter ticks since power-on (QEMU starts the counter at zero).
pub fn ticks() -> u64 {
    CNTVCT_EL0.get()
}

pub fn frequency() -> u64 {
    CNTFRQ_EL0.get().max(1)
}

pub fn uptime_us() -> u64 {
    (ticks() as u128 * 1_000_000 / frequency() as u128) as u64
}

pub fn uptime_ns() -> u64 {
    ticks_to_ns(ticks())
}

/// A span of counter ticks in nanoseconds. Where a tick is a whole number of nanoseconds
/// (QEMU's 62.5 MHz counter: 16) one multiplication; else a 128-bit division, which the
/// compiler makes a call of some 40 instructions (the scheduler reads the time at every switch).
pub fn ticks_to_ns(t: u64) -> u64 {
    let f = frequency();
    if 1_000_000_000 % f == 0 {
        t.saturating_mul(1_000_000_000 / f)
    } else {
        (t as u128 * 1_000_000_000 / f as u128) as u64
    }
}

/// Lets EL0 read CNTVCT_EL0 and CNTFRQ_EL0 directly, as Linux does (the vDSO and benchmarks rely on it).
pub fn allow_el0_counter() {
    CNTKCTL_EL1.write(CNTKCTL_EL1::EL0VCTEN::SET);
}

/// The wall-clock time at counter zero, in nanoseconds since the epoch (set once at boot from the
/// RTC; 0 without one, so that CLOCK_REALTIME then starts at the epoch as Linux's does).
static REALTIME_AT_ZERO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Anchors CLOCK_REALTIME: the RTC says `epoch_seconds` now.
pub fn set_realtime(epoch_seconds: u64) {
    let at_zero = (epoch_seconds * 1_000_000_000).saturating_sub(uptime_ns());
    REALTIME_AT_ZERO.store(at_zero, core::sync::atomic::Ordering::Relaxed);
}

/// Sets CLOCK_REALTIME to `ns` since the epoch from now on (settimeofday, clock_settime).
pub fn set_realtime_ns(ns: u64) {
    let at_zero = ns.saturating_sub(uptime_ns());
    REALTIME_AT_ZERO.store(at_zero, core::sync::atomic::Ordering::Relaxed);
}

/// CLOCK_REALTIME, in nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    REALTIME_AT_ZERO.load(core::sync::atomic::Ordering::Relaxed) + uptime_ns()
}
