/*
 * Helpers nearly every plugin needs: formatting an init() error, logging a
 * formatted line, cutting a secret out of text a far side echoed back,
 * what an HTTP answer comes to, quoting a far side's text, base64 and HTTP
 * basic authentication, an upload buffer for libcurl.
 *
 * Optional. The ABI is include/crier/plugin.h alone; these are static
 * inline, so a plugin that includes this header carries its own copy and
 * links against nothing of crierd's (plugins never share code at run time).
 * They need the C library alone (plain -std=c11 will do); those that need
 * jansson are in plugin_json.h, those that need POSIX files in
 * plugin_file.h.
 */
#ifndef CRIER_PLUGIN_UTIL_H
#define CRIER_PLUGIN_UTIL_H

#include "plugin.h"

#include <stdarg.h>
#include <stdint.h>
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

/* The index of s in the n strings of list, or -1. */
static inline int crier_lookup(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return (int)i;
	return -1;
}

/* The n strings of list as "a, b, c" into out (size bytes, always
 * NUL-terminated, cut when it does not fit). Returns out. */
static inline char *crier_join(char *out, size_t size, const char *const *list, size_t n)
{
	size_t len = 0;

	if (size)
		out[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", list[i]);
	return out;
}

/* "unknown key \"<key>\"; known keys: a, b, c" (the n names of known) into
 * err; returns -1. */
static inline int crier_fail_unknown_key(char *err, size_t errlen, const char *key, const char *const *known, size_t n)
{
	char list[512];

	return crier_fail(err, errlen, "unknown key \"%s\"; known keys: %s", key,
	                  crier_join(list, sizeof(list), known, n));
}

/* ---- HTTP answers ---- */

/* 1 when an answer with this status is worth another try: none at all (0),
 * 408, 429 and 5xx, and a status above 599, which is no HTTP status: a far
 * side that garbled its answer is treated like one that gave none. */
static inline int crier_http_transient(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* What an answer comes to: 2xx ok, transient statuses retry, and the rest
 * fail (a request the far side refuses, or a redirect: the host never
 * follows them, and sending the same request again ends the same way). */
static inline crier_result crier_http_result(long status)
{
	if (status >= 200 && status < 300)
		return CRIER_OK;
	return crier_http_transient(status) ? CRIER_RETRY : CRIER_FAIL;
}

/* Tell the core why a delivery did not succeed (why is copied) and, with
 * CRIER_RETRY, not to try again before not_before_ms (unix ms; 0 for no
 * such wish, e.g. the response's retry_after_ms). Returns res. */
static inline crier_result crier_report(const crier_host_api *api, crier_delivery *d, crier_result res, const char *why,
                                        int64_t not_before_ms)
{
	api->set_error(d, why);
	if (res == CRIER_RETRY && not_before_ms > 0)
		api->retry_after(d, not_before_ms);
	return res;
}

/*
 * Up to max bytes of s (len bytes; s may be NULL when len is 0) into out
 * (size bytes, always NUL-terminated), to quote a far side's text in an
 * error: cut back to a UTF-8 character boundary when cut short, control
 * characters blanked so it stays on one line. Returns the length written.
 * Redact what you sent (crier_redact) from the message it goes into.
 */
static inline size_t crier_quote(char *out, size_t size, const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	if (size == 0)
		return 0;
	if (n > size - 1)
		n = size - 1;
	if (n < len)
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[n] = '\0';
	return n;
}

/* "HTTP 404: <quote>", or "HTTP 404" when quote (borrowed) is empty or
 * NULL, into out (size bytes, always NUL-terminated). */
static inline void crier_http_error(char *out, size_t size, long status, const char *quote)
{
	if (quote && *quote)
		snprintf(out, size, "HTTP %ld: %s", status, quote);
	else
		snprintf(out, size, "HTTP %ld", status);
}

/* ---- base64 and HTTP basic authentication ---- */

/* Bytes crier_base64 writes for len bytes of input, the NUL included. */
#define CRIER_BASE64_SIZE(len) (((len) + 2) / 3 * 4 + 1)

/* The four characters of standard base64 (RFC 4648 section 4, padded with
 * '=') for n (1 to 3) bytes at in. */
static inline void crier_base64_quad(char out[4], const unsigned char *in, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long v = (unsigned long)in[0] << 16 | (n > 1 ? (unsigned long)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);

	out[0] = abc[v >> 18 & 63];
	out[1] = abc[v >> 12 & 63];
	out[2] = n > 1 ? abc[v >> 6 & 63] : '=';
	out[3] = n > 2 ? abc[v & 63] : '=';
}

/* Standard base64 of len bytes of data into out (CRIER_BASE64_SIZE(len)
 * bytes), NUL-terminated. Returns the length written, the NUL aside. */
static inline size_t crier_base64(char *out, const void *data, size_t len)
{
	const unsigned char *in = (const unsigned char *)data;
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3, o += 4)
		crier_base64_quad(out + o, in + i, len - i < 3 ? len - i : 3);
	out[o] = '\0';
	return o;
}

/* The value of an HTTP basic Authorization header (RFC 7617): "Basic "
 * and the base64 of "user:pass". A new string, a secret (free it with
 * crier_free_secret), or NULL when out of memory. */
static inline char *crier_basic_auth(const char *user, const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass), n = ul + 1 + pl;
	char *raw = malloc(n), *out = raw ? malloc(sizeof("Basic ") - 1 + CRIER_BASE64_SIZE(n)) : NULL;

	if (!out) {
		free(raw);
		return NULL;
	}
	memcpy(raw, user, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, pass, pl);
	memcpy(out, "Basic ", sizeof("Basic ") - 1);
	crier_base64(out + sizeof("Basic ") - 1, raw, n);
	crier_wipe(raw, n);
	free(raw);
	return out;
}

/* ---- uploads through libcurl ---- */

/* A buffer libcurl uploads from, for a plugin that speaks a protocol the
 * host's HTTP client does not (SMTP, SFTP): CURLOPT_READFUNCTION
 * crier_upload_read, CURLOPT_READDATA a crier_upload. */
typedef struct crier_upload {
	const char *p; /* borrowed: what is still to be sent */
	size_t left;
} crier_upload;

static inline size_t crier_upload_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	crier_upload *u = (crier_upload *)userdata;
	size_t n = size * nitems < u->left ? size * nitems : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

#endif /* CRIER_PLUGIN_UTIL_H */
