/*
 * Plugin host: the host table (crier_host_api) and the thread loop.
 *
 * Wire format on the PAIR socket (all frames in one multipart message):
 *   core -> host  "D" | id(int64) attempt(uint32) has_state(uint8) | key | doc | state | recipient
 *                 "Q"                                  (destroy and exit)
 *   host -> core  "R" | id(int64) result(int32) not_before(int64) has_state(uint8) has_draft(uint8)
 *                       draft_measure(int32) draft_length(uint64) draft_limit(uint64)
 *                     | error | state | draft network | draft text
 *                 "I" | error text (empty = init succeeded)
 *                 "Q"                                  (exited)
 * Multipart frames carry the strings as they are: no escaping, no parsing.
 */
#include "plugin_host.h"

#include "http_client.h"
#include "log.h"
#include "mustache.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define STATE_MAX 4096

/* Host threads given up on (stuck in a plugin). While any exists, plugin
 * code must stay mapped and the ZeroMQ context cannot be terminated (the
 * thread's socket stays open). */
static atomic_int abandoned_hosts;

int plugin_host_abandoned(void)
{
	return atomic_load(&abandoned_hosts);
}

struct crier_host {
	char *name;
	char *plugin;
	char *state_dir;
	char *config_dir;
	void *curl; /* the instance's keep-alive connection, see http_client.c */
};

struct crier_delivery {
	const char *doc, *key, *state, *recipient;
	unsigned attempt;
	char *new_state;
	int has_new_state;
	int64_t not_before;
	char error[512];
	plugin_host_draft draft; /* offered with draft_submit */
};

struct plugin_host {
	crier_host host;
	const crier_plugin *api; /* the plugin's table: static data of its .so */
	const config_instance *ic;
	void *core_sock; /* core side */
	void *zctx;
	char endpoint[64];
	pthread_t thread;
	int started;
	atomic_int stopping; /* set by the core: answer queued deliveries unattempted */
};

/* Give up on h's thread: close our end, never free what the thread uses. */
static void abandon(plugin_host *h)
{
	int linger = 0;
	atomic_fetch_add(&abandoned_hosts, 1);
	zmq_setsockopt(h->core_sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(h->core_sock);
	h->core_sock = NULL;
	pthread_detach(h->thread);
	log_error("plugin host is stuck in its plugin; abandoning it (crierd will exit without waiting for it)",
	          " instance=%s", h->host.name);
}

/* ---- the host table ------------------------------------------------------ */

static void api_log(crier_host *h, crier_log_level level, const char *msg)
{
	char q[1024];
	log_write((log_level)level, msg ? msg : "", " instance=%s", log_quote(q, sizeof(q), h->name));
}

static int64_t api_now_ms(void)
{
	return timefmt_now_ms();
}

static const char *api_instance_name(const crier_host *h)
{
	return h->name;
}

static const char *api_state_dir(const crier_host *h)
{
	return h->state_dir;
}

static const char *api_delivery_json(const crier_delivery *d)
{
	return d->doc;
}

static const char *api_delivery_key(const crier_delivery *d)
{
	return d->key;
}

static unsigned api_delivery_attempt(const crier_delivery *d)
{
	return d->attempt;
}

static const char *api_delivery_state(const crier_delivery *d)
{
	return d->state;
}

static int api_set_state(crier_delivery *d, const char *state)
{
	if (state && strlen(state) > STATE_MAX)
		return -1;
	char *copy = state ? strdup(state) : NULL;
	if (state && !copy)
		return -1;
	free(d->new_state);
	d->new_state = copy;
	d->has_new_state = 1;
	return 0;
}

static void api_retry_after(crier_delivery *d, int64_t not_before_ms)
{
	d->not_before = not_before_ms;
}

static void api_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason ? reason : "");
}

static int api_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	return http_client_request(&h->curl, req, resp);
}

/* ---- version 2: recipients, templates, text measures ------------------------ */

