//! The kernel's random numbers: address-space randomisation, AT_RANDOM and getrandom(2).
//!
//! A SplitMix64 stream seeded from the generic timer at boot and stirred with the counter on every
//! draw. Not cryptographic, which tidemark does not claim; with `-icount` the stream is
//! reproducible run to run, which suits benchmarks and deterministic tests.
use core::sync::atomic::{AtomicU64, Ordering};

static STATE: AtomicU64 = AtomicU64::new(0x7469_6465_6d61_726b);

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Mixes `entropy` (e.g. a counter value) into the state.
pub fn stir(entropy: u64) {
    STATE.fetch_xor(splitmix(entropy), Ordering::Relaxed);
}

pub fn next_u64() -> u64 {
    let s = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    splitmix(s.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

pub fn fill(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let v = next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
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
}
