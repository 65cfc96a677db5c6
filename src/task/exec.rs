//! Starting a program: Linux's `load_elf_binary` and `setup_arg_pages`, with its interpreter
//! (`load_elf_interp`) for a dynamically linked program.
//!
//! Layout of a fresh process (randomised like Linux's `randomize_va_space = 2` unless the kernel
//! was booted with `norandmaps`):
//! - the PT_LOAD segments, mapped privately from the file's pages in the page cache (the
//!   processes running a program share its pages until one writes), the `.bss` past the file's
//!   data as anonymous memory named after the program;
//! - for a dynamic program, the interpreter's segments where `mmap` would put them (top-down
//!   from `mmap_base`), aligned to their largest `p_align`;
//! - the heap: `start_brk = brk = randomize_page(PAGE_ALIGN(end_bss) + PAGE_SIZE, 1 GiB)`;
//! - the stack at the top of the user half, less up to 1 GiB, growing down, with argv/envp/auxv;
//! - `mmap_base` below the stack's reserved gap, less up to 1 GiB; the signal-return page
//!   (`[sigpage]`) is the first mapping placed there.
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::exception::TrapFrame;
use crate::arch::aarch64::timer;
use crate::mm::addr::{page_align_down, page_align_up, PAGE_SIZE};
use crate::mm::error::MmError;
use crate::mm::frame::{KernelPhys, FRAMES};
use crate::mm::mm_struct::{MmStruct, TASK_SIZE};
use crate::mm::mmap::{get_unmapped_area, mmap_region, mmap_region_backed};
use crate::mm::object::Backing;
use crate::mm::phys::PhysMem;
use crate::mm::vm_space::VmSpace;
use crate::mm::vma::{
    calc_vm_prot_bits, VmFlags, VM_EXEC, VM_MAYEXEC, VM_MAYREAD, VM_MAYWRITE, VM_READ,
    VM_STACK_FLAGS,
};
use crate::random;
use crate::task::elf::{ElfError, ElfPlan, Segment, ELF_ET_DYN_BASE};
use crate::task::hwcaps::elf_hwcaps;
use crate::task::process::{Creds, Process};
use crate::task::sigframe::{FRAME_BYTES, SIGTRAMP_CODE};
use crate::task::signal::SignalState;
use crate::task::stack::{build_initial_stack, AuxvValues, StackError};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// Linux's `stack_guard_gap`-independent initial stack extension (`setup_arg_pages`).
const STACK_EXPAND: usize = 128 << 10;
/// arm64 `STACK_RND_MASK` for 64-bit tasks: 0x3ffff pages (1 GiB).
const STACK_RND_RANGE: usize = 0x40000 << 12;
/// arm64 `mmap_rnd_bits` default (18 bits of pages: 1 GiB).
const MMAP_RND_RANGE: usize = 1 << 30;
/// `arch_randomize_brk` range for 64-bit tasks.
const BRK_RND_RANGE: usize = 1 << 30;

#[derive(Debug)]
pub enum ExecError {
    Elf(ElfError),
    Stack(StackError),
    Memory(MmError),
    /// The interpreter could not be opened (`open_exec`'s error: ENOENT, EACCES...).
    Interpreter(tidemark_abi::errno::Errno),
    /// The interpreter is not an ELF program for this machine (`ELIBBAD`).
    BadInterpreter(ElfError),
}

/// Finds a program's interpreter by its `PT_INTERP` path: its bytes and the path it has in the
/// maps, or the error the exec fails with.
pub type InterpLookup<'a> =
    &'a mut dyn FnMut(&[u8]) -> Result<(Vec<u8>, Arc<str>, Backing), tidemark_abi::errno::Errno>;

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Elf(e) => write!(f, "not a runnable program: {e}"),
            ExecError::Stack(e) => write!(f, "arguments do not fit: {e:?}"),
            ExecError::Memory(e) => write!(f, "out of memory while loading: {e:?}"),
            ExecError::Interpreter(e) => write!(f, "its interpreter cannot be opened: {e:?}"),
            ExecError::BadInterpreter(e) => write!(f, "its interpreter is not runnable: {e}"),
        }
    }
}

impl From<MmError> for ExecError {
    fn from(e: MmError) -> Self {
        ExecError::Memory(e)
    }
}

