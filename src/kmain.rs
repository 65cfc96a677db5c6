//! `kmain`: from the first Rust instruction to the running system.
use crate::arch::aarch64::{cpu, mmu, psci, timer};
use crate::cmdline::Options;
use crate::drivers::fdt::{self, MachineInfo, Range, Ranges};
use crate::mm::addr::{PhysAddr, PAGE_SIZE};
use crate::mm::frame::{self, FRAMES};
use crate::mm::layout::{phys_to_virt, virt_to_phys, EARLY_MAP_LIMIT};
use crate::mm::{addr::VirtAddr, heap};
use crate::{exit, println};

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// The kernel image's physical range, from the linker's symbols.
fn kernel_image() -> Range {
    let start = virt_to_phys(VirtAddr(&raw const __kernel_start as usize)).as_usize();
    let end = virt_to_phys(VirtAddr(&raw const __kernel_end as usize)).as_usize();
    Range {
        start,
        size: end - start,
    }
}

/// Maps the device tree blob found at `dtb_pa`; `None` if there is no valid header there.
fn dtb_blob(dtb_pa: usize) -> Option<&'static [u8]> {
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) || dtb_pa + 8 > EARLY_MAP_LIMIT {
        return None;
    }
    let va = phys_to_virt(PhysAddr(dtb_pa)).as_usize();
    // SAFETY: the early tables map the first EARLY_MAP_LIMIT bytes of the physical address space,
    // and the loader placed the blob there; its header says how long it is.
    let header = unsafe { &*(va as *const [u8; 8]) };
    let size = fdt::header_total_size(header)?;
    if dtb_pa + size > EARLY_MAP_LIMIT {
        return None;
    }
    take_boot_seeds(va, size);
    // SAFETY: as above, for the whole blob, which the frame allocator never hands out.
    Some(unsafe { core::slice::from_raw_parts(va as *const u8, size) })
}

/// Mixes the device tree's `rng-seed` and `kaslr-seed` into the kernel's generator and
/// overwrites them in the blob (Linux: `fdt_nop_property`), so that nothing read later can
/// recover the seed.
fn take_boot_seeds(va: usize, size: usize) {
    // SAFETY: the early map covers the blob (checked by the caller) and nothing refers to it yet;
    // this mutable view ends before the shared one is made.
    let blob = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, size) };
    for r in fdt::boot_seed_ranges(blob).into_iter().flatten() {
        let value = &mut blob[r.start..r.end()];
        crate::random::add_bootloader_randomness(value);
        value.fill(0);
    }
}

/// Completes the generator's seed: the CPU's RNDR where it exists, timer jitter only when no
/// other source gave anything (see `random`).
fn seed_random() {
    let from_dtb = crate::random::seeded_bytes();
    let mut hw = [0u8; 32];
    let rndr = cpu::hw_random(&mut hw);
    if rndr {
        crate::random::add_bootloader_randomness(&hw);
    }
    if crate::random::seeded_bytes() == 0 {
        log::warn!("random: no seed from the device tree or the CPU; using timer jitter");
        let mut jitter = [0u8; 256];
        for b in &mut jitter {
            let t = timer::ticks();
            let spin = (t & 0x3f) as usize + 1;
            for _ in 0..spin {
                core::hint::spin_loop();
            }
            *b = (timer::ticks().wrapping_sub(t) ^ t) as u8;
        }
        crate::random::add_bootloader_randomness(&jitter);
    }
    log::info!(
        "random: {from_dtb} seed bytes from the device tree, RNDR {}",
        if rndr { "mixed in" } else { "absent" }
    );
}

/// RAM the frame pool must not hand out: the kernel image, the DTB and the reserved ranges.
fn reserved_ranges(info: &MachineInfo<'_>, dtb_pa: usize) -> Ranges {
    let mut reserved = info.reserved;
    let _ = reserved.push(kernel_image());
    let _ = reserved.push(Range {
        start: dtb_pa,
        size: info.dtb_size,
    });
    if let Some(initrd) = info.initrd {
        let _ = reserved.push(initrd);
    }
    reserved
}

/// Gives the free pages of RAM in `[lo, hi)` to the frame pool.
fn add_frames(info: &MachineInfo<'_>, reserved: &Ranges, lo: usize, hi: usize) {
    let mut usable = Ranges::new();
    for r in info.memory.as_slice() {
        let (s, e) = (r.start.max(lo), r.end().min(hi));
        if s < e {
            let _ = usable.push(Range {
                start: s,
                size: e - s,
            });
        }
    }
    let mut pool = FRAMES.lock();
    frame::for_each_free_range(usable.as_slice(), reserved.as_slice(), |s, e| {
        pool.add_range(s, e)
    });
}

