//! futex(2): WAIT, WAKE, their BITSET forms, REQUEUE, CMP_REQUEUE, WAKE_OP and the
//! priority-inheritance locks LOCK_PI, LOCK_PI2, TRYLOCK_PI and UNLOCK_PI (`kernel/futex/`):
//! the locks, condition variables and joins of glibc's and musl's threads, and LTP's checkpoints
//! between processes. A futex is named as `get_futex_key` names it: by the address space and
//! the address when `FUTEX_PRIVATE_FLAG` says only this process uses it or when the word lies in
//! private memory (so that a waiter and a waker disagreeing on the flag still meet, as
//! `CLONE_CHILD_CLEARTID`'s wake and musl's private join do), and by the physical address of the
//! word in a shared mapping (every process mapping the page finds the same one; tmpfs and shmem
//! pages never move). Waiting follows the kernel's one way to block: the waiter is parked with its key, and a
//! wake marks it woken, so that its re-run call returns 0 whatever the word holds by then.
use super::*;
use crate::task::futex::{
    key, FUTEX_BITSET_MATCH_ANY, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS,
};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_LOCK_PI: u32 = 6;
const FUTEX_UNLOCK_PI: u32 = 7;
const FUTEX_TRYLOCK_PI: u32 = 8;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_LOCK_PI2: u32 = 13;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// futex(2).
pub(super) fn futex(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (uaddr, op, val) = (a[0] as usize, a[1] as u32, a[2] as u32);
    let (timeout, val3) = (a[3] as usize, a[5] as u32);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_LOCK_PI2 {
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
        // `val2` travels in the timeout's register.
        FUTEX_WAKE_OP => wake_op(p, uaddr, a[4] as usize, val, timeout as u32, val3, private),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            lock_pi(p, uaddr, timeout, cmd, op, private)
        }
        FUTEX_UNLOCK_PI => unlock_pi(p, uaddr, private),
        _ => Err(errno::ENOSYS),
    }
}

/// What a signal does to a futex call that waits: a PI lock is taken again after the handler
/// whatever its flags (Linux's `-ERESTARTNOINTR`); `None` for the other operations.
pub(super) fn interrupted_errno(call: &SyscallArgs) -> Option<Errno> {
    let cmd = call.args[1] as u32 & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    (call.nr == SYS_futex && matches!(cmd, FUTEX_LOCK_PI | FUTEX_LOCK_PI2))
        .then_some(errno::ERESTARTNOINTR)
}

/// `futex_wake_op`: changes the word at `uaddr2` by the operation `encoded` names, wakes up to
/// `nr_wake` sleepers on `uaddr`, and up to `nr_wake2` on `uaddr2` if the word's old value
/// passes the comparison; returns how many were woken. `encoded` is
/// `op << 28 | cmp << 24 | oparg << 12 | cmparg`, both arguments 12-bit signed, `op` with
/// `FUTEX_OP_OPARG_SHIFT` (8) meaning `1 << oparg`.
fn wake_op(
    p: &mut Process,
    uaddr: usize,
    uaddr2: usize,
    nr_wake: u32,
    nr_wake2: u32,
    encoded: u32,
    private: bool,
) -> SysResult {
    let sext12 = |v: u32| ((v << 20) as i32 >> 20) as u32;
    let (mut op, cmp) = ((encoded >> 28) & 0xf, (encoded >> 24) & 0xf);
    let (mut oparg, cmparg) = (sext12((encoded >> 12) & 0xfff), sext12(encoded & 0xfff));
    if op & 8 != 0 {
        // Linux 6.1 masks a shift out of range (with a warning) rather than refusing it.
        oparg = 1 << (oparg & 31);
        op &= 7;
    }
    let apply = |old: u32| match op {
        0 => Some(oparg),
        1 => Some(old.wrapping_add(oparg)),
        2 => Some(old | oparg),
        3 => Some(old & !oparg),
        4 => Some(old ^ oparg),
        _ => None,
    };
    let test = |old: u32| match cmp {
        0 => Some(old == cmparg),
        1 => Some(old != cmparg),
        2 => Some((old as i32) < cmparg as i32),
        3 => Some((old as i32) <= cmparg as i32),
        4 => Some((old as i32) > cmparg as i32),
        5 => Some((old as i32) >= cmparg as i32),
        _ => None,
    };
    if apply(0).is_none() || test(0).is_none() {
        return Err(errno::ENOSYS);
    }
    let k1 = key(p, uaddr, private)?;
    let k2 = key(p, uaddr2, private)?;
    let old = p.update_user_word(uaddr2, apply)?;
    let mut tasks = TASKS.lock();
    let mut woken = tasks.futex_wake(k1, FUTEX_BITSET_MATCH_ANY, nr_wake as usize);
    if test(old) == Some(true) {
        woken += tasks.futex_wake(k2, FUTEX_BITSET_MATCH_ANY, nr_wake2 as usize);
    }
    Ok(woken)
}

