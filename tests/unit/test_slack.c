/* The slack plugin, loaded from its built .so (from $CRIER_PLUGIN_DIR, else
 * $CRIER_BUILD/plugins, else build/plugins) and driven through a fake host
 * table whose HTTP answers are scripted. Templates are the repository's
 * conf.d/templates/slack/, compiled and rendered with core/mustache.c, and
 * text is fitted with core/text.c, as crierd does. */
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

#define MAX_CALLS   8
#define TOKEN       "xoxb-SECRET-TOKEN-123"
#define HOOK_PATH   "/services/T000/B000/SECRETHOOK"
#define API_CONFIG  "{\"token\": \"" TOKEN "\", \"channel\": \"#ops\", \"api_base\": \"http://fake/api/\"}"
#define HOOK_CONFIG "{\"webhook_url\": \"http://fake" HOOK_PATH "\"}"

/* ---- the fake host ---- */

struct scripted {
	int rc; /* -1: transport error */
	long status;
	const char *body;
	int64_t retry_after_ms;
};

struct call {
	char url[128];
	char auth[128];
	char content_type[128];
	json_t *body; /* the request body, parsed */
};

struct crier_host {
	char config_dir[512];
	char log[4096]; /* every log line, appended */
	struct scripted script[MAX_CALLS];
	int n_script, next;
	struct call calls[MAX_CALLS];
	int n_calls;
};

struct crier_delivery {
	const char *json;
	const char *state;
	char new_state[512];
	int set_state_calls;
	char error[512];
	int64_t retry_after_ms;
};

struct crier_template {
	mustache *m;
	char dir[600];
};

static void fake_log(crier_host *h, crier_log_level level, const char *msg)
{
	(void)level;
	strncat(h->log, msg, sizeof(h->log) - strlen(h->log) - 2);
	strcat(h->log, "\n");
}

static int64_t fake_now_ms(void)
{
	return 1780272000000LL;
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
	snprintf(d->new_state, sizeof(d->new_state), "%s", state);
	d->set_state_calls++;
	return 0;
}

static void fake_retry_after(crier_delivery *d, int64_t not_before_ms)
{
	d->retry_after_ms = not_before_ms;
}

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
}

static int fake_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	struct call *c = &h->calls[h->n_calls < MAX_CALLS ? h->n_calls : MAX_CALLS - 1];
	struct scripted s = h->next < h->n_script ? h->script[h->next] : (struct scripted){.rc = -1};

	h->next++;
	if (h->n_calls < MAX_CALLS)
		h->n_calls++;
	json_decref(c->body);
	memset(c, 0, sizeof(*c));
	snprintf(c->url, sizeof(c->url), "%s", req->url);
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, "Authorization") == 0)
			snprintf(c->auth, sizeof(c->auth), "%s", req->headers[i].value);
		if (strcasecmp(req->headers[i].name, "Content-Type") == 0)
			snprintf(c->content_type, sizeof(c->content_type), "%s", req->headers[i].value);
	}
	c->body = json_loadb(req->body, req->body_len, 0, NULL);

	memset(resp, 0, sizeof(*resp));
	if (s.rc != 0) {
		snprintf(resp->error, sizeof(resp->error), "Connection timed out after 10000 milliseconds");
		return -1;
	}
	resp->status = s.status;
	resp->body = strdup(s.body ? s.body : "");
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	resp->retry_after_ms = s.retry_after_ms;
	return 0;
}

static void fake_http_response_free(crier_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

static const char *fake_config_dir(const crier_host *h)
{
	return h->config_dir;
}

static char *partial(void *ctx, const char *name)
{
	char path[800];
	snprintf(path, sizeof(path), "%s/%s.mustache", (const char *)ctx, name);
	return mustache_read(path, NULL, NULL);
}

/* As the host does: <config_dir>/templates/slack/<name>.mustache, or the
 * override's text (the tests use no "file:" overrides). */
static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	crier_template *t = calloc(1, sizeof(*t));
	char path[700], *text;

	if (!t)
		return NULL;
	snprintf(t->dir, sizeof(t->dir), "%s/templates/slack", h->config_dir);
	snprintf(path, sizeof(path), "%s/%s.mustache", t->dir, name);
	text = src ? strdup(src) : mustache_read(path, NULL, NULL);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read %s", name, path);
		free(t);
		return NULL;
	}
	t->m = mustache_compile(name, text, strlen(text), err, errlen);
	free(text);
	if (!t->m) {
		free(t);
		return NULL;
	}
	return t;
}

