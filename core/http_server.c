/*
 * The webhook server. A few worker threads (http.threads) each run their own
 * libmicrohttpd daemon on the shared listening socket, in an event loop that
 * also polls the worker's two sockets to the core. A request handed to the
 * core (alerts, or a drafts or subscription request) suspends its
 * connection; the core's answer, or http.ack_timeout_ms passing first,
 * resumes it and the handler answers. So no thread ever waits on the store,
 * and a connection costs no thread: the core's group commit sees every
 * request in flight, and the cores of the machine go to parsing and
 * committing rather than to switching between hundreds of threads.
 *
 * A request passes, in order: route (404), method (405), credentials
 * (401/403), declared length (413), streamed length (413), source parser
 * (400/202), core commit (503/200). Every answer is JSON except the health
 * and metrics endpoints.
 *
 * The drafts API (drafts_api.h) takes the same path with its own token,
 * and hands its requests to the core as control requests.
 */
#include "http_server.h"

#include "auth.h"
#include "drafts_api.h"
#include "ingest.h"
#include "json_writer.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "subscribe_api.h"
#include "timefmt.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define HTTP_CONNECTION_LIMIT     512
#define HTTP_CONNECTION_TIMEOUT_S 30
#define HTTP_WORKERS_MAX          16
#define HTTP_CACHE_SLOTS          4096
/* Each connection's memory for headers and buffers, zeroed by MHD before
 * every request: its default of 32 KiB cost a seventh of a request's
 * instructions and swept the CPU's caches each time. Headers bigger than
 * what fits get 431. */
#define HTTP_CONNECTION_MEMORY (12 * 1024)
/* At stop: how long requests in progress get to finish. */
#define HTTP_STOP_GRACE_MS 10000
#define HTTP_ERR_MAX       512
#define HTTP_PEER_MAX      64
/* Bytes past max_body read and dropped before an oversized request's
 * connection is closed instead of answered. */
#define HTTP_DRAIN_BYTES ((size_t)4 << 20)

#define HTTP_MSG_CREDENTIALS "missing or wrong credentials"
#define HTTP_MSG_LOOPBACK    "no credentials configured for this source; only loopback clients are accepted"
#define HTTP_MSG_STORE       "store unavailable, retry"
#define HTTP_MSG_DRAFTS_OFF                                                                                            \
	"the drafts API is off: set drafts.auth.token in the configuration (e.g. \"${CRIER_DRAFTS_TOKEN}\") to "       \
	"enable it"

typedef struct http_worker http_worker;

struct http_server {
	core *core; /* borrowed */
	/* Guards cfg: handlers read under the read lock, reload swaps under
	 * the write lock, so no handler sees a config after it is replaced. */
	pthread_rwlock_t lock;
	const config *cfg; /* borrowed */
	int port;
	subscribe_api_limiter *limiter; /* the subscription API's rate limit */
	int stop_fd;                    /* eventfd, readable once stopping */
	atomic_int stopping;
	size_t n_workers;
	http_worker *workers;
};

typedef struct http_request http_request;

/* A request the core has: its tag travels with it and comes back with the
 * answer, so it lives until then even if the request gave up waiting. */
typedef struct http_ticket {
	struct http_ticket *prev, *next; /* the worker's pending list */
	http_request *req;               /* NULL once the request stopped waiting */
	struct MHD_Connection *conn;     /* suspended until the answer */
	int64_t deadline;                /* timefmt_mono_ms: a clock step moves no wait */
} http_ticket;

/* Request bodies of up to this size reuse a worker's spare buffers: glibc
 * answers every "large" (>= 1 KiB) malloc by first consolidating its fast
 * bins, which jansson keeps full, and that cost ~8% of request time. */
#define HTTP_SPARE_SIZE (64 * 1024)
#define HTTP_SPARE_MAX  64

/* One event loop: a daemon, its sockets to the core, its requests in flight.
 * Everything here is touched by its own thread only. */
struct http_worker {
	http_server *s;
	struct MHD_Daemon *d;
	void *ingest, *control; /* core_socket()s */
	http_ticket *pending;
	size_t in_progress; /* requests begun and not completed */
	int draining;       /* the loop is over: nothing more goes to the core */
	char *spare[HTTP_SPARE_MAX];
	ingest_cache *cache; /* alerts parsed before, by their text */
	alert_heads heads;   /* the heads of the request being parsed (core_send_alerts) */
	size_t n_spare;
	pthread_t thread;
	int started;
	char name[16];
};

typedef enum http_route {
	HTTP_ROUTE_ALERTMANAGER,
	HTTP_ROUTE_UPTIMEROBOT,
	HTTP_ROUTE_GENERIC,
	HTTP_ROUTE_HEALTHZ,
	HTTP_ROUTE_READYZ,
	HTTP_ROUTE_METRICS,
	HTTP_ROUTE_DRAFTS,
	HTTP_ROUTE_SUBSCRIBE,
} http_route;

typedef struct http_route_def {
	const char *path;
	http_route route;
	config_source src; /* for ingest routes */
	int ingest;
	int get, post; /* methods allowed; GET implies HEAD for the probes */
	const char *allow;
} http_route_def;

static const http_route_def http_routes[] = {
    {"/api/v1/alertmanager", HTTP_ROUTE_ALERTMANAGER, CONFIG_SRC_ALERTMANAGER, 1, 0, 1, "POST"},
    {"/api/v1/uptimerobot", HTTP_ROUTE_UPTIMEROBOT, CONFIG_SRC_UPTIMEROBOT, 1, 1, 1, "GET, POST"},
    {"/api/v1/alerts", HTTP_ROUTE_GENERIC, CONFIG_SRC_GENERIC, 1, 0, 1, "POST"},
    {"/healthz", HTTP_ROUTE_HEALTHZ, CONFIG_SRC_N, 0, 1, 0, "GET, HEAD"},
    {"/readyz", HTTP_ROUTE_READYZ, CONFIG_SRC_N, 0, 1, 0, "GET, HEAD"},
    {"/metrics", HTTP_ROUTE_METRICS, CONFIG_SRC_N, 0, 1, 0, "GET, HEAD"},
    /* Methods depend on the path below it: see http_begin_drafts. */
    {DRAFTS_API_PREFIX, HTTP_ROUTE_DRAFTS, CONFIG_SRC_N, 0, 1, 1, "GET, POST"},
    /* Public, no credentials: see http_begin_subscribe. */
    {"/api/v1/subscribe", HTTP_ROUTE_SUBSCRIBE, CONFIG_SRC_N, 0, 1, 1, "GET, POST"},
};

/* Per-request state, kept in MHD's con_cls from the first call to the
 * completion callback. */
