//! The name space: one tree of in-memory inodes (a tmpfs, filled from the initramfs at boot)
//! with procfs mounted on `/proc`, the path walk over it (Linux's `fs/namei.c`), and the calls
//! that change it (`vfs_create`, `vfs_mkdir`, `vfs_unlink`, `vfs_rmdir`, `vfs_rename`,
//! `vfs_link`, `vfs_symlink`), with Linux's checks in Linux's order.
//!
//! Locking: `ns` serialises every change to any directory (Linux takes the parents' `i_rwsem`
//! and, for a rename between directories, `s_vfs_rename_mutex`; one lock is enough until the
//! kernel runs on several cores, and is what makes a rename's loop check race-free). A walk
//! takes each directory's own lock for the one lookup, so it never waits for a change longer
//! than a step.
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::inode::*;
use super::procfs::{self, Node, ProcSource};
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{S_IFDIR, S_IFMT, S_IFREG};

/// `NAME_MAX`.
pub const NAME_MAX: usize = 255;
/// `MAXSYMLINKS`: symlinks one walk may follow before `ELOOP`.
pub const MAXSYMLINKS: u32 = 40;

/// `renameat2` flags.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

/// A place in the name space: an inode of the tmpfs, or a node of procfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    Tmp(Arc<Inode>),
    Proc(Node),
}

impl Loc {
    pub fn is_dir(&self) -> bool {
        match self {
            Loc::Tmp(i) => i.is_dir(),
            Loc::Proc(n) => n.is_dir(),
        }
    }

    /// The tmpfs inode, or `err` for a procfs node.
    pub fn tmp(&self, err: Errno) -> Result<&Arc<Inode>, Errno> {
        match self {
            Loc::Tmp(i) => Ok(i),
            Loc::Proc(_) => Err(err),
        }
    }
}

/// A mounted tmpfs: where, its root, and the source name `mount` was given.
#[derive(Clone, Debug)]
pub struct MountEntry {
    pub point: Arc<Inode>,
    pub root: Arc<Inode>,
    pub source: alloc::string::String,
    /// `tmpfs`, or `devtmpfs` for a tmpfs filled with the device nodes.
    pub fstype: &'static str,
}

/// Directories [`Vfs::path_of_file`] looks into for a renamed file before calling it deleted.
const FILE_SEARCH_BUDGET: usize = 10_000;

/// The anonymous device numbers tmpfs instances get after the root's (`get_anon_bdev`).
static NEXT_ANON_DEV: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(40);

/// A task's place in the name space (`struct fs_struct`): its working directory and the
/// umask of the files it creates. `fork` copies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsState {
    pub cwd: Loc,
    pub umask: u32,
}

impl FsState {
    /// At the root, with Linux's default umask for init (0022).
    pub fn new(vfs: &Vfs) -> FsState {
        FsState {
            cwd: vfs.root_loc(),
            umask: 0o022,
        }
    }

    /// A working directory that holds no inode (procfs's own directory), for tests.
    #[cfg(test)]
    pub const fn placeholder() -> FsState {
        FsState {
            cwd: Loc::Proc(Node::ProcDir),
            umask: 0o022,
        }
    }
}

/// What the last component of a path is (`LAST_NORM`, `LAST_DOT`, `LAST_DOTDOT`,
/// `LAST_ROOT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastKind {
    Norm,
    Dot,
    DotDot,
    Root,
}

/// The last component of a path, which calls that create or remove names handle themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Last {
    pub name: Vec<u8>,
    pub kind: LastKind,
    /// The path ended with `/`.
    pub slash: bool,
}

impl Last {
    /// The component without its trailing slash: what names the entry itself, for the calls
    /// that look it up before deciding what a slash means for them.
    pub fn without_slash(&self) -> Last {
        Last {
            slash: false,
            ..self.clone()
        }
    }
}

/// The name space.
pub struct Vfs {
    pub root: Arc<Inode>,
    pub rootfs: Arc<SuperBlock>,
    ns: crate::sync::Mutex<()>,
    /// The directory procfs is mounted on, if it is.
    proc_mount: crate::sync::Mutex<Option<Arc<Inode>>>,
    /// The tmpfs mounts beside the root, in mount order (`/proc/mounts`).
    mounts: crate::sync::Mutex<Vec<MountEntry>>,
    /// The wall clock, in nanoseconds since the epoch (file times).
    clock: fn() -> u64,
}

/// Who walks and from where: the caller's working directory, credentials and /proc view.
pub struct Namei<'a> {
    pub vfs: &'a Vfs,
    pub cwd: &'a Loc,
    pub cred: Cred,
    pub proc: &'a dyn ProcSource,
    /// The caller's own descriptors and working directory while a file call has them out of
    /// the process: what `/proc/self/fd` and `/proc/self/cwd` show.
    pub own: Option<(&'a super::fdtable::Files, &'a FsState)>,
}

