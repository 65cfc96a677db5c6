//! Core dumps (Linux's `do_coredump` in fs/coredump.c and `elf_core_dump` in fs/binfmt_elf.c):
//! a process killed by a signal whose default action dumps core leaves an ELF core file where
//! `core_pattern` says (by default `core` in its working directory), when it is dumpable and
//! RLIMIT_CORE allows a page or more, and the status its parent reads says so (`WCOREDUMP`).
//!
//! The file is what Linux writes for arm64, so that GDB reads it (`gdb PROGRAM core`): an ELF
//! header, a `PT_NOTE` segment with the notes, then one `PT_LOAD` segment per VMA, holding the
//! VMA's resident pages where the dump filter wants them (pages never touched, and the zero page,
//! are holes). The notes are the dumping thread's registers (`NT_PRSTATUS`, `NT_PRFPREG`,
//! `NT_ARM_TLS`), the process (`NT_PRPSINFO`), the signal (`NT_SIGINFO`) and the mapped files
//! (`NT_FILE`), then every other thread's registers. Linux stops the other threads first;
//! tidemark writes those that are off every core as their last entry to the kernel left them,
//! leaves out one running on another core at that moment, and keeps no auxiliary vector
//! (`NT_AUXV`).
//!
//! RLIMIT_CORE is Linux's: below a page nothing is written; otherwise writing stops at the first
//! piece that would pass the limit (holes do not count), and the dump still counts as made.
use crate::arch::aarch64::exception::TrapFrame;
use crate::fs::inode::{Cred, Data, Inode};
use crate::fs::vfs::Loc;
use crate::mm::addr::PAGE_SIZE;
use crate::mm::uaccess::UserMemExt;
use crate::task::process::Process;
use crate::task::signal::SigInfo;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use tidemark_abi::errno::{self, Errno};
use tidemark_abi::layout::*;

/// `/proc/sys/kernel/core_pattern` once written (`None`: Linux's default, `core`, the file
/// `core` in the working directory).
static CORE_PATTERN: spin::Mutex<Option<String>> = spin::Mutex::new(None);
/// `CORENAME_MAX_SIZE`: the pattern is shorter.
const CORENAME_MAX_SIZE: usize = 128;

/// The current `core_pattern`.
pub fn core_pattern() -> String {
    CORE_PATTERN
        .lock()
        .clone()
        .unwrap_or_else(|| String::from("core"))
}

/// A write to `core_pattern` (`proc_dostring`): the text up to the first newline or NUL, at most
/// `CORENAME_MAX_SIZE - 1` bytes of it.
pub fn set_core_pattern(text: &[u8]) {
    let line = text.split(|&b| b == b'\n' || b == 0).next().unwrap_or(&[]);
    let line = &line[..line.len().min(CORENAME_MAX_SIZE - 1)];
    *CORE_PATTERN.lock() = Some(String::from_utf8_lossy(line).into_owned());
}

const FILTER_ANON_PRIVATE: u32 = 1 << 0;
const FILTER_ANON_SHARED: u32 = 1 << 1;
const FILTER_MAPPED_PRIVATE: u32 = 1 << 2;
const FILTER_MAPPED_SHARED: u32 = 1 << 3;
const FILTER_ELF_HEADERS: u32 = 1 << 4;

/// RLIMIT_CORE's resource number.
const RLIMIT_CORE: usize = 4;
/// `PF_DUMPCORE`, the task flag `NT_PRPSINFO` shows while the dump is written.
const PF_DUMPCORE: u64 = 0x200;

/// What the dump needs of a VMA, taken under the mmap lock.
struct Segment {
    start: usize,
    end: usize,
    flags: u32,
    /// Bytes from `start` that go into the file (`vma_dump_size`).
    dump: usize,
    /// For `NT_FILE`: the file's name and page offset.
    file: Option<(Arc<str>, usize)>,
}

/// Writes the core file of `p`, which `sig` (with `info`) kills while its registers are `tf`.
/// Whether a dump was made, as the exit status will say.
pub fn do_coredump(p: &mut Process, tf: &TrapFrame, sig: u32, info: &SigInfo) -> bool {
    let limit = p.mm().rlimits.recorded[RLIMIT_CORE].cur as u64;
    if limit < PAGE_SIZE as u64 || !p.group.dumpable.load(Ordering::Relaxed) {
        return false;
    }
    let Some(inode) = create_core_file(p, sig, limit) else {
        return false;
    };
    let segments = snapshot_segments(p);
    let notes = notes(p, tf, sig, info, &segments);
    let mut out = CoreFile {
        inode,
        pos: 0,
        written: 0,
        limit,
        stopped: false,
    };
    write_headers(&mut out, &segments, &notes);
    for s in &segments {
        dump_user_range(&mut out, p, s.start, s.dump);
    }
    out.finish();
    true
}

