/*
 * Incident engine. See incidents.h for the rules; docs/incidents.md for the
 * operator's view. Every change goes to the store in the caller's
 * transaction and becomes an event whose document (docs/events.md) is
 * written once, so a plugin later sees the incident as it was then.
 */
#include "incidents.h"

#include "alert.h"
#include "audience.h"
#include "hmap.h"
#include "json_writer.h"
#include "log.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct incident {
	int64_t id;
	char *key;
	char *title;
	const char *state;       /* one of the static state names below */
	const char *saved_state; /* the state as the store has it, NULL when not known */
	int severity;
	int human;
	json_t *labels;
	int64_t opened_at, updated_at, resolved_at, hold_until;
	int firing;   /* alerts currently firing in it */
	int audience; /* AUDIENCE_* flags, sticky (audience.h) */
	int dirty;    /* changed since it was last written (see incidents_flush) */
	/* Made from labels when first needed, dropped when they change (labels_changed). */
	char *labels_txt;        /* as JSON text */
	char *components_txt;    /* audience_components, as JSON text */
	unsigned components_gen; /* the configuration it was made with (incidents.cfg_gen) */
} incident;

/* What we remember of an alert to tell a duplicate from a change. */
typedef struct alert_entry {
	int firing;
	int64_t starts_at;
	int64_t incident_id; /* 0 = none */
} alert_entry;

struct incidents {
	store *st;
	const config *cfg;
	incidents_emit_fn emit;
	void *emit_ctx;
	hmap *alerts;       /* "source\x1fkey" -> alert_entry */
	hmap *by_key;       /* group key -> open incident */
	hmap *by_id;        /* decimal id -> open incident */
	int64_t last_event; /* id of the newest event recorded */
	int64_t *dirty;     /* ids of incidents to write at incidents_flush */
	size_t n_dirty, cap_dirty;
	unsigned cfg_gen; /* counts configurations: what was made from an older one is stale */
	/* Kept from one event to the next, so writing one allocates nothing. */
	json_writer doc, alert_labels, alert_annotations;
};

static const char ST_INVESTIGATING[] = "investigating";
static const char ST_IDENTIFIED[] = "identified";
static const char ST_MONITORING[] = "monitoring";
static const char ST_RESOLVED[] = "resolved";

static const char *state_canonical(const char *s)
{
	static const char *const all[] = {ST_INVESTIGATING, ST_IDENTIFIED, ST_MONITORING, ST_RESOLVED};
	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, all[i]) == 0)
			return all[i];
	return NULL;
}

/* Forget the texts made from inc's labels: they changed. */
static void labels_changed(incident *inc)
{
	free(inc->labels_txt);
	free(inc->components_txt);
	inc->labels_txt = inc->components_txt = NULL;
}

/* inc's labels as JSON text (borrowed from inc), or NULL when out of memory.
 * Every event and every write of the incident carries them; they change
 * only when an alert joining narrows them. */
static const char *labels_text(incident *inc)
{
	if (!inc->labels_txt)
		inc->labels_txt = json_writer_dumps(inc->labels);
	return inc->labels_txt;
}

static void incident_free(incident *inc)
{
	if (!inc)
		return;
	free(inc->key);
	free(inc->title);
	json_decref(inc->labels);
	labels_changed(inc);
	free(inc);
}

/* The id in decimal, without snprintf: the core looks an incident up by id
 * for every alert it is sent. size must be >= 21. */
static void id_key(int64_t id, char *buf, size_t size)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (id < 0)
		*--p = '-';
	if ((size_t)(tmp + sizeof(tmp) - p) <= size)
		memcpy(buf, p, (size_t)(tmp + sizeof(tmp) - p));
	else if (size > 0)
		buf[0] = '\0';
}

static incident *find_by_id(incidents *m, int64_t id)
{
	char k[24];
	id_key(id, k, sizeof(k));
	return hmap_get(m->by_id, k);
}

static int index_incident(incidents *m, incident *inc)
{
	char k[24];
	id_key(inc->id, k, sizeof(k));
	if (hmap_put(m->by_key, inc->key, inc) < 0)
		return -1;
	if (hmap_put(m->by_id, k, inc) < 0) {
		hmap_del(m->by_key, inc->key);
		return -1;
	}
	return 0;
}

static void unindex_incident(incidents *m, incident *inc)
{
	char k[24];
	id_key(inc->id, k, sizeof(k));
	hmap_del(m->by_id, k);
	if (hmap_get(m->by_key, inc->key) == inc)
		hmap_del(m->by_key, inc->key);
}

/* Free what alert_identity gave, unless it is buf. */
static void map_key_free(char *mk, const char *buf)
{
	if (mk != buf)
		free(mk);
}

