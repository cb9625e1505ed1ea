/*
 * crier plugin ABI.
 *
 * A plugin is a shared object that exports one symbol, crier_plugin_negotiate().
 * crierd calls it with the range of ABI versions it speaks; the plugin picks
 * one and returns a const table of function pointers built for that version
 * (or NULL when it speaks none of them). The host then checks the version the
 * plugin chose and the mandatory entries, and refuses the file otherwise.
 *
 * Everything a plugin needs from the daemon comes through the host table
 * (crier_host_api): logging, time, the delivery being handled, per-incident
 * state, an HTTP client. Plugins never link against core internals.
 *
 * Threading: each plugin *instance* lives on its own host thread. All calls
 * for one instance (init, deliver, destroy) happen on that thread, one at a
 * time, so an instance needs no locks of its own. Different instances of the
 * same plugin run concurrently: keep no mutable globals.
 *
 * Ownership words used below:
 *   borrowed - valid only for the duration of the call; do not free, copy it
 *              if you need it later.
 *   copied   - the callee copies what you pass; you keep ownership.
 *   new      - the caller owns the result and frees it as documented.
 */
#ifndef CRIER_PLUGIN_H
#define CRIER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ABI versions this header describes. A host offers [min, max].
 *   1  the base table: log, time, the delivery, per-incident state, HTTP.
 *   2  adds recipients, the configuration folder, Mustache templates,
 *      text measures (channel length limits) and drafts (text people
 *      approve before it is published).
 */
#define CRIER_ABI_VERSION     2
#define CRIER_ABI_VERSION_MIN 1

/* Opaque handles. A plugin only ever holds pointers to these. */
typedef struct crier_host crier_host;         /* one per instance, owned by the host */
typedef struct crier_delivery crier_delivery; /* one per deliver() call, owned by the host */
typedef struct crier_instance crier_instance; /* defined by the plugin, owned by the plugin */
typedef struct crier_template crier_template; /* a compiled template, owned by whoever loaded it */

/* How a template's {{name}} values are escaped ({{{name}}} and {{& name}} never are). */
typedef enum crier_escape {
	CRIER_ESCAPE_NONE = 0,  /* plain text: SMS, social posts, text/plain mail */
	CRIER_ESCAPE_HTML = 1,  /* & < > " ' become entities */
	CRIER_ESCAPE_SLACK = 2, /* Slack mrkdwn: & < > become &amp; &lt; &gt; (Slack's own rule) */
	CRIER_ESCAPE_HEADER = 3 /* one mail header line: CR, LF, TAB and other controls become spaces,
	                         * in the values and in the whole result */
} crier_escape;

/* Units a channel counts its length limit in. */
typedef enum crier_measure {
	CRIER_MEASURE_BYTES = 0,      /* UTF-8 bytes */
	CRIER_MEASURE_CODEPOINTS = 1, /* Unicode code points */
	CRIER_MEASURE_GRAPHEMES = 2,  /* user-perceived characters (Bluesky's 300) */
	CRIER_MEASURE_MASTODON = 3,   /* graphemes, every http(s) URL counted as 23 */
	CRIER_MEASURE_X = 4,          /* X's weighted count (CJK and emoji 2), every URL 23 */
	CRIER_MEASURE_GSM7 = 5,       /* GSM 03.38 septets (extension table 2); SIZE_MAX when the
	                               * text has a character GSM-7 cannot carry */
	CRIER_MEASURE_UTF16 = 6       /* UTF-16 code units (UCS-2 SMS) */
} crier_measure;

/* What a delivery came to. */
typedef enum crier_result {
	CRIER_OK = 0,    /* delivered; the core marks it done */
	CRIER_RETRY = 1, /* try again later; the core owns backoff (see retry_after) */
	CRIER_FAIL = 2   /* permanent failure; the core marks it dead at once */
} crier_result;

typedef enum crier_log_level {
	CRIER_LOG_DEBUG = 0,
	CRIER_LOG_INFO = 1,
	CRIER_LOG_WARN = 2,
	CRIER_LOG_ERROR = 3
} crier_log_level;

/* One HTTP header, "Name: value". */
typedef struct crier_http_header {
	const char *name;  /* borrowed */
	const char *value; /* borrowed */
} crier_http_header;

typedef struct crier_http_request {
	const char *method;               /* borrowed; "POST" when NULL */
	const char *url;                  /* borrowed; never logged by the host */
	const crier_http_header *headers; /* borrowed array of n_headers */
	size_t n_headers;
	const char *body; /* borrowed; may be NULL */
	size_t body_len;
	long timeout_ms; /* whole request; 10000 when 0 */
} crier_http_request;

