/* thp: transparent huge pages for anonymous memory, with the default mode `always`. A write in a
 * 2 MiB-aligned range wholly inside a private anonymous mapping maps a 2 MiB page (one fault,
 * AnonHugePages in smaps and meminfo, every 4 KiB page resident for mincore); a partial munmap,
 * mprotect or MADV_DONTNEED splits it into pages that keep the data; fork leaves each side its own
 * copy; PR_SET_THP_DISABLE and MADV_NOHUGEPAGE keep memory in 4 KiB pages, MADV_HUGEPAGE marks
 * the VMA. */
#define _GNU_SOURCE
#include "tap.h"
#include "selfinfo.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define PAGE 4096UL
#define HUGE (2UL << 20)

static char text[1 << 18];

static void read_file(const char *path) { read_whole(path, text, sizeof text); }

/* The smaps field `name` (kB) of the mapping that starts at `addr`, or the VmFlags line into
 * `flags` when it is not NULL. */
static long smaps_of(const void *addr, const char *name, char *flags)
{
	char head[32];
	snprintf(head, sizeof head, "\n%lx-", (unsigned long)addr);
	read_file("/proc/self/smaps");
	char *b = strstr(text, head);
	if (!b)
		return -1;
	char *e = strstr(b + 1, "VmFlags:");
	if (flags && e) {
		size_t n = strcspn(e + 9, "\n");
		memcpy(flags, e + 9, n);
		flags[n] = 0;
	}
	char key[64];
	snprintf(key, sizeof key, "\n%s:", name);
	char *f = strstr(b, key);
	return f && f < e ? strtol(f + strlen(key), NULL, 10) : -1;
}

static long meminfo_kb(const char *name)
{
	char key[64];
	read_file("/proc/meminfo");
	snprintf(key, sizeof key, "%s:", name);
	char *f = strstr(text, key);
	return f ? strtol(f + strlen(key), NULL, 10) : -1;
}


/* An anonymous mapping of `len` whose start is 2 MiB-aligned (the slack around it unmapped). */
static char *aligned_map(size_t len)
{
	char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + len, raw + HUGE - p);
	return p;
}

