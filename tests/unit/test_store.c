/* The store's schema versions: upgrade in place, refuse the unknown. */
#include "check.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The alerts table as versions 1 to 4 made it. */
#define ALERTS_V1                                                                                                      \
	"CREATE TABLE alerts(source TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,"                           \
	" labels TEXT NOT NULL, annotations TEXT NOT NULL, starts_at INTEGER, ends_at INTEGER, link TEXT,"             \
	" incident_id INTEGER, updated_at INTEGER, PRIMARY KEY(source, key)) WITHOUT ROWID;"
/* The events table, the same from version 1 to 4. */
#define EVENTS_V1                                                                                                      \
	"CREATE TABLE events(id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, type TEXT NOT NULL,"                \
	" time INTEGER NOT NULL, actor TEXT, message TEXT, doc TEXT);"
/* The incidents table as versions 3 and 4 made it (with audience). */
#define INCIDENTS_V3                                                                                                   \
	"CREATE TABLE incidents(id INTEGER PRIMARY KEY, key TEXT NOT NULL, title TEXT NOT NULL,"                       \
	" state TEXT NOT NULL, severity INTEGER NOT NULL, human INTEGER NOT NULL, labels TEXT NOT NULL,"               \
	" opened_at INTEGER, updated_at INTEGER, resolved_at INTEGER, hold_until INTEGER,"                             \
	" audience INTEGER NOT NULL DEFAULT 0);"

/* The outbox table as versions 2 to 5 made it (with recipient). */
#define OUTBOX_V2                                                                                                      \
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,"                                       \
	" incident_id INTEGER NOT NULL, instance TEXT NOT NULL, state INTEGER NOT NULL,"                               \
	" attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"                 \
	" updated_at INTEGER, last_error TEXT, recipient TEXT NOT NULL DEFAULT '');"

/* What crierd 0.1 (schema version 1) wrote: the outbox had no recipient,
 * incidents no audience. */
static const char v1_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT);" ALERTS_V1 "INSERT INTO meta VALUES('schema', '1');"
    "CREATE TABLE incidents(id INTEGER PRIMARY KEY, key TEXT NOT NULL, title TEXT NOT NULL,"
    " state TEXT NOT NULL, severity INTEGER NOT NULL, human INTEGER NOT NULL, labels TEXT NOT NULL,"
    " opened_at INTEGER, updated_at INTEGER, resolved_at INTEGER, hold_until INTEGER);"
    "INSERT INTO incidents VALUES(1, 'service=api', 'API down', 'investigating', 5, 0, '{}', 1000, 1000,"
    " NULL, NULL);" EVENTS_V1 "CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,"
    " incident_id INTEGER NOT NULL, instance TEXT NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER, last_error TEXT);"
    "INSERT INTO events VALUES(1, 1, 'opened', 1000, 'alertmanager', '', '{\"type\":\"opened\"}');"
    "INSERT INTO outbox(id, event_id, incident_id, instance, state, next_at, created_at)"
    " VALUES(1, 1, 1, 'webhook/ops', 0, 1000, 1000);";

/* Version 3's outbox and its indexes, which took in every row: one pending
 * delivery, one delivered, one dead. */
static const char v3_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT);"
    "INSERT INTO meta VALUES('schema', '3');" ALERTS_V1 INCIDENTS_V3 EVENTS_V1 OUTBOX_V2
    "CREATE INDEX outbox_pending ON outbox(instance, state, next_at);"
    "CREATE INDEX outbox_order ON outbox(instance, incident_id, state, id);"
    "CREATE INDEX outbox_state ON outbox(state) WHERE state <> 2;"
    "INSERT INTO events VALUES(1, 1, 'opened', 1000, 'alertmanager', '', '{\"type\":\"opened\"}');"
    "INSERT INTO events VALUES(2, 1, 'resolved', 2000, 'alertmanager', '', '{\"type\":\"resolved\"}');"
    "INSERT INTO outbox(id, event_id, incident_id, instance, state, next_at, created_at, last_error)"
    " VALUES(1, 1, 1, 'webhook/ops', 2, 1000, 1000, NULL), (2, 1, 1, 'sms/oncall', 3, 1000, 1000, 'bad number'),"
    " (3, 2, 1, 'webhook/ops', 0, 2000, 2000, NULL);";

