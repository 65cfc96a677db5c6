/* VM_LOCKED on tidemark (issue 6, ../shared/conformance.md items 20-25): mlockall and the mlock
 * family, eager population of a locked heap, RLIMIT_MEMLOCK for an unprivileged process, 2 MiB
 * blocks, and what /proc/self/status, /proc/self/smaps_rollup, mincore(2) and ru_minflt show.
 *
 *   vmlocked          the conformance checks (TAP summary "# vmlocked: ...")
 *   vmlocked big      mlockall, then a 256 MiB locked brk growth populated at once ("# vmlocked-big")
 *   vmlocked oom      mlockall, then locked brk growth far beyond RAM: brk still succeeds (Linux
 *                     ignores population errors), the program carries on ("# vmlocked-oom")
 *
 * The first process is root, and euid 0 stands for CAP_IPC_LOCK: the privileged checks come
 * first, then setresuid(65534, ...) makes the process unprivileged for the RLIMIT_MEMLOCK ones.
 * The break is moved with the raw system call and nothing here uses malloc (glibc's malloc would
 * move the break behind the program's back); buffers are static. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tap.h"
#include "selfinfo.h"

#define KiB 1024UL
#define MiB (1024 * KiB)
#define PAGE 4096UL
#define HUGE (2 * MiB)

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static uintptr_t brk_(uintptr_t to)
{
	return (uintptr_t)syscall(SYS_brk, to);
}

static char text[32768];

/* The whole of a /proc file into `text`. */
static int slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < sizeof text - 1 && (r = read(fd, text + n, sizeof text - 1 - n)) > 0)
		n += r;
	close(fd);
	text[n] = 0;
	return (int)n;
}

