//! The portable half of `wait4(2)`, `waitid(2)` and `getrusage(2)` (Linux `kernel/exit.c`,
//! `kernel/sys.c`): argument validation in Linux's order, the status word, the `siginfo_t`
//! fields `waitid` stores, and `struct rusage`. The kernel finds the child and sleeps; these
//! decide what the caller sees.
//!
//! Expected values come from the aarch64 glibc headers (`WIFEXITED` and friends, `siginfo_t`
//! offsets), checked in the tests below.
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{Rusage, Timeval};

/// `wait4`/`waitid` option bits (`include/uapi/linux/wait.h`).
pub const WNOHANG: u32 = 0x1;
pub const WUNTRACED: u32 = 0x2;
pub const WSTOPPED: u32 = WUNTRACED;
pub const WEXITED: u32 = 0x4;
pub const WCONTINUED: u32 = 0x8;
pub const WNOWAIT: u32 = 0x0100_0000;
pub const __WNOTHREAD: u32 = 0x2000_0000;
pub const __WALL: u32 = 0x4000_0000;
pub const __WCLONE: u32 = 0x8000_0000;

/// `waitid` id types.
pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;
pub const P_PIDFD: u32 = 3;

/// `si_code` values of `SIGCHLD` and `waitid` (`include/uapi/asm-generic/siginfo.h`).
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_TRAPPED: i32 = 4;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// `SIGCHLD`, the `si_signo` `waitid` reports.
const SIGCHLD: i32 = crate::task::signal::SIGCHLD as i32;

/// The core-dump flag of a status word (`WCOREFLAG`).
pub const WCOREFLAG: i32 = 0x80;

/// How a child changed state, as the waiter learns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// `exit(code)` / `exit_group(code)`: only the low 8 bits of `code` survive.
    Exited(i32),
    /// Killed by signal `sig` (an out-of-memory kill is `SIGKILL`).
    Killed(u32),
    /// Killed by signal `sig`, after a core dump.
    Dumped(u32),
    /// Stopped by signal `sig` (`WUNTRACED` / `WSTOPPED`).
    Stopped(u32),
    /// Continued by `SIGCONT` (`WCONTINUED`).
    Continued,
}

/// The status word `wait4` stores (`W_EXITCODE` and friends): exited → `(code & 0xff) << 8`;
/// killed → the signal number, with the `0x80` core flag after a dump; stopped →
/// `sig << 8 | 0x7f`; continued → `0xffff`.
pub fn wait_status(state: ChildState) -> i32 {
    match state {
        ChildState::Exited(code) => (code & 0xff) << 8,
        ChildState::Killed(sig) => (sig & 0x7f) as i32,
        ChildState::Dumped(sig) => (sig & 0x7f) as i32 | WCOREFLAG,
        ChildState::Stopped(sig) => (((sig & 0xff) as i32) << 8) | 0x7f,
        ChildState::Continued => 0xffff,
    }
}

/// Who `wait4`/`waitid` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitTarget {
    /// Any child (`pid == -1`, `P_ALL`).
    Any,
    /// The child with this pid.
    Pid(i32),
    /// Any child in process group `pgid`; `None` means the caller's own group (`pid == 0`,
    /// `P_PGID` with id 0).
    Pgid(Option<i32>),
}

/// Validated options of a wait call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    /// The raw bits, with `WEXITED` added for `wait4` as Linux does.
    pub bits: u32,
}

impl WaitOptions {
    /// Return at once when no child has changed state (`WNOHANG`).
    pub fn nohang(self) -> bool {
        self.bits & WNOHANG != 0
    }
    /// Report exited and killed children.
    pub fn exited(self) -> bool {
        self.bits & WEXITED != 0
    }
    /// Report stopped children (`WUNTRACED` / `WSTOPPED`).
    pub fn stopped(self) -> bool {
        self.bits & WSTOPPED != 0
    }
    /// Report continued children.
    pub fn continued(self) -> bool {
        self.bits & WCONTINUED != 0
    }
    /// Leave the child waitable (`WNOWAIT`, `waitid` only): report, do not reap.
    pub fn nowait(self) -> bool {
        self.bits & WNOWAIT != 0
    }
}

