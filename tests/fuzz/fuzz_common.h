/* What every ingest parser promises (core/ingest.h), checked after each
 * fuzz input: a broken promise aborts, so libFuzzer keeps the input. */
#ifndef CRIER_FUZZ_COMMON_H
#define CRIER_FUZZ_COMMON_H

#include "ingest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ERRLEN 256

/* Small limits reach the refusal paths that real-sized inputs never hit. */
static const alert_limits fuzz_tight_limits = {3, 4, 8, 16, 4};

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_alert(const json_t *a)
{
	const char *st = json_string_value(json_object_get(a, "status"));

	fuzz_assert(json_is_object(a) && json_object_size(a) == 8);
	fuzz_assert(json_is_string(json_object_get(a, "source")));
	fuzz_assert(json_is_string(json_object_get(a, "key")));
	fuzz_assert(st && (strcmp(st, "firing") == 0 || strcmp(st, "resolved") == 0));
	fuzz_assert(json_is_object(json_object_get(a, "labels")));
	fuzz_assert(json_is_object(json_object_get(a, "annotations")));
	fuzz_assert(json_is_integer(json_object_get(a, "starts_at")));
	fuzz_assert(json_is_integer(json_object_get(a, "ends_at")));
	fuzz_assert(json_is_string(json_object_get(a, "link")));
}

/* err: terminated, one line, valid UTF-8 (json_string() checks that), and
 * set exactly when the result is not OK. */
static void fuzz_check_result(ingest_status rc, const json_t *out, const char *err, int produces_array)
{
	json_t *e;

	fuzz_assert(memchr(err, '\0', FUZZ_ERRLEN) != NULL);
	fuzz_assert(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
	e = json_string(err);
	fuzz_assert(e != NULL);
	json_decref(e);
	if (rc == INGEST_OK) {
		fuzz_assert(out != NULL && err[0] == '\0');
		if (produces_array) {
			fuzz_assert(json_is_array(out));
			for (size_t i = 0; i < json_array_size(out); i++)
				fuzz_check_alert(json_array_get(out, i));
		} else {
			fuzz_assert(json_is_object(out));
		}
	} else {
		fuzz_assert(rc == INGEST_BAD || rc == INGEST_IGNORED);
		fuzz_assert(out == NULL && err[0] != '\0');
	}
}

#endif
