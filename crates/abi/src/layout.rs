//! Structures that cross the syscall boundary, laid out exactly as arm64 Linux's (LP64) uapi headers
//! lay them out, so the kernel can fill them and copy their bytes to user memory.
//!
//! Every structure is declared through `pod_struct!`, which adds `#[repr(C)]`, a compile-time
//! assertion of the size Linux has (measured with `aarch64-linux-gnu-gcc` + `qemu-aarch64` from the
//! cross headers; the values are in the declarations below) and a second one that the size equals
//! the sum of the field sizes, i.e. that there is no implicit padding. Padding Linux has is spelled
//! out as named fields, so [`Pod::as_bytes`] never exposes uninitialised bytes.
use core::mem::size_of;

/// Plain old data: a `#[repr(C)]` type made only of integers and arrays of integers, with no
/// implicit padding, for which every byte pattern is a valid value.
///
/// # Safety
/// Implementors must have no padding bytes and no invalid bit patterns: primitive integers, and
/// structures declared with `pod_struct!`, which asserts both at compile time.
pub unsafe trait Pod: Copy + 'static {
    /// The value's bytes, in memory order (little-endian on arm64 and on the hosts tests run on).
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `self` is a valid reference to `size_of::<Self>()` initialised bytes: `Pod` types
        // have no padding (asserted where they are declared), so every byte is initialised. The
        // slice borrows `self`, so it cannot outlive it, and `u8` has alignment 1.
        unsafe {
            core::slice::from_raw_parts((self as *const Self).cast::<u8>(), size_of::<Self>())
        }
    }

    /// Reads a value from the start of `bytes` (which may be unaligned, e.g. a buffer filled by
    /// copy-from-user). `None` if `bytes` is shorter than the type.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < size_of::<Self>() {
            return None;
        }
        // SAFETY: at least `size_of::<Self>()` bytes are readable at `bytes.as_ptr()` (checked
        // above); `read_unaligned` has no alignment requirement; and every bit pattern is a valid
        // `Self` because `Pod` types consist of integers only.
        Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<Self>()) })
    }
}

// SAFETY: primitive integers have no padding and no invalid bit patterns.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}

/// Declares a `#[repr(C)]` POD structure with the size Linux gives it and proves it has no implicit
/// padding (size == sum of field sizes), then implements [`Pod`] for it.
macro_rules! pod_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }
        linux_size = $size:literal;
    ) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }

        const _: () = assert!(size_of::<$name>() == $size, "size differs from arm64 Linux");
        const _: () = assert!(0 $(+ size_of::<$t>())* == $size, "implicit padding");

        // SAFETY: all fields are integers or integer arrays (or other `Pod` structures), and the
        // assertions above prove there is no padding.
        unsafe impl Pod for $name {}
    };
}

pod_struct! {
    /// `struct timespec` (`include/uapi/linux/time_types.h` `__kernel_timespec`): 16 bytes.
    #[derive(Default)]
    pub struct Timespec {
        pub tv_sec: i64,
        pub tv_nsec: i64,
    }
    linux_size = 16;
}

impl Timespec {
    /// Whether `tv_nsec` is in `0..1_000_000_000`, as `timespec64_valid` requires (else `EINVAL`).
    pub const fn is_valid(&self) -> bool {
        self.tv_sec >= 0 && self.tv_nsec >= 0 && self.tv_nsec < 1_000_000_000
    }

    /// A non-negative duration in nanoseconds, saturating; `None` if invalid.
    pub const fn as_nanos(&self) -> Option<u64> {
        if !self.is_valid() {
            return None;
        }
        Some(
            (self.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(self.tv_nsec as u64),
        )
    }

    pub const fn from_nanos(ns: u64) -> Timespec {
        Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as i64,
        }
    }
}

pod_struct! {
    /// `struct timeval` (`__kernel_old_timeval`, arm64 `long` fields): 16 bytes.
    #[derive(Default)]
    pub struct Timeval {
        pub tv_sec: i64,
        pub tv_usec: i64,
    }
    linux_size = 16;
}

impl Timeval {
    pub const fn from_nanos(ns: u64) -> Timeval {
        Timeval {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_usec: ((ns % 1_000_000_000) / 1000) as i64,
        }
    }
}

