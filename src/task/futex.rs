//! The futex state a task leaves behind: the key that names a futex word (`get_futex_key`), and
//! what a thread's end does to the words it names (`exit_robust_list`, `clear_child_tid`). The
//! futex(2) call itself is the syscall layer's.
use crate::mm::fault::FaultAccess;
use crate::mm::uaccess::UserMemExt;
use crate::task::process::Process;
use crate::task::sched::TASKS;
use tidemark_abi::errno::{self, Errno};

/// `FUTEX_BITSET_MATCH_ANY`: a wake or wait for every bit.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// Which futex a waiter sleeps on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexKey {
    /// The physical address of the word (a shared mapping).
    Shared(u64),
    /// The address space (its `MmRef`'s address) and the word's address: private futexes and
    /// words in private memory.
    Private(usize, usize),
}

/// The key of the word at `uaddr`: `EINVAL` unless 4-byte aligned, `EFAULT` unless mapped.
pub fn key(p: &mut Process, uaddr: usize, private: bool) -> Result<FutexKey, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(errno::EINVAL);
    }
    let mm_id = alloc::sync::Arc::as_ptr(&p.mm) as usize;
    if private {
        return Ok(FutexKey::Private(mm_id, uaddr));
    }
    p.handle_fault(uaddr, FaultAccess::Read)
        .map_err(|_| errno::EFAULT)?;
    let mm = p.mm();
    let shared = mm
        .find_vma(uaddr)
        .is_some_and(|v| v.flags.contains(crate::mm::vma::VM_MAYSHARE));
    if !shared {
        return Ok(FutexKey::Private(mm_id, uaddr));
    }
    let t = mm.pt.translate(uaddr).ok_or(errno::EFAULT)?;
    Ok(FutexKey::Shared(t.pa.0 as u64))
}

/// The bits of a PI or robust futex word (`FUTEX_WAITERS`, `FUTEX_OWNER_DIED`,
/// `FUTEX_TID_MASK`).
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// `ROBUST_LIST_LIMIT`: a list longer than this is taken for a loop.
const ROBUST_LIST_LIMIT: usize = 2048;

/// `exit_robust_list`: a thread ends holding robust futexes (`set_robust_list`). Each word that
/// still names this thread as its owner gets `FUTEX_OWNER_DIED`, and a waiter is woken, so that
/// the next locker gets `EOWNERDEAD`. Bad pointers end the walk, as on Linux.
pub fn exit_robust_list(p: &mut Process) {
    let head = core::mem::take(&mut p.robust_list);
    // struct robust_list_head { struct robust_list list; long futex_offset;
    //                           struct robust_list *list_op_pending; }
    let Ok(mut entry) = p.read_pod::<u64>(head) else {
        return;
    };
    let Ok(offset) = p.read_pod::<u64>(head + 8) else {
        return;
    };
    let pending = p.read_pod::<u64>(head + 16).unwrap_or(0);
    let mut n = 0;
    while entry != head as u64 && n < ROBUST_LIST_LIMIT {
        // Read the next one first: the owner-died store may free the entry.
        let Ok(next) = p.read_pod::<u64>(entry as usize) else {
            break;
        };
        if entry != pending {
            futex_death(p, entry.wrapping_add(offset) as usize);
        }
        entry = next;
        n += 1;
    }
    if pending != 0 {
        futex_death(p, pending.wrapping_add(offset) as usize);
    }
}

/// `handle_futex_death`: the word at `uaddr`, if this thread owns it, is marked owner-died and
/// one waiter woken.
fn futex_death(p: &mut Process, uaddr: usize) {
    if !uaddr.is_multiple_of(4) {
        return;
    }
    let Ok(word) = p.read_pod::<u32>(uaddr) else {
        return;
    };
    if word & FUTEX_TID_MASK != p.pid as u32 {
        return;
    }
    // Threads of the process may run on other cores: the change is the cmpxchg Linux does.
    let Ok(word) = p.update_user_word(uaddr, |w| {
        (w & FUTEX_TID_MASK == word & FUTEX_TID_MASK)
            .then_some((w & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    }) else {
        return;
    };
    if word & FUTEX_TID_MASK != p.pid as u32 {
        return;
    }
    if word & FUTEX_WAITERS != 0 {
        if let Ok(k) = key(p, uaddr, false) {
            TASKS.lock().futex_wake(k, FUTEX_BITSET_MATCH_ANY, 1);
        }
    }
}

/// A thread that asked for it (`CLONE_CHILD_CLEARTID`, `set_tid_address`) ends while its
/// memory lives on: 0 goes to its tid word and one waiter on the word is woken (`mm_release`).
/// Both are best effort, as on Linux.
pub fn clear_child_tid(p: &mut Process) {
    let addr = core::mem::take(&mut p.clear_child_tid);
    if p.write_pod(addr, &0u32).is_ok() {
        if let Ok(k) = key(p, addr, false) {
            TASKS.lock().futex_wake(k, FUTEX_BITSET_MATCH_ANY, 1);
        }
    }
}
