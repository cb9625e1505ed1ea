/*
 * The outbox. Each configured instance is a channel: a plugin host (a
 * thread or a child process) and a window of deliveries queued at it. See
 * outbox.h for the rules.
 */
#include "outbox.h"

#include "audience.h"
#include "hmap.h"
#include "json_writer.h"
#include "log.h"
#include "metrics.h"
#include "plugin_host.h"
#include "plugin_loader.h"
#include "subscribers.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A delivery handed to a host and not answered yet. */
typedef struct inflight {
	int64_t id, event_id, incident_id, created_at;
	int approval;  /* a draft_approved event: maybe a draft's publication */
	int personal;  /* to one member of the public (a subscriber, a confirmation): their address may be bad */
	uint64_t lane; /* hash of the recipient: order is kept per incident and recipient */
	uint64_t seq;  /* the order it went to the host in, which the host keeps */
	int attempts;
} inflight;

/* A process host that died is started again after a delay that doubles
 * while it keeps dying without answering anything (a plugin that crashes in
 * init must not spin), back to the first once it answers. */
#define RESTART_FIRST_MS 100
#define RESTART_MAX_MS   30000

/* Deliveries queued at one host at a time: enough to keep a fast channel
 * busy while the core does other work, few enough to keep a restart cheap.
 * A lane (an incident and recipient) has one delivery out at a time and
 * moves on once per core turn, so a channel keeps up only while the window
 * covers the lanes busy at once. At 32, under bench.py's load (50 incidents,
 * every event to the log plugin) deliveries fell behind by about 1,000 a
 * second; the pending rows' index (outbox_order) grew, and rewriting its
 * pages was half of what the WAL took. At 64 the backlog stays near 100
 * and a request writes 1.4 WAL pages instead of 3.0. */
#define CHANNEL_WINDOW 64

/* Personal deliveries failed for good in a row that raise the channel's
 * DeliveryDead alert (one stranger's bad address must not page anyone). */
#define PERSONAL_FAIL_STREAK 5

typedef struct channel {
	char *name;
	char *plugin;
	char *config_json; /* to tell a changed instance on reload */
	config_delivery delivery;
	int audience_public; /* hand it the public view of events (audience.h) */
	/* The last public view made: an event fans out to many subscribers in a
	 * row, and a stored document never changes. */
	int64_t pub_event;
	char *pub_doc;
	int subscribers; /* CONFIG_SUBSCRIBERS_*: its recipients are subscribers of that kind */
	int fail_streak; /* personal deliveries failed for good in a row, since the last success */
	plugin_host *host;
	int64_t wake_at; /* 0 = look now; INT64_MAX = nothing pending */
	int stale;       /* removed or changed: stop once idle */
	inflight fly[CHANNEL_WINDOW];
	int n_fly;
	uint64_t sent; /* deliveries handed to the host so far */
	config_isolation isolation;
	int64_t restart_at; /* a process host is down: start it again then */
	int64_t restart_ms; /* the delay before the next restart; 0 = RESTART_FIRST_MS */
	/* Our own DeliveryDead alert for this channel: unknown after a start,
	 * so the first success clears whatever a previous run left firing. */
	enum { DEAD_ALERT_UNKNOWN = 0, DEAD_ALERT_CLEAR, DEAD_ALERT_FIRING } dead_alert;
} channel;

/* Libraries kept for abandoned plugin threads (see outbox_free). */
static plugin_lib **volatile kept_libs __attribute__((used));

struct outbox {
	store *st;
	void *zctx;
	outbox_dead_fn on_dead;
	void *on_dead_ctx;
	outbox_drafted_fn on_drafted;
	outbox_published_fn on_published;
	void *drafts_ctx;
	plugin_lib **libs;
	size_t n_libs;
	channel **ch;
	size_t n_ch;
	size_t poll_ch[OUTBOX_MAX_CHANNELS]; /* outbox_sockets' index -> channel index */
	size_t n_poll;
	int stopping;
	/* outbox_note_accepted's memory, indexed by event id: a slot is
	 * overwritten by a later event, never searched. */
	struct {
		int64_t event_id, us;
	} accepted[8192]; /* at 1,000 events/s, the last 8 s */
	unsigned rnd;
	char *status_page_url; /* from the configuration, for the events' links; NULL = none */
	subscribers *subs;     /* borrowed, NULL = none */
	json_writer doc;       /* the delivery being handed over, kept from one to the next */
};

