//! procfs: a directory per process (`/proc/<pid>` with `maps`, `status`, `stat`, `statm`,
//! `smaps_rollup`, `cmdline`, `environ`, `comm`, `mounts`, the `exe` and `cwd` links, `fd/` and
//! `task/`), `/proc/self`, the system-wide files (`meminfo`, `cpuinfo`, `mounts`, `stat`,
//! `uptime`, `loadavg`, `version`, `cmdline`, `filesystems`) and a few of `/proc/sys`.
//!
//! The VFS walks the tree one component at a time through [`child`]; what a file says comes from
//! the kernel through [`ProcSource`] when the file is opened, and reads come from that snapshot,
//! which is what a `seq_file` read from offset 0 sees.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use tidemark_abi::errno::{self, Errno};

/// `NAME_MAX`: a single path component longer than this is `ENAMETOOLONG`.
pub const NAME_MAX: usize = 255;

/// A file in a process's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcFile {
    /// `maps` (`show_map` in fs/proc/task_mmu.c).
    Maps,
    /// `status` (`proc_pid_status` in fs/proc/array.c).
    Status,
    /// `stat` (`do_task_stat` in fs/proc/array.c); see [`StatFields`].
    Stat,
    /// `statm` (`proc_pid_statm`): sizes in pages.
    Statm,
    /// `smaps_rollup` (`show_smaps_rollup` in fs/proc/task_mmu.c): every VMA's `smaps` figures
    /// summed, with the proportional set size split into anonymous, file and shared memory.
    SmapsRollup,
    /// `cmdline`: the argument strings, each with its NUL.
    Cmdline,
    /// `environ`: the environment strings.
    Environ,
    /// `comm`: the task's name and a newline.
    Comm,
    /// `mounts`: the mount table (`/proc/mounts` links here).
    Mounts,
    /// `smaps` (`show_smap`): each VMA's maps line, what of it is resident, shared or private,
    /// anonymous and locked, its proportional share, and its flags.
    Smaps,
    /// `pagemap` (`pagemap_read`): binary, 8 bytes per virtual page, read a window at a time
    /// ([`tidemark_mm::pagemap`]).
    Pagemap,
    /// `coredump_filter`: which memory a core dump holds, in hexadecimal; writable.
    CoredumpFilter,
}

impl ProcFile {
    /// The name in the pid directory.
    pub const fn name(self) -> &'static str {
        match self {
            ProcFile::Maps => "maps",
            ProcFile::Status => "status",
            ProcFile::Stat => "stat",
            ProcFile::Statm => "statm",
            ProcFile::SmapsRollup => "smaps_rollup",
            ProcFile::Cmdline => "cmdline",
            ProcFile::Environ => "environ",
            ProcFile::Comm => "comm",
            ProcFile::Mounts => "mounts",
            ProcFile::Smaps => "smaps",
            ProcFile::Pagemap => "pagemap",
            ProcFile::CoredumpFilter => "coredump_filter",
        }
    }

    pub const ALL: [ProcFile; 12] = [
        ProcFile::Maps,
        ProcFile::Status,
        ProcFile::Stat,
        ProcFile::Statm,
        ProcFile::SmapsRollup,
        ProcFile::Cmdline,
        ProcFile::Environ,
        ProcFile::Comm,
        ProcFile::Mounts,
        ProcFile::Smaps,
        ProcFile::Pagemap,
        ProcFile::CoredumpFilter,
    ];

    /// `environ` and `pagemap` are private to the process's owner (mode 0400 on Linux);
    /// `coredump_filter` may be written.
    pub const fn mode(self) -> u32 {
        match self {
            ProcFile::Environ | ProcFile::Pagemap => 0o400,
            ProcFile::CoredumpFilter => 0o644,
            _ => 0o444,
        }
    }
}

/// A file at the top of /proc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlobalFile {
    Meminfo,
    Cpuinfo,
    Stat,
    Uptime,
    Loadavg,
    Version,
    Cmdline,
    Filesystems,
}

