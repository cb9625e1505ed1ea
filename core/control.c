#include "control.h"

#include "alert.h"
#include "log.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRIER_VERSION "0.1.0"

/* Replies longer than this are cut (a message names one thing, never a document). */
#define REPLY_MSG_MAX 600

json_t *control_fail(int code, const char *fmt, ...)
{
	char msg[REPLY_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *r = json_pack("{sb ss}", "ok", 0, "error", msg);
	if (r && code && json_object_set_new(r, "code", json_integer(code)) < 0) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

json_t *control_ok(const char *key, json_t *value, int64_t event)
{
	json_t *r = key && !value ? NULL : json_pack("{sb}", "ok", 1);
	if (!r) {
		json_decref(value);
		return NULL;
	}
	if ((key && json_object_set_new(r, key, value) < 0) ||
	    (event && json_object_set_new(r, "event", json_integer(event)) < 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

char *control_reply(json_t *r)
{
	char *txt = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	return txt;
}

unsigned control_reply_status(const json_t *r, unsigned otherwise)
{
	json_int_t code = json_integer_value(json_object_get(r, "code"));
	return code >= 400 && code < 600 ? (unsigned)code : otherwise;
}

/* Stored times are unix ms; people and tools read RFC 3339. */
static void humanize(json_t *v)
{
	static const char *const time_keys[] = {"opened_at", "updated_at", "resolved_at", "created_at",
	                                        "next_at",   "time",       "starts_at",   "ends_at"};
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) humanize(e);
		return;
	}
	if (!json_is_object(v))
		return;
	for (size_t i = 0; i < sizeof(time_keys) / sizeof(time_keys[0]); i++) {
		json_t *t = json_object_get(v, time_keys[i]);
		if (json_is_integer(t))
			json_object_set_new(v, time_keys[i], timefmt_json(json_integer_value(t)));
	}
	json_t *sev = json_object_get(v, "severity");
	if (json_is_integer(sev))
		json_object_set_new(v, "severity", json_string(alert_severity_name((int)json_integer_value(sev))));
	json_t *human = json_object_get(v, "human");
	if (json_is_integer(human))
		json_object_set_new(v, "human", json_boolean(json_integer_value(human)));
}

static int64_t get_id(const json_t *req, const char *name)
{
	json_t *v = json_object_get(req, name);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *get_str(const json_t *req, const char *name)
{
	return json_string_value(json_object_get(req, name));
}

static char *human_action(control_ctx *ctx, const json_t *req, const char *action, int64_t now)
{
	int64_t id = get_id(req, "id");
	if (id <= 0)
		return control_error(0, "%s needs a positive incident \"id\"", action);
	const char *actor = get_str(req, "actor");
	char err[256] = "";
	if (store_begin(ctx->st) < 0)
		return control_error(0, "store unavailable: %s", store_error(ctx->st));
	int64_t ev = incidents_human(ctx->inc, id, action, get_str(req, "state"), get_str(req, "message"),
	                             actor && *actor ? actor : "operator", now, err, sizeof(err));
	if (ev < 0 || incidents_flush(ctx->inc) < 0 || store_commit(ctx->st) < 0) {
		store_rollback(ctx->st);
		if (ev >= 0 || ev == -1) {
			/* Memory may be ahead of the store now: the core rebuilds it. */
			ctx->rolled_back = 1;
			return control_error(0, "store failed: %s", store_error(ctx->st));
		}
		return control_error(0, "%s", err);
	}
	outbox_wake(ctx->ob, NULL);
	log_info("incident changed by a person", " incident=%lld action=%s", (long long)id, action);
	return control_reply(control_ok(NULL, NULL, ev));
}

/*
 * The draft commands: "drafts" (all), "draft" (one), "draft_approve",
 * "draft_reject", "draft_edit". Decisions run in their own transaction.
 */
static char *draft_command(control_ctx *ctx, const json_t *req, const char *cmd, int64_t now)
{
	json_t *d = NULL;
	char err[512] = "";
	int code = 500;
	if (strcmp(cmd, "drafts") == 0) {
		d = drafts_list(ctx->dr);
		if (!d)
			return control_error(503, "store failed: %s", store_error(ctx->st));
		return control_reply(control_ok("drafts", d, 0));
	}
	int64_t id = get_id(req, "id");
	if (id <= 0)
		return control_error(400, "%s needs a positive draft \"id\"", cmd);
	if (strcmp(cmd, "draft") == 0) {
		d = drafts_get(ctx->dr, id, &code, err, sizeof(err));
		if (!d)
			return control_error(code, "%s", err);
		return control_reply(control_ok("draft", d, 0));
	}
	const char *actor = get_str(req, "actor");
	actor = actor && *actor ? actor : "operator";
	if (store_begin(ctx->st) < 0)
		return control_error(503, "store unavailable: %s", store_error(ctx->st));
	if (strcmp(cmd, "draft_approve") == 0)
		d = drafts_approve(ctx->dr, id, actor, now, &code, err, sizeof(err));
	else if (strcmp(cmd, "draft_reject") == 0)
		d = drafts_reject(ctx->dr, id, actor, get_str(req, "message"), now, &code, err, sizeof(err));
	else
		d = drafts_edit(ctx->dr, id, get_str(req, "text"), actor, now, &code, err, sizeof(err));
	if (d && store_commit(ctx->st) < 0) {
		json_decref(d);
		d = NULL;
		code = 503;
		snprintf(err, sizeof(err), "store failed: %s", store_error(ctx->st));
	}
	if (!d) {
		store_rollback(ctx->st);
		/* Events may have been routed before the refusal: forget them. */
		ctx->rolled_back = 1;
		return control_error(code, "%s", err);
	}
	outbox_wake(ctx->ob, NULL);
	return control_reply(control_ok("draft", d, 0));
}

char *control_handle(control_ctx *ctx, const char *req_txt, size_t len, int64_t now)
{
	json_error_t jerr;
	json_t *req = json_loadb(req_txt, len, 0, &jerr);
	json_t *r = NULL;
	char *txt = NULL;
	if (!req)
		return control_error(0, "request is not valid JSON: %s", jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return control_error(0, "%s", "request is not a JSON object");
	}
	json_t *cmdv = json_object_get(req, "cmd");
	const char *cmd = json_string_value(cmdv);
	if (!cmd) {
		txt = control_error(0, "%s", cmdv ? "\"cmd\" must be a string" : "request has no \"cmd\"");
		goto out;
	}
	if (strcmp(cmd, "ack") == 0 || strcmp(cmd, "update") == 0 || strcmp(cmd, "resolve") == 0) {
		txt = human_action(ctx, req, cmd, now);
		goto out;
	}
	if (strcmp(cmd, "drafts") == 0 || strcmp(cmd, "draft") == 0 || strcmp(cmd, "draft_approve") == 0 ||
	    strcmp(cmd, "draft_reject") == 0 || strcmp(cmd, "draft_edit") == 0) {
		txt = draft_command(ctx, req, cmd, now);
		goto out;
	}
	if (subscribers_handles(cmd)) {
		txt = subscribers_control(ctx->subs, ctx->ob, req, cmd, now);
		goto out;
	}
	if (postmortem_is_command(cmd)) {
		txt = postmortem_control(ctx->pm, req, cmd, now, &ctx->rolled_back);
		goto out;
	}
	if (strcmp(cmd, "status") == 0) {
		int64_t pending = 0, dead = 0;
		store_outbox_counts(ctx->st, &pending, &dead);
		json_t *inst = json_array();
		for (size_t i = 0; inst && i < ctx->cfg->n_instances; i++) {
			const config_instance *ic = &ctx->cfg->instances[i];
			outbox_channel_info ci;
			json_t *one = json_pack("{ss ss}", "name", ic->name, "plugin", ic->plugin);
			/* How its host is doing: a crashing process host shows here first. */
			if (one && outbox_channel_describe(ctx->ob, ic->name, &ci) == 0) {
				json_object_set_new(one, "isolation", json_string(ci.process ? "process" : "thread"));
				json_object_set_new(one, "in_flight", json_integer(ci.in_flight));
				if (ci.process) {
					json_object_set_new(one, "pid", ci.pid ? json_integer(ci.pid) : json_null());
					json_object_set_new(one, "host_deaths", json_integer((json_int_t)ci.deaths));
				}
			}
			json_array_append_new(inst, one);
		}
		r = json_pack("{sb ss sI sI sI sI sI so}", "ok", 1, "version", CRIER_VERSION, "uptime_s",
		              (json_int_t)((now - ctx->started_ms) / 1000), "incidents_open",
		              (json_int_t)incidents_open_count(ctx->inc), "alerts_tracked",
		              (json_int_t)incidents_alert_count(ctx->inc), "outbox_pending", (json_int_t)pending,
		              "outbox_dead", (json_int_t)dead, "instances", inst ? inst : json_array());
	} else if (strcmp(cmd, "incidents") == 0) {
		json_t *list = store_incidents_json(ctx->st, json_is_true(json_object_get(req, "all")));
		if (list) {
			humanize(list);
			r = control_ok("incidents", list, 0);
		}
	} else if (strcmp(cmd, "show") == 0) {
		int64_t id = get_id(req, "id");
		if (id <= 0) {
			txt = control_error(0, "%s needs a positive incident \"id\"", cmd);
			goto out;
		}
		json_t *inc = store_incident_json(ctx->st, id);
		if (!inc) {
			txt = control_error(0, "no incident %" PRId64, id);
			goto out;
		}
		json_t *alerts = store_alerts_json(ctx->st, id);
		json_t *events = store_events_json(ctx->st, id);
		humanize(inc);
		humanize(alerts);
		humanize(events);
		r = json_pack("{sb so so so}", "ok", 1, "incident", inc, "alerts", alerts ? alerts : json_array(),
		              "events", events ? events : json_array());
	} else if (strcmp(cmd, "deliveries") == 0) {
		json_t *list =
		    store_deliveries_json(ctx->st, json_is_true(json_object_get(req, "dead")), get_id(req, "incident"));
		if (list) {
			humanize(list);
			r = control_ok("deliveries", list, 0);
		}
	} else if (strcmp(cmd, "retry") == 0) {
		int64_t id = get_id(req, "id");
		char inst[256];
		if (id <= 0) {
			txt = control_error(0, "%s needs a positive delivery \"id\"", cmd);
			goto out;
		}
		int rc = store_outbox_requeue(ctx->st, id, now, inst, sizeof(inst));
		if (rc <= 0) {
			txt = rc == 0 ? control_error(0, "no undelivered delivery %" PRId64, id)
			              : control_error(0, "store failed: %s", store_error(ctx->st));
			goto out;
		}
		outbox_wake(ctx->ob, inst);
		json_t *d = store_delivery_json(ctx->st, id);
		if (d) {
			humanize(d);
			r = control_ok("delivery", d, 0);
		}
		log_info("delivery requeued by a person", " delivery=%lld instance=%s", (long long)id, inst);
	} else {
		txt = control_error(
		    0,
		    "unknown command \"%.32s\" (known: status, incidents, show, ack, update, resolve, "
		    "deliveries, retry, drafts, draft, draft_approve, draft_reject, draft_edit, subscribers, "
		    "subscriber_add, subscriber_remove, postmortems, postmortem, postmortem_draft, "
		    "postmortem_publish)",
		    cmd);
		goto out;
	}
	if (!r) {
		txt = control_error(0, "%s", store_error(ctx->st));
		goto out;
	}
	txt = control_reply(r);
	r = NULL;
out:
	json_decref(r);
	json_decref(req);
	return txt;
}
