/*
 * Plugin hosts, both ways: a thread, and a child process (this binary runs
 * itself with --plugin-host, as crierd does). The child gets its
 * configuration over the socket only, dies on the crashy plugin's crash
 * input with the reason told, comes back on respawn, skips queued
 * deliveries once stopping, and leaves no process and no socket file.
 */
#include "check.h"
#include "plugin_host.h"
#include "timefmt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static char state_dir[] = "/tmp/crier-test-plugin-host-XXXXXX";

static const char *plugin_dir(void)
{
	static char buf[512];
	const char *b = getenv("CRIER_BUILD");
	snprintf(buf, sizeof(buf), "%s/tests/plugins", b ? b : "build");
	return buf;
}

static char *plugin_dirs[2];

static config test_config(void)
{
	config cfg = {0};
	cfg.state_dir = state_dir;
	cfg.config_dir = state_dir;
	plugin_dirs[0] = (char *)plugin_dir();
	cfg.plugin_dirs = plugin_dirs;
	return cfg;
}

/* Wait up to ms for h's socket (1) or its exit (2); 0 on timeout. */
static int wait_host(plugin_host *h, long ms)
{
	zmq_pollitem_t it[2] = {{.socket = plugin_host_socket(h), .events = ZMQ_POLLIN},
	                        {.socket = NULL, .fd = plugin_host_exit_fd(h), .events = ZMQ_POLLIN}};
	if (!it[0].socket || zmq_poll(it, it[1].fd >= 0 ? 2 : 1, ms) <= 0)
		return 0;
	return (it[0].revents & ZMQ_POLLIN) ? 1 : 2;
}

/* Send one delivery with doc and wait for its result (-1: none came). */
static int deliver(plugin_host *h, int64_t id, const char *doc, plugin_host_result *r)
{
	if (plugin_host_send(h, id, 1, "crier-1-crashy/t", doc, NULL, NULL, 0) < 0)
		return -1;
	for (;;) {
		if (wait_host(h, 10000) != 1)
			return -1;
		int got = plugin_host_recv(h, r);
		if (got != 0 && got != PLUGIN_HOST_EMPTY)
			return got > 0 ? 0 : -1;
	}
}

