//! alloc_stress: many allocations and frees of mixed sizes in a deterministic pattern, with a checksum
//! over the contents so that a page lost, shared or zeroed by mistake in brk/mmap/munmap shows up as a
//! wrong sum instead of passing silently. Prints `alloc_stress: ok <checksum>` and exits 0 on success.
use std::process::ExitCode;

/// xorshift64: a fixed sequence without depending on getrandom.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn fill(buf: &mut [u8], seed: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (seed as usize).wrapping_add(i * 31) as u8;
    }
}

fn check(buf: &[u8], seed: u64) -> bool {
    buf.iter()
        .enumerate()
        .all(|(i, &b)| b == (seed as usize).wrapping_add(i * 31) as u8)
}

fn main() -> ExitCode {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<Option<(Vec<u8>, u64)>> = (0..512).map(|_| None).collect();
    let mut checksum: u64 = 0;
    for round in 0..rounds {
        let slot = (rng.next() % live.len() as u64) as usize;
        if let Some((buf, seed)) = live[slot].take() {
            if !check(&buf, seed) {
                println!(
                    "alloc_stress: corrupted block of {} bytes in round {round}",
                    buf.len()
                );
                return ExitCode::from(1);
            }
            checksum = checksum
                .wrapping_mul(31)
                .wrapping_add(buf.iter().map(|&b| u64::from(b)).sum());
        } else {
            // Mostly small blocks, some medium, a few above the mmap threshold.
            let size = match rng.next() % 100 {
                0..=79 => 1 + rng.next() % 256,
                80..=97 => 257 + rng.next() % 16_384,
                _ => 131_072 + rng.next() % 262_144,
            } as usize;
            let seed = rng.next();
            let mut buf = vec![0u8; size];
            if buf.iter().any(|&b| b != 0) {
                println!("alloc_stress: fresh block of {size} bytes is not zeroed");
                return ExitCode::from(1);
            }
            fill(&mut buf, seed);
            live[slot] = Some((buf, seed));
        }
    }
    for (buf, seed) in live.into_iter().flatten() {
        if !check(&buf, seed) {
            println!(
                "alloc_stress: corrupted block of {} bytes at the end",
                buf.len()
            );
            return ExitCode::from(1);
        }
        checksum = checksum.wrapping_mul(31).wrapping_add(buf.len() as u64);
    }
    println!("alloc_stress: ok {checksum:016x}");
    ExitCode::SUCCESS
}
