/*
 * Cadence and watchdog, with injected time: the pure rules (when a step is
 * due, what it is), then the clocks driven through a real store and incident
 * engine (first update, reminder, escalation, a public update restarting
 * the clock, restarts, non-public incidents), the watchdog's deadline and
 * its MonitoringSilent incident, and the configuration's checks.
 */
#include "audience.h"
#include "cadence.h"
#include "check.h"
#include "config.h"
#include "incidents.h"
#include "mustache.h"
#include "store.h"
#include "timefmt.h"
#include "watchdog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define S      1000 /* ms */
#define MAX_EV 128

static struct {
	char type[32];
	int64_t incident;
	int audience;
} ev[MAX_EV];
static int n_ev;
static cadence *cd; /* the emit callback feeds it, as core_route does */

static int record(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity,
                  const json_t *labels, int audience, const char *also_to, int64_t now)
{
	(void)ctx;
	(void)also_to;
	(void)event_id;
	(void)severity;
	(void)labels;
	if (n_ev < MAX_EV) {
		snprintf(ev[n_ev].type, sizeof(ev[n_ev].type), "%s", type);
		ev[n_ev].incident = incident_id;
		ev[n_ev].audience = audience;
		n_ev++;
	}
	return cd ? cadence_on_event(cd, incident_id, type, audience, now) : 0;
}

static int count(const char *type, int64_t incident)
{
	int n = 0;
	for (int i = 0; i < n_ev; i++)
		n += strcmp(ev[i].type, type) == 0 && (!incident || ev[i].incident == incident);
	return n;
}

static const char *last_type(void)
{
	return n_ev ? ev[n_ev - 1].type : "";
}

static json_t *alert(const char *key, const char *status, const char *alertname, const char *service, const char *sev,
                     json_t *annotations)
{
	json_t *labels = json_pack("{ss ss ss}", "alertname", alertname, "service", service, "severity", sev);
	return json_pack("{ss ss ss so so sI sI ss}", "source", "generic", "key", key, "status", status, "labels",
	                 labels, "annotations",
	                 annotations ? annotations : json_pack("{ss}", "summary", "something broke"), "starts_at",
	                 (json_int_t)0, "ends_at", (json_int_t)0, "link", "");
}

/* One alert in its own transaction; returns the incident it opened or touched (last event's). */
static int64_t apply(store *s, incidents *m, json_t *a, int64_t now)
{
	store_begin(s);
	int r = incidents_apply(m, a, NULL, now);
	incidents_flush(m);
	store_commit(s);
	json_decref(a);
	return r < 0 ? -1 : (n_ev ? ev[n_ev - 1].incident : 0);
}

static int tick(store *s, int64_t now, int64_t *next)
{
	store_begin(s);
	int r = cadence_tick(cd, now, next);
	store_commit(s);
	return r;
}

/* The message of the newest event of type on incident id (new string). */
static char *message_of(store *s, int64_t id, const char *type)
{
	json_t *all = store_events_json(s, id), *e;
	char *out = NULL;
	size_t i;
	json_array_foreach(all, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0) {
			free(out);
			out = strdup(json_string_value(json_object_get(e, "message")));
		}
	}
	json_decref(all);
	return out;
}

