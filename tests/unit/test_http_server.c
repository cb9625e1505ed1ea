/*
 * Unit test for core/http_server.c, driven over real HTTP with libcurl.
 *
 * The core is faked here (core_socket and its kin, core_ready) so the test needs no
 * store or plugins: it records what it was handed and answers what the test
 * asks for. Everything else is real: auth, metrics, the ingest parsers, log.
 * Everything crierd logs during the test goes to a temporary file (fd 2 is
 * redirected) so the test can prove no secret ever reached a log line.
 */
#include "check.h"
#include "http_server.h"
#include "log.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define AM_TOKEN     "am-secret-token-XYZ"
#define UR_TOKEN     "ur-secret-token-QRS"
#define WRONG_TOKEN  "wrong-token-value-JKL"
#define DRAFTS_TOKEN "drafts-secret-token-MNO"
#define AM_USER      "amuser"
#define AM_PASS      "am-basic-pass-UVW"
#define MAX_BODY     4096

/* ---- the fake core ------------------------------------------------------ */

/*
 * The workers reach the core through core_socket / core_send_alerts /
 * core_send_control / core_recv. The fake answers from a thread of its own
 * over real inproc sockets, so the server's event loop sees what the real
 * core gives it: answers that arrive later, in any order, or never.
 */
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static int fake_calls;
static int fake_rc;                         /* 0 commit, -1 store failure, -2 no answer at all */
static int fake_delay_ms;                   /* how long before it answers */
static int fake_ready;                      /* what core_ready says */
static json_t *fake_last;                   /* copy of the last alerts handed over */
static int fake_token;                      /* its address stands in for the core */
static int fake_send_us;                    /* how long handing alerts over takes the worker */
static int fake_heads_ok, fake_heads_wrong; /* alerts handed over with a head that is alert_head_of's, or not */

/*
 * A second core for test_stop_drains, on a context of its own: it takes
 * every request and never answers; the first hand-over ends that context
 * (so the worker's loop ends), and each hand-over sends a request on the
 * next of chain[], to arrive while the worker is between two of MHD's turns.
 */
static int detached_token;
static void *detached_zctx;
static int detached_calls;
static int detached_chain[16], detached_chain_n, detached_chain_at;
static void *detached_socks[2]; /* its worker's two sockets */
static size_t detached_n;
#define GENERIC_REQUEST                                                                                                \
	"POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"      \
	"{\"key\": \"p\"}"

/* The drafts API's way to the core. */
static char *ctl_last;        /* the last control request, new */
static const char *ctl_reply; /* what the core answers; NULL: nothing */
static int ctl_calls;

static void *fake_zctx, *fake_in[2]; /* ROUTERs for CORE_INGEST and CORE_CONTROL */
static pthread_t fake_thread;
static volatile int fake_stop;

typedef struct fake_answer {
	zmq_msg_t id;
	void *sock;
	void *tag;
	char *text;
	struct timespec due;
} fake_answer;

static fake_answer fake_queue[64];
static int fake_queued;

void *core_socket(core *c, core_channel ch, char *err, size_t errlen)
{
	if (c == (core *)&detached_token) {
		/* Never connected: nothing is sent on it. */
		void *d = detached_n < 2 ? zmq_socket(detached_zctx, ZMQ_DEALER) : NULL;

		if (d)
			zmq_setsockopt(d, ZMQ_LINGER, &(int){0}, sizeof(int));
		return d ? (detached_socks[detached_n++] = d) : NULL;
	}

	void *s = zmq_socket(fake_zctx, ZMQ_DEALER);

	if (c != (core *)&fake_token || !s ||
	    zmq_connect(s, ch == CORE_INGEST ? "inproc://fake-ingest" : "inproc://fake-control") < 0) {
		snprintf(err, errlen, "fake core: cannot connect");
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

/* The detached core's side of core_send_alerts: see detached_token. */
static int detached_take(json_t *alerts)
{
	pthread_mutex_lock(&fake_lock);
	if (detached_calls++ == 0)
		zmq_ctx_shutdown(detached_zctx);
	if (detached_chain_at < detached_chain_n &&
	    write(detached_chain[detached_chain_at++], GENERIC_REQUEST, sizeof(GENERIC_REQUEST) - 1) < 0)
		detached_chain_n = 0;
	pthread_mutex_unlock(&fake_lock);
	json_decref(alerts);
	return 0;
}

int core_send_alerts(void *sock, json_t *alerts, const alert_head *heads, size_t n_heads, int64_t received_us,
                     void *tag)
{
	(void)received_us;
	/* Each alert's head, however the worker came by it (parsed now, or
	 * from its cache), is the one the core would make. */
	int ok = 0, wrong = heads && n_heads != json_array_size(alerts);
	for (size_t i = 0; heads && !wrong && i < n_heads; i++) {
		alert_head h;
		alert_head_of(json_array_get(alerts, i), &h);
		if (memcmp(&h, &heads[i], sizeof(h)) == 0)
			ok++;
		else
			wrong++;
	}
	pthread_mutex_lock(&fake_lock);
	fake_heads_ok += ok;
	fake_heads_wrong += wrong + !heads;
	pthread_mutex_unlock(&fake_lock);
	for (size_t i = 0; i < detached_n; i++)
		if (detached_socks[i] == sock)
			return detached_take(alerts);
	if (fake_send_us)
		usleep((useconds_t)fake_send_us);
	if (zmq_send(sock, &tag, sizeof(tag), ZMQ_SNDMORE) < 0 || zmq_send(sock, &alerts, sizeof(alerts), 0) < 0) {
		json_decref(alerts);
		return -1;
	}
	return 0;
}

int core_send_control(void *sock, const char *req, void *tag)
{
	if (zmq_send(sock, &tag, sizeof(tag), ZMQ_SNDMORE) < 0)
		return -1;
	return zmq_send(sock, req, strlen(req), 0) < 0 ? -1 : 0;
}

int core_recv(void *sock, void **tag, char **reply)
{
	zmq_msg_t m;

	*reply = NULL;
	if (zmq_recv(sock, tag, sizeof(*tag), ZMQ_DONTWAIT) < 0)
		return zmq_errno() == EAGAIN ? 0 : -1;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sock, 0) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	*reply = strndup(zmq_msg_data(&m), zmq_msg_size(&m));
	zmq_msg_close(&m);
	return *reply ? 1 : -1;
}

int core_ready(const core *c)
{
	int r;

	pthread_mutex_lock(&fake_lock);
	r = c == (const core *)&fake_token && fake_ready;
	pthread_mutex_unlock(&fake_lock);
	return r;
}

/* One request in: record it, queue its answer (if any) for later. */
static void fake_take(int which)
{
	fake_answer *a = &fake_queue[fake_queued];
	zmq_msg_t body;
	char *text = NULL;
	int delay;

	zmq_msg_init(&a->id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&a->id, fake_in[which], ZMQ_DONTWAIT) < 0 ||
	    zmq_recv(fake_in[which], &a->tag, sizeof(a->tag), 0) < 0 || zmq_msg_recv(&body, fake_in[which], 0) < 0) {
		zmq_msg_close(&a->id);
		zmq_msg_close(&body);
		return;
	}
	pthread_mutex_lock(&fake_lock);
	delay = fake_delay_ms;
	if (which == CORE_INGEST) {
		json_t *alerts;

		memcpy(&alerts, zmq_msg_data(&body), sizeof(alerts));
		fake_calls++;
		json_decref(fake_last);
		fake_last = json_deep_copy(alerts);
		if (fake_rc == 0 && asprintf(&text, "OK %zu", json_array_size(alerts)) < 0)
			text = NULL;
		else if (fake_rc == -1)
			text = strdup("ERR 503 disk I/O error");
		json_decref(alerts); /* the core's reference */
	} else {
		ctl_calls++;
		free(ctl_last);
		ctl_last = strndup(zmq_msg_data(&body), zmq_msg_size(&body));
		text = ctl_reply ? strdup(ctl_reply) : NULL;
		delay = 0;
	}
	pthread_mutex_unlock(&fake_lock);
	zmq_msg_close(&body);
	if (!text || fake_queued == (int)(sizeof(fake_queue) / sizeof(fake_queue[0]))) {
		zmq_msg_close(&a->id); /* no answer: the server must give up on its own */
		free(text);
		return;
	}
	a->sock = fake_in[which];
	a->text = text;
	clock_gettime(CLOCK_MONOTONIC, &a->due);
	a->due.tv_nsec += (long)delay * 1000000L;
	a->due.tv_sec += a->due.tv_nsec / 1000000000L;
	a->due.tv_nsec %= 1000000000L;
	fake_queued++;
}

