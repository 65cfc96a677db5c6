/* exitcode N: exits with status N. `exitcode segv` dies of an uncaught SIGSEGV; `exitcode oom`
 * touches anonymous memory until the machine has none left (tidemark, which has no swap and no OOM
 * killer, ends the program instead). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "segv") == 0) {
		int *volatile bad = (int *)(uintptr_t)8;
		*bad = 1;
	}
	if (argc > 1 && strcmp(argv[1], "oom") == 0) {
		for (int chunk = 0;; chunk++) {
			char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				printf("mmap failed after %d MiB\n", chunk * 16);
				return 1;
			}
			for (size_t i = 0; i < (16 << 20); i += 4096)
				p[i] = 1;
		}
	}
	return argc > 1 ? atoi(argv[1]) : 0;
}
