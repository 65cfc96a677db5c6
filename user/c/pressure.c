/* pressure: programs that run the machine out of memory or into its limits, which the kernel must
 * outlive with Linux's answers and get every frame back from. Run as `pressure MODE`:
 *   forkbomb  each process forks up to 16 children, 3 levels deep, until fork fails
 *   oom       8 processes alive at once, each touching memory until the kernel ends it
 *   vmas      one mapping split into 10,000 VMAs, forked; then split up to max_map_count, forked
 *   pipes     RLIMIT_NOFILE raised to 65536, pipes created until EMFILE
 *   lowmap    root maps page 0; an unprivileged process may not, but may map from
 *             dac_mmap_min_addr (4096) up; hints stay above mmap_min_addr (32768)
 * Each mode reports TAP; the kernel's frame count after exit is checked by the QEMU test. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define PAGE 4096UL

/* Exit statuses of the fork bomb's processes: 0, or this bit set if some fork failed with an errno
 * other than Linux's EAGAIN/ENOMEM. */
enum { BAD_ERRNO = 1, FORKED_SOME = 2, FORK_FAILED = 4 };

/* Forks up to 16 children that do the same `depth - 1` levels down; each touches a few pages so
 * that memory, not only process slots, runs out. Returns the OR of every descendant's status. */
static int bomb(int depth)
{
	int result = 0;
	pid_t kids[16];
	int n = 0;
	char *mem = malloc(16 * PAGE);
	if (mem)
		memset(mem, depth, 16 * PAGE);
	for (int i = 0; i < 16; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(depth > 1 ? bomb(depth - 1) : 0);
		if (pid < 0) {
			result |= FORK_FAILED;
			if (errno != EAGAIN && errno != ENOMEM) {
				tap_out("# fork failed with errno %d\n", errno);
				result |= BAD_ERRNO;
			}
			break;
		}
		kids[n++] = pid;
		result |= FORKED_SOME;
	}
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st))
			result |= WEXITSTATUS(st);
		/* A child killed for want of memory (as Linux's OOM killer would) is not an error. */
	}
	return result & 0x7f;
}

static void forkbomb(void)
{
	for (int round = 0; round < 3; round++) {
		int r = bomb(3);
		CHECK(r & FORKED_SOME, "round %d: the bomb forked", round);
		CHECK(!(r & BAD_ERRNO), "round %d: every failed fork said EAGAIN or ENOMEM", round);
	}
	/* Afterwards the machine works as before. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(42);
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
	      "a fork after the bombs works");
}

static void oom(void)
{
	enum { N = 8 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			/* Touch 1 GiB of reserved address space a page at a time, far beyond the RAM. */
			size_t len = 1UL << 30;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED)
				_exit(3);
			for (size_t off = 0; off < len; off += PAGE)
				p[off] = 1;
			_exit(0);
		}
	}
	int killed = 0, finished = 0, other = 0;
	for (int i = 0; i < N; i++) {
		int st = 0;
		if (kids[i] < 0 || waitpid(kids[i], &st, 0) != kids[i])
			other++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			finished++;
		else
			other++;
	}
	CHECK(killed > 0 && other == 0,
	      "%d processes touched memory until it ran out: %d killed by SIGKILL, %d finished", N,
	      killed, finished);
	/* Memory is back: a fresh child can touch 16 MiB. */
	pid_t pid = fork();
	if (pid == 0) {
		char *p = malloc(16 << 20);
		if (!p)
			_exit(1);
		memset(p, 1, 16 << 20);
		_exit(0);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "after the kills a child touches 16 MiB");
}

/* Splits [p, p + pages pages) into one VMA per page by alternating protections, from page `from`. */
static long split(char *p, long from, long pages)
{
	long i;
	for (i = from; i < pages; i++) {
		if (mprotect(p + i * PAGE, PAGE, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE) != 0)
			break;
	}
	return i;
}