static const char *api_delivery_recipient(const crier_delivery *d)
{
	return d->recipient;
}

static const char *api_config_dir(const crier_host *h)
{
	return h->config_dir;
}

/* A template and where its partials come from. */
struct crier_template {
	mustache *m;
	char *dirs[2]; /* <config_dir>/templates/<plugin>, <config_dir>/templates */
};

#define TEMPLATE_FILE_MAX (1 << 20)

/* Read a whole template file (new), or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf = malloc(TEMPLATE_FILE_MAX + 1);
	if (!buf) {
		errno = ENOMEM;
		goto out;
	}
	*len = fread(buf, 1, TEMPLATE_FILE_MAX + 1, f);
	if (ferror(f) || *len > TEMPLATE_FILE_MAX) {
		errno = ferror(f) ? EIO : EFBIG;
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[*len] = '\0';
out:
	fclose(f);
	return buf;
}

/* Partial names are file names under the template folders, nothing more. */
static int partial_name_ok(const char *name)
{
	if (!name[0] || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-' || *p == '.'))
			return 0;
	return 1;
}

static char *load_partial(void *ctx, const char *name)
{
	const crier_template *t = ctx;
	if (!partial_name_ok(name))
		return NULL;
	for (int i = 0; i < 2; i++) {
		char *path = NULL, *src;
		size_t len;
		if (asprintf(&path, "%s/%s.mustache", t->dirs[i], name) < 0)
			return NULL;
		src = read_file(path, &len);
		free(path);
		if (src)
			return src;
	}
	return NULL;
}

static void api_template_free(crier_template *t)
{
	if (!t)
		return;
	mustache_free(t->m);
	free(t->dirs[0]);
	free(t->dirs[1]);
	free(t);
}

static crier_template *api_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	crier_template *t = calloc(1, sizeof(*t));
	char *path = NULL, *text = NULL;
	size_t len = 0;
	if (!t || asprintf(&t->dirs[0], "%s/templates/%s", h->config_dir, h->plugin) < 0 ||
	    asprintf(&t->dirs[1], "%s/templates", h->config_dir) < 0) {
		snprintf(err, errlen, "template %s: out of memory", name);
		goto fail;
	}
	if (src && strncmp(src, "file:", 5) != 0) {
		t->m = mustache_compile(name, src, strlen(src), err, errlen);
		if (!t->m)
			goto fail;
		return t;
	}
	int rc = !src            ? asprintf(&path, "%s/%s.mustache", t->dirs[0], name)
	         : src[5] == '/' ? asprintf(&path, "%s", src + 5)
	                         : asprintf(&path, "%s/%s", h->config_dir, src + 5);
	if (rc < 0) {
		path = NULL;
		snprintf(err, errlen, "template %s: out of memory", name);
		goto fail;
	}
	text = read_file(path, &len);
	if (!text) {
		snprintf(err, errlen, "template %s: cannot read %s: %s", name, path,
		         errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		goto fail;
	}
	t->m = mustache_compile(name, text, len, err, errlen);
	if (!t->m)
		goto fail;
	free(path);
	free(text);
	return t;
fail:
	free(path);
	free(text);
	api_template_free(t);
	return NULL;
}

static char *api_template_render(const crier_template *t, const char *context_json, crier_escape esc, char *err,
                                 size_t errlen)
{
	json_error_t jerr;
	json_t *ctx = json_loads(context_json ? context_json : "{}", JSON_DECODE_ANY, &jerr);
	if (!ctx) {
		snprintf(err, errlen, "template context is not JSON: %s", jerr.text);
		return NULL;
	}
	char *out = mustache_render(t->m, ctx, esc, load_partial, (void *)t, err, errlen);
	json_decref(ctx);
	return out;
}

/* ---- version 2: drafts ------------------------------------------------------ */

static int network_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int api_draft_submit(crier_delivery *d, const char *network, const char *text, crier_measure measure,
                            size_t limit)
{
	if (!d || !network_name_ok(network) || !text || !*text || strlen(text) > PLUGIN_HOST_DRAFT_MAX ||
	    (int)measure < CRIER_MEASURE_BYTES || measure > CRIER_MEASURE_UTF16)
		return -1;
	/* jansson refuses invalid UTF-8: the text ends up in event documents. */
	json_t *valid = json_string(text);
	if (!valid)
		return -1;
	json_decref(valid);
	size_t length = text_measure(text, measure);
	if (length == SIZE_MAX || length > limit)
		return -1;
	char *n = strdup(network), *t = strdup(text);
	if (!n || !t) {
		free(n);
		free(t);
		return -1;
	}
	free(d->draft.network);
	free(d->draft.text);
	d->draft =
	    (plugin_host_draft){.network = n, .text = t, .measure = (int)measure, .length = length, .limit = limit};
	return 0;
}

/* One table per ABI version, differing only in the version they carry: a
 * version-1 plugin never reads past the version-1 entries. */
#define HOST_API_ENTRIES                                                                                               \
	.log = api_log, .now_ms = api_now_ms, .instance_name = api_instance_name, .state_dir = api_state_dir,          \
	.delivery_json = api_delivery_json, .delivery_key = api_delivery_key,                                          \
	.delivery_attempt = api_delivery_attempt, .delivery_state = api_delivery_state, .set_state = api_set_state,    \
	.retry_after = api_retry_after, .set_error = api_set_error, .http_request = api_http_request,                  \
	.http_response_free = http_client_response_free, .delivery_recipient = api_delivery_recipient,                 \
	.config_dir = api_config_dir, .template_load = api_template_load, .template_render = api_template_render,      \
	.template_free = api_template_free, .text_measure = text_measure, .text_fit = text_fit,                        \
	.draft_submit = api_draft_submit

static const crier_host_api host_api_v1 = {.abi_version = 1, HOST_API_ENTRIES};
static const crier_host_api host_api_v2 = {.abi_version = 2, HOST_API_ENTRIES};

static const crier_host_api *host_api(const crier_plugin *p)
{
	return p->abi_version >= 2 ? &host_api_v2 : &host_api_v1;
}

/* ---- framing helpers ------------------------------------------------------- */

static int send_frame(void *sock, const void *data, size_t len, int more)
{
	return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static void free_frames(char **frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(frames[i]);
}

/* Receive the rest of a multipart message into up to n frames (new, NUL-terminated). */
static int recv_frames(void *sock, char **frames, size_t *lens, size_t n, size_t *got)
{
	*got = 0;
	int more = 1;
	while (more) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, 0) < 0) {
			zmq_msg_close(&msg);
			free_frames(frames, *got);
			*got = 0;
			return -1;
		}
		more = zmq_msg_more(&msg);
		if (*got < n) {
			size_t len = zmq_msg_size(&msg);
			char *copy = malloc(len + 1);
			if (!copy) {
				zmq_msg_close(&msg);
				free_frames(frames, *got);
				*got = 0;
				return -1;
			}
			memcpy(copy, zmq_msg_data(&msg), len);
			copy[len] = '\0';
			frames[*got] = copy;
			lens[*got] = len;
			(*got)++;
		}
		zmq_msg_close(&msg);
	}
	return 0;
}

