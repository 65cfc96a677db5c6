//! The physical frame allocator: a buddy allocator over every free page of RAM.
//!
//! `buddy_system_allocator::FrameAllocator` hands out naturally aligned runs of 2^k frames, which
//! is what the page-table driver wants for 2 MiB blocks and what batched population wants for
//! bulk zeroing. This wrapper adds the counters the boot banner, `/proc` and the tests read, and
//! turns exhaustion into an error value.
use super::addr::Range;
use super::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};

/// Orders up to 2^31 frames (8 TiB), far beyond any `virt` machine.
type Buddy = buddy_system_allocator::FrameAllocator<32>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfFrames;

impl core::fmt::Display for OutOfFrames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("out of physical frames")
    }
}

/// Single frames kept out of the buddy allocator for fast reuse (Linux's per-CPU page lists):
/// refilled with one naturally aligned run of [`PCP_BATCH`] frames, drained by half when full.
pub const PCP_HIGH: usize = 64;
pub const PCP_BATCH: usize = 64;

/// A cache of single frames in front of the buddy allocator (Linux's `per_cpu_pages`): the
/// pool keeps one for the kernel's own single frames, and the kernel one per core for user
/// memory, so that a fault takes no shared lock. Refills take one naturally aligned run; drains
/// give back the lowest frames, each naturally aligned run as one block.
pub struct FrameCache {
    pcp: [usize; PCP_HIGH],
    len: usize,
    /// `pcp[..min(sorted, len)]` is in ascending order (what the last drain left, less what was
    /// taken since: `pop` only shrinks the prefix, and pushes clamp `sorted` first); the frames
    /// freed after it follow, in the order they came.
    sorted: usize,
}

impl Default for FrameCache {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameCache {
    pub const fn new() -> Self {
        Self {
            pcp: [0; PCP_HIGH],
            len: 0,
            sorted: 0,
        }
    }

    /// Frames held.
    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub const fn is_full(&self) -> bool {
        self.len == PCP_HIGH
    }

    /// The frame freed last (its cache lines may still be warm), as a frame number.
    #[inline]
    pub fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        debug_assert!(self.len < PCP_HIGH);
        // SAFETY: `len <= PCP_HIGH` always (every push checks it), so after the decrement it
        // indexes the array.
        Some(unsafe { *self.pcp.get_unchecked(self.len) })
    }

    /// Keeps frame number `f`; the caller drains first when the cache [`is_full`](Self::is_full).
    #[inline]
    pub fn push(&mut self, f: usize) {
        assert!(self.len < PCP_HIGH, "frame cache overfilled");
        self.sorted = self.sorted.min(self.len);
        self.pcp[self.len] = f;
        self.len += 1;
    }

    /// Fills an empty cache with the run of `n` frames at frame number `run`, to be handed out
    /// lowest first (which keeps neighbouring pages physically close).
    fn fill(&mut self, run: usize, n: usize) {
        debug_assert!(self.len == 0 && n <= PCP_HIGH);
        for (i, slot) in self.pcp[..n].iter_mut().enumerate() {
            *slot = run + n - 1 - i;
        }
        self.len = n;
        self.sorted = 0;
    }

    /// Gives at least `n` frames (all, if fewer) back to `buddy`, the lowest ones, and returns
    /// how many went. Frames freed together (a heap or mapping torn down in address order) are
    /// mostly whole naturally aligned runs of the batches they were taken from; each such run
    /// goes back as one block: one buddy insertion instead of one per frame with a merge at
    /// every order. The cache is sorted for that, by merging its natural runs
    /// ([`sort_by_runs`]): frames mostly come back as a few runs in either order.
    fn drain(&mut self, buddy: &mut Buddy, n: usize) -> usize {
        let len = self.len;
        let n = n.min(len);
        if n == 0 {
            return 0;
        }
        let pcp = &mut self.pcp[..len];
        if self.sorted < len {
            sort_by_runs(pcp);
        }
        debug_assert!(pcp.windows(2).all(|w| w[0] < w[1]), "a frame cached twice");
        // From the lowest frame up: the largest aligned run starting at each position goes as
        // one block, until `n` frames have gone.
        let mut i = 0;
        while i < n {
            let f = pcp[i];
            let mut size = 1;
            while size < PCP_BATCH
                && f.is_multiple_of(2 * size)
                && i + 2 * size <= len
                && pcp[i + 2 * size - 1] == f + 2 * size - 1
            {
                size *= 2;
            }
            debug_assert!(pcp[i..i + size].windows(2).all(|w| w[1] == w[0] + 1));
            buddy.dealloc(f, size);
            i += size;
        }
        self.pcp.copy_within(i..len, 0);
        self.len = len - i;
        self.sorted = self.len;
        i
    }
}

