/*
 * The outbox: turns pending deliveries into plugin calls and results into
 * store updates. Owns the plugin libraries and one host per configured
 * instance. Core thread only. A host run as a child process that dies is
 * restarted (100 ms, doubling to 30 s while it keeps dying); the delivery
 * it was running is retried, its attempt counted.
 *
 * Up to 32 deliveries are queued at an instance's host at a time, never two
 * of one incident, so deliveries for one incident reach a channel in event
 * order; an incident whose earlier delivery waits for a retry holds back its
 * later ones, never other incidents'. Backoff: min(backoff_max, backoff_initial * 2^(attempt-1)),
 * then jittered to 50-100% of that, and never before a Retry-After.
 */
#ifndef CRIER_OUTBOX_H
#define CRIER_OUTBOX_H

#include "config.h"
#include "plugin_host.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct outbox outbox;
typedef struct subscribers subscribers; /* subscribers.h */

/* Most plugin instances one crierd runs. */
#define OUTBOX_MAX_CHANNELS 256

outbox *outbox_new(store *s, void *zctx);
/* Make the running hosts match cfg (borrowed until the next call): start new
 * and changed instances, retire removed and changed ones once their queued
 * deliveries are answered. If any new instance fails to start, nothing
 * changes and -1 is returned with err. */
int outbox_configure(outbox *o, const config *cfg, char *err, size_t errlen);
void outbox_free(outbox *o);

/*
 * Dead letters raise an alert. fn is called in the caller's transaction
 * when a delivery to instance goes dead (firing = 1, error = the last
 * error) and at the instance's next success (firing = 0). Return 0 when
 * done, 1 when it could not be applied now (asked again next time), -1 to
 * fail the transaction.
 */
typedef int (*outbox_dead_fn)(void *ctx, const char *instance, int firing, const char *error, int64_t now);
void outbox_on_dead(outbox *o, outbox_dead_fn fn, void *ctx);
/* A transaction was rolled back: what was raised or cleared may not be stored. */
void outbox_forget_dead_alerts(outbox *o);

/*
 * Drafts (drafts.h). drafted is called, in the caller's transaction, when
 * a plugin offered a draft with a delivery that succeeded (d borrowed).
 * published is called for a "draft_approved" delivery's outcome: result is
 * CRIER_OK, CRIER_FAIL (also when retries ran out) or CRIER_RETRY; it
 * returns 1 when the delivery was a draft's publication (whose failure then
 * raises no dead-letter alert: the draft_failed event tells people), 0 when
 * not. Both return -1 to fail the transaction.
 */
typedef int (*outbox_drafted_fn)(void *ctx, const char *instance, int64_t event_id, int64_t incident_id,
                                 const plugin_host_draft *d, int64_t now);
typedef int (*outbox_published_fn)(void *ctx, const char *instance, int64_t event_id, int result, const char *error,
                                   int64_t now);
void outbox_on_drafts(outbox *o, outbox_drafted_fn drafted, outbox_published_fn published, void *ctx);

/* Subscribers (borrowed, may be NULL): deliveries of instances with
 * "subscribers" carry the recipient's unsubscribe link (docs/subscribers.md). */
void outbox_set_subscribers(outbox *o, subscribers *s);

/* New rows exist for instance (or for all when NULL): look again. */
void outbox_wake(outbox *o, const char *instance);

/* Event event_id was caused by a request that arrived at accepted_us
 * (timefmt_mono_us): the first attempt of each of its deliveries measures
 * from then to the plugin's call (crier_ingest_to_plugin_seconds). Only
 * recent events are remembered; older ones are simply not measured. */
void outbox_note_accepted(outbox *o, int64_t event_id, int64_t accepted_us);
/* Forget every note: after a rollback, whose event ids come back for others. */
void outbox_forget_accepted(outbox *o);

/* Send every delivery that is due. *next_ms gets the earliest future due time. */
int outbox_dispatch(outbox *o, int64_t now, int64_t *next_ms);

/* The host sockets to poll, and beside each the descriptor that turns
 * readable when its host process exits (-1 for a thread). Valid until the
 * next call, configure or dispatch. */
size_t outbox_sockets(outbox *o, void **socks, int *fds, size_t max);
/* Socket i or its descriptor is readable: take its results, and its exit
 * (retry what it was running, restart it later), in the caller's
 * transaction. Returns -1 when a store write failed (roll the transaction back). */
int outbox_on_result(outbox *o, size_t i, int64_t now);

/* Shutting down: hosts answer what is queued without calling plugins. */
void outbox_begin_stop(outbox *o);

/* Deliveries in flight now. */
size_t outbox_inflight(const outbox *o);

/* How one channel's host is doing, for crierctl status. */
typedef struct outbox_channel_info {
	int process;     /* isolation "process" (else a thread) */
	long pid;        /* its host process, 0 while down or starting (process only) */
	uint64_t deaths; /* times its host process died since crierd started */
	int in_flight;   /* deliveries handed to it and not answered */
} outbox_channel_info;

/* 0 with *info for the running channel of instance name, -1 when none. */
int outbox_channel_describe(outbox *o, const char *name, outbox_channel_info *info);

/* The delay before attempt+1 (exposed for tests): rnd in [0, 1). */
int64_t outbox_backoff(const config_delivery *d, int attempts, double rnd);

#endif
