/* Threads on several cores (the suite runs these on a 4-core machine: Linux at -smp 4, tidemark at
 * QEMU_SMP=4):
 *
 *   mt_fault_N      N = 1, 2, 4 threads, each writing one byte per page of its own 16 MiB part of
 *                   one anonymous mapping; per page
 *   mt_brk1_N       N = 1, 4 threads, each moving the break +1 page and back (brk1); per brk call
 *   futex_pingpong  two threads taking turns through FUTEX_WAIT/FUTEX_WAKE on two words; per round
 *                   trip
 *   thread_create   pthread_create + pthread_join of a thread that returns at once; per pair
 *
 * Under -icount QEMU runs the cores in turn and the virtual counter advances with every
 * instruction any core executes, so an interval counts the instructions all cores spent: a figure
 * is the machine's instructions per operation, and threads that scale perfectly keep it where one
 * thread has it. What is measured starts when the threads are released and ends when the last
 * one is done; the threads are made before and sleep in the kernel (FUTEX_WAIT), not spinning,
 * until then.
 */
#include <pthread.h>

#include "bench.h"

#define NR_futex 98
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#define PROT_RW 3
#define MAP_PRIVATE_ANON 0x22
#define MAX_THREADS 4

static long futex(volatile int *word, int op, int val)
{
	return raw_syscall6(NR_futex, (long)word, op, val, 0, 0, 0);
}

/* Sleeps until `*word` is no longer `val`. */
static void wait_while(volatile int *word, int val)
{
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == val)
		futex(word, FUTEX_WAIT_PRIVATE, val);
}

/* A start line the workers sleep at, and a count of those still running that the last one to
 * finish wakes the main thread from. */
struct crew {
	volatile int go;
	volatile int running;
	int n;
	void (*work)(int i, void *arg);
	void *arg;
	pthread_t tid[MAX_THREADS];
};

struct slot {
	struct crew *crew;
	int i;
};

static void *worker(void *p)
{
	struct slot *s = p;
	struct crew *c = s->crew;
	wait_while(&c->go, 0);
	c->work(s->i, c->arg);
	if (__atomic_sub_fetch(&c->running, 1, __ATOMIC_ACQ_REL) == 0)
		futex(&c->running, FUTEX_WAKE_PRIVATE, 1);
	return NULL;
}

/* Runs `work(i, arg)` on `n` threads at once; returns the instructions from their release to the
 * last one's end. */
static uint64_t run_crew(int n, void (*work)(int, void *), void *arg)
{
	struct crew c = { .go = 0, .running = n, .n = n, .work = work, .arg = arg };
	struct slot slots[MAX_THREADS];
	for (int i = 0; i < n; i++) {
		slots[i] = (struct slot){ &c, i };
		if (pthread_create(&c.tid[i], NULL, worker, &slots[i]) != 0)
			die("pthread_create failed");
	}
	uint64_t t0 = read_cntvct();
	__atomic_store_n(&c.go, 1, __ATOMIC_RELEASE);
	futex(&c.go, FUTEX_WAKE_PRIVATE, n);
	for (int left; (left = __atomic_load_n(&c.running, __ATOMIC_ACQUIRE)) != 0;)
		futex(&c.running, FUTEX_WAIT_PRIVATE, left);
	uint64_t t1 = read_cntvct();
	for (int i = 0; i < n; i++)
		pthread_join(c.tid[i], NULL);
	return ticks_to_insns(t1 - t0);
}

/* ---- mt_fault --------------------------------------------------------------------------------- */

struct fault_arg {
	uintptr_t base, part;
};

static void fault_part(int i, void *p)
{
	struct fault_arg *a = p;
	touch_pages(a->base + (uintptr_t)i * a->part, a->part);
}

