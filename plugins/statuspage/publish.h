/*
 * Where the site goes: publishing targets, each replaced atomically file by
 * file (written aside, then renamed; index.html last), so a reader never
 * sees half a page:
 *   {"dir": "/var/www/status"}                   a local folder: temporary file,
 *                                                fsync, rename
 *   {"url": "https://dav.example/status/", ...}  WebDAV: PUT to a temporary name,
 *                                                then MOVE with Overwrite: T; or a
 *                                                plain PUT with "atomic": false
 *   {"url": "sftp://host/path/", ...}            SFTP (libcurl): upload to temporary
 *                                                names, then rename them in place
 * HTTP goes through the host's client (its keep-alive connection, its
 * Retry-After parsing); SFTP through libcurl here, since the host speaks
 * only HTTP.
 *
 * Credentials never reach a log line or an error text: a target is named
 * by its index and its folder or host ("target 1 (dav.example)").
 */
#ifndef STATUSPAGE_PUBLISH_H
#define STATUSPAGE_PUBLISH_H

#include "render.h"

#include <crier/plugin.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum publish_kind { PUBLISH_DIR = 0, PUBLISH_HTTP, PUBLISH_SFTP } publish_kind;

typedef struct publish_target {
	publish_kind kind;
	char *key;   /* new: identity in the model, no credentials ("dir:/var/www/status") */
	char *label; /* new: for logs and errors ("target 1 (dav.example)") */
	char *dir;   /* new: PUBLISH_DIR, absolute, no trailing '/' */
	char *url;   /* new: PUBLISH_HTTP and PUBLISH_SFTP, ending in '/' */
	char *path;  /* new: PUBLISH_SFTP, the URL's path decoded, ending in '/' */
	int atomic;  /* PUBLISH_HTTP: PUT aside then MOVE (default), or a plain PUT */
	int create;  /* PUBLISH_DIR: create the folder when missing (the default target only) */
	long timeout_ms;
	/* Secrets, each new or NULL. */
	char *auth; /* PUBLISH_HTTP: the Authorization header's value */
	char *username, *password, *private_key, *public_key, *key_passphrase;
	/* PUBLISH_SFTP host key check, one of them, each new or NULL. */
	char *known_hosts, *host_key_sha256;
	void *curl;      /* PUBLISH_SFTP: the CURL handle, kept for its connection; NULL until used */
	int folder_made; /* PUBLISH_HTTP: incidents/ was made (or found) on the server */
} publish_target;

/* How a publication went. */
typedef struct publish_result {
	int permanent;          /* the far side refused in a way that retrying will not fix */
	int64_t retry_after_ms; /* absolute unix ms the far side asked to wait for, or 0 */
	char error[400];        /* what failed, without secrets */
} publish_result;

/*
 * Read targets[index] (cfg, borrowed) into t. A relative "dir" is taken
 * relative to state_dir. Returns 0, or -1 with err naming the key (never a
 * secret's value). t is to be freed with publish_target_free either way.
 */
int publish_parse(publish_target *t, int index, const json_t *cfg, const char *state_dir, char *err, size_t errlen);

/* A local folder target (the default one): dir is copied. 0, or -1 (out of memory). */
int publish_local(publish_target *t, int index, const char *dir);

void publish_target_free(publish_target *t);

/*
 * Publish the files whose send[i] is set, in the order given (index.html
 * last). Returns 0 when all of them are in place, -1 with res filled when
 * not (some may be: a later publication sends what is still missing).
 * api and host are the instance's (for HTTP).
 */
int publish_files(const crier_host_api *api, crier_host *host, publish_target *t, const render_file *files, size_t n,
                  const unsigned char *send, publish_result *res);

#endif
