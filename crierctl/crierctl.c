/*
 * crierctl: the operator's tool. One request to crierd's control socket
 * (ZeroMQ REQ over ipc://, docs/control.md), one reply, printed as a table
 * or as JSON.
 *
 * Exit status: 0 done, 1 crierd refused the request, 2 crierd could not be
 * reached (or answered nonsense), 64 usage error.
 */
#include "markdown.h"
#include "postmortem.h"
#include "strbuf.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define CRIERCTL_VERSION "0.1.0"
#define DEFAULT_SOCKET   "var/crierd.ctl"
#define EXIT_REFUSED     1
#define EXIT_UNREACHABLE 2
#define EXIT_USAGE       64

#define GLOBAL_USAGE "usage: crierctl [--socket PATH] [--json] [--actor NAME] [--timeout SECONDS] COMMAND [ARGS]"

typedef struct opts {
	const char *socket; /* borrowed from argv or the environment */
	const char *actor;  /* borrowed; NULL = let crierd choose */
	double timeout_s;
	int json;
} opts;

/* What the command line said after the global options were taken out. */
typedef struct cmd_args {
	const char *pos[4]; /* borrowed from argv */
	int npos;
	int all, dead;
	const char *message, *state, *incident, *text; /* borrowed from argv */
	const char *components[32];                    /* --component, repeated; borrowed from argv */
	int ncomponents;
} cmd_args;

typedef struct command command;

struct command {
	const char *name;
	const char *args;    /* after the name, for usage lines */
	const char *summary; /* one line for --help */
	const char *example;
	const char *flags; /* options it takes, space separated */
	int npos;          /* positional arguments it requires */
	json_t *(*build)(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen);
	void (*print)(const cmd_args *a, const json_t *reply);
	int maxpos; /* positional arguments it may take, when more than npos */
};

/* ---- small helpers ---- */

static int parse_id(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* Text from the daemon may come from alerts (outside input): keep terminal controls out. */
static char *clean(const char *s)
{
	size_t n = strlen(s), j = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			out[j++] = ' ';
		} else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		           (unsigned char)s[i + 1] <= 0x9f) {
			out[j++] = ' '; /* C1 controls, U+0080..U+009F */
			i++;
		} else {
			out[j++] = (char)c;
		}
	}
	out[j] = '\0';
	return out;
}

/* Columns on screen: UTF-8 code points, near enough for titles and names. */
static size_t display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void format_time_ms(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, n, "%lld", (long long)ms);
}

/* A time from a reply (RFC 3339 text, unix ms, or null) in local time. */
static void time_text(const json_t *v, char *buf, size_t n)
{
	int64_t ms;

	if (json_is_string(v) && timefmt_parse_rfc3339(json_string_value(v), &ms) == 0) {
		if (ms != 0)
			format_time_ms(ms, buf, n);
		else
			snprintf(buf, n, "-");
	} else if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v) && json_integer_value(v) != 0)
		format_time_ms((int64_t)json_integer_value(v), buf, n);
	else
		snprintf(buf, n, "-");
}

/* Any scalar as text for a cell; missing and null are "-". */
static void value_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, n, "-");
}

/* ---- tables ---- */

#define TABLE_MAX_COLS 10

typedef struct table {
	size_t ncols;
	char **cells; /* rows * ncols strings, owned */
	size_t nrows, cap;
	int oom;
} table;

/* Add one row of ncols strings (copied, cleaned). */
static void table_row(table *t, const char *const *vals)
{
	if (t->oom)
		return;
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof *nc);

		if (!nc) {
			t->oom = 1;
			return;
		}
		t->cells = nc;
		t->cap = ncap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		t->cells[t->nrows * t->ncols + c] = clean(vals[c] ? vals[c] : "");
		if (!t->cells[t->nrows * t->ncols + c]) {
			for (size_t k = 0; k < c; k++)
				free(t->cells[t->nrows * t->ncols + k]);
			t->oom = 1;
			return;
		}
	}
	t->nrows++;
}

/* Print aligned, two spaces between columns, no padding after the last one. */
static void table_print(table *t, const char *indent)
{
	size_t width[TABLE_MAX_COLS] = {0};

	if (t->oom) {
		fprintf(stderr, "crierctl: out of memory\n");
		return;
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = display_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		size_t last = 0;

		/* Empty trailing cells get no padding, so no line ends in blanks. */
		for (size_t c = 0; c < t->ncols; c++)
			if (t->cells[r * t->ncols + c][0])
				last = c;
		fputs(indent, stdout);
		for (size_t c = 0; c <= last; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, stdout);
			if (c < last)
				for (size_t p = display_width(s); p < width[c] + 2; p++)
					putchar(' ');
		}
		putchar('\n');
	}
}

static void table_free(table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- printing replies ---- */

static const json_t *get(const json_t *o, const char *key)
{
	return json_object_get(o, key);
}

static void print_incidents(const cmd_args *a, const json_t *reply)
{
	const json_t *list = get(reply, "incidents");
	/* KEY says which service at a glance; titles come from alerts and rarely do. */
	static const char *const head[] = {"ID", "STATE", "SEVERITY", "FIRING", "OPENED", "KEY", "TITLE"};
	table t = {.ncols = 7};
	size_t i;
	const json_t *inc;

	if (json_array_size(list) == 0) {
		printf("%s\n", a->all ? "no incidents" : "no open incidents");
		return;
	}
	table_row(&t, head);
	json_array_foreach(list, i, inc)
	{
		char id[32], state[64], sev[64], firing[32], opened[64], key[256], title[512];
		const char *row[] = {id, state, sev, firing, opened, key, title};

		value_text(get(inc, "id"), id, sizeof id);
		value_text(get(inc, "state"), state, sizeof state);
		value_text(get(inc, "severity"), sev, sizeof sev);
		value_text(get(inc, "alerts_firing"), firing, sizeof firing);
		time_text(get(inc, "opened_at"), opened, sizeof opened);
		value_text(get(inc, "key"), key, sizeof key);
		value_text(get(inc, "title"), title, sizeof title);
		table_row(&t, row);
	}
	table_print(&t, "");
	table_free(&t);
}

static void print_labels(const json_t *labels, char *buf, size_t n)
{
	const char *k;
	const json_t *v;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)labels, k, v)
	{
		char val[256];
		int w;

		value_text(v, val, sizeof val);
		w = snprintf(buf + used, n - used, "%s%s=%s", used ? ", " : "", k, val);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, n, "-");
}

