/*
 * Helpers shared by the ingest_*.c parsers (not part of core/ingest.h).
 * Like the parsers, they are pure functions: no I/O, no globals.
 */
#ifndef CRIER_INGEST_UTIL_H
#define CRIER_INGEST_UTIL_H

#include <jansson.h>
#include <stddef.h>

/* Most bytes of request input an error message may quote (core/ingest.h). */
#define INGEST_UTIL_ECHO_MAX 64

/* Write a message into err (always NUL-terminated when errlen > 0). */
void ingest_util_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Copy at most INGEST_UTIL_ECHO_MAX bytes of s (slen bytes long) into dst
 * (>= INGEST_UTIL_ECHO_MAX + 1 bytes) for an error message: whole UTF-8
 * characters only, control bytes and invalid UTF-8 shown as '?', and '"' as
 * '\'' so the quotes around it in a message stay unambiguous. Returns dst.
 */
const char *ingest_util_echo(char *dst, size_t size, const char *s, size_t slen);

/* Length of the valid UTF-8 character at p (1..4, at most n bytes), or 0:
 * json_reader_utf8's rules, with ASCII. */
size_t ingest_util_utf8_char(const unsigned char *p, size_t n);

/*
 * Parse a request body: depth check first (jansson would recurse before it
 * could refuse), then strict JSON (duplicate keys refused). *doc is a new
 * reference to an object or array. Returns 0, or -1 with a message in err.
 */
int ingest_util_parse(const char *body, size_t len, int max_depth, json_t **doc, char *err, size_t errlen);

/*
 * The optional string member key of obj: *out is NULL when it is absent or
 * null, else borrowed from obj. Returns -1 with "<where>.<key>: not a string"
 * in err when it has another type.
 */
int ingest_util_opt_string(const json_t *obj, const char *key, const char *where, const char **out, char *err,
                           size_t errlen);

#endif
