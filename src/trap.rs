//! Every task's life in the kernel: run its user code until it traps, handle the trap, and go
//! again ([`task_main`]); and the end of the run for an exception nobody handles.
use crate::arch::aarch64::esr::{AbortSyndrome, ExceptionClass, FaultKind};
use crate::arch::aarch64::exception::{enter_user, Report, ReturnReason, TrapFrame};
use crate::mm::fault::FaultAccess;
use crate::task::klock;
use crate::task::process::Process;
use crate::task::sched::{current, finish_trap, must_switch};
use crate::task::signal::{self, SIGBUS, SIGFPE, SIGILL, SIGTRAP};

/// ESR_EL1.EC values tested before the full decode, for the hot paths: an `svc` from AArch64
/// (`ExceptionClass::Svc64`) and aborts from EL0 (`InstrAbortLower`, `DataAbortLower`).
const EC_SVC64: u64 = 0x15;
const EC_IABT_LOW: u64 = 0x20;
const EC_DABT_LOW: u64 = 0x24;

/// Where every task starts (`sched::run_first` was given it), on its own kernel stack, with
/// `frame` its user frame at the top of that stack: the kernel lock goes back, then the task
/// runs at EL0 until it traps, the trap is handled, and round again. A trap the kernel cannot
/// handle ends the run with the decoded report.
pub extern "C" fn task_main(frame: usize) -> ! {
    crate::task::sched::schedule_tail();
    let frame = frame as *mut TrapFrame;
    loop {
        // SAFETY: `frame` is this task's user frame at the top of the stack this loop runs on
        // (`CpuContext::new_task` started it just below), and describes an EL0 context.
        let reason = unsafe { enter_user(frame) };
        // SAFETY: the vector saved the task's registers there; nothing else refers to them while
        // the task is in the kernel.
        let tf = unsafe { &mut *frame };
        match reason {
            ReturnReason::Sync => el0_sync(tf),
            ReturnReason::Irq => {
                klock::lock();
                user_irq(tf);
                klock::unlock();
            }
            ReturnReason::Other(_) => unhandled(tf, reason),
        }
    }
}

/// A trap from EL0 that nobody handles: the end of the run, with its report.
#[cold]
#[inline(never)]
fn unhandled(tf: &TrapFrame, reason: ReturnReason) -> ! {
    fatal_exception(&Report(tf, reason.vector()))
}

/// The end of the run for an exception the kernel cannot handle: the report, then exit status
/// [`STATUS_FATAL_EXCEPTION`](crate::exit::STATUS_FATAL_EXCEPTION). The AArch64 layer calls it
/// for exceptions at EL1 (`set_fatal_handler`).
pub fn fatal_exception(report: &dyn core::fmt::Display) -> ! {
    crate::console::break_lock();
    crate::println!("{report}");
    crate::exit::exit(crate::exit::STATUS_FATAL_EXCEPTION)
}

/// An interrupt from EL0: the timer tick, console input, or a kick from another core.
fn user_irq(tf: &mut TrapFrame) {
    // The timer tick: preempt the running process if another one is waiting, and act on
    // signals that arrived while it ran (a process that never enters the kernel still dies
    // of SIGKILL).
    let preempt = crate::console::irq_taken(crate::drivers::gic::handle_irq());
    // `^C` and friends typed at the console: the terminal's foreground group gets the signal,
    // whether it runs now or waits.
    let tty_signal = crate::console::take_signal();
    if let Some((pgrp, sig)) = tty_signal {
        crate::task::sched::TASKS.lock().signal_group(pgrp, sig);
    }
    if let Some(p) = current().lock().as_mut() {
        if let Some((pgrp, sig)) = tty_signal {
            if p.pgid == pgrp {
                let _ = p
                    .signals
                    .send(sig, crate::task::signal::SigInfo::kernel(sig));
            }
        }
        p.itimer_check(crate::arch::aarch64::timer::uptime_ns());
        p.itimer_cpu_check();
        if signal_work(p) {
            p.do_signal(tf);
        }
    }
    finish_trap(preempt);
}

/// A synchronous exception from EL0 (AArch64): a syscall, or a fault on private anonymous
/// memory without the kernel lock, or anything else under it. The class is tested once: the
/// syscall first, then the fault, both hot paths.
#[inline]
pub fn el0_sync(tf: &mut TrapFrame) {
    let esr = tf.esr;
    let ec = (esr >> 26) & 0x3f;
    if ec == EC_SVC64 {
        klock::lock();
        el0_svc(tf);
    } else {
        // A data abort with a translation or permission fault (FSC 0b0001xx, 0b0011xx, any
        // level): demand paging and copy-on-write.
        if ec == EC_DABT_LOW
            && esr & 0x34 == 0x04
            && crate::task::sched::user_fault_unlocked(tf.far as usize, data_access(esr))
        {
            return;
        }
        klock::lock();
        el0_sync_locked(tf);
    }
    klock::unlock();
}

/// Whether a data abort from EL0 was a write (ESR_EL1.WnR).
#[inline(always)]
fn data_access(esr: u64) -> FaultAccess {
    if (esr >> 6) & 1 == 1 {
        FaultAccess::Write
    } else {
        FaultAccess::Read
    }
}