static int make_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	return rc;
}

/* The store in file name in dir, made from sql first unless that is NULL,
 * opened (and so upgraded); NULL, having said why, when it does not open.
 * path gets the file's path. */
static store *open_fixture(const char *dir, const char *name, const char *sql, char *path, size_t pathlen)
{
	char err[512] = "";
	snprintf(path, pathlen, "%s/%s", dir, name);
	if (sql)
		CHECK(make_db(path, sql) == 0);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		fprintf(stderr, "  %s\n", err);
	return s;
}

static void test_upgrade_from_v1(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "v1.db", v1_sql, path, sizeof(path));
	if (!s)
		return;
	/* The pending delivery of version 1 survives, with no recipient and its old key. */
	store_delivery d[4];
	int n = store_outbox_due(s, "webhook/ops", d, 4, NULL, NULL);
	CHECK(n == 1);
	if (n == 1) {
		CHECK(d[0].id == 1 && d[0].event_id == 1);
		CHECK_STR(d[0].recipient, "");
		CHECK_STR(d[0].type, "opened");
		store_delivery_free(&d[0]);
	}
	json_t *one = store_delivery_json(s, 1);
	CHECK_STR(json_string_value(json_object_get(one, "idempotency_key")), "crier-1-webhook/ops");
	CHECK(json_is_null(json_object_get(one, "recipient")));
	json_decref(one);

	/* New rows carry recipients, and the key names them. */
	CHECK(store_outbox_add(s, 1, 1, "webhook/ops", "+15551230001", 2000) == 0);
	one = store_delivery_json(s, 2);
	CHECK_STR(json_string_value(json_object_get(one, "idempotency_key")), "crier-1-webhook/ops-+15551230001");
	CHECK_STR(json_string_value(json_object_get(one, "recipient")), "+15551230001");
	json_decref(one);

	/* An upgraded store keeps drafts too (the table comes with the schema). */
	store_draft nd = {.incident_id = 1,
	                  .event_id = 1,
	                  .instance = "social/mastodon",
	                  .network = "mastodon",
	                  .text = "We are looking into it.",
	                  .measure = 3,
	                  .length = 23,
	                  .limit = 500};
	CHECK(store_draft_add(s, &nd, 3000) == 1);
	store_draft got;
	CHECK(store_draft_get(s, 1, &got) == 1);
	CHECK_STR(got.status, "pending");
	CHECK(got.limit == 500 && got.measure == 3);
	store_draft_free(&got);
	CHECK(store_draft_set_status(s, 1, "approved", "published", NULL, NULL, 0, 3000) == 0);
	CHECK(store_draft_set_status(s, 1, "pending", "approved", "jane", NULL, 9, 3000) == 1);
	CHECK(store_draft_by_publication(s, 9, "social/mastodon") == 1);
	CHECK(store_draft_by_publication(s, 9, "social/x") == 0);
	CHECK(store_draft_set_text(s, 1, "x", 1, 3000) == 0);
	CHECK(store_draft_get(s, 2, &got) == 0);

	store_close(s);

	/* Opened again, it is simply the current version. */
	store_close(open_fixture(dir, "v1.db", NULL, path, sizeof(path)));
}

/* The SQL of index name in the store at path, or "" when there is none (new). */
static char *index_sql(const char *path, const char *name)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1", -1, &st, NULL) ==
	        SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		const unsigned char *t = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
		sql = strdup(t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return sql;
}

/* Index name in the store at path says want, or is gone when want is NULL. */
static void check_index(const char *path, const char *name, const char *want)
{
	char *sql = index_sql(path, name);
	if (want)
		CHECK(sql && strstr(sql, want) != NULL);
	else
		CHECK_STR(sql, "");
	free(sql);
}

