/* The log and webhook plugins, loaded from their built .so files (from
 * $CRIER_PLUGIN_DIR, else $CRIER_BUILD/plugins, else build/plugins) and
 * driven through a fake host table (whose templates and text measures are
 * crier's own, with templates from conf.d/). */
#include "check.h"
#include "mustache.h"
#include "text.h"

#include <crier/plugin.h>

#include <dlfcn.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the fake host ---- */

#define MAX_SEEN_HEADERS 16

struct crier_host {
	char name[64];
	char state_dir[256];
	int logs;

	/* What the next http_request answers. */
	int next_rc;
	long next_status;
	const char *next_body;
	int64_t next_retry_after_ms;
	const char *next_error;

	/* What the last http_request was asked. */
	int http_calls;
	int http_frees;
	char method[16];
	char url[256];
	char body[65536];
	long timeout_ms;
	size_t n_headers;
	char header_names[MAX_SEEN_HEADERS][64];
	char header_values[MAX_SEEN_HEADERS][128];
};

struct crier_delivery {
	const char *json;
	const char *key;
	unsigned attempt;
	char error[512];
	int error_calls;
	int64_t retry_after_ms;
	int retry_after_calls;
};

static void fake_log(crier_host *h, crier_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
	h->logs++;
}

static int64_t fake_now_ms(void)
{
	return 1780272000000LL;
}

static const char *fake_instance_name(const crier_host *h)
{
	return h->name;
}

static const char *fake_state_dir(const crier_host *h)
{
	return h->state_dir;
}

static const char *fake_delivery_json(const crier_delivery *d)
{
	return d->json;
}

static const char *fake_delivery_key(const crier_delivery *d)
{
	return d->key;
}

static unsigned fake_delivery_attempt(const crier_delivery *d)
{
	return d->attempt;
}

static const char *fake_delivery_state(const crier_delivery *d)
{
	(void)d;
	return NULL;
}

static int fake_set_state(crier_delivery *d, const char *state)
{
	(void)d;
	(void)state;
	return 0;
}

static void fake_retry_after(crier_delivery *d, int64_t not_before_ms)
{
	d->retry_after_ms = not_before_ms;
	d->retry_after_calls++;
}

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
	d->error_calls++;
}

static int fake_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	h->http_calls++;
	snprintf(h->method, sizeof(h->method), "%s", req->method ? req->method : "POST");
	snprintf(h->url, sizeof(h->url), "%s", req->url);
	snprintf(h->body, sizeof(h->body), "%.*s", (int)req->body_len, req->body ? req->body : "");
	h->timeout_ms = req->timeout_ms;
	h->n_headers = req->n_headers;
	for (size_t i = 0; i < req->n_headers && i < MAX_SEEN_HEADERS; i++) {
		snprintf(h->header_names[i], sizeof(h->header_names[i]), "%s", req->headers[i].name);
		snprintf(h->header_values[i], sizeof(h->header_values[i]), "%s", req->headers[i].value);
	}

	memset(resp, 0, sizeof(*resp));
	if (h->next_rc != 0) {
		snprintf(resp->error, sizeof(resp->error), "%s", h->next_error ? h->next_error : "");
		return -1;
	}
	resp->status = h->next_status;
	resp->body = strdup(h->next_body ? h->next_body : "");
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	resp->retry_after_ms = h->next_retry_after_ms;
	return 0;
}

static void fake_http_response_free(crier_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

/* Templates as the host loads them: a name from conf.d/templates/webhook/. */
static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	char path[512], *text = NULL;
	mustache *m;

	(void)h;
	if (!src) {
		snprintf(path, sizeof(path), "conf.d/templates/webhook/%s.mustache", name);
		if (!(src = text = mustache_read(path, NULL, NULL))) {
			snprintf(err, errlen, "%s: no such template (%s)", name, path);
			return NULL;
		}
	}
	m = mustache_compile(name, src, strlen(src), err, errlen);
	free(text);
	return (crier_template *)m;
}

static char *fake_template_render(const crier_template *t, const char *context_json, crier_escape esc, char *err,
                                  size_t errlen)
{
	json_t *ctx = json_loads(context_json, 0, NULL);
	char *out = ctx ? mustache_render((const mustache *)t, ctx, esc, NULL, NULL, err, errlen) : NULL;

	if (!ctx)
		snprintf(err, errlen, "the context is not JSON");
	json_decref(ctx);
	return out;
}

