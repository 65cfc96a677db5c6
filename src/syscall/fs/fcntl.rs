//! Descriptor operations: dup, dup3 and fcntl.
use super::*;

/// `fcntl` commands (`include/uapi/asm-generic/fcntl.h`, `include/uapi/linux/fcntl.h`).
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const F_SETPIPE_SZ: u32 = 1031;
pub const F_GETPIPE_SZ: u32 = 1032;
pub const F_ADD_SEALS: u32 = 1033;
pub const F_GET_SEALS: u32 = 1034;
/// The one descriptor flag.
pub const FD_CLOEXEC: u32 = 1;

/// `dup(2)`: the lowest free descriptor, sharing `fd`'s open file description (offset and
/// status flags), close-on-exec clear. `EBADF`, `EMFILE`.
pub fn sys_dup(ctx: &mut FsCtx<'_>, fd: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    Ok(ctx.files.alloc_ref(file, false, 0)? as usize)
}

/// `dup3(2)` (`ksys_dup3`), in Linux's order: `EINVAL` for flags other than `O_CLOEXEC`, then
/// for `oldfd == newfd`; `EBADF` for `newfd` at or above `RLIMIT_NOFILE`, then for `oldfd` not
/// open. Whatever was open at `newfd` is closed silently (its errors are lost, as on Linux).
pub fn sys_dup3(ctx: &mut FsCtx<'_>, oldfd: u64, newfd: u64, flags: u64) -> SysResult {
    let (old, new, flags) = (ufd(oldfd), ufd(newfd), int(flags) as u32);
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(errno::EINVAL);
    }
    if new as usize >= ctx.files.nofile() {
        return Err(errno::EBADF);
    }
    let file = ctx.files.get(old)?.file.clone();
    drop(ctx.files.install(new, file, flags & O_CLOEXEC != 0)?);
    Ok(new as usize)
}

/// `fcntl(2)` (`do_fcntl`): `EBADF` for a descriptor that is not open, then by command:
///
/// * `F_DUPFD`, `F_DUPFD_CLOEXEC`: the lowest free descriptor at or above `arg` (an `int`
///   reinterpreted as `unsigned`, so negative is huge): `EINVAL` if `arg` is at or above
///   `RLIMIT_NOFILE`, `EMFILE` if nothing is free below it.
/// * `F_GETFD` / `F_SETFD`: the close-on-exec flag as `FD_CLOEXEC`.
/// * `F_GETFL`: the description's access mode and status flags. `F_SETFL`: changes
///   `O_APPEND`, `O_NONBLOCK` and `O_NOATIME` and ignores the other bits, as Linux does;
///   `O_DIRECT` (no direct I/O or packet mode here) and `FASYNC` (no `SIGIO`) are `EINVAL`.
/// * `F_GETPIPE_SZ`: a pipe's capacity, `EBADF` for anything else.
/// * `F_ADD_SEALS`, `F_GET_SEALS` (`memfd_fcntl`): a tmpfs file's seals; `EINVAL` for anything
///   else. Adding needs the file open for writing (`EPERM`), known seals (`EINVAL`), no
///   `F_SEAL_SEAL` yet (`EPERM`), and for `F_SEAL_WRITE` no writable shared mapping (`EBUSY`).
/// * Every other command (locks, leases, owners, `F_SETPIPE_SZ`): `EINVAL`.
pub fn sys_fcntl(ctx: &mut FsCtx<'_>, fd: u64, cmd: u64, arg: u64) -> SysResult {
    let cmd = cmd as u32;
    let entry = ctx.files.get_mut(ufd(fd))?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let from = arg as u32;
            let file = entry.file.clone();
            if from as usize >= ctx.files.nofile() {
                return Err(errno::EINVAL);
            }
            Ok(ctx.files.alloc_ref(file, cmd == F_DUPFD_CLOEXEC, from)? as usize)
        }
        F_GETFD => Ok(if entry.cloexec {
            FD_CLOEXEC as usize
        } else {
            0
        }),
        F_SETFD => {
            entry.cloexec = arg as u32 & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => Ok(entry.file.lock().flags as usize),
        F_SETFL => {
            let arg = arg as u32;
            if arg & (O_DIRECT | FASYNC) != 0 {
                return Err(errno::EINVAL);
            }
            const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_NOATIME;
            let mut f = entry.file.lock();
            f.flags = (arg & SETFL_MASK) | (f.flags & !SETFL_MASK);
            Ok(0)
        }
        F_GETPIPE_SZ => match entry.file.lock().kind.pipe() {
            Some(_) => Ok(PIPE_SIZE),
            None => Err(errno::EBADF),
        },
        F_ADD_SEALS | F_GET_SEALS => {
            use crate::fs::inode::F_SEAL_SEAL;
            const F_ALL_SEALS: u32 = 31;
            let f = entry.file.lock();
            let FileKind::Regular { inode, .. } = &f.kind else {
                return Err(errno::EINVAL);
            };
            let mut i = inode.lock();
            if cmd == F_GET_SEALS {
                return Ok(i.seals as usize);
            }
            if !f.writable() {
                return Err(errno::EPERM);
            }
            let add = arg as u32;
            if add & !F_ALL_SEALS != 0 {
                return Err(errno::EINVAL);
            }
            if i.seals & F_SEAL_SEAL != 0 {
                return Err(errno::EPERM);
            }
            // `mapping_deny_writable`: no writable shared mapping may remain.
            use crate::fs::inode::F_SEAL_WRITE;
            if add & F_SEAL_WRITE != 0 && i.seals & F_SEAL_WRITE == 0 {
                drop(i);
                if crate::fs::inode::mapped_writable(inode) {
                    return Err(errno::EBUSY);
                }
                i = inode.lock();
            }
            i.seals |= add;
            Ok(0)
        }
        _ => Err(errno::EINVAL),
    }
}
