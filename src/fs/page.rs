//! One page of file data: a frame of user memory (outside the reserve, like an anonymous page),
//! so that a file system cannot starve the kernel, and so that file mappings can later map the
//! very frame that `read(2)` and `write(2)` see. On the host, where the file-system code is
//! tested, a page is a heap allocation.
use crate::mm::addr::PAGE_SIZE;

/// A zeroed page owned by a file; freed when dropped.
pub struct FilePage {
    #[cfg(target_os = "none")]
    pa: crate::mm::addr::PhysAddr,
    #[cfg(not(target_os = "none"))]
    buf: alloc::boxed::Box<[u8; PAGE_SIZE]>,
}

impl core::fmt::Debug for FilePage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FilePage")
    }
}

#[cfg(target_os = "none")]
impl FilePage {
    /// A zeroed page, or `None` when user memory is exhausted (the caller's `ENOSPC`).
    pub fn new() -> Option<FilePage> {
        use crate::mm::frame::KernelPhys;
        use crate::mm::phys::PhysMem;
        let pa = KernelPhys.alloc_frames(0)?;
        KernelPhys.zero_frames(pa, 0);
        Some(FilePage { pa })
    }

    /// The frame, for mapping it.
    pub fn phys(&self) -> crate::mm::addr::PhysAddr {
        self.pa
    }

    pub fn bytes(&self) -> &[u8; PAGE_SIZE] {
        use crate::mm::phys::PhysMem;
        // SAFETY: the frame is this page's alone (until file mappings share it, through the
        // frame's reference count), reached through the linear map.
        unsafe { &*(crate::mm::frame::KernelPhys.phys_to_virt(self.pa) as *const [u8; PAGE_SIZE]) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE] {
        use crate::mm::phys::PhysMem;
        // SAFETY: as in `bytes`, and `&mut self` makes the access exclusive.
        unsafe {
            &mut *(crate::mm::frame::KernelPhys.phys_to_virt(self.pa) as *mut [u8; PAGE_SIZE])
        }
    }
}

#[cfg(target_os = "none")]
impl Drop for FilePage {
    fn drop(&mut self) {
        use crate::mm::phys::PhysMem;
        crate::mm::frame::KernelPhys.free_frames(self.pa, 0);
    }
}

#[cfg(not(target_os = "none"))]
impl FilePage {
    pub fn new() -> Option<FilePage> {
        Some(FilePage {
            buf: alloc::boxed::Box::new([0; PAGE_SIZE]),
        })
    }

    pub fn bytes(&self) -> &[u8; PAGE_SIZE] {
        &self.buf
    }

    pub fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE] {
        &mut self.buf
    }
}
