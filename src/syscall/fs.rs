//! File-descriptor system calls: read, write, readv, writev, openat, close, lseek, fstat,
//! newfstatat, ioctl, readlinkat, ppoll, faccessat/faccessat2, pipe2, dup, dup3, fcntl.
//!
//! Each handler takes the raw register values and narrows them the way Linux's
//! `SYSCALL_DEFINE` wrappers do (an `unsigned int fd` ignores the upper 32 bits, an `int` flag
//! argument is sign-extended from the low 32), then checks its arguments in the order Linux
//! does, so the same hostile call gets the same error. Everything the handlers touch is behind
//! [`FsCtx`]: user memory, the descriptor table, the console, the process behind `/proc/self`,
//! and a way to sleep; the kernel supplies the real ones, tests supply fakes.
//!
//! # What the kernel must do around [`dispatch`]
//!
//! * **Blocking.** Sample [`crate::fs::pipe::events`] before dispatching. A result of
//!   [`errno::EWOULDBLOCK_RESTART`] means the call did nothing and must sleep: if a signal is
//!   deliverable, replace the result with [`interrupted_errno`] and deliver as usual; otherwise
//!   park the caller until `pipe::events()` differs from the sample (or a signal arrives), then
//!   re-run the same syscall with the same arguments. Calls that can return it: `read`, `readv`,
//!   `write`, `writev` on pipes, and `ppoll` without a timeout on pipes.
//! * **SIGPIPE.** When [`raises_sigpipe`] says so (a write-family call failed with `EPIPE`,
//!   which only a pipe without readers produces), send `SIGPIPE` to the caller (`send_sig(SIGPIPE,
//!   current, 0)`: `SI_USER` from the caller itself in Linux; `SigInfo::kernel` is close enough),
//!   then return `EPIPE` as usual; the default action kills the process.
//! * **fork.** Give the child `files.fork_clone()`; the descriptions (and so pipe ends, offsets
//!   and status flags) are shared. **exit** drops the table, closing every end.
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::abi::{
    Iovec, Pod, Stat, Termios, Timespec, Winsize, S_IFCHR, S_IFDIR, S_IFREG, UIO_MAXIOV,
};
use super::errno::{self, Errno};
use super::numbers::*;
use super::user::{access_ok, user_chunks, UserMem, UserMemExt, PATH_MAX, USER_CHUNK};
use super::SysResult;
use crate::fs::fdtable::*;
use crate::fs::pipe::{Pipe, PIPE_SIZE};
use crate::fs::procfs::{self, Node, ProcFile, ProcLink, ProcSource};

/// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`): one read or write transfers at most this much;
/// larger counts are silently clamped (`rw_verify_area`, `import_iovec`).
pub const MAX_RW_COUNT: usize = (i32::MAX as usize) & !(USER_CHUNK - 1);

/// `AT_FDCWD`: resolve relative paths against the working directory (always `/` here).
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `AT_STATX_SYNC_TYPE`: the sync-mode bits `vfs_statx` also accepts.
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// `lseek` whence values; `SEEK_MAX` is `SEEK_HOLE`.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

/// `poll` event bits (`include/uapi/asm-generic/poll.h`).
pub const POLLIN: u16 = 0x1;
pub const POLLPRI: u16 = 0x2;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLNVAL: u16 = 0x20;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLWRNORM: u16 = 0x100;
/// `DEFAULT_POLLMASK`: what a file without a `poll` method reports (every /proc file) and what
/// the console reports, since its reads never block (no input is end of file).
pub const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
/// `sizeof(struct pollfd)`: `int fd; short events; short revents;`.
pub const POLLFD_SIZE: usize = 8;

pub use crate::syscall::abi::{TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGWINSZ, TIOCSWINSZ};
pub const FIONBIO: u32 = 0x5421;
pub const FIONCLEX: u32 = 0x5450;
pub const FIOCLEX: u32 = 0x5451;

/// `access` mode bits.
pub const F_OK: u32 = 0;
pub const X_OK: u32 = 1;
pub const W_OK: u32 = 2;
pub const R_OK: u32 = 4;

/// `S_IFLNK` and `S_IFIFO` (`include/uapi/linux/stat.h`).
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFIFO: u32 = 0o010000;

/// `FIONREAD`: bytes available to read (answered by pipes).
pub const FIONREAD: u32 = 0x541b;

/// `fcntl` commands (`include/uapi/asm-generic/fcntl.h`, `include/uapi/linux/fcntl.h`).
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const F_SETPIPE_SZ: u32 = 1031;
pub const F_GETPIPE_SZ: u32 = 1032;
/// The one descriptor flag.
pub const FD_CLOEXEC: u32 = 1;

/// Whether the kernel must send `SIGPIPE` to the caller for this result: a write-family call
/// that failed with `EPIPE` (only a pipe with no readers left produces it, and Linux's
/// `pipe_write` sends the signal whenever it does).
#[allow(non_upper_case_globals)]
pub fn raises_sigpipe(nr: usize, result: &SysResult) -> bool {
    matches!(
        nr,
        SYS_write | SYS_writev | SYS_pwrite64 | SYS_pwritev | SYS_pwritev2
    ) && *result == Err(errno::EPIPE)
}

/// What a call that returned [`errno::EWOULDBLOCK_RESTART`] becomes when a signal interrupts
/// its sleep, as Linux returns it from the wait: `ERESTARTNOHAND` for `ppoll`/`pselect6` (never
/// restarted after a handler), `ERESTARTSYS` for everything else (restarted under
/// `SA_RESTART`, else `EINTR`).
#[allow(non_upper_case_globals)]
pub fn interrupted_errno(nr: usize) -> Errno {
    match nr {
        SYS_ppoll | SYS_pselect6 => errno::ERESTARTNOHAND,
        _ => errno::ERESTARTSYS,
    }
}

/// How a file call waits (ppoll's timeout). The kernel does not sleep inside a call: it parks
/// the caller and runs the call again from the start when woken, so a timed wait is a deadline
/// recorded for the restarted call.
pub trait Sleeper {
    /// The uptime clock, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// The deadline [`block`](Self::block) recorded before this run of the call, if it is a
    /// restart of a timed wait.
    fn deadline(&self) -> Option<u64>;
    /// Parks the caller until `deadline` passes (never, when `None`), until some pipe changes
    /// (when `pipes`), or until a signal arrives, with the signal mask meant to be replaced by
    /// `mask` meanwhile (ppoll's `sigmask`); returns the errno the call must return
    /// ([`errno::EWOULDBLOCK_RESTART`]).
    fn block(&self, deadline: Option<u64>, pipes: bool, mask: Option<u64>) -> Errno;
    /// The call completes: its deadline is forgotten.
    fn finish(&self);
}

/// Everything a file syscall needs, borrowed from the calling process for the call.
pub struct FsCtx<'a> {
    pub mem: &'a mut dyn UserMem,
    pub files: &'a mut Files,
    pub console: &'a dyn Console,
    pub proc: &'a dyn ProcSource,
    pub sleeper: &'a dyn Sleeper,
}

/// Routes the syscalls this module implements; `None` for any other number.
#[allow(non_upper_case_globals)] // Linux's `SYS_read` spelling, used as patterns.
pub fn dispatch(ctx: &mut FsCtx<'_>, nr: usize, a: [u64; 6]) -> Option<SysResult> {
    Some(match nr {
        SYS_read => sys_read(ctx, a[0], a[1], a[2]),
        SYS_write => sys_write(ctx, a[0], a[1], a[2]),
        SYS_readv => sys_readv(ctx, a[0], a[1], a[2]),
        SYS_writev => sys_writev(ctx, a[0], a[1], a[2]),
        SYS_openat => sys_openat(ctx, a[0], a[1], a[2], a[3]),
        SYS_close => sys_close(ctx, a[0]),
        SYS_lseek => sys_lseek(ctx, a[0], a[1], a[2]),
        SYS_fstat => sys_fstat(ctx, a[0], a[1]),
        SYS_newfstatat => sys_newfstatat(ctx, a[0], a[1], a[2], a[3]),
        SYS_ioctl => sys_ioctl(ctx, a[0], a[1], a[2]),
        SYS_readlinkat => sys_readlinkat(ctx, a[0], a[1], a[2], a[3]),
        SYS_ppoll => sys_ppoll(ctx, a[0], a[1], a[2], a[3], a[4]),
        SYS_faccessat => sys_faccessat2(ctx, a[0], a[1], a[2], 0),
        SYS_faccessat2 => sys_faccessat2(ctx, a[0], a[1], a[2], a[3]),
        SYS_pipe2 => sys_pipe2(ctx, a[0], a[1]),
        SYS_dup => sys_dup(ctx, a[0]),
        SYS_dup3 => sys_dup3(ctx, a[0], a[1], a[2]),
        SYS_fcntl => sys_fcntl(ctx, a[0], a[1], a[2]),
        _ => return None,
    })
}

/// An `unsigned int fd` argument.
fn ufd(v: u64) -> u32 {
    v as u32
}

/// An `int` argument (`dfd`, flags, sizes).
fn int(v: u64) -> i32 {
    v as u32 as i32
}

