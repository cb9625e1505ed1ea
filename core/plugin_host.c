/*
 * Plugin host: the host table (crier_host_api), the loop that runs one
 * instance, and the two places that loop runs: a thread of crierd
 * (inproc://) or a child process, crierd started again as
 * `crierd --plugin-host` (ipc://, a socket file under <state_dir>/plugin-hosts/).
 *
 * Wire format on the PAIR socket (all frames in one multipart message):
 *   core -> host  "D" | id(int64) attempt(uint32) has_state(uint8) | key | doc | state | recipient
 *                 "C" | state_dir | config_dir | config_json   (process only, the answer to "H")
 *                 "Q"                                  (destroy and exit)
 *   host -> core  "H" | pid(int32)                     (process only: connected, waiting for "C")
 *                 "I" | error text (empty = init succeeded)
 *                 "R" | id(int64) result(int32) not_before(int64) has_state(uint8) has_draft(uint8)
 *                       draft_measure(int32) draft_length(uint64) draft_limit(uint64)
 *                     | error | state | draft network | draft text
 *                 "Q"                                  (exited)
 * Multipart frames carry the strings as they are: no escaping, no parsing.
 * An instance's configuration holds secrets, so a child gets it over the
 * socket, never on its command line or in its environment (both readable
 * in /proc).
 */
#include "plugin_host.h"

#include "http_module.h"
#include "log.h"
#include "mustache.h"
#include "text.h"
#include "timefmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
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
	void *curl;               /* the instance's keep-alive connection, see http_module.h */
	crier_delivery *delivery; /* the one deliver() is handling, or NULL */
};

struct crier_delivery {
	const char *doc, *key, *state, *recipient;
	unsigned attempt;
	char *new_state;
	int has_new_state;
	int64_t not_before;
	char error[512];
	plugin_host_draft draft; /* offered with draft_submit */
	json_t *doc_json;        /* doc parsed, once a template rendered against it; or NULL */
};

/* Where a process host is: no child, waiting for its hello, for its init, running. */
typedef enum host_phase { PHASE_DOWN = 0, PHASE_HELLO, PHASE_INIT, PHASE_READY } host_phase;

struct plugin_host {
	crier_host host;
	const crier_plugin *api; /* the plugin's table: static data of its .so; NULL on the core's side of a process */
	const config_instance *ic; /* thread: borrowed until plugin_host_start returns */
	void *core_sock;           /* core side; NULL while a process host is down */
	void *zctx;
	char endpoint[64];
	pthread_t thread;
	int started;
	atomic_int stopping; /* set by the core (in a child: by SIGUSR1): answer queued deliveries unattempted */

	/* isolation "process" */
	int process;
	int send_flags; /* ZMQ_DONTWAIT: a dead child must never block the core */
	pid_t pid;      /* 0 = no child */
	int pidfd;      /* readable once the child exits; -1 = none */
	int reaped;     /* pid has exited and been waited for: never signal it again */
	int exit_status;
	void *mon;        /* the core socket's monitor: tells when the child's connection is gone */
	int disconnected; /* mon said so: everything the child sent is readable now */
	host_phase phase;
	int64_t start_deadline;
	char *plugin_dir;  /* new */
	char *sock_path;   /* new: the ipc socket file, removed with the child */
	char *config_json; /* new: a secret, handed to each child over the socket */
	char init_error[512];
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
	text_utf8_copy(d->error, sizeof(d->error), reason);
}

static int api_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	return http_module_request(&h->curl, req, resp);
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

/* A template and its partials: where they come from, and those compiled. */
struct crier_template {
	mustache *m;
	char *dirs[2]; /* <config_dir>/templates/<plugin>, <config_dir>/templates */
	/* Kept until the template is freed (a reload makes new templates). Only
	 * its instance's thread renders it (plugin.h), one render at a time. */
	mustache_partials *partials;
	crier_host *host; /* the instance's, which outlives it */
};

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
		src = mustache_read(path, &len, NULL);
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
	mustache_partials_free(t->partials);
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
	    asprintf(&t->dirs[1], "%s/templates", h->config_dir) < 0 ||
	    !(t->partials = mustache_partials_new(load_partial, t))) {
		snprintf(err, errlen, "template %s: out of memory", name);
		goto fail;
	}
	t->host = h;
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
	text = mustache_read(path, &len, NULL);
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
	/* A plugin renders several templates against its delivery's document
	 * (the email plugin three): that one is parsed once per delivery. */
	crier_delivery *d = t->host->delivery;
	int own = d && context_json == d->doc;
	json_t *ctx = own ? d->doc_json : NULL;
	if (!ctx) {
		json_error_t jerr;
		ctx = json_loads(context_json ? context_json : "{}", JSON_DECODE_ANY, &jerr);
		if (!ctx) {
			snprintf(err, errlen, "template context is not JSON: %s", jerr.text);
			return NULL;
		}
		if (own)
			d->doc_json = ctx;
	}
	char *out = mustache_render_cached(t->m, ctx, esc, t->partials, err, errlen);
	if (!own)
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
	.http_response_free = http_module_response_free, .delivery_recipient = api_delivery_recipient,                 \
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

