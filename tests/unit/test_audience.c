/* Which incidents are public or security, and the public view of events. */
#include "audience.h"
#include "check.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/crier-test-audience-XXXXXX";

static config *load(const char *public_json)
{
	char path[256], err[1024] = "";
	snprintf(path, sizeof(path), "%s/public.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	/* People write the first update here: no template needed (cadence.h). */
	fprintf(f, "{\"public\": {\"first_message\": \"human\", %s}", public_json + 1);
	fclose(f);
	config *c = config_load(dir, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  config: %s\n", err);
	return c;
}

static const char *load_err(const char *public_json)
{
	static char err[1024];
	char path[256];
	snprintf(path, sizeof(path), "%s/public.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return "";
	fprintf(f, "{\"public\": %s}", public_json);
	fclose(f);
	err[0] = '\0';
	config *c = config_load(dir, err, sizeof(err));
	config_free(c);
	const char *slash = strstr(err, "public.json: ");
	return slash ? slash + strlen("public.json: ") : err;
}

static void test_classify(void)
{
	config *c = load("{\"components\": [{\"name\": \"API\", \"labels\": {\"service\": \"api\"}},"
	                 " {\"name\": \"Website\", \"labels\": {\"service\": \"web\"}}],"
	                 " \"when\": [{\"labels\": {\"scope\": \"service-wide\"}}, {\"min_severity\": \"major\", "
	                 "\"component\": true}],"
	                 " \"security_when\": [{\"labels\": {\"security\": \"true\"}},"
	                 " {\"labels_match\": {\"alertname\": \"^(DDoS|SynFlood)\"}}]}");
	CHECK(c != NULL);
	if (!c)
		return;
	json_t *api_warn = json_pack("{ss ss}", "service", "api", "severity", "warning");
	json_t *wide = json_pack("{ss ss}", "service", "batch", "scope", "service-wide");
	json_t *ddos = json_pack("{ss ss}", "alertname", "DDoSDetected", "service", "web");
	json_t *db = json_pack("{ss}", "service", "db");

	/* a component alone is not enough when rules are given: major or above */
	CHECK(audience_classify(c, api_warn, alert_severity_rank("warning"), NULL) == 0);
	CHECK(audience_classify(c, api_warn, alert_severity_rank("critical"), NULL) == AUDIENCE_PUBLIC);
	CHECK(audience_classify(c, wide, alert_severity_rank("info"), NULL) == AUDIENCE_PUBLIC);
	CHECK(audience_classify(c, db, alert_severity_rank("critical"), NULL) == 0);
	/* crier's own incidents (DeliveryDead, MonitoringSilent) never, whatever the rules say */
	json_t *own = json_pack("{ss ss}", "service", "crier", "scope", "service-wide");
	CHECK(audience_classify(c, own, alert_severity_rank("critical"), NULL) == 0);
	json_decref(own);
	/* security from the incident's labels, or from a joining alert's own */
	CHECK(audience_classify(c, ddos, alert_severity_rank("critical"), NULL) ==
	      (AUDIENCE_PUBLIC | AUDIENCE_SECURITY));
	json_t *web = json_pack("{ss}", "service", "web");
	CHECK(audience_classify(c, web, alert_severity_rank("critical"), ddos) ==
	      (AUDIENCE_PUBLIC | AUDIENCE_SECURITY));
	CHECK(audience_classify(c, web, alert_severity_rank("critical"), db) == AUDIENCE_PUBLIC);

	json_t *comp = audience_components(c, api_warn);
	CHECK(json_array_size(comp) == 1 && strcmp(json_string_value(json_array_get(comp, 0)), "API") == 0);
	json_decref(comp);
	comp = audience_components(c, db);
	CHECK(comp && json_array_size(comp) == 0);
	json_decref(comp);

	json_decref(api_warn);
	json_decref(wide);
	json_decref(ddos);
	json_decref(db);
	json_decref(web);
	config_free(c);

	/* Without rules, affecting a component is what makes an incident public. */
	c = load("{\"components\": [{\"name\": \"API\", \"labels\": {\"service\": \"api\"}}]}");
	CHECK(c != NULL);
	if (c) {
		json_t *l = json_pack("{ss}", "service", "api");
		CHECK(audience_classify(c, l, 1, NULL) == AUDIENCE_PUBLIC);
		json_decref(l);
		config_free(c);
	}
}

static void test_public_doc(void)
{
	const char *stored =
	    "{\"type\":\"alert_joined\",\"time\":\"2026-11-21T12:00:00.000Z\",\"actor\":\"alertmanager\","
	    "\"message\":\"db-7.internal down\",\"incident\":{\"id\":3,\"key\":\"service=web\",\"title\":\"SYN flood "
	    "on lb-2.internal\",\"state\":\"investigating\",\"severity\":\"critical\",\"labels\":{\"service\":\"web\","
	    "\"instance\":\"lb-2.internal\"},\"opened_at\":\"x\",\"updated_at\":\"y\",\"resolved_at\":null,"
	    "\"alerts_firing\":2,\"human\":false,\"public\":true,\"security\":%s,\"components\":[\"Website\"]},"
	    "\"alert\":{\"labels\":{\"alertname\":\"SynFlood\"},\"annotations\":{\"summary\":\"SYN flood on "
	    "lb-2.internal\",\"impact\":\"Slow pages\",\"workaround\":\"Retry\"}}}";
	char buf[2048];

	snprintf(buf, sizeof(buf), stored, "true");
	json_t *doc = json_loads(buf, 0, NULL);
	json_t *pub = audience_public_doc(doc);
	char *txt = json_dumps(pub, JSON_COMPACT);
	CHECK(txt != NULL);
	if (txt) {
		CHECK(strstr(txt, "lb-2") == NULL);
		CHECK(strstr(txt, "db-7") == NULL);
		CHECK(strstr(txt, "SynFlood") == NULL && strstr(txt, "SYN") == NULL);
		CHECK(strstr(txt, "service") == NULL);
		CHECK(strstr(txt, "Slow pages") == NULL);
		CHECK(strstr(txt, "\"title\":\"Service disruption\"") != NULL);
		CHECK(strstr(txt, "\"components\":[\"Website\"]") != NULL);
		CHECK(strstr(txt, "\"message\":\"\"") != NULL);
	}
	free(txt);
	json_decref(pub);
	json_decref(doc);

	/* Not security: the title and what customers need, still no labels or alert. */
	snprintf(buf, sizeof(buf), stored, "false");
	doc = json_loads(buf, 0, NULL);
	pub = audience_public_doc(doc);
	txt = json_dumps(pub, JSON_COMPACT);
	CHECK(txt && strstr(txt, "\"title\":\"SYN flood on lb-2.internal\"") != NULL);
	CHECK(txt && strstr(txt, "\"impact\":\"Slow pages\"") && strstr(txt, "\"workaround\":\"Retry\""));
	CHECK(txt && strstr(txt, "\"labels\"") == NULL && strstr(txt, "\"alert\"") == NULL &&
	      strstr(txt, "\"key\"") == NULL && strstr(txt, "alertmanager") == NULL);
	free(txt);
	json_decref(pub);
	json_decref(doc);

	/* A person's update keeps its message. */
	doc = json_pack("{ss ss s{sI ss sb sb}}", "type", "update", "message", "We rolled back the deploy.", "incident",
	                "id", (json_int_t)3, "state", "identified", "public", 1, "security", 1);
	pub = audience_public_doc(doc);
	CHECK_STR(json_string_value(json_object_get(pub, "message")), "We rolled back the deploy.");
	json_decref(pub);
	json_decref(doc);

	/* A published post-mortem is written for readers; the reminder's details are not. */
	doc = json_pack("{ss s{sI sb sb} s{ss ss}}", "type", "postmortem_published", "incident", "id", (json_int_t)3,
	                "public", 1, "security", 1, "postmortem", "markdown", "# What happened", "html",
	                "<h2>What happened</h2>\n");
	pub = audience_public_doc(doc);
	CHECK(json_equal(json_object_get(pub, "postmortem"), json_object_get(doc, "postmortem")));
	json_decref(pub);
	json_object_set_new(doc, "type", json_string("postmortem_due"));
	pub = audience_public_doc(doc);
	CHECK(pub != NULL && json_object_get(pub, "postmortem") == NULL);
	json_decref(pub);
	json_decref(doc);
	CHECK(audience_internal_type("postmortem_due"));
	CHECK(!audience_internal_type("postmortem_published"));
	CHECK(!audience_internal_type("resolved"));
	CHECK(!audience_internal_type(NULL));
}

static void test_errors(void)
{
	CHECK_STR(load_err("{\"components\": [{\"labels\": {\"service\": \"api\"}}]}"),
	          "public.components[0]: missing required key \"name\" (what customers read, e.g. \"API\")");
	CHECK_STR(load_err("{\"components\": [{\"name\": \"API\"}]}"),
	          "public.components[0]: missing required key \"labels\" (which incidents affect it)");
	CHECK_STR(load_err("{\"components\": [{\"name\": \"A\", \"labels\": {\"s\": \"a\"}}, {\"name\": \"A\", "
	                   "\"labels\": {\"s\": \"b\"}}]}"),
	          "public.components[1].name: \"A\" is listed twice");
	CHECK_STR(load_err("{\"when\": [{}]}"),
	          "public.when[0]: a rule needs at least one of labels, labels_match, min_severity, component");
	CHECK_STR(load_err("{\"when\": [{\"min_severity\": \"huge\"}]}"),
	          "public.when[0].min_severity: unknown severity \"huge\" (known: info, warning, major, critical)");
	const char *e = load_err("{\"security_when\": [{\"labels_match\": {\"alertname\": \"(DDoS\"}}]}");
	CHECK(strncmp(e,
	              "public.security_when[0].labels_match.alertname: not a valid POSIX extended regular expression",
	              strlen("public.security_when[0].labels_match.alertname: not a valid POSIX extended regular "
	                     "expression")) == 0);
	CHECK_STR(load_err("{\"when\": [{\"labels\": {}}]}"),
	          "public.when[0].labels: expected at least one label (an empty set matches every incident)");
	CHECK_STR(load_err("{\"components\": [{\"name\": \"API\", \"labels\": {}}]}"),
	          "public.components[0].labels: expected at least one label (an empty set matches every incident)");
	CHECK_STR(load_err("{\"when\": [{\"component\": \"yes\"}]}"),
	          "public.when[0].component: expected true or false, got a string");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_classify();
	test_public_doc();
	test_errors();
	char path[256];
	snprintf(path, sizeof(path), "%s/public.json", dir);
	unlink(path);
	rmdir(dir);
	return check_summary("test_audience");
}
