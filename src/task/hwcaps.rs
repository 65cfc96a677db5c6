//! The hwcaps: `AT_HWCAP` and `AT_HWCAP2` from the CPU's ID registers, as Linux's
//! `cpufeature.c` decides them for arm64.
pub use crate::arch::aarch64::regs::IdRegisters;

/// `AT_HWCAP` bits (`arch/arm64/include/uapi/asm/hwcap.h`).
pub mod hwcap {
    pub const FP: u64 = 1 << 0;
    pub const ASIMD: u64 = 1 << 1;
    pub const EVTSTRM: u64 = 1 << 2;
    pub const AES: u64 = 1 << 3;
    pub const PMULL: u64 = 1 << 4;
    pub const SHA1: u64 = 1 << 5;
    pub const SHA2: u64 = 1 << 6;
    pub const CRC32: u64 = 1 << 7;
    pub const ATOMICS: u64 = 1 << 8;
    pub const FPHP: u64 = 1 << 9;
    pub const ASIMDHP: u64 = 1 << 10;
    pub const CPUID: u64 = 1 << 11;
    pub const ASIMDRDM: u64 = 1 << 12;
    pub const JSCVT: u64 = 1 << 13;
    pub const FCMA: u64 = 1 << 14;
    pub const LRCPC: u64 = 1 << 15;
    pub const DCPOP: u64 = 1 << 16;
    pub const SHA3: u64 = 1 << 17;
    pub const SM3: u64 = 1 << 18;
    pub const SM4: u64 = 1 << 19;
    pub const ASIMDDP: u64 = 1 << 20;
    pub const SHA512: u64 = 1 << 21;
    pub const SVE: u64 = 1 << 22;
    pub const ASIMDFHM: u64 = 1 << 23;
    pub const DIT: u64 = 1 << 24;
    pub const USCAT: u64 = 1 << 25;
    pub const ILRCPC: u64 = 1 << 26;
    pub const FLAGM: u64 = 1 << 27;
    pub const SSBS: u64 = 1 << 28;
    pub const SB: u64 = 1 << 29;
    pub const PACA: u64 = 1 << 30;
    pub const PACG: u64 = 1 << 31;
}

/// `AT_HWCAP2` bits.
pub mod hwcap2 {
    pub const DCPODP: u64 = 1 << 0;
    pub const FLAGM2: u64 = 1 << 7;
    pub const FRINT: u64 = 1 << 8;
    pub const I8MM: u64 = 1 << 13;
    pub const BF16: u64 = 1 << 14;
    pub const DGH: u64 = 1 << 15;
    pub const RNG: u64 = 1 << 16;
    pub const BTI: u64 = 1 << 17;
    pub const EBF16: u64 = 1 << 32;
    pub const CSSC: u64 = 1 << 34;
    pub const RPRFM: u64 = 1 << 35;
    pub const HBC: u64 = 1 << 44;
    pub const LRCPC3: u64 = 1 << 46;
    pub const LSE128: u64 = 1 << 47;
}

/// How an ID register field is compared: most are unsigned; FP and AdvSIMD are signed (0xf = absent).
#[derive(Clone, Copy)]
enum Sign {
    U,
    S,
}

fn field(reg: u64, shift: u32, sign: Sign) -> i64 {
    let v = (reg >> shift) & 0xf;
    match sign {
        Sign::U => v as i64,
        Sign::S => ((v as i64) << 60) >> 60,
    }
}

