#include "model.h"

#include "fsio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OOM (-2)

static const char *const known_states[] = {"investigating", "identified", "monitoring", "resolved"};

/* What an event type does to the page. */
typedef enum kind {
	KIND_IGNORED, /* not the page's business: drafts, and types this plugin does not know */
	KIND_QUIET,   /* refreshes the incident (severity, title, components) without an entry */
	KIND_ENTRY    /* an entry in the incident's updates, stamped with its time and state */
} kind;

static kind event_kind(const char *type)
{
	static const char *const entries[] = {"opened", "acknowledged", "update", "state_changed", "resolved"};
	static const char *const quiet[] = {"alert_joined", "alert_resolved", "severity_raised",
	                                    "postmortem_published"};

	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(type, entries[i]) == 0)
			return KIND_ENTRY;
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		if (strcmp(type, quiet[i]) == 0)
			return KIND_QUIET;
	return KIND_IGNORED;
}

int model_state_known(const char *state)
{
	for (size_t i = 0; state && i < sizeof(known_states) / sizeof(known_states[0]); i++)
		if (strcmp(state, known_states[i]) == 0)
			return 1;
	return 0;
}

int64_t model_time_ms(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	long long frac_ms = 0;
	int64_t off_s = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		int digits = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*s - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om, m2 = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &m2) != 2 || m2 != 5)
			return -1;
		off_s = (int64_t)(oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
		s += 6;
	} else {
		return -1;
	}
	if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return ((int64_t)t - off_s) * 1000 + frac_ms;
}

/* ---- the document ---- */

json_t *model_new(void)
{
	json_t *m = json_pack("{si si ss si s{} s{}}", "format", MODEL_FORMAT, "version", 0, "updated_at", "",
	                      "updated_ms", 0, "incidents", "targets");
	return m;
}

/* Fill what an older or hand-edited file lacks, refuse what is not a model. */
static int check_loaded(json_t *m, char *err, size_t errlen)
{
	json_t *incs = json_object_get(m, "incidents"), *targets = json_object_get(m, "targets"), *inc;
	const char *k;

	if (!json_is_object(m) || json_integer_value(json_object_get(m, "format")) != MODEL_FORMAT) {
		snprintf(err, errlen, "not a format %d statuspage model", MODEL_FORMAT);
		return -1;
	}
	if (!json_is_object(incs) || !json_is_object(targets) || !json_is_integer(json_object_get(m, "version"))) {
		snprintf(err, errlen, "the model lacks incidents, targets or version");
		return -1;
	}
	json_object_foreach(incs, k, inc)
	{
		if (!json_is_object(inc) || !json_is_integer(json_object_get(inc, "id")) ||
		    !json_is_array(json_object_get(inc, "updates")) || !json_is_string(json_object_get(inc, "state"))) {
			snprintf(err, errlen, "incident %s of the model is malformed", k);
			return -1;
		}
	}
	return 0;
}

int model_load(const char *path, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *m;

	*out = NULL;
	m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!m) {
		FILE *f = fopen(path, "r");
		if (!f && errno == ENOENT) {
			*out = model_new();
			if (!*out)
				snprintf(err, errlen, "out of memory");
			return *out ? 0 : -1;
		}
		if (!f) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			return -1;
		}
		fclose(f);
		snprintf(err, errlen, "%s: line %d: %s", path, jerr.line, jerr.text);
		return -2;
	}
	if (check_loaded(m, err, errlen) != 0) {
		json_decref(m);
		return -2;
	}
	*out = m;
	return 0;
}

int model_save(const char *path, const json_t *m, char *err, size_t errlen)
{
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	int ret = 0;

	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* 0600: the model is the plugin's private state, not the published site. */
	if (fsio_replace(path, text, strlen(text), 0600) != 0) {
		snprintf(err, errlen, "cannot save %s: %s", path, strerror(errno));
		ret = -1;
	}
	free(text);
	return ret;
}

