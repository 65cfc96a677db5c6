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

// Where a new task starts: its kernel stack holds only its trap frame, at SP. The kernel's
// `schedule_tail` finishes the switch, then the frame goes to EL0.
.global ret_from_fork
ret_from_fork:
    mov     x29, xzr
    bl      schedule_tail
    b       trap_return
"#
);

extern "C" {
    fn __enter_user(frame: *const TrapFrame, kernel_sp: usize) -> !;
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

    /// The context of a task that has never run: `__switch_to` returns into `ret_from_fork`
    /// with SP at the trap frame the caller put at `frame_sp`.
    pub fn new_task(frame_sp: usize) -> Self {
        let mut c = Self::default();
        c.regs[11] = ret_from_fork as *const () as usize as u64;
        c.sp = frame_sp as u64;
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

/// A task's kernel stack: 64 KiB at a 128 KiB-aligned base, so that the vector entry's one-bit
/// overflow check works for it as for the boot stack (an SP below the base has bit 16 set).
#[derive(Debug)]
pub struct KernelStack {
    base: usize,
}

/// Bytes of a kernel stack.
pub const KERNEL_STACK_SIZE: usize = 64 << 10;

impl KernelStack {
    /// Takes 128 KiB from the frame pool and gives the upper half back at once.
    pub fn new() -> Option<Self> {
        use crate::mm::frame::FRAMES;
        let frames = KERNEL_STACK_SIZE / crate::mm::addr::PAGE_SIZE;
        let mut pool = FRAMES.lock();
        let pa = pool.alloc(2 * frames).ok()?;
        pool.dealloc(crate::mm::addr::PhysAddr(pa.0 + KERNEL_STACK_SIZE), frames);
        Some(Self {
            base: crate::mm::layout::phys_to_virt(pa).as_usize(),
        })
    }

    pub const fn top(&self) -> usize {
        self.base + KERNEL_STACK_SIZE
    }

    /// Where the trap frame of the task's entry from EL0 lies (the vector pushes it first).
    pub const fn frame_sp(&self) -> usize {
        self.top() - core::mem::size_of::<TrapFrame>()
    }

    /// Puts `frame` where the vector would have saved it, for a task that has never run.
    pub fn put_frame(&self, frame: &TrapFrame) {
        // SAFETY: the slot lies inside this stack, which nothing runs on yet.
        unsafe { core::ptr::write(self.frame_sp() as *mut TrapFrame, frame.clone()) };
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let pa = crate::mm::layout::virt_to_phys(crate::mm::addr::VirtAddr(self.base));
        crate::mm::frame::FRAMES
            .lock()
            .dealloc(pa, KERNEL_STACK_SIZE / crate::mm::addr::PAGE_SIZE);
    }
}

/// Starts user execution with `frame` on the kernel stack whose top is `kernel_sp`, abandoning
/// the current stack.
pub fn enter_user_on(frame: &TrapFrame, kernel_sp: usize) -> ! {
    // SAFETY: the target stack is reset to its top; nothing on it is needed any more, and the
    // frame is copied before the stack is reused.
    unsafe { __enter_user(frame, kernel_sp) }
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
