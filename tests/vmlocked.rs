//! VM_LOCKED on QEMU (issue 6, ../shared/conformance.md items 20–25): mlockall and the mlock
//! family, eager population of a locked heap with 2 MiB blocks, RLIMIT_MEMLOCK for an
//! unprivileged process, and population that runs out of memory.
mod common;
use common::Boot;

#[test]
fn vmlocked_without_randomisation() {
    let o = Boot::default()
        .args("norandmaps")
        .program("c-vmlocked", "")
        .run();
    o.assert_tap("vmlocked", 90);
    o.assert_no_frame_leak();
}

#[test]
fn vmlocked_with_randomisation() {
    let o = Boot::default().program("c-vmlocked", "").run();
    o.assert_tap("vmlocked", 90);
    o.assert_no_frame_leak();
}

#[test]
fn populate_256_mib_under_512_mib() {
    let o = Boot::default()
        .mem("512M")
        .program("c-vmlocked", "big")
        .run();
    o.assert_tap("vmlocked-big", 10);
    o.assert_no_frame_leak();
}

#[test]
fn populate_beyond_ram_leaves_the_kernel_running() {
    let o = Boot::default()
        .mem("128M")
        .program("c-vmlocked", "oom")
        .run();
    o.assert_tap("vmlocked-oom", 7);
    o.assert_no_frame_leak();
}
