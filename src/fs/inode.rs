//! Inodes of the in-memory file systems (Linux's `struct inode` with shmem's data): the
//! attributes `stat` reports, and what the inode holds: a directory's entries, a regular file's
//! pages, a symlink's target, or nothing (device nodes, FIFOs, sockets).
//!
//! Locking: each inode's [`Inner`] is behind its own lock, taken for one step at a time (never
//! two inodes' locks at once, except parent then child in [`mod@crate::fs::vfs`], which also holds
//! the namespace lock while it changes any directory). User memory is never touched with an
//! inode's lock held: data moves through a kernel buffer, so that a fault on a user buffer can
//! never wait for the lock of the file being read.
use alloc::collections::btree_map::Entry;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::page::FilePage;
use crate::mm::addr::PAGE_SIZE;
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{Stat, S_IFDIR, S_IFMT, S_IFREG};

/// The file-type bits Linux has beyond those of the ABI crate.
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFBLK: u32 = 0o060000;
pub use tidemark_abi::layout::S_IFCHR;
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;

/// `MAY_EXEC`, `MAY_WRITE`, `MAY_READ`: the access a permission check asks for.
pub const MAY_EXEC: u32 = 1;
pub const MAY_WRITE: u32 = 2;
pub const MAY_READ: u32 = 4;

/// `MAX_LFS_FILESIZE` on 64-bit: a file offset is a signed 64-bit number.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// A timestamp (`struct timespec64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

impl Time {
    pub const fn from_ns(ns: u64) -> Time {
        Time {
            sec: (ns / 1_000_000_000) as i64,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }
}

/// Who asks: the file-system ids and capabilities of the calling task (`current_cred()`).
/// Root (`fsuid == 0`) has `CAP_DAC_OVERRIDE`, `CAP_FOWNER` and `CAP_CHOWN`, as in Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cred {
    pub fsuid: u32,
    pub fsgid: u32,
}

impl Cred {
    pub const ROOT: Cred = Cred { fsuid: 0, fsgid: 0 };

    pub const fn privileged(self) -> bool {
        self.fsuid == 0
    }
}

/// A mounted file system's own state (`struct super_block`): its device number, inode
/// numbers, and the page budget of a tmpfs (`size=`, by default half of RAM, as Linux's).
#[derive(Debug)]
pub struct SuperBlock {
    pub dev: u64,
    next_ino: AtomicU64,
    pub max_pages: usize,
    used_pages: AtomicUsize,
    /// A sysfs: its tree is the kernel's, fixed once made ([`SuperBlock::seal`]).
    sealed: core::sync::atomic::AtomicBool,
}

