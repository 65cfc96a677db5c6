/* brk_conformance: checks, from user space, the brk behaviours of Linux 6.x listed in
 * shared/conformance.md (the item numbers below are that list's). Output is TAP-like:
 *   ok N - description            or   not ok N - description (details)
 * then "# brk: P passed, F failed", and exit status 1 when anything failed.
 *
 * The experiments move the raw break under glibc, so the program never calls malloc (nor stdio, which
 * mallocs its buffers): output is vsnprintf into a static buffer plus write(2). Memory syscalls go
 * through svc directly: item 3 removes the heap, which holds glibc's static TLS block (set up with
 * __sbrk), and a libc wrapper that set errno in that window would fault. Expectations are real Linux's
 * (6.x, no brk randomisation needed); emulators such as qemu-user that implement brk themselves may
 * fail some items, which is the point of running this on tidemark and on Linux.
 *
 * Usage: brk_conformance [ITEM...]   (no argument: every item; otherwise only the items named, which
 * helps when one item takes an emulator or a young kernel down: qemu-user 7.2 aborts on the first brk
 * growth after item 8 or 9 has split or punched its emulated heap, so run items one by one there). */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#define P 4096UL
#define PAGE_ALIGN(x) (((x) + P - 1) & ~(P - 1))
#define TASK_SIZE (1UL << 48)

/* ---- raw system calls (no errno, no TLS) ---- */

static long sys6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a0;
	register long x1 __asm__("x1") = a1;
	register long x2 __asm__("x2") = a2;
	register long x3 __asm__("x3") = a3;
	register long x4 __asm__("x4") = a4;
	register long x5 __asm__("x5") = a5;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

/* The raw brk returns the new break on success and the old one on failure, never -errno. */
static unsigned long rbrk(unsigned long x)
{
	return (unsigned long)sys6(SYS_brk, (long)x, 0, 0, 0, 0, 0);
}

static long rmmap(unsigned long addr, unsigned long len, int prot, int flags)
{
	return sys6(SYS_mmap, (long)addr, (long)len, prot, flags, -1, 0);
}

static long rmunmap(unsigned long addr, unsigned long len)
{
	return sys6(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
}

static long rmprotect(unsigned long addr, unsigned long len, int prot)
{
	return sys6(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
}

static void rwrite(const char *s, unsigned long n)
{
	while (n) {
		long r = sys6(SYS_write, 1, (long)s, (long)n, 0, 0, 0);
		if (r <= 0)
			return;
		s += r;
		n -= (unsigned long)r;
	}
}

/* Reads a whole /proc file into a static buffer; returns its length, or -1. */
static char file_buf[256 << 10];
static long read_file(const char *path)
{
	long fd = sys6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0, 0, 0);
	if (fd < 0)
		return -1;
	long len = 0, r;
	while (len < (long)sizeof(file_buf) - 1 &&
	       (r = sys6(SYS_read, fd, (long)(file_buf + len), (long)(sizeof(file_buf) - 1 - len), 0, 0, 0)) > 0)
		len += r;
	sys6(SYS_close, fd, 0, 0, 0, 0, 0);
	file_buf[len] = 0;
	return len;
}

/* ---- output ---- */

static char out_buf[1024];
static int passed, failed;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out_buf, sizeof(out_buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(out_buf) - 1)
		n = sizeof(out_buf) - 1;
	rwrite(out_buf, (unsigned long)n);
}

/* Details of the first failed check of the current item. */
static char why[512];

static int check(int cond, const char *fmt, ...)
{
	if (!cond && !why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return cond;
}

static void report(int item, const char *desc)
{
	if (why[0]) {
		failed++;
		say("not ok %d - %s (%s)\n", item, desc, why);
	} else {
		passed++;
		say("ok %d - %s\n", item, desc);
	}
	why[0] = 0;
}

/* ---- faults ---- */

static sigjmp_buf fault_jmp;
static volatile int fault_code;
static volatile unsigned long fault_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	fault_addr = (unsigned long)si->si_addr;
	siglongjmp(fault_jmp, 1);
}

