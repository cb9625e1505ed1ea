/* Post-mortems against a real store and incident engine: the draft written
 * once the resolution commits (and after a crash kept it from being
 * written), the reminder due for public incidents only, never early, sent
 * once, sent again when its transaction rolled back, found again after a
 * restart, and never once published. */
#include "check.h"
#include "incidents.h"
#include "postmortem.h"
#include "store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EV 64
static struct {
	char type[32];
	int64_t incident;
} ev[MAX_EV];
static int n_ev;
static postmortems *the_pm; /* what the router tells of resolutions, as core.c's does */

static int route(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity, const json_t *labels,
                 int audience, const char *also_to, int64_t now)
{
	(void)ctx;
	(void)also_to;
	(void)event_id;
	(void)severity;
	(void)labels;
	if (n_ev < MAX_EV) {
		snprintf(ev[n_ev].type, sizeof(ev[n_ev].type), "%s", type);
		ev[n_ev++].incident = incident_id;
	}
	if (the_pm && strcmp(type, "resolved") == 0)
		return postmortem_resolved(the_pm, incident_id, audience, now);
	return 0;
}

static int count(const char *type, int64_t incident)
{
	int n = 0;
	for (int i = 0; i < n_ev; i++)
		n += strcmp(ev[i].type, type) == 0 && ev[i].incident == incident;
	return n;
}

static int64_t open_incident(store *s, incidents *inc, const char *service, int64_t now)
{
	json_t *a =
	    json_pack("{ss ss ss s{ss ss ss} s{ss} sI sI ss}", "source", "generic", "key", service, "status", "firing",
	              "labels", "alertname", "HighErrorRate", "service", service, "severity", "critical", "annotations",
	              "summary", "Errors *up* <b>", "starts_at", (json_int_t)now, "ends_at", (json_int_t)0, "link", "");
	CHECK(store_begin(s) == 0);
	CHECK(incidents_apply(inc, a, NULL, now) == 1);
	CHECK(incidents_flush(inc) == 0 && store_commit(s) == 0);
	json_decref(a);
	json_t *list = store_incidents_json(s, 0);
	int64_t id = 0;
	/* The open incident of that service ("service=api"). */
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *r = json_array_get(list, i);
		if (strcmp(strchr(json_string_value(json_object_get(r, "key")), '=') + 1, service) == 0)
			id = json_integer_value(json_object_get(r, "id"));
	}
	json_decref(list);
	return id;
}

/* A person resolves; committed is what the core's transaction did. */
static void resolve(store *s, incidents *inc, int64_t id, int64_t now, int committed)
{
	char err[256];
	CHECK(store_begin(s) == 0);
	CHECK(incidents_human(inc, id, "resolve", NULL, "fixed it", "alice", now, err, sizeof(err)) > 0);
	CHECK(incidents_flush(inc) == 0);
	if (committed) {
		CHECK(store_commit(s) == 0);
		postmortem_tx_done(the_pm, 1);
	} else {
		/* Committed, and then crierd stopped before writing the draft. */
		CHECK(store_commit(s) == 0);
	}
}

static int tick(store *s, int64_t now, int commit)
{
	int64_t next;
	CHECK(store_begin(s) == 0);
	int n = postmortem_tick(the_pm, now, &next);
	if (commit) {
		CHECK(store_commit(s) == 0);
		postmortem_tx_done(the_pm, 1);
	} else {
		store_rollback(s);
		postmortem_tx_done(the_pm, 0);
	}
	return n;
}

static char *reply(const char *req_txt, int64_t now)
{
	json_t *req = json_loads(req_txt, 0, NULL);
	int rolled_back = 0;
	char *r = postmortem_control(the_pm, req, json_string_value(json_object_get(req, "cmd")), now, &rolled_back);
	CHECK(!rolled_back);
	json_decref(req);
	return r;
}

