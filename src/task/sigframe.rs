//! Linux arm64's signal frame, byte for byte: what a handler finds on its stack and what
//! `rt_sigreturn(2)` reads back (`arch/arm64/kernel/signal.c` `setup_rt_frame`/`setup_sigframe`/
//! `restore_sigframe`, `arch/arm64/include/uapi/asm/sigcontext.h`,
//! `include/uapi/asm-generic/ucontext.h`).
//!
//! libc code (`siglongjmp`, `getcontext`-style unwinders, glibc's `__restore_rt`) and C programs
//! that inspect `ucontext_t` rely on the exact layout, so it is reproduced rather than invented:
//!
//! ```text
//! frame+0      siginfo_t info                     128 bytes
//! frame+128    struct ucontext uc:
//!   +128         uc_flags (0), uc_link (NULL)
//!   +144         uc_stack (stack_t, 24 bytes)
//!   +168         uc_sigmask (8 bytes) + padding to a 128-byte sigset
//!   +304         uc_mcontext (struct sigcontext, 16-aligned):
//!   +304           fault_address
//!   +312           regs[31]
//!   +560           sp, +568 pc, +576 pstate
//!   +592           __reserved[4096]: fpsimd_context (528), [esr_context (16)], null header
//! frame+4688   struct frame_record { fp, lr }     (x29 points here)
//! ```
//!
//! The offsets were measured with `offsetof` on the cross toolchain's headers (compiled with
//! `aarch64-linux-gnu-gcc`, run under `qemu-aarch64`) and are asserted below and in the tests;
//! glibc's `ucontext_t` has the same layout. Parsing for sigreturn validates like Linux: a frame
//! the program forged or corrupted is refused (the caller then kills it with SIGSEGV) rather than
//! letting it return to EL1, mask interrupts, or load unknown register state.
use alloc::vec;
use alloc::vec::Vec;

use super::signal::{
    sas_ss_flags, SigAction, SigFields, SigInfo, SigSet, SA_EXPOSE_TAGBITS, SA_ONSTACK,
    SA_RESTORER, SA_SIGINFO, SIGTRAP, TRAP_BRKPT,
};
use tidemark_abi::layout::{Pod, StackT};

/// `sizeof(siginfo_t)` (`SI_MAX_SIZE`).
pub const SIGINFO_SIZE: usize = 128;
/// Offset of `uc` in `struct rt_sigframe`.
pub const UC_OFFSET: usize = 128;
pub const UC_FLAGS_OFFSET: usize = UC_OFFSET;
pub const UC_LINK_OFFSET: usize = UC_OFFSET + 8;
pub const UC_STACK_OFFSET: usize = UC_OFFSET + 16;
pub const UC_SIGMASK_OFFSET: usize = UC_OFFSET + 40;
/// `uc_mcontext`: after the 128-byte user sigset area (`__unused[1024/8 - sizeof(sigset_t)]`),
/// 16-byte aligned.
pub const MCONTEXT_OFFSET: usize = UC_OFFSET + 176;
pub const SC_FAULT_ADDRESS_OFFSET: usize = MCONTEXT_OFFSET;
pub const SC_REGS_OFFSET: usize = MCONTEXT_OFFSET + 8;
pub const SC_SP_OFFSET: usize = MCONTEXT_OFFSET + 256;
pub const SC_PC_OFFSET: usize = MCONTEXT_OFFSET + 264;
pub const SC_PSTATE_OFFSET: usize = MCONTEXT_OFFSET + 272;
/// `__reserved[4096]`, aligned to 16 (after 8 bytes of padding following `pstate`).
pub const SC_RESERVED_OFFSET: usize = MCONTEXT_OFFSET + 288;
pub const SC_RESERVED_SIZE: usize = 4096;
/// `sizeof(struct rt_sigframe)`.
pub const RT_SIGFRAME_SIZE: usize = SC_RESERVED_OFFSET + SC_RESERVED_SIZE;
/// The `{fp, lr}` frame record sits right above the frame (`get_sigframe`).
pub const FRAME_RECORD_OFFSET: usize = RT_SIGFRAME_SIZE;
/// Bytes the kernel writes at the new `sp`: the frame and its frame record.
pub const FRAME_BYTES: usize = RT_SIGFRAME_SIZE + 16;

const _: () = assert!(UC_SIGMASK_OFFSET == 168);
const _: () = assert!(MCONTEXT_OFFSET == 304);
const _: () = assert!(SC_REGS_OFFSET == 312 && SC_PC_OFFSET == 568 && SC_PSTATE_OFFSET == 576);
const _: () = assert!(SC_RESERVED_OFFSET == 592 && SC_RESERVED_OFFSET.is_multiple_of(16));
const _: () = assert!(RT_SIGFRAME_SIZE == 4688 && RT_SIGFRAME_SIZE.is_multiple_of(16));

/// `struct _aarch64_ctx` header magics and record sizes.
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
pub const FPSIMD_CONTEXT_SIZE: usize = 528;
pub const ESR_MAGIC: u32 = 0x4553_5201;
pub const ESR_CONTEXT_SIZE: usize = 16;
/// Never produced by tidemark (the frame always fits); refused on sigreturn.
pub const EXTRA_MAGIC: u32 = 0x4558_5401;
const CTX_HEADER_SIZE: usize = 8;

