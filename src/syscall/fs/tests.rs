//! Tests of the file syscalls against fake user memory, console, /proc and clock.
use super::*;
use crate::fs::procfs::{ProcFile, ProcLink, StatFields};
use crate::fs::tty::Tty;
use crate::syscall::user::FakeUserMem;
use alloc::collections::VecDeque;
use core::cell::{Cell, RefCell};

/// Start of the fake user mapping (page aligned) and its size.
const U: usize = 0x10000;
const LEN: usize = 0x10000;
/// Mapped nowhere, but inside the user half.
const UNMAPPED: u64 = 0x5000_0000;
/// A kernel-half address: fails `access_ok`.
const KERNEL: u64 = 0xffff_0000_0000_1000;
const PID: i32 = 42;
const EXE: &str = "/bin/hello";

#[derive(Default)]
struct RecConsole {
    out: RefCell<Vec<u8>>,
    input: RefCell<VecDeque<u8>>,
    tty: crate::sync::Mutex<Tty>,
}

impl Console for RecConsole {
    fn write(&self, bytes: &[u8]) {
        self.out.borrow_mut().extend_from_slice(bytes);
    }
    fn tty(&self) -> &crate::sync::Mutex<Tty> {
        &self.tty
    }
    /// What the test typed reaches the line discipline, its echo the output.
    fn poll_input(&self) {
        let mut echo = Vec::new();
        let mut tty = self.tty.lock();
        for b in self.input.borrow_mut().drain(..) {
            tty.receive(b, &mut echo);
        }
        drop(tty);
        self.out.borrow_mut().extend_from_slice(&echo);
    }
}

/// The fake /proc, with the caller's RLIMIT_FSIZE.
struct FakeProc {
    fsize: u64,
}

/// A maps text longer than a page, so reads cross chunk boundaries.
fn maps_text() -> String {
    let mut s = String::new();
    for i in 0..100 {
        s.push_str(&alloc::format!(
            "{:08x}-{:08x} rw-p 00000000 00:00 0 \n",
            0x400000 + i * 0x1000,
            0x401000 + i * 0x1000
        ));
    }
    s
}

/// A second process, to see another pid directory.
const OTHER: i32 = 7;

/// What the fake /proc was asked to write, by node.
static PROC_WRITES: std::sync::Mutex<Vec<(Node, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());

impl ProcSource for FakeProc {
    fn rlimit_fsize(&self) -> u64 {
        self.fsize
    }

    fn write(&self, node: Node, data: &[u8]) -> Result<usize, Errno> {
        PROC_WRITES.lock().unwrap().push((node, data.to_vec()));
        Ok(data.len())
    }

    /// Each entry is its page's number, with the top bit for a frame-number reader.
    fn pagemap(
        &self,
        pid: i32,
        first: usize,
        out: &mut [u64],
        show_pfn: bool,
    ) -> Result<(), Errno> {
        if pid != PID {
            return Err(errno::ESRCH);
        }
        for (i, e) in out.iter_mut().enumerate() {
            *e = (first + i) as u64 | if show_pfn { 1 << 63 } else { 0 };
        }
        Ok(())
    }

    fn render(&self, node: Node, out: &mut String) -> Result<(), Errno> {
        match node {
            Node::File(PID, f) => match f {
                ProcFile::Maps => out.push_str(&maps_text()),
                ProcFile::Status => out.push_str("Name:\thello\nVmSize:\t     100 kB\n"),
                ProcFile::Stat => StatFields::new(PID, "hello").write_stat(out).unwrap(),
                ProcFile::SmapsRollup => crate::mm::smaps::show_smaps_rollup(
                    out,
                    0,
                    0,
                    &crate::mm::smaps::MemSizeStats::default(),
                )
                .unwrap(),
                _ => out.push_str(f.name()),
            },
            Node::File(OTHER, _) => out.push_str("other"),
            Node::Global(g) => out.push_str(g.name()),
            _ => return Err(errno::ESRCH),
        }
        Ok(())
    }
    fn pid(&self) -> i32 {
        PID
    }
    fn pids(&self) -> Vec<i32> {
        vec![OTHER, PID]
    }
    fn fds(&self, _: i32) -> Vec<u32> {
        vec![0, 1, 2]
    }
    fn link(&self, link: ProcLink) -> Result<String, Errno> {
        match link {
            ProcLink::Exe(PID) => Ok(String::from(EXE)),
            _ => Err(errno::ENOENT),
        }
    }
}

/// A wait asked for: the deadline, whether pipes end it, the temporary signal mask.
type Block = (Option<u64>, bool, Option<u64>);

/// A clock the test moves, and a record of every wait asked for.
#[derive(Default)]
struct FakeSleep {
    now: Cell<u64>,
    deadline: Cell<Option<u64>>,
    blocks: RefCell<Vec<Block>>,
}

impl Sleeper for FakeSleep {
    fn now_ns(&self) -> u64 {
        self.now.get()
    }
    fn deadline(&self) -> Option<u64> {
        self.deadline.get()
    }
    fn block(&self, deadline: Option<u64>, pipes: bool, mask: Option<u64>) -> Errno {
        self.deadline.set(deadline);
        self.blocks.borrow_mut().push((deadline, pipes, mask));
        errno::EWOULDBLOCK_RESTART
    }
    fn finish(&self) {
        self.deadline.set(None);
    }
}

struct Env {
    mem: FakeUserMem,
    files: Files,
    con: RecConsole,
    sleep: FakeSleep,
    vfs: Vfs,
    fs: FsState,
    cred: Cred,
    fsize: u64,
}

/// A fixed wall clock for file times.
fn test_clock() -> u64 {
    1_700_000_000_000_000_000
}

impl Env {
    fn new() -> Env {
        Env {
            mem: FakeUserMem::new(U, LEN),
            files: Files::new(),
            con: RecConsole::default(),
            sleep: FakeSleep::default(),
            vfs: {
                let vfs = Vfs::new(test_clock, 1024);
                crate::fs::rootfs::add_kernel_mounts(&vfs);
                vfs
            },
            fs: FsState::placeholder(),
            cred: Cred::ROOT,
            fsize: u64::MAX,
        }
        .at_root()
    }

    fn at_root(mut self) -> Env {
        self.fs = FsState::new(&self.vfs);
        self
    }

    fn call<R>(&mut self, f: impl FnOnce(&mut FsCtx<'_>) -> R) -> R {
        let mut ctx = FsCtx {
            mem: &mut self.mem,
            files: &mut self.files,
            console: &self.con,
            proc: &FakeProc { fsize: self.fsize },
            sleeper: &self.sleep,
            vfs: &self.vfs,
            fs: &mut self.fs,
            cred: self.cred,
            job: JobIds {
                pid: PID,
                pgid: PID,
                sid: PID,
            },
        };
        f(&mut ctx)
    }

    /// Stores a NUL-terminated string at `U + off`; returns its address.
    fn cstr(&mut self, off: usize, s: &str) -> u64 {
        self.mem.put(U + off, s.as_bytes());
        self.mem.put(U + off + s.len(), &[0]);
        (U + off) as u64
    }

    fn open(&mut self, path: &str, flags: u32) -> SysResult {
        let p = self.cstr(0x8000, path);
        self.call(|c| sys_openat(c, AT_FDCWD as u64, p, flags as u64, 0))
    }

    fn openat(&mut self, dfd: i64, path: &str, flags: u32) -> SysResult {
        let p = self.cstr(0x8000, path);
        self.call(|c| sys_openat(c, dfd as u64, p, flags as u64, 0o644))
    }

    fn read(&mut self, fd: u64, buf: u64, n: u64) -> SysResult {
        self.call(|c| sys_read(c, fd, buf, n))
    }

    fn stat_at(&mut self, off: usize) -> Stat {
        Stat::from_bytes(self.mem.bytes(U + off, 128)).unwrap()
    }

    /// Writes an iovec array at `U + off`.
    fn iovs(&mut self, off: usize, v: &[(u64, u64)]) -> u64 {
        for (i, &(b, l)) in v.iter().enumerate() {
            let iov = Iovec {
                iov_base: b,
                iov_len: l,
            };
            self.mem.put(U + off + 16 * i, iov.as_bytes());
        }
        (U + off) as u64
    }
}

fn neg(v: i64) -> u64 {
    v as u64
}

#[test]
fn write_console_and_hostile_buffers() {
    let mut e = Env::new();
    e.mem.put(U, b"hello");
    let u = U as u64;
    assert_eq!(e.call(|c| sys_write(c, 1, u, 5)), Ok(5));
    assert_eq!(e.call(|c| sys_write(c, 2, u, 0)), Ok(0));
    // Upper 32 bits of an `unsigned int fd` are ignored.
    assert_eq!(e.call(|c| sys_write(c, (7 << 32) | 1, u, 1)), Ok(1));
    assert_eq!(*e.con.out.borrow(), b"helloh");
    assert_eq!(e.call(|c| sys_write(c, 1, 0, 5)), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_write(c, 1, 0, 0)), Ok(0));
    assert_eq!(e.call(|c| sys_write(c, 1, KERNEL, 0)), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_write(c, 1, UNMAPPED, 3)), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_write(c, 1, u, u64::MAX)), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_write(c, 1, u, neg(-1))), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_write(c, 9, u, 1)), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_write(c, neg(-1), u, 1)), Err(errno::EBADF));
    // A buffer running off the end of the mapping: what precedes the bad page is written.
    e.con.out.borrow_mut().clear();
    let tail = (U + LEN - 100) as u64;
    assert_eq!(e.call(|c| sys_write(c, 1, tail, 5000)), Ok(100));
    assert_eq!(e.con.out.borrow().len(), 100);
    // Bigger than one chunk, all mapped.
    assert_eq!(
        e.call(|c| sys_write(c, 1, u, 3 * 4096 + 7)),
        Ok(3 * 4096 + 7)
    );
    // A read-only /proc file is not writable.
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    assert_eq!(e.call(|c| sys_write(c, fd, u, 1)), Err(errno::EBADF));
}

