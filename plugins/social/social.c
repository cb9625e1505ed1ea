/*
 * The "social" plugin: one instance per social account (Mastodon, X,
 * Bluesky). For each change of an incident's public state it drafts a
 * short, calm post from a template and offers it for approval
 * (draft_submit); nothing is published until a person approves the draft.
 * The approval comes back as a "draft_approved" event, and that delivery
 * publishes it: to Mastodon, threaded under the incident's previous post.
 * Publishing to X and Bluesky is not built: their drafts respect the
 * networks' limits, and people post the approved text by hand.
 *
 * The template sees a public context only (the state, the links), never
 * the alerts, labels or titles: those are internal (README.md).
 *
 * The token is a secret: it never goes into a log line or an error text.
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
#define ERROR_TEXT_MAX     200
#define USER_AGENT         "crier/0.1"

typedef enum network { NET_MASTODON = 0, NET_X, NET_BLUESKY, NET_N } network;

static const struct {
	const char *name;    /* the configuration's and the draft's */
	const char *display; /* for people */
	crier_measure measure;
	size_t limit;
} networks[NET_N] = {
    [NET_MASTODON] = {"mastodon", "Mastodon", CRIER_MEASURE_MASTODON, 500},
    [NET_X] = {"x", "X", CRIER_MEASURE_X, 280},
    [NET_BLUESKY] = {"bluesky", "Bluesky", CRIER_MEASURE_GRAPHEMES, 300},
};

/* The public states of an incident (docs/incidents.md), in order. */
static const char *const states[] = {"investigating", "identified", "monitoring", "resolved"};
#define N_STATES (sizeof(states) / sizeof(states[0]))

static const char *const visibilities[] = {"public", "unlisted", "private", "direct"};

/* The configuration's keys: those of every network, then Mastodon's own. */
static const char *const config_keys[] = {"network",    "states",   "templates",      "instance_url", "token",
                                          "visibility", "language", "max_characters", "timeout_ms"};
#define N_CONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))
#define N_COMMON_KEYS 3

static const char *const template_names[] = {"post"};

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	network net;
	size_t limit;
	unsigned states;        /* bit i: draft posts for states[i] */
	char *statuses_url;     /* new; Mastodon: <instance_url>/api/v1/statuses */
	char *token;            /* new; a secret */
	char *auth_header;      /* new; "Bearer <token>", a secret */
	const char *visibility; /* static */
	char *language;         /* new or NULL */
	long timeout_ms;
	crier_template *post; /* new */
};

/* ---- configuration ---- */

static void social_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	free(inst->statuses_url);
	crier_free_secret(inst->token);
	crier_free_secret(inst->auth_header);
	free(inst->language);
	if (inst->post)
		inst->api->template_free(inst->post);
	free(inst);
}

static int parse_states(crier_instance *inst, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *s;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return crier_fail(err, errlen,
		                  "\"states\" must be a non-empty array of investigating, identified, monitoring, "
		                  "resolved");
	inst->states = 0;
	json_array_foreach(v, i, s)
	{
		int k = json_is_string(s) ? crier_lookup(json_string_value(s), states, N_STATES) : -1;
		if (k < 0)
			return crier_fail(err, errlen,
			                  "states[%zu]: expected investigating, identified, monitoring or resolved", i);
		inst->states |= 1u << k;
	}
	return 0;
}

/* "templates": {"post": "inline text" | "file:path"}. */
static int check_templates(const json_t *v, char *err, size_t errlen)
{
	const char *k;
	json_t *t;

	if (!json_is_object(v))
		return crier_fail(err, errlen, "\"templates\" must be an object: {\"post\": \"...\"}");
	json_object_foreach((json_t *)v, k, t)
	{
		if (strcmp(k, "post") != 0)
			return crier_fail(err, errlen, "templates: unknown template \"%s\" (this plugin has one: post)",
			                  k);
		if (!json_is_string(t) || json_string_length(t) == 0)
			return crier_fail(err, errlen, "templates.post: expected a non-empty string");
	}
	return 0;
}

