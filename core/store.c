/*
 * SQLite store. WAL mode so readers never block the writer and a commit is
 * one append to the log; synchronous=NORMAL survives a crash of crierd
 * (the WAL is in the OS page cache), FULL also survives power loss.
 * Every statement is prepared once at open.
 */
#include "store.h"

#include "checkpoint.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 6: outbox.head marks each lane's oldest pending row, and what is due is
 * read from those alone (outbox_heads).
 * 5: an incident's events and alerts indexed by runs of event ids, not by
 * incident (events_span, alerts_span, incidents.event_floor/_ceiling).
 * 4: the outbox's indexes hold pending rows only (and dead ones, apart),
 * so a delivery done leaves them instead of moving inside them.
 * 3: incidents.audience (public and security flags, core/audience.h).
 * 2: outbox.recipient (one delivery per recipient). Older versions are
 * upgraded in place (see migrate); newer ones are refused. */
#define SCHEMA_VERSION 6

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The pending rows p of the lane of row o, OLD or outbox (outbox_order finds them). */
#define LANE_O "p.instance = o.instance AND p.incident_id = o.incident_id AND p.recipient = o.recipient AND p.state = 0"
#define LANE_OLD                                                                                                       \
	"p.instance = OLD.instance AND p.incident_id = OLD.incident_id AND p.recipient = OLD.recipient"                \
	" AND p.state = 0"
#define LANE_ROW                                                                                                       \
	"p.instance = outbox.instance AND p.incident_id = outbox.incident_id AND p.recipient = outbox.recipient"       \
	" AND p.state = 0"
/* Whether the pending row of outbox is its lane's head: no older pending row in the lane. */
#define HEAD_OF_ROW "NOT EXISTS (SELECT 1 FROM outbox p WHERE " LANE_ROW " AND p.id < outbox.id)"

/* The newest event's id, 0 in an empty store: floors, ceilings and marks (schema_sql). */
#define NEWEST_EVENT "(SELECT COALESCE(MAX(id), 0) FROM events)"

/* One transaction: a first start that fails half-way leaves nothing behind. */
static const char schema_sql[] =
    "BEGIN;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
    "CREATE TABLE IF NOT EXISTS alerts(source TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,"
    " labels TEXT NOT NULL, annotations TEXT NOT NULL, starts_at INTEGER, ends_at INTEGER, link TEXT,"
    " incident_id INTEGER, updated_at INTEGER, event_mark INTEGER, PRIMARY KEY(source, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS incidents(id INTEGER PRIMARY KEY, key TEXT NOT NULL, title TEXT NOT NULL,"
    " state TEXT NOT NULL, severity INTEGER NOT NULL, human INTEGER NOT NULL, labels TEXT NOT NULL,"
    " opened_at INTEGER, updated_at INTEGER, resolved_at INTEGER, hold_until INTEGER,"
    " audience INTEGER NOT NULL DEFAULT 0, event_floor INTEGER, event_ceiling INTEGER);"
    "CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state);"
    "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, type TEXT NOT NULL,"
    " time INTEGER NOT NULL, actor TEXT, message TEXT, doc TEXT);"
    /* An incident's events and alerts are found by runs of 1,024 event ids,
     * then by incident, not by incident alone. An index by incident made
     * every incident that got an alert or an event write a page of its own
     * to each index in each commit: with dozens of incidents busy at once,
     * two thirds of what a commit wrote. Rows of one run share a few pages
     * whatever their incidents. An alert's run is its event_mark, the id of
     * the event it joined its incident with; an incident's events and alerts
     * lie between its event_floor and its event_ceiling (or the newest
     * event while it is open), and the queries (SPAN) seek once per run
     * between the two. */
    "CREATE INDEX IF NOT EXISTS events_span ON events(id >> 10, incident_id);"
    "CREATE INDEX IF NOT EXISTS alerts_span ON alerts(event_mark >> 10, incident_id);"
    "CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,"
    " incident_id INTEGER NOT NULL, instance TEXT NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER, last_error TEXT, recipient TEXT NOT NULL DEFAULT '', head INTEGER);"
    /* Delivered rows, nearly all of them, are in no index but the table's:
     * what is due (ST_OUTBOX_NEXT), each lane's rows (outbox_order) and the
     * counts read pending and dead rows only. */
    "CREATE INDEX IF NOT EXISTS outbox_order ON outbox(instance, incident_id, recipient, id) WHERE state = 0;"
    "CREATE INDEX IF NOT EXISTS outbox_dead ON outbox(id) WHERE state = 3;"
    /* A lane (an instance, incident and recipient) hands out its pending
     * rows oldest first, one at a time: only its oldest, its head, can be
     * due. Found by scanning every pending row in due order, a lane with a
     * backlog cost each look for due rows its whole backlog, and a look
     * comes with every routed event; marked, a look reads heads alone.
     * head is 1 on a lane's oldest pending row and 0 on the others (a
     * delivered or dead row keeps what it had; only pending rows count).
     * Every insert says it: a new row has the highest id, so it is a head
     * when its lane has no pending row (ST_OUTBOX_ADD, the subscribers'
     * fan-out). When a head stops pending, the next row of its lane takes
     * over (ST_OUTBOX_PROMOTE); a row pending again sorts its lane out
     * again, for it may be older than the lane's head (ST_OUTBOX_RELANE);
     * a head deleted hands over in outbox_head_gone. Triggers for the
     * first two as well measured 30,000 more instructions per delivery:
     * SQLite runs a trigger's program for every row its event touches,
     * WHEN or not. */
    "CREATE INDEX IF NOT EXISTS outbox_heads ON outbox(instance, next_at) WHERE state = 0 AND head = 1;"
    "CREATE TRIGGER IF NOT EXISTS outbox_head_gone AFTER DELETE ON outbox WHEN OLD.state = 0 AND OLD.head = 1"
    " BEGIN UPDATE outbox SET head = 1 WHERE id = (SELECT MIN(p.id) FROM outbox p WHERE " LANE_OLD "); END;"
    "CREATE TABLE IF NOT EXISTS plugin_state(incident_id INTEGER NOT NULL, instance TEXT NOT NULL,"
    " state TEXT NOT NULL, PRIMARY KEY(incident_id, instance)) WITHOUT ROWID;"
    /* Drafts (docs/drafts.md): text people approve before it is published. */
    "CREATE TABLE IF NOT EXISTS drafts(id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL,"
    " event_id INTEGER NOT NULL, instance TEXT NOT NULL, network TEXT NOT NULL, measure INTEGER NOT NULL,"
    " text TEXT NOT NULL, length INTEGER NOT NULL, max_length INTEGER NOT NULL, status TEXT NOT NULL,"
    " actor TEXT, error TEXT, publish_event INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS drafts_publish ON drafts(publish_event) WHERE publish_event IS NOT NULL;"
    /* The update clock of each open public incident (cadence.c); a new table, so no migration. */
    "CREATE TABLE IF NOT EXISTS cadence(incident_id INTEGER PRIMARY KEY, public_at INTEGER NOT NULL,"
    " last_update INTEGER NOT NULL, cycle INTEGER NOT NULL, stage INTEGER NOT NULL);"
    /* Post-mortems (docs/postmortems.md): one row per resolved incident. */
    "CREATE TABLE IF NOT EXISTS postmortems(incident_id INTEGER PRIMARY KEY, resolved_at INTEGER NOT NULL,"
    " due_at INTEGER, reminded_at INTEGER, draft_hash TEXT, drafted_at INTEGER, markdown TEXT, html TEXT,"
    " published_at INTEGER, published_by TEXT, publish_event INTEGER, revision INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS postmortems_due ON postmortems(due_at)"
    " WHERE published_at IS NULL AND reminded_at IS NULL;"
    "INSERT OR IGNORE INTO meta(k, v) VALUES('schema', '" STR(SCHEMA_VERSION) "');"
                                                                              "COMMIT;";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_ALERT_PUT,
	ST_ALERT_LOAD,
	ST_INC_INSERT,
	ST_INC_UPDATE,
	ST_INC_UPDATE_SAME_STATE,
	ST_INC_LOAD,
	ST_EVENT_ADD,
	ST_OUTBOX_ADD,
	ST_OUTBOX_NEXT,
	ST_OUTBOX_DONE,
	ST_OUTBOX_RETRY,
	ST_OUTBOX_DEAD,
	ST_OUTBOX_REQUEUE,
	ST_OUTBOX_PROMOTE,
	ST_OUTBOX_RELANE,
	ST_OUTBOX_COUNTS,
	ST_STATE_SET,
	ST_DRAFT_ADD,
	ST_DRAFT_GET,
	ST_DRAFT_STATUS,
	ST_DRAFT_TEXT,
	ST_DRAFT_BY_PUB,
	ST_DRAFT_NOTE,
	ST_CLOCK_PUT,
	ST_CLOCK_DEL,
	ST_CLOCK_PRUNE,
	ST_CLOCK_ADOPT,
	ST_CLOCK_LOAD,
	ST_META_GET,
	ST_META_SET,
	ST_N
};

