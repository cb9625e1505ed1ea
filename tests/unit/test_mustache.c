/*
 * core/mustache.c: the official specification files (from $CRIER_MUSTACHE_SPEC,
 * else ../shared/conformance/mustache from the repository root), then what
 * crier adds: escape modes, limits, errors, partial handling, event JSON.
 */
#include "check.h"
#include "mustache.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 256

/* ---- helpers ---- */

/* Partials from a JSON object of name -> source. */
static char *partials_from_object(void *ctx, const char *name)
{
	const char *src = json_string_value(json_object_get((const json_t *)ctx, name));

	return src ? strdup(src) : NULL;
}

/* Compile and render tmpl against the JSON text data; the result (new) or
 * NULL with err set. */
static char *render_with(const char *tmpl, const char *data, crier_escape esc, json_t *partials, char *err)
{
	json_error_t jerr;
	json_t *ctx = json_loads(data, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	mustache *t = NULL;
	char *out = NULL;

	if (!ctx) {
		snprintf(err, ERRLEN, "test data: %s", jerr.text);
		return NULL;
	}
	t = mustache_compile("t", tmpl, strlen(tmpl), err, ERRLEN);
	if (t)
		out = mustache_render(t, ctx, esc, partials ? partials_from_object : NULL, partials, err, ERRLEN);
	mustache_free(t);
	json_decref(ctx);
	return out;
}

/* The rendered text, or "ERROR: <message>", in a static buffer. */
static const char *render(const char *tmpl, const char *data, crier_escape esc)
{
	static char buf[4096];
	char err[ERRLEN];
	char *out = render_with(tmpl, data, esc, NULL, err);

	if (out)
		snprintf(buf, sizeof(buf), "%s", out);
	else
		snprintf(buf, sizeof(buf), "ERROR: %s", err);
	free(out);
	return buf;
}

/* The compile error for tmpl (as named "subject"), or "" when it compiles. */
#define COMPILE_ERROR(lit) compile_error(lit, sizeof(lit) - 1)
static const char *compile_error(const char *tmpl, size_t len)
{
	static char err[ERRLEN];
	mustache *t = mustache_compile("subject", tmpl, len, err, sizeof(err));

	if (t) {
		CHECK(err[0] == '\0');
		mustache_free(t);
		return "";
	}
	return err;
}

/* ---- the specification ---- */

static int spec_passed, spec_total;

static void spec_test(const char *file, const json_t *test)
{
	const char *name = json_string_value(json_object_get(test, "name"));
	const char *tmpl = json_string_value(json_object_get(test, "template"));
	const char *expected = json_string_value(json_object_get(test, "expected"));
	json_t *partials = json_object_get(test, "partials");
	char err[ERRLEN] = "";
	mustache *t;
	char *out = NULL;

	spec_total++;
	if (!name || !tmpl || !expected) {
		fprintf(stderr, "%s: a test without name, template or expected\n", file);
		CHECK(0);
		return;
	}
	t = mustache_compile(name, tmpl, strlen(tmpl), err, sizeof(err));
	if (t)
		out =
		    mustache_render(t, json_object_get(test, "data"), CRIER_ESCAPE_HTML,
		                    json_is_object(partials) ? partials_from_object : NULL, partials, err, sizeof(err));
	if (out && strcmp(out, expected) == 0) {
		spec_passed++;
		CHECK(1);
	} else {
		fprintf(stderr, "spec %s: \"%s\" FAILED\n  template: %s\n  expected: %s\n  got:      %s\n", file, name,
		        tmpl, expected, out ? out : err);
		CHECK(0);
	}
	free(out);
	mustache_free(t);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_spec_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	/* Lambdas (~lambdas.json) and the other optional modules are not ours. */
	return d->d_name[0] != '~' && d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void test_spec(void)
{
	const char *dir = getenv("CRIER_MUSTACHE_SPEC");
	struct dirent **files = NULL;
	int n;

	if (!dir || !dir[0])
		dir = "../shared/conformance/mustache";
	n = scandir(dir, &files, is_spec_file, by_name);
	if (n <= 0) {
		printf("SKIP: mustache spec files not found at %s; set CRIER_MUSTACHE_SPEC\n", dir);
		free(files);
		return;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		json_error_t jerr;
		json_t *doc, *tests, *test;
		size_t k;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]->d_name);
		doc = json_load_file(path, 0, &jerr);
		tests = json_object_get(doc, "tests");
		if (!json_is_array(tests)) {
			fprintf(stderr, "%s: not a spec file: %s\n", path, doc ? "no tests array" : jerr.text);
			CHECK(0);
		}
		json_array_foreach(tests, k, test) spec_test(files[i]->d_name, test);
		json_decref(doc);
		free(files[i]);
	}
	free(files);
	printf("spec: %d of %d passed\n", spec_passed, spec_total);
	/* The six core modules hold 136 tests; a run that found none read nothing. */
	CHECK(spec_total > 0);
}

