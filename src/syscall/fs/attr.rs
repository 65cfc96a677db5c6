//! Changing attributes (Linux's `fs/open.c`, `fs/attr.c`, `fs/utimes.c`): fchmod, fchmodat2,
//! fchown, fchownat, truncate, ftruncate, utimensat.
use super::namei::*;
use super::open::file_inode;
use super::*;
use crate::fs::inode::{Data, MAX_FILE_SIZE, MAY_WRITE, S_ISGID, S_ISUID};
use crate::syscall::abi::S_IFMT;
use alloc::sync::Arc;

/// `UTIME_NOW` and `UTIME_OMIT` in a `tv_nsec`.
pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// The tmpfs inode a place is, or `EPERM` for procfs (whose attributes cannot be changed
/// here).
fn tmp_inode(loc: &Loc) -> Result<Arc<Inode>, Errno> {
    loc.tmp(errno::EPERM).cloned()
}

/// `chmod_common`: only the owner (or root) may (`EPERM`); the file type stays; a caller
/// outside the file's group who is not root loses set-group-ID (`setattr_should_drop_sgid`).
fn chmod(ctx: &FsCtx<'_>, inode: &Inode, mode: u32) -> SysResult {
    let mut i = inode.lock();
    if !i.owner_or_capable(ctx.cred) {
        return Err(errno::EPERM);
    }
    let mut mode = mode & 0o7777;
    if mode & S_ISGID != 0 && ctx.cred.fsgid != i.gid && !ctx.cred.privileged() {
        mode &= !S_ISGID;
    }
    i.mode = (i.mode & S_IFMT) | mode;
    i.ctime = ctx.vfs.now();
    Ok(0)
}

/// `fchmod(2)`: `EBADF` for a descriptor not open (or open with `O_PATH`).
pub fn sys_fchmod(ctx: &mut FsCtx<'_>, fd: u64, mode: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(errno::EBADF);
    }
    match file_inode(&file) {
        Some(i) => chmod(ctx, &i, mode as u32),
        // Pipes and the console: their modes do not change here.
        None => Err(errno::EPERM),
    }
}

/// `fchmodat2(2)` (`fchmodat` is this with no flags): flags other than
/// `AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH` are `EINVAL`; a symlink's own mode cannot change
/// (`EOPNOTSUPP`).
pub fn sys_fchmodat2(ctx: &mut FsCtx<'_>, dfd: u64, path: u64, mode: u64, flags: u64) -> SysResult {
    let flags = int(flags) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let loc = path_or_fd(ctx, int(dfd), path, flags)?;
    let inode = tmp_inode(&loc)?;
    if inode.mode() & S_IFMT == crate::fs::inode::S_IFLNK {
        return Err(errno::EOPNOTSUPP);
    }
    chmod(ctx, &inode, mode as u32)
}