/// The first Rust code, entered from `_start` on the boot stack with the MMU on.
#[no_mangle]
pub extern "C" fn kmain(dtb_pa: usize, boot_el: u64) -> ! {
    crate::arch::aarch64::exception::set_fatal_handler(crate::trap::fatal_exception);
    crate::fs::inode::UNMAP_MAPPING.call_once(|| crate::task::rmap::unmap_mapping_range);
    crate::fs::inode::MAPPED_WRITABLE.call_once(|| crate::task::rmap::mapped_writable);
    heap::init();
    let Some(blob) = dtb_blob(dtb_pa) else {
        // No device tree means no console either; the exit status is all the host will get.
        exit::exit(exit::STATUS_PANIC);
    };
    let info = match MachineInfo::parse(blob) {
        Ok(info) => info,
        Err(_) => exit::exit(exit::STATUS_PANIC),
    };
    // SAFETY: the UART's registers lie in the first GiB, which the early tables map as device memory.
    unsafe { crate::console::init(phys_to_virt(PhysAddr(info.uart)).as_usize()) };
    let opts = Options::parse(info.bootargs);
    opts.thp.set();
    crate::cmdline::set_boot_args(info.bootargs);
    crate::logger::init(opts.log_level);
    psci::set_conduit(match info.psci {
        Some(fdt::PsciMethod::Hvc) => psci::Conduit::Hvc,
        Some(fdt::PsciMethod::Smc) => psci::Conduit::Smc,
        None => psci::Conduit::None,
    });
    timer::allow_el0_counter();
    seed_random();
    // Frames the boot tables reach first, for the final tables; the rest once those map all RAM.
    let reserved = reserved_ranges(&info, dtb_pa);
    add_frames(&info, &reserved, 0, EARLY_MAP_LIMIT);
    let mut mmio = Ranges::new();
    let _ = mmio.push(Range {
        start: info.uart,
        size: PAGE_SIZE,
    });
    if let Some(rtc) = info.rtc {
        let _ = mmio.push(Range {
            start: rtc,
            size: PAGE_SIZE,
        });
    }
    // A GICv2's CPU interface is one 64 KiB frame; a GICv3's redistributors are two per CPU.
    let redist_len = 0x2_0000 * info.cpus.max(1);
    if let Some(g) = info.gic {
        let _ = mmio.push(Range {
            start: g.distributor,
            size: 0x1_0000,
        });
        let _ = mmio.push(Range {
            start: g.cpu_or_redist,
            size: if g.version == 3 { redist_len } else { 0x1_0000 },
        });
    }
    match mmu::init(frame::KernelPhys, info.memory.as_slice(), mmio.as_slice()) {
        Ok(pt) => {
            crate::mm::KERNEL_TABLE.call_once(|| crate::sync::Mutex::new(pt));
        }
        Err(e) => panic!("cannot build the kernel's translation tables: {e}"),
    }
    add_frames(&info, &reserved, EARLY_MAP_LIMIT, usize::MAX);
    let ram = info.memory.as_slice();
    if let (Some(lo), Some(hi)) = (
        ram.iter().map(|r| r.start).min(),
        ram.iter().map(|r| r.end()).max(),
    ) {
        frame::init_shared_bits(lo / PAGE_SIZE, hi.div_ceil(PAGE_SIZE));
    }
    {
        let mut pool = FRAMES.lock();
        let total = pool.total_frames();
        pool.set_reserve(frame::reserve_for(total));
    }
    if let Some(rtc) = info.rtc {
        // SAFETY: the RTC's registers were just mapped, and nothing else drives them.
        let seconds =
            unsafe { crate::drivers::pl031::read_seconds(phys_to_virt(PhysAddr(rtc)).as_usize()) };
        timer::set_realtime(seconds);
    }
    match info.gic {
        Some(g) if g.version == 3 && !crate::arch::aarch64::gic_cpuif::present() => {
            log::warn!("a GICv3 without its CPU interface: no scheduling tick");
        }
        Some(g) => {
            let (dist, second) = (
                phys_to_virt(PhysAddr(g.distributor)).as_usize(),
                phys_to_virt(PhysAddr(g.cpu_or_redist)).as_usize(),
            );
            let uart = info.uart_irq.unwrap_or(0) as usize;
            // SAFETY: the GIC's registers were just mapped, and nothing else drives them.
            unsafe {
                if g.version == 3 {
                    let mpidr = crate::arch::aarch64::cpu::mpidr();
                    crate::drivers::gic::init_v3(dist, second, redist_len, mpidr, uart)
                } else {
                    crate::drivers::gic::init(dist, second, uart)
                }
            };
            if info.uart_irq.is_some() {
                crate::console::enable_rx_interrupt();
            }
        }
        None => log::warn!("no GIC: no scheduling tick, processes switch only when they block"),
    }
    if crate::mm::vm_space::init().is_err() {
        panic!("no frame for the zero page");
    }
    start_secondaries(&info);
    banner(&info, boot_el, &reserved);

    if let Some(test) = opts.test {
        crate::selftest::run(test);
    }
    run_init(&info, &opts);
}

