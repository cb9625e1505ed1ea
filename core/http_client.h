/*
 * Outbound HTTP with libcurl: what the host table's http_request does for a
 * plugin instance (see include/crier/plugin.h). Built, with libcurl, into
 * crier-http.so, which crierd loads on the first request (http_module.h):
 * a crierd whose plugins never ask never maps libcurl and its TLS stack.
 *
 * One CURL easy handle per plugin instance, created on first use and kept
 * between calls so the connection stays alive. A handle is not thread-safe:
 * only the instance's own host thread may use it (the plugin ABI already
 * guarantees one call at a time per instance).
 *
 * Only http:// and https:// are allowed, redirects are never followed, and
 * no text produced here ever holds the request URL (it may carry a secret
 * token in its path or query); the host name may appear in error texts.
 */
#ifndef CRIER_HTTP_CLIENT_H
#define CRIER_HTTP_CLIENT_H

#include <crier/plugin.h>

#include <stdint.h>

/* What crier-http.so exports under HTTP_CLIENT_MODULE_SYMBOL, its only
 * visible symbol: the functions below, for http_module.c. Bump the version
 * whenever this table or what its functions promise changes. */
#define HTTP_CLIENT_MODULE_SYMBOL  "crier_http_module"
#define HTTP_CLIENT_MODULE_VERSION 1

typedef struct http_client_module {
	unsigned version; /* HTTP_CLIENT_MODULE_VERSION */
	int (*global_init)(void);
	void (*global_cleanup)(void);
	int (*request)(void **handle, const crier_http_request *req, crier_http_response *resp);
	void (*close)(void **handle);
} http_client_module;

extern const http_client_module crier_http_module;

/* Most bytes of a response body kept; the rest is read and dropped. */
#define HTTP_CLIENT_BODY_MAX 65536

/* Initialize libcurl for the whole process, once, before the first request
 * (http_module.c does, under its lock, when it loads the module: other
 * threads are running by then, which libcurl allows from 7.84 on). 0, or -1
 * when libcurl could not initialize. */
int http_client_global_init(void);

/* Release what http_client_global_init took. Call once at exit, after every
 * handle is closed. */
void http_client_global_cleanup(void);

/*
 * Perform req on *handle (a CURL easy handle owned by the caller, created
 * here when *handle is NULL; release it with http_client_close). req and
 * everything it points to are borrowed for the call.
 *
 * resp is always fully reset and filled:
 *   - returns 0 when an HTTP answer came (any status): resp->status is set,
 *     resp->body is new (never NULL, NUL-terminated, at most
 *     HTTP_CLIENT_BODY_MAX bytes), resp->retry_after_ms holds the parsed
 *     Retry-After (absolute unix ms), or on a 429 without one the time a
 *     rate-limit reset header names (http_client_parse_reset), or 0;
 *   - returns -1 on transport failure (or a bad request such as a header
 *     holding CR/LF, or a scheme other than http/https): resp->status is 0,
 *     resp->body is NULL and resp->error says why, without the URL.
 * In both cases release resp with http_module_response_free.
 */
int http_client_request(void **handle, const crier_http_request *req, crier_http_response *resp);

/* Free the easy handle in *handle (may be NULL) and set *handle to NULL. */
void http_client_close(void **handle);

/*
 * Parse a Retry-After header value (RFC 9110 10.2.3): delta-seconds, or an
 * HTTP-date in IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6 08:49:37 1994")
 * form. value is borrowed; surrounding whitespace is ignored. now_ms (unix ms)
 * anchors delta-seconds and two-digit years. Returns absolute unix ms, or 0
 * when value is NULL, empty, negative or unparseable.
 */
int64_t http_client_parse_retry_after(const char *value, int64_t now_ms);

/*
 * Parse a rate-limit reset header value: an RFC 3339 time (Mastodon's
 * X-RateLimit-Reset), epoch seconds (X's x-rate-limit-reset, Bluesky's
 * RateLimit-Reset: numbers from 10^9 up), or seconds from now_ms (smaller
 * numbers, as the IETF RateLimit draft has it). Returns absolute unix ms, or
 * 0 when value is NULL or unparseable. A 429 without Retry-After gets this
 * as its resp->retry_after_ms.
 */
int64_t http_client_parse_reset(const char *value, int64_t now_ms);

#endif
