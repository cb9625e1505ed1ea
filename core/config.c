/*
 * Configuration loading: read the .json files of conf.d in name order, merge their
 * top-level keys, check every core section strictly and turn it into a
 * config struct. The first problem found is reported as
 * "<file>: <key.path>: <what is wrong>"; values that may be secrets are
 * never copied into a message.
 */
#include "config.h"

#include "checkpoint.h"
#include "mustache.h"
#include "strbuf.h"
#include "text.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define KEYPATH_LEN 512
/* Secret files are tokens and passwords, not documents. */
#define SECRET_FILE_MAX 65536
/* Folders daemon.plugin_dir may list. */
#define PLUGIN_DIRS_MAX 16

enum {
	TOP_DAEMON,
	TOP_HTTP,
	TOP_ZMQ,
	TOP_STORE,
	TOP_INCIDENTS,
	TOP_DELIVERY,
	TOP_INGEST,
	TOP_ROUTES,
	TOP_PLUGINS,
	TOP_PUBLIC,
	TOP_DRAFTS,
	TOP_SUBSCRIBERS,
	TOP_WATCHDOG,
	TOP_N
};

static const char *const top_keys[] = {"daemon", "http",    "zmq",    "store",  "incidents",   "delivery", "ingest",
                                       "routes", "plugins", "public", "drafts", "subscribers", "watchdog", NULL};
static const char *const drafts_keys[] = {"auth", NULL};
static const char *const drafts_auth_keys[] = {"token", NULL};
static const char *const subscribers_keys[] = {
    "public_url", "email_instance", "sms_instance", "confirm_expiry_seconds", "rate_limit", NULL};
static const char *const rate_limit_keys[] = {"burst", "per_hour", NULL};
static const char *const public_keys[] = {
    "status_page_url",        "components",    "when", "security_when", "update_every_minutes",
    "escalate_after_minutes", "first_message", NULL};
static const char *const watchdog_keys[] = {"labels", "silent_after_seconds", "startup_grace_seconds", NULL};
static const char *const component_keys[] = {"name", "labels", NULL};
static const char *const match_keys[] = {"labels", "labels_match", "min_severity", "component", NULL};
static const char *const instance_audiences[] = {"internal", "public", NULL};
static const char *const daemon_keys[] = {"state_dir", "plugin_dir", "control", NULL};
static const char *const http_keys[] = {"listen",  "max_body_bytes",  "ack_timeout_ms",
                                        "threads", "trusted_proxies", NULL};
static const char *const zmq_keys[] = {"ingest", NULL};
static const char *const store_keys[] = {"synchronous", "batch_max", "checkpoint_pages", NULL};
static const char *const incidents_keys[] = {"group_by", "hold_seconds", "postmortem_due_seconds", "postmortem_for",
                                             NULL};
static const char *const postmortem_for[] = {"public", "all", NULL};
static const char *const delivery_keys[] = {"max_attempts", "max_age_seconds", "backoff_initial_ms", "backoff_max_ms",
                                            NULL};
static const char *const ingest_keys[] = {"alertmanager", "uptimerobot", "generic", NULL};
static const char *const source_keys[] = {"auth", NULL};
static const char *const uptimerobot_keys[] = {"auth", "services", "severity", NULL};
static const char *const auth_keys[] = {"token", "username", "password", NULL};
static const char *const route_keys[] = {"name", "events", "min_severity", "labels", "to", NULL};
static const char *const plugin_keys[] = {"instances", NULL};
static const char *const event_types[] = {"opened",
                                          "alert_joined",
                                          "alert_resolved",
                                          "severity_raised",
                                          "state_changed",
                                          "acknowledged",
                                          "update",
                                          "resolved",
                                          "draft_created",
                                          "draft_approved",
                                          "draft_rejected",
                                          "draft_published",
                                          "draft_failed",
                                          "reminder",
                                          "escalation",
                                          "awaiting_first_update",
                                          "postmortem_published",
                                          "postmortem_due",
                                          NULL};
static const char *const severities[] = {"info", "warning", "major", "critical", NULL};

static const char *const source_names[CONFIG_SRC_N] = {"alertmanager", "uptimerobot", "generic"};

typedef struct loader {
	const char *dir;
	char **files; /* "dir/name" of every file read, owned */
	size_t n_files;
	json_t *top[TOP_N];          /* merged sections, owned references */
	const char *top_file[TOP_N]; /* the file each section came from, borrowed from files */
	json_t *plugins;             /* merged plugins: name -> plugin object, owned */
	json_t *plugin_file;         /* name -> integer index into files, owned */
	char *err;
	size_t errlen;
} loader;