static int send_frame(void *sock, const void *data, size_t len, int flags)
{
	return zmq_send(sock, data, len, flags) < 0 ? -1 : 0;
}

static void free_frames(char **frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(frames[i]);
}

/* Receive the rest of a multipart message into up to n frames (new, NUL-terminated). */
/* flags: for the first frame (ZMQ_DONTWAIT or 0); a message's other frames
 * are there as soon as its first is. */
static int recv_frames(void *sock, char **frames, size_t *lens, size_t n, size_t *got, int flags)
{
	*got = 0;
	int more = 1;
	while (more) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, *got ? 0 : flags) < 0) {
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

/* recv_frames through signals (a child's SIGUSR1 interrupts a blocking receive). */
static int recv_frames_retry(void *sock, char **frames, size_t *lens, size_t n, size_t *got)
{
	for (;;) {
		if (recv_frames(sock, frames, lens, n, got, 0) == 0)
			return 0;
		if (zmq_errno() != EINTR)
			return -1;
	}
}

/* "I" with the init error, empty when init succeeded. */
static int send_init(void *sock, const char *error)
{
	return send_frame(sock, "I", 1, ZMQ_SNDMORE) < 0 || send_frame(sock, error, strlen(error), 0) < 0 ? -1 : 0;
}

typedef struct __attribute__((packed)) delivery_head {
	int64_t id;
	int64_t accepted_us; /* timefmt_mono_us() of the request behind it, 0 = not measured */
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
	int64_t waited_us; /* accepted -> this call of deliver(), -1 = not measured */
} result_head;

/* ---- the loop: the same in a thread and in a child process -------------------- */

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
	int64_t waited = -1;
	if (atomic_load(&h->stopping)) {
		r = PLUGIN_HOST_SKIPPED; /* shutting down: leave it pending for the next start */
	} else {
		h->host.delivery = &d;
		if (dh.accepted_us > 0)
			waited = timefmt_mono_us() - dh.accepted_us;
		r = (int)h->api->deliver(inst, &d);
		h->host.delivery = NULL;
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
	                  .draft_limit = drafted ? d.draft.limit : 0,
	                  .waited_us = waited};
	const char *st = d.new_state ? d.new_state : "";
	const char *dn = drafted ? d.draft.network : "", *dt = drafted ? d.draft.text : "";
	int rc = (send_frame(sock, "R", 1, ZMQ_SNDMORE) < 0 || send_frame(sock, &rh, sizeof(rh), ZMQ_SNDMORE) < 0 ||
	          send_frame(sock, d.error, strlen(d.error), ZMQ_SNDMORE) < 0 ||
	          send_frame(sock, st, strlen(st), ZMQ_SNDMORE) < 0 ||
	          send_frame(sock, dn, strlen(dn), ZMQ_SNDMORE) < 0 || send_frame(sock, dt, strlen(dt), 0) < 0)
	             ? -1
	             : 0;
	free(d.new_state);
	free(d.draft.network);
	free(d.draft.text);
	json_decref(d.doc_json);
	return rc;
}