json_t *model_target(json_t *m, const char *key)
{
	json_t *targets = json_object_get(m, "targets"), *t;

	if (!targets)
		return NULL;
	t = json_object_get(targets, key);
	if (json_is_object(t) && json_is_object(json_object_get(t, "files")))
		return t;
	t = json_pack("{si s{}}", "version", 0, "files");
	if (!t || json_object_set_new(targets, key, t) != 0)
		return NULL;
	return t;
}

/* ---- folding events ---- */

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Set o[key] = v (stolen) and note whether that changed anything. */
static int set_noting(json_t *o, const char *key, json_t *v, int *changed)
{
	if (!v)
		return OOM;
	json_t *old = json_object_get(o, key);
	if (old && json_equal(old, v)) {
		json_decref(v);
		return 0;
	}
	if (json_object_set_new(o, key, v) != 0)
		return OOM;
	*changed = 1;
	return 0;
}

static int label_truthy(const json_t *labels, const char *name)
{
	const char *v = str_of(labels, name);
	return v && (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0);
}

static int labels_match(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;

	if (!json_is_object(want) || json_object_size(want) == 0 || !json_is_object(have))
		return 0;
	json_object_foreach((json_t *)want, k, v)
	{
		const char *h = str_of(have, k);
		if (!h || !json_is_string(v) || strcmp(h, json_string_value(v)) != 0)
			return 0;
	}
	return 1;
}

/* The incident's component names: the core's own list when it names some
 * (its public.components, docs/audience.md), else this instance's matching. */
static json_t *components_of(const json_t *inc, const model_component *comps, size_t n_comps)
{
	const json_t *named = json_object_get(inc, "components");
	json_t *out = json_array(), *v;
	size_t i;

	if (!out)
		return NULL;
	if (json_array_size(named) > 0) {
		json_array_foreach(named, i, v)
		{
			int dup = 0;
			size_t j;
			json_t *w;
			if (!json_is_string(v) || json_string_length(v) == 0)
				continue;
			json_array_foreach(out, j, w) dup |= json_equal(v, w);
			if (!dup && json_array_append(out, v) != 0)
				goto oom;
		}
		return out;
	}
	for (i = 0; i < n_comps; i++)
		if (labels_match(comps[i].labels, json_object_get(inc, "labels")) &&
		    json_array_append_new(out, json_string(comps[i].name)) != 0)
			goto oom;
	return out;
oom:
	json_decref(out);
	return NULL;
}

/* Refresh the record from the incident as the event saw it. */
static int refresh(json_t *rec, const json_t *inc, const char *type, const char *ev_time, const model_component *comps,
                   size_t n_comps, int *changed)
{
	const char *title = str_of(inc, "title"), *state = str_of(inc, "state"), *sev = str_of(inc, "severity");
	const char *opened = str_of(inc, "opened_at"), *resolved = str_of(inc, "resolved_at");
	int rc = 0;

	if (title && *title)
		rc |= set_noting(rec, "title", json_string(title), changed);
	if (model_state_known(state))
		rc |= set_noting(rec, "state", json_string(state), changed);
	if (sev && *sev)
		rc |= set_noting(rec, "severity", json_string(sev), changed);
	rc |= set_noting(rec, "maintenance", json_boolean(label_truthy(json_object_get(inc, "labels"), "maintenance")),
	                 changed);
	rc |= set_noting(rec, "components", components_of(inc, comps, n_comps), changed);
	if (opened && model_time_ms(opened) >= 0) {
		rc |= set_noting(rec, "opened_at", json_string(opened), changed);
		rc |= set_noting(rec, "opened_ms", json_integer(model_time_ms(opened)), changed);
	}
	if (!resolved && (strcmp(type, "resolved") == 0 || (state && strcmp(state, "resolved") == 0)))
		resolved = ev_time;
	if (state && strcmp(state, "resolved") != 0 && strcmp(type, "resolved") != 0)
		resolved = NULL; /* an incident that moves on is open again */
	if (resolved && model_time_ms(resolved) >= 0) {
		rc |= set_noting(rec, "resolved_at", json_string(resolved), changed);
		rc |= set_noting(rec, "resolved_ms", json_integer(model_time_ms(resolved)), changed);
	} else if (!resolved) {
		rc |= set_noting(rec, "resolved_at", json_null(), changed);
		rc |= set_noting(rec, "resolved_ms", json_integer(0), changed);
	}
	if (strcmp(type, "resolved") == 0)
		rc |= set_noting(rec, "state", json_string("resolved"), changed);
	return rc ? OOM : 0;
}

