/* Alertmanager webhook (version "4") -> normalized alerts. */
#include "ingest.h"
#include "ingest_util.h"
#include "timefmt.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME  0x100000001b3ULL

static uint64_t fnv1a_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV64_PRIME;
	}
	return h;
}

static uint64_t fnv1a_byte(uint64_t h, unsigned char b)
{
	h ^= b;
	return h * FNV64_PRIME;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Prometheus' model.LabelSet.Fingerprint(): FNV-1a 64 over the label names in
 * byte order, each as "name 0xFF value 0xFF". Matching it keeps our key equal
 * to the one Alertmanager prints, whether or not it sent one.
 */
static int am_fingerprint(const json_t *labels, char out[17])
{
	size_t n = json_object_size(labels), i = 0;
	const char **names = NULL;
	uint64_t h = FNV64_OFFSET;
	const char *name;
	json_t *val;

	if (n > 0) {
		names = malloc(n * sizeof(*names));
		if (!names)
			return -1;
		json_object_foreach((json_t *)labels, name, val)
		{
			names[i++] = name;
		}
		qsort(names, n, sizeof(*names), cmp_names);
		for (i = 0; i < n; i++) {
			const json_t *v = json_object_get(labels, names[i]);

			h = fnv1a_add(h, names[i], strlen(names[i]));
			h = fnv1a_byte(h, 0xff);
			h = fnv1a_add(h, json_string_value(v), json_string_length(v));
			h = fnv1a_byte(h, 0xff);
		}
	}
	free(names);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
	return 0;
}

/* A fingerprint as Alertmanager prints it: 16 hex digits (kept lowercase). */
static int am_take_fingerprint(const char *fp, char out[17])
{
	if (!fp || strlen(fp) != 16)
		return -1;
	for (int i = 0; i < 16; i++) {
		if (!isxdigit((unsigned char)fp[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)fp[i]);
	}
	out[16] = '\0';
	return 0;
}

static int am_time(const json_t *a, const char *key, const char *where, int64_t *ms, char *err, size_t errlen)
{
	const char *s;
	char echo[INGEST_UTIL_ECHO_MAX + 1];

	*ms = 0;
	if (ingest_util_opt_string(a, key, where, &s, err, errlen))
		return -1;
	if (!s)
		return 0;
	if (timefmt_parse_rfc3339(s, ms) != 0) {
		ingest_util_err(err, errlen, "%s.%s: \"%s\" is not an RFC 3339 time", where, key,
		                ingest_util_echo(echo, sizeof(echo), s, strlen(s)));
		return -1;
	}
	return 0;
}

/* One element of "alerts" -> a normalized alert (new reference), or NULL with err set. */
static json_t *am_alert(const json_t *a, const alert_limits *lim, const char *where, char *err, size_t errlen)
{
	json_t *labels = json_object_get(a, "labels"), *annotations = json_object_get(a, "annotations");
	json_t *lcopy = NULL, *acopy = NULL, *res;
	const char *status, *fp, *link;
	int64_t starts_at, ends_at;
	char key[17];

	if (!json_is_object(a)) {
		ingest_util_err(err, errlen, "%s: not an object", where);
		return NULL;
	}
	if (ingest_util_opt_string(a, "status", where, &status, err, errlen))
		return NULL;
	if (!status || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0)) {
		ingest_util_err(err, errlen, "%s.status: must be \"firing\" or \"resolved\"", where);
		return NULL;
	}
	if (!labels) {
		ingest_util_err(err, errlen, "%s.labels: missing", where);
		return NULL;
	}
	if (alert_check_kv(labels, lim, where, "labels", err, errlen))
		return NULL;
	if (annotations && !json_is_null(annotations) &&
	    alert_check_kv(annotations, lim, where, "annotations", err, errlen))
		return NULL;
	if (am_time(a, "startsAt", where, &starts_at, err, errlen) ||
	    am_time(a, "endsAt", where, &ends_at, err, errlen))
		return NULL;
	if (ingest_util_opt_string(a, "generatorURL", where, &link, err, errlen))
		return NULL;
	if (link && strlen(link) > lim->max_value_len) {
		ingest_util_err(err, errlen, "%s.generatorURL: %zu bytes, limit is %zu", where, strlen(link),
		                lim->max_value_len);
		return NULL;
	}
	/* A fingerprint of another shape (a relay's own id, say) is ignored rather
	 * than trusted: the computed one is what Alertmanager itself would send. */
	fp = json_string_value(json_object_get(a, "fingerprint"));
	if (am_take_fingerprint(fp, key) != 0 && am_fingerprint(labels, key) != 0)
		goto oom;
	/* Share, not copy: the parsed document is dropped right after and
	 * jansson's reference counts are atomic, so the core may own these. */
	lcopy = json_incref(labels);
	acopy = json_is_object(annotations) ? json_incref(annotations) : json_object();
	if (!lcopy || !acopy)
		goto oom;
	res = alert_new("alertmanager", key, status, lcopy, acopy, starts_at, ends_at, link);
	lcopy = acopy = NULL; /* stolen, even on failure */
	if (!res)
		goto oom;
	return res;
oom:
	json_decref(lcopy);
	json_decref(acopy);
	ingest_util_err(err, errlen, "out of memory");
	return NULL;
}

ingest_status ingest_alertmanager(const char *body, size_t len, const alert_limits *lim, json_t **out, char *err,
                                  size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	json_t *doc = NULL, *alerts, *result = NULL, *v;
	char echo[INGEST_UTIL_ECHO_MAX + 1];
	size_t i;

	*out = NULL;
	ingest_util_err(err, errlen, "%s", "");
	if (!lim)
		lim = &alert_limits_default;
	if (ingest_util_parse(body, len, lim->max_depth, &doc, err, errlen))
		goto out;
	if (!json_is_object(doc)) {
		ingest_util_err(err, errlen, "body: not a JSON object");
		goto out;
	}
	/* Versions other than 4 may change the meaning of fields we read. */
	v = json_object_get(doc, "version");
	if (v && !json_is_string(v)) {
		ingest_util_err(err, errlen, "version: not a string (expected \"4\")");
		goto out;
	}
	if (v && strcmp(json_string_value(v), "4") != 0) {
		ingest_util_err(err, errlen, "version: \"%s\" is not supported (expected \"4\")",
		                ingest_util_echo(echo, sizeof(echo), json_string_value(v), json_string_length(v)));
		goto out;
	}
	alerts = json_object_get(doc, "alerts");
	if (!alerts) {
		ingest_util_err(err, errlen, "alerts: missing");
		goto out;
	}
	if (!json_is_array(alerts)) {
		ingest_util_err(err, errlen, "alerts: not an array");
		goto out;
	}
	if (json_array_size(alerts) > lim->max_alerts) {
		ingest_util_err(err, errlen, "alerts: %zu alerts, limit is %zu", json_array_size(alerts),
		                lim->max_alerts);
		goto out;
	}
	result = json_array();
	if (!result) {
		ingest_util_err(err, errlen, "out of memory");
		goto out;
	}
	json_array_foreach(alerts, i, v)
	{
		char where[32];
		json_t *a;

		snprintf(where, sizeof(where), "alerts[%zu]", i);
		a = am_alert(v, lim, where, err, errlen);
		if (!a)
			goto out;
		if (json_array_append_new(result, a)) {
			ingest_util_err(err, errlen, "out of memory");
			goto out;
		}
	}
	*out = result;
	result = NULL;
	rc = INGEST_OK;
out:
	json_decref(result);
	json_decref(doc);
	return rc;
}
