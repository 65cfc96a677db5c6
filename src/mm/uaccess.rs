//! User memory as the kernel reaches it on a task's behalf (Linux's `include/linux/uaccess.h`).
//!
//! Handlers never dereference a user pointer: they go through [`UserMem`], whose kernel
//! implementation (`arch::aarch64::uaccess`, with its exception fix-ups) faults pages in and
//! reports `EFAULT` for a bad range, and whose host implementation (`FakeUserMem`) is a `Vec`
//! at a base address. That keeps every handler testable on the host with hostile pointers.
//!
//! The helpers mirror Linux's `get_user`/`put_user` ([`UserMemExt::read_pod`],
//! [`UserMemExt::write_pod`]) and `strncpy_from_user` as `getname` uses it
//! ([`UserMemExt::read_cstring`]).
use alloc::vec::Vec;
use core::mem::size_of;

use crate::mm::layout::TASK_SIZE;
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::Pod;

/// `PATH_MAX` (`include/uapi/linux/limits.h`): a path including its NUL must fit in 4096 bytes.
pub const PATH_MAX: usize = 4096;

/// Size of the chunks user copies are split into: a user mapping can only end on a page
/// boundary, so copying page by page finds the exact point where a partially valid buffer stops
/// being valid, the way Linux's byte-granular `copy_*_user` does.
pub const USER_CHUNK: usize = 4096;

/// A page-sized bounce buffer on the stack whose bytes are made (zeroed) only as a chunk is
/// used: a `[0u8; USER_CHUNK]` zeroed all 4096 bytes on every call, which was a third of a
/// one-byte pipe round trip.
pub struct Bounce([core::mem::MaybeUninit<u8>; USER_CHUNK]);

impl Bounce {
    pub const fn new() -> Self {
        Self([core::mem::MaybeUninit::uninit(); USER_CHUNK])
    }

    /// The first `n` bytes (at most [`USER_CHUNK`]), zeroed.
    pub fn chunk(&mut self, n: usize) -> &mut [u8] {
        let part = &mut self.0[..n];
        part.fill(core::mem::MaybeUninit::new(0));
        // SAFETY: every byte of `part` was just written; `MaybeUninit<u8>` has `u8`'s layout.
        unsafe { &mut *(part as *mut [core::mem::MaybeUninit<u8>] as *mut [u8]) }
    }
}

impl Default for Bounce {
    fn default() -> Self {
        Self::new()
    }
}

/// User memory as a syscall handler sees it. The kernel's implementation faults pages in and
/// returns EFAULT when the range is bad; host tests use a Vec-backed fake.
///
/// Both copies are all-or-nothing: on `Err` the caller must assume nothing was transferred
/// (callers that need Linux's partial-count answers split their copies with [`user_chunks`]).
/// Handlers never ask for a zero-length copy (Linux's `copy_*_user` of 0 bytes always
/// succeeds; callers check `access_ok` themselves where Linux does).
pub trait UserMem {
    fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno>;
    fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno>;
}

/// A kernel buffer posing as user memory, addresses being offsets into it: how `sendfile`
/// moves data between two files through the same read and write paths (Linux's `ITER_KVEC`).
pub struct KernelBuf<'a>(pub &'a mut [u8]);

impl UserMem for KernelBuf<'_> {
    fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno> {
        let src = self.0.get(addr..addr + buf.len()).ok_or(errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        let dst = self
            .0
            .get_mut(addr..addr + bytes.len())
            .ok_or(errno::EFAULT)?;
        dst.copy_from_slice(bytes);
        Ok(())
    }
}

/// Linux's `access_ok` on arm64: the range lies wholly in the user half, without wrapping. The
/// VFS checks it for the whole buffer before doing anything (`vfs_read`, `vfs_write`,
/// `import_iovec`), so a kernel-half pointer is `EFAULT` even when the count is 0 (`NULL` with a
/// count of 0 is fine).
pub fn access_ok(addr: usize, len: usize) -> bool {
    len <= TASK_SIZE && addr <= TASK_SIZE - len
}

/// Splits the user range `[addr, addr + len)` into pieces that never cross a page boundary:
/// `(user address, offset into the caller's buffer, length)`.
pub fn user_chunks(addr: usize, len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let a = addr.wrapping_add(done);
        let to_boundary = USER_CHUNK - (a % USER_CHUNK);
        let n = to_boundary.min(len - done);
        let item = (a, done, n);
        done += n;
        Some(item)
    })
}

