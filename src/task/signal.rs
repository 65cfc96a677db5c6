//! POSIX signals with Linux's semantics: numbers, actions, masks, the pending set and the rules
//! `rt_sigaction(2)`, `rt_sigprocmask(2)`, `sigaltstack(2)` and signal delivery follow
//! (`kernel/signal.c`, `include/linux/signal.h`, `arch/arm64/kernel/signal.c` `do_signal`).
//!
//! Everything here is per-thread bookkeeping and pure decisions; building the frame on the user
//! stack is [`super::sigframe`]'s job and copying it is the kernel's. As in Linux, a thread has
//! its own mask, alternate stack and pending set (signals sent to it: `tgkill`, its faults), and
//! shares with the other threads of its process the dispositions ([`SigHand`], Linux's
//! `sighand_struct`) and the pending set of signals sent to the process ([`SharedPending`],
//! `signal->shared_pending`), which whichever thread does not block them takes.
//!
//! Delivery follows Linux's two steps so a failed frame write behaves as Linux does:
//! [`SignalState::get_signal`] (or [`SignalState::deliver_decision`]) dequeues a signal, consumes
//! `SA_RESETHAND` and says what to do; after the frame is written, [`SignalState::signal_delivered`]
//! blocks `sa_mask` (and the signal itself unless `SA_NODEFER`) and disarms an `SS_AUTODISARM`
//! alternate stack; if the frame cannot be written, [`SignalState::force_sigsegv`] instead.
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{self as abi, StackT};

pub use tidemark_abi::signal::*;

/// `sa_flags` bits (`include/uapi/asm-generic/signal-defs.h`, arm64 `asm/signal.h`).
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// Userspace may set it to probe for flag support; the kernel always clears it (so do we).
pub const SA_UNSUPPORTED: u64 = 0x0000_0400;
pub const SA_EXPOSE_TAGBITS: u64 = 0x0000_0800;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// The flags `do_sigaction` keeps (`UAPI_SA_FLAGS` plus arm64's `SA_RESTORER`); others are
/// cleared so userspace can detect unsupported bits by reading the action back.
pub const UAPI_SA_FLAGS: u64 = SA_NOCLDSTOP
    | SA_NOCLDWAIT
    | SA_SIGINFO
    | SA_ONSTACK
    | SA_RESTART
    | SA_NODEFER
    | SA_RESETHAND
    | SA_EXPOSE_TAGBITS
    | SA_RESTORER;

/// `sa_handler` values with special meaning.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `rt_sigprocmask` `how` values.
pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

/// `sigaltstack` flags (`include/uapi/linux/signal.h`).
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
/// Disarm the alternate stack while a handler runs on it (`SS_FLAG_BITS`).
pub const SS_AUTODISARM: i32 = 1 << 31;
/// The kernel's minimum alternate stack size on arm64 (`arch/arm64/include/uapi/asm/signal.h`);
/// smaller stacks are refused with `ENOMEM`. (glibc's own `MINSIGSTKSZ` macro is larger.)
pub const MINSIGSTKSZ: u64 = 5120;

/// `si_code` values (`include/uapi/asm-generic/siginfo.h`).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRALN: i32 = 1;
pub const BUS_ADRERR: i32 = 2;
pub const ILL_ILLOPC: i32 = 1;
pub const ILL_ILLTRP: i32 = 4;
pub const FPE_INTDIV: i32 = 1;
pub const FPE_FLTDIV: i32 = 3;
pub const FPE_FLTUNK: i32 = 14;
pub const TRAP_BRKPT: i32 = 1;
pub const TRAP_UNK: i32 = 5;

/// The alternate-stack setting of a new process, and after `sas_ss_reset`: none.
pub const NO_ALTSTACK: StackT = StackT {
    ss_sp: 0,
    ss_flags: SS_DISABLE,
    __pad: 0,
    ss_size: 0,
};

/// Size of `sigset_t` as the kernel sees it; `rt_sig*` calls with another size fail with `EINVAL`.
pub const SIGSET_SIZE: usize = 8;

/// Whether `sig` names a signal (1..=64).
pub const fn valid_signal(sig: u32) -> bool {
    sig >= 1 && sig <= NSIG
}

/// The signal's name (`"SIGSEGV"`), for the message printed when one kills a program.
pub fn signal_name(sig: u32) -> &'static str {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match sig {
        0..=31 => NAMES[sig as usize],
        SIGRTMIN..=SIGRTMAX => "SIGRT",
        _ => "SIG?",
    }
}

/// A set of signals, bit `sig - 1` for `sig` (Linux's `sigset_t` on 64-bit, and its user layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    /// SIGKILL and SIGSTOP: never blockable, catchable or ignorable.
    pub const UNBLOCKABLE: SigSet = SigSet((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    /// Signals the CPU raises for the instruction that just ran (`SYNCHRONOUS_MASK`); delivered
    /// before any other pending signal so the handler sees the fault that caused it.
    pub const SYNCHRONOUS: SigSet = SigSet(
        (1 << (SIGSEGV - 1))
            | (1 << (SIGBUS - 1))
            | (1 << (SIGILL - 1))
            | (1 << (SIGTRAP - 1))
            | (1 << (SIGFPE - 1))
            | (1 << (SIGSYS - 1)),
    );
    const STOP: SigSet = SigSet(
        (1 << (SIGSTOP - 1)) | (1 << (SIGTSTP - 1)) | (1 << (SIGTTIN - 1)) | (1 << (SIGTTOU - 1)),
    );

    /// The set holding just `sig` (empty for an invalid number).
    pub const fn single(sig: u32) -> SigSet {
        if valid_signal(sig) {
            SigSet(1 << (sig - 1))
        } else {
            SigSet(0)
        }
    }
    pub const fn contains(self, sig: u32) -> bool {
        self.0 & SigSet::single(sig).0 != 0
    }
    pub fn insert(&mut self, sig: u32) {
        self.0 |= SigSet::single(sig).0;
    }
    pub fn remove(&mut self, sig: u32) {
        self.0 &= !SigSet::single(sig).0;
    }
    pub const fn union(self, o: SigSet) -> SigSet {
        SigSet(self.0 | o.0)
    }
    pub const fn intersection(self, o: SigSet) -> SigSet {
        SigSet(self.0 & o.0)
    }
    pub const fn difference(self, o: SigSet) -> SigSet {
        SigSet(self.0 & !o.0)
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The lowest-numbered signal in the set.
    pub const fn lowest(self) -> Option<u32> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() + 1)
        }
    }
    /// The set without SIGKILL and SIGSTOP, as every mask the kernel installs
    /// (`sigdelsetmask(..., sigmask(SIGKILL) | sigmask(SIGSTOP))`).
    pub const fn blockable(self) -> SigSet {
        self.difference(SigSet::UNBLOCKABLE)
    }
}