/* ---- loading ------------------------------------------------------------ */

static int load_incident(const store_incident *row, void *ctx)
{
	incidents *m = ctx;
	incident *inc = calloc(1, sizeof(*inc));
	if (!inc)
		return -1;
	inc->id = row->id;
	inc->key = strdup(row->key);
	inc->title = strdup(row->title);
	inc->state = inc->saved_state = state_canonical(row->state);
	inc->severity = row->severity;
	inc->human = row->human;
	inc->labels = row->labels ? json_deep_copy(row->labels) : json_object();
	inc->opened_at = row->opened_at;
	inc->updated_at = row->updated_at;
	inc->resolved_at = row->resolved_at;
	inc->hold_until = row->hold_until;
	inc->audience = row->audience;
	if (!inc->key || !inc->title || !inc->labels || !inc->state || index_incident(m, inc) < 0) {
		incident_free(inc);
		return -1;
	}
	return 0;
}

static int load_alert(const char *source, const char *key, int firing, int64_t starts_at, int64_t incident_id,
                      void *ctx)
{
	incidents *m = ctx;
	alert_entry *e = malloc(sizeof(*e));
	char buf[256];
	char *mk = alert_identity(source, key, buf, sizeof(buf));
	if (!e || !mk) {
		free(e);
		map_key_free(mk, buf);
		return -1;
	}
	incident *inc = incident_id ? find_by_id(m, incident_id) : NULL;
	*e = (alert_entry){.firing = firing, .starts_at = starts_at, .incident_id = inc ? incident_id : 0};
	if (firing && inc)
		inc->firing++;
	int rc = 0;
	if (!firing && !inc)
		free(e); /* resolved, its incident closed: nothing to remember */
	else if (hmap_put(m->alerts, mk, e) < 0) {
		free(e);
		rc = -1;
	}
	map_key_free(mk, buf);
	return rc;
}

static void free_value(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	free(value);
}

static void free_incident_value(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	incident_free(value);
}

static void drop_index(incidents *m)
{
	if (m->alerts)
		hmap_each(m->alerts, free_value, NULL);
	if (m->by_id)
		hmap_each(m->by_id, free_incident_value, NULL);
	hmap_free(m->alerts);
	hmap_free(m->by_key);
	hmap_free(m->by_id);
	m->alerts = m->by_key = m->by_id = NULL;
}

int incidents_reload(incidents *m)
{
	m->n_dirty = 0;
	drop_index(m);
	m->alerts = hmap_new();
	m->by_key = hmap_new();
	m->by_id = hmap_new();
	if (!m->alerts || !m->by_key || !m->by_id)
		return -1;
	if (store_incident_load(m->st, load_incident, m) < 0 || store_alert_load(m->st, load_alert, m) < 0)
		return -1;
	return 0;
}

incidents *incidents_new(store *s, const config *cfg, incidents_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	incidents *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->st = s;
	m->cfg = cfg;
	m->emit = emit;
	m->emit_ctx = ctx;
	if (incidents_reload(m) < 0) {
		snprintf(err, errlen, "cannot load incidents from the store: %s", store_error(s));
		incidents_free(m);
		return NULL;
	}
	return m;
}

void incidents_free(incidents *m)
{
	if (!m)
		return;
	drop_index(m);
	free(m->dirty);
	json_writer_free(&m->doc);
	json_writer_free(&m->alert_labels);
	json_writer_free(&m->alert_annotations);
	free(m);
}

void incidents_set_config(incidents *m, const config *cfg)
{
	m->cfg = cfg;
	m->cfg_gen++;
}

size_t incidents_open_count(const incidents *m)
{
	return hmap_size(m->by_id);
}

size_t incidents_alert_count(const incidents *m)
{
	return hmap_size(m->alerts);
}

/* ---- persistence and events --------------------------------------------- */

static int save_incident(incidents *m, incident *inc)
{
	const char *labels = labels_text(inc);
	if (!labels)
		return -1;
	store_incident row = {
	    .id = inc->id,
	    .key = inc->key,
	    .title = inc->title,
	    .state = inc->state,
	    .severity = inc->severity,
	    .human = inc->human,
	    .labels_txt = labels,
	    .opened_at = inc->opened_at,
	    .updated_at = inc->updated_at,
	    .resolved_at = inc->resolved_at,
	    .hold_until = inc->hold_until,
	    .audience = inc->audience,
	    .same_state = inc->state == inc->saved_state,
	};
	if (store_incident_put(m->st, &row) < 0)
		return -1;
	inc->id = row.id;
	inc->saved_state = inc->state;
	inc->dirty = 0;
	return 0;
}