void bench_mt_fault(const struct bench_cfg *cfg)
{
	static const int counts[] = { 1, 2, 4 };
	const uintptr_t part = cfg->quick ? 2 * MiB : 16 * MiB;
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		int n = counts[k];
		char name[32];
		__builtin_snprintf(name, sizeof(name), "mt_fault_%d", n);
		struct series s;
		series_init(&s, name, "page", n * part / PAGE_SIZE);
		for (int rep = 0; rep <= cfg->reps; rep++) {
			long p = raw_syscall6(NR_mmap, 0, (long)(n * part), PROT_RW, MAP_PRIVATE_ANON, -1, 0);
			if (p < 0 && p > -4096)
				die("mt_fault: mmap failed: errno %ld", -p);
			struct fault_arg a = { (uintptr_t)p, part };
			series_add(&s, rep, run_crew(n, fault_part, &a));
			unmap((uintptr_t)p, n * part);
		}
		series_report(&s, cfg, NULL);
	}
}

/* ---- mt_brk1 ---------------------------------------------------------------------------------- */

struct brk_arg {
	uintptr_t lo;
	uint64_t calls;
};

static void brk_flip(int i, void *p)
{
	(void)i;
	struct brk_arg *a = p;
	for (uint64_t k = 0; k < a->calls / 2; k++) {
		sys_brk(a->lo + PAGE_SIZE);
		sys_brk(a->lo);
	}
}

void bench_mt_brk1(const struct bench_cfg *cfg)
{
	static const int counts[] = { 1, 4 };
	struct brk_arg a = { brk_align(PAGE_SIZE), cfg->quick ? 2000 : 20000 };
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		int n = counts[k];
		char name[32];
		__builtin_snprintf(name, sizeof(name), "mt_brk1_%d", n);
		struct series s;
		series_init(&s, name, "call", n * a.calls);
		for (int rep = 0; rep <= cfg->reps; rep++)
			series_add(&s, rep, run_crew(n, brk_flip, &a));
		series_report(&s, cfg, NULL);
	}
}

/* ---- futex_pingpong --------------------------------------------------------------------------- */

struct pingpong {
	volatile int ball; /* whose turn: 0 the main thread's, 1 the other's, 2 the end */
};

static void *ponger(void *p)
{
	struct pingpong *pp = p;
	for (;;) {
		wait_while(&pp->ball, 0);
		if (__atomic_load_n(&pp->ball, __ATOMIC_ACQUIRE) == 2)
			return NULL;
		__atomic_store_n(&pp->ball, 0, __ATOMIC_RELEASE);
		futex(&pp->ball, FUTEX_WAKE_PRIVATE, 1);
	}
}

void bench_futex_pingpong(const struct bench_cfg *cfg)
{
	const uint64_t trips = cfg->quick ? 200 : 2000;
	struct pingpong pp = { 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, ponger, &pp) != 0)
		die("pthread_create failed");
	struct series s;
	series_init(&s, "futex_pingpong", "round trip", trips);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < trips; i++) {
			__atomic_store_n(&pp.ball, 1, __ATOMIC_RELEASE);
			futex(&pp.ball, FUTEX_WAKE_PRIVATE, 1);
			wait_while(&pp.ball, 1);
		}
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	__atomic_store_n(&pp.ball, 2, __ATOMIC_RELEASE);
	futex(&pp.ball, FUTEX_WAKE_PRIVATE, 1);
	pthread_join(t, NULL);
	series_report(&s, cfg, NULL);
}

/* ---- thread_create ---------------------------------------------------------------------------- */

static void *nothing(void *p)
{
	return p;
}

void bench_thread_create(const struct bench_cfg *cfg)
{
	const uint64_t pairs = cfg->quick ? 50 : 500;
	struct series s;
	series_init(&s, "thread_create", "pair", pairs);
	for (int rep = 0; rep <= cfg->reps; rep++) {
		uint64_t t0 = read_cntvct();
		for (uint64_t i = 0; i < pairs; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, nothing, NULL) != 0)
				die("pthread_create failed");
			pthread_join(t, NULL);
		}
		uint64_t t1 = read_cntvct();
		series_add(&s, rep, ticks_to_insns(t1 - t0));
	}
	series_report(&s, cfg, NULL);
}
