/* The social plugin, loaded from its built .so ($CRIER_PLUGIN_DIR, else
 * $CRIER_BUILD/plugins, else build/plugins) and driven through a fake host
 * table whose templates and text measures are crier's own (mustache.c,
 * text.c), with the shipped template conf.d/templates/social/post.mustache. */
#include "check.h"
#include "mustache.h"
#include "text.h"

#include <crier/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "masto-secret-tok-5d1e"

/* ---- the fake host ---- */

struct crier_host {
	const char *name;
	int logs;
	char last_log[600];
	/* What the next http_request answers. */
	int next_rc;
	long next_status;
	const char *next_body;
	int64_t next_retry_after_ms;
	/* What the last one was asked. */
	int http_calls;
	char url[256], body[2048], auth[128], key[64], ctype[64];
};

struct crier_template {
	mustache *m;
};

struct crier_delivery {
	const char *json, *state;
	char *new_state;
	char error[512];
	int64_t retry_after_ms;
	int drafts;
	char network[32], text[2048];
	crier_measure measure;
	size_t limit;
};

static void fake_log(crier_host *h, crier_log_level level, const char *msg)
{
	(void)level;
	h->logs++;
	snprintf(h->last_log, sizeof(h->last_log), "%s", msg);
}

static int64_t fake_now_ms(void)
{
	return 1780272000000LL;
}

static const char *fake_instance_name(const crier_host *h)
{
	return h->name;
}

static const char *fake_delivery_json(const crier_delivery *d)
{
	return d->json;
}

static const char *fake_delivery_state(const crier_delivery *d)
{
	return d->state;
}

static int fake_set_state(crier_delivery *d, const char *state)
{
	free(d->new_state);
	d->new_state = strdup(state);
	return d->new_state ? 0 : -1;
}

static void fake_retry_after(crier_delivery *d, int64_t ms)
{
	d->retry_after_ms = ms;
}

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
}

static int fake_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	h->http_calls++;
	snprintf(h->url, sizeof(h->url), "%s", req->url);
	snprintf(h->body, sizeof(h->body), "%.*s", (int)req->body_len, req->body);
	h->auth[0] = h->key[0] = h->ctype[0] = '\0';
	for (size_t i = 0; i < req->n_headers; i++) {
		char *dst = strcmp(req->headers[i].name, "Authorization") == 0     ? h->auth
		            : strcmp(req->headers[i].name, "Idempotency-Key") == 0 ? h->key
		            : strcmp(req->headers[i].name, "Content-Type") == 0    ? h->ctype
		                                                                   : NULL;
		if (dst)
			snprintf(dst, 64, "%s", req->headers[i].value);
	}
	memset(resp, 0, sizeof(*resp));
	if (h->next_rc != 0) {
		snprintf(resp->error, sizeof(resp->error), "Operation timed out");
		return -1;
	}
	resp->status = h->next_status;
	resp->body = strdup(h->next_body ? h->next_body : "");
	resp->body_len = strlen(resp->body);
	resp->retry_after_ms = h->next_retry_after_ms;
	return 0;
}

static void fake_http_response_free(crier_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	(void)h;
	char *text = src ? strdup(src) : mustache_read("conf.d/templates/social/post.mustache", NULL, NULL);
	crier_template *t = text ? calloc(1, sizeof(*t)) : NULL;
	if (t && !(t->m = mustache_compile(name, text, strlen(text), err, errlen))) {
		free(t);
		t = NULL;
	}
	if (!text)
		snprintf(err, errlen, "cannot read the template (run from the repository root)");
	free(text);
	return t;
}

static char *fake_template_render(const crier_template *t, const char *ctx, crier_escape esc, char *err, size_t errlen)
{
	json_t *j = json_loads(ctx, 0, NULL);
	char *out = j ? mustache_render(t->m, j, esc, NULL, NULL, err, errlen) : NULL;
	json_decref(j);
	return out;
}

static void fake_template_free(crier_template *t)
{
	if (t)
		mustache_free(t->m);
	free(t);
}

static int fake_draft_submit(crier_delivery *d, const char *network, const char *text, crier_measure m, size_t limit)
{
	if (text_measure(text, m) > limit)
		return -1;
	d->drafts++;
	snprintf(d->network, sizeof(d->network), "%s", network);
	snprintf(d->text, sizeof(d->text), "%s", text);
	d->measure = m;
	d->limit = limit;
	return 0;
}

