/*
 * Incidents: dedup of alerts, grouping into incidents, the lifecycle
 * investigating -> identified -> monitoring -> resolved, and the timeline.
 * Runs on the core thread inside the core's transaction; keeps an in-memory
 * index (alerts by key, open incidents by group key and id) so a duplicate
 * costs a hash lookup and no store access.
 *
 * Rules (docs/incidents.md):
 * - An alert changes something only when its status flips, or it fires anew
 *   (new startsAt) after its incident closed. Everything else is a duplicate.
 * - When the last alert of an incident resolves it enters `monitoring` for
 *   the hold time; a re-fire within it continues the incident.
 * - Once a person sets the state (update --state / resolve) automation no
 *   longer moves it, except that `monitoring` still resolves after the hold.
 */
#ifndef CRIER_INCIDENTS_H
#define CRIER_INCIDENTS_H

#include "alert.h"
#include "config.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

typedef struct incidents incidents;

/* Called for every new event, inside the transaction that created it, so the
 * core can route it into the outbox atomically; also_to (borrowed, NULL for
 * most): one more instance to deliver it to, a draft's publication
 * (drafts.h). Return below 0 to fail the batch (incidents_record passes the
 * value on). */
typedef int (*incidents_emit_fn)(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity,
                                 const json_t *incident_labels, int audience, const char *also_to, int64_t now);

/* Load the open state from the store. s and cfg are borrowed. */
incidents *incidents_new(store *s, const config *cfg, incidents_emit_fn emit, void *ctx, char *err, size_t errlen);
void incidents_free(incidents *m);
void incidents_set_config(incidents *m, const config *cfg);
/* Drop the in-memory index and load it again (after a failed transaction). */
int incidents_reload(incidents *m);

/* Apply one normalized alert (borrowed), whose head (alert.h; borrowed) is
 * made from it when head is NULL. 1 changed, 0 duplicate, -1 store error.
 * Incident rows it changes are written by incidents_flush(): call it before
 * committing. */
int incidents_apply(incidents *m, const json_t *alert, const alert_head *head, int64_t now);
int incidents_flush(incidents *m);

/* Resolve incidents whose monitoring hold has expired. Returns how many
 * changed or -1; *next_ms gets the next deadline (INT64_MAX when none). */
int incidents_tick(incidents *m, int64_t now, int64_t *next_ms);

/* A person acts. action: "ack", "update", "resolve". Returns the new event id;
 * -1 store error, -2 no such open incident, -3 bad request (err says why). */
int64_t incidents_human(incidents *m, int64_t id, const char *action, const char *state, const char *message,
                        const char *actor, int64_t now, char *err, size_t errlen);

/*
 * Record an event of type on open incident id's timeline without changing
 * the incident (cadence reminders, crier's own first update), routed like any
 * other. extra (borrowed, may be NULL): members added to the event document.
 * Returns the event id; -1 store error, -2 no such open incident.
 */
int64_t incidents_note(incidents *m, int64_t id, const char *type, const char *actor, const char *message,
                       const json_t *extra, int64_t now);

/*
 * An event that changes nothing on the incident (drafts.h, postmortem.h):
 * its document (docs/events.md) is type, time, actor, message, the members
 * of lead, incident, severity_is (unless no_severity_is) and the members of
 * extra, in that order. Everything is borrowed; lead and extra may be NULL
 * and must not repeat those names.
 */
typedef struct incidents_event {
	const char *type;
	const char *actor;   /* NULL: "" in the document, NULL in the events row */
	const char *message; /* the same */
	const json_t *lead;
	const json_t *extra;
	int no_severity_is;  /* drafts' events never carried it */
	const char *also_to; /* handed to incidents_emit_fn */
} incidents_event;

/*
 * Record e on incident id's timeline, open or closed, and route it: the one
 * place events are made. Returns the event id; -1 when the store failed or
 * there is no such incident; what incidents_emit_fn returned when below 0.
 */
int64_t incidents_record(incidents *m, int64_t id, const incidents_event *e, int64_t now);

/* The "incident" object of an event document (docs/events.md) for incident
 * id, open or closed: new, or NULL when there is no such incident. */
json_t *incidents_doc(incidents *m, int64_t id);

/* The earliest hold that will expire (INT64_MAX when none). */
int64_t incidents_next_deadline(const incidents *m);

size_t incidents_open_count(const incidents *m);
size_t incidents_alert_count(const incidents *m);

#endif
