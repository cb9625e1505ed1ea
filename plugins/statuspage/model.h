/*
 * The statuspage plugin's own record of incidents: what the page shows,
 * folded from the events the instance receives, kept as one JSON document
 * and saved atomically under the state directory so it survives restarts.
 * It also remembers, per publishing target, what that target was last
 * sent, so a retry re-publishes only the targets that lag behind.
 *
 * The document (format 1):
 *   {"format": 1,
 *    "version": 12,                     bumped at every change of the page's content
 *    "updated_at": "2026-11-21T12:30:00.000Z", "updated_ms": ...,
 *                                       the time of the newest event applied
 *    "site_url": "https://status.example.com/"   the last links.status_page seen
 *    "incidents": {"3": {"id": 3, "title": "...", "state": "investigating",
 *                        "severity": "critical", "maintenance": false,
 *                        "components": ["API"],
 *                        "opened_at": "...", "opened_ms": ..., "resolved_at": null, "resolved_ms": 0,
 *                        "last_event": 17,
 *                        "updates": [{"event": 17, "type": "opened", "time": "...", "ms": ...,
 *                                     "state": "investigating", "message": "..."}, ...],
 *                        "postmortem": {"event": 40, "html": "<h3>...", "published_at": "...",
 *                                       "published_ms": ..., "revision": 1}}},   once one is published
 *    "targets": {"<target key>": {"version": 12, "files": {"index.html": "<hash>", ...}}}}
 *
 * Updates are kept oldest first. Only the words people wrote ("message"
 * of an "update" event) and the incident's title are kept as text: never
 * alert labels, annotations or the actor.
 */
#ifndef STATUSPAGE_MODEL_H
#define STATUSPAGE_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_FORMAT      1
#define MODEL_MAX_UPDATES 200 /* per incident; the oldest after the first go */

/* A component of the page, from the instance's configuration. */
typedef struct model_component {
	char *name;     /* new */
	json_t *labels; /* new reference to an object of strings, or NULL: matched by name only */
} model_component;

/* A new empty model, or NULL when memory ran out. */
json_t *model_new(void);

/* Read the model saved at path into *out (new). A missing file gives an
 * empty model. Returns 0; -1 with err set when the file cannot be read;
 * -2 with err set when it is not a model. */
int model_load(const char *path, json_t **out, char *err, size_t errlen);

/* Save m (borrowed) to path atomically. Returns 0, or -1 with err set. */
int model_save(const char *path, const json_t *m, char *err, size_t errlen);

/*
 * Fold one event (borrowed, a docs/events.md document) into m. The
 * incident's components are the event's "incident.components" when it
 * names some (the core's public.components), else the configured
 * components whose labels the incident's labels all match. now_ms stands in for a missing
 * event time. Returns 1 when the page's content changed, 0 when not (a
 * duplicate, a retry, an event the page does not show), -1 with err set
 * when the event has no incident, -2 when memory ran out (m may then hold
 * part of the change; applying the event again completes it).
 */
int model_apply(json_t *m, const json_t *event, const model_component *comps, size_t n_comps, int64_t now_ms, char *err,
                size_t errlen);

/* Forget incidents resolved more than days before now_ms (and their
 * targets' file records). Returns how many went. */
int model_prune(json_t *m, int64_t now_ms, int days);

/* The record of target key (borrowed from m), created empty when missing;
 * NULL when memory ran out. */
json_t *model_target(json_t *m, const char *key);

/* Unix milliseconds of an RFC 3339 time ("2026-11-21T12:01:01.000Z",
 * offsets too), or -1 when s is not one. */
int64_t model_time_ms(const char *s);

/* Whether a string is one of the states an incident can show. */
int model_state_known(const char *state);

#endif
