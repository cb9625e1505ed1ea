/* config: a full configuration's values, the defaults, the environment
 * overrides, one case per class of error (each message must name the file
 * and the key), and that no secret ever reaches an error message. */
#include "check.h"

#include "config.h"
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET      "s3cr3t-Zebra-4711"
#define FILE_SECRET "f1le-Secret-Okapi-99"

static char root[] = "/tmp/crier-test-config-XXXXXX";
static char cwd[4096];

/* A fresh folder root/name for one case. Returns a static buffer. */
static const char *mkconf(const char *name)
{
	static char path[4200];

	snprintf(path, sizeof path, "%s/%s", root, name);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	return path;
}

static void put(const char *dir, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(const char *dir, const char *name, const char *fmt, ...)
{
	char path[4400];
	FILE *f;
	va_list ap;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static const char *LOG_JSON = "{\"plugins\": {\"log\": {\"instances\": {\"default\": {\"path\": \"events.jsonl\"}}}}}";

/* Load a folder that must fail; returns the message (static buffer). */
static const char *load_fail(const char *dir)
{
	static char err[1024];
	config *c;

	memset(err, 0, sizeof err);
	c = config_load(dir, err, sizeof err);
	if (c) {
		fprintf(stderr, "config_load(%s) unexpectedly succeeded\n", dir);
		config_free(c);
		return "";
	}
	return err;
}

/* Expect "<dir>/<file>: <rest>" exactly. */
static void expect_err(const char *dir, const char *file, const char *rest)
{
	char want[2048];

	snprintf(want, sizeof want, "%s/%s: %s", dir, file, rest);
	CHECK_STR(load_fail(dir), want);
}

static void test_full(void)
{
	const char *d = mkconf("full");
	char sub[4400], secret_file[4400], want[8192];
	config *c;
	char err[1024] = "";
	const config_instance *in;

	put(d, "crierd.json",
	    "{\"daemon\": {\"state_dir\": \"./state//x/\", \"plugin_dir\": \"/opt/crier/plugins\", \"control\": "
	    "\"c.sock\"},\n"
	    " \"http\": {\"listen\": \"[::1]:8080\", \"max_body_bytes\": 2048, \"ack_timeout_ms\": 500,"
	    " \"trusted_proxies\": [\"127.0.0.1\", \"fd00::/8\"]},\n"
	    " \"zmq\": {\"ingest\": \"tcp://127.0.0.1:5555\"},\n"
	    " \"store\": {\"synchronous\": \"full\", \"batch_max\": 64, \"checkpoint_pages\": 500},\n"
	    " \"incidents\": {\"group_by\": [\"service\", \"cluster\"], \"hold_seconds\": 0.5,"
	    " \"postmortem_due_seconds\": 1.5, \"postmortem_for\": \"all\"},\n"
	    " \"delivery\": {\"max_attempts\": 3, \"max_age_seconds\": 60, \"backoff_initial_ms\": 10, "
	    "\"backoff_max_ms\": 100}}\n");
	snprintf(secret_file, sizeof secret_file, "%s/pw.txt", root);
	put(root, "pw.txt", "%s\n", FILE_SECRET);
	put(d, "ingest.json",
	    "{\"ingest\": {\"alertmanager\": {\"auth\": {\"token\": \"${CRIER_TEST_SECRET}\"}},\n"
	    " \"uptimerobot\": {\"auth\": {\"username\": \"ur\", \"password\": \"file:%s\"}, \"services\": "
	    "{\"777\": \"api\"}, \"severity\": \"major\"}}}\n",
	    secret_file);
	put(d, "log.json", "%s", LOG_JSON);
	put(d, "webhook.json",
	    "{\"plugins\": {\"webhook\": {\"instances\": {\"ops\": {\"url\": \"${CRIER_TEST_SECRET}\", \"n\": 2,\n"
	    "  \"headers\": [{\"X-Key\": \"file:%s\"}], \"delivery\": {\"max_attempts\": 7}}}}}}\n",
	    secret_file);
	put(d, "routes.json",
	    "{\"routes\": [{\"name\": \"pages\", \"events\": [\"opened\", \"resolved\"], \"min_severity\": "
	    "\"critical\",\n"
	    "  \"labels\": {\"team\": \"web\"}, \"to\": [\"webhook/ops\", \"log/default\"]},\n"
	    " {\"events\": [\"*\"], \"to\": [\"log/default\"]}]}\n");
	/* None of these may be read: a sub-folder, a folder named like a file, a hidden file, another suffix. */
	snprintf(sub, sizeof sub, "%s/examples", d);
	mkdir(sub, 0700);
	put(sub, "broken.json", "{ this is not json");
	snprintf(sub, sizeof sub, "%s/dir.json", d);
	mkdir(sub, 0700);
	put(d, ".hidden.json", "{ nor this");
	put(d, "notes.txt", "{ nor this");
	put(d, "routes.json.bak", "{ nor this");

	c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "error: %s\n", err);
		return;
	}
	CHECK_STR(c->dir, d);
	snprintf(want, sizeof want, "%s/state/x", cwd);
	CHECK_STR(c->state_dir, want);
	CHECK_STR(c->plugin_dirs[0], "/opt/crier/plugins");
	CHECK(c->plugin_dirs[1] == NULL);
	snprintf(want, sizeof want, "%s/state/x/c.sock", cwd);
	CHECK_STR(c->control_path, want);
	CHECK_STR(c->listen_host, "::1");
	CHECK(c->listen_port == 8080);
	CHECK(c->max_body_bytes == 2048);
	CHECK(c->ack_timeout_ms == 500);
	CHECK(c->n_trusted_proxies == 2);
	CHECK(c->n_trusted_proxies == 2 && c->trusted_proxies[0].family == AF_INET &&
	      c->trusted_proxies[0].bits == 32 && c->trusted_proxies[1].family == AF_INET6 &&
	      c->trusted_proxies[1].bits == 8);
	CHECK_STR(c->zmq_ingest, "tcp://127.0.0.1:5555");
	CHECK(c->store_sync_full == 1);
	CHECK(c->batch_max == 64);
	CHECK(c->checkpoint_pages == 500);
	CHECK(json_array_size(c->group_by) == 2);
	CHECK_STR(json_string_value(json_array_get(c->group_by, 1)), "cluster");
	CHECK(c->hold_ms == 500);
	CHECK(c->postmortem_due_ms == 1500 && c->postmortem_all == 1);
	CHECK(c->delivery.max_attempts == 3);
	CHECK(c->delivery.max_age_ms == 60000);
	CHECK(c->delivery.backoff_initial_ms == 10);
	CHECK(c->delivery.backoff_max_ms == 100);

	CHECK_STR(c->auth[CONFIG_SRC_ALERTMANAGER].token, SECRET);
	CHECK(c->auth[CONFIG_SRC_ALERTMANAGER].username == NULL);
	CHECK(c->auth[CONFIG_SRC_UPTIMEROBOT].token == NULL);
	CHECK_STR(c->auth[CONFIG_SRC_UPTIMEROBOT].username, "ur");
	CHECK_STR(c->auth[CONFIG_SRC_UPTIMEROBOT].password, FILE_SECRET);
	CHECK(c->auth[CONFIG_SRC_GENERIC].token == NULL && c->auth[CONFIG_SRC_GENERIC].password == NULL);
	CHECK_STR(json_string_value(json_object_get(c->ur_services, "777")), "api");
	CHECK_STR(c->ur_severity, "major");
	CHECK(c->limits.max_alerts == alert_limits_default.max_alerts);
	CHECK(c->limits.max_depth == alert_limits_default.max_depth);

	CHECK(c->n_instances == 2);
	in = config_find_instance(c, "log/default");
	CHECK(in != NULL);
	if (in) {
		CHECK_STR(in->plugin, "log");
		CHECK_STR(in->config_json, "{\"path\":\"events.jsonl\"}");
		CHECK(in->delivery.max_attempts == 3);
		CHECK(in->delivery.backoff_max_ms == 100);
	}
	in = config_find_instance(c, "webhook/ops");
	CHECK(in != NULL);
	if (in) {
		CHECK_STR(in->name, "webhook/ops");
		CHECK_STR(in->plugin, "webhook");
		/* delivery removed, keys sorted, secrets resolved even inside arrays of objects */
		CHECK_STR(in->config_json,
		          "{\"headers\":[{\"X-Key\":\"" FILE_SECRET "\"}],\"n\":2,\"url\":\"" SECRET "\"}");
		CHECK(in->delivery.max_attempts == 7);
		CHECK(in->delivery.max_age_ms == 60000);
		CHECK(in->delivery.backoff_initial_ms == 10);
	}
	CHECK(config_find_instance(c, "webhook/nope") == NULL);
	CHECK(config_find_instance(c, "webhook") == NULL);

	CHECK(c->n_routes == 2);
	if (c->n_routes == 2) {
		CHECK_STR(c->routes[0].name, "pages");
		CHECK(json_array_size(c->routes[0].events) == 2);
		CHECK_STR(json_string_value(json_array_get(c->routes[0].events, 1)), "resolved");
		CHECK(c->routes[0].min_severity == alert_severity_rank("critical"));
		CHECK(c->routes[0].min_severity > 0);
		CHECK_STR(json_string_value(json_object_get(c->routes[0].labels, "team")), "web");
		CHECK(json_array_size(c->routes[0].to) == 2);
		CHECK_STR(json_string_value(json_array_get(c->routes[0].to, 0)), "webhook/ops");
		CHECK(c->routes[1].events == NULL); /* "*" = every event */
		CHECK(c->routes[1].labels == NULL);
		CHECK(c->routes[1].min_severity == 0);
		CHECK_STR(c->routes[1].name, "routes[1]");
	}
	config_free(c);
}

