/*
 * libFuzzer target: core/json_reader.c against jansson on any bytes. The
 * reader must accept exactly what json_loadb accepts, and read the same
 * values: with and without the repeat-key check, building values
 * (json_reader_value) and building nothing (json_reader_skip).
 */
#include "alert.h"
#include "json_reader.h"

#include <jansson.h>
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

/* jansson stops at 2048 nested values, counting a scalar as one; the reader
 * counts containers only. Below both, the two must agree exactly. */
#define FUZZ_DEPTH 1000

/* The whole input as one value, built (*out) or skipped (out NULL). 0 accepted, -1 refused. */
static int fuzz_read(const uint8_t *data, size_t size, unsigned flags, json_t **out)
{
	json_reader r;
	int rc;

	json_reader_init(&r, (const char *)data, size, FUZZ_DEPTH, flags);
	rc = out ? json_reader_value(&r, out) : json_reader_skip(&r);
	if (rc == 0)
		rc = json_reader_end(&r);
	if (rc != 0) {
		size_t at;
		const char *why = json_reader_error(&r, &at);

		/* Refused, with a reason inside the input, never for want of memory. */
		fuzz_assert(why != NULL && at <= size);
		fuzz_assert(strcmp(why, JSON_READER_ENOMEM) != 0);
		if (out) {
			json_decref(*out);
			*out = NULL;
		}
	} else {
		fuzz_assert(json_reader_error(&r, NULL) == NULL);
	}
	json_reader_free(&r);
	return rc;
}

static void fuzz_compare(const uint8_t *data, size_t size, unsigned reader_flags, size_t jansson_flags)
{
	json_error_t jerr;
	json_t *want = json_loadb((const char *)data, size, JSON_DECODE_ANY | jansson_flags, &jerr);
	json_t *got = NULL;
	int built = fuzz_read(data, size, reader_flags, &got);
	int skipped = fuzz_read(data, size, reader_flags, NULL);

	if (want) {
		if (built != 0 || skipped != 0)
			fprintf(stderr, "fuzz_json_reader: jansson accepts what the reader refuses\n");
		fuzz_assert(built == 0 && skipped == 0);
		if (!json_equal(want, got))
			fprintf(stderr, "fuzz_json_reader: values differ\n");
		fuzz_assert(json_equal(want, got));
	} else {
		if (built == 0 || skipped == 0)
			fprintf(stderr, "fuzz_json_reader: the reader accepts what jansson refuses: %s\n", jerr.text);
		fuzz_assert(built != 0 && skipped != 0);
	}
	json_decref(want);
	json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (alert_check_depth((const char *)data, size, FUZZ_DEPTH) != 0) {
		/* Too deep to compare: the reader must still refuse it. */
		fuzz_assert(fuzz_read(data, size, JSON_READER_REJECT_DUPLICATES, NULL) != 0);
		return 0;
	}
	fuzz_compare(data, size, JSON_READER_REJECT_DUPLICATES, JSON_REJECT_DUPLICATES);
	fuzz_compare(data, size, 0, 0);
	return 0;
}
