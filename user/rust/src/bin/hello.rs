//! hello: std on static musl at EL0. Covers what a typical Rust program does on its way to `main`
//! (musl start-up, std's runtime init: sigaltstack/guard handling, stdout locking) and the allocator
//! paths musl's mallocng takes: small allocations from brk/mmap'd groups, big ones through mmap.
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("hello from rust (musl)");
    let args: Vec<String> = std::env::args().collect();
    let envc = std::env::vars_os().count();
    println!(
        "argc={} envc={} argv[0]={}",
        args.len(),
        envc,
        args.first().map_or("(none)", |s| s)
    );

    // Vec growth doubles its buffer: several reallocations, the last ones above musl's mmap threshold.
    let mut v: Vec<u64> = Vec::new();
    for i in 0..200_000u64 {
        v.push(i * 3);
    }
    let sum: u64 = v.iter().sum();
    let expected = 3 * (199_999 * 200_000 / 2);
    let boxed = Box::new([7u8; 4096]);
    if sum != expected || boxed.iter().map(|&b| u64::from(b)).sum::<u64>() != 7 * 4096 {
        println!("memory did not keep its contents: sum {sum}, expected {expected}");
        return ExitCode::from(1);
    }
    println!("vec of {} elements, sum {sum}: ok", v.len());
    // A distinctive exit status lets the boot test tell "ran to the end" from a crash or a default 0.
    ExitCode::from(if args.iter().any(|a| a == "--exit-7") {
        7
    } else {
        0
    })
}
