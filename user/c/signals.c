/* signals: Linux signal semantics as a static glibc program sees them. Synchronous faults
 * (SIGSEGV, SIGILL, SIGTRAP, SIGBUS) with their siginfo and ucontext, a handler that moves the PC
 * past the faulting instruction, FP/SIMD state across a handler, sigaltstack and stack overflow,
 * SA_NODEFER / SA_RESETHAND / SA_RESTART, masks, pending and ignored signals, kill and tgkill,
 * deaths by signal seen by waitpid, and siglongjmp out of a handler. The expected values are
 * those of Linux 6.1 (checked by running this program as /init under scripts/linux-ref). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PAGE 4096UL
#ifndef SS_AUTODISARM
#define SS_AUTODISARM ((int)(1U << 31)) /* Linux 4.7; glibc 2.36 does not define it */
#endif

/* ---- Instructions to fault on, each at a known address ------------------------------------ */
extern char t_store_insn[], t_load_insn[], t_udf_insn[], t_brk_insn[], t_sp_insn[], t_ldxr_insn[];
void t_store(void *addr, long val);
long t_load(const void *addr);
void t_udf(void);
void t_brk(void);
void t_sp_misalign(void);
long t_ldxr(const void *addr);
void t_call(void *target);
void call_on_stack(void *top, void (*fn)(void));
void fp_probe(const void *in, void *out, unsigned long fpcr, unsigned long fpsr, long pid,
	      long tid, long sig, unsigned long *ctl_out);
void t_bad_sp_store(void);

__asm__(".text\n"
	".globl t_store\n.type t_store,%function\nt_store:\n"
	".globl t_store_insn\nt_store_insn: str x1, [x0]\n ret\n"
	".globl t_load\n.type t_load,%function\nt_load:\n"
	".globl t_load_insn\nt_load_insn: ldr x0, [x0]\n ret\n"
	".globl t_udf\n.type t_udf,%function\nt_udf:\n"
	".globl t_udf_insn\nt_udf_insn: udf #0\n ret\n"
	".globl t_brk\n.type t_brk,%function\nt_brk:\n"
	".globl t_brk_insn\nt_brk_insn: brk #0\n ret\n"
	".globl t_ldxr\n.type t_ldxr,%function\nt_ldxr:\n"
	".globl t_ldxr_insn\nt_ldxr_insn: ldxr x0, [x0]\n ret\n"
	/* a call to x0, which may be misaligned */
	".globl t_call\n.type t_call,%function\nt_call:\n"
	" stp x29, x30, [sp, #-16]!\n mov x29, sp\n blr x0\n ldp x29, x30, [sp], #16\n ret\n"
	/* sp 4 bytes below a 16-byte boundary, then a load through it */
	".globl t_sp_misalign\n.type t_sp_misalign,%function\nt_sp_misalign:\n"
	" mov x9, sp\n sub x10, sp, #4\n mov sp, x10\n"
	".globl t_sp_insn\nt_sp_insn: ldr x11, [sp]\n"
	" mov sp, x9\n ret\n"
	/* a store with sp pointing at unmapped memory: no frame can be written */
	".globl t_bad_sp_store\n.type t_bad_sp_store,%function\nt_bad_sp_store:\n"
	" mov x9, #0x10000\n mov sp, x9\n str xzr, [x9]\n b .\n"
	".globl call_on_stack\n.type call_on_stack,%function\ncall_on_stack:\n"
	" stp x29, x30, [sp, #-16]!\n mov x29, sp\n mov sp, x0\n blr x1\n"
	" mov sp, x29\n ldp x29, x30, [sp], #16\n ret\n"
	/* Loads q0-q31, FPCR and FPSR, makes a tgkill(pid, tid, sig) svc (the handler runs on its
	 * way back), then stores q0-q31, FPCR and FPSR as they came back. */
	".globl fp_probe\n.type fp_probe,%function\nfp_probe:\n"
	" stp d8, d9, [sp, #-64]!\n stp d10, d11, [sp, #16]\n"
	" stp d12, d13, [sp, #32]\n stp d14, d15, [sp, #48]\n"
	" mrs x9, fpcr\n mrs x10, fpsr\n"
	" ldp q0, q1, [x0, #0]\n ldp q2, q3, [x0, #32]\n ldp q4, q5, [x0, #64]\n"
	" ldp q6, q7, [x0, #96]\n ldp q8, q9, [x0, #128]\n ldp q10, q11, [x0, #160]\n"
	" ldp q12, q13, [x0, #192]\n ldp q14, q15, [x0, #224]\n ldp q16, q17, [x0, #256]\n"
	" ldp q18, q19, [x0, #288]\n ldp q20, q21, [x0, #320]\n ldp q22, q23, [x0, #352]\n"
	" ldp q24, q25, [x0, #384]\n ldp q26, q27, [x0, #416]\n ldp q28, q29, [x0, #448]\n"
	" ldp q30, q31, [x0, #480]\n"
	" msr fpcr, x2\n msr fpsr, x3\n"
	" mov x12, x1\n mov x0, x4\n mov x1, x5\n mov x2, x6\n mov x8, #131\n svc #0\n"
	" stp q0, q1, [x12, #0]\n stp q2, q3, [x12, #32]\n stp q4, q5, [x12, #64]\n"
	" stp q6, q7, [x12, #96]\n stp q8, q9, [x12, #128]\n stp q10, q11, [x12, #160]\n"
	" stp q12, q13, [x12, #192]\n stp q14, q15, [x12, #224]\n stp q16, q17, [x12, #256]\n"
	" stp q18, q19, [x12, #288]\n stp q20, q21, [x12, #320]\n stp q22, q23, [x12, #352]\n"
	" stp q24, q25, [x12, #384]\n stp q26, q27, [x12, #416]\n stp q28, q29, [x12, #448]\n"
	" stp q30, q31, [x12, #480]\n"
	" mrs x13, fpcr\n str x13, [x7]\n mrs x13, fpsr\n str x13, [x7, #8]\n"
	" msr fpcr, x9\n msr fpsr, x10\n"
	" ldp d10, d11, [sp, #16]\n ldp d12, d13, [sp, #32]\n ldp d14, d15, [sp, #48]\n"
	" ldp d8, d9, [sp], #64\n ret\n");

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags, int masked)
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = flags | SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (masked)
		sigaddset(&sa.sa_mask, masked);
	sigaction(sig, &sa, NULL);
}

