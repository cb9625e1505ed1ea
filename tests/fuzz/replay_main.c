/*
 * A stand-in for libFuzzer's main(): feeds each file named on the command
 * line to LLVMFuzzerTestOneInput(), each in a child process so that one
 * crashing input (ASan/UBSan abort) is counted and the rest still run.
 * Prints "fuzz-replay: <target>: N passed, M failed"; exits 1 on a failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file in a buffer of exactly its size, as libFuzzer hands it
 * over, so ASan sees any read past the end. */
static uint8_t *replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	fclose(f);
	*len = (size_t)n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int replay_one(const char *path)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fuzz-replay: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		size_t len = 0;
		uint8_t *data = replay_read(path, &len);

		if (!data) {
			fprintf(stderr, "fuzz-replay: cannot read %s\n", path);
			_exit(2);
		}
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		exit(0); /* exit(), not _exit(): LeakSanitizer runs at exit */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (strncmp(name, "replay_", 7) == 0)
		name += 7;
	int passed = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (replay_one(argv[i]) == 0) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "fuzz-replay: %s: FAILED on %s\n", name, argv[i]);
		}
	}
	printf("fuzz-replay: %s: %d passed, %d failed\n", name, passed, failed);
	return failed ? 1 : 0;
}
