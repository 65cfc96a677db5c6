/* coredump: a signal whose default action dumps core leaves an ELF core file `core` in the
 * working directory when RLIMIT_CORE allows a page or more, and WCOREDUMP says so (Linux 6.1's
 * do_coredump and elf_core_dump). The file is read back here as GDB would: the ELF header,
 * the notes (the thread's registers and signal, the process's name and arguments, the mapped
 * files) and one PT_LOAD per VMA holding what was written to, and nothing of what MADV_DONTDUMP
 * left out. Run as `coredump`; `coredump emit` prints a core for GDB on the host instead. */
#define _GNU_SOURCE
#include "tap.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define PAGE 4096
#define YS 0x500

static char *written, *dontdump, *untouched;

/* The pattern madvise08 looks for: 'x', YS times 'y', 'z'. */
static void fill(char *p)
{
	p[0] = 'x';
	memset(p + 1, 'y', YS);
	p[YS + 1] = 'z';
}

static int has_pattern(const char *buf, size_t n)
{
	for (size_t i = 0; i + YS + 2 <= n; i++) {
		if (buf[i] != 'x' || buf[i + 1] != 'y')
			continue;
		size_t j = 1;
		while (j <= YS && buf[i + j] == 'y')
			j++;
		if (j == YS + 1 && buf[i + j] == 'z')
			return 1;
	}
	return 0;
}

static void set_core_limit(rlim_t cur)
{
	struct rlimit r = { cur, RLIM_INFINITY };
	setrlimit(RLIMIT_CORE, &r);
}

static int read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t got = read(fd, buf, n - 1);
	close(fd);
	buf[got > 0 ? got : 0] = 0;
	return got > 0 ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static pid_t last_child;
static int crash_threads;
static void *blocked(void *arg);

