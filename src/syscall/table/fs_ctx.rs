//! The kernel-side implementations of the traits the portable file syscalls are written against:
//! user memory and /proc from the current process, the console from the PL011, and sleeping.
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::timer;
use crate::fs::fdtable::Console;
use crate::fs::procfs::{
    write_cpuinfo, GlobalFile, MemInfo, Node, ProcFile, ProcLink, ProcSource, StatFields, SysFile,
};
use crate::mm::addr::PAGE_SHIFT;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::frame::FRAMES;
use crate::mm::proc_fmt::{show_maps, show_status_vm, RssInfo};
use crate::mm::smaps::{show_smap, show_smaps_rollup, MemSizeStats, SmapsVma};
use crate::mm::uaccess::UserMem;
use crate::syscall::fs::Sleeper;
use crate::task::hwcaps::elf_hwcaps;
use crate::task::process::Process;
use crate::task::sched::WaitFor;
use crate::task::sched::TASKS;
use alloc::string::String;
use core::cell::RefCell;
use core::fmt::Write;
use tidemark_abi::errno;
use tidemark_abi::errno::Errno;

/// The current process shared between the `UserMem` and `ProcSource` roles of one syscall; the
/// handlers never use both at once, so the `RefCell` borrows never overlap.
pub struct Shared<'a>(pub RefCell<&'a mut Process>);

pub struct MemView<'s, 'a>(pub &'s Shared<'a>);

impl UserMem for MemView<'_, '_> {
    fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno> {
        self.0 .0.borrow_mut().copy_from_user(addr, buf)
    }
    fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        self.0 .0.borrow_mut().copy_to_user(addr, bytes)
    }
}

pub struct ProcView<'s, 'a> {
    pub shared: &'s Shared<'a>,
    /// The caller's process id, and its thread's.
    pub pid: i32,
    pub tid: i32,
    /// The caller's umask (its `fs` is held by the call).
    pub umask: u32,
}

/// The mappings of objects in `mm`, as `UserPages::object_pages` takes them.
fn object_vmas(
    mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>,
) -> alloc::vec::Vec<(usize, usize, usize, &dyn crate::mm::object::PageObject)> {
    mm.vmas()
        .filter_map(|v| {
            v.backing().map(|b| {
                (
                    v.start,
                    v.end,
                    v.pgoff,
                    &*b.0 as &dyn crate::mm::object::PageObject,
                )
            })
        })
        .collect()
}

