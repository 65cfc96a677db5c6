//! A process's file-descriptor table (Linux `struct files_struct` / `fdtable`, fs/file.c).
//!
//! Descriptors index a vector of slots; `open` takes the lowest free one below `RLIMIT_NOFILE`
//! (`alloc_fd`), as POSIX requires and as programs that `close(0); open(...)` rely on. Every
//! process starts with 0, 1 and 2 on the console, opened read-write like a terminal that `init`
//! duplicated onto all three.
//!
//! As on Linux, a descriptor points at an *open file description* ([`FileRef`], `struct file`)
//! that `dup`, `dup3`, `fcntl(F_DUPFD)` and `fork` share: the file position and the status flags
//! (`O_NONBLOCK`, `O_APPEND`) are the description's, so a change through one descriptor is
//! seen through the others; only close-on-exec belongs to the descriptor. The description goes
//! away (closing a pipe end) when its last descriptor in any process is closed.
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::inode::Inode;
use super::pipe::{PipeReader, PipeWriter};
use super::procfs::Node;
use super::tty::Tty;
use super::vfs::Loc;
use tidemark_abi::errno::{self, Errno};

/// Default `RLIMIT_NOFILE` soft limit (`INR_OPEN_CUR`).
pub const NR_OPEN_DEFAULT: usize = 1024;
/// `sysctl_nr_open`: the ceiling `setrlimit(RLIMIT_NOFILE)` may raise the limit to.
pub const NR_OPEN_MAX: usize = 1024 * 1024;

/// `open(2)` flags as arm64 defines them (`include/uapi/asm-generic/fcntl.h` with arm64's
/// `asm/fcntl.h` overriding the directory/nofollow/direct/largefile bits).
pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DSYNC: u32 = 0o10000;
pub const FASYNC: u32 = 0o20000;
pub const O_DIRECTORY: u32 = 0o40000;
pub const O_NOFOLLOW: u32 = 0o100000;
pub const O_DIRECT: u32 = 0o200000;
pub const O_LARGEFILE: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_SYNC: u32 = 0o4010000;
pub const O_PATH: u32 = 0o10000000;
/// `__O_TMPFILE`; `O_TMPFILE` is this plus `O_DIRECTORY`.
pub const O_TMPFILE_BIT: u32 = 0o20000000;
pub const O_TMPFILE: u32 = O_TMPFILE_BIT | O_DIRECTORY;

/// The console: the terminal ([`Tty`]) over a UART. The kernel plugs its PL011 driver in; tests
/// use a recorder.
pub trait Console {
    /// Writes all of `bytes` (the UART driver handles `\n` → `\r\n` as a tty's `ONLCR` would).
    fn write(&self, bytes: &[u8]);
    /// The terminal: its line discipline holds the input typed so far.
    fn tty(&self) -> &crate::sync::Mutex<Tty>;
    /// Moves what the UART has received into the terminal (where no interrupt did).
    fn poll_input(&self) {}
}

/// What an open file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The console terminal.
    Console,
    /// A /proc file. Its text is rendered at the first read and kept for the reads after it, as
    /// a `seq_file` does: a file opened before an exec (a shell's `< /proc/self/maps`) shows the
    /// new program. `pagemap`, too large to render whole, is rendered a window at a time: the
    /// one each read asks for, from offset `data_at` (0 for the others).
    Snapshot {
        node: Node,
        data: Option<Vec<u8>>,
        pos: u64,
        data_at: u64,
    },
    /// A directory: `pos` is the `getdents64` cookie to resume from.
    Dir { loc: Loc, pos: u64 },
    /// A regular file of the tmpfs; `path` is where it was opened (`/proc/<pid>/fd` starts from
    /// it to find where the file is now: [`Vfs::path_of_file`](super::vfs::Vfs::path_of_file)).
    Regular {
        inode: Arc<Inode>,
        pos: u64,
        path: Arc<[u8]>,
        /// Opened for writing: the right to, which a running program's file refuses.
        write: Option<super::write_access::WriteAccess>,
    },
    /// A character device other than the console (`/dev/null` and friends).
    Device {
        inode: Arc<Inode>,
        dev: CharDev,
        path: Arc<[u8]>,
    },
    /// `O_PATH`: a place in the tree, for `*at` calls, `fstat` and `fchdir` only.
    Path(Loc),
    /// The read end of a pipe (`pipe2`).
    PipeRead(PipeReader),
    /// The write end of a pipe.
    PipeWrite(PipeWriter),
    /// Both ends of a named pipe opened `O_RDWR`.
    PipeRdWr(PipeReader, PipeWriter),
}