static void test_defaults(void)
{
	const char *d = mkconf("defaults");
	char want[8192], err[1024] = "";
	config *c;

	put(d, "empty.json", "{}\n");
	c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "error: %s\n", err);
		return;
	}
	snprintf(want, sizeof want, "%s/var", cwd);
	CHECK_STR(c->state_dir, want);
	snprintf(want, sizeof want, "%s/build/plugins", cwd);
	CHECK_STR(c->plugin_dirs[0], want);
	CHECK(c->plugin_dirs[1] == NULL);
	snprintf(want, sizeof want, "%s/var/crierd.ctl", cwd);
	CHECK_STR(c->control_path, want);
	CHECK_STR(c->listen_host, "127.0.0.1");
	CHECK(c->listen_port == 9095);
	CHECK(c->max_body_bytes == 1048576);
	CHECK(c->ack_timeout_ms == 10000);
	CHECK(c->n_trusted_proxies == 0 && c->trusted_proxies == NULL);
	CHECK(c->zmq_ingest == NULL);
	CHECK(c->store_sync_full == 0);
	CHECK(c->batch_max == 512);
	CHECK(c->checkpoint_pages == 1000);
	CHECK(json_array_size(c->group_by) == 1);
	CHECK_STR(json_string_value(json_array_get(c->group_by, 0)), "service");
	CHECK(c->hold_ms == 300000);
	CHECK(c->postmortem_due_ms == 3 * 86400 * 1000LL && c->postmortem_all == 0);
	CHECK(c->delivery.max_attempts == 12);
	CHECK(c->delivery.max_age_ms == 86400000);
	CHECK(c->delivery.backoff_initial_ms == 1000);
	CHECK(c->delivery.backoff_max_ms == 300000);
	for (int s = 0; s < CONFIG_SRC_N; s++)
		CHECK(c->auth[s].token == NULL && c->auth[s].username == NULL && c->auth[s].password == NULL);
	CHECK(json_is_object(c->ur_services) && json_object_size(c->ur_services) == 0);
	CHECK_STR(c->ur_severity, "critical");
	CHECK(c->n_routes == 0 && c->n_instances == 0);
	CHECK(c->limits.max_labels == alert_limits_default.max_labels);
	config_free(c);

	CHECK_STR(config_source_name(CONFIG_SRC_ALERTMANAGER), "alertmanager");
	CHECK_STR(config_source_name(CONFIG_SRC_UPTIMEROBOT), "uptimerobot");
	CHECK_STR(config_source_name(CONFIG_SRC_GENERIC), "generic");
}