impl SuperBlock {
    pub fn new(dev: u64, max_pages: usize) -> Arc<SuperBlock> {
        Arc::new(SuperBlock {
            dev,
            next_ino: AtomicU64::new(1),
            max_pages,
            used_pages: AtomicUsize::new(0),
            sealed: core::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Fixes the tree as it is (sysfs, once made): names can no longer be made or removed
    /// (kernfs has no `create`, `link`, `unlink`, `rename` or `mkdir` for them), and its files
    /// cannot be opened for writing.
    pub fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    pub fn sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// Pages of file data the file system holds now.
    pub fn used_pages(&self) -> usize {
        self.used_pages.load(Ordering::Relaxed)
    }

    /// Takes one page of the budget: `ENOSPC` when it is spent (`shmem_inode_acct_block`).
    fn charge_page(&self) -> Result<(), Errno> {
        let used = self.used_pages.fetch_add(1, Ordering::Relaxed);
        if used >= self.max_pages {
            self.used_pages.fetch_sub(1, Ordering::Relaxed);
            return Err(errno::ENOSPC);
        }
        Ok(())
    }

    fn uncharge_pages(&self, n: usize) {
        self.used_pages.fetch_sub(n, Ordering::Relaxed);
    }
}

/// What a mount point has on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mounted {
    /// procfs (`mount -t proc`), whose tree is [`crate::fs::procfs`].
    Proc,
    /// Another tmpfs (`mount -t tmpfs`): its root directory.
    Tmpfs(Arc<Inode>),
}

/// A directory's entries, in the order they were made. Each entry has a cookie that never
/// changes while it lives: `getdents64` resumes after the last cookie it returned, so removing
/// entries during a listing (as `rm -r` does) skips nothing, like Linux 6.6's stable tmpfs
/// offsets. Cookies 0, 1 and 2 stand for the start, `.` and `..`.
#[derive(Debug)]
pub struct Dir {
    by_name: BTreeMap<Vec<u8>, u64>,
    by_cookie: BTreeMap<u64, (Vec<u8>, Arc<Inode>)>,
    next_cookie: u64,
    /// The directory `..` names; a root's parent is itself (an empty `Weak` here).
    pub parent: Weak<Inode>,
    /// This directory's name in its parent (for `getcwd`).
    pub name: Vec<u8>,
    pub mounted: Option<Mounted>,
}

/// The first cookie of a real entry.
pub const FIRST_COOKIE: u64 = 3;

impl Dir {
    pub fn new(parent: Weak<Inode>, name: &[u8]) -> Dir {
        Dir {
            by_name: BTreeMap::new(),
            by_cookie: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            parent,
            name: name.to_vec(),
            mounted: None,
        }
    }

    pub fn get(&self, name: &[u8]) -> Option<&Arc<Inode>> {
        let c = self.by_name.get(name)?;
        self.by_cookie.get(c).map(|e| &e.1)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Adds `name`; the caller has checked that it is free.
    pub fn insert(&mut self, name: &[u8], inode: Arc<Inode>) -> Result<(), Errno> {
        let c = self.next_cookie;
        self.next_cookie += 1;
        let mut key = Vec::new();
        key.try_reserve_exact(name.len())
            .map_err(|_| errno::ENOMEM)?;
        key.extend_from_slice(name);
        self.by_cookie.insert(c, (key.clone(), inode));
        self.by_name.insert(key, c);
        Ok(())
    }

    pub fn remove(&mut self, name: &[u8]) -> Option<Arc<Inode>> {
        let c = self.by_name.remove(name)?;
        self.by_cookie.remove(&c).map(|e| e.1)
    }

    /// The first entry whose cookie is `cookie` or later: `(cookie, name, inode)`.
    pub fn entry_from(&self, cookie: u64) -> Option<(u64, &[u8], &Arc<Inode>)> {
        self.by_cookie
            .range(cookie..)
            .next()
            .map(|(c, (n, i))| (*c, n.as_slice(), i))
    }

    /// Every entry, in cookie order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &Arc<Inode>)> {
        self.by_cookie.values().map(|(n, i)| (n.as_slice(), i))
    }
}

/// A regular file's data: pages by index, sparse (a hole reads as zeros and costs nothing).
#[derive(Debug, Default)]
pub struct FileData {
    pages: BTreeMap<u64, FilePage>,
    pub size: u64,
}

impl FileData {
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    /// Whether page `index` holds data (is not a hole).
    pub fn has_page(&self, index: u64) -> bool {
        self.pages.contains_key(&index)
    }

    /// The frame of page `index`, if it holds data.
    #[cfg(target_os = "none")]
    pub fn page_pa(&self, index: u64) -> Option<crate::mm::addr::PhysAddr> {
        self.pages.get(&index).map(|p| p.phys())
    }

    #[cfg(not(target_os = "none"))]
    pub fn page_pa(&self, _index: u64) -> Option<crate::mm::addr::PhysAddr> {
        None
    }

    /// Copies what lies at `off` into `buf`; returns how many bytes (0 at or past the end).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> usize {
        if off >= self.size {
            return 0;
        }
        let n = (buf.len() as u64).min(self.size - off) as usize;
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let idx = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let m = (PAGE_SIZE - in_page).min(n - done);
            match self.pages.get(&idx) {
                Some(p) => buf[done..done + m].copy_from_slice(&p.bytes()[in_page..in_page + m]),
                None => buf[done..done + m].fill(0),
            }
            done += m;
        }
        n
    }

    /// Stores `src` at `off`, growing the file; pages come from `sb`'s budget. Returns how many
    /// bytes were stored: fewer than asked when memory ran out part-way, `ENOSPC` when none,
    /// `EFBIG` when `off` is at the size limit.
    pub fn write_at(&mut self, sb: &SuperBlock, off: u64, src: &[u8]) -> Result<usize, Errno> {
        if off >= MAX_FILE_SIZE && !src.is_empty() {
            return Err(errno::EFBIG);
        }
        let n = (src.len() as u64).min(MAX_FILE_SIZE - off) as usize;
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let idx = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let m = (PAGE_SIZE - in_page).min(n - done);
            let page = match self.page_mut(sb, idx) {
                Ok(p) => p,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            page.bytes_mut()[in_page..in_page + m].copy_from_slice(&src[done..done + m]);
            done += m;
        }
        self.size = self.size.max(off + done as u64);
        Ok(done)
    }