impl FileKind {
    /// The read end, for a pipe opened for reading.
    pub fn pipe_reader(&self) -> Option<&PipeReader> {
        match self {
            FileKind::PipeRead(r) | FileKind::PipeRdWr(r, _) => Some(r),
            _ => None,
        }
    }

    /// The write end, for a pipe opened for writing.
    pub fn pipe_writer(&self) -> Option<&PipeWriter> {
        match self {
            FileKind::PipeWrite(w) | FileKind::PipeRdWr(_, w) => Some(w),
            _ => None,
        }
    }

    /// Where the open file is in the tree, for a magic link to lead to (see
    /// [`ProcSource::link_loc`](super::procfs::ProcSource::link_loc)).
    pub fn loc(&self) -> Option<Loc> {
        match self {
            FileKind::Regular { inode, .. } | FileKind::Device { inode, .. } => {
                Some(Loc::Tmp(inode.clone()))
            }
            FileKind::Dir { loc, .. } | FileKind::Path(loc) => Some(loc.clone()),
            FileKind::Snapshot { node, .. } => Some(Loc::Proc(*node)),
            _ => self
                .pipe()
                .and_then(|p| p.origin())
                .map(|o| Loc::Tmp(o.inode.clone())),
        }
    }

    /// The pipe, for either end.
    pub fn pipe(&self) -> Option<&Arc<super::pipe::Pipe>> {
        match self {
            FileKind::PipeRead(r) | FileKind::PipeRdWr(r, _) => Some(r.pipe()),
            FileKind::PipeWrite(w) => Some(w.pipe()),
            _ => None,
        }
    }
}

/// The character devices `/dev` has besides the terminal (`drivers/char/mem.c`, `random.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharDev {
    /// 1:3: reads end at once, writes vanish.
    Null,
    /// 1:5: reads zeros, writes vanish.
    Zero,
    /// 1:7: reads zeros, writes fail with `ENOSPC`.
    Full,
    /// 1:8 and 1:9: the kernel's random bytes (one generator, never blocking once seeded).
    Random,
}

impl CharDev {
    /// The device a node's `rdev` names, if the kernel has it; the terminal devices (5:0
    /// `/dev/tty`, 5:1 `/dev/console`, 136:* ptys) open as the console.
    pub fn from_rdev(major: u32, minor: u32) -> Option<CharDev> {
        match (major, minor) {
            (1, 3) => Some(CharDev::Null),
            (1, 5) => Some(CharDev::Zero),
            (1, 7) => Some(CharDev::Full),
            (1, 8) | (1, 9) => Some(CharDev::Random),
            _ => None,
        }
    }
}

impl OpenFile {
    /// What `/proc/<pid>/fd/<n>` says the description is open on (`d_path`, or the
    /// `pipe:[ino]` of an anonymous inode).
    pub fn describe(&self, vfs: &super::vfs::Vfs) -> alloc::string::String {
        use alloc::string::String;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match &self.kind {
            FileKind::Console => String::from("/dev/console"),
            FileKind::PipeRead(_) | FileKind::PipeWrite(_) | FileKind::PipeRdWr(..) => {
                let pipe = self.kind.pipe().expect("a pipe end");
                match pipe.origin() {
                    Some(o) => text(&vfs.path_of_file(&o.inode, &o.path)),
                    None => alloc::format!("pipe:[{}]", pipe.ino()),
                }
            }
            FileKind::Regular { inode, path, .. } | FileKind::Device { inode, path, .. } => {
                text(&vfs.path_of_file(inode, path))
            }
            FileKind::Dir { loc, .. } | FileKind::Path(loc) => vfs
                .path_of(loc)
                .map_or_else(|_| String::from("/"), |p| text(&p)),
            FileKind::Snapshot { node, .. } => {
                let dir = vfs
                    .path_of(&Loc::Proc(node.parent()))
                    .map_or_else(|_| String::from("/proc"), |p| text(&p));
                match node {
                    Node::File(_, f) => alloc::format!("{dir}/{}", f.name()),
                    Node::Global(g) => alloc::format!("{dir}/{}", g.name()),
                    Node::Sys(s) => alloc::format!("{dir}/{}", s.name()),
                    _ => dir,
                }
            }
        }
    }
}

