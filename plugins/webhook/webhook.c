/*
 * The "webhook" plugin: POSTs every event it receives, as the JSON of
 * docs/events.md, to one URL. The far side deduplicates with the
 * Idempotency-Key header, which stays the same across retries.
 *
 * The URL is treated as a secret (it often holds a token): it never goes
 * into a log line or an error text.
 */
#include <crier/plugin.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS     300000
#define ERROR_BODY_MAX     200

#define USER_AGENT "crier/0.1"

/* Content-Type and User-Agent are sent by default and a configured header
 * of that name replaces them; these others carry the delivery's identity
 * or the message framing, so the configuration may not set them. */
#define N_DEFAULT_HEADERS 2
static const char *const reserved[] = {"Idempotency-Key",   "X-Crier-Attempt", "Content-Length", "Host",
                                       "Transfer-Encoding", "Connection",      "Expect"};

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char *url;                 /* new; a secret */
	long timeout_ms;
	crier_http_header *headers; /* new array; names and values new too */
	size_t n_headers;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* RFC 9110 token: what a header name may hold. */
static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
			return 0;
	}
	return 1;
}

static void free_headers(crier_http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)h[i].name);
		free((char *)h[i].value);
	}
	free(h);
}

static int add_header(crier_instance *inst, const char *name, const char *value)
{
	crier_http_header *h = &inst->headers[inst->n_headers];

	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free((char *)h->name);
		free((char *)h->value);
		return -1;
	}
	inst->n_headers++;
	return 0;
}

/* Build inst->headers: the defaults, minus what the configuration replaces,
 * plus the configured ones. */
static int parse_headers(crier_instance *inst, json_t *obj, char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	int has_type = 0, has_agent = 0;

	if (!json_is_object(obj))
		return fail(err, errlen, "\"headers\" must be an object of header name to string value");
	json_object_foreach(obj, name, v)
	{
		const char *value = json_string_value(v);
		if (!is_token(name))
			return fail(err, errlen, "headers: \"%s\" is not a valid header name", name);
		if (in_list(name, reserved, sizeof(reserved) / sizeof(reserved[0])))
			return fail(err, errlen, "headers: \"%s\" is set by crier and cannot be configured", name);
		/* The value may be a secret (an Authorization token): never quote it. */
		if (!value)
			return fail(err, errlen, "headers: the value of \"%s\" must be a string", name);
		if (strpbrk(value, "\r\n"))
			return fail(err, errlen, "headers: the value of \"%s\" holds CR or LF", name);
		has_type |= strcasecmp(name, "Content-Type") == 0;
		has_agent |= strcasecmp(name, "User-Agent") == 0;
	}
	inst->headers = calloc(N_DEFAULT_HEADERS + json_object_size(obj), sizeof(*inst->headers));
	if (!inst->headers)
		return fail(err, errlen, "out of memory");
	if (!has_type && add_header(inst, "Content-Type", "application/json") != 0)
		return fail(err, errlen, "out of memory");
	if (!has_agent && add_header(inst, "User-Agent", USER_AGENT) != 0)
		return fail(err, errlen, "out of memory");
	json_object_foreach(obj, name, v)
	{
		if (add_header(inst, name, json_string_value(v)) != 0)
			return fail(err, errlen, "out of memory");
	}
	return 0;
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v, *headers = NULL;
	const char *key;
	int ret = -1;

	root = json_loads(config_json ? config_json : "{}", JSON_REJECT_DUPLICATES, &jerr);
	/* Not jerr.text: it quotes the text near the error, which may be the URL. */
	if (!root)
		return fail(err, errlen, "configuration is not valid JSON (line %d, column %d)", jerr.line,
		            jerr.column);
	if (!json_is_object(root)) {
		fail(err, errlen, "configuration must be a JSON object");
		goto out;
	}
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "url") == 0) {
			const char *url = json_string_value(v);
			if (!url) {
				fail(err, errlen, "\"url\" must be a string");
				goto out;
			}
			if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
				fail(err, errlen, "\"url\" must start with http:// or https://");
				goto out;
			}
			if (strpbrk(url, " \t\r\n")) {
				fail(err, errlen, "\"url\" must not hold whitespace");
				goto out;
			}
			inst->url = strdup(url);
			if (!inst->url) {
				fail(err, errlen, "out of memory");
				goto out;
			}
		} else if (strcmp(key, "timeout_ms") == 0) {
			json_int_t t = json_integer_value(v);
			if (!json_is_integer(v) || t < 1 || t > MAX_TIMEOUT_MS) {
				fail(err, errlen, "\"timeout_ms\" must be an integer from 1 to %d", MAX_TIMEOUT_MS);
				goto out;
			}
			inst->timeout_ms = (long)t;
		} else if (strcmp(key, "headers") == 0) {
			headers = v;
		} else {
			fail(err, errlen, "unknown key \"%s\"; known keys: url, timeout_ms, headers", key);
			goto out;
		}
	}
	if (!inst->url) {
		fail(err, errlen, "missing required key \"url\"");
		goto out;
	}
	if (!headers)
		headers = json_object(); /* an empty one: the defaults alone */
	else
		json_incref(headers);
	if (!headers) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	ret = parse_headers(inst, headers, err, errlen);
	json_decref(headers);