static char *fake_template_render(const crier_template *t, const char *ctx_json, crier_escape esc, char *err,
                                  size_t errlen)
{
	json_t *ctx = json_loads(ctx_json, 0, NULL);
	char *out;

	if (!ctx) {
		snprintf(err, errlen, "context is not JSON");
		return NULL;
	}
	out = mustache_render(t->m, ctx, esc, partial, (void *)t->dir, err, errlen);
	json_decref(ctx);
	return out;
}

static void fake_template_free(crier_template *t)
{
	if (t)
		mustache_free(t->m);
	free(t);
}

static const crier_host_api fake_api = {
    .abi_version = CRIER_ABI_VERSION,
    .log = fake_log,
    .now_ms = fake_now_ms,
    .delivery_json = fake_delivery_json,
    .delivery_state = fake_delivery_state,
    .set_state = fake_set_state,
    .retry_after = fake_retry_after,
    .set_error = fake_set_error,
    .http_request = fake_http_request,
    .http_response_free = fake_http_response_free,
    .config_dir = fake_config_dir,
    .template_load = fake_template_load,
    .template_render = fake_template_render,
    .template_free = fake_template_free,
    .text_measure = text_measure,
    .text_fit = text_fit,
};

/* ---- helpers ---- */

static const crier_plugin *load(void **dl)
{
	const char *dir = getenv("CRIER_PLUGIN_DIR"), *build = getenv("CRIER_BUILD");
	char path[1024];
	crier_plugin_negotiate_fn negotiate;

	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/slack.so", dir);
	else
		snprintf(path, sizeof(path), "%s/plugins/slack.so", build && *build ? build : "build");
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "test_slack: cannot load %s (%s); build the plugins first (make)\n", path, dlerror());
		return NULL;
	}
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	return negotiate ? negotiate(1, CRIER_ABI_VERSION) : NULL;
}

static void reset(crier_host *h)
{
	for (int i = 0; i < MAX_CALLS; i++)
		json_decref(h->calls[i].body);
	memset(h->calls, 0, sizeof(h->calls));
	h->n_calls = h->n_script = h->next = 0;
	h->log[0] = '\0';
}

static void answer(crier_host *h, long status, const char *body, int64_t retry_after_ms)
{
	h->script[h->n_script++] = (struct scripted){.status = status, .body = body, .retry_after_ms = retry_after_ms};
}

/* A new script whose first answer this is. */
static void first_answer(crier_host *h, long status, const char *body, int64_t retry_after_ms)
{
	reset(h);
	answer(h, status, body, retry_after_ms);
}

/* Deliver event ev, with the incident's state (or NULL), into *d. */
static crier_result go(const crier_plugin *p, crier_instance *inst, crier_delivery *d, const char *ev,
                       const char *state)
{
	*d = (crier_delivery){.json = ev, .state = state};
	return p->deliver(inst, d);
}

static const char *str(const struct call *c, const char *key)
{
	return json_string_value(json_object_get(c->body, key));
}

static int has(const char *s, const char *needle)
{
	return s && strstr(s, needle) != NULL;
}

static int no_secret(const crier_host *h, const crier_delivery *d)
{
	return !has(h->log, "SECRET") && !has(d->error, "SECRET");
}

