/* Unit tests for core/metrics.c: counts, histogram buckets, label escaping,
 * the validity of the rendered text format, and counting under threads. */
#include "check.h"
#include "metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of the sample line that starts with prefix (name and labels,
 * exactly as rendered), or -1 when absent. */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static int name_char(int c, int first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* Parse "name{l="v",...} value" strictly; returns the end of the name in
 * *name_end. 0 when the line is a valid sample. */
static int parse_sample(const char *line, size_t *name_len)
{
	const char *p = line;
	char *end;

	if (!name_char((unsigned char)*p, 1))
		return -1;
	while (name_char((unsigned char)*p, 0))
		p++;
	*name_len = (size_t)(p - line);
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!name_char((unsigned char)*p, 1))
				return -1;
			while (name_char((unsigned char)*p, 0))
				p++;
			if (*p++ != '=' || *p++ != '"')
				return -1;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					return -1;
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' && *p != 'n')
						return -1;
				}
				p++;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	if (strncmp(p, "+Inf", 4) == 0 || strncmp(p, "NaN", 3) == 0)
		return 0;
	strtod(p, &end);
	if (end == p || (*end != '\0' && *end != '\n'))
		return -1;
	return 0;
}

static int validator_quiet;

/* Every line is a HELP, a TYPE or a sample of a family typed before it. */
static int valid_exposition(const char *text)
{
	char typed[64][96];
	int ntyped = 0;
	const char *p = text;

	if (!text || !*text || text[strlen(text) - 1] != '\n')
		return 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p), nlen = 0;
		char line[1024];

		if (len >= sizeof(line))
			return 0;
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[96], type[32];

			if (sscanf(line + 7, "%95s %31s", name, type) != 2 || ntyped >= 64)
				return 0;
			if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram"))
				return 0;
			for (int i = 0; i < ntyped; i++)
				if (strcmp(typed[i], name) == 0)
					return 0; /* a family typed twice */
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", name);
			continue;
		}
		if (parse_sample(line, &nlen) != 0) {
			if (!validator_quiet)
				fprintf(stderr, "bad line: %s\n", line);
			return 0;
		}
		int found = 0;

		for (int i = 0; i < ntyped && !found; i++) {
			size_t tl = strlen(typed[i]);

			if (nlen == tl && strncmp(line, typed[i], tl) == 0)
				found = 1;
			/* Histogram series carry a suffix. */
			else if (nlen > tl && strncmp(line, typed[i], tl) == 0 &&
			         (strncmp(line + tl, "_bucket", nlen - tl) == 0 ||
			          strncmp(line + tl, "_sum", nlen - tl) == 0 ||
			          strncmp(line + tl, "_count", nlen - tl) == 0))
				found = 1;
		}
		if (!found) {
			if (!validator_quiet)
				fprintf(stderr, "untyped sample: %s\n", line);
			return 0;
		}
	}
	return 1;
}

static void *bump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++) {
		metrics_request(204);
		metrics_events(1);
		metrics_delivery("webhook/threads", METRICS_RETRY, 1);
	}
	return NULL;
}