/// An open file description (`struct file`): what it is plus its status flags. Cloning one makes
/// a second, independent description of the same file (for a pipe end: one more reader or
/// writer); sharing goes through [`FileRef`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    pub kind: FileKind,
    /// `O_ACCMODE` bits and the status flags `fcntl(F_GETFL)` reports (`O_APPEND`,
    /// `O_NONBLOCK`, …).
    pub flags: u32,
}

impl OpenFile {
    pub fn console() -> OpenFile {
        OpenFile {
            kind: FileKind::Console,
            flags: O_RDWR | O_LARGEFILE,
        }
    }

    /// `FMODE_READ`: `O_RDONLY` or `O_RDWR`.
    pub fn readable(&self) -> bool {
        self.flags & O_PATH == 0 && matches!(self.flags & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// `FMODE_WRITE`: `O_WRONLY` or `O_RDWR`.
    pub fn writable(&self) -> bool {
        self.flags & O_PATH == 0 && matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn nonblock(&self) -> bool {
        self.flags & O_NONBLOCK != 0
    }

    /// Wraps the description for installing in a table.
    pub fn into_ref(self) -> FileRef {
        Arc::new(crate::sync::Mutex::new(self))
    }
}

/// A shared open file description: what descriptors (in one process after `dup`, in several
/// after `fork`) point at. Lock it for the length of one operation; never hold two at once.
pub type FileRef = Arc<crate::sync::Mutex<OpenFile>>;

/// One descriptor: the file and the per-descriptor close-on-exec flag.
#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: FileRef,
    pub cloexec: bool,
}

/// The descriptor table. `Clone` is [`Files::fork_clone`]: the descriptions are shared.
#[derive(Clone, Debug)]
pub struct Files {
    slots: Vec<Option<FdEntry>>,
    /// Linux's `next_fd`: every descriptor below it is open, so the search for a free one
    /// starts there (filling a table of 65,536 is then linear, not quadratic).
    next_fd: usize,
    /// `RLIMIT_NOFILE` soft limit: descriptors are `0..nofile`.
    nofile: usize,
}

impl Default for Files {
    fn default() -> Files {
        Files::new()
    }
}

impl Files {
    /// A table with 0, 1, 2 open on the console.
    pub fn new() -> Files {
        let mut f = Files::empty();
        for _ in 0..3 {
            f.slots.push(Some(FdEntry {
                file: OpenFile::console().into_ref(),
                cloexec: false,
            }));
        }
        f.next_fd = 3;
        f
    }

    /// A table with nothing open.
    pub fn empty() -> Files {
        Files {
            slots: Vec::new(),
            next_fd: 0,
            nofile: NR_OPEN_DEFAULT,
        }
    }

    /// The child's table for `fork` (`dup_fd`): the same descriptors with the same close-on-exec
    /// flags, pointing at the *same* open file descriptions (shared positions and status flags;
    /// no pipe end is opened or closed by forking), the same limit, and a copy of the terminal
    /// settings.
    pub fn fork_clone(&self) -> Files {
        self.clone()
    }

    /// The descriptors the table has room for (Linux's `fdt->max_fds`: at least 64, growing in
    /// powers of two), which bounds `select`'s `nfds`.
    pub fn max_fds(&self) -> usize {
        self.slots.len().next_power_of_two().max(64)
    }

    /// The current `RLIMIT_NOFILE` soft limit.
    pub fn nofile(&self) -> usize {
        self.nofile
    }

    /// Sets the soft limit (called by `setrlimit`/`prlimit64`). Linux refuses values above
    /// `sysctl_nr_open` with `EPERM`; descriptors already open above a lowered limit stay open.
    pub fn set_nofile(&mut self, limit: u64) -> Result<(), Errno> {
        if limit > NR_OPEN_MAX as u64 {
            return Err(errno::EPERM);
        }
        self.nofile = limit as usize;
        Ok(())
    }

    /// `fdget`: the entry for `fd`, `EBADF` if it is not open.
    pub fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .ok_or(errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(errno::EBADF)
    }

    /// `alloc_fd(0, rlimit(RLIMIT_NOFILE))`'s answer without installing anything: the lowest
    /// free descriptor, or `EMFILE`. `openat` asks before it looks the path up, so a full table
    /// is `EMFILE` even for a path that does not exist, as on Linux.
    pub fn lowest_free(&self) -> Result<u32, Errno> {
        self.lowest_free_from(0)
    }

    /// `alloc_fd(start, rlimit(RLIMIT_NOFILE))`: the lowest free descriptor at or above `start`,
    /// or `EMFILE`.
    pub fn lowest_free_from(&self, start: u32) -> Result<u32, Errno> {
        let limit = self.nofile.min(u32::MAX as usize);
        let start = (start as usize).max(self.next_fd);
        let fd = self
            .slots
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, s)| s.is_none())
            .map_or(self.slots.len().max(start), |(i, _)| i);
        if fd < limit {
            Ok(fd as u32)
        } else {
            Err(errno::EMFILE)
        }
    }