static int fail(loader *l, const char *file, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(loader *l, const char *file, const char *path, const char *fmt, ...)
{
	int n;
	va_list ap;

	if (!l->err || l->errlen == 0)
		return -1;
	if (path && *path)
		n = snprintf(l->err, l->errlen, "%s: %s: ", file, path);
	else
		n = snprintf(l->err, l->errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= l->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_oom(loader *l)
{
	return fail(l, l->dir, NULL, "out of memory");
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* A key path cut short still names where the problem is; mark the cut so it is not mistaken for a key. */
static const char *mark_cut(char *buf, size_t n, int written)
{
	if ((written < 0 || (size_t)written >= n) && n > 4)
		memcpy(buf + n - 4, "...", 4);
	return buf;
}

static const char *key_path(char *buf, size_t n, const char *base, const char *key)
{
	if (base && *base)
		return mark_cut(buf, n, snprintf(buf, n, "%s.%s", base, key));
	return mark_cut(buf, n, snprintf(buf, n, "%s", key));
}

static const char *index_path(char *buf, size_t n, const char *base, size_t i)
{
	return mark_cut(buf, n, snprintf(buf, n, "%s[%zu]", base, i));
}

static int check_keys(loader *l, const char *file, const char *path, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;
	char list[256];

	json_object_foreach(obj, key, v)
	{
		if (!in_list(key, known)) {
			text_join(list, sizeof list, known);
			return fail(l, file, path, "unknown key \"%s\" (known: %s)", key, list);
		}
	}
	return 0;
}

/* Plugin and instance names: short, so keys and paths built from them stay bounded. */
#define NAME_MAX_LEN 64

static int check_name(const char *s)
{
	if (!*s || strlen(s) > NAME_MAX_LEN)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/*
 * Typed lookups of obj[key]. Each returns 0 when the key is absent (out left
 * alone), 1 when present and valid, -1 with the error set.
 */
static int opt_object(loader *l, const char *file, const char *base, json_t *obj, const char *key, json_t **out)
{
	char p[KEYPATH_LEN];
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_object(v))
		return fail(l, file, key_path(p, sizeof p, base, key), "expected an object, got %s", type_name(v));
	*out = v;
	return 1;
}

static int opt_string(loader *l, const char *file, const char *base, json_t *obj, const char *key, const char **out)
{
	char p[KEYPATH_LEN];
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(l, file, key_path(p, sizeof p, base, key), "expected a string, got %s", type_name(v));
	if (json_string_length(v) == 0)
		return fail(l, file, key_path(p, sizeof p, base, key), "must not be empty");
	*out = json_string_value(v);
	return 1;
}

static int opt_int(loader *l, const char *file, const char *base, json_t *obj, const char *key, long long min,
                   long long max, long long *out)
{
	char p[KEYPATH_LEN];
	json_t *v = json_object_get(obj, key);
	long long x;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return fail(l, file, key_path(p, sizeof p, base, key), "expected an integer, got %s", type_name(v));
	x = json_integer_value(v);
	if (x < min || x > max)
		return fail(l, file, key_path(p, sizeof p, base, key), "must be between %lld and %lld, got %lld", min,
		            max, x);
	*out = x;
	return 1;
}

/* A duration in units ("seconds", unit_ms 1000; "minutes", 60000). It may
 * carry a fraction ("hold_seconds": 0.5), which tests and demos use. */
static int opt_duration_ms(loader *l, const char *file, const char *base, json_t *obj, const char *key,
                           const char *units, double unit_ms, double min, double max, int64_t *out_ms)
{
	char p[KEYPATH_LEN];
	json_t *v = json_object_get(obj, key);
	double x;

	if (!v)
		return 0;
	if (!json_is_number(v))
		return fail(l, file, key_path(p, sizeof p, base, key), "expected a number of %s, got %s", units,
		            type_name(v));
	x = json_number_value(v);
	if (x < min || x > max)
		return fail(l, file, key_path(p, sizeof p, base, key), "must be between %g and %g %s, got %g", min, max,
		            units, x);
	*out_ms = (int64_t)(x * unit_ms + 0.5);
	return 1;
}

static int opt_seconds_ms(loader *l, const char *file, const char *base, json_t *obj, const char *key, double min,
                          double max, int64_t *out_ms)
{
	return opt_duration_ms(l, file, base, obj, key, "seconds", 1000.0, min, max, out_ms);
}

static int opt_severity(loader *l, const char *file, const char *base, json_t *obj, const char *key, const char **out)
{
	char p[KEYPATH_LEN], list[128];
	const char *s = NULL;
	int r = opt_string(l, file, base, obj, key, &s);

	if (r <= 0)
		return r;
	if (!in_list(s, severities)) {
		text_join(list, sizeof list, severities);
		return fail(l, file, key_path(p, sizeof p, base, key), "unknown severity \"%s\" (known: %s)", s, list);
	}
	*out = s;
	return 1;
}

/* ---- secrets ---- */

static int is_env_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

static int read_secret_file(loader *l, const char *file, const char *path, const char *fpath, char **out)
{
	size_t len, n;
	char *buf = strbuf_read_file(fpath, SECRET_FILE_MAX, &len, NULL);

	if (!buf) {
		if (errno == ENOMEM)
			return fail_oom(l);
		if (errno == EFBIG)
			return fail(l, file, path, "secret file \"%s\" is larger than %d bytes", fpath,
			            SECRET_FILE_MAX);
		return fail(l, file, path, "cannot read secret file \"%s\": %s", fpath, strerror(errno));
	}
	for (n = len; n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r');)
		n--;
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		explicit_bzero(buf, len);
		free(buf);
		return fail(l, file, path, "secret file \"%s\" contains a NUL byte", fpath);
	}
	*out = buf;
	return 0;
}

/*
 * Resolve one value that may be a secret: "${NAME}" from the environment,
 * "file:/path" from a file, anything else literally. *out is new.
 */
static int secret_resolve(loader *l, const char *file, const char *path, const char *in, char **out)
{
	size_t len = strlen(in);

	*out = NULL;
	if (len >= 2 && in[0] == '$' && in[1] == '{') {
		const char *v;
		char name[256];

		if (in[len - 1] != '}' || !is_env_name(in + 2, len - 3) || len - 3 >= sizeof name)
			return fail(
			    l, file, path,
			    "malformed variable reference (expected \"${NAME}\", NAME made of letters, digits and _)");
		memcpy(name, in + 2, len - 3);
		name[len - 3] = '\0';
		v = getenv(name);
		if (!v)
			return fail(l, file, path, "environment variable %s is not set", name);
		*out = strdup(v);
	} else if (strncmp(in, "file:", 5) == 0) {
		if (!in[5])
			return fail(l, file, path, "\"file:\" needs a path after it");
		return read_secret_file(l, file, path, in + 5, out);
	} else {
		*out = strdup(in);
	}
	if (!*out)
		return fail_oom(l);
	return 0;
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Replace every string inside v (recursively) by its resolved secret. */
/* A string of an instance's settings with its secret resolved: new, or NULL
 * with the error reported. */
static json_t *resolve_leaf(loader *l, const char *file, const char *p, const json_t *str)
{
	char *s = NULL;
	if (secret_resolve(l, file, p, json_string_value(str), &s) < 0)
		return NULL;
	json_t *ns = json_string(s);
	secret_free(s);
	if (!ns)
		fail(l, file, p, "the secret's value is not valid UTF-8 text");
	return ns;
}

static int resolve_tree(loader *l, const char *file, const char *path, json_t *v)
{
	char p[KEYPATH_LEN];

	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			const char *key = json_object_iter_key(it);
			json_t *child = json_object_iter_value(it);

			key_path(p, sizeof p, path, key);
			if (json_is_string(child)) {
				json_t *ns = resolve_leaf(l, file, p, child);
				if (!ns)
					return -1;
				if (json_object_iter_set_new(v, it, ns) < 0)
					return fail_oom(l);
			} else if (resolve_tree(l, file, p, child) < 0) {
				return -1;
			}
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *child = json_array_get(v, i);

			index_path(p, sizeof p, path, i);
			if (json_is_string(child)) {
				json_t *ns = resolve_leaf(l, file, p, child);
				if (!ns)
					return -1;
				if (json_array_set_new(v, i, ns) < 0)
					return fail_oom(l);
			} else if (resolve_tree(l, file, p, child) < 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* ---- paths ---- */

/* Absolute, textually tidied path (no "//", "/./" or trailing "/"); the target need not exist. */
static char *abs_path(const char *p)
{
	char *cwd = NULL, *raw = NULL, *out = NULL, *save = NULL, *seg;
	size_t used = 0, cap;

	if (p[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return NULL;
		if (asprintf(&raw, "%s/%s", cwd, p) < 0)
			raw = NULL;
	} else {
		raw = strdup(p);
	}
	if (!raw)
		goto out;
	cap = strlen(raw) + 2;
	out = malloc(cap);
	if (!out)
		goto out;
	for (seg = strtok_r(raw, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		used += (size_t)snprintf(out + used, cap - used, "/%s", seg);
	}
	if (used == 0)
		strcpy(out, "/");
out:
	free(cwd);
	free(raw);
	return out;
}

/* ---- reading and merging files ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(loader *l)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;
	size_t dlen = strlen(l->dir);
	const char *sep = (dlen > 0 && l->dir[dlen - 1] == '/') ? "" : "/";

	d = opendir(l->dir);
	if (!d)
		return fail(l, l->dir, NULL, "cannot open the configuration folder: %s", strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *full;
		struct stat st;

		/* Hidden files are editor leftovers, not configuration. */
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		if (asprintf(&full, "%s%s%s", l->dir, sep, e->d_name) < 0) {
			fail_oom(l);
			goto out;
		}
		/* Folders (conf.d/examples/) are never read, even when named *.json. */
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nn = realloc(names, ncap * sizeof *nn);
			if (!nn) {
				free(full);
				fail_oom(l);
				goto out;
			}
			names = nn;
			cap = ncap;
		}
		names[n++] = full;
	}
	if (n == 0) {
		fail(l, l->dir, NULL, "no *.json files in %s", l->dir);
		goto out;
	}
	qsort(names, n, sizeof *names, name_cmp);
	l->files = names;
	l->n_files = n;
	names = NULL;
	rc = 0;
out:
	if (names) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	closedir(d);
	return rc;
}

/*
 * jansson quotes the token it stopped at; when that token is a string it may
 * be an inline secret, so only punctuation is kept as context.
 */
static void scrub_parse_error(const char *text, char *out, size_t n)
{
	const char *near = strstr(text, " near '");

	if (!near) {
		snprintf(out, n, "%s", text);
		return;
	}
	const char *tok = near + 7;
	size_t toklen = strlen(tok);
	if (toklen == 2 && tok[1] == '\'' && ispunct((unsigned char)tok[0]) && tok[0] != '"')
		snprintf(out, n, "%s", text);
	else if (tok[0] == '"')
		snprintf(out, n, "%.*s near a string", (int)(near - text), text);
	else
		snprintf(out, n, "%.*s", (int)(near - text), text);
}

static int read_json_file(loader *l, const char *file, json_t **out)
{
	size_t len;
	char *buf = strbuf_read_file(file, SIZE_MAX, &len, NULL);
	json_error_t jerr;
	int rc = -1;

	if (!buf)
		return errno == ENOMEM ? fail_oom(l) : fail(l, file, NULL, "cannot read: %s", strerror(errno));
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out) {
		char text[JSON_ERROR_TEXT_LENGTH];

		scrub_parse_error(jerr.text, text, sizeof text);
		if (jerr.line > 0)
			fail(l, file, NULL, "line %d column %d: %s", jerr.line, jerr.column, text);
		else
			fail(l, file, NULL, "%s", text);
		goto out;
	}
	rc = 0;
out:
	/* The text may hold inline secrets. */
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

static int merge_file(loader *l, size_t fi, json_t *doc)
{
	const char *file = l->files[fi];
	const char *key;
	json_t *v;
	char list[256], p[KEYPATH_LEN];

	if (!json_is_object(doc))
		return fail(l, file, NULL, "expected a JSON object at the top level, got %s", type_name(doc));
	json_object_foreach(doc, key, v)
	{
		int t;

		for (t = 0; t < TOP_N; t++)
			if (strcmp(key, top_keys[t]) == 0)
				break;
		if (t == TOP_N) {
			text_join(list, sizeof list, top_keys);
			return fail(l, file, NULL, "unknown top-level key \"%s\" (known: %s)", key, list);
		}
		if (t == TOP_PLUGINS) {
			const char *pname;
			json_t *pv;

			if (!json_is_object(v))
				return fail(l, file, "plugins", "expected an object, got %s", type_name(v));
			json_object_foreach(v, pname, pv)
			{
				json_t *prev = json_object_get(l->plugin_file, pname);

				if (prev)
					return fail(l, file, key_path(p, sizeof p, "plugins", pname),
					            "plugin \"%s\" is already configured in %s", pname,
					            l->files[json_integer_value(prev)]);
				if (json_object_set(l->plugins, pname, pv) < 0 ||
				    json_object_set_new(l->plugin_file, pname, json_integer((json_int_t)fi)) < 0)
					return fail_oom(l);
			}
			continue;
		}
		if (l->top[t])
			return fail(l, file, key, "already set in %s (a top-level key may appear in only one file)",
			            l->top_file[t]);
		l->top[t] = json_incref(v);
		l->top_file[t] = file;
	}
	return 0;
}

/* The section's value after a type check, or NULL when absent (*rc = 0) or wrong (*rc = -1). */
static json_t *section(loader *l, int t, int want_array, int *rc)
{
	json_t *v = l->top[t];

	*rc = 0;
	if (!v)
		return NULL;
	if (want_array ? !json_is_array(v) : !json_is_object(v)) {
		*rc = fail(l, l->top_file[t], top_keys[t], "expected %s, got %s", want_array ? "an array" : "an object",
		           type_name(v));
		return NULL;
	}
	return v;
}

/* ---- sections ---- */

/*
 * daemon.plugin_dir: one folder, or an array of them searched in order (the
 * shipped plugins and a team's own). Fills c->plugin_dirs (absolute,
 * NULL-terminated; config_free releases a partial one).
 */
static int parse_plugin_dirs(loader *l, config *c, const char *file, json_t *d)
{
	json_t *v = json_object_get(d, "plugin_dir");
	const char *env = getenv("CRIER_PLUGIN_DIR");
	const char *key = "daemon.plugin_dir", *one = NULL;
	char p[KEYPATH_LEN];
	size_t n = 1;

	if (env && *env) {
		one = env;
		key = "daemon.plugin_dir (from CRIER_PLUGIN_DIR)";
	} else if (!v) {
		one = "build/plugins";
	} else if (json_is_string(v)) {
		one = json_string_value(v);
	} else if (!json_is_array(v)) {
		return fail(l, file, key, "expected a folder or an array of folders, got %s", type_name(v));
	} else if ((n = json_array_size(v)) == 0 || n > PLUGIN_DIRS_MAX) {
		return fail(l, file, key, "expected 1 to %d folders, got %zu", PLUGIN_DIRS_MAX, n);
	}
	c->plugin_dirs = calloc(n + 1, sizeof(*c->plugin_dirs));
	if (!c->plugin_dirs)
		return fail_oom(l);
	for (size_t i = 0; i < n; i++) {
		const char *dir = one, *at = key;
		if (!one) {
			json_t *e = json_array_get(v, i);
			at = index_path(p, sizeof p, key, i);
			if (!json_is_string(e))
				return fail(l, file, at, "expected a string, got %s", type_name(e));
			dir = json_string_value(e);
		}
		if (!*dir)
			return fail(l, file, at, "must not be empty");
		c->plugin_dirs[i] = abs_path(dir);
		if (!c->plugin_dirs[i])
			return fail(l, file, at, "cannot make an absolute path: %s", strerror(errno));
	}
	return 0;
}

static int parse_daemon(loader *l, config *c)
{
	int rc;
	json_t *d = section(l, TOP_DAEMON, 0, &rc);
	const char *file = l->top_file[TOP_DAEMON] ? l->top_file[TOP_DAEMON] : l->dir;
	const char *state = "var", *control = "crierd.ctl", *env;
	const char *state_key = "daemon.state_dir";
	size_t max_sun = sizeof(((struct sockaddr_un *)0)->sun_path);

	if (rc < 0)
		return -1;
	if (d) {
		if (check_keys(l, file, "daemon", d, daemon_keys) < 0 ||
		    opt_string(l, file, "daemon", d, "state_dir", &state) < 0 ||
		    opt_string(l, file, "daemon", d, "control", &control) < 0)
			return -1;
	}
	if (parse_plugin_dirs(l, c, file, d) < 0)
		return -1;
	env = getenv("CRIER_STATE_DIR");
	if (env && *env) {
		state = env;
		state_key = "daemon.state_dir (from CRIER_STATE_DIR)";
	}
	c->state_dir = abs_path(state);
	if (!c->state_dir)
		return fail(l, file, state_key, "cannot make an absolute path: %s", strerror(errno));
	if (control[0] == '/') {
		c->control_path = strdup(control);
	} else if (asprintf(&c->control_path, "%s%s%s", c->state_dir, strcmp(c->state_dir, "/") ? "/" : "", control) <
	           0) {
		c->control_path = NULL;
	}
	if (!c->control_path)
		return fail_oom(l);
	/* zmq_bind on ipc:// fails with a bare ENAMETOOLONG past sun_path; say it here instead. */
	if (strlen(c->control_path) >= max_sun)
		return fail(l, file, "daemon.control",
		            "socket path \"%s\" is %zu bytes long; ipc paths must be shorter than %zu bytes (choose a "
		            "shorter state_dir)",
		            c->control_path, strlen(c->control_path), max_sun);
	return 0;
}

static int parse_listen(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':'), *h = s, *p;
	size_t hlen;
	long v = 0;

	if (!colon || colon == s)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		/* "[::1]:9095" */
		if (hlen < 3 || s[hlen - 1] != ']')
			return -1;
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen)) {
		return -1; /* a bare IPv6 address is ambiguous */
	}
	p = colon + 1;
	if (!*p || strlen(p) > 5)
		return -1;
	for (const char *q = p; *q; q++) {
		if (!isdigit((unsigned char)*q))
			return -1;
		v = v * 10 + (*q - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*host = strndup(h, hlen);
	*port = (int)v;
	return *host ? 0 : -2;
}

/* http.trusted_proxies: addresses or networks whose X-Forwarded-For names
 * the client (proxy.h). */
static int parse_trusted_proxies(loader *l, const char *file, json_t *v, config *c)
{
	size_t i;
	json_t *e;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(l, file, "http.trusted_proxies", "expected an array of addresses or networks, got %s",
		            type_name(v));
	if (json_array_size(v) == 0)
		return 0;
	c->trusted_proxies = calloc(json_array_size(v), sizeof(*c->trusted_proxies));
	if (!c->trusted_proxies)
		return fail_oom(l);
	json_array_foreach(v, i, e)
	{
		char got[80];

		if (json_is_string(e) && proxy_net_parse(json_string_value(e), &c->trusted_proxies[i]) == 0) {
			c->n_trusted_proxies++;
			continue;
		}
		if (json_is_string(e))
			snprintf(got, sizeof(got), "\"%.60s\"", json_string_value(e));
		else
			snprintf(got, sizeof(got), "%s", type_name(e));
		return fail(l, file, "http.trusted_proxies",
		            "entry %zu: expected an address or network (\"10.0.0.0/8\", \"::1\"), got %s", i, got);
	}
	return 0;
}

static int parse_http(loader *l, config *c)
{
	int rc;
	json_t *h = section(l, TOP_HTTP, 0, &rc);
	const char *file = l->top_file[TOP_HTTP];
	const char *listen = "127.0.0.1:9095";
	long long body = 1048576, ack = 10000, threads = 0;

	if (rc < 0)
		return -1;
	if (h) {
		if (check_keys(l, file, "http", h, http_keys) < 0 ||
		    opt_string(l, file, "http", h, "listen", &listen) < 0 ||
		    opt_int(l, file, "http", h, "max_body_bytes", 1, 1LL << 30, &body) < 0 ||
		    opt_int(l, file, "http", h, "ack_timeout_ms", 1, 3600000, &ack) < 0 ||
		    opt_int(l, file, "http", h, "threads", 0, 16, &threads) < 0)
			return -1;
	}
	rc = parse_listen(listen, &c->listen_host, &c->listen_port);
	if (rc == -2)
		return fail_oom(l);
	if (rc < 0)
		return fail(l, file, "http.listen", "expected \"host:port\", got \"%s\"", listen);
	c->max_body_bytes = (size_t)body;
	c->ack_timeout_ms = (int)ack;
	c->http_threads = (int)threads;
	return parse_trusted_proxies(l, file, json_object_get(h, "trusted_proxies"), c);
}

static int parse_zmq(loader *l, config *c)
{
	int rc;
	json_t *z = section(l, TOP_ZMQ, 0, &rc), *v;
	const char *file = l->top_file[TOP_ZMQ];
	const char *ep;

	if (rc < 0)
		return -1;
	if (!z)
		return 0;
	if (check_keys(l, file, "zmq", z, zmq_keys) < 0)
		return -1;
	v = json_object_get(z, "ingest");
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(l, file, "zmq.ingest", "expected a string or null, got %s", type_name(v));
	ep = json_string_value(v);
	if ((strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0) || !ep[6])
		return fail(l, file, "zmq.ingest",
		            "expected a \"tcp://host:port\" or \"ipc:///path\" endpoint, got \"%s\"", ep);
	/* The socket has no authentication of its own (unlike HTTP ingest): only
	 * this machine may reach it, through file permissions or loopback. */
	if (strncmp(ep, "tcp://", 6) == 0 && strncmp(ep + 6, "127.", 4) != 0 &&
	    strncmp(ep + 6, "localhost:", 10) != 0 && strncmp(ep + 6, "[::1]:", 6) != 0)
		return fail(l, file, "zmq.ingest",
		            "\"%s\" is not a loopback address; the ZeroMQ endpoint has no authentication, so use "
		            "ipc:// or tcp://127.0.0.1:PORT (put a relay in front for remote producers)",
		            ep);
	c->zmq_ingest = strdup(ep);
	return c->zmq_ingest ? 0 : fail_oom(l);
}

/* An object of string values (labels to match); NULL when absent. */
static int parse_label_map(loader *l, const char *file, const char *base, json_t *obj, json_t **out)
{
	char p[KEYPATH_LEN];
	const char *k;
	json_t *v;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return fail(l, file, base, "expected an object of label values, got %s", type_name(obj));
	/* {} would match every incident: crier's own alerts and all. */
	if (json_object_size(obj) == 0)
		return fail(l, file, base, "expected at least one label (an empty set matches every incident)");
	json_object_foreach(obj, k, v)
	{
		key_path(p, sizeof p, base, k);
		if (!*k)
			return fail(l, file, base, "a label name must not be empty");
		if (!json_is_string(v))
			return fail(l, file, p, "expected a string, got %s", type_name(v));
	}
	*out = json_deep_copy(obj);
	return *out ? 0 : fail_oom(l);
}

static void match_free(config_match *m)
{
	json_decref(m->labels);
	for (size_t i = 0; i < m->n_re; i++) {
		free(m->re_names[i]);
		regfree(&m->re[i]);
	}
	free(m->re_names);
	free(m->re);
}

static int parse_match(loader *l, const char *file, const char *base, json_t *r, config_match *m)
{
	char p[KEYPATH_LEN], rp[KEYPATH_LEN];
	const char *sev = NULL, *k;
	json_t *v, *lm;

	if (!json_is_object(r))
		return fail(l, file, base, "expected an object, got %s", type_name(r));
	if (check_keys(l, file, base, r, match_keys) < 0 || opt_severity(l, file, base, r, "min_severity", &sev) < 0 ||
	    parse_label_map(l, file, key_path(p, sizeof p, base, "labels"), json_object_get(r, "labels"), &m->labels) <
	        0)
		return -1;
	m->min_severity = sev ? alert_severity_rank(sev) : 0;
	v = json_object_get(r, "component");
	if (v && !json_is_boolean(v))
		return fail(l, file, key_path(p, sizeof p, base, "component"), "expected true or false, got %s",
		            type_name(v));
	m->component = json_is_true(v);
	lm = json_object_get(r, "labels_match");
	if (lm) {
		key_path(p, sizeof p, base, "labels_match");
		if (!json_is_object(lm))
			return fail(l, file, p, "expected an object of label name -> regular expression, got %s",
			            type_name(lm));
		size_t n = json_object_size(lm);
		m->re_names = calloc(n ? n : 1, sizeof(*m->re_names));
		m->re = calloc(n ? n : 1, sizeof(*m->re));
		if (!m->re_names || !m->re)
			return fail_oom(l);
		json_object_foreach(lm, k, v)
		{
			key_path(rp, sizeof rp, p, k);
			if (!json_is_string(v))
				return fail(l, file, rp, "expected a regular expression (string), got %s",
				            type_name(v));
			int rc = regcomp(&m->re[m->n_re], json_string_value(v), REG_EXTENDED | REG_NOSUB);
			if (rc != 0) {
				char why[128];
				regerror(rc, &m->re[m->n_re], why, sizeof why);
				return fail(l, file, rp, "not a valid POSIX extended regular expression: %s", why);
			}
			m->re_names[m->n_re] = strdup(k);
			m->n_re++; /* counted now so match_free releases it */
			if (!m->re_names[m->n_re - 1])
				return fail_oom(l);
		}
	}
	if (!m->labels && !m->n_re && !m->min_severity && !m->component)
		return fail(l, file, base,
		            "a rule needs at least one of labels, labels_match, min_severity, component");
	return 0;
}

static int parse_matches(loader *l, const char *file, const char *key, json_t *arr, config_match **out, size_t *n)
{
	char p[KEYPATH_LEN];

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(l, file, key, "expected an array of rules, got %s", type_name(arr));
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return fail_oom(l);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		(*n)++; /* counted first so config_free releases a half-parsed rule */
		if (parse_match(l, file, index_path(p, sizeof p, key, i), json_array_get(arr, i), &(*out)[i]) < 0)
			return -1;
	}
	return 0;
}

static int parse_components(loader *l, const char *file, json_t *arr, config *c)
{
	char p[KEYPATH_LEN], kp[KEYPATH_LEN];
	const char *name = NULL;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(l, file, "public.components", "expected an array of components, got %s", type_name(arr));
	c->components = calloc(json_array_size(arr) + 1, sizeof(*c->components));
	if (!c->components)
		return fail_oom(l);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		config_component *cc = &c->components[c->n_components++];

		index_path(p, sizeof p, "public.components", i);
		if (!json_is_object(o))
			return fail(l, file, p, "expected an object, got %s", type_name(o));
		name = NULL;
		if (check_keys(l, file, p, o, component_keys) < 0 || opt_string(l, file, p, o, "name", &name) < 0)
			return -1;
		if (!name || !*name)
			return fail(l, file, p, "missing required key \"name\" (what customers read, e.g. \"API\")");
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->components[j].name, name) == 0)
				return fail(l, file, key_path(kp, sizeof kp, p, "name"), "\"%s\" is listed twice",
				            name);
		cc->name = strdup(name);
		if (!cc->name)
			return fail_oom(l);
		if (!json_object_get(o, "labels"))
			return fail(l, file, p, "missing required key \"labels\" (which incidents affect it)");
		if (parse_label_map(l, file, key_path(kp, sizeof kp, p, "labels"), json_object_get(o, "labels"),
		                    &cc->labels) < 0)
			return -1;
	}
	return 0;
}

/*
 * templates/core/first_update.mustache: the first public update crier posts
 * itself. Compiled whenever the file is there, so --check-config finds its
 * mistakes; missing is an error only when it will be needed: some incident
 * can be public and public.first_message is "auto".
 */
static int load_first_update(loader *l, config *c)
{
	static const char rel[] = "templates/core/first_update.mustache";
	int needed = !c->first_message_human && (c->n_components || c->n_public_when);
	char *path = NULL, *text = NULL, why[256];
	int rc = -1, opened;
	size_t len;

	if (asprintf(&path, "%s/%s", c->config_dir, rel) < 0) {
		path = NULL;
		return fail_oom(l);
	}
	text = mustache_read(path, &len, &opened);
	if (!text && !opened) {
		rc = needed ? fail(l, path, NULL,
		                   "cannot read: %s (public.first_message \"auto\" posts it when an incident becomes "
		                   "public; \"human\" leaves the first update to people)",
		                   strerror(errno))
		            : 0;
		goto out;
	}
	if (!text) {
		if (errno == ENOMEM)
			fail_oom(l);
		else
			fail(l, path, NULL, "cannot read: %s", errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		goto out;
	}
	c->first_update = mustache_compile(rel, text, len, why, sizeof why);
	if (!c->first_update) {
		fail(l, c->dir, NULL, "%s", why);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(path);
	return rc;
}

/* public.update_every_minutes, escalate_after_minutes, first_message: the cadence of updates. */
static int parse_cadence(loader *l, config *c, const char *file, json_t *p)
{
	const char *first = NULL;

	if (opt_duration_ms(l, file, "public", p, "update_every_minutes", "minutes", 60000.0, 0.01, 10080,
	                    &c->update_every_ms) < 0 ||
	    opt_duration_ms(l, file, "public", p, "escalate_after_minutes", "minutes", 60000.0, 0.01, 10080,
	                    &c->escalate_after_ms) < 0 ||
	    opt_string(l, file, "public", p, "first_message", &first) < 0)
		return -1;
	/* The reminder comes first, then the escalation. */
	if (c->escalate_after_ms <= c->update_every_ms) {
		double every = (double)c->update_every_ms / 60000.0, esc = (double)c->escalate_after_ms / 60000.0;
		if (json_object_get(p, "escalate_after_minutes"))
			return fail(l, file, "public.escalate_after_minutes",
			            "must be more than public.update_every_minutes (%g), got %g", every, esc);
		return fail(l, file, "public.update_every_minutes",
		            "must be less than public.escalate_after_minutes (%g, the default), got %g", esc, every);
	}
	if (first && strcmp(first, "auto") != 0 && strcmp(first, "human") != 0)
		return fail(l, file, "public.first_message", "expected \"auto\" or \"human\", got \"%.40s\"", first);
	c->first_message_human = first && strcmp(first, "human") == 0;
	return 0;
}

/* An http(s) URL that links are made from, stored with one trailing slash
 * (base + "incidents/3.html") in *out (new). */
static int base_url(loader *l, const char *file, const char *path, const char *url, char **out)
{
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) || strpbrk(url, " \t\r\n\"<>"))
		return fail(l, file, path, "expected an http:// or https:// URL, got \"%.80s\"", url);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (asprintf(out, "%.*s/", (int)n, url) < 0) {
		*out = NULL;
		return fail_oom(l);
	}
	return 0;
}

/* "public": what customers see. The status page's address makes the links
 * of every event (docs/events.md); without it they are empty. */
static int parse_public(loader *l, config *c)
{
	int rc;
	json_t *p = section(l, TOP_PUBLIC, 0, &rc);
	const char *file = l->top_file[TOP_PUBLIC];
	const char *url = NULL;

	c->update_every_ms = 30 * 60000;
	c->escalate_after_ms = 60 * 60000;
	if (rc < 0)
		return -1;
	if (!p)
		return load_first_update(l, c);
	if (check_keys(l, file, "public", p, public_keys) < 0 || parse_cadence(l, c, file, p) < 0 ||
	    opt_string(l, file, "public", p, "status_page_url", &url) < 0 ||
	    parse_components(l, file, json_object_get(p, "components"), c) < 0 ||
	    parse_matches(l, file, "public.when", json_object_get(p, "when"), &c->public_when, &c->n_public_when) < 0 ||
	    parse_matches(l, file, "public.security_when", json_object_get(p, "security_when"), &c->security_when,
	                  &c->n_security_when) < 0 ||
	    load_first_update(l, c) < 0)
		return -1;
	if (!url || !*url)
		return 0;
	return base_url(l, file, "public.status_page_url", url, &c->status_page_url);
}

static int parse_store(loader *l, config *c)
{
	int rc;
	json_t *s = section(l, TOP_STORE, 0, &rc);
	const char *file = l->top_file[TOP_STORE];
	const char *sync = "normal";
	long long batch = 512, ckpt = CHECKPOINT_PAGES_DEFAULT;

	if (rc < 0)
		return -1;
	if (s) {
		if (check_keys(l, file, "store", s, store_keys) < 0 ||
		    opt_string(l, file, "store", s, "synchronous", &sync) < 0 ||
		    opt_int(l, file, "store", s, "batch_max", 1, 100000, &batch) < 0 ||
		    opt_int(l, file, "store", s, "checkpoint_pages", 100, 1000000, &ckpt) < 0)
			return -1;
	}
	if (strcmp(sync, "normal") == 0)
		c->store_sync_full = 0;
	else if (strcmp(sync, "full") == 0)
		c->store_sync_full = 1;
	else
		return fail(l, file, "store.synchronous", "expected \"normal\" or \"full\", got \"%s\"", sync);
	c->batch_max = (int)batch;
	c->checkpoint_pages = (int)ckpt;
	return 0;
}

static int parse_incidents(loader *l, config *c)
{
	int rc;
	json_t *s = section(l, TOP_INCIDENTS, 0, &rc), *g = NULL;
	const char *file = l->top_file[TOP_INCIDENTS];
	char p[KEYPATH_LEN];

	if (rc < 0)
		return -1;
	const char *pm_for = "public";
	c->hold_ms = 300000;
	c->postmortem_due_ms = 3 * 86400 * 1000LL;
	if (s) {
		if (check_keys(l, file, "incidents", s, incidents_keys) < 0 ||
		    opt_seconds_ms(l, file, "incidents", s, "hold_seconds", 0, 604800, &c->hold_ms) < 0 ||
		    opt_seconds_ms(l, file, "incidents", s, "postmortem_due_seconds", 0, 31536000,
		                   &c->postmortem_due_ms) < 0 ||
		    opt_string(l, file, "incidents", s, "postmortem_for", &pm_for) < 0)
			return -1;
		if (!in_list(pm_for, postmortem_for))
			return fail(l, file, "incidents.postmortem_for",
			            "expected \"public\" or \"all\", got \"%.40s\"", pm_for);
		g = json_object_get(s, "group_by");
	}
	c->postmortem_all = strcmp(pm_for, "all") == 0;
	if (!g) {
		c->group_by = json_pack("[s]", "service");
		return c->group_by ? 0 : fail_oom(l);
	}
	if (!json_is_array(g))
		return fail(l, file, "incidents.group_by", "expected an array of label names, got %s", type_name(g));
	if (json_array_size(g) == 0)
		return fail(l, file, "incidents.group_by",
		            "expected at least one label name (alerts with none of them are grouped by alertname)");
	for (size_t i = 0; i < json_array_size(g); i++) {
		json_t *v = json_array_get(g, i);

		index_path(p, sizeof p, "incidents.group_by", i);
		if (!json_is_string(v))
			return fail(l, file, p, "expected a label name, got %s", type_name(v));
		if (json_string_length(v) == 0)
			return fail(l, file, p, "must not be empty");
		for (size_t j = 0; j < i; j++)
			if (json_equal(v, json_array_get(g, j)))
				return fail(l, file, p, "label \"%s\" is listed twice", json_string_value(v));
	}
	c->group_by = json_deep_copy(g);
	return c->group_by ? 0 : fail_oom(l);
}

/* Start from *base and apply the keys of obj (which may be NULL). */
static int parse_delivery(loader *l, const char *file, const char *path, json_t *obj, const config_delivery *base,
                          config_delivery *out)
{
	long long attempts = base->max_attempts, initial = base->backoff_initial_ms, max = base->backoff_max_ms;
	char p[KEYPATH_LEN];
	int r;

	*out = *base;
	if (!obj)
		return 0;
	if (check_keys(l, file, path, obj, delivery_keys) < 0 ||
	    opt_int(l, file, path, obj, "max_attempts", 1, 1000, &attempts) < 0 ||
	    opt_seconds_ms(l, file, path, obj, "max_age_seconds", 1, 31536000, &out->max_age_ms) < 0 ||
	    opt_int(l, file, path, obj, "backoff_initial_ms", 1, 86400000, &initial) < 0 ||
	    (r = opt_int(l, file, path, obj, "backoff_max_ms", 1, 86400000, &max)) < 0)
		return -1;
	if (max < initial)
		return fail(l, file, key_path(p, sizeof p, path, r ? "backoff_max_ms" : "backoff_initial_ms"),
		            "backoff_max_ms (%lld) must be at least backoff_initial_ms (%lld)", max, initial);
	out->max_attempts = (int)attempts;
	out->backoff_initial_ms = initial;
	out->backoff_max_ms = max;
	return 0;
}

static int parse_global_delivery(loader *l, config *c)
{
	static const config_delivery defaults = {12, 86400000, 1000, 300000};
	int rc;
	json_t *d = section(l, TOP_DELIVERY, 0, &rc);

	if (rc < 0)
		return -1;
	return parse_delivery(l, l->top_file[TOP_DELIVERY], "delivery", d, &defaults, &c->delivery);
}

static int parse_auth(loader *l, const char *file, const char *path, json_t *a, config_auth *out)
{
	static const char *const keys[] = {"token", "username", "password"};
	char *vals[3] = {NULL, NULL, NULL};
	char p[KEYPATH_LEN];
	int rc = -1;

	if (check_keys(l, file, path, a, auth_keys) < 0)
		return -1;
	if (json_object_size(a) == 0)
		return fail(l, file, path, "expected \"token\", or \"username\" and \"password\", or both");
	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(a, keys[i]);

		if (!v)
			continue;
		key_path(p, sizeof p, path, keys[i]);
		if (!json_is_string(v)) {
			fail(l, file, p, "expected a string, got %s", type_name(v));
			goto out;
		}
		if (secret_resolve(l, file, p, json_string_value(v), &vals[i]) < 0)
			goto out;
		if (!vals[i][0]) {
			fail(l, file, p, "must not be empty");
			goto out;
		}
	}
	if (!vals[1] != !vals[2]) {
		fail(l, file, path, "\"username\" and \"password\" go together: set both or neither");
		goto out;
	}
	out->token = vals[0];
	out->username = vals[1];
	out->password = vals[2];
	vals[0] = vals[1] = vals[2] = NULL;
	rc = 0;
out:
	for (int i = 0; i < 3; i++)
		secret_free(vals[i]);
	return rc;
}

