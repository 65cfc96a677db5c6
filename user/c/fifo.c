/* fifo: named pipes as Linux's fifo_open has them: a reader waits for a writer and a writer for a
 * reader (in either order), O_NONBLOCK readers open at once and O_NONBLOCK writers without a reader
 * get ENXIO, O_RDWR never waits, an open interrupted by a signal is EINTR and leaves no end
 * behind, the data goes with the last end, and fstat and /proc/self/fd describe the FIFO's
 * inode and path. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static const char *F = "/tmp/fifo-test";

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Whether a byte is waiting on `fd` (without blocking). */
static int ready(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) == 1;
}

int main(void)
{
	unlink(F);
	CHECK(mkfifo(F, 0600) == 0, "mkfifo in /tmp");
	struct stat st, fst;
	CHECK(stat(F, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600, "stat: a FIFO, mode 0600");

	int r = open(F, O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0, "O_RDONLY|O_NONBLOCK opens at once without a writer");
	char buf[64];
	CHECK(read(r, buf, sizeof buf) == 0, "read with no writer ever: end of file");
	int w = open(F, O_WRONLY | O_NONBLOCK);
	CHECK(w >= 0, "O_WRONLY|O_NONBLOCK opens with a reader");
	CHECK(write(w, "abc", 3) == 3 && read(r, buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0, "bytes go through");
	CHECK(fstat(r, &fst) == 0 && S_ISFIFO(fst.st_mode) && fst.st_ino == st.st_ino && fst.st_dev == st.st_dev, "fstat is the FIFO's inode");
	char link[64], want[64];
	snprintf(want, sizeof want, "/proc/self/fd/%d", r);
	ssize_t n = readlink(want, link, sizeof link - 1);
	CHECK(n == (ssize_t)strlen(F) && memcmp(link, F, n) == 0, "/proc/self/fd names the path");
	close(w);
	CHECK(read(r, buf, sizeof buf) == 0, "the last writer gone: end of file");
	close(r);
	errno = 0;
	CHECK(open(F, O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO, "O_WRONLY|O_NONBLOCK without a reader: ENXIO");

	/* A reader that opens first waits for the writer. */
	int status[2];
	CHECK(pipe(status) == 0, "a status pipe");
	pid_t c = fork();
	if (c == 0) {
		nap(100);
		int fd = open(F, O_WRONLY);
		(void)!write(status[1], "w", 1);
		(void)!write(fd, "hello", 5);
		_exit(0);
	}
	r = open(F, O_RDONLY);
	CHECK(r >= 0, "a blocking reader opens once a writer comes");
	CHECK(read(r, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "and reads what it wrote");
	int ws;
	CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws), "the writer exits");
	CHECK(read(r, buf, sizeof buf) == 0, "then end of file");
	close(r);
	CHECK(read(status[0], buf, 1) == 1, "(status)");

	/* A writer that opens first waits for the reader, and writes nothing until then. */
	c = fork();
	if (c == 0) {
		int fd = open(F, O_WRONLY);
		(void)!write(status[1], "w", 1);
		(void)!write(fd, "world", 5);
		_exit(0);
	}
	nap(150);
	CHECK(!ready(status[0]), "a blocking writer waits while no reader comes");
	r = open(F, O_RDONLY);
	CHECK(r >= 0 && read(r, buf, 5) == 5 && memcmp(buf, "world", 5) == 0, "the reader comes: the writer's bytes arrive");
	CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the writer exits");
	CHECK(read(status[0], buf, 1) == 1, "the writer's open returned");
	close(r);

	/* O_RDWR never waits; the data goes with the last end. */
	int rw = open(F, O_RDWR);
	CHECK(rw >= 0, "O_RDWR opens without waiting");
	CHECK(write(rw, "xyz", 3) == 3 && read(rw, buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0, "O_RDWR reads back what it wrote");
	CHECK(write(rw, "left", 4) == 4, "bytes left in the FIFO");
	close(rw);
	rw = open(F, O_RDWR | O_NONBLOCK);
	errno = 0;
	CHECK(read(rw, buf, sizeof buf) == -1 && errno == EAGAIN, "reopened: the bytes went with the last end");
	close(rw);

	/* A signal ends a blocking open with EINTR, and the end it opened closes. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	errno = 0;
	CHECK(open(F, O_RDONLY) == -1 && errno == EINTR, "a blocking open interrupted by a handler: EINTR");
	errno = 0;
	CHECK(open(F, O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO, "the interrupted reader left no end open");

	/* A FIFO unlinked while open still carries bytes. */
	r = open(F, O_RDONLY | O_NONBLOCK);
	w = open(F, O_WRONLY);
	CHECK(r >= 0 && w >= 0 && unlink(F) == 0, "unlinked while open");
	CHECK(write(w, "z", 1) == 1 && read(r, buf, 1) == 1 && buf[0] == 'z', "and still carries bytes");
	close(r);
	close(w);
	return tap_done("fifo");
}
