/*
 * A plugin host runs one plugin instance and talks to the core only through
 * a ZeroMQ PAIR socket: a delivery in, a result out. It runs where the
 * instance's "isolation" says:
 *
 *   "thread"   a thread of crierd (inproc://). Cheapest; a crash in the
 *              plugin takes crierd down with it.
 *   "process"  a child process: crierd started again as `crierd --plugin-host`
 *              (ipc://, a socket file in <state_dir>/plugin-hosts/, mode 0600).
 *              A crash costs that instance's delivery in progress and a
 *              restart; the core sees the exit (plugin_host_exit_fd), and the
 *              outbox retries and restarts (outbox.c).
 *
 * Both run the same loop. Core thread only, but for plugin_host_child_main.
 */
#ifndef CRIER_PLUGIN_HOST_H
#define CRIER_PLUGIN_HOST_H

#include "config.h"
#include "crier/plugin.h"
#include "plugin_loader.h"

#include <stddef.h>
#include <stdint.h>

typedef struct plugin_host plugin_host;

/* How long start waits for init() and stop waits for the host. */
#define PLUGIN_HOST_START_MS 10000
#define PLUGIN_HOST_STOP_MS  5000

/* A result the host gives without calling the plugin: it is stopping. */
#define PLUGIN_HOST_SKIPPED 3

/* Start the host and wait until the instance's init() answered. lib is
 * borrowed for the host's life (a thread runs it; NULL for a process, which
 * loads the plugin itself from cfg->plugin_dir); ic and cfg only until this
 * returns. */
plugin_host *plugin_host_start(void *zctx, plugin_lib *lib, const config_instance *ic, const config *cfg, char *err,
                               size_t errlen);

/* The core's end of the PAIR socket, to poll for results; NULL while a
 * process host is down (between its exit and plugin_host_respawn). */
void *plugin_host_socket(plugin_host *h);
/* A process host's pidfd: readable once its child has exited (then call
 * plugin_host_exited). -1 for a thread or while down. */
int plugin_host_exit_fd(const plugin_host *h);
/* The child's pid, 0 for a thread or while down. */
long plugin_host_pid(const plugin_host *h);
/* Takes deliveries: a thread always, a process once its init answered. */
int plugin_host_ready(const plugin_host *h);
/* A message is waiting (without blocking). */
int plugin_host_readable(plugin_host *h);

/* Send one delivery (strings are copied into the message; state and
 * recipient may be NULL). accepted_us: timefmt_mono_us() when the request
 * that caused it arrived, 0 when unknown; the host measures from it to the
 * call of deliver() (plugin_host_result.waited_us). Never blocks on a
 * process host: -1 when it is not ready or has gone. */
int plugin_host_send(plugin_host *h, int64_t id, unsigned attempt, const char *key, const char *doc, const char *state,
                     const char *recipient, int64_t accepted_us);

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
	int64_t waited_us;       /* accepted -> deliver() called, µs; -1 when not measured */
} plugin_host_result;

/* Receive one message, never waiting for one: 1 a result in r, 0 a message
 * of the host's own (a child starting: nothing in r; check
 * plugin_host_ready), PLUGIN_HOST_EMPTY none waiting, -1 unreadable. Read
 * until PLUGIN_HOST_EMPTY: asking plugin_host_readable before each message
 * costs system calls that reading does not. */
#define PLUGIN_HOST_EMPTY (-2)
int plugin_host_recv(plugin_host *h, plugin_host_result *r);
void plugin_host_result_free(plugin_host_result *r);

/*
 * Process hosts. The child works through its deliveries one at a time, in
 * the order sent, so when it dies only the oldest unanswered one can have
 * been inside the plugin.
 */
/* The child has exited: reap it, close its socket, remove the socket file,
 * return 1 with why ("killed by signal 11 (SIGSEGV)", "exited with status 1",
 * "could not start: <init error>"). 0 while it runs, and always for a thread. */
int plugin_host_exited(plugin_host *h, char *why, size_t len);
/* Start a new child for a host that is down, without waiting: its socket
 * turns readable as it starts (see plugin_host_recv). 0 / -1 with err. */
int plugin_host_respawn(plugin_host *h, char *err, size_t errlen);
/* A child still starting after PLUGIN_HOST_START_MS is killed (its exit then
 * tells). Returns when to look again (INT64_MAX: nothing to watch). */
int64_t plugin_host_watch(plugin_host *h, int64_t now);
/* Remove socket files a previous crierd left (killed -9) in state_dir. */
void plugin_host_sweep(const char *state_dir);

/* From now on answer queued deliveries PLUGIN_HOST_SKIPPED without calling
 * the plugin (the delivery in progress finishes). */
void plugin_host_begin_stop(plugin_host *h);

/* Ask the host to destroy the instance and exit; wait (PLUGIN_HOST_STOP_MS);
 * free. A thread that did not stop in time is abandoned (-1; its library
 * must then stay loaded); a child is killed (SIGKILL) and reaped. */
int plugin_host_stop(plugin_host *h);

/* How many host threads were abandoned (stuck in their plugin). While any
 * is, plugin libraries must not be unloaded nor the ZeroMQ context terminated. */
int plugin_host_abandoned(void);

/* --check-config: init then destroy the instance, in a child process so a
 * plugin that crashes while starting is reported ("the plugin failed while
 * starting: killed by signal 11 (SIGSEGV)") instead of ending the check. */
int plugin_host_check(plugin_lib *lib, const config_instance *ic, const char *state_dir, const char *config_dir,
                      char *err, size_t errlen);

/* `crierd --plugin-host <instance> <plugin_dir> <endpoint> <parent pid>`:
 * the child's main. Connects, takes its configuration over the socket, runs
 * the loop; exits at "Q" or when crierd dies. Returns the exit code. */
int plugin_host_child_main(int argc, char **argv);

#endif
