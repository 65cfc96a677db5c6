/* rlimits: the limits enforced by signals, as Linux 6.1 does. RLIMIT_CPU: SIGXCPU at the soft
 * limit, which then moves on a second, and SIGKILL at the hard limit. RLIMIT_FSIZE: a write is
 * cut at the limit, and one that starts there, or a truncation or allocation past it, fails
 * with EFBIG and raises SIGXFSZ; other files than regular ones have no size to limit. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* What a child's handlers saw, in memory the parent shares. */
struct seen {
	volatile int xcpu, xfsz;
	volatile long soft_in_handler;
};
static struct seen *seen;

static void on_xcpu(int sig)
{
	(void)sig;
	struct rlimit r;
	getrlimit(RLIMIT_CPU, &r);
	seen->soft_in_handler = (long)r.rlim_cur;
	seen->xcpu++;
}

static void on_xfsz(int sig)
{
	(void)sig;
	seen->xfsz++;
}

static void spin(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}

/* Runs `body` in a child; its wait status. */
static int in_child(void (*body)(void))
{
	pid_t c = fork();
	if (c == 0) {
		body();
		_exit(0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

static void cpu_soft_then_hard(void)
{
	signal(SIGXCPU, on_xcpu);
	struct rlimit r = { 1, 2 };
	if (setrlimit(RLIMIT_CPU, &r))
		_exit(1);
	alarm(30);
	spin();
}

static void cpu_default_action(void)
{
	struct rlimit r = { 1, RLIM_INFINITY };
	if (setrlimit(RLIMIT_CPU, &r))
		_exit(1);
	alarm(30);
	spin();
}

/* The limit passes to a fork's child, whose own CPU time starts at nothing. */
static void cpu_inherited(void)
{
	struct rlimit r = { 100, 200 };
	if (setrlimit(RLIMIT_CPU, &r))
		_exit(1);
	pid_t c = fork();
	if (c == 0) {
		struct rlimit g;
		getrlimit(RLIMIT_CPU, &g);
		_exit(g.rlim_cur == 100 && g.rlim_max == 200 ? 0 : 2);
	}
	int st = 0;
	waitpid(c, &st, 0);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
}

static const char *path = "/tmp/rlimits-file";

/* Exit status: the first step that went otherwise than Linux's, or 0. */
static void fsize_limits(void)
{
	signal(SIGXFSZ, on_xfsz);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct rlimit r = { 10, RLIM_INFINITY };
	if (fd < 0 || setrlimit(RLIMIT_FSIZE, &r))
		_exit(1);
	if (write(fd, "0123456789abcdef", 16) != 10 || seen->xfsz != 0)
		_exit(2);
	if (write(fd, "x", 1) != -1 || errno != EFBIG || seen->xfsz != 1)
		_exit(3);
	if (write(fd, "x", 0) != 0 || seen->xfsz != 1)
		_exit(4);
	if (pwrite(fd, "abcd", 4, 8) != 2)
		_exit(5);
	if (ftruncate(fd, 11) != -1 || errno != EFBIG || seen->xfsz != 2)
		_exit(6);
	if (ftruncate(fd, 4) || ftruncate(fd, 10))
		_exit(7);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 8, 4) != -1 || errno != EFBIG || seen->xfsz != 3)
		_exit(8);
	int p[2];
	if (pipe(p) || write(p[1], "0123456789abcdef", 16) != 16 || seen->xfsz != 3)
		_exit(9);
	struct stat st;
	if (fstat(fd, &st) || st.st_size != 10)
		_exit(10);
	_exit(0);
}

static void fsize_default_action(void)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct rlimit r = { 4, RLIM_INFINITY };
	if (fd < 0 || setrlimit(RLIMIT_FSIZE, &r))
		_exit(1);
	if (write(fd, "0123", 4) != 4)
		_exit(2);
	(void)!write(fd, "4", 1);
	_exit(3);
}

int main(void)
{
	seen = mmap(NULL, sizeof *seen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seen == MAP_FAILED)
		return 1;

	int st = in_child(cpu_soft_then_hard);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "RLIMIT_CPU {1, 2}: killed by SIGKILL at the hard limit (status %#x)", st);
	CHECK(seen->xcpu == 1, "after one SIGXCPU at the soft limit (%d)", seen->xcpu);
	CHECK(seen->soft_in_handler == 2, "which moved the soft limit on a second (%ld)", seen->soft_in_handler);

	st = in_child(cpu_default_action);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU, "RLIMIT_CPU {1, unlimited}: SIGXCPU's default action ends the process (status %#x)", st);
	CHECK(!WCOREDUMP(st), "without a core file: RLIMIT_CORE is 0");

	st = in_child(cpu_inherited);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork's child inherits RLIMIT_CPU, and runs below it (status %#x)", st);

	seen->xfsz = 0;
	st = in_child(fsize_limits);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "RLIMIT_FSIZE 10: a write cut at the limit, EFBIG and SIGXFSZ from there, for truncation and allocation too; pipes unlimited (status %#x)", st);
	CHECK(seen->xfsz == 3, "one SIGXFSZ per refused call (%d)", seen->xfsz);

	st = in_child(fsize_default_action);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "SIGXFSZ's default action ends the process (status %#x)", st);
	unlink(path);
	return tap_done("rlimits");
}
