/*
 * The "slack" plugin: tells a Slack channel about incidents, in one of two
 * modes chosen by the configuration.
 *
 *   webhook_url        an incoming webhook: one self-contained message per
 *                      event (a webhook answers no ts, so nothing threads).
 *   token + channel    the Web API: one root message per incident, kept up
 *                      to date with chat.update, and one thread reply per
 *                      later event. The root's channel ID and ts are the
 *                      per-incident state.
 *
 * The webhook URL and the token are secrets: they never reach a log line or
 * an error text. Error texts carry Slack's error code only, after checking
 * that it looks like one.
 */
#include <crier/plugin.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_API_BASE   "https://slack.com/api"
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS     300000
#define USER_AGENT         "crier/0.1"
#define CONTENT_TYPE       "application/json; charset=utf-8"

/* Slack truncates text above 40,000 characters and advises staying under
 * 4,000; longer messages are also hard to read on a phone. */
#define TEXT_LIMIT 4000

/* Slack's error codes are short snake_case words; anything else in an
 * answer is not quoted (it could echo what we sent). */
#define CODE_MAX 64

/* The Web API mode's templates, then the webhook mode's. */
enum { T_ROOT, T_REPLY, T_MESSAGE, N_TEMPLATES };
static const char *const template_names[N_TEMPLATES] = {"root", "reply", "message"};

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char *webhook_url;         /* new; a secret; set in webhook mode only */
	char *auth;                /* new; "Bearer <token>", a secret; Web API mode only */
	char *channel;             /* new; where roots go (ID or name); Web API mode only */
	char *post_url;            /* new; <api_base>/chat.postMessage; Web API mode only */
	char *update_url;          /* new; <api_base>/chat.update; Web API mode only */
	long timeout_ms;
	crier_template *tpl[N_TEMPLATES]; /* new; the templates of the instance's mode, others NULL */
};

/* What one request to Slack came to. */
struct answer {
	crier_result res;
	json_t *json;           /* new; the Web API's answer when res is CRIER_OK, else NULL */
	char code[CODE_MAX];    /* Slack's error code, "" when it gave none */
	char why[320];          /* for set_error and the log; never holds a secret */
	int64_t retry_after_ms; /* from Retry-After, 0 if none */
};

/* ok:false codes that say "try again later"; every other code is a request
 * or setup that will keep failing (auth, scopes, channel, arguments). */
static const char *const retry_codes[] = {"ratelimited",         "rate_limited",    "internal_error",   "fatal_error",
                                          "service_unavailable", "request_timeout", "team_added_to_org"};

/* chat.update codes that mean the root is gone or frozen: start a new one. */
static const char *const lost_root_codes[] = {"message_not_found", "cant_update_message", "edit_window_closed"};

/* A value that goes into a URL or a header as is: no spaces or controls. */
static int is_clean(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int is_http_url(const char *s)
{
	return (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) && is_clean(s);
}

/* Copy a code from an answer into out when it looks like a Slack error code
 * (letters, digits, _ . - :), else leave out empty. */
static void copy_code(char *out, size_t size, const char *s, size_t len)
{
	out[0] = '\0';
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= size)
		return;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-' || c == ':'))
			return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* ---- configuration ---------------------------------------------------- */

/* The keys of a configuration, borrowed from its JSON. */
struct settings {
	const char *webhook_url, *token, *channel, *api_base;
	json_t *templates;
};

static int read_settings(crier_instance *inst, json_t *root, struct settings *s, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v)
	{
		const char *str = json_string_value(v);
		if (strcmp(key, "webhook_url") == 0) {
			/* Never quote it: the URL is the credential. */
			if (!str || !is_http_url(str))
				return crier_fail(
				    err, errlen,
				    "\"webhook_url\" must be a string starting with http:// or https://, without "
				    "spaces");
			s->webhook_url = str;
		} else if (strcmp(key, "token") == 0) {
			if (!str || !is_clean(str))
				return crier_fail(err, errlen, "\"token\" must be a non-empty string without spaces");
			s->token = str;
		} else if (strcmp(key, "channel") == 0) {
			if (!str || !is_clean(str))
				return crier_fail(
				    err, errlen,
				    "\"channel\" must be a channel ID (C0123ABC) or name (#ops), without spaces");
			s->channel = str;
		} else if (strcmp(key, "api_base") == 0) {
			if (!str || !is_http_url(str))
				return crier_fail(err, errlen, "\"api_base\" must start with http:// or https://");
			s->api_base = str;
		} else if (strcmp(key, "timeout_ms") == 0) {
			if (crier_json_int(v, key, 1, MAX_TIMEOUT_MS, &inst->timeout_ms, err, errlen) != 0)
				return -1;
		} else if (strcmp(key, "templates") == 0) {
			if (!json_is_object(v))
				return crier_fail(err, errlen,
				                  "\"templates\" must be an object of template name to text");
			s->templates = v;
		} else {
			return crier_fail(
			    err, errlen,
			    "unknown key \"%s\"; known keys: webhook_url, token, channel, api_base, timeout_ms, "
			    "templates",
			    key);
		}
	}
	if (s->webhook_url && (s->token || s->channel || s->api_base))
		return crier_fail(
		    err, errlen,
		    "\"webhook_url\" (incoming webhook) cannot be combined with \"token\", \"channel\" or "
		    "\"api_base\" (Web API)");
	if (!s->webhook_url && !s->token)
		return crier_fail(err, errlen,
		                  "set \"webhook_url\" (incoming webhook) or \"token\" and \"channel\" (Web API)");
	if (s->token && !s->channel)
		return crier_fail(err, errlen,
		                  "missing required key \"channel\" (the Web API needs it with \"token\")");
	return 0;
}