/// What a signal does when its handler is `SIG_DFL` (signal(7); `kernel/signal.c`'s
/// `SIG_KERNEL_*_MASK`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// End the process.
    Term,
    /// End the process and dump core (tidemark writes no core file but reports it, like the
    /// shell's "(core dumped)").
    Core,
    /// Discard the signal.
    Ign,
    /// Stop the process.
    Stop,
    /// Continue a stopped process; otherwise discard.
    Cont,
}

/// The default action of `sig` (real-time signals terminate).
pub const fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::Core,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ign,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Cont,
        _ => DefaultAction::Term,
    }
}

/// `sig_kernel_ignore`: signals whose default is to be discarded (SIGCONT included, since its
/// effect happens when it is sent, not when it is delivered).
const fn default_ignored(sig: u32) -> bool {
    matches!(
        default_action(sig),
        DefaultAction::Ign | DefaultAction::Cont
    )
}

/// One signal's disposition (the kernel's `struct k_sigaction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// `SIG_DFL`, `SIG_IGN` or the handler's address.
    pub handler: u64,
    pub flags: u64,
    /// Where the handler returns to when `SA_RESTORER` is set (libc's `__restore_rt`).
    pub restorer: u64,
    /// Signals blocked while the handler runs (in addition to the signal itself).
    pub mask: SigSet,
}

impl SigAction {
    pub const DEFAULT: SigAction = SigAction {
        handler: SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: SigSet::EMPTY,
    };

    /// `sig_handler_ignored`: `SIG_IGN`, or `SIG_DFL` for a signal whose default is to ignore.
    pub const fn ignores(&self, sig: u32) -> bool {
        self.handler == SIG_IGN || (self.handler == SIG_DFL && default_ignored(sig))
    }
}

impl From<abi::SigAction> for SigAction {
    fn from(a: abi::SigAction) -> SigAction {
        SigAction {
            handler: a.sa_handler,
            flags: a.sa_flags,
            restorer: a.sa_restorer,
            mask: SigSet(a.sa_mask),
        }
    }
}

impl From<SigAction> for abi::SigAction {
    fn from(a: SigAction) -> abi::SigAction {
        abi::SigAction {
            sa_handler: a.handler,
            sa_flags: a.flags,
            sa_restorer: a.restorer,
            sa_mask: a.mask.0,
        }
    }
}

/// The part of `siginfo_t` after `si_signo`/`si_errno`/`si_code` that a signal carries, chosen the
/// way `siginfo_layout` chooses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFields {
    /// `SIL_KILL` / `SIL_RT`: sender's pid and uid (kill, tgkill, and kernel-generated signals
    /// with zeros).
    Kill { pid: u32, uid: u32 },
    /// `SIL_FAULT`: the faulting address (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
    Fault { addr: u64 },
}

/// What a handler with `SA_SIGINFO` learns about its signal (the kernel's `kernel_siginfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: u32,
    pub errno: i32,
    pub code: i32,
    pub fields: SigFields,
}

impl SigInfo {
    /// A synchronous fault (`force_sig_fault`): `code` is e.g. `SEGV_MAPERR`, `addr` the faulting
    /// data address (SIGSEGV/SIGBUS) or instruction address (SIGILL/SIGFPE/SIGTRAP).
    pub const fn fault(signo: u32, code: i32, addr: u64) -> SigInfo {
        SigInfo {
            signo,
            errno: 0,
            code,
            fields: SigFields::Fault { addr },
        }
    }

    /// Sent by a process: `code` is `SI_USER` for kill(2), `SI_TKILL` for tgkill(2)/tkill(2).
    pub const fn user(signo: u32, code: i32, pid: u32, uid: u32) -> SigInfo {
        SigInfo {
            signo,
            errno: 0,
            code,
            fields: SigFields::Kill { pid, uid },
        }
    }

    /// Sent by the kernel itself (`SEND_SIG_PRIV`: `SI_KERNEL`, pid and uid 0).
    pub const fn kernel(signo: u32) -> SigInfo {
        SigInfo::user(signo, SI_KERNEL, 0, 0)
    }
}

/// What to do with a dequeued signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deliver {
    /// Run a handler: build a frame with `info`, `saved_mask` (the mask to restore on sigreturn)
    /// and `altstack` (the alternate stack as it was, for `uc_stack` and stack selection), then
    /// call [`SignalState::signal_delivered`] with `action` and `sig`.
    Handler {
        sig: u32,
        action: SigAction,
        info: SigInfo,
        saved_mask: SigSet,
        altstack: StackT,
    },
    /// The default action ends the process; `core` says whether Linux would dump core. The exit
    /// status a shell shows is `128 + sig`.
    Terminate { sig: u32, core: bool, info: SigInfo },
    /// The default action stops the process (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
    Stop { sig: u32 },
    /// Nothing happens (ignored, or a default-ignore signal).
    Ignore,
}

/// How signal delivery rewrites an interrupted syscall's result (arm64 `do_signal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Return the value as it is (not a restart code).
    Keep,
    /// Return `-EINTR` to the program.
    Eintr,
    /// Re-execute the `svc`: `pc -= 4` and `x0 = orig_x0`, with the same `x8`.
    Restart,
    /// Re-enter through `restart_syscall(2)`: `pc -= 4`, `x8 = __NR_restart_syscall`.
    RestartBlock,
}

/// What happens to a syscall that returned `ret` when a signal is about to be handled (`handler`
/// is the handler's `sa_flags`, `None` when no handler runs), per arm64 `do_signal`:
/// `ERESTARTNOHAND`/`ERESTART_RESTARTBLOCK` become `EINTR` under a handler, `ERESTARTSYS` too
/// unless the handler has `SA_RESTART`; `ERESTARTNOINTR` always restarts.
pub fn syscall_restart(ret: isize, handler: Option<u64>) -> Restart {
    let Some(e) = Errno::from_ret(ret) else {
        return Restart::Keep;
    };
    match (e, handler) {
        (errno::ERESTARTNOINTR, _) => Restart::Restart,
        (errno::ERESTARTSYS, Some(f)) if f & SA_RESTART != 0 => Restart::Restart,
        (errno::ERESTARTSYS | errno::ERESTARTNOHAND | errno::ERESTART_RESTARTBLOCK, Some(_)) => {
            Restart::Eintr
        }
        (errno::ERESTARTSYS | errno::ERESTARTNOHAND, None) => Restart::Restart,
        (errno::ERESTART_RESTARTBLOCK, None) => Restart::RestartBlock,
        _ => Restart::Keep,
    }
}