/* Version 3 to 4: the outbox's indexes become partial; every row keeps its state. */
static void test_upgrade_from_v3(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "v3.db", v3_sql, path, sizeof(path));
	if (!s)
		return;
	int64_t pending = -1, dead = -1;
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 1 && dead == 1);
	store_delivery d[4];
	int n = store_outbox_due(s, "webhook/ops", d, 4, NULL, NULL);
	CHECK(n == 1);
	for (int i = 0; i < n; i++) {
		CHECK(d[i].id == 3 && d[i].event_id == 2);
		store_delivery_free(&d[i]);
	}
	json_t *deadl = store_deliveries_json(s, 1, 0);
	CHECK(json_array_size(deadl) == 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(deadl, 0), "last_error")), "bad number");
	json_decref(deadl);
	/* Done, it leaves what is due; requeued, it comes back. */
	CHECK(store_outbox_done(s, 3, 2, 1, 3000) == 0);
	CHECK(store_outbox_due(s, "webhook/ops", d, 4, NULL, NULL) == 0);
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 0 && dead == 1);
	char inst[64];
	CHECK(store_outbox_requeue(s, 2, 4000, inst, sizeof(inst)) == 1);
	CHECK_STR(inst, "sms/oncall");
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 1 && dead == 0);
	store_close(s);
	check_index(path, "outbox_pending", NULL);
	check_index(path, "outbox_heads", "(instance, next_at) WHERE state = 0 AND head = 1");
	check_index(path, "outbox_order", "recipient, id) WHERE state = 0");
	check_index(path, "outbox_dead", "WHERE state = 3");
	check_index(path, "outbox_state", NULL);
}

static void test_newer_refused(const char *dir)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/v99.db", dir);
	CHECK(make_db(path, "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT); INSERT INTO meta VALUES('schema', '99');"
	                    "CREATE TABLE outbox(id INTEGER PRIMARY KEY);") == 0);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s == NULL);
	CHECK(strstr(err, "has schema version 99; this crierd knows versions 1 to 6") != NULL);
	store_close(s);
}

/* store_outbox_due's skip: leaves out row 2 (b's first delivery) and notes that it was asked. */
static int skip_id(int64_t id, void *ctx)
{
	if (id == 2)
		*(int64_t *)ctx = id;
	return id == 2;
}

/* Per incident and recipient order: one recipient's pending head does not
 * hold back another's. */
static void test_lanes(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "lanes.db", NULL, path, sizeof(path));
	if (!s)
		return;
	int64_t e1 = store_event_add(s, 7, "opened", 1000, "t", "", "{\"type\":\"opened\"}");
	int64_t e2 = store_event_add(s, 7, "update", 1001, "t", "", "{\"type\":\"update\"}");
	CHECK(e1 > 0 && e2 > 0);
	CHECK(store_outbox_add(s, e1, 7, "sms/oncall", "a", 1000) == 0);
	CHECK(store_outbox_add(s, e1, 7, "sms/oncall", "b", 1000) == 0);
	CHECK(store_outbox_add(s, e2, 7, "sms/oncall", "a", 1001) == 0);
	CHECK(store_outbox_add(s, e2, 7, "sms/oncall", "b", 1001) == 0);
	store_delivery d[8];
	int n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	/* The heads of both lanes: event 1 to a and to b, not event 2 yet. */
	CHECK(n == 2);
	for (int i = 0; i < n; i++) {
		CHECK(d[i].event_id == e1);
		store_delivery_free(&d[i]);
	}
	/* A result for another event's delivery under the same id (an id used
	 * again) leaves the row as it is. */
	CHECK(store_outbox_done(s, 1, e2, 1, 1500) == 0);
	n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	CHECK(n == 2);
	for (int i = 0; i < n; i++) {
		CHECK(d[i].event_id == e1);
		store_delivery_free(&d[i]);
	}
	CHECK(store_outbox_done(s, 1, e1, 1, 1500) == 0); /* a's first is done: a's second is next */
	n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	CHECK(n == 2);
	int saw_a2 = 0;
	for (int i = 0; i < n; i++) {
		if (d[i].event_id == e2 && strcmp(d[i].recipient, "a") == 0)
			saw_a2 = 1;
		store_delivery_free(&d[i]);
	}
	CHECK(saw_a2);
	/* What the caller skips (its deliveries in flight) is left out, and
	 * holds its lane back all the same: b's second stays behind b's first. */
	int64_t skipped = 0;
	n = store_outbox_due(s, "sms/oncall", d, 8, skip_id, &skipped);
	CHECK(n == 1 && skipped == 2);
	for (int i = 0; i < n; i++) {
		CHECK(d[i].id == 3 && d[i].event_id == e2 && strcmp(d[i].recipient, "a") == 0);
		store_delivery_free(&d[i]);
	}
	/* A head deleted (a subscriber gone, core/subscribers.c): the next row
	 * of its lane takes over. */
	CHECK(make_db(path, "DELETE FROM outbox WHERE id = 2") == 0);
	n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	CHECK(n == 2);
	if (n == 2)
		CHECK(d[0].id == 3 && d[1].id == 4);
	for (int i = 0; i < n; i++)
		store_delivery_free(&d[i]);
	store_close(s);
}

