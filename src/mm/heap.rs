//! The kernel heap: small objects in a buddy heap that starts in a static area and grows from the
//! frame pool; objects of a page or more straight from the frame pool (Linux's `kmalloc_large`).
//!
//! Large objects (pipe buffers, descriptor tables, rendered /proc files) go back to the pool when
//! freed, so that a program that made the kernel hold megabytes for it leaves nothing behind. The
//! small-object heap keeps what it grew (a buddy heap cannot give back part of a range); the
//! frames it took are counted, and the end-of-run check compares like with like.
//!
//! The frame pool's own free lists live on this heap, so growth must not run under the heap lock:
//! the allocator drops it, takes frames (which may allocate list nodes from what is left of the
//! heap), and adds them. If the pool's lock is already held (growth re-entered from inside the
//! pool), growth gives up and the allocation fails instead of deadlocking.
use super::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use super::frame::FRAMES;
use super::layout::{phys_to_virt, virt_to_phys};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

const INITIAL_HEAP_SIZE: usize = 1 << 20;
/// Preferred growth step, so that growth is rare; smaller steps when the pool is fragmented.
const MIN_GROWTH: usize = 1 << 20;

#[repr(C, align(4096))]
struct InitialHeap([u8; INITIAL_HEAP_SIZE]);

static mut INITIAL_HEAP: InitialHeap = InitialHeap([0; INITIAL_HEAP_SIZE]);

/// Added to the heap the first time it must grow while the frame pool's lock is held (the pool's
/// own free lists needing a node when the heap is full), where growing from the pool would
/// deadlock. Later growth refills the heap as usual.
const EMERGENCY_SIZE: usize = 64 << 10;

#[repr(C, align(4096))]
struct EmergencyArea([u8; EMERGENCY_SIZE]);

static mut EMERGENCY_AREA: EmergencyArea = EmergencyArea([0; EMERGENCY_SIZE]);
static EMERGENCY_USED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub struct KernelHeap {
    heap: crate::sync::Mutex<buddy_system_allocator::Heap<32>>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: crate::sync::Mutex::new(buddy_system_allocator::Heap::new()),
};

/// Frames the small-object heap has taken from the pool (it never gives them back).
static GROWN_FRAMES: AtomicUsize = AtomicUsize::new(0);
/// Frames held by large objects now.
static LARGE_FRAMES: AtomicUsize = AtomicUsize::new(0);
/// The most frames the heap held from the pool at once (growth plus large objects).
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

/// Hands the static area to the heap. Called once, first thing at boot.
pub fn init() {
    // SAFETY: called once before any allocation; the static area is used by nothing else.
    unsafe {
        let start = (&raw mut INITIAL_HEAP) as usize;
        HEAP.heap.lock().init(start, INITIAL_HEAP_SIZE);
    }
}

/// What the kernel heap holds, for the end-of-run report and `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes of small objects in use.
    pub small_used: usize,
    /// Bytes the small-object heap manages (static area plus growth).
    pub small_total: usize,
    /// Frames the small-object heap took from the pool.
    pub grown_frames: usize,
    /// Frames held by large objects.
    pub large_frames: usize,
    /// The most frames the heap held from the pool at once.
    pub high_water_frames: usize,
}

pub fn stats() -> HeapStats {
    let h = HEAP.heap.lock();
    HeapStats {
        small_used: h.stats_alloc_actual(),
        small_total: h.stats_total_bytes(),
        grown_frames: GROWN_FRAMES.load(Ordering::Relaxed),
        large_frames: LARGE_FRAMES.load(Ordering::Relaxed),
        high_water_frames: HIGH_WATER.load(Ordering::Relaxed),
    }
}

/// Whether `bytes` more of kernel objects may be made for a program (see
/// [`FramePool::admits`](super::frame::FramePool::admits)): the pool can give them without going
/// into the half of its reserve kept for what must not fail.
pub fn admit(bytes: usize) -> bool {
    // The pool alone decides, as of its last unlock; the heap's free bytes (fragmented, and
    // usually small beside the reserve) are not counted.
    let frames = bytes.div_ceil(PAGE_SIZE);
    let admitted = FRAMES.admits(frames);
    if admitted {
        super::frame::pledge(frames);
    }
    admitted
}

