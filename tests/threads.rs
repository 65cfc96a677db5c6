//! Threads on QEMU: `user/c/threads.c` (static glibc, pthreads) creates and joins threads, locks
//! and waits under preemption, keeps thread-local storage apart, mallocs from several threads,
//! shares descriptors, signals one thread or the process, and ends processes from threads (exit,
//! the last thread after the first, a fault, execve) and leaves robust mutexes to the next
//! locker; Rust's std threads on musl do what Rust
//! programs do with them. Every frame comes back.
mod common;
use common::Boot;

#[test]
fn pthreads_behave_as_on_linux() {
    let o = Boot::default().program("c-threads", "").run();
    o.assert_tap("threads", 26);
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
    o.assert_tap("mtstress", 11);
    o.assert_no_frame_leak();
}
