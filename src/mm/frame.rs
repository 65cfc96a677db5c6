//! The kernel's frame pool and its `PhysMem`: the portable [`FramePool`] behind a lock, the
//! copy-on-write reference counts, and frames reached through the linear map.
pub use tidemark_mm::frame::*;

use crate::mm::addr::{PhysAddr, PAGE_SHIFT};
use core::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};

/// The kernel's one frame pool.
pub static FRAMES: PoolLock<FramePool> = PoolLock::new(FramePool::new());

/// A spin lock that knows which core holds it. The kernel heap grows from the pool, and the
/// pool's own bookkeeping may allocate from the heap while the pool is locked: the heap must tell
/// "locked by this core" (grow some other way) from "locked by another core" (wait its turn).
///
/// It also keeps, for admission ([`PoolLock::admits`]), how many frames the pool could give to
/// kernel objects as it was when last unlocked: the free count only changes under the lock, so
/// this is as fresh as a read under the lock would be once the lock is let go, and every
/// admitted call (mmap, munmap, open...) reads it without taking the lock.
pub struct PoolLock<T: Admission> {
    inner: crate::sync::Mutex<T>,
    /// The holder's core index plus one; 0 when free.
    owner: AtomicUsize,
    /// [`Admission::admissible`] when the lock was last let go.
    admissible: AtomicIsize,
}

/// What a pool tells its lock at each unlock, for admission without the lock.
pub trait Admission {
    /// How many frames may go to kernel objects a program asked for (negative: none, by that
    /// much).
    fn admissible(&self) -> isize;
}

impl Admission for FramePool {
    fn admissible(&self) -> isize {
        self.free_frames() as isize - (self.reserve() / 2) as isize
    }
}

/// The holder's view of a [`PoolLock`].
pub struct PoolGuard<'a, T: Admission> {
    guard: crate::sync::MutexGuard<'a, T>,
    owner: &'a AtomicUsize,
    admissible: &'a AtomicIsize,
}

fn this_core() -> usize {
    #[cfg(target_os = "none")]
    {
        crate::arch::aarch64::smp::cpu_id() + 1
    }
    #[cfg(not(target_os = "none"))]
    {
        1
    }
}

impl<T: Admission> PoolLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: crate::sync::Mutex::new(value),
            owner: AtomicUsize::new(0),
            admissible: AtomicIsize::new(0),
        }
    }

    pub fn lock(&self) -> PoolGuard<'_, T> {
        let guard = self.inner.lock();
        self.owner.store(this_core(), Ordering::Relaxed);
        PoolGuard {
            guard,
            owner: &self.owner,
            admissible: &self.admissible,
        }
    }

    pub fn try_lock(&self) -> Option<PoolGuard<'_, T>> {
        let guard = self.inner.try_lock()?;
        self.owner.store(this_core(), Ordering::Relaxed);
        Some(PoolGuard {
            guard,
            owner: &self.owner,
            admissible: &self.admissible,
        })
    }

    /// Whether `frames` more may go to kernel objects a program asked for
    /// ([`FramePool::admits`] as of the last unlock), without the lock.
    #[inline]
    pub fn admits(&self, frames: usize) -> bool {
        frames as isize <= self.admissible.load(Ordering::Relaxed)
    }

    /// Whether this core holds the lock (so that waiting for it would never end).
    pub fn held_here(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == this_core()
    }
}

impl<T: Admission> Drop for PoolGuard<'_, T> {
    fn drop(&mut self) {
        // Before the inner guard unlocks (fields drop after this).
        self.admissible
            .store(self.guard.admissible(), Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
    }
}

impl<T: Admission> core::ops::Deref for PoolGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: Admission> core::ops::DerefMut for PoolGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// Extra references of frames shared copy-on-write (frame number -> references - 1). Kept apart
/// from [`FRAMES`] and sparse: only shared frames have an entry, and the map may allocate from the
/// kernel heap, which must never happen under the frame pool's lock.
pub static FRAME_REFS: crate::sync::Mutex<alloc::collections::BTreeMap<usize, u32>> =
    crate::sync::Mutex::new(alloc::collections::BTreeMap::new());

/// The number of entries in [`FRAME_REFS`], written under its lock: zero lets `free_frames`
/// skip the lock and the search.
static SHARED_FRAMES: AtomicUsize = AtomicUsize::new(0);

