/* A growing byte buffer (see strbuf.h). */
#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* How much a read from a pipe or a device makes room for. */
#define STRBUF_READ_CHUNK 4096

int strbuf_grow(strbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *grown;

	if (b->failed)
		return -1;
	if (n >= SIZE_MAX / 2 - b->len)
		goto fail;
	while (cap <= b->len + n)
		cap *= 2;
	grown = realloc(b->data, cap);
	if (!grown)
		goto fail;
	b->data = grown;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void strbuf_addf(strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	/* Straight into the room there is; only what does not fit is formatted twice. */
	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (strbuf_reserve(b, (size_t)n) < 0)
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

const char *strbuf_text(strbuf *b)
{
	if (strbuf_reserve(b, 0) < 0)
		return NULL;
	b->data[b->len] = '\0';
	return b->data;
}

char *strbuf_take(strbuf *b, size_t *len)
{
	char *out = (char *)strbuf_text(b);

	if (!out) {
		strbuf_free(b);
		return NULL;
	}
	if (len)
		*len = b->len;
	*b = (strbuf)STRBUF_INIT;
	return out;
}

void strbuf_free(strbuf *b)
{
	free(b->data);
	*b = (strbuf)STRBUF_INIT;
}

/* Room for n more bytes, by a new allocation: the old one is wiped before it
 * is freed. What strbuf_read_file reads may be a secret, and realloc would
 * leave a copy of it in freed memory. */
static int strbuf_grow_wiped(strbuf *b, size_t n)
{
	strbuf bigger = STRBUF_INIT;

	if (b->failed || n >= SIZE_MAX / 2 - b->len || strbuf_grow(&bigger, b->len + n) < 0) {
		b->failed = 1;
		return -1;
	}
	if (b->len)
		memcpy(bigger.data, b->data, b->len);
	bigger.len = b->len;
	if (b->data)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	*b = bigger;
	return 0;
}

/* fd to its end into b, at most max bytes: 0, or -1 with errno. */
static int strbuf_read_fd(strbuf *b, int fd, size_t max)
{
	for (;;) {
		size_t room;
		ssize_t r;

		if (b->len > max) {
			errno = EFBIG;
			return -1;
		}
		if (b->cap - b->len <= 1 && strbuf_grow_wiped(b, STRBUF_READ_CHUNK) < 0) {
			errno = ENOMEM;
			return -1;
		}
		/* One byte past max at the most: enough to tell a longer file. */
		room = b->cap - b->len - 1;
		if (room - 1 > max - b->len)
			room = max - b->len + 1;
		r = read(fd, b->data + b->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		b->len += (size_t)r;
	}
}

char *strbuf_read_file(const char *path, size_t max, size_t *len, struct stat *st)
{
	strbuf b = STRBUF_INIT;
	struct stat sb;
	char *text = NULL;
	int fd, e;

	sb.st_mode = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		e = errno;
		sb.st_mode = 0;
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		e = EISDIR;
		goto out;
	}
	if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > max) {
		e = EFBIG;
		goto out;
	}
	/* A regular file's size is known: one allocation, grown only if the
	 * file grows meanwhile. */
	if (S_ISREG(sb.st_mode) && strbuf_reserve(&b, (size_t)sb.st_size + 1) < 0) {
		e = ENOMEM;
		goto out;
	}
	if (strbuf_read_fd(&b, fd, max) < 0) {
		e = errno;
		goto out;
	}
	e = ENOMEM; /* cannot happen: the reads left room for the terminator */
	text = strbuf_take(&b, len);
out:
	if (b.data)
		explicit_bzero(b.data, b.len);
	strbuf_free(&b);
	if (fd >= 0)
		close(fd);
	if (st)
		*st = sb;
	if (!text)
		errno = e;
	return text;
}