/// `clone(2)` and `clone3(2)` flags (`include/uapi/linux/sched.h`).
pub mod clone {
    /// The low byte of `clone`'s flags: the signal the parent gets when the child exits.
    pub const CSIGNAL: u64 = 0xff;
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_PIDFD: u64 = 0x1000;
    pub const CLONE_PTRACE: u64 = 0x2000;
    pub const CLONE_VFORK: u64 = 0x4000;
    pub const CLONE_PARENT: u64 = 0x8000;
    pub const CLONE_THREAD: u64 = 0x1_0000;
    pub const CLONE_NEWNS: u64 = 0x2_0000;
    pub const CLONE_SYSVSEM: u64 = 0x4_0000;
    pub const CLONE_SETTLS: u64 = 0x8_0000;
    pub const CLONE_PARENT_SETTID: u64 = 0x10_0000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
    pub const CLONE_DETACHED: u64 = 0x40_0000;
    pub const CLONE_UNTRACED: u64 = 0x80_0000;
    pub const CLONE_CHILD_SETTID: u64 = 0x100_0000;
    /// The namespace flags (`CLONE_NEWCGROUP` .. `CLONE_NEWNET`) and `CLONE_IO`.
    pub const CLONE_NAMESPACES: u64 = 0x0200_0000
        | 0x0400_0000
        | 0x0800_0000
        | 0x1000_0000
        | 0x2000_0000
        | 0x4000_0000
        | 0x8000_0000
        | CLONE_NEWNS;
    /// `clone3`-only flags: `CLONE_CLEAR_SIGHAND`, `CLONE_INTO_CGROUP`.
    pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
}

/// `RLIM_INFINITY` (`include/uapi/asm-generic/resource.h`): all ones.
pub const RLIM_INFINITY: u64 = u64::MAX;

pod_struct! {
    /// `struct rlimit` / `struct rlimit64` (both two 64-bit words on arm64): 16 bytes.
    #[derive(Default)]
    pub struct Rlimit {
        pub rlim_cur: u64,
        pub rlim_max: u64,
    }
    linux_size = 16;
}

/// Length of each `struct utsname` field (`__NEW_UTS_LEN + 1`).
pub const UTS_FIELD_LEN: usize = 65;

pod_struct! {
    /// `struct new_utsname` (`include/uapi/linux/utsname.h`), what `uname(2)` fills on arm64:
    /// six NUL-terminated 65-byte fields, 390 bytes.
    pub struct Utsname {
        pub sysname: [u8; UTS_FIELD_LEN],
        pub nodename: [u8; UTS_FIELD_LEN],
        pub release: [u8; UTS_FIELD_LEN],
        pub version: [u8; UTS_FIELD_LEN],
        pub machine: [u8; UTS_FIELD_LEN],
        pub domainname: [u8; UTS_FIELD_LEN],
    }
    linux_size = 390;
}

impl Utsname {
    /// Builds the structure from strings, each truncated to 64 bytes so a NUL always follows
    /// (the kernel's `utsname` strings are NUL-terminated within the field).
    pub fn new(
        sysname: &str,
        nodename: &str,
        release: &str,
        version: &str,
        machine: &str,
        domainname: &str,
    ) -> Utsname {
        fn field(s: &str) -> [u8; UTS_FIELD_LEN] {
            let mut f = [0u8; UTS_FIELD_LEN];
            let n = s.len().min(UTS_FIELD_LEN - 1);
            f[..n].copy_from_slice(&s.as_bytes()[..n]);
            f
        }
        Utsname {
            sysname: field(sysname),
            nodename: field(nodename),
            release: field(release),
            version: field(version),
            machine: field(machine),
            domainname: field(domainname),
        }
    }
}

pod_struct! {
    /// arm64's `struct stat` = asm-generic's (`include/uapi/asm-generic/stat.h`), filled by
    /// `fstat(2)` and `newfstatat(2)`: 128 bytes. Offsets (checked against the cross headers):
    /// st_rdev 32, st_size 48, st_blksize 56, st_atime 72.
    #[derive(Default)]
    pub struct Stat {
        pub st_dev: u64,
        pub st_ino: u64,
        pub st_mode: u32,
        pub st_nlink: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub st_rdev: u64,
        pub __pad1: u64,
        pub st_size: i64,
        pub st_blksize: i32,
        pub __pad2: i32,
        pub st_blocks: i64,
        pub st_atime: i64,
        pub st_atime_nsec: u64,
        pub st_mtime: i64,
        pub st_mtime_nsec: u64,
        pub st_ctime: i64,
        pub st_ctime_nsec: u64,
        pub __unused4: u32,
        pub __unused5: u32,
    }
    linux_size = 128;
}

