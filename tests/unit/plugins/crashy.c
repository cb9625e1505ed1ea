/*
 * "crashy": a test plugin that dies on demand, for isolation "process"
 * (tests/integration/test_isolation.py, tests/unit/test_plugin_host.c).
 * Built into $(BUILD)/tests/plugins/, never into build/plugins: it must not
 * ship.
 *
 * Configuration: {"url": "http://..." (required), "init_crash_file": "/path"}.
 * init(): segfaults while init_crash_file exists (a plugin that cannot
 * even start: its host must not be restarted in a tight loop).
 * deliver(): when the event's alert has the label crash="yes", writes
 * through a NULL pointer (a real SIGSEGV, as a buggy plugin would);
 * otherwise POSTs the event document to url: 2xx is CRIER_OK, anything else
 * or no answer CRIER_RETRY.
 *
 * Never configure it with isolation "thread": the crash would take crierd down.
 */
#include "crier/plugin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host */
	crier_host *host;          /* borrowed */
	char *url;                 /* new */
};

static void crash(void);

static int c_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out, char *err,
                  size_t errlen)
{
	json_error_t jerr;
	json_t *cfg = json_loads(config_json, 0, &jerr), *v;
	const char *key;
	crier_instance *inst = NULL;
	int rc = -1;
	if (!json_is_object(cfg)) {
		snprintf(err, errlen, "configuration is not a JSON object");
		goto out;
	}
	json_object_foreach(cfg, key, v)
	{
		if (strcmp(key, "url") != 0 && strcmp(key, "init_crash_file") != 0) {
			snprintf(err, errlen, "%s: unknown key (known: url, init_crash_file)", key);
			goto out;
		}
	}
	v = json_object_get(cfg, "init_crash_file");
	if (json_is_string(v) && access(json_string_value(v), F_OK) == 0)
		crash();
	if (!json_is_string(json_object_get(cfg, "url"))) {
		snprintf(err, errlen, "url: required, a string");
		goto out;
	}
	inst = calloc(1, sizeof(*inst));
	if (!inst || !(inst->url = strdup(json_string_value(json_object_get(cfg, "url"))))) {
		snprintf(err, errlen, "out of memory");
		free(inst);
		goto out;
	}
	inst->api = api;
	inst->host = host;
	*out = inst;
	rc = 0;
out:
	json_decref(cfg);
	return rc;
}

/* The bug on purpose. Not instrumented: the sanitizers would report it
 * instead of letting the kernel deliver SIGSEGV. */
__attribute__((noinline, no_sanitize("address", "undefined"))) static void crash(void)
{
	volatile int *volatile nowhere = NULL;
	*nowhere = 1;
}

static int wants_crash(const char *doc)
{
	json_t *ev = json_loads(doc, 0, NULL);
	const char *v =
	    json_string_value(json_object_get(json_object_get(json_object_get(ev, "alert"), "labels"), "crash"));
	int yes = v && strcmp(v, "yes") == 0;
	json_decref(ev);
	return yes;
}

static crier_result c_deliver(crier_instance *inst, crier_delivery *d)
{
	const crier_host_api *api = inst->api;
	const char *doc = api->delivery_json(d);
	if (wants_crash(doc))
		crash();
	crier_http_header headers[] = {{"Content-Type", "application/json"}, {"Idempotency-Key", api->delivery_key(d)}};
	crier_http_request req = {.method = "POST",
	                          .url = inst->url,
	                          .headers = headers,
	                          .n_headers = 2,
	                          .body = doc,
	                          .body_len = strlen(doc),
	                          .timeout_ms = 5000};
	crier_http_response resp = {0};
	char why[300];
	crier_result r = CRIER_RETRY;
	if (api->http_request(inst->host, &req, &resp) != 0)
		snprintf(why, sizeof(why), "no answer: %s", resp.error);
	else if (resp.status >= 200 && resp.status < 300)
		r = CRIER_OK;
	else
		snprintf(why, sizeof(why), "HTTP %ld", resp.status);
	if (r != CRIER_OK)
		api->set_error(d, why);
	api->http_response_free(&resp);
	return r;
}

static void c_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	free(inst->url);
	free(inst);
}

static const crier_plugin crashy = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "crashy",
    .description = "test plugin: POSTs events, segfaults on alerts labelled crash=yes",
    .init = c_init,
    .deliver = c_deliver,
    .destroy = c_destroy,
};

CRIER_PLUGIN_DEFINE(crashy)
