//! Task contexts: switching kernel stacks, starting a new task, and the user FP/SIMD state.
//!
//! The kernel is built soft-float and never touches V0–V31, FPSR or FPCR, so while a process is in
//! the kernel its FP/SIMD state is still in the registers: saving it is needed only when it must be
//! written somewhere (a signal frame) or replaced (sigreturn, switching processes).
use crate::exception::TrapFrame;
use crate::regs::FpState;
use core::arch::{asm, global_asm};

global_asm!(
    r#"
.section .text, "ax"
// fn __switch_to(prev: *mut CpuContext, next: *const CpuContext)
// Saves the callee-saved registers, the link register and SP into `prev` and loads them from
// `next`: the call returns on the next task's kernel stack, where that task called it (or in
// ret_from_fork for a task that never ran).
.global __switch_to
__switch_to:
    mov     x9, sp
    stp     x19, x20, [x0, #16 * 0]
    stp     x21, x22, [x0, #16 * 1]
    stp     x23, x24, [x0, #16 * 2]
    stp     x25, x26, [x0, #16 * 3]
    stp     x27, x28, [x0, #16 * 4]
    stp     x29, x30, [x0, #16 * 5]
    str     x9, [x0, #16 * 6]
    ldp     x19, x20, [x1, #16 * 0]
    ldp     x21, x22, [x1, #16 * 1]
    ldp     x23, x24, [x1, #16 * 2]
    ldp     x25, x26, [x1, #16 * 3]
    ldp     x27, x28, [x1, #16 * 4]
    ldp     x29, x30, [x1, #16 * 5]
    ldr     x9, [x1, #16 * 6]
    mov     sp, x9
    ret

// Where a new task starts: in the entry function `CpuContext::new_task` put in x19, with the
// argument it put in x20, on an empty stack and with the frame chain ended.
.global ret_from_fork
ret_from_fork:
    mov     x29, xzr
    mov     x0, x20
    blr     x19
    brk     #0
"#
);

extern "C" {
    fn __switch_to(prev: *mut CpuContext, next: *const CpuContext);
    fn ret_from_fork();
}

/// What `__switch_to` keeps of a task that is not running: x19–x29, the link register, SP.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    regs: [u64; 12],
    sp: u64,
}

impl CpuContext {
    pub const fn zeroed() -> Self {
        Self {
            regs: [0; 12],
            sp: 0,
        }
    }

    /// The context of a task that has never run, on the kernel stack whose top is
    /// `stack_top`: `__switch_to` returns into `ret_from_fork`, which calls `entry(arg)` with SP
    /// just below the user frame ([`user_frame`]) and the slot `enter_user` keeps.
    pub fn new_task(stack_top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> Self {
        let mut c = Self::default();
        c.regs[0] = entry as *const () as usize as u64;
        c.regs[1] = arg as u64;
        c.regs[11] = ret_from_fork as *const () as usize as u64;
        c.sp = (user_frame(stack_top) as usize - crate::exception::ENTER_USER_SLOT) as u64;
        c
    }
}

/// Switches kernel stacks: saves the running task's context into `prev` and resumes `next`.
/// Returns when some task switches back to `prev`.
///
/// # Safety
/// Both contexts must stay where they are until the switch back (they live in boxed tasks);
/// `next` must be a context saved by this function or made by [`CpuContext::new_task`] over a
/// live kernel stack; no lock may be held that the next task will take.
pub unsafe fn switch_to(prev: *mut CpuContext, next: *const CpuContext) {
    // SAFETY: forwarded from the caller.
    unsafe { __switch_to(prev, next) }
}

/// Bytes of a task's kernel stack. Stacks are this size at twice-this-size-aligned bases, so
/// that the vector entry's one-bit overflow check works for each (an SP below the base has bit
/// 16 set); the kernel allocates them.
pub const KERNEL_STACK_SIZE: usize = 64 << 10;

/// Where a task's registers lie while it is in the kernel: at the top of its kernel stack,
/// where the vector saves them on entry from EL0.
pub const fn user_frame(stack_top: usize) -> *mut TrapFrame {
    (stack_top - core::mem::size_of::<TrapFrame>()) as *mut TrapFrame
}

/// Continues in `f` on the stack whose top is `sp`, abandoning the current one, so that the
/// current stack may be freed.
pub fn run_on_stack(sp: usize, f: extern "C" fn() -> !) -> ! {
    // SAFETY: `sp` is the top of a stack nothing else uses; `f` never returns, so nothing on the
    // abandoned stack is needed again.
    unsafe { asm!("mov sp, {0}", "br {1}", in(reg) sp, in(reg) f, options(noreturn)) }
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