/// `kernel_wait4`'s checks: `EINVAL` for options outside `WNOHANG | WUNTRACED | WCONTINUED |
/// __WNOTHREAD | __WCLONE | __WALL`, then `ESRCH` for `pid == INT_MIN`; then the target:
/// `-1` any child, `< -1` the group `-pid`, `0` the caller's group, `> 0` that pid. `WEXITED`
/// is implied.
pub fn wait4_args(pid: i32, options: i32) -> Result<(WaitTarget, WaitOptions), Errno> {
    let options = options as u32;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) != 0 {
        return Err(errno::EINVAL);
    }
    let target = match pid {
        i32::MIN => return Err(errno::ESRCH),
        -1 => WaitTarget::Any,
        p if p < 0 => WaitTarget::Pgid(Some(-p)),
        0 => WaitTarget::Pgid(None),
        p => WaitTarget::Pid(p),
    };
    Ok((
        target,
        WaitOptions {
            bits: options | WEXITED,
        },
    ))
}

/// `kernel_waitid`'s checks: `EINVAL` for options outside `WNOHANG | WNOWAIT | WEXITED |
/// WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL` or with none of `WEXITED`,
/// `WSTOPPED`, `WCONTINUED`; then `idtype`: `P_ALL` (id ignored), `P_PID` (`EINVAL` for id
/// `<= 0`), `P_PGID` (`EINVAL` for id `< 0`, 0 = own group); `P_PIDFD` and anything else
/// `EINVAL` (tidemark has no pidfds, so no descriptor can be one).
pub fn waitid_args(idtype: u32, id: i32, options: i32) -> Result<(WaitTarget, WaitOptions), Errno> {
    let options = options as u32;
    let known =
        WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL;
    if options & !known != 0 || options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(errno::EINVAL);
    }
    let target = match idtype {
        P_ALL => WaitTarget::Any,
        P_PID if id > 0 => WaitTarget::Pid(id),
        P_PGID if id > 0 => WaitTarget::Pgid(Some(id)),
        P_PGID if id == 0 => WaitTarget::Pgid(None),
        _ => return Err(errno::EINVAL),
    };
    Ok((target, WaitOptions { bits: options }))
}

/// Whether a child in `state` is what the options ask for (`wait_consider_task`: exits need
/// `WEXITED`, stops `WUNTRACED`/`WSTOPPED`, continues `WCONTINUED`).
pub fn wanted(state: ChildState, options: WaitOptions) -> bool {
    match state {
        ChildState::Exited(_) | ChildState::Killed(_) | ChildState::Dumped(_) => options.exited(),
        ChildState::Stopped(_) => options.stopped(),
        ChildState::Continued => options.continued(),
    }
}

/// The fields `waitid` stores in the caller's `siginfo_t` (`si_signo` … `si_status`: bytes
/// 0..28 of the 128-byte structure; Linux checks `access_ok` over all 128 and writes only
/// these).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitidInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    pub status: i32,
}

pub use crate::task::sigframe::SIGINFO_SIZE;
/// How many leading bytes of the `siginfo_t` [`WaitidInfo::to_bytes`] covers.
pub const WAITID_INFO_LEN: usize = 28;
const _: () = assert!(WAITID_INFO_LEN <= SIGINFO_SIZE);

impl WaitidInfo {
    /// What `waitid` reports for `child` (pid, uid, state): `SIGCHLD`, `CLD_EXITED` with the
    /// exit code (low 8 bits), `CLD_KILLED` or, after a core dump, `CLD_DUMPED` with the signal,
    /// `CLD_STOPPED` with the signal, `CLD_CONTINUED` with `SIGCONT`. `None` (`WNOHANG` and no
    /// child ready) is all zeros, which is how the caller tells "nothing" apart.
    pub fn new(child: Option<(i32, u32, ChildState)>) -> WaitidInfo {
        let Some((pid, uid, state)) = child else {
            return WaitidInfo::default();
        };
        let (code, status) = match state {
            ChildState::Exited(c) => (CLD_EXITED, c & 0xff),
            ChildState::Killed(sig) => (CLD_KILLED, (sig & 0x7f) as i32),
            ChildState::Dumped(sig) => (CLD_DUMPED, (sig & 0x7f) as i32),
            ChildState::Stopped(sig) => (CLD_STOPPED, (sig & 0xff) as i32),
            ChildState::Continued => (CLD_CONTINUED, 18),
        };
        WaitidInfo {
            signo: SIGCHLD,
            errno: 0,
            code,
            pid,
            uid,
            status,
        }
    }

