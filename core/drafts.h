/*
 * Drafts: text a plugin offers for people to approve before it is
 * published, such as a social post (docs/drafts.md). A draft is pending,
 * then approved or rejected by a person; an approved one is published or
 * failed by its plugin. Each step is an event on the incident's timeline:
 *
 *   draft_created    a plugin offered a draft (routed: the staff's review channel)
 *   draft_approved   a person approved it: routed like any event, and also
 *                    delivered to the draft's own instance, whose delivery
 *                    is the publication
 *   draft_rejected   a person rejected it (routed); it is never published
 *   draft_published  the publication succeeded (routed)
 *   draft_failed     the publication failed for good (routed)
 *
 * Core thread only; every function works inside the caller's transaction.
 */
#ifndef CRIER_DRAFTS_H
#define CRIER_DRAFTS_H

#include "incidents.h"
#include "plugin_host.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

typedef struct drafts drafts;

/* st and inc are borrowed for the life of the result; inc records the
 * events (incidents_record), whose router returns -2 for a draft_approved
 * whose instance is not configured. NULL when out of memory. */
drafts *drafts_new(store *st, incidents *inc);
void drafts_free(drafts *dr);

/*
 * A plugin offered a draft with a delivery it completed: keep it pending
 * and record draft_created. dr is a drafts*, for outbox_on_drafts. d is
 * borrowed. 0, or -1 when the store failed.
 */
int drafts_offered(void *dr, const char *instance, int64_t event_id, int64_t incident_id, const plugin_host_draft *d,
                   int64_t now);

/*
 * A draft_approved delivery to instance got result (a crier_result; retry
 * counts only when the outbox gives up, see outbox.h). When it is a draft's
 * publication, the draft becomes published or failed (with error) and the
 * event is recorded; on a retry only the error is kept. Returns 1 when it
 * was a publication, 0 when not, -1 when the store failed.
 */
int drafts_publication(void *dr, const char *instance, int64_t event_id, int result, const char *error, int64_t now);

/*
 * What people do (crierctl drafts, the drafts HTTP API). Each returns the
 * draft as it is afterwards (new JSON, see draft_json in drafts.c), or
 * NULL with *code and err set: 400 bad request (over the limit, empty
 * text), 404 no such draft, 409 not pending, or 503 when the store failed
 * (the caller must roll back). actor and strings are borrowed.
 */
json_t *drafts_approve(drafts *dr, int64_t id, const char *actor, int64_t now, int *code, char *err, size_t errlen);
json_t *drafts_reject(drafts *dr, int64_t id, const char *actor, const char *message, int64_t now, int *code, char *err,
                      size_t errlen);
json_t *drafts_edit(drafts *dr, int64_t id, const char *text, const char *actor, int64_t now, int *code, char *err,
                    size_t errlen);

/* One draft (404 in *code when there is none) or all of them, pending first. New JSON. */
json_t *drafts_get(drafts *dr, int64_t id, int *code, char *err, size_t errlen);
json_t *drafts_list(drafts *dr);

#endif