/// The text of a process's own /proc file.
fn render_pid(p: &Process, f: ProcFile, out: &mut String, umask: u32) {
    let mm = p.mm();
    // An object's own pages are file or shmem RSS (`mm_counter_file`); private copies are
    // anonymous.
    let pages = mm.pt.pages.lock();
    let r = pages.resident();
    let (file, shmem) = pages.object_pages(&object_vmas(&mm));
    let info = RssInfo {
        anon: r.pages - file - shmem,
        file,
        shmem,
        hiwater_rss: p.hiwater_rss.max(r.pages),
        pte_bytes: pages.pt.table_frames() << PAGE_SHIFT,
    };
    drop(pages);
    let _ = match f {
        ProcFile::Maps => show_maps(out, &mm),
        ProcFile::CoredumpFilter => writeln!(
            out,
            "{:08x}",
            p.group
                .coredump_filter
                .load(core::sync::atomic::Ordering::Relaxed)
        ),
        ProcFile::Status => {
            let name = p.comm_str();
            let _ = write!(
                out,
                "Name:\t{name}\nUmask:\t{umask:04o}\nState:\tR (running)\nTgid:\t{tgid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\nUid:\t{u}\t{eu}\t{su}\t{eu}\nGid:\t{g}\t{eg}\t{sg}\t{eg}\nFDSize:\t64\nGroups:\t\n",
                umask = umask,
                tgid = p.tgid,
                pid = p.pid,
                ppid = p.ppid,
                u = p.creds.uid,
                eu = p.creds.euid,
                su = p.creds.suid,
                g = p.creds.gid,
                eg = p.creds.egid,
                sg = p.creds.sgid,
            );
            let _ = show_status_vm(out, &mm, &info);
            write!(
                out,
                "Threads:\t{}\nSigQ:\t0/0\nSigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\n",
                p.group.live.load(core::sync::atomic::Ordering::Relaxed),
                p.signals.own.set.0,
                p.signals.shared.set().0,
                p.signals.blocked.0
            )
        }
        ProcFile::Stat => {
            let comm = p.comm_str();
            let mut s = StatFields::new(p.pid, &comm);
            let c = mm.counters();
            s.ppid = p.ppid;
            s.pgrp = p.pgid;
            s.session = p.sid;
            s.state = if p.wait.is_some() { 'S' } else { 'R' };
            s.minflt = p.minflt;
            s.exit_signal = p
                .group
                .exit_signal
                .load(core::sync::atomic::Ordering::Relaxed) as i64;
            // CPU time in clock ticks (USER_HZ): the thread's, with its process's ended threads.
            s.utime = crate::arch::aarch64::timer::ticks_to_ns(
                p.cpu_ticks + p.group.dead_cpu.load(core::sync::atomic::Ordering::Relaxed),
            ) / 10_000_000;
            s.majflt = p.majflt;
            s.starttime = p.start_ticks * 100 / timer::frequency();
            s.vsize = (c.total_vm << PAGE_SHIFT) as u64;
            s.rss = r.pages as u64;
            s.startcode = mm.start_code as u64;
            s.endcode = mm.end_code as u64;
            s.startstack = mm.start_stack as u64;
            s.start_data = mm.start_data as u64;
            s.end_data = mm.end_data as u64;
            s.start_brk = mm.start_brk as u64;
            s.arg_start = p.arg_start as u64;
            s.arg_end = p.arg_end as u64;
            s.env_start = p.env_start as u64;
            s.env_end = p.env_end as u64;
            s.signal = p.signals.pending().0;
            s.blocked = p.signals.blocked.0;
            s.write_stat(out)
        }
        ProcFile::Statm => {
            let c = mm.counters();
            let text = (mm.end_code.saturating_sub(mm.start_code)) >> PAGE_SHIFT;
            writeln!(
                out,
                "{} {} {} {} 0 {} 0",
                c.total_vm,
                r.pages,
                file + shmem,
                text,
                c.data_vm + c.stack_vm
            )
        }
        ProcFile::SmapsRollup => {
            let mut sum = MemSizeStats::default();
            for stats in smaps_stats(&mm) {
                sum.add(&stats);
            }
            let start = mm.vmas().next().map_or(0, |v| v.start);
            let end = mm.vmas().next_back().map_or(0, |v| v.end);
            show_smaps_rollup(out, start, end, &sum)
        }
        ProcFile::Cmdline | ProcFile::Environ => {
            let (start, end) = if f == ProcFile::Cmdline {
                (p.arg_start, p.arg_end)
            } else {
                (p.env_start, p.env_end)
            };
            let mut bytes = alloc::vec![0u8; end.saturating_sub(start).min(1 << 20)];
            let mut done = 0;
            for (a, off, n) in crate::mm::uaccess::user_chunks(start, bytes.len()) {
                if !peek(&mm, a, &mut bytes[off..off + n]) {
                    break;
                }
                done = off + n;
            }
            bytes.truncate(done);
            out.push_str(&String::from_utf8_lossy(&bytes));
            Ok(())
        }
        ProcFile::Comm => writeln!(out, "{}", p.comm_str()),
        ProcFile::Mounts => out.write_str(&crate::fs::vfs().mounts_text()),
        // Binary, read a window at a time (`ProcSource::pagemap`).
        ProcFile::Pagemap => Ok(()),
        ProcFile::Smaps => {
            let stats = smaps_stats(&mm);
            for (v, stats) in mm.vmas().zip(&stats) {
                let _ = show_smap(out, &mm, v, stats, mm.thp_disabled);
            }
            Ok(())
        }
    };
}

/// Every VMA's smaps figures, in the tree's order.
fn smaps_stats(
    mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>,
) -> alloc::vec::Vec<MemSizeStats> {
    mm.pt.pages.lock().smaps_by_vma(&smaps_vmas(mm, |_| true))
}

