//! The kernel-side implementations of the traits the portable file syscalls are written against:
//! user memory and /proc from the current process, the console from the PL011, and sleeping.
use crate::arch::aarch64::timer;
use crate::fs::fdtable::Console;
use crate::fs::procfs::{ProcFile, ProcSource, SmapsRollup, StatFields};
use crate::mm::addr::PAGE_SHIFT;
use crate::mm::proc_fmt::{show_maps, show_status_vm, RssInfo};
use crate::syscall::errno::Errno;
use crate::syscall::fs::Sleeper;
use crate::syscall::user::UserMem;
use crate::task::process::Process;
use crate::task::sched::WaitFor;
use core::cell::RefCell;
use core::fmt::Write;

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
    pub exe: alloc::sync::Arc<str>,
    pub pid: i32,
}

impl ProcSource for ProcView<'_, '_> {
    fn render(&self, f: ProcFile, out: &mut alloc::string::String) {
        let mut p = self.shared.0.borrow_mut();
        let rss = p.mm.pt.pages.rss_pages();
        p.hiwater_rss = p.hiwater_rss.max(rss);
        let info = RssInfo {
            anon: rss,
            hiwater_rss: p.hiwater_rss,
            pte_bytes: p.mm.pt.pages.pt.table_frames() << PAGE_SHIFT,
            ..RssInfo::default()
        };
        let _ = match f {
            ProcFile::Maps => show_maps(out, &p.mm),
            ProcFile::Status => {
                let name = p.comm_str();
                let _ = write!(
                    out,
                    "Name:\t{name}\nUmask:\t0022\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\nUid:\t{u}\t{eu}\t{su}\t{eu}\nGid:\t{g}\t{eg}\t{sg}\t{eg}\nFDSize:\t64\nGroups:\t\n",
                    pid = p.pid,
                    ppid = p.ppid,
                    u = p.creds.uid,
                    eu = p.creds.euid,
                    su = p.creds.suid,
                    g = p.creds.gid,
                    eg = p.creds.egid,
                    sg = p.creds.sgid,
                );
                let _ = show_status_vm(out, &p.mm, &info);
                write!(out, "Threads:\t1\nSigQ:\t0/0\nSigPnd:\t{:016x}\nShdPnd:\t0000000000000000\nSigBlk:\t{:016x}\n", p.signals.pending.0, p.signals.blocked.0)
            }
            ProcFile::Stat => {
                let comm = p.comm_str();
                let mut s = StatFields::new(p.pid, &comm);
                let c = p.mm.counters();
                s.ppid = p.ppid;
                s.minflt = p.minflt;
                s.majflt = p.majflt;
                s.starttime = p.start_ticks * 100 / timer::frequency();
                s.vsize = (c.total_vm << PAGE_SHIFT) as u64;
                s.rss = rss as u64;
                s.startcode = p.mm.start_code as u64;
                s.endcode = p.mm.end_code as u64;
                s.startstack = p.mm.start_stack as u64;
                s.start_data = p.mm.start_data as u64;
                s.end_data = p.mm.end_data as u64;
                s.start_brk = p.mm.start_brk as u64;
                s.arg_start = p.arg_start as u64;
                s.arg_end = p.arg_end as u64;
                s.env_start = p.env_start as u64;
                s.env_end = p.env_end as u64;
                s.signal = p.signals.pending.0;
                s.blocked = p.signals.blocked.0;
                s.write_stat(out)
            }
            ProcFile::SmapsRollup => {
                // One pass over the leaves against the VMAs in order: `Locked` needs to know
                // which VMA each resident page is in.
                let vmas: alloc::vec::Vec<_> =
                    p.mm.vmas().map(|v| (v.start, v.end, v.flags)).collect();
                let r = p.mm.pt.pages.resident_by_vma(&vmas);
                SmapsRollup {
                    start: vmas.first().map_or(0, |v| v.0),
                    end: vmas.last().map_or(0, |v| v.1),
                    rss_pages: r.pages,
                    block_pages: r.block_pages,
                    locked_pages: r.locked_pages,
                }
                .write(out)
            }
        };
    }

    fn exe_path(&self) -> &str {
        &self.exe
    }

    fn pid(&self) -> i32 {
        self.pid
    }
}

/// The PL011 console as the fd table's console.
pub struct KernelConsole;

impl Console for KernelConsole {
    fn write(&self, bytes: &[u8]) {
        crate::console::write_bytes(bytes);
    }
    fn read(&self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match crate::console::try_read_byte() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        n
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

    /// ppoll's temporary signal mask is not installed for the wait: a signal it would block
    /// still ends the wait (the call is then interrupted, as without a mask).
    fn block(&self, deadline: Option<u64>, pipes: bool, _mask: Option<u64>) -> Errno {
        let mut p = self.shared.0.borrow_mut();
        p.sleep_deadline = deadline;
        p.wait = Some(match (deadline, pipes) {
            (Some(d), true) => WaitFor::PipeUntil(self.since, d),
            (Some(d), false) => WaitFor::Until(d),
            (None, true) => WaitFor::Pipe(self.since),
            (None, false) => WaitFor::Signal,
        });
        crate::syscall::errno::EWOULDBLOCK_RESTART
    }

    fn finish(&self) {
        self.shared.0.borrow_mut().sleep_deadline = None;
    }
}
