//! ELF loading plan for static AArch64 executables, after Linux's `fs/binfmt_elf.c` (`load_elf_binary`).
//!
//! Parsing is separated from mapping: [`ElfPlan::parse`] validates the file and says which pages to map
//! with which protection and where the break, the code and the data end; the kernel then creates the
//! VMAs and fills private pages from [`Segment::pages`]. Everything here is pure and portable so that
//! hostile files are tested on the host. `ET_EXEC` and `ET_DYN` are accepted; a `PT_INTERP` names the
//! program's interpreter (the dynamic loader), which the kernel loads beside it with a plan of its own.
//!
//! The ELF and program headers are decoded by the `elf` crate (fuzzed, bounds-checked); this module
//! applies Linux's rules to them with checked arithmetic throughout: no input makes it panic (a property
//! test feeds it random bytes and mutated executables).
use alloc::vec::Vec;
use core::fmt;

use elf::abi::{
    EI_ABIVERSION, EI_CLASS, EI_DATA, EI_NIDENT, EI_OSABI, ELFCLASS64, ELFDATA2LSB, ELFMAGIC,
    ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD,
};
use elf::endian::LittleEndian;
use elf::file::{Class, FileHeader, ELF64_EHDR_TAILSIZE};
use elf::segment::{ProgramHeader, SegmentTable};

use crate::mm::addr::{page_align_down, PAGE_SIZE};

pub use crate::mm::layout::TASK_SIZE;

/// arm64's `ELF_ET_DYN_BASE` (two thirds of the 48-bit window), a sensible `pie_base` for static-pie
/// programs: far from both the low executable area and the top-down mmap area below the stack.
pub const ELF_ET_DYN_BASE: usize = 2 * TASK_SIZE / 3;

/// `sizeof(Elf64_Phdr)`: the value of `AT_PHENT`, and the only `e_phentsize` Linux accepts.
pub const PHDR_SIZE: usize = 56;
const EHDR_SIZE: usize = EI_NIDENT + ELF64_EHDR_TAILSIZE;
/// Linux refuses program header tables larger than 64 KiB (`e_phnum > 65536 / sizeof(phdr)`).
const MAX_PHDR_TABLE: usize = 65536;

/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = elf::abi::EM_AARCH64;

/// Why a file cannot be loaded. Indices count program headers in file order, as `readelf -l` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with `\x7fELF`.
    NotElf,
    /// `EI_CLASS` is not `ELFCLASS64`.
    WrongClass(u8),
    /// `EI_DATA` is not little-endian.
    WrongEndian(u8),
    /// `e_machine` is not `EM_AARCH64`.
    WrongMachine(u16),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable(u16),
    /// `e_phentsize` is not 56, or `e_phnum` is 0 or makes the table larger than 64 KiB.
    BadProgramHeaderTable { phentsize: u16, phnum: u16 },
    /// The ELF header or the program header table extends past the end of the file.
    TruncatedHeaders,
    /// A `PT_LOAD`'s file range `[p_offset, p_offset + p_filesz)` extends past the end of the file.
    TruncatedSegment { index: usize },
    /// A `PT_LOAD` has `p_filesz > p_memsz`.
    FileSizeExceedsMemSize { index: usize },
    /// Two `PT_LOAD`s cover a common byte of memory.
    OverlappingSegments { first: usize, second: usize },
    /// A `PT_LOAD` (after relocation by the load bias) wraps, touches the NULL page, or ends past
    /// `TASK_SIZE`.
    SegmentOutOfRange { index: usize },
    /// The entry point (after relocation) is not a user address.
    EntryOutOfRange,
    /// `p_vaddr` and `p_offset` differ modulo the page size, so the file cannot be mapped page by page.
    MisalignedSegment { index: usize },
    /// A `PT_INTERP` whose path is shorter than 2 or longer than `PATH_MAX` bytes, lies outside
    /// the file, or does not end with a NUL (`ENOEXEC`, as Linux).
    BadInterpreterPath,
    /// No `PT_LOAD` at all: nothing to run.
    NoLoadSegments,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotElf => write!(f, "not an ELF file (bad magic)"),
            Self::WrongClass(c) => write!(f, "not a 64-bit ELF file (EI_CLASS {c})"),
            Self::WrongEndian(d) => write!(f, "not a little-endian ELF file (EI_DATA {d})"),
            Self::WrongMachine(m) => {
                write!(f, "ELF file is for machine {m}, not AArch64 ({EM_AARCH64})")
            }
            Self::NotExecutable(t) => write!(
                f,
                "ELF type {t} is not an executable (need ET_EXEC or static-pie ET_DYN)"
            ),
            Self::BadProgramHeaderTable { phentsize, phnum } => write!(
                f,
                "bad program header table: e_phentsize {phentsize} (need {PHDR_SIZE}), e_phnum {phnum}"
            ),
            Self::TruncatedHeaders => write!(f, "ELF headers extend past the end of the file"),
            Self::TruncatedSegment { index } => {
                write!(f, "segment {index}: file data extends past the end of the file")
            }
            Self::FileSizeExceedsMemSize { index } => {
                write!(f, "segment {index}: p_filesz is larger than p_memsz")
            }
            Self::OverlappingSegments { first, second } => {
                write!(f, "segments {first} and {second} overlap in memory")
            }
            Self::SegmentOutOfRange { index } => write!(
                f,
                "segment {index}: addresses overflow or lie outside user space [{PAGE_SIZE:#x}, {TASK_SIZE:#x})"
            ),
            Self::EntryOutOfRange => write!(f, "entry point is not a user-space address"),
            Self::MisalignedSegment { index } => write!(
                f,
                "segment {index}: p_vaddr and p_offset are not congruent modulo the page size"
            ),
            Self::BadInterpreterPath => write!(f, "PT_INTERP does not hold a usable path"),
            Self::NoLoadSegments => write!(f, "no PT_LOAD segment"),
        }
    }
}

