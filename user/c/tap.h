/* A tiny TAP reporter for tidemark's test programs: `ok N - what` / `not ok N - what (why)`, then a
 * summary line `# NAME: P passed, F failed`; the exit status is 0 only if nothing failed. Output goes
 * through write(2) from a static buffer, so that reporting never allocates. */
#ifndef TAP_H
#define TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

static void tap_out(const char *fmt, ...)
{
	static char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1)
		n = sizeof buf - 1;
	(void)!write(1, buf, n);
}

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		int tap_ok = !!(cond);                                             \
		tap_n++;                                                           \
		if (tap_ok) {                                                      \
			tap_out("ok %d - ", tap_n);                                \
		} else {                                                           \
			tap_failed++;                                              \
			tap_out("not ok %d - ", tap_n);                            \
		}                                                                  \
		tap_out(__VA_ARGS__);                                              \
		tap_out("%s\n", tap_ok ? "" : "  <-- " #cond);                    \
	} while (0)

static int tap_done(const char *name)
{
	tap_out("# %s: %d passed, %d failed\n", name, tap_n - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}
#endif
