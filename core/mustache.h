/*
 * Mustache templates (https://mustache.github.io/mustache.5.html), the whole
 * specification minus lambdas: variables, sections, inverted sections,
 * comments, partials (with standalone-line indentation), set delimiters,
 * dotted names and the implicit iterator. Rendering walks a jansson value,
 * so a plugin's context is the event JSON of docs/events.md.
 *
 * Pure code: no globals, no I/O but mustache_read and the partial loader the
 * caller passes; safe on any thread (a partials cache is one caller's at a
 * time). tests/unit/test_mustache.c runs the official
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

/* A template file's whole text (strbuf_read_file): a new NUL-terminated
 * string of *len bytes, or NULL with errno set: what open(2) said, or, once
 * the file is open (*opened 1, when opened is not NULL), EFBIG (more than
 * the 1 MiB mustache_compile takes), ENOMEM, or EIO for any other failure. */
char *mustache_read(const char *path, size_t *len, int *opened);

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

/*
 * Compiled partials kept from one render to the next, for a template
 * rendered many times: each (name, indentation) is loaded and compiled
 * once, on first use, and kept until mustache_partials_free; a partial the
 * loader has not is asked for again in the next render. load may be NULL.
 * New, or NULL when out of memory.
 */
typedef struct mustache_partials mustache_partials;
mustache_partials *mustache_partials_new(mustache_partial_fn load, void *load_ctx);
void mustache_partials_free(mustache_partials *p);

/* mustache_render with its partials from (and kept in) partials, which
 * must not be used by another render at the same time. */
char *mustache_render_cached(const mustache *t, const json_t *ctx, crier_escape esc, mustache_partials *partials,
                             char *err, size_t errlen);

#endif