/// Whether `frames`, [`PCP_BATCH`] distinct frames (no frame is freed twice), are the whole
/// naturally aligned run at `first`, in any order: every one lies inside it, so by their number
/// they fill it. One subtraction and one comparison a frame; frames freed in descending order
/// (pages a fault took from the top of a cache) are a run as well as ascending ones.
fn is_whole_run(frames: &[PhysAddr], first: PhysAddr) -> bool {
    debug_assert_eq!(frames.len(), PCP_BATCH);
    let inside = frames
        .iter()
        .all(|pa| pa.0.wrapping_sub(first.0) < PCP_BATCH * PAGE_SIZE);
    debug_assert!(
        !inside || {
            let mut v: alloc::vec::Vec<usize> = frames.iter().map(|pa| pa.0).collect();
            v.sort_unstable();
            v.windows(2).all(|w| w[0] != w[1])
        },
        "a frame freed twice"
    );
    inside
}

pub struct FramePool {
    buddy: Buddy,
    total: usize,
    /// Free frames, those in `pcp` included (not those in the kernel's per-core caches, which
    /// were taken out with [`refill`](Self::refill), as Linux's `NR_FREE_PAGES` leaves out its
    /// per-CPU lists).
    free: usize,
    /// The pool's own cache, for the kernel's single frames.
    pcp: FrameCache,
    /// Frames that user memory may not take (Linux's `min` watermark): page faults, population
    /// and user page tables fail first, so that the kernel's own allocations always find frames.
    reserve: usize,
}

impl Default for FramePool {
    fn default() -> Self {
        Self::new()
    }
}

impl FramePool {
    pub const fn new() -> Self {
        Self {
            buddy: Buddy::new(),
            total: 0,
            free: 0,
            pcp: FrameCache::new(),
            reserve: 0,
        }
    }

    /// Sets the reserve: [`reserve_for`] of the RAM, once every frame has been added.
    pub fn set_reserve(&mut self, frames: usize) {
        self.reserve = frames;
    }

    pub const fn reserve(&self) -> usize {
        self.reserve
    }

    /// [`alloc`](Self::alloc) for user memory: refused when it would take the pool into the
    /// reserve.
    #[inline]
    pub fn alloc_user(&mut self, count: usize) -> Result<PhysAddr, OutOfFrames> {
        self.alloc_user_above(count, 0)
    }

    /// [`alloc_user`](Self::alloc_user) that also leaves `kept` frames above the reserve: what a
    /// call admitted on another core was promised (see [`admits`](Self::admits)).
    #[inline]
    pub fn alloc_user_above(&mut self, count: usize, kept: usize) -> Result<PhysAddr, OutOfFrames> {
        if self.free < self.reserve + kept + count {
            return Err(OutOfFrames);
        }
        self.alloc(count)
    }

    /// Refills an empty `cache` for user memory with a naturally aligned run of [`PCP_BATCH`]
    /// frames, or, where the reserve (plus `kept`, as for
    /// [`alloc_user_above`](Self::alloc_user_above)) leaves fewer or no such run is free, with one
    /// frame. The frames leave the free count.
    pub fn refill(&mut self, cache: &mut FrameCache, kept: usize) -> Result<(), OutOfFrames> {
        debug_assert!(cache.is_empty());
        if self.free >= self.reserve + kept + PCP_BATCH {
            if let Some(run) = self.buddy.alloc(PCP_BATCH) {
                cache.fill(run, PCP_BATCH);
                self.free -= PCP_BATCH;
                return Ok(());
            }
        }
        let pa = self.alloc_user_above(1, kept)?;
        cache.push(pa.0 >> PAGE_SHIFT);
        Ok(())
    }

