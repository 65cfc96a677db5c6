/* bench: tidemark's benchmark programs, one static binary.
 *
 *   bench [--quick] [--reps=N] [--thp=off|on] WORKLOAD...     run the named workloads in order
 *   bench [--quick] [--reps=N] [--thp=off|on] all             run every workload in this process
 *   bench list                                                name the workloads
 *
 * As PID 1 with no workload named (Linux: the /init of the reference initramfs) it is the suite
 * runner: it reports the machine, then runs every workload twice, with transparent huge pages
 * disabled and enabled, each in a fresh process (fork + execve of itself), and powers off.
 *
 * Every figure is printed as a machine-readable line (see series_report):
 *   bench NAME ops=N instr_per_op=X unit=U reps=R min=A max=B [thp=off|on] [...]
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The ELF entry point (linked with -Wl,-e,bench_entry): reads the counter before glibc's start-up
 * code runs, so that `boot` measures reset-to-first-EL0-instruction, then continues at glibc's
 * _start with every register (x0, sp) as the kernel left it. x9 and x10 are scratch at entry. */
uint64_t entry_cntvct;
__asm__(".text\n"
	".globl bench_entry\n"
	".type bench_entry, %function\n"
	"bench_entry:\n"
	"	isb\n"
	"	mrs x9, cntvct_el0\n"
	"	adrp x10, entry_cntvct\n"
	"	str x9, [x10, :lo12:entry_cntvct]\n"
	"	b _start\n"
	".size bench_entry, . - bench_entry\n");

static const struct workload workloads[] = {
	{ "boot", "instructions from reset to the program's first instruction", bench_boot, 1 },
	{ "calib", "a loop of known length: checks that the counter counts instructions", bench_calib, 1 },
	{ "syscall", "getppid(): an empty system call round trip", bench_syscall, 1 },
	{ "brk1", "brk +1 page then back, nothing touched (will-it-scale brk1); per brk call", bench_brk1, 1 },
	{ "brk128k", "brk +128 KiB then back, nothing touched; per brk call", bench_brk128k, 1 },
	{ "fault", "brk +64 MiB from a 2 MiB boundary, one write per page; then release (shrink)",
	  bench_fault, 1 },
	{ "locked", "mlockall(CURRENT|FUTURE), brk +1/8/64 MiB populated; then release", bench_locked, 1 },
	{ "mmap1", "mmap + munmap of 128 MiB anonymous, untouched (will-it-scale mmap1)", bench_mmap1, 1 },
	{ "page_fault1", "mmap 32 MiB anonymous, one write per page, munmap (will-it-scale page_fault1)",
	  bench_page_fault1, 1 },
	{ "vma_scale", "fault and brk1 costs with about 10, 1000 and 60000 VMAs mapped", bench_vma_scale, 1 },
	{ "pingpong", "two processes, one byte each way through two pipes; per round trip", bench_pingpong, 1 },
	{ "filemap_shared", "a fresh 64 MiB in-memory file mapped shared, one write per page, munmap; per page",
	  bench_filemap_shared, 1 },
	{ "filemap_private", "a 64 MiB in-memory file in the page cache mapped private, one write per page (a copy), munmap; per page",
	  bench_filemap_private, 1 },
	{ "ptmem", "page-table memory per GiB of anonymous memory touched page by page; kB", bench_ptmem, 1 },
	{ "malloc_rss", "VmRSS after 300,000 mallocs of 16 to 1,024 bytes (every other one freed); kB",
	  bench_malloc_rss, 1 },
	{ "mt_fault", "1, 2 and 4 threads each writing one byte per page of its own 16 MiB; per page",
	  bench_mt_fault, 4 },
	{ "mt_brk1", "1 and 4 threads each doing brk1 on the one break; per brk call", bench_mt_brk1, 4 },
	{ "futex_pingpong", "two threads taking turns through FUTEX_WAIT/FUTEX_WAKE; per round trip",
	  bench_futex_pingpong, 4 },
	{ "thread_create", "pthread_create + pthread_join of an empty thread; per pair", bench_thread_create,
	  4 },
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

/* ---- output ----------------------------------------------------------------------------------- */

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		long n = raw_syscall3(NR_write, fd, buf, len);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void vout(int fd, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	write_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vout(1, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out("bench-error ");
	vout(1, fmt, ap);
	out("\n");
	va_end(ap);
	raw_syscall1(NR_exit_group, 1);
	__builtin_unreachable();
}

/* ---- measurement helpers ---------------------------------------------------------------------- */

uint64_t ticks_to_insns(uint64_t ticks)
{
	static uint64_t freq;
	if (!freq)
		freq = read_cntfrq();
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / freq);
}

void series_init(struct series *s, const char *name, const char *unit, uint64_t ops)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->unit = unit;
	s->ops = ops;
}

