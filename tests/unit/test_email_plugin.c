/* The email plugin (build/plugins/email.so) through a fake host table,
 * against a scripted SMTP server on 127.0.0.1 in a thread: configuration
 * checks, what reaches the server, threading ids and state, and the
 * ok / retry / fail verdict for each kind of SMTP answer. */
#include "check.h"

#include <crier/plugin.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASSWORD "hunter2-very-secret"

/* ---- a scripted SMTP server ---- */

typedef struct fake_smtp {
	int lfd, port;
	pthread_t thread;
	volatile int stop;
	/* The script: each reply is sent as is, with CRLF added per line. */
	const char *greeting, *ehlo, *auth, *mail, *rcpt, *data_end;
	int hang_ms; /* wait this long before answering the end of DATA */
	/* What came. */
	pthread_mutex_t mu;
	int connections, messages;
	char mail_from[256], rcpt_to[256], auth_line[256];
	char data[32768];
} fake_smtp;

static void smtp_reset_script(fake_smtp *s)
{
	s->greeting = "220 fake.example ESMTP";
	s->ehlo = "250-fake.example\r\n250-AUTH PLAIN\r\n250 8BITMIME";
	s->auth = "235 2.7.0 Authentication successful";
	s->mail = "250 OK";
	s->rcpt = "250 OK";
	s->data_end = "250 OK queued as 1";
	s->hang_ms = 0;
}

static void say(int fd, const char *reply)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", reply);
	/* The client may be gone (a timeout test): no SIGPIPE. */
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		return;
}

/* One line (CRLF stripped) into line, 1; 0 when the peer closed or we stop. */
static int read_line(fake_smtp *s, int fd, char *buf, size_t *have, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *have);
		if (nl) {
			size_t n = (size_t)(nl - buf) + 1, l = n;
			while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
				l--;
			snprintf(line, size, "%.*s", (int)l, buf);
			memmove(buf, buf + n, *have - n);
			*have -= n;
			return 1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (s->stop)
			return 0;
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t r = read(fd, buf + *have, 8192 - *have);
		if (r <= 0)
			return 0;
		*have += (size_t)r;
	}
}

static void serve(fake_smtp *s, int fd)
{
	char buf[8192], line[8192];
	size_t have = 0;

	say(fd, s->greeting);
	if (s->greeting[0] != '2')
		return;
	while (read_line(s, fd, buf, &have, line, sizeof(line))) {
		pthread_mutex_lock(&s->mu);
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
			say(fd, s->ehlo);
		} else if (strncasecmp(line, "AUTH", 4) == 0) {
			snprintf(s->auth_line, sizeof(s->auth_line), "%.200s", line);
			if (strcasecmp(line, "AUTH PLAIN") == 0) { /* no initial response: ask for it */
				say(fd, "334 ");
				pthread_mutex_unlock(&s->mu);
				if (!read_line(s, fd, buf, &have, line, sizeof(line)))
					return;
				pthread_mutex_lock(&s->mu);
			}
			say(fd, s->auth);
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			snprintf(s->mail_from, sizeof(s->mail_from), "%.200s", line);
			say(fd, s->mail);
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			snprintf(s->rcpt_to, sizeof(s->rcpt_to), "%.200s", line);
			say(fd, s->rcpt);
		} else if (strcasecmp(line, "DATA") == 0) {
			size_t n = 0;
			say(fd, "354 End data with <CR><LF>.<CR><LF>");
			pthread_mutex_unlock(&s->mu);
			while (read_line(s, fd, buf, &have, line, sizeof(line)) && strcmp(line, ".") != 0) {
				const char *l = line[0] == '.' ? line + 1 : line; /* undo dot-stuffing */
				int w = snprintf(s->data + n, sizeof(s->data) - n, "%s\r\n", l);
				if (w > 0 && (size_t)w < sizeof(s->data) - n)
					n += (size_t)w;
			}
			for (int t = 0; t < s->hang_ms && !s->stop; t += 10)
				usleep(10000);
			pthread_mutex_lock(&s->mu);
			s->messages++;
			say(fd, s->data_end);
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(fd, "221 Bye");
			pthread_mutex_unlock(&s->mu);
			return;
		} else if (strcasecmp(line, "RSET") == 0 || strcasecmp(line, "NOOP") == 0) {
			say(fd, "250 OK");
		} else {
			say(fd, "500 5.5.1 Unknown command");
		}
		pthread_mutex_unlock(&s->mu);
	}
}

