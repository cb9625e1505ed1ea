/* core/json_reader.c and core/json_writer.c: the cursor API, its limits and
 * its errors, and the writer's text against json_dumps. (Agreement with
 * jansson on any bytes is tests/fuzz/fuzz_json_reader.c and fuzz_json_writer.c.) */
#include "check.h"
#include "json_reader.h"
#include "json_writer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of text as one value, built; NULL when refused (*why set). */
static json_t *read_all(const char *text, size_t len, int max_depth, unsigned flags, const char **why)
{
	json_reader r;
	json_t *v = NULL;

	json_reader_init(&r, text, len, max_depth, flags);
	if (json_reader_value(&r, &v) < 0 || json_reader_end(&r) < 0) {
		json_decref(v);
		v = NULL;
	}
	*why = json_reader_error(&r, NULL);
	json_reader_free(&r);
	return v;
}

static int accepts(const char *text)
{
	const char *why;
	json_t *v = read_all(text, strlen(text), 64, JSON_READER_REJECT_DUPLICATES, &why);

	json_decref(v);
	return v != NULL;
}

static void test_walk(void)
{
	const char *text = " {\"a\": [1, -2.5e1, true, false, null], \"b\\u00e9\": \"x\\ny\", \"c\": {\"d\": {}}} ";
	json_reader r;
	const char *k, *s;
	size_t klen, slen;
	int is_real;
	json_int_t i;
	double d;

	json_reader_init(&r, text, strlen(text), 8, JSON_READER_REJECT_DUPLICATES);
	CHECK(json_reader_peek(&r) == JSON_READER_OBJECT);
	CHECK(json_reader_object_enter(&r) == 0);
	CHECK(json_reader_object_next(&r, &k, &klen) == 1 && klen == 1 && k[0] == 'a');
	CHECK(json_reader_array_enter(&r) == 0);
	CHECK(json_reader_array_next(&r) == 1);
	CHECK(json_reader_number(&r, &is_real, &i, &d) == 0 && !is_real && i == 1);
	CHECK(json_reader_array_next(&r) == 1);
	CHECK(json_reader_number(&r, &is_real, &i, &d) == 0 && is_real && d == -25.0);
	CHECK(json_reader_array_next(&r) == 1 && json_reader_peek(&r) == JSON_READER_TRUE);
	CHECK(json_reader_skip(&r) == 0);
	CHECK(json_reader_array_next(&r) == 1 && json_reader_peek(&r) == JSON_READER_FALSE);
	CHECK(json_reader_skip(&r) == 0);
	CHECK(json_reader_array_next(&r) == 1 && json_reader_peek(&r) == JSON_READER_NULL);
	CHECK(json_reader_skip(&r) == 0);
	CHECK(json_reader_array_next(&r) == 0);
	/* An escaped key comes decoded. */
	CHECK(json_reader_object_next(&r, &k, &klen) == 1 && klen == 3 && memcmp(k, "b\xc3\xa9", 3) == 0);
	CHECK(json_reader_string(&r, &s, &slen) == 0 && slen == 3 && memcmp(s, "x\ny", 3) == 0);
	CHECK(json_reader_object_next(&r, &k, &klen) == 1 && klen == 1 && k[0] == 'c');
	CHECK(json_reader_skip(&r) == 0);
	CHECK(json_reader_object_next(&r, &k, &klen) == 0);
	CHECK(json_reader_end(&r) == 0);
	CHECK(json_reader_error(&r, NULL) == NULL);
	json_reader_free(&r);
}

/* Calls out of turn fail rather than accept broken JSON. */
static void test_out_of_turn(void)
{
	const char *text = "{\"a\":1,\"b\":2}";
	json_reader r;
	const char *k, *s;
	size_t klen, slen;

	json_reader_init(&r, text, strlen(text), 8, 0);
	CHECK(json_reader_object_enter(&r) == 0);
	CHECK(json_reader_object_next(&r, &k, &klen) == 1);
	/* The value of "a" was not read. */
	CHECK(json_reader_object_next(&r, &k, &klen) == -1);
	CHECK(json_reader_error(&r, NULL) != NULL);
	/* Errors are sticky. */
	CHECK(json_reader_skip(&r) == -1);
	json_reader_free(&r);

	json_reader_init(&r, text, strlen(text), 8, 0);
	CHECK(json_reader_array_enter(&r) == -1);
	json_reader_free(&r);

	json_reader_init(&r, text, strlen(text), 8, 0);
	CHECK(json_reader_string(&r, &s, &slen) == -1);
	json_reader_free(&r);

	json_reader_init(&r, "[1]", 3, 8, 0);
	CHECK(json_reader_array_enter(&r) == 0);
	CHECK(json_reader_end(&r) == -1);
	json_reader_free(&r);
}

