//! One user address space: the VMA tree, the layout fields the loader fills in, the per-process
//! counters and limits (Linux `struct mm_struct` + the parts of `signal->rlim` mm uses).
//!
//! Locking: an `MmStruct` is the data behind the mmap lock. Functions taking `&mut MmStruct` are
//! "called with the mmap lock held for writing"; `&MmStruct` is the read side. Population
//! ([`crate::populate::mm_populate`]) runs after the caller has dropped the write lock, as in Linux.
use alloc::format;
use alloc::string::String;

use super::addr::{is_page_aligned, page_align_up, PAGE_SHIFT};
use super::error::MmError;
use super::vma::{VmFlags, Vma, VM_GROWSDOWN, VM_LOCKED};
use super::vma_tree::{VmaTree, STACK_GUARD_GAP};

pub use crate::layout::TASK_SIZE;
/// Linux `mmap_min_addr`: the lowest address a hint, a search or a stack's growth reaches. With
/// security modules built in it is the larger of [`DAC_MMAP_MIN_ADDR`] and
/// `CONFIG_LSM_MMAP_MIN_ADDR` (32768 in Debian's arm64 build).
pub const MMAP_MIN_ADDR: usize = 32768;
/// Linux `dac_mmap_min_addr` (`CONFIG_DEFAULT_MMAP_MIN_ADDR`, 4096 in Debian's arm64 build, which
/// `/proc/sys/vm/mmap_min_addr` shows): below it only `CAP_SYS_RAWIO` may map (`cap_mmap_addr`).
/// Between the two a security module decides; the ones Debian enables by default (AppArmor)
/// allow it, and so does tidemark.
pub const DAC_MMAP_MIN_ADDR: usize = 4096;
/// Linux `sysctl_max_map_count` default (`DEFAULT_MAX_MAP_COUNT`).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;
/// arm64 `TASK_UNMAPPED_BASE`: start of the bottom-up fallback search.
pub const TASK_UNMAPPED_BASE: usize = TASK_SIZE / 4;
/// `RLIM_INFINITY`, as the ABI defines it.
pub const RLIM_INFINITY: usize = tidemark_abi::layout::RLIM_INFINITY as usize;
/// Linux `_STK_LIM` and `MLOCK_LIMIT` (both 8 MiB in 6.x).
pub const DEFAULT_STACK_LIMIT: usize = 8 << 20;
pub const DEFAULT_MEMLOCK_LIMIT: usize = 8 << 20;
/// Linux sets RLIMIT_NPROC from RAM at boot (`max_threads / 2`); tidemark's process table is
/// bounded at 4096, which serves as the default.
pub const DEFAULT_NPROC_LIMIT: usize = 4096;
/// Bounds on the gap left for the stack below `mmap_base` (Linux `MIN_GAP`/`MAX_GAP` in mm/util.c).
const MIN_GAP: usize = 128 << 20;
const MAX_GAP: usize = TASK_SIZE / 6 * 5;

