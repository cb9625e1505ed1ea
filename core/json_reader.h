/*
 * A strict pull reader over a JSON text in memory: the caller walks the
 * document value by value and keeps only what it wants, so nothing is built
 * for the parts it skips (jansson's json_loadb builds every value, and the
 * request paths copy a few out of it and free the rest).
 *
 * It accepts exactly what json_loadb(JSON_DECODE_ANY) accepts (RFC 8259):
 * UTF-8 checked everywhere (no overlong forms, surrogates or code points past
 * U+10FFFF), every escape including surrogate pairs, \u0000 refused in
 * strings and keys, integers that overflow a json_int_t and reals that
 * overflow a double refused, whitespace limited to space, tab, CR and LF.
 * With JSON_READER_REJECT_DUPLICATES a key repeated in one object is refused
 * (json_loadb's JSON_REJECT_DUPLICATES); without it the caller sees both and,
 * building jansson values, the last wins as in json_loadb. tests/fuzz/
 * fuzz_json_reader.c holds it to jansson's answers.
 *
 * Nesting: at most max_depth containers deep (arrays and objects; a scalar
 * adds nothing), max_depth <= JSON_READER_MAX_DEPTH.
 *
 * Pure and thread-safe (a reader is one caller's); numbers are parsed in the
 * C locale, which crierd never changes. Errors are sticky: once a call has
 * failed, every later one fails too.
 *
 *   json_reader r;
 *   json_reader_init(&r, text, len, 16, JSON_READER_REJECT_DUPLICATES);
 *   if (json_reader_object_enter(&r) < 0) ...
 *   while ((more = json_reader_object_next(&r, &key, &klen)) == 1) {
 *           if (<key wanted> && json_reader_peek(&r) == JSON_READER_STRING)
 *                   json_reader_string(&r, &s, &slen);
 *           else
 *                   json_reader_skip(&r);
 *   }
 *   if (more < 0 || json_reader_end(&r) < 0) ... json_reader_error(&r, &at)
 *   json_reader_free(&r);
 */
#ifndef CRIER_JSON_READER_H
#define CRIER_JSON_READER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* jansson's own limit (JSON_PARSER_MAX_DEPTH). */
#define JSON_READER_MAX_DEPTH 2048

/* Flags for json_reader_init. */
#define JSON_READER_REJECT_DUPLICATES 0x1u

/* json_reader_error's text when an allocation failed (the input may be fine). */
#define JSON_READER_ENOMEM "out of memory"

/* What json_reader_peek sees at the cursor: the type a value starting there
 * would have (the value itself is checked only when it is read). */
typedef enum json_reader_type {
	JSON_READER_INVALID = -1, /* nothing a value can start with, or an earlier error */
	JSON_READER_END = 0,      /* end of the input */
	JSON_READER_OBJECT,
	JSON_READER_ARRAY,
	JSON_READER_STRING,
	JSON_READER_NUMBER,
	JSON_READER_TRUE,
	JSON_READER_FALSE,
	JSON_READER_NULL,
} json_reader_type;

/* One open container (private). */
typedef struct json_reader_frame {
	size_t seen_base; /* first of its keys in seen[] (objects) */
	size_t keys_top;  /* keys[] length when it opened */
	unsigned char is_array;
} json_reader_frame;

/* A key of an open object, kept to refuse a repeat (private). */
typedef struct json_reader_seen {
	size_t off;    /* in the input, or in keys[] when in_keys */
	uint32_t len;  /* bytes */
	uint32_t head; /* its first and last bytes */
	unsigned char in_keys;
} json_reader_seen;

#define JSON_READER_INLINE_FRAMES 32
#define JSON_READER_INLINE_SEEN   64

/*
 * All members are private. Nothing is allocated until the input needs it
 * (deeper than 32, more than 64 keys open at once, escapes, a long real), so
 * a reader lives on the stack; json_reader_free releases what was.
 */
