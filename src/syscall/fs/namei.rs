//! Paths and the calls that make and remove names (Linux's `fs/namei.c`): `getname`,
//! `path_init`, `filename_create`, and mkdirat, mknodat, symlinkat, linkat, unlinkat,
//! renameat2, readlinkat.
use super::*;
use crate::fs::inode::{Data, Dir, S_IFBLK, S_IFIFO, S_IFLNK, S_IFSOCK};
use crate::fs::vfs::{LastKind, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};
use crate::syscall::abi::S_IFMT;
use alloc::sync::Arc;

/// `AT_FDCWD`: resolve relative paths against the working directory.
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
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

/// The place an open file stands for in the tree, if it has one (pipes and the console have
/// none).
pub(super) fn file_loc(file: &OpenFile) -> Option<Loc> {
    match &file.kind {
        FileKind::Dir { loc, .. } | FileKind::Path(loc) => Some(loc.clone()),
        FileKind::Regular { inode, .. } | FileKind::Device { inode, .. } => {
            Some(Loc::Tmp(inode.clone()))
        }
        FileKind::Snapshot { node, .. } => Some(Loc::Proc(*node)),
        _ => None,
    }
}

/// `path_init`: where a walk starts. Absolute paths ignore `dfd` entirely; relative ones start at
/// the working directory for `AT_FDCWD`, else at the directory `dfd` refers to (`EBADF` if not
/// open, `ENOTDIR` if not a directory).
pub(super) fn start_loc(ctx: &FsCtx<'_>, dfd: i32, path: &[u8]) -> Result<Loc, Errno> {
    if path.first() == Some(&b'/') || dfd == AT_FDCWD {
        return Ok(ctx.fs.cwd.clone());
    }
    if dfd < 0 {
        return Err(errno::EBADF);
    }
    match file_loc(&ctx.files.get(dfd as u32)?.file.lock()) {
        Some(loc) if loc.is_dir() => Ok(loc),
        _ => Err(errno::ENOTDIR),
    }
}

/// The place `dfd` itself stands for (`AT_EMPTY_PATH` with `""`): `EBADF`, or `ENOENT`... for
/// an open file with no place in the tree, `None`.
pub(super) fn fd_loc(ctx: &FsCtx<'_>, dfd: i32) -> Result<Option<Loc>, Errno> {
    if dfd == AT_FDCWD {
        return Ok(Some(ctx.fs.cwd.clone()));
    }
    if dfd < 0 {
        return Err(errno::EBADF);
    }
    Ok(file_loc(&ctx.files.get(dfd as u32)?.file.lock()))
}

/// `user_path_at`: resolves the path at `addr` from `dfd`, following a final symlink when
/// `follow`.
pub(super) fn user_path_at(
    ctx: &mut FsCtx<'_>,
    dfd: i32,
    addr: u64,
    follow: bool,
) -> Result<Loc, Errno> {
    let name = getname(ctx.mem, addr, false)?;
    let start = start_loc(ctx, dfd, &name)?;
    ctx.nd().lookup(&start, &name, follow)
}

/// `filename_create`'s walk: the parent directory (on the tmpfs) and the new name. `.`, `..`
/// and `/` as the last component are `EEXIST`; a name that exists is `EEXIST`; a trailing
/// slash on anything but a directory to be made is `ENOENT`. procfs has no room for new names
/// (`EACCES` for a caller without `CAP_DAC_OVERRIDE`, else `EPERM`).
fn filename_create(
    ctx: &mut FsCtx<'_>,
    dfd: i32,
    addr: u64,
    is_dir: bool,
) -> Result<(Arc<Inode>, Vec<u8>), Errno> {
    let name = getname(ctx.mem, addr, false)?;
    let start = start_loc(ctx, dfd, &name)?;
    let nd = ctx.nd();
    let (dir, last) = nd.lookup_parent(&start, &name)?;
    if last.kind != LastKind::Norm {
        return Err(errno::EEXIST);
    }
    match nd.lookup_last(&dir, &last.without_slash(), false) {
        Ok(_) => return Err(errno::EEXIST),
        Err(e) if e != errno::ENOENT => return Err(e),
        Err(_) => {}
    }
    if last.slash && !is_dir {
        return Err(errno::ENOENT);
    }
    match dir {
        Loc::Tmp(d) => Ok((d, last.name)),
        Loc::Proc(_) => Err(proc_refuses(ctx.cred)),
    }
}

/// What procfs says to a change it does not support: the caller without `CAP_DAC_OVERRIDE`
/// fails the permission check of its 0555 directories first.
pub(super) fn proc_refuses(cred: Cred) -> Errno {
    if cred.privileged() {
        errno::EPERM
    } else {
        errno::EACCES
    }
}

/// `mkdirat(2)` (`do_mkdirat`): mode bits beyond permissions and sticky are dropped, then the
/// umask applies.
pub fn sys_mkdirat(ctx: &mut FsCtx<'_>, dfd: u64, path: u64, mode: u64) -> SysResult {
    let (dir, name) = filename_create(ctx, int(dfd), path, true)?;
    let mode = (mode as u32 & 0o1777) & !ctx.fs.umask;
    ctx.vfs.create(
        &dir,
        &name,
        S_IFDIR | mode,
        0,
        Data::Dir(Dir::new(Default::default(), b"")),
        ctx.cred,
    )?;
    Ok(0)
}

