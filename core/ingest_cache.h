/*
 * Normalized alerts by the exact text they were parsed from. Alertmanager
 * sends a group whole at every group_interval (and an HA pair sends it
 * twice), and an alert that did not change is the same bytes each time: an
 * HTTP worker keeps what it parsed from a text it has seen before, so each
 * such alert is parsed twice per worker rather than once per request. The cached alerts are shared with
 * the core and are never modified by anyone (core/incidents.c copies what it
 * keeps). One cache per thread: not thread-safe.
 */
#ifndef CRIER_INGEST_CACHE_H
#define CRIER_INGEST_CACHE_H

#include "alert.h"

#include <jansson.h>
#include <stddef.h>

typedef struct ingest_cache ingest_cache;

/* A cache of `slots` alerts at most (rounded up to a power of two), or NULL (out of memory). */
ingest_cache *ingest_cache_new(size_t slots);
void ingest_cache_free(ingest_cache *c);

/* The alert parsed from raw (len bytes) under lim, borrowed, or NULL; its
 * head (borrowed, until the next put) in *head. A different lim than the
 * cache's empties it first: limits decide what an alert parses to. */
json_t *ingest_cache_get(ingest_cache *c, const alert_limits *lim, const char *raw, size_t len,
                         const alert_head **head);

/* Remember alert (a reference is taken), and a copy of its head, as what
 * raw parses to under lim,
 * if raw was put once before (on first sight only its hash is noted).
 * Best effort: out of memory, or a raw text too long, just remembers nothing. */
void ingest_cache_put(ingest_cache *c, const alert_limits *lim, const char *raw, size_t len, json_t *alert,
                      const alert_head *head);

/* Bytes of text held now: at most 1 MiB, older alerts dropped for newer. */
size_t ingest_cache_bytes(const ingest_cache *c);

#endif
