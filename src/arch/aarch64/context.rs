//! Entering EL0 and the user FP/SIMD state.
//!
//! The kernel is built soft-float and never touches V0–V31, FPSR or FPCR, so while a process is in
//! the kernel its FP/SIMD state is still in the registers: saving it is needed only when it must be
//! written somewhere (a signal frame) or replaced (sigreturn, switching processes).
use super::exception::TrapFrame;
use super::regs::FpState;
use core::arch::{asm, global_asm};

global_asm!(
    r#"
.section .text, "ax"
// fn __enter_user(frame: *const TrapFrame, kernel_sp: usize) -> !
// Copies the frame to the top of the kernel stack and returns to EL0 through trap_return.
.global __enter_user
__enter_user:
    sub     x1, x1, #288
    mov     sp, x1
    mov     x2, #288
1:  ldp     x3, x4, [x0], #16
    stp     x3, x4, [x1], #16
    subs    x2, x2, #16
    b.ne    1b
    b       trap_return
"#
);

extern "C" {
    fn __enter_user(frame: *const TrapFrame, kernel_sp: usize) -> !;
    static __boot_stack_top: u8;
}

/// Starts (or resumes) user execution with `frame`, abandoning the current kernel stack.
pub fn enter_user(frame: &TrapFrame) -> ! {
    // SAFETY: the kernel stack is reset to its top; nothing on it is needed any more, and the
    // frame is copied before the stack is reused.
    unsafe { __enter_user(frame, &raw const __boot_stack_top as usize) }
}

/// Reads the live FP/SIMD registers (the current process's).
pub fn fp_save(fp: &mut FpState) {
    let v = fp.v.as_mut_ptr();
    let (fpsr, fpcr): (u64, u64);
    // SAFETY: stores 32 x 16 bytes into `fp.v` and reads two system registers; the instructions
    // are enabled by CPACR_EL1.FPEN.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "stp q0, q1, [{v}, #0]",
            "stp q2, q3, [{v}, #32]",
            "stp q4, q5, [{v}, #64]",
            "stp q6, q7, [{v}, #96]",
            "stp q8, q9, [{v}, #128]",
            "stp q10, q11, [{v}, #160]",
            "stp q12, q13, [{v}, #192]",
            "stp q14, q15, [{v}, #224]",
            "stp q16, q17, [{v}, #256]",
            "stp q18, q19, [{v}, #288]",
            "stp q20, q21, [{v}, #320]",
            "stp q22, q23, [{v}, #352]",
            "stp q24, q25, [{v}, #384]",
            "stp q26, q27, [{v}, #416]",
            "stp q28, q29, [{v}, #448]",
            "stp q30, q31, [{v}, #480]",
            "mrs {sr}, fpsr",
            "mrs {cr}, fpcr",
            v = in(reg) v,
            sr = out(reg) fpsr,
            cr = out(reg) fpcr,
            options(nostack)
        );
    }
    fp.fpsr = fpsr as u32;
    fp.fpcr = fpcr as u32;
}

/// Loads the FP/SIMD registers for the current process.
pub fn fp_restore(fp: &FpState) {
    let v = fp.v.as_ptr();
    // SAFETY: loads 32 x 16 bytes from `fp.v` and writes FPSR/FPCR.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{v}, #0]",
            "ldp q2, q3, [{v}, #32]",
            "ldp q4, q5, [{v}, #64]",
            "ldp q6, q7, [{v}, #96]",
            "ldp q8, q9, [{v}, #128]",
            "ldp q10, q11, [{v}, #160]",
            "ldp q12, q13, [{v}, #192]",
            "ldp q14, q15, [{v}, #224]",
            "ldp q16, q17, [{v}, #256]",
            "ldp q18, q19, [{v}, #288]",
            "ldp q20, q21, [{v}, #320]",
            "ldp q22, q23, [{v}, #352]",
            "ldp q24, q25, [{v}, #384]",
            "ldp q26, q27, [{v}, #416]",
            "ldp q28, q29, [{v}, #448]",
            "ldp q30, q31, [{v}, #480]",
            "msr fpsr, {sr}",
            "msr fpcr, {cr}",
            v = in(reg) v,
            sr = in(reg) fp.fpsr as u64,
            cr = in(reg) fp.fpcr as u64,
            options(nostack)
        );
    }
}
