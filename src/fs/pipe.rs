//! Anonymous pipes (Linux `fs/pipe.c`, semantics of pipe(7)).
//!
//! A [`Pipe`] is a 64 KiB byte ring (`PIPE_DEF_BUFFERS` = 16 pages, Linux's default capacity)
//! shared by its two ends. The ends are [`PipeReader`] and [`PipeWriter`] handles: each live
//! handle counts as one reader or writer (Linux's `pipe->readers` / `pipe->writers`, which count
//! open file descriptions, not descriptors). The descriptor table keeps one handle per open file
//! description, so `dup` and `fork` (which share the description) do not change the counts, and
//! dropping the last reference to a description (the last `close`, `exit`, `execve` of a
//! close-on-exec descriptor) drops the handle and updates the count.
//!
//! # FIFOs
//!
//! A named pipe (`mknod S_IFIFO`, `mkfifo`) is the same object, made at the first open of the
//! inode and gone with its last end ([`Pipe::fifo`]). Opening it follows Linux's `fifo_open`: a
//! reader waits for a writer and a writer for a reader unless `O_NONBLOCK` (a writer then gets
//! `ENXIO` with no reader), `O_RDWR` never waits, and an end that waits already counts, so that
//! the other side's open and first write go through. The open counts (`r_counter`, `w_counter`)
//! let a waiter see that a partner came even if it has left again ([`FifoWait`]).
//!
//! # Blocking
//!
//! Handlers cannot sleep. Where Linux's `pipe_read`/`pipe_write` would `wait_event`, these
//! return [`errno::EWOULDBLOCK_RESTART`] having changed nothing; the kernel parks the caller
//! until [`events`] moves past the value it saw before the call, then runs the syscall again
//! from scratch (see that constant for the full protocol). Every state change a sleeper could be
//! waiting for — bytes added, bytes removed, an end closed — bumps both the pipe's own
//! [`Pipe::generation`] and the global [`events`] counter.
//!
//! # Deviations from Linux
//!
//! * Capacity is counted in bytes (65536), not in page slots; Linux's page merging makes the
//!   two agree for the common stream of small writes.
//! * A blocking write larger than `PIPE_BUF` that has written part of its data when the pipe
//!   fills returns the short count instead of sleeping until it can write the rest (restarting
//!   from scratch would write the first part twice). POSIX allows it for writes above
//!   `PIPE_BUF` only when interrupted, so this is a deviation, but every caller that handles
//!   short writes (stdio, `write` loops) copes; writes of at most `PIPE_BUF` bytes are atomic
//!   exactly as on Linux.
//! * No packet mode (`O_DIRECT`) and no notification pipes.
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use super::inode::Inode;

use tidemark_abi::errno::{self, Errno};

/// `PIPE_BUF` (`include/uapi/linux/limits.h`): writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;

/// The most a drained pipe keeps of its buffer for the next write.
const KEPT_CAPACITY: usize = 512;
/// Capacity: `PIPE_DEF_BUFFERS` (16) pages, what `fcntl(F_GETPIPE_SZ)` reports.
pub const PIPE_SIZE: usize = 16 * 4096;

/// Counts every pipe state change in the system (see [`events`]).
static EVENTS: AtomicU64 = AtomicU64::new(0);
/// Inode numbers for `fstat` (pipefs hands out one per pipe).
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// The global pipe event counter: bumped (after the pipe lock is released) whenever any pipe
/// gains or loses bytes or an end. A process blocked by [`errno::EWOULDBLOCK_RESTART`] is woken
/// when this differs from the value sampled before its syscall ran.
/// Moves the event count on for a change that is not a pipe's (console input), so that its
/// waiters re-run their calls.
pub fn notify() {
    EVENTS.fetch_add(1, Ordering::AcqRel);
}

pub fn events() -> u64 {
    EVENTS.load(Ordering::Acquire)
}

struct PipeInner {
    /// The bytes in the pipe, oldest first; never longer than [`PIPE_SIZE`]. Grows on demand,
    /// so an idle pipe costs no buffer.
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// Ends ever opened for reading and for writing (`pipe->r_counter`, `w_counter`).
    r_counter: u64,
    w_counter: u64,
}