/// Pending signals with their siginfo: `infos[sig - 1]` describes the pending instance of `sig`.
/// Linux queues several instances of a real-time signal; tidemark keeps one per signal (a second
/// one sent while the first is pending is dropped, as for standard signals).
#[derive(Clone, Debug)]
pub struct Pending {
    pub set: SigSet,
    infos: [Option<SigInfo>; NSIG as usize],
}

impl Pending {
    pub const fn new() -> Pending {
        Pending {
            set: SigSet::EMPTY,
            infos: [None; NSIG as usize],
        }
    }

    /// Queues `sig` unless it is already pending; returns whether it was queued.
    fn queue(&mut self, sig: u32, info: SigInfo) -> bool {
        if self.set.contains(sig) {
            return false;
        }
        self.set.insert(sig);
        self.infos[(sig - 1) as usize] = Some(info);
        true
    }

    fn take(&mut self, sig: u32) -> Option<SigInfo> {
        if !self.set.contains(sig) {
            return None;
        }
        self.set.remove(sig);
        self.infos[(sig - 1) as usize].take()
    }

    fn discard(&mut self, sig: u32) {
        self.set.remove(sig);
        self.infos[(sig - 1) as usize] = None;
    }
}

impl Default for Pending {
    fn default() -> Self {
        Pending::new()
    }
}

/// The signals sent to a process (`signal->shared_pending`), shared by its threads. The set is
/// mirrored in an atomic word so that the test on every return to EL0 takes no lock.
#[derive(Debug, Default)]
pub struct SharedPending {
    pending: crate::sync::Mutex<Pending>,
    bits: core::sync::atomic::AtomicU64,
}

impl SharedPending {
    /// The pending set, without the lock.
    pub fn set(&self) -> SigSet {
        SigSet(self.bits.load(core::sync::atomic::Ordering::Acquire))
    }

    /// Runs `f` on the pending set under its lock, keeping the mirror in step.
    fn with<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        let mut p = self.pending.lock();
        let r = f(&mut p);
        self.bits
            .store(p.set.0, core::sync::atomic::Ordering::Release);
        r
    }

    fn copy(&self) -> SharedPending {
        let p = self.pending.lock().clone();
        let bits = core::sync::atomic::AtomicU64::new(p.set.0);
        SharedPending {
            pending: crate::sync::Mutex::new(p),
            bits,
        }
    }
}

/// The dispositions, `actions[sig - 1]`, shared by the threads of a process (and by processes
/// made with `CLONE_SIGHAND`): Linux's `sighand_struct`.
#[derive(Debug)]
pub struct SigHand {
    pub actions: crate::sync::Mutex<[SigAction; NSIG as usize]>,
}

impl SigHand {
    pub const fn new() -> SigHand {
        SigHand {
            actions: crate::sync::Mutex::new([SigAction::DEFAULT; NSIG as usize]),
        }
    }
}

impl Default for SigHand {
    fn default() -> Self {
        SigHand::new()
    }
}

/// A thread's signal state: its mask, pending signals and alternate stack, and the dispositions
/// and process-wide pending signals it shares with the other threads of its process.
#[derive(Debug)]
pub struct SignalState {
    pub hand: alloc::sync::Arc<SigHand>,
    pub shared: alloc::sync::Arc<SharedPending>,
    pub blocked: SigSet,
    /// Signals sent to this thread alone.
    pub own: Pending,
    /// Alternate signal stack as `sigaltstack(2)` set it (`sas_ss_sp`, `sas_ss_size`,
    /// `sas_ss_flags`); `ss_size == 0` means none.
    pub altstack: StackT,
    /// The mask to restore after the next handler instead of `blocked` (Linux's
    /// `saved_sigmask` with `TIF_RESTORE_SIGMASK`): set while `rt_sigsuspend` waits with its
    /// temporary mask, taken by the frame of the handler that ends the wait.
    pub saved_sigmask: Option<SigSet>,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState::new()
    }
}

impl SignalState {
    /// All default dispositions, nothing blocked or pending, no alternate stack (a new program
    /// after execve from a process with default state).
    pub fn new() -> SignalState {
        SignalState {
            hand: alloc::sync::Arc::new(SigHand::new()),
            shared: alloc::sync::Arc::default(),
            blocked: SigSet::EMPTY,
            own: Pending::new(),
            altstack: NO_ALTSTACK,
            saved_sigmask: None,
        }
    }

    /// A fork child's state (`copy_sighand`, `copy_signal`): a copy of the dispositions, the same
    /// mask and alternate stack, nothing pending.
    pub fn fork_copy(&self) -> SignalState {
        SignalState {
            hand: alloc::sync::Arc::new(SigHand {
                actions: crate::sync::Mutex::new(*self.hand.actions.lock()),
            }),
            shared: alloc::sync::Arc::default(),
            blocked: self.blocked,
            own: Pending::new(),
            altstack: self.altstack,
            saved_sigmask: None,
        }
    }

    /// A new thread's state (`CLONE_THREAD`, which implies `CLONE_SIGHAND`): the process's
    /// dispositions and pending set, the creator's mask, nothing of its own pending, and no
    /// alternate stack (`copy_process` clears it for `CLONE_VM` without `CLONE_VFORK`).
    pub fn thread_copy(&self) -> SignalState {
        SignalState {
            hand: self.hand.clone(),
            shared: self.shared.clone(),
            blocked: self.blocked,
            own: Pending::new(),
            altstack: NO_ALTSTACK,
            saved_sigmask: None,
        }
    }

    /// Every pending signal, the thread's and the process's.
    pub fn pending(&self) -> SigSet {
        self.own.set.union(self.shared.set())
    }

    /// `execve`: handled signals revert to `SIG_DFL` (ignored ones stay ignored), the alternate
    /// stack is forgotten; mask and pending signals are kept (`flush_signal_handlers`). Shared
    /// dispositions are unshared first (`unshare_sighand`).
    pub fn exec_reset(&mut self) {
        if alloc::sync::Arc::strong_count(&self.hand) > 1 {
            let actions = *self.hand.actions.lock();
            self.hand = alloc::sync::Arc::new(SigHand {
                actions: crate::sync::Mutex::new(actions),
            });
        }
        if alloc::sync::Arc::strong_count(&self.shared) > 1 {
            self.shared = alloc::sync::Arc::new(self.shared.copy());
        }
        for a in self.hand.actions.lock().iter_mut() {
            let handler = if a.handler == SIG_IGN {
                SIG_IGN
            } else {
                SIG_DFL
            };
            *a = SigAction {
                handler,
                ..SigAction::DEFAULT
            };
        }
        self.altstack = NO_ALTSTACK;
    }

