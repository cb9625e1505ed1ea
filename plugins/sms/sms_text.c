/* Pure helpers of the sms plugin; see sms_text.h. */
#include "sms_text.h"

#include <crier/plugin_util.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a Twilio message (or of a foreign body) quoted in an error. */
#define QUOTE_MAX 200

int sms_text_is_e164(const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '+' || s[1] == '0')
		return 0;
	for (s++; *s; s++, n++)
		if (*s < '0' || *s > '9')
			return 0;
	return n >= 8 && n <= 15;
}

unsigned sms_text_segments(size_t units, int gsm7)
{
	size_t single = gsm7 ? SMS_TEXT_GSM7_SINGLE : SMS_TEXT_UCS2_SINGLE;
	size_t part = gsm7 ? SMS_TEXT_GSM7_PART : SMS_TEXT_UCS2_PART;

	if (units <= single)
		return 1;
	return (unsigned)((units + part - 1) / part);
}

size_t sms_text_capacity(unsigned max_segments, int gsm7)
{
	if (max_segments <= 1)
		return gsm7 ? SMS_TEXT_GSM7_SINGLE : SMS_TEXT_UCS2_SINGLE;
	return (size_t)max_segments * (gsm7 ? SMS_TEXT_GSM7_PART : SMS_TEXT_UCS2_PART);
}

void sms_text_tidy(char *s)
{
	char *w = s;
	int breaks = 0, blank = 0;

	/* Blanks and breaks are counted, and written only before the next
	 * visible character: none at the start, none at the end. */
	for (const char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\r') {
			blank = 1;
			continue;
		}
		if (*r == '\n') {
			breaks++;
			continue;
		}
		if (w > s && breaks)
			for (int i = 0; i < (breaks > 2 ? 2 : breaks); i++)
				*w++ = '\n';
		else if (w > s && blank)
			*w++ = ' ';
		breaks = blank = 0;
		*w++ = *r;
	}
	*w = '\0';
}

static int form_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '*';
}

/* Bytes value takes once encoded. */
static size_t form_len(const char *v)
{
	size_t n = 0;

	for (; *v; v++)
		n += (form_unreserved((unsigned char)*v) || *v == ' ') ? 1 : 3;
	return n;
}

static char *form_put(char *w, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (form_unreserved(c)) {
			*w++ = (char)c;
		} else if (c == ' ') {
			*w++ = '+';
		} else {
			*w++ = '%';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	return w;
}

char *sms_text_form(const char *const pairs[][2], size_t n)
{
	size_t size = 1;
	char *out, *w;

	for (size_t i = 0; i < n; i++)
		if (pairs[i][1])
			size += form_len(pairs[i][0]) + 1 + form_len(pairs[i][1]) + 1;
	out = malloc(size);
	if (!out)
		return NULL;
	w = out;
	for (size_t i = 0; i < n; i++) {
		if (!pairs[i][1])
			continue;
		if (w > out)
			*w++ = '&';
		w = form_put(w, pairs[i][0]);
		*w++ = '=';
		w = form_put(w, pairs[i][1]);
	}
	*w = '\0';
	return out;
}

/* Up to QUOTE_MAX bytes of s as crier_quote gives them, trailing blanks
 * dropped. */
static void quote(const char *s, size_t len, char *out, size_t size)
{
	size_t n = crier_quote(out, size, s, len, QUOTE_MAX);

	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

void sms_text_describe(long status, const char *body, size_t body_len, long *code, char *out, size_t size)
{
	char said[QUOTE_MAX + 1] = "";
	json_t *root = NULL, *c;
	const char *msg = NULL;

	*code = 0;
	if (body && body_len)
		root = json_loadb(body, body_len, 0, NULL);
	c = json_object_get(root, "code");
	if (json_is_integer(c))
		*code = (long)json_integer_value(c);
	msg = json_string_value(json_object_get(root, "message"));
	if (msg)
		quote(msg, strlen(msg), said, sizeof(said));
	else if (!root && body)
		quote(body, body_len, said, sizeof(said));
	if (*code && said[0])
		snprintf(out, size, "HTTP %ld, Twilio error %ld: %s", status, *code, said);
	else if (*code)
		snprintf(out, size, "HTTP %ld, Twilio error %ld", status, *code);
	else
		crier_http_error(out, size, status, said);
	json_decref(root);
}

crier_result sms_text_classify(long status, long code)
{
	crier_result res = crier_http_result(status);

	/* 20429: too many requests, whatever the status says. */
	return res == CRIER_FAIL && code == 20429 ? CRIER_RETRY : res;
}
