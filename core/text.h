/*
 * Text measures for channel length limits, and cutting text to fit them
 * (the host table's text_measure and text_fit; see crier_measure in
 * include/crier/plugin.h for what each unit counts).
 *
 * Input is UTF-8; invalid sequences count as one U+FFFD each and are never
 * split. Pure functions, safe on any thread.
 */
#ifndef CRIER_TEXT_H
#define CRIER_TEXT_H

#include <crier/plugin.h>
#include <stddef.h>

/* Length of s in units of m; SIZE_MAX for CRIER_MEASURE_GSM7 when s has a
 * character outside the GSM 03.38 basic and extension tables. */
size_t text_measure(const char *s, crier_measure m);

/*
 * s itself (copied) when it fits in limit units of m. Otherwise: take the
 * last occurrence of keep out of s (with the whitespace before it), cut the
 * rest at the last word boundary that leaves room, trim trailing spaces and
 * punctuation, append "…" (U+2026; "..." under GSM-7, which lacks it), then
 * " " and keep. A word longer than the room is cut mid-word rather than
 * dropping everything. Returns a new string (free with free()), or NULL when
 * keep alone (plus the ellipsis) does not fit, or on out of memory.
 */
char *text_fit(const char *s, crier_measure m, size_t limit, const char *keep);

/* What c is written as in HTML text and attribute values: the entity for
 * & < > " and ' (static), or NULL when c stands for itself. */
const char *text_html_entity(char c);

/* The strings of list (NULL-terminated, borrowed) joined by ", " into buf,
 * cut short when it is full: for messages naming what is allowed. */
void text_join(char *buf, size_t size, const char *const *list);

/* src (borrowed, may be NULL) into dst as valid UTF-8 of at most size - 1
 * bytes, cut between characters, each byte that starts no valid character
 * written as '?': for outside text, such as a plugin's reason (set_error),
 * bound for a JSON document, which cannot carry anything else. */
void text_utf8_copy(char *dst, size_t size, const char *src);

#endif
