/* mounts: mount(2) and umount2(2) for the file systems a root file system's init mounts: tmpfs,
 * devtmpfs (the device nodes) and sysfs (read-only attributes, names fixed as kernfs's are), with
 * /proc/mounts showing each, and Linux's errors for an unknown type, a non-directory and an
 * unprivileged caller. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define M "/tmp/mnt-test"

static int err(long r) { return r == -1 ? errno : 0; }

/* Whether /proc/mounts has a line with `point` mounted as `type`. */
static int mounted(const char *point, const char *type)
{
	static char buf[8192];
	int fd = open("/proc/mounts", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char want[128];
	snprintf(want, sizeof want, " %s %s ", point, type);
	return strstr(buf, want) != NULL;
}

static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return n;
}

int main(void)
{
	CHECK(mkdir(M, 0755) == 0 && mkdir(M "/t", 0755) == 0 && mkdir(M "/d", 0755) == 0 &&
		      mkdir(M "/s", 0755) == 0,
	      "mount points");
	struct statfs sf;
	CHECK(mount("scratch", M "/t", "tmpfs", 0, NULL) == 0, "mount tmpfs");
	int fd = open(M "/t/file", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1 && statfs(M "/t", &sf) == 0 && sf.f_type == 0x01021994,
	      "a file in it; statfs says tmpfs");
	close(fd);
	CHECK(mounted(M "/t", "tmpfs"), "/proc/mounts lists it");
	struct stat st;
	CHECK(umount(M "/t") == 0 && err(stat(M "/t/file", &st)) == ENOENT, "umount: its files are gone");

	CHECK(mount("devtmpfs", M "/d", "devtmpfs", 0, NULL) == 0, "mount devtmpfs");
	CHECK(stat(M "/d/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
	      "its null is character device 1:3");
	char z[4] = {1, 1, 1, 1};
	fd = open(M "/d/zero", O_RDONLY);
	CHECK(fd >= 0 && read(fd, z, 4) == 4 && !z[0] && !z[3], "its zero reads zeros");
	close(fd);
	CHECK(mounted(M "/d", "devtmpfs"), "/proc/mounts lists devtmpfs");

	CHECK(mount("sysfs", M "/s", "sysfs", 0, NULL) == 0, "mount sysfs");
	char buf[256];
	cpu_set_t set;
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof set, &set);
	int cpus = CPU_COUNT(&set), lo = -1, hi = -1;
	CHECK(slurp(M "/s/devices/system/cpu/online", buf, sizeof buf) > 0 &&
		      (sscanf(buf, "%d-%d", &lo, &hi) == 2 || (sscanf(buf, "%d", &lo) == 1 && (hi = lo) == lo)) &&
		      lo == 0 && hi == cpus - 1,
	      "cpu/online is 0-%d (%s)", cpus - 1, buf);
	CHECK(stat(M "/s/devices/system/cpu/cpu0", &st) == 0 && S_ISDIR(st.st_mode), "cpu/cpu0 is a directory");
	CHECK(slurp(M "/s/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) > 0 && strchr(buf, '[') &&
		      strchr(buf, ']'),
	      "transparent_hugepage/enabled names the mode in brackets");
	CHECK(mounted(M "/s", "sysfs"), "/proc/mounts lists sysfs");
	CHECK(err(open(M "/s/devices/system/cpu/online", O_WRONLY)) == EACCES, "a read-only attribute: EACCES to write");
	CHECK(err(open(M "/s/devices/new", O_CREAT | O_WRONLY, 0644)) == EACCES, "creating a file in sysfs: EACCES");
	CHECK(err(mkdir(M "/s/devices/new", 0755)) == EPERM, "mkdir in sysfs: EPERM");
	CHECK(err(unlink(M "/s/devices/system/cpu/online")) == EPERM, "unlink in sysfs: EPERM");

	CHECK(err(mount("x", M "/t", "nosuchfs", 0, NULL)) == ENODEV, "an unknown type: ENODEV");
	CHECK(err(mount("x", "/proc/self/status", "tmpfs", 0, NULL)) == ENOTDIR ||
		      err(mount("x", M "/s/devices/system/cpu/online", "tmpfs", 0, NULL)) == ENOTDIR,
	      "a mount point that is not a directory: ENOTDIR");
	pid_t c = fork();
	if (c == 0) {
		if (setuid(65534) != 0)
			_exit(2);
		_exit(err(mount("x", M "/t", "tmpfs", 0, NULL)) == EPERM ? 0 : 1);
	}
	int ws;
	CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "an unprivileged mount: EPERM");
	CHECK(umount(M "/s") == 0 && umount(M "/d") == 0, "umount sysfs and devtmpfs");
	CHECK(!mounted(M "/s", "sysfs") && err(stat(M "/d/null", &st)) == ENOENT, "and they are gone");
	CHECK(rmdir(M "/t") == 0 && rmdir(M "/d") == 0 && rmdir(M "/s") == 0 && rmdir(M) == 0, "mount points removed");
	return tap_done("mounts");
}
