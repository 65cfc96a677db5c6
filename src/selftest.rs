//! Test-only behaviours chosen with the `test=NAME` boot argument, so that the boot tests can check
//! the kernel's crash reports and exit statuses on the real image.
use crate::println;

pub fn run(name: &str) {
    log::info!("self-test '{name}'");
    match name {
        // A store to an address no table maps: the decoded data-abort report, then status 102.
        "fault" => {
            let p = 0xdead_0000_0000usize as *mut u64;
            // SAFETY: deliberately unsound; the point is the resulting exception.
            unsafe { p.write_volatile(0x7469_6465) };
        }
        "panic" => panic!("deliberate panic requested on the command line"),
        "exit" => crate::exit::exit(42),
        "frames" => frames(),
        "heap" => heap(),
        other => println!("unknown self-test '{other}'"),
    }
}

/// Exhausts the frame pool, gives everything back and checks the count returns.
fn frames() {
    use crate::mm::frame::FRAMES;
    let before = FRAMES.lock().free_frames();
    let mut taken = alloc::vec::Vec::new();
    loop {
        let r = FRAMES.lock().alloc(1);
        match r {
            Ok(pa) => taken.push(pa),
            Err(e) => {
                println!("frames: {e} after {} allocations", taken.len());
                break;
            }
        }
    }
    for pa in taken.drain(..) {
        FRAMES.lock().dealloc(pa, 1);
    }
    let after = FRAMES.lock().free_frames();
    println!("frames: {before} free before, {after} after");
}

/// Grows the kernel heap well past its static area and checks the data survives.
fn heap() {
    let (before, _) = crate::mm::heap::stats();
    let blocks: alloc::vec::Vec<alloc::vec::Vec<u64>> =
        (0..64u64).map(|i| alloc::vec![i; 32 * 1024]).collect();
    let intact = blocks
        .iter()
        .enumerate()
        .all(|(i, b)| b.iter().all(|&v| v == i as u64));
    let (after, _) = crate::mm::heap::stats();
    println!("heap: grew from {before} to {after} bytes, contents intact: {intact}");
}
