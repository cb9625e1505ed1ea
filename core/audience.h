/*
 * Audience: which incidents customers hear about, and what they may read.
 *
 * An incident is public when any rule of public.when matches it (by
 * default: when it affects a configured component), and security when any
 * rule of public.security_when matches it or one of its alerts. Both flags
 * are sticky: once public, an incident stays public (customers who saw it
 * open must see it close); once security, it stays redacted.
 *
 * Instances with "audience": "public" (status page, subscribers, social)
 * only ever get public incidents, and only their public view: no alert, no
 * labels; for security incidents not even the title or annotations. The
 * guarantee sits in the core, not in templates, so a custom template cannot
 * leak what it is never given. See docs/audience.md.
 */
#ifndef CRIER_AUDIENCE_H
#define CRIER_AUDIENCE_H

#include "config.h"

#include <jansson.h>

#define AUDIENCE_PUBLIC   1
#define AUDIENCE_SECURITY 2

/*
 * The flags the incident earns now (to be OR-ed into what it had), from its
 * labels and severity and, when an alert is joining, that alert's labels
 * (borrowed; may be NULL). None ever for crier's own incidents (service
 * "crier": DeliveryDead, MonitoringSilent).
 */
int audience_classify(const config *c, const json_t *incident_labels, int severity, const json_t *alert_labels);

/* Names of the configured components the incident's labels match: a new
 * array (empty when none), or NULL on out of memory. */
json_t *audience_components(const config *c, const json_t *incident_labels);

/*
 * The public view of a stored event document (borrowed): a new object, or
 * NULL on out of memory. Keeps type, time, a draft (text written for the
 * public, docs/drafts.md), the post-mortem of a postmortem_published event
 * (published by a person, docs/postmortems.md), and for "update" events the
 * person's message; the incident's id, state, severity, times, components
 * and title (a neutral title for security incidents), and the impact and
 * workaround annotations of non-security incidents. Drops the actor, the
 * alert, labels, keys and everything else.
 */
json_t *audience_public_doc(const json_t *doc);

/*
 * Event types for people inside only, whatever the incident: prompts to
 * the staff (the cadence's reminders and escalations, an overdue
 * post-mortem), never news for customers. A public instance never gets
 * them, whatever the routes say. 1 for those, 0 for the others.
 */
int audience_internal_type(const char *type);

#endif