    /// Installs `file` at the lowest free descriptor (`get_unused_fd_flags` + `fd_install`).
    pub fn alloc(&mut self, file: OpenFile, cloexec: bool) -> Result<u32, Errno> {
        self.alloc_ref(file.into_ref(), cloexec, 0)
    }

    /// Installs an existing description at the lowest free descriptor at or above `start`
    /// (`dup`, `F_DUPFD`).
    pub fn alloc_ref(&mut self, file: FileRef, cloexec: bool, start: u32) -> Result<u32, Errno> {
        let fd = self.lowest_free_from(start)?;
        self.install(fd, file, cloexec)?;
        Ok(fd)
    }

    /// `do_dup2`'s install: puts `file` at `fd` (below the limit; the caller checks), returning
    /// the description that was there, which the caller drops (the silent close of `dup3`).
    /// `ENOMEM` when the table cannot grow (`expand_files`).
    pub fn install(
        &mut self,
        fd: u32,
        file: FileRef,
        cloexec: bool,
    ) -> Result<Option<FileRef>, Errno> {
        let fd = fd as usize;
        if self.slots.len() <= fd {
            if self.slots.capacity() <= fd {
                // Doubling, as `expand_fdtable`, but fallibly.
                let want = (fd + 1)
                    .max(self.slots.capacity() * 2)
                    .min(self.nofile.max(fd + 1));
                self.slots
                    .try_reserve_exact(want - self.slots.len())
                    .map_err(|_| errno::ENOMEM)?;
            }
            self.slots.resize_with(fd + 1, || None);
        }
        let old = self.slots[fd]
            .replace(FdEntry { file, cloexec })
            .map(|e| e.file);
        while self.slots.get(self.next_fd).is_some_and(Option::is_some) {
            self.next_fd += 1;
        }
        Ok(old)
    }

    /// `close_fd`: frees the descriptor, `EBADF` if it was not open. Returns the description;
    /// dropping the last reference closes it (a pipe end's count goes down then).
    pub fn close(&mut self, fd: u32) -> Result<FileRef, Errno> {
        let slot = self.slots.get_mut(fd as usize).ok_or(errno::EBADF)?;
        let entry = slot.take().ok_or(errno::EBADF)?;
        self.next_fd = self.next_fd.min(fd as usize);
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        Ok(entry.file)
    }