static const char *const stmt_sql[ST_N] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* An alert's event_mark is the id the next event will have: the one
     * telling it joined its incident, written right after in the same
     * transaction. It stays while the alert stays in that incident, so its
     * alerts_span entry is rewritten where it was, in its own run, and the
     * incident's span still covers it. */
    [ST_ALERT_PUT] = "INSERT INTO alerts(source, key, status, labels, annotations, starts_at, ends_at, link,"
                     " incident_id, updated_at, event_mark) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                     " " NEWEST_EVENT " + 1)"
                     " ON CONFLICT(source, key) DO UPDATE SET status = excluded.status, labels = excluded.labels,"
                     " annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,"
                     " link = excluded.link, incident_id = excluded.incident_id, updated_at = excluded.updated_at,"
                     " event_mark = CASE WHEN incident_id IS excluded.incident_id THEN event_mark"
                     " ELSE excluded.event_mark END",
    [ST_ALERT_LOAD] = "SELECT a.source, a.key, a.status = 'firing', a.starts_at, COALESCE(a.incident_id, 0)"
                      " FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id"
                      " WHERE a.status = 'firing' OR (i.id IS NOT NULL AND i.state <> 'resolved')",
    /* A new incident's events and alerts all come after the newest event
     * there is now: that id is its event_floor. Once it is resolved no alert
     * joins it, so the newest event then is its event_ceiling (alerts_span);
     * until then it has none, and the newest event bounds its alerts. */
    [ST_INC_INSERT] = "INSERT INTO incidents(key, title, state, severity, human, labels, opened_at, updated_at,"
                      " resolved_at, hold_until, audience, event_floor) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                      " ?10, ?12, " NEWEST_EVENT ")",
    [ST_INC_UPDATE] = "UPDATE incidents SET key = ?1, title = ?2, state = ?3, severity = ?4, human = ?5,"
                      " labels = ?6, opened_at = ?7, updated_at = ?8, resolved_at = ?9, hold_until = ?10,"
                      " audience = ?12,"
                      " event_ceiling = CASE WHEN ?3 = 'resolved' THEN " NEWEST_EVENT " END"
                      " WHERE id = ?11",
    /* Most writes leave the state as it was: then its index is not touched. */
    [ST_INC_UPDATE_SAME_STATE] = "UPDATE incidents SET key = ?1, title = ?2, severity = ?4, human = ?5, labels = ?6,"
                                 " opened_at = ?7, updated_at = ?8, resolved_at = ?9, hold_until = ?10,"
                                 " audience = ?12 WHERE id = ?11",
    [ST_INC_LOAD] = "SELECT id, key, title, state, severity, human, labels, opened_at, updated_at,"
                    " COALESCE(resolved_at, 0), COALESCE(hold_until, 0), audience FROM incidents"
                    " WHERE state <> 'resolved'",
    [ST_EVENT_ADD] = "INSERT INTO events(incident_id, type, time, actor, message, doc) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    /* Kept from clang-format, which splits a macro's arguments across the SQL. */
    /* clang-format off */
    [ST_OUTBOX_ADD] = "INSERT INTO outbox(event_id, incident_id, instance, state, attempts, next_at, created_at,"
                      " updated_at, recipient, head) VALUES(?1, ?2, ?3, 0, 0, ?4, ?4, ?4, ?5, "
                      STORE_OUTBOX_NEW_HEAD("?3", "?2", "?5") ")",
    /* clang-format on */
    /* Order is kept per incident and recipient: one recipient's retries
     * never hold back another's messages. Lane heads only (outbox_heads). */
    [ST_OUTBOX_NEXT] = "SELECT o.id, o.event_id, o.incident_id, o.attempts, o.next_at, o.created_at, e.doc, ps.state,"
                       " o.recipient, e.type FROM outbox o JOIN events e ON e.id = o.event_id"
                       " LEFT JOIN plugin_state ps ON ps.incident_id = o.incident_id AND ps.instance = o.instance"
                       " WHERE o.instance = ?1 AND o.state = 0 AND o.head = 1 AND NOT crier_skip(o.id)"
                       " ORDER BY o.next_at, o.id LIMIT ?2",
    [ST_OUTBOX_DONE] =
        "UPDATE outbox SET state = 2, attempts = ?2, updated_at = ?3, last_error = NULL WHERE id = ?1 AND event_id = ?4"
        " AND state = 0",
    [ST_OUTBOX_RETRY] = "UPDATE outbox SET state = 0, attempts = ?2, next_at = ?3, last_error = ?4, updated_at = ?5"
                        " WHERE id = ?1 AND event_id = ?6 AND state = 0",
    [ST_OUTBOX_DEAD] =
        "UPDATE outbox SET state = 3, attempts = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1 AND event_id = ?5"
        " AND state = 0",
    [ST_OUTBOX_REQUEUE] = "UPDATE outbox SET state = 0, next_at = ?2, updated_at = ?2 WHERE id = ?1 AND state <> 2"
                          " RETURNING instance",
    /* Row ?1 stopped pending: if it was its lane's head, the next takes over. */
    [ST_OUTBOX_PROMOTE] =
        "UPDATE outbox SET head = 1 WHERE id = (SELECT MIN(p.id) FROM outbox o JOIN outbox p ON " LANE_O
        " WHERE o.id = ?1 AND o.head = 1)",
    /* Row ?1 pends again: its lane's oldest pending row is the head. */
    [ST_OUTBOX_RELANE] = "UPDATE outbox SET head = (id = (SELECT MIN(p.id) FROM outbox o JOIN outbox p ON " LANE_O
                         " WHERE o.id = ?1)) WHERE (instance, incident_id, recipient) ="
                         " (SELECT instance, incident_id, recipient FROM outbox WHERE id = ?1) AND state = 0",
    [ST_OUTBOX_COUNTS] = "SELECT (SELECT COUNT(*) FROM outbox WHERE state = 0),"
                         " (SELECT COUNT(*) FROM outbox WHERE state = 3)",
    [ST_STATE_SET] = "INSERT OR REPLACE INTO plugin_state(incident_id, instance, state) VALUES(?1, ?2, ?3)",
    [ST_DRAFT_ADD] = "INSERT INTO drafts(incident_id, event_id, instance, network, measure, text, length, max_length,"
                     " status, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9)",
    [ST_DRAFT_GET] = "SELECT id, incident_id, event_id, instance, network, measure, text, length, max_length, status"
                     " FROM drafts WHERE id = ?1",
    [ST_DRAFT_STATUS] = "UPDATE drafts SET status = ?3, actor = COALESCE(?4, actor), error = ?5,"
                        " publish_event = COALESCE(?6, publish_event), updated_at = ?7 WHERE id = ?1 AND status = ?2",
    [ST_DRAFT_TEXT] = "UPDATE drafts SET text = ?2, length = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'pending'",
    [ST_DRAFT_BY_PUB] = "SELECT id FROM drafts WHERE publish_event = ?1 AND instance = ?2",
    [ST_DRAFT_NOTE] = "UPDATE drafts SET error = ?2, updated_at = ?3 WHERE id = ?1",
    [ST_CLOCK_PUT] = "INSERT OR REPLACE INTO cadence(incident_id, public_at, last_update, cycle, stage)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_CLOCK_DEL] = "DELETE FROM cadence WHERE incident_id = ?1",
    [ST_CLOCK_PRUNE] =
        "DELETE FROM cadence WHERE incident_id NOT IN (SELECT id FROM incidents WHERE state <> 'resolved')",
    [ST_CLOCK_ADOPT] = "INSERT INTO cadence(incident_id, public_at, last_update, cycle, stage) SELECT id, ?1, 0, ?1, ?3"
                       " FROM incidents WHERE state <> 'resolved' AND (audience & ?2) <> 0"
                       " AND id NOT IN (SELECT incident_id FROM cadence)",
    [ST_CLOCK_LOAD] = "SELECT incident_id, public_at, last_update, cycle, stage FROM cadence ORDER BY incident_id",
    [ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	checkpoint *ckpt;
	/* store_outbox_due's caller's test, for its query's crier_skip(). */
	int (*skip)(int64_t id, void *ctx);
	void *skip_ctx;
};

