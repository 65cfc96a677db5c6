/* clock: setting the wall clock. Root moves CLOCK_REALTIME with clock_settime and settimeofday,
 * and the monotonic clock does not move with it; others get EPERM; bad values get EINVAL. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static long long ns_of(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
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
	return tap_done("clock");
}
