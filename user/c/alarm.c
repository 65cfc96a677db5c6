/* alarm: the interval timers (setitimer/getitimer, and glibc's alarm on top of them). SIGALRM
 * interrupts a blocked wait4 (EINTR without SA_RESTART), reaches a process that spins without
 * ever entering the kernel, repeats with a period, and getitimer reports what is left. The CPU-time
 * timers (ITIMER_VIRTUAL, ITIMER_PROF) count only the time the process runs: SIGVTALRM and
 * SIGPROF come to a spinning process, not to a sleeping one. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static volatile sig_atomic_t cpu_signals, last_cpu_signal;

static void on_cpu(int sig)
{
	cpu_signals++;
	last_cpu_signal = sig;
}

static long cpu_ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int arm(long value_ms, long interval_ms)
{
	struct itimerval v = { { interval_ms / 1000, (interval_ms % 1000) * 1000 },
			       { value_ms / 1000, (value_ms % 1000) * 1000 } };
	return setitimer(ITIMER_REAL, &v, NULL);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: an interrupted wait4 returns EINTR */
	sigaction(SIGALRM, &sa, NULL);

	struct itimerval g;
	CHECK(getitimer(ITIMER_REAL, &g) == 0 && g.it_value.tv_sec == 0 && g.it_value.tv_usec == 0,
	      "no timer at first");
	CHECK(arm(3000, 0) == 0 && getitimer(ITIMER_REAL, &g) == 0 && g.it_value.tv_sec <= 3 &&
		      (g.it_value.tv_sec > 0 || g.it_value.tv_usec > 0),
	      "an armed timer reports what is left (%ld.%06ld s)", (long)g.it_value.tv_sec,
	      (long)g.it_value.tv_usec);
	struct itimerval zero = { { 0, 0 }, { 0, 0 } }, old;
	CHECK(setitimer(ITIMER_REAL, &zero, &old) == 0 && old.it_value.tv_sec <= 3 &&
		      getitimer(ITIMER_REAL, &g) == 0 && g.it_value.tv_sec == 0 && g.it_value.tv_usec == 0,
	      "a zero value disarms it and the old value comes back");
	struct itimerval bad = { { 0, 0 }, { 0, 1000000 } };
	errno = 0;
	CHECK(setitimer(ITIMER_REAL, &bad, NULL) == -1 && errno == EINVAL, "1,000,000 microseconds: EINVAL");
	errno = 0;
	CHECK(setitimer(7, &zero, NULL) == -1 && errno == EINVAL, "an unknown timer: EINVAL");

	/* A blocked wait4 is interrupted. */
	pid_t c = fork();
	if (c == 0) {
		struct timespec five = { 5, 0 };
		nanosleep(&five, NULL);
		_exit(0);
	}
	long t0 = now_ms();
	arm(200, 0);
	int st;
	errno = 0;
	pid_t r = waitpid(c, &st, 0);
	long waited = now_ms() - t0;
	CHECK(r == -1 && errno == EINTR && alarms == 1,
	      "SIGALRM interrupts a blocked wait4 with EINTR (after %ld ms)", waited);
	CHECK(waited >= 200 && waited < 5000, "at its time, not the child's");
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* A process that never enters the kernel still gets it. */
	alarms = 0;
	arm(100, 0);
	long spins = 0;
	while (!alarms)
		spins++;
	CHECK(alarms == 1, "a spinning process gets SIGALRM (%ld spins)", spins);

	/* A period repeats it. */
	alarms = 0;
	arm(50, 50);
	while (alarms < 3)
		;
	CHECK(setitimer(ITIMER_REAL, &zero, NULL) == 0 && alarms >= 3, "a 50 ms period fires again and again");

	/* glibc's alarm(): seconds left, on top of the same timer. */
	CHECK(alarm(10) == 0 && alarm(0) >= 9, "alarm(10), then alarm(0) says about 10 s were left");

	/* The CPU-time timers. */
	signal(SIGVTALRM, on_cpu);
	signal(SIGPROF, on_cpu);
	struct itimerval v50 = {{0, 0}, {0, 50000}}, got;
	cpu_signals = 0;
	CHECK(setitimer(ITIMER_VIRTUAL, &v50, NULL) == 0, "ITIMER_VIRTUAL armed for 50 ms of CPU time");
	struct timespec c0;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	long w0 = now_ms();
	while (!cpu_signals && now_ms() - w0 < 3000)
		;
	CHECK(cpu_signals == 1 && last_cpu_signal == SIGVTALRM && cpu_ms_since(&c0) >= 40,
	      "SIGVTALRM after %ld ms of CPU time", cpu_ms_since(&c0));
	CHECK(getitimer(ITIMER_VIRTUAL, &got) == 0 && got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0,
	      "then it is disarmed");
	struct itimerval p20 = {{0, 20000}, {0, 20000}};
	cpu_signals = 0;
	CHECK(setitimer(ITIMER_PROF, &p20, NULL) == 0, "ITIMER_PROF with a 20 ms period");
	w0 = now_ms();
	while (cpu_signals < 3 && now_ms() - w0 < 3000)
		;
	CHECK(cpu_signals >= 3 && last_cpu_signal == SIGPROF, "SIGPROF again and again (%d)", cpu_signals);
	CHECK(getitimer(ITIMER_PROF, &got) == 0 && got.it_interval.tv_usec == 20000 && got.it_value.tv_sec == 0 &&
		      got.it_value.tv_usec > 0 && got.it_value.tv_usec <= 20000,
	      "getitimer: the period, and less than one left (%ld us)", (long)got.it_value.tv_usec);
	struct itimerval off = {{0, 0}, {0, 0}};
	CHECK(setitimer(ITIMER_PROF, &off, NULL) == 0, "disarmed");
	struct itimerval v100 = {{0, 0}, {0, 100000}};
	cpu_signals = 0;
	setitimer(ITIMER_VIRTUAL, &v100, NULL);
	struct timespec nap = {0, 300000000};
	nanosleep(&nap, NULL);
	CHECK(getitimer(ITIMER_VIRTUAL, &got) == 0 && cpu_signals == 0 && got.it_value.tv_usec > 50000,
	      "a sleeping process spends no CPU time: %ld us of 100 ms left", (long)got.it_value.tv_usec);
	setitimer(ITIMER_VIRTUAL, &off, NULL);
	return tap_done("alarm");
}