/* Load the templates of the instance's mode, each from its override in
 * "templates" when there is one. */
static int load_templates(crier_instance *inst, json_t *overrides, char *err, size_t errlen)
{
	int web_api = inst->webhook_url == NULL;
	size_t first = web_api ? T_ROOT : T_MESSAGE, n = web_api ? T_MESSAGE - T_ROOT : N_TEMPLATES - T_MESSAGE;
	const char *name;
	json_t *v;

	json_object_foreach(overrides, name, v)
	{
		if (crier_lookup(name, template_names + first, n) < 0)
			return crier_fail(err, errlen, "templates: \"%s\" is not a template of %s; it has %s", name,
			                  web_api ? "the Web API mode" : "the webhook mode",
			                  web_api ? "root and reply" : "message");
		if (!json_is_string(v))
			return crier_fail(err, errlen,
			                  "templates: \"%s\" must be a string (the template, or \"file:PATH\")", name);
	}
	if (crier_templates_load(inst->api, inst->host, overrides, template_names + first, n, inst->tpl + first, err,
	                         errlen) != n)
		return -1;
	return 0;
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	struct settings s = {0};
	json_t *root;
	int ret = -1;

	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (read_settings(inst, root, &s, err, errlen) != 0)
		goto out;
	if (s.webhook_url) {
		inst->webhook_url = strdup(s.webhook_url);
		if (!inst->webhook_url) {
			crier_fail(err, errlen, "out of memory");
			goto out;
		}
	} else {
		char base[512];
		size_t n = strlen(s.api_base ? s.api_base : DEFAULT_API_BASE);
		if (n >= sizeof(base)) {
			crier_fail(err, errlen, "\"api_base\" is longer than %zu bytes", sizeof(base) - 1);
			goto out;
		}
		memcpy(base, s.api_base ? s.api_base : DEFAULT_API_BASE, n + 1);
		while (n > 0 && base[n - 1] == '/')
			base[--n] = '\0';
		inst->auth = join("Bearer ", s.token);
		inst->channel = strdup(s.channel);
		inst->post_url = join(base, "/chat.postMessage");
		inst->update_url = join(base, "/chat.update");
		if (!inst->auth || !inst->channel || !inst->post_url || !inst->update_url) {
			crier_fail(err, errlen, "out of memory");
			goto out;
		}
	}
	ret = load_templates(inst, s.templates, err, errlen);
out:
	json_decref(root);
	return ret;
}

static void slack_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	for (int i = 0; i < N_TEMPLATES; i++)
		if (inst->tpl[i])
			inst->api->template_free(inst->tpl[i]);
	free(inst->webhook_url);
	free(inst->auth);
	free(inst->channel);
	free(inst->post_url);
	free(inst->update_url);
	free(inst);
}