/// Memory protection of a segment, with Linux's `PROT_*` bit values so that it feeds `mmap`-style code
/// directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot(u32);

impl Prot {
    pub const NONE: Self = Self(0);
    pub const READ: Self = Self(1);
    pub const WRITE: Self = Self(2);
    pub const EXEC: Self = Self(4);

    pub const fn bits(self) -> u32 {
        self.0
    }
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// Linux's `make_prot`: PF_R/PF_W/PF_X to PROT_READ/PROT_WRITE/PROT_EXEC (no BTI: tidemark does
    /// not advertise HWCAP2_BTI, so PROT_BTI is never wanted).
    const fn from_p_flags(p_flags: u32) -> Self {
        let mut bits = 0;
        if p_flags & PF_R != 0 {
            bits |= Self::READ.0;
        }
        if p_flags & PF_W != 0 {
            bits |= Self::WRITE.0;
        }
        if p_flags & PF_X != 0 {
            bits |= Self::EXEC.0;
        }
        Self(bits)
    }
}

/// One `PT_LOAD`, already relocated by the load bias. `vaddr..vaddr + memsz` is what the program may use;
/// the VMA covers the whole pages around it (`map_start..map_end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: usize,
    pub memsz: usize,
    pub filesz: usize,
    pub file_offset: usize,
    pub prot: Prot,
}

impl Segment {
    /// First byte past the segment (`vaddr + memsz`); never above `TASK_SIZE`.
    pub const fn end(&self) -> usize {
        self.vaddr + self.memsz
    }
    /// Start of the VMA: the page containing `vaddr`.
    pub const fn map_start(&self) -> usize {
        page_align_down(self.vaddr)
    }
    /// End of the VMA: `PAGE_ALIGN(vaddr + memsz)`. Cannot overflow since `end() <= TASK_SIZE`.
    pub const fn map_end(&self) -> usize {
        page_align_down(self.end() + PAGE_SIZE - 1)
    }

    /// The content of every page of the segment, lowest first, as Linux's mapping produces it.
    ///
    /// Linux maps whole file pages (`p_offset` rounded down), so bytes of the file before `vaddr` in the
    /// first page and after `vaddr + filesz` in the last file page are visible, except that when the
    /// segment has a .bss (`memsz > filesz`) the tail of the last file page is zeroed (`padzero`). Pages
    /// wholly past the file data, and all pages of a segment with `filesz == 0`, are anonymous zero
    /// pages (`vm_brk_flags`); their chunks have empty `data`, and the kernel may leave them to
    /// demand-zero faults. When two segments share a page, apply them in program-header order over the
    /// same private page: the later one's content wins, as with Linux's successive `MAP_FIXED` maps.
    ///
    /// `file` should be the file the plan was parsed from; with a shorter one the missing bytes read as
    /// zero (no panic).
    pub fn pages<'a>(&self, file: &'a [u8]) -> PageChunks<'a> {
        PageChunks {
            seg: *self,
            file,
            va: self.map_start(),
        }
    }
}

/// A page to fill: copy `data` to the start of the page at `va` and zero the rest of the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageChunk<'a> {
    pub va: usize,
    pub data: &'a [u8],
}

/// Iterator returned by [`Segment::pages`].
#[derive(Clone, Debug)]
pub struct PageChunks<'a> {
    seg: Segment,
    file: &'a [u8],
    va: usize,
}

impl<'a> Iterator for PageChunks<'a> {
    type Item = PageChunk<'a>;