/*
 * Alerts change an incident many times in one batch (a group of ten new
 * alerts is ten changes): write it once, when the batch commits.
 */
static int mark_dirty(incidents *m, incident *inc)
{
	if (inc->dirty)
		return 0;
	if (m->n_dirty == m->cap_dirty) {
		size_t cap = m->cap_dirty ? m->cap_dirty * 2 : 64;
		int64_t *grown = realloc(m->dirty, cap * sizeof(*grown));
		if (!grown)
			return -1;
		m->dirty = grown;
		m->cap_dirty = cap;
	}
	m->dirty[m->n_dirty++] = inc->id;
	inc->dirty = 1;
	return 0;
}

int incidents_flush(incidents *m)
{
	int rc = 0;
	for (size_t i = 0; i < m->n_dirty; i++) {
		incident *inc = find_by_id(m, m->dirty[i]);
		if (!inc || !inc->dirty)
			continue; /* closed meanwhile: written when it closed */
		inc->dirty = 0;
		if (save_incident(m, inc) < 0)
			rc = -1;
	}
	m->n_dirty = 0;
	return rc;
}

/* A time member: RFC 3339, or null for 0 (not set). */
static void write_time(json_writer *w, const char *key, int64_t ms)
{
	char buf[40];
	json_writer_key(w, key);
	if (ms)
		json_writer_string(w, timefmt_format(ms, buf, sizeof(buf)));
	else
		json_writer_null(w);
}

/* The names of the components inc affects, as a JSON array's text (borrowed
 * from inc), or NULL when out of memory. Depends on the labels and the
 * configuration only. */
static const char *components_text(const incidents *m, incident *inc)
{
	if (inc->components_txt && inc->components_gen == m->cfg_gen)
		return inc->components_txt;
	json_t *names = audience_components(m->cfg, inc->labels);
	char *txt = names ? json_writer_dumps(names) : NULL;
	json_decref(names);
	if (!txt)
		return NULL;
	free(inc->components_txt);
	inc->components_txt = txt;
	inc->components_gen = m->cfg_gen;
	return txt;
}

/* The "incident" object of an event document (docs/events.md). */
static void write_incident(json_writer *w, const incidents *m, incident *inc)
{
	const char *labels = labels_text(inc), *components = components_text(m, inc);
	if (!labels || !components) {
		w->failed = 1;
		return;
	}
	json_writer_begin_object(w);
	json_writer_key(w, "id");
	json_writer_int(w, inc->id);
	json_writer_key(w, "key");
	json_writer_string(w, inc->key);
	json_writer_key(w, "title");
	json_writer_string(w, inc->title);
	json_writer_key(w, "state");
	json_writer_string(w, inc->state);
	json_writer_key(w, "severity");
	json_writer_string(w, alert_severity_name(inc->severity));
	json_writer_key(w, "labels");
	json_writer_raw(w, labels, strlen(labels));
	write_time(w, "opened_at", inc->opened_at);
	write_time(w, "updated_at", inc->updated_at);
	write_time(w, "resolved_at", inc->resolved_at);
	json_writer_key(w, "alerts_firing");
	json_writer_int(w, inc->firing);
	json_writer_key(w, "human");
	json_writer_bool(w, inc->human);
	json_writer_key(w, "public");
	json_writer_bool(w, (inc->audience & AUDIENCE_PUBLIC) != 0);
	json_writer_key(w, "security");
	json_writer_bool(w, (inc->audience & AUDIENCE_SECURITY) != 0);
	json_writer_key(w, "components");
	json_writer_raw(w, components, strlen(components));
	json_writer_end_object(w);
}

/*
 * Closed (or not in a broken index) incident id as the store has it, into
 * *tmp, whose strings and labels are borrowed from the returned row (new:
 * json_decref it once done with tmp). NULL when there is no such incident.
 */
static json_t *stored_incident(incidents *m, int64_t id, incident *tmp)
{
	json_t *row = store_incident_json(m->st, id);
	if (!row)
		return NULL;
	const char *key = json_string_value(json_object_get(row, "key"));
	const char *title = json_string_value(json_object_get(row, "title"));
	const char *state = state_canonical(json_string_value(json_object_get(row, "state")));
	json_t *labels = json_object_get(row, "labels");
	if (!key || !title || !state || !json_is_object(labels)) {
		json_decref(row);
		return NULL;
	}
	*tmp = (incident){.id = id,
	                  .key = (char *)key,
	                  .title = (char *)title,
	                  .state = state,
	                  .severity = (int)json_integer_value(json_object_get(row, "severity")),
	                  .human = (int)json_integer_value(json_object_get(row, "human")),
	                  .labels = labels,
	                  .opened_at = json_integer_value(json_object_get(row, "opened_at")),
	                  .updated_at = json_integer_value(json_object_get(row, "updated_at")),
	                  .resolved_at = json_integer_value(json_object_get(row, "resolved_at")),
	                  .firing = (int)json_integer_value(json_object_get(row, "alerts_firing")),
	                  .audience = (int)json_integer_value(json_object_get(row, "audience"))};
	return row;
}

