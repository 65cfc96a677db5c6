//! File attributes (Linux's `fs/stat.c`, `fs/statfs.c`): fstat, newfstatat, statx, statfs,
//! fstatfs, with the device numbers and modes Linux reports for the console, pipes and /proc.
use super::namei::*;
use super::*;
use crate::syscall::abi::{Statfs, Statx};

pub use crate::fs::inode::{S_IFIFO, S_IFLNK};

pub use crate::fs::devnum::{makedev, CONSOLE_RDEV, DEVPTS_DEV, PROC_DEV, ROOT_DEV};
/// The `tty` group a pty belongs to on Debian-like systems.
pub(super) const TTY_GID: u32 = 5;

/// `generic_fillattr` for a procfs node: files are empty regular files of mode 0444 (size 0,
/// as Linux reports for them; `environ` 0400, the writable ones 0644), directories 0555, links
/// 0777; `st_blksize` is
/// procfs's 1024. Everything belongs to root.
pub fn stat_node(node: Node) -> Stat {
    let (mode, nlink, dev, blksize) = match node {
        n if n.is_dir() => (S_IFDIR | 0o555, 2, PROC_DEV, 1024),
        Node::Link(_) => (S_IFLNK | 0o777, 1, PROC_DEV, 1024),
        Node::File(_, f) => (S_IFREG | f.mode(), 1, PROC_DEV, 1024),
        Node::Sys(f) => (S_IFREG | f.mode(), 1, PROC_DEV, 1024),
        _ => (S_IFREG | 0o444, 1, PROC_DEV, 1024),
    };
    Stat {
        st_dev: dev,
        st_ino: node.ino(),
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
    if let Some(o) = pipe.origin() {
        return o.inode.stat();
    }
    Stat {
        st_dev: PIPEFS_DEV,
        st_ino: pipe.ino(),
        st_mode: S_IFIFO | 0o600,
        st_nlink: 1,
        st_blksize: 4096,
        ..Stat::default()
    }
}

/// The attributes of a place in the tree.
pub fn stat_loc(loc: &Loc) -> Stat {
    match loc {
        Loc::Tmp(i) => i.stat(),
        Loc::Proc(n) => stat_node(*n),
    }
}

pub(super) fn stat_file(file: &OpenFile) -> Stat {
    match &file.kind {
        FileKind::Console => stat_console(),
        FileKind::Snapshot { node, .. } => stat_node(*node),
        FileKind::Dir { loc, .. } | FileKind::Path(loc) => stat_loc(loc),
        FileKind::Regular { inode, .. } | FileKind::Device { inode, .. } => inode.stat(),
        FileKind::PipeRead(_) | FileKind::PipeWrite(_) | FileKind::PipeRdWr(..) => {
            stat_pipe(file.kind.pipe().expect("a pipe end"))
        }
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
        let start = start_loc(ctx, dfd, &name)?;
        let follow = flag & AT_SYMLINK_NOFOLLOW == 0;
        stat_loc(&ctx.nd().lookup(&start, &name, follow)?)
    };
    ctx.mem.write_pod(statbuf as usize, &st)?;
    Ok(0)
}

/// `STATX_BASIC_STATS`: what [`sys_statx`] fills (everything but the birth time and the mount
/// id).
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// `AT_STATX_*` sync bits and `statx`'s reserved mask bit.
const STATX_RESERVED: u32 = 0x8000_0000;

/// `statx(2)`: flags beyond the `*at` ones and the sync type are `EINVAL`, as is a sync type of
/// 3 or the reserved mask bit; a NULL path is `dirfd` itself (Linux 6.11+), as with
/// `AT_EMPTY_PATH`. Fills the basic fields whatever `mask` asks, as Linux may.
pub fn sys_statx(
    ctx: &mut FsCtx<'_>,
    dirfd: u64,
    path: u64,
    flags: u64,
    mask: u64,
    buf: u64,
) -> SysResult {
    let flags = int(flags) as u32;
    let mask = mask as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(errno::EINVAL);
    }
    let dfd = int(dirfd);
    let empty = flags & AT_EMPTY_PATH != 0 || path == 0;
    let name = if path == 0 {
        Vec::new()
    } else {
        getname(ctx.mem, path, empty)?
    };
    let st = if name.is_empty() {
        if dfd == AT_FDCWD {
            stat_loc(&ctx.fs.cwd)
        } else if dfd < 0 {
            return Err(errno::EBADF);
        } else {
            stat_file(&ctx.files.get(dfd as u32)?.file.lock())
        }
    } else {
        let start = start_loc(ctx, dfd, &name)?;
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        stat_loc(&ctx.nd().lookup(&start, &name, follow)?)
    };
    let (rmaj, rmin) = super::open::decode_dev(st.st_rdev);
    let (dmaj, dmin) = super::open::decode_dev(st.st_dev);
    let sx = Statx {
        stx_mask: STATX_BASIC_STATS,
        stx_blksize: st.st_blksize as u32,
        stx_nlink: st.st_nlink,
        stx_uid: st.st_uid,
        stx_gid: st.st_gid,
        stx_mode: st.st_mode as u16,
        stx_ino: st.st_ino,
        stx_size: st.st_size as u64,
        stx_blocks: st.st_blocks as u64,
        stx_atime_sec: st.st_atime,
        stx_atime_nsec: st.st_atime_nsec as u32,
        stx_ctime_sec: st.st_ctime,
        stx_ctime_nsec: st.st_ctime_nsec as u32,
        stx_mtime_sec: st.st_mtime,
        stx_mtime_nsec: st.st_mtime_nsec as u32,
        stx_rdev_major: rmaj,
        stx_rdev_minor: rmin,
        stx_dev_major: dmaj,
        stx_dev_minor: dmin,
        ..Statx::default()
    };
    ctx.mem.write_pod(buf as usize, &sx)?;
    Ok(0)
}