static int parse_ingest(loader *l, config *c)
{
	int rc;
	json_t *in = section(l, TOP_INGEST, 0, &rc), *services = NULL;
	const char *file = l->top_file[TOP_INGEST];
	const char *severity = "critical";
	char p[KEYPATH_LEN], sp[KEYPATH_LEN];

	if (rc < 0)
		return -1;
	if (in) {
		if (check_keys(l, file, "ingest", in, ingest_keys) < 0)
			return -1;
		for (int s = 0; s < CONFIG_SRC_N; s++) {
			json_t *src = NULL, *auth = NULL;

			key_path(p, sizeof p, "ingest", source_names[s]);
			if (opt_object(l, file, "ingest", in, source_names[s], &src) < 0)
				return -1;
			if (!src)
				continue;
			if (check_keys(l, file, p, src, s == CONFIG_SRC_UPTIMEROBOT ? uptimerobot_keys : source_keys) <
			        0 ||
			    opt_object(l, file, p, src, "auth", &auth) < 0)
				return -1;
			if (auth && parse_auth(l, file, key_path(sp, sizeof sp, p, "auth"), auth, &c->auth[s]) < 0)
				return -1;
			if (s == CONFIG_SRC_UPTIMEROBOT) {
				if (opt_object(l, file, p, src, "services", &services) < 0 ||
				    opt_severity(l, file, p, src, "severity", &severity) < 0)
					return -1;
			}
		}
	}
	if (services) {
		const char *id;
		json_t *v;

		json_object_foreach(services, id, v)
		{
			key_path(p, sizeof p, "ingest.uptimerobot.services", id);
			if (!*id)
				return fail(l, file, "ingest.uptimerobot.services", "a monitor ID must not be empty");
			if (!json_is_string(v))
				return fail(l, file, p, "expected a service name, got %s", type_name(v));
			if (json_string_length(v) == 0)
				return fail(l, file, p, "must not be empty");
		}
		c->ur_services = json_deep_copy(services);
	} else {
		c->ur_services = json_object();
	}
	c->ur_severity = strdup(severity);
	if (!c->ur_services || !c->ur_severity)
		return fail_oom(l);
	return 0;
}