static void fake_template_free(crier_template *t)
{
	mustache_free((mustache *)t);
}

static const crier_host_api fake_api = {
    .abi_version = CRIER_ABI_VERSION,
    .log = fake_log,
    .now_ms = fake_now_ms,
    .instance_name = fake_instance_name,
    .state_dir = fake_state_dir,
    .delivery_json = fake_delivery_json,
    .delivery_key = fake_delivery_key,
    .delivery_attempt = fake_delivery_attempt,
    .delivery_state = fake_delivery_state,
    .set_state = fake_set_state,
    .retry_after = fake_retry_after,
    .set_error = fake_set_error,
    .http_request = fake_http_request,
    .http_response_free = fake_http_response_free,
    .template_load = fake_template_load,
    .template_render = fake_template_render,
    .template_free = fake_template_free,
    .text_measure = text_measure,
    .text_fit = text_fit,
};

/* http_response_free counts through the host the plugin was given; the
 * ABI's free takes no host, so count globally. */
static int response_frees;

static void counting_response_free(crier_http_response *resp)
{
	response_frees++;
	fake_http_response_free(resp);
}

/* ---- helpers ---- */

static const char *plugin_dir(char *buf, size_t size)
{
	const char *dir = getenv("CRIER_PLUGIN_DIR");
	const char *build = getenv("CRIER_BUILD");

	if (dir && *dir)
		return dir;
	snprintf(buf, size, "%s/plugins", build && *build ? build : "build");
	return buf;
}

static const crier_plugin *load(const char *name, void **dl)
{
	char dirbuf[512], path[1024];
	const char *dir = plugin_dir(dirbuf, sizeof(dirbuf));
	crier_plugin_negotiate_fn negotiate;
	const crier_plugin *p;

	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	*dl = NULL;
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr,
		        "test_plugins: cannot load %s (%s).\n"
		        "  Build the plugins first (make), or point CRIER_PLUGIN_DIR at the folder holding %s.so.\n",
		        path, dlerror(), name);
		return NULL;
	}
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	CHECK(negotiate != NULL);
	if (!negotiate)
		return NULL;
	CHECK(negotiate(CRIER_ABI_VERSION + 1, CRIER_ABI_VERSION + 5) == NULL);
	CHECK(negotiate(0, 0) == NULL);
	p = negotiate(1, CRIER_ABI_VERSION);
	CHECK(p != NULL);
	if (!p)
		return NULL;
	CHECK(p->abi_version == CRIER_ABI_VERSION);
	CHECK_STR(p->name, name);
	CHECK(p->description && *p->description);
	CHECK(p->init && p->deliver && p->destroy);
	if (!p->init || !p->deliver || !p->destroy)
		return NULL;
	return p;
}

/* init must fail with exactly this message. */
static void init_fails(const crier_plugin *p, crier_host *h, const char *config, const char *want)
{
	crier_instance *inst = (crier_instance *)h; /* anything non-NULL */
	char err[256] = "";

	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	CHECK_STR(err, want);
}