/*
 * A postmortem_published event: its HTML (crier renders it from a strict
 * Markdown subset with everything else escaped, docs/postmortems.md) goes on
 * the incident's page as it is. The newest publication wins.
 */
static int set_postmortem(json_t *rec, const json_t *event, json_int_t event_id, const char *ev_time, int *changed)
{
	const json_t *pm = json_object_get(event, "postmortem");
	const char *html = str_of(pm, "html");
	const char *at = str_of(pm, "published_at");
	if (!html || event_id < json_integer_value(json_object_get(json_object_get(rec, "postmortem"), "event")))
		return 0;
	if (!at || model_time_ms(at) < 0)
		at = ev_time;
	return set_noting(rec, "postmortem",
	                  json_pack("{sI ss ss sI sI}", "event", event_id, "html", html, "published_at", at,
	                            "published_ms", (json_int_t)model_time_ms(at), "revision",
	                            json_integer_value(json_object_get(pm, "revision"))),
	                  changed);
}

static json_t *new_record(json_int_t id, const json_t *inc, const char *ev_time)
{
	const char *opened = str_of(inc, "opened_at");
	if (!opened || model_time_ms(opened) < 0)
		opened = ev_time;
	return json_pack("{sI ss ss ss sb s[] ss sI sn si sI s[]}", "id", id, "title", "Incident", "state",
	                 "investigating", "severity", "", "maintenance", 0, "components", "opened_at", opened,
	                 "opened_ms", (json_int_t)model_time_ms(opened), "resolved_at", "resolved_ms", 0, "last_event",
	                 (json_int_t)0, "updates");
}

/* Insert entry (stolen) into updates, kept oldest first. */
static int insert_update(json_t *updates, json_t *entry)
{
	json_int_t ms = json_integer_value(json_object_get(entry, "ms"));
	json_int_t ev = json_integer_value(json_object_get(entry, "event"));
	size_t at = json_array_size(updates);

	while (at > 0) {
		json_t *prev = json_array_get(updates, at - 1);
		json_int_t pms = json_integer_value(json_object_get(prev, "ms"));
		json_int_t pev = json_integer_value(json_object_get(prev, "event"));
		if (pms < ms || (pms == ms && pev <= ev))
			break;
		at--;
	}
	if (json_array_insert_new(updates, at, entry) != 0)
		return OOM;
	while (json_array_size(updates) > MODEL_MAX_UPDATES)
		json_array_remove(updates, 1);
	return 0;
}

static int has_entry(const json_t *updates, json_int_t event_id, const char *type)
{
	size_t i;
	json_t *u;

	json_array_foreach(updates, i, u)
	{
		json_int_t e = json_integer_value(json_object_get(u, "event"));
		if (event_id > 0 && e == event_id)
			return 1;
		/* One "opened" entry, whether it came from the event or was
		 * inferred when the first event seen was a later one. */
		if (strcmp(type, "opened") == 0 && strcmp(str_of(u, "type") ? str_of(u, "type") : "", "opened") == 0)
			return 1;
	}
	return 0;
}

static int add_entry(json_t *rec, json_int_t event_id, const char *type, const char *time_s, const char *state,
                     const char *message)
{
	json_t *e =
	    json_pack("{sI ss ss sI ss}", "event", event_id, "type", type, "time", time_s, "ms",
	              (json_int_t)model_time_ms(time_s), "state", model_state_known(state) ? state : "investigating");
	if (!e)
		return OOM;
	if (message && *message && json_object_set_new(e, "message", json_string(message)) != 0) {
		json_decref(e);
		return OOM;
	}
	return insert_update(json_object_get(rec, "updates"), e);
}