/// `format_corename`: the pattern with its `%` specifiers filled in (`%p` the process id, `%P`
/// the same, `%i` / `%I` the thread's, `%u` / `%g` the real user and group, `%s` the signal,
/// `%t` the time in seconds, `%h` the host name, `%e` the name, `%c` RLIMIT_CORE, `%d` the dump
/// mode, `%%` a `%`; others give nothing). `None` for a pipe to a helper (`|`), which tidemark
/// does not run, or for an empty name.
fn format_corename(p: &Process, sig: u32, limit: u64) -> Option<Vec<u8>> {
    use core::fmt::Write;
    let pattern = core_pattern();
    if pattern.starts_with('|') || pattern.is_empty() {
        return None;
    }
    let mut name = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            name.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('%') => write!(name, "%"),
            Some('p' | 'P') => write!(name, "{}", p.tgid),
            Some('i' | 'I') => write!(name, "{}", p.pid),
            Some('u') => write!(name, "{}", p.creds.uid),
            Some('g') => write!(name, "{}", p.creds.gid),
            Some('s') => write!(name, "{sig}"),
            Some('t') => write!(
                name,
                "{}",
                crate::arch::aarch64::timer::realtime_ns() / 1_000_000_000
            ),
            Some('h') => write!(name, "tidemark"),
            Some('e') => write!(name, "{}", p.comm_str().replace('/', "!")),
            Some('c') => write!(name, "{limit}"),
            Some('d') => write!(name, "1"),
            _ => Ok(()),
        };
    }
    (!name.is_empty()).then(|| name.into_bytes())
}

/// The walker's view of /proc while the name is looked up: the process itself, nothing to read.
struct DumpView(i32);

impl crate::fs::procfs::ProcSource for DumpView {
    fn pid(&self) -> i32 {
        self.0
    }
    fn pids(&self) -> Vec<i32> {
        alloc::vec![self.0]
    }
    fn fds(&self, _: i32) -> Vec<u32> {
        Vec::new()
    }
    fn render(&self, _: crate::fs::procfs::Node, _: &mut String) -> Result<(), Errno> {
        Err(errno::EACCES)
    }
    fn pagemap(&self, _: i32, _: usize, _: &mut [u64], _: bool) -> Result<(), Errno> {
        Err(errno::EACCES)
    }
    fn link(&self, _: crate::fs::procfs::ProcLink) -> Result<String, Errno> {
        Err(errno::ENOENT)
    }
}

/// The core file, made anew where the pattern says, from the working directory (Linux unlinks
/// an old one first, then creates it with `O_EXCL`, mode 0600 less the umask, and gives up
/// unless the mode is still 0600: a umask that takes the owner's rights makes no dump).
fn create_core_file(p: &Process, sig: u32, limit: u64) -> Option<Arc<Inode>> {
    let name = format_corename(p, sig, limit)?;
    let (cwd, umask) = {
        let fs = p.fs.lock();
        (fs.cwd.clone(), fs.umask)
    };
    let cred = Cred {
        fsuid: p.creds.euid,
        fsgid: p.creds.egid,
    };
    let vfs = crate::fs::vfs();
    let view = DumpView(p.tgid);
    let nd = crate::fs::vfs::Namei {
        vfs,
        cwd: &cwd,
        cred,
        proc: &view,
        own: None,
    };
    let (dir, last) = nd.lookup_parent(&cwd, &name).ok()?;
    let Loc::Tmp(dir) = dir else {
        return None;
    };
    if last.kind != crate::fs::vfs::LastKind::Norm || last.slash {
        return None;
    }
    let _ = vfs.remove(&dir, &last.name, false, cred);
    let mode = 0o600 & !umask;
    let inode = vfs
        .create(
            &dir,
            &last.name,
            tidemark_abi::layout::S_IFREG | mode,
            0,
            Data::File(Default::default()),
            cred,
        )
        .ok()?;
    (mode & 0o677 == 0o600).then_some(inode)
}

