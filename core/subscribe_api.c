/* The public subscription API's translation, pages and rate limit. */
#include "subscribe_api.h"

#include "control.h"
#include "hmap.h"
#include "ingest.h"
#include "text.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATH_SUBSCRIBE   "/api/v1/subscribe"
#define PATH_CONFIRM     "/api/v1/subscribe/confirm"
#define PATH_UNSUBSCRIBE "/api/v1/unsubscribe"

int subscribe_api_path(const char *path)
{
	return strcmp(path, PATH_SUBSCRIBE) == 0 || strcmp(path, PATH_CONFIRM) == 0 ||
	       strcmp(path, PATH_UNSUBSCRIBE) == 0;
}

int subscribe_api_route(const char *path, const char *method, subscribe_api_action *action, const char **allow)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	*allow = "GET, POST";
	if (strcmp(path, PATH_SUBSCRIBE) == 0) {
		*allow = "POST";
		*action = SUBSCRIBE_API_SUBSCRIBE;
		return post ? 0 : -2;
	}
	if (strcmp(path, PATH_CONFIRM) == 0)
		*action = get ? SUBSCRIBE_API_CONFIRM_LINK : SUBSCRIBE_API_CONFIRM_CODE;
	else if (strcmp(path, PATH_UNSUBSCRIBE) == 0)
		*action = get ? SUBSCRIBE_API_UNSUBSCRIBE_PAGE : SUBSCRIBE_API_UNSUBSCRIBE;
	else
		return -1;
	return get || post ? 0 : -2;
}

int subscribe_api_limited(subscribe_api_action action)
{
	return action == SUBSCRIBE_API_SUBSCRIBE || action == SUBSCRIBE_API_CONFIRM_CODE;
}

/* ---- requests ---- */

/* Set err; -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The body's fields as a new object: JSON, or a form. NULL with err. */
static json_t *body_fields(const char *ctype, const char *body, size_t len, char *err, size_t errlen)
{
	size_t skip = 0;
	json_t *out = NULL;
	json_error_t jerr;

	while (skip < len && strchr(" \t\r\n", body[skip]))
		skip++;
	if (skip == len)
		return json_object();
	int json = ctype ? strncasecmp(ctype, "application/json", 16) == 0 : body[skip] == '{';
	if (json) {
		out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!out)
			fail(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		else if (!json_is_object(out)) {
			json_decref(out);
			out = NULL;
			fail(err, errlen, "body: expected a JSON object");
		}
		return out;
	}
	if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		fail(err, errlen, "body: send JSON (application/json) or a form (application/x-www-form-urlencoded)");
		return NULL;
	}
	if (ingest_form_decode(body, len, &out, err, errlen) != INGEST_OK)
		return NULL;
	/* A form names components in one field: "API,Website". */
	const char *c = json_string_value(json_object_get(out, "components"));
	if (c) {
		json_t *list = json_array();
		for (const char *p = c; list && *p;) {
			size_t n = strcspn(p, ",");
			while (n && (*p == ' ')) {
				p++;
				n--;
			}
			size_t m = n;
			while (m && p[m - 1] == ' ')
				m--;
			if (m && json_array_append_new(list, json_stringn(p, m)) < 0) {
				json_decref(list);
				list = NULL;
			}
			p += n + (p[n] == ',');
		}
		if (!list || json_object_set_new(out, "components", list) < 0) {
			json_decref(out);
			fail(err, errlen, "out of memory");
			return NULL;
		}
	}
	return out;
}

/* Every key of in is among keys (NULL-terminated) and a string (or, for
 * "components", an array of strings). 0, or -1 with err. */
static int check_fields(const json_t *in, const char *const *keys, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)in, k, v)
	{
		size_t i = 0;
		while (keys[i] && strcmp(keys[i], k) != 0)
			i++;
		if (!keys[i]) {
			char known[128];
			text_join(known, sizeof(known), keys);
			return fail(err, errlen, "unknown key \"%.64s\" (known: %s)", k, known);
		}
		if (strcmp(k, "components") == 0) {
			size_t j;
			json_t *e;
			if (!json_is_array(v))
				return fail(err, errlen, "components: expected an array of component names");
			json_array_foreach(v, j, e) if (!json_is_string(e)) return fail(
			    err, errlen, "components[%zu]: expected a component name (a string)", j);
		} else if (!json_is_string(v)) {
			return fail(err, errlen, "%s: expected a string", k);
		}
	}
	return 0;
}

/* The value of name in the query string (new), or NULL. */
static char *query_value(const char *query, const char *name)
{
	json_t *q = NULL;
	char err[64], *v = NULL;

	if (query && ingest_form_decode(query, strlen(query), &q, err, sizeof(err)) == INGEST_OK) {
		const char *s = json_string_value(json_object_get(q, name));
		v = s && *s ? strdup(s) : NULL;
	}
	json_decref(q);
	return v;
}

