/* smaps: /proc/self/smaps splits each mapping's resident pages as Linux does: shared or private by
 * how many mappings a page has (a fork's copies, a file page mapped twice), the proportional share
 * (Pss) divided among those mappings, and anonymous pages (private copies of a file's pages
 * included) apart from an object's own; smaps_rollup sums every mapping and splits Pss by kind;
 * VmFlags names the flags. A memfd mapped shared and privately, and anonymous memory, before a
 * fork, while a child maps the same pages, after a copy-on-write, and after the child is gone. */
#define _GNU_SOURCE
#include "tap.h"
#include "selfinfo.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096
#define N 8

static char text[1 << 18];

struct smap {
	long size, rss, pss, pss_dirty, shared_clean, shared_dirty, private_clean, private_dirty,
		anonymous, locked, thp_eligible;
	char flags[128];
};

static void read_file(const char *path) { read_whole(path, text, sizeof text); }

static long field(const char *block, const char *end, const char *name)
{
	size_t len = strlen(name);
	for (const char *l = block; l && l < end; l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, name, len) && l[len] == ':')
			return strtol(l + len + 1, NULL, 10);
	return -1;
}

/* The smaps entry of the mapping that starts at `addr`. */
static int smap_of(const void *addr, struct smap *s)
{
	char head[32];
	read_file("/proc/self/smaps");
	snprintf(head, sizeof head, "%lx-", (unsigned long)addr);
	char *b = text;
	while (b && strncmp(b, head, strlen(head)))
		b = strstr(b, "VmFlags:"), b = b ? strchr(b, '\n') : b, b = b ? b + 1 : b;
	if (!b || !*b)
		return 0;
	char *e = strstr(b, "VmFlags:");
	if (!e)
		return 0;
	s->size = field(b, e, "Size");
	s->rss = field(b, e, "Rss");
	s->pss = field(b, e, "Pss");
	s->pss_dirty = field(b, e, "Pss_Dirty");
	s->shared_clean = field(b, e, "Shared_Clean");
	s->shared_dirty = field(b, e, "Shared_Dirty");
	s->private_clean = field(b, e, "Private_Clean");
	s->private_dirty = field(b, e, "Private_Dirty");
	s->anonymous = field(b, e, "Anonymous");
	s->locked = field(b, e, "Locked");
	s->thp_eligible = field(b, e, "THPeligible");
	size_t n = strcspn(e + 9, "\n");
	if (n >= sizeof s->flags)
		n = sizeof s->flags - 1;
	memcpy(s->flags, e + 9, n);
	s->flags[n] = 0;
	return 1;
}

/* One mapping's expected figures, in kB: shared and private are dirty, every page referenced. */
static int is(const struct smap *s, long rss, long pss, long shared, long anon)
{
	return s->rss == rss && s->pss == pss && s->pss_dirty == pss && s->shared_dirty == shared &&
	       s->private_dirty == rss - shared && s->shared_clean == 0 && s->private_clean == 0 &&
	       s->anonymous == anon;
}

/* The figures a check prints: FIGS in its message, SHOW(s) among its arguments. */
#define FIGS "(Rss %ld Pss %ld Shared %ld Private %ld Anon %ld)"
#define SHOW(s) (s).rss, (s).pss, (s).shared_dirty, (s).private_dirty, (s).anonymous

/* Sums a field over every smaps entry. */
static long smaps_sum(const char *name)
{
	long sum = 0;
	read_file("/proc/self/smaps");
	for (char *b = text; b && *b;) {
		char *e = strstr(b, "VmFlags:");
		if (!e)
			break;
		sum += field(b, e, name);
		b = strchr(e, '\n');
		b = b ? b + 1 : b;
	}
	return sum;
}

static long kb_of(const char *path, const char *name)
{
	read_file(path);
	return field(text, text + strlen(text), name);
}

static void touch(volatile char *p, int pages)
{
	for (int i = 0; i < pages; i++)
		(void)p[i * PAGE];
}

