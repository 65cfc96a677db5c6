//! Tasks on every core: the running ones, the others, and the switches between them.
//!
//! Each core's running task lives in its slot ([`current`]), the rest in [`TASKS`] (runnable
//! ones in one FIFO run queue that every core takes from, blocked ones waiting for a child, a pipe
//! or a deadline, and zombies until their parent reaps them). Each task has a kernel stack of its
//! own, with its trap frame on it; each core has an idle loop on a stack of its own, which runs
//! when the core has nothing to do. The kernel is never preempted: a task is switched only at
//! the end of a trap from EL0 or while a syscall waits, by switching kernel stacks and saving the
//! FP/SIMD registers and TPIDR_EL0 (which the soft-float kernel never touches).
//!
//! All of it is under the kernel lock (`klock`), which a core holds from a
//! trap's entry to its return and across the switches in between. So the table can reach a task
//! that runs on another core (a signal for it, a stop, an exit): that core is at EL0 or waiting
//! for the lock, and gets a kick to come in and act on it. A syscall that must wait does not keep its place
//! inside the kernel: it leaves its registers untouched, switches away, and when woken runs again
//! from the start, still in the kernel (`trap::syscall_sleep`), until it finishes; only then does
//! a signal that woke it run its handler (Linux's `-ERESTARTSYS` made the only way to block).
//!
//! Lock order: the kernel lock, this core's slot, TASKS, another core's slot.
use crate::arch::aarch64::context::{fp_restore, fp_save, switch_to, CpuContext};
use crate::arch::aarch64::smp::{cpu_id, online, MAX_CPUS};
use crate::arch::aarch64::timer;
use crate::mm::heap::HeapStats;
use crate::mm::vm_space::VmSpace;
use crate::println;
use crate::task::exit::{end_of_run, exit_process};
use crate::task::klock;
use crate::task::kstack::KernelStack;
use crate::task::process::{ExitReason, Process};
use crate::task::signal::{SigInfo, SIGCHLD};
use aarch64_cpu::registers::{Readable, Writeable, TPIDR_EL0};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use tidemark_abi::errno::{self, Errno};

pub static TASKS: crate::sync::Mutex<Tasks> = crate::sync::Mutex::new(Tasks::new());

/// One core's part of the scheduler.
pub(super) struct PerCpu {
    /// The task running on this core. Locked by this core from a trap's entry to its return, and
    /// by another core (through [`Tasks`]) while this one is at EL0: both under the kernel lock.
    pub(super) current: crate::sync::Mutex<Option<Box<Process>>>,
    /// Where the idle loop stopped to run a task, and where a task that leaves the core with
    /// nothing else to run switches to.
    idle: ContextSlot,
    /// The kernel stack of a task that exited here, freed by whatever runs here next (Linux's
    /// `finish_task_switch` dropping the dead task's stack).
    pub(super) dead_stack: crate::sync::Mutex<Option<KernelStack>>,
    /// Where a dead task's context goes: a slot never resumed.
    pub(super) dead: ContextSlot,
    /// The top of the idle loop's stack, where the end of the run goes.
    pub(super) idle_stack_top: AtomicUsize,
    /// The running task's mm, for the faults resolved without the kernel lock
    /// ([`user_fault_unlocked`]); the task keeps it alive while it runs here.
    mm: AtomicPtr<crate::task::process::MmLock>,
    /// The last VMA those faults found in that mm; forgotten when the core switches mm.
    fault_hint: HintSlot,
    /// Minor faults those faults counted, not yet added to the running task's.
    minflt: AtomicU64,
}

/// A core's memory of the last VMA a fault found ([`user_fault_unlocked`]), which only that core
/// touches.
struct HintSlot(core::cell::UnsafeCell<crate::mm::fault::FaultHint>);

// SAFETY: each core reads and writes only its own slot, with interrupts masked.
unsafe impl Sync for HintSlot {}

/// A saved context that only its own core touches, under the kernel lock.
pub(super) struct ContextSlot(core::cell::UnsafeCell<CpuContext>);

// SAFETY: a core's context slots are written only by `switch_to` on that core, and read only by
// it, with the kernel lock held.
unsafe impl Sync for ContextSlot {}

impl ContextSlot {
    const fn new() -> Self {
        Self(core::cell::UnsafeCell::new(CpuContext::zeroed()))
    }
    fn get(&self) -> *mut CpuContext {
        self.0.get()
    }
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            current: crate::sync::Mutex::new(None),
            idle: ContextSlot::new(),
            dead_stack: crate::sync::Mutex::new(None),
            dead: ContextSlot::new(),
            idle_stack_top: AtomicUsize::new(0),
            mm: AtomicPtr::new(core::ptr::null_mut()),
            fault_hint: HintSlot(core::cell::UnsafeCell::new(
                crate::mm::fault::FaultHint::EMPTY,
            )),
            minflt: AtomicU64::new(0),
        }
    }
}

pub(super) static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

/// This core's running task.
#[inline(always)]
pub fn current() -> &'static crate::sync::Mutex<Option<Box<Process>>> {
    &CPUS[cpu_id()].current
}

type Slot = crate::sync::MutexGuard<'static, Option<Box<Process>>>;

/// The tasks running on the other cores, each with its slot locked (it is at EL0 or waiting for
/// the kernel lock, so the slot is free), and the core it runs on.
pub(super) fn running_elsewhere() -> impl Iterator<Item = (usize, Slot)> {
    let me = cpu_id();
    (0..online()).filter(move |&c| c != me).filter_map(|c| {
        let slot = CPUS[c].current.try_lock();
        debug_assert!(
            slot.is_some(),
            "core {c}'s task is held outside the kernel lock"
        );
        let mut slot = slot.filter(|s| s.is_some())?;
        if let Some(p) = slot.as_mut() {
            fold_faults_of(c, p);
        }
        Some((c, slot))
    })
}