/// The object shared by a pipe's ends (`struct pipe_inode_info`).
pub struct Pipe {
    inner: crate::sync::Mutex<PipeInner>,
    generation: AtomicU64,
    ino: u64,
    /// The named pipe's inode and the path it was first opened by; `None` for `pipe2`'s.
    fifo: Option<FifoOrigin>,
}

/// Where a FIFO's pipe lives in the tree: its `fstat` is the inode's, and `/proc/PID/fd` shows
/// the path.
pub struct FifoOrigin {
    pub inode: Arc<Inode>,
    pub path: Arc<[u8]>,
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.lock();
        f.debug_struct("Pipe")
            .field("ino", &self.ino)
            .field("len", &s.buf.len())
            .field("readers", &s.readers)
            .field("writers", &s.writers)
            .finish()
    }
}

impl Pipe {
    /// A new empty pipe and its two ends (one reader, one writer).
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (PipeReader, PipeWriter) {
        let pipe = Arc::new(Pipe {
            inner: crate::sync::Mutex::new(PipeInner {
                buf: VecDeque::new(),
                readers: 1,
                writers: 1,
                r_counter: 1,
                w_counter: 1,
            }),
            generation: AtomicU64::new(0),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            fifo: None,
        });
        (PipeReader(pipe.clone()), PipeWriter(pipe))
    }

    /// A named pipe's object, with no end open yet: its inode keeps a weak reference, so that
    /// it goes (with any bytes left in it, as on Linux) when its last end closes.
    pub fn fifo(origin: FifoOrigin) -> Arc<Pipe> {
        Arc::new(Pipe {
            inner: crate::sync::Mutex::new(PipeInner {
                buf: VecDeque::new(),
                readers: 0,
                writers: 0,
                r_counter: 0,
                w_counter: 0,
            }),
            generation: AtomicU64::new(0),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            fifo: Some(origin),
        })
    }

    /// The named pipe's inode and path, if this is one.
    pub fn origin(&self) -> Option<&FifoOrigin> {
        self.fifo.as_ref()
    }

    /// Opens a read end (`fifo_open` for `FMODE_READ`): one more reader, and the partners
    /// waiting for one see it.
    pub fn open_reader(self: &Arc<Self>) -> PipeReader {
        {
            let mut s = self.inner.lock();
            s.readers += 1;
            s.r_counter += 1;
        }
        self.changed();
        PipeReader(self.clone())
    }

    /// Opens a write end (`fifo_open` for `FMODE_WRITE`).
    pub fn open_writer(self: &Arc<Self>) -> PipeWriter {
        {
            let mut s = self.inner.lock();
            s.writers += 1;
            s.w_counter += 1;
        }
        self.changed();
        PipeWriter(self.clone())
    }

    /// `(r_counter, w_counter)`: ends ever opened on each side.
    pub fn counters(&self) -> (u64, u64) {
        let s = self.inner.lock();
        (s.r_counter, s.w_counter)
    }