/* An event of incident 3 ("API 5xx above 5%"). */
static char *event(const char *type, const char *state, const char *alert_description)
{
	json_t *e = json_pack("{sisssss{sissssssss}s{ssss}s{sb}}", "id", 17, "type", type, "actor", "alertmanager",
	                      "incident", "id", 3, "title", "API 5xx above 5%", "state", state, "severity", "critical",
	                      "key", "service=api", "links", "status_page", "https://status.example.com/", "incident",
	                      "https://status.example.com/incidents/3.html?a=1&b=2", "is", type, 1);
	char *s;

	json_object_set_new(json_object_get(e, "incident"), "alerts_firing", json_integer(2));
	if (alert_description)
		json_object_set_new(e, "alert",
		                    json_pack("{s{ssss}s{ssss}ss}", "labels", "alertname", "HighErrorRate", "instance",
		                              "api-2", "annotations", "summary", "API 5xx above 5%", "description",
		                              alert_description, "link", "http://prom:9090/graph?g0.expr=x&g0.tab=1"));
	s = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return s;
}

#define ROOT_STATE "{\"channel\":\"C0OPS\",\"ts\":\"1780272000.000001\"}"
#define OK_ROOT    "{\"ok\":true,\"channel\":\"C0OPS\",\"ts\":\"1780272000.000001\",\"message\":{}}"
#define OK_REPLY   "{\"ok\":true,\"channel\":\"C0OPS\",\"ts\":\"1780272000.000002\",\"message\":{}}"
#define OK_UPDATE  "{\"ok\":true,\"channel\":\"C0OPS\",\"ts\":\"1780272000.000001\",\"text\":\"x\"}"

static crier_instance *make(const crier_plugin *p, crier_host *h, const char *config)
{
	crier_instance *inst = NULL;
	char err[256] = "";

	if (p->init(&fake_api, h, config, &inst, err, sizeof(err)) != 0) {
		fprintf(stderr, "init failed: %s\n", err);
		return NULL;
	}
	return inst;
}

/* ---- tests ---- */

static void init_fails(const crier_plugin *p, crier_host *h, const char *config, const char *want)
{
	crier_instance *inst = (crier_instance *)h;
	char err[256] = "";

	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	CHECK_STR(err, want);
	CHECK(!has(err, "SECRET"));
}

static void test_config(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst;

	init_fails(p, h, "{}", "set \"webhook_url\" (incoming webhook) or \"token\" and \"channel\" (Web API)");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\"}",
	           "missing required key \"channel\" (the Web API needs it with \"token\")");
	init_fails(p, h, "{\"webhook_url\": \"https://hooks/SECRET\", \"token\": \"xoxb-SECRET\", \"channel\": \"C1\"}",
	           "\"webhook_url\" (incoming webhook) cannot be combined with \"token\", \"channel\" or \"api_base\" "
	           "(Web API)");
	init_fails(p, h, "{\"webhook_url\": \"ftp://hooks/SECRET\"}",
	           "\"webhook_url\" must be a string starting with http:// or https://, without spaces");
	init_fails(p, h, "{\"token\": \"xoxb SECRET\", \"channel\": \"C1\"}",
	           "\"token\" must be a non-empty string without spaces");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\", \"channel\": \"\"}",
	           "\"channel\" must be a channel ID (C0123ABC) or name (#ops), without spaces");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\", \"channel\": \"C1\", \"api_base\": \"slack.com\"}",
	           "\"api_base\" must start with http:// or https://");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\", \"channel\": \"C1\", \"timeout_ms\": 0}",
	           "\"timeout_ms\" must be an integer from 1 to 300000");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\", \"channel\": \"C1\", \"chanel\": \"C1\"}",
	           "unknown key \"chanel\"; known keys: webhook_url, token, channel, api_base, timeout_ms, templates");
	init_fails(p, h, "{\"token\": \"xoxb-SECRET\", \"channel\": \"C1\", \"templates\": {\"message\": \"x\"}}",
	           "templates: \"message\" is not a template of the Web API mode; it has root and reply");
	init_fails(p, h, "{\"webhook_url\": \"https://hooks/SECRET\", \"templates\": {\"root\": \"x\"}}",
	           "templates: \"root\" is not a template of the webhook mode; it has message");
	init_fails(p, h, "{\"webhook_url\": \"https://hooks/SECRET\", \"templates\": {\"message\": 1}}",
	           "templates: \"message\" must be a string (the template, or \"file:PATH\")");
	init_fails(p, h, "{\"webhook_url\": \"https://hooks/SECRET\", \"templates\": {\"message\": \"{{#a}}\"}}",
	           "message: line 1: unclosed section \"a\"");
	init_fails(p, h, "{\"webhook_url\": \"https://hooks/SECRET\"",
	           "configuration is not valid JSON (line 1, column 38)");

	inst = make(p, h, API_CONFIG);
	CHECK(inst != NULL);
	p->destroy(inst);
	inst = make(p, h, HOOK_CONFIG);
	CHECK(inst != NULL);
	p->destroy(inst);
}

