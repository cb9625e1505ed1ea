/*
 * libFuzzer target: core/json_writer.c against json_dumps(JSON_COMPACT) on
 * any bytes: the input parsed by jansson (NUL in strings allowed), and the
 * input cut into raw strings (any bytes, UTF-8 or not), integers and reals.
 * Both must give the same text, or both NULL.
 */
#include "json_writer.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

/* Whether v holds an object key that is not UTF-8 (only *_nocheck makes one). */
static int fuzz_bad_key(const json_t *v)
{
	const char *k;
	size_t klen, i;
	json_t *m, *s;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
		{
			if (fuzz_bad_key(m))
				return 1;
		}
	}
	if (json_is_object(v)) {
		json_object_keylen_foreach((json_t *)v, k, klen, m)
		{
			if (!(s = json_stringn(k, klen)) || fuzz_bad_key(m)) {
				json_decref(s);
				return 1;
			}
			json_decref(s);
		}
	}
	return 0;
}

/* v written member by member with the streaming calls, varying between
 * them (by depth and position) so each is used for every kind of value. */
static void fuzz_stream(json_writer *w, const json_t *v, size_t depth, size_t pos)
{
	const char *k;
	size_t klen, i;
	json_t *m;
	unsigned how = (unsigned)((depth + pos) % 3);
	char *txt;

	if ((json_is_object(v) || json_is_array(v)) && how == 1) {
		txt = json_writer_dumps(v);
		if (txt)
			json_writer_raw(w, txt, strlen(txt));
		else
			json_writer_value(w, v); /* fails as dumps did */
		free(txt);
		return;
	}
	if (how == 2 || depth > 64) {
		json_writer_value(w, v);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_writer_begin_object(w);
		if (pos % 3 == 2 && (txt = json_writer_dumps(v)) != NULL) {
			json_writer_members_text(w, txt, strlen(txt));
			free(txt);
		} else if (pos % 3) {
			json_writer_members(w, v);
		} else {
			i = 0;
			json_object_keylen_foreach((json_t *)v, k, klen, m)
			{
				json_writer_keyn(w, k, klen);
				fuzz_stream(w, m, depth + 1, i++);
			}
		}
		json_writer_end_object(w);
		break;
	case JSON_ARRAY:
		json_writer_begin_array(w);
		json_array_foreach(v, i, m)
		{
			fuzz_stream(w, m, depth + 1, i);
		}
		json_writer_end_array(w);
		break;
	case JSON_STRING:
		json_writer_stringn(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		json_writer_int(w, json_integer_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		json_writer_bool(w, json_is_true(v));
		break;
	case JSON_NULL:
		json_writer_null(w);
		break;
	default:
		json_writer_value(w, v);
		break;
	}
}

/* The streaming calls give what json_writer_dumps gave (want, or NULL). */
static void fuzz_same_stream(const json_t *v, const char *want)
{
	json_writer w = JSON_WRITER_INIT;
	char *got;

	fuzz_stream(&w, v, 0, 0);
	got = json_writer_finish(&w);
	fuzz_assert((want == NULL) == (got == NULL));
	fuzz_assert(!want || strcmp(want, got) == 0);
	free(got);
}

static void fuzz_same(const json_t *v)
{
	char *want, *got = json_writer_dumps(v);

	/* json_dumps ignores its own failure on such a key and writes broken
	 * JSON; the writer refuses it. */
	if (v && (json_is_object(v) || json_is_array(v)))
		fuzz_same_stream(v, got);
	if (fuzz_bad_key(v)) {
		fuzz_assert(got == NULL);
		free(got);
		return;
	}
	want = json_dumps(v, JSON_COMPACT);

	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
		fprintf(stderr, "fuzz_json_writer: json_dumps \"%s\", json_writer \"%s\"\n", want ? want : "(null)",
		        got ? got : "(null)");
	fuzz_assert((want == NULL) == (got == NULL));
	fuzz_assert(!want || strcmp(want, got) == 0);
	free(want);
	free(got);
}

/* The input as values: the first byte of each piece picks its type, the
 * next one its length. */
static json_t *fuzz_build(const uint8_t *data, size_t size)
{
	json_t *arr = json_array(), *obj = json_object();
	size_t i = 0;

	if (!arr || !obj || json_array_append(arr, obj) < 0) {
		json_decref(arr);
		json_decref(obj);
		return NULL;
	}
	json_decref(obj);
	while (i + 2 <= size) {
		unsigned kind = data[i] % 4;
		size_t n = data[i + 1];
		json_t *v = NULL;

		i += 2;
		if (n > size - i)
			n = size - i;
		if (kind == 0) {
			v = json_stringn_nocheck((const char *)data + i, n);
		} else if (kind == 1 && n >= 8) {
			int64_t x;

			memcpy(&x, data + i, 8);
			v = json_integer((json_int_t)x);
		} else if (kind == 2 && n >= 8) {
			double d;

			memcpy(&d, data + i, 8);
			v = isfinite(d) ? json_real(d) : json_null();
		} else if (kind == 3) {
			/* A member whose key is raw bytes too. */
			char *key = malloc(n + 1);

			if (key) {
				memcpy(key, data + i, n);
				key[n] = '\0';
				json_object_setn_new_nocheck(obj, key, n, json_true());
				free(key);
			}
		}
		i += n;
		if (v)
			json_array_append_new(arr, v);
	}
	return arr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	if (v) {
		fuzz_same(v);
		json_decref(v);
	}
	v = fuzz_build(data, size);
	if (v) {
		fuzz_same(v);
		json_decref(v);
	}
	fuzz_same(NULL);
	return 0;
}
