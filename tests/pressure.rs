//! The kernel outlives what programs do to memory: fork bombs, processes touching memory until it
//! runs out, 10,000 VMAs and max_map_count with forks, 32,766 pipes. Programs get Linux's answers
//! (ENOMEM, EAGAIN, EMFILE, a SIGKILL for the one that faults with no memory left), the kernel
//! never panics, and every frame comes back: user memory and page tables exactly, the kernel
//! heap's growth counted separately.
mod common;
use common::Boot;

/// The checks each mode of `user/c/pressure.c` makes.
fn checks(mode: &str) -> usize {
    match mode {
        "forkbomb" => 7,
        "oom" => 2,
        "vmas" => 9,
        "pipes" => 4,
        "lowmap" => 4,
        _ => panic!("no mode {mode}"),
    }
}

fn pressure(mode: &str, mem: &str) {
    let o = Boot::default()
        .mem(mem)
        .args("log=warn")
        .program("c-pressure", mode)
        .run();
    assert!(!o.output.contains("kernel panic"), "{}", o.output);
    o.assert_tap("pressure", checks(mode));
    o.assert_no_frame_leak();
}

#[test]
fn fork_bomb_at_128m_several_times() {
    for _ in 0..3 {
        let mut b = Boot::default()
            .mem("128M")
            .args("log=warn")
            .program("c-pressure", "forkbomb");
        b.timeout = std::time::Duration::from_secs(180);
        let o = b.run();
        assert!(!o.output.contains("kernel panic"), "{}", o.output);
        o.assert_tap("pressure", checks("forkbomb"));
        o.assert_no_frame_leak();
    }
}

#[test]
fn touching_memory_until_it_runs_out_with_many_processes() {
    pressure("oom", "128M");
    pressure("oom", "256M");
}

#[test]
fn ten_thousand_vmas_and_max_map_count_with_forks_at_128m() {
    pressure("vmas", "128M");
}

#[test]
fn pipes_up_to_rlimit_nofile() {
    pressure("pipes", "512M");
}

#[test]
fn root_maps_below_mmap_min_addr() {
    pressure("lowmap", "128M");
}