/// The `rt_sigreturn` trampoline code: what Linux's vDSO `__kernel_rt_sigreturn` contains
/// (`arch/arm64/kernel/vdso/sigreturn.S`): `nop` (so unwinders looking one instruction before the
/// return address stay inside the symbol), `mov x8, #139`, `svc #0`. The return address handed to
/// handlers without `SA_RESTORER` is the address of the `mov`, i.e. page + 4.
pub const SIGTRAMP_CODE: [u32; 3] = [0xd503_201f, 0xd280_1168, 0xd400_0001];
/// Offset of the `mov x8, #139` in [`SIGTRAMP_CODE`]: the `sigtramp` address to pass.
pub const SIGTRAMP_ENTRY_OFFSET: u64 = 4;

// PSTATE bits (`arch/arm64/include/uapi/asm/ptrace.h`).
pub const PSR_MODE_MASK: u64 = 0xf;
pub const PSR_MODE_EL0T: u64 = 0;
pub const PSR_MODE32_BIT: u64 = 1 << 4;
pub const PSR_F_BIT: u64 = 1 << 6;
pub const PSR_I_BIT: u64 = 1 << 7;
pub const PSR_A_BIT: u64 = 1 << 8;
pub const PSR_D_BIT: u64 = 1 << 9;
pub const PSR_BTYPE_MASK: u64 = 3 << 10;
/// Software step (`DBG_SPSR_SS`): cleared on sigreturn unless single-stepping.
pub const PSR_SS_BIT: u64 = 1 << 21;
pub const PSR_TCO_BIT: u64 = 1 << 25;
/// `SPSR_EL1_AARCH64_RES0_BITS` (`arch/arm64/kernel/ptrace.c`): bits user space cannot set,
/// GENMASK(63,32) | (27,26) | (23,22) | (20,13) | (5,5) — which includes IL (20), PAN (22) and
/// UAO (23).
pub const SPSR_EL1_AARCH64_RES0_BITS: u64 =
    0xffff_ffff_0000_0000 | (0b11 << 26) | (0b11 << 22) | (0xff << 13) | (1 << 5);

/// EL0 integer state as the frame stores it (`struct user_pt_regs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserContext {
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
}

pub use crate::arch::aarch64::regs::FpState;

/// The fault behind a synchronous signal (Linux's `thread.fault_address` / `thread.fault_code`):
/// FAR for `sigcontext.fault_address`, ESR for the `esr_context` record (omitted when 0). Use
/// [`user_visible_esr`] to compute `esr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultRecord {
    pub address: u64,
    pub esr: u64,
}

/// Everything needed to build one frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameRequest<'a> {
    pub sig: u32,
    /// The handler's action as it was when the signal was dequeued (before `SA_RESETHAND`).
    pub action: &'a SigAction,
    pub info: &'a SigInfo,
    /// The interrupted context; its `sp` is where the frame goes unless the alternate stack is used.
    pub regs: &'a UserContext,
    pub fp: &'a FpState,
    /// The mask to restore on sigreturn (the one in force before delivery).
    pub saved_mask: SigSet,
    /// The alternate stack setting at delivery (saved in `uc_stack`, and chosen for the frame
    /// with `SA_ONSTACK` unless `regs.sp` is already on it).
    pub altstack: StackT,
    pub fault: Option<FaultRecord>,
    /// Return address for handlers without `SA_RESTORER`: a mapped copy of [`SIGTRAMP_CODE`]
    /// (+[`SIGTRAMP_ENTRY_OFFSET`]).
    pub sigtramp: u64,
}

/// A built frame: copy `bytes` to user memory at `sp`, then resume EL0 with `regs` (FP/SIMD state
/// unchanged, as on Linux).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltFrame {
    pub sp: u64,
    pub bytes: Vec<u8>,
    pub regs: UserContext,
}

/// The frame does not fit below the chosen stack pointer (Linux's `access_ok` failure); the
/// caller forces SIGSEGV ([`super::signal::SignalState::force_sigsegv`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadStack;

/// Why a sigreturn frame was refused; the caller sends SIGSEGV (`arm64_notify_segfault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidFrame {
    /// `sp` is not 16-byte aligned at rt_sigreturn.
    MisalignedSp,
    /// Fewer than [`RT_SIGFRAME_SIZE`] bytes were supplied.
    Truncated,
    /// The saved PSTATE is not EL0t AArch64 with D, A, I and F clear.
    BadPstate,
    /// A context record has a bad size or alignment, or the list runs past `__reserved`.
    BadRecord {
        offset: usize,
    },
    /// A record tidemark does not produce (SVE, ZA, `extra_context`, ...).
    UnknownRecord {
        magic: u32,
    },
    /// No `fpsimd_context`, or more than one.
    FpsimdMissing,
    FpsimdDuplicate,
}

/// The state `rt_sigreturn` restores from a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    /// Registers with PSTATE sanitised as `valid_user_regs` does.
    pub regs: UserContext,
    pub fp: FpState,
    /// `uc_sigmask`: install with `SignalState::set_blocked` (which keeps SIGKILL/SIGSTOP out).
    pub mask: SigSet,
    /// `uc_stack`: re-apply with `SignalState::restore_altstack`.
    pub altstack: StackT,
}

/// The top of the stack the frame is built below (`sigsp`): the alternate stack's top if the
/// handler asked for it (`SA_ONSTACK`), one is configured, and `sp` is not already on it;
/// otherwise `sp` itself.
pub fn signal_stack_top(sp: u64, sa_flags: u64, altstack: &StackT) -> u64 {
    if sa_flags & SA_ONSTACK != 0 && sas_ss_flags(altstack, sp) == 0 {
        altstack.ss_sp.wrapping_add(altstack.ss_size)
    } else {
        sp
    }
}

