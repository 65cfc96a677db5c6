/* mtstress: the mm under threads, as issue-sized programs stress it. A thousand threads created
 * and joined leave VmSize where it was; detached threads; rwlocks and barriers; malloc from eight
 * threads; threads faulting disjoint parts of one heap while another moves the break; munmap in
 * one thread while another reads the page (afterwards no access may succeed); mlockall from one
 * thread while others allocate; two threads upgrading the same pages at once (from the zero page,
 * copy-on-write); fork while other threads write (the child sees a snapshot). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long status_kb(const char *field)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, field);
	return p ? atol(p + strlen(field)) : -1;
}

static void *nothing(void *arg) { return arg; }

static atomic_int detached_done;
static void *detached(void *arg)
{
	(void)arg;
	atomic_fetch_add(&detached_done, 1);
	return NULL;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long shared_value;
static atomic_int readers_ok = 1;
static void *rw_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_wrlock(&rw);
		shared_value++;
		long v = shared_value;
		if (i % 100 == 0)
			sched_yield();
		shared_value = v;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}
static void *rw_reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_rdlock(&rw);
		long a = shared_value;
		if (i % 100 == 0)
			sched_yield();
		if (shared_value != a)
			readers_ok = 0;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static pthread_barrier_t barrier;
static atomic_int phase_count[3];
static atomic_int barrier_ok = 1;
static void *barrier_worker(void *arg)
{
	(void)arg;
	for (int ph = 0; ph < 3; ph++) {
		atomic_fetch_add(&phase_count[ph], 1);
		pthread_barrier_wait(&barrier);
		if (atomic_load(&phase_count[ph]) != 4)
			barrier_ok = 0;
		pthread_barrier_wait(&barrier);
	}
	return NULL;
}

static void *mallocer(void *arg)
{
	long seed = (long)arg, bad = 0;
	for (int round = 0; round < 100; round++) {
		char *v[32];
		for (int i = 0; i < 32; i++) {
			size_t n = 32 + (seed * 131 + round * 17 + i * 4099) % 70000;
			v[i] = malloc(n);
			if (!v[i])
				return (void *)1L;
			memset(v[i], (int)(seed + i), n);
		}
		for (int i = 0; i < 32; i++) {
			bad += v[i][0] != (char)(seed + i);
			free(v[i]);
		}
	}
	return (void *)bad;
}

/* Disjoint parts of one heap region, touched by four threads while a fifth moves the break. */
static char *region;
#define REGION (8 << 20)
static void *toucher(void *arg)
{
	long part = (long)arg, bad = 0;
	char *base = region + part * (REGION / 4);
	for (long off = 0; off < REGION / 4; off += 4096)
		base[off] = (char)(part + 1);
	for (long off = 0; off < REGION / 4; off += 4096)
		bad += base[off] != (char)(part + 1);
	return (void *)bad;
}
static void *breaker(void *arg)
{
	(void)arg;
	void *start = sbrk(0);
	/* Shrinks of 96 KiB: big enough that the page tables are cleared with the mmap lock
	 * downgraded, while the touchers fault. */
	for (int i = 0; i < 200; i++) {
		if (sbrk(128 << 10) == (void *)-1)
			return (void *)1L;
		((char *)sbrk(0))[-1] = 1;
		if (i % 2)
			sbrk(-(96 << 10));
	}
	return (void *)(long)(brk(start) != 0);
}

/* munmap in one thread while another reads. */
static volatile char *victim;
static atomic_int reading = 1;
static __thread sigjmp_buf jb;
static atomic_int faults;
static void on_segv(int sig)
{
	(void)sig;
	atomic_fetch_add(&faults, 1);
	siglongjmp(jb, 1);
}
static void *reader(void *arg)
{
	(void)arg;
	long reads = 0;
	if (sigsetjmp(jb, 1))
		return (void *)-1L; /* the page went */
	while (atomic_load(&reading)) {
		(void)victim[0];
		reads++;
	}
	return (void *)reads;
}

