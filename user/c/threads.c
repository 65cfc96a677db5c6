/* threads: POSIX threads of static glibc, as programs use them. Creating and joining threads
 * (clone3 with CLONE_THREAD, CLONE_SETTLS, CLONE_CHILD_CLEARTID and a futex wake at exit), thread
 * ids, mutexes and condition variables under preemption (futex WAIT/WAKE), thread-local storage,
 * malloc from several threads, shared descriptors, signals to one thread, and the ends of a
 * process: exit from any thread, the last thread after the first one left, a fatal fault in one
 * thread, and execve from a thread; robust mutexes whose owner thread or process died. */
#define _GNU_SOURCE
#include "tap.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define NTHREADS 4

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

/* Ids: every thread has the process's pid and a tid of its own. */
struct ids { pid_t pid, tid; };

static void *report_ids(void *arg)
{
	struct ids *out = arg;
	out->pid = getpid();
	out->tid = gettid_();
	return (void *)(long)out->tid;
}

/* A counter under a mutex, long enough for the tick to preempt holders. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&lock);
		long c = counter;
		if ((i & 255) == 0)
			sched_yield(); /* holding the lock: the others must wait on the futex */
		counter = c + 1;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* A bounded queue with two condition variables. */
#define QLEN 8
#define ITEMS 2000
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[QLEN], qhead, qcount;

static void *produce(void *arg)
{
	(void)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&qlock);
		while (qcount == QLEN)
			pthread_cond_wait(&not_full, &qlock);
		queue[(qhead + qcount) % QLEN] = i;
		qcount++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&qlock);
	}
	return NULL;
}

static void *consume(void *arg)
{
	long sum = 0;
	(void)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&qlock);
		while (qcount == 0)
			pthread_cond_wait(&not_empty, &qlock);
		sum += queue[qhead];
		qhead = (qhead + 1) % QLEN;
		qcount--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&qlock);
	}
	return (void *)sum;
}

/* Thread-local storage: TPIDR_EL0 is each thread's own. */
static __thread long tls_value = 42;

static void *tls_check(void *arg)
{
	long mine = (long)arg;
	int fresh = tls_value == 42;
	tls_value = mine;
	nap_ms(5);
	return (void *)(long)(fresh && tls_value == mine);
}

/* malloc from several threads at once (glibc gives each its own arena, with mmap). */
static void *churn(void *arg)
{
	long seed = (long)arg, bad = 0;
	for (int round = 0; round < 200; round++) {
		char *blocks[16];
		for (int i = 0; i < 16; i++) {
			size_t n = 16 + ((seed * 7919 + i * 104729 + round) % 20000);
			blocks[i] = malloc(n);
			if (!blocks[i])
				return (void *)1L;
			memset(blocks[i], (int)(seed + i), n);
		}
		for (int i = 0; i < 16; i++) {
			if (blocks[i][0] != (char)(seed + i))
				bad++;
			free(blocks[i]);
		}
	}
	return (void *)bad;
}

/* Descriptors are shared: a thread writes into a pipe the main thread made. */
static void *write_pipe(void *arg)
{
	int fd = (int)(long)arg;
	return (void *)(long)write(fd, "thread", 6);
}

/* A signal sent to one thread runs its handler on that thread. */
static volatile pid_t handled_on;
static void on_usr1(int sig) { (void)sig; handled_on = gettid_(); }
static volatile int go;
static volatile pid_t waiter_tid;

static void *wait_for_signal(void *arg)
{
	(void)arg;
	waiter_tid = gettid_();
	while (!handled_on)
		nap_ms(1);
	return NULL;
}

/* The thread inherits the creator's mask. */
static void *report_mask(void *arg)
{
	(void)arg;
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	return (void *)(long)sigismember(&now, SIGUSR2);
}

/* The ends of a process, each in a child. */
static void *exit_from_thread(void *arg)
{
	nap_ms(10);
	exit((int)(long)arg); /* exit_group: the main thread, asleep in pause(), goes too */
}

static void *last_one(void *arg)
{
	(void)arg;
	nap_ms(30);
	return NULL; /* the last thread to end: the process exits with 0 */
}

