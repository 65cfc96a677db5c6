//! Virtual memory areas: [`Vma`] and its [`VmFlags`], with Linux's bit values (`include/linux/mm.h`)
//! so that flag arithmetic such as mprotect's `newflags >> 4` (VM_MAY* → VM_*) works unchanged.
use alloc::sync::Arc;
use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

use super::addr::PAGE_SHIFT;
use super::anon_vma::{anon_vma_mergeable, AnonVma};
pub use super::object::Backing;

/// `vm_flags_t`: a set of `VM_*` bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmFlags(u64);

impl VmFlags {
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
    pub const fn bits(self) -> u64 {
        self.0
    }
    pub const fn empty() -> Self {
        Self(0)
    }
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// True when every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// True when any bit of `other` is set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
    /// Private writable non-stack memory: what RLIMIT_DATA limits (Linux `is_data_mapping`).
    pub const fn is_data_mapping(self) -> bool {
        self.0 & (VM_WRITE.0 | VM_SHARED.0 | VM_STACK.0) == VM_WRITE.0
    }
    /// Linux `is_stack_mapping`.
    pub const fn is_stack_mapping(self) -> bool {
        self.0 & VM_STACK.0 == VM_STACK.0
    }
    /// Executable, not writable, not stack: counted in `exec_vm` (Linux `is_exec_mapping`).
    pub const fn is_exec_mapping(self) -> bool {
        self.0 & (VM_EXEC.0 | VM_WRITE.0 | VM_STACK.0) == VM_EXEC.0
    }
    /// Any of read/write/exec: Linux `vma_is_accessible` (PROT_NONE VMAs are not populated).
    pub const fn is_accessible(self) -> bool {
        self.intersects(VM_ACCESS_FLAGS)
    }
}

