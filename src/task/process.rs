//! A process: its address space and VMAs, signal state, credentials and counters, and the
//! operations that need all of them at once (user-memory access that faults pages in, the page
//! fault path, signal delivery and return).
use crate::arch::aarch64::context::{fp_restore, fp_save};
use crate::arch::aarch64::exception::TrapFrame;
use crate::arch::aarch64::uaccess;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::error::MmError;
use crate::mm::fault::{find_vma_for_fault, FaultAccess, FaultError};
use crate::mm::frame::KernelPhys;
use crate::mm::mm_struct::{MmStruct, Rlimit, RLIM_INFINITY};

/// `MMF_DUMP_FILTER_DEFAULT`: anonymous private and shared memory, the first page of ELF files,
/// private huge pages.
pub const DUMP_FILTER_DEFAULT: u32 = 0x33;
use crate::mm::phys::PhysMem;
use crate::mm::thp::huge_fault_range;
use crate::mm::user_pages::FaultResult;
use crate::mm::vm_space::VmSpace;
use crate::task::sigframe::{
    build_rt_frame, parse_for_sigreturn, sigreturn_frame_addr, FaultRecord, FpState, FrameRequest,
    UserContext, FRAME_BYTES,
};
use crate::task::signal::{self, Deliver, SigInfo, SignalState};
use aarch64_cpu::registers::Readable;
use tidemark_abi::errno::{self, Errno};

/// Real, effective and saved user and group IDs. tidemark has no capabilities: effective uid 0
/// stands for all of them (CAP_IPC_LOCK included), any other uid is unprivileged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
}

/// Why a process stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    Exited(i32),
    Signaled {
        sig: u32,
        core: bool,
    },
    /// Out of memory in a page fault: no OOM killer, so the faulting program ends.
    OutOfMemory,
}

impl ExitReason {
    /// The status a shell would report: the exit code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitReason::Exited(code) => code & 0xff,
            ExitReason::Signaled { sig, .. } => 128 + sig as i32,
            ExitReason::OutOfMemory => 128 + signal::SIGKILL as i32,
        }
    }
}

/// An address space with its VMAs, shared by the threads of a process (`CLONE_VM`), behind
/// Linux's mmap lock: a page fault on private anonymous memory takes it shared, so that the
/// threads of a process fault on several cores at once; every other mm call, and every fault that
/// needs more (a file, a growing stack), takes it exclusive. Faults that share it change the page
/// tables under the tables' own lock (`VmSpace::pages`, Linux's `page_table_lock`), which an
/// exclusive holder needs not take. Never held across a switch (the kernel is not preempted, and
/// a waiting call has left the kernel's state as it found it).
///
/// Lock order: the mmap lock, then the page tables' lock, then the frame pool's.
pub type MmLock = crate::sync::RwSem<MmStruct<VmSpace>>;
pub type MmRef = alloc::sync::Arc<MmLock>;

/// What the threads of a process share besides memory, files and signals (Linux's
/// `signal_struct`): how many are alive, and the status they all leave with once one of them
/// called `exit_group` or took a fatal signal (`group_exit_code`).
#[derive(Debug)]
pub struct ThreadGroup {
    pub live: core::sync::atomic::AtomicUsize,
    pub exit: crate::sync::Mutex<Option<ExitReason>>,
    /// `ITIMER_REAL` (setitimer, alarm): the process's, whichever thread set it; not inherited
    /// by fork, as on Linux.
    pub itimer_real: crate::sync::Mutex<Option<ItimerReal>>,
    /// Whether `itimer_real` is armed, written under its lock: the scheduler, which looks at
    /// every sleeper at every switch, takes the lock only then.
    pub real_armed: core::sync::atomic::AtomicBool,
    /// `ITIMER_VIRTUAL` and `ITIMER_PROF`, in that order (Linux's `signal->it[]`): the same for
    /// tidemark, which counts all CPU time as user time.
    pub itimer_cpu: crate::sync::Mutex<[Option<ItimerCpu>; 2]>,
    /// `PR_SET_CHILD_SUBREAPER`: the orphans of this process's descendants come here rather
    /// than to the first process. A fork's child does not inherit it; an exec keeps it.
    pub is_child_subreaper: core::sync::atomic::AtomicBool,
    /// The signal the parent gets when the process ends (`clone`'s `CSIGNAL` byte; SIGCHLD for
    /// fork; SIGCHLD again once re-parented). Linux keeps it in the leader's task; here the last
    /// thread to end finds it, whichever thread that is.
    pub exit_signal: core::sync::atomic::AtomicU32,
    /// `PR_SET_DUMPABLE`: whether a core dump may be written (Linux keeps it in the mm's flags,
    /// which a fork copies and an exec sets back).
    pub dumpable: core::sync::atomic::AtomicBool,
    /// `/proc/PID/coredump_filter`: which memory a core dump holds (Linux's `MMF_DUMP_*` bits
    /// of the mm's flags, which a fork copies and an exec keeps).
    pub coredump_filter: core::sync::atomic::AtomicU32,
    /// RLIMIT_CPU, in seconds of the process's CPU time. Linux keeps every limit here, in
    /// `signal_struct`; tidemark keeps the others with the mm, which consults them, and this one
    /// where the tick that enforces it looks ([`Process::itimer_cpu_check`]). A fork's child
    /// inherits it, an exec keeps it.
    pub rlimit_cpu: crate::sync::Mutex<Rlimit>,
    /// Whether either of them is armed, or RLIMIT_CPU is finite: the tick looks at them only
    /// then ([`ThreadGroup::rearm_cpu_timers`]).
    pub cpu_timers: core::sync::atomic::AtomicBool,
    /// CPU time, in counter ticks, of the threads that ended, and of the children reaped
    /// (Linux's `signal->utime` and `cutime`).
    pub dead_cpu: core::sync::atomic::AtomicU64,
    pub children_cpu: core::sync::atomic::AtomicU64,
    /// A group stop waits for this many threads that ran on other cores when it began; the last
    /// of them to stop tells the parent (Linux's `group_stop_count`), with this signal.
    pub stopping: core::sync::atomic::AtomicUsize,
    pub stop_sig: core::sync::atomic::AtomicU32,
}