    /// The disposition of `sig` (which must be valid).
    pub fn action(&self, sig: u32) -> SigAction {
        self.hand.actions.lock()[(sig - 1) as usize]
    }

    /// The pending instance's siginfo, if `sig` is pending (the thread's before the process's).
    pub fn pending_info(&self, sig: u32) -> Option<SigInfo> {
        if !valid_signal(sig) {
            return None;
        }
        let i = (sig - 1) as usize;
        if self.own.set.contains(sig) {
            return self.own.infos[i];
        }
        self.shared.with(|p| {
            if p.set.contains(sig) {
                p.infos[i]
            } else {
                None
            }
        })
    }

    /// `rt_sigaction(sig, act, oact, sigsetsize)` after `act` has been read from user memory:
    /// returns the previous action for `oact`. `EINVAL` for a `sigsetsize` other than 8, an invalid
    /// signal, or a change to SIGKILL/SIGSTOP (reading their action is allowed). Unknown flag bits
    /// are dropped and SIGKILL/SIGSTOP removed from the mask; making a pending signal ignored
    /// discards it (`do_sigaction`).
    pub fn rt_sigaction(
        &mut self,
        sig: u32,
        act: Option<SigAction>,
        sigsetsize: usize,
    ) -> Result<SigAction, Errno> {
        check_sigsetsize(sigsetsize)?;
        if !valid_signal(sig) || (act.is_some() && SigSet::UNBLOCKABLE.contains(sig)) {
            return Err(errno::EINVAL);
        }
        let mut actions = self.hand.actions.lock();
        let slot = &mut actions[(sig - 1) as usize];
        let mut old = *slot;
        old.flags &= UAPI_SA_FLAGS;
        if let Some(mut new) = act {
            new.flags &= UAPI_SA_FLAGS;
            new.mask = new.mask.blockable();
            *slot = new;
            drop(actions);
            if new.ignores(sig) {
                self.discard(sig);
            }
        }
        Ok(old)
    }

    /// `rt_sigprocmask(how, set, oset, sigsetsize)` after `set` has been read: returns the old mask
    /// for `oset`. `EINVAL` for a bad `sigsetsize`, or a bad `how` when `set` is given. SIGKILL and
    /// SIGSTOP are silently left unblocked.
    pub fn rt_sigprocmask(
        &mut self,
        how: u32,
        set: Option<SigSet>,
        sigsetsize: usize,
    ) -> Result<SigSet, Errno> {
        check_sigsetsize(sigsetsize)?;
        let old = self.blocked;
        if let Some(set) = set {
            let set = set.blockable();
            self.blocked = match how {
                SIG_BLOCK => old.union(set),
                SIG_UNBLOCK => old.difference(set),
                SIG_SETMASK => set,
                _ => return Err(errno::EINVAL),
            };
        }
        Ok(old)
    }

    /// `rt_sigpending(set, sigsetsize)`: the signals pending while blocked (`do_sigpending`:
    /// pending ∩ blocked; an unblocked one is delivered before the call returns anyway).
    /// Unlike the other `rt_sig*` calls, Linux accepts a `sigsetsize` up to 8 and copies that
    /// many bytes of the set (little-endian) to `set`; a larger one is `EINVAL`.
    pub fn sigpending(&self, sigsetsize: usize) -> Result<SigSet, Errno> {
        if sigsetsize > SIGSET_SIZE {
            return Err(errno::EINVAL);
        }
        Ok(self.pending().intersection(self.blocked))
    }

    /// Installs a mask (sigreturn's `set_current_blocked`), never blocking SIGKILL/SIGSTOP.
    pub fn set_blocked(&mut self, mask: SigSet) {
        self.blocked = mask.blockable();
    }

    /// Blocks `mask` for a wait, keeping the mask from before in `saved_sigmask` unless a run
    /// of the same call kept it already (Linux's `set_user_sigmask`, for rt_sigsuspend, ppoll
    /// and pselect6).
    pub fn set_temporary_mask(&mut self, mask: SigSet) {
        if self.saved_sigmask.is_none() {
            self.saved_sigmask = Some(self.blocked);
            self.set_blocked(mask);
        }
    }

    /// Gives back the mask a wait replaced, if one did (`restore_saved_sigmask`).
    pub fn restore_saved_mask(&mut self) {
        if let Some(m) = self.saved_sigmask.take() {
            self.set_blocked(m);
        }
    }

    /// `on_sig_stack(sp)`: whether `sp` lies on the alternate stack (never, while it is armed
    /// with `SS_AUTODISARM`, since the handler owns it then). The stack grows down, so its top
    /// `ss_sp + ss_size` counts as on it and its base does not.
    pub fn on_sig_stack(&self, sp: u64) -> bool {
        on_sig_stack(&self.altstack, sp)
    }

