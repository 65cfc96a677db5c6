//! The AArch64 register files as plain data, shared by the code that saves them (the arch layer)
//! and the code that lays them out for user space (signal frames, the auxiliary vector).

/// FP/SIMD state (`struct user_fpsimd_state`): V0–V31, FPSR, FPCR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    pub v: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
}

/// The ID registers that decide the hwcaps, as read at EL1 on the boot CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdRegisters {
    pub id_aa64isar0: u64,
    pub id_aa64isar1: u64,
    pub id_aa64isar2: u64,
    pub id_aa64pfr0: u64,
    pub id_aa64pfr1: u64,
    pub id_aa64mmfr2: u64,
}
