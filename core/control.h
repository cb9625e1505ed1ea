/* The control socket's commands (docs/control.md), run on the core thread. */
#ifndef CRIER_CONTROL_H
#define CRIER_CONTROL_H

#include "config.h"
#include "drafts.h"
#include "incidents.h"
#include "outbox.h"
#include "postmortem.h"
#include "store.h"
#include "subscribers.h"

#include <stddef.h>
#include <stdint.h>

typedef struct control_ctx {
	store *st;         /* borrowed */
	incidents *inc;    /* borrowed */
	outbox *ob;        /* borrowed */
	drafts *dr;        /* borrowed */
	postmortems *pm;   /* borrowed */
	subscribers *subs; /* borrowed */
	const config *cfg; /* borrowed */
	int64_t started_ms;
	int rolled_back; /* out: a command's transaction failed; the incident index must be rebuilt */
} control_ctx;

/* Handle one request (JSON text of len bytes). Returns the reply as new JSON
 * text (free), or NULL when out of memory. */
char *control_handle(control_ctx *ctx, const char *req, size_t len, int64_t now);

#endif
