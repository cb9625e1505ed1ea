/* Routes: which plugin instances get an event (conf.d/routes.json). */
#ifndef CRIER_ROUTE_H
#define CRIER_ROUTE_H

#include "config.h"

#include <jansson.h>
#include <stddef.h>

/* Every name -> value of want (borrowed) is in have (borrowed, may be NULL). */
int route_labels_match(const json_t *want, const json_t *have);

/*
 * Fill out[] with the names of the instances every matching route sends
 * the event to, each once, in configuration order. Names are borrowed from
 * cfg. Returns the count (at most max).
 */
size_t route_targets(const config *cfg, const char *type, int severity, const json_t *labels, const char **out,
                     size_t max);

#endif
