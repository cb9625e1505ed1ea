/* The statuspage plugin: its model and renderer compiled in (the model's
 * folding, persistence and pruning; the site's context, escaping and
 * files), then the built plugin ($CRIER_PLUGIN_DIR, else
 * $CRIER_BUILD/plugins, else build/plugins) driven through a fake host
 * whose templates are crier's own Mustache engine over the shipped
 * conf.d/templates/statuspage/, and whose HTTP client is a small WebDAV
 * server in memory. Run from the repository root. */
#include "check.h"
#include "mustache.h"

#include "../../plugins/statuspage/fsio.c"
#include "../../plugins/statuspage/model.c"
#include "../../plugins/statuspage/render.c"

#include <crier/plugin.h>

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSWORD  "dav-secret-pw-71c3"
#define T0        1795262400000LL /* 2026-11-21T12:00:00Z */
#define TEMPLATES "conf.d/templates/statuspage"

/* ---- the fake host ---- */

#define MAX_REQS 256

typedef struct req_rec {
	char method[8];
	char url[256];
	char dest[256];
	char overwrite[4];
	char auth[128];
	char ctype[64];
	size_t body_len;
} req_rec;

struct crier_host {
	const char *name;
	char state_dir[256];
	int logs;
	char last_log[1024];
	long fail_status;    /* every request answers this when set */
	int fail_transport;  /* every request fails without an answer */
	int64_t retry_after; /* with fail_status */
	int n_reqs;
	req_rec reqs[MAX_REQS];
	int n_files; /* what the fake WebDAV server holds */
	char files[64][128];
	int has_incidents_collection;
};

struct crier_template {
	mustache *m;
};

struct crier_delivery {
	const char *json;
	char error[1024];
	int64_t retry_after_ms;
};

static int64_t now_ms = T0;

static void fake_log(crier_host *h, crier_log_level level, const char *msg)
{
	(void)level;
	h->logs++;
	snprintf(h->last_log, sizeof(h->last_log), "%s", msg);
}

static int64_t fake_now_ms(void)
{
	return now_ms;
}

static const char *fake_instance_name(const crier_host *h)
{
	return h->name;
}

static const char *fake_state_dir(const crier_host *h)
{
	return h->state_dir;
}

static const char *fake_delivery_json(const crier_delivery *d)
{
	return d->json;
}

static void fake_retry_after(crier_delivery *d, int64_t ms)
{
	d->retry_after_ms = ms;
}

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
}

static const char *header(const crier_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return "";
}

static int dav_has(crier_host *h, const char *path)
{
	for (int i = 0; i < h->n_files; i++)
		if (strcmp(h->files[i], path) == 0)
			return 1;
	return 0;
}

static void dav_put(crier_host *h, const char *path)
{
	if (!dav_has(h, path) && h->n_files < 64)
		snprintf(h->files[h->n_files++], sizeof(h->files[0]), "%s", path);
}

static void dav_del(crier_host *h, const char *path)
{
	for (int i = 0; i < h->n_files; i++)
		if (strcmp(h->files[i], path) == 0)
			memmove(h->files[i], h->files[--h->n_files], sizeof(h->files[0]));
}

/* WebDAV the way Apache's mod_dav answers (RFC 4918). */
static long dav_answer(crier_host *h, const crier_http_request *req)
{
	const char *base = "https://dav.example/status/";
	const char *path = strncmp(req->url, base, strlen(base)) == 0 ? req->url + strlen(base) : NULL;

	if (!path)
		return 404;
	if (strcmp(header(req, "Authorization"), "Basic dXBsb2FkZXI6ZGF2LXNlY3JldC1wdy03MWMz") != 0)
		return 401;
	if (strcmp(req->method, "MKCOL") == 0) {
		if (h->has_incidents_collection)
			return 405;
		h->has_incidents_collection = 1;
		return 201;
	}
	if (strchr(path, '/') && !h->has_incidents_collection)
		return 409; /* no parent collection */
	if (strcmp(req->method, "PUT") == 0) {
		int existed = dav_has(h, path);
		dav_put(h, path);
		return existed ? 204 : 201;
	}
	if (strcmp(req->method, "MOVE") == 0) {
		const char *dest = header(req, "Destination");
		if (!dav_has(h, path))
			return 404;
		if (strncmp(dest, base, strlen(base)) != 0)
			return 502;
		int existed = dav_has(h, dest + strlen(base));
		if (existed && strcmp(header(req, "Overwrite"), "F") == 0)
			return 412;
		dav_del(h, path);
		dav_put(h, dest + strlen(base));
		return existed ? 204 : 201;
	}
	return 405;
}

static int fake_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	if (h->n_reqs < MAX_REQS) {
		req_rec *r = &h->reqs[h->n_reqs++];
		snprintf(r->method, sizeof(r->method), "%s", req->method ? req->method : "POST");
		snprintf(r->url, sizeof(r->url), "%s", req->url);
		snprintf(r->dest, sizeof(r->dest), "%s", header(req, "Destination"));
		snprintf(r->overwrite, sizeof(r->overwrite), "%s", header(req, "Overwrite"));
		snprintf(r->auth, sizeof(r->auth), "%s", header(req, "Authorization"));
		snprintf(r->ctype, sizeof(r->ctype), "%s", header(req, "Content-Type"));
		r->body_len = req->body_len;
	}
	memset(resp, 0, sizeof(*resp));
	if (h->fail_transport) {
		snprintf(resp->error, sizeof(resp->error), "Failed to connect to dav.example port 443");
		return -1;
	}
	resp->status = h->fail_status ? h->fail_status : dav_answer(h, req);
	resp->retry_after_ms = h->fail_status ? h->retry_after : 0;
	resp->body = strdup("");
	return 0;
}

