//! GDB against the real image: QEMU's gdbstub, `gdb-multiarch -batch`, a breakpoint at `kmain`,
//! stepping, and a backtrace that names the expected functions.
mod common;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn gdb_breaks_at_kmain_steps_and_backtraces() {
    let root = common::root();
    let elf = root.join("build/tidemark.elf");
    assert!(
        elf.exists(),
        "build/tidemark.elf missing: run scripts/build"
    );
    let port = free_port();
    let mut qemu = Command::new("qemu-system-aarch64")
        .args([
            "-machine",
            "virt",
            "-cpu",
            "cortex-a72",
            "-m",
            "128M",
            "-nographic",
            "-nic",
            "none",
        ])
        .args([
            "-semihosting",
            "-S",
            "-gdb",
            &format!("tcp:127.0.0.1:{port}"),
            "-kernel",
        ])
        .arg(common::image())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-aarch64");
    // Wait for the stub to listen.
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gdbstub never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("gdb-multiarch")
        .arg("-batch")
        .arg("-nx")
        .arg(&elf)
        .args(["-x", root.join("qemu/gdbinit").to_str().unwrap()])
        .args(["-ex", &format!("target remote 127.0.0.1:{port}")])
        .args(["-ex", "break kmain", "-ex", "continue"])
        .args([
            "-ex",
            "next",
            "-ex",
            "step",
            "-ex",
            "bt",
            "-ex",
            "info symbol $pc",
            "-ex",
            "detach",
        ])
        .output()
        .expect("gdb-multiarch could not be started (run scripts/setup)");
    let _ = qemu.kill();
    let _ = qemu.wait();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("file src/kmain.rs"),
        "no breakpoint on kmain's source:\n{text}"
    );
    assert!(
        text.contains("Breakpoint 1, "),
        "GDB did not stop at the breakpoint:\n{text}"
    );
    // After `next` + `step` we are one call deeper, inside a function called by kmain.
    let bt: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(bt.len() >= 2, "backtrace too short:\n{text}");
    assert!(
        bt.iter().any(|l| l.contains("tidemark::kmain::kmain")),
        "backtrace does not name kmain:\n{text}"
    );
    assert!(
        !bt[0].contains(" kmain "),
        "step did not enter a callee:\n{text}"
    );
}