static atomic_int allocating = 1;
static void *allocator(void *arg)
{
	(void)arg;
	long n = 0;
	while (atomic_load(&allocating)) {
		char *p = malloc(100000);
		if (p) {
			memset(p, 1, 100000);
			free(p);
			n++;
		}
		sched_yield();
	}
	return (void *)n;
}

/* Two threads upgrading the same pages at once: each writes its own word of every page, and
 * neither write may be lost to the other's upgrade (from the zero page, or copy-on-write). */
#define RACE_PAGES 256
static char *race;
static pthread_barrier_t race_start;
static void *racer(void *arg)
{
	long word = (long)arg;
	pthread_barrier_wait(&race_start);
	for (long pg = 0; pg < RACE_PAGES; pg++)
		((volatile long *)(race + pg * 4096))[word] = word + 1;
	return NULL;
}
static int race_pages(void)
{
	pthread_t a, b;
	pthread_barrier_init(&race_start, NULL, 2);
	pthread_create(&a, NULL, racer, (void *)1L);
	pthread_create(&b, NULL, racer, (void *)2L);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_barrier_destroy(&race_start);
	int lost = 0;
	for (long pg = 0; pg < RACE_PAGES; pg++) {
		volatile long *w = (volatile long *)(race + pg * 4096);
		lost += w[1] != 2 || w[2] != 3;
	}
	return lost;
}

static volatile long counters[4];
static atomic_int writing = 1;
static void *writer(void *arg)
{
	long i = (long)arg;
	while (atomic_load(&writing))
		counters[i]++;
	return NULL;
}

