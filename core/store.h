/*
 * The store: SQLite in WAL mode, the only persistent state. All SQL lives
 * here. Used by the core thread only (one writer, no locks); the core groups
 * many changes into one transaction (store_begin/store_commit).
 *
 * Times are unix ms. JSON columns hold compact JSON text.
 */
#ifndef CRIER_STORE_H
#define CRIER_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
struct sqlite3_stmt;

/* Delivery states as stored. In flight is known only in memory: a crash
 * leaves the row pending, and it is sent again with the same key. */
enum { STORE_PENDING = 0, STORE_DELIVERED = 2, STORE_DEAD = 3 };

/* Process-wide SQLite settings; call once, before any connection is opened
 * and while no other thread uses SQLite. Optional: without it SQLite keeps
 * its defaults. No effect (and harmless) once SQLite has started. */
void store_tune_library(void);

/* Open (creating and migrating as needed) the database at path. */
/* checkpoint_pages: WAL pages between automatic checkpoints (see docs/configuration.md). */
store *store_open(const char *path, int sync_full, int checkpoint_pages, char *err, size_t errlen);
void store_close(store *s);
/* Last error text of the database (borrowed). */
const char *store_error(store *s);
/* The database handle, for modules with tables of their own (subscribers.c). Borrowed. */
struct sqlite3 *store_db(store *s);
/* For those modules' statements: bind text (copied; NULL binds NULL), and
 * run a statement that returns no rows, resetting it whatever happens (0 / -1). */
void store_bind_text(struct sqlite3_stmt *st, int i, const char *v);
int store_step_done(struct sqlite3_stmt *st);

int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);

/* --- alerts ----------------------------------------------------------- */
/* Insert or replace the normalized alert (borrowed) with its incident (0 = none).
 * labels and annotations: the alert's members as JSON text (borrowed; NULL
 * stores "{}"), which the caller has made for the event anyway. */
int store_alert_put(store *s, const json_t *alert, const char *labels, const char *annotations, int64_t incident_id,
                    int64_t now);
/* Call fn for every alert that is firing or belongs to an incident that is not
 * resolved: (source, key, firing, starts_at, incident_id). */
int store_alert_load(store *s,
                     int (*fn)(const char *source, const char *key, int firing, int64_t starts_at, int64_t incident_id,
                               void *ctx),
                     void *ctx);

/* --- incidents -------------------------------------------------------- */
typedef struct store_incident {
	int64_t id;
	const char *key;   /* borrowed */
	const char *title; /* borrowed */
	const char *state; /* borrowed */
	int severity;
	int human;
	const json_t *labels;   /* borrowed; filled when loading */
	const char *labels_txt; /* borrowed; labels as JSON text, what store_incident_put writes */
	int64_t opened_at, updated_at, resolved_at, hold_until;
	int audience;   /* AUDIENCE_PUBLIC | AUDIENCE_SECURITY (core/audience.h) */
	int same_state; /* an update whose state is the stored one already: left as it is */
} store_incident;

/* Insert (row->id == 0; sets it) or update. */
int store_incident_put(store *s, store_incident *row);
/* Call fn with every incident not resolved. Pointers in row are borrowed for the call. */
int store_incident_load(store *s, int (*fn)(const store_incident *row, void *ctx), void *ctx);

/* --- events ----------------------------------------------------------- */
/* Insert an event with doc, the document plugins receive minus its "id" and
 * "idempotency_key" (spliced in at delivery). Borrowed. New id, or -1. */
int64_t store_event_add(store *s, int64_t incident_id, const char *type, int64_t time, const char *actor,
                        const char *message, const char *doc);

/* --- outbox ----------------------------------------------------------- */
/* recipient: borrowed, NULL or "" for an instance without recipients. */
int store_outbox_add(store *s, int64_t event_id, int64_t incident_id, const char *instance, const char *recipient,
                     int64_t now);

typedef struct store_delivery {
	int64_t id, event_id, incident_id, created_at, next_at;
	int attempts;
	char *doc;       /* new (free) */
	char *state;     /* new (free), the plugin's per-incident state or NULL */
	char *recipient; /* new (free), "" when the instance has no recipients */
	char *type;      /* new (free), the event's type */
	char *key;       /* new (free), the idempotency key: "crier-<event>-<instance>[-<recipient>]" */
} store_delivery;