/// How the portable mm reaches the hardware page tables. The kernel implements it over the real
/// page-table driver; host tests use a fake that records present pages.
pub trait PageTableOps {
    /// Removes every translation in `[start, end)`, frees the frames behind them and flushes the TLB
    /// before returning. All-or-nothing: on `Err` nothing was unmapped (callers then leave the VMAs
    /// untouched and report the error, e.g. `sys_brk` restores the old break).
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), MmError>;
    /// What [`prepare_unmap`](Self::prepare_unmap) sets aside for
    /// [`unmap_prepared`](Self::unmap_prepared).
    type UnmapReserve;
    /// Whether `sys_brk` leaves a big shrink's translations in
    /// [`MmStruct::pending_unmap`] for its caller to remove after downgrading the mmap lock:
    /// page tables with a lock of their own (the kernel's) can be reached under the shared side;
    /// others are cleared at once.
    const DEFERS_UNMAPS: bool = false;
    /// `unmap_range` in two halves, so that the VMAs can leave the tree in between and the
    /// translations be removed after the mmap lock is downgraded (Linux 6.1's munmap and brk):
    /// this one can fail and changes nothing; `unmap_prepared` cannot fail. `None` when nothing
    /// in the range is mapped: there is then nothing to remove, later either (the VMAs leave
    /// the tree under the same lock, and without them nothing can map the range again).
    fn prepare_unmap(
        &mut self,
        start: usize,
        end: usize,
    ) -> Result<Option<Self::UnmapReserve>, MmError>;
    /// The second half of [`prepare_unmap`](Self::prepare_unmap), for the same range.
    fn unmap_prepared(&mut self, start: usize, end: usize, reserve: Self::UnmapReserve);
    /// Re-applies the permissions `flags` allow to the present pages of `[start, end)` and flushes the
    /// TLB. All-or-nothing like `unmap_range`.
    fn protect_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError>;
    /// Makes every page of `[start, end)` present as a fault with `flags` would (a zeroed frame for
    /// writable private memory, the shared zero page otherwise). May stop part-way with an error;
    /// `mm_populate` ignores it like Linux.
    fn populate_range(&mut self, start: usize, end: usize, flags: VmFlags) -> Result<(), MmError>;
    /// [`populate_range`](Self::populate_range) for a VMA whose pages come from `object`,
    /// page `first_index` of it at `start`: every page faulted in as a write (a writable
    /// mapping) or a read would. Page tables without objects ignore it.
    fn populate_backed(
        &mut self,
        start: usize,
        end: usize,
        flags: VmFlags,
        object: &dyn crate::object::PageObject,
        first_index: usize,
    ) -> Result<(), MmError> {
        let _ = (start, end, flags, object, first_index);
        Ok(())
    }
    /// Moves the translations of `[old_start, old_start + len)` to `[new_start, new_start + len)`
    /// (Linux `move_page_tables`): the frames keep their contents and change address, nothing is
    /// copied; holes stay holes. The ranges do not overlap and the new one is empty. All-or-nothing:
    /// on `Err` both ranges are as they were. Flushes the TLB for the old range.
    fn move_range(&mut self, old_start: usize, new_start: usize, len: usize)
        -> Result<(), MmError>;
    /// Residency of `[start, end)` for mincore(2): `out[i]` is 1 when page `i` has a translation
    /// (the shared zero page and PROT_NONE pages count, as `pte_present` does in Linux), else 0.
    /// `out` holds at least `(end - start) / PAGE_SIZE` entries.
    fn mincore(&self, start: usize, end: usize, out: &mut [u8]) -> Result<(), MmError>;
}

/// A resource limit in bytes; `RLIM_INFINITY` means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: usize,
    pub max: usize,
}

impl Rlimit {
    pub const INFINITY: Rlimit = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
}

/// The limits the memory manager consults, with Linux's initial values (`INIT_RLIMITS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits {
    pub data: Rlimit,
    pub address_space: Rlimit,
    pub stack: Rlimit,
    pub memlock: Rlimit,
    /// RLIMIT_NPROC: kept with the others for getrlimit/setrlimit and enforced by fork.
    pub nproc: Rlimit,
    /// RLIMIT_NOFILE's hard limit; the soft limit lives with the descriptor table it bounds.
    pub nofile_max: usize,
    /// The other limits, indexed by resource number: RLIMIT_FSIZE, which the file layer
    /// enforces, and those recorded for getrlimit/setrlimit but not enforced (CORE, RSS, LOCKS,
    /// SIGPENDING, MSGQUEUE, NICE, RTPRIO, RTTIME). The entries of the limits above, and of
    /// RLIMIT_CPU (the kernel's thread group holds it, for the tick), are unused.
    pub recorded: [Rlimit; 16],
}

