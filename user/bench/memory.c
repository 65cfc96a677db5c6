/* Memory, not instructions: two figures the performance issue asks for beside Linux.
 *
 *   pt_per_gib  page-table memory per GiB of anonymous memory touched page by page (VmPTE's
 *               growth over a 256 MiB mapping, scaled to 1 GiB); in kB
 *   malloc_rss  the resident set (VmRSS) after a malloc-heavy run: 200,000 allocations of 16 to
 *               1,024 bytes, every other one freed, 100,000 more; in kB. With THP on, the brk heap
 *               can take 2 MiB pages: the difference between the THP-on and THP-off rows is what
 *               a THP heap costs.
 *
 * Each is printed as one `bench` line whose value stands where the others have instructions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* The number after `key` in /proc/self/status, in kB (-1 where there is no /proc). */
static long status_kb(const char *key)
{
	static char buf[4096];
	long fd = raw_syscall3(NR_openat, -100 /* AT_FDCWD */, "/proc/self/status", 0 /* O_RDONLY */);
	if (fd < 0)
		return -1;
	long n = raw_syscall3(NR_read, fd, buf, sizeof(buf) - 1);
	raw_syscall1(NR_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void report_kb(const struct bench_cfg *cfg, const char *name, const char *unit, long kb)
{
	char thp[16] = "";
	if (cfg->thp)
		snprintf(thp, sizeof(thp), " thp=%s", cfg->thp);
	out("  %-18s %12ld %s\n", name, kb, unit);
	out("bench %s ops=1 instr_per_op=%ld unit=%s reps=1 min=%ld max=%ld%s\n", name, kb, unit, kb, kb,
	    thp);
}

void bench_ptmem(const struct bench_cfg *cfg)
{
	const uintptr_t len = cfg->quick ? 32 * MiB : 256 * MiB;
	long before = status_kb("VmPTE:");
	long p = raw_syscall6(NR_mmap, 0, (long)(len + HUGE_SIZE), 3 /* PROT_READ | PROT_WRITE */,
			      0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
	if (p < 0 && p > -4096)
		die("ptmem: mmap failed: errno %ld", -p);
	uintptr_t base = ((uintptr_t)p + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
	touch_pages(base, len);
	long after = status_kb("VmPTE:");
	unmap((uintptr_t)p, len + HUGE_SIZE);
	if (before < 0 || after < 0)
		die("ptmem: no VmPTE in /proc/self/status");
	report_kb(cfg, "pt_per_gib", "kB", (after - before) * (long)(1024 * MiB / len));
}

void bench_malloc_rss(const struct bench_cfg *cfg)
{
	const int n = cfg->quick ? 20000 : 200000;
	void **p = malloc(sizeof(void *) * (size_t)n);
	if (!p)
		die("malloc_rss: no memory for the table");
	uint32_t x = 12345;
	for (int i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		size_t size = 16 + (x >> 8) % 1009;
		p[i] = malloc(size);
		if (!p[i])
			die("malloc_rss: malloc(%zu) failed", size);
		memset(p[i], 1, size);
	}
	for (int i = 0; i < n; i += 2)
		free(p[i]);
	for (int i = 0; i < n / 2; i++) {
		x = x * 1103515245 + 12345;
		size_t size = 16 + (x >> 8) % 1009;
		p[2 * i] = malloc(size);
		if (!p[2 * i])
			die("malloc_rss: malloc(%zu) failed", size);
		memset(p[2 * i], 2, size);
	}
	long rss = status_kb("VmRSS:");
	if (rss < 0)
		die("malloc_rss: no VmRSS in /proc/self/status");
	report_kb(cfg, "malloc_rss", "kB", rss);
}
