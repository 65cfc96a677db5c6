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
use crate::task::futex::{key, FUTEX_BITSET_MATCH_ANY};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

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
