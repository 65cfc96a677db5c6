//! ASID allocation with generations (the scheme of Linux's `arch/arm64/mm/context.c`).
//!
//! Each address space remembers the tagged ASID it last had: `generation << bits | asid`. Activating
//! it reuses that ASID while the generation is current; otherwise it gets a free one from the bitmap.
//! When the bitmap is full, the generation rolls over: every ASID becomes free again at once, the
//! whole TLB is invalidated, and address spaces pick up new ASIDs lazily when next activated. A
//! dropped address space returns its ASID to the bitmap, so a workload that creates and ends
//! processes never rolls over.
//!
//! With several cores, a roll-over happens while other cores run address spaces of the old
//! generation: their ASIDs stay live in their TLBs. Each core's last activated ASID is therefore
//! *reserved* across the roll-over (Linux's `active_asids`/`reserved_asids`): it stays taken in
//! the new bitmap, and the address space that had it keeps it when it next activates. The
//! roll-over's invalidation is broadcast (`TLBI VMALLE1IS`), so no core keeps entries of an ASID
//! that is handed to another space.
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
    /// The tag each core last activated.
    active: Vec<AsidTag>,
    /// The tags the cores were running at the last roll-over, kept (re-tagged to the new
    /// generation) for their address spaces.
    reserved: Vec<AsidTag>,
}

/// What activating an address space needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    pub asid: u16,
    /// A rollover happened: the whole TLB must be invalidated before the ASID is used.
    pub flush_all: bool,
}