    /// The page at `index`, made (zeroed, from `sb`'s budget) where the file has a hole.
    pub fn page_mut(&mut self, sb: &SuperBlock, index: u64) -> Result<&mut FilePage, Errno> {
        match self.pages.entry(index) {
            Entry::Occupied(o) => Ok(o.into_mut()),
            Entry::Vacant(v) => {
                sb.charge_page()?;
                match FilePage::new() {
                    Some(p) => Ok(v.insert(p)),
                    None => {
                        sb.uncharge_pages(1);
                        Err(errno::ENOSPC)
                    }
                }
            }
        }
    }

    /// Sets the size: pages wholly past it are freed and the tail of the last one zeroed, so a
    /// later extension reads zeros (`shmem_setattr` → `truncate_setsize`).
    pub fn truncate(&mut self, sb: &SuperBlock, size: u64) {
        if size < self.size {
            let first_gone = size.div_ceil(PAGE_SIZE as u64);
            let gone = self.pages.split_off(&first_gone);
            sb.uncharge_pages(gone.len());
            drop(gone);
            let in_page = (size % PAGE_SIZE as u64) as usize;
            if in_page != 0 {
                if let Some(p) = self.pages.get_mut(&(size / PAGE_SIZE as u64)) {
                    p.bytes_mut()[in_page..].fill(0);
                }
            }
        }
        self.size = size;
    }

    /// Makes `[start, end)` read as zeros: the pages wholly inside it are freed, the partial
    /// ones at its ends zeroed there (`shmem_undo_range`). The size does not change.
    pub fn punch_hole(&mut self, sb: &SuperBlock, start: u64, end: u64) {
        const P: u64 = PAGE_SIZE as u64;
        let end = end.min(self.size);
        if start >= end {
            return;
        }
        let first_whole = start.div_ceil(P);
        let last_whole = end / P;
        let gone: Vec<u64> = self
            .pages
            .range(first_whole..last_whole.max(first_whole))
            .map(|(k, _)| *k)
            .collect();
        for k in &gone {
            self.pages.remove(k);
        }
        sb.uncharge_pages(gone.len());
        // The partial pages at the ends: one page when the range starts and ends in it.
        let mut partial = alloc::vec![(start / P, start % P, P.min(end - start / P * P))];
        if end / P != start / P {
            partial.push((end / P, 0, end % P));
        }
        for (page, from, to) in partial {
            if from < to && (page < first_whole || page >= last_whole) {
                if let Some(p) = self.pages.get_mut(&page) {
                    p.bytes_mut()[from as usize..to as usize].fill(0);
                }
            }
        }
    }

    /// Frees every page (the inode's last link and last opener are gone).
    pub fn release(&mut self, sb: &SuperBlock) {
        sb.uncharge_pages(self.pages.len());
        self.pages.clear();
    }
}

/// File seals (`include/uapi/linux/fcntl.h`): no more seals, no shrinking, no growing, no
/// writing (and no writable shared mapping), no writing from now on (mappings made before keep
/// working).
pub const F_SEAL_SEAL: u32 = 1;
pub const F_SEAL_SHRINK: u32 = 2;
pub const F_SEAL_GROW: u32 = 4;
pub const F_SEAL_WRITE: u32 = 8;
pub const F_SEAL_FUTURE_WRITE: u32 = 16;
/// The seals that forbid writing.
pub const F_SEALS_NO_WRITE: u32 = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

/// Unmaps pages `[first, end)` of a file from every process that maps it (Linux's
/// `unmap_mapping_range`), before they leave the file: with `even_cows`, private copies too (a
/// truncate), else only the file's own pages (a hole punched). The mappings are the task layer's,
/// which sets this at boot.
pub static UNMAP_MAPPING: spin::Once<fn(&Inode, u64, u64, bool)> = spin::Once::new();

/// Whether some process maps a file shared through a writable descriptor (Linux's
/// `i_mmap_writable` above zero), which `F_SEAL_WRITE` must find none of; set with
/// [`UNMAP_MAPPING`].
pub static MAPPED_WRITABLE: spin::Once<fn(&Inode) -> bool> = spin::Once::new();

/// Calls [`MAPPED_WRITABLE`] (`false` before the kernel has set it, or on the host).
pub fn mapped_writable(inode: &Inode) -> bool {
    MAPPED_WRITABLE.get().is_some_and(|f| f(inode))
}

