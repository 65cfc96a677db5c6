/* bench.h: what every tidemark benchmark shares.
 *
 * Instructions, not time. Under QEMU's `-icount shift=0` the guest's virtual clock advances exactly
 * 1 ns per guest instruction, so the generic timer's virtual counter (CNTVCT_EL0, read from EL0,
 * ticking at CNTFRQ_EL0 Hz) turns into an instruction count:
 *
 *     instructions = ticks * 1e9 / CNTFRQ_EL0
 *
 * That count covers everything the CPU executed between two reads: our EL0 code, the kernel's
 * exception entry/exit, the kernel's handler, and any interrupt that arrived meanwhile. It does not
 * depend on the host's speed or load. QEMU's counter runs at 62.5 MHz, so one tick is 16
 * instructions: every measured interval here is many thousands of ticks long.
 *
 * System calls go through raw `svc #0` wrappers (Linux AArch64 ABI: x8 = number, x0..x5 = args,
 * x0 = result or -errno) so that no libc bookkeeping (sbrk's cached break, errno, cancellation
 * points) lands inside a measurement. Output goes through write(2) from a stack buffer: stdio would
 * malloc its buffer from the brk heap the benchmarks are measuring.
 */
#ifndef TIDEMARK_BENCH_H
#define TIDEMARK_BENCH_H

#include <stdint.h>
#include <stddef.h>

/* ---- Linux AArch64 system call numbers (asm-generic/unistd.h) -------------------------------- */
#define NR_openat 56
#define NR_close 57
#define NR_read 63
#define NR_write 64
#define NR_exit_group 94
#define NR_getppid 173
#define NR_prctl 167
#define NR_munmap 215
#define NR_brk 214
#define NR_mmap 222
#define NR_mprotect 226
#define NR_mlockall 230
#define NR_munlockall 231

#define PAGE_SIZE 4096UL
#define HUGE_SIZE (2UL << 20) /* PMD-sized block: what transparent huge pages use */
#define MiB (1UL << 20)
#define KiB (1UL << 10)

static inline long raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a0;
	register long x1 __asm__("x1") = a1;
	register long x2 __asm__("x2") = a2;
	register long x3 __asm__("x3") = a3;
	register long x4 __asm__("x4") = a4;
	register long x5 __asm__("x5") = a5;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#define raw_syscall0(nr) raw_syscall6(nr, 0, 0, 0, 0, 0, 0)
#define raw_syscall1(nr, a) raw_syscall6(nr, (long)(a), 0, 0, 0, 0, 0)
#define raw_syscall2(nr, a, b) raw_syscall6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw_syscall3(nr, a, b, c) raw_syscall6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* brk(2) as the kernel implements it: returns the new break, or the old one on failure. */
static inline uintptr_t sys_brk(uintptr_t addr)
{
	return (uintptr_t)raw_syscall1(NR_brk, addr);
}

/* ---- the instruction clock -------------------------------------------------------------------- */

/* The ISB keeps the counter read from being performed ahead of the instructions before it. */
static inline uint64_t read_cntvct(void)
{
	uint64_t v;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}

static inline uint64_t read_cntfrq(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}

/* Instructions executed during `ticks` counter ticks (exact under -icount shift=0). */
uint64_t ticks_to_insns(uint64_t ticks);

/* Counter value at the program's very first instruction (see bench_entry in main.c). */
extern uint64_t entry_cntvct;

/* ---- configuration and results ---------------------------------------------------------------- */

struct bench_cfg {
	int quick;      /* --quick: smaller sizes, fewer repetitions; a smoke run, not a measurement */
	int reps;       /* measured repetitions (one extra warm-up repetition runs first) */
	const char *thp; /* "off"/"on" when --thp= was given (Linux); NULL otherwise */
};

#define MAX_REPS 16

/* The samples of one reported figure: instructions per `unit`, one value per repetition. */
struct series {
	const char *name;
	const char *unit;
	uint64_t ops;   /* operations per repetition (the divisor) */
	int n;
	double per_op[MAX_REPS];
};

void series_init(struct series *s, const char *name, const char *unit, uint64_t ops);
/* Adds one repetition that took `insns` instructions; repetition 0 is the warm-up and is dropped. */
void series_add(struct series *s, int rep, uint64_t insns);
/* Prints the human line and the machine-readable line:
 *   bench NAME ops=N instr_per_op=X unit=U reps=R min=A max=B [thp=off|on] [extra]
 * instr_per_op is the median over the repetitions. `extra` may be NULL. */
void series_report(const struct series *s, const struct bench_cfg *cfg, const char *extra);

/* Formatted output with write(2); no malloc. */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a failure and exits with status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Moves the break up to the next multiple of `align` and returns it. */
uintptr_t brk_align(uintptr_t align);
/* Writes one byte to every page of [start, start + len). */
void touch_pages(uintptr_t start, size_t len);
/* munmap, or die with the error (mmap.c). */
void unmap(uintptr_t p, uintptr_t len);

/* ---- workloads -------------------------------------------------------------------------------- */

struct workload {
	const char *name;
	const char *what;
	void (*run)(const struct bench_cfg *cfg);
	int cores; /* the machine it is measured on: 1, or 4 for the threaded workloads */
};

void bench_boot(const struct bench_cfg *cfg);
void bench_calib(const struct bench_cfg *cfg);
void bench_syscall(const struct bench_cfg *cfg);
void bench_brk1(const struct bench_cfg *cfg);
void bench_brk128k(const struct bench_cfg *cfg);
void bench_fault(const struct bench_cfg *cfg);
void bench_locked(const struct bench_cfg *cfg);
void bench_mmap1(const struct bench_cfg *cfg);
void bench_page_fault1(const struct bench_cfg *cfg);
void bench_vma_scale(const struct bench_cfg *cfg);
void bench_pingpong(const struct bench_cfg *cfg);
void bench_filemap_shared(const struct bench_cfg *cfg);
void bench_filemap_private(const struct bench_cfg *cfg);
void bench_mt_fault(const struct bench_cfg *cfg);
void bench_mt_brk1(const struct bench_cfg *cfg);
void bench_futex_pingpong(const struct bench_cfg *cfg);
void bench_thread_create(const struct bench_cfg *cfg);
void bench_ptmem(const struct bench_cfg *cfg);
void bench_malloc_rss(const struct bench_cfg *cfg);

#endif
