/* sleepers: a process that waits must not hold the CPU. A child waiting in ppoll (with a timeout,
 * on a pipe, or for a signal) or in nanosleep lets its parent run meanwhile; ppoll returns early
 * when its pipe gets data, times out with 0 otherwise, stores the time left, and is interrupted
 * by a signal with EINTR. The same program passes on Linux. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void on_usr1(int sig)
{
	(void)sig;
}

enum { PPOLL_TIMEOUT, PPOLL_PIPE_TIMEOUT, NANOSLEEP, PPOLL_SIGNAL };

/* The child's part: tell the parent it is about to wait (one byte on `sync`), then wait as `how`
 * says for 500 ms. Exit status 0 when the wait ended as expected. */
static int child(int how, int sync, int data)
{
	struct timespec half = { 0, 500 * 1000 * 1000 };
	signal(SIGUSR1, on_usr1);
	(void)!write(sync, "s", 1);
	switch (how) {
	case PPOLL_TIMEOUT:
		return ppoll(NULL, 0, &half, NULL) == 0 ? 0 : 1;
	case PPOLL_PIPE_TIMEOUT: {
		struct pollfd p = { data, POLLIN, 0 };
		return ppoll(&p, 1, &half, NULL) == 0 && p.revents == 0 ? 0 : 1;
	}
	case NANOSLEEP:
		return nanosleep(&half, NULL) == 0 ? 0 : 1;
	default:
		errno = 0;
		return ppoll(NULL, 0, NULL, NULL) == -1 && errno == EINTR ? 0 : 1;
	}
}

/* Runs a child that waits as `how` says; returns whether the parent ran while the child waited
 * (the child had not ended when the parent got the CPU back), and the child's status. */
static int parent_runs_meanwhile(int how, int *status)
{
	int sync[2], data[2];
	if (pipe(sync) || pipe(data))
		return 0;
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(how, sync[1], data[0]));
	char c;
	(void)!read(sync[0], &c, 1);
	/* The child is in its wait (or about to enter it): it holds no CPU the parent wants. */
	int ran = waitpid(pid, status, WNOHANG) == 0;
	if (how == PPOLL_SIGNAL) {
		struct timespec ms = { 0, 20 * 1000 * 1000 };
		nanosleep(&ms, NULL);
		kill(pid, SIGUSR1);
	}
	waitpid(pid, status, 0);
	close(sync[0]);
	close(sync[1]);
	close(data[0]);
	close(data[1]);
	return ran;
}

int main(void)
{
	static const char *names[] = { "ppoll with a timeout", "ppoll on a pipe with a timeout",
				       "nanosleep", "ppoll waiting for a signal" };
	for (int how = 0; how < 4; how++) {
		int st = -1;
		int ran = parent_runs_meanwhile(how, &st);
		CHECK(ran, "%s: the parent runs while the child waits", names[how]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the wait ends as it should (status %#x)",
		      names[how], st);
	}

	/* ppoll on a pipe returns as soon as data arrives, with the time left stored. */
	int p[2];
	CHECK(pipe(p) == 0, "a pipe");
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec ms = { 0, 50 * 1000 * 1000 };
		nanosleep(&ms, NULL);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	struct pollfd fd = { p[0], POLLIN, 0 };
	struct timespec five = { 5, 0 };
	long t0 = now_ms();
	/* The raw call: glibc's wrapper passes a copy of the timeout, and so never shows the update. */
	int n = syscall(SYS_ppoll, &fd, 1, &five, NULL, 8);
	long waited = now_ms() - t0;
	CHECK(n == 1 && fd.revents == POLLIN, "ppoll returns 1 with POLLIN when the pipe gets data");
	CHECK(five.tv_sec < 5 && (five.tv_sec > 0 || five.tv_nsec > 0),
	      "the time left is stored back (%ld.%09ld s)", (long)five.tv_sec, five.tv_nsec);
	CHECK(waited < 5000, "it did not wait for the timeout (%ld ms)", waited);
	waitpid(pid, NULL, 0);
	char x;
	(void)!read(p[0], &x, 1);

	/* A timeout with nothing ready: 0 after at least the timeout, the time left zero. */
	struct timespec tenth = { 0, 100 * 1000 * 1000 };
	fd.revents = -1;
	t0 = now_ms();
	n = syscall(SYS_ppoll, &fd, 1, &tenth, NULL, 8);
	waited = now_ms() - t0;
	CHECK(n == 0 && fd.revents == 0 && waited >= 100,
	      "nothing ready: 0 after the timeout (%ld ms, returned %d, errno %d), revents %#x", waited,
	      n, errno, fd.revents);
	CHECK(tenth.tv_sec == 0 && tenth.tv_nsec == 0, "the time left is 0");
	return tap_done("sleepers");
}
