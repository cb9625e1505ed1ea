/*
 * Post-mortems. See postmortem.h for the lifecycle and docs/postmortems.md
 * for the people's side.
 *
 * The draft is a file people edit in place, so crier never overwrites one
 * it did not write: the store keeps a hash of the text crier last wrote,
 * and a file whose bytes no longer match it (or that was there first) is a
 * person's and is left alone. An empty file counts as missing.
 */
#include "postmortem.h"

#include "alert.h"
#include "audience.h"
#include "control.h"
#include "hmap.h"
#include "log.h"
#include "markdown.h"
#include "strbuf.h"
#include "timefmt.h"

#include <crier/plugin_file.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TIMELINE_MAX   500        /* events in a draft; the rest are named by count */
#define ALERTS_MAX     200        /* alerts in a draft */
#define DUE_BATCH      64         /* reminders per tick; more come at once after */
#define UNDRAFTED_MAX  1000       /* drafts written at start-up after a crash */
#define DRAFT_READ_MAX (16 << 20) /* a bigger file is a person's, unread */

enum { DRAFT_MISSING, DRAFT_OURS, DRAFT_EDITED };

struct postmortems {
	store *st;
	incidents *inc;
	const config *cfg;
	int64_t next_due; /* the earliest reminder: may be early (a rolled back row), never late */
	int64_t *queue;   /* resolved in the open transaction: drafts to write once it commits */
	size_t n_queue, cap_queue;
};

/* ---- small helpers ---------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static int64_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* "2026-11-21 12:01:00 UTC": people read drafts, not RFC 3339. */
static const char *utc_text(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "(unknown time)");
	return buf;
}