struct http_request {
	http_worker *w;
	const http_route_def *route;
	int begun;    /* the first handler call has happened */
	int answered; /* a response is queued; drop whatever else arrives */
	char *query;  /* owned raw query string (without '?'), NULL when none; may hold a token: never logged */
	size_t max_body;
	int ack_timeout_ms;
	char *body; /* owned; NUL-terminated, len bytes */
	size_t len, cap;
	size_t received; /* every body byte seen, buffered or not */
	int too_large;
	int oom;
	char peer[HTTP_PEER_MAX];
	drafts_api_action draft_action; /* for the drafts API */
	int64_t draft_id;
	subscribe_api_action sub_action; /* for the subscription API */
	/* Handed to the core: */
	int handed;             /* the next handler call answers */
	http_ticket *ticket;    /* while waiting for the answer */
	json_t *alerts;         /* our reference to what the core has */
	int64_t received_us;    /* when the request arrived whole */
	char *reply;            /* the core's answer (owned), NULL when none came */
	char err[HTTP_ERR_MAX]; /* why none came */
};

/* Extra headers for one answer. */
typedef struct http_extra {
	const char *allow;
	int challenge;           /* add WWW-Authenticate: Bearer */
	int challenge_basic;     /* and Basic */
	const char *retry_after; /* seconds, for a 429 */
	int page;                /* a page for people: no caching, no referrer, no framing, no script */
} http_extra;

/* ---- answers ---------------------------------------------------------- */

/* Set on a worker's thread once crierd is stopping: each answer then closes
 * its connection, so keep-alive clients stop bringing requests and the
 * requests in progress can run out (http_worker_main). */
static _Thread_local int http_closing;

static enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status, const char *ctype, char *body,
                                  size_t len, const http_extra *extra)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	/* MHD frees body with free() once sent (MHD_RESPMEM_MUST_FREE). */
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES)
		goto fail;
	if (http_closing && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
		goto fail;
	if (extra && extra->allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, extra->allow) != MHD_YES)
		goto fail;
	if (extra && extra->challenge &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"crier\"") != MHD_YES)
		goto fail;
	if (extra && extra->challenge_basic &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"crier\"") != MHD_YES)
		goto fail;
	if (extra && extra->retry_after &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, extra->retry_after) != MHD_YES)
		goto fail;
	if (extra && extra->page &&
	    (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	     MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") != MHD_YES ||
	     MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	     MHD_add_response_header(resp, "Content-Security-Policy",
	                             "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
	                             "frame-ancestors 'none'; base-uri 'none'") != MHD_YES))
		goto fail;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		metrics_request((int)status);
	return ret;
fail:
	MHD_destroy_response(resp);
	return MHD_NO;
}

static enum MHD_Result http_text(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *text)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return http_queue(conn, status, ctype, body, strlen(body), NULL);
}

/* Queue obj (stolen) as the JSON answer. */
static enum MHD_Result http_json(struct MHD_Connection *conn, unsigned status, json_t *obj, const http_extra *extra)
{
	char *body;

	if (!obj)
		return MHD_NO;
	body = json_writer_dumps(obj);
	json_decref(obj);
	if (!body)
		return MHD_NO;
	return http_queue(conn, status, "application/json", body, strlen(body), extra);
}

/* A JSON string of msg; parser messages may quote a cut-off slice of the
 * input, so bytes jansson refuses as UTF-8 become '?'. */
static json_t *http_jstring(const char *msg)
{
	json_t *j = json_string(msg ? msg : "");
	char *copy;

	if (j || !msg)
		return j;
	copy = strdup(msg);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static enum MHD_Result http_error(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const http_extra *extra)
{
	json_t *obj = json_object();

	/* json_object_set_new consumes the value even when it fails. */
	if (!obj || json_object_set_new(obj, "status", json_string("error")) != 0 ||
	    json_object_set_new(obj, "error", http_jstring(msg)) != 0) {
		json_decref(obj);
		return MHD_NO;
	}
	return http_json(conn, status, obj, extra);
}

/* ---- configuration snapshot -------------------------------------------- */

static void http_rdlock(http_server *s)
{
	/* EAGAIN (reader count exhausted) passes; EDEADLK cannot happen, as a
	 * handler never holds the write lock. */
	while (pthread_rwlock_rdlock(&s->lock) == EAGAIN)
		sched_yield();
}

static void http_unlock(http_server *s)
{
	pthread_rwlock_unlock(&s->lock);
}

/* ---- first call: route, method, auth, declared length ------------------- */

static const http_route_def *http_find_route(const char *url)
{
	for (size_t i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++)
		if (strcmp(url, http_routes[i].path) == 0 ||
		    (http_routes[i].route == HTTP_ROUTE_DRAFTS && drafts_api_path(url)) ||
		    (http_routes[i].route == HTTP_ROUTE_SUBSCRIBE && subscribe_api_path(url)))
			return &http_routes[i];
	return NULL;
}

/* Who a log line says sent the request: the ingest source, or the API. */
static const char *http_route_name(const http_route_def *r)
{
	return r->ingest ? config_source_name(r->src) : r->route == HTTP_ROUTE_SUBSCRIBE ? "subscribe" : "drafts";
}

static int http_method_ok(const http_route_def *r, const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
		return r->get;
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return r->get && !r->ingest;
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return r->post;
	return 0;
}

static const struct sockaddr *http_peer_addr(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci ? ci->client_addr : NULL;
}

/* X-Forwarded-For as one list. A proxy may add a header line of its own
 * instead of appending to the client's (HAProxy's "option forwardfor"
 * does), and the lines in order mean their values joined with commas (RFC
 * 9110, 5.3): reading the first line alone would believe the client. When
 * they do not fit, the last line alone, the nearest proxy's. */
typedef struct http_xff {
	char joined[512];
	size_t len;
	const char *last; /* MHD's, valid for the request */
	int overflow;
} http_xff;

static enum MHD_Result http_xff_line(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	http_xff *x = cls;
	size_t n;

	(void)kind;
	if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0)
		return MHD_YES;
	n = strlen(value);
	x->last = value;
	if (x->overflow || x->len + 2 + n >= sizeof(x->joined)) {
		x->overflow = 1;
		return MHD_YES;
	}
	if (x->len) {
		memcpy(x->joined + x->len, ", ", 2);
		x->len += 2;
	}
	memcpy(x->joined + x->len, value, n + 1);
	x->len += n;
	return MHD_YES;
}

/* The request's X-Forwarded-For (x holds it), or NULL without one. */
static const char *http_forwarded_for(struct MHD_Connection *conn, http_xff *x)
{
	x->len = 0;
	x->joined[0] = '\0';
	x->last = NULL;
	x->overflow = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_xff_line, x);
	if (!x->last)
		return NULL;
	return x->overflow ? x->last : x->joined;
}

/* A request a proxy forwarded comes from the proxy's address, which is
 * loopback when the proxy runs on this host. That address says nothing about
 * the client, so for the loopback-only rule of a source without credentials
 * such a request has no address at all: behind a local TLS proxy
 * (docs/configuration.md) the rule would otherwise let the whole world in. A
 * request is forwarded when its peer is one of http.trusted_proxies
 * (via_proxy: a proxy may add no header), or when it says so in any header
 * a proxy adds. */
