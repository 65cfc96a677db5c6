//! ioctl: the generic requests, then the terminal's (`tty_ioctl`) and the pipe's.
use super::*;

pub use crate::syscall::abi::{TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGWINSZ, TIOCSWINSZ};
use crate::task::signal::SIGTTOU;
pub const FIONBIO: u32 = 0x5421;
pub const FIONCLEX: u32 = 0x5450;
pub const FIOCLEX: u32 = 0x5451;

/// `FIONREAD`: bytes available to read (answered by pipes and the terminal).
pub const FIONREAD: u32 = 0x541b;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540a;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCNOTTY: u32 = 0x5422;
pub const TIOCGSID: u32 = 0x5429;

/// `ioctl(2)` (`do_vfs_ioctl`, then the file's `unlocked_ioctl`). Generic requests first on any
/// descriptor: `FIOCLEX`/`FIONCLEX` set and clear close-on-exec, `FIONBIO` reads an `int` and
/// sets `O_NONBLOCK`. Then the console answers as `tty_ioctl` does: `TCGETS` (the current
/// termios, initially [`Termios::linux_default`]), `TCSETS`/`TCSETSW`/`TCSETSF` (store it),
/// `TIOCGWINSZ` (24×80 unless set) and `TIOCSWINSZ`; anything else is `ENOTTY`, and every
/// non-terminal answers `ENOTTY` (no `unlocked_ioctl`), which is what `isatty` tests for,
/// except that pipes answer `FIONREAD` (`pipe_ioctl`: the bytes waiting, as an `int`).
pub fn sys_ioctl(ctx: &mut FsCtx<'_>, fd: u64, req: u64, arg: u64) -> SysResult {
    let cmd = req as u32;
    let arg = arg as usize;
    let entry = ctx.files.get_mut(ufd(fd))?;
    let file = entry.file.clone();
    match cmd {
        FIOCLEX => {
            entry.cloexec = true;
            return Ok(0);
        }
        FIONCLEX => {
            entry.cloexec = false;
            return Ok(0);
        }
        FIONBIO => {
            let mut v = [0u8; 4];
            ctx.mem.copy_from_user(arg, &mut v)?;
            let mut f = file.lock();
            if i32::from_le_bytes(v) != 0 {
                f.flags |= O_NONBLOCK;
            } else {
                f.flags &= !O_NONBLOCK;
            }
            return Ok(0);
        }
        _ => {}
    }
    match &file.lock().kind {
        FileKind::Console => {}
        k if cmd == FIONREAD && k.pipe().is_some() => {
            let p = k.pipe().expect("a pipe");
            ctx.mem.write_pod(arg, &(p.len() as i32))?;
            return Ok(0);
        }
        _ => return Err(errno::ENOTTY),
    }
    tty_ioctl(ctx, cmd, arg)
}

/// `tty_ioctl` and `n_tty_ioctl` on the console: attributes, window size, the job-control
/// requests, and input queries.
fn tty_ioctl(ctx: &mut FsCtx<'_>, cmd: u32, arg: usize) -> SysResult {
    ctx.console.poll_input();
    let job = ctx.job;
    let sleeper = ctx.sleeper;
    let owns = |t: &crate::fs::tty::Tty| t.session != 0 && t.session == job.sid;
    match cmd {
        TCGETS => {
            let t = ctx.console.tty().lock().termios;
            ctx.mem.write_pod(arg, &t)?;
        }
        TCSETS | TCSETSW | TCSETSF => {
            let t = ctx.mem.read_pod::<Termios>(arg)?;
            let mut tty = ctx.console.tty().lock();
            // A background job may not change the terminal's settings (`tty_check_change`).
            tty.job_check(job.sid, job.pgid, SIGTTOU, || background(sleeper, SIGTTOU))?;
            if cmd == TCSETSF {
                tty.flush_input();
            }
            tty.set_termios(t);
        }
        TIOCGWINSZ => {
            let w = ctx.console.tty().lock().winsize;
            ctx.mem.write_pod(arg, &w)?;
        }
        TIOCSWINSZ => {
            let w = ctx.mem.read_pod::<Winsize>(arg)?;
            ctx.console.tty().lock().winsize = w;
        }
        FIONREAD => {
            let n = ctx.console.tty().lock().readable() as i32;
            ctx.mem.write_pod(arg, &n)?;
        }
        TIOCOUTQ => ctx.mem.write_pod(arg, &0i32)?,
        // tcdrain, tcflow: output leaves at once.
        TCSBRK | TCXONC => {}
        TCFLSH => {
            // TCIFLUSH 0, TCOFLUSH 1, TCIOFLUSH 2.
            match arg {
                0 | 2 => ctx.console.tty().lock().flush_input(),
                1 => {}
                _ => return Err(errno::EINVAL),
            }
        }
        TIOCSCTTY => {
            // `tiocsctty`: a session leader without a terminal takes it; one that another
            // session holds only root may steal, with `arg` 1.
            let mut tty = ctx.console.tty().lock();
            if owns(&tty) {
                return Ok(0);
            }
            if job.sid != job.pid {
                return Err(errno::EPERM);
            }
            if tty.session != 0 && !(arg == 1 && ctx.cred.privileged()) {
                return Err(errno::EPERM);
            }
            tty.session = job.sid;
            tty.fg_pgrp = job.pgid;
        }
        TIOCNOTTY => {
            let mut tty = ctx.console.tty().lock();
            if !owns(&tty) {
                return Err(errno::ENOTTY);
            }
            if job.sid == job.pid {
                tty.session = 0;
                tty.fg_pgrp = 0;
            }
        }
        TIOCGPGRP => {
            let tty = ctx.console.tty().lock();
            if !owns(&tty) {
                return Err(errno::ENOTTY);
            }
            let pg = tty.fg_pgrp;
            drop(tty);
            ctx.mem.write_pod(arg, &pg)?;
        }
        TIOCSPGRP => {
            let pg: i32 = ctx.mem.read_pod(arg)?;
            let mut tty = ctx.console.tty().lock();
            if !owns(&tty) {
                return Err(errno::ENOTTY);
            }
            tty.job_check(job.sid, job.pgid, SIGTTOU, || background(sleeper, SIGTTOU))?;
            if pg < 0 {
                return Err(errno::EINVAL);
            }
            tty.fg_pgrp = pg;
        }
        TIOCGSID => {
            let tty = ctx.console.tty().lock();
            if !owns(&tty) {
                return Err(errno::ENOTTY);
            }
            let sid = tty.session;
            drop(tty);
            ctx.mem.write_pod(arg, &sid)?;
        }
        _ => return Err(errno::ENOTTY),
    }
    Ok(0)
}