    fn next(&mut self) -> Option<PageChunk<'a>> {
        let seg = &self.seg;
        if self.va >= seg.map_end() {
            return None;
        }
        let va = self.va;
        self.va += PAGE_SIZE;
        let file_end_va = seg.vaddr + seg.filesz;
        if seg.filesz == 0 || va >= file_end_va {
            return Some(PageChunk { va, data: &[] });
        }
        let file_off = page_align_down(seg.file_offset).saturating_add(va - seg.map_start());
        let mut len = PAGE_SIZE.min(self.file.len().saturating_sub(file_off));
        if seg.memsz > seg.filesz {
            // padzero: the .bss part of the last file page must read as zero.
            len = len.min(file_end_va - va);
        }
        let data = self.file.get(file_off..file_off + len).unwrap_or(&[]);
        Some(PageChunk { va, data })
    }
}

/// Everything the kernel needs from an executable to build its address space and initial stack.
/// Addresses are final (load bias applied). Field names follow `struct mm_struct` and `load_elf_binary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfPlan {
    /// Where to `eret` to (`AT_ENTRY`).
    pub entry: usize,
    /// Added to every `p_vaddr`: 0 for `ET_EXEC`.
    pub load_bias: usize,
    /// The `PT_LOAD`s in program-header order.
    pub segments: Vec<Segment>,
    /// Address of the program header table in memory (`AT_PHDR`), found like Linux 6.x: inside the
    /// `PT_LOAD` whose file range holds `e_phoff`; 0 when none does (static glibc then falls back to
    /// `__ehdr_start`).
    pub phdr_vaddr: usize,
    /// `AT_PHENT`.
    pub phent: usize,
    /// `AT_PHNUM`.
    pub phnum: usize,
    /// Lowest `p_vaddr` of an executable segment (0 if there is none).
    pub start_code: usize,
    /// Highest file end (`p_vaddr + p_filesz`) of an executable segment (0 if there is none).
    pub end_code: usize,
    /// Highest `p_vaddr` of any `PT_LOAD` (Linux's choice, which `check_data_rlimit` relies on).
    pub start_data: usize,
    /// Highest file end of any `PT_LOAD` (Linux's `elf_bss`, `mm->end_data`).
    pub end_data: usize,
    /// Highest `p_vaddr + p_memsz` (Linux's `elf_brk`): the end of .bss, unaligned.
    pub end_bss: usize,
    /// `PT_GNU_STACK` has PF_X. Without `PT_GNU_STACK` arm64's default applies: not executable.
    pub stack_exec: bool,
    /// `ET_DYN` (static-pie).
    pub is_pie: bool,
    /// Largest power-of-two `p_align` of a `PT_LOAD`, at least `PAGE_SIZE`.
    pub max_align: usize,
    /// The interpreter's path from `PT_INTERP` (without its NUL): a dynamically linked program.
    pub interp: Option<Vec<u8>>,
}

/// The ELF header. Linux's checks on `e_ident` come first and are made here (magic, then class and
/// byte order; like `load_elf_binary`, `EI_VERSION` is not looked at, which is why the crate's
/// `parse_ident`, which insists on `EV_CURRENT`, is not used); the crate decodes the rest. Not
/// `ElfBytes::minimal_parse` either: it also demands a well-formed section header table, which a
/// loader must ignore (Linux runs files whose section headers are missing or garbage).
fn file_header(file: &[u8]) -> Result<FileHeader<LittleEndian>, ElfError> {
    if file.get(..ELFMAGIC.len()) != Some(ELFMAGIC.as_slice()) {
        return Err(ElfError::NotElf);
    }
    let (ident, tail) = file
        .get(..EHDR_SIZE)
        .ok_or(ElfError::TruncatedHeaders)?
        .split_at(EI_NIDENT);
    match (ident[EI_CLASS], ident[EI_DATA]) {
        (ELFCLASS64, ELFDATA2LSB) => {}
        (ELFCLASS64, data) => return Err(ElfError::WrongEndian(data)),
        (class, _) => return Err(ElfError::WrongClass(class)),
    }
    let ident = (
        LittleEndian,
        Class::ELF64,
        ident[EI_OSABI],
        ident[EI_ABIVERSION],
    );
    // The crate can only fail on a short buffer, and `tail` has exactly the 64-bit header's size.
    FileHeader::parse_tail(ident, tail).map_err(|_| ElfError::TruncatedHeaders)
}

/// The program header table, with the limits on its shape of Linux's `load_elf_phdrs`. The crate
/// decodes the entries.
fn program_headers(
    file: &[u8],
    ehdr: &FileHeader<LittleEndian>,
) -> Result<Vec<ProgramHeader>, ElfError> {
    let (phentsize, phnum) = (ehdr.e_phentsize, ehdr.e_phnum);
    // At most 65535 * 56 bytes: no overflow.
    let size = usize::from(phnum) * PHDR_SIZE;
    if usize::from(phentsize) != PHDR_SIZE || phnum == 0 || size > MAX_PHDR_TABLE {
        return Err(ElfError::BadProgramHeaderTable { phentsize, phnum });
    }
    let table = usize::try_from(ehdr.e_phoff)
        .ok()
        .and_then(|start| file.get(start..start.checked_add(size)?))
        .ok_or(ElfError::TruncatedHeaders)?;
    let phdrs: Vec<ProgramHeader> = SegmentTable::new(LittleEndian, Class::ELF64, table)
        .iter()
        .collect();
    // The iterator stops at the first entry it cannot decode; none can fail in a table this size.
    if phdrs.len() != usize::from(phnum) {
        return Err(ElfError::TruncatedHeaders);
    }
    Ok(phdrs)
}

