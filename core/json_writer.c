/* jansson values to compact JSON text (see json_writer.h). */
#include "json_writer.h"

#include "json_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes a string holds as they are: printable ASCII but '"' and '\\'
 * (one lookup per byte where the scan made four comparisons). */
#define JW_PLAIN(c)   ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define JW_PLAIN4(c)  JW_PLAIN(c), JW_PLAIN((c) + 1), JW_PLAIN((c) + 2), JW_PLAIN((c) + 3)
#define JW_PLAIN16(c) JW_PLAIN4(c), JW_PLAIN4((c) + 4), JW_PLAIN4((c) + 8), JW_PLAIN4((c) + 12)
static const unsigned char jw_plain[256] = {JW_PLAIN16(0x00), JW_PLAIN16(0x10), JW_PLAIN16(0x20), JW_PLAIN16(0x30),
                                            JW_PLAIN16(0x40), JW_PLAIN16(0x50), JW_PLAIN16(0x60), JW_PLAIN16(0x70),
                                            JW_PLAIN16(0x80), JW_PLAIN16(0x90), JW_PLAIN16(0xa0), JW_PLAIN16(0xb0),
                                            JW_PLAIN16(0xc0), JW_PLAIN16(0xd0), JW_PLAIN16(0xe0), JW_PLAIN16(0xf0)};

/* A string as jansson's dump_string writes it without flags: '"', '\\' and
 * control characters escaped (\b \f \n \r \t, else \u00XX), the rest as is. */
static int jw_string(json_writer *b, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)str, *end = p + len, *run;

	/* Worst case: every byte a \u00XX; and one more byte, for a key's ':'. */
	if (strbuf_reserve(b, len * 6 + 3) < 0)
		return -1;
	char *o = b->data + b->len;

	*o++ = '"';
	while (p < end) {
		run = p;
		while (p < end && jw_plain[*p])
			p++;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end)
			break;
		unsigned c = *p;

		if (c >= 0x80) {
			size_t n = json_reader_utf8(p, (size_t)(end - p));

			if (!n)
				return -1;
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
			break;
		}
		p++;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	return 0;
}

static void jw_integer(json_writer *b, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	strbuf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* jansson's jsonp_dtostr at its default precision: "%.17g", ".0" added when
 * it would read back as an integer, the exponent without '+' or leading zeros. */
static int jw_real(json_writer *b, double v)
{
	char buf[100], *start, *end;
	int n = snprintf(buf, sizeof(buf), "%.17g", v);
	size_t len;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	len = (size_t)n;
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		if (len + 3 >= sizeof(buf))
			return -1;
		memcpy(buf + len, ".0", 3);
		len += 2;
	}
	start = strchr(buf, 'e');
	if (start) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - buf));
			len -= (size_t)(end - start);
		}
	}
	strbuf_add(b, buf, len);
	return 0;
}

static int jw_value(json_writer *b, const json_t *v, int depth)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		size_t klen;
		json_t *member;
		int first = 1;

		if (depth >= JSON_WRITER_MAX_DEPTH)
			return -1;
		strbuf_addch(b, '{');
		json_object_keylen_foreach((json_t *)v, key, klen, member)
		{
			if (!first)
				strbuf_addch(b, ',');
			first = 0;
			if (jw_string(b, key, klen) < 0)
				return -1;
			strbuf_addch(b, ':');
			if (jw_value(b, member, depth + 1) < 0)
				return -1;
		}
		strbuf_addch(b, '}');
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *elem;

		if (depth >= JSON_WRITER_MAX_DEPTH)
			return -1;
		strbuf_addch(b, '[');
		json_array_foreach(v, i, elem)
		{
			if (i)
				strbuf_addch(b, ',');
			if (jw_value(b, elem, depth + 1) < 0)
				return -1;
		}
		strbuf_addch(b, ']');
		break;
	}
	case JSON_STRING:
		return jw_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		jw_integer(b, json_integer_value(v));
		break;
	case JSON_REAL:
		return jw_real(b, json_real_value(v));
	case JSON_TRUE:
		strbuf_add(b, "true", 4);
		break;
	case JSON_FALSE:
		strbuf_add(b, "false", 5);
		break;
	case JSON_NULL:
		strbuf_add(b, "null", 4);
		break;
	default:
		return -1;
	}
	return b->failed ? -1 : 0;
}

