/* The plugins' shared helpers (include/crier/plugin_util.h, plugin_json.h,
 * plugin_file.h), driven directly, with a fake host table where they call
 * into one. */
#include "check.h"

#include <crier/plugin.h>
#include <crier/plugin_file.h>
#include <crier/plugin_json.h>
#include <crier/plugin_util.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a fake host: what crier_report and crier_templates_load call ---- */

struct crier_delivery {
	char error[256];
	int error_calls;
	int64_t retry_after_ms;
	int retry_after_calls;
};

struct crier_host {
	const char *fail_name; /* template_load fails for this name */
	int fail_silently;     /* ... without writing err */
	int loads;
	char srcs[4][64]; /* the src each load got, "(null)" for NULL */
};

/* A template is just its name, to tell which slot got which. */
struct crier_template {
	char name[32];
};

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
	d->error_calls++;
}

static void fake_retry_after(crier_delivery *d, int64_t not_before_ms)
{
	d->retry_after_ms = not_before_ms;
	d->retry_after_calls++;
}

static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	crier_template *t;

	if (h->loads < 4)
		snprintf(h->srcs[h->loads], sizeof(h->srcs[0]), "%s", src ? src : "(null)");
	h->loads++;
	if (h->fail_name && strcmp(name, h->fail_name) == 0) {
		if (!h->fail_silently)
			snprintf(err, errlen, "template %s: line 1: unclosed section", name);
		return NULL;
	}
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

static const crier_host_api fake_api = {
    .abi_version = CRIER_ABI_VERSION,
    .set_error = fake_set_error,
    .retry_after = fake_retry_after,
    .template_load = fake_template_load,
};

/* ---- HTTP answers ---- */

static void test_http_result(void)
{
	static const struct {
		long status;
		crier_result want;
	} table[] = {
	    {0, CRIER_RETRY},   {100, CRIER_FAIL},  {199, CRIER_FAIL},  {200, CRIER_OK},    {201, CRIER_OK},
	    {204, CRIER_OK},    {299, CRIER_OK},    {300, CRIER_FAIL},  {302, CRIER_FAIL},  {304, CRIER_FAIL},
	    {400, CRIER_FAIL},  {401, CRIER_FAIL},  {404, CRIER_FAIL},  {407, CRIER_FAIL},  {408, CRIER_RETRY},
	    {409, CRIER_FAIL},  {428, CRIER_FAIL},  {429, CRIER_RETRY}, {430, CRIER_FAIL},  {499, CRIER_FAIL},
	    {500, CRIER_RETRY}, {502, CRIER_RETRY}, {503, CRIER_RETRY}, {599, CRIER_RETRY}, {600, CRIER_RETRY},
	    {999, CRIER_RETRY},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (crier_http_result(table[i].status) != table[i].want) {
			fprintf(stderr, "status %ld: %d, expected %d\n", table[i].status,
			        crier_http_result(table[i].status), table[i].want);
			CHECK(0);
		}
		CHECK(crier_http_transient(table[i].status) == (table[i].want == CRIER_RETRY));
	}
}

static void test_report(void)
{
	crier_delivery d = {0};

	CHECK(crier_report(&fake_api, &d, CRIER_RETRY, "HTTP 503", 1780272005000LL) == CRIER_RETRY);
	CHECK_STR(d.error, "HTTP 503");
	CHECK(d.retry_after_calls == 1 && d.retry_after_ms == 1780272005000LL);

	/* No time, or a failure: nothing to wait for. */
	memset(&d, 0, sizeof(d));
	CHECK(crier_report(&fake_api, &d, CRIER_RETRY, "HTTP 500", 0) == CRIER_RETRY);
	CHECK(d.error_calls == 1 && d.retry_after_calls == 0);
	memset(&d, 0, sizeof(d));
	CHECK(crier_report(&fake_api, &d, CRIER_FAIL, "HTTP 403", 1780272005000LL) == CRIER_FAIL);
	CHECK_STR(d.error, "HTTP 403");
	CHECK(d.retry_after_calls == 0);
}

static void quote_is(const char *s, size_t len, size_t max, size_t size, const char *want)
{
	char out[512];

	memset(out, 'X', sizeof(out));
	CHECK(crier_quote(out, size, s, len, max) == strlen(want));
	CHECK_STR(out, want);
}

