//! Arm GICv2 (Arm IHI 0048B) and GICv3 (Arm IHI 0069), and the EL1 virtual timer: the tick that
//! preempts a process which never enters the kernel.
//!
//! The timer's private interrupt and the console UART's are enabled. The kernel runs with
//! interrupts masked (every exception entry sets PSTATE.I and nothing clears it), so the tick is
//! always taken from EL0, at the boundary where the scheduler can switch. A GICv2 has a
//! memory-mapped CPU interface; a GICv3 has a redistributor per CPU for its private interrupts
//! and a CPU interface in system registers (`arch::aarch64::gic_cpuif`), and routes shared
//! interrupts by affinity instead of target masks.
use crate::arch::aarch64::smp::{cpu_id, MAX_CPUS};
use aarch64_cpu::registers::{Writeable, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTV_TVAL_EL0};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
        (0xf00 => SGIR: WriteOnly<u32>),
        (0xf04 => @END),
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

register_structs! {
    #[allow(non_snake_case)]
    DistributorV3 {
        (0x0000 => CTLR: ReadWrite<u32>),
        (0x0004 => _reserved0),
        (0x0080 => IGROUPR: [ReadWrite<u32>; 32]),
        (0x0100 => ISENABLER: [ReadWrite<u32>; 32]),
        (0x0180 => _reserved1),
        (0x0400 => IPRIORITYR: [ReadWrite<u32>; 255]),
        (0x07fc => _reserved2),
        (0x6000 => IROUTER: [ReadWrite<u64>; 1020]),
        (0x7fe0 => @END),
    }
}

register_structs! {
    /// A redistributor's control frame (`RD_base`).
    #[allow(non_snake_case)]
    Redistributor {
        (0x0000 => CTLR: ReadWrite<u32>),
        (0x0004 => IIDR: ReadOnly<u32>),
        (0x0008 => TYPER: ReadOnly<u64>),
        (0x0010 => STATUSR: ReadWrite<u32>),
        (0x0014 => WAKER: ReadWrite<u32>),
        (0x0018 => @END),
    }
}

register_structs! {
    /// A redistributor's frame for its private interrupts (`SGI_base`, 64 KiB after `RD_base`).
    #[allow(non_snake_case)]
    RedistributorSgi {
        (0x0000 => _reserved0),
        (0x0080 => IGROUPR0: ReadWrite<u32>),
        (0x0084 => _reserved1),
        (0x0100 => ISENABLER0: ReadWrite<u32>),
        (0x0104 => _reserved2),
        (0x0400 => IPRIORITYR: [ReadWrite<u32>; 8]),
        (0x0420 => @END),
    }
}

/// GICD_CTLR with affinity routing (ARE) and both groups enabled, as Linux sets it.
const GICD_CTLR_V3: u32 = (1 << 4) | (1 << 1) | 1;
/// GICD_CTLR.RWP: a register write is still taking effect.
const GICD_CTLR_RWP: u32 = 1 << 31;
/// GICR_WAKER's ProcessorSleep and ChildrenAsleep.
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// GICR_TYPER.Last: the last redistributor of the region.
const GICR_TYPER_LAST: u64 = 1 << 4;
/// Bytes of one redistributor (RD_base and SGI_base frames) in a GICv3.
const REDIST_STRIDE: usize = 0x2_0000;

/// The EL1 virtual timer's private peripheral interrupt (PPI 11).
const VTIMER_INTID: usize = 27;
const SPURIOUS: u32 = 1023;
/// Scheduling tick: 10 ms of the counter (100 Hz, Linux's HZ on many configurations).
const TICK_HZ: u64 = 100;

/// The software-generated interrupt that asks a core to look at its task again (a signal for it,
/// a task for it to run): Linux's reschedule IPI.
pub const SGI_KICK: u32 = 0;