/* crier_skip(id): whether store_outbox_due's caller wants row id left out.
 * It is tested on the outbox row alone, before its event is joined, so the
 * deliveries already in flight cost the query no document each. */
static void sql_skip(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	store *s = sqlite3_user_data(ctx);
	(void)argc;
	sqlite3_result_int(ctx, s->skip && s->skip(sqlite3_value_int64(argv[0]), s->skip_ctx));
}

/* The store's schema version (1..SCHEMA_VERSION), or -1 with err set. */
static int check_version(store *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", -1, &st,
	                       NULL) != SQLITE_OK)
		goto broken;
	int has_meta = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	st = NULL;
	if (!has_meta)
		return SCHEMA_VERSION; /* a new store: schema_sql makes it current */
	if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'schema'", -1, &st, NULL) != SQLITE_OK)
		goto broken;
	const char *v = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	char *end = NULL;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || *end || n < 1 || n > SCHEMA_VERSION) {
		snprintf(err, errlen, "store %s has schema version %s; this crierd knows versions 1 to %d", path,
		         v ? v : "(none)", SCHEMA_VERSION);
		ret = -1;
	} else {
		ret = (int)n;
	}
	sqlite3_finalize(st);
	return ret;
broken:
	snprintf(err, errlen, "cannot read %s: %s", path, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return -1;
}

/* Bring an older store up to SCHEMA_VERSION, in one transaction. */
static const char *const migrations[SCHEMA_VERSION + 1] = {
    [2] = "ALTER TABLE outbox ADD COLUMN recipient TEXT NOT NULL DEFAULT '';",
    [3] = "ALTER TABLE incidents ADD COLUMN audience INTEGER NOT NULL DEFAULT 0;",
    /* schema_sql then makes them anew, partial. */
    [4] = "DROP INDEX IF EXISTS outbox_pending; DROP INDEX IF EXISTS outbox_order; DROP INDEX IF EXISTS outbox_state;",
    /* Floors and ceilings from each incident's first and last events, read
     * while events_incident is still there (an incident without events: the
     * newest event, as for one opened now); each alert marked with its
     * incident's floor. schema_sql then makes the span indexes. */
    [5] =
        "ALTER TABLE incidents ADD COLUMN event_floor INTEGER;"
        " ALTER TABLE incidents ADD COLUMN event_ceiling INTEGER;"
        " ALTER TABLE alerts ADD COLUMN event_mark INTEGER;"
        " UPDATE incidents SET event_floor ="
        " COALESCE((SELECT MIN(id) FROM events WHERE incident_id = incidents.id),"
        " (SELECT MAX(id) FROM events), 0);"
        " UPDATE incidents SET event_ceiling = COALESCE((SELECT MAX(id) FROM events WHERE incident_id = incidents.id),"
        " event_floor) WHERE state = 'resolved';"
        " UPDATE alerts SET event_mark ="
        " COALESCE((SELECT event_floor FROM incidents WHERE id = alerts.incident_id), 0);"
        " DROP INDEX IF EXISTS events_incident; DROP INDEX IF EXISTS alerts_incident;",
    /* Every lane's head marked, through outbox_order (a store from before
     * version 4 lost it in [4]: without it this is quadratic); schema_sql
     * then makes outbox_heads and the trigger. */
    [6] = "ALTER TABLE outbox ADD COLUMN head INTEGER;"
          " CREATE INDEX IF NOT EXISTS outbox_order ON outbox(instance, incident_id, recipient, id) WHERE state = 0;"
          " UPDATE outbox SET head = CASE WHEN state = 0 THEN " HEAD_OF_ROW " ELSE 0 END;"
          " DROP INDEX IF EXISTS outbox_pending;",
};