static void test_rules(void)
{
	config cfg = {.update_every_ms = 30 * 60 * S, .escalate_after_ms = 60 * 60 * S};
	store_clock k = {.incident_id = 1, .public_at = 1000, .cycle = 1000, .stage = CADENCE_STAGE_FIRST};

	/* The first update is owed at once. */
	CHECK(cadence_due_at(&k, &cfg) == 1000);
	CHECK(cadence_step(&k, &cfg, 999) == CADENCE_NONE);
	CHECK(cadence_step(&k, &cfg, 1000) == CADENCE_FIRST_MESSAGE);

	/* Waiting: a reminder update_every after the cycle began. */
	k.stage = CADENCE_STAGE_WAIT;
	CHECK(cadence_due_at(&k, &cfg) == 1000 + 30 * 60 * S);
	CHECK(cadence_step(&k, &cfg, 1000 + 30 * 60 * S - 1) == CADENCE_NONE);
	CHECK(cadence_step(&k, &cfg, 1000 + 30 * 60 * S) == CADENCE_REMIND);
	/* So late that the escalation is due too: the escalation alone. */
	CHECK(cadence_step(&k, &cfg, 1000 + 60 * 60 * S) == CADENCE_ESCALATE);
	CHECK(cadence_step(&k, &cfg, 1000 + 5 * 60 * 60 * S) == CADENCE_ESCALATE);

	/* Reminded: the escalation escalate_after after the cycle began. */
	k.stage = CADENCE_STAGE_REMINDED;
	CHECK(cadence_due_at(&k, &cfg) == 1000 + 60 * 60 * S);
	CHECK(cadence_step(&k, &cfg, 1000 + 60 * 60 * S - 1) == CADENCE_NONE);
	CHECK(cadence_step(&k, &cfg, 1000 + 60 * 60 * S) == CADENCE_ESCALATE);

	/* The deadlines follow the configuration (a reload). */
	cfg.escalate_after_ms = 45 * 60 * S;
	CHECK(cadence_due_at(&k, &cfg) == 1000 + 45 * 60 * S);

	char buf[64];
	CHECK_STR(timefmt_span(1 * S, buf, sizeof(buf)), "1 second");
	CHECK_STR(timefmt_span(2 * S, buf, sizeof(buf)), "2 seconds");
	CHECK_STR(timefmt_span(119 * S, buf, sizeof(buf)), "119 seconds");
	CHECK_STR(timefmt_span(30 * 60 * S, buf, sizeof(buf)), "30 minutes");
	CHECK_STR(timefmt_span(2 * 3600 * S, buf, sizeof(buf)), "2 hours");
	CHECK_STR(timefmt_span((2 * 3600 + 5 * 60) * S, buf, sizeof(buf)), "2 hours 5 minutes");
	CHECK_STR(timefmt_clock(1779364861000LL, buf, sizeof(buf)), "12:01:01 UTC");
}

static void test_watchdog_rules(void)
{
	const int64_t silent = 600 * S, grace = 300 * S;
	/* Never seen: a whole silent_after from the moment watching began. */
	CHECK(watchdog_deadline(10000, 0, silent, grace) == 10000 + silent);
	/* Seen recently, before a restart: measured from the last one. */
	CHECK(watchdog_deadline(10000, 9000, silent, grace) == 9000 + silent);
	/* Seen long ago (silent before the restart, or crier was down): not at
	 * once, but after the grace rather than a full silent_after. */
	CHECK(watchdog_deadline(10000 * S, 100 * S, silent, grace) == 10000 * S + grace);
	/* While running, each Watchdog pushes the deadline. */
	CHECK(watchdog_deadline(10000, 50000, silent, grace) == 50000 + silent);

	json_t *want = json_pack("{ss}", "alertname", "Watchdog");
	json_t *wd = alert("w", "firing", "Watchdog", "prometheus", "none", NULL);
	json_t *other = alert("x", "firing", "HighErrorRate", "api", "critical", NULL);
	CHECK(watchdog_matches(want, wd));
	CHECK(!watchdog_matches(want, other));
	CHECK(!watchdog_matches(NULL, wd));
	json_t *two = json_pack("{ss ss}", "alertname", "Watchdog", "cluster", "eu-1");
	CHECK(!watchdog_matches(two, wd));
	json_decref(two);
	json_decref(want);
	json_decref(wd);
	json_decref(other);
}

static mustache *compile_file(const char *path)
{
	char err[256];
	size_t n;
	char *text = mustache_read(path, &n, NULL);
	mustache *t = text ? mustache_compile(path, text, n, err, sizeof(err)) : NULL;
	free(text);
	return t;
}

