/*
 * jansson values to compact JSON text, for the paths that run once per event
 * or request (event documents, store rows, HTTP answers). json_dumps spends
 * most of its time on bookkeeping: a hash table of open containers with a
 * snprintf'd pointer key each (its loop check), a callback per run of bytes,
 * a UTF-8 decode per character, and a copy of the result. This writes the
 * same text directly: tests/fuzz/fuzz_json_writer.c holds it to json_dumps.
 */
#ifndef CRIER_JSON_WRITER_H
#define CRIER_JSON_WRITER_H

#include "strbuf.h"

#include <jansson.h>

/*
 * json_dumps(json, JSON_COMPACT), byte for byte: a new string (free() it), or
 * NULL where json_dumps gives NULL (json NULL or not an object or array, a
 * string that is not UTF-8) and when out of memory or nested deeper than
 * JSON_WRITER_MAX_DEPTH (json_dumps refuses a container inside itself; this
 * stops at that depth). One difference: an object key that is not UTF-8
 * (only json_object_setn_nocheck makes one) gets NULL here, where jansson
 * 2.14 ignores its own failure and writes broken JSON. json is borrowed.
 */
char *json_writer_dumps(const json_t *json);

#define JSON_WRITER_MAX_DEPTH 2048

/*
 * Writing a document member by member, for text built once per event or
 * delivery, where a jansson tree would be built only to be written and
 * freed. The text is what json_writer_dumps would give for the same tree
 * (tests/fuzz/fuzz_json_writer.c checks both against json_dumps). Commas
 * and colons are placed by the writer. A failure (out of memory, a string
 * that is not UTF-8, a value json_writer_dumps refuses) sticks: the calls
 * after it do nothing and json_writer_finish gives NULL. Nothing checks
 * that keys and values alternate or that containers are closed.
 */
/* A strbuf (strbuf.h) that the calls below write JSON into; a caller may
 * set failed itself, to make the document fail. */
typedef strbuf json_writer;

#define JSON_WRITER_INIT STRBUF_INIT

void json_writer_begin_object(json_writer *w);
void json_writer_end_object(json_writer *w);
void json_writer_begin_array(json_writer *w);
void json_writer_end_array(json_writer *w);
/* An object member's key (borrowed), NUL-terminated or of len bytes. */
void json_writer_key(json_writer *w, const char *key);
void json_writer_keyn(json_writer *w, const char *key, size_t len);
/* A string value (borrowed); NULL writes null. */
void json_writer_string(json_writer *w, const char *s);
void json_writer_stringn(json_writer *w, const char *s, size_t len);
void json_writer_int(json_writer *w, json_int_t v);
void json_writer_bool(json_writer *w, int v);
void json_writer_null(json_writer *w);
/* Text (borrowed) that is already one whole JSON value, such as what
 * json_writer_dumps or json_writer_finish gave. */
void json_writer_raw(json_writer *w, const char *text, size_t len);
/* A jansson value of any type (borrowed), as json_writer_dumps writes it;
 * NULL fails. */
void json_writer_value(json_writer *w, const json_t *v);
/* The members of object obj (borrowed), as if each were written with
 * json_writer_key and json_writer_value; not an object fails. */
void json_writer_members(json_writer *w, const json_t *obj);
/* The members of an object given as its compact text (borrowed, len bytes
 * "{...}", such as json_writer_finish gave), into the object being
 * written; text that is not "{...}" fails. */
void json_writer_members_text(json_writer *w, const char *text, size_t len);
/* The text (new, NUL-terminated; w is left empty), or NULL when anything
 * failed (w is freed). */
char *json_writer_finish(json_writer *w);
/* The text so far, NUL-terminated, borrowed until the next call on w; NULL
 * when anything failed. For a writer kept from one document to the next. */
const char *json_writer_text(json_writer *w);
/* Empty w for the next document, keeping its buffer (a failure is forgotten). */
void json_writer_reset(json_writer *w);
void json_writer_free(json_writer *w);

#endif