/* "drafts": the HTTP API for approving drafts (docs/drafts.md). Its token is
 * its own: approving a publication is not something an alert sender may do. */
static int parse_drafts(loader *l, config *c)
{
	int rc;
	json_t *d = section(l, TOP_DRAFTS, 0, &rc), *auth = NULL;
	const char *file = l->top_file[TOP_DRAFTS];

	if (rc < 0)
		return -1;
	if (!d)
		return 0;
	if (check_keys(l, file, "drafts", d, drafts_keys) < 0 || opt_object(l, file, "drafts", d, "auth", &auth) < 0)
		return -1;
	if (!auth)
		return 0;
	if (check_keys(l, file, "drafts.auth", auth, drafts_auth_keys) < 0)
		return -1;
	if (!json_object_get(auth, "token"))
		return fail(l, file, "drafts.auth", "expected \"token\"");
	if (parse_auth(l, file, "drafts.auth", auth, &c->drafts_auth) < 0)
		return -1;
	for (int s = 0; s < CONFIG_SRC_N; s++)
		if (c->auth[s].token && strcmp(c->auth[s].token, c->drafts_auth.token) == 0)
			return fail(
			    l, file, "drafts.auth.token",
			    "must differ from ingest.%s.auth.token: whoever sends alerts must not approve posts",
			    source_names[s]);
	return 0;
}

