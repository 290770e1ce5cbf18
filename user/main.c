/* user/main.c - global options and dispatch to `xdpfence OBJECT VERB`. Nothing else. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("xdpfence 0.1\n");
		return 0;
	}
	fprintf(stderr, "usage: xdpfence OBJECT VERB ...\n");
	return 2;
}
