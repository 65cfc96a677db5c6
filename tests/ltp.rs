//! The Linux Test Project's memory and process syscall tests (built by `scripts/ltp build` from
//! the source beside the checkout), run on tidemark and on Debian's Linux 6.1 in the same QEMU,
//! each against `tests/ltp/expected.txt`: a line per test with what Linux and tidemark give and,
//! where tidemark does not pass, why, in one line.
//!
//! A test expected to pass that does not fails the run, as does a kernel panic, a timeout, or a
//! run that ends before every test reported. A test that passes but is listed otherwise is
//! reported, so that the list only shrinks.
mod common;
use common::{root, Boot};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// What the runner said of one test: the result, its first attempt's result where that
/// differs (an intermittent failure), and the text of both.
#[derive(Clone, Debug, Default)]
struct Outcome {
    result: String,
    first: String,
    text: String,
}

/// The runner's `ltp-first:` and `ltp:` lines (with the indented output after them): name ->
/// outcome. `ltp: NAME as-first` keeps the first attempt's result.
fn results(output: &str) -> BTreeMap<String, Outcome> {
    let mut map: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in output.lines() {
        let (first, rest) = if let Some(r) = line.strip_prefix("ltp-first: ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("ltp: ") {
            (false, r)
        } else {
            if let Some(c) = &cur {
                if line.starts_with("    ") {
                    let e = map.get_mut(c).unwrap();
                    e.text.push('\n');
                    e.text.push_str(line);
                }
            }
            continue;
        };
        let mut w = rest.split_whitespace();
        let (Some(name), Some(result)) = (w.next(), w.next()) else {
            cur = None;
            continue;
        };
        if name == "done" {
            cur = None;
            continue;
        }
        let e = map.entry(name.to_string()).or_default();
        if first {
            e.first = result.to_string();
            e.result = result.to_string();
        } else if result != "as-first" {
            e.result = result.to_string();
        }
        e.text.push('\n');
        e.text.push_str(line);
        cur = Some(name.to_string());
    }
    map
}

/// `tests/ltp/expected.txt`: name -> (on Linux, on tidemark, reason).
fn expected() -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(root().join("tests/ltp/expected.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.splitn(4, ' ');
            let name = w.next().unwrap().to_string();
            let linux = w.next().expect("a Linux result").to_string();
            let tidemark = w.next().expect("a tidemark result").to_string();
            (name, (linux, tidemark, w.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// The tests' archive, or `None` (said visibly) where LTP's source is not beside the checkout.
fn archive() -> Option<PathBuf> {
    let cpio = root().join("build/ltp/ltp.cpio");
    if cpio.exists() {
        return Some(cpio);
    }
    eprintln!("SKIPPED: no build/ltp/ltp.cpio (scripts/ltp build found no LTP source)");
    None
}

/// Checks one run against its column of the list.
fn check(kernel: &str, output: &str, column: impl Fn(&(String, String, String)) -> &String) {
    assert!(
        !output.contains("kernel panic") && !output.contains("*** "),
        "{kernel}: the kernel failed:\n{output}"
    );
    let got = results(output);
    let want = expected();
    let listed: Vec<_> = want.keys().collect();
    let ran: Vec<_> = got.keys().collect();
    assert_eq!(
        ran, listed,
        "{kernel}: the tests that ran are not the listed ones"
    );
    let mut wrong = Vec::new();
    let mut better = Vec::new();
    let mut flaky = Vec::new();
    for (name, exp) in &want {
        let o = &got[name];
        let exp = column(exp);
        let result = &o.result;
        if (result == "TIMEOUT" && exp != "TIMEOUT") || (exp == "PASS" && result != "PASS") {
            wrong.push(format!("{name}: expected {exp}, got:{}", o.text));
        } else if result == "PASS" && exp != "PASS" {
            better.push(name.clone());
        }
        if o.first != o.result && result == "PASS" {
            flaky.push(format!("{name}:{}", o.text));
        }
    }
    let passed = got.values().filter(|o| o.result == "PASS").count();
    eprintln!("{kernel}: {passed} of {} LTP tests pass", got.len());
    if !better.is_empty() {
        eprintln!("{kernel}: these now pass but are listed otherwise: {better:?}");
    }
    if !flaky.is_empty() {
        eprintln!(
            "{kernel}: these failed once and passed when run again:\n{}",
            flaky.join("\n")
        );
    }
    assert!(wrong.is_empty(), "{kernel}:\n{}", wrong.join("\n"));
}

#[test]
fn ltp_on_tidemark() {
    let Some(tests) = archive() else {
        return;
    };
    let mut image = std::fs::read(root().join("build/initrd/ltp-runner.cpio")).unwrap();
    image.extend(std::fs::read(&tests).unwrap());
    let combined = root().join("target/ltp-tidemark.cpio");
    std::fs::write(&combined, image).unwrap();
    let mut b = Boot::default().mem("1G").args("log=warn");
    b.extra = vec!["-initrd".into(), combined.to_string_lossy().into_owned()];
    b.timeout = Duration::from_secs(1500);
    let o = b.run();
    check("tidemark", &o.output, |e| &e.1);
    o.assert_status(0);
    o.assert_no_frame_leak();
}

#[test]
fn ltp_on_linux() {
    let Some(tests) = archive() else {
        return;
    };
    let out = Command::new(root().join("scripts/linux-ref"))
        .args(["test", "build/user/ltp/runner"])
        .current_dir(root())
        .env("LINUX_MEM", "1G")
        .env("LINUX_NO_ICOUNT", "1")
        .env("LINUX_QEMU_TIMEOUT", "1500")
        .env("LINUX_APPEND_CPIO", &tests)
        .output()
        .expect("scripts/linux-ref could not be started");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    check("Linux", &text, |e| &e.0);
}