/// The admitted call is over: its promise ends.
#[inline]
pub fn end_admitted_call() {
    super::frame::end_pledge();
}

/// The frame pool for the heap's own growth: `None` when this core holds it already (the pool's
/// bookkeeping allocating), else the pool once another core that holds it lets go.
fn pool_for_heap() -> Option<crate::mm::frame::PoolGuard<'static, crate::mm::frame::FramePool>> {
    loop {
        if let Some(pool) = FRAMES.try_lock() {
            return Some(pool);
        }
        if FRAMES.held_here() {
            return None;
        }
        crate::arch::aarch64::relax::cpu_relax();
    }
}

/// Objects of at least this size come from the frame pool.
const fn is_large(layout: &Layout) -> bool {
    layout.size() >= PAGE_SIZE || layout.align() > PAGE_SIZE
}

/// Frames for a large object: a power of two (the buddy allocator's unit) covering size and
/// alignment.
fn large_frames(layout: &Layout) -> usize {
    layout
        .size()
        .max(layout.align())
        .div_ceil(PAGE_SIZE)
        .next_power_of_two()
}

/// Records the frames held now, after growth or a large allocation (the only times it rises).
fn note_high_water() {
    let held = GROWN_FRAMES.load(Ordering::Relaxed) + LARGE_FRAMES.load(Ordering::Relaxed);
    HIGH_WATER.fetch_max(held, Ordering::Relaxed);
}

impl KernelHeap {
    /// Adds frames to the small-object heap: [`MIN_GROWTH`] if the pool has such a run, else the
    /// largest run that still fits the request.
    fn grow(&self, layout: Layout) -> bool {
        let need = (layout.size().max(layout.align()) * 2)
            .next_multiple_of(PAGE_SIZE)
            .next_power_of_two();
        let Some(mut pool) = pool_for_heap() else {
            return self.add_emergency_area();
        };
        let mut bytes = need.max(MIN_GROWTH);
        let pa: PhysAddr = loop {
            match pool.alloc(bytes / PAGE_SIZE) {
                Ok(pa) => break pa,
                Err(_) if bytes > need => bytes /= 2,
                Err(_) => return false,
            }
        };
        drop(pool);
        GROWN_FRAMES.fetch_add(bytes / PAGE_SIZE, Ordering::Relaxed);
        note_high_water();
        let start = phys_to_virt(pa).as_usize();
        // SAFETY: the frames were just taken from the pool and are reached through the linear map.
        unsafe { self.heap.lock().add_to_heap(start, start + bytes) };
        true
    }

    /// Growth without the pool (see [`EMERGENCY_SIZE`]): once.
    fn add_emergency_area(&self) -> bool {
        if EMERGENCY_USED.swap(true, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: the area is handed to the heap once (the flag above) and used by nothing else.
        unsafe {
            let start = (&raw mut EMERGENCY_AREA) as usize;
            self.heap.lock().add_to_heap(start, start + EMERGENCY_SIZE);
        }
        true
    }

    fn alloc_large(&self, layout: Layout) -> *mut u8 {
        let frames = large_frames(&layout);
        let Some(mut pool) = pool_for_heap() else {
            return null_mut();
        };
        match pool.alloc(frames) {
            Ok(pa) => {
                drop(pool);
                LARGE_FRAMES.fetch_add(frames, Ordering::Relaxed);
                note_high_water();
                phys_to_virt(pa).as_usize() as *mut u8
            }
            Err(_) => null_mut(),
        }
    }
}

// SAFETY: small objects go to the buddy heap under its lock, whose growth adds only fresh frames;
// large ones are whole runs of frames from the pool, given back with the same count.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(&layout) {
            return self.alloc_large(layout);
        }
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
        let Some(p) = NonNull::new(ptr) else {
            return;
        };
        if is_large(&layout) {
            let frames = large_frames(&layout);
            let pa = virt_to_phys(VirtAddr(p.as_ptr() as usize));
            FRAMES.lock().dealloc(pa, frames);
            LARGE_FRAMES.fetch_sub(frames, Ordering::Relaxed);
        } else {
            self.heap.lock().dealloc(p, layout);
        }
    }
}
