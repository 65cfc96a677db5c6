//! The end of a task, and of the run (Linux's `kernel/exit.c`): a thread's exit, the last
//! thread's turning its process into a zombie for its parent, and the first process's exit
//! ending the machine with the memory report.
use super::sched::*;
use crate::arch::aarch64::smp::cpu_id;
use crate::mm::heap;
use crate::mm::vm_space::VmSpace;
use crate::println;
use crate::task::klock;
use crate::task::process::{ExitReason, Process};
use crate::task::signal::{signal_name, SigInfo, SA_NOCLDWAIT, SIGCHLD, SIG_IGN};
use crate::task::wait::{CLD_DUMPED, CLD_EXITED, CLD_KILLED};
use alloc::boxed::Box;
use core::sync::atomic::Ordering;

/// A thread ends. Its `clear_child_tid` word is cleared and a futex waiter on it woken (how
/// `pthread_join` returns). While other threads of its process live, that is all; the last
/// thread ends the process: its memory and files go, a zombie keeps its status for the parent,
/// which gets its exit signal and is woken, and its children are re-parented to the nearest
/// child subreaper among its ancestors, or to the first process. The first process ending ends
/// the run.
pub(super) fn exit_process(mut p: Box<Process>) -> ! {
    let own = p.exit.expect("exiting process");
    fold_faults(&mut p);
    // A vfork parent waits for this task itself, whether or not it is a process's last thread.
    if let Some(parent) = p.vfork_parent.take() {
        vfork_done(parent, p.pid);
    }
    if p.robust_list != 0 {
        crate::task::futex::exit_robust_list(&mut p);
    }
    if p.clear_child_tid != 0 && alloc::sync::Arc::strong_count(&p.mm) > 1 {
        crate::task::futex::clear_child_tid(&mut p);
    }
    // The thread's CPU time joins its process's before the thread goes.
    p.group
        .dead_cpu
        .fetch_add(p.thread_cpu_ticks(), core::sync::atomic::Ordering::Relaxed);
    let last = p
        .group
        .live
        .fetch_sub(1, core::sync::atomic::Ordering::AcqRel)
        == 1;
    let reason = (*p.group.exit.lock()).unwrap_or(own);
    let (tid, pid, ppid, minflt, pgid) = (p.pid, p.tgid, p.ppid, p.minflt, p.pgid);
    let uid = p.creds.uid;
    let cpu_ticks = p.group.dead_cpu.load(core::sync::atomic::Ordering::Relaxed)
        + p.group
            .children_cpu
            .load(core::sync::atomic::Ordering::Relaxed);
    let exit_signal = p.group.exit_signal.load(Ordering::Relaxed);
    if !last {
        log::debug!("{} (pid {pid}): thread {tid} exited", p.exe);
        VmSpace::deactivate_all();
        *CPUS[cpu_id()].dead_stack.lock() = p.kstack.take();
        drop(p);
        let mut tasks = TASKS.lock();
        tasks.procs.remove(&tid);
        tasks.count -= 1;
        // An exec waiting for the other threads to go tries again.
        for t in tasks.threads_of(pid) {
            if tasks
                .get(t)
                .is_some_and(|q| q.wait == Some(WaitFor::Dethread))
            {
                tasks.wake(t);
            }
        }
        tasks.wake_expired();
        leave_for_good(tasks);
    }
    if let ExitReason::Signaled { sig, core } = reason {
        // Only the first process's death is news to whoever booted the machine; a shell's
        // pipeline losing its reader (SIGPIPE) is not.
        let dumped = if core { " (core dumped)" } else { "" };
        if pid == 1 {
            println!(
                "tidemark: {} (pid {pid}) killed by {}{dumped}",
                p.exe,
                signal_name(sig)
            );
        } else {
            log::info!(
                "{} (pid {pid}) killed by {}{dumped}",
                p.exe,
                signal_name(sig)
            );
        }
    } else if reason == ExitReason::OutOfMemory {
        println!("tidemark: {} (pid {pid}) killed: out of memory in a page fault (no swap, no OOM killer)", p.exe);
    } else {
        log::info!(
            "{} (pid {pid}) exited with status {}",
            p.exe,
            reason.shell_status()
        );
    }
    VmSpace::deactivate_all();
    // This stack is the one running: the next task frees it.
    *CPUS[cpu_id()].dead_stack.lock() = p.kstack.take();
    drop(p);
    if pid == 1 {
        // The end of the run goes on this core's idle stack, so that this one is freed too.
        END_REASON.call_once(|| reason);
        let top = CPUS[cpu_id()].idle_stack_top.load(Ordering::Relaxed);
        crate::arch::aarch64::context::run_on_stack(top, end_of_run_on_idle_stack);
    }
    let mut tasks = TASKS.lock();
    tasks.procs.remove(&tid);
    // `forget_original_parent`: the children go to their new reaper, with SIGCHLD as their exit
    // signal. The walk up the ancestors is for a process that has children.
    let has_children =
        tasks.iter().any(|t| t.ppid == pid) || tasks.zombies.values().any(|z| z.ppid == pid);
    let reaper = if has_children {
        find_new_reaper(&tasks, ppid)
    } else {
        1
    };
    let mut orphans = alloc::vec::Vec::new();
    let mut reparent = |child: &mut Process| {
        if child.ppid == pid {
            child.ppid = reaper;
            child.group.exit_signal.store(SIGCHLD, Ordering::Relaxed);
            if child.pdeath_signal != 0 {
                orphans.push((child.pid, child.pdeath_signal));
            }
        }
    };
    tasks.procs.values_mut().for_each(&mut reparent);
    for (_, mut slot) in running_elsewhere() {
        reparent(slot.as_mut().expect("a running task"));
    }
    // `PR_SET_PDEATHSIG`: the children that asked are told their parent died.
    for (child, sig) in orphans {
        let _ = tasks.signal(child, sig, SigInfo::kernel(sig));
    }
    // Children that are zombies already are news to the reaper (`reparent_leader`).
    let mut dead = alloc::vec::Vec::new();
    for (&z, zombie) in tasks.zombies.iter_mut().filter(|(_, z)| z.ppid == pid) {
        zombie.ppid = reaper;
        dead.push((z, zombie.reason));
    }
    for (z, reason) in dead {
        if notify_parent(&mut tasks, reaper, z, reason, SIGCHLD) {
            tasks.zombies.remove(&z);
        }
    }
    tasks.zombies.insert(
        pid,
        Zombie {
            ppid,
            uid,
            cpu_ticks,
            pgid,
            reason,
            minflt,
        },
    );
    if notify_parent(&mut tasks, ppid, pid, reason, exit_signal) {
        tasks.zombies.remove(&pid);
    }
    tasks.wake_expired();
    leave_for_good(tasks)
}

