/* The normalized alert and the checks every source shares. */
#include "alert.h"

#include "hmap.h"

#include <stdio.h>
#include <stdlib.h>
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
	return alert_new_values(json_string(source), json_string(key), json_string(status),
	                        labels ? labels : json_object(), annotations ? annotations : json_object(),
	                        json_integer(starts_at), json_integer(ends_at), json_string(link ? link : ""));
}

json_t *alert_new_values(json_t *source, json_t *key, json_t *status, json_t *labels, json_t *annotations,
                         json_t *starts_at, json_t *ends_at, json_t *link)
{
	static const char *const names[] = {"source",      "key",       "status",  "labels",
	                                    "annotations", "starts_at", "ends_at", "link"};
	json_t *v[] = {source, key, status, labels, annotations, starts_at, ends_at, link};
	size_t n = sizeof(v) / sizeof(v[0]), set = 0;
	json_t *a = NULL;

	for (size_t i = 0; i < n; i++)
		if (!v[i])
			goto fail;
	a = json_object();
	if (!a)
		goto fail;
	/* The keys are literals: jansson need not check their UTF-8.
	 * json_object_set_new_nocheck() consumes its value even when it fails. */
	for (; set < n; set++)
		if (json_object_set_new_nocheck(a, names[set], v[set])) {
			set++;
			goto fail;
		}
	return a;
fail:
	for (size_t i = set; i < n; i++)
		json_decref(v[i]);
	json_decref(a);
	return NULL;
}

/* Copy at most 64 bytes of s (slen bytes) into dst for an error message, cut
 * on a UTF-8 boundary, with control bytes shown as '?' so a message stays one
 * line. */
static const char *alert_echo(char *dst, size_t size, const char *s, size_t slen)
{
	size_t n = 0, max = size - 1 < 64 ? size - 1 : 64;

	for (; n < slen && n < max; n++)
		dst[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	if (n < slen)
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	dst[n] = '\0';
	return dst;
}

int alert_check_kv_type(int is_object, const char *where, const char *what, char *err, size_t errlen)
{
	if (is_object)
		return 0;
	snprintf(err, errlen, "%s%s%s: not an object", where ? where : "", where && *where ? "." : "", what);
	return -1;
}

int alert_check_kv_count(size_t n, const alert_limits *lim, const char *where, const char *what, char *err,
                         size_t errlen)
{
	if (!lim)
		lim = &alert_limits_default;
	if (n <= lim->max_labels)
		return 0;
	snprintf(err, errlen, "%s%s%s: %zu %s, limit is %zu", where ? where : "", where && *where ? "." : "", what, n,
	         what, lim->max_labels);
	return -1;
}

int alert_check_kv_member(const char *name, size_t nlen, int is_string, size_t vlen, const alert_limits *lim,
                          const char *where, const char *what, char *err, size_t errlen)
{
	const char *sep = where && *where ? "." : "";
	char echo[80];

	if (!where)
		where = "";
	if (!lim)
		lim = &alert_limits_default;
	if (nlen == 0) {
		snprintf(err, errlen, "%s%s%s: empty name", where, sep, what);
		return -1;
	}
	if (nlen > lim->max_name_len) {
		snprintf(err, errlen, "%s%s%s: name \"%s...\" is %zu bytes, limit is %zu", where, sep, what,
		         alert_echo(echo, sizeof(echo), name, nlen), nlen, lim->max_name_len);
		return -1;
	}
	if (!is_string) {
		snprintf(err, errlen, "%s%s%s: value of \"%s\" is not a string", where, sep, what,
		         alert_echo(echo, sizeof(echo), name, nlen));
		return -1;
	}
	if (vlen > lim->max_value_len) {
		snprintf(err, errlen, "%s%s%s: value of \"%s\" is %zu bytes, limit is %zu", where, sep, what,
		         alert_echo(echo, sizeof(echo), name, nlen), vlen, lim->max_value_len);
		return -1;
	}
	return 0;
}

int alert_check_kv(const json_t *obj, const alert_limits *lim, const char *where, const char *what, char *err,
                   size_t errlen)
{
	const char *name;
	json_t *val;

	if (alert_check_kv_type(json_is_object(obj), where, what, err, errlen) ||
	    alert_check_kv_count(json_object_size(obj), lim, where, what, err, errlen))
		return -1;
	/* json_object_foreach wants a non-const object; it only reads it. */
	json_object_foreach((json_t *)obj, name, val)
	{
		if (alert_check_kv_member(name, strlen(name), json_is_string(val), json_string_length(val), lim, where,
		                          what, err, errlen))
			return -1;
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

/* source, 0x1f, key and a NUL into id, which holds ls + lk + 2 bytes. */
static void join_identity(char *id, const char *source, size_t ls, const char *key, size_t lk)
{
	memcpy(id, source, ls);
	id[ls] = '\x1f';
	memcpy(id + ls + 1, key, lk + 1);
}

char *alert_identity(const char *source, const char *key, char *buf, size_t size)
{
	size_t ls = strlen(source), lk = strlen(key);
	char *id = ls + lk + 2 <= size ? buf : malloc(ls + lk + 2);
	if (id)
		join_identity(id, source, ls, key, lk);
	return id;
}

void alert_head_of(const json_t *a, alert_head *h)
{
	const char *source = json_string_value(json_object_get(a, "source"));
	const char *key = json_string_value(json_object_get(a, "key"));
	const char *status = json_string_value(json_object_get(a, "status"));

	memset(h, 0, sizeof(*h));
	h->starts_at = json_integer_value(json_object_get(a, "starts_at"));
	h->firing = status && strcmp(status, "firing") == 0;
	if (!source || !key)
		return;
	size_t ls = strlen(source), lk = strlen(key), len = ls + 1 + lk;
	if (len >= sizeof(h->id))
		return;
	join_identity(h->id, source, ls, key, lk);
	h->id_len = (uint8_t)len;
	h->hash = hmap_hashn(h->id, len);
}

int alert_heads_add(alert_heads *hs, const alert_head *h)
{
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 16;
		alert_head *grown = realloc(hs->v, cap * sizeof(*grown));
		if (!grown)
			return -1;
		hs->v = grown;
		hs->cap = cap;
	}
	hs->v[hs->n++] = *h;
	return 0;
}

void alert_heads_free(alert_heads *hs)
{
	free(hs->v);
	*hs = (alert_heads){0};
}