/// A page fault from EL0 on this core, tried without the kernel lock or the task: private
/// anonymous memory needs only the mmap lock shared and the page tables' lock. `false` when it
/// needs the full path.
#[inline]
pub fn user_fault_unlocked(addr: usize, access: crate::mm::fault::FaultAccess) -> bool {
    let cpu = &CPUS[cpu_id()];
    let mm = cpu.mm.load(Ordering::Relaxed);
    if mm.is_null() {
        return false;
    }
    // SAFETY: the pointer is the mm of the task running on this core (set when it was switched
    // to or exec'd, before it returned to EL0), which keeps its reference while it runs here;
    // the fault came from that task, so it is still here.
    let mm = unsafe { &*mm };
    // SAFETY: this core's slot, touched only here and in `set_active_mm`, on this core with
    // interrupts masked: never twice at once.
    let hint = unsafe { &mut *cpu.fault_hint.0.get() };
    match Process::anon_fault(mm, addr, access, hint) {
        Some(counted) => {
            if counted {
                cpu.minflt.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        None => false,
    }
}

/// Runs `f` with the mm of the task running on this core, if one runs (its reference keeps it
/// alive while it runs here; the caller must be that task, in the kernel).
pub fn with_active_mm<R>(f: impl FnOnce(&crate::task::process::MmLock) -> R) -> Option<R> {
    let mm = CPUS[cpu_id()].mm.load(Ordering::Relaxed);
    // SAFETY: as in `user_fault_unlocked`: the mm of the task running on this core, which holds
    // its reference while it runs here.
    (!mm.is_null()).then(|| f(unsafe { &*mm }))
}

/// The running task's mm is `p`'s from now on (a switch, or an exec that replaced it).
pub fn set_active_mm(p: &Process) {
    let cpu = &CPUS[cpu_id()];
    cpu.mm.store(
        alloc::sync::Arc::as_ptr(&p.mm).cast_mut(),
        Ordering::Relaxed,
    );
    // Forgotten even when the pointer is the same: an mm freed since may have been replaced by
    // a new one at the same address.
    // SAFETY: as in `user_fault_unlocked`: this core's slot, on this core.
    unsafe { *cpu.fault_hint.0.get() = crate::mm::fault::FaultHint::EMPTY };
}

/// Adds the faults this core resolved without the kernel lock to its running task `p`: when it
/// leaves the core, and before its own count is read (getrusage, /proc/self), so that the
/// syscall path pays nothing for them.
#[inline]
pub fn fold_faults(p: &mut Process) {
    fold_faults_of(cpu_id(), p);
}

fn fold_faults_of(cpu: usize, p: &mut Process) {
    let c = &CPUS[cpu].minflt;
    if c.load(Ordering::Relaxed) != 0 {
        p.minflt += c.swap(0, Ordering::Relaxed);
    }
}

/// A task the table reaches: one that waits in it, or one running on another core. Changing a
/// running one kicks its core, which then acts on the change at once.
pub enum TaskRef<'a> {
    Here(&'a mut Process),
    Running(usize, Slot),
}

impl core::ops::Deref for TaskRef<'_> {
    type Target = Process;
    fn deref(&self) -> &Process {
        match self {
            TaskRef::Here(p) => p,
            TaskRef::Running(_, s) => s.as_ref().expect("a running task"),
        }
    }
}

impl core::ops::DerefMut for TaskRef<'_> {
    fn deref_mut(&mut self) -> &mut Process {
        match self {
            TaskRef::Here(p) => p,
            TaskRef::Running(cpu, s) => {
                klock::kick_cpu(*cpu);
                s.as_mut().expect("a running task")
            }
        }
    }
}

impl TaskRef<'_> {
    /// Whether the task runs on another core right now.
    pub fn is_running(&self) -> bool {
        matches!(self, TaskRef::Running(..))
    }
}

/// A task the table reaches, to look at.
pub enum TaskView<'a> {
    Here(&'a Process),
    Running(Slot),
}

impl core::ops::Deref for TaskView<'_> {
    type Target = Process;
    fn deref(&self) -> &Process {
        match self {
            TaskView::Here(p) => p,
            TaskView::Running(s) => s.as_ref().expect("a running task"),
        }
    }
}

impl TaskView<'_> {
    /// Whether the task runs on another core right now.
    pub fn is_running(&self) -> bool {
        matches!(self, TaskView::Running(..))
    }
}

/// Free frames and the kernel heap before the first program was loaded, to show that the run
/// returned them all.
pub(super) static BEFORE: spin::Once<(usize, HeapStats, usize)> = spin::Once::new();

/// Why a process is not runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// wait4/waitid for a child to change state.
    Child,
    /// Some pipe to change state: `pipe::events()` to move on from this value.
    Pipe(u64),
    /// A deadline on the uptime clock, in nanoseconds (nanosleep, ppoll with a timeout).
    Until(u64),
    /// Whichever comes first: some pipe changes, or the deadline (ppoll on pipes with a timeout).
    PipeUntil(u64, u64),
    /// Nothing but a signal (ppoll with nothing to watch and no timeout).
    Signal,
    /// vfork: the child with this pid to exec or exit.
    Vfork(i32),
    /// Stopped by a signal, until SIGCONT or SIGKILL.
    Stopped,
    /// sched_yield: runnable again at once, behind every task already runnable.
    Yield,
    /// An exec (`de_thread`): another thread of the process to exit; it was told to.
    Dethread,
    /// futex: a wake of this futex with a bit of this bitset, or the deadline.
    Futex(crate::task::futex::FutexKey, u32, Option<u64>),
}

impl WaitFor {
    /// The deadline on the uptime clock, if the wait has one.
    pub const fn deadline(self) -> Option<u64> {
        match self {
            WaitFor::Until(d) | WaitFor::PipeUntil(_, d) => Some(d),
            WaitFor::Futex(_, _, d) => d,
            _ => None,
        }
    }
}

