/* elfmap: a program's segments come from the page cache. /proc/self/maps names the program with
 * its file's device and inode, status counts the mapped pages of the file as not anonymous
 * (RssShmem, as the initramfs is a tmpfs), and processes running the same program share its
 * text: each one more costs far less than the text's size. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

static char text[1 << 16];

static long status_kb(const char *key)
{
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	char *p = strstr(text, key);
	return p ? strtol(p + strlen(key) + 1, NULL, 10) : -1;
}

static long mem_free_kb(void)
{
	int fd = open("/proc/meminfo", O_RDONLY);
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	char *p = strstr(text, "MemFree:");
	return p ? strtol(p + 8, NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		/* A child running the same program: touch some text, then wait to be killed. */
		pause();
		return 0;
	}
	struct stat st;
	CHECK(stat("/proc/self/exe", &st) == 0, "stat of the program");
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	unsigned long lo = 0, hi = 0, ino = 0;
	unsigned maj = 99, min = 99;
	char perms[5] = {0};
	char path[256] = {0};
	int got = sscanf(text, "%lx-%lx %4s %*x %x:%x %lu %255s", &lo, &hi, perms, &maj, &min, &ino, path);
	CHECK(got == 7 && ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev),
	      "the first maps line names the file: %02x:%02x %lu %s", maj, min, ino, path);
	CHECK(strchr(perms, 'x') && hi - lo >= 4096, "and it is the text (%s, %lu KiB)", perms, (hi - lo) >> 10);
	/* Touch every page of the text: enough faults that Linux's batched RSS counters (flushed
	 * every 64 events) have been added up. */
	unsigned sum = 0;
	for (unsigned long a = lo; a < hi; a += 4096)
		sum += *(volatile unsigned char *)a;
	(void)sum;
	fd = open("/proc/self/smaps", O_RDONLY);
	n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	char *rss = strstr(text, "\nRss:"), *anon = strstr(text, "\nAnonymous:");
	long rss_kb = rss ? strtol(rss + 5, NULL, 10) : -1, anon_kb = anon ? strtol(anon + 11, NULL, 10) : -1;
	CHECK(rss_kb >= 4 && anon_kb == 0, "smaps: the text is resident (%ld kB) and none of it a private copy", rss_kb);
	long file = status_kb("RssFile:"), shmem = status_kb("RssShmem:");
	CHECK(status_kb("VmRSS:") == status_kb("RssAnon:") + file + shmem,
	      "VmRSS = RssAnon + RssFile + RssShmem (file pages %ld kB)", file + shmem);

	/* Four more processes running this program share its text. */
	long text_kb = (hi - lo) >> 10;
	long before = mem_free_kb();
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			execl("/proc/self/exe", argv[0], "child", (char *)NULL);
			_exit(127);
		}
	}
	struct timespec d = {0, 300000000};
	nanosleep(&d, NULL);
	long per_child = (before - mem_free_kb()) / 4;
	CHECK(per_child < text_kb, "each one costs %ld kB, less than the %ld kB of text", per_child, text_kb);
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		kill(kids[i], SIGKILL);
		int ws;
		ok &= waitpid(kids[i], &ws, 0) == kids[i] && WIFSIGNALED(ws);
	}
	CHECK(ok, "the four are reaped");
	return tap_done("elfmap");
}