/// `do_notify_parent`: process `ppid` learns that its child `pid` ended: the exit signal (none
/// if 0), and its threads waiting for children wake. Whether the child is reaped at once instead
/// of staying a zombie: the parent ignores SIGCHLD or set `SA_NOCLDWAIT` (then a `wait4` that
/// has no other child to wait for ends with `ECHILD`; SIGCHLD still comes with `SA_NOCLDWAIT`).
fn notify_parent(
    tasks: &mut Tasks,
    ppid: i32,
    pid: i32,
    reason: ExitReason,
    mut exit_signal: u32,
) -> bool {
    let Some(&first) = tasks.threads_of(ppid).first() else {
        return false;
    };
    let mut autoreap = false;
    if exit_signal == SIGCHLD {
        if let Some(parent) = tasks.get(first) {
            let a = parent.signals.action(SIGCHLD);
            if a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0 {
                autoreap = true;
                if a.handler == SIG_IGN {
                    exit_signal = 0;
                }
            }
        }
    }
    let code = match reason {
        ExitReason::Exited(_) => CLD_EXITED,
        ExitReason::Signaled { core: true, .. } => CLD_DUMPED,
        _ => CLD_KILLED,
    };
    if exit_signal != 0 {
        if let Some(mut parent) = tasks.get_mut(first) {
            let _ = parent
                .signals
                .send(exit_signal, SigInfo::user(SIGCHLD, code, pid as u32, 0));
        }
    }
    // A waiter in wait4 or vfork wakes; so does one whose SIGCHLD now interrupts it (a handler
    // installed, in sigsuspend or ppoll), as `send_to` does for any signal.
    tasks.wake_waiters(ppid, pid);
    autoreap
}