/* The shipped conf.d (plus the log plugin's file, which another part of the tree owns). */
static void test_shipped(void)
{
	const char *d = mkconf("shipped");
	const char *files[] = {"crierd.json", "ingest.json", "routes.json"};
	char err[1024] = "", want[8192];
	config *c;

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[4200];

		snprintf(path, sizeof path, "conf.d/%s", files[i]);
		char *text = check_read_file(path, NULL);
		CHECK(text != NULL);
		if (!text)
			return;
		put(d, files[i], "%s", text);
		free(text);
	}
	put(d, "log.json", "%s", LOG_JSON);
	c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "error: %s\n", err);
		return;
	}
	snprintf(want, sizeof want, "%s/var/crierd.ctl", cwd);
	CHECK_STR(c->control_path, want);
	CHECK(c->listen_port == 9095);
	CHECK(c->zmq_ingest == NULL);
	CHECK(c->hold_ms == 300000);
	CHECK(c->delivery.max_attempts == 12);
	CHECK(c->auth[CONFIG_SRC_ALERTMANAGER].token == NULL);
	CHECK_STR(c->ur_severity, "critical");
	CHECK(c->n_routes == 1);
	CHECK(c->n_routes == 1 && c->routes[0].events == NULL);
	CHECK(config_find_instance(c, "log/default") != NULL);
	config_free(c);
}

static void test_env_overrides(void)
{
	const char *d = mkconf("env");
	char want[8192], err[1024] = "";
	config *c;

	put(d, "crierd.json", "{\"daemon\": {\"state_dir\": \"/nowhere\", \"plugin_dir\": \"/nowhere/plugins\"}}");
	setenv("CRIER_STATE_DIR", "rel/state", 1);
	setenv("CRIER_PLUGIN_DIR", "/abs/plugins/", 1);
	c = config_load(d, err, sizeof err);
	unsetenv("CRIER_STATE_DIR");
	unsetenv("CRIER_PLUGIN_DIR");
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "error: %s\n", err);
		return;
	}
	snprintf(want, sizeof want, "%s/rel/state", cwd);
	CHECK_STR(c->state_dir, want);
	CHECK_STR(c->plugin_dirs[0], "/abs/plugins");
	CHECK(c->plugin_dirs[1] == NULL);
	snprintf(want, sizeof want, "%s/rel/state/crierd.ctl", cwd);
	CHECK_STR(c->control_path, want);
	config_free(c);
}

/* daemon.plugin_dir as a list: every folder, absolute, in order; CRIER_PLUGIN_DIR replaces the list. */
static void test_plugin_dirs(void)
{
	const char *d = mkconf("plugindirs");
	char want[8192], err[1024] = "";
	config *c;

	put(d, "crierd.json", "{\"daemon\": {\"plugin_dir\": [\"build/plugins\", \"/opt/acme/crier//plugins/\"]}}");
	c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "error: %s\n", err);
		return;
	}
	snprintf(want, sizeof want, "%s/build/plugins", cwd);
	CHECK_STR(c->plugin_dirs[0], want);
	CHECK_STR(c->plugin_dirs[1], "/opt/acme/crier/plugins");
	CHECK(c->plugin_dirs[2] == NULL);
	config_free(c);

	setenv("CRIER_PLUGIN_DIR", "/abs/plugins", 1);
	c = config_load(d, err, sizeof err);
	unsetenv("CRIER_PLUGIN_DIR");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->plugin_dirs[0], "/abs/plugins");
		CHECK(c->plugin_dirs[1] == NULL);
	}
	config_free(c);
}