out:
	json_decref(root);
	return ret;
}

static void webhook_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	free(inst->url);
	free_headers(inst->headers, inst->n_headers);
	free(inst);
}

static int webhook_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                        char *err, size_t errlen)
{
	crier_instance *inst;

	*out = NULL;
	if (!api || !api->http_request || !api->http_response_free || !api->delivery_json || !api->delivery_key ||
	    !api->delivery_attempt || !api->set_error || !api->retry_after)
		return fail(err, errlen, "the host table lacks entries this plugin needs");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	if (parse_config(inst, config_json, err, errlen) != 0) {
		webhook_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* Replace every occurrence of needle in s (in place) with "[redacted]" when
 * it fits, else cut s there; needles shorter than 4 bytes are left alone. */
static void redact(char *s, size_t size, const char *needle)
{
	static const char mark[] = "[redacted]";
	size_t nlen = strlen(needle);
	size_t mlen = sizeof(mark) - 1;
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

/* "HTTP 404: <start of the body>", with the body cut at ERROR_BODY_MAX
 * bytes on a UTF-8 boundary, control characters blanked, and anything that
 * echoes the URL (servers like to say "no route for /hooks/<token>") or a
 * configured header value removed. */
static void http_error(const crier_instance *inst, const crier_http_response *resp, char *out, size_t size)
{
	char snippet[ERROR_BODY_MAX + 1];
	size_t n = 0;

	if (resp->body) {
		n = resp->body_len < ERROR_BODY_MAX ? resp->body_len : ERROR_BODY_MAX;
		if (n < resp->body_len)
			while (n > 0 && ((unsigned char)resp->body[n] & 0xC0) == 0x80)
				n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)resp->body[i];
			snippet[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		}
	}
	snippet[n] = '\0';
	while (n > 0 && snippet[n - 1] == ' ')
		snippet[--n] = '\0';
	if (n)
		snprintf(out, size, "HTTP %ld: %s", resp->status, snippet);
	else
		snprintf(out, size, "HTTP %ld", resp->status);
	{
		const char *auth = strstr(inst->url, "://");
		const char *rest;
		auth = auth ? auth + 3 : inst->url;
		rest = auth + strcspn(auth, "/?#");
		redact(out, size, inst->url);
		if (strlen(rest) > 1)
			redact(out, size, rest);
	}
	/* Configured header values may be credentials a server echoes back,
	 * whole or as the token after "Bearer ". */
	for (size_t i = 0; i < inst->n_headers; i++) {
		const char *value = inst->headers[i].value;
		const char *word = strrchr(value, ' ');
		if (strcasecmp(inst->headers[i].name, "Content-Type") == 0 ||
		    strcasecmp(inst->headers[i].name, "User-Agent") == 0)
			continue;
		redact(out, size, value);
		if (word)
			redact(out, size, word + 1);
	}
	if (resp->status >= 300 && resp->status < 400 && strlen(out) + 40 < size)
		strcat(out, " (redirects are not followed)");
}

static crier_result webhook_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *json = api->delivery_json(d);
	const char *key = api->delivery_key(d);
	crier_http_header *hdrs;
	crier_http_request req = {0};
	crier_http_response resp;
	char attempt[24], msg[320];
	crier_result res;
	size_t n = 0;

	if (!json || !key) {
		api->set_error(d, "the host gave no event JSON or idempotency key");
		return CRIER_FAIL;
	}
	hdrs = calloc(inst->n_headers + 2, sizeof(*hdrs));
	if (!hdrs) {
		api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	for (size_t i = 0; i < inst->n_headers; i++)
		hdrs[n++] = inst->headers[i];
	snprintf(attempt, sizeof(attempt), "%u", api->delivery_attempt(d));
	hdrs[n++] = (crier_http_header){"Idempotency-Key", key};
	hdrs[n++] = (crier_http_header){"X-Crier-Attempt", attempt};

	req.method = "POST";
	req.url = inst->url;
	req.headers = hdrs;
	req.n_headers = n;
	req.body = json;
	req.body_len = strlen(json);
	req.timeout_ms = inst->timeout_ms;

	memset(&resp, 0, sizeof(resp));
	if (api->http_request(inst->host, &req, &resp) != 0) {
		api->set_error(d, resp.error[0] ? resp.error : "transport error");
		res = CRIER_RETRY;
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		res = CRIER_OK;
		goto out;
	}
	http_error(inst, &resp, msg, sizeof(msg));
	api->set_error(d, msg);
	if (resp.status == 408 || resp.status == 429 || (resp.status >= 500 && resp.status < 600)) {
		if (resp.retry_after_ms > 0)
			api->retry_after(d, resp.retry_after_ms);
		res = CRIER_RETRY;
	} else {
		res = CRIER_FAIL;
	}
out:
	api->http_response_free(&resp);
	free(hdrs);
	return res;
}

static const crier_plugin webhook_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "webhook",
    .description = "POST every event as JSON to a URL, with an Idempotency-Key header",
    .init = webhook_init,
    .deliver = webhook_deliver,
    .destroy = webhook_destroy,
};

CRIER_PLUGIN_DEFINE(webhook_plugin)