static void dfl(int sig) { signal(sig, SIG_DFL); }

static int blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

static int pending(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	if (sigpending(&set) != 0)
		return -1;
	return sigismember(&set, sig);
}

static long tgkill_self(int sig)
{
	return syscall(SYS_tgkill, getpid(), gettid(), sig);
}

/* Runs `child` in a child process and returns its wait status. */
static int in_child(int (*child)(void))
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static int killed_by(int status, int sig)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

/* ---- A fault handler that records what it saw and skips the instruction -------------------- */
static struct {
	int signo, code, count;
	void *addr;
	uint64_t pc, sp, fault_address, esr;
	int has_esr;
	pid_t pid;
	uid_t uid;
} seen;

static void record(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	seen.count++;
	seen.signo = si->si_signo == sig ? sig : -si->si_signo;
	seen.code = si->si_code;
	seen.addr = si->si_addr;
	seen.pid = si->si_pid;
	seen.uid = si->si_uid;
	seen.pc = uc->uc_mcontext.pc;
	seen.sp = uc->uc_mcontext.sp;
	seen.fault_address = uc->uc_mcontext.fault_address;
	seen.has_esr = 0;
	seen.esr = 0;
	struct _aarch64_ctx *h = (void *)uc->uc_mcontext.__reserved;
	while (h->magic && h->size) {
		if (h->magic == ESR_MAGIC) {
			seen.has_esr = 1;
			seen.esr = ((struct esr_context *)h)->esr;
		}
		h = (void *)((char *)h + h->size);
	}
}

static void record_and_skip(int sig, siginfo_t *si, void *ucv)
{
	record(sig, si, ucv);
	((ucontext_t *)ucv)->uc_mcontext.pc += 4;
}

/* For a jump to a bad PC: return to the caller (x30) instead. */
static void record_and_return(int sig, siginfo_t *si, void *ucv)
{
	record(sig, si, ucv);
	ucontext_t *uc = ucv;
	uc->uc_mcontext.pc = uc->uc_mcontext.regs[30];
}

static void reset_seen(void) { memset(&seen, 0, sizeof seen); }

#define ESR_EC(esr) ((unsigned)((esr) >> 26) & 0x3f)
#define ESR_WNR (1UL << 6)

