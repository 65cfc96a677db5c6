/* etxtbsy: a running program's file cannot be written, and a file open for writing cannot be run
 * (ETXTBSY, Linux 6.1's i_writecount: the hold lasts while any address space runs the file, a
 * fork's child included). Run as `etxtbsy` (the checks); it runs copies of itself as
 * `etxtbsy child` (exits 7 at once) and `etxtbsy wait` (exits once a byte arrives on stdin). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int err(long r) { return r == -1 ? errno : 0; }

/* Runs `path child` in a child; its exit status, or 128 + errno when execve failed. */
static int run(const char *path)
{
	pid_t c = fork();
	if (c == 0) {
		char *argv[] = { (char *)path, "child", NULL };
		execve(path, argv, environ);
		_exit(128 + errno);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Copies this program to `to` and leaves it executable. */
static int copy_self(const char *to)
{
	static char buf[1 << 16];
	int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	return close(out);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return 7;
	if (argc > 1 && !strcmp(argv[1], "wait")) {
		char x;
		return read(0, &x, 1) == 1 ? 0 : 1;
	}
	CHECK(err(open("/proc/self/exe", O_WRONLY)) == ETXTBSY, "opening the running program for writing: ETXTBSY");
	CHECK(err(open("/proc/self/exe", O_RDWR)) == ETXTBSY, "for reading and writing too");
	int ro = open("/proc/self/exe", O_RDONLY);
	CHECK(ro >= 0, "for reading: allowed");
	close(ro);
	CHECK(err(truncate("/proc/self/exe", 0)) == ETXTBSY, "truncate: ETXTBSY");

	const char *copy = "/tmp/etxtbsy-copy";
	CHECK(copy_self(copy) == 0 && run(copy) == 7, "a copy, closed, runs");
	int w = open(copy, O_WRONLY);
	CHECK(w >= 0 && run(copy) == 128 + ETXTBSY, "while open for writing it does not (execve: ETXTBSY)");
	close(w);
	CHECK(run(copy) == 7, "closed again, it runs");

	/* A child that runs the copy and waits: the file is busy until it exits. */
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	pid_t c = fork();
	if (c == 0) {
		close(fds[1]);
		dup2(fds[0], 0);
		char *args[] = { (char *)copy, "wait", NULL };
		execve(copy, args, environ);
		_exit(1);
	}
	close(fds[0]);
	usleep(200 * 1000);
	CHECK(err(open(copy, O_WRONLY)) == ETXTBSY, "while another process runs it: ETXTBSY");
	(void)!write(fds[1], "x", 1);
	close(fds[1]);
	int st = 0;
	waitpid(c, &st, 0);
	int fd = open(copy, O_WRONLY);
	CHECK(fd >= 0, "once that process has exited: writable again");
	close(fd);
	unlink(copy);
	return tap_done("etxtbsy");
}