/// What a reaped or reapable child left behind.
#[derive(Clone, Copy, Debug)]
pub struct Zombie {
    pub ppid: i32,
    /// Its real user, for RLIMIT_NPROC until it is reaped.
    pub uid: u32,
    /// The CPU time of the process and of its own reaped children, in counter ticks (what the
    /// parent adds to its children's when it reaps it).
    pub cpu_ticks: u64,
    /// Its process group when it died, for `waitpid(-pgid)`.
    pub pgid: i32,
    pub reason: ExitReason,
    pub minflt: u64,
}

/// Whether a child (`pid`, process group `pgid`) is what a wait for `target` takes; a
/// `Pgid(None)` target must have been resolved to the waiter's group.
pub fn wait_matches(target: crate::task::wait::WaitTarget, pid: i32, pgid: i32) -> bool {
    use crate::task::wait::WaitTarget;
    match target {
        WaitTarget::Any => true,
        WaitTarget::Pid(p) => p == pid,
        WaitTarget::Pgid(g) => g == Some(pgid),
    }
}

/// The tasks that are not running, by id, each running one keeping a vacant slot (Linux keeps
/// every task in its pid hash, running or not): a task leaves and comes back at every switch,
/// and finding its slot again costs one search, not a node's reshaping for a removal and again
/// for an insertion. A task that ends for good gives its slot up ([`ProcTable::remove`]).
#[derive(Default)]
pub(super) struct ProcTable(BTreeMap<i32, Option<Box<Process>>>);

impl ProcTable {
    const fn new() -> ProcTable {
        ProcTable(BTreeMap::new())
    }

    /// Task `pid`, unless it is running.
    pub(super) fn get(&self, pid: &i32) -> Option<&Process> {
        self.0.get(pid)?.as_deref()
    }

    pub(super) fn get_mut(&mut self, pid: &i32) -> Option<&mut Process> {
        self.0.get_mut(pid)?.as_deref_mut()
    }

    /// Whether `pid` is a task's, running or not.
    fn contains_key(&self, pid: &i32) -> bool {
        self.0.contains_key(pid)
    }

    /// Puts task `pid` in, into its vacant slot if it has one.
    fn insert(&mut self, pid: i32, p: Box<Process>) {
        match self.0.get_mut(&pid) {
            Some(slot) => {
                debug_assert!(slot.is_none(), "task {pid} is in the table twice");
                *slot = Some(p);
            }
            None => {
                self.0.insert(pid, Some(p));
            }
        }
    }

    /// Takes task `pid` out to run it; its slot stays for its return.
    fn take(&mut self, pid: &i32) -> Option<Box<Process>> {
        self.0.get_mut(pid)?.take()
    }

    /// Takes task `pid` out for good, with its slot (`None` if it was running: the slot alone
    /// goes).
    pub(super) fn remove(&mut self, pid: &i32) -> Option<Box<Process>> {
        self.0.remove(pid).flatten()
    }

    /// The tasks that are not running, by id.
    pub(super) fn values(&self) -> impl Iterator<Item = &Process> {
        self.0.values().filter_map(|p| p.as_deref())
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        self.0.values_mut().filter_map(|p| p.as_deref_mut())
    }
}

pub struct Tasks {
    /// Every process but the running ones (see [`ProcTable`]).
    pub(super) procs: ProcTable,
    run_queue: VecDeque<i32>,
    pub(super) zombies: BTreeMap<i32, Zombie>,
    next_pid: i32,
    /// Processes alive or zombie, for RLIMIT_NPROC.
    pub(super) count: usize,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

/// RLIMIT_NPROC for everybody (Linux derives it from RAM; a fixed, generous bound here).
pub const MAX_PROCS: usize = 4096;

impl Tasks {
    pub const fn new() -> Self {
        Self {
            procs: ProcTable::new(),
            run_queue: VecDeque::new(),
            zombies: BTreeMap::new(),
            next_pid: 2,
            count: 1,
        }
    }

    pub fn alloc_pid(&mut self) -> Option<i32> {
        if self.count >= MAX_PROCS {
            return None;
        }
        while self.procs.contains_key(&self.next_pid)
            || self.zombies.contains_key(&self.next_pid)
            || self
                .iter()
                .any(|p| p.tgid == self.next_pid || p.pid == self.next_pid)
        {
            self.next_pid = if self.next_pid >= 32767 {
                2
            } else {
                self.next_pid + 1
            };
        }
        let pid = self.next_pid;
        self.next_pid = if pid >= 32767 { 2 } else { pid + 1 };
        self.count += 1;
        Some(pid)
    }

    /// Gives back a pid from [`alloc_pid`](Self::alloc_pid) that was not used.
    pub fn free_pid(&mut self) {
        self.count -= 1;
    }

    /// Tasks of user `uid` that are not running, zombies included: RLIMIT_NPROC counts a task
    /// until its parent reaps it (Linux's `user->processes`, released in `release_task`).
    pub fn count_uid(&self, uid: u32) -> usize {
        self.iter().filter(|p| p.creds.uid == uid).count()
            + self.zombies.values().filter(|z| z.uid == uid).count()
    }

    /// Processes alive or zombie.
    pub fn process_count(&self) -> usize {
        self.count
    }

    /// Every task but this core's running one: those waiting here, then those running on
    /// other cores.
    pub fn iter(&self) -> impl Iterator<Item = TaskView<'_>> + '_ {
        self.procs
            .values()
            .map(TaskView::Here)
            .chain(running_elsewhere().map(|(_, s)| TaskView::Running(s)))
    }

    /// The ids of every task but this core's running one.
    pub fn pids(&self) -> impl Iterator<Item = i32> + '_ {
        self.iter().map(|p| p.pid)
    }

    /// Puts task `pid` at the back of the run queue.
    fn enqueue(&mut self, pid: i32) {
        self.run_queue.push_back(pid);
        klock::want_cpu(self.procs.get(&pid).map_or(u64::MAX, |p| p.cpus_allowed));
    }

