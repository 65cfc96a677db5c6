/* subreaper: where orphans go (Linux 6.1's find_new_reaper). Without a child subreaper among its
 * ancestors, a process whose parent ends goes to the first process; with one
 * (PR_SET_CHILD_SUBREAPER), to the nearest, which then gets its SIGCHLD and reaps it, zombie or
 * not. The attribute is not inherited by a fork's child and survives an exec. Run as
 * `subreaper`; it runs itself as `subreaper get` (exit status: PR_GET_CHILD_SUBREAPER). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static volatile int sigchld;

static void on_chld(int sig)
{
	(void)sig;
	sigchld++;
}

static int get_subreaper(void)
{
	int v = -1;
	return prctl(PR_GET_CHILD_SUBREAPER, &v) ? -1 : v;
}

/* Makes an orphan: forks a child that forks a grandchild and ends. Once the child is reaped, the
 * grandchild (released by a byte on `go`) reports its parent, which this returns. */
static pid_t orphan(int go[2])
{
	int ids[2];
	if (pipe(ids))
		return -1;
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			char x;
			close(go[1]);
			if (read(go[0], &x, 1) != 1)
				_exit(3);
			pid_t pp = getppid();
			(void)!write(ids[1], &pp, sizeof pp);
			_exit(0);
		}
		(void)!write(ids[1], &g, sizeof g);
		_exit(0);
	}
	pid_t g = -1;
	(void)!read(ids[0], &g, sizeof g);
	waitpid(c, NULL, 0);
	(void)!write(go[1], "x", 1);
	pid_t pp = -1;
	(void)!read(ids[0], &pp, sizeof pp);
	close(ids[0]);
	close(ids[1]);
	return pp;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "get"))
		return get_subreaper();
	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_RESTART };
	sigaction(SIGCHLD, &sa, NULL);
	pid_t me = getpid();

	CHECK(get_subreaper() == 0, "not a child subreaper to begin with");
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, (void *)8) == -1 && errno == EFAULT, "PR_GET_CHILD_SUBREAPER to a bad address: EFAULT");

	/* Through a middle process: the orphan of its child goes to the first process while no
	 * ancestor is a subreaper (when this program is the first process, that is this one). */
	int go[2];
	pid_t mid = fork();
	if (mid == 0) {
		if (pipe(go))
			_exit(9);
		pid_t pp = orphan(go);
		_exit(pp == 1 ? 0 : pp == getppid() ? 1 : 2);
	}
	int st = 0;
	waitpid(mid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "an orphan goes to the first process (status %#x)", st);
	while (wait(NULL) > 0)
		;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 && get_subreaper() == 1, "PR_SET_CHILD_SUBREAPER 1, read back");
	mid = fork();
	if (mid == 0)
		_exit(get_subreaper());
	waitpid(mid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork's child is no subreaper (status %#x)", st);

	mid = fork();
	if (mid == 0) {
		if (pipe(go))
			_exit(9);
		pid_t pp = orphan(go);
		_exit(pp == getppid() ? 0 : pp == 1 ? 1 : 2);
	}
	waitpid(mid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the orphan of a grandchild goes to the nearest subreaper, past its parent that is not one (status %#x)", st);
	pid_t w = wait(&st);
	CHECK(w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "which reaps it (%d, status %#x)", (int)w, st);
	CHECK(wait(NULL) == -1 && errno == ECHILD, "and has no other child");

	sigchld = 0;
	if (pipe(go))
		return 1;
	pid_t pp = orphan(go);
	w = wait(&st);
	CHECK(pp == me && w > 0, "an orphan of its own child comes back to it (%d)", (int)pp);
	CHECK(sigchld == 2, "with SIGCHLD for each: the child, then the orphan (%d)", sigchld);

	/* A child that is a zombie already when its parent ends: the subreaper is told. */
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0)
			_exit(42);
		siginfo_t si;
		waitid(P_PID, g, &si, WEXITED | WNOWAIT);
		_exit(g & 0x7f);
	}
	waitpid(c, &st, 0);
	int zst = 0;
	pid_t z = waitpid(-1, &zst, 0);
	CHECK(z > 0 && (z & 0x7f) == WEXITSTATUS(st) && WIFEXITED(zst) && WEXITSTATUS(zst) == 42,
	      "a zombie orphan comes to the subreaper, which reaps it with its status (%d, %#x)", (int)z, zst);

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0) == 0 && get_subreaper() == 0, "PR_SET_CHILD_SUBREAPER 0, read back");
	c = fork();
	if (c == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 7);
		char *args[] = { argv[0], "get", NULL };
		execv("/proc/self/exe", args);
		_exit(100);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "an exec keeps it (status %#x)", st);
	return tap_done("subreaper");
}