/* A public incident's clock through its life, with people, restarts and a non-public neighbour. */
static void test_clocks(const char *dir, int human)
{
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/cadence-%d.db", dir, human);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	config cfg = {0};
	cfg.group_by = json_pack("[s]", "service");
	cfg.hold_ms = 1000;
	cfg.update_every_ms = 10 * S;
	cfg.escalate_after_ms = 20 * S;
	cfg.first_message_human = human;
	config_component api = {.name = "API", .labels = json_pack("{ss}", "service", "api")};
	cfg.components = &api;
	cfg.n_components = 1;
	/* The shipped template (tests run from the repository's root). */
	cfg.first_update = compile_file("conf.d/templates/core/first_update.mustache");
	CHECK(cfg.first_update != NULL);
	incidents *m = incidents_new(s, &cfg, record, NULL, err, sizeof(err));
	CHECK(m != NULL);
	cd = cadence_new(s, m, &cfg, 0, err, sizeof(err));
	CHECK(cd != NULL);
	n_ev = 0;

	int64_t t0 = 1000 * S, next = 0;
	/* Not public (no component): never a clock. */
	int64_t db = apply(s, m, alert("db", "firing", "DbDown", "db", "critical", NULL), t0);
	CHECK(db > 0 && !(ev[n_ev - 1].audience & AUDIENCE_PUBLIC));
	CHECK(cadence_next_deadline(cd) == INT64_MAX);

	/* Public: the first update is owed at once. */
	int64_t inc = apply(s, m,
	                    alert("api", "firing", "HighErrorRate", "api", "critical",
	                          json_pack("{ss ss ss}", "summary", "API errors above 5%", "impact",
	                                    "Some API calls fail", "workaround", "Retry after a few seconds")),
	                    t0);
	CHECK(inc > 0 && inc != db);
	CHECK(cadence_next_deadline(cd) == t0);
	CHECK(tick(s, t0, &next) == 1);
	if (human) {
		/* A prompt to people; the clock runs from the opening. */
		CHECK_STR(last_type(), "awaiting_first_update");
		CHECK(count("update", inc) == 0);
		CHECK(next == t0 + 10 * S);
		char *msg = message_of(s, inc, "awaiting_first_update");
		CHECK(msg && strstr(msg, "crierctl update"));
		free(msg);
	} else {
		/* crier posts it, as an update: the clock restarts. */
		CHECK_STR(last_type(), "update");
		CHECK(ev[n_ev - 1].audience & AUDIENCE_PUBLIC);
		CHECK(count("awaiting_first_update", 0) == 0);
		char *msg = message_of(s, inc, "update");
		CHECK(msg && strstr(msg, "We are investigating a problem: API errors above 5%"));
		CHECK(msg && strstr(msg, "Impact: Some API calls fail"));
		CHECK(msg && strstr(msg, "Workaround: Retry after a few seconds"));
		CHECK(msg && msg[strlen(msg) - 1] != '\n');
		free(msg);
		CHECK(next == t0 + 10 * S);
	}
	/* Nothing before update_every; the reminder at it, once. */
	CHECK(tick(s, t0 + 10 * S - 1, &next) == 0);
	CHECK(tick(s, t0 + 10 * S, &next) == 1);
	CHECK_STR(last_type(), "reminder");
	CHECK(count("reminder", inc) == 1 && count("reminder", db) == 0);
	CHECK(next == t0 + 20 * S);
	CHECK(tick(s, t0 + 15 * S, &next) == 0);
	char *msg = message_of(s, inc, "reminder");
	CHECK(msg && strstr(msg, human ? "have not been told" : "no update for 10 seconds"));
	free(msg);

	/* A restart keeps the clock: not reset, not repeated. */
	cadence_free(cd);
	cd = cadence_new(s, m, &cfg, t0 + 16 * S, err, sizeof(err));
	CHECK(cd != NULL);
	CHECK(cadence_next_deadline(cd) == t0 + 20 * S);
	CHECK(tick(s, t0 + 19 * S, &next) == 0);
	CHECK(count("reminder", inc) == 1);

	/* The escalation at escalate_after; then the chase begins again. */
	CHECK(tick(s, t0 + 20 * S, &next) == 1);
	CHECK_STR(last_type(), "escalation");
	CHECK(next == t0 + 30 * S);
	msg = message_of(s, inc, "escalation");
	CHECK(msg && strncmp(msg, "Escalated:", 10) == 0);
	free(msg);

	/* A person's public update restarts the clock. */
	store_begin(s);
	CHECK(incidents_human(m, inc, "update", NULL, "We found the cause.", "alice", t0 + 25 * S, err, sizeof(err)) >
	      0);
	store_commit(s);
	CHECK(cadence_next_deadline(cd) == t0 + 35 * S);
	CHECK(tick(s, t0 + 30 * S, &next) == 0);
	CHECK(tick(s, t0 + 35 * S, &next) == 1);
	CHECK(count("reminder", inc) == 2);
	msg = message_of(s, inc, "reminder");
	CHECK(msg && strstr(msg, "no update for 10 seconds"));
	free(msg);

	/* An acknowledgement is not a public update. */
	store_begin(s);
	CHECK(incidents_human(m, inc, "ack", NULL, NULL, "alice", t0 + 36 * S, err, sizeof(err)) > 0);
	store_commit(s);
	CHECK(cadence_next_deadline(cd) == t0 + 45 * S);

	/* Down for a long while: one escalation, not a burst. */
	int before = n_ev;
	CHECK(tick(s, t0 + 500 * S, &next) == 1);
	CHECK(n_ev == before + 1 && strcmp(last_type(), "escalation") == 0);
	CHECK(next == t0 + 510 * S);

	/* Resolution ends the clock. */
	store_begin(s);
	CHECK(incidents_human(m, inc, "resolve", NULL, NULL, "alice", t0 + 501 * S, err, sizeof(err)) > 0);
	store_commit(s);
	CHECK(cadence_next_deadline(cd) == INT64_MAX);
	CHECK(tick(s, t0 + 1000 * S, &next) == 0);
	CHECK(count("reminder", db) == 0 && count("escalation", db) == 0);

	/* ... and a restart does not bring it back. */
	cadence_free(cd);
	cd = cadence_new(s, m, &cfg, t0 + 1001 * S, err, sizeof(err));
	CHECK(cd != NULL && cadence_next_deadline(cd) == INT64_MAX);

	cadence_free(cd);
	cd = NULL;
	incidents_free(m);
	store_close(s);
	mustache_free(cfg.first_update);
	json_decref(api.labels);
	json_decref(cfg.group_by);
}

