/*
 * The "statuspage" plugin: a static status page for customers, built from
 * the events the instance receives and published to one or more targets
 * (local folders, WebDAV or HTTP PUT hosts, SFTP hosts), so that it can be
 * read from hosts far from the infrastructure it reports on.
 *
 *   model.c    the plugin's own record of incidents, saved under the state
 *              directory (statuspage/<instance>/model.json)
 *   render.c   the site: HTML pages and the Atom feed from Mustache
 *              templates with HTML escaping, status.json
 *   publish.c  the targets, each replaced atomically
 *
 * deliver() folds the event into the model, renders the site once, and
 * sends each target the files it does not have yet; it answers ok only
 * when every target is current. A failing target does not hold back the
 * others: they are published, and the retry sends only what still lags.
 */
#include "model.h"
#include "publish.h"
#include "render.h"

#include <crier/plugin.h>
#include <crier/plugin_file.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_NAME         "Service"
#define DEFAULT_HISTORY_DAYS 90
#define DEFAULT_RECENT_DAYS  7
#define MAX_COMPONENTS       100
#define MAX_TARGETS          16
#define ERROR_MAX            900

static const char *const template_names[] = {"index", "incident", "history", "feed"};
#define N_TEMPLATES (sizeof(template_names) / sizeof(template_names[0]))

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char *name;                /* new: the service's name on the page */
	char *url;                 /* new or NULL: the page's public URL, ending in '/' */
	int history_days, recent_days;
	model_component *comps; /* new array of n_comps */
	size_t n_comps;
	publish_target *targets; /* new array of n_targets */
	size_t n_targets;
	unsigned char *failing;           /* new: per target, its last publication failed */
	crier_template *tpl[N_TEMPLATES]; /* new each */
	char *model_path;                 /* new: <state_dir>/<plugin>/<instance>/model.json */
	json_t *model;                    /* new once loaded (at the first delivery) */
	int dirty;                        /* the model changed since it was last saved */
};

/* ---- configuration ---- */

static void statuspage_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	free(inst->name);
	free(inst->url);
	for (size_t i = 0; i < inst->n_comps; i++) {
		free(inst->comps[i].name);
		json_decref(inst->comps[i].labels);
	}
	free(inst->comps);
	for (size_t i = 0; i < inst->n_targets; i++)
		publish_target_free(&inst->targets[i]);
	free(inst->targets);
	free(inst->failing);
	for (size_t i = 0; i < N_TEMPLATES; i++)
		if (inst->tpl[i])
			inst->api->template_free(inst->tpl[i]);
	free(inst->model_path);
	json_decref(inst->model);
	free(inst);
}

static int parse_components(crier_instance *inst, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *c;

	if (!json_is_array(v) || json_array_size(v) > MAX_COMPONENTS)
		return crier_fail(err, errlen,
		                  "\"components\" must be an array of at most %d objects: [{\"name\": \"API\", "
		                  "\"labels\": {\"service\": \"api\"}}, ...]",
		                  MAX_COMPONENTS);
	if (!(inst->comps = calloc(json_array_size(v) + 1, sizeof(*inst->comps))))
		return crier_fail(err, errlen, "out of memory");
	json_array_foreach(v, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *labels = json_object_get(c, "labels"), *lv;
		const char *k;

		if (!json_is_object(c))
			return crier_fail(err, errlen,
			                  "components[%zu]: expected an object with \"name\" and \"labels\"", i);
		json_object_foreach(c, k, lv)
		{
			if (strcmp(k, "name") != 0 && strcmp(k, "labels") != 0)
				return crier_fail(
				    err, errlen, "components[%zu]: unknown key \"%s\"; known keys: name, labels", i, k);
		}
		if (!name || !*name || json_string_length(json_object_get(c, "name")) > 200)
			return crier_fail(err, errlen, "components[%zu].name: expected a string of 1 to 200 bytes", i);
		for (size_t j = 0; j < inst->n_comps; j++)
			if (strcmp(inst->comps[j].name, name) == 0)
				return crier_fail(err, errlen, "components[%zu].name: \"%s\" is listed twice", i, name);
		if (labels) {
			if (!json_is_object(labels) || json_object_size(labels) == 0)
				return crier_fail(err, errlen,
				                  "components[%zu].labels: expected a non-empty object of label values",
				                  i);
			json_object_foreach(labels, k, lv)
			{
				if (!json_is_string(lv))
					return crier_fail(err, errlen, "components[%zu].labels.%s: expected a string",
					                  i, k);
			}
		}
		if (!(inst->comps[inst->n_comps].name = strdup(name)))
			return crier_fail(err, errlen, "out of memory");
		inst->comps[inst->n_comps++].labels = json_incref(labels);
	}
	return 0;
}