char *subscribe_api_request(subscribe_api_action action, const char *query, const char *ctype, const char *body,
                            size_t len, const char *client, char *err, size_t errlen)
{
	static const char *const subscribe_keys[] = {"email", "phone", "components", NULL};
	static const char *const confirm_keys[] = {"phone", "code", "token", NULL};
	json_t *req = NULL;
	char *txt = NULL, *token = NULL;

	switch (action) {
	case SUBSCRIBE_API_SUBSCRIBE:
	case SUBSCRIBE_API_CONFIRM_CODE: {
		int sub = action == SUBSCRIBE_API_SUBSCRIBE;
		req = body_fields(ctype, body ? body : "", len, err, errlen);
		if (!req || check_fields(req, sub ? subscribe_keys : confirm_keys, err, errlen) < 0)
			goto out;
		if (sub && !json_object_get(req, "email") && !json_object_get(req, "phone")) {
			fail(err, errlen, "give \"email\" or \"phone\" (and \"components\" to follow only some)");
			goto out;
		}
		if (json_object_set_new(req, "cmd", json_string(sub ? "subscribe" : "subscribe_confirm")) < 0 ||
		    (sub && json_object_set_new(req, "client", json_string(client ? client : "")) < 0)) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		break;
	}
	case SUBSCRIBE_API_CONFIRM_LINK:
	case SUBSCRIBE_API_UNSUBSCRIBE_PAGE:
	case SUBSCRIBE_API_UNSUBSCRIBE:
		token = query_value(query, action == SUBSCRIBE_API_CONFIRM_LINK ? "token" : "t");
		if (!token) {
			fail(err, errlen, "this link is incomplete: copy the whole link from the message");
			goto out;
		}
		req = json_pack("{ss ss}", "cmd",
		                action == SUBSCRIBE_API_CONFIRM_LINK       ? "subscribe_confirm"
		                : action == SUBSCRIBE_API_UNSUBSCRIBE_PAGE ? "unsubscribe_info"
		                                                           : "unsubscribe",
		                "token", token);
		if (!req) {
			fail(err, errlen, "this link is not valid");
			goto out;
		}
		break;
	}
	txt = json_dumps(req, JSON_COMPACT);
	if (!txt)
		fail(err, errlen, "out of memory");
out:
	free(token);
	json_decref(req);
	return txt;
}

/* ---- answers ---- */

static int is_page(subscribe_api_action a)
{
	return a == SUBSCRIBE_API_CONFIRM_LINK || a == SUBSCRIBE_API_UNSUBSCRIBE_PAGE || a == SUBSCRIBE_API_UNSUBSCRIBE;
}

/* s HTML-escaped (new), or NULL. */
static char *html(const char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += text_html_entity(*p) ? strlen(text_html_entity(*p)) : 1;
	out = o = malloc(n + 1);
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *e = text_html_entity(*p);
		if (e)
			o = stpcpy(o, e);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* A small self-contained page: no script, no external resource. title and
 * body_html are trusted (escaped by the caller). */
static int page(subscribe_api_answer *out, unsigned status, const char *title, const char *body_html)
{
	int n =
	    asprintf(&out->body,
	             "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	             "<meta name=\"robots\" content=\"noindex\">\n<title>%s</title>\n<style>\n"
	             "body{margin:0;padding:48px 16px;background:#f4f5f7;color:#172b4d;"
	             "font:16px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif}\n"
	             "main{max-width:480px;margin:0 auto;background:#fff;border:1px solid #c1c7d0;"
	             "border-radius:6px;padding:24px}\n"
	             "h1{margin:0 0 12px;font-size:22px;line-height:1.3}p{margin:0 0 12px}\n"
	             "button{font:inherit;padding:10px 18px;border:0;border-radius:4px;background:#0052cc;"
	             "color:#fff;cursor:pointer}\nbutton:focus{outline:3px solid #4c9aff;outline-offset:2px}\n"
	             "a{color:#0052cc}\n</style>\n</head>\n<body>\n<main>\n<h1>%s</h1>\n%s</main>\n</body>\n</html>\n",
	             title, title, body_html);
	if (n < 0) {
		out->body = NULL;
		return -1;
	}
	out->len = (size_t)n;
	out->status = status;
	out->ctype = "text/html; charset=utf-8";
	out->page = 1;
	return 0;
}

static int json_answer(subscribe_api_answer *out, unsigned status, json_t *obj)
{
	out->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!out->body)
		return -1;
	out->len = strlen(out->body);
	out->status = status;
	out->ctype = "application/json";
	out->page = 0;
	return 0;
}