static int contains(const char *path, const char *needle)
{
	size_t n;
	char *text = check_read_file(path, &n);
	if (!text)
		return -1;
	int found = memmem(text, n, needle, strlen(needle)) != NULL;
	free(text);
	return found;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int count_sockets(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls %s/plugin-hosts | grep -c '\\.sock$'", state_dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* An instance of the crashy test plugin in a process of its own. */
static config_instance crashy(const char *config_json)
{
	return (config_instance){.name = "crashy/t",
	                         .plugin = "crashy",
	                         .config_json = (char *)config_json,
	                         .isolation = CONFIG_ISOLATION_PROCESS};
}

static const char *const normal_doc = "{\"alert\": {\"labels\": {\"service\": \"web\"}}}";
static const char *const crash_doc = "{\"alert\": {\"labels\": {\"crash\": \"yes\"}}}";

static void test_process(void *zctx)
{
	config cfg = test_config();
	config_instance ic = crashy("{\"url\": \"http://127.0.0.1:1/hook/secret-token-41\"}");
	char err[1024] = "", path[600], why[300];
	setenv("CRIER_TEST_SECRET", "secret-env-value-42", 1);
	plugin_host *h = plugin_host_start(zctx, NULL, &ic, &cfg, err, sizeof(err));
	if (!h)
		fprintf(stderr, "  start: %s\n", err);
	CHECK(h != NULL);
	if (!h)
		return;
	long pid = plugin_host_pid(h);
	CHECK(pid > 0);
	CHECK(plugin_host_ready(h));
	CHECK(plugin_host_exit_fd(h) >= 0);
	CHECK(count_sockets() == 1);

	/* Its name is on its command line; its configuration is not, nor our environment's secrets. */
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	CHECK(contains(path, "crashy/t") == 1);
	CHECK(contains(path, "secret-token-41") == 0);
	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	CHECK(contains(path, "secret-env-value-42") == 0);
	CHECK(contains(path, "secret-token-41") == 0);

	/* A normal delivery: the plugin runs (port 1 refuses: a retry with a reason). */
	plugin_host_result r;
	CHECK(deliver(h, 7, normal_doc, &r) == 0);
	CHECK(r.id == 7);
	CHECK(r.result == CRIER_RETRY);
	CHECK(r.error && strncmp(r.error, "no answer", 9) == 0);
	plugin_host_result_free(&r);
	CHECK(plugin_host_exited(h, why, sizeof(why)) == 0);

	/* The crash input: the child dies with SIGSEGV, and says nothing. */
	CHECK(plugin_host_send(h, 8, 1, "k", crash_doc, NULL, NULL, 0) == 0);
	CHECK(wait_host(h, 10000) == 2);
	CHECK(plugin_host_exited(h, why, sizeof(why)) == 1);
	CHECK_STR(why, "killed by signal 11 (SIGSEGV)");
	CHECK(plugin_host_socket(h) == NULL);
	CHECK(plugin_host_exit_fd(h) == -1);
	CHECK(plugin_host_pid(h) == 0);
	CHECK(!plugin_host_ready(h));
	CHECK(plugin_host_send(h, 9, 1, "k", normal_doc, NULL, NULL, 0) == -1);
	CHECK(count_sockets() == 0);
	CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH); /* reaped */

	/* Respawn: a new child, ready once its hello and init came through. */
	CHECK(plugin_host_respawn(h, err, sizeof(err)) == 0);
	long pid2 = plugin_host_pid(h);
	CHECK(pid2 > 0 && pid2 != pid);
	CHECK(!plugin_host_ready(h));
	CHECK(plugin_host_watch(h, 0) > 0 && plugin_host_watch(h, 0) < INT64_MAX);
	while (!plugin_host_ready(h) && wait_host(h, 10000) == 1)
		CHECK(plugin_host_recv(h, &r) == 0);
	CHECK(plugin_host_ready(h));
	CHECK(plugin_host_watch(h, 0) == INT64_MAX);
	CHECK(deliver(h, 10, normal_doc, &r) == 0);
	CHECK(r.id == 10 && r.result == CRIER_RETRY);
	plugin_host_result_free(&r);

	/* Stopping: what is queued comes back unattempted. */
	plugin_host_begin_stop(h);
	usleep(100 * 1000); /* the child's SIGUSR1 handler runs */
	CHECK(deliver(h, 11, crash_doc, &r) == 0);
	CHECK(r.id == 11 && r.result == PLUGIN_HOST_SKIPPED);
	plugin_host_result_free(&r);
	CHECK(plugin_host_stop(h) == 0);
	CHECK(kill((pid_t)pid2, 0) < 0 && errno == ESRCH);
	CHECK(count_sockets() == 0);
}

static void test_process_start_failures(void *zctx)
{
	config cfg = test_config();
	config_instance ic = crashy("{\"url\": \"http://x/\", \"bogus\": 1}");
	char err[1024] = "";
	int status;
	CHECK(plugin_host_start(zctx, NULL, &ic, &cfg, err, sizeof(err)) == NULL);
	CHECK_STR(err, "crashy/t: bogus: unknown key (known: url, init_crash_file)");
	CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD); /* no child left behind */
	CHECK(count_sockets() == 0);

	ic.name = "nothere/t";
	ic.plugin = "nothere";
	CHECK(plugin_host_start(zctx, NULL, &ic, &cfg, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "nothere/t: plugin \"nothere\"") != NULL && strstr(err, "not found") != NULL);
	CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);

	/* A crash in init. */
	char flag[600];
	snprintf(flag, sizeof(flag), "%s/crash-at-init", state_dir);
	touch(flag);
	char json[800];
	snprintf(json, sizeof(json), "{\"url\": \"http://x/\", \"init_crash_file\": \"%s\"}", flag);
	ic = crashy(json);
	CHECK(plugin_host_start(zctx, NULL, &ic, &cfg, err, sizeof(err)) == NULL);
	CHECK_STR(err, "crashy/t: the plugin host died while starting: killed by signal 11 (SIGSEGV)");
	CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
	unlink(flag);
}

