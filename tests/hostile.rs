//! Every syscall argument from EL0 is hostile: children of `user/c/fuzz.c` call random syscalls
//! (half of them the memory manager's) with the values that break kernels. Children may die of
//! what they do to themselves; the kernel must run on and get every frame back.
mod common;
use common::Boot;

#[test]
fn random_syscalls_with_hostile_arguments_leave_the_kernel_running() {
    for seed in ["1", "0x5eed"] {
        let o = Boot::default()
            .program("c-fuzz", &format!("{seed} 300"))
            .run();
        o.assert_tap("fuzz", 2);
        o.assert_no_frame_leak();
    }
}

#[test]
fn hostile_syscalls_on_a_small_machine() {
    let o = Boot::default().mem("128M").program("c-fuzz", "7 300").run();
    o.assert_tap("fuzz", 2);
    o.assert_no_frame_leak();
}
