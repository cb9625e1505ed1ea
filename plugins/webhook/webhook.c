/*
 * The "webhook" plugin: POSTs every event it receives to one URL, as the
 * JSON of docs/events.md or as a Mustache template rendered against it
 * (Microsoft Teams and Discord take their own shapes). The far side
 * deduplicates with the Idempotency-Key header, which stays the same across
 * retries.
 *
 * The URL is treated as a secret (it often holds a token): it never goes
 * into a log line or an error text.
 */
#include <crier/plugin.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS     300000
#define ERROR_BODY_MAX     200
#define MAX_CHARS_LIMIT    1048576
#define RETRY_AFTER_MAX_S  86400.0

#define USER_AGENT "crier/0.1"

/* Content-Type and User-Agent are sent by default and a configured header
 * of that name replaces them; these others carry the delivery's identity
 * or the message framing, so the configuration may not set them. */
#define N_DEFAULT_HEADERS 2
/* Idempotency-Key and X-Crier-Attempt, set by deliver() for each request. */
#define N_DELIVERY_HEADERS 2
static const char *const reserved[] = {"Idempotency-Key",   "X-Crier-Attempt", "Content-Length", "Host",
                                       "Transfer-Encoding", "Connection",      "Expect"};

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char *url;                 /* new; a secret */
	long timeout_ms;
	/* New array of n_headers + N_DELIVERY_HEADERS: the headers sent with
	 * every request (names and values new too), then the slots deliver()
	 * fills with borrowed values for the request at hand. */
	crier_http_header *headers;
	size_t n_headers;
	crier_template *body; /* new, or NULL when the body is the event JSON itself */
	char *body_name;      /* new: the template's name or path, for messages */
	int json_body;        /* the Content-Type is JSON: values are escaped, the result checked */
	json_t *max_chars;    /* new reference or NULL: dotted path in the event -> code points */
};

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

