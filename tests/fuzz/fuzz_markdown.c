/*
 * libFuzzer target: markdown_html() on any bytes, with the promise that
 * makes it safe to put in a page checked on the output: every '<' opens one
 * of the listed tags (attributes only ol's start and a's href, whose URL is
 * http, https or mailto), tags nest properly, and '>', '"', '\'' and '&'
 * appear only as markup or as an entity. Valid UTF-8 in gives valid UTF-8
 * out; rendering is deterministic. markdown_check() and markdown_literal()
 * run on the same bytes.
 */
#include "markdown.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FUZZ_ERRLEN 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

/* The tag at s (after '<'): its length up to and with '>', and its name into name. */
static size_t check_tag(const char *s, char *name, size_t namelen, int *closing)
{
	static const char *const plain[] = {"h1",     "h2",   "h3",  "h4", "h5", "h6", "p", "em",
	                                    "strong", "code", "pre", "ul", "ol", "li", "a"};
	const char *gt = strchr(s, '>');
	fuzz_assert(gt != NULL);
	size_t len = (size_t)(gt - s);
	*closing = s[0] == '/';
	const char *n = s + *closing;
	size_t nl = strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789");
	int known = 0;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		known |= strlen(plain[i]) == nl && strncmp(n, plain[i], nl) == 0;
	fuzz_assert(known && nl < namelen);
	memcpy(name, n, nl);
	name[nl] = '\0';
	const char *attrs = n + nl;
	if (attrs == gt)
		return len + 1;
	/* Only <ol start="N"> and <a href="URL"> carry an attribute. */
	fuzz_assert(!*closing);
	if (strcmp(name, "ol") == 0) {
		fuzz_assert(has_prefix(attrs, " start=\""));
		const char *v = attrs + 8;
		size_t digits = strspn(v, "0123456789");
		fuzz_assert(digits > 0 && v[digits] == '"' && v + digits + 1 == gt);
		return len + 1;
	}
	fuzz_assert(strcmp(name, "a") == 0 && has_prefix(attrs, " href=\""));
	const char *url = attrs + 7;
	fuzz_assert(has_prefix_ci(url, "http://") || has_prefix_ci(url, "https://") || has_prefix_ci(url, "mailto:"));
	const char *end = strchr(url, '"');
	fuzz_assert(end && end + 1 == gt);
	for (const char *p = url; p < end; p++)
		fuzz_assert((unsigned char)*p > 0x20 && *p != '<' && *p != '\'' && *p != 0x7f);
	return len + 1;
}

static void check_html(const char *h)
{
	static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
	/* Every tag takes at least three bytes of output: a bound on the depth. */
	size_t cap = strlen(h) / 3 + 1, depth = 0;
	char(*stack)[8] = malloc(cap * sizeof(*stack));
	fuzz_assert(stack != NULL);
	for (const char *p = h; *p;) {
		if (*p == '<') {
			char name[8];
			int closing;
			size_t len = check_tag(p + 1, name, sizeof(name), &closing);
			if (closing) {
				fuzz_assert(depth > 0 && strcmp(stack[depth - 1], name) == 0);
				depth--;
			} else {
				fuzz_assert(depth < cap);
				memcpy(stack[depth++], name, sizeof(name));
			}
			p += len + 1;
			continue;
		}
		fuzz_assert(*p != '>' && *p != '"' && *p != '\'');
		if (*p == '&') {
			int known = 0;
			for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
				known |= has_prefix(p, entities[i]);
			fuzz_assert(known);
		}
		p++;
	}
	fuzz_assert(depth == 0);
	free(stack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *md = (const char *)data;
	char err[FUZZ_ERRLEN];

	for (int offset = 0; offset <= 1; offset++) {
		char *h = markdown_html(md, size, offset);
		fuzz_assert(h != NULL);
		check_html(h);
		char *again = markdown_html(md, size, offset);
		fuzz_assert(again != NULL && strcmp(h, again) == 0);
		free(again);
		/* Text that may be published renders to text a JSON document can carry. */
		if (markdown_check(md, size, 1 << 20, "input", err, sizeof(err)) == 0) {
			json_t *s = json_string(h);
			fuzz_assert(s != NULL);
			json_decref(s);
		} else {
			fuzz_assert(err[0] != '\0' && strchr(err, '\n') == NULL);
		}
		free(h);
	}
	char *copy = malloc(size + 1);
	fuzz_assert(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *q = markdown_literal(copy);
	fuzz_assert(q != NULL && strchr(q, '\n') == NULL);
	free(q);
	free(copy);
	return 0;
}
