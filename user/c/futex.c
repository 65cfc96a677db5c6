/* futex: the futex(2) operations beyond WAIT and WAKE that threads libraries use, with Linux's
 * answers: WAKE_OP (every operation and comparison, its wakes on both words), and the
 * priority-inheritance locks LOCK_PI, LOCK_PI2, TRYLOCK_PI and UNLOCK_PI (taking a free lock,
 * handing it over to a sleeper, EDEADLK, EPERM, ESRCH, EAGAIN, ETIMEDOUT, an owner that died),
 * then glibc's PTHREAD_PRIO_INHERIT mutexes on top of them. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

static long futex(uint32_t *w, int op, uint32_t val, uintptr_t val2, uint32_t *w2, uint32_t val3)
{
	return syscall(SYS_futex, w, op, val, val2, w2, val3);
}

static int err(long r) { return r == -1 ? errno : 0; }
static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void pause_ms(long ms)
{
	struct timespec d = { 0, ms * 1000000L };
	nanosleep(&d, NULL);
}

/* The real-time clock `ms` milliseconds from now (an absolute deadline). */
static struct timespec realtime_in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ms * 1000000L;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* ---- WAKE_OP ---------------------------------------------------------------------------------- */

static uint32_t w1, w2;
static volatile int asleep;

static void *sleeper(void *arg)
{
	uint32_t *w = arg;
	__atomic_add_fetch(&asleep, 1, __ATOMIC_SEQ_CST);
	long r = futex(w, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
	return (void *)(intptr_t)(r == 0);
}

/* Starts a sleeper on each of `a` and `b` (either may be NULL) and waits until both sleep. */
static void start_sleepers(pthread_t *ta, uint32_t *a, pthread_t *tb, uint32_t *b)
{
	asleep = 0;
	int n = 0;
	if (a && ++n)
		pthread_create(ta, NULL, sleeper, a);
	if (b && ++n)
		pthread_create(tb, NULL, sleeper, b);
	while (__atomic_load_n(&asleep, __ATOMIC_SEQ_CST) < n)
		pause_ms(1);
	pause_ms(50);
}

static int wake_op_case(int op, int oparg, uint32_t before, uint32_t after)
{
	w2 = before;
	long r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(op, oparg, FUTEX_OP_CMP_EQ, 0));
	return r == 0 && w2 == after;
}

/* ---- PI --------------------------------------------------------------------------------------- */

static uint32_t pi;
static volatile int holder_ready, holder_release;
static pid_t holder_tid;

/* Takes the PI lock, says so, holds it until told, then lets it go. */
static void *holder(void *arg)
{
	(void)arg;
	holder_tid = tid();
	long r = futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, 0, NULL, 0);
	holder_ready = 1;
	while (!holder_release)
		pause_ms(1);
	if (r == 0)
		futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0);
	return NULL;
}

static volatile int locker_got;
static volatile uint32_t word_when_got;

/* Blocks in LOCK_PI until the lock is handed over, records the word, then unlocks. */
static void *locker(void *arg)
{
	(void)arg;
	long r = futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, 0, NULL, 0);
	word_when_got = __atomic_load_n(&pi, __ATOMIC_SEQ_CST);
	locker_got = (r == 0) ? tid() : -errno;
	pause_ms(20);
	futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0);
	return NULL;
}

static pthread_mutex_t pim;
static long counter;

static void *count(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&pim);
		counter++;
		pthread_mutex_unlock(&pim);
	}
	return NULL;
}

