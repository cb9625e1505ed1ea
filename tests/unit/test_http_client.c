/* http_client: Retry-After parsing, and real requests against a small HTTP
 * server this test runs on 127.0.0.1 in a thread. */
#include "check.h"
#include "http_client.h"
#include "http_module.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the canned server ---- */

#define MAX_CONNS 8
#define CONN_BUF  65536
#define BIG_BODY  100000

typedef struct conn {
	int fd;
	char buf[CONN_BUF];
	size_t len;
} conn;

typedef struct server {
	int lfd;
	int port;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t mu;
	int accepted;            /* connections accepted so far */
	char last_req[CONN_BUF]; /* the head and body of the last request */
	conn conns[MAX_CONNS];
} server;

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int respond(int fd, const char *status, const char *extra, const char *body, size_t body_len)
{
	char head[512];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n", status, body_len,
	                 extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (write_all(fd, head, (size_t)n) != 0)
		return -1;
	return body_len ? write_all(fd, body, body_len) : 0;
}

/* Answer one complete request. Returns 1 to keep the connection, 0 to close
 * it, and leaves a /hang request unanswered. */
static int answer(server *s, conn *c, const char *path, const char *body, size_t body_len)
{
	int fd = c->fd;

	if (strncmp(path, "/ok", 3) == 0)
		return respond(fd, "200 OK", "Content-Type: text/plain\r\n", "hello", 5) == 0;
	if (strncmp(path, "/echo", 5) == 0)
		return respond(fd, "200 OK", NULL, body, body_len) == 0;
	if (strncmp(path, "/503", 4) == 0)
		return respond(fd, "503 Service Unavailable", "Retry-After: 2\r\n", "busy", 4) == 0;
	if (strncmp(path, "/mastodon429", 12) == 0)
		return respond(fd, "429 Too Many Requests",
		               "X-RateLimit-Limit: 300\r\nX-RateLimit-Remaining: 0\r\n"
		               "X-RateLimit-Reset: 2037-10-21T07:28:00.000Z\r\n",
		               "{\"error\":\"Too many requests\"}", 29) == 0;
	if (strncmp(path, "/reset200", 9) == 0)
		return respond(fd, "200 OK", "X-RateLimit-Reset: 2037-10-21T07:28:00.000Z\r\n", "ok", 2) == 0;
	if (strncmp(path, "/429", 4) == 0)
		return respond(fd, "429 Too Many Requests", "retry-after: Wed, 21 Oct 2037 07:28:00 GMT\r\n",
		               "slow down", 9) == 0;
	if (strncmp(path, "/redirect", 9) == 0)
		return respond(fd, "302 Found", "Location: /ok\r\n", "", 0) == 0;
	if (strncmp(path, "/big", 4) == 0) {
		char *big = malloc(BIG_BODY);
		int ok;
		if (!big)
			return 0;
		for (size_t i = 0; i < BIG_BODY; i++)
			big[i] = (char)('a' + i % 26);
		ok = respond(fd, "200 OK", NULL, big, BIG_BODY) == 0;
		free(big);
		return ok;
	}
	if (strncmp(path, "/close", 6) == 0)
		return 0;
	if (strncmp(path, "/hang", 5) == 0)
		return 1;
	(void)s;
	return respond(fd, "404 Not Found", NULL, "no such path", 12) == 0;
}

