/* Drafts against a real store: offered, edited, approved, published, failed,
 * rejected, each step an event routed (or sent to the draft's instance); and
 * the drafts HTTP API's translation to and from control requests. */
#include "check.h"
#include "drafts.h"
#include "drafts_api.h"
#include "incidents.h"
#include "store.h"

#include <stdlib.h>
#include <unistd.h>

#define MAX_EV 32
static struct {
	int64_t event_id, incident_id;
	char type[32], also_to[64];
} routed[MAX_EV];
static int n_routed;
static int refuse_also_to; /* the route says the instance is gone (-2) */

static int route(void *ctx, int64_t event_id, int64_t incident_id, const char *type, int severity, const json_t *labels,
                 int audience, const char *also_to, int64_t now)
{
	(void)ctx;
	(void)audience;
	(void)severity;
	(void)labels;
	(void)now;
	if (also_to && refuse_also_to)
		return -2;
	if (n_routed < MAX_EV) {
		routed[n_routed].event_id = event_id;
		routed[n_routed].incident_id = incident_id;
		snprintf(routed[n_routed].type, sizeof(routed[n_routed].type), "%s", type);
		snprintf(routed[n_routed].also_to, sizeof(routed[n_routed].also_to), "%s", also_to ? also_to : "");
		n_routed++;
	}
	return 0;
}

static const char *status_of(const json_t *d)
{
	return json_string_value(json_object_get(d, "status"));
}

/* The document of the newest event on incident 1. */
static json_t *last_event_doc(store *s)
{
	json_t *events = store_events_json(s, 1);
	json_t *doc = json_incref(json_object_get(json_array_get(events, json_array_size(events) - 1), "data"));
	json_decref(events);
	return doc;
}

static void offer(store *s, drafts *dr, int64_t event_id, const char *instance, const char *text, int64_t now)
{
	plugin_host_draft d = {.network = "mastodon",
	                       .text = (char *)text,
	                       .measure = CRIER_MEASURE_BYTES,
	                       .length = strlen(text),
	                       .limit = 40};
	CHECK(store_begin(s) == 0);
	CHECK(drafts_offered(dr, instance, event_id, 1, &d, now) == 0);
	CHECK(store_commit(s) == 0);
}

