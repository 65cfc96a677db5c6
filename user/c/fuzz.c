/* fuzz: every syscall argument from EL0 is hostile. Children call syscalls with random numbers and
 * arguments drawn from the values that break kernels: 0, ~0, 2^48, kernel addresses, unaligned
 * and huge values, pointers into mapped and unmapped memory. A child may die of what it did to
 * itself (unmapping its own stack, installing a wild signal handler); the kernel must not. The
 * parent reaps every child, kills those that block for too long, and reports the counts.
 * Run as `fuzz [SEED] [CHILDREN]`. */
#define _GNU_SOURCE
#include "tap.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static uint64_t state;

static uint64_t rnd(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* Syscalls that would end the run or the parent rather than test the kernel: exit, exit_group,
 * reboot, kill/tkill/tgkill (a random pid can be the parent or init), clone (fork bombs). */
static int forbidden(long nr)
{
	switch (nr) {
	case SYS_exit: case SYS_exit_group: case SYS_reboot: case SYS_kill: case SYS_tkill:
	case SYS_tgkill: case SYS_clone: case SYS_clone3:
		return 1;
	}
	return 0;
}

static char buf[3 * 4096];

static uint64_t arg(void)
{
	static const uint64_t special[] = {
		0, 1, 2, 3, 8, 64, 4095, 4096, 4097, 1 << 20, 0x7fffffff, 0x80000000, 0xffffffff,
		1UL << 47, 1UL << 48, (1UL << 48) - 4096, 0xffff000000000000UL, 0xffff000040080000UL,
		0xffffffffffffffffUL, 0xfffffffffffff000UL, 0x8000000000000000UL, (uint64_t)-4095,
	};
	switch (rnd() % 5) {
	case 0: return special[rnd() % (sizeof special / sizeof special[0])];
	case 1: return (uint64_t)buf + rnd() % sizeof buf;       /* into a mapped buffer */
	case 2: return rnd() % 4096;                              /* small numbers, flags */
	case 3: return rnd() & ((1UL << 48) - 1);                 /* anywhere in user space */
	default: return rnd();
	}
}

/* Half of the calls go to the memory manager, the heart of the kernel. */
static const long mm_calls[] = {
	SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_mlock,
	SYS_munlock, SYS_mlockall, SYS_munlockall, SYS_mincore, SYS_mlock2,
};

static void child(uint64_t seed, int calls)
{
	state = seed;
	for (int i = 0; i < calls; i++) {
		long nr = rnd() % 2 ? mm_calls[rnd() % (sizeof mm_calls / sizeof mm_calls[0])] : (long)(rnd() % 300);
		if (forbidden(nr))
			continue;
		syscall(nr, arg(), arg(), arg(), arg(), arg(), arg());
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x7469646531;
	int children = argc > 2 ? atoi(argv[2]) : 200;
	int exited = 0, signalled = 0, killed_by_us = 0;
	state = seed;
	for (int c = 0; c < children; c++) {
		uint64_t child_seed = rnd() | 1;
		pid_t pid = fork();
		if (pid == 0)
			child(child_seed, 50);
		if (pid < 0) {
			tap_out("fork failed at child %d\n", c);
			break;
		}
		/* Give it 200 ms of time, then kill it: some calls block (ppoll, wait4, pipes). */
		int st = 0;
		for (int t = 0; t < 200; t++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				goto reaped;
			struct timespec ms = { 0, 1000 * 1000 };
			nanosleep(&ms, NULL);
		}
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		killed_by_us++;
		continue;
	reaped:
		if (WIFEXITED(st))
			exited++;
		else
			signalled++;
	}
	CHECK(exited + signalled + killed_by_us == children,
	      "%d children ran random syscalls: %d exited, %d died of their own doing, %d were stopped",
	      children, exited, signalled, killed_by_us);
	CHECK(exited > 0, "some children survived their calls");
	return tap_done("fuzz");
}