/* Send the answers that are due. */
static void fake_answer_due(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < fake_queued;) {
		fake_answer *a = &fake_queue[i];

		if (a->due.tv_sec > now.tv_sec || (a->due.tv_sec == now.tv_sec && a->due.tv_nsec > now.tv_nsec)) {
			i++;
			continue;
		}
		zmq_msg_send(&a->id, a->sock, ZMQ_SNDMORE);
		zmq_send(a->sock, &a->tag, sizeof(a->tag), ZMQ_SNDMORE);
		zmq_send(a->sock, a->text, strlen(a->text), 0);
		zmq_msg_close(&a->id);
		free(a->text);
		fake_queue[i] = fake_queue[--fake_queued];
	}
}

static void *fake_main(void *arg)
{
	(void)arg;
	while (!fake_stop) {
		zmq_pollitem_t it[2] = {{.socket = fake_in[0], .events = ZMQ_POLLIN},
		                        {.socket = fake_in[1], .events = ZMQ_POLLIN}};

		if (zmq_poll(it, 2, 10) < 0)
			break;
		for (int i = 0; i < 2; i++)
			if (it[i].revents & ZMQ_POLLIN)
				fake_take(i);
		fake_answer_due();
	}
	for (int i = 0; i < fake_queued; i++) {
		zmq_msg_close(&fake_queue[i].id);
		free(fake_queue[i].text);
	}
	return NULL;
}

static int fake_start(void)
{
	fake_zctx = zmq_ctx_new();
	if (!fake_zctx)
		return -1;
	fake_in[0] = zmq_socket(fake_zctx, ZMQ_ROUTER);
	fake_in[1] = zmq_socket(fake_zctx, ZMQ_ROUTER);
	if (!fake_in[0] || !fake_in[1] || zmq_bind(fake_in[0], "inproc://fake-ingest") < 0 ||
	    zmq_bind(fake_in[1], "inproc://fake-control") < 0)
		return -1;
	return pthread_create(&fake_thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static void fake_end(void)
{
	fake_stop = 1;
	pthread_join(fake_thread, NULL);
	zmq_close(fake_in[0]);
	zmq_close(fake_in[1]);
	zmq_ctx_term(fake_zctx);
}

static int calls(void)
{
	int n;

	pthread_mutex_lock(&fake_lock);
	n = fake_calls;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

static void fake_set(int rc, int delay_ms, int ready)
{
	pthread_mutex_lock(&fake_lock);
	fake_rc = rc;
	fake_delay_ms = delay_ms;
	fake_ready = ready;
	pthread_mutex_unlock(&fake_lock);
}

/* A string field of the last alert handed to the core, at index i. */
static const char *last_field(size_t i, const char *key)
{
	const char *v;

	pthread_mutex_lock(&fake_lock);
	v = json_string_value(json_object_get(json_array_get(fake_last, i), key));
	pthread_mutex_unlock(&fake_lock);
	return v;
}

static size_t last_count(void)
{
	size_t n;

	pthread_mutex_lock(&fake_lock);
	n = json_array_size(fake_last);
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* ---- the client --------------------------------------------------------- */

static int port;

typedef struct resp {
	long code;
	char body[65536];
	size_t len;
	char headers[8192];
	size_t hlen;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	if (len > room)
		len = room;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n, room = sizeof(r->headers) - 1 - r->hlen;

	if (len > room)
		len = room;
	memcpy(r->headers + r->hlen, p, len);
	r->hlen += len;
	r->headers[r->hlen] = '\0';
	return size * n;
}

/* A streamed body: total bytes of fill, handed out piece bytes at a time. */
typedef struct stream {
	const char *data; /* when set, sent instead of fill */
	size_t total, sent, piece;
} stream;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	stream *s = ud;
	size_t want = size * n, left = s->total - s->sent;

	if (want > s->piece)
		want = s->piece;
	if (want > left)
		want = left;
	if (s->data)
		memcpy(buf, s->data + s->sent, want);
	else
		memset(buf, 'x', want);
	s->sent += want;
	return want;
}

typedef struct req {
	const char *method; /* NULL: GET, or POST when body/stream is set */
	const char *path;
	const char *ctype;
	const char *auth; /* full Authorization header value */
	const char *userpwd;
	const char *body;
	stream *chunked;
	const char *header; /* one more header line, "Name: value" */
} req;

static int perform(const req *q, resp *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[2048], line[512];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (!h)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, q->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (q->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
	}
	if (q->chunked) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q->chunked);
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	}
	if (q->method && strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (q->method)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", q->ctype);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (q->auth) {
		snprintf(line, sizeof(line), "Authorization: %s", q->auth);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (q->header)
		hdrs = curl_slist_append(hdrs, q->header);
	/* Never wait for a 100 Continue: the server must cope with bodies
	 * arriving at once. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (q->userpwd) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERPWD, q->userpwd);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -1;
}

/* A client connection to port, or -1. */
static int connect_to(int to)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)to);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Send raw bytes, read the answer for up to wait_ms (until the server closes
 * or the buffer fills). Returns bytes read, -1 on error. */
static long raw_exchange(const char *raw, char *out, size_t size, int wait_ms)
{
	int fd = connect_to(port);
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (write(fd, raw, strlen(raw)) != (ssize_t)strlen(raw)) {
		close(fd);
		return -1;
	}
	while (got + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, wait_ms) <= 0)
			break;
		n = read(fd, out + got, size - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		/* One complete JSON answer is enough. */
		if (strstr(out, "\r\n\r\n") && out[got - 1] == '}')
			break;
	}
	out[got] = '\0';
	close(fd);
	return (long)got;
}

