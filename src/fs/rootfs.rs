//! The root file system at boot: the initramfs unpacked into the tmpfs the way Linux's
//! `init/initramfs.c` does it, then what a Linux userland expects to find and a bare initramfs
//! lacks: procfs on `/proc`, a devtmpfs-like `/dev` with its usual nodes, `/dev/shm` and
//! `/tmp`.
use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use super::cpio::{Initramfs, Member};
use super::inode::*;
use super::vfs::{Loc, Namei, Vfs};
use crate::fs::devnum::makedev;
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{S_IFDIR, S_IFMT, S_IFREG};

/// What unpacking did, for the boot log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: usize,
    pub dirs: usize,
    pub others: usize,
    /// Members whose directory was missing or whose data did not fit: left out, as Linux
    /// leaves out what it cannot create.
    pub skipped: usize,
}

/// The devices `/dev` gets when the initramfs does not bring its own:
/// `(name, major, minor, mode)`, as devtmpfs makes them.
const DEV_NODES: [(&str, u32, u32, u32); 7] = [
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
    ("console", 5, 1, 0o600),
];

/// The links `/dev` gets: `(name, target)`.
const DEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// A walker for the kernel's own lookups: root, from the root.
struct KernelLookup<'a> {
    vfs: &'a Vfs,
}

impl KernelLookup<'_> {
    /// The tmpfs directory at `path` (relative to the root), not following a final symlink.
    fn dir(&self, path: &str) -> Option<Arc<Inode>> {
        let root = self.vfs.root_loc();
        let nd = Namei {
            vfs: self.vfs,
            cwd: &root,
            cred: Cred::ROOT,
            proc: &NoProcess,
            own: None,
        };
        match nd.lookup(&root, path.as_bytes(), true).ok()? {
            Loc::Tmp(i) if i.is_dir() => Some(i),
            _ => None,
        }
    }
}

/// The /proc view of the kernel itself, for the lookups it makes before any process exists.
pub struct NoProcess;

impl super::procfs::ProcSource for NoProcess {
    fn pid(&self) -> i32 {
        0
    }
    fn pids(&self) -> alloc::vec::Vec<i32> {
        alloc::vec::Vec::new()
    }
    fn fds(&self, _: i32) -> alloc::vec::Vec<u32> {
        alloc::vec::Vec::new()
    }
    fn render(&self, _: super::procfs::Node, _: &mut alloc::string::String) -> Result<(), Errno> {
        Err(errno::ESRCH)
    }
    fn link(&self, _: super::procfs::ProcLink) -> Result<alloc::string::String, Errno> {
        Err(errno::ENOENT)
    }
    fn pagemap(&self, _: i32, _: usize, _: &mut [u64], _: bool) -> Result<(), Errno> {
        Err(errno::ESRCH)
    }
}

/// Splits `a/b/c` into `("a/b", "c")`; a name at the top is `("", name)`.
fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Unpacks every member of `image` into `vfs` (`unpack_to_rootfs`): directories, regular files
/// (their data copied into pages), hard links (newc's shared inode numbers), symlinks, device
/// nodes, FIFOs and sockets, each with the mode, owner and modification time it was archived
/// with. A later member of the same name replaces an earlier one, as when Linux unpacks
/// several archives.
pub fn unpack(vfs: &Vfs, image: &Initramfs<'_>) -> Unpacked {
    let mut out = Unpacked::default();
    let k = KernelLookup { vfs };
    let mut links: BTreeMap<(u32, u32, u32), Arc<Inode>> = BTreeMap::new();
    for m in image.members() {
        let path = m.path();
        if path.is_empty() {
            continue;
        }
        let (parent, name) = split_last(path);
        let Some(dir) = k.dir(parent) else {
            out.skipped += 1;
            continue;
        };
        match place(vfs, &dir, name.as_bytes(), &m, &mut links) {
            Ok(kind) => match kind {
                S_IFREG => out.files += 1,
                S_IFDIR => out.dirs += 1,
                _ => out.others += 1,
            },
            Err(_) => out.skipped += 1,
        }
    }
    out
}