    /// The bytes to store at `infop` (arm64 layout: signo 0, errno 4, code 8, pid 16, uid 20,
    /// status 24; bytes 12..16 are the union's alignment padding and are written as zero).
    pub fn to_bytes(&self) -> [u8; WAITID_INFO_LEN] {
        let mut b = [0u8; WAITID_INFO_LEN];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        b[16..20].copy_from_slice(&self.pid.to_le_bytes());
        b[20..24].copy_from_slice(&self.uid.to_le_bytes());
        b[24..28].copy_from_slice(&self.status.to_le_bytes());
        b
    }
}

/// `getrusage` targets.
pub const RUSAGE_SELF: i32 = 0;
pub const RUSAGE_CHILDREN: i32 = -1;
pub const RUSAGE_THREAD: i32 = 1;

/// Whose usage `getrusage` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RusageWho {
    /// The process (`RUSAGE_SELF`; with one thread per process also `RUSAGE_THREAD`).
    SelfProcess,
    /// Its waited-for descendants (`RUSAGE_CHILDREN`).
    Children,
}

/// `getrusage`'s `who` check: `EINVAL` for anything but the three values.
pub fn rusage_who(who: i32) -> Result<RusageWho, Errno> {
    match who {
        RUSAGE_SELF | RUSAGE_THREAD => Ok(RusageWho::SelfProcess),
        RUSAGE_CHILDREN => Ok(RusageWho::Children),
        _ => Err(errno::EINVAL),
    }
}

/// What tidemark counts about a process's resource use; everything else in `struct rusage` is
/// 0, as on Linux for fields it does not maintain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub utime_ns: u64,
    pub stime_ns: u64,
    /// Peak resident set in KiB (`ru_maxrss`).
    pub maxrss_kib: u64,
    pub minflt: u64,
    pub majflt: u64,
    /// Voluntary and involuntary context switches.
    pub nvcsw: u64,
    pub nivcsw: u64,
}

impl Usage {
    /// Accumulates a reaped child's usage into `RUSAGE_CHILDREN` (times and counts add up,
    /// `maxrss` is the largest, as Linux's `wait_task_zombie` does).
    pub fn add_child(&mut self, c: &Usage) {
        self.utime_ns += c.utime_ns;
        self.stime_ns += c.stime_ns;
        self.maxrss_kib = self.maxrss_kib.max(c.maxrss_kib);
        self.minflt += c.minflt;
        self.majflt += c.majflt;
        self.nvcsw += c.nvcsw;
        self.nivcsw += c.nivcsw;
    }