static void test_quote(void)
{
	char big[300];

	quote_is("no_service", 10, 200, 512, "no_service");
	/* Controls (a line break, a tab, DEL) blanked; trailing blanks kept. */
	quote_is("a\tb\r\nc\x7f", 7, 200, 512, "a b  c ");
	quote_is("", 0, 200, 512, "");
	quote_is(NULL, 0, 200, 512, "");
	/* A NUL inside the length is a control too. */
	quote_is("a\0b", 3, 200, 512, "a b");
	/* Cut at max, or at the room out has, whichever is less. */
	memset(big, 'x', sizeof(big));
	quote_is(big, sizeof(big), 200, 512,
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	quote_is("abcdef", 6, 200, 4, "abc");
	/* Never inside a character: é is C3 A9, 😀 F0 9F 98 80. */
	quote_is("a\xc3\xa9", 3, 2, 512, "a");
	quote_is("a\xc3\xa9", 3, 3, 512, "a\xc3\xa9");
	quote_is("a\xc3\xa9z", 4, 3, 512, "a\xc3\xa9");
	quote_is("\xf0\x9f\x98\x80", 4, 3, 512, "");
	quote_is("ab\xf0\x9f\x98\x80", 6, 200, 5, "ab");
	/* Nothing to write into. */
	CHECK(crier_quote(big, 0, "abc", 3, 200) == 0);
}

static void test_http_error(void)
{
	char out[64];

	crier_http_error(out, sizeof(out), 404, "no_service");
	CHECK_STR(out, "HTTP 404: no_service");
	crier_http_error(out, sizeof(out), 500, "");
	CHECK_STR(out, "HTTP 500");
	crier_http_error(out, sizeof(out), 502, NULL);
	CHECK_STR(out, "HTTP 502");
	crier_http_error(out, 12, 404, "no_service");
	CHECK_STR(out, "HTTP 404: n");
}

/* ---- names ---- */

static void test_names(void)
{
	static const char *const keys[] = {"url", "timeout_ms", "headers"};
	char out[64], err[128];

	CHECK(crier_lookup("url", keys, 3) == 0);
	CHECK(crier_lookup("headers", keys, 3) == 2);
	CHECK(crier_lookup("headers", keys, 2) == -1);
	CHECK(crier_lookup("URL", keys, 3) == -1);
	CHECK(crier_lookup("url", keys, 0) == -1);

	CHECK_STR(crier_join(out, sizeof(out), keys, 3), "url, timeout_ms, headers");
	CHECK_STR(crier_join(out, sizeof(out), keys, 1), "url");
	CHECK_STR(crier_join(out, sizeof(out), keys, 0), "");
	CHECK_STR(crier_join(out, 10, keys, 3), "url, time");

	CHECK(crier_fail_unknown_key(err, sizeof(err), "uri", keys, 3) == -1);
	CHECK_STR(err, "unknown key \"uri\"; known keys: url, timeout_ms, headers");
}

/* ---- base64 ---- */

static void b64_is(const char *in, size_t len, const char *want)
{
	char out[64];

	memset(out, 'X', sizeof(out));
	CHECK(CRIER_BASE64_SIZE(len) == strlen(want) + 1);
	CHECK(crier_base64(out, in, len) == strlen(want));
	CHECK_STR(out, want);
}

static void test_base64(void)
{
	char *s;

	/* RFC 4648, section 10. */
	b64_is("", 0, "");
	b64_is("f", 1, "Zg==");
	b64_is("fo", 2, "Zm8=");
	b64_is("foo", 3, "Zm9v");
	b64_is("foob", 4, "Zm9vYg==");
	b64_is("fooba", 5, "Zm9vYmE=");
	b64_is("foobar", 6, "Zm9vYmFy");
	/* The last two letters of the alphabet, and bytes that are not text. */
	b64_is("\xfb\xef\xbe", 3, "++++");
	b64_is("\xff\xfe\xfd", 3, "//79");
	b64_is("\0\0\0\0", 4, "AAAAAA==");

	/* RFC 7617, section 2. */
	s = crier_basic_auth("Aladdin", "open sesame");
	CHECK_STR(s, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	crier_free_secret(s);
	s = crier_basic_auth("user", "");
	CHECK_STR(s, "Basic dXNlcjo=");
	crier_free_secret(s);
	s = crier_basic_auth("", "");
	CHECK_STR(s, "Basic Og==");
	crier_free_secret(s);
}

/* ---- uploads ---- */

static void test_upload(void)
{
	crier_upload u = {"0123456789", 10};
	char buf[8];

	/* libcurl asks for size * nitems bytes at a time. */
	CHECK(crier_upload_read(buf, 1, 4, &u) == 4 && memcmp(buf, "0123", 4) == 0);
	CHECK(crier_upload_read(buf, 2, 2, &u) == 4 && memcmp(buf, "4567", 4) == 0);
	CHECK(crier_upload_read(buf, 1, 8, &u) == 2 && memcmp(buf, "89", 2) == 0);
	CHECK(u.left == 0);
	CHECK(crier_upload_read(buf, 1, 8, &u) == 0);
}

/* ---- configuration ---- */

static void test_config_load(void)
{
	char err[256];
	json_t *root;

	root = crier_config_load(NULL, err, sizeof(err));
	CHECK(json_is_object(root) && json_object_size(root) == 0);
	json_decref(root);
	root = crier_config_load("{\"url\": \"https://x\"}", err, sizeof(err));
	CHECK_STR(json_string_value(json_object_get(root, "url")), "https://x");
	json_decref(root);

	CHECK(crier_config_load("[1]", err, sizeof(err)) == NULL);
	CHECK_STR(err, "configuration must be a JSON object");
	CHECK(crier_config_load("{nope", err, sizeof(err)) == NULL);
	CHECK_STR(err, "configuration is not valid JSON (line 1, column 5)");
	CHECK(crier_config_load("{\"a\": 1, \"a\": 2}", err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "configuration is not valid JSON (line 1, column ", 48) == 0);
	/* Only the place: jansson's own text would quote the secret. */
	CHECK(crier_config_load("{\"token\": \"SECRET\" \"url\": 1}", err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "configuration is not valid JSON (line 1, column ", 48) == 0);
	CHECK(strstr(err, "SECRET") == NULL);
}

static void test_json_int(void)
{
	char err[128] = "";
	long n = 7;
	json_t *v;

	/* Absent: the default stays. */
	CHECK(crier_json_int(NULL, "timeout_ms", 1, 300000, &n, err, sizeof(err)) == 0);
	CHECK(n == 7);
	v = json_integer(1);
	CHECK(crier_json_int(v, "timeout_ms", 1, 300000, &n, err, sizeof(err)) == 0 && n == 1);
	json_decref(v);
	v = json_integer(300000);
	CHECK(crier_json_int(v, "timeout_ms", 1, 300000, &n, err, sizeof(err)) == 0 && n == 300000);
	json_decref(v);

	n = 7;
	v = json_integer(0);
	CHECK(crier_json_int(v, "timeout_ms", 1, 300000, &n, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"timeout_ms\" must be an integer from 1 to 300000");
	json_decref(v);
	v = json_integer(300001);
	CHECK(crier_json_int(v, "timeout_ms", 1, 300000, &n, err, sizeof(err)) == -1);
	json_decref(v);
	v = json_real(5.0);
	CHECK(crier_json_int(v, "max_segments", 1, 10, &n, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"max_segments\" must be an integer from 1 to 10");
	json_decref(v);
	v = json_string("5");
	CHECK(crier_json_int(v, "recent_days", 0, 90, &n, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"recent_days\" must be an integer from 0 to 90");
	json_decref(v);
	CHECK(n == 7);
}

static void test_json_string(void)
{
	char err[128];
	const char *s = NULL;
	json_t *v;

	v = json_string("events.jsonl");
	CHECK(crier_json_string(v, "path", &s, err, sizeof(err)) == 0);
	CHECK_STR(s, "events.jsonl");
	json_decref(v);

	v = json_string("");
	CHECK(crier_json_string(v, "path", &s, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"path\" must be a non-empty string");
	json_decref(v);
	v = json_integer(3);
	CHECK(crier_json_string(v, "url", &s, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"url\" must be a non-empty string");
	json_decref(v);
	CHECK(crier_json_string(NULL, "tls", &s, err, sizeof(err)) == -1);
	CHECK_STR(err, "\"tls\" must be a non-empty string");
}

static void free_templates(crier_template **tpl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tpl[i]);
		tpl[i] = NULL;
	}
}

static void test_templates_load(void)
{
	static const char *const names[] = {"subject", "text", "html"};
	json_t *overrides = json_pack("{ss}", "text", "file:oncall.mustache");
	crier_template *tpl[3] = {NULL};
	crier_host h = {0};
	char err[128];

	/* Each from its override, or the default (src NULL). */
	CHECK(crier_templates_load(&fake_api, &h, overrides, names, 3, tpl, err, sizeof(err)) == 3);
	CHECK(h.loads == 3);
	CHECK_STR(h.srcs[0], "(null)");
	CHECK_STR(h.srcs[1], "file:oncall.mustache");
	CHECK_STR(h.srcs[2], "(null)");
	CHECK(tpl[0] && tpl[1] && tpl[2]);
	CHECK_STR(tpl[2]->name, "html");
	free_templates(tpl, 3);

	/* No "templates" at all. */
	memset(&h, 0, sizeof(h));
	CHECK(crier_templates_load(&fake_api, &h, NULL, names, 3, tpl, err, sizeof(err)) == 3);
	CHECK_STR(h.srcs[1], "(null)");
	free_templates(tpl, 3);

	/* The one that fails is named by its index; those before it are kept
	 * for the caller to free, none after it is tried. */
	memset(&h, 0, sizeof(h));
	h.fail_name = "text";
	CHECK(crier_templates_load(&fake_api, &h, overrides, names, 3, tpl, err, sizeof(err)) == 1);
	CHECK_STR(err, "template text: line 1: unclosed section");
	CHECK(tpl[0] != NULL && tpl[1] == NULL && tpl[2] == NULL);
	CHECK(h.loads == 2);
	free_templates(tpl, 3);

	/* A load that says nothing leaves err empty, not stale. */
	memset(&h, 0, sizeof(h));
	h.fail_name = "html";
	h.fail_silently = 1;
	snprintf(err, sizeof(err), "stale");
	CHECK(crier_templates_load(&fake_api, &h, NULL, names, 3, tpl, err, sizeof(err)) == 2);
	CHECK_STR(err, "");
	free_templates(tpl, 3);
	json_decref(overrides);
}

/* ---- files ---- */

static char *path_in(const char *dir, const char *rel)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		return NULL;
	return p;
}

static void test_files(void)
{
	char tmpl[] = "/tmp/crier-plugin-util-XXXXXX", buf[70000], back[70000];
	char *dir = mkdtemp(tmpl), *deep, *file, *under_file;
	const char *const made[] = {"a/b/c", "a/b", "a"};
	mode_t mask = umask(0);
	struct stat st;
	int fd;

	umask(mask);
	CHECK(dir != NULL);
	if (!dir)
		return;
	deep = path_in(dir, "a/b//c");
	file = path_in(dir, "a/f.txt");
	under_file = path_in(dir, "a/f.txt/d");
	CHECK(deep && file && under_file);
	if (!deep || !file || !under_file)
		goto out;

	CHECK(crier_mkdirs(deep, 0750) == 0);
	CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == (0750 & ~mask));
	CHECK(crier_mkdirs(deep, 0750) == 0); /* already there */
	errno = 0;
	CHECK(crier_mkdirs("", 0750) == -1 && errno == ENOENT);

	/* More than a pipe or a single write() may take at once. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(crier_write_all(fd, buf, sizeof(buf)) == 0);
	CHECK(crier_write_all(fd, buf, 0) == 0);
	close(fd);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)sizeof(back) && memcmp(buf, back, sizeof(buf)) == 0);
	/* An fd open for reading only: the error comes back. */
	errno = 0;
	CHECK(crier_write_all(fd, "x", 1) == -1 && errno == EBADF);
	close(fd);
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		errno = 0;
		CHECK(crier_write_all(fd, "x", 1) == -1 && errno == ENOSPC);
		close(fd);
	}

	/* A file in the way of a folder. */
	errno = 0;
	CHECK(crier_mkdirs(under_file, 0750) == -1 && errno == ENOTDIR);

	CHECK(crier_sync_parent(file) == 0);
	CHECK(crier_sync_parent("/etc") == 0);
	CHECK(crier_sync_parent("no-slash") == 0);
	errno = 0;
	CHECK(crier_sync_parent(under_file) == -1 && errno == ENOTDIR);
out:
	if (file)
		unlink(file);
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		char *p = path_in(dir, made[i]);
		if (p)
			rmdir(p);
		free(p);
	}
	CHECK(rmdir(dir) == 0);
	free(deep);
	free(file);
	free(under_file);
}

int main(void)
{
	test_http_result();
	test_report();
	test_quote();
	test_http_error();
	test_names();
	test_base64();
	test_upload();
	test_config_load();
	test_json_int();
	test_json_string();
	test_templates_load();
	test_files();
	return check_summary("test_plugin_util");
}
