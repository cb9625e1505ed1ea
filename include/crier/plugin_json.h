/*
 * Helpers for reading an instance's configuration and loading its
 * templates, for plugins that parse JSON with jansson (link -ljansson).
 *
 * Optional, like plugin_util.h (which this header includes): static
 * inline, nothing of crierd's to link.
 */
#ifndef CRIER_PLUGIN_JSON_H
#define CRIER_PLUGIN_JSON_H

#include "plugin.h"
#include "plugin_util.h"

#include <jansson.h>
#include <stddef.h>

/*
 * Parse an instance's configuration (config_json, borrowed; NULL reads as
 * {}). Returns a new JSON object, or NULL with err saying why: not JSON (a
 * duplicate key included) or not an object. A JSON error names the line
 * and column only: jansson's text quotes what is near the error, which
 * may be a secret.
 */
static inline json_t *crier_config_load(const char *config_json, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(config_json ? config_json : "{}", JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		crier_fail(err, errlen, "configuration is not valid JSON (line %d, column %d)", jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		crier_fail(err, errlen, "configuration must be a JSON object");
		return NULL;
	}
	return root;
}

/* The integer setting key, whose value is v (borrowed; NULL when the key is
 * absent, which leaves *out alone), into *out. Returns 0, or -1 with
 * "\"<key>\" must be an integer from <lo> to <hi>" in err. */
static inline int crier_json_int(const json_t *v, const char *key, long lo, long hi, long *out, char *err,
                                 size_t errlen)
{
	json_int_t n = json_integer_value(v);

	if (!v)
		return 0;
	if (!json_is_integer(v) || n < lo || n > hi)
		return crier_fail(err, errlen, "\"%s\" must be an integer from %ld to %ld", key, lo, hi);
	*out = (long)n;
	return 0;
}

/* The string setting key, whose value is v (borrowed), into *out (borrowed
 * from v). Returns 0, or -1 with "\"<key>\" must be a non-empty string" in
 * err when v is not a string or is empty. */
static inline int crier_json_string(const json_t *v, const char *key, const char **out, char *err, size_t errlen)
{
	*out = json_string_value(v);
	if (!*out || !**out)
		return crier_fail(err, errlen, "\"%s\" must be a non-empty string", key);
	return 0;
}

/*
 * Load the n templates names[i] into tpl[i] (each new; free them with
 * template_free), each from its override in overrides, the instance's
 * "templates" object (borrowed; NULL for none; its values checked to be
 * strings already), or without one from the plugin's default file. Returns
 * n, or the index of the template that did not load, with err from
 * template_load ("" when it gave no reason); those loaded before it stay in
 * tpl for the caller to free.
 */
static inline size_t crier_templates_load(const crier_host_api *api, crier_host *host, const json_t *overrides,
                                          const char *const *names, size_t n, crier_template **tpl, char *err,
                                          size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *src = json_string_value(json_object_get(overrides, names[i]));
		if (errlen)
			err[0] = '\0';
		if (!(tpl[i] = api->template_load(host, names[i], src, err, errlen)))
			return i;
	}
	return n;
}

#endif /* CRIER_PLUGIN_JSON_H */
