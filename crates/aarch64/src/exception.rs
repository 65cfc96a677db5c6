//! The `VBAR_EL1` vector table, the trap frame, running a task at EL0 until it traps
//! ([`enter_user`]), and the report for exceptions nobody handles.
//!
//! The layer never calls up into the kernel. The kernel runs a task's user code by calling
//! [`enter_user`] with the task's frame; every entry from EL0 saves the user registers into that
//! frame and *returns* from `enter_user` with the [`ReturnReason`], and the kernel decides what
//! happens (Asterinas' `UserContext::execute`). Entries from EL1 are the layer's own: a fault
//! with a fix-up ([`crate::extable`]) resumes there; anything else is fatal and goes to the
//! handler the kernel set with [`set_fatal_handler`] (the kernel runs with interrupts masked, so
//! no interrupt is taken at EL1).
//!
//! Entries taken from EL1 first check for a kernel stack overflow: kernel stacks are 64 KiB at
//! 128 KiB-aligned bases, so a frame pushed below a stack's base has bit 16 of SP set, and that
//! entry switches to a dedicated overflow stack before reporting (Linux's VMAP stack check,
//! `kernel_ventry`).
use crate::esr::{AbortSyndrome, ExceptionClass};
use core::arch::global_asm;
use core::fmt;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Saved integer state of an interrupted context. Layout shared with the assembly below.
#[repr(C)]
#[derive(Clone, Default)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 288);

/// Which of the 16 vector entries was taken: source (EL1 with SP_EL0 / EL1 with SP_EL1 / EL0 AArch64
/// / EL0 AArch32) times type (synchronous / IRQ / FIQ / SError).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorKind(pub u64);

impl VectorKind {
    pub const fn from_lower_el(self) -> bool {
        self.0 >= 8
    }
    pub const fn is_sync(self) -> bool {
        self.0.is_multiple_of(4)
    }
    pub const fn is_irq(self) -> bool {
        self.0 % 4 == 1
    }
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 16] = [
            "EL1t synchronous",
            "EL1t IRQ",
            "EL1t FIQ",
            "EL1t SError",
            "EL1h synchronous",
            "EL1h IRQ",
            "EL1h FIQ",
            "EL1h SError",
            "EL0 (AArch64) synchronous",
            "EL0 (AArch64) IRQ",
            "EL0 (AArch64) FIQ",
            "EL0 (AArch64) SError",
            "EL0 (AArch32) synchronous",
            "EL0 (AArch32) IRQ",
            "EL0 (AArch32) FIQ",
            "EL0 (AArch32) SError",
        ];
        NAMES[(self.0 & 15) as usize]
    }
}