/* An instance named by key of section "subscribers" (or NULL when absent) into *out (new). */
static int subscribers_instance(loader *l, const char *file, json_t *sec, const char *key, const config *c, char **out)
{
	char p[KEYPATH_LEN];
	const char *name = NULL;
	int r = opt_string(l, file, "subscribers", sec, key, &name);

	if (r <= 0)
		return r;
	if (!config_find_instance(c, name))
		return fail(l, file, key_path(p, sizeof p, "subscribers", key), "unknown instance \"%s\"", name);
	*out = strdup(name);
	return *out ? 0 : fail_oom(l);
}

/* "subscribers": the public subscription API and its confirmations (docs/subscribers.md). */
static int parse_subscribers(loader *l, config *c)
{
	int rc;
	json_t *s = section(l, TOP_SUBSCRIBERS, 0, &rc), *rate = NULL;
	const char *file = l->top_file[TOP_SUBSCRIBERS], *url = NULL;
	long long burst = 5, per_hour = 20;

	c->subscribers.confirm_expiry_ms = 24 * 3600 * 1000LL;
	for (size_t i = 0; rc == 0 && !s && i < c->n_instances; i++) {
		char p[KEYPATH_LEN];
		const config_instance *ci = &c->instances[i];

		if (!ci->subscribers)
			continue;
		snprintf(p, sizeof p, "plugins.%s.instances.%s.subscribers", ci->plugin, strchr(ci->name, '/') + 1);
		return fail(l, ci->file, p,
		            "needs a \"subscribers\" section with \"public_url\": every message to a subscriber "
		            "carries a link to unsubscribe");
	}
	if (rc < 0 || !s)
		goto defaults;
	if (check_keys(l, file, "subscribers", s, subscribers_keys) < 0 ||
	    opt_string(l, file, "subscribers", s, "public_url", &url) < 0 ||
	    subscribers_instance(l, file, s, "email_instance", c, &c->subscribers.email_instance) < 0 ||
	    subscribers_instance(l, file, s, "sms_instance", c, &c->subscribers.sms_instance) < 0 ||
	    opt_seconds_ms(l, file, "subscribers", s, "confirm_expiry_seconds", 1, 7 * 86400,
	                   &c->subscribers.confirm_expiry_ms) < 0 ||
	    opt_object(l, file, "subscribers", s, "rate_limit", &rate) < 0)
		return -1;
	if (rate && (check_keys(l, file, "subscribers.rate_limit", rate, rate_limit_keys) < 0 ||
	             opt_int(l, file, "subscribers.rate_limit", rate, "burst", 1, 10000, &burst) < 0 ||
	             opt_int(l, file, "subscribers.rate_limit", rate, "per_hour", 1, 1000000, &per_hour) < 0))
		return -1;
	if (!url)
		return fail(l, file, "subscribers",
		            "expected \"public_url\": where people reach crier's API, for the links in messages");
	if (base_url(l, file, "subscribers.public_url", url, &c->subscribers.public_url) < 0)
		return -1;
	c->subscribers.enabled = 1;
defaults:
	c->subscribers.rate_burst = (int)burst;
	c->subscribers.rate_per_hour = (int)per_hour;
	return rc;
}