/// `mknodat(2)` (`do_mknodat`): `may_mknod` first (a directory is `EPERM`, an unknown type
/// `EINVAL`; type 0 means a regular file), then the name, then `CAP_MKNOD` for device nodes
/// (`EPERM`).
pub fn sys_mknodat(ctx: &mut FsCtx<'_>, dfd: u64, path: u64, mode: u64, dev: u64) -> SysResult {
    let mut mode = mode as u32;
    let dev = dev as u32;
    match mode & S_IFMT {
        0 => mode |= S_IFREG,
        S_IFREG | S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {}
        S_IFDIR => return Err(errno::EPERM),
        _ => return Err(errno::EINVAL),
    }
    let (dir, name) = filename_create(ctx, int(dfd), path, false)?;
    let kind = mode & S_IFMT;
    if (kind == S_IFCHR || kind == S_IFBLK) && !ctx.cred.privileged() {
        return Err(errno::EPERM);
    }
    let mode = kind | (mode & 0o7777 & !ctx.fs.umask);
    let data = if kind == S_IFREG {
        Data::File(Default::default())
    } else {
        Data::Special
    };
    let rdev = if kind == S_IFCHR || kind == S_IFBLK {
        // `new_decode_dev`, stored as `new_encode_dev` for `st_rdev`.
        makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
    } else {
        0
    };
    ctx.vfs.create(&dir, &name, mode, rdev, data, ctx.cred)?;
    Ok(0)
}

/// `symlinkat(2)`: the target may be any non-empty string (`ENOENT` for `""`); the link's mode
/// is 0777.
pub fn sys_symlinkat(ctx: &mut FsCtx<'_>, target: u64, dfd: u64, path: u64) -> SysResult {
    let target = getname(ctx.mem, target, false)?;
    let (dir, name) = filename_create(ctx, int(dfd), path, false)?;
    ctx.vfs.create(
        &dir,
        &name,
        S_IFLNK | 0o777,
        0,
        Data::Symlink(target),
        ctx.cred,
    )?;
    Ok(0)
}

/// `linkat(2)` (`do_linkat`): unknown flags are `EINVAL`; `AT_EMPTY_PATH` needs
/// `CAP_DAC_READ_SEARCH` (`ENOENT` without); the old name is followed only with
/// `AT_SYMLINK_FOLLOW`; procfs is another file system (`EXDEV`).
pub fn sys_linkat(
    ctx: &mut FsCtx<'_>,
    olddfd: u64,
    oldpath: u64,
    newdfd: u64,
    newpath: u64,
    flags: u64,
) -> SysResult {
    let flags = int(flags) as u32;
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let odfd = int(olddfd);
    let empty = flags & AT_EMPTY_PATH != 0;
    if empty && !ctx.cred.privileged() {
        return Err(errno::ENOENT);
    }
    let oname = getname(ctx.mem, oldpath, empty)?;
    let old = if oname.is_empty() {
        fd_loc(ctx, odfd)?.ok_or(errno::ENOENT)?
    } else {
        let start = start_loc(ctx, odfd, &oname)?;
        ctx.nd()
            .lookup(&start, &oname, flags & AT_SYMLINK_FOLLOW != 0)?
    };
    let (dir, name) = filename_create(ctx, int(newdfd), newpath, false)?;
    let Loc::Tmp(old) = old else {
        return Err(errno::EXDEV);
    };
    if !Arc::ptr_eq(&old.sb, &dir.sb) {
        return Err(errno::EXDEV);
    }
    ctx.vfs.link(&old, &dir, &name, ctx.cred)?;
    Ok(0)
}

/// `unlinkat(2)` (`do_unlinkat`, `do_rmdir` with `AT_REMOVEDIR`): flags other than
/// `AT_REMOVEDIR` are `EINVAL`. For rmdir a last component of `.` is `EINVAL`, `..`
/// `ENOTEMPTY`, `/` `EBUSY`; for unlink any of them is `EISDIR`, and a trailing slash is
/// `ENOTDIR` (`EISDIR` on a directory, `ENOENT` on nothing).
pub fn sys_unlinkat(ctx: &mut FsCtx<'_>, dfd: u64, path: u64, flags: u64) -> SysResult {
    let flags = int(flags) as u32;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(errno::EINVAL);
    }
    let rmdir = flags & AT_REMOVEDIR != 0;
    let name = getname(ctx.mem, path, false)?;
    let start = start_loc(ctx, int(dfd), &name)?;
    let nd = ctx.nd();
    let (dir, last) = nd.lookup_parent(&start, &name)?;
    match (last.kind, rmdir) {
        (LastKind::Norm, _) => {}
        (LastKind::Dot, true) => return Err(errno::EINVAL),
        (LastKind::DotDot, true) => return Err(errno::ENOTEMPTY),
        (LastKind::Root, true) => return Err(errno::EBUSY),
        (_, false) => return Err(errno::EISDIR),
    }
    let victim = nd.lookup_last(&dir, &last.without_slash(), false)?;
    if !rmdir && last.slash {
        return Err(if victim.is_dir() {
            errno::EISDIR
        } else {
            errno::ENOTDIR
        });
    }
    let dir = match dir {
        Loc::Tmp(d) => d,
        Loc::Proc(_) => return Err(proc_refuses(ctx.cred)),
    };
    if let Loc::Proc(_) = victim {
        // A mount point.
        return Err(errno::EBUSY);
    }
    ctx.vfs.remove(&dir, &last.name, rmdir, ctx.cred)?;
    Ok(0)
}

