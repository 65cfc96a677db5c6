//! pipe2: a pipe's two ends in the descriptor table.
use super::*;

/// `pipe2(2)` (`do_pipe2`): `EINVAL` for flags other than `O_CLOEXEC` and `O_NONBLOCK`
/// (packet mode, `O_DIRECT`, and notification pipes are not supported), `EMFILE` without two
/// free descriptors, then the two descriptors (read end first, both the lowest free) are
/// stored as `int fds[2]`; if that faults, both are closed again and the call is `EFAULT`.
/// The ends' status flags are `O_RDONLY`/`O_WRONLY` plus `O_NONBLOCK` if asked (no
/// `O_LARGEFILE`, as Linux's `create_pipe_files`).
pub fn sys_pipe2(ctx: &mut FsCtx<'_>, fds: u64, flags: u64) -> SysResult {
    let flags = int(flags) as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(errno::EINVAL);
    }
    let status = flags & O_NONBLOCK;
    let cloexec = flags & O_CLOEXEC != 0;
    let (r, w) = Pipe::new();
    let read = OpenFile {
        kind: FileKind::PipeRead(r),
        flags: O_RDONLY | status,
    };
    let write = OpenFile {
        kind: FileKind::PipeWrite(w),
        flags: O_WRONLY | status,
    };
    let rfd = ctx.files.alloc(read, cloexec)?;
    let wfd = match ctx.files.alloc(write, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            drop(ctx.files.close(rfd));
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = ctx.mem.copy_to_user(fds as usize, &out) {
        drop(ctx.files.close(wfd));
        drop(ctx.files.close(rfd));
        return Err(e);
    }
    Ok(0)
}