impl ThreadGroup {
    pub fn new() -> alloc::sync::Arc<ThreadGroup> {
        alloc::sync::Arc::new(ThreadGroup {
            live: core::sync::atomic::AtomicUsize::new(1),
            exit: crate::sync::Mutex::new(None),
            itimer_real: crate::sync::Mutex::new(None),
            real_armed: core::sync::atomic::AtomicBool::new(false),
            itimer_cpu: crate::sync::Mutex::new([None; 2]),
            is_child_subreaper: core::sync::atomic::AtomicBool::new(false),
            exit_signal: core::sync::atomic::AtomicU32::new(crate::task::signal::SIGCHLD),
            dumpable: core::sync::atomic::AtomicBool::new(true),
            coredump_filter: core::sync::atomic::AtomicU32::new(DUMP_FILTER_DEFAULT),
            rlimit_cpu: crate::sync::Mutex::new(Rlimit::INFINITY),
            cpu_timers: core::sync::atomic::AtomicBool::new(false),
            dead_cpu: core::sync::atomic::AtomicU64::new(0),
            children_cpu: core::sync::atomic::AtomicU64::new(0),
            stopping: core::sync::atomic::AtomicUsize::new(0),
            stop_sig: core::sync::atomic::AtomicU32::new(0),
        })
    }

    /// A fork's child's group: what it inherits of this one (RLIMIT_CPU, whether it may dump
    /// core and what; timers are not inherited, as on Linux).
    pub fn forked(&self) -> alloc::sync::Arc<ThreadGroup> {
        use core::sync::atomic::Ordering::Relaxed;
        let g = ThreadGroup::new();
        *g.rlimit_cpu.lock() = *self.rlimit_cpu.lock();
        g.dumpable.store(self.dumpable.load(Relaxed), Relaxed);
        g.coredump_filter
            .store(self.coredump_filter.load(Relaxed), Relaxed);
        g.rearm_cpu_timers(&[None; 2]);
        g
    }