static void test_faults(void)
{
	handle(SIGSEGV, record_and_skip, 0, 0);
	handle(SIGILL, record_and_skip, 0, 0);
	handle(SIGTRAP, record_and_skip, 0, 0);
	handle(SIGBUS, record_and_skip, 0, 0);

	reset_seen();
	t_store(NULL, 1);
	CHECK(seen.signo == SIGSEGV && seen.code == SEGV_MAPERR && seen.addr == NULL,
	      "NULL store: SIGSEGV/SEGV_MAPERR, si_addr %p (code %d)", seen.addr, seen.code);
	CHECK(seen.pc == (uintptr_t)t_store_insn && seen.fault_address == 0,
	      "NULL store: uc pc is the store, fault_address 0 (pc %#lx, far %#lx)", seen.pc,
	      seen.fault_address);
	CHECK(seen.has_esr && ESR_EC(seen.esr) == 0x24 && (seen.esr & ESR_WNR),
	      "NULL store: esr_context is a lower-EL data abort with WnR (%#lx)", seen.esr);
	CHECK(seen.count == 1, "the handler moved pc past the store and execution resumed there");

	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reset_seen();
	t_store(ro + 24, 7);
	CHECK(seen.signo == SIGSEGV && seen.code == SEGV_ACCERR && seen.addr == ro + 24 &&
		      seen.fault_address == (uintptr_t)(ro + 24) && ro[24] == 0,
	      "store to PROT_READ: SIGSEGV/SEGV_ACCERR at the address, nothing written (code %d)",
	      seen.code);

	char *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reset_seen();
	long v = t_load(none + 8);
	CHECK(seen.signo == SIGSEGV && seen.code == SEGV_ACCERR && seen.addr == none + 8 &&
		      seen.has_esr && !(seen.esr & ESR_WNR) && v == (long)(none + 8),
	      "load from PROT_NONE: SEGV_ACCERR, read abort, x0 untouched (esr %#lx)", seen.esr);
	munmap(none, PAGE);
	reset_seen();
	t_load(none + 8);
	CHECK(seen.code == SEGV_MAPERR && seen.addr == none + 8,
	      "load from the same page after munmap: SEGV_MAPERR (code %d)", seen.code);

	reset_seen();
	t_udf();
	CHECK(seen.signo == SIGILL && seen.code == ILL_ILLOPC && seen.addr == t_udf_insn &&
		      seen.pc == (uintptr_t)t_udf_insn,
	      "udf #0: SIGILL/ILL_ILLOPC, si_addr and pc the instruction (code %d, addr %p)",
	      seen.code, seen.addr);
	CHECK(seen.fault_address == 0 && !seen.has_esr,
	      "udf #0: fault_address 0, no esr_context (far %#lx, esr %#lx)", seen.fault_address,
	      seen.esr);

	reset_seen();
	t_brk();
	CHECK(seen.signo == SIGTRAP && seen.code == TRAP_BRKPT && seen.addr == t_brk_insn &&
		      seen.pc == (uintptr_t)t_brk_insn,
	      "brk #0: SIGTRAP/TRAP_BRKPT, si_addr and pc the instruction (code %d, addr %p)",
	      seen.code, seen.addr);

	static char buf[32] __attribute__((aligned(16)));
	reset_seen();
	t_ldxr(buf + 1);
	CHECK(seen.signo == SIGBUS && seen.code == BUS_ADRALN && seen.addr == buf + 1 &&
		      seen.pc == (uintptr_t)t_ldxr_insn && seen.fault_address == (uintptr_t)(buf + 1),
	      "misaligned ldxr: SIGBUS/BUS_ADRALN at the address (code %d, addr %p, far %#lx)",
	      seen.code, seen.addr, seen.fault_address);
	CHECK(seen.has_esr && ESR_EC(seen.esr) == 0x24 && (seen.esr & 0x3f) == 0x21,
	      "misaligned ldxr: esr_context is a data abort with an alignment fault (%#lx)",
	      seen.esr);

	handle(SIGBUS, record_and_return, 0, 0);
	reset_seen();
	char *target = (char *)t_udf + 2;
	t_call(target);
	CHECK(seen.signo == SIGBUS && seen.code == BUS_ADRALN && seen.addr == target &&
		      seen.pc == (uintptr_t)target,
	      "a branch to a misaligned pc: SIGBUS/BUS_ADRALN, si_addr and pc the target (code %d, "
	      "addr %p, pc %#lx)",
	      seen.code, seen.addr, seen.pc);
	CHECK(seen.fault_address == 0 && seen.has_esr && ESR_EC(seen.esr) == 0x22,
	      "misaligned pc: fault_address 0, esr_context a PC alignment fault (far %#lx, esr "
	      "%#lx)",
	      seen.fault_address, seen.esr);

	/* QEMU does not implement SCTLR_EL1.SA0 (SP alignment checking): there, Linux and
	 * tidemark alike run the load. On hardware it is SIGBUS/BUS_ADRALN at the sp. */
	handle(SIGBUS, record_and_skip, 0, 0);
	reset_seen();
	t_sp_misalign();
	if (seen.count == 0) {
		tap_n++;
		tap_out("ok %d # SKIP a load through a misaligned sp does not fault (no SP "
			"alignment checking: QEMU)\n",
			tap_n);
	} else {
		CHECK(seen.signo == SIGBUS && seen.code == BUS_ADRALN &&
			      seen.pc == (uintptr_t)t_sp_insn && (seen.sp & 15) == 12 &&
			      seen.addr == (void *)seen.sp && seen.fault_address == 0,
		      "load through a misaligned sp: SIGBUS/BUS_ADRALN, si_addr the sp (code %d, "
		      "addr %p, sp %#lx)",
		      seen.code, seen.addr, seen.sp);
	}

	handle(SIGFPE, record, 0, 0);
	reset_seen();
	raise(SIGFPE);
	CHECK(seen.signo == SIGFPE && seen.code == SI_TKILL && seen.pid == getpid() &&
		      seen.uid == getuid(),
	      "raise(SIGFPE): SI_TKILL from our pid and uid (code %d, pid %d)", seen.code,
	      seen.pid);
	/* Linux leaves the last fault's record (thread.fault_code) in the frames of signals that
	 * no fault raised; what it never does is describe the svc as a fault. */
	CHECK(!seen.has_esr || ESR_EC(seen.esr) != 0x15,
	      "raise(SIGFPE): the frame holds no esr_context for the svc (esr %#lx)", seen.esr);
	handle(SIGSEGV, record, 0, 0);
	reset_seen();
	kill(getpid(), SIGSEGV);
	CHECK(seen.signo == SIGSEGV && seen.code == SI_USER && seen.pid == getpid() &&
		      (!seen.has_esr || ESR_EC(seen.esr) != 0x15),
	      "kill(self, SIGSEGV): SI_USER with our pid, no esr_context for the svc (code %d, esr "
	      "%#lx)",
	      seen.code, seen.esr);
	dfl(SIGSEGV);
	dfl(SIGILL);
	dfl(SIGTRAP);
	dfl(SIGBUS);
	dfl(SIGFPE);
}