/* Handle every complete request in c's buffer. 0 to keep the connection. */
static int serve_buffer(server *s, conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		char path[256];
		size_t head_len, body_len = 0, total;
		const char *cl;

		if (!end)
			return 0;
		head_len = (size_t)(end - c->buf) + 4;
		c->buf[head_len - 1] = '\0'; /* the head's last \n, so string functions stop there */
		cl = strcasestr(c->buf, "\r\nContent-Length:");
		if (cl)
			body_len = strtoul(cl + 17, NULL, 10);
		total = head_len + body_len;
		if (total > CONN_BUF)
			return -1;
		if (c->len < total) {
			c->buf[head_len - 1] = '\n';
			return 0;
		}
		if (sscanf(c->buf, "%*s %255s", path) != 1)
			return -1;
		c->buf[head_len - 1] = '\n';
		pthread_mutex_lock(&s->mu);
		memcpy(s->last_req, c->buf, total);
		s->last_req[total < CONN_BUF ? total : CONN_BUF - 1] = '\0';
		pthread_mutex_unlock(&s->mu);
		if (!answer(s, c, path, c->buf + head_len, body_len))
			return -1;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

static void conn_close(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void *server_main(void *arg)
{
	server *s = arg;

	for (;;) {
		struct pollfd pfd[2 + MAX_CONNS];
		int idx[2 + MAX_CONNS];
		nfds_t n = 0;

		pfd[n++] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		for (int i = 0; i < MAX_CONNS; i++) {
			if (s->conns[i].fd >= 0) {
				idx[n] = i;
				pfd[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
			}
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN) {
			int fd = accept(s->lfd, NULL, NULL);
			if (fd >= 0) {
				int slot = -1;
				for (int i = 0; i < MAX_CONNS && slot < 0; i++)
					if (s->conns[i].fd < 0)
						slot = i;
				if (slot < 0) {
					close(fd);
				} else {
					s->conns[slot].fd = fd;
					s->conns[slot].len = 0;
					pthread_mutex_lock(&s->mu);
					s->accepted++;
					pthread_mutex_unlock(&s->mu);
				}
			}
		}
		for (nfds_t k = 2; k < n; k++) {
			conn *c = &s->conns[idx[k]];
			ssize_t r;
			if (!pfd[k].revents)
				continue;
			r = read(c->fd, c->buf + c->len, CONN_BUF - c->len);
			if (r <= 0) {
				conn_close(c);
				continue;
			}
			c->len += (size_t)r;
			if (serve_buffer(s, c) != 0)
				conn_close(c);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&s->conns[i]);
	return NULL;
}

static int listen_loopback(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int server_start(server *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < MAX_CONNS; i++)
		s->conns[i].fd = -1;
	s->lfd = listen_loopback(&s->port);
	if (s->lfd < 0)
		return -1;
	if (pipe(s->stop) != 0) {
		close(s->lfd);
		return -1;
	}
	if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_create(&s->thread, NULL, server_main, s) != 0) {
		close(s->lfd);
		close(s->stop[0]);
		close(s->stop[1]);
		return -1;
	}
	return 0;
}

static void server_stop(server *s)
{
	if (write_all(s->stop[1], "x", 1) != 0)
		fprintf(stderr, "server_stop: cannot wake the server thread\n");
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
}

static int server_accepted(server *s)
{
	int n;
	pthread_mutex_lock(&s->mu);
	n = s->accepted;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int last_request_has(server *s, const char *needle)
{
	int found;
	pthread_mutex_lock(&s->mu);
	found = strstr(s->last_req, needle) != NULL;
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* ---- tests ---- */

static void test_retry_after(void)
{
	const int64_t now = 1780272000000LL; /* 2026-06-01T00:00:00Z */
	const int64_t rfc_example = 784111777000LL;

	CHECK(http_client_parse_retry_after("120", now) == now + 120000);
	CHECK(http_client_parse_retry_after("0", now) == now);
	CHECK(http_client_parse_retry_after(" 2\r\n", now) == now + 2000);
	CHECK(http_client_parse_retry_after("99999999999999999999", now) == now + 2147483648000LL);

	CHECK(http_client_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == rfc_example);
	CHECK(http_client_parse_retry_after("Wed, 21 Oct 2037 07:28:00 GMT", now) == 2139722880000LL);
	CHECK(http_client_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == rfc_example);
	/* Two-digit years within 50 years ahead stay in this century. */
	CHECK(http_client_parse_retry_after("Tuesday, 01-Jan-30 00:00:00 GMT", now) == 1893456000000LL);
	CHECK(http_client_parse_retry_after("Sun Nov  6 08:49:37 1994", now) == rfc_example);
	CHECK(http_client_parse_retry_after("Thu Jan 1 00:00:00 2030", now) == 0); /* day needs two columns */
	CHECK(http_client_parse_retry_after("Tue Jan  1 00:00:00 2030", now) == 1893456000000LL);

	CHECK(http_client_parse_retry_after(NULL, now) == 0);
	CHECK(http_client_parse_retry_after("", now) == 0);
	CHECK(http_client_parse_retry_after("   ", now) == 0);
	CHECK(http_client_parse_retry_after("soon", now) == 0);
	CHECK(http_client_parse_retry_after("-5", now) == 0);
	CHECK(http_client_parse_retry_after("12abc", now) == 0);
	CHECK(http_client_parse_retry_after("1.5", now) == 0);
	CHECK(http_client_parse_retry_after("Sun, 31 Feb 1994 08:49:37 GMT", now) == 0);
	CHECK(http_client_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now) == 0);
	CHECK(http_client_parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now) == 0);
	CHECK(http_client_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT trailing", now) == 0);
	CHECK(http_client_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0);

	/* Rate-limit reset headers: an RFC 3339 time, epoch seconds, or seconds from now. */
	CHECK(http_client_parse_reset("2026-06-01T00:01:00.000Z", now) == now + 60000);
	CHECK(http_client_parse_reset(" 2026-06-01T00:01:00Z\r\n", now) == now + 60000);
	CHECK(http_client_parse_reset("1780272090", now) == now + 90000);
	CHECK(http_client_parse_reset("30", now) == now + 30000);
	CHECK(http_client_parse_reset("soon", now) == 0);
	CHECK(http_client_parse_reset("", now) == 0);
	CHECK(http_client_parse_reset(NULL, now) == 0);
	CHECK(http_client_parse_reset("12x", now) == 0);
}

static void url_for(char *buf, size_t size, const server *s, const char *path)
{
	snprintf(buf, size, "http://127.0.0.1:%d%s", s->port, path);
}

static int get(void **h, const char *url, long timeout_ms, crier_http_response *resp)
{
	crier_http_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};
	return http_client_request(h, &req, resp);
}

static void test_requests(server *s)
{
	void *h = NULL;
	crier_http_response resp;
	char url[256];
	int64_t before;

	/* A POST with headers and a body. */
	const crier_http_header hdrs[] = {{"Content-Type", "application/json"}, {"X-Test", "one two"}};
	const char *body = "{\"a\":1}";
	crier_http_request post = {.url = url, .headers = hdrs, .n_headers = 2, .body = body, .body_len = strlen(body)};
	url_for(url, sizeof(url), s, "/echo");
	CHECK(http_client_request(&h, &post, &resp) == 0);
	CHECK(resp.status == 200);
	CHECK_STR(resp.body, body);
	CHECK(resp.body_len == strlen(body));
	CHECK(resp.retry_after_ms == 0);
	CHECK(last_request_has(s, "POST /echo HTTP/1.1\r\n"));
	CHECK(last_request_has(s, "\r\nContent-Type: application/json\r\n"));
	CHECK(last_request_has(s, "\r\nX-Test: one two\r\n"));
	CHECK(last_request_has(s, "\r\nContent-Length: 7\r\n"));
	CHECK(!last_request_has(s, "Expect:"));
	http_module_response_free(&resp);
	CHECK(resp.body == NULL);
	http_module_response_free(&resp); /* twice is fine */

	url_for(url, sizeof(url), s, "/ok");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 200);
	CHECK_STR(resp.body, "hello");
	http_module_response_free(&resp);

	before = 0;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	url_for(url, sizeof(url), s, "/503");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 503);
	CHECK_STR(resp.body, "busy");
	CHECK(resp.retry_after_ms >= before + 2000 && resp.retry_after_ms <= before + 2000 + 5000);
	http_module_response_free(&resp);

	url_for(url, sizeof(url), s, "/429");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 429);
	CHECK(resp.retry_after_ms == 2139722880000LL);
	http_module_response_free(&resp);

	/* Mastodon says when the window reopens, not how long to wait; only a
	 * 429 makes that the wait. */
	url_for(url, sizeof(url), s, "/mastodon429");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 429);
	CHECK(resp.retry_after_ms == 2139722880000LL);
	http_module_response_free(&resp);
	url_for(url, sizeof(url), s, "/reset200");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 200 && resp.retry_after_ms == 0);
	http_module_response_free(&resp);

	/* The cap keeps 64 KiB and drops the rest, yet reads it all, so the
	 * connection stays usable for the next request. */
	url_for(url, sizeof(url), s, "/big");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 200);
	CHECK(resp.body_len == HTTP_CLIENT_BODY_MAX);
	CHECK(resp.body && strlen(resp.body) == HTTP_CLIENT_BODY_MAX);
	CHECK(resp.body && resp.body[0] == 'a' && resp.body[HTTP_CLIENT_BODY_MAX - 1] == 'a' + (65535 % 26));
	http_module_response_free(&resp);

	url_for(url, sizeof(url), s, "/redirect");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 302); /* not followed */
	http_module_response_free(&resp);

	url_for(url, sizeof(url), s, "/missing");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 404);
	CHECK_STR(resp.body, "no such path");
	http_module_response_free(&resp);

	/* Everything so far went over one kept-alive connection. */
	CHECK(server_accepted(s) == 1);

	/* The server closes without answering. */
	url_for(url, sizeof(url), s, "/close?token=SECRET123");
	CHECK(get(&h, url, 0, &resp) == -1);
	CHECK(resp.status == 0);
	CHECK(resp.body == NULL);
	CHECK(resp.error[0] != '\0');
	CHECK(strstr(resp.error, "SECRET123") == NULL && strstr(resp.error, "/close") == NULL);
	http_module_response_free(&resp);

	/* No answer within the timeout. */
	url_for(url, sizeof(url), s, "/hang/path?token=SECRET456");
	CHECK(get(&h, url, 300, &resp) == -1);
	CHECK(resp.status == 0);
	CHECK(strstr(resp.error, "imeout") != NULL || strstr(resp.error, "timed out") != NULL);
	CHECK(strstr(resp.error, "SECRET456") == NULL && strstr(resp.error, "/hang") == NULL);
	http_module_response_free(&resp);

	/* The handle recovers after errors. */
	url_for(url, sizeof(url), s, "/ok");
	CHECK(get(&h, url, 0, &resp) == 0);
	CHECK(resp.status == 200);
	http_module_response_free(&resp);

	http_client_close(&h);
	CHECK(h == NULL);
	http_client_close(&h); /* twice is fine */
}

