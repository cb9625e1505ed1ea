/*
 * The core: one thread that owns all state (store, incidents, outbox,
 * plugin hosts). Others talk to it only through ZeroMQ; these functions are
 * the thread-safe front doors.
 */
#ifndef CRIER_CORE_H
#define CRIER_CORE_H

#include "config.h"

#include <jansson.h>

typedef struct core core;

/* Open the store, load plugins, start the thread. cfg is borrowed until
 * core_stop (core_reload swaps it). zctx is the process's ZeroMQ context. */
core *core_start(void *zctx, const config *cfg, char *err, size_t errlen);

/*
 * Hand normalized alerts to the core and wait until they are committed to
 * the store. Steals alerts (a JSON array). Thread-safe, blocking.
 * Returns 0 when committed (*changed = alerts that changed something, may be
 * NULL), -1 when the store failed, -2 on timeout or shutdown. err gets the reason.
 */
int core_submit(core *c, json_t *alerts, int timeout_ms, int *changed, char *err, size_t errlen);

/*
 * Run one control request (JSON text, docs/control.md) on the core thread,
 * as crierctl's would be, and wait for the reply. req is borrowed.
 * Thread-safe, blocking. 0 with *reply the new reply text (free), or -1
 * with err (timeout, shutdown).
 */
int core_control(core *c, const char *req, int timeout_ms, char **reply, char *err, size_t errlen);

/* True once the core is serving (store open, plugins up). */
int core_ready(const core *c);

/* Apply a new configuration (routes, instances, delivery). cfg is borrowed
 * until the next reload or stop. Queued deliveries are kept. 0 / -1. */
int core_reload(core *c, const config *cfg, char *err, size_t errlen);

/* Finish in-flight deliveries, stop hosts, close the store, join, free. */
void core_stop(core *c);

#endif
