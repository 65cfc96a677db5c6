/* What a test program reads about itself: the raw break, the minor-fault count, and /proc/self
 * figures. Shared by the C test programs and the demo. */
#ifndef SELFINFO_H
#define SELFINFO_H
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The raw brk syscall: returns the (new or old) break, never -1. */
static inline char *brk_to(char *addr) { return (char *)syscall(SYS_brk, addr); }

/* The process's minor-fault count. `ru` is written first: after a fork its stack page may be
 * copy-on-write, and getrusage would take that fault copying out, after reading the count, so that
 * the next reading would include it. */
static inline long minflt(void)
{
	struct rusage ru = {0};
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* The whole text of `path` into `buf` (NUL-terminated; cut at `size - 1` bytes), in as many
 * reads as it takes: /proc files such as smaps come a page or so per read. */
static inline void read_whole(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;
	while (fd >= 0 && n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	if (fd >= 0)
		close(fd);
}

/* The number after `name` in the text of `path` (e.g. "VmRSS:" in /proc/self/status), -1 if absent. */
static inline long proc_value(const char *path, const char *name)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, name);
	return p ? atol(p + strlen(name)) : -1;
}

/* How far VmRSS may lag on Linux 6.1: a task counts its RSS changes privately and folds them into
 * the mm once more than 64 events are pending (SPLIT_RSS_COUNTING, TASK_RSS_EVENTS_THRESH), so
 * /proc shows the mm's figure up to 65 pages behind (a run measured 65). tidemark's figure is
 * exact; checks that compare VmRSS after page faults or frees allow this much so that the same
 * program passes on both. */
#define RSS_SLACK_KB (65 * 4)

static inline int rss_near(long kb, long want) { return kb >= want - RSS_SLACK_KB && kb <= want + RSS_SLACK_KB; }

/* A "Name:   N kB" line of /proc/self/status. */
static inline long status_kb(const char *name) { return proc_value("/proc/self/status", name); }
#endif