/// arm64's `arch_untagged_si_addr`: fault addresses lose their top-byte tag unless the handler
/// set `SA_EXPOSE_TAGBITS` (watchpoint `TRAP_BRKPT` addresses are reported whole).
fn untagged_si_addr(addr: u64, info: &SigInfo, sa_flags: u64) -> u64 {
    if sa_flags & SA_EXPOSE_TAGBITS != 0 || (info.signo == SIGTRAP && info.code == TRAP_BRKPT) {
        addr
    } else {
        // untagged_addr: sign-extend from bit 55.
        (((addr << 8) as i64) >> 8) as u64
    }
}

/// Encodes a `siginfo_t` (128 bytes): `si_signo`, `si_errno`, `si_code` at 0/4/8, then the union at
/// 16 as `siginfo_layout` selects: `si_addr` for faults, `si_pid`/`si_uid` for kill and tkill.
pub fn encode_siginfo(info: &SigInfo, sa_flags: u64) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    b[0..4].copy_from_slice(&info.signo.to_le_bytes());
    b[4..8].copy_from_slice(&info.errno.to_le_bytes());
    b[8..12].copy_from_slice(&info.code.to_le_bytes());
    match info.fields {
        SigFields::Fault { addr } => {
            b[16..24].copy_from_slice(&untagged_si_addr(addr, info, sa_flags).to_le_bytes());
        }
        SigFields::Kill { pid, uid } => {
            b[16..20].copy_from_slice(&pid.to_le_bytes());
            b[20..24].copy_from_slice(&uid.to_le_bytes());
        }
    }
    b
}

const USER_VA_END: u64 = 1 << 48;
const ESR_EC_SHIFT: u32 = 26;
const ESR_EC_MASK: u64 = 0x3f << ESR_EC_SHIFT;
const ESR_IL: u64 = 1 << 25;
const ESR_CM: u64 = 1 << 8;
const ESR_WNR: u64 = 1 << 6;
const ESR_FSC_FAULT: u64 = 0x04;
const ESR_EC_IABT_LOW: u64 = 0x20;
const ESR_EC_DABT_LOW: u64 = 0x24;

/// The ESR a program may see for a fault at `address` (`arch/arm64/mm/fault.c`
/// `set_thread_esr`): unchanged for user addresses; for kernel-half addresses, reduced to a level-0
/// translation fault (keeping only EC, IL and for data aborts CM/WnR) so the program learns nothing
/// about kernel mappings; 0 (no `esr_context`) for anything but an abort from EL0.
pub fn user_visible_esr(address: u64, esr: u64) -> u64 {
    if address < USER_VA_END {
        return esr;
    }
    match (esr & ESR_EC_MASK) >> ESR_EC_SHIFT {
        ESR_EC_DABT_LOW => (esr & (ESR_EC_MASK | ESR_IL | ESR_CM | ESR_WNR)) | ESR_FSC_FAULT,
        ESR_EC_IABT_LOW => (esr & (ESR_EC_MASK | ESR_IL)) | ESR_FSC_FAULT,
        _ => 0,
    }
}

const ESR_EC_PC_ALIGN: u64 = 0x22;
const ESR_EC_SP_ALIGN: u64 = 0x26;