/*
 * Up to max deliveries for instance, earliest due first. Each is the oldest
 * pending delivery of its incident to this instance (per-incident order):
 * an incident with an earlier pending delivery, in flight or waiting for a
 * retry, contributes nothing else. Rows for which skip(id, ctx) returns
 * nonzero are left out (skip may be NULL; it is called during this call
 * only). Rows may be due in the future (check next_at). Fills out[0..n)
 * and returns n, or -1.
 */
int store_outbox_due(store *s, const char *instance, store_delivery *out, int max, int (*skip)(int64_t id, void *ctx),
                     void *ctx);
void store_delivery_free(store_delivery *d);
/* SQL text: whether a new outbox row for instance i, incident n and
 * recipient r (SQL expressions) is its lane's head, no row of that lane
 * being pending. Every insert into outbox sets head with it (store.c). */
#define STORE_OUTBOX_NEW_HEAD(i, n, r)                                                                                 \
	"NOT EXISTS (SELECT 1 FROM outbox p WHERE p.instance = " i " AND p.incident_id = " n " AND p.recipient = " r   \
	" AND p.state = 0)"
/* A delivery's result: row id, if it is still event_id's pending delivery
 * (ids are not AUTOINCREMENT: a row deleted while in flight, a subscriber
 * gone, can give its id to the next one, which must not take its result). */
int store_outbox_done(store *s, int64_t id, int64_t event_id, int attempts, int64_t now);
int store_outbox_retry(store *s, int64_t id, int64_t event_id, int attempts, int64_t next_at, const char *error,
                       int64_t now);
int store_outbox_dead(store *s, int64_t id, int64_t event_id, int attempts, const char *error, int64_t now);
/* Requeue a delivery (crierctl retry): pending now, attempts kept. 1 done, 0 no such id, -1. */
int store_outbox_requeue(store *s, int64_t id, int64_t now, char *instance, size_t instance_len);
int store_outbox_counts(store *s, int64_t *pending, int64_t *dead);
/* Mark each lane's oldest pending row as its head and no other, wherever
 * that is not so already: a lane without a head would never be sent, one
 * with two would send out of order. Every change keeps heads right, so
 * this finds nothing unless a change missed (or someone edited the store
 * by hand); crierd runs it at start-up and says what it mended. Returns
 * the rows mended, or -1 (store_error). */
int64_t store_outbox_mend_heads(store *s);

/* Per-incident plugin state (handed to the plugin with store_outbox_due). */
int store_state_set(store *s, int64_t incident_id, const char *instance, const char *state);

/* --- drafts: text people approve before it is published (drafts.c) ------ */
/* Statuses: "pending" -> "approved" or "rejected"; "approved" -> "published" or "failed". */
typedef struct store_draft {
	int64_t id, incident_id, event_id; /* event_id: the event the plugin drafted it for */
	char *instance;                    /* new (free with store_draft_free) when read; borrowed when added */
	char *network;                     /* same */
	char *text;                        /* same */
	char *status;                      /* same; ignored by store_draft_add (always "pending") */
	int measure;                       /* crier_measure */
	size_t length, limit;
} store_draft;

/* Insert a pending draft (d and its strings borrowed). New id, or -1. */
int64_t store_draft_add(store *s, const store_draft *d, int64_t now);
/* 1 and *d filled (free with store_draft_free), 0 no such draft, -1. */
int store_draft_get(store *s, int64_t id, store_draft *d);
void store_draft_free(store_draft *d);
/* Move draft id from status from to status to, setting actor (NULL keeps
 * it), error (NULL clears it) and publish_event (0 keeps it). 1 moved, 0 it
 * was not in status from, -1. */
int store_draft_set_status(store *s, int64_t id, const char *from, const char *to, const char *actor, const char *error,
                           int64_t publish_event, int64_t now);
