/*
 * The webhook server (libmicrohttpd): authenticates, bounds and parses each
 * request with core/ingest.h, hands the alerts to the core with
 * core_submit() and answers 2xx only after the commit.
 *
 *   POST /api/v1/alertmanager      Alertmanager webhook (version 4)
 *   GET|POST /api/v1/uptimerobot   JSON body, form body or query string
 *   POST /api/v1/alerts            generic alert JSON (docs/generic-alerts.md)
 *   GET /healthz  /readyz  /metrics
 */
#ifndef CRIER_HTTP_SERVER_H
#define CRIER_HTTP_SERVER_H

#include "config.h"
#include "core.h"

typedef struct http_server http_server;

/* Bind cfg's listen address and serve. cfg and c are borrowed until stop. */
http_server *http_server_start(const config *cfg, core *c, char *err, size_t errlen);

/* The TCP port actually bound (useful when cfg asked for port 0), or -1. */
int http_server_port(const http_server *s);

/* Use a new configuration (auth, limits, Uptime Robot services) from now on.
 * The listen address is not changed (crierd logs that a restart is needed). */
void http_server_reload(http_server *s, const config *cfg);

/* Stop accepting, finish the requests in progress, free. */
void http_server_stop(http_server *s);

#endif