/* A string member of the JSON answer, "" when absent. */
static const char *jget(const resp *r, const char *key, char *out, size_t size)
{
	json_t *j = json_loads(r->body, 0, NULL);
	json_t *v = json_object_get(j, key);

	out[0] = '\0';
	if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	json_decref(j);
	return out;
}

/* ---- configuration ------------------------------------------------------ */

static char am_token[] = AM_TOKEN, ur_token[] = UR_TOKEN, am_user[] = AM_USER, am_pass[] = AM_PASS;
static char host[] = "127.0.0.1";

static void config_init(config *c, int basic)
{
	memset(c, 0, sizeof(*c));
	c->listen_host = host;
	c->listen_port = 0;
	c->max_body_bytes = MAX_BODY;
	c->ack_timeout_ms = 1234;
	c->limits = alert_limits_default;
	c->ur_services = json_object();
	c->auth[CONFIG_SRC_ALERTMANAGER].token = am_token;
	if (basic) {
		c->auth[CONFIG_SRC_ALERTMANAGER].username = am_user;
		c->auth[CONFIG_SRC_ALERTMANAGER].password = am_pass;
	}
	c->auth[CONFIG_SRC_UPTIMEROBOT].token = ur_token;
	/* generic: none, so loopback only */
}

/* ---- the tests ---------------------------------------------------------- */

static void test_probes(void)
{
	resp r;

	CHECK(perform(&(req){.path = "/healthz"}, &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(r.body, "ok\n");
	CHECK(perform(&(req){.method = "HEAD", .path = "/healthz"}, &r) == 0);
	CHECK(r.code == 200 && r.len == 0);

	fake_set(0, 0, 0);
	CHECK(perform(&(req){.path = "/readyz"}, &r) == 0);
	CHECK(r.code == 503);
	CHECK_STR(r.body, "starting\n");
	fake_set(0, 0, 1);
	CHECK(perform(&(req){.path = "/readyz"}, &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(r.body, "ready\n");
}

static void test_routing(void)
{
	resp r;
	char v[256];

	CHECK(perform(&(req){.path = "/nope"}, &r) == 0);
	CHECK(r.code == 404);
	CHECK_STR(jget(&r, "status", v, sizeof(v)), "error");
	CHECK(strstr(r.headers, "Content-Type: application/json") != NULL);
	/* Paths match exactly. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager/", .body = "{}", .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 404);

	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 405);
	CHECK(strstr(r.headers, "Allow: POST\r\n") != NULL);
	CHECK(perform(&(req){.method = "DELETE", .path = "/api/v1/uptimerobot"}, &r) == 0);
	CHECK(r.code == 405);
	CHECK(strstr(r.headers, "Allow: GET, POST\r\n") != NULL);
	CHECK(perform(&(req){.path = "/healthz", .body = "x"}, &r) == 0);
	CHECK(r.code == 405);
	CHECK(strstr(r.headers, "Allow: GET, HEAD\r\n") != NULL);
	CHECK(calls() == 0);
}

static void test_alertmanager(void)
{
	char *single = check_read_file("tests/fixtures/alertmanager/firing-single.json", NULL);
	char *two = check_read_file("tests/fixtures/alertmanager/firing-group-two-alerts.json", NULL);
	char v[256];
	resp r;
	int before;

	CHECK(single != NULL && two != NULL);
	if (!single || !two)
		goto out;
	fake_set(0, 0, 1);

	before = calls();
	CHECK(perform(&(req){.path = "/api/v1/alertmanager",
	                     .body = single,
	                     .ctype = "application/json",
	                     .auth = "Bearer " AM_TOKEN},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(jget(&r, "status", v, sizeof(v)), "ok");
	CHECK_STR(jget(&r, "alerts", v, sizeof(v)), "1");
	CHECK_STR(jget(&r, "changed", v, sizeof(v)), "1");
	CHECK(calls() == before + 1);
	CHECK(last_count() == 1);
	CHECK_STR(last_field(0, "source"), "alertmanager");
	CHECK_STR(last_field(0, "key"), "41e0d77341504fa0");

	/* Scheme case-insensitive, two alerts. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = two, .auth = "bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(jget(&r, "alerts", v, sizeof(v)), "2");
	CHECK(last_count() == 2);
	/* Sent again: parsed, or taken from a worker's cache (whether one
	 * worker sees it often enough is up to the kernel; test_ingest checks
	 * the cache's heads itself), every alert goes with its head. */
	for (int i = 0; i < 4; i++)
		CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = two, .auth = "Bearer " AM_TOKEN}, &r) ==
		          0 &&
		      r.code == 200);
	pthread_mutex_lock(&fake_lock);
	CHECK(fake_heads_wrong == 0);
	CHECK(fake_heads_ok >= 11);
	pthread_mutex_unlock(&fake_lock);

	/* Token in the query string. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager?token=" AM_TOKEN, .body = single}, &r) == 0);
	CHECK(r.code == 200);

	/* Wrong and missing credentials. */
	before = calls();
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " WRONG_TOKEN}, &r) == 0);
	CHECK(r.code == 401);
	CHECK_STR(jget(&r, "error", v, sizeof(v)), "missing or wrong credentials");
	CHECK(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"crier\"\r\n") != NULL);
	CHECK(strstr(r.headers, "Basic realm") == NULL); /* basic not configured */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager?token=" WRONG_TOKEN, .body = single}, &r) == 0);
	CHECK(r.code == 401);
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single}, &r) == 0);
	CHECK(r.code == 401);
	/* Loopback does not excuse a source that has credentials. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .userpwd = AM_USER ":" AM_PASS}, &r) == 0);
	CHECK(r.code == 401);
	CHECK(calls() == before);

	/* Parser errors: 400 with the parser's message. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = "{not json", .auth = "Bearer " AM_TOKEN}, &r) ==
	      0);
	CHECK(r.code == 400);
	CHECK_STR(jget(&r, "status", v, sizeof(v)), "error");
	CHECK(strlen(jget(&r, "error", v, sizeof(v))) > 0);
	CHECK(calls() == before);

	/* The store fails or times out: 503, and the daemon keeps serving. */
	fake_set(-1, 0, 1);
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 503);
	CHECK_STR(jget(&r, "error", v, sizeof(v)), "store unavailable, retry");
	/* No answer at all: 503 once http.ack_timeout_ms (1234) has passed, not before. */
	fake_set(-2, 0, 1);
	{
		struct timespec a, b;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &a);
		CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " AM_TOKEN}, &r) ==
		      0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		CHECK(r.code == 503);
		CHECK(ms >= 1234 && ms < 5000);
	}
	/* An answer late by more than that finds no one waiting, and harms no one. */
	fake_set(0, 1500, 1);
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 503);
	fake_set(0, 0, 1);
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 200);
out:
	free(single);
	free(two);
}

