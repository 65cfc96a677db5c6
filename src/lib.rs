//! tidemark: an AArch64 kernel whose memory manager behaves like Linux's.
//!
//! The library holds all kernel code. Portable parts (`mm`, the device-tree reader, the command
//! line, most of `task` and `syscall`) also build for the host, where their unit tests run against
//! simulated physical memory; everything that touches the hardware builds only for the kernel
//! target (`target_os = "none"`).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod cmdline;
pub mod drivers;
pub mod fs;
pub mod mm;
pub mod random;
pub mod sync;
pub mod syscall;
pub mod task;

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod kmain;
#[cfg(target_os = "none")]
pub mod logger;
#[cfg(target_os = "none")]
pub mod selftest;
#[cfg(target_os = "none")]
pub mod trap;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::break_lock();
    match info.location() {
        Some(l) => println!(
            "\n*** kernel panic at {}:{}:{}: {}",
            l.file(),
            l.line(),
            l.column(),
            info.message()
        ),
        None => println!("\n*** kernel panic: {}", info.message()),
    }
    if let Some(f) = mm::frame::FRAMES.try_lock() {
        let h = mm::heap::stats();
        println!(
            "  frames: {} free, reserve {}; kernel heap: {} frames grown, {} frames of large objects",
            f.free_frames(),
            f.reserve(),
            h.grown_frames,
            h.large_frames
        );
    }
    arch::aarch64::backtrace::print(|pc| println!("  at {pc:#018x}"));
    exit::exit(exit::STATUS_PANIC)
}
