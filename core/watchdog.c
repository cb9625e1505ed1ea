/* Watching the watcher; see watchdog.h and docs/incidents.md. */
#include "watchdog.h"

#include "alert.h"
#include "log.h"
#include "route.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_LAST_SEEN "watchdog.last_seen"
#define META_SILENT    "watchdog.silent_since"

struct watchdog {
	store *st;
	incidents *inc;
	const config *cfg;
	int64_t armed_at;     /* when watching began: start-up, or the reload that turned it on */
	int64_t last_seen;    /* stored: the last firing Watchdog, 0 = never */
	int64_t silent_since; /* stored: MonitoringSilent fires since, 0 = it does not */
};

int64_t watchdog_deadline(int64_t armed_at, int64_t last_seen, int64_t silent_ms, int64_t grace_ms)
{
	if (!last_seen)
		return armed_at + silent_ms;
	int64_t by_feed = last_seen + silent_ms, by_start = armed_at + grace_ms;
	return by_feed > by_start ? by_feed : by_start;
}

int watchdog_matches(const json_t *want, const json_t *alert)
{
	if (!want || !json_object_size(want))
		return 0;
	return route_labels_match(want, json_object_get(alert, "labels"));
}

int watchdog_reload(watchdog *w)
{
	w->last_seen = w->silent_since = 0;
	if (store_meta_get(w->st, META_LAST_SEEN, &w->last_seen) < 0 ||
	    store_meta_get(w->st, META_SILENT, &w->silent_since) < 0)
		return -1;
	return 0;
}

watchdog *watchdog_new(store *st, incidents *inc, const config *cfg, int64_t now, char *err, size_t errlen)
{
	watchdog *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*w = (watchdog){.st = st, .inc = inc, .cfg = cfg, .armed_at = now};
	if (watchdog_reload(w) < 0) {
		snprintf(err, errlen, "cannot read the watchdog's state from the store: %s", store_error(st));
		free(w);
		return NULL;
	}
	return w;
}

void watchdog_free(watchdog *w)
{
	free(w);
}

void watchdog_set_config(watchdog *w, const config *cfg, int64_t now)
{
	if (!w->cfg->watchdog_labels && cfg->watchdog_labels)
		w->armed_at = now;
	w->cfg = cfg;
}

int64_t watchdog_next_deadline(const watchdog *w)
{
	if (!w->cfg->watchdog_labels)
		return w->silent_since ? 0 : INT64_MAX; /* turned off while silent: resolve at once */
	if (w->silent_since)
		return INT64_MAX; /* the next Watchdog ends it */
	return watchdog_deadline(w->armed_at, w->last_seen, w->cfg->watchdog_silent_ms, w->cfg->watchdog_grace_ms);
}

/* Fire or resolve MonitoringSilent through the incident engine, like any alert. */
static int raise_silent(watchdog *w, int firing, int64_t now)
{
	char span[64], clock[32], summary[160], desc[600];
	timefmt_span(w->cfg->watchdog_silent_ms, span, sizeof(span));
	snprintf(summary, sizeof(summary), "Monitoring is silent: no Watchdog alert for %s", span);
	if (w->last_seen)
		snprintf(desc, sizeof(desc),
		         "crier has received no alert matching watchdog.labels since %s. Alerts may not be reaching "
		         "crier: check Prometheus, Alertmanager, and the Alertmanager route that sends Watchdog here.",
		         timefmt_clock(w->last_seen, clock, sizeof(clock)));
	else
		snprintf(desc, sizeof(desc),
		         "crier has received no alert matching watchdog.labels since it began watching at %s. Alerts "
		         "may not be reaching crier: check Prometheus, Alertmanager, and the Alertmanager route that "
		         "sends Watchdog here.",
		         timefmt_clock(w->armed_at, clock, sizeof(clock)));
	json_t *labels =
	    json_pack("{ss ss ss}", "alertname", "MonitoringSilent", "service", "crier", "severity", "critical");
	json_t *annotations = json_pack("{ss ss}", "summary", summary, "description", desc);
	json_t *a = alert_new("crier", WATCHDOG_ALERT_KEY, firing ? "firing" : "resolved", labels, annotations,
	                      firing ? now : 0, firing ? 0 : now, "");
	if (!a || json_object_set_new(a, "group", json_string(WATCHDOG_ALERT_GROUP)) < 0) {
		json_decref(a);
		return -1;
	}
	int rc = incidents_apply(w->inc, a, NULL, now);
	json_decref(a);
	if (rc < 0 || store_meta_set(w->st, META_SILENT, firing ? now : 0) < 0)
		return -1;
	w->silent_since = firing ? now : 0;
	return 1;
}

int watchdog_consume(watchdog *w, const json_t *alert, int64_t now)
{
	if (!watchdog_matches(w->cfg->watchdog_labels, alert))
		return 0;
	const char *status = json_string_value(json_object_get(alert, "status"));
	if (!status || strcmp(status, "firing") != 0) {
		/* Alertmanager resolves the Watchdog when Prometheus stops sending
		 * it: that is the silence itself, not a sign of life. */
		log_warn("the Watchdog alert resolved: Prometheus may have stopped evaluating its rules", NULL);
		return 1;
	}
	if (store_meta_set(w->st, META_LAST_SEEN, now) < 0)
		return -1;
	w->last_seen = now;
	if (w->silent_since) {
		if (raise_silent(w, 0, now) < 0)
			return -1;
		log_info("the monitoring feed is back: a Watchdog alert arrived", NULL);
	}
	return 1;
}

int watchdog_tick(watchdog *w, int64_t now, int64_t *next_ms)
{
	int rc = 0;
	if (!w->cfg->watchdog_labels && w->silent_since) {
		rc = raise_silent(w, 0, now);
		if (rc > 0)
			log_info("watchdog turned off: MonitoringSilent resolved", NULL);
	} else if (w->cfg->watchdog_labels && !w->silent_since && now >= watchdog_next_deadline(w)) {
		rc = raise_silent(w, 1, now);
		if (rc > 0)
			log_warn("the monitoring feed is silent: raised MonitoringSilent",
			         " silent_after_s=%" PRId64 " last_seen_ms=%" PRId64, w->cfg->watchdog_silent_ms / 1000,
			         w->last_seen);
	}
	*next_ms = watchdog_next_deadline(w);
	return rc;
}
