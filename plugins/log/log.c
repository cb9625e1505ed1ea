/*
 * The "log" plugin: appends every event it receives, as one JSON line, to a
 * file under the daemon's state directory. Useful as an audit trail, for
 * tests, and as the smallest example of the plugin ABI.
 */
#include <crier/plugin.h>
#include <crier/plugin_file.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PATH "events.jsonl"

struct crier_instance {
	const crier_host_api *api; /* borrowed from the host, lives as long as the instance */
	crier_host *host;          /* borrowed, same */
	char *path;                /* new: the configured path, for messages */
	char *full_path;           /* new: absolute or state_dir-relative resolved */
	int do_fsync;
	int fd;   /* -1 until the first delivery */
	int torn; /* a failed write may have left half a line behind */
};

static int parse_config(const char *config_json, char **path, int *do_fsync, char *err, size_t errlen)
{
	json_t *root, *v;
	const char *key;
	int ret = -1;

	*path = NULL;
	*do_fsync = 0;
	if (!(root = crier_config_load(config_json, err, errlen)))
		return -1;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "path") == 0) {
			const char *s;
			if (crier_json_string(v, key, &s, err, errlen) != 0)
				goto out;
			if (s[strlen(s) - 1] == '/') {
				crier_fail(err, errlen, "\"path\" must name a file, not a folder");
				goto out;
			}
		} else if (strcmp(key, "fsync") == 0) {
			if (!json_is_boolean(v)) {
				crier_fail(err, errlen, "\"fsync\" must be true or false");
				goto out;
			}
			*do_fsync = json_is_true(v);
		} else {
			crier_fail(err, errlen, "unknown key \"%s\"; known keys: path, fsync", key);
			goto out;
		}
	}
	v = json_object_get(root, "path");
	*path = strdup(v ? json_string_value(v) : DEFAULT_PATH);
	if (!*path) {
		crier_fail(err, errlen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

static int log_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out,
                    char *err, size_t errlen)
{
	crier_instance *inst = NULL;
	const char *state_dir;
	int rc;

	*out = NULL;
	if (!api)
		return crier_fail(err, errlen, "the host table lacks entries this plugin needs");
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return crier_fail(err, errlen, "out of memory");
	inst->api = api;
	inst->host = host;
	inst->fd = -1;
	if (parse_config(config_json, &inst->path, &inst->do_fsync, err, errlen) != 0)
		goto fail;
	state_dir = api->state_dir(host);
	if (inst->path[0] == '/')
		rc = asprintf(&inst->full_path, "%s", inst->path);
	else if (!state_dir || !*state_dir)
		rc = asprintf(&inst->full_path, "%s", inst->path);
	else
		rc = asprintf(&inst->full_path, "%s/%s", state_dir, inst->path);
	if (rc < 0) {
		inst->full_path = NULL;
		crier_fail(err, errlen, "out of memory");
		goto fail;
	}
	/* No file is touched here: --check-config runs init and destroy. */
	*out = inst;
	return 0;
fail:
	free(inst->path);
	free(inst);
	return -1;
}

/* mkdir -p of the folders above path, so "audit/events.jsonl" works. */
static int make_parents(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash || slash == path)
		return 0;
	if (!(dir = strndup(path, (size_t)(slash - path)))) {
		errno = ENOMEM;
		return -1;
	}
	ret = crier_mkdirs(dir, 0750);
	free(dir);
	return ret;
}

static int open_file(crier_instance *inst, crier_delivery *d)
{
	char msg[512];
	int created = 1;

	if (make_parents(inst->full_path) != 0) {
		snprintf(msg, sizeof(msg), "cannot create the folder of %s: %s", inst->path, strerror(errno));
		inst->api->set_error(d, msg);
		return -1;
	}
	/* O_APPEND: each line lands at the end in one write(2), even when
	 * several instances share the file. */
	inst->fd = open(inst->full_path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (inst->fd < 0 && errno == EEXIST) {
		created = 0;
		inst->fd = open(inst->full_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (inst->fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open %s: %s", inst->path, strerror(errno));
		inst->api->set_error(d, msg);
		return -1;
	}
	/* Make a newly created file's directory entry durable too. */
	if (created && inst->do_fsync)
		(void)crier_sync_parent(inst->full_path);
	if (inst->api->log) {
		snprintf(msg, sizeof(msg), "appending events to %s", inst->path);
		inst->api->log(inst->host, CRIER_LOG_INFO, msg);
	}
	return 0;
}

/* Every c in [p, end) becomes a space. */
static void blank(char *p, char *end, char c)
{
	while ((p = memchr(p, c, (size_t)(end - p))) != NULL)
		*p++ = ' ';
}

static crier_result log_deliver(crier_instance *inst, crier_delivery *d)
{
	const char *json = inst->api->delivery_json(d);
	char msg[512];
	char *line;
	size_t len, off = 0;
	crier_result res = CRIER_RETRY;

	if (!json) {
		inst->api->set_error(d, "the host gave no event JSON");
		return CRIER_FAIL;
	}
	if (inst->fd < 0 && open_file(inst, d) != 0)
		return CRIER_RETRY;

	len = strlen(json);
	line = malloc(len + 2);
	if (!line) {
		inst->api->set_error(d, "out of memory");
		return CRIER_RETRY;
	}
	/* After a torn write, end the fragment first so this event's line
	 * stays whole and parseable. */
	if (inst->torn)
		line[off++] = '\n';
	/* Valid JSON holds raw CR/LF only as whitespace between tokens, so
	 * blanking them keeps the document and makes it one line. crier's own
	 * documents have none: copy whole, then look for them with memchr. */
	memcpy(line + off, json, len);
	blank(line + off, line + off + len, '\n');
	blank(line + off, line + off + len, '\r');
	off += len;
	line[off++] = '\n';

	if (crier_write_all(inst->fd, line, off) != 0) {
		snprintf(msg, sizeof(msg), "cannot write %s: %s", inst->path, strerror(errno));
		inst->api->set_error(d, msg);
		inst->torn = 1;
		/* Reopen next time: the file may have been moved or its disk fixed. */
		close(inst->fd);
		inst->fd = -1;
		goto out;
	}
	inst->torn = 0;
	if (inst->do_fsync && fsync(inst->fd) != 0) {
		snprintf(msg, sizeof(msg), "cannot fsync %s: %s", inst->path, strerror(errno));
		inst->api->set_error(d, msg);
		goto out;
	}
	res = CRIER_OK;
out:
	free(line);
	return res;
}

static void log_destroy(crier_instance *inst)
{
	if (!inst)
		return;
	if (inst->fd >= 0)
		close(inst->fd);
	free(inst->path);
	free(inst->full_path);
	free(inst);
}

static const crier_plugin log_plugin = {
    .abi_version = CRIER_ABI_VERSION,
    .name = "log",
    .description = "append every event as one JSON line to a file under the state directory",
    .init = log_init,
    .deliver = log_deliver,
    .destroy = log_destroy,
};

CRIER_PLUGIN_DEFINE(log_plugin)
