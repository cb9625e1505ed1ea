/* crierctl: the built binary, run against a fake crierd (a ZeroMQ REP socket
 * in a thread of this test that records each request and answers a canned
 * reply). Checks requests, tables, JSON output, exit codes, and the
 * not-running / not-answering cases. */
#include "check.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BUF 65536

static char dir[] = "/tmp/crier-test-ctl-XXXXXX";
static char crierctl[PATH_MAX];
static char sock_path[256], silent_path[256], stale_path[256];

/* ---- the fake crierd ---- */

static struct {
	void *ctx, *rep, *silent;
	pthread_t thread;
	pthread_mutex_t mu;
	int stop;
	int nreq;
	char reply[BUF];    /* what the next request gets */
	char last_req[BUF]; /* the last request received */
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *fake_loop(void *arg)
{
	char req[BUF], reply[BUF];

	(void)arg;
	for (;;) {
		zmq_pollitem_t item = {fake.rep, 0, ZMQ_POLLIN, 0};
		int stop, n;

		pthread_mutex_lock(&fake.mu);
		stop = fake.stop;
		pthread_mutex_unlock(&fake.mu);
		if (stop)
			break;
		if (zmq_poll(&item, 1, 50) <= 0)
			continue;
		n = zmq_recv(fake.rep, req, sizeof req - 1, 0);
		if (n < 0)
			continue;
		req[n < (int)sizeof req - 1 ? n : (int)sizeof req - 1] = '\0';
		pthread_mutex_lock(&fake.mu);
		memcpy(fake.last_req, req, sizeof req);
		fake.nreq++;
		memcpy(reply, fake.reply, sizeof reply);
		pthread_mutex_unlock(&fake.mu);
		zmq_send(fake.rep, reply, strlen(reply), 0);
	}
	return NULL;
}

static int fake_start(void)
{
	int linger = 0;
	char ep[300];

	fake.ctx = zmq_ctx_new();
	if (!fake.ctx)
		return -1;
	fake.rep = zmq_socket(fake.ctx, ZMQ_REP);
	fake.silent = zmq_socket(fake.ctx, ZMQ_REP);
	if (!fake.rep || !fake.silent)
		return -1;
	zmq_setsockopt(fake.rep, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(fake.silent, ZMQ_LINGER, &linger, sizeof linger);
	snprintf(ep, sizeof ep, "ipc://%s", sock_path);
	if (zmq_bind(fake.rep, ep) < 0)
		return -1;
	/* Bound but never read: crierd hung or busy. */
	snprintf(ep, sizeof ep, "ipc://%s", silent_path);
	if (zmq_bind(fake.silent, ep) < 0)
		return -1;
	return pthread_create(&fake.thread, NULL, fake_loop, NULL) == 0 ? 0 : -1;
}

static void fake_stop(void)
{
	pthread_mutex_lock(&fake.mu);
	fake.stop = 1;
	pthread_mutex_unlock(&fake.mu);
	pthread_join(fake.thread, NULL);
	zmq_close(fake.rep);
	zmq_close(fake.silent);
	zmq_ctx_term(fake.ctx);
}

static void set_reply(const char *text)
{
	pthread_mutex_lock(&fake.mu);
	snprintf(fake.reply, sizeof fake.reply, "%s", text);
	pthread_mutex_unlock(&fake.mu);
}

static int nreq(void)
{
	int n;

	pthread_mutex_lock(&fake.mu);
	n = fake.nreq;
	pthread_mutex_unlock(&fake.mu);
	return n;
}

/* The last request as JSON (new reference), or NULL. */
static json_t *last_request(void)
{
	char copy[BUF];

	pthread_mutex_lock(&fake.mu);
	memcpy(copy, fake.last_req, sizeof copy);
	pthread_mutex_unlock(&fake.mu);
	return json_loads(copy, 0, NULL);
}

/* ---- running crierctl ---- */

static char out[BUF], err[BUF];

static void read_file(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t got = 0;

	buf[0] = '\0';
	if (!f)
		return;
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

/* Run "crierctl ARGS" (a shell fragment); stdout in out, stderr in err. Returns the exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char args[4096], cmd[8192], errpath[512];
	FILE *p;
	size_t got = 0, r;
	int status;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(errpath, sizeof errpath, "%s/stderr", dir);
	if (snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", crierctl, args, errpath) >= (int)sizeof cmd)
		return -1;
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((r = fread(out + got, 1, sizeof out - 1 - got, p)) > 0)
		got += r;
	out[got] = '\0';
	status = pclose(p);
	read_file(errpath, err, sizeof err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int has(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return 1;
	fprintf(stderr, "expected to find [%s] in [%s]\n", needle, hay);
	return 0;
}

/* ---- cases ---- */

static void test_not_running(void)
{
	char want[1024];
	int rc;

	rc = run("--socket '%s/absent.ctl' status", dir);
	CHECK(rc == 2);
	snprintf(want, sizeof want,
	         "crierctl: crierd is not running (no control socket at %s/absent.ctl); start it with 'make run' or "
	         "point --socket/CRIER_SOCKET at its socket\n",
	         dir);
	CHECK_STR(err, want);
	CHECK_STR(out, "");

	/* default: var/crierd.ctl relative to the working directory */
	{
		char cmd[8192], errpath[512];
		int status;

		snprintf(errpath, sizeof errpath, "%s/stderr", dir);
		snprintf(cmd, sizeof cmd, "cd '%s' && env -u CRIER_SOCKET '%s' incidents 2>'%s' >/dev/null", dir,
		         crierctl, errpath);
		status = system(cmd);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
		read_file(errpath, err, sizeof err);
		CHECK_STR(err, "crierctl: crierd is not running (no control socket at var/crierd.ctl); start it with "
		               "'make run' or point --socket/CRIER_SOCKET at its socket\n");
	}

	/* a socket file left behind by a crierd that died: refused at once, not a timeout */
	{
		int64_t t0 = now_ms();

		rc = run("--socket '%s' --timeout 10 status", stale_path);
		CHECK(rc == 2);
		CHECK(has(err, "crierd is not running (nothing listens on the control socket at"));
		CHECK(now_ms() - t0 < 5000);
	}

	/* not a socket at all */
	rc = run("--socket '%s/stderr' status", dir);
	CHECK(rc == 2);
	CHECK(has(err, "/stderr is not a socket"));
}

static void test_not_answering(void)
{
	char want[1024];
	int64_t t0 = now_ms(), took;
	int rc;

	rc = run("--socket '%s' --timeout 1 status", silent_path);
	took = now_ms() - t0;
	CHECK(rc == 2);
	snprintf(want, sizeof want, "crierctl: crierd is not answering on %s (waited 1s)\n", silent_path);
	CHECK_STR(err, want);
	CHECK(took >= 900 && took < 4000);

	rc = run("--socket='%s' --timeout=0.3 incidents", silent_path);
	CHECK(rc == 2);
	CHECK(has(err, "(waited 0.3s)"));
}

static void test_incidents(void)
{
	json_t *req;
	int rc, before;

	set_reply(
	    "{\"ok\": true, \"incidents\": ["
	    "{\"id\": 12, \"key\": \"service=api\", \"title\": \"API 5xx above 5%\", \"state\": \"investigating\","
	    " \"severity\": \"critical\", \"labels\": {\"service\": \"api\"}, \"opened_at\": "
	    "\"2026-11-21T12:01:00.969Z\", \"updated_at\": \"2026-11-21T12:05:00Z\", \"resolved_at\": null,"
	    " \"alerts_firing\": 2, \"human\": false},"
	    "{\"id\": 3, \"key\": \"service=db\", \"title\": \"Disk \\u001b[31mfull\", \"state\": \"identified\","
	    " \"severity\": \"warning\", \"labels\": {}, \"opened_at\": \"2026-11-20T08:00:00+01:00\","
	    " \"updated_at\": null, \"resolved_at\": null, \"alerts_firing\": 1, \"human\": true}]}");
	before = nreq();
	rc = run("incidents");
	CHECK(rc == 0);
	CHECK(nreq() == before + 1);
	CHECK_STR(out, "ID  STATE          SEVERITY  FIRING  OPENED               KEY          TITLE\n"
	               "12  investigating  critical  2       2026-11-21 12:01:00  service=api  API 5xx above 5%\n"
	               "3   identified     warning   1       2026-11-20 07:00:00  service=db   Disk  [31mfull\n");
	CHECK_STR(err, "");
	req = last_request();
	CHECK(req != NULL);
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "incidents");
	CHECK(json_is_false(json_object_get(req, "all")));
	json_decref(req);

	rc = run("incidents --all");
	CHECK(rc == 0);
	req = last_request();
	CHECK(json_is_true(json_object_get(req, "all")));
	json_decref(req);

	/* --json: the payload without "ok", parseable */
	rc = run("--json incidents");
	CHECK(rc == 0);
	{
		json_t *j = json_loads(out, 0, NULL);

		CHECK(json_is_object(j));
		CHECK(json_object_get(j, "ok") == NULL);
		CHECK(json_array_size(json_object_get(j, "incidents")) == 2);
		CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "incidents"), 0), "id")) ==
		      12);
		json_decref(j);
	}

	set_reply("{\"ok\": true, \"incidents\": []}");
	rc = run("incidents");
	CHECK(rc == 0);
	CHECK_STR(out, "no open incidents\n");
}