static const char *const http_forwarding_headers[] = {"Forwarded",         "X-Forwarded-For",  "X-Real-IP", "Via",
                                                      "X-Forwarded-Proto", "X-Forwarded-Host", NULL};

static int http_forwarded(struct MHD_Connection *conn, int via_proxy)
{
	for (const char *const *h = http_forwarding_headers; *h && !via_proxy; h++)
		via_proxy = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, *h) != NULL;
	return via_proxy;
}

/* Strict decimal Content-Length; -1 when absent or not a number (MHD itself
 * refuses malformed ones, and streaming is counted anyway). */
static int http_content_length(struct MHD_Connection *conn, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		if (n > (UINT64_MAX - 9) / 10)
			n = UINT64_MAX; /* saturate: certainly too large */
		else
			n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

static enum MHD_Result http_health(http_server *s, struct MHD_Connection *conn, const http_route_def *r)
{
	size_t len = 0;
	char *text;

	switch (r->route) {
	case HTTP_ROUTE_HEALTHZ:
		return http_text(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	case HTTP_ROUTE_READYZ:
		if (core_ready(s->core))
			return http_text(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ready\n");
		return http_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", "starting\n");
	case HTTP_ROUTE_METRICS:
		text = metrics_render(&len);
		if (!text)
			return http_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			                 "out of memory\n");
		return http_queue(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len, NULL);
	default:
		break;
	}
	return MHD_NO;
}

/* A buffer of HTTP_SPARE_SIZE bytes (new or one of w's spares), or NULL. */
static char *http_spare_take(http_worker *w)
{
	return w->n_spare ? w->spare[--w->n_spare] : malloc(HTTP_SPARE_SIZE);
}

/* Free body, or keep it as a spare of w. */
static void http_spare_give(http_worker *w, char *body, size_t cap)
{
	if (body && cap == HTTP_SPARE_SIZE && w->n_spare < HTTP_SPARE_MAX)
		w->spare[w->n_spare++] = body;
	else
		free(body);
}

static enum MHD_Result http_check_length(struct MHD_Connection *conn, http_request *req, const http_route_def *r);

/*
 * The drafts API: its own token, and never open without one. Approving a
 * publication speaks for the company in public, so neither loopback nor
 * an ingest token is enough.
 */
static enum MHD_Result http_begin_drafts(http_server *s, struct MHD_Connection *conn, const char *url,
                                         const char *method, http_request *req)
{
	const char *allow = NULL, *why = NULL;
	char qpath[128];
	auth_result ar = AUTH_DENIED;
	int off;

	if (drafts_api_route(url, &req->draft_action, &req->draft_id, &allow) < 0) {
		req->answered = 1;
		log_debug("no such path", " path=%s peer=%s", log_quote(qpath, sizeof(qpath), url), req->peer);
		return http_error(conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
	}
	if (strcmp(method, allow) != 0) {
		http_extra ex = {.allow = allow};
		req->answered = 1;
		return http_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", &ex);
	}
	http_rdlock(s);
	off = auth_unconfigured(&s->cfg->drafts_auth);
	if (!off)
		ar = auth_check(&s->cfg->drafts_auth,
		                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), NULL,
		                http_peer_addr(conn), &why);
	req->max_body = s->cfg->max_body_bytes;
	req->ack_timeout_ms = s->cfg->ack_timeout_ms;
	http_unlock(s);
	if (off) {
		req->answered = 1;
		log_warn("request rejected", " api=drafts peer=%s reason=off", req->peer);
		return http_error(conn, MHD_HTTP_FORBIDDEN, HTTP_MSG_DRAFTS_OFF, NULL);
	}
	if (ar != AUTH_OK) {
		http_extra ex = {.challenge = 1};
		req->answered = 1;
		log_warn("request rejected", " api=drafts peer=%s reason=auth detail=\"%s\"", req->peer,
		         why ? why : "denied");
		return http_error(conn, MHD_HTTP_UNAUTHORIZED, HTTP_MSG_CREDENTIALS, &ex);
	}
	return http_check_length(conn, req, req->route);
}

/* Queue a subscription API answer (its body moves to MHD). */
static enum MHD_Result http_subscribe_queue(struct MHD_Connection *conn, subscribe_api_answer *a, const char *retry)
{
	http_extra ex = {.page = a->page, .retry_after = retry};

	if (!a->body)
		return MHD_NO;
	return http_queue(conn, a->status, a->ctype, a->body, a->len, &ex);
}

static enum MHD_Result http_subscribe_error(struct MHD_Connection *conn, http_request *req, unsigned status,
                                            const char *msg, const char *retry)
{
	subscribe_api_answer a = {0};

	req->answered = 1;
	if (subscribe_api_error(req->sub_action, status, msg, &a) < 0)
		return MHD_NO;
	return http_subscribe_queue(conn, &a, retry);
}

/*
 * The subscription API: open to anyone, so what sends messages or checks
 * codes is rate-limited per client address (429 with Retry-After).
 */
static enum MHD_Result http_begin_subscribe(http_server *s, struct MHD_Connection *conn, const char *url,
                                            const char *method, http_request *req)
{
	const char *allow = NULL;
	int rc = subscribe_api_route(url, method, &req->sub_action, &allow), enabled, burst, per_hour;

	if (rc == -1) {
		req->answered = 1;
		return http_error(conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
	}
	if (rc == -2) {
		http_extra ex = {.allow = allow};
		req->answered = 1;
		return http_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", &ex);
	}
	http_rdlock(s);
	enabled = s->cfg->subscribers.enabled;
	burst = s->cfg->subscribers.rate_burst;
	per_hour = s->cfg->subscribers.rate_per_hour;
	req->max_body = s->cfg->max_body_bytes;
	req->ack_timeout_ms = s->cfg->ack_timeout_ms;
	http_unlock(s);
	if (!enabled)
		return http_subscribe_error(conn, req, MHD_HTTP_NOT_FOUND, "subscriptions are not offered here", NULL);
	if (subscribe_api_limited(req->sub_action)) {
		int64_t wait = subscribe_api_limiter_take(s->limiter, req->peer, burst, per_hour, timefmt_now_ms());
		if (wait > 0) {
			char retry[32], msg[128];
			snprintf(retry, sizeof(retry), "%lld", (long long)wait);
			snprintf(msg, sizeof(msg), "too many requests from your address; try again in %lld seconds",
			         (long long)wait);
			log_info("request rejected", " api=subscribe peer=%s reason=rate_limit retry_after=%s",
			         req->peer, retry);
			return http_subscribe_error(conn, req, MHD_HTTP_TOO_MANY_REQUESTS, msg, retry);
		}
	}
	return http_check_length(conn, req, req->route);
}

static enum MHD_Result http_hand_over(http_worker *w, struct MHD_Connection *conn, http_request *req, const char *creq);

static const char *const http_subscribe_names[] = {"subscribe", "confirm_link", "confirm_code", "unsubscribe_page",
                                                   "unsubscribe"};

/* The subscription API's last call: translate and hand to the core. */
static enum MHD_Result http_finish_subscribe(http_worker *w, struct MHD_Connection *conn, http_request *req)
{
	char err[HTTP_ERR_MAX] = "", qerr[HTTP_ERR_MAX + 64];
	char *creq =
	    subscribe_api_request(req->sub_action, req->query,
	                          MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
	                          req->body ? req->body : "", req->len, req->peer, err, sizeof(err));

	if (!creq) {
		log_info("request rejected", " api=subscribe peer=%s reason=bad_request action=%s detail=%s", req->peer,
		         http_subscribe_names[req->sub_action], log_quote(qerr, sizeof(qerr), err));
		return http_subscribe_error(conn, req, MHD_HTTP_BAD_REQUEST, err, NULL);
	}
	enum MHD_Result rc = http_hand_over(w, conn, req, creq);
	free(creq);
	return rc;
}

/* The core's answer (or none) to a subscription request, for its sender. */
static enum MHD_Result http_answer_subscribe(http_server *s, struct MHD_Connection *conn, http_request *req)
{
	const char *action = http_subscribe_names[req->sub_action];
	char qerr[HTTP_ERR_MAX + 64], *home = NULL;
	subscribe_api_answer a = {0};

	if (!req->reply)
		log_warn("subscription request not answered", " api=subscribe peer=%s action=%s detail=%s", req->peer,
		         action, log_quote(qerr, sizeof(qerr), req->err));
	http_rdlock(s);
	home = s->cfg->status_page_url ? strdup(s->cfg->status_page_url) : NULL;
	http_unlock(s);
	int rc = subscribe_api_answer_for(req->sub_action, req->reply, req->query, home, &a);
	free(home);
	if (rc < 0)
		return http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	log_info("subscription request", " api=subscribe peer=%s action=%s status=%u", req->peer, action, a.status);
	return http_subscribe_queue(conn, &a, NULL);
}

static enum MHD_Result http_begin(http_server *s, struct MHD_Connection *conn, const char *url, const char *method,
                                  http_request *req)
{
	const http_route_def *r = http_find_route(url);
	const char *why = NULL;
	const struct sockaddr *peer = http_peer_addr(conn);
	auth_result ar;
	int basic = 0, via_proxy, forwarded = 0;
	char qpath[128];
	http_xff xff;

	req->route = r;
	/* Who sent it: behind a trusted proxy, the client it forwarded for. */
	http_rdlock(s);
	via_proxy = proxy_trusted(s->cfg->trusted_proxies, s->cfg->n_trusted_proxies, peer);
	proxy_client(s->cfg->trusted_proxies, s->cfg->n_trusted_proxies, peer,
	             via_proxy ? http_forwarded_for(conn, &xff) : NULL, req->peer, sizeof(req->peer));
	http_unlock(s);
	if (req->oom) {
		req->answered = 1;
		return http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	}

	if (!r) {
		req->answered = 1;
		/* Scanners probe paths all day: not worth a warning. The path
		 * is MHD's, without the query string. */
		log_debug("no such path", " path=%s peer=%s", log_quote(qpath, sizeof(qpath), url), req->peer);
		return http_error(conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
	}
	if (r->route == HTTP_ROUTE_DRAFTS)
		return http_begin_drafts(s, conn, url, method, req);
	if (r->route == HTTP_ROUTE_SUBSCRIBE)
		return http_begin_subscribe(s, conn, url, method, req);
	if (!http_method_ok(r, method)) {
		http_extra ex = {.allow = r->allow};
		char qm[32];

		req->answered = 1;
		if (r->ingest) {
			metrics_rejected(r->src, "method");
			log_warn("request rejected", " source=%s peer=%s reason=method method=%s",
			         config_source_name(r->src), req->peer, log_quote(qm, sizeof(qm), method));
		}
		return http_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", &ex);
	}
	if (!r->ingest) {
		req->answered = 1;
		return http_health(s, conn, r);
	}

	/* The secrets stay inside the read lock; only the verdict and the two
	 * scalars this request needs leave it. */
	http_rdlock(s);
	/* The peer matters only to a source without credentials (auth_check),
	 * and a forwarded request is never a loopback client's. */
	forwarded = auth_unconfigured(&s->cfg->auth[r->src]) && http_forwarded(conn, via_proxy);
	if (forwarded) {
		ar = AUTH_LOOPBACK_ONLY;
		why = "no credentials configured and the request came through a proxy (a forwarding "
		      "header, or a peer in http.trusted_proxies)";
	} else {
		ar = auth_check(&s->cfg->auth[r->src],
		                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		                MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token"), peer, &why);
	}
	basic = s->cfg->auth[r->src].username && s->cfg->auth[r->src].username[0];
	req->max_body = s->cfg->max_body_bytes;
	req->ack_timeout_ms = s->cfg->ack_timeout_ms;
	http_unlock(s);

	if (ar != AUTH_OK) {
		req->answered = 1;
		metrics_rejected(r->src, "auth");
		log_warn("request rejected", " source=%s peer=%s reason=auth detail=\"%s\"", config_source_name(r->src),
		         req->peer, why ? why : "denied");
		if (ar == AUTH_LOOPBACK_ONLY)
			return http_error(conn, MHD_HTTP_FORBIDDEN, HTTP_MSG_LOOPBACK, NULL);
		http_extra ex = {.challenge = 1, .challenge_basic = basic};
		return http_error(conn, MHD_HTTP_UNAUTHORIZED, HTTP_MSG_CREDENTIALS, &ex);
	}
	return http_check_length(conn, req, r);
}

/* The declared length against the limit; a buffer for the body. */
static enum MHD_Result http_check_length(struct MHD_Connection *conn, http_request *req, const http_route_def *r)
{
	uint64_t clen;

	if (http_content_length(conn, &clen) == 0) {
		if (clen > req->max_body) {
			char msg[96];

			req->answered = 1;
			if (r->ingest)
				metrics_rejected(r->src, "too_large");
			log_warn("request rejected", " source=%s peer=%s reason=too_large content_length=%" PRIu64,
			         http_route_name(r), req->peer, clen);
			snprintf(msg, sizeof(msg), "request body is larger than %zu bytes", req->max_body);
			return http_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL);
		}
		/* Known size: one allocation instead of doublings. */
		if (clen + 1 <= HTTP_SPARE_SIZE) {
			req->body = http_spare_take(req->w);
			req->cap = req->body ? HTTP_SPARE_SIZE : 0;
		} else {
			req->body = malloc((size_t)clen + 1);
			if (req->body)
				req->cap = (size_t)clen + 1;
		}
	}
	return MHD_YES;
}

/* ---- body chunks -------------------------------------------------------- */

/* Returns 0 to go on reading, -1 to drop the connection. */
static int http_absorb(http_request *req, const char *data, size_t size)
{
	size_t need, cap;
	char *grown;

	req->received = size > SIZE_MAX - req->received ? SIZE_MAX : req->received + size;
	if (req->too_large) {
		/* MHD cannot answer before the body is complete, so an honest
		 * oversized body is drained to give its sender a 413; an
		 * endless one is cut off. */
		if (req->received - req->max_body > HTTP_DRAIN_BYTES) {
			metrics_rejected(req->route->src, "too_large");
			log_warn("request rejected",
			         " source=%s peer=%s reason=too_large received=%zu action=disconnect",
			         http_route_name(req->route), req->peer, req->received);
			return -1;
		}
		return 0;
	}
	if (req->answered)
		return req->received > HTTP_DRAIN_BYTES ? -1 : 0;
	if (req->oom)
		return 0;
	if (req->received > req->max_body) {
		/* Stop buffering at once; only the count goes on. */
		req->too_large = 1;
		http_spare_give(req->w, req->body, req->cap);
		req->body = NULL;
		req->len = req->cap = 0;
		return 0;
	}
	need = req->len + size + 1;
	if (need > req->cap) {
		cap = req->cap ? req->cap : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > req->max_body + 1)
			cap = req->max_body + 1;
		grown = realloc(req->body, cap);
		if (!grown) {
			req->oom = 1;
			free(req->body);
			req->body = NULL;
			req->len = req->cap = 0;
			return 0;
		}
		req->body = grown;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	req->body[req->len] = '\0';
	return 0;
}

/* ---- last call: parse, submit, answer ----------------------------------- */

/* Content-Type names mime (case-insensitive, parameters ignored). */
static int http_ctype_is(const char *ctype, const char *mime)
{
	size_t n = strlen(mime);

	if (!ctype)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return strncasecmp(ctype, mime, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ' || ctype[n] == '\t');
}

/* Uptime Robot variables from the body (JSON or form) and the query string. */
static ingest_status http_ur_fields(struct MHD_Connection *conn, const http_request *req, const alert_limits *lim,
                                    json_t **out, char *err, size_t errlen)
{
	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *body = req->body ? req->body : "";
	json_t *fields = NULL;
	ingest_status st = INGEST_OK;
	size_t i = 0;

	while (i < req->len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i < req->len) {
		if (http_ctype_is(ctype, "application/json") || body[i] == '{')
			st = ingest_uptimerobot_json(body, req->len, lim, &fields, err, errlen);
		else if (!ctype || http_ctype_is(ctype, "application/x-www-form-urlencoded"))
			st = ingest_form_decode(body, req->len, &fields, err, errlen);
		/* Any other body is not Uptime Robot's; the query string may
		 * still carry the variables. */
		if (st != INGEST_OK)
			return st;
	}
	if (!fields)
		fields = json_object();
	if (!fields || !json_is_object(fields)) {
		json_decref(fields);
		snprintf(err, errlen, "out of memory");
		return INGEST_BAD;
	}
	json_object_del(fields, "token");
	/* MHD's own query parsing leaves '+' alone; the form decoder treats
	 * it as a blank, as Uptime Robot means it. Body fields win. */
	if (req->query && req->query[0]) {
		json_t *q = NULL;

		st = ingest_form_decode(req->query, strlen(req->query), &q, err, errlen);
		if (st != INGEST_OK) {
			json_decref(fields);
			return st;
		}
		json_object_del(q, "token");
		if (json_object_update_missing(fields, q) != 0) {
			json_decref(q);
			json_decref(fields);
			snprintf(err, errlen, "out of memory");
			return INGEST_BAD;
		}
		json_decref(q);
	}
	*out = fields;
	return INGEST_OK;
}

static ingest_status http_parse(http_server *s, struct MHD_Connection *conn, const http_request *req, json_t **alerts,
                                char *err, size_t errlen)
{
	const char *body = req->body ? req->body : "";
	const config *cfg;
	ingest_status st = INGEST_BAD;
	json_t *fields = NULL;

	/* Parsers are quick and pure; holding the read lock across them keeps
	 * the limits and Uptime Robot services alive without copying. */
	http_rdlock(s);
	cfg = s->cfg;
	switch (req->route->route) {
	case HTTP_ROUTE_ALERTMANAGER:
		st = ingest_alertmanager_cached(body, req->len, &cfg->limits, req->w->cache, &req->w->heads, alerts,
		                                err, errlen);
		break;
	case HTTP_ROUTE_GENERIC:
		st = ingest_generic(body, req->len, &cfg->limits, alerts, err, errlen);
		break;
	case HTTP_ROUTE_UPTIMEROBOT: {
		ingest_uptimerobot_conf urc = {.services = cfg->ur_services, .severity = cfg->ur_severity};

		st = http_ur_fields(conn, req, &cfg->limits, &fields, err, errlen);
		if (st == INGEST_OK)
			st = ingest_uptimerobot(fields, &urc, alerts, err, errlen);
		json_decref(fields);
		break;
	}
	default:
		snprintf(err, errlen, "no parser for this path");
		break;
	}
	http_unlock(s);
	return st;
}

static const char *const http_drafts_names[] = {"list", "show", "approve", "reject", "edit"};

/* The drafts API's last call: translate and hand to the core. */
static enum MHD_Result http_finish_drafts(http_worker *w, struct MHD_Connection *conn, http_request *req)
{
	char err[HTTP_ERR_MAX] = "", qerr[HTTP_ERR_MAX + 64];
	char *creq = drafts_api_request(req->draft_action, req->draft_id, req->body ? req->body : "", req->len, err,
	                                sizeof(err));

	if (!creq) {
		log_warn("request rejected", " api=drafts peer=%s reason=bad_request action=%s detail=%s", req->peer,
		         http_drafts_names[req->draft_action], log_quote(qerr, sizeof(qerr), err));
		return http_error(conn, MHD_HTTP_BAD_REQUEST, err, NULL);
	}
	enum MHD_Result rc = http_hand_over(w, conn, req, creq);
	free(creq);
	return rc;
}

/* The core's answer (or none) to a drafts request, for its sender. */
static enum MHD_Result http_answer_drafts(struct MHD_Connection *conn, http_request *req)
{
	const char *action = http_drafts_names[req->draft_action];
	char qerr[HTTP_ERR_MAX + 64];
	unsigned status = 500;

	if (!req->reply) {
		log_warn("drafts request not answered", " api=drafts peer=%s action=%s detail=%s", req->peer, action,
		         log_quote(qerr, sizeof(qerr), req->err));
		return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, HTTP_MSG_STORE, NULL);
	}
	json_t *body = drafts_api_answer(req->reply, &status);
	if (req->draft_action == DRAFTS_API_LIST || req->draft_action == DRAFTS_API_SHOW)
		log_debug("drafts request", " api=drafts peer=%s action=%s draft=%" PRId64 " status=%u", req->peer,
		          action, req->draft_id, status);
	else
		log_info("drafts request", " api=drafts peer=%s action=%s draft=%" PRId64 " status=%u", req->peer,
		         action, req->draft_id, status);
	return http_json(conn, status, body, NULL);
}

/* 200 for alerts the store has. */
static enum MHD_Result http_accepted(struct MHD_Connection *conn, const http_request *req, size_t n, int changed)
{
	const http_route_def *r = req->route;

	metrics_alerts(r->src, (unsigned)n);
	log_debug("request accepted", " source=%s peer=%s alerts=%zu changed=%d", config_source_name(r->src), req->peer,
	          n, changed);
	/* Every accepted request answers this: written straight, not built as a
	 * jansson object to be written and freed. */
	char *body;
	int len = asprintf(&body, "{\"status\":\"ok\",\"alerts\":%zu,\"changed\":%d}", n, changed);
	if (len < 0)
		return MHD_NO;
	return http_queue(conn, MHD_HTTP_OK, "application/json", body, (size_t)len, NULL);
}

/* The core's answer (or none) to alerts: 200 once committed, else 503 so the sender retries. */
static enum MHD_Result http_answer_ingest(struct MHD_Connection *conn, http_request *req)
{
	const http_route_def *r = req->route;
	const char *reply = req->reply;
	char qerr[HTTP_ERR_MAX + 64];
	size_t n = json_array_size(req->alerts);

	/* Usually the last reference: the document is freed here, not on the core thread. */
	json_decref(req->alerts);
	req->alerts = NULL;
	if (reply && strncmp(reply, "OK", 2) == 0)
		return http_accepted(conn, req, n, atoi(reply + 2));
	const char *why = !reply ? req->err : strncmp(reply, "ERR 503 ", 8) == 0 ? reply + 8 : reply;
	metrics_rejected(r->src, "store");
	log_warn("request not committed", " source=%s peer=%s reason=store alerts=%zu detail=%s",
	         config_source_name(r->src), req->peer, n, log_quote(qerr, sizeof(qerr), why[0] ? why : "failed"));
	return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, HTTP_MSG_STORE, NULL);
}

static enum MHD_Result http_answer(http_worker *w, struct MHD_Connection *conn, http_request *req)
{
	req->handed = 0;
	if (req->route->route == HTTP_ROUTE_DRAFTS)
		return http_answer_drafts(conn, req);
	if (req->route->route == HTTP_ROUTE_SUBSCRIBE)
		return http_answer_subscribe(w->s, conn, req);
	return http_answer_ingest(conn, req);
}

/*
 * Hand a request to the core (creq: a control request; NULL: req->alerts)
 * and suspend its connection until the answer comes or the wait ends
 * (http_collect, http_expire). If it cannot be handed over, answer now.
 */
static enum MHD_Result http_hand_over(http_worker *w, struct MHD_Connection *conn, http_request *req, const char *creq)
{
	http_ticket *t = NULL;
	int rc;

	req->handed = 1;
	if (w->draining) {
		/* Suspended now, it could not be woken before MHD_stop_daemon,
		 * which aborts on a suspended connection: not accepted, so its
		 * sender retries. */
		snprintf(req->err, sizeof(req->err), "crierd is stopping");
		return http_answer(w, conn, req);
	}
	if (!(t = calloc(1, sizeof(*t)))) {
		snprintf(req->err, sizeof(req->err), "out of memory");
		return http_answer(w, conn, req);
	}
	if (creq) {
		rc = core_send_control(w->control, creq, t);
	} else {
		json_incref(req->alerts); /* the core's */
		rc = core_send_alerts(w->ingest, req->alerts, w->heads.v, w->heads.n, req->received_us, t);
	}
	if (rc < 0) {
		snprintf(req->err, sizeof(req->err), "cannot reach the core: %s", zmq_strerror(zmq_errno()));
		free(t);
		return http_answer(w, conn, req);
	}
	t->req = req;
	t->conn = conn;
	t->deadline = timefmt_mono_ms() + req->ack_timeout_ms;
	t->next = w->pending;
	if (w->pending)
		w->pending->prev = t;
	w->pending = t;
	req->ticket = t;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static enum MHD_Result http_finish(http_worker *w, struct MHD_Connection *conn, http_request *req)
{
	const http_route_def *r = req->route;
	const char *src = http_route_name(r);
	char err[HTTP_ERR_MAX] = "";
	char qerr[HTTP_ERR_MAX + 64];
	json_t *alerts = NULL, *obj;
	ingest_status st;

	if (req->answered)
		return MHD_YES;
	req->answered = 1;
	req->received_us = timefmt_mono_us();
	if (req->too_large) {
		char msg[96];

		metrics_rejected(r->src, "too_large");
		log_warn("request rejected", " source=%s peer=%s reason=too_large received=%zu", src, req->peer,
		         req->received);
		snprintf(msg, sizeof(msg), "request body is larger than %zu bytes", req->max_body);
		return http_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL);
	}
	if (req->oom) {
		log_error("out of memory buffering a request", " source=%s peer=%s", src, req->peer);
		return http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	}
	if (r->route == HTTP_ROUTE_DRAFTS)
		return http_finish_drafts(w, conn, req);
	if (r->route == HTTP_ROUTE_SUBSCRIBE)
		return http_finish_subscribe(w, conn, req);

	w->heads.n = 0;
	st = http_parse(w->s, conn, req, &alerts, err, sizeof(err));
	if (st == INGEST_BAD) {
		metrics_rejected(r->src, "bad_request");
		log_warn("request rejected", " source=%s peer=%s reason=bad_request detail=%s", src, req->peer,
		         log_quote(qerr, sizeof(qerr), err));
		return http_error(conn, MHD_HTTP_BAD_REQUEST, err[0] ? err : "bad request", NULL);
	}
	if (st == INGEST_IGNORED) {
		json_decref(alerts);
		log_info("request ignored", " source=%s peer=%s detail=%s", src, req->peer,
		         log_quote(qerr, sizeof(qerr), err));
		obj = json_object();
		if (!obj || json_object_set_new(obj, "status", json_string("ignored")) != 0 ||
		    json_object_set_new(obj, "reason", http_jstring(err[0] ? err : "nothing to act on")) != 0) {
			json_decref(obj);
			return MHD_NO;
		}
		return http_json(conn, MHD_HTTP_ACCEPTED, obj, NULL);
	}
	if (!json_is_array(alerts)) {
		json_decref(alerts);
		log_error("parser returned no alert array", " source=%s", src);
		return http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error", NULL);
	}
	if (json_array_size(alerts) == 0) {
		/* Nothing to commit: no reason to wait on the store. */
		json_decref(alerts);
		return http_accepted(conn, req, 0, 0);
	}
	/* The Alertmanager parser gives the heads; the others' are made here,
	 * where the alerts are fresh. Without them the core makes its own. */
	size_t n = json_array_size(alerts), i;
	json_t *a;
	if (w->heads.n != n) {
		w->heads.n = 0;
		json_array_foreach(alerts, i, a)
		{
			alert_head h;
			alert_head_of(a, &h);
			if (alert_heads_add(&w->heads, &h) < 0) {
				w->heads.n = 0;
				break;
			}
		}
	}
	req->alerts = alerts;
	return http_hand_over(w, conn, req, NULL);
}

/* ---- MHD callbacks ------------------------------------------------------ */

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
	http_worker *w = cls;
	http_request *req = *con_cls;

	(void)version;
	/* http_uri_log made it; NULL means it ran out of memory. */
	if (!req)
		return MHD_NO;
	if (!req->begun) {
		req->begun = 1;
		return http_begin(w->s, conn, url, method, req);
	}
	if (*upload_data_size > 0) {
		if (http_absorb(req, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->handed)
		/* Resumed: the answer is in, or the wait is over. */
		return req->ticket ? MHD_YES : http_answer(w, conn, req);
	return http_finish(w, conn, req);
}

/* Called once per request before the headers are parsed: the only place MHD
 * shows the raw query string, which the Uptime Robot form decoding needs. */
static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	http_worker *w = cls;
	http_request *req = calloc(1, sizeof(*req));
	const char *q = uri ? strchr(uri, '?') : NULL;

	(void)conn;
	if (!req)
		return NULL;
	req->w = w;
	w->in_progress++;
	if (q) {
		req->query = strdup(q + 1);
		if (!req->query)
			req->oom = 1;
	}
	return req;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	http_worker *w = cls;
	http_request *req = *con_cls;

	(void)conn;
	(void)toe;
	if (!req)
		return;
	if (req->ticket) {
		/* Closed while the core has it: its answer will find no one. */
		req->ticket->req = NULL;
		req->ticket->conn = NULL;
	}
	w->in_progress--;
	json_decref(req->alerts);
	free(req->reply);
	http_spare_give(w, req->body, req->cap);
	free(req->query);
	free(req);
	*con_cls = NULL;
}

/* ---- the worker's event loop --------------------------------------------- */

static void http_ticket_free(http_worker *w, http_ticket *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		w->pending = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

/* The request stops waiting (answer in, or none coming): let MHD call its handler again. */
static void http_wake(http_ticket *t)
{
	http_request *req = t->req;

	req->ticket = NULL;
	t->req = NULL;
	MHD_resume_connection(t->conn);
	t->conn = NULL;
}

/* Every answer waiting on sock goes to its request. */
static void http_collect(http_worker *w, void *sock)
{
	void *tag;
	char *reply;
	int rc;

	while ((rc = core_recv(sock, &tag, &reply)) == 1) {
		http_ticket *t = tag;

		if (t->req) {
			t->req->reply = reply;
			http_wake(t);
		} else {
			free(reply);
		}
		http_ticket_free(w, t);
	}
	if (rc < 0)
		log_warn("unreadable answer from the core", " error=%s", log_q(zmq_strerror(zmq_errno())));
}

/* Requests whose wait is over get their 503 now; the ticket stays for the
 * answer that may still come. Returns ms until the next deadline: 0 when a
 * request was just woken (MHD must run for it), -1 when there is none. */
static long http_expire(http_worker *w, int64_t now)
{
	long next = -1;
	int woken = 0;

	for (http_ticket *t = w->pending; t; t = t->next) {
		if (!t->req)
			continue;
		if (now >= t->deadline) {
			http_request *req = t->req;

			snprintf(req->err, sizeof(req->err),
			         req->route->ingest ? "the store did not confirm within %d ms"
			                            : "the core did not answer within %d ms",
			         req->ack_timeout_ms);
			http_wake(t);
			woken = 1;
		} else if (next < 0 || t->deadline - now < next) {
			next = (long)(t->deadline - now);
		}
	}
	return woken ? 0 : next;
}

static void *http_worker_main(void *arg)
{
	http_worker *w = arg;
	http_server *s = w->s;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_EPOLL_FD);
	int epfd = di ? di->epoll_fd : -1;
	int64_t stop_deadline = 0;

	pthread_setname_np(pthread_self(), w->name);
	for (;;) {
		int64_t now = timefmt_mono_ms();
		MHD_UNSIGNED_LONG_LONG mt;

		if (atomic_load(&s->stopping)) {
			if (!stop_deadline) {
				/* No new connections; the requests in progress finish. */
				MHD_socket fd = MHD_quiesce_daemon(w->d);
				if (fd != MHD_INVALID_SOCKET)
					close(fd);
				stop_deadline = now + HTTP_STOP_GRACE_MS;
				http_closing = 1;
			}
			if (w->in_progress == 0 || now >= stop_deadline)
				break;
		}
		long timeout = http_expire(w, now);
		if (MHD_get_timeout(w->d, &mt) == MHD_YES && (timeout < 0 || mt < (MHD_UNSIGNED_LONG_LONG)timeout))
			timeout = (long)mt;
		if (stop_deadline && (timeout < 0 || timeout > 100))
			timeout = 100;
		zmq_pollitem_t items[4] = {
		    {.socket = w->ingest, .events = ZMQ_POLLIN},
		    {.socket = w->control, .events = ZMQ_POLLIN},
		    {.socket = NULL, .fd = epfd, .events = ZMQ_POLLIN},
		    {.socket = NULL, .fd = s->stop_fd, .events = stop_deadline ? 0 : ZMQ_POLLIN},
		};
		if (zmq_poll(items, 4, timeout) < 0) {
			if (zmq_errno() == ETERM)
				break;
			if (zmq_errno() != EINTR)
				log_warn("http worker cannot poll", " error=%s", log_q(zmq_strerror(zmq_errno())));
		}
		if (items[0].revents & ZMQ_POLLIN)
			http_collect(w, w->ingest);
		if (items[1].revents & ZMQ_POLLIN)
			http_collect(w, w->control);
		MHD_run(w->d);
	}
	/* MHD will not stop with a connection suspended: wake every one still
	 * waiting (503) and let MHD take them off its suspended list. Requests
	 * completed from here on are answered at once (http_hand_over), so no
	 * new one is suspended behind the last MHD_run. */
	w->draining = 1;
	for (http_ticket *t = w->pending; t; t = t->next)
		if (t->req) {
			snprintf(t->req->err, sizeof(t->req->err), "crierd is stopping");
			http_wake(t);
		}
	MHD_run(w->d);
	return NULL;
}

/* Overwrite what follows each marker (up to a blank, '&' or quote) so a
 * credential in an MHD message never reaches the log. */
static void http_redact(char *msg)
{
	static const char *const markers[] = {"token=", "bearer ", "basic ", "authorization:"};

	for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
		size_t ml = strlen(markers[m]);

		for (char *p = strcasestr(msg, markers[m]); p; p = strcasestr(p, markers[m])) {
			p += ml;
			while (*p == ' ')
				p++;
			while (*p && *p != ' ' && *p != '&' && *p != '"' && *p != '\'' && *p != '\n')
				*p++ = 'x';
		}
	}
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], q[600];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	http_redact(msg);
	log_warn("libmicrohttpd", " detail=%s", log_quote(q, sizeof(q), msg));
}

/* ---- listen socket ------------------------------------------------------ */

static void http_display_addr(const char *host, int port, char *buf, size_t size)
{
	if (host && strchr(host, ':'))
		snprintf(buf, size, "[%s]:%d", host, port);
	else
		snprintf(buf, size, "%s:%d", host && *host ? host : "*", port);
}

/*
 * Own the bind so a failure names its cause (MHD only logs it), and so
 * "localhost" and IPv6 literals resolve the usual way. Returns the listening
 * socket or -1 with err set.
 */
static int http_listen(const char *host_in, int port, int *bound_port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char host[256], portstr[16], shown[300];
	int fd = -1, saved = 0, rc, one = 1;
	size_t hl;

	host[0] = '\0';
	if (host_in)
		snprintf(host, sizeof(host), "%s", host_in);
	/* Accept "[::1]" as well as "::1". */
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	http_display_addr(host, port, shown, sizeof(shown));
	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "cannot listen on %s: port out of range", shown);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", shown, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		/* A restart must not wait for TIME_WAIT connections to expire. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", shown, strerror(saved ? saved : EADDRNOTAVAIL));
		return -1;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		*bound_port = port;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	return fd;
}

