/*
 * The site rendered from the model: index.html (overall banner, components,
 * active incidents, recently resolved), incidents/<id>.html, history.html
 * (the history window, by day), feed.atom and status.json.
 *
 * The HTML pages and the feed are Mustache templates rendered with HTML
 * escaping (conf.d/templates/statuspage/), so every title and message is
 * escaped wherever a template puts it, and operators can restyle the page
 * without touching C. status.json is written with jansson (its schema is
 * in README.md).
 */
#ifndef STATUSPAGE_RENDER_H
#define STATUSPAGE_RENDER_H

#include "model.h"

#include <crier/plugin.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* How bad an incident is for the people using the service, mildest first. */
typedef enum render_impact {
	IMPACT_NONE = 0,
	IMPACT_MAINTENANCE,
	IMPACT_DEGRADED,
	IMPACT_PARTIAL,
	IMPACT_MAJOR,
	IMPACT_N
} render_impact;

typedef struct render_conf {
	const char *name;             /* borrowed: the service's name, e.g. "Example" */
	const char *url;              /* borrowed: the page's public base URL ending in '/', or NULL */
	const char *instance;         /* borrowed: "statuspage/public", for Atom ids without a URL */
	const model_component *comps; /* borrowed array of n_comps */
	size_t n_comps;
	int history_days;            /* how far back history.html goes */
	int recent_days;             /* how long a resolved incident stays on index.html */
	const crier_host_api *api;   /* borrowed: template_render */
	const crier_template *index; /* borrowed, each */
	const crier_template *incident;
	const crier_template *history;
	const crier_template *feed;
} render_conf;

typedef struct render_file {
	char *path; /* new: relative to the site's root, e.g. "incidents/3.html" */
	char *data; /* new */
	size_t len;
	const char *content_type; /* static */
	char hash[17];            /* of data, to tell what a target already has */
} render_file;

/* Files in publishing order: incident pages, history, feed, status.json,
 * and index.html last, so the front page never links to a page not yet there. */
typedef struct render_site {
	render_file *files; /* new array of n */
	size_t n;
} render_site;

/* The impact of an incident record of the model (borrowed). */
render_impact render_incident_impact(const json_t *incident);

/* A stable name for an impact ("major_outage") and its words ("Major outage"). */
const char *render_impact_name(render_impact i);
const char *render_impact_text(render_impact i);

/* The context the templates see (README.md lists it). New, or NULL when memory ran out. */
json_t *render_context(const render_conf *conf, const json_t *model);

/* Render every file of the site from model (borrowed). Returns 0, or -1
 * with err set; *out is empty then. Free with render_site_free. */
int render_site_build(const render_conf *conf, const json_t *model, render_site *out, char *err, size_t errlen);
void render_site_free(render_site *s);

#endif
