//! Threads on QEMU: `user/c/threads.c` (static glibc, pthreads) creates and joins threads, locks
//! and waits under preemption, keeps thread-local storage apart, mallocs from several threads,
//! shares descriptors, signals one thread or the process, and ends processes from threads (exit,
//! the last thread after the first, a fault, execve) and leaves robust mutexes to the next
//! locker; Rust's std threads on musl do what Rust
//! programs do with them. Every frame comes back.
mod common;
use common::Boot;

/// Runs `user/c/smp.c` on `boot`, which must see `cores` cores: all 10 checks, every frame back.
fn smp_program(boot: Boot, cores: u32) -> common::Outcome {
    let o = boot.program("c-smp", "").run();
    o.assert_tap("smp", 10);
    assert!(
        o.output.contains(&format!("ok 1 - {cores} cores")),
        "{}",
        o.output
    );
    o.assert_no_frame_leak();
    o
}

fn four_cores() -> Boot {
    Boot {
        smp: 4,
        ..Boot::default()
    }
}

/// `user/c/futex.c` on one core and on four: FUTEX_WAKE_OP's operations, comparisons and wakes,
/// the PI locks (taking, handing over to a sleeper, their errors and deadlines) and glibc's
/// PTHREAD_PRIO_INHERIT mutexes over them.
#[test]
fn futex_wake_op_and_pi_locks() {
    for boot in [Boot::default(), four_cores()] {
        let o = boot.program("c-futex", "").run();
        o.assert_tap("futex", 20);
        o.assert_no_frame_leak();
    }
}

/// `user/c/smp.c` on four cores: each sees 4 cores, threads pinned to each core run there and
/// meet in a spin barrier (so they run at once), faults from every core into one mapping while
/// the break moves, munmap and mprotect against a toucher on another core, a futex ping-pong
/// between two cores, 300 threads across the cores.
#[test]
fn threads_run_on_every_core() {
    let o = smp_program(four_cores(), 4);
    assert!(
        o.output.contains("4 core(s) in the device tree, 4 online"),
        "{}",
        o.output
    );
}

/// The same on a GICv3 machine (SGIs through ICC_SGI1R_EL1, redistributors per core).
#[test]
fn threads_run_on_every_core_with_gicv3() {
    let machine = "virt,gic-version=3".into();
    smp_program(
        Boot {
            machine,
            ..four_cores()
        },
        4,
    );
}

/// Entered at EL2 (`virtualization=on`): the other cores are started through the `smc` conduit
/// and drop to EL1 like the boot core.
#[test]
fn threads_run_on_every_core_entered_at_el2() {
    let machine = "virt,virtualization=on".into();
    let o = smp_program(
        Boot {
            machine,
            ..four_cores()
        },
        4,
    );
    assert!(o.output.contains("entered at EL2"), "{}", o.output);
}

/// And on one core, where the pinned threads share it.
#[test]
fn threads_on_one_core() {
    smp_program(
        Boot {
            smp: 1,
            ..Boot::default()
        },
        1,
    );
}

/// The thread programs below on four cores.
#[test]
fn pthreads_on_four_cores() {
    let o = four_cores().program("c-threads", "").run();
    o.assert_tap("threads", 28);
    o.assert_no_frame_leak();
}

#[test]
fn rust_std_threads_on_four_cores() {
    let o = four_cores().program("rust-threads", "").run();
    o.assert_tap("rust-threads", 10);
    o.assert_no_frame_leak();
}

#[test]
fn the_mm_under_threads_on_four_cores() {
    let o = four_cores().program("c-mtstress", "").run();
    o.assert_tap("mtstress", 12);
    o.assert_no_frame_leak();
}

#[test]
fn pthreads_behave_as_on_linux() {
    let o = Boot::default().program("c-threads", "").run();
    o.assert_tap("threads", 28);
    o.assert_no_frame_leak();
}

/// `user/rust/src/bin/threads.rs`: Rust's std threads on static musl (spawn, scope, channels,
/// Mutex, Condvar, atomics, thread-locals, the allocator, Barrier, park).
#[test]
fn rust_std_threads_behave_as_on_linux() {
    let o = Boot::default().program("rust-threads", "").run();
    o.assert_tap("rust-threads", 10);
    o.assert_no_frame_leak();
}

/// `user/c/mtstress.c`: the mm under threads: 1,000 create/join cycles leave VmSize unchanged,
/// detached threads, rwlocks and barriers, malloc from 8 threads, faults in disjoint parts of a
/// region while the break moves, munmap while another thread reads, mlockall while others
/// allocate, fork while others write.
#[test]
fn the_mm_under_threads() {
    let o = Boot::default().program("c-mtstress", "").run();
    o.assert_tap("mtstress", 12);
    o.assert_no_frame_leak();
}
