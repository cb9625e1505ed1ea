/* core/ingest_*.c and core/alert.c: every fixture in tests/fixtures, field by
 * field, and the inputs each parser must refuse. Run from the repo root. */
#include "alert.h"
#include "check.h"
#include "hmap.h"
#include "ingest.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/"

static char *fixture(const char *path, size_t *len)
{
	char *text = check_read_file(path, len);
	if (!text)
		fprintf(stderr, "cannot read %s (run the tests from the repo root)\n", path);
	return text;
}

static const char *str(const json_t *a, const char *k)
{
	return json_string_value(json_object_get(a, k));
}

static const char *label(const json_t *a, const char *k)
{
	return json_string_value(json_object_get(json_object_get(a, "labels"), k));
}

static const char *annot(const json_t *a, const char *k)
{
	return json_string_value(json_object_get(json_object_get(a, "annotations"), k));
}

static int64_t num(const json_t *a, const char *k)
{
	const json_t *v = json_object_get(a, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
}

/* Every normalized alert has all eight fields with their types. */
static int well_formed(const json_t *a)
{
	const char *st = str(a, "status");

	return json_is_object(a) && json_object_size(a) == 8 && str(a, "source") && str(a, "key") && st &&
	       (strcmp(st, "firing") == 0 || strcmp(st, "resolved") == 0) &&
	       json_is_object(json_object_get(a, "labels")) && json_is_object(json_object_get(a, "annotations")) &&
	       json_is_integer(json_object_get(a, "starts_at")) && json_is_integer(json_object_get(a, "ends_at")) &&
	       str(a, "link");
}

static ingest_status am(const char *body, json_t **out, char *err, size_t errlen)
{
	return ingest_alertmanager(body, strlen(body), &alert_limits_default, out, err, errlen);
}

static ingest_status gen(const char *body, json_t **out, char *err, size_t errlen)
{
	return ingest_generic(body, strlen(body), &alert_limits_default, out, err, errlen);
}

/* err must hold want; prints it when it does not. */
static void check_err_has(const char *err, const char *want, int line)
{
	if (strstr(err, want)) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, line, err, want);
	}
}
#define CHECK_ERR_HAS(err, want) check_err_has(err, want, __LINE__)

/* ---- Alertmanager ---------------------------------------------------- */

static void test_am_fixture_group(void)
{
	size_t len;
	char *body = fixture(FIX "alertmanager/firing-group-two-alerts.json", &len);
	json_t *out = NULL, *a;
	char err[256];

	CHECK(body != NULL);
	if (!body)
		return;
	CHECK(ingest_alertmanager(body, len, &alert_limits_default, &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(err, "");
	CHECK(json_array_size(out) == 2);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "source"), "alertmanager");
	CHECK_STR(str(a, "key"), "84f3db9106b9f6a2");
	CHECK_STR(str(a, "status"), "firing");
	CHECK(json_object_size(json_object_get(a, "labels")) == 4);
	CHECK_STR(label(a, "alertname"), "HighErrorRate");
	CHECK_STR(label(a, "instance"), "api-1");
	CHECK_STR(label(a, "service"), "api");
	CHECK_STR(label(a, "severity"), "critical");
	CHECK(json_object_size(json_object_get(a, "annotations")) == 2);
	CHECK_STR(annot(a, "description"), "Error rate 12% on api-1");
	CHECK_STR(annot(a, "summary"), "API 5xx above 5%");
	CHECK(num(a, "starts_at") == 1795262460969LL);
	CHECK(num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "http://prom:9090/graph");
	a = json_array_get(out, 1);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "03a48b6b6f783735");
	CHECK_STR(str(a, "status"), "firing");
	CHECK_STR(label(a, "instance"), "api-2");
	CHECK(json_object_size(json_object_get(a, "annotations")) == 1);
	CHECK(num(a, "starts_at") == 1795262460988LL);
	CHECK(num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "");
	json_decref(out);
	free(body);
}

static void test_am_fixture_single(void)
{
	size_t len;
	char *fire = fixture(FIX "alertmanager/firing-single.json", &len), *res;
	json_t *out = NULL, *a;
	char err[256];

	CHECK(fire != NULL);
	if (fire) {
		CHECK(ingest_alertmanager(fire, len, &alert_limits_default, &out, err, sizeof(err)) == INGEST_OK);
		CHECK(json_array_size(out) == 1);
		a = json_array_get(out, 0);
		CHECK(well_formed(a));
		CHECK_STR(str(a, "key"), "41e0d77341504fa0");
		CHECK_STR(str(a, "status"), "firing");
		CHECK_STR(label(a, "alertname"), "SiteDown");
		CHECK_STR(label(a, "service"), "web");
		CHECK_STR(annot(a, "summary"), "web is down");
		CHECK(num(a, "starts_at") == 1795262507730LL);
		CHECK(num(a, "ends_at") == 0);
		json_decref(out);
		free(fire);
	}
	res = fixture(FIX "alertmanager/resolved-single.json", &len);
	CHECK(res != NULL);
	if (res) {
		CHECK(ingest_alertmanager(res, len, &alert_limits_default, &out, err, sizeof(err)) == INGEST_OK);
		CHECK(json_array_size(out) == 1);
		a = json_array_get(out, 0);
		CHECK(well_formed(a));
		/* Same alert, so same key as while firing. */
		CHECK_STR(str(a, "key"), "41e0d77341504fa0");
		CHECK_STR(str(a, "status"), "resolved");
		CHECK(num(a, "starts_at") == 1795262507000LL);
		CHECK(num(a, "ends_at") == 1795262507000LL);
		json_decref(out);
		free(res);
	}
}

/* Our FNV-1a must give the fingerprint Alertmanager itself printed: drop it
 * from each fixture and compare. */
static void test_am_fingerprint_matches_fixtures(void)
{
	static const char *const files[] = {"firing-group-two-alerts.json", "firing-single.json",
	                                    "resolved-single.json"};

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[256], err[256], *stripped;
		json_t *doc, *orig, *alerts, *a, *out = NULL;
		json_error_t jerr;
		size_t i;

		snprintf(path, sizeof(path), FIX "alertmanager/%s", files[f]);
		doc = json_load_file(path, 0, &jerr);
		orig = json_load_file(path, 0, &jerr);
		CHECK(doc && orig);
		if (!doc || !orig) {
			json_decref(doc);
			json_decref(orig);
			continue;
		}
		json_array_foreach(json_object_get(doc, "alerts"), i, a)
		{
			CHECK(json_object_del(a, "fingerprint") == 0);
		}
		stripped = json_dumps(doc, 0);
		CHECK(stripped && am(stripped, &out, err, sizeof(err)) == INGEST_OK);
		alerts = json_object_get(orig, "alerts");
		CHECK(json_array_size(out) == json_array_size(alerts) && json_array_size(out) > 0);
		json_array_foreach(alerts, i, a)
		{
			CHECK_STR(str(json_array_get(out, i), "key"), str(a, "fingerprint"));
		}
		json_decref(out);
		json_decref(doc);
		json_decref(orig);
		free(stripped);
	}
}