/// The VMAs and how much of each goes into the file (`vma_dump_size`, with the process's
/// `coredump_filter`).
fn snapshot_segments(p: &mut Process) -> Vec<Segment> {
    use crate::mm::vma::{VM_EXEC, VM_READ, VM_SHARED, VM_WRITE};
    let filter = p.group.coredump_filter.load(Ordering::Relaxed);
    let mm = p.mm();
    let mut v = Vec::new();
    for vma in mm.vmas() {
        let len = vma.end - vma.start;
        let backed = vma.backing().is_some();
        let unlinked = vma.name().is_some_and(|n| n.ends_with(" (deleted)"));
        let dump = if vma.flags.contains(crate::mm::vma::VM_DONTDUMP) {
            0
        } else if vma.flags.contains(VM_SHARED) {
            let bit = if unlinked {
                FILTER_ANON_SHARED
            } else {
                FILTER_MAPPED_SHARED
            };
            if filter & bit != 0 {
                len
            } else {
                0
            }
        } else if vma.anon_vma.is_some() && filter & FILTER_ANON_PRIVATE != 0 {
            // Written to: Linux's test is the anon_vma.
            len
        } else if !backed {
            0
        } else if filter & FILTER_MAPPED_PRIVATE != 0 {
            len
        } else if filter & FILTER_ELF_HEADERS != 0 && vma.pgoff == 0 && vma.flags.contains(VM_READ)
        {
            // The first page, if the file is an ELF one (decided below, as Linux does after
            // the snapshot).
            usize::MAX
        } else {
            0
        };
        let mut flags = 0;
        for (f, pf) in [(VM_READ, PF_R), (VM_WRITE, PF_W), (VM_EXEC, PF_X)] {
            if vma.flags.contains(f) {
                flags |= pf;
            }
        }
        v.push(Segment {
            start: vma.start,
            end: vma.end,
            flags,
            dump,
            file: backed.then(|| {
                (
                    vma.name().cloned().unwrap_or_else(|| Arc::from("")),
                    vma.pgoff,
                )
            }),
        });
    }
    drop(mm);
    for s in v.iter_mut().filter(|s| s.dump == usize::MAX) {
        let magic: Result<u32, _> = UserMemExt::read_pod(p, s.start);
        s.dump = if magic == Ok(u32::from_le_bytes(*b"\x7fELF")) {
            PAGE_SIZE
        } else {
            0
        };
    }
    v
}