/* One folder per error: crierd.json (valid) + log.json + the file under test. */
static const char *bad(const char *name, const char *file, const char *text)
{
	const char *d = mkconf(name);

	put(d, "crierd.json", "{\"http\": {\"listen\": \"127.0.0.1:9095\"}}\n");
	put(d, "log.json", "%s", LOG_JSON);
	if (file)
		put(d, file, "%s", text);
	return d;
}

static void test_errors(void)
{
	const char *d, *e;
	char want[8192];

	/* no files at all; a folder that does not exist */
	d = mkconf("none");
	snprintf(want, sizeof want, "%s: no *.json files in %s", d, d);
	CHECK_STR(load_fail(d), want);
	snprintf(want, sizeof want, "%s/missing", root);
	e = load_fail(want);
	CHECK(strstr(e, "missing: cannot open the configuration folder: No such file or directory") != NULL);

	/* syntax error: line and column from jansson */
	d = bad("syntax", "x.json", "{\n  \"routes\": [\n    {\"to\": [\"log/default\"],}\n  ]\n}\n");
	e = load_fail(d);
	snprintf(want, sizeof want, "%s/x.json: line 3 column ", d);
	CHECK(strncmp(e, want, strlen(want)) == 0);
	d = bad("dupkey", "x.json", "{\"routes\": [], \"routes\": []}");
	e = load_fail(d);
	CHECK(strstr(e, "x.json: line 1 column") != NULL && strstr(e, "duplicate object key") != NULL);
	d = bad("emptyfile", "x.json", "");
	e = load_fail(d);
	CHECK(strstr(e, "/x.json: ") != NULL);

	/* top level */
	d = bad("toparray", "x.json", "[1, 2]");
	expect_err(d, "x.json", "expected a JSON object at the top level, got an array");
	d = bad("topkey", "x.json", "{\"rout\": []}");
	expect_err(d, "x.json",
	           "unknown top-level key \"rout\" (known: daemon, http, zmq, store, incidents, delivery, ingest, "
	           "routes, plugins, public, drafts, subscribers, watchdog)");
	d = bad("duptop", "zz.json", "{\"http\": {}}");
	snprintf(want, sizeof want,
	         "%s/zz.json: http: already set in %s/crierd.json (a top-level key may appear in only one file)", d, d);
	CHECK_STR(load_fail(d), want);
	d = bad("dupplugin", "more.json", "{\"plugins\": {\"log\": {\"instances\": {}}}}");
	snprintf(want, sizeof want, "%s/more.json: plugins.log: plugin \"log\" is already configured in %s/log.json", d,
	         d);
	CHECK_STR(load_fail(d), want);

	/* unknown keys, types, ranges */
	d = bad("unknownkey", "crierd.json", "{\"http\": {\"lisen\": \"x\"}}");
	expect_err(d, "crierd.json",
	           "http: unknown key \"lisen\" (known: listen, max_body_bytes, ack_timeout_ms, threads, "
	           "trusted_proxies)");
	d = bad("proxies", "crierd.json", "{\"http\": {\"trusted_proxies\": \"127.0.0.1\"}}");
	expect_err(d, "crierd.json", "http.trusted_proxies: expected an array of addresses or networks, got a string");
	d = bad("proxynet", "crierd.json", "{\"http\": {\"trusted_proxies\": [\"::1\", \"10.0.0.0/33\"]}}");
	expect_err(d, "crierd.json",
	           "http.trusted_proxies: entry 1: expected an address or network (\"10.0.0.0/8\", \"::1\"), got "
	           "\"10.0.0.0/33\"");
	d = bad("proxyhost", "crierd.json", "{\"http\": {\"trusted_proxies\": [\"proxy.internal\", 7]}}");
	expect_err(d, "crierd.json",
	           "http.trusted_proxies: entry 0: expected an address or network (\"10.0.0.0/8\", \"::1\"), got "
	           "\"proxy.internal\"");
	d = bad("proxytype", "crierd.json", "{\"http\": {\"trusted_proxies\": [7]}}");
	expect_err(d, "crierd.json",
	           "http.trusted_proxies: entry 0: expected an address or network (\"10.0.0.0/8\", \"::1\"), got "
	           "an integer");
	d = bad("listen", "crierd.json", "{\"http\": {\"listen\": \"9095\"}}");
	expect_err(d, "crierd.json", "http.listen: expected \"host:port\", got \"9095\"");
	d = bad("listenport", "crierd.json", "{\"http\": {\"listen\": \"127.0.0.1:99999\"}}");
	expect_err(d, "crierd.json", "http.listen: expected \"host:port\", got \"127.0.0.1:99999\"");
	d = bad("type", "crierd.json", "{\"http\": {\"max_body_bytes\": \"1M\"}}");
	expect_err(d, "crierd.json", "http.max_body_bytes: expected an integer, got a string");
	d = bad("range", "crierd.json", "{\"store\": {\"batch_max\": 0}}");
	expect_err(d, "crierd.json", "store.batch_max: must be between 1 and 100000, got 0");
	d = bad("sync", "crierd.json", "{\"store\": {\"synchronous\": \"off\"}}");
	expect_err(d, "crierd.json", "store.synchronous: expected \"normal\" or \"full\", got \"off\"");
	d = bad("section", "crierd.json", "{\"daemon\": []}");
	expect_err(d, "crierd.json", "daemon: expected an object, got an array");
	d = bad("emptystr", "crierd.json", "{\"daemon\": {\"state_dir\": \"\"}}");
	expect_err(d, "crierd.json", "daemon.state_dir: must not be empty");
	d = bad("plugindir", "crierd.json", "{\"daemon\": {\"plugin_dir\": 3}}");
	expect_err(d, "crierd.json", "daemon.plugin_dir: expected a folder or an array of folders, got an integer");
	d = bad("plugindirs0", "crierd.json", "{\"daemon\": {\"plugin_dir\": []}}");
	expect_err(d, "crierd.json", "daemon.plugin_dir: expected 1 to 16 folders, got 0");
	d = bad("plugindirs1", "crierd.json", "{\"daemon\": {\"plugin_dir\": [\"a\", null]}}");
	expect_err(d, "crierd.json", "daemon.plugin_dir[1]: expected a string, got null");
	d = bad("plugindirs2", "crierd.json", "{\"daemon\": {\"plugin_dir\": [\"\"]}}");
	expect_err(d, "crierd.json", "daemon.plugin_dir[0]: must not be empty");
	d = bad("plugindir3", "crierd.json", "{\"daemon\": {\"plugin_dir\": \"\"}}");
	expect_err(d, "crierd.json", "daemon.plugin_dir: must not be empty");
	d = bad("zmq", "crierd.json", "{\"zmq\": {\"ingest\": \"udp://x\"}}");
	e = load_fail(d);
	CHECK(strstr(e, "/crierd.json: zmq.ingest: expected a \"tcp://") != NULL);
	d = bad("groupby", "crierd.json", "{\"incidents\": {\"group_by\": []}}");
	e = load_fail(d);
	CHECK(strstr(e, "/crierd.json: incidents.group_by: expected at least one label name") != NULL);
	d = bad("groupby2", "crierd.json", "{\"incidents\": {\"group_by\": [\"service\", 3]}}");
	expect_err(d, "crierd.json", "incidents.group_by[1]: expected a label name, got an integer");
	d = bad("hold", "crierd.json", "{\"incidents\": {\"hold_seconds\": -1}}");
	expect_err(d, "crierd.json", "incidents.hold_seconds: must be between 0 and 604800 seconds, got -1");
	d = bad("pmdue", "crierd.json", "{\"incidents\": {\"postmortem_due_seconds\": \"3d\"}}");
	expect_err(d, "crierd.json", "incidents.postmortem_due_seconds: expected a number of seconds, got a string");
	d = bad("pmfor", "crierd.json", "{\"incidents\": {\"postmortem_for\": \"some\"}}");
	expect_err(d, "crierd.json", "incidents.postmortem_for: expected \"public\" or \"all\", got \"some\"");
	d = bad("backoff", "crierd.json", "{\"delivery\": {\"backoff_initial_ms\": 5000, \"backoff_max_ms\": 100}}");
	expect_err(d, "crierd.json",
	           "delivery.backoff_max_ms: backoff_max_ms (100) must be at least backoff_initial_ms (5000)");
	d = bad("ingestkey", "ingest.json", "{\"ingest\": {\"alertmanager\": {\"token\": \"x\"}}}");
	expect_err(d, "ingest.json", "ingest.alertmanager: unknown key \"token\" (known: auth)");
	d = bad("ursev", "ingest.json", "{\"ingest\": {\"uptimerobot\": {\"severity\": \"fatal\"}}}");
	expect_err(d, "ingest.json",
	           "ingest.uptimerobot.severity: unknown severity \"fatal\" (known: info, warning, major, critical)");
	d = bad("ursvc", "ingest.json", "{\"ingest\": {\"uptimerobot\": {\"services\": {\"1\": 2}}}}");
	expect_err(d, "ingest.json", "ingest.uptimerobot.services.1: expected a service name, got an integer");
	d = bad(
	    "longsock", "crierd.json",
	    "{\"daemon\": {\"state_dir\": "
	    "\"/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\"}}");
	e = load_fail(d);
	CHECK(strstr(e, "/crierd.json: daemon.control: socket path \"/tmp/aaa") != NULL);

	/* routes */
	d = bad("routeinst", "routes.json", "{\"routes\": [{\"to\": [\"log/default\", \"slack/ops\"]}]}");
	expect_err(d, "routes.json", "routes[0].to[1]: unknown instance \"slack/ops\" (configured: log/default)");
	d = bad("routeevent", "routes.json", "{\"routes\": [{\"to\": [\"log/default\"]}, {\"events\": [\"opend\"]}]}");
	expect_err(d, "routes.json",
	           "routes[1].events[0]: unknown event type \"opend\" (known: opened, alert_joined, alert_resolved, "
	           "severity_raised, state_changed, acknowledged, update, resolved, draft_created, draft_approved, "
	           "draft_rejected, draft_published, draft_failed, reminder, escalation, awaiting_first_update, "
	           "postmortem_published, postmortem_due, or \"*\")");
	d = bad("routesev", "routes.json", "{\"routes\": [{\"min_severity\": \"high\", \"to\": [\"log/default\"]}]}");
	expect_err(d, "routes.json",
	           "routes[0].min_severity: unknown severity \"high\" (known: info, warning, major, critical)");
	d = bad("routeto", "routes.json", "{\"routes\": [{\"name\": \"x\"}]}");
	expect_err(d, "routes.json", "routes[0]: missing required key \"to\" (instance names, \"plugin/instance\")");
	d = bad("routekey", "routes.json", "{\"routes\": [{\"to\": [\"log/default\"], \"scope\": \"x\"}]}");
	expect_err(d, "routes.json",
	           "routes[0]: unknown key \"scope\" (known: name, events, min_severity, labels, to)");
	d = bad("routes", "routes.json", "{\"routes\": {}}");
	expect_err(d, "routes.json", "routes: expected an array, got an object");
	d = bad("routelabels", "routes.json", "{\"routes\": [{\"labels\": {\"team\": 1}, \"to\": [\"log/default\"]}]}");
	expect_err(d, "routes.json", "routes[0].labels.team: expected a string, got an integer");

	/* plugins */
	d = bad("pluginname", "p.json", "{\"plugins\": {\"Slack\": {\"instances\": {}}}}");
	expect_err(d, "p.json", "plugins.Slack: plugin name must match [a-z0-9_-]+ (at most 64 characters)");
	d = bad("instname", "p.json", "{\"plugins\": {\"slack\": {\"instances\": {\"ops team\": {}}}}}");
	expect_err(d, "p.json",
	           "plugins.slack.instances.ops team: instance name must match [a-z0-9_-]+ (at most 64 characters)");
	d = bad("noinst", "p.json", "{\"plugins\": {\"slack\": {}}}");
	e = load_fail(d);
	CHECK(strstr(e, "/p.json: plugins.slack: missing \"instances\"") != NULL);
	d = bad("pluginkey", "p.json", "{\"plugins\": {\"slack\": {\"instances\": {}, \"url\": \"x\"}}}");
	expect_err(d, "p.json", "plugins.slack: unknown key \"url\" (known: instances)");
	d = bad("instdelivery", "p.json",
	        "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"delivery\": {\"max_atempts\": 3}}}}}}");
	expect_err(d, "p.json",
	           "plugins.slack.instances.ops.delivery: unknown key \"max_atempts\" (known: max_attempts, "
	           "max_age_seconds, backoff_initial_ms, backoff_max_ms)");
	d = bad("instdelivery2", "p.json",
	        "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"delivery\": {\"max_attempts\": 0}}}}}}");
	expect_err(d, "p.json", "plugins.slack.instances.ops.delivery.max_attempts: must be between 1 and 1000, got 0");

	/* secrets that cannot be resolved name the variable or the file */
	unsetenv("CRIER_TEST_UNSET");
	d = bad("envunset", "p.json",
	        "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"a\": {\"b\": [\"x\", "
	        "\"${CRIER_TEST_UNSET}\"]}}}}}}");
	expect_err(d, "p.json", "plugins.slack.instances.ops.a.b[1]: environment variable CRIER_TEST_UNSET is not set");
	d = bad("fileunread", "ingest.json",
	        "{\"ingest\": {\"generic\": {\"auth\": {\"token\": \"file:/nonexistent/tok\"}}}}");
	expect_err(
	    d, "ingest.json",
	    "ingest.generic.auth.token: cannot read secret file \"/nonexistent/tok\": No such file or directory");
	d = bad("badref", "ingest.json", "{\"ingest\": {\"generic\": {\"auth\": {\"token\": \"${lower case}\"}}}}");
	e = load_fail(d);
	CHECK(strstr(e, "/ingest.json: ingest.generic.auth.token: malformed variable reference") != NULL);
	d = bad("authpair", "ingest.json", "{\"ingest\": {\"generic\": {\"auth\": {\"username\": \"u\"}}}}");
	expect_err(d, "ingest.json",
	           "ingest.generic.auth: \"username\" and \"password\" go together: set both or neither");
	d = bad("authempty", "ingest.json", "{\"ingest\": {\"generic\": {\"auth\": {}}}}");
	e = load_fail(d);
	CHECK(strstr(e, "/ingest.json: ingest.generic.auth: expected \"token\"") != NULL);
}