pod_struct! {
    /// arm64's `struct statfs` (asm-generic, with 64-bit words), filled by `statfs(2)` and
    /// `fstatfs(2)`: 120 bytes.
    #[derive(Default)]
    pub struct Statfs {
        pub f_type: i64,
        pub f_bsize: i64,
        pub f_blocks: u64,
        pub f_bfree: u64,
        pub f_bavail: u64,
        pub f_files: u64,
        pub f_ffree: u64,
        pub f_fsid: [i32; 2],
        pub f_namelen: i64,
        pub f_frsize: i64,
        pub f_flags: i64,
        pub f_spare: [i64; 4],
    }
    linux_size = 120;
}

pod_struct! {
    /// `struct statx` (`include/uapi/linux/stat.h`), filled by `statx(2)`: 256 bytes. Each
    /// `struct statx_timestamp` is spelled out as seconds, nanoseconds and its reserved word.
    #[derive(Default)]
    pub struct Statx {
        pub stx_mask: u32,
        pub stx_blksize: u32,
        pub stx_attributes: u64,
        pub stx_nlink: u32,
        pub stx_uid: u32,
        pub stx_gid: u32,
        pub stx_mode: u16,
        pub __spare0: u16,
        pub stx_ino: u64,
        pub stx_size: u64,
        pub stx_blocks: u64,
        pub stx_attributes_mask: u64,
        pub stx_atime_sec: i64,
        pub stx_atime_nsec: u32,
        pub __atime_reserved: i32,
        pub stx_btime_sec: i64,
        pub stx_btime_nsec: u32,
        pub __btime_reserved: i32,
        pub stx_ctime_sec: i64,
        pub stx_ctime_nsec: u32,
        pub __ctime_reserved: i32,
        pub stx_mtime_sec: i64,
        pub stx_mtime_nsec: u32,
        pub __mtime_reserved: i32,
        pub stx_rdev_major: u32,
        pub stx_rdev_minor: u32,
        pub stx_dev_major: u32,
        pub stx_dev_minor: u32,
        pub stx_mnt_id: u64,
        pub stx_dio_mem_align: u32,
        pub stx_dio_offset_align: u32,
        pub __spare3: [u64; 12],
    }
    linux_size = 256;
}

/// `st_mode` file-type bits (`include/uapi/linux/stat.h`).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFDIR: u32 = 0o040000;

pod_struct! {
    /// `struct rusage` (`include/uapi/linux/resource.h`): two timevals and 14 longs, 144 bytes.
    #[derive(Default)]
    pub struct Rusage {
        pub ru_utime: Timeval,
        pub ru_stime: Timeval,
        pub ru_maxrss: i64,
        pub ru_ixrss: i64,
        pub ru_idrss: i64,
        pub ru_isrss: i64,
        pub ru_minflt: i64,
        pub ru_majflt: i64,
        pub ru_nswap: i64,
        pub ru_inblock: i64,
        pub ru_oublock: i64,
        pub ru_msgsnd: i64,
        pub ru_msgrcv: i64,
        pub ru_nsignals: i64,
        pub ru_nvcsw: i64,
        pub ru_nivcsw: i64,
    }
    linux_size = 144;
}

pod_struct! {
    /// `struct sysinfo` (`include/uapi/linux/sysinfo.h`): 112 bytes on arm64. The C structure has
    /// 4 bytes of implicit padding after `pad` (so `totalhigh` is at 88) and 4 at the end (the
    /// `_f` array is empty on 64-bit); both are explicit here.
    #[derive(Default)]
    pub struct Sysinfo {
        pub uptime: i64,
        pub loads: [u64; 3],
        pub totalram: u64,
        pub freeram: u64,
        pub sharedram: u64,
        pub bufferram: u64,
        pub totalswap: u64,
        pub freeswap: u64,
        pub procs: u16,
        pub pad: u16,
        pub __pad_align: u32,
        pub totalhigh: u64,
        pub freehigh: u64,
        pub mem_unit: u32,
        pub __pad_end: u32,
    }
    linux_size = 112;
}

