/* The cadence of public updates; see cadence.h and docs/incidents.md. */
#include "cadence.h"

#include "audience.h"
#include "log.h"
#include "mustache.h"
#include "timefmt.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many steps per tick; the rest come at once in the next. */
#define TICK_MAX 64

struct cadence {
	store *st;
	incidents *inc;
	const config *cfg;
	store_clock *k; /* one per open public incident: few */
	size_t n, cap;
};

/* ---- the rules ------------------------------------------------------------- */

int64_t cadence_due_at(const store_clock *k, const config *cfg)
{
	switch (k->stage) {
	case CADENCE_STAGE_FIRST:
		return k->cycle;
	case CADENCE_STAGE_WAIT:
		return k->cycle + cfg->update_every_ms;
	default:
		return k->cycle + cfg->escalate_after_ms;
	}
}

cadence_action cadence_step(const store_clock *k, const config *cfg, int64_t now)
{
	if (now < cadence_due_at(k, cfg))
		return CADENCE_NONE;
	switch (k->stage) {
	case CADENCE_STAGE_FIRST:
		return CADENCE_FIRST_MESSAGE;
	case CADENCE_STAGE_WAIT:
		return now >= k->cycle + cfg->escalate_after_ms ? CADENCE_ESCALATE : CADENCE_REMIND;
	default:
		return CADENCE_ESCALATE;
	}
}

/* Events that only ever happen to an open incident: the first of them on a
 * public incident starts its clock (not a draft's, nor a resolution's). */
static int starts_clock(const char *type)
{
	static const char *const open_types[] = {"opened",        "alert_joined", "alert_resolved", "severity_raised",
	                                         "state_changed", "acknowledged", "update"};
	for (size_t i = 0; i < sizeof(open_types) / sizeof(open_types[0]); i++)
		if (strcmp(type, open_types[i]) == 0)
			return 1;
	return 0;
}

/* ---- the clocks -------------------------------------------------------------- */

static store_clock *find(cadence *cd, int64_t id)
{
	for (size_t i = 0; i < cd->n; i++)
		if (cd->k[i].incident_id == id)
			return &cd->k[i];
	return NULL;
}

static int append(cadence *cd, const store_clock *k)
{
	if (cd->n == cd->cap) {
		size_t cap = cd->cap ? cd->cap * 2 : 16;
		store_clock *grown = realloc(cd->k, cap * sizeof(*grown));
		if (!grown)
			return -1;
		cd->k = grown;
		cd->cap = cap;
	}
	cd->k[cd->n++] = *k;
	return 0;
}

static int load_one(const store_clock *k, void *ctx)
{
	return append(ctx, k);
}

int cadence_reload(cadence *cd, int64_t now)
{
	cd->n = 0;
	return store_clock_load(cd->st, now, AUDIENCE_PUBLIC, CADENCE_STAGE_WAIT, load_one, cd);
}

cadence *cadence_new(store *st, incidents *inc, const config *cfg, int64_t now, char *err, size_t errlen)
{
	cadence *cd = calloc(1, sizeof(*cd));
	if (!cd) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*cd = (cadence){.st = st, .inc = inc, .cfg = cfg};
	if (cadence_reload(cd, now) < 0) {
		snprintf(err, errlen, "cannot load the update clocks from the store: %s", store_error(st));
		cadence_free(cd);
		return NULL;
	}
	return cd;
}

void cadence_free(cadence *cd)
{
	if (!cd)
		return;
	free(cd->k);
	free(cd);
}

void cadence_set_config(cadence *cd, const config *cfg)
{
	cd->cfg = cfg;
}

int64_t cadence_next_deadline(const cadence *cd)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < cd->n; i++) {
		int64_t at = cadence_due_at(&cd->k[i], cd->cfg);
		if (at < next)
			next = at;
	}
	return next;
}

static int drop(cadence *cd, int64_t id)
{
	store_clock *k = find(cd, id);
	if (!k)
		return 0;
	*k = cd->k[--cd->n];
	return store_clock_del(cd->st, id);
}

