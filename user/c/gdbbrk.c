/* gdbbrk: the program the GDB test (tests/gdb.rs) debugs. It grows the break by an unaligned
 * amount with a raw brk syscall that carries a marker in x1 (brk ignores its second register), so
 * the debugger can tell this call from glibc's own brk calls, touches the new heap, and makes a
 * second marked brk call (to the same break, which changes nothing) where the debugger inspects the
 * touched heap. Just before that second call it reads /proc/self/maps (raw syscalls, a static
 * buffer: nothing that could move the break) and prints it at the end, so the test can compare the
 * debugger's view with the kernel's. The markers, the growth and the fill byte are repeated in
 * tests/gdb.rs. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define GDBBRK_GROW 0x21123UL
#define GDBBRK_MARK1 0x67646262726b31UL /* "gdbbrk1" */
#define GDBBRK_MARK2 0x67646262726b32UL /* "gdbbrk2" */
#define GDBBRK_FILL 0x5a

static unsigned long marked_brk(unsigned long addr, unsigned long mark)
{
	register unsigned long x0 __asm__("x0") = addr;
	register unsigned long x1 __asm__("x1") = mark;
	register unsigned long x8 __asm__("x8") = SYS_brk;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x8) : "memory");
	return x0;
}

int main(void)
{
	unsigned long cur = (unsigned long)sbrk(0);
	unsigned long want = cur + GDBBRK_GROW;
	unsigned long got = marked_brk(want, GDBBRK_MARK1);
	if (got != want) {
		printf("gdbbrk: brk(%#lx) returned %#lx\n", want, got);
		return 1;
	}
	/* Touch the first and the last byte of the new heap: two demand faults. */
	memset((void *)cur, GDBBRK_FILL, 1);
	memset((void *)(want - 1), GDBBRK_FILL, 1);
	static char maps[16384];
	long n = 0;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
	if (fd >= 0) {
		long r;
		while (n < (long)sizeof(maps) && (r = syscall(SYS_read, fd, maps + n, sizeof(maps) - n)) > 0)
			n += r;
		syscall(SYS_close, fd);
	}
	marked_brk(want, GDBBRK_MARK2);
	/* Tell glibc where the break is before printf's malloc moves it. */
	if (brk((void *)want) != 0) {
		printf("gdbbrk: brk resync failed\n");
		return 1;
	}
	printf("gdbbrk: break %#lx -> %#lx\n", cur, got);
	printf("gdbbrk: maps begin\n%.*sgdbbrk: maps end\n", (int)n, maps);
	return 0;
}