static int migrate(store *s, const char *path, int from, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	for (int v = from + 1; v <= SCHEMA_VERSION; v++)
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	if (sqlite3_exec(s->db, "UPDATE meta SET v = '" STR(SCHEMA_VERSION) "' WHERE k = 'schema'; COMMIT;", NULL, NULL,
	                 &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot upgrade store %s from schema version %d to %d: %s", path, from, SCHEMA_VERSION,
	         msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

void store_tune_library(void)
{
	/* SQLite counts every allocation for sqlite3_memory_used() under one
	 * process-wide mutex: ~90 lock and unlock pairs per request on the
	 * core thread, and a cache line shared with the checkpoint thread.
	 * crierd never asks for the count. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

store *store_open(const char *path, int sync_full, int checkpoint_pages, char *err, size_t errlen)
{
	store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open store %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	/* A store written by a newer crierd may mean things this one does not
	 * know: look before changing anything in it (a new file has no meta). */
	int version = check_version(s, path, err, errlen);
	if (version < 0)
		goto fail;
	char pragmas[256];
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA busy_timeout=5000;"
	         " PRAGMA wal_autocheckpoint=%d; PRAGMA cache_size=-16000;",
	         sync_full ? "FULL" : "NORMAL", checkpoint_pages > 0 ? checkpoint_pages : CHECKPOINT_PAGES_DEFAULT);
	char *msg = NULL;
	if (sqlite3_exec(s->db, pragmas, NULL, NULL, &msg) != SQLITE_OK)
		goto setup_failed;
	/* Upgrade first: schema_sql describes the current version's tables and
	 * indexes, which may use columns an older store lacks. */
	if (version < SCHEMA_VERSION && migrate(s, path, version, err, errlen) < 0)
		goto fail;
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK)
		goto setup_failed;
	if (sqlite3_create_function_v2(s->db, "crier_skip", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, s, sql_skip, NULL, NULL,
	                               NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	for (int i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare statement %d: %s", i, sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	s->ckpt = checkpoint_start(s->db, path, checkpoint_pages, err, errlen);
	if (!s->ckpt)
		goto fail;
	return s;
setup_failed:
	snprintf(err, errlen, "cannot set up store %s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
fail:
	store_close(s);
	return NULL;
}

void store_close(store *s)
{
	if (!s)
		return;
	checkpoint_stop(s->ckpt);
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

const char *store_error(store *s)
{
	return sqlite3_errmsg(s->db);
}

sqlite3 *store_db(store *s)
{
	return s->db;
}

/* Run a statement that returns no rows; reset it whatever happens. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : -1;
}

int store_begin(store *s)
{
	return step_done(s->st[ST_BEGIN]);
}

int store_commit(store *s)
{
	return step_done(s->st[ST_COMMIT]);
}

void store_rollback(store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		step_done(s->st[ST_ROLLBACK]);
}

/* Text bound without a copy (an event's document is kilobytes): every
 * statement here runs, and drops its bindings (step_done, or a reset and
 * sqlite3_clear_bindings, or finalize), before the function that bound
 * them returns. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Other modules' statements may run later: a copy. */
void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int store_step_done(sqlite3_stmt *st)
{
	return step_done(st);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

int store_alert_put(store *s, const json_t *alert, const char *labels, const char *annotations, int64_t incident_id,
                    int64_t now)
{
	sqlite3_stmt *st = s->st[ST_ALERT_PUT];
	bind_text(st, 1, jstr(alert, "source"));
	bind_text(st, 2, jstr(alert, "key"));
	bind_text(st, 3, jstr(alert, "status"));
	bind_text(st, 4, labels ? labels : "{}");
	bind_text(st, 5, annotations ? annotations : "{}");
	sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(alert, "starts_at")));
	sqlite3_bind_int64(st, 7, json_integer_value(json_object_get(alert, "ends_at")));
	bind_text(st, 8, jstr(alert, "link"));
	if (incident_id)
		sqlite3_bind_int64(st, 9, incident_id);
	else
		sqlite3_bind_null(st, 9);
	sqlite3_bind_int64(st, 10, now);
	return step_done(st);
}

int store_alert_load(store *s,
                     int (*fn)(const char *source, const char *key, int firing, int64_t starts_at, int64_t incident_id,
                               void *ctx),
                     void *ctx)
{
	sqlite3_stmt *st = s->st[ST_ALERT_LOAD];
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		       sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), ctx) < 0) {
			ret = -1;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(st);
	return ret;
}

static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

int store_incident_put(store *s, store_incident *row)
{
	sqlite3_stmt *st = s->st[!row->id ? ST_INC_INSERT : row->same_state ? ST_INC_UPDATE_SAME_STATE : ST_INC_UPDATE];
	bind_text(st, 1, row->key);
	bind_text(st, 2, row->title);
	bind_text(st, 3, row->state);
	sqlite3_bind_int(st, 4, row->severity);
	sqlite3_bind_int(st, 5, row->human);
	bind_text(st, 6, row->labels_txt);
	bind_time(st, 7, row->opened_at);
	bind_time(st, 8, row->updated_at);
	bind_time(st, 9, row->resolved_at);
	bind_time(st, 10, row->hold_until);
	if (row->id)
		sqlite3_bind_int64(st, 11, row->id);
	sqlite3_bind_int(st, 12, row->audience);
	if (step_done(st) < 0)
		return -1;
	if (!row->id)
		row->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_incident_load(store *s, int (*fn)(const store_incident *row, void *ctx), void *ctx)
{
	sqlite3_stmt *st = s->st[ST_INC_LOAD];
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *labels = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);
		store_incident row = {
		    .id = sqlite3_column_int64(st, 0),
		    .key = (const char *)sqlite3_column_text(st, 1),
		    .title = (const char *)sqlite3_column_text(st, 2),
		    .state = (const char *)sqlite3_column_text(st, 3),
		    .severity = sqlite3_column_int(st, 4),
		    .human = sqlite3_column_int(st, 5),
		    .labels = labels,
		    .opened_at = sqlite3_column_int64(st, 7),
		    .updated_at = sqlite3_column_int64(st, 8),
		    .resolved_at = sqlite3_column_int64(st, 9),
		    .hold_until = sqlite3_column_int64(st, 10),
		    .audience = sqlite3_column_int(st, 11),
		};
		int r = fn(&row, ctx);
		json_decref(labels);
		if (r < 0) {
			ret = -1;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(st);
	return ret;
}

int64_t store_event_add(store *s, int64_t incident_id, const char *type, int64_t time, const char *actor,
                        const char *message, const char *doc)
{
	sqlite3_stmt *st = s->st[ST_EVENT_ADD];
	sqlite3_bind_int64(st, 1, incident_id);
	bind_text(st, 2, type);
	sqlite3_bind_int64(st, 3, time);
	bind_text(st, 4, actor);
	bind_text(st, 5, message);
	bind_text(st, 6, doc);
	if (step_done(st) < 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

int store_outbox_add(store *s, int64_t event_id, int64_t incident_id, const char *instance, const char *recipient,
                     int64_t now)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_ADD];
	sqlite3_bind_int64(st, 1, event_id);
	sqlite3_bind_int64(st, 2, incident_id);
	bind_text(st, 3, instance);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, recipient ? recipient : "");
	return step_done(st);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

/*
 * A delivery's idempotency key, "crier-<event>-<instance>", plus
 * "-<recipient>" for a recipient (recipient "" for none): the same on every
 * retry and restart. Made here only, for the plugins (store_outbox_due) and
 * for crierctl (with_keys) alike; in C, as SQL's || costs more than the rest
 * of the row. A new string, or NULL.
 */
static char *idempotency_key(int64_t event_id, const char *instance, const char *recipient)
{
	char num[24];
	int nl = snprintf(num, sizeof(num), "%" PRId64, event_id);
	size_t li = strlen(instance), lr = strlen(recipient);
	char *k = nl > 0 ? malloc(6 + (size_t)nl + 1 + li + (lr ? 1 + lr : 0) + 1) : NULL, *p = k;
	if (!k)
		return NULL;
	memcpy(p, "crier-", 6);
	p += 6;
	memcpy(p, num, (size_t)nl);
	p += nl;
	*p++ = '-';
	memcpy(p, instance, li);
	p += li;
	if (lr) {
		*p++ = '-';
		memcpy(p, recipient, lr);
		p += lr;
	}
	*p = '\0';
	return k;
}

int store_outbox_due(store *s, const char *instance, store_delivery *out, int max, int (*skip)(int64_t id, void *ctx),
                     void *ctx)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_NEXT];
	int n = 0, rc = SQLITE_DONE;
	s->skip = skip;
	s->skip_ctx = ctx;
	bind_text(st, 1, instance);
	sqlite3_bind_int(st, 2, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_delivery *d = &out[n];
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(st, 0);
		d->event_id = sqlite3_column_int64(st, 1);
		d->incident_id = sqlite3_column_int64(st, 2);
		d->attempts = sqlite3_column_int(st, 3);
		d->next_at = sqlite3_column_int64(st, 4);
		d->created_at = sqlite3_column_int64(st, 5);
		d->doc = col_dup(st, 6);
		d->state = col_dup(st, 7);
		d->recipient = col_dup(st, 8);
		d->type = col_dup(st, 9);
		d->key = d->recipient ? idempotency_key(d->event_id, instance, d->recipient) : NULL;
		if (!d->doc || !d->recipient || !d->type || !d->key ||
		    (!d->state && sqlite3_column_type(st, 7) != SQLITE_NULL)) {
			store_delivery_free(d);
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		for (int i = 0; i < n; i++)
			store_delivery_free(&out[i]);
		n = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	s->skip = NULL;
	s->skip_ctx = NULL;
	return n;
}

void store_delivery_free(store_delivery *d)
{
	free(d->doc);
	free(d->state);
	free(d->recipient);
	free(d->type);
	free(d->key);
	d->doc = d->state = d->recipient = d->type = d->key = NULL;
}

/*
 * Run st (bound), which changes row id's state, then the lane statement
 * `lane` for id, both or neither: outside a transaction, in a savepoint of
 * their own, for a lane whose head stopped pending without handing over
 * would never move again. Returns st's 1 (a row came back), 0 or -1.
 */
static int lane_change(store *s, sqlite3_stmt *st, int64_t id, int lane, char *ret_text, size_t ret_len)
{
	int own = sqlite3_get_autocommit(s->db);
	if (own && sqlite3_exec(s->db, "SAVEPOINT lane", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	int rc = sqlite3_step(st), ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	if (ret == 1) {
		if (ret_text)
			snprintf(ret_text, ret_len, "%s", (const char *)sqlite3_column_text(st, 0));
		if (sqlite3_step(st) != SQLITE_DONE) /* finish a RETURNING statement */
			ret = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (ret >= 0) {
		sqlite3_bind_int64(s->st[lane], 1, id);
		if (step_done(s->st[lane]) < 0)
			ret = -1;
	}
	if (own && sqlite3_exec(s->db, ret >= 0 ? "RELEASE lane" : "ROLLBACK TO lane; RELEASE lane", NULL, NULL,
	                        NULL) != SQLITE_OK) {
		/* Never leave the savepoint's transaction open behind the caller. */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		ret = -1;
	}
	return ret;
}

int store_outbox_done(store *s, int64_t id, int64_t event_id, int attempts, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_DONE];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 4, event_id);
	sqlite3_bind_int(st, 2, attempts);
	sqlite3_bind_int64(st, 3, now);
	return lane_change(s, st, id, ST_OUTBOX_PROMOTE, NULL, 0) < 0 ? -1 : 0;
}

int store_outbox_retry(store *s, int64_t id, int64_t event_id, int attempts, int64_t next_at, const char *error,
                       int64_t now)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_RETRY];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 6, event_id);
	sqlite3_bind_int(st, 2, attempts);
	sqlite3_bind_int64(st, 3, next_at);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, now);
	return step_done(st);
}

int store_outbox_dead(store *s, int64_t id, int64_t event_id, int attempts, const char *error, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_DEAD];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 5, event_id);
	sqlite3_bind_int(st, 2, attempts);
	bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, now);
	return lane_change(s, st, id, ST_OUTBOX_PROMOTE, NULL, 0) < 0 ? -1 : 0;
}

