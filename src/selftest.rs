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
        "mem" => mem(),
        // W^X: kernel text is not writable, data is not executable.
        "write-text" => {
            let p = run as *const () as *mut u32;
            // SAFETY: deliberately unsound: must take a permission fault.
            unsafe { p.write_volatile(0xd503_201f) };
        }
        "exec-data" => {
            static DATA: [u32; 2] = [0xd503_201f, 0xd65f_03c0]; // nop; ret
                                                                // SAFETY: deliberately unsound: rodata is execute-never, so this must fault.
            let f: extern "C" fn() = unsafe { core::mem::transmute(DATA.as_ptr()) };
            f();
        }
        "asid" => asid(),
        "pan" => pan(),
        "stack-overflow" => println!("recursion depth {}", recurse(0)),
        other => println!("unknown self-test '{other}'"),
    }
}

/// Exhausts the frame pool, gives everything back and checks the count returns.
fn frames() {
    use crate::mm::frame::FRAMES;
    let before = FRAMES.lock().free_frames();
    // Room for every frame up front: the vector is a large object, itself taken from the pool.
    let total = FRAMES.lock().total_frames();
    let mut taken = alloc::vec::Vec::with_capacity(total);
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
    drop(taken);
    let after = FRAMES.lock().free_frames();
    println!("frames: {before} free before, {after} after");
}

/// `memcpy`, `memmove` and `memset` (the arch layer's) against a byte loop: every length up to
/// 300 at every alignment of source and destination, and overlaps both ways.
fn mem() {
    const N: usize = 300;
    let mut cases = 0usize;
    let mut bad = 0usize;
    let pattern = |i: usize| (i * 7 + 3) as u8;
    let mut src = [0u8; N + 64];
    for (i, b) in src.iter_mut().enumerate() {
        *b = pattern(i);
    }
    for len in 0..=N {
        for so in 0..16 {
            for d_off in 0..16 {
                let mut dst = [0xaau8; N + 64];
                // SAFETY: both ranges lie inside their arrays and do not overlap.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        core::hint::black_box(src.as_ptr().add(so)),
                        dst.as_mut_ptr().add(d_off),
                        core::hint::black_box(len),
                    )
                };
                let ok = (0..N + 64).all(|i| {
                    let want = if i >= d_off && i < d_off + len {
                        pattern(i - d_off + so)
                    } else {
                        0xaa
                    };
                    dst[i] == want
                });
                bad += usize::from(!ok);
                cases += 1;
            }
        }
        // Overlapping moves within one buffer, the destination below and above the source.
        for shift in [1usize, 3, 8, 15, 16, 31, 32, 33, 100] {
            for up in [false, true] {
                let mut buf = [0u8; 2 * N + 128];
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = pattern(i);
                }
                let (from, to) = if up { (8, 8 + shift) } else { (8 + shift, 8) };
                // SAFETY: both ranges lie inside `buf`; `copy` allows the overlap.
                unsafe {
                    core::ptr::copy(
                        core::hint::black_box(buf.as_ptr().add(from)),
                        buf.as_mut_ptr().add(to),
                        core::hint::black_box(len),
                    )
                };
                let ok = (0..buf.len()).all(|i| {
                    let want = if i >= to && i < to + len {
                        pattern(i - to + from)
                    } else {
                        pattern(i)
                    };
                    buf[i] == want
                });
                bad += usize::from(!ok);
                cases += 1;
            }
        }
    }
    // memset: every length and alignment, a byte with its top bit set.
    for len in 0..=N {
        for d_off in 0..16 {
            let mut dst = [0x11u8; N + 64];
            // SAFETY: the range lies inside the array.
            unsafe {
                core::ptr::write_bytes(
                    dst.as_mut_ptr().add(d_off),
                    core::hint::black_box(0xc5),
                    core::hint::black_box(len),
                )
            };
            let ok = (0..N + 64).all(|i| {
                dst[i]
                    == if i >= d_off && i < d_off + len {
                        0xc5
                    } else {
                        0x11
                    }
            });
            bad += usize::from(!ok);
            cases += 1;
        }
    }
    println!("mem: {cases} copies, moves and fills, {bad} wrong");
}