/// Makes one member at `dir/name`; returns its file type.
fn place(
    vfs: &Vfs,
    dir: &Arc<Inode>,
    name: &[u8],
    m: &Member<'_>,
    links: &mut BTreeMap<(u32, u32, u32), Arc<Inode>>,
) -> Result<u32, Errno> {
    let kind = m.mode & S_IFMT;
    let existing = dir.lock().dir().and_then(|d| d.get(name).cloned());
    if let Some(e) = &existing {
        // `clean_path`: a directory over a directory stays (and takes the new attributes);
        // anything else goes first.
        if !(kind == S_IFDIR && e.is_dir()) {
            vfs.remove(dir, name, e.is_dir(), Cred::ROOT)?;
        }
    }
    let key = (m.ino, m.devmajor, m.devminor);
    let inode = match kind {
        S_IFDIR => match existing.filter(|e| e.is_dir()) {
            Some(e) => e,
            None => vfs.create(
                dir,
                name,
                m.mode,
                0,
                Data::Dir(Dir::new(Default::default(), b"")),
                Cred::ROOT,
            )?,
        },
        S_IFREG if m.nlink >= 2 && links.contains_key(&key) => {
            let first = links[&key].clone();
            vfs.link(&first, dir, name, Cred::ROOT)?;
            first
        }
        S_IFREG => {
            let inode = vfs.create(
                dir,
                name,
                m.mode,
                0,
                Data::File(Default::default()),
                Cred::ROOT,
            )?;
            if m.nlink >= 2 {
                links.insert(key, inode.clone());
            }
            inode
        }
        S_IFLNK => vfs.create(
            dir,
            name,
            m.mode,
            0,
            Data::Symlink(m.data.to_vec()),
            Cred::ROOT,
        )?,
        S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => vfs.create(
            dir,
            name,
            m.mode,
            makedev(m.rdevmajor, m.rdevminor),
            Data::Special,
            Cred::ROOT,
        )?,
        _ => return Err(errno::EINVAL),
    };
    if kind == S_IFREG && !m.data.is_empty() {
        let sb = inode.sb.clone();
        let mut i = inode.lock();
        if let Data::File(f) = &mut i.data {
            f.truncate(&sb, 0);
            if f.write_at(&sb, 0, m.data)? < m.data.len() {
                return Err(errno::ENOSPC);
            }
        }
    }
    let mut i = inode.lock();
    i.mode = kind | (m.mode & 0o7777);
    i.uid = m.uid;
    i.gid = m.gid;
    let t = Time {
        sec: i64::from(m.mtime),
        nsec: 0,
    };
    i.mtime = t;
    i.atime = t;
    Ok(kind)
}

/// Makes `name` in `dir` as a directory of `mode` unless something of that name exists.
pub(super) fn ensure_dir(vfs: &Vfs, dir: &Arc<Inode>, name: &str, mode: u32) -> Option<Arc<Inode>> {
    let existing = dir
        .lock()
        .dir()
        .and_then(|d| d.get(name.as_bytes()).cloned());
    if let Some(e) = existing {
        return e.is_dir().then_some(e);
    }
    vfs.create(
        dir,
        name.as_bytes(),
        S_IFDIR | mode,
        0,
        Data::Dir(Dir::new(Default::default(), b"")),
        Cred::ROOT,
    )
    .ok()
}

/// Creates devtmpfs's device nodes in `dev` (those it already has are kept).
pub fn add_dev_nodes(vfs: &Vfs, dev: &Arc<Inode>) {
    for (name, major, minor, mode) in DEV_NODES {
        let _ = vfs.create(
            dev,
            name.as_bytes(),
            S_IFCHR | mode,
            makedev(major, minor),
            Data::Special,
            Cred::ROOT,
        );
    }
}

/// What every boot adds to the unpacked tree: `/proc` with procfs mounted, `/dev` with the
/// devtmpfs nodes it lacks, `/dev/shm` and `/tmp` (mode 1777). What the initramfs already
/// has is kept.
pub fn add_kernel_mounts(vfs: &Vfs) {
    let root = vfs.root.clone();
    if let Some(proc) = ensure_dir(vfs, &root, "proc", 0o555) {
        let _ = vfs.mount_proc(&proc);
    }
    if let Some(dev) = ensure_dir(vfs, &root, "dev", 0o755) {
        add_dev_nodes(vfs, &dev);
        ensure_dir(vfs, &dev, "shm", 0o1777);
        // What udev (or systemd) adds beside devtmpfs, and bash's process substitution uses.
        for (name, target) in DEV_LINKS {
            let _ = vfs.create(
                &dev,
                name.as_bytes(),
                S_IFLNK | 0o777,
                0,
                Data::Symlink(target.as_bytes().to_vec()),
                Cred::ROOT,
            );
        }
    }
    ensure_dir(vfs, &root, "tmp", 0o1777);
}