/// The VMAs of `mm` that `keep` accepts, as smaps accounts them.
fn smaps_vmas(
    mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>,
    keep: impl Fn(&crate::mm::vma::Vma) -> bool,
) -> alloc::vec::Vec<SmapsVma<'_>> {
    mm.vmas()
        .filter(|v| keep(v))
        .map(|v| SmapsVma {
            start: v.start,
            end: v.end,
            flags: v.flags,
            pgoff: v.pgoff,
            object: v
                .backing()
                .map(|b| &*b.0 as &dyn crate::mm::object::PageObject),
        })
        .collect()
}

/// Reads a process's memory through its page table, without faulting anything in: what is
/// not resident reads as absent (the argument and environment strings always are: exec wrote
/// them).
fn peek(
    mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>,
    addr: usize,
    buf: &mut [u8],
) -> bool {
    use crate::mm::frame::KernelPhys;
    use crate::mm::phys::PhysMem;
    for (i, b) in buf.iter_mut().enumerate() {
        let Some(t) = mm.pt.translate(addr + i) else {
            return false;
        };
        // SAFETY: a frame mapped in that process, read through the linear map.
        *b = unsafe { *KernelPhys.phys_to_virt(t.pa) };
    }
    true
}

/// A link of a process other than the caller (`exe`, `cwd`, `fd/N`). A table found taken is
/// the caller's, held by its file call on this core, and asked for through a task that shares
/// it, which the caller's walker answers for first (`ProcSource::shares_files`): none of these
/// lookups waits for it.
pub fn other_link(link: ProcLink) -> Result<String, Errno> {
    let tasks = TASKS.lock();
    let pid = Node::Link(link).pid().ok_or(errno::ENOENT)?;
    let p = tasks.get(pid).ok_or(errno::ENOENT)?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match link {
        ProcLink::Exe(_) => Ok(String::from(&*p.exe)),
        ProcLink::Cwd(_) => Ok(text(
            &crate::fs::vfs().path_of(&p.fs.try_lock().ok_or(errno::ENOENT)?.cwd)?,
        )),
        ProcLink::Fd(_, n) => Ok(p
            .files
            .try_lock()
            .ok_or(errno::ENOENT)?
            .get(n)?
            .file
            .lock()
            .describe(crate::fs::vfs())),
        _ => Err(errno::ENOENT),
    }
}