static void test_first_event_posts_root(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, API_CONFIG);
	char *ev = event("opened", "investigating", "Error rate 12% on api-2");
	crier_delivery d;
	const char *text;

	first_answer(h, 200, OK_ROOT, 0);
	CHECK(go(p, inst, &d, ev, NULL) == CRIER_OK);
	CHECK(h->n_calls == 1);
	CHECK_STR(h->calls[0].url, "http://fake/api/chat.postMessage");
	CHECK_STR(h->calls[0].auth, "Bearer " TOKEN);
	CHECK_STR(h->calls[0].content_type, "application/json; charset=utf-8");
	CHECK_STR(str(&h->calls[0], "channel"), "#ops");
	CHECK(json_object_get(h->calls[0].body, "thread_ts") == NULL);
	CHECK(json_is_false(json_object_get(h->calls[0].body, "unfurl_links")));
	text = str(&h->calls[0], "text");
	CHECK_STR(text, ":red_circle: *API 5xx above 5%*\n*Investigating* · Critical · alerts firing: 2\n"
	                "<https://status.example.com/incidents/3.html?a=1&amp;b=2|View status page>");
	/* The state holds the channel ID from the answer, not the configured name. */
	CHECK(d.set_state_calls == 1);
	CHECK_STR(d.new_state, ROOT_STATE);
	p->destroy(inst);
	free(ev);
}

static void test_later_events_thread(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, API_CONFIG);
	char *ev = event("alert_joined", "investigating", "<!channel> & <script>alert(1)</script>");
	char *res = event("resolved", "resolved", NULL);
	crier_delivery d;
	const char *text;

	/* The root is updated first (idempotent), then the reply goes under it. */
	first_answer(h, 200, OK_UPDATE, 0);
	answer(h, 200, OK_REPLY, 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_OK);
	CHECK(h->n_calls == 2);
	CHECK_STR(h->calls[0].url, "http://fake/api/chat.update");
	CHECK_STR(str(&h->calls[0], "channel"), "C0OPS");
	CHECK_STR(str(&h->calls[0], "ts"), "1780272000.000001");
	CHECK(has(str(&h->calls[0], "text"), "*Investigating*"));
	CHECK_STR(h->calls[1].url, "http://fake/api/chat.postMessage");
	CHECK_STR(str(&h->calls[1], "channel"), "C0OPS");
	CHECK_STR(str(&h->calls[1], "thread_ts"), "1780272000.000001");
	CHECK(json_object_get(h->calls[1].body, "reply_broadcast") == NULL);
	text = str(&h->calls[1], "text");
	CHECK_STR(text,
	          ":heavy_plus_sign: *Another alert is firing*\n"
	          "HighErrorRate on api-2: API 5xx above 5% · <http://prom:9090/graph?g0.expr=x&amp;g0.tab=1|Source>\n"
	          "> &lt;!channel&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;\n"
	          "<https://status.example.com/incidents/3.html?a=1&amp;b=2|View status page>");
	CHECK(!has(text, "<!channel>"));
	CHECK(d.set_state_calls == 0);

	/* The resolve reply is broadcast to the channel; the root shows it. */
	first_answer(h, 200, OK_UPDATE, 0);
	answer(h, 200, OK_REPLY, 0);
	CHECK(go(p, inst, &d, res, ROOT_STATE) == CRIER_OK);
	CHECK(h->n_calls == 2);
	CHECK(has(str(&h->calls[0], "text"), ":large_green_circle: *API 5xx above 5%*\n*Resolved*"));
	CHECK(json_is_true(json_object_get(h->calls[1].body, "reply_broadcast")));
	CHECK(has(str(&h->calls[1], "text"), ":white_check_mark: *Resolved*"));
	p->destroy(inst);
	free(ev);
	free(res);
}

