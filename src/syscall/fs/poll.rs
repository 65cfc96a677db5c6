//! ppoll and pselect6: readiness of every descriptor, and the wait until one is ready, the
//! deadline passes, or a signal arrives.
use super::*;

/// `poll` event bits (`include/uapi/asm-generic/poll.h`).
pub const POLLIN: u16 = 0x1;
pub const POLLPRI: u16 = 0x2;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLNVAL: u16 = 0x20;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLWRNORM: u16 = 0x100;
/// `DEFAULT_POLLMASK`: what a file without a `poll` method reports (regular files, /proc).
pub const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
/// `sizeof(struct pollfd)`: `int fd; short events; short revents;`.
pub const POLLFD_SIZE: usize = 8;

/// `ppoll(2)` (`do_sys_poll`). In Linux's order: the timeout (`EFAULT`; `EINVAL` unless
/// `tv_nsec` is in range and `tv_sec >= 0`), the signal mask (`EINVAL` unless `sigsetsize` is
/// 8; `EFAULT`), `nfds` above `RLIMIT_NOFILE` (`EINVAL`), the array (`EFAULT`). Each entry gets
/// `revents`: 0 for a negative fd, `POLLNVAL` for one that is not open, otherwise the file's
/// mask ([`poll_mask`]) filtered by `events | POLLERR | POLLHUP`. Returns how many entries have
/// non-zero `revents`.
///
/// When none do and the timeout is not zero, the caller is parked through [`Sleeper::block`]
/// until the deadline, a change of some pipe among the descriptors, or a signal, and the call
/// runs again; only the (zero) `revents` are written back meanwhile. The deadline is computed once, on the first
/// run, so that restarts do not extend it. Once the call completes with a timeout given, the
/// remaining time is stored back as Linux's `poll_select_finish` does (zero after a timeout),
/// ignoring a fault there.
pub fn sys_ppoll(
    ctx: &mut FsCtx<'_>,
    fds: u64,
    nfds: u64,
    tmo: u64,
    sigmask: u64,
    sigsetsize: u64,
) -> SysResult {
    let nfds = nfds as u32 as usize;
    let now = ctx.sleeper.now_ns();
    let timeout = read_timeout(ctx, tmo)?;
    let mask = if sigmask != 0 {
        if sigsetsize != 8 {
            return Err(errno::EINVAL);
        }
        let mut m = [0u8; 8];
        ctx.mem.copy_from_user(sigmask as usize, &mut m)?;
        Some(u64::from_le_bytes(m))
    } else {
        None
    };
    if nfds > ctx.files.nofile() {
        return Err(errno::EINVAL);
    }
    let mut raw = vec![0u8; nfds * POLLFD_SIZE];
    if nfds > 0 {
        ctx.mem.copy_from_user(fds as usize, &mut raw)?;
    }
    let mut count = 0;
    let mut pipes = false;
    ctx.console.poll_input();
    let tty_in = ctx.console.tty().lock().poll_in();
    for p in raw.chunks_exact_mut(POLLFD_SIZE) {
        let fd = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let events = u16::from_le_bytes([p[4], p[5]]);
        let revents = if fd < 0 {
            0
        } else if let Ok((mask, changes)) = readiness(ctx, fd as u32, tty_in) {
            pipes |= changes;
            mask & (events | POLLERR | POLLHUP)
        } else {
            POLLNVAL
        };
        if revents != 0 {
            count += 1;
        }
        p[6..8].copy_from_slice(&revents.to_le_bytes());
    }
    let deadline = deadline_of(ctx, timeout, now);
    let timed_out = deadline.is_some_and(|d| now >= d);
    if count == 0 && !timed_out {
        // The zero revents go back first: a wait that a signal ends leaves them so, as Linux's
        // `do_sys_poll` writes them whatever ended the wait.
        if nfds > 0 {
            ctx.mem.copy_to_user(fds as usize, &raw)?;
        }
        if pipes {
            // Input typed later wakes the wait like a pipe's change.
            ctx.console.tty().lock().reader_waiting = true;
        }
        return Err(ctx.sleeper.block(deadline, pipes, mask));
    }
    finish_wait(ctx, deadline, now, tmo);
    if nfds > 0 {
        ctx.mem.copy_to_user(fds as usize, &raw)?;
    }
    Ok(count)
}

