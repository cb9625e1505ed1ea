/*
 * The core thread. It alone touches the store, the incident index and the
 * outbox, so none of them needs a lock. Everything else reaches it over
 * ZeroMQ:
 *
 *   inproc://crier-ingest   ROUTER  HTTP workers (a DEALER each) send a tag and a
 *                                   json_t* of normalized alerts; the pointer
 *                                   moves a reference, no serialization. Each
 *                                   alert's head (alert.h) follows it, copied.
 *                                   The answer carries the tag back.
 *   <state>/crierd.ctl      REP     crierctl (docs/control.md).
 *   inproc://crier-control  ROUTER  the same requests from HTTP workers (the
 *                                   drafts and subscription APIs), tagged the
 *                                   same way (core_send_control).
 *   inproc://crier-cmd      PAIR    main thread: reload, stop.
 *   inproc://crier-host-N   PAIR    one per plugin instance run as a thread, or
 *   <state>/plugin-hosts/host-N.sock  ipc:// to one run as a child process, whose
 *                                   pidfd is polled too (plugin_host.c).
 *
 * Group commit: each wake-up drains every ingest message waiting (up to
 * store.batch_max), applies them all in one transaction, commits once, and
 * only then answers each sender. Under load many requests share one commit.
 */
#include "core.h"

#include "alert.h"
#include "audience.h"
#include "cadence.h"
#include "control.h"
#include "drafts.h"
#include "incidents.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "plugin_host.h"
#include "postmortem.h"
#include "route.h"
#include "store.h"
#include "subscribers.h"
#include "text.h"
#include "timefmt.h"
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define INGEST_ENDPOINT  "inproc://crier-ingest"
#define CMD_ENDPOINT     "inproc://crier-cmd"
#define CONTROL_ENDPOINT "inproc://crier-control"
#define MAX_HOSTS        256
#define STOP_GRACE_MS    10000

struct core {
	void *zctx;
	const config *cfg;
	store *st;
	incidents *inc;
	outbox *ob;
	drafts *dr;
	postmortems *pm;
	cadence *cad;
	watchdog *wd;
	subscribers *subs;
	control_ctx ctl_ctx;

	void *ingest;   /* ROUTER */
	void *ext;      /* ROUTER or NULL */
	void *ctl;      /* REP */
	void *ctl_in;   /* ROUTER for core_control */
	void *cmd;      /* PAIR, core side */
	void *cmd_main; /* PAIR, main side (used by the main thread only) */
	int lock_fd;
	char *ctl_path;

	pthread_t thread;
	int thread_started;
	atomic_int ready;
	int stopping;
	int broken;          /* the incident index could not be rebuilt: refuse ingest until it is */
	int64_t retry_at;    /* after a failed transaction: no new turn before this */
	unsigned new_events; /* routed in the open transaction; counted once committed */
	int64_t accepted_us; /* the request whose alerts are being applied (handle_turn), 0 = none */

	struct ingest_msg *batch; /* reused by every handle_turn */
	size_t batch_cap;
};

/* ---- routing: the incident engine's emit callback ---------------------------- */

/*
 * Route one event: to the instances the routes name and, when also_to is
 * set (a draft's publication), to that one instance too, once, and never
 * to each of its recipients. "Named by a route" counts before the audience
 * filter, as the publication itself is never filtered.
 */
static int route_event(core *c, int64_t event_id, int64_t incident_id, const char *type, int severity,
                       const json_t *labels, int audience, const char *also_to, int64_t now)
{
	const char *to[OUTBOX_MAX_CHANNELS];
	int routed = 0;
	size_t n = route_targets(c->cfg, type, severity, labels, to, sizeof(to) / sizeof(to[0]));
	for (size_t i = 0; i < n; i++) {
		const config_instance *ic = config_find_instance(c->cfg, to[i]);
		if (!ic)
			continue;
		routed |= also_to && strcmp(to[i], also_to) == 0;
		/* Customers hear of public incidents only, whatever the routes say,
		 * and never of the chasing that goes on inside. */
		if (ic->audience_public && (!(audience & AUDIENCE_PUBLIC) || audience_internal_type(type)))
			continue;
		/* Subscribers: one delivery each, like recipients (docs/subscribers.md). */
		if (ic->subscribers) {
			if (subscribers_fanout(c->subs, event_id, incident_id, to[i], ic->subscribers, labels, now) < 0)
				return -1;
			outbox_wake(c->ob, to[i]);
			continue;
		}
		/* One delivery per recipient: each retries and dies on its own. */
		size_t nr = ic->recipients ? json_array_size(ic->recipients) : 1;
		for (size_t r = 0; r < nr; r++) {
			const char *who = ic->recipients ? json_string_value(json_array_get(ic->recipients, r)) : NULL;
			if (store_outbox_add(c->st, event_id, incident_id, to[i], who, now) < 0)
				return -1;
		}
		outbox_wake(c->ob, to[i]);
	}
	if (also_to && !routed) {
		if (store_outbox_add(c->st, event_id, incident_id, also_to, NULL, now) < 0)
			return -1;
		outbox_wake(c->ob, also_to);
	}
	c->new_events++;
	/* Its post-mortem is now owed; the draft is written once this commits. */
	if (c->pm && strcmp(type, "resolved") == 0 && postmortem_resolved(c->pm, incident_id, audience, now) < 0)
		return -1;
	/* The update clock of public incidents moves with their events. */
	return c->cad ? cadence_on_event(c->cad, incident_id, type, audience, now) : 0;
}