/// One bit per frame of RAM, set while [`FRAME_REFS`] has an entry for it (written under its
/// lock): freeing a frame tests its bit rather than taking the lock and searching, which matters
/// once any frame is shared (a program's text mapped from the page cache always is).
static SHARED_BITS: spin::Once<(usize, alloc::boxed::Box<[AtomicU64]>)> = spin::Once::new();

/// Sizes `SHARED_BITS` for RAM between frame numbers `[first, end)`; before this, every free
/// of a frame looks it up.
pub fn init_shared_bits(first: usize, end: usize) {
    SHARED_BITS.call_once(|| {
        let words = (end - first).div_ceil(64);
        (first, (0..words).map(|_| AtomicU64::new(0)).collect())
    });
}

/// The bit of frame `pfn`, if [`SHARED_BITS`] covers it.
fn shared_bit(pfn: usize) -> Option<(&'static AtomicU64, u64)> {
    let (first, bits) = SHARED_BITS.get()?;
    let i = pfn.checked_sub(*first)?;
    bits.get(i / 64).map(|w| (w, 1u64 << (i % 64)))
}

/// Whether frame `pfn` may have extra references: its bit in `bits` (the bitmap once looked
/// up), or `true` where no bit covers it.
#[inline(always)]
fn bit_set(bits: Option<&(usize, alloc::boxed::Box<[AtomicU64]>)>, pfn: usize) -> bool {
    bit_set_with(bits, pfn, Ordering::Acquire)
}

/// [`bit_set`] with the bit's load done with `order`.
#[inline(always)]
fn bit_set_with(
    bits: Option<&(usize, alloc::boxed::Box<[AtomicU64]>)>,
    pfn: usize,
    order: Ordering,
) -> bool {
    let Some((first, words)) = bits else {
        return true;
    };
    let i = pfn.wrapping_sub(*first);
    words
        .get(i / 64)
        .is_none_or(|w| w.load(order) & (1 << (i % 64)) != 0)
}

/// Whether frame `pfn` may have extra references (it has, or nothing says it has not).
fn maybe_shared(pfn: usize) -> bool {
    SHARED_FRAMES.load(Ordering::Acquire) != 0 && bit_set(SHARED_BITS.get(), pfn)
}

/// Frames promised to the call one core is running (its admission, `heap::admit`), times
/// [`PLEDGE_CORES`], plus that core's index plus one: user memory faulted in on other cores
/// meanwhile leaves them, so that the call's kernel objects find the frames its admission
/// counted. 0 between calls.
static PLEDGED: AtomicUsize = AtomicUsize::new(0);

/// The multiplier of [`PLEDGED`]'s frame count: above every core index plus one.
const PLEDGE_CORES: usize = 32;
const _: () = assert!(crate::arch::aarch64::MAX_CPUS < PLEDGE_CORES);

/// Promises `frames` to the call this core runs (see `PLEDGED`).
pub fn pledge(frames: usize) {
    PLEDGED.store(frames * PLEDGE_CORES + this_core(), Ordering::Relaxed);
}

/// The call this core ran is over: its promise ends.
#[inline]
pub fn end_pledge() {
    if PLEDGED.load(Ordering::Relaxed) != 0 {
        PLEDGED.store(0, Ordering::Relaxed);
    }
}

/// The frames promised to a call on another core, which this core's allocations must leave.
fn pledged_elsewhere() -> usize {
    let v = PLEDGED.load(Ordering::Relaxed);
    if v % PLEDGE_CORES == this_core() {
        0
    } else {
        v / PLEDGE_CORES
    }
}

/// One core's cache of single frames for user memory and user page tables (Linux's per-CPU
/// page lists): a fault takes its frame here, and a frame freed on this core goes back here,
/// whichever core took it; the pool's lock is taken once per [`PCP_BATCH`] frames, to refill
/// or to drain half. Frames in a cache are out of the pool's free count.
struct CoreFrames {
    cache: core::cell::UnsafeCell<FrameCache>,
    /// The cache's length, for other cores to read ([`free_frames`]).
    cached: AtomicUsize,
}

// SAFETY: a core touches only its own cache ([`with_core_cache`]), with interrupts masked; other
// cores read only `cached`.
unsafe impl Sync for CoreFrames {}

static CORE_FRAMES: [CoreFrames; crate::arch::aarch64::MAX_CPUS] = [const {
    CoreFrames {
        cache: core::cell::UnsafeCell::new(FrameCache::new()),
        cached: AtomicUsize::new(0),
    }
};
    crate::arch::aarch64::MAX_CPUS];