    /// Takes back at least `n` frames of a cache (all, if fewer), into the free count.
    pub fn drain(&mut self, cache: &mut FrameCache, n: usize) {
        self.free += cache.drain(&mut self.buddy, n);
        debug_assert!(self.free <= self.total);
    }

    /// Whether `frames` more may go to kernel objects that a program asked for (processes,
    /// VMAs, descriptors, pipe buffers): only while half of the reserve would be left for what
    /// must not fail (an exit, a signal, the allocations inside a call already admitted).
    pub const fn admits(&self, frames: usize) -> bool {
        self.free >= self.reserve / 2 + frames
    }

    /// Adds the whole pages inside `[start, end)`.
    pub fn add_range(&mut self, start: usize, end: usize) {
        let first = start.div_ceil(PAGE_SIZE);
        let last = end >> PAGE_SHIFT;
        if first < last {
            self.buddy.add_frame(first, last);
            self.total += last - first;
            self.free += last - first;
        }
    }

    /// Allocates `count` contiguous frames, aligned to `count` rounded up to a power of two.
    #[inline]
    pub fn alloc(&mut self, count: usize) -> Result<PhysAddr, OutOfFrames> {
        if count == 1 {
            if let Some(f) = self.pcp.pop() {
                // A single frame: straight from the cache.
                self.free -= 1;
                return Ok(PhysAddr(f << PAGE_SHIFT));
            }
        }
        self.alloc_slow(count)
    }

    #[inline(never)]
    fn alloc_slow(&mut self, count: usize) -> Result<PhysAddr, OutOfFrames> {
        let frame = if count == 1 {
            self.alloc_one()?
        } else {
            match self.buddy.alloc(count) {
                Some(f) => f,
                None => {
                    // Frames parked in the cache may be what keeps a run from coalescing.
                    self.pcp.drain(&mut self.buddy, PCP_HIGH);
                    self.buddy.alloc(count).ok_or(OutOfFrames)?
                }
            }
        };
        self.free -= count;
        Ok(PhysAddr(frame << PAGE_SHIFT))
    }

    fn alloc_one(&mut self) -> Result<usize, OutOfFrames> {
        if self.pcp.is_empty() {
            match self.buddy.alloc(PCP_BATCH) {
                Some(run) => self.pcp.fill(run, PCP_BATCH),
                None => return self.buddy.alloc(1).ok_or(OutOfFrames),
            }
        }
        self.pcp.pop().ok_or(OutOfFrames)
    }

    /// Returns frames obtained from [`alloc`](Self::alloc) with the same `count` (or a naturally
    /// aligned part of such a run).
    pub fn dealloc(&mut self, pa: PhysAddr, count: usize) {
        debug_assert!(pa.is_aligned(PAGE_SIZE));
        if count == 1 {
            if self.pcp.is_full() {
                self.pcp.drain(&mut self.buddy, PCP_HIGH / 2);
            }
            self.pcp.push(pa.0 >> PAGE_SHIFT);
        } else {
            self.buddy.dealloc(pa.0 >> PAGE_SHIFT, count);
        }
        self.free += count;
        debug_assert!(self.free <= self.total);
    }

