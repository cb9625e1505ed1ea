#include "route.h"

#include <string.h>

int route_labels_match(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want, k, v)
	{
		const char *h = json_string_value(json_object_get(have, k));
		if (!h || strcmp(h, json_string_value(v)) != 0)
			return 0;
	}
	return 1;
}

static int route_matches(const config_route *r, const char *type, int severity, const json_t *labels)
{
	if (r->events) {
		int hit = 0;
		size_t i;
		json_t *v;
		json_array_foreach(r->events, i, v)
		{
			const char *e = json_string_value(v);
			if (e && (strcmp(e, "*") == 0 || strcmp(e, type) == 0)) {
				hit = 1;
				break;
			}
		}
		if (!hit)
			return 0;
	}
	if (r->min_severity && severity < r->min_severity)
		return 0;
	return !r->labels || route_labels_match(r->labels, labels);
}

size_t route_targets(const config *cfg, const char *type, int severity, const json_t *labels, const char **out,
                     size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const config_route *r = &cfg->routes[i];
		if (!route_matches(r, type, severity, labels))
			continue;
		size_t j;
		json_t *v;
		json_array_foreach(r->to, j, v)
		{
			const char *name = json_string_value(v);
			int seen = 0;
			for (size_t k = 0; k < n && !seen; k++)
				seen = strcmp(out[k], name) == 0;
			if (!seen && n < max)
				out[n++] = name;
		}
	}
	return n;
}
