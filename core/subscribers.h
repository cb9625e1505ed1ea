/*
 * Subscribers: people who asked to hear of public incidents by email or by
 * SMS (docs/subscribers.md). Core thread only. The table lives in the
 * store's database, with statements of its own.
 *
 * A subscription made through the public API is pending until confirmed:
 * an email address by the link mailed to it, a phone number by the 6-digit
 * code texted to it. The link's token and the code are stored as SHA-256
 * hashes only. A confirmation is an event of type "subscription_confirm"
 * (incident 0) delivered to the configured email or sms instance alone,
 * never routed; it is deleted once used or lapsed. Operators add
 * subscribers confirmed at once.
 *
 * Every subscriber has a random unsubscribe token of their own: their
 * deliveries carry "subscriber": {"unsubscribe_url": ...}, and using it
 * removes them, their pending deliveries and their delivery history.
 */
#ifndef CRIER_SUBSCRIBERS_H
#define CRIER_SUBSCRIBERS_H

#include "config.h"
#include "outbox.h"
#include "store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct subscribers subscribers;

/* The event type of confirmations; never routed, never public. */
#define SUBSCRIBERS_CONFIRM_EVENT "subscription_confirm"

/* Wrong codes a pending phone subscription tolerates before it is dead. */
#define SUBSCRIBERS_CODE_ATTEMPTS 5
/* Confirmations one address gets within one expiry period at most, and the
 * least time between two (a stranger cannot flood someone's inbox). */
#define SUBSCRIBERS_MAX_SENDS 3
#define SUBSCRIBERS_RESEND_MS (60 * 1000)

/* Create the table if needed and prepare the statements; st is borrowed. */
subscribers *subscribers_open(store *st, char *err, size_t errlen);
void subscribers_free(subscribers *s);

/* The configuration from now on (borrowed until the next call). */
void subscribers_configure(subscribers *s, const config *cfg);

/*
 * Queue one delivery of event_id to instance for every confirmed subscriber
 * of kind (CONFIG_SUBSCRIBERS_*) who follows the incident: whose components
 * include one of the incident's (from its labels, borrowed), or who follows
 * all, or every subscriber when the incident names no component. In the
 * caller's transaction. Returns how many, or -1.
 */
int subscribers_fanout(subscribers *s, int64_t event_id, int64_t incident_id, const char *instance, int kind,
                       const json_t *incident_labels, int64_t now);

/*
 * The "subscriber" object of a delivery to address, a subscriber of kind:
 * new, {"unsubscribe_url": ...}. NULL with *gone = 1 when the address is no
 * longer a confirmed subscriber, NULL with *gone = 0 on a store error.
 */
json_t *subscribers_doc(subscribers *s, int kind, const char *address, int *gone);

/* The control commands (docs/control.md) this module answers. */
int subscribers_handles(const char *cmd);

/*
 * Run one of them (req borrowed) in a transaction of its own; ob is woken
 * for the confirmations queued. Returns the reply as new JSON text, or NULL
 * when out of memory. Replies the HTTP API turns into errors carry "code".
 */
char *subscribers_control(subscribers *s, outbox *ob, const json_t *req, const char *cmd, int64_t now);

/* ---- pure helpers (exposed for tests) ---- */

/*
 * Normalise an email address (trimmed, lowercase) or a phone number
 * (spaces, dots, dashes and brackets dropped) into out. Returns the
 * CONFIG_SUBSCRIBERS_* kind it is, or 0 when it is neither valid.
 */
int subscribers_address(const char *in, int want_kind, char *out, size_t outlen);

/* 22 characters of base64url from 128 random bits, and a NUL. 0 / -1. */
int subscribers_token(char out[23]);

/* Six random decimal digits and a NUL, uniform. 0 / -1. */
int subscribers_code(char out[7]);

/* "j***@example.com", "+44***89": enough for its owner to recognise. */
void subscribers_mask(const char *address, char *out, size_t outlen);

#endif
