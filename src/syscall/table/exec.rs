//! execve(2) and execveat(2) (Linux's `do_execveat_common`): find the file, copy the
//! arguments, follow `#!` lines, load the ELF into a new address space, and only then, past the
//! point of no return, replace the caller's image.
use super::*;
use crate::fs::inode::{Cred, Inode, MAY_EXEC};
use crate::fs::procfs::{Node, ProcLink, ProcSource};
use crate::fs::vfs::{Loc, Namei};
use crate::mm::object::Backing;
use crate::syscall::user::PATH_MAX;
use crate::task::binfmt::{self, ArgRoom, MAX_ARG_STRINGS, MAX_INTERP_DEPTH};
use crate::task::elf::ElfError;
use crate::task::exec::{load, ExecError, Loaded};
use aarch64_cpu::registers::Writeable;
use alloc::sync::Arc;
use alloc::vec::Vec;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_EMPTY_PATH: u32 = 0x1000;

/// The caller as /proc sees it during the walk (`/proc/self/exe` may be executed).
struct ExecView {
    exe: Arc<str>,
    pid: i32,
}

impl ProcSource for ExecView {
    fn pid(&self) -> i32 {
        self.pid
    }
    fn pids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = TASKS.lock().pids().collect();
        v.push(self.pid);
        v.sort_unstable();
        v
    }
    fn fds(&self, _: i32) -> Vec<u32> {
        Vec::new()
    }
    fn render(&self, _: Node, _: &mut alloc::string::String) -> Result<(), Errno> {
        Err(errno::EACCES)
    }
    fn pagemap(&self, _: i32, _: usize, _: &mut [u64], _: bool) -> Result<(), Errno> {
        Err(errno::EACCES)
    }
    fn link(&self, link: ProcLink) -> Result<alloc::string::String, Errno> {
        match link {
            ProcLink::Exe(p) if p == self.pid => Ok(alloc::string::String::from(&*self.exe)),
            l => super::fs_ctx::other_link(l),
        }
    }
}

/// `do_open_execat`: the path resolved (a final symlink followed unless `nofollow`, `ELOOP`
/// then), a regular file on a file system that allows execution (`EACCES` otherwise, procfs
/// included), that the caller may execute (`EACCES`).
fn open_exec(p: &Process, start: &Loc, path: &[u8], nofollow: bool) -> Result<Arc<Inode>, Errno> {
    let loc = with_namei(p, |nd| nd.lookup(start, path, !nofollow))?;
    let Loc::Tmp(inode) = loc else {
        return Err(errno::EACCES);
    };
    if nofollow && inode.mode() & crate::syscall::abi::S_IFMT == crate::fs::inode::S_IFLNK {
        return Err(errno::ELOOP);
    }
    if !inode.is_regular() {
        return Err(errno::EACCES);
    }
    inode.lock().permission(cred(p), MAY_EXEC)?;
    // `deny_write_access`: not a file open for writing (an interpreter's hold lasts the exec).
    inode.may_exec()?;
    Ok(inode)
}

fn cred(p: &Process) -> Cred {
    Cred {
        fsuid: p.creds.euid,
        fsgid: p.creds.egid,
    }
}

/// `count`: the number of pointers before the NULL in a user array (`EFAULT` if it cannot be
/// read, `E2BIG` past [`MAX_ARG_STRINGS`] or once the pointers alone exceed the room).
fn count(p: &mut Process, array: usize, room: usize) -> Result<Vec<usize>, Errno> {
    let mut out = Vec::new();
    if array == 0 {
        return Ok(out);
    }
    loop {
        let ptr: u64 = p.read_pod(array.wrapping_add(out.len() * 8))?;
        if ptr == 0 {
            return Ok(out);
        }
        if out.len() >= MAX_ARG_STRINGS || out.len() * 8 >= room {
            return Err(errno::E2BIG);
        }
        out.try_reserve(1).map_err(|_| errno::ENOMEM)?;
        out.push(ptr as usize);
    }
}

