/* File mappings of a file of the in-memory root file system (the initramfs's, on both kernels):
 *
 *   filemap_shared   a fresh 64 MiB file mapped MAP_SHARED, one write per page, munmap; per page:
 *                    the page is made in the file (zeroed) and mapped writable
 *   filemap_private  the same file, its pages already in the page cache, mapped MAP_PRIVATE, one
 *                    write per page, munmap; per page: the page is copied out of the page cache
 */
#include "bench.h"

#define NR_ftruncate 46
#define NR_unlinkat 35
#define AT_FDCWD (-100)
#define O_RDWR_CREAT_TRUNC 01102 /* O_RDWR | O_CREAT | O_TRUNC */
#define PROT_RW 3
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02

static const char PATH[] = "/tidemark-bench-filemap";

static long check(long r, const char *what)
{
	if (r < 0 && r > -4096)
		die("%s failed: errno %ld", what, -r);
	return r;
}

static long create(uintptr_t len)
{
	long fd = check(raw_syscall6(NR_openat, AT_FDCWD, (long)PATH, O_RDWR_CREAT_TRUNC, 0600, 0, 0),
			"openat(/tidemark-bench-filemap)");
	check(raw_syscall6(NR_ftruncate, fd, (long)len, 0, 0, 0, 0), "ftruncate");
	return fd;
}

static void destroy(long fd)
{
	raw_syscall6(NR_close, fd, 0, 0, 0, 0, 0);
	check(raw_syscall6(NR_unlinkat, AT_FDCWD, (long)PATH, 0, 0, 0, 0), "unlink");
}

static uintptr_t map_file(long fd, uintptr_t len, long flags)
{
	return (uintptr_t)check(raw_syscall6(NR_mmap, 0, (long)len, PROT_RW, flags, fd, 0), "mmap of the file");
}

void bench_filemap_shared(const struct bench_cfg *cfg)
{
	const uintptr_t len = cfg->quick ? 4 * MiB : 64 * MiB;
	struct series s;
	series_init(&s, "filemap_shared", "page", len / PAGE_SIZE);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		long fd = create(len);
		uint64_t t0 = read_cntvct();
		uintptr_t p = map_file(fd, len, MAP_SHARED);
		touch_pages(p, len);
		unmap(p, len);
		uint64_t t1 = read_cntvct();
		destroy(fd);
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	series_report(&s, cfg, NULL);
}

void bench_filemap_private(const struct bench_cfg *cfg)
{
	const uintptr_t len = cfg->quick ? 4 * MiB : 64 * MiB;
	struct series s;
	series_init(&s, "filemap_private", "page", len / PAGE_SIZE);
	long fd = create(len);
	uintptr_t fill = map_file(fd, len, MAP_SHARED);
	touch_pages(fill, len);
	unmap(fill, len);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		uintptr_t p = map_file(fd, len, MAP_PRIVATE);
		touch_pages(p, len);
		unmap(p, len);
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	destroy(fd);
	series_report(&s, cfg, NULL);
}