    /// Returns single frames, as many `dealloc(pa, 1)` would, through `cache` (the pool's own
    /// when `None`). A naturally aligned run of `PCP_BATCH` frames freed in a row (a heap torn
    /// down in address order gives back the batches the cache was refilled with) goes straight
    /// back to the buddy allocator as one block; the other frames go to the cache, which is
    /// drained by half into the pool whenever it fills.
    pub fn dealloc_batch(&mut self, cache: Option<&mut FrameCache>, pas: &[PhysAddr]) {
        let own = cache.is_none();
        let cache = match cache {
            Some(c) => c,
            None => &mut self.pcp,
        };
        let mut i = 0;
        let mut freed = 0;
        while i < pas.len() {
            let f = pas[i].0 >> PAGE_SHIFT;
            debug_assert!(pas[i].is_aligned(PAGE_SIZE));
            // A run starts with its lowest frame (pages faulted in address order from a
            // refill) or its highest (from a cache that handed them out last in, first out).
            let run = match f % PCP_BATCH {
                0 => Some(f),
                r if r == PCP_BATCH - 1 => Some(f - r),
                _ => None,
            };
            if let Some(run) = run.filter(|&run| {
                i + PCP_BATCH <= pas.len()
                    && is_whole_run(&pas[i..i + PCP_BATCH], PhysAddr(run << PAGE_SHIFT))
            }) {
                self.buddy.dealloc(run, PCP_BATCH);
                freed += PCP_BATCH;
                i += PCP_BATCH;
                continue;
            }
            if cache.is_full() {
                let n = cache.drain(&mut self.buddy, PCP_HIGH / 2);
                if !own {
                    freed += n;
                }
            }
            cache.push(f);
            if own {
                freed += 1;
            }
            i += 1;
        }
        self.free += freed;
        debug_assert!(self.free <= self.total);
    }

    pub const fn total_frames(&self) -> usize {
        self.total
    }

    pub const fn free_frames(&self) -> usize {
        self.free
    }
}

/// Sorts a cache's frames by merging their natural runs (a natural merge sort): each maximal
/// ascending stretch, or strictly descending one turned round, is merged with the next, pass
/// after pass. Frames come back as a few such runs — the sorted ones kept from the last drain,
/// then a range unmapped in address order gives back each refill's frames highest first (the
/// cache hands them out last in, first out) — which this sorts in a pass or two, where an
/// insertion sort of two interleaved descending runs cost some 70 instructions a frame.
fn sort_by_runs(v: &mut [usize]) {
    let n = v.len();
    let mut scratch = [0usize; PCP_HIGH];
    loop {
        let mut runs = 0;
        let mut a = 0;
        while a < n {
            let b = ascending_run(v, a);
            let end = if b < n {
                let c = ascending_run(v, b);
                merge_runs(&mut v[a..c], b - a, &mut scratch);
                c
            } else {
                b
            };
            runs += 1;
            a = end;
        }
        if runs <= 1 {
            return;
        }
    }
}

/// The end of the run of `v` starting at `a`, made ascending: a strictly descending one is
/// reversed.
fn ascending_run(v: &mut [usize], a: usize) -> usize {
    let n = v.len();
    let mut b = a + 1;
    if b < n && v[b] < v[b - 1] {
        while b < n && v[b] < v[b - 1] {
            b += 1;
        }
        v[a..b].reverse();
    } else {
        while b < n && v[b] >= v[b - 1] {
            b += 1;
        }
    }
    b
}

/// Merges the ascending halves `v[..mid]` and `v[mid..]`.
fn merge_runs(v: &mut [usize], mid: usize, scratch: &mut [usize; PCP_HIGH]) {
    if v[mid - 1] <= v[mid] {
        return;
    }
    let out = &mut scratch[..v.len()];
    let (mut a, mut b) = (0, mid);
    for slot in out.iter_mut() {
        if b == v.len() || (a < mid && v[a] <= v[b]) {
            *slot = v[a];
            a += 1;
        } else {
            *slot = v[b];
            b += 1;
        }
    }
    v.copy_from_slice(out);
}

/// The reserve for `total` frames of RAM: 1/32 of it, between 1 MiB and 32 MiB (Linux's
/// `min_free_kbytes`, `sqrt(16 * lowmem_kbytes)`, is 1.4 MiB for 128 MiB and 4 MiB for 1 GiB;
/// tidemark keeps more because it has no reclaim to fall back on).
pub const fn reserve_for(total: usize) -> usize {
    let frames = total / 32;
    let (lo, hi) = ((1 << 20) / PAGE_SIZE, (32 << 20) / PAGE_SIZE);
    if frames < lo {
        lo
    } else if frames > hi {
        hi
    } else {
        frames
    }
}