static int parse_targets(crier_instance *inst, const json_t *v, char *err, size_t errlen)
{
	const char *state_dir = inst->api->state_dir(inst->host);
	size_t i;
	json_t *t;

	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_TARGETS)
		return crier_fail(err, errlen,
		                  "\"targets\" must be an array of 1 to %d objects: {\"dir\": ...}, {\"url\": ...}",
		                  MAX_TARGETS);
	if (!(inst->targets = calloc(json_array_size(v), sizeof(*inst->targets))))
		return crier_fail(err, errlen, "out of memory");
	json_array_foreach(v, i, t)
	{
		inst->n_targets = i + 1;
		if (publish_parse(&inst->targets[i], (int)i, t, state_dir, err, errlen) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(inst->targets[j].key, inst->targets[i].key) == 0)
				return crier_fail(err, errlen, "targets[%zu]: the same place as targets[%zu]", i, j);
	}
	return 0;
}

/* "templates": {"index": "inline text" | "file:path", ...}. */
static int check_templates(const json_t *v, char *err, size_t errlen)
{
	const char *k;
	json_t *t;

	if (!json_is_object(v))
		return crier_fail(err, errlen, "\"templates\" must be an object: {\"index\": \"...\", ...}");
	json_object_foreach((json_t *)v, k, t)
	{
		if (crier_lookup(k, template_names, N_TEMPLATES) < 0)
			return crier_fail(err, errlen,
			                  "templates: unknown template \"%s\" (known: index, incident, history, feed)",
			                  k);
		if (!json_is_string(t) || json_string_length(t) == 0)
			return crier_fail(err, errlen, "templates.%s: expected a non-empty string", k);
	}
	return 0;
}

static int parse_int(const json_t *root, const char *key, int lo, int hi, int *out, char *err, size_t errlen)
{
	long n = *out;

	if (crier_json_int(json_object_get(root, key), key, lo, hi, &n, err, errlen) != 0)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_url(crier_instance *inst, const json_t *v, char *err, size_t errlen)
{
	const char *url = json_string_value(v);
	size_t n;

	if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
	    strpbrk(url, " \t\r\n?#\"<>"))
		return crier_fail(
		    err, errlen,
		    "\"url\" must be the page's public address, http:// or https://, without query or fragment");
	n = strlen(url);
	if (asprintf(&inst->url, "%s%s", url, url[n - 1] == '/' ? "" : "/") < 0) {
		inst->url = NULL;
		return crier_fail(err, errlen, "out of memory");
	}
	return 0;
}

static int parse_config(crier_instance *inst, const json_t *root, char *err, size_t errlen)
{
	static const char *const known[] = {"name",         "url",         "components", "targets",
	                                    "history_days", "recent_days", "templates"};
	const char *key, *name;
	json_t *v;

	json_object_foreach((json_t *)root, key, v)
	{
		if (crier_lookup(key, known, sizeof(known) / sizeof(known[0])) < 0)
			return crier_fail_unknown_key(err, errlen, key, known, sizeof(known) / sizeof(known[0]));
	}
	v = json_object_get(root, "name");
	name = v ? json_string_value(v) : DEFAULT_NAME;
	if (!name || !*name || strlen(name) > 100)
		return crier_fail(err, errlen,
		                  "\"name\" must be a string of 1 to 100 bytes (the service's name on the page)");
	if (!(inst->name = strdup(name)))
		return crier_fail(err, errlen, "out of memory");
	if ((v = json_object_get(root, "url")) && parse_url(inst, v, err, errlen) != 0)
		return -1;
	inst->history_days = DEFAULT_HISTORY_DAYS;
	if (parse_int(root, "history_days", 1, 3650, &inst->history_days, err, errlen) != 0)
		return -1;
	inst->recent_days = DEFAULT_RECENT_DAYS < inst->history_days ? DEFAULT_RECENT_DAYS : inst->history_days;
	if (parse_int(root, "recent_days", 0, inst->history_days, &inst->recent_days, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(root, "components")) && parse_components(inst, v, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(root, "templates")) && check_templates(v, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(root, "targets")))
		return parse_targets(inst, v, err, errlen);
	/* No targets: a folder under the state directory, so a fresh
	 * installation has a page to look at. */
	char *dir = NULL;
	if (!(inst->targets = calloc(1, sizeof(*inst->targets))) ||
	    asprintf(&dir, "%s/%s/site", inst->api->state_dir(inst->host), inst->api->instance_name(inst->host)) < 0)
		return crier_fail(err, errlen, "out of memory");
	inst->n_targets = 1;
	int rc = publish_local(&inst->targets[0], 0, dir);
	free(dir);
	return rc == 0 ? 0 : crier_fail(err, errlen, "out of memory");
}