/// `TMPFS_MAGIC`, `PROC_SUPER_MAGIC`, `PIPEFS_MAGIC`, `DEVPTS_SUPER_MAGIC`.
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const PIPEFS_MAGIC: i64 = 0x5049_5045;
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
/// `ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME`, procfs's mount flags.
const PROC_FLAGS: i64 = 0x2 | 0x4 | 0x8 | 0x400;
/// `ST_RELATIME`.
const ST_RELATIME: i64 = 0x400;

/// `statfs` of the file system `st` lives on: a tmpfs reports its page budget (`size=`) and
/// what its files hold; procfs, pipefs and devpts report zeros.
fn statfs_of(
    ctx: &FsCtx<'_>,
    st: &Stat,
    sb: Option<&alloc::sync::Arc<crate::fs::inode::SuperBlock>>,
) -> Statfs {
    let fsid = [st.st_dev as i32, (st.st_dev >> 32) as i32];
    let (kind, flags) = match st.st_dev {
        PROC_DEV => (PROC_SUPER_MAGIC, PROC_FLAGS),
        PIPEFS_DEV => (PIPEFS_MAGIC, ST_RELATIME),
        DEVPTS_DEV => (DEVPTS_SUPER_MAGIC, ST_RELATIME),
        _ => (TMPFS_MAGIC, ST_RELATIME),
    };
    let mut s = Statfs {
        f_type: kind,
        f_bsize: 4096,
        f_namelen: 255,
        f_frsize: 4096,
        f_flags: flags,
        f_fsid: fsid,
        ..Statfs::default()
    };
    if kind == TMPFS_MAGIC {
        let sb = sb.unwrap_or(&ctx.vfs.rootfs);
        let free = sb.max_pages.saturating_sub(sb.used_pages()) as u64;
        s.f_blocks = sb.max_pages as u64;
        s.f_bfree = free;
        s.f_bavail = free;
        s.f_files = sb.max_pages as u64;
        s.f_ffree = sb.max_pages as u64;
    }
    s
}

/// `statfs(2)`: the path is followed; `EFAULT` for a bad buffer.
pub fn sys_statfs(ctx: &mut FsCtx<'_>, path: u64, buf: u64) -> SysResult {
    let loc = user_path_at(ctx, AT_FDCWD, path, true)?;
    let sb = match &loc {
        Loc::Tmp(i) => Some(i.sb.clone()),
        Loc::Proc(_) => None,
    };
    let s = statfs_of(ctx, &stat_loc(&loc), sb.as_ref());
    ctx.mem.write_pod(buf as usize, &s)?;
    Ok(0)
}

/// `fstatfs(2)`: `EBADF`, then as `statfs` for the descriptor's file.
pub fn sys_fstatfs(ctx: &mut FsCtx<'_>, fd: u64, buf: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let file = file.lock();
    let st = stat_file(&file);
    let sb = super::open::file_inode(&file).map(|i| i.sb.clone());
    drop(file);
    let s = statfs_of(ctx, &st, sb.as_ref());
    ctx.mem.write_pod(buf as usize, &s)?;
    Ok(0)
}
