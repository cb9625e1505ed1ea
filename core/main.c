/*
 * crierd: the daemon's entry point. Parses the command line, loads the
 * configuration, starts the core and the HTTP server, then waits for
 * signals on the main thread (every other thread has them blocked):
 * SIGHUP reloads, SIGTERM/SIGINT stop gracefully.
 */
#include "auth.h"
#include "config.h"
#include "core.h"
#include "http_module.h"
#include "http_server.h"
#include "log.h"
#include "plugin_host.h"
#include "plugin_loader.h"
#include "proxy.h"
#include "store.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define CRIERD_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out, "Usage: crierd [--config DIR] [--check-config]\n"
	             "\n"
	             "crier receives Alertmanager and Uptime Robot webhooks, folds alerts into\n"
	             "incidents and tells people through plugins (see README.md).\n"
	             "\n"
	             "Options:\n"
	             "  -c, --config DIR    configuration folder; every *.json in it is read (default: conf.d)\n"
	             "      --check-config  check the configuration and the plugins it names, print what is\n"
	             "                      wrong (file, key, problem) and exit: 0 valid, 1 invalid\n"
	             "  -h, --help          this help\n"
	             "      --version       print the version\n"
	             "\n"
	             "Environment:\n"
	             "  CRIER_STATE_DIR     overrides daemon.state_dir (store, control socket, plugin output)\n"
	             "  CRIER_PLUGIN_DIR    overrides daemon.plugin_dir with one folder (where <plugin>.so files are)\n"
	             "  CRIER_LOG_LEVEL     debug, info (default), warn or error\n"
	             "\n"
	             "Signals: SIGHUP reloads the configuration (queued deliveries are kept);\n"
	             "SIGTERM or SIGINT stop after the deliveries in flight finish.\n"
	             "\n"
	             "Defaults: HTTP on 127.0.0.1:9095, state under ./var, control socket var/crierd.ctl\n"
	             "(crierctl finds it from the project folder with no flags).\n");
}

/* Load every plugin and init+destroy every instance: what --check-config adds
 * to the configuration's own checks. */
static int check_plugins(const config *cfg)
{
	int bad = 0;
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const config_instance *ic = &cfg->instances[i];
		char err[1024];
		plugin_lib *lib = plugin_loader_open(cfg->plugin_dirs, ic->plugin, err, sizeof(err));
		if (!lib) {
			fprintf(stderr, "crierd: %s\n", err);
			bad = 1;
			continue;
		}
		if (plugin_host_check(lib, ic, cfg->state_dir, cfg->config_dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "crierd: %s: plugins.%s.instances.%s: %s\n", ic->file, ic->plugin,
			        strchr(ic->name, '/') + 1, err);
			bad = 1;
		}
		plugin_loader_close(lib);
	}
	return bad ? -1 : 0;
}

static void warn_open_sources(const config *cfg)
{
	/* A trusted proxy's requests are never loopback clients' (http_server.c):
	 * with one on loopback, a source without credentials takes nothing. */
	struct sockaddr_in lo4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int proxied = proxy_trusted(cfg->trusted_proxies, cfg->n_trusted_proxies, (struct sockaddr *)&lo4) ||
	              proxy_trusted(cfg->trusted_proxies, cfg->n_trusted_proxies, (struct sockaddr *)&lo6);

	for (int s = 0; s < CONFIG_SRC_N; s++) {
		if (!auth_unconfigured(&cfg->auth[s]))
			continue;
		if (proxied)
			log_warn("no credentials configured for this source, and loopback is in http.trusted_proxies: "
			         "accepting nothing",
			         " source=%s hint=\"set ingest.%s.auth in the configuration\"", config_source_name(s),
			         config_source_name(s));
		else
			log_warn("no credentials configured for this source: accepting loopback clients only",
			         " source=%s hint=\"set ingest.%s.auth in the configuration\"", config_source_name(s),
			         config_source_name(s));
	}
}

/* Old configurations stay alive until exit: an HTTP handler may still read
 * one after a reload swapped it out. They are small and reloads are rare. */
typedef struct config_list {
	config **v;
	size_t n;
} config_list;

static int keep_config(config_list *l, config *c)
{
	config **grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	l->v = grown;
	l->v[l->n++] = c;
	return 0;
}

