/* core/strbuf.c: the growing buffer, and the whole-file reader with its
 * limit and its errors, which crierctl, the post-mortem drafts, the
 * templates and the configuration's files are read with. */
#include "check.h"
#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_append(void)
{
	strbuf b = STRBUF_INIT;
	char big[1000];
	size_t len = 0;

	memset(big, 'x', sizeof(big));
	strbuf_addstr(&b, "ab");
	strbuf_addch(&b, 'c');
	strbuf_add(&b, big, sizeof(big));
	strbuf_addf(&b, "[%d %s]", 42, "z");
	CHECK(b.len == 3 + sizeof(big) + 6);
	CHECK(b.cap > b.len);
	CHECK_STR(strbuf_text(&b) + b.len - 6, "[42 z]");
	/* A formatted piece larger than the room there is, more than once. */
	for (int i = 0; i < 50; i++)
		strbuf_addf(&b, "%.*s", 500, big);
	char *s = strbuf_take(&b, &len);
	CHECK(s && len == 3 + sizeof(big) + 6 + 50 * 500 && strlen(s) == len);
	CHECK(s && strncmp(s, "abcxxx", 6) == 0);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(s);

	/* Nothing added is still a string. */
	s = strbuf_take(&b, &len);
	CHECK_STR(s, "");
	CHECK(len == 0);
	free(s);
}

static void test_failure_sticks(void)
{
	strbuf b = STRBUF_INIT;
	size_t len = 7;

	strbuf_addstr(&b, "kept");
	b.failed = 1;
	strbuf_addstr(&b, "more");
	strbuf_addf(&b, "%d", 1);
	CHECK(b.len == 4);
	CHECK(strbuf_reserve(&b, 1) < 0);
	CHECK(strbuf_text(&b) == NULL);
	CHECK(strbuf_take(&b, &len) == NULL);
	CHECK(len == 7);
	CHECK(b.data == NULL && !b.failed); /* freed */

	/* A size no allocation can meet fails, and sticks. */
	strbuf_addstr(&b, "x");
	CHECK(strbuf_reserve(&b, (size_t)-1 / 2) < 0);
	CHECK(b.failed);
	strbuf_free(&b);
}

static char dir[] = "/tmp/crier-strbuf-XXXXXX";

static char *write_file(const char *name, const char *text, size_t n)
{
	static char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(text, 1, n, f) != n) {
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	return path;
}

static void test_read_file(void)
{
	struct stat st;
	size_t len = 0;
	char *s, *path;

	path = write_file("ten", "0123456789", 10);
	CHECK(path != NULL);
	s = strbuf_read_file(path, 10, &len, &st);
	CHECK_STR(s, "0123456789");
	CHECK(len == 10 && S_ISREG(st.st_mode));
	free(s);

	/* One byte over: refused by its size, which st gives. */
	errno = 0;
	CHECK(strbuf_read_file(path, 9, &len, &st) == NULL);
	CHECK(errno == EFBIG && S_ISREG(st.st_mode) && st.st_size == 10);

	path = write_file("empty", "", 0);
	s = strbuf_read_file(path, 10, &len, NULL);
	CHECK_STR(s, "");
	CHECK(len == 0);
	free(s);

	/* Bytes as they are, a NUL among them. */
	path = write_file("nul", "a\0b", 3);
	s = strbuf_read_file(path, 10, &len, NULL);
	CHECK(s && len == 3 && memcmp(s, "a\0b", 4) == 0);
	free(s);

	/* A failed open: open's errno, st_mode 0. */
	errno = 0;
	CHECK(strbuf_read_file("/nonexistent/crier-strbuf", 10, &len, &st) == NULL);
	CHECK(errno == ENOENT && st.st_mode == 0);

	/* Opened, but a directory. */
	errno = 0;
	CHECK(strbuf_read_file(dir, 10, &len, &st) == NULL);
	CHECK(errno == EISDIR && S_ISDIR(st.st_mode));
}

/* A pipe has no size: it is read up to one byte past the limit. */
static void test_read_pipe(void)
{
	char path[300], cmd[400];
	size_t len = 0;
	struct stat st;
	char *s;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	snprintf(cmd, sizeof(cmd), "printf 0123456789 > %s &", path);
	CHECK(system(cmd) == 0);
	s = strbuf_read_file(path, 100, &len, &st);
	CHECK_STR(s, "0123456789");
	CHECK(len == 10 && S_ISFIFO(st.st_mode));
	free(s);

	snprintf(cmd, sizeof(cmd), "head -c 100000 /dev/zero > %s &", path);
	CHECK(system(cmd) == 0);
	errno = 0;
	CHECK(strbuf_read_file(path, 50000, &len, &st) == NULL);
	CHECK(errno == EFBIG && S_ISFIFO(st.st_mode));

	/* Exactly the limit, over several reads and growths (each one a new,
	 * wiped allocation): all of it, byte for byte. */
	snprintf(cmd, sizeof(cmd), "head -c 50000 /dev/zero | tr '\\0' x > %s &", path);
	CHECK(system(cmd) == 0);
	s = strbuf_read_file(path, 50000, &len, &st);
	CHECK(s != NULL && len == 50000 && strspn(s, "x") == 50000 && s[50000] == '\0');
	free(s);
	unlink(path);
}

int main(void)
{
	char cmd[300];

	test_append();
	test_failure_sticks();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_read_file();
	test_read_pipe();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary("test_strbuf");
}