/* ---- FP/SIMD state across a handler ------------------------------------------------------- */
static unsigned char fp_in[32][16] __attribute__((aligned(16)));
static unsigned char fp_out[32][16] __attribute__((aligned(16)));
static int fp_frame_ok, fp_handler_ran;
#define FPCR_SET 0x03c00000UL /* DN, FZ, RMode = round towards zero */
#define FPSR_SET 0x0800009fUL /* QC and the cumulative exception flags */

static void fp_clobber(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	struct fpsimd_context *f = (void *)uc->uc_mcontext.__reserved;
	fp_frame_ok = f->head.magic == FPSIMD_MAGIC && f->head.size == sizeof *f &&
		      f->fpcr == FPCR_SET && (f->fpsr & FPSR_SET) == FPSR_SET &&
		      memcmp(f->vregs, fp_in, sizeof fp_in) == 0;
	__asm__ volatile("movi v0.16b, #0xee\n movi v1.16b, #0xee\n movi v2.16b, #0xee\n"
			 "movi v3.16b, #0xee\n movi v4.16b, #0xee\n movi v5.16b, #0xee\n"
			 "movi v6.16b, #0xee\n movi v7.16b, #0xee\n movi v8.16b, #0xee\n"
			 "movi v9.16b, #0xee\n movi v10.16b, #0xee\n movi v11.16b, #0xee\n"
			 "movi v12.16b, #0xee\n movi v13.16b, #0xee\n movi v14.16b, #0xee\n"
			 "movi v15.16b, #0xee\n movi v16.16b, #0xee\n movi v17.16b, #0xee\n"
			 "movi v18.16b, #0xee\n movi v19.16b, #0xee\n movi v20.16b, #0xee\n"
			 "movi v21.16b, #0xee\n movi v22.16b, #0xee\n movi v23.16b, #0xee\n"
			 "movi v24.16b, #0xee\n movi v25.16b, #0xee\n movi v26.16b, #0xee\n"
			 "movi v27.16b, #0xee\n movi v28.16b, #0xee\n movi v29.16b, #0xee\n"
			 "movi v30.16b, #0xee\n movi v31.16b, #0xee\n"
			 "msr fpcr, xzr\n msr fpsr, xzr\n" ::
				 : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10",
				   "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
				   "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30",
				   "v31");
	fp_handler_ran++;
}