pod_struct! {
    /// `struct iovec` (`include/uapi/linux/uio.h`), the elements of `writev(2)`'s array: 16 bytes.
    #[derive(Default)]
    pub struct Iovec {
        pub iov_base: u64,
        pub iov_len: u64,
    }
    linux_size = 16;
}

/// `UIO_MAXIOV`: `writev(2)` with more elements fails with `EINVAL`.
pub const UIO_MAXIOV: usize = 1024;

pod_struct! {
    /// The `struct sigaction` the raw `rt_sigaction(2)` syscall reads and writes on arm64
    /// (`include/uapi/asm-generic/signal.h` with `SA_RESTORER` defined): handler, flags, restorer,
    /// mask; 32 bytes. Not glibc's `struct sigaction`, whose mask is 128 bytes.
    #[derive(Default)]
    pub struct SigAction {
        pub sa_handler: u64,
        pub sa_flags: u64,
        pub sa_restorer: u64,
        pub sa_mask: u64,
    }
    linux_size = 32;
}

pod_struct! {
    /// `stack_t` (`include/uapi/asm-generic/signal.h` `struct sigaltstack`), used by
    /// `sigaltstack(2)` and as `uc_stack` in the signal frame: 24 bytes, `ss_flags` at 8,
    /// `ss_size` at 16.
    #[derive(Default)]
    pub struct StackT {
        pub ss_sp: u64,
        pub ss_flags: i32,
        pub __pad: u32,
        pub ss_size: u64,
    }
    linux_size = 24;
}

/// Number of control characters in the kernel's `struct termios` (`NCCS`).
pub const NCCS: usize = 19;

pod_struct! {
    /// The kernel's `struct termios` (`include/uapi/asm-generic/termbits.h`), what `TCGETS`
    /// returns: 36 bytes, `c_line` at 16, `c_cc` at 17. glibc's user-level `struct termios` is
    /// larger (it adds speeds) and converts from this one.
    #[derive(Default)]
    pub struct Termios {
        pub c_iflag: u32,
        pub c_oflag: u32,
        pub c_cflag: u32,
        pub c_lflag: u32,
        pub c_line: u8,
        pub c_cc: [u8; NCCS],
    }
    linux_size = 36;
}

/// `ioctl` requests on terminals (`include/uapi/asm-generic/ioctls.h`).
pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;

// termbits flag values used by `Termios::linux_default`.
const ICRNL: u32 = 0x100;
const IXON: u32 = 0x400;
const OPOST: u32 = 0x1;
const ONLCR: u32 = 0x4;
const B38400: u32 = 0xf;
const CS8: u32 = 0x30;
const CREAD: u32 = 0x80;
const HUPCL: u32 = 0x400;
const ISIG: u32 = 0x1;
const ICANON: u32 = 0x2;
const ECHO: u32 = 0x8;
const ECHOE: u32 = 0x10;
const ECHOK: u32 = 0x20;
const ECHOCTL: u32 = 0x200;
const ECHOKE: u32 = 0x800;
const IEXTEN: u32 = 0x8000;

impl Termios {
    /// A freshly opened Linux tty's settings (`drivers/tty/tty_io.c` `tty_std_termios`, with
    /// `INIT_C_CC` from `include/linux/tty.h`), so programs that query the console see a normal
    /// terminal: cooked mode, echo, CR/NL mapping, ^C/^\/^Z/^D where a shell user expects them.
    pub const fn linux_default() -> Termios {
        Termios {
            c_iflag: ICRNL | IXON,
            c_oflag: OPOST | ONLCR,
            c_cflag: B38400 | CS8 | CREAD | HUPCL,
            c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            c_line: 0,
            // VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D, VTIME 0, VMIN 1, VSWTC 0,
            // VSTART ^Q, VSTOP ^S, VSUSP ^Z, VEOL 0, VREPRINT ^R, VDISCARD ^O, VWERASE ^W,
            // VLNEXT ^V, VEOL2 0.
            c_cc: [
                3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
            ],
        }
    }
}

pod_struct! {
    /// `struct winsize` (`include/uapi/asm-generic/termios.h`), what `TIOCGWINSZ` returns; musl's
    /// `isatty` issues that ioctl: 8 bytes.
    #[derive(Default)]
    pub struct Winsize {
        pub ws_row: u16,
        pub ws_col: u16,
        pub ws_xpixel: u16,
        pub ws_ypixel: u16,
    }
    linux_size = 8;
}