/// `AT_HWCAP` and `AT_HWCAP2` from the ID registers, after Linux's `arm64_elf_hwcaps` table: a bit is
/// set when its field is at least the listed value.
///
/// Left out on purpose, because the feature needs kernel support tidemark lacks: CPUID (MRS emulation),
/// EVTSTRM (no event stream), SVE/SVE2/SME (their register state is not switched), PACA/PACG (keys are
/// not managed), BTI (no PROT_BTI / guarded pages), MTE, MOPS (needs SCTLR_EL1.MSCEn and migration
/// fix-ups), and timer/FP-control extensions (ECV, AFP, WFXT, RPRES) nobody here has checked.
pub fn elf_hwcaps(r: &IdRegisters) -> (u64, u64) {
    use Sign::{S, U};
    #[rustfmt::skip]
    let caps: &[(u64, u32, Sign, i64, u64, u64)] = &[
        // register, shift, signedness, minimum value, HWCAP bit, HWCAP2 bit
        (r.id_aa64isar0, 4, U, 2, hwcap::PMULL, 0),
        (r.id_aa64isar0, 4, U, 1, hwcap::AES, 0),
        (r.id_aa64isar0, 8, U, 1, hwcap::SHA1, 0),
        (r.id_aa64isar0, 12, U, 1, hwcap::SHA2, 0),
        (r.id_aa64isar0, 12, U, 2, hwcap::SHA512, 0),
        (r.id_aa64isar0, 16, U, 1, hwcap::CRC32, 0),
        (r.id_aa64isar0, 20, U, 2, hwcap::ATOMICS, 0),
        (r.id_aa64isar0, 20, U, 3, 0, hwcap2::LSE128),
        (r.id_aa64isar0, 28, U, 1, hwcap::ASIMDRDM, 0),
        (r.id_aa64isar0, 32, U, 1, hwcap::SHA3, 0),
        (r.id_aa64isar0, 36, U, 1, hwcap::SM3, 0),
        (r.id_aa64isar0, 40, U, 1, hwcap::SM4, 0),
        (r.id_aa64isar0, 44, U, 1, hwcap::ASIMDDP, 0),
        (r.id_aa64isar0, 48, U, 1, hwcap::ASIMDFHM, 0),
        (r.id_aa64isar0, 52, U, 1, hwcap::FLAGM, 0),
        (r.id_aa64isar0, 52, U, 2, 0, hwcap2::FLAGM2),
        (r.id_aa64isar0, 60, U, 1, 0, hwcap2::RNG),
        (r.id_aa64pfr0, 16, S, 0, hwcap::FP, 0),
        (r.id_aa64pfr0, 16, S, 1, hwcap::FPHP, 0),
        (r.id_aa64pfr0, 20, S, 0, hwcap::ASIMD, 0),
        (r.id_aa64pfr0, 20, S, 1, hwcap::ASIMDHP, 0),
        (r.id_aa64pfr0, 48, U, 1, hwcap::DIT, 0),
        (r.id_aa64isar1, 0, U, 1, hwcap::DCPOP, 0),
        (r.id_aa64isar1, 0, U, 2, 0, hwcap2::DCPODP),
        (r.id_aa64isar1, 12, U, 1, hwcap::JSCVT, 0),
        (r.id_aa64isar1, 16, U, 1, hwcap::FCMA, 0),
        (r.id_aa64isar1, 20, U, 1, hwcap::LRCPC, 0),
        (r.id_aa64isar1, 20, U, 2, hwcap::ILRCPC, 0),
        (r.id_aa64isar1, 20, U, 3, 0, hwcap2::LRCPC3),
        (r.id_aa64isar1, 32, U, 1, 0, hwcap2::FRINT),
        (r.id_aa64isar1, 36, U, 1, hwcap::SB, 0),
        (r.id_aa64isar1, 44, U, 1, 0, hwcap2::BF16),
        (r.id_aa64isar1, 44, U, 2, 0, hwcap2::EBF16),
        (r.id_aa64isar1, 48, U, 1, 0, hwcap2::DGH),
        (r.id_aa64isar1, 52, U, 1, 0, hwcap2::I8MM),
        (r.id_aa64isar2, 20, U, 1, 0, hwcap2::HBC),
        (r.id_aa64isar2, 48, U, 1, 0, hwcap2::RPRFM),
        (r.id_aa64isar2, 52, U, 1, 0, hwcap2::CSSC),
        (r.id_aa64mmfr2, 32, U, 1, hwcap::USCAT, 0),
        (r.id_aa64pfr1, 4, U, 2, hwcap::SSBS, 0),
    ];
    caps.iter()
        .filter(|&&(reg, shift, sign, min, _, _)| field(reg, shift, sign) >= min)
        .fold((0, 0), |(h1, h2), &(_, _, _, _, b1, b2)| (h1 | b1, h2 | b2))
}