static int statuspage_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                           char *err, size_t errlen)
{
	crier_instance *inst;
	json_t *root = NULL;

	*out = NULL;
	/* Version 2 guarantees every entry this plugin uses. */
	if (!api || api->abi_version < 2)
		return crier_fail(err, errlen,
		                  "the host table lacks entries this plugin needs (ABI version 2 with templates)");
	if (!(inst = calloc(1, sizeof(*inst))))
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	if (!(root = crier_config_load(config_json, err, errlen)) || parse_config(inst, root, err, errlen) != 0 ||
	    crier_templates_load(api, host, json_object_get(root, "templates"), template_names, N_TEMPLATES, inst->tpl,
	                         err, errlen) != N_TEMPLATES)
		goto fail;
	if (!(inst->failing = calloc(inst->n_targets, 1)) ||
	    asprintf(&inst->model_path, "%s/%s/model.json", api->state_dir(host), api->instance_name(host)) < 0) {
		inst->model_path = NULL;
		crier_fail(err, errlen, "out of memory");
		goto fail;
	}
	/* Nothing is read or written here: --check-config runs init and destroy. */
	json_decref(root);
	*out = inst;
	return 0;
fail:
	json_decref(root);
	statuspage_destroy(inst);
	return -1;
}

/* ---- delivering ---- */

/* Targets no longer configured: their records go (a target added back
 * later gets the whole site again). */
static void forget_old_targets(crier_instance *inst)
{
	json_t *targets = json_object_get(inst->model, "targets"), *rec, *tmp;
	const char *key;

	json_object_foreach_safe(targets, tmp, key, rec)
	{
		size_t i = 0;
		while (i < inst->n_targets && strcmp(inst->targets[i].key, key) != 0)
			i++;
		if (i == inst->n_targets) {
			json_object_del(targets, key);
			inst->dirty = 1;
		}
	}
}

/* The model, read at the first delivery. A file that is not a model is
 * kept aside (model.json.corrupt) and the page starts afresh, loudly. */
static int ensure_model(crier_instance *inst, char *err, size_t errlen)
{
	char dir[4096];
	int rc;

	if (inst->model)
		return 0;
	snprintf(dir, sizeof(dir), "%s", inst->model_path);
	*strrchr(dir, '/') = '\0';
	/* Readable folders, so the default site under it can be served; the
	 * model file itself is 0600. */
	if (crier_mkdirs(dir, 0755) != 0)
		return crier_fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	rc = model_load(inst->model_path, &inst->model, err, errlen);
	if (rc == -2) {
		char aside[4200];
		snprintf(aside, sizeof(aside), "%s.corrupt", inst->model_path);
		crier_logf(inst->api, inst->host, CRIER_LOG_ERROR, "%s; kept as %s, starting a new model", err, aside);
		if (rename(inst->model_path, aside) != 0)
			return crier_fail(err, errlen, "cannot move the broken model aside: %s", strerror(errno));
		rc = model_load(inst->model_path, &inst->model, err, errlen);
	}
	if (rc != 0)
		return -1;
	forget_old_targets(inst);
	return 0;
}

/* Which files target t lacks; 1 when it lacks none. */
static int lacking(const json_t *rec, const render_site *site, unsigned char *send)
{
	const json_t *files = json_object_get(rec, "files");
	int current = 1;

	for (size_t i = 0; i < site->n; i++) {
		const char *have = json_string_value(json_object_get(files, site->files[i].path));
		send[i] = !have || strcmp(have, site->files[i].hash) != 0;
		current &= !send[i];
	}
	return current;
}

/* Remember what t now has. */
static int record_published(crier_instance *inst, json_t *rec, const render_site *site, const unsigned char *send)
{
	json_t *files = json_object_get(rec, "files");
	int rc = 0;

	for (size_t i = 0; i < site->n; i++)
		if (send[i])
			rc |= json_object_set_new(files, site->files[i].path, json_string(site->files[i].hash));
	rc |= json_object_set(rec, "version", json_object_get(inst->model, "version"));
	inst->dirty = 1;
	return rc ? -1 : 0;
}