/* A public incident that was open before clocks were kept gets one at start. */
static void test_adoption(const char *dir)
{
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/adopt.db", dir);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	config cfg = {0};
	cfg.group_by = json_pack("[s]", "service");
	cfg.update_every_ms = 10 * S;
	cfg.escalate_after_ms = 20 * S;
	cfg.first_message_human = 1;
	config_component api = {.name = "API", .labels = json_pack("{ss}", "service", "api")};
	cfg.components = &api;
	cfg.n_components = 1;
	incidents *m = incidents_new(s, &cfg, record, NULL, err, sizeof(err));
	CHECK(m != NULL);
	cd = NULL; /* no cadence yet: an older crierd */
	apply(s, m, alert("api", "firing", "HighErrorRate", "api", "critical", NULL), 5 * S);
	cd = cadence_new(s, m, &cfg, 100 * S, err, sizeof(err));
	CHECK(cd != NULL);
	/* Waiting from the start, no first update long after the fact. */
	CHECK(cadence_next_deadline(cd) == 110 * S);
	cadence_free(cd);
	cd = NULL;
	incidents_free(m);
	store_close(s);
	json_decref(api.labels);
	json_decref(cfg.group_by);
}

static int wd_tick(store *s, watchdog *w, int64_t now, int64_t *next)
{
	store_begin(s);
	int r = watchdog_tick(w, now, next);
	store_commit(s);
	return r;
}

static int consume(store *s, incidents *m, watchdog *w, json_t *a, int64_t now)
{
	store_begin(s);
	int r = watchdog_consume(w, a, now);
	if (r == 0)
		r = incidents_apply(m, a, NULL, now) < 0 ? -1 : 0;
	incidents_flush(m);
	store_commit(s);
	json_decref(a);
	return r;
}