impl GlobalFile {
    pub const fn name(self) -> &'static str {
        match self {
            GlobalFile::Meminfo => "meminfo",
            GlobalFile::Cpuinfo => "cpuinfo",
            GlobalFile::Stat => "stat",
            GlobalFile::Uptime => "uptime",
            GlobalFile::Loadavg => "loadavg",
            GlobalFile::Version => "version",
            GlobalFile::Cmdline => "cmdline",
            GlobalFile::Filesystems => "filesystems",
        }
    }

    pub const ALL: [GlobalFile; 8] = [
        GlobalFile::Meminfo,
        GlobalFile::Cpuinfo,
        GlobalFile::Stat,
        GlobalFile::Uptime,
        GlobalFile::Loadavg,
        GlobalFile::Version,
        GlobalFile::Cmdline,
        GlobalFile::Filesystems,
    ];
}

/// A directory of `/proc/sys`, or `/proc/sysvipc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysDir {
    Sys,
    Kernel,
    Vm,
    Sysvipc,
}

/// A file of `/proc/sys` (read-only here but `core_pattern`: the kernel's other values are
/// fixed), or of `/proc/sysvipc` (the System V IPC tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysFile {
    PidMax,
    Tainted,
    Osrelease,
    Ostype,
    Hostname,
    OvercommitMemory,
    MaxMapCount,
    MmapMinAddr,
    IpcShm,
    IpcMsg,
    IpcSem,
    CorePattern,
}

impl SysFile {
    pub const ALL: [SysFile; 12] = [
        SysFile::PidMax,
        SysFile::Tainted,
        SysFile::Osrelease,
        SysFile::Ostype,
        SysFile::Hostname,
        SysFile::OvercommitMemory,
        SysFile::MaxMapCount,
        SysFile::MmapMinAddr,
        SysFile::IpcShm,
        SysFile::IpcMsg,
        SysFile::IpcSem,
        SysFile::CorePattern,
    ];

    /// Root may write `core_pattern`; the rest is read-only.
    pub const fn mode(self) -> u32 {
        match self {
            SysFile::CorePattern => 0o644,
            _ => 0o444,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            SysFile::PidMax => "pid_max",
            SysFile::Tainted => "tainted",
            SysFile::Osrelease => "osrelease",
            SysFile::Ostype => "ostype",
            SysFile::Hostname => "hostname",
            SysFile::OvercommitMemory => "overcommit_memory",
            SysFile::MaxMapCount => "max_map_count",
            SysFile::MmapMinAddr => "mmap_min_addr",
            SysFile::IpcShm => "shm",
            SysFile::IpcMsg => "msg",
            SysFile::IpcSem => "sem",
            SysFile::CorePattern => "core_pattern",
        }
    }

    pub const fn dir(self) -> SysDir {
        match self {
            SysFile::OvercommitMemory | SysFile::MaxMapCount | SysFile::MmapMinAddr => SysDir::Vm,
            SysFile::IpcShm | SysFile::IpcMsg | SysFile::IpcSem => SysDir::Sysvipc,
            _ => SysDir::Kernel,
        }
    }
}

/// A symbolic link in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcLink {
    /// `/proc/self` → `<pid>` (`proc_self_get_link`).
    SelfLink,
    /// `/proc/mounts` → `self/mounts`.
    Mounts,
    /// `/proc/<pid>/exe` → the executable's path (`proc_exe_link`).
    Exe(i32),
    /// `/proc/<pid>/cwd` → the working directory.
    Cwd(i32),
    /// `/proc/<pid>/fd/<n>` → what the descriptor is open on.
    Fd(i32, u32),
}

/// Every name the tree has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// `/proc`, procfs's root.
    ProcDir,
    /// `/proc/<pid>` (also `/proc/<pid>/task/<pid>`: one thread per process).
    PidDir(i32),
    /// `/proc/<pid>/task`.
    TaskDir(i32),
    /// `/proc/<pid>/fd`.
    FdDir(i32),
    File(i32, ProcFile),
    Global(GlobalFile),
    SysDir(SysDir),
    Sys(SysFile),
    Link(ProcLink),
}

impl Node {
    pub const fn is_dir(self) -> bool {
        matches!(
            self,
            Node::ProcDir | Node::PidDir(_) | Node::TaskDir(_) | Node::FdDir(_) | Node::SysDir(_)
        )
    }

    /// `..` inside procfs; `..` of [`Node::ProcDir`] leaves the mount, which the VFS handles.
    pub const fn parent(self) -> Node {
        match self {
            Node::TaskDir(p) | Node::FdDir(p) | Node::File(p, _) => Node::PidDir(p),
            Node::Link(ProcLink::Exe(p) | ProcLink::Cwd(p)) => Node::PidDir(p),
            Node::Link(ProcLink::Fd(p, _)) => Node::FdDir(p),
            Node::SysDir(SysDir::Kernel | SysDir::Vm) => Node::SysDir(SysDir::Sys),
            Node::Sys(f) => Node::SysDir(f.dir()),
            _ => Node::ProcDir,
        }
    }