/// A wait's timeout argument, in nanoseconds: `None` for NULL; `EFAULT`, or `EINVAL` unless
/// `tv_nsec` is in range and `tv_sec >= 0`.
fn read_timeout(ctx: &mut FsCtx<'_>, ptr: u64) -> Result<Option<u64>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    let ts: Timespec = ctx.mem.read_pod(ptr as usize)?;
    Ok(Some(ts.as_nanos().ok_or(errno::EINVAL)?))
}

/// When a wait of `timeout` ends: computed on the first run and kept by the sleeper, so that
/// restarts do not extend it.
fn deadline_of(ctx: &FsCtx<'_>, timeout: Option<u64>, now: u64) -> Option<u64> {
    timeout.map(|ns| {
        ctx.sleeper
            .deadline()
            .unwrap_or_else(|| now.saturating_add(ns))
    })
}

/// `poll_select_finish`: the wait is over; with a timeout given, the time left is stored back
/// at `ptr` (zero after a timeout; a fault there is ignored).
fn finish_wait(ctx: &mut FsCtx<'_>, deadline: Option<u64>, now: u64, ptr: u64) {
    ctx.sleeper.finish();
    if let Some(d) = deadline {
        let left = d.saturating_sub(now);
        let ts = Timespec {
            tv_sec: (left / 1_000_000_000) as i64,
            tv_nsec: (left % 1_000_000_000) as i64,
        };
        let _ = ctx.mem.write_pod(ptr as usize, &ts);
    }
}

/// `select`'s readiness classes (`fs/select.c`): what counts as readable, writable and
/// exceptional.
const POLLIN_SET: u16 = POLLRDNORM | POLLIN | POLLHUP | POLLERR | 0x80; // | POLLRDBAND
const POLLOUT_SET: u16 = POLLWRNORM | POLLOUT | POLLERR | 0x200; // | POLLWRBAND
const POLLEX_SET: u16 = POLLPRI;

/// A file's readiness and whether its state can change under a waiter (pipes and the console
/// wake a wait; other files are always ready).
fn readiness(ctx: &FsCtx<'_>, fd: u32, tty_in: bool) -> Result<(u16, bool), Errno> {
    let entry = ctx.files.get(fd)?;
    let f = entry.file.lock();
    let mask = match f.kind {
        FileKind::Console => tty_mask(tty_in),
        _ => poll_mask(&f),
    };
    Ok((mask, f.kind == FileKind::Console || f.kind.pipe().is_some()))
}