/// Copies `data` to user address `va` of a not yet running process, page by page through the
/// linear map (the pages get private frames; their final permissions may be read-only).
fn fill(mm: &mut MmStruct<VmSpace>, va: usize, data: &[u8], flags: VmFlags) -> Result<(), MmError> {
    let mut done = 0;
    while done < data.len() {
        let addr = va + done;
        let off = addr % PAGE_SIZE;
        let n = (PAGE_SIZE - off).min(data.len() - done);
        let pa = mm.pt.pages.get_mut().install_frame(addr, flags)?;
        // SAFETY: a private frame of this process, reached through the linear map.
        unsafe {
            let dst = KernelPhys.phys_to_virt(pa).add(off);
            core::ptr::copy_nonoverlapping(data[done..].as_ptr(), dst, n);
        }
        done += n;
    }
    Ok(())
}

/// Maps the `PT_LOAD` segments of `plan` as `elf_map` and `set_brk` do: the pages that hold
/// file data privately from the file (`backing`, whose contents `image` is; named `file` in the
/// maps), the rest anonymous (also named `file`). The one page where a `.bss` begins inside the file's last page
/// gets a private copy with its tail zeroed (`padzero`).
fn map_segments(
    mm: &mut MmStruct<VmSpace>,
    plan: &ElfPlan,
    image: &[u8],
    file: &Arc<str>,
    backing: &Backing,
) -> Result<(), MmError> {
    for seg in &plan.segments {
        let flags = calc_vm_prot_bits(seg.prot.bits()) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        let (start, end) = (seg.map_start(), seg.map_end());
        let file_end = if seg.filesz == 0 {
            start
        } else {
            page_align_up(seg.vaddr + seg.filesz).map_or(end, |e| e.min(end))
        };
        if file_end > start {
            mmap_region_backed(
                mm,
                start,
                file_end - start,
                flags,
                seg.file_offset / PAGE_SIZE,
                Some(file.clone()),
                Some(backing.clone()),
            )?;
        }
        // The `.bss` past the file's pages: anonymous memory that keeps the program's name, so
        // that it stays apart from the heap (Linux makes it with `vm_brk_flags`, nameless, and
        // the heap's first growth merges into it: see docs/conformance.md).
        if end > file_end {
            let pgoff = seg.file_offset / PAGE_SIZE + (file_end - start) / PAGE_SIZE;
            mmap_region(
                mm,
                file_end,
                end - file_end,
                flags,
                pgoff,
                Some(file.clone()),
            )?;
        }
        if seg.memsz > seg.filesz && seg.filesz > 0 && (seg.vaddr + seg.filesz) % PAGE_SIZE != 0 {
            let last = page_align_down(seg.vaddr + seg.filesz);
            if let Some(chunk) = seg.pages(image).find(|c| c.va == last) {
                // Linux's `padzero` writes this page: a private copy, the VMA's first
                // anonymous page.
                mm.anon_vma_prepare_at(chunk.va);
                fill(mm, chunk.va, chunk.data, flags)?;
            }
        }
    }
    Ok(())
}

/// Whether new programs get a randomised layout (`randomize_va_space = 2`); `norandmaps` on the
/// command line clears it.
pub static RANDOMIZE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// A program loaded into a fresh address space, ready to replace a process's image.
pub struct Loaded {
    pub mm: MmStruct<VmSpace>,
    /// The registers to enter it with (everything zero but pc and sp).
    pub frame: TrapFrame,
    pub sigtramp: usize,
    pub arg_start: usize,
    pub arg_end: usize,
    pub env_start: usize,
    pub env_end: usize,
    pub exe: Arc<str>,
}