/// Measures C layouts on the real target: compiles a program with `aarch64-linux-gnu-gcc -static`
/// and runs it under `qemu-aarch64` (Debian `gcc-aarch64-linux-gnu`, `qemu-user`). The program
/// prints `name value` lines. A missing tool fails the test under `CI=true` (where
/// `scripts/setup` must have installed it) and elsewhere returns `None` after saying on stderr
/// that the check was skipped.
#[cfg(any(test, feature = "probe"))]
pub fn c_probe(tag: &str, body: &str) -> Option<alloc::vec::Vec<(alloc::string::String, u64)>> {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("tidemark-probe-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("probe.c");
    let bin = dir.join("probe");
    let program = format!(
        "#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n#include <signal.h>\n\
         #include <sys/stat.h>\n#include <sys/statfs.h>\n#include <sys/resource.h>\n#include <sys/sysinfo.h>\n\
         #include <sys/utsname.h>\n#include <sys/uio.h>\n#include <asm/sigcontext.h>\n\
         #include <asm/termbits.h>\n#define P(n, x) printf(\"%s %lu\\n\", n, (unsigned long)(x))\n\
         {body}\n"
    );
    std::fs::write(&src, program).ok()?;
    let missing = |tool: &str| {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "{tool} is missing under CI=true: the layout check {tag} cannot run"
        );
        std::eprintln!("SKIPPED: layout check {tag}: {tool} is missing (run scripts/setup)");
    };
    let Ok(built) = Command::new("aarch64-linux-gnu-gcc")
        .args(["-static", "-O0", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
    else {
        missing("aarch64-linux-gnu-gcc");
        return None;
    };
    assert!(
        built.status.success(),
        "probe program failed to compile:\n{}",
        alloc::string::String::from_utf8_lossy(&built.stderr)
    );
    let Ok(out) = Command::new("qemu-aarch64").arg(&bin).output() else {
        missing("qemu-aarch64");
        return None;
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "probe program failed under qemu-aarch64"
    );
    let text = alloc::string::String::from_utf8(out.stdout).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.into(), v.parse().ok()?))
            })
            .collect(),
    )
}

// The ELF core file (`include/uapi/linux/elf.h`, `elfcore.h`; arm64's `elf_gregset_t` and
// `user_fpsimd_state`), as `fs/binfmt_elf.c`'s `elf_core_dump` writes it.

/// `e_type` of a core file.
pub const ET_CORE: u16 = 4;
/// `e_machine` of arm64.
pub const EM_AARCH64: u16 = 183;
/// Program header types.
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
/// Segment permissions.
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
/// Note types: the "CORE" ones, then the "LINUX" one.
pub const NT_PRSTATUS: u32 = 1;
pub const NT_PRFPREG: u32 = 2;
pub const NT_PRPSINFO: u32 = 3;
pub const NT_SIGINFO: u32 = 0x5349_4749;
pub const NT_FILE: u32 = 0x4649_4c45;
pub const NT_ARM_TLS: u32 = 0x401;

pod_struct! {
    /// `Elf64_Ehdr`: 64 bytes.
    pub struct Elf64Ehdr {
        pub e_ident: [u8; 16],
        pub e_type: u16,
        pub e_machine: u16,
        pub e_version: u32,
        pub e_entry: u64,
        pub e_phoff: u64,
        pub e_shoff: u64,
        pub e_flags: u32,
        pub e_ehsize: u16,
        pub e_phentsize: u16,
        pub e_phnum: u16,
        pub e_shentsize: u16,
        pub e_shnum: u16,
        pub e_shstrndx: u16,
    }
    linux_size = 64;
}

pod_struct! {
    /// `Elf64_Phdr`: 56 bytes.
    pub struct Elf64Phdr {
        pub p_type: u32,
        pub p_flags: u32,
        pub p_offset: u64,
        pub p_vaddr: u64,
        pub p_paddr: u64,
        pub p_filesz: u64,
        pub p_memsz: u64,
        pub p_align: u64,
    }
    linux_size = 56;
}

pod_struct! {
    /// `Elf64_Nhdr`: a note's header, before its name and description (each padded to 4 bytes).
    pub struct Elf64Nhdr {
        pub n_namesz: u32,
        pub n_descsz: u32,
        pub n_type: u32,
    }
    linux_size = 12;
}