impl Default for Rlimits {
    fn default() -> Self {
        Rlimits {
            data: Rlimit::INFINITY,
            address_space: Rlimit::INFINITY,
            stack: Rlimit {
                cur: DEFAULT_STACK_LIMIT,
                max: RLIM_INFINITY,
            },
            memlock: Rlimit {
                cur: DEFAULT_MEMLOCK_LIMIT,
                max: DEFAULT_MEMLOCK_LIMIT,
            },
            nproc: Rlimit {
                cur: DEFAULT_NPROC_LIMIT,
                max: DEFAULT_NPROC_LIMIT,
            },
            nofile_max: 4096,
            recorded: {
                // Linux's INIT_RLIMITS: no core files, SIGPENDING as NPROC, 800 KiB of message
                // queues, no nice or real-time priority rights; no limit otherwise.
                let mut r = [Rlimit::INFINITY; 16];
                r[4].cur = 0;
                r[11] = Rlimit {
                    cur: DEFAULT_NPROC_LIMIT,
                    max: DEFAULT_NPROC_LIMIT,
                };
                r[12] = Rlimit {
                    cur: 819_200,
                    max: 819_200,
                };
                r[13] = Rlimit { cur: 0, max: 0 };
                r[14] = Rlimit { cur: 0, max: 0 };
                r
            },
        }
    }
}

/// Page counts shown in /proc/self/status; always equal to sums over the tree (see `validate_mm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmCounters {
    /// All mapped pages (VmSize).
    pub total_vm: usize,
    /// Private writable non-stack pages (VmData), what RLIMIT_DATA limits.
    pub data_vm: usize,
    /// Executable non-writable pages (VmExe + VmLib).
    pub exec_vm: usize,
    /// VM_GROWSDOWN pages (VmStk).
    pub stack_vm: usize,
    /// VM_LOCKED pages (VmLck).
    pub locked_vm: usize,
    /// Peak of `total_vm` (VmPeak).
    pub hiwater_vm: usize,
}

/// A user address space.
///
/// Invariants (checked by [`MmStruct::validate_mm`] after every change in debug builds):
/// - VMAs are non-empty, page-aligned, below `TASK_SIZE` and never overlap;
/// - two adjacent VMAs that could merge (same flags and file, contiguous `pgoff`) and have no
///   anon_vma are merged, except where Linux itself leaves them apart: at `start_brk`
///   (do_brk_flags never looks below it) and between two VM_GROWSDOWN VMAs (expand_downwards
///   never merges). Neighbours with anon_vmas may stay apart, even with the same one: a fault
///   reuses a neighbour's without merging ([`crate::anon_vma`]);
/// - `map_count` is the number of VMAs, and the counters equal the sums over the tree;
/// - `brk` may be unaligned; `start_brk <= brk`.
pub struct MmStruct<P: PageTableOps> {
    pub(crate) tree: VmaTree,
    pub(crate) stat: VmCounters,
    /// The hardware side; reached only through [`PageTableOps`].
    pub pt: P,
    pub start_code: usize,
    pub end_code: usize,
    pub start_data: usize,
    pub end_data: usize,
    pub start_brk: usize,
    pub brk: usize,
    pub start_stack: usize,
    /// Top of the top-down mmap search (set by [`MmStruct::arch_pick_mmap_layout`]).
    pub mmap_base: usize,
    /// Flags every new mapping gets: VM_LOCKED / VM_LOCKONFAULT after mlockall(MCL_FUTURE).
    pub def_flags: VmFlags,
    pub rlimits: Rlimits,
    /// Root (euid 0), standing for the capabilities the mm checks: CAP_IPC_LOCK bypasses
    /// RLIMIT_MEMLOCK, CAP_SYS_RAWIO allows mappings below `dac_mmap_min_addr`.
    pub privileged: bool,
    pub max_map_count: usize,
    /// Heuristic overcommit (Linux mode 0): a single request larger than this many pages fails.
    /// The kernel sets it to the number of RAM pages; `usize::MAX` disables the check.
    pub totalram_pages: usize,
    /// `PR_SET_THP_DISABLE` (Linux's `MMF_DISABLE_THP`): no transparent huge pages here. Kept
    /// across fork and exec, as Linux's `MMF_INIT_MASK` keeps it.
    pub thp_disabled: bool,
    /// A brk shrink's translations still to remove (see
    /// [`PageTableOps::DEFERS_UNMAPS`]): set by `sys_brk`, taken by its caller before the
    /// mmap lock's write side is given up.
    pub pending_unmap: Option<crate::mmap::DeferredUnmap<P::UnmapReserve>>,
    /// The last anon_vma identity handed out ([`crate::anon_vma`]).
    pub(crate) anon_vma_ids: u64,
}