    /// `do_close_on_exec`: closes every descriptor marked close-on-exec.
    pub fn close_on_exec(&mut self) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                *slot = None;
            }
        }
        self.next_fd = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.slots.len());
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
    }

    /// Open descriptors, ascending.
    pub fn open_fds(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fs::pipe::Pipe;

    fn snap() -> OpenFile {
        OpenFile {
            kind: FileKind::Snapshot {
                node: Node::File(1, crate::fs::procfs::ProcFile::Maps),
                data: None,
                pos: 0,
                data_at: 0,
            },
            flags: O_RDONLY,
        }
    }

    #[test]
    fn the_table_grows_by_doubling() {
        let mut f = Files::new();
        f.set_nofile(65536).unwrap();
        let mut grown = 0;
        let mut cap = f.slots.capacity();
        for _ in 0..20_000 {
            f.alloc(snap(), false).unwrap();
            if f.slots.capacity() != cap {
                cap = f.slots.capacity();
                grown += 1;
            }
        }
        assert!(grown <= 16, "{grown} reallocations for 20,000 descriptors");
        assert_eq!(f.lowest_free(), Ok(20_003));
    }

    #[test]
    fn starts_with_console_on_0_1_2() {
        let f = Files::new();
        assert_eq!(f.open_fds().collect::<Vec<_>>(), [0, 1, 2]);
        for fd in 0..3 {
            let e = f.get(fd).unwrap().file.lock();
            assert_eq!(e.kind, FileKind::Console);
            assert!(e.readable() && e.writable());
        }
        assert_eq!(f.get(3).err(), Some(errno::EBADF));
        assert_eq!(f.get(u32::MAX).err(), Some(errno::EBADF));
    }

    #[test]
    fn lowest_free_and_close() {
        let mut f = Files::new();
        assert_eq!(f.alloc(snap(), false), Ok(3));
        assert_eq!(f.alloc(snap(), true), Ok(4));
        assert!(f.close(0).is_ok());
        assert_eq!(f.close(0).err(), Some(errno::EBADF));
        assert_eq!(f.close(99).err(), Some(errno::EBADF));
        assert_eq!(f.alloc(snap(), false), Ok(0));
        assert!(f.close(4).is_ok());
        assert_eq!(f.alloc(snap(), false), Ok(4));
        f.close_on_exec();
        assert_eq!(f.open_fds().count(), 5);
        f.get_mut(3).unwrap().cloexec = true;
        f.close_on_exec();
        assert_eq!(f.open_fds().collect::<Vec<_>>(), [0, 1, 2, 4]);
    }

    #[test]
    fn rlimit_nofile() {
        let mut f = Files::new();
        for want in 3..NR_OPEN_DEFAULT as u32 {
            assert_eq!(f.alloc(snap(), false), Ok(want));
        }
        assert_eq!(f.alloc(snap(), false), Err(errno::EMFILE));
        assert_eq!(f.lowest_free(), Err(errno::EMFILE));
        f.close(500).unwrap();
        assert_eq!(f.alloc(snap(), false), Ok(500));
        // Lowering the limit keeps open descriptors but stops new ones.
        f.set_nofile(4).unwrap();
        f.close(10).unwrap();
        assert_eq!(f.alloc(snap(), false), Err(errno::EMFILE));
        assert!(f.get(1000).is_ok());
        assert_eq!(f.set_nofile(u64::MAX), Err(errno::EPERM));
        let mut e = Files::empty();
        e.set_nofile(0).unwrap();
        assert_eq!(e.alloc(snap(), false), Err(errno::EMFILE));
    }

    #[test]
    fn alloc_from_and_install() {
        let mut f = Files::new();
        assert_eq!(f.lowest_free_from(10), Ok(10));
        let c = f.get(1).unwrap().file.clone();
        assert_eq!(f.alloc_ref(c.clone(), true, 10), Ok(10));
        assert_eq!(f.alloc_ref(c.clone(), false, 1), Ok(3));
        assert_eq!(f.alloc_ref(c.clone(), false, 0), Ok(4));
        assert_eq!(f.lowest_free_from(10), Ok(11));
        assert!(f.get(10).unwrap().cloexec);
        assert!(f.install(20, c.clone(), false).unwrap().is_none());
        assert!(f.install(20, c, true).unwrap().is_some());
        assert_eq!(f.open_fds().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 10, 20]);
        f.set_nofile(5).unwrap();
        assert_eq!(f.lowest_free_from(3), Err(errno::EMFILE));
        assert_eq!(f.lowest_free_from(u32::MAX), Err(errno::EMFILE));
    }

    #[test]
    fn fork_clone_shares_descriptions_and_pipe_ends() {
        let (r, w) = Pipe::new();
        let pipe = r.pipe().clone();
        let mut parent = Files::new();
        let rfd = parent
            .alloc(
                OpenFile {
                    kind: FileKind::PipeRead(r),
                    flags: O_RDONLY,
                },
                false,
            )
            .unwrap();
        let wfd = parent
            .alloc(
                OpenFile {
                    kind: FileKind::PipeWrite(w),
                    flags: O_WRONLY,
                },
                true,
            )
            .unwrap();
        let mut child = parent.fork_clone();
        // Forking opens no new ends.
        assert_eq!(pipe.ends(), (1, 1));
        assert!(child.get(wfd).unwrap().cloexec);
        // Status flags are the description's: set in the child, seen in the parent.
        child.get(rfd).unwrap().file.lock().flags |= O_NONBLOCK;
        assert!(parent.get(rfd).unwrap().file.lock().nonblock());
        // Only the last close of a description closes the end.
        drop(child.close(wfd).unwrap());
        assert_eq!(pipe.ends(), (1, 1));
        child.close_on_exec();
        drop(parent.close(wfd).unwrap());
        assert_eq!(pipe.ends(), (1, 0));
        drop(parent);
        assert_eq!(pipe.ends(), (1, 0));
        drop(child);
        assert_eq!(pipe.ends(), (0, 0));
    }
}
