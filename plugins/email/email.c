/*
 * The "email" plugin: one mail per event and recipient over SMTP (libcurl),
 * with a text and an HTML part rendered from Mustache templates, threaded
 * per incident.
 *
 * Threading: every incident has a root Message-ID derived from the
 * instance, the incident's number and its opening time, so each recipient's
 * copy of any event computes the same one without coordination. The
 * "opened" mail carries the root as its own Message-ID; every other mail
 * gets an id of its own, derived from the delivery key and recipient (the
 * same on every retry), and points In-Reply-To and References at the root.
 * The root is also kept as the incident's plugin state, so a later change
 * of message_id_domain or From does not split a running thread.
 *
 * The password never reaches a log line or an error text.
 */
#include "mime.h"
#include "smtp.h"

#include <crier/plugin.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS     300000
/* Long enough for any real title; a subject past it only hides the rest. */
#define SUBJECT_MAX_CODEPOINTS 200
/* Room for "<crier.inc-N.eN.HASH@" in a msg-id of at most 250 bytes. */
#define MSGID_DOMAIN_MAX 190

/* An event's three templates, then a subscription confirmation's three
 * (docs/subscribers.md), in the same order. */
enum { TPL_SUBJECT, TPL_TEXT, TPL_HTML, TPL_CONFIRM, N_TPL = 2 * TPL_CONFIRM };

#define CONFIRM_EVENT "subscription_confirm"

static const char *const template_names[N_TPL] = {
    [TPL_SUBJECT] = "subject",
    [TPL_TEXT] = "text",
    [TPL_HTML] = "html",
    [TPL_CONFIRM + TPL_SUBJECT] = "confirm_subject",
    [TPL_CONFIRM + TPL_TEXT] = "confirm_text",
    [TPL_CONFIRM + TPL_HTML] = "confirm_html",
};

/* How each template's values are escaped. */
static const crier_escape template_escapes[N_TPL] = {
    [TPL_SUBJECT] = CRIER_ESCAPE_HEADER,
    [TPL_TEXT] = CRIER_ESCAPE_NONE,
    [TPL_HTML] = CRIER_ESCAPE_HTML,
    [TPL_CONFIRM + TPL_SUBJECT] = CRIER_ESCAPE_HEADER,
    [TPL_CONFIRM + TPL_TEXT] = CRIER_ESCAPE_NONE,
    [TPL_CONFIRM + TPL_HTML] = CRIER_ESCAPE_HTML,
};

struct crier_instance {
	const crier_host_api *api;  /* borrowed from the host, lives as long as the instance */
	crier_host *host;           /* borrowed, same */
	smtp_client *smtp;          /* new */
	mime_address from;          /* new strings */
	mime_address reply_to;      /* new strings; addr NULL for none */
	char *msgid_domain;         /* new */
	crier_template *tpl[N_TPL]; /* new */
};

/* What init collects before the SMTP client exists. */
struct settings {
	const char *url, *tls, *username, *password, *ca_file; /* borrowed from the parsed JSON */
	long timeout_ms;
	json_t *templates; /* borrowed */
};

/* ---- configuration ---- */

/* The host part of an smtp(s):// URL's authority, into out; -1 when the
 * authority holds credentials or is empty. */
static int url_host(const char *url, char *out, size_t outlen)
{
	const char *a = strstr(url, "://") + 3;
	size_t n = strcspn(a, "/?#");
	const char *end;

	if (memchr(a, '@', n))
		return -1;
	if (a[0] == '[') {
		end = memchr(a, ']', n);
		if (!end)
			return -1;
		end++;
	} else {
		end = memchr(a, ':', n);
		if (!end)
			end = a + n;
	}
	if (end == a || (size_t)(end - a) >= outlen)
		return -1;
	memcpy(out, a, (size_t)(end - a));
	out[end - a] = '\0';
	return 0;
}

static int is_loopback(const char *host)
{
	return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0;
}

/* Checks that need several keys at once: the URL against "tls", and where
 * a password may travel. */
