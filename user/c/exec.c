/* exec: execve, execveat, #! scripts and vfork with Linux's semantics. The program runs itself
 * again (through /proc/self/exe, whatever its path) in a child mode that checks what survived the
 * exec and exits 0 only if all of it is right. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;
static char self[256];

static int err(long r) { return r == -1 ? errno : 0; }

static void on_usr1(int s) { (void)s; }

/* The child side: argv[1] says what to check; each failed check sets one bit of the status. */
static int child(int argc, char **argv)
{
	int bad = 0;
	const char *mode = argv[1];
	if (!strcmp(mode, "state")) {
		/* argv: self state <fd kept> <fd closed> <cwd> <exe> */
		char buf[256];
		struct sigaction sa;
		sigset_t set;
		if (argc != 6)
			return 1;
		if (fcntl(atoi(argv[2]), F_GETFD) != 0)
			bad |= 2; /* a descriptor without close-on-exec stays open */
		if (fcntl(atoi(argv[3]), F_GETFD) != -1 || errno != EBADF)
			bad |= 4; /* one with close-on-exec is closed */
		if (!getcwd(buf, sizeof buf) || strcmp(buf, argv[4]))
			bad |= 8; /* the working directory stays */
		if (umask(0) != 027)
			bad |= 16; /* so does the umask */
		sigaction(SIGUSR2, NULL, &sa);
		if (sa.sa_handler != SIG_IGN)
			bad |= 32; /* an ignored signal stays ignored */
		sigaction(SIGUSR1, NULL, &sa);
		if (sa.sa_handler != SIG_DFL)
			bad |= 64; /* a caught one is reset */
		sigprocmask(SIG_SETMASK, NULL, &set);
		if (!sigismember(&set, SIGTERM))
			bad |= 128; /* the blocked mask stays */
		sigpending(&set);
		if (!sigismember(&set, SIGTERM))
			bad |= 256; /* and a pending signal */
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		if (n < 0 || (buf[n] = 0, strcmp(buf, argv[5])))
			bad |= 512; /* /proc/self/exe names the program */
		if (!getenv("EXEC_TEST") || strcmp(getenv("EXEC_TEST"), "yes"))
			bad |= 1024; /* the new environment */
		if (strcmp((char *)getauxval(AT_EXECFN), "/proc/self/exe"))
			bad |= 2048; /* AT_EXECFN is the path as given */
		stack_t ss;
		if (sigaltstack(NULL, &ss) || !(ss.ss_flags & SS_DISABLE))
			bad |= 4096; /* the alternate signal stack is gone */
		return bad;
	}
	if (!strcmp(mode, "script")) {
		/* #!self script -> argv: self script <script path> one two */
		return !(argc == 5 && !strcmp(argv[2], "/tmp/exec-test.sh") && !strcmp(argv[3], "one") &&
			 !strcmp(argv[4], "two"));
	}
	if (!strcmp(mode, "chain")) {
		/* Execs itself n more times: every old image must be freed. */
		int n = atoi(argv[2]);
		if (n == 0)
			return 0;
		char next[16];
		snprintf(next, sizeof next, "%d", n - 1);
		char *args[] = {self, "chain", next, NULL};
		execve("/proc/self/exe", args, environ);
		return 1;
	}
	if (!strcmp(mode, "exit"))
		return atoi(argv[2]);
	return 100;
}

