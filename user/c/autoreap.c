/* autoreap: children of a process that ignores SIGCHLD, or set SA_NOCLDWAIT, are reaped as they
 * end and never become zombies (POSIX.1, Linux's do_notify_parent); a wait for them ends with
 * ECHILD once none is left. SA_NOCLDWAIT still sends SIGCHLD; SIG_IGN does not. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

static volatile int chld;

static void on_chld(int sig)
{
	(void)sig;
	chld++;
}

static pid_t child_exiting_after(long ms)
{
	pid_t c = fork();
	if (c == 0) {
		struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
		nanosleep(&t, NULL);
		_exit(3);
	}
	return c;
}

int main(void)
{
	signal(SIGCHLD, SIG_IGN);
	pid_t a = child_exiting_after(0), b = child_exiting_after(100);
	int w = wait(NULL), e = errno;
	CHECK(w == -1 && e == ECHILD, "SIGCHLD ignored: wait ends with ECHILD (%d, %d)", w, e);
	CHECK(kill(a, 0) == -1 && errno == ESRCH && kill(b, 0) == -1 && errno == ESRCH,
	      "once both children ended, and neither is left a zombie");

	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_NOCLDWAIT | SA_RESTART };
	sigaction(SIGCHLD, &sa, NULL);
	chld = 0;
	a = child_exiting_after(0);
	w = waitpid(-1, NULL, 0);
	e = errno;
	CHECK(w == -1 && e == ECHILD, "SA_NOCLDWAIT: the same (%d, %d)", w, e);
	CHECK(chld == 1, "but SIGCHLD came (%d)", chld);

	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	a = child_exiting_after(0);
	int st = 0;
	w = waitpid(-1, &st, 0);
	CHECK(w == a && WIFEXITED(st) && WEXITSTATUS(st) == 3, "with a handler alone, the child waits to be reaped (%d)", w);
	return tap_done("autoreap");
}
