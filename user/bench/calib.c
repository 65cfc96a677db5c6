/* calib: checks that the counter counts instructions.
 *
 * The loop below is exactly two instructions per iteration (subs, b.ne), so N iterations are 2N
 * instructions plus a handful around them (the move of N into a register, the closing isb/mrs).
 * Under -icount shift=0 the measured count must match to within the interrupts that arrived
 * meanwhile (Linux's 250 Hz tick: a few thousand instructions per 4 million). Anything else means
 * the clock is not an instruction count (no -icount, or a different shift) and every other figure
 * is meaningless.
 */
#include "bench.h"

void bench_calib(const struct bench_cfg *cfg)
{
	const uint64_t iters = cfg->quick ? 1000000 : 10000000;
	struct series s;
	series_init(&s, "calib", "iteration", iters);
	uint64_t last = 0;
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t k = iters;
		uint64_t t0 = read_cntvct();
		__asm__ volatile("1:	subs %0, %0, #1\n"
				 "	b.ne 1b"
				 : "+r"(k)
				 :
				 : "cc");
		uint64_t t1 = read_cntvct();
		last = ticks_to_insns(t1 - t0);
		series_add(&s, rep, last);
	}
	uint64_t expected = 2 * iters;
	double ppm = ((double)last - (double)expected) * 1e6 / (double)expected;
	out("calibration: %lu iterations of a 2-instruction loop: expected %lu instructions, measured "
	    "%lu (%+.0f ppm), counter %lu Hz\n",
	    (unsigned long)iters, (unsigned long)expected, (unsigned long)last, ppm,
	    (unsigned long)read_cntfrq());
	if (ppm < -1000 || ppm > 10000)
		out("calibration: WARNING: the counter is not counting instructions; was QEMU started with "
		    "-icount shift=0?\n");
	series_report(&s, cfg, "expected=2.0");
}
