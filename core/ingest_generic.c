/* Generic alert JSON (docs/generic-alerts.md) -> normalized alerts. */
#include "ingest.h"
#include "ingest_util.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

/* Keys name one alert of a producer; longer than this is a mistake. */
#define GENERIC_MAX_KEY    256
#define GENERIC_MAX_SOURCE 64

static const char *const generic_keys[] = {"key",       "status",  "labels", "annotations",
                                           "starts_at", "ends_at", "link",   "source"};

/* "where.name", or just "name" for a body that is one alert. */
static const char *gen_path(char *buf, size_t size, const char *where, const char *name)
{
	snprintf(buf, size, "%s%s%s", where, *where ? "." : "", name);
	return buf;
}

static int gen_known_key(const char *k)
{
	for (size_t i = 0; i < sizeof(generic_keys) / sizeof(generic_keys[0]); i++)
		if (strcmp(k, generic_keys[i]) == 0)
			return 1;
	return 0;
}

/* Producer names end up in keys and logs: keep them short and plain, and
 * keep the built-in sources' names for their own endpoints, so a generic
 * producer cannot resolve an Alertmanager or Uptime Robot alert. */
static int gen_check_source(const char *s, const char *where, char *err, size_t errlen)
{
	size_t n = strlen(s);
	char path[64], echo[INGEST_UTIL_ECHO_MAX + 1];

	gen_path(path, sizeof(path), where, "source");
	if (n == 0 || n > GENERIC_MAX_SOURCE) {
		ingest_util_err(err, errlen, "%s: must be 1 to %d characters", path, GENERIC_MAX_SOURCE);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.')) {
			ingest_util_err(err, errlen, "%s: \"%s\" may hold only letters, digits, '-', '_' and '.'", path,
			                ingest_util_echo(echo, sizeof(echo), s, n));
			return -1;
		}
	}
	if (strcmp(s, "alertmanager") == 0 || strcmp(s, "uptimerobot") == 0) {
		ingest_util_err(err, errlen, "%s: \"%s\" is reserved for its own endpoint", path, s);
		return -1;
	}
	return 0;
}

static int gen_time(const json_t *a, const char *name, const char *where, int64_t *ms, char *err, size_t errlen)
{
	char path[64], echo[INGEST_UTIL_ECHO_MAX + 1];
	const char *s;

	*ms = 0;
	if (ingest_util_opt_string(a, name, where, &s, err, errlen))
		return -1;
	if (s && timefmt_parse_rfc3339(s, ms) != 0) {
		ingest_util_err(err, errlen, "%s: \"%s\" is not an RFC 3339 time",
		                gen_path(path, sizeof(path), where, name),
		                ingest_util_echo(echo, sizeof(echo), s, strlen(s)));
		return -1;
	}
	return 0;
}

