/* The LTP runner: the first process of a boot that runs Linux Test Project tests, on tidemark
 * and on the Linux reference alike. For each name in /ltp/list it runs /ltp/bin/NAME as a child
 * (an LTP test refuses to be PID 1), with TMPDIR and LTP_TIMEOUT_MUL set and its output on a
 * pipe, kills it (and its process group) when it outlives the timeout, and prints one line:
 *
 *   ltp: NAME RESULT passed=P failed=F broken=B skipped=S warnings=W status=S
 *
 * (after an "ltp-first:" line of the same form: a test that does not pass is run twice, and a
 * test that passed at once ends with "ltp: NAME as-first").
 * RESULT is TIMEOUT, FAIL (a failed check, a broken one, or an exit that is not 0, or nothing
 * counted at all: an exit 0 whose summary counts nothing is not a pass), PASS (checks passed, none
 * failed), or CONF (everything skipped: the test cannot run here). The counts are LTP's own
 * summary ("Summary:" block of the new API) or, for old-API tests, their TPASS/TFAIL/TBROK/TCONF
 * lines. The test's output follows any line but PASS, indented. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (256 * 1024)
static char out[OUT_MAX + 1];

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? atoi(p + strlen(key)) : -1;
}

static int count_lines(const char *text, const char *tag)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, tag)); p += strlen(tag))
		n++;
	return n;
}

/* Runs the test once and prints its result line with `tag` in front; returns 1 if it passed
 * or could not run here (CONF). */
static int run_once(const char *name, int timeout_s, char **envp, const char *tag)
{
	char path[256];
	snprintf(path, sizeof path, "/ltp/bin/%s", name);
	int pfd[2];
	if (pipe(pfd)) {
		printf("%s %s FAIL runner: pipe: %s\n", tag, name, strerror(errno));
		return 0;
	}
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[1]);
		if (chdir("/tmp"))
			_exit(126);
		char *argv[] = {(char *)name, NULL};
		execve(path, argv, envp);
		fprintf(stderr, "runner: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	long deadline = now_ms() + timeout_s * 1000L;
	int timed_out = 0;
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			kill(-c, SIGKILL);
			kill(c, SIGKILL);
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(pfd[0], buf, sizeof buf);
		if (n <= 0)
			break;
		size_t take = (size_t)n < OUT_MAX - len ? (size_t)n : OUT_MAX - len;
		memcpy(out + len, buf, take);
		len += take;
	}
	close(pfd[0]);
	int st = 0;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	/* Whatever the test left behind in its group goes too. */
	kill(-c, SIGKILL);
	out[len] = 0;
	int passed = count_after(out, "\npassed "), failed = count_after(out, "\nfailed ");
	int broken = count_after(out, "\nbroken "), skipped = count_after(out, "\nskipped ");
	int warnings = count_after(out, "\nwarnings ");
	if (passed < 0) {
		/* The old API: no summary, one line per result. */
		passed = count_lines(out, "TPASS");
		failed = count_lines(out, "TFAIL");
		broken = count_lines(out, "TBROK");
		skipped = count_lines(out, "TCONF");
		warnings = count_lines(out, "TWARN");
	}
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	const char *result;
	if (timed_out)
		result = "TIMEOUT";
	else if (failed > 0 || broken > 0 || (status != 0 && status != 32))
		result = "FAIL";
	else if (passed > 0)
		result = "PASS";
	else if (skipped > 0)
		result = "CONF";
	else
		result = "FAIL";
	printf("%s %s %s passed=%d failed=%d broken=%d skipped=%d warnings=%d status=%d\n", tag, name,
	       result, passed, failed, broken, skipped, warnings, status);
	if (strcmp(result, "PASS")) {
		/* The test's own words, indented, for the reader of a failed run. */
		int lines = 0;
		for (char *l = strtok(out, "\n"); l && lines < 60; l = strtok(NULL, "\n"), lines++)
			printf("    %s\n", l);
	}
	fflush(stdout);
	/* A timeout is not worth a second wait of the same length. */
	return !strcmp(result, "PASS") || !strcmp(result, "CONF") || !strcmp(result, "TIMEOUT");
}

/* A test that fails (other than by a timeout) runs once more: its first attempt is printed as "ltp-first:" and
 * the second as the result, so an intermittent failure shows (the harness lists those) instead
 * of deciding the whole run. The repeat is quick to tell apart from a steady failure, which
 * fails both times. */
static void run(const char *name, int timeout_s, char **envp)
{
	/* Whether the test passes is only known afterwards: run it with the tag of a first try,
	 * then, if it passed, say so under the final tag too. */
	if (run_once(name, timeout_s, envp, "ltp-first:"))
		printf("ltp: %s as-first\n", name);
	else
		run_once(name, timeout_s, envp, "ltp:");
	fflush(stdout);
}

int main(void)
{
	static char *envp[] = {"TMPDIR=/tmp", "LTP_TIMEOUT_MUL=4", "PATH=/ltp/bin:/bin:/usr/bin",
			       "LTPROOT=/ltp", "LTP_COLORIZE_OUTPUT=0", "HOME=/", NULL};
	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir("/tmp", 01777);
	mkdir("/dev/shm", 01777);
	FILE *list = fopen("/ltp/list", "r");
	if (!list) {
		printf("ltp: no /ltp/list: %s\n", strerror(errno));
		return 1;
	}
	char name[128];
	int n = 0;
	while (fgets(name, sizeof name, list)) {
		name[strcspn(name, "\n")] = 0;
		if (!name[0] || name[0] == '#')
			continue;
		run(name, 120, envp);
		n++;
	}
	fclose(list);
	printf("ltp: done %d\n", n);
	fflush(stdout);
	return 0;
}