/* Head marks gone wrong (by hand, or a change that missed one) are mended:
 * a lane with no head would never be sent, a lane with two out of order. */
static void test_mend_heads(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "mend.db", NULL, path, sizeof(path));
	if (!s)
		return;
	CHECK(store_outbox_mend_heads(s) == 0); /* nothing to mend in an empty outbox */
	int64_t e1 = store_event_add(s, 7, "opened", 1000, "t", "", "{\"type\":\"opened\"}");
	int64_t e2 = store_event_add(s, 7, "update", 1001, "t", "", "{\"type\":\"update\"}");
	CHECK(e1 > 0 && e2 > 0);
	CHECK(store_outbox_add(s, e1, 7, "sms/oncall", "a", 1000) == 0); /* 1: a's head */
	CHECK(store_outbox_add(s, e1, 7, "sms/oncall", "b", 1000) == 0); /* 2: b's head */
	CHECK(store_outbox_add(s, e2, 7, "sms/oncall", "a", 1001) == 0); /* 3 */
	CHECK(store_outbox_add(s, e2, 7, "sms/oncall", "b", 1001) == 0); /* 4 */
	CHECK(store_outbox_mend_heads(s) == 0);                          /* inserts mark heads themselves */
	/* Lane a loses its head; lane b gets a second one. */
	CHECK(make_db(path, "UPDATE outbox SET head = 0 WHERE id = 1; UPDATE outbox SET head = 1 WHERE id = 4") == 0);
	store_delivery d[8];
	int n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	CHECK(n == 2); /* b's two, a's none: what the marks say */
	for (int i = 0; i < n; i++)
		store_delivery_free(&d[i]);
	CHECK(store_outbox_mend_heads(s) == 2);
	n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
	CHECK(n == 2);
	if (n == 2)
		CHECK(d[0].id == 1 && d[1].id == 2);
	for (int i = 0; i < n; i++)
		store_delivery_free(&d[i]);
	CHECK(store_outbox_mend_heads(s) == 0);
	/* Rows no longer pending keep whatever mark they had: delivered row 1,
	 * alone in its lane's history, would be marked again if they counted. */
	CHECK(store_outbox_done(s, 1, e1, 1, 1500) == 0);
	CHECK(make_db(path, "UPDATE outbox SET head = 0 WHERE id = 1") == 0);
	CHECK(store_outbox_mend_heads(s) == 0);
	store_close(s);
}

/* Version 4's incidents, events and alerts, indexed by incident: three
 * incidents taking turns over 3,000 events (three runs of 1,024 ids), the
 * third resolved, and 300 alerts, every third one resolved; a fourth
 * incident opened in the third run, with 30 alerts; a fifth with two alerts
 * that started together and no events at all. */