void series_add(struct series *s, int rep, uint64_t insns)
{
	if (rep == 0 || s->n == MAX_REPS)
		return; /* repetition 0 is the warm-up */
	s->per_op[s->n++] = (double)insns / (double)s->ops;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void series_report(const struct series *s, const struct bench_cfg *cfg, const char *extra)
{
	if (s->n == 0)
		die("%s: no measured repetition", s->name);
	double v[MAX_REPS];
	memcpy(v, s->per_op, sizeof(double) * (size_t)s->n);
	qsort(v, (size_t)s->n, sizeof(double), cmp_double);
	double median = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	char thp[16] = "";
	if (cfg->thp)
		snprintf(thp, sizeof(thp), " thp=%s", cfg->thp);
	out("  %-18s %12.1f insn/%-9s median of %d (min %.1f, max %.1f), %lu %ss per rep%s\n", s->name,
	    median, s->unit, s->n, v[0], v[s->n - 1], (unsigned long)s->ops, s->unit,
	    cfg->thp ? (strcmp(cfg->thp, "off") == 0 ? ", THP off" : ", THP on") : "");
	out("bench %s ops=%lu instr_per_op=%.1f unit=%s reps=%d min=%.1f max=%.1f%s%s%s\n", s->name,
	    (unsigned long)s->ops, median, s->unit, s->n, v[0], v[s->n - 1], thp, extra ? " " : "",
	    extra ? extra : "");
}

uintptr_t brk_align(uintptr_t align)
{
	uintptr_t cur = sys_brk(0);
	uintptr_t want = (cur + align - 1) & ~(align - 1);
	if (want != cur && sys_brk(want) != want)
		die("brk(%#lx) failed (break stays at %#lx)", (unsigned long)want, (unsigned long)cur);
	return want;
}

void touch_pages(uintptr_t start, size_t len)
{
	for (uintptr_t p = start; p < start + len; p += PAGE_SIZE)
		*(volatile char *)p = 1;
}

/* ---- boot ------------------------------------------------------------------------------------- */

void bench_boot(const struct bench_cfg *cfg)
{
	(void)cfg;
	uint64_t insns = ticks_to_insns(entry_cntvct);
	out("  %-18s %12lu insn from reset to the first EL0 instruction\n", "boot", (unsigned long)insns);
	out("bench boot ops=1 instr_per_op=%lu unit=boot reps=1 min=%lu max=%lu\n", (unsigned long)insns,
	    (unsigned long)insns, (unsigned long)insns);
}

/* ---- the Linux suite runner (PID 1) ----------------------------------------------------------- */

/* Prints `bench-env KEY=first line of PATH`, if PATH can be read. */
static void env_from_file(const char *key, const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	out("bench-env %s=%s\n", key, buf);
}

/* Prints the kernel log lines that say how the kernel was configured at boot (KASLR, KPTI):
 * `quiet` keeps them off the console, but they bear on every figure. */
static void env_from_klog(void)
{
	static char log[1 << 17];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	if (n <= 0)
		return;
	log[n] = 0;
	static const char *const keys[] = { "page table isolation", "KASLR" };
	for (char *line = log, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		*end = 0;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strstr(line, keys[k])) {
				char *text = strchr(line, ']'); /* drop "<6>[    0.000000] " */
				out("bench-env klog=%s\n", text ? text + 2 : line);
				break;
			}
		}
	}
}