    /// `sigaltstack(ss, oss)` after `ss` has been read, with the caller's current user `sp`:
    /// returns the old setting for `oss` (`ss_flags` is `SS_DISABLE`, `SS_ONSTACK` or 0, plus
    /// `SS_AUTODISARM` if set). Changing the stack while running on it is `EPERM`; flags other
    /// than 0/`SS_ONSTACK`/`SS_DISABLE` (+`SS_AUTODISARM`) `EINVAL`; a stack smaller than
    /// [`MINSIGSTKSZ`] `ENOMEM` (`kernel/signal.c` `do_sigaltstack`).
    pub fn sigaltstack(&mut self, new: Option<StackT>, sp: u64) -> Result<StackT, Errno> {
        let old = StackT {
            ss_sp: self.altstack.ss_sp,
            ss_flags: sas_ss_flags(&self.altstack, sp) | (self.altstack.ss_flags & SS_AUTODISARM),
            __pad: 0,
            ss_size: self.altstack.ss_size,
        };
        if let Some(ss) = new {
            if self.on_sig_stack(sp) {
                return Err(errno::EPERM);
            }
            let mode = ss.ss_flags & !SS_AUTODISARM;
            if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
                return Err(errno::EINVAL);
            }
            let (ss_sp, ss_size) = if mode == SS_DISABLE {
                (0, 0)
            } else if ss.ss_size < MINSIGSTKSZ {
                return Err(errno::ENOMEM);
            } else {
                (ss.ss_sp, ss.ss_size)
            };
            self.altstack = StackT {
                ss_sp,
                ss_flags: ss.ss_flags,
                __pad: 0,
                ss_size,
            };
        }
        Ok(old)
    }

    /// rt_sigreturn's `restore_altstack`: re-applies the frame's `uc_stack` as `sigaltstack` would
    /// at the current `sp`, ignoring refusals (Linux squashes every error but `EFAULT`, which the
    /// caller reports when it cannot read the frame).
    pub fn restore_altstack(&mut self, uc_stack: StackT, sp: u64) {
        let _ = self.sigaltstack(Some(uc_stack), sp);
    }

    /// Sends `sig` to this thread's process (`send_signal_locked` / `prepare_signal` with
    /// `PIDTYPE_TGID`): a stop signal discards a pending SIGCONT and vice versa; a signal that is
    /// ignored and not blocked is dropped; a standard signal already pending is not queued twice.
    /// Returns whether it is now pending with this `info`. Invalid numbers are refused with
    /// `EINVAL`; 0 (kill's existence probe) does nothing. Which thread takes it is the caller's
    /// choice of whom to wake (`complete_signal`).
    pub fn send(&mut self, sig: u32, info: SigInfo) -> Result<bool, Errno> {
        if !self.prepare(sig)? {
            return Ok(false);
        }
        Ok(self.shared.with(|p| p.queue(sig, info)))
    }

    /// Sends `sig` to this thread alone (`tgkill`, a fault): as [`send`](Self::send), into the
    /// thread's own pending set.
    pub fn send_thread(&mut self, sig: u32, info: SigInfo) -> Result<bool, Errno> {
        if !self.prepare(sig)? {
            return Ok(false);
        }
        Ok(self.own.queue(sig, info))
    }

    /// `prepare_signal`: validates `sig`, applies the stop/continue rules, and says whether the
    /// signal is worth queueing.
    fn prepare(&mut self, sig: u32) -> Result<bool, Errno> {
        if sig == 0 {
            return Ok(false);
        }
        if !valid_signal(sig) {
            return Err(errno::EINVAL);
        }
        if SigSet::STOP.contains(sig) {
            self.discard(SIGCONT);
        } else if sig == SIGCONT {
            for s in [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU] {
                self.discard(s);
            }
        }
        Ok(self.blocked.contains(sig) || !self.action(sig).ignores(sig))
    }

    /// `force_sig_fault`: a synchronous fault must not be lost or loop. If its signal is blocked
    /// or ignored, the handler is reset to `SIG_DFL` and the signal unblocked, so the program dies
    /// instead of re-executing the faulting instruction forever (`force_sig_info_to_task`).
    pub fn force_fault(&mut self, info: SigInfo) {
        let sig = info.signo;
        if !valid_signal(sig) {
            return;
        }
        let blocked = self.blocked.contains(sig);
        {
            let mut actions = self.hand.actions.lock();
            let action = &mut actions[(sig - 1) as usize];
            if blocked || action.handler == SIG_IGN {
                action.handler = SIG_DFL;
                self.blocked.remove(sig);
            }
        }
        // Cannot fail: `sig` is valid.
        let _ = self.send_thread(sig, info);
    }

    /// `force_sigsegv(sig)`: the frame for `sig` could not be written. If that was SIGSEGV's own
    /// handler, SIGSEGV becomes fatal (`SIG_DFL`, unblocked); otherwise a kernel SIGSEGV is forced
    /// and may still be caught.
    pub fn force_sigsegv(&mut self, sig: u32) {
        if sig == SIGSEGV {
            self.hand.actions.lock()[(SIGSEGV - 1) as usize].handler = SIG_DFL;
            self.blocked.remove(SIGSEGV);
        }
        self.force_fault(SigInfo::kernel(SIGSEGV));
    }

    /// The signal that would be delivered next: pending and not blocked, synchronous faults first,
    /// then the lowest number (`next_signal`).
    pub fn next_deliverable(&self) -> Option<u32> {
        let ready = self.pending().difference(self.blocked);
        ready
            .intersection(SigSet::SYNCHRONOUS)
            .lowest()
            .or_else(|| ready.lowest())
    }

    /// Removes `sig` from the pending sets, the thread's first (`dequeue_signal`), and returns
    /// its siginfo (a kernel-sent one if none was recorded).
    fn dequeue(&mut self, sig: u32) -> SigInfo {
        let info = if self.own.set.contains(sig) {
            self.own.take(sig)
        } else {
            self.shared.with(|p| p.take(sig))
        };
        info.unwrap_or(SigInfo::kernel(sig))
    }

    /// Forgets pending instances of `sig`, the thread's and the process's (SIGCONT discarding
    /// the stop signals, and back).
    pub fn discard(&mut self, sig: u32) {
        if valid_signal(sig) {
            self.own.discard(sig);
            if self.shared.set().contains(sig) {
                self.shared.with(|p| p.discard(sig));
            }
        }
    }

    /// Dequeues `sig` (which need not be pending: a kernel-sent siginfo is used then) and decides
    /// what it does, as `get_signal` does: a handler is returned with the state its frame needs,
    /// and `SA_RESETHAND` reverts the disposition to `SIG_DFL` now; otherwise the default action
    /// applies. The mask is changed only by [`SignalState::signal_delivered`], once the frame is on
    /// the stack.
    pub fn deliver_decision(&mut self, sig: u32) -> Deliver {
        if !valid_signal(sig) {
            return Deliver::Ignore;
        }
        let info = self.dequeue(sig);
        let mut actions = self.hand.actions.lock();
        let slot = &mut actions[(sig - 1) as usize];
        let action = *slot;
        match action.handler {
            SIG_IGN => Deliver::Ignore,
            SIG_DFL => match default_action(sig) {
                DefaultAction::Ign | DefaultAction::Cont => Deliver::Ignore,
                DefaultAction::Stop => Deliver::Stop { sig },
                DefaultAction::Term => Deliver::Terminate {
                    sig,
                    core: false,
                    info,
                },
                DefaultAction::Core => Deliver::Terminate {
                    sig,
                    core: true,
                    info,
                },
            },
            _ => {
                if action.flags & SA_RESETHAND != 0 {
                    slot.handler = SIG_DFL;
                }
                Deliver::Handler {
                    sig,
                    action,
                    info,
                    saved_mask: self.saved_sigmask.take().unwrap_or(self.blocked),
                    altstack: self.altstack,
                }
            }
        }
    }

    /// `get_signal`: dequeues deliverable signals until one needs action, skipping ignored ones.
    /// `None` when nothing is deliverable.
    pub fn get_signal(&mut self) -> Option<Deliver> {
        while let Some(sig) = self.next_deliverable() {
            match self.deliver_decision(sig) {
                Deliver::Ignore => continue,
                d => return Some(d),
            }
        }
        None
    }

    /// `signal_delivered`: the handler's frame is on the user stack. Block `action.mask`, and `sig`
    /// itself unless `SA_NODEFER`; disarm an `SS_AUTODISARM` alternate stack for the duration of
    /// the handler (the frame's `uc_stack` brings it back on sigreturn).
    pub fn signal_delivered(&mut self, sig: u32, action: &SigAction) {
        let mut blocked = self.blocked.union(action.mask);
        if action.flags & SA_NODEFER == 0 {
            blocked.insert(sig);
        }
        self.set_blocked(blocked);
        if self.altstack.ss_flags & SS_AUTODISARM != 0 {
            // sas_ss_reset
            self.altstack = NO_ALTSTACK;
        }
    }
}

