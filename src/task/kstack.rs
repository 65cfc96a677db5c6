//! Kernel stacks: one per task, and one idle stack per secondary core.
use crate::arch::aarch64::context::{user_frame, KERNEL_STACK_SIZE};
use crate::arch::aarch64::exception::TrapFrame;
use crate::mm::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::mm::frame::FRAMES;
use crate::mm::layout::{phys_to_virt, virt_to_phys};

/// A kernel stack: [`KERNEL_STACK_SIZE`] bytes at a base aligned to twice that, as the vector
/// entry's overflow check needs.
#[derive(Debug)]
pub struct KernelStack {
    base: usize,
}

impl KernelStack {
    /// Takes twice the size from the frame pool, aligned to it, and gives the upper half back at
    /// once.
    pub fn new() -> Option<Self> {
        let frames = KERNEL_STACK_SIZE / PAGE_SIZE;
        let mut pool = FRAMES.lock();
        let pa = pool.alloc(2 * frames).ok()?;
        pool.dealloc(PhysAddr(pa.0 + KERNEL_STACK_SIZE), frames);
        Some(Self {
            base: phys_to_virt(pa).as_usize(),
        })
    }

    pub const fn top(&self) -> usize {
        self.base + KERNEL_STACK_SIZE
    }

    /// The task's user frame, at the top of the stack.
    pub const fn user_frame(&self) -> *mut TrapFrame {
        user_frame(self.top())
    }

    /// A copy of the user registers the task's last entry to the kernel saved.
    ///
    /// # Safety
    /// The task must be off every core (switched out, or never run), so that nothing writes the
    /// frame while it is read.
    pub unsafe fn saved_frame(&self) -> TrapFrame {
        // SAFETY: the slot lies inside this stack, which lives as long as `self`; the caller
        // guarantees no core writes it meanwhile.
        unsafe { (*self.user_frame()).clone() }
    }

    /// Puts `frame` where the vector would have saved it, for a task that has never run.
    pub fn put_frame(&self, frame: &TrapFrame) {
        // SAFETY: the slot lies inside this stack, which nothing runs on yet.
        unsafe { core::ptr::write(self.user_frame(), frame.clone()) };
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let pa = virt_to_phys(VirtAddr(self.base));
        FRAMES.lock().dealloc(pa, KERNEL_STACK_SIZE / PAGE_SIZE);
    }
}