static void fake_http_response_free(crier_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

static char *load_partial(void *ctx, const char *name)
{
	char path[256];
	(void)ctx;
	snprintf(path, sizeof(path), TEMPLATES "/%s.mustache", name);
	return mustache_read(path, NULL, NULL);
}

static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	char path[256];
	(void)h;
	snprintf(path, sizeof(path), TEMPLATES "/%s.mustache", name);
	char *text = src ? strdup(src) : mustache_read(path, NULL, NULL);
	crier_template *t = text ? calloc(1, sizeof(*t)) : NULL;
	if (t && !(t->m = mustache_compile(name, text, strlen(text), err, errlen))) {
		free(t);
		t = NULL;
	}
	if (!text)
		snprintf(err, errlen, "cannot read %s (run from the repository root)", path);
	free(text);
	return t;
}

static char *fake_template_render(const crier_template *t, const char *ctx, crier_escape esc, char *err, size_t errlen)
{
	json_t *j = json_loads(ctx, 0, NULL);
	char *out = j ? mustache_render(t->m, j, esc, load_partial, NULL, err, errlen) : NULL;
	json_decref(j);
	return out;
}

static void fake_template_free(crier_template *t)
{
	if (t)
		mustache_free(t->m);
	free(t);
}

static const crier_host_api fake_api = {
    .abi_version = 2,
    .log = fake_log,
    .now_ms = fake_now_ms,
    .instance_name = fake_instance_name,
    .state_dir = fake_state_dir,
    .delivery_json = fake_delivery_json,
    .retry_after = fake_retry_after,
    .set_error = fake_set_error,
    .http_request = fake_http_request,
    .http_response_free = fake_http_response_free,
    .template_load = fake_template_load,
    .template_render = fake_template_render,
    .template_free = fake_template_free,
};

/* ---- events ---- */