outbox *outbox_new(store *s, void *zctx)
{
	outbox *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->st = s;
	o->zctx = zctx;
	o->rnd = 0x9e3779b9u;
	return o;
}

static plugin_lib *lib_get(outbox *o, char *const *dirs, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < o->n_libs; i++)
		if (strcmp(o->libs[i]->name, name) == 0)
			return o->libs[i];
	plugin_lib **grown = realloc(o->libs, (o->n_libs + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->libs = grown;
	plugin_lib *lib = plugin_loader_open(dirs, name, err, errlen);
	if (!lib)
		return NULL;
	o->libs[o->n_libs++] = lib;
	return lib;
}

static void channel_free(channel *c)
{
	if (!c)
		return;
	plugin_host_stop(c->host); /* a stuck one is abandoned: see plugin_host_abandoned() */
	free(c->name);
	free(c->plugin);
	free(c->config_json);
	free(c->pub_doc);
	free(c);
}

static channel *channel_find(outbox *o, const char *name)
{
	for (size_t i = 0; i < o->n_ch; i++)
		if (!o->ch[i]->stale && strcmp(o->ch[i]->name, name) == 0)
			return o->ch[i];
	return NULL;
}

int outbox_channel_describe(outbox *o, const char *name, outbox_channel_info *info)
{
	channel *c = o ? channel_find(o, name) : NULL;
	if (!c)
		return -1;
	int process = c->isolation == CONFIG_ISOLATION_PROCESS;
	*info = (outbox_channel_info){.process = process,
	                              .pid = process && c->host && plugin_host_ready(c->host) ? plugin_host_pid(c->host)
	                                                                                      : 0,
	                              .deaths = metrics_host_deaths(name),
	                              .in_flight = c->n_fly};
	return 0;
}

static channel *channel_new(outbox *o, const config *cfg, const config_instance *ic, char *err, size_t errlen)
{
	/* A child process loads its plugin itself: crierd never maps its code. */
	plugin_lib *lib = NULL;
	if (ic->isolation == CONFIG_ISOLATION_THREAD && !(lib = lib_get(o, cfg->plugin_dirs, ic->plugin, err, errlen)))
		return NULL;
	channel *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(ic->name)) || !(c->plugin = strdup(ic->plugin)) ||
	    !(c->config_json = strdup(ic->config_json))) {
		channel_free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->delivery = ic->delivery;
	c->audience_public = ic->audience_public;
	c->subscribers = ic->subscribers;
	c->isolation = ic->isolation;
	c->host = plugin_host_start(o->zctx, lib, ic, cfg, err, errlen);
	if (!c->host) {
		channel_free(c);
		return NULL;
	}
	return c;
}

/* Stop channels marked stale that are idle; keep the rest. */
static void reap(outbox *o)
{
	size_t w = 0;
	for (size_t i = 0; i < o->n_ch; i++) {
		channel *c = o->ch[i];
		if (c->stale && c->n_fly == 0) {
			log_info("channel stopped", " instance=%s", c->name);
			channel_free(c);
		} else {
			o->ch[w++] = c;
		}
	}
	o->n_ch = w;
}

static int same_instance(const channel *c, const config_instance *ic)
{
	return strcmp(ic->plugin, c->plugin) == 0 && strcmp(ic->config_json, c->config_json) == 0 &&
	       ic->isolation == c->isolation;
}