    /// Adds a new runnable process (a fork child): its trap frame goes on its kernel stack, and
    /// its first switch starts it in the entry [`run_first`] was given.
    pub fn add(&mut self, mut p: Box<Process>) {
        if let Some(k) = &p.kstack {
            k.put_frame(&p.frame);
            let entry = TASK_ENTRY.get().expect("tasks start after run_first");
            p.ctx = CpuContext::new_task(k.top(), *entry, k.user_frame() as usize);
        }
        let pid = p.pid;
        self.procs.insert(pid, p);
        self.enqueue(pid);
    }

    /// Task `pid`, unless it is this core's running one.
    pub fn get(&self, pid: i32) -> Option<TaskView<'_>> {
        match self.procs.get(&pid) {
            Some(p) => Some(TaskView::Here(p)),
            None => running_elsewhere()
                .find(|(_, s)| s.as_ref().is_some_and(|p| p.pid == pid))
                .map(|(_, s)| TaskView::Running(s)),
        }
    }

    /// Task `pid`, to change, unless it is this core's running one.
    pub fn get_mut(&mut self, pid: i32) -> Option<TaskRef<'_>> {
        find_mut(&mut self.procs, pid)
    }

    /// Makes a blocked process runnable again (it re-runs the syscall it blocked in).
    pub fn wake(&mut self, pid: i32) {
        let Some(mut p) = find_mut(&mut self.procs, pid) else {
            return;
        };
        // A stopped process stays stopped: only SIGCONT and SIGKILL end it (`signal`).
        if p.wait.is_some() && p.wait != Some(WaitFor::Stopped) {
            p.wait = None;
            drop(p);
            self.enqueue(pid);
        }
    }

    /// The threads of process `tgid` that are not running, its first thread first.
    pub fn threads_of(&self, tgid: i32) -> alloc::vec::Vec<i32> {
        let mut v: alloc::vec::Vec<i32> = self
            .iter()
            .filter(|p| p.tgid == tgid)
            .map(|p| p.pid)
            .collect();
        if let Some(i) = v.iter().position(|&t| t == tgid) {
            v.swap(0, i);
        }
        v
    }

    /// Sends `sig` to process `tgid`, none of whose threads runs (`group_send_sig_info`): queued
    /// for the process, with job control applied to every thread, and one thread that does not
    /// block it woken to take it (`complete_signal`, which prefers the main thread). SIGKILL
    /// ends every thread at once.
    pub fn signal_process(&mut self, tgid: i32, sig: u32, info: SigInfo) -> Result<(), Errno> {
        let threads = self.threads_of(tgid);
        let Some(&first) = threads.first() else {
            return Err(errno::ESRCH);
        };
        if threads.len() == 1 {
            return self.signal_task(first, sig, info, false);
        }
        if sig == crate::task::signal::SIGKILL {
            self.zap_threads(tgid, None, ExitReason::Signaled { sig, core: false });
            return Ok(());
        }
        self.signal_task(first, sig, info, false)?;
        for &t in &threads[1..] {
            self.job_control(t, sig);
        }
        self.wake_taker(tgid);
        Ok(())
    }

    /// Wakes one thread of `tgid` that has a signal to take, unless one is already runnable.
    pub fn wake_taker(&mut self, tgid: i32) {
        let threads = self.threads_of(tgid);
        let waiting = |p: &Process| p.wait.is_some() && p.wait != Some(WaitFor::Stopped);
        for t in threads {
            let Some(p) = self.get(t) else { continue };
            if p.signals.next_deliverable().is_some() {
                let w = waiting(&p);
                drop(p);
                if w {
                    self.wake(t);
                }
                return;
            }
        }
    }

    /// Ends every thread of `tgid` but `except` (`zap_other_threads`): each leaves with `reason`
    /// the next time it runs, stopped or waiting ones included. Returns how many there were.
    pub fn zap_threads(&mut self, tgid: i32, except: Option<i32>, reason: ExitReason) -> usize {
        let threads = self.threads_of(tgid);
        let mut n = 0;
        for t in threads.into_iter().filter(|&t| Some(t) != except) {
            let Some(mut p) = find_mut(&mut self.procs, t) else {
                continue;
            };
            p.exit.get_or_insert(reason);
            p.stopped = None;
            let queue = p.wait.take().is_some();
            drop(p);
            if queue {
                self.enqueue(t);
            }
            n += 1;
        }
        n
    }

    /// A group stop (`do_signal_stop`): every other thread of `tgid` stops too, whatever it was
    /// waiting for (its call runs again from the start once SIGCONT resumes it). Returns how
    /// many of them run on other cores: they stop when their kick brings them in.
    pub fn stop_threads(&mut self, tgid: i32, sig: u32) -> usize {
        let mut running = 0;
        for t in self.threads_of(tgid) {
            let Some(mut p) = find_mut(&mut self.procs, t) else {
                continue;
            };
            if p.exit.is_none() && p.is_running() {
                p.stop_pending = true;
                running += 1;
            }
            if p.exit.is_none() {
                p.stopped = Some(sig);
                p.wait = Some(WaitFor::Stopped);
            }
        }
        running
    }

    /// Before an exec (`de_thread`): the other threads of `tgid` that run on other cores are
    /// told to exit (they leave the next time they enter the kernel, which their kick makes at
    /// once). Returns whether there were any: the exec then waits for them to be gone.
    pub fn zap_running_threads(&mut self, tgid: i32, except: i32) -> bool {
        let mut any = false;
        for (cpu, mut slot) in running_elsewhere() {
            let p = slot.as_mut().expect("a running task");
            if p.tgid == tgid && p.pid != except {
                p.exit.get_or_insert(ExitReason::Signaled {
                    sig: crate::task::signal::SIGKILL,
                    core: false,
                });
                klock::kick_cpu(cpu);
                any = true;
            }
        }
        any
    }

    /// Removes the other threads of `tgid` at once, before an exec (`de_thread`), once none of
    /// them runs: each goes with its kernel stack; their ids are free again.
    pub fn reap_threads(&mut self, tgid: i32, except: i32) {
        for t in self.threads_of(tgid) {
            if t != except {
                if let Some(p) = self.procs.remove(&t) {
                    p.group
                        .live
                        .fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
                    self.run_queue.retain(|&q| q != t);
                    self.count -= 1;
                    drop(p);
                }
            }
        }
    }

    /// A thread id that is no longer used (an exec by a thread other than the first, which
    /// takes the process's id instead).
    pub fn retire_tid(&mut self, tid: i32) {
        self.procs.remove(&tid);
        self.count -= 1;
    }

    /// Sends `sig` to thread `pid` alone (`tgkill`), which is not running.
    pub fn signal(&mut self, pid: i32, sig: u32, info: SigInfo) -> Result<(), Errno> {
        self.signal_task(pid, sig, info, true)
    }

    /// SIGCONT and stop signals discard each other from a thread's pending set.
    fn job_control(&mut self, pid: i32, sig: u32) {
        use crate::task::signal::{SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};
        let Some(mut t) = find_mut(&mut self.procs, pid) else {
            return;
        };
        if sig == SIGCONT {
            for s in [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU] {
                t.signals.discard(s);
            }
            // A group stop still under way ends here: nobody reports it.
            t.stop_pending = false;
            t.group.stopping.store(0, Ordering::Relaxed);
            if t.stopped.is_some() {
                t.stopped = None;
                t.wait = None;
                drop(t);
                self.enqueue(pid);
            }
        } else if matches!(sig, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU) {
            t.signals.discard(SIGCONT);
        }
    }

    /// Sends `sig` to thread `pid`, which is not running (`send_signal` + `prepare_signal`), to
    /// it alone (`thread`) or to its process: SIGCONT resumes a stopped thread (and discards
    /// pending stop signals; a stop signal discards a pending SIGCONT), SIGKILL resumes it to
    /// die, and any signal it will act on wakes it from a wait.
    fn signal_task(
        &mut self,
        pid: i32,
        sig: u32,
        info: SigInfo,
        thread: bool,
    ) -> Result<(), Errno> {
        use crate::task::signal::{SIGCONT, SIGKILL};
        let mut t = find_mut(&mut self.procs, pid).ok_or(errno::ESRCH)?;
        // `send` and `send_thread` discard pending stop signals for SIGCONT, and back.
        if thread {
            t.signals.send_thread(sig, info)?;
        } else {
            t.signals.send(sig, info)?;
        }
        let (ppid, stopped) = (t.ppid, t.stopped.is_some());
        if sig == SIGCONT {
            t.stop_pending = false;
            t.group.stopping.store(0, Ordering::Relaxed);
        }
        if stopped && (sig == SIGCONT || sig == SIGKILL) {
            t.stopped = None;
            t.wait = None;
            if sig == SIGCONT {
                t.report = Some(crate::task::wait::ChildState::Continued);
            }
            drop(t);
            self.enqueue(pid);
            if sig == SIGCONT {
                self.notify_parent(ppid, pid, crate::task::wait::CLD_CONTINUED, SIGCONT as i32);
            }
            return Ok(());
        }
        let wake = sig != 0 && t.signals.next_deliverable().is_some();
        drop(t);
        if wake {
            self.wake(pid);
        }
        Ok(())
    }

    /// A child stopped or continued: its parent gets SIGCHLD (unless it asked not to hear of
    /// stops with `SA_NOCLDSTOP`) and wakes if it waits for children.
    pub fn notify_parent(&mut self, ppid: i32, pid: i32, code: i32, status: i32) {
        let threads = self.threads_of(ppid);
        let Some(mut parent) = threads.first().and_then(|&t| find_mut(&mut self.procs, t)) else {
            return;
        };
        let nocldstop =
            parent.signals.action(SIGCHLD).flags & crate::task::signal::SA_NOCLDSTOP != 0;
        if !nocldstop {
            let _ = parent.signals.send(
                SIGCHLD,
                SigInfo::user(SIGCHLD, code, pid as u32, status as u32),
            );
        }
        drop(parent);
        self.wake_waiters(ppid, pid);
    }

    /// A child `child` of process `tgid` changed state: its threads waiting for children (or
    /// for this vfork child) run again, and so does one that SIGCHLD now interrupts.
    pub(super) fn wake_waiters(&mut self, tgid: i32, child: i32) {
        for t in self.threads_of(tgid) {
            let w = self.get(t).and_then(|p| p.wait);
            if w == Some(WaitFor::Child) || w == Some(WaitFor::Vfork(child)) {
                self.wake(t);
            }
        }
        self.wake_taker(tgid);
    }

    fn has_children(&self, ppid: i32, target: crate::task::wait::WaitTarget) -> bool {
        self.iter()
            .any(|p| p.ppid == ppid && wait_matches(target, p.tgid, p.pgid))
            || self
                .zombies
                .iter()
                .any(|(&c, z)| z.ppid == ppid && wait_matches(target, c, z.pgid))
    }

    /// Reaps a zombie child of `ppid` that `target` takes, if there is one.
    pub fn reap(
        &mut self,
        ppid: i32,
        target: crate::task::wait::WaitTarget,
    ) -> Option<(i32, Zombie)> {
        let found = self.peek_zombie(ppid, target)?.0;
        self.count -= 1;
        self.zombies.remove(&found).map(|z| (found, z))
    }

    /// A zombie child matching, without reaping it (WNOWAIT).
    pub fn peek_zombie(
        &self,
        ppid: i32,
        target: crate::task::wait::WaitTarget,
    ) -> Option<(i32, Zombie)> {
        self.zombies
            .iter()
            .find(|(&c, z)| z.ppid == ppid && wait_matches(target, c, z.pgid))
            .map(|(&c, z)| (c, *z))
    }

    /// `Err(ECHILD)`-worthy: no child of `ppid` matches `target`.
    pub fn no_such_child(&self, ppid: i32, target: crate::task::wait::WaitTarget) -> bool {
        !self.has_children(ppid, target)
    }

    /// Makes runnable the sleepers whose deadline has passed and the pipe waiters for whom some
    /// pipe changed (they re-run their call and block again if it was not theirs).
    pub(super) fn wake_expired(&mut self) {
        let now = timer::uptime_ns();
        let events = crate::fs::pipe::events();
        // One pass, no allocation: this runs on every switch.
        let mut fired = alloc::vec::Vec::new();
        for p in self.procs.values_mut() {
            // A real-time timer that fires wakes a thread that its SIGALRM would interrupt.
            if p.itimer_check(now) {
                if p.wait.is_some() && p.signals.next_deliverable().is_some() {
                    p.wait = None;
                    self.run_queue.push_back(p.pid);
                    klock::want_cpu(p.cpus_allowed);
                    continue;
                }
                fired.push(p.tgid);
            }
            let due = match p.wait {
                Some(WaitFor::Yield) => true,
                Some(WaitFor::Until(d)) => d <= now,
                Some(WaitFor::Pipe(since)) => since != events,
                Some(WaitFor::PipeUntil(since, d)) => since != events || d <= now,
                Some(WaitFor::Futex(_, _, Some(d))) => d <= now,
                _ => false,
            };
            if due {
                p.wait = None;
                self.run_queue.push_back(p.pid);
                klock::want_cpu(p.cpus_allowed);
            }
        }
        // A timer that fired for a thread that blocks SIGALRM: another thread may take it.
        for tgid in fired {
            self.wake_taker(tgid);
        }
    }

    /// `futex_wake`: up to `max` sleepers on `key` whose bitset meets `bitset` run again, marked
    /// woken; returns how many.
    pub fn futex_wake(
        &mut self,
        key: crate::task::futex::FutexKey,
        bitset: u32,
        max: usize,
    ) -> usize {
        let mut woken = 0;
        for p in self.procs.values_mut() {
            if woken == max {
                break;
            }
            if let Some(WaitFor::Futex(k, bits, _)) = p.wait {
                if k == key && bits & bitset != 0 {
                    p.wait = None;
                    p.futex_woken = true;
                    self.run_queue.push_back(p.pid);
                    klock::want_cpu(p.cpus_allowed);
                    woken += 1;
                }
            }
        }
        woken
    }

    /// The sleepers on futex `key`, in the order [`futex_wake`](Self::futex_wake) takes them.
    pub fn futex_waiters(&self, key: crate::task::futex::FutexKey) -> alloc::vec::Vec<i32> {
        self.procs
            .values()
            .filter(|p| matches!(p.wait, Some(WaitFor::Futex(k, _, _)) if k == key))
            .map(|p| p.pid)
            .collect()
    }

    /// Wakes sleeper `pid` of futex `key`, if it sleeps there (a PI unlock handing the lock to
    /// it).
    pub fn futex_wake_task(&mut self, key: crate::task::futex::FutexKey, pid: i32) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if matches!(p.wait, Some(WaitFor::Futex(k, _, _)) if k == key) {
            p.wait = None;
            p.futex_woken = true;
            self.enqueue(pid);
        }
    }

    /// `futex_requeue`: wakes up to `nr_wake` sleepers on `from`, then moves up to
    /// `nr_requeue` of the others to sleep on `to`; returns how many were woken or moved.
    pub fn futex_requeue(
        &mut self,
        from: crate::task::futex::FutexKey,
        to: crate::task::futex::FutexKey,
        nr_wake: usize,
        nr_requeue: usize,
    ) -> usize {
        let woken = self.futex_wake(from, u32::MAX, nr_wake);
        let mut moved = 0;
        for p in self.procs.values_mut() {
            if moved == nr_requeue {
                break;
            }
            if let Some(WaitFor::Futex(k, bits, d)) = p.wait {
                if k == from {
                    p.wait = Some(WaitFor::Futex(to, bits, d));
                    moved += 1;
                }
            }
        }
        woken + moved
    }

    /// Sends `sig` to every process of group `pgrp` that is not running (the terminal's `^C`),
    /// waking those it interrupts.
    /// Whether `me`'s process group is orphaned (Linux's `will_become_orphaned_pgrp(pgrp,
    /// NULL)`): no member has a parent in another group of the same session, a parent that is
    /// the first process not counting. `me` is the running caller, not in the table.
    pub fn pgrp_orphaned(&self, me: &Process) -> bool {
        let pgrp = me.pgid;
        let parent = |ppid: i32| -> Option<(i32, i32)> {
            if ppid == me.tgid {
                Some((me.pgid, me.sid))
            } else {
                self.get(ppid).map(|q| (q.pgid, q.sid))
            }
        };
        let others = self
            .iter()
            .filter(|q| q.pgid == pgrp)
            .map(|q| (q.ppid, q.sid));
        !core::iter::once((me.ppid, me.sid))
            .chain(others)
            .filter(|&(ppid, _)| ppid != 1)
            .any(|(ppid, sid)| parent(ppid).is_some_and(|(g, s)| g != pgrp && s == sid))
    }

    pub fn signal_group(&mut self, pgrp: i32, sig: u32) {
        let mut tgids: alloc::vec::Vec<i32> = self
            .iter()
            .filter(|p| p.pgid == pgrp)
            .map(|p| p.tgid)
            .collect();
        tgids.sort_unstable();
        tgids.dedup();
        for tgid in tgids {
            let _ = self.signal_process(tgid, sig, SigInfo::kernel(sig));
        }
    }

    /// The next task to run, after waking expired sleepers (unless the caller just did, under
    /// the same hold of the lock) and signalling the terminal's foreground group; `None` when
    /// nothing is runnable.
    fn pick_next(&mut self, woken: bool) -> Option<Box<Process>> {
        if let Some((pgrp, sig)) = crate::console::take_signal() {
            self.signal_group(pgrp, sig);
        }
        if !woken {
            self.wake_expired();
        }
        // An entry whose task has started waiting since it was queued (a group stop), or which
        // runs on another core (woken there before it switched away), is stale: the task is
        // queued again when it is woken. A task that may not run on this core stays queued.
        let me = 1u64 << cpu_id();
        let mut i = 0;
        while let Some(&pid) = self.run_queue.get(i) {
            match self.procs.get(&pid) {
                Some(p) if p.wait.is_none() => {
                    if p.cpus_allowed & me != 0 {
                        self.run_queue.remove(i);
                        if !self.run_queue.is_empty() {
                            klock::want_cpu(u64::MAX);
                        }
                        return self.procs.take(&pid);
                    }
                    // Left for a core that may run it, which is woken if idle.
                    klock::want_cpu(p.cpus_allowed);
                    i += 1;
                }
                _ => {
                    self.run_queue.remove(i);
                }
            }
        }
        None
    }

    /// The earliest deadline of a sleeper or a real-time timer, which an idle core waits for.
    fn earliest_deadline(&self) -> Option<u64> {
        self.procs
            .values()
            .flat_map(|p| [p.wait.and_then(WaitFor::deadline), p.itimer_deadline()])
            .flatten()
            .min()
    }
}