static int dir_is_empty(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

/* ---- log ---- */

static void test_log(crier_host *h)
{
	void *dl;
	const crier_plugin *p = load("log", &dl);
	crier_instance *inst = NULL;
	char err[256] = "", path[512];
	char *content;

	CHECK(p != NULL);
	if (!p) {
		if (dl)
			dlclose(dl);
		return;
	}

	/* init and destroy write nothing (--check-config runs them). */
	CHECK(p->init(&fake_api, h, "{}", &inst, err, sizeof(err)) == 0);
	CHECK(inst != NULL);
	p->destroy(inst);
	CHECK(p->init(&fake_api, h, "{\"path\": \"x/events.jsonl\", \"fsync\": true}", &inst, err, sizeof(err)) == 0);
	p->destroy(inst);
	CHECK(dir_is_empty(h->state_dir));

	init_fails(p, h, "{\"pth\": \"a.jsonl\"}", "unknown key \"pth\"; known keys: path, fsync");
	init_fails(p, h, "{\"fsync\": \"yes\"}", "\"fsync\" must be true or false");
	init_fails(p, h, "{\"path\": \"\"}", "\"path\" must be a non-empty string");
	init_fails(p, h, "{\"path\": 3}", "\"path\" must be a non-empty string");
	init_fails(p, h, "{\"path\": \"dir/\"}", "\"path\" must name a file, not a folder");
	init_fails(p, h, "[1]", "configuration must be a JSON object");
	init_fails(p, h, "{nope", "configuration is not valid JSON (line 1, column 5)");

	/* Three events, two pretty-printed (LF, CRLF): each becomes exactly one line. */
	inst = NULL;
	CHECK(p->init(&fake_api, h, "{\"path\": \"audit/events.jsonl\", \"fsync\": true}", &inst, err, sizeof(err)) ==
	      0);
	if (inst) {
		crier_delivery d1 = {
		    .json = "{\"id\":1,\"type\":\"opened\"}", .key = "crier-1-log/default", .attempt = 1};
		crier_delivery d2 = {.json = "{\n  \"id\": 2,\n  \"type\": \"resolved\"\n}", .key = "k2", .attempt = 1};
		CHECK(p->deliver(inst, &d1) == CRIER_OK);
		CHECK(d1.error_calls == 0);
		crier_delivery d3 = {.json = "{\r\n\"id\": 3\r\n}\r\n", .key = "k3", .attempt = 1};
		CHECK(p->deliver(inst, &d2) == CRIER_OK);
		CHECK(p->deliver(inst, &d3) == CRIER_OK);
		p->destroy(inst);
	}
	snprintf(path, sizeof(path), "%s/audit/events.jsonl", h->state_dir);
	content = check_read_file(path, NULL);
	CHECK_STR(content,
	          "{\"id\":1,\"type\":\"opened\"}\n{   \"id\": 2,   \"type\": \"resolved\" }\n{  \"id\": 3  }  \n");
	free(content);

	/* The file cannot be opened (a folder has its name): retry, and say why. */
	snprintf(path, sizeof(path), "%s/taken.jsonl", h->state_dir);
	CHECK(mkdir(path, 0700) == 0);
	inst = NULL;
	CHECK(p->init(&fake_api, h, "{\"path\": \"taken.jsonl\"}", &inst, err, sizeof(err)) == 0);
	if (inst) {
		crier_delivery d = {.json = "{}", .key = "k", .attempt = 1};
		CHECK(p->deliver(inst, &d) == CRIER_RETRY);
		CHECK(d.error_calls == 1);
		CHECK(strstr(d.error, "cannot open taken.jsonl") != NULL);
		p->destroy(inst);
	}
	rmdir(path);

	/* A write error (a full disk): retry, and say why. */
	if (access("/dev/full", W_OK) == 0) {
		inst = NULL;
		CHECK(p->init(&fake_api, h, "{\"path\": \"/dev/full\"}", &inst, err, sizeof(err)) == 0);
		if (inst) {
			crier_delivery d = {.json = "{}", .key = "k", .attempt = 1};
			CHECK(p->deliver(inst, &d) == CRIER_RETRY);
			CHECK(strstr(d.error, "cannot write /dev/full") != NULL);
			p->destroy(inst);
		}
	}
	dlclose(dl);
}

/* ---- webhook ---- */

static const char *seen_header(const crier_host *h, const char *name)
{
	for (size_t i = 0; i < h->n_headers && i < MAX_SEEN_HEADERS; i++)
		if (strcasecmp(h->header_names[i], name) == 0)
			return h->header_values[i];
	return NULL;
}

static int seen_header_count(const crier_host *h, const char *name)
{
	int n = 0;
	for (size_t i = 0; i < h->n_headers && i < MAX_SEEN_HEADERS; i++)
		n += strcasecmp(h->header_names[i], name) == 0;
	return n;
}

/* Deliver the event json once with the fake answer set in h; returns the result. */
static crier_result deliver_event(const crier_plugin *p, crier_instance *inst, crier_host *h, crier_delivery *d,
                                  const char *json, int rc, long status, const char *body, int64_t retry_after_ms,
                                  const char *error)
{
	h->next_rc = rc;
	h->next_status = status;
	h->next_body = body;
	h->next_retry_after_ms = retry_after_ms;
	h->next_error = error;
	memset(d, 0, sizeof(*d));
	d->json = json;
	d->key = "crier-17-webhook/ops";
	d->attempt = 3;
	return p->deliver(inst, d);
}

static crier_result deliver_with(const crier_plugin *p, crier_instance *inst, crier_host *h, crier_delivery *d, int rc,
                                 long status, const char *body, int64_t retry_after_ms, const char *error)
{
	return deliver_event(p, inst, h, d, "{\"id\":17,\"type\":\"opened\"}", rc, status, body, retry_after_ms, error);
}

static void test_webhook(crier_host *h)
{
	void *dl;
	const crier_plugin *p = load("webhook", &dl);
	crier_host_api api = fake_api;
	crier_instance *inst = NULL;
	crier_delivery d;
	char err[256] = "";
	const char *good =
	    "{\"url\": \"https://hooks.example.com/hook/SECRETTOKEN?sig=SECRETSIG\", \"timeout_ms\": 5000,"
	    " \"headers\": {\"Authorization\": \"Bearer SECRETBEARER\", \"X-Team\": \"ops\"}}";

	CHECK(p != NULL);
	if (!p) {
		if (dl)
			dlclose(dl);
		return;
	}
	api.http_response_free = counting_response_free;

	init_fails(p, h, "{}", "missing required key \"url\"");
	init_fails(p, h, "{\"url\": 5}", "\"url\" must be a string");
	init_fails(p, h, "{\"url\": \"ftp://example.com/SECRET\"}", "\"url\" must start with http:// or https://");
	init_fails(p, h, "{\"url\": \"example.com/SECRET\"}", "\"url\" must start with http:// or https://");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"uri\": 1}",
	           "unknown key \"uri\"; known keys: url, timeout_ms, headers, template, content_type, max_chars");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"timeout_ms\": 0}",
	           "\"timeout_ms\" must be an integer from 1 to 300000");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"timeout_ms\": \"10\"}",
	           "\"timeout_ms\" must be an integer from 1 to 300000");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"headers\": [\"a\"]}",
	           "\"headers\" must be an object of header name to string value");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"headers\": {\"X-A\": \"v\\r\\nX-B: SECRET\"}}",
	           "headers: the value of \"X-A\" holds CR or LF");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"headers\": {\"X A\": \"v\"}}",
	           "headers: \"X A\" is not a valid header name");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"headers\": {\"X-A\": 1}}",
	           "headers: the value of \"X-A\" must be a string");
	init_fails(p, h, "{\"url\": \"https://x.example\", \"headers\": {\"idempotency-key\": \"x\"}}",
	           "headers: \"idempotency-key\" is set by crier and cannot be configured");

	CHECK(p->init(&api, h, good, &inst, err, sizeof(err)) == 0);
	CHECK(inst != NULL);
	if (!inst)
		goto out;
	CHECK(h->http_calls == 0); /* init does no network I/O */

	/* 2xx: delivered, and the request is what the README promises. */
	CHECK(deliver_with(p, inst, h, &d, 0, 204, "", 0, NULL) == CRIER_OK);
	CHECK(d.error_calls == 0 && d.retry_after_calls == 0);
	CHECK(h->http_calls == 1);
	CHECK_STR(h->method, "POST");
	CHECK_STR(h->url, "https://hooks.example.com/hook/SECRETTOKEN?sig=SECRETSIG");
	CHECK_STR(h->body, "{\"id\":17,\"type\":\"opened\"}");
	CHECK(h->timeout_ms == 5000);
	CHECK_STR(seen_header(h, "Content-Type"), "application/json");
	CHECK_STR(seen_header(h, "User-Agent"), "crier/0.1");
	CHECK_STR(seen_header(h, "Idempotency-Key"), "crier-17-webhook/ops");
	CHECK_STR(seen_header(h, "X-Crier-Attempt"), "3");
	CHECK_STR(seen_header(h, "Authorization"), "Bearer SECRETBEARER");
	CHECK_STR(seen_header(h, "X-Team"), "ops");
	CHECK(h->n_headers == 6);

	/* 503 with Retry-After: retry, not before that time. */
	CHECK(deliver_with(p, inst, h, &d, 0, 503, "upstream busy", 1780272099000LL, NULL) == CRIER_RETRY);
	CHECK(d.retry_after_calls == 1 && d.retry_after_ms == 1780272099000LL);
	CHECK_STR(d.error, "HTTP 503: upstream busy");

	/* 5xx without Retry-After: retry, the core picks the time. */
	CHECK(deliver_with(p, inst, h, &d, 0, 500, "", 0, NULL) == CRIER_RETRY);
	CHECK(d.retry_after_calls == 0);
	CHECK_STR(d.error, "HTTP 500");

	CHECK(deliver_with(p, inst, h, &d, 0, 429, "slow down", 1780272005000LL, NULL) == CRIER_RETRY);
	CHECK(d.retry_after_calls == 1 && d.retry_after_ms == 1780272005000LL);
	CHECK(deliver_with(p, inst, h, &d, 0, 408, "", 0, NULL) == CRIER_RETRY);

	/* 404: permanent; the body is quoted but never the URL or a credential. */
	CHECK(deliver_with(p, inst, h, &d, 0, 404,
	                   "no_service\nfor /hook/SECRETTOKEN?sig=SECRETSIG (token SECRETBEARER)", 0,
	                   NULL) == CRIER_FAIL);
	CHECK(d.error_calls == 1 && d.retry_after_calls == 0);
	CHECK(strncmp(d.error, "HTTP 404: no_service for ", 25) == 0);
	CHECK(strstr(d.error, "SECRET") == NULL);

	/* At most 200 bytes of the body. */
	{
		char big[1001];
		memset(big, 'x', 1000);
		big[1000] = '\0';
		CHECK(deliver_with(p, inst, h, &d, 0, 400, big, 0, NULL) == CRIER_FAIL);
		CHECK(strlen(d.error) == strlen("HTTP 400: ") + 200);
	}

	CHECK(deliver_with(p, inst, h, &d, 0, 302, "", 0, NULL) == CRIER_FAIL);
	CHECK(strstr(d.error, "HTTP 302") == d.error);

	/* Transport failure: retry with the transport's reason. */
	CHECK(deliver_with(p, inst, h, &d, -1, 0, NULL, 0, "Could not resolve host: hooks.example.com") == CRIER_RETRY);
	CHECK_STR(d.error, "Could not resolve host: hooks.example.com");
	CHECK(d.retry_after_calls == 0);

	/* Every response was released. */
	CHECK(response_frees == h->http_calls);
	p->destroy(inst);
	inst = NULL;

	/* A configured Content-Type replaces the default instead of doubling it. */
	CHECK(p->init(
	          &api, h,
	          "{\"url\": \"http://x.example/\", \"headers\": {\"content-type\": \"application/cloudevents+json\"}}",
	          &inst, err, sizeof(err)) == 0);
	if (inst) {
		CHECK(deliver_with(p, inst, h, &d, 0, 200, "", 0, NULL) == CRIER_OK);
		CHECK(seen_header_count(h, "Content-Type") == 1);
		CHECK_STR(seen_header(h, "Content-Type"), "application/cloudevents+json");
		CHECK(h->timeout_ms == 10000);
		p->destroy(inst);
	}