/// `pselect6(2)` (`do_pselect`, `core_sys_select`). In Linux's order: the timeout (`EFAULT`;
/// `EINVAL` when malformed), the signal-mask argument (a `{ sigset_t *ss; size_t len }` pair:
/// `EFAULT`; `EINVAL` unless `len` is 8), `nfds` (`EINVAL` when negative, clamped to the
/// descriptor table's size), the three sets (`EFAULT`), then each descriptor in any set
/// (`EBADF` if one is not open). Returns the number of bits left set across the three sets,
/// which are written back (all clear after a timeout); the remaining time is stored back as
/// for [`sys_ppoll`]. Waiting is [`sys_ppoll`]'s.
pub fn sys_pselect6(ctx: &mut FsCtx<'_>, a: [u64; 6]) -> SysResult {
    let [nfds, inp, outp, exp, tsp, sig] = a;
    let now = ctx.sleeper.now_ns();
    let timeout = read_timeout(ctx, tsp)?;
    let mask = if sig != 0 {
        let ss: u64 = ctx.mem.read_pod(sig as usize)?;
        let len: u64 = ctx.mem.read_pod(sig as usize + 8)?;
        if ss != 0 {
            if len != 8 {
                return Err(errno::EINVAL);
            }
            Some(ctx.mem.read_pod::<u64>(ss as usize)?)
        } else {
            None
        }
    } else {
        None
    };
    let nfds = nfds as i32;
    if nfds < 0 {
        return Err(errno::EINVAL);
    }
    let n = (nfds as usize).min(ctx.files.max_fds());
    let words = n.div_ceil(64);
    let mut sets = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, ptr) in sets.iter_mut().zip([inp, outp, exp]) {
        if ptr != 0 {
            for (i, w) in set.iter_mut().enumerate() {
                *w = ctx.mem.read_pod(ptr as usize + 8 * i)?;
            }
            if !n.is_multiple_of(64) {
                set[words - 1] &= (1u64 << (n % 64)) - 1;
            }
        }
    }
    ctx.console.poll_input();
    let tty_in = ctx.console.tty().lock().poll_in();
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let (mut count, mut waitable) = (0, false);
    for fd in 0..n {
        let (w, bit) = (fd / 64, 1u64 << (fd % 64));
        if (sets[0][w] | sets[1][w] | sets[2][w]) & bit == 0 {
            continue;
        }
        let (ready, changes) = readiness(ctx, fd as u32, tty_in)?;
        waitable |= changes;
        for (k, class) in [POLLIN_SET, POLLOUT_SET, POLLEX_SET]
            .into_iter()
            .enumerate()
        {
            if sets[k][w] & bit != 0 && ready & class != 0 {
                out[k][w] |= bit;
                count += 1;
            }
        }
    }
    let deadline = deadline_of(ctx, timeout, now);
    let timed_out = deadline.is_some_and(|d| now >= d);
    if count == 0 && !timed_out {
        if waitable {
            ctx.console.tty().lock().reader_waiting = true;
        }
        return Err(ctx.sleeper.block(deadline, waitable, mask));
    }
    finish_wait(ctx, deadline, now, tsp);
    for (set, ptr) in out.iter().zip([inp, outp, exp]) {
        if ptr != 0 {
            for (i, w) in set.iter().enumerate() {
                ctx.mem.write_pod(ptr as usize + 8 * i, w)?;
            }
        }
    }
    Ok(count)
}

/// The terminal's `n_tty_poll`: always writable, readable when a read would not wait.
pub fn tty_mask(readable: bool) -> u16 {
    POLLOUT | POLLWRNORM | if readable { POLLIN | POLLRDNORM } else { 0 }
}

/// A file's `poll` answer before filtering by the requested events: [`DEFAULT_POLLMASK`] for
/// files without a `poll` method (regular files, /proc); [`tty_mask`] for the console;
/// `pipe_poll` for pipes:
/// a read end is `POLLIN | POLLRDNORM` with bytes waiting and `POLLHUP` once no writer
/// remains (an empty pipe without writers is `POLLHUP` alone, as on Linux); a write end is
/// `POLLOUT | POLLWRNORM` with at least `PIPE_BUF` bytes free and `POLLERR` once no reader
/// remains.
pub fn poll_mask(file: &OpenFile) -> u16 {
    if file.kind.pipe().is_none() {
        return DEFAULT_POLLMASK;
    }
    let mut mask = 0;
    if let Some(p) = file.kind.pipe_reader() {
        let (data, hup) = p.poll_read();
        mask |= (if data { POLLIN | POLLRDNORM } else { 0 }) | (if hup { POLLHUP } else { 0 });
    }
    if let Some(p) = file.kind.pipe_writer() {
        let (room, err) = p.poll_write();
        mask |= (if room { POLLOUT | POLLWRNORM } else { 0 }) | (if err { POLLERR } else { 0 });
    }
    mask
}
