/* smp: threads on several cores at once. The number of cores as sysconf, /proc/cpuinfo and
 * sched_getaffinity see it; threads pinned to each core run there (getcpu); threads pinned to
 * different cores meet in a spin barrier, which only works if they run at the same time; faults
 * into disjoint parts of one mapping from every core while another thread moves the break;
 * munmap and mprotect in one thread while another touches the page (once the call returns, no
 * access may succeed: the other core's TLB was shot down); a futex ping-pong between two cores;
 * thread creation and joining across cores with VmSize back where it started. Adapts to any
 * number of cores (with one, the pinned threads all share it). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#define MAXCPU 64

static int ncpu;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu % ncpu, &s);
	return sched_setaffinity(0, sizeof s, &s);
}

static int cpuinfo_processors(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "processor", 9) == 0)
			n++;
	fclose(f);
	return n;
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t k = strlen(key);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, k) == 0 && line[k] == ':')
			v = atol(line + k + 1);
	fclose(f);
	return v;
}

/* Pinned threads: each reports where it ran, then waits in a spin barrier for all the others. */
static atomic_int arrived;
struct pinned { int want, got, got_after, met; };

static void *pinned_thread(void *arg)
{
	struct pinned *p = arg;
	if (pin(p->want) != 0)
		return NULL;
	p->got = sched_getcpu();
	for (int i = 0; i < 100; i++)
		sched_yield();
	p->got_after = sched_getcpu();
	atomic_fetch_add(&arrived, 1);
	double until = now_s() + 5;
	while (atomic_load(&arrived) < ncpu && now_s() < until)
		;
	p->met = atomic_load(&arrived) >= ncpu;
	return NULL;
}

/* Faults from every core into one mapping, while the main thread moves the break. */
#define SLICE (4 << 20)
static char *shared_area;

static void *toucher(void *arg)
{
	long i = (long)arg;
	pin((int)i);
	char *s = shared_area + i * SLICE;
	for (long off = 0; off < SLICE; off += 4096)
		s[off] = (char)(i + off / 4096);
	return NULL;
}

/* A page one thread keeps touching while another unmaps or write-protects it. */
static volatile int *victim;
static atomic_int revoked, stale, faulted, toucher_ready;
static sigjmp_buf toucher_jmp;
static int toucher_writes;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(toucher_jmp, 1);
}

static void *revoked_toucher(void *arg)
{
	(void)arg;
	pin(1);
	if (sigsetjmp(toucher_jmp, 1)) {
		atomic_store(&faulted, 1);
		return NULL;
	}
	atomic_store(&toucher_ready, 1);
	double until = now_s() + 5;
	for (;;) {
		int seen = atomic_load(&revoked);
		if (toucher_writes)
			*victim = 7;
		else
			(void)*victim;
		if (seen) {
			/* The call had returned before this access began. */
			atomic_store(&stale, 1);
			return NULL;
		}
		if (now_s() > until)
			return NULL;
	}
}

static void revoke_test(int writes)
{
	victim = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*victim = 1;
	atomic_store(&revoked, 0);
	atomic_store(&stale, 0);
	atomic_store(&faulted, 0);
	atomic_store(&toucher_ready, 0);
	toucher_writes = writes;
	pthread_t t;
	pthread_create(&t, NULL, revoked_toucher, NULL);
	while (!atomic_load(&toucher_ready))
		;
	struct timespec nap = { 0, 20 * 1000000 };
	nanosleep(&nap, NULL);
	int r = writes ? mprotect((void *)victim, 4096, PROT_READ) : munmap((void *)victim, 4096);
	atomic_store(&revoked, 1);
	pthread_join(t, NULL);
	CHECK(r == 0 && atomic_load(&faulted) && !atomic_load(&stale),
	      "%s in one thread while another %s the page: its next access faults (faulted %d, "
	      "stale access %d)",
	      writes ? "mprotect(PROT_READ)" : "munmap", writes ? "writes" : "reads",
	      atomic_load(&faulted), atomic_load(&stale));
	if (writes)
		munmap((void *)victim, 4096);
}

/* A futex ping-pong between two cores. */
#define ROUNDS 5000
static atomic_int turn;
static int cpu_seen[2];