static int check_transport(const struct settings *s, smtp_tls *tls, char *err, size_t errlen)
{
	int smtps;
	char host[256];

	if (strncasecmp(s->url, "smtps://", 8) == 0)
		smtps = 1;
	else if (strncasecmp(s->url, "smtp://", 7) == 0)
		smtps = 0;
	else
		return crier_fail(err, errlen, "\"url\" must start with smtp:// or smtps://");
	for (const char *p = s->url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return crier_fail(err, errlen, "\"url\" must not hold white space or control characters");
	if (url_host(s->url, host, sizeof(host)) != 0)
		return crier_fail(
		    err, errlen,
		    "\"url\" must name a host, with no credentials in it (use \"username\" and \"password\")");
	if (!s->tls)
		*tls = smtps ? SMTP_TLS_IMPLICIT : SMTP_TLS_STARTTLS;
	else if (strcmp(s->tls, "starttls") == 0)
		*tls = SMTP_TLS_STARTTLS;
	else if (strcmp(s->tls, "implicit") == 0)
		*tls = SMTP_TLS_IMPLICIT;
	else if (strcmp(s->tls, "none") == 0)
		*tls = SMTP_TLS_NONE;
	else
		return crier_fail(err, errlen, "\"tls\" must be \"starttls\", \"implicit\" or \"none\"");
	if (smtps != (*tls == SMTP_TLS_IMPLICIT))
		return crier_fail(err, errlen,
		                  "\"tls\": \"implicit\" goes with an smtps:// URL, the others with smtp://");
	if (!s->username != !s->password)
		return crier_fail(err, errlen, "\"username\" and \"password\" go together");
	if (s->password && *tls == SMTP_TLS_NONE && !is_loopback(host))
		return crier_fail(err, errlen,
		                  "\"password\" would cross the network in clear text: use \"tls\": \"starttls\" or "
		                  "\"implicit\" (plain SMTP with a password is allowed to a loopback host only)");
	return 0;
}

static int address_key(json_t *v, const char *key, mime_address *out, char *err, size_t errlen)
{
	const char *s;
	char why[160];

	if (crier_json_string(v, key, &s, err, errlen) != 0)
		return -1;
	if (mime_address_parse(s, out, why, sizeof(why)) != 0)
		return crier_fail(err, errlen, "\"%s\" %s", key, why);
	return 0;
}

static int load_templates(crier_instance *inst, json_t *overrides, char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	char why[512];
	size_t i;

	if (overrides && !json_is_object(overrides))
		return crier_fail(err, errlen,
		                  "\"templates\" must be an object of template name to text or \"file:path\"");
	json_object_foreach(overrides, name, v)
	{
		if (crier_lookup(name, template_names, N_TPL) < 0)
			return crier_fail(err, errlen,
			                  "templates: unknown template \"%s\"; known: subject, text, html, "
			                  "confirm_subject, confirm_text, confirm_html",
			                  name);
		if (!json_is_string(v))
			return crier_fail(err, errlen, "templates: \"%s\" must be a string", name);
	}
	i = crier_templates_load(inst->api, inst->host, overrides, template_names, N_TPL, inst->tpl, why, sizeof(why));
	if (i < N_TPL)
		return crier_fail(err, errlen, "template \"%s\": %s", template_names[i], why[0] ? why : "cannot load");
	return 0;
}

static int parse_config(crier_instance *inst, const char *config_json, char *err, size_t errlen)
{
	struct settings s = {.timeout_ms = DEFAULT_TIMEOUT_MS};
	smtp_options o;
	json_t *root, *v;
	const char *key, *domain = NULL;
	int ret = -1;

	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	json_object_foreach(root, key, v)
	{
		int rc = 0;
		if (strcmp(key, "url") == 0) {
			rc = crier_json_string(v, key, &s.url, err, errlen);
		} else if (strcmp(key, "tls") == 0) {
			rc = crier_json_string(v, key, &s.tls, err, errlen);
		} else if (strcmp(key, "username") == 0) {
			rc = crier_json_string(v, key, &s.username, err, errlen);
		} else if (strcmp(key, "password") == 0) {
			rc = crier_json_string(v, key, &s.password, err, errlen);
		} else if (strcmp(key, "ca_file") == 0) {
			rc = crier_json_string(v, key, &s.ca_file, err, errlen);
		} else if (strcmp(key, "timeout_ms") == 0) {
			rc = crier_json_int(v, key, 1, MAX_TIMEOUT_MS, &s.timeout_ms, err, errlen);
		} else if (strcmp(key, "from") == 0) {
			rc = address_key(v, key, &inst->from, err, errlen);
		} else if (strcmp(key, "reply_to") == 0) {
			rc = address_key(v, key, &inst->reply_to, err, errlen);
		} else if (strcmp(key, "message_id_domain") == 0) {
			rc = crier_json_string(v, key, &domain, err, errlen);
			if (rc == 0 && (!mime_domain_valid(domain) || strlen(domain) > MSGID_DOMAIN_MAX))
				rc = crier_fail(err, errlen,
				                "\"message_id_domain\" must be a domain name like \"example.com\"");
		} else if (strcmp(key, "templates") == 0) {
			s.templates = v;
		} else {
			rc = crier_fail(
			    err, errlen,
			    "unknown key \"%s\"; known keys: url, tls, username, password, ca_file, timeout_ms, "
			    "from, reply_to, message_id_domain, templates",
			    key);
		}
		if (rc != 0)
			goto out;
	}
	if (!s.url || !inst->from.addr) {
		crier_fail(err, errlen, "missing required key \"%s\"", !s.url ? "url" : "from");
		goto out;
	}
	o = (smtp_options){.url = s.url,
	                   .username = s.username,
	                   .password = s.password,
	                   .ca_file = s.ca_file,
	                   .timeout_ms = s.timeout_ms};
	if (check_transport(&s, &o.tls, err, errlen) != 0)
		goto out;
	if (!domain) {
		domain = mime_address_domain(inst->from.addr);
		if (strlen(domain) > MSGID_DOMAIN_MAX) {
			crier_fail(err, errlen,
			           "the \"from\" domain is too long for Message-IDs: set \"message_id_domain\"");
			goto out;
		}
	}
	inst->msgid_domain = strdup(domain);
	inst->smtp = smtp_client_new(&o);
	if (!inst->msgid_domain || !inst->smtp) {
		crier_fail(err, errlen, "out of memory");
		goto out;
	}
	ret = load_templates(inst, s.templates, err, errlen);
out:
	json_decref(root);
	return ret;
}

static void email_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	for (int i = 0; i < N_TPL; i++)
		if (inst->tpl[i])
			inst->api->template_free(inst->tpl[i]);
	smtp_client_free(inst->smtp);
	mime_address_free(&inst->from);
	mime_address_free(&inst->reply_to);
	free(inst->msgid_domain);
	free(inst);
}