/// `find_new_reaper`: where the children of a process that ended, whose parent was `ancestor`,
/// go: to the nearest ancestor that made itself a child subreaper (`PR_SET_CHILD_SUBREAPER`)
/// and still has a thread, else to the first process. Every process's parent lives (a process
/// that ends hands its children on), so the walk climbs live processes only.
fn find_new_reaper(tasks: &Tasks, mut ancestor: i32) -> i32 {
    while ancestor > 1 {
        let Some(a) = tasks
            .threads_of(ancestor)
            .first()
            .and_then(|&t| tasks.get(t))
        else {
            break;
        };
        if a.group.is_child_subreaper.load(Ordering::Relaxed) {
            return ancestor;
        }
        ancestor = a.ppid;
    }
    1
}

/// How the first process ended, for [`end_of_run_on_boot_stack`].
static END_REASON: spin::Once<ExitReason> = spin::Once::new();

extern "C" fn end_of_run_on_idle_stack() -> ! {
    finish_task_switch();
    end_of_run(*END_REASON.get().expect("the first process's end"))
}

/// The first process ended: every other process is discarded, the frame count is reported
/// against the one before the first exec, and the machine ends with the first process's status.
pub(super) fn end_of_run(reason: ExitReason) -> ! {
    // The other cores stop where they are, holding nothing; their tasks go with the rest.
    klock::stop_others();
    for cpu in &CPUS {
        drop(cpu.current.try_lock().and_then(|mut c| c.take()));
        drop(cpu.dead_stack.try_lock().and_then(|mut d| d.take()));
    }
    // The whole scheduler state goes, its tables' capacity included, so that the report below
    // compares like with like.
    let tasks = core::mem::take(&mut *TASKS.lock());
    drop(tasks);
    VmSpace::deactivate_all();
    report_frames();
    crate::exit::exit(reason.shell_status() as u32)
}

/// The end-of-run memory report, printed whatever the log level (the QEMU tests read it). User memory and page tables must be back to the last frame:
/// the free count plus what the kernel heap's small-object part took during the run (it keeps
/// what it grew) equals the count before exec. Large kernel objects are back in the pool, and the
/// small ones in use are reported beside their count before exec.
fn report_frames() {
    let free = crate::mm::frame::free_frames();
    let h = heap::stats();
    let (before, h0, files0) = BEFORE.get().copied().unwrap_or((0, h, 0));
    let grown = h.grown_frames - h0.grown_frames;
    crate::println!(
        "kernel heap: {} bytes of small objects in use (before exec: {}), {} frames of large \
         objects (before exec: {}), at most {} frames held",
        h.small_used,
        h0.small_used,
        h.large_frames,
        h0.large_frames,
        h.high_water_frames
    );
    // Files made (or removed) by the programs hold (or gave back) their pages until deleted.
    let files =
        crate::fs::VFS.get().map_or(0, |v| v.rootfs.used_pages()) as isize - files0 as isize;
    crate::println!(
        "frames free after exit: {free} + {grown} kept by the kernel heap {files:+} in files = {} \
         (before exec: {before})",
        (free + grown) as isize + files
    );
}