/* Create the instance, say how that went, then answer deliveries until "Q". */
static void host_serve(plugin_host *h, void *sock, const char *config_json)
{
	crier_instance *inst = NULL;
	char err[512] = "";
	if (h->api->init(host_api(h->api), &h->host, config_json, &inst, err, sizeof(err)) < 0 || !inst) {
		send_init(sock, err[0] ? err : "init failed");
		return;
	}
	send_init(sock, "");
	for (;;) {
		char *f[6] = {0};
		size_t lens[6], n = 0;
		if (recv_frames(sock, f, lens, 6, &n, 0) < 0) {
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
	http_module_close(&h->host.curl);
	send_frame(sock, "Q", 1, 0);
}

static void *host_main(void *arg)
{
	plugin_host *h = arg;
	pthread_setname_np(pthread_self(), "crier-plugin");
	void *sock = zmq_socket(h->zctx, ZMQ_PAIR);
	if (!sock || zmq_connect(sock, h->endpoint) < 0) {
		log_error("plugin host cannot connect to the core", " instance=%s error=%s", h->host.name,
		          log_q(zmq_strerror(zmq_errno())));
		if (sock)
			zmq_close(sock);
		return NULL;
	}
	host_serve(h, sock, h->ic->config_json);
	zmq_close(sock);
	return NULL;
}

/* The host's own copies of what the host table hands out. */
static int host_fill(crier_host *host, const char *name, const char *plugin, const char *state_dir,
                     const char *config_dir)
{
	host->name = strdup(name);
	host->plugin = strdup(plugin);
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

static void host_free(plugin_host *h)
{
	host_clear(&h->host);
	free(h->plugin_dir);
	free(h->sock_path);
	if (h->config_json) {
		/* A secret: do not leave it in freed memory. */
		explicit_bzero(h->config_json, strlen(h->config_json));
		free(h->config_json);
	}
	free(h);
}

/* ---- thread hosts ---------------------------------------------------------------- */

/* Start the thread and wait for its init. */
static int thread_start(plugin_host *h, plugin_lib *lib, char *err, size_t errlen)
{
	static atomic_uint seq;
	const char *name = h->host.name;
	h->api = lib->api;
	snprintf(h->endpoint, sizeof(h->endpoint), "inproc://crier-host-%u", atomic_fetch_add(&seq, 1));
	h->core_sock = zmq_socket(h->zctx, ZMQ_PAIR);
	if (!h->core_sock || zmq_bind(h->core_sock, h->endpoint) < 0) {
		snprintf(err, errlen, "%s: cannot bind %s: %s", name, h->endpoint, zmq_strerror(zmq_errno()));
		return -1;
	}
	if (pthread_create(&h->thread, NULL, host_main, h) != 0) {
		snprintf(err, errlen, "%s: cannot start the host thread", name);
		return -1;
	}
	h->started = 1;
	char *f[2] = {0};
	size_t lens[2], n = 0;
	/* init() must not do I/O, so it answers at once; bound the wait anyway. */
	int wait_ms = PLUGIN_HOST_START_MS, forever = -1;
	zmq_setsockopt(h->core_sock, ZMQ_RCVTIMEO, &wait_ms, sizeof(wait_ms));
	int rc = recv_frames(h->core_sock, f, lens, 2, &n, 0);
	zmq_setsockopt(h->core_sock, ZMQ_RCVTIMEO, &forever, sizeof(forever));
	if (rc < 0 || n != 2 || f[0][0] != 'I') {
		free_frames(f, n);
		snprintf(err, errlen, "%s: the plugin host did not start within %d ms", name, wait_ms);
		/* Stuck in init or never connected: it cannot be joined and may
		 * still use h, so h is left to it (leaked). */
		return rc < 0 ? -2 : -1;
	}
	if (lens[1] > 0) {
		snprintf(err, errlen, "%s: %s", name, f[1]);
		free_frames(f, n);
		return -1;
	}
	free_frames(f, n);
	return 0;
}

/* ---- process hosts: the core's side ---------------------------------------------- */

#define HOSTS_DIR "plugin-hosts"

/* What a child may see of crierd's environment: what its libraries read
 * (locale, time zone, libcurl's proxies and certificates, sanitizers,
 * the log level). Not the rest: "${VAR}" references in the configuration
 * put secrets there, and /proc/<pid>/environ shows a process's environment. */
static int env_passed(const char *entry)
{
	static const char *const names[] = {"PATH",           "HOME",         "TMPDIR",          "TZ",
	                                    "LANG",           "LANGUAGE",     "CRIER_LOG_LEVEL", "ASAN_OPTIONS",
	                                    "UBSAN_OPTIONS",  "LSAN_OPTIONS", "SSL_CERT_FILE",   "SSL_CERT_DIR",
	                                    "CURL_CA_BUNDLE", "http_proxy",   "https_proxy",     "HTTPS_PROXY",
	                                    "all_proxy",      "ALL_PROXY",    "no_proxy",        "NO_PROXY"};
	size_t len = strcspn(entry, "=");
	if (!entry[len])
		return 0;
	if (strncmp(entry, "LC_", 3) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(entry, names[i], len) == 0)
			return 1;
	return 0;
}

/* A new array of borrowed environ entries, NULL-terminated. */
static char **child_environment(void)
{
	extern char **environ;
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	size_t k = 0;
	for (char **e = environ; e && *e; e++)
		if (env_passed(*e))
			out[k++] = *e;
	return out;
}

/* <state_dir>/plugin-hosts, ours alone (0700): whoever can connect to a
 * host's socket first would be handed the instance's configuration. */
static int hosts_dir(const char *state_dir, char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat st;
	if (snprintf(out, outlen, "%s/" HOSTS_DIR, state_dir) >= (int)outlen) {
		snprintf(err, errlen, "the state directory's path is too long");
		return -1;
	}
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", out, strerror(errno));
		return -1;
	}
	if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not a directory of ours", out);
		return -1;
	}
	if ((st.st_mode & 0777) != 0700 && chmod(out, 0700) < 0) {
		snprintf(err, errlen, "cannot set mode 0700 on %s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

void plugin_host_sweep(const char *state_dir)
{
	char dir[4096], path[4400];
	if (snprintf(dir, sizeof(dir), "%s/" HOSTS_DIR, state_dir) >= (int)sizeof(dir))
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".sock") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

static void describe_exit(int status, char *why, size_t len)
{
	if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(why, len, "killed by signal %d (SIG%s)", WTERMSIG(status), abbrev ? abbrev : "?");
	} else if (WIFEXITED(status)) {
		snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
	} else {
		snprintf(why, len, "stopped (status 0x%x)", (unsigned)status);
	}
}

/* Signal the child, if there is one that has not been reaped (its pid may be someone else's by now). */
static void child_signal(plugin_host *h, int sig)
{
	if (h->pid > 0 && !h->reaped)
		kill(h->pid, sig);
}

/* Forget the child (reaped, or never started): its socket goes, and its file. */
static void child_forget(plugin_host *h)
{
	if (h->pidfd >= 0)
		close(h->pidfd);
	h->pidfd = -1;
	h->pid = 0;
	h->reaped = 0;
	h->disconnected = 0;
	if (h->core_sock && h->mon)
		zmq_socket_monitor(h->core_sock, NULL, 0);
	if (h->mon)
		zmq_close(h->mon);
	h->mon = NULL;
	if (h->core_sock)
		zmq_close(h->core_sock);
	h->core_sock = NULL;
	if (h->sock_path) {
		unlink(h->sock_path);
		free(h->sock_path);
		h->sock_path = NULL;
	}
	h->phase = PHASE_DOWN;
}

/* Wait until deadline (unix ms) for the child to exit; reap it. 1 reaped (*status set), 0 still running. */
static int child_wait(plugin_host *h, int64_t deadline, int *status)
{
	if (h->reaped) {
		*status = h->exit_status;
		return 1;
	}
	for (;;) {
		pid_t r = waitpid(h->pid, status, WNOHANG);
		if (r < 0 && errno == ECHILD)
			*status = -1; /* reaped by someone else: nothing to tell */
		if (r == h->pid || (r < 0 && errno == ECHILD)) {
			h->reaped = 1;
			h->exit_status = *status;
			return 1;
		}
		int64_t left = deadline - timefmt_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = h->pidfd, .events = POLLIN};
		poll(&p, 1, left > 1000 ? 1000 : (int)left);
	}
}

/* Kill the child for good and reap it. */
static void child_kill(plugin_host *h)
{
	int status;
	if (h->pid <= 0 || h->reaped)
		return;
	kill(h->pid, SIGKILL);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	h->reaped = 1;
}

/* Bind a fresh socket and start crierd again as this instance's host. The
 * child answers "H" once connected (see plugin_host_recv). */
static int child_spawn(plugin_host *h, char *err, size_t errlen)
{
	static atomic_uint seq;
	char dir[4096], endpoint[4200], mon_ep[64], parent[24], **envp = NULL;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	int have_attr = 0, have_fa = 0, rc = -1, linger = 0, e;
	const char *name = h->host.name;

	h->init_error[0] = '\0';
	if (hosts_dir(h->host.state_dir, dir, sizeof(dir), err, errlen) < 0)
		return -1;
	unsigned n = atomic_fetch_add(&seq, 1);
	snprintf(mon_ep, sizeof(mon_ep), "inproc://crier-host-monitor-%u", n);
	if (asprintf(&h->sock_path, "%s/host-%u.sock", dir, n) < 0) {
		h->sock_path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strlen(h->sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "the socket path %s is longer than %zu bytes: choose a shorter daemon.state_dir",
		         h->sock_path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		goto out;
	}
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", h->sock_path);
	h->core_sock = zmq_socket(h->zctx, ZMQ_PAIR);
	if (!h->core_sock) {
		snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(zmq_errno()));
		goto out;
	}
	zmq_setsockopt(h->core_sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_socket_monitor(h->core_sock, mon_ep, ZMQ_EVENT_DISCONNECTED) < 0 ||
	    !(h->mon = zmq_socket(h->zctx, ZMQ_PAIR)) || zmq_connect(h->mon, mon_ep) < 0) {
		snprintf(err, errlen, "cannot monitor the host's socket: %s", zmq_strerror(zmq_errno()));
		goto out;
	}
	zmq_setsockopt(h->mon, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(h->core_sock, endpoint) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
		goto out;
	}
	if (chmod(h->sock_path, 0600) < 0) {
		snprintf(err, errlen, "cannot set mode 0600 on %s: %s", h->sock_path, strerror(errno));
		goto out;
	}
	envp = child_environment();
	if (!envp) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* posix_spawn, not fork: this process has threads, and only exec makes
	 * a copy of it safe. The child starts with every signal unblocked but
	 * SIGUSR1 (crierd blocks SIGTERM, SIGHUP, SIGINT for sigwait), which it
	 * unblocks once its handler is in place; in a group of its own, so a
	 * terminal's Ctrl-C reaches crierd alone, which then stops it in order;
	 * with no descriptor of crierd's but stdin, stdout and stderr. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto spawn_failed;
	have_attr = 1;
	if ((e = posix_spawnattr_setsigmask(&attr, &mask)) != 0 || (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)) != 0)
		goto spawn_failed;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_failed;
	have_fa = 1;
	if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto spawn_failed;
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	char *argv[] = {"crierd", "--plugin-host", h->host.name, h->plugin_dir, endpoint, parent, NULL};
	pid_t pid;
	if ((e = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, envp)) != 0)
		goto spawn_failed;
	h->pid = pid;
	h->pidfd = pidfd_open(pid, 0);
	if (h->pidfd < 0) {
		snprintf(err, errlen, "pidfd_open: %s (isolation \"process\" needs Linux 5.3 or later)",
		         strerror(errno));
		child_kill(h);
		goto out;
	}
	h->phase = PHASE_HELLO;
	h->start_deadline = timefmt_now_ms() + PLUGIN_HOST_START_MS;
	log_debug("plugin host process spawned", " instance=%s pid=%ld", name, (long)pid);
	rc = 0;
	goto out;
spawn_failed:
	snprintf(err, errlen, "cannot start a plugin host process: %s", strerror(e));
out:
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (have_attr)
		posix_spawnattr_destroy(&attr);
	free(envp);
	if (rc < 0)
		child_forget(h);
	return rc;
}

