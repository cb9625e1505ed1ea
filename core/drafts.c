/*
 * Drafts. See drafts.h for the lifecycle and docs/drafts.md for the
 * people's side. The drafts table holds the current text and status; the
 * incident's timeline holds what happened, as events whose "draft" object
 * is the draft as it was at that moment.
 */
#include "drafts.h"

#include "log.h"
#include "text.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct drafts {
	store *st;
	incidents *inc;
};

drafts *drafts_new(store *st, incidents *inc)
{
	drafts *dr = calloc(1, sizeof(*dr));
	if (!dr)
		return NULL;
	*dr = (drafts){.st = st, .inc = inc};
	return dr;
}

void drafts_free(drafts *dr)
{
	free(dr);
}

static void set_err(int *code, int c, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void set_err(int *code, int c, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	*code = c;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* What a length is counted in, for people reading a refusal. */
static const char *unit_name(int measure)
{
	switch (measure) {
	case CRIER_MEASURE_BYTES:
		return "bytes";
	case CRIER_MEASURE_MASTODON:
		return "characters (every URL counts as 23)";
	case CRIER_MEASURE_X:
		return "weighted characters (every URL counts as 23)";
	case CRIER_MEASURE_GSM7:
		return "GSM-7 characters";
	case CRIER_MEASURE_UTF16:
		return "UTF-16 units";
	default:
		return "characters";
	}
}

static int time_to_text(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	char buf[40];
	if (!json_is_integer(v))
		return 0;
	return json_object_set_new(o, key, json_string(timefmt_format(json_integer_value(v), buf, sizeof(buf))));
}

/*
 * A draft as people and plugins see it: d, a stored row (store_draft_json,
 * borrowed, changed in place), with RFC 3339 times, plus, while it waits
 * for a decision, how to make one. 0, or -1 when out of memory.
 */
static int draft_view(json_t *d)
{
	int64_t id = (int64_t)json_integer_value(json_object_get(d, "id"));
	if (time_to_text(d, "created_at") < 0 || time_to_text(d, "updated_at") < 0)
		return -1;
	if (strcmp(json_string_value(json_object_get(d, "status")), "pending") == 0 &&
	    (json_object_set_new(d, "approve", json_sprintf("crierctl drafts approve %" PRId64, id)) < 0 ||
	     json_object_set_new(d, "reject", json_sprintf("crierctl drafts reject %" PRId64, id)) < 0 ||
	     json_object_set_new(d, "api", json_sprintf("POST /api/v1/drafts/%" PRId64 "/approve", id)) < 0))
		return -1;
	return 0;
}

static json_t *draft_json(drafts *dr, int64_t id)
{
	json_t *d = store_draft_json(dr->st, id);
	if (d && draft_view(d) < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

json_t *drafts_get(drafts *dr, int64_t id, int *code, char *err, size_t errlen)
{
	json_t *d = draft_json(dr, id);
	if (!d)
		set_err(code, 404, err, errlen, "no draft %" PRId64, id);
	return d;
}

json_t *drafts_list(drafts *dr)
{
	json_t *list = store_drafts_json(dr->st);
	size_t i;
	json_t *d;
	if (!list)
		return NULL;
	/* The rows are whole already: no query per draft. */
	json_array_foreach(list, i, d)
	{
		if (draft_view(d) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/*
 * Record an event of type about draft id on its incident's timeline and
 * route it (and to also_to). Returns the event id, -1 when the store
 * failed, -2 when also_to is not configured.
 */
static int64_t record(drafts *dr, int64_t id, const char *type, const char *actor, const char *message,
                      const char *also_to, int64_t now)
{
	int64_t ret = -1;
	/* The draft's view names its incident: one read of the row. */
	json_t *dj = draft_json(dr, id);
	json_int_t incident = json_integer_value(json_object_get(dj, "incident_id"));
	json_t *member = dj && incident > 0 ? json_pack("{sO}", "draft", dj) : NULL;
	/* Draft events never carried severity_is. */
	incidents_event e = {.type = type,
	                     .actor = actor,
	                     .message = message ? message : "",
	                     .extra = member,
	                     .no_severity_is = 1,
	                     .also_to = also_to};
	if (member)
		ret = incidents_record(dr->inc, incident, &e, now);
	json_decref(member);
	json_decref(dj);
	return ret;
}

int drafts_offered(void *ctx, const char *instance, int64_t event_id, int64_t incident_id, const plugin_host_draft *d,
                   int64_t now)
{
	drafts *dr = ctx;
	store_draft row = {.incident_id = incident_id,
	                   .event_id = event_id,
	                   .instance = (char *)instance,
	                   .network = d->network,
	                   .text = d->text,
	                   .measure = d->measure,
	                   .length = d->length,
	                   .limit = d->limit};
	int64_t id = store_draft_add(dr->st, &row, now);
	if (id < 0)
		return -1;
	char msg[160];
	snprintf(msg, sizeof(msg), "a post for %s waits for approval: crierctl drafts show %" PRId64, d->network, id);
	if (record(dr, id, "draft_created", instance, msg, NULL, now) < 0)
		return -1;
	log_info("draft waits for approval", " draft=%" PRId64 " incident=%" PRId64 " instance=%s", id, incident_id,
	         instance);
	return 0;
}

int drafts_publication(void *ctx, const char *instance, int64_t event_id, int result, const char *error, int64_t now)
{
	drafts *dr = ctx;
	int64_t id = store_draft_by_publication(dr->st, event_id, instance);
	if (id <= 0)
		return id < 0 ? -1 : 0;
	if (result == CRIER_RETRY)
		return store_draft_note(dr->st, id, error, now) < 0 ? -1 : 1;
	int ok = result == CRIER_OK;
	const char *to = ok ? "published" : "failed";
	int moved = store_draft_set_status(dr->st, id, "approved", to, NULL, ok ? NULL : error, 0, now);
	/* A failed publication requeued by a person (crierctl retry) may still succeed. */
	if (moved == 0)
		moved = store_draft_set_status(dr->st, id, "failed", to, NULL, ok ? NULL : error, 0, now);
	if (moved <= 0)
		return moved < 0 ? -1 : 1;
	char msg[600], why[501];
	/* Cut between characters: the event is JSON. */
	text_utf8_copy(why, sizeof(why), error && *error ? error : "the plugin failed");
	if (ok)
		snprintf(msg, sizeof(msg), "published by %s", instance);
	else
		snprintf(msg, sizeof(msg), "not published: %s", why);
	if (record(dr, id, ok ? "draft_published" : "draft_failed", instance, msg, NULL, now) < 0)
		return -1;
	char q[600];
	if (ok)
		log_info("draft published", " draft=%" PRId64 " instance=%s", id, instance);
	else
		log_warn("draft not published", " draft=%" PRId64 " instance=%s error=%s", id, instance,
		         log_quote(q, sizeof(q), error ? error : ""));
	return 1;
}

/* Read draft id for a decision; 1 with *d filled, or 0 with the refusal set. */
static int pending(drafts *dr, int64_t id, store_draft *d, const char *doing, int *code, char *err, size_t errlen)
{
	int got = store_draft_get(dr->st, id, d);
	if (got < 0) {
		set_err(code, 503, err, errlen, "store failed: %s", store_error(dr->st));
		return 0;
	}
	if (got == 0) {
		set_err(code, 404, err, errlen, "no draft %" PRId64, id);
		return 0;
	}
	if (strcmp(d->status, "pending") != 0) {
		set_err(code, 409, err, errlen, "draft %" PRId64 " is %s, not pending: only a pending draft can be %s",
		        id, d->status, doing);
		store_draft_free(d);
		return 0;
	}
	return 1;
}

/* Set status to, then record the event; the draft as it is now, or NULL. */
static json_t *decide(drafts *dr, const store_draft *d, const char *to, const char *type, const char *actor,
                      const char *message, const char *also_to, int64_t now, int *code, char *err, size_t errlen)
{
	if (store_draft_set_status(dr->st, d->id, "pending", to, actor, NULL, 0, now) <= 0) {
		set_err(code, 503, err, errlen, "store failed: %s", store_error(dr->st));
		return NULL;
	}
	int64_t ev = record(dr, d->id, type, actor, message, also_to, now);
	if (ev == -2) {
		set_err(code, 409, err, errlen,
		        "draft %" PRId64 " belongs to %s, which is not configured any more: it cannot be published",
		        d->id, d->instance);
		return NULL;
	}
	/* The publication is the draft_approved delivery to its own instance. */
	if (ev < 0 || (also_to && store_draft_set_status(dr->st, d->id, to, to, NULL, NULL, ev, now) <= 0)) {
		set_err(code, 503, err, errlen, "store failed: %s", store_error(dr->st));
		return NULL;
	}
	json_t *j = draft_json(dr, d->id);
	if (!j)
		set_err(code, 503, err, errlen, "store failed: %s", store_error(dr->st));
	return j;
}

json_t *drafts_approve(drafts *dr, int64_t id, const char *actor, int64_t now, int *code, char *err, size_t errlen)
{
	store_draft d;
	if (!pending(dr, id, &d, "approved", code, err, errlen))
		return NULL;
	char msg[200];
	snprintf(msg, sizeof(msg), "approved for publication by %s", d.instance);
	json_t *j = decide(dr, &d, "approved", "draft_approved", actor, msg, d.instance, now, code, err, errlen);
	if (j)
		log_info("draft approved by a person", " draft=%" PRId64 " instance=%s", id, d.instance);
	store_draft_free(&d);
	return j;
}

json_t *drafts_reject(drafts *dr, int64_t id, const char *actor, const char *message, int64_t now, int *code, char *err,
                      size_t errlen)
{
	store_draft d;
	if (!pending(dr, id, &d, "rejected", code, err, errlen))
		return NULL;
	json_t *j =
	    decide(dr, &d, "rejected", "draft_rejected", actor,
	           message && *message ? message : "rejected: it will not be published", NULL, now, code, err, errlen);
	if (j)
		log_info("draft rejected by a person", " draft=%" PRId64 " instance=%s", id, d.instance);
	store_draft_free(&d);
	return j;
}

json_t *drafts_edit(drafts *dr, int64_t id, const char *text, const char *actor, int64_t now, int *code, char *err,
                    size_t errlen)
{
	store_draft d;
	json_t *valid = text ? json_string(text) : NULL;
	json_decref(valid);
	if (!text || !*text || !valid || strlen(text) > PLUGIN_HOST_DRAFT_MAX) {
		set_err(code, 400, err, errlen, "the new text must be non-empty UTF-8 of at most %d bytes",
		        PLUGIN_HOST_DRAFT_MAX);
		return NULL;
	}
	if (!pending(dr, id, &d, "edited", code, err, errlen))
		return NULL;
	json_t *j = NULL;
	size_t len = text_measure(text, (crier_measure)d.measure);
	if (len == SIZE_MAX) {
		set_err(code, 400, err, errlen, "the new text has a character %s cannot carry", d.network);
	} else if (len > d.limit) {
		set_err(code, 400, err, errlen, "the new text is %zu %s; %s allows %zu", len, unit_name(d.measure),
		        d.network, d.limit);
	} else if (store_draft_set_text(dr->st, id, text, len, now) <= 0 || !(j = draft_json(dr, id))) {
		set_err(code, 503, err, errlen, "store failed: %s", store_error(dr->st));
	} else {
		log_info("draft edited by a person", " draft=%" PRId64 " actor=%s length=%zu", id, log_q(actor), len);
	}
	store_draft_free(&d);
	return j;
}