/* A literal with its length, NUL bytes included. */
typedef struct text {
	const char *s;
	size_t len;
} text;
#define T(lit)                                                                                                         \
	{                                                                                                              \
		lit, sizeof(lit) - 1                                                                                   \
	}

static void test_grammar(void)
{
	static const text good[] = {T("{}"), T("[]"), T("[0]"), T("[-0]"), T("[0.5e-3]"), T("[1E+2]"),
	                            T("[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]"), T("[\"\\ud83d\\ude00\"]"),
	                            T("[\"\xf0\x9f\x98\x80\"]"), T("[9223372036854775807,-9223372036854775808]"),
	                            T(" \t\r\n[ 1 , 2 ] \n"), T("[\"\x7f\"]"), T("[1e-400]"),
	                            /* jansson loses a NUL byte read after a number or a literal. */
	                            T("[1\0]"), T("[true\0]")};
	static const text bad[] = {T(""),
	                           T("["),
	                           T("[1,]"),
	                           T("[,1]"),
	                           T("{\"a\"}"),
	                           T("{\"a\":}"),
	                           T("{,}"),
	                           T("{\"a\":1,}"),
	                           T("[01]"),
	                           T("[1.]"),
	                           T("[.5]"),
	                           T("[+1]"),
	                           T("[1e]"),
	                           T("[-]"),
	                           T("[tru]"),
	                           T("[truex]"),
	                           T("[nul]"),
	                           T("[\"a]"),
	                           T("[\"\\x\"]"),
	                           T("[\"\\u12g4\"]"),
	                           T("[\"\\u0000\"]"),
	                           T("[\"\\ud800\"]"),
	                           T("[\"\\udc00\"]"),
	                           T("[\"\\ud800\\u0041\"]"),
	                           T("[\"a\nb\"]"),
	                           T("[\"\x01\"]"),
	                           T("[\"\xc0\x80\"]"),
	                           T("[\"\xed\xa0\x80\"]"),
	                           T("[\"\xf4\x90\x80\x80\"]"),
	                           T("[\"\xe2\x82\"]"),
	                           T("[\xc3\xa9]"),
	                           T("[1] [2]"),
	                           T("[1]x"),
	                           T("[9223372036854775808]"),
	                           T("[-9223372036854775809]"),
	                           T("[1e400]"),
	                           T("[-1e400]"),
	                           T("[1\0\0]"),
	                           T("{\"\\u0000\":1}")};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why;
		json_t *v = read_all(good[i].s, good[i].len, 64, 0, &why);
		json_t *want = json_loadb(good[i].s, good[i].len, JSON_DECODE_ANY, NULL);

		if (!v)
			fprintf(stderr, "refused good[%zu]: %s\n", i, why);
		CHECK(v != NULL && want != NULL && json_equal(v, want));
		json_decref(v);
		json_decref(want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why;
		json_t *v = read_all(bad[i].s, bad[i].len, 64, 0, &why);

		if (v)
			fprintf(stderr, "accepted bad[%zu]\n", i);
		CHECK(v == NULL && why != NULL);
		CHECK(json_loadb(bad[i].s, bad[i].len, JSON_DECODE_ANY, NULL) == NULL);
		json_decref(v);
	}
}

