//! Shared by the QEMU tests: boot the real image with a given machine and command line, collect
//! the console output and the exit status.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The image `scripts/build` made; the tests never build it themselves (cargo holds its lock).
pub fn image() -> PathBuf {
    let p = root().join("build/tidemark.bin");
    assert!(
        p.exists(),
        "{} is missing: run scripts/build (scripts/test does)",
        p.display()
    );
    p
}

#[derive(Clone)]
pub struct Boot {
    pub machine: String,
    pub cpu: String,
    pub mem: String,
    pub smp: u32,
    pub args: String,
    pub extra: Vec<String>,
    pub timeout: Duration,
}

impl Default for Boot {
    fn default() -> Self {
        Self {
            machine: "virt".into(),
            cpu: std::env::var("QEMU_CPU").unwrap_or_else(|_| "cortex-a72".into()),
            mem: std::env::var("QEMU_MEM").unwrap_or_else(|_| "512M".into()),
            smp: std::env::var("QEMU_SMP")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            args: String::new(),
            extra: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub status: Option<i32>,
    pub output: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn assert_contains(&self, needle: &str) {
        assert!(
            self.output.contains(needle),
            "expected {needle:?} in the console output:\n{}",
            self.output
        );
    }
    /// Checks a TAP-reporting test program: exactly `checks` checks ran, each numbered once (a
    /// check skipped by a branch, or a program cut short, fails), none of them `not ok`, and the
    /// summary says `checks passed, 0 failed`.
    pub fn assert_tap(&self, name: &str, checks: usize) {
        let failures: Vec<&str> = self
            .output
            .lines()
            .filter(|l| l.starts_with("not ok"))
            .collect();
        assert!(
            failures.is_empty(),
            "failed checks:\n{}\n\nconsole:\n{}",
            failures.join("\n"),
            self.output
        );
        let numbers: Vec<usize> = self
            .output
            .lines()
            .filter_map(|l| l.strip_prefix("ok "))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        // Most programs number their checks 1, 2, ...; brk_conformance uses the conformance
        // items' numbers. Either way: `checks` of them, each once, in order.
        assert!(
            numbers.len() == checks && numbers.windows(2).all(|w| w[0] < w[1]),
            "{name}: expected {checks} checks, each once, in order; got {numbers:?}:\n{}",
            self.output
        );
        let summary = format!("# {name}: {checks} passed, 0 failed");
        assert!(
            self.output.lines().any(|l| l == summary),
            "no summary line {summary:?}:\n{}",
            self.output
        );
        self.assert_status(0);
    }

    /// The program's exit returned every frame it used: the kernel's count after the exit equals
    /// the count before exec.
    pub fn assert_no_frame_leak(&self) {
        let line = self
            .output
            .lines()
            .find(|l| l.contains("frames free after exit:"))
            .unwrap_or_else(|| panic!("no frame summary in:\n{}", self.output));
        let nums: Vec<usize> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        let n = nums.len();
        assert!(
            n >= 2 && nums[n - 2] == nums[n - 1],
            "frames leaked: {line}"
        );
    }

    pub fn assert_status(&self, status: i32) {
        assert_eq!(
            self.status,
            Some(status),
            "unexpected exit status; console output:\n{}",
            self.output
        );
    }
}

impl Boot {
    pub fn args(mut self, a: &str) -> Self {
        self.args = a.into();
        self
    }
    pub fn mem(mut self, m: &str) -> Self {
        self.mem = m.into();
        self
    }
    pub fn cpu(mut self, c: &str) -> Self {
        self.cpu = c.into();
        self
    }

    /// Runs `build/initrd/NAME.cpio` (made by scripts/build-user) as the first process, with
    /// `argv` after `--` on the command line.
    pub fn program(mut self, name: &str, argv: &str) -> Self {
        let cpio = root().join("build/initrd").join(format!("{name}.cpio"));
        assert!(
            cpio.exists(),
            "{} is missing: run scripts/build-user",
            cpio.display()
        );
        self.extra.push("-initrd".into());
        self.extra.push(cpio.to_string_lossy().into_owned());
        if !argv.is_empty() {
            self.args = format!("{} -- {argv}", self.args);
        }
        self
    }

    /// Boots and types at the console as a person would: for each step, waits until the output
    /// (after what earlier steps matched) shows `wait` (or, for `@N`, N milliseconds), then
    /// sends `type`. Gives up at the timeout, returning what was printed.
    pub fn converse(&self, steps: &[(&str, &str)]) -> Outcome {
        use std::io::Write;
        use std::sync::{Arc, Mutex};
        let start = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qemu-system-aarch64 could not be started (run scripts/setup)");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut stdin = child.stdin.take().unwrap();
        let mut from = 0;
        'steps: for (wait, send) in steps {
            if let Some(ms) = wait.strip_prefix('@').and_then(|m| m.parse().ok()) {
                std::thread::sleep(Duration::from_millis(ms));
            }
            while !wait.starts_with('@') {
                let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
                if let Some(i) = text.get(from..).and_then(|t| t.find(wait)) {
                    from += i + wait.len();
                    break;
                }
                if start.elapsed() > self.timeout {
                    break 'steps;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = stdin.write_all(send.as_bytes());
            let _ = stdin.flush();
        }
        let status = self.wait_exit(&mut child, start);
        drop(stdin);
        reader.join().unwrap();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        let output = String::from_utf8_lossy(&seen.lock().unwrap()).replace('\r', "") + &err;
        Outcome {
            status,
            output,
            elapsed: start.elapsed(),
        }
    }

    /// Waits for QEMU to end, killing it at the timeout (`None` then).
    fn wait_exit(&self, child: &mut std::process::Child, start: Instant) -> Option<i32> {
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("qemu-system-aarch64");
        c.args([
            "-machine",
            &self.machine,
            "-cpu",
            &self.cpu,
            "-m",
            &self.mem,
        ])
        .args([
            "-smp",
            &self.smp.to_string(),
            "-nographic",
            "-nic",
            "none",
            "-semihosting",
        ])
        .arg("-kernel")
        .arg(image())
        .args(["-append", &self.args])
        .args(&self.extra);
        c
    }

    pub fn run(&self) -> Outcome {
        let start = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qemu-system-aarch64 could not be started (run scripts/setup)");
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stdout.read_to_end(&mut s);
            s
        });
        let status = self.wait_exit(&mut child, start);
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        let output = String::from_utf8_lossy(&reader.join().unwrap()).replace('\r', "") + &err;
        Outcome {
            status,
            output,
            elapsed: start.elapsed(),
        }
    }
}