/// RLIMIT_FSIZE: a write is cut at the limit, one that starts there writes nothing
/// (`EFBIG_XFSZ`, which the kernel turns into `EFBIG` and SIGXFSZ), and so does growth by
/// truncation or allocation; shrinking, writing below the limit and other files are unaffected.
#[test]
fn rlimit_fsize_limits_regular_files() {
    let mut e = Env::new();
    let fd = e.open("/limited", O_RDWR | O_CREAT).unwrap() as u64;
    e.fsize = 10;
    let u = U as u64;
    e.mem.put(U, b"0123456789abcdef");
    assert_eq!(e.call(|c| sys_write(c, fd, u, 16)), Ok(10));
    assert_eq!(e.call(|c| sys_write(c, fd, u, 1)), Err(errno::EFBIG_XFSZ));
    assert_eq!(e.call(|c| sys_write(c, fd, u, 0)), Ok(0));
    assert_eq!(e.call(|c| sys_pwrite64(c, fd, u, 4, 8)), Ok(2));
    assert_eq!(e.call(|c| sys_pwrite64(c, fd, u, 4, 2)), Ok(4));
    assert_eq!(e.call(|c| sys_ftruncate(c, fd, 11)), Err(errno::EFBIG_XFSZ));
    assert_eq!(e.call(|c| sys_ftruncate(c, fd, 4)), Ok(0));
    assert_eq!(e.call(|c| sys_ftruncate(c, fd, 10)), Ok(0));
    assert_eq!(
        e.call(|c| sys_fallocate(c, fd, 0, 8, 4)),
        Err(errno::EFBIG_XFSZ)
    );
    assert_eq!(
        e.call(|c| sys_fallocate(c, fd, 1, 8, 4)),
        Err(errno::EFBIG_XFSZ)
    );
    assert_eq!(e.call(|c| sys_fallocate(c, fd, 0, 0, 10)), Ok(0));
    assert_eq!(
        e.call(|c| sys_write(c, 1, u, 16)),
        Ok(16),
        "the console has no size"
    );
    e.fsize = u64::MAX;
    assert_eq!(e.call(|c| sys_write(c, fd, u, 16)), Ok(16));
}

/// The writable /proc files: `core_pattern` for root, a process's own `coredump_filter` for
/// itself (and root); a write goes to the kernel's /proc whole; the others stay read-only, for
/// open and for access(2) alike.
#[test]
fn proc_writable_files() {
    use crate::fs::procfs::SysFile;
    let mut e = Env::new();
    let pattern = Node::Sys(SysFile::CorePattern);
    let fd = e.open("/proc/sys/kernel/core_pattern", O_WRONLY).unwrap() as u64;
    e.mem.put(U, b"core.%p\n");
    assert_eq!(e.call(|c| sys_write(c, fd, U as u64, 8)), Ok(8));
    assert!(PROC_WRITES
        .lock()
        .unwrap()
        .contains(&(pattern, b"core.%p\n".to_vec())));
    assert_eq!(
        e.open("/proc/sys/kernel/osrelease", O_WRONLY),
        Err(errno::EACCES)
    );
    let p = e.cstr(0x8000, "/proc/sys/kernel/core_pattern");
    assert_eq!(
        e.call(|c| sys_faccessat2(c, AT_FDCWD as u64, p, 2, 0)),
        Ok(0)
    );
    assert_eq!(
        e.call(|c| sys_newfstatat(c, AT_FDCWD as u64, p, U as u64 + 0x1000, 0)),
        Ok(0)
    );
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFREG | 0o644);
    e.cred = Cred {
        fsuid: 1000,
        fsgid: 1000,
    };
    assert_eq!(
        e.open("/proc/sys/kernel/core_pattern", O_WRONLY),
        Err(errno::EACCES)
    );
    let p = e.cstr(0x8000, "/proc/sys/kernel/core_pattern");
    assert_eq!(
        e.call(|c| sys_faccessat2(c, AT_FDCWD as u64, p, 2, 0)),
        Err(errno::EACCES)
    );
    assert!(e.open("/proc/self/coredump_filter", O_RDWR).is_ok());
    assert_eq!(
        e.open(&format!("/proc/{OTHER}/coredump_filter"), O_WRONLY),
        Err(errno::EACCES)
    );
}

#[test]
fn read_console_waits_for_a_line() {
    let mut e = Env::new();
    let u = U as u64;
    // Nothing typed: the reader sleeps until input comes (or EAGAIN without blocking).
    assert_eq!(e.read(0, u, 100), Err(errno::EWOULDBLOCK_RESTART));
    assert_eq!(e.sleep.blocks.borrow().last(), Some(&(None, true, None)));
    // A buffer outside user space is refused before anything is taken; one that faults
    // loses the line it was given, as Linux's `tty_read` does.
    e.con.input.borrow_mut().extend(b"lost\r");
    assert_eq!(e.read(0, KERNEL, 3), Err(errno::EFAULT));
    assert_eq!(e.read(0, 0, 100), Err(errno::EFAULT));
    assert_eq!(e.read(0, u, 0), Ok(0));
    e.con.input.borrow_mut().extend(b"hi\r");
    e.con
        .input
        .borrow_mut()
        .extend(b"there\x7f\x7f\x7f\x7f\x7fo\r");
    assert_eq!(e.read(0, u, 100), Ok(3));
    assert_eq!(e.mem.bytes(U, 3), b"hi\n");
    assert_eq!(e.read(0, u, 100), Ok(2));
    assert_eq!(e.mem.bytes(U, 2), b"o\n");
    // The echo went to the console, erasures as backspace-space-backspace.
    assert_eq!(
        e.con.out.borrow().as_slice(),
        b"lost\nhi\nthere\x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08o\n"
    );
    assert_eq!(e.read(3, u, 1), Err(errno::EBADF));
    // ^D on an empty line is end of file; huge counts are clamped, not refused.
    e.con.input.borrow_mut().extend(b"\x04");
    assert_eq!(e.read(0, u, (MAX_RW_COUNT * 2) as u64), Ok(0));
    // O_NONBLOCK: EAGAIN.
    let fd = e.open("/dev/tty", O_RDWR | O_NONBLOCK).unwrap() as u64;
    assert_eq!(e.read(fd, u, 10), Err(errno::EAGAIN));
}

#[test]
fn snapshot_reads_partial_and_eof() {
    let mut e = Env::new();
    let want = maps_text().into_bytes();
    assert!(want.len() > 4096);
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    assert_eq!(fd, 3);
    let u = U as u64;
    assert_eq!(e.read(fd, u, 10), Ok(10));
    assert_eq!(e.mem.bytes(U, 10), &want[..10]);
    // The rest, across page-sized chunks.
    assert_eq!(e.read(fd, u + 10, 0x8000), Ok(want.len() - 10));
    assert_eq!(e.mem.bytes(U, want.len()), &want[..]);
    assert_eq!(e.read(fd, u, 100), Ok(0));
    // A buffer that ends part-way: the bytes that fit land, the position follows them.
    assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_SET as u64)), Ok(0));
    let tail = (U + LEN - 1000) as u64;
    assert_eq!(e.read(fd, tail, 3000), Ok(1000));
    assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(1000));
    // Wholly bad buffer: EFAULT and the position does not move.
    assert_eq!(e.read(fd, UNMAPPED, 10), Err(errno::EFAULT));
    assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(1000));
    // stat and status render too.
    let fd = e.open("/proc/self/stat", O_RDONLY).unwrap() as u64;
    let n = e.read(fd, u, 4096).unwrap();
    let text = core::str::from_utf8(e.mem.bytes(U, n)).unwrap();
    assert!(text.starts_with("42 (hello) R "));
    assert_eq!(text.split(' ').count(), 52);
    // A directory is not readable.
    let d = e.open("/proc/self", O_RDONLY).unwrap() as u64;
    assert_eq!(e.read(d, u, 10), Err(errno::EISDIR));
}

/// `pagemap` reads whole entries from the position on, each the window it asks for; none past
/// `TASK_SIZE`.
#[test]
fn pagemap_reads_the_window_asked_for() {
    let mut e = Env::new();
    let fd = e.open("/proc/self/pagemap", O_RDONLY).unwrap() as u64;
    assert_eq!(e.read(fd, U as u64, 4), Err(errno::EINVAL));
    assert_eq!(e.call(|c| sys_lseek(c, fd, 8 * 5, SEEK_SET as u64)), Ok(40));
    assert_eq!(e.read(fd, U as u64, 16), Ok(16));
    let entry =
        |e: &Env, i: usize| u64::from_ne_bytes(e.mem.bytes(U + 8 * i, 8).try_into().unwrap());
    assert_eq!((entry(&e, 0), entry(&e, 1)), (5 | 1 << 63, 6 | 1 << 63));
    assert_eq!(e.read(fd, U as u64, 8), Ok(8));
    assert_eq!(entry(&e, 0), 7 | 1 << 63, "the position moved on");
    // A read longer than a window renders window after window.
    assert_eq!(e.read(fd, U as u64, 8 * 10), Ok(80));
    assert!((0..10).all(|i| entry(&e, i) == (8 + i as u64) | 1 << 63));
    assert_eq!(e.read(fd, U as u64, 8), Ok(8));
    assert_eq!(entry(&e, 0), 18 | 1 << 63);
    assert_eq!(
        e.call(|c| sys_pread64(c, fd, U as u64, 8, 4)),
        Err(errno::EINVAL)
    );
    let end = (crate::mm::layout::TASK_SIZE >> 12) as u64 * 8;
    assert_eq!(e.call(|c| sys_pread64(c, fd, U as u64, 8, end - 8)), Ok(8));
    assert_eq!(
        e.call(|c| sys_pread64(c, fd, U as u64, 64, end - 16)),
        Ok(16)
    );
    assert_eq!(e.call(|c| sys_pread64(c, fd, U as u64, 8, end)), Ok(0));
}