static void print_show(const cmd_args *a, const json_t *reply)
{
	const json_t *inc = get(reply, "incident"), *alerts = get(reply, "alerts"), *events = get(reply, "events");
	char id[32], buf[2048];
	size_t i;
	const json_t *e;
	char *s;

	(void)a;
	value_text(get(inc, "id"), id, sizeof id);
	value_text(get(inc, "title"), buf, sizeof buf);
	s = clean(buf);
	printf("incident %s: %s\n", id, s ? s : "");
	free(s);
	{
		static const struct {
			const char *label, *key;
			int is_time;
		} fields[] = {{"state", "state", 0},          {"severity", "severity", 0},
		              {"firing", "alerts_firing", 0}, {"key", "key", 0},
		              {"opened", "opened_at", 1},     {"updated", "updated_at", 1},
		              {"resolved", "resolved_at", 1}};
		table t = {.ncols = 2};

		for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
			const char *row[2] = {fields[f].label, buf};

			if (fields[f].is_time)
				time_text(get(inc, fields[f].key), buf, sizeof buf);
			else
				value_text(get(inc, fields[f].key), buf, sizeof buf);
			if (strcmp(fields[f].key, "state") == 0 && json_is_true(get(inc, "human"))) {
				size_t l = strlen(buf);
				snprintf(buf + l, sizeof buf - l, " (set by a person)");
			}
			table_row(&t, row);
		}
		{
			const char *row[2] = {"labels", buf};

			print_labels(get(inc, "labels"), buf, sizeof buf);
			table_row(&t, row);
		}
		table_print(&t, "  ");
		table_free(&t);
	}

	if (json_array_size(alerts) > 0) {
		static const char *const head[] = {"STATUS", "SOURCE", "ALERT", "STARTED", "KEY"};
		table t = {.ncols = 5};

		printf("\nalerts:\n");
		table_row(&t, head);
		json_array_foreach(alerts, i, e)
		{
			char status[32], source[64], name[256], started[64], key[256];
			const char *row[] = {status, source, name, started, key};
			const json_t *an = get(get(e, "labels"), "alertname");

			value_text(get(e, "status"), status, sizeof status);
			value_text(get(e, "source"), source, sizeof source);
			value_text(an ? an : get(get(e, "annotations"), "summary"), name, sizeof name);
			time_text(get(e, "starts_at"), started, sizeof started);
			value_text(get(e, "key"), key, sizeof key);
			table_row(&t, row);
		}
		table_print(&t, "  ");
		table_free(&t);
	}

	printf("\ntimeline:\n");
	if (json_array_size(events) == 0) {
		printf("  (no events)\n");
		return;
	}
	{
		static const char *const head[] = {"TIME", "TYPE", "ACTOR", "MESSAGE"};
		table t = {.ncols = 4};

		table_row(&t, head);
		json_array_foreach(events, i, e)
		{
			char when[64], type[64], actor[128], msg[1024];
			const char *row[] = {when, type, actor, msg};
			const json_t *m = get(e, "message");

			time_text(get(e, "time"), when, sizeof when);
			value_text(get(e, "type"), type, sizeof type);
			value_text(get(e, "actor"), actor, sizeof actor);
			if (json_is_string(m))
				snprintf(msg, sizeof msg, "%s", json_string_value(m));
			else
				msg[0] = '\0';
			table_row(&t, row);
		}
		table_print(&t, "  ");
		table_free(&t);
	}
}

static void print_event(const cmd_args *a, const json_t *reply, const char *done)
{
	char ev[32];

	value_text(get(reply, "event"), ev, sizeof ev);
	printf("incident %s %s (event %s)\n", a->pos[0], done, ev);
}

static void print_ack(const cmd_args *a, const json_t *reply)
{
	print_event(a, reply, "acknowledged");
}

static void print_update(const cmd_args *a, const json_t *reply)
{
	print_event(a, reply, "updated");
}

static void print_resolve(const cmd_args *a, const json_t *reply)
{
	print_event(a, reply, "resolved");
}

static void print_deliveries(const cmd_args *a, const json_t *reply)
{
	const json_t *list = get(reply, "deliveries");
	static const char *const head[] = {"ID",    "INCIDENT", "EVENT", "INSTANCE",
	                                   "STATE", "ATTEMPTS", "NEXT",  "LAST-ERROR"};
	table t = {.ncols = 8};
	size_t i;
	const json_t *d;

	if (json_array_size(list) == 0) {
		printf("%s\n", a->dead ? "no dead deliveries" : "no deliveries");
		return;
	}
	table_row(&t, head);
	json_array_foreach(list, i, d)
	{
		char id[32], inc[32], ev[32], inst[256], state[32], att[32], next[64], lerr[1024];
		const char *row[] = {id, inc, ev, inst, state, att, next, lerr};
		const json_t *le = get(d, "last_error");

		value_text(get(d, "id"), id, sizeof id);
		value_text(get(d, "incident_id"), inc, sizeof inc);
		value_text(get(d, "event_id"), ev, sizeof ev);
		value_text(get(d, "instance"), inst, sizeof inst);
		value_text(get(d, "state"), state, sizeof state);
		value_text(get(d, "attempts"), att, sizeof att);
		/* A next attempt only means something for work still queued. */
		if (strcmp(state, "pending") == 0 || strcmp(state, "inflight") == 0)
			time_text(get(d, "next_at"), next, sizeof next);
		else
			snprintf(next, sizeof next, "-");
		if (json_is_string(le))
			snprintf(lerr, sizeof lerr, "%s", json_string_value(le));
		else
			lerr[0] = '\0';
		table_row(&t, row);
	}
	table_print(&t, "");
	table_free(&t);
}

static void print_retry(const cmd_args *a, const json_t *reply)
{
	const json_t *d = get(reply, "delivery");
	char inst[256], state[32], next[64];

	value_text(get(d, "instance"), inst, sizeof inst);
	value_text(get(d, "state"), state, sizeof state);
	time_text(get(d, "next_at"), next, sizeof next);
	{
		char *ci = clean(inst);
		printf("delivery %s to %s is %s again (next attempt %s)\n", a->pos[0], ci ? ci : "", state, next);
		free(ci);
	}
}