static void test_fpsimd(void)
{
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 16; j++)
			fp_in[i][j] = (unsigned char)(i * 16 + j + 1);
	handle(SIGUSR1, fp_clobber, 0, 0);
	unsigned long ctl[2] = { 0, 0 };
	fp_probe(fp_in, fp_out, FPCR_SET, FPSR_SET, getpid(), gettid(), SIGUSR1, ctl);
	CHECK(fp_handler_ran == 1 && fp_frame_ok,
	      "the frame's fpsimd_context holds q0-q31, FPSR and FPCR as interrupted");
	int bad = -1;
	for (int i = 0; i < 32 && bad < 0; i++)
		if (memcmp(fp_out[i], fp_in[i], 16) != 0)
			bad = i;
	CHECK(fp_handler_ran == 1 && bad < 0,
	      "q0-q31 are restored after a handler that clobbered them (first bad: q%d)", bad);
	CHECK(ctl[0] == FPCR_SET && (ctl[1] & FPSR_SET) == FPSR_SET,
	      "FPCR and FPSR are restored (fpcr %#lx, fpsr %#lx)", ctl[0], ctl[1]);
	dfl(SIGUSR1);
}

/* ---- sigaltstack ----------------------------------------------------------------------------- */
#define ALT_SIZE (64 * 1024)
static char *alt;
static struct {
	uintptr_t local;
	int flags, eperm, count;
	stack_t uc_stack;
	void *addr;
	int code;
} onstack;

static int on_alt(uintptr_t a) { return a >= (uintptr_t)alt && a < (uintptr_t)alt + ALT_SIZE; }

static void alt_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	volatile int local = 0;
	onstack.count++;
	onstack.local = (uintptr_t)&local;
	stack_t cur, other = { .ss_sp = alt, .ss_size = ALT_SIZE };
	sigaltstack(NULL, &cur);
	onstack.flags = cur.ss_flags;
	onstack.eperm = sigaltstack(&other, NULL) == -1 && errno == EPERM;
	onstack.uc_stack = ((ucontext_t *)ucv)->uc_stack;
	onstack.addr = si->si_addr;
	onstack.code = si->si_code;
}

static sigjmp_buf overflow_jump;
static volatile int stop_recursing;
static void overflow_handler(int sig, siginfo_t *si, void *ucv)
{
	alt_handler(sig, si, ucv);
	siglongjmp(overflow_jump, 1);
}

__attribute__((noinline)) static int recurse(int n)
{
	volatile char buf[200];
	buf[0] = (char)n;
	if (stop_recursing)
		return 0;
	return recurse(n + 1) + buf[0];
}

static void run_away(void) { recurse(0); }

static char *guarded; /* a 64 KiB stack whose lowest page is PROT_NONE */
#define GUARDED_SIZE (64 * 1024)

static int child_overflow_without_altstack(void)
{
	stack_t off = { .ss_flags = SS_DISABLE };
	sigaltstack(&off, NULL);
	handle(SIGSEGV, record_and_skip, 0, 0);
	call_on_stack(guarded + GUARDED_SIZE, run_away);
	return 3;
}

