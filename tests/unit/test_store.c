/* The store's schema versions: upgrade in place, refuse the unknown. */
#include "check.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What crierd 0.1 (schema version 1) wrote: the outbox had no recipient,
 * incidents no audience. */
static const char v1_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT);"
    "INSERT INTO meta VALUES('schema', '1');"
    "CREATE TABLE incidents(id INTEGER PRIMARY KEY, key TEXT NOT NULL, title TEXT NOT NULL,"
    " state TEXT NOT NULL, severity INTEGER NOT NULL, human INTEGER NOT NULL, labels TEXT NOT NULL,"
    " opened_at INTEGER, updated_at INTEGER, resolved_at INTEGER, hold_until INTEGER);"
    "INSERT INTO incidents VALUES(1, 'service=api', 'API down', 'investigating', 5, 0, '{}', 1000, 1000,"
    " NULL, NULL);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, type TEXT NOT NULL,"
    " time INTEGER NOT NULL, actor TEXT, message TEXT, doc TEXT);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,"
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
    "INSERT INTO meta VALUES('schema', '3');"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, type TEXT NOT NULL,"
    " time INTEGER NOT NULL, actor TEXT, message TEXT, doc TEXT);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,"
    " incident_id INTEGER NOT NULL, instance TEXT NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER, last_error TEXT, recipient TEXT NOT NULL DEFAULT '');"
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

static void test_upgrade_from_v1(const char *dir)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/v1.db", dir);
	CHECK(make_db(path, v1_sql) == 0);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	/* The pending delivery of version 1 survives, with no recipient and its old key. */
	store_delivery d[4];
	int n = store_outbox_due(s, "webhook/ops", d, 4);
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
	s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	store_close(s);
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

/* Version 3 to 4: the outbox's indexes become partial; every row keeps its state. */
static void test_upgrade_from_v3(const char *dir)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/v3.db", dir);
	CHECK(make_db(path, v3_sql) == 0);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	int64_t pending = -1, dead = -1;
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 1 && dead == 1);
	store_delivery d[4];
	int n = store_outbox_due(s, "webhook/ops", d, 4);
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
	CHECK(store_outbox_done(s, 3, 1, 3000) == 0);
	CHECK(store_outbox_due(s, "webhook/ops", d, 4) == 0);
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 0 && dead == 1);
	char inst[64];
	CHECK(store_outbox_requeue(s, 2, 4000, inst, sizeof(inst)) == 1);
	CHECK_STR(inst, "sms/oncall");
	CHECK(store_outbox_counts(s, &pending, &dead) == 0 && pending == 1 && dead == 0);
	store_close(s);
	char *sql = index_sql(path, "outbox_pending");
	CHECK(sql && strstr(sql, "WHERE state = 0") != NULL);
	free(sql);
	sql = index_sql(path, "outbox_order");
	CHECK(sql && strstr(sql, "recipient, id) WHERE state = 0") != NULL);
	free(sql);
	sql = index_sql(path, "outbox_dead");
	CHECK(sql && strstr(sql, "WHERE state = 3") != NULL);
	free(sql);
	sql = index_sql(path, "outbox_state");
	CHECK_STR(sql, "");
	free(sql);
}

static void test_newer_refused(const char *dir)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/v99.db", dir);
	CHECK(make_db(path, "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT); INSERT INTO meta VALUES('schema', '99');"
	                    "CREATE TABLE outbox(id INTEGER PRIMARY KEY);") == 0);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s == NULL);
	CHECK(strstr(err, "has schema version 99; this crierd knows versions 1 to 4") != NULL);
	store_close(s);
}

/* Per incident and recipient order: one recipient's pending head does not
 * hold back another's. */
static void test_lanes(const char *dir)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof(path), "%s/lanes.db", dir);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
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
	int n = store_outbox_due(s, "sms/oncall", d, 8);
	/* The heads of both lanes: event 1 to a and to b, not event 2 yet. */
	CHECK(n == 2);
	for (int i = 0; i < n; i++) {
		CHECK(d[i].event_id == e1);
		store_delivery_free(&d[i]);
	}
	CHECK(store_outbox_done(s, 1, 1, 1500) == 0); /* a's first is done: a's second is next */
	n = store_outbox_due(s, "sms/oncall", d, 8);
	CHECK(n == 2);
	int saw_a2 = 0;
	for (int i = 0; i < n; i++) {
		if (d[i].event_id == e2 && strcmp(d[i].recipient, "a") == 0)
			saw_a2 = 1;
		store_delivery_free(&d[i]);
	}
	CHECK(saw_a2);
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
	test_lanes(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary("test_store");
}