/// Builds a process from a static executable: the first process. `path` is the name it was
/// started by (`AT_EXECFN`, the task's name), `exe` the file's own path (`/proc/self/exe`).
// The arguments are `load`'s, and the randomisation switch.
#[allow(clippy::too_many_arguments)]
pub fn exec(
    image: &[u8],
    backing: Backing,
    path: &str,
    exe: &str,
    argv: &[&[u8]],
    envp: &[&[u8]],
    randomize: bool,
    interp: InterpLookup<'_>,
) -> Result<Process, ExecError> {
    RANDOMIZE.store(randomize, core::sync::atomic::Ordering::Relaxed);
    let l = load(
        image,
        backing,
        path.as_bytes(),
        exe,
        argv,
        envp,
        None,
        Creds::default().euid == 0,
        interp,
    )?;
    Ok(Process {
        pid: 1,
        tgid: 1,
        ppid: 0,
        pgid: 0,
        sid: 0,
        mm: Arc::new(crate::sync::RwSem::new(l.mm)),
        signals: SignalState::new(),
        group: crate::task::process::ThreadGroup::new(),
        creds: Creds::default(),
        exe: l.exe.clone(),
        exe_file: None,
        comm: crate::task::process::comm_of(path),
        files: Arc::new(crate::sync::Mutex::new(crate::fs::fdtable::Files::new())),
        fs: Arc::new(crate::sync::Mutex::new(crate::fs::vfs::FsState::new(
            crate::fs::vfs(),
        ))),
        minflt: 0,
        majflt: 0,
        cpu_ticks: 0,
        ran_since: 0,
        clear_child_tid: 0,
        robust_list: 0,
        sigtramp: l.sigtramp,
        arg_start: l.arg_start,
        arg_end: l.arg_end,
        env_start: l.env_start,
        env_end: l.env_end,
        start_ticks: timer::ticks(),
        hiwater_rss: 0,
        frame: l.frame,
        // The first process runs on the boot stack (see `sched::run_first`).
        kstack: None,
        ctx: Default::default(),
        fp: crate::task::sigframe::FpState::default(),
        tpidr: 0,
        wait: None,
        sleep_deadline: None,
        fifo_wait: None,
        vfork_parent: None,
        futex_woken: false,
        pdeath_signal: 0,
        cpus_allowed: u64::MAX,
        stop_pending: false,
        timer_slack_ns: crate::task::process::DEFAULT_TIMER_SLACK_NS,
        default_timer_slack_ns: crate::task::process::DEFAULT_TIMER_SLACK_NS,
        stopped: None,
        report: None,
        exit: None,
    })
}