/* A message that is not a result: the child's hello or its init. 0 handled, -1 unexpected. */
static int child_control(plugin_host *h, char **f, size_t *lens, size_t n)
{
	if (f[0][0] == 'H' && h->phase == PHASE_HELLO && n == 2 && lens[1] == sizeof(int32_t)) {
		int32_t pid;
		memcpy(&pid, f[1], sizeof(pid));
		if (pid != h->pid) {
			/* Only our user can reach the socket; still, never hand the
			 * configuration to a peer that is not our child. */
			snprintf(h->init_error, sizeof(h->init_error),
			         "a process other than the host (pid %ld) connected", (long)pid);
			child_signal(h, SIGKILL);
			return 0;
		}
		const char *st = h->host.state_dir, *cd = h->host.config_dir, *cj = h->config_json;
		if (send_frame(h->core_sock, "C", 1, ZMQ_SNDMORE | h->send_flags) < 0 ||
		    send_frame(h->core_sock, st, strlen(st), ZMQ_SNDMORE | h->send_flags) < 0 ||
		    send_frame(h->core_sock, cd, strlen(cd), ZMQ_SNDMORE | h->send_flags) < 0 ||
		    send_frame(h->core_sock, cj, strlen(cj), h->send_flags) < 0) {
			snprintf(h->init_error, sizeof(h->init_error), "cannot send the configuration: %s",
			         zmq_strerror(zmq_errno()));
			child_signal(h, SIGKILL);
			return 0;
		}
		h->phase = PHASE_INIT;
		return 0;
	}
	if (f[0][0] == 'I' && h->phase == PHASE_INIT && n == 2) {
		if (lens[1] > 0) {
			/* The child exits after saying so: its exit tells the caller. */
			snprintf(h->init_error, sizeof(h->init_error), "%s", f[1]);
			return 0;
		}
		h->phase = PHASE_READY;
		log_info("plugin host process started", " instance=%s pid=%ld", h->host.name, (long)h->pid);
		return 0;
	}
	return -1;
}