/// `renameat2(2)` (`do_renameat2`; `renameat` is this with no flags): flags beyond
/// `RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT`, or `NOREPLACE` with `EXCHANGE`, or
/// `WHITEOUT` with `EXCHANGE`, are `EINVAL`; `WHITEOUT` itself needs an overlay file system
/// that tidemark does not have (`EINVAL`). `.`, `..` or `/` as either last component are
/// `EBUSY`; procfs on either side is `EXDEV`; a trailing slash on a non-directory is
/// `ENOTDIR`. The rest is [`Vfs::rename`](crate::fs::vfs::Vfs::rename).
pub fn sys_renameat2(
    ctx: &mut FsCtx<'_>,
    olddfd: u64,
    oldpath: u64,
    newdfd: u64,
    newpath: u64,
    flags: u64,
) -> SysResult {
    let flags = flags as u32;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0)
        || (flags & RENAME_WHITEOUT != 0 && flags & RENAME_EXCHANGE != 0)
    {
        return Err(errno::EINVAL);
    }
    if flags & RENAME_WHITEOUT != 0 {
        return Err(errno::EINVAL);
    }
    let oname = getname(ctx.mem, oldpath, false)?;
    let ostart = start_loc(ctx, int(olddfd), &oname)?;
    let nname = getname(ctx.mem, newpath, false)?;
    let nstart = start_loc(ctx, int(newdfd), &nname)?;
    let nd = ctx.nd();
    let (odir, olast) = nd.lookup_parent(&ostart, &oname)?;
    let (ndir, nlast) = nd.lookup_parent(&nstart, &nname)?;
    let (Loc::Tmp(odir), Loc::Tmp(ndir)) = (odir, ndir) else {
        return Err(errno::EXDEV);
    };
    if !Arc::ptr_eq(&odir.sb, &ndir.sb) {
        return Err(errno::EXDEV);
    }
    if olast.kind != LastKind::Norm || nlast.kind != LastKind::Norm {
        return Err(errno::EBUSY);
    }
    let old = nd.lookup_last(&Loc::Tmp(odir.clone()), &olast.without_slash(), false)?;
    if let Loc::Proc(_) = old {
        return Err(errno::EBUSY);
    }
    if !old.is_dir() && (olast.slash || (nlast.slash && flags & RENAME_EXCHANGE == 0)) {
        return Err(errno::ENOTDIR);
    }
    if let Ok(Loc::Proc(_)) = nd.lookup_last(&Loc::Tmp(ndir.clone()), &nlast.without_slash(), false)
    {
        return Err(errno::EBUSY);
    }
    ctx.vfs
        .rename(&odir, &olast.name, &ndir, &nlast.name, flags, ctx.cred)?;
    Ok(0)
}

/// `readlinkat(2)` (`do_readlinkat`): `EINVAL` for `bufsiz <= 0` before anything else, then the
/// path without following its last component (`""` is `dirfd` itself, `ENOENT` if that is not
/// a link); a symlink's target is copied without a NUL and truncated to `bufsiz`, `EFAULT` if
/// `buf` cannot take it. A name that is not a link is `EINVAL`.
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
    let loc = if name.is_empty() {
        fd_loc(ctx, dfd)?.ok_or(errno::ENOENT)?
    } else {
        let start = start_loc(ctx, dfd, &name)?;
        ctx.nd().lookup(&start, &name, false)?
    };
    let target = match ctx.nd().link_target(&loc) {
        Ok(t) => t,
        Err(_) if name.is_empty() => return Err(errno::ENOENT),
        Err(e) => return Err(e),
    };
    let n = target.len().min(bufsiz as usize);
    if n > 0 {
        ctx.mem.copy_to_user(buf as usize, &target[..n])?;
    }
    Ok(n)
}

/// `may_open`-style permission of a place for the caller (`inode_permission`); procfs files
/// are 0444 and its directories 0555, so only reading and searching pass, for everyone.
pub(super) fn loc_permission(loc: &Loc, cred: Cred, mask: u32) -> Result<(), Errno> {
    use crate::fs::inode::MAY_WRITE;
    match loc {
        Loc::Tmp(i) => i.lock().permission(cred, mask),
        Loc::Proc(_) if mask & MAY_WRITE != 0 => Err(errno::EACCES),
        Loc::Proc(n) if !n.is_dir() && mask & crate::fs::inode::MAY_EXEC != 0 => Err(errno::EACCES),
        Loc::Proc(_) => Ok(()),
    }
}