/// Loads a static executable into a new address space (`load_elf_binary` up to
/// `START_THREAD`): `execfn` is the name the program was run by (`AT_EXECFN`), `exe` the file's
/// own path (`/proc/self/exe`, the maps); `rlimits` are the caller's (the stack limit sizes the arguments' room),
/// `privileged` stands for `CAP_IPC_LOCK`. Nothing of the caller changes: a failure leaves it
/// as it was.
// The arguments are the parts of Linux's `linux_binprm` this loader needs, passed as they are.
#[allow(clippy::too_many_arguments)]
pub fn load(
    image: &[u8],
    backing: Backing,
    execfn: &[u8],
    exe: &str,
    argv: &[&[u8]],
    envp: &[&[u8]],
    rlimits: Option<crate::mm::mm_struct::Rlimits>,
    privileged: bool,
    interp: InterpLookup<'_>,
) -> Result<Loaded, ExecError> {
    let randomize = RANDOMIZE.load(core::sync::atomic::Ordering::Relaxed);
    let rnd = |range: usize| {
        if randomize {
            random::randomize_page(0, range)
        } else {
            0
        }
    };
    let plan =
        ElfPlan::parse(image, ELF_ET_DYN_BASE + rnd(MMAP_RND_RANGE)).map_err(ExecError::Elf)?;
    let file: Arc<str> = Arc::from(exe);
    let interpreter = match &plan.interp {
        Some(path) => Some(interp(path).map_err(ExecError::Interpreter)?),
        None => None,
    };

    let aspace = VmSpace::new().map_err(|_| MmError::NoMemory)?;
    let mut mm = MmStruct::new(aspace);
    mm.totalram_pages = FRAMES.lock().total_frames();
    if let Some(r) = rlimits {
        mm.rlimits = r;
    }
    // Root stands for CAP_IPC_LOCK (see Creds).
    mm.privileged = privileged;
    mm.arch_pick_mmap_layout();
    mm.mmap_base -= rnd(MMAP_RND_RANGE);

    map_segments(&mut mm, &plan, image, &file, &backing)?;
    // `load_elf_interp`: the interpreter goes where an mmap of its whole span would, and the
    // program starts at its entry, told of its own by the auxiliary vector.
    let mut interp_at = None;
    if let Some((bytes, name, ibacking)) = &interpreter {
        let probe = ElfPlan::parse(bytes, ELF_ET_DYN_BASE).map_err(ExecError::BadInterpreter)?;
        let lo = probe
            .segments
            .iter()
            .map(Segment::map_start)
            .min()
            .unwrap_or(0);
        let hi = probe
            .segments
            .iter()
            .map(Segment::map_end)
            .max()
            .unwrap_or(0);
        let span = hi - lo + probe.max_align;
        let base = if probe.is_pie {
            let area = get_unmapped_area(&mm, 0, span, 0)?;
            (area + probe.max_align - 1) & !(probe.max_align - 1)
        } else {
            0
        };
        let iplan = ElfPlan::parse(bytes, base).map_err(ExecError::BadInterpreter)?;
        map_segments(&mut mm, &iplan, bytes, name, ibacking)?;
        let load_addr = iplan
            .segments
            .iter()
            .map(Segment::map_start)
            .min()
            .unwrap_or(0);
        interp_at = Some((iplan.entry, load_addr));
    }
    mm.start_code = plan.start_code;
    mm.end_code = plan.end_code;
    mm.start_data = plan.start_data;
    mm.end_data = plan.end_data;
    let brk = plan.start_brk();
    mm.start_brk = if randomize {
        // A static-pie's heap starts from ELF_ET_DYN_BASE; a program with an interpreter keeps
        // its heap after its .bss (`load_elf_binary`).
        let base = if plan.is_pie && plan.interp.is_none() {
            ELF_ET_DYN_BASE
        } else {
            brk + PAGE_SIZE
        };
        random::randomize_page(base, BRK_RND_RANGE)
    } else {
        brk
    };
    mm.brk = mm.start_brk;

    // The signal-return trampoline, for handlers without SA_RESTORER (glibc's).
    let tramp_flags = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYEXEC;
    let sigtramp = get_unmapped_area(&mm, 0, PAGE_SIZE, 0)?;
    mmap_region(
        &mut mm,
        sigtramp,
        PAGE_SIZE,
        tramp_flags,
        0,
        Some(Arc::from("[sigpage]")),
    )?;
    let code: Vec<u8> = SIGTRAMP_CODE.iter().flat_map(|i| i.to_le_bytes()).collect();
    fill(&mut mm, sigtramp, &code, tramp_flags)?;

    // The stack: arguments at the top, then STACK_EXPAND more below for the program to grow into.
    let stack_top = (TASK_SIZE - rnd(STACK_RND_RANGE)) & !15;
    let (hwcap, hwcap2) = elf_hwcaps(&cpu::id_registers());
    let mut aux = AuxvValues::for_plan(&plan, hwcap, hwcap2, FRAME_BYTES + 16);
    if let Some((_, base)) = interp_at {
        aux.base = base;
    }
    let mut at_random = [0u8; 16];
    random::fill(&mut at_random);
    let stack_limit = mm.rlimits.stack.cur;
    let st = build_initial_stack(stack_top, argv, envp, execfn, at_random, &aux, stack_limit)
        .map_err(ExecError::Stack)?;
    let mut stack_flags = VM_STACK_FLAGS;
    if plan.stack_exec {
        stack_flags |= VM_EXEC;
    }
    let stack_end = page_align_up(stack_top).ok_or(MmError::NoMemory)?;
    let stack_start = (st.sp & !(PAGE_SIZE - 1)) - STACK_EXPAND;
    mmap_region(
        &mut mm,
        stack_start,
        stack_end - stack_start,
        stack_flags,
        0,
        None,
    )?;
    // The arguments are the stack's first anonymous pages, as Linux's `copy_strings` makes them.
    mm.anon_vma_prepare_at(st.sp);
    fill(&mut mm, st.sp, &st.image, stack_flags)?;
    mm.start_stack = st.sp;

    let frame = TrapFrame {
        elr: interp_at.map_or(plan.entry, |(entry, _)| entry) as u64,
        sp_el0: st.sp as u64,
        spsr: 0, // EL0t, interrupts unmasked
        ..Default::default()
    };
    Ok(Loaded {
        mm,
        frame,
        sigtramp,
        arg_start: st.arg_start,
        arg_end: st.arg_end,
        env_start: st.env_start,
        env_end: st.env_end,
        exe: file,
    })
}