static void test_watchdog(const char *dir)
{
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/watchdog.db", dir);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	config cfg = {0};
	cfg.group_by = json_pack("[s]", "service");
	cfg.hold_ms = 1 * S;
	/* A rule that would make any critical incident public: never crier's own. */
	config_match everything = {.min_severity = 5};
	cfg.public_when = &everything;
	cfg.n_public_when = 1;
	cfg.watchdog_labels = json_pack("{ss}", "alertname", "Watchdog");
	cfg.watchdog_silent_ms = 10 * S;
	cfg.watchdog_grace_ms = 4 * S;
	incidents *m = incidents_new(s, &cfg, record, NULL, err, sizeof(err));
	CHECK(m != NULL);
	n_ev = 0;
	int64_t t0 = 100 * S, next = 0;
	watchdog *w = watchdog_new(s, m, &cfg, t0, err, sizeof(err));
	CHECK(w != NULL);
	CHECK(watchdog_next_deadline(w) == t0 + 10 * S);

	/* Watchdogs keep it quiet and open nothing. */
	CHECK(consume(s, m, w, alert("w1", "firing", "Watchdog", "prometheus", "none", NULL), t0 + 5 * S) == 1);
	CHECK(consume(s, m, w, alert("w1", "firing", "Watchdog", "prometheus", "none", NULL), t0 + 12 * S) == 1);
	CHECK(n_ev == 0 && incidents_open_count(m) == 0);
	CHECK(wd_tick(s, w, t0 + 21 * S, &next) == 0);
	CHECK(next == t0 + 22 * S);
	/* Other alerts are not consumed. */
	CHECK(consume(s, m, w, alert("x", "firing", "HighErrorRate", "api", "critical", NULL), t0 + 13 * S) == 0);
	CHECK(count("opened", 0) == 1 && (ev[0].audience & AUDIENCE_PUBLIC));
	/* A resolved Watchdog is consumed but is no sign of life. */
	CHECK(consume(s, m, w, alert("w1", "resolved", "Watchdog", "prometheus", "none", NULL), t0 + 14 * S) == 1);
	CHECK(watchdog_next_deadline(w) == t0 + 22 * S);

	/* Silence: MonitoringSilent opens its own incident, never public. */
	CHECK(wd_tick(s, w, t0 + 22 * S, &next) == 1);
	CHECK(next == INT64_MAX);
	CHECK(count("opened", 0) == 2);
	CHECK_STR(last_type(), "opened");
	int64_t silent = ev[n_ev - 1].incident;
	CHECK(!(ev[n_ev - 1].audience & AUDIENCE_PUBLIC));
	json_t *doc = incidents_doc(m, silent);
	CHECK_STR(json_string_value(json_object_get(doc, "key")), WATCHDOG_ALERT_GROUP);
	CHECK(strstr(json_string_value(json_object_get(doc, "title")), "no Watchdog alert for 10 seconds") != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "severity")), "critical");
	json_decref(doc);
	CHECK(wd_tick(s, w, t0 + 40 * S, &next) == 0);
	CHECK(count("opened", 0) == 2);

	/* A restart while silent: still silent, nothing opened twice. */
	watchdog_free(w);
	w = watchdog_new(s, m, &cfg, t0 + 41 * S, err, sizeof(err));
	CHECK(w != NULL && watchdog_next_deadline(w) == INT64_MAX);

	/* The feed returns: resolved (through the monitoring hold). */
	CHECK(consume(s, m, w, alert("w1", "firing", "Watchdog", "prometheus", "none", NULL), t0 + 42 * S) == 1);
	CHECK_STR(last_type(), "state_changed");
	CHECK(ev[n_ev - 1].incident == silent);
	CHECK(watchdog_next_deadline(w) == t0 + 52 * S);

	/* Down long after the last Watchdog: a restart waits the grace, not a whole silent_after. */
	watchdog_free(w);
	w = watchdog_new(s, m, &cfg, t0 + 500 * S, err, sizeof(err));
	CHECK(w != NULL && watchdog_next_deadline(w) == t0 + 504 * S);

	/* Turned off while silent: resolved at the next tick. */
	CHECK(wd_tick(s, w, t0 + 504 * S, &next) == 1);
	config off = cfg;
	off.watchdog_labels = NULL;
	watchdog_set_config(w, &off, t0 + 505 * S);
	CHECK(watchdog_next_deadline(w) == 0);
	int resolved_before = count("alert_resolved", silent) + count("state_changed", silent);
	CHECK(wd_tick(s, w, t0 + 505 * S, &next) == 1);
	CHECK(count("alert_resolved", silent) + count("state_changed", silent) > resolved_before);
	CHECK(next == INT64_MAX);
	/* And off, it consumes nothing. */
	CHECK(consume(s, m, w, alert("w1", "firing", "Watchdog", "prometheus", "none", NULL), t0 + 506 * S) == 0);
	/* On again: watching begins at the reload. */
	watchdog_set_config(w, &cfg, t0 + 600 * S);
	CHECK(watchdog_next_deadline(w) == t0 + 604 * S);

	watchdog_free(w);
	incidents_free(m);
	store_close(s);
	json_decref(cfg.watchdog_labels);
	json_decref(cfg.group_by);
}

/* ---- configuration ---- */

