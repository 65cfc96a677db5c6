//! Listing directories (Linux's `fs/readdir.c`): getdents64.
use super::*;
use crate::fs::inode::FIRST_COOKIE;

/// `DT_*` values: the file type bits of the mode, shifted (`S_DT`).
pub const fn dt_type(mode: u32) -> u8 {
    ((mode >> 12) & 15) as u8
}
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

/// The fixed part of a `struct linux_dirent64` (`d_ino`, `d_off`, `d_reclen`, `d_type`).
const DIRENT_HEADER: usize = 19;
/// What one call fills at most; a larger buffer gets the rest on the next call.
const MAX_FILL: usize = 64 << 10;

/// One directory entry to emit: inode number, type, name, and the position after it.
struct Ent<'n> {
    ino: u64,
    dtype: u8,
    name: &'n [u8],
    next: u64,
}

/// Appends `e` to `out` as a `linux_dirent64` (padded to 8 bytes); `false` if it does not
/// fit in `cap`.
fn emit(out: &mut Vec<u8>, cap: usize, e: &Ent<'_>) -> bool {
    let reclen = (DIRENT_HEADER + e.name.len() + 1).next_multiple_of(8);
    if out.len() + reclen > cap {
        return false;
    }
    out.extend_from_slice(&e.ino.to_le_bytes());
    out.extend_from_slice(&(e.next as i64).to_le_bytes());
    out.extend_from_slice(&(reclen as u16).to_le_bytes());
    out.push(e.dtype);
    out.extend_from_slice(e.name);
    out.resize(out.len() + reclen - DIRENT_HEADER - e.name.len(), 0);
    true
}

/// The entries of a procfs directory, in order: `.`, `..`, then its names.
fn proc_entries(node: Node, src: &dyn crate::fs::procfs::ProcSource) -> Vec<(u64, u8, Vec<u8>)> {
    let mut v = vec![(node.ino(), DT_DIR, b".".to_vec())];
    let parent = if node == Node::ProcDir {
        2
    } else {
        node.parent().ino()
    };
    v.push((parent, DT_DIR, b"..".to_vec()));
    for (name, n) in crate::fs::procfs::entries(node, src) {
        let dtype = match n {
            n if n.is_dir() => DT_DIR,
            Node::Link(_) => DT_LNK,
            _ => DT_REG,
        };
        v.push((n.ino(), dtype, name.into_bytes()));
    }
    v
}

/// `getdents64(2)` (`iterate_dir`): `EBADF` for a descriptor not open (or `O_PATH`),
/// `ENOTDIR` for one not on a directory, `EFAULT` for a buffer outside user space, `EINVAL`
/// when not even one entry fits. Returns the bytes stored, 0 at the end. A tmpfs directory
/// lists `.`, `..`, then its entries in the order they were made; the position after an entry
/// (`d_off`) stays valid while other entries come and go.
pub fn sys_getdents64(ctx: &mut FsCtx<'_>, fd: u64, dirp: u64, count: u64) -> SysResult {
    let file = ctx.files.get(ufd(fd))?.file.clone();
    let mut file = file.lock();
    let (loc, pos) = match &mut file.kind {
        FileKind::Dir { loc, pos } => (loc.clone(), pos),
        FileKind::Path(_) => return Err(errno::EBADF),
        _ => return Err(errno::ENOTDIR),
    };
    let count = int(count) as u32 as usize;
    if !access_ok(dirp as usize, count) {
        return Err(errno::EFAULT);
    }
    let cap = count.min(MAX_FILL);
    let mut out = Vec::new();
    let mut full = false;
    match &loc {
        Loc::Tmp(dir) => {
            let parent_ino = match ctx.nd().lookup(&loc, b"..", false) {
                Ok(Loc::Tmp(p)) => p.ino,
                _ => dir.ino,
            };
            if *pos == 0 {
                full = !emit(
                    &mut out,
                    cap,
                    &Ent {
                        ino: dir.ino,
                        dtype: DT_DIR,
                        name: b".",
                        next: 1,
                    },
                );
                if !full {
                    *pos = 1;
                }
            }
            if !full && *pos == 1 {
                full = !emit(
                    &mut out,
                    cap,
                    &Ent {
                        ino: parent_ino,
                        dtype: DT_DIR,
                        name: b"..",
                        next: 2,
                    },
                );
                if !full {
                    *pos = FIRST_COOKIE;
                }
            }
            if !full {
                let d = dir.lock();
                if let Some(dd) = d.dir() {
                    let mut cookie = (*pos).max(FIRST_COOKIE);
                    while let Some((c, name, inode)) = dd.entry_from(cookie) {
                        // Never lock a child under its parent for long: the mode is one load.
                        let dtype = dt_type(inode.mode());
                        if !emit(
                            &mut out,
                            cap,
                            &Ent {
                                ino: inode.ino,
                                dtype,
                                name,
                                next: c + 1,
                            },
                        ) {
                            full = true;
                            break;
                        }
                        cookie = c + 1;
                    }
                    *pos = cookie;
                }
            }
        }
        Loc::Proc(node) => {
            let ents = proc_entries(*node, &ctx.nd());
            let mut i = *pos as usize;
            while let Some((ino, dtype, name)) = ents.get(i) {
                let e = Ent {
                    ino: *ino,
                    dtype: *dtype,
                    name,
                    next: i as u64 + 1,
                };
                if !emit(&mut out, cap, &e) {
                    full = true;
                    break;
                }
                i += 1;
            }
            *pos = i as u64;
        }
    }
    if out.is_empty() && full {
        return Err(errno::EINVAL);
    }
    ctx.mem.copy_to_user(dirp as usize, &out)?;
    Ok(out.len())
}
