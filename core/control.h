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

#include <jansson.h>
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

/*
 * Replies, built here for every module that answers commands (drafts,
 * subscribers, post-mortems). code is what an HTTP front end answers for a
 * refusal (400, 404, 409, 503; 0 = none, and no "code" member).
 */
/* {"ok": false, "error": <the message>, "code": code}: new, or NULL when out of memory. */
json_t *control_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* {"ok": true, key: value, "event": event}: new, or NULL when out of memory or value
 * is NULL. value is stolen; no key member when key is NULL, no "event" when 0. */
json_t *control_ok(const char *key, json_t *value, int64_t event);
/* r (stolen, may be NULL) as compact JSON text: new, or NULL. */
char *control_reply(json_t *r);
/* The text of control_fail(code, fmt, ...): new, or NULL. */
#define control_error(...) control_reply(control_fail(__VA_ARGS__))
/* The HTTP status a refusal r (borrowed, may be NULL) asks for: its "code"
 * when 400 to 599, else otherwise. */
unsigned control_reply_status(const json_t *r, unsigned otherwise);

#endif