int main(void)
{
	struct smap s, a, p;
	/* Fault the buffer in first, so that reading a file never adds pages midway. */
	memset(text, 1, sizeof text);

	int fd = memfd_create("smaps", 0);
	char page[PAGE];
	memset(page, 'm', sizeof page);
	for (int i = 0; i < N; i++)
		(void)!write(fd, page, PAGE);
	char *sh = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *an = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *pr = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	touch(sh, N);
	memset(an, 'a', N * PAGE);
	touch(pr, N);
	memset(pr, 'p', N / 2 * PAGE);

	/* Alone: the file's upper four pages are mapped twice (sh and pr), the rest once. */
	CHECK(smap_of(sh, &s) && s.size == 32 && is(&s, 32, 24, 16, 0),
	      "shared memfd: Rss 32, Pss 24, Shared 16 (also mapped privately), none anonymous "
	      FIGS, SHOW(s));
	CHECK(smap_of(an, &a) && is(&a, 32, 32, 0, 32), "anonymous: all private and anonymous " FIGS, SHOW(a));
	CHECK(smap_of(pr, &p) && is(&p, 32, 24, 16, 16),
	      "private memfd: 4 copies (private, anonymous) and 4 of the file's pages (shared with the "
	      "shared mapping) " FIGS, SHOW(p));
	CHECK(!strcmp(a.flags, "rd wr mr mw me ac ") && !strcmp(p.flags, a.flags),
	      "VmFlags of private writable memory: '%s'", a.flags);
	CHECK(!strcmp(s.flags, "rd wr sh mr mw me ms "), "VmFlags of a shared mapping: '%s'", s.flags);
	CHECK(a.thp_eligible == 0 && a.locked == 0, "THPeligible 0 in a 32 kB mapping, nothing locked");
	CHECK(mlock(an, N * PAGE) == 0 && smap_of(an, &a) && a.locked == 32 &&
	      strstr(a.flags, " lo ") && munlock(an, N * PAGE) == 0,
	      "mlock: Locked 32 kB and the 'lo' flag (Locked %ld, '%s')", a.locked, a.flags);

	/* A child maps the same pages: every one is now shared. */
	int up[2], down[2];
	(void)!pipe(up);
	(void)!pipe(down);
	pid_t c = fork();
	if (c == 0) {
		touch(sh, N);
		touch(pr, N);
		char x = 0;
		(void)!write(up[1], &x, 1);
		(void)!read(down[0], &x, 1);
		_exit(0);
	}
	char x;
	(void)!read(up[0], &x, 1);
	CHECK(smap_of(sh, &s) && is(&s, 32, 12, 32, 0),
	      "after fork: the shared mapping's pages are in 2 or 4 mappings: Pss 8 + 4 "
	      FIGS, SHOW(s));
	CHECK(smap_of(an, &a) && is(&a, 32, 16, 32, 32), "anonymous pages shared copy-on-write: Pss "
	      "halved " FIGS, SHOW(a));
	CHECK(smap_of(pr, &p) && is(&p, 32, 12, 32, 16),
	      "private memfd: copies in 2 mappings, file pages in 4 "
	      FIGS, SHOW(p));
	an[0] = 'b';
	CHECK(smap_of(an, &a) && is(&a, 32, 18, 28, 32),
	      "a write copies one page: private again " FIGS,
	      SHOW(a));

	/* smaps_rollup is the sum of smaps. */
	long rss = smaps_sum("Rss"), anon = smaps_sum("Anonymous"), shared = smaps_sum("Shared_Dirty");
	read_file("/proc/self/smaps_rollup");
	char *end = text + strlen(text);
	long r_rss = field(text, end, "Rss"), r_pss = field(text, end, "Pss");
	long split = field(text, end, "Pss_Anon") + field(text, end, "Pss_File") +
		     field(text, end, "Pss_Shmem");
	long parts = field(text, end, "Shared_Clean") + field(text, end, "Shared_Dirty") +
		     field(text, end, "Private_Clean") + field(text, end, "Private_Dirty");
	CHECK(r_rss == rss && field(text, end, "Anonymous") == anon &&
	      field(text, end, "Shared_Dirty") == shared,
	      "smaps_rollup: Rss %ld, Anonymous and Shared_Dirty as smaps sums them", r_rss);
	CHECK(parts == r_rss && split <= r_pss && r_pss - split <= 2 && r_pss < r_rss,
	      "rollup: Rss is shared + private (%ld), Pss is anon + file + shmem (%ld of %ld)", parts,
	      split, r_pss);
	CHECK(field(text, end, "Pss_Shmem") >= 8 + 4, "rollup: Pss_Shmem counts the memfd's pages (%ld kB)",
	      field(text, end, "Pss_Shmem"));
	long vmrss = kb_of("/proc/self/status", "VmRSS"), rss_shmem = kb_of("/proc/self/status", "RssShmem");
	CHECK(vmrss == kb_of("/proc/self/status", "RssAnon") + kb_of("/proc/self/status", "RssFile") +
			       rss_shmem && rss_shmem >= 48,
	      "status: RssShmem counts the memfd's 12 mapped pages (%ld kB of VmRSS %ld kB)", rss_shmem,
	      vmrss);

	/* The child gone, the figures are what they were alone. */
	(void)!write(down[1], &x, 1);
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(smap_of(sh, &s) && is(&s, 32, 24, 16, 0) && smap_of(an, &a) && is(&a, 32, 32, 0, 32) &&
	      smap_of(pr, &p) && is(&p, 32, 24, 16, 16),
	      "after the child exits: shared %ld/%ld, anonymous %ld/%ld, private %ld/%ld (Pss/Rss)",
	      s.pss, s.rss, a.pss, a.rss, p.pss, p.rss);
	munmap(pr, N * PAGE);
	CHECK(smap_of(sh, &s) && is(&s, 32, 32, 0, 0), "unmapping the private mapping leaves the "
	      "shared one the only mapper " FIGS, SHOW(s));
	return tap_done("smaps");
}
