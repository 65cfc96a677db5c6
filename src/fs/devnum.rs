//! Device numbers: their encoding and the ones the kernel's own files report.

/// glibc's `makedev` / the kernel's `new_encode_dev`.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) as u64)
        | ((major as u64 & 0xfff) << 8)
        | (((minor & !0xff) as u64) << 12)
        | (((major & !0xfff) as u64) << 32)
}

/// The console's `st_rdev`: `/dev/pts/0` (Unix98 pty slave major 136), so `ttyname` and
/// `isatty`-style checks see an ordinary pseudo-terminal.
pub const CONSOLE_RDEV: u64 = makedev(136, 0);
/// `st_dev` of the file systems: devpts, procfs and the root (anonymous device numbers, as
/// Linux gives virtual file systems).
pub const DEVPTS_DEV: u64 = makedev(0, 24);
pub const PROC_DEV: u64 = makedev(0, 22);
pub const ROOT_DEV: u64 = makedev(0, 1);
