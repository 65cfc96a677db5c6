/* xattr: extended attributes on tmpfs as Linux 6.1 answers them without a security module
 * (/dev/shm is a tmpfs on both kernels), posix_fadvise, and the CPU calls of one core's worth of
 * scheduler: sched_getaffinity, sched_setaffinity, getcpu. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

int main(void)
{
	const char *f = "/dev/shm/xattr-test";
	int fd = open(f, O_CREAT | O_RDWR, 0644);
	char buf[64];
	CHECK(fd >= 0, "a file in /dev/shm");
	errno = 0;
	CHECK(getxattr(f, "security.selinux", buf, sizeof buf) == -1 && errno == ENODATA, "security.* reads as ENODATA");
	errno = 0;
	CHECK(lgetxattr(f, "system.posix_acl_access", buf, sizeof buf) == -1 && errno == ENODATA, "no ACL: ENODATA");
	errno = 0;
	CHECK(fgetxattr(fd, "user.comment", buf, sizeof buf) == -1 && errno == EOPNOTSUPP, "user.* is not supported on this tmpfs");
	CHECK(listxattr(f, buf, sizeof buf) == 0 && flistxattr(fd, NULL, 0) == 0, "the list of names is empty");
	errno = 0;
	CHECK(setxattr(f, "user.comment", "x", 1, 0) == -1 && errno == EOPNOTSUPP, "setxattr user.*: EOPNOTSUPP");
	errno = 0;
	CHECK(setxattr(f, "user.comment", "x", 1, 4) == -1 && errno == EINVAL, "setxattr with unknown flags: EINVAL");
	errno = 0;
	CHECK(getxattr("/dev/shm/nothere", "security.selinux", buf, sizeof buf) == -1 && errno == ENOENT, "a missing file: ENOENT");
	errno = 0;
	CHECK(getxattr(f, "", buf, sizeof buf) == -1 && errno == ERANGE, "an empty name: ERANGE");
	errno = 0;
	CHECK(fgetxattr(-1, "security.selinux", buf, sizeof buf) == -1 && errno == EBADF, "a bad descriptor: EBADF");

	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0, "posix_fadvise on a file");
	int p[2];
	CHECK(pipe(p) == 0 && posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE, "posix_fadvise on a pipe: ESPIPE");
	CHECK(posix_fadvise(fd, 0, 0, 99) == EINVAL, "an unknown advice: EINVAL");
	close(fd);
	unlink(f);

	cpu_set_t set;
	CPU_ZERO(&set);
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set), "sched_getaffinity: CPU 0 is ours");
	errno = 0;
	CHECK(syscall(SYS_sched_getaffinity, 0, 3, &set) == -1 && errno == EINVAL, "a mask that is not whole longs: EINVAL");
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK(sched_setaffinity(0, sizeof set, &set) == 0, "sched_setaffinity to CPU 0");
	errno = 0;
	CHECK(sched_getaffinity(999999, sizeof set, &set) == -1 && errno == ESRCH, "no such task: ESRCH");
	unsigned cpu = 99, node = 99;
	CHECK(syscall(SYS_getcpu, &cpu, &node, NULL) == 0 && cpu == 0 && node == 0, "getcpu: CPU 0, node 0");
	return tap_done("xattr");
}