static void append_error(char *errors, const char *e)
{
	size_t n = strlen(errors);
	snprintf(errors + n, ERROR_MAX - n, "%s%s", n ? "; " : "", e);
}

static crier_result statuspage_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	json_t *ev = NULL;
	render_site site = {0};
	unsigned char *send = NULL;
	char err[512] = "", errors[ERROR_MAX] = "";
	int lagging = 0, transient = 0;
	int64_t retry_after = 0;
	crier_result res = CRIER_RETRY;
	render_conf rc = {
	    .name = inst->name,
	    .url = inst->url,
	    .instance = api->instance_name(inst->host),
	    .comps = inst->comps,
	    .n_comps = inst->n_comps,
	    .history_days = inst->history_days,
	    .recent_days = inst->recent_days,
	    .api = api,
	    .index = inst->tpl[0],
	    .incident = inst->tpl[1],
	    .history = inst->tpl[2],
	    .feed = inst->tpl[3],
	};

	ev = json_loads(api->delivery_json(d), 0, NULL);
	if (!ev) {
		api->set_error(d, "the event is not JSON");
		return CRIER_FAIL;
	}
	if (ensure_model(inst, err, sizeof(err)) != 0) {
		crier_logf(inst->api, inst->host, CRIER_LOG_ERROR, "%s", err);
		api->set_error(d, err);
		goto out;
	}
	int changed = model_apply(inst->model, ev, inst->comps, inst->n_comps, api->now_ms(), err, sizeof(err));
	if (changed == -1) {
		api->set_error(d, err);
		res = CRIER_FAIL;
		goto out;
	}
	if (changed < 0) {
		api->set_error(d, err);
		goto out;
	}
	if (model_prune(inst->model, api->now_ms(), inst->history_days) > 0)
		changed = 1;
	inst->dirty |= changed;
	if (render_site_build(&rc, inst->model, &site, err, sizeof(err)) != 0) {
		/* A template that cannot render will not render on a retry either. */
		crier_logf(inst->api, inst->host, CRIER_LOG_ERROR, "%s", err);
		api->set_error(d, err);
		res = CRIER_FAIL;
		goto out;
	}
	if (!(send = calloc(site.n + 1, 1))) {
		api->set_error(d, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < inst->n_targets; i++) {
		publish_target *t = &inst->targets[i];
		json_t *rec = model_target(inst->model, t->key);
		publish_result pr;

		if (!rec) {
			api->set_error(d, "out of memory");
			goto out;
		}
		if (lacking(rec, &site, send)) {
			if (!json_equal(json_object_get(rec, "version"), json_object_get(inst->model, "version")) &&
			    record_published(inst, rec, &site, send) != 0) {
				api->set_error(d, "out of memory");
				goto out;
			}
			continue;
		}
		if (publish_files(api, inst->host, t, site.files, site.n, send, &pr) != 0) {
			crier_logf(inst->api, inst->host, CRIER_LOG_WARN, "%s%s", pr.error,
			           pr.permanent ? "" : "; will retry");
			append_error(errors, pr.error);
			inst->failing[i] = 1;
			lagging++;
			transient |= !pr.permanent;
			if (pr.retry_after_ms > retry_after)
				retry_after = pr.retry_after_ms;
			continue;
		}
		if (inst->failing[i])
			crier_logf(inst->api, inst->host, CRIER_LOG_INFO, "%s is current again", t->label);
		inst->failing[i] = 0;
		if (record_published(inst, rec, &site, send) != 0) {
			api->set_error(d, "out of memory");
			goto out;
		}
	}
	/* Saved before ok: an event acknowledged is an event the page keeps. */
	if (inst->dirty) {
		if (model_save(inst->model_path, inst->model, err, sizeof(err)) != 0) {
			crier_logf(inst->api, inst->host, CRIER_LOG_ERROR, "%s", err);
			api->set_error(d, err);
			goto out;
		}
		inst->dirty = 0;
	}
	if (lagging) {
		res = crier_report(api, d, transient ? CRIER_RETRY : CRIER_FAIL, errors, retry_after);
		goto out;
	}
	res = CRIER_OK;
out:
	free(send);
	render_site_free(&site);
	json_decref(ev);
	return res;
}

static const crier_plugin statuspage_plugin = {
    .abi_version = 2,
    .name = "statuspage",
    .description = "a static status page (HTML, Atom, JSON) published to folders, WebDAV and SFTP hosts",
    .init = statuspage_init,
    .deliver = statuspage_deliver,
    .destroy = statuspage_destroy,
};

CRIER_PLUGIN_DEFINE(statuspage_plugin)
