/* anon_vma: when neighbouring VMAs merge, by the anon_vma rules of Linux 6.1. A private VMA gets an
 * anon_vma at its first anonymous page (a write fault, or population by mlock); splits share it,
 * a fork gives each of the child's VMAs one of its own, chained to the parent's. Two neighbours
 * with the same flags merge when they have the same anon_vma, or when the one that keeps its place
 * has one and the other none, and only while the first's chain is the anon_vma alone (not after a
 * fork). An anon_vma made for a VMA is reused from a neighbour that differs only in its
 * protection. Each check counts the VMAs /proc/self/maps shows in a range fenced by PROT_NONE. */
#define _GNU_SOURCE
#include "tap.h"
#include "selfinfo.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096UL

static char maps[1 << 16];

/* How many VMAs of /proc/self/maps meet [lo, hi). */
static int vmas_in(char *lo, char *hi)
{
	read_whole("/proc/self/maps", maps, sizeof maps);
	int n = 0;
	for (char *l = maps; *l; l = strchr(l, '\n') + 1) {
		unsigned long s = strtoul(l, NULL, 16), e = strtoul(strchr(l, '-') + 1, NULL, 16);
		n += s < (uintptr_t)hi && e > (uintptr_t)lo;
		if (!strchr(l, '\n'))
			break;
	}
	return n;
}

/* [heap] lines of /proc/self/maps. */
static int heap_vmas(void)
{
	read_whole("/proc/self/maps", maps, sizeof maps);
	int n = 0;
	for (char *p = maps; (p = strstr(p, "[heap]")); p++)
		n++;
	return n;
}

