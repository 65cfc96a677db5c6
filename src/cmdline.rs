//! The kernel command line (`/chosen/bootargs`, QEMU's `-append`).
//!
//! Kernel options are `key=value` or bare words; everything after a lone `--` belongs to the init
//! program (its argv), as on Linux.

/// Kernel options tidemark understands.
/// The kernel command line as the boot loader gave it (`/proc/cmdline`).
static BOOT_ARGS: spin::Once<alloc::string::String> = spin::Once::new();

/// Keeps the command line for `/proc/cmdline`.
pub fn set_boot_args(args: &str) {
    BOOT_ARGS.call_once(|| alloc::string::String::from(args));
}

/// The command line, or `""` before [`set_boot_args`].
pub fn boot_args() -> &'static str {
    BOOT_ARGS.get().map_or("", |s| s.as_str())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options<'a> {
    pub log_level: log::LevelFilter,
    /// Test-only behaviour, `test=NAME` (e.g. a deliberate kernel fault).
    pub test: Option<&'a str>,
    /// `norandmaps`: no address-space randomisation, for deterministic runs.
    pub norandmaps: bool,
    /// `init=NAME`: the program to run.
    pub init: Option<&'a str>,
    /// `transparent_hugepage=always|madvise|never` (default `always`).
    pub thp: crate::mm::thp::ThpMode,
    /// Everything after `--`.
    pub init_args: &'a str,
    /// The kernel's part of the line (before `--`).
    kernel: &'a str,
}

impl<'a> Options<'a> {
    pub fn parse(cmdline: &'a str) -> Self {
        let (kernel, init_args) = match cmdline.split_once(" -- ") {
            Some((k, a)) => (k, a.trim()),
            None => match cmdline.strip_prefix("-- ") {
                Some(a) => ("", a.trim()),
                None => (cmdline.strip_suffix(" --").unwrap_or(cmdline), ""),
            },
        };
        let mut o = Options {
            log_level: log::LevelFilter::Info,
            test: None,
            norandmaps: false,
            init: None,
            thp: crate::mm::thp::ThpMode::Always,
            init_args,
            kernel,
        };
        for word in kernel.split_ascii_whitespace() {
            match word.split_once('=') {
                Some(("log", level)) => {
                    o.log_level = level.parse().unwrap_or(log::LevelFilter::Info);
                }
                Some(("test", name)) => o.test = Some(name),
                Some(("init", name)) => o.init = Some(name),
                Some(("transparent_hugepage", mode)) => {
                    match crate::mm::thp::ThpMode::parse(mode) {
                        Some(m) => o.thp = m,
                        None => {
                            log::warn!("transparent_hugepage={mode}: not always, madvise or never")
                        }
                    }
                }
                None if word == "norandmaps" => o.norandmaps = true,
                Some((key, _)) if is_env_key(key) => {}
                _ => log::warn!("unknown kernel option '{word}' ignored"),
            }
        }
        o
    }
}

/// Whether `key=value` on the command line goes to init's environment: as in Linux's
/// `unknown_bootoption`, any key the kernel does not know and that is not a module parameter
/// (no `.`).
fn is_env_key(key: &str) -> bool {
    !key.is_empty()
        && !key.contains('.')
        && !matches!(key, "log" | "test" | "init" | "transparent_hugepage")
}

impl<'a> Options<'a> {
    /// The `KEY=VALUE` words the kernel does not know, for init's environment (TMPDIR, PATH,
    /// LTP_TIMEOUT_MUL...), in command-line order, quotes removed.
    pub fn init_env(&self) -> impl Iterator<Item = alloc::string::String> {
        split_args(self.kernel)
            .into_iter()
            .filter(|w| w.split_once('=').is_some_and(|(k, _)| is_env_key(k)))
    }

    /// init's arguments (after `--`), split as Linux's `next_arg` splits them.
    pub fn init_argv(&self) -> alloc::vec::Vec<alloc::string::String> {
        split_args(self.init_args)
    }
}

/// Splits a command line into words as Linux's `next_arg` does: at spaces, except inside
/// double quotes, which are removed (`init=/bin/sh -- -c "echo a b"` gives `-c` and `echo a
/// b`). Linux removes only the quotes that open a word or its value; here every quote goes.
pub fn split_args(line: &str) -> alloc::vec::Vec<alloc::string::String> {
    let mut words = alloc::vec::Vec::new();
    let mut word = alloc::string::String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_ascii_whitespace() && !quoted => {
                if any {
                    words.push(core::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options_and_init_args() {
        let o = Options::parse("log=debug norandmaps init=hello -- a b  c");
        assert_eq!(o.log_level, log::LevelFilter::Debug);
        assert!(o.norandmaps);
        assert_eq!(o.init, Some("hello"));
        assert_eq!(o.init_args, "a b  c");
        assert_eq!(o.init_env().count(), 0);
    }

    #[test]
    fn unknown_assignments_go_to_init() {
        let o = Options::parse("TMPDIR=/tmp log=warn mod.param=1 PATH=/bin:/sbin -- X=1");
        assert_eq!(
            o.init_env().collect::<Vec<_>>(),
            ["TMPDIR=/tmp", "PATH=/bin:/sbin"]
        );
        assert_eq!(o.init_args, "X=1");
    }

    #[test]
    fn quotes_keep_spaces_in_a_word() {
        let o = Options::parse(r#"PS1="a b" log=warn -- -c "echo  x; exit 3" "" last"#);
        assert_eq!(o.init_argv(), ["-c", "echo  x; exit 3", "", "last"]);
        assert_eq!(o.init_env().collect::<Vec<_>>(), ["PS1=a b"]);
        assert_eq!(split_args("  a   b "), ["a", "b"]);
    }

    #[test]
    fn defaults() {
        let o = Options::parse("");
        assert_eq!(o.log_level, log::LevelFilter::Info);
        assert_eq!(
            (o.test, o.init, o.norandmaps, o.init_args),
            (None, None, false, "")
        );
        assert_eq!(Options::parse("-- x").init_args, "x");
        assert_eq!(
            Options::parse("log=bogus").log_level,
            log::LevelFilter::Info
        );
    }
}