/* ---- public ------------------------------------------------------------- */

/* How many workers: as configured, or one per CPU up to 4 (past that, the
 * single core thread is the limit, not parsing). */
static size_t http_worker_count(const config *cfg)
{
	long n = cfg->http_threads;

	if (n <= 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		n = n < 1 ? 1 : n > 4 ? 4 : n;
	}
	return n > HTTP_WORKERS_MAX ? HTTP_WORKERS_MAX : (size_t)n;
}

static int http_worker_start(http_worker *w, size_t i, int listen_fd, unsigned limit, char *err, size_t errlen)
{
	const config *cfg = w->s->cfg;
	int fd;

	snprintf(w->name, sizeof(w->name), "crier-http-%zu", i);
	/* Enough for the alerts of many groups re-sent whole; a miss only costs a parse. */
	if (!(w->cache = ingest_cache_new(HTTP_CACHE_SLOTS))) {
		snprintf(err, errlen, "http server: out of memory");
		return -1;
	}
	if (!(w->ingest = core_socket(w->s->core, CORE_INGEST, err, errlen)) ||
	    !(w->control = core_socket(w->s->core, CORE_CONTROL, err, errlen)))
		return -1;
	/* Each daemon owns (and at stop closes) its own descriptor of the one
	 * listening socket; the kernel hands each connection to one of them. */
	fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "http server: cannot share the listening socket: %s", strerror(errno));
		return -1;
	}
	w->d = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_handle, w,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, w->s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, http_completed, w,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, w, MHD_OPTION_END);
	if (!w->d) {
		char shown[300];

		/* MHD closes the socket on some failure paths and not on
		 * others; leaking it on this fatal path beats closing a
		 * descriptor another thread may have reused. */
		http_display_addr(cfg->listen_host, cfg->listen_port, shown, sizeof(shown));
		snprintf(err, errlen, "cannot serve on %s: libmicrohttpd failed to start (see the log)", shown);
		return -1;
	}
	if (pthread_create(&w->thread, NULL, http_worker_main, w) != 0) {
		snprintf(err, errlen, "http server: cannot start a worker thread");
		return -1;
	}
	w->started = 1;
	return 0;
}