int main(void)
{
	/* WAKE_OP: the operations and comparisons on the second word. */
	CHECK(wake_op_case(FUTEX_OP_SET, 7, 1, 7) && wake_op_case(FUTEX_OP_ADD, 3, 5, 8) &&
	      wake_op_case(FUTEX_OP_OR, 6, 9, 15) && wake_op_case(FUTEX_OP_ANDN, 3, 15, 12) &&
	      wake_op_case(FUTEX_OP_XOR, 5, 6, 3),
	      "WAKE_OP changes the second word: SET, ADD, OR, ANDN, XOR");
	CHECK(wake_op_case(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 4, 1, 17) &&
	      wake_op_case(FUTEX_OP_ADD, -2, 5, 3),
	      "FUTEX_OP_OPARG_SHIFT takes 1 << oparg, and oparg is signed");
	w2 = 0;
	CHECK(err(futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, (5u << 28))) == ENOSYS &&
	      err(futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, (6u << 24))) == ENOSYS && w2 == 0,
	      "an unknown operation or comparison: ENOSYS, the word untouched");
	CHECK(err(futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, (uint32_t *)8, 0)) == EFAULT &&
	      err(futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, (uint32_t *)((char *)&w2 + 1), 0)) == EINVAL,
	      "a bad second word: EFAULT, a misaligned one: EINVAL");

	pthread_t a, b;
	void *ra, *rb;
	w1 = w2 = 0;
	start_sleepers(&a, &w1, &b, &w2);
	w2 = 0;
	long r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	CHECK(r == 2 && w2 == 1 && ra && rb, "WAKE_OP wakes a sleeper on each word when the old value "
	      "compares true (%ld woken)", r);
	w2 = 0;
	start_sleepers(&a, &w1, &b, &w2);
	w2 = 5;
	r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_LT, 5));
	pthread_join(a, &ra);
	long r2 = futex(&w2, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	pthread_join(b, &rb);
	CHECK(r == 1 && r2 == 1 && w2 == 0, "and only the first word's when it compares false (%ld, then "
	      "%ld)", r, r2);

	/* PI: a free lock, the owner's errors. */
	pi = 0;
	CHECK(futex(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0, NULL, 0) == 0 && pi == (uint32_t)tid(),
	      "TRYLOCK_PI of a free lock: the word holds the caller's tid");
	CHECK(err(futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, 0, NULL, 0)) == EDEADLK,
	      "LOCK_PI of a lock the caller holds: EDEADLK");
	CHECK(futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0) == 0 && pi == 0,
	      "UNLOCK_PI without sleepers: the word goes to 0");
	CHECK(err(futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0)) == EPERM,
	      "UNLOCK_PI of a lock the caller does not hold: EPERM");
	pi = 0x3ffffff0;
	CHECK(err(futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, 0, NULL, 0)) == ESRCH,
	      "LOCK_PI of a word naming no thread: ESRCH");
	pi = FUTEX_OWNER_DIED;
	CHECK(futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, 0, NULL, 0) == 0 &&
	      pi == (FUTEX_OWNER_DIED | (uint32_t)tid()),
	      "LOCK_PI of a lock whose owner died: taken, the word keeps FUTEX_OWNER_DIED");
	futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0);
	CHECK(futex(&pi, FUTEX_LOCK_PI2_PRIVATE, 0, 0, NULL, 0) == 0 && pi == (uint32_t)tid() &&
	      futex(&pi, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, NULL, 0) == 0,
	      "LOCK_PI2 takes a free lock too");

	/* PI under contention: another thread holds it. */
	pi = 0;
	pthread_t h, l;
	pthread_create(&h, NULL, holder, NULL);
	while (!holder_ready)
		pause_ms(1);
	CHECK(err(futex(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0, NULL, 0)) == EAGAIN,
	      "TRYLOCK_PI of a lock another thread holds: EAGAIN");
	struct timespec soon = realtime_in_ms(30);
	CHECK(err(futex(&pi, FUTEX_LOCK_PI_PRIVATE, 0, (uintptr_t)&soon, NULL, 0)) == ETIMEDOUT,
	      "LOCK_PI with a real-time deadline 30 ms ahead: ETIMEDOUT");
	CHECK(pi == ((uint32_t)holder_tid | FUTEX_WAITERS), "the holder's word now says someone waited "
	      "(%#x)", pi);
	pthread_create(&l, NULL, locker, NULL);
	pause_ms(50);
	holder_release = 1;
	pthread_join(h, NULL);
	pthread_join(l, NULL);
	CHECK(locker_got > 0 && word_when_got == ((uint32_t)locker_got | FUTEX_WAITERS),
	      "UNLOCK_PI hands the lock to the sleeper: its LOCK_PI returns with its tid in the word, "
	      "marked FUTEX_WAITERS so that its unlock comes to the kernel (%d, %#x)", locker_got,
	      word_when_got);
	CHECK(pi == 0, "and its own UNLOCK_PI frees it (%#x)", pi);

	/* glibc's priority-inheritance mutexes. */
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	int proto = pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pim, &at);
	pthread_t c[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&c[i], NULL, count, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(c[i], NULL);
	CHECK(proto == 0 && counter == 60000, "a PTHREAD_PRIO_INHERIT mutex keeps 3 threads' 60000 "
	      "increments exact (%ld)", counter);
	/* A normal PI mutex locked again by its owner: the kernel's EDEADLK makes glibc wait out
	 * the deadline. */
	pthread_mutex_lock(&pim);
	struct timespec later = realtime_in_ms(20);
	int again = pthread_mutex_timedlock(&pim, &later);
	pthread_mutex_unlock(&pim);
	CHECK(again == ETIMEDOUT, "pthread_mutex_timedlock of a PI mutex its caller holds: ETIMEDOUT (%d)",
	      again);
	return tap_done("futex");
}
