/*
 * The "sms" plugin: sends each event as a text message through Twilio's
 * Messages API, one delivery (and one message) per configured recipient.
 *
 * The text comes from the "text" template, is tidied, then fitted into
 * max_segments parts: GSM-7 when every character has a septet, UCS-2
 * otherwise, cut at a word with the incident's link kept whole at the end.
 *
 * The auth token never goes into a log line or an error text; neither does
 * the message body (it may carry what a security incident's updates hold
 * back elsewhere) nor the recipient's number in a log line.
 */
#include "sms_text.h"

#include <crier/plugin.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_API_BASE     "https://api.twilio.com"
#define DEFAULT_MAX_SEGMENTS 2
#define DEFAULT_TIMEOUT_MS   10000
#define MAX_TIMEOUT_MS       300000
#define MAX_API_BASE         512

#define USER_AGENT "crier/0.1"

/* "text" for events; "confirm" for a subscription's code (docs/subscribers.md). */
enum { T_TEXT, T_CONFIRM, N_TEMPLATES };
static const char *const template_names[N_TEMPLATES] = {"text", "confirm"};
#define CONFIRM_EVENT "subscription_confirm"

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char account_sid[35];      /* "AC" + 32 hex */
	char *auth_token;          /* new; a secret */
	char *authorization;       /* new; "Basic base64(sid:token)", a secret too */
	char *from;                /* new, or NULL when messaging_service_sid is set */
	char *messaging_service;   /* new, or NULL when from is set */
	char *url;                 /* new; {api_base}/2010-04-01/Accounts/{sid}/Messages.json */
	unsigned max_segments;
	long timeout_ms;
	crier_template *tpl[N_TEMPLATES]; /* new, from template_load */
};

/* prefix then exactly 32 hex digits: how Twilio writes every SID. */
static int is_sid(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!s || strncmp(s, prefix, n) != 0 || strlen(s) != n + 32)
		return 0;
	return strspn(s + n, "0123456789abcdefABCDEF") == 32;
}

/* The token travels in a basic-auth header: plain http:// only to this
 * machine (a local fake or a proxy), never across a network. */
static int api_base_ok(const char *s)
{
	static const char *const local[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};

	if (!s || strlen(s) > MAX_API_BASE || strpbrk(s, " \t\r\n?#"))
		return 0;
	if (strncasecmp(s, "https://", 8) == 0)
		return s[8] != '\0' && s[8] != '/';
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		size_t n = strlen(local[i]);
		if (strncasecmp(s, local[i], n) == 0 && (s[n] == '\0' || s[n] == ':' || s[n] == '/'))
			return 1;
	}
	return 0;
}

static int set_string(char **dst, const char *src, char *err, size_t errlen)
{
	*dst = strdup(src);
	return *dst ? 0 : crier_fail(err, errlen, "out of memory");
}

static int load_templates(crier_instance *inst, json_t *overrides, char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	char why[256] = "";
	size_t i;

	if (overrides) {
		if (!json_is_object(overrides))
			return crier_fail(err, errlen,
			                  "\"templates\" must be an object of template name to text or \"file:PATH\"");
		json_object_foreach(overrides, name, v)
		{
			if (crier_lookup(name, template_names, N_TEMPLATES) < 0)
				return crier_fail(err, errlen,
				                  "templates: unknown template \"%s\"; known templates: text, confirm",
				                  name);
			if (!json_is_string(v))
				return crier_fail(err, errlen, "templates: \"%s\" must be a string", name);
		}
	}
	i = crier_templates_load(inst->api, inst->host, overrides, template_names, N_TEMPLATES, inst->tpl, why,
	                         sizeof(why));
	if (i < N_TEMPLATES && why[0])
		return crier_fail(err, errlen, "templates: %s", why);
	if (i < N_TEMPLATES)
		return crier_fail(err, errlen, "templates: cannot load \"%s\"", template_names[i]);
	return 0;
}