static void test_show(void)
{
	json_t *req;
	int rc;

	set_reply(
	    "{\"ok\": true, \"incident\": {\"id\": 12, \"key\": \"service=api\", \"title\": \"API 5xx above 5%\","
	    " \"state\": \"identified\", \"severity\": \"critical\", \"labels\": {\"service\": \"api\", \"team\": "
	    "\"web\"}, \"opened_at\": \"2026-11-21T12:01:00.969Z\", \"updated_at\": \"2026-11-21T12:03:00Z\","
	    " \"resolved_at\": null, \"alerts_firing\": 2, \"human\": true},"
	    " \"alerts\": [{\"source\": \"alertmanager\", \"key\": \"84f3db9106b9f6a2\", \"status\": \"firing\","
	    " \"labels\": {\"alertname\": \"HighErrorRate\"}, \"annotations\": {}, \"starts_at\": "
	    "\"2026-11-21T12:00:30Z\", \"ends_at\": null, \"link\": \"\"}],"
	    " \"events\": ["
	    "{\"id\": 40, \"incident_id\": 12, \"type\": \"opened\", \"time\": \"2026-11-21T12:01:00.969Z\","
	    " \"actor\": \"alertmanager\", \"message\": \"\"},"
	    "{\"id\": 41, \"incident_id\": 12, \"type\": \"acknowledged\", \"time\": \"2026-11-21T12:03:00Z\","
	    " \"actor\": \"alice\", \"message\": \"looking at it\\nnow\"}]}");
	rc = run("show 12");
	CHECK(rc == 0);
	CHECK_STR(out, "incident 12: API 5xx above 5%\n"
	               "  state     identified (set by a person)\n"
	               "  severity  critical\n"
	               "  firing    2\n"
	               "  key       service=api\n"
	               "  opened    2026-11-21 12:01:00\n"
	               "  updated   2026-11-21 12:03:00\n"
	               "  resolved  -\n"
	               "  labels    service=api, team=web\n"
	               "\n"
	               "alerts:\n"
	               "  STATUS  SOURCE        ALERT          STARTED              KEY\n"
	               "  firing  alertmanager  HighErrorRate  2026-11-21 12:00:30  84f3db9106b9f6a2\n"
	               "\n"
	               "timeline:\n"
	               "  TIME                 TYPE          ACTOR         MESSAGE\n"
	               "  2026-11-21 12:01:00  opened        alertmanager\n"
	               "  2026-11-21 12:03:00  acknowledged  alice         looking at it now\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "show");
	CHECK(json_integer_value(json_object_get(req, "id")) == 12);
	json_decref(req);

	/* crierd says no: its error, exit 1 */
	set_reply("{\"ok\": false, \"error\": \"no incident 99\"}");
	rc = run("show 99");
	CHECK(rc == 1);
	CHECK_STR(err, "crierctl: no incident 99\n");
	CHECK_STR(out, "");
}

static void test_human_actions(void)
{
	json_t *req;
	int rc, before;

	set_reply("{\"ok\": true, \"event\": 77}");
	rc = run("ack 12 --message 'on it' --actor bob");
	CHECK(rc == 0);
	CHECK_STR(out, "incident 12 acknowledged (event 77)\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "ack");
	CHECK(json_integer_value(json_object_get(req, "id")) == 12);
	CHECK_STR(json_string_value(json_object_get(req, "actor")), "bob");
	CHECK_STR(json_string_value(json_object_get(req, "message")), "on it");
	CHECK(json_object_get(req, "state") == NULL);
	json_decref(req);

	/* actor defaults to $USER; options may come before the command */
	rc = run("--json ack 12");
	CHECK(rc == 0);
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "actor")), "alice");
	CHECK(json_object_get(req, "message") == NULL);
	json_decref(req);
	CHECK(has(out, "\"event\": 77"));

	/* without $USER and $LOGNAME, the account's name */
	{
		struct passwd *pw = getpwuid(getuid());

		unsetenv("USER");
		unsetenv("LOGNAME");
		rc = run("ack 12");
		setenv("USER", "alice", 1);
		CHECK(rc == 0);
		req = last_request();
		CHECK(pw && json_is_string(json_object_get(req, "actor")) &&
		      strcmp(json_string_value(json_object_get(req, "actor")), pw->pw_name) == 0);
		json_decref(req);
	}

	/* a message that looks like an option is still the message */
	rc = run("update 12 --state monitoring --message '--json is not an option here'");
	CHECK(rc == 0);
	CHECK_STR(out, "incident 12 updated (event 77)\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "update");
	CHECK_STR(json_string_value(json_object_get(req, "state")), "monitoring");
	CHECK_STR(json_string_value(json_object_get(req, "message")), "--json is not an option here");
	json_decref(req);

	rc = run("resolve 12 --message=fixed");
	CHECK(rc == 0);
	CHECK_STR(out, "incident 12 resolved (event 77)\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "resolve");
	CHECK_STR(json_string_value(json_object_get(req, "message")), "fixed");
	json_decref(req);

	/* usage errors never reach crierd */
	before = nreq();
	rc = run("update 12 --state monitoring");
	CHECK(rc == 64);
	CHECK_STR(err, "crierctl: update needs --message TEXT\nusage: crierctl update ID [--state S] --message TEXT\n");
	rc = run("update 12 --state fixed --message x");
	CHECK(rc == 64);
	CHECK(has(err, "unknown state \"fixed\""));
	rc = run("ack");
	CHECK(rc == 64);
	CHECK(has(err, "usage: crierctl ack ID [--message TEXT]"));
	rc = run("ack twelve");
	CHECK(rc == 64);
	CHECK(has(err, "ID must be a positive number, got \"twelve\""));
	rc = run("show 1 2");
	CHECK(rc == 64);
	CHECK(has(err, "unexpected argument \"2\""));
	rc = run("show 1 --all");
	CHECK(rc == 64);
	CHECK(has(err, "show does not take --all"));
	rc = run("frobnicate");
	CHECK(rc == 64);
	CHECK(has(err, "unknown command \"frobnicate\""));
	CHECK(has(err, "usage: crierctl [--socket PATH]"));
	rc = run("%s", "");
	CHECK(rc == 64);
	CHECK(has(err, "no command given"));
	rc = run("--timeout 0 status");
	CHECK(rc == 64);
	rc = run("resolve 3 --message");
	CHECK(rc == 64);
	CHECK(has(err, "--message needs a value"));
	CHECK(nreq() == before);
}

static void test_deliveries_retry_status(void)
{
	json_t *req;
	int rc;

	set_reply("{\"ok\": true, \"deliveries\": ["
	          "{\"id\": 9, \"event_id\": 41, \"incident_id\": 12, \"instance\": \"slack/ops\", \"state\": \"dead\","
	          " \"attempts\": 12, \"next_at\": \"2026-11-21T13:00:00Z\", \"created_at\": \"2026-11-21T12:03:00Z\","
	          " \"updated_at\": null, \"last_error\": \"HTTP 500 from Slack\", \"idempotency_key\": "
	          "\"crier-41-slack/ops\"},"
	          "{\"id\": 8, \"event_id\": 40, \"incident_id\": 12, \"instance\": \"log/default\", \"state\": "
	          "\"pending\", \"attempts\": 1, \"next_at\": \"2026-11-21T12:01:02Z\", \"created_at\": null,"
	          " \"updated_at\": null, \"last_error\": null, \"idempotency_key\": \"crier-40-log/default\"}]}");
	rc = run("deliveries --dead --incident 12");
	CHECK(rc == 0);
	CHECK_STR(out, "ID  INCIDENT  EVENT  INSTANCE     STATE    ATTEMPTS  NEXT                 LAST-ERROR\n"
	               "9   12        41     slack/ops    dead     12        -                    HTTP 500 from Slack\n"
	               "8   12        40     log/default  pending  1         2026-11-21 12:01:02\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "deliveries");
	CHECK(json_is_true(json_object_get(req, "dead")));
	CHECK(json_integer_value(json_object_get(req, "incident")) == 12);
	json_decref(req);

	rc = run("deliveries");
	CHECK(rc == 0);
	req = last_request();
	CHECK(json_is_false(json_object_get(req, "dead")));
	CHECK(json_object_get(req, "incident") == NULL);
	json_decref(req);

	set_reply("{\"ok\": true, \"delivery\": {\"id\": 9, \"event_id\": 41, \"incident_id\": 12, \"instance\": "
	          "\"slack/ops\", \"state\": \"pending\", \"attempts\": 12, \"next_at\": \"2026-11-21T13:10:00Z\"}}");
	rc = run("retry 9");
	CHECK(rc == 0);
	CHECK_STR(out, "delivery 9 to slack/ops is pending again (next attempt 2026-11-21 13:10:00)\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "retry");
	CHECK(json_integer_value(json_object_get(req, "id")) == 9);
	json_decref(req);

	set_reply(
	    "{\"ok\": true, \"version\": \"0.1.0\", \"uptime_s\": 3725, \"incidents_open\": 2, "
	    "\"outbox_pending\": 5, \"outbox_dead\": 1, \"instances\": [{\"name\": \"log/default\", \"plugin\": "
	    "\"log\", \"isolation\": \"thread\", \"in_flight\": 0}, {\"name\": \"slack/ops\", \"plugin\": \"slack\", "
	    "\"isolation\": \"process\", \"in_flight\": 2, \"pid\": 4242, \"host_deaths\": 3}, {\"name\": "
	    "\"sms/oncall\", \"plugin\": \"sms\", \"isolation\": \"process\", \"in_flight\": 0, \"pid\": null, "
	    "\"host_deaths\": 1}]}");
	rc = run("status");
	CHECK(rc == 0);
	CHECK_STR(out, "crierd 0.1.0, up 1h 2m\n"
	               "  open incidents      2\n"
	               "  deliveries pending  5\n"
	               "  deliveries dead     1\n"
	               "instances:\n"
	               "  NAME         PLUGIN  ISOLATION  IN FLIGHT  PID   DEATHS\n"
	               "  log/default  log     thread     0          -     -\n"
	               "  slack/ops    slack   process    2          4242  3\n"
	               "  sms/oncall   sms     process    0          down  1\n");
	req = last_request();
	CHECK_STR(json_string_value(json_object_get(req, "cmd")), "status");
	json_decref(req);

	/* a reply that is not JSON is crierd's fault, not the operator's */
	set_reply("this is not json");
	rc = run("status");
	CHECK(rc == 2);
	CHECK(has(err, "crierctl: crierd's reply is not a JSON object"));
}

static void test_help_version(void)
{
	static const char *const cmds[] = {"incidents", "show",       "ack",   "update",
	                                   "resolve",   "deliveries", "retry", "status"};
	int rc = run("--help");

	CHECK(rc == 0);
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char want[64];

		snprintf(want, sizeof want, "\n  %s ", cmds[i]);
		CHECK(has(out, want));
		snprintf(want, sizeof want, "e.g. crierctl %s", cmds[i]);
		CHECK(has(out, want));
	}
	CHECK(has(out, "--socket PATH"));
	CHECK(has(out, "--timeout SECONDS"));
	rc = run("-h");
	CHECK(rc == 0);
	rc = run("--version");
	CHECK(rc == 0);
	CHECK(strncmp(out, "crierctl ", 9) == 0);
}

static int find_crierctl(const char *argv0)
{
	char cand[PATH_MAX], copy[PATH_MAX];
	const char *env = getenv("CRIERCTL");
	const char *build = getenv("CRIER_BUILD");

	if (env && realpath(env, crierctl))
		return 0;
	/* build/tests/test_crierctl -> build/crierctl */
	snprintf(copy, sizeof copy, "%s", argv0);
	snprintf(cand, sizeof cand, "%s/../crierctl", dirname(copy));
	if (access(cand, X_OK) == 0 && realpath(cand, crierctl))
		return 0;
	snprintf(cand, sizeof cand, "%s/crierctl", build ? build : "build");
	if (access(cand, X_OK) == 0 && realpath(cand, crierctl))
		return 0;
	return -1;
}

static int make_stale_socket(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s", stale_path) >= (int)sizeof sa.sun_path) {
		close(fd);
		return -1;
	}
	/* Bound, never listened on, closed: the file stays and refuses connections. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char cmd[512];

	(void)argc;
	if (find_crierctl(argv[0]) < 0) {
		fprintf(stderr, "test_crierctl: cannot find the crierctl binary (set CRIERCTL or CRIER_BUILD)\n");
		CHECK(0);
		return check_summary("test_crierctl");
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof sock_path, "%s/crierd.ctl", dir);
	snprintf(silent_path, sizeof silent_path, "%s/silent.ctl", dir);
	snprintf(stale_path, sizeof stale_path, "%s/stale.ctl", dir);
	setenv("TZ", "UTC", 1);
	setenv("USER", "alice", 1);
	setenv("CRIER_SOCKET", sock_path, 1);
	if (fake_start() < 0 || make_stale_socket() < 0) {
		fprintf(stderr, "test_crierctl: cannot start the fake crierd: %s\n", zmq_strerror(zmq_errno()));
		CHECK(0);
		return check_summary("test_crierctl");
	}

	test_not_running();
	test_not_answering();
	test_incidents();
	test_show();
	test_human_actions();
	test_deliveries_retry_status();
	test_help_version();

	fake_stop();
	/* The folder is ours (mkdtemp); rm -r is the clearest cleanup. */
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary("test_crierctl");
}
