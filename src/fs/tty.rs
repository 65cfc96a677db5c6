//! The console's terminal: Linux's `n_tty` line discipline over the bytes the UART receives, and
//! the terminal's state (`termios`, window size, session and foreground process group).
//!
//! Input is processed as it arrives, as `n_tty_receive_buf` does: `ICRNL`/`INLCR`/`IGNCR`; with
//! `ISIG` the interrupt, quit and suspend characters become signals for the foreground group
//! (and flush the input); with `ICANON` the line is edited (erase, word erase, kill) and becomes
//! readable at a newline, `VEOL`/`VEOL2` or `VEOF` (which, on an empty line, is end of file);
//! without it every byte is readable at once, and reads follow `VMIN`/`VTIME`. Echo follows
//! `ECHO`, `ECHOE`, `ECHOK`, `ECHOKE`, `ECHONL` and `ECHOCTL`. Portable and host-tested: the
//! kernel feeds it from the UART interrupt and reads it in `read(2)`.
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::{Termios, Winsize};

/// `N_TTY_BUF_SIZE`: what the terminal holds before it drops input (and the longest line).
pub const N_TTY_BUF_SIZE: usize = 4096;

// termbits (`include/uapi/asm-generic/termbits.h`).
pub const IGNCR: u32 = 0x80;
pub const ICRNL: u32 = 0x100;
pub const INLCR: u32 = 0x40;
pub const ISIG: u32 = 0x1;
pub const ICANON: u32 = 0x2;
pub const ECHO: u32 = 0x8;
pub const ECHOE: u32 = 0x10;
pub const ECHOK: u32 = 0x20;
pub const ECHONL: u32 = 0x40;
pub const NOFLSH: u32 = 0x80;
pub const ECHOCTL: u32 = 0x200;
pub const ECHOKE: u32 = 0x800;
pub const IEXTEN: u32 = 0x8000;
/// `c_lflag` `TOSTOP`: a background job that writes to the terminal is stopped (SIGTTOU).
pub const TOSTOP: u32 = 0x100;
pub const OPOST: u32 = 0x1;
pub const ONLCR: u32 = 0x4;

// `c_cc` indices.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VWERASE: usize = 14;
pub const VEOL2: usize = 16;

/// Signal numbers the terminal raises (arm64 = generic).
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGTSTP: u32 = 20;

/// What a read found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyRead {
    /// This many bytes were copied (0: end of file, `^D` on an empty line, or `VMIN` 0).
    Data(usize),
    /// Nothing to return yet: the reader waits (until the deadline, if `VTIME` gives one, in
    /// nanoseconds from the start of the read).
    Wait(Option<u64>),
}

/// How a background caller stands toward a job-control signal ([`Tty::job_check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Background {
    /// The signal would stop its process group.
    Stops,
    /// It ignores or blocks the signal.
    Ignores,
    /// Its process group is orphaned (`is_current_pgrp_orphaned`): nobody could continue it.
    Orphaned,
}

/// The terminal.
#[derive(Debug)]
pub struct Tty {
    pub termios: Termios,
    pub winsize: Winsize,
    /// The session the terminal controls (0: none) and its foreground process group.
    pub session: i32,
    pub fg_pgrp: i32,
    /// A job-control signal a background process raised by using the terminal: `(its process
    /// group, SIGTTIN or SIGTTOU)`, taken by the kernel after the call.
    pub job_signal: Option<(i32, u32)>,
    /// Completed lines (canonical mode): a read returns from the first; an empty one is `^D`.
    lines: VecDeque<Vec<u8>>,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Bytes readable at once (non-canonical mode).
    raw: VecDeque<u8>,
    /// A signal for the foreground group that input raised and nobody has sent yet.
    pending_signal: Option<u32>,
    /// A reader is waiting for input (the idle loop must wait for interrupts, not give up).
    pub reader_waiting: bool,
}

impl Default for Tty {
    fn default() -> Tty {
        Tty::new()
    }
}

impl Tty {
    /// A fresh terminal (`tty_std_termios`) on a 24×80 screen, controlling no session.
    pub const fn new() -> Tty {
        Tty {
            termios: Termios::linux_default(),
            winsize: Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
            session: 0,
            fg_pgrp: 0,
            lines: VecDeque::new(),
            line: Vec::new(),
            raw: VecDeque::new(),
            pending_signal: None,
            job_signal: None,
            reader_waiting: false,
        }
    }

