//! Real Linux programs at EL0: static glibc and musl binaries, unchanged.
mod common;
use common::Boot;

#[test]
fn glibc_hello_prints_allocates_and_exits() {
    let o = Boot::default().program("c-hello", "").run();
    o.assert_status(0);
    o.assert_contains("hello from glibc");
    o.assert_contains("argc=1 envc=2 argv[0]=init");
    o.assert_contains("malloc/free of 6 blocks ok");
}

#[test]
fn rust_musl_hello_runs() {
    let o = Boot::default().program("rust-hello", "").run();
    o.assert_status(0);
    o.assert_contains("hello from rust (musl)");
}

#[test]
fn rust_musl_allocator_stress() {
    let o = Boot::default().program("rust-alloc_stress", "").run();
    o.assert_status(0);
}

#[test]
fn glibc_sees_linux_abi() {
    let o = Boot::default().program("c-abi", "alpha beta").run();
    o.assert_tap("abi", 25);
    // CLOCK_REALTIME comes from QEMU's PL031, which starts at the host's time.
    let guest: u64 = o
        .output
        .lines()
        .find_map(|l| l.strip_prefix("# realtime: "))
        .and_then(|s| s.trim().parse().ok())
        .expect("a realtime line");
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        guest.abs_diff(host) < 600,
        "guest realtime {guest}, host {host}"
    );
}

#[test]
fn exit_codes_propagate() {
    let o = Boot::default().program("c-exitcode", "42").run();
    o.assert_status(42);
}

#[test]
fn uncaught_segv_ends_the_program_with_139() {
    let o = Boot::default().program("c-exitcode", "segv").run();
    o.assert_status(139);
    o.assert_contains("killed by SIGSEGV");
}

#[test]
fn missing_program_is_a_clear_error() {
    let o = Boot::default()
        .program("c-hello", "")
        .args("init=nosuch")
        .run();
    o.assert_status(127);
    o.assert_contains("no program 'nosuch' in the initramfs");
}

#[test]
fn malformed_programs_are_refused_cleanly() {
    let o = Boot::default().program("bad-notelf", "").run();
    o.assert_status(126);
    o.assert_contains("cannot run /init: not a runnable program");
    let o = Boot::default().program("bad-truncated", "").run();
    o.assert_status(126);
    o.assert_contains("cannot run /init: not a runnable program");
}

#[test]
fn running_out_of_memory_in_a_fault_ends_the_program_not_the_kernel() {
    let o = Boot::default()
        .mem("128M")
        .program("c-exitcode", "oom")
        .run();
    o.assert_status(137);
    o.assert_contains("killed: out of memory in a page fault");
    o.assert_no_frame_leak();
}