    /// The `struct rusage` to copy out.
    pub fn to_rusage(&self) -> Rusage {
        Rusage {
            ru_utime: Timeval::from_nanos(self.utime_ns),
            ru_stime: Timeval::from_nanos(self.stime_ns),
            ru_maxrss: self.maxrss_kib as i64,
            ru_minflt: self.minflt as i64,
            ru_majflt: self.majflt as i64,
            ru_nvcsw: self.nvcsw as i64,
            ru_nivcsw: self.nivcsw as i64,
            ..Rusage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The glibc macros, for checking the encoding against their definitions.
    fn wifexited(s: i32) -> bool {
        s & 0x7f == 0
    }
    fn wexitstatus(s: i32) -> i32 {
        (s & 0xff00) >> 8
    }
    fn wifsignaled(s: i32) -> bool {
        (((s & 0x7f) + 1) as i8 >> 1) > 0
    }
    fn wtermsig(s: i32) -> i32 {
        s & 0x7f
    }
    fn wifstopped(s: i32) -> bool {
        s & 0xff == 0x7f
    }
    fn wifcontinued(s: i32) -> bool {
        s == 0xffff
    }

    #[test]
    fn status_words_match_glibc() {
        // Values printed by an aarch64 glibc program through WIFEXITED etc.
        assert_eq!(wait_status(ChildState::Exited(0)), 0);
        assert_eq!(wait_status(ChildState::Exited(1)), 0x0100);
        assert_eq!(wait_status(ChildState::Exited(42)), 0x2a00);
        assert_eq!(wait_status(ChildState::Exited(255)), 0xff00);
        assert_eq!(wait_status(ChildState::Exited(256 + 3)), 0x0300);
        assert_eq!(wait_status(ChildState::Exited(-1)), 0xff00);
        assert_eq!(wait_status(ChildState::Killed(9)), 0x0009);
        assert_eq!(wait_status(ChildState::Killed(11)), 0x000b);
        assert_eq!(wait_status(ChildState::Stopped(19)), 0x137f);
        assert_eq!(wait_status(ChildState::Continued), 0xffff);
        for code in [0, 1, 42, 255, 1000] {
            let s = wait_status(ChildState::Exited(code));
            assert!(wifexited(s) && !wifsignaled(s) && !wifstopped(s));
            assert_eq!(wexitstatus(s), code & 0xff);
        }
        for sig in 1..=64 {
            let s = wait_status(ChildState::Killed(sig));
            assert!(!wifexited(s) && wifsignaled(s) && !wifstopped(s) && !wifcontinued(s));
            assert_eq!(wtermsig(s), sig as i32);
            assert_eq!(s & WCOREFLAG, 0);
            let d = wait_status(ChildState::Dumped(sig));
            assert!(wifsignaled(d) && wtermsig(d) == sig as i32 && d & WCOREFLAG != 0);
        }
        assert_eq!(wait_status(ChildState::Dumped(11)), 0x008b);
        let s = wait_status(ChildState::Stopped(19));
        assert!(wifstopped(s) && !wifsignaled(s) && !wifexited(s));
        assert!(wifcontinued(wait_status(ChildState::Continued)));
    }

    #[test]
    fn wait4_validation() {
        assert_eq!(
            wait4_args(-1, 0),
            Ok((WaitTarget::Any, WaitOptions { bits: WEXITED }))
        );
        assert_eq!(wait4_args(7, 0).unwrap().0, WaitTarget::Pid(7));
        assert_eq!(wait4_args(0, 0).unwrap().0, WaitTarget::Pgid(None));
        assert_eq!(wait4_args(-5, 0).unwrap().0, WaitTarget::Pgid(Some(5)));
        let (_, o) = wait4_args(-1, (WNOHANG | WUNTRACED | __WALL) as i32).unwrap();
        assert!(o.nohang() && o.stopped() && o.exited() && !o.continued());
        let all = (WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) as i32;
        assert!(wait4_args(-1, all).is_ok());
        // WEXITED and WNOWAIT belong to waitid only.
        for bad in [WEXITED, WNOWAIT, 0x10, 0x100] {
            assert_eq!(wait4_args(-1, bad as i32), Err(errno::EINVAL));
        }
        // Options are checked before the pid.
        assert_eq!(wait4_args(i32::MIN, 0x10), Err(errno::EINVAL));
        assert_eq!(wait4_args(i32::MIN, 0), Err(errno::ESRCH));
    }

    #[test]
    fn waitid_validation() {
        let ok = waitid_args(P_ALL, 12345, WEXITED as i32).unwrap();
        assert_eq!(ok, (WaitTarget::Any, WaitOptions { bits: WEXITED }));
        assert!(waitid_args(P_PID, 9, (WEXITED | WNOWAIT) as i32)
            .unwrap()
            .1
            .nowait());
        assert_eq!(
            waitid_args(P_PGID, 0, WSTOPPED as i32).unwrap().0,
            WaitTarget::Pgid(None)
        );
        assert_eq!(
            waitid_args(P_PGID, 3, WCONTINUED as i32).unwrap().0,
            WaitTarget::Pgid(Some(3))
        );
        // One of WEXITED/WSTOPPED/WCONTINUED is required.
        assert_eq!(waitid_args(P_ALL, 0, WNOHANG as i32), Err(errno::EINVAL));
        assert_eq!(waitid_args(P_ALL, 0, 0), Err(errno::EINVAL));
        assert_eq!(
            waitid_args(P_ALL, 0, 0x4000_0004 | 0x10),
            Err(errno::EINVAL)
        );
        assert_eq!(waitid_args(P_PID, 0, 4), Err(errno::EINVAL));
        assert_eq!(waitid_args(P_PID, -3, 4), Err(errno::EINVAL));
        assert_eq!(waitid_args(P_PGID, -1, 4), Err(errno::EINVAL));
        assert_eq!(waitid_args(P_PIDFD, 3, 4), Err(errno::EINVAL));
        assert_eq!(waitid_args(4, 3, 4), Err(errno::EINVAL));
    }

    #[test]
    fn wanted_follows_options() {
        let (_, o) = wait4_args(-1, 0).unwrap();
        assert!(wanted(ChildState::Exited(0), o) && wanted(ChildState::Killed(9), o));
        assert!(!wanted(ChildState::Stopped(19), o) && !wanted(ChildState::Continued, o));
        let (_, o) = waitid_args(P_ALL, 0, (WSTOPPED | WCONTINUED) as i32).unwrap();
        assert!(!wanted(ChildState::Exited(0), o));
        assert!(wanted(ChildState::Stopped(19), o) && wanted(ChildState::Continued, o));
    }

    #[test]
    fn waitid_siginfo_layout() {
        // aarch64 glibc: si_signo 0, si_errno 4, si_code 8, si_pid 16, si_uid 20,
        // si_status 24; sizeof 128.
        let i = WaitidInfo::new(Some((42, 1000, ChildState::Exited(300))));
        assert_eq!((i.signo, i.code, i.status), (17, CLD_EXITED, 300 & 0xff));
        let b = i.to_bytes();
        assert_eq!(&b[0..4], &17i32.to_le_bytes());
        assert_eq!(&b[8..12], &1i32.to_le_bytes());
        assert_eq!(&b[12..16], &[0; 4]);
        assert_eq!(&b[16..20], &42i32.to_le_bytes());
        assert_eq!(&b[20..24], &1000u32.to_le_bytes());
        assert_eq!(&b[24..28], &44i32.to_le_bytes());
        let k = WaitidInfo::new(Some((5, 0, ChildState::Killed(11))));
        assert_eq!((k.code, k.status), (CLD_KILLED, 11));
        assert_ne!(k.code, CLD_DUMPED);
        let d = WaitidInfo::new(Some((5, 0, ChildState::Dumped(6))));
        assert_eq!((d.code, d.status), (CLD_DUMPED, 6));
        let s = WaitidInfo::new(Some((5, 0, ChildState::Stopped(19))));
        assert_eq!((s.code, s.status), (CLD_STOPPED, 19));
        let c = WaitidInfo::new(Some((5, 0, ChildState::Continued)));
        assert_eq!((c.code, c.status), (CLD_CONTINUED, 18));
        assert_eq!(WaitidInfo::new(None).to_bytes(), [0; WAITID_INFO_LEN]);
        assert_eq!(CLD_TRAPPED, 4);
    }

    #[test]
    fn rusage_fill() {
        assert_eq!(rusage_who(0), Ok(RusageWho::SelfProcess));
        assert_eq!(rusage_who(1), Ok(RusageWho::SelfProcess));
        assert_eq!(rusage_who(-1), Ok(RusageWho::Children));
        assert_eq!(rusage_who(2), Err(errno::EINVAL));
        assert_eq!(rusage_who(-2), Err(errno::EINVAL));
        let mut kids = Usage::default();
        let a = Usage {
            utime_ns: 1_500_000_000,
            stime_ns: 2_000_999,
            maxrss_kib: 900,
            minflt: 10,
            majflt: 0,
            nvcsw: 3,
            nivcsw: 1,
        };
        kids.add_child(&a);
        kids.add_child(&Usage {
            maxrss_kib: 400,
            minflt: 5,
            ..a
        });
        let r = kids.to_rusage();
        assert_eq!((r.ru_utime.tv_sec, r.ru_utime.tv_usec), (3, 0));
        assert_eq!((r.ru_stime.tv_sec, r.ru_stime.tv_usec), (0, 4001));
        assert_eq!((r.ru_maxrss, r.ru_minflt, r.ru_nvcsw), (900, 15, 6));
        assert_eq!(r.ru_ixrss + r.ru_nswap + r.ru_msgsnd + r.ru_nsignals, 0);
    }
}
