//! Randomness a program can trust: the layout, AT_RANDOM and getrandom differ from boot to boot
//! and between `-seed` values, and repeat exactly under the same `-seed` (QEMU then fixes the
//! device tree's seed), which is what deterministic runs and the benchmarks use.
mod common;
use common::Boot;

/// The `layout:` line of `user/c/random.c` split into its named fields, after checking the run.
fn layout(extra: &[&str], args: &str, cpu: Option<&str>) -> Vec<(String, String)> {
    layout_and_log(extra, args, cpu).0
}

fn layout_and_log(
    extra: &[&str],
    args: &str,
    cpu: Option<&str>,
) -> (Vec<(String, String)>, String) {
    let mut b = Boot::default().args(args);
    if let Some(c) = cpu {
        b = b.cpu(c);
    }
    b.extra.extend(extra.iter().map(|s| s.to_string()));
    let o = b.program("c-random", "").run();
    o.assert_tap("random", 18);
    o.assert_no_frame_leak();
    let line = o
        .output
        .lines()
        .find_map(|l| l.strip_prefix("layout: "))
        .unwrap_or_else(|| panic!("no layout line:\n{}", o.output))
        .to_string();
    let fields: Vec<(String, String)> = line
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(fields.len(), 5, "{line}");
    (fields, o.output)
}

/// Every field differs between the two runs.
fn all_differ(a: &[(String, String)], b: &[(String, String)]) {
    for (x, y) in a.iter().zip(b) {
        assert_ne!(x, y, "the same {} in two runs:\n{a:?}\n{b:?}", x.0);
    }
}

#[test]
fn every_boot_draws_new_values() {
    let runs: Vec<_> = (0..3).map(|_| layout(&[], "", None)).collect();
    all_differ(&runs[0], &runs[1]);
    all_differ(&runs[0], &runs[2]);
    all_differ(&runs[1], &runs[2]);
}

#[test]
fn the_same_seed_repeats_and_another_seed_does_not() {
    let a = layout(&["-seed", "5"], "", None);
    let b = layout(&["-seed", "5"], "", None);
    assert_eq!(a, b, "-seed 5 twice");
    let c = layout(&["-seed", "6"], "", None);
    all_differ(&a, &c);
    // Under -icount too, as the benchmarks run.
    let d = layout(&["-seed", "5", "-icount", "shift=0"], "", None);
    let e = layout(&["-seed", "5", "-icount", "shift=0"], "", None);
    assert_eq!(d, e, "-seed 5 -icount twice");
}

#[test]
fn a_cpu_with_rndr_mixes_it_in() {
    // `max` has FEAT_RNG; the boot log says RNDR was used, and boots still differ.
    let (a, log) = layout_and_log(&[], "log=info", Some("max"));
    assert!(log.contains("RNDR mixed in"), "{log}");
    let b = layout(&[], "log=info", Some("max"));
    all_differ(&a, &b);
    let (_, log) = layout_and_log(&[], "log=info", Some("cortex-a72"));
    assert!(
        log.contains("40 seed bytes from the device tree, RNDR absent"),
        "{log}"
    );
}

#[test]
fn norandmaps_fixes_the_layout_but_not_the_bytes() {
    let a = layout(&[], "norandmaps", None);
    let b = layout(&[], "norandmaps", None);
    for (x, y) in a.iter().zip(&b) {
        match x.0.as_str() {
            "brk" | "mmap" | "stack" => assert_eq!(x, y, "norandmaps keeps {}", x.0),
            _ => assert_ne!(x, y, "{} must still be random", x.0),
        }
    }
}