pod_struct! {
    /// `struct elf_prstatus` on arm64: the signal, the ids and times (`elf_prstatus_common`),
    /// then the registers (`user_pt_regs`: x0-x30, sp, pc, pstate), 392 bytes.
    pub struct ElfPrstatus {
        pub si_signo: i32,
        pub si_code: i32,
        pub si_errno: i32,
        pub pr_cursig: u16,
        pub pad0: u16,
        pub pr_sigpend: u64,
        pub pr_sighold: u64,
        pub pr_pid: i32,
        pub pr_ppid: i32,
        pub pr_pgrp: i32,
        pub pr_sid: i32,
        /// `pr_utime`, `pr_stime`, `pr_cutime`, `pr_cstime`: seconds and microseconds each.
        pub pr_times: [i64; 8],
        pub pr_reg: [u64; 34],
        pub pr_fpvalid: i32,
        pub pad1: i32,
    }
    linux_size = 392;
}

pod_struct! {
    /// `struct elf_prpsinfo`: the process's state, ids and names, 136 bytes.
    pub struct ElfPrpsinfo {
        pub pr_state: u8,
        pub pr_sname: u8,
        pub pr_zomb: u8,
        pub pr_nice: u8,
        pub pad0: u32,
        pub pr_flag: u64,
        pub pr_uid: u32,
        pub pr_gid: u32,
        pub pr_pid: i32,
        pub pr_ppid: i32,
        pub pr_pgrp: i32,
        pub pr_sid: i32,
        pub pr_fname: [u8; 16],
        pub pr_psargs: [u8; 80],
    }
    linux_size = 136;
}