/// `copy_strings`: each string read in full, `E2BIG` when one does not fit.
fn copy_strings(
    p: &mut Process,
    ptrs: &[usize],
    room: &mut ArgRoom,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    out.try_reserve(ptrs.len()).map_err(|_| errno::ENOMEM)?;
    for &ptr in ptrs {
        let s = p.read_cstring(ptr, binfmt::MAX_ARG_STRLEN).map_err(|e| {
            if e == errno::ENAMETOOLONG {
                errno::E2BIG
            } else {
                e
            }
        })?;
        room.take(s.len())?;
        out.push(s);
    }
    Ok(out)
}

/// The errno an ELF the loader refused becomes: Linux's `ENOEXEC` for what is not an AArch64
/// executable, `EINVAL` for segments it cannot map, `EIO` for a file shorter than its headers
/// say; a dynamically linked program is `ENOEXEC` until the kernel loads interpreters.
fn elf_errno(e: ElfError) -> Errno {
    match e {
        ElfError::TruncatedHeaders | ElfError::TruncatedSegment { .. } => errno::EIO,
        ElfError::FileSizeExceedsMemSize { .. }
        | ElfError::OverlappingSegments { .. }
        | ElfError::SegmentOutOfRange { .. }
        | ElfError::EntryOutOfRange
        | ElfError::MisalignedSegment { .. } => errno::EINVAL,
        _ => errno::ENOEXEC,
    }
}

