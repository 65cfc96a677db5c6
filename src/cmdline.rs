//! The kernel command line (`/chosen/bootargs`, QEMU's `-append`).
//!
//! Kernel options are `key=value` or bare words; everything after a lone `--` belongs to the init
//! program (its argv), as on Linux.

/// Kernel options tidemark understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options<'a> {
    pub log_level: log::LevelFilter,
    /// Test-only behaviour, `test=NAME` (e.g. a deliberate kernel fault).
    pub test: Option<&'a str>,
    /// `norandmaps`: no address-space randomisation, for deterministic runs.
    pub norandmaps: bool,
    /// `init=NAME`: the program to run.
    pub init: Option<&'a str>,
    /// Everything after `--`.
    pub init_args: &'a str,
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
            init_args,
        };
        for word in kernel.split_ascii_whitespace() {
            match word.split_once('=') {
                Some(("log", level)) => {
                    o.log_level = level.parse().unwrap_or(log::LevelFilter::Info);
                }
                Some(("test", name)) => o.test = Some(name),
                Some(("init", name)) => o.init = Some(name),
                None if word == "norandmaps" => o.norandmaps = true,
                _ => log::warn!("unknown kernel option '{word}' ignored"),
            }
        }
        o
    }
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
