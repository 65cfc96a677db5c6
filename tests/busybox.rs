//! Debian's unmodified busybox (the `busybox-static` arm64 package, fetched by scripts/busybox)
//! as the first process: its shell runs `user/busybox/everyday.sh`, the commands people type
//! first, and every section's output is checked. Then Debian's dynamically linked coreutils
//! (scripts/debian) run `user/debian/coreutils.sh` the same way.
mod common;
use common::{root, Boot};
use std::collections::BTreeMap;

/// The output after each `== name` line, up to the next.
fn sections(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            cur = Some(name.to_string());
            map.insert(name.to_string(), Vec::new());
        } else if let Some(c) = &cur {
            // Kernel log lines (a process's exit) are not the program's output.
            if !line.starts_with('[') {
                map.get_mut(c).unwrap().push(line.to_string());
            }
        }
    }
    map
}

/// The image `build/initrd/NAME.cpio` made from fetched packages, or `None` (with a visible
/// skip) where `what` could not be fetched; under `CI=true` that is a failure.
fn fetched_image(name: String, what: &str) -> Option<String> {
    if root()
        .join("build/initrd")
        .join(format!("{name}.cpio"))
        .exists()
    {
        return Some(name);
    }
    let why = format!("build/initrd has no {name} image: {what} could not be fetched");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("SKIPPED: {why}");
    None
}

/// The busybox image of `user/busybox/NAME.sh` (scripts/busybox).
fn image(name: &str) -> Option<String> {
    fetched_image(
        format!("busybox-{name}"),
        "busybox-static (scripts/busybox)",
    )
}

#[test]
fn everyday_commands() {
    let Some(img) = image("everyday") else {
        return;
    };
    let o = Boot::default()
        .args("init=/bin/sh")
        .program(&img, "/etc/rc")
        .run();
    o.assert_status(0);
    o.assert_no_frame_leak();
    let s = sections(&o.output);
    let get = |name: &str| -> Vec<&str> {
        s.get(name)
            .unwrap_or_else(|| panic!("no section {name} in:\n{}", o.output))
            .iter()
            .map(String::as_str)
            .collect()
    };
    let has = |name: &str, want: &str| {
        let lines = get(name);
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "section {name} lacks {want:?}: {lines:?}"
        );
    };
    assert_eq!(get("uname"), ["Linux 6.1.0-tidemark"]);
    for d in ["bin", "dev", "etc", "proc", "tmp", "usr"] {
        has("ls-root", d);
    }
    has("ls-l", "crw-rw-rw-    1 root     root        1,   3");
    has("ls-l", "drwxrwxrwt");
    assert_eq!(get("cd-pwd"), ["/tmp", "/"]);
    assert_eq!(
        get("files"),
        [
            "hello",
            "a     c     hard  soft",
            "hello",
            "2 6 regular file",
            "600",
            "hello",
            "dangling",
            "0"
        ]
    );
    assert_eq!(get("pipes"), ["two", "three"]);
    assert_eq!(get("redirect"), ["2"]);
    assert_eq!(get("script"), ["script got 2 args: x y"]);
    assert_eq!(get("subshell"), ["nested deeper"]);
    assert_eq!(get("find"), ["/tmp/f", "/tmp/f/g", "/tmp/f/g/h"]);
    assert_eq!(
        get("ps")[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "USER", "COMMAND"]
    );
    assert_eq!(get("proc-self"), ["/bin/busybox", "cat"]);
    has("meminfo", "MemTotal:");
    has("meminfo", "MemFree:");
    has("free", "Mem:");
    assert_eq!(
        get("mounts"),
        [
            "rootfs / rootfs rw 0 0",
            "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"
        ]
    );
    has("df", "/proc");
    has("dd", "100+0 records out");
    assert_eq!(get("urandom"), ["16"]);
    let year: u32 = get("date")[0].parse().expect("a year");
    assert!(year >= 2024, "the date comes from the RTC: {year}");
    has("time", "real");
    assert_eq!(get("sleep"), ["waited"]);
    assert_eq!(get("gzip"), ["compress me"]);
    assert_eq!(get("sed-grep"), ["bANANa"]);
    assert_eq!(get("awk"), ["12"]);
    assert_eq!(get("env"), ["FOO=bar"]);
    assert_eq!(get("exit"), ["status 3"]);
    assert_eq!(
        get("mount"),
        ["0", "sysfs on /tmp/sys type sysfs (rw,relatime)"]
    );
    assert_eq!(get("fifo"), ["through the fifo"]);
    assert!(s.contains_key("end"), "the script ran to its end");
}

/// The Debian image of `user/debian/NAME.sh` (scripts/debian).
fn debian_image(name: &str) -> Option<String> {
    fetched_image(
        format!("debian-{name}"),
        "Debian's coreutils (scripts/debian)",
    )
}

/// Debian's dynamically linked coreutils (`user/debian/coreutils.sh`): every command is the
/// package's binary, started through glibc's loader with libc6, libacl1, libattr1, libgmp10,
/// libselinux1 and libpcre2-8-0 from the root file system.
#[test]
fn debian_coreutils_run() {
    let Some(img) = debian_image("coreutils") else {
        return;
    };
    let o = Boot::default()
        .args("init=/bin/sh")
        .program(&img, "/etc/rc")
        .run();
    o.assert_status(0);
    o.assert_no_frame_leak();
    let s = sections(&o.output);
    let get = |name: &str| -> Vec<&str> {
        s.get(name)
            .unwrap_or_else(|| panic!("no section {name} in:\n{}", o.output))
            .iter()
            .map(String::as_str)
            .collect()
    };
    assert_eq!(get("true"), ["true-ok"]);
    assert_eq!(get("false"), ["false-status 1"]);
    assert_eq!(get("echo"), ["hello from coreutils"]);
    assert_eq!(get("uname"), ["Linux aarch64"]);
    assert_eq!(get("ls"), ["cat", "chgrp", "chmod"]);
    assert_eq!(get("ls-l"), ["d", "d"]);
    assert_eq!(get("sort"), ["apple", "fig", "pear"]);
    assert_eq!(get("wc"), ["      2       3"]);
    // FIPS 180-2's test vector for "abc".
    assert_eq!(
        get("sha256sum"),
        ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -"]
    );
    assert_eq!(get("factor"), ["1234567890: 2 3 3 5 3607 3803"]);
    assert_eq!(get("seq"), ["1+2+3+4+5"]);
    assert_eq!(get("cat"), ["through cat"]);
    assert_eq!(get("date"), ["1970-01-01"]);
    assert_eq!(get("stat"), ["directory"]);
    let maps = get("maps");
    for lib in ["/bin/cat", "libc.so.6", "ld-linux-aarch64.so.1"] {
        assert!(
            maps.iter().any(|l| l.ends_with(lib)),
            "cat's maps name no {lib}: {maps:?}"
        );
    }
    // Opened by the shell before the exec, read by tr after it: the text is tr's, as a
    // seq_file renders at the first read.
    let redirected = get("redirect-maps");
    assert!(
        redirected.iter().any(|l| l.ends_with("/usr/bin/tr")),
        "a /proc file opened before an exec shows the program before it: {redirected:?}"
    );
    assert_eq!(get("id"), ["0"]);
    assert!(
        s.contains_key("done"),
        "the script did not finish:\n{}",
        o.output
    );
}
