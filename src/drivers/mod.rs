//! Device drivers. The device-tree reader is portable (host-tested on a real QEMU DTB); the MMIO
//! drivers build only for the kernel.
pub mod fdt;

#[cfg(target_os = "none")]
pub mod gic;
#[cfg(target_os = "none")]
pub mod pl011;
#[cfg(target_os = "none")]
pub mod pl031;