static char *iso(int64_t ms)
{
	static char buf[4][32];
	static int k;
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char *b = buf[k++ % 4];
	gmtime_r(&t, &tm);
	strftime(b, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return b;
}

/* An event as the core hands it over, with alert internals that must
 * never reach the page. minute: the event's time, minutes after T0. */
static json_t *event(int id, const char *type, int incident, const char *state, const char *severity, int minute,
                     const char *title, const char *message)
{
	int64_t at = T0 + (int64_t)minute * 60000;
	json_t *e = json_pack("{si ss ss ss ss s{si ss ss ss ss s{ss ss ss ss} ss ss?} s{ss s{ss} s{ss ss}} s{ss ss}}",
	                      "id", id, "type", type, "time", iso(at), "actor", "alice.internal", "message",
	                      message ? message : "", "incident", "id", incident, "key", "service=api", "title", title,
	                      "state", state, "severity", severity, "labels", "alertname", "ApiErrors", "service",
	                      "api", "instance", "db-7.internal:9187", "severity", severity, "opened_at", iso(T0),
	                      "resolved_at", strcmp(state, "resolved") == 0 ? iso(at) : NULL, "alert", "source",
	                      "alertmanager", "labels", "instance", "db-7.internal:9187", "annotations", "description",
	                      "runbook at wiki.internal", "summary", title, "links", "status_page", "", "incident", "");
	return e;
}

static int apply(json_t *m, json_t *ev, const model_component *c, size_t n)
{
	char err[256] = "";
	int rc = model_apply(m, ev, c, n, now_ms, err, sizeof(err));
	json_decref(ev);
	return rc;
}

static json_t *incident_of(json_t *m, int id)
{
	char k[16];
	snprintf(k, sizeof(k), "%d", id);
	return json_object_get(json_object_get(m, "incidents"), k);
}

/* ---- the model ---- */

static void test_time(void)
{
	CHECK(model_time_ms("2026-11-21T12:00:00Z") == T0);
	CHECK(model_time_ms("2026-11-21T12:00:00.5Z") == T0 + 500);
	CHECK(model_time_ms("2026-11-21T12:00:00.123456789Z") == T0 + 123);
	CHECK(model_time_ms("2026-11-21T13:30:00+01:30") == T0);
	CHECK(model_time_ms("2026-11-21T12:00:00") == -1);
	CHECK(model_time_ms("2026-11-21 12:00:00Z") == -1);
	CHECK(model_time_ms("2026-11-21T12:00:00Zjunk") == -1);
	CHECK(model_time_ms("") == -1);
	CHECK(model_time_ms(NULL) == -1);
}

static model_component comps[2];

static void test_fold(void)
{
	json_t *m = model_new(), *inc, *u;

	comps[0].name = "API";
	comps[0].labels = json_pack("{ss}", "service", "api");
	comps[1].name = "Website";
	comps[1].labels = json_pack("{ss ss}", "service", "api", "frontend", "yes");

	/* Opened: one entry; automation's message and the alert's internals are
	 * not kept. The core names no component (an empty list): the instance's
	 * own matching decides. */
	json_t *first = event(10, "opened", 3, "investigating", "critical", 0, "API errors", "db-7 lag");
	json_object_set_new(json_object_get(first, "incident"), "components", json_array());
	CHECK(apply(m, first, comps, 2) == 1);
	inc = incident_of(m, 3);
	CHECK(inc != NULL);
	CHECK_STR(json_string_value(json_object_get(inc, "title")), "API errors");
	CHECK(json_array_size(json_object_get(inc, "updates")) == 1);
	CHECK(json_object_get(json_array_get(json_object_get(inc, "updates"), 0), "message") == NULL);
	CHECK(json_array_size(json_object_get(inc, "components")) == 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(inc, "components"), 0)), "API");
	char *dump = json_dumps(m, 0);
	CHECK(strstr(dump, "db-7") == NULL && strstr(dump, "ApiErrors") == NULL && strstr(dump, "alice") == NULL &&
	      strstr(dump, "wiki.internal") == NULL);
	free(dump);
	CHECK(json_integer_value(json_object_get(m, "version")) == 1);

	/* The same event again (a retry) changes nothing. */
	CHECK(apply(m, event(10, "opened", 3, "investigating", "critical", 0, "API errors", NULL), comps, 2) == 0);
	/* An alert joining refreshes quietly; drafts are not the page's business. */
	CHECK(apply(m, event(11, "alert_joined", 3, "investigating", "critical", 1, "API errors", NULL), comps, 2) ==
	      0);
	CHECK(apply(m, event(12, "severity_raised", 3, "investigating", "major", 2, "API errors", NULL), comps, 2) ==
	      1);
	CHECK(json_array_size(json_object_get(inc, "updates")) == 1);
	CHECK_STR(json_string_value(json_object_get(inc, "severity")), "major");
	CHECK(apply(m, event(13, "draft_created", 3, "investigating", "major", 3, "API errors", "x"), comps, 2) == 0);

	/* A person's update keeps their words; a later event lands after it,
	 * an earlier one (a retried delivery) before it. */
	CHECK(apply(m, event(20, "update", 3, "identified", "major", 20, "API errors", "We found <it>."), comps, 2) ==
	      1);
	CHECK(apply(m, event(15, "acknowledged", 3, "identified", "major", 15, "API errors", NULL), comps, 2) == 1);
	CHECK(json_array_size(json_object_get(inc, "updates")) == 3);
	u = json_array_get(json_object_get(inc, "updates"), 1);
	CHECK(json_integer_value(json_object_get(u, "event")) == 15);
	u = json_array_get(json_object_get(inc, "updates"), 2);
	CHECK_STR(json_string_value(json_object_get(u, "message")), "We found <it>.");
	CHECK_STR(json_string_value(json_object_get(u, "state")), "identified");
	/* The older event did not roll the incident's state back. */
	CHECK_STR(json_string_value(json_object_get(inc, "state")), "identified");

	/* Resolution. */
	CHECK(apply(m, event(30, "resolved", 3, "resolved", "major", 60, "API errors", NULL), comps, 2) == 1);
	CHECK_STR(json_string_value(json_object_get(inc, "state")), "resolved");
	CHECK(json_integer_value(json_object_get(inc, "resolved_ms")) == T0 + 60 * 60000);

	/* An incident first seen mid-way still says when it began; its
	 * components come from the event's public view when it names them. */
	json_t *ev = event(40, "update", 4, "identified", "critical", 70, "Logins fail", "Working on it.");
	json_object_set_new(json_object_get(ev, "incident"), "components", json_pack("[ss]", "Login", "Login"));
	CHECK(apply(m, ev, comps, 2) == 1);
	inc = incident_of(m, 4);
	CHECK(json_array_size(json_object_get(inc, "updates")) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(inc, "updates"), 0), "type")),
	          "opened");
	CHECK(json_array_size(json_object_get(inc, "components")) == 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(inc, "components"), 0)), "Login");
	/* ... and its late "opened" does not make a second one. */
	CHECK(apply(m, event(39, "opened", 4, "investigating", "critical", 0, "Logins fail", NULL), comps, 2) == 0);
	CHECK(json_array_size(json_object_get(inc, "updates")) == 2);

	/* Not an incident event. */
	char err[128] = "";
	json_t *bad = json_pack("{si ss}", "id", 50, "type", "opened");
	CHECK(model_apply(m, bad, comps, 2, now_ms, err, sizeof(err)) == -1);
	CHECK_STR(err, "the event has no incident");
	json_decref(bad);
	json_decref(m);
}