static int bump(json_t *m, const char *ev_time)
{
	json_int_t version = json_integer_value(json_object_get(m, "version")) + 1;
	int64_t ms = model_time_ms(ev_time);
	int changed = 0, rc = set_noting(m, "version", json_integer(version), &changed);

	if (ms > json_integer_value(json_object_get(m, "updated_ms"))) {
		rc |= set_noting(m, "updated_ms", json_integer(ms), &changed);
		rc |= set_noting(m, "updated_at", json_string(ev_time), &changed);
	}
	return rc ? OOM : 0;
}

int model_apply(json_t *m, const json_t *event, const model_component *comps, size_t n_comps, int64_t now_ms, char *err,
                size_t errlen)
{
	const json_t *inc = json_object_get(event, "incident");
	const char *type = str_of(event, "type");
	const char *ev_time = str_of(event, "time");
	const char *site_url = str_of(json_object_get(event, "links"), "status_page");
	json_int_t id = json_integer_value(json_object_get(inc, "id"));
	json_int_t event_id = json_integer_value(json_object_get(event, "id"));
	json_t *incs = json_object_get(m, "incidents"), *rec;
	char key[32], now_s[32];
	int changed = 0, rc = 0;
	kind k;

	if (!type || !json_is_object(inc) || !json_is_integer(json_object_get(inc, "id")) || id <= 0) {
		snprintf(err, errlen, "the event has no incident");
		return -1;
	}
	k = event_kind(type);
	if (k == KIND_IGNORED)
		return 0;
	if (!ev_time || model_time_ms(ev_time) < 0) {
		time_t t = (time_t)(now_ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(now_s, sizeof(now_s), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		ev_time = now_s;
	}
	if (site_url && *site_url && set_noting(m, "site_url", json_string(site_url), &changed) != 0)
		goto oom;
	snprintf(key, sizeof(key), "%lld", (long long)id);
	rec = json_object_get(incs, key);
	if (!rec) {
		if (!(rec = new_record(id, inc, ev_time)) || json_object_set_new(incs, key, rec) != 0)
			goto oom;
		changed = 1;
		/* The first event seen may be a later one (the instance was
		 * added, or routed, mid-incident): the page still says when it began. */
		if (strcmp(type, "opened") != 0 &&
		    add_entry(rec, 0, "opened", str_of(rec, "opened_at"), "investigating", NULL) != 0)
			goto oom;
	}
	if (event_id > json_integer_value(json_object_get(rec, "last_event"))) {
		rc |= refresh(rec, inc, type, ev_time, comps, n_comps, &changed);
		rc |= json_object_set_new(rec, "last_event", json_integer(event_id));
		if (rc)
			goto oom;
	}
	if (strcmp(type, "postmortem_published") == 0 && set_postmortem(rec, event, event_id, ev_time, &changed) != 0)
		goto oom;
	if (k == KIND_ENTRY && !has_entry(json_object_get(rec, "updates"), event_id, type)) {
		/* Only a person's words are shown; automation's messages may
		 * quote alert internals. */
		const char *msg = strcmp(type, "update") == 0 ? str_of(event, "message") : NULL;
		const char *state = strcmp(type, "resolved") == 0 ? "resolved" : str_of(inc, "state");
		if (add_entry(rec, event_id, type, ev_time, state, msg) != 0)
			goto oom;
		changed = 1;
	}
	if (changed && bump(m, ev_time) != 0)
		goto oom;
	return changed;
oom:
	snprintf(err, errlen, "out of memory");
	return OOM;
}

int model_prune(json_t *m, int64_t now_ms, int days)
{
	json_t *incs = json_object_get(m, "incidents"), *inc, *tmp;
	const char *k;
	int gone = 0;
	int64_t horizon = now_ms - (int64_t)days * 86400000;

	json_object_foreach_safe(incs, tmp, k, inc)
	{
		json_int_t resolved = json_integer_value(json_object_get(inc, "resolved_ms"));
		if (!json_is_null(json_object_get(inc, "resolved_at")) && resolved > 0 && resolved < horizon) {
			char page[64];
			const char *tk;
			json_t *t;
			snprintf(page, sizeof(page), "incidents/%s.html", k);
			json_object_foreach(json_object_get(m, "targets"), tk, t)
			    json_object_del(json_object_get(t, "files"), page);
			json_object_del(incs, k);
			gone++;
		}
	}
	return gone;
}
