#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEED_MAX_ENTRIES 50
#define DAY_MS           86400000LL

static const struct {
	const char *name;
	const char *text;   /* for a component or an incident */
	const char *banner; /* for the whole page */
	const char *symbol; /* beside the words, so status is not told by colour alone */
} impacts[IMPACT_N] = {
    [IMPACT_NONE] = {"operational", "Operational", "All systems operational", "\xe2\x9c\x93"},        /* ✓ */
    [IMPACT_MAINTENANCE] = {"maintenance", "Under maintenance", "Under maintenance", "\xe2\x9a\x99"}, /* ⚙ */
    [IMPACT_DEGRADED] = {"degraded_performance", "Degraded performance", "Degraded performance", "!"},
    [IMPACT_PARTIAL] = {"partial_outage", "Partial outage", "Partial outage", "!"},
    [IMPACT_MAJOR] = {"major_outage", "Major outage", "Major outage", "\xe2\x9c\x95"}, /* ✕ */
};

static const struct {
	const char *state;
	const char *text;
} state_texts[] = {
    {"investigating", "Investigating"},
    {"identified", "Identified"},
    {"monitoring", "Monitoring"},
    {"resolved", "Resolved"},
};

const char *render_impact_name(render_impact i)
{
	return impacts[i < IMPACT_N ? i : IMPACT_NONE].name;
}

const char *render_impact_text(render_impact i)
{
	return impacts[i < IMPACT_N ? i : IMPACT_NONE].text;
}