json_t *incidents_doc(incidents *m, int64_t id)
{
	incident tmp, *inc = find_by_id(m, id);
	json_t *row = inc ? NULL : stored_incident(m, id, &tmp);
	json_writer w = JSON_WRITER_INIT;
	if (!inc && !row)
		return NULL;
	write_incident(&w, m, inc ? inc : &tmp);
	if (row)
		labels_changed(&tmp);
	json_decref(row);
	/* The same text every event carries, read back: one writer of it. */
	const char *txt = json_writer_text(&w);
	json_t *doc = txt ? json_loads(txt, JSON_ALLOW_NUL, NULL) : NULL;
	json_writer_free(&w);
	return doc;
}

/* The texts of a normalized alert's labels and annotations (borrowed), made
 * once for both its row and its events' documents. NULL for a member the
 * alert lacks (the parsers always set both). */
typedef struct alert_texts {
	const char *labels, *annotations;
} alert_texts;

static int make_alert_texts(incidents *m, const json_t *a, alert_texts *t)
{
	const json_t *labels = json_object_get(a, "labels"), *ann = json_object_get(a, "annotations");
	json_writer_reset(&m->alert_labels);
	json_writer_reset(&m->alert_annotations);
	if (labels)
		json_writer_value(&m->alert_labels, labels);
	if (ann)
		json_writer_value(&m->alert_annotations, ann);
	t->labels = labels ? json_writer_text(&m->alert_labels) : NULL;
	t->annotations = ann ? json_writer_text(&m->alert_annotations) : NULL;
	return (labels && !t->labels) || (ann && !t->annotations) ? -1 : 0;
}

/* A member holding a value of the alert (borrowed); one it lacks fails. */
static void write_member(json_writer *w, const char *key, const json_t *v)
{
	json_writer_key(w, key);
	json_writer_value(w, v);
}

/* The "alert" object of an event document: the alert as it came in. */
static void write_alert(json_writer *w, const json_t *a, const alert_texts *t)
{
	json_writer_begin_object(w);
	write_member(w, "source", json_object_get(a, "source"));
	write_member(w, "key", json_object_get(a, "key"));
	write_member(w, "status", json_object_get(a, "status"));
	json_writer_key(w, "labels");
	if (t->labels)
		json_writer_raw(w, t->labels, strlen(t->labels));
	else
		w->failed = 1;
	json_writer_key(w, "annotations");
	if (t->annotations)
		json_writer_raw(w, t->annotations, strlen(t->annotations));
	else
		w->failed = 1;
	write_time(w, "starts_at", json_integer_value(json_object_get(a, "starts_at")));
	write_time(w, "ends_at", json_integer_value(json_object_get(a, "ends_at")));
	const json_t *link = json_object_get(a, "link");
	if (link)
		write_member(w, "link", link);
	else {
		json_writer_key(w, "link");
		json_writer_null(w);
	}
	json_writer_end_object(w);
}

typedef struct previous {
	const char *state; /* NULL = not part of this event */
	int severity;
} previous;

/* Members of extra must not repeat the event's own (json_object_update
 * would have replaced them where they stood). */
static int own_member(const json_t *extra)
{
	static const char *const own[] = {"type",     "time",  "actor",       "message",
	                                  "incident", "alert", "severity_is", "previous"};
	for (size_t i = 0; extra && i < sizeof(own) / sizeof(own[0]); i++)
		if (json_object_get(extra, own[i]))
			return 1;
	return 0;
}

/*
 * The one place an event is made: its document written (docs/events.md),
 * the event stored, and handed to the router. The stored document lacks
 * "id" and "idempotency_key": both are spliced in at delivery (one insert,
 * no update), see outbox.c. The event id, -1 when the store failed, or
 * what the router returned when below 0.
 */
