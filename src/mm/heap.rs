//! The kernel heap: a buddy heap that starts in a static area and grows from the frame pool.
//!
//! The frame pool's own free lists live on this heap, so growth must not run under the heap lock:
//! the allocator drops it, takes frames (which may allocate list nodes from what is left of the
//! heap), and adds them. If the pool's lock is already held (growth re-entered from inside the
//! pool), growth gives up and the allocation fails instead of deadlocking.
use super::addr::{PhysAddr, PAGE_SIZE};
use super::frame::FRAMES;
use super::layout::phys_to_virt;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};

const INITIAL_HEAP_SIZE: usize = 1 << 20;
/// Smallest growth step, so that growth is rare.
const MIN_GROWTH: usize = 1 << 20;

#[repr(C, align(4096))]
struct InitialHeap([u8; INITIAL_HEAP_SIZE]);

static mut INITIAL_HEAP: InitialHeap = InitialHeap([0; INITIAL_HEAP_SIZE]);

pub struct KernelHeap {
    heap: spin::Mutex<buddy_system_allocator::Heap<32>>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: spin::Mutex::new(buddy_system_allocator::Heap::new()),
};

/// Hands the static area to the heap. Called once, first thing at boot.
pub fn init() {
    // SAFETY: called once before any allocation; the static area is used by nothing else.
    unsafe {
        let start = (&raw mut INITIAL_HEAP) as usize;
        HEAP.heap.lock().init(start, INITIAL_HEAP_SIZE);
    }
}

/// Bytes the heap has taken (static area plus growth) and bytes in use.
pub fn stats() -> (usize, usize) {
    let h = HEAP.heap.lock();
    (h.stats_total_bytes(), h.stats_alloc_actual())
}

impl KernelHeap {
    fn grow(&self, layout: Layout) -> bool {
        let bytes = (layout.size().max(layout.align()) * 2)
            .max(MIN_GROWTH)
            .next_power_of_two();
        let frames = bytes / PAGE_SIZE;
        let Some(mut pool) = FRAMES.try_lock() else {
            return false;
        };
        let Ok(pa): Result<PhysAddr, _> = pool.alloc(frames) else {
            return false;
        };
        drop(pool);
        let start = phys_to_virt(pa).as_usize();
        // SAFETY: the frames were just taken from the pool and are reached through the linear map.
        unsafe { self.heap.lock().add_to_heap(start, start + bytes) };
        true
    }
}

// SAFETY: every path forwards to the buddy heap under its lock; growth adds only fresh frames.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        loop {
            if let Ok(p) = self.heap.lock().alloc(layout) {
                return p.as_ptr();
            }
            if !self.grow(layout) {
                return null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            self.heap.lock().dealloc(p, layout);
        }
    }
}