int main(void)
{
	char tmp[] = "/tmp/crier-test-postmortem-XXXXXX", path[512], err[512];
	if (!mkdtemp(tmp))
		return 1;
	snprintf(path, sizeof(path), "%s/crier.db", tmp);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	config cfg = {0};
	config_component api = {.name = "API", .labels = json_pack("{ss}", "service", "api")};
	cfg.group_by = json_pack("[s]", "service");
	cfg.hold_ms = 1000;
	cfg.state_dir = tmp;
	cfg.components = &api;
	cfg.n_components = 1;
	cfg.postmortem_due_ms = 10000;
	incidents *inc = s ? incidents_new(s, &cfg, route, NULL, err, sizeof(err)) : NULL;
	the_pm = inc ? postmortem_new(s, inc, &cfg, err, sizeof(err)) : NULL;
	CHECK(the_pm != NULL);
	if (!the_pm)
		return check_summary("test_postmortem");
	CHECK(postmortem_next_deadline(the_pm) == INT64_MAX);

	/* Two incidents resolve at 100 s: the public one owes a post-mortem, the other only has a draft. */
	int64_t pub = open_incident(s, inc, "api", 50000), narrow = open_incident(s, inc, "db", 50000);
	CHECK(pub > 0 && narrow > 0 && pub != narrow);
	/* The cadence's prompts: the reminder is part of the story, its command and the first prompt are not. */
	CHECK(store_begin(s) == 0);
	CHECK(store_event_add(s, pub, "awaiting_first_update", 60000, "crier", "post it: crierctl update", "{}") > 0);
	CHECK(store_event_add(s, pub, "reminder", 70000, "crier", "no update: crierctl update", "{}") > 0);
	CHECK(store_commit(s) == 0);
	resolve(s, inc, pub, 100000, 1);
	resolve(s, inc, narrow, 100000, 1);
	snprintf(path, sizeof(path), "%s/postmortems/incident-%lld.md", tmp, (long long)pub);
	char *text = check_read_file(path, NULL);
	CHECK(text && strstr(text, "# Post-mortem: Errors \\*up\\* \\<b\\>\n") == text);
	CHECK(text && strstr(text, "- **Detected:** 1970-01-01 00:00:50 UTC by generic (alert HighErrorRate)\n"));
	CHECK(text && strstr(text, "- **Resolved:** 1970-01-01 00:01:40 UTC by alice\n- **Duration:** 50 s\n"));
	CHECK(text && strstr(text, "- **Affected components:** API\n"));
	CHECK(text && strstr(text, "- **1970-01-01 00:01:40** Resolved by alice: fixed it\n"));
	CHECK(text && strstr(text, "- **1970-01-01 00:01:10** Reminder to post a public update, from crier\n"));
	CHECK(text && !strstr(text, "crierctl update") && !strstr(text, "00:01:00**"));
	snprintf(path, sizeof(path), "%s/postmortems/incident-%lld.md", tmp, (long long)narrow);
	free(text);
	text = check_read_file(path, NULL);
	CHECK(text && strstr(text, "- **Affected components:** none of the configured components\n"));
	free(text);
	CHECK(postmortem_next_deadline(the_pm) == 110000);

	/* Not before it is due; then once, for the public incident only. */
	CHECK(tick(s, 109999, 1) == 0);
	CHECK(count("postmortem_due", pub) == 0);
	/* A rolled back reminder is sent again: the deadline is looked up again at once. */
	CHECK(tick(s, 110000, 0) == 1);
	CHECK(postmortem_next_deadline(the_pm) == 0);
	CHECK(tick(s, 110001, 1) == 1);
	CHECK(count("postmortem_due", pub) == 2 && count("postmortem_due", narrow) == 0);
	CHECK(postmortem_next_deadline(the_pm) == INT64_MAX);
	CHECK(tick(s, 200000, 1) == 0);
	CHECK(count("postmortem_due", pub) == 2);

	/* A third incident; crierd stops before writing its draft and before it is due. */
	int64_t late = open_incident(s, inc, "api", 300000);
	resolve(s, inc, late, 400000, 0);
	snprintf(path, sizeof(path), "%s/postmortems/incident-%lld.md", tmp, (long long)late);
	CHECK(access(path, F_OK) != 0);
	postmortem_free(the_pm);
	the_pm = postmortem_new(s, inc, &cfg, err, sizeof(err));
	CHECK(the_pm != NULL);
	if (!the_pm)
		return check_summary("test_postmortem");
	CHECK(access(path, F_OK) == 0);
	CHECK(postmortem_next_deadline(the_pm) == 410000);

	/* Published in time: no reminder. */
	char req[256];
	snprintf(req, sizeof(req),
	         "{\"cmd\": \"postmortem_publish\", \"id\": %lld, \"markdown\": \"# Done\", \"actor\": \"bob\"}",
	         (long long)late);
	char *r = reply(req, 405000);
	CHECK(r && strstr(r, "\"ok\":true") && strstr(r, "\"published\":true") &&
	      strstr(r, "\"published_by\":\"bob\""));
	free(r);
	CHECK(count("postmortem_published", late) == 1);
	CHECK(tick(s, 500000, 1) == 0);
	CHECK(count("postmortem_due", late) == 0);
	/* The event carries what was published. */
	json_t *events = store_events_json(s, late);
	json_t *last = json_object_get(json_array_get(events, json_array_size(events) - 1), "data");
	CHECK_STR(json_string_value(json_object_get(json_object_get(last, "postmortem"), "html")), "<h3>Done</h3>\n");
	CHECK_STR(json_string_value(json_object_get(json_object_get(last, "postmortem"), "markdown")), "# Done");
	json_decref(events);

	/* Refused: an open incident, no incident. */
	int64_t open = open_incident(s, inc, "web", 600000);
	snprintf(req, sizeof(req), "{\"cmd\": \"postmortem_publish\", \"id\": %lld, \"markdown\": \"x\"}",
	         (long long)open);
	r = reply(req, 600001);
	CHECK(r && strstr(r, "is investigating, not resolved"));
	free(r);
	r = reply("{\"cmd\": \"postmortem\", \"id\": 999}", 600001);
	CHECK_STR(r, "{\"ok\":false,\"error\":\"no incident 999\"}");
	free(r);

	postmortem_free(the_pm);
	incidents_free(inc);
	store_close(s);
	json_decref(cfg.group_by);
	json_decref(api.labels);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return check_summary("test_postmortem");
}