static void test_too_large(void)
{
	char *big = malloc(MAX_BODY + 2);
	char *single = check_read_file("tests/fixtures/alertmanager/firing-single.json", NULL);
	resp r;
	int before = calls();

	CHECK(big != NULL && single != NULL);
	if (!big || !single)
		goto out;
	/* Declared by Content-Length: refused before the body is read. */
	memset(big, ' ', MAX_BODY + 1);
	big[MAX_BODY + 1] = '\0';
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = big, .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 413);
	/* The declared length alone decides: the answer comes without waiting
	 * for a body that is never sent. */
	{
		char out[2048];
		long n = raw_exchange("POST /api/v1/alertmanager HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " AM_TOKEN
		                      "\r\nContent-Length: 1000000000\r\n\r\n{",
		                      out, sizeof(out), 5000);

		CHECK(n > 0 && strncmp(out, "HTTP/1.1 413 ", 13) == 0);
	}
	/* Exactly the limit is fine (and then a parser error, being blanks). */
	big[MAX_BODY] = '\0';
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = big, .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 400);

	/* Chunked, no length: counted as it streams. */
	{
		stream s = {.total = 3 * MAX_BODY, .piece = 500};

		CHECK(perform(&(req){.path = "/api/v1/alertmanager", .chunked = &s, .auth = "Bearer " AM_TOKEN}, &r) ==
		      0);
		CHECK(r.code == 413);
		CHECK(s.sent == s.total);
	}
	/* An endless body is cut off rather than drained forever. */
	{
		stream s = {.total = (size_t)256 << 20, .piece = 65536};
		int rc = perform(&(req){.path = "/api/v1/alertmanager", .chunked = &s, .auth = "Bearer " AM_TOKEN}, &r);

		CHECK(rc != 0 || r.code == 413);
		CHECK(s.sent < s.total);
	}
	/* A body that fits, streamed in small chunks, is put back together. */
	{
		stream s = {.data = single, .total = strlen(single), .piece = 7};

		CHECK(perform(&(req){.path = "/api/v1/alertmanager", .chunked = &s, .auth = "Bearer " AM_TOKEN}, &r) ==
		      0);
		CHECK(r.code == 200);
		CHECK(calls() == before + 1);
	}
	CHECK(perform(&(req){.path = "/healthz"}, &r) == 0);
	CHECK(r.code == 200);
out:
	free(big);
	free(single);
}

static void test_uptimerobot(void)
{
	char *query = check_read_file("tests/fixtures/uptimerobot/down.query", NULL);
	char *form = check_read_file("tests/fixtures/uptimerobot/down.form", NULL);
	char *json = check_read_file("tests/fixtures/uptimerobot/down.json", NULL);
	char path[1024], v[256];
	resp r;
	int before;

	CHECK(query && form && json);
	if (!query || !form || !json)
		goto out;
	query[strcspn(query, "\r\n")] = '\0';
	/* The fixture's placeholder token becomes the configured one. */
	{
		char *t = strstr(query, "token=SECRET");

		CHECK(t != NULL);
		if (!t)
			goto out;
		*t = '\0';
		snprintf(path, sizeof(path), "%stoken=" UR_TOKEN "%s", query, t + strlen("token=SECRET"));
	}

	/* GET with everything in the query string. */
	CHECK(perform(&(req){.path = path}, &r) == 0);
	CHECK(r.code == 200);
	CHECK(last_count() == 1);
	CHECK_STR(last_field(0, "source"), "uptimerobot");
	CHECK_STR(last_field(0, "key"), "uptimerobot/11");
	/* Query strings are form-decoded: '+' is a blank. */
	pthread_mutex_lock(&fake_lock);
	CHECK_STR(
	    json_string_value(json_object_get(json_object_get(json_array_get(fake_last, 0), "annotations"), "details")),
	    "Connection Timeout");
	pthread_mutex_unlock(&fake_lock);

	/* A form body; the token in the query string. */
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?token=" UR_TOKEN,
	                     .body = form,
	                     .ctype = "application/x-www-form-urlencoded"},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(last_field(0, "key"), "uptimerobot/784350743");

	/* A JSON body wins over query fields; the token by header. */
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?monitorID=11",
	                     .body = json,
	                     .ctype = "application/json",
	                     .auth = "Bearer " UR_TOKEN},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(last_field(0, "key"), "uptimerobot/784350743");
	/* JSON recognised by its first byte when the type says nothing useful. */
	CHECK(
	    perform(
	        &(req){.path = "/api/v1/uptimerobot", .body = json, .ctype = "text/plain", .auth = "Bearer " UR_TOKEN},
	        &r) == 0);
	CHECK(r.code == 200);
	/* Query fields fill what the body lacks. */
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?monitorID=42&alertType=1&monitorFriendlyName=Q",
	                     .body = "{\"monitorURL\": \"https://q.example\"}",
	                     .auth = "Bearer " UR_TOKEN},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(last_field(0, "key"), "uptimerobot/42");

	/* An unknown alertType is ignored with 202, never reaching the core. */
	before = calls();
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?token=" UR_TOKEN "&monitorID=11&alertType=9"}, &r) == 0);
	CHECK(r.code == 202);
	CHECK_STR(jget(&r, "status", v, sizeof(v)), "ignored");
	CHECK(strlen(jget(&r, "reason", v, sizeof(v))) > 0);
	CHECK(calls() == before);

	/* Invalid JSON (a quote in a monitor name) is a 400. */
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?token=" UR_TOKEN,
	                     .body = "{\"monitorID\": \"1\", \"monitorFriendlyName\": \"a\"b\"}",
	                     .ctype = "application/json"},
	              &r) == 0);
	CHECK(r.code == 400);
	/* Another source's token does not open this one. */
	CHECK(perform(&(req){.path = "/api/v1/uptimerobot?token=" AM_TOKEN "&monitorID=11&alertType=1"}, &r) == 0);
	CHECK(r.code == 401);
	CHECK(calls() == before);