static void *smtp_thread(void *arg)
{
	fake_smtp *s = arg;

	while (!s->stop) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		s->connections++;
		pthread_mutex_unlock(&s->mu);
		serve(s, fd);
		close(fd);
	}
	return NULL;
}

static int smtp_start(fake_smtp *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	smtp_reset_script(s);
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 8) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->thread, NULL, smtp_thread, s) == 0 ? 0 : -1;
}

static void smtp_stop(fake_smtp *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
}

/* ---- the fake host ---- */

struct crier_host {
	char name[64];
	const char *subject; /* what the subject template renders */
	int loads;
	char text_src[64]; /* the override given for "text", if any */
};

struct crier_delivery {
	const char *json, *key, *recipient, *state;
	char new_state[512];
	int state_calls;
	char error[512];
};

struct crier_template {
	char name[16];
	const crier_host *host;
};

static void h_log(crier_host *h, crier_log_level l, const char *m)
{
	(void)h, (void)l, (void)m;
}

static int64_t h_now(void)
{
	return 1782000000000LL;
}

static const char *h_name(const crier_host *h)
{
	return h->name;
}

static const char *h_json(const crier_delivery *d)
{
	return d->json;
}

static const char *h_key(const crier_delivery *d)
{
	return d->key;
}

static unsigned h_attempt(const crier_delivery *d)
{
	(void)d;
	return 1;
}

static const char *h_state(const crier_delivery *d)
{
	return d->state;
}

static int h_set_state(crier_delivery *d, const char *st)
{
	snprintf(d->new_state, sizeof(d->new_state), "%s", st);
	d->state_calls++;
	return 0;
}

static void h_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
}

static const char *h_recipient(const crier_delivery *d)
{
	return d->recipient;
}

static crier_template *h_tload(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	crier_template *t = calloc(1, sizeof(*t));
	(void)err, (void)errlen;
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->host = h;
	h->loads++;
	if (src && strcmp(name, "text") == 0)
		snprintf(h->text_src, sizeof(h->text_src), "%s", src);
	return t;
}

static char *h_render(const crier_template *t, const char *json, crier_escape esc, char *err, size_t errlen)
{
	(void)json, (void)err, (void)errlen;
	if (strcmp(t->name, "subject") == 0)
		return esc == CRIER_ESCAPE_HEADER ? strdup(t->host->subject) : NULL;
	if (strcmp(t->name, "text") == 0)
		return esc == CRIER_ESCAPE_NONE ? strdup("New critical incident.\n.\nFrom here on\n") : NULL;
	return esc == CRIER_ESCAPE_HTML ? strdup("<p>New <b>critical</b> incident.</p>\n") : NULL;
}

static void h_tfree(crier_template *t)
{
	free(t);
}

static size_t h_measure(const char *s, crier_measure m)
{
	(void)m;
	return strlen(s);
}

static char *h_fit(const char *s, crier_measure m, size_t limit, const char *keep)
{
	(void)m, (void)keep;
	return strndup(s, limit);
}

static const crier_host_api api = {
    .abi_version = 2,
    .log = h_log,
    .now_ms = h_now,
    .instance_name = h_name,
    .delivery_json = h_json,
    .delivery_key = h_key,
    .delivery_attempt = h_attempt,
    .delivery_state = h_state,
    .set_state = h_set_state,
    .set_error = h_set_error,
    .delivery_recipient = h_recipient,
    .template_load = h_tload,
    .template_render = h_render,
    .template_free = h_tfree,
    .text_measure = h_measure,
    .text_fit = h_fit,
};

/* ---- helpers ---- */

static const crier_plugin *load(void **dl)
{
	char path[1024];
	const char *build = getenv("CRIER_BUILD");
	crier_plugin_negotiate_fn negotiate;

	snprintf(path, sizeof(path), "%s/plugins/email.so", build && *build ? build : "build");
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "test_email_plugin: cannot load %s (%s); build the plugins first\n", path, dlerror());
		return NULL;
	}
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	return negotiate ? negotiate(1, 2) : NULL;
}

static const char *const EVENT_OPENED = "{\"id\":17,\"type\":\"opened\",\"idempotency_key\":\"crier-17-email/ops\","
                                        "\"incident\":{\"id\":3,\"key\":\"service=api\",\"title\":\"API 5xx above 5%\","
                                        "\"opened_at\":\"2026-11-21T12:01:00.969Z\"}}";