/* Forks a child that takes `sig` with RLIMIT_CORE at `limit`; its wait status. */
static int crash(int sig, rlim_t limit)
{
	unlink("core");
	pid_t c = fork();
	last_child = c;
	if (c == 0) {
		set_core_limit(limit);
		fill(written);
		fill(dontdump);
		madvise(dontdump, PAGE, MADV_DONTDUMP);
		for (int i = 0; i < crash_threads; i++) {
			pthread_t t;
			pthread_create(&t, NULL, blocked, NULL);
		}
		if (crash_threads) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		raise(sig);
		_exit(100);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

static char *core;
static size_t core_len;

static int read_core(void)
{
	free(core);
	core = NULL;
	core_len = 0;
	int fd = open("core", O_RDONLY);
	if (fd < 0)
		return -1;
	struct stat st;
	fstat(fd, &st);
	core = malloc(st.st_size + 1);
	ssize_t n;
	while ((n = read(fd, core + core_len, st.st_size - core_len)) > 0)
		core_len += n;
	close(fd);
	return 0;
}

/* The description of the `nth` note (from 0) of type `type` named `name`, and its size. */
static const char *nth_note(const char *name, unsigned type, int nth, size_t *len)
{
	const Elf64_Ehdr *eh = (const void *)core;
	const Elf64_Phdr *ph = (const void *)(core + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		size_t off = ph[i].p_offset, end = off + ph[i].p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end && end <= core_len) {
			const Elf64_Nhdr *nh = (const void *)(core + off);
			const char *nm = core + off + sizeof *nh;
			const char *desc = nm + ((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == type && nh->n_namesz == strlen(name) + 1 && !memcmp(nm, name, nh->n_namesz) && nth-- == 0) {
				*len = nh->n_descsz;
				return desc;
			}
			off = (desc - core) + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return NULL;
}

static const char *find_note(const char *name, unsigned type, size_t *len)
{
	return nth_note(name, type, 0, len);
}

/* The pids of the NT_PRSTATUS notes, in order, at most `max`; how many there are. */
static int prstatus_pids(int *pids, int max)
{
	int n = 0;
	size_t len;
	const char *desc;
	while ((desc = nth_note("CORE", NT_PRSTATUS, n, &len)) && len >= 36) {
		if (n < max)
			memcpy(&pids[n], desc + 32, sizeof(int));
		n++;
	}
	return n;
}

static void *blocked(void *arg)
{
	while (arg == NULL)
		pause();
	return arg;
}

static const Elf64_Phdr *load_at(unsigned long va)
{
	const Elf64_Ehdr *eh = (const void *)core;
	const Elf64_Phdr *ph = (const void *)(core + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va < ph[i].p_vaddr + ph[i].p_memsz)
			return &ph[i];
	return NULL;
}

/* `coredump emit`: the core of a SIGSEGV in a process of three threads, in base64 between two
 * marker lines on stdout, for GDB on the host (tests/gdb.rs). */
static int emit(void)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	crash_threads = 2;
	int st = crash(SIGSEGV, RLIM_INFINITY);
	if (!WCOREDUMP(st) || read_core())
		return 1;
	static char line[77];
	tap_out("core-begin\n");
	for (size_t i = 0; i < core_len;) {
		int k = 0;
		for (; k < 76 && i < core_len; k += 4, i += 3) {
			unsigned v = (unsigned char)core[i] << 16;
			size_t left = core_len - i;
			if (left > 1)
				v |= (unsigned char)core[i + 1] << 8;
			if (left > 2)
				v |= (unsigned char)core[i + 2];
			line[k] = b64[v >> 18];
			line[k + 1] = b64[(v >> 12) & 63];
			line[k + 2] = left > 1 ? b64[(v >> 6) & 63] : '=';
			line[k + 3] = left > 2 ? b64[v & 63] : '=';
		}
		line[k] = '\n';
		(void)!write(1, line, k + 1);
	}
	tap_out("core-end\n");
	unlink("core");
	return 0;
}

int main(int argc, char **argv)
{
	mkdir("/tmp/coredump-dir", 0755);
	if (chdir("/tmp/coredump-dir"))
		return 1;
	/* Three VMAs that cannot merge: written, left out of dumps, never touched. */
	char *m = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + PAGE, PAGE);
	munmap(m + 3 * PAGE, PAGE);
	written = m, dontdump = m + 2 * PAGE, untouched = m + 4 * PAGE;
	if (argc > 1 && !strcmp(argv[1], "emit"))
		return emit();

	struct rlimit r;
	getrlimit(RLIMIT_CORE, &r);
	CHECK(r.rlim_cur == 0, "RLIMIT_CORE is 0 to begin with (%lu)", (unsigned long)r.rlim_cur);
	int st = crash(SIGABRT, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && !WCOREDUMP(st), "SIGABRT with RLIMIT_CORE 0: no dump (status %#x)", st);
	CHECK(access("core", F_OK) == -1 && errno == ENOENT, "and no file");

	st = crash(SIGTERM, RLIM_INFINITY);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && !WCOREDUMP(st) && access("core", F_OK) == -1, "SIGTERM's default dumps nothing (status %#x)", st);

	pid_t c = fork();
	if (c == 0) {
		set_core_limit(RLIM_INFINITY);
		raise(SIGQUIT);
		_exit(100);
	}
	siginfo_t si = { 0 };
	waitid(P_PID, c, &si, WEXITED);
	CHECK(si.si_code == CLD_DUMPED && si.si_status == SIGQUIT, "waitid: CLD_DUMPED, SIGQUIT (%d, %d)", si.si_code, si.si_status);

	st = crash(SIGSEGV, RLIM_INFINITY);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && WCOREDUMP(st), "SIGSEGV with RLIMIT_CORE unlimited: WCOREDUMP (status %#x)", st);
	struct stat fs = { 0 };
	CHECK(stat("core", &fs) == 0 && S_ISREG(fs.st_mode) && (fs.st_mode & 0777) == 0600, "the file `core`, mode 0600 (%o)", fs.st_mode);
	CHECK(read_core() == 0 && core_len > sizeof(Elf64_Ehdr), "%zu bytes", core_len);
	const Elf64_Ehdr *eh = (const void *)core;
	CHECK(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_type == ET_CORE && eh->e_machine == EM_AARCH64,
	      "an ELF64 core file for AArch64");

	size_t n = 0;
	const struct { int signo, code, err; short cursig; short pad; unsigned long pend, hold; int pid, ppid, pgrp, sid; long times[8]; unsigned long regs[34]; } *prs =
		(const void *)find_note("CORE", NT_PRSTATUS, &n);
	CHECK(prs && n == 392 && prs->cursig == SIGSEGV && prs->signo == SIGSEGV, "NT_PRSTATUS: 392 bytes, the signal");
	CHECK(prs && prs->ppid == getpid(), "its parent");
	const Elf64_Phdr *text = prs ? load_at(prs->regs[32]) : NULL;
	CHECK(text && (text->p_flags & PF_X), "the pc lies in an executable segment");
	const Elf64_Phdr *stack = prs ? load_at(prs->regs[31]) : NULL;
	CHECK(stack && stack->p_filesz == stack->p_memsz && (stack->p_flags & PF_W), "the sp in a writable segment dumped whole");

	const struct { char state, sname, zomb, nice; int pad; unsigned long flag; unsigned uid, gid; int pid, ppid, pgrp, sid; char fname[16]; char psargs[80]; } *ps =
		(const void *)find_note("CORE", NT_PRPSINFO, &n);
	char comm[17] = "";
	int cf = open("/proc/self/comm", O_RDONLY);
	if (cf >= 0 && read(cf, comm, 16) > 0)
		comm[strcspn(comm, "\n")] = 0;
	close(cf);
	CHECK(ps && n == 136 && !strncmp(ps->fname, comm, 16) && !strncmp(ps->psargs, argv[0], strlen(argv[0])),
	      "NT_PRPSINFO: the name and arguments (%.16s, %s)", ps ? ps->fname : "", ps ? ps->psargs : "none");
	const siginfo_t *sinfo = (const void *)find_note("CORE", NT_SIGINFO, &n);
	CHECK(sinfo && n == 128 && sinfo->si_signo == SIGSEGV, "NT_SIGINFO: the signal");
	const long *files = (const void *)find_note("CORE", 0x46494c45, &n);
	CHECK(files && n >= 16 && files[1] == PAGE, "NT_FILE: the mapped files (%ld)", files ? files[0] : -1);
	const char *fpr = find_note("CORE", NT_PRFPREG, &n);
	CHECK(fpr && n == 528, "NT_PRFPREG: the FP/SIMD registers");

	const Elf64_Phdr *w = load_at((unsigned long)written), *d = load_at((unsigned long)dontdump), *u = load_at((unsigned long)untouched);
	CHECK(w && w->p_vaddr == (unsigned long)written && w->p_filesz == PAGE && w->p_offset + PAGE <= core_len && has_pattern(core + w->p_offset, PAGE),
	      "memory written to is in its segment");
	CHECK(d && d->p_filesz == 0 && u && u->p_filesz == 0, "MADV_DONTDUMP memory and memory never written have empty segments");
	CHECK(!has_pattern(core, core_len) || (w && has_pattern(core + w->p_offset, PAGE) && !has_pattern(core + w->p_offset + PAGE, core_len - w->p_offset - PAGE) && !has_pattern(core, w->p_offset)),
	      "the pattern is nowhere else in the file");

	st = crash(SIGABRT, PAGE);
	CHECK(WIFSIGNALED(st) && WCOREDUMP(st) && stat("core", &fs) == 0 && fs.st_size <= PAGE, "RLIMIT_CORE of a page: a dump cut at the limit (%ld bytes)", (long)fs.st_size);
	st = crash(SIGABRT, PAGE - 1);
	CHECK(WIFSIGNALED(st) && !WCOREDUMP(st) && access("core", F_OK) == -1, "less than a page: none (status %#x)", st);
	unlink("core");

	/* Every thread's registers, the dumping thread's first. */
	c = fork();
	if (c == 0) {
		set_core_limit(RLIM_INFINITY);
		pthread_t t;
		pthread_create(&t, NULL, blocked, NULL);
		pthread_create(&t, NULL, blocked, NULL);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		raise(SIGSEGV);
		_exit(100);
	}
	waitpid(c, &st, 0);
	int pids[4] = { 0 };
	int threads = WCOREDUMP(st) && read_core() == 0 ? prstatus_pids(pids, 4) : -1;
	CHECK(threads == 3 && pids[0] == c && pids[1] != pids[2] && pids[1] > c && pids[2] > c,
	      "three threads: three NT_PRSTATUS notes, the one that took the signal first (%d: %d %d %d)", threads, pids[0], pids[1], pids[2]);
	unlink("core");

	/* Where the file goes: /proc/sys/kernel/core_pattern. */
	char pat[256] = "";
	CHECK(read_text("/proc/sys/kernel/core_pattern", pat, sizeof pat) == 0 && !strcmp(pat, "core\n"), "core_pattern is `core` (%s)", pat);
	CHECK(write_text("/proc/sys/kernel/core_pattern", "dump-%p.%e.%s\n") == 0, "root sets core_pattern");
	c = fork();
	if (c == 0) {
		set_core_limit(RLIM_INFINITY);
		raise(SIGABRT);
		_exit(100);
	}
	waitpid(c, &st, 0);
	char name[64];
	snprintf(name, sizeof name, "dump-%d.%s.%d", (int)c, comm, SIGABRT);
	CHECK(WCOREDUMP(st) && access(name, F_OK) == 0, "the dump is %s", name);
	unlink(name);
	mkdir("/tmp/coredump-dir/sub", 0755);
	write_text("/proc/sys/kernel/core_pattern", "/tmp/coredump-dir/sub/core.%p");
	st = crash(SIGBUS, RLIM_INFINITY);
	snprintf(name, sizeof name, "sub/core.%d", last_child);
	CHECK(WCOREDUMP(st) && access(name, F_OK) == 0, "an absolute pattern: %s", name);
	unlink(name);
	write_text("/proc/sys/kernel/core_pattern", "|/nonexistent-helper %p");
	st = crash(SIGABRT, RLIM_INFINITY);
	CHECK(WIFSIGNALED(st) && !WCOREDUMP(st), "a pipe to a helper that cannot run: no dump (status %#x)", st);
	write_text("/proc/sys/kernel/core_pattern", "core");

	/* What goes in: /proc/PID/coredump_filter. */
	CHECK(read_text("/proc/self/coredump_filter", pat, sizeof pat) == 0 && !strcmp(pat, "00000033\n"), "coredump_filter is 0x33 (%s)", pat);
	CHECK(write_text("/proc/self/coredump_filter", "0x32") == 0 && read_text("/proc/self/coredump_filter", pat, sizeof pat) == 0 && !strcmp(pat, "00000032\n"),
	      "writing 0x32 reads back (%s)", pat);
	CHECK(write_text("/proc/self/coredump_filter", "nonsense") == -1 && errno == EINVAL, "not a number: EINVAL");
	st = crash(SIGSEGV, RLIM_INFINITY);
	w = NULL;
	if (WCOREDUMP(st) && read_core() == 0)
		w = load_at((unsigned long)written);
	CHECK(w && w->p_filesz == 0, "without bit 0, anonymous private memory is left out (and the child inherited the filter) (%ld)", w ? (long)w->p_filesz : -1L);
	write_text("/proc/self/coredump_filter", "0x33");

	/* Whether: PR_SET_DUMPABLE. */
	CHECK(prctl(PR_GET_DUMPABLE) == 1, "PR_GET_DUMPABLE: 1");
	CHECK(prctl(PR_SET_DUMPABLE, 2) == -1 && errno == EINVAL, "PR_SET_DUMPABLE 2: EINVAL");
	c = fork();
	if (c == 0) {
		set_core_limit(RLIM_INFINITY);
		prctl(PR_SET_DUMPABLE, 0);
		raise(SIGABRT);
		_exit(100);
	}
	unlink("core");
	waitpid(c, &st, 0);
	CHECK(WIFSIGNALED(st) && !WCOREDUMP(st) && access("core", F_OK) == -1, "not dumpable: no dump (status %#x)", st);
	unlink("core");
	return tap_done("coredump");
}
