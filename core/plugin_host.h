/*
 * A plugin host runs one plugin instance on its own thread and talks to
 * the core only through a ZeroMQ PAIR socket: a delivery in, a result out.
 * Because the protocol is plain messages, the same loop could run in a
 * child process over ipc:// (not built yet: threads only).
 */
#ifndef CRIER_PLUGIN_HOST_H
#define CRIER_PLUGIN_HOST_H

#include "config.h"
#include "crier/plugin.h"
#include "plugin_loader.h"

#include <stddef.h>
#include <stdint.h>

typedef struct plugin_host plugin_host;

/* How long start waits for init() and stop waits for the thread. */
#define PLUGIN_HOST_START_MS 10000
#define PLUGIN_HOST_STOP_MS  5000

/* A result the host gives without calling the plugin: it is stopping. */
#define PLUGIN_HOST_SKIPPED 3

/* Start the thread and wait until the instance's init() answered. lib is
 * borrowed for the host's life; ic and the folders only until this returns. */
plugin_host *plugin_host_start(void *zctx, plugin_lib *lib, const config_instance *ic, const char *state_dir,
                               const char *config_dir, char *err, size_t errlen);

/* The core's end of the PAIR socket, to poll for results. */
void *plugin_host_socket(plugin_host *h);
/* A result is waiting (without blocking). */
int plugin_host_readable(plugin_host *h);

/* Send one delivery (strings are copied into the message; state and
 * recipient may be NULL). */
int plugin_host_send(plugin_host *h, int64_t id, unsigned attempt, const char *key, const char *doc, const char *state,
                     const char *recipient);

/* Text a plugin offered for approval with a delivery (host table draft_submit). */
typedef struct plugin_host_draft {
	char *network; /* new, or NULL when the delivery offered no draft */
	char *text;    /* new, or NULL likewise */
	int measure;   /* crier_measure */
	size_t length; /* text in units of measure, as the host counted it */
	size_t limit;
} plugin_host_draft;

/* Most bytes of a draft's text. */
#define PLUGIN_HOST_DRAFT_MAX 16384

typedef struct plugin_host_result {
	int64_t id;
	int result;         /* crier_result, or PLUGIN_HOST_SKIPPED */
	int64_t not_before; /* unix ms, 0 = none */
	char *error;        /* new or NULL */
	char *state;        /* new or NULL; set only when has_state */
	int has_state;
	plugin_host_draft draft; /* set only with CRIER_OK */
} plugin_host_result;

/* Receive one result (call when the socket is readable). 0 / -1. */
int plugin_host_recv(plugin_host *h, plugin_host_result *r);
void plugin_host_result_free(plugin_host_result *r);

/* From now on answer queued deliveries PLUGIN_HOST_SKIPPED without calling
 * the plugin (the delivery in progress finishes). */
void plugin_host_begin_stop(plugin_host *h);

/* Ask the thread to destroy the instance and exit; join; free. Returns -1
 * when the thread did not stop in time and was abandoned (its library must
 * then stay loaded). */
int plugin_host_stop(plugin_host *h);

/* How many host threads were abandoned (stuck in their plugin). While any
 * is, plugin libraries must not be unloaded nor the ZeroMQ context terminated. */
int plugin_host_abandoned(void);

/* --check-config: init then destroy the instance on the calling thread. */
int plugin_host_check(plugin_lib *lib, const config_instance *ic, const char *state_dir, const char *config_dir,
                      char *err, size_t errlen);

#endif
