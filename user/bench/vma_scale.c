/* vma_scale: do the fault and brk paths stay flat as the address space fills with VMAs?
 *
 * At about 10 (a bare static program), 1,000 and 60,000 VMAs in the address space it measures:
 *   vma_fault_N  from a 2 MiB-aligned break, brk(+4 MiB) and one write per page; per page
 *   vma_brk_N    brk(+1 page) then brk(back); per brk call
 *
 * VMAs are made without touching the heap: an anonymous mapping of an even number of pages, then
 * every odd page made read-only with mprotect, gives one VMA per page (neighbours differ in
 * protection, so none merge; an even length keeps the mapping's ends from merging with another one
 * made the same way). The count is read back from /proc/self/maps where the kernel has it.
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
	const int ntargets = cfg->quick ? 2 : 3;
	const uintptr_t fault_len = cfg->quick ? 1 * MiB : 4 * MiB;
	const uint64_t brk_iters = cfg->quick ? 250 : 1000;

	long measured = count_vmas();
	long have = measured >= 0 ? measured : ASSUMED_BASE_VMAS;
	const uintptr_t base = brk_align(HUGE_SIZE);
	for (int t = 0; t < ntargets; t++) {
		long want = targets[t];
		if (want > have) {
			add_vmas((want - have + 1) & ~1L);
			measured = count_vmas();
			have = measured >= 0 ? measured : have + ((want - have + 1) & ~1L);
		}
		char fault_name[32], brk_name[32], extra[48];
		snprintf(fault_name, sizeof(fault_name), "vma_fault_%ld", want);
		snprintf(brk_name, sizeof(brk_name), "vma_brk_%ld", want);
		snprintf(extra, sizeof(extra), "vmas=%s%ld", measured >= 0 ? "" : "~", have);

		struct series fault, brk;
		series_init(&fault, fault_name, "page", fault_len / PAGE_SIZE);
		series_init(&brk, brk_name, "call", 2 * brk_iters);
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
			series_add(&fault, rep, ticks_to_insns(t1 - t0));
			series_add(&brk, rep, ticks_to_insns(t3 - t2));
		}
		series_report(&fault, cfg, extra);
		series_report(&brk, cfg, extra);
	}
}