/// Runs `f` on this core's frame cache. `f` must not reach another user of the caches: it may
/// take the pool's lock, whose bookkeeping may allocate from the kernel heap, which takes its
/// frames from the pool itself and never from a cache.
#[inline(always)]
fn with_core_cache<R>(f: impl FnOnce(&mut FrameCache) -> R) -> R {
    #[cfg(target_os = "none")]
    let core = &CORE_FRAMES[crate::arch::aarch64::smp::cpu_id()];
    // Host tests run on several threads that all say they are core 0: they take turns at the
    // first core's cache.
    #[cfg(not(target_os = "none"))]
    let core = &CORE_FRAMES[0];
    #[cfg(not(target_os = "none"))]
    let _serial = HOST_CACHE_LOCK.lock();
    // SAFETY: the kernel runs with interrupts masked and switches tasks only where it chooses,
    // never inside `f`, so nothing else on this core reaches the cache meanwhile; other cores
    // never touch it (`free_frames` reads only `cached`).
    let cache = unsafe { &mut *core.cache.get() };
    let r = f(cache);
    core.cached.store(cache.len(), Ordering::Relaxed);
    r
}

#[cfg(not(target_os = "none"))]
static HOST_CACHE_LOCK: crate::sync::Mutex<()> = crate::sync::Mutex::new(());

/// A single frame for user memory, from this core's cache.
#[inline]
fn alloc_user_frame() -> Option<PhysAddr> {
    with_core_cache(|c| {
        if c.is_empty() {
            // A refill on another core than the one running an admitted call leaves that call
            // what it was promised.
            FRAMES.lock().refill(c, pledged_elsewhere()).ok()?;
        }
        c.pop().map(|f| PhysAddr(f << PAGE_SHIFT))
    })
}

/// Frees a single frame of user memory into this core's cache.
#[inline]
fn free_user_frame(pfn: usize) {
    with_core_cache(|c| {
        if c.is_full() {
            FRAMES.lock().drain(c, PCP_HIGH / 2);
        }
        c.push(pfn);
    })
}

/// Frees single frames of user memory, none shared: into this core's cache while they fit,
/// else through the pool, which gives whole runs back at once.
fn free_user_batch(pas: &[PhysAddr]) {
    with_core_cache(|c| {
        if pas.len() <= PCP_HIGH - c.len() && pas.len() < PCP_BATCH {
            for pa in pas {
                c.push(pa.0 >> PAGE_SHIFT);
            }
        } else {
            FRAMES.lock().dealloc_batch(Some(c), pas);
        }
    })
}

/// Free frames: the pool's and those in the cores' caches.
pub fn free_frames() -> usize {
    let cached: usize = CORE_FRAMES
        .iter()
        .map(|c| c.cached.load(Ordering::Relaxed))
        .sum();
    FRAMES.lock().free_frames() + cached
}

/// The kernel's [`PhysMem`](crate::mm::phys::PhysMem): frames from [`FRAMES`], reached through the linear map.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelPhys;

impl KernelPhys {
    /// [`free_frames_batch`](crate::mm::phys::PhysMem::free_frames_batch) when some of `pas`
    /// may be shared (`shared` says which): those one by one, the others in batches.
    #[inline(never)]
    fn free_shared_batch(&self, pas: &[PhysAddr], shared: impl Fn(PhysAddr) -> bool) {
        use crate::mm::phys::PhysMem;
        let mut own = [PhysAddr(0); 64];
        let mut n = 0;
        for &pa in pas {
            if shared(pa) {
                self.free_frames(pa, 0);
                continue;
            }
            own[n] = pa;
            n += 1;
            if n == own.len() {
                free_user_batch(&own);
                n = 0;
            }
        }
        free_user_batch(&own[..n]);
    }
}

impl crate::mm::phys::PhysMem for KernelPhys {
    /// User memory and user page tables (the kernel's own tables are built at boot, before
    /// the reserve is set): stops at the reserve.
    fn alloc_frames(&self, order: usize) -> Option<PhysAddr> {
        if order == 0 {
            return alloc_user_frame();
        }
        // A fault on another core than the one running an admitted call leaves that call what
        // it was promised.
        FRAMES
            .lock()
            .alloc_user_above(1 << order, pledged_elsewhere())
            .ok()
    }