static void test_cap_and_prune(void)
{
	json_t *m = model_new(), *t;

	/* A flapping incident keeps its first entry and the newest ones. */
	for (int i = 0; i < MODEL_MAX_UPDATES + 20; i++)
		apply(m,
		      event(100 + i, "state_changed", 5, i % 2 ? "monitoring" : "investigating", "warning", i, "Flaps",
		            NULL),
		      NULL, 0);
	json_t *ups = json_object_get(incident_of(m, 5), "updates");
	CHECK(json_array_size(ups) == MODEL_MAX_UPDATES);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ups, 0), "type")), "opened");
	CHECK(json_integer_value(json_object_get(json_array_get(ups, MODEL_MAX_UPDATES - 1), "event")) ==
	      100 + MODEL_MAX_UPDATES + 19);

	/* Resolved 91 days ago: gone, with what targets were told of its page. */
	apply(m, event(1, "opened", 6, "investigating", "critical", 0, "Old", NULL), NULL, 0);
	apply(m, event(2, "resolved", 6, "resolved", "critical", 30, "Old", NULL), NULL, 0);
	t = model_target(m, "dir:/x");
	json_object_set_new(json_object_get(t, "files"), "incidents/6.html", json_string("abc"));
	json_object_set_new(json_object_get(t, "files"), "index.html", json_string("def"));
	CHECK(model_prune(m, T0 + 90LL * 86400000, 90) == 0);
	CHECK(model_prune(m, T0 + 91LL * 86400000, 90) == 1);
	CHECK(incident_of(m, 6) == NULL);
	CHECK(incident_of(m, 5) != NULL); /* never resolved */
	CHECK(json_object_get(json_object_get(t, "files"), "incidents/6.html") == NULL);
	CHECK(json_object_get(json_object_get(t, "files"), "index.html") != NULL);
	json_decref(m);
}