static void run_child(char *self, const char *thp_opt, const struct bench_cfg *cfg, const char *name)
{
	char reps[16];
	snprintf(reps, sizeof(reps), "--reps=%d", cfg->reps);
	char *argv[6];
	int argc = 0;
	argv[argc++] = self;
	argv[argc++] = (char *)thp_opt;
	argv[argc++] = reps;
	if (cfg->quick)
		argv[argc++] = "--quick";
	argv[argc++] = (char *)name;
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		out("bench-error fork failed for %s\n", name);
		return;
	}
	if (pid == 0) {
		char *envp[] = { NULL };
		execve(self, argv, envp);
		die("execve(%s) failed", self);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		out("bench-error waitpid failed for %s\n", name);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		out("bench-error %s %s ended with wait status %#x\n", name, thp_opt, status);
}

/* As PID 1 the runner measures the workloads meant for the machine it finds: the one-core ones on
 * one core, the threaded ones on several (scripts/bench boots Linux once of each). */
static void __attribute__((noreturn)) run_suite(char *self, const struct bench_cfg *cfg)
{
	/* proc and sysfs only to report the machine: a failure here costs a line, not the run */
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);

	struct utsname u;
	if (uname(&u) == 0)
		out("bench-env kernel=%s %s %s\n", u.sysname, u.release, u.version);
	out("bench-env cntfrq=%lu\n", (unsigned long)read_cntfrq());
	env_from_file("thp", "/sys/kernel/mm/transparent_hugepage/enabled");
	env_from_file("cmdline", "/proc/cmdline");
	env_from_klog();
	int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	out("bench-env cpus=%d\n", cores);

	if (cores == 1)
		bench_boot(cfg);
	static const char *const thp_opts[] = { "--thp=off", "--thp=on" };
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < NWORKLOADS; i++) {
			if (workloads[i].run == bench_boot || (workloads[i].cores > 1) != (cores > 1))
				continue;
			out("bench-run %s %s\n", workloads[i].name, thp_opts[t]);
			run_child(self, thp_opts[t], cfg, workloads[i].name);
		}
	}
	out("bench-done\n");
	reboot(RB_POWER_OFF);
	die("reboot(RB_POWER_OFF) failed");
}

/* ---- main ------------------------------------------------------------------------------------- */

static void usage(void)
{
	out("usage: bench [--quick] [--reps=N] [--thp=off|on] WORKLOAD... | all | list\n");
	for (size_t i = 0; i < NWORKLOADS; i++)
		out("  %-12s %s\n", workloads[i].name, workloads[i].what);
}

static void set_thp(const char *mode)
{
	int disable = strcmp(mode, "off") == 0;
	if (prctl(PR_SET_THP_DISABLE, disable, 0, 0, 0) != 0)
		die("prctl(PR_SET_THP_DISABLE, %d) failed", disable);
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != disable)
		die("PR_GET_THP_DISABLE does not read back %d", disable);
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = { .quick = 0, .reps = 5, .thp = NULL };
	int reps_given = 0, first = 1;
	for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
		const char *a = argv[first];
		if (strcmp(a, "--quick") == 0) {
			cfg.quick = 1;
		} else if (strncmp(a, "--reps=", 7) == 0) {
			cfg.reps = atoi(a + 7);
			reps_given = 1;
			if (cfg.reps < 1 || cfg.reps >= MAX_REPS)
				die("--reps must be 1..%d", MAX_REPS - 1);
		} else if (strcmp(a, "--thp=off") == 0 || strcmp(a, "--thp=on") == 0) {
			cfg.thp = a + 6;
		} else {
			usage();
			return 2;
		}
	}
	if (cfg.quick && !reps_given)
		cfg.reps = 1;

	if (first == argc) {
		if (getpid() == 1)
			run_suite(argv[0], &cfg);
		usage();
		return 2;
	}
	if (cfg.thp)
		set_thp(cfg.thp);

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "list") == 0) {
			usage();
			continue;
		}
		int found = 0;
		for (size_t w = 0; w < NWORKLOADS; w++) {
			if (strcmp(argv[i], "all") == 0 || strcmp(argv[i], workloads[w].name) == 0) {
				workloads[w].run(&cfg);
				found = 1;
			}
		}
		if (!found)
			die("unknown workload '%s' (try: bench list)", argv[i]);
	}
	return 0;
}