static int parse_mastodon(crier_instance *inst, const json_t *root, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(root, "instance_url"));
	const char *token = json_string_value(json_object_get(root, "token"));
	json_t *v;

	if (!url)
		return crier_fail(err, errlen,
		                  "missing required key \"instance_url\" (the Mastodon server, e.g. "
		                  "\"https://mastodon.social\")");
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return crier_fail(err, errlen, "\"instance_url\" must start with http:// or https://");
	if (strpbrk(url, " \t\r\n?#"))
		return crier_fail(err, errlen,
		                  "\"instance_url\" must be a plain base URL (no blanks, query or fragment)");
	if (!token || !*token)
		return crier_fail(err, errlen,
		                  "missing required key \"token\" (an access token with write:statuses; write "
		                  "it as \"${ENV}\" or \"file:/path\")");
	if (strpbrk(token, "\r\n"))
		return crier_fail(err, errlen, "\"token\" holds CR or LF");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (asprintf(&inst->statuses_url, "%.*s/api/v1/statuses", (int)n, url) < 0) {
		inst->statuses_url = NULL;
		return crier_fail(err, errlen, "out of memory");
	}
	inst->token = strdup(token);
	if (!inst->token || asprintf(&inst->auth_header, "Bearer %s", token) < 0) {
		inst->auth_header = NULL;
		return crier_fail(err, errlen, "out of memory");
	}
	if ((v = json_object_get(root, "visibility"))) {
		int k = json_is_string(v) ? crier_lookup(json_string_value(v), visibilities, 4) : -1;
		if (k < 0)
			return crier_fail(err, errlen, "\"visibility\" must be public, unlisted, private or direct");
		inst->visibility = visibilities[k];
	}
	if ((v = json_object_get(root, "language"))) {
		const char *l = json_string_value(v);
		if (!l || strlen(l) != 2 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z')
			return crier_fail(err, errlen, "\"language\" must be an ISO 639-1 code such as \"en\"");
		if (!(inst->language = strdup(l)))
			return crier_fail(err, errlen, "out of memory");
	}
	if ((v = json_object_get(root, "max_characters"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 50 || json_integer_value(v) > 100000)
			return crier_fail(err, errlen,
			                  "\"max_characters\" must be an integer from 50 to 100000 (your server's "
			                  "configuration.statuses.max_characters)");
		inst->limit = (size_t)json_integer_value(v);
	}
	return crier_json_int(json_object_get(root, "timeout_ms"), "timeout_ms", 1, MAX_TIMEOUT_MS, &inst->timeout_ms,
	                      err, errlen);
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	json_t *root, *v;
	const char *key;
	int ret = -1;

	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	const char *net = json_string_value(json_object_get(root, "network"));
	inst->net = NET_N;
	for (int i = 0; net && i < NET_N; i++)
		if (strcmp(net, networks[i].name) == 0)
			inst->net = (network)i;
	if (inst->net == NET_N) {
		crier_fail(err, errlen, "\"network\" must be \"mastodon\", \"x\" or \"bluesky\"");
		goto out;
	}
	inst->limit = networks[inst->net].limit;
	json_object_foreach(root, key, v)
	{
		int k = crier_lookup(key, config_keys, N_CONFIG_KEYS);
		if (k >= N_COMMON_KEYS && inst->net != NET_MASTODON) {
			crier_fail(err, errlen,
			           "\"%s\" is a Mastodon setting; publishing to %s is not built (its drafts are "
			           "posted by hand), so it takes only network, states, templates",
			           key, networks[inst->net].display);
			goto out;
		}
		if (k < 0) {
			crier_fail_unknown_key(err, errlen, key, config_keys,
			                       inst->net == NET_MASTODON ? N_CONFIG_KEYS : N_COMMON_KEYS);
			goto out;
		}
	}
	if ((v = json_object_get(root, "states")) && parse_states(inst, v, err, errlen) < 0)
		goto out;
	v = json_object_get(root, "templates");
	if (v && check_templates(v, err, errlen) < 0)
		goto out;
	if (inst->net == NET_MASTODON && parse_mastodon(inst, root, err, errlen) < 0)
		goto out;
	if (crier_templates_load(inst->api, inst->host, v, template_names, 1, &inst->post, err, errlen) != 1)
		goto out;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

static int social_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                       char *err, size_t errlen)
{
	crier_instance *inst;

	*out = NULL;
	/* Version 2 guarantees every entry this plugin uses. */
	if (!api || api->abi_version < 2)
		return crier_fail(err, errlen,
		                  "the host table lacks entries this plugin needs (ABI version 2 with drafts)");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	inst->states = (1u << N_STATES) - 1;
	inst->visibility = "public";
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (parse_config(inst, config_json, err, errlen) < 0) {
		social_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* ---- drafting ---- */

/* The per-incident state: {"drafted": "<state>", "status_id": "<last post>"}. */
typedef struct thread {
	char drafted[32];
	char status_id[64];
} thread;

static void thread_read(const char *state, thread *t)
{
	json_t *j = state ? json_loads(state, 0, NULL) : NULL;
	const char *d = json_string_value(json_object_get(j, "drafted"));
	const char *s = json_string_value(json_object_get(j, "status_id"));
	memset(t, 0, sizeof(*t));
	snprintf(t->drafted, sizeof(t->drafted), "%s", d ? d : "");
	snprintf(t->status_id, sizeof(t->status_id), "%s", s ? s : "");
	json_decref(j);
}

static int thread_write(const crier_instance *inst, crier_delivery *d, const thread *t)
{
	json_t *j = json_object();
	char *txt = NULL;
	int rc = -1;
	if (j && (!t->drafted[0] || json_object_set_new(j, "drafted", json_string(t->drafted)) == 0) &&
	    (!t->status_id[0] || json_object_set_new(j, "status_id", json_string(t->status_id)) == 0) &&
	    (txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = inst->api->set_state(d, txt);
	free(txt);
	json_decref(j);
	return rc;
}

/* Whitespace runs, line breaks included, become one space; ends trimmed. */
static void tidy(char *s)
{
	char *w = s;
	int space = 0;
	for (const char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
			space = w != s;
			continue;
		}
		if (space)
			*w++ = ' ';
		space = 0;
		*w++ = *r;
	}
	*w = '\0';
}

/*
 * What the template sees: the state in words, the link, and nothing an
 * alert put there (no title, labels, annotations, hosts).
 */
static const char *str_at(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static json_t *public_context(const crier_instance *inst, const json_t *doc, const char *state, const char *link)
{
	json_t *links = json_object_get(doc, "links");
	return json_pack("{ss s{sb} ss s{ss ss} ss ss}", "state", state, "states", state, 1, "link", link, "links",
	                 "status_page", str_at(links, "status_page"), "incident", str_at(links, "incident"), "event",
	                 str_at(doc, "type"), "network", networks[inst->net].display);
}

static crier_result draft(crier_instance *inst, crier_delivery *d, const json_t *doc)
{
	const crier_host_api *api = inst->api;
	const char *state = json_string_value(json_object_get(json_object_get(doc, "incident"), "state"));
	const json_t *links = json_object_get(doc, "links");
	const char *link = json_string_value(json_object_get(links, "incident"));
	char err[512] = "", msg[600];
	char *text = NULL, *fitted = NULL, *ctx_txt = NULL;
	json_t *ctx = NULL;
	crier_result res = CRIER_FAIL;
	thread t;
	size_t k = 0;

	while (state && k < N_STATES && strcmp(state, states[k]) != 0)
		k++;
	if (!state || k == N_STATES) {
		api->set_error(d, "the event has no incident state");
		return CRIER_FAIL;
	}
	thread_read(api->delivery_state(d), &t);
	/* One post per public state change; alerts joining say nothing new. */
	if (!(inst->states & (1u << k)) || strcmp(t.drafted, state) == 0)
		return CRIER_OK;
	if (!link || !*link)
		link = json_string_value(json_object_get(links, "status_page"));
	if (!link)
		link = "";
	ctx = public_context(inst, doc, state, link);
	ctx_txt = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
	if (!ctx_txt) {
		api->set_error(d, "out of memory");
		res = CRIER_RETRY;
		goto out;
	}
	text = api->template_render(inst->post, ctx_txt, CRIER_ESCAPE_NONE, err, sizeof(err));
	if (!text) {
		snprintf(msg, sizeof(msg), "template post: %s", err);
		api->set_error(d, msg);
		goto out;
	}
	tidy(text);
	if (!*text) {
		/* A template may leave a state out on purpose. */
		res = CRIER_OK;
		goto out;
	}
	fitted = api->text_fit(text, networks[inst->net].measure, inst->limit, *link ? link : NULL);
	if (!fitted) {
		snprintf(msg, sizeof(msg), "the post cannot be cut to %zu characters for %s (is the link that long?)",
		         inst->limit, networks[inst->net].display);
		api->set_error(d, msg);
		goto out;
	}
	snprintf(t.drafted, sizeof(t.drafted), "%s", state);
	if (api->draft_submit(d, networks[inst->net].name, fitted, networks[inst->net].measure, inst->limit) < 0 ||
	    thread_write(inst, d, &t) < 0) {
		api->set_error(d, "the host refused the draft");
		goto out;
	}
	res = CRIER_OK;
out:
	free(text);
	free(fitted);
	free(ctx_txt);
	json_decref(ctx);
	return res;
}

/* ---- publishing ---- */

/* "HTTP 422: <Mastodon's error>", cut and cleaned, without the token. */
static void http_error(const crier_instance *inst, const crier_http_response *resp, char *out, size_t size)
{
	json_t *j = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(j, "error"));
	char snippet[ERROR_TEXT_MAX + 1];

	if (!e)
		e = resp->body ? resp->body : "";
	crier_quote(snippet, sizeof(snippet), e, strlen(e), ERROR_TEXT_MAX);
	json_decref(j);
	crier_http_error(out, size, resp->status, snippet);
	crier_redact(out, size, inst->token);
}

static crier_result publish_mastodon(crier_instance *inst, crier_delivery *d, const json_t *dr, int64_t draft_id)
{
	const crier_host_api *api = inst->api;
	crier_http_response resp;
	crier_http_request req = {0};
	char key[64], msg[400];
	char *body = NULL;
	crier_result res = CRIER_RETRY;
	thread t;

	thread_read(api->delivery_state(d), &t);
	json_t *b = json_pack("{sO ss}", "status", json_object_get(dr, "text"), "visibility", inst->visibility);
	/* Each incident's posts form one thread. */
	if (b && (inst->language ? json_object_set_new(b, "language", json_string(inst->language)) : 0) == 0 &&
	    (t.status_id[0] ? json_object_set_new(b, "in_reply_to_id", json_string(t.status_id)) : 0) == 0)
		body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!body) {
		api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	/* Stable per draft: a retry after a timeout returns the first post. */
	snprintf(key, sizeof(key), "crier-draft-%lld", (long long)draft_id);
	crier_http_header hdrs[] = {{"Authorization", inst->auth_header},
	                            {"Content-Type", "application/json"},
	                            {"Idempotency-Key", key},
	                            {"User-Agent", USER_AGENT}};
	req.method = "POST";
	req.url = inst->statuses_url;
	req.headers = hdrs;
	req.n_headers = sizeof(hdrs) / sizeof(hdrs[0]);
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = inst->timeout_ms;
	memset(&resp, 0, sizeof(resp));
	if (api->http_request(inst->host, &req, &resp) != 0) {
		snprintf(msg, sizeof(msg), "%s", resp.error[0] ? resp.error : "transport error");
		crier_redact(msg, sizeof(msg), inst->token);
		api->set_error(d, msg);
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		json_t *st = json_loadb(resp.body, resp.body_len, 0, NULL);
		const char *id = json_string_value(json_object_get(st, "id"));
		const char *url = json_string_value(json_object_get(st, "url"));
		if (id && strlen(id) < sizeof(t.status_id)) {
			snprintf(t.status_id, sizeof(t.status_id), "%s", id);
			thread_write(inst, d, &t);
		}
		crier_logf(inst->api, inst->host, CRIER_LOG_INFO, "published draft %lld: %s", (long long)draft_id,
		           url ? url : "(Mastodon gave no url)");
		json_decref(st);
		res = CRIER_OK;
		goto out;
	}
	http_error(inst, &resp, msg, sizeof(msg));
	/* On a 429 Mastodon says when its window reopens (X-RateLimit-Reset). */
	res = crier_report(api, d, crier_http_result(resp.status), msg, resp.retry_after_ms);
out:
	api->http_response_free(&resp);
	free(body);
	return res;
}

static crier_result publish(crier_instance *inst, crier_delivery *d, const json_t *doc)
{
	const crier_host_api *api = inst->api;
	const json_t *dr = json_object_get(doc, "draft");
	const char *owner = json_string_value(json_object_get(dr, "instance"));
	char msg[200];

	/* Routes may bring other accounts' approvals: only our own is ours to publish. */
	if (!owner || strcmp(owner, api->instance_name(inst->host)) != 0)
		return CRIER_OK;
	if (!json_is_string(json_object_get(dr, "text")) || !json_is_integer(json_object_get(dr, "id"))) {
		api->set_error(d, "the approved draft has no text or id");
		return CRIER_FAIL;
	}
	if (inst->net != NET_MASTODON) {
		snprintf(msg, sizeof(msg), "publishing to %s is not built; post the approved text by hand",
		         networks[inst->net].display);
		api->set_error(d, msg);
		return CRIER_FAIL;
	}
	return publish_mastodon(inst, d, dr, (int64_t)json_integer_value(json_object_get(dr, "id")));
}

static crier_result social_deliver(crier_instance *inst, crier_delivery *d)
{
	const char *json = inst->api->delivery_json(d);
	json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(doc, "type"));
	crier_result res;

	if (!type) {
		inst->api->set_error(d, "the host gave no event JSON");
		res = CRIER_FAIL;
	} else if (inst->api->delivery_recipient && inst->api->delivery_recipient(d)) {
		/* One post per account: a delivery per recipient would draft it again and again. */
		inst->api->set_error(d,
		                     "a social instance takes no \"recipients\": remove them from its configuration");
		res = CRIER_FAIL;
	} else if (strcmp(type, "draft_approved") == 0) {
		res = publish(inst, d, doc);
	} else if (strncmp(type, "draft_", 6) == 0) {
		res = CRIER_OK; /* the review channel's business, not ours */
	} else {
		res = draft(inst, d, doc);
	}
	json_decref(doc);
	return res;
}

static const crier_plugin social_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "social",
    .description = "draft public posts for Mastodon, X and Bluesky; publish approved ones to Mastodon",
    .init = social_init,
    .deliver = social_deliver,
    .destroy = social_destroy,
};

CRIER_PLUGIN_DEFINE(social_plugin)
