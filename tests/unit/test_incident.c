/* Dedup, grouping and lifecycle of incidents, against a real store in a temp dir. */
#include "check.h"
#include "incidents.h"
#include "store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_EV 64
static char ev_types[MAX_EV][32];
static int64_t ev_incident[MAX_EV];
static char ev_env[MAX_EV][16]; /* the incident's "env" label as routes see it */
static char ev_also[MAX_EV][16];
static int n_ev;

static int record(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity,
                  const json_t *labels, int audience, const char *also_to, int64_t now)
{
	(void)ctx;
	(void)audience;
	(void)event_id;
	(void)severity;
	(void)now;
	if (n_ev < MAX_EV) {
		const char *env = json_string_value(json_object_get(labels, "env"));
		snprintf(ev_env[n_ev], sizeof(ev_env[n_ev]), "%s", env ? env : "");
		snprintf(ev_types[n_ev], sizeof(ev_types[n_ev]), "%s", type);
		ev_incident[n_ev] = incident_id;
		snprintf(ev_also[n_ev], sizeof(ev_also[n_ev]), "%s", also_to ? also_to : "");
		n_ev++;
	}
	/* A router that knows no instance "gone" (core.c's answer to a draft's). */
	return also_to && strcmp(also_to, "gone") == 0 ? -2 : 0;
}

static json_t *mk(const char *source, const char *key, const char *status, const char *service, const char *sev,
                  int64_t starts)
{
	json_t *labels = json_pack("{ss ss}", "alertname", "X", "severity", sev);
	if (service)
		json_object_set_new(labels, "service", json_string(service));
	return json_pack("{ss ss ss so s{ss} sI sI ss}", "source", source, "key", key, "status", status, "labels",
	                 labels, "annotations", "summary", "something broke", "starts_at", (json_int_t)starts,
	                 "ends_at", (json_int_t)0, "link", "");
}

/* Apply one alert in its own transaction, like a batch of one, with the
 * head an HTTP worker sends beside it (other tests apply without one). */
static int apply(store *s, incidents *m, json_t *a, int64_t now)
{
	alert_head h;
	alert_head_of(a, &h);
	store_begin(s);
	int r = incidents_apply(m, a, &h, now);
	incidents_flush(m);
	store_commit(s);
	json_decref(a);
	return r;
}

static int count_type(const char *type)
{
	int n = 0;
	for (int i = 0; i < n_ev; i++)
		n += strcmp(ev_types[i], type) == 0;
	return n;
}

