#include "http_client.h"

#include "timefmt.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define ALLOWED_PROTOCOLS  "http,https"

/* What the curl callbacks of one request fill in. */
typedef struct req_ctx {
	char *body; /* new; grows up to HTTP_CLIENT_BODY_MAX + 1 */
	size_t len;
	size_t cap;
	int oom;
	int64_t retry_after_ms;
	int64_t reset_ms; /* from a rate-limit reset header, used on a 429 without Retry-After */
} req_ctx;

int http_client_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void http_client_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- Retry-After ---- */

static int eat(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncasecmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

static int eat_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* One of the names in list (tried longest-first by the caller's order). */
static int eat_name(const char **p, const char *const *list, int n, int *idx)
{
	for (int i = 0; i < n; i++) {
		if (eat(p, list[i]) == 0) {
			*idx = i;
			return 0;
		}
	}
	return -1;
}

static const char *const short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_days[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int eat_month(const char **p, int *mon)
{
	int idx;

	if (eat_name(p, months, 12, &idx) != 0)
		return -1;
	*mon = idx + 1;
	return 0;
}

static int eat_time(const char **p, int *h, int *mi, int *s)
{
	if (eat_digits(p, 2, h) || eat(p, ":") || eat_digits(p, 2, mi) || eat(p, ":") || eat_digits(p, 2, s))
		return -1;
	return 0;
}

/* The three HTTP-date forms; 0 and fields set, or -1. *two_digit_year is
 * set for RFC 850, whose century the caller decides. */
static int parse_http_date(const char *p, int *y, int *mon, int *d, int *h, int *mi, int *s, int *two_digit_year)
{
	const char *q = p;
	int idx;

	*two_digit_year = 0;
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (eat_name(&q, short_days, 7, &idx) == 0 && eat(&q, ", ") == 0) {
		if (eat_digits(&q, 2, d) || eat(&q, " ") || eat_month(&q, mon) || eat(&q, " ") ||
		    eat_digits(&q, 4, y) || eat(&q, " ") || eat_time(&q, h, mi, s) || eat(&q, " GMT"))
			return -1;
		return *q ? -1 : 0;
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	q = p;
	if (eat_name(&q, long_days, 7, &idx) == 0) {
		if (eat(&q, ", ") || eat_digits(&q, 2, d) || eat(&q, "-") || eat_month(&q, mon) || eat(&q, "-") ||
		    eat_digits(&q, 2, y) || eat(&q, " ") || eat_time(&q, h, mi, s) || eat(&q, " GMT"))
			return -1;
		*two_digit_year = 1;
		return *q ? -1 : 0;
	}
	/* asctime: "Sun Nov  6 08:49:37 1994" (day is two digits or space + digit) */
	q = p;
	if (eat_name(&q, short_days, 7, &idx) == 0 && eat(&q, " ") == 0) {
		if (eat_month(&q, mon) || eat(&q, " "))
			return -1;
		if (*q == ' ') {
			q++;
			if (eat_digits(&q, 1, d))
				return -1;
		} else if (eat_digits(&q, 2, d)) {
			return -1;
		}
		if (eat(&q, " ") || eat_time(&q, h, mi, s) || eat(&q, " ") || eat_digits(&q, 4, y))
			return -1;
		return *q ? -1 : 0;
	}
	return -1;
}

int64_t http_client_parse_retry_after(const char *value, int64_t now_ms)
{
	char buf[64];
	const char *p;
	size_t n;

	if (!value)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' || value[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, value, n);
	buf[n] = '\0';

	if (buf[0] >= '0' && buf[0] <= '9') {
		/* delta-seconds; RFC 9111 1.2.2 caps an overflowing value at 2^31. */
		int64_t secs = 0;
		for (p = buf; *p; p++) {
			if (*p < '0' || *p > '9')
				return 0;
			if (secs < 2147483648LL)
				secs = secs * 10 + (*p - '0');
		}
		if (secs > 2147483648LL)
			secs = 2147483648LL;
		return now_ms + secs * 1000;
	}

	int y, mon, d, h, mi, s, two;
	if (parse_http_date(buf, &y, &mon, &d, &h, &mi, &s, &two) != 0)
		return 0;
	if (two) {
		/* RFC 9110 5.6.7: a two-digit year more than 50 years in the future
		 * means the most recent past year with those digits. */
		int64_t now_year;
		int now_mon, now_day;
		timefmt_civil_from_days((now_ms / 1000) / 86400, &now_year, &now_mon, &now_day);
		int64_t cand = now_year - now_year % 100 + y;
		if (cand > now_year + 50)
			cand -= 100;
		y = (int)cand;
	}
	if (mon < 1 || mon > 12 || d < 1 || d > timefmt_days_in_month(y, mon) || h > 23 || mi > 59 || s > 60)
		return 0;
	int64_t secs = timefmt_days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s;
	return secs > 0 ? secs * 1000 : 0;
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	req_ctx *ctx = userdata;
	size_t n = size * nmemb;
	size_t room, take;

	if (ctx->len >= HTTP_CLIENT_BODY_MAX)
		return n; /* past the cap: keep the connection reusable, drop the bytes */
	room = HTTP_CLIENT_BODY_MAX - ctx->len;
	take = n < room ? n : room;
	if (ctx->len + take + 1 > ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap : 1024;
		while (cap < ctx->len + take + 1)
			cap *= 2;
		if (cap > HTTP_CLIENT_BODY_MAX + 1)
			cap = HTTP_CLIENT_BODY_MAX + 1;
		char *nb = realloc(ctx->body, cap);
		if (!nb) {
			ctx->oom = 1;
			return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
		}
		ctx->body = nb;
		ctx->cap = cap;
	}
	memcpy(ctx->body + ctx->len, data, take);
	ctx->len += take;
	ctx->body[ctx->len] = '\0';
	return n;
}

int64_t http_client_parse_reset(const char *value, int64_t now_ms)
{
	char buf[64];
	size_t n;
	int64_t ms = 0;

	if (!value)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strcspn(value, " \t\r\n");
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, value, n);
	buf[n] = '\0';
	if (timefmt_parse_rfc3339(buf, &ms) == 0)
		return ms > 0 ? ms : 0;
	for (const char *p = buf; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	if (n > 12)
		return 0;
	long long secs = atoll(buf);
	/* Epoch seconds (X, Bluesky) are large; small numbers are seconds from now. */
	return secs >= 1000000000LL ? (int64_t)secs * 1000 : now_ms + (int64_t)secs * 1000;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	req_ctx *ctx = userdata;
	size_t n = size * nmemb;
	static const char name[] = "Retry-After:";
	char value[128];

	/* A new status line starts a new response (after a 1xx): forget what
	 * the previous one said. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		ctx->retry_after_ms = 0;
		ctx->reset_ms = 0;
		return n;
	}
	if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		size_t vlen = n - (sizeof(name) - 1);
		if (vlen < sizeof(value)) {
			memcpy(value, data + sizeof(name) - 1, vlen);
			value[vlen] = '\0';
			ctx->retry_after_ms = http_client_parse_retry_after(value, timefmt_now_ms());
		}
		return n;
	}
	/* Services that send no Retry-After say when their window resets:
	 * Mastodon X-RateLimit-Reset, X x-rate-limit-reset, Bluesky RateLimit-Reset. */
	static const char *const resets[] = {"X-RateLimit-Reset:", "X-Rate-Limit-Reset:", "RateLimit-Reset:"};
	for (size_t i = 0; i < sizeof(resets) / sizeof(resets[0]); i++) {
		size_t nl = strlen(resets[i]);
		if (n > nl && n - nl < sizeof(value) && strncasecmp(data, resets[i], nl) == 0) {
			memcpy(value, data + nl, n - nl);
			value[n - nl] = '\0';
			ctx->reset_ms = http_client_parse_reset(value, timefmt_now_ms());
			break;
		}
	}
	return n;
}

/* ---- request ---- */

static int is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static int is_token(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!is_token_char((unsigned char)*s))
			return 0;
	return 1;
}

static int has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* The parts of url that must never show in a message: the whole URL, and
 * what follows the host (path, query: tokens live there), and user:password. */
static int mentions_url(const char *text, const char *url)
{
	const char *auth, *rest, *at;

	if (strstr(text, url))
		return 1;
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	rest = auth + strcspn(auth, "/?#");
	if (strlen(rest) > 1 && strstr(text, rest))
		return 1;
	at = memchr(auth, '@', (size_t)(rest - auth));
	if (at && at > auth) {
		size_t ulen = (size_t)(at - auth);
		for (const char *t = text; (t = strchr(t, auth[0])) != NULL; t++)
			if (strncmp(t, auth, ulen) == 0)
				return 1;
	}
	return 0;
}

static void set_error(crier_http_response *resp, const char *msg)
{
	snprintf(resp->error, sizeof(resp->error), "%s", msg);
}

/* Fill resp->error from curl's own buffer, unless it mentions the URL. */
static void set_curl_error(crier_http_response *resp, CURLcode rc, const char *errbuf, const char *url)
{
	const char *msg = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (mentions_url(msg, url))
		msg = curl_easy_strerror(rc);
	set_error(resp, msg);
}

static int scheme_allowed(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* "Name: value" lines for curl; a header with an empty value needs the
 * "Name;" form, since "Name:" would remove it. */
static int build_headers(const crier_http_request *req, struct curl_slist **out, char *err, size_t errlen)
{
	struct curl_slist *list = NULL, *nl;
	int has_expect = 0;
	int ret = -1;

	for (size_t i = 0; i < req->n_headers; i++) {
		const crier_http_header *hd = &req->headers[i];
		const char *value = hd->value ? hd->value : "";
		char *line;
		int len;

		if (!is_token(hd->name)) {
			snprintf(err, errlen, "header %zu: invalid name", i);
			goto out;
		}
		if (has_crlf(value)) {
			snprintf(err, errlen, "header \"%s\": value holds CR or LF", hd->name);
			goto out;
		}
		if (strcasecmp(hd->name, "Expect") == 0)
			has_expect = 1;
		len = *value ? asprintf(&line, "%s: %s", hd->name, value) : asprintf(&line, "%s;", hd->name);
		if (len < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		nl = curl_slist_append(list, line);
		free(line);
		if (!nl) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		list = nl;
	}
	/* Without this, curl waits for "100 Continue" before sending a large
	 * body, which costs a round trip or a full second on servers that never
	 * send one. */
	if (!has_expect) {
		nl = curl_slist_append(list, "Expect:");
		if (!nl) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		list = nl;
	}
	*out = list;
	list = NULL;
	ret = 0;
out:
	curl_slist_free_all(list);
	return ret;
}

#define SETOPT(h, opt, val)                                                                                            \
	do {                                                                                                           \
		CURLcode setopt_rc_ = curl_easy_setopt((h), (opt), (val));                                             \
		if (setopt_rc_ != CURLE_OK) {                                                                          \
			snprintf(resp->error, sizeof(resp->error), "curl option %s: %s", #opt,                         \
			         curl_easy_strerror(setopt_rc_));                                                      \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

int http_client_request(void **handle, const crier_http_request *req, crier_http_response *resp)
{
	req_ctx ctx = {0};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	const char *method;
	long timeout_ms;
	CURLcode rc;
	CURL *h;
	int ret = -1;

	memset(resp, 0, sizeof(*resp));
	errbuf[0] = '\0';
	if (!handle || !req || !req->url) {
		set_error(resp, "no URL");
		return -1;
	}
	if (!scheme_allowed(req->url)) {
		set_error(resp, "URL scheme must be http or https");
		return -1;
	}
	method = req->method ? req->method : "POST";
	if (!is_token(method)) {
		set_error(resp, "invalid method");
		return -1;
	}
	if (build_headers(req, &headers, resp->error, sizeof(resp->error)) != 0)
		return -1;

	if (!*handle) {
		*handle = curl_easy_init();
		if (!*handle) {
			set_error(resp, "curl_easy_init failed");
			goto out;
		}
	}
	h = *handle;
	/* Every call starts from defaults; the handle keeps its live
	 * connections and DNS cache across a reset. */
	curl_easy_reset(h);

	timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_URL, req->url);
	/* Plugin hosts are threads: curl must not use signals (SIGALRM for DNS
	 * timeouts) behind the daemon's back. */
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, ALLOWED_PROTOCOLS);
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, ALLOWED_PROTOCOLS);
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* A redirect could carry a request (and its secrets) somewhere else:
	 * the plugin sees the 3xx and decides. */
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h, CURLOPT_WRITEDATA, &ctx);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, &ctx);

	if (strcmp(method, "GET") == 0) {
		SETOPT(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SETOPT(h, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(method, "POST") == 0)
			SETOPT(h, CURLOPT_POST, 1L);
		else
			SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		SETOPT(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}

	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (ctx.oom)
			set_error(resp, "out of memory reading the response");
		else
			set_curl_error(resp, rc, errbuf, req->url);
		goto out;
	}
	rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc != CURLE_OK || resp->status <= 0) {
		resp->status = 0;
		set_error(resp, "no HTTP status in the answer");
		goto out;
	}
	if (!ctx.body) {
		ctx.body = calloc(1, 1);
		if (!ctx.body) {
			resp->status = 0;
			set_error(resp, "out of memory");
			goto out;
		}
	}
	resp->body = ctx.body;
	resp->body_len = ctx.len;
	resp->retry_after_ms = ctx.retry_after_ms;
	/* A reset time says when the whole window reopens, which is only the
	 * right wait for an answer that says the window is used up. */
	if (!resp->retry_after_ms && resp->status == 429)
		resp->retry_after_ms = ctx.reset_ms;
	ctx.body = NULL;
	ret = 0;
out:
	/* Drop the handle's pointers to this frame (error buffer, callbacks'
	 * data) and to the header list before both go away. */
	if (*handle)
		curl_easy_reset(*handle);
	curl_slist_free_all(headers);
	free(ctx.body);
	return ret;
}

void http_client_close(void **handle)
{
	if (!handle || !*handle)
		return;
	curl_easy_cleanup(*handle);
	*handle = NULL;
}

__attribute__((visibility("default"))) const http_client_module crier_http_module = {
    .version = HTTP_CLIENT_MODULE_VERSION,
    .global_init = http_client_global_init,
    .global_cleanup = http_client_global_cleanup,
    .request = http_client_request,
    .close = http_client_close,
};