static void test_am_fingerprint_vectors(void)
{
	json_t *out = NULL;
	char err[256];

	/* Alertmanager's own test vector (template/template_test.go). */
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"severity\":\"warning\",\"job\":\"foo\"}}]}", &out,
	         err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(json_array_get(out, 0), "key"), "9266ef3da838ad95");
	json_decref(out);
	/* The empty label set. */
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{}}]}", &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(json_array_get(out, 0), "key"), "cbf29ce484222325");
	json_decref(out);
	/* A fingerprint of the wrong shape is replaced by the computed one. */
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"fingerprint\":\"not-hex-at-all!!\",\"labels\":{\"job\":\"foo\","
	         "\"severity\":\"warning\"}}]}",
	         &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(json_array_get(out, 0), "key"), "9266ef3da838ad95");
	json_decref(out);
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"fingerprint\":12,\"labels\":{\"job\":\"foo\","
	         "\"severity\":\"warning\"}}]}",
	         &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(json_array_get(out, 0), "key"), "9266ef3da838ad95");
	json_decref(out);
	/* A good one is taken as sent, in lowercase. */
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"fingerprint\":\"0123456789ABCDEF\",\"labels\":{}}]}", &out, err,
	         sizeof(err)) == INGEST_OK);
	CHECK_STR(str(json_array_get(out, 0), "key"), "0123456789abcdef");
	json_decref(out);
}