/* Every event: routed, and maybe also to one instance (a draft's publication). */
static int core_route(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity,
                      const json_t *labels, int audience, const char *also_to, int64_t now)
{
	core *c = ctx;
	if (also_to && !config_find_instance(c->cfg, also_to))
		return -2;
	if (c->accepted_us)
		outbox_note_accepted(c->ob, event_id, c->accepted_us);
	return route_event(c, event_id, incident_id, type, severity, labels, audience, also_to, now);
}

/*
 * A channel dead-letters: crier's own alert DeliveryDead (service "crier",
 * one per channel) fires, so routes can tell people through another channel;
 * it resolves at the channel's next success. Runs in the open transaction.
 */
static int core_dead_letter(void *ctx, const char *instance, int firing, const char *error, int64_t now)
{
	core *c = ctx;
	if (c->broken)
		return 1; /* not on a half-built index; asked again at the next result */
	char key[300], summary[600], why[400];
	snprintf(key, sizeof(key), "delivery-dead/%s", instance);
	/* Cut between characters: a split one would make the alert invalid JSON text. */
	text_utf8_copy(why, sizeof(why), error && *error ? error : "see crierctl deliveries --dead");
	snprintf(summary, sizeof(summary), "Deliveries to %s are failing: %s", instance, why);
	json_t *labels = json_pack("{ss ss ss ss}", "alertname", "DeliveryDead", "service", "crier", "severity",
	                           "warning", "channel", instance);
	json_t *annotations = json_pack("{ss}", "summary", summary);
	json_t *a = alert_new("crier", key, firing ? "firing" : "resolved", labels, annotations, firing ? now : 0,
	                      firing ? 0 : now, "");
	if (!a)
		return -1;
	int rc = incidents_apply(c->inc, a, NULL, now);
	json_decref(a);
	if (rc > 0 && firing)
		log_warn("raised an alert: a channel dead-letters", " instance=%s alert=DeliveryDead", instance);
	return rc < 0 ? -1 : 0;
}

/* A transaction ended: count its events if it committed. */
static void tx_done(core *c, int committed)
{
	if (committed)
		metrics_events(c->new_events);
	c->new_events = 0;
	if (c->pm)
		postmortem_tx_done(c->pm, committed);
}

/* After a failed transaction the in-memory index may be ahead of the store:
 * rebuild it, and while that fails refuse ingest (503) rather than act on a
 * partial index (which would open duplicate incidents). */
static void rebuild_index(core *c)
{
	tx_done(c, 0);
	if (incidents_reload(c->inc) == 0 && cadence_reload(c->cad, timefmt_now_ms()) == 0 &&
	    watchdog_reload(c->wd) == 0) {
		if (c->broken)
			log_info("incident index rebuilt; accepting alerts again", NULL);
		c->broken = 0;
		atomic_store(&c->ready, 1);
		metrics_set_ready(1);
		return;
	}
	if (!c->broken)
		log_error("cannot rebuild the incident index from the store; refusing alerts until it works", NULL);
	c->broken = 1;
	atomic_store(&c->ready, 0);
	metrics_set_ready(0);
}

/* ---- ingest batches -------------------------------------------------------------- */

/* The body of a worker's alerts message: a reference moves, the alerts
 * are not copied; their heads follow it (n_heads of them, or none). */
typedef struct core_alerts_msg {
	json_t *alerts;
	int64_t received_us;
	size_t n_heads;
} core_alerts_msg;

typedef struct ingest_msg {
	void *sock;
	zmq_msg_t id;
	int delim;  /* the peer is a REQ socket: answer with an empty delimiter */
	int tagged; /* an HTTP worker's request: answer with its tag */
	void *tag;
	int64_t received_us; /* when its request arrived whole (timefmt_mono_us), 0 = unknown */
	json_t *alerts;
	zmq_msg_t body;             /* a worker's message, open while heads points into it */
	const unsigned char *heads; /* in body: one alert_head per alert, maybe unaligned; NULL = none */
	char reply[256];
} ingest_msg;

static int send_reply(ingest_msg *p)
{
	zmq_msg_t msg;
	if (zmq_msg_send(&p->id, p->sock, ZMQ_SNDMORE) < 0)
		return -1;
	if (p->delim && zmq_send(p->sock, "", 0, ZMQ_SNDMORE) < 0)
		return -1;
	if (p->tagged && zmq_send(p->sock, &p->tag, sizeof(p->tag), ZMQ_SNDMORE) < 0)
		return -1;
	if (zmq_msg_init_size(&msg, strlen(p->reply)) < 0)
		return -1;
	memcpy(zmq_msg_data(&msg), p->reply, strlen(p->reply));
	if (zmq_msg_send(&msg, p->sock, 0) < 0) {
		zmq_msg_close(&msg);
		return -1;
	}
	return 0;
}

