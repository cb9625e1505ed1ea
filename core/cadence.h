/*
 * Cadence: customers of a public incident hear from us regularly, and the
 * people inside are chased when they do not (docs/incidents.md).
 *
 * Every open public incident has a clock. A public update (an "update"
 * event on a public incident: a person's crierctl update, or crier's own
 * first update) restarts it. With no public update for update_every, a
 * "reminder" event; still none at escalate_after, an "escalation" event;
 * then the cycle begins again from the escalation. When an incident becomes
 * public, the first public update is owed at once: crier posts it from
 * templates/core/first_update.mustache (public.first_message "auto") or
 * prompts people with an "awaiting_first_update" event ("human"), and the
 * clock runs from that moment.
 *
 * The clocks are stored (table cadence) in the transaction of the event
 * that moved them, so they survive restarts; the core sleeps until the
 * earliest deadline. Runs on the core thread only.
 */
#ifndef CRIER_CADENCE_H
#define CRIER_CADENCE_H

#include "config.h"
#include "incidents.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* Where a clock stands; stored, so the values never change. */
enum {
	CADENCE_STAGE_FIRST = 0,   /* the first public update is owed at cycle */
	CADENCE_STAGE_WAIT = 1,    /* a reminder is due at cycle + update_every */
	CADENCE_STAGE_REMINDED = 2 /* an escalation is due at cycle + escalate_after */
};

typedef enum cadence_action {
	CADENCE_NONE = 0,
	CADENCE_FIRST_MESSAGE, /* post the first update, or prompt people for it */
	CADENCE_REMIND,
	CADENCE_ESCALATE
} cadence_action;

/* When clock k's next step falls due under cfg (both borrowed). Pure. */
int64_t cadence_due_at(const store_clock *k, const config *cfg);

/* What k owes at now. Pure. A reminder that comes so late that the
 * escalation is due too (crier was down) gives way to the escalation. */
cadence_action cadence_step(const store_clock *k, const config *cfg, int64_t now);

typedef struct cadence cadence;

/* Load the clocks (st, inc and cfg borrowed). Open public incidents without
 * one (public before clocks were kept) get one starting now. */
cadence *cadence_new(store *st, incidents *inc, const config *cfg, int64_t now, char *err, size_t errlen);
void cadence_free(cadence *cd);
void cadence_set_config(cadence *cd, const config *cfg);
/* Load the clocks again from the store (after a failed transaction). */
int cadence_reload(cadence *cd, int64_t now);

/*
 * An event was recorded on incident_id (the core's emit callback calls this
 * inside the event's transaction). Starts the clock of an incident that has
 * just become public, restarts it on a public update, drops it on
 * resolution. 0, or -1 when the store failed.
 */
int cadence_on_event(cadence *cd, int64_t incident_id, const char *type, int audience, int64_t now);

/* Take every step due at now, inside the caller's transaction. Returns how
 * many were taken or -1; *next_ms gets the next deadline (INT64_MAX: none). */
int cadence_tick(cadence *cd, int64_t now, int64_t *next_ms);

/* The earliest deadline of any clock (INT64_MAX when none). */
int64_t cadence_next_deadline(const cadence *cd);

/*
 * The text of crier's first public update for open incident id: the
 * template rendered against the incident's public view, with impact and
 * workaround from its alerts' annotations. New string, or NULL with err set.
 */
char *cadence_first_update(cadence *cd, int64_t id, int64_t now, char *err, size_t errlen);

#endif