/* Replace the text of a pending draft. 1 done, 0 not pending, -1. */
int store_draft_set_text(store *s, int64_t id, const char *text, size_t length, int64_t now);
/* The draft whose publication is event_id's delivery to instance: its id, 0 none, -1. */
int64_t store_draft_by_publication(store *s, int64_t event_id, const char *instance);
/* Keep the last publication error of a draft (a retry's reason). */
int store_draft_note(store *s, int64_t id, const char *error, int64_t now);

/* --- cadence: the update clock of open public incidents (cadence.c) ------ */
typedef struct store_clock {
	int64_t incident_id;
	int64_t public_at;   /* when the incident became public */
	int64_t last_update; /* the last public update, 0 = none yet */
	int64_t cycle;       /* when the current reminder cycle began */
	int stage;           /* cadence.c's CADENCE_STAGE_* */
} store_clock;

/* Insert or replace k (borrowed). */
int store_clock_put(store *s, const store_clock *k);
int store_clock_del(store *s, int64_t incident_id);
/*
 * Drop the clocks of incidents no longer open, give every open incident
 * whose audience has public_flag and no clock one (public_at = cycle = now,
 * in adopt_stage: incidents that were public before clocks were kept), then
 * call fn with each clock. Runs outside a transaction (each statement is
 * atomic on its own) or inside one.
 */
int store_clock_load(store *s, int64_t now, int public_flag, int adopt_stage,
                     int (*fn)(const store_clock *k, void *ctx), void *ctx);

/* --- meta: small named integers (watchdog.c) ------------------------------ */
/* 1 and *value set, 0 no such key, -1 error. */
int store_meta_get(store *s, const char *key, int64_t *value);
int store_meta_set(store *s, const char *key, int64_t value);

/* --- post-mortems: one row per resolved incident (postmortem.c) --------- */
typedef struct store_postmortem {
	int64_t incident_id, resolved_at;
	int64_t due_at, reminded_at, published_at; /* 0 = not set */
	int revision;                              /* publications so far */
	char *draft_hash;                          /* new (free with store_postmortem_free); NULL = never drafted */
	char *published_by;                        /* same; NULL until published */
} store_postmortem;

/* Insert incident_id's row unless it has one (due_at 0: no reminder). 1 inserted, 0 there already, -1. */
int store_postmortem_add(store *s, int64_t incident_id, int64_t resolved_at, int64_t due_at);
/* 1 and *p filled, 0 no row, -1. */
int store_postmortem_get(store *s, int64_t incident_id, store_postmortem *p);
void store_postmortem_free(store_postmortem *p);
/* The draft file now holds the text whose hash is hash (borrowed). 1, 0 no row, -1. */
int store_postmortem_drafted(store *s, int64_t incident_id, const char *hash, int64_t now);
/* Keep a publication (strings borrowed) and count it. 1, 0 no row, -1. */
int store_postmortem_publish(store *s, int64_t incident_id, const char *markdown, const char *html, const char *actor,
                             int64_t event_id, int64_t now);
int store_postmortem_reminded(store *s, int64_t incident_id, int64_t now);
/* Incidents whose reminder is due at now (unpublished, not reminded), up to max, into out: n, or -1. */
int store_postmortem_due(store *s, int64_t now, int64_t *out, int max);
/* When the next reminder is due: unix ms, INT64_MAX when none, -1 when the store failed. */
int64_t store_postmortem_next_due(store *s);
/* Incidents whose draft was never written (a crash came first), up to max: n, or -1. */
int store_postmortem_undrafted(store *s, int64_t *out, int max);
/* Post-mortem rows, newest incident first (at most 500), times in unix ms. New JSON. */
json_t *store_postmortems_json(store *s);

/* --- read side for the control socket (new JSON) ------------------------ */
json_t *store_incidents_json(store *s, int all);
json_t *store_incident_json(store *s, int64_t id); /* NULL when absent */
json_t *store_alerts_json(store *s, int64_t incident_id);
json_t *store_events_json(store *s, int64_t incident_id);
json_t *store_deliveries_json(store *s, int dead_only, int64_t incident_id);
json_t *store_delivery_json(store *s, int64_t id);
/* Drafts, pending first then newest first (at most 500); one draft or NULL. */
json_t *store_drafts_json(store *s);
json_t *store_draft_json(store *s, int64_t id);

#endif
