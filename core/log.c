/* logfmt lines on stderr, one write(2) per line. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Lines this long fit on the stack; longer ones are built on the heap. */
#define LOG_LINE_STACK 2048
#define LOG_MSG_MAX    1024

static atomic_int log_level_cur = LOG_INFO;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

/* The environment is read once so a level set by log_set_level() is never
 * overridden later, and getenv() is not raced by every log call. */
static void log_init_env(void)
{
	const char *v = getenv("CRIER_LOG_LEVEL");

	if (!v || !*v)
		return;
	if (strcasecmp(v, "debug") == 0)
		atomic_store(&log_level_cur, LOG_DEBUG);
	else if (strcasecmp(v, "info") == 0)
		atomic_store(&log_level_cur, LOG_INFO);
	else if (strcasecmp(v, "warn") == 0 || strcasecmp(v, "warning") == 0)
		atomic_store(&log_level_cur, LOG_WARN);
	else if (strcasecmp(v, "error") == 0)
		atomic_store(&log_level_cur, LOG_ERROR);
}

void log_set_level(log_level level)
{
	pthread_once(&log_once, log_init_env);
	if (level < LOG_DEBUG)
		level = LOG_DEBUG;
	if (level > LOG_ERROR)
		level = LOG_ERROR;
	atomic_store(&log_level_cur, (int)level);
}

static log_level log_get_level(void)
{
	pthread_once(&log_once, log_init_env);
	return (log_level)atomic_load(&log_level_cur);
}

static const char *log_level_name(log_level level)
{
	switch (level) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARN:
		return "warn";
	case LOG_ERROR:
		return "error";
	}
	return "info";
}

/* A value needs quotes when a logfmt reader would otherwise split or
 * misread it: empty, blanks, control bytes, '=', '"' or '\'. */
static int log_needs_quote(const char *s)
{
	if (!*s)
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
			return 1;
	return 0;
}

/* Length of the UTF-8 sequence starting at a lead byte, so truncation never
 * splits a character (1 for ASCII and for stray bytes). */
static size_t log_utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0)
		return c <= 0xef ? 3 : 1;
	if (c >= 0xc2)
		return 2;
	return 1;
}

const char *log_quote(char *buf, unsigned long size, const char *s)
{
	size_t o = 0;

	if (!buf || size == 0)
		return buf;
	if (!s)
		s = "";
	if (!log_needs_quote(s)) {
		size_t n = strlen(s);

		if (n >= size) {
			n = size - 1;
			/* Back off to a character boundary. */
			while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		return buf;
	}
	if (size < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		char esc[8];
		size_t n;

		switch (*p) {
		case '"':
			n = (size_t)snprintf(esc, sizeof(esc), "\\\"");
			break;
		case '\\':
			n = (size_t)snprintf(esc, sizeof(esc), "\\\\");
			break;
		case '\n':
			n = (size_t)snprintf(esc, sizeof(esc), "\\n");
			break;
		case '\r':
			n = (size_t)snprintf(esc, sizeof(esc), "\\r");
			break;
		case '\t':
			n = (size_t)snprintf(esc, sizeof(esc), "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
			} else {
				size_t want = log_utf8_len(*p), have = 1;

				while (have < want && (p[have] & 0xc0) == 0x80)
					have++;
				/* Room for the bytes plus the closing quote and NUL. */
				if (o + have + 2 > size)
					goto close;
				memcpy(buf + o, p, have);
				o += have;
				p += have;
				continue;
			}
			break;
		}
		if (o + n + 2 > size)
			goto close;
		memcpy(buf + o, esc, n);
		o += n;
		p++;
	}
close:
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Format "ts=... level=... msg=..." into dst; returns the length it needs. */
static int log_prefix(char *dst, size_t size, log_level level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char qmsg[LOG_MSG_MAX];

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) {
		memset(&tm, 0, sizeof(tm));
		ts.tv_nsec = 0;
	}
	log_quote(qmsg, sizeof(qmsg), msg ? msg : "");
	return snprintf(dst, size, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s", tm.tm_year + 1900,
	                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
	                log_level_name(level), qmsg);
}

static void log_emit(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += n;
		len -= (size_t)n;
	}
}

void log_write(log_level level, const char *msg, const char *kvfmt, ...)
{
	char stackbuf[LOG_LINE_STACK];
	char *line = stackbuf;
	size_t cap = sizeof(stackbuf);
	int saved_errno = errno;
	int plen, kvlen = 0;
	va_list ap;

	if (level < log_get_level())
		goto out;
	plen = log_prefix(line, cap, level, msg);
	if (plen < 0)
		goto out;
	if (kvfmt) {
		va_start(ap, kvfmt);
		kvlen = vsnprintf(NULL, 0, kvfmt, ap);
		va_end(ap);
		if (kvlen < 0)
			kvlen = 0;
	}
	if ((size_t)plen + (size_t)kvlen + 2 > cap) {
		char *big = malloc((size_t)plen + (size_t)kvlen + 2);

		/* Out of memory: fall back to the truncated stack line rather than
		 * lose it. */
		if (big) {
			line = big;
			cap = (size_t)plen + (size_t)kvlen + 2;
			plen = log_prefix(line, cap, level, msg);
			if (plen < 0)
				goto out;
		}
	}
	size_t used = (size_t)plen < cap ? (size_t)plen : cap - 1;

	if (kvfmt && kvlen > 0 && used + 1 < cap) {
		va_start(ap, kvfmt);
		vsnprintf(line + used, cap - used - 1, kvfmt, ap);
		va_end(ap);
		used += strlen(line + used);
	}
	/* A raw line break from a caller that skipped log_quote() would forge a
	 * second log line; flatten it. */
	for (size_t i = 0; i < used; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[used++] = '\n';
	log_emit(line, used);
out:
	if (line != stackbuf)
		free(line);
	errno = saved_errno;
}

const char *log_q(const char *s)
{
	/* A few rotating per-thread buffers, so one log line may quote several values. */
	static _Thread_local char bufs[4][1024];
	static _Thread_local unsigned next;
	char *b = bufs[next++ % 4];
	return log_quote(b, sizeof(bufs[0]), s ? s : "");
}