static const char *const EVENT_JOINED =
    "{\"id\":18,\"type\":\"alert_joined\",\"idempotency_key\":\"crier-18-email/ops\","
    "\"incident\":{\"id\":3,\"key\":\"service=api\",\"title\":\"API 5xx above 5%\","
    "\"opened_at\":\"2026-11-21T12:01:00.969Z\"}}";

static char config[1024];

static const char *conf(const fake_smtp *s, const char *extra)
{
	snprintf(config, sizeof(config),
	         "{\"url\":\"smtp://127.0.0.1:%d\",\"tls\":\"none\",\"from\":\"crier <alerts@status.example.com>\","
	         "\"timeout_ms\":2000%s%s}",
	         s->port, extra ? "," : "", extra ? extra : "");
	return config;
}

static void init_fails(const crier_plugin *p, crier_host *h, const char *cfg, const char *want)
{
	crier_instance *inst = NULL;
	char err[512] = "";

	CHECK(p->init(&api, h, cfg, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "  init error \"%s\" lacks \"%s\"\n", err, want);
		CHECK(0);
	}
	CHECK(strstr(err, PASSWORD) == NULL);
}

/* The value of header name in the message data (first line only), or "". */
static const char *header(const char *data, const char *name, char *out, size_t size)
{
	char pat[64];
	const char *p, *end = strstr(data, "\r\n\r\n");

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	out[0] = '\0';
	p = strstr(data, pat);
	if (p && end && p < end) {
		p += strlen(pat);
		snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
	return out;
}

/* ---- tests ---- */

static void test_config(const crier_plugin *p, crier_host *h, fake_smtp *s)
{
	crier_instance *inst = NULL;
	char err[512] = "";

	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"to\":\"x@y.z\"}", "unknown key \"to\"");
	init_fails(p, h, "{\"from\":\"a@b.c\"}", "missing required key \"url\"");
	init_fails(p, h, "{\"url\":\"smtp://x\"}", "missing required key \"from\"");
	init_fails(p, h, "{\"url\":\"http://x\",\"from\":\"a@b.c\"}", "\"url\" must start with smtp:// or smtps://");
	init_fails(p, h, "{\"url\":\"smtp://u:" PASSWORD "@x\",\"from\":\"a@b.c\"}", "no credentials in it");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"tls\":\"ssl\"}", "\"tls\" must be");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"tls\":\"implicit\"}", "goes with an smtps://");
	init_fails(p, h, "{\"url\":\"smtps://x\",\"from\":\"a@b.c\",\"tls\":\"starttls\"}", "goes with an smtps://");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"username\":\"u\"}", "go together");
	init_fails(p, h,
	           "{\"url\":\"smtp://mail.example.com\",\"from\":\"a@b.c\",\"tls\":\"none\",\"username\":\"u\","
	           "\"password\":\"" PASSWORD "\"}",
	           "clear text");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"not an address\"}", "\"from\" is not an address");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"reply_to\":\"a@b.c\\r\\nBcc: e@v.il\"}",
	           "\"reply_to\" holds a control character");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"message_id_domain\":\"a b\"}",
	           "\"message_id_domain\" must be a domain");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"timeout_ms\":0}", "\"timeout_ms\" must be");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"templates\":{\"body\":\"x\"}}",
	           "unknown template \"body\"");
	init_fails(p, h, "{\"url\":\"smtp://x\",\"from\":\"a@b.c\",\"password\":\"" PASSWORD "\",", "line 1");

	/* A password over plain SMTP is fine to a loopback relay; templates override. */
	CHECK(p->init(&api, h,
	              conf(s, "\"username\":\"u\",\"password\":\"" PASSWORD "\",\"templates\":{\"text\":\"T\"}"), &inst,
	              err, sizeof(err)) == 0);
	CHECK_STR(h->text_src, "T");
	CHECK(h->loads >= 3);
	if (inst)
		p->destroy(inst);
	CHECK(p->init(&api, h, "{\"url\":\"smtps://smtp.example.com:465\",\"from\":\"a@b.c\"}", &inst, err,
	              sizeof(err)) == 0);
	if (inst)
		p->destroy(inst);
}