/* Files a crierd killed -9 left behind go at the next start. */
static void test_sweep(void)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/plugin-hosts/host-99.sock", state_dir);
	touch(path);
	plugin_host_sweep(state_dir);
	CHECK(!exists(path));
	snprintf(path, sizeof(path), "%s/plugin-hosts", state_dir);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	plugin_host_sweep("/nonexistent"); /* nothing to sweep, nothing created */
	CHECK(!exists("/nonexistent/plugin-hosts"));
}

static void test_thread(void *zctx)
{
	config cfg = test_config();
	config_instance ic = {.name = "good/t", .plugin = "good", .config_json = "{}"};
	char err[1024] = "";
	plugin_lib *lib = plugin_loader_open(cfg.plugin_dirs, "good", err, sizeof(err));
	CHECK(lib != NULL);
	if (!lib)
		return;
	plugin_host *h = plugin_host_start(zctx, lib, &ic, &cfg, err, sizeof(err));
	CHECK(h != NULL);
	if (h) {
		plugin_host_result r;
		CHECK(plugin_host_pid(h) == 0 && plugin_host_exit_fd(h) == -1 && plugin_host_ready(h));
		CHECK(deliver(h, 1, normal_doc, &r) == 0);
		CHECK(r.id == 1 && r.result == CRIER_OK);
		plugin_host_result_free(&r);
		/* Nothing more to read: said at once, not waited for. */
		int64_t t0 = timefmt_mono_ms();
		CHECK(plugin_host_recv(h, &r) == PLUGIN_HOST_EMPTY);
		CHECK(timefmt_mono_ms() - t0 < 1000);
		/* Two results queued: both read, one call each, then empty. */
		CHECK(plugin_host_send(h, 2, 1, "k2", normal_doc, NULL, NULL, 0) == 0);
		CHECK(plugin_host_send(h, 3, 1, "k3", normal_doc, NULL, NULL, 0) == 0);
		int64_t ids = 0;
		for (int got = 0; got < 2 && wait_host(h, 10000) == 1;) {
			int rc = plugin_host_recv(h, &r);
			if (rc == PLUGIN_HOST_EMPTY)
				continue;
			CHECK(rc == 1);
			if (rc == 1) {
				ids += r.id;
				got++;
				plugin_host_result_free(&r);
			}
		}
		CHECK(ids == 5);
		CHECK(plugin_host_recv(h, &r) == PLUGIN_HOST_EMPTY);
		char why[100];
		CHECK(plugin_host_exited(h, why, sizeof(why)) == 0);
		CHECK(plugin_host_stop(h) == 0);
	}
	plugin_loader_close(lib);
}

int main(int argc, char **argv)
{
	/* The child of the process tests: this binary, as crierd would be. */
	if (argc > 1 && strcmp(argv[1], "--plugin-host") == 0)
		return plugin_host_child_main(argc, argv);
	/* The crash must reach the kernel (and us) as SIGSEGV, not become an
	 * exit through the sanitizer's handler. */
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];
	snprintf(opts, sizeof(opts), "%s%shandle_segv=0", asan ? asan : "", asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(state_dir)) {
		perror("mkdtemp");
		return 1;
	}
	void *zctx = zmq_ctx_new();
	CHECK(zctx != NULL);
	test_process(zctx);
	test_process_start_failures(zctx);
	test_sweep();
	test_thread(zctx);
	zmq_ctx_term(zctx);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", state_dir);
	return check_summary("test_plugin_host");
}