#[test]
fn lseek_semantics() {
    let mut e = Env::new();
    let len = maps_text().len();
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    let seek =
        |e: &mut Env, fd: u64, off: i64, w: u32| e.call(|c| sys_lseek(c, fd, off as u64, w as u64));
    assert_eq!(seek(&mut e, fd, 5, SEEK_SET), Ok(5));
    assert_eq!(seek(&mut e, fd, 5, SEEK_CUR), Ok(10));
    assert_eq!(seek(&mut e, fd, -20, SEEK_CUR), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, -1, SEEK_SET), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, 0, SEEK_END), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, 0, SEEK_DATA), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, 0, 5), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, 0, u32::MAX), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, fd, 10, SEEK_CUR), Ok(20));
    assert_eq!(seek(&mut e, fd, i64::MAX, SEEK_CUR), Err(errno::EINVAL));
    // Past the end: allowed, reads return 0.
    assert_eq!(seek(&mut e, fd, len as i64 + 100, SEEK_SET), Ok(len + 100));
    assert_eq!(e.read(fd, U as u64, 10), Ok(0));
    assert_eq!(seek(&mut e, fd, len as i64 - 3, SEEK_SET), Ok(len - 3));
    assert_eq!(e.read(fd, U as u64, 10), Ok(3));
    // The console is not seekable; whence is checked first.
    assert_eq!(seek(&mut e, 1, 0, SEEK_SET), Err(errno::ESPIPE));
    assert_eq!(seek(&mut e, 1, 0, 9), Err(errno::EINVAL));
    assert_eq!(seek(&mut e, 77, 0, SEEK_SET), Err(errno::EBADF));
    // Directories: generic_file_llseek with size 0.
    let d = e.open("/proc", O_RDONLY).unwrap() as u64;
    assert_eq!(seek(&mut e, d, 3, SEEK_END), Ok(3));
    assert_eq!(seek(&mut e, d, 0, SEEK_DATA), Err(errno::ENXIO));
}

#[test]
fn openat_paths_and_errors() {
    let mut e = Env::new();
    assert_eq!(e.open("/proc/self/maps", O_RDONLY), Ok(3));
    assert_eq!(e.open("/proc/42/status", O_RDONLY), Ok(4));
    assert_eq!(e.open("proc/self/stat", O_RDONLY), Ok(5));
    assert_eq!(e.open("/proc/41/status", O_RDONLY), Err(errno::ENOENT));
    assert_eq!(e.open("/etc/passwd", O_RDONLY), Err(errno::ENOENT));
    assert_eq!(e.open("", O_RDONLY), Err(errno::ENOENT));
    assert_eq!(e.open("/proc/self/maps/", O_RDONLY), Err(errno::ENOTDIR));
    assert_eq!(e.open("/proc/self/exe", O_RDONLY), Err(errno::ENOENT));
    assert_eq!(e.open("/proc/self/exe", O_NOFOLLOW), Err(errno::ELOOP));
    // Write access to /proc files.
    for f in [
        O_WRONLY,
        O_RDWR,
        O_ACCMODE,
        O_RDONLY | O_TRUNC,
        O_WRONLY | O_CREAT,
    ] {
        assert_eq!(e.open("/proc/self/maps", f), Err(errno::EACCES), "{f:o}");
    }
    assert_eq!(e.open("/proc/self/maps", O_CREAT), Ok(6));
    assert_eq!(
        e.open("/proc/self/maps", O_CREAT | O_EXCL),
        Err(errno::EEXIST)
    );
    assert_eq!(
        e.open("/proc/self/new", O_CREAT | O_WRONLY),
        Err(errno::EACCES)
    );
    assert_eq!(e.open("/new", O_CREAT | O_WRONLY), Ok(7));
    assert_eq!(e.open("/new", O_CREAT | O_EXCL), Err(errno::EEXIST));
    assert_eq!(e.open("/nodir/new", O_CREAT), Err(errno::ENOENT));
    assert_eq!(e.open("/proc/self/maps/x", O_CREAT), Err(errno::ENOTDIR));
    assert_eq!(e.open("/proc", O_CREAT), Err(errno::EISDIR));
    assert_eq!(e.open("/proc/self/maps", O_DIRECTORY), Err(errno::ENOTDIR));
    assert_eq!(e.open("/proc", O_WRONLY), Err(errno::EISDIR));
    assert_eq!(e.open("/", O_RDONLY | O_TRUNC), Err(errno::EISDIR));
    assert_eq!(e.open("/proc", O_TMPFILE | O_RDWR), Err(errno::EOPNOTSUPP));
    assert_eq!(e.open("/", O_TMPFILE | O_RDWR), Ok(8));
    assert_eq!(e.open("/", O_TMPFILE), Err(errno::EINVAL));
    assert_eq!(e.open("/", O_TMPFILE_BIT | O_RDWR), Err(errno::EINVAL));
    // O_PATH drops the access mode.
    let p = e.open("/proc/self/maps", O_PATH | O_WRONLY).unwrap();
    e.call(|c| sys_close(c, p as u64)).unwrap();
    // Directories open, and serve as dirfd.
    let d = e.open("/proc/self", O_RDONLY | O_DIRECTORY).unwrap() as i64;
    let m = e.openat(d, "maps", O_RDONLY).unwrap();
    assert!(matches!(
        e.files.get(m as u32).unwrap().file.lock().kind,
        FileKind::Snapshot {
            node: Node::File(PID, ProcFile::Maps),
            ..
        }
    ));
    assert_eq!(e.openat(d, "../self/status", O_RDONLY).map(|_| ()), Ok(()));
    assert_eq!(e.openat(1, "maps", O_RDONLY), Err(errno::ENOTDIR));
    assert_eq!(e.openat(900, "maps", O_RDONLY), Err(errno::EBADF));
    assert_eq!(e.openat(-1, "maps", O_RDONLY), Err(errno::EBADF));
    // An absolute path ignores dirfd, even a bad one; the dirfd is an `int`.
    assert!(e.openat(900, "/proc/self/maps", O_RDONLY).is_ok());
    assert!(e.openat(-100, "proc/self/maps", O_RDONLY).is_ok());
    assert!(e.openat(0x1_ffff_ff9c, "proc/self/maps", O_RDONLY).is_ok());
    // O_CLOEXEC lands on the descriptor, not the file flags.
    let c = e.open("/proc/self/maps", O_RDONLY | O_CLOEXEC).unwrap();
    let ent = e.files.get(c as u32).unwrap();
    assert!(ent.cloexec && ent.file.lock().flags & O_CLOEXEC == 0);
}

#[test]
fn openat_hostile_paths_and_emfile() {
    let mut e = Env::new();
    let f = O_RDONLY as u64;
    assert_eq!(
        e.call(|c| sys_openat(c, neg(-100), 0, f, 0)),
        Err(errno::EFAULT)
    );
    assert_eq!(
        e.call(|c| sys_openat(c, neg(-100), KERNEL, f, 0)),
        Err(errno::EFAULT)
    );
    // Unterminated at the end of the mapping.
    e.mem.put(U + LEN - 4, b"/pro");
    let end = (U + LEN - 4) as u64;
    assert_eq!(
        e.call(|c| sys_openat(c, neg(-100), end, f, 0)),
        Err(errno::EFAULT)
    );
    // PATH_MAX.
    let long = alloc::format!("/{}", "a/".repeat(2047));
    assert_eq!(long.len(), 4095);
    assert_eq!(e.open(&long, O_RDONLY), Err(errno::ENOENT));
    let long = alloc::format!("{long}a");
    assert_eq!(e.open(&long, O_RDONLY), Err(errno::ENAMETOOLONG));
    // A full table: EMFILE even for a path that does not exist (checked before lookup).
    e.files.set_nofile(4).unwrap();
    assert_eq!(e.open("/proc/self/maps", O_RDONLY), Ok(3));
    assert_eq!(e.open("/proc/self/maps", O_RDONLY), Err(errno::EMFILE));
    assert_eq!(e.open("/nope", O_RDONLY), Err(errno::EMFILE));
    assert_eq!(e.open("", O_RDONLY), Err(errno::ENOENT));
    // Lowest free descriptor after close.
    e.call(|c| sys_close(c, 0)).unwrap();
    assert_eq!(e.open("/proc/self/status", O_RDONLY), Ok(0));
}

#[test]
fn close_semantics() {
    let mut e = Env::new();
    assert_eq!(e.call(|c| sys_close(c, 1)), Ok(0));
    assert_eq!(e.call(|c| sys_close(c, 1)), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_close(c, neg(-1))), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_close(c, 4096)), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_close(c, (1 << 32) | 2)), Ok(0));
    assert_eq!(e.files.open_fds().collect::<Vec<_>>(), [0]);
    assert_eq!(e.call(|c| sys_write(c, 1, U as u64, 1)), Err(errno::EBADF));
}

#[test]
fn fstat_console_and_proc() {
    let mut e = Env::new();
    let sb = (U + 0x1000) as u64;
    assert_eq!(e.call(|c| sys_fstat(c, 1, sb)), Ok(0));
    let st = e.stat_at(0x1000);
    assert_eq!(st.st_mode, S_IFCHR | 0o620);
    assert_eq!(st.st_rdev, 0x8800);
    assert_eq!(st.st_blksize, 1024);
    assert_eq!(st.st_size, 0);
    let fd = e.open("/proc/self/status", O_RDONLY).unwrap() as u64;
    e.call(|c| sys_fstat(c, fd, sb)).unwrap();
    let st = e.stat_at(0x1000);
    assert_eq!(st.st_mode, S_IFREG | 0o444);
    assert_eq!((st.st_size, st.st_blksize, st.st_dev), (0, 1024, PROC_DEV));
    let d = e.open("/proc/self", O_RDONLY).unwrap() as u64;
    e.call(|c| sys_fstat(c, d, sb)).unwrap();
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o555);
    assert_eq!(e.call(|c| sys_fstat(c, 99, sb)), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_fstat(c, 1, 0)), Err(errno::EFAULT));
    assert_eq!(
        e.call(|c| sys_fstat(c, 1, (U + LEN - 64) as u64)),
        Err(errno::EFAULT)
    );
    assert_eq!(e.call(|c| sys_fstat(c, 1, KERNEL)), Err(errno::EFAULT));
}