static int64_t record(incidents *m, incident *inc, const incidents_event *e, const json_t *alert, const alert_texts *at,
                      const previous *prev, int64_t now)
{
	json_writer *w = &m->doc;
	if (own_member(e->lead) || own_member(e->extra))
		return -1;
	json_writer_reset(w);
	json_writer_begin_object(w);
	json_writer_key(w, "type");
	json_writer_string(w, e->type);
	write_time(w, "time", now);
	json_writer_key(w, "actor");
	json_writer_string(w, e->actor ? e->actor : "");
	json_writer_key(w, "message");
	json_writer_string(w, e->message ? e->message : "");
	if (e->lead)
		json_writer_members(w, e->lead);
	json_writer_key(w, "incident");
	write_incident(w, m, inc);
	if (alert) {
		json_writer_key(w, "alert");
		write_alert(w, alert, at);
	}
	if (!e->no_severity_is) {
		/* Mustache cannot compare: templates branch on {{#severity_is.critical}}. */
		json_writer_key(w, "severity_is");
		json_writer_begin_object(w);
		json_writer_key(w, alert_severity_name(inc->severity));
		json_writer_bool(w, 1);
		json_writer_end_object(w);
	}
	if (prev) {
		json_writer_key(w, "previous");
		json_writer_begin_object(w);
		json_writer_key(w, "state");
		json_writer_string(w, prev->state ? prev->state : inc->state);
		json_writer_key(w, "severity");
		json_writer_string(w, alert_severity_name(prev->severity));
		json_writer_end_object(w);
	}
	if (e->extra)
		json_writer_members(w, e->extra);
	json_writer_end_object(w);
	const char *txt = json_writer_text(w);
	if (!txt)
		return -1;
	int64_t ev = store_event_add(m->st, inc->id, e->type, now, e->actor, e->message, txt);
	if (ev < 0)
		return -1;
	m->last_event = ev;
	int rc = m->emit(m->emit_ctx, ev, inc->id, e->type, inc->severity, inc->labels, inc->audience, e->also_to, now);
	return rc < 0 ? rc : ev;
}

int64_t incidents_record(incidents *m, int64_t id, const incidents_event *e, int64_t now)
{
	incident tmp, *inc = find_by_id(m, id);
	json_t *row = inc ? NULL : stored_incident(m, id, &tmp);
	if (!inc && !row)
		return -1;
	int64_t ev = record(m, inc ? inc : &tmp, e, NULL, NULL, NULL, now);
	if (row)
		labels_changed(&tmp);
	json_decref(row);
	return ev;
}

/* An event about a change to open incident inc (alert: the alert that
 * made it, with its texts, or NULL). What the incident is now decides who
 * may hear of it (sticky: see audience.h). */
static int emit_doc(incidents *m, incident *inc, const incidents_event *e, const json_t *alert, const alert_texts *at,
                    const previous *prev, int64_t now)
{
	int aud = inc->audience | audience_classify(m->cfg, inc->labels, inc->severity,
	                                            alert ? json_object_get(alert, "labels") : NULL);
	if (aud != inc->audience) {
		inc->audience = aud;
		if (inc->id && mark_dirty(m, inc) < 0)
			return -1;
	}
	return record(m, inc, e, alert, at, prev, now) < 0 ? -1 : 0;
}

static int emit(incidents *m, incident *inc, const char *type, const char *actor, const char *message,
                const json_t *alert, const alert_texts *at, const previous *prev, int64_t now)
{
	incidents_event e = {.type = type, .actor = actor, .message = message};
	return emit_doc(m, inc, &e, alert, at, prev, now);
}

static int set_state(incidents *m, incident *inc, const char *state, const char *actor, const char *message,
                     int64_t now)
{
	if (inc->state == state)
		return 0;
	previous prev = {.state = inc->state, .severity = inc->severity};
	inc->state = state;
	inc->updated_at = now;
	return emit(m, inc, "state_changed", actor, message, NULL, NULL, &prev, now);
}

/* ---- alerts --------------------------------------------------------------- */

/*
 * The group key from the configured label names, e.g. "service=api" (a new
 * string, or NULL when out of memory). Alerts with none of them group by
 * their alertname.
 */
static char *group_key(const config *cfg, const json_t *labels)
{
	size_t len = 1, i;
	json_t *name;
	json_array_foreach(cfg->group_by, i, name)
	{
		const char *v = json_string_value(json_object_get(labels, json_string_value(name)));
		if (v)
			len += strlen(json_string_value(name)) + strlen(v) + 2;
	}
	if (len == 1) {
		const char *an = json_string_value(json_object_get(labels, "alertname"));
		char *gk;
		return asprintf(&gk, "alertname=%s", an ? an : "unnamed") < 0 ? NULL : gk;
	}
	char *gk = malloc(len), *p = gk;
	if (!gk)
		return NULL;
	json_array_foreach(cfg->group_by, i, name)
	{
		const char *n = json_string_value(name);
		const char *v = json_string_value(json_object_get(labels, n));
		if (v)
			p += sprintf(p, "%s%s=%s", p == gk ? "" : ",", n, v);
	}
	return gk;
}

/*
 * An incident's labels are those every one of its alerts shares, like
 * Alertmanager's commonLabels: the opening alert's, narrowed as others join.
 * Routes match on them.
 */