impl<P: PageTableOps> MmStruct<P> {
    /// An empty address space with Linux's default limits and a top-down layout below `TASK_SIZE`.
    pub fn new(pt: P) -> Self {
        let mut mm = MmStruct {
            tree: VmaTree::new(),
            stat: VmCounters::default(),
            pt,
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            mmap_base: 0,
            def_flags: VmFlags::empty(),
            rlimits: Rlimits::default(),
            privileged: false,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            totalram_pages: usize::MAX,
            thp_disabled: false,
            pending_unmap: None,
            anon_vma_ids: 0,
        };
        mm.arch_pick_mmap_layout();
        mm
    }

    /// Places `mmap_base` below the stack's reserved gap (Linux `arch_pick_mmap_layout` / `mmap_base`
    /// without randomisation): the gap is RLIMIT_STACK plus the guard gap, clamped to [128 MiB, 5/6 TASK_SIZE].
    pub fn arch_pick_mmap_layout(&mut self) {
        let mut gap = self.rlimits.stack.cur;
        if let Some(g) = gap.checked_add(STACK_GUARD_GAP) {
            gap = g;
        }
        gap = gap.clamp(MIN_GAP, MAX_GAP);
        self.mmap_base = page_align_up(TASK_SIZE - gap).unwrap_or(TASK_SIZE);
    }

    pub fn counters(&self) -> VmCounters {
        self.stat
    }

    pub fn map_count(&self) -> usize {
        self.tree.len()
    }

