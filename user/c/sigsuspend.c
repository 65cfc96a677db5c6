/* sigsuspend: waiting for a signal with a temporary mask, as shells wait for their jobs. The call
 * ends with EINTR once a handler has run, the mask from before is back afterwards, and a signal
 * whose default is to be ignored does not end the wait. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t usr1, chld;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_chld(int sig) { (void)sig; chld++; }

static void nap_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };
	nanosleep(&t, NULL);
}

int main(void)
{
	signal(SIGUSR1, on_usr1);
	signal(SIGCHLD, on_chld);
	sigset_t block, empty, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGCHLD);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);

	/* A child sends a signal the parent ignores by default, then SIGUSR1, then exits. */
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		nap_ms(30);
		kill(parent, SIGURG);
		nap_ms(30);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	errno = 0;
	int r = sigsuspend(&empty);
	CHECK(r == -1 && errno == EINTR, "sigsuspend ends with EINTR");
	CHECK(usr1 == 1, "after SIGUSR1's handler ran (not at the ignored SIGURG)");
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(sigismember(&now, SIGUSR1) && sigismember(&now, SIGCHLD), "the mask from before is back");

	/* The shell's wait: SIGCHLD ends the wait, then the child is reaped. */
	while (!chld) {
		errno = 0;
		r = sigsuspend(&empty);
	}
	int st = 0;
	CHECK(chld >= 1 && waitpid(c, &st, WNOHANG) == c && WIFEXITED(st), "SIGCHLD ends a wait; the child is reaped");

	errno = 0;
	CHECK(syscall(SYS_rt_sigsuspend, &empty, 16) == -1 && errno == EINVAL, "a sigset size of 16: EINVAL");
	errno = 0;
	CHECK(syscall(SYS_rt_sigsuspend, (void *)8, 8) == -1 && errno == EFAULT, "a bad mask pointer: EFAULT");
	return tap_done("sigsuspend");
}