static int slack_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                      char *err, size_t errlen)
{
	crier_instance *inst;

	*out = NULL;
	/* Version 2 guarantees every entry this plugin uses. */
	if (!api || api->abi_version < 2)
		return crier_fail(err, errlen, "the host table lacks entries this plugin needs (ABI version 2)");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	if (parse_config(inst, config_json, err, errlen) != 0) {
		slack_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* ---- text ------------------------------------------------------------- */

struct look {
	const char *state, *emoji;
};

/* A status emoji per incident state, so the root says where things stand
 * before anyone reads a word. */
static const struct look looks[] = {
    {"investigating", ":red_circle:"},
    {"identified", ":large_orange_circle:"},
    {"monitoring", ":large_yellow_circle:"},
    {"resolved", ":large_green_circle:"},
};

/* "critical" -> "Critical" (ASCII only: these are crier's own words). */
static json_t *capitalized(const char *s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	if (buf[0] >= 'a' && buf[0] <= 'z')
		buf[0] = (char)(buf[0] - 'a' + 'A');
	return json_string(buf);
}

/* The event, plus what Mustache cannot compute: "slack": {"emoji",
 * "state", "severity"}, the last two capitalized for display. */
static int add_slack_fields(json_t *event)
{
	json_t *incident = json_object_get(event, "incident");
	const char *state = json_string_value(json_object_get(incident, "state"));
	const char *severity = json_string_value(json_object_get(incident, "severity"));
	const char *emoji = ":white_circle:";
	json_t *slack = json_object();

	for (size_t i = 0; state && i < sizeof(looks) / sizeof(looks[0]); i++)
		if (strcmp(state, looks[i].state) == 0)
			emoji = looks[i].emoji;
	if (!slack || json_object_set_new(slack, "emoji", json_string(emoji)) != 0 ||
	    json_object_set_new(slack, "state", capitalized(state)) != 0 ||
	    json_object_set_new(slack, "severity", capitalized(severity)) != 0) {
		json_decref(slack);
		return -1;
	}
	return json_object_set_new(event, "slack", slack);
}

/* The link element "<URL|label>" as a template rendered it for url, or
 * NULL: text_fit keeps it whole when it cuts. */
static char *find_link(const char *text, const char *url)
{
	size_t n = 1;
	char *needle, *q;
	const char *p, *end;

	if (!url || !*url)
		return NULL;
	for (p = url; *p; p++)
		n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
	needle = malloc(n + 1);
	if (!needle)
		return NULL;
	q = needle;
	*q++ = '<';
	/* Rendered with CRIER_ESCAPE_SLACK, the URL's & < > are entities. */
	for (p = url; *p; p++) {
		const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
		if (e) {
			memcpy(q, e, strlen(e));
			q += strlen(e);
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	p = strstr(text, needle);
	end = p ? strchr(p + strlen(needle), '>') : NULL;
	free(needle);
	if (!p || !end || (p[n] != '|' && p[n] != '>'))
		return NULL;
	return strndup(p, (size_t)(end - p) + 1);
}

/*
 * Render template i against the event context and fit it into TEXT_LIMIT
 * code points, keeping the status page link whole. *out is new, or NULL
 * when the template rendered nothing but whitespace (the event is skipped).
 */
static crier_result render(crier_instance *inst, crier_delivery *d, int i, const char *ctx, const char *link,
                           char **out)
{
	const crier_host_api *api = inst->api;
	char err[256], msg[320], *text, *start, *keep;
	size_t n;

	*out = NULL;
	text = api->template_render(inst->tpl[i], ctx, CRIER_ESCAPE_SLACK, err, sizeof(err));
	if (!text) {
		snprintf(msg, sizeof(msg), "template \"%s\": %s", template_names[i], err);
		api->set_error(d, msg);
		return CRIER_FAIL;
	}
	/* Templates end with a newline and skipped sections leave blank lines. */
	start = text + strspn(text, " \t\r\n");
	n = strlen(start);
	while (n > 0 && strchr(" \t\r\n", start[n - 1]))
		n--;
	start[n] = '\0';
	if (n == 0) {
		free(text);
		return CRIER_OK;
	}
	keep = find_link(start, link);
	*out = api->text_fit(start, CRIER_MEASURE_CODEPOINTS, TEXT_LIMIT, keep);
	if (!*out && keep) /* a link longer than the limit: cut through it */
		*out = api->text_fit(start, CRIER_MEASURE_CODEPOINTS, TEXT_LIMIT, NULL);
	free(keep);
	free(text);
	if (!*out) {
		api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	return CRIER_OK;
}

/* ---- HTTP ------------------------------------------------------------- */

static void answer_free(struct answer *a)
{
	json_decref(a->json);
	a->json = NULL;
}

/* The error code in a non-2xx answer: Slack's JSON "error", or the plain
 * text body of an incoming webhook. */
static void body_code(const crier_http_response *resp, char *out, size_t size)
{
	json_t *j;

	out[0] = '\0';
	if (!resp->body || resp->body_len == 0)
		return;
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (j) {
		const char *e = json_string_value(json_object_get(j, "error"));
		if (e)
			copy_code(out, size, e, strlen(e));
		json_decref(j);
		return;
	}
	copy_code(out, size, resp->body, resp->body_len);
}

/* HTTP 200 from the Web API: {"ok":true,...} or {"ok":false,"error":...}. */
static void web_api_answer(const char *what, const crier_http_response *resp, struct answer *a)
{
	json_t *j = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, NULL);
	const char *e;

	if (!json_is_object(j)) {
		/* A proxy or a captive portal, not Slack: worth another try. */
		json_decref(j);
		a->res = CRIER_RETRY;
		snprintf(a->why, sizeof(a->why), "%s: HTTP 200 without a JSON answer", what);
		return;
	}
	if (json_is_true(json_object_get(j, "ok"))) {
		a->res = CRIER_OK;
		a->json = j;
		return;
	}
	e = json_string_value(json_object_get(j, "error"));
	copy_code(a->code, sizeof(a->code), e ? e : "", e ? strlen(e) : 0);
	a->res = crier_lookup(a->code, retry_codes, sizeof(retry_codes) / sizeof(retry_codes[0])) >= 0 ? CRIER_RETRY
	                                                                                               : CRIER_FAIL;
	if (strcmp(a->code, "missing_scope") == 0) {
		char needed[CODE_MAX];
		const char *s = json_string_value(json_object_get(j, "needed"));
		copy_code(needed, sizeof(needed), s ? s : "", s ? strlen(s) : 0);
		snprintf(a->why, sizeof(a->why), "%s: missing_scope%s%s%s", what, needed[0] ? " (needed: " : "", needed,
		         needed[0] ? ")" : "");
	} else {
		snprintf(a->why, sizeof(a->why), "%s: %s", what, a->code[0] ? a->code : "ok:false without an error");
	}
	json_decref(j);
}

/*
 * POST body as JSON to url and classify the answer into *a. what names the
 * call in error texts ("chat.update", "webhook"). web_api: Slack's Web API
 * (bearer token, {"ok":...} answers) rather than an incoming webhook.
 */
static void post(crier_instance *inst, const char *url, const char *what, json_t *body, int web_api, struct answer *a)
{
	const crier_host_api *api = inst->api;
	crier_http_header hdrs[3] = {{"Content-Type", CONTENT_TYPE}, {"User-Agent", USER_AGENT}, {0}};
	crier_http_request req = {0};
	crier_http_response resp;
	char *text = json_dumps(body, JSON_COMPACT);
	int rc;

	memset(a, 0, sizeof(*a));
	if (!text) {
		a->res = CRIER_RETRY;
		snprintf(a->why, sizeof(a->why), "out of memory");
		return;
	}
	if (web_api)
		hdrs[2] = (crier_http_header){"Authorization", inst->auth};
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.n_headers = web_api ? 3 : 2;
	req.body = text;
	req.body_len = strlen(text);
	req.timeout_ms = inst->timeout_ms;

	memset(&resp, 0, sizeof(resp));
	rc = api->http_request(inst->host, &req, &resp);
	free(text);
	if (rc != 0) {
		/* libcurl names the host at most, never the URL's path. */
		a->res = CRIER_RETRY;
		snprintf(a->why, sizeof(a->why), "%s: %s", what, resp.error[0] ? resp.error : "transport error");
	} else if (web_api && resp.status == 200) {
		web_api_answer(what, &resp, a);
	} else if (!web_api && resp.status >= 200 && resp.status < 300) {
		a->res = CRIER_OK;
	} else {
		body_code(&resp, a->code, sizeof(a->code));
		/* Not crier_http_result: a Web API 2xx other than 200 is no answer we know. */
		a->res = crier_http_transient(resp.status) ? CRIER_RETRY : CRIER_FAIL;
		snprintf(a->why, sizeof(a->why), "%s: HTTP %ld%s%s", what, resp.status, a->code[0] ? " " : "", a->code);
	}
	a->retry_after_ms = resp.retry_after_ms;
	api->http_response_free(&resp);
}

/* ---- webhook mode ----------------------------------------------------- */

/* A JSON body with text, links not unfolded into previews: a status page
 * preview under every message buries the message. */
static json_t *message_body(const char *text)
{
	return json_pack("{sssbsb}", "text", text, "unfurl_links", 0, "unfurl_media", 0);
}

static crier_result deliver_webhook(crier_instance *inst, crier_delivery *d, const char *ctx, const char *link)
{
	struct answer a;
	char *text;
	json_t *body;
	crier_result res = render(inst, d, T_MESSAGE, ctx, link, &text);

	if (res != CRIER_OK || !text)
		return res;
	body = message_body(text);
	free(text);
	if (!body) {
		inst->api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	post(inst, inst->webhook_url, "webhook", body, 0, &a);
	json_decref(body);
	return a.res == CRIER_OK ? CRIER_OK : crier_report(inst->api, d, a.res, a.why, a.retry_after_ms);
}

/* ---- Web API mode ----------------------------------------------------- */

/* Where an incident's thread lives. */
struct root {
	char channel[CODE_MAX]; /* always an ID: chat.update takes no names */
	char ts[CODE_MAX];
};

static int root_from_json(json_t *j, struct root *r)
{
	const char *ch = json_string_value(json_object_get(j, "channel"));
	const char *ts = json_string_value(json_object_get(j, "ts"));

	if (!ch || !ts || !*ch || !*ts || strlen(ch) >= sizeof(r->channel) || strlen(ts) >= sizeof(r->ts))
		return -1;
	strcpy(r->channel, ch);
	strcpy(r->ts, ts);
	return 0;
}

/* Post a new root message into the configured channel; on success *r is
 * where it landed and the delivery's state says so. */
static void post_root(crier_instance *inst, crier_delivery *d, const char *text, struct root *r, struct answer *a)
{
	json_t *body = message_body(text), *s;
	char *state;

	if (!body || json_object_set_new(body, "channel", json_string(inst->channel)) != 0) {
		json_decref(body);
		memset(a, 0, sizeof(*a));
		a->res = CRIER_RETRY;
		snprintf(a->why, sizeof(a->why), "out of memory");
		return;
	}
	post(inst, inst->post_url, "chat.postMessage", body, 1, a);
	json_decref(body);
	if (a->res != CRIER_OK)
		return;
	if (root_from_json(a->json, r) != 0) {
		/* Posted, but nothing to thread under; a retry would post it twice. */
		answer_free(a);
		a->res = CRIER_FAIL;
		snprintf(a->why, sizeof(a->why), "chat.postMessage: the answer has no channel or ts");
		return;
	}
	s = json_pack("{ssss}", "channel", r->channel, "ts", r->ts);
	state = s ? json_dumps(s, JSON_COMPACT) : NULL;
	json_decref(s);
	/* Without the state the next event would start a second root: say so. */
	if (!state || inst->api->set_state(d, state) != 0)
		crier_logf(inst->api, inst->host, CRIER_LOG_ERROR,
		           "could not keep the root message's ts %s; the next event will start a new thread", r->ts);
	free(state);
}

static crier_result deliver_web_api(crier_instance *inst, crier_delivery *d, const char *ctx, const char *link,
                                    int resolved)
{
	const crier_host_api *api = inst->api;
	const char *saved = api->delivery_state(d);
	struct root r;
	struct answer a = {0};
	char *root_text = NULL, *reply_text = NULL;
	int new_root = 0, have_root = 0;
	json_t *body = NULL;
	crier_result res;

	if (saved) {
		json_t *j = json_loads(saved, 0, NULL);
		have_root = root_from_json(j, &r) == 0;
		json_decref(j);
		if (!have_root)
			crier_logf(inst->api, inst->host, CRIER_LOG_WARN,
			           "unreadable thread state for this incident; starting a new thread");
	}
	/* Render everything first: a template error must not leave half a delivery behind. */
	res = render(inst, d, T_ROOT, ctx, link, &root_text);
	if (res != CRIER_OK)
		goto out;
	if (!root_text) {
		api->set_error(d, "template \"root\" rendered no text");
		res = CRIER_FAIL;
		goto out;
	}
	if (!have_root) {
		post_root(inst, d, root_text, &r, &a);
		res = a.res == CRIER_OK ? CRIER_OK : crier_report(inst->api, d, a.res, a.why, a.retry_after_ms);
		goto out;
	}
	res = render(inst, d, T_REPLY, ctx, link, &reply_text);
	if (res != CRIER_OK)
		goto out;

	/*
	 * The root first, then the reply. chat.update is idempotent, so when
	 * anything fails before the reply is posted, a retry repeats nothing
	 * anyone can see twice; the reply, the one call that adds a message,
	 * comes last. (Reply first would leave a posted reply and a stale root
	 * after a failed update, and set_state keeps no progress on a retry.)
	 */
	body = json_pack("{ssssss}", "channel", r.channel, "ts", r.ts, "text", root_text);
	if (!body) {
		api->set_error(d, "out of memory");
		res = CRIER_RETRY;
		goto out;
	}
	post(inst, inst->update_url, "chat.update", body, 1, &a);
	json_decref(body);
	body = NULL;
	if (a.res != CRIER_OK) {
		if (crier_lookup(a.code, lost_root_codes, sizeof(lost_root_codes) / sizeof(lost_root_codes[0])) < 0) {
			res = crier_report(inst->api, d, a.res, a.why, a.retry_after_ms);
			goto out;
		}
		crier_logf(inst->api, inst->host, CRIER_LOG_WARN,
		           "the root message %s cannot be updated (%s); posting a new one", r.ts, a.code);
		post_root(inst, d, root_text, &r, &a);
		if (a.res != CRIER_OK) {
			res = crier_report(inst->api, d, a.res, a.why, a.retry_after_ms);
			goto out;
		}
		new_root = 1;
	}
	answer_free(&a);
	if (!reply_text) {
		res = CRIER_OK; /* the template skips this event */
		goto out;
	}
	body = message_body(reply_text);
	if (!body || json_object_set_new(body, "channel", json_string(r.channel)) != 0 ||
	    json_object_set_new(body, "thread_ts", json_string(r.ts)) != 0 ||
	    (resolved && json_object_set_new(body, "reply_broadcast", json_true()) != 0)) {
		api->set_error(d, "out of memory");
		res = new_root ? CRIER_OK : CRIER_RETRY;
		goto out;
	}
	post(inst, inst->post_url, "chat.postMessage", body, 1, &a);
	if (a.res == CRIER_OK) {
		res = CRIER_OK;
	} else if (new_root) {
		/* A retry would find the old root gone again and post a third;
		 * keep the new root, which shows the current state, and lose
		 * this one reply. */
		crier_logf(inst->api, inst->host, CRIER_LOG_WARN,
		           "posted a new root message but not the reply to it (%s)", a.why);
		res = CRIER_OK;
	} else {
		res = crier_report(inst->api, d, a.res, a.why, a.retry_after_ms);
	}
out:
	answer_free(&a);
	json_decref(body);
	free(root_text);
	free(reply_text);
	return res;
}

static crier_result slack_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *doc = api->delivery_json(d);
	json_t *event = doc ? json_loads(doc, 0, NULL) : NULL;
	const char *link, *type;
	char *ctx = NULL;
	crier_result res;

	if (!json_is_object(event)) {
		json_decref(event);
		api->set_error(d, "the host gave no event JSON");
		return CRIER_FAIL;
	}
	if (add_slack_fields(event) != 0 || !(ctx = json_dumps(event, JSON_COMPACT))) {
		api->set_error(d, "out of memory");
		res = CRIER_RETRY;
		goto out;
	}
	link = json_string_value(json_object_get(json_object_get(event, "links"), "incident"));
	type = json_string_value(json_object_get(event, "type"));
	if (inst->webhook_url)
		res = deliver_webhook(inst, d, ctx, link);
	else
		res = deliver_web_api(inst, d, ctx, link, type && strcmp(type, "resolved") == 0);
out:
	free(ctx);
	json_decref(event);
	return res;
}

static const crier_plugin slack_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "slack",
    .description = "Slack: a thread per incident through the Web API, or messages through an incoming webhook",
    .init = slack_init,
    .deliver = slack_deliver,
    .destroy = slack_destroy,
};

CRIER_PLUGIN_DEFINE(slack_plugin)