pod_struct! {
    /// `struct user_fpsimd_state`: the vector registers, FPSR and FPCR, 528 bytes.
    pub struct UserFpsimdState {
        pub vregs: [u128; 32],
        pub fpsr: u32,
        pub fpcr: u32,
        pub reserved: [u32; 2],
    }
    linux_size = 528;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    /// Offsets measured from the cross headers with `offsetof` (aarch64-linux-gnu-gcc, run under
    /// qemu-aarch64); sizes are asserted at compile time next to each declaration.
    #[test]
    fn field_offsets_match_arm64_linux() {
        assert_eq!(offset_of!(Stat, st_rdev), 32);
        assert_eq!(offset_of!(Stat, st_size), 48);
        assert_eq!(offset_of!(Stat, st_blksize), 56);
        assert_eq!(offset_of!(Stat, st_atime), 72);
        assert_eq!(offset_of!(Sysinfo, procs), 80);
        assert_eq!(offset_of!(Sysinfo, totalhigh), 88);
        assert_eq!(offset_of!(Sysinfo, mem_unit), 104);
        assert_eq!(offset_of!(StackT, ss_flags), 8);
        assert_eq!(offset_of!(StackT, ss_size), 16);
        assert_eq!(offset_of!(Termios, c_line), 16);
        assert_eq!(offset_of!(Termios, c_cc), 17);
        assert_eq!(offset_of!(SigAction, sa_restorer), 16);
        assert_eq!(offset_of!(SigAction, sa_mask), 24);
        assert_eq!(offset_of!(Rusage, ru_maxrss), 32);
    }

    #[test]
    fn bytes_round_trip() {
        let st = StackT {
            ss_sp: 0x1234_5678_9abc,
            ss_flags: 2,
            __pad: 0,
            ss_size: 8192,
        };
        let b = st.as_bytes();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[0..8], &0x1234_5678_9abcu64.to_le_bytes());
        assert_eq!(&b[8..12], &2i32.to_le_bytes());
        assert_eq!(StackT::from_bytes(b), Some(st));
        // Unaligned source and short input.
        let mut buf = [0u8; 25];
        buf[1..].copy_from_slice(b);
        assert_eq!(StackT::from_bytes(&buf[1..]), Some(st));
        assert_eq!(StackT::from_bytes(&b[..23]), None);
    }

    #[test]
    fn utsname_fields_are_nul_terminated() {
        let long = "x".repeat(100);
        let u = Utsname::new("Linux", &long, "6.1.0", "#1", "aarch64", "(none)");
        assert_eq!(&u.sysname[..6], b"Linux\0");
        assert_eq!(u.nodename[63], b'x');
        assert_eq!(u.nodename[64], 0);
        assert_eq!(&u.as_bytes()[4 * 65..4 * 65 + 8], b"aarch64\0");
    }

    #[test]
    fn termios_default_is_cooked_tty() {
        let t = Termios::linux_default();
        assert_eq!(t.c_cc[0], 3); // VINTR = ^C
        assert_eq!(t.c_cc[6], 1); // VMIN
        assert_eq!(t.c_lflag & ICANON, ICANON);
        assert_eq!(t.as_bytes().len(), 36);
    }

    #[test]
    fn timespec_validation() {
        assert_eq!(
            Timespec {
                tv_sec: 1,
                tv_nsec: 5
            }
            .as_nanos(),
            Some(1_000_000_005)
        );
        assert_eq!(
            Timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000
            }
            .as_nanos(),
            None
        );
        assert_eq!(
            Timespec {
                tv_sec: -1,
                tv_nsec: 0
            }
            .as_nanos(),
            None
        );
        assert_eq!(
            Timespec::from_nanos(2_500_000_000),
            Timespec {
                tv_sec: 2,
                tv_nsec: 500_000_000
            }
        );
        assert_eq!(
            Timeval::from_nanos(2_500_000_999),
            Timeval {
                tv_sec: 2,
                tv_usec: 500_000
            }
        );
    }

    /// The same sizes and offsets, measured live from the cross headers when the tools exist.
    #[test]
    fn layouts_match_cross_headers() {
        let body = r#"
            struct k_sigaction { void *h; unsigned long f; void *r; unsigned long m; };
            int main(void) {
                P("timespec", sizeof(struct timespec)); P("timeval", sizeof(struct timeval));
                P("rlimit", sizeof(struct rlimit)); P("utsname", sizeof(struct utsname));
                P("stat", sizeof(struct stat)); P("stat.st_size", offsetof(struct stat, st_size));
                P("stat.st_blksize", offsetof(struct stat, st_blksize));
                P("stat.st_atime", offsetof(struct stat, st_atim));
                P("rusage", sizeof(struct rusage)); P("sysinfo", sizeof(struct sysinfo));
                P("sysinfo.totalhigh", offsetof(struct sysinfo, totalhigh));
                P("sysinfo.mem_unit", offsetof(struct sysinfo, mem_unit));
                P("iovec", sizeof(struct iovec)); P("stack_t", sizeof(stack_t));
                P("stack_t.ss_size", offsetof(stack_t, ss_size));
                P("termios", sizeof(struct termios)); P("termios.c_cc", offsetof(struct termios, c_cc));
                P("k_sigaction", sizeof(struct k_sigaction));
                P("statfs", sizeof(struct statfs)); P("statx", sizeof(struct statx));
                P("statx.stx_rdev_major", offsetof(struct statx, stx_rdev_major));
                return 0;
            }"#;
        let Some(m) = c_probe("abi", body) else {
            return;
        };
        let want: &[(&str, usize)] = &[
            ("timespec", size_of::<Timespec>()),
            ("timeval", size_of::<Timeval>()),
            ("rlimit", size_of::<Rlimit>()),
            ("utsname", size_of::<Utsname>()),
            ("stat", size_of::<Stat>()),
            ("stat.st_size", offset_of!(Stat, st_size)),
            ("stat.st_blksize", offset_of!(Stat, st_blksize)),
            ("stat.st_atime", offset_of!(Stat, st_atime)),
            ("rusage", size_of::<Rusage>()),
            ("sysinfo", size_of::<Sysinfo>()),
            ("sysinfo.totalhigh", offset_of!(Sysinfo, totalhigh)),
            ("sysinfo.mem_unit", offset_of!(Sysinfo, mem_unit)),
            ("iovec", size_of::<Iovec>()),
            ("stack_t", size_of::<StackT>()),
            ("stack_t.ss_size", offset_of!(StackT, ss_size)),
            ("termios", size_of::<Termios>()),
            ("termios.c_cc", offset_of!(Termios, c_cc)),
            ("k_sigaction", size_of::<SigAction>()),
            ("statfs", size_of::<Statfs>()),
            ("statx", size_of::<Statx>()),
            ("statx.stx_rdev_major", offset_of!(Statx, stx_rdev_major)),
        ];
        assert_eq!(m.len(), want.len());
        for (&(name, ours), (cname, theirs)) in want.iter().zip(&m) {
            assert_eq!(name, cname);
            assert_eq!(ours as u64, *theirs, "{name}");
        }
    }
}