static int fork_and_touch(char *p, long pages)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < pages; i += 2)
			p[i * PAGE] = 2;
		_exit(p[0] == 2 ? 0 : 1);
	}
	if (pid < 0)
		return -errno;
	int st = 0;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static void vmas(void)
{
	long pages = 70000;
	/* More than the RAM of a small machine: reserved, not committed, and touched only in part. */
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(p != MAP_FAILED, "a mapping of %ld pages", pages);
	if (p == MAP_FAILED)
		return;
	for (long i = 0; i < 10000; i += 2)
		p[i * PAGE] = 1;
	CHECK(split(p, 0, 10000) == 10000, "split into 10,000 VMAs");
	for (int i = 0; i < 4; i++)
		CHECK(fork_and_touch(p, 10000) == 0, "fork %d with 10,000 VMAs, the child writes", i);
	errno = 0;
	long done = split(p, 10000, pages);
	CHECK(done < pages && errno == ENOMEM, "splitting stops at max_map_count with ENOMEM (%ld VMAs)",
	      done);
	int r = fork_and_touch(p, 2000);
	CHECK(r == 0 || r == -ENOMEM || r == -EAGAIN, "a fork at max_map_count works or fails cleanly (%d)",
	      r);
	CHECK(munmap(p, pages * PAGE) == 0, "and the whole range unmaps");
}

static void pipes(void)
{
	struct rlimit rl = { 65536, 65536 };
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "RLIMIT_NOFILE raised to 65536");
	long n = 0;
	int fds[2], last_write_end = -1;
	while (pipe(fds) == 0) {
		n++;
		last_write_end = fds[1];
	}
	int e = errno;
	/* Descriptors 0-2 are taken: (65536 - 3) / 2 pipes, then one descriptor is left. */
	CHECK(e == EMFILE && n == (65536 - 3) / 2, "%ld pipes, then EMFILE (errno %d)", n, e);
	CHECK(write(last_write_end, "x", 1) == 1, "the pipes work");
	for (int fd = 3; fd < 65536; fd++)
		close(fd);
	CHECK(pipe(fds) == 0 && fds[0] == 3, "after closing them, a pipe gets descriptor 3");
}

static void lowmap(void)
{
	/* Debian's arm64 kernel: dac_mmap_min_addr (CONFIG_DEFAULT_MMAP_MIN_ADDR, which the sysctl
	 * shows) is 4096; mmap_min_addr, the floor for hints and searches, is the larger
	 * CONFIG_LSM_MMAP_MIN_ADDR, 32768. */
	char text[32] = "";
	int fd = open("/proc/sys/vm/mmap_min_addr", O_RDONLY);
	CHECK(fd >= 0 && read(fd, text, sizeof text - 1) > 0 && strcmp(text, "4096\n") == 0,
	      "/proc/sys/vm/mmap_min_addr is 4096");
	close(fd);
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(p == NULL, "root maps page 0 (%p)", p);
	if (p == NULL) {
		char *volatile zero = p; /* opaque, so that the compiler keeps the store */
		*zero = 1;
		munmap(p, PAGE);
	}
	void *low = (void *)0x1000;
	void *hint = mmap(low, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hint != MAP_FAILED && (unsigned long)hint >= 32768, "a hint below mmap_min_addr is not taken (%p)",
	      hint);
	pid_t pid = fork();
	if (pid == 0) {
		if (setresuid(1000, 1000, 1000) != 0)
			_exit(2);
		errno = 0;
		void *q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (q != MAP_FAILED || errno != EPERM)
			_exit(3);
		q = mmap(low, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		_exit(q == low ? 0 : 4);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "an unprivileged process gets EPERM at page 0, and maps at 4096 (status %#x)", st);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "forkbomb"))
		forkbomb();
	else if (!strcmp(mode, "oom"))
		oom();
	else if (!strcmp(mode, "vmas"))
		vmas();
	else if (!strcmp(mode, "pipes"))
		pipes();
	else if (!strcmp(mode, "lowmap"))
		lowmap();
	else {
		tap_out("usage: pressure forkbomb|oom|vmas|pipes|lowmap\n");
		return 2;
	}
	return tap_done("pressure");
}