/// execve(2) and execveat(2): on success the caller runs the new program from `tf` (all
/// registers zero but pc and sp, as Linux's `start_thread`).
///
/// Kept across the exec, as in Linux: the pid and its relations, credentials (no set-user-ID
/// files here), the working directory and umask, descriptors without close-on-exec, ignored
/// signals, the blocked mask and pending signals, the interval timer, resource limits.
/// Dropped: the address space to its last frame (mlockall's flags with it), caught signals'
/// handlers, the alternate signal stack, the thread pointer and `clear_child_tid`. A vfork
/// parent is woken.
pub fn sys_execveat(
    p: &mut Process,
    tf: &mut TrapFrame,
    dfd: i32,
    filename: usize,
    argv: usize,
    envp: usize,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(errno::EINVAL);
    }
    let name = p.read_cstring(filename, PATH_MAX)?;
    let empty = name.is_empty();
    if empty && flags & AT_EMPTY_PATH == 0 {
        return Err(errno::ENOENT);
    }
    // `alloc_bprm`: the file first, then the arguments.
    let (start, shown) = start_of(p, dfd, &name)?;
    let mut inode = if empty {
        match start.tmp(errno::EACCES) {
            Ok(i) if i.is_regular() => {
                i.lock().permission(cred(p), MAY_EXEC)?;
                i.clone()
            }
            _ => return Err(errno::EACCES),
        }
    } else {
        open_exec(p, &start, &name, flags & AT_SYMLINK_NOFOLLOW != 0)?
    };
    let room_bytes = binfmt::arg_room(p.mm().rlimits.stack.cur);
    let argp = count(p, argv, room_bytes)?;
    let envp_ptrs = count(p, envp, room_bytes)?;
    let mut room = ArgRoom::new(p.mm().rlimits.stack.cur, argp.len(), envp_ptrs.len())?;
    room.take(shown.len())?;
    let env = copy_strings(p, &envp_ptrs, &mut room)?;
    let mut args = copy_strings(p, &argp, &mut room)?;

    let mut path = shown.clone();
    let mut path_start = start.clone();
    let mut image;
    let mut depth = 0;
    loop {
        image = crate::fs::read_whole(&inode);
        let Some(sb) = binfmt::parse_shebang(&image) else {
            break;
        };
        let sb = sb?;
        depth += 1;
        if depth > MAX_INTERP_DEPTH {
            return Err(errno::ELOOP);
        }
        // `load_script` copies the path, the argument and the interpreter's name in front.
        room.take(path.len())?;
        if let Some(a) = &sb.arg {
            room.take(a.len())?;
        }
        room.take(sb.interp.len())?;
        args = binfmt::script_argv(&sb, &path, &args);
        let cwd = p.fs.lock().cwd.clone();
        inode = open_exec(p, &cwd, &sb.interp, false)?;
        path = sb.interp;
        path_start = cwd;
    }
    // `do_open_execat`'s `deny_write_access`, kept as the new address space's `exe_file`.
    let exe_file = crate::fs::write_access::ExeFile::new(&inode)?;
    let argv_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let envp_refs: Vec<&[u8]> = env.iter().map(Vec::as_slice).collect();
    let exe = absolute(
        p,
        &path_start,
        if depth == 0 { &name } else { &path },
        empty && depth == 0,
    );
    let exe_str = core::str::from_utf8(&exe).unwrap_or("?");
    let rlimits = p.mm().rlimits;
    // `open_exec` of the interpreter: from the working directory, with the caller's rights.
    let cwd = p.fs.lock().cwd.clone();
    let mut interp = |name: &[u8]| -> Result<(Vec<u8>, Arc<str>, Backing), Errno> {
        let inode = open_exec(p, &cwd, name, false)?;
        let path = absolute(p, &cwd, name, false);
        let path = alloc::string::String::from_utf8_lossy(&path);
        Ok((
            crate::fs::read_whole(&inode),
            Arc::from(path.as_ref()),
            Backing(inode),
        ))
    };
    let loaded = match load(
        &image,
        Backing(inode.clone()),
        &shown,
        exe_str,
        &argv_refs,
        &envp_refs,
        Some(rlimits),
        p.creds.euid == 0,
        &mut interp,
    ) {
        Ok(l) => l,
        Err(ExecError::Elf(e)) => return Err(elf_errno(e)),
        Err(ExecError::Stack(_)) => return Err(errno::E2BIG),
        Err(ExecError::Memory(_)) => return Err(errno::ENOMEM),
        Err(ExecError::Interpreter(e)) => return Err(e),
        Err(ExecError::BadInterpreter(_)) => return Err(errno::ELIBBAD),
    };
    drop(image);
    // `de_thread`: the other threads end first. Those running on other cores are told to exit,
    // and the exec runs again once they are gone.
    if p.is_threaded()
        && crate::task::sched::TASKS
            .lock()
            .zap_running_threads(p.tgid, p.pid)
    {
        p.wait = Some(crate::task::sched::WaitFor::Dethread);
        return Err(errno::EWOULDBLOCK_RESTART);
    }
    begin_new_exec(p, tf, loaded, &shown, exe_file);
    Ok(0)
}

/// Where the walk starts and the name the program will see as its path (`AT_EXECFN`,
/// `bprm->filename`): the path as given, or `/dev/fd/N[/path]` for a descriptor-relative one.
fn start_of(p: &Process, dfd: i32, name: &[u8]) -> Result<(Loc, Vec<u8>), Errno> {
    if name.first() == Some(&b'/') || dfd == AT_FDCWD {
        return Ok((p.fs.lock().cwd.clone(), name.to_vec()));
    }
    if dfd < 0 {
        return Err(errno::EBADF);
    }
    let file = p.files.lock().get(dfd as u32)?.file.clone();
    let loc = match &file.lock().kind {
        crate::fs::fdtable::FileKind::Regular { inode, .. } => Loc::Tmp(inode.clone()),
        crate::fs::fdtable::FileKind::Dir { loc, .. } | crate::fs::fdtable::FileKind::Path(loc) => {
            loc.clone()
        }
        _ if name.is_empty() => return Err(errno::EACCES),
        _ => return Err(errno::ENOTDIR),
    };
    if !name.is_empty() && !loc.is_dir() {
        return Err(errno::ENOTDIR);
    }
    let mut shown = alloc::format!("/dev/fd/{dfd}").into_bytes();
    if !name.is_empty() {
        shown.push(b'/');
        shown.extend_from_slice(name);
    }
    Ok((loc, shown))
}