static void test_altstack(void)
{
	alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = { .ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0 }, old;
	CHECK(sigaltstack(&ss, &old) == 0 && old.ss_flags == SS_DISABLE,
	      "sigaltstack installs a stack (old flags %d)", old.ss_flags);
	stack_t tiny = { .ss_sp = alt, .ss_size = 1024 };
	errno = 0;
	CHECK(sigaltstack(&tiny, NULL) == -1 && errno == ENOMEM,
	      "a stack below MINSIGSTKSZ is ENOMEM");

	handle(SIGUSR1, alt_handler, SA_ONSTACK, 0);
	memset(&onstack, 0, sizeof onstack);
	raise(SIGUSR1);
	CHECK(onstack.count == 1 && on_alt(onstack.local),
	      "SA_ONSTACK: the handler's locals are on the alternate stack (%#lx)", onstack.local);
	CHECK(onstack.flags == SS_ONSTACK, "sigaltstack in the handler reports SS_ONSTACK (%d)",
	      onstack.flags);
	CHECK(onstack.eperm, "changing the alternate stack while on it is EPERM");
	CHECK(onstack.uc_stack.ss_sp == alt && onstack.uc_stack.ss_size == ALT_SIZE &&
		      onstack.uc_stack.ss_flags == 0,
	      "uc_stack holds the alternate stack (flags %d)", onstack.uc_stack.ss_flags);
	sigaltstack(NULL, &old);
	CHECK(old.ss_flags == 0, "outside the handler the flags are 0 again (%d)", old.ss_flags);

	stack_t autodisarm = { .ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = SS_AUTODISARM };
	sigaltstack(&autodisarm, NULL);
	memset(&onstack, 0, sizeof onstack);
	raise(SIGUSR1);
	sigaltstack(NULL, &old);
	CHECK(onstack.count == 1 && on_alt(onstack.local) && onstack.flags == SS_DISABLE &&
		      onstack.uc_stack.ss_flags == SS_AUTODISARM,
	      "SS_AUTODISARM: on the alternate stack, which reads as disabled inside (%d), saved in "
	      "uc_stack (%#x)",
	      onstack.flags, onstack.uc_stack.ss_flags);
	CHECK(old.ss_sp == alt && old.ss_size == ALT_SIZE && old.ss_flags == SS_AUTODISARM,
	      "SS_AUTODISARM: rt_sigreturn re-arms it (flags %#x)", old.ss_flags);
	sigaltstack(&ss, NULL);

	handle(SIGUSR1, alt_handler, 0, 0);
	memset(&onstack, 0, sizeof onstack);
	raise(SIGUSR1);
	CHECK(onstack.count == 1 && !on_alt(onstack.local) && onstack.flags == 0,
	      "without SA_ONSTACK the handler runs on the normal stack");
	dfl(SIGUSR1);

	guarded = mmap(NULL, GUARDED_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	mprotect(guarded, PAGE, PROT_NONE);
	handle(SIGSEGV, overflow_handler, SA_ONSTACK, 0);
	memset(&onstack, 0, sizeof onstack);
	stop_recursing = 0;
	if (sigsetjmp(overflow_jump, 1) == 0)
		call_on_stack(guarded + GUARDED_SIZE, run_away);
	CHECK(onstack.count == 1 && on_alt(onstack.local) && onstack.code == SEGV_ACCERR &&
		      (char *)onstack.addr >= guarded && (char *)onstack.addr < guarded + PAGE,
	      "a stack overflow into a guard page is caught on the alternate stack (code %d, addr "
	      "%p)",
	      onstack.code, onstack.addr);
	CHECK(!blocked(SIGSEGV), "siglongjmp out of the overflow handler unblocks SIGSEGV");
	dfl(SIGSEGV);

	int st = in_child(child_overflow_without_altstack);
	CHECK(killed_by(st, SIGSEGV),
	      "the same overflow without an alternate stack kills with SIGSEGV (status %#x)", st);
}

/* ---- Masks, SA_NODEFER, SA_RESETHAND -------------------------------------------------------- */
static volatile int depth, max_depth, entries;
static sigset_t inside_mask;
static void nesting(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	entries++;
	if (++depth > max_depth)
		max_depth = depth;
	if (entries == 1) {
		sigprocmask(SIG_BLOCK, NULL, &inside_mask);
		raise(sig);
	}
	depth--;
}

static void test_nodefer(void)
{
	handle(SIGUSR1, nesting, SA_NODEFER, 0);
	entries = max_depth = depth = 0;
	raise(SIGUSR1);
	CHECK(entries == 2 && max_depth == 2,
	      "SA_NODEFER: raising the signal in its handler re-enters it (%d entries, depth %d)",
	      entries, max_depth);
	CHECK(!sigismember(&inside_mask, SIGUSR1), "SA_NODEFER: the signal is not blocked inside");

	handle(SIGUSR1, nesting, 0, SIGUSR2);
	entries = max_depth = depth = 0;
	raise(SIGUSR1);
	CHECK(entries == 2 && max_depth == 1,
	      "without SA_NODEFER the second one waits for the handler to return (%d entries, "
	      "depth %d)",
	      entries, max_depth);
	CHECK(sigismember(&inside_mask, SIGUSR1) && sigismember(&inside_mask, SIGUSR2),
	      "inside the handler the signal and sa_mask are blocked");
	CHECK(!blocked(SIGUSR1) && !blocked(SIGUSR2), "after the handler the mask is restored");
	dfl(SIGUSR1);
}

static volatile int resethand_ran;
static void count_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	resethand_ran++;
}