/* A delivery whose first call gets one answer (status 0: a transport error). */
struct one_answer {
	const char *state;
	long status;
	const char *body;
	crier_result want;
	const char *error;
};

static void one_answer_cases(const crier_plugin *p, crier_instance *inst, crier_host *h, const char *ev,
                             const struct one_answer *c, size_t n)
{
	crier_delivery d;

	for (size_t i = 0; i < n; i++) {
		if (c[i].status)
			first_answer(h, c[i].status, c[i].body, 0);
		else
			reset(h);
		CHECK(go(p, inst, &d, ev, c[i].state) == c[i].want);
		CHECK_STR(d.error, c[i].error);
		CHECK(d.set_state_calls == 0);
		CHECK(no_secret(h, &d));
		if (strcmp(d.error, c[i].error) != 0)
			fprintf(stderr, "  (case %zu)\n", i);
	}
}

static const struct one_answer web_api_cases[] = {
    {ROOT_STATE, 200, "{\"ok\":false,\"error\":\"ratelimited\"}", CRIER_RETRY, "chat.update: ratelimited"},
    {NULL, 200, "{\"ok\":false,\"error\":\"internal_error\"}", CRIER_RETRY, "chat.postMessage: internal_error"},
    {NULL, 0, NULL, CRIER_RETRY, "chat.postMessage: Connection timed out after 10000 milliseconds"},
    {NULL, 200, "<html>captive portal</html>", CRIER_RETRY, "chat.postMessage: HTTP 200 without a JSON answer"},
    {NULL, 200, "{\"ok\":false,\"error\":\"invalid_auth\"}", CRIER_FAIL, "chat.postMessage: invalid_auth"},
    {NULL, 200, "{\"ok\":false,\"error\":\"not_in_channel\"}", CRIER_FAIL, "chat.postMessage: not_in_channel"},
    {NULL, 200, "{\"ok\":false,\"error\":\"missing_scope\",\"needed\":\"chat:write\",\"provided\":\"x\"}", CRIER_FAIL,
     "chat.postMessage: missing_scope (needed: chat:write)"},
    {NULL, 200, "{\"ok\":false,\"error\":\"bad token " TOKEN " here\"}", CRIER_FAIL,
     "chat.postMessage: ok:false without an error"},
    {ROOT_STATE, 404, "<html>not found</html>", CRIER_FAIL, "chat.update: HTTP 404"},
    {ROOT_STATE, 503, "", CRIER_RETRY, "chat.update: HTTP 503"},
};

static const struct one_answer webhook_cases[] = {
    {NULL, 404, "no_service", CRIER_FAIL, "webhook: HTTP 404 no_service"},
    {NULL, 410, "channel_is_archived\n", CRIER_FAIL, "webhook: HTTP 410 channel_is_archived"},
    {NULL, 400, "invalid_payload", CRIER_FAIL, "webhook: HTTP 400 invalid_payload"},
    {NULL, 403, "no route for " HOOK_PATH, CRIER_FAIL, "webhook: HTTP 403"},
    {NULL, 500, "rollup_error", CRIER_RETRY, "webhook: HTTP 500 rollup_error"},
    {NULL, 0, NULL, CRIER_RETRY, "webhook: Connection timed out after 10000 milliseconds"},
};