impl ElfPlan {
    /// Validates `file` and computes where everything goes.
    ///
    /// For a static-pie (`ET_DYN`) the lowest page of the image lands at `pie_base` rounded down to
    /// [`ElfPlan::max_align`] (as Linux aligns `load_bias` since 5.10); [`ELF_ET_DYN_BASE`] is a good
    /// default. `pie_base` is ignored for `ET_EXEC`.
    pub fn parse(file: &[u8], pie_base: usize) -> Result<Self, ElfError> {
        let ehdr = file_header(file)?;
        let is_pie = match ehdr.e_type {
            ET_EXEC => false,
            ET_DYN => true,
            t => return Err(ElfError::NotExecutable(t)),
        };
        if ehdr.e_machine != EM_AARCH64 {
            return Err(ElfError::WrongMachine(ehdr.e_machine));
        }
        let phdrs = program_headers(file, &ehdr)?;

        // Linux looks for PT_INTERP first (the first one counts) and checks its path before the
        // segments are judged.
        let interp = match phdrs.iter().find(|p| p.p_type == PT_INTERP) {
            None => None,
            Some(p) => {
                const PATH_MAX: u64 = 4096;
                if p.p_filesz < 2 || p.p_filesz > PATH_MAX {
                    return Err(ElfError::BadInterpreterPath);
                }
                let path = usize::try_from(p.p_offset)
                    .ok()
                    .and_then(|o| file.get(o..o.checked_add(p.p_filesz as usize)?))
                    .ok_or(ElfError::BadInterpreterPath)?;
                let (&last, name) = path.split_last().ok_or(ElfError::BadInterpreterPath)?;
                if last != 0 {
                    return Err(ElfError::BadInterpreterPath);
                }
                // The name ends at its first NUL, as `open_exec` reads it.
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                Some(name[..end].to_vec())
            }
        };
        // The last PT_GNU_STACK wins, as in Linux's loop over the headers.
        let stack_exec = phdrs
            .iter()
            .rev()
            .find(|p| p.p_type == PT_GNU_STACK)
            .is_some_and(|p| p.p_flags & PF_X != 0);
        let loads: Vec<(usize, &ProgramHeader)> = phdrs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_type == PT_LOAD)
            .collect();
        if loads.is_empty() {
            return Err(ElfError::NoLoadSegments);
        }

        let max_align = loads
            .iter()
            .map(|(_, p)| p.p_align)
            .filter(|a| a.is_power_of_two() && *a <= TASK_SIZE as u64)
            .fold(PAGE_SIZE, |m, a| m.max(a as usize));

        // Relocation: for ET_DYN the lowest PT_LOAD page moves to the aligned base.
        let min_page = loads
            .iter()
            .map(|(_, p)| page_align_down(p.p_vaddr as usize))
            .min()
            .unwrap_or(0);
        let base = pie_base & !(max_align - 1);
        let relocate = |v: u64| -> Option<usize> {
            let v = usize::try_from(v).ok()?;
            if is_pie {
                v.checked_sub(min_page)?.checked_add(base)
            } else {
                Some(v)
            }
        };
        let load_bias = if is_pie {
            base.wrapping_sub(min_page)
        } else {
            0
        };

        let mut segments = Vec::with_capacity(loads.len());
        for &(index, p) in &loads {
            if p.p_filesz > p.p_memsz {
                return Err(ElfError::FileSizeExceedsMemSize { index });
            }
            let in_file = p
                .p_offset
                .checked_add(p.p_filesz)
                .is_some_and(|end| end <= file.len() as u64);
            if !in_file {
                return Err(ElfError::TruncatedSegment { index });
            }
            if (p.p_offset ^ p.p_vaddr) & (PAGE_SIZE as u64 - 1) != 0 {
                return Err(ElfError::MisalignedSegment { index });
            }
            let out_of_range = ElfError::SegmentOutOfRange { index };
            let vaddr = relocate(p.p_vaddr).ok_or(out_of_range)?;
            let memsz = usize::try_from(p.p_memsz).map_err(|_| out_of_range)?;
            let end = vaddr.checked_add(memsz).ok_or(out_of_range)?;
            if page_align_down(vaddr) < PAGE_SIZE || end > TASK_SIZE {
                return Err(out_of_range);
            }
            segments.push(Segment {
                vaddr,
                memsz,
                // Both fit in usize: they are bounded by the file length checked above.
                filesz: p.p_filesz as usize,
                file_offset: p.p_offset as usize,
                prot: Prot::from_p_flags(p.p_flags),
            });
        }