/// Task `pid` among those waiting in `procs` or running on another core (a function of the
/// table's map alone, so that the caller may still use the table's other fields).
fn find_mut(procs: &mut ProcTable, pid: i32) -> Option<TaskRef<'_>> {
    match procs.get_mut(&pid) {
        Some(p) => Some(TaskRef::Here(p)),
        None => running_elsewhere()
            .find(|(_, s)| s.as_ref().is_some_and(|p| p.pid == pid))
            .map(|(cpu, s)| TaskRef::Running(cpu, s)),
    }
}

/// A vfork child has exec'd or is exiting: its parent, if still waiting for it, runs again.
pub fn vfork_done(parent: i32, child: i32) {
    let mut tasks = TASKS.lock();
    if tasks
        .get_mut(parent)
        .is_some_and(|p| p.wait == Some(WaitFor::Vfork(child)))
    {
        tasks.wake(parent);
    }
}

/// Set once the first process is queued: idle cores look for deadlocks only from then on.
static STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Where every task starts, given its user frame: the kernel's loop around `enter_user`, which
/// lives above this layer (`trap::task_main`), hence given to [`run_first`].
static TASK_ENTRY: spin::Once<extern "C" fn(usize) -> !> = spin::Once::new();

/// Runs `p` as the first process, with this core (the boot core, on the boot stack) going into
/// its idle loop; never returns. Every task, `p` first, starts in `entry` with its user frame
/// (it calls [`schedule_tail`] first).
pub fn run_first(
    mut p: Box<Process>,
    before: (usize, HeapStats, usize),
    entry: extern "C" fn(usize) -> !,
) -> ! {
    BEFORE.call_once(|| before);
    TASK_ENTRY.call_once(|| entry);
    if p.kstack.is_none() {
        let Some(k) = KernelStack::new() else {
            println!("tidemark: no memory for the first process's kernel stack");
            crate::exit::exit(crate::exit::STATUS_PANIC);
        };
        p.kstack = Some(k);
    }
    CPUS[cpu_id()]
        .idle_stack_top
        .store(boot_stack_top(), Ordering::Relaxed);
    klock::lock();
    TASKS.lock().add(p);
    STARTED.store(true, Ordering::Release);
    aarch64_cpu::asm::sev();
    cpu_idle()
}

