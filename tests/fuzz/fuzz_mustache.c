/*
 * libFuzzer target: mustache_compile() on any bytes, then mustache_render()
 * in every escape mode against a fixed event-like context. Partials come
 * from a fixed set (one recursive, one broken) and "self", which is the
 * input again, so the fuzzer also drives partial indentation.
 */
#include "mustache.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ERRLEN 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_context[] =
    "{\"id\": 17, \"type\": \"opened\", \"message\": \"\", \"ratio\": 1.21, \"zero\": 0, \"neg\": -3.5e-9,"
    " \"t\": true, \"f\": false, \"n\": null, \"nul\": \"a\\u0000b\", \"crlf\": \"x\\r\\ny\\tz\\u007f\","
    " \"html\": \"<b>&\\\"'</b>\", \"utf8\": \"caf\\u00e9 \\ud83d\\udd25\","
    " \"incident\": {\"id\": 3, \"title\": \"API 5xx & <rising>\", \"labels\": {\"service\": \"api\"},"
    "  \"resolved_at\": null, \"human\": false},"
    " \"alerts\": [{\"labels\": {\"a\": \"1\"}, \"n\": 1},"
    "  {\"labels\": {\"a\": \"2\"}, \"n\": [1, [2, [3]]]}, 3, \"s\"],"
    " \"list\": [1, 2, 3], \"empty\": [], \"obj\": {}, \"is\": {\"opened\": true},"
    " \"a\": {\"b\": {\"c\": {\"d\": \"deep\"}}}, \"a.b\": \"dotted key\", \"node\": {\"node\": {\"node\": {}}}}";

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

typedef struct fuzz_input {
	const uint8_t *data;
	size_t size;
} fuzz_input;

static char *fuzz_partial(void *ctx, const char *name)
{
	const fuzz_input *in = ctx;

	if (strcmp(name, "self") == 0) {
		char *s = malloc(in->size + 1);

		if (s) {
			memcpy(s, in->data, in->size);
			s[in->size] = '\0'; /* stops at the first NUL, as a loaded file would not */
		}
		return s;
	}
	if (strcmp(name, "rec") == 0)
		return strdup("{{#node}}<{{>rec}}>{{/node}}");
	if (strcmp(name, "row") == 0)
		return strdup("  {{#list}}\n  - {{.}}\n  {{/list}}\n{{title}}\n");
	if (strcmp(name, "broken") == 0)
		return strdup("{{#x}}");
	return NULL;
}

/* err: terminated, one line, valid UTF-8, and set exactly on failure. */
static void fuzz_check_err(const char *err, int failed)
{
	json_t *e;

	fuzz_assert(memchr(err, '\0', FUZZ_ERRLEN) != NULL);
	fuzz_assert(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
	fuzz_assert((err[0] != '\0') == failed);
	e = json_string(err);
	fuzz_assert(e != NULL);
	json_decref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const crier_escape modes[] = {CRIER_ESCAPE_NONE, CRIER_ESCAPE_HTML, CRIER_ESCAPE_SLACK,
	                                     CRIER_ESCAPE_HEADER};
	fuzz_input in = {data, size};
	char err[FUZZ_ERRLEN];
	json_t *ctx = json_loads(fuzz_context, JSON_ALLOW_NUL, NULL);
	mustache *t;

	fuzz_assert(ctx != NULL);
	memset(err, 'x', sizeof(err)); /* must be overwritten */
	t = mustache_compile("fuzz", (const char *)data, size, err, sizeof(err));
	fuzz_check_err(err, t == NULL);
	for (size_t i = 0; t && i < sizeof(modes) / sizeof(modes[0]); i++) {
		char *out, *again;

		memset(err, 'x', sizeof(err));
		out = mustache_render(t, ctx, modes[i], fuzz_partial, &in, err, sizeof(err));
		fuzz_check_err(err, out == NULL);
		if (!out)
			continue;
		if (modes[i] == CRIER_ESCAPE_HEADER)
			for (const char *p = out; *p; p++)
				fuzz_assert((unsigned char)*p >= 0x20 && *p != 0x7f);
		/* Rendering has no state: the same input gives the same text. */
		again = mustache_render(t, ctx, modes[i], fuzz_partial, &in, err, sizeof(err));
		fuzz_assert(again != NULL && strcmp(out, again) == 0);
		free(again);
		free(out);
	}
	mustache_free(t);
	json_decref(ctx);
	return 0;
}
