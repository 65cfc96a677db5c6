//! Memory objects behind shared and file mappings (Linux's `struct address_space` as a fault
//! sees it): a VMA with a [`Backing`] takes its pages from the object instead of zeroed frames.
//! The kernel implements [`PageObject`] for tmpfs inodes (files, shared anonymous memory,
//! memfd); the mm only asks for a page by its index and maps it.
use alloc::sync::Arc;
use core::fmt;

use super::addr::PhysAddr;

/// Why an object could not give a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// The page lies wholly past the end of the file: `SIGBUS` (`BUS_ADRERR`).
    Bus,
    /// No memory for the page.
    NoMemory,
}

/// Pages by index, shared by every mapping of the object.
pub trait PageObject: Send + Sync {
    /// The frame of page `index`, made (zeroed) if the object has none there yet, with one
    /// reference taken for the caller's mapping (dropped by `PhysMem::free_frames` when the
    /// mapping goes).
    fn get_page(&self, index: usize) -> Result<PhysAddr, ObjectError>;

    /// Whether the object holds page `index` now (for mincore).
    fn has_page(&self, index: usize) -> bool;

    /// The frame of page `index` if the object holds one, taking no reference: to tell its own
    /// pages from private copies in a mapping.
    fn peek_page(&self, _index: usize) -> Option<PhysAddr> {
        None
    }

    /// Whether the object's pages are shared memory (Linux's swap-backed pages: tmpfs, shmem)
    /// rather than a file's, for the RSS counters. Every file system of tidemark's is in memory,
    /// the root included, as Linux's root is a tmpfs when it boots from an initramfs alone.
    fn is_shmem(&self) -> bool {
        true
    }

    /// The device number (`new_encode_dev`) and inode number `/proc/PID/maps` shows for a
    /// mapping of the object.
    fn ident(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// A VMA's object. Two backings are equal when they are the same object, which is what
/// merging adjacent VMAs needs.
#[derive(Clone)]
pub struct Backing(pub Arc<dyn PageObject>);

impl PartialEq for Backing {
    fn eq(&self, other: &Backing) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Backing {}

impl fmt::Debug for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Backing({:p})", Arc::as_ptr(&self.0) as *const u8)
    }
}
