//! The initial user stack of a new program, byte for byte as Linux's exec builds it
//! (`fs/exec.c` `do_execveat_common`/`copy_strings`, `fs/binfmt_elf.c` `create_elf_tables`), and the
//! `AT_HWCAP`/`AT_HWCAP2` words it carries (`arch/arm64/kernel/cpufeature.c`).
//!
//! The image is built in a plain byte buffer that stands for the top of the stack, so the layout is
//! host-tested; the kernel copies it into the stack VMA's pages and starts the program with `sp`.
//! Layout, from `stack_top` down (addresses decrease):
//!
//! ```text
//! stack_top - 8     8 zero bytes (exec reserves one pointer at the very top)
//!                   execfn string (AT_EXECFN)
//!                   envp strings, argv strings (argv[0] lowest)   <- mm->arg_start
//!                   (align down to 16)
//!                   "aarch64\0" (AT_PLATFORM)
//!                   16 random bytes (AT_RANDOM)
//!                   padding to make sp 16-byte aligned
//!                   auxv pairs, AT_NULL last
//!                   envp[] NULL
//!                   argv[] NULL
//! sp               argc
//! ```
use alloc::vec::Vec;
use core::fmt;

use super::elf::ElfPlan;
use crate::mm::addr::PAGE_SIZE;

pub const AT_NULL: u64 = 0;
pub const AT_IGNORE: u64 = 1;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_MINSIGSTKSZ: u64 = 51;

/// `ELF_PLATFORM` on arm64 (`AT_PLATFORM` points at it).
pub const ELF_PLATFORM: &[u8] = b"aarch64";
/// `USER_HZ`: the unit of `times(2)` and `AT_CLKTCK`.
pub const USER_HZ: u64 = 100;
/// Longest single argument or environment string, NUL included (`MAX_ARG_STRLEN`): larger is E2BIG.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// `ARG_MAX`: the strings may always use this much, however small RLIMIT_STACK is.
pub const ARG_MAX: usize = 32 * PAGE_SIZE;
/// `_STK_LIM`, the default RLIMIT_STACK (8 MiB); at most three quarters of it go to the strings.
pub const STK_LIM: usize = 8 << 20;

/// Why the stack cannot be built; each is `E2BIG` from `execve` except `BadStackTop` (a kernel bug).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// A string contains a NUL byte and cannot be passed as a C string.
    InteriorNul,
    /// A string (with its NUL) is longer than `MAX_ARG_STRLEN`.
    StringTooLong,
    /// Strings and pointers exceed Linux's limit (`bprm_stack_limits`).
    ArgumentsTooLarge,
    /// `stack_top` is not 16-byte aligned or too low to hold the image.
    BadStackTop,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InteriorNul => write!(f, "an argument or environment string contains a NUL byte"),
            Self::StringTooLong => write!(
                f,
                "an argument or environment string is longer than {MAX_ARG_STRLEN} bytes"
            ),
            Self::ArgumentsTooLarge => {
                write!(f, "arguments and environment exceed the stack limit")
            }
            Self::BadStackTop => {
                write!(f, "stack top is unaligned or too low for the initial stack")
            }
        }
    }
}

/// The values that go into the auxiliary vector. Ids are `usize` like `elf_addr_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuxvValues {
    pub phdr: usize,
    pub phent: usize,
    pub phnum: usize,
    pub entry: usize,
    /// Interpreter base: 0 for static programs.
    pub base: usize,
    pub flags: usize,
    pub uid: usize,
    pub euid: usize,
    pub gid: usize,
    pub egid: usize,
    pub secure: bool,
    pub hwcap: u64,
    pub hwcap2: u64,
    /// The signal frame size the kernel needs on the user stack; 0 emits `AT_IGNORE` instead of
    /// `AT_MINSIGSTKSZ`, as arm64 does when it has no sensible value.
    pub minsigstksz: usize,
    /// vDSO base (`AT_SYSINFO_EHDR`); `None` omits the entry (tidemark has no vDSO; both libcs then
    /// make real syscalls for the clock).
    pub sysinfo_ehdr: Option<usize>,
}