    /// `__tty_check_change`: may a process of session `sid` and process group `pgrp` use this
    /// terminal, or must its group get `sig` (SIGTTIN to read, SIGTTOU to write with `TOSTOP` or
    /// change settings) first? A process of another session, or of the foreground group, may.
    /// A background one gets `ERESTARTSYS` and its group the signal (left in `job_signal` for the
    /// kernel to send), unless (`background`, asked only then) it ignores or blocks the signal
    /// (a read fails with `EIO`, anything else goes ahead) or its group is orphaned (`EIO`:
    /// nobody could continue it once stopped).
    pub fn job_check(
        &mut self,
        sid: i32,
        pgrp: i32,
        sig: u32,
        background: impl FnOnce() -> Background,
    ) -> Result<(), Errno> {
        if self.session == 0 || sid != self.session || self.fg_pgrp == 0 || pgrp == self.fg_pgrp {
            return Ok(());
        }
        match background() {
            Background::Ignores if sig == tidemark_abi::signal::SIGTTIN => Err(errno::EIO),
            Background::Ignores => Ok(()),
            Background::Orphaned => Err(errno::EIO),
            Background::Stops => {
                self.job_signal = Some((pgrp, sig));
                Err(errno::ERESTARTSYS)
            }
        }
    }

    /// Whether `TOSTOP` asks for background writes to stop.
    pub fn tostop(&self) -> bool {
        self.l(TOSTOP)
    }

    fn l(&self, flag: u32) -> bool {
        self.termios.c_lflag & flag != 0
    }

    fn cc(&self, i: usize) -> u8 {
        self.termios.c_cc[i]
    }

    /// Whether `b` is the special character `i` (a `c_cc` of 0 is disabled).
    fn is(&self, b: u8, i: usize) -> bool {
        let c = self.cc(i);
        c != 0 && b == c
    }

    /// Bytes held, for the buffer limit.
    fn held(&self) -> usize {
        self.lines.iter().map(Vec::len).sum::<usize>() + self.line.len() + self.raw.len()
    }

    /// Echoes `b` as `ECHOCTL` shows control characters (`^C`), else as it is.
    fn echo_char(&self, b: u8, out: &mut Vec<u8>) {
        if self.l(ECHOCTL) && (b < 0x20 && b != b'\t' && b != b'\n' || b == 0x7f) {
            out.push(b'^');
            out.push(b ^ 0x40);
        } else {
            out.push(b);
        }
    }

    /// The columns a character took on the screen when echoed (for erasing it).
    fn width(&self, b: u8) -> usize {
        if self.l(ECHOCTL) && (b < 0x20 && b != b'\t' || b == 0x7f) {
            2
        } else {
            1
        }
    }

    fn erase_one(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(b) = self.line.pop() else {
            return false;
        };
        if self.l(ECHO) && self.l(ECHOE) {
            for _ in 0..self.width(b) {
                out.extend_from_slice(b"\x08 \x08");
            }
        }
        true
    }

    /// Processes one received byte (`n_tty_receive_char`); what to echo is appended to `echo`.
    pub fn receive(&mut self, mut b: u8, echo: &mut Vec<u8>) {
        let t = self.termios;
        if b == b'\r' {
            if t.c_iflag & IGNCR != 0 {
                return;
            }
            if t.c_iflag & ICRNL != 0 {
                b = b'\n';
            }
        } else if b == b'\n' && t.c_iflag & INLCR != 0 {
            b = b'\r';
        }
        if self.l(ISIG) {
            let sig = if self.is(b, VINTR) {
                Some(SIGINT)
            } else if self.is(b, VQUIT) {
                Some(SIGQUIT)
            } else if self.is(b, VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if !self.l(NOFLSH) {
                    self.flush_input();
                }
                if self.l(ECHO) {
                    self.echo_char(b, echo);
                }
                self.pending_signal = Some(sig);
                return;
            }
        }
        if self.l(ICANON) {
            if self.is(b, VERASE) {
                self.erase_one(echo);
                return;
            }
            if self.is(b, VWERASE) && self.l(IEXTEN) {
                while self.line.last() == Some(&b' ') && self.erase_one(echo) {}
                while self.line.last().is_some_and(|&c| c != b' ') && self.erase_one(echo) {}
                return;
            }
            if self.is(b, VKILL) {
                if self.l(ECHO) && self.l(ECHOK) && !self.l(ECHOKE) {
                    self.echo_char(b, echo);
                    echo.push(b'\n');
                    self.line.clear();
                } else {
                    while self.erase_one(echo) {}
                }
                return;
            }
            if self.is(b, VEOF) {
                let line = core::mem::take(&mut self.line);
                self.lines.push_back(line);
                return;
            }
            let eol = b == b'\n' || self.is(b, VEOL) || self.is(b, VEOL2);
            if !eol && self.held() >= N_TTY_BUF_SIZE - 1 {
                // Full: the byte is dropped (Linux beeps).
                return;
            }
            self.line.push(b);
            if self.l(ECHO) || (b == b'\n' && self.l(ECHONL)) {
                if b == b'\n' {
                    echo.push(b'\n');
                } else {
                    self.echo_char(b, echo);
                }
            }
            if eol {
                let line = core::mem::take(&mut self.line);
                self.lines.push_back(line);
            }
            return;
        }
        if self.held() >= N_TTY_BUF_SIZE {
            return;
        }
        self.raw.push_back(b);
        if self.l(ECHO) {
            self.echo_char(b, echo);
        }
    }

