//! mount(2) and umount2(2) for the file systems tidemark has: tmpfs and procfs.
use super::namei::*;
use super::*;

const MS_RDONLY: u64 = 1;
const MS_NOSUID: u64 = 2;
const MS_NODEV: u64 = 4;
const MS_NOEXEC: u64 = 8;
const MS_REMOUNT: u64 = 32;
const MS_BIND: u64 = 4096;
const MS_MOVE: u64 = 8192;
const MNT_FORCE: u32 = 1;
const MNT_DETACH: u32 = 2;
const MNT_EXPIRE: u32 = 4;
const UMOUNT_NOFOLLOW: u32 = 8;

/// `mount(2)` (`do_mount`): root only (`EPERM`); the target must be a directory (`ENOENT`,
/// `ENOTDIR`); `tmpfs` makes a new in-memory file system there (half of RAM at most, as
/// Linux's default `size=`), `devtmpfs` one with the device nodes, `sysfs` the minimal sysfs of
/// [`crate::fs::sysfs`], and `proc` mounts procfs (`EBUSY` if it is mounted already); other
/// types are `ENODEV`. A remount changes nothing here and succeeds; bind and move mounts are not
/// supported (`EINVAL`). The mount flags (`MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`, `MS_RDONLY`) are
/// accepted and not enforced.
pub fn sys_mount(
    ctx: &mut FsCtx<'_>,
    source: u64,
    target: u64,
    fstype: u64,
    flags: u64,
) -> SysResult {
    if !ctx.cred.privileged() {
        return Err(errno::EPERM);
    }
    let _ = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    let loc = user_path_at(ctx, AT_FDCWD, target, true)?;
    if flags & MS_REMOUNT != 0 {
        return Ok(0);
    }
    if flags & (MS_BIND | MS_MOVE) != 0 {
        return Err(errno::EINVAL);
    }
    if !loc.is_dir() {
        return Err(errno::ENOTDIR);
    }
    let kind = ctx.mem.read_cstring(fstype as usize, 256)?;
    let src = if source != 0 {
        ctx.mem.read_cstring(source as usize, PATH_MAX)?
    } else {
        b"none".to_vec()
    };
    let dir = match &loc {
        Loc::Tmp(d) => d.clone(),
        Loc::Proc(_) => return Err(errno::EBUSY),
    };
    match kind.as_slice() {
        b"tmpfs" => {
            let pages = ctx.vfs.rootfs.max_pages;
            let src = alloc::string::String::from_utf8_lossy(&src);
            ctx.vfs.mount_tmpfs(&dir, &src, "tmpfs", 0o1777, pages)?;
        }
        b"devtmpfs" => {
            // Linux has one devtmpfs that every mount shows; a fresh instance with the same
            // nodes looks the same to its users.
            let pages = ctx.vfs.rootfs.max_pages;
            let src = alloc::string::String::from_utf8_lossy(&src);
            let root = ctx.vfs.mount_tmpfs(&dir, &src, "devtmpfs", 0o755, pages)?;
            crate::fs::rootfs::add_dev_nodes(ctx.vfs, &root);
        }
        b"proc" => ctx.vfs.mount_proc(&dir)?,
        b"sysfs" => {
            let src = alloc::string::String::from_utf8_lossy(&src);
            crate::fs::sysfs::mount(
                ctx.vfs,
                &dir,
                &src,
                ctx.proc.cpus(),
                crate::arch::aarch64::MAX_CPUS,
            )?;
        }
        _ => return Err(errno::ENODEV),
    }
    Ok(0)
}

/// `umount2(2)`: root only (`EPERM`); unknown flags are `EINVAL`, as is a path that is not the
/// root of a mount.
pub fn sys_umount2(ctx: &mut FsCtx<'_>, target: u64, flags: u64) -> SysResult {
    let flags = int(flags) as u32;
    if !ctx.cred.privileged() {
        return Err(errno::EPERM);
    }
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(errno::EINVAL);
    }
    let loc = user_path_at(ctx, AT_FDCWD, target, flags & UMOUNT_NOFOLLOW == 0)?;
    ctx.vfs.umount(&loc)?;
    Ok(0)
}
