/* The brk heap: growing and shrinking the break, faulting it in, and populating it under mlockall.
 *
 *   brk1      brk(+1 page) then brk(back), nothing touched; per brk call (will-it-scale brk1)
 *   brk128k   the same with 128 KiB; per brk call
 *   fault     from a 2 MiB-aligned break, brk(+64 MiB) and one write per page; per page
 *   shrink    brk back down over those 64 MiB of faulted pages; per page
 *   locked_1m, locked_8m, locked
 *             after mlockall(MCL_CURRENT | MCL_FUTURE), one brk growth of 1, 8 or 64 MiB, which the
 *             kernel must populate before returning; per page
 *   shrink_locked  brk back down over the 64 MiB locked growth; per page
 *
 * The break is moved to a 2 MiB boundary first wherever whole pages are faulted, so that a kernel
 * that uses 2 MiB blocks (Linux with THP) can use them throughout.
 */
#include <stdio.h>

#include "bench.h"

static void brk_pair(const struct bench_cfg *cfg, const char *name, uintptr_t step, uint64_t iters)
{
	const uintptr_t base = brk_align(PAGE_SIZE);
	struct series s;
	series_init(&s, name, "call", 2 * iters);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < iters; i++) {
			sys_brk(base + step);
			sys_brk(base);
		}
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	/* Checked once, outside the measurement: the break really moved. */
	if (sys_brk(base + step) != base + step || sys_brk(base) != base)
		die("%s: brk did not move by %#lx", name, (unsigned long)step);
	series_report(&s, cfg, NULL);
}

void bench_brk1(const struct bench_cfg *cfg)
{
	brk_pair(cfg, "brk1", PAGE_SIZE, cfg->quick ? 500 : 2000);
}

void bench_brk128k(const struct bench_cfg *cfg)
{
	brk_pair(cfg, "brk128k", 128 * KiB, cfg->quick ? 500 : 2000);
}

void bench_fault(const struct bench_cfg *cfg)
{
	const uintptr_t len = cfg->quick ? 8 * MiB : 64 * MiB;
	const uintptr_t base = brk_align(HUGE_SIZE);
	struct series grow, shrink;
	series_init(&grow, "fault", "page", len / PAGE_SIZE);
	series_init(&shrink, "shrink", "page", len / PAGE_SIZE);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		if (sys_brk(base + len) != base + len)
			die("fault: brk(+%lu MiB) failed", (unsigned long)(len / MiB));
		touch_pages(base, len);
		uint64_t t1 = read_cntvct();
		sys_brk(base);
		uint64_t t2 = read_cntvct();
		series_add(&grow, rep, ticks_to_insns(t1 - t0));
		series_add(&shrink, rep, ticks_to_insns(t2 - t1));
	}
	if (sys_brk(0) != base)
		die("shrink: the break did not come back to %#lx", (unsigned long)base);
	series_report(&grow, cfg, NULL);
	series_report(&shrink, cfg, NULL);
}

/* Instructions per page to write one byte to every page of [base, base + len): a handful when the
 * pages are present, a page fault's worth when they are not. */
static double touch_cost(uintptr_t base, uintptr_t len)
{
	uint64_t t0 = read_cntvct();
	touch_pages(base, len);
	uint64_t t1 = read_cntvct();
	return (double)ticks_to_insns(t1 - t0) / (double)(len / PAGE_SIZE);
}

void bench_locked(const struct bench_cfg *cfg)
{
	static const struct {
		const char *name;
		uintptr_t len;
	} sizes[] = { { "locked_1m", 1 * MiB }, { "locked_8m", 8 * MiB }, { "locked", 64 * MiB } };
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };

	long r = raw_syscall1(NR_mlockall, 1 /* MCL_CURRENT */ | 2 /* MCL_FUTURE */);
	if (r != 0)
		die("mlockall(MCL_CURRENT | MCL_FUTURE) failed: errno %ld", -r);
	const uintptr_t base = brk_align(HUGE_SIZE);
	struct series grow[NSIZES], shrink;
	uintptr_t len[NSIZES];
	for (int i = 0; i < NSIZES; i++) {
		len[i] = cfg->quick && sizes[i].len > 8 * MiB ? 8 * MiB : sizes[i].len;
		series_init(&grow[i], sizes[i].name, "page", len[i] / PAGE_SIZE);
	}
	series_init(&shrink, "shrink_locked", "page", len[NSIZES - 1] / PAGE_SIZE);

	double touch = 0;
	for (int rep = 0; rep <= cfg->reps; rep++) {
		for (int i = 0; i < NSIZES; i++) {
			uint64_t t0 = read_cntvct();
			if (sys_brk(base + len[i]) != base + len[i])
				die("locked: brk(+%lu KiB) failed", (unsigned long)(len[i] / KiB));
			uint64_t t1 = read_cntvct();
			if (i == NSIZES - 1 && rep == cfg->reps)
				touch = touch_cost(base, len[i]);
			uint64_t t2 = read_cntvct();
			sys_brk(base);
			uint64_t t3 = read_cntvct();
			series_add(&grow[i], rep, ticks_to_insns(t1 - t0));
			if (i == NSIZES - 1)
				series_add(&shrink, rep, ticks_to_insns(t3 - t2));
		}
	}
	raw_syscall0(NR_munlockall);
	/* A populated page costs a few instructions to write; a missing one costs a page fault. */
	char extra[64];
	snprintf(extra, sizeof(extra), "populated=%s touch_per_page=%.1f",
		 touch < 50 ? "yes" : "no", touch);
	for (int i = 0; i < NSIZES; i++)
		series_report(&grow[i], cfg, extra);
	series_report(&shrink, cfg, NULL);
}