    /// An inode number, stable for the node (`st_ino`).
    pub fn ino(self) -> u64 {
        let pid = |p: i32| (p as u32 as u64) << 16;
        match self {
            Node::ProcDir => 1,
            Node::PidDir(p) => pid(p) | 1,
            Node::TaskDir(p) => pid(p) | 2,
            Node::FdDir(p) => pid(p) | 3,
            Node::File(p, f) => pid(p) | 0x10 | f as u64,
            Node::Link(ProcLink::Exe(p)) => pid(p) | 4,
            Node::Link(ProcLink::Cwd(p)) => pid(p) | 5,
            Node::Link(ProcLink::Fd(p, n)) => pid(p) | 0x8000 | (n as u64 & 0x7fff),
            Node::Link(ProcLink::SelfLink) => 0x100,
            Node::Link(ProcLink::Mounts) => 0x101,
            Node::Global(g) => 0x200 | g as u64,
            Node::SysDir(d) => 0x300 | d as u64,
            Node::Sys(f) => 0x400 | f as u64,
        }
    }

    /// Whether the node is a file that may be written: by root, and a process's own by the
    /// process itself.
    pub const fn writable(self) -> bool {
        match self {
            Node::File(_, f) => f.mode() & 0o200 != 0,
            Node::Sys(f) => f.mode() & 0o200 != 0,
            _ => false,
        }
    }

    /// The process whose directory holds the node, if any.
    pub const fn pid(self) -> Option<i32> {
        match self {
            Node::PidDir(p) | Node::TaskDir(p) | Node::FdDir(p) | Node::File(p, _) => Some(p),
            Node::Link(ProcLink::Exe(p) | ProcLink::Cwd(p) | ProcLink::Fd(p, _)) => Some(p),
            _ => None,
        }
    }
}

/// What the kernel tells procfs. The kernel implements it over its process table; tests use a
/// fake.
pub trait ProcSource {
    /// The caller's pid (`tgid`), where `/proc/self` points.
    fn pid(&self) -> i32;
    /// Every process, in ascending order (zombies included: their directories stay until they
    /// are reaped, as on Linux).
    fn pids(&self) -> Vec<i32>;
    /// The open descriptors of `pid`, ascending.
    fn fds(&self, pid: i32) -> Vec<u32>;
    /// Appends the whole text of a file, as a read from offset 0 to EOF would return it;
    /// `ESRCH` if its process is gone.
    fn render(&self, node: Node, out: &mut String) -> Result<(), Errno>;
    /// The `pagemap` entries of process `pid` from page number `first` on, as many as `out`
    /// holds; `show_pfn`: with frame numbers.
    fn pagemap(&self, pid: i32, first: usize, out: &mut [u64], show_pfn: bool)
        -> Result<(), Errno>;
    /// The target of a link other than `self` and `mounts`.
    fn link(&self, link: ProcLink) -> Result<String, Errno>;
    /// The caller's RLIMIT_FSIZE (soft), in bytes: no write or truncation takes a regular file
    /// past it (`EFBIG_XFSZ`). Asked for only when a regular file would grow.
    fn rlimit_fsize(&self) -> u64 {
        u64::MAX
    }
    /// A write to one of the writable files ([`Node::writable`]): how much was taken.
    fn write(&self, _node: Node, _data: &[u8]) -> Result<usize, Errno> {
        Err(errno::EINVAL)
    }
    /// What a magic link (`fd/N`, `cwd`) leads to when followed: the open file's own place in
    /// the tree, reached even after it was renamed or removed (Linux's `nd_jump_link`). `None`
    /// for what has no place (an anonymous pipe, the console): the link's text is then walked.
    fn link_loc(&self, _link: ProcLink) -> Option<super::vfs::Loc> {
        None
    }
    /// Whether task `pid` shares the caller's descriptor table (`CLONE_FILES`): a file call
    /// holds the caller's, and its walker answers for `pid` from it.
    fn shares_files(&self, _pid: i32) -> bool {
        false
    }
    /// Whether task `pid` shares the caller's working directory (`CLONE_FS`), likewise.
    fn shares_fs(&self, _pid: i32) -> bool {
        false
    }
    /// The cores the kernel runs on.
    fn cpus(&self) -> usize {
        1
    }
    /// The threads of process `pid`, ascending (`/proc/PID/task/`).
    fn threads(&self, pid: i32) -> Vec<i32> {
        alloc::vec![pid]
    }
    /// Whether `pid` names a live process or thread: a thread has a directory of its own too,
    /// though only processes are listed.
    fn exists(&self, pid: i32) -> bool {
        self.pids().contains(&pid)
    }
}