static void http_worker_free(http_worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	if (w->d)
		MHD_stop_daemon(w->d);
	/* Requests the core never answered: their sockets close with them. */
	while (w->pending)
		http_ticket_free(w, w->pending);
	alert_heads_free(&w->heads);
	if (w->ingest)
		zmq_close(w->ingest);
	if (w->control)
		zmq_close(w->control);
	while (w->n_spare)
		free(w->spare[--w->n_spare]);
	ingest_cache_free(w->cache);
}

/* Wake every worker to stop, join them, free them. */
static void http_workers_stop(http_server *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, 1);
	if (s->stop_fd >= 0 && write(s->stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the http workers", " error=%s", log_q(strerror(errno)));
	for (size_t i = 0; i < s->n_workers; i++)
		http_worker_free(&s->workers[i]);
	free(s->workers);
	s->workers = NULL;
	s->n_workers = 0;
}

http_server *http_server_start(const config *cfg, core *c, char *err, size_t errlen)
{
	http_server *s = NULL;
	pthread_rwlockattr_t attr;
	int fd = -1, lock_ok = 0;
	size_t n;

	if (!cfg) {
		snprintf(err, errlen, "http server: no configuration");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "http server: out of memory");
		return NULL;
	}
	s->core = c;
	s->cfg = cfg;
	s->stop_fd = -1;
	s->limiter = subscribe_api_limiter_new();
	if (!s->limiter) {
		snprintf(err, errlen, "http server: out of memory");
		goto fail;
	}
	if (pthread_rwlockattr_init(&attr) != 0) {
		snprintf(err, errlen, "http server: cannot create a lock");
		goto fail;
	}
	/* A steady stream of requests must not starve a reload. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	lock_ok = pthread_rwlock_init(&s->lock, &attr) == 0;
	pthread_rwlockattr_destroy(&attr);
	if (!lock_ok) {
		snprintf(err, errlen, "http server: cannot create a lock");
		goto fail;
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		snprintf(err, errlen, "http server: cannot create an eventfd: %s", strerror(errno));
		goto fail;
	}
	fd = http_listen(cfg->listen_host, cfg->listen_port, &s->port, err, errlen);
	if (fd < 0)
		goto fail;
	n = http_worker_count(cfg);
	s->workers = calloc(n, sizeof(*s->workers));
	if (!s->workers) {
		snprintf(err, errlen, "http server: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		s->workers[i].s = s;
		s->n_workers = i + 1;
		if (http_worker_start(&s->workers[i], i, fd, (unsigned)(HTTP_CONNECTION_LIMIT / n), err, errlen) < 0)
			goto fail;
	}
	close(fd);
	log_debug("http workers started", " threads=%zu", n);
	return s;
fail:
	http_workers_stop(s);
	if (fd >= 0)
		close(fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (lock_ok)
		pthread_rwlock_destroy(&s->lock);
	subscribe_api_limiter_free(s->limiter);
	free(s);
	return NULL;
}

int http_server_port(const http_server *s)
{
	return s ? s->port : -1;
}

void http_server_reload(http_server *s, const config *cfg)
{
	if (!s || !cfg)
		return;
	pthread_rwlock_wrlock(&s->lock);
	s->cfg = cfg;
	pthread_rwlock_unlock(&s->lock);
}

void http_server_stop(http_server *s)
{
	if (!s)
		return;
	/* Requests in progress finish (with the core still running); the
	 * listening socket closes at once. */
	http_workers_stop(s);
	close(s->stop_fd);
	pthread_rwlock_destroy(&s->lock);
	subscribe_api_limiter_free(s->limiter);
	free(s);
}