int main(void)
{
	char *text;
	size_t len = 0;

	/* The validator itself rejects what it should. */
	validator_quiet = 1;
	CHECK(!valid_exposition("crier_x 1\n"));                                    /* untyped */
	CHECK(!valid_exposition("# TYPE crier_x counter\ncrier_x{a=\"b} 1\n"));     /* open quote */
	CHECK(!valid_exposition("# TYPE crier_x counter\ncrier_x{a=\"\\q\"} 1\n")); /* bad escape */
	CHECK(!valid_exposition("# TYPE crier_x counter\ncrier_x one\n"));          /* not a number */
	CHECK(valid_exposition("# TYPE crier_x counter\ncrier_x{a=\"\\n\"} 1\n"));
	validator_quiet = 0;

	/* Nothing recorded yet: still a valid, complete exposition. */
	text = metrics_render(&len);
	CHECK(text != NULL);
	CHECK(text && len == strlen(text));
	CHECK(valid_exposition(text));
	CHECK(text && strstr(text, "# TYPE crier_http_requests_total counter\n") != NULL);
	CHECK(text && strstr(text, "# TYPE crier_delivery_latency_seconds histogram\n") != NULL);
	CHECK(sample(text, "crier_ready") == 0);
	CHECK(sample(text, "crier_alerts_received_total{source=\"alertmanager\"}") == 0);
	free(text);

	metrics_request(200);
	metrics_request(200);
	metrics_request(503);
	metrics_request(42);  /* out of range: ignored */
	metrics_request(600); /* out of range: ignored */
	metrics_alerts(CONFIG_SRC_ALERTMANAGER, 3);
	metrics_alerts(CONFIG_SRC_UPTIMEROBOT, 1);
	metrics_alerts(CONFIG_SRC_N, 5); /* invalid source: ignored */
	metrics_rejected(CONFIG_SRC_UPTIMEROBOT, "auth");
	metrics_rejected(CONFIG_SRC_UPTIMEROBOT, "auth");
	metrics_rejected(CONFIG_SRC_GENERIC, "too_large");
	metrics_rejected(CONFIG_SRC_GENERIC, "something new");
	metrics_duplicates(4);
	metrics_events(2);
	metrics_set_incidents_open(7);
	metrics_set_outbox(11, -1);
	metrics_set_ready(5);
	metrics_delivery("webhook/ops", METRICS_OK, 0.5);   /* 0.0005 s -> le 0.001 */
	metrics_delivery("webhook/ops", METRICS_OK, 3);     /* 0.003 s -> le 0.005 */
	metrics_delivery("webhook/ops", METRICS_OK, 70000); /* 70 s -> +Inf only */
	metrics_delivery("webhook/ops", METRICS_RETRY, 10); /* counted, not observed */
	metrics_delivery("webhook/ops", METRICS_DEAD, 10);
	metrics_delivery("slack/we\"ird\\na\nme", METRICS_FAIL, -5);

	text = metrics_render(&len);
	CHECK(text != NULL);
	if (!text)
		return check_summary("test_metrics");
	CHECK(valid_exposition(text));
	CHECK(sample(text, "crier_http_requests_total{code=\"200\"}") == 2);
	CHECK(sample(text, "crier_http_requests_total{code=\"503\"}") == 1);
	CHECK(sample(text, "crier_http_requests_total{code=\"404\"}") == -1); /* never seen: no line */
	CHECK(strstr(text, "code=\"42\"") == NULL && strstr(text, "code=\"600\"") == NULL);
	CHECK(sample(text, "crier_alerts_received_total{source=\"alertmanager\"}") == 3);
	CHECK(sample(text, "crier_alerts_received_total{source=\"uptimerobot\"}") == 1);
	CHECK(sample(text, "crier_alerts_received_total{source=\"generic\"}") == 0);
	CHECK(sample(text, "crier_requests_rejected_total{source=\"uptimerobot\",reason=\"auth\"}") == 2);
	CHECK(sample(text, "crier_requests_rejected_total{source=\"generic\",reason=\"too_large\"}") == 1);
	CHECK(sample(text, "crier_requests_rejected_total{source=\"generic\",reason=\"other\"}") == 1);
	CHECK(sample(text, "crier_requests_rejected_total{source=\"alertmanager\",reason=\"store\"}") == 0);
	CHECK(sample(text, "crier_alerts_duplicate_total") == 4);
	CHECK(sample(text, "crier_events_total") == 2);
	CHECK(sample(text, "crier_incidents_open") == 7);
	CHECK(sample(text, "crier_outbox_pending") == 11);
	CHECK(strstr(text, "\ncrier_outbox_dead -1\n") != NULL);
	CHECK(sample(text, "crier_ready") == 1);

	CHECK(sample(text, "crier_deliveries_total{instance=\"webhook/ops\",result=\"ok\"}") == 3);
	CHECK(sample(text, "crier_deliveries_total{instance=\"webhook/ops\",result=\"retry\"}") == 1);
	CHECK(sample(text, "crier_deliveries_total{instance=\"webhook/ops\",result=\"fail\"}") == 0);
	CHECK(sample(text, "crier_deliveries_total{instance=\"webhook/ops\",result=\"dead\"}") == 1);
	CHECK(sample(text, "crier_delivery_latency_seconds_bucket{instance=\"webhook/ops\",le=\"0.001\"}") == 1);
	CHECK(sample(text, "crier_delivery_latency_seconds_bucket{instance=\"webhook/ops\",le=\"0.005\"}") == 2);
	CHECK(sample(text, "crier_delivery_latency_seconds_bucket{instance=\"webhook/ops\",le=\"60\"}") == 2);
	CHECK(sample(text, "crier_delivery_latency_seconds_bucket{instance=\"webhook/ops\",le=\"+Inf\"}") == 3);
	CHECK(sample(text, "crier_delivery_latency_seconds_count{instance=\"webhook/ops\"}") == 3);
	{
		double sum = sample(text, "crier_delivery_latency_seconds_sum{instance=\"webhook/ops\"}");

		CHECK(sum > 70.0034 && sum < 70.0036);
	}
	/* Label values escaped per the format. */
	CHECK(sample(text, "crier_deliveries_total{instance=\"slack/we\\\"ird\\\\na\\nme\",result=\"fail\"}") == 1);
	CHECK(sample(text, "crier_delivery_latency_seconds_count{instance=\"slack/we\\\"ird\\\\na\\nme\"}") == 0);
	free(text);

	/* Counting from many threads loses nothing. */
	{
		pthread_t t[4];
		int started = 0;

		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, bump, NULL) == 0)
				started++;
		CHECK(started == 4);
		for (int i = 0; i < started; i++)
			pthread_join(t[i], NULL);
		text = metrics_render(NULL);
		CHECK(text != NULL);
		CHECK(sample(text, "crier_http_requests_total{code=\"204\"}") == 40000);
		CHECK(sample(text, "crier_events_total") == 40002);
		CHECK(sample(text, "crier_deliveries_total{instance=\"webhook/threads\",result=\"retry\"}") == 40000);
		free(text);
	}

	/* The instance table is bounded; the excess is counted under "other". */
	{
		char name[32];

		for (int i = 0; i < 300; i++) {
			snprintf(name, sizeof(name), "bulk/%d", i);
			metrics_delivery(name, METRICS_FAIL, 1);
		}
		text = metrics_render(NULL);
		CHECK(text != NULL);
		CHECK(valid_exposition(text));
		CHECK(sample(text, "crier_deliveries_total{instance=\"bulk/0\",result=\"fail\"}") == 1);
		CHECK(sample(text, "crier_deliveries_total{instance=\"bulk/299\",result=\"fail\"}") == -1);
		/* 256 slots: ops, the odd name, threads, then bulk/0..252. */
		CHECK(sample(text, "crier_deliveries_total{instance=\"bulk/252\",result=\"fail\"}") == 1);
		CHECK(sample(text, "crier_deliveries_total{instance=\"other\",result=\"fail\"}") == 47);
		free(text);
	}
	return check_summary("test_metrics");
}
