/*
 * The normalized alert: what every source is turned into before the core
 * sees it. It is a jansson object:
 *
 *   {
 *     "source":      "alertmanager" | "uptimerobot" | "generic" | <producer name>,
 *     "key":         string, unique per source (Alertmanager fingerprint,
 *                    "uptimerobot/<monitorID>", or the generic alert's "key"),
 *     "status":      "firing" | "resolved",
 *     "labels":      { string: string },
 *     "annotations": { string: string },
 *     "starts_at":   integer unix ms (0 = unknown),
 *     "ends_at":     integer unix ms (0 = unset),
 *     "link":        string ("" when none)
 *   }
 *
 * crier's own alerts (source "crier") may also carry "group": the incident
 * key to file them under, whatever incidents.group_by says. No ingest path
 * sets it.
 */
#ifndef CRIER_ALERT_H
#define CRIER_ALERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what one request may carry; requests over them get 400. */
typedef struct alert_limits {
	size_t max_alerts;    /* alerts per request */
	size_t max_labels;    /* labels (and, separately, annotations) per alert */
	size_t max_name_len;  /* bytes in a label name */
	size_t max_value_len; /* bytes in a label or annotation value */
	int max_depth;        /* JSON nesting depth */
} alert_limits;

extern const alert_limits alert_limits_default; /* 1000, 64, 128, 16384, 16 */

/*
 * Build a normalized alert. labels and annotations are stolen (may be NULL
 * for {}); strings are copied. Returns a new reference, or NULL on OOM.
 */
json_t *alert_new(const char *source, const char *key, const char *status, json_t *labels, json_t *annotations,
                  int64_t starts_at, int64_t ends_at, const char *link);

/*
 * alert_new from values already made, each stolen (even on failure; a NULL
 * one, from a failed allocation, fails it): a parser may share one "source"
 * or "status" string among the alerts of a request, and skip the copies and
 * UTF-8 checks of text it has checked. Each must have the type above.
 * Returns a new reference, or NULL on OOM.
 */
json_t *alert_new_values(json_t *source, json_t *key, json_t *status, json_t *labels, json_t *annotations,
                         json_t *starts_at, json_t *ends_at, json_t *link);

/*
 * Check that obj is an object of string values within lim. what names the
 * field in error messages ("labels", "annotations"). Returns 0, or -1 with a
 * message in err such as: alerts[2].labels: value of "instance" is not a string.
 */
int alert_check_kv(const json_t *obj, const alert_limits *lim, const char *where, const char *what, char *err,
                   size_t errlen);

/*
 * alert_check_kv's checks one at a time, in its order (the type, the count,
 * then each member), for a caller that reads an object member by member and
 * words its refusals the same. name is nlen bytes (borrowed, need not be
 * NUL-terminated); is_string says whether the value is a string, vlen its
 * length. Each returns 0, or -1 with alert_check_kv's message in err.
 */
int alert_check_kv_type(int is_object, const char *where, const char *what, char *err, size_t errlen);
int alert_check_kv_count(size_t n, const alert_limits *lim, const char *where, const char *what, char *err,
                         size_t errlen);
int alert_check_kv_member(const char *name, size_t nlen, int is_string, size_t vlen, const alert_limits *lim,
                          const char *where, const char *what, char *err, size_t errlen);

/*
 * Scan raw JSON text for nesting deeper than max_depth without parsing it
 * (jansson would recurse first). Returns 0 when within, -1 otherwise.
 */
int alert_check_depth(const char *text, size_t len, int max_depth);

/*
 * An alert's identity in the incident index, "source\x1fkey": written into
 * buf (size bytes) when it fits, else into a new string. Returns buf, a new
 * string (free it), or NULL when out of memory.
 */
char *alert_identity(const char *source, const char *key, char *buf, size_t size);

/*
 * An alert's head: its identity and what decides whether a repeat of it
 * changes anything. Made where the alert is parsed and sent to the core
 * beside it: most of what a busy Alertmanager sends is repeats that change
 * nothing, and reading these from each alert's JSON (objects another thread
 * built) was a quarter of the core thread's time. Plain bytes: copied with
 * memcpy, sent as they are.
 */
#define ALERT_HEAD_ID_MAX 62
typedef struct alert_head {
	uint64_t hash;     /* hmap_hash(id) */
	int64_t starts_at; /* the alert's */
	uint8_t firing;    /* its status is "firing" */
	uint8_t id_len;    /* 0: no head (an identity longer than id holds, or none): read the alert */
	char id[ALERT_HEAD_ID_MAX];
} alert_head;
/* No padding: heads are compared and sent as bytes. */
_Static_assert(sizeof(alert_head) == 2 * sizeof(int64_t) + 2 + ALERT_HEAD_ID_MAX, "alert_head has padding");

/* The head of normalized alert a (borrowed). */
void alert_head_of(const json_t *a, alert_head *h);

/* A growing array of heads, one per alert of a request, in order. */
typedef struct alert_heads {
	alert_head *v; /* owned */
	size_t n, cap;
} alert_heads;

/* Append a copy of *h: 0, or -1 out of memory. */
int alert_heads_add(alert_heads *hs, const alert_head *h);
void alert_heads_free(alert_heads *hs);

/* Severity rank: critical 5, major/error/high 4, warning/minor/medium 3,
 * info/low 2, none/unknown/NULL 1. Case-insensitive. */
int alert_severity_rank(const char *severity);
/* The canonical name for a rank ("critical", "major", "warning", "info", "none"). */
const char *alert_severity_name(int rank);

#endif