impl AsidAllocator {
    /// `bits` is 8 or 16, from `ID_AA64MMFR0_EL1.ASIDBits`; `cpus` cores activate spaces.
    pub fn new(bits: u32, cpus: usize) -> Self {
        assert!(bits == 8 || bits == 16);
        let count = 1usize << bits;
        let mut a = Self {
            bits,
            generation: 1,
            used: vec![0; count / 64],
            cursor: 1,
            rollovers: 0,
            active: vec![AsidTag::NONE; cpus.max(1)],
            reserved: vec![AsidTag::NONE; cpus.max(1)],
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

    fn mask(&self) -> u64 {
        (1u64 << self.bits) - 1
    }

    /// Returns the ASID for an address space whose tag is `tag` that core `cpu` switches to,
    /// updating the tag.
    pub fn activate(&mut self, cpu: usize, tag: &mut AsidTag) -> Activation {
        let mask = self.mask();
        let mut flush_all = false;
        if !self.is_current(*tag) {
            let old = *tag;
            let asid = if let Some(kept) = self.keep_reserved(old) {
                kept
            } else {
                match self.take_free() {
                    Some(a) => a,
                    None => {
                        self.rollover();
                        flush_all = true;
                        match self.keep_reserved(old) {
                            Some(kept) => kept,
                            None => self.take_free().expect("a fresh generation has free ASIDs"),
                        }
                    }
                }
            };
            *tag = AsidTag(self.generation << self.bits | asid as u64);
        }
        self.active[cpu] = *tag;
        Activation {
            asid: (tag.0 & mask) as u16,
            flush_all,
        }
    }

    /// A tag from before the last roll-over that some core was running then keeps its ASID
    /// (`check_update_reserved_asid`): every reserved copy moves to the new generation.
    fn keep_reserved(&mut self, old: AsidTag) -> Option<usize> {
        if old == AsidTag::NONE || !self.reserved.contains(&old) {
            return None;
        }
        let asid = old.0 & self.mask();
        let new = AsidTag(self.generation << self.bits | asid);
        for r in self.reserved.iter_mut().filter(|r| **r == old) {
            *r = new;
        }
        Some(asid as usize)
    }

    /// A new generation (`flush_context`): every ASID is free again but those the cores run,
    /// which are reserved for their spaces.
    fn rollover(&mut self) {
        self.generation += 1;
        self.rollovers += 1;
        self.used.iter_mut().for_each(|w| *w = 0);
        self.used[0] |= 1;
        self.cursor = 1;
        let mask = self.mask();
        for cpu in 0..self.active.len() {
            let running = core::mem::replace(&mut self.active[cpu], AsidTag::NONE);
            // A core that activated nothing since the last roll-over still runs its reserved one.
            if running != AsidTag::NONE {
                self.reserved[cpu] = running;
            }
            let r = self.reserved[cpu];
            if r != AsidTag::NONE {
                let a = (r.0 & mask) as usize;
                self.used[a / 64] |= 1 << (a % 64);
            }
        }
    }

    /// Gives back the ASID of an address space that is going away. Returns the ASID if it was
    /// live in this generation (its TLB entries must then be invalidated before reuse).
    pub fn release(&mut self, tag: AsidTag) -> Option<u16> {
        if tag == AsidTag::NONE {
            return None;
        }
        // A space no core may activate again holds no reservation either.
        for r in self.reserved.iter_mut().chain(self.active.iter_mut()) {
            if *r == tag {
                *r = AsidTag::NONE;
            }
        }
        if !self.is_current(tag) {
            return None;
        }
        let a = (tag.0 & self.mask()) as usize;
        self.used[a / 64] &= !(1 << (a % 64));
        Some(a as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asids_are_unique_and_stable_within_a_generation() {
        let mut alloc = AsidAllocator::new(8, 1);
        let mut tags = [AsidTag::NONE; 10];
        let first: Vec<u16> = tags.iter_mut().map(|t| alloc.activate(0, t).asid).collect();
        let mut sorted = first.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        assert!(!first.contains(&0), "ASID 0 is reserved");
        let again: Vec<u16> = tags.iter_mut().map(|t| alloc.activate(0, t).asid).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn released_asids_are_recycled_without_rollover() {
        let mut alloc = AsidAllocator::new(8, 1);
        for _ in 0..10_000 {
            let mut t = AsidTag::NONE;
            let a = alloc.activate(0, &mut t);
            assert!(!a.flush_all);
            assert!(alloc.release(t).is_some());
        }
        assert_eq!(alloc.rollovers(), 0);
    }

    #[test]
    fn exhaustion_rolls_over_with_a_full_flush_and_reassigns_lazily() {
        let mut alloc = AsidAllocator::new(8, 1);
        let mut tags = vec![AsidTag::NONE; 255];
        for t in tags.iter_mut() {
            assert!(!alloc.activate(0, t).flush_all);
        }
        let mut extra = AsidTag::NONE;
        let a = alloc.activate(0, &mut extra);
        assert!(a.flush_all);
        assert_eq!(alloc.rollovers(), 1);
        // An old-generation space gets a new ASID, different from the one just handed out.
        let b = alloc.activate(0, &mut tags[0]);
        assert!(!b.flush_all);
        assert_ne!(a.asid, b.asid);
        // Releasing a stale tag does not free a live ASID of the new generation.
        assert_eq!(alloc.release(tags[1]), None);
    }

    #[test]
    fn a_rollover_keeps_the_asids_other_cores_run() {
        let mut alloc = AsidAllocator::new(8, 2);
        // Core 1 runs `b`; core 0 then goes through every other ASID.
        let mut b = AsidTag::NONE;
        let kept = alloc.activate(1, &mut b).asid;
        let mut tags = vec![AsidTag::NONE; 254];
        for t in tags.iter_mut() {
            assert!(!alloc.activate(0, t).flush_all);
        }
        let mut extra = AsidTag::NONE;
        let a = alloc.activate(0, &mut extra);
        assert!(a.flush_all);
        assert_ne!(a.asid, kept, "a live ASID of another core was handed out");
        // Every new space of the new generation avoids core 1's ASID...
        let fresh: Vec<u16> = tags[..200]
            .iter_mut()
            .map(|t| alloc.activate(0, t).asid)
            .collect();
        assert!(!fresh.contains(&kept));
        // ...which `b` still has when core 1 switches to it again.
        assert_eq!(alloc.activate(1, &mut b).asid, kept);
        // Released, it is free again.
        assert_eq!(alloc.release(b), Some(kept));
    }

    #[test]
    fn sixteen_bit_asids() {
        let mut alloc = AsidAllocator::new(16, 1);
        let mut t = AsidTag::NONE;
        assert_eq!(alloc.activate(0, &mut t).asid, 1);
        assert_eq!(alloc.asid_bits(), 16);
    }
}
