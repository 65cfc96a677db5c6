//! The mmap lock's reader-writer lock. A writer that waits holds new readers back, as Linux's
//! rwsem hands the lock to a waiting writer before readers that came after it: a thread calling
//! mmap or brk is not starved by its siblings' stream of page faults, which `spin`'s RwLock
//! would let overtake it for as long as they keep coming.
//!
//! Readers must not nest: a second `read` on a core that holds one waits behind any writer that
//! came in between, which waits for the first (Linux's rule for `mmap_read_lock` too).
use crate::arch::aarch64::relax::cpu_relax;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// `state`: a writer holds the lock.
const WRITER: usize = 1;
/// `state`: a writer waits; new readers wait behind it.
const WAITING: usize = 2;
/// `state`: one reader (the readers' count is `state / READER`).
const READER: usize = 4;

pub struct RwSem<T: ?Sized> {
    state: AtomicUsize,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&T` to readers on several cores at once (hence `T: Sync`) and `&mut
// T` to one writer at a time, which may be on any core (hence `T: Send`).
unsafe impl<T: ?Sized + Send> Send for RwSem<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwSem<T> {}

impl<T> RwSem<T> {
    pub const fn new(value: T) -> Self {
        Self {
            state: AtomicUsize::new(0),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: ?Sized> RwSem<T> {
    /// Takes the lock shared, once no writer holds it or waits for it.
    #[inline]
    pub fn read(&self) -> RwSemReadGuard<'_, T> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | WAITING) == 0
                && self
                    .state
                    .compare_exchange_weak(s, s + READER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return RwSemReadGuard { lock: self };
            }
            cpu_relax();
        }
    }

    /// Takes the lock exclusively; while it waits, new readers wait too.
    #[inline]
    pub fn write(&self) -> RwSemWriteGuard<'_, T> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & !WAITING == 0 {
                // Free (perhaps with this or another writer's flag up): taking it clears the
                // flag; another writer still waiting raises it again.
                if self
                    .state
                    .compare_exchange_weak(s, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return RwSemWriteGuard { lock: self };
                }
                continue;
            }
            if s & WAITING == 0 {
                self.state.fetch_or(WAITING, Ordering::Relaxed);
            }
            cpu_relax();
        }
    }

    /// The value, through the only reference there is.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// Shared access, for as long as it lives.
pub struct RwSemReadGuard<'a, T: ?Sized> {
    lock: &'a RwSem<T>,
}

/// Exclusive access, for as long as it lives.
pub struct RwSemWriteGuard<'a, T: ?Sized> {
    lock: &'a RwSem<T>,
}

impl<'a, T: ?Sized> RwSemWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting a writer in between (Linux's
    /// `mmap_write_downgrade`): readers waiting may come in at once.
    pub fn downgrade(self) -> RwSemReadGuard<'a, T> {
        let lock = self.lock;
        core::mem::forget(self);
        // WRITER is set and is the lowest bit: adding READER - WRITER clears it and counts one
        // reader, leaving WAITING as it was.
        lock.state.fetch_add(READER - WRITER, Ordering::Release);
        RwSemReadGuard { lock }
    }
}

impl<T: ?Sized> core::ops::Deref for RwSemReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader holds the lock, so no writer has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwSemReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.state.fetch_sub(READER, Ordering::Release);
    }
}

impl<T: ?Sized> core::ops::Deref for RwSemWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock exclusively.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> core::ops::DerefMut for RwSemWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock exclusively.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwSemWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.state.fetch_and(!WRITER, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn readers_share_and_a_writer_excludes() {
        let l = RwSem::new(5);
        let a = l.read();
        let b = l.read();
        assert_eq!(*a + *b, 10);
        assert_eq!(l.state.load(Ordering::Relaxed), 2 * READER);
        drop((a, b));
        let mut w = l.write();
        *w = 7;
        let r = w.downgrade();
        assert_eq!((*r, l.state.load(Ordering::Relaxed)), (7, READER));
        drop(r);
        assert_eq!(l.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_waiting_writer_holds_new_readers_back() {
        let l = Arc::new(RwSem::new(0u32));
        let first = l.read();
        let writer = {
            let l = l.clone();
            std::thread::spawn(move || *l.write() += 1)
        };
        while l.state.load(Ordering::Relaxed) & WAITING == 0 {
            std::hint::spin_loop();
        }
        // A reader that comes now waits for the writer, which waits for the first reader.
        let late_saw = Arc::new(AtomicBool::new(false));
        let late = {
            let (l, saw) = (l.clone(), late_saw.clone());
            std::thread::spawn(move || {
                let v = *l.read();
                saw.store(true, Ordering::SeqCst);
                v
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !late_saw.load(Ordering::SeqCst),
            "the late reader overtook the writer"
        );
        drop(first);
        writer.join().unwrap();
        assert_eq!(
            late.join().unwrap(),
            1,
            "the late reader came after the writer"
        );
    }

    #[test]
    fn many_threads_keep_the_count() {
        let l = Arc::new(RwSem::new(0u64));
        let threads: std::vec::Vec<_> = (0..4)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for n in 0..2000 {
                        if (n + i) % 3 == 0 {
                            *l.write() += 1;
                        } else {
                            let v = *l.read();
                            assert!(v <= 4 * 2000);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let writes: u64 = (0..4u64)
            .map(|i| (0..2000u64).filter(|n| (n + i) % 3 == 0).count() as u64)
            .sum();
        assert_eq!(*l.read(), writes);
        assert_eq!(l.state.load(Ordering::Relaxed), 0);
    }
}