impl AuxvValues {
    /// The auxv of a root-owned, non-setuid static program loaded from `plan`.
    pub fn for_plan(plan: &ElfPlan, hwcap: u64, hwcap2: u64, minsigstksz: usize) -> Self {
        Self {
            phdr: plan.phdr_vaddr,
            phent: plan.phent,
            phnum: plan.phnum,
            entry: plan.entry,
            base: 0,
            flags: 0,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: false,
            hwcap,
            hwcap2,
            minsigstksz,
            sysinfo_ehdr: None,
        }
    }
}

/// A ready stack image: `image[i]` belongs at address `sp + i`, and `sp + image.len() == stack_top`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialStack {
    pub image: Vec<u8>,
    /// The program's initial `sp`, 16-byte aligned, pointing at argc.
    pub sp: usize,
    /// `mm->arg_start..arg_end` and `env_start..env_end`, for /proc/self/cmdline and environ.
    pub arg_start: usize,
    pub arg_end: usize,
    pub env_start: usize,
    pub env_end: usize,
    /// The (type, value) pairs written, AT_NULL included: `mm->saved_auxv`, for /proc/self/auxv.
    pub auxv: Vec<(u64, u64)>,
}

const WORD: usize = 8;

/// Builds the initial stack for a program whose stack ends at `stack_top`.
///
/// `argv`/`envp`/`execfn` are the strings without their NUL. An empty `argv` gets `argv[0] = ""` and
/// argc 1, as Linux does since 5.18 (so `argv[0]` is never NULL). `rlimit_stack` is RLIMIT_STACK's
/// soft value, which bounds the strings like `bprm_stack_limits`. Stack randomisation is the caller's:
/// pass a randomised `stack_top` (16-byte aligned).
pub fn build_initial_stack(
    stack_top: usize,
    argv: &[&[u8]],
    envp: &[&[u8]],
    execfn: &[u8],
    random: [u8; 16],
    aux: &AuxvValues,
    rlimit_stack: usize,
) -> Result<InitialStack, StackError> {
    let empty: [&[u8]; 1] = [b""];
    let argv = if argv.is_empty() { &empty[..] } else { argv };
    for s in argv.iter().chain(envp).chain([&execfn]) {
        if s.contains(&0) {
            return Err(StackError::InteriorNul);
        }
        if s.len() >= MAX_ARG_STRLEN {
            return Err(StackError::StringTooLong);
        }
    }
    let string_bytes: usize = argv
        .iter()
        .chain(envp)
        .chain([&execfn])
        .map(|s| s.len() + 1)
        .sum();
    let limit = (STK_LIM / 4 * 3).min(rlimit_stack / 4).max(ARG_MAX);
    let ptr_size = (argv.len() + envp.len()) * WORD;
    if limit <= ptr_size || string_bytes > limit - ptr_size {
        return Err(StackError::ArgumentsTooLarge);
    }
    if !stack_top.is_multiple_of(16) {
        return Err(StackError::BadStackTop);
    }

    let auxv = auxv_pairs(aux, 0, 0, 0);
    let items = (argv.len() + 1) + (envp.len() + 1) + 1;
    // Everything below the strings: alignment slack (15), platform, random, padding (15), the tables.
    let below_strings = 15 + (ELF_PLATFORM.len() + 1) + 16 + 15 + (auxv.len() * 2 + items) * WORD;
    let total = WORD + string_bytes + below_strings;
    let bottom = stack_top
        .checked_sub(total)
        .ok_or(StackError::BadStackTop)?;
    if bottom < PAGE_SIZE {
        return Err(StackError::BadStackTop);
    }

    let mut w = Writer {
        top: stack_top,
        buf: alloc::vec![0u8; total],
    };
    // Strings, as copy_strings lays them out: execfn highest, then envp, then argv, each list
    // copied last-first so that it reads in order upwards.
    let mut p = stack_top - WORD;
    p -= execfn.len() + 1;
    let execfn_addr = p;
    w.put_cstr(p, execfn);
    let env_end = p;
    for s in envp.iter().rev() {
        p -= s.len() + 1;
        w.put_cstr(p, s);
    }
    let env_start = p;
    let mut env_ptrs: Vec<usize> = Vec::with_capacity(envp.len());
    let mut q = env_start;
    for s in envp {
        env_ptrs.push(q);
        q += s.len() + 1;
    }
    for s in argv.iter().rev() {
        p -= s.len() + 1;
        w.put_cstr(p, s);
    }
    let arg_start = p;
    let mut arg_ptrs: Vec<usize> = Vec::with_capacity(argv.len());
    let mut q = arg_start;
    for s in argv {
        arg_ptrs.push(q);
        q += s.len() + 1;
    }

    // create_elf_tables: arch_align_stack, platform string, random bytes.
    p &= !15;
    p -= ELF_PLATFORM.len() + 1;
    let platform_addr = p;
    w.put_cstr(p, ELF_PLATFORM);
    p -= random.len();
    let random_addr = p;
    w.put(p, &random);

    let auxv = auxv_pairs(aux, execfn_addr, platform_addr, random_addr);
    let sp = (p - auxv.len() * 2 * WORD - items * WORD) & !15;
    let mut at = sp;
    let mut push = |w: &mut Writer, v: u64| {
        w.put(at, &v.to_le_bytes());
        at += WORD;
    };
    push(&mut w, argv.len() as u64);
    for &a in &arg_ptrs {
        push(&mut w, a as u64);
    }
    push(&mut w, 0);
    for &e in &env_ptrs {
        push(&mut w, e as u64);
    }
    push(&mut w, 0);
    for &(k, v) in &auxv {
        push(&mut w, k);
        push(&mut w, v);
    }

    let mut image = w.buf;
    image.drain(..sp - bottom);
    Ok(InitialStack {
        image,
        sp,
        arg_start,
        arg_end: env_start,
        env_start,
        env_end,
        auxv,
    })
}

