/*
 * Mustache templates (https://mustache.github.io/mustache.5.html), the whole
 * specification minus lambdas: variables, sections, inverted sections,
 * comments, partials (with standalone-line indentation), set delimiters,
 * dotted names and the implicit iterator. Rendering walks a jansson value,
 * so a plugin's context is the event JSON of docs/events.md.
 *
 * Pure code: no globals, no I/O except through the partial loader the caller
 * passes; safe on any thread. tests/unit/test_mustache.c runs the official
 * specification files; tests/fuzz/fuzz_mustache.c fuzzes the compiler.
 */
#ifndef CRIER_MUSTACHE_H
#define CRIER_MUSTACHE_H

#include <crier/plugin.h> /* crier_escape */
#include <jansson.h>
#include <stddef.h>

typedef struct mustache mustache; /* a compiled template */

/*
 * Where partials come from. Called at render time with the partial's name;
 * returns the partial's source as a new string (freed by the renderer) or
 * NULL when there is none (the spec renders an unknown partial as "").
 */
typedef char *(*mustache_partial_fn)(void *ctx, const char *name);

/*
 * Compile src (len bytes, need not be NUL-terminated). name is used in
 * messages. Returns a new template, or NULL with err set, naming the line:
 * "subject: line 2: unclosed section \"incident\"". Limits: src at most
 * 1 MiB, sections nested at most 64 deep.
 */
mustache *mustache_compile(const char *name, const char *src, size_t len, char *err, size_t errlen);
void mustache_free(mustache *t);

/*
 * Render t against ctx (borrowed). {{x}} values are escaped for esc; with
 * CRIER_ESCAPE_HEADER the whole result is also cleaned of CR/LF. Numbers
 * render as JSON writes them, true as "true", null and false as "". Partials
 * are compiled on use through partials (may be NULL); partial recursion is
 * cut at 32 levels. Returns a new NUL-terminated string (free with free()),
 * or NULL with err set (out of memory, a broken partial, recursion).
 */
char *mustache_render(const mustache *t, const json_t *ctx, crier_escape esc, mustache_partial_fn partials,
                      void *partials_ctx, char *err, size_t errlen);

#endif
