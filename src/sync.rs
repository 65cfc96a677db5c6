//! The kernel's spin locks: `spin`'s mutex, and the mmap lock's [`RwSem`]. Both wait with the
//! arch layer's `YIELD` ([`CpuRelax`]) rather than `ISB`, so that a core waiting for a lock lets
//! the holder run (see [`crate::arch::aarch64::relax`]).
use crate::arch::aarch64::relax::CpuRelax;

pub type Mutex<T> = spin::mutex::Mutex<T, CpuRelax>;
pub use spin::mutex::MutexGuard;

mod rwsem;
pub use rwsem::{RwSem, RwSemReadGuard, RwSemWriteGuard};