/// A secondary core, brought up on the idle stack whose top is `stack_top`: it waits for the
/// first process, then runs tasks like the boot core.
pub fn secondary_idle(stack_top: usize) -> ! {
    CPUS[cpu_id()]
        .idle_stack_top
        .store(stack_top, Ordering::Relaxed);
    while !STARTED.load(Ordering::Acquire) {
        aarch64_cpu::asm::wfe();
    }
    klock::lock();
    cpu_idle()
}

/// A core's idle loop, with the kernel lock held: runs the next runnable task until it leaves the
/// core, or, with none, gives the lock back and waits for an interrupt (a deadline, input, a
/// kick from a core that queued a task). When no task runs or can ever be woken, the run ends.
fn cpu_idle() -> ! {
    let me = cpu_id();
    loop {
        let mut tasks = TASKS.lock();
        if let Some(mut next) = tasks.pick_next(false) {
            drop(tasks);
            load_context(&mut next);
            let next_ctx: *const CpuContext = &next.ctx;
            *CPUS[me].current.lock() = Some(next);
            // SAFETY: the idle context is this core's, the task is boxed in its slot and its
            // context was saved by a switch or made over its kernel stack; no lock is held.
            unsafe { switch_to(CPUS[me].idle.get(), next_ctx) };
            // Back: the task left the core with nothing else to run.
            finish_task_switch();
            continue;
        }
        let deadline = tasks.earliest_deadline();
        // A task queued for other cores only (its affinity) is theirs to run.
        if deadline.is_none()
            && tasks.run_queue.is_empty()
            && !crate::console::input_awaited()
            && running_elsewhere().next().is_none()
        {
            deadlock(tasks);
        }
        drop(tasks);
        klock::idle_begin();
        crate::console::irq_taken(crate::drivers::gic::idle_wait(deadline));
        klock::idle_end();
    }
}

