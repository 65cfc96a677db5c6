//! Paths and opening: openat, close, readlinkat, faccessat2, with Linux's `getname` and
//! `path_init` steps.
use super::*;

/// `AT_FDCWD`: resolve relative paths against the working directory (always `/` here).
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `AT_STATX_SYNC_TYPE`: the sync-mode bits `vfs_statx` also accepts.
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// `access` mode bits.
pub const F_OK: u32 = 0;
pub const X_OK: u32 = 1;
pub const W_OK: u32 = 2;
pub const R_OK: u32 = 4;

/// `getname`: the path at `addr`, `EFAULT`/`ENAMETOOLONG`, and `ENOENT` for `""` unless the
/// call allows empty paths (`LOOKUP_EMPTY`).
pub(super) fn getname(
    mem: &mut dyn UserMem,
    addr: u64,
    allow_empty: bool,
) -> Result<Vec<u8>, Errno> {
    let p = mem.read_cstring(addr as usize, PATH_MAX)?;
    if p.is_empty() && !allow_empty {
        return Err(errno::ENOENT);
    }
    Ok(p)
}

/// `path_init`: where a walk starts. Absolute paths ignore `dfd` entirely; relative ones start at
/// the working directory (`/`) for `AT_FDCWD`, else at the directory `dfd` refers to (`EBADF` if
/// not open, `ENOTDIR` if not a directory).
pub(super) fn start_node(files: &Files, dfd: i32, path: &[u8]) -> Result<Node, Errno> {
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

/// The path up to (not including) its last component, for the `O_CREAT` parent check.
pub(super) fn parent_path(path: &[u8]) -> &[u8] {
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
