//! The kernel binary: everything lives in the library; this file only names the entry point.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
use tidemark as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("tidemark is a kernel: build it with --target aarch64-unknown-none-softfloat (see README.md)");
    std::process::exit(2);
}