static void put(const char *dir, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(const char *dir, const char *name, const char *fmt, ...)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static const char *conf_dir(const char *root, const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		exit(1);
	put(path, "daemon.json", "{\"daemon\": {\"state_dir\": \"%s/state\"}}", root);
	return path;
}

static void test_config(const char *root)
{
	char err[1024];
	const char *d = conf_dir(root, "defaults");
	config *c = config_load(d, err, sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK(c->update_every_ms == 30 * 60 * S && c->escalate_after_ms == 60 * 60 * S);
		CHECK(!c->first_message_human && !c->first_update);
		CHECK(c->watchdog_labels == NULL);
	}
	config_free(c);

	/* Fractional minutes for tests; "watchdog": {} turns it on with its defaults. */
	d = conf_dir(root, "set");
	put(d, "public.json",
	    "{\"public\": {\"update_every_minutes\": 0.05, \"escalate_after_minutes\": 0.1, \"first_message\": "
	    "\"human\","
	    " \"components\": [{\"name\": \"API\", \"labels\": {\"service\": \"api\"}}]}}");
	put(d, "watchdog.json", "{\"watchdog\": {}}");
	c = config_load(d, err, sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK(c->update_every_ms == 3 * S && c->escalate_after_ms == 6 * S && c->first_message_human);
		CHECK_STR(json_string_value(json_object_get(c->watchdog_labels, "alertname")), "Watchdog");
		CHECK(c->watchdog_silent_ms == 600 * S && c->watchdog_grace_ms == 300 * S);
	} else {
		fprintf(stderr, "%s\n", err);
	}
	config_free(c);

	/* The escalation must come after the reminder. */
	d = conf_dir(root, "order");
	put(d, "public.json", "{\"public\": {\"update_every_minutes\": 20, \"escalate_after_minutes\": 20}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "public.json: public.escalate_after_minutes: must be more than public.update_every_minutes"));
	put(d, "public.json", "{\"public\": {\"update_every_minutes\": 90}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "public.json: public.update_every_minutes: must be less than public.escalate_after_minutes"));
	put(d, "public.json", "{\"public\": {\"update_every_minutes\": \"30\"}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "public.update_every_minutes: expected a number of minutes"));
	put(d, "public.json", "{\"public\": {\"first_message\": \"robot\"}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "public.json: public.first_message: expected \"auto\" or \"human\""));

	/* "auto" with something public needs the template; a broken one is named. */
	put(d, "public.json",
	    "{\"public\": {\"components\": [{\"name\": \"API\", \"labels\": {\"service\": \"api\"}}]}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "templates/core/first_update.mustache: cannot read"));
	char tdir[600];
	snprintf(tdir, sizeof(tdir), "%s/templates", d);
	mkdir(tdir, 0700);
	snprintf(tdir, sizeof(tdir), "%s/templates/core", d);
	mkdir(tdir, 0700);
	put(tdir, "first_update.mustache", "We are investigating {{#incident}}{{title}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "templates/core/first_update.mustache: line 1"));
	put(tdir, "first_update.mustache", "We are investigating: {{incident.title}}");
	c = config_load(d, err, sizeof(err));
	CHECK(c != NULL && c->first_update != NULL);
	config_free(c);

	/* The watchdog's section. */
	d = conf_dir(root, "wd");
	put(d, "watchdog.json", "{\"watchdog\": {\"labels\": {}}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "watchdog.json: watchdog.labels: expected at least one label"));
	put(d, "watchdog.json", "{\"watchdog\": {\"silent_after_seconds\": 60, \"startup_grace_seconds\": 120}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "watchdog.json: watchdog.startup_grace_seconds: must not be more than silent_after_seconds"));
	put(d, "watchdog.json", "{\"watchdog\": {\"silence\": 60}}");
	CHECK(config_load(d, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "watchdog.json: watchdog: unknown key \"silence\""));
	put(d, "watchdog.json",
	    "{\"watchdog\": {\"labels\": {\"alertname\": \"DeadMansSwitch\", \"team\": \"sre\"},"
	    " \"silent_after_seconds\": 2.5}}");
	c = config_load(d, err, sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK(json_object_size(c->watchdog_labels) == 2);
		CHECK(c->watchdog_silent_ms == 2500 && c->watchdog_grace_ms == 1250);
	}
	config_free(c);

	/* Routes may name the new event types. */
	d = conf_dir(root, "routes");
	put(d, "log.json", "{\"plugins\": {\"log\": {\"instances\": {\"default\": {\"path\": \"e.jsonl\"}}}}}");
	put(d, "routes.json",
	    "{\"routes\": [{\"events\": [\"reminder\", \"escalation\", \"awaiting_first_update\"],"
	    " \"to\": [\"log/default\"]}]}");
	c = config_load(d, err, sizeof(err));
	CHECK(c != NULL);
	config_free(c);
}

int main(void)
{
	char dir[] = "/tmp/crier-test-cadence-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_rules();
	test_watchdog_rules();
	test_clocks(dir, 1);
	test_clocks(dir, 0);
	test_adoption(dir);
	test_watchdog(dir);
	test_config(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_summary("test_cadence");
}
