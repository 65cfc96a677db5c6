//! More than one process: fork with copy-on-write, wait4, pipes, signals between processes,
//! preemption by the timer, resource limits, and no frame leaked once everything has exited.
mod common;
use common::Boot;

#[test]
fn fork_cow_wait_pipes_preemption_and_limits() {
    let o = Boot::default().program("c-fork", "").run();
    o.assert_tap("fork", 21);
    o.assert_no_frame_leak();
}

/// `user/c/etxtbsy.c`: a running program's file is not writable, nor truncatable, and a file
/// open for writing does not run (ETXTBSY), for as long as any process runs it.
#[test]
fn a_running_programs_file_is_busy() {
    let o = Boot::default().program("c-etxtbsy", "").run();
    o.assert_tap("etxtbsy", 10);
    o.assert_no_frame_leak();
}

/// `user/c/rlimits.c`: RLIMIT_CPU (SIGXCPU each second from the soft limit, SIGKILL at the hard
/// one, inherited by a fork) and RLIMIT_FSIZE (writes cut there, EFBIG and SIGXFSZ past it).
#[test]
fn cpu_and_file_size_limits_raise_their_signals() {
    let o = Boot::default().program("c-rlimits", "").run();
    o.assert_tap("rlimits", 9);
    o.assert_no_frame_leak();
}

/// `user/c/subreaper.c`: orphans go to the nearest child subreaper among their ancestors
/// (`PR_SET_CHILD_SUBREAPER`), or to the first process; zombies too, with SIGCHLD.
#[test]
fn orphans_go_to_the_nearest_subreaper() {
    let o = Boot::default().program("c-subreaper", "").run();
    o.assert_tap("subreaper", 13);
    o.assert_no_frame_leak();
}

/// `user/c/autoreap.c`: the children of a process that ignores SIGCHLD or set SA_NOCLDWAIT are
/// reaped as they end, and its wait ends with ECHILD.
#[test]
fn children_nobody_waits_for_are_reaped() {
    let o = Boot::default().program("c-autoreap", "").run();
    o.assert_tap("autoreap", 5);
    o.assert_no_frame_leak();
}

#[test]
fn fork_on_a_small_machine_and_another_cpu() {
    let o = Boot::default()
        .mem("128M")
        .cpu("cortex-a53")
        .program("c-fork", "")
        .run();
    o.assert_tap("fork", 21);
    o.assert_no_frame_leak();
}

/// A process that waits holds no CPU: a child in ppoll (with a timeout, on a pipe, for a signal)
/// or nanosleep lets its parent run, and the parent's own waits end as Linux's do.
#[test]
fn waiting_processes_let_others_run() {
    let o = Boot::default().program("c-sleepers", "").run();
    o.assert_tap("sleepers", 14);
    o.assert_no_frame_leak();
}

/// Process groups and sessions with Linux's rules and errors (setpgid, getpgid, getsid, setsid).
#[test]
fn process_groups_and_sessions() {
    let o = Boot::default().program("c-pgrp", "").run();
    o.assert_tap("pgrp", 17);
    o.assert_no_frame_leak();
}

/// The interval timers: SIGALRM interrupts a blocked wait4, reaches a spinning process, repeats
/// with a period; getitimer and glibc's alarm see what is left; SIGVTALRM and SIGPROF count the
/// process's CPU time only.
#[test]
fn interval_timer_and_alarm() {
    let o = Boot::default().program("c-alarm", "").run();
    o.assert_tap("alarm", 18);
    o.assert_no_frame_leak();
}

/// A GICv3 machine (`gic-version=3`), entered at EL1 and at EL2: the tick preempts a spinning
/// process and fires interval timers there too.
#[test]
fn the_tick_on_a_gicv3_machine() {
    for machine in ["virt,gic-version=3", "virt,gic-version=3,virtualization=on"] {
        let b = Boot {
            machine: machine.into(),
            ..Default::default()
        };
        let o = b.clone().program("c-fork", "").run();
        o.assert_contains("GICv3 distributor");
        o.assert_tap("fork", 21);
        let o = b.program("c-alarm", "").run();
        o.assert_tap("alarm", 18);
    }
}

/// Setting the wall clock: root moves CLOCK_REALTIME (not CLOCK_MONOTONIC), others get EPERM.
#[test]
fn setting_the_wall_clock() {
    let o = Boot::default().program("c-clock", "").run();
    o.assert_tap("clock", 12);
    o.assert_no_frame_leak();
}
