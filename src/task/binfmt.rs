//! What `execve` decides before it loads anything (Linux's `fs/exec.c` and
//! `fs/binfmt_script.c`): how much room the arguments may take, and what a `#!` line asks for.
//! Portable and host-tested; the kernel reads the user's arguments and the file, these say what
//! they mean.
use alloc::vec::Vec;

use tidemark_abi::errno::{self, Errno};

/// `BINPRM_BUF_SIZE`: how much of a file `execve` looks at to recognise it.
pub const BINPRM_BUF_SIZE: usize = 256;
/// `MAX_ARG_STRLEN`: the longest single argument or environment string, with its NUL.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// `MAX_ARG_STRINGS`: the most strings `argv` or `envp` may hold.
pub const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// Interpreters of interpreters `execve` follows before `ELOOP` (`exec_binprm`'s depth).
pub const MAX_INTERP_DEPTH: usize = 5;
/// `_STK_LIM` and `ARG_MAX` (32 pages): the bounds of the argument room.
const STK_LIM: usize = 8 << 20;
const ARG_MAX: usize = 32 * 4096;

/// `bprm_stack_limits`: the bytes the strings and their pointers may take: a quarter of the stack
/// limit, at most three quarters of `_STK_LIM`, at least `ARG_MAX`.
pub fn arg_room(stack_limit: usize) -> usize {
    (STK_LIM / 4 * 3).min(stack_limit / 4).max(ARG_MAX)
}

/// The strings of one `execve`, checked against the room as Linux checks them: the pointers
/// first (`E2BIG` when they alone fill it), then each string (`E2BIG` when one is longer than
/// [`MAX_ARG_STRLEN`] or the total no longer fits).
#[derive(Debug)]
pub struct ArgRoom {
    left: usize,
}

impl ArgRoom {
    /// Room for `argc` and `envc` pointers (an empty `argv` still costs one).
    pub fn new(stack_limit: usize, argc: usize, envc: usize) -> Result<ArgRoom, Errno> {
        let room = arg_room(stack_limit);
        let ptrs = (argc.max(1) + envc) * 8;
        if room <= ptrs {
            return Err(errno::E2BIG);
        }
        Ok(ArgRoom { left: room - ptrs })
    }

    /// Takes the room of a string of `len` bytes (without its NUL).
    pub fn take(&mut self, len: usize) -> Result<(), Errno> {
        let n = len + 1;
        if n > MAX_ARG_STRLEN || n > self.left {
            return Err(errno::E2BIG);
        }
        self.left -= n;
        Ok(())
    }
}

/// What a `#!` line names: the interpreter and its one optional argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shebang {
    pub interp: Vec<u8>,
    pub arg: Option<Vec<u8>>,
}