int store_outbox_requeue(store *s, int64_t id, int64_t now, char *instance, size_t instance_len)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_REQUEUE];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return lane_change(s, st, id, ST_OUTBOX_RELANE, instance, instance_len);
}

int store_outbox_counts(store *s, int64_t *pending, int64_t *dead)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_COUNTS];
	int ret = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*pending = sqlite3_column_int64(st, 0);
		*dead = sqlite3_column_int64(st, 1);
		ret = 0;
	}
	sqlite3_reset(st);
	return ret;
}

/* Every pending row checked against its lane, through outbox_order: one
 * index seek per pending row, paid once per start. */
int64_t store_outbox_mend_heads(store *s)
{
	static const char sql[] =
	    "UPDATE outbox SET head = " HEAD_OF_ROW " WHERE state = 0 AND head IS NOT " HEAD_OF_ROW;
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return sqlite3_changes64(s->db);
}

int store_state_set(store *s, int64_t incident_id, const char *instance, const char *state)
{
	sqlite3_stmt *st = s->st[ST_STATE_SET];
	sqlite3_bind_int64(st, 1, incident_id);
	bind_text(st, 2, instance);
	bind_text(st, 3, state);
	return step_done(st);
}

/* ---- drafts -------------------------------------------------------------- */

int64_t store_draft_add(store *s, const store_draft *d, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_ADD];
	sqlite3_bind_int64(st, 1, d->incident_id);
	sqlite3_bind_int64(st, 2, d->event_id);
	bind_text(st, 3, d->instance);
	bind_text(st, 4, d->network);
	sqlite3_bind_int(st, 5, d->measure);
	bind_text(st, 6, d->text);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)d->length);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)d->limit);
	sqlite3_bind_int64(st, 9, now);
	if (step_done(st) < 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

int store_draft_get(store *s, int64_t id, store_draft *d)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_GET];
	int ret = 0;
	memset(d, 0, sizeof(*d));
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		d->id = sqlite3_column_int64(st, 0);
		d->incident_id = sqlite3_column_int64(st, 1);
		d->event_id = sqlite3_column_int64(st, 2);
		d->instance = col_dup(st, 3);
		d->network = col_dup(st, 4);
		d->measure = sqlite3_column_int(st, 5);
		d->text = col_dup(st, 6);
		d->length = (size_t)sqlite3_column_int64(st, 7);
		d->limit = (size_t)sqlite3_column_int64(st, 8);
		d->status = col_dup(st, 9);
		ret = d->instance && d->network && d->text && d->status ? 1 : -1;
		if (ret < 0)
			store_draft_free(d);
	} else if (rc != SQLITE_DONE) {
		ret = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

void store_draft_free(store_draft *d)
{
	free(d->instance);
	free(d->network);
	free(d->text);
	free(d->status);
	d->instance = d->network = d->text = d->status = NULL;
}

int store_draft_set_status(store *s, int64_t id, const char *from, const char *to, const char *actor, const char *error,
                           int64_t publish_event, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_STATUS];
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, from);
	bind_text(st, 3, to);
	bind_text(st, 4, actor);
	bind_text(st, 5, error);
	if (publish_event)
		sqlite3_bind_int64(st, 6, publish_event);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, now);
	if (step_done(st) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

int store_draft_set_text(store *s, int64_t id, const char *text, size_t length, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_TEXT];
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, text);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)length);
	sqlite3_bind_int64(st, 4, now);
	if (step_done(st) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

int64_t store_draft_by_publication(store *s, int64_t event_id, const char *instance)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_BY_PUB];
	sqlite3_bind_int64(st, 1, event_id);
	bind_text(st, 2, instance);
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return id;
}

