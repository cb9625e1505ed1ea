/*
 * A growing byte buffer, for text built piece by piece (JSON documents,
 * rendered templates and Markdown, the metrics page), and the whole-file
 * reader that fills one. A failure sticks: once an allocation failed (or a
 * caller set failed), the calls after it add nothing and strbuf_take gives
 * NULL, so a caller checks once, at the end.
 *
 * The appends are static inline: json_writer.h writes every event and
 * delivery through them, and a call per byte there costs more than the copy.
 */
#ifndef CRIER_STRBUF_H
#define CRIER_STRBUF_H

#include <stddef.h>
#include <string.h>

struct stat;

typedef struct strbuf {
	char *data; /* owned; NULL until the first byte; NUL-terminated only by strbuf_text and strbuf_take */
	size_t len, cap;
	int failed;
} strbuf;

#define STRBUF_INIT                                                                                                    \
	{                                                                                                              \
		NULL, 0, 0, 0                                                                                          \
	}

/* The slow path of strbuf_reserve: a larger allocation. */
int strbuf_grow(strbuf *b, size_t n);

/* Room for n more bytes and a terminator after them: 0, or -1 with b
 * failed. Bytes written into data + len, up to n, are kept by adding them
 * to len. */
static inline int strbuf_reserve(strbuf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (n < b->cap - b->len)
		return 0;
	return strbuf_grow(b, n);
}

/* n bytes at s (borrowed; not NULL). */
static inline void strbuf_add(strbuf *b, const void *s, size_t n)
{
	if (strbuf_reserve(b, n) == 0) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
}

static inline void strbuf_addch(strbuf *b, char c)
{
	if (strbuf_reserve(b, 1) == 0)
		b->data[b->len++] = c;
}

/* A NUL-terminated string (borrowed). */
static inline void strbuf_addstr(strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text so far, NUL-terminated, borrowed until the next call on b; NULL
 * when b failed. */
const char *strbuf_text(strbuf *b);

/* The text (new, NUL-terminated even when nothing was added; its length in
 * *len when len is not NULL), b left empty; or NULL when b failed, and b is
 * freed. */
char *strbuf_take(strbuf *b, size_t *len);

/* Empty b for reuse, keeping its memory (a failure is forgotten). */
static inline void strbuf_reset(strbuf *b)
{
	b->len = 0;
	b->failed = 0;
}

/* Free the text and empty b (a failure is forgotten). */
void strbuf_free(strbuf *b);

/*
 * The whole file at path, read to its end: a new NUL-terminated string of
 * *len bytes. NULL with errno set when open(2), fstat(2) or read(2) fails
 * (their errno), for a directory (EISDIR), when the file holds more than
 * max bytes (EFBIG: a regular file is refused by its size, unread; a pipe
 * after max + 1 bytes), or out of memory (ENOMEM). The file may hold a
 * secret: what was read is wiped before a failure frees it, and a regular
 * file is read into one allocation (unless it grows meanwhile), which
 * leaves no copy behind. st, when not NULL,
 * gets what fstat said, or st_mode 0 when the file could not be opened:
 * how a caller tells a failed open from a failed read, a regular file from
 * a pipe, and learns a refused file's size.
 */
char *strbuf_read_file(const char *path, size_t max, size_t *len, struct stat *st);

#endif