    /// Sets `cpu_timers` from `timers` (the CPU timers, whose lock the caller holds) and
    /// RLIMIT_CPU.
    pub fn rearm_cpu_timers(&self, timers: &[Option<ItimerCpu>; 2]) {
        let limited = self.rlimit_cpu.lock().cur != RLIM_INFINITY;
        self.cpu_timers.store(
            limited || timers.iter().any(Option::is_some),
            core::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// A thread (Linux's `task_struct`): `pid` is its thread id and `tgid` its process's id, the
/// pid of the thread that made the process. A process of one thread has `pid == tgid`.
pub struct Process {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    /// Process group and session (`setpgid`, `setsid`); the first process starts in 0 and 0,
    /// as Linux's init does.
    pub pgid: i32,
    pub sid: i32,
    pub mm: MmRef,
    pub signals: SignalState,
    /// The threads of this process (`CLONE_THREAD`).
    pub group: alloc::sync::Arc<ThreadGroup>,
    pub creds: Creds,
    /// The program's path, for /proc/self/exe and the maps.
    pub exe: alloc::sync::Arc<str>,
    /// The address space's hold on the program's file (Linux's `mm->exe_file`), which keeps
    /// writers out: shared by threads (`CLONE_VM`), taken again by a fork.
    pub exe_file: Option<alloc::sync::Arc<crate::fs::write_access::ExeFile>>,
    /// The task's name (`comm`): the program's file name at exec, or what `PR_SET_NAME` set;
    /// at most 15 bytes, NUL-padded.
    pub comm: [u8; 16],
    /// Open files; 0–2 are the console. Shared by `CLONE_FILES` (threads).
    pub files: alloc::sync::Arc<crate::sync::Mutex<crate::fs::fdtable::Files>>,
    /// The working directory and umask (`current->fs`). Shared by `CLONE_FS` (threads).
    pub fs: alloc::sync::Arc<crate::sync::Mutex<crate::fs::vfs::FsState>>,
    pub minflt: u64,
    pub majflt: u64,
    /// CPU time this thread ran, in counter ticks, up to `ran_since`, when it last started to
    /// run (kernel and user time together: the kernel does not tell them apart).
    pub cpu_ticks: u64,
    pub ran_since: u64,
    /// `set_tid_address`, `CLONE_CHILD_CLEARTID`: where the thread's exit writes 0 and wakes a
    /// futex waiter (how `pthread_join` learns of it).
    pub clear_child_tid: usize,
    /// `set_robust_list`: the head of the robust futexes this thread holds (0: none).
    pub robust_list: usize,
    /// Where the signal return trampoline is mapped.
    pub sigtramp: usize,
    pub arg_start: usize,
    pub arg_end: usize,
    pub env_start: usize,
    pub env_end: usize,
    /// Counter ticks at exec, for /proc/self/stat's start time.
    pub start_ticks: u64,
    /// Peak resident pages (VmHWM), updated when /proc reads RSS.
    pub hiwater_rss: usize,
    /// The user registers the process starts with (exec, fork); once it runs, its registers live
    /// in the trap frame on its kernel stack.
    pub frame: TrapFrame,
    /// The kernel stack its traps run on; `None` for the first process, which runs on the boot
    /// stack, and while an exit hands the stack over.
    pub kstack: Option<crate::task::kstack::KernelStack>,
    /// Where its kernel stack was switched away (`__switch_to`).
    pub ctx: crate::arch::aarch64::context::CpuContext,
    /// Saved FP/SIMD registers and TPIDR_EL0 (the thread pointer), likewise.
    pub fp: FpState,
    pub tpidr: u64,
    /// Set while the process is blocked; it re-runs its syscall when woken.
    pub wait: Option<crate::task::sched::WaitFor>,
    /// The deadline of a nanosleep in progress, so that the restarted call does not start over.
    pub sleep_deadline: Option<u64>,
    /// The FIFO open this task waits in: the end it opened, kept for the call's re-run.
    pub fifo_wait: Option<crate::fs::pipe::FifoWait>,
    /// The parent waiting in `vfork` until this child execs or exits (`vfork_done`).
    pub vfork_parent: Option<i32>,
    /// A futex wake ended this process's wait: its re-run `FUTEX_WAIT` returns 0.
    pub futex_woken: bool,
    /// The signal this process gets when its parent dies (`PR_SET_PDEATHSIG`; 0: none).
    pub pdeath_signal: u32,
    /// The cores this task may run on (sched_setaffinity; Linux's `cpus_mask`), one bit each:
    /// the run queue hands it to no other.
    pub cpus_allowed: u64,
    /// This thread ran on another core when its group stop began and has not stopped yet
    /// (Linux's `JOBCTL_STOP_PENDING`): it counts in its group's `stopping`.
    pub stop_pending: bool,
    /// `PR_SET_TIMERSLACK`'s value, and the one `PR_SET_TIMERSLACK` 0 goes back to (the parent's
    /// at fork, as Linux's `default_timer_slack_ns`).
    pub timer_slack_ns: u64,
    pub default_timer_slack_ns: u64,
    /// Stopped by this signal (job control), until SIGCONT or SIGKILL.
    pub stopped: Option<u32>,
    /// A stop or a continue the parent's wait has not reported yet (`WUNTRACED`, `WCONTINUED`).
    pub report: Option<crate::task::wait::ChildState>,
    pub exit: Option<ExitReason>,
}

/// An armed `ITIMER_REAL`: when it next fires, and its period (0: once), in nanoseconds on the
/// uptime clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItimerReal {
    pub deadline: u64,
    pub interval: u64,
}

/// An armed CPU-time interval timer (`ITIMER_VIRTUAL`, `ITIMER_PROF`): the process CPU time at
/// which it fires next and its period (0: once), in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItimerCpu {
    pub expires: u64,
    pub interval: u64,
}

/// `comm` for a program path: the last component's first 15 bytes (`__set_task_comm`).
/// Linux's default timer slack: 50 µs.
pub const DEFAULT_TIMER_SLACK_NS: u64 = 50_000;

pub fn comm_of(path: &str) -> [u8; 16] {
    let name = path.rsplit('/').next().unwrap_or("").as_bytes();
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    comm
}

impl Process {
    /// The address space, locked exclusively (the mmap lock for writing).
    #[inline]
    pub fn mm(&self) -> crate::sync::RwSemWriteGuard<'_, MmStruct<VmSpace>> {
        self.mm.write()
    }