static long futex(atomic_int *w, int op, int val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *player(void *arg)
{
	long me = (long)arg;
	pin((int)me);
	cpu_seen[me] = sched_getcpu();
	for (int i = 0; i < ROUNDS; i++) {
		int t;
		while ((t = atomic_load(&turn)) % 2 != me)
			futex(&turn, FUTEX_WAIT_PRIVATE, t);
		atomic_fetch_add(&turn, 1);
		futex(&turn, FUTEX_WAKE_PRIVATE, 1);
	}
	return NULL;
}

static void *nothing(void *arg)
{
	return arg;
}

int main(void)
{
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t all;
	CPU_ZERO(&all);
	int aff = sched_getaffinity(0, sizeof all, &all) == 0 ? CPU_COUNT(&all) : -1;
	int info = cpuinfo_processors();
	CHECK(ncpu >= 1 && ncpu == aff && ncpu == info,
	      "%d cores: sysconf, sched_getaffinity (%d) and /proc/cpuinfo (%d) agree", ncpu, aff,
	      info);
	if (ncpu < 1 || ncpu > MAXCPU)
		return tap_done("smp");

	cpu_set_t none;
	CPU_ZERO(&none);
	CPU_SET(MAXCPU - 1, &none);
	CHECK(sched_setaffinity(0, sizeof none, &none) == -1 && errno == EINVAL,
	      "sched_setaffinity to no core there is: EINVAL");

	/* One thread per core, pinned. */
	pthread_t t[MAXCPU];
	struct pinned p[MAXCPU];
	for (int i = 0; i < ncpu; i++) {
		p[i] = (struct pinned){ .want = i, .got = -1, .got_after = -1 };
		pthread_create(&t[i], NULL, pinned_thread, &p[i]);
	}
	int where = 1, met = 1;
	for (int i = 0; i < ncpu; i++) {
		pthread_join(t[i], NULL);
		where &= p[i].got == i && p[i].got_after == i;
		met &= p[i].met;
	}
	CHECK(where, "a thread pinned to each core runs there, and stays there (core %d: %d, %d)",
	      ncpu - 1, p[ncpu - 1].got, p[ncpu - 1].got_after);
	CHECK(met, "%d threads pinned to %d cores are all running at once (a spin barrier)", ncpu,
	      ncpu);

	/* Disjoint faults from every core while the break moves. */
	shared_area = mmap(NULL, (size_t)ncpu * SLICE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *brk0 = sbrk(0);
	for (long i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, toucher, (void *)i);
	int brk_ok = 1;
	for (int round = 0; round < 200; round++) {
		char *b = sbrk(1 << 20);
		if (b == (void *)-1) {
			brk_ok = 0;
			break;
		}
		b[round * 4096 % (1 << 20)] = 1;
		brk_ok &= sbrk(-(1 << 20)) != (void *)-1;
	}
	for (int i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	int data_ok = 1;
	for (long i = 0; i < ncpu; i++)
		for (long off = 0; off < SLICE; off += 4096)
			data_ok &= shared_area[i * SLICE + off] == (char)(i + off / 4096);
	CHECK(data_ok, "%d threads faulting disjoint 4 MiB slices of one mapping: every page holds "
		       "its own thread's byte", ncpu);
	CHECK(brk_ok && sbrk(0) == brk0,
	      "meanwhile another thread moved the break up and down 200 times: it is back");
	munmap(shared_area, (size_t)ncpu * SLICE);

	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	sigaction(SIGSEGV, &sa, NULL);
	pin(0);
	revoke_test(0);
	revoke_test(1);
	sched_setaffinity(0, sizeof all, &all);

	/* A futex ping-pong between cores 0 and 1. */
	pthread_t a, b;
	pthread_create(&a, NULL, player, (void *)0L);
	pthread_create(&b, NULL, player, (void *)1L);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK(atomic_load(&turn) == 2 * ROUNDS && cpu_seen[0] == 0 && cpu_seen[1] == 1 % ncpu,
	      "a futex ping-pong of %d rounds between cores %d and %d", ROUNDS, cpu_seen[0],
	      cpu_seen[1]);

	/* Threads made and joined on every core: the address space is back where it started. */
	long before = status_kb("VmSize");
	int made = 0;
	for (int i = 0; i < 300; i++) {
		pthread_t x;
		pthread_attr_t at;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(i % ncpu, &one);
		pthread_attr_init(&at);
		pthread_attr_setaffinity_np(&at, sizeof one, &one);
		if (pthread_create(&x, &at, nothing, NULL) == 0 && pthread_join(x, NULL) == 0)
			made++;
		pthread_attr_destroy(&at);
	}
	long after = status_kb("VmSize");
	CHECK(made == 300 && before == after,
	      "300 threads made and joined across the cores; VmSize %ld kB before, %ld kB after",
	      before, after);
	return tap_done("smp");
}
