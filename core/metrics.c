/* Process-wide counters and gauges, rendered in Prometheus text format 0.0.4. */
#include "metrics.h"

#include "strbuf.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* HTTP status codes 100..599 each get a counter; a fixed array keeps the
 * request path lock-free. */
#define METRICS_CODE_MIN 100
#define METRICS_CODE_N   500

/* Instances come from the configuration, so they are few; the cap only
 * guards memory against a caller passing unbounded names. */
#define METRICS_MAX_INSTANCES 256

static const char *const metrics_reason_names[] = {"auth", "bad_request", "too_large", "method", "store", "other"};
#define METRICS_REASON_N (sizeof(metrics_reason_names) / sizeof(metrics_reason_names[0]))

static const char *const metrics_result_names[METRICS_RESULT_N] = {"ok", "retry", "fail", "dead"};

/* Upper bounds in seconds; the last bucket is +Inf. Printed from the strings
 * so the le labels are exact. */
static const double metrics_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};
static const char *const metrics_bound_names[] = {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5",
                                                  "1",     "5",     "10",   "60",   "+Inf"};
#define METRICS_BOUNDS_N  (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))
#define METRICS_BUCKETS_N (METRICS_BOUNDS_N + 1)

typedef struct metrics_instance {
	char *name; /* owned */
	atomic_uint_fast64_t results[METRICS_RESULT_N];
	atomic_uint_fast64_t buckets[METRICS_BUCKETS_N]; /* not cumulative; summed when rendered */
	atomic_uint_fast64_t sum_us;                     /* latency sum, microseconds */
	atomic_uint_fast64_t host_deaths;                /* its plugin host process died */
} metrics_instance;

static atomic_uint_fast64_t metrics_codes[METRICS_CODE_N];
static atomic_uint_fast64_t metrics_alerts_n[CONFIG_SRC_N];
static atomic_uint_fast64_t metrics_rejected_n[CONFIG_SRC_N][METRICS_REASON_N];
static atomic_uint_fast64_t metrics_duplicates_n;
static atomic_uint_fast64_t metrics_events_n;
static atomic_int_fast64_t metrics_incidents_open;
static atomic_int_fast64_t metrics_outbox_pending;
static atomic_int_fast64_t metrics_outbox_dead;
static atomic_int metrics_ready;
/* Finer than metrics_bounds: this is the path the core promises to keep short. */
static const double metrics_i2p_bounds[] = {0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075,
                                            0.01,   0.02,  0.05,  0.1,   0.5,   1};
#define METRICS_I2P_N (sizeof(metrics_i2p_bounds) / sizeof(metrics_i2p_bounds[0]))
static atomic_uint_fast64_t metrics_i2p_buckets[METRICS_I2P_N + 1];
static atomic_uint_fast64_t metrics_i2p_sum_us;

/* The table only grows; entries are never freed, so a pointer found under the
 * lock stays valid after it is released and counters are bumped lock-free. */
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static metrics_instance **metrics_instances;
static size_t metrics_n_instances, metrics_cap_instances;
/* Where results go when the table is full or out of memory. Real instance
 * names hold a '/', so this one never collides. */
static char metrics_overflow_name[] = "other";
static metrics_instance metrics_overflow = {.name = metrics_overflow_name};

void metrics_request(int status)
{
	if (status >= METRICS_CODE_MIN && status < METRICS_CODE_MIN + METRICS_CODE_N)
		atomic_fetch_add_explicit(&metrics_codes[status - METRICS_CODE_MIN], 1, memory_order_relaxed);
}

void metrics_alerts(config_source src, unsigned n)
{
	if ((unsigned)src < CONFIG_SRC_N)
		atomic_fetch_add_explicit(&metrics_alerts_n[src], n, memory_order_relaxed);
}

void metrics_rejected(config_source src, const char *why)
{
	size_t r = METRICS_REASON_N - 1;

	if ((unsigned)src >= CONFIG_SRC_N)
		return;
	for (size_t i = 0; why && i < METRICS_REASON_N; i++) {
		if (strcmp(why, metrics_reason_names[i]) == 0) {
			r = i;
			break;
		}
	}
	atomic_fetch_add_explicit(&metrics_rejected_n[src][r], 1, memory_order_relaxed);
}

