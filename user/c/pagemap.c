/* pagemap: /proc/self/pagemap, one 64-bit entry per page (Documentation/admin-guide/mm/pagemap.rst):
 * bit 63 present, bits 0-54 the frame number (shown to root, which this program runs as), bit 61
 * an object's page rather than an anonymous one, bit 56 mapped once only. Reads are whole entries
 * from an 8-byte-aligned offset. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096UL
#define PRESENT (1ULL << 63)
#define FILE_PAGE (1ULL << 61)
#define EXCLUSIVE (1ULL << 56)
#define PFN ((1ULL << 55) - 1)

static int pm;

static uint64_t entry(const void *addr)
{
	uint64_t e = 0;
	off_t at = (off_t)((uintptr_t)addr / PAGE * 8);
	return pread(pm, &e, 8, at) == 8 ? e : ~0ULL;
}

static uint64_t flags_of(const void *addr) { return entry(addr) & ~PFN; }

int main(void)
{
	pm = open("/proc/self/pagemap", O_RDONLY);
	CHECK(pm >= 0, "open /proc/self/pagemap");
	char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(entry(p) == 0, "an untouched page: 0 (%#llx)", (unsigned long long)entry(p));
	volatile char c = p[PAGE];
	(void)c;
	CHECK(flags_of(p + PAGE) == PRESENT && (entry(p + PAGE) & PFN) != 0,
	      "a page read: present, with a frame number, neither exclusive nor a file's (%#llx)",
	      (unsigned long long)flags_of(p + PAGE));
	p[2 * PAGE] = 1;
	uint64_t own = entry(p + 2 * PAGE);
	CHECK((own & ~PFN) == (PRESENT | EXCLUSIVE) && (own & PFN) != 0 && (own & PFN) != (entry(p + PAGE) & PFN),
	      "a page written: present and exclusive, its own frame (%#llx)", (unsigned long long)(own & ~PFN));

	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	pid_t child = fork();
	if (child == 0) {
		char x;
		(void)!read(fds[0], &x, 1);
		_exit(0);
	}
	CHECK(flags_of(p + 2 * PAGE) == PRESENT && entry(p + 2 * PAGE) == (own & ~EXCLUSIVE),
	      "while a fork's child shares it: the same frame, no longer exclusive (%#llx)",
	      (unsigned long long)flags_of(p + 2 * PAGE));
	p[2 * PAGE] = 2;
	CHECK(flags_of(p + 2 * PAGE) == (PRESENT | EXCLUSIVE) && entry(p + 2 * PAGE) != own,
	      "written then: a copy of its own, exclusive again");
	(void)!write(fds[1], "x", 1);
	waitpid(child, NULL, 0);

	char *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[0] = 1;
	CHECK(flags_of(s) == (PRESENT | FILE_PAGE | EXCLUSIVE),
	      "shared anonymous memory written: present, shared memory's page, mapped once (%#llx)",
	      (unsigned long long)flags_of(s));

	/* Like LTP's mmap12: MAP_POPULATE of a private writable file mapping writes every page in,
	 * so each is a private copy: present, anonymous, exclusive. */
	int fd = open("/tmp/pagemap-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 16 * PAGE) == 0, "a file of 16 pages");
	char *f = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	uint64_t e[16];
	CHECK(f != MAP_FAILED && pread(pm, e, sizeof e, (off_t)((uintptr_t)f / PAGE * 8)) == sizeof e,
	      "16 entries in one read");
	int copies = 0;
	for (int i = 0; i < 16; i++)
		copies += (e[i] & ~PFN) == (PRESENT | EXCLUSIVE);
	CHECK(copies == 16, "MAP_POPULATE: all 16 pages present, private copies (%d; the first %#llx)", copies,
	      (unsigned long long)(e[0] & ~PFN));
	char *r = mmap(NULL, 16 * PAGE, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	CHECK(flags_of(r) == (PRESENT | FILE_PAGE | EXCLUSIVE),
	      "read-only: the file's own page, mapped here only (the page cache holds no mapping) (%#llx)",
	      (unsigned long long)flags_of(r));

	/* The first 273 MiB of the address space, where the program's code is (from the top, a
	 * randomised layout may leave less than that below the end). */
	size_t many = 70000 * 8;
	uint64_t *big = mmap(NULL, many, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t code = (uintptr_t)&main;
	CHECK(big != MAP_FAILED && code / PAGE < 70000 && pread(pm, big, many, 0) == (ssize_t)many &&
		      (big[code / PAGE] & PRESENT) && big[code / PAGE] == entry((void *)code),
	      "one read of 70,000 entries returns them all");
	uint64_t one;
	CHECK(read(pm, &one, 4) == -1 && errno == EINVAL, "a read of half an entry: EINVAL");
	CHECK(pread(pm, &one, 8, 4) == -1 && errno == EINVAL, "an offset inside an entry: EINVAL");
	CHECK(pread(pm, &one, 8, (off_t)((1ULL << 48) / PAGE * 8)) == 0, "past the address space: end of file");
	CHECK(lseek(pm, 0, SEEK_END) == -1 && errno == EINVAL, "no SEEK_END");
	return tap_done("pagemap");
}