static int child_resethand(void)
{
	handle(SIGUSR2, count_usr2, SA_RESETHAND, 0);
	raise(SIGUSR2);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	if (resethand_ran != 1)
		return 4;
	if (now.sa_handler != SIG_DFL)
		return 5;
	raise(SIGUSR2);
	return 6;
}

static void test_resethand(void)
{
	int st = in_child(child_resethand);
	CHECK(killed_by(st, SIGUSR2),
	      "SA_RESETHAND: the handler runs once, the second SIGUSR2 kills (status %#x)", st);
}

/* ---- Blocking, pending, ignoring, kill and tgkill ------------------------------------------- */
static void test_mask_and_pending(void)
{
	handle(SIGUSR1, record, 0, 0);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	reset_seen();
	raise(SIGUSR1);
	CHECK(seen.count == 0, "a blocked signal is not delivered");
	CHECK(pending(SIGUSR1) == 1, "sigpending shows it (%d)", pending(SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	CHECK(seen.count == 1 && seen.signo == SIGUSR1 && seen.code == SI_TKILL,
	      "unblocking delivers it before sigprocmask returns (count %d)", seen.count);
	CHECK(pending(SIGUSR1) == 0, "and it is no longer pending");

	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	raise(SIGUSR1);
	reset_seen();
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(seen.count == 1, "a standard signal sent twice while blocked is delivered once (%d)",
	      seen.count);

	/* Installing a handler ends in a syscall return, where a pending signal would be
	 * delivered: what reaches the handler shows what was pending. */
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR2);
	reset_seen();
	handle(SIGUSR2, record, 0, 0);
	CHECK(seen.count == 0, "an ignored signal is discarded (not delivered to a later handler)");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR2);
	handle(SIGUSR2, record, 0, 0);
	reset_seen();
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(seen.count == 1 && seen.signo == SIGUSR2,
	      "an ignored signal sent while blocked stays pending for a handler installed later");
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR2);
	signal(SIGUSR2, SIG_IGN);
	handle(SIGUSR2, record, 0, 0);
	reset_seen();
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK(seen.count == 0, "setting SIG_IGN discards a pending signal");
	dfl(SIGUSR2);

	reset_seen();
	CHECK(kill(getpid(), SIGUSR1) == 0 && seen.count == 1 && seen.code == SI_USER &&
		      seen.pid == getpid() && seen.uid == getuid(),
	      "kill(getpid()): SI_USER with our pid and uid (code %d, pid %d)", seen.code,
	      seen.pid);
	reset_seen();
	CHECK(tgkill_self(SIGUSR1) == 0 && seen.count == 1 && seen.code == SI_TKILL &&
		      seen.pid == getpid(),
	      "tgkill(getpid(), gettid()): SI_TKILL (code %d)", seen.code);
	errno = 0;
	CHECK(syscall(SYS_tgkill, getpid() + 1000, gettid(), SIGUSR1) == -1 && errno == ESRCH,
	      "tgkill with the wrong tgid is ESRCH");
	errno = 0;
	CHECK(kill(getpid(), 65) == -1 && errno == EINVAL, "kill with signal 65 is EINVAL");
	CHECK(kill(getpid(), 0) == 0 && seen.count == 1, "kill with signal 0 only probes");
	errno = 0;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL,
	      "SIGKILL's action cannot be changed");
	dfl(SIGUSR1);
}

