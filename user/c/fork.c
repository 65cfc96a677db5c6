/* fork: processes sharing memory copy-on-write. Both sides of a fork write the same heap page and
 * keep their own data; breaks move independently; exit codes and deaths by signal reach wait4;
 * a child that only reads shared memory takes no fault, one that writes takes one per page;
 * 100 forks leave the free memory where it was; a fork bomb ends in EAGAIN, not a crash. */
#define _GNU_SOURCE
#include "tap.h"
#include "selfinfo.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

#define PAGE 4096UL


static unsigned long free_ram(void)
{
	struct sysinfo si;
	sysinfo(&si);
	return si.freeram * si.mem_unit;
}

/* Runs `child` in a child process and returns its wait status. */
static int in_child(int (*child)(void))
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static char *heap;
enum { SHARED_PAGES = 64 };

static int child_writes_heap(void)
{
	heap[0] = 'c';
	return heap[0] == 'c' ? 0 : 1;
}

static int child_moves_break(void)
{
	char *b = brk_to(0);
	return brk_to(b + 16 * PAGE) == b + 16 * PAGE ? 0 : 1;
}

/* A tidemark difference (tests/oracle/linux-disagrees.txt): Linux marks the child's copies of the
 * page-table entries old at fork (pte_mkold in copy_present_pte, for page aging), and on a CPU
 * without hardware access-flag updates, as cortex-a72, each first access is then a minor fault.
 * tidemark has no reclaim and so no aging: the child's reads take no fault at all. */
static int child_reads_only(void)
{
	long before = minflt();
	unsigned sum = 0;
	for (unsigned long i = 0; i < SHARED_PAGES; i++)
		sum += ((volatile char *)heap)[i * PAGE + 100];
	long faults = minflt() - before;
	return sum == 'p' * SHARED_PAGES && faults == 0 ? 0 : 1;
}

static int child_writes_all(void)
{
	long before = minflt();
	for (unsigned long i = 0; i < SHARED_PAGES; i++)
		heap[i * PAGE + 200] = 1;
	long faults = minflt() - before;
	return faults >= SHARED_PAGES && faults <= SHARED_PAGES + 2 ? 0 : 1;
}

static int child_segfaults(void)
{
	int *volatile bad = (int *)(uintptr_t)8;
	*bad = 1;
	return 0;
}

static int child_exits_42(void) { return 42; }