/// The fault record (`thread.fault_address`, `thread.fault_code`) Linux puts in the frame of a
/// signal that the exception with syndrome `esr` and fault address `far` raised: aborts from EL0
/// record FAR and the (sanitised) ESR (`set_thread_esr`); PC and SP alignment faults record
/// address 0 and the raw ESR (`arm64_notify_die`); everything else (undefined instructions, BRK,
/// FP traps, and a syscall or interrupt, which raise no fault) records nothing, as Linux 6.1
/// does for `udf` (`force_signal_inject(..., 0)`). Only for signals that carry fault siginfo:
/// a signal sent by kill/tgkill or raised by the kernel gets no fault record.
pub fn fault_record(esr: u64, far: u64) -> Option<FaultRecord> {
    match (esr & ESR_EC_MASK) >> ESR_EC_SHIFT {
        ESR_EC_DABT_LOW | ESR_EC_IABT_LOW => Some(FaultRecord {
            address: far,
            esr: user_visible_esr(far, esr),
        }),
        ESR_EC_PC_ALIGN | ESR_EC_SP_ALIGN => Some(FaultRecord { address: 0, esr }),
        _ => None,
    }
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}
fn get_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Builds the frame for a handler (`get_sigframe` + `setup_rt_frame` + `setup_return`).
///
/// The frame goes 16-byte aligned below the frame record, which goes 16-byte aligned below the
/// chosen stack top. `__reserved` holds `fpsimd_context`, then `esr_context` if the signal comes
/// from a fault with a non-zero ESR, then the null terminator. The handler starts with
/// `x0 = sig`, `sp = frame`, `x29 = &frame_record` (holding the interrupted x29/x30, so backtraces
/// walk through the signal), `x30 = sa_restorer` with `SA_RESTORER` else `sigtramp`,
/// `pc = handler`, and PSTATE with BTYPE and TCO cleared (tidemark maps no BTI-guarded pages). With
/// `SA_SIGINFO`, the siginfo is filled and `x1 = &info`, `x2 = &uc`; without it, Linux leaves both
/// registers and the siginfo area alone (the area is zeroed here rather than left as stale stack).
pub fn build_rt_frame(req: &FrameRequest<'_>) -> Result<BuiltFrame, BadStack> {
    let flags = req.action.flags;
    let top = signal_stack_top(req.regs.sp, flags, &req.altstack);
    let record = top.checked_sub(16).ok_or(BadStack)? & !15;
    let frame = record
        .checked_sub(RT_SIGFRAME_SIZE as u64)
        .ok_or(BadStack)?;

    let mut b = vec![0u8; FRAME_BYTES];
    if flags & SA_SIGINFO != 0 {
        b[..SIGINFO_SIZE].copy_from_slice(&encode_siginfo(req.info, flags));
    }
    // uc_flags = 0, uc_link = NULL (already zero); __save_altstack stores the setting verbatim.
    b[UC_STACK_OFFSET..UC_STACK_OFFSET + 24].copy_from_slice(req.altstack.as_bytes());
    put_u64(&mut b, UC_SIGMASK_OFFSET, req.saved_mask.0);

    let fault_address = req.fault.map_or(0, |f| f.address);
    put_u64(&mut b, SC_FAULT_ADDRESS_OFFSET, fault_address);
    for (i, &x) in req.regs.x.iter().enumerate() {
        put_u64(&mut b, SC_REGS_OFFSET + 8 * i, x);
    }
    put_u64(&mut b, SC_SP_OFFSET, req.regs.sp);
    put_u64(&mut b, SC_PC_OFFSET, req.regs.pc);
    put_u64(&mut b, SC_PSTATE_OFFSET, req.regs.pstate);

    let mut off = SC_RESERVED_OFFSET;
    put_u32(&mut b, off, FPSIMD_MAGIC);
    put_u32(&mut b, off + 4, FPSIMD_CONTEXT_SIZE as u32);
    put_u32(&mut b, off + 8, req.fp.fpsr);
    put_u32(&mut b, off + 12, req.fp.fpcr);
    for (i, v) in req.fp.v.iter().enumerate() {
        let at = off + 16 + 16 * i;
        b[at..at + 16].copy_from_slice(&v.to_le_bytes());
    }
    off += FPSIMD_CONTEXT_SIZE;
    if let Some(f) = req.fault.filter(|f| f.esr != 0) {
        put_u32(&mut b, off, ESR_MAGIC);
        put_u32(&mut b, off + 4, ESR_CONTEXT_SIZE as u32);
        put_u64(&mut b, off + 8, f.esr);
        off += ESR_CONTEXT_SIZE;
    }
    // Terminator: magic 0, size 0 (already zero); `off` is where it lives.
    debug_assert!(off + CTX_HEADER_SIZE <= SC_RESERVED_OFFSET + SC_RESERVED_SIZE);

    put_u64(&mut b, FRAME_RECORD_OFFSET, req.regs.x[29]);
    put_u64(&mut b, FRAME_RECORD_OFFSET + 8, req.regs.x[30]);

    let mut regs = *req.regs;
    regs.x[0] = u64::from(req.sig);
    if flags & SA_SIGINFO != 0 {
        regs.x[1] = frame;
        regs.x[2] = frame + UC_OFFSET as u64;
    }
    regs.sp = frame;
    regs.x[29] = record;
    regs.pc = req.action.handler;
    regs.pstate &= !(PSR_BTYPE_MASK | PSR_TCO_BIT);
    regs.x[30] = if flags & SA_RESTORER != 0 {
        req.action.restorer
    } else {
        req.sigtramp
    };
    Ok(BuiltFrame {
        sp: frame,
        bytes: b,
        regs,
    })
}

/// Where rt_sigreturn finds the frame: at the current `sp`, which must be 16-byte aligned since
/// the frame was placed so (`sys_rt_sigreturn`). Read [`RT_SIGFRAME_SIZE`] bytes there.
pub fn sigreturn_frame_addr(sp: u64) -> Result<u64, InvalidFrame> {
    if sp & 15 != 0 {
        Err(InvalidFrame::MisalignedSp)
    } else {
        Ok(sp)
    }
}

/// `valid_native_regs`: clears the RES0 bits and SS, then accepts only EL0t, AArch64, with D, A,
/// I and F clear (anything else would let the program return to EL1 or mask interrupts).
pub fn sanitize_user_pstate(pstate: u64) -> Result<u64, InvalidFrame> {
    let p = pstate & !(SPSR_EL1_AARCH64_RES0_BITS | PSR_SS_BIT);
    let bad = PSR_MODE32_BIT | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT;
    if p & PSR_MODE_MASK == PSR_MODE_EL0T && p & bad == 0 {
        Ok(p)
    } else {
        Err(InvalidFrame::BadPstate)
    }
}