/* 0 if the access worked, 1 if it raised SIGSEGV (fault_code/fault_addr then say how). */
static int try_write(unsigned long addr, char v)
{
	fault_code = 0;
	fault_addr = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		*(volatile char *)addr = v;
		return 0;
	}
	return 1;
}

static int try_read(unsigned long addr, char *v)
{
	fault_code = 0;
	fault_addr = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		*v = *(volatile char *)addr;
		return 0;
	}
	return 1;
}

/* Expects a SIGSEGV with SEGV_MAPERR at exactly addr. */
static void expect_maperr(unsigned long addr, int faulted)
{
	if (check(faulted, "access at %#lx did not fault", addr)) {
		check(fault_code == SEGV_MAPERR, "si_code %d, want SEGV_MAPERR", fault_code);
		check(fault_addr == addr, "si_addr %#lx, want %#lx", fault_addr, addr);
	}
}

/* ---- /proc parsing ---- */

static unsigned long parse_hex(const char **s)
{
	unsigned long v = 0;
	for (;; (*s)++) {
		char c = **s;
		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long)(c - 'a' + 10);
		else
			return v;
	}
}

/* Counts the [heap] lines of /proc/self/maps and returns the range of the first; -1 if unreadable. */
static int heap_lines(unsigned long *start, unsigned long *end)
{
	if (read_file("/proc/self/maps") < 0)
		return -1;
	int n = 0;
	for (const char *line = file_buf; *line;) {
		const char *nl = strchr(line, '\n');
		const char *eol = nl ? nl : line + strlen(line);
		const char *h = strstr(line, "[heap]");
		if (h && h < eol) {
			if (n++ == 0) {
				const char *s = line;
				*start = parse_hex(&s);
				s++;
				*end = parse_hex(&s);
			}
		}
		line = nl ? nl + 1 : eol;
	}
	return n;
}

/* A "Name:   N kB" field of /proc/self/status, in kB; -1 if unavailable. */
static long status_kb(const char *name)
{
	if (read_file("/proc/self/status") < 0)
		return -1;
	const char *f = strstr(file_buf, name);
	if (!f)
		return -1;
	f += strlen(name);
	while (*f == ' ' || *f == '\t' || *f == ':')
		f++;
	return strtol(f, NULL, 10);
}

/* ---- the experiments ---- */

static unsigned long start_brk; /* [heap] start, or PAGE_ALIGN(&end) without /proc */
static unsigned long b;         /* page-aligned break every item starts from and returns to */
static unsigned long data_span; /* end_data - start_data, as Linux computes them from the PT_LOADs */
/* Static glibc mallocs before main (_dl_non_dynamic_init), so the heap already holds ~132 KiB. */
static unsigned char saved_heap[1 << 20];

/* Back to the break b, whatever an item left behind. */
static void reset(void)
{
	unsigned long r = rbrk(b);
	check(r == b, "could not return the break to %#lx (at %#lx)", b, r);
}

static void compute_data_span(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM), start_data = 0, end_data = 0;
	for (unsigned long i = 0; ph && i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_vaddr > start_data)
			start_data = ph[i].p_vaddr;
		if (ph[i].p_vaddr + ph[i].p_filesz > end_data)
			end_data = ph[i].p_vaddr + ph[i].p_filesz;
	}
	data_span = end_data - start_data;
}

