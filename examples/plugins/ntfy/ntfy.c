/*
 * An out-of-tree crier plugin: push notifications through ntfy
 * (https://docs.ntfy.sh/publish/#publish-as-json), one ntfy topic per
 * recipient of the instance. docs/writing-a-plugin.md walks through it.
 */
#include <crier/plugin.h>
#include <crier/plugin_util.h> /* optional helpers, installed with plugin.h */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for the instance's "templates": {"title": ..., "message": ...}. */
#define DEFAULT_TITLE "Incident {{incident.id}} ({{incident.state}}): {{incident.title}}"
#define DEFAULT_MESSAGE                                                                                                \
	"{{#message}}{{message}}{{/message}}{{^message}}{{alert.annotations.summary}}"                                 \
	"{{^alert.annotations.summary}}Severity {{incident.severity}}.{{/alert.annotations.summary}}{{/message}}"

struct crier_instance { /* one per configured instance; only ever used on that instance's thread */
	const crier_host_api *api;
	crier_host *host;
	char url[512], auth[512]; /* auth is "Bearer <token>" or "": a secret, never logged */
	crier_template *title, *message;
};

static void ntfy_destroy(crier_instance *in)
{
	if (!in)
		return;
	if (in->title)
		in->api->template_free(in->title);
	if (in->message)
		in->api->template_free(in->message);
	free(in);
}

static int ntfy_init(const crier_host_api *api, crier_host *host, const char *config, crier_instance **out, char *err,
                     size_t errlen)
{
	static const char *const keys[] = {"url", "token", "templates.title", "templates.message"};
	const char *url = "https://ntfy.sh", *token = NULL, *title = DEFAULT_TITLE, *message = DEFAULT_MESSAGE;
	const char **values[] = {&url, &token, &title, &message};
	crier_instance *in = calloc(1, sizeof(*in));
	json_t *c = json_loads(config, 0, NULL), *v[4] = {NULL};
	json_error_t jerr;

	*out = NULL;
	if (!in || !c) {
		snprintf(err, errlen, !in ? "out of memory" : "configuration is not JSON");
		goto fail;
	}
	in->api = api;
	in->host = host;
	/* Unknown keys are errors (jansson names them); so are values of the wrong type. */
	if (json_object_get(c, "templates") && !json_is_object(json_object_get(c, "templates"))) {
		snprintf(err, errlen, "\"templates\" must be an object");
		goto fail;
	}
	if (json_unpack_ex(c, &jerr, JSON_STRICT, "{s?o s?o s?{s?o s?o}}", "url", &v[0], "token", &v[1], "templates",
	                   "title", &v[2], "message", &v[3]) != 0) {
		snprintf(err, errlen, "%s (known keys: url, token, templates.title, templates.message)", jerr.text);
		goto fail;
	}
	for (int i = 0; i < 4; i++) {
		if (v[i] && !json_is_string(v[i])) {
			snprintf(err, errlen, "\"%s\" must be a string", keys[i]);
			goto fail;
		}
		if (v[i])
			*values[i] = json_string_value(v[i]);
	}
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "\"url\" must start with http:// or https://");
		goto fail;
	}
	snprintf(in->url, sizeof(in->url), "%s", url);
	if (token)
		snprintf(in->auth, sizeof(in->auth), "Bearer %s", token);
	in->title = api->template_load(host, "title", title, err, errlen);
	if (!in->title || !(in->message = api->template_load(host, "message", message, err, errlen)))
		goto fail;
	json_decref(c);
	*out = in;
	return 0;
fail:
	json_decref(c);
	ntfy_destroy(in);
	return -1;
}

/* ntfy's priorities run from 5 (urgent) to 1 (min). */
static int priority(json_t *event)
{
	const char *sev = json_string_value(json_object_get(json_object_get(event, "incident"), "severity"));

	if (json_is_true(json_object_get(json_object_get(event, "is"), "resolved")) || !sev)
		return 2;
	return !strcmp(sev, "critical") ? 5 : !strcmp(sev, "major") ? 4 : 3;
}

static crier_result ntfy_deliver(crier_instance *in, crier_delivery *d)
{
	const crier_host_api *api = in->api;
	const char *event = api->delivery_json(d), *topic = api->delivery_recipient(d), *link;
	crier_http_header hdrs[] = {{"Content-Type", "application/json"}, {"Authorization", in->auth}};
	crier_http_request req = {.url = in->url, .headers = hdrs, .n_headers = in->auth[0] ? 2 : 1};
	crier_http_response resp = {0};
	char why[512] = "out of memory", *title = NULL, *message = NULL, *body = NULL;
	json_t *ev = json_loads(event, 0, NULL), *doc = NULL;
	crier_result res = CRIER_FAIL;

	if (!topic) {
		api->set_error(d, "no topic: give the instance \"recipients\" (ntfy topics)");
		goto out;
	}
	/* A template that does not render will not render on a retry either. */
	if (!(title = api->template_render(in->title, event, CRIER_ESCAPE_NONE, why, sizeof(why))) ||
	    !(message = api->template_render(in->message, event, CRIER_ESCAPE_NONE, why, sizeof(why)))) {
		api->set_error(d, why);
		goto out;
	}
	link = json_string_value(json_object_get(json_object_get(ev, "links"), "incident"));
	doc = json_pack("{ss ss ss si s[s]}", "topic", topic, "title", title, "message", message, "priority",
	                priority(ev), "tags", priority(ev) == 2 ? "white_check_mark" : "rotating_light");
	if (!doc || (link && *link && json_object_set_new(doc, "click", json_string(link)) != 0) ||
	    !(body = json_dumps(doc, JSON_COMPACT))) {
		api->set_error(d, "out of memory");
		res = CRIER_RETRY;
		goto out;
	}
	req.body = body;
	req.body_len = strlen(body);
	if (api->http_request(in->host, &req, &resp) != 0) {
		api->set_error(d, resp.error); /* no answer: DNS, connect, TLS, timeout */
		res = CRIER_RETRY;
	} else if ((res = crier_http_result(resp.status)) != CRIER_OK) {
		/* {"code":40101,"http":401,"error":"unauthorized",...}: quote "error", nothing else. */
		json_t *e = json_loads(resp.body ? resp.body : "", 0, NULL);
		const char *text = json_string_value(json_object_get(e, "error"));
		snprintf(why, sizeof(why), "ntfy answered HTTP %ld: %.200s", resp.status, text ? text : "(no text)");
		json_decref(e);
		/* 408, 429, 5xx retry (after Retry-After, if any); a bad token, topic or message fails. */
		crier_report(api, d, res, why, resp.retry_after_ms);
	}
	api->http_response_free(&resp);
out:
	free(title);
	free(message);
	free(body);
	json_decref(doc);
	json_decref(ev);
	return res;
}

static const crier_plugin ntfy_plugin = {
    .abi_version = 2, /* recipients and templates came with ABI 2 */
    .name = "ntfy",
    .description = "Push notifications through ntfy, one topic per recipient",
    .init = ntfy_init,
    .deliver = ntfy_deliver,
    .destroy = ntfy_destroy,
};

CRIER_PLUGIN_DEFINE(ntfy_plugin)