/*
 * The frames after frame id (a ROUTER's identity, or an answer's delimiter),
 * at most three kept (the rest are read and dropped). Returns how many were
 * kept; *extra says whether there were more.
 */
static int recv_frames(void *sock, const zmq_msg_t *id, zmq_msg_t f[3], int *extra)
{
	int n = 0, more = zmq_msg_more(id);
	*extra = 0;
	while (more) {
		zmq_msg_t drop, *m = n < 3 ? &f[n] : &drop;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, 0) < 0) {
			zmq_msg_close(m);
			break;
		}
		more = zmq_msg_more(m);
		if (m == &drop) {
			*extra = 1;
			zmq_msg_close(m);
		} else {
			n++;
		}
	}
	return n;
}

/* A tagged envelope, as core_send_alerts/core_send_control frame a request
 * and the core its answer: an empty delimiter, then a pointer-sized tag. */
static int tagged_envelope(const zmq_msg_t *delim, const zmq_msg_t *tag)
{
	return zmq_msg_size(delim) == 0 && zmq_msg_size(tag) == sizeof(void *);
}

/* Read one message from a ROUTER without blocking. 1 got one, 0 none, -1 error. */
static int recv_one(core *c, void *sock, ingest_msg *p)
{
	memset(p, 0, sizeof(*p));
	p->sock = sock;
	zmq_msg_init(&p->id);
	if (zmq_msg_recv(&p->id, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&p->id);
		return errno == EAGAIN ? 0 : -1;
	}
	zmq_msg_t f[3];
	int extra, n = recv_frames(sock, &p->id, f, &extra);
	/* A REQ peer (or our own workers) starts with an empty delimiter. */
	p->delim = n >= 2 && zmq_msg_size(&f[0]) == 0;
	zmq_msg_t *body = n > p->delim ? &f[p->delim] : NULL;
	if (sock == c->ingest) {
		/* Our workers only: delimiter, tag, pointer. */
		p->tagged = n == 3 && tagged_envelope(&f[0], &f[1]);
		if (p->tagged)
			memcpy(&p->tag, zmq_msg_data(&f[1]), sizeof(p->tag));
		core_alerts_msg m;
		if (p->tagged && !extra && zmq_msg_size(&f[2]) >= sizeof(m)) {
			memcpy(&m, zmq_msg_data(&f[2]), sizeof(m));
			p->alerts = m.alerts;
			p->received_us = m.received_us;
			/* Heads for every alert, or none; kept with their message. */
			if (m.n_heads && m.n_heads == json_array_size(m.alerts) &&
			    zmq_msg_size(&f[2]) == sizeof(m) + m.n_heads * sizeof(alert_head)) {
				zmq_msg_init(&p->body);
				zmq_msg_move(&p->body, &f[2]);
				p->heads = (const unsigned char *)zmq_msg_data(&p->body) + sizeof(m);
			}
		} else
			snprintf(p->reply, sizeof(p->reply), "ERR 400 malformed internal message");
	} else if (body && zmq_msg_size(body) > c->cfg->max_body_bytes) {
		snprintf(p->reply, sizeof(p->reply), "ERR 413 message is larger than %zu bytes",
		         c->cfg->max_body_bytes);
	} else {
		/* The first frame after any delimiter is the body; extra frames are ignored. */
		char err[200];
		ingest_status st = ingest_generic(body ? zmq_msg_data(body) : "", body ? zmq_msg_size(body) : 0,
		                                  &c->cfg->limits, &p->alerts, err, sizeof(err));
		if (st == INGEST_BAD)
			snprintf(p->reply, sizeof(p->reply), "ERR 400 %s", err);
		else if (st == INGEST_IGNORED)
			snprintf(p->reply, sizeof(p->reply), "OK 0 ignored: %s", err);
		else
			metrics_alerts(CONFIG_SRC_GENERIC, (unsigned)json_array_size(p->alerts));
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	return 1;
}

/*
 * One turn of work in one transaction: the ingest messages waiting (up to
 * store.batch_max) and the delivery results that arrived. Committing them
 * together halves the commits under load; senders are answered only after
 * the commit. hosts[i] says whether host socket i is readable.
 */
static void handle_turn(core *c, int ingest, const int *hosts, size_t nh, int64_t now)
{
	size_t max = c->cfg->batch_max > 0 ? (size_t)c->cfg->batch_max : 512;
	size_t n = 0;
	if (c->batch_cap < max) {
		ingest_msg *grown = realloc(c->batch, max * sizeof(*grown));
		if (grown) {
			c->batch = grown;
			c->batch_cap = max;
		} else {
			ingest = 0; /* the messages stay queued; a later turn tries again */
		}
	}
	ingest_msg *batch = c->batch;
	void *socks[2] = {c->ingest, c->ext};
	for (int s = 0; ingest && s < 2; s++) {
		while (socks[s] && n < max) {
			int r = recv_one(c, socks[s], &batch[n]);
			if (r <= 0)
				break;
			n++;
		}
	}
	if (n && c->broken)
		rebuild_index(c);
	int ok = store_begin(c->st) == 0;
	unsigned dups = 0;
	for (size_t i = 0; ok && !c->broken && i < n; i++) {
		if (!batch[i].alerts)
			continue;
		int changed = 0;
		size_t j;
		json_t *a;
		/* Events routed while these alerts apply were caused by this request. */
		c->accepted_us = batch[i].received_us;
		json_array_foreach(batch[i].alerts, j, a)
		{
			alert_head head;
			if (batch[i].heads)
				memcpy(&head, batch[i].heads + j * sizeof(head), sizeof(head));
			/* The Watchdog proves the feed alive; it is never an incident. */
			int w = watchdog_consume(c->wd, a, now);
			int r = w == 0 ? incidents_apply(c->inc, a, batch[i].heads ? &head : NULL, now) : w;
			if (r < 0) {
				ok = 0;
				break;
			}
			changed += w == 0 ? r : 0;
			dups += w == 0 && r == 0;
		}
		snprintf(batch[i].reply, sizeof(batch[i].reply), "OK %d", changed);
	}
	c->accepted_us = 0;
	for (size_t i = 0; ok && i < nh; i++)
		if (hosts[i] && outbox_on_result(c->ob, i, now) < 0)
			ok = 0;
	if (ok && incidents_flush(c->inc) == 0 && store_commit(c->st) == 0) {
		metrics_duplicates(dups);
		tx_done(c, 1);
	} else {
		char why[200];
		snprintf(why, sizeof(why), "%s", store_error(c->st));
		store_rollback(c->st);
		if (!c->broken)
			log_error("store commit failed; alerts are refused (their senders retry) and delivery results "
			          "are dropped (those deliveries go out again)",
			          " error=%s messages=%zu", log_q(why), n);
		rebuild_index(c);
		outbox_forget_dead_alerts(c->ob);
		/* The rolled-back events' ids will be given again, to other events. */
		outbox_forget_accepted(c->ob);
		outbox_wake(c->ob, NULL);
		ok = 0;
		/* A store that cannot even begin would make every turn fail at once:
		 * leave ingest and results queued for a second. */
		c->retry_at = now + 1000;
	}
	for (size_t i = 0; i < n; i++) {
		if (batch[i].alerts && (!ok || c->broken))
			snprintf(batch[i].reply, sizeof(batch[i].reply), "ERR 503 store unavailable");
		/* Drop our reference before answering: the sender holds the other
		 * one, so the freeing of the whole document falls on its thread. */
		json_decref(batch[i].alerts);
		if (batch[i].heads)
			zmq_msg_close(&batch[i].body);
		if (send_reply(&batch[i]) < 0)
			log_warn("could not answer an ingest request", " error=%s", log_q(zmq_strerror(zmq_errno())));
		zmq_msg_close(&batch[i].id);
	}
}

/* ---- control and commands ---------------------------------------------------------- */

/* Run one control request; the reply is new text, or NULL when out of memory. */
static char *run_control(core *c, zmq_msg_t *req)
{
	c->ctl_ctx.cfg = c->cfg;
	c->ctl_ctx.rolled_back = 0;
	char *reply = control_handle(&c->ctl_ctx, zmq_msg_data(req), zmq_msg_size(req), timefmt_now_ms());
	if (c->ctl_ctx.rolled_back)
		rebuild_index(c);
	else
		tx_done(c, 1);
	return reply;
}

#define CONTROL_OOM "{\"ok\":false,\"error\":\"out of memory\"}"

static void handle_control(core *c)
{
	zmq_msg_t req;
	zmq_msg_init(&req);
	if (zmq_msg_recv(&req, c->ctl, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&req);
		return;
	}
	/* REP needs exactly one reply per request, even for junk. */
	while (zmq_msg_more(&req)) {
		zmq_msg_close(&req);
		zmq_msg_init(&req);
		zmq_msg_recv(&req, c->ctl, 0);
	}
	char *reply = run_control(c, &req);
	const char *r = reply ? reply : CONTROL_OOM;
	if (zmq_send(c->ctl, r, strlen(r), 0) < 0)
		log_error("cannot answer on the control socket", " error=%s", log_q(zmq_strerror(zmq_errno())));
	free(reply);
	zmq_msg_close(&req);
}

/* A request from core_send_control: identity, empty delimiter, tag, body. */
static void handle_control_in(core *c)
{
	zmq_msg_t id, f[3];
	int n = 0, extra = 0;
	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, c->ctl_in, ZMQ_DONTWAIT) < 0)
		goto out;
	n = recv_frames(c->ctl_in, &id, f, &extra);
	/* Only our own workers connect here: anything else is dropped unanswered. */
	if (n != 3 || extra || !tagged_envelope(&f[0], &f[1]))
		goto out;
	char *reply = run_control(c, &f[2]);
	const char *r = reply ? reply : CONTROL_OOM;
	if (zmq_msg_send(&id, c->ctl_in, ZMQ_SNDMORE) < 0 || zmq_send(c->ctl_in, "", 0, ZMQ_SNDMORE) < 0 ||
	    zmq_send(c->ctl_in, zmq_msg_data(&f[1]), sizeof(void *), ZMQ_SNDMORE) < 0 ||
	    zmq_send(c->ctl_in, r, strlen(r), 0) < 0)
		log_warn("could not answer a control request from HTTP", " error=%s", log_q(zmq_strerror(zmq_errno())));
	free(reply);
out:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&id);
}

static void reply_cmd(core *c, const char *txt)
{
	zmq_send(c->cmd, txt, strlen(txt), 0);
}

static void handle_cmd(core *c)
{
	char buf[1 + sizeof(void *)];
	int n = zmq_recv(c->cmd, buf, sizeof(buf), ZMQ_DONTWAIT);
	if (n < 1)
		return;
	if (buf[0] == 'S') {
		c->stopping = 1;
		return;
	}
	if (buf[0] == 'R' && n == (int)sizeof(buf)) {
		const config *next;
		memcpy(&next, buf + 1, sizeof(next));
		char err[512];
		const config *prev = c->cfg;
		c->cfg = next;
		if (outbox_configure(c->ob, next, err, sizeof(err)) < 0) {
			char err2[512];
			c->cfg = prev;
			if (outbox_configure(c->ob, prev, err2, sizeof(err2)) < 0)
				log_error("cannot restore the previous channels", " error=%s", log_q(err2));
			char reply[600];
			snprintf(reply, sizeof(reply), "ERR %s", err);
			reply_cmd(c, reply);
			return;
		}
		incidents_set_config(c->inc, next);
		postmortem_set_config(c->pm, next);
		cadence_set_config(c->cad, next);
		watchdog_set_config(c->wd, next, timefmt_now_ms());
		subscribers_configure(c->subs, next);
		if (c->ext) {
			/* The socket's own cap (new connections) follows the reloaded limit. */
			int64_t cap = 4 * (int64_t)next->max_body_bytes;
			zmq_setsockopt(c->ext, ZMQ_MAXMSGSIZE, &cap, sizeof(cap));
		}
		reply_cmd(c, "OK");
	}
}