/// Reads a frame for `rt_sigreturn` (`restore_sigframe` + `parse_user_sigframe` +
/// `restore_fpsimd_context`): `bytes` are the [`RT_SIGFRAME_SIZE`] bytes at `sp`. The record list
/// in `__reserved` must be 16-byte aligned records within the area, exactly one
/// `fpsimd_context` of 528 bytes, optional `esr_context`s (ignored), ending in a null header of
/// size 0; any other record is refused.
pub fn parse_for_sigreturn(bytes: &[u8]) -> Result<Restored, InvalidFrame> {
    if bytes.len() < RT_SIGFRAME_SIZE {
        return Err(InvalidFrame::Truncated);
    }
    let mask = SigSet(get_u64(bytes, UC_SIGMASK_OFFSET));
    let mut regs = UserContext::default();
    for (i, x) in regs.x.iter_mut().enumerate() {
        *x = get_u64(bytes, SC_REGS_OFFSET + 8 * i);
    }
    regs.sp = get_u64(bytes, SC_SP_OFFSET);
    regs.pc = get_u64(bytes, SC_PC_OFFSET);
    regs.pstate = sanitize_user_pstate(get_u64(bytes, SC_PSTATE_OFFSET))?;

    let base = SC_RESERVED_OFFSET;
    let limit = SC_RESERVED_SIZE;
    let mut offset = 0usize;
    let mut fpsimd: Option<usize> = None;
    loop {
        if limit - offset < CTX_HEADER_SIZE || !offset.is_multiple_of(16) {
            return Err(InvalidFrame::BadRecord { offset });
        }
        let magic = get_u32(bytes, base + offset);
        let size = get_u32(bytes, base + offset + 4) as usize;
        if limit - offset < size {
            return Err(InvalidFrame::BadRecord { offset });
        }
        match magic {
            0 => {
                if size != 0 {
                    return Err(InvalidFrame::BadRecord { offset });
                }
                break;
            }
            FPSIMD_MAGIC => {
                if fpsimd.is_some() {
                    return Err(InvalidFrame::FpsimdDuplicate);
                }
                if size != FPSIMD_CONTEXT_SIZE {
                    return Err(InvalidFrame::BadRecord { offset });
                }
                fpsimd = Some(base + offset);
            }
            ESR_MAGIC => {}
            _ => return Err(InvalidFrame::UnknownRecord { magic }),
        }
        if size < CTX_HEADER_SIZE {
            return Err(InvalidFrame::BadRecord { offset });
        }
        offset += size;
    }
    let at = fpsimd.ok_or(InvalidFrame::FpsimdMissing)?;
    let mut fp = FpState {
        fpsr: get_u32(bytes, at + 8),
        fpcr: get_u32(bytes, at + 12),
        ..FpState::default()
    };
    for (i, v) in fp.v.iter_mut().enumerate() {
        let o = at + 16 + 16 * i;
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[o..o + 16]);
        *v = u128::from_le_bytes(a);
    }
    let altstack = StackT::from_bytes(&bytes[UC_STACK_OFFSET..UC_STACK_OFFSET + 24])
        .ok_or(InvalidFrame::Truncated)?;
    Ok(Restored {
        regs,
        fp,
        mask,
        altstack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::signal::{
        SigAction, SigInfo, SigSet, NO_ALTSTACK, SA_NODEFER, SEGV_ACCERR, SIGSEGV, SIGUSR1,
        SI_TKILL, SS_AUTODISARM, SS_ONSTACK,
    };

    const TRAMP: u64 = 0x7000_0004;

    fn regs() -> UserContext {
        let mut r = UserContext::default();
        for (i, x) in r.x.iter_mut().enumerate() {
            *x = 0x1000 + i as u64;
        }
        r.sp = 0x7fff_f123; // deliberately misaligned
        r.pc = 0x40_1000;
        r.pstate = 0x6000_0000 | PSR_BTYPE_MASK; // Z, C, BTYPE set; EL0t
        r
    }

    fn fp() -> FpState {
        let mut f = FpState {
            fpsr: 0x0800_0010,
            fpcr: 0x0300_0000,
            ..FpState::default()
        };
        for (i, v) in f.v.iter_mut().enumerate() {
            *v = (i as u128) << 64 | 0xdead_0000 | i as u128;
        }
        f
    }

    fn action(flags: u64) -> SigAction {
        SigAction {
            handler: 0x40_2000,
            flags,
            restorer: 0x40_3000,
            mask: SigSet::EMPTY,
        }
    }

    fn build(act: &SigAction, altstack: StackT, fault: Option<FaultRecord>) -> BuiltFrame {
        let info = SigInfo::fault(SIGSEGV, SEGV_ACCERR, 0x0f00_0000_0000_0010);
        let r = regs();
        let f = fp();
        build_rt_frame(&FrameRequest {
            sig: SIGSEGV,
            action: act,
            info: &info,
            regs: &r,
            fp: &f,
            saved_mask: SigSet(0x1234),
            altstack,
            fault,
            sigtramp: TRAMP,
        })
        .unwrap()
    }

    /// `offsetof` values printed by a C program compiled with aarch64-linux-gnu-gcc against the
    /// kernel uapi headers and run under qemu-aarch64.
    #[test]
    fn offsets_match_linux() {
        assert_eq!(SIGINFO_SIZE, 128);
        assert_eq!(UC_OFFSET, 128);
        assert_eq!(UC_STACK_OFFSET, 144);
        assert_eq!(UC_SIGMASK_OFFSET, 168);
        assert_eq!(MCONTEXT_OFFSET, 304);
        assert_eq!(SC_REGS_OFFSET, 312);
        assert_eq!(SC_SP_OFFSET, 560);
        assert_eq!(SC_PC_OFFSET, 568);
        assert_eq!(SC_PSTATE_OFFSET, 576);
        assert_eq!(SC_RESERVED_OFFSET, 592);
        assert_eq!(RT_SIGFRAME_SIZE, 4688);
        assert_eq!(FPSIMD_MAGIC, 1_179_680_769);
        assert_eq!(ESR_MAGIC, 1_163_088_385);
    }

    #[test]
    fn layout_and_registers() {
        let act = action(SA_SIGINFO | SA_RESTORER);
        let fault = FaultRecord {
            address: 0x0f00_0000_0000_0010,
            esr: 0x9200_004f,
        };
        let fr = build(&act, NO_ALTSTACK, Some(fault));
        let b = &fr.bytes;
        assert_eq!(b.len(), FRAME_BYTES);
        // Record below (sp - 16) rounded down to 16; frame right below the record.
        let record = (0x7fff_f123u64 - 16) & !15;
        assert_eq!(fr.sp, record - RT_SIGFRAME_SIZE as u64);
        assert_eq!(fr.sp % 16, 0);
        // siginfo
        assert_eq!(get_u32(b, 0), SIGSEGV);
        assert_eq!(get_u32(b, 8) as i32, SEGV_ACCERR);
        assert_eq!(get_u64(b, 16), 0x10, "top-byte tag removed from si_addr");
        // ucontext
        assert_eq!(get_u64(b, UC_FLAGS_OFFSET), 0);
        assert_eq!(get_u64(b, UC_LINK_OFFSET), 0);
        assert_eq!(get_u32(b, UC_STACK_OFFSET + 8) as i32, NO_ALTSTACK.ss_flags);
        assert_eq!(get_u64(b, UC_SIGMASK_OFFSET), 0x1234);
        assert_eq!(get_u64(b, SC_FAULT_ADDRESS_OFFSET), fault.address);
        assert_eq!(get_u64(b, SC_REGS_OFFSET + 8 * 5), 0x1005);
        assert_eq!(get_u64(b, SC_SP_OFFSET), 0x7fff_f123);
        assert_eq!(get_u64(b, SC_PC_OFFSET), 0x40_1000);
        assert_eq!(get_u64(b, SC_PSTATE_OFFSET), regs().pstate);
        // records
        assert_eq!(get_u32(b, 592), FPSIMD_MAGIC);
        assert_eq!(get_u32(b, 596), 528);
        assert_eq!(get_u32(b, 600), fp().fpsr);
        assert_eq!(get_u32(b, 604), fp().fpcr);
        assert_eq!(b[608..624], fp().v[0].to_le_bytes());
        assert_eq!(get_u32(b, 592 + 528), ESR_MAGIC);
        assert_eq!(get_u32(b, 592 + 532), 16);
        assert_eq!(get_u64(b, 592 + 536), fault.esr);
        assert_eq!(get_u64(b, 592 + 544), 0, "terminator");
        // frame record holds the interrupted x29/x30
        assert_eq!(get_u64(b, FRAME_RECORD_OFFSET), 0x1000 + 29);
        assert_eq!(get_u64(b, FRAME_RECORD_OFFSET + 8), 0x1000 + 30);
        // new registers
        let r = fr.regs;
        assert_eq!(r.x[0], u64::from(SIGSEGV));
        assert_eq!(r.x[1], fr.sp);
        assert_eq!(r.x[2], fr.sp + 128);
        assert_eq!(r.x[29], record);
        assert_eq!(r.x[30], act.restorer);
        assert_eq!(r.sp, fr.sp);
        assert_eq!(r.pc, act.handler);
        assert_eq!(r.pstate, 0x6000_0000, "BTYPE cleared");
        assert_eq!(r.x[3], 0x1003, "other registers untouched");
    }

    #[test]
    fn without_siginfo_or_restorer() {
        let fr = build(&action(0), NO_ALTSTACK, None);
        assert!(fr.bytes[..SIGINFO_SIZE].iter().all(|&b| b == 0));
        assert_eq!(fr.regs.x[1], 0x1001, "x1 kept without SA_SIGINFO");
        assert_eq!(fr.regs.x[2], 0x1002);
        assert_eq!(fr.regs.x[30], TRAMP);
        // No fault: no esr_context, terminator right after fpsimd.
        assert_eq!(get_u64(&fr.bytes, 592 + 528), 0);
        assert_eq!(get_u64(&fr.bytes, SC_FAULT_ADDRESS_OFFSET), 0);
    }

    #[test]
    fn kill_siginfo_and_expose_tagbits() {
        let info = SigInfo::user(SIGUSR1, SI_TKILL, 42, 1000);
        let b = encode_siginfo(&info, 0);
        assert_eq!(get_u32(&b, 0), SIGUSR1);
        assert_eq!(get_u32(&b, 8) as i32, SI_TKILL);
        assert_eq!(get_u32(&b, 16), 42);
        assert_eq!(get_u32(&b, 20), 1000);
        let tagged = SigInfo::fault(SIGSEGV, SEGV_ACCERR, 0x0f00_0000_0000_0010);
        assert_eq!(
            get_u64(&encode_siginfo(&tagged, SA_EXPOSE_TAGBITS), 16),
            0x0f00_0000_0000_0010
        );
    }

    fn alt(flags: i32) -> StackT {
        StackT {
            ss_sp: 0x1000_0000,
            ss_flags: flags,
            __pad: 0,
            ss_size: 0x8000,
        }
    }

    #[test]
    fn alternate_stack_selection() {
        let onstack = action(SA_ONSTACK | SA_SIGINFO);
        let fr = build(&onstack, alt(0), None);
        let top = 0x1000_8000u64;
        assert_eq!(fr.sp, top - 16 - RT_SIGFRAME_SIZE as u64);
        assert_eq!(get_u64(&fr.bytes, UC_STACK_OFFSET), 0x1000_0000);
        assert_eq!(get_u64(&fr.bytes, UC_STACK_OFFSET + 16), 0x8000);
        // Without SA_ONSTACK the normal stack is used.
        let fr = build(&action(SA_SIGINFO), alt(0), None);
        assert!(fr.sp > 0x7000_0000);
        // Disabled alternate stack: normal stack.
        let fr = build(&onstack, NO_ALTSTACK, None);
        assert!(fr.sp > 0x7000_0000);
        // Already on the alternate stack: continue below the current sp.
        assert_eq!(
            signal_stack_top(0x1000_4000, SA_ONSTACK, &alt(0)),
            0x1000_4000
        );
        // SS_AUTODISARM: never "on" it, so a nested signal restarts at its top.
        assert_eq!(
            signal_stack_top(0x1000_4000, SA_ONSTACK, &alt(SS_AUTODISARM)),
            top
        );
        assert_eq!(
            signal_stack_top(0x7fff_0000, 0, &alt(SS_ONSTACK)),
            0x7fff_0000
        );
    }

    #[test]
    fn stack_too_low_is_reported() {
        let info = SigInfo::kernel(SIGUSR1);
        let mut r = regs();
        r.sp = 0x100;
        let f = fp();
        let act = action(SA_NODEFER);
        let req = FrameRequest {
            sig: SIGUSR1,
            action: &act,
            info: &info,
            regs: &r,
            fp: &f,
            saved_mask: SigSet::EMPTY,
            altstack: NO_ALTSTACK,
            fault: None,
            sigtramp: TRAMP,
        };
        assert_eq!(build_rt_frame(&req), Err(BadStack));
    }

    #[test]
    fn round_trip() {
        let act = action(SA_SIGINFO);
        let fault = FaultRecord {
            address: 0x10,
            esr: 0x9200_0046,
        };
        let fr = build(&act, alt(SS_AUTODISARM), Some(fault));
        assert_eq!(sigreturn_frame_addr(fr.sp), Ok(fr.sp));
        let back = parse_for_sigreturn(&fr.bytes[..RT_SIGFRAME_SIZE]).unwrap();
        // Everything comes back, including BTYPE (user-settable, not RES0 since BTI).
        assert_eq!(back.regs, regs());
        assert_eq!(back.fp, fp());
        assert_eq!(back.mask, SigSet(0x1234));
        assert_eq!(back.altstack, alt(SS_AUTODISARM));
    }

    fn frame_bytes() -> Vec<u8> {
        build(&action(SA_SIGINFO), NO_ALTSTACK, None).bytes
    }

    #[test]
    fn pstate_is_sanitised_or_refused() {
        // RES0 bits and SS are silently cleared.
        let mut b = frame_bytes();
        put_u64(
            &mut b,
            SC_PSTATE_OFFSET,
            0x6000_0000 | (1 << 40) | (1 << 22) | PSR_SS_BIT,
        );
        assert_eq!(parse_for_sigreturn(&b).unwrap().regs.pstate, 0x6000_0000);
        // EL1h, AArch32, or masked interrupts: refused.
        for bad in [
            0x5,
            0x4,
            PSR_MODE32_BIT,
            PSR_I_BIT,
            PSR_F_BIT,
            PSR_A_BIT,
            PSR_D_BIT,
        ] {
            put_u64(&mut b, SC_PSTATE_OFFSET, bad);
            assert_eq!(
                parse_for_sigreturn(&b),
                Err(InvalidFrame::BadPstate),
                "{bad:#x}"
            );
        }
    }

    #[test]
    fn forged_records_are_refused() {
        let base = SC_RESERVED_OFFSET;
        // Missing fpsimd: first record is the terminator.
        let mut b = frame_bytes();
        put_u64(&mut b, base, 0);
        assert_eq!(parse_for_sigreturn(&b), Err(InvalidFrame::FpsimdMissing));
        // Wrong fpsimd size.
        let mut b = frame_bytes();
        put_u32(&mut b, base + 4, 512);
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        // Unknown record (e.g. extra_context).
        let mut b = frame_bytes();
        put_u32(&mut b, base + 528, EXTRA_MAGIC);
        put_u32(&mut b, base + 532, 32);
        assert_eq!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::UnknownRecord { magic: EXTRA_MAGIC })
        );
        // Duplicate fpsimd.
        let mut b = frame_bytes();
        let (head, tail) = b.split_at_mut(base + 528);
        tail[..528].copy_from_slice(&head[base..base + 528]);
        assert_eq!(parse_for_sigreturn(&b), Err(InvalidFrame::FpsimdDuplicate));
        // Terminator with a size, misaligned record, size running past the area.
        let mut b = frame_bytes();
        put_u32(&mut b, base + 532, 16);
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        let mut b = frame_bytes();
        put_u32(&mut b, base + 528, ESR_MAGIC);
        put_u32(&mut b, base + 532, 12);
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        let mut b = frame_bytes();
        put_u32(&mut b, base + 528, ESR_MAGIC);
        put_u32(&mut b, base + 532, 4096);
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        // ESR records (size 0 < header) and no terminator anywhere.
        let mut b = frame_bytes();
        put_u32(&mut b, base + 528, ESR_MAGIC);
        put_u32(&mut b, base + 532, 0);
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        let mut b = frame_bytes();
        for off in (base + 528..base + 4096).step_by(16) {
            put_u32(&mut b, off, ESR_MAGIC);
            put_u32(&mut b, off + 4, 16);
        }
        assert!(matches!(
            parse_for_sigreturn(&b),
            Err(InvalidFrame::BadRecord { .. })
        ));
        // Short input and misaligned sp.
        assert_eq!(
            parse_for_sigreturn(&frame_bytes()[..100]),
            Err(InvalidFrame::Truncated)
        );
        assert_eq!(
            sigreturn_frame_addr(0x1008),
            Err(InvalidFrame::MisalignedSp)
        );
    }

    #[test]
    fn esr_for_kernel_addresses_is_sanitised() {
        let dabt = (0x24u64 << 26) | (1 << 25) | (1 << 6) | 0x07; // WnR, level-3 translation
        assert_eq!(user_visible_esr(0x1000, dabt), dabt);
        assert_eq!(
            user_visible_esr(0xffff_0000_0000_0000, dabt | (1 << 24)),
            (0x24 << 26) | (1 << 25) | (1 << 6) | 4
        );
        let iabt = (0x20u64 << 26) | (1 << 25) | 0x0f;
        assert_eq!(
            user_visible_esr(0xffff_8000_0000_0000, iabt),
            (0x20 << 26) | (1 << 25) | 4
        );
        assert_eq!(user_visible_esr(0xffff_8000_0000_0000, 0x15 << 26), 0);
    }

    #[test]
    fn fault_records_follow_linux() {
        let dabt = (0x24u64 << 26) | (1 << 25) | (1 << 6) | 0x06;
        assert_eq!(
            fault_record(dabt, 0x1234),
            Some(FaultRecord {
                address: 0x1234,
                esr: dabt
            })
        );
        let pc_align = 0x22u64 << 26 | (1 << 25);
        assert_eq!(
            fault_record(pc_align, 0x401f32),
            Some(FaultRecord {
                address: 0,
                esr: pc_align
            })
        );
        // Undefined instruction, BRK, SVC (a signal delivered on the way out of a syscall).
        assert_eq!(fault_record(1 << 25, 0x401f30), None);
        assert_eq!(fault_record((0x3c << 26) | (1 << 25), 0x401f38), None);
        assert_eq!(fault_record((0x15 << 26) | (1 << 25), 0xdead), None);
    }

    #[test]
    fn trampoline_encoding() {
        // `mov x8, #139` = MOVZ x8, #139; `svc #0`.
        assert_eq!(SIGTRAMP_CODE[1], 0xd280_0000 | (139 << 5) | 8);
        assert_eq!(SIGTRAMP_CODE[2], 0xd400_0001);
        assert_eq!(SIGTRAMP_ENTRY_OFFSET, 4);
    }

    /// The frame offsets, measured live with `offsetof` from the cross headers when the tools
    /// exist (the kernel's `struct ucontext` is declared in the probe as
    /// `include/uapi/asm-generic/ucontext.h` has it).
    #[test]
    fn offsets_match_cross_headers() {
        let body = r#"
            struct k_ucontext {
                unsigned long uc_flags; struct k_ucontext *uc_link; stack_t uc_stack;
                unsigned long uc_sigmask; unsigned char __unused[1024 / 8 - sizeof(unsigned long)];
                struct sigcontext uc_mcontext;
            };
            struct rt_sigframe { siginfo_t info; struct k_ucontext uc; };
            int main(void) {
                P("uc", offsetof(struct rt_sigframe, uc));
                P("uc_stack", offsetof(struct rt_sigframe, uc.uc_stack));
                P("uc_sigmask", offsetof(struct rt_sigframe, uc.uc_sigmask));
                P("mcontext", offsetof(struct rt_sigframe, uc.uc_mcontext));
                P("regs", offsetof(struct rt_sigframe, uc.uc_mcontext.regs));
                P("sp", offsetof(struct rt_sigframe, uc.uc_mcontext.sp));
                P("pc", offsetof(struct rt_sigframe, uc.uc_mcontext.pc));
                P("pstate", offsetof(struct rt_sigframe, uc.uc_mcontext.pstate));
                P("reserved", offsetof(struct rt_sigframe, uc.uc_mcontext.__reserved));
                P("size", sizeof(struct rt_sigframe));
                P("fpsimd_size", sizeof(struct fpsimd_context));
                P("fpsimd_vregs", offsetof(struct fpsimd_context, vregs));
                P("esr_size", sizeof(struct esr_context));
                P("FPSIMD_MAGIC", FPSIMD_MAGIC); P("ESR_MAGIC", ESR_MAGIC);
                P("EXTRA_MAGIC", EXTRA_MAGIC);
                P("si_addr", offsetof(siginfo_t, si_addr)); P("si_pid", offsetof(siginfo_t, si_pid));
                P("si_uid", offsetof(siginfo_t, si_uid)); P("siginfo", sizeof(siginfo_t));
                return 0;
            }"#;
        let Some(m) = tidemark_abi::layout::c_probe("sigframe", body) else {
            return;
        };
        let want: &[(&str, u64)] = &[
            ("uc", UC_OFFSET as u64),
            ("uc_stack", UC_STACK_OFFSET as u64),
            ("uc_sigmask", UC_SIGMASK_OFFSET as u64),
            ("mcontext", MCONTEXT_OFFSET as u64),
            ("regs", SC_REGS_OFFSET as u64),
            ("sp", SC_SP_OFFSET as u64),
            ("pc", SC_PC_OFFSET as u64),
            ("pstate", SC_PSTATE_OFFSET as u64),
            ("reserved", SC_RESERVED_OFFSET as u64),
            ("size", RT_SIGFRAME_SIZE as u64),
            ("fpsimd_size", FPSIMD_CONTEXT_SIZE as u64),
            ("fpsimd_vregs", 16),
            ("esr_size", ESR_CONTEXT_SIZE as u64),
            ("FPSIMD_MAGIC", u64::from(FPSIMD_MAGIC)),
            ("ESR_MAGIC", u64::from(ESR_MAGIC)),
            ("EXTRA_MAGIC", u64::from(EXTRA_MAGIC)),
            ("si_addr", 16),
            ("si_pid", 16),
            ("si_uid", 20),
            ("siginfo", SIGINFO_SIZE as u64),
        ];
        assert_eq!(m.len(), want.len());
        for (&(name, ours), (cname, theirs)) in want.iter().zip(&m) {
            assert_eq!(name, cname);
            assert_eq!(ours, *theirs, "{name}");
        }
    }
}
