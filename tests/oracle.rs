//! Linux as the oracle: every TAP test program of `user/c/` (and `rust-threads`, `dyn-dynamic`)
//! also runs on Debian's arm64 Linux 6.1 in the same QEMU machine (`scripts/linux-ref test`), as
//! PID 1 after an init that mounts what a Debian system has. Where Linux fails a check, the check
//! is wrong or tests a documented tidemark difference: `tests/oracle/linux-disagrees.txt` lists
//! each with its reason, and this test fails on any other disagreement, and on a listed one that
//! Linux now passes.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What Linux did with one program: the checks it failed, and the last check it ran if the
/// program ended without its summary line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    failed: BTreeSet<String>,
}

fn run_on_linux(program: &str, args: &str, mem: &str) -> (Verdict, String) {
    run_on_linux_smp(program, args, mem, 1)
}

/// [`run_on_linux`] on a machine with `smp` cores.
fn run_on_linux_smp(program: &str, args: &str, mem: &str, smp: u32) -> (Verdict, String) {
    // `rust-NAME` is the Rust program NAME of `user/rust/`, `dyn-NAME` the dynamically linked
    // C program of `user/dyn/` (with glibc's libraries appended); any other name a C program.
    let mut libs = None;
    let bin = if let Some(name) = program.strip_prefix("rust-") {
        root().join("build/user/rust").join(name)
    } else if let Some(name) = program.strip_prefix("dyn-") {
        libs = Some(root().join("build/initrd/dyn-libs.cpio"));
        root().join("build/user/dyn").join(name)
    } else {
        root().join("build/user/c").join(program)
    };
    assert!(
        bin.exists(),
        "{} is missing: run scripts/build-user",
        bin.display()
    );
    let mut cmd = Command::new(root().join("scripts/linux-ref"));
    cmd.arg("test").arg(&bin);
    cmd.args(args.split_whitespace());
    if let Some(libs) = libs {
        cmd.env("LINUX_APPEND_CPIO", libs);
    }
    let out = cmd
        .env("LINUX_MEM", mem)
        .env("LINUX_SMP", smp.to_string())
        .env("LINUX_QEMU_TIMEOUT", "300")
        .output()
        .expect("scripts/linux-ref could not be started");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "")
        + &String::from_utf8_lossy(&out.stderr);
    let mut v = Verdict::default();
    let mut last = 0;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("not ok ") {
            let n = rest.split_whitespace().next().unwrap_or("?").to_string();
            last = n.parse().unwrap_or(last);
            v.failed.insert(n);
        } else if let Some(rest) = l.strip_prefix("ok ") {
            last = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(last);
        }
    }
    if !text
        .lines()
        .any(|l| l.starts_with("# ") && l.contains(" passed, "))
    {
        v.failed.insert(format!("stops-after-{last}"));
    }
    (v, text)
}

/// The listed disagreements for `key` (`PROGRAM` or `PROGRAM:ARGS`).
fn listed(key: &str) -> BTreeSet<String> {
    let list = std::fs::read_to_string(root().join("tests/oracle/linux-disagrees.txt"))
        .expect("tests/oracle/linux-disagrees.txt");
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (k, check) = (w.next()?, w.next()?);
            assert!(w.next().is_some(), "no reason given: {l}");
            (k == key).then(|| check.to_string())
        })
        .collect()
}

fn oracle(program: &str, args: &str, mem: &str) {
    let key = if args.is_empty() {
        program.to_string()
    } else {
        format!("{program}:{}", args.replace(' ', ","))
    };
    let (v, text) = run_on_linux(program, args, mem);
    let expected = listed(&key);
    assert_eq!(
        v.failed, expected,
        "{key}: the checks Linux fails differ from tests/oracle/linux-disagrees.txt \
         (left: Linux now, right: the list)\n{text}"
    );
}

/// `user/c/smp.c` on four cores (the program adapts to the count, which its first check
/// prints).
#[test]
fn smp_on_linux() {
    let (v, text) = run_on_linux_smp("smp", "", "1G", 4);
    assert!(
        text.contains("ok 1 - 4 cores"),
        "Linux did not see 4 cores:\n{text}"
    );
    assert_eq!(v.failed, listed("smp"), "smp: Linux disagrees\n{text}");
}