static int resident_pages(char *p, size_t len)
{
	static unsigned char vec[4096];
	if (mincore(p, len, vec) != 0)
		return -1;
	int n = 0;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

/* Whether every page of `p` holds its index plus `salt` in its first byte, `skip` excepted. */
static int pattern_holds(char *p, size_t len, int salt, char *skip)
{
	for (size_t i = 0; i < len / PAGE; i++)
		if (p + i * PAGE != skip && p[i * PAGE] != (char)(i + salt))
			return 0;
	return 1;
}

int main(void)
{
	memset(text, 1, sizeof text);
	char flags[256];
	/* Where the init that runs this has not mounted sysfs, mounted for the first check only. */
	mkdir("/sys", 0555);
	int mounted = mount("sysfs", "/sys", "sysfs", 0, NULL) == 0;
	read_file("/sys/kernel/mm/transparent_hugepage/enabled");
	text[strcspn(text, "\n")] = 0;
	if (mounted)
		umount("/sys");
	CHECK(strstr(text, "[always]") != NULL, "the mode is always (%s)", text);

	const size_t len = 4 * HUGE;
	long sys0 = meminfo_kb("AnonHugePages");
	char *p = aligned_map(len);
	long f0 = minflt();
	for (size_t off = 0; off < len; off += HUGE)
		p[off] = 1;
	long faults = minflt() - f0;
	CHECK(p && faults == 4, "one write in each of four 2 MiB ranges: 4 faults (%ld)", faults);
	CHECK(smaps_of(p, "AnonHugePages", flags) == 8192 && smaps_of(p, "Rss", NULL) == 8192,
	      "smaps: AnonHugePages 8192 kB, Rss 8192 kB (%ld, %ld)", smaps_of(p, "AnonHugePages", NULL),
	      smaps_of(p, "Rss", NULL));
	CHECK(smaps_of(p, "THPeligible", NULL) == 1, "smaps: THPeligible 1");
	CHECK(meminfo_kb("AnonHugePages") - sys0 >= 8192, "meminfo: AnonHugePages +%ld kB",
	      meminfo_kb("AnonHugePages") - sys0);
	CHECK(resident_pages(p, len) == (int)(len / PAGE), "mincore: all %lu pages resident", len / PAGE);
	for (size_t i = 0; i < len / PAGE; i++)
		p[i * PAGE] = (char)i;
	CHECK(minflt() - f0 == 4 && pattern_holds(p, len, 0, NULL),
	      "a write to every page takes no more faults, and each page keeps what it was given");

	/* Splits keep the data. */
	char *hole = p + HUGE / 2;
	CHECK(munmap(hole, PAGE) == 0 &&
	      smaps_of(p, "AnonHugePages", NULL) + smaps_of(hole + PAGE, "AnonHugePages", NULL) == 6144,
	      "munmap of one page splits its huge page: AnonHugePages 6144 kB in the two pieces (%ld)",
	      smaps_of(p, "AnonHugePages", NULL) + smaps_of(hole + PAGE, "AnonHugePages", NULL));
	CHECK(pattern_holds(p, HUGE, 0, hole), "the split range's other pages keep their data");
	char *ro = p + HUGE + 5 * PAGE;
	CHECK(mprotect(ro, PAGE, PROT_READ) == 0 && smaps_of(p + HUGE / 2 + PAGE, "AnonHugePages", NULL) +
		      smaps_of(ro + PAGE, "AnonHugePages", NULL) == 4096,
	      "mprotect of one page splits the next one: AnonHugePages 4096 kB in the pieces");
	ro[PAGE] = 7;
	CHECK(ro[0] == (char)(HUGE / PAGE + 5) && ro[PAGE] == 7, "which keeps its data and stays writable around it");
	ro[PAGE] = (char)(HUGE / PAGE + 6);
	char *dn = p + 2 * HUGE + 9 * PAGE;
	CHECK(madvise(dn, PAGE, MADV_DONTNEED) == 0 && dn[0] == 0 &&
	      pattern_holds(p + 2 * HUGE, HUGE, (int)(2 * HUGE / PAGE), dn),
	      "MADV_DONTNEED of one page: it reads zero, the rest of its huge page keeps its data");

	/* fork: each side its own copy. */
	char *last = p + 3 * HUGE;
	pid_t c = fork();
	if (c == 0) {
		for (size_t i = 0; i < HUGE / PAGE; i++)
			last[i * PAGE] = 'c';
		_exit(last[HUGE - PAGE] == 'c' ? 0 : 1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && pattern_holds(last, HUGE, (int)(3 * HUGE / PAGE), NULL),
	      "fork: the child writes its copy of a huge page, the parent's is unchanged");

	/* PR_SET_THP_DISABLE and the advice. */
	CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 && prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1,
	      "PR_SET_THP_DISABLE, read back");
	char *q = aligned_map(2 * HUGE);
	f0 = minflt();
	q[0] = q[HUGE] = 1;
	faults = minflt() - f0;
	CHECK(faults == 2 && smaps_of(q, "AnonHugePages", NULL) == 0 && smaps_of(q, "Rss", NULL) == 8,
	      "then writes map 4 KiB pages (%ld faults, AnonHugePages %ld kB, Rss %ld kB)", faults,
	      smaps_of(q, "AnonHugePages", NULL), smaps_of(q, "Rss", NULL));
	CHECK(smaps_of(q, "THPeligible", NULL) == 0, "and THPeligible is 0");
	prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
	char *r = aligned_map(2 * HUGE);
	CHECK(madvise(r, 2 * HUGE, MADV_NOHUGEPAGE) == 0 && (r[0] = 1) &&
	      smaps_of(r, "AnonHugePages", flags) == 0 && strstr(flags, " nh"),
	      "MADV_NOHUGEPAGE: 4 KiB pages, and 'nh' in VmFlags (%s)", flags);
	CHECK(madvise(r + HUGE, HUGE, MADV_HUGEPAGE) == 0 && (r[HUGE] = 1) &&
	      smaps_of(r + HUGE, "AnonHugePages", flags) == 2048 && strstr(flags, " hg"),
	      "MADV_HUGEPAGE on its upper half: a huge page there, 'hg' in its VmFlags (%s)", flags);
	return tap_done("thp");
}
