/*
 * A small, strict Markdown subset for text people publish (post-mortems,
 * docs/postmortems.md), rendered to HTML that is safe to put in a page as
 * it is:
 *
 *   # headings (ATX, levels 1 to 6)      paragraphs
 *   *emphasis*, _emphasis_, **strong**   `inline code`
 *   ``` or ~~~ fenced code blocks        - bullet lists, 1. numbered lists (nested by indentation)
 *   [text](url) links, where url is http://, https:// or mailto: only
 *   \ before ASCII punctuation: the character itself
 *
 * Everything else is text, escaped: raw HTML shows as written, an entity
 * such as &copy; shows as written, a link to any other scheme (javascript:,
 * data:, a relative path) is not a link. The output holds no tag and no
 * attribute but those listed in markdown_html.
 */
#ifndef CRIER_MARKDOWN_H
#define CRIER_MARKDOWN_H

#include <stddef.h>

/*
 * Render md (len bytes, need not be NUL-terminated, may hold any bytes) as
 * HTML: a new NUL-terminated string, or NULL when out of memory. Headings
 * move down heading_offset levels (0..5; "# x" is <h2> with 1), for text
 * shown under a page's own <h1>; a level past 6 stays at 6.
 *
 * The only tags: h1..h6, p, em, strong, code, pre, ul, ol (with a start
 * attribute), li, a (with an href attribute). NUL bytes become U+FFFD;
 * other bytes pass through, so valid UTF-8 in gives valid UTF-8 out.
 */
char *markdown_html(const char *md, size_t len, int heading_offset);

/*
 * Is s (len bytes) text a person may publish: not empty, at most max
 * bytes, UTF-8, and no control character but tab, line feed and carriage
 * return? 0, or -1 with err set to one line starting with what (borrowed,
 * e.g. a file name), such as "notes.md is not UTF-8 text (byte 0xff at
 * offset 12)".
 */
int markdown_check(const char *s, size_t len, size_t max, const char *what, char *err, size_t errlen);

/*
 * Outside text (an alert's summary, a person's message; borrowed) as
 * Markdown that reads as the text itself: the characters with an inline
 * meaning (\ ` * _ [ ] < >) get a backslash, line breaks and tabs become
 * spaces, other control characters are dropped. New string, or NULL when
 * out of memory.
 */
char *markdown_literal(const char *s);

#endif