/* Load dir and apply it; *applied is the configuration in force (updated on success). */
static void reload(const char *dir, core *c, http_server *http, config_list *configs, const config **applied)
{
	char err[1024];
	log_info("reloading the configuration", " dir=%s", dir);
	config *next = config_load(dir, err, sizeof(err));
	if (!next) {
		log_error("reload refused: the configuration is invalid; the running one stays", " error=%s",
		          log_q(err));
		return;
	}
	if (keep_config(configs, next) < 0) {
		config_free(next);
		log_error("reload refused: out of memory", NULL);
		return;
	}
	const config *cur = *applied;
	if (strcmp(cur->listen_host, next->listen_host) != 0 || cur->listen_port != next->listen_port)
		log_warn("http.listen changed: restart crierd for it to take effect", NULL);
	if (strcmp(cur->state_dir, next->state_dir) != 0)
		log_warn("daemon.state_dir changed: restart crierd for it to take effect", NULL);
	if (core_reload(c, next, err, sizeof(err)) < 0) {
		log_error("reload refused: the channels could not start; the running ones stay", " error=%s",
		          log_q(err));
		return;
	}
	http_server_reload(http, next);
	*applied = next;
	warn_open_sources(next);
	log_info("configuration reloaded", " routes=%zu instances=%zu", next->n_routes, next->n_instances);
}

int main(int argc, char **argv)
{
	/* crierd started again by itself as a plugin host (isolation "process"). */
	if (argc > 1 && strcmp(argv[1], "--plugin-host") == 0)
		return plugin_host_child_main(argc, argv);
	const char *dir = "conf.d";
	int check_only = 0;
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			dir = optarg;
			break;
		case 'C':
			check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("crierd %s (plugin ABI %d..%d)\n", CRIERD_VERSION, PLUGIN_LOADER_ABI_MIN,
			       PLUGIN_LOADER_ABI_MAX);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "crierd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 64;
	}

	char err[1024];
	config *cfg = config_load(dir, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "crierd: %s\n", err);
		return 1;
	}
	if (check_only) {
		int rc = check_plugins(cfg);
		if (rc == 0)
			printf("crierd: configuration in %s is valid: %zu routes, %zu plugin instances\n", dir,
			       cfg->n_routes, cfg->n_instances);
		config_free(cfg);
		return rc == 0 ? 0 : 1;
	}

	/* Block the signals we handle before any thread starts, so they all
	 * inherit the mask and only sigwait() below sees them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = 1;
	config_list configs = {0};
	void *zctx = NULL;
	core *c = NULL;
	http_server *http = NULL;
	const config *applied = cfg;
	if (keep_config(&configs, cfg) < 0) {
		fprintf(stderr, "crierd: out of memory\n");
		config_free(cfg);
		return 1;
	}
	/* Before any thread touches SQLite: it may be set up only then. */
	store_tune_library();
	zctx = zmq_ctx_new();
	if (!zctx) {
		log_error("cannot create the ZeroMQ context", NULL);
		goto out;
	}
	c = core_start(zctx, cfg, err, sizeof(err));
	if (!c) {
		log_error("cannot start", " error=%s", log_q(err));
		goto out;
	}
	http = http_server_start(cfg, c, err, sizeof(err));
	if (!http) {
		log_error("cannot start the HTTP server", " error=%s", log_q(err));
		goto out;
	}
	warn_open_sources(cfg);
	log_info("crierd ready", " version=%s listen=%s:%d state_dir=%s control=%s routes=%zu instances=%zu",
	         CRIERD_VERSION, cfg->listen_host, http_server_port(http), cfg->state_dir, cfg->control_path,
	         cfg->n_routes, cfg->n_instances);

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(dir, c, http, &configs, &applied);
			continue;
		}
		log_info("stopping", " signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	rc = 0;
out:
	/* HTTP first: its handlers wait on the core, which must still run. */
	http_server_stop(http);
	core_stop(c);
	/* A plugin thread stuck in its plugin keeps a socket open, and
	 * zmq_ctx_term would wait for it for ever: exit without it. */
	if (zctx && !plugin_host_abandoned())
		zmq_ctx_term(zctx);
	http_module_cleanup();
	for (size_t i = 0; i < configs.n; i++)
		config_free(configs.v[i]);
	free(configs.v);
	if (rc == 0)
		log_info("crierd stopped", NULL);
	return rc;
}