int store_draft_note(store *s, int64_t id, const char *error, int64_t now)
{
	sqlite3_stmt *st = s->st[ST_DRAFT_NOTE];
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now);
	return step_done(st);
}

/* ---- cadence clocks and meta values ------------------------------------ */

int store_clock_put(store *s, const store_clock *k)
{
	sqlite3_stmt *st = s->st[ST_CLOCK_PUT];
	sqlite3_bind_int64(st, 1, k->incident_id);
	sqlite3_bind_int64(st, 2, k->public_at);
	sqlite3_bind_int64(st, 3, k->last_update);
	sqlite3_bind_int64(st, 4, k->cycle);
	sqlite3_bind_int(st, 5, k->stage);
	return step_done(st);
}

int store_clock_del(store *s, int64_t incident_id)
{
	sqlite3_stmt *st = s->st[ST_CLOCK_DEL];
	sqlite3_bind_int64(st, 1, incident_id);
	return step_done(st);
}

int store_clock_load(store *s, int64_t now, int public_flag, int adopt_stage,
                     int (*fn)(const store_clock *k, void *ctx), void *ctx)
{
	sqlite3_stmt *adopt = s->st[ST_CLOCK_ADOPT];
	sqlite3_bind_int64(adopt, 1, now);
	sqlite3_bind_int(adopt, 2, public_flag);
	sqlite3_bind_int(adopt, 3, adopt_stage);
	if (step_done(s->st[ST_CLOCK_PRUNE]) < 0 || step_done(adopt) < 0)
		return -1;
	sqlite3_stmt *st = s->st[ST_CLOCK_LOAD];
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_clock k = {.incident_id = sqlite3_column_int64(st, 0),
		                 .public_at = sqlite3_column_int64(st, 1),
		                 .last_update = sqlite3_column_int64(st, 2),
		                 .cycle = sqlite3_column_int64(st, 3),
		                 .stage = sqlite3_column_int(st, 4)};
		if (fn(&k, ctx) < 0) {
			ret = -1;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(st);
	return ret;
}

int store_meta_get(store *s, const char *key, int64_t *value)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	bind_text(st, 1, key);
	int rc = sqlite3_step(st), ret = rc == SQLITE_DONE ? 0 : -1;
	if (rc == SQLITE_ROW) {
		*value = sqlite3_column_int64(st, 0);
		ret = 1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int store_meta_set(store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st = s->st[ST_META_SET];
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, value);
	return step_done(st);
}

/* ---- read side: ad-hoc queries for the control socket ------------------ */

/* Convert a column into JSON: integers, text (JSON text when asked), NULL. */
static json_t *col_json(sqlite3_stmt *st, int i, int as_json)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_NULL:
		return json_null();
	default: {
		const char *t = (const char *)sqlite3_column_text(st, i);
		if (as_json) {
			json_t *v = json_loads(t, JSON_DECODE_ANY, NULL);
			if (v)
				return v;
		}
		return json_string(t);
	}
	}
}

/*
 * Run sql with up to two integer parameters and return an array of objects
 * whose keys are the column names. Columns named in json_cols hold JSON text.
 */