int subscribe_api_error(subscribe_api_action action, unsigned status, const char *msg, subscribe_api_answer *out)
{
	char *m, *b = NULL;
	int rc;

	if (!is_page(action))
		return json_answer(out, status, json_pack("{ss ss}", "status", "error", "error", msg));
	m = html(msg);
	if (!m || asprintf(&b, "<p>%c%s.</p>\n", m[0] >= 'a' && m[0] <= 'z' ? m[0] - 'a' + 'A' : m[0], m + 1) < 0) {
		free(m);
		return -1;
	}
	rc = page(out, status,
	          status == 429                          ? "Too many requests"
	          : status == 404                        ? "Not available here"
	          : status >= 500                        ? "Please try again later"
	          : action == SUBSCRIBE_API_CONFIRM_LINK ? "This link does not work any more"
	                                                 : "Something is wrong with this link",
	          b);
	free(m);
	free(b);
	return rc;
}

/* The page after the core's word on an unsubscribe link. */
static int unsubscribe_page(subscribe_api_action action, const json_t *r, const char *query, const char *home,
                            subscribe_api_answer *out)
{
	char *b = NULL, *addr = NULL, *t = NULL, *h = home ? html(home) : NULL;
	char back[600] = "";
	char *token = query_value(query, "t");
	int rc = -1;

	if (h)
		snprintf(back, sizeof(back), "<p><a href=\"%s\">Back to the status page</a></p>\n", h);
	if (action == SUBSCRIBE_API_UNSUBSCRIBE) {
		if (asprintf(&b, "<p>You will get no more messages from us, and your address is deleted.</p>\n%s",
		             back) < 0)
			b = NULL;
		rc = b ? page(out, 200, "You are unsubscribed", b) : -1;
		goto out;
	}
	if (!json_is_true(json_object_get(r, "subscribed"))) {
		if (asprintf(&b, "<p>This link is not valid any more: you may have unsubscribed already.</p>\n%s",
		             back) < 0)
			b = NULL;
		rc = b ? page(out, 200, "Nothing to unsubscribe", b) : -1;
		goto out;
	}
	/* Mail scanners open links: the GET only asks, the POST acts. */
	addr = html(json_string_value(json_object_get(r, "address")) ? json_string_value(json_object_get(r, "address"))
	                                                             : "");
	t = html(token ? token : "");
	if (!addr || !t ||
	    asprintf(&b,
	             "<p>Stop the status updates sent to <strong>%s</strong>?</p>\n"
	             "<form method=\"post\" action=\"?t=%s\">\n"
	             "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n"
	             "<button type=\"submit\">Unsubscribe</button>\n</form>\n%s",
	             addr, t, back) < 0)
		b = NULL;
	rc = b ? page(out, 200, "Unsubscribe", b) : -1;
out:
	free(b);
	free(addr);
	free(t);
	free(h);
	free(token);
	return rc;
}

int subscribe_api_answer_for(subscribe_api_action action, const char *reply, const char *query, const char *home,
                             subscribe_api_answer *out)
{
	json_t *r = reply ? json_loads(reply, 0, NULL) : NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *e = json_string_value(json_object_get(r, "error"));
		unsigned status = control_reply_status(r, r ? 500 : 503);
		rc = subscribe_api_error(action, status, e ? e : "the service is unavailable; try again in a minute",
		                         out);
		goto out;
	}
	switch (action) {
	case SUBSCRIBE_API_SUBSCRIBE: {
		const char *in = json_string_value(json_object_get(r, "expires_in"));
		const char *kind = json_string_value(json_object_get(r, "kind"));
		char msg[300];
		/* The same words whether the address was known or not. */
		if (kind && strcmp(kind, "phone") == 0)
			snprintf(
			    msg, sizeof(msg),
			    "If this number can receive text messages, a 6-digit code is on its way to it. Send it "
			    "to /api/v1/subscribe/confirm within %s to start receiving updates.",
			    in ? in : "a day");
		else
			snprintf(msg, sizeof(msg),
			         "If this address can receive mail, a confirmation link is on its way to it. Follow it "
			         "within %s to start receiving updates.",
			         in ? in : "a day");
		rc = json_answer(out, 202, json_pack("{ss ss}", "status", "pending", "message", msg));
		break;
	}
	case SUBSCRIBE_API_CONFIRM_CODE:
		rc = json_answer(out, 200,
		                 json_pack("{ss ss}", "status", "confirmed", "message",
		                           "You are subscribed. Every message has a link to unsubscribe."));
		break;
	case SUBSCRIBE_API_CONFIRM_LINK: {
		char *h = home ? html(home) : NULL, *b = NULL;
		if (asprintf(&b,
		             "<p>You will hear from us when an incident affects the service, and when it is "
		             "resolved. Every message has a link to unsubscribe.</p>\n%s%s%s",
		             h ? "<p><a href=\"" : "", h ? h : "", h ? "\">See the status page</a></p>\n" : "") < 0)
			b = NULL;
		rc = b ? page(out, 200, "You are subscribed", b) : -1;
		free(h);
		free(b);
		break;
	}
	case SUBSCRIBE_API_UNSUBSCRIBE_PAGE:
	case SUBSCRIBE_API_UNSUBSCRIBE:
		rc = unsubscribe_page(action, r, query, home, out);
		break;
	}