static GICD: AtomicUsize = AtomicUsize::new(0);
static GICC: AtomicUsize = AtomicUsize::new(0);
/// A GICv3's redistributor region (base, length), searched by each core for its own.
static REDIST: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
/// How an SGI names each core: its GICv2 CPU-interface bit, or its GICv3 affinity.
static SGI_TARGET: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// A GICv3 drives the interrupts (its CPU interface is system registers).
static V3: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// The console UART's interrupt (0: not routed).
static UART_INTID: AtomicUsize = AtomicUsize::new(0);

fn gicc() -> Option<&'static CpuInterface> {
    let base = GICC.load(Ordering::Relaxed);
    // SAFETY: set once by `init` to the mapped CPU interface; device memory, volatile accesses.
    (base != 0).then(|| unsafe { &*(base as *const CpuInterface) })
}

/// Gives interrupt `intid` the middle priority (0x80) in a block of `GICD/GICR_IPRIORITYR`
/// registers, four byte-wide fields each.
fn set_priority(regs: &[ReadWrite<u32>], intid: usize) {
    let (reg, shift) = (intid / 4, (intid % 4) * 8);
    let prio = regs[reg].get() & !(0xff << shift);
    regs[reg].set(prio | (0x80 << shift));
}

fn arm_timer() {
    CNTV_TVAL_EL0.set(crate::arch::aarch64::timer::frequency() / TICK_HZ);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Enables the timer interrupt, and the console UART's (`uart_intid`, from the device tree; 0
/// for none, else delivered to this core), then this core's interface ([`init_cpu`]). `dist` and
/// `cpu` are the mapped register blocks of a GICv2.
///
/// # Safety
/// Both addresses must map a GICv2 that nothing else drives.
pub unsafe fn init(dist: usize, cpu: usize, uart_intid: usize) {
    // SAFETY: forwarded from the caller.
    let d = unsafe { &*(dist as *const Distributor) };
    d.CTLR.set(0);
    GICD.store(dist, Ordering::Relaxed);
    GICC.store(cpu, Ordering::Relaxed);
    init_cpu_v2(d);
    if (32..1020).contains(&uart_intid) {
        // A shared peripheral interrupt: priority, delivered to this core, enabled.
        set_priority(&d.IPRIORITYR, uart_intid);
        let (reg, shift) = (uart_intid / 4, (uart_intid % 4) * 8);
        let own = SGI_TARGET[cpu_id()].load(Ordering::Relaxed) as u32;
        let t = d.ITARGETSR[reg].get() & !(0xff << shift);
        d.ITARGETSR[reg].set(t | (own << shift));
        d.ISENABLER[uart_intid / 32].set(1 << (uart_intid % 32));
        UART_INTID.store(uart_intid, Ordering::Relaxed);
    }
    d.CTLR.set(1);
}

/// A GICv2 core's banked private interrupts (the timer's and the kick's priorities and enables)
/// and its CPU interface; its timer starts.
fn init_cpu_v2(d: &Distributor) {
    let Some(c) = gicc() else { return };
    set_priority(&d.IPRIORITYR, VTIMER_INTID);
    set_priority(&d.IPRIORITYR, SGI_KICK as usize);
    d.ISENABLER[0].set((1 << VTIMER_INTID) | (1 << SGI_KICK));
    // ITARGETSR0..7 read back this core's own interface bit (GICv2 4.3.12).
    let own = d.ITARGETSR[0].get() & 0xff;
    SGI_TARGET[cpu_id()].store(own as u64, Ordering::Relaxed);
    c.PMR.set(0xff);
    c.CTLR.set(1);
    arm_timer();
}

/// Brings up this core's part of the interrupt controller (a secondary core, after the boot
/// core's `init` or `init_v3`): its private interrupts, its CPU interface, its timer.
pub fn init_cpu(mpidr: u64) {
    if V3.load(Ordering::Relaxed) {
        init_cpu_v3(mpidr);
    } else if GICD.load(Ordering::Relaxed) != 0 {
        // SAFETY: the distributor `init` mapped and recorded.
        let d = unsafe { &*(GICD.load(Ordering::Relaxed) as *const Distributor) };
        init_cpu_v2(d);
    }
}

/// Interrupts core `cpu` with [`SGI_KICK`].
pub fn kick(cpu: usize) {
    let target = SGI_TARGET[cpu].load(Ordering::Relaxed);
    if V3.load(Ordering::Relaxed) {
        // ICC_SGI1R_EL1: Aff3 [55:48], Aff2 [39:32], INTID [27:24], Aff1 [23:16], TargetList
        // [15:0] (one bit per Aff0, which is below 16 on every core that can be named).
        let aff0 = target & 0xff;
        if aff0 >= 16 {
            return;
        }
        let v = ((target >> 24) & 0xff) << 48
            | ((target >> 16) & 0xff) << 32
            | (SGI_KICK as u64) << 24
            | ((target >> 8) & 0xff) << 16
            | 1 << aff0;
        crate::arch::aarch64::gic_cpuif::send_sgi1(v);
    } else if GICD.load(Ordering::Relaxed) != 0 {
        // SAFETY: as in `init_cpu`.
        let d = unsafe { &*(GICD.load(Ordering::Relaxed) as *const Distributor) };
        // GICD_SGIR: the target list filter 0 (the list), the list, the interrupt; after a
        // barrier, so that the target sees what it is kicked for.
        crate::arch::aarch64::barrier::store_barrier();
        d.SGIR.set(((target as u32 & 0xff) << 16) | SGI_KICK);
    }
}

/// Enables the timer interrupt and the console UART's (`uart_intid`; 0 for none) on a GICv3:
/// `dist` is the mapped distributor, `redist` this CPU's mapped redistributor region, searched
/// for the redistributor whose affinity is `mpidr`'s.
///
/// # Safety
/// Both addresses must map a GICv3 that nothing else drives, `redist` its whole region.
pub unsafe fn init_v3(
    dist: usize,
    redist: usize,
    redist_len: usize,
    mpidr: u64,
    uart_intid: usize,
) {
    // SAFETY: forwarded from the caller.
    let d = unsafe { &*(dist as *const DistributorV3) };
    let wait_rwp = || while d.CTLR.get() & GICD_CTLR_RWP != 0 {};
    d.CTLR.set(0);
    wait_rwp();
    GICD.store(dist, Ordering::Relaxed);
    REDIST.0.store(redist, Ordering::Relaxed);
    REDIST.1.store(redist_len, Ordering::Relaxed);
    if !init_cpu_v3(mpidr) {
        return;
    }
    let aff = affinity(mpidr);
    if (32..1020).contains(&uart_intid) {
        // A shared peripheral interrupt: Group 1, a priority, routed to this CPU, enabled.
        set_priority(&d.IPRIORITYR, uart_intid);
        let g = &d.IGROUPR[uart_intid / 32];
        g.set(g.get() | (1 << (uart_intid % 32)));
        d.IROUTER[uart_intid].set(aff & 0xff_ffff | (aff >> 24) << 32);
        d.ISENABLER[uart_intid / 32].set(1 << (uart_intid % 32));
        UART_INTID.store(uart_intid, Ordering::Relaxed);
    }
    d.CTLR.set(GICD_CTLR_V3);
    wait_rwp();
    V3.store(true, Ordering::Relaxed);
}

/// Aff3.Aff2.Aff1.Aff0 of an MPIDR, as GICR_TYPER[63:32] holds it.
fn affinity(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24
}

/// A GICv3 core: finds its redistributor, wakes it, enables its timer and kick interrupts and its
/// CPU interface, and starts its timer. `false` if it has no redistributor.
fn init_cpu_v3(mpidr: u64) -> bool {
    let (redist, redist_len) = (
        REDIST.0.load(Ordering::Relaxed),
        REDIST.1.load(Ordering::Relaxed),
    );
    let aff = affinity(mpidr);
    // This CPU's redistributor: GICR_TYPER[63:32] holds its affinity.
    let mut rd_base = None;
    let mut off = 0;
    while off + REDIST_STRIDE <= redist_len {
        // SAFETY: inside the mapped region `init_v3` was given.
        let r = unsafe { &*((redist + off) as *const Redistributor) };
        let typer = r.TYPER.get();
        if typer >> 32 == aff {
            rd_base = Some(redist + off);
            break;
        }
        if typer & GICR_TYPER_LAST != 0 {
            break;
        }
        off += REDIST_STRIDE;
    }
    let Some(rd) = rd_base else {
        log::warn!(
            "GICv3: no redistributor for CPU {}: no scheduling tick",
            cpu_id()
        );
        return false;
    };
    // SAFETY: the redistributor found above and its SGI frame, 64 KiB on.
    let (r, sgi) = unsafe {
        (
            &*(rd as *const Redistributor),
            &*((rd + 0x1_0000) as *const RedistributorSgi),
        )
    };
    r.WAKER.set(r.WAKER.get() & !WAKER_PROCESSOR_SLEEP);
    while r.WAKER.get() & WAKER_CHILDREN_ASLEEP != 0 {}
    set_priority(&sgi.IPRIORITYR, VTIMER_INTID);
    set_priority(&sgi.IPRIORITYR, SGI_KICK as usize);
    let mask = (1 << VTIMER_INTID) | (1 << SGI_KICK);
    sgi.IGROUPR0.set(sgi.IGROUPR0.get() | mask);
    sgi.ISENABLER0.set(mask);
    SGI_TARGET[cpu_id()].store(aff, Ordering::Relaxed);
    crate::arch::aarch64::gic_cpuif::enable();
    arm_timer();
    true
}

/// Whether an interrupt controller delivers interrupts (else idle waits poll).
fn active() -> bool {
    V3.load(Ordering::Relaxed) || gicc().is_some()
}

/// Which interrupt [`handle_irq`] took; the caller acts on it (the console's input is the
/// console's to read: this driver only says it arrived).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// Nothing was pending (or a spurious interrupt).
    None,
    /// The scheduling tick (already re-armed).
    Tick,
    /// The UART has input.
    Console,
    /// Anything else: a kick from another core, which needs nothing more than the wake-up.
    Other,
}

