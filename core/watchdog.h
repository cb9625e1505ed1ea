/*
 * Watching the watcher. Alertmanager's always-firing Watchdog alert is
 * crier's proof that the monitoring feed (Prometheus -> Alertmanager ->
 * crier) is alive. With a "watchdog" section configured, alerts matching
 * watchdog.labels are consumed here (they never open an incident); when
 * none has fired for watchdog.silent_after_seconds, crier raises its own
 * alert MonitoringSilent (service "crier", severity critical, never public,
 * an incident of its own), and resolves it at the next Watchdog.
 *
 * The last Watchdog seen and whether MonitoringSilent fires are stored
 * (meta table) in the transaction that changed them. After a start the
 * silence is measured from the last Watchdog seen, but never declared
 * sooner than startup_grace after watching began: a live feed needs that
 * long to show itself again, while a feed that went quiet before a restart
 * is still reported well before a full silent_after of fresh waiting.
 * Runs on the core thread only.
 */
#ifndef CRIER_WATCHDOG_H
#define CRIER_WATCHDOG_H

#include "config.h"
#include "incidents.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* crier's own alert for a silent feed: its identity and its incident's key. */
#define WATCHDOG_ALERT_KEY   "watchdog/silent"
#define WATCHDOG_ALERT_GROUP "crier/MonitoringSilent"

/*
 * When silence is declared, with no Watchdog since last_seen (0: never)
 * and watching since armed_at. Pure.
 */
int64_t watchdog_deadline(int64_t armed_at, int64_t last_seen, int64_t silent_ms, int64_t grace_ms);

/* The alert (borrowed) carries every label of want (borrowed). Pure. */
int watchdog_matches(const json_t *want, const json_t *alert);

typedef struct watchdog watchdog;

/* st, inc and cfg are borrowed; watching (when configured) begins at now. */
watchdog *watchdog_new(store *st, incidents *inc, const config *cfg, int64_t now, char *err, size_t errlen);
void watchdog_free(watchdog *w);
/* A reload: turning the watchdog on begins watching at now. */
void watchdog_set_config(watchdog *w, const config *cfg, int64_t now);
/* Read the stored state again (after a failed transaction). */
int watchdog_reload(watchdog *w);

/*
 * An alert (borrowed) arrived, inside the ingest transaction. 1: it is the
 * Watchdog and was consumed (firing: the feed is alive, and MonitoringSilent
 * resolves); 0: not ours, apply it as usual; -1: store error.
 */
int watchdog_consume(watchdog *w, const json_t *alert, int64_t now);

/* Raise MonitoringSilent when its time has come (or resolve it when the
 * watchdog was turned off), inside the caller's transaction. Returns 1 when
 * it did something, 0, or -1; *next_ms gets the next deadline. */
int watchdog_tick(watchdog *w, int64_t now, int64_t *next_ms);

/* The deadline of the silence (INT64_MAX: none). */
int64_t watchdog_next_deadline(const watchdog *w);

#endif