/// A walker is the /proc view of its caller: the kernel's, with the caller's own descriptors
/// and working directory filled in.
impl ProcSource for Namei<'_> {
    fn pid(&self) -> i32 {
        self.proc.pid()
    }
    fn pids(&self) -> Vec<i32> {
        self.proc.pids()
    }
    fn fds(&self, pid: i32) -> Vec<u32> {
        match self.own {
            Some((files, _)) if pid == self.proc.pid() || self.proc.shares_files(pid) => {
                files.open_fds().collect()
            }
            _ => self.proc.fds(pid),
        }
    }
    fn render(&self, node: Node, out: &mut alloc::string::String) -> Result<(), Errno> {
        self.proc.render(node, out)
    }
    fn write(&self, node: Node, data: &[u8]) -> Result<usize, Errno> {
        self.proc.write(node, data)
    }
    fn rlimit_fsize(&self) -> u64 {
        self.proc.rlimit_fsize()
    }
    fn pagemap(
        &self,
        pid: i32,
        first: usize,
        out: &mut [u64],
        show_pfn: bool,
    ) -> Result<(), Errno> {
        self.proc.pagemap(pid, first, out, show_pfn)
    }
    fn threads(&self, pid: i32) -> Vec<i32> {
        self.proc.threads(pid)
    }
    fn exists(&self, pid: i32) -> bool {
        self.proc.exists(pid)
    }
    fn cpus(&self) -> usize {
        self.proc.cpus()
    }
    fn shares_files(&self, pid: i32) -> bool {
        self.proc.shares_files(pid)
    }
    fn shares_fs(&self, pid: i32) -> bool {
        self.proc.shares_fs(pid)
    }
    fn link(&self, link: procfs::ProcLink) -> Result<alloc::string::String, Errno> {
        let me = self.proc.pid();
        match (link, self.own) {
            (procfs::ProcLink::Cwd(p), Some((_, fs))) if p == me || self.proc.shares_fs(p) => {
                let path = self.vfs.path_of(&fs.cwd)?;
                Ok(alloc::string::String::from_utf8_lossy(&path).into_owned())
            }
            (procfs::ProcLink::Fd(p, n), Some((files, _)))
                if p == me || self.proc.shares_files(p) =>
            {
                Ok(files.get(n)?.file.lock().describe(self.vfs))
            }
            _ => self.proc.link(link),
        }
    }
    fn link_loc(&self, link: procfs::ProcLink) -> Option<Loc> {
        let me = self.proc.pid();
        match (link, self.own) {
            (procfs::ProcLink::Cwd(p), Some((_, fs))) if p == me || self.proc.shares_fs(p) => {
                Some(fs.cwd.clone())
            }
            (procfs::ProcLink::Fd(p, n), Some((files, _)))
                if p == me || self.proc.shares_files(p) =>
            {
                files.get(n).ok()?.file.lock().kind.loc()
            }
            _ => self.proc.link_loc(link),
        }
    }
}