static int run(char *const args[], char *const env[])
{
	pid_t c = fork();
	if (c == 0) {
		execve("/proc/self/exe", args, env);
		_exit(200);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 300;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
	if (fd < 0)
		return -1;
	int n = write(fd, text, strlen(text));
	close(fd);
	return chmod(path, mode) || n != (int)strlen(text) ? -1 : 0;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0)
		self[n] = 0;
	if (argc > 1)
		return child(argc, argv);

	tap_out("# the program is %s\n", self);
	(void)mkdir("/tmp", 01777);
	CHECK(n > 0, "/proc/self/exe names the program");

	/* What an exec keeps and what it drops. */
	int kept = open("/proc/self/maps", O_RDONLY);
	int closed = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char kept_s[12], closed_s[12];
	snprintf(kept_s, sizeof kept_s, "%d", kept);
	snprintf(closed_s, sizeof closed_s, "%d", closed);
	CHECK(mkdir("/tmp/exec-cwd", 0755) == 0 || errno == EEXIST, "a working directory to keep");
	pid_t c = fork();
	if (c == 0) {
		chdir("/tmp/exec-cwd");
		umask(027);
		signal(SIGUSR2, SIG_IGN);
		signal(SIGUSR1, on_usr1);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		kill(getpid(), SIGTERM);
		static char alt[16384];
		stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
		sigaltstack(&ss, NULL);
		char *args[] = {self, "state", kept_s, closed_s, "/tmp/exec-cwd", self, NULL};
		char *env[] = {"EXEC_TEST=yes", NULL};
		execve("/proc/self/exe", args, env);
		_exit(200);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "execve keeps descriptors, cwd, umask, ignored signals, the mask and pending signals; "
	      "resets handlers and the alternate stack (status %#x)", st);

	char *exit7[] = {self, "exit", "7", NULL};
	CHECK(run(exit7, environ) == 7, "the new program's exit status reaches wait");
	char *chain[] = {self, "chain", "20", NULL};
	CHECK(run(chain, environ) == 0, "a process execs itself 20 times over");

	/* #! scripts. */
	char text[512];
	snprintf(text, sizeof text, "#!%s script\n", self);
	CHECK(write_file("/tmp/exec-test.sh", text, 0755) == 0, "write a script");
	c = fork();
	if (c == 0) {
		char *args[] = {"exec-test.sh", "one", "two", NULL};
		execve("/tmp/exec-test.sh", args, environ);
		_exit(200);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a #! script runs its interpreter with the argument, the path and the rest");

	/* Errors, returned to the caller, which goes on. */
	char *none[] = {"x", NULL};
	CHECK(err(execve("/tmp/no-such-program", none, environ)) == ENOENT, "no such file: ENOENT");
	CHECK(err(execve("/tmp", none, environ)) == EACCES, "a directory: EACCES");
	CHECK(write_file("/tmp/exec-plain", "just text\n", 0644) == 0 &&
		      err(execve("/tmp/exec-plain", none, environ)) == EACCES,
	      "a file without execute permission: EACCES");
	CHECK(write_file("/tmp/exec-junk", "just text\n", 0755) == 0 &&
		      err(execve("/tmp/exec-junk", none, environ)) == ENOEXEC,
	      "an executable file of no known format: ENOEXEC");
	CHECK(write_file("/tmp/exec-empty.sh", "#!\n", 0755) == 0 &&
		      err(execve("/tmp/exec-empty.sh", none, environ)) == ENOEXEC,
	      "a #! line without an interpreter: ENOEXEC");
	CHECK(write_file("/tmp/exec-missing.sh", "#!/tmp/no-interpreter\n", 0755) == 0 &&
		      err(execve("/tmp/exec-missing.sh", none, environ)) == ENOENT,
	      "a script whose interpreter is missing: ENOENT");
	CHECK(write_file("/tmp/exec-a.sh", "#!/tmp/exec-b.sh\n", 0755) == 0 &&
		      write_file("/tmp/exec-b.sh", "#!/tmp/exec-a.sh\n", 0755) == 0 &&
		      err(execve("/tmp/exec-a.sh", none, environ)) == ELOOP,
	      "scripts that interpret each other: ELOOP");
	CHECK(err(execve("/tmp/exec-plain/x", none, environ)) == ENOTDIR, "a file as a directory: ENOTDIR");
	CHECK(err(execve((char *)0xffff000000001000UL, none, environ)) == EFAULT,
	      "a path in kernel memory: EFAULT");
	CHECK(err(syscall(SYS_execve, "/proc/self/exe", 8L, environ)) == EFAULT, "argv unreadable: EFAULT");
	char *big = malloc(200000);
	memset(big, 'a', 199999);
	big[199999] = 0;
	char *bigv[] = {"x", big, NULL};
	CHECK(err(execve("/proc/self/exe", bigv, environ)) == E2BIG, "an argument over 128 KiB: E2BIG");
	free(big);
	CHECK(err(syscall(SYS_execveat, AT_FDCWD, "/proc/self/exe", none, environ, 0x8000)) == EINVAL,
	      "execveat with an unknown flag: EINVAL");

	/* execveat of a descriptor (fexecve). */
	int fd = open("/proc/self/exe", O_RDONLY);
	c = fork();
	if (c == 0) {
		syscall(SYS_execveat, fd, "", exit7, environ, AT_EMPTY_PATH);
		_exit(200);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "execveat(fd, \"\", AT_EMPTY_PATH) runs that file");
	close(fd);

	/* vfork: the parent resumes once the child has exec'd. */
	c = vfork();
	if (c == 0) {
		execve("/proc/self/exe", exit7, environ);
		_exit(200);
	}
	CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7,
	      "vfork then execve");
	pid_t sp;
	CHECK(posix_spawn(&sp, "/proc/self/exe", NULL, NULL, exit7, environ) == 0 &&
		      waitpid(sp, &st, 0) == sp && WIFEXITED(st) && WEXITSTATUS(st) == 7,
	      "posix_spawn");
	char *sh[] = {"exec-test.sh", "one", "two", NULL};
	CHECK(posix_spawn(&sp, "/tmp/exec-test.sh", NULL, NULL, sh, environ) == 0 &&
		      waitpid(sp, &st, 0) == sp && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "posix_spawn of a script");

	const char *files[] = {"/tmp/exec-test.sh", "/tmp/exec-plain", "/tmp/exec-junk", "/tmp/exec-empty.sh",
			       "/tmp/exec-missing.sh", "/tmp/exec-a.sh", "/tmp/exec-b.sh"};
	int gone = 0;
	for (unsigned i = 0; i < sizeof files / sizeof *files; i++)
		gone += unlink(files[i]) == 0;
	CHECK(gone == 7 && rmdir("/tmp/exec-cwd") == 0, "clean up");
	return tap_done("exec");
}