int outbox_configure(outbox *o, const config *cfg, char *err, size_t errlen)
{
	if (cfg->n_instances > OUTBOX_MAX_CHANNELS) {
		snprintf(err, errlen, "%zu plugin instances configured; at most %d are supported", cfg->n_instances,
		         OUTBOX_MAX_CHANNELS);
		return -1;
	}
	/* Start what is new or changed first: if one fails, nothing running is
	 * touched and the reload is refused as a whole. */
	channel **fresh = calloc(cfg->n_instances + 1, sizeof(*fresh));
	size_t n_fresh = 0;
	if (!fresh) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const config_instance *ic = &cfg->instances[i];
		channel *cur = channel_find(o, ic->name);
		if (cur && same_instance(cur, ic))
			continue;
		channel *c = channel_new(o, cfg, ic, err, errlen);
		if (!c) {
			for (size_t k = 0; k < n_fresh; k++)
				channel_free(fresh[k]);
			free(fresh);
			return -1;
		}
		fresh[n_fresh++] = c;
	}
	channel **grown = realloc(o->ch, (o->n_ch + n_fresh + 1) * sizeof(*grown));
	char *url = cfg->status_page_url ? strdup(cfg->status_page_url) : NULL;
	if (grown)
		o->ch = grown;
	if (!grown || (cfg->status_page_url && !url)) {
		for (size_t k = 0; k < n_fresh; k++)
			channel_free(fresh[k]);
		free(fresh);
		free(url);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(o->status_page_url);
	o->status_page_url = url;
	/* Retire what went away or changed: it stops once its window is empty. */
	for (size_t i = 0; i < o->n_ch; i++) {
		channel *c = o->ch[i];
		const config_instance *ic = config_find_instance(cfg, c->name);
		if (c->stale)
			continue;
		if (!ic || !same_instance(c, ic))
			c->stale = 1;
		else {
			c->delivery = ic->delivery;
			c->audience_public = ic->audience_public;
			c->subscribers = ic->subscribers;
		}
	}
	for (size_t k = 0; k < n_fresh; k++) {
		o->ch[o->n_ch++] = fresh[k];
		log_info("channel started", " instance=%s plugin=%s isolation=%s", fresh[k]->name, fresh[k]->plugin,
		         fresh[k]->isolation == CONFIG_ISOLATION_PROCESS ? "process" : "thread");
	}
	free(fresh);
	reap(o);
	return 0;
}

void outbox_free(outbox *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_ch; i++)
		channel_free(o->ch[i]);
	free(o->ch);
	if (plugin_host_abandoned()) {
		/* An abandoned thread may still run plugin code: keep every library
		 * loaded, and reachable, until the process exits. */
		kept_libs = o->libs;
	} else {
		for (size_t i = 0; i < o->n_libs; i++)
			plugin_loader_close(o->libs[i]);
		free(o->libs);
	}
	free(o->status_page_url);
	json_writer_free(&o->doc);
	free(o);
}

void outbox_on_dead(outbox *o, outbox_dead_fn fn, void *ctx)
{
	o->on_dead = fn;
	o->on_dead_ctx = ctx;
}

void outbox_on_drafts(outbox *o, outbox_drafted_fn drafted, outbox_published_fn published, void *ctx)
{
	o->on_drafted = drafted;
	o->on_published = published;
	o->drafts_ctx = ctx;
}

void outbox_set_subscribers(outbox *o, subscribers *s)
{
	o->subs = s;
}

void outbox_forget_dead_alerts(outbox *o)
{
	for (size_t i = 0; i < o->n_ch; i++)
		o->ch[i]->dead_alert = DEAD_ALERT_UNKNOWN;
}

void outbox_note_accepted(outbox *o, int64_t event_id, int64_t accepted_us)
{
	size_t n = sizeof(o->accepted) / sizeof(o->accepted[0]);
	o->accepted[(uint64_t)event_id % n].event_id = event_id;
	o->accepted[(uint64_t)event_id % n].us = accepted_us;
}

void outbox_forget_accepted(outbox *o)
{
	memset(o->accepted, 0, sizeof(o->accepted));
}

/* When the request behind event_id arrived, for its first attempts; 0 = unknown. */
static int64_t accepted_at(const outbox *o, int64_t event_id, int attempts)
{
	size_t n = sizeof(o->accepted) / sizeof(o->accepted[0]);
	if (attempts > 0 || o->accepted[(uint64_t)event_id % n].event_id != event_id)
		return 0;
	return o->accepted[(uint64_t)event_id % n].us;
}