int main(void)
{
	/* 1. A thousand create/join cycles. */
	pthread_t t;
	void *r;
	int ok = 1;
	for (int i = 0; i < 20; i++) {
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
	}
	long before = status_kb("VmSize:");
	for (long i = 0; i < 1000; i++) {
		ok &= pthread_create(&t, NULL, nothing, (void *)i) == 0;
		ok &= pthread_join(t, &r) == 0 && (long)r == i;
	}
	long after = status_kb("VmSize:");
	CHECK(ok, "1000 threads created and joined");
	CHECK(before > 0 && after == before, "VmSize back where it was (%ld kB, then %ld kB)", before, after);

	/* 2. Detached threads. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 50; i++)
		pthread_create(&t, &attr, detached, NULL);
	for (int i = 0; i < 1000 && atomic_load(&detached_done) < 50; i++)
		usleep(1000);
	CHECK(atomic_load(&detached_done) == 50, "50 detached threads ran");

	/* 3. A rwlock and a barrier. */
	pthread_t ts[8];
	pthread_create(&ts[0], NULL, rw_writer, NULL);
	pthread_create(&ts[1], NULL, rw_writer, NULL);
	for (int i = 2; i < 6; i++)
		pthread_create(&ts[i], NULL, rw_reader, NULL);
	for (int i = 0; i < 6; i++)
		pthread_join(ts[i], NULL);
	CHECK(shared_value == 4000 && readers_ok, "a rwlock: writers exclusive, readers see no change");
	pthread_barrier_init(&barrier, NULL, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&ts[i], NULL, barrier_worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(ts[i], NULL);
	CHECK(barrier_ok, "a barrier holds everyone until all four arrive, three times");

	/* 4. malloc from 8 threads. */
	long bad = 0;
	for (int i = 0; i < 8; i++)
		pthread_create(&ts[i], NULL, mallocer, (void *)(long)(i + 1));
	for (int i = 0; i < 8; i++) {
		pthread_join(ts[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0, "malloc from 8 threads (glibc's arenas)");

	/* 5. Faults in disjoint parts while the break moves. */
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&ts[i], NULL, toucher, (void *)(long)i);
	pthread_create(&ts[4], NULL, breaker, NULL);
	bad = 0;
	for (int i = 0; i < 5; i++) {
		pthread_join(ts[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0, "four threads fault their parts of a region while a fifth moves the break");
	munmap(region, REGION);

	/* 6. munmap while another thread reads: afterwards, no access succeeds. */
	/* 1 MiB, so that its page tables are cleared after the mmap lock is downgraded. */
	victim = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	victim[0] = 7;
	signal(SIGSEGV, on_segv);
	pthread_create(&ts[0], NULL, reader, NULL);
	usleep(20000);
	CHECK(munmap((void *)victim, 1 << 20) == 0, "munmap while another thread reads the page");
	int mine = 0;
	if (sigsetjmp(jb, 1) == 0)
		(void)victim[0];
	else
		mine = 1;
	/* The reader's next read faults too, once it runs again. */
	for (int i = 0; i < 2000 && atomic_load(&faults) < 2; i++)
		usleep(1000);
	atomic_store(&reading, 0);
	pthread_join(ts[0], &r);
	CHECK(mine && (long)r == -1, "after munmap returns, a read of the page faults, in both threads");
	signal(SIGSEGV, SIG_DFL);

	/* 7. mlockall from one thread while others allocate (fork keeps the reader's fault away). */
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < 3; i++)
			pthread_create(&ts[i], NULL, allocator, NULL);
		usleep(20000);
		int rc = mlockall(MCL_CURRENT | MCL_FUTURE);
		usleep(20000);
		long locked = status_kb("VmLck:");
		atomic_store(&allocating, 0);
		for (int i = 0; i < 3; i++)
			pthread_join(ts[i], NULL);
		_exit(rc == 0 && locked > 0 ? 0 : 1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mlockall in one thread while three allocate");

	/* 8. Two threads upgrade the same pages at once: from the zero page (every page read
	 * first), then copy-on-write (shared with a child since a fork). */
	race = mmap(NULL, RACE_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long sum = 0;
	for (long pg = 0; pg < RACE_PAGES; pg++)
		sum += race[pg * 4096];
	int lost_zero = race_pages();
	for (long pg = 0; pg < RACE_PAGES; pg++)
		((long *)(race + pg * 4096))[1] = ((long *)(race + pg * 4096))[2] = 0;
	int cp[2];
	int piped = pipe(cp) == 0;
	c = fork();
	if (c == 0) {
		char go;
		(void)!read(cp[0], &go, 1);
		long changed = 0;
		for (long pg = 0; pg < RACE_PAGES; pg++)
			changed += ((long *)(race + pg * 4096))[1] | ((long *)(race + pg * 4096))[2];
		_exit(changed == 0 ? 0 : 1);
	}
	int lost_cow = race_pages();
	(void)!write(cp[1], "g", 1);
	waitpid(c, &st, 0);
	CHECK(piped && sum == 0 && lost_zero == 0 && lost_cow == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "two threads upgrade the same pages at once: no write lost (zero page %d, copy-on-write %d), "
	      "the child's copy untouched (%#x)",
	      lost_zero, lost_cow, st);
	munmap(race, RACE_PAGES * 4096);

	/* 9. fork while other threads write: the child sees one snapshot that stays still. */
	c = fork();
	if (c == 0) {
		for (long i = 0; i < 4; i++)
			pthread_create(&ts[i], NULL, writer, (void *)i);
		usleep(20000);
		int p[2];
		if (pipe(p) != 0)
			_exit(3);
		pid_t g = fork();
		if (g == 0) {
			long snap[4];
			memcpy(snap, (void *)counters, sizeof snap);
			usleep(20000);
			_exit(memcmp(snap, (void *)counters, sizeof snap) == 0 ? 0 : 1);
		}
		int gs = 0;
		waitpid(g, &gs, 0);
		atomic_store(&writing, 0);
		for (int i = 0; i < 4; i++)
			pthread_join(ts[i], NULL);
		_exit(WIFEXITED(gs) ? WEXITSTATUS(gs) : 2);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork while four threads write: the child's copy holds still (%#x)", st);
	return tap_done("mtstress");
}
