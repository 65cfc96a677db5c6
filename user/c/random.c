/* random: what a program sees of the kernel's random numbers. Prints one line with the values that
 * must differ from boot to boot (the break, an mmap address, the stack, AT_RANDOM, getrandom's
 * bytes), which the QEMU test compares across boots and -seed values, then checks getrandom(2)'s
 * contract as Linux keeps it: the flags, EINVAL on unknown or contradictory ones, EFAULT on a bad
 * buffer, a short count when the buffer ends in an unmapped page. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>

#define PAGE 4096UL

static long raw_getrandom(void *buf, size_t len, unsigned flags)
{
	return syscall(SYS_getrandom, buf, len, flags);
}

static void hex(char *out, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const unsigned char *at_random = (const unsigned char *)getauxval(AT_RANDOM);
	unsigned char g[16];
	char at_hex[33] = "", g_hex[33] = "";
	long got = raw_getrandom(g, sizeof g, 0);
	if (at_random)
		hex(at_hex, at_random, 16);
	hex(g_hex, g, sizeof g);
	void *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int local;
	/* The break as the kernel placed it, before malloc moved it. */
	unsigned long brk0 = (unsigned long)syscall(SYS_brk, 0);
	tap_out("layout: brk=%#lx mmap=%p stack=%#lx at_random=%s getrandom=%s\n", brk0, m,
		(unsigned long)&local & ~(PAGE - 1), at_hex, g_hex);

	CHECK(at_random != NULL, "AT_RANDOM is in the auxiliary vector");
	CHECK(got == 16, "getrandom(16) returns 16");
	unsigned char a[64] = { 0 }, b[64] = { 0 };
	CHECK(raw_getrandom(a, sizeof a, 0) == 64 && raw_getrandom(b, sizeof b, 0) == 64 &&
		      memcmp(a, b, sizeof a) != 0,
	      "two draws differ");
	CHECK(raw_getrandom(a, 8, GRND_NONBLOCK) == 8, "GRND_NONBLOCK: the generator is ready");
	CHECK(raw_getrandom(a, 8, GRND_RANDOM) == 8, "GRND_RANDOM");
	CHECK(raw_getrandom(a, 8, GRND_INSECURE) == 8, "GRND_INSECURE");
	CHECK(raw_getrandom(a, 8, GRND_RANDOM | GRND_NONBLOCK) == 8, "GRND_RANDOM|GRND_NONBLOCK");
	errno = 0;
	CHECK(raw_getrandom(a, 8, 8) == -1 && errno == EINVAL, "an unknown flag: EINVAL");
	errno = 0;
	CHECK(raw_getrandom(a, 8, 0x80000000u) == -1 && errno == EINVAL, "the top flag bit: EINVAL");
	errno = 0;
	CHECK(raw_getrandom(a, 8, GRND_RANDOM | GRND_INSECURE) == -1 && errno == EINVAL,
	      "GRND_RANDOM|GRND_INSECURE: EINVAL");
	errno = 0;
	CHECK(raw_getrandom(NULL, 16, 0) == -1 && errno == EFAULT, "a NULL buffer: EFAULT");
	errno = 0;
	CHECK(raw_getrandom((void *)0xffff000040080000UL, 16, 0) == -1 && errno == EFAULT,
	      "a kernel address: EFAULT");
	CHECK(raw_getrandom(NULL, 0, 0) == 0, "zero bytes into NULL: 0");

	char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(two != MAP_FAILED && mprotect(two + PAGE, PAGE, PROT_NONE) == 0, "a page, then a hole");
	/* Linux returns the bytes its copy routine managed before the fault: some, at most the 100
	 * that fit (88 on Debian's 6.1, which copies in aligned blocks); tidemark returns all 100. */
	long part = raw_getrandom(two + PAGE - 100, 300, 0);
	CHECK(part > 0 && part <= 100, "a buffer running into the hole: a short count (%ld)", part);
	CHECK(raw_getrandom(two + PAGE, 16, 0) == -1 && errno == EFAULT, "a buffer in the hole: EFAULT");

	/* A large request into a fresh mapping: every page is written, and not with zeros. */
	size_t big = 1 << 20;
	unsigned char *r = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long n = raw_getrandom(r, big, 0);
	int zero_pages = 0;
	for (size_t off = 0; off < big; off += PAGE) {
		int nz = 0;
		for (size_t i = 0; i < PAGE; i++)
			nz |= r[off + i];
		zero_pages += !nz;
	}
	CHECK(n == (long)big && zero_pages == 0, "1 MiB in one call, no page left zero (%ld bytes)", n);

	/* Byte frequencies of that MiB: a broken generator (a constant, a short cycle) fails this. */
	unsigned long count[256] = { 0 };
	for (size_t i = 0; i < big; i++)
		count[r[i]]++;
	unsigned long lo = ~0UL, hi = 0;
	for (int i = 0; i < 256; i++) {
		lo = count[i] < lo ? count[i] : lo;
		hi = count[i] > hi ? count[i] : hi;
	}
	/* Expected 4096 each; the binomial spread is about 64, so 3600..4600 is over 7 sigma. */
	CHECK(lo > 3600 && hi < 4600, "byte values are even over 1 MiB (%lu..%lu, expected ~4096)", lo,
	      hi);
	return tap_done("random");
}