/* Spawn and wait (bounded) until the child's init answered. */
static int process_start(plugin_host *h, char *err, size_t errlen)
{
	char why[256];
	if (child_spawn(h, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", h->host.name, why);
		return -1;
	}
	while (h->phase != PHASE_READY) {
		int64_t left = h->start_deadline - timefmt_now_ms();
		int status = 0;
		if (h->init_error[0]) {
			snprintf(err, errlen, "%s: %s", h->host.name, h->init_error);
			break;
		}
		if (left <= 0) {
			snprintf(err, errlen, "%s: the plugin host did not start within %d ms", h->host.name,
			         PLUGIN_HOST_START_MS);
			break;
		}
		zmq_pollitem_t it[2] = {{.socket = h->core_sock, .events = ZMQ_POLLIN},
		                        {.socket = NULL, .fd = h->pidfd, .events = ZMQ_POLLIN}};
		if (zmq_poll(it, 2, left) < 0 && zmq_errno() != EINTR) {
			snprintf(err, errlen, "%s: %s", h->host.name, zmq_strerror(zmq_errno()));
			break;
		}
		if (it[0].revents & ZMQ_POLLIN) {
			plugin_host_result r;
			if (plugin_host_recv(h, &r) > 0)
				plugin_host_result_free(&r);
			continue;
		}
		if ((it[1].revents & ZMQ_POLLIN) && child_wait(h, 0, &status)) {
			describe_exit(status, why, sizeof(why));
			snprintf(err, errlen, "%s: the plugin host died while starting: %s", h->host.name, why);
			break;
		}
	}
	if (h->phase == PHASE_READY)
		return 0;
	child_kill(h);
	child_forget(h);
	return -1;
}

/*
 * Send "Q" and read what the host still sends until its own "Q", by
 * deadline (unix ms), pushed to renew_ms after each message when renew_ms
 * is not 0; a child's exit ends the wait too. Results still on their way
 * are dropped: their rows stay pending and go out again, same key, after
 * the next start. 1 when the host said it stopped, else 0.
 */
static int ask_quit(plugin_host *h, int64_t deadline, int64_t renew_ms)
{
	if (send_frame(h->core_sock, "Q", 1, h->send_flags) < 0)
		return 0;
	for (;;) {
		int64_t left = deadline - timefmt_now_ms();
		zmq_pollitem_t it[2] = {{.socket = h->core_sock, .events = ZMQ_POLLIN},
		                        {.socket = NULL, .fd = h->pidfd, .events = ZMQ_POLLIN}};
		if (left <= 0 || zmq_poll(it, h->process ? 2 : 1, left) <= 0 || !(it[0].revents & ZMQ_POLLIN))
			return 0;
		char *f[1] = {0};
		size_t lens[1], n = 0;
		if (recv_frames(h->core_sock, f, lens, 1, &n, 0) < 0)
			return 0;
		int done = n > 0 && f[0][0] == 'Q';
		free_frames(f, n);
		if (done)
			return 1;
		if (renew_ms)
			deadline = timefmt_now_ms() + renew_ms;
	}
}

/* Stop the child in order, bounded: queued deliveries come back skipped,
 * the one in progress finishes, then "Q" (destroy); killed when late. */
static void process_stop(plugin_host *h)
{
	int status;
	if (h->pid <= 0 || h->reaped) {
		child_forget(h);
		return;
	}
	if (h->phase != PHASE_READY) {
		/* Still starting: it has nothing of ours to finish. */
		child_kill(h);
		child_forget(h);
		return;
	}
	int64_t deadline = timefmt_now_ms() + PLUGIN_HOST_STOP_MS;
	child_signal(h, SIGUSR1);
	ask_quit(h, deadline, 0);
	if (!child_wait(h, deadline, &status)) {
		log_error("plugin host process did not stop in time; killing it", " instance=%s pid=%ld", h->host.name,
		          (long)h->pid);
		child_kill(h);
	}
	child_forget(h);
}

/* ---- process hosts: the child's side ------------------------------------------------ */

/* The one host of a child process, for its SIGUSR1 handler. */
static plugin_host *volatile child_host;

static void on_sigusr1(int sig)
{
	(void)sig;
	if (child_host)
		atomic_store(&child_host->stopping, 1); /* lock-free: safe in a handler */
}

int plugin_host_child_main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "crierd: --plugin-host is crierd's own (isolation \"process\"), not for people\n");
		return 64;
	}
	const char *name = argv[2], *plugin_dir = argv[3], *endpoint = argv[4];
	long parent = strtol(argv[5], NULL, 10);
	/* Die with crierd. If it died before this line, the signal will never
	 * come: we have a new parent already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != (pid_t)parent)
		return 1;
	int rc = 1;
	void *zctx = NULL, *sock = NULL;
	plugin_lib *lib = NULL;
	char *f[4] = {0}, plugin[128], err[1024];
	size_t lens[4], n = 0;
	plugin_host *h = calloc(1, sizeof(*h));
	if (!h)
		return 1;
	h->pidfd = -1;
	child_host = h;
	struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &usr1, NULL) < 0)
		goto out;
	zctx = zmq_ctx_new();
	sock = zctx ? zmq_socket(zctx, ZMQ_PAIR) : NULL;
	int linger = 1000; /* the last answer must get out, crierd may be waiting for it */
	if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 || zmq_connect(sock, endpoint) < 0) {
		log_error("plugin host cannot connect to crierd", " instance=%s error=%s", log_q(name),
		          log_q(zmq_strerror(zmq_errno())));
		goto out;
	}
	int32_t pid = (int32_t)getpid();
	if (send_frame(sock, "H", 1, ZMQ_SNDMORE) < 0 || send_frame(sock, &pid, sizeof(pid), 0) < 0 ||
	    recv_frames_retry(sock, f, lens, 4, &n) < 0 || n != 4 || f[0][0] != 'C') {
		log_error("plugin host got no configuration from crierd", " instance=%s", log_q(name));
		goto out;
	}
	snprintf(plugin, sizeof(plugin), "%.*s", (int)strcspn(name, "/"), name);
	char *dirs[] = {(char *)plugin_dir, NULL};
	lib = plugin_loader_open(dirs, plugin, err, sizeof(err));
	if (!lib) {
		send_init(sock, err);
		goto out;
	}
	h->api = lib->api;
	if (host_fill(&h->host, name, plugin, f[1], f[2]) < 0) {
		send_init(sock, "out of memory");
		goto out;
	}
	host_serve(h, sock, f[3]);
	rc = 0;