static void test_persistence(const char *dir)
{
	char path[512], err[256] = "";
	json_t *m = model_new(), *back = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/model.json", dir);
	CHECK(model_load(path, &back, err, sizeof(err)) == 0); /* none yet: empty */
	CHECK(back && json_object_size(json_object_get(back, "incidents")) == 0);
	json_decref(back);
	apply(m, event(1, "opened", 7, "investigating", "critical", 0, "Saved", NULL), NULL, 0);
	CHECK(model_save(path, m, err, sizeof(err)) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	char *tmp = fsio_tmp_name(path);
	CHECK(tmp && strstr(tmp, "/.model.json.crier-tmp") && access(tmp, F_OK) != 0); /* renamed into place */
	free(tmp);
	CHECK(model_load(path, &back, err, sizeof(err)) == 0);
	CHECK(back && json_equal(back, m));
	json_decref(back);

	FILE *f = fopen(path, "w");
	fputs("{\"format\": 1, \"incidents\": [", f);
	fclose(f);
	CHECK(model_load(path, &back, err, sizeof(err)) == -2);
	f = fopen(path, "w");
	fputs("{\"format\": 9}", f);
	fclose(f);
	CHECK(model_load(path, &back, err, sizeof(err)) == -2);
	CHECK(back == NULL);
	unlink(path);
	json_decref(m);
}

/* ---- the site ---- */

static const render_file *file_of(const render_site *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}

static void test_impact(void)
{
	static const struct {
		const char *state, *severity;
		int maintenance, resolved;
		render_impact want;
	} cases[] = {
	    {"investigating", "critical", 0, 0, IMPACT_MAJOR},
	    {"identified", "major", 0, 0, IMPACT_PARTIAL},
	    {"investigating", "warning", 0, 0, IMPACT_DEGRADED},
	    {"investigating", "info", 0, 0, IMPACT_DEGRADED},
	    {"monitoring", "critical", 0, 0, IMPACT_DEGRADED},
	    {"investigating", "critical", 1, 0, IMPACT_MAINTENANCE},
	    {"resolved", "critical", 0, 1, IMPACT_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *inc =
		    json_pack("{ss ss sb ss?}", "state", cases[i].state, "severity", cases[i].severity, "maintenance",
		              cases[i].maintenance, "resolved_at", cases[i].resolved ? "2026-11-21T12:00:00Z" : NULL);
		CHECK(render_incident_impact(inc) == cases[i].want);
		json_decref(inc);
	}
	CHECK_STR(render_impact_name(IMPACT_PARTIAL), "partial_outage");
	CHECK_STR(render_impact_text(IMPACT_MAJOR), "Major outage");
}

#define NASTY "<script>alert(1)</script>\"onload=alert(1) x=\"[x](javascript:alert(1))<img src=x onerror=alert(2)>"

static void test_site(crier_host *h)
{
	char err[512] = "";
	render_conf rc = {.name = "Example & Co",
	                  .url = "https://status.example.com/",
	                  .instance = "statuspage/public",
	                  .comps = comps,
	                  .n_comps = 2,
	                  .history_days = 90,
	                  .recent_days = 7,
	                  .api = &fake_api};
	render_site s = {0};
	json_t *m = model_new();
	const render_file *f;

	rc.index = fake_template_load(h, "index", NULL, err, sizeof(err));
	rc.incident = fake_template_load(h, "incident", NULL, err, sizeof(err));
	rc.history = fake_template_load(h, "history", NULL, err, sizeof(err));
	rc.feed = fake_template_load(h, "feed", NULL, err, sizeof(err));
	CHECK(rc.index && rc.incident && rc.history && rc.feed);
	if (!rc.index || !rc.incident || !rc.history || !rc.feed)
		goto out;

	/* Nothing yet: all operational. */
	CHECK(render_site_build(&rc, m, &s, err, sizeof(err)) == 0);
	f = file_of(&s, "index.html");
	CHECK(f && strstr(f->data, "All systems operational") && strstr(f->data, "No incidents resolved"));
	CHECK(s.n == 4 && strcmp(s.files[s.n - 1].path, "index.html") == 0);
	render_site_free(&s);

	apply(m, event(1, "opened", 3, "investigating", "major", 0, NASTY, NULL), comps, 2);
	apply(m, event(2, "update", 3, "identified", "major", 10, NASTY, "First words."), comps, 2);
	apply(m, event(3, "update", 3, "identified", "major", 20, NASTY, "Second <b>words</b> " NASTY), comps, 2);
	apply(m, event(4, "opened", 4, "investigating", "warning", 5, "Slow pages", NULL), NULL, 0);
	apply(m, event(5, "resolved", 4, "resolved", "warning", 65, "Slow pages", NULL), NULL, 0);
	CHECK(render_site_build(&rc, m, &s, err, sizeof(err)) == 0);
	if (s.n == 0) {
		fprintf(stderr, "  %s\n", err);
		goto out;
	}
	/* Pages first, index.html last. */
	CHECK(s.n == 6);
	CHECK(strncmp(s.files[0].path, "incidents/", 10) == 0 && strncmp(s.files[1].path, "incidents/", 10) == 0);
	CHECK_STR(s.files[s.n - 1].path, "index.html");
	for (size_t i = 0; i < s.n; i++) {
		CHECK(strstr(s.files[i].data, "<script") == NULL);
		CHECK(strstr(s.files[i].data, "<img") == NULL);
		CHECK(strstr(s.files[i].data, "<b>") == NULL);
		CHECK(strstr(s.files[i].data, "db-7") == NULL && strstr(s.files[i].data, "ApiErrors") == NULL);
		CHECK(strlen(s.files[i].hash) == 16);
	}

	f = file_of(&s, "index.html");
	CHECK(f != NULL);
	if (f) {
		CHECK(strstr(f->data, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=alert(1) x=&quot;") != NULL);
		CHECK(strstr(f->data, "<h1 id=\"overall\"><span aria-hidden=\"true\">!</span> Partial outage</h1>"));
		CHECK(strstr(f->data, "Example &amp; Co status"));
		/* API is hit; Website needs a label the incident lacks. */
		CHECK(strstr(f->data,
		             "<span class=\"component-name\">API</span> <span class=\"status "
		             "impact-partial_outage\"><span aria-hidden=\"true\">!</span> Partial outage</span>"));
		CHECK(strstr(f->data, "<span class=\"component-name\">Website</span> <span class=\"status "
		                      "impact-operational\">"));
		/* Newest first. */
		const char *second = strstr(f->data, "Second &lt;b&gt;words"), *first = strstr(f->data, "First words.");
		const char *began = strstr(f->data, "We are investigating this issue.");
		CHECK(second && first && began && second < first && first < began);
		CHECK(strstr(f->data, "<time datetime=\"2026-11-21T12:20:00Z\">2026-11-21 12:20 UTC</time>"));
		/* The resolved one is under "Recently resolved", not active. */
		CHECK(strstr(f->data, "<a href=\"incidents/4.html\">Slow pages</a> <span class=\"muted\">Resolved"));
		CHECK(strstr(f->data, "after 1 h 5 min"));
	}
	f = file_of(&s, "incidents/3.html");
	CHECK(f && strstr(f->data, "This incident affected: API.</p>"));
	CHECK(f && strstr(f->data, "href=\"../index.html\""));
	f = file_of(&s, "incidents/4.html");
	/* No component matched: the service as a whole. */
	CHECK(f && strstr(f->data, "This incident affected: Example &amp; Co.</p>"));
	CHECK(f && strstr(f->data, "This incident has been resolved."));
	f = file_of(&s, "history.html");
	CHECK(f && strstr(f->data, "<h2 id=\"day-2026-11-21\">") && strstr(f->data, "Slow pages"));
	CHECK(f && strstr(f->data, NASTY) == NULL);
	f = file_of(&s, "feed.atom");
	CHECK(f && strncmp(f->data, "<?xml version=\"1.0\" encoding=\"utf-8\"?>", 38) == 0);
	CHECK(f && strstr(f->data, "<id>https://status.example.com/incidents/3.html#update-3</id>"));
	CHECK(f && strstr(f->data, "<updated>2026-11-21T13:05:00Z</updated>"));

	f = file_of(&s, "status.json");
	json_t *st = f ? json_loads(f->data, 0, NULL) : NULL;
	CHECK(st != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(st, "status"), "indicator")), "partial_outage");
	CHECK(json_array_size(json_object_get(st, "incidents")) == 1);
	CHECK(json_array_size(json_object_get(st, "resolved")) == 1);
	json_t *ups = json_object_get(json_array_get(json_object_get(st, "incidents"), 0), "updates");
	CHECK(json_array_size(ups) == 3);
	CHECK(json_is_null(json_object_get(json_array_get(ups, 2), "message")));
	CHECK_STR(json_string_value(json_object_get(json_array_get(ups, 1), "message")), "First words.");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(st, "components"), 0), "status")),
	          "partial_outage");
	json_decref(st);

	/* The same model renders the same bytes: targets are compared by hash. */
	render_site again = {0};
	CHECK(render_site_build(&rc, m, &again, err, sizeof(err)) == 0);
	CHECK(again.n == s.n);
	for (size_t i = 0; i < s.n && i < again.n; i++)
		CHECK(strcmp(s.files[i].hash, again.files[i].hash) == 0);
	render_site_free(&again);
	render_site_free(&s);

	/* A template that fails to render says which file. */
	crier_template *broken = fake_template_load(h, "history", "{{> nosuch}}{{#a}}{{/a}}", err, sizeof(err));
	const crier_template *keep = rc.history;
	rc.history = broken;
	CHECK(render_site_build(&rc, m, &s, err, sizeof(err)) == 0); /* an unknown partial is empty, per the spec */
	render_site_free(&s);
	rc.history = keep;
	fake_template_free(broken);
