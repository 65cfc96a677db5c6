/* select: pselect6 over pipes, files and bad descriptors as Linux's core_sys_select answers:
 * readiness by class, EBADF for a descriptor not open, EINVAL for a negative count or a bad
 * timeout, the sets cleared after a timeout, the time left written back, a wait that a writer
 * or a signal ends. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long pselect6(int n, fd_set *r, fd_set *w, fd_set *e, struct timespec *ts)
{
	return syscall(SYS_pselect6, n, r, w, e, ts, NULL);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static volatile int handled;

static void on_alarm(int sig)
{
	(void)sig;
	handled++;
}

int main(void)
{
	int p[2];
	CHECK(pipe(p) == 0, "a pipe");
	fd_set r, w, e;
	struct timespec zero = {0, 0};
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK(pselect6(p[0] + 1, &r, NULL, NULL, &zero) == 0 && !FD_ISSET(p[0], &r), "an empty pipe: not readable, the set cleared");
	CHECK(write(p[1], "x", 1) == 1, "a byte in");
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK(pselect6(p[0] + 1, &r, NULL, NULL, &zero) == 1 && FD_ISSET(p[0], &r), "then readable");
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	FD_SET(p[0], &w);
	CHECK(pselect6(p[1] + 1, NULL, &w, NULL, &zero) == 1 && FD_ISSET(p[1], &w) && !FD_ISSET(p[0], &w),
	      "the write end is writable, the read end is not");
	FD_ZERO(&e);
	FD_SET(p[0], &e);
	CHECK(pselect6(p[0] + 1, NULL, NULL, &e, &zero) == 0, "no exceptional condition on a pipe");
	int f = open("/tmp/select-file", O_CREAT | O_RDWR, 0600);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(f, &r);
	FD_SET(f, &w);
	CHECK(pselect6(f + 1, &r, &w, NULL, &zero) == 2, "a regular file is readable and writable");
	unlink("/tmp/select-file");
	close(f);

	FD_ZERO(&r);
	FD_SET(50, &r);
	errno = 0;
	CHECK(pselect6(51, &r, NULL, NULL, &zero) == -1 && errno == EBADF, "a descriptor that is not open: EBADF");
	FD_ZERO(&r);
	FD_SET(100, &r);
	CHECK(pselect6(101, &r, NULL, NULL, &zero) == 0, "a count past the table's 64 slots is cut to them");
	errno = 0;
	CHECK(pselect6(-1, NULL, NULL, NULL, &zero) == -1 && errno == EINVAL, "a negative count: EINVAL");
	struct timespec bad = {0, 2000000000};
	errno = 0;
	CHECK(pselect6(0, NULL, NULL, NULL, &bad) == -1 && errno == EINVAL, "a malformed timeout: EINVAL");
	errno = 0;
	CHECK(pselect6(1, (fd_set *)8, NULL, NULL, &zero) == -1 && errno == EFAULT, "a bad set: EFAULT");

	char c;
	CHECK(read(p[0], &c, 1) == 1, "drained");
	struct timespec t0, ts = {0, 60000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	long n = pselect6(p[0] + 1, &r, NULL, NULL, &ts);
	long took = ms_since(&t0);
	CHECK(n == 0 && took >= 50 && !FD_ISSET(p[0], &r), "a 60 ms timeout: 0 after %ld ms, the set cleared", took);
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "and no time left written back");

	pid_t child = fork();
	if (child == 0) {
		struct timespec d = {0, 100000000};
		nanosleep(&d, NULL);
		(void)!write(p[1], "y", 1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = pselect6(p[0] + 1, &r, NULL, NULL, NULL);
	CHECK(n == 1 && FD_ISSET(p[0], &r) && ms_since(&t0) >= 80, "no timeout: a writer ends the wait");
	int st;
	waitpid(child, &st, 0);
	CHECK(read(p[0], &c, 1) == 1, "drained again");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	errno = 0;
	CHECK(pselect6(p[0] + 1, &r, NULL, NULL, NULL) == -1 && errno == EINTR, "a handler's signal: EINTR");
	close(p[1]);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK(pselect6(p[0] + 1, &r, NULL, NULL, NULL) == 1 && FD_ISSET(p[0], &r), "no writer left: readable (end of file)");
	/* The call's signal mask holds for the wait only. */
	struct sigaction su;
	memset(&su, 0, sizeof su);
	su.sa_handler = on_alarm;
	sigaction(SIGUSR1, &su, NULL);
	sigset_t usr1, none, now;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	int q[2];
	CHECK(pipe(q) == 0, "another pipe");
	pid_t parent = getpid();
	child = fork();
	if (child == 0) {
		struct timespec d = {0, 100000000};
		nanosleep(&d, NULL);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	handled = 0;
	errno = 0;
	struct { const sigset_t *ss; size_t len; } arg = {&none, 8};
	n = syscall(SYS_pselect6, q[0] + 1, &r, NULL, NULL, NULL, &arg);
	CHECK(n == -1 && errno == EINTR && handled == 1, "a signal blocked outside but not in pselect6's mask ends the wait");
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(sigismember(&now, SIGUSR1), "and the mask from before is back after the handler");
	waitpid(child, &st, 0);
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	struct sigaction sb;
	memset(&sb, 0, sizeof sb);
	sb.sa_handler = on_alarm;
	sigaction(SIGALRM, &sb, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	handled = 0;
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct pollfd pf = {q[0], POLLIN, 0};
	struct timespec wait300 = {0, 300000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = ppoll(&pf, 1, &wait300, &alrm);
	took = ms_since(&t0);
	CHECK(n == 0 && took >= 250, "a signal ppoll's mask blocks does not end the wait (%ld after %ld ms)", n, took);
	CHECK(handled == 1, "it runs its handler once the mask from before is back");
	struct timeval tv = {0, 0};
	FD_ZERO(&r);
	FD_SET(0, &r);
	CHECK(select(1, NULL, NULL, NULL, &tv) == 0, "glibc's select with nothing to wait for");
	return tap_done("select");
}