static volatile int *volatile nowhere;

static void *fault(void *arg)
{
	(void)arg;
	nap_ms(10);
	*nowhere = 1;
	return NULL;
}

static char **saved_argv;

static void *exec_from_thread(void *arg)
{
	char pid[16];
	(void)arg;
	snprintf(pid, sizeof pid, "%d", getpid());
	execl("/proc/self/exe", saved_argv[0], "--exec-child", pid, (char *)NULL);
	return NULL;
}

static void *timer_thread(void *arg)
{
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	getitimer(ITIMER_REAL, arg);
	waiter_tid = gettid_();
	while (!handled_on)
		nap_ms(5);
	return NULL;
}

static void *spin_forever(void *arg)
{
	volatile long *n = arg;
	for (;;)
		(*n)++;
	return NULL;
}

static void *lock_and_leave(void *arg)
{
	pthread_mutex_lock(arg);
	return NULL; /* ends holding it */
}

static int child_status(pid_t c)
{
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return st;
}

static void *status_reader(void *arg)
{
	(void)arg;
	while (!go)
		nap_ms(1);
	return NULL;
}

/* Entries of a directory other than . and .., or -1 if it cannot be opened. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static volatile int sigchlds;

static void count_sigchld(int sig)
{
	(void)sig;
	sigchlds++;
}

int main(int argc, char **argv)
{
	saved_argv = argv;
	if (argc == 3 && strcmp(argv[1], "--exec-child") == 0) {
		/* After an exec from a thread: one thread, with the process's pid. */
		return getpid() == atoi(argv[2]) && gettid_() == getpid() ? 5 : 6;
	}

	/* 1. Ids. */
	pthread_t t[NTHREADS];
	struct ids ids[NTHREADS];
	int created = 0;
	for (int i = 0; i < NTHREADS; i++)
		created += pthread_create(&t[i], NULL, report_ids, &ids[i]) == 0;
	CHECK(created == NTHREADS, "pthread_create makes %d threads", NTHREADS);
	int same_pid = 1, distinct = 1, joined = 1;
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;
		joined &= pthread_join(t[i], &ret) == 0 && (long)ret == ids[i].tid;
		same_pid &= ids[i].pid == getpid();
		distinct &= ids[i].tid != getpid() && ids[i].tid > 0;
		for (int j = 0; j < i; j++)
			distinct &= ids[i].tid != ids[j].tid;
	}
	CHECK(joined, "pthread_join returns each thread's result");
	CHECK(same_pid, "every thread has the process's pid");
	CHECK(distinct && gettid_() == getpid(), "each thread has a tid of its own; the first one's is the pid");

	/* 2. A mutex under contention. */
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, count, (void *)20000L);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(counter == NTHREADS * 20000L, "a mutex keeps %d increments exact (got %ld)", NTHREADS * 20000, counter);

	/* 3. Condition variables. */
	pthread_t prod, cons;
	void *sum;
	pthread_create(&cons, NULL, consume, NULL);
	pthread_create(&prod, NULL, produce, NULL);
	pthread_join(prod, NULL);
	pthread_join(cons, &sum);
	CHECK((long)sum == (long)ITEMS * (ITEMS + 1) / 2, "a producer and a consumer meet through condition variables");

	/* 4. Thread-local storage. */
	int tls_ok = 1;
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, tls_check, (void *)(long)(100 + i));
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		tls_ok &= (long)r == 1;
	}
	CHECK(tls_ok && tls_value == 42, "__thread variables are per thread");

	/* 5. malloc from several threads. */
	long bad = 0;
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, churn, (void *)(long)(i + 1));
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0, "malloc and free from %d threads at once", NTHREADS);

	/* 6. Shared descriptors. */
	int fds[2];
	char buf[8] = { 0 };
	CHECK(pipe(fds) == 0, "pipe");
	pthread_create(&t[0], NULL, write_pipe, (void *)(long)fds[1]);
	ssize_t got = read(fds[0], buf, sizeof buf - 1);
	void *wr;
	pthread_join(t[0], &wr);
	CHECK((long)wr == 6 && got == 6 && strcmp(buf, "thread") == 0, "a descriptor made by one thread is another's");
	close(fds[0]);
	close(fds[1]);

	/* 7. A signal to one thread. */
	signal(SIGUSR1, on_usr1);
	pthread_create(&t[0], NULL, wait_for_signal, NULL);
	while (!waiter_tid)
		nap_ms(1);
	CHECK(syscall(SYS_tgkill, getpid(), waiter_tid, SIGUSR1) == 0, "tgkill to a thread");
	pthread_join(t[0], NULL);
	CHECK(handled_on == waiter_tid, "its handler ran on that thread (%d, wanted %d)", handled_on, waiter_tid);
	errno = 0;
	CHECK(syscall(SYS_tgkill, getpid() + 1000, waiter_tid, 0) == -1 && errno == ESRCH, "tgkill of a thread that is not there: ESRCH");

	/* 8. The creator's mask. */
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);
	void *inherited;
	pthread_create(&t[0], NULL, report_mask, NULL);
	pthread_join(t[0], &inherited);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	CHECK((long)inherited == 1, "a new thread starts with its creator's signal mask");

	/* 9. /proc/self/status counts the threads. */
	go = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, status_reader, NULL);
	/* Threads joined earlier may still be leaving the group for a moment after their join
	 * (Linux clears the tid before the thread's last steps): read until the count settles. */
	char status[4096];
	for (int tries = 0; tries < 200; tries++) {
		int fd = open("/proc/self/status", O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, status, sizeof status - 1) : -1;
		if (fd >= 0)
			close(fd);
		status[n > 0 ? n : 0] = 0;
		if (strstr(status, "Threads:\t4\n"))
			break;
		nap_ms(5);
	}
	int tasks = 0, mine = 0, sibling = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
			tasks++;
			mine += atoi(e->d_name) == gettid_();
			if (atoi(e->d_name) != gettid_())
				sibling = atoi(e->d_name);
		}
	}
	if (d)
		closedir(d);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", gettid_());
	int own_stat = access(path, R_OK) == 0;
	/* A thread shares the descriptor table and working directory: its fd/ and cwd in /proc
	 * show this thread's, read while this thread's own call holds them. */
	int own_fds = count_entries("/proc/self/fd");
	snprintf(path, sizeof path, "/proc/self/task/%d/fd", sibling);
	int sibling_fds = count_entries(path);
	char cwd[256] = "", sibling_cwd[256] = "";
	snprintf(path, sizeof path, "/proc/self/task/%d/cwd", sibling);
	ssize_t cl = readlink(path, sibling_cwd, sizeof sibling_cwd - 1);
	sibling_cwd[cl > 0 ? cl : 0] = 0;
	int cwd_ok = getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, sibling_cwd) == 0;
	go = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(strstr(status, "Threads:\t4\n") != NULL, "/proc/self/status says Threads: 4");
	CHECK(tasks == 4 && mine == 1 && own_stat, "/proc/self/task lists the 4 threads (%d), this one among them", tasks);
	CHECK(sibling > 0 && own_fds > 0 && sibling_fds == own_fds && cwd_ok,
	      "another thread's /proc fd/ and cwd show the shared table and directory (%d and %d entries, %s and %s)",
	      sibling_fds, own_fds, sibling_cwd, cwd);

	/* 10. exit() from a thread ends the process with its status. */
	pid_t c = fork();
	if (c == 0) {
		pthread_create(&t[0], NULL, exit_from_thread, (void *)3L);
		pause();
		_exit(99);
	}
	int st = child_status(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit from a thread ends every thread (status %#x)", st);

	/* 11. The first thread leaves; the process lives until its last thread ends, and its parent
	 * gets the process's SIGCHLD then, whichever thread ended last. */
	struct sigaction chld = { .sa_handler = count_sigchld, .sa_flags = SA_RESTART };
	sigaction(SIGCHLD, &chld, NULL);
	sigchlds = 0;
	c = fork();
	if (c == 0) {
		pthread_create(&t[0], NULL, last_one, NULL);
		pthread_exit(NULL);
	}
	st = child_status(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "after pthread_exit in main, the last thread's end ends the process (status %#x)", st);
	CHECK(sigchlds == 1, "and the parent gets SIGCHLD (%d)", sigchlds);
	signal(SIGCHLD, SIG_DFL);

	/* 12. A fault in one thread kills the process. */
	c = fork();
	if (c == 0) {
		pthread_create(&t[0], NULL, fault, NULL);
		pause();
		_exit(99);
	}
	st = child_status(c);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a fault in one thread kills them all (status %#x)", st);

	/* 13. execve from a thread: the others end, and the program keeps the pid. */
	c = fork();
	if (c == 0) {
		pthread_create(&t[0], NULL, exec_from_thread, NULL);
		pause();
		_exit(99);
	}
	st = child_status(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "execve from a thread: one thread left, with the process's pid (status %#x)", st);

	/* 14. kill() of the process reaches a thread that does not block the signal. */
	c = fork();
	if (c == 0) {
		sigset_t all;
		sigfillset(&all);
		waiter_tid = 0;
		handled_on = 0;
		pthread_create(&t[0], NULL, wait_for_signal, NULL);
		while (!waiter_tid)
			nap_ms(1);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
		kill(getpid(), SIGUSR1);
		pthread_join(t[0], NULL);
		_exit(handled_on == waiter_tid ? 0 : 1);
	}
	st = child_status(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a signal to the process runs on the thread that does not block it");

	/* 15. The interval timer is the process's: armed by one thread, seen by another, and its
	 * SIGALRM taken by the thread that does not block it. */
	c = fork();
	if (c == 0) {
		waiter_tid = 0;
		handled_on = 0;
		signal(SIGALRM, on_usr1);
		sigset_t alrm;
		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &alrm, NULL);
		struct itimerval it = { { 0, 0 }, { 0, 200000 } }, seen;
		setitimer(ITIMER_REAL, &it, NULL);
		pthread_create(&t[0], NULL, timer_thread, &seen);
		pthread_join(t[0], NULL);
		_exit(handled_on == waiter_tid && seen.it_value.tv_usec + seen.it_value.tv_sec > 0 ? 0 : 1);
	}
	st = child_status(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setitimer is the process's: another thread sees it, and takes its SIGALRM");

	/* 16. SIGSTOP stops every thread of a process; SIGCONT resumes them all. */
	volatile long *spins = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		pthread_create(&t[0], NULL, spin_forever, (void *)spins);
		for (;;)
			pause();
	}
	nap_ms(30);
	kill(c, SIGSTOP);
	int stopped = waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st);
	long s1 = *spins;
	nap_ms(60);
	long s2 = *spins;
	kill(c, SIGCONT);
	nap_ms(60);
	long s3 = *spins;
	kill(c, SIGKILL);
	child_status(c);
	CHECK(stopped && s1 == s2 && s3 > s2, "SIGSTOP stops every thread (%ld, %ld), SIGCONT resumes them (%ld)", s1, s2, s3);

	/* 17. A robust mutex whose owner thread ends: the next locker gets EOWNERDEAD. */
	static pthread_mutex_t robust;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &ma);
	pthread_create(&t[0], NULL, lock_and_leave, &robust);
	pthread_join(t[0], NULL);
	int r = pthread_mutex_lock(&robust);
	CHECK(r == EOWNERDEAD, "a robust mutex left locked by a dead thread: EOWNERDEAD (%d)", r);
	CHECK(pthread_mutex_consistent(&robust) == 0 && pthread_mutex_unlock(&robust) == 0, "made consistent again");

	/* 18. The same across processes, in shared memory: the owner process dies. */
	pthread_mutex_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(shared, &ma);
	c = fork();
	if (c == 0) {
		pthread_mutex_lock(shared);
		_exit(0);
	}
	child_status(c);
	r = pthread_mutex_lock(shared);
	CHECK(r == EOWNERDEAD, "a process-shared robust mutex left by a dead process: EOWNERDEAD (%d)", r);

	return tap_done("threads");
}
