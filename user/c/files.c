/* files: the root file system as a program sees it: making, writing, reading back, linking,
 * renaming and removing files and directories, the working directory, permissions, the devices
 * of /dev, and Linux's errors for bad paths. Runs as root, in a directory of its own under /tmp. */
#define _GNU_SOURCE
#include "tap.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define DIR_ "/tmp/files-test"

static int err(long r) { return r == -1 ? errno : 0; }

static int slurp(const char *path, char *buf, int n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int got = read(fd, buf, n);
	close(fd);
	if (got >= 0 && got < n)
		buf[got] = 0;
	return got;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

/* The names in the current directory other than "." and "..", sorted, as one string "a,b,c,"
 * (the order readdir gives is the file system's own: Linux 6.1's tmpfs lists the newest first);
 * returns how many of "." and ".." were listed. */
static int listing(char *out, int n)
{
	DIR *d = opendir(".");
	if (!d)
		return -1;
	int dots = 0, k = 0;
	static char names[32][256];
	static char *p[32];
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			dots++;
		else if (k < 32) {
			snprintf(names[k], sizeof names[k], "%s", e->d_name);
			p[k] = names[k];
			k++;
		}
	}
	closedir(d);
	qsort(p, k, sizeof *p, by_name);
	out[0] = 0;
	for (int i = 0; i < k; i++)
		if ((int)(strlen(out) + strlen(p[i]) + 2) < n) {
			strcat(out, p[i]);
			strcat(out, ",");
		}
	return dots;
}

