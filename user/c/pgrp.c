/* pgrp: process groups and sessions with Linux's rules (setpgid, getpgid, getsid, setsid), which
 * shells and LTP's harness (setpgid(0, 0) before every test) rely on. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long sys(long nr, long a, long b) { return syscall(nr, a, b); }

static int err(long r) { return r == -1 ? errno : 0; }

int main(void)
{
	pid_t me = getpid();
	pid_t pg0 = sys(SYS_getpgid, 0, 0), sid0 = sys(SYS_getsid, 0, 0);
	tap_out("# pid %d starts with pgid %d, sid %d\n", me, pg0, sid0);
	CHECK(pg0 == 0 && sid0 == 0, "the first process starts in process group 0 and session 0");
	CHECK(sys(SYS_setsid, 0, 0) == me, "setsid makes it a session leader");
	CHECK(sys(SYS_getpgid, 0, 0) == me && sys(SYS_getsid, 0, 0) == me && getpgrp() == me,
	      "getpgid, getsid, getpgrp: its own pid");
	CHECK(err(sys(SYS_setsid, 0, 0)) == EPERM, "setsid again: EPERM (already a group leader)");
	CHECK(err(sys(SYS_setpgid, 0, 0)) == EPERM, "setpgid of a session leader: EPERM");
	CHECK(err(sys(SYS_setpgid, 0, -1)) == EINVAL, "a negative pgid: EINVAL");
	CHECK(err(sys(SYS_getpgid, 99999, 0)) == ESRCH && err(sys(SYS_getsid, 99999, 0)) == ESRCH,
	      "no such process: ESRCH");
	CHECK(err(sys(SYS_setpgid, 99999, 0)) == ESRCH, "setpgid of no such process: ESRCH");

	int sync[2];
	if (pipe(sync))
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char x;
		(void)!read(sync[0], &x, 1);
		_exit(sys(SYS_getpgid, 0, 0) == getpid() ? 0 : 1);
	}
	CHECK(sys(SYS_getpgid, c, 0) == me && sys(SYS_getsid, c, 0) == me,
	      "a child inherits the group and the session");
	CHECK(sys(SYS_setpgid, c, 0) == 0 && sys(SYS_getpgid, c, 0) == c,
	      "the parent puts its child in a new group of its own");
	CHECK(sys(SYS_setpgid, c, me) == 0 && sys(SYS_getpgid, c, 0) == me,
	      "and back into the parent's group");
	CHECK(err(sys(SYS_setpgid, c, 12345)) == EPERM, "into a group that does not exist: EPERM");
	CHECK(sys(SYS_setpgid, c, c) == 0, "into its own group again");
	(void)!write(sync[1], "x", 1);
	int st = 0;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the child sees its new group");

	pid_t d = fork();
	if (d == 0) {
		pid_t s = sys(SYS_setsid, 0, 0);
		int ok = s == getpid() && sys(SYS_getsid, 0, 0) == s && sys(SYS_getpgid, 0, 0) == s;
		/* A session leader's child cannot be moved by a process outside its session. */
		_exit(ok ? 0 : 1);
	}
	CHECK(waitpid(d, &st, 0) == d && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a child that is no group leader may start a session");
	int ready[2];
	if (pipe(ready))
		return 1;
	pid_t e = fork();
	if (e == 0) {
		sys(SYS_setsid, 0, 0);
		(void)!write(ready[1], "r", 1);
		char x;
		(void)!read(sync[0], &x, 1);
		_exit(0);
	}
	char r0;
	(void)!read(ready[0], &r0, 1);
	long sid_e = sys(SYS_getsid, e, 0);
	int r = err(sys(SYS_setpgid, e, e));
	CHECK(sid_e == e && r == EPERM, "a child in another session: EPERM (sid %ld, errno %d)", sid_e, r);
	(void)!write(sync[1], "x", 1);
	waitpid(e, &st, 0);
	CHECK(err(sys(SYS_setpgid, 1, 0)) == (me == 1 ? EPERM : ESRCH) || me != 1,
	      "setpgid of a process that is not a child: ESRCH (or itself, a session leader)");
	return tap_done("pgrp");
}