fn spacetab(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `load_script`'s reading of the first [`BINPRM_BUF_SIZE`] bytes of a file: `None` if they
/// do not start with `#!`. The line ends at the first newline; without one in the buffer, the
/// whole buffer is the line unless the interpreter's name runs to its end (then it may be cut
/// short, and the file is `ENOEXEC`). Spaces and tabs around the name are skipped; everything
/// after the name up to the end of the line (trailing blanks removed) is the one argument.
pub fn parse_shebang(head: &[u8]) -> Option<Result<Shebang, Errno>> {
    let buf = &head[..head.len().min(BINPRM_BUF_SIZE)];
    if !buf.starts_with(b"#!") {
        return None;
    }
    Some(shebang_line(buf))
}

fn shebang_line(buf: &[u8]) -> Result<Shebang, Errno> {
    // Linux's buffer is a C string of at most 255 bytes: what follows a NUL is not looked at.
    let usable = &buf[..buf.len().min(BINPRM_BUF_SIZE - 1)];
    let mut end = match buf.iter().position(|&b| b == b'\n') {
        Some(nl) => nl,
        None => {
            let start = (2..usable.len())
                .find(|&i| !spacetab(usable[i]))
                .ok_or(errno::ENOEXEC)?;
            let terminated = usable[start..].iter().any(|&b| spacetab(b) || b == 0);
            if !terminated && usable.len() == BINPRM_BUF_SIZE - 1 {
                return Err(errno::ENOEXEC);
            }
            usable.len()
        }
    };
    let line = &buf[..end];
    // A NUL ends the line for the C string functions Linux applies to it.
    if let Some(nul) = line[2..].iter().position(|&b| b == 0) {
        end = 2 + nul;
    }
    while end > 2 && spacetab(buf[end - 1]) {
        end -= 1;
    }
    let line = &buf[2..end];
    let name_start = line
        .iter()
        .position(|&b| !spacetab(b))
        .ok_or(errno::ENOEXEC)?;
    let rest = &line[name_start..];
    let name_len = rest.iter().position(|&b| spacetab(b)).unwrap_or(rest.len());
    let interp = rest[..name_len].to_vec();
    let after = &rest[name_len..];
    let arg = after
        .iter()
        .position(|&b| !spacetab(b))
        .map(|i| after[i..].to_vec());
    Ok(Shebang { interp, arg })
}

/// The arguments the interpreter gets (`remove_arg_zero`, then the script's path, the `#!`
/// argument and the interpreter pushed in front): `[interp, arg?, path, argv[1..]]`.
pub fn script_argv(sb: &Shebang, path: &[u8], argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    out.push(sb.interp.clone());
    if let Some(a) = &sb.arg {
        out.push(a.clone());
    }
    out.push(path.to_vec());
    out.extend(argv.iter().skip(1).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(s: &str) -> Option<Result<Shebang, Errno>> {
        parse_shebang(s.as_bytes())
    }

    fn ok(interp: &str, arg: Option<&str>) -> Option<Result<Shebang, Errno>> {
        Some(Ok(Shebang {
            interp: interp.as_bytes().to_vec(),
            arg: arg.map(|a| a.as_bytes().to_vec()),
        }))
    }

    #[test]
    fn shebang_lines() {
        assert_eq!(sb("\x7fELF"), None);
        assert_eq!(sb("#!/bin/sh\necho"), ok("/bin/sh", None));
        assert_eq!(sb("#! /bin/sh -e \nx"), ok("/bin/sh", Some("-e")));
        assert_eq!(
            sb("#!/usr/bin/env  python3 -u\n"),
            ok("/usr/bin/env", Some("python3 -u"))
        );
        assert_eq!(sb("#!\t/bin/awk\t-f\t\n"), ok("/bin/awk", Some("-f")));
        assert_eq!(sb("#!/bin/sh"), ok("/bin/sh", None));
        assert_eq!(sb("#!\n"), Some(Err(errno::ENOEXEC)));
        assert_eq!(sb("#!   \t \n"), Some(Err(errno::ENOEXEC)));
        assert_eq!(sb("#!   "), Some(Err(errno::ENOEXEC)));
        // A name that fills the whole buffer may be cut short: refused.
        let long = alloc::format!("#!/{}", "x".repeat(300));
        assert_eq!(sb(&long), Some(Err(errno::ENOEXEC)));
        // A long argument is only truncated.
        let long_arg = alloc::format!("#!/bin/sh {}", "y".repeat(300));
        let r = sb(&long_arg).unwrap().unwrap();
        assert_eq!(r.interp, b"/bin/sh");
        assert_eq!(r.arg.unwrap().len(), 255 - 10);
    }

    #[test]
    fn script_arguments() {
        let s = Shebang {
            interp: b"/bin/sh".to_vec(),
            arg: Some(b"-e".to_vec()),
        };
        let argv = [b"name".to_vec(), b"one".to_vec()];
        assert_eq!(
            script_argv(&s, b"./x.sh", &argv),
            [&b"/bin/sh"[..], b"-e", b"./x.sh", b"one"]
        );
    }

    #[test]
    fn argument_room() {
        assert_eq!(arg_room(8 << 20), 2 << 20);
        assert_eq!(arg_room(usize::MAX), 6 << 20);
        assert_eq!(arg_room(4096), 128 << 10);
        let mut r = ArgRoom::new(8 << 20, 1, 0).unwrap();
        assert_eq!(r.take(MAX_ARG_STRLEN), Err(errno::E2BIG));
        assert_eq!(r.take(MAX_ARG_STRLEN - 1), Ok(()));
        assert_eq!(ArgRoom::new(8 << 20, 1 << 20, 0).unwrap_err(), errno::E2BIG);
        let mut r = ArgRoom::new(4096, 0, 0).unwrap();
        for _ in 0..3 {
            r.take(40_000).unwrap();
        }
        assert_eq!(r.take(40_000), Err(errno::E2BIG));
    }
}
