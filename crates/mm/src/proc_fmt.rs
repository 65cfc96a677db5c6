//! Text of /proc/self/maps and the Vm* lines of /proc/self/status, byte for byte as Linux 6.x
//! prints them (`show_map_vma`, `show_vma_header_prefix`, `task_mem` in fs/proc/task_mmu.c).
use alloc::string::String;
use core::fmt::{self, Write};

use super::addr::{page_align_up, PAGE_MASK, PAGE_SHIFT};
use super::mm_struct::{MmStruct, PageTableOps};
use super::vma::{Vma, VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE};

/// Linux `vma_is_initial_heap`: any VMA overlapping `[start_brk, brk]` is shown as `[heap]`.
pub fn vma_is_initial_heap<P: PageTableOps>(mm: &MmStruct<P>, vma: &Vma) -> bool {
    vma.start <= mm.brk && vma.end >= mm.start_brk
}

/// Linux `vma_is_initial_stack`: the VMA containing `start_stack` is `[stack]`.
pub fn vma_is_initial_stack<P: PageTableOps>(mm: &MmStruct<P>, vma: &Vma) -> bool {
    vma.start <= mm.start_stack && vma.end >= mm.start_stack
}

/// Width Linux pads the header to before the name (`25 + sizeof(void *) * 6 - 1`).
pub(crate) const NAME_COLUMN: usize = 72;

/// One maps line: `start-end perms offset dev inode`, then the name padded to column 73.
pub fn show_map_vma<P: PageTableOps, W: Write>(
    w: &mut W,
    mm: &MmStruct<P>,
    vma: &Vma,
) -> fmt::Result {
    let flag = |f, c| if vma.flags.contains(f) { c } else { '-' };
    let share = if vma.flags.contains(VM_MAYSHARE) {
        's'
    } else {
        'p'
    };
    let offset = if vma.file.is_some() {
        vma.pgoff << PAGE_SHIFT
    } else {
        0
    };
    // `MAJOR:MINOR inode` of the mapped object (`show_vma_header_prefix`), from its
    // `new_encode_dev` number.
    let (dev, ino) = vma.ident();
    let (major, minor) = ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    let mut line = String::new();
    write!(
        line,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        vma.start,
        vma.end,
        flag(VM_READ, 'r'),
        flag(VM_WRITE, 'w'),
        flag(VM_EXEC, 'x'),
        share,
        offset,
        major,
        minor,
        ino
    )?;
    let name = match vma.name() {
        Some(path) => Some(&**path),
        None if vma_is_initial_heap(mm, vma) => Some("[heap]"),
        None if vma_is_initial_stack(mm, vma) => Some("[stack]"),
        None => None,
    };
    if let Some(name) = name {
        while line.len() < NAME_COLUMN {
            line.push(' ');
        }
        line.push(' ');
        line.push_str(name);
    }
    line.push('\n');
    w.write_str(&line)
}

/// The whole of /proc/self/maps.
pub fn show_maps<P: PageTableOps, W: Write>(w: &mut W, mm: &MmStruct<P>) -> fmt::Result {
    for vma in mm.vmas() {
        show_map_vma(w, mm, vma)?;
    }
    Ok(())
}

/// Resident-set figures only the page-table side knows, in pages (VmPTE in bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RssInfo {
    pub anon: usize,
    pub file: usize,
    pub shmem: usize,
    /// Peak resident pages seen so far (VmHWM); the current total is used when larger.
    pub hiwater_rss: usize,
    pub pte_bytes: usize,
}

/// The `VmPeak:` … `VmSwap:` lines of /proc/self/status (Linux `task_mem`), values in kB right-aligned
/// to eight columns.
pub fn show_status_vm<P: PageTableOps, W: Write>(
    w: &mut W,
    mm: &MmStruct<P>,
    rss: &RssInfo,
) -> fmt::Result {
    let c = mm.counters();
    let kb = |pages: usize| pages << (PAGE_SHIFT - 10);
    let total_rss = rss.anon + rss.file + rss.shmem;
    let text_bytes = page_align_up(mm.end_code)
        .unwrap_or(0)
        .saturating_sub(mm.start_code & PAGE_MASK);
    let text_bytes = text_bytes.min(c.exec_vm << PAGE_SHIFT);
    let lib_bytes = (c.exec_vm << PAGE_SHIFT) - text_bytes;
    let lines: [(&str, usize); 15] = [
        ("VmPeak", kb(c.hiwater_vm.max(c.total_vm))),
        ("VmSize", kb(c.total_vm)),
        ("VmLck", kb(c.locked_vm)),
        ("VmPin", 0),
        ("VmHWM", kb(rss.hiwater_rss.max(total_rss))),
        ("VmRSS", kb(total_rss)),
        ("RssAnon", kb(rss.anon)),
        ("RssFile", kb(rss.file)),
        ("RssShmem", kb(rss.shmem)),
        ("VmData", kb(c.data_vm)),
        ("VmStk", kb(c.stack_vm)),
        ("VmExe", text_bytes >> 10),
        ("VmLib", lib_bytes >> 10),
        ("VmPTE", rss.pte_bytes >> 10),
        ("VmSwap", 0),
    ];
    for (name, value) in lines {
        writeln!(w, "{name}:\t{value:>8} kB")?;
    }
    Ok(())
}