out:
	dlclose(dl);
}

/* ---- webhook templates ---- */

#define TRICKY "He said \"stop\" \\ C:\\new\nsecond line\t</script><script>x()</script> \xc3\xbcml\xc3\xa4ut @everyone"

/* An opened event whose title and summary are text, as the host hands it over (docs/events.md). */
static char *event_json(const char *text, const char *description)
{
	json_t *ev = json_pack("{sI ss ss ss s{sI ss ss ss ss si ss} s{ss ss s{ss} s{ss ss} ss} s{ss ss} s{sb}}", "id",
	                       (json_int_t)17, "type", "opened", "time", "2026-11-21T12:01:01.000Z", "message", "",
	                       "incident", "id", (json_int_t)3, "key", "service=api", "title", text, "state",
	                       "investigating", "severity", "critical", "alerts_firing", 1, "opened_at",
	                       "2026-11-21T12:01:00.969Z", "alert", "source", "test", "status", "firing", "labels",
	                       "alertname", "HighErrorRate", "annotations", "summary", text, "description", description,
	                       "link", "https://prometheus.example.com/graph?g0.expr=up", "links", "status_page", "",
	                       "incident", "https://status.example.com/incidents/3.html", "is", "opened", 1);
	char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

	json_decref(ev);
	return s;
}