static void test_threading(const crier_plugin *p, crier_host *h, fake_smtp *s)
{
	crier_instance *inst = NULL;
	char err[512], v[300], root[256], own[256];
	crier_delivery d1 = {.json = EVENT_OPENED, .key = "crier-17-email/ops", .recipient = "Jane <jane@example.com>"};
	crier_delivery d1b = {.json = EVENT_OPENED, .key = "crier-17-email/ops/bob", .recipient = "bob@example.com"};

	CHECK(p->init(&api, h, conf(s, "\"reply_to\":\"ops@example.com\""), &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	CHECK(p->deliver(inst, &d1) == CRIER_OK);
	CHECK(strncmp(s->mail_from, "MAIL FROM:<alerts@status.example.com>", 37) == 0);
	CHECK_STR(s->rcpt_to, "RCPT TO:<jane@example.com>");
	CHECK_STR(header(s->data, "To", v, sizeof(v)), "\"Jane\" <jane@example.com>");
	CHECK_STR(header(s->data, "From", v, sizeof(v)), "\"crier\" <alerts@status.example.com>");
	CHECK_STR(header(s->data, "Reply-To", v, sizeof(v)), "ops@example.com");
	CHECK_STR(header(s->data, "Subject", v, sizeof(v)), "[crier #3] API 5xx above 5%");
	CHECK(strncmp(s->data, "Date: Sun, 21 Jun 2026 00:00:00 +0000\r\n", 39) == 0);
	CHECK_STR(header(s->data, "Auto-Submitted", v, sizeof(v)), "auto-generated");
	header(s->data, "Message-ID", root, sizeof(root));
	CHECK(strncmp(root, "<crier.inc-3.", 13) == 0 && strstr(root, "@status.example.com>") != NULL);
	CHECK(strstr(s->data, "\r\nIn-Reply-To:") == NULL);
	/* Lines that open with "." or "From " survive SMTP and mbox. */
	CHECK(strstr(s->data, "\r\n=2E\r\n=46rom here on\r\n") != NULL);
	CHECK(d1.state_calls == 1);
	snprintf(v, sizeof(v), "{\"root\":\"%s\"}", root);
	CHECK_STR(d1.new_state, v);

	/* Another recipient of the opening event: the same root, computed alike. */
	CHECK(p->deliver(inst, &d1b) == CRIER_OK);
	CHECK_STR(header(s->data, "Message-ID", v, sizeof(v)), root);
	CHECK_STR(s->rcpt_to, "RCPT TO:<bob@example.com>");

	/* A later event: its own id, pointing at the root kept in the state. */
	crier_delivery d2 = {
	    .json = EVENT_JOINED, .key = "crier-18-email/ops", .recipient = "jane@example.com", .state = d1.new_state};
	CHECK(p->deliver(inst, &d2) == CRIER_OK);
	header(s->data, "Message-ID", own, sizeof(own));
	CHECK(strncmp(own, "<crier.inc-3.e18.", 17) == 0);
	CHECK(strcmp(own, root) != 0);
	CHECK_STR(header(s->data, "In-Reply-To", v, sizeof(v)), root);
	CHECK_STR(header(s->data, "References", v, sizeof(v)), root);
	CHECK(d2.state_calls == 0);
	/* The same delivery again (a retry): the same id. */
	crier_delivery d2r = d2;
	CHECK(p->deliver(inst, &d2r) == CRIER_OK);
	CHECK_STR(header(s->data, "Message-ID", v, sizeof(v)), own);
	/* Another recipient of the same event: another id. */
	crier_delivery d2b = d2;
	d2b.key = "crier-18-email/ops/bob";
	d2b.recipient = "bob@example.com";
	CHECK(p->deliver(inst, &d2b) == CRIER_OK);
	CHECK(strcmp(header(s->data, "Message-ID", v, sizeof(v)), own) != 0);
	/* A state from elsewhere (message_id_domain changed since) still threads. */
	crier_delivery d3 = d2;
	d3.state = "{\"root\":\"<crier.inc-3.0000000000000001@old.example.org>\"}";
	CHECK(p->deliver(inst, &d3) == CRIER_OK);
	CHECK_STR(header(s->data, "In-Reply-To", v, sizeof(v)), "<crier.inc-3.0000000000000001@old.example.org>");
	/* A public instance's events carry no incident key: the same root. */
	crier_delivery dp = {.json = "{\"id\":19,\"type\":\"update\",\"incident\":{\"id\":3,"
	                             "\"opened_at\":\"2026-11-21T12:01:00.969Z\"}}",
	                     .key = "crier-19-email/ops",
	                     .recipient = "jane@example.com"};
	CHECK(p->deliver(inst, &dp) == CRIER_OK);
	CHECK_STR(header(s->data, "In-Reply-To", v, sizeof(v)), root);
	/* A state that is not a msg-id is not written into a header. */
	crier_delivery d4 = d2;
	d4.state = "{\"root\":\"<x@y>\\r\\nBcc: evil@example.com\"}";
	CHECK(p->deliver(inst, &d4) == CRIER_OK);
	CHECK_STR(header(s->data, "In-Reply-To", v, sizeof(v)), root);
	CHECK(strstr(s->data, "Bcc:") == NULL);
	CHECK(d4.state_calls == 1); /* and the good root is stored over it */

	/* The subject cannot add a header, whatever the template gives. */
	h->subject = "API down\r\nBcc: evil@example.com";
	crier_delivery d5 = d2;
	CHECK(p->deliver(inst, &d5) == CRIER_OK);
	CHECK_STR(header(s->data, "Subject", v, sizeof(v)), "API down Bcc: evil@example.com");
	CHECK(strstr(s->data, "\r\nBcc:") == NULL);
	h->subject = "[crier #3] API 5xx above 5%";
	CHECK(s->connections == 1); /* one connection served every mail */

	/* No recipient, or one that is not an address: fail, nothing sent. */
	int before = s->messages;
	crier_delivery d6 = d2;
	d6.recipient = NULL;
	CHECK(p->deliver(inst, &d6) == CRIER_FAIL);
	CHECK(strstr(d6.error, "recipients") != NULL);
	crier_delivery d7 = d2;
	d7.recipient = "jane@example.com\r\nBcc: evil@example.com";
	CHECK(p->deliver(inst, &d7) == CRIER_FAIL);
	CHECK(strstr(d7.error, "control character") != NULL);
	CHECK(s->messages == before);
	p->destroy(inst);
}

struct verdict_case {
	const char *what;
	const char *field; /* which script line to change */
	const char *reply;
	crier_result want;
	const char *error_has;
};

static void test_verdicts(const crier_plugin *p, crier_host *h, fake_smtp *s)
{
	static const struct verdict_case cases[] = {
	    {"recipient unknown", "rcpt", "550 5.1.1 No such user", CRIER_FAIL, "550 5.1.1 No such user"},
	    {"greylisted", "rcpt", "451 4.7.1 Try again later", CRIER_RETRY, "451"},
	    {"too many recipients", "rcpt", "452 4.5.3 Too many recipients", CRIER_RETRY, "452"},
	    {"sender refused", "mail", "550 5.7.1 Sender not allowed", CRIER_FAIL, "550"},
	    {"auth required", "mail", "530 5.7.0 Authentication required", CRIER_FAIL, "set \"username\""},
	    {"too big", "data_end", "552 5.3.4 Message size exceeds fixed limit", CRIER_FAIL, "552"},
	    {"policy", "data_end", "554 5.7.1 Rejected", CRIER_FAIL, "554"},
	    {"throttled", "data_end", "451 4.7.1 Try again later", CRIER_RETRY, "451"},
	    {"busy", "greeting", "421 4.3.2 Too busy", CRIER_RETRY, "421"},
	    {"no service", "greeting", "554 5.3.2 No service", CRIER_FAIL, "554"},
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct verdict_case *c = &cases[i];
		crier_instance *inst = NULL;
		crier_delivery d = {.json = EVENT_JOINED, .key = "crier-18-email/ops", .recipient = "jane@example.com"};

		smtp_reset_script(s);
		if (strcmp(c->field, "rcpt") == 0)
			s->rcpt = c->reply;
		else if (strcmp(c->field, "mail") == 0)
			s->mail = c->reply;
		else if (strcmp(c->field, "data_end") == 0)
			s->data_end = c->reply;
		else
			s->greeting = c->reply;
		CHECK(p->init(&api, h, conf(s, NULL), &inst, err, sizeof(err)) == 0);
		if (!inst)
			continue;
		crier_result r = p->deliver(inst, &d);
		if (r != c->want || !strstr(d.error, c->error_has)) {
			fprintf(stderr, "  %s: result %d, error \"%s\"\n", c->what, r, d.error);
			CHECK(0);
		} else {
			CHECK(1);
		}
		p->destroy(inst);
	}
	smtp_reset_script(s);
}

static void test_auth_and_tls(const crier_plugin *p, crier_host *h, fake_smtp *s)
{
	crier_instance *inst = NULL;
	char err[512];
	crier_delivery d = {.json = EVENT_JOINED, .key = "crier-18-email/ops", .recipient = "jane@example.com"};

	/* AUTH PLAIN carries user and password; a 535 is a failed delivery that names no secret. */
	CHECK(p->init(&api, h, conf(s, "\"username\":\"crier\",\"password\":\"" PASSWORD "\""), &inst, err,
	              sizeof(err)) == 0);
	if (inst) {
		CHECK(p->deliver(inst, &d) == CRIER_OK);
		CHECK(strncmp(s->auth_line, "AUTH PLAIN", 10) == 0);
		p->destroy(inst);
	}
	s->auth = "535 5.7.8 Authentication credentials invalid for " PASSWORD;
	CHECK(p->init(&api, h, conf(s, "\"username\":\"crier\",\"password\":\"" PASSWORD "\""), &inst, err,
	              sizeof(err)) == 0);
	if (inst) {
		crier_delivery e = d;
		CHECK(p->deliver(inst, &e) == CRIER_FAIL);
		CHECK(strstr(e.error, "login denied") != NULL);
		CHECK(strstr(e.error, PASSWORD) == NULL);
		p->destroy(inst);
	}
	smtp_reset_script(s);

	/* STARTTLS required but not offered: fail, and say so. */
	snprintf(config, sizeof(config),
	         "{\"url\":\"smtp://127.0.0.1:%d\",\"tls\":\"starttls\",\"from\":\"alerts@example.com\"}", s->port);
	CHECK(p->init(&api, h, config, &inst, err, sizeof(err)) == 0);
	if (inst) {
		crier_delivery e = d;
		int before = s->messages;
		CHECK(p->deliver(inst, &e) == CRIER_FAIL);
		CHECK(strstr(e.error, "STARTTLS") != NULL);
		CHECK(s->messages == before);
		p->destroy(inst);
	}
}

static void test_transport_failures(const crier_plugin *p, crier_host *h, fake_smtp *s)
{
	crier_instance *inst = NULL;
	char err[512];
	crier_delivery d = {.json = EVENT_JOINED, .key = "crier-18-email/ops", .recipient = "jane@example.com"};

	/* Nobody listening. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	snprintf(config, sizeof(config),
	         "{\"url\":\"smtp://127.0.0.1:%d\",\"tls\":\"none\",\"from\":\"a@example.com\"}", ntohs(a.sin_port));
	CHECK(p->init(&api, h, config, &inst, err, sizeof(err)) == 0);
	if (inst) {
		CHECK(p->deliver(inst, &d) == CRIER_RETRY);
		CHECK(d.error[0] != '\0');
		p->destroy(inst);
	}
	close(fd);

	/* A server that takes the data and never answers: a timeout, retried. */
	s->hang_ms = 1500;
	snprintf(config, sizeof(config),
	         "{\"url\":\"smtp://127.0.0.1:%d\",\"tls\":\"none\",\"from\":\"a@example.com\",\"timeout_ms\":500}",
	         s->port);
	CHECK(p->init(&api, h, config, &inst, err, sizeof(err)) == 0);
	if (inst) {
		crier_delivery e = d;
		CHECK(p->deliver(inst, &e) == CRIER_RETRY);
		CHECK(strstr(e.error, "no answer within 500 ms") != NULL);
		p->destroy(inst);
	}
	smtp_reset_script(s);
}

int main(void)
{
	void *dl = NULL;
	const crier_plugin *p = load(&dl);
	crier_host h = {.name = "email/ops", .subject = "[crier #3] API 5xx above 5%"};
	fake_smtp s;

	CHECK(p != NULL);
	if (!p)
		return check_summary("test_email_plugin");
	CHECK_STR(p->name, "email");
	CHECK(smtp_start(&s) == 0);
	test_config(p, &h, &s);
	test_threading(p, &h, &s);
	test_verdicts(p, &h, &s);
	test_auth_and_tls(p, &h, &s);
	test_transport_failures(p, &h, &s);
	smtp_stop(&s);
	dlclose(dl);
	return check_summary("test_email_plugin");
}