static void test_refusals(void)
{
	void *h = NULL;
	crier_http_response resp;
	int port = 0;

	/* A port nobody listens on. */
	int fd = listen_loopback(&port);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook/SECRET789?key=SECRET789", port);
	CHECK(get(&h, url, 2000, &resp) == -1);
	CHECK(resp.status == 0 && resp.error[0] != '\0');
	CHECK(strstr(resp.error, "SECRET789") == NULL);
	http_module_response_free(&resp);

	/* Only http and https. */
	CHECK(get(&h, "ftp://127.0.0.1/SECRET", 1000, &resp) == -1);
	CHECK(resp.error[0] != '\0' && strstr(resp.error, "SECRET") == NULL);
	http_module_response_free(&resp);
	CHECK(get(&h, "file:///etc/passwd", 1000, &resp) == -1);
	CHECK(strstr(resp.error, "passwd") == NULL);
	http_module_response_free(&resp);

	/* A header trying to smuggle another one in. */
	const crier_http_header bad[] = {{"X-Bad", "a\r\nX-Injected: 1"}};
	crier_http_request req = {.url = "http://127.0.0.1:1/", .headers = bad, .n_headers = 1};
	CHECK(http_client_request(&h, &req, &resp) == -1);
	CHECK(strstr(resp.error, "CR or LF") != NULL);
	http_module_response_free(&resp);
	const crier_http_header badname[] = {{"X Bad", "v"}};
	req.headers = badname;
	CHECK(http_client_request(&h, &req, &resp) == -1);
	CHECK(strstr(resp.error, "invalid name") != NULL);
	http_module_response_free(&resp);

	http_client_close(&h);
}

int main(void)
{
	server *s;

	test_retry_after();
	CHECK(http_client_global_init() == 0);
	s = calloc(1, sizeof(*s));
	CHECK(s != NULL);
	if (s && server_start(s) == 0) {
		test_requests(s);
		server_stop(s);
	} else {
		CHECK(!"cannot start the test server");
	}
	free(s);
	test_refusals();
	http_client_global_cleanup();
	return check_summary("test_http_client");
}