fn deadlock(tasks: crate::sync::MutexGuard<'_, Tasks>) -> ! {
    println!("tidemark: deadlock: every process is blocked and nothing can wake one");
    for p in tasks.iter() {
        println!(
            "  pid {} ({}): waiting for {:?}, pending {:#x}, blocked {:#x}, saved mask {:?}",
            p.pid,
            p.exe,
            p.wait,
            p.signals.pending().0,
            p.signals.blocked.0,
            p.signals.saved_sigmask.map(|m| m.0)
        );
    }
    drop(tasks);
    end_of_run(ExitReason::Exited(1))
}

fn boot_stack_top() -> usize {
    extern "C" {
        static __boot_stack_top: u8;
    }
    &raw const __boot_stack_top as usize
}

/// What stays in the CPU when a task's kernel stack is switched away: its FP/SIMD registers and
/// thread pointer (its integer registers are in its trap frame, on its own kernel stack).
fn save_context(p: &mut Process) {
    fp_save(&mut p.fp);
    p.tpidr = TPIDR_EL0.get();
}

/// What [`save_context`] saved, and the task's address space, back on the CPU. Inlined into
/// both switch paths: out of line, a switch paid some 20 instructions more.
#[inline(always)]
fn load_context(p: &mut Process) {
    p.ran_since = timer::ticks();
    fp_restore(&p.fp);
    TPIDR_EL0.set(p.tpidr);
    p.mm().pt.activate();
    set_active_mm(p);
}

