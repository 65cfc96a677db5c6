//! The kernel's spin locks: `spin`'s, waiting with the arch layer's `YIELD` ([`CpuRelax`])
//! rather than `ISB`, so that a core waiting for a lock lets the holder run (see
//! [`crate::arch::aarch64::relax`]).
use crate::arch::aarch64::relax::CpuRelax;

pub type Mutex<T> = spin::mutex::Mutex<T, CpuRelax>;
pub use spin::mutex::MutexGuard;

pub type RwLock<T> = spin::rwlock::RwLock<T, CpuRelax>;
pub type RwLockWriteGuard<'a, T> = spin::rwlock::RwLockWriteGuard<'a, T, CpuRelax>;
pub use spin::rwlock::RwLockReadGuard;