out:
	free(query);
	free(form);
	free(json);
}

/* Requests MHD refuses, or that end halfway, free their state (the
 * sanitizer build reports a leak otherwise) and leave the server serving. */
static void test_malformed(void)
{
	char out[2048];
	resp r;

	CHECK(raw_exchange("GET /api/v1/uptimerobot?token=" UR_TOKEN " HTTP/1.1\r\nHost: t\r\nBroken header\r\n\r\n",
	                   out, sizeof(out), 2000) >= 0);
	CHECK(strncmp(out, "HTTP/1.1 200", 12) != 0);
	CHECK(raw_exchange("POST /api/v1/alerts?a=b HTTP/1.1\r\nHost: t\r\n", out, sizeof(out), 200) >= 0);
	CHECK(raw_exchange("POST /api/v1/alerts HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{\"key\"", out,
	                   sizeof(out), 200) >= 0);
	CHECK(raw_exchange("GET /healthz?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof(out),
	                   2000) > 0);
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0);
	CHECK(perform(&(req){.path = "/healthz"}, &r) == 0);
	CHECK(r.code == 200);
	/* Headers larger than a connection's memory: 431, and the next request is served. */
	{
		static char big[24 * 1024];
		int n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: ");
		memset(big + n, 'a', sizeof(big) - (size_t)n - 32);
		snprintf(big + sizeof(big) - 32, 32, "\r\nConnection: close\r\n\r\n");
		CHECK(raw_exchange(big, out, sizeof(out), 2000) > 0);
		CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
		CHECK(perform(&(req){.path = "/healthz"}, &r) == 0 && r.code == 200);
	}
}

static void test_generic_loopback(void)
{
	resp r;
	int before = calls();

	/* No credentials configured for generic: loopback clients get in. */
	CHECK(perform(&(req){.path = "/api/v1/alerts",
	                     .body = "{\"key\": \"k1\", \"labels\": {\"service\": \"db\"}}",
	                     .ctype = "application/json"},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK(calls() == before + 1);
	CHECK_STR(last_field(0, "key"), "k1");
	/* Unknown keys are the parser's 400. */
	CHECK(perform(&(req){.path = "/api/v1/alerts", .body = "{\"key\": \"k1\", \"bogus\": 1}"}, &r) == 0);
	CHECK(r.code == 400);

	/* Through a proxy on this host the peer is loopback, but the client is
	 * anyone: a forwarded request is not a loopback client's. */
	static const char *const forwarded[] = {"X-Forwarded-For: 203.0.113.9",
	                                        "Forwarded: for=192.0.2.60;proto=https",
	                                        "x-real-ip: 198.51.100.7",
	                                        "X-Forwarded-For: 127.0.0.1",
	                                        "Via: 1.1 proxy",
	                                        "X-Forwarded-Proto: https"};
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		before = calls();
		CHECK(perform(&(req){.path = "/api/v1/alerts",
		                     .body = "{\"key\": \"k2\", \"labels\": {\"service\": \"db\"}}",
		                     .ctype = "application/json",
		                     .header = forwarded[i]},
		              &r) == 0);
		CHECK(r.code == 403);
		CHECK(strstr(r.body, "only loopback clients are accepted") != NULL);
		CHECK(calls() == before);
	}
	/* A source with credentials takes a forwarded request that carries them. */
	char *single = check_read_file("tests/fixtures/alertmanager/firing-single.json", NULL);
	CHECK(single != NULL);
	if (single) {
		before = calls();
		CHECK(perform(&(req){.path = "/api/v1/alertmanager",
		                     .body = single,
		                     .auth = "Bearer " AM_TOKEN,
		                     .header = "X-Forwarded-For: 203.0.113.9"},
		              &r) == 0);
		CHECK(r.code == 200);
		CHECK(calls() == before + 1);
		free(single);
	}
}

/* A proxy may add no header at all: a peer in http.trusted_proxies is never
 * a loopback client, so a source without credentials refuses it. */
static void test_trusted_proxy_not_loopback(http_server *s, config *cfg)
{
	config proxied = *cfg;
	proxy_net lo;
	resp r;
	int before = calls();

	CHECK(proxy_net_parse("127.0.0.0/8", &lo) == 0);
	proxied.trusted_proxies = &lo;
	proxied.n_trusted_proxies = 1;
	http_server_reload(s, &proxied);
	CHECK(perform(&(req){.path = "/api/v1/alerts",
	                     .body = "{\"key\": \"k3\", \"labels\": {\"service\": \"db\"}}",
	                     .ctype = "application/json"},
	              &r) == 0);
	CHECK(r.code == 403);
	CHECK(calls() == before);
	http_server_reload(s, cfg);
	CHECK(perform(&(req){.path = "/api/v1/alerts",
	                     .body = "{\"key\": \"k3\", \"labels\": {\"service\": \"db\"}}",
	                     .ctype = "application/json"},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK(calls() == before + 1);
}

static void test_basic_after_reload(http_server *s, config *basic_cfg)
{
	resp r;

	http_server_reload(s, basic_cfg);
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = "{}"}, &r) == 0);
	CHECK(r.code == 401);
	CHECK(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"crier\"\r\n") != NULL);
	CHECK(strstr(r.headers, "WWW-Authenticate: Basic realm=\"crier\"\r\n") != NULL);
	{
		char *single = check_read_file("tests/fixtures/alertmanager/firing-single.json", NULL);

		CHECK(single != NULL);
		if (single) {
			CHECK(
			    perform(
			        &(req){.path = "/api/v1/alertmanager", .body = single, .userpwd = AM_USER ":" AM_PASS},
			        &r) == 0);
			CHECK(r.code == 200);
			CHECK(perform(&(req){.path = "/api/v1/alertmanager",
			                     .body = single,
			                     .userpwd = AM_USER ":" WRONG_TOKEN},
			              &r) == 0);
			CHECK(r.code == 401);
			CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Basic !!!"},
			              &r) == 0);
			CHECK(r.code == 401);
			/* The token still works alongside. */
			CHECK(
			    perform(&(req){.path = "/api/v1/alertmanager", .body = single, .auth = "Bearer " AM_TOKEN},
			            &r) == 0);
			CHECK(r.code == 200);
			free(single);
		}
	}
}