    /// Whether other threads share this one's process.
    pub fn is_threaded(&self) -> bool {
        self.group.live.load(core::sync::atomic::Ordering::Relaxed) > 1
    }

    /// `do_group_exit`: every thread of this process ends with `reason` (the first such reason
    /// wins: a thread that calls `exit_group` while another already did leaves with that one).
    pub fn group_exit(&mut self, reason: ExitReason) -> ExitReason {
        let reason = *self.group.exit.lock().get_or_insert(reason);
        if self.is_threaded() {
            crate::task::sched::TASKS
                .lock()
                .zap_threads(self.tgid, Some(self.pid), reason);
        }
        reason
    }

    /// Fires the process's `ITIMER_REAL` if it is due at `now`: queues SIGALRM for the process
    /// from the kernel (Linux's `it_real_fn`) and re-arms it with its period, skipping the
    /// periods that passed meanwhile. Returns whether it fired.
    pub fn itimer_check(&mut self, now: u64) -> bool {
        if !self
            .group
            .real_armed
            .load(core::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        let mut timer = self.group.itimer_real.lock();
        let Some(t) = *timer else {
            return false;
        };
        if now < t.deadline {
            return false;
        }
        *timer = (t.interval != 0).then(|| {
            let missed = (now - t.deadline) / t.interval + 1;
            ItimerReal {
                deadline: t.deadline + missed * t.interval,
                interval: t.interval,
            }
        });
        self.group
            .real_armed
            .store(timer.is_some(), core::sync::atomic::Ordering::Relaxed);
        drop(timer);
        let _ = self.signals.send(
            crate::task::signal::SIGALRM,
            crate::task::signal::SigInfo::kernel(crate::task::signal::SIGALRM),
        );
        true
    }

    /// Fires the process's CPU-time timers that are due, from the tick (`check_cpu_itimer`):
    /// SIGVTALRM for `ITIMER_VIRTUAL`, SIGPROF for `ITIMER_PROF`, each re-armed one period on.
    pub fn itimer_cpu_check(&mut self) {
        use core::sync::atomic::Ordering;
        if !self.group.cpu_timers.load(Ordering::Relaxed) {
            return;
        }
        let now = self.process_cpu_ns();
        let mut fired = [false; 2];
        {
            let mut timers = self.group.itimer_cpu.lock();
            for (slot, fired) in timers.iter_mut().zip(fired.iter_mut()) {
                if let Some(t) = *slot {
                    if now >= t.expires {
                        *fired = true;
                        *slot = (t.interval != 0).then_some(ItimerCpu {
                            expires: t.expires + t.interval,
                            interval: t.interval,
                        });
                    }
                }
            }
            self.group.rearm_cpu_timers(&timers);
        }
        use crate::task::signal::{SigInfo, SIGPROF, SIGVTALRM};
        let limit = self.rlimit_cpu_check(now);
        let sigs = [(SIGVTALRM, fired[0]), (SIGPROF, fired[1])];
        for sig in sigs
            .into_iter()
            .filter_map(|(s, f)| f.then_some(s))
            .chain(limit)
        {
            let _ = self.signals.send(sig, SigInfo::kernel(sig));
        }
    }

    /// RLIMIT_CPU against the process's CPU time, `now` ns (`check_process_timers`): at the
    /// hard limit, SIGKILL; at the soft limit, SIGXCPU, and the soft limit moves on a second, so
    /// that another comes each second until the hard limit.
    fn rlimit_cpu_check(&self, now: u64) -> Option<u32> {
        use crate::task::signal::{SIGKILL, SIGXCPU};
        let ns = |secs: usize| (secs as u64).saturating_mul(1_000_000_000);
        let mut l = self.group.rlimit_cpu.lock();
        if l.cur == RLIM_INFINITY {
            return None;
        }
        if l.max != RLIM_INFINITY && now >= ns(l.max) {
            return Some(SIGKILL);
        }
        if now >= ns(l.cur) {
            l.cur += 1;
            return Some(SIGXCPU);
        }
        None
    }

    /// The CPU time of the whole process, in nanoseconds.
    pub fn process_cpu_ns(&self) -> u64 {
        crate::arch::aarch64::timer::ticks_to_ns(self.process_cpu_ticks())
    }

    /// The CPU time this thread has run, in counter ticks, up to now (it is running).
    pub fn thread_cpu_ticks(&self) -> u64 {
        self.cpu_ticks + crate::arch::aarch64::timer::ticks().saturating_sub(self.ran_since)
    }

    /// The CPU time of the whole process, in counter ticks: this running thread, the others,
    /// and those that ended.
    pub fn process_cpu_ticks(&self) -> u64 {
        let others: u64 = crate::task::sched::TASKS
            .lock()
            .iter()
            .filter(|t| t.tgid == self.tgid)
            .map(|t| {
                if t.is_running() {
                    t.thread_cpu_ticks()
                } else {
                    t.cpu_ticks
                }
            })
            .sum();
        self.thread_cpu_ticks()
            + others
            + self
                .group
                .dead_cpu
                .load(core::sync::atomic::Ordering::Relaxed)
    }

    /// When the process's `ITIMER_REAL` fires next, if it is armed.
    pub fn itimer_deadline(&self) -> Option<u64> {
        self.group.itimer_real.lock().map(|t| t.deadline)
    }

    /// The task name as text (bytes that are not UTF-8 shown as U+FFFD).
    pub fn comm_str(&self) -> alloc::string::String {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        alloc::string::String::from_utf8_lossy(&self.comm[..n]).into_owned()
    }

    /// Services a user page fault at `addr`: Linux's `do_page_fault` after the arch decoding,
    /// under the mmap lock.
    pub fn handle_fault(&mut self, addr: usize, access: FaultAccess) -> Result<(), FaultError> {
        use crate::mm::user_pages::BackedFaultError;
        let mut mm = self.mm.write();
        let flags = find_vma_for_fault(&mut mm, addr, access, false)?;
        let r = if flags.contains(crate::mm::vma::VM_BACKED) {
            backed_fault(&mut mm, addr, flags, access)
        } else {
            let huge = huge_fault_range(access, flags, mm.thp_disabled, addr, || {
                mm.find_vma(addr).map(|v| (v.start, v.end))
            });
            mm.pt
                .pages
                .get_mut()
                .handle_mm_fault_with(addr, flags, access, &mut None, huge)
                .map_err(BackedFaultError::Mm)
        };
        drop(mm);
        match r {
            Ok(FaultResult::Spurious) => Ok(()),
            Ok(_) => {
                self.minflt += 1;
                Ok(())
            }
            Err(BackedFaultError::Bus) => Err(FaultError::Bus),
            Err(BackedFaultError::Mm(MmError::NoMemory)) => {
                self.exit.get_or_insert(ExitReason::OutOfMemory);
                Err(FaultError::MapErr)
            }
            Err(_) => Err(FaultError::MapErr),
        }
    }

    /// A page fault on private anonymous memory, resolved under the mmap lock shared and the
    /// page tables' lock: no task and no kernel lock, so that threads on several cores fault
    /// together, even in one process. `hint` is this core's memory of the last VMA it faulted in.
    /// `Some(true)` when a page was mapped (a minor fault), `Some(false)` when another thread had
    /// mapped it already, `None` when the fault needs the full path (a file or shared mapping, a
    /// stack to grow, or an error that becomes a signal), which then runs it again.
    pub fn anon_fault(
        mm: &MmLock,
        addr: usize,
        access: FaultAccess,
        hint: &mut crate::mm::fault::FaultHint,
    ) -> Option<bool> {
        let mm = mm.read();
        let flags =
            crate::mm::fault::find_vma_for_fault_shared(&mm, addr, access, false, hint)?.ok()?;
        if flags.contains(crate::mm::vma::VM_BACKED) {
            return None;
        }
        let huge = huge_fault_range(access, flags, mm.thp_disabled, addr, || Some(hint.bounds()));
        // A write's frame is made before the page tables are locked: zeroing it is most of a
        // fault, and other threads' faults may proceed meanwhile.
        let mut frame = None;
        if access == FaultAccess::Write && huge.is_none() {
            frame = KernelPhys.alloc_frames(0);
            if let Some(pa) = frame {
                KernelPhys.zero_frames(pa, 0);
            }
        }
        let r = mm
            .pt
            .pages
            .lock()
            .handle_mm_fault_with(addr, flags, access, &mut frame, huge);
        if let Some(pa) = frame {
            KernelPhys.free_frames(pa, 0);
        }
        match r {
            Ok(FaultResult::Spurious) => Some(false),
            Ok(_) => Some(true),
            Err(_) => None,
        }
    }

    /// Makes every page of `[addr, addr + len)` accessible for `access`, as the kernel's own
    /// accesses to user memory fault pages in (`fault_in_user_writeable` and friends).
    fn fault_in(&mut self, addr: usize, len: usize, access: FaultAccess) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(errno::EFAULT)?;
        let mut page = addr & !(PAGE_SIZE - 1);
        while page < end {
            self.handle_fault(page.max(addr), access)
                .map_err(|_| errno::EFAULT)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    pub fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno> {
        if uaccess::copy_from_user(buf, addr).is_ok() {
            return Ok(());
        }
        self.fault_in(addr, buf.len(), FaultAccess::Read)?;
        uaccess::copy_from_user(buf, addr).map_err(|_| errno::EFAULT)
    }

    pub fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        if uaccess::copy_to_user(addr, bytes).is_ok() {
            return Ok(());
        }
        self.fault_in(addr, bytes.len(), FaultAccess::Write)?;
        uaccess::copy_to_user(addr, bytes).map_err(|_| errno::EFAULT)
    }

    /// Changes the 32-bit word at `uaddr` atomically, as threads on other cores see it (Linux's
    /// `futex_atomic_cmpxchg_inatomic` and `arch_futex_atomic_op_inuser`): `f` gets the word and
    /// gives its new value, or `None` to leave it; returns the value `f` last saw. The page is
    /// faulted in writable first, and the word is changed through the kernel's mapping of its
    /// frame with the mmap lock held, so that nothing unmaps it meanwhile. `EINVAL` unless the
    /// word is aligned, `EFAULT` unless it can be written.
    pub fn update_user_word(
        &mut self,
        uaddr: usize,
        mut f: impl FnMut(u32) -> Option<u32>,
    ) -> Result<u32, Errno> {
        use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
        if !uaddr.is_multiple_of(4) {
            return Err(errno::EINVAL);
        }
        self.handle_fault(uaddr, FaultAccess::Write)
            .map_err(|_| errno::EFAULT)?;
        let mm = self.mm();
        let t = mm
            .pt
            .translate(uaddr)
            .filter(|t| t.attrs.user && t.attrs.writable)
            .ok_or(errno::EFAULT)?;
        // SAFETY: an aligned word of a frame this process maps writable, reached through the
        // linear map; the mmap lock, held exclusively until the end, keeps the frame mapped.
        let word = unsafe { &*(KernelPhys.phys_to_virt(t.pa) as *const AtomicU32) };
        let (Ok(seen) | Err(seen)) = word.fetch_update(SeqCst, SeqCst, &mut f);
        drop(mm);
        Ok(seen)
    }

    /// Writes into this process's memory while it is not the running one (fork's
    /// CLONE_CHILD_SETTID): faults the page in for writing through its own page table and writes
    /// through the linear map.
    pub fn poke_inactive(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        for (i, &b) in bytes.iter().enumerate() {
            let a = addr.checked_add(i).ok_or(errno::EFAULT)?;
            self.handle_fault(a, FaultAccess::Write)
                .map_err(|_| errno::EFAULT)?;
            let t = self.mm().pt.translate(a).ok_or(errno::EFAULT)?;
            // SAFETY: a private, writable frame of this process, reached through the linear map.
            unsafe { *KernelPhys.phys_to_virt(t.pa) = b };
        }
        Ok(())
    }

    /// `copy_process`: a new thread or process made by `clone` with `flags` (the `CLONE_*`
    /// bits, already checked by the caller), with `tf` as its registers and x0 = 0. Without
    /// `CLONE_VM` it gets a copy-on-write copy of this address space; without `CLONE_FILES` /
    /// `CLONE_FS` copies of the descriptor table and working directory; with `CLONE_THREAD` it
    /// joins this process as a thread (same tgid and parent), else it is a child of this process.
    pub fn copy_process(
        &mut self,
        tf: &TrapFrame,
        pid: i32,
        flags: u64,
        stack: u64,
        tls: u64,
    ) -> Result<alloc::boxed::Box<Process>, Errno> {
        use alloc::sync::Arc;
        use tidemark_abi::layout::clone::*;
        let kstack = crate::task::kstack::KernelStack::new().ok_or(errno::ENOMEM)?;
        let mm = if flags & CLONE_VM != 0 {
            self.mm.clone()
        } else {
            Arc::new(crate::sync::RwSem::new(self.dup_mm()?))
        };
        let thread = flags & CLONE_THREAD != 0;
        let signals = if thread {
            self.signals.thread_copy()
        } else if flags & CLONE_SIGHAND != 0 {
            let mut s = self.signals.fork_copy();
            s.hand = self.signals.hand.clone();
            s
        } else {
            self.signals.fork_copy()
        };
        let mut signals = signals;
        if flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0 {
            signals.altstack = crate::task::signal::NO_ALTSTACK;
        }
        let group = if thread {
            self.group
                .live
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            self.group.clone()
        } else {
            self.group.forked()
        };
        let files = if flags & CLONE_FILES != 0 {
            self.files.clone()
        } else {
            Arc::new(crate::sync::Mutex::new(self.files.lock().fork_clone()))
        };
        let fs = if flags & CLONE_FS != 0 {
            self.fs.clone()
        } else {
            Arc::new(crate::sync::Mutex::new(self.fs.lock().clone()))
        };
        let mut frame = tf.clone();
        frame.x[0] = 0;
        if stack != 0 {
            frame.sp_el0 = stack;
        }
        let mut fp = FpState::default();
        fp_save(&mut fp);
        let tpidr = if flags & CLONE_SETTLS != 0 {
            tls
        } else {
            aarch64_cpu::registers::TPIDR_EL0.get()
        };
        Ok(alloc::boxed::Box::new(Process {
            pid,
            tgid: if thread { self.tgid } else { pid },
            ppid: if thread { self.ppid } else { self.tgid },
            pgid: self.pgid,
            sid: self.sid,
            mm,
            signals,
            group,
            creds: self.creds,
            exe: self.exe.clone(),
            exe_file: if flags & CLONE_VM != 0 {
                self.exe_file.clone()
            } else {
                self.exe_file.as_ref().map(|e| e.fork())
            },
            comm: self.comm,
            files,
            fs,
            minflt: 0,
            majflt: 0,
            cpu_ticks: 0,
            ran_since: 0,
            clear_child_tid: 0,
            robust_list: 0,
            sigtramp: self.sigtramp,
            arg_start: self.arg_start,
            arg_end: self.arg_end,
            env_start: self.env_start,
            env_end: self.env_end,
            start_ticks: crate::arch::aarch64::timer::ticks(),
            hiwater_rss: 0,
            frame,
            kstack: Some(kstack),
            ctx: Default::default(),
            fp,
            tpidr,
            wait: None,
            sleep_deadline: None,
            fifo_wait: None,
            vfork_parent: None,
            futex_woken: false,
            // Not inherited by fork's child (`copy_process` clears it).
            pdeath_signal: 0,
            cpus_allowed: self.cpus_allowed,
            stop_pending: false,
            // `copy_process`: the parent's slack, which is also the child's default.
            timer_slack_ns: self.timer_slack_ns,
            default_timer_slack_ns: self.timer_slack_ns,
            stopped: None,
            report: None,
            exit: None,
        }))
    }

    /// `dup_mmap`: a copy-on-write copy of this address space for a fork child. Shared mappings
    /// are not copied: the child faults their pages in from the object.
    fn dup_mm(&self) -> Result<MmStruct<VmSpace>, Errno> {
        let aspace = VmSpace::new().map_err(|_| errno::ENOMEM)?;
        let mut old = self.mm();
        let mut mm = crate::mm::fork::dup_mmap(&old, aspace);
        let shared: alloc::vec::Vec<(usize, usize)> = old
            .vmas()
            .filter(|v| v.flags.contains(crate::mm::vma::VM_MAYSHARE))
            .map(|v| (v.start, v.end))
            .collect();
        old.pt
            .pages
            .get_mut()
            .fork_into_except(mm.pt.pages.get_mut(), &shared)
            .map_err(|_| errno::ENOMEM)?;
        Ok(mm)
    }

    /// Queues a synchronous fault signal (`force_sig_fault`).
    pub fn force_fault(&mut self, sig: u32, code: i32, addr: u64) {
        self.signals.force_fault(SigInfo::fault(sig, code, addr));
    }

    /// Delivers pending signals before returning to EL0 (Linux `do_signal`): a handler gets an
    /// `rt_sigframe` on its stack; a fatal default action ends the process.
    pub fn do_signal(&mut self, tf: &mut TrapFrame) {
        while self.exit.is_none() {
            let Some(d) = self.signals.get_signal() else {
                return;
            };
            match d {
                Deliver::Ignore => continue,
                Deliver::Stop { sig } => {
                    // `do_signal_stop`: the process sleeps until SIGCONT (or SIGKILL), and its
                    // parent hears of it.
                    // Every thread of the process stops with it (a group stop).
                    self.stopped = Some(sig);
                    self.wait = Some(crate::task::sched::WaitFor::Stopped);
                    let mut tasks = crate::task::sched::TASKS.lock();
                    let running = if self.is_threaded() {
                        tasks.stop_threads(self.tgid, sig)
                    } else {
                        0
                    };
                    // The parent hears of the stop once every thread has stopped: now, or
                    // when the last one running on another core does (`finish_trap`).
                    if running == 0 {
                        self.report = Some(crate::task::wait::ChildState::Stopped(sig));
                        tasks.notify_parent(
                            self.ppid,
                            self.tgid,
                            crate::task::wait::CLD_STOPPED,
                            sig as i32,
                        );
                    } else {
                        use core::sync::atomic::Ordering::Relaxed;
                        self.group.stop_sig.store(sig, Relaxed);
                        self.group.stopping.store(running, Relaxed);
                    }
                    return;
                }
                Deliver::Terminate { sig, core, info } => {
                    // Linux's `show_unhandled_signals`: a fault nobody handles is worth a line.
                    if let signal::SigFields::Fault { addr } = info.fields {
                        log::warn!(
                            "{} (pid {}): unhandled {} code {} at {addr:#x}, pc {:#x}, lr {:#x}, sp {:#x}",
                            self.exe,
                            self.pid,
                            signal::signal_name(sig),
                            info.code,
                            tf.elr,
                            tf.x[30],
                            tf.sp_el0
                        );
                    }
                    // A signal whose default dumps core does so first, where it can
                    // (`do_coredump`); then it ends the whole process (`do_group_exit`).
                    let core = core && crate::task::coredump::do_coredump(self, tf, sig, &info);
                    self.exit = Some(self.group_exit(ExitReason::Signaled { sig, core }));
                    return;
                }
                Deliver::Handler {
                    sig,
                    action,
                    info,
                    saved_mask,
                    altstack,
                } => {
                    let mut fp = FpState::default();
                    fp_save(&mut fp);
                    let regs = UserContext {
                        x: tf.x,
                        sp: tf.sp_el0,
                        pc: tf.elr,
                        pstate: tf.spsr,
                    };
                    // Fault siginfo is only ever forced by the exception being handled now
                    // (synchronous signals go first and are unblocked when forced), so `tf`
                    // describes the fault. A kill(2)ed SIGSEGV or a SIGFPE from raise(3) has
                    // no fault: its frame must not describe the `svc` as one.
                    let fault: Option<FaultRecord> = match info.fields {
                        signal::SigFields::Fault { .. } => {
                            crate::task::sigframe::fault_record(tf.esr, tf.far)
                        }
                        signal::SigFields::Kill { .. } => None,
                    };
                    let req = FrameRequest {
                        sig,
                        action: &action,
                        info: &info,
                        regs: &regs,
                        fp: &fp,
                        saved_mask,
                        altstack,
                        fault,
                        sigtramp: self.sigtramp as u64
                            + crate::task::sigframe::SIGTRAMP_ENTRY_OFFSET,
                    };
                    let written = build_rt_frame(&req)
                        .ok()
                        .and_then(|f| self.copy_to_user(f.sp as usize, &f.bytes).ok().map(|_| f));
                    match written {
                        Some(f) => {
                            tf.x = f.regs.x;
                            tf.sp_el0 = f.regs.sp;
                            tf.elr = f.regs.pc;
                            tf.spsr = f.regs.pstate;
                            self.signals.signal_delivered(sig, &action);
                            // The handler starts with FP/SIMD as interrupted, FPSR/FPCR included,
                            // like Linux.
                        }
                        None => self.signals.force_sigsegv(sig),
                    }
                }
            }
        }
    }

    /// rt_sigreturn: restores the context saved by [`do_signal`](Self::do_signal). A frame that
    /// cannot be read or is not valid ends the program with SIGSEGV, like Linux.
    pub fn sigreturn(&mut self, tf: &mut TrapFrame) {
        let restored = sigreturn_frame_addr(tf.sp_el0).ok().and_then(|addr| {
            let mut bytes = alloc::vec![0u8; FRAME_BYTES];
            self.copy_from_user(addr as usize, &mut bytes).ok()?;
            parse_for_sigreturn(&bytes).ok()
        });
        match restored {
            Some(r) => {
                tf.x = r.regs.x;
                tf.sp_el0 = r.regs.sp;
                tf.elr = r.regs.pc;
                tf.spsr = r.regs.pstate;
                fp_restore(&r.fp);
                self.signals.set_blocked(r.mask);
                self.signals.restore_altstack(r.altstack, r.regs.sp);
            }
            None => self.signals.force_sigsegv(signal::SIGSEGV),
        }
    }
}

/// Syscall handlers reach the process's memory through this (and the typed helpers of
/// `UserMemExt`): user copies that fault pages in on the way.
impl crate::mm::uaccess::UserMem for Process {
    fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno> {
        Process::copy_from_user(self, addr, buf)
    }
    fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        Process::copy_to_user(self, addr, bytes)
    }
}

/// A fault in a mapping of an object (a file, shared memory): the page comes from it.
#[inline(never)]
fn backed_fault(
    mm: &mut MmStruct<VmSpace>,
    addr: usize,
    flags: crate::mm::vma::VmFlags,
    access: FaultAccess,
) -> Result<FaultResult, crate::mm::user_pages::BackedFaultError> {
    use crate::mm::user_pages::BackedFaultError;
    let vma = mm
        .find_vma(addr)
        .ok_or(BackedFaultError::Mm(MmError::Fault))?;
    let backing = vma
        .backing()
        .cloned()
        .ok_or(BackedFaultError::Mm(MmError::Fault))?;
    let index = vma.pgoff + ((addr - vma.start) >> crate::mm::addr::PAGE_SHIFT);
    mm.pt
        .pages
        .get_mut()
        .handle_backed_fault(addr, flags, access, &*backing.0, index)
}