    /// Drops all input not yet read (`TCFLSH`, a signal character, `TCSETSF`).
    pub fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
    }

    /// The signal input raised, if any, for the caller to send to [`Tty::fg_pgrp`].
    pub fn take_signal(&mut self) -> Option<u32> {
        self.pending_signal.take()
    }

    /// Bytes a read could return now (`FIONREAD`).
    pub fn readable(&self) -> usize {
        if self.l(ICANON) {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        }
    }

    /// Whether `poll` says the terminal is readable.
    pub fn poll_in(&self) -> bool {
        if self.l(ICANON) {
            !self.lines.is_empty()
        } else {
            !self.raw.is_empty()
        }
    }

    /// Sets new attributes (`TCSETS*`). Leaving canonical mode makes the line being edited, and
    /// complete lines, readable as they are; entering it turns what is readable into the start
    /// of a line.
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.l(ICANON);
        self.termios = t;
        let now = self.l(ICANON);
        if was && !now {
            for l in self.lines.drain(..) {
                self.raw.extend(l);
            }
            self.raw.extend(self.line.drain(..));
        } else if !was && now {
            self.line.extend(self.raw.drain(..));
        }
    }

    /// `n_tty_read` into `buf`: in canonical mode at most one line; otherwise what is there,
    /// once `VMIN` bytes are (`VMIN` 0: at once; `VTIME` tenths of a second bound the wait).
    /// `timed_out` says the `VTIME` wait of this read has ended: it returns what there is,
    /// perhaps nothing.
    pub fn read(&mut self, buf: &mut [u8], timed_out: bool) -> TtyRead {
        if buf.is_empty() {
            return TtyRead::Data(0);
        }
        if self.l(ICANON) {
            let Some(first) = self.lines.front_mut() else {
                return TtyRead::Wait(None);
            };
            let n = first.len().min(buf.len());
            buf[..n].copy_from_slice(&first[..n]);
            if n == first.len() {
                self.lines.pop_front();
            } else {
                first.drain(..n);
            }
            return TtyRead::Data(n);
        }
        let vmin = self.cc(VMIN) as usize;
        let vtime = self.cc(VTIME) as u64;
        let want = vmin.min(buf.len());
        if self.raw.len() >= want.max(1) || timed_out || (vmin == 0 && vtime == 0) {
            let n = self.raw.len().min(buf.len());
            for (i, b) in self.raw.drain(..n).enumerate() {
                buf[i] = b;
            }
            return TtyRead::Data(n);
        }
        TtyRead::Wait((vtime > 0).then_some(vtime * 100_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut Tty, s: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &b in s {
            t.receive(b, &mut echo);
        }
        echo
    }

    fn read(t: &mut Tty) -> TtyRead {
        let mut buf = [0u8; 64];
        t.read(&mut buf, false)
    }

    #[test]
    fn canonical_lines_with_editing_and_echo() {
        let mut t = Tty::new();
        assert_eq!(feed(&mut t, b"ecx\x7fho hi\r"), b"ecx\x08 \x08ho hi\n");
        let mut buf = [0u8; 64];
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(8));
        assert_eq!(&buf[..8], b"echo hi\n");
        assert_eq!(read(&mut t), TtyRead::Wait(None));
        // Nothing is readable before the newline.
        feed(&mut t, b"abc");
        assert_eq!(read(&mut t), TtyRead::Wait(None));
        // ^U kills the line; ^W a word; ^D on an empty line is end of file.
        feed(&mut t, b"\x15one two\x17x\n");
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(6));
        assert_eq!(&buf[..6], b"one x\n");
        feed(&mut t, b"\x04");
        assert_eq!(read(&mut t), TtyRead::Data(0));
        // ^D after text returns the text without a newline.
        feed(&mut t, b"ab\x04");
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(2));
        // A long line is read in pieces.
        feed(&mut t, b"0123456789\n");
        let mut small = [0u8; 4];
        assert_eq!(t.read(&mut small, false), TtyRead::Data(4));
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(7));
        assert_eq!(&buf[..7], b"456789\n");
    }

    #[test]
    fn signals_flush_and_echo_as_control_characters() {
        let mut t = Tty::new();
        assert_eq!(feed(&mut t, b"half\x03"), b"half^C");
        assert_eq!(t.take_signal(), Some(SIGINT));
        assert_eq!(t.take_signal(), None);
        assert_eq!(t.readable(), 0);
        feed(&mut t, b"\x1c");
        assert_eq!(t.take_signal(), Some(SIGQUIT));
        feed(&mut t, b"\x1a");
        assert_eq!(t.take_signal(), Some(SIGTSTP));
        // Without ISIG the characters are data.
        let mut raw = t.termios;
        raw.c_lflag &= !(ISIG | ICANON | ECHO);
        t.set_termios(raw);
        feed(&mut t, b"\x03");
        assert_eq!(t.take_signal(), None);
        assert_eq!(t.readable(), 1);
    }

    #[test]
    fn raw_mode_follows_vmin_and_vtime() {
        let mut t = Tty::new();
        feed(&mut t, b"partial");
        let mut raw = t.termios;
        raw.c_lflag &= !(ICANON | ECHO);
        raw.c_cc[VMIN] = 3;
        raw.c_cc[VTIME] = 0;
        t.set_termios(raw);
        // The edited line became readable.
        assert_eq!(t.readable(), 7);
        let mut buf = [0u8; 64];
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(7));
        assert_eq!(feed(&mut t, b"ab"), b"");
        assert_eq!(t.read(&mut buf, false), TtyRead::Wait(None));
        feed(&mut t, b"c");
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(3));
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 5;
        t.set_termios(raw);
        assert_eq!(t.read(&mut buf, false), TtyRead::Wait(Some(500_000_000)));
        assert_eq!(t.read(&mut buf, true), TtyRead::Data(0));
        raw.c_cc[VTIME] = 0;
        t.set_termios(raw);
        assert_eq!(t.read(&mut buf, false), TtyRead::Data(0));
    }

    #[test]
    fn an_orphaned_background_group_gets_eio() {
        use tidemark_abi::signal::{SIGTTIN, SIGTTOU};
        let mut t = Tty::new();
        t.session = 5;
        t.fg_pgrp = 5;
        for sig in [SIGTTIN, SIGTTOU] {
            assert_eq!(
                t.job_check(5, 7, sig, || Background::Orphaned),
                Err(errno::EIO)
            );
        }
        assert_eq!(t.job_signal, None, "an orphaned group is not stopped");
    }

    #[test]
    fn background_jobs_are_stopped_at_the_terminal() {
        use tidemark_abi::signal::{SIGTTIN, SIGTTOU};
        let mut t = Tty::new();
        // No controlling session: anyone may use it.
        assert_eq!(t.job_check(5, 7, SIGTTIN, || Background::Stops), Ok(()));
        t.session = 5;
        t.fg_pgrp = 5;
        assert_eq!(
            t.job_check(5, 5, SIGTTIN, || Background::Stops),
            Ok(()),
            "the foreground group"
        );
        assert_eq!(
            t.job_check(9, 7, SIGTTIN, || Background::Stops),
            Ok(()),
            "another session"
        );
        assert_eq!(
            t.job_check(5, 7, SIGTTIN, || Background::Stops),
            Err(errno::ERESTARTSYS)
        );
        assert_eq!(
            t.job_signal.take(),
            Some((7, SIGTTIN)),
            "the background group stops"
        );
        assert_eq!(
            t.job_check(5, 7, SIGTTIN, || Background::Ignores),
            Err(errno::EIO),
            "ignored: EIO"
        );
        assert_eq!(
            t.job_check(5, 7, SIGTTOU, || Background::Ignores),
            Ok(()),
            "ignored SIGTTOU: go ahead"
        );
        assert_eq!(t.job_signal, None);
        assert!(!t.tostop());
        t.termios.c_lflag |= TOSTOP;
        assert!(t.tostop());
    }
}