/// The place a `*at` call with `AT_EMPTY_PATH` / `AT_SYMLINK_NOFOLLOW` names.
fn path_or_fd(ctx: &mut FsCtx<'_>, dfd: i32, path: u64, flags: u32) -> Result<Loc, Errno> {
    let empty = flags & AT_EMPTY_PATH != 0;
    let name = getname(ctx.mem, path, empty)?;
    if name.is_empty() {
        return fd_loc(ctx, dfd)?.ok_or(errno::EPERM);
    }
    let start = start_loc(ctx, dfd, &name)?;
    ctx.nd()
        .lookup(&start, &name, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// `chown_common` (`notify_change` → `setattr_prepare`): `-1` leaves an id as it is; only root
/// may give a file away, and the owner may change its group only to the caller's own group
/// (`EPERM`). A change of owner or group clears set-user-ID, and set-group-ID when the group
/// may execute, on anything but a directory.
fn chown(ctx: &FsCtx<'_>, inode: &Inode, uid: u32, gid: u32) -> SysResult {
    let mut i = inode.lock();
    let c = ctx.cred;
    let new_uid = if uid == u32::MAX { i.uid } else { uid };
    let new_gid = if gid == u32::MAX { i.gid } else { gid };
    let owner = c.fsuid == i.uid;
    if uid != u32::MAX && !(owner && uid == i.uid) && !c.privileged() {
        return Err(errno::EPERM);
    }
    if gid != u32::MAX && !(owner && (gid == c.fsgid || gid == i.gid)) && !c.privileged() {
        return Err(errno::EPERM);
    }
    if (uid != u32::MAX || gid != u32::MAX) && !i.is_dir() {
        i.mode &= !S_ISUID;
        if i.mode & 0o010 != 0 {
            i.mode &= !S_ISGID;
        }
    }
    i.uid = new_uid;
    i.gid = new_gid;
    i.ctime = ctx.vfs.now();
    Ok(0)
}

/// `fchown(2)`.
pub fn sys_fchown(ctx: &mut FsCtx<'_>, fd: u64, uid: u64, gid: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(errno::EBADF);
    }
    match file_inode(&file) {
        Some(i) => chown(ctx, &i, uid as u32, gid as u32),
        None => Err(errno::EPERM),
    }
}

/// `fchownat(2)`: flags other than `AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH` are `EINVAL`.
pub fn sys_fchownat(
    ctx: &mut FsCtx<'_>,
    dfd: u64,
    path: u64,
    uid: u64,
    gid: u64,
    flags: u64,
) -> SysResult {
    let flags = int(flags) as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let loc = path_or_fd(ctx, int(dfd), path, flags)?;
    let inode = tmp_inode(&loc)?;
    chown(ctx, &inode, uid as u32, gid as u32)
}

/// `do_truncate` on a regular file; `len` is already known to be non-negative.
fn truncate(ctx: &FsCtx<'_>, inode: &Inode, len: u64) -> SysResult {
    let now = ctx.vfs.now();
    let sb = inode.sb.clone();
    let mut i = inode.lock();
    let seals = i.seals;
    let Data::File(f) = &mut i.data else {
        return Err(errno::EINVAL);
    };
    // `inode_newsize_ok`, for growth: past RLIMIT_FSIZE (which raises SIGXFSZ), then past the
    // largest file.
    if len > f.size && len > ctx.proc.rlimit_fsize() {
        return Err(errno::EFBIG_XFSZ);
    }
    if len > MAX_FILE_SIZE {
        return Err(errno::EFBIG);
    }
    // `shmem_setattr`: a sealed size.
    use crate::fs::inode::{F_SEAL_GROW, F_SEAL_SHRINK};
    if (len < f.size && seals & F_SEAL_SHRINK != 0) || (len > f.size && seals & F_SEAL_GROW != 0) {
        return Err(errno::EPERM);
    }
    if len < f.size {
        // `truncate_pagecache`: the pages wholly past the new end leave every mapping first,
        // so that touching them is SIGBUS.
        drop(i);
        let page = crate::mm::addr::PAGE_SIZE as u64;
        crate::fs::inode::unmap_mapping_range(inode, len.div_ceil(page), u64::MAX, true);
        i = inode.lock();
    }
    let Data::File(f) = &mut i.data else {
        return Err(errno::EINVAL);
    };
    f.truncate(&sb, len);
    i.mtime = now;
    i.ctime = now;
    Ok(0)
}

/// `truncate(2)` (`do_sys_truncate`): `EINVAL` for a negative length; a directory is `EISDIR`,
/// anything else not regular `EINVAL`; the caller must be able to write the file (`EACCES`).
pub fn sys_truncate(ctx: &mut FsCtx<'_>, path: u64, len: u64) -> SysResult {
    let len = len as i64;
    if len < 0 {
        return Err(errno::EINVAL);
    }
    let loc = user_path_at(ctx, AT_FDCWD, path, true)?;
    if loc.is_dir() {
        return Err(errno::EISDIR);
    }
    let inode = loc.tmp(errno::EINVAL)?.clone();
    if !inode.is_regular() {
        return Err(errno::EINVAL);
    }
    inode.lock().permission(ctx.cred, MAY_WRITE)?;
    // `vfs_truncate` takes write access for the while: a program's file is `ETXTBSY`.
    let _write = crate::fs::write_access::WriteAccess::get(&inode)?;
    truncate(ctx, &inode, len as u64)
}

/// `ftruncate(2)` (`do_sys_ftruncate`): `EINVAL` for a negative length, `EBADF` for a closed
/// descriptor, `EINVAL` for one not open for writing or not on a regular file.
pub fn sys_ftruncate(ctx: &mut FsCtx<'_>, fd: u64, len: u64) -> SysResult {
    let len = len as i64;
    if len < 0 {
        return Err(errno::EINVAL);
    }
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(errno::EBADF);
    }
    let FileKind::Regular { inode, .. } = &file.kind else {
        return Err(errno::EINVAL);
    };
    if !file.writable() {
        return Err(errno::EINVAL);
    }
    truncate(ctx, inode, len as u64)
}

