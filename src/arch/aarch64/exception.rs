//! The `VBAR_EL1` vector table, the trap frame, and the report for exceptions nobody handles.
//!
//! Every entry saves the full integer state into a [`TrapFrame`] on the current `SP_EL1` stack and
//! calls `handle_exception`, except the synchronous one from AArch64 EL0 (system calls and user
//! page faults), which calls `handle_el0_sync` straight away. Entries taken from EL1 first check for a kernel stack overflow: kernel
//! stacks are 64 KiB at 128 KiB-aligned bases, so a frame pushed below a stack's base has bit 16 of
//! SP set, and that entry switches to a dedicated overflow stack before reporting (Linux's VMAP stack
//! check, `kernel_ventry`).
use super::esr::{AbortSyndrome, ExceptionClass};
use core::arch::global_asm;
use core::fmt;

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

.macro VENTRY kind, check_stack, entry=trap_common
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
.ifc \entry, trap_common
    mov     x1, #\kind             // handle_exception's second argument
.endif
    b       \entry
.endm

// Saves x2-x30, SP_EL0, ELR, SPSR, ESR and FAR below the x0/x1 pair the entry stored and leaves
// x0 pointing to the frame. From EL1 it pushes a frame record, so that backtraces continue
// through the trap into the interrupted kernel code; from EL0 (`from_el0` = 1) it ends the chain
// instead (x29 = 0, as Linux's final frame record does): user code is not the kernel's to unwind.
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
.if \from_el0
    mov     x29, xzr
    mov     x0, sp
.else
    stp     x29, x2, [sp, #-16]!
    mov     x29, sp
    add     x0, sp, #16
.endif
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VENTRY 0, 1
    VENTRY 1, 1
    VENTRY 2, 1
    VENTRY 3, 1
    VENTRY 4, 1
    VENTRY 5, 1
    VENTRY 6, 1
    VENTRY 7, 1
    VENTRY 8, 0, trap_el0_sync
    VENTRY 9, 0
    VENTRY 10, 0
    VENTRY 11, 0
    VENTRY 12, 0
    VENTRY 13, 0
    VENTRY 14, 0
    VENTRY 15, 0

// Every entry but the synchronous one from AArch64 EL0. The frame record is pushed whatever the
// source (an IRQ from EL0 does not need it, but costs nothing that matters).
trap_common:
    SAVE_FRAME 0
    bl      handle_exception
    add     sp, sp, #16
    b       trap_return

// System calls and user faults: no vector number to pass, no frame record to pop.
trap_el0_sync:
    SAVE_FRAME 1
    bl      handle_el0_sync
.global trap_return
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
"#
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

/// Entered from `trap_common` with the saved frame.
#[no_mangle]
extern "C" fn handle_exception(tf: &mut TrapFrame, kind: u64) {
    let kind = VectorKind(kind);
    if crate::trap::dispatch(tf, kind) {
        return;
    }
    let mut out = crate::console::ConsoleWriter;
    let _ = write_report(&mut out, tf, kind);
    crate::exit::exit(crate::exit::STATUS_FATAL_EXCEPTION);
}

/// Entered from `trap_el0_sync` with the saved frame: the synchronous entry from AArch64 EL0.
#[no_mangle]
extern "C" fn handle_el0_sync(tf: &mut TrapFrame) {
    if crate::trap::el0_sync(tf) {
        return;
    }
    let mut out = crate::console::ConsoleWriter;
    let _ = write_report(&mut out, tf, VectorKind(8));
    crate::exit::exit(crate::exit::STATUS_FATAL_EXCEPTION);
}

#[no_mangle]
extern "C" fn handle_kernel_stack_overflow(sp: u64) -> ! {
    use aarch64_cpu::registers::{Readable, ELR_EL1, ESR_EL1, FAR_EL1};
    use fmt::Write;
    let mut out = crate::console::ConsoleWriter;
    let esr = ESR_EL1.get();
    let far = FAR_EL1.get();
    let elr = ELR_EL1.get();
    let _ = writeln!(
        out,
        "\n*** kernel stack overflow: SP {sp:#018x} crossed its stack base ***\n  while taking: {} (ESR {esr:#010x}), FAR {far:#018x}, ELR {elr:#018x}",
        ExceptionClass::from_esr(esr).name()
    );
    crate::exit::exit(crate::exit::STATUS_FATAL_EXCEPTION);
}