static void test_duplicates(void)
{
	char big[1024], *p = big;
	const char *why;
	json_t *v;

	CHECK(!accepts("{\"a\":1,\"a\":2}"));
	CHECK(!accepts("{\"a\":1,\"\\u0061\":2}"));
	CHECK(accepts("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
	/* Without the check the last wins, as in json_loadb. */
	v = read_all("{\"a\":1,\"a\":2}", 13, 8, 0, &why);
	CHECK(v && json_integer_value(json_object_get(v, "a")) == 2 && json_object_size(v) == 1);
	json_decref(v);
	/* Past 16 keys the check runs when the object closes. */
	p += sprintf(p, "{");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "\"k%d\":%d,", i, i);
	sprintf(p, "\"k7\":0}");
	CHECK(!accepts(big));
	sprintf(p, "\"k40\":0}");
	CHECK(accepts(big));
}

static void test_depth(void)
{
	const char *why;
	json_t *v;

	v = read_all("[[[1]]]", 7, 3, 0, &why);
	CHECK(v != NULL);
	json_decref(v);
	v = read_all("[[[[1]]]]", 9, 3, 0, &why);
	CHECK(v == NULL && why != NULL);
	/* Skipping checks the depth too. */
	json_reader r;

	json_reader_init(&r, "[[[[]]]]", 8, 3, 0);
	CHECK(json_reader_skip(&r) == -1);
	json_reader_free(&r);
}

static void test_error_offset(void)
{
	json_reader r;
	size_t at = 0;

	json_reader_init(&r, "{\"a\":1 \"b\":2}", 13, 8, 0);
	CHECK(json_reader_skip(&r) == -1);
	CHECK_STR(json_reader_error(&r, &at), "',' or '}' expected");
	CHECK(at == 7);
	json_reader_free(&r);
}

static void test_writer(void)
{
	static const char *const docs[] = {
	    "{}",
	    "[]",
	    "{\"a\":[1,-2,3.5,1e300,0.1,1e-7,100.0],\"b\":null,\"c\":true,\"d\":false}",
	    "[\"\\u0001\\u001f\\t\\n\\r\\b\\f\\\"\\\\/\\u007f\xc3\xa9\xf0\x9f\x98\x80\"]",
	    "{\"k\":\"v\\u0000\"}",
	    "[-9223372036854775808,9223372036854775807]"};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = json_loads(docs[i], JSON_ALLOW_NUL, NULL);
		char *want = v ? json_dumps(v, JSON_COMPACT) : NULL;
		char *got = json_writer_dumps(v);

		CHECK(v != NULL);
		CHECK_STR(got, want);
		free(want);
		free(got);
		json_decref(v);
	}
	/* Same refusals: not a container, not UTF-8, NULL. */
	json_t *s = json_string("x"), *a = json_array();

	CHECK(json_writer_dumps(s) == NULL);
	CHECK(json_writer_dumps(NULL) == NULL);
	json_array_append_new(a, json_stringn_nocheck("\xff", 1));
	CHECK(json_writer_dumps(a) == NULL && json_dumps(a, JSON_COMPACT) == NULL);
	json_decref(s);
	json_decref(a);
}

/* Member by member: the same text as the tree json_dumps writes. */
static void test_writer_stream(void)
{
	json_writer w = JSON_WRITER_INIT;
	json_t *sub = json_pack("{s[i f b n] s{}}", "x", 1, 2.5, 0, "y");
	json_t *members = json_pack("{ss si}", "m1", "v", "m2", -7);
	json_t *want =
	    json_pack("{ss s[] s{} sI sb sb sn s{ss sO s[is]} ss si s[{}[]] sn ss}", "a", "q\"\\\n\x01\xc3\xa9", "e",
	              "o", "i", (json_int_t)INT64_MIN, "t", 1, "f", 0, "n", "nest", "k", "v", "sub", sub, "arr", 1, "s",
	              "m1", "v", "m2", -7, "c", "z", "end", "\xf0\x9f\x98\x80");
	char *want_txt = json_dumps(want, JSON_COMPACT);

	json_writer_begin_object(&w);
	json_writer_key(&w, "a");
	json_writer_string(&w, "q\"\\\n\x01\xc3\xa9");
	json_writer_key(&w, "e");
	json_writer_begin_array(&w);
	json_writer_end_array(&w);
	json_writer_keyn(&w, "oops", 1);
	json_writer_begin_object(&w);
	json_writer_end_object(&w);
	json_writer_key(&w, "i");
	json_writer_int(&w, INT64_MIN);
	json_writer_key(&w, "t");
	json_writer_bool(&w, 7);
	json_writer_key(&w, "f");
	json_writer_bool(&w, 0);
	json_writer_key(&w, "n");
	json_writer_string(&w, NULL);
	json_writer_key(&w, "nest");
	json_writer_begin_object(&w);
	json_writer_key(&w, "k");
	json_writer_stringn(&w, "vvv", 1);
	json_writer_key(&w, "sub");
	json_writer_value(&w, sub);
	json_writer_key(&w, "arr");
	json_writer_begin_array(&w);
	json_writer_int(&w, 1);
	json_writer_string(&w, "s");
	json_writer_end_array(&w);
	json_writer_end_object(&w);
	json_writer_members(&w, members);
	json_writer_key(&w, "c");
	json_writer_begin_array(&w);
	json_writer_raw(&w, "{}", 2);
	json_writer_raw(&w, "[]", 2);
	json_writer_end_array(&w);
	json_writer_key(&w, "z");
	json_writer_null(&w);
	json_writer_key(&w, "end");
	json_writer_string(&w, "\xf0\x9f\x98\x80");
	json_writer_end_object(&w);
	CHECK_STR(json_writer_text(&w), want_txt);
	char *got = json_writer_finish(&w);
	CHECK_STR(got, want_txt);
	CHECK(w.data == NULL && w.len == 0);
	free(got);
	free(want_txt);

	/* A failure sticks until reset: not UTF-8, a missing value, not an object. */
	json_writer_begin_array(&w);
	json_writer_stringn(&w, "\xff", 1);
	json_writer_int(&w, 1);
	json_writer_end_array(&w);
	CHECK(json_writer_text(&w) == NULL);
	json_writer_reset(&w);
	json_writer_begin_array(&w);
	json_writer_int(&w, 1);
	json_writer_end_array(&w);
	CHECK_STR(json_writer_text(&w), "[1]");
	json_writer_reset(&w);
	json_writer_value(&w, NULL);
	CHECK(json_writer_text(&w) == NULL);
	json_writer_reset(&w);
	json_writer_members(&w, json_object_get(sub, "x"));
	CHECK(json_writer_finish(&w) == NULL);
	CHECK(w.data == NULL);
	/* An object's members from its text, into another. */
	json_writer_begin_object(&w);
	json_writer_key(&w, "id");
	json_writer_int(&w, 7);
	json_writer_members_text(&w, "{\"a\":1,\"b\":{}}", strlen("{\"a\":1,\"b\":{}}"));
	json_writer_members_text(&w, "{}", 2);
	json_writer_end_object(&w);
	CHECK_STR(json_writer_text(&w), "{\"id\":7,\"a\":1,\"b\":{}}");
	json_writer_reset(&w);
	json_writer_begin_object(&w);
	json_writer_members_text(&w, "{\"a\":1}", 7);
	json_writer_end_object(&w);
	CHECK_STR(json_writer_text(&w), "{\"a\":1}");
	json_writer_reset(&w);
	json_writer_begin_object(&w);
	json_writer_members_text(&w, "[1]", 3);
	CHECK(json_writer_text(&w) == NULL);
	json_writer_reset(&w);
	/* A key that is not UTF-8 fails too. */
	json_writer_begin_object(&w);
	json_writer_keyn(&w, "\xc3", 1);
	json_writer_int(&w, 1);
	json_writer_end_object(&w);
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);
	json_decref(sub);
	json_decref(members);
	json_decref(want);
}