static const char v4_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT);"
    "INSERT INTO meta VALUES('schema', '4');" ALERTS_V1
    "CREATE INDEX alerts_incident ON alerts(incident_id);" INCIDENTS_V3 EVENTS_V1
    "CREATE INDEX events_incident ON events(incident_id);"
    "INSERT INTO incidents VALUES(1, 'service=a', 'A', 'investigating', 3, 0, '{}', 1000, 1000, NULL, NULL, 0),"
    " (2, 'service=b', 'B', 'investigating', 3, 0, '{}', 1000, 1000, NULL, NULL, 0),"
    " (3, 'service=c', 'C', 'resolved', 3, 0, '{}', 1000, 1000, 5000, NULL, 0),"
    " (4, 'service=d', 'D', 'investigating', 3, 0, '{}', 1000, 1000, NULL, NULL, 0),"
    " (5, 'service=e', 'E', 'investigating', 3, 0, '{}', 1000, 1000, NULL, NULL, 0);"
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000)"
    " INSERT INTO events(incident_id, type, time, doc)"
    " SELECT CASE WHEN x > 2100 AND x % 4 = 0 THEN 4 ELSE x % 3 + 1 END, 'alert_joined', x, '{}' FROM n;"
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300)"
    " INSERT INTO alerts SELECT 'am', printf('a%03d', x), CASE WHEN x % 3 THEN 'firing' ELSE 'resolved' END,"
    " '{}', '{}', x, 0, NULL, x % 3 + 1, x FROM n;"
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 30)"
    " INSERT INTO alerts SELECT 'am', printf('d%03d', x), 'firing', '{}', '{}', 1000 + x, 0, NULL, 4, x FROM n;"
    "INSERT INTO alerts VALUES('am', 'e002', 'firing', '{}', '{}', 2000, 0, NULL, 5, 1),"
    " ('am', 'e001', 'firing', '{}', '{}', 2000, 0, NULL, 5, 1);" OUTBOX_V2
    "CREATE INDEX outbox_pending ON outbox(instance, next_at) WHERE state = 0;"
    "CREATE INDEX outbox_order ON outbox(instance, incident_id, recipient, id) WHERE state = 0;"
    "CREATE INDEX outbox_dead ON outbox(id) WHERE state = 3;"
    /* Incident 1's lane to webhook/ops: one delivered, one dead, then two
     * pending (the older one retrying, due after the newer one's time);
     * incident 2's: one pending; and incident 1 to sms/oncall, recipient a. */
    "INSERT INTO outbox(id, event_id, incident_id, instance, state, next_at, created_at, recipient)"
    " VALUES(1, 1, 1, 'webhook/ops', 2, 1000, 1000, ''), (2, 4, 1, 'webhook/ops', 3, 1003, 1003, ''),"
    " (3, 7, 1, 'webhook/ops', 0, 9000, 1006, ''), (4, 10, 1, 'webhook/ops', 0, 1009, 1009, ''),"
    " (5, 2, 2, 'webhook/ops', 0, 1001, 1001, ''), (6, 4, 1, 'sms/oncall', 0, 1003, 1003, 'a');";

/* The store listed as many rows of what as a plain scan found, none differing. */
static void check_listed(int64_t id, const char *what, size_t stored, size_t listed, size_t differ)
{
	CHECK(differ == 0 && stored == listed);
	if (differ || stored != listed)
		fprintf(stderr, "  incident %lld: %zu %s in the store, %zu listed, %zu differ\n", (long long)id, stored,
		        what, listed, differ);
}

/* Incident id's events, alerts and firing count, as the store answers them
 * through its span indexes, against a plain scan of the same file. */