/// Calls [`UNMAP_MAPPING`] (nothing before the kernel has set it, or on the host).
pub fn unmap_mapping_range(inode: &Inode, first: u64, end: u64, even_cows: bool) {
    if let Some(f) = UNMAP_MAPPING.get() {
        f(inode, first, end, even_cows);
    }
}

/// What an inode holds.
#[derive(Debug)]
pub enum Data {
    Dir(Dir),
    File(FileData),
    Symlink(Vec<u8>),
    /// Device nodes, FIFOs and sockets: the attributes are all there is.
    Special,
    /// A FIFO once opened: its pipe while some end of it is open.
    Fifo(alloc::sync::Weak<super::pipe::Pipe>),
}

/// The mutable part of an inode.
#[derive(Debug)]
pub struct Inner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub rdev: u64,
    /// An `O_TMPFILE` file that `linkat` may still give a name (Linux's `I_LINKABLE`).
    pub linkable: bool,
    /// File seals (`F_ADD_SEALS`): every tmpfs file starts with [`F_SEAL_SEAL`] (no more may
    /// be added), except a memfd made with `MFD_ALLOW_SEALING`.
    pub seals: u32,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub data: Data,
}

impl Inner {
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    pub fn dir(&self) -> Option<&Dir> {
        match &self.data {
            Data::Dir(d) => Some(d),
            _ => None,
        }
    }

    pub fn dir_mut(&mut self) -> Option<&mut Dir> {
        match &mut self.data {
            Data::Dir(d) => Some(d),
            _ => None,
        }
    }

    pub fn size(&self) -> u64 {
        match &self.data {
            Data::File(f) => f.size,
            Data::Symlink(t) => t.len() as u64,
            // tmpfs reports a directory's size as 20 bytes per entry plus 40 (BOGO_DIRENT_SIZE).
            Data::Dir(d) => 40 + 20 * d.len() as u64,
            Data::Special | Data::Fifo(_) => 0,
        }
    }

    /// `generic_permission`: the owner's, the group's or the others' bits, whichever class the
    /// caller is in; root passes read and write always, and execute when any `x` bit is set or
    /// the inode is a directory (`CAP_DAC_OVERRIDE`).
    pub fn permission(&self, cred: Cred, mask: u32) -> Result<(), Errno> {
        let mode = if cred.fsuid == self.uid {
            self.mode >> 6
        } else if cred.fsgid == self.gid {
            self.mode >> 3
        } else {
            self.mode
        } & 7;
        if mask & !mode == 0 {
            return Ok(());
        }
        if cred.privileged() && (mask & MAY_EXEC == 0 || self.is_dir() || self.mode & 0o111 != 0) {
            return Ok(());
        }
        Err(errno::EACCES)
    }

    /// `inode_owner_or_capable`.
    pub fn owner_or_capable(&self, cred: Cred) -> bool {
        cred.fsuid == self.uid || cred.privileged()
    }
}

/// An inode.
pub struct Inode {
    pub ino: u64,
    pub sb: Arc<SuperBlock>,
    inner: crate::sync::Mutex<Inner>,
    /// Linux's `i_writecount` ([`super::write_access`]): above 0, how many open files may write
    /// the inode; below 0, how many address spaces run it as their program.
    pub(super) writecount: core::sync::atomic::AtomicIsize,
}

impl core::fmt::Debug for Inode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Inode({}:{})", self.sb.dev, self.ino)
    }
}

/// Two handles are equal when they are the same inode.
impl PartialEq for Inode {
    fn eq(&self, other: &Inode) -> bool {
        core::ptr::eq(self, other)
    }
}
impl Eq for Inode {}

impl Inode {
    /// A new inode of `sb` with one link (two for a directory, whose `.` counts).
    pub fn new(sb: &Arc<SuperBlock>, mode: u32, cred: Cred, data: Data, now: Time) -> Arc<Inode> {
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        Arc::new(Inode {
            ino: sb.next_ino.fetch_add(1, Ordering::Relaxed),
            sb: sb.clone(),
            inner: crate::sync::Mutex::new(Inner {
                mode,
                uid: cred.fsuid,
                gid: cred.fsgid,
                nlink,
                rdev: 0,
                linkable: false,
                seals: F_SEAL_SEAL,
                atime: now,
                mtime: now,
                ctime: now,
                data,
            }),
            writecount: core::sync::atomic::AtomicIsize::new(0),
        })
    }

    pub fn lock(&self) -> crate::sync::MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    pub fn is_dir(&self) -> bool {
        self.lock().is_dir()
    }

    pub fn mode(&self) -> u32 {
        self.lock().mode
    }