out:
	fake_template_free((crier_template *)rc.index);
	fake_template_free((crier_template *)rc.incident);
	fake_template_free((crier_template *)rc.history);
	fake_template_free((crier_template *)rc.feed);
	json_decref(m);
}

/* ---- the plugin ---- */

static const crier_plugin *load(void **dl)
{
	char path[1024];
	const char *dir = getenv("CRIER_PLUGIN_DIR"), *build = getenv("CRIER_BUILD");
	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/statuspage.so", dir);
	else
		snprintf(path, sizeof(path), "%s/plugins/statuspage.so", build && *build ? build : "build");
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "test_statuspage: cannot load %s (%s); build the plugins first\n", path, dlerror());
		return NULL;
	}
	crier_plugin_negotiate_fn negotiate;
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	return negotiate ? negotiate(1, CRIER_ABI_VERSION) : NULL;
}

static void init_fails(const crier_plugin *p, crier_host *h, const char *config, const char *want)
{
	crier_instance *inst = NULL;
	char err[512] = "";
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	if (want && !strstr(err, want)) {
		check_failed++;
		fprintf(stderr, "  init error \"%s\" lacks \"%s\"\n", err, want);
	}
	CHECK(strstr(err, PASSWORD) == NULL);
}

static void test_config(const crier_plugin *p, crier_host *h)
{
	crier_instance *inst = NULL;
	char err[512] = "";

	init_fails(p, h, "{\"colour\":1}", "unknown key \"colour\"; known keys: name, url, components, targets");
	init_fails(p, h, "{\"targets\":[]}", "\"targets\" must be an array of 1 to 16 objects");
	init_fails(p, h, "{\"targets\":[{\"dir\":\"/x\",\"url\":\"https://a/\"}]}", "targets[0]: give either");
	init_fails(p, h, "{\"targets\":[{\"dir\":\"/x\",\"username\":\"u\"}]}",
	           "targets[0]: unknown key \"username\" for a local target; known keys: dir");
	init_fails(p, h, "{\"targets\":[{\"dir\":\"/x\"},{\"url\":\"ftp://a/\"}]}",
	           "targets[1].url: must start with http://, https:// or sftp://");
	init_fails(p, h, "{\"targets\":[{\"url\":\"https://uploader:" PASSWORD "@dav.example/\"}]}",
	           "targets[0].url: put credentials in \"username\" and \"password\", not in the URL");
	init_fails(p, h, "{\"targets\":[{\"url\":\"https://dav.example/\",\"username\":\"u\"}]}",
	           "\"username\" and \"password\" go together");
	init_fails(p, h, "{\"targets\":[{\"url\":\"https://dav.example/\",\"atomic\":\"yes\"}]}",
	           "targets[0].atomic: expected true or false");
	init_fails(p, h, "{\"targets\":[{\"url\":\"https://dav.example/?x=1\"}]}", "no query or fragment");
	init_fails(p, h, "{\"targets\":[{\"dir\":\"/x\"},{\"dir\":\"/x/\"}]}",
	           "targets[1]: the same place as targets[0]");
	init_fails(
	    p, h,
	    "{\"targets\":[{\"url\":\"sftp://files.example/srv/status/\",\"username\":\"u\",\"password\":\"" PASSWORD
	    "\"}]}",
	    "an SFTP target needs one of \"known_hosts\" (a file) or \"host_key_sha256\"");
	init_fails(p, h, "{\"targets\":[{\"url\":\"sftp://files.example/\",\"username\":\"u\",\"password\":\"x\"}]}",
	           "name the folder");
	init_fails(p, h,
	           "{\"targets\":[{\"url\":\"sftp://files.example/a%22b/\",\"username\":\"u\",\"password\":\"x\","
	           "\"known_hosts\":\"/k\"}]}",
	           "hold no quote");
	init_fails(p, h, "{\"targets\":[{\"url\":\"sftp://files.example/s/\",\"password\":\"" PASSWORD "\"}]}",
	           "an SFTP target needs \"username\"");
	init_fails(p, h, "{\"components\":[{\"name\":\"API\"},{\"name\":\"API\"}]}",
	           "components[1].name: \"API\" is listed twice");
	init_fails(p, h, "{\"components\":[{\"name\":\"API\",\"labels\":{\"service\":1}}]}",
	           "components[0].labels.service: expected a string");
	init_fails(p, h, "{\"components\":[{\"name\":\"API\",\"labels\":{}}]}", "expected a non-empty object");
	init_fails(p, h, "{\"url\":\"status.example.com\"}", "\"url\" must be the page's public address");
	init_fails(p, h, "{\"history_days\":0}", "\"history_days\" must be an integer from 1 to 3650");
	init_fails(p, h, "{\"templates\":{\"page\":\"x\"}}", "templates: unknown template \"page\"");
	init_fails(p, h, "{\"templates\":{\"index\":\"{{#a}}\"}}", "index");
	init_fails(p, h, "[1]", "configuration must be a JSON object");
	init_fails(p, h, "{\"password\": \"" PASSWORD "\"", "configuration is not valid JSON");

	/* A complete one, SFTP included (this libcurl has it). */
	CHECK(
	    p->init(&fake_api, h,
	            "{\"name\":\"Example\",\"url\":\"https://status.example.com\",\"components\":[{\"name\":\"API\","
	            "\"labels\":{\"service\":\"api\"}},{\"name\":\"Login\"}],\"targets\":[{\"dir\":\"site\"},{\"url\":"
	            "\"https://dav.example/status\",\"username\":\"uploader\",\"password\":\"" PASSWORD
	            "\",\"timeout_ms\":5000},{\"url\":\"sftp://files.example/srv/status/\",\"username\":\"u\","
	            "\"private_key\":\"/k/id\",\"known_hosts\":\"/k/known_hosts\"}],\"history_days\":30,"
	            "\"recent_days\":3,\"templates\":{\"feed\":\"<feed/>\"}}",
	            &inst, err, sizeof(err)) == 0);
	if (!inst)
		fprintf(stderr, "  %s\n", err);
	p->destroy(inst);
}