/// Makes the root file system from the initramfs, gives the initramfs's memory back, and starts
/// the program named by `init=` (default `/init`); never returns.
/// Starts every core the device tree lists after the boot core, one at a time, each on an idle
/// stack of its own; a core that fails to start is reported and left off.
fn start_secondaries(info: &MachineInfo<'_>) {
    use crate::arch::aarch64::smp;
    let boot = cpu::mpidr() & 0xff_00ff_ffff;
    if info.mpidrs[..info.cpus].iter().any(|&m| m != boot) {
        crate::task::klock::enable();
    }
    let mut next = 1;
    for &mpidr in info.mpidrs[..info.cpus].iter().filter(|&&m| m != boot) {
        let Some(stack) = crate::task::kstack::KernelStack::new() else {
            log::warn!("no memory for CPU {next}'s stack: it stays off");
            break;
        };
        let top = stack.top();
        match smp::start_cpu(next, mpidr, top, secondary_main) {
            Ok(()) => {
                // The core's idle loop runs on this stack for the rest of the run.
                core::mem::forget(stack);
                next += 1;
            }
            Err(e) => log::warn!("CPU with MPIDR {mpidr:#x} did not start: {e:?}"),
        }
    }
}

/// A secondary core's first Rust code, on its idle stack, in the higher half with the kernel's
/// tables: it finishes its MMU, timer and interrupt set-up, says it is online, and idles.
extern "C" fn secondary_main(cpu_index: usize, stack_top: usize) -> ! {
    mmu::init_secondary();
    timer::allow_el0_counter();
    crate::drivers::gic::init_cpu(cpu::mpidr());
    crate::arch::aarch64::smp::secondary_online();
    log::debug!("CPU {cpu_index} online");
    crate::task::sched::secondary_idle(stack_top)
}