static const crier_host_api fake_api = {
    .abi_version = 2,
    .log = fake_log,
    .now_ms = fake_now_ms,
    .instance_name = fake_instance_name,
    .delivery_json = fake_delivery_json,
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
    .draft_submit = fake_draft_submit,
};

static const crier_plugin *load(void **dl)
{
	char path[1024];
	const char *dir = getenv("CRIER_PLUGIN_DIR"), *build = getenv("CRIER_BUILD");
	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/social.so", dir);
	else
		snprintf(path, sizeof(path), "%s/plugins/social.so", build && *build ? build : "build");
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "test_social: cannot load %s (%s); build the plugins first\n", path, dlerror());
		return NULL;
	}
	crier_plugin_negotiate_fn negotiate;
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	return negotiate ? negotiate(1, CRIER_ABI_VERSION) : NULL;
}

static void init_fails(const crier_plugin *p, crier_host *h, const char *config, const char *want)
{
	crier_instance *inst = NULL;
	char err[512] = "";
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	if (want)
		CHECK_STR(err, want);
	CHECK(strstr(err, TOKEN) == NULL);
}

/* An event as the core hands it over, with an alert full of internal detail. */
static char *event(const char *type, const char *state)
{
	json_t *doc =
	    json_pack("{ss ss s{sI ss ss ss ss s{ss ss ss}} s{ss s{ss ss} ss} s{ss ss} s{sb}}", "type", type, "message",
	              "Replica db-7 lag 93s", "incident", "id", (json_int_t)3, "key", "service=payments", "title",
	              "Replica db-7 lag 93s on pg-eu-3b", "state", state, "severity", "critical", "labels", "alertname",
	              "PgReplicaLag", "instance", "db-7.internal:9187", "service", "payments", "alert", "source",
	              "alertmanager", "labels", "alertname", "PgReplicaLag", "instance", "db-7.internal:9187", "link",
	              "http://prom.internal/x", "links", "status_page", "https://status.example.com/", "incident",
	              "https://status.example.com/incidents/3.html", "is", type, 1);
	char *txt = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return txt;
}

static char *approved(const char *instance, const char *text)
{
	json_t *doc = json_pack("{ss s{sI ss ss ss}}", "type", "draft_approved", "draft", "id", (json_int_t)7,
	                        "instance", instance, "text", text, "status", "approved");
	char *txt = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return txt;
}

static crier_result run(const crier_plugin *p, crier_instance *inst, crier_delivery *d, char *json, const char *state)
{
	free(d->new_state);
	memset(d, 0, sizeof(*d));
	d->json = json;
	d->state = state;
	crier_result r = p->deliver(inst, d);
	free(json);
	return r;
}

static void test_config(const crier_plugin *p, crier_host *h)
{
	init_fails(p, h, "{}", "\"network\" must be \"mastodon\", \"x\" or \"bluesky\"");
	init_fails(p, h, "{\"network\":\"myspace\"}", "\"network\" must be \"mastodon\", \"x\" or \"bluesky\"");
	init_fails(p, h, "{\"network\":\"mastodon\",\"token\":\"" TOKEN "\"}", NULL);
	init_fails(p, h, "{\"network\":\"mastodon\",\"instance_url\":\"https://m.example\"}", NULL);
	init_fails(p, h, "{\"network\":\"mastodon\",\"instance_url\":\"ftp://m.example\",\"token\":\"" TOKEN "\"}",
	           "\"instance_url\" must start with http:// or https://");
	init_fails(p, h,
	           "{\"network\":\"mastodon\",\"instance_url\":\"https://m.example\",\"token\":\"" TOKEN
	           "\",\"visibility\":\"friends\"}",
	           "\"visibility\" must be public, unlisted, private or direct");
	init_fails(p, h,
	           "{\"network\":\"mastodon\",\"instance_url\":\"https://m.example\",\"token\":\"" TOKEN
	           "\",\"language\":\"english\"}",
	           "\"language\" must be an ISO 639-1 code such as \"en\"");
	init_fails(
	    p, h, "{\"network\":\"x\",\"token\":\"" TOKEN "\"}",
	    "\"token\" is a Mastodon setting; publishing to X is not built (its drafts are posted by hand), so it "
	    "takes only network, states, templates");
	init_fails(p, h, "{\"network\":\"bluesky\",\"colour\":\"blue\"}",
	           "unknown key \"colour\"; known keys: network, states, templates");
	init_fails(p, h, "{\"network\":\"x\",\"states\":[\"fixed\"]}",
	           "states[0]: expected investigating, identified, monitoring or resolved");
	init_fails(p, h, "{\"network\":\"x\",\"templates\":{\"body\":\"x\"}}",
	           "templates: unknown template \"body\" (this plugin has one: post)");
	init_fails(p, h, "{\"network\":\"x\",\"templates\":{\"post\":\"{{#a}}\"}}", NULL);
}