typedef struct crier_http_response {
	long status; /* HTTP status, 0 when no answer came (see error) */
	char *body;  /* new, NUL-terminated, at most 64 KiB; free with http_response_free */
	size_t body_len;
	int64_t retry_after_ms; /* absolute unix ms from a Retry-After header, or on a 429 without one
	                         * from a rate-limit reset header (Mastodon's X-RateLimit-Reset,
	                         * X's x-rate-limit-reset, Bluesky's RateLimit-Reset); 0 if none */
	char error[256];        /* transport error text when status == 0 */
} crier_http_response;

/*
 * The host table. Handed to init(); valid for the instance's whole life.
 * Entries are only ever appended: a plugin built for version N finds every
 * entry of version N where it expects it.
 */
typedef struct crier_host_api {
	unsigned abi_version; /* the version the host agreed to */

	/* Log one line on the daemon's log, tagged with the instance name.
	 * msg is copied. Never pass secrets. */
	void (*log)(crier_host *host, crier_log_level level, const char *msg);

	/* Wall clock, unix milliseconds. */
	int64_t (*now_ms)(void);

	/* "plugin/instance", e.g. "webhook/ops". Borrowed, lives as long as host. */
	const char *(*instance_name)(const crier_host *host);

	/* The daemon's state directory (absolute path). Borrowed, lives as long as host. */
	const char *(*state_dir)(const crier_host *host);

	/* The event being delivered, as a JSON document (see docs/events.md).
	 * Borrowed, valid during deliver(). */
	const char *(*delivery_json)(const crier_delivery *d);

	/* Stable idempotency key of this (event, instance) pair: the same on
	 * every retry and across restarts. Borrowed, valid during deliver(). */
	const char *(*delivery_key)(const crier_delivery *d);

	/* 1 on the first attempt, 2 on the first retry, ... */
	unsigned (*delivery_attempt)(const crier_delivery *d);

	/* The per-incident state this instance stored with set_state() for the
	 * incident of this delivery, or NULL. Borrowed, valid during deliver(). */
	const char *(*delivery_state)(const crier_delivery *d);

	/* Store a small per-incident state (at most 4 KiB, e.g. a Slack thread
	 * ts); handed back with the next delivery for the same incident. The
	 * string is copied. Kept only when deliver() returns CRIER_OK. */
	int (*set_state)(crier_delivery *d, const char *state);

	/* With CRIER_RETRY: do not try again before unix ms not_before (from a
	 * Retry-After header, say). The core still applies its own backoff. */
	void (*retry_after)(crier_delivery *d, int64_t not_before_ms);

	/* Say why a delivery did not succeed (shown by crierctl). Copied. */
	void (*set_error)(crier_delivery *d, const char *reason);

	/* Perform an HTTP request with libcurl on the instance's own connection
	 * (kept alive between calls). Returns 0 when an HTTP answer came (any
	 * status), -1 on transport failure (resp->error says why). resp is
	 * filled in both cases and must be released with http_response_free. */
	int (*http_request)(crier_host *host, const crier_http_request *req, crier_http_response *resp);
	void (*http_response_free)(crier_http_response *resp);

	/* ---- version 2 ---------------------------------------------------- */

	/* The recipient this delivery is for, or NULL. An instance whose
	 * configuration has "recipients": [...] gets one delivery per recipient
	 * for each event (each with its own retries, idempotency key and dead
	 * state); the host reads that key, the plugin never sees it in its
	 * config_json. Borrowed, valid during deliver(). */
	const char *(*delivery_recipient)(const crier_delivery *d);

	/* The configuration folder (absolute), where conf.d/templates/ lives.
	 * Borrowed, lives as long as host. */
	const char *(*config_dir)(const crier_host *host);

	/*
	 * Compile a Mustache template (the full specification: variables,
	 * sections, inverted sections, comments, partials, set delimiters).
	 *   src == NULL           <config_dir>/templates/<plugin>/<name>.mustache
	 *   src = "file:PATH"     that file (relative to config_dir)
	 *   anything else         src is the template text itself
	 * Partials {{> p}} come from <config_dir>/templates/<plugin>/p.mustache,
	 * then <config_dir>/templates/p.mustache. name is used in messages.
	 * Returns a new template (free with template_free) or NULL with err
	 * naming the template, the line and the problem.
	 */
	crier_template *(*template_load)(crier_host *host, const char *name, const char *src, char *err, size_t errlen);

	/* Render against a JSON context (usually delivery_json(d)), escaping
	 * values for esc. Returns a new NUL-terminated string (free with free())
	 * or NULL with err set. */
	char *(*template_render)(const crier_template *t, const char *context_json, crier_escape esc, char *err,
	                         size_t errlen);
	void (*template_free)(crier_template *t);

	/* Length of utf8 in the units of m (see crier_measure). */
	size_t (*text_measure)(const char *utf8, crier_measure m);

	/*
	 * Fit utf8 into limit units of m. Text that fits comes back unchanged.
	 * Otherwise it is cut at a word boundary and ends with an ellipsis; when
	 * keep (say, the incident's link) occurs in the text, it is taken out
	 * before cutting and put back, whole, after the ellipsis. Returns a new
	 * string (free with free()), or NULL when even keep alone does not fit.
	 */
	char *(*text_fit)(const char *utf8, crier_measure m, size_t limit, const char *keep);

	/*
	 * Offer text for people to approve before it goes out (a social post):
	 * the core keeps it as a pending draft of this instance for the
	 * delivery's incident and tells the routes ("draft_created"). Once a
	 * person approves it (crierctl drafts approve, or the drafts HTTP API),
	 * this instance gets a "draft_approved" event whose "draft" object holds
	 * the final text; that delivery is the publication, and its result makes
	 * the draft published or failed (docs/drafts.md).
	 *   network   where it would go, [a-z0-9_-]{1,32}, e.g. "mastodon"
	 *   text      UTF-8, at most 16 KiB
	 *   measure   and limit: the channel's length rule. The host measures text
	 *             itself (and every later edit the same way) and refuses text
	 *             over the limit.
	 * network and text are copied. Kept only when deliver() returns
	 * CRIER_OK; one draft per delivery (a second call replaces the first).
	 * Returns 0, or -1 when the text is empty, not UTF-8, too long or over
	 * the limit, the network name is malformed, or memory ran out.
	 */
	int (*draft_submit)(crier_delivery *d, const char *network, const char *text, crier_measure measure,
	                    size_t limit);
} crier_host_api;

