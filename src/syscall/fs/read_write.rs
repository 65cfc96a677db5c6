//! read, write, readv, writev and lseek: the transfer of bytes between user buffers (one, or
//! an iovec) and pipes, the console or /proc files, in Linux's `vfs_read`/`vfs_write` order.
use super::*;

/// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`): one read or write transfers at most this much;
/// larger counts are silently clamped (`rw_verify_area`, `import_iovec`).
pub const MAX_RW_COUNT: usize = (i32::MAX as usize) & !(USER_CHUNK - 1);

/// `lseek` whence values; `SEEK_MAX` is `SEEK_HOLE`.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

/// Walks the user buffer made of `segs` (an iovec), starting `off` bytes into it, for `total`
/// bytes, page by page: `copy(user address, range of the kernel buffer)` moves one piece and says
/// whether it worked. Returns how many bytes moved before the first fault.
pub(super) fn walk_segs(
    segs: &[(usize, usize)],
    off: usize,
    total: usize,
    mut copy: impl FnMut(usize, core::ops::Range<usize>) -> bool,
) -> usize {
    let mut done = 0;
    let mut skip = off;
    for &(base, len) in segs {
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = (len - skip).min(total - done);
        for (a, o, m) in user_chunks(base + skip, n) {
            if !copy(a, done + o..done + o + m) {
                return done + o;
            }
        }
        done += n;
        skip = 0;
        if done == total {
            break;
        }
    }
    done
}

/// Stores `src` into the user segments `segs` from `off` on; bytes stored before the first fault.
pub(super) fn copy_out_segs(
    mem: &mut dyn UserMem,
    segs: &[(usize, usize)],
    off: usize,
    src: &[u8],
) -> usize {
    walk_segs(segs, off, src.len(), |a, r| {
        mem.copy_to_user(a, &src[r]).is_ok()
    })
}

/// Loads `dst` from the user segments `segs` from `off` on; bytes loaded before the first fault.
pub(super) fn copy_in_segs(
    mem: &mut dyn UserMem,
    segs: &[(usize, usize)],
    off: usize,
    dst: &mut [u8],
) -> usize {
    walk_segs(segs, off, dst.len(), |a, r| {
        mem.copy_from_user(a, &mut dst[r]).is_ok()
    })
}

/// `pipe_read` into the user segments `segs` (one for `read`, the vector for `readv`).
pub(super) fn read_pipe(
    pipe: &Pipe,
    nonblock: bool,
    mem: &mut dyn UserMem,
    segs: &[(usize, usize)],
) -> SysResult {
    let total = segs.iter().map(|s| s.1).sum();
    pipe.read_with(total, nonblock, &mut |off, src| {
        copy_out_segs(mem, segs, off, src)
    })
}

/// `pipe_write` from the user segments `segs`: one write, so a vector of at most `PIPE_BUF`
/// bytes in total is atomic as on Linux.
pub(super) fn write_pipe(
    pipe: &Pipe,
    nonblock: bool,
    mem: &mut dyn UserMem,
    segs: &[(usize, usize)],
) -> SysResult {
    let total = segs.iter().map(|s| s.1).sum();
    pipe.write_with(total, nonblock, &mut |off, dst| {
        copy_in_segs(mem, segs, off, dst)
    })
}

/// Reads from `file` into user `[buf, buf + count)`: the `f_op->read` step of `vfs_read`,
/// after the checks. Copies page by page so a buffer that turns bad part-way returns the bytes
/// that landed (Linux's short-copy rule); `EFAULT` only when none did.
pub(super) fn read_file(
    file: &mut OpenFile,
    mem: &mut dyn UserMem,
    console: &dyn Console,
    buf: usize,
    count: usize,
) -> SysResult {
    let mut done = 0;
    let nonblock = file.nonblock();
    match &mut file.kind {
        FileKind::Console => {
            // `n_tty_read` without blocking: whatever input is pending, 0 (EOF) if none.
            let mut tmp = [0u8; USER_CHUNK];
            for (a, _, n) in user_chunks(buf, count) {
                let got = console.read(&mut tmp[..n]);
                if got == 0 {
                    break;
                }
                if mem.copy_to_user(a, &tmp[..got]).is_err() {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(errno::EFAULT)
                    };
                }
                done += got;
                if got < n {
                    break;
                }
            }
        }
        FileKind::Snapshot { data, pos, .. } => {
            // `seq_read_iter`: from the file position to the end of the text.
            let start = usize::try_from(*pos).unwrap_or(usize::MAX).min(data.len());
            let avail = &data[start..];
            let want = count.min(avail.len());
            for (a, off, n) in user_chunks(buf, want) {
                if mem.copy_to_user(a, &avail[off..off + n]).is_err() {
                    break;
                }
                done += n;
            }
            if done == 0 && want > 0 {
                return Err(errno::EFAULT);
            }
            *pos += done as u64;
        }
        // `generic_read_dir`.
        FileKind::Dir { .. } => return Err(errno::EISDIR),
        FileKind::PipeRead(p) => return read_pipe(p, nonblock, mem, &[(buf, count)]),
        // Opened write-only: `vfs_read` refuses it before getting here.
        FileKind::PipeWrite(_) => return Err(errno::EBADF),
    }
    Ok(done)
}