/// Calls `f` with each part of `memory` not covered by any of `reserved` (page-rounded
/// outwards, so a partly reserved page is never handed out).
pub fn for_each_free_range(memory: &[Range], reserved: &[Range], mut f: impl FnMut(usize, usize)) {
    for m in memory {
        let mut start = m.start;
        let end = m.end();
        while start < end {
            // The first reservation that overlaps [start, end), by lowest start.
            let hit = reserved
                .iter()
                .filter(|r| r.size > 0)
                .map(|r| {
                    (
                        r.start & !(PAGE_SIZE - 1),
                        r.end().next_multiple_of(PAGE_SIZE),
                    )
                })
                .filter(|&(rs, re)| rs < end && re > start)
                .min_by_key(|&(rs, _)| rs);
            match hit {
                None => {
                    f(start, end);
                    break;
                }
                Some((rs, re)) => {
                    if rs > start {
                        f(start, rs);
                    }
                    start = start.max(re);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: usize, size: usize) -> Range {
        Range { start, size }
    }

    #[test]
    fn free_ranges_skip_reservations_rounded_outwards() {
        let mut out = alloc::vec::Vec::new();
        for_each_free_range(
            &[r(0x4000_0000, 0x10_0000)],
            &[
                r(0x4000_1800, 0x100),
                r(0x4008_0000, 0x2_0000),
                r(0x3000_0000, 0x1000),
            ],
            |s, e| out.push((s, e)),
        );
        assert_eq!(
            out,
            [
                (0x4000_0000, 0x4000_1000),
                (0x4000_2000, 0x4008_0000),
                (0x400a_0000, 0x4010_0000)
            ]
        );
    }

    #[test]
    fn reservation_covering_everything_leaves_nothing() {
        let mut n = 0;
        for_each_free_range(&[r(0x1000, 0x1000)], &[r(0, 0x10_0000)], |_, _| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn alloc_counts_and_aligns() {
        let mut pool = FramePool::new();
        pool.add_range(0x4000_0000, 0x4000_0000 + (1 << 20));
        assert_eq!(pool.total_frames(), 256);
        let a = pool.alloc(4).unwrap();
        assert!(a.is_aligned(4 * PAGE_SIZE));
        assert_eq!(pool.free_frames(), 252);
        let b = pool.alloc(1).unwrap();
        assert_ne!(a, b);
        pool.dealloc(a, 4);
        pool.dealloc(b, 1);
        assert_eq!(pool.free_frames(), 256);
    }

    #[test]
    fn single_frames_come_from_the_cache_and_large_runs_still_coalesce() {
        let mut pool = FramePool::new();
        pool.add_range(0, 256 * PAGE_SIZE);
        let singles: alloc::vec::Vec<PhysAddr> = (0..100).map(|_| pool.alloc(1).unwrap()).collect();
        let mut sorted = singles.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 100, "no frame handed out twice");
        assert_eq!(pool.free_frames(), 156);
        for pa in singles {
            pool.dealloc(pa, 1);
        }
        assert_eq!(pool.free_frames(), 256);
        // Every frame back in one piece: the cache is drained when a large run needs it.
        let all = pool.alloc(256).unwrap();
        assert_eq!(all, PhysAddr(0));
        pool.dealloc(all, 256);
    }

    #[test]
    fn sorting_by_runs_sorts_any_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        let patterns: [&dyn Fn(usize) -> usize; 5] = [
            &|i| i,
            &|i| 1000 - i,
            // Two refills given back highest first, one after the other.
            &|i| if i < 40 { 500 - i } else { 700 - i },
            // A sorted rest, then frames freed in descending order.
            &|i| if i < 20 { 3 * i } else { 900 - i },
            &|i| (i * 37) % 64 + 64 * (i / 64) * 2,
        ];
        for len in [0, 1, 2, 3, 17, PCP_HIGH] {
            for p in &patterns {
                let mut v: alloc::vec::Vec<usize> = (0..len).map(p).collect();
                let mut want = v.clone();
                want.sort_unstable();
                sort_by_runs(&mut v);
                assert_eq!(v, want);
            }
            let mut v: alloc::vec::Vec<usize> = (0..len).map(|_| next() % 100_000).collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_by_runs(&mut v);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn drained_runs_go_back_whole() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let singles: alloc::vec::Vec<PhysAddr> = (0..512).map(|_| pool.alloc(1).unwrap()).collect();
        // Freed in a scrambled order: every drain still finds the runs among what it holds.
        for k in (0..singles.len()).rev() {
            pool.dealloc(singles[k ^ 5], 1);
        }
        assert_eq!(pool.free_frames(), 1024);
        pool.pcp.drain(&mut pool.buddy, PCP_HIGH);
        assert_eq!(pool.pcp.len(), 0);
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn batched_frees_return_aligned_runs_whole() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let singles: alloc::vec::Vec<PhysAddr> = (0..512).map(|_| pool.alloc(1).unwrap()).collect();
        // In allocation order: the refills come back as runs, straight to the buddy allocator.
        pool.dealloc_batch(None, &singles[..256]);
        assert!(pool.pcp.len() < PCP_BATCH, "runs bypass the cache");
        // Scrambled: frame by frame through the cache, drained as it fills.
        let scrambled: alloc::vec::Vec<PhysAddr> =
            (0..256).map(|k| singles[256 + (k ^ 5)]).collect();
        pool.dealloc_batch(None, &scrambled);
        assert_eq!(pool.free_frames(), 1024);
        pool.pcp.drain(&mut pool.buddy, PCP_HIGH);
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    /// Pages a fault took from the top of a cache come back highest first: the run still goes
    /// whole, past the cache.
    #[test]
    fn batched_frees_of_a_run_in_descending_order_go_whole() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let mut cache = FrameCache::new();
        pool.refill(&mut cache, 0).unwrap();
        let mut run: alloc::vec::Vec<PhysAddr> = (0..PCP_BATCH)
            .map(|_| PhysAddr(cache.pop().unwrap() << PAGE_SHIFT))
            .collect();
        run.reverse();
        pool.dealloc_batch(Some(&mut cache), &run);
        assert_eq!((cache.len(), pool.free_frames()), (0, 1024));
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn a_core_cache_takes_runs_out_of_the_pool_and_gives_them_back() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let mut cache = FrameCache::new();
        pool.refill(&mut cache, 0).unwrap();
        assert_eq!(
            (cache.len(), pool.free_frames()),
            (PCP_BATCH, 1024 - PCP_BATCH)
        );
        let taken: alloc::vec::Vec<usize> = (0..PCP_BATCH).map(|_| cache.pop().unwrap()).collect();
        assert!(taken.windows(2).all(|w| w[1] == w[0] + 1), "lowest first");
        assert_eq!(cache.pop(), None);
        // Freed in a scrambled order on this core (or any other): the cache fills, drains half.
        for k in 0..PCP_BATCH {
            cache.push(taken[k ^ 3]);
        }
        assert!(cache.is_full());
        pool.drain(&mut cache, PCP_HIGH / 2);
        assert_eq!(cache.len() + pool.free_frames(), 1024);
        pool.drain(&mut cache, PCP_HIGH);
        assert_eq!((cache.len(), pool.free_frames()), (0, 1024));
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn frames_freed_in_descending_order_drain_as_runs() {
        let mut pool = FramePool::new();
        pool.add_range(0, 256 * PAGE_SIZE);
        let mut cache = FrameCache::new();
        pool.refill(&mut cache, 0).unwrap();
        // Freed in address order, taken again last in, first out (descending), and freed
        // again in the order taken.
        let taken: alloc::vec::Vec<usize> = (0..PCP_BATCH).map(|_| cache.pop().unwrap()).collect();
        for &f in &taken {
            cache.push(f);
        }
        let mut again: alloc::vec::Vec<usize> =
            (0..PCP_BATCH).map(|_| cache.pop().unwrap()).collect();
        assert!(again.windows(2).all(|w| w[0] > w[1]));
        for f in again.drain(..) {
            cache.push(f);
        }
        pool.drain(&mut cache, PCP_HIGH);
        assert_eq!(pool.alloc(256), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn batched_frees_through_a_core_cache_count_what_reaches_the_pool() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let mut cache = FrameCache::new();
        let mut frames = alloc::vec::Vec::new();
        for _ in 0..8 {
            pool.refill(&mut cache, 0).unwrap();
            while let Some(f) = cache.pop() {
                frames.push(PhysAddr(f << PAGE_SHIFT));
            }
        }
        assert_eq!(pool.free_frames(), 1024 - 8 * PCP_BATCH);
        // Whole runs straight back, the rest through the cache.
        let scrambled: alloc::vec::Vec<PhysAddr> =
            (0..4 * PCP_BATCH).map(|k| frames[k ^ 5]).collect();
        pool.dealloc_batch(Some(&mut cache), &frames[4 * PCP_BATCH..]);
        assert_eq!(pool.free_frames(), 1024 - 4 * PCP_BATCH);
        pool.dealloc_batch(Some(&mut cache), &scrambled);
        assert_eq!(cache.len() + pool.free_frames(), 1024);
        pool.drain(&mut cache, PCP_HIGH);
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn a_core_cache_refill_keeps_the_reserve() {
        let mut pool = FramePool::new();
        pool.add_range(0, 128 * PAGE_SIZE);
        pool.set_reserve(100);
        let mut cache = FrameCache::new();
        // 28 frames above the reserve: no whole batch, one frame at a time.
        for _ in 0..28 {
            pool.refill(&mut cache, 0).unwrap();
            assert_eq!(cache.len(), 1);
            cache.pop().unwrap();
        }
        assert_eq!(pool.refill(&mut cache, 0), Err(OutOfFrames));
        assert_eq!(pool.free_frames(), 100);
        // The kernel still gets the reserve.
        assert!(pool.alloc(1).is_ok());
    }

    #[test]
    fn exhaustion_is_an_error_not_a_panic() {
        let mut pool = FramePool::new();
        pool.add_range(0, 2 * PAGE_SIZE);
        assert!(pool.alloc(2).is_ok());
        assert_eq!(pool.alloc(1), Err(OutOfFrames));
    }

    #[test]
    fn user_allocations_stop_at_the_reserve_and_the_kernel_goes_on() {
        let mut pool = FramePool::new();
        pool.add_range(0, 64 * PAGE_SIZE);
        pool.set_reserve(16);
        let mut user = alloc::vec::Vec::new();
        while let Ok(pa) = pool.alloc_user(1) {
            user.push(pa);
        }
        assert_eq!((user.len(), pool.free_frames()), (48, 16));
        assert!(pool.admits(8) && !pool.admits(9));
        // What another core's admitted call was promised is kept from user memory too.
        let before = pool.free_frames();
        assert!(pool.alloc_user_above(1, before).is_err());
        // The kernel still gets the reserve, down to the last frame.
        let k: alloc::vec::Vec<_> = (0..16).map(|_| pool.alloc(1).unwrap()).collect();
        assert!(pool.alloc(1).is_err());
        k.into_iter().chain(user).for_each(|pa| pool.dealloc(pa, 1));
        assert_eq!(pool.free_frames(), 64);
        assert_eq!(reserve_for(32768), 1024);
        assert_eq!(reserve_for(1000), 256);
        assert_eq!(reserve_for(1 << 24), 8192);
    }

    #[test]
    fn partial_pages_are_not_added() {
        let mut pool = FramePool::new();
        pool.add_range(0x800, 0x2800);
        assert_eq!(pool.total_frames(), 1);
    }
}