/* ---- the loop ---------------------------------------------------------------------- */

static void update_gauges(core *c)
{
	int64_t pending = 0, dead = 0;
	if (store_outbox_counts(c->st, &pending, &dead) == 0)
		metrics_set_outbox(pending, dead);
	metrics_set_incidents_open((int64_t)incidents_open_count(c->inc));
}

/* The earliest of every timer the core keeps: holds, update clocks, the watchdog, post-mortem reminders. */
static int64_t next_deadline(const core *c)
{
	int64_t next = incidents_next_deadline(c->inc), cad = cadence_next_deadline(c->cad),
	        wd = watchdog_next_deadline(c->wd), pm = postmortem_next_deadline(c->pm);
	if (cad < next)
		next = cad;
	if (pm < next)
		next = pm;
	return wd < next ? wd : next;
}

static void run_timers(core *c, int64_t now, int64_t *next)
{
	if (store_begin(c->st) < 0) {
		*next = now + 1000;
		return;
	}
	int64_t own_next; /* each tick's own deadline; the steps may move the others' */
	int n = incidents_tick(c->inc, now, &own_next);
	if (n >= 0)
		n = cadence_tick(c->cad, now, &own_next);
	if (n >= 0)
		n = watchdog_tick(c->wd, now, &own_next);
	if (n >= 0)
		n = postmortem_tick(c->pm, now, &own_next);
	if (n >= 0)
		*next = next_deadline(c);
	if (n < 0 || incidents_flush(c->inc) < 0 || store_commit(c->st) < 0) {
		log_error(
		    "cannot run the timers (monitoring holds, update reminders, the watchdog, post-mortem reminders)",
		    " error=%s", log_q(store_error(c->st)));
		store_rollback(c->st);
		rebuild_index(c);
		*next = now + 1000;
	} else {
		tx_done(c, 1);
	}
}