void outbox_wake(outbox *o, const char *instance)
{
	for (size_t i = 0; i < o->n_ch; i++)
		if (!instance || strcmp(o->ch[i]->name, instance) == 0)
			o->ch[i]->wake_at = 0;
}

int64_t outbox_backoff(const config_delivery *d, int attempts, double rnd)
{
	int64_t step = d->backoff_initial_ms;
	for (int i = 1; i < attempts && step < d->backoff_max_ms; i++)
		step *= 2;
	if (step > d->backoff_max_ms)
		step = d->backoff_max_ms;
	/* "Equal jitter": half fixed, half random, so retries from many
	 * deliveries spread out but never come sooner than half the step. */
	return step / 2 + (int64_t)((double)(step - step / 2) * rnd);
}

static double next_rnd(outbox *o)
{
	/* xorshift32: plenty for jitter, no shared state with other threads. */
	o->rnd ^= o->rnd << 13;
	o->rnd ^= o->rnd >> 17;
	o->rnd ^= o->rnd << 5;
	return (double)(o->rnd >> 8) / (double)(1u << 24);
}

/* The public view of d's event, as JSON text (borrowed from c's cache), or NULL. */
static const char *public_view(channel *c, const store_delivery *d)
{
	if (c->pub_doc && c->pub_event == d->event_id)
		return c->pub_doc;
	json_t *doc = json_loads(d->doc, 0, NULL);
	json_t *pub = doc ? audience_public_doc(doc) : NULL;
	char *txt = pub ? json_writer_dumps(pub) : NULL;
	json_decref(pub);
	json_decref(doc);
	if (txt) {
		free(c->pub_doc);
		c->pub_doc = txt;
		c->pub_event = d->event_id;
	}
	return txt;
}

/* links.incident: the incident's page, "" without a status page or an
 * incident (0: a subscription's confirmation). */
static void write_incident_link(json_writer *w, const outbox *o, int64_t incident_id)
{
	if (!o->status_page_url || !incident_id) {
		json_writer_string(w, "");
		return;
	}
	size_t n = strlen(o->status_page_url) + 48;
	char stack[512], *url = n <= sizeof(stack) ? stack : malloc(n);
	if (!url) {
		w->failed = 1;
		return;
	}
	snprintf(url, n, "%sincidents/%" PRId64 ".html", o->status_page_url, incident_id);
	json_writer_string(w, url);
	if (url != stack)
		free(url);
}

/*
 * The document a plugin receives: the stored event with what depends on
 * the delivery and the current configuration put in front (docs/events.md):
 * id, idempotency_key, links, "is": {"<type>": true} so that logic-less
 * templates can tell event types apart, recipient and subscriber. Written
 * into o's writer: the text is borrowed until the next call, or NULL.
 */
static const char *delivery_doc(outbox *o, channel *c, const store_delivery *d, const char *key,
                                const json_t *subscriber)
{
	json_writer *w = &o->doc;
	/* A public channel gets the public view, never the stored document.
	 * A subscription's confirmation is crier's own words to one person,
	 * of no incident: it goes as it is. */
	const char *doc = d->doc;
	if (c->audience_public && strcmp(d->type, SUBSCRIBERS_CONFIRM_EVENT) != 0 && !(doc = public_view(c, d)))
		return NULL;
	json_writer_reset(w);
	json_writer_begin_object(w);
	json_writer_key(w, "id");
	json_writer_int(w, d->event_id);
	json_writer_key(w, "idempotency_key");
	json_writer_string(w, key);
	json_writer_key(w, "links");
	json_writer_begin_object(w);
	json_writer_key(w, "status_page");
	json_writer_string(w, o->status_page_url ? o->status_page_url : "");
	json_writer_key(w, "incident");
	write_incident_link(w, o, d->incident_id);
	json_writer_end_object(w);
	json_writer_key(w, "is");
	json_writer_begin_object(w);
	json_writer_key(w, d->type);
	json_writer_bool(w, 1);
	json_writer_end_object(w);
	if (d->recipient[0]) {
		json_writer_key(w, "recipient");
		json_writer_string(w, d->recipient);
	}
	if (subscriber) {
		json_writer_key(w, "subscriber");
		json_writer_value(w, subscriber);
	}
	/* Then the document's own members. */
	json_writer_members_text(w, doc, strlen(doc));
	json_writer_end_object(w);
	return json_writer_text(w);
}

