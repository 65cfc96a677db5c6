//! Copies between kernel and user memory.
//!
//! User memory is touched only here, with the unprivileged `LDTR`/`STTR` family: the MMU checks
//! each access against the EL0 permissions, so a user pointer to kernel memory or to a read-only
//! page faults even though the kernel could reach it, and FEAT_PAN does not get in the way. Every
//! such instruction has an exception-table entry; a fault the mm cannot resolve resumes at the
//! fix-up, which returns how many bytes were left, and the caller reports `EFAULT`.
use core::arch::global_asm;
use tidemark_mm::layout::TASK_SIZE;

global_asm!(
    r#"
.macro UACCESS insn:vararg
8888:   \insn
        .pushsection __ex_table, "a"
        .balign 8
        .quad 8888b, uaccess_fault
        .popsection
.endm

.section .text.uaccess, "ax"
// usize __arch_copy_from_user(u8 *dst, const u8 __user *src, usize n): bytes not copied.
.global __arch_copy_from_user
__arch_copy_from_user:
1:  cmp     x2, #8
    b.lo    2f
    UACCESS ldtr x4, [x1]
    str     x4, [x0], #8
    add     x1, x1, #8
    sub     x2, x2, #8
    b       1b
2:  cbz     x2, 3f
    UACCESS ldtrb w4, [x1]
    strb    w4, [x0], #1
    add     x1, x1, #1
    sub     x2, x2, #1
    b       2b
3:  mov     x0, xzr
    ret

// usize __arch_copy_to_user(u8 __user *dst, const u8 *src, usize n): bytes not copied.
.global __arch_copy_to_user
__arch_copy_to_user:
1:  cmp     x2, #8
    b.lo    2f
    ldr     x4, [x1], #8
    UACCESS sttr x4, [x0]
    add     x0, x0, #8
    sub     x2, x2, #8
    b       1b
2:  cbz     x2, 3f
    ldrb    w4, [x1], #1
    UACCESS sttrb w4, [x0]
    add     x0, x0, #1
    sub     x2, x2, #1
    b       2b
3:  mov     x0, xzr
    ret

// Both keep the count of bytes still to do in x2.
uaccess_fault:
    mov     x0, x2
    ret
"#
);

extern "C" {
    fn __arch_copy_from_user(dst: *mut u8, src: usize, n: usize) -> usize;
    fn __arch_copy_to_user(dst: usize, src: *const u8, n: usize) -> usize;
}

/// A user address range could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Efault;

/// Linux's `access_ok`: the whole range lies in the user half, without wrapping.
pub fn access_ok(addr: usize, len: usize) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
}

pub fn copy_from_user(dst: &mut [u8], src: usize) -> Result<(), Efault> {
    if !access_ok(src, dst.len()) {
        return Err(Efault);
    }
    // SAFETY: `dst` is a valid kernel buffer; the user side is accessed with unprivileged loads
    // whose faults are fixed up.
    match unsafe { __arch_copy_from_user(dst.as_mut_ptr(), src, dst.len()) } {
        0 => Ok(()),
        _ => Err(Efault),
    }
}

pub fn copy_to_user(dst: usize, src: &[u8]) -> Result<(), Efault> {
    if !access_ok(dst, src.len()) {
        return Err(Efault);
    }
    // SAFETY: as for `copy_from_user`, in the other direction.
    match unsafe { __arch_copy_to_user(dst, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(Efault),
    }
}