fn run_init(info: &MachineInfo<'_>, opts: &Options<'_>) -> ! {
    use crate::fs::vfs::{Loc, Namei, Vfs};
    let Some(initrd) = info.initrd else {
        log::info!("no initramfs (QEMU -initrd) and so nothing to run; powering off");
        exit::exit(0);
    };
    // tmpfs's default size: half of RAM.
    let vfs =
        crate::fs::VFS.call_once(|| Vfs::new(timer::realtime_ns, FRAMES.lock().total_frames() / 2));
    {
        // SAFETY: the initramfs lies in RAM, which the linear map covers, and is kept out of the
        // frame pool until this block has copied it into the root file system.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                phys_to_virt(PhysAddr(initrd.start)).as_usize() as *const u8,
                initrd.size,
            )
        };
        let image = match crate::fs::Initramfs::parse(bytes) {
            Ok(image) => image,
            Err(e) => {
                println!("tidemark: the initramfs is unreadable: {e}");
                exit::exit(EXIT_CANNOT_EXECUTE);
            }
        };
        let u = crate::fs::rootfs::unpack(vfs, &image);
        log::info!(
            "initramfs unpacked: {} files, {} directories, {} others, {} left out; {} pages of data",
            u.files,
            u.dirs,
            u.others,
            u.skipped,
            vfs.rootfs.used_pages()
        );
    }
    // As Linux frees the initrd once unpacked (`free_initrd_mem`).
    FRAMES
        .lock()
        .add_range(initrd.start, initrd.start + initrd.size);
    crate::fs::rootfs::add_kernel_mounts(vfs);

    let name = opts.init.unwrap_or("init");
    let path = if name.starts_with('/') {
        alloc::string::String::from(name)
    } else {
        alloc::format!("/{name}")
    };
    let root = vfs.root_loc();
    let nd = Namei {
        vfs,
        cwd: &root,
        cred: crate::fs::inode::Cred::ROOT,
        proc: &crate::fs::rootfs::NoProcess,
        own: None,
    };
    // `/proc/self/exe` names the file, whatever link led to it (busybox's applet links).
    let exe = nd
        .canonical(&root, path.as_bytes())
        .ok()
        .and_then(|p| alloc::string::String::from_utf8(p).ok())
        .unwrap_or_else(|| path.clone());
    let inode = match nd.lookup(&root, path.as_bytes(), true) {
        Ok(Loc::Tmp(i)) if i.is_regular() => i,
        _ => {
            println!("tidemark: no program '{name}' in the initramfs");
            exit::exit(EXIT_NOT_FOUND);
        }
    };
    let before = (
        crate::mm::frame::free_frames(),
        heap::stats(),
        vfs.rootfs.used_pages(),
    );
    let image = crate::fs::read_whole(&inode);
    let init_argv = opts.init_argv();
    let mut argv: alloc::vec::Vec<&[u8]> = alloc::vec![name.as_bytes()];
    argv.extend(init_argv.iter().map(|a| a.as_bytes()));
    // Linux's `envp_init`, then what the command line gives init.
    let init_env: alloc::vec::Vec<_> = opts.init_env().collect();
    let mut envp: alloc::vec::Vec<&[u8]> = alloc::vec![b"HOME=/", b"TERM=linux"];
    envp.extend(init_env.iter().map(|e| e.as_bytes()));
    // A dynamically linked init finds its interpreter by absolute path, as the kernel's
    // `open_exec` does from `/`.
    let mut interp = |name: &[u8]| -> Result<
        (
            alloc::vec::Vec<u8>,
            alloc::sync::Arc<str>,
            crate::mm::object::Backing,
        ),
        crate::syscall::errno::Errno,
    > {
        match nd.lookup(&root, name, true)? {
            Loc::Tmp(i) if i.is_regular() => {
                let path = nd.canonical(&root, name).unwrap_or_else(|_| name.to_vec());
                let path = alloc::string::String::from_utf8_lossy(&path);
                Ok((
                    crate::fs::read_whole(&i),
                    alloc::sync::Arc::from(path.as_ref()),
                    crate::mm::object::Backing(i.clone()),
                ))
            }
            _ => Err(crate::syscall::errno::EACCES),
        }
    };
    match crate::task::exec::exec(
        &image,
        crate::mm::object::Backing(inode.clone()),
        &path,
        &exe,
        &argv,
        &envp,
        !opts.norandmaps,
        &mut interp,
    ) {
        Ok(mut p) => {
            drop(image);
            // Nothing has the file open yet: this cannot fail.
            p.exe_file = crate::fs::write_access::ExeFile::new(&inode).ok();
            log::info!("running {path}");
            crate::task::sched::run_first(alloc::boxed::Box::new(p), before, crate::trap::task_main)
        }
        Err(e) => {
            println!("tidemark: cannot run {path}: {e}");
            exit::exit(EXIT_CANNOT_EXECUTE);
        }
    }
}

/// Shell conventions: found but not runnable, and not found.
const EXIT_CANNOT_EXECUTE: u32 = 126;
const EXIT_NOT_FOUND: u32 = 127;

fn banner(info: &MachineInfo<'_>, boot_el: u64, reserved: &Ranges) {
    let midr = cpu::midr();
    println!(
        "tidemark {} — an AArch64 kernel whose heap has a tidemark",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "cpu: {} (MIDR {:#010x}), {} core(s) in the device tree, {} online",
        cpu::midr_name(midr),
        midr,
        info.cpus,
        crate::arch::aarch64::smp::online()
    );
    println!("entered at EL{boot_el}, running at EL1");
    for r in info.memory.as_slice() {
        println!(
            "ram: [{:#011x}..{:#011x}) {} MiB",
            r.start,
            r.end(),
            r.size >> 20
        );
    }
    println!("ram total: {} MiB", info.memory.total() >> 20);
    for r in reserved.as_slice() {
        log::debug!("reserved: [{:#x}..{:#x})", r.start, r.end());
    }
    let pool = FRAMES.lock();
    println!(
        "frames: {} free of {} ({} MiB free), page size {} KiB",
        pool.free_frames(),
        pool.total_frames(),
        (pool.free_frames() * PAGE_SIZE) >> 20,
        PAGE_SIZE >> 10
    );
    drop(pool);
    if let Some(gic) = info.gic {
        log::info!("GICv{} distributor at {:#x}", gic.version, gic.distributor);
    }
    log::info!(
        "PSCI conduit: {:?}; command line: \"{}\"",
        psci::conduit(),
        info.bootargs
    );
    let h = heap::stats();
    log::debug!(
        "kernel heap: {} of {} bytes in use",
        h.small_used,
        h.small_total
    );
}
