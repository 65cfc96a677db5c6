//! The slice of procfs tidemark serves: `/proc/self` (and `/proc/<own pid>`) with `maps`,
//! `status`, `stat`, `smaps_rollup` and the `exe` link, plus the directories on the way there.
//!
//! The VFS walks it one component at a time through [`child`]: `self` is a symlink to the pid
//! directory (`proc_self_get_link`), and names of other processes do not exist. Files are
//! rendered by the process ([`ProcSource`]) when opened and
//! read from that snapshot, which is what a `seq_file` read from offset 0 sees.
use alloc::string::String;
use core::fmt::{self, Write};

use crate::syscall::errno::{self, Errno};

/// `NAME_MAX`: a single path component longer than this is `ENAMETOOLONG`.
pub const NAME_MAX: usize = 255;

/// A /proc file whose text the process renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcFile {
    /// `/proc/<pid>/maps` (`show_map` in fs/proc/task_mmu.c).
    Maps,
    /// `/proc/<pid>/status` (`proc_pid_status` in fs/proc/array.c).
    Status,
    /// `/proc/<pid>/stat` (`do_task_stat` in fs/proc/array.c); see [`StatFields`].
    Stat,
    /// `/proc/<pid>/smaps_rollup` (`show_smaps_rollup` in fs/proc/task_mmu.c); see
    /// [`SmapsRollup`]. The one place a program can see how much of its memory is mapped by
    /// 2 MiB blocks (`AnonHugePages`) and how much of it is locked and resident (`Locked`).
    SmapsRollup,
}

impl ProcFile {
    /// The name in the pid directory.
    pub const fn name(self) -> &'static str {
        match self {
            ProcFile::Maps => "maps",
            ProcFile::Status => "status",
            ProcFile::Stat => "stat",
            ProcFile::SmapsRollup => "smaps_rollup",
        }
    }

    pub const ALL: [ProcFile; 4] = [
        ProcFile::Maps,
        ProcFile::Status,
        ProcFile::Stat,
        ProcFile::SmapsRollup,
    ];
}

/// A symbolic link in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcLink {
    /// `/proc/self` → `<pid>` (`proc_self_get_link`).
    SelfLink,
    /// `/proc/<pid>/exe` → the executable's path (`proc_exe_link`).
    Exe,
}

/// Every name the tree has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// `/proc`, procfs's root.
    ProcDir,
    /// `/proc/<pid>` of the calling process.
    PidDir,
    File(ProcFile),
    Link(ProcLink),
}

impl Node {
    pub const fn is_dir(self) -> bool {
        matches!(self, Node::ProcDir | Node::PidDir)
    }

    /// `..` inside procfs; `..` of [`Node::ProcDir`] leaves the mount, which the VFS handles.
    pub const fn parent(self) -> Node {
        Node::ProcDir
    }
}

/// What the process behind `/proc/self` provides. The kernel's process implements it; tests use
/// a fake.
pub trait ProcSource {
    /// Appends the whole text of `f`, as a read from offset 0 to EOF would return it. The kernel
    /// uses `mm::proc_fmt::show_maps` for [`ProcFile::Maps`], `show_status_vm` inside the status
    /// text, [`StatFields::write_stat`] for [`ProcFile::Stat`] and [`SmapsRollup::write`] for
    /// [`ProcFile::SmapsRollup`].
    fn render(&self, f: ProcFile, out: &mut String);
    /// The executable's absolute path, the target of `/proc/self/exe`.
    fn exe_path(&self) -> &str;
    /// The process id (`tgid`) that `/proc/self` points to.
    fn pid(&self) -> i32;
}

/// `d_lookup` in one directory.
pub fn child(dir: Node, name: &[u8], pid: i32) -> Result<Node, Errno> {
    match dir {
        Node::ProcDir if name == b"self" => Ok(Node::Link(ProcLink::SelfLink)),
        Node::ProcDir if is_pid_name(name, pid) => Ok(Node::PidDir),
        Node::PidDir if name == b"exe" => Ok(Node::Link(ProcLink::Exe)),
        Node::PidDir => ProcFile::ALL
            .into_iter()
            .find(|f| f.name().as_bytes() == name)
            .map(Node::File)
            .ok_or(errno::ENOENT),
        _ => Err(errno::ENOENT),
    }
}

/// `name_to_int` accepts only canonical decimal (no sign, no leading zero).
fn is_pid_name(name: &[u8], pid: i32) -> bool {
    let mut buf = String::new();
    let _ = write!(buf, "{pid}");
    pid > 0 && name == buf.as_bytes()
}