/* "132/500": a draft's length against its network's limit. */
static void length_text(const json_t *d, char *buf, size_t n)
{
	snprintf(buf, n, "%lld/%lld", (long long)json_integer_value(get(d, "length")),
	         (long long)json_integer_value(get(d, "limit")));
}

static void print_draft_list(const json_t *list)
{
	static const char *const head[] = {"ID", "STATUS", "INSTANCE", "INCIDENT", "LENGTH", "CREATED", "TEXT"};
	table t = {.ncols = 7};
	size_t i;
	const json_t *d;

	if (json_array_size(list) == 0) {
		printf("no drafts\n");
		return;
	}
	table_row(&t, head);
	json_array_foreach(list, i, d)
	{
		char id[32], status[32], inst[256], inc[32], len[64], created[64], text[1024];
		const char *row[] = {id, status, inst, inc, len, created, text};

		value_text(get(d, "id"), id, sizeof id);
		value_text(get(d, "status"), status, sizeof status);
		value_text(get(d, "instance"), inst, sizeof inst);
		value_text(get(d, "incident_id"), inc, sizeof inc);
		length_text(d, len, sizeof len);
		time_text(get(d, "created_at"), created, sizeof created);
		value_text(get(d, "text"), text, sizeof text);
		table_row(&t, row);
	}
	table_print(&t, "");
	table_free(&t);
}

static void print_draft(const json_t *d)
{
	static const struct {
		const char *label, *key;
		int is_time;
	} fields[] = {{"network", "network", 0},    {"incident", "incident_id", 0}, {"created", "created_at", 1},
	              {"updated", "updated_at", 1}, {"decided by", "actor", 0},     {"error", "error", 0}};
	char id[32], status[32], inst[256], buf[1024];
	table t = {.ncols = 2};
	char *text;

	value_text(get(d, "id"), id, sizeof id);
	value_text(get(d, "status"), status, sizeof status);
	value_text(get(d, "instance"), inst, sizeof inst);
	text = clean(inst);
	printf("draft %s for %s: %s\n", id, text ? text : "", status);
	free(text);
	for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
		const char *row[2] = {fields[f].label, buf};

		if (!json_is_string(get(d, fields[f].key)) && !json_is_integer(get(d, fields[f].key)))
			continue;
		if (fields[f].is_time)
			time_text(get(d, fields[f].key), buf, sizeof buf);
		else
			value_text(get(d, fields[f].key), buf, sizeof buf);
		table_row(&t, row);
	}
	{
		const char *row[2] = {"length", buf};

		length_text(d, buf, sizeof buf);
		table_row(&t, row);
	}
	table_print(&t, "  ");
	table_free(&t);
	/* The text as it would be posted: line breaks kept, controls blanked. */
	text = clean(json_string_value(get(d, "text")) ? json_string_value(get(d, "text")) : "");
	printf("\n%s\n", text ? text : "");
	free(text);
	if (json_is_string(get(d, "approve"))) {
		char ap[128], rj[128];

		value_text(get(d, "approve"), ap, sizeof ap);
		value_text(get(d, "reject"), rj, sizeof rj);
		printf("\napprove: %s\nreject:  %s\nedit:    crierctl drafts edit %s --text \"...\"\n", ap, rj, id);
	}
}

static void print_drafts(const cmd_args *a, const json_t *reply)
{
	const json_t *d = get(reply, "draft");
	char inst[256], len[64];

	if (a->npos == 0) {
		print_draft_list(get(reply, "drafts"));
		return;
	}
	value_text(get(d, "instance"), inst, sizeof inst);
	length_text(d, len, sizeof len);
	if (strcmp(a->pos[0], "approve") == 0)
		printf("draft %s approved: %s publishes it now\n", a->pos[1], inst);
	else if (strcmp(a->pos[0], "reject") == 0)
		printf("draft %s rejected: it will not be published\n", a->pos[1]);
	else if (strcmp(a->pos[0], "edit") == 0)
		printf("draft %s edited (%s)\n", a->pos[1], len);
	else
		print_draft(d);
}

