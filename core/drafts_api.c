/* The drafts HTTP API's translation to and from control requests. */
#include "drafts_api.h"

#include "control.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

#define ACTOR_MAX 64

static const struct {
	const char *suffix;
	drafts_api_action action;
	const char *cmd;
	const char *const keys[3]; /* body keys it takes, NULL-terminated */
} actions[] = {
    {"approve", DRAFTS_API_APPROVE, "draft_approve", {"actor", NULL, NULL}},
    {"reject", DRAFTS_API_REJECT, "draft_reject", {"actor", "message", NULL}},
    {"edit", DRAFTS_API_EDIT, "draft_edit", {"actor", "text", NULL}},
};

int drafts_api_path(const char *path)
{
	size_t n = strlen(DRAFTS_API_PREFIX);
	return strncmp(path, DRAFTS_API_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int drafts_api_route(const char *path, drafts_api_action *action, int64_t *id, const char **allow)
{
	const char *p = path + strlen(DRAFTS_API_PREFIX);
	*id = 0;
	if (!drafts_api_path(path))
		return -1;
	if (*p == '\0') {
		*action = DRAFTS_API_LIST;
		*allow = "GET";
		return 0;
	}
	p++; /* the '/' */
	/* A positive decimal id without leading zeros, at most 18 digits. */
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || digits > 18 || p[0] == '0')
		return -1;
	for (size_t i = 0; i < digits; i++)
		*id = *id * 10 + (p[i] - '0');
	p += digits;
	if (*p == '\0') {
		*action = DRAFTS_API_SHOW;
		*allow = "GET";
		return 0;
	}
	if (*p++ != '/')
		return -1;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(p, actions[i].suffix) == 0) {
			*action = actions[i].action;
			*allow = "POST";
			return 0;
		}
	}
	return -1;
}

static int known_key(const char *const *keys, const char *k)
{
	for (size_t i = 0; i < 3 && keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return 1;
	return 0;
}

char *drafts_api_request(drafts_api_action action, int64_t id, const char *body, size_t len, char *err, size_t errlen)
{
	json_t *req = NULL, *in = NULL;
	char *txt = NULL;
	size_t skip = 0;

	if (action == DRAFTS_API_LIST)
		req = json_pack("{ss}", "cmd", "drafts");
	else if (action == DRAFTS_API_SHOW)
		req = json_pack("{ss sI}", "cmd", "draft", "id", (json_int_t)id);
	if (req)
		goto done;
	size_t a = 0;
	while (a < sizeof(actions) / sizeof(actions[0]) && actions[a].action != action)
		a++;
	if (a == sizeof(actions) / sizeof(actions[0])) {
		snprintf(err, errlen, "unknown action");
		return NULL;
	}
	while (skip < len && strchr(" \t\r\n", body[skip]))
		skip++;
	if (skip < len) {
		json_error_t jerr;
		in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!in) {
			snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
			         jerr.text);
			return NULL;
		}
		if (!json_is_object(in)) {
			snprintf(err, errlen, "body: not a JSON object");
			goto out;
		}
		const char *k;
		json_t *v;
		json_object_foreach(in, k, v)
		{
			if (!known_key(actions[a].keys, k)) {
				char known[64];
				text_join(known, sizeof(known), actions[a].keys);
				snprintf(err, errlen, "unknown key \"%.64s\" (known: %s)", k, known);
				goto out;
			}
			if (!json_is_string(v)) {
				snprintf(err, errlen, "%s: not a string", k);
				goto out;
			}
		}
		const char *actor = json_string_value(json_object_get(in, "actor"));
		if (actor && (!*actor || strlen(actor) > ACTOR_MAX || strpbrk(actor, "\r\n\t"))) {
			snprintf(err, errlen, "actor: 1 to %d characters on one line", ACTOR_MAX);
			goto out;
		}
	}
	if (action == DRAFTS_API_EDIT && !json_string_value(json_object_get(in, "text"))) {
		snprintf(err, errlen, "text: missing (send {\"text\": \"the new post\"})");
		goto out;
	}
	req = in ? json_deep_copy(in) : json_object();
	if (!req || json_object_set_new(req, "cmd", json_string(actions[a].cmd)) < 0 ||
	    json_object_set_new(req, "id", json_integer((json_int_t)id)) < 0 ||
	    (!json_object_get(req, "actor") && json_object_set_new(req, "actor", json_string("drafts API")) < 0)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
done:
	txt = json_dumps(req, JSON_COMPACT);
	if (!txt)
		snprintf(err, errlen, "out of memory");
out:
	json_decref(in);
	json_decref(req);
	return txt;
}

json_t *drafts_api_answer(const char *reply, unsigned *status)
{
	json_t *r = json_loads(reply ? reply : "", 0, NULL), *out = NULL;
	if (json_is_true(json_object_get(r, "ok"))) {
		*status = 200;
		json_t *d = json_object_get(r, "draft");
		out = d ? json_incref(d) : json_pack("{sO}", "drafts", json_object_get(r, "drafts"));
	} else {
		const char *e = json_string_value(json_object_get(r, "error"));
		*status = control_reply_status(r, 500);
		out = json_pack("{ss ss}", "status", "error", "error", e ? e : "the core gave no answer");
	}
	json_decref(r);
	return out;
}
