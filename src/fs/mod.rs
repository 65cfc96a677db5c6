//! Files: the name space ([`mod@vfs`]) of in-memory inodes ([`inode`]) filled from the initramfs
//! ([`cpio`]) at boot, procfs, pipes, and the descriptor table.
pub mod cpio;
pub mod fdtable;
pub mod inode;
pub mod page;
pub mod pipe;
pub mod procfs;
pub mod rootfs;
pub mod vfs;

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