static json_t *labels_of(const json_t *a)
{
	json_t *labels = json_deep_copy(json_object_get(a, "labels"));
	if (labels && !json_object_get(labels, "alertname") &&
	    json_object_set_new(labels, "alertname", json_string("unnamed")) < 0) {
		json_decref(labels);
		return NULL;
	}
	return labels;
}

static void narrow_labels(incident *inc, const json_t *labels)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(inc->labels, tmp, k, v)
	{
		const char *other = json_string_value(json_object_get(labels, k));
		if (!other || strcmp(other, json_string_value(v)) != 0) {
			json_object_del(inc->labels, k);
			labels_changed(inc);
		}
	}
}

static const char *alert_title(const json_t *a, const char *fallback)
{
	const char *t = json_string_value(json_object_get(json_object_get(a, "annotations"), "summary"));
	if (!t || !*t)
		t = json_string_value(json_object_get(json_object_get(a, "labels"), "alertname"));
	return (t && *t) ? t : fallback;
}

static const char *alert_severity(const json_t *a)
{
	return json_string_value(json_object_get(json_object_get(a, "labels"), "severity"));
}

static incident *open_incident(incidents *m, const char *gk, const json_t *a, int64_t now)
{
	incident *inc = calloc(1, sizeof(*inc));
	if (!inc)
		return NULL;
	inc->key = strdup(gk);
	inc->title = strdup(alert_title(a, gk));
	inc->state = ST_INVESTIGATING;
	inc->severity = alert_severity_rank(alert_severity(a));
	inc->labels = labels_of(a);
	int64_t starts = json_integer_value(json_object_get(a, "starts_at"));
	inc->opened_at = (starts > 0 && starts <= now) ? starts : now;
	inc->updated_at = now;
	if (!inc->key || !inc->title || !inc->labels || save_incident(m, inc) < 0 || index_incident(m, inc) < 0) {
		incident_free(inc);
		return NULL;
	}
	return inc;
}

static const char *alert_actor(const json_t *a)
{
	const char *s = json_string_value(json_object_get(a, "source"));
	return s ? s : "alert";
}

static const char *alert_message(const json_t *a)
{
	const char *s = json_string_value(json_object_get(json_object_get(a, "annotations"), "summary"));
	return s ? s : "";
}

/* The alert starts firing (new, or again after it resolved). */
static int alert_fires(incidents *m, const json_t *a, alert_entry *e, const char *mk, int64_t now)
{
	int ret = -1;
	/* crier's own alerts may name their group (alert.h); no ingest path sets it. */
	const char *own = json_string_value(json_object_get(a, "group"));
	char *gk = own ? strdup(own) : group_key(m->cfg, json_object_get(a, "labels"));
	if (!gk)
		goto out;
	incident *inc = hmap_get(m->by_key, gk);
	int opened = 0;
	if (!inc) {
		inc = open_incident(m, gk, a, now);
		if (!inc)
			goto out;
		opened = 1;
	} else {
		narrow_labels(inc, json_object_get(a, "labels"));
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || hmap_put(m->alerts, mk, e) < 0) {
			free(e);
			goto out;
		}
	}
	e->firing = 1; /* if it was firing in a closed incident, it now counts in this one */
	e->starts_at = json_integer_value(json_object_get(a, "starts_at"));
	e->incident_id = inc->id;
	inc->firing++;
	inc->updated_at = now;
	alert_texts at;
	if (make_alert_texts(m, a, &at) < 0 || store_alert_put(m->st, a, at.labels, at.annotations, inc->id, now) < 0)
		goto out;
	if (opened) {
		if (emit(m, inc, "opened", alert_actor(a), alert_message(a), a, &at, NULL, now) < 0)
			goto out;
	} else {
		if (emit(m, inc, "alert_joined", alert_actor(a), alert_message(a), a, &at, NULL, now) < 0)
			goto out;
		/* A re-fire during the hold continues the incident. */
		inc->hold_until = 0;
		if (inc->state == ST_MONITORING && !inc->human &&
		    set_state(m, inc, ST_INVESTIGATING, "crier", "an alert fired again during monitoring", now) < 0)
			goto out;
		int rank = alert_severity_rank(alert_severity(a));
		if (rank > inc->severity) {
			previous prev = {.state = NULL, .severity = inc->severity};
			inc->severity = rank;
			if (emit(m, inc, "severity_raised", alert_actor(a), alert_message(a), a, &at, &prev, now) < 0)
				goto out;
		}
	}
	if (mark_dirty(m, inc) < 0)
		goto out;
	ret = 1;