/// `rt_sig*` calls take the size of the caller's `sigset_t` and accept only the kernel's.
pub fn check_sigsetsize(size: usize) -> Result<(), Errno> {
    if size == SIGSET_SIZE {
        Ok(())
    } else {
        Err(errno::EINVAL)
    }
}

/// `on_sig_stack` for a given alternate-stack setting.
pub fn on_sig_stack(alt: &StackT, sp: u64) -> bool {
    if alt.ss_flags & SS_AUTODISARM != 0 {
        return false;
    }
    // __on_sig_stack for a downward-growing stack: (ss_sp, ss_sp + ss_size].
    sp > alt.ss_sp && sp - alt.ss_sp <= alt.ss_size
}

/// `sas_ss_flags(sp)`: `SS_DISABLE` without an alternate stack, `SS_ONSTACK` while `sp` is on it,
/// else 0.
pub fn sas_ss_flags(alt: &StackT, sp: u64) -> i32 {
    if alt.ss_size == 0 {
        SS_DISABLE
    } else if on_sig_stack(alt, sp) {
        SS_ONSTACK
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SZ: usize = SIGSET_SIZE;

    fn handler(h: u64, flags: u64, mask: SigSet) -> SigAction {
        SigAction {
            handler: h,
            flags,
            restorer: 0,
            mask,
        }
    }

    #[test]
    fn sigpending_reports_blocked_pending_signals() {
        let mut s = SignalState::new();
        s.hand.actions.lock()[(SIGUSR1 - 1) as usize] = handler(0x40_0000, 0, SigSet::EMPTY);
        s.rt_sigprocmask(SIG_BLOCK, Some(SigSet::single(SIGUSR1)), SZ)
            .unwrap();
        assert_eq!(s.sigpending(SZ), Ok(SigSet::EMPTY));
        s.send(SIGUSR1, SigInfo::kernel(SIGUSR1)).unwrap();
        assert_eq!(s.sigpending(SZ), Ok(SigSet::single(SIGUSR1)));
        assert_eq!(s.sigpending(4), Ok(SigSet::single(SIGUSR1)));
        assert_eq!(s.sigpending(16), Err(errno::EINVAL));
        // Ignored while blocked: still queued (the handler may change before the unblock).
        s.hand.actions.lock()[(SIGUSR2 - 1) as usize] = handler(SIG_IGN, 0, SigSet::EMPTY);
        s.rt_sigprocmask(SIG_BLOCK, Some(SigSet::single(SIGUSR2)), SZ)
            .unwrap();
        s.send(SIGUSR2, SigInfo::kernel(SIGUSR2)).unwrap();
        assert!(s.sigpending(SZ).unwrap().contains(SIGUSR2));
        // Making it ignored again discards it.
        s.rt_sigaction(SIGUSR2, Some(handler(SIG_IGN, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        assert_eq!(s.sigpending(SZ), Ok(SigSet::single(SIGUSR1)));
    }

    #[test]
    fn a_handler_after_sigsuspend_restores_the_mask_from_before() {
        let mut s = SignalState::new();
        s.hand.actions.lock()[(SIGUSR1 - 1) as usize] = handler(0x40_0000, 0, SigSet::EMPTY);
        s.set_blocked(SigSet::single(SIGUSR1));
        // rt_sigsuspend's temporary mask, with the old one saved.
        s.saved_sigmask = Some(s.blocked);
        s.set_blocked(SigSet::EMPTY);
        s.send(SIGUSR1, SigInfo::kernel(SIGUSR1)).unwrap();
        match s.get_signal() {
            Some(Deliver::Handler { saved_mask, .. }) => {
                assert_eq!(saved_mask, SigSet::single(SIGUSR1))
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(s.saved_sigmask, None, "taken by the one handler");
    }

    #[test]
    fn numbers_and_defaults() {
        assert_eq!((SIGHUP, SIGSEGV, SIGRTMIN, SIGRTMAX), (1, 11, 32, 64));
        assert_eq!(default_action(SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(SIGTERM), DefaultAction::Term);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ign);
        assert_eq!(default_action(SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(SIGCONT), DefaultAction::Cont);
        assert_eq!(default_action(40), DefaultAction::Term);
        assert_eq!(signal_name(SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(SIGSYS), "SIGSYS");
        assert_eq!(SigSet::single(SIGSEGV).0, 1 << 10);
        assert_eq!(SigSet::single(0).0, 0);
        assert_eq!(SigSet::single(65).0, 0);
    }

    #[test]
    fn sigaction_rules() {
        let mut s = SignalState::new();
        let h = handler(
            0x4000,
            SA_SIGINFO | SA_UNSUPPORTED | (1 << 20),
            SigSet(u64::MAX),
        );
        assert_eq!(s.rt_sigaction(SIGSEGV, Some(h), SZ), Ok(SigAction::DEFAULT));
        let got = s.rt_sigaction(SIGSEGV, None, SZ).unwrap();
        assert_eq!(got.flags, SA_SIGINFO, "unknown flags are cleared");
        assert_eq!(got.mask, SigSet(u64::MAX).blockable());
        assert_eq!(s.rt_sigaction(SIGKILL, Some(h), SZ), Err(errno::EINVAL));
        assert_eq!(s.rt_sigaction(SIGSTOP, Some(h), SZ), Err(errno::EINVAL));
        assert_eq!(s.rt_sigaction(SIGKILL, None, SZ), Ok(SigAction::DEFAULT));
        assert_eq!(s.rt_sigaction(0, None, SZ), Err(errno::EINVAL));
        assert_eq!(s.rt_sigaction(65, None, SZ), Err(errno::EINVAL));
        assert_eq!(s.rt_sigaction(SIGINT, None, 16), Err(errno::EINVAL));
    }

    #[test]
    fn ignoring_a_pending_signal_discards_it() {
        let mut s = SignalState::new();
        s.rt_sigprocmask(SIG_BLOCK, Some(SigSet::single(SIGUSR1)), SZ)
            .unwrap();
        assert_eq!(
            s.send(SIGUSR1, SigInfo::user(SIGUSR1, SI_USER, 1, 0)),
            Ok(true)
        );
        s.rt_sigaction(SIGUSR1, Some(handler(SIG_IGN, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        assert!(!s.pending().contains(SIGUSR1));
    }

    #[test]
    fn sigprocmask_rules() {
        let mut s = SignalState::new();
        let all = SigSet(u64::MAX);
        assert_eq!(
            s.rt_sigprocmask(SIG_SETMASK, Some(all), SZ),
            Ok(SigSet::EMPTY)
        );
        assert_eq!(s.blocked, all.blockable());
        assert!(!s.blocked.contains(SIGKILL) && !s.blocked.contains(SIGSTOP));
        s.rt_sigprocmask(SIG_UNBLOCK, Some(SigSet::single(SIGINT)), SZ)
            .unwrap();
        assert!(!s.blocked.contains(SIGINT));
        s.rt_sigprocmask(SIG_SETMASK, Some(SigSet::EMPTY), SZ)
            .unwrap();
        s.rt_sigprocmask(SIG_BLOCK, Some(SigSet::single(SIGINT)), SZ)
            .unwrap();
        assert_eq!(s.blocked, SigSet::single(SIGINT));
        assert_eq!(
            s.rt_sigprocmask(7, Some(SigSet::EMPTY), SZ),
            Err(errno::EINVAL)
        );
        // A bad `how` without a set is not checked (Linux only reads the mask then).
        assert_eq!(s.rt_sigprocmask(7, None, SZ), Ok(SigSet::single(SIGINT)));
        assert_eq!(s.rt_sigprocmask(SIG_BLOCK, None, 4), Err(errno::EINVAL));
    }

    fn stack(sp: u64, size: u64, flags: i32) -> StackT {
        StackT {
            ss_sp: sp,
            ss_flags: flags,
            __pad: 0,
            ss_size: size,
        }
    }

    #[test]
    fn sigaltstack_rules() {
        let mut s = SignalState::new();
        let user_sp = 0x7fff_0000;
        let old = s.sigaltstack(None, user_sp).unwrap();
        assert_eq!(old.ss_flags, SS_DISABLE);
        assert_eq!(
            s.sigaltstack(Some(stack(0x1000_0000, MINSIGSTKSZ - 1, 0)), user_sp),
            Err(errno::ENOMEM)
        );
        assert_eq!(
            s.sigaltstack(Some(stack(0x1000_0000, 8192, 5)), user_sp),
            Err(errno::EINVAL)
        );
        s.sigaltstack(Some(stack(0x1000_0000, 8192, 0)), user_sp)
            .unwrap();
        let cur = s.sigaltstack(None, user_sp).unwrap();
        assert_eq!(
            (cur.ss_sp, cur.ss_size, cur.ss_flags),
            (0x1000_0000, 8192, 0)
        );
        // Running on it: reported as SS_ONSTACK, and changes are refused.
        let on = 0x1000_1000;
        assert_eq!(s.sigaltstack(None, on).unwrap().ss_flags, SS_ONSTACK);
        assert_eq!(
            s.sigaltstack(Some(stack(0, 0, SS_DISABLE)), on),
            Err(errno::EPERM)
        );
        // Bounds: the top counts as on the stack, the base does not.
        assert!(s.on_sig_stack(0x1000_0000 + 8192));
        assert!(!s.on_sig_stack(0x1000_0000));
        // SS_DISABLE clears it, whatever size is passed.
        s.sigaltstack(Some(stack(0x5, 1, SS_DISABLE)), user_sp)
            .unwrap();
        assert_eq!(s.altstack.ss_size, 0);
        assert_eq!(s.sigaltstack(None, user_sp).unwrap().ss_flags, SS_DISABLE);
    }

    #[test]
    fn delivery_order_synchronous_first() {
        let mut s = SignalState::new();
        for sig in [SIGUSR1, SIGHUP, SIGSEGV] {
            s.rt_sigaction(sig, Some(handler(0x4000, 0, SigSet::EMPTY)), SZ)
                .unwrap();
        }
        s.send(SIGUSR1, SigInfo::kernel(SIGUSR1)).unwrap();
        s.send(SIGHUP, SigInfo::kernel(SIGHUP)).unwrap();
        s.force_fault(SigInfo::fault(SIGSEGV, SEGV_MAPERR, 0));
        assert_eq!(s.next_deliverable(), Some(SIGSEGV));
        s.blocked.insert(SIGSEGV);
        assert_eq!(s.next_deliverable(), Some(SIGHUP));
        s.blocked = SigSet::EMPTY;
        let mut order = alloc::vec::Vec::new();
        while let Some(Deliver::Handler { sig, .. }) = s.get_signal() {
            order.push(sig);
        }
        assert_eq!(order, [SIGSEGV, SIGHUP, SIGUSR1]);
    }

    #[test]
    fn handler_masks_resethand_nodefer() {
        let mut s = SignalState::new();
        s.blocked = SigSet::single(SIGUSR2);
        let act = handler(0x4000, SA_SIGINFO | SA_RESETHAND, SigSet::single(SIGINT));
        s.rt_sigaction(SIGSEGV, Some(act), SZ).unwrap();
        s.force_fault(SigInfo::fault(SIGSEGV, SEGV_ACCERR, 0x10));
        let Some(Deliver::Handler {
            sig,
            action,
            info,
            saved_mask,
            ..
        }) = s.get_signal()
        else {
            panic!("expected a handler");
        };
        assert_eq!(
            (sig, action, saved_mask),
            (SIGSEGV, act, SigSet::single(SIGUSR2))
        );
        assert_eq!(info.fields, SigFields::Fault { addr: 0x10 });
        assert_eq!(info.code, SEGV_ACCERR);
        assert_eq!(s.action(SIGSEGV).handler, SIG_DFL, "SA_RESETHAND");
        assert_eq!(
            s.blocked,
            SigSet::single(SIGUSR2),
            "mask changes only once delivered"
        );
        s.signal_delivered(sig, &action);
        assert_eq!(
            s.blocked,
            SigSet::single(SIGUSR2)
                .union(SigSet::single(SIGINT))
                .union(SigSet::single(SIGSEGV))
        );
        // SA_NODEFER leaves the signal itself unblocked.
        let mut s = SignalState::new();
        let act = handler(0x4000, SA_NODEFER, SigSet::EMPTY);
        s.signal_delivered(SIGUSR1, &act);
        assert_eq!(s.blocked, SigSet::EMPTY);
    }

    #[test]
    fn default_actions_on_delivery() {
        let mut s = SignalState::new();
        s.send(SIGSEGV, SigInfo::kernel(SIGSEGV)).unwrap();
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Terminate {
                sig: SIGSEGV,
                core: true,
                ..
            })
        ));
        s.send(SIGTERM, SigInfo::user(SIGTERM, SI_USER, 1, 0))
            .unwrap();
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Terminate {
                sig: SIGTERM,
                core: false,
                ..
            })
        ));
        // Default-ignored signals are not even queued; ignored ones neither.
        assert_eq!(s.send(SIGCHLD, SigInfo::kernel(SIGCHLD)), Ok(false));
        s.rt_sigaction(SIGINT, Some(handler(SIG_IGN, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        assert_eq!(s.send(SIGINT, SigInfo::kernel(SIGINT)), Ok(false));
        assert_eq!(s.get_signal(), None);
        s.send(SIGTSTP, SigInfo::kernel(SIGTSTP)).unwrap();
        assert_eq!(s.get_signal(), Some(Deliver::Stop { sig: SIGTSTP }));
        assert_eq!(s.send(99, SigInfo::kernel(SIGINT)), Err(errno::EINVAL));
    }

    #[test]
    fn standard_signals_do_not_queue_twice() {
        let mut s = SignalState::new();
        s.blocked = SigSet::single(SIGUSR1);
        assert_eq!(
            s.send(SIGUSR1, SigInfo::user(SIGUSR1, SI_USER, 7, 0)),
            Ok(true)
        );
        assert_eq!(
            s.send(SIGUSR1, SigInfo::user(SIGUSR1, SI_USER, 8, 0)),
            Ok(false)
        );
        assert_eq!(
            s.pending_info(SIGUSR1).map(|i| i.fields),
            Some(SigFields::Kill { pid: 7, uid: 0 })
        );
    }

    #[test]
    fn forced_fault_cannot_be_blocked_or_ignored() {
        let mut s = SignalState::new();
        s.rt_sigaction(SIGSEGV, Some(handler(0x4000, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.blocked = SigSet::single(SIGSEGV);
        s.force_fault(SigInfo::fault(SIGSEGV, SEGV_MAPERR, 0));
        assert!(!s.blocked.contains(SIGSEGV));
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Terminate {
                sig: SIGSEGV,
                core: true,
                ..
            })
        ));

        let mut s = SignalState::new();
        s.rt_sigaction(SIGBUS, Some(handler(SIG_IGN, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.force_fault(SigInfo::fault(SIGBUS, BUS_ADRALN, 3));
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Terminate { sig: SIGBUS, .. })
        ));

        // A caught, unblocked fault stays caught.
        let mut s = SignalState::new();
        s.rt_sigaction(SIGILL, Some(handler(0x4000, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.force_fault(SigInfo::fault(SIGILL, ILL_ILLOPC, 0x400000));
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Handler { sig: SIGILL, .. })
        ));
    }

    #[test]
    fn force_sigsegv_after_failed_frame() {
        // The SIGSEGV handler's own frame failed: SIGSEGV becomes fatal.
        let mut s = SignalState::new();
        s.rt_sigaction(SIGSEGV, Some(handler(0x4000, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.force_sigsegv(SIGSEGV);
        assert!(matches!(
            s.get_signal(),
            Some(Deliver::Terminate { sig: SIGSEGV, .. })
        ));
        // Another signal's frame failed: a SIGSEGV handler still gets a chance.
        let mut s = SignalState::new();
        s.rt_sigaction(SIGSEGV, Some(handler(0x4000, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.force_sigsegv(SIGUSR1);
        let d = s.get_signal();
        assert!(
            matches!(d, Some(Deliver::Handler { sig: SIGSEGV, info, .. }) if info.code == SI_KERNEL)
        );
    }

    #[test]
    fn autodisarm_and_restore() {
        let mut s = SignalState::new();
        let user_sp = 0x7fff_0000;
        s.sigaltstack(Some(stack(0x1000_0000, 8192, SS_AUTODISARM)), user_sp)
            .unwrap();
        assert_eq!(
            s.sigaltstack(None, user_sp).unwrap().ss_flags,
            SS_AUTODISARM
        );
        let act = handler(0x4000, SA_ONSTACK, SigSet::EMPTY);
        s.rt_sigaction(SIGUSR1, Some(act), SZ).unwrap();
        s.send(SIGUSR1, SigInfo::kernel(SIGUSR1)).unwrap();
        let Some(Deliver::Handler { altstack, .. }) = s.get_signal() else {
            panic!()
        };
        assert_eq!(altstack.ss_size, 8192);
        s.signal_delivered(SIGUSR1, &act);
        assert_eq!(s.altstack.ss_size, 0, "disarmed while the handler runs");
        // sigreturn restores it from uc_stack even though sp is on it.
        s.restore_altstack(altstack, 0x1000_1000);
        assert_eq!(s.altstack, altstack);
    }

    #[test]
    fn restore_altstack_while_on_it_is_squashed() {
        let mut s = SignalState::new();
        s.sigaltstack(Some(stack(0x1000_0000, 8192, 0)), 0x7fff_0000)
            .unwrap();
        s.restore_altstack(stack(0, 0, SS_DISABLE), 0x1000_1000);
        assert_eq!(s.altstack.ss_size, 8192, "EPERM ignored");
    }

    #[test]
    fn restart_rules() {
        let sys = errno::ERESTARTSYS.as_ret();
        assert_eq!(syscall_restart(sys, Some(SA_RESTART)), Restart::Restart);
        assert_eq!(syscall_restart(sys, Some(0)), Restart::Eintr);
        assert_eq!(syscall_restart(sys, None), Restart::Restart);
        let nohand = errno::ERESTARTNOHAND.as_ret();
        assert_eq!(syscall_restart(nohand, Some(SA_RESTART)), Restart::Eintr);
        assert_eq!(syscall_restart(nohand, None), Restart::Restart);
        assert_eq!(
            syscall_restart(errno::ERESTARTNOINTR.as_ret(), Some(0)),
            Restart::Restart
        );
        let blk = errno::ERESTART_RESTARTBLOCK.as_ret();
        assert_eq!(syscall_restart(blk, None), Restart::RestartBlock);
        assert_eq!(syscall_restart(blk, Some(SA_RESTART)), Restart::Eintr);
        assert_eq!(syscall_restart(5, None), Restart::Keep);
        assert_eq!(syscall_restart(errno::EINTR.as_ret(), None), Restart::Keep);
    }

    #[test]
    fn exec_reset_keeps_ignored() {
        let mut s = SignalState::new();
        s.rt_sigaction(SIGINT, Some(handler(SIG_IGN, 0, SigSet::EMPTY)), SZ)
            .unwrap();
        s.rt_sigaction(
            SIGTERM,
            Some(handler(0x4000, SA_RESTART, SigSet::EMPTY)),
            SZ,
        )
        .unwrap();
        s.blocked = SigSet::single(SIGUSR1);
        s.exec_reset();
        assert_eq!(s.action(SIGINT).handler, SIG_IGN);
        assert_eq!(s.action(SIGTERM), SigAction::DEFAULT);
        assert_eq!(s.blocked, SigSet::single(SIGUSR1));
    }
}