/* The stored document of event ev, as text (new), or NULL. */
static char *event_doc(store *s, int64_t ev)
{
	sqlite3_stmt *st = NULL;
	char *doc = NULL;
	if (sqlite3_prepare_v2(store_db(s), "SELECT doc FROM events WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, ev);
		if (sqlite3_step(st) == SQLITE_ROW)
			doc = strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return doc;
}

/* Where member "key" starts in doc, or -1. */
static long at(const char *doc, const char *key)
{
	char q[64];
	snprintf(q, sizeof(q), "\"%s\":", key);
	const char *p = doc ? strstr(doc, q) : NULL;
	return p ? p - doc : -1;
}

/* incidents_record, the one place events are made: member order, open and
 * closed incidents, the router's answer passed on, refusals. */
static void test_record(store *s, incidents *m, int64_t open, int64_t closed)
{
	json_t *lead = json_pack("{s{si}}", "postmortem", "revision", 2);
	json_t *extra = json_pack("{s{si}}", "cadence", "silent_seconds", 60);
	store_begin(s);
	incidents_event e = {.type = "reminder", .actor = "crier", .message = "post one", .lead = lead, .extra = extra};
	int64_t ev = incidents_record(m, open, &e, 40000);
	CHECK(ev > 0 && strcmp(ev_types[n_ev - 1], "reminder") == 0 && ev_incident[n_ev - 1] == open);
	char *doc = event_doc(s, ev);
	CHECK(doc && strncmp(doc,
	                     "{\"type\":\"reminder\",\"time\":\"1970-01-01T00:00:40.000Z\",\"actor\":\"crier\","
	                     "\"message\":\"post one\",\"postmortem\":{\"revision\":2},\"incident\":{",
	                     strlen("{\"type\":\"reminder\",\"time\":\"1970-01-01T00:00:40.000Z\",\"actor\":"
	                            "\"crier\",\"message\":\"post one\",\"postmortem\":{\"revision\":2},"
	                            "\"incident\":{")) == 0);
	CHECK(at(doc, "incident") < at(doc, "severity_is") && at(doc, "severity_is") < at(doc, "cadence"));
	CHECK(doc && strstr(doc, "\"severity_is\":{\"warning\":true},\"cadence\":{\"silent_seconds\":60}}") != NULL);
	free(doc);

	/* A closed incident as the store has it; no severity_is when asked; NULL actor and message. */
	e = (incidents_event){.type = "draft_created", .extra = extra, .no_severity_is = 1};
	ev = incidents_record(m, closed, &e, 41000);
	CHECK(ev > 0 && ev_incident[n_ev - 1] == closed);
	doc = event_doc(s, ev);
	CHECK(doc && strstr(doc, "\"actor\":\"\",\"message\":\"\",\"incident\":{") != NULL);
	CHECK(doc && strstr(doc, "\"state\":\"resolved\"") != NULL);
	CHECK(at(doc, "severity_is") == -1 && at(doc, "cadence") > at(doc, "incident"));
	free(doc);

	/* The router's refusal comes back; also_to reaches it. */
	e = (incidents_event){.type = "draft_approved", .actor = "ann", .message = "ok", .also_to = "gone"};
	CHECK(incidents_record(m, open, &e, 42000) == -2);
	CHECK(strcmp(ev_also[n_ev - 1], "gone") == 0);
	e.also_to = "social/x";
	CHECK(incidents_record(m, open, &e, 42001) > 0 && strcmp(ev_also[n_ev - 1], "social/x") == 0);

	/* No such incident; a member that repeats the event's own: nothing recorded. */
	int before = n_ev;
	e = (incidents_event){.type = "reminder", .actor = "crier"};
	CHECK(incidents_record(m, 999999, &e, 43000) == -1);
	json_t *bad = json_pack("{ss}", "type", "other");
	e.extra = bad;
	CHECK(incidents_record(m, open, &e, 43001) == -1);
	e = (incidents_event){.type = "reminder", .lead = bad};
	CHECK(incidents_record(m, open, &e, 43002) == -1);
	CHECK(n_ev == before);
	store_commit(s);
	json_decref(bad);
	json_decref(lead);
	json_decref(extra);
}

int main(void)
{
	char dir[] = "/tmp/crier-test-incident-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/crier.db", dir);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	config cfg = {0};
	cfg.group_by = json_pack("[s]", "service");
	cfg.hold_ms = 1000;
	incidents *m = incidents_new(s, &cfg, record, NULL, err, sizeof(err));
	CHECK(m != NULL);

	/* A new alert opens an incident; the same alert again is a duplicate. */
	CHECK(apply(s, m, mk("alertmanager", "a1", "firing", "api", "warning", 1000), 5000) == 1);
	CHECK(n_ev == 1 && strcmp(ev_types[0], "opened") == 0);
	CHECK(apply(s, m, mk("alertmanager", "a1", "firing", "api", "warning", 1000), 5001) == 0);
	CHECK(n_ev == 1);
	CHECK(incidents_open_count(m) == 1);

	/* Another alert of the same service joins; a higher severity is an event. */
	CHECK(apply(s, m, mk("uptimerobot", "uptimerobot/1", "firing", "api", "critical", 2000), 5002) == 1);
	CHECK(count_type("alert_joined") == 1);
	CHECK(count_type("severity_raised") == 1);
	CHECK(incidents_open_count(m) == 1);

	/* A different service is a different incident. */
	CHECK(apply(s, m, mk("alertmanager", "b1", "firing", "web", "info", 1000), 5003) == 1);
	CHECK(incidents_open_count(m) == 2);
	int64_t web = ev_incident[n_ev - 1];

	/* Resolving one of two alerts: alert_resolved, still investigating. */
	CHECK(apply(s, m, mk("alertmanager", "a1", "resolved", "api", "warning", 1000), 6000) == 1);
	CHECK(count_type("alert_resolved") == 1);
	CHECK(count_type("state_changed") == 0);
	/* A repeated resolved is a duplicate. */
	CHECK(apply(s, m, mk("alertmanager", "a1", "resolved", "api", "warning", 1000), 6001) == 0);

	/* The last one resolves: monitoring for the hold. */
	CHECK(apply(s, m, mk("uptimerobot", "uptimerobot/1", "resolved", "api", "critical", 2000), 7000) == 1);
	CHECK(count_type("state_changed") == 1);

	/* Re-fire within the hold continues the same incident (no new "opened"). */
	int64_t api = ev_incident[0];
	CHECK(apply(s, m, mk("alertmanager", "a1", "firing", "api", "warning", 7500), 7600) == 1);
	CHECK(count_type("opened") == 2); /* api + web, no third */
	CHECK(ev_incident[n_ev - 1] == api);
	CHECK(count_type("state_changed") == 2); /* monitoring -> investigating */

	/* Resolve again and let the hold expire: resolved. */
	CHECK(apply(s, m, mk("alertmanager", "a1", "resolved", "api", "warning", 7500), 8000) == 1);
	int64_t next = 0;
	store_begin(s);
	CHECK(incidents_tick(m, 8500, &next) == 0); /* hold not over */
	CHECK(next == 9000);
	CHECK(incidents_tick(m, 9000, &next) == 1);
	store_commit(s);
	CHECK(count_type("resolved") == 1);
	CHECK(incidents_open_count(m) == 1);

	/* After resolution the same alert firing with a new startsAt opens a new incident. */
	CHECK(apply(s, m, mk("alertmanager", "a1", "firing", "api", "warning", 20000), 20001) == 1);
	CHECK(count_type("opened") == 3);
	CHECK(ev_incident[n_ev - 1] != api);

	/* People: ack moves to identified; update needs a message; a person's resolve closes it. */
	store_begin(s);
	CHECK(incidents_human(m, web, "ack", NULL, NULL, "alice", 21000, err, sizeof(err)) > 0);
	CHECK(incidents_human(m, web, "update", NULL, "", "alice", 21001, err, sizeof(err)) == -3);
	CHECK(incidents_human(m, web, "update", "bogus", "x", "alice", 21002, err, sizeof(err)) == -3);
	CHECK(incidents_human(m, web, "update", "identified", "found it", "alice", 21003, err, sizeof(err)) > 0);
	CHECK(incidents_human(m, web, "resolve", NULL, "fixed", "alice", 21004, err, sizeof(err)) > 0);
	CHECK(incidents_human(m, web, "ack", NULL, NULL, "alice", 21005, err, sizeof(err)) == -2);
	store_commit(s);
	CHECK(count_type("acknowledged") == 1);
	CHECK(count_type("update") == 1);
	CHECK(count_type("resolved") == 2);
	/* Alertmanager keeps re-sending the still-firing alert: a person closed it, nothing reopens. */
	CHECK(apply(s, m, mk("alertmanager", "b1", "firing", "web", "info", 1000), 22000) == 0);

	/* Alerts without the group label group by alertname. */
	CHECK(apply(s, m, mk("generic", "g1", "firing", NULL, "info", 0), 23000) == 1);
	CHECK(count_type("opened") == 4);
	/* An identity too long for a head: read from the alert, the same way. */
	char longkey[151];
	memset(longkey, 'k', 150);
	longkey[150] = '\0';
	int joined = count_type("alert_joined"), resolved = count_type("alert_resolved");
	CHECK(apply(s, m, mk("generic", longkey, "firing", NULL, "info", 0), 23001) == 1);
	CHECK(count_type("alert_joined") == joined + 1);
	CHECK(apply(s, m, mk("generic", longkey, "firing", NULL, "info", 0), 23002) == 0);
	CHECK(apply(s, m, mk("generic", longkey, "resolved", NULL, "info", 0), 23003) == 1);
	CHECK(count_type("alert_resolved") == resolved + 1);

	/* An HA peer lagging behind re-sends the firing copy of an occurrence
	 * that already resolved (same startsAt): a duplicate, not a re-fire. */
	CHECK(apply(s, m, mk("alertmanager", "h1", "firing", "ha", "warning", 30000), 30001) == 1);
	CHECK(apply(s, m, mk("alertmanager", "h1", "resolved", "ha", "warning", 30000), 30002) == 1);
	int before_ha = n_ev;
	CHECK(apply(s, m, mk("alertmanager", "h1", "firing", "ha", "warning", 30000), 30003) == 0);
	CHECK(n_ev == before_ha);
	/* A real re-fire has a new startsAt. */
	CHECK(apply(s, m, mk("alertmanager", "h1", "firing", "ha", "warning", 31000), 31001) == 1);

	/* Label values of any length the parsers accept (here 4000 bytes) group fine. */
	char longsvc[4001];
	memset(longsvc, 'x', 4000);
	longsvc[4000] = '\0';
	CHECK(apply(s, m, mk("generic", "long", "firing", longsvc, "info", 0), 32000) == 1);
	CHECK(count_type("opened") == 6);

	/* An incident's labels are those its alerts share (routes match on them). */
	json_t *p1 = mk("alertmanager", "c1", "firing", "common", "warning", 1000);
	json_object_set_new(json_object_get(p1, "labels"), "env", json_string("prod"));
	CHECK(apply(s, m, p1, 33000) == 1);
	CHECK(strcmp(ev_env[n_ev - 1], "prod") == 0);
	json_t *p2 = mk("alertmanager", "c2", "firing", "common", "warning", 1000);
	json_object_set_new(json_object_get(p2, "labels"), "env", json_string("staging"));
	CHECK(apply(s, m, p2, 33001) == 1);
	CHECK(strcmp(ev_env[n_ev - 1], "") == 0); /* no longer shared */

	/* A restart rebuilds the same index from the store. */
	size_t open_before = incidents_open_count(m), alerts_before = incidents_alert_count(m);
	incidents_free(m);
	m = incidents_new(s, &cfg, record, NULL, err, sizeof(err));
	CHECK(m != NULL);
	CHECK(incidents_open_count(m) == open_before);
	int before = n_ev;
	CHECK(apply(s, m, mk("alertmanager", "a1", "firing", "api", "warning", 20000), 24000) == 0);
	CHECK(apply(s, m, mk("alertmanager", "b1", "firing", "web", "info", 1000), 24001) == 0);
	CHECK(n_ev == before);
	CHECK(incidents_alert_count(m) <= alerts_before);
	test_record(s, m, ev_incident[n_ev - 1], web);

	incidents_free(m);
	store_close(s);
	json_decref(cfg.group_by);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary("test_incident");
}