typedef struct __attribute__((packed)) delivery_head {
	int64_t id;
	uint32_t attempt;
	uint8_t has_state;
} delivery_head;

typedef struct __attribute__((packed)) result_head {
	int64_t id;
	int32_t result;
	int64_t not_before;
	uint8_t has_state;
	uint8_t has_draft;
	int32_t draft_measure;
	uint64_t draft_length;
	uint64_t draft_limit;
} result_head;

/* ---- the thread -------------------------------------------------------------- */

static int deliver_one(plugin_host *h, crier_instance *inst, void *sock, char **f, size_t *lens, size_t n)
{
	if (n < 6 || lens[1] != sizeof(delivery_head))
		return -1;
	delivery_head dh;
	memcpy(&dh, f[1], sizeof(dh));
	crier_delivery d = {.doc = f[3],
	                    .key = f[2],
	                    .state = dh.has_state ? f[4] : NULL,
	                    .recipient = lens[5] ? f[5] : NULL,
	                    .attempt = dh.attempt};
	int r;
	if (atomic_load(&h->stopping)) {
		r = PLUGIN_HOST_SKIPPED; /* shutting down: leave it pending for the next start */
	} else {
		r = (int)h->api->deliver(inst, &d);
		if (r != CRIER_OK && r != CRIER_RETRY && r != CRIER_FAIL) {
			snprintf(d.error, sizeof(d.error), "plugin returned an unknown result %d", r);
			r = CRIER_FAIL;
		}
	}
	int drafted = d.draft.text && r == CRIER_OK;
	result_head rh = {.id = dh.id,
	                  .result = (int32_t)r,
	                  .not_before = d.not_before,
	                  .has_state = (uint8_t)(d.has_new_state && r == CRIER_OK),
	                  .has_draft = (uint8_t)drafted,
	                  .draft_measure = drafted ? d.draft.measure : 0,
	                  .draft_length = drafted ? d.draft.length : 0,
	                  .draft_limit = drafted ? d.draft.limit : 0};
	const char *st = d.new_state ? d.new_state : "";
	const char *dn = drafted ? d.draft.network : "", *dt = drafted ? d.draft.text : "";
	int rc = (send_frame(sock, "R", 1, 1) < 0 || send_frame(sock, &rh, sizeof(rh), 1) < 0 ||
	          send_frame(sock, d.error, strlen(d.error), 1) < 0 || send_frame(sock, st, strlen(st), 1) < 0 ||
	          send_frame(sock, dn, strlen(dn), 1) < 0 || send_frame(sock, dt, strlen(dt), 0) < 0)
	             ? -1
	             : 0;
	free(d.new_state);
	free(d.draft.network);
	free(d.draft.text);
	return rc;
}

