//! ASID allocation with generations (the scheme of Linux's `arch/arm64/mm/context.c`).
//!
//! Each address space remembers the tagged ASID it last had: `generation << bits | asid`. Activating
//! it reuses that ASID while the generation is current; otherwise it gets a free one from the bitmap.
//! When the bitmap is full, the generation rolls over: every ASID becomes free again at once, the
//! whole TLB is invalidated, and address spaces pick up new ASIDs lazily when next activated. A
//! dropped address space returns its ASID to the bitmap, so a workload that creates and ends
//! processes never rolls over.
//!
//! ASID 0 is reserved: TTBR0 carries it while no user address space is active.
use alloc::vec;
use alloc::vec::Vec;

/// A tagged ASID: generation above, ASID in the low `bits` bits; 0 means "never had one".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsidTag(u64);

impl AsidTag {
    pub const NONE: AsidTag = AsidTag(0);
}

pub struct AsidAllocator {
    bits: u32,
    generation: u64,
    /// One bit per ASID of the current generation.
    used: Vec<u64>,
    /// Where the next search starts, so that freed ASIDs are not reused at once (fewer
    /// invalidations of entries a recently ended process left in the TLB).
    cursor: usize,
    rollovers: u64,
}

/// What activating an address space needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    pub asid: u16,
    /// A rollover happened: the whole TLB must be invalidated before the ASID is used.
    pub flush_all: bool,
}

impl AsidAllocator {
    /// `bits` is 8 or 16, from `ID_AA64MMFR0_EL1.ASIDBits`.
    pub fn new(bits: u32) -> Self {
        assert!(bits == 8 || bits == 16);
        let count = 1usize << bits;
        let mut a = Self {
            bits,
            generation: 1,
            used: vec![0; count / 64],
            cursor: 1,
            rollovers: 0,
        };
        a.used[0] |= 1; // ASID 0 is reserved
        a
    }

    pub const fn asid_bits(&self) -> u32 {
        self.bits
    }

    pub const fn rollovers(&self) -> u64 {
        self.rollovers
    }

    fn count(&self) -> usize {
        1 << self.bits
    }

    fn is_current(&self, tag: AsidTag) -> bool {
        tag.0 >> self.bits == self.generation
    }

    fn take_free(&mut self) -> Option<usize> {
        let n = self.count();
        (0..n)
            .map(|i| (self.cursor + i) % n)
            .find(|&a| self.used[a / 64] & (1 << (a % 64)) == 0)
            .inspect(|&a| {
                self.used[a / 64] |= 1 << (a % 64);
                self.cursor = (a + 1) % n;
            })
    }

    /// Returns the ASID for an address space whose tag is `tag`, updating the tag.
    pub fn activate(&mut self, tag: &mut AsidTag) -> Activation {
        let mask = (1u64 << self.bits) - 1;
        if self.is_current(*tag) {
            return Activation {
                asid: (tag.0 & mask) as u16,
                flush_all: false,
            };
        }
        let mut flush_all = false;
        let asid = match self.take_free() {
            Some(a) => a,
            None => {
                self.generation += 1;
                self.rollovers += 1;
                self.used.iter_mut().for_each(|w| *w = 0);
                self.used[0] |= 1;
                self.cursor = 1;
                flush_all = true;
                self.take_free().expect("a fresh generation has free ASIDs")
            }
        };
        *tag = AsidTag(self.generation << self.bits | asid as u64);
        Activation {
            asid: asid as u16,
            flush_all,
        }
    }

    /// Gives back the ASID of an address space that is going away. Returns the ASID if it was
    /// live in this generation (its TLB entries must then be invalidated before reuse).
    pub fn release(&mut self, tag: AsidTag) -> Option<u16> {
        if !self.is_current(tag) {
            return None;
        }
        let a = (tag.0 & ((1u64 << self.bits) - 1)) as usize;
        self.used[a / 64] &= !(1 << (a % 64));
        Some(a as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asids_are_unique_and_stable_within_a_generation() {
        let mut alloc = AsidAllocator::new(8);
        let mut tags = [AsidTag::NONE; 10];
        let first: Vec<u16> = tags.iter_mut().map(|t| alloc.activate(t).asid).collect();
        let mut sorted = first.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        assert!(!first.contains(&0), "ASID 0 is reserved");
        let again: Vec<u16> = tags.iter_mut().map(|t| alloc.activate(t).asid).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn released_asids_are_recycled_without_rollover() {
        let mut alloc = AsidAllocator::new(8);
        for _ in 0..10_000 {
            let mut t = AsidTag::NONE;
            let a = alloc.activate(&mut t);
            assert!(!a.flush_all);
            assert!(alloc.release(t).is_some());
        }
        assert_eq!(alloc.rollovers(), 0);
    }

    #[test]
    fn exhaustion_rolls_over_with_a_full_flush_and_reassigns_lazily() {
        let mut alloc = AsidAllocator::new(8);
        let mut tags = vec![AsidTag::NONE; 255];
        for t in tags.iter_mut() {
            assert!(!alloc.activate(t).flush_all);
        }
        let mut extra = AsidTag::NONE;
        let a = alloc.activate(&mut extra);
        assert!(a.flush_all);
        assert_eq!(alloc.rollovers(), 1);
        // An old-generation space gets a new ASID, different from the one just handed out.
        let b = alloc.activate(&mut tags[0]);
        assert!(!b.flush_all);
        assert_ne!(a.asid, b.asid);
        // Releasing a stale tag does not free a live ASID of the new generation.
        assert_eq!(alloc.release(tags[1]), None);
    }

    #[test]
    fn sixteen_bit_asids() {
        let mut alloc = AsidAllocator::new(16);
        let mut t = AsidTag::NONE;
        assert_eq!(alloc.activate(&mut t).asid, 1);
        assert_eq!(alloc.asid_bits(), 16);
    }
}
