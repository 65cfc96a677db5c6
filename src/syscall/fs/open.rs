//! Opening and the working directory (Linux's `fs/open.c`, `fs/d_path.c`): openat, close,
//! faccessat2, chdir, fchdir, getcwd, umask, fsync.
use super::namei::*;
use super::*;
use crate::fs::inode::{Data, MAY_EXEC, MAY_READ, MAY_WRITE, S_IFIFO, S_IFLNK};
use crate::syscall::abi::S_IFMT;
use alloc::sync::Arc;

/// `VALID_OPEN_FLAGS`: bits `openat` does not know are ignored (only `openat2` refuses them).
pub(super) const VALID_OPEN_FLAGS: u32 = O_RDONLY
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

/// The access an open asks for (`ACC_MODE` plus `MAY_WRITE` for `O_TRUNC`).
fn acc_mode(flags: u32) -> u32 {
    let mut m = match flags & O_ACCMODE {
        O_RDONLY => MAY_READ,
        O_WRONLY => MAY_WRITE,
        _ => MAY_READ | MAY_WRITE,
    };
    if flags & O_TRUNC != 0 {
        m |= MAY_WRITE;
    }
    m
}

/// What resolving an `openat` path found: where, and whether this open made it.
struct Found {
    loc: Loc,
    created: bool,
}

