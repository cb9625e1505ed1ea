/*
 * Helpers nearly every plugin needs: formatting an init() error, logging a
 * formatted line, and cutting a secret out of text a far side echoed back.
 *
 * Optional. The ABI is include/crier/plugin.h alone; these are static
 * inline, so a plugin that includes this header carries its own copy and
 * links against nothing of crierd's (plugins never share code at run time).
 */
#ifndef CRIER_PLUGIN_UTIL_H
#define CRIER_PLUGIN_UTIL_H

#include "plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Write a message into err (errlen bytes, always NUL-terminated); returns
 * -1, so init() can `return crier_fail(err, errlen, "...", ...)`. */
static inline int crier_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline int crier_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Log one formatted line (cut at 1 KiB) through the host. Never pass secrets. */
static inline void crier_logf(const crier_host_api *api, crier_host *host, crier_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void crier_logf(const crier_host_api *api, crier_host *host, crier_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	api->log(host, level, line);
}

/*
 * Replace every occurrence of needle in s (size bytes, in place) with
 * "[redacted]", or cut s there when the mark does not fit. A NULL needle,
 * or one shorter than 4 bytes, is left alone: it would mark ordinary text.
 */
static inline void crier_redact(char *s, size_t size, const char *needle)
{
	static const char mark[] = "[redacted]";
	size_t nlen = needle ? strlen(needle) : 0, mlen = sizeof(mark) - 1;
	char *p = s;

	if (nlen < 4)
		return;
	/* Search on after each mark, so a needle inside the mark cannot loop. */
	while ((p = strstr(p, needle)) != NULL) {
		size_t tail = strlen(p + nlen);
		if ((size_t)(p - s) + mlen + tail + 1 > size) {
			*p = '\0';
			return;
		}
		memmove(p + mlen, p + nlen, tail + 1);
		memcpy(p, mark, mlen);
		p += mlen;
	}
}

/* memset through a volatile pointer: a wipe right before free() that the
 * compiler cannot drop as a dead store (explicit_bzero needs _DEFAULT_SOURCE). */
static void *(*const volatile crier_memset_)(void *, int, size_t) = memset;

/* Zero n bytes of a secret (p may be NULL). */
static inline void crier_wipe(void *p, size_t n)
{
	if (p)
		crier_memset_(p, 0, n);
}

/* Zero a secret string, then free it (s may be NULL). */
static inline void crier_free_secret(char *s)
{
	if (s) {
		crier_wipe(s, strlen(s));
		free(s);
	}
}

#endif /* CRIER_PLUGIN_UTIL_H */
