/* Anonymous mmap:
 *
 *   mmap1        mmap + munmap of 128 MiB, never touched; per pair (will-it-scale mmap1)
 *   page_fault1  mmap 32 MiB, one write per page, munmap; per page (will-it-scale page_fault1)
 */
#include "bench.h"

#define PROT_RW 3                 /* PROT_READ | PROT_WRITE */
#define MAP_PRIVATE_ANON 0x22     /* MAP_PRIVATE | MAP_ANONYMOUS */

static uintptr_t map_anon(uintptr_t len)
{
	long p = raw_syscall6(NR_mmap, 0, (long)len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
	if (p < 0 && p > -4096)
		die("mmap(%lu KiB) failed: errno %ld", (unsigned long)(len / KiB), -p);
	return (uintptr_t)p;
}

void unmap(uintptr_t p, uintptr_t len)
{
	long r = raw_syscall2(NR_munmap, p, len);
	if (r != 0)
		die("munmap(%#lx, %lu KiB) failed: errno %ld", (unsigned long)p, (unsigned long)(len / KiB),
		    -r);
}

void bench_mmap1(const struct bench_cfg *cfg)
{
	const uintptr_t len = 128 * MiB;
	const uint64_t iters = cfg->quick ? 100 : 1000;
	struct series s;
	series_init(&s, "mmap1", "pair", iters);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < iters; i++)
			unmap(map_anon(len), len);
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	series_report(&s, cfg, NULL);
}

void bench_page_fault1(const struct bench_cfg *cfg)
{
	const uintptr_t len = cfg->quick ? 4 * MiB : 32 * MiB;
	struct series s;
	series_init(&s, "page_fault1", "page", len / PAGE_SIZE);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		uintptr_t p = map_anon(len);
		touch_pages(p, len);
		unmap(p, len);
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	series_report(&s, cfg, NULL);
}