/// A syscall from EL0, under the kernel lock.
#[inline]
fn el0_svc(tf: &mut TrapFrame) {
    let mut guard = current().lock();
    let Some(p) = guard.as_mut() else {
        unhandled(tf, ReturnReason::Sync);
    };
    if crate::syscall::table::dispatch(p, tf) {
        drop(guard);
        return syscall_sleep(tf);
    }
    if needs_exit_work(p) {
        exit_to_user(guard, tf);
    }
}

/// A page fault the unlocked path did not take, or something that becomes a signal, under the
/// kernel lock.
#[inline]
fn el0_sync_locked(tf: &mut TrapFrame) {
    let mut guard = current().lock();
    let Some(p) = guard.as_mut() else {
        unhandled(tf, ReturnReason::Sync);
    };
    let esr = tf.esr;
    if esr & 0x3c == 0x04 && (esr >> 26) & 0x3f == EC_DABT_LOW {
        // A data abort with a translation fault (FSC 0b0001xx, any level): demand paging, the
        // other hot path. Exactly `user_abort`'s handling of it, without the out-of-line
        // decode.
        if let Err(e) = p.handle_fault(tf.far as usize, data_access(esr)) {
            fault_error(p, tf, e);
        }
    } else {
        user_exception(p, tf);
    }
    if needs_exit_work(p) {
        exit_to_user(guard, tf);
    }
}

/// Whether the way back to EL0 has work to do (a signal to deliver, an exit, a wait): the
/// common case, without, returns with the one slot round trip of its trap.
#[inline(always)]
fn needs_exit_work(p: &Process) -> bool {
    p.exit.is_some() || p.wait.is_some() || p.signals.next_deliverable().is_some()
}

/// The way back to EL0 with work to do: deliver signals, then switch away if the process
/// exited, stopped or was preempted.
fn exit_to_user(
    mut guard: crate::sync::MutexGuard<'_, Option<alloc::boxed::Box<Process>>>,
    tf: &mut TrapFrame,
) {
    let Some(p) = guard.as_mut() else { return };
    if signal_work(p) {
        p.do_signal(tf);
    }
    let switch = must_switch(p, false);
    drop(guard);
    if switch {
        finish_trap(false);
    }
}

/// A syscall that must wait: the process sleeps, and each time it is woken runs the call again
/// from the start, here in the kernel, until the call finishes (Linux's `wait_event` loop around
/// `schedule()`). The call never goes back to EL0 half done: a signal that woke it is delivered
/// only once the call has given its result (EINTR, or a restart), as Linux delivers it after the
/// sleeping call returns.
#[inline(never)]
fn syscall_sleep(tf: &mut TrapFrame) {
    loop {
        finish_trap(false);
        let mut guard = current().lock();
        let Some(p) = guard.as_mut() else { return };
        if p.exit.is_some() || !crate::syscall::table::dispatch(p, tf) {
            return exit_to_user(guard, tf);
        }
    }
}

/// A synchronous exception from EL0 other than a syscall: a page fault (tested first, by its
/// exception class), or something that becomes a signal. Out of line, so that the syscall path
/// does not test for it.
#[inline(never)]
fn user_exception(p: &mut Process, tf: &mut TrapFrame) {
    let ec = (tf.esr >> 26) & 0x3f;
    if ec == EC_DABT_LOW || ec == EC_IABT_LOW {
        return user_abort(p, tf, ec == EC_IABT_LOW);
    }
    match ExceptionClass::from_esr(tf.esr) {
        ExceptionClass::Brk64 => p.force_fault(SIGTRAP, signal::TRAP_BRKPT, tf.elr),
        ExceptionClass::PcAlignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.far),
        ExceptionClass::SpAlignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.sp_el0),
        ExceptionClass::Fp64 => p.force_fault(SIGFPE, signal::FPE_FLTUNK, tf.elr),
        _ => p.force_fault(SIGILL, signal::ILL_ILLOPC, tf.elr),
    }
}

/// A page fault the kernel could not resolve: SIGSEGV (unless the process is already exiting).
#[cold]
#[inline(never)]
fn fault_error(p: &mut Process, tf: &TrapFrame, e: crate::mm::fault::FaultError) {
    if p.exit.is_none() {
        p.force_fault(e.signal(), e.si_code(), tf.far);
    }
}

/// Whether `do_signal` has anything to do (Linux's `_TIF_SIGPENDING` test before `do_signal`):
/// a signal is pending and not blocked. `do_signal` itself does nothing for an exiting process
/// or when no signal is deliverable, so skipping it otherwise changes nothing but the cost.
#[inline]
fn signal_work(p: &Process) -> bool {
    p.exit.is_none() && p.signals.next_deliverable().is_some()
}

/// A data or instruction abort from EL0 (arm64 `do_mem_abort` → `do_page_fault`).
fn user_abort(p: &mut Process, tf: &mut TrapFrame, instr: bool) {
    let s = AbortSyndrome::decode(tf.esr);
    let addr = tf.far as usize;
    let access = if instr {
        FaultAccess::Exec
    } else if s.write {
        FaultAccess::Write
    } else {
        FaultAccess::Read
    };
    match s.kind {
        FaultKind::Translation | FaultKind::AccessFlag | FaultKind::Permission => {
            if let Err(e) = p.handle_fault(addr, access) {
                fault_error(p, tf, e);
            }
        }
        FaultKind::Alignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.far),
        _ => p.force_fault(SIGBUS, signal::BUS_ADRERR, tf.far),
    }
}