    /// `generic_fillattr`; `st_blocks` counts the pages a file holds, in 512-byte units.
    pub fn stat(&self) -> Stat {
        let i = self.lock();
        let blocks = match &i.data {
            Data::File(f) => f.pages() as i64 * (PAGE_SIZE as i64 / 512),
            _ => 0,
        };
        Stat {
            st_dev: self.sb.dev,
            st_ino: self.ino,
            st_mode: i.mode,
            st_nlink: i.nlink,
            st_uid: i.uid,
            st_gid: i.gid,
            st_rdev: i.rdev,
            st_size: i.size() as i64,
            st_blksize: PAGE_SIZE as i32,
            st_blocks: blocks,
            st_atime: i.atime.sec,
            st_atime_nsec: i.atime.nsec as u64,
            st_mtime: i.mtime.sec,
            st_mtime_nsec: i.mtime.nsec as u64,
            st_ctime: i.ctime.sec,
            st_ctime_nsec: i.ctime.nsec as u64,
            ..Stat::default()
        }
    }

    pub fn is_regular(&self) -> bool {
        self.lock().file_type() == S_IFREG
    }
}

impl Drop for Inode {
    /// The last handle is gone (no name and no opener): the data goes back.
    fn drop(&mut self) {
        if let Data::File(f) = &mut self.inner.get_mut().data {
            f.release(&self.sb);
        }
    }
}

/// A tmpfs inode is the object behind its mappings: `mmap` of a file, shared anonymous memory,
/// memfd. Its pages are the frames `read(2)` and `write(2)` use.
#[cfg(target_os = "none")]
impl crate::mm::object::PageObject for Inode {
    fn get_page(
        &self,
        index: usize,
    ) -> Result<crate::mm::addr::PhysAddr, crate::mm::object::ObjectError> {
        use crate::mm::object::ObjectError;
        use crate::mm::phys::PhysMem;
        let mut i = self.lock();
        let Data::File(f) = &mut i.data else {
            return Err(ObjectError::Bus);
        };
        // A page wholly past the end of the file is `SIGBUS`.
        if (index as u64) * (PAGE_SIZE as u64) >= f.size {
            return Err(ObjectError::Bus);
        }
        let pa = f
            .page_mut(&self.sb, index as u64)
            .map_err(|_| ObjectError::NoMemory)?
            .phys();
        crate::mm::frame::KernelPhys.get_frame(pa);
        Ok(pa)
    }

    fn has_page(&self, index: usize) -> bool {
        match &self.lock().data {
            Data::File(f) => f.has_page(index as u64),
            _ => false,
        }
    }

    fn ident(&self) -> (u64, u64) {
        (self.sb.dev, self.ino)
    }

    fn peek_page(&self, index: usize) -> Option<crate::mm::addr::PhysAddr> {
        match &self.lock().data {
            Data::File(f) => f.page_pa(index as u64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punch_hole_zeroes_the_range_and_frees_whole_pages() {
        let sb = SuperBlock::new(1, 100);
        let mut f = FileData::default();
        f.write_at(&sb, 0, &[7u8; 3 * PAGE_SIZE]).unwrap();
        assert_eq!(sb.used_pages(), 3);
        f.punch_hole(&sb, 100, 2 * PAGE_SIZE as u64 + 10);
        assert_eq!(sb.used_pages(), 2, "the middle page is freed");
        let mut b = [0u8; 3 * PAGE_SIZE];
        assert_eq!(f.read_at(0, &mut b), 3 * PAGE_SIZE);
        assert!(b[..100].iter().all(|&x| x == 7));
        assert!(b[100..2 * PAGE_SIZE + 10].iter().all(|&x| x == 0));
        assert!(b[2 * PAGE_SIZE + 10..].iter().all(|&x| x == 7));
        // Within one page.
        f.punch_hole(&sb, 2 * PAGE_SIZE as u64 + 20, 2 * PAGE_SIZE as u64 + 30);
        f.read_at(0, &mut b);
        assert!(b[2 * PAGE_SIZE + 10..2 * PAGE_SIZE + 20]
            .iter()
            .all(|&x| x == 7));
        assert!(b[2 * PAGE_SIZE + 20..2 * PAGE_SIZE + 30]
            .iter()
            .all(|&x| x == 0));
        assert!(b[2 * PAGE_SIZE + 30..].iter().all(|&x| x == 7));
        assert_eq!(f.size, 3 * PAGE_SIZE as u64);
        f.release(&sb);
    }
}