void metrics_duplicates(unsigned n)
{
	atomic_fetch_add_explicit(&metrics_duplicates_n, n, memory_order_relaxed);
}

void metrics_events(unsigned n)
{
	atomic_fetch_add_explicit(&metrics_events_n, n, memory_order_relaxed);
}

void metrics_set_incidents_open(int64_t n)
{
	atomic_store_explicit(&metrics_incidents_open, n, memory_order_relaxed);
}

void metrics_set_outbox(int64_t pending, int64_t dead)
{
	atomic_store_explicit(&metrics_outbox_pending, pending, memory_order_relaxed);
	atomic_store_explicit(&metrics_outbox_dead, dead, memory_order_relaxed);
}

void metrics_set_ready(int ready)
{
	atomic_store_explicit(&metrics_ready, ready ? 1 : 0, memory_order_relaxed);
}

/* The instance named name, or NULL; the caller holds metrics_lock. */
static metrics_instance *metrics_instance_find(const char *name)
{
	for (size_t i = 0; i < metrics_n_instances; i++)
		if (strcmp(metrics_instances[i]->name, name) == 0)
			return metrics_instances[i];
	return NULL;
}

static metrics_instance *metrics_instance_get(const char *name)
{
	metrics_instance *mi = NULL;

	if (!name)
		return &metrics_overflow;
	pthread_mutex_lock(&metrics_lock);
	if ((mi = metrics_instance_find(name)) != NULL)
		goto out;
	if (metrics_n_instances >= METRICS_MAX_INSTANCES)
		goto out;
	if (metrics_n_instances == metrics_cap_instances) {
		size_t cap = metrics_cap_instances ? metrics_cap_instances * 2 : 8;
		metrics_instance **grown = realloc(metrics_instances, cap * sizeof(*grown));

		if (!grown)
			goto out;
		metrics_instances = grown;
		metrics_cap_instances = cap;
	}
	mi = calloc(1, sizeof(*mi));
	if (!mi)
		goto out;
	mi->name = strdup(name);
	if (!mi->name) {
		free(mi);
		mi = NULL;
		goto out;
	}
	metrics_instances[metrics_n_instances++] = mi;
out:
	pthread_mutex_unlock(&metrics_lock);
	return mi ? mi : &metrics_overflow;
}

void metrics_delivery(const char *instance, metrics_result r, double latency_ms)
{
	metrics_instance *mi;
	size_t b = METRICS_BOUNDS_N;
	double s;

	if ((unsigned)r >= METRICS_RESULT_N)
		return;
	mi = metrics_instance_get(instance);
	atomic_fetch_add_explicit(&mi->results[r], 1, memory_order_relaxed);
	/* The histogram measures how long an event takes to reach its channel,
	 * so only successful deliveries are observed; retries and failures
	 * are counted above. */
	if (r != METRICS_OK)
		return;
	/* A clock step can make the latency negative (or NaN from a caller bug). */
	if (!(latency_ms >= 0))
		latency_ms = 0;
	if (latency_ms > 1e12)
		latency_ms = 1e12;
	s = latency_ms / 1000.0;
	for (size_t i = 0; i < METRICS_BOUNDS_N; i++) {
		if (s <= metrics_bounds[i]) {
			b = i;
			break;
		}
	}
	atomic_fetch_add_explicit(&mi->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&mi->sum_us, (uint_fast64_t)(latency_ms * 1000.0 + 0.5), memory_order_relaxed);
}

void metrics_ingest_to_plugin(int64_t us)
{
	size_t b = METRICS_I2P_N;

	if (us < 0)
		us = 0;
	for (size_t i = 0; i < METRICS_I2P_N; i++) {
		if ((double)us <= metrics_i2p_bounds[i] * 1e6) {
			b = i;
			break;
		}
	}
	atomic_fetch_add_explicit(&metrics_i2p_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&metrics_i2p_sum_us, (uint_fast64_t)us, memory_order_relaxed);
}

/* A label value per the text format: backslash, double quote and line feed
 * are escaped; everything else is copied as is. */
