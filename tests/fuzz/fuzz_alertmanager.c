/*
 * libFuzzer target: ingest_alertmanager() on any bytes, and the same with an
 * alert cache (the HTTP workers' way): the answer must not depend on it,
 * whether the cache is empty, holds this body's alerts already, or was
 * filled under other limits. The heads it gives are alert_head_of's, one
 * per alert, whether parsed or taken from the cache.
 */
#include "fuzz_common.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const alert_limits *lims[] = {&alert_limits_default, &fuzz_tight_limits};
	ingest_cache *cache = ingest_cache_new(64);

	fuzz_assert(cache != NULL);
	for (size_t i = 0; i < 2; i++) {
		char err[FUZZ_ERRLEN];
		json_t *out = (json_t *)&err; /* must be reset by the parser */
		ingest_status rc = ingest_alertmanager((const char *)data, size, lims[i], &out, err, sizeof(err));

		fuzz_check_result(rc, out, err, 1);
		fuzz_assert(rc != INGEST_IGNORED);
		/* Cold cache, then warm (an alert is kept at its second sight,
		 * taken from the cache at its third): the same status, text and
		 * alerts. */
		for (int pass = 0; pass < 3; pass++) {
			char err2[FUZZ_ERRLEN];
			json_t *out2 = NULL;
			alert_heads heads = {0};
			ingest_status rc2 = ingest_alertmanager_cached((const char *)data, size, lims[i], cache, &heads,
			                                               &out2, err2, sizeof(err2));

			fuzz_assert(rc2 == rc);
			fuzz_assert(strcmp(err2, err) == 0);
			fuzz_assert((out == NULL) == (out2 == NULL));
			fuzz_assert(out == NULL || json_equal(out, out2));
			fuzz_assert(out2 == NULL || heads.n == json_array_size(out2));
			for (size_t k = 0; out2 && k < heads.n; k++) {
				alert_head h;
				alert_head_of(json_array_get(out2, k), &h);
				fuzz_assert(memcmp(&h, &heads.v[k], sizeof(h)) == 0);
			}
			alert_heads_free(&heads);
			json_decref(out2);
		}
		json_decref(out);
	}
	ingest_cache_free(cache);
	return 0;
}