/// One note: header, name and description, each padded to 4 bytes.
fn note(out: &mut Vec<u8>, name: &str, ty: u32, desc: &[u8]) {
    let nhdr = Elf64Nhdr {
        n_namesz: name.len() as u32 + 1,
        n_descsz: desc.len() as u32,
        n_type: ty,
    };
    out.extend_from_slice(nhdr.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Seconds and microseconds of a span in counter ticks.
fn timeval(ticks: u64) -> [i64; 2] {
    let us = crate::arch::aarch64::timer::ticks_to_ns(ticks) / 1000;
    [(us / 1_000_000) as i64, (us % 1_000_000) as i64]
}

/// A thread's `NT_PRSTATUS`: the signal, the ids, its CPU time (`utime`) and its children's
/// (`cutime`), and its registers as `tf` has them.
fn prstatus(t: &Process, tf: &TrapFrame, sig: u32, utime: u64, cutime: u64) -> ElfPrstatus {
    let mut reg = [0u64; 34];
    reg[..31].copy_from_slice(&tf.x);
    reg[31] = tf.sp_el0;
    reg[32] = tf.elr;
    reg[33] = tf.spsr;
    let [u0, u1] = timeval(utime);
    let [c0, c1] = timeval(cutime);
    ElfPrstatus {
        si_signo: sig as i32,
        si_code: 0,
        si_errno: 0,
        pr_cursig: sig as u16,
        pad0: 0,
        pr_sigpend: t.signals.pending().0,
        pr_sighold: t.signals.blocked.0,
        pr_pid: t.pid,
        pr_ppid: t.ppid,
        pr_pgrp: t.pgid,
        pr_sid: t.sid,
        pr_times: [u0, u1, 0, 0, c0, c1, 0, 0],
        pr_reg: reg,
        pr_fpvalid: 1,
        pad1: 0,
    }
}

/// A thread's other registers: FP/SIMD and the thread pointer.
fn thread_regs(out: &mut Vec<u8>, t: &Process) {
    let fp = UserFpsimdState {
        vregs: t.fp.v,
        fpsr: t.fp.fpsr,
        fpcr: t.fp.fpcr,
        reserved: [0; 2],
    };
    note(out, "CORE", NT_PRFPREG, fp.as_bytes());
    note(out, "LINUX", NT_ARM_TLS, &t.tpidr.to_le_bytes());
}

/// The notes, in Linux's order: the dumping thread's status, the process's, the signal, the
/// files, the thread's other registers; then each other thread's status and registers, for the
/// threads off every core (one running on another core at this moment is left out: its
/// registers are nowhere to read).
fn notes(p: &mut Process, tf: &TrapFrame, sig: u32, info: &SigInfo, segs: &[Segment]) -> Vec<u8> {
    let mut out = Vec::new();
    let children = p.group.children_cpu.load(Ordering::Relaxed);
    let status = prstatus(p, tf, sig, p.process_cpu_ticks(), children);
    note(&mut out, "CORE", NT_PRSTATUS, status.as_bytes());

    let mut psargs = [0u8; 80];
    let len = p.arg_end.saturating_sub(p.arg_start).min(psargs.len() - 1);
    let args = p.arg_start;
    if p.copy_from_user(args, &mut psargs[..len]).is_ok() {
        for b in &mut psargs[..len] {
            if *b == 0 {
                *b = b' ';
            }
        }
    } else {
        psargs = [0; 80];
    }
    let ps = ElfPrpsinfo {
        pr_state: 0,
        pr_sname: b'R',
        pr_zomb: 0,
        pr_nice: 0,
        pad0: 0,
        pr_flag: PF_DUMPCORE,
        pr_uid: p.creds.uid,
        pr_gid: p.creds.gid,
        pr_pid: p.tgid,
        pr_ppid: p.ppid,
        pr_pgrp: p.pgid,
        pr_sid: p.sid,
        pr_fname: p.comm,
        pr_psargs: psargs,
    };
    note(&mut out, "CORE", NT_PRPSINFO, ps.as_bytes());
    note(
        &mut out,
        "CORE",
        NT_SIGINFO,
        &crate::task::sigframe::encode_siginfo(info, 0),
    );

    // `fill_files_note`: how many, the page size, then each mapping's start, end and page
    // offset, then their names.
    let files: Vec<_> = segs
        .iter()
        .filter_map(|s| s.file.as_ref().map(|f| (s, f)))
        .collect();
    let mut desc = Vec::new();
    desc.extend_from_slice(&(files.len() as u64).to_le_bytes());
    desc.extend_from_slice(&(PAGE_SIZE as u64).to_le_bytes());
    for (s, (_, pgoff)) in &files {
        for x in [s.start as u64, s.end as u64, *pgoff as u64] {
            desc.extend_from_slice(&x.to_le_bytes());
        }
    }
    for (_, (name, _)) in &files {
        desc.extend_from_slice(name.as_bytes());
        desc.push(0);
    }
    note(&mut out, "CORE", NT_FILE, &desc);
    thread_regs(&mut out, p);

    let tasks = crate::task::sched::TASKS.lock();
    for tid in tasks.threads_of(p.tgid) {
        let Some(t) = tasks.procs.get(&tid).filter(|t| t.pid != p.pid) else {
            continue;
        };
        let Some(k) = t.kstack.as_ref() else {
            continue;
        };
        // SAFETY: `t` is in the table of tasks off every core, and the table's lock is held,
        // so it cannot be switched in while its frame is read.
        let frame = unsafe { k.saved_frame() };
        let status = prstatus(t, &frame, sig, t.cpu_ticks, children);
        note(&mut out, "CORE", NT_PRSTATUS, status.as_bytes());
        thread_regs(&mut out, t);
    }
    out
}

/// The ELF header, the program headers and the notes; the segments' data starts at the next
/// page boundary.
fn write_headers(out: &mut CoreFile, segs: &[Segment], notes: &[u8]) {
    let phnum = segs.len() + 1;
    let mut ident = [0u8; 16];
    ident[..4].copy_from_slice(b"\x7fELF");
    ident[4] = 2; // ELFCLASS64
    ident[5] = 1; // ELFDATA2LSB
    ident[6] = 1; // EV_CURRENT
    let ehdr = Elf64Ehdr {
        e_ident: ident,
        e_type: ET_CORE,
        e_machine: EM_AARCH64,
        e_version: 1,
        e_entry: 0,
        e_phoff: 64,
        e_shoff: 0,
        e_flags: 0,
        e_ehsize: 64,
        e_phentsize: 56,
        e_phnum: phnum.min(0xffff) as u16,
        e_shentsize: 0,
        e_shnum: 0,
        e_shstrndx: 0,
    };
    let notes_at = 64 + 56 * phnum as u64;
    let mut data_at = (notes_at + notes.len() as u64).next_multiple_of(PAGE_SIZE as u64);
    let mut headers = Vec::with_capacity(56 * phnum);
    let note_phdr = Elf64Phdr {
        p_type: PT_NOTE,
        p_flags: 0,
        p_offset: notes_at,
        p_vaddr: 0,
        p_paddr: 0,
        p_filesz: notes.len() as u64,
        p_memsz: 0,
        p_align: 0,
    };
    headers.extend_from_slice(note_phdr.as_bytes());
    for s in segs {
        let ph = Elf64Phdr {
            p_type: PT_LOAD,
            p_flags: s.flags,
            p_offset: data_at,
            p_vaddr: s.start as u64,
            p_paddr: 0,
            p_filesz: s.dump as u64,
            p_memsz: (s.end - s.start) as u64,
            p_align: PAGE_SIZE as u64,
        };
        headers.extend_from_slice(ph.as_bytes());
        data_at += s.dump as u64;
    }
    let _ = out.emit(ehdr.as_bytes()) && out.emit(&headers) && out.emit(notes);
    out.skip((notes_at + notes.len() as u64).next_multiple_of(PAGE_SIZE as u64) - out.pos);
}

/// `dump_user_range`: the resident pages of `[start, start + len)` of `p`, holes for the rest
/// and for the zero page.
fn dump_user_range(out: &mut CoreFile, p: &Process, start: usize, len: usize) {
    let mm = p.mm();
    let zero = mm.pt.pages.lock().zero_page();
    for va in (start..start + len).step_by(PAGE_SIZE) {
        let page = mm.pt.translate(va).filter(|t| {
            let pa = t.pa.align_down(PAGE_SIZE);
            pa != zero
        });
        match page {
            Some(t) => {
                let pa = t.pa.align_down(PAGE_SIZE);
                // SAFETY: a frame mapped in `p`, whose mmap lock is held, so that it stays
                // mapped while it is read through the kernel's linear map; 4 KiB from its start
                // lie inside it.
                let bytes = unsafe {
                    use crate::mm::phys::PhysMem;
                    core::slice::from_raw_parts(
                        crate::mm::frame::KernelPhys.phys_to_virt(pa),
                        PAGE_SIZE,
                    )
                };
                if !out.emit(bytes) {
                    return;
                }
            }
            None => out.skip(PAGE_SIZE as u64),
        }
    }
}

/// The core file being written: where the next byte goes, how many were written (holes do not
/// count), and whether writing has stopped (RLIMIT_CORE reached, or the file system full).
struct CoreFile {
    inode: Arc<Inode>,
    pos: u64,
    written: u64,
    limit: u64,
    stopped: bool,
}

impl CoreFile {
    /// `dump_emit`: writes `bytes` at the current place, unless that would pass the limit.
    fn emit(&mut self, bytes: &[u8]) -> bool {
        if self.stopped || self.written + bytes.len() as u64 > self.limit {
            self.stopped = true;
            return false;
        }
        let sb = self.inode.sb.clone();
        let mut i = self.inode.lock();
        let Data::File(f) = &mut i.data else {
            self.stopped = true;
            return false;
        };
        match f.write_at(&sb, self.pos, bytes) {
            Ok(n) if n == bytes.len() => {
                self.pos += n as u64;
                self.written += n as u64;
                true
            }
            _ => {
                self.stopped = true;
                false
            }
        }
    }

    /// `dump_skip`: a hole of `n` bytes.
    fn skip(&mut self, n: u64) {
        self.pos += n;
    }

    /// The file ends where the dump does, a hole included, unless writing stopped early.
    fn finish(self) {
        let now = crate::fs::vfs().now();
        let sb = self.inode.sb.clone();
        let mut i = self.inode.lock();
        if let Data::File(f) = &mut i.data {
            if !self.stopped && f.size < self.pos {
                f.truncate(&sb, self.pos);
            }
        }
        i.mtime = now;
        i.ctime = now;
    }
}
