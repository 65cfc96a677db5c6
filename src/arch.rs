//! The AArch64 layer (the `tidemark-aarch64` crate, the only place with `asm!` and system
//! registers), under the name the kernel uses for it.
pub use tidemark_aarch64 as aarch64;