    /// Bumped on every state change of this pipe (bytes in or out, an end closed).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The pipe's inode number (for `st_ino`).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// Bytes waiting to be read (`FIONREAD`).
    pub fn len(&self) -> usize {
        self.inner.lock().buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(readers, writers)`: open file descriptions of each end.
    pub fn ends(&self) -> (usize, usize) {
        let s = self.inner.lock();
        (s.readers, s.writers)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        EVENTS.fetch_add(1, Ordering::AcqRel);
    }

    /// `pipe_read`, with the copy-out left to `copy`: `copy(offset, bytes)` stores `bytes` at
    /// `offset` of the caller's destination and returns how many it stored (fewer on a fault).
    ///
    /// `count` 0 reads 0. Otherwise: with bytes in the pipe, moves up to `count` of them and
    /// returns how many (`EFAULT` if the first copy stored nothing; a fault later returns the
    /// short count, and only stored bytes leave the pipe). Empty with no writers: 0, end of
    /// file. Empty with writers: `EAGAIN` if `nonblock`, else
    /// [`errno::EWOULDBLOCK_RESTART`].
    pub fn read_with(
        &self,
        count: usize,
        nonblock: bool,
        copy: &mut dyn FnMut(usize, &[u8]) -> usize,
    ) -> Result<usize, Errno> {
        if count == 0 {
            return Ok(0);
        }
        let mut s = self.inner.lock();
        if s.buf.is_empty() {
            return if s.writers == 0 {
                Ok(0)
            } else if nonblock {
                Err(errno::EAGAIN)
            } else {
                Err(errno::EWOULDBLOCK_RESTART)
            };
        }
        let want = count.min(s.buf.len());
        let mut done = 0;
        while done < want {
            let (front, _) = s.buf.as_slices();
            let n = front.len().min(want - done);
            let got = copy(done, &front[..n]);
            s.buf.drain(..got);
            done += got;
            if got < n {
                break;
            }
        }
        if done > 0 {
            // Release the buffer's memory once drained, but for one small buffer kept for the
            // next write (Linux keeps a page, `pipe->tmp_page`): giving it back and taking it
            // again cost a one-byte round trip 300 instructions of heap work.
            if s.buf.is_empty() && s.buf.capacity() > KEPT_CAPACITY {
                s.buf = VecDeque::new();
            }
            drop(s);
            self.changed();
            Ok(done)
        } else {
            Err(errno::EFAULT)
        }
    }

    /// `pipe_write`, with the copy-in left to `fill`: `fill(offset, dst)` loads `dst.len()` bytes
    /// from `offset` of the caller's source and returns how many it loaded (fewer on a fault).
    ///
    /// `count` 0 writes 0 (even with no readers, as Linux). No readers: `EPIPE` (the caller
    /// must raise `SIGPIPE`). A write of at most [`PIPE_BUF`] bytes goes in whole or not at
    /// all; a larger one writes what fits. When nothing can be written: `EAGAIN` if
    /// `nonblock`, else [`errno::EWOULDBLOCK_RESTART`]. A fault keeps the bytes before it and
    /// returns their count (`EFAULT` if none).
    pub fn write_with(
        &self,
        count: usize,
        nonblock: bool,
        fill: &mut dyn FnMut(usize, &mut [u8]) -> usize,
    ) -> Result<usize, Errno> {
        if count == 0 {
            return Ok(0);
        }
        let mut s = self.inner.lock();
        if s.readers == 0 {
            return Err(errno::EPIPE);
        }
        let room = PIPE_SIZE - s.buf.len();
        let fits = if count <= PIPE_BUF {
            room >= count
        } else {
            room > 0
        };
        if !fits {
            return Err(if nonblock {
                errno::EAGAIN
            } else {
                errno::EWOULDBLOCK_RESTART
            });
        }
        let want = count.min(room);
        const _: () = assert!(PIPE_BUF <= crate::mm::uaccess::USER_CHUNK);
        let mut bounce = crate::mm::uaccess::Bounce::new();
        let mut done = 0;
        while done < want {
            let n = (want - done).min(PIPE_BUF);
            let tmp = bounce.chunk(n);
            let got = fill(done, tmp).min(n);
            // Grow geometrically but never past the pipe's capacity.
            let need = s.buf.len() + got;
            if need > s.buf.capacity() {
                let target = (s.buf.capacity() * 2).clamp(need, PIPE_SIZE.max(need));
                let len = s.buf.len();
                // Out of kernel memory: what was written stands, else ENOMEM (pipe_write's
                // failed page allocation).
                if s.buf.try_reserve_exact(target - len).is_err() {
                    if done > 0 {
                        break;
                    }
                    return Err(errno::ENOMEM);
                }
            }
            s.buf.extend(&tmp[..got]);
            done += got;
            if got < n {
                break;
            }
        }
        drop(s);
        if done > 0 {
            self.changed();
            Ok(done)
        } else {
            Err(errno::EFAULT)
        }
    }

    /// [`Pipe::read_with`] into a kernel buffer.
    pub fn read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        self.read_with(buf.len(), nonblock, &mut |off, src| {
            buf[off..off + src.len()].copy_from_slice(src);
            src.len()
        })
    }

    /// [`Pipe::write_with`] from a kernel buffer.
    pub fn write(&self, bytes: &[u8], nonblock: bool) -> Result<usize, Errno> {
        self.write_with(bytes.len(), nonblock, &mut |off, dst| {
            dst.copy_from_slice(&bytes[off..off + dst.len()]);
            dst.len()
        })
    }

    /// `pipe_poll` readiness for a read end: `(readable, hung_up)`. Readable when bytes are
    /// waiting; hung up when no writer remains (Linux reports `POLLHUP` alone for an empty pipe
    /// whose writers are gone, `POLLIN | POLLHUP` while bytes remain).
    pub fn poll_read(&self) -> (bool, bool) {
        let s = self.inner.lock();
        (!s.buf.is_empty(), s.writers == 0)
    }

    /// `pipe_poll` readiness for a write end: `(writable, error)`. Writable when at least
    /// [`PIPE_BUF`] bytes are free (Linux: a free page slot), so a `POLLOUT` is a promise that
    /// an atomic write will not block; error (`POLLERR`) when no reader remains.
    pub fn poll_write(&self) -> (bool, bool) {
        let s = self.inner.lock();
        (PIPE_SIZE - s.buf.len() >= PIPE_BUF, s.readers == 0)
    }
}

/// The read end of a pipe: one reader for as long as it lives. Cloning opens another reader;
/// dropping closes one.
pub struct PipeReader(Arc<Pipe>);

/// The write end of a pipe: one writer for as long as it lives.
pub struct PipeWriter(Arc<Pipe>);

macro_rules! pipe_end {
    ($ty:ident, $field:ident) => {
        impl $ty {
            /// The pipe this end belongs to.
            pub fn pipe(&self) -> &Arc<Pipe> {
                &self.0
            }
        }

        impl core::ops::Deref for $ty {
            type Target = Pipe;
            fn deref(&self) -> &Pipe {
                &self.0
            }
        }

        impl Clone for $ty {
            fn clone(&self) -> $ty {
                self.0.inner.lock().$field += 1;
                $ty(self.0.clone())
            }
        }

        impl Drop for $ty {
            fn drop(&mut self) {
                self.0.inner.lock().$field -= 1;
                self.0.changed();
            }
        }

        /// Two handles are equal when they are ends of the same pipe.
        impl PartialEq for $ty {
            fn eq(&self, other: &$ty) -> bool {
                Arc::ptr_eq(&self.0, &other.0)
            }
        }

        impl Eq for $ty {}

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&*self.0).finish()
            }
        }
    };
}

pipe_end!(PipeReader, readers);
pipe_end!(PipeWriter, writers);

/// A FIFO open that waits for its partner, kept by the caller across the re-runs of its call
/// (the kernel does not sleep inside a call): the end it opened, which counts meanwhile, and
/// the partner side's open count when it began to wait. Dropping it (the wait interrupted, the
/// task gone) closes the end, as Linux's `err_rd`/`err_wr` do.
#[derive(Debug)]
pub enum FifoWait {
    Reader(PipeReader, u64),
    Writer(PipeWriter, u64),
}

impl FifoWait {
    /// The pipe the open waits on.
    pub fn pipe(&self) -> &Arc<Pipe> {
        match self {
            FifoWait::Reader(r, _) => r.pipe(),
            FifoWait::Writer(w, _) => w.pipe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn fill_and_drain() {
        let (r, w) = Pipe::new();
        assert_eq!(r.ends(), (1, 1));
        let g0 = r.generation();
        let data: alloc::vec::Vec<u8> = (0..PIPE_SIZE + 100).map(|i| i as u8).collect();
        // A big write takes what fits.
        assert_eq!(w.write(&data, false), Ok(PIPE_SIZE));
        assert_eq!(r.len(), PIPE_SIZE);
        assert!(r.generation() > g0);
        assert_eq!(w.poll_write(), (false, false));
        // Full: blocking writers are told to block, others EAGAIN.
        assert_eq!(w.write(b"x", false), Err(errno::EWOULDBLOCK_RESTART));
        assert_eq!(w.write(b"x", true), Err(errno::EAGAIN));
        assert_eq!(w.write(&data, true), Err(errno::EAGAIN));
        let mut out = vec![0u8; 1000];
        assert_eq!(r.read(&mut out, false), Ok(1000));
        assert_eq!(out[..], data[..1000]);
        // Still less than PIPE_BUF free: an atomic write may not go in part-way, a big one may.
        assert_eq!(w.poll_write(), (false, false));
        assert_eq!(w.write(&[7; 1001], true), Err(errno::EAGAIN));
        assert_eq!(w.write(&[7; PIPE_BUF + 1], true), Ok(1000));
        let mut all = vec![0u8; PIPE_SIZE * 2];
        assert_eq!(r.read(&mut all, true), Ok(PIPE_SIZE));
        assert_eq!(all[..PIPE_SIZE - 1000], data[1000..PIPE_SIZE]);
        assert_eq!(all[PIPE_SIZE - 1000..PIPE_SIZE], [7; 1000]);
        assert!(r.is_empty());
        assert_eq!(w.poll_write(), (true, false));
        assert_eq!(r.poll_read(), (false, false));
        // Empty with a writer: block or EAGAIN; count 0 is always 0.
        assert_eq!(r.read(&mut out, false), Err(errno::EWOULDBLOCK_RESTART));
        assert_eq!(r.read(&mut out, true), Err(errno::EAGAIN));
        assert_eq!(r.read(&mut [], false), Ok(0));
    }

    #[test]
    fn atomic_writes_wrap_the_ring() {
        let (r, w) = Pipe::new();
        let mut out = vec![0u8; PIPE_BUF];
        for round in 0..40u8 {
            assert_eq!(w.write(&[round; PIPE_BUF], true), Ok(PIPE_BUF));
            assert_eq!(w.write(&[round; 100], true), Ok(100));
            assert_eq!(r.read(&mut out[..100], true), Ok(100));
            assert!(out[..100]
                .iter()
                .all(|&b| b == round.wrapping_sub(1) || b == round));
            let n = r.len();
            let mut rest = vec![0u8; n];
            assert_eq!(r.read(&mut rest, true), Ok(n));
        }
    }

    #[test]
    fn eof_and_epipe_follow_the_ends() {
        let (r, w) = Pipe::new();
        let w2 = w.clone();
        assert_eq!(r.ends(), (1, 2));
        assert_eq!(w.write(b"abc", false), Ok(3));
        drop(w);
        let g = r.generation();
        drop(w2);
        assert!(r.generation() > g);
        assert_eq!(r.ends(), (1, 0));
        // Bytes still there are read first, then end of file, blocking or not.
        assert_eq!(r.poll_read(), (true, true));
        let mut b = [0u8; 8];
        assert_eq!(r.read(&mut b, false), Ok(3));
        assert_eq!(&b[..3], b"abc");
        assert_eq!(r.read(&mut b, false), Ok(0));
        assert_eq!(r.read(&mut b, true), Ok(0));
        assert_eq!(r.poll_read(), (false, true));

        let (r, w) = Pipe::new();
        let ev = events();
        drop(r);
        assert!(events() > ev);
        assert_eq!(w.write(b"x", false), Err(errno::EPIPE));
        assert_eq!(w.write(b"x", true), Err(errno::EPIPE));
        assert_eq!(w.write(b"", false), Ok(0));
        assert_eq!(w.poll_write(), (true, true));
    }

    #[test]
    fn faults_keep_what_was_copied() {
        let (r, w) = Pipe::new();
        // The source faults after 10 bytes.
        let r1 = w.write_with(100, false, &mut |off, dst| {
            let n = dst.len().min(10usize.saturating_sub(off));
            dst[..n].fill(b'a');
            n
        });
        assert_eq!(r1, Ok(10));
        assert_eq!(w.write_with(5, false, &mut |_, _| 0), Err(errno::EFAULT));
        // The destination faults after 4 bytes: only those leave the pipe.
        let r2 = r.read_with(10, false, &mut |off, src| src.len().min(4 - off.min(4)));
        assert_eq!(r2, Ok(4));
        assert_eq!(r.len(), 6);
        assert_eq!(r.read_with(10, false, &mut |_, _| 0), Err(errno::EFAULT));
        assert_eq!(r.len(), 6);
    }
}