static void test_lifecycle(store *s, drafts *dr)
{
	char err[512] = "";
	int code = 0;

	/* Offered: pending, told to the routes, with how to decide. */
	offer(s, dr, 1, "social/mastodon", "We are looking into it.", 10000);
	CHECK(n_routed == 1);
	CHECK_STR(routed[0].type, "draft_created");
	CHECK_STR(routed[0].also_to, "");
	json_t *doc = last_event_doc(s);
	json_t *d = json_object_get(doc, "draft");
	CHECK_STR(json_string_value(json_object_get(doc, "type")), "draft_created");
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "incident"), "state")), "investigating");
	CHECK_STR(status_of(d), "pending");
	CHECK(json_integer_value(json_object_get(d, "id")) == 1);
	CHECK(json_integer_value(json_object_get(d, "length")) == 23);
	CHECK(json_integer_value(json_object_get(d, "limit")) == 40);
	CHECK_STR(json_string_value(json_object_get(d, "approve")), "crierctl drafts approve 1");
	CHECK_STR(json_string_value(json_object_get(d, "api")), "POST /api/v1/drafts/1/approve");
	CHECK_STR(json_string_value(json_object_get(d, "created_at")), "1970-01-01T00:00:10.000Z");
	json_decref(doc);

	/* Edits are measured the draft's way; over the limit names both counts. */
	store_begin(s);
	json_t *j =
	    drafts_edit(dr, 1, "This text is much longer than forty bytes.", "jane", 11000, &code, err, sizeof(err));
	store_rollback(s);
	CHECK(j == NULL && code == 400);
	CHECK(strstr(err, "42 bytes") != NULL && strstr(err, "mastodon allows 40") != NULL);
	store_begin(s);
	j = drafts_edit(dr, 1, "", "jane", 11000, &code, err, sizeof(err));
	store_rollback(s);
	CHECK(j == NULL && code == 400);
	store_begin(s);
	j = drafts_edit(dr, 1, "Fixed soon.", "jane", 11000, &code, err, sizeof(err));
	CHECK(store_commit(s) == 0);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "text")), "Fixed soon.");
	CHECK(json_integer_value(json_object_get(j, "length")) == 11);
	json_decref(j);
	CHECK(n_routed == 1); /* an edit is no event */

	/* Approved: routed, and to its own instance; its publication is that delivery. */
	store_begin(s);
	j = drafts_approve(dr, 1, "jane", 12000, &code, err, sizeof(err));
	CHECK(store_commit(s) == 0);
	CHECK(j != NULL);
	CHECK_STR(status_of(j), "approved");
	CHECK_STR(json_string_value(json_object_get(j, "actor")), "jane");
	CHECK(json_object_get(j, "approve") == NULL); /* decided: no more hints */
	json_decref(j);
	CHECK(n_routed == 2);
	CHECK_STR(routed[1].type, "draft_approved");
	CHECK_STR(routed[1].also_to, "social/mastodon");
	int64_t pub = routed[1].event_id;
	doc = last_event_doc(s);
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "draft"), "text")), "Fixed soon.");
	json_decref(doc);

	/* A second decision is refused. */
	store_begin(s);
	CHECK(drafts_approve(dr, 1, "joe", 12500, &code, err, sizeof(err)) == NULL && code == 409);
	CHECK(strstr(err, "draft 1 is approved, not pending") != NULL);
	CHECK(drafts_reject(dr, 1, "joe", NULL, 12500, &code, err, sizeof(err)) == NULL && code == 409);
	CHECK(drafts_edit(dr, 1, "x", "joe", 12500, &code, err, sizeof(err)) == NULL && code == 409);
	CHECK(drafts_approve(dr, 99, "joe", 12500, &code, err, sizeof(err)) == NULL && code == 404);
	CHECK_STR(err, "no draft 99");
	store_rollback(s);

	/* Other deliveries of the approval are not the publication. */
	store_begin(s);
	CHECK(drafts_publication(dr, "webhook/review", pub, CRIER_OK, NULL, 13000) == 0);
	CHECK(drafts_publication(dr, "social/mastodon", pub + 100, CRIER_OK, NULL, 13000) == 0);
	/* A retry keeps the reason; the success publishes. */
	CHECK(drafts_publication(dr, "social/mastodon", pub, CRIER_RETRY, "HTTP 500", 13000) == 1);
	CHECK(store_commit(s) == 0);
	j = drafts_get(dr, 1, &code, err, sizeof(err));
	CHECK_STR(status_of(j), "approved");
	CHECK_STR(json_string_value(json_object_get(j, "error")), "HTTP 500");
	json_decref(j);
	store_begin(s);
	CHECK(drafts_publication(dr, "social/mastodon", pub, CRIER_OK, NULL, 14000) == 1);
	CHECK(store_commit(s) == 0);
	j = drafts_get(dr, 1, &code, err, sizeof(err));
	CHECK_STR(status_of(j), "published");
	CHECK(json_is_null(json_object_get(j, "error")));
	json_decref(j);
	CHECK(n_routed == 3);
	CHECK_STR(routed[2].type, "draft_published");
}

