/* The normalized alert and the checks every source shares. */
#include "alert.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const alert_limits alert_limits_default = {
    .max_alerts = 1000,
    .max_labels = 64,
    .max_name_len = 128,
    .max_value_len = 16384,
    .max_depth = 16,
};

json_t *alert_new(const char *source, const char *key, const char *status, json_t *labels, json_t *annotations,
                  int64_t starts_at, int64_t ends_at, const char *link)
{
	json_t *a = NULL;

	if (!labels)
		labels = json_object();
	if (!annotations)
		annotations = json_object();
	if (!source || !key || !status || !labels || !annotations)
		goto fail;
	a = json_object();
	if (!a)
		goto fail;
	/* json_object_set_new() consumes its value even when it fails. */
	if (json_object_set_new(a, "source", json_string(source)) || json_object_set_new(a, "key", json_string(key)) ||
	    json_object_set_new(a, "status", json_string(status)))
		goto fail;
	if (json_object_set_new(a, "labels", labels)) {
		labels = NULL;
		goto fail;
	}
	labels = NULL;
	if (json_object_set_new(a, "annotations", annotations)) {
		annotations = NULL;
		goto fail;
	}
	annotations = NULL;
	if (json_object_set_new(a, "starts_at", json_integer(starts_at)) ||
	    json_object_set_new(a, "ends_at", json_integer(ends_at)) ||
	    json_object_set_new(a, "link", json_string(link ? link : "")))
		goto fail;
	return a;
fail:
	json_decref(labels);
	json_decref(annotations);
	json_decref(a);
	return NULL;
}

/* Copy at most 64 bytes of s into dst for an error message, cut on a UTF-8
 * boundary, with control bytes shown as '?' so a message stays one line. */
static const char *alert_echo(char *dst, size_t size, const char *s)
{
	size_t n = 0, max = size - 1 < 64 ? size - 1 : 64;

	for (; s[n] && n < max; n++)
		dst[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	if (s[n])
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	dst[n] = '\0';
	return dst;
}

int alert_check_kv(const json_t *obj, const alert_limits *lim, const char *where, const char *what, char *err,
                   size_t errlen)
{
	const char *sep = where && *where ? "." : "";
	const char *name;
	json_t *val;
	char echo[80];

	if (!where)
		where = "";
	if (!lim)
		lim = &alert_limits_default;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s%s%s: not an object", where, sep, what);
		return -1;
	}
	if (json_object_size(obj) > lim->max_labels) {
		snprintf(err, errlen, "%s%s%s: %zu %s, limit is %zu", where, sep, what, json_object_size(obj), what,
		         lim->max_labels);
		return -1;
	}
	/* json_object_foreach wants a non-const object; it only reads it. */
	json_object_foreach((json_t *)obj, name, val)
	{
		size_t nlen = strlen(name);

		if (nlen == 0) {
			snprintf(err, errlen, "%s%s%s: empty name", where, sep, what);
			return -1;
		}
		if (nlen > lim->max_name_len) {
			snprintf(err, errlen, "%s%s%s: name \"%s...\" is %zu bytes, limit is %zu", where, sep, what,
			         alert_echo(echo, sizeof(echo), name), nlen, lim->max_name_len);
			return -1;
		}
		if (!json_is_string(val)) {
			snprintf(err, errlen, "%s%s%s: value of \"%s\" is not a string", where, sep, what,
			         alert_echo(echo, sizeof(echo), name));
			return -1;
		}
		if (json_string_length(val) > lim->max_value_len) {
			snprintf(err, errlen, "%s%s%s: value of \"%s\" is %zu bytes, limit is %zu", where, sep, what,
			         alert_echo(echo, sizeof(echo), name), json_string_length(val), lim->max_value_len);
			return -1;
		}
	}
	return 0;
}

int alert_check_depth(const char *text, size_t len, int max_depth)
{
	int depth = 0, in_string = 0;

	if (!text)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character cannot end the string */
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			break;
		case '[':
		case '{':
			if (++depth > max_depth)
				return -1;
			break;
		case ']':
		case '}':
			/* Unbalanced closers are the parser's to report. */
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 0;
}

int alert_severity_rank(const char *severity)
{
	static const struct {
		const char *name;
		int rank;
	} names[] = {
	    {"critical", 5}, {"major", 4},  {"error", 4}, {"high", 4}, {"warning", 3},
	    {"minor", 3},    {"medium", 3}, {"info", 2},  {"low", 2},
	};

	if (!severity)
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(severity, names[i].name) == 0)
			return names[i].rank;
	return 1;
}

const char *alert_severity_name(int rank)
{
	if (rank >= 5)
		return "critical";
	if (rank == 4)
		return "major";
	if (rank == 3)
		return "warning";
	if (rank == 2)
		return "info";
	return "none";
}
