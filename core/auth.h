/*
 * Request authentication for the ingest endpoints: bearer token (header or
 * ?token=), HTTP basic auth, or, for a source with no credentials
 * configured, loopback peers only. Pure functions: safe on any thread.
 *
 * Nothing here writes a log line; the reasons returned are fixed strings
 * that never hold a presented or configured secret.
 */
#ifndef CRIER_AUTH_H
#define CRIER_AUTH_H

#include "config.h"

#include <stddef.h>
#include <sys/socket.h>

/* Longest Authorization header value examined; longer ones are malformed. */
#define AUTH_HEADER_MAX 4096

typedef enum auth_result {
	AUTH_OK = 0,
	AUTH_DENIED,        /* missing or wrong credentials: 401 */
	AUTH_LOOPBACK_ONLY, /* no credentials configured and the peer is not loopback: 403 */
} auth_result;

/*
 * Compare a presented secret with a configured one. The time taken depends
 * only on plen (the attacker's own length), never on the configured secret's
 * length or content, nor on where the first difference lies. 1 when equal.
 */
int auth_equal(const void *presented, size_t plen, const void *secret, size_t slen);

/*
 * Strict standard base64 (RFC 4648 alphabet; '=' padding optional but, when
 * present, correct). Writes at most outsize bytes to out and sets *outlen.
 * 0, or -1 when in is not base64 or the result does not fit.
 */
int auth_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize, size_t *outlen);

/*
 * "Bearer <token>" (scheme case-insensitive, blanks around the token
 * skipped). 0 with *tok and *toklen pointing into header; -1 when header is not
 * a bearer credential or the token is empty.
 */
int auth_parse_bearer(const char *header, const char **tok, size_t *toklen);

/*
 * "Basic base64(user:pass)". Decodes into buf (NUL-terminated user and
 * password stored back to back), and points *user and *pass into it.
 * Returns 0; 1 when the scheme is not Basic; -1 when it is Basic but
 * malformed (bad base64, no colon, a NUL or control byte, or too long for buf).
 */
int auth_parse_basic(const char *header, char *buf, size_t bufsize, const char **user, size_t *userlen,
                     const char **pass, size_t *passlen);

/* 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. NULL is not loopback. */
int auth_is_loopback(const struct sockaddr *sa);

/* The peer's address as text ("127.0.0.1", "::1", "unknown") into buf. */
const char *auth_peer_name(const struct sockaddr *sa, char *buf, size_t size);

/* True when a has no usable credentials (NULL or empty strings only). */
int auth_unconfigured(const config_auth *a);

/*
 * Decide one request. a: the source's credentials (borrowed); authorization:
 * the Authorization header or NULL; query_token: the decoded ?token= value or
 * NULL; peer: the client address. *why gets a fixed, secret-free reason for
 * the log ("missing credentials", "wrong token", ...), NULL on AUTH_OK.
 */
auth_result auth_check(const config_auth *a, const char *authorization, const char *query_token,
                       const struct sockaddr *peer, const char **why);

#endif
