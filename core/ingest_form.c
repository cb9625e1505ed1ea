/* application/x-www-form-urlencoded -> flat object of strings. */
#include "ingest.h"
#include "ingest_util.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode one key or value (n bytes at s) into a new NUL-terminated string.
 * Bytes that are not UTF-8, and NUL, become U+FFFD: the value still reaches a
 * person instead of failing the whole alert. Returns NULL on OOM, or sets
 * *bad on a '%' not followed by two hex digits.
 */
static char *form_decode_part(const char *s, size_t n, int *bad)
{
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t r = 0, o = 0;

	*bad = 0;
	raw = malloc(n + 1);
	if (!raw)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			raw[r++] = ' ';
		} else if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				*bad = 1;
				goto out;
			}
			raw[r++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else {
			raw[r++] = (unsigned char)s[i];
		}
	}
	/* U+FFFD is 3 bytes, so 3 per input byte is always enough. */
	out = malloc(3 * r + 1);
	if (!out)
		goto out;
	for (size_t i = 0; i < r;) {
		size_t c = raw[i] ? ingest_util_utf8_char(raw + i, r - i) : 0;

		if (c == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, raw + i, c);
		o += c;
		i += c;
	}
	out[o] = '\0';
out:
	free(raw);
	if (*bad) {
		free(out);
		return NULL;
	}
	return out;
}

ingest_status ingest_form_decode(const char *text, size_t len, json_t **fields, char *err, size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	json_t *obj = NULL;
	char *key = NULL, *val = NULL;
	size_t pos = 0, nfield = 0;
	char echo[INGEST_UTIL_ECHO_MAX + 1];

	*fields = NULL;
	ingest_util_err(err, errlen, "%s", "");
	obj = json_object();
	if (!obj) {
		ingest_util_err(err, errlen, "out of memory");
		goto out;
	}
	if (!text)
		len = 0;
	/* Tolerate a query string handed over with its '?'. */
	if (len > 0 && text[0] == '?')
		pos = 1;
	while (pos < len) {
		const char *seg = text + pos, *amp = memchr(seg, '&', len - pos);
		size_t seglen = amp ? (size_t)(amp - seg) : len - pos;
		const char *eq = memchr(seg, '=', seglen);
		size_t klen = eq ? (size_t)(eq - seg) : seglen;
		int bad;

		pos += seglen + 1;
		nfield++;
		if (seglen == 0)
			continue;
		key = form_decode_part(seg, klen, &bad);
		if (!bad && key)
			val = eq ? form_decode_part(eq + 1, seglen - klen - 1, &bad) : strdup("");
		if (bad) {
			ingest_util_err(err, errlen, "form field %zu (\"%s\"): malformed %%-escape", nfield,
			                ingest_util_echo(echo, sizeof(echo), seg, klen));
			goto out;
		}
		if (!key || !val) {
			ingest_util_err(err, errlen, "out of memory");
			goto out;
		}
		/* The first of repeated names wins, as in Go's url.Values.Get(). */
		if (*key && !json_object_get(obj, key) && json_object_set_new(obj, key, json_string(val))) {
			ingest_util_err(err, errlen, "out of memory");
			goto out;
		}
		free(key);
		free(val);
		key = val = NULL;
	}
	*fields = obj;
	obj = NULL;
	rc = INGEST_OK;
out:
	free(key);
	free(val);
	json_decref(obj);
	return rc;
}
