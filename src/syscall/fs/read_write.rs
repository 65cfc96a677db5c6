//! read, write, readv, writev and lseek: the transfer of bytes between user buffers (one, or
//! an iovec) and pipes, the console or /proc files, in Linux's `vfs_read`/`vfs_write` order.
use super::*;
use crate::mm::uaccess::Bounce;

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

/// Moves `count` bytes from `fill` to user `[buf, buf + count)` page by page: `fill(offset,
/// chunk)` produces the next piece and says how much it produced (less ends the transfer). A
/// buffer that turns bad part-way returns the bytes that landed (Linux's short-copy rule);
/// `EFAULT` only when none did.
fn copy_out(
    mem: &mut dyn UserMem,
    buf: usize,
    count: usize,
    mut fill: impl FnMut(usize, &mut [u8]) -> usize,
) -> SysResult {
    let mut bounce = Bounce::new();
    let mut done = 0;
    for (a, off, n) in user_chunks(buf, count) {
        let tmp = bounce.chunk(n);
        let got = fill(off, tmp);
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
    Ok(done)
}

/// `shmem_file_read_iter`: from `pos`, up to the end of the file.
fn read_regular(
    inode: &Inode,
    mem: &mut dyn UserMem,
    buf: usize,
    count: usize,
    pos: u64,
) -> SysResult {
    copy_out(mem, buf, count, |off, chunk| match &inode.lock().data {
        crate::fs::inode::Data::File(f) => f.read_at(pos + off as u64, chunk),
        _ => 0,
    })
}

/// `generic_perform_write` on the tmpfs: chunk by chunk from user memory, then into the file's
/// pages, so that no inode lock is held while user memory is touched. Stops at the first chunk
/// that cannot be copied or stored, returning what was written (`EFAULT`, `ENOSPC` or `EFBIG`
/// when nothing was).
fn write_regular(
    inode: &Inode,
    mem: &mut dyn UserMem,
    buf: usize,
    count: usize,
    pos: u64,
    now: crate::fs::inode::Time,
) -> SysResult {
    use crate::fs::inode::{F_SEALS_NO_WRITE, F_SEAL_GROW};
    if inode.lock().seals & F_SEALS_NO_WRITE != 0 {
        return Err(errno::EPERM);
    }
    let mut bounce = Bounce::new();
    let mut done = 0;
    let mut err = None;
    for (a, off, n) in user_chunks(buf, count) {
        let tmp = bounce.chunk(n);
        if mem.copy_from_user(a, tmp).is_err() {
            err = Some(errno::EFAULT);
            break;
        }
        let mut i = inode.lock();
        let seals = i.seals;
        let crate::fs::inode::Data::File(f) = &mut i.data else {
            return Err(errno::EINVAL);
        };
        // `shmem_write_begin`, a file page at a time: a sealed size stops the write at the
        // first page whose part would end past the end of the file.
        let mut n = n;
        let at = pos + off as u64;
        if seals & F_SEAL_GROW != 0 && at + n as u64 > f.size {
            let boundary = f.size & !(crate::mm::addr::PAGE_SIZE as u64 - 1);
            if boundary <= at {
                err = Some(errno::EPERM);
                break;
            }
            n = (boundary - at) as usize;
        }
        match f.write_at(&inode.sb, pos + off as u64, &tmp[..n]) {
            Ok(m) => {
                done += m;
                if m < n {
                    break;
                }
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if done > 0 {
        let mut i = inode.lock();
        i.mtime = now;
        i.ctime = now;
        return Ok(done);
    }
    match err {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// `n_tty_read`: what the line discipline has (a line, in canonical mode), or a wait for
/// input: `EAGAIN` under `O_NONBLOCK`, else the caller sleeps until input arrives (the UART's
/// input moves the file layer's event count, as a pipe's does) or `VTIME` runs out.
fn read_tty(
    console: &dyn Console,
    sleeper: &dyn Sleeper,
    mem: &mut dyn UserMem,
    buf: usize,
    count: usize,
    nonblock: bool,
) -> SysResult {
    console.poll_input();
    let mut tmp = vec![0u8; count.min(crate::fs::tty::N_TTY_BUF_SIZE)];
    let timed_out = sleeper.deadline().is_some_and(|d| sleeper.now_ns() >= d);
    let r = console.tty().lock().read(&mut tmp, timed_out);
    match r {
        crate::fs::tty::TtyRead::Data(n) => {
            console.tty().lock().reader_waiting = false;
            sleeper.finish();
            if n > 0 {
                mem.copy_to_user(buf, &tmp[..n])?;
            }
            Ok(n)
        }
        crate::fs::tty::TtyRead::Wait(_) if nonblock => Err(errno::EAGAIN),
        crate::fs::tty::TtyRead::Wait(vtime) => {
            console.tty().lock().reader_waiting = true;
            let deadline = sleeper
                .deadline()
                .or_else(|| vtime.map(|t| sleeper.now_ns() + t));
            Err(sleeper.block(deadline, true, None))
        }
    }
}

/// The character devices' `read`: `/dev/null` ends at once, `/dev/zero` and `/dev/full` give
/// zeros, `/dev/random` and `/dev/urandom` the kernel's random bytes.
fn read_dev(dev: CharDev, mem: &mut dyn UserMem, buf: usize, count: usize) -> SysResult {
    match dev {
        CharDev::Null => Ok(0),
        CharDev::Zero | CharDev::Full => copy_out(mem, buf, count, |_, c| {
            c.fill(0);
            c.len()
        }),
        CharDev::Random => copy_out(mem, buf, count, |_, c| {
            crate::random::fill(c);
            c.len()
        }),
    }
}

/// The most `pagemap` entries rendered at once (32 KiB of them, for 16 MiB of address space);
/// a longer `read` renders window after window ([`read_pagemap`]), a `readv` segment or a
/// `sendfile` step comes back short. (Four in the host tests, so that their reads cross windows.)
#[cfg(not(test))]
const PAGEMAP_WINDOW: usize = 1 << 12;
#[cfg(test)]
const PAGEMAP_WINDOW: usize = 4;

/// The page numbers a `pagemap` read of `count` bytes at offset `p` covers: none past
/// `TASK_SIZE`, where the file ends. Offsets and counts must be whole entries (`EINVAL`).
fn pagemap_window(p: u64, count: usize) -> Result<core::ops::Range<usize>, Errno> {
    use crate::mm::pagemap::PM_ENTRY_BYTES;
    if !p.is_multiple_of(PM_ENTRY_BYTES as u64) || !count.is_multiple_of(PM_ENTRY_BYTES) {
        return Err(errno::EINVAL);
    }
    let end = crate::mm::layout::TASK_SIZE >> crate::mm::addr::PAGE_SHIFT;
    let first = usize::try_from(p / PM_ENTRY_BYTES as u64)
        .unwrap_or(usize::MAX)
        .min(end);
    let n = (count / PM_ENTRY_BYTES)
        .min(end - first)
        .min(PAGEMAP_WINDOW);
    Ok(first..first + n)
}

/// Renders a /proc file's text on its first read (`ESRCH` if its process is gone by then), and
/// `pagemap`'s window for a read of `count` bytes at `at` (else the file position), with frame
/// numbers for a `privileged` reader. Other files are left alone, at the cost of one test: the
/// reads of pipes and terminals come this way.
#[inline]
pub(super) fn render_snapshot(
    file: &mut OpenFile,
    proc: &dyn ProcSource,
    at: Option<u64>,
    count: usize,
    privileged: bool,
) -> Result<(), Errno> {
    if matches!(file.kind, FileKind::Snapshot { .. }) {
        render_snapshot_slow(file, proc, at, count, privileged)
    } else {
        Ok(())
    }
}

#[inline(never)]
fn render_snapshot_slow(
    file: &mut OpenFile,
    proc: &dyn ProcSource,
    at: Option<u64>,
    count: usize,
    privileged: bool,
) -> Result<(), Errno> {
    if let FileKind::Snapshot {
        node,
        data,
        pos,
        data_at,
    } = &mut file.kind
    {
        if let Node::File(pid, crate::fs::procfs::ProcFile::Pagemap) = *node {
            let p = at.unwrap_or(*pos);
            let window = pagemap_window(p, count)?;
            // Taken fallibly: a kernel short of memory answers ENOMEM rather than stopping.
            let mut entries = Vec::new();
            let mut bytes = Vec::new();
            entries
                .try_reserve_exact(window.len())
                .and_then(|()| bytes.try_reserve_exact(window.len() * 8))
                .map_err(|_| errno::ENOMEM)?;
            entries.resize(window.len(), 0u64);
            // A process gone meanwhile reads as the end of the file, as on Linux.
            if proc
                .pagemap(pid, window.start, &mut entries, privileged)
                .is_err()
            {
                entries.clear();
            }
            bytes.extend(entries.iter().flat_map(|e| e.to_ne_bytes()));
            *data = Some(bytes);
            *data_at = p;
            return Ok(());
        }
        if data.is_none() {
            let mut text = alloc::string::String::new();
            proc.render(*node, &mut text).map_err(|_| errno::ESRCH)?;
            *data = Some(text.into_bytes());
        }
    }
    Ok(())
}

/// Reads from `file` into user `[buf, buf + count)`: the `f_op->read` step of `vfs_read`,
/// after the checks. `at` is `pread`'s offset; without it the file position is used and
/// advanced.
pub(super) fn read_file(
    file: &mut OpenFile,
    mem: &mut dyn UserMem,
    console: &dyn Console,
    sleeper: &dyn Sleeper,
    buf: usize,
    count: usize,
    at: Option<u64>,
) -> SysResult {
    let nonblock = file.nonblock();
    match &mut file.kind {
        // `n_tty_read` without blocking: whatever input is pending, 0 (EOF) if none.
        FileKind::Console => read_tty(console, sleeper, mem, buf, count, nonblock),
        FileKind::Snapshot {
            data, pos, data_at, ..
        } => {
            // `seq_read_iter`: from the file position to the end of the text, which
            // `render_snapshot` made before the first read.
            let data = data.as_deref().unwrap_or(&[]);
            let p = at.unwrap_or(*pos);
            let start = usize::try_from(p - *data_at)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let avail = &data[start..];
            let want = count.min(avail.len());
            let n = copy_out(mem, buf, want, |off, c| {
                let n = c.len();
                c.copy_from_slice(&avail[off..off + n]);
                n
            })?;
            if at.is_none() {
                *pos += n as u64;
            }
            Ok(n)
        }
        FileKind::Regular { inode, pos, .. } => {
            let p = at.unwrap_or(*pos);
            let n = read_regular(inode, mem, buf, count, p)?;
            if at.is_none() {
                *pos += n as u64;
            }
            Ok(n)
        }
        FileKind::Device { dev, .. } => read_dev(*dev, mem, buf, count),
        // `generic_read_dir`.
        FileKind::Dir { .. } => Err(errno::EISDIR),
        FileKind::PipeRead(p) | FileKind::PipeRdWr(p, _) => {
            read_pipe(p, nonblock, mem, &[(buf, count)])
        }
        // Opened write-only or `O_PATH`: `vfs_read` refuses it before getting here.
        FileKind::PipeWrite(_) | FileKind::Path(_) => Err(errno::EBADF),
    }
}

/// What a write takes from its caller besides the file and the bytes.
#[derive(Clone, Copy)]
pub(super) struct WriteCtx<'a> {
    /// The time stamped on a regular file written.
    pub now: crate::fs::inode::Time,
    /// The caller's /proc, which takes the writes to its writable files and knows its
    /// RLIMIT_FSIZE.
    pub proc: &'a dyn ProcSource,
}

impl<'a> WriteCtx<'a> {
    pub(super) fn of(ctx: &FsCtx<'a>) -> WriteCtx<'a> {
        WriteCtx {
            now: ctx.vfs.now(),
            proc: ctx.proc,
        }
    }
}

/// Writes user `[buf, buf + count)` to `file`: the `f_op->write` step of `vfs_write`. For the
/// console this is `file_tty_write`: chunk by chunk, stopping at the first chunk that cannot be
/// copied and returning what was written before it, `EFAULT` if nothing was. `at` is
/// `pwrite`'s offset; an `O_APPEND` file is written at its end whatever the offset, as on
/// Linux.
pub(super) fn write_file(
    file: &mut OpenFile,
    mem: &mut dyn UserMem,
    console: &dyn Console,
    buf: usize,
    count: usize,
    at: Option<u64>,
    w: WriteCtx<'_>,
) -> SysResult {
    let nonblock = file.nonblock();
    let append = file.flags & O_APPEND != 0;
    match &mut file.kind {
        FileKind::Console => {
            let mut bounce = Bounce::new();
            let mut done = 0;
            for (a, _, n) in user_chunks(buf, count) {
                let tmp = bounce.chunk(n);
                if mem.copy_from_user(a, tmp).is_err() {
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
        FileKind::Regular { inode, pos, .. } => {
            let p = if append {
                inode.lock().size()
            } else {
                at.unwrap_or(*pos)
            };
            // `generic_write_check_limits`: from RLIMIT_FSIZE on, nothing is written (EFBIG and
            // SIGXFSZ); below it, what fits. A write of nothing writes nothing, wherever.
            if count == 0 {
                return Ok(0);
            }
            let limit = w.proc.rlimit_fsize();
            if p >= limit {
                return Err(errno::EFBIG_XFSZ);
            }
            let count = count.min(usize::try_from(limit - p).unwrap_or(usize::MAX));
            let n = write_regular(inode, mem, buf, count, p, w.now)?;
            if at.is_none() {
                *pos = p + n as u64;
            }
            Ok(n)
        }
        FileKind::Device {
            dev: CharDev::Full, ..
        } => Err(errno::ENOSPC),
        FileKind::Device { .. } => Ok(count),
        // A writable /proc file takes what is written at once (at most a page, as a sysctl
        // does), whatever the position; the others have no `write` method, and `vfs_write`
        // refuses with `EINVAL` (`FMODE_CAN_WRITE` unset).
        FileKind::Snapshot { node, .. } if node.writable() => {
            let mut text = alloc::vec![0u8; count.min(crate::mm::addr::PAGE_SIZE)];
            mem.copy_from_user(buf, &mut text)?;
            w.proc.write(*node, &text)
        }
        FileKind::Snapshot { .. } | FileKind::Dir { .. } => Err(errno::EINVAL),
        FileKind::PipeWrite(p) | FileKind::PipeRdWr(_, p) => {
            write_pipe(p, nonblock, mem, &[(buf, count)])
        }
        // Opened read-only or `O_PATH`: `vfs_write` refuses it before getting here.
        FileKind::PipeRead(_) | FileKind::Path(_) => Err(errno::EBADF),
    }
}

/// Whether `pread`/`pwrite` may be used (`FMODE_PREAD`): files with positions; pipes and the
/// terminal are `ESPIPE`.
fn positional(file: &OpenFile) -> Result<(), Errno> {
    match file.kind {
        FileKind::Console
        | FileKind::PipeRead(_)
        | FileKind::PipeWrite(_)
        | FileKind::PipeRdWr(..) => Err(errno::ESPIPE),
        _ => Ok(()),
    }
}

/// A `loff_t` offset argument: negative is `EINVAL`.
fn offset(v: u64) -> Result<u64, Errno> {
    if (v as i64) < 0 {
        Err(errno::EINVAL)
    } else {
        Ok(v)
    }
}

/// `vfs_read` for `read` and `pread64`: `EBADF` for a descriptor that is not open or not open
/// for reading, `ESPIPE` for `pread` on a pipe or terminal, `EFAULT` for a buffer outside user
/// space (even with count 0), `EISDIR` for a directory; counts above [`MAX_RW_COUNT`] are
/// clamped. Console input at its end reads 0 bytes.
fn do_read(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64, at: Option<u64>) -> SysResult {
    let (buf, count) = (buf as usize, count as usize);
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.readable() {
        return Err(errno::EBADF);
    }
    if at.is_some() {
        positional(&file)?;
    }
    if !access_ok(buf, count) {
        return Err(errno::EFAULT);
    }
    if let FileKind::Snapshot {
        node: Node::File(_, crate::fs::procfs::ProcFile::Pagemap),
        ..
    } = file.kind
    {
        return read_pagemap(ctx, &mut file, buf, count.min(MAX_RW_COUNT), at);
    }
    render_snapshot(
        &mut file,
        ctx.proc,
        at,
        count.min(MAX_RW_COUNT),
        ctx.cred.privileged(),
    )?;
    if file.kind == FileKind::Console {
        ctx.tty_job_check(true)?;
    }
    read_file(
        &mut file,
        ctx.mem,
        ctx.console,
        ctx.sleeper,
        buf,
        count.min(MAX_RW_COUNT),
        at,
    )
}

/// A read of `pagemap`: window after window until `count` bytes or the end of the address
/// space, as Linux's `pagemap_read` loops over its buffer.
fn read_pagemap(
    ctx: &mut FsCtx<'_>,
    file: &mut OpenFile,
    buf: usize,
    count: usize,
    at: Option<u64>,
) -> SysResult {
    let mut done = 0;
    while done < count {
        let at = at.map(|p| p + done as u64);
        let want = count - done;
        render_snapshot(file, ctx.proc, at, want, ctx.cred.privileged())?;
        let n = read_file(
            file,
            ctx.mem,
            ctx.console,
            ctx.sleeper,
            buf + done,
            want,
            at,
        );
        match n {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
        }
    }
    Ok(done)
}

/// `vfs_write` for `write` and `pwrite64`: `EBADF` unless open for writing, `ESPIPE` for
/// `pwrite` on a pipe or terminal, `EFAULT` for a buffer outside user space, partial count if
/// the buffer goes bad part-way.
fn do_write(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64, at: Option<u64>) -> SysResult {
    let (buf, count) = (buf as usize, count as usize);
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.writable() {
        return Err(errno::EBADF);
    }
    if at.is_some() {
        positional(&file)?;
    }
    if !access_ok(buf, count) {
        return Err(errno::EFAULT);
    }
    if file.kind == FileKind::Console {
        ctx.tty_job_check(false)?;
    }
    let w = WriteCtx::of(ctx);
    write_file(
        &mut file,
        ctx.mem,
        ctx.console,
        buf,
        count.min(MAX_RW_COUNT),
        at,
        w,
    )
}

/// `read(2)`.
pub fn sys_read(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64) -> SysResult {
    do_read(ctx, fd, buf, count, None)
}

/// `write(2)`.
pub fn sys_write(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64) -> SysResult {
    do_write(ctx, fd, buf, count, None)
}

/// `pread64(2)`: a negative offset is `EINVAL`; the file position does not move.
pub fn sys_pread64(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64, pos: u64) -> SysResult {
    let pos = offset(pos)?;
    do_read(ctx, fd, buf, count, Some(pos))
}

/// `pwrite64(2)`: a negative offset is `EINVAL`; the file position does not move.
pub fn sys_pwrite64(ctx: &mut FsCtx<'_>, fd: u64, buf: u64, count: u64, pos: u64) -> SysResult {
    let pos = offset(pos)?;
    do_write(ctx, fd, buf, count, Some(pos))
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

/// `RWF_*` flags `preadv2`/`pwritev2` know (`RWF_SUPPORTED`); on memory they change nothing.
const RWF_SUPPORTED: u64 = 0x1f;

/// `vfs_writev`: descriptor checks first, then the vector (`import_iovec`), then the segments in
/// order as one write: if a segment's memory turns out unmapped, the bytes already written are
/// returned, `EFAULT` only if there were none.
fn do_writev(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64, at: Option<u64>) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.writable() {
        return Err(errno::EBADF);
    }
    if at.is_some() {
        positional(&file)?;
    }
    let segs = import_iovec(ctx.mem, iov as usize, iovcnt as u32)?;
    if file.kind == FileKind::Console {
        ctx.tty_job_check(false)?;
    }
    if let Some(p) = file.kind.pipe_writer() {
        return write_pipe(p, file.nonblock(), ctx.mem, &segs);
    }
    let w = WriteCtx::of(ctx);
    let mut done = 0;
    for (base, len) in segs {
        if len == 0 {
            continue;
        }
        let at = at.map(|p| p + done as u64);
        match write_file(&mut file, ctx.mem, ctx.console, base, len, at, w) {
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

/// `vfs_readv`: like [`do_writev`] in the other direction; stops at the first segment that is
/// not filled (end of file, or no more console input).
fn do_readv(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64, at: Option<u64>) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if !file.readable() {
        return Err(errno::EBADF);
    }
    if at.is_some() {
        positional(&file)?;
    }
    let segs = import_iovec(ctx.mem, iov as usize, iovcnt as u32)?;
    if matches!(file.kind, FileKind::Dir { .. }) && segs.iter().any(|s| s.1 > 0) {
        return Err(errno::EISDIR);
    }
    if let Some(p) = file.kind.pipe_reader() {
        return read_pipe(p, file.nonblock(), ctx.mem, &segs);
    }
    if file.kind == FileKind::Console {
        ctx.tty_job_check(true)?;
    }
    let mut done = 0;
    for (base, len) in segs {
        if len == 0 {
            continue;
        }
        let at = at.map(|p| p + done as u64);
        render_snapshot(&mut file, ctx.proc, at, len, ctx.cred.privileged())?;
        match read_file(&mut file, ctx.mem, ctx.console, ctx.sleeper, base, len, at) {
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

/// `writev(2)`.
pub fn sys_writev(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64) -> SysResult {
    do_writev(ctx, fd, iov, iovcnt, None)
}

/// `readv(2)`.
pub fn sys_readv(ctx: &mut FsCtx<'_>, fd: u64, iov: u64, iovcnt: u64) -> SysResult {
    do_readv(ctx, fd, iov, iovcnt, None)
}

/// `preadv(2)` and `preadv2(2)`: the offset comes in one register on 64-bit (`pos_h` is
/// ignored); `-1` in `preadv2` means the file position; unknown `RWF_*` flags are
/// `EOPNOTSUPP`.
pub fn sys_preadv(
    ctx: &mut FsCtx<'_>,
    fd: u64,
    iov: u64,
    cnt: u64,
    pos: u64,
    flags: u64,
) -> SysResult {
    if flags & !RWF_SUPPORTED != 0 {
        return Err(errno::EOPNOTSUPP);
    }
    let at = if pos as i64 == -1 {
        None
    } else {
        Some(offset(pos)?)
    };
    do_readv(ctx, fd, iov, cnt, at)
}

/// `pwritev(2)` and `pwritev2(2)`, as [`sys_preadv`].
pub fn sys_pwritev(
    ctx: &mut FsCtx<'_>,
    fd: u64,
    iov: u64,
    cnt: u64,
    pos: u64,
    flags: u64,
) -> SysResult {
    if flags & !RWF_SUPPORTED != 0 {
        return Err(errno::EOPNOTSUPP);
    }
    let at = if pos as i64 == -1 {
        None
    } else {
        Some(offset(pos)?)
    };
    do_writev(ctx, fd, iov, cnt, at)
}

/// `sendfile(2)` (`do_sendfile`): from a file that can be read at an offset (a regular file,
/// a device or a /proc file; `EINVAL` otherwise) to any file open for writing, through a
/// kernel buffer. `EBADF` for descriptors not open for reading and writing; with `offset`,
/// the input position does not move and the offset is updated (`EFAULT` if it cannot be).
pub fn sys_sendfile(
    ctx: &mut FsCtx<'_>,
    out_fd: u64,
    in_fd: u64,
    off: u64,
    count: u64,
) -> SysResult {
    let input = ctx.files.get(ufd(in_fd))?.file.clone();
    if !input.lock().readable() {
        return Err(errno::EBADF);
    }
    let output = ctx.files.get(ufd(out_fd))?.file.clone();
    if !output.lock().writable() {
        return Err(errno::EBADF);
    }
    if matches!(
        input.lock().kind,
        FileKind::Console | FileKind::PipeRead(_) | FileKind::PipeRdWr(..) | FileKind::Dir { .. }
    ) {
        return Err(errno::EINVAL);
    }
    let mut pos = if off != 0 {
        let p: u64 = ctx.mem.read_pod(off as usize)?;
        Some(offset(p)?)
    } else {
        None
    };
    let count = (count as usize).min(MAX_RW_COUNT);
    let mut buf = vec![0u8; count.min(64 << 10)];
    let mut done = 0;
    let w = WriteCtx::of(ctx);
    let mut err = None;
    while done < count {
        let want = buf.len().min(count - done);
        let mut kmem = crate::syscall::user::KernelBuf(&mut buf[..want]);
        render_snapshot(
            &mut input.lock(),
            ctx.proc,
            None,
            want,
            ctx.cred.privileged(),
        )?;
        let got = match read_file(
            &mut input.lock(),
            &mut kmem,
            ctx.console,
            ctx.sleeper,
            0,
            want,
            pos,
        ) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                err = Some(e);
                break;
            }
        };
        let mut kmem = crate::syscall::user::KernelBuf(&mut buf[..got]);
        let put = match write_file(&mut output.lock(), &mut kmem, ctx.console, 0, got, None, w) {
            Ok(n) => n,
            Err(e) => {
                err = Some(e);
                break;
            }
        };
        if let Some(p) = &mut pos {
            *p += put as u64;
        }
        done += put;
        if put < got {
            break;
        }
    }
    if let Some(p) = pos {
        ctx.mem.write_pod(off as usize, &p)?;
    }
    match (done, err) {
        (0, Some(e)) => Err(e),
        _ => Ok(done),
    }
}

/// `lseek(2)` (`ksys_lseek`): `EBADF`, then `EINVAL` for `whence` above `SEEK_HOLE`, then the
/// file's own `llseek`: the console is a terminal (`no_llseek`: `ESPIPE`); /proc files use
/// `seq_lseek`, which knows only `SEEK_SET` and `SEEK_CUR` (`SEEK_END` is `EINVAL` on Linux
/// too, since a seq_file has no size) and allows positions past the end (reads there return 0);
/// regular files use `shmem_file_llseek` (a file is all data up to its size: `SEEK_DATA`
/// returns the offset, `SEEK_HOLE` the size, `ENXIO` at or past the end); directories
/// `dcache_dir_lseek` (positions are entry cookies); devices `noop_llseek`-like 0. A negative
/// or overflowing result is `EINVAL`.
pub fn sys_lseek(ctx: &mut FsCtx<'_>, fd: u64, offset: u64, whence: u64) -> SysResult {
    let offset = offset as i64;
    let whence = whence as u32;
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    if whence > SEEK_HOLE {
        return Err(errno::EINVAL);
    }
    let (pos, size) = match &mut file.kind {
        FileKind::Console
        | FileKind::PipeRead(_)
        | FileKind::PipeWrite(_)
        | FileKind::PipeRdWr(..) => return Err(errno::ESPIPE),
        FileKind::Path(_) => return Err(errno::EBADF),
        FileKind::Device { .. } => return Ok(0),
        FileKind::Snapshot { pos, .. } => (pos, None),
        FileKind::Dir { pos, .. } => (pos, Some(0)),
        FileKind::Regular { inode, pos, .. } => {
            let size = inode.lock().size();
            (pos, Some(size as i64))
        }
    };
    let new = match (whence, size) {
        (SEEK_SET, _) => Some(offset),
        (SEEK_CUR, _) => (*pos as i64).checked_add(offset),
        (SEEK_END, Some(size)) => size.checked_add(offset),
        (SEEK_DATA, Some(size)) if offset >= 0 && offset < size => Some(offset),
        (SEEK_HOLE, Some(size)) if offset >= 0 && offset < size => Some(size),
        (SEEK_DATA | SEEK_HOLE, Some(_)) => return Err(errno::ENXIO),
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