static void test_drafting(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = NULL;
	crier_delivery d = {0};
	char err[512] = "";
	CHECK(p->init(&fake_api, h,
	              "{\"network\":\"mastodon\",\"instance_url\":\"https://m.example/\",\"token\":\"" TOKEN
	              "\",\"language\":\"en\"}",
	              &inst, err, sizeof(err)) == 0);
	if (!inst) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	/* Opened: a public draft, the link kept, nothing internal. */
	CHECK(run(p, inst, &d, event("opened", "investigating"), NULL) == CRIER_OK);
	CHECK(d.drafts == 1);
	CHECK_STR(d.network, "mastodon");
	CHECK(d.measure == CRIER_MEASURE_MASTODON && d.limit == 500);
	CHECK(strstr(d.text, "https://status.example.com/incidents/3.html") != NULL);
	static const char *const internal[] = {"db-7",          "PgReplicaLag", "payments", "pg-eu",
	                                       "prom.internal", "critical",     "93s"};
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		CHECK(strstr(d.text, internal[i]) == NULL);
	CHECK(strchr(d.text, '\n') == NULL);
	CHECK_STR(d.new_state, "{\"drafted\":\"investigating\"}");
	CHECK(h->http_calls == 0);

	/* The same public state again says nothing new. */
	CHECK(run(p, inst, &d, event("alert_joined", "investigating"), "{\"drafted\":\"investigating\"}") == CRIER_OK);
	CHECK(d.drafts == 0 && d.new_state == NULL);
	/* A new state is a new draft, and the thread's last post is kept. */
	CHECK(run(p, inst, &d, event("state_changed", "monitoring"),
	          "{\"drafted\":\"investigating\",\"status_id\":\"42\"}") == CRIER_OK);
	CHECK(d.drafts == 1);
	CHECK_STR(d.new_state, "{\"drafted\":\"monitoring\",\"status_id\":\"42\"}");
	/* The review channel's events are not for drafting. */
	CHECK(run(p, inst, &d, event("draft_created", "monitoring"), NULL) == CRIER_OK);
	CHECK(d.drafts == 0);
	p->destroy(inst);

	/* X, with a long template: cut to 280 weighted, the link whole at the end. */
	inst = NULL;
	CHECK(p->init(
	          &fake_api, h,
	          "{\"network\":\"x\",\"states\":[\"investigating\",\"resolved\"],\"templates\":{\"post\":\"{{state}}: "
	          "We are working on it and will tell you more soon, with every detail we can share, as soon as we "
	          "know it; thank you for bearing with us while our engineers dig in, look around, test fixes and "
	          "make sure nothing else is affected by this. Updates: {{link}}\"}}",
	          &inst, err, sizeof(err)) == 0);
	if (!inst) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(run(p, inst, &d, event("opened", "investigating"), NULL) == CRIER_OK);
	CHECK(d.drafts == 1 && d.measure == CRIER_MEASURE_X && d.limit == 280);
	CHECK(text_measure(d.text, CRIER_MEASURE_X) <= 280);
	const char *link = "https://status.example.com/incidents/3.html";
	CHECK(strlen(d.text) > strlen(link) && strcmp(d.text + strlen(d.text) - strlen(link), link) == 0);
	CHECK(strncmp(d.text, "investigating: We are", 21) == 0);
	/* States left out are not drafted. */
	CHECK(run(p, inst, &d, event("state_changed", "monitoring"), "{\"drafted\":\"investigating\"}") == CRIER_OK);
	CHECK(d.drafts == 0);
	/* Publishing to X is not built. */
	h->name = "social/x";
	CHECK(run(p, inst, &d, approved("social/x", "hello"), NULL) == CRIER_FAIL);
	CHECK_STR(d.error, "publishing to X is not built; post the approved text by hand");
	p->destroy(inst);
}