/* "application/json" or "<type>/<subtype>+json", parameters aside. */
static int is_json_type(const char *type)
{
	size_t n = strcspn(type, "; \t");

	return (n == 16 && strncasecmp(type, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0);
}

/* Build inst->headers: the defaults, minus what the configuration replaces,
 * plus the configured ones. content_type is the "content_type" key or NULL. */
static int parse_headers(crier_instance *inst, json_t *obj, const char *content_type, char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	int has_type = 0, has_agent = 0;

	if (!json_is_object(obj))
		return crier_fail(err, errlen, "\"headers\" must be an object of header name to string value");
	json_object_foreach(obj, name, v)
	{
		const char *value = json_string_value(v);
		if (!is_token(name))
			return crier_fail(err, errlen, "headers: \"%s\" is not a valid header name", name);
		if (in_list(name, reserved, sizeof(reserved) / sizeof(reserved[0])))
			return crier_fail(err, errlen, "headers: \"%s\" is set by crier and cannot be configured",
			                  name);
		/* The value may be a secret (an Authorization token): never quote it. */
		if (!value)
			return crier_fail(err, errlen, "headers: the value of \"%s\" must be a string", name);
		if (strpbrk(value, "\r\n"))
			return crier_fail(err, errlen, "headers: the value of \"%s\" holds CR or LF", name);
		if (strcasecmp(name, "Content-Type") == 0) {
			if (content_type)
				return crier_fail(
				    err, errlen,
				    "set the content type with \"content_type\" or headers.Content-Type, not both");
			has_type = 1;
			inst->json_body = is_json_type(value);
		}
		has_agent |= strcasecmp(name, "User-Agent") == 0;
	}
	inst->headers = calloc(N_DEFAULT_HEADERS + json_object_size(obj) + N_DELIVERY_HEADERS, sizeof(*inst->headers));
	if (!inst->headers)
		return crier_fail(err, errlen, "out of memory");
	if (!has_type) {
		if (!content_type)
			content_type = "application/json";
		inst->json_body = is_json_type(content_type);
		if (add_header(inst, "Content-Type", content_type) != 0)
			return crier_fail(err, errlen, "out of memory");
	}
	if (!has_agent && add_header(inst, "User-Agent", USER_AGENT) != 0)
		return crier_fail(err, errlen, "out of memory");
	json_object_foreach(obj, name, v)
	{
		if (add_header(inst, name, json_string_value(v)) != 0)
			return crier_fail(err, errlen, "out of memory");
	}
	return 0;
}

/* "max_chars": {"incident.title": 200, "alert.annotations.*": 1500}. */
static int check_max_chars(json_t *obj, char *err, size_t errlen)
{
	const char *path;
	json_t *v;

	if (!json_is_object(obj))
		return crier_fail(err, errlen,
		                  "\"max_chars\" must be an object of dotted path to a number of characters");
	json_object_foreach(obj, path, v)
	{
		json_int_t n = json_integer_value(v);
		size_t len = strlen(path);
		if (len == 0 || path[0] == '.' || path[len - 1] == '.' || strstr(path, ".."))
			return crier_fail(err, errlen, "max_chars: \"%s\" is not a dotted path such as incident.title",
			                  path);
		if (!json_is_integer(v) || n < 1 || n > MAX_CHARS_LIMIT)
			return crier_fail(err, errlen, "max_chars: \"%s\" must be an integer from 1 to %d", path,
			                  MAX_CHARS_LIMIT);
	}
	return 0;
}

/* A bare name picks <config_dir>/templates/webhook/<name>.mustache. */
static int is_template_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

static int load_template(crier_instance *inst, const char *src, char *err, size_t errlen)
{
	const crier_host_api *api = inst->api;
	int named = is_template_name(src);
	char terr[512] = "";

	if (api->abi_version < 2)
		return crier_fail(err, errlen, "\"template\" needs a crierd with template support (plugin ABI 2)");
	/* The name in messages: "teams", the file's path, or "inline". */
	inst->body_name = strdup(named ? src : strncmp(src, "file:", 5) == 0 ? src + 5 : "inline");
	if (!inst->body_name)
		return crier_fail(err, errlen, "out of memory");
	inst->body = api->template_load(inst->host, inst->body_name, named ? NULL : src, terr, sizeof(terr));
	if (!inst->body)
		return crier_fail(err, errlen, "\"template\": %s", terr[0] ? terr : "cannot load the template");
	return 0;
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	json_t *root, *v, *headers = NULL;
	const char *key, *template = NULL, *content_type = NULL;
	int ret = -1;

	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "url") == 0) {
			const char *url = json_string_value(v);
			if (!url) {
				crier_fail(err, errlen, "\"url\" must be a string");
				goto out;
			}
			if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
				crier_fail(err, errlen, "\"url\" must start with http:// or https://");
				goto out;
			}
			if (strpbrk(url, " \t\r\n")) {
				crier_fail(err, errlen, "\"url\" must not hold whitespace");
				goto out;
			}
			inst->url = strdup(url);
			if (!inst->url) {
				crier_fail(err, errlen, "out of memory");
				goto out;
			}
		} else if (strcmp(key, "timeout_ms") == 0) {
			if (crier_json_int(v, key, 1, MAX_TIMEOUT_MS, &inst->timeout_ms, err, errlen) != 0)
				goto out;
		} else if (strcmp(key, "headers") == 0) {
			headers = v;
		} else if (strcmp(key, "template") == 0) {
			template = json_string_value(v);
			if (!template || !*template) {
				crier_fail(
				    err, errlen,
				    "\"template\" must be a template name (\"teams\", \"discord\"), \"file:PATH\" or "
				    "the template text");
				goto out;
			}
		} else if (strcmp(key, "content_type") == 0) {
			content_type = json_string_value(v);
			if (!content_type || !*content_type || strpbrk(content_type, "\r\n")) {
				crier_fail(err, errlen,
				           "\"content_type\" must be a media type such as application/json");
				goto out;
			}
		} else if (strcmp(key, "max_chars") == 0) {
			if (check_max_chars(v, err, errlen) != 0)
				goto out;
			inst->max_chars = json_incref(v);
		} else {
			crier_fail(err, errlen,
			           "unknown key \"%s\"; known keys: url, timeout_ms, headers, template, content_type, "
			           "max_chars",
			           key);
			goto out;
		}
	}
	if (!inst->url) {
		crier_fail(err, errlen, "missing required key \"url\"");
		goto out;
	}
	if (inst->max_chars && !template) {
		crier_fail(err, errlen, "\"max_chars\" shortens the values a \"template\" uses; set \"template\" too");
		goto out;
	}
	if (!headers)
		headers = json_object(); /* an empty one: the defaults alone */
	else
		json_incref(headers);
	if (!headers) {
		crier_fail(err, errlen, "out of memory");
		goto out;
	}
	ret = parse_headers(inst, headers, content_type, err, errlen);
	json_decref(headers);
	if (ret == 0 && template)
		ret = load_template(inst, template, err, errlen);
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
	if (inst->body)
		inst->api->template_free(inst->body);
	free(inst->body_name);
	json_decref(inst->max_chars);
	free(inst);
}

