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
const PCP_HIGH: usize = 64;
const PCP_BATCH: usize = 64;

pub struct FramePool {
    buddy: Buddy,
    total: usize,
    /// Free frames, those in `pcp` included.
    free: usize,
    pcp: [usize; PCP_HIGH],
    pcp_len: usize,
    /// `pcp[..min(pcp_sorted, pcp_len)]` is in ascending order (what the last drain left, less
    /// what was taken since: `alloc` only shrinks the prefix, and frees clamp `pcp_sorted` before
    /// they push); the frames freed after it follow, in the order they came.
    pcp_sorted: usize,
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
            pcp: [0; PCP_HIGH],
            pcp_len: 0,
            pcp_sorted: 0,
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
        if count == 1 && self.pcp_len > 0 {
            // A fault's frame: straight from the cache.
            self.pcp_len -= 1;
            self.free -= 1;
            debug_assert!(self.pcp_len < PCP_HIGH);
            // SAFETY: `pcp_len <= PCP_HIGH` always (every push checks it), so after the
            // decrement it indexes the array.
            let f = unsafe { *self.pcp.get_unchecked(self.pcp_len) };
            return Ok(PhysAddr(f << PAGE_SHIFT));
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
                    self.drain_pcp(self.pcp_len);
                    self.buddy.alloc(count).ok_or(OutOfFrames)?
                }
            }
        };
        self.free -= count;
        Ok(PhysAddr(frame << PAGE_SHIFT))
    }

    fn alloc_one(&mut self) -> Result<usize, OutOfFrames> {
        if self.pcp_len == 0 {
            match self.buddy.alloc(PCP_BATCH) {
                Some(run) => {
                    // Handed out lowest first, which keeps neighbouring pages physically close.
                    for (i, slot) in self.pcp[..PCP_BATCH].iter_mut().enumerate() {
                        *slot = run + PCP_BATCH - 1 - i;
                    }
                    self.pcp_len = PCP_BATCH;
                    self.pcp_sorted = 0;
                }
                None => return self.buddy.alloc(1).ok_or(OutOfFrames),
            }
        }
        self.pcp_len -= 1;
        Ok(self.pcp[self.pcp_len])
    }

    /// Gives at least `n` cached frames (all, if fewer) back to the buddy allocator, the lowest
    /// ones. Frames freed together (a heap or mapping torn down in address order) are mostly
    /// whole naturally aligned runs of the batches they were taken from; each such run goes back
    /// as one block: one buddy insertion instead of one per frame with a merge at every order.
    /// The cache is sorted for that: the frames freed since the last drain by insertion (nearly
    /// linear: they mostly come back in address order), then merged with the sorted rest.
    fn drain_pcp(&mut self, n: usize) {
        let len = self.pcp_len;
        let n = n.min(len);
        if n == 0 {
            return;
        }
        let sorted = self.pcp_sorted.min(len);
        let pcp = &mut self.pcp[..len];
        for i in sorted + 1..len {
            let v = pcp[i];
            let mut j = i;
            while j > sorted && pcp[j - 1] > v {
                pcp[j] = pcp[j - 1];
                j -= 1;
            }
            pcp[j] = v;
        }
        if sorted > 0 && sorted < len && pcp[sorted - 1] > pcp[sorted] {
            let mut merged = [0usize; PCP_HIGH];
            let (mut a, mut b) = (0, sorted);
            for slot in &mut merged[..len] {
                if b == len || (a < sorted && pcp[a] <= pcp[b]) {
                    *slot = pcp[a];
                    a += 1;
                } else {
                    *slot = pcp[b];
                    b += 1;
                }
            }
            pcp.copy_from_slice(&merged[..len]);
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
            self.buddy.dealloc(f, size);
            i += size;
        }
        self.pcp.copy_within(i..len, 0);
        self.pcp_len = len - i;
        self.pcp_sorted = self.pcp_len;
    }

    /// Returns frames obtained from [`alloc`](Self::alloc) with the same `count` (or a naturally
    /// aligned part of such a run).
    pub fn dealloc(&mut self, pa: PhysAddr, count: usize) {
        debug_assert!(pa.is_aligned(PAGE_SIZE));
        if count == 1 {
            if self.pcp_len == PCP_HIGH {
                self.drain_pcp(PCP_HIGH / 2);
            }
            self.pcp_sorted = self.pcp_sorted.min(self.pcp_len);
            self.pcp[self.pcp_len] = pa.0 >> PAGE_SHIFT;
            self.pcp_len += 1;
        } else {
            self.buddy.dealloc(pa.0 >> PAGE_SHIFT, count);
        }
        self.free += count;
        debug_assert!(self.free <= self.total);
    }

    /// Returns single frames from [`alloc`](Self::alloc)`(1)`, as many `dealloc(pa, 1)` would.
    /// A naturally aligned run of `PCP_BATCH` frames freed in a row (a heap torn down in address
    /// order gives back the batches the cache was refilled with) goes straight back to the buddy
    /// allocator as one block; the other frames go to the cache.
    pub fn dealloc_batch(&mut self, pas: &[PhysAddr]) {
        // A drain below leaves `pcp_sorted == pcp_len`, so one clamp covers the batch.
        self.pcp_sorted = self.pcp_sorted.min(self.pcp_len);
        let mut i = 0;
        while i < pas.len() {
            let f = pas[i].0 >> PAGE_SHIFT;
            debug_assert!(pas[i].is_aligned(PAGE_SIZE));
            if f.is_multiple_of(PCP_BATCH)
                && i + PCP_BATCH <= pas.len()
                && pas[i + PCP_BATCH - 1].0 == pas[i].0 + (PCP_BATCH - 1) * PAGE_SIZE
                && pas[i..i + PCP_BATCH]
                    .windows(2)
                    .all(|w| w[1].0 == w[0].0 + PAGE_SIZE)
            {
                self.buddy.dealloc(f, PCP_BATCH);
                i += PCP_BATCH;
                continue;
            }
            if self.pcp_len == PCP_HIGH {
                self.drain_pcp(PCP_HIGH / 2);
            }
            self.pcp[self.pcp_len] = f;
            self.pcp_len += 1;
            i += 1;
        }
        self.free += pas.len();
        debug_assert!(self.free <= self.total);
    }

    pub const fn total_frames(&self) -> usize {
        self.total
    }

    pub const fn free_frames(&self) -> usize {
        self.free
    }
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
    fn drained_runs_go_back_whole() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let singles: alloc::vec::Vec<PhysAddr> = (0..512).map(|_| pool.alloc(1).unwrap()).collect();
        // Freed in a scrambled order: every drain still finds the runs among what it holds.
        for k in (0..singles.len()).rev() {
            pool.dealloc(singles[k ^ 5], 1);
        }
        assert_eq!(pool.free_frames(), 1024);
        pool.drain_pcp(PCP_HIGH);
        assert_eq!(pool.pcp_len, 0);
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
    }

    #[test]
    fn batched_frees_return_aligned_runs_whole() {
        let mut pool = FramePool::new();
        pool.add_range(0, 1024 * PAGE_SIZE);
        let singles: alloc::vec::Vec<PhysAddr> = (0..512).map(|_| pool.alloc(1).unwrap()).collect();
        // In allocation order: the refills come back as runs, straight to the buddy allocator.
        pool.dealloc_batch(&singles[..256]);
        assert!(pool.pcp_len < PCP_BATCH, "runs bypass the cache");
        // Scrambled: frame by frame through the cache, drained as it fills.
        let scrambled: alloc::vec::Vec<PhysAddr> =
            (0..256).map(|k| singles[256 + (k ^ 5)]).collect();
        pool.dealloc_batch(&scrambled);
        assert_eq!(pool.free_frames(), 1024);
        pool.drain_pcp(PCP_HIGH);
        assert_eq!(pool.alloc(1024), Ok(PhysAddr(0)), "everything coalesced");
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
