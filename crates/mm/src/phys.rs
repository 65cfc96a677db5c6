//! The physical-memory interface the portable mm code is written against.
//!
//! The kernel implements [`PhysMem`] on top of its frame allocator and linear map; host tests use
//! `sim::SimRam`, a heap buffer that pretends to be RAM and counts frames so leaks are caught.
use crate::addr::{PhysAddr, PAGE_SIZE};

/// A source of physical frames plus a way to touch them.
///
/// Methods take `&self` so one handle (a `&'static` allocator on the kernel, `&SimRam` in tests) can
/// be shared by every page table.
pub trait PhysMem {
    /// Allocates 2^`order` physically contiguous, naturally aligned frames (NOT necessarily zeroed);
    /// `None` when out of memory.
    fn alloc_frames(&self, order: usize) -> Option<PhysAddr>;

    /// Returns 2^`order` frames starting at `pa`. Must accept any naturally aligned sub-range of an
    /// earlier allocation (like Linux after `split_page()`): a page table that split an owned block
    /// frees the pieces separately.
    fn free_frames(&self, pa: PhysAddr, order: usize);

    /// Returns single frames (order 0), each exactly as [`free_frames`](Self::free_frames)`(pa, 0)`
    /// would: a shared frame only loses a reference. The kernel takes its locks once per batch
    /// instead of once per frame (a torn-down mapping frees its pages in batches of the gather).
    fn free_frames_batch(&self, pas: &[PhysAddr]) {
        for &pa in pas {
            self.free_frames(pa, 0);
        }
    }

    /// [`free_frames_batch`](Self::free_frames_batch) of frames known to have no other
    /// reference (page tables, and pages whose entries were
    /// [exclusive](crate::pagetable::Attrs::exclusive)): the kernel skips its look at the
    /// reference counts.
    fn free_exclusive_batch(&self, pas: &[PhysAddr]) {
        self.free_frames_batch(pas)
    }

    /// Kernel-accessible pointer to physical memory (the linear map on the kernel, a buffer on the
    /// host). Must be valid for the whole frame containing `pa`.
    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8;

    /// Fills 2^`order` frames at `pa` with zeros. The kernel overrides this with `DC ZVA`, which
    /// clears a cache block per instruction.
    fn zero_frames(&self, pa: PhysAddr, order: usize) {
        // SAFETY: `phys_to_virt` is valid for whole frames, and the caller owns these.
        unsafe { core::ptr::write_bytes(self.phys_to_virt(pa), 0, PAGE_SIZE << order) };
    }

    /// Adds a reference to the single frame `pa` (copy-on-write sharing after fork). Each
    /// reference is dropped by one `free_frames(pa, 0)`; the frame is freed with the last one.
    fn get_frame(&self, pa: PhysAddr);

    /// How many references the single frame `pa` has: 1 when it is not shared.
    fn frame_refs(&self, pa: PhysAddr) -> usize;
}

impl<T: PhysMem + ?Sized> PhysMem for &T {
    fn alloc_frames(&self, order: usize) -> Option<PhysAddr> {
        (**self).alloc_frames(order)
    }
    fn free_frames(&self, pa: PhysAddr, order: usize) {
        (**self).free_frames(pa, order)
    }
    fn free_frames_batch(&self, pas: &[PhysAddr]) {
        (**self).free_frames_batch(pas)
    }
    fn free_exclusive_batch(&self, pas: &[PhysAddr]) {
        (**self).free_exclusive_batch(pas)
    }
    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
        (**self).phys_to_virt(pa)
    }
    fn zero_frames(&self, pa: PhysAddr, order: usize) {
        (**self).zero_frames(pa, order)
    }
    fn get_frame(&self, pa: PhysAddr) {
        (**self).get_frame(pa)
    }
    fn frame_refs(&self, pa: PhysAddr) -> usize {
        (**self).frame_refs(pa)
    }
}

#[cfg(test)]
pub mod sim {
    //! Simulated RAM for host tests.
    use super::PhysMem;
    use crate::addr::{PhysAddr, PAGE_SIZE};
    use core::cell::UnsafeCell;
    use std::sync::Mutex;

    /// Freshly allocated and freed frames are filled with this, so code that assumes zeroed frames
    /// or reads freed ones sees garbage (0xa5 bytes look like valid descriptors).
    pub const POISON: u8 = 0xa5;

    struct State {
        allocated: Vec<bool>,
        count: usize,
        /// `Some(n)`: only `n` more allocations succeed (to exercise NoMemory paths).
        budget: Option<usize>,
        /// Extra references of shared frames (frame index -> references - 1).
        shared: std::collections::HashMap<usize, usize>,
    }

    /// A contiguous range of fake RAM at `base`, with a first-fit allocator that tracks every frame.
    pub struct SimRam {
        base: PhysAddr,
        mem: Box<[UnsafeCell<u64>]>,
        state: Mutex<State>,
    }

    impl SimRam {
        /// Default base: where qemu virt puts RAM.
        pub const BASE: PhysAddr = PhysAddr::new(0x4000_0000);

        pub fn new(frames: usize) -> Self {
            let words = frames * PAGE_SIZE / 8;
            let mem: Box<[UnsafeCell<u64>]> = (0..words).map(|_| UnsafeCell::new(0)).collect();
            SimRam {
                base: Self::BASE,
                mem,
                state: Mutex::new(State {
                    allocated: vec![false; frames],
                    count: 0,
                    budget: None,
                    shared: std::collections::HashMap::new(),
                }),
            }
        }