static int parse_key(crier_instance *inst, const char *key, json_t *v, const char **api_base, json_t **templates,
                     char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	if (strcmp(key, "account_sid") == 0) {
		if (!is_sid(s, "AC"))
			return crier_fail(err, errlen, "\"account_sid\" must be \"AC\" followed by 32 hex digits");
		memcpy(inst->account_sid, s, 35);
	} else if (strcmp(key, "auth_token") == 0) {
		/* Never quote it, and say nothing about what it looked like. */
		if (!s || !*s || strpbrk(s, "\r\n"))
			return crier_fail(err, errlen, "\"auth_token\" must be a non-empty string on one line");
		return set_string(&inst->auth_token, s, err, errlen);
	} else if (strcmp(key, "from") == 0) {
		if (!sms_text_is_e164(s))
			return crier_fail(
			    err, errlen,
			    "\"from\" must be an E.164 number: \"+\", then 8 to 15 digits, the first not 0 "
			    "(for a short code or sender name, use messaging_service_sid)");
		return set_string(&inst->from, s, err, errlen);
	} else if (strcmp(key, "messaging_service_sid") == 0) {
		if (!is_sid(s, "MG"))
			return crier_fail(err, errlen,
			                  "\"messaging_service_sid\" must be \"MG\" followed by 32 hex digits");
		return set_string(&inst->messaging_service, s, err, errlen);
	} else if (strcmp(key, "api_base") == 0) {
		if (!api_base_ok(s))
			return crier_fail(
			    err, errlen,
			    "\"api_base\" must be an https:// URL without query or whitespace (http:// only "
			    "to 127.0.0.1, localhost or [::1])");
		*api_base = s;
	} else if (strcmp(key, "max_segments") == 0) {
		long n = 0;
		if (crier_json_int(v, key, 1, SMS_TEXT_MAX_SEGMENTS, &n, err, errlen) != 0)
			return -1;
		inst->max_segments = (unsigned)n;
	} else if (strcmp(key, "timeout_ms") == 0) {
		return crier_json_int(v, key, 1, MAX_TIMEOUT_MS, &inst->timeout_ms, err, errlen);
	} else if (strcmp(key, "templates") == 0) {
		*templates = v;
	} else {
		return crier_fail(
		    err, errlen,
		    "unknown key \"%s\"; known keys: account_sid, auth_token, from, messaging_service_sid, "
		    "api_base, max_segments, timeout_ms, templates",
		    key);
	}
	return 0;
}

/* The credentials, once: "Basic " + base64(sid:token), and the URL. */
static int build_request_parts(crier_instance *inst, const char *api_base, char *err, size_t errlen)
{
	size_t base_len = strlen(api_base), n;

	while (base_len > 0 && api_base[base_len - 1] == '/')
		base_len--;
	n = base_len + sizeof("/2010-04-01/Accounts//Messages.json") + sizeof(inst->account_sid);
	inst->url = malloc(n);
	if (!inst->url)
		return crier_fail(err, errlen, "out of memory");
	snprintf(inst->url, n, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)base_len, api_base, inst->account_sid);
	inst->authorization = crier_basic_auth(inst->account_sid, inst->auth_token);
	return inst->authorization ? 0 : crier_fail(err, errlen, "out of memory");
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	json_t *root, *v, *templates = NULL;
	const char *key, *api_base = DEFAULT_API_BASE;
	int ret = -1;

	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	inst->max_segments = DEFAULT_MAX_SEGMENTS;
	inst->timeout_ms = DEFAULT_TIMEOUT_MS;
	json_object_foreach(root, key, v)
	{
		if (parse_key(inst, key, v, &api_base, &templates, err, errlen) != 0)
			goto out;
	}
	if (!inst->account_sid[0]) {
		crier_fail(err, errlen, "missing required key \"account_sid\"");
		goto out;
	}
	if (!inst->auth_token) {
		crier_fail(err, errlen, "missing required key \"auth_token\"");
		goto out;
	}
	if (!inst->from == !inst->messaging_service) {
		crier_fail(err, errlen, "set exactly one of \"from\" and \"messaging_service_sid\"");
		goto out;
	}
	if (build_request_parts(inst, api_base, err, errlen) != 0 || load_templates(inst, templates, err, errlen) != 0)
		goto out;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

static void sms_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	for (int i = 0; i < N_TEMPLATES; i++)
		if (inst->tpl[i])
			inst->api->template_free(inst->tpl[i]);
	crier_free_secret(inst->auth_token);
	crier_free_secret(inst->authorization);
	free(inst->from);
	free(inst->messaging_service);
	free(inst->url);
	free(inst);
}

