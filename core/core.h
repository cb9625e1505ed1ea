/*
 * The core: one thread that owns all state (store, incidents, outbox,
 * plugin hosts). Others talk to it only through ZeroMQ; these functions are
 * the thread-safe front doors.
 */
#ifndef CRIER_CORE_H
#define CRIER_CORE_H

#include "alert.h"
#include "config.h"

#include <jansson.h>

typedef struct core core;

/* Open the store, load plugins, start the thread. cfg is borrowed until
 * core_stop (core_reload swaps it). zctx is the process's ZeroMQ context. */
core *core_start(void *zctx, const config *cfg, char *err, size_t errlen);

/*
 * The hand-off, for threads that poll their own sockets (the HTTP workers):
 * each opens one socket per channel with core_socket() and keeps it for its
 * life. A request carries a tag, the sender's own pointer to its record of
 * the request, which comes back with the answer; answers come in any order.
 */
typedef enum core_channel {
	CORE_INGEST,  /* normalized alerts, answered after the commit */
	CORE_CONTROL, /* control requests (docs/control.md), as crierctl's */
} core_channel;

/* A new socket for the calling thread (close with zmq_close), or NULL with
 * err. Poll it for ZMQ_POLLIN and read answers with core_recv. */
void *core_socket(core *c, core_channel ch, char *err, size_t errlen);

/*
 * Hand normalized alerts (a JSON array) to the core, with the head of each
 * (alert.h; borrowed and copied; none: the core makes them); received_us is
 * when their request arrived whole (timefmt_mono_us), for the
 * ingest-to-plugin measure (0: do not measure). Steals one reference,
 * which the core drops after its batch: a sender that keeps another until
 * the answer also keeps the freeing of the document on its own thread.
 * 0, or -1 (zmq_errno) with the reference already dropped.
 */
int core_send_alerts(void *sock, json_t *alerts, const alert_head *heads, size_t n_heads, int64_t received_us,
                     void *tag);

/* A control request (JSON text, borrowed) to run on the core thread. 0 / -1. */
int core_send_control(void *sock, const char *req, void *tag);

/*
 * One answer from sock, without blocking: 1 with *tag and *reply (new text),
 * 0 when none is waiting, -1 on error. An alerts answer is "OK <changed>"
 * once committed, or "ERR <status> <reason>" (503 when the store failed);
 * a control answer is the control reply.
 */
int core_recv(void *sock, void **tag, char **reply);

/* True once the core is serving (store open, plugins up). */
int core_ready(const core *c);

/* Apply a new configuration (routes, instances, delivery). cfg is borrowed
 * until the next reload or stop. Queued deliveries are kept. 0 / -1. */
int core_reload(core *c, const config *cfg, char *err, size_t errlen);

/* Finish in-flight deliveries, stop hosts, close the store, join, free. */
void core_stop(core *c);

#endif
