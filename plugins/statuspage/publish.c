#include "publish.h"

#include "fsio.h"

#include <crier/plugin_file.h>
#include <crier/plugin_util.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS     300000
#define USER_AGENT         "crier/0.1"
#define TMP_SUFFIX         ".crier-tmp"

static void result_set(publish_result *res, int permanent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void result_set(publish_result *res, int permanent, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	res->permanent = permanent;
}

void publish_target_free(publish_target *t)
{
	if (!t)
		return;
	if (t->curl)
		curl_easy_cleanup(t->curl);
	free(t->key);
	free(t->label);
	free(t->dir);
	free(t->url);
	free(t->path);
	crier_free_secret(t->auth);
	crier_free_secret(t->username);
	crier_free_secret(t->password);
	crier_free_secret(t->private_key);
	crier_free_secret(t->public_key);
	crier_free_secret(t->key_passphrase);
	free(t->known_hosts);
	free(t->host_key_sha256);
	memset(t, 0, sizeof(*t));
}

/* The temporary name of a file of the site: ".<name>.crier-tmp" beside it. */
static char *tmp_rel(const char *rel)
{
	return fsio_tmp_name(rel);
}

/* ---- configuration ---- */

#define N_KEYS(list) (sizeof(list) / sizeof(list[0]))
static const char *const dir_keys[] = {"dir"};
static const char *const http_keys[] = {"url", "username", "password", "atomic", "timeout_ms"};
static const char *const sftp_keys[] = {"url",         "username",   "password",
                                        "private_key", "public_key", "key_passphrase",
                                        "known_hosts", "timeout_ms", "host_key_sha256"};

static int check_keys(const json_t *cfg, const char *const *known, size_t n, int index, const char *what, char *err,
                      size_t errlen)
{
	const char *k;
	json_t *v;
	char list[256];

	json_object_foreach((json_t *)cfg, k, v)
	{
		if (crier_lookup(k, known, n) < 0)
			return crier_fail(err, errlen, "targets[%d]: unknown key \"%s\" for %s target; known keys: %s",
			                  index, k, what, crier_join(list, sizeof(list), known, n));
	}
	return 0;
}

/* A string setting: NULL when absent, -1 when present but not a non-empty
 * string without CR or LF. Only the key is named in err. */
static int opt_string(const json_t *cfg, const char *key, int index, char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(cfg, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || strpbrk(json_string_value(v), "\r\n"))
		return crier_fail(err, errlen, "targets[%d].%s: expected a non-empty string on one line", index, key);
	if (!(*out = strdup(json_string_value(v))))
		return crier_fail(err, errlen, "out of memory");
	return 0;
}

/* scheme://host[:port]/path: the host part (borrowed span) and where the path begins. */
static int split_url(const char *url, const char **host, size_t *host_len, const char **path)
{
	const char *p = strstr(url, "://");

	if (!p)
		return -1;
	*host = p + 3;
	*host_len = strcspn(*host, "/");
	*path = *host + *host_len;
	return *host_len > 0 ? 0 : -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The SFTP path of the URL, percent-decoded; NULL when malformed or holding
 * what a quote command cannot carry (quotes, backslashes, controls). */
static char *decode_path(const char *p)
{
	char *out = malloc(strlen(p) + 1), *w = out;

	if (!out)
		return NULL;
	for (; *p; p++) {
		char c = *p;
		if (c == '%') {
			int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
			if (lo < 0)
				goto bad;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			goto bad;
		*w++ = c;
	}
	*w = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static int parse_url(publish_target *t, int index, const char *url, char *err, size_t errlen)
{
	const char *host, *path;
	size_t host_len, n = strlen(url);

	if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
		t->kind = PUBLISH_HTTP;
	else if (strncasecmp(url, "sftp://", 7) == 0)
		t->kind = PUBLISH_SFTP;
	else
		return crier_fail(err, errlen, "targets[%d].url: must start with http://, https:// or sftp://", index);
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return crier_fail(err, errlen, "targets[%d].url: holds blanks or control characters", index);
	if (strpbrk(url, "?#"))
		return crier_fail(err, errlen, "targets[%d].url: a folder URL has no query or fragment", index);
	if (split_url(url, &host, &host_len, &path) != 0)
		return crier_fail(err, errlen, "targets[%d].url: no host", index);
	if (memchr(host, '@', host_len))
		return crier_fail(err, errlen,
		                  "targets[%d].url: put credentials in \"username\" and \"password\", not in the URL",
		                  index);
	if (t->kind == PUBLISH_SFTP && (!*path || strcmp(path, "/") == 0))
		return crier_fail(err, errlen, "targets[%d].url: name the folder, e.g. sftp://host/var/www/status/",
		                  index);
	/* Files are named relative to the URL, which is a folder. */
	if (asprintf(&t->url, "%s%s", url, n && url[n - 1] == '/' ? "" : "/") < 0) {
		t->url = NULL;
		return crier_fail(err, errlen, "out of memory");
	}
	if (!(t->key = strdup(t->url)) || asprintf(&t->label, "target %d (%.*s)", index, (int)host_len, host) < 0) {
		t->label = NULL;
		return crier_fail(err, errlen, "out of memory");
	}
	if (t->kind == PUBLISH_SFTP) {
		split_url(t->url, &host, &host_len, &path);
		if (!(t->path = decode_path(path)))
			return crier_fail(
			    err, errlen,
			    "targets[%d].url: the path must be percent-encoded correctly and hold no quote, "
			    "backslash or control character",
			    index);
	}
	return 0;
}

static int parse_timeout(publish_target *t, const json_t *cfg, int index, char *err, size_t errlen)
{
	const json_t *v = json_object_get(cfg, "timeout_ms");

	t->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAX_TIMEOUT_MS)
		return crier_fail(err, errlen, "targets[%d].timeout_ms: expected an integer from 1 to %d", index,
		                  MAX_TIMEOUT_MS);
	t->timeout_ms = (long)json_integer_value(v);
	return 0;
}

static int parse_http(publish_target *t, const json_t *cfg, int index, char *err, size_t errlen)
{
	const json_t *v = json_object_get(cfg, "atomic");

	if (check_keys(cfg, http_keys, N_KEYS(http_keys), index, "an HTTP", err, errlen) != 0 ||
	    opt_string(cfg, "username", index, &t->username, err, errlen) != 0 ||
	    opt_string(cfg, "password", index, &t->password, err, errlen) != 0)
		return -1;
	if (!t->username != !t->password)
		return crier_fail(err, errlen, "targets[%d]: \"username\" and \"password\" go together", index);
	if (t->username && strchr(t->username, ':'))
		return crier_fail(err, errlen, "targets[%d].username: must not hold ':' (HTTP basic authentication)",
		                  index);
	if (t->username && !(t->auth = crier_basic_auth(t->username, t->password)))
		return crier_fail(err, errlen, "out of memory");
	t->atomic = 1;
	if (v && !json_is_boolean(v))
		return crier_fail(err, errlen, "targets[%d].atomic: expected true or false", index);
	if (v)
		t->atomic = json_is_true(v);
	return 0;
}

static int parse_sftp(publish_target *t, const json_t *cfg, int index, char *err, size_t errlen)
{
	if (check_keys(cfg, sftp_keys, N_KEYS(sftp_keys), index, "an SFTP", err, errlen) != 0 ||
	    opt_string(cfg, "username", index, &t->username, err, errlen) != 0 ||
	    opt_string(cfg, "password", index, &t->password, err, errlen) != 0 ||
	    opt_string(cfg, "private_key", index, &t->private_key, err, errlen) != 0 ||
	    opt_string(cfg, "public_key", index, &t->public_key, err, errlen) != 0 ||
	    opt_string(cfg, "key_passphrase", index, &t->key_passphrase, err, errlen) != 0 ||
	    opt_string(cfg, "known_hosts", index, &t->known_hosts, err, errlen) != 0 ||
	    opt_string(cfg, "host_key_sha256", index, &t->host_key_sha256, err, errlen) != 0)
		return -1;
	if (!t->username)
		return crier_fail(err, errlen, "targets[%d]: an SFTP target needs \"username\"", index);
	if (!t->password && !t->private_key)
		return crier_fail(err, errlen, "targets[%d]: an SFTP target needs \"password\" or \"private_key\"",
		                  index);
	if ((t->public_key || t->key_passphrase) && !t->private_key)
		return crier_fail(err, errlen,
		                  "targets[%d]: \"public_key\" and \"key_passphrase\" go with \"private_key\"", index);
	/* An unchecked host key would hand the credentials to whoever answers. */
	if (!t->known_hosts == !t->host_key_sha256)
		return crier_fail(
		    err, errlen,
		    "targets[%d]: an SFTP target needs one of \"known_hosts\" (a file) or \"host_key_sha256\" "
		    "(the server key's base64 SHA-256, as ssh-keygen -lf prints it)",
		    index);
#if LIBCURL_VERSION_NUM < 0x075000
	if (t->host_key_sha256)
		return crier_fail(err, errlen,
		                  "targets[%d].host_key_sha256: needs libcurl 7.80 or later; use known_hosts", index);
#endif
	return 0;
}

static int sftp_supported(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	for (const char *const *p = v ? v->protocols : NULL; p && *p; p++)
		if (strcmp(*p, "sftp") == 0)
			return 1;
	return 0;
}

int publish_local(publish_target *t, int index, const char *dir)
{
	memset(t, 0, sizeof(*t));
	t->kind = PUBLISH_DIR;
	t->create = 1;
	if (!(t->dir = strdup(dir)) || asprintf(&t->key, "dir:%s", dir) < 0 ||
	    asprintf(&t->label, "target %d (dir %s)", index, dir) < 0) {
		t->key = t->label = NULL;
		return -1;
	}
	return 0;
}

int publish_parse(publish_target *t, int index, const json_t *cfg, const char *state_dir, char *err, size_t errlen)
{
	const char *dir = json_string_value(json_object_get(cfg, "dir"));
	const char *url = json_string_value(json_object_get(cfg, "url"));
	char *abs = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(cfg))
		return crier_fail(err, errlen, "targets[%d]: expected an object with \"dir\" or \"url\"", index);
	if (!dir == !url || (json_object_get(cfg, "dir") && !dir) || (json_object_get(cfg, "url") && !url))
		return crier_fail(err, errlen,
		                  "targets[%d]: give either \"dir\" (a local folder) or \"url\" (a string)", index);
	if (dir) {
		size_t n = strlen(dir);
		if (check_keys(cfg, dir_keys, N_KEYS(dir_keys), index, "a local", err, errlen) != 0)
			return -1;
		while (n > 1 && dir[n - 1] == '/')
			n--;
		if (n == 0)
			return crier_fail(err, errlen, "targets[%d].dir: expected a folder", index);
		ret = dir[0] == '/' ? asprintf(&abs, "%.*s", (int)n, dir)
		                    : asprintf(&abs, "%s/%.*s", state_dir ? state_dir : ".", (int)n, dir);
		if (ret < 0)
			return crier_fail(err, errlen, "out of memory");
		ret = publish_local(t, index, abs);
		free(abs);
		t->create = 0;
		return ret == 0 ? 0 : crier_fail(err, errlen, "out of memory");
	}
	if (parse_url(t, index, url, err, errlen) != 0 || parse_timeout(t, cfg, index, err, errlen) != 0)
		return -1;
	if (t->kind == PUBLISH_HTTP)
		return parse_http(t, cfg, index, err, errlen);
	if (!sftp_supported())
		return crier_fail(err, errlen, "targets[%d].url: this libcurl is built without SFTP", index);
	return parse_sftp(t, cfg, index, err, errlen);
}

/* ---- a local folder ---- */

static char *cat(const char *a, const char *sep, const char *b)
{
	char *s;
	return asprintf(&s, "%s%s%s", a, sep, b) < 0 ? NULL : s;
}

/* Make the directory entries of the folder holding path durable, once per folder. */
static int sync_folder_once(const char *path, char **last)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (*last && strlen(*last) == n && strncmp(*last, path, n) == 0)
		return 0;
	free(*last);
	*last = strndup(path, n);
	return crier_sync_parent(path);
}

static int dir_publish(publish_target *t, const render_file *files, size_t n, const unsigned char *send,
                       publish_result *res)
{
	char **paths = calloc(n + 1, sizeof(*paths));
	char *synced = NULL;
	size_t i;
	struct stat st;
	int ret = -1;

	if (!paths) {
		result_set(res, 0, "%s: out of memory", t->label);
		return -1;
	}
	if (t->create && crier_mkdirs(t->dir, 0755) != 0) {
		result_set(res, 0, "%s: cannot create the folder: %s", t->label, strerror(errno));
		goto out;
	}
	/* A configured folder is not created: if it is a mount point that is
	 * not mounted, the page must not go to the disk underneath. */
	if (stat(t->dir, &st) != 0) {
		result_set(res, 0, "%s: %s", t->label, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		result_set(res, 0, "%s: not a folder", t->label);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!send[i])
			continue;
		char *slash;
		if (!(paths[i] = cat(t->dir, "/", files[i].path))) {
			result_set(res, 0, "%s: out of memory", t->label);
			goto out;
		}
		slash = strrchr(paths[i], '/');
		*slash = '\0';
		int mk = crier_mkdirs(paths[i], 0755);
		*slash = '/';
		if (mk != 0 || fsio_write_aside(paths[i], files[i].data, files[i].len, 0644) != 0) {
			result_set(res, 0, "%s: writing %s: %s", t->label, files[i].path, strerror(errno));
			goto out;
		}
	}
	/* Only now, with every file written and flushed, do the names change. */
	for (i = 0; i < n; i++) {
		if (!paths[i])
			continue;
		if (fsio_commit(paths[i]) != 0) {
			result_set(res, 0, "%s: renaming %s: %s", t->label, files[i].path, strerror(errno));
			goto out;
		}
		if (sync_folder_once(paths[i], &synced) != 0) {
			result_set(res, 0, "%s: syncing the folder of %s: %s", t->label, files[i].path,
			           strerror(errno));
			goto out;
		}
		free(paths[i]);
		paths[i] = NULL;
	}
	ret = 0;
out:
	/* What is left was written aside and not put in place. */
	for (i = 0; i < n; i++) {
		if (paths[i])
			fsio_discard(paths[i]);
		free(paths[i]);
	}
	free(paths);
	free(synced);
	return ret;
}

/* ---- HTTP: WebDAV, or plain PUT ---- */

static int http_call(const crier_host_api *api, crier_host *host, publish_target *t, const char *method,
                     const char *rel, const char *dest_rel, const render_file *f, publish_result *res)
{
	crier_http_header h[5];
	crier_http_request req = {0};
	crier_http_response resp;
	char *url = cat(t->url, "", rel), *dest = dest_rel ? cat(t->url, "", dest_rel) : NULL;
	size_t nh = 0;
	int ret = -1;

	if (!url || (dest_rel && !dest)) {
		result_set(res, 0, "%s: out of memory", t->label);
		goto out;
	}
	h[nh++] = (crier_http_header){"User-Agent", USER_AGENT};
	if (t->auth)
		h[nh++] = (crier_http_header){"Authorization", t->auth};
	if (f)
		h[nh++] = (crier_http_header){"Content-Type", f->content_type};
	if (dest) {
		h[nh++] = (crier_http_header){"Destination", dest};
		h[nh++] = (crier_http_header){"Overwrite", "T"};
	}
	req.method = method;
	req.url = url;
	req.headers = h;
	req.n_headers = nh;
	req.body = f ? f->data : NULL;
	req.body_len = f ? f->len : 0;
	req.timeout_ms = t->timeout_ms;
	if (api->http_request(host, &req, &resp) != 0) {
		result_set(res, 0, "%s: %s %s: %s", t->label, method, rel, resp.error);
	} else if (resp.status >= 200 && resp.status < 300) {
		ret = 0;
	} else if (strcmp(method, "MKCOL") == 0 && resp.status == 405) {
		ret = 0; /* RFC 4918: the collection is already there */
	} else {
		int transient = crier_http_transient(resp.status);
		/* 409: RFC 4918's answer when the parent collection is missing. */
		result_set(res, !transient, "%s: %s %s: HTTP %ld%s", t->label, method, rel, resp.status,
		           resp.status == 409 ? " (is the URL's folder there?)" : "");
		if (resp.retry_after_ms > res->retry_after_ms)
			res->retry_after_ms = resp.retry_after_ms;
	}
	api->http_response_free(&resp);
out:
	free(url);
	free(dest);
	return ret;
}

static int http_publish(const crier_host_api *api, crier_host *host, publish_target *t, const render_file *files,
                        size_t n, const unsigned char *send, publish_result *res)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!send[i])
			continue;
		/* WebDAV creates no folders on PUT. */
		if (t->atomic && !t->folder_made && strchr(files[i].path, '/')) {
			if (http_call(api, host, t, "MKCOL", "incidents/", NULL, NULL, res) != 0)
				return -1;
			t->folder_made = 1;
		}
		char *tmp = t->atomic ? tmp_rel(files[i].path) : NULL;
		if (t->atomic && !tmp) {
			result_set(res, 0, "%s: out of memory", t->label);
			return -1;
		}
		int rc = http_call(api, host, t, "PUT", t->atomic ? tmp : files[i].path, NULL, &files[i], res);
		free(tmp);
		if (rc != 0) {
			/* The folder may have gone (a server wiped): make it again next time. */
			t->folder_made = 0;
			return -1;
		}
	}
	if (!t->atomic)
		return 0;
	for (i = 0; i < n; i++) {
		if (!send[i])
			continue;
		char *tmp = tmp_rel(files[i].path);
		if (!tmp) {
			result_set(res, 0, "%s: out of memory", t->label);
			return -1;
		}
		int rc = http_call(api, host, t, "MOVE", tmp, files[i].path, NULL, res);
		free(tmp);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- SFTP ---- */

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb;
}

