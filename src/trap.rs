//! Where exceptions go once the vector code has saved the frame.
use crate::arch::aarch64::esr::{AbortSyndrome, ExceptionClass, FaultKind};
use crate::arch::aarch64::exception::{TrapFrame, VectorKind};
use crate::arch::aarch64::extable;
use crate::mm::fault::FaultAccess;
use crate::task::process::Process;
use crate::task::sched::{finish_trap, CURRENT};
use crate::task::signal::{self, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};

/// Handles what the kernel knows how to handle; `false` means "report and stop".
pub fn dispatch(tf: &mut TrapFrame, kind: VectorKind) -> bool {
    if kind.from_lower_el() {
        return user_trap(tf, kind);
    }
    if kind.is_sync() {
        let ec = ExceptionClass::from_esr(tf.esr);
        // A faulting instruction with a fix-up (user copies, the semihosting probe) resumes there.
        if matches!(ec, ExceptionClass::Unknown | ExceptionClass::DataAbortSame) {
            if let Some(fixup) = extable::search(tf.elr) {
                tf.elr = fixup;
                return true;
            }
        }
    }
    false
}

/// An exception from EL0: a syscall, a page fault, or something that becomes a signal.
fn user_trap(tf: &mut TrapFrame, kind: VectorKind) -> bool {
    if !kind.is_sync() {
        if !kind.is_irq() {
            return false;
        }
        // The timer tick: preempt the running process if another one is waiting, and act on
        // signals that arrived while it ran (a process that never enters the kernel still dies
        // of SIGKILL).
        let preempt = crate::drivers::gic::handle_irq();
        if let Some(p) = CURRENT.lock().as_mut() {
            p.do_signal(tf);
        }
        finish_trap(tf, preempt);
        return true;
    }
    let mut guard = CURRENT.lock();
    let Some(p) = guard.as_mut() else {
        return false;
    };
    p.frame.sp_el0 = tf.sp_el0;
    match ExceptionClass::from_esr(tf.esr) {
        ExceptionClass::Svc64 => crate::syscall::table::dispatch(p, tf),
        ExceptionClass::DataAbortLower | ExceptionClass::InstrAbortLower => user_abort(p, tf),
        ExceptionClass::Brk64 => p.force_fault(SIGTRAP, signal::TRAP_BRKPT, tf.elr),
        ExceptionClass::PcAlignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.far),
        ExceptionClass::SpAlignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.sp_el0),
        ExceptionClass::Fp64 => p.force_fault(SIGFPE, signal::FPE_FLTUNK, tf.elr),
        _ => p.force_fault(SIGILL, signal::ILL_ILLOPC, tf.elr),
    }
    p.do_signal(tf);
    drop(guard);
    finish_trap(tf, false);
    true
}

/// A data or instruction abort from EL0 (arm64 `do_mem_abort` → `do_page_fault`).
fn user_abort(p: &mut Process, tf: &mut TrapFrame) {
    let s = AbortSyndrome::decode(tf.esr);
    let addr = tf.far as usize;
    let access = if ExceptionClass::from_esr(tf.esr) == ExceptionClass::InstrAbortLower {
        FaultAccess::Exec
    } else if s.write {
        FaultAccess::Write
    } else {
        FaultAccess::Read
    };
    match s.kind {
        FaultKind::Translation | FaultKind::AccessFlag | FaultKind::Permission => {
            if let Err(e) = p.handle_fault(addr, access) {
                if p.exit.is_none() {
                    p.force_fault(SIGSEGV, e.si_code(), tf.far);
                }
            }
        }
        FaultKind::Alignment => p.force_fault(SIGBUS, signal::BUS_ADRALN, tf.far),
        _ => p.force_fault(SIGBUS, signal::BUS_ADRERR, tf.far),
    }
}
