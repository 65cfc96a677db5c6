/* sysvshm: System V shared memory as programs use it: shmget with keys and IPC_PRIVATE, shmat
 * where the kernel picks or where asked (SHMLBA, a page on arm64; SHM_RND, SHM_RDONLY), sharing
 * across fork, shmctl's IPC_STAT, IPC_SET and IPC_RMID (the key goes at once, the memory with
 * the last attach), shmdt, and Linux's errors. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#define SIZE 65536

static int maps_has(const char *what)
{
	static char buf[16384];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	while (fd >= 0 && n < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, what) != NULL;
}

int main(void)
{
	int id = shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0600);
	CHECK(id >= 0, "shmget(IPC_PRIVATE) makes a segment");
	volatile int *a = shmat(id, NULL, 0);
	CHECK(a != (void *)-1 && a[0] == 0 && a[SIZE / 4 - 1] == 0, "shmat maps it, zero-filled");
	CHECK(maps_has("/SYSV00000000 (deleted)"), "/proc/self/maps names it /SYSV00000000");

	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz == SIZE && ds.shm_nattch == 1 &&
	      (ds.shm_perm.mode & 0777) == 0600 && ds.shm_cpid == getpid(),
	      "IPC_STAT: size, one attach, mode, creator");

	/* Shared across fork: the child's writes are the parent's. */
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < 1000; i++)
			a[1]++;
		volatile int *b = shmat(id, NULL, 0);
		b[2] = 42;
		_exit(b == (void *)-1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && a[1] == 1000 && a[2] == 42, "a child's writes through both attaches are seen");
	CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "the child's attaches went with it");

	volatile int *second = shmat(id, NULL, 0);
	CHECK(second != (void *)-1 && second[2] == 42 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2,
	      "a second attach sees the same memory; two attaches");
	CHECK(shmdt((void *)second) == 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "shmdt: one attach again");
	errno = 0;
	CHECK(shmdt((void *)(a + 1)) == -1 && errno == EINVAL, "shmdt of an address that is no attach: EINVAL");

	/* Keys. */
	key_t key = 0x7e57;
	int k = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640);
	CHECK(k >= 0 && k != id, "shmget with a key and IPC_CREAT|IPC_EXCL");
	errno = 0;
	CHECK(shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640) == -1 && errno == EEXIST, "again: EEXIST");
	CHECK(shmget(key, 4096, 0) == k, "the key finds it");
	errno = 0;
	CHECK(shmget(key, 16384, 0) == -1 && errno == EINVAL, "asking for more than its size: EINVAL");
	errno = 0;
	CHECK(shmget(0x7e58, 4096, 0) == -1 && errno == ENOENT, "an unknown key without IPC_CREAT: ENOENT");
	errno = 0;
	CHECK(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1 && errno == EINVAL, "size 0: EINVAL");

	/* Addresses. */
	char *want = mmap(NULL, 4 * SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(want, 4 * SIZE);
	char *at = (char *)(((unsigned long)want + 0xffff) & ~0xffffUL);
	errno = 0;
	CHECK(shmat(k, at + 100, 0) == (void *)-1 && errno == EINVAL, "an address that is not a multiple of SHMLBA: EINVAL");
	CHECK(shmat(k, at + 100, SHM_RND) == at, "SHM_RND rounds it down");
	errno = 0;
	CHECK(shmat(k, at, 0) == (void *)-1 && errno == EINVAL, "over an attach without SHM_REMAP: EINVAL");
	CHECK(shmat(k, at, SHM_REMAP) == at && shmdt(at) == 0, "SHM_REMAP replaces it");

	/* Read-only attach: a write is SIGSEGV. */
	c = fork();
	if (c == 0) {
		volatile int *ro = shmat(id, NULL, SHM_RDONLY);
		if (ro == (void *)-1 || ro[1] != 1000)
			_exit(1);
		ro[1] = 0;
		_exit(2);
	}
	waitpid(c, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "SHM_RDONLY: reads work, a write is SIGSEGV");

	/* IPC_SET. */
	ds.shm_perm.mode = 0644;
	CHECK(shmctl(id, IPC_SET, &ds) == 0 && shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0644, "IPC_SET changes the mode");

	/* IPC_RMID while attached: the key goes at once, the memory stays until the last detach. */
	CHECK(shmctl(k, IPC_RMID, NULL) == 0, "IPC_RMID of the keyed segment (not attached): gone");
	errno = 0;
	CHECK(shmctl(k, IPC_STAT, &ds) == -1 && errno == EINVAL, "its id is gone too");
	errno = 0;
	CHECK(shmget(key, 4096, 0) == -1 && errno == ENOENT, "and so is its key");
	CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID of the attached segment");
	CHECK(a[1] == 1000 && shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST), "it stays while attached, marked SHM_DEST");
	CHECK(shmdt((void *)a) == 0, "the last shmdt");
	errno = 0;
	CHECK(shmctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL, "then it is gone");

	errno = 0;
	CHECK(shmat(id, NULL, 0) == (void *)-1 && errno == EINVAL, "shmat of a removed id: EINVAL");
	errno = 0;
	CHECK(shmctl(12345678, IPC_STAT, &ds) == -1 && errno == EINVAL, "shmctl of an unknown id: EINVAL");
	/* The limits, the usage, and /proc/sysvipc/shm. */
	struct shminfo lim;
	CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&lim) >= 0 && lim.shmmni == 4096 && lim.shmmin == 1 &&
		      lim.shmmax > (1ul << 40),
	      "IPC_INFO: Linux's default limits");
	int info_id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	char *info_at = shmat(info_id, NULL, 0);
	info_at[0] = 1;
	struct shm_info use;
	int maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)&use);
	CHECK(maxidx >= 0 && use.used_ids >= 1 && use.shm_tot >= 2 && use.shm_rss >= 1,
	      "SHM_INFO: %d in use, %lu pages, %lu resident", use.used_ids, use.shm_tot, use.shm_rss);
	CHECK(shmctl(maxidx, SHM_STAT, &ds) >= 0, "SHM_STAT of the highest index in use");
	int pfd = open("/proc/sysvipc/shm", O_RDONLY);
	static char table[8192];
	ssize_t tn = pfd < 0 ? -1 : read(pfd, table, sizeof table - 1);
	close(pfd);
	table[tn > 0 ? tn : 0] = 0;
	int seen = 0;
	for (char *line = strchr(table, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		int key, id;
		unsigned mode, cpid, lpid;
		unsigned long size, nattch;
		if (sscanf(line + 1, "%d %d %o %lu %u %u %lu", &key, &id, &mode, &size, &cpid, &lpid, &nattch) == 7 &&
		    id == info_id && size == 8192 && nattch == 1 && cpid == (unsigned)getpid())
			seen = 1;
	}
	CHECK(strncmp(table, "       key      shmid perms", 27) == 0 && seen, "/proc/sysvipc/shm lists the segment");
	shmdt(info_at);
	shmctl(info_id, IPC_RMID, NULL);
	return tap_done("sysvshm");
}
