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

#endif