/// The files at the top of /proc and in /proc/sys.
fn render_global(node: Node, out: &mut String, me: &Process) -> Result<(), Errno> {
    let uptime_cs = timer::uptime_ns() / 10_000_000;
    let _ = match node {
        Node::Global(GlobalFile::Meminfo) => {
            let total = FRAMES.lock().total_frames();
            let free = crate::mm::frame::free_frames();
            // Anonymous pages are the resident ones that are no object's own; `Mapped` counts
            // each object page mapped anywhere once; `AnonHugePages` the pages blocks map;
            // `Mlocked` the resident pages of locked VMAs (a fork's child does not inherit the
            // lock, so no page counts twice).
            let mut mapped = alloc::collections::BTreeSet::new();
            let (mut huge, mut mlocked) = (0, 0);
            let mut count = |mm: &crate::mm::mm_struct::MmStruct<crate::mm::vm_space::VmSpace>| {
                let mut objects = 0;
                let pages = mm.pt.pages.lock();
                pages.for_each_object_page(&object_vmas(mm), |pa, _| {
                    objects += 1;
                    mapped.insert(pa.0);
                });
                let locked = smaps_vmas(mm, |v| v.flags.contains(crate::mm::vma::VM_LOCKED));
                if !locked.is_empty() {
                    let stats = pages.smaps_by_vma(&locked);
                    mlocked += stats.iter().map(|s| s.resident as usize / PAGE_SIZE).sum::<usize>();
                }
                let r = pages.resident();
                huge += r.block_pages;
                r.pages - objects
            };
            let mut anon = count(&me.mm());
            let mut tables = me.mm().pt.pages.get_mut().pt.table_frames();
            let mut committed = me.mm().counters().total_vm;
            let tasks = TASKS.lock();
            let n = tasks.process_count() + 1;
            // Each address space once: threads share theirs.
            let mut seen = alloc::vec![alloc::sync::Arc::as_ptr(&me.mm)];
            for pid in tasks.pids() {
                if let Some(p) = tasks.get(pid) {
                    let id = alloc::sync::Arc::as_ptr(&p.mm);
                    if seen.contains(&id) {
                        continue;
                    }
                    seen.push(id);
                    anon += count(&p.mm());
                    tables += p.mm().pt.pages.get_mut().pt.table_frames();
                    committed += p.mm().counters().total_vm;
                }
            }
            drop(tasks);
            let kb = |pages: usize| (pages * (PAGE_SIZE / 1024)) as u64;
            let shmem = crate::fs::vfs().rootfs.used_pages();
            MemInfo {
                total: kb(total),
                free: kb(free),
                available: kb(free),
                shmem: kb(shmem),
                mapped: kb(mapped.len()),
                anon: kb(anon),
                anon_huge: kb(huge),
                mlocked: kb(mlocked),
                page_tables: kb(tables),
                kernel_stack: n as u64 * 64,
                slab: (crate::mm::heap::stats().small_used / 1024) as u64,
                commit_limit: kb(total / 2),
                committed: kb(committed),
                vmalloc_total: 0,
            }
            .write(out)
        }
        Node::Global(GlobalFile::Cpuinfo) => {
            let (hwcap, _) = elf_hwcaps(&cpu::id_registers());
            let bogomips = timer::frequency() * 2 / 10_000;
            (0..crate::arch::aarch64::smp::online())
                .try_for_each(|n| write_cpuinfo(&mut *out, n, hwcap, cpu::midr(), bogomips))
        }
        Node::Global(GlobalFile::Stat) => {
            let boot = (timer::realtime_ns() - timer::uptime_ns()) / 1_000_000_000;
            let tasks = TASKS.lock();
            let (n, last) = (
                tasks.process_count() + 1,
                tasks.pids().max().unwrap_or(me.pid),
            );
            drop(tasks);
            let cpus = crate::arch::aarch64::smp::online();
            // Writing to a String cannot fail.
            let _ = writeln!(out, "cpu  0 0 0 {} 0 0 0 0 0 0", uptime_cs * cpus as u64);
            for n in 0..cpus {
                let _ = writeln!(out, "cpu{n} 0 0 0 {uptime_cs} 0 0 0 0 0 0");
            }
            write!(
                out,
                "intr 0\nctxt 0\nbtime {boot}\nprocesses {}\nprocs_running 1\nprocs_blocked {}\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
                last.max(me.pid),
                n - 1
            )
        }
        Node::Global(GlobalFile::Uptime) => writeln!(
            out,
            "{}.{:02} {}.{:02}",
            uptime_cs / 100,
            uptime_cs % 100,
            uptime_cs / 100,
            uptime_cs % 100
        ),
        Node::Global(GlobalFile::Loadavg) => {
            let n = TASKS.lock().process_count() + 1;
            writeln!(out, "0.00 0.00 0.00 1/{n} {}", me.pid)
        }
        Node::Global(GlobalFile::Version) => writeln!(
            out,
            "Linux version {} (tidemark {}) {}",
            super::UTS_RELEASE,
            env!("CARGO_PKG_VERSION"),
            super::UTS_VERSION
        ),
        Node::Global(GlobalFile::Cmdline) => writeln!(out, "{}", crate::cmdline::boot_args()),
        Node::Global(GlobalFile::Filesystems) => out.write_str("nodev\ttmpfs\nnodev\tproc\n"),
        Node::Sys(f) => match f {
            SysFile::PidMax => out.write_str("32768\n"),
            SysFile::Tainted => out.write_str("0\n"),
            SysFile::Osrelease => writeln!(out, "{}", super::UTS_RELEASE),
            SysFile::Ostype => out.write_str("Linux\n"),
            SysFile::Hostname => out.write_str("tidemark\n"),
            SysFile::OvercommitMemory => out.write_str("0\n"),
            SysFile::MaxMapCount => {
                writeln!(out, "{}", crate::mm::mm_struct::DEFAULT_MAX_MAP_COUNT)
            }
            SysFile::MmapMinAddr => writeln!(out, "{}", crate::mm::mm_struct::DAC_MMAP_MIN_ADDR),
            SysFile::IpcShm => super::shm::proc_show(out),
            SysFile::CorePattern => writeln!(out, "{}", crate::task::coredump::core_pattern()),
            // tidemark has no message queues or semaphore sets: the tables are empty.
            SysFile::IpcMsg => out.write_str(
                "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
            ),
            SysFile::IpcSem => out.write_str(
                "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
            ),
        },
        _ => return Err(errno::EISDIR),
    };
    Ok(())
}