static int webhook_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                        char *err, size_t errlen)
{
	crier_instance *inst;

	*out = NULL;
	if (!api)
		return crier_fail(err, errlen, "the host table lacks entries this plugin needs");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	if (parse_config(inst, config_json, err, errlen) != 0) {
		webhook_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* "HTTP 404: <start of the body>", with the body cut at ERROR_BODY_MAX
 * bytes on a UTF-8 boundary, control characters blanked, and anything that
 * echoes the URL (servers like to say "no route for /hooks/<token>") or a
 * configured header value removed. */
static void http_error(const crier_instance *inst, const crier_http_response *resp, char *out, size_t size)
{
	char snippet[ERROR_BODY_MAX + 1];
	size_t n = crier_quote(snippet, sizeof(snippet), resp->body, resp->body ? resp->body_len : 0, ERROR_BODY_MAX);

	while (n > 0 && snippet[n - 1] == ' ')
		snippet[--n] = '\0';
	crier_http_error(out, size, resp->status, snippet);
	{
		const char *auth = strstr(inst->url, "://");
		const char *rest;
		auth = auth ? auth + 3 : inst->url;
		rest = auth + strcspn(auth, "/?#");
		crier_redact(out, size, inst->url);
		if (strlen(rest) > 1)
			crier_redact(out, size, rest);
	}
	/* Configured header values may be credentials a server echoes back,
	 * whole or as the token after "Bearer ". */
	for (size_t i = 0; i < inst->n_headers; i++) {
		const char *value = inst->headers[i].value;
		const char *word = strrchr(value, ' ');
		if (strcasecmp(inst->headers[i].name, "Content-Type") == 0 ||
		    strcasecmp(inst->headers[i].name, "User-Agent") == 0)
			continue;
		crier_redact(out, size, value);
		if (word)
			crier_redact(out, size, word + 1);
	}
	if (resp->status >= 300 && resp->status < 400 && strlen(out) + 40 < size)
		strcat(out, " (redirects are not followed)");
}

/*
 * Cut the strings that inst->max_chars names under obj: path is what is left
 * of a dotted path ("alert.annotations.*"), where "*" is every member.
 */
static int fit_path(const crier_host_api *api, json_t *obj, const char *path, size_t limit)
{
	const char *dot = strchr(path, '.');
	size_t seg = dot ? (size_t)(dot - path) : strlen(path);
	int any = seg == 1 && path[0] == '*';

	if (!json_is_object(obj))
		return 0;
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it), *s;
		json_t *child = json_object_iter_value(it);
		char *cut;
		int rc;

		if (!any && (strlen(key) != seg || memcmp(key, path, seg) != 0))
			continue;
		if (dot) {
			if (fit_path(api, child, dot + 1, limit) != 0)
				return -1;
			continue;
		}
		s = json_string_value(child);
		if (!s || api->text_measure(s, CRIER_MEASURE_CODEPOINTS) <= limit)
			continue;
		cut = api->text_fit(s, CRIER_MEASURE_CODEPOINTS, limit, NULL);
		rc = cut ? json_object_iter_set_new(obj, it, json_string(cut)) : -1;
		free(cut);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The JSON-escaped text of string s, without its quotes, as a new string value. */
static json_t *escaped(const json_t *s)
{
	char *q = json_dumps(s, JSON_ENCODE_ANY);
	json_t *r = q ? json_stringn(q + 1, strlen(q) - 2) : NULL;

	free(q);
	return r;
}

/*
 * Replace every string under v by its JSON-escaped text, so that a template
 * writing "{{incident.title}}" between quotes yields a valid JSON string
 * whatever the title holds (quotes, backslashes, newlines, controls).
 */
static int escape_strings(json_t *v)
{
	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			json_t *child = json_object_iter_value(it);
			if (json_is_string(child) ? json_object_iter_set_new(v, it, escaped(child)) != 0
			                          : escape_strings(child) != 0)
				return -1;
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *child = json_array_get(v, i);
			if (json_is_string(child) ? json_array_set_new(v, i, escaped(child)) != 0
			                          : escape_strings(child) != 0)
				return -1;
		}
	}
	return 0;
}

/*
 * The template's context: the event, with "severity_is": {"<severity>": true}
 * added (Mustache cannot compare, so templates branch on it, for colours),
 * the values max_chars names cut to fit, and for a JSON body every string
 * escaped. Returns new JSON text, or NULL (out of memory).
 */