global_asm!(
    r#"
.equ FRAME_SIZE, 288
.equ STACK_SHIFT, 16
.equ ENTER_USER_SLOT, {slot}

.macro VENTRY kind, check_stack, entry
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
.if \check_stack
    add     sp, sp, x0              // sp = sp' + x0
    sub     x0, sp, x0              // x0 = sp'
    tbnz    x0, #STACK_SHIFT, kernel_stack_overflow
    sub     x0, sp, x0              // x0 = original x0
    sub     sp, sp, x0              // sp = sp'
.endif
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #\kind             // the vector number, for handle_exception or enter_user
    b       \entry
.endm

// Saves x2-x30, SP_EL0, ELR, SPSR, ESR and FAR beside the x0/x1 pair the entry stored (x1 is
// kept: it holds the vector number). From EL1 it then pushes a frame record, so that backtraces
// continue through the trap into the interrupted kernel code, and leaves x0 pointing to the frame.
.macro SAVE_FRAME from_el0
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #16 * 15]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #16 * 16]
    mrs     x4, esr_el1
    mrs     x3, far_el1
    stp     x4, x3, [sp, #16 * 17]
.if \from_el0 == 0
    stp     x29, x2, [sp, #-16]!
    mov     x29, sp
    add     x0, sp, #16
.endif
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VENTRY 0, 1, trap_el1
    VENTRY 1, 1, trap_el1
    VENTRY 2, 1, trap_el1
    VENTRY 3, 1, trap_el1
    VENTRY 4, 1, trap_el1
    VENTRY 5, 1, trap_el1
    VENTRY 6, 1, trap_el1
    VENTRY 7, 1, trap_el1
    VENTRY 8, 0, trap_el0
    VENTRY 9, 0, trap_el0
    VENTRY 10, 0, trap_el0
    VENTRY 11, 0, trap_el0
    VENTRY 12, 0, trap_el0
    VENTRY 13, 0, trap_el0
    VENTRY 14, 0, trap_el0
    VENTRY 15, 0, trap_el0

// An exception taken at EL1: the layer's own (a fix-up, or the fatal handler).
trap_el1:
    SAVE_FRAME 0
    bl      handle_exception
    add     sp, sp, #16
    b       trap_return

// Any entry from EL0: the frame is the task's user frame (SP_EL1 was left just above it), and
// the slot below it holds the SP that `__enter_user` saved. Back on that stack, the registers
// it kept come back and `__enter_user` returns the vector number.
trap_el0:
    SAVE_FRAME 1
    ldr     x9, [sp, #-ENTER_USER_SLOT]
    mov     sp, x9
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x29, x30, [sp], #48
    mov     x0, x1
    ret

// fn __enter_user(frame: *mut TrapFrame) -> u64, called by `enter_user` only.
// Keeps x19-x22, the frame pointer and the return address (the caller declares x23-x28
// clobbered; x19 and x29 it could not, as LLVM reserves them), and SP in the slot below the
// frame, which must be the task's user frame at the top of its kernel stack; then returns to
// EL0 with the frame. The next entry from EL0 returns from this call with the vector number.
.global __enter_user
__enter_user:
    stp     x29, x30, [sp, #-48]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    mov     x9, sp
    str     x9, [x0, #-ENTER_USER_SLOT]
    mov     sp, x0

trap_return:
    ldp     x2, x3, [sp, #16 * 16]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x2, [sp, #16 * 15]
    msr     sp_el0, x2
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldp     x0, x1, [sp, #16 * 0]
    add     sp, sp, #FRAME_SIZE
    eret

kernel_stack_overflow:
    mov     x1, x0                  // the stack pointer that crossed the base
    adrp    x0, overflow_stack_top
    add     x0, x0, :lo12:overflow_stack_top
    mov     sp, x0
    mov     x0, x1
    mov     x29, xzr
    bl      handle_kernel_stack_overflow
    b       .

.section .bss.overflow_stack, "aw", %nobits
.balign 16
overflow_stack:
    .space 16384
overflow_stack_top:
"#,
    slot = const ENTER_USER_SLOT,
);

impl fmt::Display for TrapFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.x.chunks(2).enumerate() {
            match pair {
                [a, b] => writeln!(f, "  x{:<2} {a:#018x}  x{:<2} {b:#018x}", 2 * i, 2 * i + 1)?,
                [a] => writeln!(f, "  x{:<2} {a:#018x}  sp_el0 {:#018x}", 2 * i, self.sp_el0)?,
                _ => {}
            }
        }
        writeln!(f, "  elr {:#018x}  spsr {:#018x}", self.elr, self.spsr)
    }
}

/// Writes the decoded report of an exception the kernel cannot handle.
pub fn write_report(out: &mut dyn fmt::Write, tf: &TrapFrame, kind: VectorKind) -> fmt::Result {
    let ec = ExceptionClass::from_esr(tf.esr);
    writeln!(out, "\n*** unhandled exception: {} ***", kind.name())?;
    writeln!(
        out,
        "  class: {} (EC {:#04x}), ESR {:#010x}, IL {}",
        ec.name(),
        (tf.esr >> 26) & 0x3f,
        tf.esr,
        (tf.esr >> 25) & 1
    )?;
    if ec.is_abort() {
        let s = AbortSyndrome::decode(tf.esr);
        write!(out, "  abort: {s}")?;
        if s.far_valid {
            writeln!(out, " at FAR {:#018x}", tf.far)?;
        } else {
            writeln!(out, ", FAR not valid")?;
        }
    }
    writeln!(
        out,
        "  ELR {:#018x} (look it up: scripts/symbolize or `info symbol` in GDB)",
        tf.elr
    )?;
    write!(out, "{tf}")
}

/// Bytes between a task's user frame and the kernel frames below it: [`enter_user`] keeps the
/// kernel's SP there while the task runs at EL0, for the vector to return to.
pub(crate) const ENTER_USER_SLOT: usize = 16;

/// Why [`enter_user`] returned: which kind of exception the task took at EL0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnReason {
    /// A synchronous exception from AArch64 EL0: a system call, a fault, a trapped instruction
    /// (the frame's ESR says which).
    Sync,
    /// An interrupt.
    Irq,
    /// Anything else (FIQ, SError, AArch32): the vector taken.
    Other(VectorKind),
}

impl ReturnReason {
    /// The vector entry taken, for a report.
    pub const fn vector(self) -> VectorKind {
        match self {
            ReturnReason::Sync => VectorKind(8),
            ReturnReason::Irq => VectorKind(9),
            ReturnReason::Other(k) => k,
        }
    }
}

extern "C" {
    fn __enter_user(frame: *mut TrapFrame) -> u64;
}

/// Runs the task whose registers are `frame` at EL0 until it takes an exception, which has then
/// saved its registers back into `frame`.
///
/// Of the kernel's callee-saved registers, x23-x28 are not kept across the call but declared
/// clobbered: the compiler keeps there only what is live (the task loop has little), where
/// saving all of them on the way out and back cost six to eight instructions a trap more
/// (keeping fewer made the loop rebuild addresses it kept in them).
///
/// # Safety
/// `frame` must be the user frame at the top of the current kernel stack
/// (`context::user_frame`) with the stack in use below its slot, and describe an EL0
/// context (SPSR.M = EL0t): the vector of the next entry from EL0 finds the frame and the saved
/// SP by their place on this stack.
#[inline(always)]
pub unsafe fn enter_user(frame: *mut TrapFrame) -> ReturnReason {
    let kind: u64;
    // SAFETY: forwarded from the caller. `__enter_user` returns like a function that keeps
    // x19-x22, x29, x30 and SP and clobbers what the C ABI lets a callee clobber, plus x23-x28,
    // all declared here.
    unsafe {
        core::arch::asm!(
            "bl {enter}",
            enter = sym __enter_user,
            inout("x0") frame => kind,
            out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    match kind {
        8 => ReturnReason::Sync,
        9 => ReturnReason::Irq,
        k => ReturnReason::Other(VectorKind(k)),
    }
}

/// What the kernel does with an exception this layer cannot handle (it never returns). Set once
/// at boot; until then such an exception parks the core.
static FATAL: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Sets the handler for fatal exceptions: it gets the decoded report to print, then ends the run.
pub fn set_fatal_handler(f: fn(&dyn fmt::Display) -> !) {
    FATAL.store(f as *mut (), Ordering::Release);
}

fn fatal(report: &dyn fmt::Display) -> ! {
    let f = FATAL.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only `set_fatal_handler` stores here, a `fn(&dyn Display) -> !`.
        let f: fn(&dyn fmt::Display) -> ! = unsafe { core::mem::transmute(f) };
        f(report);
    }
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// [`write_report`] as a `Display`.
pub struct Report<'a>(pub &'a TrapFrame, pub VectorKind);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_report(f, self.0, self.1)
    }
}

/// Entered from `trap_el1` with the saved frame: a faulting instruction with a fix-up (user
/// copies, the semihosting probe) resumes there; anything else is fatal.
#[no_mangle]
extern "C" fn handle_exception(tf: &mut TrapFrame, kind: u64) {
    let kind = VectorKind(kind);
    if kind.is_sync() {
        let ec = ExceptionClass::from_esr(tf.esr);
        if matches!(ec, ExceptionClass::Unknown | ExceptionClass::DataAbortSame) {
            if let Some(fixup) = crate::extable::search(tf.elr) {
                tf.elr = fixup;
                return;
            }
        }
    }
    fatal(&Report(tf, kind))
}

/// The report of a kernel stack overflow.
struct Overflow {
    sp: u64,
    esr: u64,
    far: u64,
    elr: u64,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** kernel stack overflow: SP {:#018x} crossed its stack base ***\n  while taking: {} (ESR {:#010x}), FAR {:#018x}, ELR {:#018x}",
            self.sp,
            ExceptionClass::from_esr(self.esr).name(),
            self.esr,
            self.far,
            self.elr
        )
    }
}

#[no_mangle]
extern "C" fn handle_kernel_stack_overflow(sp: u64) -> ! {
    use aarch64_cpu::registers::{Readable, ELR_EL1, ESR_EL1, FAR_EL1};
    fatal(&Overflow {
        sp,
        esr: ESR_EL1.get(),
        far: FAR_EL1.get(),
        elr: ELR_EL1.get(),
    })
}