/// Writes user `[buf, buf + count)` to `file`: the `f_op->write` step of `vfs_write`. For the
/// console this is `file_tty_write`: chunk by chunk, stopping at the first chunk that cannot be
/// copied and returning what was written before it, `EFAULT` if nothing was.
pub(super) fn write_file(
    file: &OpenFile,
    mem: &mut dyn UserMem,
    console: &dyn Console,
    buf: usize,
    count: usize,
) -> SysResult {
    match &file.kind {
        FileKind::Console => {
            let mut tmp = [0u8; USER_CHUNK];
            let mut done = 0;
            for (a, _, n) in user_chunks(buf, count) {
                if mem.copy_from_user(a, &mut tmp[..n]).is_err() {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(errno::EFAULT)
                    };
                }
                console.write(&tmp[..n]);
                done += n;
            }
            Ok(done)
        }
        // No `write` method: `vfs_write` refuses with `EINVAL` (`FMODE_CAN_WRITE` unset). Not
        // reachable through `openat`, which never opens these for writing.
        FileKind::Snapshot { .. } | FileKind::Dir { .. } => Err(errno::EINVAL),
        FileKind::PipeWrite(p) => write_pipe(p, file.nonblock(), mem, &[(buf, count)]),
        // Opened read-only: `vfs_write` refuses it before getting here.
        FileKind::PipeRead(_) => Err(errno::EBADF),
    }
}

/// `read(2)` (`ksys_read` → `vfs_read`): `EBADF` for a descriptor that is not open or not open
/// for reading, `EFAULT` for a buffer outside user space (even with count 0), `EISDIR` for a
/// directory; counts above [`MAX_RW_COUNT`] are clamped. Console input at its end reads 0 bytes.
pub fn sys_read(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64) -> SysResult {
    let (buf, count) = (buf as usize, count as usize);
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.readable() {
        return Err(errno::EBADF);
    }
    if !access_ok(buf, count) {
        return Err(errno::EFAULT);
    }
    read_file(
        &mut file,
        ctx.mem,
        ctx.console,
        buf,
        count.min(MAX_RW_COUNT),
    )
}

/// `write(2)` (`ksys_write` → `vfs_write`): `EBADF` unless open for writing, `EFAULT` for a
/// buffer outside user space, partial count if the buffer goes bad part-way.
pub fn sys_write(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64) -> SysResult {
    let (buf, count) = (buf as usize, count as usize);
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if !file.writable() {
        return Err(errno::EBADF);
    }
    if !access_ok(buf, count) {
        return Err(errno::EFAULT);
    }
    write_file(&file, ctx.mem, ctx.console, buf, count.min(MAX_RW_COUNT))
}