static int sms_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                    char *err, size_t errlen)
{
	crier_instance *inst;

	*out = NULL;
	/* Version 2 guarantees every entry this plugin uses. */
	if (!api || api->abi_version < 2)
		return crier_fail(err, errlen, "the host table lacks entries this plugin needs");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	if (parse_config(inst, config_json, err, errlen) != 0) {
		sms_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* The link the text must keep whole when it is cut: the incident's page,
 * else the status page; NULL when the event has neither. New string. */
static char *event_link(const json_t *root)
{
	json_t *links = json_object_get(root, "links");
	const char *link = json_string_value(json_object_get(links, "incident"));

	if (!link || !*link)
		link = json_string_value(json_object_get(links, "status_page"));
	return link && *link ? strdup(link) : NULL;
}

/*
 * Render, tidy and fit the text into max_segments parts: CRIER_OK with a
 * new string in *out, else why says what went wrong (CRIER_FAIL for a
 * template that cannot make a message, CRIER_RETRY when out of memory).
 * A message to a subscriber ends with "Stop: <their unsubscribe link>",
 * kept whole like the incident's link.
 */
static crier_result compose(crier_instance *inst, const char *json, char **out, char *why, size_t whylen)
{
	const crier_host_api *api = inst->api;
	json_t *root = json_loads(json, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "type"));
	const char *stop = json_string_value(json_object_get(json_object_get(root, "subscriber"), "unsubscribe_url"));
	int confirm = type && strcmp(type, CONFIRM_EVENT) == 0;
	char err[256] = "", msg[160];
	char *text = NULL, *link = NULL, *fitted, *tail = NULL;
	size_t units, tail_units = 0, limit, room;
	crier_result res = CRIER_FAIL;
	crier_measure m;
	int gsm7;

	if (!root) {
		snprintf(why, whylen, "the event is not JSON");
		return CRIER_FAIL;
	}
	text = api->template_render(inst->tpl[confirm ? T_CONFIRM : T_TEXT], json, CRIER_ESCAPE_NONE, err, sizeof(err));
	if (!text) {
		snprintf(why, whylen, "the \"%s\" template failed: %s", confirm ? "confirm" : "text",
		         err[0] ? err : "out of memory");
		goto out;
	}
	sms_text_tidy(text);
	if (!text[0]) {
		snprintf(why, whylen, "the \"%s\" template rendered an empty message", confirm ? "confirm" : "text");
		goto out;
	}
	if (stop && *stop && asprintf(&tail, " Stop: %s", stop) < 0) {
		tail = NULL;
		snprintf(why, whylen, "out of memory");
		res = CRIER_RETRY;
		goto out;
	}
	/* GSM-7 only when the text and the tail both fit it. */
	units = api->text_measure(text, CRIER_MEASURE_GSM7);
	if (tail && units != SIZE_MAX)
		tail_units = api->text_measure(tail, CRIER_MEASURE_GSM7);
	gsm7 = units != SIZE_MAX && tail_units != SIZE_MAX;
	if (!gsm7) {
		units = api->text_measure(text, CRIER_MEASURE_UTF16);
		if (tail)
			tail_units = api->text_measure(tail, CRIER_MEASURE_UTF16);
	}
	m = gsm7 ? CRIER_MEASURE_GSM7 : CRIER_MEASURE_UTF16;
	limit = sms_text_capacity(inst->max_segments, gsm7);
	if (tail && tail_units + 20 > limit) {
		snprintf(why, whylen, "the unsubscribe link leaves no room for the message in max_segments %u",
		         inst->max_segments);
		goto out;
	}
	room = limit - tail_units;
	if (units > room) {
		link = event_link(root);
		fitted = api->text_fit(text, m, room, link);
		if (!fitted && link) /* the link alone is too long for the limit */
			fitted = api->text_fit(text, m, room, NULL);
		free(text);
		text = fitted;
		if (!text) {
			snprintf(why, whylen, "out of memory");
			res = CRIER_RETRY;
			goto out;
		}
	}
	if (tail) {
		char *whole = NULL;
		if (asprintf(&whole, "%s%s", text, tail) < 0) {
			snprintf(why, whylen, "out of memory");
			res = CRIER_RETRY;
			goto out;
		}
		free(text);
		text = whole;
	}
	/* The text goes out as measured unless it was cut or got the tail
	 * (units is still the uncut text's); cutting may have dropped the one
	 * character that needed UCS-2. */
	if (tail || units > room) {
		units = api->text_measure(text, CRIER_MEASURE_GSM7);
		gsm7 = units != SIZE_MAX;
		if (!gsm7)
			units = api->text_measure(text, CRIER_MEASURE_UTF16);
	}
	snprintf(msg, sizeof(msg), "text: %u segment%s, %s, %zu %s (max_segments %u)", sms_text_segments(units, gsm7),
	         sms_text_segments(units, gsm7) == 1 ? "" : "s", gsm7 ? "GSM-7" : "UCS-2", units,
	         gsm7 ? "septets" : "UTF-16 units", inst->max_segments);
	api->log(inst->host, CRIER_LOG_DEBUG, msg);
	*out = text;
	text = NULL;
	res = CRIER_OK;
out:
	free(text);
	free(link);
	free(tail);
	json_decref(root);
	return res;
}

/* Report an answer that is not a success; returns what it comes to.
 * Twilio's message text must never carry the credentials out; should an
 * answer echo them, say so instead of quoting it. */
static crier_result refused(crier_instance *inst, crier_delivery *d, const crier_http_response *resp)
{
	char msg[320];
	long code;

	sms_text_describe(resp->status, resp->body, resp->body ? resp->body_len : 0, &code, msg, sizeof(msg));
	if (strstr(msg, inst->auth_token) || strstr(msg, inst->authorization + 6))
		snprintf(msg, sizeof(msg), "HTTP %ld, Twilio error %ld (its text quoted the credentials: withheld)",
		         resp->status, code);
	if (resp->status == 401)
		strncat(msg, " (check account_sid and auth_token)", sizeof(msg) - strlen(msg) - 1);
	/* Twilio documents no Retry-After; honour one should it come. */
	return crier_report(inst->api, d, sms_text_classify(resp->status, code), msg, resp->retry_after_ms);
}

static crier_result send_message(crier_instance *inst, crier_delivery *d, const char *to, const char *body)
{
	const crier_host_api *api = inst->api;
	const char *const fields[][2] = {
	    {"To", to}, {"From", inst->from}, {"MessagingServiceSid", inst->messaging_service}, {"Body", body}};
	const crier_http_header hdrs[] = {{"Authorization", inst->authorization},
	                                  {"Content-Type", "application/x-www-form-urlencoded"},
	                                  {"Accept", "application/json"},
	                                  {"User-Agent", USER_AGENT}};
	char *form = sms_text_form(fields, sizeof(fields) / sizeof(fields[0]));
	crier_http_request req = {.method = "POST",
	                          .url = inst->url,
	                          .headers = hdrs,
	                          .n_headers = sizeof(hdrs) / sizeof(hdrs[0]),
	                          .body = form,
	                          .body_len = form ? strlen(form) : 0,
	                          .timeout_ms = inst->timeout_ms};
	crier_http_response resp = {0};
	crier_result res;

	if (!form) {
		api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	if (api->http_request(inst->host, &req, &resp) != 0) {
		/* Twilio has no idempotency key: a timeout after the request went
		 * out may have sent the message, and this retry sends it again.
		 * Losing a page is worse than a duplicate. */
		api->set_error(d, resp.error[0] ? resp.error : "transport error");
		res = CRIER_RETRY;
	} else if ((res = sms_text_classify(resp.status, 0)) != CRIER_OK) {
		res = refused(inst, d, &resp);
	}
	api->http_response_free(&resp);
	free(form);
	return res;
}

static crier_result sms_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *json = api->delivery_json(d);
	const char *to = api->delivery_recipient(d);
	char why[400];
	char *body = NULL;
	crier_result res;

	if (!json) {
		api->set_error(d, "the host gave no event JSON");
		return CRIER_FAIL;
	}
	if (!to) {
		api->set_error(d, "no recipient: list phone numbers under this instance's \"recipients\"");
		return CRIER_FAIL;
	}
	if (!sms_text_is_e164(to)) {
		/* Quoted when it is short plain text, so crierctl shows which one. */
		size_t n = strlen(to);
		int plain = n <= 40;
		for (size_t i = 0; i < n && plain; i++)
			plain = to[i] >= 0x20 && to[i] < 0x7f && to[i] != '"';
		snprintf(why, sizeof(why),
		         "recipient %s%s%sis not an E.164 number (\"+\", then 8 to 15 digits, the first not 0)",
		         plain ? "\"" : "", plain ? to : "", plain ? "\" " : "");
		api->set_error(d, why);
		return CRIER_FAIL;
	}
	res = compose(inst, json, &body, why, sizeof(why));
	if (res != CRIER_OK) {
		api->set_error(d, why);
		return res;
	}
	res = send_message(inst, d, to, body);
	free(body);
	return res;
}

static const crier_plugin sms_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "sms",
    .description = "send each event as a text message through Twilio, one per recipient",
    .init = sms_init,
    .deliver = sms_deliver,
    .destroy = sms_destroy,
};

CRIER_PLUGIN_DEFINE(sms_plugin)