/* FNV-1a: a recipient's lane; two recipients sharing one only wait for each other. */
static uint64_t lane_of(const char *recipient)
{
	return hmap_hash(recipient);
}

/* A delivery of this incident and lane is out (another recipient's, when two share a lane). */
static int lane_busy(const channel *c, int64_t incident_id, uint64_t lane)
{
	for (int i = 0; i < c->n_fly; i++)
		if (c->fly[i].incident_id == incident_id && c->fly[i].lane == lane)
			return 1;
	return 0;
}

/* store_outbox_due's skip: deliveries in flight are still pending in the
 * store, and each would otherwise cost the query its document. */
static int in_flight(int64_t id, void *ctx)
{
	const channel *c = ctx;
	for (int i = 0; i < c->n_fly; i++)
		if (c->fly[i].id == id)
			return 1;
	return 0;
}

/* Fill the channel's window with due deliveries, one per incident and recipient. */
static int dispatch_channel(outbox *o, channel *c, int64_t now, int64_t *next_ms)
{
	store_delivery due[CHANNEL_WINDOW];
	int n = store_outbox_due(o->st, c->name, due, CHANNEL_WINDOW - c->n_fly, in_flight, c);
	if (n < 0) {
		log_error("cannot read the outbox", " instance=%s error=%s", c->name, log_q(store_error(o->st)));
		c->wake_at = now + 1000;
		return -1;
	}
	c->wake_at = INT64_MAX;
	for (int i = 0; i < n; i++) {
		store_delivery *d = &due[i];
		uint64_t lane = lane_of(d->recipient);
		if (lane_busy(c, d->incident_id, lane))
			continue;
		if (d->next_at > now) {
			/* Rows come earliest first: nothing after this one is due either. */
			if (d->next_at < c->wake_at)
				c->wake_at = d->next_at;
			break;
		}
		if (c->n_fly == CHANNEL_WINDOW) {
			c->wake_at = INT64_MAX; /* a result will wake us */
			break;
		}
		const char *key = d->key;
		/* A subscriber's delivery carries their unsubscribe link. */
		int confirm = strcmp(d->type, SUBSCRIBERS_CONFIRM_EVENT) == 0, gone = 0;
		int lookup = c->subscribers && o->subs && d->recipient[0] && !confirm;
		json_t *sub = lookup ? subscribers_doc(o->subs, c->subscribers, d->recipient, &gone) : NULL;
		if (lookup && !sub && gone) {
			/* Unsubscribed since it was queued: nothing to send. */
			if (store_outbox_done(o->st, d->id, d->event_id, d->attempts, now) < 0)
				c->wake_at = now + 1000;
			continue;
		}
		const char *doc = lookup && !sub ? NULL : delivery_doc(o, c, d, key, sub);
		json_decref(sub);
		if (!doc || plugin_host_send(c->host, d->id, (unsigned)d->attempts + 1, key, doc, d->state,
		                             d->recipient[0] ? d->recipient : NULL,
		                             accepted_at(o, d->event_id, d->attempts)) < 0) {
			log_error("cannot hand a delivery to its plugin host", " instance=%s delivery=%" PRId64,
			          c->name, d->id);
			c->wake_at = now + 1000;
			break;
		}
		c->fly[c->n_fly++] = (inflight){.id = d->id,
		                                .event_id = d->event_id,
		                                .approval = strcmp(d->type, "draft_approved") == 0,
		                                .personal = confirm || (c->subscribers && d->recipient[0]),
		                                .incident_id = d->incident_id,
		                                .lane = lane,
		                                .seq = c->sent++,
		                                .created_at = d->created_at,
		                                .attempts = d->attempts + 1};
	}
	for (int i = 0; i < n; i++)
		store_delivery_free(&due[i]);
	if (c->wake_at < *next_ms)
		*next_ms = c->wake_at;
	return 0;
}

/* A changed instance's old channel still has deliveries out: its new one
 * waits, or the same rows would be sent twice and could overtake each other. */