#[test]
fn newfstatat_forms() {
    let mut e = Env::new();
    let sb = (U + 0x1000) as u64;
    let empty = e.cstr(0x100, "");
    let ep = AT_EMPTY_PATH as u64;
    // glibc's fstat.
    assert_eq!(e.call(|c| sys_newfstatat(c, 1, empty, sb, ep)), Ok(0));
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFCHR | 0o620);
    // Linux 6.11+: NULL path with AT_EMPTY_PATH.
    assert_eq!(e.call(|c| sys_newfstatat(c, 2, 0, sb, ep)), Ok(0));
    assert_eq!(
        e.call(|c| sys_newfstatat(c, 1, empty, sb, 0)),
        Err(errno::ENOENT)
    );
    assert_eq!(
        e.call(|c| sys_newfstatat(c, 1, 0, sb, 0)),
        Err(errno::EFAULT)
    );
    assert_eq!(
        e.call(|c| sys_newfstatat(c, 50, empty, sb, ep)),
        Err(errno::EBADF)
    );
    assert_eq!(
        e.call(|c| sys_newfstatat(c, neg(-100), empty, sb, ep)),
        Ok(0)
    );
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o755);
    let p = e.cstr(0x200, "/proc/self/maps");
    assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)), Ok(0));
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFREG | 0o444);
    assert_eq!(
        e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0x8000)),
        Err(errno::EINVAL)
    );
    assert_eq!(
        e.call(|c| sys_newfstatat(c, neg(-100), p, 0, 0)),
        Err(errno::EFAULT)
    );
    let p = e.cstr(0x200, "/proc/self");
    let nf = AT_SYMLINK_NOFOLLOW as u64;
    assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, nf)), Ok(0));
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFLNK | 0o777);
    assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)), Ok(0));
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFDIR | 0o555);
    let p = e.cstr(0x200, "/dev/null");
    assert_eq!(e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)), Ok(0));
    assert_eq!(e.stat_at(0x1000).st_mode, S_IFCHR | 0o666);
    assert_eq!(e.stat_at(0x1000).st_rdev, makedev(1, 3));
    let p = e.cstr(0x200, "/dev/none");
    assert_eq!(
        e.call(|c| sys_newfstatat(c, neg(-100), p, sb, 0)),
        Err(errno::ENOENT)
    );
}

#[test]
fn ioctl_terminal() {
    let mut e = Env::new();
    let a = (U + 0x2000) as u64;
    assert_eq!(e.call(|c| sys_ioctl(c, 0, TCGETS as u64, a)), Ok(0));
    assert_eq!(
        e.mem.bytes(U + 0x2000, 36),
        Termios::linux_default().as_bytes()
    );
    assert_eq!(e.call(|c| sys_ioctl(c, 1, TIOCGWINSZ as u64, a)), Ok(0));
    let ws = Winsize::from_bytes(e.mem.bytes(U + 0x2000, 8)).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (24, 80));
    // Upper bits of the `unsigned int cmd` are ignored.
    assert_eq!(
        e.call(|c| sys_ioctl(c, 2, (5 << 32) | TCGETS as u64, a)),
        Ok(0)
    );
    // TCSETS round trip.
    let mut t = Termios::linux_default();
    t.c_lflag = 0;
    e.mem.put(U + 0x2000, t.as_bytes());
    assert_eq!(e.call(|c| sys_ioctl(c, 0, TCSETSW as u64, a)), Ok(0));
    e.mem.put(U + 0x2000, &[0xff; 36]);
    assert_eq!(e.call(|c| sys_ioctl(c, 1, TCGETS as u64, a)), Ok(0));
    assert_eq!(Termios::from_bytes(e.mem.bytes(U + 0x2000, 36)), Some(t));
    assert_eq!(
        e.call(|c| sys_ioctl(c, 0, TCGETS as u64, 0)),
        Err(errno::EFAULT)
    );
    assert_eq!(
        e.call(|c| sys_ioctl(c, 0, TCSETS as u64, KERNEL)),
        Err(errno::EFAULT)
    );
    assert_eq!(e.call(|c| sys_ioctl(c, 0, 0x1234, a)), Err(errno::ENOTTY));
    assert_eq!(
        e.call(|c| sys_ioctl(c, 9, TCGETS as u64, a)),
        Err(errno::EBADF)
    );
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    assert_eq!(
        e.call(|c| sys_ioctl(c, fd, TCGETS as u64, a)),
        Err(errno::ENOTTY)
    );
    assert_eq!(
        e.call(|c| sys_ioctl(c, fd, TIOCGWINSZ as u64, a)),
        Err(errno::ENOTTY)
    );
    // Generic requests work on any descriptor.
    assert_eq!(e.call(|c| sys_ioctl(c, fd, FIOCLEX as u64, 0)), Ok(0));
    assert!(e.files.get(fd as u32).unwrap().cloexec);
    assert_eq!(e.call(|c| sys_ioctl(c, fd, FIONCLEX as u64, 0)), Ok(0));
    assert!(!e.files.get(fd as u32).unwrap().cloexec);
    e.mem.put(U + 0x2000, &1i32.to_le_bytes());
    assert_eq!(e.call(|c| sys_ioctl(c, 1, FIONBIO as u64, a)), Ok(0));
    assert_ne!(e.files.get(1).unwrap().file.lock().flags & O_NONBLOCK, 0);
    assert_eq!(
        e.call(|c| sys_ioctl(c, 1, FIONBIO as u64, 0)),
        Err(errno::EFAULT)
    );
}

#[test]
fn readlinkat_exe_and_self() {
    let mut e = Env::new();
    let buf = (U + 0x3000) as u64;
    let p = e.cstr(0x100, "/proc/self/exe");
    let rl = |e: &mut Env, dfd: i64, p: u64, b: u64, n: i64| {
        e.call(|c| sys_readlinkat(c, dfd as u64, p, b, n as u64))
    };
    e.mem.put(U + 0x3000, &[0xaa; 32]);
    assert_eq!(rl(&mut e, -100, p, buf, 64), Ok(EXE.len()));
    assert_eq!(e.mem.bytes(U + 0x3000, EXE.len() + 1), b"/bin/hello\xaa");
    assert_eq!(rl(&mut e, -100, p, buf, 4), Ok(4));
    assert_eq!(rl(&mut e, -100, p, buf, 0), Err(errno::EINVAL));
    assert_eq!(rl(&mut e, -100, p, buf, -1), Err(errno::EINVAL));
    // `int bufsiz`: 2^32 + 3 is 3.
    assert_eq!(rl(&mut e, -100, p, buf, (1 << 32) + 3), Ok(3));
    // EINVAL for the size comes before the path is even read.
    assert_eq!(rl(&mut e, -100, 0, buf, 0), Err(errno::EINVAL));
    assert_eq!(rl(&mut e, -100, 0, buf, 10), Err(errno::EFAULT));
    assert_eq!(rl(&mut e, -100, p, 0, 10), Err(errno::EFAULT));
    assert_eq!(rl(&mut e, -100, p, KERNEL, 10), Err(errno::EFAULT));
    let s = e.cstr(0x100, "/proc/self");
    assert_eq!(rl(&mut e, -100, s, buf, 64), Ok(2));
    assert_eq!(e.mem.bytes(U + 0x3000, 2), b"42");
    let m = e.cstr(0x100, "/proc/self/maps");
    assert_eq!(rl(&mut e, -100, m, buf, 64), Err(errno::EINVAL));
    let n = e.cstr(0x100, "/proc/self/cwd");
    assert_eq!(rl(&mut e, -100, n, buf, 64), Ok(1));
    assert_eq!(e.mem.bytes(U + 0x3000, 1), b"/");
    let f = e.cstr(0x100, "/proc/self/fd/1");
    assert_eq!(rl(&mut e, -100, f, buf, 64), Ok(12));
    assert_eq!(e.mem.bytes(U + 0x3000, 12), b"/dev/console");
    let empty = e.cstr(0x100, "");
    assert_eq!(rl(&mut e, 1, empty, buf, 64), Err(errno::ENOENT));
    assert_eq!(rl(&mut e, 50, empty, buf, 64), Err(errno::EBADF));
    // Relative to a directory descriptor.
    let d = e.open("/proc/self", O_RDONLY).unwrap() as i64;
    let x = e.cstr(0x100, "exe");
    assert_eq!(rl(&mut e, d, x, buf, 64), Ok(EXE.len()));
}

/// Writes `pollfd`s at `U + 0x4000`.
fn pollfds(e: &mut Env, v: &[(i32, u16)]) -> u64 {
    for (i, &(fd, ev)) in v.iter().enumerate() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&fd.to_le_bytes());
        b[4..6].copy_from_slice(&ev.to_le_bytes());
        b[6..].copy_from_slice(&0xffffu16.to_le_bytes());
        e.mem.put(U + 0x4000 + 8 * i, &b);
    }
    (U + 0x4000) as u64
}

fn revents(e: &Env, i: usize) -> u16 {
    let b = e.mem.bytes(U + 0x4000 + 8 * i + 6, 2);
    u16::from_le_bytes([b[0], b[1]])
}

fn put_ts(e: &mut Env, sec: i64, nsec: i64) -> u64 {
    let ts = Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    e.mem.put(U + 0x5000, ts.as_bytes());
    (U + 0x5000) as u64
}