static void check_incident_rows(store *s, const char *path, int64_t id)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ev = NULL, *al = NULL;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT id FROM events WHERE incident_id = ?1 ORDER BY id", -1, &ev, NULL) ==
	      SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db,
	                         "SELECT key, status = 'firing' FROM alerts WHERE incident_id = ?1"
	                         " ORDER BY starts_at, source, key",
	                         -1, &al, NULL) == SQLITE_OK);
	json_t *events = store_events_json(s, id), *alerts = store_alerts_json(s, id);
	CHECK(events != NULL && alerts != NULL);
	size_t n = 0, mismatched = 0;
	sqlite3_bind_int64(ev, 1, id);
	while (sqlite3_step(ev) == SQLITE_ROW) {
		json_t *row = json_array_get(events, n++);
		if (json_integer_value(json_object_get(row, "id")) != sqlite3_column_int64(ev, 0))
			mismatched++;
	}
	check_listed(id, "events", n, json_array_size(events), mismatched);
	int firing = 0;
	n = mismatched = 0;
	sqlite3_bind_int64(al, 1, id);
	while (sqlite3_step(al) == SQLITE_ROW) {
		json_t *row = json_array_get(alerts, n++);
		const char *key = json_string_value(json_object_get(row, "key"));
		if (!key || strcmp(key, (const char *)sqlite3_column_text(al, 0)) != 0)
			mismatched++;
		firing += sqlite3_column_int(al, 1);
	}
	check_listed(id, "alerts", n, json_array_size(alerts), mismatched);
	json_t *inc = store_incident_json(s, id);
	if (inc) {
		CHECK(json_integer_value(json_object_get(inc, "alerts_firing")) == firing);
		/* The list of open incidents counts the same way. */
		json_t *all = store_incidents_json(s, 1), *one;
		size_t i;
		json_array_foreach(all, i, one) if (json_integer_value(json_object_get(one, "id")) == id)
		    CHECK(json_integer_value(json_object_get(one, "alerts_firing")) == firing);
		json_decref(all);
	}
	json_decref(inc);
	json_decref(events);
	json_decref(alerts);
	sqlite3_finalize(ev);
	sqlite3_finalize(al);
	sqlite3_close(db);
}

/* Version 4 to 5: the incident indexes give way to the span indexes, and
 * every incident still has all its events and alerts. Then 5 to 6: the
 * outbox's lane heads. */
static void test_upgrade_from_v4(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "v4.db", v4_sql, path, sizeof(path));
	if (!s)
		return;
	for (int64_t id = 1; id <= 6; id++) /* 6: no such incident */
		check_incident_rows(s, path, id);
	json_t *events = store_events_json(s, 2);
	CHECK(json_array_size(events) == 1000 - 75); /* 2100 < x <= 3000, x % 4 == 0, x % 3 == 1: 75 went to 4 */
	json_decref(events);
	/* Version 5 to 6: each lane's oldest pending row is its head, and only
	 * heads are due, earliest first: incident 2's, then incident 1's
	 * retrying row 3 (not row 4, due earlier but behind it). */
	static const int64_t heads[][2] = {
	    {5, 3}, /* upgraded */
	    {5, 4}, /* row 3 delivered: row 4 takes over its lane */
	    {5, 2}, /* row 2, dead, retried: older than row 4, it goes first */
	};
	for (int step = 0; step < 3; step++) {
		char inst[64];
		if (step == 1)
			CHECK(store_outbox_done(s, 3, 7, 2, 9000) == 0);
		if (step == 2)
			CHECK(store_outbox_requeue(s, 2, 9001, inst, sizeof(inst)) == 1);
		store_delivery d[8];
		int n = store_outbox_due(s, "webhook/ops", d, 8, NULL, NULL);
		CHECK(n == 2);
		if (n == 2)
			CHECK(d[0].id == heads[step][0] && d[1].id == heads[step][1]);
		for (int i = 0; i < n; i++)
			store_delivery_free(&d[i]);
		n = store_outbox_due(s, "sms/oncall", d, 8, NULL, NULL);
		CHECK(n == 1 && d[0].id == 6);
		for (int i = 0; i < n; i++)
			store_delivery_free(&d[i]);
	}
	store_close(s);
	check_index(path, "outbox_pending", NULL);
	check_index(path, "events_incident", NULL);
	check_index(path, "alerts_incident", NULL);
	check_index(path, "alerts_span", "event_mark >> 10, incident_id");
	check_index(path, "events_span", "id >> 10, incident_id");
}

static int put_alert(store *s, const char *key, const char *status, int64_t starts_at, int64_t incident_id)
{
	json_t *a = json_pack("{s:s, s:s, s:s, s:I}", "source", "am", "key", key, "status", status, "starts_at",
	                      (json_int_t)starts_at);
	int rc = a ? store_alert_put(s, a, "{}", "{}", incident_id, starts_at) : -1;
	json_decref(a);
	return rc;
}

static int64_t open_incident(store *s, const char *key)
{
	store_incident row = {.key = key, .title = key, .state = "investigating", .labels_txt = "{}"};
	return store_incident_put(s, &row) == 0 ? row.id : -1;
}