out:
	json_decref(r);
	return rc;
}

/* ---- rate limit ---- */

/* At most this many clients are tracked at once; past it, those whose
 * allowance is whole again are forgotten first. */
#define LIMITER_SLOTS 8192

typedef struct bucket {
	char key[48]; /* "" = free */
	double tokens;
	int64_t at;
} bucket;

struct subscribe_api_limiter {
	pthread_mutex_t mu;
	bucket *b; /* LIMITER_SLOTS, open addressing */
	size_t used;
};

subscribe_api_limiter *subscribe_api_limiter_new(void)
{
	subscribe_api_limiter *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->b = calloc(LIMITER_SLOTS, sizeof(*l->b));
	if (!l->b || pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l->b);
		free(l);
		return NULL;
	}
	return l;
}

void subscribe_api_limiter_free(subscribe_api_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->b);
	free(l);
}

/* The client's key: an IPv6 address by its /64. */
static void client_key(const char *client, char *key, size_t n)
{
	struct in6_addr a;

	if (strchr(client, ':') && inet_pton(AF_INET6, client, &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
		memset(a.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a, key, (socklen_t)n))
			return;
	}
	snprintf(key, n, "%s", client);
}

static size_t slot_of(const char *key)
{
	return (size_t)(hmap_hash(key) % LIMITER_SLOTS);
}

static bucket *find(subscribe_api_limiter *l, const char *key)
{
	size_t i = slot_of(key);

	while (l->b[i].key[0] && strcmp(l->b[i].key, key) != 0)
		i = (i + 1) % LIMITER_SLOTS;
	return &l->b[i];
}

static int fuller(const void *a, const void *b)
{
	double x = ((const bucket *)a)->tokens, y = ((const bucket *)b)->tokens;
	return x < y ? -1 : x > y;
}

/*
 * Make room: forget every client whose allowance is whole again (they are
 * as new); if a flood from many addresses leaves the table still half full,
 * keep only the quarter most held back, so that a client being limited is
 * never let off by other addresses' requests.
 */
static void prune(subscribe_api_limiter *l, int burst, double per_ms, int64_t now)
{
	bucket *old = l->b, *fresh = calloc(LIMITER_SLOTS, sizeof(*fresh));
	size_t kept = 0;

	if (!fresh) {
		memset(old, 0, LIMITER_SLOTS * sizeof(*old));
		l->used = 0;
		return;
	}
	for (size_t i = 0; i < LIMITER_SLOTS; i++) {
		if (!old[i].key[0])
			continue;
		old[i].tokens += (double)(now - old[i].at) * per_ms;
		old[i].at = now;
		if (old[i].tokens < burst)
			old[kept++] = old[i];
	}
	if (kept > LIMITER_SLOTS / 4) {
		qsort(old, kept, sizeof(*old), fuller);
		kept = LIMITER_SLOTS / 4;
	}
	l->b = fresh;
	for (size_t i = 0; i < kept; i++)
		*find(l, old[i].key) = old[i];
	free(old);
	l->used = kept;
}

int64_t subscribe_api_limiter_take(subscribe_api_limiter *l, const char *client, int burst, int per_hour,
                                   int64_t now_ms)
{
	char key[48];
	double per_ms = (double)per_hour / 3600000.0;
	int64_t wait = 0;
	bucket *b;

	client_key(client ? client : "", key, sizeof(key));
	pthread_mutex_lock(&l->mu);
	b = find(l, key);
	if (!b->key[0]) {
		if (l->used >= LIMITER_SLOTS / 2) {
			prune(l, burst, per_ms, now_ms);
			b = find(l, key);
		}
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = burst;
		b->at = now_ms;
		l->used++;
	}
	b->tokens += (double)(now_ms - b->at) * per_ms;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at = now_ms;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait = (int64_t)((1.0 - b->tokens) / per_ms / 1000.0) + 1;
	pthread_mutex_unlock(&l->mu);
	return wait;
}
