//! File systems. For now only the initramfs: a newc cpio archive that the boot loader (QEMU's
//! `-initrd`) leaves in RAM, read in place.
pub mod cpio;
pub mod fdtable;
pub mod pipe;
pub mod procfs;

pub use cpio::{CpioError, Entry, Initramfs};