/// Walks the user buffer made of `segs` (an iovec), starting `off` bytes into it, for `total`
/// bytes, page by page: `copy(user address, range of the kernel buffer)` moves one piece and says
/// whether it worked. Returns how many bytes moved before the first fault.
fn walk_segs(
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
fn copy_out_segs(mem: &mut dyn UserMem, segs: &[(usize, usize)], off: usize, src: &[u8]) -> usize {
    walk_segs(segs, off, src.len(), |a, r| {
        mem.copy_to_user(a, &src[r]).is_ok()
    })
}

/// Loads `dst` from the user segments `segs` from `off` on; bytes loaded before the first fault.
fn copy_in_segs(
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
fn read_pipe(
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
fn write_pipe(
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
fn read_file(
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
fn write_file(
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
fn import_iovec(mem: &mut dyn UserMem, iov: usize, nr: u32) -> Result<Vec<(usize, usize)>, Errno> {
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

/// `getname`: the path at `addr`, `EFAULT`/`ENAMETOOLONG`, and `ENOENT` for `""` unless the
/// call allows empty paths (`LOOKUP_EMPTY`).
fn getname(mem: &mut dyn UserMem, addr: u64, allow_empty: bool) -> Result<Vec<u8>, Errno> {
    let p = mem.read_cstring(addr as usize, PATH_MAX)?;
    if p.is_empty() && !allow_empty {
        return Err(errno::ENOENT);
    }
    Ok(p)
}

/// `path_init`: where a walk starts. Absolute paths ignore `dfd` entirely; relative ones start at
/// the working directory (`/`) for `AT_FDCWD`, else at the directory `dfd` refers to (`EBADF` if
/// not open, `ENOTDIR` if not a directory).
fn start_node(files: &Files, dfd: i32, path: &[u8]) -> Result<Node, Errno> {
    if path.first() == Some(&b'/') || dfd == AT_FDCWD {
        return Ok(Node::Root);
    }
    if dfd < 0 {
        return Err(errno::EBADF);
    }
    match files.get(dfd as u32)?.file.lock().kind {
        FileKind::Dir { node, .. } => Ok(node),
        _ => Err(errno::ENOTDIR),
    }
}

/// `VALID_OPEN_FLAGS`: bits `openat` does not know are ignored (only `openat2` refuses them).
const VALID_OPEN_FLAGS: u32 = O_RDONLY
    | O_WRONLY
    | O_RDWR
    | O_CREAT
    | O_EXCL
    | O_NOCTTY
    | O_TRUNC
    | O_APPEND
    | O_NONBLOCK
    | O_DSYNC
    | FASYNC
    | O_DIRECT
    | O_LARGEFILE
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_NOATIME
    | O_CLOEXEC
    | O_PATH
    | O_TMPFILE_BIT
    | O_SYNC;

/// The path up to (not including) its last component, for the `O_CREAT` parent check.
fn parent_path(path: &[u8]) -> &[u8] {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(i) => &path[..=i],
        None => return b"/",
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &trimmed[..i],
        None => b".",
    }
}

/// `openat(2)` (`do_sys_openat2`), in Linux's order: flag validation (`build_open_flags`:
/// `EINVAL` for a malformed `O_TMPFILE`), the path (`getname`: `EFAULT`, `ENAMETOOLONG`,
/// `ENOENT` for `""`), a free descriptor (`EMFILE`), the walk (`EBADF`/`ENOTDIR` for `dirfd`,
/// `ENOENT`, `ENOTDIR`, `ELOOP` for a final symlink with `O_NOFOLLOW`), then `may_open`.
///
/// The tree is `/`, `/proc`, `/proc/self` = `/proc/<pid>` and its `maps`, `status`, `stat`. The
/// /proc files are mode 0444 and the caller is treated as lacking `CAP_DAC_OVERRIDE`, so write
/// access (`O_WRONLY`, `O_RDWR`, `O_TRUNC`) is `EACCES`, as is creating a file in a /proc
/// directory; creating in `/` is `EROFS` (there is no writable file system); `O_CREAT|O_EXCL` on
/// an existing name is `EEXIST`; write access to a directory is `EISDIR`. `mode` only matters
/// when a file is created, which never happens here.
pub fn sys_openat(ctx: &mut FsCtx<'_>, dirfd: u64, path: u64, flags: u64, _mode: u64) -> SysResult {
    let dfd = int(dirfd);
    let mut flags = flags as u32 & VALID_OPEN_FLAGS;
    if flags & O_TMPFILE_BIT != 0 {
        if flags & (O_TMPFILE | O_CREAT) != O_TMPFILE {
            return Err(errno::EINVAL);
        }
        if flags & O_ACCMODE == O_RDONLY {
            return Err(errno::EINVAL);
        }
    }
    if flags & O_PATH != 0 {
        flags &= O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
    }
    let name = getname(ctx.mem, path, false)?;
    ctx.files.lowest_free()?;
    let start = start_node(ctx.files, dfd, &name)?;
    let pid = ctx.proc.pid();
    if flags & O_TMPFILE_BIT != 0 {
        // The directory must exist; no file system here can make unnamed files.
        let dir = procfs::lookup(start, &name, pid, true)?;
        if !dir.is_dir() {
            return Err(errno::ENOTDIR);
        }
        return Err(errno::EOPNOTSUPP);
    }
    let creat = flags & O_CREAT != 0;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    let node = match procfs::lookup(start, &name, pid, follow) {
        Ok(node) => {
            if excl {
                return Err(errno::EEXIST);
            }
            node
        }
        Err(e) if e == errno::ENOENT && creat => {
            let parent = procfs::lookup(start, parent_path(&name), pid, true)?;
            if !parent.is_dir() {
                return Err(errno::ENOTDIR);
            }
            if name.last() == Some(&b'/') {
                return Err(errno::EISDIR);
            }
            return Err(if parent.on_procfs() {
                errno::EACCES
            } else {
                errno::EROFS
            });
        }
        Err(e) => return Err(e),
    };
    if creat && node.is_dir() {
        return Err(errno::EISDIR);
    }
    let wants_write = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0;
    let kind = match node {
        Node::Link(_) => return Err(errno::ELOOP),
        Node::File(_) if flags & O_DIRECTORY != 0 => return Err(errno::ENOTDIR),
        Node::File(_) if wants_write => return Err(errno::EACCES),
        Node::File(f) => {
            let mut text = String::new();
            ctx.proc.render(f, &mut text);
            FileKind::Snapshot {
                file: f,
                data: text.into_bytes(),
                pos: 0,
            }
        }
        _ if wants_write => return Err(errno::EISDIR),
        dir => FileKind::Dir { node: dir, pos: 0 },
    };
    let status = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC) | O_LARGEFILE;
    let fd = ctx.files.alloc(
        OpenFile {
            kind,
            flags: status,
        },
        flags & O_CLOEXEC != 0,
    )?;
    Ok(fd as usize)
}

/// `close(2)` (`close_fd`): `EBADF` if `fd` is not open. `fd` is `unsigned int`, so the upper
/// 32 bits of the register are ignored.
pub fn sys_close(ctx: &mut FsCtx<'_>, fd: u64) -> SysResult {
    // Dropping the description here closes it if this was its last descriptor anywhere (a
    // pipe end's reader or writer count goes down, waking the other side).
    drop(ctx.files.close(ufd(fd))?);
    Ok(0)
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

/// glibc's `makedev` / the kernel's `new_encode_dev`.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) as u64)
        | ((major as u64 & 0xfff) << 8)
        | (((minor & !0xff) as u64) << 12)
        | (((major & !0xfff) as u64) << 32)
}

/// The console's `st_rdev`: `/dev/pts/0` (Unix98 pty slave major 136), so `ttyname` and
/// `isatty`-style checks see an ordinary pseudo-terminal.
pub const CONSOLE_RDEV: u64 = makedev(136, 0);
/// `st_dev` of the file systems: devpts, procfs and the root (anonymous device numbers, as
/// Linux gives virtual file systems).
pub const DEVPTS_DEV: u64 = makedev(0, 24);
pub const PROC_DEV: u64 = makedev(0, 22);
pub const ROOT_DEV: u64 = makedev(0, 1);
/// The `tty` group a pty belongs to on Debian-like systems.
const TTY_GID: u32 = 5;

fn node_ino(node: Node) -> u64 {
    match node {
        Node::Root => 1,
        Node::ProcDir => 1,
        Node::PidDir => 0x100,
        Node::Link(ProcLink::SelfLink) => 0x101,
        Node::Link(ProcLink::Exe) => 0x102,
        Node::File(ProcFile::Maps) => 0x103,
        Node::File(ProcFile::Status) => 0x104,
        Node::File(ProcFile::Stat) => 0x105,
        Node::File(ProcFile::SmapsRollup) => 0x106,
    }
}

/// `generic_fillattr` for a node of the tree: /proc files are empty regular files of mode 0444
/// (size 0, as Linux reports for them), /proc directories 0555, links 0777, the root 0755;
/// `st_blksize` is procfs's 1024.
pub fn stat_node(node: Node) -> Stat {
    let (mode, nlink, dev, blksize) = match node {
        Node::Root => (S_IFDIR | 0o755, 3, ROOT_DEV, 4096),
        Node::ProcDir | Node::PidDir => (S_IFDIR | 0o555, 2, PROC_DEV, 1024),
        Node::File(_) => (S_IFREG | 0o444, 1, PROC_DEV, 1024),
        Node::Link(_) => (S_IFLNK | 0o777, 1, PROC_DEV, 1024),
    };
    Stat {
        st_dev: dev,
        st_ino: node_ino(node),
        st_mode: mode,
        st_nlink: nlink,
        st_blksize: blksize,
        ..Stat::default()
    }
}

/// The console's attributes, those of a pty slave: `S_IFCHR | 0620`, owner root, group tty,
/// `st_rdev` 136:0, `st_blksize` 1024 (`tty_fops` files report the devpts block size).
pub fn stat_console() -> Stat {
    Stat {
        st_dev: DEVPTS_DEV,
        st_ino: 3,
        st_mode: S_IFCHR | 0o620,
        st_nlink: 1,
        st_uid: 0,
        st_gid: TTY_GID,
        st_rdev: CONSOLE_RDEV,
        st_blksize: 1024,
        ..Stat::default()
    }
}

/// `st_dev` of pipefs (an anonymous device, as on Linux).
pub const PIPEFS_DEV: u64 = makedev(0, 14);

/// A pipe's attributes (pipefs's inode): `S_IFIFO | 0600`, owned by root (the only user a
/// pipe's creator can be here), one link, size 0, `st_blksize` one page; `st_ino` is the
/// pipe's own, the same for both ends.
pub fn stat_pipe(pipe: &Pipe) -> Stat {
    Stat {
        st_dev: PIPEFS_DEV,
        st_ino: pipe.ino(),
        st_mode: S_IFIFO | 0o600,
        st_nlink: 1,
        st_blksize: 4096,
        ..Stat::default()
    }
}

fn stat_file(file: &OpenFile) -> Stat {
    match &file.kind {
        FileKind::Console => stat_console(),
        FileKind::Snapshot { file, .. } => stat_node(Node::File(*file)),
        FileKind::Dir { node, .. } => stat_node(*node),
        FileKind::PipeRead(p) => stat_pipe(p),
        FileKind::PipeWrite(p) => stat_pipe(p),
    }
}

/// `fstat(2)` (`vfs_fstat` + `cp_new_stat`): `EBADF`, then `EFAULT` if `statbuf` cannot be
/// written.
pub fn sys_fstat(ctx: &mut FsCtx<'_>, fd: u64, statbuf: u64) -> SysResult {
    let st = stat_file(&ctx.files.get(ufd(fd))?.file.lock());
    ctx.mem.write_pod(statbuf as usize, &st)?;
    Ok(0)
}

/// `newfstatat(2)` (`vfs_fstatat`, Linux 6.11+): with `AT_EMPTY_PATH` an empty or `NULL` path
/// means `dirfd` itself (glibc's `fstat` is `fstatat(fd, "", buf, AT_EMPTY_PATH)`), else the
/// path is resolved (following a final symlink unless `AT_SYMLINK_NOFOLLOW`). Unknown flag bits
/// are `EINVAL`.
pub fn sys_newfstatat(
    ctx: &mut FsCtx<'_>,
    dirfd: u64,
    path: u64,
    statbuf: u64,
    flag: u64,
) -> SysResult {
    let dfd = int(dirfd);
    let flag = int(flag) as u32;
    let empty_ok = flag & AT_EMPTY_PATH != 0;
    let name = if empty_ok && path == 0 {
        Vec::new()
    } else {
        getname(ctx.mem, path, empty_ok)?
    };
    let st = if name.is_empty() && dfd >= 0 {
        stat_file(&ctx.files.get(dfd as u32)?.file.lock())
    } else {
        if flag & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0
        {
            return Err(errno::EINVAL);
        }
        let start = start_node(ctx.files, dfd, &name)?;
        let follow = flag & AT_SYMLINK_NOFOLLOW == 0;
        stat_node(procfs::lookup(start, &name, ctx.proc.pid(), follow)?)
    };
    ctx.mem.write_pod(statbuf as usize, &st)?;
    Ok(0)
}

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

/// `readlinkat(2)` (`do_readlinkat`): `EINVAL` for `bufsiz <= 0` before anything else, then the
/// path without following its last component; a symlink's target is copied without a NUL and
/// truncated to `bufsiz` (`do_proc_readlink`), `EFAULT` if `buf` cannot take it. A name that is
/// not a link is `EINVAL`, or `ENOENT` when the path was empty.
pub fn sys_readlinkat(
    ctx: &mut FsCtx<'_>,
    dirfd: u64,
    path: u64,
    buf: u64,
    size: u64,
) -> SysResult {
    let bufsiz = int(size);
    if bufsiz <= 0 {
        return Err(errno::EINVAL);
    }
    let dfd = int(dirfd);
    let name = getname(ctx.mem, path, true)?;
    let node = if name.is_empty() {
        if dfd == AT_FDCWD {
            Node::Root
        } else if dfd < 0 {
            return Err(errno::EBADF);
        } else {
            match &ctx.files.get(dfd as u32)?.file.lock().kind {
                FileKind::Dir { node, .. } => *node,
                _ => return Err(errno::ENOENT),
            }
        }
    } else {
        let start = start_node(ctx.files, dfd, &name)?;
        procfs::lookup(start, &name, ctx.proc.pid(), false)?
    };
    let Node::Link(link) = node else {
        return Err(if name.is_empty() {
            errno::ENOENT
        } else {
            errno::EINVAL
        });
    };
    let target = procfs::link_target(link, ctx.proc);
    let n = target.len().min(bufsiz as usize);
    if n > 0 {
        ctx.mem
            .copy_to_user(buf as usize, &target.as_bytes()[..n])?;
    }
    Ok(n)
}

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
    let timeout = if tmo != 0 {
        let ts: Timespec = ctx.mem.read_pod(tmo as usize)?;
        Some(ts.as_nanos().ok_or(errno::EINVAL)?)
    } else {
        None
    };
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
    for p in raw.chunks_exact_mut(POLLFD_SIZE) {
        let fd = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let events = u16::from_le_bytes([p[4], p[5]]);
        let revents = if fd < 0 {
            0
        } else if let Ok(entry) = ctx.files.get(fd as u32) {
            let f = entry.file.lock();
            pipes |= matches!(f.kind, FileKind::PipeRead(_) | FileKind::PipeWrite(_));
            poll_mask(&f) & (events | POLLERR | POLLHUP)
        } else {
            POLLNVAL
        };
        if revents != 0 {
            count += 1;
        }
        p[6..8].copy_from_slice(&revents.to_le_bytes());
    }
    let deadline = timeout.map(|ns| {
        ctx.sleeper
            .deadline()
            .unwrap_or_else(|| now.saturating_add(ns))
    });
    let timed_out = deadline.is_some_and(|d| now >= d);
    if count == 0 && !timed_out {
        // The zero revents go back first: a wait that a signal ends leaves them so, as Linux's
        // `do_sys_poll` writes them whatever ended the wait.
        if nfds > 0 {
            ctx.mem.copy_to_user(fds as usize, &raw)?;
        }
        return Err(ctx.sleeper.block(deadline, pipes, mask));
    }
    ctx.sleeper.finish();
    if let Some(d) = deadline {
        let left = d.saturating_sub(now);
        let ts = Timespec {
            tv_sec: (left / 1_000_000_000) as i64,
            tv_nsec: (left % 1_000_000_000) as i64,
        };
        let _ = ctx.mem.write_pod(tmo as usize, &ts);
    }
    if nfds > 0 {
        ctx.mem.copy_to_user(fds as usize, &raw)?;
    }
    Ok(count)
}

/// A file's `poll` answer before filtering by the requested events: [`DEFAULT_POLLMASK`] for the
/// console (its reads never block) and /proc files (no `poll` method); `pipe_poll` for pipes:
/// a read end is `POLLIN | POLLRDNORM` with bytes waiting and `POLLHUP` once no writer
/// remains (an empty pipe without writers is `POLLHUP` alone, as on Linux); a write end is
/// `POLLOUT | POLLWRNORM` with at least `PIPE_BUF` bytes free and `POLLERR` once no reader
/// remains.
pub fn poll_mask(file: &OpenFile) -> u16 {
    match &file.kind {
        FileKind::PipeRead(p) => {
            let (data, hup) = p.poll_read();
            (if data { POLLIN | POLLRDNORM } else { 0 }) | (if hup { POLLHUP } else { 0 })
        }
        FileKind::PipeWrite(p) => {
            let (room, err) = p.poll_write();
            (if room { POLLOUT | POLLWRNORM } else { 0 }) | (if err { POLLERR } else { 0 })
        }
        _ => DEFAULT_POLLMASK,
    }
}

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
/// * Every other command (locks, leases, owners, seals, `F_SETPIPE_SZ`): `EINVAL`.
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
        F_GETPIPE_SZ => match entry.file.lock().kind {
            FileKind::PipeRead(_) | FileKind::PipeWrite(_) => Ok(PIPE_SIZE),
            _ => Err(errno::EBADF),
        },
        _ => Err(errno::EINVAL),
    }
}

/// `faccessat2(2)` (`do_faccessat`; `faccessat` is this with `flags` 0): `EINVAL` for mode bits
/// beyond `R_OK|W_OK|X_OK` or unknown flags, then the path (following a final link unless
/// `AT_SYMLINK_NOFOLLOW`; `AT_EMPTY_PATH` allows `""` for `dirfd` itself), then the owner's
/// permission bits (the process owns every file here and has no capabilities): `EACCES` when a
/// requested bit is missing; write access to the root, whose file system is read-only, is
/// `EROFS`.
pub fn sys_faccessat2(
    ctx: &mut FsCtx<'_>,
    dirfd: u64,
    path: u64,
    mode: u64,
    flags: u64,
) -> SysResult {
    let mode = int(mode) as u32;
    let flags = int(flags) as u32;
    if mode & !(R_OK | W_OK | X_OK) != 0 {
        return Err(errno::EINVAL);
    }
    if flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let dfd = int(dirfd);
    let name = getname(ctx.mem, path, flags & AT_EMPTY_PATH != 0)?;
    let st = if name.is_empty() && dfd != AT_FDCWD {
        if dfd < 0 {
            return Err(errno::EBADF);
        }
        stat_file(&ctx.files.get(dfd as u32)?.file.lock())
    } else {
        let start = start_node(ctx.files, dfd, &name)?;
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        stat_node(procfs::lookup(start, &name, ctx.proc.pid(), follow)?)
    };
    let owner = (st.st_mode >> 6) & 7;
    if mode & !owner != 0 {
        return Err(errno::EACCES);
    }
    if mode & W_OK != 0 && st.st_dev == ROOT_DEV {
        return Err(errno::EROFS);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::procfs::{SmapsRollup, StatFields};
    use crate::syscall::user::FakeUserMem;
    use alloc::collections::VecDeque;
    use core::cell::{Cell, RefCell};

    /// Start of the fake user mapping (page aligned) and its size.
    const U: usize = 0x10000;
    const LEN: usize = 0x10000;
    /// Mapped nowhere, but inside the user half.
    const UNMAPPED: u64 = 0x5000_0000;
    /// A kernel-half address: fails `access_ok`.
    const KERNEL: u64 = 0xffff_0000_0000_1000;
    const PID: i32 = 42;
    const EXE: &str = "/bin/hello";

    #[derive(Default)]
    struct RecConsole {
        out: RefCell<Vec<u8>>,
        input: RefCell<VecDeque<u8>>,
    }

    impl Console for RecConsole {
        fn write(&self, bytes: &[u8]) {
            self.out.borrow_mut().extend_from_slice(bytes);
        }
        fn read(&self, buf: &mut [u8]) -> usize {
            let mut q = self.input.borrow_mut();
            let n = buf.len().min(q.len());
            for b in &mut buf[..n] {
                *b = q.pop_front().unwrap();
            }
            n
        }
    }

    struct FakeProc;

    /// A maps text longer than a page, so reads cross chunk boundaries.
    fn maps_text() -> String {
        let mut s = String::new();
        for i in 0..100 {
            s.push_str(&alloc::format!(
                "{:08x}-{:08x} rw-p 00000000 00:00 0 \n",
                0x400000 + i * 0x1000,
                0x401000 + i * 0x1000
            ));
        }
        s
    }

    impl ProcSource for FakeProc {
        fn render(&self, f: ProcFile, out: &mut String) {
            match f {
                ProcFile::Maps => out.push_str(&maps_text()),
                ProcFile::Status => out.push_str("Name:\thello\nVmSize:\t     100 kB\n"),
                ProcFile::Stat => StatFields::new(PID, "hello").write_stat(out).unwrap(),
                ProcFile::SmapsRollup => SmapsRollup::default().write(out).unwrap(),
            }
        }
        fn exe_path(&self) -> &str {
            EXE
        }
        fn pid(&self) -> i32 {
            PID
        }
    }

    /// A wait asked for: the deadline, whether pipes end it, the temporary signal mask.
    type Block = (Option<u64>, bool, Option<u64>);

    /// A clock the test moves, and a record of every wait asked for.
    #[derive(Default)]
    struct FakeSleep {
        now: Cell<u64>,
        deadline: Cell<Option<u64>>,
        blocks: RefCell<Vec<Block>>,
    }

    impl Sleeper for FakeSleep {
        fn now_ns(&self) -> u64 {
            self.now.get()
        }
        fn deadline(&self) -> Option<u64> {
            self.deadline.get()
        }
        fn block(&self, deadline: Option<u64>, pipes: bool, mask: Option<u64>) -> Errno {
            self.deadline.set(deadline);
            self.blocks.borrow_mut().push((deadline, pipes, mask));
            errno::EWOULDBLOCK_RESTART
        }
        fn finish(&self) {
            self.deadline.set(None);
        }
    }

    struct Env {
        mem: FakeUserMem,
        files: Files,
        con: RecConsole,
        sleep: FakeSleep,
    }

    impl Env {
        fn new() -> Env {
            Env {
                mem: FakeUserMem::new(U, LEN),
                files: Files::new(),
                con: RecConsole::default(),
                sleep: FakeSleep::default(),
            }
        }

        fn call<R>(&mut self, f: impl FnOnce(&mut FsCtx<'_>) -> R) -> R {
            let mut ctx = FsCtx {
                mem: &mut self.mem,
                files: &mut self.files,
                console: &self.con,
                proc: &FakeProc,
                sleeper: &self.sleep,
            };
            f(&mut ctx)
        }

        /// Stores a NUL-terminated string at `U + off`; returns its address.
        fn cstr(&mut self, off: usize, s: &str) -> u64 {
            self.mem.put(U + off, s.as_bytes());
            self.mem.put(U + off + s.len(), &[0]);
            (U + off) as u64
        }

        fn open(&mut self, path: &str, flags: u32) -> SysResult {
            let p = self.cstr(0x8000, path);
            self.call(|c| sys_openat(c, AT_FDCWD as u64, p, flags as u64, 0))
        }

        fn openat(&mut self, dfd: i64, path: &str, flags: u32) -> SysResult {
            let p = self.cstr(0x8000, path);
            self.call(|c| sys_openat(c, dfd as u64, p, flags as u64, 0o644))
        }

        fn read(&mut self, fd: u64, buf: u64, n: u64) -> SysResult {
            self.call(|c| sys_read(c, fd, buf, n))
        }

        fn stat_at(&mut self, off: usize) -> Stat {
            Stat::from_bytes(self.mem.bytes(U + off, 128)).unwrap()
        }

        /// Writes an iovec array at `U + off`.
        fn iovs(&mut self, off: usize, v: &[(u64, u64)]) -> u64 {
            for (i, &(b, l)) in v.iter().enumerate() {
                let iov = Iovec {
                    iov_base: b,
                    iov_len: l,
                };
                self.mem.put(U + off + 16 * i, iov.as_bytes());
            }
            (U + off) as u64
        }
    }

    fn neg(v: i64) -> u64 {
        v as u64
    }

    #[test]
    fn write_console_and_hostile_buffers() {
        let mut e = Env::new();
        e.mem.put(U, b"hello");
        let u = U as u64;
        assert_eq!(e.call(|c| sys_write(c, 1, u, 5)), Ok(5));
        assert_eq!(e.call(|c| sys_write(c, 2, u, 0)), Ok(0));
        // Upper 32 bits of an `unsigned int fd` are ignored.
        assert_eq!(e.call(|c| sys_write(c, (7 << 32) | 1, u, 1)), Ok(1));
        assert_eq!(*e.con.out.borrow(), b"helloh");
        assert_eq!(e.call(|c| sys_write(c, 1, 0, 5)), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_write(c, 1, 0, 0)), Ok(0));
        assert_eq!(e.call(|c| sys_write(c, 1, KERNEL, 0)), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_write(c, 1, UNMAPPED, 3)), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_write(c, 1, u, u64::MAX)), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_write(c, 1, u, neg(-1))), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_write(c, 9, u, 1)), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_write(c, neg(-1), u, 1)), Err(errno::EBADF));
        // A buffer running off the end of the mapping: what precedes the bad page is written.
        e.con.out.borrow_mut().clear();
        let tail = (U + LEN - 100) as u64;
        assert_eq!(e.call(|c| sys_write(c, 1, tail, 5000)), Ok(100));
        assert_eq!(e.con.out.borrow().len(), 100);
        // Bigger than one chunk, all mapped.
        assert_eq!(
            e.call(|c| sys_write(c, 1, u, 3 * 4096 + 7)),
            Ok(3 * 4096 + 7)
        );
        // A read-only /proc file is not writable.
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        assert_eq!(e.call(|c| sys_write(c, fd, u, 1)), Err(errno::EBADF));
    }

    #[test]
    fn read_console_is_eof_without_input() {
        let mut e = Env::new();
        let u = U as u64;
        assert_eq!(e.read(0, u, 100), Ok(0));
        e.con.input.borrow_mut().extend(b"hi\n");
        assert_eq!(e.read(0, 0, 3), Err(errno::EFAULT));
        assert_eq!(e.read(0, KERNEL, 3), Err(errno::EFAULT));
        assert_eq!(e.read(0, u, 0), Ok(0));
        e.con.input.borrow_mut().clear();
        e.con.input.borrow_mut().extend(b"hi\n");
        assert_eq!(e.read(0, u, 100), Ok(3));
        assert_eq!(e.mem.bytes(U, 3), b"hi\n");
        assert_eq!(e.read(0, u, 100), Ok(0));
        assert_eq!(e.read(3, u, 1), Err(errno::EBADF));
        // Huge counts are clamped, not refused, when the range is valid.
        assert_eq!(e.read(0, u, (MAX_RW_COUNT * 2) as u64), Ok(0));
    }

    #[test]
    fn snapshot_reads_partial_and_eof() {
        let mut e = Env::new();
        let want = maps_text().into_bytes();
        assert!(want.len() > 4096);
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        assert_eq!(fd, 3);
        let u = U as u64;
        assert_eq!(e.read(fd, u, 10), Ok(10));
        assert_eq!(e.mem.bytes(U, 10), &want[..10]);
        // The rest, across page-sized chunks.
        assert_eq!(e.read(fd, u + 10, 0x8000), Ok(want.len() - 10));
        assert_eq!(e.mem.bytes(U, want.len()), &want[..]);
        assert_eq!(e.read(fd, u, 100), Ok(0));
        // A buffer that ends part-way: the bytes that fit land, the position follows them.
        assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_SET as u64)), Ok(0));
        let tail = (U + LEN - 1000) as u64;
        assert_eq!(e.read(fd, tail, 3000), Ok(1000));
        assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(1000));
        // Wholly bad buffer: EFAULT and the position does not move.
        assert_eq!(e.read(fd, UNMAPPED, 10), Err(errno::EFAULT));
        assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(1000));
        // stat and status render too.
        let fd = e.open("/proc/self/stat", O_RDONLY).unwrap() as u64;
        let n = e.read(fd, u, 4096).unwrap();
        let text = core::str::from_utf8(e.mem.bytes(U, n)).unwrap();
        assert!(text.starts_with("42 (hello) R "));
        assert_eq!(text.split(' ').count(), 52);
        // A directory is not readable.
        let d = e.open("/proc/self", O_RDONLY).unwrap() as u64;
        assert_eq!(e.read(d, u, 10), Err(errno::EISDIR));
    }

    #[test]
    fn lseek_semantics() {
        let mut e = Env::new();
        let len = maps_text().len();
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        let seek = |e: &mut Env, fd: u64, off: i64, w: u32| {
            e.call(|c| sys_lseek(c, fd, off as u64, w as u64))
        };
        assert_eq!(seek(&mut e, fd, 5, SEEK_SET), Ok(5));
        assert_eq!(seek(&mut e, fd, 5, SEEK_CUR), Ok(10));
        assert_eq!(seek(&mut e, fd, -20, SEEK_CUR), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, -1, SEEK_SET), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, 0, SEEK_END), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, 0, SEEK_DATA), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, 0, 5), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, 0, u32::MAX), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, fd, 10, SEEK_CUR), Ok(20));
        assert_eq!(seek(&mut e, fd, i64::MAX, SEEK_CUR), Err(errno::EINVAL));
        // Past the end: allowed, reads return 0.
        assert_eq!(seek(&mut e, fd, len as i64 + 100, SEEK_SET), Ok(len + 100));
        assert_eq!(e.read(fd, U as u64, 10), Ok(0));
        assert_eq!(seek(&mut e, fd, len as i64 - 3, SEEK_SET), Ok(len - 3));
        assert_eq!(e.read(fd, U as u64, 10), Ok(3));
        // The console is not seekable; whence is checked first.
        assert_eq!(seek(&mut e, 1, 0, SEEK_SET), Err(errno::ESPIPE));
        assert_eq!(seek(&mut e, 1, 0, 9), Err(errno::EINVAL));
        assert_eq!(seek(&mut e, 77, 0, SEEK_SET), Err(errno::EBADF));
        // Directories: generic_file_llseek with size 0.
        let d = e.open("/proc", O_RDONLY).unwrap() as u64;
        assert_eq!(seek(&mut e, d, 3, SEEK_END), Ok(3));
        assert_eq!(seek(&mut e, d, 0, SEEK_DATA), Err(errno::ENXIO));
    }

    #[test]
    fn openat_paths_and_errors() {
        let mut e = Env::new();
        assert_eq!(e.open("/proc/self/maps", O_RDONLY), Ok(3));
        assert_eq!(e.open("/proc/42/status", O_RDONLY), Ok(4));
        assert_eq!(e.open("proc/self/stat", O_RDONLY), Ok(5));
        assert_eq!(e.open("/proc/41/status", O_RDONLY), Err(errno::ENOENT));
        assert_eq!(e.open("/etc/passwd", O_RDONLY), Err(errno::ENOENT));
        assert_eq!(e.open("", O_RDONLY), Err(errno::ENOENT));
        assert_eq!(e.open("/proc/self/maps/", O_RDONLY), Err(errno::ENOTDIR));
        assert_eq!(e.open("/proc/self/exe", O_RDONLY), Err(errno::ENOENT));
        assert_eq!(e.open("/proc/self/exe", O_NOFOLLOW), Err(errno::ELOOP));
        // Write access to /proc files.
        for f in [
            O_WRONLY,
            O_RDWR,
            O_ACCMODE,
            O_RDONLY | O_TRUNC,
            O_WRONLY | O_CREAT,
        ] {
            assert_eq!(e.open("/proc/self/maps", f), Err(errno::EACCES), "{f:o}");
        }
        assert_eq!(e.open("/proc/self/maps", O_CREAT), Ok(6));
        assert_eq!(
            e.open("/proc/self/maps", O_CREAT | O_EXCL),
            Err(errno::EEXIST)
        );
        assert_eq!(
            e.open("/proc/self/new", O_CREAT | O_WRONLY),
            Err(errno::EACCES)
        );
        assert_eq!(e.open("/new", O_CREAT | O_WRONLY), Err(errno::EROFS));
        assert_eq!(e.open("/nodir/new", O_CREAT), Err(errno::ENOENT));
        assert_eq!(e.open("/proc/self/maps/x", O_CREAT), Err(errno::ENOTDIR));
        assert_eq!(e.open("/proc", O_CREAT), Err(errno::EISDIR));
        assert_eq!(e.open("/proc/self/maps", O_DIRECTORY), Err(errno::ENOTDIR));
        assert_eq!(e.open("/proc", O_WRONLY), Err(errno::EISDIR));
        assert_eq!(e.open("/", O_RDONLY | O_TRUNC), Err(errno::EISDIR));
        assert_eq!(e.open("/", O_TMPFILE | O_RDWR), Err(errno::EOPNOTSUPP));
        assert_eq!(e.open("/", O_TMPFILE), Err(errno::EINVAL));
        assert_eq!(e.open("/", O_TMPFILE_BIT | O_RDWR), Err(errno::EINVAL));
        // O_PATH drops the access mode.
        let p = e.open("/proc/self/maps", O_PATH | O_WRONLY).unwrap();
        e.call(|c| sys_close(c, p as u64)).unwrap();
        // Directories open, and serve as dirfd.
        let d = e.open("/proc/self", O_RDONLY | O_DIRECTORY).unwrap() as i64;
        let m = e.openat(d, "maps", O_RDONLY).unwrap();
        assert!(matches!(
            e.files.get(m as u32).unwrap().file.lock().kind,
            FileKind::Snapshot {
                file: ProcFile::Maps,
                ..
            }
        ));
        assert_eq!(e.openat(d, "../self/status", O_RDONLY).map(|_| ()), Ok(()));
        assert_eq!(e.openat(1, "maps", O_RDONLY), Err(errno::ENOTDIR));
        assert_eq!(e.openat(900, "maps", O_RDONLY), Err(errno::EBADF));
        assert_eq!(e.openat(-1, "maps", O_RDONLY), Err(errno::EBADF));
        // An absolute path ignores dirfd, even a bad one; the dirfd is an `int`.
        assert!(e.openat(900, "/proc/self/maps", O_RDONLY).is_ok());
        assert!(e.openat(-100, "proc/self/maps", O_RDONLY).is_ok());
        assert!(e.openat(0x1_ffff_ff9c, "proc/self/maps", O_RDONLY).is_ok());
        // O_CLOEXEC lands on the descriptor, not the file flags.
        let c = e.open("/proc/self/maps", O_RDONLY | O_CLOEXEC).unwrap();
        let ent = e.files.get(c as u32).unwrap();
        assert!(ent.cloexec && ent.file.lock().flags & O_CLOEXEC == 0);
    }

    #[test]
    fn openat_hostile_paths_and_emfile() {
        let mut e = Env::new();
        let f = O_RDONLY as u64;
        assert_eq!(
            e.call(|c| sys_openat(c, neg(-100), 0, f, 0)),
            Err(errno::EFAULT)
        );
        assert_eq!(
            e.call(|c| sys_openat(c, neg(-100), KERNEL, f, 0)),
            Err(errno::EFAULT)
        );
        // Unterminated at the end of the mapping.
        e.mem.put(U + LEN - 4, b"/pro");
        let end = (U + LEN - 4) as u64;
        assert_eq!(
            e.call(|c| sys_openat(c, neg(-100), end, f, 0)),
            Err(errno::EFAULT)
        );
        // PATH_MAX.
        let long = alloc::format!("/{}", "a/".repeat(2047));
        assert_eq!(long.len(), 4095);
        assert_eq!(e.open(&long, O_RDONLY), Err(errno::ENOENT));
        let long = alloc::format!("{long}a");
        assert_eq!(e.open(&long, O_RDONLY), Err(errno::ENAMETOOLONG));
        // A full table: EMFILE even for a path that does not exist (checked before lookup).
        e.files.set_nofile(4).unwrap();
        assert_eq!(e.open("/proc/self/maps", O_RDONLY), Ok(3));
        assert_eq!(e.open("/proc/self/maps", O_RDONLY), Err(errno::EMFILE));
        assert_eq!(e.open("/nope", O_RDONLY), Err(errno::EMFILE));
        assert_eq!(e.open("", O_RDONLY), Err(errno::ENOENT));
        // Lowest free descriptor after close.
        e.call(|c| sys_close(c, 0)).unwrap();
        assert_eq!(e.open("/proc/self/status", O_RDONLY), Ok(0));
    }

    #[test]
    fn close_semantics() {
        let mut e = Env::new();
        assert_eq!(e.call(|c| sys_close(c, 1)), Ok(0));
        assert_eq!(e.call(|c| sys_close(c, 1)), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_close(c, neg(-1))), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_close(c, 4096)), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_close(c, (1 << 32) | 2)), Ok(0));
        assert_eq!(e.files.open_fds().collect::<Vec<_>>(), [0]);
        assert_eq!(e.call(|c| sys_write(c, 1, U as u64, 1)), Err(errno::EBADF));
    }

    #[test]
    fn fstat_console_and_proc() {
        let mut e = Env::new();
        let sb = (U + 0x1000) as u64;
        assert_eq!(e.call(|c| sys_fstat(c, 1, sb)), Ok(0));
        let st = e.stat_at(0x1000);
        assert_eq!(st.st_mode, S_IFCHR | 0o620);
        assert_eq!(st.st_rdev, 0x8800);
        assert_eq!(st.st_blksize, 1024);
        assert_eq!(st.st_size, 0);
        let fd = e.open("/proc/self/status", O_RDONLY).unwrap() as u64;
        e.call(|c| sys_fstat(c, fd, sb)).unwrap();
        let st = e.stat_at(0x1000);
        assert_eq!(st.st_mode, S_IFREG | 0o444);
        assert_eq!((st.st_size, st.st_blksize, st.st_dev), (0, 1024, PROC_DEV));
        let d = e.open("/proc/self", O_RDONLY).unwrap() as u64;
        e.call(|c| sys_fstat(c, d, sb)).unwrap();
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o555);
        assert_eq!(e.call(|c| sys_fstat(c, 99, sb)), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_fstat(c, 1, 0)), Err(errno::EFAULT));
        assert_eq!(
            e.call(|c| sys_fstat(c, 1, (U + LEN - 64) as u64)),
            Err(errno::EFAULT)
        );
        assert_eq!(e.call(|c| sys_fstat(c, 1, KERNEL)), Err(errno::EFAULT));
    }

    #[test]
    fn newfstatat_forms() {
        let mut e = Env::new();
        let sb = (U + 0x1000) as u64;
        let empty = e.cstr(0x100, "");
        let ep = AT_EMPTY_PATH as u64;
        // glibc's fstat.
        assert_eq!(e.call(|c| sys_newfstatat(c, 1, empty, sb, ep)), Ok(0));
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFCHR | 0o620);
        // Linux 6.11+: NULL path with AT_EMPTY_PATH.
        assert_eq!(e.call(|c| sys_newfstatat(c, 2, 0, sb, ep)), Ok(0));
        assert_eq!(
            e.call(|c| sys_newfstatat(c, 1, empty, sb, 0)),
            Err(errno::ENOENT)
        );
        assert_eq!(
            e.call(|c| sys_newfstatat(c, 1, 0, sb, 0)),
            Err(errno::EFAULT)
        );
        assert_eq!(
            e.call(|c| sys_newfstatat(c, 50, empty, sb, ep)),
            Err(errno::EBADF)
        );
        assert_eq!(
            e.call(|c| sys_newfstatat(c, neg(-100), empty, sb, ep)),
            Ok(0)
        );
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o755);
        let p = e.cstr(0x200, "/proc/self/maps");
        assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)), Ok(0));
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFREG | 0o444);
        assert_eq!(
            e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0x8000)),
            Err(errno::EINVAL)
        );
        assert_eq!(
            e.call(|c| sys_newfstatat(c, neg(-100), p, 0, 0)),
            Err(errno::EFAULT)
        );
        let p = e.cstr(0x200, "/proc/self");
        let nf = AT_SYMLINK_NOFOLLOW as u64;
        assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, nf)), Ok(0));
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFLNK | 0o777);
        assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)), Ok(0));
        assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o555);
        let p = e.cstr(0x200, "/dev/null");
        assert_eq!(
            e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)),
            Err(errno::ENOENT)
        );
    }

    #[test]
    fn ioctl_terminal() {
        let mut e = Env::new();
        let a = (U + 0x2000) as u64;
        assert_eq!(e.call(|c| sys_ioctl(c, 0, TCGETS as u64, a)), Ok(0));
        assert_eq!(
            e.mem.bytes(U + 0x2000, 36),
            Termios::linux_default().as_bytes()
        );
        assert_eq!(e.call(|c| sys_ioctl(c, 1, TIOCGWINSZ as u64, a)), Ok(0));
        let ws = Winsize::from_bytes(e.mem.bytes(U + 0x2000, 8)).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (24, 80));
        // Upper bits of the `unsigned int cmd` are ignored.
        assert_eq!(
            e.call(|c| sys_ioctl(c, 2, (5 << 32) | TCGETS as u64, a)),
            Ok(0)
        );
        // TCSETS round trip.
        let mut t = Termios::linux_default();
        t.c_lflag = 0;
        e.mem.put(U + 0x2000, t.as_bytes());
        assert_eq!(e.call(|c| sys_ioctl(c, 0, TCSETSW as u64, a)), Ok(0));
        e.mem.put(U + 0x2000, &[0xff; 36]);
        assert_eq!(e.call(|c| sys_ioctl(c, 1, TCGETS as u64, a)), Ok(0));
        assert_eq!(Termios::from_bytes(e.mem.bytes(U + 0x2000, 36)), Some(t));
        assert_eq!(
            e.call(|c| sys_ioctl(c, 0, TCGETS as u64, 0)),
            Err(errno::EFAULT)
        );
        assert_eq!(
            e.call(|c| sys_ioctl(c, 0, TCSETS as u64, KERNEL)),
            Err(errno::EFAULT)
        );
        assert_eq!(e.call(|c| sys_ioctl(c, 0, 0x1234, a)), Err(errno::ENOTTY));
        assert_eq!(
            e.call(|c| sys_ioctl(c, 9, TCGETS as u64, a)),
            Err(errno::EBADF)
        );
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        assert_eq!(
            e.call(|c| sys_ioctl(c, fd, TCGETS as u64, a)),
            Err(errno::ENOTTY)
        );
        assert_eq!(
            e.call(|c| sys_ioctl(c, fd, TIOCGWINSZ as u64, a)),
            Err(errno::ENOTTY)
        );
        // Generic requests work on any descriptor.
        assert_eq!(e.call(|c| sys_ioctl(c, fd, FIOCLEX as u64, 0)), Ok(0));
        assert!(e.files.get(fd as u32).unwrap().cloexec);
        assert_eq!(e.call(|c| sys_ioctl(c, fd, FIONCLEX as u64, 0)), Ok(0));
        assert!(!e.files.get(fd as u32).unwrap().cloexec);
        e.mem.put(U + 0x2000, &1i32.to_le_bytes());
        assert_eq!(e.call(|c| sys_ioctl(c, 1, FIONBIO as u64, a)), Ok(0));
        assert_ne!(e.files.get(1).unwrap().file.lock().flags & O_NONBLOCK, 0);
        assert_eq!(
            e.call(|c| sys_ioctl(c, 1, FIONBIO as u64, 0)),
            Err(errno::EFAULT)
        );
    }

    #[test]
    fn readlinkat_exe_and_self() {
        let mut e = Env::new();
        let buf = (U + 0x3000) as u64;
        let p = e.cstr(0x100, "/proc/self/exe");
        let rl = |e: &mut Env, dfd: i64, p: u64, b: u64, n: i64| {
            e.call(|c| sys_readlinkat(c, dfd as u64, p, b, n as u64))
        };
        e.mem.put(U + 0x3000, &[0xaa; 32]);
        assert_eq!(rl(&mut e, -100, p, buf, 64), Ok(EXE.len()));
        assert_eq!(e.mem.bytes(U + 0x3000, EXE.len() + 1), b"/bin/hello\xaa");
        assert_eq!(rl(&mut e, -100, p, buf, 4), Ok(4));
        assert_eq!(rl(&mut e, -100, p, buf, 0), Err(errno::EINVAL));
        assert_eq!(rl(&mut e, -100, p, buf, -1), Err(errno::EINVAL));
        // `int bufsiz`: 2^32 + 3 is 3.
        assert_eq!(rl(&mut e, -100, p, buf, (1 << 32) + 3), Ok(3));
        // EINVAL for the size comes before the path is even read.
        assert_eq!(rl(&mut e, -100, 0, buf, 0), Err(errno::EINVAL));
        assert_eq!(rl(&mut e, -100, 0, buf, 10), Err(errno::EFAULT));
        assert_eq!(rl(&mut e, -100, p, 0, 10), Err(errno::EFAULT));
        assert_eq!(rl(&mut e, -100, p, KERNEL, 10), Err(errno::EFAULT));
        let s = e.cstr(0x100, "/proc/self");
        assert_eq!(rl(&mut e, -100, s, buf, 64), Ok(2));
        assert_eq!(e.mem.bytes(U + 0x3000, 2), b"42");
        let m = e.cstr(0x100, "/proc/self/maps");
        assert_eq!(rl(&mut e, -100, m, buf, 64), Err(errno::EINVAL));
        let n = e.cstr(0x100, "/proc/self/cwd");
        assert_eq!(rl(&mut e, -100, n, buf, 64), Err(errno::ENOENT));
        let empty = e.cstr(0x100, "");
        assert_eq!(rl(&mut e, 1, empty, buf, 64), Err(errno::ENOENT));
        assert_eq!(rl(&mut e, 50, empty, buf, 64), Err(errno::EBADF));
        // Relative to a directory descriptor.
        let d = e.open("/proc/self", O_RDONLY).unwrap() as i64;
        let x = e.cstr(0x100, "exe");
        assert_eq!(rl(&mut e, d, x, buf, 64), Ok(EXE.len()));
    }

    /// Writes `pollfd`s at `U + 0x4000`.
    fn pollfds(e: &mut Env, v: &[(i32, u16)]) -> u64 {
        for (i, &(fd, ev)) in v.iter().enumerate() {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&fd.to_le_bytes());
            b[4..6].copy_from_slice(&ev.to_le_bytes());
            b[6..].copy_from_slice(&0xffffu16.to_le_bytes());
            e.mem.put(U + 0x4000 + 8 * i, &b);
        }
        (U + 0x4000) as u64
    }

    fn revents(e: &Env, i: usize) -> u16 {
        let b = e.mem.bytes(U + 0x4000 + 8 * i + 6, 2);
        u16::from_le_bytes([b[0], b[1]])
    }

    fn put_ts(e: &mut Env, sec: i64, nsec: i64) -> u64 {
        let ts = Timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        e.mem.put(U + 0x5000, ts.as_bytes());
        (U + 0x5000) as u64
    }

    #[test]
    fn ppoll_musl_startup_probe() {
        let mut e = Env::new();
        e.call(|c| sys_close(c, 2)).unwrap();
        // musl's std: poll fds 0-2 with events 0 and timeout 0, looking for POLLNVAL.
        let fds = pollfds(&mut e, &[(0, 0), (1, 0), (2, 0)]);
        let ts = put_ts(&mut e, 0, 0);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 3, ts, 0, 8)), Ok(1));
        assert_eq!(
            [revents(&e, 0), revents(&e, 1), revents(&e, 2)],
            [0, 0, POLLNVAL]
        );
        assert!(e.sleep.blocks.borrow().is_empty());
        // Readiness filtered by events; negative fds ignored.
        let ev = POLLIN | POLLOUT | POLLPRI;
        let fds = pollfds(
            &mut e,
            &[(0, POLLIN), (1, POLLOUT), (-1, ev), (7, 0), (1, ev)],
        );
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 5, ts, 0, 8)), Ok(4));
        assert_eq!(
            (0..5).map(|i| revents(&e, i)).collect::<Vec<_>>(),
            [POLLIN, POLLOUT, 0, POLLNVAL, POLLIN | POLLOUT]
        );
        // fd and events are left as they were.
        assert_eq!(
            e.mem.bytes(U + 0x4000 + 16, 6),
            &[0xff, 0xff, 0xff, 0xff, 7, 0]
        );
        assert!(e.sleep.blocks.borrow().is_empty());
    }

    #[test]
    fn ppoll_sleeps_and_validates() {
        let mut e = Env::new();
        let ts = put_ts(&mut e, 1, 5);
        // Nothing to wait for: the caller is parked until the deadline, nothing written back.
        let wait = Err(errno::EWOULDBLOCK_RESTART);
        assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), wait);
        assert_eq!(
            e.sleep.blocks.borrow()[0],
            (Some(1_000_000_005), false, None)
        );
        assert_eq!(e.mem.bytes(U + 0x5000, 16)[..1], [1]);
        // Woken early, it waits on for the same deadline; at the deadline it returns 0 and stores
        // the remaining time (0).
        e.sleep.now.set(500_000_000);
        assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), wait);
        assert_eq!(
            e.sleep.blocks.borrow()[1],
            (Some(1_000_000_005), false, None)
        );
        e.sleep.now.set(1_000_000_005);
        assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), Ok(0));
        assert_eq!(e.mem.bytes(U + 0x5000, 16), &[0; 16]);
        assert_eq!(e.sleep.deadline.get(), None);
        // No timeout at all: wait for a signal only, with the temporary mask.
        let mask = (U + 0x6000) as u64;
        e.mem.put(U + 0x6000, &0x4000u64.to_le_bytes());
        let fds = pollfds(&mut e, &[(-5, POLLIN)]);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, 0, mask, 8)), wait);
        assert_eq!(e.sleep.blocks.borrow()[2], (None, false, Some(0x4000)));
        assert_eq!(revents(&e, 0), 0);
        // Argument checks.
        let bad = put_ts(&mut e, 0, 1_000_000_000);
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, bad, 0, 0)),
            Err(errno::EINVAL)
        );
        let bad = put_ts(&mut e, -1, 0);
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, bad, 0, 0)),
            Err(errno::EINVAL)
        );
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, UNMAPPED, 0, 0)),
            Err(errno::EFAULT)
        );
        let ts = put_ts(&mut e, 0, 0);
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, ts, mask, 16)),
            Err(errno::EINVAL)
        );
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, ts, KERNEL, 8)),
            Err(errno::EFAULT)
        );
        assert_eq!(e.call(|c| sys_ppoll(c, 0, 1, ts, 0, 0)), Err(errno::EFAULT));
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1025, ts, 0, 0)),
            Err(errno::EINVAL)
        );
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, neg(-1), ts, 0, 0)),
            Err(errno::EINVAL)
        );
        // `unsigned int nfds`: 2^32 + 1 is 1.
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, (1 << 32) + 1, ts, 0, 0)),
            Ok(0)
        );
        assert_eq!(e.sleep.blocks.borrow().len(), 3);
    }

    #[test]
    fn writev_gather_and_partial() {
        let mut e = Env::new();
        e.mem.put(U + 0x100, b"hello, ");
        e.mem.put(U + 0x200, b"world\n");
        let a = (U + 0x100) as u64;
        let b = (U + 0x200) as u64;
        let wv = |e: &mut Env, fd: u64, iov: u64, n: u64| e.call(|c| sys_writev(c, fd, iov, n));
        let iov = e.iovs(0x1000, &[(a, 7), (0, 0), (b, 6)]);
        assert_eq!(wv(&mut e, 1, iov, 3), Ok(13));
        assert_eq!(*e.con.out.borrow(), b"hello, world\n");
        // A bad segment in the middle: the bytes before it count.
        e.con.out.borrow_mut().clear();
        let iov = e.iovs(0x1000, &[(a, 7), (UNMAPPED, 5), (b, 6)]);
        assert_eq!(wv(&mut e, 1, iov, 3), Ok(7));
        assert_eq!(*e.con.out.borrow(), b"hello, ");
        // ... and nothing written is EFAULT.
        let iov = e.iovs(0x1000, &[(UNMAPPED, 5), (b, 6)]);
        assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EFAULT));
        // A segment outside user space fails the whole call before anything is written.
        e.con.out.borrow_mut().clear();
        let iov = e.iovs(0x1000, &[(a, 7), (KERNEL, 5)]);
        assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EFAULT));
        // A negative length is EINVAL with several segments...
        let iov = e.iovs(0x1000, &[(a, 7), (b, neg(-1))]);
        assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EINVAL));
        assert!(e.con.out.borrow().is_empty());
        // ... but one segment is clamped to MAX_RW_COUNT (`import_ubuf`), then written until
        // the mapping ends.
        let iov = e.iovs(0x1000, &[(a, neg(-1))]);
        assert_eq!(wv(&mut e, 1, iov, 1), Ok(LEN - 0x100));
        // Counts.
        assert_eq!(wv(&mut e, 1, iov, 0), Ok(0));
        assert_eq!(wv(&mut e, 1, iov, 1 << 32), Ok(0));
        assert_eq!(wv(&mut e, 1, iov, 1025), Err(errno::EINVAL));
        assert_eq!(wv(&mut e, 1, iov, neg(-1)), Err(errno::EINVAL));
        // An unreadable vector.
        assert_eq!(wv(&mut e, 1, UNMAPPED, 2), Err(errno::EFAULT));
        assert_eq!(wv(&mut e, 1, 0, 1), Err(errno::EFAULT));
        assert_eq!(wv(&mut e, 1, (U + LEN - 16) as u64, 2), Err(errno::EFAULT));
        // Descriptor checks come first.
        assert_eq!(wv(&mut e, 9, UNMAPPED, 5000), Err(errno::EBADF));
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        assert_eq!(wv(&mut e, fd, iov, 1), Err(errno::EBADF));
        // 1024 zero-length segments are fine.
        let zero = vec![(a, 0u64); 1024];
        let iov = e.iovs(0x1000, &zero);
        assert_eq!(wv(&mut e, 1, iov, 1024), Ok(0));
    }

    #[test]
    fn readv_scatter() {
        let mut e = Env::new();
        let want = maps_text().into_bytes();
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        let (a, b) = ((U + 0x100) as u64, (U + 0x200) as u64);
        let iov = e.iovs(0x1000, &[(a, 10), (b, 20)]);
        assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(30));
        assert_eq!(e.mem.bytes(U + 0x100, 10), &want[..10]);
        assert_eq!(e.mem.bytes(U + 0x200, 20), &want[10..30]);
        // A bad middle segment: the first one's bytes count, the position follows them.
        let iov = e.iovs(0x1000, &[(a, 10), (UNMAPPED, 20), (b, 5)]);
        assert_eq!(e.call(|c| sys_readv(c, fd, iov, 3)), Ok(10));
        assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(40));
        // Short at end of file.
        let big = (U + 0x8000) as u64;
        let iov = e.iovs(0x1000, &[(big, 0x7000), (a, 10)]);
        assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(want.len() - 40));
        assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(0));
        // Console at EOF; write-only checks; directories.
        assert_eq!(e.call(|c| sys_readv(c, 0, iov, 2)), Ok(0));
        assert_eq!(e.call(|c| sys_readv(c, 0, iov, 2000)), Err(errno::EINVAL));
        let d = e.open("/proc", O_RDONLY).unwrap() as u64;
        assert_eq!(e.call(|c| sys_readv(c, d, iov, 2)), Err(errno::EISDIR));
    }

    #[test]
    fn faccessat_modes() {
        let mut e = Env::new();
        let acc = |e: &mut Env, dfd: i64, p: &str, mode: u32, flags: u32| {
            let p = e.cstr(0x100, p);
            e.call(|c| sys_faccessat2(c, dfd as u64, p, mode as u64, flags as u64))
        };
        assert_eq!(acc(&mut e, -100, "/proc/self/maps", R_OK, 0), Ok(0));
        assert_eq!(acc(&mut e, -100, "/proc/self/maps", F_OK, 0), Ok(0));
        assert_eq!(
            acc(&mut e, -100, "/proc/self/maps", W_OK, 0),
            Err(errno::EACCES)
        );
        assert_eq!(
            acc(&mut e, -100, "/proc/self/maps", X_OK, 0),
            Err(errno::EACCES)
        );
        assert_eq!(acc(&mut e, -100, "/proc/self", R_OK | X_OK, 0), Ok(0));
        assert_eq!(acc(&mut e, -100, "/", W_OK, 0), Err(errno::EROFS));
        assert_eq!(acc(&mut e, -100, "/tmp", F_OK, 0), Err(errno::ENOENT));
        assert_eq!(
            acc(&mut e, -100, "/proc/self/maps", 8, 0),
            Err(errno::EINVAL)
        );
        assert_eq!(acc(&mut e, -100, "/proc", R_OK, 0x4), Err(errno::EINVAL));
        assert_eq!(acc(&mut e, 1, "", R_OK | W_OK, AT_EMPTY_PATH), Ok(0));
        assert_eq!(acc(&mut e, 1, "", R_OK, 0), Err(errno::ENOENT));
        assert_eq!(acc(&mut e, 33, "", R_OK, AT_EMPTY_PATH), Err(errno::EBADF));
        // faccessat through dispatch (no flags argument).
        let p = e.cstr(0x100, "/proc/self/status");
        let r = e.call(|c| dispatch(c, SYS_faccessat, [neg(-100), p, R_OK as u64, 0xdead, 0, 0]));
        assert_eq!(r, Some(Ok(0)));
    }

    #[test]
    fn dispatch_routes() {
        let mut e = Env::new();
        e.mem.put(U, b"x");
        let r = e.call(|c| dispatch(c, SYS_write, [1, U as u64, 1, 0, 0, 0]));
        assert_eq!(r, Some(Ok(1)));
        assert_eq!(e.call(|c| dispatch(c, SYS_brk, [0; 6])), None);
        let p = e.cstr(0x100, "/proc/self/status");
        let r = e.call(|c| dispatch(c, SYS_openat, [neg(-100), p, 0, 0, 0, 0]));
        assert_eq!(r, Some(Ok(3)));
        assert_eq!(
            e.call(|c| dispatch(c, SYS_close, [3, 0, 0, 0, 0, 0])),
            Some(Ok(0))
        );
    }

    /// Where the pipe tests keep `int fds[2]` and their 16 KiB data buffer.
    use crate::fs::pipe::PIPE_BUF;

    const FDS: usize = U + 0x9000;
    const DATA: usize = U + 0xa000;
    const DATA_LEN: usize = 0x4000;

    impl Env {
        /// `pipe2(fds, flags)`, returning the two descriptors.
        fn pipe(&mut self, flags: u32) -> (u64, u64) {
            assert_eq!(self.call(|c| sys_pipe2(c, FDS as u64, flags as u64)), Ok(0));
            let b = self.mem.bytes(FDS, 8);
            let r = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let w = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            (r as u64, w as u64)
        }

        fn write(&mut self, fd: u64, buf: usize, n: usize) -> SysResult {
            self.call(|c| sys_write(c, fd, buf as u64, n as u64))
        }

        fn fcntl(&mut self, fd: u64, cmd: u32, arg: u64) -> SysResult {
            self.call(|c| sys_fcntl(c, fd, cmd as u64, arg))
        }

        /// Writes `total` bytes of `byte` to `fd` in `DATA_LEN` pieces.
        fn fill(&mut self, fd: u64, total: usize, byte: u8) {
            self.mem.put(DATA, &[byte; DATA_LEN]);
            let mut left = total;
            while left > 0 {
                let n = left.min(DATA_LEN);
                assert_eq!(self.write(fd, DATA, n), Ok(n));
                left -= n;
            }
        }

        /// Reads everything available from a non-empty pipe; returns the byte count.
        fn drain(&mut self, fd: u64) -> usize {
            let mut total = 0;
            loop {
                match self.read(fd, DATA as u64, DATA_LEN as u64) {
                    Ok(0) => return total,
                    Ok(n) => total += n,
                    Err(_) => return total,
                }
            }
        }
    }

    #[test]
    fn pipe_round_trip_and_end_checks() {
        let mut e = Env::new();
        let (r, w) = e.pipe(0);
        assert_eq!((r, w), (3, 4));
        assert!(!e.files.get(3).unwrap().cloexec && !e.files.get(4).unwrap().cloexec);
        e.mem.put(U + 0x100, b"hello, pipe");
        assert_eq!(e.write(w, U + 0x100, 11), Ok(11));
        // FIONREAD on either end.
        let a = (U + 0xf000) as u64;
        assert_eq!(e.call(|c| sys_ioctl(c, r, FIONREAD as u64, a)), Ok(0));
        assert_eq!(e.mem.bytes(U + 0xf000, 4), &11i32.to_le_bytes());
        assert_eq!(
            e.call(|c| sys_ioctl(c, r, TCGETS as u64, a)),
            Err(errno::ENOTTY)
        );
        assert_eq!(e.read(r, (U + 0x200) as u64, 5), Ok(5));
        assert_eq!(e.read(r, (U + 0x205) as u64, 100), Ok(6));
        assert_eq!(e.mem.bytes(U + 0x200, 11), b"hello, pipe");
        // Each end only works its own way; neither seeks.
        assert_eq!(e.read(w, U as u64, 1), Err(errno::EBADF));
        assert_eq!(e.write(r, U, 1), Err(errno::EBADF));
        assert_eq!(
            e.call(|c| sys_lseek(c, r, 0, SEEK_CUR as u64)),
            Err(errno::ESPIPE)
        );
        assert_eq!(
            e.call(|c| sys_lseek(c, w, 0, SEEK_SET as u64)),
            Err(errno::ESPIPE)
        );
        // Status flags: no O_LARGEFILE on pipes.
        assert_eq!(e.fcntl(r, F_GETFL, 0), Ok(O_RDONLY as usize));
        assert_eq!(e.fcntl(w, F_GETFL, 0), Ok(O_WRONLY as usize));
        assert_eq!(e.fcntl(w, F_GETPIPE_SZ, 0), Ok(65536));
        assert_eq!(e.fcntl(1, F_GETPIPE_SZ, 0), Err(errno::EBADF));
        // fstat: a FIFO, both ends the same inode; fstatat(AT_EMPTY_PATH) agrees.
        let sb = (U + 0x3000) as u64;
        assert_eq!(e.call(|c| sys_fstat(c, r, sb)), Ok(0));
        let st = e.stat_at(0x3000);
        assert_eq!(st.st_mode, S_IFIFO | 0o600);
        assert_eq!((st.st_blksize, st.st_nlink, st.st_size), (4096, 1, 0));
        let empty = e.cstr(0x100, "");
        assert_eq!(
            e.call(|c| sys_newfstatat(c, w, empty, sb, AT_EMPTY_PATH as u64)),
            Ok(0)
        );
        assert_eq!(e.stat_at(0x3000), st);
        // Count 0 reads and writes nothing, even with bad buffers in user space.
        assert_eq!(e.read(r, 0, 0), Ok(0));
        assert_eq!(e.write(w, 0, 0), Ok(0));
        assert_eq!(e.read(r, KERNEL, 1), Err(errno::EFAULT));
        // Through dispatch.
        let r2 = e.call(|c| dispatch(c, SYS_pipe2, [FDS as u64, 0, 0, 0, 0, 0]));
        assert_eq!(r2, Some(Ok(0)));
        assert_eq!(e.mem.bytes(FDS, 8), &[5, 0, 0, 0, 6, 0, 0, 0]);
    }

    #[test]
    fn pipe_eof_and_epipe() {
        let mut e = Env::new();
        let (r, w) = e.pipe(0);
        e.mem.put(U, b"abc");
        assert_eq!(e.write(w, U, 3), Ok(3));
        // A dup of the write end keeps the writer alive.
        let w2 = e.call(|c| sys_dup(c, w)).unwrap() as u64;
        e.call(|c| sys_close(c, w)).unwrap();
        assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(3));
        assert_eq!(
            e.read(r, (U + 0x100) as u64, 10),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        e.call(|c| sys_close(c, w2)).unwrap();
        // Now end of file, blocking or not.
        assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(0));
        e.call(|c| sys_fcntl(c, r, F_SETFL as u64, O_NONBLOCK as u64))
            .unwrap();
        assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(0));

        let (r, w) = e.pipe(O_NONBLOCK);
        e.call(|c| sys_close(c, r)).unwrap();
        let res = e.write(w, U, 3);
        assert_eq!(res, Err(errno::EPIPE));
        assert!(raises_sigpipe(SYS_write, &res));
        let iov = e.iovs(0x1000, &[(U as u64, 3)]);
        let res = e.call(|c| dispatch(c, SYS_writev, [w, iov, 1, 0, 0, 0]).unwrap());
        assert_eq!(res, Err(errno::EPIPE));
        assert!(raises_sigpipe(SYS_writev, &res));
        assert!(!raises_sigpipe(SYS_read, &res));
        assert!(!raises_sigpipe(SYS_write, &Err(errno::EAGAIN)));
        // A null write succeeds even without readers (no signal either).
        assert_eq!(e.write(w, U, 0), Ok(0));
    }

    #[test]
    fn pipe_blocking_sentinel_and_nonblock() {
        let mut e = Env::new();
        let (r, w) = e.pipe(0);
        // Empty, writer open: the read must sleep, and nothing was written to the buffer.
        e.mem.put(U + 0x100, &[0xaa; 8]);
        let ev = crate::fs::pipe::events();
        assert_eq!(
            e.read(r, (U + 0x100) as u64, 8),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        assert_eq!(e.mem.bytes(U + 0x100, 8), &[0xaa; 8]);
        assert_eq!(interrupted_errno(SYS_read), errno::ERESTARTSYS);
        assert_eq!(interrupted_errno(SYS_ppoll), errno::ERESTARTNOHAND);
        // A write is the event that wakes it; the restarted read then succeeds.
        e.mem.put(U, b"xyz");
        assert_eq!(e.write(w, U, 3), Ok(3));
        assert_ne!(crate::fs::pipe::events(), ev);
        assert_eq!(e.read(r, (U + 0x100) as u64, 8), Ok(3));
        // Fill it: 64 KiB fit, then writers must sleep (or get EAGAIN).
        e.fill(w, PIPE_SIZE, 7);
        assert_eq!(e.write(w, U, 1), Err(errno::EWOULDBLOCK_RESTART));
        assert_eq!(e.write(w, DATA, DATA_LEN), Err(errno::EWOULDBLOCK_RESTART));
        e.fcntl(w, F_SETFL, O_NONBLOCK as u64).unwrap();
        assert_eq!(e.fcntl(w, F_GETFL, 0), Ok((O_WRONLY | O_NONBLOCK) as usize));
        assert_eq!(e.write(w, U, 1), Err(errno::EAGAIN));
        // The flag belongs to the description: the read end is still blocking.
        assert_eq!(e.drain(r), PIPE_SIZE);
        assert_eq!(
            e.read(r, (U + 0x100) as u64, 8),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        // FIONBIO sets it too.
        e.mem.put(U + 0xf000, &1i32.to_le_bytes());
        assert_eq!(
            e.call(|c| sys_ioctl(c, r, FIONBIO as u64, (U + 0xf000) as u64)),
            Ok(0)
        );
        assert_eq!(e.read(r, (U + 0x100) as u64, 8), Err(errno::EAGAIN));
    }

    #[test]
    fn pipe_buf_atomicity_and_big_writes() {
        let mut e = Env::new();
        let (r, w) = e.pipe(O_NONBLOCK);
        // Leave PIPE_BUF - 1 bytes free.
        e.fill(w, PIPE_SIZE - (PIPE_BUF - 1), 1);
        e.mem.put(DATA, &[2; DATA_LEN]);
        // An atomic write that does not fit goes nowhere...
        assert_eq!(e.write(w, DATA, PIPE_BUF), Err(errno::EAGAIN));
        e.fcntl(w, F_SETFL, 0).unwrap();
        assert_eq!(e.write(w, DATA, PIPE_BUF), Err(errno::EWOULDBLOCK_RESTART));
        // ... a bigger one writes what fits and returns the short count (blocking or not).
        assert_eq!(e.write(w, DATA, PIPE_BUF + 1), Ok(PIPE_BUF - 1));
        assert_eq!(e.drain(r), PIPE_SIZE);
        // A small write that fits goes in whole.
        assert_eq!(e.write(w, DATA, PIPE_BUF), Ok(PIPE_BUF));
        // A buffer running off the end of the mapping: the bytes before the hole count.
        e.drain(r);
        let tail = U + LEN - 100;
        assert_eq!(e.write(w, tail, 5000), Ok(100));
        assert_eq!(e.write(w, UNMAPPED as usize, 10), Err(errno::EFAULT));
        // A read into a buffer that ends early keeps the rest in the pipe.
        assert_eq!(e.read(r, (U + LEN - 30) as u64, 100), Ok(30));
        assert_eq!(e.read(r, UNMAPPED, 100), Err(errno::EFAULT));
        assert_eq!(e.drain(r), 70);
    }

    #[test]
    fn pipe_readv_writev() {
        let mut e = Env::new();
        let (r, w) = e.pipe(0);
        e.mem.put(U + 0x100, b"hello, ");
        e.mem.put(U + 0x200, b"world");
        let (a, b) = ((U + 0x100) as u64, (U + 0x200) as u64);
        let iov = e.iovs(0x1000, &[(a, 7), (0, 0), (b, 5)]);
        assert_eq!(e.call(|c| sys_writev(c, w, iov, 3)), Ok(12));
        // Scatter the 12 bytes over 5 + 5 + 10.
        let (x, y, z) = ((U + 0x300) as u64, (U + 0x400) as u64, (U + 0x500) as u64);
        let iov = e.iovs(0x1000, &[(x, 5), (y, 5), (z, 10)]);
        assert_eq!(e.call(|c| sys_readv(c, r, iov, 3)), Ok(12));
        assert_eq!(e.mem.bytes(U + 0x300, 5), b"hello");
        assert_eq!(e.mem.bytes(U + 0x400, 5), b", wor");
        assert_eq!(e.mem.bytes(U + 0x500, 2), b"ld");
        assert_eq!(
            e.call(|c| sys_readv(c, r, iov, 3)),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        // A gathered write of at most PIPE_BUF bytes is atomic as a whole.
        e.fill(w, PIPE_SIZE - 3000, 1);
        let d = DATA as u64;
        let iov = e.iovs(0x1000, &[(d, 2000), (d, 2000)]);
        assert_eq!(
            e.call(|c| sys_writev(c, w, iov, 2)),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        let iov = e.iovs(0x1000, &[(d, 1000), (d, 2000)]);
        assert_eq!(e.call(|c| sys_writev(c, w, iov, 2)), Ok(3000));
    }

    #[test]
    fn pipe2_flags_and_failures() {
        let mut e = Env::new();
        let (r, w) = e.pipe(O_CLOEXEC | O_NONBLOCK);
        assert_eq!(e.fcntl(r, F_GETFD, 0), Ok(FD_CLOEXEC as usize));
        assert_eq!(e.fcntl(w, F_GETFD, 0), Ok(FD_CLOEXEC as usize));
        assert_eq!(e.fcntl(r, F_GETFL, 0), Ok((O_RDONLY | O_NONBLOCK) as usize));
        assert_eq!(e.read(r, U as u64, 1), Err(errno::EAGAIN));
        let p2 = |e: &mut Env, fds: u64, flags: u64| e.call(|c| sys_pipe2(c, fds, flags));
        for bad in [O_DIRECT, O_EXCL, 1, O_APPEND, 0x8000_0000] {
            assert_eq!(p2(&mut e, FDS as u64, bad as u64), Err(errno::EINVAL));
        }
        // `int flags`: upper bits ignored.
        assert_eq!(p2(&mut e, FDS as u64, 1 << 32), Ok(0));
        let before: Vec<u32> = e.files.open_fds().collect();
        // An unwritable fds array: both descriptors are closed again.
        assert_eq!(p2(&mut e, UNMAPPED, 0), Err(errno::EFAULT));
        assert_eq!(p2(&mut e, KERNEL, 0), Err(errno::EFAULT));
        assert_eq!(p2(&mut e, (U + LEN - 4) as u64, 0), Err(errno::EFAULT));
        assert_eq!(e.files.open_fds().collect::<Vec<_>>(), before);
        // Room for only one descriptor: EMFILE and nothing left behind.
        e.files.set_nofile(before.len() as u64 + 1).unwrap();
        assert_eq!(p2(&mut e, FDS as u64, 0), Err(errno::EMFILE));
        assert_eq!(e.files.open_fds().collect::<Vec<_>>(), before);
    }

    #[test]
    fn dup_dup3_and_shared_offsets() {
        let mut e = Env::new();
        let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        assert_eq!(e.read(fd, U as u64, 10), Ok(10));
        let d = e.call(|c| sys_dup(c, fd)).unwrap() as u64;
        assert_eq!(d, 4);
        // One open file description: the offset moves for both.
        assert_eq!(e.call(|c| sys_lseek(c, d, 0, SEEK_CUR as u64)), Ok(10));
        assert_eq!(e.read(d, U as u64, 5), Ok(5));
        assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(15));
        assert_eq!(e.call(|c| sys_dup(c, 99)), Err(errno::EBADF));
        assert_eq!(e.call(|c| sys_dup(c, (1 << 32) | fd)), Ok(5));
        // dup3: onto a free slot far up, with close-on-exec.
        let dup3 = |e: &mut Env, o: u64, n: u64, f: u64| e.call(|c| sys_dup3(c, o, n, f));
        assert_eq!(dup3(&mut e, fd, 100, O_CLOEXEC as u64), Ok(100));
        assert!(e.files.get(100).unwrap().cloexec);
        assert_eq!(e.call(|c| sys_lseek(c, 100, 0, SEEK_CUR as u64)), Ok(15));
        // Onto an open descriptor: it is closed silently, no cloexec.
        assert_eq!(dup3(&mut e, fd, 1, 0), Ok(1));
        assert!(!e.files.get(1).unwrap().cloexec);
        assert_eq!(e.call(|c| sys_lseek(c, 1, 0, SEEK_CUR as u64)), Ok(15));
        // Errors, in Linux's order.
        assert_eq!(dup3(&mut e, fd, fd, 0), Err(errno::EINVAL));
        assert_eq!(dup3(&mut e, 99, 99, 0), Err(errno::EINVAL));
        assert_eq!(dup3(&mut e, 99, 7, O_NONBLOCK as u64), Err(errno::EINVAL));
        assert_eq!(dup3(&mut e, 99, 1024, 0), Err(errno::EBADF));
        assert_eq!(dup3(&mut e, fd, 1024, 0), Err(errno::EBADF));
        assert_eq!(dup3(&mut e, 99, 7, 0), Err(errno::EBADF));
        assert!(e.files.get(7).is_err());
        // dup of the lowest free slot and EMFILE.
        e.files.set_nofile(6).unwrap();
        assert_eq!(e.call(|c| sys_dup(c, fd)), Err(errno::EMFILE));
        assert_eq!(dup3(&mut e, fd, 6, 0), Err(errno::EBADF));
        // Through dispatch.
        e.files.set_nofile(1024).unwrap();
        assert_eq!(
            e.call(|c| dispatch(c, SYS_dup3, [fd, 50, 0, 0, 0, 0])),
            Some(Ok(50))
        );
        assert_eq!(
            e.call(|c| dispatch(c, SYS_dup, [fd, 0, 0, 0, 0, 0])),
            Some(Ok(6))
        );
    }

    #[test]
    fn fcntl_commands() {
        let mut e = Env::new();
        let fd = e.open("/proc/self/maps", O_RDONLY | O_CLOEXEC).unwrap() as u64;
        assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(1));
        assert_eq!(e.fcntl(fd, F_SETFD, 0), Ok(0));
        assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(0));
        assert_eq!(e.fcntl(fd, F_SETFD, 3), Ok(0));
        assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(1));
        // F_DUPFD: lowest at or above arg; the dup's cloexec is clear unless _CLOEXEC.
        assert_eq!(e.fcntl(fd, F_DUPFD, 0), Ok(4));
        assert_eq!(e.fcntl(fd, F_DUPFD, 10), Ok(10));
        assert_eq!(e.fcntl(fd, F_DUPFD, 10), Ok(11));
        assert_eq!(e.fcntl(4, F_GETFD, 0), Ok(0));
        assert_eq!(e.fcntl(fd, F_DUPFD_CLOEXEC, 10), Ok(12));
        assert_eq!(e.fcntl(12, F_GETFD, 0), Ok(1));
        assert_eq!(e.fcntl(fd, F_DUPFD, 1024), Err(errno::EINVAL));
        assert_eq!(e.fcntl(fd, F_DUPFD, neg(-1)), Err(errno::EINVAL));
        // `int arg`: the upper half is dropped.
        assert_eq!(e.fcntl(fd, F_DUPFD, (1 << 32) | 20), Ok(20));
        e.files.set_nofile(13).unwrap();
        assert_eq!(e.fcntl(fd, F_DUPFD, 10), Err(errno::EMFILE));
        e.files.set_nofile(1024).unwrap();
        // F_GETFL / F_SETFL: shared by dups; only the settable bits change.
        assert_eq!(
            e.fcntl(fd, F_GETFL, 0),
            Ok((O_RDONLY | O_LARGEFILE) as usize)
        );
        let set = O_NONBLOCK | O_APPEND | O_RDWR | O_CREAT | O_TRUNC;
        assert_eq!(e.fcntl(fd, F_SETFL, set as u64), Ok(0));
        assert_eq!(
            e.fcntl(4, F_GETFL, 0),
            Ok((O_RDONLY | O_LARGEFILE | O_NONBLOCK | O_APPEND) as usize)
        );
        assert_eq!(e.fcntl(fd, F_SETFL, O_DIRECT as u64), Err(errno::EINVAL));
        assert_eq!(e.fcntl(fd, F_SETFL, FASYNC as u64), Err(errno::EINVAL));
        assert_eq!(e.fcntl(fd, F_SETFL, 0), Ok(0));
        assert_eq!(
            e.fcntl(4, F_GETFL, 0),
            Ok((O_RDONLY | O_LARGEFILE) as usize)
        );
        // Unknown commands, and EBADF before anything.
        for cmd in [5, 6, 7, 8, 9, 1024, 1031, 1033, 0xffff] {
            assert_eq!(e.fcntl(fd, cmd, 0), Err(errno::EINVAL), "cmd {cmd}");
        }
        assert_eq!(e.fcntl(99, F_GETFD, 0), Err(errno::EBADF));
        assert_eq!(e.fcntl(99, 0xffff, 0), Err(errno::EBADF));
        assert_eq!(
            e.call(|c| dispatch(c, SYS_fcntl, [fd, F_GETFD as u64, 0, 0, 0, 0])),
            Some(Ok(1))
        );
    }

    #[test]
    fn ppoll_on_pipes() {
        let mut e = Env::new();
        let (r, w) = e.pipe(0);
        let ts = put_ts(&mut e, 0, 0);
        let ev = POLLIN | POLLOUT;
        let fds = pollfds(&mut e, &[(r as i32, ev), (w as i32, ev)]);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(1));
        assert_eq!([revents(&e, 0), revents(&e, 1)], [0, POLLOUT]);
        e.mem.put(U, b"x");
        e.write(w, U, 1).unwrap();
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(2));
        assert_eq!([revents(&e, 0), revents(&e, 1)], [POLLIN, POLLOUT]);
        // Full: no POLLOUT; and not even with less than PIPE_BUF free.
        e.fill(w, PIPE_SIZE - 1 - 100, 0);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(1));
        assert_eq!([revents(&e, 0), revents(&e, 1)], [POLLIN, 0]);
        // Not ready and no timeout: sleep until a pipe changes (nothing written back).
        let fds = pollfds(&mut e, &[(w as i32, POLLOUT)]);
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, 0, 0, 8)),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        assert_eq!(revents(&e, 0), 0);
        assert_eq!(e.sleep.blocks.borrow()[0], (None, true, None));
        // A finite timeout: parked until the pipe changes or the time is up, then 0 ready.
        let t = put_ts(&mut e, 0, 1000);
        assert_eq!(
            e.call(|c| sys_ppoll(c, fds, 1, t, 0, 8)),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        assert_eq!(e.sleep.blocks.borrow()[1], (Some(1000), true, None));
        e.sleep.now.set(1000);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, t, 0, 8)), Ok(0));
        assert_eq!(e.sleep.blocks.borrow().len(), 2);
        // Writer gone: POLLHUP alone once drained, POLLIN | POLLHUP while bytes remain.
        e.call(|c| sys_close(c, w)).unwrap();
        let fds = pollfds(&mut e, &[(r as i32, POLLIN)]);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, ts, 0, 8)), Ok(1));
        assert_eq!(revents(&e, 0), POLLIN | POLLHUP);
        e.drain(r);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, 0, 0, 8)), Ok(1));
        assert_eq!(revents(&e, 0), POLLHUP);
        // Reader gone: POLLERR on the write end, even if not asked for.
        let (r, w) = e.pipe(0);
        e.call(|c| sys_close(c, r)).unwrap();
        let fds = pollfds(&mut e, &[(w as i32, 0)]);
        assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, ts, 0, 8)), Ok(1));
        assert_eq!(revents(&e, 0), POLLERR);
    }

    #[test]
    fn fork_clone_shares_pipes_between_processes() {
        let mut parent = Env::new();
        let (r, w) = parent.pipe(0);
        let mut child = Env::new();
        child.files = parent.files.fork_clone();
        // Child: close the read end, write, exit. Parent: close the write end, read to EOF.
        child.call(|c| sys_close(c, r)).unwrap();
        child.mem.put(U, b"status 7");
        assert_eq!(child.write(w, U, 8), Ok(8));
        parent.call(|c| sys_close(c, w)).unwrap();
        assert_eq!(parent.read(r, U as u64, 64), Ok(8));
        assert_eq!(parent.mem.bytes(U, 8), b"status 7");
        // The child's write end still counts: the parent must wait, not see EOF.
        assert_eq!(
            parent.read(r, U as u64, 64),
            Err(errno::EWOULDBLOCK_RESTART)
        );
        let ev = crate::fs::pipe::events();
        drop(child); // exit
        assert_ne!(crate::fs::pipe::events(), ev);
        assert_eq!(parent.read(r, U as u64, 64), Ok(0));
        // Offsets are shared across fork too.
        let fd = parent.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
        let mut child = Env::new();
        child.files = parent.files.fork_clone();
        assert_eq!(child.read(fd, U as u64, 7), Ok(7));
        assert_eq!(parent.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(7));
    }

    #[test]
    fn makedev_matches_glibc() {
        assert_eq!(makedev(136, 0), 0x8800);
        assert_eq!(
            makedev(136, 300),
            (300 & 0xff) | (136 << 8) | ((300 & !0xff) << 12)
        );
        assert_eq!(makedev(0x1000, 0), 1 << 44);
    }
}