/* rm and rename commands putting every uploaded file in place, index.html
 * last. OpenSSH's SFTP rename refuses to replace a file, hence the rm
 * first ('*': its failure, when the file is new, is fine); the name is
 * missing for that instant, but no reader ever gets half a file. */
static struct curl_slist *append_owned(struct curl_slist *list, char *cmd)
{
	struct curl_slist *nl = cmd ? curl_slist_append(list, cmd) : NULL;

	free(cmd);
	if (!nl)
		curl_slist_free_all(list);
	return nl;
}

static struct curl_slist *renames(const publish_target *t, const render_file *files, size_t n,
                                  const unsigned char *send)
{
	struct curl_slist *list = NULL;

	for (size_t i = 0; i < n; i++) {
		char *tmp, *rm = NULL, *mv = NULL;
		if (!send[i])
			continue;
		if (!(tmp = tmp_rel(files[i].path)) || asprintf(&rm, "*rm \"%s%s\"", t->path, files[i].path) < 0)
			rm = NULL;
		if (!tmp || asprintf(&mv, "rename \"%s%s\" \"%s%s\"", t->path, tmp, t->path, files[i].path) < 0)
			mv = NULL;
		free(tmp);
		if (!rm) {
			free(mv);
			curl_slist_free_all(list);
			return NULL;
		}
		if (!(list = append_owned(list, rm))) {
			free(mv);
			return NULL;
		}
		if (!(list = append_owned(list, mv)))
			return NULL;
	}
	return list;
}

