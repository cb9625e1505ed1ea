/* libFuzzer target: ingest_generic() on any bytes. */
#include "fuzz_common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const alert_limits *lims[] = {&alert_limits_default, &fuzz_tight_limits};

	for (size_t i = 0; i < 2; i++) {
		char err[FUZZ_ERRLEN];
		json_t *out = (json_t *)&err; /* must be reset by the parser */
		ingest_status rc = ingest_generic((const char *)data, size, lims[i], &out, err, sizeof(err));

		fuzz_check_result(rc, out, err, 1);
		fuzz_assert(rc != INGEST_IGNORED);
		json_decref(out);
	}
	return 0;
}
