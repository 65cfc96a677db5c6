/* shm: memory shared between processes and memory backed by files. MAP_SHARED anonymous memory
 * and /dev/zero stay shared across fork; a file's MAP_SHARED mapping and read(2)/write(2) see the
 * same pages; MAP_PRIVATE copies on write; memfd; SIGBUS past the end of a file; Linux's errors. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PAGE 4096
static sigjmp_buf jb;
static volatile int bus_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	bus_code = si->si_code;
	siglongjmp(jb, 1);
}

static int err(long r) { return r == -1 ? errno : 0; }

/* Forks a child that stores `v` at `p`; waits for it. */
static int child_writes(volatile int *p, int v)
{
	pid_t c = fork();
	if (c == 0) {
		*p = v;
		_exit(0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	int *sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED && child_writes(sh, 42) && *sh == 42,
	      "MAP_SHARED|MAP_ANONYMOUS: a child's store is seen by the parent");
	*sh = 1;
	CHECK(child_writes(sh, *sh + 1) && *sh == 2, "and again after the parent wrote it");
	int *pr = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*pr = 7;
	CHECK(child_writes(pr, 99) && *pr == 7, "MAP_PRIVATE: the child's store stays the child's");
	int z = open("/dev/zero", O_RDWR);
	int *zs = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	CHECK(zs != MAP_FAILED && zs[1000] == 0 && child_writes(&zs[1500], 5) && zs[1500] == 5,
	      "MAP_SHARED of /dev/zero is shared memory too");
	close(z);

	(void)mkdir("/tmp", 01777);
	int fd = open("/tmp/shm-test", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char buf[PAGE];
	memset(buf, 'a', PAGE);
	CHECK(fd >= 0 && write(fd, buf, PAGE) == PAGE && write(fd, buf, PAGE) == PAGE,
	      "a file of two pages");
	char *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED && m[0] == 'a' && m[PAGE + 5] == 'a', "MAP_SHARED of it reads its data");
	m[10] = 'M';
	char c = 0;
	CHECK(pread(fd, &c, 1, 10) == 1 && c == 'M', "a store through the mapping is what read(2) sees");
	CHECK(pwrite(fd, "W", 1, PAGE + 1) == 1 && m[PAGE + 1] == 'W',
	      "a write(2) is what the mapping sees");
	CHECK(child_writes((int *)(m + 100), 0x64636261) && pread(fd, buf, 4, 100) == 4 &&
		      !memcmp(buf, "abcd", 4),
	      "a child's store through the inherited mapping reaches the file");
	CHECK(msync(m, 2 * PAGE, MS_SYNC) == 0 && msync(m, PAGE, MS_ASYNC) == 0, "msync");
	CHECK(err(msync(m + 1, PAGE, MS_SYNC)) == EINVAL &&
		      err(msync(m, PAGE, MS_SYNC | MS_ASYNC)) == EINVAL && err(msync(m, PAGE, 8)) == EINVAL,
	      "msync: unaligned, both modes, unknown flag: EINVAL");

	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED && p[10] == 'M', "MAP_PRIVATE of the file reads its data");
	CHECK(pwrite(fd, "X", 1, PAGE + 2) == 1 && p[PAGE + 2] == 'X',
	      "before its first store, a private page shows later writes to the file");
	p[20] = 'P';
	CHECK(pread(fd, &c, 1, 20) == 1 && c == 'a' && m[20] == 'a' && p[20] == 'P',
	      "a store to a private mapping stays private");
	CHECK(pwrite(fd, "Y", 1, 21) == 1 && p[21] == 'a', "and its copied page no longer follows the file");

	char line[256] = "";
	FILE *maps = fopen("/proc/self/maps", "r");
	int named = 0;
	while (maps && fgets(line, sizeof line, maps))
		named += strstr(line, "/tmp/shm-test") != NULL;
	if (maps)
		fclose(maps);
	CHECK(named == 2, "/proc/self/maps names the file for both mappings (%d)", named);

	/* SIGBUS for a page wholly past the end of the file. */
	CHECK(ftruncate(fd, PAGE) == 0, "shrink the file to one page");
	char *b = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	struct sigaction sa = {.sa_sigaction = on_bus, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	volatile char x = 0;
	int got_bus = 0;
	if (sigsetjmp(jb, 1) == 0)
		x = b[PAGE + 1];
	else
		got_bus = 1;
	(void)x;
	CHECK(got_bus && bus_code == BUS_ADRERR, "a page past the end of the file: SIGBUS (BUS_ADRERR)");
	CHECK(b[PAGE - 1] == 'a', "the page before it reads");
	/* The mappings made before the truncate lose the page too, a private one even its copy. */
	int bus_m = 0, bus_p = 0;
	if (sigsetjmp(jb, 1) == 0)
		x = m[PAGE + 1];
	else
		bus_m = 1;
	if (sigsetjmp(jb, 1) == 0)
		x = p[PAGE + 3];
	else
		bus_p = 1;
	CHECK(bus_m && bus_p && p[20] == 'P' && m[10] == 'M',
	      "pages mapped before the truncate past its end: SIGBUS, shared or private; those before it stay");

	int ro = open("/tmp/shm-test", O_RDONLY);
	CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES,
	      "a writable shared mapping of a read-only descriptor: EACCES");
	char *r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
	CHECK(r != MAP_FAILED && err(mprotect(r, PAGE, PROT_READ | PROT_WRITE)) == EACCES,
	      "nor can it become writable later");
	char *rp = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK(rp != MAP_FAILED && (rp[0] = 'z') == 'z', "a private writable mapping of it is fine");
	int wo = open("/tmp/shm-test", O_WRONLY);
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED && errno == EACCES,
	      "a write-only descriptor: EACCES");
	int pipefd[2];
	(void)!pipe(pipefd);
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, pipefd[0], 0) == MAP_FAILED && errno == ENODEV,
	      "a pipe: ENODEV");
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 99, 0) == MAP_FAILED && errno == EBADF,
	      "no such descriptor: EBADF");

	int mfd = memfd_create("shm-test", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, PAGE) == 0, "memfd_create and size it");
	int *mm = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	int v = 0;
	CHECK(mm != MAP_FAILED && child_writes(mm, 1234) && pread(mfd, &v, 4, 0) == 4 && v == 1234,
	      "a memfd mapping is shared with a child and with read(2)");
	char link[64] = "", path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	CHECK(n > 0 && !strncmp(link, "/memfd:shm-test", 15), "its descriptor names it %s", link);
	CHECK(fcntl(mfd, F_GETFD) == FD_CLOEXEC, "MFD_CLOEXEC");

	munmap(m, 2 * PAGE);
	munmap(p, 2 * PAGE);
	munmap(b, 2 * PAGE);
	munmap(r, PAGE);
	munmap(rp, PAGE);
	munmap(mm, PAGE);
	munmap(sh, PAGE);
	munmap(zs, 2 * PAGE);
	close(fd), close(ro), close(wo), close(mfd);
	CHECK(unlink("/tmp/shm-test") == 0, "clean up");
	return tap_done("shm");
}