/// `name_to_int`: canonical decimal only (no sign, no leading zero).
fn name_to_int(name: &[u8]) -> Option<u32> {
    if name.is_empty() || name.len() > 10 || (name[0] == b'0' && name.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as u64;
    }
    u32::try_from(v).ok()
}

/// `d_lookup` in one directory.
pub fn child(dir: Node, name: &[u8], src: &dyn ProcSource) -> Result<Node, Errno> {
    let live = |p: i32| src.exists(p);
    match dir {
        Node::ProcDir => match name {
            b"self" => Ok(Node::Link(ProcLink::SelfLink)),
            b"mounts" => Ok(Node::Link(ProcLink::Mounts)),
            b"sys" => Ok(Node::SysDir(SysDir::Sys)),
            b"sysvipc" => Ok(Node::SysDir(SysDir::Sysvipc)),
            _ => {
                if let Some(g) = GlobalFile::ALL
                    .into_iter()
                    .find(|g| g.name().as_bytes() == name)
                {
                    return Ok(Node::Global(g));
                }
                match name_to_int(name) {
                    Some(p) if p > 0 && live(p as i32) => Ok(Node::PidDir(p as i32)),
                    _ => Err(errno::ENOENT),
                }
            }
        },
        Node::PidDir(p) => {
            if !live(p) {
                return Err(errno::ENOENT);
            }
            match name {
                b"exe" => Ok(Node::Link(ProcLink::Exe(p))),
                b"cwd" => Ok(Node::Link(ProcLink::Cwd(p))),
                b"fd" => Ok(Node::FdDir(p)),
                b"task" => Ok(Node::TaskDir(p)),
                _ => ProcFile::ALL
                    .into_iter()
                    .find(|f| f.name().as_bytes() == name)
                    .map(|f| Node::File(p, f))
                    .ok_or(errno::ENOENT),
            }
        }
        Node::TaskDir(p) => match name_to_int(name) {
            Some(t) if src.threads(p).contains(&(t as i32)) => Ok(Node::PidDir(t as i32)),
            _ => Err(errno::ENOENT),
        },
        Node::FdDir(p) => match name_to_int(name) {
            Some(n) if src.fds(p).contains(&n) => Ok(Node::Link(ProcLink::Fd(p, n))),
            _ => Err(errno::ENOENT),
        },
        Node::SysDir(SysDir::Sys) => match name {
            b"kernel" => Ok(Node::SysDir(SysDir::Kernel)),
            b"vm" => Ok(Node::SysDir(SysDir::Vm)),
            _ => Err(errno::ENOENT),
        },
        Node::SysDir(d) => SysFile::ALL
            .into_iter()
            .find(|f| f.dir() == d && f.name().as_bytes() == name)
            .map(Node::Sys)
            .ok_or(errno::ENOENT),
        _ => Err(errno::ENOENT),
    }
}

/// The entries of a directory after `.` and `..`, in listing order: `(name, node)`.
pub fn entries(dir: Node, src: &dyn ProcSource) -> Vec<(String, Node)> {
    let mut v = Vec::new();
    match dir {
        Node::ProcDir => {
            for p in src.pids() {
                v.push((alloc::format!("{p}"), Node::PidDir(p)));
            }
            for g in GlobalFile::ALL {
                v.push((String::from(g.name()), Node::Global(g)));
            }
            v.push((String::from("mounts"), Node::Link(ProcLink::Mounts)));
            v.push((String::from("self"), Node::Link(ProcLink::SelfLink)));
            v.push((String::from("sys"), Node::SysDir(SysDir::Sys)));
            v.push((String::from("sysvipc"), Node::SysDir(SysDir::Sysvipc)));
        }
        Node::PidDir(p) => {
            v.push((String::from("task"), Node::TaskDir(p)));
            v.push((String::from("fd"), Node::FdDir(p)));
            v.push((String::from("exe"), Node::Link(ProcLink::Exe(p))));
            v.push((String::from("cwd"), Node::Link(ProcLink::Cwd(p))));
            for f in ProcFile::ALL {
                v.push((String::from(f.name()), Node::File(p, f)));
            }
        }
        Node::TaskDir(p) => {
            for t in src.threads(p) {
                v.push((alloc::format!("{t}"), Node::PidDir(t)));
            }
        }
        Node::FdDir(p) => {
            for n in src.fds(p) {
                v.push((alloc::format!("{n}"), Node::Link(ProcLink::Fd(p, n))));
            }
        }
        Node::SysDir(SysDir::Sys) => {
            v.push((String::from("kernel"), Node::SysDir(SysDir::Kernel)));
            v.push((String::from("vm"), Node::SysDir(SysDir::Vm)));
        }
        Node::SysDir(d) => {
            for f in SysFile::ALL.into_iter().filter(|f| f.dir() == d) {
                v.push((String::from(f.name()), Node::Sys(f)));
            }
        }
        _ => {}
    }
    v
}