static void test_reject_fail_and_gone(store *s, drafts *dr)
{
	char err[512] = "";
	int code = 0;

	offer(s, dr, 1, "social/x", "Looking into it.", 20000);
	offer(s, dr, 1, "social/bluesky", "Looking into it.", 20000);
	offer(s, dr, 1, "social/gone", "Looking into it.", 20000);
	int base = n_routed;

	store_begin(s);
	json_t *j = drafts_reject(dr, 3, "jane", "not this time", 21000, &code, err, sizeof(err));
	CHECK(store_commit(s) == 0);
	CHECK_STR(status_of(j), "rejected");
	json_decref(j);
	CHECK_STR(routed[base].type, "draft_rejected");
	json_t *doc = last_event_doc(s);
	CHECK_STR(json_string_value(json_object_get(doc, "message")), "not this time");
	json_decref(doc);

	/* A failed publication is final, with the plugin's reason. */
	store_begin(s);
	j = drafts_approve(dr, 2, "jane", 22000, &code, err, sizeof(err));
	CHECK(j != NULL);
	json_decref(j);
	int64_t pub = routed[n_routed - 1].event_id;
	CHECK(drafts_publication(dr, "social/x", pub, CRIER_FAIL, "publishing to X is not built", 22500) == 1);
	CHECK(store_commit(s) == 0);
	j = drafts_get(dr, 2, &code, err, sizeof(err));
	CHECK_STR(status_of(j), "failed");
	CHECK_STR(json_string_value(json_object_get(j, "error")), "publishing to X is not built");
	json_decref(j);
	CHECK_STR(routed[n_routed - 1].type, "draft_failed");

	/* A long reason is cut between characters: the event recording it is JSON. */
	offer(s, dr, 1, "social/long", "Looking into it.", 22600);
	store_begin(s);
	j = drafts_approve(dr, 5, "jane", 22700, &code, err, sizeof(err));
	CHECK(j != NULL);
	json_decref(j);
	pub = routed[n_routed - 1].event_id;
	char reason[512];
	memset(reason, 'x', 499);
	snprintf(reason + 499, sizeof(reason) - 499, "\xc3\xa9 more");
	CHECK(drafts_publication(dr, "social/long", pub, CRIER_FAIL, reason, 22800) == 1);
	CHECK(store_commit(s) == 0);
	j = drafts_get(dr, 5, &code, err, sizeof(err));
	CHECK_STR(status_of(j), "failed");
	json_decref(j);
	CHECK_STR(routed[n_routed - 1].type, "draft_failed");

	/* An instance that is gone cannot publish: refused, nothing kept (the caller rolls back). */
	refuse_also_to = 1;
	store_begin(s);
	CHECK(drafts_approve(dr, 4, "jane", 23000, &code, err, sizeof(err)) == NULL && code == 409);
	CHECK(strstr(err, "social/gone, which is not configured") != NULL);
	store_rollback(s);
	refuse_also_to = 0;
	j = drafts_get(dr, 4, &code, err, sizeof(err));
	CHECK_STR(status_of(j), "pending");
	json_decref(j);

	/* The list: pending first. */
	json_t *list = drafts_list(dr);
	CHECK(json_array_size(list) == 5);
	CHECK_STR(status_of(json_array_get(list, 0)), "pending");
	CHECK(json_integer_value(json_object_get(json_array_get(list, 0), "id")) == 4);
	/* Each as "draft" shows it, key for key and in the same order. */
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		json_t *one = drafts_get(dr, json_integer_value(json_object_get(e, "id")), &code, err, sizeof(err));
		char *listed = json_dumps(e, JSON_COMPACT), *alone = one ? json_dumps(one, JSON_COMPACT) : NULL;
		CHECK(listed && alone && strstr(listed, "\"created_at\":\"") != NULL);
		if (listed && alone)
			CHECK_STR(listed, alone);
		free(listed);
		free(alone);
		json_decref(one);
	}
	json_decref(list);
}

