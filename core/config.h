/*
 * Configuration: the .json files of conf.d merged, checked and turned into a config
 * struct. Every error names the file, the key path and what is wrong.
 * Secrets ("${ENV}", "file:/path") are resolved here and never printed.
 */
#ifndef CRIER_CONFIG_H
#define CRIER_CONFIG_H

#include "alert.h"
#include "proxy.h"

#include <jansson.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

typedef enum config_source {
	CONFIG_SRC_ALERTMANAGER = 0,
	CONFIG_SRC_UPTIMEROBOT,
	CONFIG_SRC_GENERIC,
	CONFIG_SRC_N
} config_source;

/* Credentials for one ingest source. NULL fields are unset; when all are
 * NULL the source accepts loopback clients only. All strings owned by the config. */
typedef struct config_auth {
	char *token;    /* Bearer header or ?token= */
	char *username; /* basic auth */
	char *password;
} config_auth;

typedef struct config_delivery {
	int max_attempts;
	int64_t max_age_ms;
	int64_t backoff_initial_ms;
	int64_t backoff_max_ms;
} config_delivery;

/* What an instance's "subscribers" key asks for (docs/subscribers.md). */
enum { CONFIG_SUBSCRIBERS_NONE = 0, CONFIG_SUBSCRIBERS_EMAIL = 1, CONFIG_SUBSCRIBERS_PHONE = 2 };

/* Where a plugin instance runs: a thread of crierd, or a child process of
 * its own that a crash in the plugin cannot take crierd down with. */
typedef enum config_isolation { CONFIG_ISOLATION_THREAD = 0, CONFIG_ISOLATION_PROCESS } config_isolation;

typedef struct config_instance {
	char *name;   /* "plugin/instance" */
	char *plugin; /* "webhook" */
	char *file;   /* the configuration file that defines it, for messages */
	/* the instance object without crierd's keys (delivery, recipients, audience, isolation), as JSON text */
	char *config_json;
	json_t *recipients;  /* array of strings, one delivery each; NULL = one delivery per event */
	int audience_public; /* "audience": "public": only public incidents, and their public view (core/audience.h) */
	int subscribers;     /* CONFIG_SUBSCRIBERS_*: one delivery per confirmed subscriber of that kind */
	config_delivery delivery;
	config_isolation isolation;
} config_instance;

/* "subscribers": the public subscription API (docs/subscribers.md). Strings owned by the config. */
typedef struct config_subscribers {
	int enabled;               /* the section is there: the public API answers */
	char *public_url;          /* where people reach crier's /api/v1/ (one trailing slash) */
	char *email_instance;      /* sends the confirmation links; NULL = no email subscriptions */
	char *sms_instance;        /* sends the confirmation codes; NULL = no phone subscriptions */
	int64_t confirm_expiry_ms; /* an unconfirmed subscription lapses after it */
	int rate_burst;            /* subscribe requests a client address may make at once, */
	int rate_per_hour;         /* and how fast that allowance comes back */
} config_subscribers;

typedef struct config_route {
	char *name;
	json_t *events;   /* array of strings, NULL = every event */
	int min_severity; /* alert_severity_rank, 0 = any */
	json_t *labels;   /* object name -> value, NULL = any */
	json_t *to;       /* array of instance names */
} config_route;

/* A component of the public status: affected by incidents whose labels match. */
typedef struct config_component {
	char *name;
	json_t *labels; /* object name -> value, all must equal */
} config_component;

/* One rule of public.when or public.security_when: every condition set holds. */
typedef struct config_match {
	json_t *labels;  /* name -> value that must be equal; NULL = none */
	char **re_names; /* labels_match: label names ... */
	regex_t *re;     /* ... and the POSIX extended regex each value must match */
	size_t n_re;
	int min_severity; /* alert_severity_rank; 0 = any */
	int component;    /* 1: the incident affects a configured component */
} config_match;

typedef struct config {
	char *dir;        /* the folder read, as given */
	char *config_dir; /* the same, absolute (templates live under it) */

	/* public */
	char *status_page_url; /* "https://status.example.com/" (one trailing slash) or NULL */
	config_component *components;
	size_t n_components;
	config_match *public_when; /* any rule matching makes an incident public */
	size_t n_public_when;
	config_match *security_when; /* any rule matching (incident or alert) marks it security */
	size_t n_security_when;
	/* public: the cadence of updates (docs/incidents.md, core/cadence.h) */
	int64_t update_every_ms;       /* remind internal channels after this long without a public update */
	int64_t escalate_after_ms;     /* then escalate; always more than update_every_ms */
	int first_message_human;       /* 1: a person writes the first update; 0: crier posts first_update */
	struct mustache *first_update; /* templates/core/first_update.mustache, compiled; NULL when absent */

	/* watchdog (docs/incidents.md, core/watchdog.h); watchdog_labels NULL = off */
	json_t *watchdog_labels; /* name -> value an alert must all carry to be the Watchdog */
	int64_t watchdog_silent_ms;
	int64_t watchdog_grace_ms; /* after a start, never silent sooner than this */

	/* daemon */
	char *state_dir;    /* absolute */
	char **plugin_dirs; /* absolute, searched in order for <plugin>.so; NULL-terminated */
	char *control_path; /* absolute path of the ipc socket file */

	/* http */
	char *listen_host;
	int listen_port;
	size_t max_body_bytes;
	int ack_timeout_ms;
	int http_threads;           /* HTTP worker threads; 0: one per CPU, at most 4 */
	proxy_net *trusted_proxies; /* owned; whose X-Forwarded-For names the client (proxy.h) */
	size_t n_trusted_proxies;

	/* zmq */
	char *zmq_ingest; /* endpoint or NULL */

	/* store */
	int store_sync_full; /* 0 normal, 1 full */
	int batch_max;
	int checkpoint_pages; /* WAL pages between checkpoints */

	/* incidents */
	json_t *group_by; /* array of label names */
	int64_t hold_ms;
	int64_t postmortem_due_ms; /* a resolved incident's post-mortem reminder after this; 0 = none */
	int postmortem_all;        /* reminders for every incident, not only public ones (docs/postmortems.md) */

	config_delivery delivery; /* defaults */

	/* ingest */
	config_auth auth[CONFIG_SRC_N];
	json_t *ur_services;     /* object monitorID -> service, never NULL */
	config_auth drafts_auth; /* the drafts HTTP API's token; unset = the API refuses (403) */
	config_subscribers subscribers;
	char *ur_severity;
	alert_limits limits;

	config_route *routes;
	size_t n_routes;
	config_instance *instances;
	size_t n_instances;
} config;

/* Load and check the folder. Returns a new config, or NULL with err set
 * (e.g. "conf.d/routes.json: routes[0].to[1]: unknown instance \"slack/ops\""). */
config *config_load(const char *dir, char *err, size_t errlen);
void config_free(config *c);

/* Name of a source, "alertmanager" ... */
const char *config_source_name(config_source s);

/* The instance named name, or NULL. */
const config_instance *config_find_instance(const config *c, const char *name);

#endif
