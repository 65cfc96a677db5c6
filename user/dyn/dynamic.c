/* dynamic: a dynamically linked glibc program, as Debian builds them. The kernel loads glibc's
 * loader (PT_INTERP) beside the program and starts it there; the loader maps libc.so.6 from the
 * file system with mmap, relocates, and calls main. Checks the auxiliary vector the loader was
 * given, the maps it made, dlopen of a library at run time, threads and TLS in libc.so, and an
 * execve of a dynamic program from a dynamic program. */
#define _GNU_SOURCE
#include "tap.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/wait.h>

extern char _start[];

static __thread int tls = 5;

static void *in_thread(void *arg)
{
	tls += (int)(long)arg;
	return (void *)(long)tls;
}

static int maps_mention(const char *what)
{
	static char buf[16384];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	if (fd < 0)
		return 0;
	while (n < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return strstr(buf, what) != NULL;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--child") == 0)
		return 7;

	CHECK(getauxval(AT_ENTRY) == (unsigned long)_start, "AT_ENTRY is the program's entry");
	unsigned long base = getauxval(AT_BASE);
	CHECK(base != 0 && base % 4096 == 0, "AT_BASE is the loader's base (%#lx)", base);
	Dl_info info;
	CHECK(dladdr((void *)printf, &info) && strstr(info.dli_fname, "libc.so.6"), "printf comes from libc.so.6");
	CHECK(maps_mention("ld-linux-aarch64.so.1") && maps_mention("libc.so.6"), "/proc/self/maps shows the loader and libc");

	void *m = dlopen("libm.so.6", RTLD_NOW);
	double (*cos_)(double) = m ? (double (*)(double))dlsym(m, "cos") : NULL;
	CHECK(cos_ && cos_(0.0) == 1.0, "dlopen(libm.so.6) and dlsym(cos)");
	CHECK(m && dlclose(m) == 0, "dlclose");
	errno = 0;
	CHECK(dlopen("libnothere.so.1", RTLD_NOW) == NULL && dlerror() != NULL, "dlopen of a missing library fails with a message");

	pthread_t t;
	void *r = NULL;
	CHECK(pthread_create(&t, NULL, in_thread, (void *)3L) == 0 && pthread_join(t, &r) == 0 && (long)r == 8 && tls == 5,
	      "a thread with its own TLS in a dynamic program");

	errno = 0;
	CHECK(open("/nonexistent", O_RDONLY) == -1 && errno == ENOENT, "libc's errno");

	pid_t c = fork();
	if (c == 0) {
		execl("/proc/self/exe", argv[0], "--child", (char *)NULL);
		_exit(99);
	}
	int st = 0;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "execve of a dynamic program (status %#x)", st);
	return tap_done("dynamic");
}