/* "API, Website", or "all" for a subscriber who follows every component. */
static void components_text(const json_t *list, char *buf, size_t n)
{
	size_t i, used = 0;
	const json_t *c;

	snprintf(buf, n, "all");
	json_array_foreach(list, i, c)
	{
		int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", json_string_value(c));
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
}

static void print_subscribers(const cmd_args *a, const json_t *reply)
{
	static const char *const head[] = {"ID", "KIND", "ADDRESS", "STATUS", "COMPONENTS", "SINCE", "SOURCE"};
	const json_t *list = get(reply, "subscribers"), *sub;
	table t = {.ncols = 7};
	char comps[512], addr[400];
	size_t i;

	if (a->npos > 0 && strcmp(a->pos[0], "list") != 0) {
		sub = get(reply, "subscriber");
		value_text(get(sub, "address"), addr, sizeof addr);
		components_text(get(sub, "components"), comps, sizeof comps);
		if (strcmp(a->pos[0], "add") == 0)
			printf("subscriber %s added, confirmed; follows %s\n", addr, comps);
		else
			printf("subscriber %s removed, with their deliveries\n", addr);
		return;
	}
	if (json_array_size(list) == 0) {
		printf("no subscribers\n");
		return;
	}
	table_row(&t, head);
	json_array_foreach(list, i, sub)
	{
		char id[32], kind[16], status[16], since[64], source[300];
		const char *row[] = {id, kind, addr, status, comps, since, source};
		int confirmed;

		value_text(get(sub, "id"), id, sizeof id);
		value_text(get(sub, "kind"), kind, sizeof kind);
		value_text(get(sub, "address"), addr, sizeof addr);
		value_text(get(sub, "status"), status, sizeof status);
		components_text(get(sub, "components"), comps, sizeof comps);
		confirmed = strcmp(status, "confirmed") == 0;
		time_text(get(sub, confirmed ? "confirmed_at" : "created_at"), since, sizeof since);
		if (json_is_string(get(sub, "client")))
			snprintf(source, sizeof source, "%s (%s)", json_string_value(get(sub, "source")),
			         json_string_value(get(sub, "client")));
		else
			value_text(get(sub, "source"), source, sizeof source);
		table_row(&t, row);
	}
	table_print(&t, "");
	table_free(&t);
}

static void print_postmortem_list(const json_t *list)
{
	static const char *const head[] = {"INCIDENT", "RESOLVED", "PUBLISHED", "REMINDER", "TITLE"};
	table t = {.ncols = 5};
	size_t i;
	const json_t *p;

	if (json_array_size(list) == 0) {
		printf("no post-mortems\n");
		return;
	}
	table_row(&t, head);
	json_array_foreach(list, i, p)
	{
		char id[32], resolved[64], published[64], reminder[80], title[512], when[64];
		const char *row[] = {id, resolved, published, reminder, title};

		value_text(get(p, "incident_id"), id, sizeof id);
		time_text(get(p, "resolved_at"), resolved, sizeof resolved);
		time_text(get(p, "published_at"), published, sizeof published);
		if (json_is_string(get(p, "reminded_at"))) {
			time_text(get(p, "reminded_at"), when, sizeof when);
			snprintf(reminder, sizeof reminder, "sent %s", when);
		} else if (json_is_string(get(p, "due_at")) && !json_is_true(get(p, "published"))) {
			time_text(get(p, "due_at"), when, sizeof when);
			snprintf(reminder, sizeof reminder, "due %s", when);
		} else {
			snprintf(reminder, sizeof reminder, "-");
		}
		value_text(get(p, "title"), title, sizeof title);
		table_row(&t, row);
	}
	table_print(&t, "");
	table_free(&t);
}

static void print_postmortem_one(const json_t *p)
{
	static const struct {
		const char *status, *says;
	} drafts[] = {{"written", "as crier wrote it"},
	              {"edited", "edited since crier wrote it"},
	              {"missing", "missing: crierctl postmortem draft ID writes it again"},
	              {"pending", "being written"},
	              {"none", "none: crierctl postmortem draft ID writes one"}};
	char id[32], buf[1024], when[64], by[256];
	const char *status = json_string_value(get(p, "draft_status")), *says = "";
	table t = {.ncols = 2};
	char *title;

	value_text(get(p, "incident_id"), id, sizeof id);
	value_text(get(p, "title"), buf, sizeof buf);
	title = clean(buf);
	printf("post-mortem of incident %s: %s\n", id, title ? title : "");
	free(title);
	for (size_t i = 0; status && i < sizeof drafts / sizeof *drafts; i++)
		if (strcmp(status, drafts[i].status) == 0)
			says = drafts[i].says;
	{
		const char *row[2] = {"state", buf};

		value_text(get(p, "state"), buf, sizeof buf);
		table_row(&t, row);
	}
	{
		const char *row[2] = {"resolved", buf};

		time_text(get(p, "resolved_at"), buf, sizeof buf);
		table_row(&t, row);
	}
	{
		const char *row[2] = {"draft", buf};

		snprintf(buf, sizeof buf, "%s (%s)",
		         json_string_value(get(p, "draft")) ? json_string_value(get(p, "draft")) : "-", says);
		table_row(&t, row);
	}
	{
		const char *row[2] = {"published", buf};

		if (json_is_true(get(p, "published"))) {
			time_text(get(p, "published_at"), when, sizeof when);
			value_text(get(p, "published_by"), by, sizeof by);
			snprintf(buf, sizeof buf, "%s by %s (revision %lld)", when, by,
			         (long long)json_integer_value(get(p, "revision")));
		} else {
			snprintf(buf, sizeof buf, "no");
		}
		table_row(&t, row);
	}
	{
		const char *row[2] = {"reminder", buf};

		if (json_is_string(get(p, "reminded_at"))) {
			time_text(get(p, "reminded_at"), when, sizeof when);
			snprintf(buf, sizeof buf, "sent %s", when);
		} else if (json_is_string(get(p, "due_at"))) {
			time_text(get(p, "due_at"), when, sizeof when);
			snprintf(buf, sizeof buf, "%s %s", json_is_true(get(p, "published")) ? "was due" : "due", when);
		} else {
			snprintf(buf, sizeof buf, "none");
		}
		table_row(&t, row);
	}
	table_print(&t, "  ");
	table_free(&t);
}

static void print_postmortem(const cmd_args *a, const json_t *reply)
{
	const json_t *p = get(reply, "postmortem");
	const char *sub = a->npos ? a->pos[0] : "list";

	if (strcmp(sub, "list") == 0) {
		print_postmortem_list(get(reply, "postmortems"));
	} else if (strcmp(sub, "draft") == 0) {
		char path[1024];

		value_text(get(p, "draft"), path, sizeof path);
		printf("draft of incident %s written to %s\n", a->pos[1], path);
	} else if (strcmp(sub, "publish") == 0) {
		char ev[32];

		value_text(get(reply, "event"), ev, sizeof ev);
		printf("post-mortem of incident %s published (revision %lld, event %s)\n", a->pos[1],
		       (long long)json_integer_value(get(p, "revision")), ev);
	} else {
		print_postmortem_one(p);
	}
}

/* The two largest units are enough to read at a glance: "3d 4h", "12m 5s". */
static void uptime_text(long long s, char *buf, size_t n)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, n, "%lldd %lldh", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(buf, n, "%lldh %lldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, n, "%llds", s);
}

static void print_status(const cmd_args *a, const json_t *reply)
{
	const json_t *insts = get(reply, "instances"), *in;
	char ver[64], buf[64];
	long long up = json_integer_value(get(reply, "uptime_s"));
	int any_process = 0;
	size_t i;
	static const struct {
		const char *label, *key;
	} counts[] = {{"open incidents", "incidents_open"},
	              {"alerts tracked", "alerts_tracked"},
	              {"deliveries pending", "outbox_pending"},
	              {"deliveries dead", "outbox_dead"}};
	table t = {.ncols = 2};

	(void)a;
	value_text(get(reply, "version"), ver, sizeof ver);
	uptime_text(up, buf, sizeof buf);
	printf("crierd %s, up %s\n", ver, buf);
	for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
		const char *row[2] = {counts[c].label, buf};

		if (!get(reply, counts[c].key))
			continue;
		value_text(get(reply, counts[c].key), buf, sizeof buf);
		table_row(&t, row);
	}
	table_print(&t, "  ");
	table_free(&t);

	if (json_array_size(insts) == 0) {
		printf("no plugin instances\n");
		return;
	}
	json_array_foreach(insts, i, in) if (get(in, "pid")) any_process = 1;
	printf("instances:\n");
	{
		/* Process hosts add their pid ("down" while restarting) and deaths. */
		static const char *const head[] = {"NAME", "PLUGIN", "ISOLATION", "IN FLIGHT", "PID", "DEATHS"};
		table it = {.ncols = any_process ? 6 : 4};

		table_row(&it, head);
		json_array_foreach(insts, i, in)
		{
			char name[256], plugin[128], iso[16], fly[32], pid[32], deaths[32];
			const char *row[] = {name, plugin, iso, fly, pid, deaths};
			const json_t *p = get(in, "pid");

			value_text(get(in, "name"), name, sizeof name);
			value_text(get(in, "plugin"), plugin, sizeof plugin);
			value_text(get(in, "isolation"), iso, sizeof iso);
			value_text(get(in, "in_flight"), fly, sizeof fly);
			if (!p)
				snprintf(pid, sizeof pid, "-");
			else if (json_is_null(p))
				snprintf(pid, sizeof pid, "down");
			else
				value_text(p, pid, sizeof pid);
			if (get(in, "host_deaths"))
				value_text(get(in, "host_deaths"), deaths, sizeof deaths);
			else
				snprintf(deaths, sizeof deaths, "-");
			table_row(&it, row);
		}
		table_print(&it, "  ");
		table_free(&it);
	}
}

