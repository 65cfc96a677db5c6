/* vma_scale: do the fault and brk paths stay flat as the address space fills with VMAs?
 *
 * At about 10 (a bare static program), 1,000 and 60,000 VMAs in the address space it measures:
 *   vma_fault_N  from a 2 MiB-aligned break, brk(+4 MiB) and one write per page; per page
 *   vma_brk_N    brk(+1 page) then brk(back); per brk call
 *
 * VMAs are made without touching the heap: an anonymous mapping of an even number of pages, then
 * every odd page made read-only with mprotect, gives one VMA per page (neighbours differ in
 * protection, so none merge; an even length keeps the mapping's ends from merging with another one
 * made the same way). A bare static program has about ASSUMED_BASE_VMAS of its own; the real counts
 * are read back from /proc/self/maps at the end, where the kernel has it, and reported.
 * (Linux's default vm.max_map_count is 65530.)
 */
#include <stdio.h>

#include "bench.h"

#define PROT_READ 1
#define PROT_RW 3
#define MAP_PRIVATE_ANON 0x22
#define ASSUMED_BASE_VMAS 10

/* Lines of /proc/self/maps, or -1 where there is no such file. */
static long count_vmas(void)
{
	long fd = raw_syscall3(NR_openat, -100 /* AT_FDCWD */, "/proc/self/maps", 0 /* O_RDONLY */);
	if (fd < 0)
		return -1;
	char buf[4096];
	long lines = 0, n;
	while ((n = raw_syscall3(NR_read, fd, buf, sizeof(buf))) > 0)
		for (long i = 0; i < n; i++)
			lines += buf[i] == '\n';
	raw_syscall1(NR_close, fd);
	return n < 0 ? -1 : lines;
}

/* Adds `count` (even) one-page VMAs. */
static void add_vmas(long count)
{
	uintptr_t len = (uintptr_t)count * PAGE_SIZE;
	long p = raw_syscall6(NR_mmap, 0, (long)len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
	if (p < 0 && p > -4096)
		die("vma_scale: mmap of %ld pages failed: errno %ld", count, -p);
	for (long i = 1; i < count; i += 2) {
		long r = raw_syscall3(NR_mprotect, p + i * (long)PAGE_SIZE, PAGE_SIZE, PROT_READ);
		if (r != 0)
			die("vma_scale: mprotect failed after %ld VMAs: errno %ld", i, -r);
	}
}

void bench_vma_scale(const struct bench_cfg *cfg)
{
	static const long targets[] = { 10, 1000, 60000 };
	enum { NTARGETS = sizeof(targets) / sizeof(targets[0]) };
	const int ntargets = cfg->quick ? 2 : NTARGETS;
	const uintptr_t fault_len = cfg->quick ? 1 * MiB : 4 * MiB;
	const uint64_t brk_iters = cfg->quick ? 250 : 1000;

	const uintptr_t base = brk_align(HUGE_SIZE);
	struct series fault[NTARGETS], brk[NTARGETS];
	char fault_name[NTARGETS][32], brk_name[NTARGETS][32];
	long added[NTARGETS];
	long total_added = 0;
	for (int t = 0; t < ntargets; t++) {
		long want = targets[t];
		long have = ASSUMED_BASE_VMAS + total_added;
		if (want > have) {
			long n = (want - have + 1) & ~1L;
			add_vmas(n);
			total_added += n;
		}
		added[t] = total_added;
		snprintf(fault_name[t], sizeof(fault_name[t]), "vma_fault_%ld", want);
		snprintf(brk_name[t], sizeof(brk_name[t]), "vma_brk_%ld", want);
		series_init(&fault[t], fault_name[t], "page", fault_len / PAGE_SIZE);
		series_init(&brk[t], brk_name[t], "call", 2 * brk_iters);
		for (int rep = 0; rep <= cfg->reps; rep++) {
			uint64_t t0 = read_cntvct();
			if (sys_brk(base + fault_len) != base + fault_len)
				die("vma_scale: brk(+%lu KiB) failed", (unsigned long)(fault_len / KiB));
			touch_pages(base, fault_len);
			uint64_t t1 = read_cntvct();
			sys_brk(base);
			uint64_t t2 = read_cntvct();
			for (uint64_t i = 0; i < brk_iters; i++) {
				sys_brk(base + PAGE_SIZE);
				sys_brk(base);
			}
			uint64_t t3 = read_cntvct();
			series_add(&fault[t], rep, ticks_to_insns(t1 - t0));
			series_add(&brk[t], rep, ticks_to_insns(t3 - t2));
		}
	}
	/* Counted once all is measured: on Linux, reading /proc/self/maps makes every later brk call
	 * of the process dearer by some 2,500 instructions. */
	long final = count_vmas();
	for (int t = 0; t < ntargets; t++) {
		char extra[48];
		if (final >= 0)
			snprintf(extra, sizeof(extra), "vmas=%ld", final - (total_added - added[t]));
		else
			snprintf(extra, sizeof(extra), "vmas=~%ld", ASSUMED_BASE_VMAS + added[t]);
		series_report(&fault[t], cfg, extra);
		series_report(&brk[t], cfg, extra);
	}
}