static void *core_main(void *arg)
{
	core *c = arg;
	zmq_pollitem_t items[5 + 2 * MAX_HOSTS];
	void *hosts[MAX_HOSTS];
	int host_fds[MAX_HOSTS];
	size_t fd_item[MAX_HOSTS];
	int64_t next_timer = 0, next_outbox = 0, next_gauges = 0, stop_deadline = 0;
	pthread_setname_np(pthread_self(), "crier-core");
	atomic_store(&c->ready, 1);
	metrics_set_ready(1);
	for (;;) {
		int64_t now = timefmt_now_ms();
		if (c->stopping) {
			if (!stop_deadline) {
				stop_deadline = now + STOP_GRACE_MS;
				/* Queued deliveries come back unattempted; those in progress finish. */
				outbox_begin_stop(c->ob);
				log_info("stopping: finishing deliveries in flight", " inflight=%zu",
				         outbox_inflight(c->ob));
			}
			if (outbox_inflight(c->ob) == 0 || now >= stop_deadline)
				break;
		}
		int64_t wake = next_timer < next_outbox ? next_timer : next_outbox;
		if (next_gauges < wake)
			wake = next_gauges;
		/* Backing off after a failed transaction: leave ingest and results queued. */
		short work = now < c->retry_at ? 0 : ZMQ_POLLIN;
		if (!work && c->retry_at < wake)
			wake = c->retry_at;
		long timeout = wake <= now ? 0 : (wake - now > 1000 ? 1000 : (long)(wake - now));
		size_t n = 0;
		items[n++] = (zmq_pollitem_t){.socket = c->ingest, .events = work};
		items[n++] = (zmq_pollitem_t){.socket = c->ctl, .events = ZMQ_POLLIN};
		items[n++] = (zmq_pollitem_t){.socket = c->cmd, .events = ZMQ_POLLIN};
		items[n++] = (zmq_pollitem_t){.socket = c->ctl_in, .events = ZMQ_POLLIN};
		size_t ext_i = n;
		if (c->ext)
			items[n++] = (zmq_pollitem_t){.socket = c->ext, .events = work};
		size_t host_base = n;
		size_t nh = outbox_sockets(c->ob, hosts, host_fds, MAX_HOSTS);
		for (size_t i = 0; i < nh; i++)
			items[n++] = (zmq_pollitem_t){.socket = hosts[i], .events = work};
		/* A process host's exit is news like a result: it is handled in the same turn. */
		for (size_t i = 0; i < nh; i++) {
			fd_item[i] = n;
			if (host_fds[i] >= 0)
				items[n++] = (zmq_pollitem_t){.socket = NULL, .fd = host_fds[i], .events = work};
		}
		if (zmq_poll(items, (int)n, timeout) < 0) {
			if (zmq_errno() == ETERM)
				break;
			continue;
		}
		now = timefmt_now_ms();
		int ingest = (items[0].revents & ZMQ_POLLIN) || (c->ext && (items[ext_i].revents & ZMQ_POLLIN));
		int readable[MAX_HOSTS], results = 0;
		for (size_t i = 0; i < nh; i++) {
			readable[i] = (items[host_base + i].revents & ZMQ_POLLIN) != 0 ||
			              (host_fds[i] >= 0 && (items[fd_item[i]].revents & ZMQ_POLLIN) != 0);
			results |= readable[i];
		}
		if (ingest || results)
			handle_turn(c, ingest, readable, nh, now);
		/* Results can end a hold too (crier's own DeliveryDead resolving). */
		int changed = ingest || results;
		if (items[1].revents & ZMQ_POLLIN) {
			handle_control(c);
			changed = 1;
		}
		if (items[3].revents & ZMQ_POLLIN) {
			handle_control_in(c);
			changed = 1;
		}
		/* Alerts or people may have started or ended a hold or an update clock. */
		if (items[2].revents & ZMQ_POLLIN) {
			handle_cmd(c);
			changed = 1; /* a reload may turn the watchdog on or off */
		}
		if (changed)
			next_timer = next_deadline(c);
		if (now >= next_timer)
			run_timers(c, now, &next_timer);
		if (!c->stopping)
			outbox_dispatch(c->ob, now, &next_outbox);
		else
			next_outbox = now + 100;
		if (now >= next_gauges) {
			update_gauges(c);
			next_gauges = now + 1000;
		}
	}
	/* Answer what is still queued so no sender waits for nothing. */
	handle_turn(c, 1, NULL, 0, timefmt_now_ms());
	/* Stop the plugin hosts here, not after the join: a child process this
	 * thread started is killed when the thread ends (PR_SET_PDEATHSIG
	 * follows the thread, not the process), and it deserves an orderly stop. */
	outbox_free(c->ob);
	c->ob = NULL;
	c->ctl_ctx.ob = NULL;
	atomic_store(&c->ready, 0);
	metrics_set_ready(0);
	reply_cmd(c, "OK");
	return NULL;
}

/* ---- start / stop ------------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(buf, 0750) < 0 && errno != EEXIST) ? -1 : 0;
}

/* One crierd per state directory: two writers would fight over the store. */
static int lock_state_dir(core *c, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/crierd.lock", dir);
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t r = pread(c->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[r > 0 ? r : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "another crierd (pid %s) is using the state directory %s", pid[0] ? pid : "?",
		         dir);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(c->lock_fd, 0) < 0 || pwrite(c->lock_fd, pid, (size_t)len, 0) < 0)
		log_warn("cannot write the pid into the lock file", " path=%s", path);
	return 0;
}

