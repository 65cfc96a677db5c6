//! Arm GICv2 (Arm IHI 0048B) and the EL1 virtual timer: the tick that preempts a process which
//! never enters the kernel.
//!
//! The timer's private interrupt and the console UART's are enabled. The kernel runs with
//! interrupts masked (every
//! exception entry sets PSTATE.I and nothing clears it), so the tick is always taken from EL0,
//! at the boundary where the scheduler can switch. A GICv3 machine (`-machine gic-version=3`) gets
//! no tick: processes then switch only when they block or exit.
use aarch64_cpu::registers::{Writeable, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTV_TVAL_EL0};
use core::sync::atomic::{AtomicUsize, Ordering};
use tock_registers::interfaces::Readable as _;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_structs! {
    #[allow(non_snake_case)]
    Distributor {
        (0x000 => CTLR: ReadWrite<u32>),
        (0x004 => _reserved0),
        (0x100 => ISENABLER: [ReadWrite<u32>; 32]),
        (0x180 => _reserved1),
        (0x400 => IPRIORITYR: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved2),
        (0x800 => ITARGETSR: [ReadWrite<u32>; 255]),
        (0xbfc => _reserved3),
        (0xc00 => @END),
    }
}

register_structs! {
    #[allow(non_snake_case)]
    CpuInterface {
        (0x000 => CTLR: ReadWrite<u32>),
        (0x004 => PMR: ReadWrite<u32>),
        (0x008 => _reserved0),
        (0x00c => IAR: ReadOnly<u32>),
        (0x010 => EOIR: WriteOnly<u32>),
        (0x014 => @END),
    }
}

/// The EL1 virtual timer's private peripheral interrupt (PPI 11).
const VTIMER_INTID: usize = 27;
const SPURIOUS: u32 = 1023;
/// Scheduling tick: 10 ms of the counter (100 Hz, Linux's HZ on many configurations).
const TICK_HZ: u64 = 100;

static GICC: AtomicUsize = AtomicUsize::new(0);
/// The console UART's interrupt (0: not routed).
static UART_INTID: AtomicUsize = AtomicUsize::new(0);

fn gicc() -> Option<&'static CpuInterface> {
    let base = GICC.load(Ordering::Relaxed);
    // SAFETY: set once by `init` to the mapped CPU interface; device memory, volatile accesses.
    (base != 0).then(|| unsafe { &*(base as *const CpuInterface) })
}

fn arm_timer() {
    CNTV_TVAL_EL0.set(crate::arch::aarch64::timer::frequency() / TICK_HZ);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Enables the timer interrupt, and the console UART's (`uart_intid`, from the device tree; 0
/// for none). `dist` and `cpu` are the mapped register blocks of a GICv2.
///
/// # Safety
/// Both addresses must map a GICv2 that nothing else drives.
pub unsafe fn init(dist: usize, cpu: usize, uart_intid: usize) {
    // SAFETY: forwarded from the caller.
    let (d, c) = unsafe {
        (
            &*(dist as *const Distributor),
            &*(cpu as *const CpuInterface),
        )
    };
    d.CTLR.set(0);
    let reg = VTIMER_INTID / 4;
    let shift = (VTIMER_INTID % 4) * 8;
    let prio = d.IPRIORITYR[reg].get() & !(0xff << shift);
    d.IPRIORITYR[reg].set(prio | (0x80 << shift));
    d.ISENABLER[VTIMER_INTID / 32].set(1 << (VTIMER_INTID % 32));
    if (32..1020).contains(&uart_intid) {
        // A shared peripheral interrupt: priority, delivered to CPU 0, enabled.
        let (reg, shift) = (uart_intid / 4, (uart_intid % 4) * 8);
        let prio = d.IPRIORITYR[reg].get() & !(0xff << shift);
        d.IPRIORITYR[reg].set(prio | (0x80 << shift));
        let t = d.ITARGETSR[reg].get() & !(0xff << shift);
        d.ITARGETSR[reg].set(t | (1 << shift));
        d.ISENABLER[uart_intid / 32].set(1 << (uart_intid % 32));
        UART_INTID.store(uart_intid, Ordering::Relaxed);
    }
    d.CTLR.set(1);
    c.PMR.set(0xff);
    c.CTLR.set(1);
    GICC.store(cpu, Ordering::Relaxed);
    arm_timer();
}

/// Acknowledges a pending interrupt; `true` when it was the scheduling tick.
pub fn handle_irq() -> bool {
    let Some(c) = gicc() else {
        return false;
    };
    let iar = c.IAR.get();
    let intid = iar & 0x3ff;
    if intid == SPURIOUS {
        return false;
    }
    let tick = intid as usize == VTIMER_INTID;
    if tick {
        arm_timer();
    }
    if intid as usize == UART_INTID.load(Ordering::Relaxed) {
        crate::console::poll_input();
    }
    c.EOIR.set(iar);
    tick
}

/// Waits until the uptime clock reaches `deadline_ns` or console input arrives, the CPU idle in
/// `WFI` (nothing is runnable): the timer is set to fire at the deadline, or at the next tick if
/// that is sooner, and each interrupt is acknowledged. Without a GICv2 (no interrupt would ever
/// wake `WFI`), it watches the counter and the UART instead.
pub fn idle_until(deadline_ns: u64) {
    let events = crate::fs::pipe::events();
    use crate::arch::aarch64::timer;
    let freq = timer::frequency();
    let deadline = (deadline_ns as u128 * freq as u128).div_ceil(1_000_000_000) as u64;
    let tick = freq / TICK_HZ;
    loop {
        let now = timer::ticks();
        if now >= deadline || crate::fs::pipe::events() != events {
            return;
        }
        if gicc().is_none() {
            crate::console::poll_input();
            core::hint::spin_loop();
            continue;
        }
        CNTV_CVAL_EL0.set(deadline.min(now + tick));
        CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        // An interrupt wakes WFI even while PSTATE.I masks it; it is then acknowledged here.
        aarch64_cpu::asm::wfi();
        handle_irq();
    }
}

/// Waits for the next interrupt and handles it (nothing can run until input arrives or a timer
/// fires). Without a GICv2 it polls the console for a tick's time instead.
pub fn wait_for_interrupt() {
    use crate::arch::aarch64::timer;
    if gicc().is_none() {
        let until = timer::ticks() + timer::frequency() / TICK_HZ;
        while timer::ticks() < until {
            crate::console::poll_input();
            core::hint::spin_loop();
        }
        return;
    }
    aarch64_cpu::asm::wfi();
    handle_irq();
}
