/* exitcode N: exits with status N, or, with `segv`, dies of an uncaught SIGSEGV. */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "segv") == 0)
		*(int *volatile)(volatile unsigned long[]){ 8 }[0] = 1;
	return argc > 1 ? atoi(argv[1]) : 0;
}
