/* pingpong: two processes pass one byte back and forth through two pipes; per round trip.
 * Each round trip is four syscalls and two process switches, so it prices the scheduler's switch
 * (trap frame, FP/SIMD registers, TPIDR_EL0, TTBR0) next to the pipe and syscall paths. */
#include "bench.h"

#define NR_pipe2 59
#define NR_clone 220
#define NR_wait4 260
#define SIGCHLD 17

void bench_pingpong(const struct bench_cfg *cfg)
{
	const uint64_t trips = cfg->quick ? 200 : 2000;
	int ping[2], pong[2];
	if (raw_syscall6(NR_pipe2, (long)ping, 0, 0, 0, 0, 0) || raw_syscall6(NR_pipe2, (long)pong, 0, 0, 0, 0, 0))
		die("pingpong: pipe2 failed");
	long pid = raw_syscall6(NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
	if (pid < 0)
		die("pingpong: fork failed (%ld)", pid);
	char b = 0;
	if (pid == 0) {
		/* Only the other ends, so that the parent closing its write end means EOF here. */
		raw_syscall6(NR_close, ping[1], 0, 0, 0, 0, 0);
		raw_syscall6(NR_close, pong[0], 0, 0, 0, 0, 0);
		for (;;) {
			if (raw_syscall6(NR_read, ping[0], (long)&b, 1, 0, 0, 0) != 1)
				raw_syscall6(NR_exit_group, 0, 0, 0, 0, 0, 0);
			raw_syscall6(NR_write, pong[1], (long)&b, 1, 0, 0, 0);
		}
	}
	raw_syscall6(NR_close, ping[0], 0, 0, 0, 0, 0);
	raw_syscall6(NR_close, pong[1], 0, 0, 0, 0, 0);
	struct series s;
	series_init(&s, "pingpong", "round trip", trips);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < trips; i++) {
			raw_syscall6(NR_write, ping[1], (long)&b, 1, 0, 0, 0);
			raw_syscall6(NR_read, pong[0], (long)&b, 1, 0, 0, 0);
		}
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	raw_syscall6(NR_close, ping[1], 0, 0, 0, 0, 0);
	raw_syscall6(NR_wait4, pid, 0, 0, 0, 0, 0);
	raw_syscall6(NR_close, pong[0], 0, 0, 0, 0, 0);
	series_report(&s, cfg, NULL);
}