/// `utimensat(2)` (`do_utimes`): `times` NULL means now for both; a `tv_nsec` outside
/// `0..1e9` that is neither `UTIME_NOW` nor `UTIME_OMIT` is `EINVAL`; a NULL `path` means
/// `dfd` itself (`futimens`), `EINVAL` with flags. Setting explicit times needs ownership
/// (`EPERM`); setting now needs ownership or write permission (`EACCES`). Both omitted does
/// nothing, successfully.
pub fn sys_utimensat(
    ctx: &mut FsCtx<'_>,
    dfd: u64,
    path: u64,
    times: u64,
    flags: u64,
) -> SysResult {
    let flags = int(flags) as u32;
    let dfd = int(dfd);
    let mut ts = [(0i64, UTIME_NOW); 2];
    if times != 0 {
        let raw: [Timespec; 2] = [
            ctx.mem.read_pod(times as usize)?,
            ctx.mem
                .read_pod(times as usize + core::mem::size_of::<Timespec>())?,
        ];
        for (t, r) in ts.iter_mut().zip(raw) {
            let ns = r.tv_nsec;
            if !(0..1_000_000_000).contains(&ns) && ns != UTIME_NOW && ns != UTIME_OMIT {
                return Err(errno::EINVAL);
            }
            *t = (r.tv_sec, ns);
        }
        if ts[0].1 == UTIME_OMIT && ts[1].1 == UTIME_OMIT {
            return Ok(0);
        }
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let loc = if path == 0 {
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            return Err(errno::EINVAL);
        }
        fd_loc(ctx, dfd)?.ok_or(errno::EPERM)?
    } else {
        path_or_fd(ctx, dfd, path, flags)?
    };
    let inode = tmp_inode(&loc)?;
    let now = ctx.vfs.now();
    let mut i = inode.lock();
    let explicit = ts.iter().any(|t| t.1 != UTIME_NOW && t.1 != UTIME_OMIT);
    if !i.owner_or_capable(ctx.cred) {
        if explicit {
            return Err(errno::EPERM);
        }
        i.permission(ctx.cred, MAY_WRITE)?;
    }
    let pick = |t: (i64, i64)| match t.1 {
        UTIME_NOW => Some(now),
        UTIME_OMIT => None,
        ns => Some(crate::fs::inode::Time {
            sec: t.0,
            nsec: ns as u32,
        }),
    };
    if let Some(a) = pick(ts[0]) {
        i.atime = a;
    }
    if let Some(m) = pick(ts[1]) {
        i.mtime = m;
    }
    i.ctime = now;
    Ok(0)
}

/// `fallocate` modes tmpfs supports (`shmem_fallocate`).
const FALLOC_FL_KEEP_SIZE: u32 = 1;
const FALLOC_FL_PUNCH_HOLE: u32 = 2;

