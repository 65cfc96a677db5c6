/* hello: the first static-glibc program tidemark runs. It exercises what every glibc program does at
 * start-up (TLS set-up through brk, auxv, stdio) plus both malloc paths: small chunks from the brk heap
 * and a block above the 128 KiB mmap threshold, which glibc gets with mmap and returns with munmap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv, char **envp)
{
	int envc = 0;
	while (envp[envc])
		envc++;
	printf("hello from glibc\n");
	printf("argc=%d envc=%d argv[0]=%s\n", argc, envc, argc > 0 ? argv[0] : "(none)");

	static const size_t sizes[] = { 16, 100, 4000, 64 << 10, 200 << 10, 1 << 20 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	unsigned char *blocks[N];
	unsigned long sum = 0;
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(sizes[i]);
		if (!blocks[i]) {
			printf("malloc(%zu) failed\n", sizes[i]);
			return 1;
		}
		memset(blocks[i], i + 1, sizes[i]);
	}
	for (int i = 0; i < N; i++) {
		sum += blocks[i][0] + blocks[i][sizes[i] - 1];
		free(blocks[i]);
	}
	if (sum != 2 * (1 + 2 + 3 + 4 + 5 + 6)) {
		printf("malloc'd memory did not keep its contents (sum %lu)\n", sum);
		return 1;
	}
	printf("malloc/free of %d blocks ok\n", N);
	printf("break at %p\n", sbrk(0));
	return 0;
}
