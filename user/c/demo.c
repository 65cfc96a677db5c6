/* demo: the program break as the heap's tidemark. The heap rises with brk and its pages arrive on
 * first touch (one minor fault each); after mlockall(MCL_CURRENT | MCL_FUTURE) a growth arrives all
 * at once, locked, without a single fault; a shrink gives everything back. /proc/self shows each
 * step. This is what ./scripts/run shows when it is given no program. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include "selfinfo.h"

#define MiB (1UL << 20)
#define PAGE 4096UL



static void show(const char *step)
{
	static char maps[8192];
	printf("\n== %s\n", step);
	printf("   break %p   VmRSS %5ld kB   VmLck %5ld kB   minor faults %ld\n", (void *)brk_to(0),
	       status_kb("VmRSS:"), status_kb("VmLck:"), minflt());
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, maps, sizeof maps - 1);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		maps[n] = 0;
		for (char *line = strtok(maps, "\n"); line; line = strtok(NULL, "\n"))
			if (strstr(line, "[heap]"))
				printf("   %s\n", line);
	}
	fflush(stdout);
}

static void touch(char *from, char *to)
{
	for (char *p = from; p < to; p += PAGE)
		*(volatile char *)p = 1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *base = brk_to(0);
	show("start: the break sits just above the program's data");

	char *top = brk_to(base + 4 * MiB);
	show("brk(+4 MiB): the tide rises, but no page is there yet");

	long before = minflt();
	touch(base, top);
	printf("   touching 4 MiB took %ld minor faults (one per page)\n", minflt() - before);
	show("after touching every page: they arrived on first touch");

	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
		printf("mlockall: %s\n", strerror(errno));
		return 1;
	}
	show("mlockall(MCL_CURRENT | MCL_FUTURE): the heap is locked");

	before = minflt();
	char *locked_top = brk_to(top + 8 * MiB);
	long grow_faults = minflt() - before;
	show("brk(+8 MiB) under MCL_FUTURE: every page arrives at once");
	before = minflt();
	touch(top, locked_top);
	printf("   growth took %ld faults; touching the 8 MiB then took %ld more\n", grow_faults,
	       minflt() - before);

	brk_to(base + 1 * MiB);
	show("brk(base + 1 MiB): the tide recedes; pages and locks go with it");

	munlockall();
	brk_to(base);
	show("munlockall, brk(base): back where we started");
	return 0;
}