static json_t *query_rows(store *s, const char *sql, int nparams, int64_t p1, int64_t p2, const char *json_cols)
{
	sqlite3_stmt *st = NULL;
	json_t *rows = json_array();
	if (!rows || sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (nparams >= 1)
		sqlite3_bind_int64(st, 1, p1);
	if (nparams >= 2)
		sqlite3_bind_int64(st, 2, p2);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();
		if (!row || json_array_append_new(rows, row) < 0)
			goto fail;
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *name = sqlite3_column_name(st, i);
			int as_json = json_cols && strstr(json_cols, name) != NULL;
			json_t *v = col_json(st, i, as_json);
			if (!v || json_object_set_new(row, name, v) < 0)
				goto fail;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return rows;
fail:
	sqlite3_finalize(st);
	json_decref(rows);
	return NULL;
}

/*
 * The runs of 1,024 event ids where an incident's rows lie (see schema_sql):
 * a recursive CTE named span with one row per run, for the query to seek
 * events_span or alerts_span once per run, from the run of floor to the run
 * of top (SQL expressions).
 *
 * An incident's events lie between its floor and the newest event. Its
 * alerts lie between its floor and its ceiling, or the newest event while
 * it is open: an alert's mark is the id of an event of the incident, and
 * those are never deleted. An incident the store does not have has floor 0
 * (its rows are looked for everywhere).
 *
 * The cost is one seek per run the incident spans: an incident open while
 * millions of events are written elsewhere costs milliseconds to list
 * (BENCHMARKS.md, schema 5).
 */
#define SPAN(floor, top)                                                                                               \
	"WITH RECURSIVE span(run, last) AS (SELECT (" floor ") >> 10, (" top ") >> 10"                                 \
	" UNION ALL SELECT run + 1, last FROM span WHERE run < last) "
#define FLOOR_OF_ID      "COALESCE((SELECT event_floor FROM incidents WHERE id = ?1), 0)"
#define ALERTS_TOP_OF_ID "COALESCE((SELECT event_ceiling FROM incidents WHERE id = ?1), " NEWEST_EVENT ")"

/* The SQL texts below are kept from clang-format, which would break them mid-word. */
/* clang-format off */
#define INCIDENT_COLS                                                                                                  \
	"i.id, i.key, i.title, i.state, i.severity, i.human, i.labels, i.opened_at, i.updated_at, i.resolved_at,"      \
	" i.audience, ("                                                                                               \
	SPAN("COALESCE(i.event_floor, 0)", "COALESCE(i.event_ceiling, " NEWEST_EVENT ")")                              \
	"SELECT COUNT(*) FROM span CROSS JOIN alerts a ON (a.event_mark >> 10) = span.run AND a.incident_id = i.id"    \
	" WHERE a.status = 'firing') AS alerts_firing"
/* clang-format on */

json_t *store_incidents_json(store *s, int all)
{
	return query_rows(s,
	                  all ? "SELECT " INCIDENT_COLS " FROM incidents i ORDER BY i.id DESC LIMIT 1000"
	                      : "SELECT " INCIDENT_COLS
	                        " FROM incidents i WHERE i.state <> 'resolved' ORDER BY i.id DESC",
	                  0, 0, 0, "labels");
}

json_t *store_incident_json(store *s, int64_t id)
{
	json_t *rows = query_rows(s, "SELECT " INCIDENT_COLS " FROM incidents i WHERE i.id = ?1", 1, id, 0, "labels");
	json_t *one = rows ? json_incref(json_array_get(rows, 0)) : NULL;
	json_decref(rows);
	return one;
}

/* An incident's alerts and events (SPAN). */
/* clang-format off */
static const char alerts_sql[] =
	SPAN(FLOOR_OF_ID, ALERTS_TOP_OF_ID)
	"SELECT a.source AS source, a.key AS key, a.status AS status, a.labels AS labels,"
	" a.annotations AS annotations, a.starts_at AS starts_at, a.ends_at AS ends_at, a.link AS link,"
	" a.updated_at AS updated_at FROM span CROSS JOIN alerts a"
	" ON (a.event_mark >> 10) = span.run AND a.incident_id = ?1 ORDER BY a.starts_at, a.source, a.key";
static const char events_sql[] =
	SPAN(FLOOR_OF_ID, NEWEST_EVENT)
	"SELECT e.id AS id, e.incident_id AS incident_id, e.type AS type, e.time AS time, e.actor AS actor,"
	" e.message AS message, e.doc AS data FROM span CROSS JOIN events e"
	" ON (e.id >> 10) = span.run AND e.incident_id = ?1 ORDER BY e.id";
/* clang-format on */

json_t *store_alerts_json(store *s, int64_t incident_id)
{
	return query_rows(s, alerts_sql, 1, incident_id, 0, "labels annotations");
}

json_t *store_events_json(store *s, int64_t incident_id)
{
	return query_rows(s, events_sql, 1, incident_id, 0, "data");
}

#define DELIVERY_COLS                                                                                                  \
	"id, event_id, incident_id, instance, NULLIF(recipient, '') AS recipient,"                                     \
	" CASE state WHEN 0 THEN 'pending' WHEN 2 THEN 'delivered' ELSE 'dead' END AS state, attempts, next_at,"       \
	" created_at, updated_at, last_error"

/* Delivery rows (stolen) with their idempotency_key last, as plugins got it. */
static json_t *with_keys(json_t *rows)
{
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		const char *instance = json_string_value(json_object_get(row, "instance"));
		const char *recipient = json_string_value(json_object_get(row, "recipient"));
		char *k = idempotency_key(json_integer_value(json_object_get(row, "event_id")),
		                          instance ? instance : "", recipient ? recipient : "");
		if (!k || json_object_set_new(row, "idempotency_key", json_string(k)) < 0) {
			free(k);
			json_decref(rows);
			return NULL;
		}
		free(k);
	}
	return rows;
}

json_t *store_deliveries_json(store *s, int dead_only, int64_t incident_id)
{
	if (incident_id)
		return with_keys(query_rows(s,
		                            dead_only ? "SELECT " DELIVERY_COLS
		                                        " FROM outbox WHERE state = 3 AND incident_id = ?1"
		                                        " ORDER BY id DESC LIMIT 500"
		                                      : "SELECT " DELIVERY_COLS " FROM outbox WHERE incident_id = ?1"
		                                        " ORDER BY id DESC LIMIT 500",
		                            1, incident_id, 0, NULL));
	return with_keys(query_rows(s,
	                            dead_only ? "SELECT " DELIVERY_COLS
	                                        " FROM outbox WHERE state = 3 ORDER BY id DESC LIMIT 500"
	                                      : "SELECT " DELIVERY_COLS " FROM outbox ORDER BY id DESC LIMIT 500",
	                            0, 0, 0, NULL));
}

json_t *store_delivery_json(store *s, int64_t id)
{
	json_t *rows = with_keys(query_rows(s, "SELECT " DELIVERY_COLS " FROM outbox WHERE id = ?1", 1, id, 0, NULL));
	json_t *one = rows ? json_incref(json_array_get(rows, 0)) : NULL;
	json_decref(rows);
	return one;
}