/// The target text of a link, as `readlink(2)` returns it.
pub fn link_target(link: ProcLink, src: &dyn ProcSource) -> String {
    match link {
        ProcLink::SelfLink => {
            let mut s = String::new();
            let _ = write!(s, "{}", src.pid());
            s
        }
        ProcLink::Exe => String::from(src.exe_path()),
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

/// The figures of `/proc/<pid>/smaps_rollup`, in pages: the sums over every VMA that
/// `smap_gather_stats` collects. tidemark has only private anonymous memory and no swap, so the
/// figures Linux splits by sharing, file backing, swap or hugetlb are 0 and the rest follow from
/// three numbers: every resident page is private, dirty (a fresh anonymous page is mapped dirty by
/// `do_anonymous_page`) and referenced, and its proportional share is the whole page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmapsRollup {
    /// Start of the first VMA and end of the last (the header's range; 0-0 with no VMA).
    pub start: usize,
    pub end: usize,
    /// Resident private pages (the shared zero page does not count, as `vm_normal_page` skips it).
    pub rss_pages: usize,
    /// The part of `rss_pages` mapped by 2 MiB blocks (`AnonHugePages`).
    pub block_pages: usize,
    /// The part of `rss_pages` inside VM_LOCKED VMAs (`Locked`, Linux's `pss_locked`).
    pub locked_pages: usize,
}

impl SmapsRollup {
    /// The text Linux 6.x prints: the header (`show_vma_header_prefix` with no flags, offset,
    /// device or inode, padded to the name column, then `[rollup]`) and the `__show_smap` lines
    /// of rollup mode, each value in kB right-aligned to 8 columns after a 16-column label.
    pub fn write<W: Write>(&self, w: &mut W) -> fmt::Result {
        /// Where `show_vma_header_prefix` puts the name (`25 + sizeof(void *) * 6 - 1`).
        const NAME_COLUMN: usize = 72;
        let mut header = String::new();
        write!(
            header,
            "{:08x}-{:08x} ---p 00000000 00:00 0 ",
            self.start, self.end
        )?;
        while header.len() < NAME_COLUMN {
            header.push(' ');
        }
        writeln!(w, "{header} [rollup]")?;
        let kb = |pages: usize| pages * (crate::mm::addr::PAGE_SIZE >> 10);
        let (rss, huge, locked) = (
            kb(self.rss_pages),
            kb(self.block_pages),
            kb(self.locked_pages),
        );
        let lines: [(&str, usize); 22] = [
            ("Rss", rss),
            ("Pss", rss),
            ("Pss_Dirty", rss),
            ("Pss_Anon", rss),
            ("Pss_File", 0),
            ("Pss_Shmem", 0),
            ("Shared_Clean", 0),
            ("Shared_Dirty", 0),
            ("Private_Clean", 0),
            ("Private_Dirty", rss),
            ("Referenced", rss),
            ("Anonymous", rss),
            ("KSM", 0),
            ("LazyFree", 0),
            ("AnonHugePages", huge),
            ("ShmemPmdMapped", 0),
            ("FilePmdMapped", 0),
            ("Shared_Hugetlb", 0),
            ("Private_Hugetlb", 0),
            ("Swap", 0),
            ("SwapPss", 0),
            ("Locked", locked),
        ];
        for (name, value) in lines {
            // `SEQ_PUT_DEC`: the label with its colon padded to 16, the value to 8; the one label
            // longer than that (Private_Hugetlb) takes a column from the value, as in Linux.
            let label = alloc::format!("{name}:");
            let width = 24usize.saturating_sub(label.len().max(16)).max(1);
            writeln!(w, "{label:<16}{value:>width$} kB")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn smaps_rollup_layout() {
        let r = SmapsRollup {
            start: 0x40_0000,
            end: 0xffff_ffff_f000,
            rss_pages: 1024,
            block_pages: 512,
            locked_pages: 600,
        };
        let mut s = String::new();
        r.write(&mut s).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "00400000-fffffffff000 ---p 00000000 00:00 0                              [rollup]"
        );
        assert_eq!(lines[1], "Rss:                4096 kB");
        assert_eq!(lines[15], "AnonHugePages:      2048 kB");
        assert_eq!(lines[19], "Private_Hugetlb:       0 kB");
        assert_eq!(lines[22], "Locked:             2400 kB");
        assert_eq!(lines.len(), 23);
        assert!(lines[1..].iter().all(|l| l.len() == 27), "{s}");
        assert_eq!(
            child(Node::PidDir, b"smaps_rollup", 42),
            Ok(Node::File(ProcFile::SmapsRollup))
        );
    }
}
