/* mm: the memory manager under a real allocator and hostile arguments. glibc malloc's brk path,
 * mmap path and malloc_trim; a heap grown to 256 MiB, touched and released; every mm syscall fed
 * zero, ~0, 2^48, unaligned and kernel addresses and huge lengths gets Linux's answer; /proc/self
 * stat and status agree with what the program did. */
#define _GNU_SOURCE
#include "tap.h"
#include "selfinfo.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define MiB (1UL << 20)
#define PAGE 4096UL
#define KERNEL_ADDR 0xffff000040080000UL

static long raw(long nr, long a, long b, long c, long d, long e, long f)
{
	return syscall(nr, a, b, c, d, e, f);
}

/* -errno of a raw syscall, or 0 on success. */
static long err(long r) { return r == -1 ? -errno : 0; }


int main(void)
{
	/* glibc malloc: brk path (small), mmap path (large), trim. */
	enum { N = 2000 };
	static void *small[N];
	char *brk0 = sbrk(0);
	for (int i = 0; i < N; i++) {
		small[i] = malloc(64 + (i % 200) * 8);
		memset(small[i], i, 64);
	}
	char *brk1 = sbrk(0);
	CHECK(brk1 > brk0, "small mallocs grow the break (%p -> %p)", brk0, brk1);
	void *big = malloc(8 * MiB);
	CHECK(big && ((uintptr_t)big < (uintptr_t)brk0 || (uintptr_t)big > (uintptr_t)brk1 + MiB),
	      "an 8 MiB malloc is an mmap outside the heap (%p)", big);
	memset(big, 1, 8 * MiB);
	free(big);
	int intact = 1;
	for (int i = 0; i < N; i++) {
		intact &= ((unsigned char *)small[i])[63] == (unsigned char)i;
		free(small[i]);
	}
	CHECK(intact, "2000 small blocks kept their contents");
	malloc_trim(0);
	CHECK((char *)sbrk(0) < brk1, "malloc_trim shrinks the break (%p -> %p)", brk1, sbrk(0));

	/* A 256 MiB heap, touched and released. */
	long rss0 = status_kb("VmRSS:");
	char *base = sbrk(0);
	CHECK(sbrk(256 * MiB) == base, "sbrk(+256 MiB)");
	for (char *p = base; p < base + 256 * MiB; p += PAGE)
		*p = 1;
	long rss1 = status_kb("VmRSS:");
	CHECK(rss1 - rss0 >= 256 * 1024 - RSS_SLACK_KB, "VmRSS grows by 256 MiB when touched (%ld -> %ld kB)",
	      rss0, rss1);
	CHECK(sbrk(-(long)(256 * MiB)) != (void *)-1, "sbrk(-256 MiB)");
	long rss2 = status_kb("VmRSS:");
	/* Within 1 MiB: on Linux, besides the batched RSS counting, transparent huge pages around the
	 * heap's unaligned ends leave a few hundred kB that depend on where the heap landed. */
	CHECK(rss2 <= rss0 + 1024, "VmRSS falls back after the shrink (%ld -> %ld kB)", rss0, rss2);

	/* Hostile arguments. */
	long cur = raw(SYS_brk, 0, 0, 0, 0, 0, 0);
	CHECK(raw(SYS_brk, -1L, 0, 0, 0, 0, 0) == cur, "brk(~0) returns the old break");
	CHECK(raw(SYS_brk, 1L << 48, 0, 0, 0, 0, 0) == cur, "brk(2^48) returns the old break");
	CHECK(raw(SYS_brk, KERNEL_ADDR, 0, 0, 0, 0, 0) == cur, "brk(kernel address) returns the old break");
	int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	CHECK(err(raw(SYS_mmap, 0, 0, PROT_READ, anon, -1, 0)) == -EINVAL, "mmap length 0: EINVAL");
	CHECK(err(raw(SYS_mmap, 0, -1L, PROT_READ, anon, -1, 0)) == -ENOMEM, "mmap length ~0: ENOMEM");
	CHECK(err(raw(SYS_mmap, 0, 1L << 48, PROT_READ, anon, -1, 0)) == -ENOMEM, "mmap length 2^48: ENOMEM");
	CHECK(err(raw(SYS_mmap, 0x10001, PAGE, PROT_READ, anon | MAP_FIXED, -1, 0)) == -EINVAL,
	      "mmap MAP_FIXED unaligned: EINVAL");
	CHECK(err(raw(SYS_mmap, KERNEL_ADDR, PAGE, PROT_READ, anon | MAP_FIXED, -1, 0)) == -ENOMEM,
	      "mmap MAP_FIXED at a kernel address: ENOMEM");
	CHECK(err(raw(SYS_mmap, 0, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0)) == -EINVAL,
	      "mmap without MAP_PRIVATE or MAP_SHARED: EINVAL");
	long p = raw(SYS_mmap, KERNEL_ADDR, PAGE, PROT_READ | PROT_WRITE, anon, -1, 0);
	CHECK(p > 0 && (unsigned long)p < (1UL << 48), "a kernel-address hint is ignored (%#lx)", p);
	CHECK(err(raw(SYS_munmap, p + 1, PAGE, 0, 0, 0, 0)) == -EINVAL, "munmap unaligned: EINVAL");
	CHECK(err(raw(SYS_munmap, p, 0, 0, 0, 0, 0)) == -EINVAL, "munmap length 0: EINVAL");
	CHECK(err(raw(SYS_munmap, KERNEL_ADDR, PAGE, 0, 0, 0, 0)) == -EINVAL, "munmap kernel address: EINVAL");
	CHECK(err(raw(SYS_munmap, p, -1L, 0, 0, 0, 0)) == -EINVAL, "munmap length ~0: EINVAL");
	CHECK(err(raw(SYS_mprotect, p + 1, PAGE, PROT_READ, 0, 0, 0)) == -EINVAL, "mprotect unaligned: EINVAL");
	CHECK(err(raw(SYS_mprotect, p, PAGE, 0x100, 0, 0, 0)) == -EINVAL, "mprotect unknown bits: EINVAL");
	CHECK(err(raw(SYS_mprotect, KERNEL_ADDR, PAGE, PROT_READ, 0, 0, 0)) == -ENOMEM,
	      "mprotect kernel address: ENOMEM");
	CHECK(err(raw(SYS_mprotect, p, -1L & ~4095L, PROT_READ, 0, 0, 0)) == -ENOMEM,
	      "mprotect huge length: ENOMEM");
	CHECK(err(raw(SYS_munmap, p, PAGE, 0, 0, 0, 0)) == 0, "munmap of the page");
	CHECK(err(raw(SYS_mprotect, p, PAGE, PROT_READ, 0, 0, 0)) == -ENOMEM, "mprotect of unmapped memory: ENOMEM");
	CHECK(err(raw(SYS_write, 1, KERNEL_ADDR, 8, 0, 0, 0)) == -EFAULT, "write from a kernel address: EFAULT");
	CHECK(err(raw(SYS_read, 0, KERNEL_ADDR, 8, 0, 0, 0)) == -EFAULT || raw(SYS_read, 0, KERNEL_ADDR, 8, 0, 0, 0) == 0,
	      "read into a kernel address: EFAULT (or EOF first)");

	/* mremap: glibc's realloc of a large block, and the raw call. */
	unsigned char *blk = malloc(1 * MiB);
	for (unsigned long i = 0; i < MiB; i += PAGE)
		blk[i] = (unsigned char)(i / PAGE);
	unsigned char *grown = realloc(blk, 32 * MiB);
	int same = grown != NULL;
	for (unsigned long i = 0; same && i < MiB; i += PAGE)
		same = grown[i] == (unsigned char)(i / PAGE);
	CHECK(same, "realloc of an mmap'd block to 32 MiB (mremap) keeps its contents");
	free(grown);
	char *m = (char *)raw(SYS_mmap, 0, 4 * PAGE, PROT_READ | PROT_WRITE, anon, -1, 0);
	m[0] = 'm';
	m[3 * PAGE] = 'n';
	char *moved = (char *)raw(SYS_mremap, (long)m, 4 * PAGE, 64 * PAGE, MREMAP_MAYMOVE, 0, 0);
	CHECK(moved != MAP_FAILED && moved[0] == 'm' && moved[3 * PAGE] == 'n' && moved[63 * PAGE] == 0,
	      "mremap MAYMOVE grows with the contents");
	CHECK(err(raw(SYS_mremap, (long)moved + 1, PAGE, 2 * PAGE, 0, 0, 0)) == -EINVAL, "mremap unaligned: EINVAL");
	CHECK(err(raw(SYS_mremap, (long)moved, 64 * PAGE, 128 * PAGE, 0x80, 0, 0)) == -EINVAL,
	      "mremap unknown flag: EINVAL");
	CHECK(raw(SYS_mremap, (long)moved, 64 * PAGE, 2 * PAGE, 0, 0, 0) == (long)moved, "mremap shrinks in place");

	/* madvise(MADV_DONTNEED) drops pages: they read zero afterwards. mincore sees it. */
	moved[PAGE] = 'x';
	unsigned char vec[2] = { 0, 0 };
	CHECK(mincore(moved, 2 * PAGE, vec) == 0 && (vec[0] & 1) && (vec[1] & 1), "mincore: both pages resident");
	CHECK(madvise(moved, 2 * PAGE, MADV_DONTNEED) == 0 && moved[PAGE] == 0 && moved[0] == 0,
	      "MADV_DONTNEED: the pages read zero again");
	CHECK(err(raw(SYS_madvise, (long)moved + 1, PAGE, MADV_DONTNEED, 0, 0, 0)) == -EINVAL, "madvise unaligned: EINVAL");
	CHECK(err(raw(SYS_mincore, (long)moved + 1, PAGE, (long)vec, 0, 0, 0)) == -EINVAL, "mincore unaligned: EINVAL");
	munmap(moved, 2 * PAGE);
	CHECK(err(raw(SYS_mincore, (long)moved, PAGE, (long)vec, 0, 0, 0)) == -ENOMEM, "mincore of unmapped memory: ENOMEM");

	/* /proc/self/stat agrees. */
	static char stat[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, stat, sizeof stat - 1);
	if (fd >= 0)
		close(fd);
	CHECK(n > 0, "/proc/self/stat is readable");
	stat[n > 0 ? n : 0] = 0;
	char *f = strrchr(stat, ')');
	long field[64] = { 0 };
	for (int i = 3; f && i < 53; i++) {
		f = strchr(f + 1, ' ');
		if (f)
			field[i] = strtol(f + 1, NULL, 10);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	CHECK(field[10] > 0 && field[10] <= ru.ru_minflt, "stat minflt %ld (getrusage %ld)", field[10], ru.ru_minflt);
	CHECK(field[23] / 1024 == status_kb("VmSize:"), "stat vsize %ld kB = VmSize", field[23] / 1024);
	CHECK((char *)field[47] <= (char *)sbrk(0), "stat start_brk %#lx below the break", field[47]);
	return tap_done("mm");
}