/* ---- SA_RESTART and EINTR: a child signals its parent blocked in read(2) ------------------- */
static volatile int usr1_hits;
static void hit(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	usr1_hits++;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void test_restart(void)
{
	for (int restart = 1; restart >= 0; restart--) {
		int fds[2];
		if (pipe(fds) != 0) {
			CHECK(0, "pipe");
			return;
		}
		handle(SIGUSR1, hit, restart ? SA_RESTART : 0, 0);
		usr1_hits = 0;
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			nap_ms(50);
			kill(getppid(), SIGUSR1);
			/* Keep the write end open meanwhile: at EOF read(2) would return 0. */
			nap_ms(50);
			if (restart)
				(void)!write(fds[1], "x", 1);
			_exit(0);
		}
		close(fds[1]);
		char c = 0;
		errno = 0;
		long n = read(fds[0], &c, 1);
		int e = errno;
		int st = -1;
		waitpid(pid, &st, 0);
		if (restart)
			CHECK(n == 1 && c == 'x' && usr1_hits == 1,
			      "SA_RESTART: read(2) interrupted by the child's signal restarts and "
			      "returns its data (n %ld, errno %d, %d signals)",
			      n, e, usr1_hits);
		else
			CHECK(n == -1 && e == EINTR && usr1_hits == 1,
			      "without SA_RESTART: read(2) fails with EINTR (n %ld, errno %d, %d "
			      "signals)",
			      n, e, usr1_hits);
		close(fds[0]);
	}
	dfl(SIGUSR1);
}

/* ---- Deaths by signal, and siglongjmp ------------------------------------------------------- */
static int child_segv(void)
{
	dfl(SIGSEGV);
	t_store(NULL, 1);
	return 3;
}

static int child_segv_blocked(void)
{
	handle(SIGSEGV, record_and_skip, 0, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigprocmask(SIG_BLOCK, &set, NULL);
	t_store(NULL, 1);
	return 3;
}

static int child_segv_ignored(void)
{
	signal(SIGSEGV, SIG_IGN);
	t_store(NULL, 1);
	return 3;
}

static int child_bad_sp(void)
{
	handle(SIGSEGV, record_and_skip, 0, 0);
	t_bad_sp_store();
	return 3;
}

static int child_ill(void)
{
	t_udf();
	return 3;
}

static int child_term(void)
{
	raise(SIGTERM);
	return 3;
}

static sigjmp_buf jump;
static void jump_out(int sig, siginfo_t *si, void *uc)
{
	record(sig, si, uc);
	siglongjmp(jump, 1);
}

static void test_deaths_and_longjmp(void)
{
	int st = in_child(child_segv);
	CHECK(killed_by(st, SIGSEGV), "an uncaught SIGSEGV in a child: WIFSIGNALED, WTERMSIG 11 "
				      "(status %#x)",
	      st);
	st = in_child(child_segv_blocked);
	CHECK(killed_by(st, SIGSEGV), "a fault with SIGSEGV blocked kills despite the handler "
				      "(status %#x)",
	      st);
	st = in_child(child_segv_ignored);
	CHECK(killed_by(st, SIGSEGV), "a fault with SIGSEGV ignored kills (status %#x)", st);
	st = in_child(child_bad_sp);
	CHECK(killed_by(st, SIGSEGV),
	      "a fault whose frame cannot be written kills with SIGSEGV (status %#x)", st);
	st = in_child(child_ill);
	CHECK(killed_by(st, SIGILL), "an uncaught udf kills with SIGILL (status %#x)", st);
	st = in_child(child_term);
	CHECK(killed_by(st, SIGTERM), "raise(SIGTERM) with the default action kills (status %#x)",
	      st);

	handle(SIGSEGV, jump_out, 0, 0);
	reset_seen();
	int caught = 0;
	if (sigsetjmp(jump, 1) == 0)
		t_store(NULL, 1);
	else
		caught = 1;
	CHECK(caught && seen.signo == SIGSEGV && !blocked(SIGSEGV),
	      "siglongjmp out of a SIGSEGV handler restores the mask");
	caught = 0;
	if (sigsetjmp(jump, 1) == 0)
		t_load(NULL);
	else
		caught = 1;
	CHECK(caught && seen.count == 2, "and the handler catches the next fault too");
	caught = 0;
	if (sigsetjmp(jump, 0) == 0)
		t_store(NULL, 1);
	else
		caught = 1;
	CHECK(caught && blocked(SIGSEGV),
	      "sigsetjmp without savemask: SIGSEGV stays blocked after the jump");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	dfl(SIGSEGV);
}

int main(void)
{
	test_faults();
	test_fpsimd();
	test_altstack();
	test_nodefer();
	test_resethand();
	test_mask_and_pending();
	test_restart();
	test_deaths_and_longjmp();
	return tap_done("signals");
}