out:
	/* On failure the caller rolls back and reloads the whole index. */
	free(gk);
	return ret;
}

/* A firing alert resolves. */
static int alert_resolves(incidents *m, const json_t *a, alert_entry *e, const char *mk, int64_t now)
{
	incident *inc = e->incident_id ? find_by_id(m, e->incident_id) : NULL;
	e->firing = 0;
	alert_texts at;
	if (make_alert_texts(m, a, &at) < 0 ||
	    store_alert_put(m->st, a, at.labels, at.annotations, e->incident_id, now) < 0)
		return -1;
	if (!inc) {
		/* Its incident was closed by a person already: nothing to tell. */
		free(hmap_del(m->alerts, mk));
		return 1;
	}
	inc->firing--;
	inc->updated_at = now;
	/* The last alert resolving is told as the move to monitoring, not as
	 * one more alert_resolved; a person's state is left alone. */
	if (inc->firing == 0 && (!inc->human || inc->state == ST_MONITORING)) {
		inc->hold_until = now + m->cfg->hold_ms;
		if (inc->state != ST_MONITORING) {
			if (set_state(m, inc, ST_MONITORING, alert_actor(a), "all alerts resolved; monitoring", now) <
			    0)
				return -1;
		} else if (emit(m, inc, "alert_resolved", alert_actor(a), alert_message(a), a, &at, NULL, now) < 0) {
			return -1;
		}
	} else if (emit(m, inc, "alert_resolved", alert_actor(a), alert_message(a), a, &at, NULL, now) < 0) {
		return -1;
	}
	return mark_dirty(m, inc) < 0 ? -1 : 1;
}

int incidents_apply(incidents *m, const json_t *a, const alert_head *h, int64_t now)
{
	alert_head own;
	if (!h) {
		alert_head_of(a, &own);
		h = &own;
	}
	/* An identity too long for a head is made here, from the alert (rare:
	 * a new string each time). */
	char *long_id = NULL;
	const char *mk = h->id;
	alert_entry *e;
	if (h->id_len) {
		e = hmap_get_hashed(m->alerts, mk, h->hash);
	} else {
		const char *source = json_string_value(json_object_get(a, "source"));
		const char *key = json_string_value(json_object_get(a, "key"));
		if (!source || !key)
			return 0; /* the parsers never produce this */
		if (!(mk = long_id = alert_identity(source, key, NULL, 0)))
			return -1;
		e = hmap_get(m->alerts, mk);
	}
	int rc;

	if (!e) {
		/* A resolved alert we never saw fire: nothing to tell. */
		rc = h->firing ? alert_fires(m, a, NULL, mk, now) : 0;
	} else if (h->firing && e->firing) {
		/* Same occurrence (Alertmanager re-sends whole groups; HA pairs send
		 * twice), unless it fires anew (new startsAt) after its incident
		 * closed. Most alerts a busy Alertmanager sends end here, decided
		 * by their heads alone. */
		int open = e->incident_id && find_by_id(m, e->incident_id);
		rc = (open || h->starts_at == 0 || h->starts_at == e->starts_at) ? 0 : alert_fires(m, a, e, mk, now);
	} else if (h->firing) {
		/* Firing again after it resolved: a new occurrence has a new startsAt;
		 * the same one is a stale copy (an HA peer lagging behind). */
		rc = (h->starts_at != 0 && h->starts_at == e->starts_at) ? 0 : alert_fires(m, a, e, mk, now);
	} else {
		rc = e->firing ? alert_resolves(m, a, e, mk, now) : 0;
	}
	free(long_id);
	return rc;
}

/* ---- timers ---------------------------------------------------------------- */

typedef struct tick_ctx {
	int64_t now, next;
	incident *due[64];
	size_t n_due;
} tick_ctx;

static void tick_visit(const char *key, void *value, void *ctx)
{
	(void)key;
	tick_ctx *t = ctx;
	incident *inc = value;
	if (inc->state != ST_MONITORING || inc->firing > 0 || !inc->hold_until)
		return;
	if (inc->hold_until <= t->now) {
		if (t->n_due < sizeof(t->due) / sizeof(t->due[0]))
			t->due[t->n_due++] = inc;
		else
			t->next = t->now; /* more than fit: come back at once */
	} else if (inc->hold_until < t->next) {
		t->next = inc->hold_until;
	}
}

typedef struct forget_ctx {
	int64_t incident_id;
	char **keys;
	size_t n, cap;
	int oom;
} forget_ctx;

static void forget_visit(const char *key, void *value, void *ctx)
{
	forget_ctx *f = ctx;
	const alert_entry *e = value;
	if (e->firing || e->incident_id != f->incident_id || f->oom)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		char **grown = realloc(f->keys, cap * sizeof(*grown));
		if (!grown) {
			f->oom = 1;
			return;
		}
		f->keys = grown;
		f->cap = cap;
	}
	if (!(f->keys[f->n] = strdup(key)))
		f->oom = 1;
	else
		f->n++;
}