#define SSH_SETOPT(opt, val)                                                                                           \
	do {                                                                                                           \
		if ((rc = curl_easy_setopt(h, (opt), (val))) != CURLE_OK)                                              \
			goto done;                                                                                     \
	} while (0)

static int sftp_upload(publish_target *t, const char *rel, const render_file *f, struct curl_slist *postquote,
                       publish_result *res)
{
	CURL *h = t->curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url = NULL;
	crier_upload r = {f->data, f->len};
	CURLcode rc;

	if (!(url = cat(t->url, "", rel))) {
		result_set(res, 0, "%s: out of memory", t->label);
		return -1;
	}
	/* The reset keeps the connection (and its login) for the next file. */
	curl_easy_reset(h);
	SSH_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SSH_SETOPT(CURLOPT_URL, url);
	SSH_SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SSH_SETOPT(CURLOPT_PROTOCOLS_STR, "sftp");
#else
	SSH_SETOPT(CURLOPT_PROTOCOLS, (long)CURLPROTO_SFTP);
#endif
	SSH_SETOPT(CURLOPT_TIMEOUT_MS, t->timeout_ms);
	SSH_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
	SSH_SETOPT(CURLOPT_USERNAME, t->username);
	if (t->password)
		SSH_SETOPT(CURLOPT_PASSWORD, t->password);
	if (t->private_key) {
		SSH_SETOPT(CURLOPT_SSH_PRIVATE_KEYFILE, t->private_key);
		if (t->public_key)
			SSH_SETOPT(CURLOPT_SSH_PUBLIC_KEYFILE, t->public_key);
		if (t->key_passphrase)
			SSH_SETOPT(CURLOPT_KEYPASSWD, t->key_passphrase);
	}
	SSH_SETOPT(CURLOPT_SSH_AUTH_TYPES,
	           (long)((t->private_key ? CURLSSH_AUTH_PUBLICKEY : 0) | (t->password ? CURLSSH_AUTH_PASSWORD : 0)));
	if (t->known_hosts)
		SSH_SETOPT(CURLOPT_SSH_KNOWNHOSTS, t->known_hosts);
#if LIBCURL_VERSION_NUM >= 0x075000
	if (t->host_key_sha256)
		SSH_SETOPT(CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, t->host_key_sha256);
#endif
	SSH_SETOPT(CURLOPT_UPLOAD, 1L);
	SSH_SETOPT(CURLOPT_READFUNCTION, crier_upload_read);
	SSH_SETOPT(CURLOPT_READDATA, &r);
	SSH_SETOPT(CURLOPT_WRITEFUNCTION, discard_cb);
	SSH_SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)f->len);
	SSH_SETOPT(CURLOPT_NEW_FILE_PERMS, 0644L);
	SSH_SETOPT(CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR_RETRY);
	if (postquote)
		SSH_SETOPT(CURLOPT_POSTQUOTE, postquote);
	rc = curl_easy_perform(h);
