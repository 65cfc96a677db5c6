//! Extended attributes: getxattr, setxattr, listxattr, removexattr and their `l` and `f` forms,
//! as Linux 6.1's tmpfs answers them without a security module. tmpfs keeps no attribute here:
//! a name in a namespace tmpfs handles (`security.`, `system.`, `trusted.`) reads as `ENODATA`,
//! any other (`user.` among them: tmpfs takes it only from Linux 6.6) as `EOPNOTSUPP`; the list is
//! empty; setting or removing is `EOPNOTSUPP`. /proc has no attribute handlers at all. The file is
//! resolved first, so a bad path or descriptor gets its own error, then the name is checked
//! (`ERANGE` when empty or longer than 255 bytes), then the value's size (`E2BIG` above 64 KiB).
use super::namei::*;
use super::*;

const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: u64 = 65536;
const XATTR_CREATE: u64 = 1;
const XATTR_REPLACE: u64 = 2;

/// The file a call names: by path (following a last symlink unless `l`), or by descriptor.
fn target(ctx: &mut FsCtx<'_>, nr: usize, arg: u64) -> Result<Option<Loc>, Errno> {
    #[allow(non_upper_case_globals)]
    match nr {
        SYS_fgetxattr | SYS_fsetxattr | SYS_flistxattr | SYS_fremovexattr => {
            let file = ctx.files.get(ufd(arg))?.file.clone();
            let f = file.lock();
            if matches!(f.kind, FileKind::Path(_)) {
                return Err(errno::EBADF);
            }
            Ok(file_loc(&f))
        }
        _ => {
            let name = getname(ctx.mem, arg, false)?;
            let start = start_loc(ctx, AT_FDCWD, &name)?;
            let follow = !matches!(
                nr,
                SYS_lgetxattr | SYS_lsetxattr | SYS_llistxattr | SYS_lremovexattr
            );
            Ok(Some(ctx.nd().lookup(&start, &name, follow)?))
        }
    }
}

/// An attribute name from user memory: `ERANGE` when empty or too long.
fn xattr_name(ctx: &mut FsCtx<'_>, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = match ctx.mem.read_cstring(addr as usize, XATTR_NAME_MAX + 1) {
        Err(e) if e == errno::ENAMETOOLONG => return Err(errno::ERANGE),
        r => r?,
    };
    if name.is_empty() {
        return Err(errno::ERANGE);
    }
    Ok(name)
}

/// What reading attribute `name` of a tmpfs file gives.
fn tmpfs_get(name: &[u8]) -> Errno {
    let handled = [&b"security."[..], b"system.", b"trusted."];
    if handled.iter().any(|p| name.starts_with(p)) {
        errno::ENODATA
    } else {
        errno::EOPNOTSUPP
    }
}

/// getxattr(2), lgetxattr(2), fgetxattr(2).
pub fn sys_getxattr(ctx: &mut FsCtx<'_>, nr: usize, file: u64, name: u64) -> SysResult {
    let loc = target(ctx, nr, file)?;
    let name = xattr_name(ctx, name)?;
    match loc {
        Some(Loc::Tmp(_)) => Err(tmpfs_get(&name)),
        _ => Err(errno::EOPNOTSUPP),
    }
}

/// listxattr(2), llistxattr(2), flistxattr(2): no attribute, so an empty list (0 bytes).
pub fn sys_listxattr(ctx: &mut FsCtx<'_>, nr: usize, file: u64) -> SysResult {
    target(ctx, nr, file)?;
    Ok(0)
}

/// setxattr(2), lsetxattr(2), fsetxattr(2).
pub fn sys_setxattr(
    ctx: &mut FsCtx<'_>,
    nr: usize,
    file: u64,
    name: u64,
    size: u64,
    flags: u64,
) -> SysResult {
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(errno::EINVAL);
    }
    let loc = target(ctx, nr, file)?;
    xattr_name(ctx, name)?;
    if size > XATTR_SIZE_MAX {
        return Err(errno::E2BIG);
    }
    let _ = loc;
    Err(errno::EOPNOTSUPP)
}

/// removexattr(2), lremovexattr(2), fremovexattr(2).
pub fn sys_removexattr(ctx: &mut FsCtx<'_>, nr: usize, file: u64, name: u64) -> SysResult {
    target(ctx, nr, file)?;
    xattr_name(ctx, name)?;
    Err(errno::EOPNOTSUPP)
}

/// posix_fadvise (`fadvise64`): advice about a file's future use, which a file system in memory
/// has nothing to do with. `EBADF` for a bad descriptor, `ESPIPE` for a pipe, `EINVAL` for an
/// unknown advice or a negative length; otherwise 0, as Linux's `generic_fadvise` on tmpfs.
pub fn sys_fadvise64(ctx: &mut FsCtx<'_>, fd: u64, len: u64, advice: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    if file.lock().kind.pipe().is_some() {
        return Err(errno::ESPIPE);
    }
    if (len as i64) < 0 || advice > 5 {
        return Err(errno::EINVAL);
    }
    Ok(0)
}