impl ProcView<'_, '_> {
    /// Runs `f` on process `pid`: the caller's own (held by this call), or another from the
    /// task table (`ESRCH` if it is gone).
    fn with_process<R>(&self, pid: i32, f: impl FnOnce(&Process) -> R) -> Result<R, Errno> {
        if pid == self.pid || pid == self.tid {
            Ok(f(&self.shared.0.borrow()))
        } else {
            let tasks = TASKS.lock();
            let p = tasks.get(pid).ok_or(errno::ESRCH)?;
            Ok(f(&p))
        }
    }

    /// Whether task `pid`, not the caller, has `same` with it.
    fn shares(&self, pid: i32, same: impl Fn(&Process, &Process) -> bool) -> bool {
        let me = self.shared.0.borrow();
        TASKS.lock().get(pid).is_some_and(|q| same(&q, &me))
    }
}

impl ProcSource for ProcView<'_, '_> {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn rlimit_fsize(&self) -> u64 {
        self.shared.0.borrow().mm().rlimits.recorded[super::RLIMIT_FSIZE].cur as u64
    }

    fn write(&self, node: Node, data: &[u8]) -> Result<usize, Errno> {
        match node {
            Node::Sys(SysFile::CorePattern) => {
                crate::task::coredump::set_core_pattern(data);
                Ok(data.len())
            }
            Node::File(pid, ProcFile::CoredumpFilter) => {
                // `proc_coredump_filter_write`: a number in any base `kstrtouint` reads, of
                // which the filter's nine bits are kept.
                let text = core::str::from_utf8(data).map_err(|_| errno::EINVAL)?;
                let v = crate::fs::procfs::parse_uint(text).ok_or(errno::EINVAL)?;
                self.with_process(pid, |p| {
                    p.group
                        .coredump_filter
                        .store(v & 0x1ff, core::sync::atomic::Ordering::Relaxed)
                })?;
                Ok(data.len())
            }
            _ => Err(errno::EINVAL),
        }
    }
    fn cpus(&self) -> usize {
        crate::arch::aarch64::smp::online()
    }

    fn shares_files(&self, pid: i32) -> bool {
        self.shares(pid, |q, me| alloc::sync::Arc::ptr_eq(&q.files, &me.files))
    }

    fn shares_fs(&self, pid: i32) -> bool {
        self.shares(pid, |q, me| alloc::sync::Arc::ptr_eq(&q.fs, &me.fs))
    }

    fn pids(&self) -> alloc::vec::Vec<i32> {
        // Processes, by their ids: a thread of a process is not listed on its own.
        let mut v: alloc::vec::Vec<i32> = TASKS.lock().iter().map(|p| p.tgid).collect();
        v.push(self.pid);
        v.sort_unstable();
        v.dedup();
        v
    }

    fn threads(&self, pid: i32) -> alloc::vec::Vec<i32> {
        let mut v = TASKS.lock().threads_of(pid);
        if pid == self.pid {
            v.push(self.tid);
        }
        v.sort_unstable();
        v
    }

    fn exists(&self, pid: i32) -> bool {
        pid == self.pid || pid == self.tid || TASKS.lock().get(pid).is_some()
    }

    fn fds(&self, pid: i32) -> alloc::vec::Vec<u32> {
        TASKS
            .lock()
            .get(pid)
            .and_then(|p| p.files.try_lock().map(|f| f.open_fds().collect()))
            .unwrap_or_default()
    }

    fn render(&self, node: Node, out: &mut String) -> Result<(), Errno> {
        match node {
            Node::File(pid, f) if pid == self.pid || pid == self.tid => {
                let mut p = self.shared.0.borrow_mut();
                crate::task::sched::fold_faults(&mut p);
                let rss = p.mm().pt.pages.get_mut().rss_pages();
                p.hiwater_rss = p.hiwater_rss.max(rss);
                render_pid(&p, f, out, self.umask);
                Ok(())
            }
            Node::File(pid, f) => {
                let tasks = TASKS.lock();
                let p = tasks.get(pid).ok_or(errno::ESRCH)?;
                // Taken: it is the caller's, held by this call.
                let umask = p.fs.try_lock().map_or(self.umask, |fs| fs.umask);
                render_pid(&p, f, out, umask);
                Ok(())
            }
            _ => render_global(node, out, &self.shared.0.borrow()),
        }
    }

