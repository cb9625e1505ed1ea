/* Audience classification and the public view of events (see audience.h). */
#include "audience.h"

#include "alert.h"
#include "route.h"

#include <string.h>

static int affects_component(const config *c, const json_t *labels)
{
	for (size_t i = 0; i < c->n_components; i++)
		if (route_labels_match(c->components[i].labels, labels))
			return 1;
	return 0;
}

static int rule_matches(const config *c, const config_match *m, const json_t *labels, int severity)
{
	if (!labels)
		return 0;
	if (m->labels && !route_labels_match(m->labels, labels))
		return 0;
	for (size_t i = 0; i < m->n_re; i++) {
		const char *v = json_string_value(json_object_get(labels, m->re_names[i]));
		if (!v || regexec(&m->re[i], v, 0, NULL, 0) != 0)
			return 0;
	}
	if (m->min_severity && severity < m->min_severity)
		return 0;
	if (m->component && !affects_component(c, labels))
		return 0;
	return 1;
}

static int any_matches(const config *c, const config_match *rules, size_t n, const json_t *labels, int severity)
{
	for (size_t i = 0; i < n; i++)
		if (rule_matches(c, &rules[i], labels, severity))
			return 1;
	return 0;
}

int audience_classify(const config *c, const json_t *incident_labels, int severity, const json_t *alert_labels)
{
	int flags = 0;
	/* crier's own alerts (DeliveryDead, MonitoringSilent) are about its plumbing. */
	const char *service = json_string_value(json_object_get(incident_labels, "service"));
	if (service && strcmp(service, "crier") == 0)
		return 0;
	if (c->n_public_when ? any_matches(c, c->public_when, c->n_public_when, incident_labels, severity)
	                     : affects_component(c, incident_labels))
		flags |= AUDIENCE_PUBLIC;
	/* An alert's own labels count too: a DDoS alert joining an incident
	 * whose common labels no longer name it still makes it sensitive. */
	if (any_matches(c, c->security_when, c->n_security_when, incident_labels, severity) ||
	    any_matches(c, c->security_when, c->n_security_when, alert_labels, severity))
		flags |= AUDIENCE_SECURITY;
	return flags;
}

json_t *audience_components(const config *c, const json_t *incident_labels)
{
	json_t *out = json_array();
	for (size_t i = 0; out && i < c->n_components; i++)
		if (route_labels_match(c->components[i].labels, incident_labels) &&
		    json_array_append_new(out, json_string(c->components[i].name)) < 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

/* Copy key from src to dst when present. */
static int keep(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);
	return v ? json_object_set(dst, key, v) : 0;
}

static json_t *public_incident(const json_t *inc, const json_t *alert, int security)
{
	static const char *const kept[] = {"id",          "state",      "severity", "opened_at", "updated_at",
	                                   "resolved_at", "components", "public",   "security"};
	json_t *out = json_object();
	if (!out)
		return NULL;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (keep(out, inc, kept[i]) < 0)
			goto oom;
	if (security) {
		/* Nothing an attacker could learn from: no title from the alerts. */
		if (json_object_set_new(out, "title", json_string("Service disruption")) < 0)
			goto oom;
		return out;
	}
	if (keep(out, inc, "title") < 0)
		goto oom;
	/* What customers need from the alert's annotations: what is affected and what to do. */
	const json_t *ann = json_object_get(alert, "annotations");
	if ((json_object_get(ann, "impact") && json_object_set(out, "impact", json_object_get(ann, "impact")) < 0) ||
	    (json_object_get(ann, "workaround") &&
	     json_object_set(out, "workaround", json_object_get(ann, "workaround")) < 0))
		goto oom;
	return out;
oom:
	json_decref(out);
	return NULL;
}

json_t *audience_public_doc(const json_t *doc)
{
	const json_t *inc = json_object_get(doc, "incident");
	const char *type = json_string_value(json_object_get(doc, "type"));
	int security = json_is_true(json_object_get(inc, "security"));
	json_t *out = json_object();
	if (!out)
		return NULL;
	json_t *pi = public_incident(inc, json_object_get(doc, "alert"), security);
	/* A person's update is written for readers; automatic messages come from alerts. */
	const char *msg = type && strcmp(type, "update") == 0 ? json_string_value(json_object_get(doc, "message")) : "";
	if (!pi || json_object_set_new(out, "incident", pi) < 0 || keep(out, doc, "type") < 0 ||
	    keep(out, doc, "time") < 0 || json_object_set_new(out, "message", json_string(msg ? msg : "")) < 0 ||
	    keep(out, doc, "previous") < 0 || keep(out, doc, "draft") < 0 || keep(out, doc, "severity_is") < 0 ||
	    (type && strcmp(type, "postmortem_published") == 0 && keep(out, doc, "postmortem") < 0)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int audience_internal_type(const char *type)
{
	static const char *const internal[] = {"reminder", "escalation", "awaiting_first_update", "postmortem_due"};
	for (size_t i = 0; type && i < sizeof(internal) / sizeof(internal[0]); i++)
		if (strcmp(type, internal[i]) == 0)
			return 1;
	return 0;
}