/* json_reader_peek_text as it first was, one byte at a time: a backslash in
 * a string takes the next byte with it. The reference for the one that
 * finds quotes with memchr. */
static const char *peek_text_bytewise(const char *s, size_t n, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t depth = 0;
	*len = 0;
	if (p == end || (*p != '{' && *p != '['))
		return NULL;
	for (const unsigned char *q = p; q < end; q++) {
		if (*q == '"') {
			for (q++; q < end && *q != '"'; q++)
				if (*q == '\\')
					q++;
			if (q >= end)
				return NULL;
		} else if (*q == '{' || *q == '[') {
			depth++;
		} else if ((*q == '}' || *q == ']') && --depth == 0) {
			*len = (size_t)(q + 1 - p);
			return s;
		}
	}
	return NULL;
}

/* Whether json_reader_peek_text and the bytewise reference agree on the n bytes at s. */
static int peek_agrees(const char *s, size_t n)
{
	size_t want_len, got_len;
	const char *want = peek_text_bytewise(s, n, &want_len);
	json_reader r;
	json_reader_init(&r, s, n, 64, 0);
	const char *got = json_reader_peek_text(&r, &got_len);
	json_reader_free(&r);
	return (got == NULL) == (want == NULL) && got_len == want_len;
}

/* The extent of a value's text, against the bytewise reference: fixed cases
 * (escaped quotes, runs of backslashes, brackets inside strings, cut short),
 * then 200,000 strings of brackets, quotes and backslashes. */
static void test_peek_text(void)
{
	static const char *const fixed[] = {
	    "{}",
	    "[]",
	    "{\"a\":\"}\"}",
	    "{\"a\":\"\\\"}\"}x",
	    "{\"a\":\"\\\\\"}x",
	    "{\"a\":\"\\\\\\\"}\"}",
	    "[\"\\\\\\\\\"]",
	    "[\"]",
	    "[\"\\\"]",
	    "{\"k\":[1,{\"x\":\"]\"}]}, 2",
	    "[\"",
	    "{",
	    "x",
	    "",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		CHECK(peek_agrees(fixed[i], strlen(fixed[i])));
	static const char alphabet[] = "{}[]\"\\a";
	char buf[48];
	uint32_t seed = 12345;
	int differ = 0;
	for (int i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % sizeof(buf);
		for (size_t j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			buf[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		buf[0] = (seed >> 20) & 1 ? '{' : '[';
		differ += !peek_agrees(buf, n);
	}
	CHECK(differ == 0);
}

int main(void)
{
	test_walk();
	test_out_of_turn();
	test_grammar();
	test_duplicates();
	test_depth();
	test_error_offset();
	test_writer();
	test_writer_stream();
	test_peek_text();
	return check_summary("test_json");
}