#[test]
fn ppoll_musl_startup_probe() {
    let mut e = Env::new();
    e.call(|c| sys_close(c, 2)).unwrap();
    // musl's std: poll fds 0-2 with events 0 and timeout 0, looking for POLLNVAL.
    let fds = pollfds(&mut e, &[(0, 0), (1, 0), (2, 0)]);
    let ts = put_ts(&mut e, 0, 0);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 3, ts, 0, 8)), Ok(1));
    assert_eq!(
        [revents(&e, 0), revents(&e, 1), revents(&e, 2)],
        [0, 0, POLLNVAL]
    );
    assert!(e.sleep.blocks.borrow().is_empty());
    // Readiness filtered by events; negative fds ignored. The terminal is readable once a
    // line was typed.
    e.con.input.borrow_mut().extend(b"x\n");
    let ev = POLLIN | POLLOUT | POLLPRI;
    let fds = pollfds(
        &mut e,
        &[(0, POLLIN), (1, POLLOUT), (-1, ev), (7, 0), (1, ev)],
    );
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 5, ts, 0, 8)), Ok(4));
    assert_eq!(
        (0..5).map(|i| revents(&e, i)).collect::<Vec<_>>(),
        [POLLIN, POLLOUT, 0, POLLNVAL, POLLIN | POLLOUT]
    );
    // fd and events are left as they were.
    assert_eq!(
        e.mem.bytes(U + 0x4000 + 16, 6),
        &[0xff, 0xff, 0xff, 0xff, 7, 0]
    );
    assert!(e.sleep.blocks.borrow().is_empty());
}

#[test]
fn ppoll_sleeps_and_validates() {
    let mut e = Env::new();
    let ts = put_ts(&mut e, 1, 5);
    // Nothing to wait for: the caller is parked until the deadline, nothing written back.
    let wait = Err(errno::EWOULDBLOCK_RESTART);
    assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), wait);
    assert_eq!(
        e.sleep.blocks.borrow()[0],
        (Some(1_000_000_005), false, None)
    );
    assert_eq!(e.mem.bytes(U + 0x5000, 16)[..1], [1]);
    // Woken early, it waits on for the same deadline; at the deadline it returns 0 and stores
    // the remaining time (0).
    e.sleep.now.set(500_000_000);
    assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), wait);
    assert_eq!(
        e.sleep.blocks.borrow()[1],
        (Some(1_000_000_005), false, None)
    );
    e.sleep.now.set(1_000_000_005);
    assert_eq!(e.call(|c| sys_ppoll(c, 0, 0, ts, 0, 0)), Ok(0));
    assert_eq!(e.mem.bytes(U + 0x5000, 16), &[0; 16]);
    assert_eq!(e.sleep.deadline.get(), None);
    // No timeout at all: wait for a signal only, with the temporary mask.
    let mask = (U + 0x6000) as u64;
    e.mem.put(U + 0x6000, &0x4000u64.to_le_bytes());
    let fds = pollfds(&mut e, &[(-5, POLLIN)]);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, 0, mask, 8)), wait);
    assert_eq!(e.sleep.blocks.borrow()[2], (None, false, Some(0x4000)));
    assert_eq!(revents(&e, 0), 0);
    // Argument checks.
    let bad = put_ts(&mut e, 0, 1_000_000_000);
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, bad, 0, 0)),
        Err(errno::EINVAL)
    );
    let bad = put_ts(&mut e, -1, 0);
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, bad, 0, 0)),
        Err(errno::EINVAL)
    );
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, UNMAPPED, 0, 0)),
        Err(errno::EFAULT)
    );
    let ts = put_ts(&mut e, 0, 0);
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, ts, mask, 16)),
        Err(errno::EINVAL)
    );
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, ts, KERNEL, 8)),
        Err(errno::EFAULT)
    );
    assert_eq!(e.call(|c| sys_ppoll(c, 0, 1, ts, 0, 0)), Err(errno::EFAULT));
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1025, ts, 0, 0)),
        Err(errno::EINVAL)
    );
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, neg(-1), ts, 0, 0)),
        Err(errno::EINVAL)
    );
    // `unsigned int nfds`: 2^32 + 1 is 1.
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, (1 << 32) + 1, ts, 0, 0)),
        Ok(0)
    );
    assert_eq!(e.sleep.blocks.borrow().len(), 3);
}

#[test]
fn writev_gather_and_partial() {
    let mut e = Env::new();
    e.mem.put(U + 0x100, b"hello, ");
    e.mem.put(U + 0x200, b"world\n");
    let a = (U + 0x100) as u64;
    let b = (U + 0x200) as u64;
    let wv = |e: &mut Env, fd: u64, iov: u64, n: u64| e.call(|c| sys_writev(c, fd, iov, n));
    let iov = e.iovs(0x1000, &[(a, 7), (0, 0), (b, 6)]);
    assert_eq!(wv(&mut e, 1, iov, 3), Ok(13));
    assert_eq!(*e.con.out.borrow(), b"hello, world\n");
    // A bad segment in the middle: the bytes before it count.
    e.con.out.borrow_mut().clear();
    let iov = e.iovs(0x1000, &[(a, 7), (UNMAPPED, 5), (b, 6)]);
    assert_eq!(wv(&mut e, 1, iov, 3), Ok(7));
    assert_eq!(*e.con.out.borrow(), b"hello, ");
    // ... and nothing written is EFAULT.
    let iov = e.iovs(0x1000, &[(UNMAPPED, 5), (b, 6)]);
    assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EFAULT));
    // A segment outside user space fails the whole call before anything is written.
    e.con.out.borrow_mut().clear();
    let iov = e.iovs(0x1000, &[(a, 7), (KERNEL, 5)]);
    assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EFAULT));
    // A negative length is EINVAL with several segments...
    let iov = e.iovs(0x1000, &[(a, 7), (b, neg(-1))]);
    assert_eq!(wv(&mut e, 1, iov, 2), Err(errno::EINVAL));
    assert!(e.con.out.borrow().is_empty());
    // ... but one segment is clamped to MAX_RW_COUNT (`import_ubuf`), then written until
    // the mapping ends.
    let iov = e.iovs(0x1000, &[(a, neg(-1))]);
    assert_eq!(wv(&mut e, 1, iov, 1), Ok(LEN - 0x100));
    // Counts.
    assert_eq!(wv(&mut e, 1, iov, 0), Ok(0));
    assert_eq!(wv(&mut e, 1, iov, 1 << 32), Ok(0));
    assert_eq!(wv(&mut e, 1, iov, 1025), Err(errno::EINVAL));
    assert_eq!(wv(&mut e, 1, iov, neg(-1)), Err(errno::EINVAL));
    // An unreadable vector.
    assert_eq!(wv(&mut e, 1, UNMAPPED, 2), Err(errno::EFAULT));
    assert_eq!(wv(&mut e, 1, 0, 1), Err(errno::EFAULT));
    assert_eq!(wv(&mut e, 1, (U + LEN - 16) as u64, 2), Err(errno::EFAULT));
    // Descriptor checks come first.
    assert_eq!(wv(&mut e, 9, UNMAPPED, 5000), Err(errno::EBADF));
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    assert_eq!(wv(&mut e, fd, iov, 1), Err(errno::EBADF));
    // 1024 zero-length segments are fine.
    let zero = vec![(a, 0u64); 1024];
    let iov = e.iovs(0x1000, &zero);
    assert_eq!(wv(&mut e, 1, iov, 1024), Ok(0));
}

#[test]
fn readv_scatter() {
    let mut e = Env::new();
    let want = maps_text().into_bytes();
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    let (a, b) = ((U + 0x100) as u64, (U + 0x200) as u64);
    let iov = e.iovs(0x1000, &[(a, 10), (b, 20)]);
    assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(30));
    assert_eq!(e.mem.bytes(U + 0x100, 10), &want[..10]);
    assert_eq!(e.mem.bytes(U + 0x200, 20), &want[10..30]);
    // A bad middle segment: the first one's bytes count, the position follows them.
    let iov = e.iovs(0x1000, &[(a, 10), (UNMAPPED, 20), (b, 5)]);
    assert_eq!(e.call(|c| sys_readv(c, fd, iov, 3)), Ok(10));
    assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(40));
    // Short at end of file.
    let big = (U + 0x8000) as u64;
    let iov = e.iovs(0x1000, &[(big, 0x7000), (a, 10)]);
    assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(want.len() - 40));
    assert_eq!(e.call(|c| sys_readv(c, fd, iov, 2)), Ok(0));
    // The console at end of file; write-only checks; directories.
    e.con.input.borrow_mut().extend(b"\x04");
    assert_eq!(e.call(|c| sys_readv(c, 0, iov, 2)), Ok(0));
    assert_eq!(e.call(|c| sys_readv(c, 0, iov, 2000)), Err(errno::EINVAL));
    let d = e.open("/proc", O_RDONLY).unwrap() as u64;
    assert_eq!(e.call(|c| sys_readv(c, d, iov, 2)), Err(errno::EISDIR));
}

#[test]
fn faccessat_modes() {
    let mut e = Env::new();
    let acc = |e: &mut Env, dfd: i64, p: &str, mode: u32, flags: u32| {
        let p = e.cstr(0x100, p);
        e.call(|c| sys_faccessat2(c, dfd as u64, p, mode as u64, flags as u64))
    };
    assert_eq!(acc(&mut e, -100, "/proc/self/maps", R_OK, 0), Ok(0));
    assert_eq!(acc(&mut e, -100, "/proc/self/maps", F_OK, 0), Ok(0));
    assert_eq!(
        acc(&mut e, -100, "/proc/self/maps", W_OK, 0),
        Err(errno::EACCES)
    );
    assert_eq!(
        acc(&mut e, -100, "/proc/self/maps", X_OK, 0),
        Err(errno::EACCES)
    );
    assert_eq!(acc(&mut e, -100, "/proc/self", R_OK | X_OK, 0), Ok(0));
    assert_eq!(acc(&mut e, -100, "/", W_OK, 0), Ok(0));
    assert_eq!(acc(&mut e, -100, "/tmp", F_OK, 0), Ok(0));
    assert_eq!(acc(&mut e, -100, "/nothing", F_OK, 0), Err(errno::ENOENT));
    // Root may execute only what some `x` bit allows.
    assert_eq!(acc(&mut e, -100, "/dev/null", X_OK, 0), Err(errno::EACCES));
    assert_eq!(
        acc(&mut e, -100, "/proc/self/maps", 8, 0),
        Err(errno::EINVAL)
    );
    assert_eq!(acc(&mut e, -100, "/proc", R_OK, 0x4), Err(errno::EINVAL));
    assert_eq!(acc(&mut e, 1, "", R_OK | W_OK, AT_EMPTY_PATH), Ok(0));
    assert_eq!(acc(&mut e, 1, "", R_OK, 0), Err(errno::ENOENT));
    assert_eq!(acc(&mut e, 33, "", R_OK, AT_EMPTY_PATH), Err(errno::EBADF));
    // faccessat through dispatch (no flags argument).
    let p = e.cstr(0x100, "/proc/self/status");
    let r = e.call(|c| dispatch(c, SYS_faccessat, [neg(-100), p, R_OK as u64, 0xdead, 0, 0]));
    assert_eq!(r, Some(Ok(0)));
}