/* The two largest units: "1 h 24 min", "3 d 2 h", "40 s". */
static const char *duration_text(int64_t ms, char *buf, size_t n)
{
	long long s = ms > 0 ? (long long)(ms / 1000) : 0;
	if (s >= 86400)
		snprintf(buf, n, "%lld d %lld h", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(buf, n, "%lld h %lld min", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%lld min %lld s", s / 60, s % 60);
	else
		snprintf(buf, n, "%lld s", s);
	return buf;
}

static char *draft_dir(const postmortems *pm)
{
	char *p;
	return asprintf(&p, "%s/postmortems", pm->cfg->state_dir) < 0 ? NULL : p;
}

static char *draft_path(const postmortems *pm, int64_t id)
{
	char *p;
	return asprintf(&p, "%s/postmortems/incident-%" PRId64 ".md", pm->cfg->state_dir, id) < 0 ? NULL : p;
}

/* FNV-1a and the length: tells crier's own text from an edited one. */
static void text_hash(const char *s, size_t n, char *out, size_t outlen)
{
	snprintf(out, outlen, "fnv1a64:%016" PRIx64 ":%zu", hmap_hashn(s, n), n);
}

/* ---- the draft's text --------------------------------------------------------------- */

typedef struct draft {
	FILE *f;
	int oom;
} draft;

/* Outside text, reading as itself in Markdown. */
static void lit(draft *d, const char *s)
{
	char *q = markdown_literal(s ? s : "");
	if (!q) {
		d->oom = 1;
		return;
	}
	fputs(q, d->f);
	free(q);
}

static const json_t *first_of_type(const json_t *events, const char *type, int last)
{
	const json_t *found = NULL, *e;
	size_t i;
	json_array_foreach(events, i, e)
	{
		if (strcmp(jstr(e, "type"), type) != 0)
			continue;
		found = e;
		if (!last)
			break;
	}
	return found;
}

static const char *alertname_of(const json_t *alert)
{
	return jstr(json_object_get(alert, "labels"), "alertname");
}

static void write_summary(draft *d, int64_t id, const json_t *inc, const json_t *events, const json_t *comps)
{
	char t1[48], t2[48];
	const json_t *opened = first_of_type(events, "opened", 0);
	const json_t *resolved = first_of_type(events, "resolved", 1);
	const char *an = alertname_of(json_object_get(json_object_get(opened, "data"), "alert"));
	int64_t from = jint(inc, "opened_at"), to = jint(inc, "resolved_at");

	fprintf(d->f, "## Summary\n\n- **Incident:** %" PRId64 ", ", id);
	lit(d, jstr(inc, "title"));
	fprintf(d->f, "\n- **Severity:** %s\n- **Detected:** %s by ", alert_severity_name((int)jint(inc, "severity")),
	        utc_text(from, t1, sizeof(t1)));
	lit(d, opened ? jstr(opened, "actor") : "an alert");
	if (*an) {
		fputs(" (alert ", d->f);
		lit(d, an);
		fputs(")", d->f);
	}
	fprintf(d->f, "\n- **Resolved:** %s by ", to ? utc_text(to, t2, sizeof(t2)) : "(not yet)");
	lit(d, resolved ? jstr(resolved, "actor") : "nobody yet");
	fprintf(d->f, "\n- **Duration:** %s\n- **Affected components:** ",
	        to ? duration_text(to - from, t1, sizeof(t1)) : "(not resolved)");
	if (json_array_size(comps) == 0)
		fputs("none of the configured components", d->f);
	for (size_t i = 0; i < json_array_size(comps); i++) {
		fputs(i ? ", " : "", d->f);
		lit(d, json_string_value(json_array_get(comps, i)));
	}
	fputs("\n\n", d->f);
}

static void write_impact(draft *d, const json_t *alerts)
{
	const json_t *a;
	size_t i;
	fputs("## Impact\n\n*What customers saw, and for how long.*\n\n", d->f);
	json_array_foreach(alerts, i, a)
	{
		const char *impact = jstr(json_object_get(a, "annotations"), "impact");
		if (*impact) {
			fputs("The alerts said: ", d->f);
			lit(d, impact);
			fputs("\n\n", d->f);
			break;
		}
	}
}

/* Steps of drafts, prompts to write something, and the post-mortem itself are not part of the story. */
static int in_timeline(const char *type)
{
	static const char *const skipped[] = {"draft_created",       "draft_approved",        "draft_rejected",
	                                      "draft_failed",        "awaiting_first_update", "postmortem_due",
	                                      "postmortem_published"};
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		if (strcmp(type, skipped[i]) == 0)
			return 0;
	return 1;
}

/* "what by actor", then ": message" when there is one. */
static void entry(draft *d, const char *what, const char *subject, const char *how, const char *actor,
                  const char *message)
{
	fputs(what, d->f);
	if (subject && *subject) {
		fputc(' ', d->f);
		lit(d, subject);
	}
	fputs(how, d->f);
	lit(d, actor);
	if (message && *message) {
		fputs(": ", d->f);
		lit(d, message);
	}
	fputc('\n', d->f);
}

static void timeline_entry(draft *d, const json_t *ev)
{
	char when[48], what[160];
	const char *type = jstr(ev, "type"), *actor = jstr(ev, "actor"), *msg = jstr(ev, "message");
	const json_t *data = json_object_get(ev, "data");
	const json_t *prev = json_object_get(data, "previous");
	const char *an = alertname_of(json_object_get(data, "alert"));
	const char *state = jstr(json_object_get(data, "incident"), "state");

	utc_text(jint(ev, "time"), when, sizeof(when));
	when[strlen(when) > 4 ? strlen(when) - 4 : 0] = '\0'; /* the heading says UTC */
	fprintf(d->f, "- **%s** ", when);
	if (strcmp(type, "opened") == 0) {
		entry(d, "Opened", NULL, " by ", actor, msg);
	} else if (strcmp(type, "alert_joined") == 0) {
		entry(d, "Alert", an, " fired, from ", actor, msg);
	} else if (strcmp(type, "alert_resolved") == 0) {
		entry(d, "Alert", an, " resolved, from ", actor, NULL);
	} else if (strcmp(type, "severity_raised") == 0) {
		snprintf(what, sizeof(what), "Severity raised from %s to %s", jstr(prev, "severity"),
		         jstr(json_object_get(data, "incident"), "severity"));
		entry(d, what, NULL, " by ", actor, NULL);
	} else if (strcmp(type, "state_changed") == 0) {
		snprintf(what, sizeof(what), "State changed from %s to %s", jstr(prev, "state"), state);
		entry(d, what, NULL, " by ", actor, msg);
	} else if (strcmp(type, "acknowledged") == 0) {
		entry(d, "Acknowledged", NULL, " by ", actor, msg);
	} else if (strcmp(type, "update") == 0) {
		if (prev && strcmp(jstr(prev, "state"), state) != 0)
			snprintf(what, sizeof(what), "Update (now %s)", state);
		else
			snprintf(what, sizeof(what), "Update");
		entry(d, what, NULL, " by ", actor, msg);
	} else if (strcmp(type, "resolved") == 0) {
		entry(d, "Resolved", NULL, " by ", actor, msg);
	} else if (strcmp(type, "draft_published") == 0) {
		entry(d, "Public post published", NULL, " by ", actor, NULL);
	} else if (strcmp(type, "reminder") == 0) {
		/* The cadence's prompts tell how the communication went, not their commands. */
		entry(d, "Reminder to post a public update", NULL, ", from ", actor, NULL);
	} else if (strcmp(type, "escalation") == 0) {
		entry(d, "Escalated: still no public update", NULL, ", from ", actor, NULL);
	} else {
		entry(d, "Event", type, " from ", actor, msg);
	}
}

static void write_timeline(draft *d, int64_t id, const json_t *events)
{
	const json_t *e;
	size_t i, shown = 0, more = 0;
	fputs("## Timeline (UTC)\n\n", d->f);
	json_array_foreach(events, i, e)
	{
		if (!in_timeline(jstr(e, "type")))
			continue;
		if (shown == TIMELINE_MAX) {
			more++;
			continue;
		}
		timeline_entry(d, e);
		shown++;
	}
	if (more)
		fprintf(d->f, "- ... and %zu more events: `crierctl show %" PRId64 "`\n", more, id);
	fputs("\n", d->f);
}

static void write_alerts(draft *d, const json_t *alerts)
{
	char t1[48], t2[48];
	const json_t *a;
	size_t i;
	fputs("## Alerts involved\n\n", d->f);
	if (json_array_size(alerts) == 0)
		fputs("None recorded.\n", d->f);
	json_array_foreach(alerts, i, a)
	{
		if (i == ALERTS_MAX) {
			fprintf(d->f, "- ... and %zu more\n", json_array_size(alerts) - ALERTS_MAX);
			break;
		}
		const char *name = alertname_of(a);
		int firing = strcmp(jstr(a, "status"), "firing") == 0;
		/* A source that gives no end time: the resolution we saw is close enough. */
		int64_t end = jint(a, "ends_at") ? jint(a, "ends_at") : jint(a, "updated_at");
		fputs("- ", d->f);
		lit(d, *name ? name : jstr(a, "key"));
		fputs(" from ", d->f);
		lit(d, jstr(a, "source"));
		fprintf(d->f, ": started %s, %s%s",
		        jint(a, "starts_at") ? utc_text(jint(a, "starts_at"), t1, sizeof(t1)) : "(time not given)",
		        firing ? "still firing" : "ended ", firing ? "" : utc_text(end, t2, sizeof(t2)));
		const char *summary = jstr(json_object_get(a, "annotations"), "summary");
		if (*summary) {
			fputs(" (", d->f);
			lit(d, summary);
			fputs(")", d->f);
		}
		fputs("\n", d->f);
	}
	fputs("\n", d->f);
}

char *postmortem_draft_text(postmortems *pm, int64_t id, int64_t now)
{
	char *out = NULL, when[48];
	size_t len = 0;
	json_t *inc = store_incident_json(pm->st, id);
	json_t *events = inc ? store_events_json(pm->st, id) : NULL;
	json_t *alerts = inc ? store_alerts_json(pm->st, id) : NULL;
	json_t *comps = inc ? audience_components(pm->cfg, json_object_get(inc, "labels")) : NULL;
	FILE *f = events && alerts && comps ? open_memstream(&out, &len) : NULL;
	if (!f)
		goto out;
	draft d = {.f = f};
	fputs("# Post-mortem: ", f);
	lit(&d, jstr(inc, "title"));
	fprintf(f,
	        "\n\n*A draft crier wrote on %s from the timeline of incident %" PRId64
	        ". Fill in the sections in italics, cut what readers outside the company should not see, then "
	        "publish it with `crierctl postmortem publish %" PRId64 " FILE`.*\n\n",
	        utc_text(now, when, sizeof(when)), id, id);
	if (jint(inc, "audience") & AUDIENCE_SECURITY)
		fputs("**This is a security incident.** The timeline and the alerts below name internal systems and "
		      "alerts: keep them out of what you publish.\n\n",
		      f);
	write_summary(&d, id, inc, events, comps);
	write_impact(&d, alerts);
	write_timeline(&d, id, events);
	write_alerts(&d, alerts);
	fputs("## Root cause\n\n*What went wrong, and why it could.*\n\n"
	      "## Resolution\n\n*What fixed it, and what we did while it lasted.*\n\n"
	      "## What we will change\n\n*What keeps it from happening again, each with an owner and a date.*\n",
	      f);
	int failed = ferror(f) || d.oom;
	if (fclose(f) != 0 || failed) {
		free(out);
		out = NULL;
	}
out:
	json_decref(inc);
	json_decref(events);
	json_decref(alerts);
	json_decref(comps);
	return out;
}

/* ---- the draft file ------------------------------------------------------------------- */

/* Whose is the file at path, given the hash of what crier last wrote there (NULL: nothing)? */
static int draft_state(const char *path, const char *hash)
{
	struct stat sb;
	size_t len;
	char *text;
	int state = DRAFT_EDITED; /* unreadable, too big or not a file: not ours to touch */
	char h[64];

	/* Looked at before it is opened: a FIFO there would block the open, a
	 * device would be read for nothing, and with no hash a file that is
	 * not empty is someone's whatever it holds. */
	if (stat(path, &sb) < 0)
		return errno == ENOENT ? DRAFT_MISSING : DRAFT_EDITED;
	if (!S_ISREG(sb.st_mode))
		return DRAFT_EDITED;
	if (sb.st_size == 0)
		return DRAFT_MISSING;
	if (!hash)
		return DRAFT_EDITED;
	text = strbuf_read_file(path, DRAFT_READ_MAX, &len, &sb);
	if (!text)
		return errno == ENOENT && !sb.st_mode ? DRAFT_MISSING : DRAFT_EDITED;
	/* Replaced since the stat: what is there now decides. */
	if (S_ISREG(sb.st_mode) && len == 0)
		state = DRAFT_MISSING;
	else if (S_ISREG(sb.st_mode)) {
		text_hash(text, len, h, sizeof(h));
		state = strcmp(h, hash) == 0 ? DRAFT_OURS : DRAFT_EDITED;
	}
	free(text);
	return state;
}

/* Write text to path through a temporary file and a rename: a reader sees the old file or the new. */
static int write_atomic(const char *dir, const char *path, const char *text, char *err, size_t errlen)
{
	char *tmp = NULL;
	int fd = -1, ret = -1;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (crier_write_all(fd, text, strlen(text)) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	int rc = close(fd);
	fd = -1;
	if (rc < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

/*
 * Write incident id's draft from its timeline, in the caller's
 * transaction, unless the file there is a person's. 1 written, 0 left
 * alone, -1 failed (err says why; a file written is removed again).
 */
static int write_draft(postmortems *pm, int64_t id, int64_t now, char *err, size_t errlen)
{
	store_postmortem row;
	char *dir = draft_dir(pm), *path = draft_path(pm, id), *text = NULL, hash[64];
	int ret = -1, got = store_postmortem_get(pm->st, id, &row);
	if (got <= 0 || !dir || !path) {
		snprintf(err, errlen, got == 0 ? "no post-mortem row" : "store failed: %s", store_error(pm->st));
		goto out;
	}
	if (draft_state(path, row.draft_hash) == DRAFT_EDITED) {
		/* Someone's file was there before crier's first: it stays theirs. */
		ret = row.draft_hash || store_postmortem_drafted(pm->st, id, "", now) >= 0 ? 0 : -1;
		if (ret < 0)
			snprintf(err, errlen, "store failed: %s", store_error(pm->st));
		goto out;
	}
	if (!(text = postmortem_draft_text(pm, id, now))) {
		snprintf(err, errlen, "cannot build the draft: %s", store_error(pm->st));
		goto out;
	}
	text_hash(text, strlen(text), hash, sizeof(hash));
	if (write_atomic(dir, path, text, err, errlen) < 0)
		goto out;
	if (store_postmortem_drafted(pm->st, id, hash, now) <= 0) {
		unlink(path);
		snprintf(err, errlen, "store failed: %s", store_error(pm->st));
		goto out;
	}
	ret = 1;
out:
	if (got > 0)
		store_postmortem_free(&row);
	free(text);
	free(dir);
	free(path);
	return ret;
}

/* Write the drafts of ids in one transaction of their own. */
static void write_drafts(postmortems *pm, const int64_t *ids, size_t n, int64_t now)
{
	char err[512];
	unsigned char *wrote = calloc(n ? n : 1, 1);
	if (!wrote || store_begin(pm->st) < 0) {
		log_error("cannot write post-mortem drafts", " error=%s",
		          log_q(wrote ? store_error(pm->st) : "no memory"));
		free(wrote);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int r = write_draft(pm, ids[i], now, err, sizeof(err));
		wrote[i] = r > 0;
		if (r < 0)
			log_error("cannot write a post-mortem draft", " incident=%" PRId64 " error=%s", ids[i],
			          log_q(err));
		else if (r == 0)
			log_info("post-mortem draft left alone: a person's file is there", " incident=%" PRId64,
			         ids[i]);
	}
	if (store_commit(pm->st) < 0) {
		log_error("cannot record post-mortem drafts; removing them", " error=%s", log_q(store_error(pm->st)));
		store_rollback(pm->st);
		for (size_t i = 0; i < n; i++) {
			char *path = wrote[i] ? draft_path(pm, ids[i]) : NULL;
			if (path)
				unlink(path);
			free(path);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (wrote[i])
				log_info("post-mortem draft written", " incident=%" PRId64, ids[i]);
	}
	free(wrote);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

postmortems *postmortem_new(store *st, incidents *inc, const config *cfg, char *err, size_t errlen)
{
	postmortems *pm = calloc(1, sizeof(*pm));
	int64_t *ids = malloc(UNDRAFTED_MAX * sizeof(*ids));
	if (!pm || !ids) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*pm = (postmortems){.st = st, .inc = inc, .cfg = cfg};
	pm->next_due = store_postmortem_next_due(st);
	int n = pm->next_due < 0 ? -1 : store_postmortem_undrafted(st, ids, UNDRAFTED_MAX);
	if (n < 0) {
		snprintf(err, errlen, "cannot read post-mortems from the store: %s", store_error(st));
		goto fail;
	}
	if (n > 0)
		write_drafts(pm, ids, (size_t)n, timefmt_now_ms());
	free(ids);
	return pm;
fail:
	free(ids);
	free(pm);
	return NULL;
}

void postmortem_free(postmortems *pm)
{
	if (!pm)
		return;
	free(pm->queue);
	free(pm);
}

void postmortem_set_config(postmortems *pm, const config *cfg)
{
	pm->cfg = cfg;
}

int postmortem_resolved(postmortems *pm, int64_t id, int audience, int64_t now)
{
	/* Customers were told of a public incident, so its post-mortem is owed. */
	int owed = pm->cfg->postmortem_due_ms > 0 && (pm->cfg->postmortem_all || (audience & AUDIENCE_PUBLIC));
	int64_t due = owed ? now + pm->cfg->postmortem_due_ms : 0;
	if (store_postmortem_add(pm->st, id, now, due) < 0)
		return -1;
	if (due && due < pm->next_due)
		pm->next_due = due;
	if (pm->n_queue == pm->cap_queue) {
		size_t cap = pm->cap_queue ? pm->cap_queue * 2 : 16;
		int64_t *grown = realloc(pm->queue, cap * sizeof(*grown));
		if (!grown)
			return -1;
		pm->queue = grown;
		pm->cap_queue = cap;
	}
	pm->queue[pm->n_queue++] = id;
	return 0;
}

void postmortem_tx_done(postmortems *pm, int committed)
{
	size_t n = pm->n_queue;
	pm->n_queue = 0;
	if (!committed) {
		/* Reminders marked sent may be unsent again: look at the store once more. */
		pm->next_due = 0;
		return;
	}
	if (n)
		write_drafts(pm, pm->queue, n, timefmt_now_ms());
}

int64_t postmortem_next_deadline(const postmortems *pm)
{
	return pm->next_due;
}

/* ---- events -------------------------------------------------------------------------------- */

/* Record an event of type, carrying member (stolen: {"postmortem": ...}), on incident id's timeline and route it. */
static int64_t record(postmortems *pm, int64_t id, const char *type, const char *actor, const char *message,
                      json_t *member, int64_t now)
{
	incidents_event e = {.type = type, .actor = actor, .message = message, .lead = member};
	int64_t ev = member ? incidents_record(pm->inc, id, &e, now) : -1;
	json_decref(member);
	return ev;
}

static int remind(postmortems *pm, int64_t id, int64_t now)
{
	char msg[1024], ago[48];
	json_t *row = store_incident_json(pm->st, id);
	store_postmortem p;
	int got = row ? store_postmortem_get(pm->st, id, &p) : -1;
	char *path = draft_path(pm, id);
	int ret = -1;
	if (got <= 0 || !path)
		goto out;
	snprintf(msg, sizeof(msg),
	         "No post-mortem is published for incident %" PRId64 " (%.300s), resolved %s ago. Edit the draft at "
	         "%.400s, then publish it: crierctl postmortem publish %" PRId64 " FILE",
	         id, jstr(row, "title"), duration_text(now - p.resolved_at, ago, sizeof(ago)), path, id);
	json_t *member = json_pack("{s{ss so so}}", "postmortem", "draft", path, "resolved_at",
	                           timefmt_json(p.resolved_at), "due_at", timefmt_json(p.due_at));
	if (record(pm, id, "postmortem_due", "crier", msg, member, now) < 0 ||
	    store_postmortem_reminded(pm->st, id, now) < 0)
		goto out;
	log_info("post-mortem overdue: the internal channels are reminded", " incident=%" PRId64, id);
	ret = 0;
out:
	if (got > 0)
		store_postmortem_free(&p);
	json_decref(row);
	free(path);
	return ret;
}

int postmortem_tick(postmortems *pm, int64_t now, int64_t *next_ms)
{
	int64_t ids[DUE_BATCH];
	if (now < pm->next_due) {
		*next_ms = pm->next_due;
		return 0;
	}
	int n = store_postmortem_due(pm->st, now, ids, DUE_BATCH);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (remind(pm, ids[i], now) < 0)
			return -1;
	int64_t next = n == DUE_BATCH ? now : store_postmortem_next_due(pm->st);
	if (next < 0)
		return -1;
	pm->next_due = *next_ms = next;
	return n;
}

/* ---- control commands ------------------------------------------------------------------------ */

/* What people see of incident id's post-mortem (new), with row the incident (store form). */
static json_t *info(postmortems *pm, int64_t id, const json_t *row)
{
	store_postmortem p;
	int got = store_postmortem_get(pm->st, id, &p);
	char *path = draft_path(pm, id);
	json_t *j = NULL;
	if (got < 0 || !path)
		goto out;
	const char *status = "none";
	if (got > 0) {
		int st = draft_state(path, p.draft_hash);
		status = !p.draft_hash && st == DRAFT_MISSING ? "pending"
		         : st == DRAFT_MISSING                ? "missing"
		         : st == DRAFT_OURS                   ? "written"
		                                              : "edited";
	}
	j = json_pack("{sI ss ss so ss ss sb so ss? si so so}", "incident_id", (json_int_t)id, "title",
	              jstr(row, "title"), "state", jstr(row, "state"), "resolved_at",
	              timefmt_json(jint(row, "resolved_at")), "draft", path, "draft_status", status, "published",
	              got > 0 && p.published_at, "published_at", timefmt_json(got > 0 ? p.published_at : 0),
	              "published_by", got > 0 ? p.published_by : NULL, "revision", got > 0 ? p.revision : 0, "due_at",
	              timefmt_json(got > 0 ? p.due_at : 0), "reminded_at", timefmt_json(got > 0 ? p.reminded_at : 0));
out:
	if (got > 0)
		store_postmortem_free(&p);
	free(path);
	return j;
}

static char *cmd_list(postmortems *pm)
{
	static const char *const times[] = {"resolved_at", "due_at", "reminded_at", "published_at"};
	json_t *list = store_postmortems_json(pm->st), *e;
	size_t i;
	if (!list)
		return control_error(0, "store failed: %s", store_error(pm->st));
	json_array_foreach(list, i, e)
	{
		char *path = draft_path(pm, jint(e, "incident_id"));
		int ok = path && json_object_set_new(e, "draft", json_string(path)) == 0 &&
		         json_object_set_new(e, "published", json_boolean(jint(e, "published_at") != 0)) == 0;
		for (size_t k = 0; ok && k < sizeof(times) / sizeof(times[0]); k++)
			ok = json_object_set_new(e, times[k], timefmt_json(jint(e, times[k]))) == 0;
		free(path);
		if (!ok) {
			json_decref(list);
			return NULL;
		}
	}
	return control_reply(control_ok("postmortems", list, 0));
}

/* The incident a command names, resolved when must_be_resolved; NULL with *reply set. */
static json_t *incident_for(postmortems *pm, const json_t *req, const char *cmd, int must_be_resolved, char **reply)
{
	json_t *v = json_object_get(req, "id");
	int64_t id = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	if (id <= 0) {
		*reply = control_error(0, "%s needs a positive incident \"id\"", cmd);
		return NULL;
	}
	json_t *row = store_incident_json(pm->st, id);
	if (!row) {
		*reply = control_error(0, "no incident %" PRId64, id);
		return NULL;
	}
	const char *state = jstr(row, "state");
	if (must_be_resolved && strcmp(state, "resolved") != 0) {
		*reply = control_error(
		    0, "incident %" PRId64 " is %s, not resolved: its post-mortem comes once it is resolved", id,
		    state);
		json_decref(row);
		return NULL;
	}
	return row;
}

static char *cmd_draft(postmortems *pm, const json_t *row, int64_t now, int *rolled_back)
{
	char err[512], *path = NULL;
	int64_t id = jint(row, "id");
	if (store_begin(pm->st) < 0)
		return control_error(0, "store unavailable: %s", store_error(pm->st));
	int r = store_postmortem_add(pm->st, id, jint(row, "resolved_at"), 0) < 0
	            ? -1
	            : write_draft(pm, id, now, err, sizeof(err));
	if (r < 0 || store_commit(pm->st) < 0) {
		if (r >= 0)
			snprintf(err, sizeof(err), "store failed: %s", store_error(pm->st));
		store_rollback(pm->st);
		*rolled_back = 1;
		if (r > 0 && (path = draft_path(pm, id)))
			unlink(path);
		free(path);
		return control_error(0, "%s", err);
	}
	if (r == 0) {
		path = draft_path(pm, id);
		char *txt =
		    control_error(0,
		                  "the draft %s was edited since crier wrote it, and crier leaves a person's text "
		                  "alone: move it away to have a fresh one written",
		                  path ? path : "");
		free(path);
		return txt;
	}
	log_info("post-mortem draft written again by a person's request", " incident=%" PRId64, id);
	return control_reply(control_ok("postmortem", info(pm, id, row), 0));
}

static char *cmd_publish(postmortems *pm, const json_t *req, const json_t *row, int64_t now, int *rolled_back)
{
	char err[400], when[40], msg[80];
	int64_t id = jint(row, "id"), ev = -1;
	json_t *mdv = json_object_get(req, "markdown");
	const char *actor = json_string_value(json_object_get(req, "actor"));
	actor = actor && *actor ? actor : "operator";
	if (!json_is_string(mdv))
		return control_error(0, "postmortem_publish needs \"markdown\", the post-mortem's text");
	const char *md = json_string_value(mdv);
	size_t len = json_string_length(mdv);
	if (markdown_check(md, len, POSTMORTEM_MAX, "the post-mortem", err, sizeof(err)) < 0)
		return control_error(0, "%s", err);
	char *html = markdown_html(md, len, 2);
	if (!html)
		return NULL;
	if (store_begin(pm->st) < 0) {
		free(html);
		return control_error(0, "store unavailable: %s", store_error(pm->st));
	}
	store_postmortem p;
	int got = store_postmortem_add(pm->st, id, jint(row, "resolved_at"), 0) < 0
	              ? -1
	              : store_postmortem_get(pm->st, id, &p);
	if (got > 0) {
		int revision = p.revision + 1;
		store_postmortem_free(&p);
		if (revision == 1)
			snprintf(msg, sizeof(msg), "post-mortem published");
		else
			snprintf(msg, sizeof(msg), "post-mortem revised (revision %d)", revision);
		json_t *member =
		    json_pack("{s{ss ss ss si}}", "postmortem", "markdown", md, "html", html, "published_at",
		              timefmt_format(now, when, sizeof(when)), "revision", revision);
		ev = record(pm, id, "postmortem_published", actor, msg, member, now);
	}
	int kept = ev >= 0 && store_postmortem_publish(pm->st, id, md, html, actor, ev, now) > 0;
	free(html);
	if (!kept || store_commit(pm->st) < 0) {
		snprintf(err, sizeof(err), "store failed: %s", store_error(pm->st));
		store_rollback(pm->st);
		*rolled_back = 1;
		return control_error(0, "%s", err);
	}
	log_info("post-mortem published by a person", " incident=%" PRId64 " actor=%s bytes=%zu", id, log_q(actor),
	         len);
	return control_reply(control_ok("postmortem", info(pm, id, row), ev));
}

int postmortem_is_command(const char *cmd)
{
	return strcmp(cmd, "postmortems") == 0 || strcmp(cmd, "postmortem") == 0 ||
	       strcmp(cmd, "postmortem_draft") == 0 || strcmp(cmd, "postmortem_publish") == 0;
}

char *postmortem_control(postmortems *pm, const json_t *req, const char *cmd, int64_t now, int *rolled_back)
{
	char *reply = NULL;
	if (strcmp(cmd, "postmortems") == 0)
		return cmd_list(pm);
	int publish = strcmp(cmd, "postmortem_publish") == 0;
	int drafting = strcmp(cmd, "postmortem_draft") == 0;
	json_t *row = incident_for(pm, req, cmd, publish || drafting, &reply);
	if (!row)
		return reply;
	if (publish)
		reply = cmd_publish(pm, req, row, now, rolled_back);
	else if (drafting)
		reply = cmd_draft(pm, row, now, rolled_back);
	else
		reply = control_reply(control_ok("postmortem", info(pm, jint(row, "id"), row), 0));
	json_decref(row);
	return reply;
}