    fn pagemap(
        &self,
        pid: i32,
        first: usize,
        out: &mut [u64],
        show_pfn: bool,
    ) -> Result<(), Errno> {
        self.with_process(pid, |p| {
            let mm = p.mm();
            let vmas = smaps_vmas(&mm, |_| true);
            mm.pt.pages.lock().pagemap(&vmas, first, out, show_pfn);
        })
    }

    fn link(&self, link: ProcLink) -> Result<String, Errno> {
        match link {
            ProcLink::Exe(p) if p == self.pid || p == self.tid => {
                Ok(String::from(&*self.shared.0.borrow().exe))
            }
            l => other_link(l),
        }
    }

    fn link_loc(&self, link: ProcLink) -> Option<crate::fs::vfs::Loc> {
        let tasks = TASKS.lock();
        let pid = Node::Link(link).pid()?;
        let p = tasks.get(pid)?;
        match link {
            ProcLink::Cwd(_) => Some(p.fs.try_lock()?.cwd.clone()),
            ProcLink::Fd(_, n) => p.files.try_lock()?.get(n).ok()?.file.lock().kind.loc(),
            _ => None,
        }
    }
}

/// The PL011 console as the fd table's console.
pub struct KernelConsole;

impl Console for KernelConsole {
    fn write(&self, bytes: &[u8]) {
        crate::console::write_bytes(bytes);
    }
    fn tty(&self) -> &crate::sync::Mutex<crate::fs::tty::Tty> {
        &crate::console::TTY
    }
    fn poll_input(&self) {
        crate::console::poll_input();
    }
}

/// Waiting for ppoll through the scheduler: the caller is parked with the wait recorded in the
/// process (`WaitFor`), and other processes run meanwhile.
pub struct SchedSleeper<'s, 'a> {
    pub shared: &'s Shared<'a>,
    /// `pipe::events()` before the call: a pipe wait ends when it moves on.
    pub since: u64,
}

impl Sleeper for SchedSleeper<'_, '_> {
    fn now_ns(&self) -> u64 {
        timer::uptime_ns()
    }

    fn deadline(&self) -> Option<u64> {
        self.shared.0.borrow().sleep_deadline
    }

    /// ppoll's and pselect6's signal mask is installed for the wait as rt_sigsuspend's is
    /// (`set_user_sigmask`): the mask from before is kept in `saved_sigmask`, which a handler's
    /// frame restores, or `fs_call` once the call returns otherwise.
    fn block(&self, deadline: Option<u64>, pipes: bool, mask: Option<u64>) -> Errno {
        let mut p = self.shared.0.borrow_mut();
        if let Some(m) = mask {
            p.signals.set_temporary_mask(crate::task::signal::SigSet(m));
        }
        p.sleep_deadline = deadline;
        p.wait = Some(match (deadline, pipes) {
            (Some(d), true) => WaitFor::PipeUntil(self.since, d),
            (Some(d), false) => WaitFor::Until(d),
            (None, true) => WaitFor::Pipe(self.since),
            (None, false) => WaitFor::Signal,
        });
        tidemark_abi::errno::EWOULDBLOCK_RESTART
    }

    fn finish(&self) {
        self.shared.0.borrow_mut().sleep_deadline = None;
    }

    fn take_fifo_wait(&self) -> Option<crate::fs::pipe::FifoWait> {
        self.shared.0.borrow_mut().fifo_wait.take()
    }

    fn keep_fifo_wait(&self, w: crate::fs::pipe::FifoWait) {
        self.shared.0.borrow_mut().fifo_wait = Some(w);
    }

    fn pgrp_orphaned(&self) -> bool {
        let p = self.shared.0.borrow();
        TASKS.lock().pgrp_orphaned(&p)
    }

    fn ignores(&self, sig: u32) -> bool {
        let p = self.shared.0.borrow();
        p.signals.blocked.contains(sig)
            || p.signals.action(sig).handler == crate::task::signal::SIG_IGN
    }
}