out:
	if (n == 4)
		explicit_bzero(f[3], lens[3]);
	free_frames(f, n);
	if (sock)
		zmq_close(sock);
	if (zctx)
		zmq_ctx_term(zctx);
	child_host = NULL;
	host_free(h);
	plugin_loader_close(lib);
	http_module_cleanup();
	return rc;
}

/* ---- the core's interface -------------------------------------------------------------- */

/* The folder a child loads name.so from: the one plugin_loader_open would
 * load it from, else the first (the child then says what is missing). */
static const char *plugin_folder(char *const *dirs, const char *name)
{
	int i = plugin_loader_find(dirs, name);
	return dirs[i < 0 ? 0 : i];
}

plugin_host *plugin_host_start(void *zctx, plugin_lib *lib, const config_instance *ic, const config *cfg, char *err,
                               size_t errlen)
{
	plugin_host *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->ic = ic;
	h->zctx = zctx;
	h->pidfd = -1;
	h->process = ic->isolation == CONFIG_ISOLATION_PROCESS;
	h->send_flags = h->process ? ZMQ_DONTWAIT : 0;
	if (host_fill(&h->host, ic->name, ic->plugin, cfg->state_dir, cfg->config_dir) < 0 ||
	    (h->process && (!(h->plugin_dir = strdup(plugin_folder(cfg->plugin_dirs, ic->plugin))) ||
	                    !(h->config_json = strdup(ic->config_json))))) {
		snprintf(err, errlen, "out of memory");
		host_free(h);
		return NULL;
	}
	if (h->process) {
		if (process_start(h, err, errlen) < 0) {
			host_free(h);
			return NULL;
		}
		return h;
	}
	int rc = thread_start(h, lib, err, errlen);
	if (rc == 0)
		return h;
	if (rc == -2) {
		abandon(h);
		return NULL;
	}
	if (h->started)
		pthread_join(h->thread, NULL); /* init failed: the thread has already exited */
	if (h->core_sock)
		zmq_close(h->core_sock);
	host_free(h);
	return NULL;
}