static void test_am_optional(void)
{
	json_t *out = NULL, *a;
	char err[256];

	/* No version, unknown keys, null annotations, no times: all fine. */
	CHECK(am("{\"notification_reason\":\"x\",\"alerts\":[{\"status\":\"resolved\",\"labels\":{\"a\":\"b\"},"
	         "\"annotations\":null,\"extra\":[1,2]}]}",
	         &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK(json_object_size(json_object_get(a, "annotations")) == 0);
	CHECK(num(a, "starts_at") == 0 && num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "");
	json_decref(out);
	/* An empty group is OK and empty. */
	CHECK(am("{\"version\":\"4\",\"alerts\":[]}", &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_is_array(out) && json_array_size(out) == 0);
	json_decref(out);
}

static void test_am_bad(void)
{
	json_t *out = (json_t *)1;
	char err[256], big[8192], *p;
	alert_limits lim = alert_limits_default;

	/* Malformed JSON names jansson's line, column and reason. */
	CHECK(am("{\n\"alerts\": [\n  {\"status\": \"firing\",}\n]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(out == NULL);
	CHECK_ERR_HAS(err, "invalid JSON at line 3, column");
	CHECK_ERR_HAS(err, "string or '}' expected");
	CHECK(am("", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "invalid JSON at line");
	CHECK(ingest_alertmanager(NULL, 0, NULL, &out, err, sizeof(err)) == INGEST_BAD);
	/* Trailing garbage after the object. */
	CHECK(am("{\"alerts\":[]} x", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "invalid JSON");
	/* Duplicate keys would make the label set ambiguous. */
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"1\",\"a\":\"2\"}}]}", &out, err,
	         sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "duplicate");

	/* Nesting 100 deep is refused before jansson recurses into it. */
	p = big;
	for (int i = 0; i < 100; i++)
		*p++ = '[';
	for (int i = 0; i < 100; i++)
		*p++ = ']';
	*p = '\0';
	CHECK(am(big, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "nested deeper than 16");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"x\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}]}", &out,
	         err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "nested deeper");

	/* 70 labels on the fourth alert. */
	p = big;
	p += sprintf(p, "{\"alerts\":[");
	for (int i = 0; i < 3; i++)
		p += sprintf(p, "{\"status\":\"firing\",\"labels\":{\"n\":\"%d\"}},", i);
	p += sprintf(p, "{\"status\":\"firing\",\"labels\":{");
	for (int i = 0; i < 70; i++)
		p += sprintf(p, "%s\"l%d\":\"v\"", i ? "," : "", i);
	sprintf(p, "}}]}");
	CHECK(am(big, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[3].labels: 70 labels, limit is 64");

	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"instance\":1}}]}", &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_STR(err, "alerts[0].labels: value of \"instance\" is not a string");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"annotations\":{\"s\":null}}]}", &out, err,
	         sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].annotations: value of \"s\" is not a string");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":[]}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].labels: not an object");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\"}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].labels: missing");

	CHECK(am("{\"version\":\"5\",\"alerts\":[]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "version");
	CHECK_ERR_HAS(err, "\"5\"");
	CHECK(am("{\"version\":4,\"alerts\":[]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "version");

	CHECK(am("{\"status\":\"firing\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: missing");
	CHECK(am("{\"alerts\":{}}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: not an array");
	CHECK(am("[]", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(am("{\"alerts\":[1]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0]: not an object");
	CHECK(am("{\"alerts\":[{\"status\":\"pending\",\"labels\":{}}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "alerts[0].status");
	CHECK(am("{\"alerts\":[{\"labels\":{}}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "alerts[0].status");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"yesterday\"}]}", &out, err,
	         sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].startsAt: \"yesterday\" is not an RFC 3339 time");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"endsAt\":0}]}", &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_STR(err, "alerts[0].endsAt: not a string");
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"generatorURL\":[]}]}", &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_STR(err, "alerts[0].generatorURL: not a string");

	/* Limits from the configuration. */
	lim.max_alerts = 2;
	lim.max_name_len = 8;
	lim.max_value_len = 4;
	const char *three = "{\"alerts\":[{\"status\":\"firing\",\"labels\":{}},{\"status\":\"firing\",\"labels\":{}},"
	                    "{\"status\":\"firing\",\"labels\":{}}]}";
	CHECK(ingest_alertmanager(three, strlen(three), &lim, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: 3 alerts, limit is 2");
	const char *longname = "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"abcdefghi\":\"x\"}}]}";
	CHECK(ingest_alertmanager(longname, strlen(longname), &lim, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].labels: name \"abcdefghi...\" is 9 bytes, limit is 8");
	const char *longval = "{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"annotations\":{\"s\":\"12345\"}}]}";
	CHECK(ingest_alertmanager(longval, strlen(longval), &lim, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].annotations: value of \"s\" is 5 bytes, limit is 4");
	CHECK(out == NULL);
}

/*
 * The body is read in one pass, but the answers are those of parsing it
 * whole and checking it after: a JSON error anywhere wins, "version" before
 * "alerts" wherever they stand, the count before any alert, and within an
 * alert status, labels, annotations, startsAt, endsAt, generatorURL in that
 * order whatever order they come in.
 */
static void test_am_one_pass_order(void)
{
	/* body, and the whole error (or, starting with '~', a part of it) */
	static const char *const cases[][2] = {
	    {"{\"alerts\":[1],\"groupLabels\":{\"a\":}}", "~invalid JSON at line 1"},
	    {"{\"alerts\":[{\"status\":\"firing\",\"labels\":{}}],\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",
	     "JSON nested deeper than 16 levels"},
	    {"{\"alerts\":[1],\"version\":\"5\"}", "version: \"5\" is not supported (expected \"4\")"},
	    {"{\"alerts\":[1],\"version\":null}", "version: not a string (expected \"4\")"},
	    {"[{\"alerts\":[]}]", "body: not a JSON object"},
	    {"\"alerts\"", "~'[' or '{' expected"},
	    {"{\"alerts\":null}", "alerts: not an array"},
	    /* The first bad alert, not the last. */
	    {"{\"alerts\":[{\"status\":\"firing\",\"labels\":{}},{\"status\":\"x\"},[]]}",
	     "alerts[1].status: must be \"firing\" or \"resolved\""},
	    /* Fields in any order, refused in the order of the checks. */
	    {"{\"alerts\":[{\"generatorURL\":1,\"endsAt\":\"x\",\"startsAt\":2,\"annotations\":[],\"labels\":{\"a\":1},"
	     "\"status\":3}]}",
	     "alerts[0].status: not a string"},
	    {"{\"alerts\":[{\"generatorURL\":1,\"endsAt\":\"x\",\"startsAt\":2,\"annotations\":[],\"labels\":{\"a\":1},"
	     "\"status\":\"firing\"}]}",
	     "alerts[0].labels: value of \"a\" is not a string"},
	    {"{\"alerts\":[{\"generatorURL\":1,\"endsAt\":\"x\",\"startsAt\":2,\"annotations\":[],\"labels\":{},"
	     "\"status\":\"firing\"}]}",
	     "alerts[0].annotations: not an object"},
	    {"{\"alerts\":[{\"generatorURL\":1,\"endsAt\":\"x\",\"startsAt\":2,\"labels\":{},\"status\":\"firing\"}]}",
	     "alerts[0].startsAt: not a string"},
	    {"{\"alerts\":[{\"generatorURL\":1,\"endsAt\":\"x\",\"labels\":{},\"status\":\"firing\"}]}",
	     "alerts[0].endsAt: \"x\" is not an RFC 3339 time"},
	    {"{\"alerts\":[{\"generatorURL\":1,\"labels\":{},\"status\":\"firing\"}]}",
	     "alerts[0].generatorURL: not a string"},
	    {"{\"alerts\":[{\"labels\":null,\"status\":\"firing\"}]}", "alerts[0].labels: not an object"},
	};
	json_t *out = (json_t *)1, *a;
	char err[256], big[4096], *p;
	alert_limits lim = alert_limits_default;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(am(cases[i][0], &out, err, sizeof(err)) == INGEST_BAD);
		CHECK(out == NULL);
		if (cases[i][1][0] == '~')
			CHECK_ERR_HAS(err, cases[i][1] + 1);
		else
			CHECK_STR(err, cases[i][1]);
	}
	/* The count before any alert. */
	lim.max_alerts = 2;
	const char *three = "{\"alerts\":[1,{\"status\":\"firing\",\"labels\":{}},2]}";
	CHECK(ingest_alertmanager(three, strlen(three), &lim, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: 3 alerts, limit is 2");
	/* The label count before a bad label, even one that comes first. */
	p = big;
	p += sprintf(p, "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"bad\":1");
	for (int i = 0; i < 70; i++)
		p += sprintf(p, ",\"l%d\":\"v\"", i);
	sprintf(p, "}}]}");
	CHECK(am(big, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].labels: 71 labels, limit is 64");
	/* A repeated label past the 16th is still refused. */
	p = big;
	p += sprintf(p, "{\"alerts\":[{\"status\":\"firing\",\"labels\":{");
	for (int i = 0; i < 30; i++)
		p += sprintf(p, "\"l%d\":\"v\",", i);
	sprintf(p, "\"l3\":\"w\"}}]}");
	CHECK(am(big, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "duplicate");
	CHECK(out == NULL);

	/* Escapes are decoded before anything is checked or hashed. */
	CHECK(am("{\"alerts\":[{\"status\":\"fir\\u0069ng\",\"labels\":{\"sev\\u0065rity\":\"warn\\u0069ng\",\"job\":"
	         "\"foo\"},\"annotations\":{\"s\":\"a\\nb\\u00e9\"},\"startsAt\":\"2024-05-14T09:12:31.804\\u005a\","
	         "\"generatorURL\":\"http:\\/\\/x\"}]}",
	         &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "9266ef3da838ad95");
	CHECK_STR(str(a, "status"), "firing");
	CHECK_STR(label(a, "severity"), "warning");
	CHECK_STR(annot(a, "s"), "a\nb\xc3\xa9");
	CHECK(num(a, "starts_at") == 1715677951804LL);
	CHECK_STR(str(a, "link"), "http://x");
	json_decref(out);
	/* jansson took a NUL byte right after a number (it loses it); so do we. */
	static const char nul_after_number[] = "{\"alerts\":[],\"truncatedAlerts\":0\0}";

	CHECK(ingest_alertmanager(nul_after_number, sizeof(nul_after_number) - 1, NULL, &out, err, sizeof(err)) ==
	      INGEST_OK);
	CHECK(json_array_size(out) == 0);
	json_decref(out);
}

/* An error never quotes more than 64 bytes of input, and stays one line. */
static void test_am_error_echo_bounded(void)
{
	char body[1024], err[512];
	json_t *out;

	memset(body, 'x', 600);
	body[600] = '\0';
	CHECK(am(body, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(strstr(err, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") == NULL); /* 65 */
	CHECK_ERR_HAS(err, "invalid JSON");
	snprintf(body, sizeof(body), "{\"version\":\"%0300d\",\"alerts\":[]}", 5);
	CHECK(am(body, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(strlen(err) < 64 + 60);
	CHECK(am("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\\nb\\\"c\":1}}]}", &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK(strchr(err, '\n') == NULL);
	/* A tiny buffer is still terminated. */
	CHECK(am("{", &out, err, 8) == INGEST_BAD);
	CHECK(strlen(err) == 7);
}

/* ---- Uptime Robot -------------------------------------------------- */

/* Parse a JSON fixture into fields, then into alerts. */
static ingest_status ur_file(const char *path, const ingest_uptimerobot_conf *conf, json_t **out, char *err,
                             size_t errlen)
{
	size_t len;
	char *body = fixture(path, &len);
	json_t *fields = NULL;
	ingest_status rc = INGEST_BAD;

	*out = NULL;
	if (!body)
		return INGEST_BAD;
	if (ingest_uptimerobot_json(body, len, &alert_limits_default, &fields, err, errlen) == INGEST_OK)
		rc = ingest_uptimerobot(fields, conf, out, err, errlen);
	json_decref(fields);
	free(body);
	return rc;
}

static ingest_status ur_json(const char *body, const ingest_uptimerobot_conf *conf, json_t **out, char *err,
                             size_t errlen)
{
	json_t *fields = NULL;
	ingest_status rc;

	*out = NULL;
	rc = ingest_uptimerobot_json(body, strlen(body), &alert_limits_default, &fields, err, errlen);
	if (rc == INGEST_OK)
		rc = ingest_uptimerobot(fields, conf, out, err, errlen);
	json_decref(fields);
	return rc;
}

static void check_down_alert(const json_t *a)
{
	CHECK(well_formed(a));
	CHECK_STR(str(a, "source"), "uptimerobot");
	CHECK_STR(str(a, "key"), "uptimerobot/784350743");
	CHECK_STR(str(a, "status"), "firing");
	CHECK(json_object_size(json_object_get(a, "labels")) == 4);
	CHECK_STR(label(a, "service"), "Example API");
	CHECK_STR(label(a, "monitor"), "Example API");
	CHECK_STR(label(a, "severity"), "critical");
	CHECK_STR(label(a, "alertname"), "MonitorDown");
	CHECK_STR(annot(a, "summary"), "Example API is down: HTTP 502 - Bad Gateway");
	CHECK_STR(annot(a, "details"), "HTTP 502 - Bad Gateway");
	CHECK_STR(annot(a, "url"), "https://www.example.com/health");
	CHECK_STR(annot(a, "monitor_id"), "784350743");
	/* Placeholders left literal by Uptime Robot are absent, not copied. */
	CHECK(annot(a, "duration") == NULL);
	CHECK(annot(a, "friendly_duration") == NULL);
	CHECK(annot(a, "ssl_expiry_date") == NULL);
	CHECK(annot(a, "ssl_expiry_days_left") == NULL);
	CHECK(num(a, "starts_at") == 1715678100000LL);
	CHECK(num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "https://www.example.com/health");
}

static void test_ur_down_json(void)
{
	json_t *out = NULL, *services;
	char err[256], *dump;
	ingest_uptimerobot_conf conf = {0};

	CHECK(ur_file(FIX "uptimerobot/down.json", NULL, &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 1);
	check_down_alert(json_array_get(out, 0));
	/* The contacts list holds people's addresses; it is not passed on. */
	dump = json_dumps(out, 0);
	CHECK(dump && strstr(dump, "ops@example.com") == NULL);
	free(dump);
	json_decref(out);

	/* The configured service map and severity. */
	services = json_pack("{s:s}", "784350743", "api");
	conf.services = services;
	conf.severity = "major";
	CHECK(ur_file(FIX "uptimerobot/down.json", &conf, &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(label(json_array_get(out, 0), "service"), "api");
	CHECK_STR(label(json_array_get(out, 0), "monitor"), "Example API");
	CHECK_STR(label(json_array_get(out, 0), "severity"), "major");
	json_decref(out);
	/* A monitor the map does not list keeps its friendly name. */
	json_object_clear(services);
	CHECK(json_object_set_new(services, "1", json_string("other")) == 0);
	CHECK(ur_file(FIX "uptimerobot/down.json", &conf, &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(label(json_array_get(out, 0), "service"), "Example API");
	json_decref(out);
	json_decref(services);
}

static void test_ur_up_json(void)
{
	json_t *out = NULL, *a;
	char err[256];
	ingest_uptimerobot_conf conf = {NULL, "major"};

	CHECK(ur_file(FIX "uptimerobot/up.json", &conf, &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 1);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "uptimerobot/784350743");
	CHECK_STR(str(a, "status"), "resolved");
	CHECK_STR(label(a, "service"), "Example API");
	/* The same labels as the down alert it ends. */
	CHECK_STR(label(a, "severity"), "major");
	CHECK_STR(label(a, "alertname"), "MonitorDown");
	CHECK_STR(annot(a, "summary"), "Example API is up: HTTP 200 - OK");
	CHECK_STR(annot(a, "duration"), "60");
	CHECK_STR(annot(a, "friendly_duration"), "1 minutes and 0 seconds");
	/* Empty values are absent. */
	CHECK(annot(a, "ssl_expiry_date") == NULL);
	CHECK(num(a, "ends_at") == 1715678160000LL);
	/* The downtime began alertDuration before the up event: the down's time. */
	CHECK(num(a, "starts_at") == 1715678100000LL);
	json_decref(out);
}

static void test_ur_ssl_json(void)
{
	json_t *out = NULL, *a;
	char err[256];
	ingest_uptimerobot_conf conf = {NULL, "critical"};

	CHECK(ur_file(FIX "uptimerobot/ssl-expiry.json", &conf, &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 1);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "uptimerobot/784350744/ssl");
	CHECK_STR(str(a, "status"), "firing");
	CHECK_STR(label(a, "service"), "Shop");
	CHECK_STR(label(a, "monitor"), "Shop");
	CHECK_STR(label(a, "severity"), "warning");
	CHECK_STR(label(a, "alertname"), "CertificateExpiry");
	CHECK_STR(annot(a, "summary"), "Shop: SSL certificate expires in 7 days");
	CHECK_STR(annot(a, "ssl_expiry_date"), "2024-05-21");
	CHECK_STR(annot(a, "ssl_expiry_days_left"), "7");
	/* "2024-05-14 09:15:00" read as UTC. */
	CHECK(num(a, "starts_at") == 1715678100000LL);
	CHECK(num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "https://shop.example.com");
	json_decref(out);
}

static void test_ur_down_form(void)
{
	size_t len;
	char *body = fixture(FIX "uptimerobot/down.form", &len), err[256];
	json_t *fields = NULL, *out = NULL;

	CHECK(body != NULL);
	if (!body)
		return;
	/* The file may end with a newline a real body would not have. */
	while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
		len--;
	CHECK(ingest_form_decode(body, len, &fields, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(fields, "monitorURL"), "https://www.example.com/health");
	CHECK_STR(str(fields, "monitorFriendlyName"), "Example API");
	CHECK_STR(str(fields, "monitorAlertContacts"), "457;2;ops@example.com");
	CHECK_STR(str(fields, "alertDetails"), "HTTP 502 - Bad Gateway");
	CHECK(ingest_uptimerobot(fields, NULL, &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 1);
	/* The same alert as the JSON body gives. */
	check_down_alert(json_array_get(out, 0));
	json_decref(out);
	json_decref(fields);
	free(body);
}

static void test_ur_down_query(void)
{
	size_t len;
	char *path = fixture(FIX "uptimerobot/down.query", &len), err[256], *q, *dump;
	json_t *fields = NULL, *out = NULL, *a;

	CHECK(path != NULL);
	if (!path)
		return;
	while (len > 0 && (path[len - 1] == '\n' || path[len - 1] == '\r'))
		path[--len] = '\0';
	q = strchr(path, '?');
	CHECK(q != NULL);
	if (!q)
		goto out;
	q++;
	CHECK(ingest_form_decode(q, strlen(q), &fields, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(fields, "token"), "SECRET");
	CHECK(ingest_uptimerobot(fields, NULL, &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "uptimerobot/11");
	CHECK_STR(str(a, "status"), "firing");
	CHECK_STR(label(a, "service"), "Example");
	CHECK_STR(annot(a, "summary"), "Example is down: Connection Timeout");
	CHECK_STR(annot(a, "url"), "example.com");
	CHECK(num(a, "starts_at") == 1715678100000LL);
	/* The token in the query never reaches the alert. */
	dump = json_dumps(out, 0);
	CHECK(dump && strstr(dump, "SECRET") == NULL);
	free(dump);
out:
	json_decref(out);
	json_decref(fields);
	free(path);
}

static void test_ur_variants(void)
{
	json_t *out = NULL, *a;
	char err[256];

	/* Unknown alertType: acknowledged, nothing to act on. */
	CHECK(ur_json("{\"monitorID\":\"1\",\"alertType\":\"4\"}", NULL, &out, err, sizeof(err)) == INGEST_IGNORED);
	CHECK(out == NULL);
	CHECK_ERR_HAS(err, "alertType \"4\"");
	CHECK(ur_json("{\"monitorID\":\"1\",\"alertType\":\"0\"}", NULL, &out, err, sizeof(err)) == INGEST_IGNORED);
	CHECK(ur_json("{\"monitorID\":\"1\",\"alertType\":\"down\"}", NULL, &out, err, sizeof(err)) == INGEST_IGNORED);
	/* No alertType at all (or only its placeholder) is a broken template. */
	CHECK(ur_json("{\"monitorID\":\"1\"}", NULL, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alertType: missing");
	CHECK(ur_json("{\"monitorID\":\"1\",\"alertType\":\"*alertType*\"}", NULL, &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_STR(err, "alertType: missing");
	CHECK(ur_json("{\"monitorID\":\"1\",\"alertType\":\"$alertType\"}", NULL, &out, err, sizeof(err)) ==
	      INGEST_BAD);

	/* Neither monitorID nor monitorURL. */
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorFriendlyName\":\"x\"}", NULL, &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_ERR_HAS(err, "monitorID");
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"*monitorID*\",\"monitorURL\":\"$monitorURL\"}", NULL, &out,
	              err, sizeof(err)) == INGEST_BAD);
	CHECK(out == NULL);

	/* monitorURL stands in for a missing ID, and for the friendly name. */
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorURL\":\"https://x.example\",\"monitorFriendlyName\":"
	              "\"$monitorFriendlyName\"}",
	              NULL, &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "key"), "uptimerobot/https://x.example");
	CHECK_STR(label(a, "service"), "https://x.example");
	CHECK_STR(label(a, "monitor"), "https://x.example");
	CHECK_STR(annot(a, "summary"), "https://x.example is down");
	CHECK(annot(a, "monitor_id") == NULL);
	CHECK(num(a, "starts_at") == 0);
	json_decref(out);

	/* Only an ID: it names the monitor; no link. */
	CHECK(ur_json("{\"alertType\":\"2\",\"monitorID\":\"77\",\"monitorFriendlyName\":\"*monitorFriendlyName*\","
	              "\"alertDateTime\":\"$alertDateTime\",\"alertDuration\":\"30\"}",
	              NULL, &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK_STR(str(a, "key"), "uptimerobot/77");
	CHECK_STR(str(a, "status"), "resolved");
	CHECK_STR(label(a, "monitor"), "77");
	CHECK_STR(annot(a, "summary"), "77 is up");
	CHECK_STR(str(a, "link"), "");
	/* No time, so no start worked out from the duration. */
	CHECK(num(a, "starts_at") == 0 && num(a, "ends_at") == 0);
	json_decref(out);

	/* A value that merely contains stars or a dollar is real. */
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"monitorFriendlyName\":\"*big* $5 shop\"}", NULL, &out,
	              err, sizeof(err)) == INGEST_OK);
	CHECK_STR(label(json_array_get(out, 0), "monitor"), "*big* $5 shop");
	json_decref(out);

	/* Non-string scalars from a hand-written template become strings. */
	CHECK(ur_json("{\"alertType\":1,\"monitorID\":784350743,\"alertDateTime\":1715678100,\"flag\":true,"
	              "\"nested\":{\"a\":1},\"n\":null}",
	              NULL, &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK_STR(str(a, "key"), "uptimerobot/784350743");
	CHECK(num(a, "starts_at") == 1715678100000LL);
	json_decref(out);

	/* Both date forms, and garbage refused. */
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"2024-05-14 09:15:00\"}", NULL, &out,
	              err, sizeof(err)) == INGEST_OK);
	CHECK(num(json_array_get(out, 0), "starts_at") == 1715678100000LL);
	json_decref(out);
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"1715678100\"}", NULL, &out, err,
	              sizeof(err)) == INGEST_OK);
	CHECK(num(json_array_get(out, 0), "starts_at") == 1715678100000LL);
	json_decref(out);
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"2024-02-30 09:15:00\"}", NULL, &out,
	              err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "alertDateTime");
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"soon\"}", NULL, &out, err,
	              sizeof(err)) == INGEST_BAD);
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"-5\"}", NULL, &out, err,
	              sizeof(err)) == INGEST_BAD);
	CHECK(ur_json("{\"alertType\":\"1\",\"monitorID\":\"5\",\"alertDateTime\":\"171567810000000\"}", NULL, &out,
	              err, sizeof(err)) == INGEST_BAD);

	/* SSL notice with only an expiry date. */
	CHECK(ur_json("{\"alertType\":\"3\",\"monitorID\":\"9\",\"monitorFriendlyName\":\"Shop\",\"sslExpiryDate\":"
	              "\"2024-05-21\"}",
	              NULL, &out, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(annot(json_array_get(out, 0), "summary"), "Shop: certificate expires on 2024-05-21");
	json_decref(out);

	/* The JSON path's own refusals. */
	CHECK(ur_json("[\"alertType\"]", NULL, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "body: not a JSON object");
	/* A '"' substituted raw into the template breaks the JSON. */
	CHECK(ur_json("{\"monitorFriendlyName\": \"Bob\"s shop\", \"alertType\": \"1\"}", NULL, &out, err,
	              sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "invalid JSON at line 1, column");
	CHECK(ingest_uptimerobot(NULL, NULL, &out, err, sizeof(err)) == INGEST_BAD);
}

static void test_form_decode(void)
{
	json_t *f = NULL;
	char err[256];
	const char *t;

	t = "a=1+2&b=%41%2b%2F&c&d=&=skipped&&a=second&e=%e2%82%ac";
	CHECK(ingest_form_decode(t, strlen(t), &f, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(err, "");
	CHECK_STR(str(f, "a"), "1 2"); /* the first of repeated names */
	CHECK_STR(str(f, "b"), "A+/");
	CHECK_STR(str(f, "c"), "");
	CHECK_STR(str(f, "d"), "");
	CHECK_STR(str(f, "e"), "\xe2\x82\xac");
	CHECK(json_object_size(f) == 5);
	json_decref(f);

	/* Only the given length is read. */
	t = "x=12&y=3";
	CHECK(ingest_form_decode(t, 3, &f, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(f, "x"), "1");
	CHECK(json_object_size(f) == 1);
	json_decref(f);

	/* A query string handed over with its '?'. */
	t = "?k=v";
	CHECK(ingest_form_decode(t, strlen(t), &f, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(f, "k"), "v");
	json_decref(f);

	CHECK(ingest_form_decode("", 0, &f, err, sizeof(err)) == INGEST_OK);
	CHECK(json_is_object(f) && json_object_size(f) == 0);
	json_decref(f);
	CHECK(ingest_form_decode(NULL, 0, &f, err, sizeof(err)) == INGEST_OK);
	json_decref(f);

	/* Not UTF-8, or NUL: replaced, so the alert still gets through. */
	t = "n=a%FFb%00c";
	CHECK(ingest_form_decode(t, strlen(t), &f, err, sizeof(err)) == INGEST_OK);
	CHECK_STR(str(f, "n"), "a\xef\xbf\xbd"
	                       "b\xef\xbf\xbd"
	                       "c");
	json_decref(f);

	/* Malformed escapes are refused. */
	static const char *const bad[] = {"a=%", "a=%4", "a=%zz", "a=%4g&b=1", "%=1", "a=1&b=100%"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = (json_t *)1;
		CHECK(ingest_form_decode(bad[i], strlen(bad[i]), &f, err, sizeof(err)) == INGEST_BAD);
		CHECK(f == NULL);
		CHECK_ERR_HAS(err, "malformed %-escape");
	}
	t = "a=1&b=100%";
	CHECK(ingest_form_decode(t, strlen(t), &f, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "form field 2 (\"b\"): malformed %-escape");
}

/* ---- generic --------------------------------------------------------- */

static void test_generic_good(void)
{
	json_t *out = NULL, *a;
	char err[256];

	CHECK(gen("{\"key\":\"backup/db-1\",\"status\":\"resolved\",\"labels\":{\"service\":\"db\"},"
	          "\"annotations\":{\"summary\":\"ok\"},\"starts_at\":\"2024-05-14T09:15:00Z\","
	          "\"ends_at\":\"2024-05-14T10:15:00+01:00\",\"link\":\"https://ci\",\"source\":\"backup-cron\"}",
	          &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 1);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "source"), "backup-cron");
	CHECK_STR(str(a, "key"), "backup/db-1");
	CHECK_STR(str(a, "status"), "resolved");
	CHECK_STR(label(a, "service"), "db");
	CHECK_STR(annot(a, "summary"), "ok");
	CHECK(num(a, "starts_at") == 1715678100000LL);
	CHECK(num(a, "ends_at") == 1715678100000LL);
	CHECK_STR(str(a, "link"), "https://ci");
	json_decref(out);

	/* Defaults. */
	CHECK(gen("{\"key\":\"k\",\"labels\":null,\"link\":null}", &out, err, sizeof(err)) == INGEST_OK);
	a = json_array_get(out, 0);
	CHECK(well_formed(a));
	CHECK_STR(str(a, "source"), "generic");
	CHECK_STR(str(a, "status"), "firing");
	CHECK(json_object_size(json_object_get(a, "labels")) == 0);
	CHECK(num(a, "starts_at") == 0 && num(a, "ends_at") == 0);
	CHECK_STR(str(a, "link"), "");
	json_decref(out);

	/* The list form. */
	CHECK(gen("{\"alerts\":[{\"key\":\"a\"},{\"key\":\"b\",\"status\":\"resolved\"}]}", &out, err, sizeof(err)) ==
	      INGEST_OK);
	CHECK(json_array_size(out) == 2);
	CHECK_STR(str(json_array_get(out, 0), "key"), "a");
	CHECK_STR(str(json_array_get(out, 1), "key"), "b");
	CHECK_STR(str(json_array_get(out, 1), "status"), "resolved");
	json_decref(out);
	CHECK(gen("{\"alerts\":[]}", &out, err, sizeof(err)) == INGEST_OK);
	CHECK(json_array_size(out) == 0);
	json_decref(out);
}

static void test_generic_bad(void)
{
	json_t *out = NULL;
	char err[256];

	CHECK(gen("{\"key\":\"k\",\"summary\":\"x\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "unknown key \"summary\"");
	CHECK(out == NULL);
	CHECK(gen("{\"alerts\":[{\"key\":\"a\"},{\"key\":\"b\",\"annotation\":{}}]}", &out, err, sizeof(err)) ==
	      INGEST_BAD);
	CHECK_STR(err, "alerts[1]: unknown key \"annotation\"");
	CHECK(gen("{\"alerts\":[],\"key\":\"a\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "unknown key \"key\"");
	CHECK(gen("{\"status\":\"firing\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "key: missing");
	CHECK(gen("{\"key\":\"\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "key: missing");
	CHECK(gen("{\"key\":7}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "key: not a string");
	CHECK(gen("{\"alerts\":[{\"key\":\"a\",\"status\":\"open\"}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].status: must be \"firing\" or \"resolved\"");
	CHECK(gen("{\"key\":\"a\",\"labels\":{\"port\":80}}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "labels: value of \"port\" is not a string");
	CHECK(gen("{\"alerts\":[{\"key\":\"a\",\"annotations\":\"x\"}]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0].annotations: not an object");
	CHECK(gen("{\"key\":\"a\",\"starts_at\":\"2024-05-14\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "starts_at: \"2024-05-14\" is not an RFC 3339 time");
	CHECK(gen("{\"key\":\"a\",\"ends_at\":1715678100}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "ends_at: not a string");
	CHECK(gen("{\"key\":\"a\",\"source\":\"alertmanager\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "reserved");
	CHECK(gen("{\"key\":\"a\",\"source\":\"my tool\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "source");
	CHECK(gen("{\"key\":\"a\",\"source\":\"\"}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(gen("{\"alerts\":{}}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: not an array");
	CHECK(gen("{\"alerts\":[\"a\"]}", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts[0]: not an object");
	CHECK(gen("[{\"key\":\"a\"}]", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK(gen("{\"key\":\"a\"", &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_ERR_HAS(err, "invalid JSON at line 1");

	char key[400];
	char body[512];
	memset(key, 'k', 257);
	key[257] = '\0';
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);
	CHECK(gen(body, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "key: 257 bytes, limit is 256");
	key[256] = '\0';
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);
	CHECK(gen(body, &out, err, sizeof(err)) == INGEST_OK);
	json_decref(out);
	out = NULL;

	alert_limits lim = alert_limits_default;
	lim.max_alerts = 1;
	const char *two = "{\"alerts\":[{\"key\":\"a\"},{\"key\":\"b\"}]}";
	CHECK(ingest_generic(two, strlen(two), &lim, &out, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err, "alerts: 2 alerts, limit is 1");
	CHECK(out == NULL);
}

/* The example in docs/generic-alerts.md must stay valid. */
static void test_generic_doc_example(void)
{
	size_t len;
	char *doc = fixture("docs/generic-alerts.md", &len), err[256];
	const char *start, *end;
	json_t *out = NULL, *a;

	CHECK(doc != NULL);
	if (!doc)
		return;
	start = strstr(doc, "```json\n");
	end = start ? strstr(start + 8, "```") : NULL;
	CHECK(start && end);
	if (start && end) {
		start += 8;
		CHECK(ingest_generic(start, (size_t)(end - start), &alert_limits_default, &out, err, sizeof(err)) ==
		      INGEST_OK);
		a = json_array_get(out, 0);
		CHECK(well_formed(a));
		CHECK_STR(str(a, "key"), "backup/db-1/nightly");
		CHECK_STR(str(a, "source"), "backup-cron");
		CHECK_STR(label(a, "service"), "db");
		json_decref(out);
	}
	free(doc);
}

/* ---- every file under tests/fixtures --------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Each fixture parses with the path its source uses; a new fixture is
 * covered here without a test of its own. */
static void test_all_fixtures(void)
{
	static const char *const dirs[] = {"alertmanager", "uptimerobot"};
	int seen = 0;

	for (size_t d = 0; d < 2; d++) {
		char dirpath[128];
		struct dirent *e;
		DIR *dir;

		snprintf(dirpath, sizeof(dirpath), FIX "%s", dirs[d]);
		dir = opendir(dirpath);
		CHECK(dir != NULL);
		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			char path[512], err[256];
			json_t *out = NULL, *fields = NULL;
			size_t len;
			char *body, *q;
			ingest_status rc = INGEST_BAD;

			if (!ends_with(e->d_name, ".json") && !ends_with(e->d_name, ".form") &&
			    !ends_with(e->d_name, ".query"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
			body = fixture(path, &len);
			CHECK(body != NULL);
			if (!body)
				continue;
			while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
				body[--len] = '\0';
			if (d == 0) {
				rc = ingest_alertmanager(body, len, &alert_limits_default, &out, err, sizeof(err));
			} else {
				if (ends_with(e->d_name, ".json"))
					rc = ingest_uptimerobot_json(body, len, &alert_limits_default, &fields, err,
					                             sizeof(err));
				else if ((q = strchr(body, '?')) != NULL)
					rc = ingest_form_decode(q + 1, strlen(q + 1), &fields, err, sizeof(err));
				else
					rc = ingest_form_decode(body, len, &fields, err, sizeof(err));
				if (rc == INGEST_OK)
					rc = ingest_uptimerobot(fields, NULL, &out, err, sizeof(err));
			}
			CHECK(rc == INGEST_OK);
			if (rc != INGEST_OK)
				fprintf(stderr, "  %s: %s\n", path, err);
			CHECK(json_array_size(out) >= 1);
			for (size_t i = 0; i < json_array_size(out); i++)
				CHECK(well_formed(json_array_get(out, i)));
			seen++;
			json_decref(out);
			json_decref(fields);
			free(body);
		}
		closedir(dir);
	}
	CHECK(seen >= 8);
}

/* ---- core/alert.c ---------------------------------------------------- */

/* An alert's head: its identity in the index and what decides a repeat. */
static void test_alert_head(void)
{
	char longkey[80];
	alert_head h;
	json_t *a = alert_new("alertmanager", "41e0d77341504fa0", "firing", NULL, NULL, 1700000000000, 0, "");

	CHECK(a != NULL);
	alert_head_of(a, &h);
	CHECK(h.id_len == 29 && memcmp(h.id,
	                               "alertmanager\x1f"
	                               "41e0d77341504fa0",
	                               30) == 0);
	CHECK(h.hash == hmap_hash(h.id));
	CHECK(h.firing == 1 && h.starts_at == 1700000000000);
	json_decref(a);

	a = alert_new("generic", "k", "resolved", NULL, NULL, 0, 5, "");
	alert_head_of(a, &h);
	CHECK(h.id_len == 9 && strcmp(h.id, "generic\x1fk") == 0 && h.firing == 0 && h.starts_at == 0);
	json_decref(a);

	/* The longest identity a head holds, and one byte more: none, the core reads the alert. */
	memset(longkey, 'k', sizeof(longkey));
	longkey[ALERT_HEAD_ID_MAX - 1 - 8] = '\0';
	a = alert_new("generic", longkey, "firing", NULL, NULL, 0, 0, "");
	alert_head_of(a, &h);
	CHECK(h.id_len == ALERT_HEAD_ID_MAX - 1 && h.firing == 1);
	json_decref(a);
	longkey[ALERT_HEAD_ID_MAX - 1 - 8] = 'k';
	longkey[ALERT_HEAD_ID_MAX - 8] = '\0';
	a = alert_new("generic", longkey, "firing", NULL, NULL, 0, 0, "");
	alert_head_of(a, &h);
	CHECK(h.id_len == 0 && h.hash == 0 && h.firing == 1);
	json_decref(a);

	/* Not a normalized alert: no identity. */
	a = json_pack("{ss}", "key", "k");
	alert_head_of(a, &h);
	CHECK(h.id_len == 0 && h.firing == 0);
	json_decref(a);
}

static void test_alert(void)
{
	json_t *a, *labels;

	CHECK(alert_severity_rank("critical") == 5);
	CHECK(alert_severity_rank("CRITICAL") == 5);
	CHECK(alert_severity_rank("major") == 4 && alert_severity_rank("Error") == 4 &&
	      alert_severity_rank("high") == 4);
	CHECK(alert_severity_rank("warning") == 3 && alert_severity_rank("minor") == 3 &&
	      alert_severity_rank("medium") == 3);
	CHECK(alert_severity_rank("info") == 2 && alert_severity_rank("low") == 2);
	CHECK(alert_severity_rank("none") == 1 && alert_severity_rank("bogus") == 1 && alert_severity_rank(NULL) == 1);
	CHECK(alert_severity_rank("") == 1);
	CHECK_STR(alert_severity_name(5), "critical");
	CHECK_STR(alert_severity_name(4), "major");
	CHECK_STR(alert_severity_name(3), "warning");
	CHECK_STR(alert_severity_name(2), "info");
	CHECK_STR(alert_severity_name(1), "none");
	CHECK_STR(alert_severity_name(0), "none");
	for (int r = 1; r <= 5; r++)
		CHECK(alert_severity_rank(alert_severity_name(r)) == r);

	CHECK(alert_limits_default.max_alerts == 1000 && alert_limits_default.max_labels == 64 &&
	      alert_limits_default.max_name_len == 128 && alert_limits_default.max_value_len == 16384 &&
	      alert_limits_default.max_depth == 16);

	labels = json_pack("{s:s}", "service", "api");
	a = alert_new("generic", "k", "firing", labels, NULL, 5, 6, NULL);
	CHECK(well_formed(a));
	CHECK_STR(label(a, "service"), "api");
	CHECK(num(a, "starts_at") == 5 && num(a, "ends_at") == 6);
	CHECK_STR(str(a, "link"), "");
	json_decref(a);
	/* Missing required strings: NULL, and the stolen objects are freed (ASan checks). */
	CHECK(alert_new(NULL, "k", "firing", json_object(), json_object(), 0, 0, "") == NULL);

	/* Depth: brackets inside strings do not count; escapes are honoured. */
	CHECK(alert_check_depth("[[[]]]", 6, 3) == 0);
	CHECK(alert_check_depth("[[[[]]]]", 8, 3) == -1);
	CHECK(alert_check_depth("[\"[[[[[[\"]", 10, 1) == 0);
	CHECK(alert_check_depth("[\"\\\"[[[\"]", 10, 1) == 0);
	CHECK(alert_check_depth("[\"\\\\\",[[]]]", 12, 2) == -1);
	CHECK(alert_check_depth("]]]]][[", 7, 2) == 0);
	/* Only len bytes are scanned. */
	CHECK(alert_check_depth("[[[[", 2, 2) == 0);
}

/* The HTTP workers' alert cache: the same answers, and a re-sent alert is
 * the very object parsed the first time. */
static void test_am_cache(void)
{
	const char *a1 = "{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"service\":\"s\"},"
	                 "\"startsAt\":\"2026-11-21T12:00:00Z\",\"fingerprint\":\"00000000000000a1\"}";
	const char *a2 = "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"B\",\"service\":\"s\"},"
	                 "\"endsAt\":\"2026-11-21T12:05:00Z\",\"annotations\":{\"summary\":\"b \\\"quoted\\\" ]}\"}}";
	char body[2048], err[256], err2[256];
	json_t *cold = NULL, *warm = NULL, *plain = NULL;
	ingest_cache *c = ingest_cache_new(16);
	alert_limits tight = alert_limits_default;

	CHECK(c != NULL);
	if (!c)
		return;
	snprintf(body, sizeof(body), "{\"version\":\"4\",\"alerts\":[%s, %s ,%s]}", a1, a2, a1);
	CHECK(ingest_alertmanager(body, strlen(body), &alert_limits_default, &plain, err, sizeof(err)) == INGEST_OK);
	CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &cold, err2,
	                                 sizeof(err2)) == INGEST_OK);
	CHECK(json_equal(plain, cold));
	/* The third is the first's text, seen a second time: parsed again, and
	 * kept from then on. The second, seen once, is not kept. */
	CHECK(json_array_get(cold, 2) != json_array_get(cold, 0));
	CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm, err2,
	                                 sizeof(err2)) == INGEST_OK);
	CHECK(json_equal(plain, warm));
	CHECK(json_array_get(warm, 0) == json_array_get(cold, 2));
	CHECK(json_array_get(warm, 2) == json_array_get(cold, 2));
	CHECK(json_array_get(warm, 1) != json_array_get(cold, 1));
	json_decref(warm);
	warm = NULL;
	/* The second's third sight: it was kept at its second. */
	CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm, err2,
	                                 sizeof(err2)) == INGEST_OK);
	CHECK(json_equal(plain, warm));
	CHECK(json_array_get(warm, 0) == json_array_get(cold, 2));
	CHECK(json_array_get(warm, 1) != json_array_get(cold, 1));
	json_t *kept = json_incref(json_array_get(warm, 1));
	json_decref(warm);
	warm = NULL;
	/* All three from the cache now, each with the head it was kept with. */
	alert_heads heads = {0};
	CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, &heads, &warm, err2,
	                                 sizeof(err2)) == INGEST_OK);
	CHECK(json_array_get(warm, 1) == kept);
	CHECK(heads.n == 3);
	for (size_t i = 0; i < heads.n && i < json_array_size(warm); i++) {
		alert_head h;
		alert_head_of(json_array_get(warm, i), &h);
		CHECK(h.id_len > 0 && memcmp(&h, &heads.v[i], sizeof(h)) == 0);
	}
	alert_heads_free(&heads);
	json_decref(kept);
	json_decref(warm);
	warm = NULL;

	/* Two texts whose first sightings are noted in one pair of entries
	 * (found for this cache's size and hash), sent in turn: each keeps its
	 * note, so both are kept at their second sight. */
	{
		const char *pa = "{\"status\":\"firing\",\"labels\":{\"alertname\":\"P0\"}}";
		const char *pb = "{\"status\":\"firing\",\"labels\":{\"alertname\":\"P4\"}}";
		json_t *got[2][3] = {{NULL}};
		for (int round = 0; round < 3; round++)
			for (int k = 0; k < 2; k++) {
				snprintf(body, sizeof(body), "{\"version\":\"4\",\"alerts\":[%s]}", k ? pb : pa);
				CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL,
				                                 &got[k][round], err2, sizeof(err2)) == INGEST_OK);
			}
		for (int k = 0; k < 2; k++) {
			CHECK(json_array_get(got[k][2], 0) == json_array_get(got[k][1], 0));
			CHECK(json_array_get(got[k][1], 0) != json_array_get(got[k][0], 0));
			for (int round = 0; round < 3; round++)
				json_decref(got[k][round]);
		}
	}

	/* Other limits: parsed afresh (a label value too long now refuses the alert). */
	tight.max_value_len = 1;
	CHECK(ingest_alertmanager_cached(body, strlen(body), &tight, c, NULL, &warm, err2, sizeof(err2)) == INGEST_BAD);
	CHECK(ingest_alertmanager(body, strlen(body), &tight, &warm, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err2, err);

	/* A cached alert's text, broken after it: the body is still refused as JSON. */
	snprintf(body, sizeof(body), "{\"version\":\"4\",\"alerts\":[%s, %s", a1, a2);
	CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm, err2,
	                                 sizeof(err2)) == INGEST_BAD);
	CHECK(ingest_alertmanager(body, strlen(body), &alert_limits_default, &warm, err, sizeof(err)) == INGEST_BAD);
	CHECK_STR(err2, err);
	/* A refused alert is never remembered: refused again, with the same words. */
	snprintf(body, sizeof(body), "{\"version\":\"4\",\"alerts\":[{\"status\":\"odd\",\"labels\":{}}]}");
	for (int i = 0; i < 2; i++) {
		CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm, err2,
		                                 sizeof(err2)) == INGEST_BAD);
		CHECK_STR(err2, "alerts[0].status: must be \"firing\" or \"resolved\"");
	}
	json_decref(plain);
	json_decref(cold);
	ingest_cache_free(c);

	/* Bounded: 6,000 distinct alerts of ~400 bytes, each sent twice, go
	 * through a 4,096-slot cache; it keeps at most 1 MiB of text, and the
	 * newest are there. Sent once each, none is kept. */
	c = ingest_cache_new(4096);
	CHECK(c != NULL);
	if (!c)
		return;
	size_t most = 0;
	int bad = 0;
	for (int i = 0; i < 6000; i++) {
		char pad[300];
		memset(pad, 'p', sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		snprintf(body, sizeof(body),
		         "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A%d\"},"
		         "\"annotations\":{\"summary\":\"%s\"}}]}",
		         i, pad);
		for (int twice = 0; twice < 2; twice++) {
			json_decref(warm);
			warm = NULL;
			bad += ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm,
			                                  err2, sizeof(err2)) != INGEST_OK;
		}
		if (i == 5999) {
			json_t *again = NULL;
			CHECK(ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &again,
			                                 err2, sizeof(err2)) == INGEST_OK);
			CHECK(json_array_get(again, 0) == json_array_get(warm, 0));
			json_decref(again);
		}
		json_decref(warm);
		warm = NULL;
		if (ingest_cache_bytes(c) > most)
			most = ingest_cache_bytes(c);
	}
	CHECK(bad == 0);
	CHECK(most > 900000 && most <= ((size_t)1 << 20));
	ingest_cache_free(c);

	c = ingest_cache_new(4096);
	CHECK(c != NULL);
	for (int i = 0; c && i < 100; i++) {
		snprintf(body, sizeof(body),
		         "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A%d\"}}]}",
		         i);
		bad += ingest_alertmanager_cached(body, strlen(body), &alert_limits_default, c, NULL, &warm, err2,
		                                  sizeof(err2)) != INGEST_OK;
		json_decref(warm);
		warm = NULL;
	}
	CHECK(bad == 0);
	CHECK(ingest_cache_bytes(c) == 0);
	ingest_cache_free(c);
}

int main(void)
{
	test_am_fixture_group();
	test_am_fixture_single();
	test_am_fingerprint_matches_fixtures();
	test_am_fingerprint_vectors();
	test_am_optional();
	test_am_bad();
	test_am_one_pass_order();
	test_am_error_echo_bounded();
	test_am_cache();
	test_alert_head();
	test_ur_down_json();
	test_ur_up_json();
	test_ur_ssl_json();
	test_ur_down_form();
	test_ur_down_query();
	test_ur_variants();
	test_form_decode();
	test_generic_good();
	test_generic_bad();
	test_generic_doc_example();
	test_all_fixtures();
	test_alert();
	return check_summary("test_ingest");
}