/* Optional object of strings: a deep copy in *copy ({} when absent). */
static int gen_kv(const json_t *a, const char *name, const alert_limits *lim, const char *where, json_t **copy,
                  char *err, size_t errlen)
{
	json_t *v = json_object_get(a, name);

	*copy = NULL;
	if (v && !json_is_null(v) && alert_check_kv(v, lim, where, name, err, errlen))
		return -1;
	*copy = v && !json_is_null(v) ? json_deep_copy(v) : json_object();
	if (!*copy) {
		ingest_util_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static json_t *gen_alert(const json_t *a, const alert_limits *lim, const char *where, char *err, size_t errlen)
{
	const char *key, *status, *link, *source, *k;
	json_t *labels = NULL, *annotations = NULL, *res = NULL, *v;
	char path[64], echo[INGEST_UTIL_ECHO_MAX + 1];
	int64_t starts_at, ends_at;

	if (!json_is_object(a)) {
		ingest_util_err(err, errlen, "%s: not an object", *where ? where : "body");
		return NULL;
	}
	/* Reject unknown keys by name: a misspelt "annotation" would otherwise
	 * vanish without anyone noticing. */
	json_object_foreach((json_t *)a, k, v)
	{
		if (!gen_known_key(k)) {
			ingest_util_err(err, errlen, "%s%sunknown key \"%s\"", where, *where ? ": " : "",
			                ingest_util_echo(echo, sizeof(echo), k, strlen(k)));
			return NULL;
		}
	}
	if (ingest_util_opt_string(a, "key", where, &key, err, errlen))
		return NULL;
	if (!key || !*key) {
		ingest_util_err(err, errlen, "%s: missing", gen_path(path, sizeof(path), where, "key"));
		return NULL;
	}
	if (strlen(key) > GENERIC_MAX_KEY) {
		ingest_util_err(err, errlen, "%s: %zu bytes, limit is %d", gen_path(path, sizeof(path), where, "key"),
		                strlen(key), GENERIC_MAX_KEY);
		return NULL;
	}
	if (ingest_util_opt_string(a, "status", where, &status, err, errlen))
		return NULL;
	if (!status)
		status = "firing";
	if (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0) {
		ingest_util_err(err, errlen, "%s: must be \"firing\" or \"resolved\"",
		                gen_path(path, sizeof(path), where, "status"));
		return NULL;
	}
	if (ingest_util_opt_string(a, "source", where, &source, err, errlen))
		return NULL;
	if (!source)
		source = "generic";
	else if (gen_check_source(source, where, err, errlen))
		return NULL;
	if (ingest_util_opt_string(a, "link", where, &link, err, errlen))
		return NULL;
	if (link && strlen(link) > lim->max_value_len) {
		ingest_util_err(err, errlen, "%s: %zu bytes, limit is %zu", gen_path(path, sizeof(path), where, "link"),
		                strlen(link), lim->max_value_len);
		return NULL;
	}
	if (gen_time(a, "starts_at", where, &starts_at, err, errlen) ||
	    gen_time(a, "ends_at", where, &ends_at, err, errlen))
		return NULL;
	if (gen_kv(a, "labels", lim, where, &labels, err, errlen) ||
	    gen_kv(a, "annotations", lim, where, &annotations, err, errlen))
		goto out;
	res = alert_new(source, key, status, labels, annotations, starts_at, ends_at, link);
	labels = annotations = NULL; /* stolen, even on failure */
	if (!res)
		ingest_util_err(err, errlen, "out of memory");
out:
	json_decref(labels);
	json_decref(annotations);
	return res;
}

ingest_status ingest_generic(const char *body, size_t len, const alert_limits *lim, json_t **out, char *err,
                             size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	json_t *doc = NULL, *alerts, *result = NULL, *v, *a;
	char echo[INGEST_UTIL_ECHO_MAX + 1];
	const char *k;
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
	result = json_array();
	if (!result) {
		ingest_util_err(err, errlen, "out of memory");
		goto out;
	}
	alerts = json_object_get(doc, "alerts");
	if (!alerts) {
		a = gen_alert(doc, lim, "", err, errlen);
		if (!a)
			goto out;
		if (json_array_append_new(result, a)) {
			ingest_util_err(err, errlen, "out of memory");
			goto out;
		}
		goto done;
	}
	json_object_foreach(doc, k, v)
	{
		if (strcmp(k, "alerts") != 0) {
			ingest_util_err(err, errlen, "unknown key \"%s\" beside \"alerts\"",
			                ingest_util_echo(echo, sizeof(echo), k, strlen(k)));
			goto out;
		}
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
	json_array_foreach(alerts, i, v)
	{
		char where[32];

		snprintf(where, sizeof(where), "alerts[%zu]", i);
		a = gen_alert(v, lim, where, err, errlen);
		if (!a)
			goto out;
		if (json_array_append_new(result, a)) {
			ingest_util_err(err, errlen, "out of memory");
			goto out;
		}
	}
done:
	*out = result;
	result = NULL;
	rc = INGEST_OK;
out:
	json_decref(result);
	json_decref(doc);
	return rc;
}