/// Grows the kernel heap well past its static area with small objects, and checks that large
/// objects come from the frame pool and go back to it.
fn heap() {
    use crate::mm::frame::FRAMES;
    let before = crate::mm::heap::stats().small_total;
    let small: alloc::vec::Vec<alloc::boxed::Box<[u64; 8]>> = (0..64 * 1024u64)
        .map(|i| alloc::boxed::Box::new([i; 8]))
        .collect();
    let mut intact = small
        .iter()
        .enumerate()
        .all(|(i, b)| b.iter().all(|&v| v == i as u64));
    let after = crate::mm::heap::stats().small_total;
    let free_before = FRAMES.lock().free_frames();
    let large: alloc::vec::Vec<alloc::vec::Vec<u64>> =
        (0..64u64).map(|i| alloc::vec![i; 32 * 1024]).collect();
    intact &= large
        .iter()
        .enumerate()
        .all(|(i, b)| b.iter().all(|&v| v == i as u64));
    let taken = free_before - FRAMES.lock().free_frames();
    drop(large);
    let back = FRAMES.lock().free_frames() == free_before;
    println!(
        "heap: grew from {before} to {after} bytes; large objects took {taken} frames, all back: {back}; contents intact: {intact}"
    );
}

/// Recurses until the stack runs into its guard page (the depth limit is never reached: it only
/// keeps the compiler from proving the recursion endless and turning it into a loop).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 512];
    buf[depth as usize % 512] = depth as u8;
    let buf = core::hint::black_box(buf);
    if core::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[0] as u64
}

/// A page mapped in one address space is invisible in another, and gone after an unmap.
fn asid() {
    use crate::arch::aarch64::tlb::HwTlb;
    use crate::arch::aarch64::uaccess::copy_from_user;
    use crate::mm::addr::VirtAddr;
    use crate::mm::frame::{KernelPhys, FRAMES};
    use crate::mm::pagetable::Attrs;
    use crate::mm::phys::PhysMem;
    use crate::mm::vm_space::VmSpace;

    let before = FRAMES.lock().free_frames();
    let va = 0x40_0000usize;
    let show = |who: &str| {
        let mut v = [0u8; 8];
        match copy_from_user(&mut v, va) {
            Ok(()) => println!("asid: {who} reads {:#x}", u64::from_le_bytes(v)),
            Err(_) => println!("asid: {who} faults"),
        }
    };
    {
        let mut a = VmSpace::new().expect("address space");
        let mut b = VmSpace::new().expect("address space");
        let frame = KernelPhys.alloc_frames(0).expect("frame");
        // SAFETY: a fresh frame reached through the linear map.
        unsafe { (KernelPhys.phys_to_virt(frame) as *mut u64).write(0x7469_6465_6d61_726b) };
        let attrs = Attrs::user_rw().with_owned(true);
        a.table()
            .map_page(VirtAddr(va), frame, attrs, &HwTlb)
            .expect("map");
        a.activate();
        show("A");
        b.activate();
        show("B");
        a.activate();
        show("A again");
        a.table()
            .unmap(VirtAddr(va), crate::mm::addr::PAGE_SIZE, &HwTlb)
            .expect("unmap");
        show("A after unmap");
        VmSpace::deactivate_all();
    }
    let after = FRAMES.lock().free_frames();
    println!("asid: frames free before {before}, after {after}");
}

/// With FEAT_PAN, an ordinary kernel load from a mapped user page faults (only LDTR/STTR may
/// touch user memory); without it the load succeeds, which the message says.
fn pan() {
    use crate::arch::aarch64::mmu;
    use crate::arch::aarch64::tlb::HwTlb;
    use crate::mm::addr::VirtAddr;
    use crate::mm::frame::KernelPhys;
    use crate::mm::pagetable::Attrs;
    use crate::mm::phys::PhysMem;
    use crate::mm::vm_space::VmSpace;

    let va = 0x40_0000usize;
    let mut a = VmSpace::new().expect("address space");
    let frame = KernelPhys.alloc_frames(0).expect("frame");
    let attrs = Attrs::user_rw().with_owned(true);
    a.table()
        .map_page(VirtAddr(va), frame, attrs, &HwTlb)
        .expect("map");
    a.activate();
    println!(
        "pan: FEAT_PAN {}; privileged load from a user page",
        if mmu::has_pan() { "on" } else { "absent" }
    );
    // SAFETY: deliberately touches user memory with a privileged load: with PAN this faults.
    let v = unsafe { (va as *const u64).read_volatile() };
    println!("pan: the load succeeded ({v:#x}): no PAN on this CPU");
    VmSpace::deactivate_all();
}