static const char *text_at(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *state_text(const char *state)
{
	for (size_t i = 0; i < sizeof(state_texts) / sizeof(state_texts[0]); i++)
		if (strcmp(state, state_texts[i].state) == 0)
			return state_texts[i].text;
	return "Investigating";
}

static int is_resolved(const json_t *inc)
{
	return !json_is_null(json_object_get(inc, "resolved_at")) && json_object_get(inc, "resolved_at");
}

render_impact render_incident_impact(const json_t *inc)
{
	const char *sev = text_at(inc, "severity");
	render_impact i;

	if (is_resolved(inc) || strcmp(text_at(inc, "state"), "resolved") == 0)
		return IMPACT_NONE;
	if (json_is_true(json_object_get(inc, "maintenance")))
		return IMPACT_MAINTENANCE;
	if (strcmp(sev, "critical") == 0)
		i = IMPACT_MAJOR;
	else if (strcmp(sev, "major") == 0)
		i = IMPACT_PARTIAL;
	else
		i = IMPACT_DEGRADED;
	/* A fix is in place and being watched: no longer an outage. */
	if (strcmp(text_at(inc, "state"), "monitoring") == 0 && i > IMPACT_DEGRADED)
		i = IMPACT_DEGRADED;
	return i;
}

/* ---- times ---- */

/* {"iso": "2026-11-21T12:01:00Z", "display": "2026-11-21 12:01 UTC", "day": "2026-11-21"} */
static json_t *time_obj(int64_t ms)
{
	char iso[32], display[32], day[16];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || !gmtime_r(&t, &tm))
		return json_pack("{ss ss ss}", "iso", "", "display", "", "day", "");
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(display, sizeof(display), "%Y-%m-%d %H:%M UTC", &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	return json_pack("{ss ss ss}", "iso", iso, "display", display, "day", day);
}

/* "2 h 5 min", "45 min", "3 d 4 h": how long an incident lasted, for people. */
static void duration_text(int64_t ms, char *out, size_t outlen)
{
	int64_t min = ms / 60000, h = min / 60, d = h / 24;

	if (ms < 0)
		min = h = d = 0;
	if (d > 0)
		snprintf(out, outlen, "%lld d %lld h", (long long)d, (long long)(h % 24));
	else if (h > 0)
		snprintf(out, outlen, "%lld h %lld min", (long long)h, (long long)(min % 60));
	else
		snprintf(out, outlen, "%lld min", (long long)(min > 0 ? min : 1));
}

/* ---- the context ---- */

static const char *site_url(const render_conf *conf, const json_t *model)
{
	if (conf->url && *conf->url)
		return conf->url;
	return text_at(model, "site_url");
}

static json_t *components_list(const json_t *names)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(names, i, v)
	{
		if (json_array_append_new(out, json_pack("{sO}", "name", v)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static char *join_names(const json_t *names, const char *fallback)
{
	size_t i, len = 1;
	json_t *v;
	char *out;

	json_array_foreach(names, i, v) len += json_string_length(v) + 2;
	if (json_array_size(names) == 0)
		return strdup(fallback);
	if (!(out = malloc(len)))
		return NULL;
	out[0] = '\0';
	json_array_foreach(names, i, v)
	{
		if (i > 0)
			strcat(out, ", ");
		strcat(out, json_string_value(v));
	}
	return out;
}

/* One update, as the templates see it. */
static json_t *update_obj(const json_t *inc, const json_t *u, const char *url)
{
	const char *state = text_at(u, "state"), *msg = text_at(u, "message");
	json_int_t ev = json_integer_value(json_object_get(u, "event"));
	json_int_t id = json_integer_value(json_object_get(inc, "id"));
	char anchor[48], link[64];
	json_t *o;

	/* Event 0 is the "opened" entry inferred for an incident first seen later. */
	if (ev > 0)
		snprintf(anchor, sizeof(anchor), "update-%lld", (long long)ev);
	else
		snprintf(anchor, sizeof(anchor), "update-opened");
	snprintf(link, sizeof(link), "incidents/%lld.html", (long long)id);
	o = json_pack("{ss ss ss ss so s{sb} ss ss sI}", "state", state, "state_text", state_text(state), "message",
	              msg, "type", text_at(u, "type"), "time", time_obj(json_integer_value(json_object_get(u, "ms"))),
	              "is", state, 1, "anchor", anchor, "incident_title", text_at(inc, "title"), "incident_id", id);
	if (!o)
		return NULL;
	/* An Atom entry id must be an IRI that never changes for this update. */
	char *entry_id = NULL;
	int rc = *url ? asprintf(&entry_id, "%s%s#%s", url, link, anchor)
	              : asprintf(&entry_id, "urn:crier:statuspage:incident:%lld:%s", (long long)id, anchor);
	if (rc < 0 || json_object_set_new(o, "entry_id", json_string(entry_id)) != 0 ||
	    json_object_set_new(o, "link", json_string(link)) != 0) {
		if (rc >= 0)
			free(entry_id);
		json_decref(o);
		return NULL;
	}
	free(entry_id);
	return o;
}

static json_t *incident_obj(const render_conf *conf, const json_t *inc, const char *url)
{
	json_int_t id = json_integer_value(json_object_get(inc, "id"));
	const json_t *names = json_object_get(inc, "components");
	const json_t *updates = json_object_get(inc, "updates");
	render_impact impact = render_incident_impact(inc);
	const char *state = text_at(inc, "state");
	int resolved = is_resolved(inc);
	char page[48], dur[48] = "";
	char *joined = join_names(names, conf->name);
	json_t *o = NULL, *list = NULL;

	if (!joined)
		return NULL;
	snprintf(page, sizeof(page), "incidents/%lld.html", (long long)id);
	if (resolved)
		duration_text(json_integer_value(json_object_get(inc, "resolved_ms")) -
		                  json_integer_value(json_object_get(inc, "opened_ms")),
		              dur, sizeof(dur));
	o = json_pack("{sI ss ss ss ss ss ss so ss so sb ss sb}", "id", id, "title", text_at(inc, "title"), "page",
	              page, "state", state, "state_text", state_text(resolved ? "resolved" : state), "impact",
	              render_impact_name(impact), "impact_text", render_impact_text(impact), "components",
	              components_list(names), "components_text", joined, "opened",
	              time_obj(json_integer_value(json_object_get(inc, "opened_ms"))), "resolved", resolved, "duration",
	              dur, "has_components", json_array_size(names) > 0);
	free(joined);
	if (!o)
		return NULL;
	if (resolved && json_object_set_new(o, "resolved_at",
	                                    time_obj(json_integer_value(json_object_get(inc, "resolved_ms")))) != 0)
		goto oom;
	/* The post-mortem's HTML is crier's, escaped already: the template puts it in as it is. */
	const json_t *pm = json_object_get(inc, "postmortem");
	if (json_is_string(json_object_get(pm, "html")) &&
	    json_object_set_new(o, "postmortem",
	                        json_pack("{sO so sb}", "html", json_object_get(pm, "html"), "published",
	                                  time_obj(json_integer_value(json_object_get(pm, "published_ms"))), "revised",
	                                  json_integer_value(json_object_get(pm, "revision")) > 1)) != 0)
		goto oom;
	if (!(list = json_array()))
		goto oom;
	/* Newest first, as readers scan a live incident. */
	for (size_t i = json_array_size(updates); i > 0; i--)
		if (json_array_append_new(list, update_obj(inc, json_array_get(updates, i - 1), url)) != 0)
			goto oom;
	if (json_object_set_new(o, "updates", list) != 0) {
		list = NULL;
		goto oom;
	}
	return o;
oom:
	json_decref(list);
	json_decref(o);
	return NULL;
}

/* Incidents of the model, newest first by key_ms. */
typedef struct sorted {
	const json_t *inc;
	const json_t *update; /* for the feed's list of updates */
	int64_t key;
} sorted;

static int by_key_desc(const void *a, const void *b)
{
	const sorted *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	const json_t *xo = x->update ? x->update : x->inc, *yo = y->update ? y->update : y->inc;
	json_int_t ix = json_integer_value(json_object_get(xo, x->update ? "event" : "id"));
	json_int_t iy = json_integer_value(json_object_get(yo, y->update ? "event" : "id"));
	return ix < iy ? 1 : ix > iy ? -1 : 0;
}

static sorted *sort_incidents(const json_t *model, const char *key_field, size_t *n)
{
	const json_t *incs = json_object_get(model, "incidents");
	sorted *s = calloc(json_object_size(incs) + 1, sizeof(*s));
	const char *k;
	json_t *inc;

	*n = 0;
	if (!s)
		return NULL;
	json_object_foreach((json_t *)incs, k, inc)
	{
		s[*n].inc = inc;
		s[*n].key = json_integer_value(json_object_get(inc, key_field));
		(*n)++;
	}
	qsort(s, *n, sizeof(*s), by_key_desc);
	return s;
}

static json_t *components_status(const render_conf *conf, const json_t *model)
{
	json_t *out = json_array();
	const json_t *incs = json_object_get(model, "incidents");

	if (!out)
		return NULL;
	for (size_t c = 0; c < conf->n_comps; c++) {
		render_impact worst = IMPACT_NONE;
		const char *k;
		json_t *inc;
		json_object_foreach((json_t *)incs, k, inc)
		{
			size_t i;
			json_t *name;
			render_impact imp = render_incident_impact(inc);
			json_array_foreach(json_object_get(inc, "components"), i, name)
			{
				if (strcmp(json_string_value(name), conf->comps[c].name) == 0 && imp > worst)
					worst = imp;
			}
		}
		if (json_array_append_new(out, json_pack("{ss ss ss ss sb}", "name", conf->comps[c].name, "impact",
		                                         impacts[worst].name, "status", impacts[worst].text, "symbol",
		                                         impacts[worst].symbol, "operational", worst == IMPACT_NONE)) !=
		    0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Append to the history's day groups (newest day first). */
static int history_add(json_t *days, json_t *inc_obj)
{
	const char *day = text_at(json_object_get(inc_obj, "resolved_at"), "day");
	json_t *last = json_array_get(days, json_array_size(days) - 1);

	if (!last || strcmp(text_at(last, "day"), day) != 0) {
		last = json_pack("{ss s[]}", "day", day, "incidents");
		if (!last || json_array_append_new(days, last) != 0)
			return -1;
	}
	return json_array_append(json_object_get(last, "incidents"), inc_obj);
}

static int feed_entries(json_t *ctx, const json_t *model, const char *url)
{
	const json_t *incs = json_object_get(model, "incidents");
	json_t *all = json_array(), *inc, *u;
	sorted *s = NULL;
	const char *k;
	size_t i, n = 0;

	if (!all)
		return -1;
	json_object_foreach((json_t *)incs, k, inc) n += json_array_size(json_object_get(inc, "updates"));
	if (!(s = calloc(n + 1, sizeof(*s))))
		goto fail;
	n = 0;
	json_object_foreach((json_t *)incs, k, inc)
	{
		json_array_foreach(json_object_get(inc, "updates"), i, u)
		{
			s[n].inc = inc;
			s[n].update = u;
			s[n].key = json_integer_value(json_object_get(u, "ms"));
			n++;
		}
	}
	qsort(s, n, sizeof(*s), by_key_desc);
	for (i = 0; i < n && i < FEED_MAX_ENTRIES; i++)
		if (json_array_append_new(all, update_obj(s[i].inc, s[i].update, url)) != 0)
			goto fail;
	free(s);
	return json_object_set_new(ctx, "entries", all);
fail:
	free(s);
	json_decref(all);
	return -1;
}

json_t *render_context(const render_conf *conf, const json_t *model)
{
	const char *url = site_url(conf, model);
	int64_t ref = json_integer_value(json_object_get(model, "updated_ms"));
	json_t *ctx = NULL, *active = NULL, *recent = NULL, *days = NULL;
	render_impact worst = IMPACT_NONE;
	sorted *s = NULL;
	size_t n = 0;
	char title[256], feed_id[512];

	snprintf(title, sizeof(title), "%s status", conf->name);
	if (*url)
		snprintf(feed_id, sizeof(feed_id), "%sfeed.atom", url);
	else
		snprintf(feed_id, sizeof(feed_id), "urn:crier:statuspage:%s", conf->instance);
	ctx = json_pack("{s{ss ss ss ss sb} so sb ss si}", "site", "name", conf->name, "title", title, "url", url,
	                "feed_id", feed_id, "has_url", *url != '\0', "updated", time_obj(ref), "has_updated", ref > 0,
	                "root", "", "history_days", conf->history_days);
	active = json_array();
	recent = json_array();
	days = json_array();
	if (!ctx || !active || !recent || !days || !(s = sort_incidents(model, "opened_ms", &n)))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		render_impact imp = render_incident_impact(s[i].inc);
		if (is_resolved(s[i].inc))
			continue;
		if (imp > worst)
			worst = imp;
		if (json_array_append_new(active, incident_obj(conf, s[i].inc, url)) != 0)
			goto oom;
	}
	free(s);
	if (!(s = sort_incidents(model, "resolved_ms", &n)))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		int64_t r = s[i].key;
		json_t *o;
		if (!is_resolved(s[i].inc) || r < ref - conf->history_days * DAY_MS)
			continue;
		if (!(o = incident_obj(conf, s[i].inc, url)))
			goto oom;
		if ((r >= ref - conf->recent_days * DAY_MS && json_array_append(recent, o) != 0) ||
		    history_add(days, o) != 0) {
			json_decref(o);
			goto oom;
		}
		json_decref(o);
	}
	free(s);
	s = NULL;
	if (json_object_set_new(ctx, "banner",
	                        json_pack("{ss ss ss sb}", "impact", impacts[worst].name, "text", impacts[worst].banner,
	                                  "symbol", impacts[worst].symbol, "operational", worst == IMPACT_NONE)) != 0 ||
	    json_object_set_new(ctx, "components", components_status(conf, model)) != 0 ||
	    json_object_set_new(ctx, "has_components", json_boolean(conf->n_comps > 0)) != 0 ||
	    json_object_set_new(ctx, "has_active", json_boolean(json_array_size(active) > 0)) != 0 ||
	    json_object_set_new(ctx, "has_recent", json_boolean(json_array_size(recent) > 0)) != 0 ||
	    json_object_set_new(ctx, "has_history", json_boolean(json_array_size(days) > 0)) != 0 ||
	    json_object_set_new(ctx, "recent_days", json_integer(conf->recent_days)) != 0)
		goto oom;
	if (json_object_set_new(ctx, "active", active) != 0) {
		active = NULL;
		goto oom;
	}
	active = NULL;
	if (json_object_set_new(ctx, "recent", recent) != 0) {
		recent = NULL;
		goto oom;
	}
	recent = NULL;
	if (json_object_set_new(ctx, "history", days) != 0) {
		days = NULL;
		goto oom;
	}
	days = NULL;
	if (feed_entries(ctx, model, url) != 0)
		goto oom;
	return ctx;
oom:
	free(s);
	json_decref(active);
	json_decref(recent);
	json_decref(days);
	json_decref(ctx);
	return NULL;
}

/* ---- status.json ---- */

/* The machine-readable view (schema in README.md): the same facts as the
 * pages, with only people's own words as messages. */
static json_t *status_incident(const json_t *inc_obj)
{
	json_t *updates = json_array(), *u;
	size_t i;
	const json_t *res = json_object_get(inc_obj, "resolved_at");

	if (!updates)
		return NULL;
	json_array_foreach(json_object_get(inc_obj, "updates"), i, u)
	{
		const char *msg = text_at(u, "message");
		if (json_array_append_new(updates,
		                          json_pack("{ss ss ss?}", "time", text_at(json_object_get(u, "time"), "iso"),
		                                    "state", text_at(u, "state"), "message", *msg ? msg : NULL)) != 0) {
			json_decref(updates);
			return NULL;
		}
	}
	json_t *names = json_array(), *c;
	if (!names) {
		json_decref(updates);
		return NULL;
	}
	json_array_foreach(json_object_get(inc_obj, "components"), i, c)
	{
		if (json_array_append(names, json_object_get(c, "name")) != 0) {
			json_decref(names);
			json_decref(updates);
			return NULL;
		}
	}
	return json_pack("{sO sO sO sO so ss ss? ss so}", "id", json_object_get(inc_obj, "id"), "title",
	                 json_object_get(inc_obj, "title"), "state", json_object_get(inc_obj, "state"), "impact",
	                 json_object_get(inc_obj, "impact"), "components", names, "opened_at",
	                 text_at(json_object_get(inc_obj, "opened"), "iso"), "resolved_at",
	                 res ? text_at(res, "iso") : NULL, "page", text_at(inc_obj, "page"), "updates", updates);
}

static json_t *status_list(const json_t *list)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(list, i, v)
	{
		if (json_array_append_new(out, status_incident(v)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The same JSON with < > & written as \u escapes (only strings can hold
 * them): a host that serves the file as HTML by mistake shows no markup. */
static char *html_safe_json(char *text)
{
	size_t n = 0, len;
	char *out, *w;

	if (!text)
		return NULL;
	for (const char *p = text; *p; p++)
		n += *p == '<' || *p == '>' || *p == '&';
	len = strlen(text);
	if (n == 0)
		return text;
	if (!(out = malloc(len + n * 5 + 1))) {
		free(text);
		return NULL;
	}
	w = out;
	for (const char *p = text; *p; p++) {
		if (*p == '<' || *p == '>' || *p == '&')
			w += sprintf(w, "\\u%04x", (unsigned)*p);
		else
			*w++ = *p;
	}
	*w = '\0';
	free(text);
	return out;
}

static char *status_json(const json_t *ctx)
{
	const json_t *site = json_object_get(ctx, "site"), *banner = json_object_get(ctx, "banner");
	json_t *comps = json_array(), *c, *resolved = json_array(), *day, *doc;
	size_t i, j;
	char *text = NULL;

	if (!comps || !resolved)
		goto out;
	json_array_foreach(json_object_get(ctx, "components"), i, c)
	{
		if (json_array_append_new(comps, json_pack("{sO sO sO}", "name", json_object_get(c, "name"), "status",
		                                           json_object_get(c, "impact"), "status_text",
		                                           json_object_get(c, "status"))) != 0)
			goto out;
	}
	json_array_foreach(json_object_get(ctx, "history"), i, day)
	{
		json_t *inc;
		json_array_foreach(json_object_get(day, "incidents"), j, inc)
		{
			if (json_array_append_new(resolved, status_incident(inc)) != 0)
				goto out;
		}
	}
	doc = json_pack(
	    "{ss s{sO ss? ss?} s{sO sO} so so so}", "schema", "crier-statuspage/1", "page", "name",
	    json_object_get(site, "name"), "url", *text_at(site, "url") ? text_at(site, "url") : NULL, "updated_at",
	    json_is_true(json_object_get(ctx, "has_updated")) ? text_at(json_object_get(ctx, "updated"), "iso") : NULL,
	    "status", "indicator", json_object_get(banner, "impact"), "description", json_object_get(banner, "text"),
	    "components", comps, "incidents", status_list(json_object_get(ctx, "active")), "resolved", resolved);
	comps = resolved = NULL; /* stolen by json_pack, also when it fails */
	if (doc)
		text = html_safe_json(json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER));
	json_decref(doc);
out:
	json_decref(comps);
	json_decref(resolved);
	return text;
}

/* ---- the files ---- */

/* FNV-1a, 64 bits: tells a changed file from an unchanged one, nothing more. */
static void hash_hex(const char *data, size_t len, char out[17])
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int add_file(render_site *s, const char *path, char *data, const char *content_type)
{
	render_file *grown;

	if (!data)
		return -1;
	grown = realloc(s->files, (s->n + 1) * sizeof(*s->files));
	if (!grown) {
		free(data);
		return -1;
	}
	s->files = grown;
	render_file *f = &s->files[s->n];
	memset(f, 0, sizeof(*f));
	if (!(f->path = strdup(path))) {
		free(data);
		return -1;
	}
	f->data = data;
	f->len = strlen(data);
	f->content_type = content_type;
	hash_hex(data, f->len, f->hash);
	s->n++;
	return 0;
}

static char *render_one(const render_conf *conf, const crier_template *t, const char *ctx_text, const char *what,
                        char *err, size_t errlen)
{
	char e[256] = "";
	char *out = conf->api->template_render(t, ctx_text, CRIER_ESCAPE_HTML, e, sizeof(e));

	if (!out)
		snprintf(err, errlen, "rendering %s: %s", what, e);
	return out;
}

/* One incidents/<id>.html: a context of its own, small, so a long history
 * does not make every page's rendering slower. */
static int incident_page(const render_conf *conf, const json_t *ctx, const json_t *inc, render_site *s, char *err,
                         size_t errlen)
{
	json_t *pctx, *o = incident_obj(conf, inc, text_at(json_object_get(ctx, "site"), "url"));
	char *text = NULL, *html = NULL;
	int ret = -1;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Nothing site-wide that changes (like the time of the last change):
	 * a page whose incident did not change renders the same bytes, and
	 * is not sent again. */
	pctx = json_pack("{sO so ss}", "site", json_object_get(ctx, "site"), "incident", o, "root", "../");
	if (!pctx || !(text = json_dumps(pctx, JSON_COMPACT))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	html = render_one(conf, conf->incident, text, text_at(o, "page"), err, errlen);
	if (!html)
		goto out;
	if (add_file(s, text_at(o, "page"), html, "text/html; charset=utf-8") != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	free(text);
	json_decref(pctx);
	return ret;
}

int render_site_build(const render_conf *conf, const json_t *model, render_site *out, char *err, size_t errlen)
{
	json_t *ctx = render_context(conf, model), *inc;
	char *text = NULL;
	const char *k;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!ctx || !(text = json_dumps(ctx, JSON_COMPACT))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	json_object_foreach(json_object_get(model, "incidents"), k, inc)
	{
		if (incident_page(conf, ctx, inc, out, err, errlen) != 0)
			goto out;
	}
	if (add_file(out, "history.html", render_one(conf, conf->history, text, "history.html", err, errlen),
	             "text/html; charset=utf-8") != 0 ||
	    add_file(out, "feed.atom", render_one(conf, conf->feed, text, "feed.atom", err, errlen),
	             "application/atom+xml; charset=utf-8") != 0 ||
	    add_file(out, "status.json", status_json(ctx), "application/json") != 0 ||
	    add_file(out, "index.html", render_one(conf, conf->index, text, "index.html", err, errlen),
	             "text/html; charset=utf-8") != 0) {
		if (!*err)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (ret != 0)
		render_site_free(out);
	free(text);
	json_decref(ctx);
	return ret;
}

void render_site_free(render_site *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	s->files = NULL;
	s->n = 0;
}