/* Runs `f` in a child with the given ids; its exit status. */
static int as_user(uid_t uid, int (*f)(void))
{
	pid_t c = fork();
	if (c == 0) {
		if (setgid(uid) || setuid(uid))
			_exit(99);
		_exit(f());
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 98;
}

static int user_reads_secret(void) { return err(open(DIR_ "/secret", O_RDONLY)); }
static int user_creates_in_root_dir(void) { return err(open(DIR_ "/locked/x", O_CREAT | O_WRONLY, 0644)); }
static int user_makes_own(void) { return err(open(DIR_ "/shared/mine", O_CREAT | O_WRONLY, 0644)); }
static int other_removes(void) { return err(unlink(DIR_ "/shared/mine")); }

int main(void)
{
	char buf[8192], list[512];
	struct stat st;
	umask(022);
	(void)mkdir("/tmp", 01777);
	CHECK(mkdir(DIR_, 0755) == 0 && chdir(DIR_) == 0, "mkdir and chdir into " DIR_);
	CHECK(getcwd(buf, sizeof buf) && !strcmp(buf, DIR_), "getcwd: %s", buf);
	CHECK(err(mkdir(DIR_, 0755)) == EEXIST, "mkdir of an existing name: EEXIST");

	int fd = open("a", O_CREAT | O_WRONLY | O_EXCL, 0666);
	CHECK(fd >= 0 && write(fd, "hello world\n", 12) == 12, "create a file and write 12 bytes");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 12 && st.st_mode == (S_IFREG | 0644) &&
		      st.st_nlink == 1 && st.st_uid == 0,
	      "fstat: size 12, mode 0644 after the umask, one link, owned by root");
	close(fd);
	CHECK(err(open("a", O_CREAT | O_EXCL | O_WRONLY, 0644)) == EEXIST, "O_EXCL on it: EEXIST");
	CHECK(slurp("a", buf, sizeof buf) == 12 && !strcmp(buf, "hello world\n"), "read it back");
	fd = open("a", O_RDWR | O_APPEND);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_END) == 12 && pread(fd, buf, 5, 6) == 5 &&
		      !memcmp(buf, "world", 5),
	      "lseek to the end, pread in the middle");
	CHECK(lseek(fd, 0, SEEK_SET) == 0 && write(fd, "more\n", 5) == 5 && fstat(fd, &st) == 0 &&
		      st.st_size == 17,
	      "O_APPEND writes at the end whatever the position");
	CHECK(ftruncate(fd, 5) == 0 && pread(fd, buf, 100, 0) == 5 && ftruncate(fd, 8192) == 0 &&
		      pread(fd, buf, 8192, 0) == 8192 && !memcmp(buf, "hello", 5) && buf[5] == 0 &&
		      buf[8191] == 0,
	      "ftruncate shrinks, then grows with zeros");
	close(fd);
	fd = open("sparse", O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && pwrite(fd, "x", 1, 1 << 20) == 1 && fstat(fd, &st) == 0 &&
		      st.st_size == (1 << 20) + 1 && st.st_blocks <= 16,
	      "a write 1 MiB in makes a sparse file (%ld blocks)", (long)st.st_blocks);
	CHECK(pread(fd, buf, 4096, 4096) == 4096 && buf[0] == 0 && buf[4095] == 0,
	      "its hole reads as zeros");
	close(fd);
	CHECK(unlink("sparse") == 0 && err(stat("sparse", &st)) == ENOENT, "unlink; stat: ENOENT");

	CHECK(link("a", "b") == 0 && stat("a", &st) == 0 && st.st_nlink == 2, "link: two links");
	fd = open("b", O_RDONLY);
	CHECK(unlink("a") == 0 && fstat(fd, &st) == 0 && st.st_nlink == 1 &&
		      read(fd, buf, 5) == 5 && !memcmp(buf, "hello", 5),
	      "unlink one name: the other still reads");
	CHECK(unlink("b") == 0 && fstat(fd, &st) == 0 && st.st_nlink == 0 &&
		      pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "hello", 5),
	      "unlink the last name: the open file keeps its data");
	close(fd);

	fd = open("t", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "target", 6) == 6, "another file");
	close(fd);
	CHECK(symlink("t", "s") == 0 && readlink("s", buf, sizeof buf) == 1 && buf[0] == 't',
	      "symlink and readlink");
	CHECK(lstat("s", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 1 && stat("s", &st) == 0 &&
		      S_ISREG(st.st_mode) && st.st_size == 6,
	      "lstat sees the link, stat its target");
	CHECK(err(open("s", O_RDONLY | O_NOFOLLOW)) == ELOOP, "O_NOFOLLOW on a link: ELOOP");
	CHECK(symlink("l2", "l1") == 0 && symlink("l1", "l2") == 0 && err(open("l1", O_RDONLY)) == ELOOP,
	      "a symlink loop: ELOOP");
	CHECK(symlink("nowhere", "dangling") == 0 && err(stat("dangling", &st)) == ENOENT &&
		      (fd = open("dangling", O_CREAT | O_WRONLY, 0644)) >= 0 && close(fd) == 0 &&
		      stat("nowhere", &st) == 0,
	      "O_CREAT through a dangling symlink makes its target");

	CHECK(rename("t", "u") == 0 && err(stat("t", &st)) == ENOENT && slurp("u", buf, 64) == 6,
	      "rename moves the name");
	CHECK(rename("nowhere", "u") == 0 && stat("u", &st) == 0 && st.st_size == 0,
	      "rename over a file replaces it");
	fd = open("v", O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK(err(syscall(SYS_renameat2, AT_FDCWD, "u", AT_FDCWD, "v", 1)) == EEXIST,
	      "RENAME_NOREPLACE onto a name: EEXIST");
	CHECK(mkdir("d", 0755) == 0 && syscall(SYS_renameat2, AT_FDCWD, "v", AT_FDCWD, "d", 2) == 0 &&
		      stat("v", &st) == 0 && S_ISDIR(st.st_mode) && stat("d", &st) == 0 &&
		      S_ISREG(st.st_mode),
	      "RENAME_EXCHANGE swaps a file and a directory");
	CHECK(mkdir("v/e", 0755) == 0 && err(rename("v", "v/e/f")) == EINVAL,
	      "renaming a directory into its own child: EINVAL");
	CHECK(err(rename("v", "d")) == ENOTDIR && err(rename("d", "v")) == EISDIR,
	      "directory over a file: ENOTDIR; file over a directory: EISDIR");
	CHECK(err(rmdir("v")) == ENOTEMPTY && err(rmdir(".")) == EINVAL && err(unlink("v")) == EISDIR &&
		      err(rmdir("d")) == ENOTDIR,
	      "rmdir of a non-empty directory, of \".\", unlink of a directory, rmdir of a file");
	CHECK(rmdir("v/e") == 0 && rmdir("v") == 0, "rmdir when empty");

	int dots = listing(list, sizeof list);
	CHECK(dots == 2 && !strcmp(list, "d,dangling,l1,l2,s,u,"),
	      "getdents64 lists . and .. and every name: %s", list);
	CHECK(err(open("d", O_RDONLY | O_DIRECTORY)) == ENOTDIR && err(open(".", O_WRONLY)) == EISDIR &&
		      err(open("new/", O_CREAT | O_WRONLY, 0644)) == EISDIR,
	      "O_DIRECTORY on a file, writing a directory, O_CREAT of a name with a slash");
	memset(buf, 'n', 300);
	buf[300] = 0;
	CHECK(err(open(buf, O_RDONLY)) == ENAMETOOLONG, "a 300-byte name: ENAMETOOLONG");
	CHECK(err(open((char *)0xffff000000001000UL, O_RDONLY)) == EFAULT &&
		      err(mkdir((char *)8, 0755)) == EFAULT,
	      "paths at kernel and unmapped addresses: EFAULT");
	CHECK(err(open("d/x", O_RDONLY)) == ENOTDIR && err(mkdir("none/x", 0755)) == ENOENT,
	      "a file as a directory: ENOTDIR; a missing parent: ENOENT");

	CHECK(chmod("d", 0600) == 0 && stat("d", &st) == 0 && (st.st_mode & 07777) == 0600,
	      "chmod");
	struct timespec ts[2] = {{1000000000, 5}, {1200000000, 7}};
	CHECK(utimensat(AT_FDCWD, "d", ts, 0) == 0 && stat("d", &st) == 0 &&
		      st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 7 &&
		      st.st_atim.tv_sec == 1000000000,
	      "utimensat sets both times");

	CHECK(mkdir("gone", 0755) == 0 && chdir("gone") == 0 && rmdir(DIR_ "/gone") == 0,
	      "remove the working directory");
	CHECK(getcwd(buf, sizeof buf) == NULL && errno == ENOENT &&
		      err(open("x", O_CREAT | O_WRONLY, 0644)) == ENOENT,
	      "then getcwd and creating in it: ENOENT");
	CHECK(chdir("..") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, DIR_),
	      "and .. still leads back");

	fd = open("secret", O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK(mkdir("locked", 0755) == 0 && mkdir("shared", 01777) == 0 && chmod("shared", 01777) == 0,
	      "a private file, a root directory and a sticky one");
	CHECK(chmod(DIR_, 0755) == 0 && as_user(1000, user_reads_secret) == EACCES,
	      "another user cannot open the private file: EACCES");
	CHECK(as_user(1000, user_creates_in_root_dir) == EACCES,
	      "nor create in root's directory: EACCES");
	CHECK(as_user(1000, user_makes_own) == 0 && as_user(1001, other_removes) == EPERM,
	      "in a sticky directory only the owner may remove a file: EPERM");
	CHECK(stat("shared/mine", &st) == 0 && st.st_uid == 1000 && unlink("shared/mine") == 0,
	      "the file is the user's; root removes it");

	fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0 && write(fd, buf, 100) == 100 && read(fd, buf, 100) == 0,
	      "/dev/null swallows and ends at once");
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 1, 8192);
	CHECK(fd >= 0 && read(fd, buf, 8192) == 8192 && buf[0] == 0 && buf[8191] == 0,
	      "/dev/zero reads zeros");
	close(fd);
	fd = open("/dev/full", O_WRONLY);
	CHECK(fd >= 0 && err(write(fd, "x", 1)) == ENOSPC, "/dev/full: ENOSPC");
	close(fd);
	unsigned char r[32] = {0};
	fd = open("/dev/urandom", O_RDONLY);
	int nz = 0;
	CHECK(fd >= 0 && read(fd, r, 32) == 32, "/dev/urandom gives 32 bytes");
	for (int i = 0; i < 32; i++)
		nz += r[i] != 0;
	CHECK(nz > 16, "and they are not zeros (%d of 32 are not)", nz);
	close(fd);
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
		      minor(st.st_rdev) == 3,
	      "/dev/null is character device 1:3");
	struct statfs sf;
	CHECK(statfs("/proc", &sf) == 0 && sf.f_type == 0x9fa0, "statfs of /proc: procfs");
	CHECK(statfs(DIR_, &sf) == 0 && sf.f_bsize == 4096 && sf.f_namelen == 255,
	      "statfs of the root file system");
	CHECK(mknod("fifo", S_IFIFO | 0644, 0) == 0 && stat("fifo", &st) == 0 && S_ISFIFO(st.st_mode),
	      "mknod makes a FIFO");

	/* Magic links: /proc/self/fd/N leads to the open file itself, renamed or removed, and
	 * linkat through it names an O_TMPFILE file (unless it was opened O_EXCL). */
	char fdpath[64];
	char got[8] = {0};
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	CHECK(fd >= 0 && write(fd, "tmp", 3) == 3 &&
		      linkat(AT_FDCWD, fdpath, AT_FDCWD, "named", AT_SYMLINK_FOLLOW) == 0,
	      "linkat through /proc/self/fd names an O_TMPFILE file");
	int fd2 = open("named", O_RDONLY);
	CHECK(fd2 >= 0 && read(fd2, got, 3) == 3 && memcmp(got, "tmp", 3) == 0 && unlink("named") == 0,
	      "and the name opens its data");
	close(fd2);
	close(fd);
	fd = open(".", O_TMPFILE | O_EXCL | O_RDWR, 0600);
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	CHECK(fd >= 0 && err(linkat(AT_FDCWD, fdpath, AT_FDCWD, "named", AT_SYMLINK_FOLLOW)) == ENOENT,
	      "an O_TMPFILE|O_EXCL file cannot be linked: ENOENT");
	close(fd);
	fd = open("moved", O_CREAT | O_RDWR, 0600);
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	char lk[128] = {0};
	CHECK(fd >= 0 && write(fd, "mv", 2) == 2 && mkdir("sub", 0755) == 0 && rename("moved", "sub/moved2") == 0 &&
		      readlink(fdpath, lk, sizeof lk - 1) > 0 && strcmp(lk, DIR_ "/sub/moved2") == 0,
	      "/proc/self/fd/N follows a rename (%s)", lk);
	memset(lk, 0, sizeof lk);
	CHECK(unlink("sub/moved2") == 0 && rmdir("sub") == 0 && readlink(fdpath, lk, sizeof lk - 1) > 10 &&
		      strcmp(lk + strlen(lk) - 10, " (deleted)") == 0,
	      "and says deleted once the name is gone (%s)", lk);
	CHECK((fd2 = open(fdpath, O_RDONLY)) >= 0 && read(fd2, got, 2) == 2 && memcmp(got, "mv", 2) == 0,
	      "/proc/self/fd/N opens the renamed, then removed file");
	close(fd2);
	CHECK(err(linkat(AT_FDCWD, fdpath, AT_FDCWD, "back", AT_SYMLINK_FOLLOW)) == ENOENT,
	      "a removed file cannot be linked back: ENOENT");
	close(fd);

	const char *names[] = {"s", "l1", "l2", "dangling", "u", "d", "fifo", "secret"};
	int gone = 0;
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
		gone += unlink(names[i]) == 0;
	CHECK(gone == 8 && rmdir("locked") == 0 && rmdir("shared") == 0 && chdir("/") == 0 &&
		      rmdir(DIR_) == 0,
	      "everything removed");
	return tap_done("files");
}