/* max_msg: largest message accepted (a bigger one drops the peer), 0 = any. */
static void *bind_socket(void *zctx, int type, const char *endpoint, int64_t max_msg, char *err, size_t errlen)
{
	void *s = zmq_socket(zctx, type);
	int linger = 0;
	if (!s) {
		snprintf(err, errlen, "cannot create a socket for %s: %s", endpoint, zmq_strerror(zmq_errno()));
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (max_msg > 0)
		zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof(max_msg));
	if (zmq_bind(s, endpoint) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void close_sockets(core *c)
{
	void **all[] = {&c->ingest, &c->ext, &c->ctl, &c->ctl_in, &c->cmd, &c->cmd_main};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i])
			zmq_close(*all[i]);
		*all[i] = NULL;
	}
}

static void core_free(core *c)
{
	outbox_free(c->ob);
	drafts_free(c->dr);
	postmortem_free(c->pm);
	cadence_free(c->cad);
	watchdog_free(c->wd);
	incidents_free(c->inc);
	subscribers_free(c->subs);
	close_sockets(c);
	store_close(c->st);
	if (c->ctl_path)
		unlink(c->ctl_path);
	free(c->ctl_path);
	if (c->lock_fd > 0)
		close(c->lock_fd);
	free(c->batch);
	free(c);
}

core *core_start(void *zctx, const config *cfg, char *err, size_t errlen)
{
	core *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->zctx = zctx;
	c->cfg = cfg;
	c->lock_fd = -1;
	char path[4096];
	if (mkdir_p(cfg->state_dir) < 0) {
		snprintf(err, errlen, "cannot create the state directory %s: %s", cfg->state_dir, strerror(errno));
		goto fail;
	}
	if (lock_state_dir(c, cfg->state_dir, err, errlen) < 0)
		goto fail;
	plugin_host_sweep(cfg->state_dir);
	snprintf(path, sizeof(path), "%s/crier.db", cfg->state_dir);
	c->st = store_open(path, cfg->store_sync_full, cfg->checkpoint_pages, err, errlen);
	if (!c->st)
		goto fail;
	/* A lane whose head went missing would hold its deliveries forever:
	 * cheap to check once, before the outbox reads the heads. */
	int64_t mended = store_outbox_mend_heads(c->st);
	if (mended < 0) {
		snprintf(err, errlen, "cannot check the outbox in %s: %s", path, store_error(c->st));
		goto fail;
	}
	if (mended > 0)
		log_warn("outbox lanes mended: pending deliveries had the wrong head mark (a defect, please report it "
		         "with the log), now each lane's oldest goes first",
		         " rows=%" PRId64, mended);
	c->ob = outbox_new(c->st, zctx);
	if (!c->ob) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->subs = subscribers_open(c->st, err, errlen);
	if (!c->subs)
		goto fail;
	subscribers_configure(c->subs, cfg);
	outbox_set_subscribers(c->ob, c->subs);
	c->inc = incidents_new(c->st, cfg, core_route, c, err, errlen);
	if (!c->inc)
		goto fail;
	outbox_on_dead(c->ob, core_dead_letter, c);
	int64_t started = timefmt_now_ms();
	if (!(c->cad = cadence_new(c->st, c->inc, cfg, started, err, errlen)) ||
	    !(c->wd = watchdog_new(c->st, c->inc, cfg, started, err, errlen)))
		goto fail;
	c->dr = drafts_new(c->st, c->inc);
	if (!c->dr) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	outbox_on_drafts(c->ob, drafts_offered, drafts_publication, c->dr);
	c->pm = postmortem_new(c->st, c->inc, cfg, err, errlen);
	if (!c->pm)
		goto fail;
	if (outbox_configure(c->ob, cfg, err, errlen) < 0)
		goto fail;
	if (!(c->ingest = bind_socket(zctx, ZMQ_ROUTER, INGEST_ENDPOINT, 0, err, errlen)))
		goto fail;
	if (cfg->zmq_ingest &&
	    !(c->ext = bind_socket(zctx, ZMQ_ROUTER, cfg->zmq_ingest, 4 * (int64_t)cfg->max_body_bytes, err, errlen)))
		goto fail;
	/* The control socket: only our user may connect (mode 0600). */
	unlink(cfg->control_path);
	char ep[4200];
	snprintf(ep, sizeof(ep), "ipc://%s", cfg->control_path);
	mode_t old = umask(0077);
	c->ctl = bind_socket(zctx, ZMQ_REP, ep, 1 << 20, err, errlen);
	umask(old);
	if (!c->ctl)
		goto fail;
	c->ctl_path = strdup(cfg->control_path);
	if (!c->ctl_path || chmod(cfg->control_path, 0600) < 0) {
		snprintf(err, errlen, "cannot set mode 0600 on %s", cfg->control_path);
		goto fail;
	}
	if (!(c->cmd = bind_socket(zctx, ZMQ_PAIR, CMD_ENDPOINT, 0, err, errlen)))
		goto fail;
	if (!(c->ctl_in = bind_socket(zctx, ZMQ_ROUTER, CONTROL_ENDPOINT, 1 << 20, err, errlen)))
		goto fail;
	c->cmd_main = zmq_socket(zctx, ZMQ_PAIR);
	if (!c->cmd_main || zmq_connect(c->cmd_main, CMD_ENDPOINT) < 0) {
		snprintf(err, errlen, "cannot connect the command socket");
		goto fail;
	}
	c->ctl_ctx = (control_ctx){.st = c->st,
	                           .inc = c->inc,
	                           .ob = c->ob,
	                           .dr = c->dr,
	                           .subs = c->subs,
	                           .cfg = cfg,
	                           .started_ms = timefmt_now_ms()};
	c->ctl_ctx.pm = c->pm;
	if (pthread_create(&c->thread, NULL, core_main, c) != 0) {
		snprintf(err, errlen, "cannot start the core thread");
		goto fail;
	}
	c->thread_started = 1;
	return c;
fail:
	core_free(c);
	return NULL;
}