#define DRAFT_COLS                                                                                                     \
	"id, incident_id, event_id, instance, network, status, text, length, max_length AS \"limit\", actor, error,"   \
	" created_at, updated_at"

json_t *store_drafts_json(store *s)
{
	/* Pending first: those are what people are asked to look at. */
	return query_rows(s, "SELECT " DRAFT_COLS " FROM drafts ORDER BY status = 'pending' DESC, id DESC LIMIT 500", 0,
	                  0, 0, NULL);
}

json_t *store_draft_json(store *s, int64_t id)
{
	json_t *rows = query_rows(s, "SELECT " DRAFT_COLS " FROM drafts WHERE id = ?1", 1, id, 0, NULL);
	json_t *one = rows ? json_incref(json_array_get(rows, 0)) : NULL;
	json_decref(rows);
	return one;
}

/* ---- post-mortems (postmortem.c) ------------------------------------------
 * A few statements a resolved incident runs once or twice: prepared per
 * call rather than kept, so this section stays apart from the hot ones. */

/* Prepare sql and bind up to three integers (0 binds NULL for times) and two texts. */
static sqlite3_stmt *pm_prepare(store *s, const char *sql, int64_t a, int64_t b, int64_t c, const char *t1,
                                const char *t2)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	int n = sqlite3_bind_parameter_count(st);
	const int64_t ints[3] = {a, b, c};
	for (int i = 0; i < 3 && i < n; i++)
		bind_time(st, i + 1, ints[i]);
	if (n >= 4)
		bind_text(st, 4, t1);
	if (n >= 5)
		bind_text(st, 5, t2);
	return st;
}

/* Run a statement that returns no rows: 1 when it changed a row, 0 when none, -1. */
static int pm_exec(store *s, sqlite3_stmt *st)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) > 0 : -1;
}

int store_postmortem_add(store *s, int64_t incident_id, int64_t resolved_at, int64_t due_at)
{
	return pm_exec(s, pm_prepare(s,
	                             "INSERT OR IGNORE INTO postmortems(incident_id, resolved_at, due_at)"
	                             " VALUES(?1, ?2, ?3)",
	                             incident_id, resolved_at, due_at, NULL, NULL));
}

int store_postmortem_get(store *s, int64_t incident_id, store_postmortem *p)
{
	memset(p, 0, sizeof(*p));
	sqlite3_stmt *st = pm_prepare(s,
	                              "SELECT incident_id, resolved_at, COALESCE(due_at, 0), COALESCE(reminded_at, 0),"
	                              " COALESCE(published_at, 0), revision, draft_hash, published_by"
	                              " FROM postmortems WHERE incident_id = ?1",
	                              incident_id, 0, 0, NULL, NULL);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = rc == SQLITE_DONE ? 0 : -1;
	if (rc == SQLITE_ROW) {
		p->incident_id = sqlite3_column_int64(st, 0);
		p->resolved_at = sqlite3_column_int64(st, 1);
		p->due_at = sqlite3_column_int64(st, 2);
		p->reminded_at = sqlite3_column_int64(st, 3);
		p->published_at = sqlite3_column_int64(st, 4);
		p->revision = sqlite3_column_int(st, 5);
		p->draft_hash = col_dup(st, 6);
		p->published_by = col_dup(st, 7);
		ret = (p->draft_hash || sqlite3_column_type(st, 6) == SQLITE_NULL) &&
		              (p->published_by || sqlite3_column_type(st, 7) == SQLITE_NULL)
		          ? 1
		          : -1;
		if (ret < 0)
			store_postmortem_free(p);
	}
	sqlite3_finalize(st);
	return ret;
}

void store_postmortem_free(store_postmortem *p)
{
	free(p->draft_hash);
	free(p->published_by);
	p->draft_hash = p->published_by = NULL;
}

int store_postmortem_drafted(store *s, int64_t incident_id, const char *hash, int64_t now)
{
	return pm_exec(s,
	               pm_prepare(s, "UPDATE postmortems SET draft_hash = ?4, drafted_at = ?2 WHERE incident_id = ?1",
	                          incident_id, now, 0, hash, NULL));
}

int store_postmortem_publish(store *s, int64_t incident_id, const char *markdown, const char *html, const char *actor,
                             int64_t event_id, int64_t now)
{
	sqlite3_stmt *st = pm_prepare(s,
	                              "UPDATE postmortems SET markdown = ?4, html = ?5, published_by = ?6,"
	                              " published_at = ?2, publish_event = ?3, revision = revision + 1"
	                              " WHERE incident_id = ?1",
	                              incident_id, now, event_id, markdown, html);
	if (st)
		bind_text(st, 6, actor);
	return pm_exec(s, st);
}

int store_postmortem_reminded(store *s, int64_t incident_id, int64_t now)
{
	return pm_exec(s, pm_prepare(s, "UPDATE postmortems SET reminded_at = ?2 WHERE incident_id = ?1", incident_id,
	                             now, 0, NULL, NULL));
}

/* The first column of every row of st, up to max, into out: n, or -1. */
static int pm_ids(sqlite3_stmt *st, int64_t *out, int max)
{
	int n = 0, rc = SQLITE_DONE;
	if (!st)
		return -1;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		out[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int store_postmortem_due(store *s, int64_t now, int64_t *out, int max)
{
	return pm_ids(
	    pm_prepare(s,
	               "SELECT incident_id FROM postmortems WHERE published_at IS NULL AND reminded_at IS NULL"
	               " AND due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
	               now, max, 0, NULL, NULL),
	    out, max);
}

int64_t store_postmortem_next_due(store *s)
{
	int64_t at = 0;
	int n =
	    pm_ids(pm_prepare(s,
	                      "SELECT MIN(due_at) FROM postmortems WHERE published_at IS NULL AND reminded_at IS NULL"
	                      " AND due_at IS NOT NULL",
	                      0, 0, 0, NULL, NULL),
	           &at, 1);
	if (n < 0)
		return -1;
	return at > 0 ? at : INT64_MAX;
}

int store_postmortem_undrafted(store *s, int64_t *out, int max)
{
	return pm_ids(pm_prepare(s,
	                         "SELECT incident_id FROM postmortems WHERE draft_hash IS NULL ORDER BY incident_id"
	                         " LIMIT ?1",
	                         max, 0, 0, NULL, NULL),
	              out, max);
}

json_t *store_postmortems_json(store *s)
{
	return query_rows(s,
	                  "SELECT p.incident_id, i.title, p.resolved_at, p.due_at, p.reminded_at, p.published_at,"
	                  " p.published_by, p.revision FROM postmortems p LEFT JOIN incidents i ON i.id = p.incident_id"
	                  " ORDER BY p.incident_id DESC LIMIT 500",
	                  0, 0, 0, NULL);
}
