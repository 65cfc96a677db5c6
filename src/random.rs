//! The kernel's random numbers: address-space randomisation, AT_RANDOM and getrandom(2).
//!
//! One ChaCha20 generator in the shape of Linux's `crng` (`drivers/char/random.c` since 5.18):
//! a 256-bit key from which each request draws a fresh ChaCha20 stream whose first 32 bytes
//! replace the key at once (fast key erasure: what was handed out before cannot be recomputed
//! from the state afterwards). The stream cipher is the `chacha20` crate's.
//!
//! # Where the key comes from
//!
//! Seed material is folded into the key by [`Crng::mix`]: for each 32-byte block `b`,
//! `key = ChaCha20(key ^ b)` on a stream of its own, so the key is as unpredictable as the best
//! input ever mixed in, whatever the others were. At boot the kernel mixes
//! - the device tree's `/chosen/rng-seed` and `kaslr-seed` (QEMU fills both from the host's
//!   generator, or from its `-seed N` generator, which makes them repeat), then overwrites them
//!   in the blob, as Linux does;
//! - 32 bytes of `RNDR` when `ID_AA64ISAR0_EL1` says the CPU has FEAT_RNG;
//! - timer jitter only when neither gave anything: it is the weakest source, and mixing it into a
//!   seeded key would break the promise that `-seed N` repeats a run exactly.
//!
//! Once a minute of uptime, the next request reseeds from `RNDR` where the CPU has it.
use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Linux `CRNG_RESEED_INTERVAL`: 60 seconds.
const RESEED_INTERVAL_NS: u64 = 60_000_000_000;

/// A ChaCha20 generator with fast key erasure.
pub struct Crng {
    key: [u8; 32],
    /// Bytes of seed material mixed in so far (what boot reports).
    seeded: usize,
    /// Uptime of the last reseed, in nanoseconds.
    last_reseed_ns: u64,
}

impl Crng {
    pub const fn new() -> Self {
        Self {
            key: [0; 32],
            seeded: 0,
            last_reseed_ns: 0,
        }
    }

    /// Folds `input` into the key, 32 bytes at a time. Stream 1 keeps the mixing outputs apart
    /// from the output streams (stream 0).
    pub fn mix(&mut self, input: &[u8]) {
        for block in input.chunks(32) {
            let mut k = self.key;
            for (a, b) in k.iter_mut().zip(block) {
                *a ^= b;
            }
            let mut rng = ChaCha20Rng::from_seed(k);
            rng.set_stream(1);
            rng.fill_bytes(&mut self.key);
        }
        self.seeded += input.len();
    }

    /// Fills `out`: the request's own stream replaces the key with its first 32 bytes, then
    /// gives the rest.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut rng = ChaCha20Rng::from_seed(self.key);
        rng.fill_bytes(&mut self.key);
        rng.fill_bytes(out);
    }

    pub const fn seeded_bytes(&self) -> usize {
        self.seeded
    }

    /// Whether a reseed is due at uptime `now_ns`; when it is, the time is taken as the reseed's.
    pub fn reseed_due(&mut self, now_ns: u64) -> bool {
        let due = now_ns.saturating_sub(self.last_reseed_ns) >= RESEED_INTERVAL_NS;
        if due {
            self.last_reseed_ns = now_ns;
        }
        due
    }
}

impl Default for Crng {
    fn default() -> Self {
        Self::new()
    }
}

/// The kernel's generator. Its lock is held for one request at a time and nothing is taken under it.
static CRNG: crate::sync::Mutex<Crng> = crate::sync::Mutex::new(Crng::new());

/// Mixes boot seed material into the kernel's generator (see the module documentation).
pub fn add_bootloader_randomness(seed: &[u8]) {
    CRNG.lock().mix(seed);
}

/// Bytes of seed material the generator has received.
pub fn seeded_bytes() -> usize {
    CRNG.lock().seeded_bytes()
}

/// Fills `buf` with random bytes; reseeds first when the interval has passed.
pub fn fill(buf: &mut [u8]) {
    let mut crng = CRNG.lock();
    #[cfg(target_os = "none")]
    {
        if crng.reseed_due(crate::arch::aarch64::timer::uptime_ns()) {
            let mut seed = [0u8; 32];
            if crate::arch::aarch64::cpu::hw_random(&mut seed) {
                crng.mix(&seed);
            }
        }
    }
    crng.fill(buf);
}

pub fn next_u64() -> u64 {
    let mut b = [0u8; 8];
    fill(&mut b);
    u64::from_le_bytes(b)
}

/// A page-aligned address in `[start, start + range)` (Linux `randomize_page`); `start` itself
/// when `range` is under a page.
pub fn randomize_page(start: usize, range: usize) -> usize {
    let pages = range >> 12;
    if pages == 0 {
        return start;
    }
    start + ((next_u64() as usize % pages) << 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randomize_page_stays_in_range_and_aligned() {
        for _ in 0..1000 {
            let a = randomize_page(0x1000_0000, 1 << 30);
            assert!((0x1000_0000..0x1000_0000 + (1 << 30)).contains(&a));
            assert_eq!(a % 4096, 0);
        }
        assert_eq!(randomize_page(0x5000, 100), 0x5000);
    }

    #[test]
    fn fill_covers_odd_lengths() {
        let mut b = [0u8; 13];
        fill(&mut b);
        assert!(b.iter().any(|&x| x != 0));
    }

    #[test]
    fn same_seed_same_stream_and_different_seed_different_stream() {
        let draw = |seed: &[u8]| {
            let mut c = Crng::new();
            c.mix(seed);
            let mut out = [0u8; 48];
            c.fill(&mut out);
            out
        };
        assert_eq!(draw(b"seed one"), draw(b"seed one"));
        assert_ne!(draw(b"seed one"), draw(b"seed two"));
        // Every block of a long input counts, the last one included.
        let mut long = [7u8; 70];
        let a = draw(&long);
        long[69] ^= 1;
        assert_ne!(a, draw(&long));
    }

    #[test]
    fn the_key_changes_with_every_request() {
        let mut c = Crng::new();
        c.mix(&[1; 32]);
        let k0 = c.key;
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        c.fill(&mut a);
        let k1 = c.key;
        c.fill(&mut b);
        assert_ne!(k0, k1);
        assert_ne!(k1, c.key);
        assert_ne!(a, b);
        // The output is not the new key.
        assert_ne!(&a[..], &k1[..16]);
    }

    #[test]
    fn reseeds_once_a_minute() {
        let mut c = Crng::new();
        assert!(!c.reseed_due(1_000_000_000));
        assert!(c.reseed_due(RESEED_INTERVAL_NS));
        assert!(!c.reseed_due(RESEED_INTERVAL_NS + 59_000_000_000));
        assert!(c.reseed_due(2 * RESEED_INTERVAL_NS));
    }

    #[test]
    fn mixing_counts_and_changes_the_key() {
        let mut c = Crng::new();
        c.mix(&[0; 40]);
        assert_eq!(c.seeded_bytes(), 40);
        assert_ne!(c.key, [0; 32]);
    }
}