/// The auxv in `create_elf_tables` order (ARCH_DLINFO first; no AT_RSEQ_* since tidemark has no rseq,
/// matching Debian 12's 6.1), AT_NULL last.
fn auxv_pairs(aux: &AuxvValues, execfn: usize, platform: usize, random: usize) -> Vec<(u64, u64)> {
    let mut v = Vec::with_capacity(21);
    if let Some(vdso) = aux.sysinfo_ehdr {
        v.push((AT_SYSINFO_EHDR, vdso as u64));
    }
    if aux.minsigstksz != 0 {
        v.push((AT_MINSIGSTKSZ, aux.minsigstksz as u64));
    } else {
        v.push((AT_IGNORE, 0));
    }
    v.extend_from_slice(&[
        (AT_HWCAP, aux.hwcap),
        (AT_PAGESZ, PAGE_SIZE as u64),
        (AT_CLKTCK, USER_HZ),
        (AT_PHDR, aux.phdr as u64),
        (AT_PHENT, aux.phent as u64),
        (AT_PHNUM, aux.phnum as u64),
        (AT_BASE, aux.base as u64),
        (AT_FLAGS, aux.flags as u64),
        (AT_ENTRY, aux.entry as u64),
        (AT_UID, aux.uid as u64),
        (AT_EUID, aux.euid as u64),
        (AT_GID, aux.gid as u64),
        (AT_EGID, aux.egid as u64),
        (AT_SECURE, u64::from(aux.secure)),
        (AT_RANDOM, random as u64),
        (AT_HWCAP2, aux.hwcap2),
        (AT_EXECFN, execfn as u64),
        (AT_PLATFORM, platform as u64),
        (AT_NULL, 0),
    ]);
    v
}

/// Writes at user addresses into a buffer that ends at `top`. Callers only pass addresses inside the
/// buffer (the size was computed from the same layout).
struct Writer {
    top: usize,
    buf: Vec<u8>,
}

