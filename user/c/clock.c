/* clock: setting the wall clock. Root moves CLOCK_REALTIME with clock_settime and settimeofday,
 * and the monotonic clock does not move with it; others get EPERM; bad values get EINVAL. Then
 * the CPU-time clocks: they count running, not sleeping, and a reaped child's time is its
 * parent's children's time (getrusage, times). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static long long ns_of(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Runs on the CPU for `ms` milliseconds of the monotonic clock. */
static void spin_ms(long ms)
{
	long long end = ns_of(CLOCK_MONOTONIC) + ms * 1000000LL;
	while (ns_of(CLOCK_MONOTONIC) < end)
		;
}

int main(void)
{
	long long rt0 = ns_of(CLOCK_REALTIME), mono0 = ns_of(CLOCK_MONOTONIC);
	struct timespec later = { rt0 / 1000000000 + 1000000, 0 };
	CHECK(clock_settime(CLOCK_REALTIME, &later) == 0, "root sets CLOCK_REALTIME 1,000,000 s ahead");
	long long rt1 = ns_of(CLOCK_REALTIME), mono1 = ns_of(CLOCK_MONOTONIC);
	CHECK(rt1 >= later.tv_sec * 1000000000LL && rt1 < (later.tv_sec + 5) * 1000000000LL,
	      "CLOCK_REALTIME reads the new time");
	CHECK(mono1 >= mono0 && mono1 - mono0 < 5000000000LL, "CLOCK_MONOTONIC does not jump");
	struct timeval back = { rt0 / 1000000000, 0 };
	CHECK(settimeofday(&back, NULL) == 0 && ns_of(CLOCK_REALTIME) / 1000000000 - back.tv_sec < 5,
	      "settimeofday puts it back");
	errno = 0;
	CHECK(clock_settime(CLOCK_MONOTONIC, &later) == -1 && errno == EINVAL,
	      "CLOCK_MONOTONIC cannot be set: EINVAL");
	struct timespec bad = { 1, 1000000000 };
	errno = 0;
	CHECK(clock_settime(CLOCK_REALTIME, &bad) == -1 && errno == EINVAL, "a nanosecond field of 10^9: EINVAL");
	errno = 0;
	CHECK(syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8) == -1 && errno == EFAULT,
	      "a bad pointer: EFAULT");
	pid_t c = fork();
	if (c == 0) {
		if (setresuid(1000, 1000, 1000) != 0)
			_exit(2);
		errno = 0;
		int a = clock_settime(CLOCK_REALTIME, &later) == -1 && errno == EPERM;
		errno = 0;
		int b = settimeofday(&back, NULL) == -1 && errno == EPERM;
		_exit(a && b ? 0 : 1);
	}
	int st = 0;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "an unprivileged process gets EPERM");

	/* CPU time: 100 ms of spinning counts, 100 ms of sleep does not. */
	long long p0 = ns_of(CLOCK_PROCESS_CPUTIME_ID), t0 = ns_of(CLOCK_THREAD_CPUTIME_ID);
	spin_ms(100);
	long long p1 = ns_of(CLOCK_PROCESS_CPUTIME_ID), t1 = ns_of(CLOCK_THREAD_CPUTIME_ID);
	struct timespec nap = { 0, 100000000 };
	nanosleep(&nap, NULL);
	long long p2 = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	CHECK(p1 - p0 >= 80000000 && t1 - t0 >= 80000000, "100 ms of spinning: the CPU clocks advance (%lld ms)",
	      (p1 - p0) / 1000000);
	CHECK(p2 - p1 < 30000000, "100 ms of sleep: they barely move (%lld ms)", (p2 - p1) / 1000000);

	/* A child spins 100 ms: once reaped, it is the parent's children's time. */
	c = fork();
	if (c == 0) {
		spin_ms(100);
		_exit(0);
	}
	waitpid(c, &st, 0);
	struct rusage ru;
	struct tms tm;
	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0 && ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
	      ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec >= 80000, "getrusage(RUSAGE_CHILDREN) has the child's 100 ms");
	CHECK(times(&tm) != (clock_t)-1 && tm.tms_cutime + tm.tms_cstime >= 8 && tm.tms_utime + tm.tms_stime >= 8,
	      "times: the process's and its children's CPU time");
	return tap_done("clock");
}