/// The target text of a link, as `readlink(2)` returns it.
pub fn link_target(link: ProcLink, src: &dyn ProcSource) -> Result<String, Errno> {
    match link {
        ProcLink::SelfLink => Ok(alloc::format!("{}", src.pid())),
        ProcLink::Mounts => Ok(String::from("self/mounts")),
        other => src.link(other),
    }
}

/// Linux's names of the `AT_HWCAP` bits, in bit order (`hwcap_str` in arch/arm64/kernel/
/// cpuinfo.c), for the `Features` line of `/proc/cpuinfo`.
pub const HWCAP_NAMES: [&str; 32] = [
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
    "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4",
    "asimddp", "sha512", "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb",
    "paca", "pacg",
];

/// One core's block of `/proc/cpuinfo` (`c_show`).
pub fn write_cpuinfo<W: Write>(
    w: &mut W,
    cpu: usize,
    hwcap: u64,
    midr: u64,
    bogomips: u64,
) -> fmt::Result {
    writeln!(w, "processor\t: {cpu}")?;
    writeln!(w, "BogoMIPS\t: {}.{:02}", bogomips / 100, bogomips % 100)?;
    w.write_str("Features\t:")?;
    for (i, name) in HWCAP_NAMES.iter().enumerate() {
        if hwcap & (1 << i) != 0 {
            write!(w, " {name}")?;
        }
    }
    writeln!(w)?;
    writeln!(w, "CPU implementer\t: {:#04x}", (midr >> 24) & 0xff)?;
    writeln!(w, "CPU architecture: 8")?;
    writeln!(w, "CPU variant\t: {:#x}", (midr >> 20) & 0xf)?;
    writeln!(w, "CPU part\t: {:#05x}", (midr >> 4) & 0xfff)?;
    writeln!(w, "CPU revision\t: {}", midr & 0xf)?;
    writeln!(w)
}

/// What `/proc/meminfo` reports, in KiB (`meminfo_proc_show`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    /// Pages of tmpfs files: Linux counts shmem in both `Cached` and `Shmem`.
    pub shmem: u64,
    /// File and shared-memory pages mapped by some process (`NR_FILE_MAPPED`).
    pub mapped: u64,
    pub anon: u64,
    pub anon_huge: u64,
    pub mlocked: u64,
    pub page_tables: u64,
    pub kernel_stack: u64,
    pub slab: u64,
    pub commit_limit: u64,
    pub committed: u64,
    pub vmalloc_total: u64,
}

impl MemInfo {
    pub fn write<W: Write>(&self, w: &mut W) -> fmt::Result {
        let rows: [(&str, u64); 33] = [
            ("MemTotal:", self.total),
            ("MemFree:", self.free),
            ("MemAvailable:", self.available),
            ("Buffers:", 0),
            ("Cached:", self.shmem),
            ("SwapCached:", 0),
            ("Active:", self.anon + self.shmem),
            ("Inactive:", 0),
            ("Active(anon):", self.anon + self.shmem),
            ("Inactive(anon):", 0),
            ("Active(file):", 0),
            ("Inactive(file):", 0),
            ("Unevictable:", self.mlocked),
            ("Mlocked:", self.mlocked),
            ("SwapTotal:", 0),
            ("SwapFree:", 0),
            ("Dirty:", 0),
            ("Writeback:", 0),
            ("AnonPages:", self.anon),
            ("Mapped:", self.mapped),
            ("Shmem:", self.shmem),
            ("KReclaimable:", 0),
            ("Slab:", self.slab),
            ("SReclaimable:", 0),
            ("SUnreclaim:", self.slab),
            ("KernelStack:", self.kernel_stack),
            ("PageTables:", self.page_tables),
            ("CommitLimit:", self.commit_limit),
            ("Committed_AS:", self.committed),
            ("VmallocTotal:", self.vmalloc_total),
            ("VmallocUsed:", 0),
            ("AnonHugePages:", self.anon_huge),
            ("Hugepagesize:", 2048),
        ];
        for (name, kb) in rows {
            writeln!(w, "{name:<16}{kb:>8} kB")?;
        }
        Ok(())
    }
}