/* A store's incidents found through the span indexes as crierd writes them:
 * alerts put just before the event telling of them, incidents taking turns
 * over several runs of ids, an alert moving to another incident, an incident
 * resolved and written to afterwards, and the newest event, a subscriber's
 * confirmation, deleted just before an alert (its id is used again). */
static void test_spans(const char *dir)
{
	char path[512];
	store *s = open_fixture(dir, "spans.db", NULL, path, sizeof(path));
	if (!s)
		return;
	int64_t inc[6]; /* the sixth opens late, its floor beyond the first run */
	char key[32];
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "service=%d", i);
		inc[i] = open_incident(s, key);
		CHECK(inc[i] > 0);
		CHECK(store_event_add(s, inc[i], "opened", 1, "t", "", "{}") > 0);
	}
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	/* The store's checkpoints hold the writer's lock for a moment. */
	sqlite3_busy_timeout(db, 5000);
	int failed = 0;
	for (int k = 1; k <= 4000 && !failed; k++) {
		/* Incident 1 is resolved half-way; later ones keep going. */
		int64_t id = inc[k < 2000 ? k % 5 : k % 4 == 1 ? 0 : k % 4];
		if (k == 2500) {
			inc[5] = open_incident(s, "service=late");
			failed |= inc[5] <= 0 || store_event_add(s, inc[5], "opened", k, "t", "", "{}") <= 0;
		}
		if (k > 2500 && k % 7 == 0)
			id = inc[5];
		if (k % 700 == 0) {
			int64_t c = store_event_add(s, 0, "subscription_confirm", k, "t", "", "{}");
			char del[96];
			snprintf(del, sizeof(del), "DELETE FROM events WHERE id = %lld", (long long)c);
			failed |= c <= 0 || sqlite3_exec(db, del, NULL, NULL, NULL) != SQLITE_OK;
		}
		snprintf(key, sizeof(key), "a%04d", k);
		failed |= put_alert(s, key, k % 3 ? "firing" : "resolved", k, id) < 0 ||
		          store_event_add(s, id, "alert_joined", k, "t", "", "{}") <= 0;
		if (k == 2000) {
			store_incident row = {.id = inc[1],
			                      .key = "service=1",
			                      .title = "service=1",
			                      .state = "resolved",
			                      .labels_txt = "{}"};
			failed |= store_incident_put(s, &row) < 0 ||
			          store_event_add(s, inc[1], "resolved", k, "t", "", "{}") <= 0;
		}
	}
	CHECK(!failed);
	/* Written after it was resolved: a post-mortem's event, one of its alerts resolving. */
	CHECK(store_event_add(s, inc[1], "postmortem_published", 5000, "t", "", "{}") > 0);
	CHECK(put_alert(s, "a1996", "resolved", 1996, inc[1]) == 0);
	/* An alert resolving stays where it joined its incident. */
	CHECK(put_alert(s, "a3997", "resolved", 3997, inc[5]) == 0);
	/* An alert moving: it leaves incident 4 for the late one, whose span starts runs later. */
	CHECK(put_alert(s, "a0004", "firing", 4, inc[5]) == 0);
	CHECK(store_event_add(s, inc[5], "alert_joined", 5001, "t", "", "{}") > 0);
	/* Events of an incident the store has no row for are still found. */
	CHECK(store_event_add(s, 99, "opened", 5002, "t", "", "{}") > 0);
	for (int i = 0; i < 6; i++)
		check_incident_rows(s, path, inc[i]);
	check_incident_rows(s, path, 99);
	json_t *moved = store_alerts_json(s, inc[5]), *a;
	size_t i;
	int found = 0;
	json_array_foreach(moved, i, a) found |= strcmp(json_string_value(json_object_get(a, "key")), "a0004") == 0;
	CHECK(found);
	json_decref(moved);
	sqlite3_close(db);
	store_close(s);
}

int main(void)
{
	char dir[] = "/tmp/crier-test-store-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_upgrade_from_v1(dir);
	test_upgrade_from_v3(dir);
	test_newer_refused(dir);
	test_upgrade_from_v4(dir);
	test_spans(dir);
	test_lanes(dir);
	test_mend_heads(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary("test_store");
}
