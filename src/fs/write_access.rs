//! Who may write a file that a program runs from (Linux's `i_writecount`,
//! `get_write_access` and `deny_write_access`): a program's file cannot be opened for writing
//! (`ETXTBSY`), and a file open for writing cannot be run. In Linux 6.1 the hold lasts as long as
//! an address space runs the file (its `mm->exe_file`, kept across a fork), so that a program's
//! pages never change under it.
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::inode::Inode;
use tidemark_abi::errno::{self, Errno};

impl Inode {
    /// Linux `get_write_access`: one more writer, unless a program runs the file.
    fn get_write_access(&self) -> Result<(), Errno> {
        self.writecount
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (n >= 0).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| errno::ETXTBSY)
    }

    /// Linux `deny_write_access`: one more program running the file, unless it is open for
    /// writing.
    fn deny_write_access(&self) -> Result<(), Errno> {
        self.writecount
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (n <= 0).then_some(n - 1)
            })
            .map(|_| ())
            .map_err(|_| errno::ETXTBSY)
    }

    /// Whether a program may start from the file now (nothing has it open for writing).
    pub fn may_exec(&self) -> Result<(), Errno> {
        if self.writecount.load(Ordering::Acquire) > 0 {
            Err(errno::ETXTBSY)
        } else {
            Ok(())
        }
    }
}

/// An open file's right to write its inode, given back when the last descriptor to the file
/// closes (a copy of the handle is a right of its own).
pub struct WriteAccess(Arc<Inode>);

impl WriteAccess {
    /// `ETXTBSY` while a program runs the file.
    pub fn get(inode: &Arc<Inode>) -> Result<Self, Errno> {
        inode.get_write_access()?;
        Ok(Self(inode.clone()))
    }
}

impl Clone for WriteAccess {
    fn clone(&self) -> Self {
        // Cannot fail: this handle already counts as a writer.
        self.0.writecount.fetch_add(1, Ordering::Relaxed);
        Self(self.0.clone())
    }
}

impl Drop for WriteAccess {
    fn drop(&mut self) {
        self.0.writecount.fetch_sub(1, Ordering::Release);
    }
}

/// Rights are all alike: files are equal whatever rights they hold.
impl PartialEq for WriteAccess {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for WriteAccess {}

impl core::fmt::Debug for WriteAccess {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("WriteAccess")
    }
}

/// An address space's hold on the file it runs (Linux's `mm->exe_file`): no one may open the
/// file for writing while one exists. The threads of a process share one; a fork makes another.
pub struct ExeFile(Arc<Inode>);

impl ExeFile {
    /// `ETXTBSY` while the file is open for writing.
    pub fn new(inode: &Arc<Inode>) -> Result<Arc<Self>, Errno> {
        inode.deny_write_access()?;
        Ok(Arc::new(Self(inode.clone())))
    }

    /// Another hold on the same file, for a fork's child.
    pub fn fork(&self) -> Arc<Self> {
        // Cannot fail: this hold already keeps writers out.
        self.0.writecount.fetch_sub(1, Ordering::Relaxed);
        Arc::new(Self(self.0.clone()))
    }
}

impl Drop for ExeFile {
    fn drop(&mut self) {
        self.0.writecount.fetch_add(1, Ordering::Release);
    }
}

impl core::fmt::Debug for ExeFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ExeFile({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::inode::{Cred, Data, SuperBlock, Time};
    use tidemark_abi::layout::S_IFREG;

    #[test]
    fn writers_and_programs_keep_each_other_out() {
        let sb = SuperBlock::new(1, 10);
        let inode = Inode::new(
            &sb,
            S_IFREG | 0o755,
            Cred::ROOT,
            Data::File(Default::default()),
            Time::default(),
        );
        let w = WriteAccess::get(&inode).unwrap();
        let w2 = w.clone();
        assert_eq!(ExeFile::new(&inode).err(), Some(errno::ETXTBSY));
        assert_eq!(inode.may_exec(), Err(errno::ETXTBSY));
        drop(w);
        assert_eq!(
            inode.may_exec(),
            Err(errno::ETXTBSY),
            "a copy of the right still writes"
        );
        drop(w2);
        let exe = ExeFile::new(&inode).unwrap();
        let child = exe.fork();
        assert_eq!(WriteAccess::get(&inode).err(), Some(errno::ETXTBSY));
        drop(exe);
        assert_eq!(
            WriteAccess::get(&inode).err(),
            Some(errno::ETXTBSY),
            "the fork's child runs it"
        );
        drop(child);
        assert!(WriteAccess::get(&inode).is_ok());
        assert_eq!(inode.writecount.load(Ordering::Relaxed), 0);
    }
}