fn split(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl Vfs {
    /// A name space with an empty root directory (mode 0755, owned by root) on a tmpfs of at
    /// most `max_pages` pages of data.
    pub fn new(clock: fn() -> u64, max_pages: usize) -> Vfs {
        let rootfs = SuperBlock::new(crate::fs::devnum::ROOT_DEV, max_pages);
        let now = Time::from_ns(clock());
        let root = Inode::new(
            &rootfs,
            S_IFDIR | 0o755,
            Cred::ROOT,
            Data::Dir(Dir::new(alloc::sync::Weak::new(), b"/")),
            now,
        );
        Vfs {
            root,
            rootfs,
            ns: crate::sync::Mutex::new(()),
            proc_mount: crate::sync::Mutex::new(None),
            mounts: crate::sync::Mutex::new(Vec::new()),
            clock,
        }
    }

    pub fn now(&self) -> Time {
        Time::from_ns((self.clock)())
    }

    pub fn root_loc(&self) -> Loc {
        Loc::Tmp(self.root.clone())
    }

    /// Mounts procfs on the directory `dir` (`mount -t proc proc dir`); `EBUSY` if something is
    /// mounted there already or procfs is mounted elsewhere (one procfs instance is all this
    /// kernel has).
    pub fn mount_proc(&self, dir: &Arc<Inode>) -> Result<(), Errno> {
        let _ns = self.ns.lock();
        let mut pm = self.proc_mount.lock();
        if pm.is_some() || Arc::ptr_eq(dir, &self.root) {
            return Err(errno::EBUSY);
        }
        let mut i = dir.lock();
        let d = i.dir_mut().ok_or(errno::ENOTDIR)?;
        if d.mounted.is_some() {
            return Err(errno::EBUSY);
        }
        d.mounted = Some(Mounted::Proc);
        drop(i);
        *pm = Some(dir.clone());
        Ok(())
    }

    /// Mounts a new tmpfs of at most `max_pages` pages on the directory `dir` (`mount -t tmpfs`):
    /// `EBUSY` if something is mounted there already. Its root has `mode` (tmpfs's default is
    /// `1777`, sticky and world-writable); `/proc/mounts` names it `fstype`. Returns the root.
    pub fn mount_tmpfs(
        &self,
        dir: &Arc<Inode>,
        source: &str,
        fstype: &'static str,
        mode: u32,
        max_pages: usize,
    ) -> Result<Arc<Inode>, Errno> {
        let _ns = self.ns.lock();
        let mut i = dir.lock();
        let (parent, name) = {
            let d = i.dir().ok_or(errno::ENOTDIR)?;
            if d.mounted.is_some() {
                return Err(errno::EBUSY);
            }
            (d.parent.clone(), d.name.clone())
        };
        let dev = crate::fs::devnum::makedev(
            0,
            NEXT_ANON_DEV.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
        );
        let sb = SuperBlock::new(dev, max_pages);
        let root = Inode::new(
            &sb,
            S_IFDIR | mode,
            Cred::ROOT,
            Data::Dir(Dir::new(parent, &name)),
            self.now(),
        );
        i.dir_mut().expect("a directory").mounted = Some(Mounted::Tmpfs(root.clone()));
        drop(i);
        self.mounts.lock().push(MountEntry {
            point: dir.clone(),
            root: root.clone(),
            source: alloc::string::String::from(source),
            fstype,
        });
        Ok(root)
    }

    /// Unmounts what `loc` is the root of (`umount2`): `EINVAL` if it is not a mount's root.
    pub fn umount(&self, loc: &Loc) -> Result<(), Errno> {
        let _ns = self.ns.lock();
        match loc {
            Loc::Proc(Node::ProcDir) => {
                let point = self.proc_mount.lock().take().ok_or(errno::EINVAL)?;
                if let Some(d) = point.lock().dir_mut() {
                    d.mounted = None;
                }
                Ok(())
            }
            Loc::Tmp(root) => {
                let mut mounts = self.mounts.lock();
                let i = mounts
                    .iter()
                    .rposition(|m| Arc::ptr_eq(&m.root, root))
                    .ok_or(errno::EINVAL)?;
                let m = mounts.remove(i);
                if let Some(d) = m.point.lock().dir_mut() {
                    d.mounted = None;
                }
                Ok(())
            }
            Loc::Proc(_) => Err(errno::EINVAL),
        }
    }

    /// The text of `/proc/mounts`: the root, procfs, and each tmpfs.
    pub fn mounts_text(&self) -> alloc::string::String {
        use core::fmt::Write;
        let mut s = alloc::string::String::from("rootfs / rootfs rw 0 0\n");
        if let Some(p) = self.proc_mount() {
            let path = self.path_of(&Loc::Tmp(p)).unwrap_or_default();
            let _ = writeln!(
                s,
                "proc {} proc rw,nosuid,nodev,noexec,relatime 0 0",
                alloc::string::String::from_utf8_lossy(&path)
            );
        }
        for m in self.mounts.lock().iter() {
            let path = self.path_of(&Loc::Tmp(m.root.clone())).unwrap_or_default();
            let _ = writeln!(
                s,
                "{} {} {} rw,relatime 0 0",
                m.source,
                alloc::string::String::from_utf8_lossy(&path),
                m.fstype
            );
        }
        s
    }

    /// The directory procfs covers, if mounted.
    pub fn proc_mount(&self) -> Option<Arc<Inode>> {
        self.proc_mount.lock().clone()
    }

    /// `..` of `dir`: the root is its own parent; procfs's root leads back to the directory
    /// above its mount point.
    fn parent(&self, dir: &Loc) -> Result<Loc, Errno> {
        match dir {
            Loc::Tmp(i) => {
                if Arc::ptr_eq(i, &self.root) {
                    return Ok(dir.clone());
                }
                let p = i.lock().dir().and_then(|d| d.parent.upgrade());
                Ok(Loc::Tmp(p.unwrap_or_else(|| self.root.clone())))
            }
            Loc::Proc(Node::ProcDir) => match self.proc_mount() {
                Some(m) => self.parent(&Loc::Tmp(m)),
                None => Ok(self.root_loc()),
            },
            Loc::Proc(n) => Ok(Loc::Proc(n.parent())),
        }
    }

    /// The absolute path of a directory (`d_path` for `getcwd`): `ENOENT` once it has been
    /// removed.
    /// Where a file (not a directory) is now, for `/proc/PID/fd` (`d_path`): `opened`, the
    /// path it was opened by, while that still names it; else the name it has in the same
    /// directory, or anywhere in the tree (it was renamed); `opened` with ` (deleted)` when it has
    /// no name left. A file with several names shows the one found first.
    pub fn path_of_file(&self, inode: &Arc<Inode>, opened: &[u8]) -> Vec<u8> {
        // A name the file never had in the tree (memfd's, O_TMPFILE's) says so already.
        let deleted = || {
            let mut p = opened.to_vec();
            if !p.ends_with(b" (deleted)") {
                p.extend_from_slice(b" (deleted)");
            }
            p
        };
        if inode.lock().nlink == 0 {
            return deleted();
        }
        let cut = opened.iter().rposition(|&b| b == b'/').unwrap_or(0);
        if let Some(dir) = self.resolve_dir(&opened[..cut]) {
            let found = dir.lock().dir().and_then(|d| {
                if d.get(&opened[cut + 1..])
                    .is_some_and(|i| Arc::ptr_eq(i, inode))
                {
                    return Some(opened[cut + 1..].to_vec());
                }
                d.entries()
                    .find(|(_, i)| Arc::ptr_eq(i, inode))
                    .map(|(n, _)| n.to_vec())
            });
            if let Some(name) = found {
                if let Ok(mut p) = self.path_of(&Loc::Tmp(dir)) {
                    if p.last() != Some(&b'/') {
                        p.push(b'/');
                    }
                    p.extend_from_slice(&name);
                    return p;
                }
            }
        }
        let mut budget = FILE_SEARCH_BUDGET;
        self.find_file(&self.root.clone(), inode, &mut budget)
            .unwrap_or_else(deleted)
    }

    /// The directory an absolute, canonical path names, walking names and tmpfs mounts only.
    fn resolve_dir(&self, path: &[u8]) -> Option<Arc<Inode>> {
        let mut cur = self.root.clone();
        for name in split(path) {
            let next = cur.lock().dir()?.get(name)?.clone();
            cur = self.mounted_root(next)?;
        }
        Some(cur)
    }

    /// What a directory shows: the root of the tmpfs mounted on it, if one is; `None` for
    /// procfs.
    fn mounted_root(&self, dir: Arc<Inode>) -> Option<Arc<Inode>> {
        let mounted = dir.lock().dir().map(|d| d.mounted.clone());
        match mounted {
            Some(Some(Mounted::Tmpfs(root))) => Some(root),
            Some(Some(Mounted::Proc)) => None,
            _ => Some(dir),
        }
    }

    /// A path of `inode` under `dir`, searching at most `budget` more entries.
    fn find_file(
        &self,
        dir: &Arc<Inode>,
        inode: &Arc<Inode>,
        budget: &mut usize,
    ) -> Option<Vec<u8>> {
        let entries: Vec<(Vec<u8>, Arc<Inode>)> = dir
            .lock()
            .dir()?
            .entries()
            .map(|(n, i)| (n.to_vec(), i.clone()))
            .collect();
        for (name, child) in &entries {
            if Arc::ptr_eq(child, inode) {
                let mut p = self.path_of(&Loc::Tmp(dir.clone())).ok()?;
                if p.last() != Some(&b'/') {
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                return Some(p);
            }
        }
        for (_, child) in entries {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            if child.is_dir() {
                if let Some(sub) = self.mounted_root(child) {
                    if let Some(p) = self.find_file(&sub, inode, budget) {
                        return Some(p);
                    }
                }
            }
        }
        None
    }

    pub fn path_of(&self, loc: &Loc) -> Result<Vec<u8>, Errno> {
        let mut inode = match loc {
            Loc::Tmp(i) => i.clone(),
            Loc::Proc(n) => {
                let Some(m) = self.proc_mount() else {
                    return Err(errno::ENOENT);
                };
                let mut p = self.path_of(&Loc::Tmp(m))?;
                let mut parts = Vec::new();
                let mut cur = *n;
                while cur != Node::ProcDir {
                    parts.push(cur);
                    cur = cur.parent();
                }
                for part in parts.iter().rev() {
                    p.push(b'/');
                    match part {
                        Node::PidDir(x) => p.extend_from_slice(alloc::format!("{x}").as_bytes()),
                        Node::TaskDir(_) => p.extend_from_slice(b"task"),
                        Node::FdDir(_) => p.extend_from_slice(b"fd"),
                        Node::SysDir(procfs::SysDir::Sys) => p.extend_from_slice(b"sys"),
                        Node::SysDir(procfs::SysDir::Kernel) => p.extend_from_slice(b"kernel"),
                        Node::SysDir(procfs::SysDir::Vm) => p.extend_from_slice(b"vm"),
                        Node::SysDir(procfs::SysDir::Sysvipc) => p.extend_from_slice(b"sysvipc"),
                        _ => return Err(errno::ENOTDIR),
                    }
                }
                return Ok(p);
            }
        };
        if inode.lock().nlink == 0 {
            return Err(errno::ENOENT);
        }
        let mut parts: Vec<Vec<u8>> = Vec::new();
        while !Arc::ptr_eq(&inode, &self.root) {
            let (name, parent) = {
                let i = inode.lock();
                let d = i.dir().ok_or(errno::ENOTDIR)?;
                (d.name.clone(), d.parent.upgrade())
            };
            parts.push(name);
            inode = parent.ok_or(errno::ENOENT)?;
        }
        if parts.is_empty() {
            return Ok(b"/".to_vec());
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        Ok(out)
    }

    /// Whether `inode` is `ancestor` or lies below it (`is_subdir`).
    fn is_subdir(&self, inode: &Arc<Inode>, ancestor: &Arc<Inode>) -> bool {
        let mut cur = inode.clone();
        loop {
            if Arc::ptr_eq(&cur, ancestor) {
                return true;
            }
            if Arc::ptr_eq(&cur, &self.root) {
                return false;
            }
            let p = cur.lock().dir().and_then(|d| d.parent.upgrade());
            match p {
                Some(p) => cur = p,
                None => return false,
            }
        }
    }

    /// `may_create`'s directory half: the directory still exists (`ENOENT` once removed), the
    /// caller may write and search it.
    fn may_create_in(&self, dir: &Inner, cred: Cred) -> Result<(), Errno> {
        if dir.nlink == 0 {
            return Err(errno::ENOENT);
        }
        dir.permission(cred, MAY_WRITE | MAY_EXEC)
    }

    /// Makes `name` in `dir` (`vfs_create`, `vfs_mknod`, `vfs_mkdir`, `vfs_symlink`): `EEXIST`
    /// if the name is taken; the new inode belongs to the caller, with the directory's group
    /// when the directory is set-group-ID (and then a new directory is too).
    pub fn create(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        mode: u32,
        rdev: u64,
        data: Data,
        cred: Cred,
    ) -> Result<Arc<Inode>, Errno> {
        let _ns = self.ns.lock();
        self.create_locked(dir, name, mode, rdev, data, cred)
    }

    fn create_locked(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        mut mode: u32,
        rdev: u64,
        data: Data,
        cred: Cred,
    ) -> Result<Arc<Inode>, Errno> {
        let now = self.now();
        let mut d = dir.lock();
        if !d.is_dir() {
            return Err(errno::ENOTDIR);
        }
        self.may_create_in(&d, cred)?;
        if d.dir().expect("a directory").get(name).is_some() {
            return Err(errno::EEXIST);
        }
        if dir.sb.sealed() {
            // No `create` (a regular file): `EACCES`; no `mkdir`, `mknod`, `symlink`: `EPERM`.
            return Err(if mode & S_IFMT == S_IFREG {
                errno::EACCES
            } else {
                errno::EPERM
            });
        }
        let is_dir = mode & S_IFMT == S_IFDIR;
        let mut owner = cred;
        if d.mode & S_ISGID != 0 {
            owner.fsgid = d.gid;
            if is_dir {
                mode |= S_ISGID;
            }
        }
        let data = match data {
            Data::Dir(_) => Data::Dir(Dir::new(Arc::downgrade(dir), name)),
            other => other,
        };
        let inode = Inode::new(&dir.sb, mode, owner, data, now);
        inode.lock().rdev = rdev;
        let dd = d.dir_mut().expect("a directory");
        dd.insert(name, inode.clone())?;
        if is_dir {
            d.nlink += 1;
        }
        d.mtime = now;
        d.ctime = now;
        Ok(inode)
    }

    /// `vfs_link`: a new name for `old` in `dir`. Directories cannot be linked (`EPERM`), nor
    /// can an inode whose last name is gone (`ENOENT`, Linux's check for `O_TMPFILE`-less
    /// files); procfs is another file system (`EXDEV`, checked by the caller).
    pub fn link(
        &self,
        old: &Arc<Inode>,
        dir: &Arc<Inode>,
        name: &[u8],
        cred: Cred,
    ) -> Result<(), Errno> {
        let _ns = self.ns.lock();
        let now = self.now();
        {
            let d = dir.lock();
            if !d.is_dir() {
                return Err(errno::ENOTDIR);
            }
            self.may_create_in(&d, cred)?;
            if d.dir().expect("a directory").get(name).is_some() {
                return Err(errno::EEXIST);
            }
            if dir.sb.sealed() {
                return Err(errno::EPERM);
            }
        }
        {
            let mut o = old.lock();
            if o.is_dir() {
                return Err(errno::EPERM);
            }
            // An `O_TMPFILE` file opened without `O_EXCL` may get its first name (`I_LINKABLE`);
            // a removed file may not get one back.
            if o.nlink == 0 && !o.linkable {
                return Err(errno::ENOENT);
            }
            o.linkable = false;
            o.nlink += 1;
            o.ctime = now;
        }
        let mut d = dir.lock();
        if let Err(e) = d.dir_mut().expect("a directory").insert(name, old.clone()) {
            old.lock().nlink -= 1;
            return Err(e);
        }
        d.mtime = now;
        d.ctime = now;
        Ok(())
    }

    /// `may_delete`: the directory exists and the caller may write and search it; in a sticky
    /// directory only the owner of the file or of the directory (or root) may remove it.
    fn may_delete(&self, dir: &Inner, victim: &Inner, cred: Cred) -> Result<(), Errno> {
        if dir.nlink == 0 {
            return Err(errno::ENOENT);
        }
        dir.permission(cred, MAY_WRITE | MAY_EXEC)?;
        if dir.mode & S_ISVTX != 0
            && cred.fsuid != victim.uid
            && cred.fsuid != dir.uid
            && !cred.privileged()
        {
            return Err(errno::EPERM);
        }
        Ok(())
    }

    /// `vfs_unlink` (`rmdir == false`) and `vfs_rmdir`: `ENOENT` for a missing name, `EISDIR`
    /// / `ENOTDIR` for the wrong kind, `ENOTEMPTY` for a directory with entries, `EBUSY` for
    /// a mount point.
    pub fn remove(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        rmdir: bool,
        cred: Cred,
    ) -> Result<(), Errno> {
        let _ns = self.ns.lock();
        let now = self.now();
        let mut d = dir.lock();
        let dd = d.dir().ok_or(errno::ENOTDIR)?;
        let victim = dd.get(name).cloned().ok_or(errno::ENOENT)?;
        let mut v = victim.lock();
        self.may_delete(&d, &v, cred)?;
        if dir.sb.sealed() {
            return Err(errno::EPERM);
        }
        if rmdir {
            let vd = v.dir().ok_or(errno::ENOTDIR)?;
            if vd.mounted.is_some() {
                return Err(errno::EBUSY);
            }
            if !vd.is_empty() {
                return Err(errno::ENOTEMPTY);
            }
            v.nlink = 0;
            d.nlink -= 1;
        } else {
            if v.is_dir() {
                return Err(errno::EISDIR);
            }
            v.nlink -= 1;
        }
        v.ctime = now;
        drop(v);
        d.dir_mut().expect("a directory").remove(name);
        d.mtime = now;
        d.ctime = now;
        Ok(())
    }

    /// `vfs_rename` with `renameat2`'s flags. In Linux's order: the source must exist; a
    /// directory cannot move below itself (`EINVAL`) and nothing can replace an ancestor of
    /// the source (`ENOTEMPTY`); with `RENAME_EXCHANGE` both must exist, with
    /// `RENAME_NOREPLACE` the target must not (`EEXIST`); a directory replaces only an empty
    /// directory (`ENOTDIR`, `ENOTEMPTY`) and a non-directory only a non-directory (`EISDIR`);
    /// renaming a name onto another name of the same inode does nothing. Mount points are
    /// `EBUSY`.
    pub fn rename(
        &self,
        odir: &Arc<Inode>,
        oname: &[u8],
        ndir: &Arc<Inode>,
        nname: &[u8],
        flags: u32,
        cred: Cred,
    ) -> Result<(), Errno> {
        let _ns = self.ns.lock();
        let now = self.now();
        if odir.sb.sealed() || ndir.sb.sealed() {
            return Err(if Arc::ptr_eq(&odir.sb, &ndir.sb) {
                errno::EPERM
            } else {
                errno::EXDEV
            });
        }
        let exchange = flags & RENAME_EXCHANGE != 0;
        let (old, old_dir_mode_ok) = {
            let d = odir.lock();
            let dd = d.dir().ok_or(errno::ENOTDIR)?;
            let old = dd.get(oname).cloned().ok_or(errno::ENOENT)?;
            let ok = self.may_delete(&d, &old.lock(), cred);
            (old, ok)
        };
        let new = {
            let d = ndir.lock();
            if d.nlink == 0 {
                return Err(errno::ENOENT);
            }
            d.dir().ok_or(errno::ENOTDIR)?.get(nname).cloned()
        };
        if exchange && new.is_none() {
            return Err(errno::ENOENT);
        }
        if flags & RENAME_NOREPLACE != 0 && new.is_some() {
            return Err(errno::EEXIST);
        }
        let old_is_dir = old.is_dir();
        let new_is_dir = new.as_ref().map(|n| n.is_dir());
        // The source cannot go below itself; the target cannot be an ancestor of the source.
        if old_is_dir && self.is_subdir(ndir, &old) {
            return Err(errno::EINVAL);
        }
        if let Some(n) = &new {
            if new_is_dir == Some(true) && self.is_subdir(odir, n) {
                return Err(if exchange {
                    errno::EINVAL
                } else {
                    errno::ENOTEMPTY
                });
            }
        }
        if let Some(n) = &new {
            if Arc::ptr_eq(n, &old) {
                return Ok(());
            }
        }
        old_dir_mode_ok?;
        match &new {
            Some(n) => {
                let nd = ndir.lock();
                self.may_delete(&nd, &n.lock(), cred)?;
            }
            None => self.may_create_in(&ndir.lock(), cred)?,
        }
        if exchange {
            if new_is_dir == Some(true) && !Arc::ptr_eq(odir, ndir) {
                new.as_ref()
                    .expect("exists")
                    .lock()
                    .permission(cred, MAY_WRITE)?;
            }
        } else if let Some(n) = &new {
            match (old_is_dir, new_is_dir == Some(true)) {
                (true, false) => return Err(errno::ENOTDIR),
                (false, true) => return Err(errno::EISDIR),
                _ => {}
            }
            if old_is_dir {
                let ni = n.lock();
                let nd = ni.dir().expect("a directory");
                if nd.mounted.is_some() {
                    return Err(errno::EBUSY);
                }
                if !nd.is_empty() {
                    return Err(errno::ENOTEMPTY);
                }
            }
        }
        if old_is_dir {
            if old.lock().dir().expect("a directory").mounted.is_some() {
                return Err(errno::EBUSY);
            }
            // `..` changes: the caller must be able to write the directory itself.
            if !Arc::ptr_eq(odir, ndir) {
                old.lock().permission(cred, MAY_WRITE)?;
            }
        }

        // Checks done; nothing below fails.
        let moved = odir
            .lock()
            .dir_mut()
            .expect("a directory")
            .remove(oname)
            .expect("checked");
        let replaced = ndir.lock().dir_mut().expect("a directory").remove(nname);
        ndir.lock()
            .dir_mut()
            .expect("a directory")
            .insert(nname, moved.clone())
            .map_err(|_| errno::ENOMEM)?;
        set_parent(&moved, ndir, nname);
        if exchange {
            let other = replaced.expect("exchange needs both");
            odir.lock()
                .dir_mut()
                .expect("a directory")
                .insert(oname, other.clone())
                .map_err(|_| errno::ENOMEM)?;
            set_parent(&other, odir, oname);
            if old_is_dir != (new_is_dir == Some(true)) && !Arc::ptr_eq(odir, ndir) {
                let (to_new, to_old) = if old_is_dir { (1, -1) } else { (-1, 1) };
                adjust_nlink(ndir, to_new);
                adjust_nlink(odir, to_old);
            }
            other.lock().ctime = now;
        } else {
            if let Some(r) = &replaced {
                let mut ri = r.lock();
                if ri.is_dir() {
                    ri.nlink = 0;
                    drop(ri);
                    adjust_nlink(ndir, -1);
                } else {
                    ri.nlink -= 1;
                    ri.ctime = now;
                }
            }
            if old_is_dir && !Arc::ptr_eq(odir, ndir) {
                adjust_nlink(odir, -1);
                adjust_nlink(ndir, 1);
            }
        }
        moved.lock().ctime = now;
        for d in [odir, ndir] {
            let mut di = d.lock();
            di.mtime = now;
            di.ctime = now;
        }
        Ok(())
    }
}

fn set_parent(inode: &Arc<Inode>, dir: &Arc<Inode>, name: &[u8]) {
    if let Some(d) = inode.lock().dir_mut() {
        d.parent = Arc::downgrade(dir);
        d.name = name.to_vec();
    }
}

fn adjust_nlink(dir: &Arc<Inode>, by: i32) {
    let mut d = dir.lock();
    d.nlink = d.nlink.wrapping_add_signed(by);
}

impl Namei<'_> {
    fn root(&self) -> Loc {
        self.vfs.root_loc()
    }

    /// Resolves `path` from `start` (absolute paths from the root). `follow`: a symlink as the
    /// last component is followed (`LOOKUP_FOLLOW`); links before it always are. A trailing
    /// `/` demands a directory (following a final link to find one).
    pub fn lookup(&self, start: &Loc, path: &[u8], follow: bool) -> Result<Loc, Errno> {
        let mut links = 0;
        self.walk(start, path, follow, &mut links)
    }

    /// Resolves all but the last component (`path_parentat`): the directory, and the last
    /// component for the caller to create, remove or look up.
    pub fn lookup_parent(&self, start: &Loc, path: &[u8]) -> Result<(Loc, Last), Errno> {
        let mut links = 0;
        self.walk_parent(start, path, &mut links)
    }

    fn walk(&self, start: &Loc, path: &[u8], follow: bool, links: &mut u32) -> Result<Loc, Errno> {
        let (dir, last) = self.walk_parent(start, path, links)?;
        self.last_step(&dir, &last, follow, links)
    }

    /// Looks up `last` in `dir`, the parent a [`lookup_parent`](Self::lookup_parent) found.
    pub fn lookup_last(&self, dir: &Loc, last: &Last, follow: bool) -> Result<Loc, Errno> {
        let mut links = 0;
        self.last_step(dir, last, follow, &mut links)
    }

    fn last_step(
        &self,
        dir: &Loc,
        last: &Last,
        follow: bool,
        links: &mut u32,
    ) -> Result<Loc, Errno> {
        let loc = match last.kind {
            LastKind::Root => dir.clone(),
            _ => self.step(dir, &last.name, follow || last.slash, links)?,
        };
        if last.slash && !loc.is_dir() {
            return Err(errno::ENOTDIR);
        }
        Ok(loc)
    }

    fn walk_parent(&self, start: &Loc, path: &[u8], links: &mut u32) -> Result<(Loc, Last), Errno> {
        let mut cur = if path.first() == Some(&b'/') {
            self.root()
        } else {
            start.clone()
        };
        let slash = path.len() > 1 && path.last() == Some(&b'/');
        let comps: Vec<&[u8]> = split(path).collect();
        let Some((last, middle)) = comps.split_last() else {
            let kind = if path.first() == Some(&b'/') {
                LastKind::Root
            } else {
                LastKind::Dot
            };
            let name = if kind == LastKind::Dot {
                b".".to_vec()
            } else {
                Vec::new()
            };
            return Ok((
                cur,
                Last {
                    name,
                    kind,
                    slash: false,
                },
            ));
        };
        for comp in middle {
            cur = self.step(&cur, comp, true, links)?;
        }
        if last.len() > NAME_MAX {
            return Err(errno::ENAMETOOLONG);
        }
        if !cur.is_dir() {
            return Err(errno::ENOTDIR);
        }
        let kind = match *last {
            b"." => LastKind::Dot,
            b".." => LastKind::DotDot,
            _ => LastKind::Norm,
        };
        Ok((
            cur,
            Last {
                name: last.to_vec(),
                kind,
                slash,
            },
        ))
    }

    /// One component: `may_lookup` (search permission on the directory), then `.`, `..` or
    /// the name, following a symlink when `follow`.
    fn step(&self, dir: &Loc, comp: &[u8], follow: bool, links: &mut u32) -> Result<Loc, Errno> {
        if comp.len() > NAME_MAX {
            return Err(errno::ENAMETOOLONG);
        }
        if !dir.is_dir() {
            return Err(errno::ENOTDIR);
        }
        if let Loc::Tmp(d) = dir {
            d.lock().permission(self.cred, MAY_EXEC)?;
        }
        let next = match comp {
            b"." => return Ok(dir.clone()),
            b".." => return self.vfs.parent(dir),
            name => self.child(dir, name)?,
        };
        if !follow {
            return Ok(next);
        }
        self.follow(dir, next, links)
    }

    fn child(&self, dir: &Loc, name: &[u8]) -> Result<Loc, Errno> {
        match dir {
            Loc::Tmp(d) => {
                let inode = d
                    .lock()
                    .dir()
                    .and_then(|dd| dd.get(name).cloned())
                    .ok_or(errno::ENOENT)?;
                let mounted = inode.lock().dir().and_then(|dd| dd.mounted.clone());
                Ok(match mounted {
                    Some(Mounted::Proc) => Loc::Proc(Node::ProcDir),
                    Some(Mounted::Tmpfs(root)) => Loc::Tmp(root),
                    None => Loc::Tmp(inode),
                })
            }
            Loc::Proc(n) => procfs::child(*n, name, self).map(Loc::Proc),
        }
    }

    fn follow(&self, dir: &Loc, node: Loc, links: &mut u32) -> Result<Loc, Errno> {
        let target = match &node {
            Loc::Tmp(i) => {
                let t = match &i.lock().data {
                    Data::Symlink(t) => Some(t.clone()),
                    _ => None,
                };
                match t {
                    Some(t) => t,
                    None => return Ok(node),
                }
            }
            Loc::Proc(Node::Link(l)) => {
                if let Some(loc) = self.link_loc(*l) {
                    *links += 1;
                    return if *links > MAXSYMLINKS {
                        Err(errno::ELOOP)
                    } else {
                        Ok(loc)
                    };
                }
                procfs::link_target(*l, self)?.into_bytes()
            }
            Loc::Proc(_) => return Ok(node),
        };
        *links += 1;
        if *links > MAXSYMLINKS {
            return Err(errno::ELOOP);
        }
        if target.is_empty() {
            return Err(errno::ENOENT);
        }
        self.walk(dir, &target, true, links)
    }

    /// The absolute path of what `path` names once every symlink is followed (`d_path` of the
    /// opened file): what `/proc/self/exe` shows for a program however it was named.
    pub fn canonical(&self, start: &Loc, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let mut start = start.clone();
        let mut path = path.to_vec();
        for _ in 0..=MAXSYMLINKS {
            let (dir, last) = self.lookup_parent(&start, &path)?;
            let loc = self.lookup_last(&dir, &last.without_slash(), false)?;
            let is_link = match &loc {
                Loc::Tmp(i) => i.mode() & S_IFMT == S_IFLNK,
                Loc::Proc(n) => matches!(n, Node::Link(_)),
            };
            if is_link {
                path = self.link_target(&loc)?;
                start = dir;
                continue;
            }
            let mut out = self.vfs.path_of(&dir)?;
            match last.kind {
                LastKind::Norm => {
                    if out.last() != Some(&b'/') {
                        out.push(b'/');
                    }
                    out.extend_from_slice(&last.name);
                }
                _ => return self.vfs.path_of(&loc),
            }
            return Ok(out);
        }
        Err(errno::ELOOP)
    }

    /// The target of a symlink, as `readlink` returns it.
    pub fn link_target(&self, loc: &Loc) -> Result<Vec<u8>, Errno> {
        match loc {
            Loc::Tmp(i) => match &i.lock().data {
                Data::Symlink(t) => Ok(t.clone()),
                _ => Err(errno::EINVAL),
            },
            Loc::Proc(Node::Link(l)) => Ok(procfs::link_target(*l, self)?.into_bytes()),
            Loc::Proc(_) => Err(errno::EINVAL),
        }
    }
}

/// Whether `mode` names a regular file (for callers outside this module).
pub fn is_regular(mode: u32) -> bool {
    mode & S_IFMT == S_IFREG
}
