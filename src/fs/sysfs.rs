//! A minimal sysfs (`mount -t sysfs`): the files programs read to learn the machine, as a
//! tmpfs tree made at mount time and then sealed (read-only, names fixed, as kernfs's are). It
//! holds what the kernel can say truthfully:
//! - `devices/system/cpu/`: `online`, `possible`, `present` (`0-N`), `kernel_max`, and a
//!   `cpuN` directory per core (glibc's `get_nprocs` reads `online`);
//! - `kernel/mm/transparent_hugepage/enabled`: `never` selected, as anonymous memory is mapped
//!   in 4 KiB pages outside `mlock`.
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use super::inode::{Cred, Data, Inode};
use super::vfs::Vfs;
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::S_IFREG;

/// Pages the tree's files may take: one each, and few files.
const SYSFS_PAGES: usize = 64;

/// Mounts a sysfs on `dir` for a machine of `cpus` cores, of which the kernel could drive at
/// most `max_cpus`.
pub fn mount(
    vfs: &Vfs,
    dir: &Arc<Inode>,
    source: &str,
    cpus: usize,
    max_cpus: usize,
) -> Result<(), Errno> {
    let root = vfs.mount_tmpfs(dir, source, "sysfs", 0o555, SYSFS_PAGES)?;
    let range = if cpus > 1 {
        format!("0-{}\n", cpus - 1)
    } else {
        String::from("0\n")
    };
    let cpu = mkdirs(vfs, &root, &["devices", "system", "cpu"])?;
    for name in ["online", "possible", "present"] {
        file(vfs, &cpu, name, range.as_bytes())?;
    }
    file(
        vfs,
        &cpu,
        "kernel_max",
        format!("{}\n", max_cpus - 1).as_bytes(),
    )?;
    for n in 0..cpus {
        mkdirs(vfs, &cpu, &[&format!("cpu{n}")])?;
    }
    let thp = mkdirs(vfs, &root, &["kernel", "mm", "transparent_hugepage"])?;
    let mode = crate::mm::thp::ThpMode::get().sysfs_text();
    file(vfs, &thp, "enabled", mode.as_bytes())?;
    root.sb.seal();
    Ok(())
}

/// The directory `path` under `dir`, made as needed (mode 0755, as sysfs shows them).
fn mkdirs(vfs: &Vfs, dir: &Arc<Inode>, path: &[&str]) -> Result<Arc<Inode>, Errno> {
    let mut d = dir.clone();
    for name in path {
        d = super::rootfs::ensure_dir(vfs, &d, name, 0o755).ok_or(errno::ENOMEM)?;
    }
    Ok(d)
}

/// A read-only attribute file (mode 0444) holding `text`.
fn file(vfs: &Vfs, dir: &Arc<Inode>, name: &str, text: &[u8]) -> Result<(), Errno> {
    let inode = vfs.create(
        dir,
        name.as_bytes(),
        S_IFREG | 0o444,
        0,
        Data::File(Default::default()),
        Cred::ROOT,
    )?;
    let sb = inode.sb.clone();
    if let Data::File(f) = &mut inode.lock().data {
        f.write_at(&sb, 0, text)?;
    }
    Ok(())
}
