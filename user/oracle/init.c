/* The Linux reference's /init for the project's test programs: mounts what a Debian system has
 * (proc, sysfs, devtmpfs, a tmpfs on /dev/shm and /tmp), then becomes /prog with the same argv, so
 * the program runs as PID 1 exactly as it does on tidemark. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argc;
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/dev/shm", 01777);
	mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);
	mkdir("/tmp", 01777);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	argv[0] = "init";
	execv("/prog", argv);
	fprintf(stderr, "oracle-init: cannot run /prog: %s\n", strerror(errno));
	return 127;
}
