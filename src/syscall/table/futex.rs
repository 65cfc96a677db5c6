//! futex(2): WAIT, WAKE, their BITSET forms, REQUEUE and CMP_REQUEUE (`kernel/futex/`): the
//! locks, condition variables and joins of glibc's and musl's threads, and LTP's checkpoints
//! between processes. A futex is named as `get_futex_key` names it: by the address space and
//! the address when `FUTEX_PRIVATE_FLAG` says only this process uses it or when the word lies in
//! private memory (so that a waiter and a waker disagreeing on the flag still meet, as
//! `CLONE_CHILD_CLEARTID`'s wake and musl's private join do), and by the physical address of the
//! word in a shared mapping (every process mapping the page finds the same one; tmpfs and shmem
//! pages never move). Waiting follows the kernel's one way to block: the waiter is parked with its key, and a
//! wake marks it woken, so that its re-run call returns 0 whatever the word holds by then.
use super::*;
use crate::mm::fault::FaultAccess;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// Which futex a waiter sleeps on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexKey {
    /// The physical address of the word (a shared mapping).
    Shared(u64),
    /// The address space (its `MmRef`'s address) and the word's address: private futexes and
    /// words in private memory.
    Private(usize, usize),
}

/// The key of the word at `uaddr`: `EINVAL` unless 4-byte aligned, `EFAULT` unless mapped.
fn key(p: &mut Process, uaddr: usize, private: bool) -> Result<FutexKey, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(errno::EINVAL);
    }
    let mm_id = alloc::sync::Arc::as_ptr(&p.mm) as usize;
    if private {
        return Ok(FutexKey::Private(mm_id, uaddr));
    }
    p.handle_fault(uaddr, FaultAccess::Read)
        .map_err(|_| errno::EFAULT)?;
    let mm = p.mm();
    let shared = mm
        .find_vma(uaddr)
        .is_some_and(|v| v.flags.contains(crate::mm::vma::VM_MAYSHARE));
    if !shared {
        return Ok(FutexKey::Private(mm_id, uaddr));
    }
    let t = mm
        .pt
        .pages
        .pt
        .translate(crate::mm::addr::VirtAddr(uaddr))
        .ok_or(errno::EFAULT)?;
    Ok(FutexKey::Shared(t.pa.0 as u64))
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// `ROBUST_LIST_LIMIT`: a list longer than this is taken for a loop.
const ROBUST_LIST_LIMIT: usize = 2048;

/// `exit_robust_list`: a thread ends holding robust futexes (`set_robust_list`). Each word that
/// still names this thread as its owner gets `FUTEX_OWNER_DIED`, and a waiter is woken, so that
/// the next locker gets `EOWNERDEAD`. Bad pointers end the walk, as on Linux.
pub fn exit_robust_list(p: &mut Process) {
    let head = core::mem::take(&mut p.robust_list);
    // struct robust_list_head { struct robust_list list; long futex_offset;
    //                           struct robust_list *list_op_pending; }
    let Ok(mut entry) = p.read_pod::<u64>(head) else {
        return;
    };
    let Ok(offset) = p.read_pod::<u64>(head + 8) else {
        return;
    };
    let pending = p.read_pod::<u64>(head + 16).unwrap_or(0);
    let mut n = 0;
    while entry != head as u64 && n < ROBUST_LIST_LIMIT {
        // Read the next one first: the owner-died store may free the entry.
        let Ok(next) = p.read_pod::<u64>(entry as usize) else {
            break;
        };
        if entry != pending {
            futex_death(p, entry.wrapping_add(offset) as usize);
        }
        entry = next;
        n += 1;
    }
    if pending != 0 {
        futex_death(p, pending.wrapping_add(offset) as usize);
    }
}

/// `handle_futex_death`: the word at `uaddr`, if this thread owns it, is marked owner-died and
/// one waiter woken.
fn futex_death(p: &mut Process, uaddr: usize) {
    if !uaddr.is_multiple_of(4) {
        return;
    }
    let Ok(word) = p.read_pod::<u32>(uaddr) else {
        return;
    };
    if word & FUTEX_TID_MASK != p.pid as u32 {
        return;
    }
    let new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    // No other thread runs meanwhile, so the store is the cmpxchg Linux does.
    if p.write_pod(uaddr, &new).is_err() {
        return;
    }
    if word & FUTEX_WAITERS != 0 {
        if let Ok(k) = key(p, uaddr, false) {
            TASKS.lock().futex_wake(k, FUTEX_BITSET_MATCH_ANY, 1);
        }
    }
}