done:
	free(url);
	if (rc == CURLE_OK)
		return 0;
	/* Login refused, the host key not the expected one, a folder we may not
	 * write: a retry would only repeat the refusal. */
	int permanent = rc == CURLE_LOGIN_DENIED || rc == CURLE_PEER_FAILED_VERIFICATION ||
	                rc == CURLE_REMOTE_ACCESS_DENIED || rc == CURLE_SSL_CACERT_BADFILE;
	result_set(res, permanent, "%s: uploading %s%s: %s", t->label, f->path, postquote ? " and renaming" : "",
	           errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return -1;
}

static int sftp_publish(publish_target *t, const render_file *files, size_t n, const unsigned char *send,
                        publish_result *res)
{
	struct curl_slist *list = NULL;
	size_t last = n, i;
	int ret = -1;

	for (i = 0; i < n; i++)
		if (send[i])
			last = i;
	if (last == n)
		return 0;
	if (!t->curl && !(t->curl = curl_easy_init())) {
		result_set(res, 0, "%s: curl_easy_init failed", t->label);
		return -1;
	}
	if (!(list = renames(t, files, n, send))) {
		result_set(res, 0, "%s: out of memory", t->label);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char *tmp;
		if (!send[i])
			continue;
		if (!(tmp = tmp_rel(files[i].path))) {
			result_set(res, 0, "%s: out of memory", t->label);
			goto out;
		}
		/* The renames ride on the last upload, after its transfer. */
		int rc = sftp_upload(t, tmp, &files[i], i == last ? list : NULL, res);
		free(tmp);
		if (rc != 0)
			goto out;
	}
	ret = 0;
out:
	/* The handle must not keep a pointer to the list freed here. */
	curl_easy_setopt(t->curl, CURLOPT_POSTQUOTE, NULL);
	curl_slist_free_all(list);
	return ret;
}

int publish_files(const crier_host_api *api, crier_host *host, publish_target *t, const render_file *files, size_t n,
                  const unsigned char *send, publish_result *res)
{
	memset(res, 0, sizeof(*res));
	switch (t->kind) {
	case PUBLISH_DIR:
		return dir_publish(t, files, n, send, res);
	case PUBLISH_HTTP:
		return http_publish(api, host, t, files, n, send, res);
	case PUBLISH_SFTP:
		return sftp_publish(t, files, n, send, res);
	}
	result_set(res, 1, "%s: unknown kind of target", t->label);
	return -1;
}