static int twin_busy(const outbox *o, const channel *c)
{
	for (size_t i = 0; i < o->n_ch; i++)
		if (o->ch[i] != c && o->ch[i]->stale && o->ch[i]->n_fly > 0 && strcmp(o->ch[i]->name, c->name) == 0)
			return 1;
	return 0;
}

void outbox_begin_stop(outbox *o)
{
	o->stopping = 1;
	for (size_t i = 0; i < o->n_ch; i++)
		plugin_host_begin_stop(o->ch[i]->host);
}

/* When to start a process host that just went down; the next time waits twice as long. */
static int64_t restart_delay(channel *c)
{
	int64_t delay = c->restart_ms ? c->restart_ms : RESTART_FIRST_MS;
	c->restart_ms = delay * 2 < RESTART_MAX_MS ? delay * 2 : RESTART_MAX_MS;
	return delay;
}

/* A process host that is down or starting: restart it when due, kill it
 * when its start overruns. 1 when it cannot take deliveries now. */
static int host_unavailable(outbox *o, channel *c, int64_t now, int64_t *next_ms)
{
	if (plugin_host_socket(c->host)) {
		int64_t t = plugin_host_watch(c->host, now);
		if (t < *next_ms)
			*next_ms = t;
		return !plugin_host_ready(c->host);
	}
	if (c->stale || o->stopping)
		return 1;
	if (c->restart_at > now) {
		if (c->restart_at < *next_ms)
			*next_ms = c->restart_at;
		return 1;
	}
	char err[512];
	if (plugin_host_respawn(c->host, err, sizeof(err)) < 0) {
		int64_t delay = restart_delay(c);
		c->restart_at = now + delay;
		log_error("cannot restart the plugin host", " instance=%s error=%s retry_in_ms=%" PRId64, c->name,
		          log_q(err), delay);
		if (c->restart_at < *next_ms)
			*next_ms = c->restart_at;
		return 1;
	}
	c->restart_at = 0;
	c->wake_at = 0;
	return 1; /* its socket says when it is ready */
}

int outbox_dispatch(outbox *o, int64_t now, int64_t *next_ms)
{
	*next_ms = INT64_MAX;
	reap(o);
	for (size_t i = 0; i < o->n_ch; i++) {
		channel *c = o->ch[i];
		if (c->isolation == CONFIG_ISOLATION_PROCESS && host_unavailable(o, c, now, next_ms))
			continue;
		if (c->stale || c->n_fly == CHANNEL_WINDOW || twin_busy(o, c))
			continue;
		if (c->wake_at > now) {
			if (c->wake_at < *next_ms)
				*next_ms = c->wake_at;
			continue;
		}
		dispatch_channel(o, c, now, next_ms);
	}
	return 0;
}

size_t outbox_sockets(outbox *o, void **socks, int *fds, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < o->n_ch && n < max && n < OUTBOX_MAX_CHANNELS; i++) {
		plugin_host *h = o->ch[i]->host;
		if (!plugin_host_socket(h))
			continue; /* a process host that is down */
		socks[n] = plugin_host_socket(h);
		fds[n] = plugin_host_exit_fd(h);
		o->poll_ch[n++] = i;
	}
	o->n_poll = n;
	return n;
}

size_t outbox_inflight(const outbox *o)
{
	size_t n = 0;
	for (size_t i = 0; i < o->n_ch; i++)
		n += (size_t)o->ch[i]->n_fly;
	return n;
}

static int on_result(outbox *o, channel *c, int64_t now, int *failed);
static int on_host_exit(outbox *o, channel *c, long pid, const char *why, int64_t now);

