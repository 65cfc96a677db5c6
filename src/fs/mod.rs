//! Files: the name space ([`mod@vfs`]) of in-memory inodes ([`inode`]) filled from the initramfs
//! ([`cpio`]) at boot, procfs, pipes, and the descriptor table.
pub mod cpio;
pub mod devnum;
pub mod fdtable;
pub mod inode;
pub mod page;
pub mod pipe;
pub mod procfs;
pub mod rootfs;
pub mod sysfs;
pub mod tty;
pub mod vfs;
pub mod write_access;

pub use cpio::{CpioError, Entry, Initramfs};

/// The kernel's one name space, made at boot from the initramfs.
pub static VFS: spin::Once<vfs::Vfs> = spin::Once::new();

/// The name space; the kernel makes it before any process runs.
pub fn vfs() -> &'static vfs::Vfs {
    VFS.get().expect("the root file system is made at boot")
}

/// The whole contents of a regular file, for the ELF loader (which reads a program at once
/// until file mappings come).
pub fn read_whole(inode: &inode::Inode) -> alloc::vec::Vec<u8> {
    match &inode.lock().data {
        inode::Data::File(f) => {
            let mut v = alloc::vec![0u8; f.size as usize];
            f.read_at(0, &mut v);
            v
        }
        _ => alloc::vec::Vec::new(),
    }
}

/// The file system behind shared anonymous memory (Linux's internal `shm_mnt`): its objects
/// have no names, and their pages count against their own budget (half of RAM).
#[cfg(target_os = "none")]
static SHM_SB: spin::Once<alloc::sync::Arc<inode::SuperBlock>> = spin::Once::new();

/// A new shared-memory object of `len` bytes (`shmem_zero_setup`), or `None` when the kernel
/// could not make one.
#[cfg(target_os = "none")]
pub fn shm_object(len: usize) -> Option<alloc::sync::Arc<inode::Inode>> {
    let sb = SHM_SB.call_once(|| {
        let total = crate::mm::frame::FRAMES.lock().total_frames();
        inode::SuperBlock::new(crate::fs::devnum::makedev(0, 5), total / 2)
    });
    let i = inode::Inode::new(
        sb,
        tidemark_abi::layout::S_IFREG | 0o600,
        inode::Cred::ROOT,
        inode::Data::File(Default::default()),
        vfs().now(),
    );
    {
        let mut inner = i.lock();
        inner.nlink = 0;
        if let inode::Data::File(f) = &mut inner.data {
            f.size = len as u64;
        }
    }
    Some(i)
}
