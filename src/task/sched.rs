//! The running process and the end of its life.
//!
//! tidemark runs one process at a time on one core and never preempts the kernel, so the process
//! lives behind one lock taken for the length of a trap; it is saved in its `frame` while not
//! running.
use crate::arch::aarch64::context::enter_user;
use crate::mm::address_space::AddressSpace;
use crate::mm::frame::FRAMES;
use crate::println;
use crate::task::process::{ExitReason, Process};
use crate::task::signal::signal_name;
use alloc::boxed::Box;

pub static CURRENT: spin::Mutex<Option<Box<Process>>> = spin::Mutex::new(None);

/// Free frames before the first program was loaded, to show that its exit returned them all.
static FRAMES_BEFORE: spin::Once<usize> = spin::Once::new();

/// Runs `p` as the first process; never returns.
pub fn run_first(mut p: Box<Process>, frames_before: usize) -> ! {
    FRAMES_BEFORE.call_once(|| frames_before);
    p.mm.pt.activate();
    let frame = p.frame.clone();
    *CURRENT.lock() = Some(p);
    enter_user(&frame)
}

/// Ends the current process: reports how, frees its address space, and (it being the only one)
/// ends the machine with its status.
pub fn exit_current(reason: ExitReason) -> ! {
    let p = CURRENT.lock().take();
    if let Some(p) = p {
        let exe = p.exe.clone();
        drop(p);
        AddressSpace::deactivate_all();
        match reason {
            ExitReason::Exited(code) => log::info!("{exe} exited with status {}", code & 0xff),
            ExitReason::Signaled { sig, core } => println!(
                "tidemark: {exe} killed by {}{}",
                signal_name(sig),
                if core { " (core dumped)" } else { "" }
            ),
            ExitReason::OutOfMemory => {
                println!("tidemark: {exe} killed: out of memory in a page fault (no swap, no OOM killer)")
            }
        }
    }
    let free = FRAMES.lock().free_frames();
    log::info!(
        "frames free after exit: {free} (before exec: {})",
        FRAMES_BEFORE.get().copied().unwrap_or(0)
    );
    crate::exit::exit(reason.shell_status() as u32)
}
