/*
 * Post-mortems (docs/postmortems.md). When an incident resolves, crier
 * writes a Markdown draft from its timeline to
 * <state_dir>/postmortems/incident-<id>.md; a person edits it and publishes
 * it (crierctl postmortem publish), which stores it, renders it to safe
 * HTML (markdown.h) and records a postmortem_published event, routed like
 * any other so that the status page and subscribers get it. A public
 * incident with nothing published postmortem_due after it resolved earns a
 * postmortem_due event, for internal channels only.
 *
 * Core thread only. The reminder's time is in the store, so it survives
 * restarts; the core's loop asks postmortem_next_deadline() when to call
 * postmortem_tick().
 */
#ifndef CRIER_POSTMORTEM_H
#define CRIER_POSTMORTEM_H

#include "config.h"
#include "incidents.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* The largest post-mortem a person may publish, in bytes. */
#define POSTMORTEM_MAX (256 * 1024)

typedef struct postmortems postmortems;

/*
 * st, inc and cfg are borrowed for the life of the result; inc records the
 * events (incidents_record). Writes the drafts a crash kept from being
 * written. NULL with err when out of memory or the store failed.
 */
postmortems *postmortem_new(store *st, incidents *inc, const config *cfg, char *err, size_t errlen);
void postmortem_free(postmortems *pm);
/* cfg is borrowed until the next call. */
void postmortem_set_config(postmortems *pm, const config *cfg);

/*
 * Incident id resolved (its "resolved" event, inside the open
 * transaction) with the AUDIENCE_* flags it had: its post-mortem becomes
 * due, and its draft is written once the transaction commits. 0, or -1
 * when the store failed.
 */
int postmortem_resolved(postmortems *pm, int64_t id, int audience, int64_t now);

/* The core's transaction ended. Committed: write the drafts of the
 * incidents it resolved; rolled back: forget them. */
void postmortem_tx_done(postmortems *pm, int committed);

/* When postmortem_tick has work (unix ms; INT64_MAX when none). */
int64_t postmortem_next_deadline(const postmortems *pm);

/* Inside the caller's transaction: a postmortem_due event for each
 * reminder due. Returns how many, or -1; *next_ms gets the next deadline. */
int postmortem_tick(postmortems *pm, int64_t now, int64_t *next_ms);

/* 1 when cmd (borrowed) is one of the control commands below. */
int postmortem_is_command(const char *cmd);

/*
 * Run a control command (docs/control.md): "postmortems", "postmortem",
 * "postmortem_draft", "postmortem_publish". req is borrowed. Returns the
 * reply, new JSON text, or NULL when out of memory; sets *rolled_back
 * when a transaction failed (the incident index must be rebuilt).
 */
char *postmortem_control(postmortems *pm, const json_t *req, const char *cmd, int64_t now, int *rolled_back);

/*
 * The draft's Markdown for incident id as the store has it now (new
 * string), or NULL when there is no such incident or the store failed.
 */
char *postmortem_draft_text(postmortems *pm, int64_t id, int64_t now);

#endif
