//! Boot smoke tests: the real image on qemu-system-aarch64 -machine virt.
mod common;
use common::Boot;

#[test]
fn boots_to_a_banner_and_powers_off_cleanly() {
    let o = Boot::default().run();
    o.assert_status(0);
    o.assert_contains(concat!("tidemark ", env!("CARGO_PKG_VERSION")));
    o.assert_contains("cpu: Arm Cortex-A72 (MIDR 0x410fd08");
    o.assert_contains("entered at EL1, running at EL1");
    o.assert_contains("ram: [0x040000000..0x060000000) 512 MiB");
    o.assert_contains("tidemark: exit status 0");
}

#[test]
fn reads_ram_size_from_the_device_tree_128m() {
    let o = Boot::default().mem("128M").run();
    o.assert_status(0);
    o.assert_contains("ram total: 128 MiB");
    // Frames: all of RAM less the kernel image and the DTB.
    let free: usize = o
        .output
        .lines()
        .find_map(|l| l.strip_prefix("frames: ")?.split(' ').next()?.parse().ok())
        .expect("frames line");
    assert!(free > 30_000 && free < 32_768, "free frames {free}");
}

#[test]
fn reads_ram_size_from_the_device_tree_4g() {
    let o = Boot::default().mem("4G").run();
    o.assert_status(0);
    o.assert_contains("ram: [0x040000000..0x140000000) 4096 MiB");
}

#[test]
fn drops_from_el2_to_el1_and_parks_secondary_cores() {
    let b = Boot {
        machine: "virt,virtualization=on".into(),
        smp: 2,
        ..Default::default()
    };
    let o = b.run();
    o.assert_status(0);
    o.assert_contains("entered at EL2, running at EL1");
    o.assert_contains("2 core(s)");
    o.assert_contains("PSCI conduit: Smc");
}

#[test]
fn kernel_fault_gives_a_decoded_report_and_a_failure_status() {
    let o = Boot::default().args("test=fault").run();
    o.assert_status(102);
    o.assert_contains("unhandled exception: EL1h synchronous");
    o.assert_contains("class: data abort from the same EL (EC 0x25)");
    o.assert_contains(
        "abort: translation fault, level 0 (FSC 0x04), write at FAR 0x0000dead00000000",
    );
    o.assert_contains("x30 ");
}

#[test]
fn panic_prints_location_and_fails() {
    let o = Boot::default().args("test=panic").run();
    o.assert_status(101);
    o.assert_contains("kernel panic at src/selftest.rs:");
    o.assert_contains("deliberate panic");
}

#[test]
fn exit_status_reaches_the_host() {
    let o = Boot::default().args("test=exit").run();
    o.assert_status(42);
}

#[test]
fn log_level_comes_from_the_command_line() {
    let quiet = Boot::default().run();
    assert!(!quiet.output.contains("DEBUG"), "{}", quiet.output);
    let o = Boot::default().args("log=debug").run();
    o.assert_status(0);
    o.assert_contains("DEBUG kmain: reserved:");
}

#[test]
fn frame_pool_runs_dry_without_a_panic_and_recovers() {
    let o = Boot::default().mem("128M").args("test=frames").run();
    o.assert_status(0);
    o.assert_contains("frames: out of physical frames after");
    let line = o
        .output
        .lines()
        .find(|l| l.contains("free before"))
        .expect("summary line");
    let nums: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert_eq!(nums[0], nums[1], "{line}");
}

/// The arch layer's `memcpy`, `memmove` and `memset` against a byte loop (`selftest::mem`).
#[test]
fn memcpy_memmove_and_memset_handle_every_length_and_alignment() {
    let o = Boot::default().args("test=mem").run();
    o.assert_status(0);
    let line = o
        .output
        .lines()
        .find(|l| l.starts_with("mem: "))
        .expect("mem line");
    let nums: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert!(nums[0] > 75_000 && nums[1] == 0, "{line}");
}

#[test]
fn kernel_heap_grows_from_the_frame_pool() {
    let o = Boot::default().args("test=heap").run();
    o.assert_status(0);
    let line = o
        .output
        .lines()
        .find(|l| l.starts_with("heap: grew"))
        .expect("heap line");
    let nums: Vec<usize> = line
        .split([' ', ';'])
        .filter_map(|w| w.parse().ok())
        .collect();
    // 64 Ki small objects of 64 bytes: at least 4 MiB of growth past the static area.
    assert!(nums[1] >= nums[0] + (4 << 20), "{line}");
    // 64 vectors of 256 KiB: 64 frames each, from the pool and back to it.
    assert_eq!(nums[2], 64 * 64, "{line}");
    assert!(line.contains("all back: true"), "{line}");
    assert!(line.ends_with("contents intact: true"), "{line}");
}