/*
 * "watchdog": Alertmanager's always-firing alert proves the monitoring feed
 * is alive (docs/incidents.md). Present (even {}) turns watching on.
 */
static int parse_watchdog(loader *l, config *c)
{
	int rc;
	json_t *w = section(l, TOP_WATCHDOG, 0, &rc), *labels = NULL;
	const char *file = l->top_file[TOP_WATCHDOG];
	int64_t grace = -1;

	if (rc < 0)
		return -1;
	if (!w)
		return 0;
	c->watchdog_silent_ms = 600000;
	if (check_keys(l, file, "watchdog", w, watchdog_keys) < 0 ||
	    opt_seconds_ms(l, file, "watchdog", w, "silent_after_seconds", 1, 604800, &c->watchdog_silent_ms) < 0 ||
	    opt_seconds_ms(l, file, "watchdog", w, "startup_grace_seconds", 0.5, 604800, &grace) < 0 ||
	    parse_label_map(l, file, "watchdog.labels", json_object_get(w, "labels"), &labels) < 0)
		return -1;
	c->watchdog_labels = labels ? labels : json_pack("{ss}", "alertname", "Watchdog");
	if (!c->watchdog_labels)
		return fail_oom(l);
	if (grace > c->watchdog_silent_ms)
		return fail(l, file, "watchdog.startup_grace_seconds",
		            "must not be more than silent_after_seconds (%g), got %g",
		            (double)c->watchdog_silent_ms / 1000.0, (double)grace / 1000.0);
	/* Half the silence: enough for a live feed to show itself after a restart. */
	c->watchdog_grace_ms = grace >= 0 ? grace : c->watchdog_silent_ms / 2;
	return 0;
}

/*
 * "recipients": who an instance delivers to, one delivery each (an email
 * address, a phone number...). The plugin checks the form; here only what
 * every recipient must be: a short printable string, listed once.
 */
#define RECIPIENTS_MAX    10000
#define RECIPIENT_MAX_LEN 320 /* the longest email address */