static void metrics_label(strbuf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			strbuf_add(b, "\\\\", 2);
		else if (*s == '"')
			strbuf_add(b, "\\\"", 2);
		else if (*s == '\n')
			strbuf_add(b, "\\n", 2);
		else
			strbuf_addch(b, *s);
	}
}

static void metrics_family(strbuf *b, const char *name, const char *type, const char *help)
{
	strbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t metrics_get(atomic_uint_fast64_t *v)
{
	return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

void metrics_host_died(const char *instance)
{
	atomic_fetch_add_explicit(&metrics_instance_get(instance)->host_deaths, 1, memory_order_relaxed);
}

uint64_t metrics_host_deaths(const char *instance)
{
	uint64_t n = 0;

	pthread_mutex_lock(&metrics_lock);
	metrics_instance *mi = instance ? metrics_instance_find(instance) : NULL;
	if (mi)
		n = metrics_get(&mi->host_deaths);
	pthread_mutex_unlock(&metrics_lock);
	return n;
}

/* What metrics_render_instance writes of each instance. */
enum { METRICS_RESULTS, METRICS_HISTOGRAM, METRICS_DEATHS };

static void metrics_render_instance(strbuf *b, metrics_instance *mi, int histogram)
{
	uint64_t cum = 0;

	if (histogram == METRICS_DEATHS) {
		strbuf_addstr(b, "crier_plugin_host_deaths_total{instance=\"");
		metrics_label(b, mi->name);
		strbuf_addf(b, "\"} %" PRIu64 "\n", metrics_get(&mi->host_deaths));
		return;
	}
	if (histogram == METRICS_RESULTS) {
		for (size_t r = 0; r < METRICS_RESULT_N; r++) {
			strbuf_addstr(b, "crier_deliveries_total{instance=\"");
			metrics_label(b, mi->name);
			strbuf_addf(b, "\",result=\"%s\"} %" PRIu64 "\n", metrics_result_names[r],
			            metrics_get(&mi->results[r]));
		}
		return;
	}
	for (size_t i = 0; i < METRICS_BUCKETS_N; i++) {
		cum += metrics_get(&mi->buckets[i]);
		strbuf_addstr(b, "crier_delivery_latency_seconds_bucket{instance=\"");
		metrics_label(b, mi->name);
		strbuf_addf(b, "\",le=\"%s\"} %" PRIu64 "\n", metrics_bound_names[i], cum);
	}
	strbuf_addstr(b, "crier_delivery_latency_seconds_sum{instance=\"");
	metrics_label(b, mi->name);
	strbuf_addf(b, "\"} %.6f\n", (double)metrics_get(&mi->sum_us) / 1e6);
	/* The count is the +Inf bucket, so the two always agree. */
	strbuf_addstr(b, "crier_delivery_latency_seconds_count{instance=\"");
	metrics_label(b, mi->name);
	strbuf_addf(b, "\"} %" PRIu64 "\n", cum);
}

static int metrics_overflow_used(void)
{
	for (size_t r = 0; r < METRICS_RESULT_N; r++)
		if (metrics_get(&metrics_overflow.results[r]))
			return 1;
	return 0;
}

static void metrics_render_instances(strbuf *b, int histogram)
{
	pthread_mutex_lock(&metrics_lock);
	for (size_t i = 0; i < metrics_n_instances; i++)
		metrics_render_instance(b, metrics_instances[i], histogram);
	pthread_mutex_unlock(&metrics_lock);
	if (metrics_overflow_used())
		metrics_render_instance(b, &metrics_overflow, histogram);
}

char *metrics_render(size_t *len)
{
	strbuf b = STRBUF_INIT;

	metrics_family(&b, "crier_http_requests_total", "counter", "HTTP requests answered, by status code.");
	for (int i = 0; i < METRICS_CODE_N; i++) {
		uint64_t v = metrics_get(&metrics_codes[i]);

		if (v)
			strbuf_addf(&b, "crier_http_requests_total{code=\"%d\"} %" PRIu64 "\n", i + METRICS_CODE_MIN,
			            v);
	}

	metrics_family(&b, "crier_alerts_received_total", "counter", "Alerts accepted and committed, by source.");
	for (int s = 0; s < CONFIG_SRC_N; s++) {
		strbuf_addstr(&b, "crier_alerts_received_total{source=\"");
		metrics_label(&b, config_source_name((config_source)s));
		strbuf_addf(&b, "\"} %" PRIu64 "\n", metrics_get(&metrics_alerts_n[s]));
	}

	metrics_family(&b, "crier_requests_rejected_total", "counter",
	               "Ingest requests refused, by source and reason.");
	for (int s = 0; s < CONFIG_SRC_N; s++) {
		for (size_t r = 0; r < METRICS_REASON_N; r++) {
			strbuf_addstr(&b, "crier_requests_rejected_total{source=\"");
			metrics_label(&b, config_source_name((config_source)s));
			strbuf_addf(&b, "\",reason=\"%s\"} %" PRIu64 "\n", metrics_reason_names[r],
			            metrics_get(&metrics_rejected_n[s][r]));
		}
	}

	metrics_family(&b, "crier_alerts_duplicate_total", "counter", "Alerts received again that changed nothing.");
	strbuf_addf(&b, "crier_alerts_duplicate_total %" PRIu64 "\n", metrics_get(&metrics_duplicates_n));

	metrics_family(&b, "crier_events_total", "counter", "Incident events recorded.");
	strbuf_addf(&b, "crier_events_total %" PRIu64 "\n", metrics_get(&metrics_events_n));

	metrics_family(&b, "crier_incidents_open", "gauge", "Incidents not yet resolved.");
	strbuf_addf(&b, "crier_incidents_open %" PRId64 "\n",
	            (int64_t)atomic_load_explicit(&metrics_incidents_open, memory_order_relaxed));

	metrics_family(&b, "crier_outbox_pending", "gauge", "Deliveries waiting to be sent or retried.");
	strbuf_addf(&b, "crier_outbox_pending %" PRId64 "\n",
	            (int64_t)atomic_load_explicit(&metrics_outbox_pending, memory_order_relaxed));

	metrics_family(&b, "crier_outbox_dead", "gauge", "Deliveries that gave up (dead letters).");
	strbuf_addf(&b, "crier_outbox_dead %" PRId64 "\n",
	            (int64_t)atomic_load_explicit(&metrics_outbox_dead, memory_order_relaxed));

	metrics_family(&b, "crier_deliveries_total", "counter", "Delivery results, by channel instance and result.");
	metrics_render_instances(&b, METRICS_RESULTS);

	metrics_family(&b, "crier_delivery_latency_seconds", "histogram",
	               "Time from event creation to successful delivery, by channel instance.");
	metrics_render_instances(&b, METRICS_HISTOGRAM);

	metrics_family(&b, "crier_plugin_host_deaths_total", "counter",
	               "Plugin host processes (isolation process) that died and were restarted, by channel instance.");
	metrics_render_instances(&b, METRICS_DEATHS);

	metrics_family(&b, "crier_ingest_to_plugin_seconds", "histogram",
	               "Time from an alert's request arriving whole to the first plugin call about its event.");
	{
		uint_fast64_t cum = 0;

		for (size_t i = 0; i <= METRICS_I2P_N; i++) {
			cum += atomic_load_explicit(&metrics_i2p_buckets[i], memory_order_relaxed);
			if (i < METRICS_I2P_N)
				strbuf_addf(&b, "crier_ingest_to_plugin_seconds_bucket{le=\"%g\"} %" PRIuFAST64 "\n",
				            metrics_i2p_bounds[i], cum);
			else
				strbuf_addf(&b, "crier_ingest_to_plugin_seconds_bucket{le=\"+Inf\"} %" PRIuFAST64 "\n",
				            cum);
		}
		strbuf_addf(&b, "crier_ingest_to_plugin_seconds_sum %.6f\n",
		            (double)atomic_load_explicit(&metrics_i2p_sum_us, memory_order_relaxed) / 1e6);
		strbuf_addf(&b, "crier_ingest_to_plugin_seconds_count %" PRIuFAST64 "\n", cum);
	}

	metrics_family(&b, "crier_ready", "gauge", "1 once the daemon is serving.");
	strbuf_addf(&b, "crier_ready %d\n", atomic_load_explicit(&metrics_ready, memory_order_relaxed));

	return strbuf_take(&b, len);
}