    fn free_frames(&self, pa: PhysAddr, order: usize) {
        // Without a fork's sharing (the common case) no frame has extra references: no lock, no
        // search.
        let pfn = pa.0 >> PAGE_SHIFT;
        if order == 0 && maybe_shared(pfn) {
            let mut refs = FRAME_REFS.lock();
            if let Some(extra) = refs.get_mut(&pfn) {
                *extra -= 1;
                if *extra == 0 {
                    refs.remove(&pfn);
                    if let Some((w, b)) = shared_bit(pfn) {
                        w.fetch_and(!b, Ordering::Release);
                    }
                    SHARED_FRAMES.store(refs.len(), Ordering::Release);
                }
                return;
            }
        }
        if order == 0 {
            free_user_frame(pfn);
        } else {
            FRAMES.lock().dealloc(pa, 1 << order);
        }
    }

    fn free_frames_batch(&self, pas: &[PhysAddr]) {
        if SHARED_FRAMES.load(Ordering::Acquire) != 0 {
            // Some frame may be shared: those go one by one, the others in batches. The bitmap
            // is looked up once, and each frame's bit read without the call.
            let bits = SHARED_BITS.get();
            // The bits read relaxed, then one fence: as an acquire load of each (a frame's bit
            // set by a release store is seen with what came before it), without a barrier per
            // frame that keeps the bitmap's bounds from staying in registers.
            let any = pas
                .iter()
                .any(|&pa| bit_set_with(bits, pa.0 >> PAGE_SHIFT, Ordering::Relaxed));
            core::sync::atomic::fence(Ordering::Acquire);
            if any {
                let shared = |pa: PhysAddr| bit_set(bits, pa.0 >> PAGE_SHIFT);
                self.free_shared_batch(pas, shared);
                return;
            }
        }
        free_user_batch(pas);
    }

    fn free_exclusive_batch(&self, pas: &[PhysAddr]) {
        debug_assert!(
            pas.iter().all(|&pa| !maybe_shared(pa.0 >> PAGE_SHIFT)
                || !FRAME_REFS.lock().contains_key(&(pa.0 >> PAGE_SHIFT))),
            "a frame freed as exclusive has other references"
        );
        free_user_batch(pas);
    }

    fn get_frame(&self, pa: PhysAddr) {
        let pfn = pa.0 >> PAGE_SHIFT;
        let mut refs = FRAME_REFS.lock();
        *refs.entry(pfn).or_insert(0) += 1;
        if let Some((w, b)) = shared_bit(pfn) {
            w.fetch_or(b, Ordering::Release);
        }
        SHARED_FRAMES.store(refs.len(), Ordering::Release);
    }

    fn frame_refs(&self, pa: PhysAddr) -> usize {
        1 + FRAME_REFS
            .lock()
            .get(&(pa.0 >> PAGE_SHIFT))
            .copied()
            .unwrap_or(0) as usize
    }

    fn phys_to_virt(&self, pa: PhysAddr) -> *mut u8 {
        crate::mm::layout::phys_to_virt(pa).as_usize() as *mut u8
    }

    /// `DC ZVA`, unrolled (`cache::zero_frames`): population and faults zero every frame they
    /// map, so this is most of the cost of a fresh page, and the unrolling takes it from four
    /// instructions per cache block to two.
    #[cfg(target_os = "none")]
    #[inline]
    fn zero_frames(&self, pa: PhysAddr, order: usize) {
        let va = self.phys_to_virt(pa);
        // SAFETY: the caller owns the frames, which the linear map covers.
        unsafe {
            crate::arch::aarch64::cache::zero_frames(va, crate::mm::addr::PAGE_SIZE << order)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::addr::PAGE_SIZE;

    #[test]
    fn admission_reads_the_pool_as_of_its_last_unlock() {
        let lock = PoolLock::new(FramePool::new());
        assert!(!lock.admits(1), "an empty pool admits nothing");
        {
            let mut pool = lock.lock();
            pool.add_range(0x4000_0000, 0x4000_0000 + 64 * PAGE_SIZE);
            pool.set_reserve(16);
            assert!(!lock.admits(1), "not before the unlock");
        }
        // 64 free, half the reserve kept: 56 may go, as the pool itself says.
        assert!(lock.admits(56) && !lock.admits(57));
        assert!(lock.lock().admits(56) && !lock.lock().admits(57));
        let taken = lock.lock().alloc(8).unwrap();
        assert!(lock.admits(48) && !lock.admits(49));
        lock.lock().dealloc(taken, 8);
        assert!(lock.admits(56));
    }
}
