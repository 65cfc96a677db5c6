//! File attributes: fstat and newfstatat, with the device numbers and modes Linux reports for
//! the console, pipes and /proc.
use super::*;

/// `S_IFLNK` and `S_IFIFO` (`include/uapi/linux/stat.h`).
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFIFO: u32 = 0o010000;

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
pub(super) const TTY_GID: u32 = 5;

pub(super) fn node_ino(node: Node) -> u64 {
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

pub(super) fn stat_file(file: &OpenFile) -> Stat {
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