/// `fallocate(2)` (`vfs_fallocate` + `shmem_fallocate`): mode 0 gives `[offset, offset + len)`
/// pages and grows the file over it, `FALLOC_FL_KEEP_SIZE` gives the pages without growing it,
/// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` frees what lies inside the range (reads there
/// give zeros). In Linux's order: `EINVAL` for a negative offset or a length not above 0,
/// `EOPNOTSUPP` for other modes (and a hole punched without `KEEP_SIZE`), `EBADF` unless open
/// for writing, `ESPIPE` on a pipe, `ENODEV` on anything else that is not a regular file,
/// `EFBIG` past the largest file, `ENOSPC` when memory runs out.
pub fn sys_fallocate(ctx: &mut FsCtx<'_>, fd: u64, mode: u64, offset: u64, len: u64) -> SysResult {
    let mode = int(mode) as u32;
    let (offset, len) = (offset as i64, len as i64);
    if offset < 0 || len <= 0 {
        return Err(errno::EINVAL);
    }
    if mode & !(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) != 0
        || (mode & FALLOC_FL_PUNCH_HOLE != 0 && mode & FALLOC_FL_KEEP_SIZE == 0)
    {
        return Err(errno::EOPNOTSUPP);
    }
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    if !file.writable() {
        return Err(errno::EBADF);
    }
    let inode = match &file.kind {
        FileKind::Regular { inode, .. } => inode.clone(),
        FileKind::PipeRead(_) | FileKind::PipeWrite(_) | FileKind::PipeRdWr(..) => {
            return Err(errno::ESPIPE)
        }
        FileKind::Dir { .. } => return Err(errno::EISDIR),
        _ => return Err(errno::ENODEV),
    };
    drop(file);
    let end = (offset as u64)
        .checked_add(len as u64)
        .filter(|&e| e <= MAX_FILE_SIZE)
        .ok_or(errno::EFBIG)?;
    let sb = inode.sb.clone();
    let now = ctx.vfs.now();
    let mut i = inode.lock();
    let seals = i.seals;
    let Data::File(f) = &mut i.data else {
        return Err(errno::ENODEV);
    };
    // `shmem_fallocate`: `inode_newsize_ok` for an allocation that ends past the end of the file
    // (RLIMIT_FSIZE, even under `KEEP_SIZE`); no hole in a write-sealed file, no growth of a
    // size-sealed one.
    if mode & FALLOC_FL_PUNCH_HOLE == 0 && end > f.size && end > ctx.proc.rlimit_fsize() {
        return Err(errno::EFBIG_XFSZ);
    }
    use crate::fs::inode::{F_SEALS_NO_WRITE, F_SEAL_GROW};
    if (mode & FALLOC_FL_PUNCH_HOLE != 0 && seals & F_SEALS_NO_WRITE != 0)
        || (mode & FALLOC_FL_KEEP_SIZE == 0 && end > f.size && seals & F_SEAL_GROW != 0)
    {
        return Err(errno::EPERM);
    }
    const P: u64 = crate::mm::addr::PAGE_SIZE as u64;
    if mode & FALLOC_FL_PUNCH_HOLE != 0 {
        // The whole pages of the hole leave the mappings (private copies stay).
        drop(i);
        crate::fs::inode::unmap_mapping_range(&inode, (offset as u64).div_ceil(P), end / P, false);
        i = inode.lock();
        let Data::File(f) = &mut i.data else {
            return Err(errno::ENODEV);
        };
        f.punch_hole(&sb, offset as u64, end);
    } else {
        for index in (offset as u64 / P)..end.div_ceil(P) {
            f.page_mut(&sb, index)?;
        }
        if mode & FALLOC_FL_KEEP_SIZE == 0 && end > f.size {
            f.size = end;
        }
    }
    i.mtime = now;
    i.ctime = now;
    Ok(0)
}