static int email_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
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
		email_destroy(inst);
		return -1;
	}
	*out = inst;
	return 0;
}

/* ---- delivery ---- */

/* What one delivery needs from the event document. */
struct event {
	json_int_t id, incident_id;
	const char *type, *opened_at; /* borrowed from doc */
	json_t *doc;                  /* new */
};

static int read_event(const char *json, struct event *ev)
{
	json_t *inc;

	ev->doc = json_loads(json, 0, NULL);
	inc = json_object_get(ev->doc, "incident");
	ev->id = json_integer_value(json_object_get(ev->doc, "id"));
	ev->type = json_string_value(json_object_get(ev->doc, "type"));
	ev->incident_id = json_integer_value(json_object_get(inc, "id"));
	ev->opened_at = json_string_value(json_object_get(inc, "opened_at"));
	/* A subscription's confirmation belongs to no incident. */
	if (ev->type && strcmp(ev->type, CONFIRM_EVENT) == 0)
		return ev->id > 0 ? 0 : -1;
	return ev->doc && ev->type && ev->opened_at && ev->id > 0 && ev->incident_id > 0 ? 0 : -1;
}

/* The incident's root Message-ID from the stored state, if it holds a valid one. */
static char *state_root(const char *state)
{
	json_t *st = state ? json_loads(state, 0, NULL) : NULL;
	const char *r = json_string_value(json_object_get(st, "root"));
	char *out = r && mime_msgid_valid(r) ? strdup(r) : NULL;

	json_decref(st);
	return out;
}

static char *render(crier_instance *inst, crier_delivery *d, int which, const char *json)
{
	char err[512] = "", msg[600];
	char *s = inst->api->template_render(inst->tpl[which], json, template_escapes[which], err, sizeof(err));

	if (!s) {
		snprintf(msg, sizeof(msg), "template \"%s\": %s", template_names[which],
		         err[0] ? err : "cannot render");
		inst->api->set_error(d, msg);
	}
	return s;
}

/* The rendered subject cut to SUBJECT_MAX_CODEPOINTS (new), or NULL. */
static char *subject_of(crier_instance *inst, crier_delivery *d, int which, const char *json)
{
	char *s = render(inst, d, which, json);
	char *fit;

	if (!s || inst->api->text_measure(s, CRIER_MEASURE_CODEPOINTS) <= SUBJECT_MAX_CODEPOINTS)
		return s;
	fit = inst->api->text_fit(s, CRIER_MEASURE_CODEPOINTS, SUBJECT_MAX_CODEPOINTS, NULL);
	free(s);
	if (!fit)
		inst->api->set_error(d, "out of memory");
	return fit;
}