static int count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".crier-tmp") != NULL;
	if (d)
		closedir(d);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static crier_result deliver(const crier_plugin *p, crier_instance *inst, crier_delivery *d, json_t *ev)
{
	char *text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	memset(d, 0, sizeof(*d));
	d->json = text;
	crier_result r = p->deliver(inst, d);
	free(text);
	return r;
}

static int count_reqs(const crier_host *h, const char *method)
{
	int n = 0;
	for (int i = 0; i < h->n_reqs; i++)
		n += strcmp(h->reqs[i].method, method) == 0;
	return n;
}

static void test_publish(const crier_plugin *p, crier_host *h)
{
	char config[1024], site[512], index[600], page[600], err[512] = "", *html;
	crier_instance *inst = NULL;
	crier_delivery d;
	ino_t before;

	snprintf(site, sizeof(site), "%s/www", h->state_dir);
	snprintf(index, sizeof(index), "%s/index.html", site);
	snprintf(page, sizeof(page), "%s/incidents/3.html", site);
	mkdir(site, 0755);
	snprintf(config, sizeof(config),
	         "{\"name\":\"Example\",\"components\":[{\"name\":\"API\",\"labels\":{\"service\":\"api\"}}],"
	         "\"targets\":[{\"dir\":\"%s\"},{\"url\":\"https://dav.example/status/\",\"username\":\"uploader\","
	         "\"password\":\"" PASSWORD "\"}]}",
	         site);
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == 0);
	if (!inst) {
		fprintf(stderr, "  %s\n", err);
		return;
	}

	/* Two incidents: both targets get the whole site. */
	CHECK(deliver(p, inst, &d, event(1, "opened", 4, "investigating", "warning", 0, "Slow pages", NULL)) ==
	      CRIER_OK);
	CHECK(deliver(p, inst, &d, event(2, "opened", 3, "investigating", "critical", 1, "API errors", NULL)) ==
	      CRIER_OK);
	CHECK(access(index, F_OK) == 0 && access(page, F_OK) == 0 && count_tmp(site) == 0);
	CHECK(dav_has(h, "index.html") && dav_has(h, "incidents/3.html") && dav_has(h, "incidents/4.html") &&
	      dav_has(h, "feed.atom") && dav_has(h, "status.json") && dav_has(h, "history.html"));
	CHECK(h->n_files == 6);             /* no temporary name left behind */
	CHECK(count_reqs(h, "MKCOL") == 1); /* once, then known */
	for (int i = 0; i < h->n_reqs; i++) {
		req_rec *r = &h->reqs[i];
		CHECK_STR(r->auth, "Basic dXBsb2FkZXI6ZGF2LXNlY3JldC1wdy03MWMz");
		if (strcmp(r->method, "PUT") == 0)
			CHECK(strstr(r->url, ".crier-tmp") != NULL && r->body_len > 0 && r->ctype[0]);
		if (strcmp(r->method, "MOVE") == 0)
			CHECK(strcmp(r->overwrite, "T") == 0 &&
			      strncmp(r->dest, "https://dav.example/status/", 27) == 0 &&
			      strstr(r->dest, ".crier-tmp") == NULL);
	}
	CHECK_STR(h->reqs[h->n_reqs - 1].method, "MOVE");
	CHECK_STR(h->reqs[h->n_reqs - 1].dest, "https://dav.example/status/index.html");

	/* The same event again: everything is current, nothing is sent. */
	h->n_reqs = 0;
	before = inode_of(index);
	CHECK(deliver(p, inst, &d, event(2, "opened", 3, "investigating", "critical", 1, "API errors", NULL)) ==
	      CRIER_OK);
	CHECK(h->n_reqs == 0 && inode_of(index) == before);

	/* WebDAV answers 500: the folder is published, the delivery retried,
	 * the error names the target and no secret. */
	h->fail_status = 500;
	h->n_reqs = 0;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_RETRY);
	CHECK(strstr(d.error, "target 1 (dav.example): PUT incidents/.3.html.crier-tmp: HTTP 500") != NULL);
	CHECK(strstr(d.error, PASSWORD) == NULL && strstr(d.error, "uploader") == NULL);
	CHECK(strstr(h->last_log, "target 1 (dav.example)") != NULL);
	html = check_read_file(index, NULL);
	CHECK(html && strstr(html, "Fix deployed."));
	free(html);
	/* The retry re-publishes only the lagging target. */
	before = inode_of(index);
	h->n_reqs = 0;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_RETRY);
	CHECK(h->n_reqs == 1 && inode_of(index) == before);
	/* 503 with Retry-After: the core is told when. */
	h->fail_status = 503;
	h->retry_after = T0 + 30000;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_RETRY);
	CHECK(d.retry_after_ms == T0 + 30000);
	/* No answer at all. */
	h->fail_status = 0;
	h->fail_transport = 1;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_RETRY);
	CHECK(strstr(d.error, "Failed to connect to dav.example") != NULL);
	/* Refused for good. */
	h->fail_transport = 0;
	h->fail_status = 403;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_FAIL);
	CHECK(strstr(d.error, "HTTP 403") != NULL);
	/* Back: only what changed goes (not incident 4's page). */
	h->fail_status = 0;
	h->n_reqs = 0;
	CHECK(deliver(p, inst, &d, event(3, "update", 3, "identified", "critical", 2, "API errors", "Fix deployed.")) ==
	      CRIER_OK);
	CHECK(count_reqs(h, "PUT") == 5 && count_reqs(h, "MOVE") == 5);
	for (int i = 0; i < h->n_reqs; i++)
		CHECK(strstr(h->reqs[i].url, "incidents/.4.html") == NULL);
	p->destroy(inst);

	/* A restart keeps the model: a new incident joins the old ones. */
	inst = NULL;
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	h->n_reqs = 0;
	CHECK(deliver(p, inst, &d, event(4, "opened", 5, "investigating", "major", 3, "Logins slow", NULL)) ==
	      CRIER_OK);
	html = check_read_file(index, NULL);
	CHECK(html && strstr(html, "Logins slow") && strstr(html, "API errors") && strstr(html, "Slow pages") &&
	      strstr(html, "Fix deployed."));
	free(html);
	CHECK(count_reqs(h, "PUT") == 5); /* 5.html, history, feed, status, index */

	/* Not an event. */
	memset(&d, 0, sizeof(d));
	d.json = "{";
	CHECK(p->deliver(inst, &d) == CRIER_FAIL);
	CHECK(deliver(p, inst, &d, json_pack("{si ss}", "id", 9, "type", "opened")) == CRIER_FAIL);
	CHECK_STR(d.error, "the event has no incident");
	p->destroy(inst);

	/* A broken model is kept aside and the page starts afresh. */
	char model[600], aside[640];
	snprintf(model, sizeof(model), "%s/statuspage/public/model.json", h->state_dir);
	snprintf(aside, sizeof(aside), "%s.corrupt", model);
	FILE *f = fopen(model, "w");
	fputs("{\"format\":1,", f);
	fclose(f);
	inst = NULL;
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	CHECK(deliver(p, inst, &d, event(5, "opened", 6, "investigating", "major", 4, "Fresh start", NULL)) ==
	      CRIER_OK);
	CHECK(access(aside, F_OK) == 0);
	CHECK(strstr(h->last_log, "starting a new model") != NULL);
	html = check_read_file(index, NULL);
	CHECK(html && strstr(html, "Fresh start") && !strstr(html, "Logins slow"));
	free(html);
	p->destroy(inst);
	unlink(aside);

	/* A target taken out of the configuration is forgotten. */
	snprintf(config, sizeof(config), "{\"targets\":[{\"dir\":\"%s\"}]}", site);
	inst = NULL;
	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	CHECK(deliver(p, inst, &d, event(6, "update", 6, "identified", "major", 5, "Fresh start", "Found it.")) ==
	      CRIER_OK);
	p->destroy(inst);
	json_t *saved = NULL;
	CHECK(model_load(model, &saved, err, sizeof(err)) == 0);
	CHECK(saved && json_object_size(json_object_get(saved, "targets")) == 1);
	json_decref(saved);
}

