/* abi: what a static glibc program sees of tidemark's Linux ABI: arguments, environment and auxv,
 * malloc, signals with siginfo and sigreturn, EFAULT from a bad pointer, and the basic identity and
 * time calls. Run as `abi alpha beta`. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include "selfinfo.h"
#include <sys/utsname.h>
#include <sys/time.h>
#include <time.h>

static sigjmp_buf jump;
static volatile int got_sig, got_code;
static volatile void *got_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	siglongjmp(jump, 1);
}

static volatile int usr1_count;
static void on_usr1(int sig)
{
	/* Clobber callee-saved FP registers: sigreturn must restore them. */
	__asm__ volatile("fmov d8, xzr\n fmov d9, xzr" ::: "d8", "d9");
	usr1_count += sig == SIGUSR1;
}

static int catch_fault(void (*f)(void))
{
	got_sig = 0;
	if (sigsetjmp(jump, 1) == 0)
		f();
	return got_sig;
}

static void write_null(void) { *(volatile int *)0 = 1; }
static char *ro_page;
static void write_ro(void) { ro_page[8] = 1; }

int main(int argc, char **argv, char **envp)
{
	int envc = 0;
	while (envp[envc])
		envc++;
	CHECK(argc == 3 && strcmp(argv[1], "alpha") == 0 && strcmp(argv[2], "beta") == 0,
	      "argv is [%s, %s, %s]", argv[0], argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "");
	CHECK(getenv("HOME") && strcmp(getenv("HOME"), "/") == 0, "HOME=/ in %d variables", envc);
	CHECK(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ is 4096");
	CHECK(getauxval(AT_PHDR) != 0 && getauxval(AT_PHNUM) > 0, "AT_PHDR and AT_PHNUM");
	CHECK(getauxval(AT_RANDOM) != 0, "AT_RANDOM");
	CHECK((getauxval(AT_HWCAP) & 3) == 3, "AT_HWCAP has FP and ASIMD (%#lx)", getauxval(AT_HWCAP));
	CHECK(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK is 100");
	const char *platform = (const char *)getauxval(AT_PLATFORM);
	CHECK(platform && strcmp(platform, "aarch64") == 0, "AT_PLATFORM is aarch64");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	CHECK(execfn && execfn[0] == '/', "AT_EXECFN is %s", execfn ? execfn : "(null)");

	unsigned long sum = 0, count = 0;
	for (size_t size = 1; size <= (4 << 20); size = size * 3 + 1, count++) {
		unsigned char *p = malloc(size);
		if (!p)
			break;
		memset(p, 0x5a, size);
		sum += p[size - 1];
		free(p);
	}
	CHECK(sum == 0x5a * count, "malloc and free of %lu sizes from 1 B to 4 MiB", count);

	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	CHECK(catch_fault(write_null) == SIGSEGV && got_code == SEGV_MAPERR && got_addr == 0,
	      "a NULL write is SIGSEGV/SEGV_MAPERR at 0 (code %d, addr %p)", got_code, got_addr);
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(catch_fault(write_ro) == SIGSEGV && got_code == SEGV_ACCERR && got_addr == ro_page + 8,
	      "a write to PROT_READ memory is SIGSEGV/SEGV_ACCERR at the address");
	CHECK(catch_fault(write_null) == SIGSEGV, "the handler runs again after siglongjmp");

	signal(SIGUSR1, on_usr1);
	double keep = 1.5;
	__asm__ volatile("fmov d8, %d0" ::"w"(keep) : "d8");
	raise(SIGUSR1);
	double after;
	__asm__ volatile("fmov %d0, d8" : "=w"(after));
	CHECK(usr1_count == 1 && after == 1.5, "a handler runs and rt_sigreturn restores FP registers");

	errno = 0;
	void *volatile bad = (void *)16;
	long r = write(1, bad, 10);
	CHECK(r == -1 && errno == EFAULT, "write(2) from a bad pointer is EFAULT");
	errno = 0;
	bad = (void *)0xffff000040080000UL;
	r = write(1, bad, 10);
	CHECK(r == -1 && errno == EFAULT, "write(2) from a kernel address is EFAULT");

	struct utsname u;
	CHECK(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0 && strcmp(u.machine, "aarch64") == 0,
	      "uname: %s %s", u.sysname, u.machine);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct timespec nap = { 0, 1000000 };
	nanosleep(&nap, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
	CHECK(ns >= 1000000, "nanosleep(1 ms) sleeps (%ld ns)", ns);
	CHECK(getpid() == 1 && getppid() == 0 && getuid() == 0, "getpid 1, getppid 0, getuid 0");

	char name[16] = { 0 };
	CHECK(prctl(PR_SET_NAME, "tidemark-test-long-name") == 0 && prctl(PR_GET_NAME, name) == 0 &&
		      strcmp(name, "tidemark-test-l") == 0,
	      "PR_SET_NAME keeps 15 bytes, PR_GET_NAME reads them back (%s)", name);
	static char stat[512];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0 && strstr(stat, "(tidemark-test-l)") != NULL, "/proc/self/stat shows the new name");
	CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0 && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 &&
		      prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1,
	      "PR_SET_THP_DISABLE is remembered");
	errno = 0;
	CHECK(prctl(PR_SET_THP_DISABLE, 1, 1, 0, 0) == -1 && errno == EINVAL,
	      "PR_SET_THP_DISABLE with a stray argument: EINVAL");

	/* The wall clock comes from the RTC: after 2025-01-01, and gettimeofday agrees with it. */
	struct timespec rt;
	struct timeval tv;
	clock_gettime(CLOCK_REALTIME, &rt);
	gettimeofday(&tv, NULL);
	tap_out("# realtime: %ld\n", (long)rt.tv_sec);
	CHECK(rt.tv_sec > 1735689600, "CLOCK_REALTIME is a date after 2025 (%ld)", (long)rt.tv_sec);
	CHECK(tv.tv_sec >= rt.tv_sec && tv.tv_sec <= rt.tv_sec + 1, "gettimeofday agrees with it");
	return tap_done("abi");
}