/* "isolation" is host-level too: thread by default, never shown to the plugin. */
static void test_isolation(void)
{
	const char *d = bad("isook", "p.json",
	                    "{\"plugins\": {\"webhook\": {\"instances\": {\"a\": {\"isolation\": \"process\", "
	                    "\"url\": \"http://127.0.0.1:1/\"}, \"b\": {\"isolation\": \"thread\", \"url\": "
	                    "\"http://127.0.0.1:1/\"}}}}}");
	char err[1024] = "";
	config *c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (c) {
		const config_instance *a = config_find_instance(c, "webhook/a"),
		                      *b = config_find_instance(c, "webhook/b");
		CHECK(a && a->isolation == CONFIG_ISOLATION_PROCESS);
		CHECK(b && b->isolation == CONFIG_ISOLATION_THREAD);
		CHECK(a && strcmp(a->config_json, "{\"url\":\"http://127.0.0.1:1/\"}") == 0);
		CHECK(config_find_instance(c, "log/default")->isolation == CONFIG_ISOLATION_THREAD);
		config_free(c);
	} else {
		fprintf(stderr, "error: %s\n", err);
	}
	d = bad("isobad", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"isolation\": \"fork\"}}}}}");
	expect_err(d, "p.json",
	           "plugins.sms.instances.oncall.isolation: unknown isolation \"fork\" (known: thread, process)");
	d = bad("isotype", "p.json", "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"isolation\": true}}}}}");
	expect_err(d, "p.json",
	           "plugins.sms.instances.oncall.isolation: expected \"thread\" or \"process\", got a boolean");
}

