//! The kernel's call chain, from its frame records (the kernel is built with frame pointers):
//! what a panic prints, for `scripts/symbolize` or GDB's `info symbol`.

/// Calls `f` with the return address of each frame, innermost first, up to 32 frames; stops at a
/// record outside the kernel's half or out of order.
pub fn print(mut f: impl FnMut(u64)) {
    let mut fp: u64;
    // SAFETY: reads the frame pointer register.
    unsafe { core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    for _ in 0..32 {
        if fp < 0xffff_0000_0000_0000 || !fp.is_multiple_of(16) {
            return;
        }
        // SAFETY: a frame record in the kernel half, pushed by a function prologue: the caller's
        // record and the return address, 16 bytes, on a mapped kernel stack.
        let (next, lr) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if lr == 0 {
            return;
        }
        f(lr);
        if next <= fp {
            return;
        }
        fp = next;
    }
}