static void *parallel_one(void *arg)
{
	resp *r = arg;

	if (perform(&(req){.path = "/api/v1/alerts", .body = "{\"key\": \"p\"}"}, r) != 0)
		r->code = -1;
	return NULL;
}

/* Requests wait for the core side by side: six slow answers take one wait, not six. */
static void test_parallel(void)
{
	enum { N = 6 };
	static resp rs[N];
	pthread_t t[N];
	struct timespec a, b;
	int started = 0, all_ok = 1;
	double secs;

	fake_set(0, 400, 1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++)
		if (pthread_create(&t[i], NULL, parallel_one, &rs[i]) == 0)
			started++;
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		if (rs[i].code != 200)
			all_ok = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fake_set(0, 0, 1);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(started == N);
	CHECK(all_ok);
	CHECK(secs < 0.4 * N * 0.75);
}

static double metric(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static void test_metrics_endpoint(void)
{
	resp r;

	CHECK(perform(&(req){.path = "/metrics"}, &r) == 0);
	CHECK(r.code == 200);
	CHECK(strstr(r.headers, "Content-Type: text/plain; version=0.0.4\r\n") != NULL);
	CHECK(strstr(r.body, "# TYPE crier_http_requests_total counter\n") != NULL);
	CHECK(metric(r.body, "crier_http_requests_total{code=\"200\"}") > 10);
	CHECK(metric(r.body, "crier_http_requests_total{code=\"404\"}") == 2);
	CHECK(metric(r.body, "crier_http_requests_total{code=\"405\"}") == 3);
	CHECK(metric(r.body, "crier_http_requests_total{code=\"413\"}") == 3);
	/* single(1) + two(2) + two again 4 times(8) + query(1) + after 503s(1) + chunked(1) + reload(2) + forwarded(1)
	 */
	CHECK(metric(r.body, "crier_alerts_received_total{source=\"alertmanager\"}") == 17);
	CHECK(metric(r.body, "crier_alerts_received_total{source=\"uptimerobot\"}") == 5);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"alertmanager\",reason=\"too_large\"}") == 4);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"alertmanager\",reason=\"store\"}") == 3);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"alertmanager\",reason=\"auth\"}") == 7);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"uptimerobot\",reason=\"auth\"}") == 1);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"uptimerobot\",reason=\"method\"}") == 1);
	CHECK(metric(r.body, "crier_requests_rejected_total{source=\"generic\",reason=\"bad_request\"}") == 1);
	CHECK(metric(r.body, "crier_ready") == 0); /* the core sets it; the fake does not */
}

/* The drafts API: off without its token, its own token only, requests
 * translated for the core and its answers mapped to statuses. */
