/* Helpers shared by the source parsers. */
#include "ingest_util.h"

#include "alert.h"
#include "json_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ingest_util_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

size_t ingest_util_utf8_char(const unsigned char *p, size_t n)
{
	if (n == 0)
		return 0;
	return p[0] < 0x80 ? 1 : json_reader_utf8(p, n);
}

const char *ingest_util_echo(char *dst, size_t size, const char *s, size_t slen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, max;

	if (!dst || size == 0)
		return dst;
	max = size - 1 < INGEST_UTIL_ECHO_MAX ? size - 1 : INGEST_UTIL_ECHO_MAX;
	while (i < slen && o < max) {
		size_t n = ingest_util_utf8_char(p + i, slen - i);

		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + n > max)
			break;
		if (n == 1 && p[i] == '"')
			dst[o] = '\'';
		else
			memcpy(dst + o, p + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return dst;
}

/* jansson's text ends with " near '<token>'", and the token is raw input of
 * any length: keep the message, quote at most INGEST_UTIL_ECHO_MAX bytes. */
static void ingest_util_json_error(const json_error_t *jerr, char *err, size_t errlen)
{
	const char *near = strstr(jerr->text, " near '");
	char echo[INGEST_UTIL_ECHO_MAX + 1];

	if (!near) {
		ingest_util_err(err, errlen, "invalid JSON at line %d, column %d: %s", jerr->line, jerr->column,
		                ingest_util_echo(echo, sizeof(echo), jerr->text, strlen(jerr->text)));
		return;
	}
	const char *tok = near + strlen(" near '");
	size_t toklen = strlen(tok);

	if (toklen > 0 && tok[toklen - 1] == '\'')
		toklen--;
	ingest_util_err(err, errlen, "invalid JSON at line %d, column %d: %.*s near '%s'", jerr->line, jerr->column,
	                (int)(near - jerr->text), jerr->text, ingest_util_echo(echo, sizeof(echo), tok, toklen));
}

int ingest_util_parse(const char *body, size_t len, int max_depth, json_t **doc, char *err, size_t errlen)
{
	json_error_t jerr;

	*doc = NULL;
	if (!body) {
		ingest_util_err(err, errlen, "empty body");
		return -1;
	}
	if (alert_check_depth(body, len, max_depth) != 0) {
		ingest_util_err(err, errlen, "JSON nested deeper than %d levels", max_depth);
		return -1;
	}
	*doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*doc) {
		ingest_util_json_error(&jerr, err, errlen);
		return -1;
	}
	return 0;
}

int ingest_util_opt_string(const json_t *obj, const char *key, const char *where, const char **out, char *err,
                           size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		ingest_util_err(err, errlen, "%s%s%s: not a string", where ? where : "", where && *where ? "." : "",
		                key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}