/// The program's absolute path for `/proc/self/exe` and the maps: the file the path led to,
/// every symlink followed (for `execveat` of a descriptor, the name as shown).
fn absolute(p: &Process, start: &Loc, path: &[u8], empty: bool) -> Vec<u8> {
    if empty {
        return path.to_vec();
    }
    with_namei(p, |nd| nd.canonical(start, path)).unwrap_or_else(|_| path.to_vec())
}

/// Runs `f` with the caller's walker: its working directory, credentials, and /proc as it
/// sees it.
fn with_namei<R>(p: &Process, f: impl FnOnce(&Namei<'_>) -> R) -> R {
    let view = ExecView {
        exe: p.exe.clone(),
        pid: p.tgid,
    };
    let (files, fs) = (p.files.lock(), p.fs.lock());
    f(&Namei {
        vfs: crate::fs::vfs(),
        cwd: &fs.cwd,
        cred: cred(p),
        proc: &view,
        own: Some((&files, &fs)),
    })
}

/// `begin_new_exec` + `setup_new_exec` + `start_thread`: nothing here can fail.
fn begin_new_exec(
    p: &mut Process,
    tf: &mut TrapFrame,
    mut l: Loaded,
    filename: &[u8],
    exe_file: Arc<crate::fs::write_access::ExeFile>,
) {
    // `de_thread`: the other threads end, and a thread that was not the first takes the
    // process's id. None of them runs (the caller waited for those that did), so they go at once.
    if p.is_threaded() || p.pid != p.tgid {
        let mut tasks = crate::task::sched::TASKS.lock();
        tasks.reap_threads(p.tgid, p.pid);
        if p.pid != p.tgid {
            tasks.retire_tid(p.pid);
            p.pid = p.tgid;
        }
    }
    // The new tables go live before the old ones are freed; a descriptor table still shared
    // (`CLONE_FILES` without threads) is unshared (`unshare_files`).
    l.mm.thp_disabled = p.mm().thp_disabled;
    l.mm.pt.activate();
    let old = core::mem::replace(
        &mut p.mm,
        alloc::sync::Arc::new(crate::sync::RwSem::new(l.mm)),
    );
    crate::task::sched::set_active_mm(p);
    drop(old);
    if alloc::sync::Arc::strong_count(&p.files) > 1 {
        let copy = p.files.lock().fork_clone();
        p.files = alloc::sync::Arc::new(crate::sync::Mutex::new(copy));
    }
    p.exe = l.exe;
    p.exe_file = Some(exe_file);
    // `begin_new_exec`: a new program may dump core (`set_dumpable(SUID_DUMP_USER)`: no
    // set-user-ID programs here).
    p.group
        .dumpable
        .store(true, core::sync::atomic::Ordering::Relaxed);
    let base = filename.rsplit(|&b| b == b'/').next().unwrap_or(filename);
    p.comm = crate::task::process::comm_of(core::str::from_utf8(base).unwrap_or("?"));
    p.sigtramp = l.sigtramp;
    p.arg_start = l.arg_start;
    p.arg_end = l.arg_end;
    p.env_start = l.env_start;
    p.env_end = l.env_end;
    p.hiwater_rss = 0;
    p.files.lock().close_on_exec();
    p.signals.exec_reset();
    p.clear_child_tid = 0;
    p.robust_list = 0;
    p.tpidr = 0;
    aarch64_cpu::registers::TPIDR_EL0.set(0);
    p.fp = Default::default();
    crate::arch::aarch64::context::fp_restore(&p.fp);
    *tf = l.frame;
    if let Some(parent) = p.vfork_parent.take() {
        crate::task::sched::vfork_done(parent, p.pid);
    }
}