/* Once an incident closes, its resolved alerts need not be remembered: a
 * later firing of one is a new occurrence anyway. Keeps memory bounded by
 * what is open, whatever the churn of alert identities. */
static void forget_resolved(incidents *m, int64_t incident_id)
{
	forget_ctx f = {.incident_id = incident_id};
	hmap_each(m->alerts, forget_visit, &f);
	for (size_t i = 0; i < f.n; i++) {
		free(hmap_del(m->alerts, f.keys[i]));
		free(f.keys[i]);
	}
	free(f.keys);
}

static int close_incident(incidents *m, incident *inc, const char *actor, const char *message, int64_t now)
{
	inc->state = ST_RESOLVED;
	inc->resolved_at = now;
	inc->updated_at = now;
	inc->hold_until = 0;
	if (save_incident(m, inc) < 0 || emit(m, inc, "resolved", actor, message, NULL, NULL, NULL, now) < 0)
		return -1;
	forget_resolved(m, inc->id);
	unindex_incident(m, inc);
	incident_free(inc);
	return 0;
}

static void deadline_visit(const char *key, void *value, void *ctx)
{
	(void)key;
	const incident *inc = value;
	int64_t *next = ctx;
	if (inc->state == ST_MONITORING && inc->firing == 0 && inc->hold_until && inc->hold_until < *next)
		*next = inc->hold_until;
}

int64_t incidents_next_deadline(const incidents *m)
{
	int64_t next = INT64_MAX;
	hmap_each(m->by_id, deadline_visit, &next);
	return next;
}

int incidents_tick(incidents *m, int64_t now, int64_t *next_ms)
{
	tick_ctx t = {.now = now, .next = INT64_MAX};
	hmap_each(m->by_id, tick_visit, &t);
	for (size_t i = 0; i < t.n_due; i++)
		if (close_incident(m, t.due[i], "crier", "resolved: no alert fired during the monitoring hold", now) <
		    0)
			return -1;
	*next_ms = t.next;
	return (int)t.n_due;
}

/* ---- people ------------------------------------------------------------------ */

int64_t incidents_human(incidents *m, int64_t id, const char *action, const char *state, const char *message,
                        const char *actor, int64_t now, char *err, size_t errlen)
{
	incident *inc = find_by_id(m, id);
	if (!inc) {
		snprintf(err, errlen, "no open incident %" PRId64, id);
		return -2;
	}
	const char *want = NULL;
	if (state && *state) {
		want = state_canonical(state);
		if (!want) {
			snprintf(err, errlen,
			         "unknown state \"%.32s\" (use investigating, identified, monitoring or resolved)",
			         state);
			return -3;
		}
	}
	if (strcmp(action, "ack") == 0) {
		if (inc->state == ST_INVESTIGATING)
			inc->state = ST_IDENTIFIED;
		inc->updated_at = now;
		if (save_incident(m, inc) < 0 ||
		    emit(m, inc, "acknowledged", actor, message, NULL, NULL, NULL, now) < 0)
			return -1;
	} else if (strcmp(action, "resolve") == 0 || want == ST_RESOLVED) {
		inc->human = 1;
		if (close_incident(m, inc, actor, message ? message : "resolved by a person", now) < 0)
			return -1;
	} else if (strcmp(action, "update") == 0) {
		if (!message || !*message) {
			snprintf(err, errlen, "an update needs a message");
			return -3;
		}
		previous prev = {.state = inc->state, .severity = inc->severity};
		if (want) {
			inc->state = want;
			inc->human = 1;
			inc->hold_until = (want == ST_MONITORING && inc->firing == 0) ? now + m->cfg->hold_ms : 0;
		}
		inc->updated_at = now;
		if (save_incident(m, inc) < 0 ||
		    emit(m, inc, "update", actor, message, NULL, NULL, want ? &prev : NULL, now) < 0)
			return -1;
	} else {
		snprintf(err, errlen, "unknown action \"%.16s\"", action);
		return -3;
	}
	return m->last_event;
}

int64_t incidents_note(incidents *m, int64_t id, const char *type, const char *actor, const char *message,
                       const json_t *extra, int64_t now)
{
	incident *inc = find_by_id(m, id);
	if (!inc)
		return -2;
	incidents_event e = {.type = type, .actor = actor, .message = message, .extra = extra};
	if (emit_doc(m, inc, &e, NULL, NULL, NULL, now) < 0)
		return -1;
	return m->last_event;
}