static void *host_main(void *arg)
{
	plugin_host *h = arg;
	crier_instance *inst = NULL;
	pthread_setname_np(pthread_self(), "crier-plugin");
	void *sock = zmq_socket(h->zctx, ZMQ_PAIR);
	if (!sock || zmq_connect(sock, h->endpoint) < 0) {
		log_error("plugin host cannot connect to the core", " instance=%s error=%s", h->host.name,
		          log_q(zmq_strerror(zmq_errno())));
		if (sock)
			zmq_close(sock);
		return NULL;
	}
	char err[512] = "";
	if (h->api->init(host_api(h->api), &h->host, h->ic->config_json, &inst, err, sizeof(err)) < 0 || !inst) {
		if (!err[0])
			snprintf(err, sizeof(err), "init failed");
		send_frame(sock, "I", 1, 1);
		send_frame(sock, err, strlen(err), 0);
		zmq_close(sock);
		return NULL;
	}
	send_frame(sock, "I", 1, 1);
	send_frame(sock, "", 0, 0);
	for (;;) {
		char *f[6] = {0};
		size_t lens[6], n = 0;
		if (recv_frames(sock, f, lens, 6, &n) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			break;
		}
		int quit = n > 0 && f[0][0] == 'Q';
		if (!quit && n > 0 && f[0][0] == 'D' && deliver_one(h, inst, sock, f, lens, n) < 0)
			log_error("plugin host could not answer a delivery", " instance=%s", h->host.name);
		free_frames(f, n);
		if (quit)
			break;
	}
	h->api->destroy(inst);
	http_client_close(&h->host.curl);
	send_frame(sock, "Q", 1, 0);
	zmq_close(sock);
	return NULL;
}

