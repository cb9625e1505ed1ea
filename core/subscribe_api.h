/*
 * The public subscription API (docs/subscribers.md), as pure translation
 * between HTTP and control requests (docs/control.md), plus the per-client
 * rate limit. http_server.c does the I/O; the core (subscribers.c) does the
 * work. Safe on any thread.
 *
 *   POST /api/v1/subscribe           {"email": ...} or {"phone": ...}, "components" (JSON or form)
 *   GET  /api/v1/subscribe/confirm   ?token=... (the emailed link): an HTML page
 *   POST /api/v1/subscribe/confirm   {"phone": ..., "code": "123456"} (or {"token": ...})
 *   GET  /api/v1/unsubscribe         ?t=...: an HTML page asking to confirm
 *   POST /api/v1/unsubscribe         ?t=... (RFC 8058 one-click): removed at once
 */
#ifndef CRIER_SUBSCRIBE_API_H
#define CRIER_SUBSCRIBE_API_H

#include <stddef.h>
#include <stdint.h>

typedef enum subscribe_api_action {
	SUBSCRIBE_API_SUBSCRIBE,
	SUBSCRIBE_API_CONFIRM_LINK,
	SUBSCRIBE_API_CONFIRM_CODE,
	SUBSCRIBE_API_UNSUBSCRIBE_PAGE,
	SUBSCRIBE_API_UNSUBSCRIBE,
} subscribe_api_action;

/* The path is one of the API's. */
int subscribe_api_path(const char *path);

/* Route path and method (borrowed) to an action: 0; -1 no such path (404);
 * -2 the path takes other methods (405), *allow says which. */
int subscribe_api_route(const char *path, const char *method, subscribe_api_action *action, const char **allow);

/* Requests a client address makes that count against its allowance: the
 * ones that send messages or guess codes. Links from messages do not. */
int subscribe_api_limited(subscribe_api_action action);

/*
 * The control request for action (new JSON text), from the raw query
 * string (may be NULL), the Content-Type (may be NULL), the body (len
 * bytes) and the client's address (borrowed); NULL with err set to the
 * reason for a 400.
 */
char *subscribe_api_request(subscribe_api_action action, const char *query, const char *ctype, const char *body,
                            size_t len, const char *client, char *err, size_t errlen);

/* An answer to send: status, content type (static) and body (new). */
typedef struct subscribe_api_answer {
	unsigned status;
	const char *ctype;
	char *body;
	size_t len;
	int page; /* an HTML page: keep it out of caches, referrers and frames */
} subscribe_api_answer;

/*
 * The answer for the core's reply (borrowed text, NULL when the core did not
 * answer) to action. query is the request's (for the unsubscribe form);
 * home, the status page's URL or NULL, is linked from pages. 0, or -1 when
 * out of memory.
 */
int subscribe_api_answer_for(subscribe_api_action action, const char *reply, const char *query, const char *home,
                             subscribe_api_answer *out);

/* An error answer (a page or JSON, as action calls for) with message msg. */
int subscribe_api_error(subscribe_api_action action, unsigned status, const char *msg, subscribe_api_answer *out);

/* ---- the rate limit: a token bucket per client address ---- */

typedef struct subscribe_api_limiter subscribe_api_limiter;

subscribe_api_limiter *subscribe_api_limiter_new(void);
void subscribe_api_limiter_free(subscribe_api_limiter *l);

/*
 * Take one request from client's allowance (burst at once, per_hour coming
 * back evenly). IPv6 clients count by their /64, which one host usually
 * holds whole. 0 when allowed, else the seconds until one comes back.
 */
int64_t subscribe_api_limiter_take(subscribe_api_limiter *l, const char *client, int burst, int per_hour,
                                   int64_t now_ms);

#endif