char *json_writer_dumps(const json_t *json)
{
	json_writer w = JSON_WRITER_INIT;

	if (!json_is_object(json) && !json_is_array(json))
		return NULL;
	json_writer_value(&w, json);
	return json_writer_finish(&w);
}

/* ---- member by member ---------------------------------------------------- */

/* A comma before a key or an array element: unless it opens its container
 * (or the document), something complete came before it. A value after a
 * key follows its ':'. */
static void jw_sep(json_writer *w)
{
	char last;

	if (w->len == 0 || w->failed)
		return;
	last = w->data[w->len - 1];
	if (last != '{' && last != '[' && last != ':')
		strbuf_addch(w, ',');
}

static void jw_fail(json_writer *w, int rc)
{
	if (rc < 0)
		w->failed = 1;
}

void json_writer_begin_object(json_writer *w)
{
	jw_sep(w);
	strbuf_addch(w, '{');
}

void json_writer_end_object(json_writer *w)
{
	strbuf_addch(w, '}');
}

void json_writer_begin_array(json_writer *w)
{
	jw_sep(w);
	strbuf_addch(w, '[');
}

void json_writer_end_array(json_writer *w)
{
	strbuf_addch(w, ']');
}

void json_writer_keyn(json_writer *w, const char *key, size_t len)
{
	jw_sep(w);
	if (jw_string(w, key, len) < 0)
		w->failed = 1;
	else
		w->data[w->len++] = ':'; /* jw_string kept room for it */
}

void json_writer_key(json_writer *w, const char *key)
{
	json_writer_keyn(w, key, strlen(key));
}

void json_writer_stringn(json_writer *w, const char *s, size_t len)
{
	jw_sep(w);
	if (!w->failed)
		jw_fail(w, jw_string(w, s, len));
}

void json_writer_string(json_writer *w, const char *s)
{
	if (s)
		json_writer_stringn(w, s, strlen(s));
	else
		json_writer_null(w);
}

void json_writer_int(json_writer *w, json_int_t v)
{
	jw_sep(w);
	jw_integer(w, v);
}

void json_writer_bool(json_writer *w, int v)
{
	jw_sep(w);
	if (v)
		strbuf_add(w, "true", 4);
	else
		strbuf_add(w, "false", 5);
}

void json_writer_null(json_writer *w)
{
	jw_sep(w);
	strbuf_add(w, "null", 4);
}

void json_writer_raw(json_writer *w, const char *text, size_t len)
{
	jw_sep(w);
	strbuf_add(w, text, len);
}

void json_writer_value(json_writer *w, const json_t *v)
{
	jw_sep(w);
	if (!w->failed)
		jw_fail(w, v ? jw_value(w, v, 0) : -1);
}

void json_writer_members(json_writer *w, const json_t *obj)
{
	const char *key;
	size_t klen;
	json_t *member;

	if (!json_is_object(obj)) {
		w->failed = 1;
		return;
	}
	json_object_keylen_foreach((json_t *)obj, key, klen, member)
	{
		json_writer_keyn(w, key, klen);
		if (!w->failed)
			jw_fail(w, jw_value(w, member, 1));
	}
}

void json_writer_members_text(json_writer *w, const char *text, size_t len)
{
	if (len < 2 || text[0] != '{' || text[len - 1] != '}') {
		w->failed = 1;
		return;
	}
	if (len > 2)
		json_writer_raw(w, text + 1, len - 2);
}

const char *json_writer_text(json_writer *w)
{
	return strbuf_text(w);
}

char *json_writer_finish(json_writer *w)
{
	return strbuf_take(w, NULL);
}

void json_writer_reset(json_writer *w)
{
	strbuf_reset(w);
}

void json_writer_free(json_writer *w)
{
	strbuf_free(w);
}