impl BitOr for VmFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
impl BitOrAssign for VmFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}
impl BitAnd for VmFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}
impl BitAndAssign for VmFlags {
    fn bitand_assign(&mut self, rhs: Self) {
        self.0 &= rhs.0;
    }
}
impl Not for VmFlags {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

impl fmt::Debug for VmFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VmFlags({:#x})", self.0)
    }
}

pub const VM_NONE: VmFlags = VmFlags(0);
pub const VM_READ: VmFlags = VmFlags(0x1);
pub const VM_WRITE: VmFlags = VmFlags(0x2);
pub const VM_EXEC: VmFlags = VmFlags(0x4);
pub const VM_SHARED: VmFlags = VmFlags(0x8);
pub const VM_MAYREAD: VmFlags = VmFlags(0x10);
pub const VM_MAYWRITE: VmFlags = VmFlags(0x20);
pub const VM_MAYEXEC: VmFlags = VmFlags(0x40);
pub const VM_MAYSHARE: VmFlags = VmFlags(0x80);
pub const VM_GROWSDOWN: VmFlags = VmFlags(0x100);
pub const VM_LOCKED: VmFlags = VmFlags(0x2000);
pub const VM_DONTEXPAND: VmFlags = VmFlags(0x4_0000);
pub const VM_LOCKONFAULT: VmFlags = VmFlags(0x8_0000);
pub const VM_ACCOUNT: VmFlags = VmFlags(0x10_0000);
pub const VM_NORESERVE: VmFlags = VmFlags(0x20_0000);
/// `VM_ARCH_1` on arm64: a BTI-guarded page (PROT_BTI).
pub const VM_ARM64_BTI: VmFlags = VmFlags(0x100_0000);
/// MADV_DONTDUMP: left out of core dumps.
pub const VM_DONTDUMP: VmFlags = VmFlags(0x400_0000);
/// `VM_HIGH_ARCH_1` on arm64 (CONFIG_ARM64_MTE): MTE may be enabled. Part of arm64's
/// `VM_DATA_DEFAULT_FLAGS`, so brk and stack VMAs carry it while anonymous mmaps on a CPU without
/// MTE do not — which is why Linux/arm64 never merges the heap with an adjacent anonymous mmap.
pub const VM_MTE_ALLOWED: VmFlags = VmFlags(1 << 33);
/// tidemark's own: the VMA takes its pages from a [`Backing`] (a file or shared memory), so a
/// fault goes through the object rather than mapping a zeroed frame. Linux tells the same from
/// `vma->vm_file`; a flag keeps the common fault path to the one lookup it has.
pub const VM_BACKED: VmFlags = VmFlags(1 << 48);

/// Stacks grow down (Linux `VM_STACK` is `VM_GROWSDOWN` on every arch without upward stacks).
pub const VM_STACK: VmFlags = VM_GROWSDOWN;
pub const VM_ACCESS_FLAGS: VmFlags = VmFlags(VM_READ.0 | VM_WRITE.0 | VM_EXEC.0);
pub const VM_LOCKED_MASK: VmFlags = VmFlags(VM_LOCKED.0 | VM_LOCKONFAULT.0);
/// Bits mprotect recomputes from `prot` rather than keeping (`VM_FLAGS_CLEAR`, arm64: BTI).
pub const VM_FLAGS_CLEAR: VmFlags = VM_ARM64_BTI;
/// arm64 `VM_DATA_DEFAULT_FLAGS` = `VM_DATA_FLAGS_TSK_EXEC | VM_MTE_ALLOWED` without
/// READ_IMPLIES_EXEC: brk memory is not executable.
pub const VM_DATA_DEFAULT_FLAGS: VmFlags = VmFlags(
    VM_READ.0 | VM_WRITE.0 | VM_MAYREAD.0 | VM_MAYWRITE.0 | VM_MAYEXEC.0 | VM_MTE_ALLOWED.0,
);
/// Linux `VM_STACK_FLAGS` for the initial stack (`setup_arg_pages` then adds `mm.def_flags`).
pub const VM_STACK_FLAGS: VmFlags = VmFlags(VM_STACK.0 | VM_DATA_DEFAULT_FLAGS.0 | VM_ACCOUNT.0);

pub const PROT_NONE: u32 = 0;
pub const PROT_READ: u32 = 0x1;
pub const PROT_WRITE: u32 = 0x2;
pub const PROT_EXEC: u32 = 0x4;
pub const PROT_SEM: u32 = 0x8;
/// arm64: BTI guarded pages. Accepted because tidemark assumes a BTI-capable CPU (`-cpu max`).
pub const PROT_BTI: u32 = 0x10;
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
pub const PROT_GROWSUP: u32 = 0x0200_0000;

pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
pub const MAP_TYPE: u32 = 0x0f;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
pub const MAP_GROWSDOWN: u32 = 0x0100;
pub const MAP_LOCKED: u32 = 0x2000;
pub const MAP_NORESERVE: u32 = 0x4000;
pub const MAP_POPULATE: u32 = 0x8000;
pub const MAP_NONBLOCK: u32 = 0x1_0000;
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

/// PROT_* → VM_* (Linux `calc_vm_prot_bits`, arm64 `arch_calc_vm_prot_bits` for BTI).
pub const fn calc_vm_prot_bits(prot: u32) -> VmFlags {
    let mut f = 0;
    if prot & PROT_READ != 0 {
        f |= VM_READ.0;
    }
    if prot & PROT_WRITE != 0 {
        f |= VM_WRITE.0;
    }
    if prot & PROT_EXEC != 0 {
        f |= VM_EXEC.0;
    }
    if prot & PROT_BTI != 0 {
        f |= VM_ARM64_BTI.0;
    }
    VmFlags(f)
}

/// MAP_* → VM_* (Linux `calc_vm_flag_bits`; no MTE, so no VM_MTE_ALLOWED for anonymous maps).
pub const fn calc_vm_flag_bits(flags: u32) -> VmFlags {
    let mut f = 0;
    if flags & MAP_GROWSDOWN != 0 {
        f |= VM_GROWSDOWN.0;
    }
    if flags & MAP_LOCKED != 0 {
        f |= VM_LOCKED.0;
    }
    VmFlags(f)
}

/// What a VMA maps besides anonymous memory: the name /proc/PID/maps shows and, for a mapping of
/// an object, the object with its device and inode numbers (`PageObject::ident`, kept here so
/// that a debugger finds them without calling through the object). Behind one pointer that the
/// pieces of a split share: a VMA is copied whenever the tree moves it, and most have none.
#[derive(Debug, PartialEq, Eq)]
pub struct VmaFile {
    pub name: Arc<str>,
    /// The object the pages come from (with [`VM_BACKED`]): a file, or shared memory.
    pub backing: Option<Backing>,
    pub dev: u64,
    pub ino: u64,
}

/// One virtual memory area, `[start, end)`, page-aligned and non-empty.
///
/// Anonymous memory has no `file`, or one without `backing` (a name only, as the `.bss` past a
/// program's file pages has). A mapping of an object (a file, shared memory; [`VM_BACKED`]) has
/// both: its pages come from the backing object from page `pgoff` on. A private mapping's
/// written pages are private copies (anonymous from then on, as with Linux's anon_vma); ELF
/// segments are such mappings of the program file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: usize,
    pub end: usize,
    pub flags: VmFlags,
    /// Page offset: into the file for file VMAs, `start >> PAGE_SHIFT` at creation for anonymous ones
    /// (Linux keeps it for anon_vma; merging needs it contiguous).
    pub pgoff: usize,
    /// The name and object, `None` for anonymous memory.
    pub file: Option<Arc<VmaFile>>,
    /// Which anon_vma its anonymous pages belong to, for merging ([`crate::anon_vma`]).
    pub anon_vma: Option<AnonVma>,
}