        /// Frames currently allocated.
        pub fn allocated_frames(&self) -> usize {
            self.state.lock().unwrap().count
        }

        /// Lets only `n` more allocations succeed (`None`: unlimited).
        pub fn set_budget(&self, n: Option<usize>) {
            self.state.lock().unwrap().budget = n;
        }

        pub fn contains(&self, pa: PhysAddr) -> bool {
            pa >= self.base && pa - self.base < self.mem.len() * 8
        }

        pub fn is_allocated(&self, pa: PhysAddr) -> bool {
            self.contains(pa) && self.state.lock().unwrap().allocated[(pa - self.base) / PAGE_SIZE]
        }

        fn poison(&self, first: usize, n: usize) {
            let p = self.phys_to_virt(self.base + first * PAGE_SIZE);
            // SAFETY: frames first..first+n lie inside `mem` (checked by the callers' indexing) and
            // UnsafeCell allows writes through a shared reference; nothing else holds references.
            unsafe { core::ptr::write_bytes(p, POISON, n * PAGE_SIZE) };
        }
    }

    impl PhysMem for SimRam {
        fn alloc_frames(&self, order: usize) -> Option<PhysAddr> {
            let n = 1usize << order;
            let mut st = self.state.lock().unwrap();
            if let Some(b) = st.budget.as_mut() {
                *b = b.checked_sub(1)?;
            }
            let first = (0..st.allocated.len()).step_by(n).find(|&f| {
                f + n <= st.allocated.len() && st.allocated[f..f + n].iter().all(|a| !a)
            })?;
            st.allocated[first..first + n]
                .iter_mut()
                .for_each(|a| *a = true);
            st.count += n;
            drop(st);
            self.poison(first, n);
            Some(self.base + first * PAGE_SIZE)
        }

        fn free_frames(&self, pa: PhysAddr, order: usize) {
            let n = 1usize << order;
            assert!(
                pa.is_aligned(n * PAGE_SIZE),
                "free of misaligned {pa:?} order {order}"
            );
            assert!(self.contains(pa), "free of {pa:?} outside SimRam");
            let first = (pa - self.base) / PAGE_SIZE;
            let mut st = self.state.lock().unwrap();
            if n == 1 {
                if let Some(extra) = st.shared.get_mut(&first) {
                    *extra -= 1;
                    if *extra == 0 {
                        st.shared.remove(&first);
                    }
                    return;
                }
            }
            for f in first..first + n {
                assert!(
                    st.allocated[f],
                    "double free / free of unallocated frame {f} ({pa:?} order {order})"
                );
                st.allocated[f] = false;
            }
            st.count -= n;
            drop(st);
            self.poison(first, n);
        }

        /// Holds the caller to its promise: no frame freed as exclusive has another reference.
        fn free_exclusive_batch(&self, pas: &[PhysAddr]) {
            for &pa in pas {
                assert_eq!(
                    self.frame_refs(pa),
                    1,
                    "{pa:?} freed as exclusive but shared"
                );
                self.free_frames(pa, 0);
            }
        }

        fn get_frame(&self, pa: PhysAddr) {
            let f = (pa - self.base) / PAGE_SIZE;
            let mut st = self.state.lock().unwrap();
            assert!(st.allocated[f], "reference to an unallocated frame {pa:?}");
            *st.shared.entry(f).or_insert(0) += 1;
        }

        fn frame_refs(&self, pa: PhysAddr) -> usize {
            let f = (pa - self.base) / PAGE_SIZE;
            1 + self
                .state
                .lock()
                .unwrap()
                .shared
                .get(&f)
                .copied()
                .unwrap_or(0)
        }

        fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
            assert!(self.contains(pa), "phys_to_virt({pa:?}) outside SimRam");
            let off = pa - self.base;
            // Derive from the whole slice so the pointer may cover the rest of the frame.
            (self.mem.as_ptr() as *mut u8).wrapping_add(off)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn alloc_free_accounting() {
            let ram = SimRam::new(64);
            let a = ram.alloc_frames(0).unwrap();
            let b = ram.alloc_frames(3).unwrap();
            assert!(b.is_aligned(8 * PAGE_SIZE));
            assert_eq!(ram.allocated_frames(), 9);
            // SAFETY: `a` is an allocated frame of `ram`.
            assert_eq!(unsafe { *ram.phys_to_virt(a) }, POISON);
            ram.free_frames(b + PAGE_SIZE, 0);
            ram.free_frames(b, 0);
            ram.free_frames(b + 2 * PAGE_SIZE, 1);
            ram.free_frames(b + 4 * PAGE_SIZE, 2);
            ram.free_frames(a, 0);
            assert_eq!(ram.allocated_frames(), 0);
            ram.set_budget(Some(1));
            let c = ram.alloc_frames(0).unwrap();
            assert!(ram.alloc_frames(0).is_none());
            ram.set_budget(None);
            ram.free_frames(c, 0);
            assert!(ram.alloc_frames(6).is_some());
            assert!(ram.alloc_frames(0).is_none());
        }

        #[test]
        #[should_panic(expected = "double free")]
        fn double_free_panics() {
            let ram = SimRam::new(4);
            let a = ram.alloc_frames(0).unwrap();
            ram.free_frames(a, 0);
            ram.free_frames(a, 0);
        }
    }
}