static void test_api(void)
{
	drafts_api_action a;
	int64_t id;
	const char *allow;
	char err[256];

	CHECK(drafts_api_route("/api/v1/drafts", &a, &id, &allow) == 0 && a == DRAFTS_API_LIST);
	CHECK_STR(allow, "GET");
	CHECK(drafts_api_route("/api/v1/drafts/17", &a, &id, &allow) == 0 && a == DRAFTS_API_SHOW && id == 17);
	CHECK(drafts_api_route("/api/v1/drafts/17/approve", &a, &id, &allow) == 0 && a == DRAFTS_API_APPROVE);
	CHECK_STR(allow, "POST");
	CHECK(drafts_api_route("/api/v1/drafts/17/reject", &a, &id, &allow) == 0 && a == DRAFTS_API_REJECT);
	CHECK(drafts_api_route("/api/v1/drafts/17/edit", &a, &id, &allow) == 0 && a == DRAFTS_API_EDIT);
	static const char *const bad[] = {
	    "/api/v1/drafts/",          "/api/v1/drafts/0",  "/api/v1/drafts/017",
	    "/api/v1/drafts/x",         "/api/v1/drafts/1/", "/api/v1/drafts/1/publish",
	    "/api/v1/drafts/-1",        "/api/v1/draftsx",   "/api/v1/drafts/1234567890123456789",
	    "/api/v1/drafts/1/approve/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(drafts_api_route(bad[i], &a, &id, &allow) < 0);
	CHECK(!drafts_api_path("/api/v1/draftsx") && drafts_api_path("/api/v1/drafts/1"));

	char *req = drafts_api_request(DRAFTS_API_APPROVE, 7, "", 0, err, sizeof(err));
	CHECK_STR(req, "{\"cmd\":\"draft_approve\",\"id\":7,\"actor\":\"drafts API\"}");
	free(req);
	const char *body = "{\"text\":\"hi\",\"actor\":\"jane\"}";
	req = drafts_api_request(DRAFTS_API_EDIT, 7, body, strlen(body), err, sizeof(err));
	json_t *j = json_loads(req ? req : "", 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "cmd")), "draft_edit");
	CHECK_STR(json_string_value(json_object_get(j, "text")), "hi");
	CHECK_STR(json_string_value(json_object_get(j, "actor")), "jane");
	json_decref(j);
	free(req);
	CHECK(drafts_api_request(DRAFTS_API_EDIT, 7, "{}", 2, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "text: missing") != NULL);
	CHECK(drafts_api_request(DRAFTS_API_APPROVE, 7, "{\"text\":\"x\"}", 12, err, sizeof(err)) == NULL);
	CHECK_STR(err, "unknown key \"text\" (known: actor)");
	CHECK(drafts_api_request(DRAFTS_API_REJECT, 7, "{\"text\":\"x\"}", 12, err, sizeof(err)) == NULL);
	CHECK_STR(err, "unknown key \"text\" (known: actor, message)");
	CHECK(drafts_api_request(DRAFTS_API_REJECT, 7, "{\"message\": 3}", 14, err, sizeof(err)) == NULL);
	CHECK_STR(err, "message: not a string");
	CHECK(drafts_api_request(DRAFTS_API_REJECT, 7, "[1]", 3, err, sizeof(err)) == NULL);
	CHECK_STR(err, "body: not a JSON object");
	CHECK(drafts_api_request(DRAFTS_API_REJECT, 7, "{\"x", 3, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "invalid JSON at line 1", 22) == 0);

	unsigned status = 0;
	j = drafts_api_answer("{\"ok\":true,\"draft\":{\"id\":7}}", &status);
	CHECK(status == 200 && json_integer_value(json_object_get(j, "id")) == 7);
	json_decref(j);
	j = drafts_api_answer("{\"ok\":true,\"drafts\":[]}", &status);
	CHECK(status == 200 && json_is_array(json_object_get(j, "drafts")));
	json_decref(j);
	j = drafts_api_answer("{\"ok\":false,\"error\":\"no draft 9\",\"code\":404}", &status);
	CHECK(status == 404);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "no draft 9");
	CHECK_STR(json_string_value(json_object_get(j, "status")), "error");
	json_decref(j);
	j = drafts_api_answer("nonsense", &status);
	CHECK(status == 500 && j != NULL);
	json_decref(j);
}

int main(void)
{
	char dir[] = "/tmp/crier-test-drafts-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/crier.db", dir);
	store *s = store_open(path, 0, 1000, err, sizeof(err));
	CHECK(s != NULL);
	config cfg = {0};
	cfg.group_by = json_pack("[s]", "service");
	cfg.hold_ms = 1000;
	incidents *m = incidents_new(s, &cfg, route, NULL, err, sizeof(err));
	drafts *dr = drafts_new(s, m);
	CHECK(m != NULL && dr != NULL);
	if (s && m && dr) {
		json_t *a = json_pack("{ss ss ss s{ss ss ss} s{ss} sI sI ss}", "source", "alertmanager", "key", "k1",
		                      "status", "firing", "labels", "alertname", "Down", "service", "api", "severity",
		                      "critical", "annotations", "summary", "api down", "starts_at", (json_int_t)1000,
		                      "ends_at", (json_int_t)0, "link", "");
		store_begin(s);
		CHECK(incidents_apply(m, a, NULL, 5000) == 1);
		incidents_flush(m);
		store_commit(s);
		json_decref(a);
		/* The incident's own "opened" went through the same router: count drafts' events only. */
		CHECK(n_routed == 1 && strcmp(routed[0].type, "opened") == 0);
		n_routed = 0;
		test_lifecycle(s, dr);
		test_reject_fail_and_gone(s, dr);
	}
	test_api();
	drafts_free(dr);
	incidents_free(m);
	store_close(s);
	json_decref(cfg.group_by);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_summary("test_drafts");
}
