/*
 * Process-wide metrics, rendered in Prometheus text format on /metrics.
 * Counters are atomics: any thread may bump them. Gauges are set by the core.
 */
#ifndef CRIER_METRICS_H
#define CRIER_METRICS_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

typedef enum metrics_result {
	METRICS_OK = 0,
	METRICS_RETRY,
	METRICS_FAIL,
	METRICS_DEAD,
	METRICS_RESULT_N
} metrics_result;

/* HTTP side. */
void metrics_request(int status);                   /* crier_http_requests_total{code} */
void metrics_alerts(config_source src, unsigned n); /* crier_alerts_received_total{source} */
void metrics_rejected(
    config_source src,
    const char *why); /* crier_requests_rejected_total{source,reason} reason: auth|bad_request|too_large|method|store */

/* Core side. */
void metrics_duplicates(unsigned n); /* crier_alerts_duplicate_total */
void metrics_events(unsigned n);     /* crier_events_total */
void metrics_set_incidents_open(int64_t n);
void metrics_set_outbox(int64_t pending, int64_t dead);
/* One delivery result for an instance ("webhook/ops"); latency_ms from event creation to result. */
void metrics_delivery(const char *instance, metrics_result r, double latency_ms);
void metrics_host_died(const char *instance); /* crier_plugin_host_deaths_total{instance} */
/* That counter's value for instance, 0 when it has none (crierctl status). */
uint64_t metrics_host_deaths(const char *instance);
/* crier_ingest_to_plugin_seconds: from an alert's request arriving whole to
 * the first call of a plugin about the event it caused. */
void metrics_ingest_to_plugin(int64_t us);
void metrics_set_ready(int ready);

/* Render everything into a new malloc'ed string (caller frees), or NULL on OOM. */
char *metrics_render(size_t *len);

#endif