/// Typed helpers over any [`UserMem`], including `dyn UserMem`.
pub trait UserMemExt: UserMem {
    /// Linux `copy_from_user` into a structure: reads `size_of::<T>()` bytes at `addr`.
    fn read_pod<T: Pod>(&mut self, addr: usize) -> Result<T, Errno> {
        let mut buf = [0u8; 256];
        let mut heap;
        let bytes: &mut [u8] = if size_of::<T>() <= buf.len() {
            &mut buf[..size_of::<T>()]
        } else {
            heap = alloc::vec![0u8; size_of::<T>()];
            &mut heap
        };
        self.copy_from_user(addr, bytes)?;
        T::from_bytes(bytes).ok_or(errno::EFAULT)
    }

    /// Linux `copy_to_user` of a structure's bytes.
    fn write_pod<T: Pod>(&mut self, addr: usize, value: &T) -> Result<(), Errno> {
        self.copy_to_user(addr, value.as_bytes())
    }

    /// A NUL-terminated string of at most `max` bytes including the NUL, without the NUL.
    ///
    /// Mirrors `getname` over `strncpy_from_user`: `EFAULT` if the string runs into memory that
    /// cannot be read before its NUL, `ENAMETOOLONG` if no NUL lies within `max` bytes. Reads a
    /// page at a time, falling back to single bytes inside a page that does not copy whole, so a
    /// short string at the very end of a mapping is still read.
    fn read_cstring(&mut self, addr: usize, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut page = [0u8; USER_CHUNK];
        for (a, _, n) in user_chunks(addr, max) {
            if a.checked_add(n).is_none() {
                return Err(errno::EFAULT);
            }
            let chunk = &mut page[..n];
            if self.copy_from_user(a, chunk).is_ok() {
                if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                    out.extend_from_slice(&chunk[..nul]);
                    return Ok(out);
                }
                out.extend_from_slice(chunk);
            } else {
                for i in 0..n {
                    let mut b = [0u8];
                    self.copy_from_user(a + i, &mut b)?;
                    if b[0] == 0 {
                        return Ok(out);
                    }
                    out.push(b[0]);
                }
            }
        }
        Err(errno::ENAMETOOLONG)
    }
}

impl<M: UserMem + ?Sized> UserMemExt for M {}

/// Host stand-in for a process's memory: `mem.len()` bytes mapped at `base`, everything else
/// unmapped (`EFAULT`), including ranges that run off either end.
#[cfg(test)]
pub struct FakeUserMem {
    pub base: usize,
    pub mem: Vec<u8>,
}

#[cfg(test)]
impl FakeUserMem {
    /// `len` zero bytes at `base`.
    pub fn new(base: usize, len: usize) -> FakeUserMem {
        FakeUserMem {
            base,
            mem: alloc::vec![0; len],
        }
    }

    fn range(&self, addr: usize, len: usize) -> Result<core::ops::Range<usize>, Errno> {
        let start = addr.checked_sub(self.base).ok_or(errno::EFAULT)?;
        let end = start.checked_add(len).ok_or(errno::EFAULT)?;
        if end > self.mem.len() {
            return Err(errno::EFAULT);
        }
        Ok(start..end)
    }

    /// The bytes at `[addr, addr + len)`; panics if unmapped (test helper).
    pub fn bytes(&self, addr: usize, len: usize) -> &[u8] {
        let r = self.range(addr, len).expect("unmapped");
        &self.mem[r]
    }

    /// Stores `bytes` at `addr`; panics if unmapped (test helper).
    pub fn put(&mut self, addr: usize, bytes: &[u8]) {
        let r = self.range(addr, bytes.len()).expect("unmapped");
        self.mem[r].copy_from_slice(bytes);
    }
}

#[cfg(test)]
impl UserMem for FakeUserMem {
    fn copy_from_user(&mut self, addr: usize, buf: &mut [u8]) -> Result<(), Errno> {
        let r = self.range(addr, buf.len())?;
        buf.copy_from_slice(&self.mem[r]);
        Ok(())
    }