static int parse_recipients(loader *l, const char *file, const char *base, json_t *r, config_instance *ci)
{
	char rp[KEYPATH_LEN], ip[KEYPATH_LEN];
	size_t i, j;
	json_t *v;

	if (!r)
		return 0;
	key_path(rp, sizeof rp, base, "recipients");
	if (!json_is_array(r) || json_array_size(r) == 0)
		return fail(l, file, rp, "expected a non-empty array of strings, got %s", type_name(r));
	if (json_array_size(r) > RECIPIENTS_MAX)
		return fail(l, file, rp, "%zu recipients; at most %d", json_array_size(r), RECIPIENTS_MAX);
	json_array_foreach(r, i, v)
	{
		index_path(ip, sizeof ip, rp, i);
		if (!json_is_string(v))
			return fail(l, file, ip, "expected a string, got %s", type_name(v));
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (len == 0 || len > RECIPIENT_MAX_LEN)
			return fail(l, file, ip, "expected 1 to %d bytes, got %zu", RECIPIENT_MAX_LEN, len);
		for (j = 0; j < len; j++)
			if ((unsigned char)s[j] <= ' ' || s[j] == 0x7f)
				return fail(l, file, ip, "recipients may not contain spaces or control characters");
		for (j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(r, j))) == 0)
				return fail(l, file, ip, "\"%s\" is listed twice", s);
	}
	ci->recipients = json_incref(r);
	return 0;
}

/*
 * Resolve "${ENV}" and "file:" secrets in an instance's settings, except
 * under "template" and "templates": a template is no secret, and "file:"
 * there names a template under the configuration folder, which the plugin
 * loads itself (template_load in include/crier/plugin.h).
 */
static int resolve_secrets(loader *l, const char *file, const char *base, json_t *obj)
{
	static const char *const exempt[] = {"template", "templates"};
	json_t *kept[2];
	int rc;

	for (int i = 0; i < 2; i++) {
		kept[i] = json_incref(json_object_get(obj, exempt[i]));
		json_object_del(obj, exempt[i]);
	}
	rc = resolve_tree(l, file, base, obj);
	for (int i = 0; i < 2; i++)
		if (kept[i] && json_object_set_new(obj, exempt[i], kept[i]) < 0 && rc == 0)
			rc = fail_oom(l);
	return rc;
}

/* "audience": "public" instances get public incidents only, in their public view. */
static int parse_audience(loader *l, const char *file, const char *base, json_t *a, config_instance *ci)
{
	char ap[KEYPATH_LEN];

	if (!a)
		return 0;
	key_path(ap, sizeof ap, base, "audience");
	if (!json_is_string(a) || !in_list(json_string_value(a), instance_audiences))
		return fail(l, file, ap, "expected \"internal\" or \"public\"%s%s%s",
		            json_is_string(a) ? ", got \"" : "", json_is_string(a) ? json_string_value(a) : "",
		            json_is_string(a) ? "\"" : "");
	ci->audience_public = strcmp(json_string_value(a), "public") == 0;
	return 0;
}

/*
 * "subscribers": "email" or "phone" (true: by the plugin, email or sms): one
 * delivery per confirmed subscriber of that kind instead of "recipients".
 * Subscribers are customers, so the instance must be public.
 */
static int parse_instance_subscribers(loader *l, const char *file, const char *base, json_t *v, config_instance *ci)
{
	char sp[KEYPATH_LEN];
	const char *s = json_string_value(v);

	if (!v)
		return 0;
	key_path(sp, sizeof sp, base, "subscribers");
	if (json_is_true(v))
		s = strcmp(ci->plugin, "email") == 0 ? "email" : strcmp(ci->plugin, "sms") == 0 ? "phone" : NULL;
	if (s && strcmp(s, "email") == 0)
		ci->subscribers = CONFIG_SUBSCRIBERS_EMAIL;
	else if (s && strcmp(s, "phone") == 0)
		ci->subscribers = CONFIG_SUBSCRIBERS_PHONE;
	else
		return fail(l, file, sp, "expected \"email\" or \"phone\" (true only for the email and sms plugins)");
	if (!ci->audience_public)
		return fail(l, file, sp,
		            "needs \"audience\": \"public\" on the instance: subscribers may hear of public incidents "
		            "only");
	if (ci->recipients)
		return fail(l, file, sp, "goes without \"recipients\": each subscriber is a recipient");
	return 0;
}

static const char *const isolations[] = {"thread", "process", NULL};

static int parse_isolation(loader *l, const char *file, const char *base, json_t *v, config_isolation *out)
{
	char p[KEYPATH_LEN], list[64];

	*out = CONFIG_ISOLATION_THREAD;
	if (!v)
		return 0;
	key_path(p, sizeof p, base, "isolation");
	if (!json_is_string(v))
		return fail(l, file, p, "expected \"thread\" or \"process\", got %s", type_name(v));
	if (!in_list(json_string_value(v), isolations)) {
		text_join(list, sizeof list, isolations);
		return fail(l, file, p, "unknown isolation \"%s\" (known: %s)", json_string_value(v), list);
	}
	if (strcmp(json_string_value(v), "process") == 0)
		*out = CONFIG_ISOLATION_PROCESS;
	return 0;
}

static int add_instance(loader *l, config *c, const char *file, const char *pname, const char *iname, json_t *iv)
{
	char base[KEYPATH_LEN], dp[KEYPATH_LEN];
	json_t *copy = NULL, *dobj;
	config_instance *ci, *ni;
	int rc = -1;

	snprintf(base, sizeof base, "plugins.%s.instances.%s", pname, iname);
	if (!check_name(iname))
		return fail(l, file, base, "instance name must match [a-z0-9_-]+ (at most 64 characters)");
	if (!json_is_object(iv))
		return fail(l, file, base, "expected an object, got %s", type_name(iv));
	/* Instances are few; growing one at a time keeps no capacity field in the config. */
	ni = realloc(c->instances, (c->n_instances + 1) * sizeof *ni);
	if (!ni)
		return fail_oom(l);
	c->instances = ni;
	ci = &c->instances[c->n_instances];
	memset(ci, 0, sizeof *ci);
	/* Counted now so that config_free releases whatever is filled in below. */
	c->n_instances++;

	copy = json_deep_copy(iv);
	if (!copy || asprintf(&ci->name, "%s/%s", pname, iname) < 0) {
		ci->name = NULL;
		fail_oom(l);
		goto out;
	}
	ci->plugin = strdup(pname);
	ci->file = strdup(file);
	if (!ci->plugin || !ci->file) {
		fail_oom(l);
		goto out;
	}
	dobj = json_object_get(copy, "delivery");
	if (dobj && !json_is_object(dobj)) {
		fail(l, file, key_path(dp, sizeof dp, base, "delivery"), "expected an object, got %s", type_name(dobj));
		goto out;
	}
	if (parse_delivery(l, file, key_path(dp, sizeof dp, base, "delivery"), dobj, &c->delivery, &ci->delivery) < 0)
		goto out;
	json_object_del(copy, "delivery");
	if (parse_recipients(l, file, base, json_object_get(copy, "recipients"), ci) < 0)
		goto out;
	json_object_del(copy, "recipients");
	if (parse_audience(l, file, base, json_object_get(copy, "audience"), ci) < 0)
		goto out;
	json_object_del(copy, "audience");
	if (parse_instance_subscribers(l, file, base, json_object_get(copy, "subscribers"), ci) < 0)
		goto out;
	json_object_del(copy, "subscribers");
	if (parse_isolation(l, file, base, json_object_get(copy, "isolation"), &ci->isolation) < 0)
		goto out;
	json_object_del(copy, "isolation");
	if (resolve_secrets(l, file, base, copy) < 0)
		goto out;
	ci->config_json = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	if (!ci->config_json) {
		fail_oom(l);
		goto out;
	}
	rc = 0;
out:
	json_decref(copy);
	return rc;
}

static int parse_plugins(loader *l, config *c)
{
	const char *pname;
	json_t *pv;
	char base[KEYPATH_LEN];

	json_object_foreach(l->plugins, pname, pv)
	{
		const char *file = l->files[json_integer_value(json_object_get(l->plugin_file, pname))];
		json_t *insts = NULL;
		const char *iname;
		json_t *iv;

		key_path(base, sizeof base, "plugins", pname);
		if (!check_name(pname))
			return fail(l, file, base, "plugin name must match [a-z0-9_-]+ (at most 64 characters)");
		if (!json_is_object(pv))
			return fail(l, file, base, "expected an object, got %s", type_name(pv));
		if (check_keys(l, file, base, pv, plugin_keys) < 0 ||
		    opt_object(l, file, base, pv, "instances", &insts) < 0)
			return -1;
		if (!insts)
			return fail(l, file, base, "missing \"instances\" (an object: instance name -> settings)");
		json_object_foreach(insts, iname, iv)
		{
			if (add_instance(l, c, file, pname, iname, iv) < 0)
				return -1;
		}
	}
	return 0;
}