static void item1(unsigned long orig)
{
	extern char end[];
	unsigned long hs = 0, he = 0;
	int lines = heap_lines(&hs, &he);
	check(rbrk(0) == orig && rbrk(0) == orig, "brk(0) changed: %#lx then %#lx", orig, rbrk(0));
	check(start_brk % P == 0, "start_brk %#lx not page aligned", start_brk);
	check(start_brk >= PAGE_ALIGN((unsigned long)end), "start_brk %#lx below the end of .bss %p", start_brk, end);
	check(orig >= start_brk, "break %#lx below start_brk %#lx", orig, start_brk);
	if (lines > 0)
		check(he == PAGE_ALIGN(orig), "[heap] ends at %#lx, want PAGE_ALIGN(brk) = %#lx", he, PAGE_ALIGN(orig));
	report(1, "brk(0) returns the current break; the heap starts page-aligned above .bss");
}

static void item2(unsigned long orig)
{
	unsigned long probes[] = { start_brk - 1, start_brk - P, PAGE_ALIGN((unsigned long)&data_span) - P, P };
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		unsigned long r = rbrk(probes[i]);
		check(r == orig, "brk(%#lx) returned %#lx, want the old break %#lx", probes[i], r, orig);
	}
	check(rbrk(0) == orig, "break moved to %#lx", rbrk(0));
	report(2, "brk below start_brk fails and returns the old break");
}

/* glibc's rseq area (in the thread's TLS block) and the length it registered, when the kernel took
 * the registration; tidemark has no rseq, and glibc then leaves `__rseq_size` zero. */
static void *rseq_area(unsigned long *len)
{
	*len = __rseq_size < 32 ? 32 : __rseq_size;
	return __rseq_size ? (char *)__builtin_thread_pointer() + __rseq_offset : NULL;
}

/* Removes the heap (and glibc's TLS in it) and puts it back; nothing here may touch TLS. The
 * kernel does, where rseq is registered: it writes the area each time the thread runs again after
 * a switch, and a write that faults is SIGSEGV. So the registration is dropped for the while. */
static void item3(unsigned long orig)
{
	unsigned long len = orig - start_brk, hs, he;
	if (!check(len <= sizeof(saved_heap), "heap of %lu bytes too big to save", len)) {
		report(3, "brk(start_brk) succeeds and removes the [heap] VMA");
		return;
	}
	unsigned long rseq_len;
	void *rseq = rseq_area(&rseq_len);
	if (rseq && sys6(SYS_rseq, (long)rseq, (long)rseq_len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, 0, 0) != 0)
		rseq = NULL;
	for (unsigned long i = 0; i < len; i++)
		saved_heap[i] = ((volatile unsigned char *)start_brk)[i];
	unsigned long r = rbrk(start_brk);
	int lines = r == start_brk ? heap_lines(&hs, &he) : 0;
	unsigned long back = rbrk(orig);
	if (back == orig)
		for (unsigned long i = 0; i < len; i++)
			((volatile unsigned char *)start_brk)[i] = saved_heap[i];
	else
		sys6(SYS_exit_group, 99, 0, 0, 0, 0, 0); /* TLS is gone: nothing sensible is left to do */
	if (rseq)
		sys6(SYS_rseq, (long)rseq, (long)rseq_len, 0, RSEQ_SIG, 0, 0);
	check(r == start_brk, "brk(start_brk=%#lx) returned %#lx", start_brk, r);
	check(lines >= 0, "cannot read /proc/self/maps");
	check(lines <= 0, "%d [heap] line(s) remain after brk(start_brk)", lines);
	report(3, "brk(start_brk) succeeds and removes the [heap] VMA");
}

static void item4(void)
{
	unsigned long absurd[] = { 1UL << 62, ~0UL, ~0UL - P + 2, TASK_SIZE, TASK_SIZE + P, 0xffff000000000000UL,
				   0xffff800000000000UL };
	for (unsigned i = 0; i < sizeof(absurd) / sizeof(absurd[0]); i++) {
		unsigned long r = rbrk(absurd[i]);
		check(r == b, "brk(%#lx) returned %#lx, want %#lx", absurd[i], r, b);
		if (r != b)
			reset();
	}
	report(4, "absurd breaks (1<<62, ~0, >= TASK_SIZE, kernel half) fail");
}