int core_ready(const core *c)
{
	return atomic_load(&((core *)c)->ready);
}

/* ---- front doors for other threads -------------------------------------------------- */

void *core_socket(core *c, core_channel ch, char *err, size_t errlen)
{
	int linger = 0;
	void *s = zmq_socket(c->zctx, ZMQ_DEALER);
	if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_connect(s, ch == CORE_INGEST ? INGEST_ENDPOINT : CONTROL_ENDPOINT) < 0) {
		snprintf(err, errlen, "cannot reach the core: %s", zmq_strerror(zmq_errno()));
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

/* The envelope of a tagged request: an empty delimiter (as REQ would send),
 * the tag, then a body of a's alen bytes followed by b's blen. 0, or -1. */
static int send_tagged(void *sock, void *tag, const void *a, size_t alen, const void *b, size_t blen)
{
	zmq_msg_t body;
	if (zmq_msg_init_size(&body, alen + blen) < 0)
		return -1;
	memcpy(zmq_msg_data(&body), a, alen);
	if (blen)
		memcpy((char *)zmq_msg_data(&body) + alen, b, blen);
	/* Never wait: a core so far behind that its queue is full gets the
	 * request refused now (503) rather than the whole worker frozen. A
	 * message's first frame taken, the rest of it is too. */
	if (zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(sock, &tag, sizeof(tag), ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, sock, 0) < 0) {
		zmq_msg_close(&body);
		return -1;
	}
	return 0;
}

int core_send_alerts(void *sock, json_t *alerts, const alert_head *heads, size_t n_heads, int64_t received_us,
                     void *tag)
{
	core_alerts_msg m = {.alerts = alerts, .received_us = received_us, .n_heads = heads ? n_heads : 0};
	if (send_tagged(sock, tag, &m, sizeof(m), heads, m.n_heads * sizeof(*heads)) < 0) {
		/* A half-sent message is never delivered: the reference is ours to drop. */
		json_decref(alerts);
		return -1;
	}
	return 0;
}

int core_send_control(void *sock, const char *req, void *tag)
{
	return send_tagged(sock, tag, req, strlen(req), NULL, 0);
}

int core_recv(void *sock, void **tag, char **reply)
{
	zmq_msg_t delim, f[3];
	int n = 0, extra = 0, ret = -1;
	*tag = NULL;
	*reply = NULL;
	zmq_msg_init(&delim);
	if (zmq_msg_recv(&delim, sock, ZMQ_DONTWAIT) < 0) {
		ret = zmq_errno() == EAGAIN ? 0 : -1;
		goto out;
	}
	/* Delimiter, tag, text: anything else is not one of ours. */
	n = recv_frames(sock, &delim, f, &extra);
	if (n != 2 || extra || !tagged_envelope(&delim, &f[0]))
		goto out;
	memcpy(tag, zmq_msg_data(&f[0]), sizeof(*tag));
	*reply = strndup(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
	ret = *reply ? 1 : -1;
out:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&delim);
	return ret;
}

int core_reload(core *c, const config *cfg, char *err, size_t errlen)
{
	char msg[1 + sizeof(void *)];
	msg[0] = 'R';
	memcpy(msg + 1, &cfg, sizeof(cfg));
	if (zmq_send(c->cmd_main, msg, sizeof(msg), 0) < 0) {
		snprintf(err, errlen, "cannot reach the core");
		return -1;
	}
	char reply[600];
	int n = zmq_recv(c->cmd_main, reply, sizeof(reply) - 1, 0);
	if (n < 0) {
		snprintf(err, errlen, "no answer from the core");
		return -1;
	}
	reply[n < (int)sizeof(reply) ? n : (int)sizeof(reply) - 1] = '\0';
	if (strcmp(reply, "OK") == 0)
		return 0;
	snprintf(err, errlen, "%s", reply + 4);
	return -1;
}

void core_stop(core *c)
{
	if (!c)
		return;
	if (c->thread_started) {
		zmq_send(c->cmd_main, "S", 1, 0);
		char reply[8];
		zmq_recv(c->cmd_main, reply, sizeof(reply), 0);
		pthread_join(c->thread, NULL);
	}
	core_free(c);
}