static int parse_route(loader *l, config *c, const char *file, size_t idx, json_t *r, config_route *out)
{
	char base[KEYPATH_LEN], p[KEYPATH_LEN], list[512]; /* every event type, named */
	const char *name = NULL, *sev = NULL;
	json_t *events, *labels = NULL, *to;

	index_path(base, sizeof base, "routes", idx);
	if (!json_is_object(r))
		return fail(l, file, base, "expected an object, got %s", type_name(r));
	if (check_keys(l, file, base, r, route_keys) < 0 || opt_string(l, file, base, r, "name", &name) < 0 ||
	    opt_severity(l, file, base, r, "min_severity", &sev) < 0 ||
	    opt_object(l, file, base, r, "labels", &labels) < 0)
		return -1;
	out->name = name ? strdup(name) : strdup(base);
	if (!out->name)
		return fail_oom(l);
	out->min_severity = sev ? alert_severity_rank(sev) : 0;

	events = json_object_get(r, "events");
	if (events) {
		int star = 0;

		key_path(p, sizeof p, base, "events");
		if (!json_is_array(events))
			return fail(l, file, p, "expected an array of event types, got %s", type_name(events));
		if (json_array_size(events) == 0)
			return fail(l, file, p, "expected at least one event type, or [\"*\"] for all");
		for (size_t i = 0; i < json_array_size(events); i++) {
			json_t *e = json_array_get(events, i);

			index_path(p, sizeof p, key_path(list, sizeof list, base, "events"), i);
			if (!json_is_string(e))
				return fail(l, file, p, "expected an event type, got %s", type_name(e));
			if (strcmp(json_string_value(e), "*") == 0) {
				star = 1;
				continue;
			}
			if (!in_list(json_string_value(e), event_types)) {
				text_join(list, sizeof list, event_types);
				return fail(l, file, p, "unknown event type \"%s\" (known: %s, or \"*\")",
				            json_string_value(e), list);
			}
		}
		if (!star) {
			out->events = json_deep_copy(events);
			if (!out->events)
				return fail_oom(l);
		}
	}

	if (labels && json_object_size(labels) > 0) {
		const char *k;
		json_t *v;

		json_object_foreach(labels, k, v)
		{
			key_path(p, sizeof p, key_path(list, sizeof list, base, "labels"), k);
			if (!*k)
				return fail(l, file, key_path(p, sizeof p, base, "labels"),
				            "a label name must not be empty");
			if (!json_is_string(v))
				return fail(l, file, p, "expected a string, got %s", type_name(v));
		}
		out->labels = json_deep_copy(labels);
		if (!out->labels)
			return fail_oom(l);
	}

	to = json_object_get(r, "to");
	key_path(p, sizeof p, base, "to");
	if (!to)
		return fail(l, file, base, "missing required key \"to\" (instance names, \"plugin/instance\")");
	if (!json_is_array(to))
		return fail(l, file, p, "expected an array of instance names, got %s", type_name(to));
	if (json_array_size(to) == 0)
		return fail(l, file, p, "expected at least one instance name");
	for (size_t i = 0; i < json_array_size(to); i++) {
		json_t *t = json_array_get(to, i);
		char ip[KEYPATH_LEN];

		index_path(ip, sizeof ip, p, i);
		if (!json_is_string(t))
			return fail(l, file, ip, "expected an instance name, got %s", type_name(t));
		if (!config_find_instance(c, json_string_value(t))) {
			char known[512];
			size_t used = 0;

			known[0] = '\0';
			for (size_t k = 0; k < c->n_instances && used < sizeof known; k++) {
				int w = snprintf(known + used, sizeof known - used, "%s%s", k ? ", " : "",
				                 c->instances[k].name);
				if (w < 0)
					break;
				used += (size_t)w;
			}
			return fail(l, file, ip, "unknown instance \"%s\" (configured: %s)", json_string_value(t),
			            c->n_instances ? known : "none");
		}
	}
	out->to = json_deep_copy(to);
	return out->to ? 0 : fail_oom(l);
}

static int parse_routes(loader *l, config *c)
{
	int rc;
	json_t *r = section(l, TOP_ROUTES, 1, &rc);

	if (rc < 0)
		return -1;
	if (!r || json_array_size(r) == 0)
		return 0;
	c->routes = calloc(json_array_size(r), sizeof *c->routes);
	if (!c->routes)
		return fail_oom(l);
	for (size_t i = 0; i < json_array_size(r); i++) {
		/* Counted first so that config_free releases a half-built route. */
		c->n_routes++;
		if (parse_route(l, c, l->top_file[TOP_ROUTES], i, json_array_get(r, i), &c->routes[i]) < 0)
			return -1;
	}
	return 0;
}

config *config_load(const char *dir, char *err, size_t errlen)
{
	loader l;
	config *c = NULL;
	int ok = 0;

	memset(&l, 0, sizeof l);
	l.dir = dir;
	l.err = err;
	l.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	l.plugins = json_object();
	l.plugin_file = json_object();
	c = calloc(1, sizeof *c);
	if (!l.plugins || !l.plugin_file || !c) {
		fail_oom(&l);
		goto out;
	}
	c->dir = strdup(dir);
	c->config_dir = abs_path(dir);
	if (!c->dir || !c->config_dir) {
		fail_oom(&l);
		goto out;
	}
	c->limits = alert_limits_default;
	if (list_files(&l) < 0)
		goto out;
	for (size_t i = 0; i < l.n_files; i++) {
		json_t *doc = NULL;
		int rc;

		if (read_json_file(&l, l.files[i], &doc) < 0)
			goto out;
		rc = merge_file(&l, i, doc);
		json_decref(doc);
		if (rc < 0)
			goto out;
	}
	if (parse_daemon(&l, c) < 0 || parse_http(&l, c) < 0 || parse_zmq(&l, c) < 0 || parse_store(&l, c) < 0 ||
	    parse_incidents(&l, c) < 0 || parse_global_delivery(&l, c) < 0 || parse_ingest(&l, c) < 0 ||
	    parse_plugins(&l, c) < 0 || parse_routes(&l, c) < 0 || parse_public(&l, c) < 0 || parse_drafts(&l, c) < 0 ||
	    parse_subscribers(&l, c) < 0 || parse_watchdog(&l, c) < 0)
		goto out;
	ok = 1;
out:
	for (int t = 0; t < TOP_N; t++)
		json_decref(l.top[t]);
	json_decref(l.plugins);
	json_decref(l.plugin_file);
	for (size_t i = 0; i < l.n_files; i++)
		free(l.files[i]);
	free(l.files);
	if (!ok) {
		config_free(c);
		return NULL;
	}
	return c;
}

void config_free(config *c)
{
	if (!c)
		return;
	free(c->trusted_proxies);
	free(c->dir);
	free(c->config_dir);
	free(c->status_page_url);
	for (size_t i = 0; i < c->n_components; i++) {
		free(c->components[i].name);
		json_decref(c->components[i].labels);
	}
	free(c->components);
	for (size_t i = 0; i < c->n_public_when; i++)
		match_free(&c->public_when[i]);
	free(c->public_when);
	for (size_t i = 0; i < c->n_security_when; i++)
		match_free(&c->security_when[i]);
	free(c->security_when);
	mustache_free(c->first_update);
	json_decref(c->watchdog_labels);
	free(c->state_dir);
	for (size_t i = 0; c->plugin_dirs && c->plugin_dirs[i]; i++)
		free(c->plugin_dirs[i]);
	free(c->plugin_dirs);
	free(c->control_path);
	free(c->listen_host);
	free(c->zmq_ingest);
	json_decref(c->group_by);
	for (int s = 0; s < CONFIG_SRC_N; s++) {
		secret_free(c->auth[s].token);
		secret_free(c->auth[s].username);
		secret_free(c->auth[s].password);
	}
	secret_free(c->drafts_auth.token);
	free(c->subscribers.public_url);
	free(c->subscribers.email_instance);
	free(c->subscribers.sms_instance);
	json_decref(c->ur_services);
	free(c->ur_severity);
	for (size_t i = 0; i < c->n_routes; i++) {
		free(c->routes[i].name);
		json_decref(c->routes[i].events);
		json_decref(c->routes[i].labels);
		json_decref(c->routes[i].to);
	}
	free(c->routes);
	for (size_t i = 0; i < c->n_instances; i++) {
		free(c->instances[i].name);
		free(c->instances[i].plugin);
		free(c->instances[i].file);
		secret_free(c->instances[i].config_json);
		json_decref(c->instances[i].recipients);
	}
	free(c->instances);
	free(c);
}

const char *config_source_name(config_source s)
{
	if ((int)s < 0 || s >= CONFIG_SRC_N)
		return "unknown";
	return source_names[s];
}

const config_instance *config_find_instance(const config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_instances; i++)
		if (strcmp(c->instances[i].name, name) == 0)
			return &c->instances[i];
	return NULL;
}