static void item5(void)
{
	unsigned long r = rbrk(b + 1), hs = 0, he = 0;
	check(r == b + 1, "brk(b+1) returned %#lx, want %#lx", r, b + 1);
	check(try_write(b + P - 1, 1) == 0, "write at b+4095 faulted (si_code %d)", fault_code);
	expect_maperr(b + P, try_write(b + P, 1));
	r = rbrk(b + 100);
	check(r == b + 100, "brk(b+100) returned %#lx", r);
	if (heap_lines(&hs, &he) > 0)
		check(he == b + P, "[heap] ends at %#lx, want %#lx", he, b + P);
	char v = 0;
	check(try_read(b + P - 1, &v) == 0 && v == 1, "page lost when the break moved inside it");
	reset();
	report(5, "unaligned break: exact return, heap ends at PAGE_ALIGN, SEGV_MAPERR past it");
}

static void item7(void)
{
	unsigned long r = rbrk(b + 4 * P);
	check(r == b + 4 * P, "grow to b+4P returned %#lx", r);
	if (r == b + 4 * P) {
		for (unsigned long i = 0; i < 4 * P; i++)
			((volatile unsigned char *)b)[i] = (unsigned char)(i * 7 + 1);
		r = rbrk(b + P + 100);
		check(r == b + P + 100, "shrink to b+P+100 returned %#lx", r);
		r = rbrk(b + 4 * P);
		check(r == b + 4 * P, "regrow returned %#lx", r);
		for (unsigned long i = 0; i < 2 * P; i++)
			if (!check(((volatile unsigned char *)b)[i] == (unsigned char)(i * 7 + 1),
				   "byte b+%#lx lost its data", i))
				break;
		for (unsigned long i = 2 * P; i < 4 * P; i++)
			if (!check(((volatile unsigned char *)b)[i] == 0, "byte b+%#lx not zero after regrow", i))
				break;
	}
	reset();
	report(7, "shrink then regrow: pages above PAGE_ALIGN(new break) zero, below keep data");
}

static void item8(void)
{
	unsigned long r = rbrk(b + 2 * P);
	check(r == b + 2 * P, "grow to b+2P returned %#lx", r);
	long m = rmprotect(b + P, P, PROT_READ);
	check(m == 0, "mprotect(b+P, P, PROT_READ) = %ld", m);
	r = rbrk(b + 3 * P);
	check(r == b + 3 * P, "grow to b+3P after mprotect returned %#lx", r);
	r = rbrk(b);
	check(r == b, "shrink across the split VMAs returned %#lx, want %#lx", r, b);
	reset();
	report(8, "shrink across an mprotect-split heap works (LTP brk02)");
}

static void item9(void)
{
	unsigned long r = rbrk(b + 4 * P);
	check(r == b + 4 * P, "grow to b+4P returned %#lx", r);
	long m = rmunmap(b + P, 3 * P);
	check(m == 0, "munmap(b+P, 3P) = %ld", m);
	r = rbrk(b + P);
	check(r == b + 4 * P, "brk(b+P) over an unmapped range returned %#lx, want the old %#lx", r, b + 4 * P);
	reset();
	report(9, "shrink over a range the user already munmapped fails (6.x)");
}