        let mut order: Vec<(usize, usize)> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.vaddr, i))
            .collect();
        order.sort_unstable();
        for pair in order.windows(2) {
            let (a, b) = (&segments[pair[0].1], &segments[pair[1].1]);
            // Empty segments occupy no byte and overlap nothing.
            if a.memsz != 0 && b.memsz != 0 && a.end() > b.vaddr {
                return Err(ElfError::OverlappingSegments {
                    first: loads[pair[0].1].0.min(loads[pair[1].1].0),
                    second: loads[pair[0].1].0.max(loads[pair[1].1].0),
                });
            }
        }

        let entry = relocate(ehdr.e_entry)
            .filter(|&e| e < TASK_SIZE)
            .ok_or(ElfError::EntryOutOfRange)?;

        let mut phdr_vaddr = 0;
        for (&(_, p), seg) in loads.iter().zip(&segments) {
            // `e_phoff - p_offset < p_filesz <= p_memsz` and `vaddr + p_memsz <= TASK_SIZE`: no overflow.
            if p.p_offset <= ehdr.e_phoff && ehdr.e_phoff - p.p_offset < p.p_filesz {
                phdr_vaddr = seg.vaddr + (ehdr.e_phoff - p.p_offset) as usize;
            }
        }

        let exec = || segments.iter().filter(|s| s.prot.contains(Prot::EXEC));
        let file_end = |s: &Segment| s.vaddr + s.filesz;
        Ok(Self {
            entry,
            load_bias,
            phdr_vaddr,
            phent: PHDR_SIZE,
            phnum: phdrs.len(),
            start_code: exec().map(|s| s.vaddr).min().unwrap_or(0),
            end_code: exec().map(file_end).max().unwrap_or(0),
            start_data: segments.iter().map(|s| s.vaddr).max().unwrap_or(0),
            end_data: segments.iter().map(file_end).max().unwrap_or(0),
            end_bss: segments.iter().map(Segment::end).max().unwrap_or(0),
            stack_exec,
            is_pie,
            max_align,
            segments,
            interp,
        })
    }

    /// `start_brk` without randomisation: `PAGE_ALIGN(end_bss)`, like `load_elf_binary`. Never above
    /// `TASK_SIZE`.
    pub const fn start_brk(&self) -> usize {
        page_align_down(self.end_bss + PAGE_SIZE - 1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// A program header for [`build_elf`].
    #[derive(Clone, Copy)]
    pub(crate) struct Ph {
        pub p_type: u32,
        pub flags: u32,
        pub offset: u64,
        pub vaddr: u64,
        pub filesz: u64,
        pub memsz: u64,
        pub align: u64,
    }

    pub(crate) fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 0x10000,
        }
    }

    /// Writes an ELF64 AArch64 file of `len` bytes (filled with a position-dependent pattern) with the
    /// given type, entry and program headers at offset 64.
    pub(crate) fn build_elf(e_type: u16, entry: u64, phdrs: &[Ph], len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        f[..EHDR_SIZE].fill(0);
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = ELFCLASS64;
        f[5] = ELFDATA2LSB;
        f[6] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, p) in phdrs.iter().enumerate() {
            let o = EHDR_SIZE + i * PHDR_SIZE;
            let h = &mut f[o..o + PHDR_SIZE];
            h.fill(0);
            h[0..4].copy_from_slice(&p.p_type.to_le_bytes());
            h[4..8].copy_from_slice(&p.flags.to_le_bytes());
            h[8..16].copy_from_slice(&p.offset.to_le_bytes());
            h[16..24].copy_from_slice(&p.vaddr.to_le_bytes());
            h[24..32].copy_from_slice(&p.vaddr.to_le_bytes());
            h[32..40].copy_from_slice(&p.filesz.to_le_bytes());
            h[40..48].copy_from_slice(&p.memsz.to_le_bytes());
            h[48..56].copy_from_slice(&p.align.to_le_bytes());
        }
        f
    }

    /// Shaped like GNU ld's static glibc output: RX text from offset 0 (headers included), RW data with
    /// .bss at a congruent address 64 KiB further, GNU_STACK RW, a TLS header.
    pub(crate) fn glibc_like() -> Vec<u8> {
        build_elf(
            ET_EXEC,
            0x400140,
            &[
                load(PF_R | PF_X, 0, 0x400000, 0x2a8c, 0x2a8c),
                load(PF_R | PF_W, 0x2b28, 0x412b28, 0x5a0, 0x3b38),
                Ph {
                    p_type: 7, // PT_TLS
                    flags: PF_R,
                    offset: 0x2b28,
                    vaddr: 0x412b28,
                    filesz: 0x10,
                    memsz: 0x20,
                    align: 8,
                },
                Ph {
                    p_type: PT_GNU_STACK,
                    flags: PF_R | PF_W,
                    offset: 0,
                    vaddr: 0,
                    filesz: 0,
                    memsz: 0,
                    align: 16,
                },
            ],
            0x3200,
        )
    }

    #[test]
    fn parses_static_exec_like_linux() {
        let f = glibc_like();
        let p = ElfPlan::parse(&f, ELF_ET_DYN_BASE).unwrap();
        assert_eq!(p.entry, 0x400140);
        assert_eq!(p.load_bias, 0);
        assert!(!p.is_pie && !p.stack_exec);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].prot, Prot::READ.union(Prot::EXEC));
        assert_eq!(p.segments[1].prot, Prot::READ.union(Prot::WRITE));
        assert_eq!((p.phdr_vaddr, p.phent, p.phnum), (0x400040, 56, 4));
        assert_eq!((p.start_code, p.end_code), (0x400000, 0x402a8c));
        assert_eq!((p.start_data, p.end_data), (0x412b28, 0x4130c8));
        assert_eq!(p.end_bss, 0x412b28 + 0x3b38);
        assert_eq!(p.start_brk(), 0x417000);
        assert_eq!(p.max_align, 0x10000);
        assert_eq!(
            (p.segments[1].map_start(), p.segments[1].map_end()),
            (0x412000, 0x417000)
        );
    }

    #[test]
    fn pages_follow_linux_file_mapping() {
        let f = glibc_like();
        let p = ElfPlan::parse(&f, 0).unwrap();
        let text: Vec<_> = p.segments[0].pages(&f).collect();
        assert_eq!(text.len(), 3);
        assert_eq!(text[0].va, 0x400000);
        assert_eq!(text[0].data, &f[..PAGE_SIZE]);
        // memsz == filesz: the last text page shows the file up to the page end, like a file mapping.
        assert_eq!(text[2].data, &f[0x2000..0x3000]);

        let data: Vec<_> = p.segments[1].pages(&f).collect();
        assert_eq!(
            data.iter().map(|c| c.va).collect::<Vec<_>>(),
            vec![0x412000, 0x413000, 0x414000, 0x415000, 0x416000]
        );
        // File pages from the page start of p_offset; the last one stops at the end of .data (padzero).
        assert_eq!(data[0].data, &f[0x2000..0x3000]);
        assert_eq!(data[1].data, &f[0x3000..0x30c8]);
        assert!(data[2..].iter().all(|c| c.data.is_empty()));
    }

    #[test]
    fn pages_never_read_past_a_short_file() {
        let f = glibc_like();
        let p = ElfPlan::parse(&f, 0).unwrap();
        let chunks: Vec<_> = p.segments[0].pages(&f[..100]).collect();
        assert_eq!(chunks[0].data, &f[..100]);
        assert!(chunks[1].data.is_empty());
    }

    #[test]
    fn static_pie_is_relocated_to_aligned_base() {
        let f = build_elf(
            ET_DYN,
            0x1234,
            &[
                load(PF_R | PF_X, 0, 0, 0x2000, 0x2000),
                load(PF_R | PF_W, 0x2000, 0x12000, 0x100, 0x5000),
                Ph {
                    p_type: PT_GNU_STACK,
                    flags: PF_R | PF_W | PF_X,
                    offset: 0,
                    vaddr: 0,
                    filesz: 0,
                    memsz: 0,
                    align: 16,
                },
            ],
            0x2100,
        );
        let p = ElfPlan::parse(&f, ELF_ET_DYN_BASE).unwrap();
        let base = ELF_ET_DYN_BASE & !0xffff;
        assert!(p.is_pie && p.stack_exec);
        assert_eq!(p.load_bias, base);
        assert_eq!(p.entry, base + 0x1234);
        assert_eq!(p.segments[1].vaddr, base + 0x12000);
        assert_eq!(p.phdr_vaddr, base + 64);
        assert_eq!(p.end_bss, base + 0x17000);
    }

    fn err(f: &[u8]) -> ElfError {
        ElfPlan::parse(f, ELF_ET_DYN_BASE).unwrap_err()
    }

    fn patch(mut f: Vec<u8>, off: usize, bytes: &[u8]) -> Vec<u8> {
        f[off..off + bytes.len()].copy_from_slice(bytes);
        f
    }

    #[test]
    fn refuses_bad_headers() {
        let good = glibc_like();
        assert_eq!(err(b"#!/bin/sh\n"), ElfError::NotElf);
        assert_eq!(err(&good[..40]), ElfError::TruncatedHeaders);
        assert_eq!(err(&patch(good.clone(), 4, &[1])), ElfError::WrongClass(1));
        assert_eq!(err(&patch(good.clone(), 5, &[2])), ElfError::WrongEndian(2));
        assert_eq!(
            err(&patch(good.clone(), 18, &62u16.to_le_bytes())),
            ElfError::WrongMachine(62)
        );
        assert_eq!(
            err(&patch(good.clone(), 16, &1u16.to_le_bytes())),
            ElfError::NotExecutable(1)
        );
        assert!(matches!(
            err(&patch(good.clone(), 54, &32u16.to_le_bytes())),
            ElfError::BadProgramHeaderTable { .. }
        ));
        assert!(matches!(
            err(&patch(good.clone(), 56, &0u16.to_le_bytes())),
            ElfError::BadProgramHeaderTable { .. }
        ));
        assert_eq!(
            err(&patch(good.clone(), 32, &0x3180u64.to_le_bytes())),
            ElfError::TruncatedHeaders
        );
        assert_eq!(
            err(&patch(good, 32, &u64::MAX.to_le_bytes())),
            ElfError::TruncatedHeaders
        );
    }

    /// Like `load_elf_binary`, and unlike the crate's `ElfBytes::minimal_parse`: `EI_VERSION` and the
    /// section header table (here garbage, past the end of the file) are not looked at.
    #[test]
    fn ignores_what_linux_ignores() {
        let mut f = patch(glibc_like(), 6, &[0]);
        f = patch(f, 40, &u64::MAX.to_le_bytes());
        f = patch(f, 58, &[7, 0, 0xff, 0xff]);
        assert_eq!(ElfPlan::parse(&f, 0), ElfPlan::parse(&glibc_like(), 0));
    }

    fn one(ph: &[Ph]) -> ElfError {
        err(&build_elf(ET_EXEC, 0x400000, ph, 0x3000))
    }

    #[test]
    fn records_the_interpreter_path() {
        let interp = Ph {
            p_type: PT_INTERP,
            ..load(PF_R, 0x1000, 0x401000, 11, 11)
        };
        let f = build_elf(
            ET_EXEC,
            0x400000,
            &[load(PF_R | PF_X, 0, 0x400000, 0x100, 0x100), interp],
            0x3000,
        );
        let f = patch(f, 0x1000, b"/lib/ld.so\0");
        let plan = ElfPlan::parse(&f, ELF_ET_DYN_BASE).unwrap();
        assert_eq!(plan.interp.as_deref(), Some(&b"/lib/ld.so"[..]));
        let no_nul = patch(f, 0x100a, b"x");
        assert_eq!(err(&no_nul), ElfError::BadInterpreterPath);
    }

    #[test]
    fn refuses_bad_segments() {
        let interp = Ph {
            p_type: PT_INTERP,
            ..load(PF_R, 0x200, 0x400200, 0x1b, 0x1b)
        };
        // A PT_INTERP whose bytes are not a NUL-terminated path.
        assert_eq!(
            one(&[load(PF_R | PF_X, 0, 0x400000, 0x100, 0x100), interp]),
            ElfError::BadInterpreterPath
        );
        let short = Ph {
            p_type: PT_INTERP,
            ..load(PF_R, 0x200, 0x400200, 1, 1)
        };
        assert_eq!(
            one(&[load(PF_R | PF_X, 0, 0x400000, 0x100, 0x100), short]),
            ElfError::BadInterpreterPath
        );
        assert_eq!(
            one(&[Ph {
                p_type: PT_GNU_STACK,
                ..load(PF_R, 0, 0, 0, 0)
            }]),
            ElfError::NoLoadSegments
        );
        assert_eq!(
            one(&[load(PF_R, 0, 0x400000, 0x200, 0x100)]),
            ElfError::FileSizeExceedsMemSize { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, 0x2000, 0x402000, 0x2000, 0x2000)]),
            ElfError::TruncatedSegment { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, u64::MAX, 0x400000, 2, 2)]),
            ElfError::TruncatedSegment { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, 0x10, 0x400000, 0x10, 0x10)]),
            ElfError::MisalignedSegment { index: 0 }
        );
        assert_eq!(
            one(&[
                load(PF_R, 0, 0x400000, 0x100, 0x2000),
                load(PF_R, 0x1000, 0x401000, 0x100, 0x100)
            ]),
            ElfError::OverlappingSegments {
                first: 0,
                second: 1
            }
        );
        assert_eq!(
            one(&[load(PF_R, 0, TASK_SIZE as u64, 0, 0x1000)]),
            ElfError::SegmentOutOfRange { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, 0, 0xffff_f000, 0, u64::MAX)]),
            ElfError::SegmentOutOfRange { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, 0, TASK_SIZE as u64 - 0x1000, 0, 0x2000)]),
            ElfError::SegmentOutOfRange { index: 0 }
        );
        assert_eq!(
            one(&[load(PF_R, 0, 0, 0x100, 0x100)]),
            ElfError::SegmentOutOfRange { index: 0 }
        );
        // Ends exactly at TASK_SIZE: allowed, as in Linux.
        let top = build_elf(
            ET_EXEC,
            TASK_SIZE as u64 - 0x1000,
            &[load(PF_R, 0, TASK_SIZE as u64 - 0x1000, 0, 0x1000)],
            0x200,
        );
        assert_eq!(ElfPlan::parse(&top, 0).unwrap().start_brk(), TASK_SIZE);
        let bad_entry = build_elf(
            ET_EXEC,
            TASK_SIZE as u64,
            &[load(PF_R, 0, 0x400000, 0, 0x1000)],
            0x200,
        );
        assert_eq!(err(&bad_entry), ElfError::EntryOutOfRange);
        // Sharing a page without sharing a byte is fine (lld and some ld layouts do it).
        let shared = build_elf(
            ET_EXEC,
            0x400000,
            &[
                load(PF_R | PF_X, 0, 0x400000, 0x1800, 0x1800),
                load(PF_R | PF_W, 0x1800, 0x401800, 0x100, 0x900),
            ],
            0x3000,
        );
        assert!(ElfPlan::parse(&shared, 0).is_ok());
    }

    #[test]
    fn every_error_has_a_message() {
        use alloc::string::ToString;
        let all = [
            ElfError::NotElf,
            ElfError::WrongClass(1),
            ElfError::WrongEndian(2),
            ElfError::WrongMachine(62),
            ElfError::NotExecutable(1),
            ElfError::BadProgramHeaderTable {
                phentsize: 1,
                phnum: 0,
            },
            ElfError::TruncatedHeaders,
            ElfError::TruncatedSegment { index: 1 },
            ElfError::FileSizeExceedsMemSize { index: 1 },
            ElfError::OverlappingSegments {
                first: 0,
                second: 1,
            },
            ElfError::SegmentOutOfRange { index: 0 },
            ElfError::EntryOutOfRange,
            ElfError::MisalignedSegment { index: 0 },
            ElfError::BadInterpreterPath,
            ElfError::NoLoadSegments,
        ];
        for e in all {
            assert!(e.to_string().len() > 10, "{e:?}");
        }
    }

    /// Real binaries from `scripts/build-user` (build/user/c, build/user/rust), when they have been
    /// built: a cross-check against what the toolchains actually emit. Nothing to do without them.
    #[test]
    fn parses_built_user_programs() {
        for lang in ["c", "rust"] {
            let dir = format!("{}/build/user/{lang}", env!("CARGO_MANIFEST_DIR"));
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let bytes = std::fs::read(&path).unwrap();
                if !bytes.starts_with(b"\x7fELF") {
                    continue;
                }
                let plan = ElfPlan::parse(&bytes, ELF_ET_DYN_BASE)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(plan.phdr_vaddr != 0, "{}", path.display());
                assert!(
                    plan.segments
                        .iter()
                        .any(|s| s.prot.contains(Prot::EXEC)
                            && (s.vaddr..s.end()).contains(&plan.entry)),
                    "{}",
                    path.display()
                );
                let paged: usize = plan.segments.iter().map(|s| s.pages(&bytes).count()).sum();
                assert!(paged > 0);
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = ElfPlan::parse(&bytes, ELF_ET_DYN_BASE);
            let mut with_magic = b"\x7fELF\x02\x01\x01".to_vec();
            with_magic.extend_from_slice(&bytes);
            if let Ok(p) = ElfPlan::parse(&with_magic, 0) {
                for s in &p.segments {
                    s.pages(&with_magic).take(64).for_each(drop);
                }
            }
        }

        #[test]
        fn mutated_executables_never_panic(
            edits in proptest::collection::vec((0usize..0x200, any::<u8>()), 1..12),
            words in proptest::collection::vec((0usize..0x100, any::<u64>()), 0..3),
            cut in 0usize..0x3300,
            base in any::<usize>(),
        ) {
            let mut f = glibc_like();
            for (off, b) in edits {
                f[off] = b;
            }
            for (off, w) in words {
                f[off..off + 8].copy_from_slice(&w.to_le_bytes());
            }
            f.truncate(cut);
            if let Ok(p) = ElfPlan::parse(&f, base) {
                prop_assert!(p.end_bss <= TASK_SIZE && p.start_brk() <= TASK_SIZE);
                prop_assert!(p.entry < TASK_SIZE);
                for s in &p.segments {
                    prop_assert!(s.filesz <= s.memsz && s.map_start() >= PAGE_SIZE);
                    for c in s.pages(&f).take(64) {
                        prop_assert!(c.data.len() <= PAGE_SIZE && c.va % PAGE_SIZE == 0);
                    }
                }
            }
        }
    }
}
