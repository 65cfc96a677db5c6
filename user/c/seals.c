/* seals: memfd_create's file seals (F_ADD_SEALS, F_GET_SEALS) as Linux's memfd_fcntl and shmem
 * keep them: a memfd without MFD_ALLOW_SEALING is sealed against seals; SHRINK and GROW fix the
 * size against truncate, write and fallocate; WRITE (EBUSY while a writable shared mapping exists)
 * and FUTURE_WRITE refuse writes and new writable shared mappings, while a mapping made before
 * FUTURE_WRITE keeps writing; SEAL ends the sealing; a tmpfs file starts with F_SEAL_SEAL. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int err(long r) { return r == -1 ? errno : 0; }

int main(void)
{
	int fd = memfd_create("plain", 0);
	CHECK(fd >= 0 && fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL, "without MFD_ALLOW_SEALING: F_SEAL_SEAL");
	CHECK(err(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)) == EPERM, "so no seal can be added: EPERM");
	close(fd);

	fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	static char page[8192];
	memset(page, 'a', sizeof page);
	CHECK(fd >= 0 && fcntl(fd, F_GET_SEALS) == 0 && write(fd, page, 8192) == 8192, "MFD_ALLOW_SEALING: no seals; 8 KiB written");
	CHECK(err(fcntl(fd, F_ADD_SEALS, 1 << 10)) == EINVAL, "an unknown seal: EINVAL");
	char ro[64];
	snprintf(ro, sizeof ro, "/proc/self/fd/%d", fd);
	int rfd = open(ro, O_RDONLY);
	CHECK(rfd >= 0 && err(fcntl(rfd, F_ADD_SEALS, F_SEAL_SHRINK)) == EPERM, "sealing through a read-only descriptor: EPERM");
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0 && err(ftruncate(fd, 4096)) == EPERM, "F_SEAL_SHRINK: truncating down is EPERM");
	CHECK(ftruncate(fd, 16384) == 0, "growing is still allowed");
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0 && err(ftruncate(fd, 32768)) == EPERM, "F_SEAL_GROW: truncating up is EPERM");
	CHECK(pwrite(fd, page, 10, 16380) == 4 && err(pwrite(fd, page, 10, 16384)) == EPERM && pwrite(fd, page, 10, 100) == 10,
	      "a write stops at the end (a short count, then EPERM); one inside goes through");
	CHECK(err(fallocate(fd, 0, 0, 65536)) == EPERM, "fallocate beyond the size: EPERM");
	void *shared_rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(shared_rw != MAP_FAILED, "a writable shared mapping before F_SEAL_FUTURE_WRITE");
	CHECK(err(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)) == EBUSY, "F_SEAL_WRITE while it exists: EBUSY");
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0, "F_SEAL_FUTURE_WRITE");
	((char *)shared_rw)[0] = 'z';
	char c = 0;
	CHECK(pread(fd, &c, 1, 0) == 1 && c == 'z', "the mapping made before still writes");
	CHECK(err(write(fd, "x", 1)) == EPERM, "write(2): EPERM");
	errno = 0;
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM, "a new writable shared mapping: EPERM");
	void *shared_r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(shared_r != MAP_FAILED && err(mprotect(shared_r, 4096, PROT_READ | PROT_WRITE)) == EACCES,
	      "a read-only shared one cannot be made writable: EACCES");
	void *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED, "a private writable mapping is allowed");
	munmap(shared_rw, 4096);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "F_SEAL_WRITE once no writable shared mapping is left");
	errno = 0;
	void *ro_map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro_map != MAP_FAILED && err(mprotect(ro_map, 4096, PROT_READ | PROT_WRITE)) == EACCES,
	      "then a read-only shared mapping is allowed, and stays read-only");
	CHECK(err(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)) == EPERM, "punching a hole: EPERM");
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0 && err(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) == EPERM,
	      "F_SEAL_SEAL: no more seals");
	CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE),
	      "F_GET_SEALS shows them all");
	close(rfd);
	close(fd);

	int p[2];
	CHECK(pipe(p) == 0 && err(fcntl(p[0], F_GET_SEALS)) == EINVAL, "a pipe has no seals: EINVAL");
	int f = open("/dev/shm/seals-test", O_CREAT | O_RDWR, 0600);
	CHECK(f >= 0 && fcntl(f, F_GET_SEALS) == F_SEAL_SEAL, "a tmpfs file starts with F_SEAL_SEAL");
	close(f);
	unlink("/dev/shm/seals-test");
	return tap_done("seals");
}
