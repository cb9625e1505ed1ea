/*
 * Source parsers: raw request -> array of normalized alerts (core/alert.h).
 * Pure functions of their input: no I/O, no globals, safe on any thread and
 * the targets of tests/fuzz/.
 *
 * Each returns INGEST_OK with *out set to a new JSON array (possibly empty),
 * INGEST_IGNORED when the input is well-formed but carries nothing to act on
 * (err says why, e.g. an unknown Uptime Robot alertType; HTTP answers 202),
 * or INGEST_BAD with a message naming the problem in err (HTTP answers 400).
 * err is always NUL-terminated; it never echoes more than 64 bytes of input.
 */
#ifndef CRIER_INGEST_H
#define CRIER_INGEST_H

#include "alert.h"
#include "ingest_cache.h"

#include <jansson.h>
#include <stddef.h>

typedef enum ingest_status { INGEST_OK = 0, INGEST_IGNORED = 1, INGEST_BAD = -1 } ingest_status;

/* Alertmanager webhook body, version "4". Unknown top-level keys are ignored
 * (newer Alertmanagers add some); key = fingerprint (computed from labels
 * with FNV-1a 64 when absent). */
ingest_status ingest_alertmanager(const char *body, size_t len, const alert_limits *lim, json_t **out, char *err,
                                  size_t errlen);
/* The same, taking alerts it has parsed before from cache (ingest_cache.h;
 * borrowed, may be NULL) and leaving there those it parses. The answer is
 * the same with or without it. With heads (borrowed, may be NULL), the
 * head of each alert of *out is appended to it, in order (on INGEST_OK;
 * otherwise it holds some); out of memory for them, it is left empty and
 * the answer is the same. */
ingest_status ingest_alertmanager_cached(const char *body, size_t len, const alert_limits *lim, ingest_cache *cache,
                                         alert_heads *heads, json_t **out, char *err, size_t errlen);

/* Uptime Robot settings from the configuration. */
typedef struct ingest_uptimerobot_conf {
	const json_t *services; /* borrowed object monitorID -> service name; may be NULL */
	const char *severity;   /* severity label for down alerts; "critical" when NULL */
} ingest_uptimerobot_conf;

/*
 * Uptime Robot variables, already decoded into a flat object of strings
 * (from a JSON body, a form body or the query string). Literal placeholders
 * ("*alertDuration*", "$alertDuration") count as absent. alertType 1 -> firing
 * alert "uptimerobot/<monitorID>", 2 -> resolved, 3 -> firing SSL/domain
 * expiry notice "uptimerobot/<monitorID>/ssl" with severity warning, other
 * values -> INGEST_IGNORED. Labels: service (from conf->services, else the
 * monitor's friendly name), monitor, severity, alertname ("MonitorDown" /
 * "CertificateExpiry").
 */
ingest_status ingest_uptimerobot(const json_t *fields, const ingest_uptimerobot_conf *conf, json_t **out, char *err,
                                 size_t errlen);

/* Helpers that produce `fields` for ingest_uptimerobot. */
/* JSON body: must be an object; non-string scalars are converted to strings. */
ingest_status ingest_uptimerobot_json(const char *body, size_t len, const alert_limits *lim, json_t **fields, char *err,
                                      size_t errlen);
/* application/x-www-form-urlencoded text (a form body, or a raw query string without '?'). */
ingest_status ingest_form_decode(const char *text, size_t len, json_t **fields, char *err, size_t errlen);

/*
 * Generic alerts (docs/generic-alerts.md): either one alert object or
 * {"alerts": [ ... ]}. Each alert: key (required), status ("firing" default |
 * "resolved"), labels, annotations, starts_at / ends_at (RFC 3339), link,
 * source (default "generic"). Unknown keys are rejected by name.
 */
ingest_status ingest_generic(const char *body, size_t len, const alert_limits *lim, json_t **out, char *err,
                             size_t errlen);

#endif