int cadence_on_event(cadence *cd, int64_t incident_id, const char *type, int audience, int64_t now)
{
	if (!(audience & AUDIENCE_PUBLIC))
		return 0;
	store_clock *k = find(cd, incident_id);
	if (strcmp(type, "resolved") == 0)
		return drop(cd, incident_id);
	int update = strcmp(type, "update") == 0;
	if (!k) {
		if (!starts_clock(type))
			return 0;
		/* Public from now: the first public update is owed at once, unless this is it. */
		store_clock fresh = {.incident_id = incident_id, .public_at = now, .cycle = now};
		if (append(cd, &fresh) < 0)
			return -1;
		k = &cd->k[cd->n - 1];
	} else if (!update) {
		return 0;
	}
	if (update) {
		k->last_update = now;
		k->cycle = now;
		k->stage = CADENCE_STAGE_WAIT;
	}
	return store_clock_put(cd->st, k);
}

/* ---- steps --------------------------------------------------------------------- */

/* Impact and workaround for customers: from the first of the incident's
 * alerts (by start) that carries each. A new object, or NULL. */
static json_t *public_annotations(cadence *cd, int64_t id)
{
	static const char *const keys[] = {"impact", "workaround"};
	json_t *alerts = store_alerts_json(cd->st, id), *out = json_object(), *a;
	size_t i;
	if (!alerts || !out)
		goto fail;
	json_array_foreach(alerts, i, a)
	{
		const json_t *ann = json_object_get(a, "annotations");
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
			json_t *v = json_object_get(ann, keys[j]);
			if (json_is_string(v) && json_string_length(v) && !json_object_get(out, keys[j]) &&
			    json_object_set(out, keys[j], v) < 0)
				goto fail;
		}
	}
	json_decref(alerts);
	return out;
fail:
	json_decref(alerts);
	json_decref(out);
	return NULL;
}

char *cadence_first_update(cadence *cd, int64_t id, int64_t now, char *err, size_t errlen)
{
	char when[40], *text = NULL;
	json_t *doc = NULL, *pub = NULL, *inc = NULL, *ann = NULL;
	if (!cd->cfg->first_update) {
		snprintf(err, errlen, "templates/core/first_update.mustache is missing");
		return NULL;
	}
	inc = incidents_doc(cd->inc, id);
	ann = public_annotations(cd, id);
	/* Shaped like an event, so the template sees exactly what a public channel would. */
	if (inc && ann)
		doc = json_pack("{ss ss sO s{sO}}", "type", "update", "time", timefmt_format(now, when, sizeof(when)),
		                "incident", inc, "alert", "annotations", ann);
	if (!doc || !(pub = audience_public_doc(doc))) {
		snprintf(err, errlen, inc ? "out of memory" : "no incident %" PRId64, id);
		goto out;
	}
	text = mustache_render(cd->cfg->first_update, pub, CRIER_ESCAPE_NONE, NULL, NULL, err, errlen);
	if (!text)
		goto out;
	size_t len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (!len) {
		snprintf(err, errlen, "templates/core/first_update.mustache rendered nothing");
		free(text);
		text = NULL;
	}
out:
	json_decref(doc);
	json_decref(pub);
	json_decref(inc);
	json_decref(ann);
	return text;
}

/* The "cadence" member of reminder-like events (docs/events.md). */
static json_t *cadence_member(const store_clock *k, int64_t now)
{
	char a[40], b[40];
	int64_t quiet_from = k->last_update ? k->last_update : k->public_at;
	return json_pack("{s{ss ss? sI}}", "cadence", "public_since", timefmt_format(k->public_at, a, sizeof(a)),
	                 "last_public_update", k->last_update ? timefmt_format(k->last_update, b, sizeof(b)) : NULL,
	                 "silent_seconds", (json_int_t)((now - quiet_from) / 1000));
}