/// Two separate [`VmaFile`]s with the same contents (two mappings of one file).
#[inline(never)]
fn same_file_slow(a: &VmaFile, b: &VmaFile) -> bool {
    a == b
}

// The tree copies VMAs as it moves them: six words, no more.
const _: () = assert!(core::mem::size_of::<Vma>() == 48);

impl Vma {
    /// A new anonymous VMA whose `pgoff` is derived from its address, as `do_mmap` does.
    pub fn new_anon(start: usize, end: usize, flags: VmFlags) -> Self {
        Vma {
            start,
            end,
            flags,
            pgoff: start >> PAGE_SHIFT,
            file: None,
            anon_vma: None,
        }
    }

    /// The name /proc/PID/maps gives it, if any.
    pub fn name(&self) -> Option<&Arc<str>> {
        self.file.as_ref().map(|f| &f.name)
    }

    /// The object its pages come from, for a mapping of one.
    pub fn backing(&self) -> Option<&Backing> {
        self.file.as_ref()?.backing.as_ref()
    }

    /// The device and inode numbers of its object, `(0, 0)` for none.
    pub fn ident(&self) -> (u64, u64) {
        self.file.as_ref().map_or((0, 0), |f| (f.dev, f.ino))
    }

    pub fn pages(&self) -> usize {
        (self.end - self.start) >> PAGE_SHIFT
    }

    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether `next` may be merged onto the end of `self` as far as the two alone can tell (Linux
    /// `is_mergeable_vma` + `can_vma_merge_after`): adjacent, same flags and file, and contiguous
    /// page offsets. Their anon_vmas are compared by [`can_join_prev`](Self::can_join_prev) and
    /// [`can_join_next`](Self::can_join_next), which know which of the two is the range that
    /// joins the other.
    #[inline]
    pub fn can_merge_with_next(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.flags == next.flags
            && self.same_file(next)
            && self.pgoff.wrapping_add(self.pages()) == next.pgoff
    }

    /// Whether `self`, a range just made or changed, may join `prev`, the VMA ending where it
    /// starts (Linux `can_vma_merge_after`, with the range's anon_vma).
    #[inline]
    pub fn can_join_prev(&self, prev: &Vma) -> bool {
        prev.can_merge_with_next(self) && anon_vma_mergeable(self.anon_vma, prev.anon_vma)
    }

    /// Whether `self`, a range just made or changed, may join `next`, the VMA starting where it
    /// ends (Linux `can_vma_merge_before`, with the range's anon_vma).
    #[inline]
    pub fn can_join_next(&self, next: &Vma) -> bool {
        self.can_merge_with_next(next) && anon_vma_mergeable(self.anon_vma, next.anon_vma)
    }

    /// The same name and object (the pieces of one mapping share the pointer).
    #[inline]
    pub fn same_file(&self, other: &Vma) -> bool {
        match (&self.file, &other.file) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || same_file_slow(a, b),
            _ => false,
        }
    }
}