static void test_web_api_failures(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, API_CONFIG);
	char *ev = event("alert_joined", "investigating", "d");
	crier_delivery d;

	/* 429 on the update: retry after Retry-After, and no reply yet. */
	first_answer(h, 429, "{\"ok\":false,\"error\":\"ratelimited\"}", 1780272030000LL);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_RETRY);
	CHECK(h->n_calls == 1);
	CHECK_STR(d.error, "chat.update: HTTP 429 ratelimited");
	CHECK(d.retry_after_ms == 1780272030000LL);

	/* The update went through, the reply got a 500: retry (the update is
	 * harmless to repeat). */
	first_answer(h, 200, OK_UPDATE, 0);
	answer(h, 500, "{\"ok\":false,\"error\":\"internal_error\"}", 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_RETRY);
	CHECK(h->n_calls == 2);
	CHECK_STR(d.error, "chat.postMessage: HTTP 500 internal_error");
	CHECK(d.set_state_calls == 0);

	/* One answer each. ok:false at HTTP 200 is retried only for Slack's
	 * transient codes; an error that is not a code is not quoted. */
	one_answer_cases(p, inst, h, ev, web_api_cases, sizeof(web_api_cases) / sizeof(web_api_cases[0]));

	/* A root answer without ts cannot be threaded under: fail, not retry
	 * (a retry would post the root twice). */
	first_answer(h, 200, "{\"ok\":true}", 0);
	CHECK(go(p, inst, &d, ev, NULL) == CRIER_FAIL);
	CHECK(d.set_state_calls == 0);

	/* A state that is not ours: start a new thread. */
	first_answer(h, 200, OK_ROOT, 0);
	CHECK(go(p, inst, &d, ev, "{\"thread\":1}") == CRIER_OK);
	CHECK(h->n_calls == 1);
	CHECK(json_object_get(h->calls[0].body, "thread_ts") == NULL);
	CHECK_STR(d.new_state, ROOT_STATE);
	CHECK(has(h->log, "unreadable thread state"));
	p->destroy(inst);
	free(ev);
}

static void test_lost_root(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, API_CONFIG);
	char *ev = event("alert_joined", "investigating", "d");
	crier_delivery d;

	/* The root was deleted: a new root, the reply under it, the state replaced. */
	first_answer(h, 200, "{\"ok\":false,\"error\":\"message_not_found\"}", 0);
	answer(h, 200, "{\"ok\":true,\"channel\":\"C0OPS\",\"ts\":\"1780272100.000009\"}", 0);
	answer(h, 200, OK_REPLY, 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_OK);
	CHECK(h->n_calls == 3);
	CHECK_STR(h->calls[1].url, "http://fake/api/chat.postMessage");
	CHECK_STR(str(&h->calls[1], "channel"), "#ops");
	CHECK(json_object_get(h->calls[1].body, "thread_ts") == NULL);
	CHECK_STR(str(&h->calls[2], "thread_ts"), "1780272100.000009");
	CHECK_STR(d.new_state, "{\"channel\":\"C0OPS\",\"ts\":\"1780272100.000009\"}");
	CHECK(has(h->log, "cannot be updated (message_not_found)"));

	/* ...and when the reply then fails, the new root is kept (ok): a retry
	 * would post yet another root. */
	first_answer(h, 200, "{\"ok\":false,\"error\":\"cant_update_message\"}", 0);
	answer(h, 200, "{\"ok\":true,\"channel\":\"C0OPS\",\"ts\":\"1780272100.000010\"}", 0);
	answer(h, 500, "", 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_OK);
	CHECK_STR(d.new_state, "{\"channel\":\"C0OPS\",\"ts\":\"1780272100.000010\"}");
	CHECK(has(h->log, "not the reply to it (chat.postMessage: HTTP 500)"));

	/* Other update errors are the delivery's. */
	first_answer(h, 200, "{\"ok\":false,\"error\":\"channel_not_found\"}", 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_FAIL);
	CHECK(h->n_calls == 1);
	CHECK_STR(d.error, "chat.update: channel_not_found");
	p->destroy(inst);
	free(ev);
}

