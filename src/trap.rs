//! Where exceptions go once the vector code has saved the frame.
use crate::arch::aarch64::esr::ExceptionClass;
use crate::arch::aarch64::exception::{TrapFrame, VectorKind};
use crate::arch::aarch64::extable;

/// Handles what the kernel knows how to handle; `false` means "report and stop".
pub fn dispatch(tf: &mut TrapFrame, kind: VectorKind) -> bool {
    if kind.from_lower_el() {
        return false;
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
