/* A minimal unit-test harness: CHECK records a failure and goes on; main()
 * ends with check_summary(), which prints "N passed, N failed" and returns
 * the exit code. */
#ifndef CRIER_CHECK_H
#define CRIER_CHECK_H

#include "strbuf.h"

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		if (cond) {                                                                                            \
			check_passed++;                                                                                \
		} else {                                                                                               \
			check_failed++;                                                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                       \
		}                                                                                                      \
	} while (0)

#define CHECK_STR(a, b)                                                                                                \
	do {                                                                                                           \
		const char *check_a_ = (a), *check_b_ = (b);                                                           \
		if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                                         \
			check_passed++;                                                                                \
		} else {                                                                                               \
			check_failed++;                                                                                \
			fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", __FILE__,          \
			        __LINE__, #a, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");         \
		}                                                                                                      \
	} while (0)

/* The whole file at path (tests read fixtures and what they wrote): a new
 * NUL-terminated string, *len bytes when len is not NULL; NULL when it
 * cannot be read. */
static inline char *check_read_file(const char *path, size_t *len)
{
	return strbuf_read_file(path, (size_t)64 << 20, len, NULL);
}

static inline int check_summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