static void test_drafts_api(http_server *s, config *cfg)
{
	static char drafts_token[] = DRAFTS_TOKEN;
	resp r;
	char v[512];
	int before;

	/* Not configured: 403 whoever asks, saying how to turn it on. */
	CHECK(perform(&(req){.path = "/api/v1/drafts", .auth = "Bearer " AM_TOKEN}, &r) == 0);
	CHECK(r.code == 403);
	CHECK(strstr(jget(&r, "error", v, sizeof(v)), "set drafts.auth.token") != NULL);
	CHECK(ctl_calls == 0);

	cfg->drafts_auth.token = drafts_token;
	http_server_reload(s, cfg);
	ctl_reply = "{\"ok\":true,\"draft\":{\"id\":7,\"status\":\"approved\"}}";
	const char *denied[] = {NULL, "Bearer " AM_TOKEN, "Bearer " UR_TOKEN, "Bearer " WRONG_TOKEN,
	                        "Basic Zm9vOmJhcg=="};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		CHECK(perform(&(req){.method = "POST", .path = "/api/v1/drafts/7/approve", .auth = denied[i]}, &r) ==
		      0);
		CHECK(r.code == 401);
	}
	/* A token in the query string is not looked at. */
	CHECK(perform(&(req){.method = "POST", .path = "/api/v1/drafts/7/approve?token=" DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 401);
	/* Nor does the drafts token open an ingest path. */
	CHECK(perform(&(req){.path = "/api/v1/alertmanager", .body = "{}", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 401);
	CHECK(ctl_calls == 0);

	CHECK(perform(&(req){.method = "POST",
	                     .path = "/api/v1/drafts/7/approve",
	                     .auth = "Bearer " DRAFTS_TOKEN,
	                     .body = "{\"actor\":\"jane\"}"},
	              &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(jget(&r, "status", v, sizeof(v)), "approved");
	CHECK_STR(ctl_last, "{\"actor\":\"jane\",\"cmd\":\"draft_approve\",\"id\":7}");
	CHECK(perform(&(req){.path = "/api/v1/drafts", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 200);
	CHECK_STR(ctl_last, "{\"cmd\":\"drafts\"}");

	/* The core's refusals keep their meaning. */
	ctl_reply = "{\"ok\":false,\"error\":\"draft 7 is rejected, not pending\",\"code\":409}";
	CHECK(perform(&(req){.method = "POST", .path = "/api/v1/drafts/7/approve", .auth = "Bearer " DRAFTS_TOKEN},
	              &r) == 0);
	CHECK(r.code == 409);
	CHECK_STR(jget(&r, "error", v, sizeof(v)), "draft 7 is rejected, not pending");
	ctl_reply = NULL; /* the core does not answer */
	CHECK(perform(&(req){.path = "/api/v1/drafts/7", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 503);

	/* Refused before the core: paths, methods, bodies. */
	before = ctl_calls;
	/* Streamed past the limit: a 413, logged as the drafts API's. */
	{
		stream st = {.total = 3 * MAX_BODY, .piece = 500};

		CHECK(perform(&(req){.method = "POST",
		                     .path = "/api/v1/drafts/7/edit",
		                     .auth = "Bearer " DRAFTS_TOKEN,
		                     .chunked = &st},
		              &r) == 0);
		CHECK(r.code == 413);
	}
	CHECK(perform(&(req){.path = "/api/v1/drafts/7/publish", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 404);
	CHECK(perform(&(req){.path = "/api/v1/drafts/7/approve", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 405 && strstr(r.headers, "Allow: POST") != NULL);
	CHECK(perform(&(req){.method = "DELETE", .path = "/api/v1/drafts/7", .auth = "Bearer " DRAFTS_TOKEN}, &r) == 0);
	CHECK(r.code == 405 && strstr(r.headers, "Allow: GET") != NULL);
	CHECK(perform(&(req){.method = "POST",
	                     .path = "/api/v1/drafts/7/edit",
	                     .auth = "Bearer " DRAFTS_TOKEN,
	                     .body = "{\"text\": "},
	              &r) == 0);
	CHECK(r.code == 400 && strstr(jget(&r, "error", v, sizeof(v)), "invalid JSON") != NULL);
	CHECK(
	    perform(
	        &(req){.method = "POST", .path = "/api/v1/drafts/7/edit", .auth = "Bearer " DRAFTS_TOKEN, .body = "{}"},
	        &r) == 0);
	CHECK(r.code == 400);
	CHECK(ctl_calls == before);

	cfg->drafts_auth.token = NULL;
	http_server_reload(s, cfg);
	free(ctl_last);
	ctl_last = NULL;
}

static void test_bind_failure(int taken)
{
	config c;
	char err[256], want[128];
	http_server *s2;

	config_init(&c, 0);
	c.listen_port = taken;
	s2 = http_server_start(&c, (core *)&fake_token, err, sizeof(err));
	CHECK(s2 == NULL);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", taken);
	CHECK_STR(err, want);
	if (s2)
		http_server_stop(s2);
	json_decref(c.ur_services);

	/* IPv6 loopback literal, where the host has IPv6. */
	config_init(&c, 0);
	c.listen_host = (char *)"::1";
	s2 = http_server_start(&c, (core *)&fake_token, err, sizeof(err));
	if (s2) {
		CHECK(http_server_port(s2) > 0);
		http_server_stop(s2);
	} else {
		CHECK(strncmp(err, "cannot listen on [::1]:0: ", 26) == 0);
	}
	json_decref(c.ur_services);
}

/* A keep-alive client that sends its next request the moment its answer is
 * in, until the server closes the connection; it counts the answers. */
typedef struct hammer {
	int port;
	pthread_t thread;
	int ok, unavailable, other;
} hammer;

static void *hammer_main(void *arg)
{
	hammer *h = arg;
	char buf[4096];
	size_t have = 0;
	int fd = connect_to(h->port);

	while (fd >= 0 && write(fd, GENERIC_REQUEST, sizeof(GENERIC_REQUEST) - 1) == sizeof(GENERIC_REQUEST) - 1) {
		size_t need;

		/* One answer: its head, then Content-Length bytes. */
		for (;;) {
			char *end, *cl;
			ssize_t n;

			buf[have] = '\0';
			end = strstr(buf, "\r\n\r\n");
			cl = end ? strcasestr(buf, "Content-Length: ") : NULL;
			need = cl && cl < end ? (size_t)(end + 4 - buf) + (size_t)atol(cl + 16) : sizeof(buf);
			if (have >= need)
				break;
			n = read(fd, buf + have, sizeof(buf) - 1 - have);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		if (strncmp(buf, "HTTP/1.1 200", 12) == 0)
			h->ok++;
		else if (strncmp(buf, "HTTP/1.1 503", 12) == 0)
			h->unavailable++;
		else
			h->other++;
		memmove(buf, buf + need, have - need);
		have -= need;
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Stopping under load: keep-alive clients go on sending while the workers
 * stop. Each answer from then on closes its connection, so the requests in
 * progress run out at once; they used to keep coming on the open
 * connections and hold crierd for the whole grace period (10 s).
 */
static void test_stop_under_load(void)
{
	enum { CLIENTS = 16 };
	static hammer hs[CLIENTS];
	struct timespec a, b;
	int ok = 0, other = 0, started = 0;
	char err[256];
	config c;
	http_server *s2;

	config_init(&c, 0);
	/* Answers in bunches, as the core's group commits give them; handing
	 * a request over takes the worker a while. */
	fake_set(0, 2, 1);
	fake_send_us = 200;
	s2 = http_server_start(&c, (core *)&fake_token, err, sizeof(err));
	CHECK(s2 != NULL);
	if (!s2)
		goto out;
	for (int i = 0; i < CLIENTS; i++) {
		hs[i] = (hammer){.port = http_server_port(s2)};
		if (pthread_create(&hs[i].thread, NULL, hammer_main, &hs[i]) != 0)
			break;
		started++;
	}
	usleep(200000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	http_server_stop(s2);
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (int i = 0; i < started; i++) {
		pthread_join(hs[i].thread, NULL);
		ok += hs[i].ok;
		other += hs[i].other;
	}
	CHECK(started == CLIENTS);
	CHECK(ok > 0);
	CHECK(other == 0);
	CHECK((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < 5.0);
out:
	fake_set(0, 0, 1);
	fake_send_us = 0;
	json_decref(c.ur_services);
}

/*
 * Requests that come in once a worker's loop is over are answered 503 and
 * never handed to the core. Handed over, each was suspended, then woken by
 * the loop's end, and with a new one arriving in each of MHD's turns the
 * last stayed suspended: MHD_stop_daemon() aborts the process on that. The
 * loop can end with requests on their way (the last one in progress done,
 * or the grace period over); here its core going away ends it, at a
 * moment the test chooses.
 */
static void test_stop_drains(void)
{
	static const char probe[] = "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{";
	enum { IDLE = 12 };
	int idle[IDLE], n_idle = 0, last = -1, n503 = 0;
	char err[256], buf[4096];
	http_server *s2 = NULL;
	config c;

	config_init(&c, 0);
	c.http_threads = 1;
	detached_zctx = zmq_ctx_new();
	CHECK(detached_zctx != NULL);
	if (detached_zctx)
		s2 = http_server_start(&c, (core *)&detached_token, err, sizeof(err));
	CHECK(s2 != NULL);
	if (!s2)
		goto out;
	/* Keep-alive connections, each answered once (400: no core needed). */
	for (int i = 0; i < IDLE; i++) {
		int fd = connect_to(http_server_port(s2));

		if (fd >= 0 && write(fd, probe, sizeof(probe) - 1) == sizeof(probe) - 1 &&
		    read(fd, buf, sizeof(buf)) >= 12 && strncmp(buf, "HTTP/1.1 400", 12) == 0)
			idle[n_idle++] = fd;
		else if (fd >= 0)
			close(fd);
	}
	CHECK(n_idle == IDLE);
	pthread_mutex_lock(&fake_lock);
	memcpy(detached_chain, idle, sizeof(idle[0]) * (size_t)n_idle);
	detached_chain_n = n_idle;
	pthread_mutex_unlock(&fake_lock);
	last = connect_to(http_server_port(s2));
	CHECK(last >= 0 && write(last, GENERIC_REQUEST, sizeof(GENERIC_REQUEST) - 1) == sizeof(GENERIC_REQUEST) - 1);
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&fake_lock);
		int taken = detached_calls;
		pthread_mutex_unlock(&fake_lock);
		if (taken)
			break;
		usleep(10000);
	}
	http_server_stop(s2);
	pthread_mutex_lock(&fake_lock);
	CHECK(detached_calls == 1);
	pthread_mutex_unlock(&fake_lock);
	CHECK(last >= 0 && read(last, buf, sizeof(buf)) >= 12 && strncmp(buf, "HTTP/1.1 503", 12) == 0);
	/* The one request that came in after it: 503, and nothing more came. */
	for (int i = 0; i < n_idle; i++) {
		ssize_t n = read(idle[i], buf, sizeof(buf));

		n503 += n >= 12 && strncmp(buf, "HTTP/1.1 503", 12) == 0;
	}
	CHECK(n503 == 1);
out:
	for (int i = 0; i < n_idle; i++)
		close(idle[i]);
	if (last >= 0)
		close(last);
	if (detached_zctx)
		zmq_ctx_term(detached_zctx);
	json_decref(c.ur_services);
}

int main(void)
{
	config cfg, basic_cfg;
	char err[256], tmpl[] = "/tmp/test_http_server.XXXXXX";
	http_server *s;
	int saved_err, logfd;
	char *log_text;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "curl_global_init failed\n");
		return 1;
	}
	config_init(&cfg, 0);
	config_init(&basic_cfg, 1);
	log_set_level(LOG_DEBUG);

	/* Capture fd 2: every log line of the server lands in the file. */
	logfd = mkstemp(tmpl);
	CHECK(logfd >= 0);
	if (logfd < 0)
		return check_summary("test_http_server");
	fflush(stderr);
	saved_err = dup(2);
	dup2(logfd, 2);

	CHECK(fake_start() == 0);
	s = http_server_start(&cfg, (core *)&fake_token, err, sizeof(err));
	CHECK(s != NULL);
	if (s) {
		port = http_server_port(s);
		CHECK(port > 0);
		test_probes();
		test_routing();
		test_alertmanager();
		test_too_large();
		test_uptimerobot();
		test_generic_loopback();
		test_trusted_proxy_not_loopback(s, &cfg);
		test_malformed();
		test_basic_after_reload(s, &basic_cfg);
		test_parallel();
		test_metrics_endpoint();
		http_server_reload(s, &cfg);
		test_drafts_api(s, &cfg);
		test_bind_failure(port);
		test_stop_under_load();
		test_stop_drains();
		http_server_stop(s);
	}
	fake_end();

	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	close(logfd);
	log_text = check_read_file(tmpl, NULL);
	unlink(tmpl);
	CHECK(log_text != NULL);
	if (log_text) {
		/* The capture worked: rejections were logged, with source and peer. */
		CHECK(strstr(log_text, "request rejected") != NULL);
		CHECK(strstr(log_text, "source=alertmanager peer=127.0.0.1 reason=auth") != NULL);
		CHECK(strstr(log_text, "request accepted") != NULL);
		/* Every rejection names who sent it, the APIs too. */
		CHECK(strstr(log_text, "source=drafts peer=127.0.0.1 reason=too_large received=") != NULL);
		CHECK(strstr(log_text, "source=unknown") == NULL);
		CHECK(strstr(log_text,
		             "source=generic peer=127.0.0.1 reason=auth detail=\"no credentials configured and "
		             "the request came through a proxy (a forwarding header, or a peer in "
		             "http.trusted_proxies)\"") != NULL);
		/* No secret, presented or configured, in any line. */
		CHECK(strstr(log_text, AM_TOKEN) == NULL);
		CHECK(strstr(log_text, UR_TOKEN) == NULL);
		CHECK(strstr(log_text, WRONG_TOKEN) == NULL);
		CHECK(strstr(log_text, DRAFTS_TOKEN) == NULL);
		CHECK(strstr(log_text, AM_PASS) == NULL);
		CHECK(strstr(log_text, "token=") == NULL);
		CHECK(strstr(log_text, "YW11c2Vy") == NULL); /* base64 of "amuser", i.e. a Basic header */
		if (check_failed)
			fprintf(stderr, "--- captured log ---\n%s--- end ---\n", log_text);
		free(log_text);
	}
	json_decref(fake_last);
	json_decref(cfg.ur_services);
	json_decref(basic_cfg.ur_services);
	curl_global_cleanup();
	return check_summary("test_http_server");
}
