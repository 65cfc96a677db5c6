//! The console as a terminal, driven as a person would: type, wait for the prompt, read the
//! echo. Debian's busybox shell runs as a session leader with the console as its controlling
//! terminal (`setsid -c`), as scripts/shell starts it.
mod common;
use common::{root, Boot};

/// Asserts that `b` comes somewhere after the first `a` in `out` (the echo of what was typed,
/// then what it printed).
fn after(out: &str, a: &str, b: &str) {
    let i = out.find(a).unwrap_or_else(|| panic!("no {a:?} in:\n{out}"));
    assert!(out[i..].contains(b), "no {b:?} after {a:?} in:\n{out}");
}

fn shell() -> Option<Boot> {
    shell_of("/bin/sh -l")
}

/// A session of `command` (Debian's busybox sh, bash-static or sash, all in the busybox image)
/// with the console as its controlling terminal.
fn shell_of(command: &str) -> Option<Boot> {
    let cpio = root().join("build/initrd/busybox.cpio");
    if !cpio.exists() {
        let why =
            "build/initrd has no busybox image: scripts/busybox could not fetch busybox-static";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let mut b = Boot::default().args(&format!(
        "init=/usr/bin/setsid log=warn PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin \
         -- -c {command}"
    ));
    b.extra = vec!["-initrd".into(), cpio.to_string_lossy().into_owned()];
    Some(b)
}

/// Bytes typed before the shell even runs wait in the terminal; lines are echoed and edited;
/// `^C` interrupts the foreground job only; background jobs run and are waited for; `^Z`
/// stops the foreground job and `fg` continues it; the session ends with `poweroff`.
#[test]
fn an_interactive_busybox_session() {
    let Some(b) = shell() else {
        return;
    };
    let o = b.converse(&[
        // Typed at once, long before the prompt: nothing may be lost.
        ("", "echo early-$((6*7))\r"),
        ("early-42", ""),
        ("# ", "echo tpyo\x7f\x7f\x7fypo fixed\r"),
        ("typo fixed", ""),
        ("# ", "cd /tmp && pwd\r"),
        ("/tmp", ""),
        ("# ", "sleep 3 &\r"),
        ("# ", "jobs\r"),
        ("Running", ""),
        ("# ", "echo going; sleep 30\r"),
        // Once the job runs in the foreground (a moment after the shell said so).
        ("going", ""),
        ("@300", "\x03"),
        ("^C", ""),
        ("# ", "echo status $?\r"),
        ("status 130", ""),
        ("# ", "wait; echo background done\r"),
        ("background done", ""),
        // ^Z stops the foreground job; `fg` continues it.
        ("# ", "echo stopping; sleep 2\r"),
        ("stopping", ""),
        ("@300", "\x1a"),
        ("Stopped", ""),
        ("# ", "jobs\r"),
        ("Stopped", "fg\r"),
        ("# ", "echo resumed $?\r"),
        ("resumed 0", ""),
        ("# ", "ls /proc | grep -c .; c-hello | head -n 1\r"),
        ("# ", "date +%Y\r"),
        ("20", ""),
        ("# ", "poweroff -f\r"),
    ]);
    o.assert_status(0);
    let after = |a: &str, b: &str| after(&o.output, a, b);
    // The echo of what was typed, then what it printed.
    after("echo early-$((6*7))", "early-42");
    after("tpyo", "typo fixed");
    after("cd /tmp && pwd", "/tmp");
    after("jobs", "Running");
    after("going", "^C");
    after("echo status $?", "status 130");
    after("wait; echo background done", "background done");
    after("stopping", "Stopped");
    after("echo resumed $?", "resumed 0");
    after("date +%Y", "20");
    // A program of ours runs from the shell's PATH.
    after("c-hello | head -n 1", "\n");
}

/// Typing into the shell on a GICv3 machine: the UART's receive interrupt is routed by affinity
/// there, and every byte still arrives.
#[test]
fn typing_on_a_gicv3_machine() {
    let Some(mut b) = shell() else {
        return;
    };
    b.machine = "virt,gic-version=3".into();
    let o = b.converse(&[
        ("# ", "echo typed-$((6*7))\r"),
        ("typed-42", ""),
        ("# ", "poweroff -f\r"),
    ]);
    o.assert_status(0);
}

/// A background job that reads the terminal is stopped (SIGTTIN) instead of taking the shell's
/// input; `jobs` shows it stopped, and it can be killed. One in an orphaned process group gets
/// EIO instead: no member has a parent in another group of the session, the first process not
/// counting (Linux's `will_become_orphaned_pgrp`).
#[test]
fn a_background_reader_is_stopped() {
    let Some(b) = shell() else {
        return;
    };
    let o = b.converse(&[
        // A shell below the first one: as the first process's child, `cat &` is a job whose
        // group has a parent in another group of the session, so it can be stopped (a job of
        // the first process itself could not: see the orphaned case below).
        ("# ", "sh\r"),
        ("# ", "cat &\r"),
        // The shell, not cat, gets this line: only the shell computes the sum.
        ("# ", "echo still-$((1+1))-the-shells\r"),
        ("still-2-the-shells", ""),
        ("# ", "jobs\r"),
        ("Stopped", ""),
        ("# ", "kill -9 %1; echo killed-$?\r"),
        ("killed-0", ""),
        // A reader left in an orphaned process group (its parent gone to the first process) is
        // not stopped, which nobody could undo: its read fails with EIO.
        (
            "# ",
            "(sh -c 'sleep 1; cat < /dev/tty; echo cat-status $?' &)\r",
        ),
        // Its output came after the prompt: a new line gets a fresh one.
        ("cat-status 1", "\r"),
        ("# ", "echo still-the-shells\r"),
        ("still-the-shells", ""),
        ("# ", "exit\r"),
        ("# ", "poweroff -f\r"),
    ]);
    o.assert_status(0);
    assert!(o.output.contains("Input/output error"), "{}", o.output);
}

/// Debian's bash-static as an interactive login shell: its own line editing (readline, raw
/// mode through termios), job control with `jobs`, `^C`, `^Z` and `fg`, a pipeline, `cd`, and
/// arithmetic; `poweroff -f` (busybox's) ends the session.
#[test]
fn an_interactive_bash_session() {
    let Some(b) = shell_of("/bin/bash --norc -i") else {
        return;
    };
    let o = b.converse(&[
        ("# ", "echo bash-$BASH_VERSINFO-$((6*7))\r"),
        ("bash-5-42", ""),
        // readline's editing: a word typed wrong, erased with backspaces.
        ("# ", "echo tpyo\x7f\x7f\x7fypo fixed\r"),
        ("typo fixed", ""),
        ("# ", "cd /tmp && pwd\r"),
        ("/tmp", ""),
        ("# ", "sleep 3 &\r"),
        ("# ", "jobs\r"),
        ("Running", ""),
        ("# ", "echo going; sleep 30\r"),
        ("going", ""),
        ("@300", "\x03"),
        ("# ", "echo status $?\r"),
        ("status 130", ""),
        ("# ", "echo stopping; sleep 2\r"),
        ("stopping", ""),
        ("@300", "\x1a"),
        ("Stopped", ""),
        ("# ", "fg\r"),
        ("sleep 2", ""),
        ("# ", "echo resumed $?\r"),
        ("resumed 0", ""),
        ("# ", "printf 'b\\na\\nc\\n' | sort | tr -d '\\n'; echo\r"),
        ("abc", ""),
        ("# ", "wait; poweroff -f\r"),
    ]);
    o.assert_status(0);
    let after = |a: &str, b: &str| after(&o.output, a, b);
    after("echo bash-$BASH_VERSINFO", "bash-5-42");
    after("tpyo", "typo fixed");
    after("jobs", "Running");
    after("echo status $?", "status 130");
    after("stopping", "Stopped");
    after("echo resumed $?", "resumed 0");
    after("| sort |", "abc");
}

/// Debian's sash, the stand-alone shell: its built-in commands (`-ls`, `-echo`, `cd`, `-pwd`)
/// and an external one (busybox's `uname`); as the first process it refuses `exit`, as it
/// does on Linux, and busybox's `poweroff -f` ends the run.
#[test]
fn a_sash_session() {
    let Some(b) = shell_of("/bin/sash") else {
        return;
    };
    let o = b.converse(&[
        ("> ", "-echo hello from sash\r"),
        ("hello from sash", ""),
        ("> ", "cd /tmp\r"),
        ("> ", "-pwd\r"),
        ("/tmp", ""),
        ("> ", "-ls -d /proc\r"),
        ("proc", ""),
        ("> ", "uname -s\r"),
        ("Linux", ""),
        ("> ", "exit 3\r"),
        ("You are the INIT process!", ""),
        ("> ", "poweroff -f\r"),
    ]);
    o.assert_status(0);
    let after = |a: &str, b: &str| after(&o.output, a, b);
    after("-echo hello from sash", "hello from sash");
    after("-pwd", "/tmp");
    after("uname -s", "Linux");
}

/// busybox's vi in raw mode: the screen is drawn, `i` inserts typed text, ESC leaves insert
/// mode, `:wq` writes the file, and the shell reads back what was typed; then less shows a
/// file a page at a time and `q` leaves it.
#[test]
fn vi_and_less_in_raw_mode() {
    let Some(b) = shell() else {
        return;
    };
    let o = b.converse(&[
        ("# ", "vi /tmp/note\r"),
        ("@500", "ifirst line\rsecond\x1b"),
        ("@300", ":wq\r"),
        ("# ", "cat /tmp/note; echo lines $(wc -l < /tmp/note)\r"),
        ("lines 2", ""),
        ("# ", "seq 1 200 > /tmp/n; less /tmp/n\r"),
        ("@500", " "),
        ("@300", "q"),
        ("# ", "echo after-less\r"),
        ("after-less", ""),
        ("# ", "poweroff -f\r"),
    ]);
    o.assert_status(0);
    let out = &o.output;
    let i = out
        .find("lines 2")
        .unwrap_or_else(|| panic!("no lines 2 in:\n{out}"));
    // vi drew its screen (the alternate screen, `~` for lines past the end) before the file.
    assert!(out.contains("\x1b[?1049h"), "vi drew no screen:\n{out}");
    assert!(out[..i].contains("first line\nsecond\n"), "{out}");
    // less showed the first page (23 lines and its prompt), then the next one after a space.
    assert!(
        out.contains("\x1b[K1\n\x1b[K2\n"),
        "less drew no first page:\n{out}"
    );
    assert!(
        out.contains("\x1b[K40\n"),
        "less drew no second page:\n{out}"
    );
    assert!(out.contains("after-less"), "{out}");
}