/* The body of the last request, parsed. */
static json_t *sent(const crier_host *h)
{
	json_t *doc = json_loads(h->body, 0, NULL);
	if (!doc)
		fprintf(stderr, "  not JSON: %.300s\n", h->body);
	return doc;
}

static crier_instance *webhook_new(const crier_plugin *p, const crier_host_api *api, crier_host *h, const char *config)
{
	crier_instance *inst = NULL;
	char err[256] = "";

	if (p->init(api, h, config, &inst, err, sizeof(err)) != 0)
		fprintf(stderr, "  init(%s): %s\n", config, err);
	CHECK(inst != NULL);
	return inst;
}

static void test_webhook_shipped_templates(const crier_plugin *p, crier_host *h)
{
	char *ev = event_json(TRICKY, "line one\nline \"two\"");
	crier_instance *inst;
	crier_delivery d;
	json_t *doc;

	/* Teams: an Adaptive Card carrying the exact text. */
	inst = webhook_new(p, &fake_api, h, "{\"url\": \"https://x.example/\", \"template\": \"teams\"}");
	if (inst && ev) {
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 202, "", 0, NULL) == CRIER_OK);
		doc = sent(h);
		json_t *att = json_array_get(json_object_get(doc, "attachments"), 0);
		json_t *body = json_object_get(json_object_get(att, "content"), "body");
		CHECK_STR(json_string_value(json_object_get(doc, "type")), "message");
		CHECK_STR(json_string_value(json_object_get(att, "contentType")),
		          "application/vnd.microsoft.card.adaptive");
		CHECK_STR(json_string_value(json_object_get(json_object_get(att, "content"), "type")), "AdaptiveCard");
		CHECK_STR(json_string_value(json_object_get(json_array_get(body, 0), "text")), "Incident 3 opened");
		CHECK_STR(json_string_value(json_object_get(json_array_get(body, 0), "color")), "Attention");
		CHECK_STR(json_string_value(json_object_get(json_array_get(body, 1), "text")), TRICKY);
		CHECK_STR(json_string_value(json_object_get(json_array_get(body, 2), "text")),
		          "line one\nline \"two\"");
		CHECK_STR(json_string_value(json_object_get(json_array_get(body, 3), "type")), "FactSet");
		json_decref(doc);
	}
	p->destroy(inst);

	/* Discord: content, one embed coloured by severity, no pings. */
	inst = webhook_new(p, &fake_api, h, "{\"url\": \"https://x.example/\", \"template\": \"discord\"}");
	if (inst && ev) {
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 204, "", 0, NULL) == CRIER_OK);
		doc = sent(h);
		json_t *embed = json_array_get(json_object_get(doc, "embeds"), 0);
		CHECK_STR(json_string_value(json_object_get(doc, "content")), "Incident 3 opened");
		CHECK(json_array_size(json_object_get(json_object_get(doc, "allowed_mentions"), "parse")) == 0);
		CHECK(json_is_array(json_object_get(json_object_get(doc, "allowed_mentions"), "parse")));
		CHECK_STR(json_string_value(json_object_get(embed, "title")), TRICKY);
		CHECK_STR(json_string_value(json_object_get(embed, "url")),
		          "https://status.example.com/incidents/3.html");
		CHECK_STR(json_string_value(json_object_get(embed, "description")),
		          "line one\nline \"two\"\n\nAlerts firing: 1 \xc2\xb7 [alert "
		          "source](https://prometheus.example.com/graph?g0.expr=up)");
		CHECK(json_integer_value(json_object_get(embed, "color")) == 0xED4245);
		CHECK_STR(json_string_value(json_object_get(embed, "timestamp")), "2026-11-21T12:01:01.000Z");
		json_decref(doc);
	}
	p->destroy(inst);
	free(ev);
}