/// `import_iovec`: reads and validates the vector, returning `(base, len)` segments with the
/// total clamped to [`MAX_RW_COUNT`]. `nr` is already `unsigned int` (Linux narrows `vlen`
/// there, so `1 << 32` elements is 0). More than `UIO_MAXIOV` → `EINVAL`; an unreadable vector
/// or a segment outside user space → `EFAULT` before anything is transferred; a negative length
/// → `EINVAL`, except that a single segment goes through `import_ubuf`, which clamps instead.
pub(super) fn import_iovec(
    mem: &mut dyn UserMem,
    iov: usize,
    nr: u32,
) -> Result<Vec<(usize, usize)>, Errno> {
    let nr = nr as usize;
    if nr == 0 {
        return Ok(Vec::new());
    }
    if nr == 1 {
        let v: Iovec = mem.read_pod(iov)?;
        let len = (v.iov_len as usize).min(MAX_RW_COUNT);
        if !access_ok(v.iov_base as usize, len) {
            return Err(errno::EFAULT);
        }
        return Ok(vec![(v.iov_base as usize, len)]);
    }
    if nr > UIO_MAXIOV {
        return Err(errno::EINVAL);
    }
    let mut raw = vec![0u8; nr * core::mem::size_of::<Iovec>()];
    if !access_ok(iov, raw.len()) {
        return Err(errno::EFAULT);
    }
    mem.copy_from_user(iov, &mut raw)?;
    let vecs: Vec<Iovec> = raw
        .chunks_exact(core::mem::size_of::<Iovec>())
        .filter_map(Iovec::from_bytes)
        .collect();
    if vecs.iter().any(|v| (v.iov_len as i64) < 0) {
        return Err(errno::EINVAL);
    }
    let mut total = 0usize;
    let mut segs = Vec::with_capacity(nr);
    for v in vecs {
        let len = v.iov_len as usize;
        if !access_ok(v.iov_base as usize, len) {
            return Err(errno::EFAULT);
        }
        let len = len.min(MAX_RW_COUNT - total);
        total += len;
        segs.push((v.iov_base as usize, len));
    }
    Ok(segs)
}

/// `writev(2)` (`do_writev` → `vfs_writev`): descriptor checks first, then the vector
/// (`import_iovec`), then the segments in order as one write: if a segment's memory turns out
/// unmapped, the bytes already written are returned, `EFAULT` only if there were none.
pub fn sys_writev(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if !file.writable() {
        return Err(errno::EBADF);
    }
    let segs = import_iovec(ctx.mem, iov as usize, iovcnt as u32)?;
    if let FileKind::PipeWrite(p) = &file.kind {
        return write_pipe(p, file.nonblock(), ctx.mem, &segs);
    }
    let mut done = 0;
    for (base, len) in segs {
        if len == 0 {
            continue;
        }
        match write_file(&file, ctx.mem, ctx.console, base, len) {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
        }
    }
    Ok(done)
}

/// `readv(2)` (`do_readv` → `vfs_readv`): like [`sys_writev`] in the other direction; stops at
/// the first segment that is not filled (end of file, or no more console input).
pub fn sys_readv(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.readable() {
        return Err(errno::EBADF);
    }
    let segs = import_iovec(ctx.mem, iov as usize, iovcnt as u32)?;
    if matches!(file.kind, FileKind::Dir { .. }) && segs.iter().any(|s| s.1 > 0) {
        return Err(errno::EISDIR);
    }
    if let FileKind::PipeRead(p) = &file.kind {
        return read_pipe(p, file.nonblock(), ctx.mem, &segs);
    }
    let mut done = 0;
    for (base, len) in segs {
        if len == 0 {
            continue;
        }
        match read_file(&mut file, ctx.mem, ctx.console, base, len) {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
        }
    }
    Ok(done)
}

/// `lseek(2)` (`ksys_lseek`): `EBADF`, then `EINVAL` for `whence` above `SEEK_HOLE`, then the
/// file's own `llseek`: the console is a terminal (`no_llseek`: `ESPIPE`); /proc files use
/// `seq_lseek`, which knows only `SEEK_SET` and `SEEK_CUR` (`SEEK_END` is `EINVAL` on Linux
/// too, since a seq_file has no size) and allows positions past the end (reads there return 0);
/// directories use `generic_file_llseek` with size 0. A negative or overflowing result is
/// `EINVAL`.
pub fn sys_lseek(ctx: &mut FsCtx<'_>, fd: u64, offset: u64, whence: u64) -> SysResult {
    let offset = offset as i64;
    let whence = whence as u32;
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if whence > SEEK_HOLE {
        return Err(errno::EINVAL);
    }
    let (pos, end_ok) = match &mut file.kind {
        FileKind::Console | FileKind::PipeRead(_) | FileKind::PipeWrite(_) => {
            return Err(errno::ESPIPE)
        }
        FileKind::Snapshot { pos, .. } => (pos, false),
        FileKind::Dir { pos, .. } => (pos, true),
    };
    let new = match whence {
        SEEK_SET => Some(offset),
        SEEK_CUR => (*pos as i64).checked_add(offset),
        SEEK_END if end_ok => Some(offset),
        SEEK_DATA | SEEK_HOLE if end_ok => return Err(errno::ENXIO),
        _ => return Err(errno::EINVAL),
    };
    match new {
        Some(n) if n >= 0 => {
            *pos = n as u64;
            Ok(n as usize)
        }
        _ => Err(errno::EINVAL),
    }
}
