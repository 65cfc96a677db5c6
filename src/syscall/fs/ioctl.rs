//! ioctl: the generic requests, then the terminal's (`tty_ioctl`) and the pipe's.
use super::*;

pub use crate::syscall::abi::{TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGWINSZ, TIOCSWINSZ};
pub const FIONBIO: u32 = 0x5421;
pub const FIONCLEX: u32 = 0x5450;
pub const FIOCLEX: u32 = 0x5451;

/// `FIONREAD`: bytes available to read (answered by pipes).
pub const FIONREAD: u32 = 0x541b;

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
        FileKind::PipeRead(p) if cmd == FIONREAD => {
            ctx.mem.write_pod(arg, &(p.len() as i32))?;
            return Ok(0);
        }
        FileKind::PipeWrite(p) if cmd == FIONREAD => {
            ctx.mem.write_pod(arg, &(p.len() as i32))?;
            return Ok(0);
        }
        _ => return Err(errno::ENOTTY),
    }
    let tty = &mut ctx.files.tty;
    match cmd {
        TCGETS => ctx.mem.write_pod(arg, &tty.termios)?,
        TCSETS | TCSETSW | TCSETSF => tty.termios = ctx.mem.read_pod::<Termios>(arg)?,
        TIOCGWINSZ => ctx.mem.write_pod(arg, &tty.winsize)?,
        TIOCSWINSZ => tty.winsize = ctx.mem.read_pod::<Winsize>(arg)?,
        _ => return Err(errno::ENOTTY),
    }
    Ok(0)
}