static void test_default_target(const crier_plugin *p, crier_host *h)
{
	char path[600], err[512] = "";
	crier_instance *inst = NULL;
	crier_delivery d;

	CHECK(p->init(&fake_api, h, "{}", &inst, err, sizeof(err)) == 0);
	if (!inst)
		return;
	CHECK(deliver(p, inst, &d, event(1, "opened", 1, "investigating", "critical", 0, "Down", NULL)) == CRIER_OK);
	snprintf(path, sizeof(path), "%s/statuspage/default/site/index.html", h->state_dir);
	CHECK(access(path, F_OK) == 0);
	p->destroy(inst);
}

int main(void)
{
	char dir[] = "/tmp/test_statuspage.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_time();
	test_fold();
	test_cap_and_prune();
	test_persistence(dir);
	test_impact();
	static crier_host h = {.name = "statuspage/public"};
	test_site(&h);
	snprintf(h.state_dir, sizeof(h.state_dir), "%s", dir);
	void *dl = NULL;
	const crier_plugin *p = load(&dl);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->name, "statuspage");
		test_config(p, &h);
		test_publish(p, &h);
		h.name = "statuspage/default";
		test_default_target(p, &h);
	}
	if (dl)
		dlclose(dl);
	json_decref(comps[0].labels);
	json_decref(comps[1].labels);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_statuspage: could not remove %s\n", dir);
	return check_summary("test_statuspage");
}