/// A thread that asked for it (`CLONE_CHILD_CLEARTID`, `set_tid_address`) ends while its
/// memory lives on: 0 goes to its tid word and one waiter on the word is woken (`mm_release`).
/// Both are best effort, as on Linux.
pub fn clear_child_tid(p: &mut Process) {
    let addr = core::mem::take(&mut p.clear_child_tid);
    if p.write_pod(addr, &0u32).is_ok() {
        if let Ok(k) = key(p, addr, false) {
            TASKS.lock().futex_wake(k, FUTEX_BITSET_MATCH_ANY, 1);
        }
    }
}

/// futex(2).
pub(super) fn futex(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (uaddr, op, val) = (a[0] as usize, a[1] as u32, a[2] as u32);
    let (timeout, val3) = (a[3] as usize, a[5] as u32);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET {
        return Err(errno::ENOSYS);
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(errno::EINVAL);
            }
            wait(
                p,
                uaddr,
                val,
                timeout,
                bitset,
                cmd == FUTEX_WAIT_BITSET,
                op,
                private,
            )
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(errno::EINVAL);
            }
            let k = key(p, uaddr, private)?;
            Ok(TASKS.lock().futex_wake(k, bitset, val as usize))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            // `val2` travels in the timeout's register.
            let (nr_wake, nr_requeue) = (val as i32, timeout as i32);
            if nr_wake < 0 || nr_requeue < 0 {
                return Err(errno::EINVAL);
            }
            let uaddr2 = a[4] as usize;
            let k1 = key(p, uaddr, private)?;
            let k2 = key(p, uaddr2, private)?;
            if cmd == FUTEX_CMP_REQUEUE {
                let word: u32 = p.read_pod(uaddr)?;
                if word != val3 {
                    return Err(errno::EAGAIN);
                }
            }
            Ok(TASKS
                .lock()
                .futex_requeue(k1, k2, nr_wake as usize, nr_requeue as usize))
        }
        _ => Err(errno::ENOSYS),
    }
}

/// `futex_wait`: `EAGAIN` when the word no longer holds `val`; otherwise the caller sleeps
/// until a wake (0), the timeout (`ETIMEDOUT`: relative on the monotonic clock for
/// `FUTEX_WAIT`, absolute for `FUTEX_WAIT_BITSET`, on the real-time clock with
/// `FUTEX_CLOCK_REALTIME`), or a signal (`EINTR`, or a restart under `SA_RESTART`).
#[allow(clippy::too_many_arguments)]
fn wait(
    p: &mut Process,
    uaddr: usize,
    val: u32,
    timeout: usize,
    bitset: u32,
    absolute: bool,
    op: u32,
    private: bool,
) -> SysResult {
    if p.futex_woken {
        p.futex_woken = false;
        p.sleep_deadline = None;
        return Ok(0);
    }
    let now = timer::uptime_ns();
    if let Some(d) = p.sleep_deadline {
        if now >= d {
            p.sleep_deadline = None;
            return Err(errno::ETIMEDOUT);
        }
    }
    let k = key(p, uaddr, private)?;
    let word: u32 = p.read_pod(uaddr)?;
    if word != val {
        p.sleep_deadline = None;
        return Err(errno::EAGAIN);
    }
    if p.sleep_deadline.is_none() && timeout != 0 {
        let ts: abi::Timespec = p.read_pod(timeout)?;
        let ns = ts.as_nanos().ok_or(errno::EINVAL)?;
        let deadline = if absolute {
            // The clocks' offset turns a real-time deadline into one on the uptime clock.
            let base = if op & FUTEX_CLOCK_REALTIME != 0 {
                timer::realtime_ns().saturating_sub(now)
            } else {
                0
            };
            ns.saturating_sub(base)
        } else {
            now.saturating_add(ns)
        };
        if deadline <= now {
            return Err(errno::ETIMEDOUT);
        }
        p.sleep_deadline = Some(deadline);
    }
    p.wait = Some(WaitFor::Futex(k, bitset, p.sleep_deadline));
    Err(errno::EWOULDBLOCK_RESTART)
}