/* The internal message of a reminder-like event: what is wrong, and the command that fixes it. */
static void step_message(const store_clock *k, cadence_action a, int64_t now, char *buf, size_t n)
{
	char span[64], clock[32], cmd[96];
	const char *lead = a == CADENCE_ESCALATE ? "Escalated: customers" : "Customers";
	snprintf(cmd, sizeof(cmd), "crierctl update %" PRId64 " --message \"...\"", k->incident_id);
	if (a == CADENCE_FIRST_MESSAGE)
		snprintf(buf, n,
		         "Incident %" PRId64
		         " is public and customers have not been told yet. Post the first update: %s",
		         k->incident_id, cmd);
	else if (k->last_update)
		snprintf(buf, n, "%s have had no update for %s (the last at %s). Post one: %s", lead,
		         timefmt_span(now - k->last_update, span, sizeof(span)),
		         timefmt_clock(k->last_update, clock, sizeof(clock)), cmd);
	else
		snprintf(buf, n,
		         "%s have not been told about incident %" PRId64 ", public for %s. Post the first update: %s",
		         lead, k->incident_id, timefmt_span(now - k->public_at, span, sizeof(span)), cmd);
}

/* Record one reminder-like event on the clock's incident. 1 done, 0 the incident is closed, -1. */
static int note(cadence *cd, const store_clock *k, const char *type, cadence_action a, int64_t now)
{
	char msg[512];
	step_message(k, a, now, msg, sizeof(msg));
	json_t *extra = cadence_member(k, now);
	if (!extra)
		return -1;
	int64_t ev = incidents_note(cd->inc, k->incident_id, type, "crier", msg, extra, now);
	json_decref(extra);
	return ev == -2 ? 0 : ev < 0 ? -1 : 1;
}

/* crier's own first update: an "update" event, so it restarts the clock (cadence_on_event). 1, 0 failed, -1. */
static int post_first_update(cadence *cd, int64_t id, int64_t now)
{
	char err[256];
	char *text = cadence_first_update(cd, id, now, err, sizeof(err));
	if (!text) {
		log_warn("cannot write the first public update; prompting people for it instead",
		         " incident=%" PRId64 " error=%s", id, log_q(err));
		return 0;
	}
	int64_t ev = incidents_note(cd->inc, id, "update", "crier", text, NULL, now);
	free(text);
	if (ev == -2)
		return drop(cd, id) < 0 ? -1 : 1;
	return ev < 0 ? -1 : 1;
}

static int take_step(cadence *cd, int64_t id, int64_t now)
{
	store_clock *k = find(cd, id);
	if (!k)
		return 0;
	cadence_action a = cadence_step(k, cd->cfg, now);
	int r;
	switch (a) {
	case CADENCE_FIRST_MESSAGE:
		if (!cd->cfg->first_message_human) {
			r = post_first_update(cd, id, now);
			/* Posted: cadence_on_event restarted the clock. */
			if (r != 0)
				return r;
		}
		r = note(cd, k, "awaiting_first_update", a, now);
		break;
	case CADENCE_REMIND:
		r = note(cd, k, "reminder", a, now);
		break;
	case CADENCE_ESCALATE:
		r = note(cd, k, "escalation", a, now);
		break;
	default:
		return 0;
	}
	if (r < 0)
		return -1;
	if (r == 0)
		return drop(cd, id); /* closed behind our back: nothing more to chase */
	/* The events went through cadence_on_event, which never moves an
	 * existing clock for these types: k still points at it. */
	k = find(cd, id);
	if (!k)
		return 0;
	k->stage = a == CADENCE_REMIND ? CADENCE_STAGE_REMINDED : CADENCE_STAGE_WAIT;
	if (a == CADENCE_ESCALATE)
		k->cycle = now; /* and the chase begins again */
	if (store_clock_put(cd->st, k) < 0)
		return -1;
	if (a == CADENCE_ESCALATE)
		log_warn("no public update: escalated", " incident=%" PRId64, id);
	return 1;
}

int cadence_tick(cadence *cd, int64_t now, int64_t *next_ms)
{
	int64_t due[TICK_MAX];
	size_t nd = 0;
	int more = 0, done = 0;
	for (size_t i = 0; i < cd->n; i++) {
		if (cadence_step(&cd->k[i], cd->cfg, now) == CADENCE_NONE)
			continue;
		if (nd < TICK_MAX)
			due[nd++] = cd->k[i].incident_id;
		else
			more = 1;
	}
	for (size_t i = 0; i < nd; i++) {
		int r = take_step(cd, due[i], now);
		if (r < 0)
			return -1;
		done += r;
	}
	*next_ms = more ? now : cadence_next_deadline(cd);
	return done;
}
