/* syscall: the cost of an empty system call round trip, getppid() (will-it-scale getppid1).
 * Covers exception entry, the dispatch, the handler, and the return to EL0. */
#include "bench.h"

void bench_syscall(const struct bench_cfg *cfg)
{
	const uint64_t calls = cfg->quick ? 5000 : 20000;
	struct series s;
	series_init(&s, "syscall", "call", calls);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < calls; i++)
			raw_syscall0(NR_getppid);
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	series_report(&s, cfg, NULL);
}