typedef struct json_reader {
	const unsigned char *begin, *p, *end; /* borrowed input */
	unsigned flags;
	int depth, max_depth;
	int state;                 /* what may come next: a value, a first member, ',' or a close */
	const char *error;         /* static text; NULL while all is well */
	size_t error_at;           /* byte offset of the error */
	json_reader_frame *frames; /* owned: frames_inline, or allocated once deeper */
	size_t frames_cap;
	json_reader_seen *seen; /* owned: seen_inline, or allocated once more are open */
	size_t nseen, seen_cap;
	char *keys; /* owned (allocated): decoded keys that held escapes, of the open objects */
	size_t keys_len, keys_cap;
	char *scratch; /* owned (allocated): the last string value that held escapes; a long real */
	size_t scratch_cap;
	json_reader_frame frames_inline[JSON_READER_INLINE_FRAMES];
	json_reader_seen seen_inline[JSON_READER_INLINE_SEEN];
} json_reader;

/* text (borrowed, len bytes, need not be NUL-terminated) must outlive the
 * reader. max_depth is clamped to 0..JSON_READER_MAX_DEPTH. */
void json_reader_init(json_reader *r, const char *text, size_t len, int max_depth, unsigned flags);
/* Release what the reader allocated; the reader may not be used after. */
void json_reader_free(json_reader *r);

/* The type of the value at the cursor, skipping whitespace; consumes nothing. */
json_reader_type json_reader_peek(json_reader *r);

/* Consume '{' or '[' of the value at the cursor. 0, or -1. */
int json_reader_object_enter(json_reader *r);
int json_reader_array_enter(json_reader *r);

/*
 * Inside an object: 1 when a member follows, with its key (decoded; *key is
 * borrowed from the input or the reader, not NUL-terminated, valid until the
 * next key is read, by this call, json_reader_skip or json_reader_value) and
 * the ':' consumed, so its value is at the cursor; 0 when the object closed
 * ('}' consumed); -1 on error. Each member's value must be read or skipped
 * before the next call (calls out of turn fail).
 */
int json_reader_object_next(json_reader *r, const char **key, size_t *len);
/* Inside an array: 1 when an element is at the cursor, 0 when the array
 * closed (']' consumed), -1 on error. */
int json_reader_array_next(json_reader *r);

/* Consume a string value. *s (decoded, not NUL-terminated) is borrowed from
 * the input or the reader, valid until the next string value is read. 0/-1. */
int json_reader_string(json_reader *r, const char **s, size_t *len);
/* Consume a number: *is_real says which of *i and *d holds it. 0/-1. */
int json_reader_number(json_reader *r, int *is_real, json_int_t *i, double *d);
/* Consume one whole value of any type, checking all of it, building nothing. 0/-1. */
int json_reader_skip(json_reader *r);

/*
 * The text of the object or array at the cursor, found by matching brackets
 * outside strings and checking nothing else: *len bytes at the returned
 * pointer (borrowed from the input), or NULL when the value there is not a
 * container or does not close before the end. For a caller that has seen
 * the very same text checked before (ingest_cache.h) and may then pass it
 * with json_reader_pass.
 */
const char *json_reader_peek_text(json_reader *r, size_t *len);
/* Consume len bytes, json_reader_peek_text's answer, as one value without
 * checking them again: only for text already known good at this place. 0/-1. */
int json_reader_pass(json_reader *r, size_t len);
/* The cursor, as an offset into the input. */
size_t json_reader_offset(const json_reader *r);
/* Consume one whole value of any type as a jansson value (*out: new reference). 0/-1. */
int json_reader_value(json_reader *r, json_t **out);

/* After the top-level value: nothing but whitespace may follow. 0/-1. */
int json_reader_end(json_reader *r);

/* Length of the UTF-8 sequence of 2 to 4 bytes at p (at most n), or 0 when
 * there is none: jansson's rules (no overlong forms, no surrogates, nothing
 * past U+10FFFF). For core/json_writer.c too. */
size_t json_reader_utf8(const unsigned char *p, size_t n);

/* The error (static text, e.g. "',' or '}' expected"), or NULL when none;
 * *offset (may be NULL) gets the byte offset where it was found. */
const char *json_reader_error(const json_reader *r, size_t *offset);

#endif