void *plugin_host_socket(plugin_host *h)
{
	return h->core_sock;
}

int plugin_host_exit_fd(const plugin_host *h)
{
	return h->pidfd;
}

long plugin_host_pid(const plugin_host *h)
{
	return (long)h->pid;
}

int plugin_host_ready(const plugin_host *h)
{
	return !h->process || h->phase == PHASE_READY;
}

int plugin_host_readable(plugin_host *h)
{
	int events = 0;
	size_t len = sizeof(events);
	if (!h->core_sock || zmq_getsockopt(h->core_sock, ZMQ_EVENTS, &events, &len) < 0)
		return 0;
	return (events & ZMQ_POLLIN) != 0;
}

int plugin_host_send(plugin_host *h, int64_t id, unsigned attempt, const char *key, const char *doc, const char *state,
                     const char *recipient, int64_t accepted_us)
{
	delivery_head dh = {.id = id, .accepted_us = accepted_us, .attempt = attempt, .has_state = state != NULL};
	const char *st = state ? state : "", *rc = recipient ? recipient : "";
	int fl = h->send_flags;
	if (!h->core_sock || !plugin_host_ready(h))
		return -1;
	if (send_frame(h->core_sock, "D", 1, ZMQ_SNDMORE | fl) < 0 ||
	    send_frame(h->core_sock, &dh, sizeof(dh), ZMQ_SNDMORE | fl) < 0 ||
	    send_frame(h->core_sock, key, strlen(key), ZMQ_SNDMORE | fl) < 0 ||
	    send_frame(h->core_sock, doc, strlen(doc), ZMQ_SNDMORE | fl) < 0 ||
	    send_frame(h->core_sock, st, strlen(st), ZMQ_SNDMORE | fl) < 0 ||
	    send_frame(h->core_sock, rc, strlen(rc), fl) < 0)
		return -1;
	return 0;
}

int plugin_host_recv(plugin_host *h, plugin_host_result *r)
{
	char *f[6] = {0};
	size_t lens[6], n = 0;
	memset(r, 0, sizeof(*r));
	r->waited_us = -1;
	if (!h->core_sock)
		return -1;
	if (recv_frames(h->core_sock, f, lens, 6, &n, ZMQ_DONTWAIT) < 0)
		return zmq_errno() == EAGAIN ? PLUGIN_HOST_EMPTY : -1;
	if (n > 0 && f[0][0] != 'R' && h->process) {
		int rc = child_control(h, f, lens, n);
		free_frames(f, n);
		return rc;
	}
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
	r->waited_us = rh.waited_us;
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
	return 1;
}

void plugin_host_result_free(plugin_host_result *r)
{
	free(r->error);
	free(r->state);
	free(r->draft.network);
	free(r->draft.text);
	r->error = r->state = r->draft.network = r->draft.text = NULL;
}

/* Wait (bounded) until ZeroMQ has seen the child's connection end: it
 * reports that only after queueing everything the child sent before. */