static char *template_context(const crier_instance *inst, const char *json)
{
	json_t *ctx = json_loads(json, 0, NULL), *v;
	const char *path, *sev;
	char *text = NULL;

	if (!ctx)
		return NULL;
	sev = json_string_value(json_object_get(json_object_get(ctx, "incident"), "severity"));
	if (sev && !json_object_get(ctx, "severity_is") &&
	    json_object_set_new(ctx, "severity_is", json_pack("{sb}", sev, 1)) != 0)
		goto out;
	if (inst->max_chars) {
		json_object_foreach(inst->max_chars, path, v)
		{
			if (fit_path(inst->api, ctx, path, (size_t)json_integer_value(v)) != 0)
				goto out;
		}
	}
	if (inst->json_body && escape_strings(ctx) != 0)
		goto out;
	text = json_dumps(ctx, JSON_COMPACT);
out:
	json_decref(ctx);
	return text;
}

/*
 * Render inst->body for this delivery. Returns the new body, or NULL after
 * set_error with *res saying what the delivery comes to: a template that
 * fails to render, or renders a JSON body that does not parse, fails the
 * delivery (sending it again would not help, and a broken body must not
 * reach the far side).
 */
static char *render_body(const crier_instance *inst, crier_delivery *d, const char *json, crier_result *res)
{
	const crier_host_api *api = inst->api;
	char *ctx = template_context(inst, json), *body;
	char terr[256] = "", msg[512];
	json_error_t jerr;
	json_t *parsed;

	*res = CRIER_RETRY;
	if (!ctx) {
		api->set_error(d, "out of memory building the template's context");
		return NULL;
	}
	body = api->template_render(inst->body, ctx, CRIER_ESCAPE_NONE, terr, sizeof(terr));
	free(ctx);
	*res = CRIER_FAIL;
	if (!body) {
		snprintf(msg, sizeof(msg), "template \"%s\" did not render: %s", inst->body_name, terr);
		api->set_error(d, msg);
		return NULL;
	}
	if (!inst->json_body)
		return body;
	parsed = json_loads(body, 0, &jerr);
	if (parsed) {
		json_decref(parsed);
		return body;
	}
	snprintf(msg, sizeof(msg), "template \"%s\" rendered invalid JSON (line %d, column %d: %s); not sent",
	         inst->body_name, jerr.line, jerr.column, jerr.text);
	api->set_error(d, msg);
	free(body);
	return NULL;
}

/* Discord puts a fractional "retry_after" (seconds) in a 429's JSON body;
 * its Retry-After header rounds. The time it says, in unix ms, or 0. */
static int64_t body_retry_after(const crier_host_api *api, const crier_http_response *resp)
{
	json_t *b = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
	json_t *v = json_object_get(b, "retry_after");
	double s = json_number_value(v);
	int64_t at = 0;

	if (json_is_number(v) && s > 0 && s <= RETRY_AFTER_MAX_S)
		at = api->now_ms() + (int64_t)(s * 1000.0 + 0.999);
	json_decref(b);
	return at;
}

static crier_result webhook_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *json = api->delivery_json(d);
	const char *key = api->delivery_key(d);
	crier_http_request req = {0};
	crier_http_response resp;
	char attempt[24], msg[320], *body = NULL;
	crier_result res;
	int64_t not_before;

	if (!json || !key) {
		api->set_error(d, "the host gave no event JSON or idempotency key");
		return CRIER_FAIL;
	}
	if (inst->body && !(body = render_body(inst, d, json, &res)))
		return res;
	snprintf(attempt, sizeof(attempt), "%u", api->delivery_attempt(d));
	inst->headers[inst->n_headers] = (crier_http_header){"Idempotency-Key", key};
	inst->headers[inst->n_headers + 1] = (crier_http_header){"X-Crier-Attempt", attempt};

	req.method = "POST";
	req.url = inst->url;
	req.headers = inst->headers;
	req.n_headers = inst->n_headers + N_DELIVERY_HEADERS;
	req.body = body ? body : json;
	req.body_len = strlen(req.body);
	req.timeout_ms = inst->timeout_ms;

	memset(&resp, 0, sizeof(resp));
	if (api->http_request(inst->host, &req, &resp) != 0) {
		api->set_error(d, resp.error[0] ? resp.error : "transport error");
		res = CRIER_RETRY;
	} else if ((res = crier_http_result(resp.status)) != CRIER_OK) {
		http_error(inst, &resp, msg, sizeof(msg));
		not_before = resp.status == 429 ? body_retry_after(api, &resp) : 0;
		if (resp.retry_after_ms > not_before)
			not_before = resp.retry_after_ms;
		crier_report(api, d, res, msg, not_before);
	}
	api->http_response_free(&resp);
	free(body);
	return res;
}

static const crier_plugin webhook_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "webhook",
    .description = "POST every event to a URL as JSON or through a template (Teams, Discord), with an "
                   "Idempotency-Key header",
    .init = webhook_init,
    .deliver = webhook_deliver,
    .destroy = webhook_destroy,
};

CRIER_PLUGIN_DEFINE(webhook_plugin)