#[test]
fn dispatch_routes() {
    let mut e = Env::new();
    e.mem.put(U, b"x");
    let r = e.call(|c| dispatch(c, SYS_write, [1, U as u64, 1, 0, 0, 0]));
    assert_eq!(r, Some(Ok(1)));
    assert_eq!(e.call(|c| dispatch(c, SYS_brk, [0; 6])), None);
    let p = e.cstr(0x100, "/proc/self/status");
    let r = e.call(|c| dispatch(c, SYS_openat, [neg(-100), p, 0, 0, 0, 0]));
    assert_eq!(r, Some(Ok(3)));
    assert_eq!(
        e.call(|c| dispatch(c, SYS_close, [3, 0, 0, 0, 0, 0])),
        Some(Ok(0))
    );
}

/// Where the pipe tests keep `int fds[2]` and their 16 KiB data buffer.
use crate::fs::pipe::PIPE_BUF;

const FDS: usize = U + 0x9000;
const DATA: usize = U + 0xa000;
const DATA_LEN: usize = 0x4000;

impl Env {
    /// `pipe2(fds, flags)`, returning the two descriptors.
    fn pipe(&mut self, flags: u32) -> (u64, u64) {
        assert_eq!(self.call(|c| sys_pipe2(c, FDS as u64, flags as u64)), Ok(0));
        let b = self.mem.bytes(FDS, 8);
        let r = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let w = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        (r as u64, w as u64)
    }

    fn write(&mut self, fd: u64, buf: usize, n: usize) -> SysResult {
        self.call(|c| sys_write(c, fd, buf as u64, n as u64))
    }

    fn fcntl(&mut self, fd: u64, cmd: u32, arg: u64) -> SysResult {
        self.call(|c| sys_fcntl(c, fd, cmd as u64, arg))
    }

    /// Writes `total` bytes of `byte` to `fd` in `DATA_LEN` pieces.
    fn fill(&mut self, fd: u64, total: usize, byte: u8) {
        self.mem.put(DATA, &[byte; DATA_LEN]);
        let mut left = total;
        while left > 0 {
            let n = left.min(DATA_LEN);
            assert_eq!(self.write(fd, DATA, n), Ok(n));
            left -= n;
        }
    }

    /// Reads everything available from a non-empty pipe; returns the byte count.
    fn drain(&mut self, fd: u64) -> usize {
        let mut total = 0;
        loop {
            match self.read(fd, DATA as u64, DATA_LEN as u64) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(_) => return total,
            }
        }
    }
}

#[test]
fn pipe_round_trip_and_end_checks() {
    let mut e = Env::new();
    let (r, w) = e.pipe(0);
    assert_eq!((r, w), (3, 4));
    assert!(!e.files.get(3).unwrap().cloexec && !e.files.get(4).unwrap().cloexec);
    e.mem.put(U + 0x100, b"hello, pipe");
    assert_eq!(e.write(w, U + 0x100, 11), Ok(11));
    // FIONREAD on either end.
    let a = (U + 0xf000) as u64;
    assert_eq!(e.call(|c| sys_ioctl(c, r, FIONREAD as u64, a)), Ok(0));
    assert_eq!(e.mem.bytes(U + 0xf000, 4), &11i32.to_le_bytes());
    assert_eq!(
        e.call(|c| sys_ioctl(c, r, TCGETS as u64, a)),
        Err(errno::ENOTTY)
    );
    assert_eq!(e.read(r, (U + 0x200) as u64, 5), Ok(5));
    assert_eq!(e.read(r, (U + 0x205) as u64, 100), Ok(6));
    assert_eq!(e.mem.bytes(U + 0x200, 11), b"hello, pipe");
    // Each end only works its own way; neither seeks.
    assert_eq!(e.read(w, U as u64, 1), Err(errno::EBADF));
    assert_eq!(e.write(r, U, 1), Err(errno::EBADF));
    assert_eq!(
        e.call(|c| sys_lseek(c, r, 0, SEEK_CUR as u64)),
        Err(errno::ESPIPE)
    );
    assert_eq!(
        e.call(|c| sys_lseek(c, w, 0, SEEK_SET as u64)),
        Err(errno::ESPIPE)
    );
    // Status flags: no O_LARGEFILE on pipes.
    assert_eq!(e.fcntl(r, F_GETFL, 0), Ok(O_RDONLY as usize));
    assert_eq!(e.fcntl(w, F_GETFL, 0), Ok(O_WRONLY as usize));
    assert_eq!(e.fcntl(w, F_GETPIPE_SZ, 0), Ok(65536));
    assert_eq!(e.fcntl(1, F_GETPIPE_SZ, 0), Err(errno::EBADF));
    // fstat: a FIFO, both ends the same inode; fstatat(AT_EMPTY_PATH) agrees.
    let sb = (U + 0x3000) as u64;
    assert_eq!(e.call(|c| sys_fstat(c, r, sb)), Ok(0));
    let st = e.stat_at(0x3000);
    assert_eq!(st.st_mode, S_IFIFO | 0o600);
    assert_eq!((st.st_blksize, st.st_nlink, st.st_size), (4096, 1, 0));
    let empty = e.cstr(0x100, "");
    assert_eq!(
        e.call(|c| sys_newfstatat(c, w, empty, sb, AT_EMPTY_PATH as u64)),
        Ok(0)
    );
    assert_eq!(e.stat_at(0x3000), st);
    // Count 0 reads and writes nothing, even with bad buffers in user space.
    assert_eq!(e.read(r, 0, 0), Ok(0));
    assert_eq!(e.write(w, 0, 0), Ok(0));
    assert_eq!(e.read(r, KERNEL, 1), Err(errno::EFAULT));
    // Through dispatch.
    let r2 = e.call(|c| dispatch(c, SYS_pipe2, [FDS as u64, 0, 0, 0, 0, 0]));
    assert_eq!(r2, Some(Ok(0)));
    assert_eq!(e.mem.bytes(FDS, 8), &[5, 0, 0, 0, 6, 0, 0, 0]);
}

#[test]
fn pipe_eof_and_epipe() {
    let mut e = Env::new();
    let (r, w) = e.pipe(0);
    e.mem.put(U, b"abc");
    assert_eq!(e.write(w, U, 3), Ok(3));
    // A dup of the write end keeps the writer alive.
    let w2 = e.call(|c| sys_dup(c, w)).unwrap() as u64;
    e.call(|c| sys_close(c, w)).unwrap();
    assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(3));
    assert_eq!(
        e.read(r, (U + 0x100) as u64, 10),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    e.call(|c| sys_close(c, w2)).unwrap();
    // Now end of file, blocking or not.
    assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(0));
    e.call(|c| sys_fcntl(c, r, F_SETFL as u64, O_NONBLOCK as u64))
        .unwrap();
    assert_eq!(e.read(r, (U + 0x100) as u64, 10), Ok(0));

    let (r, w) = e.pipe(O_NONBLOCK);
    e.call(|c| sys_close(c, r)).unwrap();
    let res = e.write(w, U, 3);
    assert_eq!(res, Err(errno::EPIPE));
    assert!(raises_sigpipe(SYS_write, &res));
    let iov = e.iovs(0x1000, &[(U as u64, 3)]);
    let res = e.call(|c| dispatch(c, SYS_writev, [w, iov, 1, 0, 0, 0]).unwrap());
    assert_eq!(res, Err(errno::EPIPE));
    assert!(raises_sigpipe(SYS_writev, &res));
    assert!(!raises_sigpipe(SYS_read, &res));
    assert!(!raises_sigpipe(SYS_write, &Err(errno::EAGAIN)));
    // A null write succeeds even without readers (no signal either).
    assert_eq!(e.write(w, U, 0), Ok(0));
}