/// `open_last_lookups` with `O_CREAT`: the last component is looked up without following; an
/// existing symlink is followed (its target is created if missing, as Linux does) unless
/// `O_NOFOLLOW` or `O_EXCL`.
fn open_create(
    ctx: &mut FsCtx<'_>,
    start: &Loc,
    name: &[u8],
    flags: u32,
    mode: u32,
) -> Result<Found, Errno> {
    let excl = flags & O_EXCL != 0;
    let mut start = start.clone();
    let mut name = name.to_vec();
    for _ in 0..=crate::fs::vfs::MAXSYMLINKS {
        let nd = ctx.nd();
        let (dir, last) = nd.lookup_parent(&start, &name)?;
        if last.kind != crate::fs::vfs::LastKind::Norm || last.slash {
            return Err(errno::EISDIR);
        }
        match nd.lookup_last(&dir, &last, false) {
            Ok(loc) => {
                if excl {
                    return Err(errno::EEXIST);
                }
                let target = match &loc {
                    Loc::Tmp(i) if i.mode() & S_IFMT == S_IFLNK => nd.link_target(&loc)?,
                    _ => {
                        return Ok(Found {
                            loc,
                            created: false,
                        })
                    }
                };
                if flags & O_NOFOLLOW != 0 {
                    return Err(errno::ELOOP);
                }
                start = dir;
                name = target;
            }
            Err(e) if e == errno::ENOENT => {
                let dir = match dir {
                    Loc::Tmp(d) => d,
                    Loc::Proc(_) => return Err(errno::EACCES),
                };
                let mode = S_IFREG | (mode & 0o7777 & !ctx.fs.umask);
                let inode = ctx.vfs.create(
                    &dir,
                    &last.name,
                    mode,
                    0,
                    Data::File(Default::default()),
                    ctx.cred,
                )?;
                return Ok(Found {
                    loc: Loc::Tmp(inode),
                    created: true,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Err(errno::ELOOP)
}

/// `openat(2)` (`do_sys_openat2`), in Linux's order: flag validation (`build_open_flags`:
/// `EINVAL` for a malformed `O_TMPFILE`), the path (`getname`: `EFAULT`, `ENAMETOOLONG`,
/// `ENOENT` for `""`), a free descriptor (`EMFILE`), the walk (`EBADF`/`ENOTDIR` for `dirfd`,
/// `ENOENT`, `ENOTDIR`, `EACCES`, `ELOOP`), creation under `O_CREAT` (`EEXIST` with
/// `O_EXCL`; `EISDIR` for a name ending in `/`), then `do_open`: `EISDIR` for `O_CREAT` or
/// write access on a directory, `ENOTDIR` for `O_DIRECTORY` on anything else, `ELOOP` for a
/// final symlink with `O_NOFOLLOW`, `may_open`'s permission check (skipped for a file this
/// call made), and `O_TRUNC`.
pub fn sys_openat(ctx: &mut FsCtx<'_>, dirfd: u64, path: u64, flags: u64, mode: u64) -> SysResult {
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
    let start = start_loc(ctx, dfd, &name)?;
    if flags & O_TMPFILE_BIT != 0 {
        return open_tmpfile(ctx, &start, &name, flags, mode as u32);
    }
    let found = if flags & O_CREAT != 0 {
        open_create(ctx, &start, &name, flags, mode as u32)?
    } else {
        let loc = ctx.nd().lookup(&start, &name, flags & O_NOFOLLOW == 0)?;
        Found {
            loc,
            created: false,
        }
    };
    let kind = do_open(ctx, found, flags, &start, &name)?;
    install(ctx, kind, flags)
}

fn install(ctx: &mut FsCtx<'_>, kind: FileKind, flags: u32) -> SysResult {
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

/// `O_TMPFILE`: an unnamed regular file in the directory the path names (`ENOTDIR` if it is
/// not one; procfs cannot hold one, `EOPNOTSUPP`).
fn open_tmpfile(ctx: &mut FsCtx<'_>, start: &Loc, name: &[u8], flags: u32, mode: u32) -> SysResult {
    let dir = ctx.nd().lookup(start, name, true)?;
    if !dir.is_dir() {
        return Err(errno::ENOTDIR);
    }
    let Loc::Tmp(dir) = dir else {
        return Err(errno::EOPNOTSUPP);
    };
    let inode = {
        let d = dir.lock();
        d.permission(ctx.cred, MAY_WRITE | MAY_EXEC)?;
        Inode::new(
            &dir.sb,
            S_IFREG | (mode & 0o7777 & !ctx.fs.umask),
            ctx.cred,
            Data::File(Default::default()),
            ctx.vfs.now(),
        )
    };
    {
        let mut i = inode.lock();
        i.nlink = 0;
        i.linkable = flags & O_EXCL == 0;
    }
    let path = alloc::format!("/#{} (deleted)", inode.ino)
        .into_bytes()
        .into();
    let write = Some(crate::fs::write_access::WriteAccess::get(&inode)?);
    install(
        ctx,
        FileKind::Regular {
            inode,
            pos: 0,
            path,
            write,
        },
        flags & !O_DIRECTORY,
    )
}

/// Whether the caller may write procfs node `n`: one of the writable files, as root, or its own
/// process's file.
fn proc_may_write(ctx: &FsCtx<'_>, n: Node) -> bool {
    let own = matches!(n, Node::File(pid, _) if pid == ctx.proc.pid());
    n.writable() && (ctx.cred.privileged() || own)
}

/// `do_open` and `vfs_open`: the checks on what was found, then the open file itself.
fn do_open(
    ctx: &mut FsCtx<'_>,
    found: Found,
    flags: u32,
    start: &Loc,
    name: &[u8],
) -> Result<FileKind, Errno> {
    let path = |ctx: &FsCtx<'_>| -> alloc::sync::Arc<[u8]> {
        ctx.nd()
            .canonical(start, name)
            .unwrap_or_else(|_| name.to_vec())
            .into()
    };
    let loc = found.loc;
    if flags & O_CREAT != 0 && loc.is_dir() {
        return Err(errno::EISDIR);
    }
    if flags & O_DIRECTORY != 0 && !loc.is_dir() {
        return Err(errno::ENOTDIR);
    }
    if flags & O_PATH != 0 {
        return Ok(FileKind::Path(loc));
    }
    let acc = acc_mode(flags);
    match &loc {
        Loc::Proc(Node::Link(_)) => return Err(errno::ELOOP),
        Loc::Proc(n) => {
            if acc & MAY_WRITE != 0 {
                if n.is_dir() {
                    return Err(errno::EISDIR);
                }
                if !proc_may_write(ctx, *n) {
                    return Err(errno::EACCES);
                }
            }
            if n.is_dir() {
                return Ok(FileKind::Dir { loc, pos: 0 });
            }
            if let Node::File(pid, f) = n {
                // `environ` and `pagemap` are their owner's (and root's) alone.
                if f.mode() == 0o400 && !ctx.cred.privileged() && *pid != ctx.proc.pid() {
                    return Err(errno::EACCES);
                }
            }
            return Ok(FileKind::Snapshot {
                node: *n,
                data: None,
                pos: 0,
                data_at: 0,
            });
        }
        Loc::Tmp(_) => {}
    }
    let inode = loc.tmp(errno::EINVAL)?.clone();
    let (kind, rdev) = {
        let i = inode.lock();
        (i.file_type(), i.rdev)
    };
    match kind {
        S_IFLNK => return Err(errno::ELOOP),
        S_IFDIR if acc & MAY_WRITE != 0 => return Err(errno::EISDIR),
        _ => {}
    }
    if !found.created {
        inode.lock().permission(ctx.cred, acc)?;
    }
    // A sysfs attribute without a `store` (none has one here): kernfs refuses to open it for
    // writing.
    if acc & MAY_WRITE != 0 && inode.sb.sealed() {
        return Err(errno::EACCES);
    }
    Ok(match kind {
        S_IFDIR => FileKind::Dir { loc, pos: 0 },
        S_IFREG => {
            // `get_write_access` in `do_dentry_open`, before the truncation: a program's file is
            // `ETXTBSY` (so is a truncation without write access, as `handle_truncate` asks).
            let write = if acc & MAY_WRITE != 0 || flags & O_TRUNC != 0 {
                Some(crate::fs::write_access::WriteAccess::get(&inode)?)
            } else {
                None
            };
            if flags & O_TRUNC != 0 && !found.created {
                let sb = inode.sb.clone();
                let now = ctx.vfs.now();
                crate::fs::inode::unmap_mapping_range(&inode, 0, u64::MAX, true);
                let mut i = inode.lock();
                if let Data::File(f) = &mut i.data {
                    f.truncate(&sb, 0);
                }
                i.mtime = now;
                i.ctime = now;
            }
            let path = path(ctx);
            FileKind::Regular {
                inode,
                pos: 0,
                path,
                write: write.filter(|_| acc & MAY_WRITE != 0),
            }
        }
        S_IFCHR => {
            let (major, minor) = decode_dev(rdev);
            if matches!((major, minor), (5, 0) | (5, 1) | (4, _) | (136, _)) {
                FileKind::Console
            } else {
                let dev = CharDev::from_rdev(major, minor).ok_or(errno::ENXIO)?;
                let path = path(ctx);
                FileKind::Device { inode, dev, path }
            }
        }
        S_IFIFO => {
            let path = path(ctx);
            fifo_open(ctx, &inode, flags, path)?
        }
        // Block devices and sockets: no driver behind them here.
        _ => return Err(errno::ENXIO),
    })
}

/// `fifo_open`: the inode's pipe (made at its first open), then the end the access mode asks
/// for. A reader without `O_NONBLOCK` waits until some writer has opened (`wait_for_partner` on
/// `w_counter`), a writer for a reader; a non-blocking writer without a reader is `ENXIO`;
/// `O_RDWR` never waits. A waiting open keeps its end open across the re-runs of the call
/// ([`FifoWait`]), so that the other side's open and first write see it.
fn fifo_open(
    ctx: &mut FsCtx<'_>,
    inode: &alloc::sync::Arc<Inode>,
    flags: u32,
    path: alloc::sync::Arc<[u8]>,
) -> Result<FileKind, Errno> {
    use crate::fs::pipe::FifoOrigin;
    let pipe = {
        let mut i = inode.lock();
        match &i.data {
            Data::Fifo(w) => w.upgrade(),
            _ => None,
        }
        .unwrap_or_else(|| {
            let p = Pipe::fifo(FifoOrigin {
                inode: inode.clone(),
                path,
            });
            i.data = Data::Fifo(alloc::sync::Arc::downgrade(&p));
            p
        })
    };
    let nonblock = flags & O_NONBLOCK != 0;
    let waited = ctx
        .sleeper
        .take_fifo_wait()
        .filter(|w| alloc::sync::Arc::ptr_eq(w.pipe(), &pipe));
    let (readers, writers) = pipe.ends();
    match flags & O_ACCMODE {
        O_RDONLY => {
            let (end, seen) = match waited {
                Some(FifoWait::Reader(r, seen)) => (r, seen),
                _ => (pipe.open_reader(), pipe.counters().1),
            };
            if nonblock || writers > 0 || pipe.counters().1 != seen {
                return Ok(FileKind::PipeRead(end));
            }
            ctx.sleeper.keep_fifo_wait(FifoWait::Reader(end, seen));
        }
        O_WRONLY => {
            let (end, seen) = match waited {
                Some(FifoWait::Writer(w, seen)) => (w, seen),
                _ if nonblock && readers == 0 => return Err(errno::ENXIO),
                _ => (pipe.open_writer(), pipe.counters().0),
            };
            if readers > 0 || pipe.counters().0 != seen {
                return Ok(FileKind::PipeWrite(end));
            }
            ctx.sleeper.keep_fifo_wait(FifoWait::Writer(end, seen));
        }
        _ => return Ok(FileKind::PipeRdWr(pipe.open_reader(), pipe.open_writer())),
    }
    Err(ctx.sleeper.block(None, true, None))
}

/// `new_decode_dev` of an `st_rdev` value: `(major, minor)`.
pub fn decode_dev(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) as u32 | ((rdev >> 32) as u32 & !0xfff);
    let minor = (rdev & 0xff) as u32 | ((rdev >> 12) as u32 & !0xff);
    (major, minor)
}

/// `close(2)` (`close_fd`): `EBADF` if `fd` is not open. `fd` is `unsigned int`, so the upper
/// 32 bits of the register are ignored.
pub fn sys_close(ctx: &mut FsCtx<'_>, fd: u64) -> SysResult {
    // Dropping the description here closes it if this was its last descriptor anywhere (a
    // pipe end's reader or writer count goes down, waking the other side).
    drop(ctx.files.close(ufd(fd))?);
    Ok(0)
}

/// `faccessat2(2)` (`do_faccessat`; `faccessat` is this with `flags` 0): `EINVAL` for mode bits
/// beyond `R_OK|W_OK|X_OK` or unknown flags, then the path (following a final link unless
/// `AT_SYMLINK_NOFOLLOW`; `AT_EMPTY_PATH` allows `""` for `dirfd` itself), then the permission
/// bits for the caller's class (root passes read and write, and execute where any `x` bit is
/// set). `F_OK` only asks whether the name resolves.
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
    let loc = if name.is_empty() {
        match fd_loc(ctx, dfd)? {
            Some(loc) => loc,
            // A pipe or the console: owner-accessible, as their modes say.
            None => return Ok(0),
        }
    } else {
        let start = start_loc(ctx, dfd, &name)?;
        ctx.nd()
            .lookup(&start, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    if mode == F_OK {
        return Ok(0);
    }
    let mode = match &loc {
        Loc::Proc(n) if mode & W_OK != 0 && proc_may_write(ctx, *n) => mode & !W_OK,
        _ => mode,
    };
    loc_permission(&loc, ctx.cred, mode)?;
    Ok(0)
}

/// `chdir(2)`: the path must be a directory (`ENOTDIR`) the caller may search (`EACCES`).
pub fn sys_chdir(ctx: &mut FsCtx<'_>, path: u64) -> SysResult {
    let loc = user_path_at(ctx, AT_FDCWD, path, true)?;
    set_cwd(ctx, loc)
}

fn set_cwd(ctx: &mut FsCtx<'_>, loc: Loc) -> SysResult {
    if !loc.is_dir() {
        return Err(errno::ENOTDIR);
    }
    loc_permission(&loc, ctx.cred, MAY_EXEC)?;
    ctx.fs.cwd = loc;
    Ok(0)
}

/// `fchdir(2)`: `EBADF`, then as `chdir` for the directory the descriptor is open on.
pub fn sys_fchdir(ctx: &mut FsCtx<'_>, fd: u64) -> SysResult {
    let loc = file_loc(&ctx.files.get(ufd(fd))?.file.lock());
    set_cwd(ctx, loc.ok_or(errno::ENOTDIR)?)
}

/// `getcwd(2)`: the working directory's absolute path with its NUL; `ENOENT` once it has been
/// removed, `ERANGE` when `size` cannot hold it, `EFAULT` for a bad buffer. Returns the
/// length with the NUL.
pub fn sys_getcwd(ctx: &mut FsCtx<'_>, buf: u64, size: u64) -> SysResult {
    let mut path = ctx.vfs.path_of(&ctx.fs.cwd)?;
    path.push(0);
    if path.len() > size as usize {
        return Err(errno::ERANGE);
    }
    ctx.mem.copy_to_user(buf as usize, &path)?;
    Ok(path.len())
}

/// `umask(2)`: sets the mask to `mask & 0777`, returns the old one.
pub fn sys_umask(ctx: &mut FsCtx<'_>, mask: u64) -> SysResult {
    let old = ctx.fs.umask;
    ctx.fs.umask = mask as u32 & 0o777;
    Ok(old as usize)
}

/// `fsync(2)` and `fdatasync(2)`: memory is the storage, so there is nothing to write back;
/// files without an `fsync` method (pipes, the console, /proc) are `EINVAL`.
pub fn sys_fsync(ctx: &mut FsCtx<'_>, fd: u64) -> SysResult {
    match &ctx.files.get(ufd(fd))?.file.lock().kind {
        FileKind::Regular { .. } | FileKind::Dir { .. } => Ok(0),
        FileKind::Path(_) => Err(errno::EBADF),
        _ => Err(errno::EINVAL),
    }
}

/// The inode an open file reads and writes, if it is a tmpfs file.
pub(super) fn file_inode(file: &OpenFile) -> Option<Arc<Inode>> {
    match &file.kind {
        FileKind::Regular { inode, .. } | FileKind::Device { inode, .. } => Some(inode.clone()),
        FileKind::Dir {
            loc: Loc::Tmp(i), ..
        }
        | FileKind::Path(Loc::Tmp(i)) => Some(i.clone()),
        _ => None,
    }
}