/// `TASK_COMM_LEN - 1`: the command name is at most 15 bytes.
pub const COMM_MAX: usize = 15;

/// The 52 fields of a `/proc/<pid>/stat` line, in proc(5) order, with the types Linux prints
/// them with (`do_task_stat`: `seq_put_decimal_ll` for the signed ones, `_ull` for the rest).
/// The kernel fills what it knows; [`StatFields::new`] sets the values Linux prints for a
/// single-threaded, never-scheduled-away process with default limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatFields {
    pub pid: i32,
    /// Up to [`COMM_MAX`] bytes are printed, unescaped, inside parentheses.
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// The controlling terminal's `new_encode_dev` number.
    pub tty_nr: i32,
    pub tpgid: i32,
    /// `task->flags` (`PF_*`).
    pub flags: u32,
    pub minflt: u64,
    pub cminflt: u64,
    pub majflt: u64,
    pub cmajflt: u64,
    /// Clock ticks (`USER_HZ` = 100).
    pub utime: u64,
    pub stime: u64,
    pub cutime: i64,
    pub cstime: i64,
    pub priority: i64,
    pub nice: i64,
    pub num_threads: i64,
    pub itrealvalue: i64,
    /// Clock ticks after boot.
    pub starttime: u64,
    /// Bytes.
    pub vsize: u64,
    /// Pages.
    pub rss: u64,
    /// Bytes (`RLIMIT_RSS` soft limit).
    pub rsslim: u64,
    pub startcode: u64,
    pub endcode: u64,
    pub startstack: u64,
    pub kstkesp: u64,
    pub kstkeip: u64,
    /// First word of the pending, blocked, ignored and caught signal sets.
    pub signal: u64,
    pub blocked: u64,
    pub sigignore: u64,
    pub sigcatch: u64,
    pub wchan: u64,
    pub nswap: u64,
    pub cnswap: u64,
    pub exit_signal: i64,
    pub processor: i64,
    pub rt_priority: u64,
    pub policy: u64,
    pub delayacct_blkio_ticks: u64,
    pub guest_time: u64,
    pub cguest_time: i64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub exit_code: i64,
}

/// `new_encode_dev(MKDEV(136, 0))`: `/dev/pts/0`, the terminal the console poses as.
pub const CONSOLE_TTY_NR: i32 = 136 << 8;

impl StatFields {
    /// A running (`R`) process `pid` that leads its own process group and session on the console
    /// terminal (so `tpgid` = `pid`), priority 20, nice 0, one thread, `exit_signal` SIGCHLD (17),
    /// no RSS limit; counters, times and addresses 0 for the kernel to fill.
    pub fn new(pid: i32, comm: &str) -> StatFields {
        StatFields {
            pid,
            comm: String::from(comm),
            state: 'R',
            ppid: 0,
            pgrp: pid,
            session: pid,
            tty_nr: CONSOLE_TTY_NR,
            tpgid: pid,
            flags: 0,
            minflt: 0,
            cminflt: 0,
            majflt: 0,
            cmajflt: 0,
            utime: 0,
            stime: 0,
            cutime: 0,
            cstime: 0,
            priority: 20,
            nice: 0,
            num_threads: 1,
            itrealvalue: 0,
            starttime: 0,
            vsize: 0,
            rss: 0,
            rsslim: u64::MAX,
            startcode: 0,
            endcode: 0,
            startstack: 0,
            kstkesp: 0,
            kstkeip: 0,
            signal: 0,
            blocked: 0,
            sigignore: 0,
            sigcatch: 0,
            wchan: 0,
            nswap: 0,
            cnswap: 0,
            exit_signal: 17,
            processor: 0,
            rt_priority: 0,
            policy: 0,
            delayacct_blkio_ticks: 0,
            guest_time: 0,
            cguest_time: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            exit_code: 0,
        }
    }

