/* Uptime Robot webhook variables -> normalized alerts. */
#include "ingest.h"
#include "ingest_util.h"
#include "timefmt.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest alertDateTime in unix seconds we take (year 5138). */
#define UR_MAX_EPOCH_DIGITS 11
/* Longest alertDuration in seconds we use to work out when a down started. */
#define UR_MAX_DURATION_DIGITS 10

static int ur_is_name(const char *s, size_t n)
{
	if (n == 0 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* "*alertDuration*" (classic) or "$alertDuration" (new dashboard): a variable
 * Uptime Robot left unfilled. */
static int ur_placeholder(const char *s)
{
	size_t n = strlen(s);

	if (n >= 3 && s[0] == '*' && s[n - 1] == '*')
		return ur_is_name(s + 1, n - 2);
	if (n >= 2 && s[0] == '$')
		return ur_is_name(s + 1, n - 1);
	return 0;
}

/* The variable's value, or NULL when absent, empty, not a string or an unfilled placeholder. */
static const char *ur_get(const json_t *fields, const char *name)
{
	const char *s = json_string_value(json_object_get(fields, name));

	if (!s || !*s || ur_placeholder(s))
		return NULL;
	return s;
}

static int ur_all_digits(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* alertDateTime: unix seconds, "YYYY-MM-DD HH:MM:SS" (UTC) or, for good
 * measure, RFC 3339. */
static int ur_datetime(const char *s, int64_t *ms)
{
	if (ur_all_digits(s, UR_MAX_EPOCH_DIGITS)) {
		*ms = (int64_t)strtoll(s, NULL, 10) * 1000;
		return 0;
	}
	if (strlen(s) == 19 && s[10] == ' ') {
		char iso[21];

		memcpy(iso, s, 19);
		iso[10] = 'T';
		iso[19] = 'Z';
		iso[20] = '\0';
		return timefmt_parse_rfc3339(iso, ms);
	}
	return timefmt_parse_rfc3339(s, ms);
}

static int ur_set(json_t *obj, const char *name, const char *value)
{
	if (!value)
		return 0;
	return json_object_set_new(obj, name, json_string(value));
}

/* Set name to a printf-built string; -1 on OOM. */
static int ur_setf(json_t *obj, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ur_setf(json_t *obj, const char *name, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = json_object_set_new(obj, name, json_string(s));
	free(s);
	return rc;
}

ingest_status ingest_uptimerobot(const json_t *fields, const ingest_uptimerobot_conf *conf, json_t **out, char *err,
                                 size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	json_t *labels = NULL, *annotations = NULL, *alert = NULL, *result = NULL;
	const char *type, *id, *url, *friendly, *details, *when, *service = NULL, *name, *status, *severity;
	const char *duration, *ssl_date;
	char echo[INGEST_UTIL_ECHO_MAX + 1];
	char *key = NULL;
	int64_t at = 0, starts_at = 0, ends_at = 0;
	int kind, oom;

	*out = NULL;
	ingest_util_err(err, errlen, "%s", "");
	if (!json_is_object(fields)) {
		ingest_util_err(err, errlen, "uptimerobot: fields are not an object");
		goto out;
	}
	type = ur_get(fields, "alertType");
	if (!type) {
		ingest_util_err(err, errlen, "alertType: missing");
		goto out;
	}
	if (strcmp(type, "1") == 0) {
		kind = 1;
	} else if (strcmp(type, "2") == 0) {
		kind = 2;
	} else if (strcmp(type, "3") == 0) {
		kind = 3;
	} else {
		/* Some integrations reuse alertType for other notices (paused, ...):
		 * acknowledge them without opening anything. */
		ingest_util_err(err, errlen,
		                "alertType \"%s\" is not 1 (down), 2 (up) or 3 (certificate expiry); ignored",
		                ingest_util_echo(echo, sizeof(echo), type, strlen(type)));
		rc = INGEST_IGNORED;
		goto out;
	}
	id = ur_get(fields, "monitorID");
	url = ur_get(fields, "monitorURL");
	friendly = ur_get(fields, "monitorFriendlyName");
	details = ur_get(fields, "alertDetails");
	duration = ur_get(fields, "alertDuration");
	ssl_date = ur_get(fields, "sslExpiryDate");
	if (!id && !url) {
		ingest_util_err(err, errlen, "monitorID and monitorURL: both missing, cannot tell the monitor");
		goto out;
	}
	when = ur_get(fields, "alertDateTime");
	if (when && ur_datetime(when, &at) != 0) {
		ingest_util_err(err, errlen, "alertDateTime: \"%s\" is neither unix seconds nor YYYY-MM-DD HH:MM:SS",
		                ingest_util_echo(echo, sizeof(echo), when, strlen(when)));
		goto out;
	}
	if (id && conf && conf->services)
		service = json_string_value(json_object_get(conf->services, id));
	if (!service || !*service)
		service = friendly ? friendly : url;
	name = friendly ? friendly : url ? url : id;
	status = kind == 2 ? "resolved" : "firing";
	if (kind == 3)
		severity = "warning";
	else
		severity = conf && conf->severity && *conf->severity ? conf->severity : "critical";
	if (kind == 2) {
		ends_at = at;
		/* The downtime began alertDuration seconds before the up event. */
		if (at > 0 && duration && ur_all_digits(duration, UR_MAX_DURATION_DIGITS))
			starts_at = at - (int64_t)strtoll(duration, NULL, 10) * 1000;
	} else {
		starts_at = at;
	}
	if (asprintf(&key, kind == 3 ? "uptimerobot/%s/ssl" : "uptimerobot/%s", id ? id : url) < 0) {
		key = NULL;
		goto oom;
	}

	labels = json_object();
	annotations = json_object();
	if (!labels || !annotations)
		goto oom;
	oom = ur_set(labels, "service", service) || ur_set(labels, "monitor", name) ||
	      ur_set(labels, "severity", severity) ||
	      ur_set(labels, "alertname", kind == 3 ? "CertificateExpiry" : "MonitorDown");
	if (kind == 1)
		oom = oom || (details ? ur_setf(annotations, "summary", "%s is down: %s", name, details)
		                      : ur_setf(annotations, "summary", "%s is down", name));
	else if (kind == 2)
		oom = oom || (details ? ur_setf(annotations, "summary", "%s is up: %s", name, details)
		                      : ur_setf(annotations, "summary", "%s is up", name));
	else if (details)
		oom = oom || ur_setf(annotations, "summary", "%s: %s", name, details);
	else if (ssl_date)
		oom = oom || ur_setf(annotations, "summary", "%s: certificate expires on %s", name, ssl_date);
	else
		oom = oom || ur_setf(annotations, "summary", "%s: certificate expires soon", name);
	/* monitorAlertContacts is left out on purpose: it lists people's
	 * addresses, and every channel would repeat them. */
	oom = oom || ur_set(annotations, "details", details) || ur_set(annotations, "url", url) ||
	      ur_set(annotations, "monitor_id", id) || ur_set(annotations, "duration", duration) ||
	      ur_set(annotations, "friendly_duration", ur_get(fields, "alertFriendlyDuration")) ||
	      ur_set(annotations, "ssl_expiry_date", ssl_date) ||
	      ur_set(annotations, "ssl_expiry_days_left", ur_get(fields, "sslExpiryDaysLeft"));
	if (oom)
		goto oom;
	/* The fields path has no limits of its own (a form or a query string is
	 * bounded only by the request size), so hold the result to the defaults. */
	if (alert_check_kv(labels, &alert_limits_default, "uptimerobot", "labels", err, errlen) ||
	    alert_check_kv(annotations, &alert_limits_default, "uptimerobot", "annotations", err, errlen))
		goto out;
	alert = alert_new("uptimerobot", key, status, labels, annotations, starts_at, ends_at, url);
	labels = annotations = NULL;
	if (!alert)
		goto oom;
	result = json_array();
	if (!result || json_array_append_new(result, alert)) {
		alert = NULL;
		goto oom;
	}
	alert = NULL;
	*out = result;
	result = NULL;
	rc = INGEST_OK;
	goto out;
oom:
	ingest_util_err(err, errlen, "out of memory");
out:
	free(key);
	json_decref(labels);
	json_decref(annotations);
	json_decref(alert);
	json_decref(result);
	return rc;
}

ingest_status ingest_uptimerobot_json(const char *body, size_t len, const alert_limits *lim, json_t **fields, char *err,
                                      size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	json_t *doc = NULL, *obj = NULL, *v;
	char echo[INGEST_UTIL_ECHO_MAX + 1];
	const char *name;

	*fields = NULL;
	ingest_util_err(err, errlen, "%s", "");
	if (!lim)
		lim = &alert_limits_default;
	if (ingest_util_parse(body, len, lim->max_depth, &doc, err, errlen))
		goto out;
	if (!json_is_object(doc)) {
		ingest_util_err(err, errlen, "body: not a JSON object");
		goto out;
	}
	if (json_object_size(doc) > lim->max_labels) {
		ingest_util_err(err, errlen, "body: %zu fields, limit is %zu", json_object_size(doc), lim->max_labels);
		goto out;
	}
	obj = json_object();
	if (!obj)
		goto oom;
	json_object_foreach(doc, name, v)
	{
		char num[64];
		const char *s;

		/* The user writes the template; nested parts and nulls are not
		 * Uptime Robot variables, so they are left out. */
		if (json_is_string(v))
			s = json_string_value(v);
		else if (json_is_integer(v))
			s = (snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)), num);
		else if (json_is_real(v))
			s = (snprintf(num, sizeof(num), "%.17g", json_real_value(v)), num);
		else if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		else
			continue;
		if (strlen(s) > lim->max_value_len) {
			ingest_util_err(err, errlen, "%s: %zu bytes, limit is %zu",
			                ingest_util_echo(echo, sizeof(echo), name, strlen(name)), strlen(s),
			                lim->max_value_len);
			goto out;
		}
		if (json_object_set_new(obj, name, json_string(s)))
			goto oom;
	}
	*fields = obj;
	obj = NULL;
	rc = INGEST_OK;
	goto out;
oom:
	ingest_util_err(err, errlen, "out of memory");
out:
	json_decref(obj);
	json_decref(doc);
	return rc;
}