/*
 * The plugin table. Returned by crier_plugin_negotiate(); must be static
 * const data of the plugin (the host never frees it).
 */
typedef struct crier_plugin {
	unsigned abi_version;    /* the version the plugin chose from the offered range */
	const char *name;        /* e.g. "webhook"; must match the folder/config name */
	const char *description; /* one line, for crierctl and logs */

	/*
	 * Create an instance from its configuration object (JSON text, borrowed).
	 * Reject unknown keys and bad values: write a message naming the key into
	 * err (errlen bytes, always NUL-terminated) and return -1. Must not do
	 * network I/O or write files: --check-config calls init then destroy.
	 * On success store the new instance in *out (owned by the plugin until
	 * destroy) and return 0. Mandatory.
	 */
	int (*init)(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
	            char *err, size_t errlen);

	/* Deliver one event. Mandatory. */
	crier_result (*deliver)(crier_instance *inst, crier_delivery *d);

	/* Free the instance. Mandatory. */
	void (*destroy)(crier_instance *inst);
} crier_plugin;

/*
 * The one exported symbol. The host offers [host_min, host_max]; return the
 * table for the highest version you support in that range, or NULL.
 */
typedef const crier_plugin *(*crier_plugin_negotiate_fn)(unsigned host_min, unsigned host_max);
#define CRIER_PLUGIN_SYMBOL "crier_plugin_negotiate"

#if defined(__GNUC__)
#define CRIER_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CRIER_PLUGIN_EXPORT
#endif

/*
 * For a plugin built for exactly one ABI version (the usual case): defines
 * and exports crier_plugin_negotiate() for its table. A plugin that supports
 * several versions writes its own negotiate and picks the highest offered.
 *
 *   static const crier_plugin my_plugin = {.abi_version = CRIER_ABI_VERSION, ...};
 *   CRIER_PLUGIN_DEFINE(my_plugin)
 */
#define CRIER_PLUGIN_DEFINE(table)                                                                                     \
	CRIER_PLUGIN_EXPORT const crier_plugin *crier_plugin_negotiate(unsigned host_min, unsigned host_max)           \
	{                                                                                                              \
		return (host_min <= (table).abi_version && (table).abi_version <= host_max) ? &(table) : NULL;         \
	}

#ifdef __cplusplus
}
#endif
#endif /* CRIER_PLUGIN_H */