/* Every event type, with and without an alert, message and links: both
 * shipped templates give a body that parses (the plugin checks) and a
 * headline for each type. */
static void test_webhook_every_event(const crier_plugin *p, crier_host *h)
{
	static const char *const types[] = {"opened",        "alert_joined", "alert_resolved", "severity_raised",
	                                    "state_changed", "acknowledged", "update",         "resolved"};
	static const char *const templates[] = {"teams", "discord"};
	char *base = event_json(TRICKY, "");
	char config[128];

	for (size_t t = 0; t < 2; t++) {
		crier_instance *inst;
		snprintf(config, sizeof(config), "{\"url\": \"https://x.example/\", \"template\": \"%s\"}",
		         templates[t]);
		inst = webhook_new(p, &fake_api, h, config);
		for (size_t i = 0; inst && base && i < 2 * sizeof(types) / sizeof(types[0]); i++) {
			json_t *ev = json_loads(base, 0, NULL);
			const char *type = types[i / 2];
			int bare = i % 2; /* no alert, no message, no links, no severity_is match */
			crier_delivery d;
			char *text;

			json_object_set_new(ev, "type", json_string(type));
			json_object_set_new(ev, "is", json_pack("{sb}", type, 1));
			json_object_set_new(ev, "previous",
			                    json_pack("{ss ss}", "state", "identified", "severity", "warning"));
			json_object_set_new(ev, "message", json_string(bare ? "" : "Rolled back \"v2\"; watching."));
			if (bare) {
				json_object_del(ev, "alert");
				json_object_set_new(ev, "links",
				                    json_pack("{ss ss}", "status_page", "", "incident", ""));
				json_object_set_new(json_object_get(ev, "incident"), "severity", json_string("none"));
			}
			text = json_dumps(ev, JSON_COMPACT);
			json_decref(ev);
			CHECK(text && deliver_event(p, inst, h, &d, text, 0, 200, "", 0, NULL) == CRIER_OK);
			if (d.error[0])
				fprintf(stderr, "  %s/%s%s: %s\n", templates[t], type, bare ? " (bare)" : "", d.error);
			CHECK(strstr(h->body, "Incident 3 ") != NULL);
			CHECK(strstr(h->body, "Incident 3 \"") == NULL); /* a headline for every type */
			free(text);
		}
		p->destroy(inst);
	}
	free(base);
}