/* The host's own copies of what the host table hands out. */
static int host_fill(crier_host *host, const config_instance *ic, const char *state_dir, const char *config_dir)
{
	host->name = strdup(ic->name);
	host->plugin = strdup(ic->plugin);
	host->state_dir = strdup(state_dir);
	host->config_dir = strdup(config_dir);
	return host->name && host->plugin && host->state_dir && host->config_dir ? 0 : -1;
}

static void host_clear(crier_host *host)
{
	free(host->name);
	free(host->plugin);
	free(host->state_dir);
	free(host->config_dir);
}

plugin_host *plugin_host_start(void *zctx, plugin_lib *lib, const config_instance *ic, const char *state_dir,
                               const char *config_dir, char *err, size_t errlen)
{
	static atomic_uint seq;
	plugin_host *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->api = lib->api;
	h->ic = ic;
	h->zctx = zctx;
	snprintf(h->endpoint, sizeof(h->endpoint), "inproc://crier-host-%u", atomic_fetch_add(&seq, 1));
	if (host_fill(&h->host, ic, state_dir, config_dir) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	h->core_sock = zmq_socket(zctx, ZMQ_PAIR);
	if (!h->core_sock || zmq_bind(h->core_sock, h->endpoint) < 0) {
		snprintf(err, errlen, "%s: cannot bind %s: %s", ic->name, h->endpoint, zmq_strerror(zmq_errno()));
		goto fail;
	}
	if (pthread_create(&h->thread, NULL, host_main, h) != 0) {
		snprintf(err, errlen, "%s: cannot start the host thread", ic->name);
		goto fail;
	}
	h->started = 1;
	char *f[2] = {0};
	size_t lens[2], n = 0;
	/* init() must not do I/O, so it answers at once; bound the wait anyway. */
	int wait_ms = PLUGIN_HOST_START_MS, forever = -1;
	zmq_setsockopt(h->core_sock, ZMQ_RCVTIMEO, &wait_ms, sizeof(wait_ms));
	int rc = recv_frames(h->core_sock, f, lens, 2, &n);
	zmq_setsockopt(h->core_sock, ZMQ_RCVTIMEO, &forever, sizeof(forever));
	if (rc < 0 || n != 2 || f[0][0] != 'I') {
		free_frames(f, n);
		snprintf(err, errlen, "%s: the plugin host did not start within %d ms", ic->name, wait_ms);
		if (rc < 0) {
			/* The thread is stuck in init or never connected: it cannot be
			 * joined and may still use h, so h is left to it (leaked). */
			abandon(h);
			return NULL;
		}
		goto fail;
	}
	if (lens[1] > 0) {
		snprintf(err, errlen, "%s: %s", ic->name, f[1]);
		free_frames(f, n);
		goto fail;
	}
	free_frames(f, n);
	return h;
fail:
	if (h->started) {
		/* init failed: the thread has already exited */
		pthread_join(h->thread, NULL);
		h->started = 0;
	}
	if (h->core_sock)
		zmq_close(h->core_sock);
	host_clear(&h->host);
	free(h);
	return NULL;
}

void *plugin_host_socket(plugin_host *h)
{
	return h->core_sock;
}

int plugin_host_readable(plugin_host *h)
{
	int events = 0;
	size_t len = sizeof(events);
	if (zmq_getsockopt(h->core_sock, ZMQ_EVENTS, &events, &len) < 0)
		return 0;
	return (events & ZMQ_POLLIN) != 0;
}

int plugin_host_send(plugin_host *h, int64_t id, unsigned attempt, const char *key, const char *doc, const char *state,
                     const char *recipient)
{
	delivery_head dh = {.id = id, .attempt = attempt, .has_state = state != NULL};
	const char *st = state ? state : "", *rc = recipient ? recipient : "";
	if (send_frame(h->core_sock, "D", 1, 1) < 0 || send_frame(h->core_sock, &dh, sizeof(dh), 1) < 0 ||
	    send_frame(h->core_sock, key, strlen(key), 1) < 0 || send_frame(h->core_sock, doc, strlen(doc), 1) < 0 ||
	    send_frame(h->core_sock, st, strlen(st), 1) < 0 || send_frame(h->core_sock, rc, strlen(rc), 0) < 0)
		return -1;
	return 0;
}

int plugin_host_recv(plugin_host *h, plugin_host_result *r)
{
	char *f[6] = {0};
	size_t lens[6], n = 0;
	memset(r, 0, sizeof(*r));
	if (recv_frames(h->core_sock, f, lens, 6, &n) < 0)
		return -1;
	if (n != 6 || f[0][0] != 'R' || lens[1] != sizeof(result_head)) {
		free_frames(f, n);
		return -1;
	}
	result_head rh;
	memcpy(&rh, f[1], sizeof(rh));
	r->id = rh.id;
	r->result = rh.result;
	r->not_before = rh.not_before;
	r->has_state = rh.has_state;
	r->error = lens[2] ? f[2] : NULL;
	r->state = rh.has_state ? f[3] : NULL;
	if (rh.has_draft) {
		r->draft = (plugin_host_draft){.network = f[4],
		                               .text = f[5],
		                               .measure = rh.draft_measure,
		                               .length = (size_t)rh.draft_length,
		                               .limit = (size_t)rh.draft_limit};
	} else {
		free(f[4]);
		free(f[5]);
	}
	if (!r->error)
		free(f[2]);
	if (!r->state)
		free(f[3]);
	free(f[0]);
	free(f[1]);
	return 0;
}

void plugin_host_result_free(plugin_host_result *r)
{
	free(r->error);
	free(r->state);
	free(r->draft.network);
	free(r->draft.text);
	r->error = r->state = r->draft.network = r->draft.text = NULL;
}

void plugin_host_begin_stop(plugin_host *h)
{
	atomic_store(&h->stopping, 1);
}

int plugin_host_stop(plugin_host *h)
{
	if (!h)
		return 0;
	int joined = 1;
	atomic_store(&h->stopping, 1);
	if (send_frame(h->core_sock, "Q", 1, 0) == 0) {
		/* Wait, bounded, for the thread to say it exited; results that are
		 * still on their way are dropped: their rows stay pending and are
		 * sent again, with the same key, after the next start. */
		int wait_ms = PLUGIN_HOST_STOP_MS;
		zmq_setsockopt(h->core_sock, ZMQ_RCVTIMEO, &wait_ms, sizeof(wait_ms));
		for (;;) {
			char *f[1] = {0};
			size_t lens[1], n = 0;
			if (recv_frames(h->core_sock, f, lens, 1, &n) < 0) {
				joined = 0;
				break;
			}
			int done = n > 0 && f[0][0] == 'Q';
			free_frames(f, n);
			if (done)
				break;
		}
	} else {
		joined = 0;
	}
	if (joined) {
		pthread_join(h->thread, NULL);
	} else {
		/* A plugin stuck in deliver(): leave the thread and h to it. */
		abandon(h);
		return -1;
	}
	zmq_close(h->core_sock);
	host_clear(&h->host);
	free(h);
	return 0;
}

int plugin_host_check(plugin_lib *lib, const config_instance *ic, const char *state_dir, const char *config_dir,
                      char *err, size_t errlen)
{
	crier_host host = {0};
	crier_instance *inst = NULL;
	char why[512] = "";
	int rc = -1;
	if (host_fill(&host, ic, state_dir, config_dir) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (lib->api->init(host_api(lib->api), &host, ic->config_json, &inst, why, sizeof(why)) < 0 || !inst) {
		snprintf(err, errlen, "%s", why[0] ? why : "init failed");
		goto out;
	}
	lib->api->destroy(inst);
	http_client_close(&host.curl);
	rc = 0;
out:
	host_clear(&host);
	return rc;
}