#[test]
fn pipe_blocking_sentinel_and_nonblock() {
    let mut e = Env::new();
    let (r, w) = e.pipe(0);
    // Empty, writer open: the read must sleep, and nothing was written to the buffer.
    e.mem.put(U + 0x100, &[0xaa; 8]);
    let ev = crate::fs::pipe::events();
    assert_eq!(
        e.read(r, (U + 0x100) as u64, 8),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    assert_eq!(e.mem.bytes(U + 0x100, 8), &[0xaa; 8]);
    assert_eq!(interrupted_errno(SYS_read), errno::ERESTARTSYS);
    assert_eq!(interrupted_errno(SYS_ppoll), errno::ERESTARTNOHAND);
    // A write is the event that wakes it; the restarted read then succeeds.
    e.mem.put(U, b"xyz");
    assert_eq!(e.write(w, U, 3), Ok(3));
    assert_ne!(crate::fs::pipe::events(), ev);
    assert_eq!(e.read(r, (U + 0x100) as u64, 8), Ok(3));
    // Fill it: 64 KiB fit, then writers must sleep (or get EAGAIN).
    e.fill(w, PIPE_SIZE, 7);
    assert_eq!(e.write(w, U, 1), Err(errno::EWOULDBLOCK_RESTART));
    assert_eq!(e.write(w, DATA, DATA_LEN), Err(errno::EWOULDBLOCK_RESTART));
    e.fcntl(w, F_SETFL, O_NONBLOCK as u64).unwrap();
    assert_eq!(e.fcntl(w, F_GETFL, 0), Ok((O_WRONLY | O_NONBLOCK) as usize));
    assert_eq!(e.write(w, U, 1), Err(errno::EAGAIN));
    // The flag belongs to the description: the read end is still blocking.
    assert_eq!(e.drain(r), PIPE_SIZE);
    assert_eq!(
        e.read(r, (U + 0x100) as u64, 8),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    // FIONBIO sets it too.
    e.mem.put(U + 0xf000, &1i32.to_le_bytes());
    assert_eq!(
        e.call(|c| sys_ioctl(c, r, FIONBIO as u64, (U + 0xf000) as u64)),
        Ok(0)
    );
    assert_eq!(e.read(r, (U + 0x100) as u64, 8), Err(errno::EAGAIN));
}

#[test]
fn pipe_buf_atomicity_and_big_writes() {
    let mut e = Env::new();
    let (r, w) = e.pipe(O_NONBLOCK);
    // Leave PIPE_BUF - 1 bytes free.
    e.fill(w, PIPE_SIZE - (PIPE_BUF - 1), 1);
    e.mem.put(DATA, &[2; DATA_LEN]);
    // An atomic write that does not fit goes nowhere...
    assert_eq!(e.write(w, DATA, PIPE_BUF), Err(errno::EAGAIN));
    e.fcntl(w, F_SETFL, 0).unwrap();
    assert_eq!(e.write(w, DATA, PIPE_BUF), Err(errno::EWOULDBLOCK_RESTART));
    // ... a bigger one writes what fits and returns the short count (blocking or not).
    assert_eq!(e.write(w, DATA, PIPE_BUF + 1), Ok(PIPE_BUF - 1));
    assert_eq!(e.drain(r), PIPE_SIZE);
    // A small write that fits goes in whole.
    assert_eq!(e.write(w, DATA, PIPE_BUF), Ok(PIPE_BUF));
    // A buffer running off the end of the mapping: the bytes before the hole count.
    e.drain(r);
    let tail = U + LEN - 100;
    assert_eq!(e.write(w, tail, 5000), Ok(100));
    assert_eq!(e.write(w, UNMAPPED as usize, 10), Err(errno::EFAULT));
    // A read into a buffer that ends early keeps the rest in the pipe.
    assert_eq!(e.read(r, (U + LEN - 30) as u64, 100), Ok(30));
    assert_eq!(e.read(r, UNMAPPED, 100), Err(errno::EFAULT));
    assert_eq!(e.drain(r), 70);
}

#[test]
fn pipe_readv_writev() {
    let mut e = Env::new();
    let (r, w) = e.pipe(0);
    e.mem.put(U + 0x100, b"hello, ");
    e.mem.put(U + 0x200, b"world");
    let (a, b) = ((U + 0x100) as u64, (U + 0x200) as u64);
    let iov = e.iovs(0x1000, &[(a, 7), (0, 0), (b, 5)]);
    assert_eq!(e.call(|c| sys_writev(c, w, iov, 3)), Ok(12));
    // Scatter the 12 bytes over 5 + 5 + 10.
    let (x, y, z) = ((U + 0x300) as u64, (U + 0x400) as u64, (U + 0x500) as u64);
    let iov = e.iovs(0x1000, &[(x, 5), (y, 5), (z, 10)]);
    assert_eq!(e.call(|c| sys_readv(c, r, iov, 3)), Ok(12));
    assert_eq!(e.mem.bytes(U + 0x300, 5), b"hello");
    assert_eq!(e.mem.bytes(U + 0x400, 5), b", wor");
    assert_eq!(e.mem.bytes(U + 0x500, 2), b"ld");
    assert_eq!(
        e.call(|c| sys_readv(c, r, iov, 3)),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    // A gathered write of at most PIPE_BUF bytes is atomic as a whole.
    e.fill(w, PIPE_SIZE - 3000, 1);
    let d = DATA as u64;
    let iov = e.iovs(0x1000, &[(d, 2000), (d, 2000)]);
    assert_eq!(
        e.call(|c| sys_writev(c, w, iov, 2)),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    let iov = e.iovs(0x1000, &[(d, 1000), (d, 2000)]);
    assert_eq!(e.call(|c| sys_writev(c, w, iov, 2)), Ok(3000));
}

#[test]
fn pipe2_flags_and_failures() {
    let mut e = Env::new();
    let (r, w) = e.pipe(O_CLOEXEC | O_NONBLOCK);
    assert_eq!(e.fcntl(r, F_GETFD, 0), Ok(FD_CLOEXEC as usize));
    assert_eq!(e.fcntl(w, F_GETFD, 0), Ok(FD_CLOEXEC as usize));
    assert_eq!(e.fcntl(r, F_GETFL, 0), Ok((O_RDONLY | O_NONBLOCK) as usize));
    assert_eq!(e.read(r, U as u64, 1), Err(errno::EAGAIN));
    let p2 = |e: &mut Env, fds: u64, flags: u64| e.call(|c| sys_pipe2(c, fds, flags));
    for bad in [O_DIRECT, O_EXCL, 1, O_APPEND, 0x8000_0000] {
        assert_eq!(p2(&mut e, FDS as u64, bad as u64), Err(errno::EINVAL));
    }
    // `int flags`: upper bits ignored.
    assert_eq!(p2(&mut e, FDS as u64, 1 << 32), Ok(0));
    let before: Vec<u32> = e.files.open_fds().collect();
    // An unwritable fds array: both descriptors are closed again.
    assert_eq!(p2(&mut e, UNMAPPED, 0), Err(errno::EFAULT));
    assert_eq!(p2(&mut e, KERNEL, 0), Err(errno::EFAULT));
    assert_eq!(p2(&mut e, (U + LEN - 4) as u64, 0), Err(errno::EFAULT));
    assert_eq!(e.files.open_fds().collect::<Vec<_>>(), before);
    // Room for only one descriptor: EMFILE and nothing left behind.
    e.files.set_nofile(before.len() as u64 + 1).unwrap();
    assert_eq!(p2(&mut e, FDS as u64, 0), Err(errno::EMFILE));
    assert_eq!(e.files.open_fds().collect::<Vec<_>>(), before);
}

#[test]
fn dup_dup3_and_shared_offsets() {
    let mut e = Env::new();
    let fd = e.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    assert_eq!(e.read(fd, U as u64, 10), Ok(10));
    let d = e.call(|c| sys_dup(c, fd)).unwrap() as u64;
    assert_eq!(d, 4);
    // One open file description: the offset moves for both.
    assert_eq!(e.call(|c| sys_lseek(c, d, 0, SEEK_CUR as u64)), Ok(10));
    assert_eq!(e.read(d, U as u64, 5), Ok(5));
    assert_eq!(e.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(15));
    assert_eq!(e.call(|c| sys_dup(c, 99)), Err(errno::EBADF));
    assert_eq!(e.call(|c| sys_dup(c, (1 << 32) | fd)), Ok(5));
    // dup3: onto a free slot far up, with close-on-exec.
    let dup3 = |e: &mut Env, o: u64, n: u64, f: u64| e.call(|c| sys_dup3(c, o, n, f));
    assert_eq!(dup3(&mut e, fd, 100, O_CLOEXEC as u64), Ok(100));
    assert!(e.files.get(100).unwrap().cloexec);
    assert_eq!(e.call(|c| sys_lseek(c, 100, 0, SEEK_CUR as u64)), Ok(15));
    // Onto an open descriptor: it is closed silently, no cloexec.
    assert_eq!(dup3(&mut e, fd, 1, 0), Ok(1));
    assert!(!e.files.get(1).unwrap().cloexec);
    assert_eq!(e.call(|c| sys_lseek(c, 1, 0, SEEK_CUR as u64)), Ok(15));
    // Errors, in Linux's order.
    assert_eq!(dup3(&mut e, fd, fd, 0), Err(errno::EINVAL));
    assert_eq!(dup3(&mut e, 99, 99, 0), Err(errno::EINVAL));
    assert_eq!(dup3(&mut e, 99, 7, O_NONBLOCK as u64), Err(errno::EINVAL));
    assert_eq!(dup3(&mut e, 99, 1024, 0), Err(errno::EBADF));
    assert_eq!(dup3(&mut e, fd, 1024, 0), Err(errno::EBADF));
    assert_eq!(dup3(&mut e, 99, 7, 0), Err(errno::EBADF));
    assert!(e.files.get(7).is_err());
    // dup of the lowest free slot and EMFILE.
    e.files.set_nofile(6).unwrap();
    assert_eq!(e.call(|c| sys_dup(c, fd)), Err(errno::EMFILE));
    assert_eq!(dup3(&mut e, fd, 6, 0), Err(errno::EBADF));
    // Through dispatch.
    e.files.set_nofile(1024).unwrap();
    assert_eq!(
        e.call(|c| dispatch(c, SYS_dup3, [fd, 50, 0, 0, 0, 0])),
        Some(Ok(50))
    );
    assert_eq!(
        e.call(|c| dispatch(c, SYS_dup, [fd, 0, 0, 0, 0, 0])),
        Some(Ok(6))
    );
}

#[test]
fn fcntl_commands() {
    let mut e = Env::new();
    let fd = e.open("/proc/self/maps", O_RDONLY | O_CLOEXEC).unwrap() as u64;
    assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(1));
    assert_eq!(e.fcntl(fd, F_SETFD, 0), Ok(0));
    assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(0));
    assert_eq!(e.fcntl(fd, F_SETFD, 3), Ok(0));
    assert_eq!(e.fcntl(fd, F_GETFD, 0), Ok(1));
    // F_DUPFD: lowest at or above arg; the dup's cloexec is clear unless _CLOEXEC.
    assert_eq!(e.fcntl(fd, F_DUPFD, 0), Ok(4));
    assert_eq!(e.fcntl(fd, F_DUPFD, 10), Ok(10));
    assert_eq!(e.fcntl(fd, F_DUPFD, 10), Ok(11));
    assert_eq!(e.fcntl(4, F_GETFD, 0), Ok(0));
    assert_eq!(e.fcntl(fd, F_DUPFD_CLOEXEC, 10), Ok(12));
    assert_eq!(e.fcntl(12, F_GETFD, 0), Ok(1));
    assert_eq!(e.fcntl(fd, F_DUPFD, 1024), Err(errno::EINVAL));
    assert_eq!(e.fcntl(fd, F_DUPFD, neg(-1)), Err(errno::EINVAL));
    // `int arg`: the upper half is dropped.
    assert_eq!(e.fcntl(fd, F_DUPFD, (1 << 32) | 20), Ok(20));
    e.files.set_nofile(13).unwrap();
    assert_eq!(e.fcntl(fd, F_DUPFD, 10), Err(errno::EMFILE));
    e.files.set_nofile(1024).unwrap();
    // F_GETFL / F_SETFL: shared by dups; only the settable bits change.
    assert_eq!(
        e.fcntl(fd, F_GETFL, 0),
        Ok((O_RDONLY | O_LARGEFILE) as usize)
    );
    let set = O_NONBLOCK | O_APPEND | O_RDWR | O_CREAT | O_TRUNC;
    assert_eq!(e.fcntl(fd, F_SETFL, set as u64), Ok(0));
    assert_eq!(
        e.fcntl(4, F_GETFL, 0),
        Ok((O_RDONLY | O_LARGEFILE | O_NONBLOCK | O_APPEND) as usize)
    );
    assert_eq!(e.fcntl(fd, F_SETFL, O_DIRECT as u64), Err(errno::EINVAL));
    assert_eq!(e.fcntl(fd, F_SETFL, FASYNC as u64), Err(errno::EINVAL));
    assert_eq!(e.fcntl(fd, F_SETFL, 0), Ok(0));
    assert_eq!(
        e.fcntl(4, F_GETFL, 0),
        Ok((O_RDONLY | O_LARGEFILE) as usize)
    );
    // Unknown commands, and EBADF before anything.
    for cmd in [5, 6, 7, 8, 9, 1024, 1031, 1033, 0xffff] {
        assert_eq!(e.fcntl(fd, cmd, 0), Err(errno::EINVAL), "cmd {cmd}");
    }
    assert_eq!(e.fcntl(99, F_GETFD, 0), Err(errno::EBADF));
    assert_eq!(e.fcntl(99, 0xffff, 0), Err(errno::EBADF));
    assert_eq!(
        e.call(|c| dispatch(c, SYS_fcntl, [fd, F_GETFD as u64, 0, 0, 0, 0])),
        Some(Ok(1))
    );
}

#[test]
fn ppoll_on_pipes() {
    let mut e = Env::new();
    let (r, w) = e.pipe(0);
    let ts = put_ts(&mut e, 0, 0);
    let ev = POLLIN | POLLOUT;
    let fds = pollfds(&mut e, &[(r as i32, ev), (w as i32, ev)]);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(1));
    assert_eq!([revents(&e, 0), revents(&e, 1)], [0, POLLOUT]);
    e.mem.put(U, b"x");
    e.write(w, U, 1).unwrap();
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(2));
    assert_eq!([revents(&e, 0), revents(&e, 1)], [POLLIN, POLLOUT]);
    // Full: no POLLOUT; and not even with less than PIPE_BUF free.
    e.fill(w, PIPE_SIZE - 1 - 100, 0);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 2, ts, 0, 8)), Ok(1));
    assert_eq!([revents(&e, 0), revents(&e, 1)], [POLLIN, 0]);
    // Not ready and no timeout: sleep until a pipe changes (nothing written back).
    let fds = pollfds(&mut e, &[(w as i32, POLLOUT)]);
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, 0, 0, 8)),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    assert_eq!(revents(&e, 0), 0);
    assert_eq!(e.sleep.blocks.borrow()[0], (None, true, None));
    // A finite timeout: parked until the pipe changes or the time is up, then 0 ready.
    let t = put_ts(&mut e, 0, 1000);
    assert_eq!(
        e.call(|c| sys_ppoll(c, fds, 1, t, 0, 8)),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    assert_eq!(e.sleep.blocks.borrow()[1], (Some(1000), true, None));
    e.sleep.now.set(1000);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, t, 0, 8)), Ok(0));
    assert_eq!(e.sleep.blocks.borrow().len(), 2);
    // Writer gone: POLLHUP alone once drained, POLLIN | POLLHUP while bytes remain.
    e.call(|c| sys_close(c, w)).unwrap();
    let fds = pollfds(&mut e, &[(r as i32, POLLIN)]);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, ts, 0, 8)), Ok(1));
    assert_eq!(revents(&e, 0), POLLIN | POLLHUP);
    e.drain(r);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, 0, 0, 8)), Ok(1));
    assert_eq!(revents(&e, 0), POLLHUP);
    // Reader gone: POLLERR on the write end, even if not asked for.
    let (r, w) = e.pipe(0);
    e.call(|c| sys_close(c, r)).unwrap();
    let fds = pollfds(&mut e, &[(w as i32, 0)]);
    assert_eq!(e.call(|c| sys_ppoll(c, fds, 1, ts, 0, 8)), Ok(1));
    assert_eq!(revents(&e, 0), POLLERR);
}