/* A fresh fence of PROT_NONE pages: the checks map at page 1 and up, clear of its two ends. */
static char *fence(void)
{
	char *f = mmap(NULL, 32 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return f == MAP_FAILED ? NULL : f;
}

static char *map_at(char *at, size_t pages, int prot)
{
	char *p = mmap(at, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void touch(char *p, size_t pages)
{
	for (size_t i = 0; i < pages; i++)
		p[i * PAGE] = 1;
}

/* In a child: a VMA touched before the fork, then a new mapping right after it. */
static int child_maps_after(char *f, char *a)
{
	char *b = map_at(a + 2 * PAGE, 2, PROT_READ | PROT_WRITE);
	return b && vmas_in(f, f + 32 * PAGE) == 4 ? 0 : 1;
}

int main(void)
{
	const int RW = PROT_READ | PROT_WRITE;
	char *f = fence(), *p;

	/* Neither part has an anon_vma, or they share one. */
	p = map_at(f + PAGE, 3, RW);
	CHECK(p && mprotect(p + PAGE, PAGE, PROT_READ) == 0 && vmas_in(f, f + 32 * PAGE) == 5 &&
		      mprotect(p + PAGE, PAGE, RW) == 0 && vmas_in(f, f + 32 * PAGE) == 3,
	      "untouched: an mprotect splits a VMA in three, and undoing it merges them");
	f = fence();
	p = map_at(f + PAGE, 3, RW);
	touch(p, 3);
	CHECK(p && mprotect(p + PAGE, PAGE, PROT_READ) == 0 && vmas_in(f, f + 32 * PAGE) == 5 &&
		      mprotect(p + PAGE, PAGE, RW) == 0 && vmas_in(f, f + 32 * PAGE) == 3,
	      "touched: the three pieces share the anon_vma and merge back");

	/* The piece with an anon_vma does not join neighbours without one. */
	f = fence();
	p = map_at(f + PAGE, 3, RW);
	CHECK(p && mlock(p + PAGE, PAGE) == 0 && vmas_in(f, f + 32 * PAGE) == 5 && munlock(p + PAGE, PAGE) == 0 &&
		      vmas_in(f, f + 32 * PAGE) == 5,
	      "mlock populates the middle third; after munlock it stays apart from its untouched neighbours (%d)",
	      vmas_in(f, f + 32 * PAGE));

	/* A piece without one joins a neighbour that has one. */
	f = fence();
	p = map_at(f + PAGE, 3, RW);
	CHECK(p && mprotect(p, PAGE, PROT_READ) == 0 && (touch(p + PAGE, 2), 1) && mprotect(p, PAGE, RW) == 0 &&
		      vmas_in(f, f + 32 * PAGE) == 3,
	      "an untouched piece made writable again joins its touched neighbour (%d)", vmas_in(f, f + 32 * PAGE));

	/* A new mapping next to a touched VMA extends it. */
	f = fence();
	p = map_at(f + PAGE, 2, RW);
	touch(p, 2);
	CHECK(p && map_at(p + 2 * PAGE, 2, RW) && vmas_in(f, f + 32 * PAGE) == 3,
	      "a new mapping right after a touched VMA merges with it");

	/* Not after a fork, in the child; in the parent still. */
	f = fence();
	p = map_at(f + PAGE, 2, RW);
	touch(p, 2);
	pid_t c = fork();
	if (c == 0)
		_exit(child_maps_after(f, p));
	int st = 0;
	CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "in a child, a new mapping right after a VMA touched before the fork stays apart (status %#x)", st);
	CHECK(map_at(p + 2 * PAGE, 2, RW) && vmas_in(f, f + 32 * PAGE) == 3, "in the parent, it merges (%d)",
	      vmas_in(f, f + 32 * PAGE));

	/* The same holds for the break in a child. */
	int heaps = heap_vmas();
	c = fork();
	if (c == 0) {
		char *b = brk_to(0);
		_exit(brk_to(b + PAGE) == b + PAGE && heap_vmas() == heaps + 1 ? 0 : 1);
	}
	CHECK(heaps == 1 && c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "in a child, the break grows into a second [heap] VMA (status %#x)", st);

	/* Moved pieces merge again only with their own anon_vma. */
	f = fence();
	p = map_at(f + PAGE, 4, RW);
	touch(p, 4);
	char *away = mremap(p + 2 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, f + 20 * PAGE);
	CHECK(away == f + 20 * PAGE && vmas_in(f, f + 32 * PAGE) == 5 &&
		      mremap(away, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + 2 * PAGE) == p + 2 * PAGE &&
		      vmas_in(f, f + 32 * PAGE) == 4,
	      "half of a touched VMA moved away and back merges with the other half (%d)", vmas_in(f, f + 32 * PAGE));
	char *other = mmap(NULL, 2 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	touch(other, 2);
	CHECK(munmap(p + 2 * PAGE, 2 * PAGE) == 0 &&
		      mremap(other, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + 2 * PAGE) == p + 2 * PAGE &&
		      vmas_in(f, f + 32 * PAGE) == 5,
	      "a VMA touched elsewhere, moved next to it, stays apart (%d)", vmas_in(f, f + 32 * PAGE));

	/* Neighbours that get their anon_vmas apart keep them apart. */
	f = fence();
	p = map_at(f + PAGE, 2, RW);
	CHECK(p && mlock(p, 2 * PAGE) == 0 && map_at(p + 2 * PAGE, 2, RW) && (touch(p + 2 * PAGE, 2), 1) &&
		      vmas_in(f, f + 32 * PAGE) == 4 && munlock(p, 2 * PAGE) == 0 && vmas_in(f, f + 32 * PAGE) == 4,
	      "a locked VMA and its touched neighbour stay apart after munlock (%d)", vmas_in(f, f + 32 * PAGE));

	/* An anon_vma is reused from a neighbour that differs only in protection. */
	f = fence();
	p = map_at(f + PAGE, 2, RW);
	CHECK(p && mprotect(p + PAGE, PAGE, RW | PROT_EXEC) == 0 && (touch(p, 2), 1) && mprotect(p + PAGE, PAGE, RW) == 0 &&
		      vmas_in(f, f + 32 * PAGE) == 3,
	      "pieces touched apart share the first one's anon_vma, and merge (%d)", vmas_in(f, f + 32 * PAGE));

	/* Growing in place up to an untouched neighbour: joined only by an untouched VMA. */
	for (int touched = 0; touched < 2; touched++) {
		f = fence();
		p = map_at(f + PAGE, 4, RW);
		if (touched)
			touch(p, 4);
		char *q = map_at(p + 6 * PAGE, 2, RW);
		CHECK(p && q && munmap(p + 4 * PAGE, 2 * PAGE) == 0 && mremap(p, 4 * PAGE, 6 * PAGE, 0) == p && vmas_in(f, f + 32 * PAGE) == 4 - !touched,
		      "mremap grows a%s VMA up to an untouched one: %s (%d)", touched ? " touched" : "n untouched",
		      touched ? "they stay apart" : "they merge", vmas_in(f, f + 32 * PAGE));
	}
	return tap_done("anon_vma");
}