    /// All VMAs in address order.
    pub fn vmas(&self) -> impl DoubleEndedIterator<Item = &Vma> {
        self.tree.iter()
    }

    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        self.tree.find_vma(addr)
    }

    pub fn find_vma_prev(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        self.tree.find_vma_prev(addr)
    }

    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&Vma> {
        self.tree.find_vma_intersection(start, end)
    }

    /// Adds `npages` (negative: removes) to `total_vm` and to the data/exec/stack class of `flags`
    /// (Linux `vm_stat_account`). `locked_vm` is kept by the callers, as in Linux.
    pub(crate) fn vm_stat_account(&mut self, flags: VmFlags, npages: isize) {
        let s = &mut self.stat;
        if npages < 0 {
            s.hiwater_vm = s.hiwater_vm.max(s.total_vm);
        }
        let add = |c: &mut usize| *c = c.wrapping_add_signed(npages);
        add(&mut s.total_vm);
        if flags.is_exec_mapping() {
            add(&mut s.exec_vm);
        } else if flags.is_stack_mapping() {
            add(&mut s.stack_vm);
        } else if flags.is_data_mapping() {
            add(&mut s.data_vm);
        }
        s.hiwater_vm = s.hiwater_vm.max(s.total_vm);
    }

    /// Whether `npages` more pages of a mapping with `flags` fit RLIMIT_AS and, for data mappings,
    /// RLIMIT_DATA (Linux `may_expand_vm`, including its Valgrind exception for a zero soft limit).
    pub fn may_expand_vm(&self, flags: VmFlags, npages: usize) -> bool {
        let as_pages = self.rlimits.address_space.cur >> PAGE_SHIFT;
        if self.stat.total_vm.saturating_add(npages) > as_pages {
            return false;
        }
        let data = self.rlimits.data;
        if flags.is_data_mapping()
            && self.stat.data_vm.saturating_add(npages) > data.cur >> PAGE_SHIFT
        {
            return data.cur == 0
                && self.stat.data_vm.saturating_add(npages) <= data.max >> PAGE_SHIFT;
        }
        true
    }

    /// Whether `bytes` more locked memory fit RLIMIT_MEMLOCK when `flags` has VM_LOCKED
    /// (Linux `mlock_future_ok`; CAP_IPC_LOCK bypasses it).
    pub fn mlock_future_ok(&self, flags: VmFlags, bytes: usize) -> bool {
        if !flags.contains(VM_LOCKED) || self.privileged {
            return true;
        }
        let locked = (bytes >> PAGE_SHIFT).saturating_add(self.stat.locked_vm);
        locked <= self.rlimits.memlock.cur >> PAGE_SHIFT
    }

    /// Linux `can_do_mlock`: a non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK.
    pub fn can_do_mlock(&self) -> bool {
        self.rlimits.memlock.cur != 0 || self.privileged
    }

    /// Overcommit check for `npages` new committed pages (Linux `security_vm_enough_memory_mm` in
    /// heuristic mode).
    pub fn vm_enough_memory(&self, npages: usize) -> Result<(), MmError> {
        if npages > self.totalram_pages {
            Err(MmError::NoMemory)
        } else {
            Ok(())
        }
    }

    /// Pages of existing VMAs inside `[start, end)` (Linux `count_vma_pages_range`).
    pub fn count_vma_pages_range(&self, start: usize, end: usize) -> usize {
        self.tree
            .range(start, end)
            .map(|v| (v.end.min(end) - v.start.max(start)) >> PAGE_SHIFT)
            .sum()
    }

    /// Checks every invariant listed on [`MmStruct`] (Linux `validate_mm`).
    pub fn validate_mm(&self) -> Result<(), String> {
        let mut sum = VmCounters {
            hiwater_vm: self.stat.hiwater_vm,
            ..VmCounters::default()
        };
        self.tree.check()?;
        let mut prev: Option<&Vma> = None;
        for v in self.tree.iter() {
            if v.start >= v.end
                || !is_page_aligned(v.start)
                || !is_page_aligned(v.end)
                || v.end > TASK_SIZE
            {
                return Err(format!("bad VMA {:#x}-{:#x}", v.start, v.end));
            }
            if let Some(p) = prev {
                if p.end > v.start {
                    return Err(format!(
                        "VMAs overlap: {:#x}-{:#x} and {:#x}-{:#x}",
                        p.start, p.end, v.start, v.end
                    ));
                }
                let both_stacks = p.flags.contains(VM_GROWSDOWN) && v.flags.contains(VM_GROWSDOWN);
                let untouched = p.anon_vma.is_none() && v.anon_vma.is_none();
                if p.can_merge_with_next(v)
                    && untouched
                    && v.start != self.start_brk
                    && !both_stacks
                {
                    return Err(format!("mergeable VMAs not merged: {p:?} and {v:?}"));
                }
            }
            let n = v.pages();
            sum.total_vm += n;
            if v.flags.is_exec_mapping() {
                sum.exec_vm += n;
            } else if v.flags.is_stack_mapping() {
                sum.stack_vm += n;
            } else if v.flags.is_data_mapping() {
                sum.data_vm += n;
            }
            if v.flags.contains(VM_LOCKED) {
                sum.locked_vm += n;
            }
            prev = Some(v);
        }
        if sum != self.stat {
            return Err(format!(
                "counters {:?} but tree sums to {:?}",
                self.stat, sum
            ));
        }
        if self.brk < self.start_brk {
            return Err(format!(
                "brk {:#x} below start_brk {:#x}",
                self.brk, self.start_brk
            ));
        }
        Ok(())
    }

    /// Runs `validate_mm` in debug builds and panics on a broken invariant.
    #[inline]
    pub(crate) fn debug_validate(&self) {
        #[cfg(debug_assertions)]
        if let Err(e) = self.validate_mm() {
            panic!("validate_mm: {e}");
        }
    }
}