/// `user/c/futex.c` on four cores, as tidemark runs it there too.
#[test]
fn futex_on_linux() {
    let (v, text) = run_on_linux_smp("futex", "", "1G", 4);
    assert_eq!(v.failed, listed("futex"), "futex: Linux disagrees\n{text}");
}

#[test]
fn abi_on_linux() {
    oracle("abi", "alpha beta", "1G");
}

#[test]
fn brk_conformance_on_linux() {
    oracle("brk_conformance", "", "1G");
}

#[test]
fn mm_on_linux() {
    oracle("mm", "", "1G");
}

#[test]
fn fork_on_linux() {
    oracle("fork", "", "1G");
}

#[test]
fn random_on_linux() {
    oracle("random", "", "1G");
}

#[test]
fn signals_on_linux() {
    oracle("signals", "", "1G");
}

#[test]
fn vmlocked_on_linux() {
    oracle("vmlocked", "", "1G");
}

#[test]
fn sleepers_on_linux() {
    oracle("sleepers", "", "1G");
}

#[test]
fn pgrp_on_linux() {
    oracle("pgrp", "", "1G");
}

#[test]
fn alarm_on_linux() {
    oracle("alarm", "", "1G");
}

#[test]
fn sigsuspend_on_linux() {
    oracle("sigsuspend", "", "1G");
}

#[test]
fn threads_on_linux() {
    oracle("threads", "", "1G");
}

#[test]
fn mtstress_on_linux() {
    oracle("mtstress", "", "1G");
}

#[test]
fn rust_threads_on_linux() {
    oracle("rust-threads", "", "1G");
}

#[test]
fn sysvshm_on_linux() {
    oracle("sysvshm", "", "1G");
}

#[test]
fn xattr_on_linux() {
    oracle("xattr", "", "1G");
}

#[test]
fn fifo_on_linux() {
    oracle("fifo", "", "1G");
}

#[test]
fn seals_on_linux() {
    oracle("seals", "", "1G");
}

#[test]
fn elfmap_on_linux() {
    oracle("elfmap", "", "1G");
}

#[test]
fn anon_vma_on_linux() {
    oracle("anon_vma", "", "1G");
}

#[test]
fn etxtbsy_on_linux() {
    oracle("etxtbsy", "", "1G");
}

#[test]
fn rlimits_on_linux() {
    oracle("rlimits", "", "1G");
}

#[test]
fn subreaper_on_linux() {
    oracle("subreaper", "", "1G");
}

#[test]
fn coredump_on_linux() {
    oracle("coredump", "", "1G");
}

#[test]
fn autoreap_on_linux() {
    oracle("autoreap", "", "1G");
}

#[test]
fn pagemap_on_linux() {
    oracle("pagemap", "", "1G");
}

#[test]
fn thp_on_linux() {
    oracle("thp", "", "1G");
}

#[test]
fn smaps_on_linux() {
    oracle("smaps", "", "1G");
}

#[test]
fn select_on_linux() {
    oracle("select", "", "1G");
}

#[test]
fn mounts_on_linux() {
    oracle("mounts", "", "1G");
}

#[test]
fn dynamic_on_linux() {
    oracle("dyn-dynamic", "", "1G");
}

#[test]
fn clock_on_linux() {
    oracle("clock", "", "1G");
}

#[test]
fn files_on_linux() {
    oracle("files", "", "1G");
}

#[test]
fn exec_on_linux() {
    oracle("exec", "", "1G");
}

#[test]
fn shm_on_linux() {
    oracle("shm", "", "1G");
}

#[test]
fn fuzz_on_linux() {
    oracle("fuzz", "", "1G");
}

/// The modes of `pressure` that do not exhaust memory on purpose: on Linux the OOM killer, not
/// the program, decides how `forkbomb` and `oom` end.
#[test]
fn pressure_on_linux() {
    for mode in ["vmas", "pipes", "lowmap"] {
        oracle("pressure", mode, "1G");
    }
}