int main(void)
{
	heap = malloc(SHARED_PAGES * PAGE);
	for (unsigned long i = 0; i < SHARED_PAGES; i++)
		heap[i * PAGE + 100] = 'p';
	heap[0] = 'p';

	int st = in_child(child_writes_heap);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && heap[0] == 'p',
	      "child and parent write the same heap page and keep their own data");
	char *b = brk_to(0);
	st = in_child(child_moves_break);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && brk_to(0) == b, "the child's break moves, the parent's stays");
	st = in_child(child_exits_42);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "a child's exit code reaches wait4 (status %#x)", st);
	st = in_child(child_segfaults);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && !WCOREDUMP(st),
	      "a child killed by SIGSEGV is reported as signalled (status %#x)", st);
	st = in_child(child_reads_only);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child that only reads shared pages takes no fault");
	st = in_child(child_writes_all);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child that writes takes one copy-on-write fault per page");
	CHECK(heap[200] == 0, "the parent's pages are untouched by the child's writes");

	pid_t w = fork();
	if (w == 0)
		_exit(5);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, w, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == w && si.si_code == CLD_EXITED &&
		      si.si_status == 5,
	      "waitid with WNOWAIT reports the exit and leaves the zombie");
	CHECK(waitpid(w, &st, 0) == w && WEXITSTATUS(st) == 5, "then wait4 reaps it");

	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "wait with no children: ECHILD");
	pid_t p = fork();
	if (p == 0) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		_exit(3);
	}
	CHECK(waitpid(p, NULL, WNOHANG) == 0, "WNOHANG while the child runs: 0");
	CHECK(waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 3, "a blocking wait returns when the child exits");

	/* Warm up first: the kernel heap may grow once (from free memory) and then stays. */
	for (int i = 0; i < 10; i++)
		in_child(child_writes_all);
	unsigned long before = free_ram();
	for (int i = 0; i < 100; i++) {
		st = in_child(child_writes_all);
		if (!WIFEXITED(st))
			break;
	}
	unsigned long after = free_ram();
	CHECK(after == before, "100 forks and waits leave free memory unchanged (%lu -> %lu)", before, after);

	/* Pipes: a child reports to its parent; reads block until data or EOF. */
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	pid_t writer = fork();
	if (writer == 0) {
		close(fds[0]);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		(void)!write(fds[1], "from the child", 14);
		_exit(0);
	}
	close(fds[1]);
	char msg[32] = { 0 };
	ssize_t got = read(fds[0], msg, sizeof msg);
	CHECK(got == 14 && memcmp(msg, "from the child", 14) == 0, "a blocking read gets the child's message");
	CHECK(read(fds[0], msg, sizeof msg) == 0, "then EOF once the writer is gone");
	close(fds[0]);
	waitpid(writer, NULL, 0);
	pid_t piper = fork();
	if (piper == 0) {
		int p2[2];
		(void)!pipe(p2);
		close(p2[0]);
		(void)!write(p2[1], "x", 1);
		_exit(0);
	}
	CHECK(waitpid(piper, &st, 0) == piper && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
	      "writing to a pipe nobody reads kills with SIGPIPE (status %#x)", st);
	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(fds) == 0 && close(fds[0]) == 0 && write(fds[1], "x", 1) == -1 && errno == EPIPE,
	      "with SIGPIPE ignored the write fails with EPIPE");
	close(fds[1]);

	/* The timer preempts a process that never yields. */
	pid_t spinner = fork();
	if (spinner == 0)
		for (;;)
			__asm__ volatile("" ::: "memory");
	struct timespec tick = { 0, 30 * 1000 * 1000 };
	nanosleep(&tick, NULL);
	kill(spinner, SIGKILL);
	CHECK(waitpid(spinner, &st, 0) == spinner && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "a spinning child is preempted, so its parent can kill it (status %#x)", st);

	/* A bounded fork bomb, unprivileged (root is not held to RLIMIT_NPROC). */
	int bomb = fork();
	if (bomb == 0) {
		struct rlimit lim = { 20, 20 };
		setrlimit(RLIMIT_NPROC, &lim);
		if (setresuid(65534, 65534, 65534) != 0)
			_exit(10);
		int made = 0, err = 0;
		for (int i = 0; i < 100; i++) {
			pid_t c = fork();
			if (c == 0) {
				struct timespec ts = { 0, 50 * 1000 * 1000 };
				nanosleep(&ts, NULL);
				_exit(0);
			}
			if (c < 0) {
				err = errno;
				break;
			}
			made++;
		}
		while (wait(NULL) > 0)
			;
		_exit(err == EAGAIN && made > 0 && made < 20 ? 0 : 11);
	}
	CHECK(waitpid(bomb, &st, 0) == bomb && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a fork bomb under RLIMIT_NPROC ends in EAGAIN (status %#x)", st);

	/* Every child that shared the heap has exited: the parent, last sharer of each page, takes
	 * it over writable without a copy, and each first write is still a fault (wp_page_reuse). */
	long f0 = minflt();
	for (unsigned long i = 0; i < SHARED_PAGES; i++)
		heap[i * PAGE + 300] = 1;
	long faults = minflt() - f0;
	CHECK(faults == SHARED_PAGES && heap[100] == 'p',
	      "the last sharer's first write to each page is one fault (%ld for %d pages)", faults, SHARED_PAGES);
	return tap_done("fork");
}