static crier_result email_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *json = api->delivery_json(d), *key = api->delivery_key(d);
	const char *rcpt = api->delivery_recipient(d);
	struct event ev = {0};
	mime_address to = {0};
	char *stored = NULL, *subject = NULL, *text = NULL, *html = NULL, *msg = NULL;
	char root[256], own[256], incident[24], why[512], errmsg[600];
	crier_result res = CRIER_FAIL;
	size_t len;

	if (!json || !key) {
		api->set_error(d, "the host gave no event JSON or idempotency key");
		return CRIER_FAIL;
	}
	if (!rcpt) {
		api->set_error(d, "no recipient: list the addresses in the instance's \"recipients\"");
		return CRIER_FAIL;
	}
	if (mime_address_parse(rcpt, &to, why, sizeof(why)) != 0) {
		snprintf(errmsg, sizeof(errmsg), "the recipient %s", why);
		api->set_error(d, errmsg);
		return CRIER_FAIL;
	}
	if (read_event(json, &ev) != 0) {
		api->set_error(d, "the event lacks its id, type or incident (id, opened_at)");
		goto out;
	}
	int confirm = strcmp(ev.type, CONFIRM_EVENT) == 0, base = confirm ? TPL_CONFIRM : 0;
	/* Mail to a subscriber says how to stop it, in a way clients act on. */
	const char *unsub =
	    json_string_value(json_object_get(json_object_get(ev.doc, "subscriber"), "unsubscribe_url"));
	if (unsub && !mime_url_valid(unsub)) {
		api->set_error(d, "the subscriber's unsubscribe_url is not an http(s) URL");
		goto out;
	}
	subject = subject_of(inst, d, base + TPL_SUBJECT, json);
	text = subject ? render(inst, d, base + TPL_TEXT, json) : NULL;
	html = text ? render(inst, d, base + TPL_HTML, json) : NULL;
	if (!html)
		goto out;

	/* A confirmation stands alone: no thread, no state. */
	stored = confirm ? NULL : state_root(api->delivery_state(d));
	/* Not the incident's key: a public instance's events do not carry it. */
	snprintf(incident, sizeof(incident), "%lld", (long long)ev.incident_id);
	snprintf(root, sizeof(root), "<crier.inc-%lld.%016llx@%s>", (long long)ev.incident_id,
	         (unsigned long long)mime_hash(
	             mime_hash(mime_hash(MIME_HASH_INIT, api->instance_name(inst->host)), incident),
	             ev.opened_at ? ev.opened_at : ""),
	         inst->msgid_domain);
	snprintf(own, sizeof(own), "<crier.inc-%lld.e%lld.%016llx@%s>", (long long)ev.incident_id, (long long)ev.id,
	         (unsigned long long)mime_hash(mime_hash(MIME_HASH_INIT, key), to.addr), inst->msgid_domain);
	if (stored)
		snprintf(root, sizeof(root), "%s", stored);
	int opening = strcmp(ev.type, "opened") == 0;
	if (confirm)
		snprintf(own, sizeof(own), "<crier.confirm.e%lld.%016llx@%s>", (long long)ev.id,
		         (unsigned long long)mime_hash(mime_hash(MIME_HASH_INIT, key), to.addr), inst->msgid_domain);
	mime_message m = {.date_ms = api->now_ms(),
	                  .from = &inst->from,
	                  .to = &to,
	                  .reply_to = inst->reply_to.addr ? &inst->reply_to : NULL,
	                  .subject = subject,
	                  .message_id = opening ? root : own,
	                  .in_reply_to = opening || confirm ? NULL : root,
	                  .text = text,
	                  .html = html,
	                  .list_unsubscribe = unsub};
	msg = mime_build(&m, &len);
	if (!msg) {
		api->set_error(d, "cannot build the message (out of memory)");
		res = CRIER_RETRY;
		goto out;
	}
	switch (smtp_send(inst->smtp, inst->from.addr, to.addr, msg, len, why, sizeof(why))) {
	case SMTP_SENT:
		res = CRIER_OK;
		if (!stored && !confirm) {
			char state[300];
			snprintf(state, sizeof(state), "{\"root\":\"%s\"}", root);
			api->set_state(d, state);
		}
		break;
	case SMTP_TRANSIENT:
		api->set_error(d, why);
		res = CRIER_RETRY;
		break;
	case SMTP_REFUSED:
		api->set_error(d, why);
		res = CRIER_FAIL;
		break;
	}
out:
	free(msg);
	free(stored);
	free(subject);
	free(text);
	free(html);
	json_decref(ev.doc);
	mime_address_free(&to);
	return res;
}

static const crier_plugin email_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "email",
    .description = "send each event by SMTP to every recipient, threaded per incident",
    .init = email_init,
    .deliver = email_deliver,
    .destroy = email_destroy,
};

CRIER_PLUGIN_DEFINE(email_plugin)
