//! Decoding of `ESR_EL1` (ARM ARM D23.2.41): exception classes and abort syndromes by name.
//!
//! Pure functions, so the fault path and the crash report share one decoder and the host tests check it.
use core::fmt;

/// Exception class, ESR_EL1.EC (bits 31:26).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    Unknown,
    WfiWfe,
    FpAccess,
    IllegalState,
    Svc64,
    SysReg,
    InstrAbortLower,
    InstrAbortSame,
    PcAlignment,
    DataAbortLower,
    DataAbortSame,
    SpAlignment,
    Fp64,
    SError,
    BreakpointLower,
    BreakpointSame,
    SoftStepLower,
    SoftStepSame,
    WatchpointLower,
    WatchpointSame,
    Brk64,
    Other(u8),
}

impl ExceptionClass {
    pub const fn from_esr(esr: u64) -> Self {
        match ((esr >> 26) & 0x3f) as u8 {
            0x00 => Self::Unknown,
            0x01 => Self::WfiWfe,
            0x07 => Self::FpAccess,
            0x0e => Self::IllegalState,
            0x15 => Self::Svc64,
            0x18 => Self::SysReg,
            0x20 => Self::InstrAbortLower,
            0x21 => Self::InstrAbortSame,
            0x22 => Self::PcAlignment,
            0x24 => Self::DataAbortLower,
            0x25 => Self::DataAbortSame,
            0x26 => Self::SpAlignment,
            0x2c => Self::Fp64,
            0x2f => Self::SError,
            0x30 => Self::BreakpointLower,
            0x31 => Self::BreakpointSame,
            0x32 => Self::SoftStepLower,
            0x33 => Self::SoftStepSame,
            0x34 => Self::WatchpointLower,
            0x35 => Self::WatchpointSame,
            0x3c => Self::Brk64,
            other => Self::Other(other),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown reason (undefined instruction)",
            Self::WfiWfe => "trapped WFI/WFE",
            Self::FpAccess => "trapped FP/SIMD access",
            Self::IllegalState => "illegal execution state",
            Self::Svc64 => "SVC from AArch64",
            Self::SysReg => "trapped MSR/MRS/system instruction",
            Self::InstrAbortLower => "instruction abort from a lower EL",
            Self::InstrAbortSame => "instruction abort from the same EL",
            Self::PcAlignment => "PC alignment fault",
            Self::DataAbortLower => "data abort from a lower EL",
            Self::DataAbortSame => "data abort from the same EL",
            Self::SpAlignment => "SP alignment fault",
            Self::Fp64 => "FP exception from AArch64",
            Self::SError => "SError interrupt",
            Self::BreakpointLower => "breakpoint from a lower EL",
            Self::BreakpointSame => "breakpoint from the same EL",
            Self::SoftStepLower => "software step from a lower EL",
            Self::SoftStepSame => "software step from the same EL",
            Self::WatchpointLower => "watchpoint from a lower EL",
            Self::WatchpointSame => "watchpoint from the same EL",
            Self::Brk64 => "BRK instruction",
            Self::Other(_) => "unallocated/unhandled exception class",
        }
    }

    pub const fn is_abort(self) -> bool {
        matches!(
            self,
            Self::InstrAbortLower
                | Self::InstrAbortSame
                | Self::DataAbortLower
                | Self::DataAbortSame
        )
    }
}

/// What kind of fault a data/instruction fault status code (DFSC/IFSC, ISS bits 5:0) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    AddressSize,
    Translation,
    AccessFlag,
    Permission,
    SyncExternal,
    Alignment,
    TlbConflict,
    Other,
}

/// A decoded abort syndrome (ISS of EC 0x20, 0x21, 0x24, 0x25).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortSyndrome {
    pub kind: FaultKind,
    /// Translation table level of the fault, where the status code carries one.
    pub level: Option<u8>,
    /// Write not Read (data aborts only; cache maintenance reports as a write).
    pub write: bool,
    /// FAR_EL1 holds a valid address (FnV clear).
    pub far_valid: bool,
    /// The fault happened on a stage-1 table walk itself.
    pub s1ptw: bool,
    pub fsc: u8,
}

impl AbortSyndrome {
    pub const fn decode(esr: u64) -> Self {
        let fsc = (esr & 0x3f) as u8;
        let (kind, level) = match fsc {
            0x00..=0x03 => (FaultKind::AddressSize, Some(fsc & 3)),
            0x04..=0x07 => (FaultKind::Translation, Some(fsc & 3)),
            0x09..=0x0b => (FaultKind::AccessFlag, Some(fsc & 3)),
            0x0d..=0x0f => (FaultKind::Permission, Some(fsc & 3)),
            0x10 => (FaultKind::SyncExternal, None),
            0x14..=0x17 => (FaultKind::SyncExternal, Some(fsc & 3)),
            0x21 => (FaultKind::Alignment, None),
            0x30 => (FaultKind::TlbConflict, None),
            _ => (FaultKind::Other, None),
        };
        let is_data = matches!((esr >> 26) & 0x3f, 0x24 | 0x25);
        Self {
            kind,
            level,
            write: is_data && (esr >> 6) & 1 == 1,
            far_valid: (esr >> 10) & 1 == 0,
            s1ptw: (esr >> 7) & 1 == 1,
            fsc,
        }
    }

    pub const fn kind_name(&self) -> &'static str {
        match self.kind {
            FaultKind::AddressSize => "address size fault",
            FaultKind::Translation => "translation fault",
            FaultKind::AccessFlag => "access flag fault",
            FaultKind::Permission => "permission fault",
            FaultKind::SyncExternal => "synchronous external abort",
            FaultKind::Alignment => "alignment fault",
            FaultKind::TlbConflict => "TLB conflict abort",
            FaultKind::Other => "other fault",
        }
    }
}

impl fmt::Display for AbortSyndrome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind_name())?;
        if let Some(level) = self.level {
            write!(f, ", level {level}")?;
        }
        write!(f, " (FSC {:#04x})", self.fsc)?;
        if self.write {
            write!(f, ", write")?;
        } else {
            write!(f, ", read")?;
        }
        if self.s1ptw {
            write!(f, ", on a stage-1 table walk")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_level3_write_permission_fault_from_el1() {
        let esr = (0x25u64 << 26) | (1 << 25) | (1 << 6) | 0x0f;
        assert_eq!(ExceptionClass::from_esr(esr), ExceptionClass::DataAbortSame);
        let s = AbortSyndrome::decode(esr);
        assert_eq!(s.kind, FaultKind::Permission);
        assert_eq!(s.level, Some(3));
        assert!(s.write && s.far_valid);
    }

    #[test]
    fn instruction_aborts_never_report_writes() {
        let esr = (0x20u64 << 26) | (1 << 6) | 0x07;
        let s = AbortSyndrome::decode(esr);
        assert_eq!(s.kind, FaultKind::Translation);
        assert!(!s.write);
    }

    #[test]
    fn svc_class() {
        assert_eq!(ExceptionClass::from_esr(0x5600_0000), ExceptionClass::Svc64);
    }
}