    fn copy_to_user(&mut self, addr: usize, bytes: &[u8]) -> Result<(), Errno> {
        let r = self.range(addr, bytes.len())?;
        self.mem[r].copy_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_abi::layout::{Iovec, Timespec};

    const BASE: usize = 0x40_0000;

    #[test]
    fn fake_bounds() {
        let mut m = FakeUserMem::new(BASE, 16);
        let mut b = [0u8; 4];
        assert_eq!(m.copy_from_user(BASE + 12, &mut b), Ok(()));
        assert_eq!(m.copy_from_user(BASE + 13, &mut b), Err(errno::EFAULT));
        assert_eq!(m.copy_from_user(BASE - 1, &mut b), Err(errno::EFAULT));
        assert_eq!(m.copy_from_user(0, &mut b), Err(errno::EFAULT));
        assert_eq!(m.copy_to_user(usize::MAX - 1, &b), Err(errno::EFAULT));
        assert_eq!(m.copy_to_user(BASE + 16, &[]), Ok(()));
    }

    #[test]
    fn pod_round_trip() {
        let mut m = FakeUserMem::new(BASE, 64);
        let iov = Iovec {
            iov_base: 0x1234,
            iov_len: 99,
        };
        m.write_pod(BASE + 3, &iov).unwrap();
        assert_eq!(m.read_pod::<Iovec>(BASE + 3), Ok(iov));
        assert_eq!(m.read_pod::<Timespec>(BASE + 50), Err(errno::EFAULT));
        assert_eq!(m.write_pod(BASE + 60, &iov), Err(errno::EFAULT));
        // Nothing was written by the failed store.
        assert!(m.bytes(BASE + 60, 4).iter().all(|&b| b == 0));
    }

    #[test]
    fn cstring() {
        let mut m = FakeUserMem::new(BASE, 3 * USER_CHUNK);
        m.put(BASE, b"/proc/self/maps\0junk");
        assert_eq!(m.read_cstring(BASE, PATH_MAX).unwrap(), b"/proc/self/maps");
        assert_eq!(m.read_cstring(BASE + 15, PATH_MAX).unwrap(), b"");
        assert_eq!(m.read_cstring(0, PATH_MAX), Err(errno::EFAULT));
        assert_eq!(m.read_cstring(usize::MAX - 2, PATH_MAX), Err(errno::EFAULT));
        // A short string at the very end of the mapping: the page-sized read fails, the byte
        // fallback finds it.
        let end = BASE + 3 * USER_CHUNK;
        m.put(end - 3, b"ab\0");
        assert_eq!(m.read_cstring(end - 3, PATH_MAX).unwrap(), b"ab");
        // Running off the end of the mapping before a NUL.
        m.put(end - 3, b"abc");
        assert_eq!(m.read_cstring(end - 3, PATH_MAX), Err(errno::EFAULT));
    }

    #[test]
    fn cstring_path_max() {
        let mut m = FakeUserMem::new(BASE, 3 * USER_CHUNK);
        // 4095 bytes + NUL fits; 4096 bytes does not (getname's `len == PATH_MAX`).
        let a = BASE + 100; // not page aligned: the string spans two pages
        m.mem[100..100 + 4095].fill(b'a');
        assert_eq!(m.read_cstring(a, PATH_MAX).unwrap().len(), 4095);
        m.mem[100 + 4095] = b'a';
        assert_eq!(m.read_cstring(a, PATH_MAX), Err(errno::ENAMETOOLONG));
        assert_eq!(m.read_cstring(a, 0), Err(errno::ENAMETOOLONG));
    }

    #[test]
    fn access_ok_bounds() {
        assert!(access_ok(0, 0));
        assert!(access_ok(TASK_SIZE, 0));
        assert!(!access_ok(TASK_SIZE, 1));
        assert!(!access_ok(0xffff_0000_0000_0000, 0));
        assert!(!access_ok(1, usize::MAX));
        assert!(access_ok(TASK_SIZE - 8, 8));
    }

    #[test]
    fn chunks_split_at_pages() {
        let v: Vec<_> = user_chunks(4000, 5000).collect();
        assert_eq!(v, [(4000, 0, 96), (4096, 96, 4096), (8192, 4192, 808)]);
        assert_eq!(user_chunks(0, 0).count(), 0);
    }
}