impl Writer {
    fn put(&mut self, addr: usize, bytes: &[u8]) {
        let off = self.buf.len() - (self.top - addr);
        self.buf[off..off + bytes.len()].copy_from_slice(bytes);
    }
    fn put_cstr(&mut self, addr: usize, s: &[u8]) {
        self.put(addr, s);
        self.put(addr + s.len(), &[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::elf::tests::glibc_like;
    use crate::task::elf::ELF_ET_DYN_BASE;
    use crate::task::hwcaps::{elf_hwcaps, hwcap, hwcap2, IdRegisters};
    use alloc::vec;
    use proptest::prelude::*;

    const TOP: usize = 0xffff_ffff_f000;

    /// What a program sees at `sp`, decoded from the image the way libc's start code reads it.
    struct Decoded {
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        auxv: Vec<(u64, u64)>,
        auxv_end: usize,
    }

    fn word(st: &InitialStack, addr: usize) -> u64 {
        let o = addr - st.sp;
        u64::from_le_bytes(st.image[o..o + 8].try_into().unwrap())
    }

    fn cstr(st: &InitialStack, addr: usize) -> Vec<u8> {
        let o = addr - st.sp;
        let len = st.image[o..].iter().position(|&b| b == 0).expect("NUL");
        st.image[o..o + len].to_vec()
    }

    fn decode(st: &InitialStack) -> Decoded {
        let mut a = st.sp;
        let argc = word(st, a) as usize;
        a += 8;
        let argv = (0..argc)
            .map(|i| cstr(st, word(st, a + 8 * i) as usize))
            .collect();
        a += 8 * argc;
        assert_eq!(word(st, a), 0, "argv NULL");
        a += 8;
        let mut envp = vec![];
        while word(st, a) != 0 {
            envp.push(cstr(st, word(st, a) as usize));
            a += 8;
        }
        a += 8;
        let mut auxv = vec![];
        loop {
            let (k, v) = (word(st, a), word(st, a + 8));
            auxv.push((k, v));
            a += 16;
            if k == AT_NULL {
                break;
            }
        }
        Decoded {
            argv,
            envp,
            auxv,
            auxv_end: a,
        }
    }

    fn aux() -> AuxvValues {
        let plan = ElfPlan::parse(&glibc_like(), ELF_ET_DYN_BASE).unwrap();
        AuxvValues::for_plan(&plan, hwcap::FP | hwcap::ASIMD, hwcap2::RNG, 5120)
    }

    fn get(d: &Decoded, key: u64) -> u64 {
        d.auxv.iter().find(|p| p.0 == key).unwrap().1
    }

    #[test]
    fn layout_matches_create_elf_tables() {
        let rnd: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let st = build_initial_stack(
            TOP,
            &[b"/bin/hello", b"-v"],
            &[b"HOME=/", b"TERM=dumb", b"X="],
            b"/bin/hello",
            rnd,
            &aux(),
            STK_LIM,
        )
        .unwrap();
        assert_eq!(st.sp % 16, 0);
        assert_eq!(st.sp + st.image.len(), TOP);
        let d = decode(&st);
        assert_eq!(d.argv, vec![b"/bin/hello".to_vec(), b"-v".to_vec()]);
        assert_eq!(
            d.envp,
            vec![b"HOME=/".to_vec(), b"TERM=dumb".to_vec(), b"X=".to_vec()]
        );
        assert_eq!(d.auxv, st.auxv);
        let keys: Vec<u64> = d.auxv.iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            vec![
                AT_MINSIGSTKSZ,
                AT_HWCAP,
                AT_PAGESZ,
                AT_CLKTCK,
                AT_PHDR,
                AT_PHENT,
                AT_PHNUM,
                AT_BASE,
                AT_FLAGS,
                AT_ENTRY,
                AT_UID,
                AT_EUID,
                AT_GID,
                AT_EGID,
                AT_SECURE,
                AT_RANDOM,
                AT_HWCAP2,
                AT_EXECFN,
                AT_PLATFORM,
                AT_NULL
            ]
        );
        assert_eq!(get(&d, AT_PHDR), 0x400040);
        assert_eq!((get(&d, AT_PHENT), get(&d, AT_PHNUM)), (56, 4));
        assert_eq!((get(&d, AT_PAGESZ), get(&d, AT_CLKTCK)), (4096, 100));
        assert_eq!(get(&d, AT_ENTRY), 0x400140);
        assert_eq!(get(&d, AT_MINSIGSTKSZ), 5120);
        assert_eq!((get(&d, AT_HWCAP), get(&d, AT_HWCAP2)), (3, hwcap2::RNG));

        // Strings: execfn just below the reserved top word, envp below it, argv lowest.
        let execfn = get(&d, AT_EXECFN) as usize;
        assert_eq!(execfn, TOP - 8 - 11);
        assert_eq!(cstr(&st, execfn), b"/bin/hello");
        assert_eq!(word(&st, TOP - 8), 0);
        assert_eq!(st.env_end, execfn);
        assert_eq!(st.env_start, execfn - (7 + 10 + 3));
        assert_eq!(st.arg_end, st.env_start);
        assert_eq!(st.arg_start, st.arg_end - (11 + 3));
        assert_eq!(word(&st, st.sp + 8) as usize, st.arg_start);

        // Platform at the 16-aligned point below the strings, random bytes right under it.
        let platform = get(&d, AT_PLATFORM) as usize;
        assert_eq!(platform, (st.arg_start & !15) - 8);
        assert_eq!(cstr(&st, platform), b"aarch64");
        let random = get(&d, AT_RANDOM) as usize;
        assert_eq!(random, platform - 16);
        assert_eq!(&st.image[random - st.sp..random - st.sp + 16], &rnd);
        // The tables end at most 15 bytes below the random bytes (sp rounding), never above.
        assert!(d.auxv_end <= random && random - d.auxv_end < 16);
    }

    #[test]
    fn empty_argv_gets_an_empty_argv0() {
        let st = build_initial_stack(TOP, &[], &[], b"./x", [0; 16], &aux(), STK_LIM).unwrap();
        let d = decode(&st);
        assert_eq!(d.argv, vec![Vec::<u8>::new()]);
        assert!(d.envp.is_empty());
    }

    #[test]
    fn optional_entries() {
        let mut a = aux();
        a.minsigstksz = 0;
        a.sysinfo_ehdr = Some(0xffff_f7ff_0000);
        let st = build_initial_stack(TOP, &[b"a"], &[], b"a", [0; 16], &a, STK_LIM).unwrap();
        let d = decode(&st);
        assert_eq!(d.auxv[0], (AT_SYSINFO_EHDR, 0xffff_f7ff_0000));
        assert_eq!(d.auxv[1], (AT_IGNORE, 0));
    }

    #[test]
    fn refuses_what_execve_refuses() {
        let a = aux();
        let b = |argv: &[&[u8]], env: &[&[u8]], rlim| {
            build_initial_stack(TOP, argv, env, b"x", [0; 16], &a, rlim)
        };
        assert_eq!(b(&[b"a\0b"], &[], STK_LIM), Err(StackError::InteriorNul));
        let long = vec![b'a'; MAX_ARG_STRLEN];
        assert_eq!(b(&[&long], &[], STK_LIM), Err(StackError::StringTooLong));
        let big = vec![b'a'; 100_000];
        let many: Vec<&[u8]> = vec![&big; 70];
        assert_eq!(b(&many, &[], STK_LIM), Err(StackError::ArgumentsTooLarge));
        // A tiny RLIMIT_STACK still allows ARG_MAX (128 KiB) of strings.
        assert!(b(&[&big], &[], 4096).is_ok());
        assert_eq!(
            b(&[&big, &big], &[], 4096),
            Err(StackError::ArgumentsTooLarge)
        );
        assert!(b(&many[..20], &[], STK_LIM).is_ok());
        let st = |top| build_initial_stack(top, &[b"a"], &[], b"a", [0; 16], &a, STK_LIM);
        assert_eq!(st(TOP + 8), Err(StackError::BadStackTop));
        assert_eq!(st(0x1000), Err(StackError::BadStackTop));
    }

    #[test]
    fn hwcaps_of_a_cortex_a57_and_of_qemu_max() {
        // Cortex-A57: ISAR0 0x11120 (AES+PMULL, SHA1, SHA2, CRC32), PFR0 0x2222 (FP, AdvSIMD = 0).
        let a57 = IdRegisters {
            id_aa64isar0: 0x11120,
            id_aa64pfr0: 0x2222,
            ..Default::default()
        };
        let (h1, h2) = elf_hwcaps(&a57);
        assert_eq!(
            h1,
            hwcap::FP
                | hwcap::ASIMD
                | hwcap::AES
                | hwcap::PMULL
                | hwcap::SHA1
                | hwcap::SHA2
                | hwcap::CRC32
        );
        assert_eq!(h2, 0);
        // FP and AdvSIMD "not implemented" (0xf) are -1, below the minimum: no FP bits.
        let nofp = IdRegisters {
            id_aa64pfr0: 0xff_0000,
            ..Default::default()
        };
        assert_eq!(elf_hwcaps(&nofp), (0, 0));
        // FP16 arithmetic (field value 1) adds FPHP/ASIMDHP.
        let fp16 = IdRegisters {
            id_aa64pfr0: 0x11_0000,
            ..Default::default()
        };
        assert_eq!(
            elf_hwcaps(&fp16).0,
            hwcap::FP | hwcap::FPHP | hwcap::ASIMD | hwcap::ASIMDHP
        );

        let everything = IdRegisters {
            id_aa64isar0: u64::MAX,
            id_aa64isar1: u64::MAX,
            id_aa64isar2: u64::MAX,
            id_aa64pfr0: 0x0001_0000_0011_0000,
            id_aa64pfr1: u64::MAX,
            id_aa64mmfr2: u64::MAX,
        };
        let (h1, h2) = elf_hwcaps(&everything);
        for never in [
            hwcap::EVTSTRM,
            hwcap::CPUID,
            hwcap::SVE,
            hwcap::PACA,
            hwcap::PACG,
        ] {
            assert_eq!(h1 & never, 0);
        }
        assert_eq!(h2 & hwcap2::BTI, 0);
        assert_eq!(h1.count_ones(), 27);
        assert!(h2 & (hwcap2::RNG | hwcap2::FLAGM2 | hwcap2::DCPODP | hwcap2::LSE128) != 0);
    }

    proptest! {
        #[test]
        fn any_arguments_give_a_consistent_stack(
            argv in proptest::collection::vec(proptest::collection::vec(1u8..=255, 0..40), 0..8),
            envp in proptest::collection::vec(proptest::collection::vec(1u8..=255, 0..40), 0..8),
            execfn in proptest::collection::vec(1u8..=255, 0..40),
            top_pages in 2usize..0x1000,
            rnd in any::<[u8; 16]>(),
        ) {
            let top = top_pages * PAGE_SIZE;
            let a: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
            let e: Vec<&[u8]> = envp.iter().map(|v| v.as_slice()).collect();
            let Ok(st) = build_initial_stack(top, &a, &e, &execfn, rnd, &aux(), STK_LIM) else {
                // Only a stack too close to address 0 may be refused.
                prop_assert!(top_pages < 4);
                return Ok(());
            };
            prop_assert_eq!(st.sp % 16, 0);
            prop_assert_eq!(st.sp + st.image.len(), top);
            let d = decode(&st);
            if argv.is_empty() {
                prop_assert_eq!(&d.argv, &vec![Vec::<u8>::new()]);
            } else {
                prop_assert_eq!(&d.argv, &argv);
            }
            prop_assert_eq!(&d.envp, &envp);
            prop_assert_eq!(cstr(&st, get(&d, AT_EXECFN) as usize), execfn);
            let r = get(&d, AT_RANDOM) as usize - st.sp;
            prop_assert_eq!(&st.image[r..r + 16], &rnd);
            prop_assert!(d.auxv_end <= st.sp + r);
        }
    }
}