static void test_text(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, API_CONFIG);
	const char *word = "d\xc3\xa9j\xc3\xa0 vu "; /* "déjà vu ": 8 code points, 10 bytes */
	size_t n = 2500, wl = strlen(word);
	char *long_desc = malloc(n * wl + 1), *ev;
	crier_delivery d;
	const char *text;
	json_t *e;

	for (size_t i = 0; long_desc && i < n; i++)
		memcpy(long_desc + i * wl, word, wl + 1);
	ev = event("alert_joined", "investigating", "x");
	e = json_loads(ev, 0, NULL);
	free(ev);
	json_object_set_new(json_object_get(json_object_get(e, "alert"), "annotations"), "description",
	                    json_string(long_desc ? long_desc : ""));
	ev = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	first_answer(h, 200, OK_UPDATE, 0);
	answer(h, 200, OK_REPLY, 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_OK);
	text = str(&h->calls[1], "text");
	CHECK(text && text_measure(text, CRIER_MEASURE_CODEPOINTS) <= 4000);
	CHECK(text && text_measure(text, CRIER_MEASURE_CODEPOINTS) > 3800);
	/* The link survives the cut, whole, at the end. */
	CHECK(has(text, "… <https://status.example.com/incidents/3.html?a=1&amp;b=2|View status page>"));

	/* A template that renders nothing skips the reply; the root is still updated. */
	p->destroy(inst);
	inst = make(p, h,
	            "{\"token\": \"" TOKEN "\", \"channel\": \"C0OPS\", \"api_base\": \"http://fake/api\","
	            " \"templates\": {\"reply\": \"{{#is.resolved}}Done.{{/is.resolved}}\\n\"}}");
	first_answer(h, 200, OK_UPDATE, 0);
	CHECK(go(p, inst, &d, ev, ROOT_STATE) == CRIER_OK);
	CHECK(h->n_calls == 1);
	CHECK_STR(h->calls[0].url, "http://fake/api/chat.update");
	p->destroy(inst);
	free(ev);
	free(long_desc);
}

static void test_webhook(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = make(p, h, HOOK_CONFIG);
	char *ev = event("opened", "investigating", "Error rate 12% <b>");
	crier_delivery d;

	first_answer(h, 200, "ok", 0);
	CHECK(go(p, inst, &d, ev, NULL) == CRIER_OK);
	CHECK(h->n_calls == 1);
	CHECK_STR(h->calls[0].url, "http://fake" HOOK_PATH);
	CHECK_STR(h->calls[0].auth, "");
	CHECK_STR(str(&h->calls[0], "text"),
	          ":red_circle: *API 5xx above 5%* · Investigating · Critical\n"
	          ":rotating_light: *Opened*\n"
	          "HighErrorRate on api-2: API 5xx above 5% · <http://prom:9090/graph?g0.expr=x&amp;g0.tab=1|Source>\n"
	          "> Error rate 12% &lt;b&gt;\n"
	          "<https://status.example.com/incidents/3.html?a=1&amp;b=2|View status page>");
	CHECK(d.set_state_calls == 0);

	first_answer(h, 429, "rate_limited", 1780272005000LL);
	CHECK(go(p, inst, &d, ev, NULL) == CRIER_RETRY);
	CHECK_STR(d.error, "webhook: HTTP 429 rate_limited");
	CHECK(d.retry_after_ms == 1780272005000LL);

	one_answer_cases(p, inst, h, ev, webhook_cases, sizeof(webhook_cases) / sizeof(webhook_cases[0]));
	p->destroy(inst);
	free(ev);
}

int main(void)
{
	void *dl = NULL;
	const crier_plugin *p = load(&dl);
	crier_host *h = calloc(1, sizeof(*h));
	const char *src = __FILE__;
	const char *slash = strstr(src, "tests/unit/");

	CHECK(p != NULL);
	CHECK(h != NULL);
	if (p && h) {
		/* The repository's conf.d, found from this file's path (make builds
		 * from the root, so __FILE__ is relative to it). */
		snprintf(h->config_dir, sizeof(h->config_dir), "%.*sconf.d", slash ? (int)(slash - src) : 0, src);
		CHECK_STR(p->name, "slack");
		test_config(p, h);
		test_first_event_posts_root(p, h);
		test_later_events_thread(p, h);
		test_web_api_failures(p, h);
		test_lost_root(p, h);
		test_text(p, h);
		test_webhook(p, h);
		reset(h);
	}
	free(h);
	if (dl)
		dlclose(dl);
	return check_summary("test_slack");
}
