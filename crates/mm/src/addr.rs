//! Physical and virtual addresses and page arithmetic.
//!
//! Two distinct types keep physical and virtual addresses from being mixed up; both are plain `usize`
//! underneath because the kernel and the host tests are 64-bit.
use core::fmt;
use core::ops::{Add, Sub};

pub const PAGE_SHIFT: usize = 12;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
pub const PAGE_MASK: usize = !(PAGE_SIZE - 1);

/// Rounds `x` up to a page boundary; `None` when that overflows (Linux's `PAGE_ALIGN` wraps silently,
/// which `sys_brk` has to guard against).
pub const fn page_align_up(x: usize) -> Option<usize> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & PAGE_MASK),
        None => None,
    }
}

pub const fn page_align_down(x: usize) -> usize {
    x & PAGE_MASK
}

pub const fn is_page_aligned(x: usize) -> bool {
    x & (PAGE_SIZE - 1) == 0
}

macro_rules! address_type {
    ($name:ident, $prefix:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(pub usize);

        impl $name {
            pub const fn new(v: usize) -> Self {
                Self(v)
            }
            pub const fn as_usize(self) -> usize {
                self.0
            }
            pub const fn is_aligned(self, align: usize) -> bool {
                self.0 & (align - 1) == 0
            }
            pub const fn align_down(self, align: usize) -> Self {
                Self(self.0 & !(align - 1))
            }
            pub const fn page_offset(self) -> usize {
                self.0 & (PAGE_SIZE - 1)
            }
        }

        impl Add<usize> for $name {
            type Output = Self;
            fn add(self, rhs: usize) -> Self {
                Self(self.0 + rhs)
            }
        }

        impl Sub<$name> for $name {
            type Output = usize;
            fn sub(self, rhs: $name) -> usize {
                self.0 - rhs.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{:#x}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}

address_type!(PhysAddr, "PA:");
address_type!(VirtAddr, "VA:");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_wraps_to_none() {
        assert_eq!(page_align_up(1), Some(PAGE_SIZE));
        assert_eq!(page_align_up(PAGE_SIZE), Some(PAGE_SIZE));
        assert_eq!(page_align_up(usize::MAX), None);
    }
}

/// A range of physical memory, as the device tree describes RAM and reservations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub start: usize,
    pub size: usize,
}

impl Range {
    pub const fn end(&self) -> usize {
        self.start + self.size
    }
}