    /// The line `do_task_stat` prints: `pid (comm) state` and 49 more space-separated decimals,
    /// then a newline. The comm is cut at the first [`COMM_MAX`] bytes (on a character boundary).
    pub fn write_stat<W: Write>(&self, w: &mut W) -> fmt::Result {
        let mut end = self.comm.len().min(COMM_MAX);
        while !self.comm.is_char_boundary(end) {
            end -= 1;
        }
        write!(
            w,
            "{} ({}) {} {} {} {} {} {} {}",
            self.pid,
            &self.comm[..end],
            self.state,
            self.ppid,
            self.pgrp,
            self.session,
            self.tty_nr,
            self.tpgid,
            self.flags
        )?;
        let rest: [&dyn fmt::Display; 43] = [
            &self.minflt,
            &self.cminflt,
            &self.majflt,
            &self.cmajflt,
            &self.utime,
            &self.stime,
            &self.cutime,
            &self.cstime,
            &self.priority,
            &self.nice,
            &self.num_threads,
            &self.itrealvalue,
            &self.starttime,
            &self.vsize,
            &self.rss,
            &self.rsslim,
            &self.startcode,
            &self.endcode,
            &self.startstack,
            &self.kstkesp,
            &self.kstkeip,
            &self.signal,
            &self.blocked,
            &self.sigignore,
            &self.sigcatch,
            &self.wchan,
            &self.nswap,
            &self.cnswap,
            &self.exit_signal,
            &self.processor,
            &self.rt_priority,
            &self.policy,
            &self.delayacct_blkio_ticks,
            &self.guest_time,
            &self.cguest_time,
            &self.start_data,
            &self.end_data,
            &self.start_brk,
            &self.arg_start,
            &self.arg_end,
            &self.env_start,
            &self.env_end,
            &self.exit_code,
        ];
        for v in rest {
            write!(w, " {v}")?;
        }
        w.write_char('\n')
    }
}

/// `kstrtouint` with base 0, as procfs files that take a number read their text: `0x` or `0X`
/// and hexadecimal, `0` and octal, or decimal, with one trailing newline allowed; `None` for
/// anything else, or a value above `u32::MAX`.
pub fn parse_uint(text: &str) -> Option<u32> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn parse_uint_reads_kstrtouint_bases() {
        assert_eq!(parse_uint("0x33\n"), Some(0x33));
        assert_eq!(parse_uint("0X1ff"), Some(0x1ff));
        assert_eq!(parse_uint("063"), Some(0o63));
        assert_eq!(parse_uint("51"), Some(51));
        assert_eq!(parse_uint("0"), Some(0));
        for bad in [
            "",
            "\n",
            "0x",
            "33 ",
            "-1",
            "08",
            "0x1g",
            "4294967296",
            "1\n\n",
        ] {
            assert_eq!(parse_uint(bad), None, "{bad:?}");
        }
    }
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn stat_line_layout() {
        let mut f = StatFields::new(7, "a long command name");
        f.vsize = 4096 * 3;
        f.rss = 2;
        f.exit_code = 0;
        let mut s = String::new();
        f.write_stat(&mut s).unwrap();
        assert!(
            s.starts_with(
                "7 (a long command ) R 0 7 7 34816 7 0 0 0 0 0 0 0 0 0 20 0 1 0 0 12288 2 18446744073709551615 "
            ),
            "{s}"
        );
        assert!(s.ends_with(" 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"));
        // 52 fields: split off the comm, then count the rest.
        let after = s.rsplit_once(") ").unwrap().1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        assert_eq!(2 + fields.len(), 52);
        assert_eq!(fields[0], "R");
        // proc(5) numbering: field 23 vsize, 24 rss, 38 exit_signal, 52 exit_code.
        assert_eq!(fields[23 - 3], "12288");
        assert_eq!(fields[24 - 3], "2");
        assert_eq!(fields[38 - 3], "17");
        assert_eq!(fields[52 - 3], "0");
    }

    #[test]
    fn comm_cut_on_char_boundary() {
        let f = StatFields::new(1, "ééééééééé");
        let mut s = String::new();
        f.write_stat(&mut s).unwrap();
        assert!(s.starts_with("1 (ééééééé) R"));
    }
}