/* ---- building requests ---- */

static int usage_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int usage_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static json_t *new_request(const char *cmd)
{
	return json_pack("{ss}", "cmd", cmd);
}

/* Sets key to the ID in s; NULL with err when s is not a positive integer. */
static json_t *with_id(json_t *req, const char *key, const char *what, const char *s, char *err, size_t errlen)
{
	long long id;

	if (!req)
		return NULL;
	if (parse_id(s, &id) < 0) {
		usage_fail(err, errlen, "%s must be a positive number, got \"%s\"", what, s);
		json_decref(req);
		return NULL;
	}
	if (json_object_set_new(req, key, json_integer(id)) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static int set_str(json_t *req, const char *key, const char *val)
{
	return val ? json_object_set_new(req, key, json_string(val)) : 0;
}

static json_t *build_incidents(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	(void)o;
	(void)err;
	(void)errlen;
	return json_pack("{ss sb}", "cmd", cmd->name, "all", a->all);
}

static json_t *build_show(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	(void)o;
	return with_id(new_request(cmd->name), "id", "ID", a->pos[0], err, errlen);
}

/* ack, update, resolve: a person's word on an incident. */
static json_t *build_human(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	static const char *const states[] = {"investigating", "identified", "monitoring", "resolved", NULL};
	json_t *req;

	if (strcmp(cmd->name, "update") == 0) {
		if (!a->message) {
			usage_fail(err, errlen, "update needs --message TEXT");
			return NULL;
		}
		if (a->state) {
			int ok = 0;

			for (const char *const *s = states; *s; s++)
				ok |= strcmp(*s, a->state) == 0;
			if (!ok) {
				usage_fail(
				    err, errlen,
				    "unknown state \"%s\" (use investigating, identified, monitoring or resolved)",
				    a->state);
				return NULL;
			}
		}
	}
	if (a->message && !*a->message) {
		usage_fail(err, errlen, "--message must not be empty");
		return NULL;
	}
	req = with_id(new_request(cmd->name), "id", "ID", a->pos[0], err, errlen);
	if (!req)
		return NULL;
	if (set_str(req, "actor", o->actor) < 0 || set_str(req, "message", a->message) < 0 ||
	    set_str(req, "state", a->state) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static json_t *build_deliveries(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	json_t *req = json_pack("{ss sb}", "cmd", cmd->name, "dead", a->dead);

	(void)o;
	if (req && a->incident)
		return with_id(req, "incident", "--incident", a->incident, err, errlen);
	return req;
}

static json_t *build_retry(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	(void)o;
	return with_id(new_request(cmd->name), "id", "DELIVERY", a->pos[0], err, errlen);
}

/* drafts; drafts show|edit|approve|reject ID */
static json_t *build_drafts(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	static const char *const subs[][2] = {
	    {"show", "draft"}, {"edit", "draft_edit"}, {"approve", "draft_approve"}, {"reject", "draft_reject"}};
	const char *ctl = NULL;
	json_t *req;

	if (a->npos == 0) {
		if (a->text || a->message) {
			usage_fail(err, errlen, "%s goes with a subcommand (edit, reject)",
			           a->text ? "--text" : "--message");
			return NULL;
		}
		return new_request(cmd->name);
	}
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
		if (strcmp(a->pos[0], subs[i][0]) == 0)
			ctl = subs[i][1];
	if (!ctl) {
		usage_fail(err, errlen, "unknown drafts subcommand \"%s\" (use show, edit, approve or reject)",
		           a->pos[0]);
		return NULL;
	}
	if (a->npos < 2) {
		usage_fail(err, errlen, "drafts %s needs a draft ID", a->pos[0]);
		return NULL;
	}
	if (strcmp(a->pos[0], "edit") == 0 ? !a->text : a->text != NULL) {
		usage_fail(err, errlen, a->text ? "--text goes with drafts edit" : "drafts edit needs --text TEXT");
		return NULL;
	}
	if (a->message && strcmp(a->pos[0], "reject") != 0) {
		usage_fail(err, errlen, "--message goes with drafts reject (the reason)");
		return NULL;
	}
	req = with_id(new_request(ctl), "id", "ID", a->pos[1], err, errlen);
	if (req && (set_str(req, "actor", strcmp(ctl, "draft") ? o->actor : NULL) < 0 ||
	            set_str(req, "text", a->text) < 0 || set_str(req, "message", a->message) < 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* subscribers [list]; subscribers add|remove ADDRESS [--component NAME]... */
static json_t *build_subscribers(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	const char *sub = a->npos ? a->pos[0] : "list";
	json_t *req, *comps;

	(void)cmd;
	if (strcmp(sub, "list") == 0) {
		if (a->npos > 1 || a->ncomponents) {
			usage_fail(err, errlen, "subscribers list takes no %s",
			           a->ncomponents ? "--component" : "address");
			return NULL;
		}
		return new_request("subscribers");
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0) {
		usage_fail(err, errlen, "unknown subscribers subcommand \"%s\" (use list, add or remove)", sub);
		return NULL;
	}
	if (a->npos < 2) {
		usage_fail(err, errlen, "subscribers %s needs an email address or a phone number (+14155550100)", sub);
		return NULL;
	}
	if (a->ncomponents && strcmp(sub, "remove") == 0) {
		usage_fail(err, errlen, "--component goes with subscribers add");
		return NULL;
	}
	req = json_pack("{ss ss}", "cmd", strcmp(sub, "add") == 0 ? "subscriber_add" : "subscriber_remove", "address",
	                a->pos[1]);
	comps = json_array();
	for (int i = 0; req && comps && i < a->ncomponents; i++)
		if (json_array_append_new(comps, json_string(a->components[i])) < 0)
			break;
	if (!req || !comps || json_object_set_new(req, "components", comps) < 0 ||
	    set_str(req, "actor", o->actor) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* The post-mortem in path, read and checked here so that crierd gets only text it can take. New, or NULL with err. */
static char *read_postmortem(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat sb;
	char *buf = strbuf_read_file(path, POSTMORTEM_MAX, len, &sb);

	if (!buf) {
		if (errno == EISDIR)
			usage_fail(err, errlen, "cannot read %s: it is a directory", path);
		/* A pipe's size is what was read; its name is cut as markdown_check, which saw it before, cuts it. */
		else if (errno == EFBIG)
			usage_fail(err, errlen, "%.*s is %lld bytes, over the limit of %d bytes (%d KiB)",
			           S_ISREG(sb.st_mode) ? INT_MAX : 200, path,
			           S_ISREG(sb.st_mode) ? (long long)sb.st_size : POSTMORTEM_MAX + 1LL, POSTMORTEM_MAX,
			           POSTMORTEM_MAX / 1024);
		else if (errno == ENOMEM)
			usage_fail(err, errlen, "out of memory");
		else
			usage_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (markdown_check(buf, *len, POSTMORTEM_MAX, path, err, errlen) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static json_t *build_postmortem(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	static const char *const subs[][2] = {{"list", "postmortems"},
	                                      {"show", "postmortem"},
	                                      {"draft", "postmortem_draft"},
	                                      {"publish", "postmortem_publish"}};
	const char *sub = a->npos ? a->pos[0] : "list", *ctl = NULL;
	int publish = strcmp(sub, "publish") == 0;
	char *md;
	size_t len;
	json_t *req;

	(void)cmd;
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
		if (strcmp(sub, subs[i][0]) == 0)
			ctl = subs[i][1];
	if (!ctl) {
		usage_fail(err, errlen, "unknown postmortem subcommand \"%s\" (use list, show, draft or publish)", sub);
		return NULL;
	}
	if (strcmp(sub, "list") == 0) {
		if (a->npos > 1) {
			usage_fail(err, errlen, "postmortem list takes no ID");
			return NULL;
		}
		return new_request(ctl);
	}
	if (publish && a->npos < 3) {
		usage_fail(err, errlen, "postmortem publish needs an incident ID and a FILE");
		return NULL;
	}
	if (!publish && a->npos != 2) {
		usage_fail(err, errlen, "postmortem %s %s", sub,
		           a->npos < 2 ? "needs an incident ID" : "takes an incident ID only");
		return NULL;
	}
	req = with_id(new_request(ctl), "id", "ID", a->pos[1], err, errlen);
	if (!req || !publish)
		return req;
	md = read_postmortem(a->pos[2], &len, err, errlen);
	if (!md || json_object_set_new(req, "markdown", json_stringn(md, len)) < 0 ||
	    set_str(req, "actor", o->actor) < 0) {
		free(md);
		json_decref(req);
		return NULL;
	}
	free(md);
	return req;
}

static json_t *build_status(const command *cmd, const cmd_args *a, const opts *o, char *err, size_t errlen)
{
	(void)a;
	(void)o;
	(void)err;
	(void)errlen;
	return new_request(cmd->name);
}

static const command commands[] = {
    {"incidents", "[--all]", "list open incidents (--all: resolved ones too)", "crierctl incidents --all", "--all", 0,
     build_incidents, print_incidents, 0},
    {"show", "ID", "one incident: its state, alerts and timeline", "crierctl show 3", "", 1, build_show, print_show, 0},
    {"ack", "ID [--message TEXT]", "acknowledge an incident: someone is on it (state becomes identified)",
     "crierctl ack 3 --message \"looking at the API errors\"", "--message", 1, build_human, print_ack, 0},
    {"update", "ID [--state S] --message TEXT",
     "post an update; S is investigating, identified, monitoring or resolved",
     "crierctl update 3 --state monitoring --message \"fix deployed, watching error rates\"", "--message --state", 1,
     build_human, print_update, 0},
    {"resolve", "ID [--message TEXT]", "resolve an incident now", "crierctl resolve 3 --message \"all clear\"",
     "--message", 1, build_human, print_resolve, 0},
    {"deliveries", "[--dead] [--incident ID]", "notifications queued, sent or dead (newest first, at most 500)",
     "crierctl deliveries --dead --incident 3", "--dead --incident", 0, build_deliveries, print_deliveries, 0},
    {"retry", "DELIVERY", "queue a failed or dead delivery again, now", "crierctl retry 42", "", 1, build_retry,
     print_retry, 0},
    {"status", "", "crierd's version, uptime, queue sizes and plugin instances", "crierctl status", "", 0, build_status,
     print_status, 0},
    {"drafts", "[show|edit|approve|reject ID]",
     "drafted posts, pending first; show, edit --text TEXT, approve (publishes), reject [--message WHY]",
     "crierctl drafts approve 7", "--text --message", 0, build_drafts, print_drafts, 2},
    {"subscribers", "[list|add|remove ADDRESS] [--component NAME]...",
     "people told of public incidents by email or SMS; add confirms at once, --component limits to some",
     "crierctl subscribers add jane@example.com --component API", "--component", 0, build_subscribers,
     print_subscribers, 2},
    {"postmortem", "[show|draft|publish ID]",
     "post-mortems of resolved incidents; show ID (where its draft is), draft ID (write it again), publish ID FILE",
     "crierctl postmortem publish 3 incident-3.md", "", 0, build_postmortem, print_postmortem, 3},
};

#define N_COMMANDS (sizeof commands / sizeof *commands)

static void print_help(void)
{
	printf("crierctl: talk to a running crierd over its control socket\n\n");
	printf("%s\n\ncommands:\n", GLOBAL_USAGE);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char line[128];

		snprintf(line, sizeof line, "%s %s", commands[i].name, commands[i].args);
		printf("  %-38s %s\n", line, commands[i].summary);
		printf("  %-38s   e.g. %s\n", "", commands[i].example);
	}
	printf("\noptions:\n"
	       "  --socket PATH      crierd's control socket (default: $CRIER_SOCKET, else %s)\n"
	       "  --json             print the reply as JSON instead of tables\n"
	       "  --actor NAME       who you are on the incident's timeline (default: $USER)\n"
	       "  --timeout SECONDS  how long to wait for crierd's answer (default: 5)\n"
	       "  -h, --help         this help\n"
	       "  --version          crierctl's version\n"
	       "\nexit status: 0 done, 1 crierd refused the request, 2 crierd not reachable, 64 usage error\n",
	       DEFAULT_SOCKET);
}

static int usage_error(const char *usage_line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *usage_line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "crierctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage_line);
	return EXIT_USAGE;
}

static int has_flag(const command *cmd, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = cmd->flags;

	while ((p = strstr(p, flag))) {
		if ((p == cmd->flags || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

/* Command options that take a value, so that the value is never read as an option of its own. */
static int takes_value(const char *arg)
{
	return strcmp(arg, "--message") == 0 || strcmp(arg, "--state") == 0 || strcmp(arg, "--incident") == 0 ||
	       strcmp(arg, "--text") == 0 || strcmp(arg, "--component") == 0;
}

static int parse_cmd_args(const command *cmd, int argc, char **argv, cmd_args *a, char *err, size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;
		char flag[32];
		const char *eq;

		if (arg[0] != '-' || arg[1] == '\0') {
			if (a->npos >= (cmd->maxpos ? cmd->maxpos : cmd->npos))
				return usage_fail(err, errlen, "unexpected argument \"%s\"", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		eq = strchr(arg, '=');
		if (eq && arg[1] == '-' && (size_t)(eq - arg) < sizeof flag) {
			snprintf(flag, sizeof flag, "%.*s", (int)(eq - arg), arg);
			val = eq + 1;
		} else {
			snprintf(flag, sizeof flag, "%s", arg);
		}
		if (!has_flag(cmd, flag))
			return usage_fail(err, errlen, "%s does not take %s", cmd->name, arg);
		if (takes_value(flag)) {
			if (!val) {
				if (i + 1 >= argc)
					return usage_fail(err, errlen, "%s needs a value", flag);
				val = argv[++i];
			}
			if (strcmp(flag, "--message") == 0)
				a->message = val;
			else if (strcmp(flag, "--text") == 0)
				a->text = val;
			else if (strcmp(flag, "--state") == 0)
				a->state = val;
			else if (strcmp(flag, "--component") == 0) {
				if (a->ncomponents == (int)(sizeof a->components / sizeof *a->components))
					return usage_fail(err, errlen, "at most %zu --component",
					                  sizeof a->components / sizeof *a->components);
				a->components[a->ncomponents++] = val;
			} else
				a->incident = val;
		} else if (val) {
			return usage_fail(err, errlen, "%s takes no value", flag);
		} else if (strcmp(flag, "--all") == 0) {
			a->all = 1;
		} else if (strcmp(flag, "--dead") == 0) {
			a->dead = 1;
		}
	}
	if (a->npos < cmd->npos)
		return usage_fail(err, errlen, "%s needs %s", cmd->name, cmd->args);
	return 0;
}

/* ---- talking to crierd ---- */

/*
 * A socket file with nobody behind it (crierd was killed) refuses plain
 * connections, and one of another user's is closed to us; ZeroMQ would
 * instead retry silently until the timeout. Returns 0 when a connection
 * can be made (or when it cannot tell), else the errno of connect().
 */
static int socket_probe(const char *path)
{
	struct sockaddr_un sa;
	int fd, e = 0;

	if (strlen(path) >= sizeof sa.sun_path)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		e = errno;
	close(fd);
	return e;
}

/* Wait for ev on sock until deadline (monotonic ms). 1 ready, 0 timed out, -1 error. */
static int wait_for(void *sock, short ev, int64_t deadline)
{
	for (;;) {
		zmq_pollitem_t item = {sock, 0, ev, 0};
		int64_t left = deadline - timefmt_mono_ms();
		int rc;

		if (left < 0)
			left = 0;
		rc = zmq_poll(&item, 1, (long)left);
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (zmq_errno() != EINTR)
			return -1;
	}
}

/*
 * Send req and wait for the reply (new, NUL-terminated, in *reply).
 * Returns 0, -1 on timeout, -2 on another failure (err says why).
 */
static int roundtrip(const char *path, double timeout_s, const char *req, char **reply, char *err, size_t errlen)
{
	void *ctx = NULL, *sock = NULL;
	char *endpoint = NULL;
	int linger = 0, rc = -2, w;
	int64_t deadline = timefmt_mono_ms() + (int64_t)(timeout_s * 1000.0);
	zmq_msg_t msg;
	int msg_open = 0;

	*reply = NULL;
	if (asprintf(&endpoint, "ipc://%s", path) < 0) {
		endpoint = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
	/* LINGER 0: an unanswered request must not keep the process alive at exit. */
	if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0 || zmq_connect(sock, endpoint) < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", path, zmq_strerror(zmq_errno()));
		goto out;
	}
	w = wait_for(sock, ZMQ_POLLOUT, deadline);
	if (w == 0) {
		rc = -1;
		goto out;
	}
	if (w < 0 || zmq_send(sock, req, strlen(req), ZMQ_DONTWAIT) < 0) {
		snprintf(err, errlen, "cannot send to %s: %s", path, zmq_strerror(zmq_errno()));
		goto out;
	}
	w = wait_for(sock, ZMQ_POLLIN, deadline);
	if (w == 0) {
		rc = -1;
		goto out;
	}
	zmq_msg_init(&msg);
	msg_open = 1;
	if (w < 0 || zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		snprintf(err, errlen, "cannot read the reply from %s: %s", path, zmq_strerror(zmq_errno()));
		goto out;
	}
	*reply = malloc(zmq_msg_size(&msg) + 1);
	if (!*reply) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*reply, zmq_msg_data(&msg), zmq_msg_size(&msg));
	(*reply)[zmq_msg_size(&msg)] = '\0';
	rc = 0;
out:
	if (msg_open)
		zmq_msg_close(&msg);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	free(endpoint);
	return rc;
}

/* ---- main ---- */

/* $USER, else $LOGNAME, else the account name: a timeline entry should say who. */
static const char *default_actor(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u)
		return u;
	u = getenv("LOGNAME");
	if (u && *u)
		return u;
	pw = getpwuid(getuid());
	return pw && pw->pw_name && *pw->pw_name ? pw->pw_name : NULL;
}

static int parse_timeout(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	opts o = {.socket = NULL, .actor = default_actor(), .timeout_s = 5, .json = 0};
	char **rest = NULL, err[512] = "", *reqtxt = NULL, *replytxt = NULL, cmd_usage[256];
	int nrest = 0, help = 0, version = 0, status = EXIT_UNREACHABLE;
	const command *cmd = NULL;
	cmd_args a;
	json_t *req = NULL, *reply = NULL;
	json_error_t jerr;
	struct stat st;
	int rc;

	memset(&a, 0, sizeof a);
	rest = calloc((size_t)argc + 1, sizeof *rest);
	if (!rest) {
		fprintf(stderr, "crierctl: out of memory\n");
		return EXIT_UNREACHABLE;
	}
	/* Global options may stand anywhere; everything else belongs to the command. */
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		size_t n = 0;
		static const char *const with_value[] = {"--socket", "--actor", "--timeout"};
		int matched = 0;

		if (takes_value(arg)) {
			rest[nrest++] = argv[i];
			if (i + 1 < argc)
				rest[nrest++] = argv[++i];
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			help = 1;
			continue;
		}
		if (strcmp(arg, "--version") == 0) {
			version = 1;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			o.json = 1;
			continue;
		}
		for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) {
			n = strlen(with_value[k]);
			if (strncmp(arg, with_value[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
				matched = 1;
				if (arg[n] == '=') {
					val = arg + n + 1;
				} else if (i + 1 < argc) {
					val = argv[++i];
				} else {
					status = usage_error(GLOBAL_USAGE, "%s needs a value", with_value[k]);
					goto out;
				}
				if (k == 0)
					o.socket = val;
				else if (k == 1)
					o.actor = val;
				else if (parse_timeout(val, &o.timeout_s) < 0) {
					status =
					    usage_error(GLOBAL_USAGE,
					                "--timeout needs a number of seconds above 0, got \"%s\"", val);
					goto out;
				}
				break;
			}
		}
		if (!matched)
			rest[nrest++] = argv[i];
	}
	if (help) {
		print_help();
		status = 0;
		goto out;
	}
	if (version) {
		printf("crierctl %s\n", CRIERCTL_VERSION);
		status = 0;
		goto out;
	}
	if (nrest == 0) {
		status = usage_error(GLOBAL_USAGE, "no command given (crierctl --help lists them)");
		goto out;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(rest[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		status = usage_error(GLOBAL_USAGE,
		                     rest[0][0] == '-' ? "unknown option \"%s\" (crierctl --help lists the options)"
		                                       : "unknown command \"%s\" (crierctl --help lists them)",
		                     rest[0]);
		goto out;
	}
	snprintf(cmd_usage, sizeof cmd_usage, "usage: crierctl %s%s%s", cmd->name, *cmd->args ? " " : "", cmd->args);
	if (parse_cmd_args(cmd, nrest - 1, rest + 1, &a, err, sizeof err) < 0) {
		status = usage_error(cmd_usage, "%s", err);
		goto out;
	}
	req = cmd->build(cmd, &a, &o, err, sizeof err);
	if (!req) {
		if (err[0])
			status = usage_error(cmd_usage, "%s", err);
		else
			fprintf(stderr, "crierctl: out of memory\n");
		goto out;
	}
	reqtxt = json_dumps(req, JSON_COMPACT);
	if (!reqtxt) {
		fprintf(stderr, "crierctl: out of memory\n");
		goto out;
	}

	if (!o.socket || !*o.socket) {
		const char *env = getenv("CRIER_SOCKET");
		o.socket = env && *env ? env : DEFAULT_SOCKET;
	}
	if (stat(o.socket, &st) < 0) {
		fprintf(stderr,
		        "crierctl: crierd is not running (no control socket at %s); start it with 'make run' or point "
		        "--socket/CRIER_SOCKET at its socket\n",
		        o.socket);
		goto out;
	}
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
		        "crierctl: %s is not a socket; point --socket/CRIER_SOCKET at crierd's control socket\n",
		        o.socket);
		goto out;
	}
	rc = socket_probe(o.socket);
	if (rc == ECONNREFUSED) {
		fprintf(stderr,
		        "crierctl: crierd is not running (nothing listens on the control socket at %s); start it with "
		        "'make run' or point --socket/CRIER_SOCKET at its socket\n",
		        o.socket);
		goto out;
	}
	if (rc == EACCES || rc == EPERM) {
		fprintf(stderr,
		        "crierctl: permission denied on %s (the control socket is open only to the user running "
		        "crierd)\n",
		        o.socket);
		goto out;
	}
	rc = roundtrip(o.socket, o.timeout_s, reqtxt, &replytxt, err, sizeof err);
	if (rc == -1) {
		fprintf(stderr, "crierctl: crierd is not answering on %s (waited %gs)\n", o.socket, o.timeout_s);
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "crierctl: %s\n", err);
		goto out;
	}
	reply = json_loads(replytxt, 0, &jerr);
	if (!json_is_object(reply)) {
		fprintf(stderr, "crierctl: crierd's reply is not a JSON object (%s)\n",
		        reply ? "another JSON value" : jerr.text);
		goto out;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));
		char *ce = clean(e ? e : "crierd refused the request without saying why");

		fprintf(stderr, "crierctl: %s\n", ce ? ce : "crierd refused the request");
		free(ce);
		status = EXIT_REFUSED;
		goto out;
	}
	if (o.json) {
		char *out;

		json_object_del(reply, "ok");
		out = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (!out) {
			fprintf(stderr, "crierctl: out of memory\n");
			goto out;
		}
		printf("%s\n", out);
		free(out);
	} else {
		cmd->print(&a, reply);
	}
	status = fflush(stdout) == 0 ? 0 : EXIT_UNREACHABLE;
out:
	json_decref(req);
	json_decref(reply);
	free(reqtxt);
	free(replytxt);
	free(rest);
	return status;
}