int outbox_on_result(outbox *o, size_t i, int64_t now)
{
	if (i >= o->n_poll || o->poll_ch[i] >= o->n_ch)
		return -1;
	channel *c = o->ch[o->poll_ch[i]];
	int failed = 0;
	/* Take every result already queued: they share the caller's transaction.
	 * Those a dying child sent before its end count: read them first. */
	for (;;) {
		int got;
		while ((got = on_result(o, c, now, &failed)) > 0)
			;
		if (got < 0)
			break; /* an unreadable message: what follows it waits for the next turn */
		char why[600];
		long pid = plugin_host_pid(c->host);
		if (plugin_host_exited(c->host, why, sizeof(why))) {
			if (on_host_exit(o, c, pid, why, now) < 0)
				failed = 1;
			break;
		}
		/* A child that died with answers still on their way is not
		 * reported until they are read (plugin_host_exited). */
		if (!pid || !plugin_host_readable(c->host))
			break;
	}
	return failed ? -1 : 0;
}

static int settle(outbox *o, channel *c, const inflight *f, const plugin_host_result *r, int64_t now);

/* Take one message from c's host: 1 taken, 0 none waiting, -1 unreadable.
 * *failed is set when recording a result failed (the transaction's fault). */
static int on_result(outbox *o, channel *c, int64_t now, int *failed)
{
	plugin_host_result r;
	int got = plugin_host_recv(c->host, &r);
	if (got == PLUGIN_HOST_EMPTY)
		return 0;
	if (got < 0) {
		log_error("unreadable answer from a plugin host", " instance=%s", c->name);
		return -1; /* nothing to record; not the transaction's fault */
	}
	if (got == 0) {
		/* A child starting: once ready, what waited for it goes out. */
		if (plugin_host_ready(c->host))
			c->wake_at = 0;
		return 1;
	}
	if (r.waited_us >= 0)
		metrics_ingest_to_plugin(r.waited_us);
	int k = 0;
	while (k < c->n_fly && c->fly[k].id != r.id)
		k++;
	if (k == c->n_fly) {
		log_error("answer for a delivery not in flight", " instance=%s delivery=%" PRId64, c->name, r.id);
		plugin_host_result_free(&r);
		return 1;
	}
	inflight f = c->fly[k];
	c->fly[k] = c->fly[--c->n_fly];
	c->wake_at = 0;
	c->restart_ms = 0; /* it answers: the next crash is restarted after the first delay again */
	/* SKIPPED: never attempted (shutting down): it stays pending as it was. */
	if (r.result != PLUGIN_HOST_SKIPPED && settle(o, c, &f, &r, now) < 0)
		*failed = 1;
	plugin_host_result_free(&r);
	return 1; /* a stale channel is reaped by the next dispatch, not here: callers index the sockets */
}

/*
 * A process host died. Only the oldest delivery it had not answered can
 * have been inside the plugin (it works through them in order): that one
 * is retried with the crash as its error, its attempt counted, so a
 * delivery that kills its plugin every time goes dead after max_attempts
 * like any other. The ones queued behind it never reached the plugin: they
 * stay pending as they were and go to the next host.
 */
static int on_host_exit(outbox *o, channel *c, long pid, const char *why, int64_t now)
{
	char err[700], q[800];
	int rc = 0, oldest = -1, n = c->n_fly;
	snprintf(err, sizeof(err), "plugin host crashed: %s", why);
	metrics_host_died(c->name);
	for (int k = 0; k < c->n_fly; k++)
		if (oldest < 0 || c->fly[k].seq < c->fly[oldest].seq)
			oldest = k;
	if (oldest >= 0) {
		inflight f = c->fly[oldest];
		plugin_host_result r = {.id = f.id, .result = CRIER_RETRY, .error = err};
		rc = settle(o, c, &f, &r, now);
	}
	c->n_fly = 0;
	c->wake_at = 0;
	if (c->stale || o->stopping) {
		log_error("plugin host died", " instance=%s pid=%ld reason=%s in_flight=%d", c->name, pid,
		          log_quote(q, sizeof(q), why), n);
		return rc;
	}
	int64_t delay = restart_delay(c);
	c->restart_at = now + delay;
	log_error("plugin host died; restarting it",
	          " instance=%s pid=%ld reason=%s in_flight=%d restart_in_ms=%" PRId64, c->name, pid,
	          log_quote(q, sizeof(q), why), n, delay);
	return rc;
}