/// Acknowledges a pending interrupt and says which it was.
pub fn handle_irq() -> Irq {
    use crate::arch::aarch64::gic_cpuif;
    let v3 = V3.load(Ordering::Relaxed);
    let c = gicc();
    let iar = if v3 {
        gic_cpuif::acknowledge()
    } else if let Some(c) = c {
        c.IAR.get()
    } else {
        return Irq::None;
    };
    let intid = iar & 0xff_ffff;
    if (1020..=SPURIOUS).contains(&intid) {
        return Irq::None;
    }
    let intid = (intid & 0x3ff) as usize;
    let irq = if intid == VTIMER_INTID {
        arm_timer();
        Irq::Tick
    } else if intid == UART_INTID.load(Ordering::Relaxed) {
        Irq::Console
    } else {
        Irq::Other
    };
    match c {
        Some(c) if !v3 => c.EOIR.set(iar),
        _ => gic_cpuif::end(iar),
    }
    irq
}

/// An idle core's wait (nothing to run, the kernel lock given back): until the uptime clock
/// reaches `deadline_ns` if there is one, or any interrupt (input, a kick) comes; then the tick
/// is set again. Says which interrupt came. Without a GIC it waits a tick's time and says
/// [`Irq::Console`], so that the caller polls the console that often.
pub fn idle_wait(deadline_ns: Option<u64>) -> Irq {
    use crate::arch::aarch64::timer;
    let freq = timer::frequency();
    if !active() {
        let until = timer::ticks() + freq / TICK_HZ;
        while timer::ticks() < until {
            crate::arch::aarch64::relax::cpu_relax();
        }
        return Irq::Console;
    }
    match deadline_ns {
        Some(d) => {
            let at = (d as u128 * freq as u128).div_ceil(1_000_000_000) as u64;
            if at <= timer::ticks() {
                return Irq::None;
            }
            CNTV_CVAL_EL0.set(at);
            CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        }
        None => CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR),
    }
    // An interrupt wakes WFI even while PSTATE.I masks it; it is then acknowledged here.
    aarch64_cpu::asm::wfi();
    let irq = handle_irq();
    arm_timer();
    irq
}