/* ---- crier's additions ---- */

static void test_escape_modes(void)
{
	const char *data = "{\"v\": \"a&b<c>d\\\"e'f\"}";

	CHECK_STR(render("{{v}}", data, CRIER_ESCAPE_HTML), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
	CHECK_STR(render("{{v}}", data, CRIER_ESCAPE_SLACK), "a&amp;b&lt;c&gt;d\"e'f");
	CHECK_STR(render("{{v}}", data, CRIER_ESCAPE_NONE), "a&b<c>d\"e'f");
	CHECK_STR(render("{{v}}", data, CRIER_ESCAPE_HEADER), "a&b<c>d\"e'f");
	/* Triple and ampersand never escape; template text never is. */
	CHECK_STR(render("<b>{{{v}}}|{{& v}}</b>", data, CRIER_ESCAPE_HTML), "<b>a&b<c>d\"e'f|a&b<c>d\"e'f</b>");
	CHECK_STR(render("<{{{v}}}>", data, CRIER_ESCAPE_SLACK), "<a&b<c>d\"e'f>");
	/* Multi-byte UTF-8 passes through untouched. */
	CHECK_STR(render("{{v}}", "{\"v\": \"caf\\u00e9 \\u2014 \\ud83d\\udd25 <ok>\"}", CRIER_ESCAPE_HTML),
	          "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x94\xa5 &lt;ok&gt;");
}

static void test_header(void)
{
	const char *data = "{\"t\": \"Down\\r\\nBcc: victim@example.com\\tx\\u0001y\\u007fz\"}";

	/* A value cannot add a header line, escaped or not. */
	CHECK_STR(render("Subject: {{t}}", data, CRIER_ESCAPE_HEADER), "Subject: Down  Bcc: victim@example.com x y z");
	CHECK_STR(render("Subject: {{{t}}}", data, CRIER_ESCAPE_HEADER),
	          "Subject: Down  Bcc: victim@example.com x y z");
	CHECK_STR(render("Subject: {{&t}}", data, CRIER_ESCAPE_HEADER), "Subject: Down  Bcc: victim@example.com x y z");
	/* Nor can the template's own text: the whole result is one line. */
	CHECK_STR(render("[{{s}}]\r\n{{t2}}\n\tend\n", "{\"s\": \"ok\", \"t2\": \"b\"}", CRIER_ESCAPE_HEADER),
	          "[ok]  b  end ");
	CHECK_STR(render("{{#l}}{{.}}\n{{/l}}", "{\"l\": [\"a\", \"b\"]}", CRIER_ESCAPE_HEADER), "a b ");
	/* The same text in the other modes keeps its line breaks. */
	CHECK_STR(render("{{t}}", "{\"t\": \"a\\r\\nb\"}", CRIER_ESCAPE_NONE), "a\r\nb");
	CHECK_STR(render("{{t}}", "{\"t\": \"a\\r\\nb\"}", CRIER_ESCAPE_HTML), "a\r\nb");
	/* An embedded NUL: a space in a header, dropped elsewhere (the result is a C string). */
	CHECK_STR(render("{{t}}", "{\"t\": \"a\\u0000b\"}", CRIER_ESCAPE_HEADER), "a b");
	CHECK_STR(render("{{t}}", "{\"t\": \"a\\u0000b\"}", CRIER_ESCAPE_NONE), "ab");
	CHECK_STR(render("{{t}}", "{\"t\": \"a\\u0000<\"}", CRIER_ESCAPE_HTML), "a&lt;");
}

static void test_values(void)
{
	CHECK_STR(render("{{a}} {{b}} {{c}} {{d}} {{e}} {{f}}",
	                 "{\"a\": 1.21, \"b\": 100.0, \"c\": -0.5, \"d\": 1e21, \"e\": 1e-7, \"f\": 0.0001}",
	                 CRIER_ESCAPE_NONE),
	          "1.21 100.0 -0.5 1e21 1e-7 0.0001");
	/* Shortest text that reads back as the same double. */
	CHECK_STR(render("{{a}} {{b}}", "{\"a\": 0.30000000000000004, \"b\": 123456.7}", CRIER_ESCAPE_NONE),
	          "0.30000000000000004 123456.7");
	CHECK_STR(render("{{a}} {{b}} {{c}}", "{\"a\": -9223372036854775808, \"b\": 0, \"c\": 42}", CRIER_ESCAPE_NONE),
	          "-9223372036854775808 0 42");
	CHECK_STR(
	    render("[{{t}}|{{f}}|{{n}}|{{missing}}]", "{\"t\": true, \"f\": false, \"n\": null}", CRIER_ESCAPE_NONE),
	    "[true|||]");
	/* Objects and arrays interpolate as compact JSON, escaped like any value. */
	CHECK_STR(
	    render("{{o}}", "{\"o\": {\"a\": [1, 2.5, \"x\\\"<\", null, true, false], \"b\": {}}}", CRIER_ESCAPE_NONE),
	    "{\"a\":[1,2.5,\"x\\\"<\",null,true,false],\"b\":{}}");
	CHECK_STR(render("{{o}}", "{\"o\": [\"<\"]}", CRIER_ESCAPE_HTML), "[&quot;&lt;&quot;]");
	CHECK_STR(render("{{{o}}}", "{\"o\": [\"a\\nb\"]}", CRIER_ESCAPE_HTML), "[\"a\\nb\"]");
}

static void test_truthiness(void)
{
	const char *tmpl = "{{#v}}yes{{/v}}{{^v}}no{{/v}}";

	CHECK_STR(render(tmpl, "{\"v\": \"\"}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{\"v\": 0}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{\"v\": 0.0}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{\"v\": []}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{\"v\": null}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{}", CRIER_ESCAPE_NONE), "no");
	CHECK_STR(render(tmpl, "{\"v\": \" \"}", CRIER_ESCAPE_NONE), "yes");
	CHECK_STR(render(tmpl, "{\"v\": 3}", CRIER_ESCAPE_NONE), "yes");
	CHECK_STR(render(tmpl, "{\"v\": {}}", CRIER_ESCAPE_NONE), "yes");
	/* A scalar section pushes the scalar: {{.}} is the value. */
	CHECK_STR(render("{{#v}}<{{.}}>{{/v}}", "{\"v\": 7}", CRIER_ESCAPE_NONE), "<7>");
}

static void test_compile_errors(void)
{
	CHECK_STR(COMPILE_ERROR("Hello\n{{#incident}}\n{{title}}\n"), "subject: line 2: unclosed section \"incident\"");
	CHECK_STR(COMPILE_ERROR("{{#a}}\n{{#b}}\n{{/a}}"),
	          "subject: line 3: closing tag \"a\" does not match section \"b\" (line 2)");
	CHECK_STR(COMPILE_ERROR("x\n{{/a}}"), "subject: line 2: closing tag \"a\" without an open section");
	CHECK_STR(COMPILE_ERROR("a\n\nb {{c"), "subject: line 3: unclosed tag (no \"}}\")");
	CHECK_STR(COMPILE_ERROR("{{{c}}"), "subject: line 1: unclosed tag (no \"}}}\")");
	CHECK_STR(COMPILE_ERROR("{{=<% %>=}}\n<%a}}"), "subject: line 2: unclosed tag (no \"%>\")");
	CHECK_STR(COMPILE_ERROR("\n{{=<%=}}"), "subject: line 2: bad set-delimiter tag (want {{=<open> <close>=}})");
	CHECK_STR(COMPILE_ERROR("{{=<% %> x=}}"), "subject: line 1: bad set-delimiter tag (want {{=<open> <close>=}})");
	CHECK_STR(COMPILE_ERROR("{{=a=b c=}}"), "subject: line 1: bad set-delimiter tag (want {{=<open> <close>=}})");
	CHECK_STR(COMPILE_ERROR("{{incident title}}"), "subject: line 1: bad name \"incident title\"");
	CHECK_STR(COMPILE_ERROR("{{a..b}}"), "subject: line 1: bad name \"a..b\"");
	CHECK_STR(COMPILE_ERROR("{{#.a}}{{/.a}}"), "subject: line 1: bad name \".a\"");
	CHECK_STR(COMPILE_ERROR("{{ }}"), "subject: line 1: tag without a name");
	CHECK_STR(COMPILE_ERROR("{{#}}"), "subject: line 1: tag without a name");
	CHECK_STR(COMPILE_ERROR("a\nb\0c"), "subject: line 2: NUL byte");
	/* A name in a message is one line of valid UTF-8, and not too long. */
	CHECK_STR(COMPILE_ERROR("{{#a\x01\xff}}"), "subject: line 1: bad name \"a??\"");
	CHECK_STR(COMPILE_ERROR("{{/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}"),
	          "subject: line 1: closing tag \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" without an "
	          "open section");
	/* Comments and sections may span lines; the count follows them. */
	CHECK_STR(COMPILE_ERROR("{{!\n\n}}\n{{#x}}"), "subject: line 4: unclosed section \"x\"");
	/* Dotted names, padding and the implicit iterator are fine. */
	CHECK_STR(COMPILE_ERROR("{{# a.b }}{{.}}{{/ a.b }}{{> p }}{{& c}}{{! x }}"), "");
	/* No name: "template" in messages. */
	{
		char err[ERRLEN];
		mustache *t = mustache_compile(NULL, "{{#a}}", 6, err, sizeof(err));

		CHECK(t == NULL);
		CHECK_STR(err, "template: line 1: unclosed section \"a\"");
	}
}

static void test_limits(void)
{
	size_t big = 1024 * 1024 + 1;
	char *src = malloc(big + 1);
	char *deep = malloc(2048);
	char err[ERRLEN];
	mustache *t;
	size_t o = 0;

	CHECK(src && deep);
	if (!src || !deep)
		goto out;
	/* 1 MiB of source is fine; a byte more is not. */
	memset(src, 'x', big);
	t = mustache_compile("body", src, big - 1, err, sizeof(err));
	CHECK(t != NULL);
	mustache_free(t);
	t = mustache_compile("body", src, big, err, sizeof(err));
	CHECK(t == NULL);
	CHECK_STR(err, "body: template larger than 1 MiB (1048577 bytes)");

	/* 64 nested sections compile; a 65th is refused on its line. */
	for (int i = 0; i < 64; i++)
		o += (size_t)sprintf(deep + o, "{{#s}}\n");
	for (int i = 0; i < 64; i++)
		o += (size_t)sprintf(deep + o, "{{/s}}");
	t = mustache_compile("body", deep, o, err, sizeof(err));
	CHECK(t != NULL);
	if (t) {
		char *out = mustache_render(t, NULL, CRIER_ESCAPE_NONE, NULL, NULL, err, sizeof(err));

		CHECK_STR(out, "");
		free(out);
	}
	mustache_free(t);
	o = 0;
	for (int i = 0; i < 65; i++)
		o += (size_t)sprintf(deep + o, "{{#s}}\n");
	t = mustache_compile("body", deep, o, err, sizeof(err));
	CHECK(t == NULL);
	CHECK_STR(err, "body: line 65: sections nested deeper than 64");

	/* Sections over lists multiply: rendering stops instead of hanging. */
	CHECK_STR(render("{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}",
	                 "{\"l\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
	                 "31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50]}",
	                 CRIER_ESCAPE_NONE),
	          "ERROR: t: too much to render (over 16777216 steps)");
	/* And at 16 MiB of result. */
	{
		json_t *ctx =
		    json_pack("{s:s%,s:[iiiiiiii]}", "v", src, (size_t)1024 * 1024, "l", 1, 2, 3, 4, 5, 6, 7, 8);
		const char *lsrc = "{{#l}}{{#l}}{{v}}{{/l}}{{/l}}";
		mustache *lt = mustache_compile("big", lsrc, strlen(lsrc), err, sizeof(err));
		char *out = NULL;

		CHECK(ctx && lt);
		if (ctx && lt)
			out = mustache_render(lt, ctx, CRIER_ESCAPE_NONE, NULL, NULL, err, sizeof(err));
		CHECK(out == NULL);
		CHECK_STR(err, "big: result larger than 16 MiB");
		free(out);
		mustache_free(lt);
		json_decref(ctx);
	}
out:
	free(src);
	free(deep);
}

/* Partials "p<N>" include "p<N+1>" until N reaches the context's limit. */
static char *chain_partial(void *ctx, const char *name)
{
	int last = *(int *)ctx, n = atoi(name + 1);
	char *src = malloc(64);

	if (!src)
		return NULL;
	if (n < last)
		snprintf(src, 64, "%d,{{>p%d}}", n, n + 1);
	else
		snprintf(src, 64, "end");
	return src;
}

static char *no_partial(void *ctx, const char *name)
{
	(void)name;
	(*(int *)ctx)++;
	return NULL;
}

static void test_partials(void)
{
	json_t *partials = json_pack("{s:s,s:s,s:s,s:s}", "self", "[{{>self}}]", "broken", "ok\n{{#x}}\n", "row",
	                             "<{{n}}>\n", "user", "{{name}}");
	char err[ERRLEN];
	mustache *t;
	char *out;
	int last, calls = 0;

	CHECK(partials != NULL);
	/* A missing partial renders "", with or without a loader. */
	out = render_with("a{{>nope}}b", "{}", CRIER_ESCAPE_NONE, partials, err);
	CHECK_STR(out, "ab");
	free(out);
	out = render_with("a{{>nope}}b", "{}", CRIER_ESCAPE_NONE, NULL, err);
	CHECK_STR(out, "ab");
	free(out);
	/* Asked once per render however often it is used. */
	t = mustache_compile("t", "{{#l}}{{>nope}}{{/l}}", 21, err, sizeof(err));
	CHECK(t != NULL);
	if (t) {
		json_t *ctx = json_pack("{s:[iii]}", "l", 1, 2, 3);

		out = mustache_render(t, ctx, CRIER_ESCAPE_NONE, no_partial, &calls, err, sizeof(err));
		CHECK_STR(out, "");
		CHECK(calls == 1);
		free(out);
		json_decref(ctx);
	}
	mustache_free(t);

	/* Endless recursion is cut with an error, not a crash. */
	out = render_with("{{>self}}", "{}", CRIER_ESCAPE_NONE, partials, err);
	CHECK(out == NULL);
	CHECK_STR(err, "t: partials nested deeper than 32 (at \"self\")");
	free(out);
	/* 32 levels are fine, 33 are not. */
	t = mustache_compile("t", "{{>p1}}", 7, err, sizeof(err));
	CHECK(t != NULL);
	if (t) {
		last = 32;
		out = mustache_render(t, NULL, CRIER_ESCAPE_NONE, chain_partial, &last, err, sizeof(err));
		CHECK(out != NULL && strncmp(out, "1,2,3,", 6) == 0 && strstr(out, ",31,32") == NULL &&
		      strstr(out, ",31,end") != NULL);
		free(out);
		last = 33;
		out = mustache_render(t, NULL, CRIER_ESCAPE_NONE, chain_partial, &last, err, sizeof(err));
		CHECK(out == NULL);
		CHECK_STR(err, "t: partials nested deeper than 32 (at \"p33\")");
		free(out);
	}
	mustache_free(t);

	/* The deepest render there can be: 63 sections in each of 32 partials. */
	{
		char deep[64 * 12 + 16];
		size_t o = 0;
		json_t *d;

		for (int i = 0; i < 63; i++)
			o += (size_t)sprintf(deep + o, "{{#t}}");
		o += (size_t)sprintf(deep + o, "{{>d}}");
		for (int i = 0; i < 63; i++)
			o += (size_t)sprintf(deep + o, "{{/t}}");
		d = json_pack("{s:s}", "d", deep);
		out = render_with("{{#t}}{{>d}}{{/t}}", "{\"t\": true}", CRIER_ESCAPE_NONE, d, err);
		CHECK(out == NULL);
		CHECK_STR(err, "t: partials nested deeper than 32 (at \"d\")");
		free(out);
		json_decref(d);
	}

	/* A partial that does not compile fails the render, naming both. */
	out = render_with("x\n{{>broken}}", "{}", CRIER_ESCAPE_NONE, partials, err);
	CHECK(out == NULL);
	CHECK_STR(err, "t: partial broken: line 2: unclosed section \"x\"");
	free(out);

	/* Standalone partials are indented line by line; inline ones are not. */
	out = render_with("list:\n{{#l}}\n  {{>row}}\n{{/l}}end {{>row}}", "{\"l\": [{\"n\": 1}, {\"n\": 2}]}",
	                  CRIER_ESCAPE_NONE, partials, err);
	CHECK_STR(out, "list:\n  <1>\n  <2>\nend <>\n");
	free(out);
	/* Partials see the context stack, and escape like the template. */
	out = render_with("{{#u}}{{>user}}{{/u}}", "{\"u\": {\"name\": \"<b>\"}}", CRIER_ESCAPE_HTML, partials, err);
	CHECK_STR(out, "&lt;b&gt;");
	free(out);
	json_decref(partials);
}

/* Partials from a JSON object, counting how often each name is asked for. */
typedef struct counted {
	json_t *src;   /* name -> source */
	json_t *calls; /* name -> times asked */
} counted;

static char *counted_partial(void *ctx, const char *name)
{
	counted *c = ctx;

	json_object_set_new(c->calls, name, json_integer(json_integer_value(json_object_get(c->calls, name)) + 1));
	return partials_from_object(c->src, name);
}

static int calls(const counted *c, const char *name)
{
	return (int)json_integer_value(json_object_get(c->calls, name));
}

/* A cache keeps what compiled from one render to the next; what the loader
 * lacked, or what did not compile, is asked for again. */
static void test_partials_cache(void)
{
	counted c = {json_pack("{s:s, s:s}", "a", "A1", "b", "{{#x}}"), json_object()};
	mustache_partials *cache = mustache_partials_new(counted_partial, &c);
	const char *src = "[{{>a}}|{{>gone}}|{{#l}}{{>a}}{{/l}}]";
	mustache *t = mustache_compile("t", src, strlen(src), NULL, 0);
	mustache *broken = mustache_compile("t", "{{>b}}", 6, NULL, 0);
	json_t *ctx = json_pack("{s:[ii]}", "l", 1, 2);
	char err[ERRLEN], *out;

	CHECK(c.src && c.calls && cache && t && broken && ctx);
	if (!c.src || !c.calls || !cache || !t || !broken || !ctx)
		goto out;
	out = mustache_render_cached(t, ctx, CRIER_ESCAPE_NONE, cache, err, sizeof(err));
	CHECK_STR(out, "[A1||A1A1]");
	CHECK(calls(&c, "a") == 1 && calls(&c, "gone") == 1);
	free(out);
	/* The files change: a compiled partial stays as it was, a missing one is found. */
	json_object_set_new(c.src, "a", json_string("A2"));
	json_object_set_new(c.src, "gone", json_string("G"));
	out = mustache_render_cached(t, ctx, CRIER_ESCAPE_NONE, cache, err, sizeof(err));
	CHECK_STR(out, "[A1|G|A1A1]");
	CHECK(calls(&c, "a") == 1 && calls(&c, "gone") == 2);
	free(out);
	out = mustache_render_cached(t, ctx, CRIER_ESCAPE_HTML, cache, err, sizeof(err));
	CHECK_STR(out, "[A1|G|A1A1]");
	CHECK(calls(&c, "a") == 1 && calls(&c, "gone") == 2);
	free(out);
	/* A broken partial fails every render until it is mended. */
	for (int i = 0; i < 2; i++) {
		out = mustache_render_cached(broken, ctx, CRIER_ESCAPE_NONE, cache, err, sizeof(err));
		CHECK(out == NULL);
		CHECK_STR(err, "t: partial b: line 1: unclosed section \"x\"");
		free(out);
	}
	CHECK(calls(&c, "b") == 2);
	json_object_set_new(c.src, "b", json_string("B"));
	out = mustache_render_cached(broken, ctx, CRIER_ESCAPE_NONE, cache, err, sizeof(err));
	CHECK_STR(out, "B");
	CHECK(calls(&c, "b") == 3);
	free(out);
out:
	mustache_partials_free(cache);
	mustache_free(t);
	mustache_free(broken);
	json_decref(ctx);
	json_decref(c.src);
	json_decref(c.calls);
}

static void test_delimiters(void)
{
	CHECK_STR(render("{{=<% %>=}}<%a%> {{a}} <%{a}%> <%&a%><%={{ }}=%> {{a}}", "{\"a\": \"<\"}", CRIER_ESCAPE_HTML),
	          "&lt; {{a}} < < &lt;");
	/* Delimiters with regex or printf meaning are plain text. */
	CHECK_STR(render("{{=%s .*=}}%sa.* 100%", "{\"a\": 1}", CRIER_ESCAPE_NONE), "1 100%");
}

/* A real event (docs/events.md), as the host passes it at delivery. */
static void test_event(void)
{
	const char *event =
	    "{\"id\": 17, \"type\": \"opened\", \"time\": \"2026-11-21T12:01:01.000Z\","
	    " \"idempotency_key\": \"crier-17-webhook/ops\", \"actor\": \"alertmanager\", \"message\": \"\","
	    " \"incident\": {\"id\": 3, \"key\": \"service=api\", \"title\": \"API 5xx above 5% & <rising>\","
	    "  \"state\": \"investigating\", \"severity\": \"critical\","
	    "  \"labels\": {\"alertname\": \"HighErrorRate\", \"service\": \"api\", \"severity\": \"critical\"},"
	    "  \"opened_at\": \"2026-11-21T12:01:00.969Z\", \"updated_at\": \"2026-11-21T12:01:00.969Z\","
	    "  \"resolved_at\": null, \"alerts_firing\": 2, \"human\": false},"
	    " \"alert\": {\"source\": \"alertmanager\", \"key\": \"84f3db9106b9f6a2\", \"status\": \"firing\","
	    "  \"labels\": {\"alertname\": \"HighErrorRate\", \"service\": \"api\", \"instance\": \"10.0.0.7:9100\"},"
	    "  \"annotations\": {\"summary\": \"5xx ratio 7.2%\"}, \"starts_at\": \"2026-11-21T12:00:30Z\","
	    "  \"ends_at\": null, \"link\": \"http://prometheus:9090/graph?g0.expr=x&g0.tab=1\"},"
	    " \"links\": {\"status_page\": \"https://status.example.com/\","
	    "  \"incident\": \"https://status.example.com/incidents/3.html\"},"
	    " \"is\": {\"opened\": true}}";
	const char *tmpl = "{{! a mail body }}\n"
	                   "[{{incident.severity}}] {{incident.title}}\n"
	                   "{{#is.opened}}\n"
	                   "Opened {{incident.opened_at}} by {{actor}}; {{incident.alerts_firing}} alerts firing.\n"
	                   "{{/is.opened}}\n"
	                   "{{#is.resolved}}\n"
	                   "Resolved.\n"
	                   "{{/is.resolved}}\n"
	                   "{{#alert.labels}}\n"
	                   "  service={{service}} instance={{instance}} severity={{severity}} event={{type}}\n"
	                   "{{/alert.labels}}\n"
	                   "{{#alert.annotations.summary}}Summary: {{.}}\n{{/alert.annotations.summary}}"
	                   "{{^message}}(no message){{/message}}\n"
	                   "<a href=\"{{alert.link}}\">graph</a> {{links.incident}}\n";

	CHECK_STR(render(tmpl, event, CRIER_ESCAPE_HTML),
	          "[critical] API 5xx above 5% &amp; &lt;rising&gt;\n"
	          "Opened 2026-11-21T12:01:00.969Z by alertmanager; 2 alerts firing.\n"
	          /* Names missing from the labels are looked for on the event around them. */
	          "  service=api instance=10.0.0.7:9100 severity= event=opened\n"
	          "Summary: 5xx ratio 7.2%\n"
	          "(no message)\n"
	          "<a href=\"http://prometheus:9090/graph?g0.expr=x&amp;g0.tab=1\">graph</a> "
	          "https://status.example.com/incidents/3.html\n");
	CHECK_STR(render("[{{incident.severity}}] {{incident.title}} ({{alert.labels.service}})\n", event,
	                 CRIER_ESCAPE_HEADER),
	          "[critical] API 5xx above 5% & <rising> (api) ");
	CHECK_STR(render("{{incident.title}} {{links.status_page}}", event, CRIER_ESCAPE_SLACK),
	          "API 5xx above 5% &amp; &lt;rising&gt; https://status.example.com/");
}

/* One compiled template renders many times, alike. */
static void test_reuse(void)
{
	char err[ERRLEN];
	mustache *t = mustache_compile("t", "{{#l}}{{.}},{{/l}}", 18, err, sizeof(err));
	json_t *a = json_pack("{s:[ii]}", "l", 1, 2), *b = json_pack("{s:[s]}", "l", "x");
	char *o1 = NULL, *o2 = NULL, *o3 = NULL;

	CHECK(t && a && b);
	if (t && a && b) {
		o1 = mustache_render(t, a, CRIER_ESCAPE_NONE, NULL, NULL, err, sizeof(err));
		o2 = mustache_render(t, b, CRIER_ESCAPE_NONE, NULL, NULL, err, sizeof(err));
		o3 = mustache_render(t, a, CRIER_ESCAPE_NONE, NULL, NULL, err, sizeof(err));
		CHECK(err[0] == '\0');
	}
	CHECK_STR(o1, "1,2,");
	CHECK_STR(o2, "x,");
	CHECK_STR(o3, "1,2,");
	free(o1);
	free(o2);
	free(o3);
	json_decref(a);
	json_decref(b);
	mustache_free(t);
	mustache_free(NULL);
}

int main(void)
{
	test_spec();
	test_escape_modes();
	test_header();
	test_values();
	test_truthiness();
	test_compile_errors();
	test_limits();
	test_partials();
	test_partials_cache();
	test_delimiters();
	test_event();
	test_reuse();
	return check_summary("test_mustache");
}
