/*
 * The drafts HTTP API (docs/drafts.md), as pure translation: a path and
 * method become a control request (docs/control.md), a control reply
 * becomes an HTTP status and body. http_server.c does the I/O and the
 * authentication; the core does the work. Safe on any thread.
 *
 *   GET  /api/v1/drafts              every draft, pending first
 *   GET  /api/v1/drafts/ID           one draft
 *   POST /api/v1/drafts/ID/approve   {"actor": "jane"} (optional body)
 *   POST /api/v1/drafts/ID/reject    {"actor": ..., "message": "why"} (optional)
 *   POST /api/v1/drafts/ID/edit      {"text": "...", "actor": ...}
 */
#ifndef CRIER_DRAFTS_API_H
#define CRIER_DRAFTS_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DRAFTS_API_PREFIX "/api/v1/drafts"

typedef enum drafts_api_action {
	DRAFTS_API_LIST,
	DRAFTS_API_SHOW,
	DRAFTS_API_APPROVE,
	DRAFTS_API_REJECT,
	DRAFTS_API_EDIT,
} drafts_api_action;

/* The path is the API's (DRAFTS_API_PREFIX or below it). */
int drafts_api_path(const char *path);

/*
 * Route path (borrowed) to an action and draft id. 0 when path names one;
 * -1 when it names nothing (404). *allow gets the method the action takes
 * ("GET" or "POST", for a 405's Allow header).
 */
int drafts_api_route(const char *path, drafts_api_action *action, int64_t *id, const char **allow);

/*
 * The control request for action on draft id with the request body (len
 * bytes, may be empty): new JSON text, or NULL with err set to the reason
 * for a 400 (bad JSON, an unknown key, edit without "text").
 */
char *drafts_api_request(drafts_api_action action, int64_t id, const char *body, size_t len, char *err, size_t errlen);

/*
 * The HTTP answer for a control reply (borrowed text): the status, and the
 * body as new JSON (the draft; {"drafts": [...]}; or {"status": "error",
 * "error": "..."}). NULL only when out of memory.
 */
json_t *drafts_api_answer(const char *reply, unsigned *status);

#endif