static void test_publishing(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = NULL;
	crier_delivery d = {0};
	char err[512] = "";
	CHECK(p->init(&fake_api, h,
	              "{\"network\":\"mastodon\",\"instance_url\":\"https://m.example/\",\"token\":\"" TOKEN
	              "\",\"language\":\"en\",\"visibility\":\"unlisted\"}",
	              &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	/* Another account's approval is not ours. */
	h->http_calls = 0;
	CHECK(run(p, inst, &d, approved("social/other", "hello"), NULL) == CRIER_OK);
	CHECK(h->http_calls == 0);

	/* 200: published, threaded under the incident's last post. */
	h->next_status = 200;
	h->next_body = "{\"id\":\"1099\",\"url\":\"https://m.example/@crier/1099\"}";
	CHECK(run(p, inst, &d, approved("social/mastodon", "All good now."),
	          "{\"drafted\":\"resolved\",\"status_id\":\"1001\"}") == CRIER_OK);
	CHECK(h->http_calls == 1);
	CHECK_STR(h->url, "https://m.example/api/v1/statuses");
	CHECK_STR(h->auth, "Bearer " TOKEN);
	CHECK_STR(h->key, "crier-draft-7");
	CHECK_STR(h->ctype, "application/json");
	json_t *b = json_loads(h->body, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(b, "status")), "All good now.");
	CHECK_STR(json_string_value(json_object_get(b, "visibility")), "unlisted");
	CHECK_STR(json_string_value(json_object_get(b, "language")), "en");
	CHECK_STR(json_string_value(json_object_get(b, "in_reply_to_id")), "1001");
	json_decref(b);
	CHECK_STR(d.new_state, "{\"drafted\":\"resolved\",\"status_id\":\"1099\"}");
	CHECK(strstr(h->last_log, "https://m.example/@crier/1099") != NULL);

	/* The first post of an incident replies to nothing. */
	CHECK(run(p, inst, &d, approved("social/mastodon", "Looking."), "{\"drafted\":\"investigating\"}") == CRIER_OK);
	b = json_loads(h->body, 0, NULL);
	CHECK(json_object_get(b, "in_reply_to_id") == NULL);
	json_decref(b);

	/* 429: retry when the window reopens. */
	h->next_status = 429;
	h->next_body = "{\"error\":\"Too many requests\"}";
	h->next_retry_after_ms = 1780272060000LL;
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), NULL) == CRIER_RETRY);
	CHECK(d.retry_after_ms == 1780272060000LL);
	CHECK_STR(d.error, "HTTP 429: Too many requests");
	h->next_retry_after_ms = 0;
	/* 5xx and no answer: retry. */
	h->next_status = 503;
	h->next_body = "<html>busy</html>";
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), NULL) == CRIER_RETRY);
	h->next_rc = -1;
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), NULL) == CRIER_RETRY);
	CHECK_STR(d.error, "Operation timed out");
	h->next_rc = 0;
	/* 4xx: fail with Mastodon's words, never the token. */
	h->next_status = 422;
	h->next_body = "{\"error\":\"Validation failed: Text character limit of 500 exceeded\"}";
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), NULL) == CRIER_FAIL);
	CHECK_STR(d.error, "HTTP 422: Validation failed: Text character limit of 500 exceeded");
	h->next_status = 401;
	h->next_body = "{\"error\":\"The access token " TOKEN " is invalid\"}";
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), NULL) == CRIER_FAIL);
	CHECK_STR(d.error, "HTTP 401: The access token [redacted] is invalid");
	h->next_status = 404;
	h->next_body = "{\"error\":\"Record not found\"}";
	CHECK(run(p, inst, &d, approved("social/mastodon", "x"), "{\"status_id\":\"1\"}") == CRIER_FAIL);
	CHECK_STR(d.error, "HTTP 404: Record not found");
	free(d.new_state);
	p->destroy(inst);
}

int main(void)
{
	void *dl = NULL;
	crier_host h = {.name = "social/mastodon"};
	const crier_plugin *p = load(&dl);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->name, "social");
		test_config(p, &h);
		test_drafting(p, &h);
		h.name = "social/mastodon";
		test_publishing(p, &h);
	}
	if (dl)
		dlclose(dl);
	return check_summary("test_social");
}