static void test_webhook_template_rules(const crier_plugin *p, crier_host *h)
{
	char *ev = event_json("a \"quoted\" title", "word word word word word word word word word word word word");
	crier_host_api v1 = fake_api;
	crier_instance *inst;
	crier_delivery d;
	json_t *doc;
	int calls;

	init_fails(p, h, "{\"url\": \"https://x.example/\", \"template\": \"\"}",
	           "\"template\" must be a template name (\"teams\", \"discord\"), \"file:PATH\" or the template text");
	init_fails(p, h, "{\"url\": \"https://x.example/\", \"template\": \"nosuch\"}",
	           "\"template\": nosuch: no such template (conf.d/templates/webhook/nosuch.mustache)");
	init_fails(p, h, "{\"url\": \"https://x.example/\", \"template\": \"{{#a}}\"}",
	           "\"template\": inline: line 1: unclosed section \"a\"");
	init_fails(p, h, "{\"url\": \"https://x.example/\", \"max_chars\": {\"incident.title\": 10}}",
	           "\"max_chars\" shortens the values a \"template\" uses; set \"template\" too");
	init_fails(p, h, "{\"url\": \"https://x.example/\", \"template\": \"{}\", \"max_chars\": {\"a..b\": 10}}",
	           "max_chars: \"a..b\" is not a dotted path such as incident.title");
	init_fails(p, h, "{\"url\": \"https://x.example/\", \"template\": \"{}\", \"max_chars\": {\"a\": 0}}",
	           "max_chars: \"a\" must be an integer from 1 to 1048576");
	init_fails(
	    p, h,
	    "{\"url\": \"https://x.example/\", \"content_type\": \"text/plain\", \"headers\": {\"Content-Type\": "
	    "\"text/plain\"}}",
	    "set the content type with \"content_type\" or headers.Content-Type, not both");
	v1.abi_version = 1;
	v1.template_load = NULL;
	{
		crier_instance *none = NULL;
		char err[256] = "";
		CHECK(p->init(&v1, h, "{\"url\": \"https://x.example/\", \"template\": \"teams\"}", &none, err,
		              sizeof(err)) == -1);
		CHECK_STR(err, "\"template\" needs a crierd with template support (plugin ABI 2)");
	}

	/* A value outside quotes breaks the JSON: nothing is sent, the delivery fails. */
	inst = webhook_new(p, &fake_api, h,
	                   "{\"url\": \"https://x.example/\", \"template\": \"{\\\"t\\\": {{incident.title}}}\"}");
	if (inst && ev) {
		calls = h->http_calls;
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 200, "", 0, NULL) == CRIER_FAIL);
		CHECK(h->http_calls == calls);
		CHECK(strncmp(d.error, "template \"inline\" rendered invalid JSON (line 1, column ", 56) == 0);
	}
	p->destroy(inst);

	/* max_chars cuts at a word, with an ellipsis, before escaping; severity_is is there. */
	inst =
	    webhook_new(p, &fake_api, h,
	                "{\"url\": \"https://x.example/\", \"max_chars\": {\"alert.annotations.*\": 20}, \"template\": "
	                "\"{\\\"d\\\": \\\"{{alert.annotations.description}}\\\", \\\"s\\\": "
	                "\\\"{{alert.annotations.summary}}\\\", \\\"t\\\": \\\"{{incident.title}}\\\", \\\"c\\\": "
	                "{{#severity_is.critical}}true{{/severity_is.critical}}{{^severity_is.critical}}false{{/"
	                "severity_is.critical}}}\"}");
	if (inst && ev) {
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 200, "", 0, NULL) == CRIER_OK);
		doc = sent(h);
		CHECK_STR(json_string_value(json_object_get(doc, "d")), "word word word word\xe2\x80\xa6");
		CHECK_STR(json_string_value(json_object_get(doc, "s")), "a \"quoted\" title");
		CHECK_STR(json_string_value(json_object_get(doc, "t")), "a \"quoted\" title");
		CHECK(json_is_true(json_object_get(doc, "c")));
		json_decref(doc);

		/* Discord's 429: the body's fractional retry_after wins over an earlier Retry-After... */
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 429, "{\"retry_after\": 2.5, \"global\": false}",
		                    fake_now_ms() + 1000, NULL) == CRIER_RETRY);
		CHECK(d.retry_after_calls == 1 && d.retry_after_ms == fake_now_ms() + 2500);
		/* ...and a later header wins over the body. */
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 429, "{\"retry_after\": 0.25}", fake_now_ms() + 3000,
		                    NULL) == CRIER_RETRY);
		CHECK(d.retry_after_ms == fake_now_ms() + 3000);
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 404, "{\"message\": \"Unknown Webhook\", \"code\": 10015}",
		                    0, NULL) == CRIER_FAIL);
		CHECK_STR(d.error, "HTTP 404: {\"message\": \"Unknown Webhook\", \"code\": 10015}");
	}
	p->destroy(inst);

	/* A non-JSON content type: values as they are, no check. */
	inst = webhook_new(p, &fake_api, h,
	                   "{\"url\": \"https://x.example/\", \"content_type\": \"text/plain; charset=utf-8\", "
	                   "\"template\": \"Title: {{{incident.title}}}\"}");
	if (inst && ev) {
		CHECK(deliver_event(p, inst, h, &d, ev, 0, 200, "", 0, NULL) == CRIER_OK);
		CHECK_STR(h->body, "Title: a \"quoted\" title");
		CHECK_STR(seen_header(h, "Content-Type"), "text/plain; charset=utf-8");
	}
	p->destroy(inst);
	free(ev);
}

int main(void)
{
	crier_host *h = calloc(1, sizeof(*h));
	char tmpl[] = "/tmp/crier-test-plugins-XXXXXX";
	char cmd[128];

	CHECK(h != NULL);
	if (!h || !mkdtemp(tmpl)) {
		CHECK(!"cannot make a temporary folder");
		free(h);
		return check_summary("test_plugins");
	}
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", tmpl);
	snprintf(h->name, sizeof(h->name), "test/default");

	test_log(h);
	test_webhook(h);
	{
		void *dl;
		const crier_plugin *p = load("webhook", &dl);
		if (p) {
			test_webhook_shipped_templates(p, h);
			test_webhook_every_event(p, h);
			test_webhook_template_rules(p, h);
		}
		if (dl)
			dlclose(dl);
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	free(h);
	return check_summary("test_plugins");
}
