//! The physical frame allocator: a buddy allocator over every free page of RAM.
//!
//! `buddy_system_allocator::FrameAllocator` hands out naturally aligned runs of 2^k frames, which
//! is what the page-table driver wants for 2 MiB blocks and what batched population wants for
//! bulk zeroing. This wrapper adds the counters the boot banner, `/proc` and the tests read, and
//! turns exhaustion into an error value.
use super::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::drivers::fdt::Range;

/// Orders up to 2^31 frames (8 TiB), far beyond any `virt` machine.
type Buddy = buddy_system_allocator::FrameAllocator<32>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfFrames;

impl core::fmt::Display for OutOfFrames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("out of physical frames")
    }
}

pub struct FramePool {
    buddy: Buddy,
    total: usize,
    free: usize,
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
        }
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
    pub fn alloc(&mut self, count: usize) -> Result<PhysAddr, OutOfFrames> {
        let frame = self.buddy.alloc(count).ok_or(OutOfFrames)?;
        self.free -= count;
        Ok(PhysAddr(frame << PAGE_SHIFT))
    }

    /// Returns frames obtained from [`alloc`](Self::alloc) with the same `count`.
    pub fn dealloc(&mut self, pa: PhysAddr, count: usize) {
        debug_assert!(pa.is_aligned(PAGE_SIZE));
        self.buddy.dealloc(pa.0 >> PAGE_SHIFT, count);
        self.free += count;
        debug_assert!(self.free <= self.total);
    }

    pub const fn total_frames(&self) -> usize {
        self.total
    }

    pub const fn free_frames(&self) -> usize {
        self.free
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
    fn exhaustion_is_an_error_not_a_panic() {
        let mut pool = FramePool::new();
        pool.add_range(0, 2 * PAGE_SIZE);
        assert!(pool.alloc(2).is_ok());
        assert_eq!(pool.alloc(1), Err(OutOfFrames));
    }

    #[test]
    fn partial_pages_are_not_added() {
        let mut pool = FramePool::new();
        pool.add_range(0x800, 0x2800);
        assert_eq!(pool.total_frames(), 1);
    }
}

/// The kernel's one frame pool.
pub static FRAMES: spin::Mutex<FramePool> = spin::Mutex::new(FramePool::new());

/// The kernel's [`PhysMem`]: frames from [`FRAMES`], reached through the linear map.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelPhys;

impl super::phys::PhysMem for KernelPhys {
    fn alloc_frames(&self, order: usize) -> Option<PhysAddr> {
        FRAMES.lock().alloc(1 << order).ok()
    }

    fn free_frames(&self, pa: PhysAddr, order: usize) {
        FRAMES.lock().dealloc(pa, 1 << order);
    }

    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
        super::layout::phys_to_virt(pa).as_usize() as *mut u8
    }
}