#[test]
fn fork_clone_shares_pipes_between_processes() {
    let mut parent = Env::new();
    let (r, w) = parent.pipe(0);
    let mut child = Env::new();
    child.files = parent.files.fork_clone();
    // Child: close the read end, write, exit. Parent: close the write end, read to EOF.
    child.call(|c| sys_close(c, r)).unwrap();
    child.mem.put(U, b"status 7");
    assert_eq!(child.write(w, U, 8), Ok(8));
    parent.call(|c| sys_close(c, w)).unwrap();
    assert_eq!(parent.read(r, U as u64, 64), Ok(8));
    assert_eq!(parent.mem.bytes(U, 8), b"status 7");
    // The child's write end still counts: the parent must wait, not see EOF.
    assert_eq!(
        parent.read(r, U as u64, 64),
        Err(errno::EWOULDBLOCK_RESTART)
    );
    let ev = crate::fs::pipe::events();
    drop(child); // exit
    assert_ne!(crate::fs::pipe::events(), ev);
    assert_eq!(parent.read(r, U as u64, 64), Ok(0));
    // Offsets are shared across fork too.
    let fd = parent.open("/proc/self/maps", O_RDONLY).unwrap() as u64;
    let mut child = Env::new();
    child.files = parent.files.fork_clone();
    assert_eq!(child.read(fd, U as u64, 7), Ok(7));
    assert_eq!(parent.call(|c| sys_lseek(c, fd, 0, SEEK_CUR as u64)), Ok(7));
}

#[test]
fn makedev_matches_glibc() {
    assert_eq!(makedev(136, 0), 0x8800);
    assert_eq!(
        makedev(136, 300),
        (300 & 0xff) | (136 << 8) | ((300 & !0xff) << 12)
    );
    assert_eq!(makedev(0x1000, 0), 1 << 44);
}

/// The names of a directory, by getdents64.
fn list(e: &mut Env, path: &str) -> Vec<String> {
    let fd = e.open(path, O_RDONLY | O_DIRECTORY).unwrap() as u64;
    let buf = (U + 0x4000) as u64;
    let mut names = Vec::new();
    loop {
        let n = e.call(|c| sys_getdents64(c, fd, buf, 4096)).unwrap();
        if n == 0 {
            break;
        }
        let bytes = e.mem.bytes(U + 0x4000, n).to_vec();
        let mut off = 0;
        while off < n {
            let reclen = u16::from_le_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            let name = &bytes[off + 19..off + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap();
            names.push(String::from_utf8(name[..end].to_vec()).unwrap());
            off += reclen;
        }
    }
    e.call(|c| sys_close(c, fd)).unwrap();
    names
}

#[test]
fn procfs_lists_every_process_and_the_system_files() {
    let mut e = Env::new();
    let top = list(&mut e, "/proc");
    for want in [
        ".", "..", "7", "42", "meminfo", "cpuinfo", "self", "mounts", "sys", "uptime",
    ] {
        assert!(top.iter().any(|n| n == want), "{want} not in {top:?}");
    }
    assert_eq!(
        list(&mut e, "/proc/self/fd"),
        [".", "..", "0", "1", "2", "3"]
    );
    assert_eq!(
        list(&mut e, "/proc/sys/vm"),
        [
            ".",
            "..",
            "overcommit_memory",
            "max_map_count",
            "mmap_min_addr"
        ]
    );
    let fd = e.open("/proc/7/status", O_RDONLY).unwrap() as u64;
    assert_eq!(e.read(fd, U as u64, 100), Ok(5));
    assert_eq!(e.mem.bytes(U, 5), b"other");
    assert_eq!(e.open("/proc/8/status", O_RDONLY), Err(errno::ENOENT));
    assert_eq!(e.open("/proc/07/status", O_RDONLY), Err(errno::ENOENT));
    let fd = e.open("/proc/meminfo", O_RDONLY).unwrap() as u64;
    assert_eq!(e.read(fd, U as u64, 100), Ok(7));
    assert_eq!(e.open("/proc/meminfo", O_WRONLY), Err(errno::EACCES));
    // /proc/mounts is a link to self/mounts; .. of the pid directory is /proc.
    let p = e.cstr(0x100, "/proc/mounts");
    let buf = (U + 0x3000) as u64;
    assert_eq!(e.call(|c| sys_readlinkat(c, neg(-100), p, buf, 64)), Ok(11));
    assert!(e.open("/proc/7/../42/maps", O_RDONLY).is_ok());
    // getcwd inside /proc.
    let d = e.cstr(0x100, "/proc/self/fd");
    assert_eq!(e.call(|c| sys_chdir(c, d)), Ok(0));
    assert_eq!(e.call(|c| sys_getcwd(c, buf, 64)), Ok(12));
    assert_eq!(e.mem.bytes(U + 0x3000, 12), b"/proc/42/fd\0");
}