static void await_disconnect(plugin_host *h)
{
	int64_t deadline = timefmt_now_ms() + 1000;
	while (!h->disconnected) {
		int64_t left = deadline - timefmt_now_ms();
		zmq_pollitem_t it = {.socket = h->mon, .events = ZMQ_POLLIN};
		if (left <= 0 || zmq_poll(&it, 1, left) <= 0)
			return;
		char *f[2] = {0};
		size_t lens[2], n = 0;
		if (recv_frames(h->mon, f, lens, 2, &n, 0) < 0)
			return;
		uint16_t event = 0;
		if (n > 0 && lens[0] >= sizeof(event))
			memcpy(&event, f[0], sizeof(event));
		h->disconnected = event == ZMQ_EVENT_DISCONNECTED;
		free_frames(f, n);
	}
}

int plugin_host_exited(plugin_host *h, char *why, size_t len)
{
	int status = 0;
	if (!h->process || h->pid <= 0 || !child_wait(h, 0, &status))
		return 0;
	/* Answers it sent just before it died may still be on their way: the
	 * caller reads them first and asks again, or a delivery that went fine
	 * could be blamed for the crash. (A child that never said hello has
	 * sent nothing.) */
	if (h->phase != PHASE_HELLO && !h->disconnected) {
		await_disconnect(h);
		if (plugin_host_readable(h))
			return 0;
	}
	if (h->init_error[0])
		snprintf(why, len, "could not start: %s", h->init_error);
	else if (status == -1)
		snprintf(why, len, "exited (its status was lost)");
	else
		describe_exit(status, why, len);
	child_forget(h);
	return 1;
}

int plugin_host_respawn(plugin_host *h, char *err, size_t errlen)
{
	if (!h->process || h->pid > 0)
		return 0;
	atomic_store(&h->stopping, 0);
	return child_spawn(h, err, errlen);
}

int64_t plugin_host_watch(plugin_host *h, int64_t now)
{
	if (!h->process || h->pid <= 0 || h->reaped || h->phase == PHASE_READY)
		return INT64_MAX;
	if (now < h->start_deadline)
		return h->start_deadline;
	if (!h->init_error[0])
		snprintf(h->init_error, sizeof(h->init_error), "no answer within %d ms", PLUGIN_HOST_START_MS);
	child_signal(h, SIGKILL); /* its exit is reported like any other */
	return INT64_MAX;
}

void plugin_host_begin_stop(plugin_host *h)
{
	atomic_store(&h->stopping, 1);
	if (h->process)
		child_signal(h, SIGUSR1);
}

int plugin_host_stop(plugin_host *h)
{
	if (!h)
		return 0;
	if (h->process) {
		process_stop(h);
		host_free(h);
		return 0;
	}
	atomic_store(&h->stopping, 1);
	/* A thread that still answers is not stuck: each answer renews its wait. */
	if (!ask_quit(h, timefmt_now_ms() + PLUGIN_HOST_STOP_MS, PLUGIN_HOST_STOP_MS)) {
		/* A plugin stuck in deliver(): leave the thread and h to it. */
		abandon(h);
		return -1;
	}
	pthread_join(h->thread, NULL);
	zmq_close(h->core_sock);
	host_free(h);
	return 0;
}

/* init and destroy the instance on this thread. */
static int check_here(plugin_lib *lib, const config_instance *ic, const char *state_dir, const char *config_dir,
                      char *err, size_t errlen)
{
	crier_host host = {0};
	crier_instance *inst = NULL;
	char why[512] = "";
	int rc = -1;
	if (host_fill(&host, ic->name, ic->plugin, state_dir, config_dir) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (lib->api->init(host_api(lib->api), &host, ic->config_json, &inst, why, sizeof(why)) < 0 || !inst) {
		snprintf(err, errlen, "%s", why[0] ? why : "init failed");
		goto out;
	}
	lib->api->destroy(inst);
	http_module_close(&host.curl);
	rc = 0;
out:
	host_clear(&host);
	return rc;
}

int plugin_host_check(plugin_lib *lib, const config_instance *ic, const char *state_dir, const char *config_dir,
                      char *err, size_t errlen)
{
	/* In a child, whatever the instance's isolation: a plugin that crashes
	 * while starting is then reported like any other refusal, and the
	 * check goes on to the next instance. */
	int fds[2], status = 0;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		char why[1024] = "";
		close(fds[0]);
		int rc = check_here(lib, ic, state_dir, config_dir, why, sizeof(why));
		if (rc < 0 && write(fds[1], why, strlen(why)) < 0)
			rc = -1;
		_exit(rc < 0 ? 1 : 0);
	}
	close(fds[1]);
	size_t got = 0;
	while (got + 1 < errlen) {
		ssize_t n = read(fds[0], err + got, errlen - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (errlen)
		err[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 1 && got)) {
		char why[128];
		describe_exit(status, why, sizeof(why));
		snprintf(err, errlen, "the plugin failed while starting: %s", why);
	}
	return -1;
}