/* Recipients are host-level: taken out of the plugin's configuration. */
static void test_recipients_and_public(void)
{
	const char *d =
	    bad("recipok", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": [\"+15551230001\", "
	        "\"+15551230002\"], \"from\": \"+15550000000\", \"templates\": {\"text\": \"file:mine.mustache\"}}}}},"
	        " \"public\": {\"status_page_url\": \"https://status.example.com//\"}}");
	char err[1024] = "", want[8192];
	config *c = config_load(d, err, sizeof err);
	CHECK(c != NULL);
	if (c) {
		const config_instance *ic = config_find_instance(c, "sms/oncall");
		CHECK(ic != NULL);
		if (ic) {
			CHECK(json_array_size(ic->recipients) == 2);
			CHECK_STR(json_string_value(json_array_get(ic->recipients, 1)), "+15551230002");
			/* "file:" under templates names a template for the plugin, not a secret to read now */
			CHECK_STR(ic->config_json,
			          "{\"from\":\"+15550000000\",\"templates\":{\"text\":\"file:mine.mustache\"}}");
		}
		CHECK_STR(c->status_page_url, "https://status.example.com/");
		snprintf(want, sizeof want, "%s/%s", cwd, d);
		CHECK(c->config_dir && (strcmp(c->config_dir, d) == 0 || strcmp(c->config_dir, want) == 0));
		CHECK(config_find_instance(c, "log/default")->recipients == NULL);
		config_free(c);
	} else {
		fprintf(stderr, "error: %s\n", err);
	}

	d = bad("recipobj", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": \"+1555\"}}}}}");
	expect_err(d, "p.json",
	           "plugins.sms.instances.oncall.recipients: expected a non-empty array of strings, got a string");
	d = bad("recipempty", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": []}}}}}");
	expect_err(d, "p.json",
	           "plugins.sms.instances.oncall.recipients: expected a non-empty array of strings, got an array");
	d = bad("recipint", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": [\"a\", 7]}}}}}");
	expect_err(d, "p.json", "plugins.sms.instances.oncall.recipients[1]: expected a string, got an integer");
	d = bad(
	    "recipdup", "p.json",
	    "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": [\"a@x\", \"b@x\", \"a@x\"]}}}}}");
	expect_err(d, "p.json", "plugins.sms.instances.oncall.recipients[2]: \"a@x\" is listed twice");
	d = bad("recipctl", "p.json",
	        "{\"plugins\": {\"sms\": {\"instances\": {\"oncall\": {\"recipients\": [\"a@x\\r\\nBcc: b@y\"]}}}}}");
	expect_err(
	    d, "p.json",
	    "plugins.sms.instances.oncall.recipients[0]: recipients may not contain spaces or control characters");
	d = bad("pubkey", "p.json", "{\"public\": {\"url\": \"https://x\"}}");
	expect_err(d, "p.json",
	           "public: unknown key \"url\" (known: status_page_url, components, when, security_when, "
	           "update_every_minutes, escalate_after_minutes, first_message)");
	d = bad("puburl", "p.json", "{\"public\": {\"status_page_url\": \"status.example.com\"}}");
	expect_err(d, "p.json",
	           "public.status_page_url: expected an http:// or https:// URL, got \"status.example.com\"");
	/* drafts: the API's own token */
	d = bad("draftskey", "d.json", "{\"drafts\": {\"token\": \"x\"}}");
	expect_err(d, "d.json", "drafts: unknown key \"token\" (known: auth)");
	d = bad("draftsbasic", "d.json", "{\"drafts\": {\"auth\": {\"username\": \"a\", \"password\": \"b\"}}}");
	expect_err(d, "d.json", "drafts.auth: unknown key \"username\" (known: token)");
	d = bad("draftsnone", "d.json", "{\"drafts\": {\"auth\": {}}}");
	expect_err(d, "d.json", "drafts.auth: expected \"token\"");
	d = bad("draftsempty", "d.json", "{\"drafts\": {\"auth\": {\"token\": \"\"}}}");
	expect_err(d, "d.json", "drafts.auth.token: must not be empty");
	d = bad("draftsunset", "d.json", "{\"drafts\": {\"auth\": {\"token\": \"${CRIER_TEST_UNSET}\"}}}");
	expect_err(d, "d.json", "drafts.auth.token: environment variable CRIER_TEST_UNSET is not set");
	d = bad("draftssame", "d.json",
	        "{\"ingest\": {\"generic\": {\"auth\": {\"token\": \"same-tok\"}}}, \"drafts\": {\"auth\": "
	        "{\"token\": \"same-tok\"}}}");
	expect_err(
	    d, "d.json",
	    "drafts.auth.token: must differ from ingest.generic.auth.token: whoever sends alerts must not approve "
	    "posts");
}

/* Configurations that fail next to a resolved secret must not show it. */
static void test_secret_never_shown(void)
{
	char secret_file[4400];
	const char *d, *e;
	struct {
		const char *name, *file, *text;
	} cases[] = {
	    /* the secret resolves, then the auth object is found wrong */
	    {"s1", "ingest.json",
	     "{\"ingest\": {\"alertmanager\": {\"auth\": {\"token\": \"${CRIER_TEST_SECRET}\", \"username\": "
	     "\"${CRIER_TEST_SECRET}\"}}}}"},
	    {"s2", "ingest.json",
	     "{\"ingest\": {\"alertmanager\": {\"auth\": {\"password\": \"${CRIER_TEST_SECRET}\", \"tokn\": \"x\"}}}}"},
	    {"s3", "ingest.json",
	     "{\"ingest\": {\"uptimerobot\": {\"auth\": {\"token\": \"${CRIER_TEST_SECRET}\"}, \"severity\": 5}}}"},
	    {"s4", "ingest.json", "{\"ingest\": {\"generic\": {\"auth\": {\"token\": \"${CRIER_TEST_EMPTY}\"}}}}"},
	    /* plugin instances: a resolved secret next to an unresolvable one, a bad delivery, a bad route */
	    {"s5", "p.json",
	     "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"${CRIER_TEST_SECRET}\", \"z\": "
	     "\"${CRIER_TEST_UNSET}\"}}}}}"},
	    {"s6", "p.json",
	     "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"${CRIER_TEST_SECRET}\", \"delivery\": "
	     "{\"max_attempts\": \"${CRIER_TEST_SECRET}\"}}}}}}"},
	    {"s7", "p.json",
	     "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"${CRIER_TEST_SECRET}\"}}}}, \"routes\": "
	     "[{\"to\": [\"slack/ops\", \"${CRIER_TEST_SECRET}\"]}]}"},
	    {"s8", "p.json",
	     "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"file:SECRET_FILE\", \"n\": "
	     "\"file:/nonexistent\"}}}}}"},
	    /* inline secrets that make the JSON invalid: jansson would quote them */
	    {"s9", "p.json", "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"" SECRET "\n\"}}}}}"},
	    {"s10", "p.json", "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": \"" SECRET "\" 1}}}}}"},
	    {"s11", "p.json", "{\"plugins\": {\"slack\": {\"instances\": {\"ops\": {\"url\": " SECRET "}}}}}"},
	};

	setenv("CRIER_TEST_EMPTY", "", 1);
	snprintf(secret_file, sizeof secret_file, "%s/pw.txt", root);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char text[8192];
		const char *mark = strstr(cases[i].text, "SECRET_FILE");

		int w;

		if (mark)
			w = snprintf(text, sizeof text, "%.*s%s%s", (int)(mark - cases[i].text), cases[i].text,
			             secret_file, mark + strlen("SECRET_FILE"));
		else
			w = snprintf(text, sizeof text, "%s", cases[i].text);
		CHECK(w > 0 && (size_t)w < sizeof text);
		d = bad(cases[i].name, cases[i].file, text);
		e = load_fail(d);
		CHECK(e[0] != '\0');
		CHECK(strstr(e, cases[i].file) != NULL);
		CHECK(strstr(e, SECRET) == NULL);
		CHECK(strstr(e, FILE_SECRET) == NULL);
		if (strstr(e, SECRET) || strstr(e, FILE_SECRET) || !strstr(e, cases[i].file))
			fprintf(stderr, "case %s: %s\n", cases[i].name, e);
	}
	unsetenv("CRIER_TEST_EMPTY");
}

static void rm_tree(const char *path)
{
	char cmd[4200];

	/* The folder is ours (mkdtemp), so a plain rm -r is the clearest cleanup. */
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

int main(void)
{
	if (!mkdtemp(root) || !getcwd(cwd, sizeof cwd)) {
		perror("setup");
		return 1;
	}
	setenv("CRIER_TEST_SECRET", SECRET, 1);
	unsetenv("CRIER_STATE_DIR");
	unsetenv("CRIER_PLUGIN_DIR");
	put(root, "pw.txt", "%s\n", FILE_SECRET);

	test_full();
	test_defaults();
	test_shipped();
	test_env_overrides();
	test_plugin_dirs();
	test_errors();
	test_recipients_and_public();
	test_isolation();
	test_secret_never_shown();

	rm_tree(root);
	return check_summary("test_config");
}