/* The value of the line "KEY:   N kB" in a /proc file, -1 if missing. */
static long proc_kb(const char *path, const char *key)
{
	if (slurp(path) < 0)
		return -1;
	size_t kl = strlen(key);
	for (char *line = text; line && *line;) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			return strtol(line + kl + 1, NULL, 10);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

static long vmlck(void) { return proc_kb("/proc/self/status", "VmLck"); }
static long vmrss(void) { return proc_kb("/proc/self/status", "VmRSS"); }
static long huge_kb(void) { return proc_kb("/proc/self/smaps_rollup", "AnonHugePages"); }


static unsigned char vec[256 * MiB / PAGE];

/* Pages of [addr, addr + len) mincore reports resident; -errno if mincore fails. */
static long resident(uintptr_t addr, size_t len)
{
	if (mincore((void *)addr, len, vec) != 0)
		return -errno;
	long n = 0;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static int maps_lines(void)
{
	int n = 0;
	if (slurp("/proc/self/maps") < 0)
		return -1;
	for (char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* Writes one byte per page (a page fault each if the page is missing). */
static void touch(uintptr_t addr, size_t len, unsigned char v)
{
	for (size_t off = 0; off < len; off += PAGE)
		((volatile unsigned char *)addr)[off] = v;
}

static long errno_of(long r)
{
	return r == -1 ? errno : 0;
}

/* Moves the break up to a 2 MiB boundary (lazily: nothing is locked yet) and returns it. */
static uintptr_t align_break(void)
{
	uintptr_t b = brk_(0);
	uintptr_t a = (b + HUGE - 1) & ~(HUGE - 1);
	if (a != b)
		brk_(a);
	return brk_(0);
}

static void mlockall_errors(void)
{
	CHECK(errno_of(mlockall(0)) == EINVAL, "mlockall(0): EINVAL");
	CHECK(errno_of(mlockall(8)) == EINVAL, "mlockall(unknown bit): EINVAL");
	CHECK(errno_of(mlockall(MCL_CURRENT | 16)) == EINVAL, "mlockall(MCL_CURRENT | unknown): EINVAL");
	CHECK(errno_of(mlockall(MCL_ONFAULT)) == EINVAL, "mlockall(MCL_ONFAULT) alone: EINVAL");
}

/* Items 20 and 25, the blocks, and shrinking. */
static void locked_growth(uintptr_t base)
{
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	const size_t len = 4 * MiB;
	long lck0 = vmlck(), rss0 = vmrss(), huge0 = huge_kb();
	long sys_huge0 = proc_kb("/proc/meminfo", "AnonHugePages"), sys_mlocked0 = proc_kb("/proc/meminfo", "Mlocked");
	CHECK(lck0 > 0, "VmLck counts the locked address space (%ld kB)", lck0);
	CHECK(huge0 >= 0, "smaps_rollup has AnonHugePages (%ld kB)", huge0);
	CHECK(brk_(base + len) == base + len, "locked brk growth by 4 MiB");
	CHECK(resident(base, len) == (long)(len / PAGE), "every page resident at once (mincore)");
	CHECK(vmlck() - lck0 == (long)(len / KiB), "VmLck grew by the size (%ld kB)", vmlck() - lck0);
	CHECK(rss_near(vmrss() - rss0, (long)(len / KiB)), "VmRSS grew by the size (%ld kB)", vmrss() - rss0);
	CHECK(huge_kb() - huge0 == (long)(len / KiB), "2 MiB-aligned locked heap mapped by blocks "
	      "(AnonHugePages +%ld kB)", huge_kb() - huge0);
	long sys_huge = proc_kb("/proc/meminfo", "AnonHugePages") - sys_huge0;
	long sys_mlocked = proc_kb("/proc/meminfo", "Mlocked") - sys_mlocked0;
	/* Linux counts pages into Mlocked when its per-CPU batch of newly locked pages drains, so
	 * some locked before the first read may arrive after it: a little slack above. */
	CHECK(sys_huge == (long)(len / KiB) && sys_mlocked >= (long)(len / KiB) &&
	      sys_mlocked <= (long)(len / KiB) + 256,
	      "/proc/meminfo: AnonHugePages +%ld kB, Mlocked +%ld kB", sys_huge, sys_mlocked);
	long locked = proc_kb("/proc/self/smaps_rollup", "Locked");
	long rss = proc_kb("/proc/self/smaps_rollup", "Rss");
	/* Both cover the locked growth. (Not Rss >= Locked: the two come from separate reads, and
	 * Linux's khugepaged may change the process's pages in between.) */
	CHECK(locked >= (long)(len / KiB) && rss >= (long)(len / KiB), "smaps_rollup Locked %ld kB, Rss %ld kB",
	      locked, rss);
	long f0 = minflt();
	for (size_t off = 0; off < len; off += PAGE)
		((volatile unsigned char *)base)[off + 7] = (unsigned char)(off / PAGE);
	long f1 = minflt();
	CHECK(f1 == f0, "touching the locked growth takes no page fault (%ld)", f1 - f0);

	/* Partial shrink into the second block: it is split, the rest keeps its contents. */
	uintptr_t mid = base + HUGE + MiB;
	CHECK(brk_(mid) == mid, "partial shrink to the middle of a block");
	CHECK(vmlck() - lck0 == (long)((mid - base) / KiB), "VmLck fell with the shrink");
	CHECK(rss_near(vmrss() - rss0, (long)((mid - base) / KiB)), "VmRSS fell with the shrink");
	CHECK(huge_kb() - huge0 == (long)(HUGE / KiB), "the split block is no longer a block");
	CHECK(resident(base, mid - base) == (long)((mid - base) / PAGE), "what is left stays resident");
	int same = 1;
	for (size_t off = 0; off < mid - base; off += PAGE)
		same &= ((volatile unsigned char *)base)[off + 7] == (unsigned char)(off / PAGE);
	CHECK(same, "contents survive the split");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(vmlck() == lck0, "VmLck back to %ld kB", lck0);
	CHECK(rss_near(vmrss(), rss0), "VmRSS back to %ld kB (frames freed)", rss0);

	/* An unaligned locked growth: pages, all there at once. */
	CHECK(brk_(base + 100 * PAGE + 123) == base + 100 * PAGE + 123, "locked growth by 100 pages");
	CHECK(resident(base, 101 * PAGE) == 101, "all 101 pages resident");
	CHECK(brk_(base) == base, "shrink back");
}

/* Item 21: MCL_FUTURE | MCL_ONFAULT locks lazily. */
static void onfault_growth(uintptr_t base)
{
	CHECK(mlockall(MCL_FUTURE | MCL_ONFAULT) == 0, "mlockall(MCL_FUTURE | MCL_ONFAULT)");
	long lck0 = vmlck(), rss0 = vmrss();
	CHECK(brk_(base + MiB) == base + MiB, "growth by 1 MiB");
	CHECK(vmlck() - lck0 == 1024, "VmLck grew by 1024 kB");
	CHECK(resident(base, MiB) == 0, "nothing resident until touched");
	CHECK(vmrss() == rss0, "VmRSS unchanged");
	long f0 = minflt();
	touch(base, 3 * PAGE, 1);
	CHECK(minflt() - f0 == 3, "three pages, three faults");
	CHECK(resident(base, MiB) == 3, "touched pages resident");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(vmlck() == lck0, "VmLck back");
}

/* Item 25: mlockall without MCL_FUTURE clears future locking; munlockall makes growth lazy. */
static void clearing_future(uintptr_t base)
{
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	CHECK(mlockall(MCL_CURRENT) == 0, "mlockall(MCL_CURRENT) again, without MCL_FUTURE");
	long lck0 = vmlck();
	CHECK(brk_(base + MiB) == base + MiB, "growth by 1 MiB");
	CHECK(vmlck() == lck0, "not locked: VmLck unchanged");
	CHECK(resident(base, MiB) == 0, "lazy again: nothing resident");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	CHECK(munlockall() == 0, "munlockall");
	CHECK(vmlck() == 0, "VmLck 0 after munlockall");
	CHECK(brk_(base + MiB) == base + MiB, "growth by 1 MiB");
	CHECK(vmlck() == 0 && resident(base, MiB) == 0, "growth after munlockall is lazy");
	CHECK(brk_(base) == base, "shrink back");
}

/* mlock, munlock and mlock2(MLOCK_ONFAULT) split and merge VMAs. A part that mlock populated has
 * an anon_vma and its untouched neighbours none, so munlock leaves it apart from them, as Linux's
 * vma_merge does (user/c/anon_vma.c has the rules). */
static void mlock_ranges(void)
{
	const size_t len = 16 * PAGE;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap 16 pages");
	int n0 = maps_lines();
	long lck0 = vmlck();
	CHECK(mlock(m + 4 * PAGE, 4 * PAGE) == 0, "mlock the middle 4 pages");
	CHECK(maps_lines() == n0 + 2, "the VMA is split in three (%d lines, was %d)", maps_lines(), n0);
	CHECK(vmlck() - lck0 == 16, "VmLck +16 kB");
	CHECK(resident((uintptr_t)m + 4 * PAGE, 4 * PAGE) == 4, "mlock populated them");
	CHECK(resident((uintptr_t)m, 4 * PAGE) == 0, "the pages around them are untouched");
	CHECK(mlock(m + 6 * PAGE, 4 * PAGE) == 0, "mlock an overlapping range");
	CHECK(maps_lines() == n0 + 2 && vmlck() - lck0 == 24, "one locked VMA of 6 pages");
	CHECK(munlock(m, len) == 0, "munlock all of it");
	CHECK(maps_lines() == n0 + 2 && vmlck() == lck0,
	      "unlocked; the populated part stays apart from its untouched neighbours (%d lines)", maps_lines());
	/* Pages 12 and 13 were never touched. */
	CHECK(syscall(SYS_mlock2, m + 12 * PAGE, 2 * PAGE, MLOCK_ONFAULT) == 0, "mlock2(MLOCK_ONFAULT)");
	CHECK(maps_lines() == n0 + 4 && vmlck() - lck0 == 8, "split, VmLck +8 kB");
	CHECK(resident((uintptr_t)m + 12 * PAGE, 2 * PAGE) == 0, "ONFAULT: not populated");
	touch((uintptr_t)m + 12 * PAGE, PAGE, 1);
	CHECK(resident((uintptr_t)m + 12 * PAGE, 2 * PAGE) == 1, "ONFAULT: a touched page is there");
	CHECK(errno_of(syscall(SYS_mlock2, m, PAGE, 2)) == EINVAL, "mlock2 with an unknown flag: EINVAL");
	CHECK(munlock(m + 12 * PAGE, 2 * PAGE) == 0 && maps_lines() == n0 + 4,
	      "munlock: the touched part stays apart too (%d lines)", maps_lines());
	munmap(m, len);
}

/* Item 22, privileged: euid 0 (CAP_IPC_LOCK) is not held to RLIMIT_MEMLOCK. */
static void privileged_bypass(uintptr_t base)
{
	struct rlimit small = { 64 * KiB, RLIM_INFINITY };
	CHECK(setrlimit(RLIMIT_MEMLOCK, &small) == 0, "RLIMIT_MEMLOCK 64 KiB");
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "privileged: mlockall above the limit");
	CHECK(brk_(base + MiB) == base + MiB, "privileged: locked growth above the limit");
	CHECK(resident(base, MiB) == 256, "and it is populated");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(munlockall() == 0, "munlockall");
}

/* Items 22 and 23 for an unprivileged process. */
static void unprivileged_limits(uintptr_t base)
{
	struct rlimit zero = { 0, RLIM_INFINITY }, small = { 64 * KiB, RLIM_INFINITY };
	CHECK(setrlimit(RLIMIT_MEMLOCK, &zero) == 0, "RLIMIT_MEMLOCK 0");
	CHECK(errno_of(mlockall(MCL_CURRENT)) == EPERM, "mlockall with a zero limit: EPERM");
	CHECK(errno_of(mlock((char *)base - PAGE, PAGE)) == EPERM, "mlock with a zero limit: EPERM");
	CHECK(setrlimit(RLIMIT_MEMLOCK, &small) == 0, "RLIMIT_MEMLOCK 64 KiB");
	CHECK(errno_of(mlockall(MCL_CURRENT)) == ENOMEM, "mlockall(MCL_CURRENT) above the limit: ENOMEM");
	CHECK(vmlck() == 0, "nothing locked");
	CHECK(mlockall(MCL_FUTURE) == 0, "mlockall(MCL_FUTURE) is not checked at call time");
	CHECK(brk_(base + MiB) == base, "locked growth beyond the limit fails with the old break");
	CHECK(resident(base, MiB) == -ENOMEM, "and nothing is mapped there");
	CHECK(vmlck() == 0, "VmLck still 0");
	void *m = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m == MAP_FAILED && errno == EAGAIN, "mmap beyond the limit: EAGAIN");
	CHECK(brk_(base + 8 * PAGE) == base + 8 * PAGE, "growth within the limit works");
	CHECK(vmlck() == 32 && resident(base, 8 * PAGE) == 8, "locked and populated");
	CHECK(brk_(base + 17 * PAGE) == base + 8 * PAGE, "the limit counts what is locked already");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(munlockall() == 0 && vmlck() == 0, "munlockall");
	CHECK(brk_(base + MiB) == base + MiB, "unlocked growth is not limited");
	CHECK(brk_(base) == base, "shrink back");
}

static int run_all(void)
{
	mlockall_errors();
	uintptr_t base = align_break();
	CHECK((base & (HUGE - 1)) == 0, "break at a 2 MiB boundary (%#lx)", (unsigned long)base);
	locked_growth(base);
	onfault_growth(base);
	clearing_future(base);
	mlock_ranges();
	privileged_bypass(base);
	CHECK(setresuid(65534, 65534, 65534) == 0 && geteuid() == 65534, "setresuid(65534): unprivileged");
	unprivileged_limits(base);
	return tap_done("vmlocked");
}

/* 256 MiB of locked heap at once. */
static int run_big(void)
{
	const size_t len = 256 * MiB;
	uintptr_t base = align_break();
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	long rss0 = vmrss(), huge0 = huge_kb();
	CHECK(brk_(base + len) == base + len, "locked brk growth by 256 MiB");
	CHECK(resident(base, len) == (long)(len / PAGE), "all 65536 pages resident");
	CHECK(vmrss() - rss0 == (long)(len / KiB), "VmRSS +%ld kB", vmrss() - rss0);
	CHECK(huge_kb() - huge0 == (long)(len / KiB), "all of it in blocks (AnonHugePages +%ld kB)",
	      huge_kb() - huge0);
	long f0 = minflt();
	touch(base, len, 0x33);
	CHECK(minflt() == f0, "no page fault touching it");
	CHECK(brk_(base + len / 2 + PAGE) == base + len / 2 + PAGE, "shrink by half (splits a block)");
	CHECK(vmrss() - rss0 == (long)((len / 2 + PAGE) / KiB), "VmRSS fell by half");
	CHECK(brk_(base) == base, "shrink back");
	CHECK(vmrss() == rss0, "VmRSS back");
	return tap_done("vmlocked-big");
}

/* Locked growth beyond RAM: population runs out of memory, brk succeeds anyway. */
static int run_oom(void)
{
	uintptr_t base = align_break();
	CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	const size_t step = 64 * MiB;
	uintptr_t top = base;
	int grown = 1;
	for (int i = 0; i < 4; i++) {
		grown &= brk_(top + step) == top + step;
		top += step;
	}
	CHECK(grown, "four 64 MiB locked growths all return the new break");
	long res = resident(base, top - base);
	CHECK(res > 0 && res < (long)((top - base) / PAGE), "populated as far as memory went (%ld pages)",
	      res);
	CHECK(brk_(base) == base, "shrink back");
	CHECK(munlockall() == 0, "munlockall");
	CHECK(brk_(base + MiB) == base + MiB, "memory is usable again");
	touch(base, MiB, 1);
	CHECK(brk_(base) == base, "shrink back");
	return tap_done("vmlocked-oom");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "big") == 0)
		return run_big();
	if (argc > 1 && strcmp(argv[1], "oom") == 0)
		return run_oom();
	return run_all();
}