/* Record one answered delivery (taken out of the window by the caller). */
static int settle(outbox *o, channel *c, const inflight *fp, const plugin_host_result *rp, int64_t now)
{
	inflight f = *fp;
	plugin_host_result r = *rp;
	double latency = (double)(now - f.created_at);
	char q[600];
	int rc = 0;
	const char *why = r.error ? r.error : "";
	if (r.result == CRIER_OK) {
		rc = store_outbox_done(o->st, r.id, f.event_id, f.attempts, now);
		if (rc == 0 && r.has_state)
			rc = store_state_set(o->st, f.incident_id, c->name, r.state ? r.state : "");
		if (rc == 0 && r.draft.text && o->on_drafted)
			rc = o->on_drafted(o->drafts_ctx, c->name, f.event_id, f.incident_id, &r.draft, now);
		if (rc == 0 && f.approval && o->on_published)
			rc = o->on_published(o->drafts_ctx, c->name, f.event_id, CRIER_OK, NULL, now) < 0 ? -1 : 0;
		if (rc == 0 && c->dead_alert != DEAD_ALERT_CLEAR && o->on_dead) {
			int d = o->on_dead(o->on_dead_ctx, c->name, 0, NULL, now);
			if (d == 0)
				c->dead_alert = DEAD_ALERT_CLEAR;
			rc = d < 0 ? -1 : 0;
		}
		c->fail_streak = 0;
		metrics_delivery(c->name, METRICS_OK, latency);
		log_debug("delivered", " instance=%s delivery=%" PRId64 " attempt=%d", c->name, r.id, f.attempts);
	} else {
		int too_many = f.attempts >= c->delivery.max_attempts;
		int too_old = now - f.created_at >= c->delivery.max_age_ms;
		if (r.result == CRIER_FAIL || too_many || too_old) {
			const char *reason = r.result == CRIER_FAIL ? "permanent failure"
			                     : too_many             ? "attempts exhausted"
			                                            : "too old";
			rc = store_outbox_dead(o->st, r.id, f.event_id, f.attempts, why, now);
			int publication = 0;
			if (rc == 0 && f.approval && o->on_published) {
				publication = o->on_published(o->drafts_ctx, c->name, f.event_id, CRIER_FAIL, why, now);
				rc = publication < 0 ? -1 : 0;
			}
			/* One bad address of the public is theirs, not the channel's:
			 * only a run of them says the channel itself is broken. */
			int lone = f.personal && r.result == CRIER_FAIL && ++c->fail_streak < PERSONAL_FAIL_STREAK;
			if (rc == 0 && !publication && !lone && c->dead_alert != DEAD_ALERT_FIRING && o->on_dead) {
				int d = o->on_dead(o->on_dead_ctx, c->name, 1, why, now);
				if (d == 0)
					c->dead_alert = DEAD_ALERT_FIRING;
				rc = d < 0 ? -1 : 0;
			}
			metrics_delivery(c->name, r.result == CRIER_FAIL ? METRICS_FAIL : METRICS_RETRY, latency);
			metrics_delivery(c->name, METRICS_DEAD, latency);
			log_warn("delivery is dead", " instance=%s delivery=%" PRId64 " attempts=%d reason=%s error=%s",
			         c->name, r.id, f.attempts, log_q(reason), log_quote(q, sizeof(q), why));
		} else {
			int64_t next = now + outbox_backoff(&c->delivery, f.attempts, next_rnd(o));
			if (r.not_before > next)
				next = r.not_before;
			rc = store_outbox_retry(o->st, r.id, f.event_id, f.attempts, next, why, now);
			if (rc == 0 && f.approval && o->on_published)
				rc = o->on_published(o->drafts_ctx, c->name, f.event_id, CRIER_RETRY, why, now) < 0 ? -1
				                                                                                    : 0;
			metrics_delivery(c->name, METRICS_RETRY, latency);
			log_info("delivery will be retried",
			         " instance=%s delivery=%" PRId64 " attempt=%d in_ms=%" PRId64 " error=%s", c->name,
			         r.id, f.attempts, next - now, log_quote(q, sizeof(q), why));
		}
	}
	if (rc < 0)
		log_error("cannot record a delivery result", " instance=%s delivery=%" PRId64 " error=%s", c->name,
		          r.id, log_q(store_error(o->st)));
	return rc;
}
