//! Linux signal semantics at EL0: `user/c/signals.c` (static glibc) checks faults with their
//! siginfo and ucontext, FP/SIMD state across handlers, sigaltstack, SA_NODEFER / SA_RESETHAND /
//! SA_RESTART, masks, pending and ignored signals, kill/tgkill, deaths by signal and siglongjmp;
//! `user/c/coredump.c` the core files of those deaths.
mod common;
use common::Boot;

#[test]
fn signals_behave_as_on_linux() {
    let o = Boot::default().program("c-signals", "").run();
    o.assert_tap("signals", 65);
}

/// The same on the `max` CPU (newer architecture features: BTI, PAC, MTE, SVE, SME in the ID
/// registers), where the frame and the FP/SIMD state must still be plain `fpsimd_context`.
/// `user/c/coredump.c`: a death by a core-dumping signal leaves an ELF core file when
/// RLIMIT_CORE allows, with Linux's notes and segments, and WCOREDUMP / CLD_DUMPED say so.
#[test]
fn a_fatal_signal_dumps_core() {
    let o = Boot::default().program("c-coredump", "").run();
    o.assert_tap("coredump", 35);
    o.assert_no_frame_leak();
}

#[test]
fn signals_behave_as_on_linux_on_cpu_max() {
    let o = Boot::default().cpu("max").program("c-signals", "").run();
    o.assert_tap("signals", 65);
}

/// rt_sigsuspend: a temporary mask, EINTR once a handler ran, the old mask back, ignored signals
/// not ending the wait; the shell's wait for SIGCHLD.
#[test]
fn sigsuspend_waits_with_a_temporary_mask() {
    let o = Boot::default().program("c-sigsuspend", "").run();
    o.assert_tap("sigsuspend", 6);
    o.assert_no_frame_leak();
}