static void item10(void)
{
	unsigned long r = rbrk(b + 4 * P);
	check(r == b + 4 * P, "grow to b+4P returned %#lx", r);
	long m = rmmap(b + 2 * P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	check(m == (long)(b + 2 * P), "mmap(MAP_FIXED at b+2P) = %#lx", m);
	check(try_write(b + 2 * P, 5) == 0, "write to the MAP_FIXED page faulted");
	r = rbrk(b);
	check(r == b, "shrink to b returned %#lx", r);
	expect_maperr(b + 2 * P, try_write(b + 2 * P, 6));
	rmunmap(b + 2 * P, P);
	reset();
	report(10, "shrink removes a MAP_FIXED mapping inside the old heap");
}

static void item12(void)
{
	long m = rmmap(b + 16 * P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	check(m == (long)(b + 16 * P), "mmap at b+16P = %#lx", m);
	unsigned long r = rbrk(b + 15 * P);
	check(r == b + 15 * P, "brk(b+15P) returned %#lx", r);
	r = rbrk(b + 16 * P);
	check(r == b + 15 * P, "brk(b+16P) returned %#lx, want failure", r);
	r = rbrk(b + 17 * P);
	check(r == b + 15 * P, "brk(b+17P) returned %#lx, want failure", r);
	reset();
	rmunmap(b + 16 * P, P);
	report(12, "growth keeps one free page below the next VMA");
}

static void item13(void)
{
	long m = rmmap(b + 1024 * P, P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN);
	check(m == (long)(b + 1024 * P), "MAP_GROWSDOWN mmap at b+1024P = %#lx", m);
	unsigned long r = rbrk(b + 767 * P);
	check(r == b + 767 * P, "brk(b+767P) returned %#lx", r);
	r = rbrk(b + 768 * P);
	check(r == b + 767 * P, "brk(b+768P) returned %#lx, want failure (stack_guard_gap)", r);
	reset();
	rmunmap(b + 1024 * P, P);
	report(13, "growth stops stack_guard_gap (256 pages) below a grows-down VMA");
}

static void set_limit(int res, rlim_t cur)
{
	struct rlimit rl;
	getrlimit(res, &rl);
	rl.rlim_cur = cur;
	check(setrlimit(res, &rl) == 0, "setrlimit(%d, %#lx) failed", res, (unsigned long)cur);
}

static void item14(void)
{
	struct rlimit old;
	getrlimit(RLIMIT_DATA, &old);
	/* Check 1 counts bytes: the unaligned break minus start_brk plus end_data - start_data. */
	unsigned long t = b + 8 * P + 1, need = (t - start_brk) + data_span;
	set_limit(RLIMIT_DATA, need - 1);
	unsigned long r = rbrk(t);
	check(r == b, "brk(%#lx) with RLIMIT_DATA one byte short returned %#lx, want failure", t, r);
	set_limit(RLIMIT_DATA, need + (64UL << 20));
	r = rbrk(t);
	check(r == t, "brk(%#lx) with room in RLIMIT_DATA returned %#lx", t, r);
	setrlimit(RLIMIT_DATA, &old);
	reset();
	report(14, "RLIMIT_DATA check 1: (brk - start_brk) + (end_data - start_data)");
}

static void item15(void)
{
	struct rlimit old;
	getrlimit(RLIMIT_DATA, &old);
	/* Room for check 1, and for check 2 as long as nothing big is mapped: data_vm also counts .bss,
	 * which holds this program's 1.3 MiB of static buffers, hence 16 MiB of slack. */
	unsigned long t = b + P, lim = (t - start_brk) + data_span + (16UL << 20);
	set_limit(RLIMIT_DATA, lim);
	unsigned long r = rbrk(t);
	check(r == t, "one-page growth under RLIMIT_DATA %#lx returned %#lx", lim, r);
	reset();
	setrlimit(RLIMIT_DATA, &old);
	/* Mapped before the limit is lowered, since mmap is held to it as well. */
	long big = rmmap(0, 64UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	check(big > 0, "64 MiB mmap failed: %ld", big);
	set_limit(RLIMIT_DATA, lim);
	r = rbrk(t);
	check(r == b, "one-page growth with 64 MiB of data_vm returned %#lx, want failure", r);
	setrlimit(RLIMIT_DATA, &old);
	if (big > 0)
		rmunmap((unsigned long)big, 64UL << 20);
	reset();
	report(15, "RLIMIT_DATA check 2: data_vm (private writable mappings) + npages");
}

static void item16(void)
{
	struct rlimit old;
	getrlimit(RLIMIT_AS, &old);
	set_limit(RLIMIT_AS, P);
	unsigned long r = rbrk(b + P);
	check(r == b, "growth with RLIMIT_AS of one page returned %#lx, want failure", r);
	setrlimit(RLIMIT_AS, &old);
	r = rbrk(b + P);
	check(r == b + P, "growth after restoring RLIMIT_AS returned %#lx", r);
	reset();
	report(16, "RLIMIT_AS (total_vm + npages) stops growth");
}

static void item17(void)
{
	unsigned long r = b, hs = 0, he = 0;
	for (int i = 1; i <= 100 && r == b + (unsigned long)(i - 1) * P; i++)
		r = rbrk(b + (unsigned long)i * P);
	check(r == b + 100 * P, "growth stopped at %#lx", r);
	int lines = heap_lines(&hs, &he);
	check(lines >= 0, "cannot read /proc/self/maps");
	check(lines == 1 || lines < 0, "%d [heap] lines after 100 growths", lines);
	check(lines <= 0 || (hs == start_brk && he == b + 100 * P), "[heap] is %#lx-%#lx, want %#lx-%#lx", hs, he,
	      start_brk, b + 100 * P);
	reset();
	report(17, "repeated growth extends one [heap] VMA");
}

static void item18(void)
{
	enum { PAGES = 256 };
	unsigned long r = rbrk(b + PAGES * P);
	check(r == b + PAGES * P, "grow by %d pages returned %#lx", PAGES, r);
	long rss0 = status_kb("VmRSS");
	unsigned long sum = 0;
	for (unsigned long a = b; r == b + PAGES * P && a < r; a += 64)
		sum += *(volatile unsigned char *)a;
	long rss1 = status_kb("VmRSS");
	check(sum == 0, "fresh heap memory is not zero");
	if (rss0 >= 0 && rss1 >= 0)
		check(rss1 - rss0 < PAGES * 4 / 4, "reading %d fresh pages grew VmRSS by %ld kB (zero page expected)", PAGES,
		      rss1 - rss0);
	if (r == b + PAGES * P) {
		for (unsigned long a = b; a < r; a += P)
			*(volatile unsigned char *)a = 1;
		long rss2 = status_kb("VmRSS");
		if (rss2 >= 0 && rss1 >= 0)
			check(rss2 - rss1 >= PAGES * 4 * 3 / 4, "writing %d pages grew VmRSS by only %ld kB", PAGES,
			      rss2 - rss1);
	}
	reset();
	report(18, "fresh heap pages read as zero from the shared zero page; writes allocate");
}

static int argc_, selected_all;
static char **argv_;

static int want(int item)
{
	if (selected_all)
		return 1;
	for (int i = 1; i < argc_; i++)
		if (atoi(argv_[i]) == item)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	argc_ = argc;
	argv_ = argv;
	selected_all = argc < 2;
	unsigned long orig = rbrk(0), hs = 0, he = 0;
	extern char end[];
	start_brk = heap_lines(&hs, &he) > 0 ? hs : PAGE_ALIGN((unsigned long)end);
	compute_data_span();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	if (want(1))
		item1(orig);
	if (want(2))
		item2(orig);
	if (want(3))
		item3(orig);

	b = PAGE_ALIGN(orig);
	unsigned long r = rbrk(b);
	if (r != b) {
		say("Bail out! cannot set the break to %#lx (got %#lx)\n", b, r);
		return 1;
	}
	if (want(4))
		item4();
	if (want(5))
		item5();
	if (want(7))
		item7();
	if (want(8))
		item8();
	if (want(9))
		item9();
	if (want(10))
		item10();
	if (want(12))
		item12();
	if (want(13))
		item13();
	if (want(14))
		item14();
	if (want(15))
		item15();
	if (want(16))
		item16();
	if (want(17))
		item17();
	if (want(18))
		item18();

	r = rbrk(orig);
	if (r != orig)
		say("# could not restore the break to %#lx (at %#lx)\n", orig, r);
	say("# brk: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