/// `futex_lock_pi`: takes the PI lock at `uaddr` for the caller, whose tid the word then holds:
/// at once when no one holds it (keeping `FUTEX_OWNER_DIED`, which tells the locker the last
/// owner died), else (unless TRYLOCK_PI, `EAGAIN`) the caller marks it `FUTEX_WAITERS` and
/// sleeps until an unlock hands it the lock, or the absolute `timeout` passes (`ETIMEDOUT`; on
/// the real-time clock for LOCK_PI, on the monotonic one for LOCK_PI2 unless
/// `FUTEX_CLOCK_REALTIME`). `EDEADLK` when the caller holds it already, `ESRCH` when the word
/// names no thread. tidemark schedules without priorities, so there is no priority to lend the
/// owner: the lock is handed over in the order of the wait queue.
fn lock_pi(
    p: &mut Process,
    uaddr: usize,
    timeout: usize,
    cmd: u32,
    op: u32,
    private: bool,
) -> SysResult {
    let handed = core::mem::take(&mut p.futex_woken);
    let tid = p.pid as u32;
    let k = key(p, uaddr, private)?;
    let word: u32 = p.read_pod(uaddr)?;
    let owner = word & FUTEX_TID_MASK;
    if owner == tid {
        p.sleep_deadline = None;
        return if handed { Ok(0) } else { Err(errno::EDEADLK) };
    }
    if owner != 0 && TASKS.lock().get(owner as i32).is_none() {
        return Err(errno::ESRCH);
    }
    let others = !TASKS.lock().futex_waiters(k).is_empty();
    let trylock = cmd == FUTEX_TRYLOCK_PI;
    let mut taken = false;
    p.update_user_word(uaddr, |w| {
        taken = w & FUTEX_TID_MASK == 0;
        if taken {
            let waiters = if others { FUTEX_WAITERS } else { 0 };
            Some((w & FUTEX_OWNER_DIED) | tid | waiters)
        } else if trylock || w & FUTEX_TID_MASK == tid {
            None
        } else {
            Some(w | FUTEX_WAITERS)
        }
    })?;
    if taken {
        p.sleep_deadline = None;
        return Ok(0);
    }
    if trylock {
        return Err(errno::EAGAIN);
    }
    timed_out(p)?;
    let realtime = cmd == FUTEX_LOCK_PI || op & FUTEX_CLOCK_REALTIME != 0;
    arm_deadline(p, timeout, true, realtime)?;
    sleep(p, k, FUTEX_BITSET_MATCH_ANY)
}

/// `futex_unlock_pi`: the caller lets go of the PI lock at `uaddr` (`EPERM` unless the word
/// holds its tid). With sleepers, the first one is handed the lock and woken: the word gets its
/// tid with `FUTEX_WAITERS`, as Linux's `wake_futex_pi` leaves it, so that its unlock comes to
/// the kernel too; without, the word goes to 0.
fn unlock_pi(p: &mut Process, uaddr: usize, private: bool) -> SysResult {
    let tid = p.pid as u32;
    let k = key(p, uaddr, private)?;
    let word: u32 = p.read_pod(uaddr)?;
    if word & FUTEX_TID_MASK != tid {
        return Err(errno::EPERM);
    }
    // Sleepers change only under the kernel lock, which this call holds throughout.
    let waiters = TASKS.lock().futex_waiters(k);
    let next = waiters
        .first()
        .map_or(0, |&first| first as u32 | FUTEX_WAITERS);
    let mut mine = false;
    p.update_user_word(uaddr, |w| {
        mine = w & FUTEX_TID_MASK == tid;
        mine.then_some(next)
    })?;
    if !mine {
        return Err(errno::EPERM);
    }
    if let Some(&first) = waiters.first() {
        TASKS.lock().futex_wake_task(k, first);
    }
    Ok(0)
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
    timed_out(p)?;
    let k = key(p, uaddr, private)?;
    let word: u32 = p.read_pod(uaddr)?;
    if word != val {
        p.sleep_deadline = None;
        return Err(errno::EAGAIN);
    }
    arm_deadline(p, timeout, absolute, op & FUTEX_CLOCK_REALTIME != 0)?;
    sleep(p, k, bitset)
}

/// `ETIMEDOUT` for a re-run of a waiting call whose deadline has passed (the deadline is then
/// forgotten).
fn timed_out(p: &mut Process) -> Result<(), Errno> {
    match p.sleep_deadline {
        Some(d) if timer::uptime_ns() >= d => {
            p.sleep_deadline = None;
            Err(errno::ETIMEDOUT)
        }
        _ => Ok(()),
    }
}

/// Records the deadline of the `timespec` at `timeout` (none when 0) on the uptime clock, for
/// the call's first run: `absolute` on the real-time clock when `realtime`, on the monotonic one
/// otherwise, or relative to now; `ETIMEDOUT` when it has passed already. A re-run keeps the
/// deadline its first run recorded.
fn arm_deadline(
    p: &mut Process,
    timeout: usize,
    absolute: bool,
    realtime: bool,
) -> Result<(), Errno> {
    if p.sleep_deadline.is_some() || timeout == 0 {
        return Ok(());
    }
    let ts: abi::Timespec = p.read_pod(timeout)?;
    let ns = ts.as_nanos().ok_or(errno::EINVAL)?;
    let now = timer::uptime_ns();
    let deadline = if !absolute {
        now.saturating_add(ns)
    } else if realtime {
        // The clocks' offset turns a real-time deadline into one on the uptime clock.
        ns.saturating_sub(timer::realtime_ns().saturating_sub(now))
    } else {
        ns
    };
    if deadline <= now {
        return Err(errno::ETIMEDOUT);
    }
    p.sleep_deadline = Some(deadline);
    Ok(())
}

/// Parks the caller on futex `k` for `bitset`'s wakes, until its deadline if it has one.
fn sleep(p: &mut Process, k: crate::task::futex::FutexKey, bitset: u32) -> SysResult {
    p.wait = Some(WaitFor::Futex(k, bitset, p.sleep_deadline));
    Err(errno::EWOULDBLOCK_RESTART)
}