/// Where every switch ends, in the task (or idle loop) that now runs: frees a dead task's stack.
pub(super) fn finish_task_switch() {
    drop(CPUS[cpu_id()].dead_stack.lock().take());
}

/// The first thing a new task runs (before its frame goes to EL0): it leaves the kernel, so the
/// kernel lock goes back.
pub fn schedule_tail() {
    finish_task_switch();
    klock::unlock();
}

/// Whether the end of a trap has work for [`finish_trap`]: `p` exited or blocked, or the tick
/// asked to preempt it. When `false`, `finish_trap` would return at once, and a trap that already
/// holds its core's slot may skip it (the syscall fast path).
#[inline]
pub fn must_switch(p: &Process, preempt: bool) -> bool {
    p.exit.is_some() || p.wait.is_some() || preempt
}

/// Called at the end of every trap from EL0 with the current process: switches away when it
/// blocked, was preempted or exited. Returns only to run a process (the same or another) with `tf`.
pub fn finish_trap(mut preempt: bool) {
    loop {
        let mut cur = current().lock();
        let Some(p) = cur.as_mut() else { return };
        if !must_switch(p, preempt) {
            return;
        }
        if p.stop_pending && (p.exit.is_some() || p.wait.is_some()) {
            group_stop_arrived(p);
        }
        if p.exit.is_some() {
            let p = cur.take().expect("current process");
            drop(cur);
            exit_process(p);
        }
        let mut tasks = TASKS.lock();
        // A task that goes on running looks first whether another is due; one that sleeps
        // leaves the look to `pick_next`, which then sees it among the sleepers (once per switch:
        // it walks every sleeping task).
        let runnable = p.wait.is_none();
        if runnable {
            tasks.wake_expired();
            if tasks.run_queue.is_empty() {
                return; // preempted, but nobody else wants the CPU
            }
        }
        let mut p = cur.take().expect("current process");
        p.cpu_ticks = p.thread_cpu_ticks();
        fold_faults(&mut p);
        save_context(&mut p);
        let pid = p.pid;
        // The task stays boxed in the table while it sleeps, so its context does not move.
        let prev: *mut CpuContext = &mut p.ctx;
        tasks.procs.insert(pid, p);
        if runnable {
            tasks.enqueue(pid);
        }
        switch_to_next(tasks, cur, prev, runnable);
        // Back in this task: another thread may have ended its process meanwhile.
        preempt = false;
    }
}

/// A thread that ran on another core when its group stop began has come in to stop (or to
/// exit): the last of them tells the parent that the process stopped.
fn group_stop_arrived(p: &mut Process) {
    p.stop_pending = false;
    if p.group.stopping.fetch_sub(1, Ordering::AcqRel) == 1 {
        let sig = p.group.stop_sig.load(Ordering::Relaxed);
        p.report = Some(crate::task::wait::ChildState::Stopped(sig));
        TASKS
            .lock()
            .notify_parent(p.ppid, p.tgid, crate::task::wait::CLD_STOPPED, sig as i32);
    }
}

/// Picks the next task and switches to its kernel stack, saving the running one's context in
/// `prev`, or to this core's idle loop when nothing is runnable; returns when some core switches
/// back to `prev` (at once, if the next task is the same). `woken`: the caller woke the expired
/// sleepers under this hold of the lock.
fn switch_to_next(
    mut tasks: crate::sync::MutexGuard<'_, Tasks>,
    mut cur: crate::sync::MutexGuard<'_, Option<Box<Process>>>,
    prev: *mut CpuContext,
    woken: bool,
) {
    let next_ctx: *const CpuContext = match tasks.pick_next(woken) {
        Some(mut next) => {
            drop(tasks);
            load_context(&mut next);
            let ctx: *const CpuContext = &next.ctx;
            *cur = Some(next);
            ctx
        }
        None => {
            drop(tasks);
            // The user tables of the task that left may be freed on another core from now on.
            VmSpace::deactivate_all();
            CPUS[cpu_id()].idle.get()
        }
    };
    drop(cur);
    if !core::ptr::eq(prev, next_ctx) {
        // SAFETY: both contexts are in boxed tasks or this core's slots, no lock is held but
        // the kernel lock (which goes with the core), and `next_ctx` was saved by a switch or
        // made for a new task over its kernel stack.
        unsafe { switch_to(prev, next_ctx) };
    }
    finish_task_switch();
}

/// The end of a dead task: the CPU goes to the next task, and nothing ever switches back.
pub(super) fn leave_for_good(tasks: crate::sync::MutexGuard<'_, Tasks>) -> ! {
    let me = cpu_id();
    switch_to_next(tasks, CPUS[me].current.lock(), CPUS[me].dead.get(), false);
    unreachable!("a dead task was resumed")
}
