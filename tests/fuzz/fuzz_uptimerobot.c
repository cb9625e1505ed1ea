/*
 * libFuzzer target: the three Uptime Robot paths on any bytes. The input is
 * read as a JSON body, as a form body and, after its first '?', as a query
 * string; whatever decodes is then turned into alerts with and without a
 * service map.
 */
#include "fuzz_common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fields(const json_t *fields)
{
	static json_t *services;
	ingest_uptimerobot_conf confs[2] = {{NULL, NULL}, {NULL, "major"}};

	/* Built once; the fuzzer process keeps it for its life. */
	if (!services)
		services = json_pack("{s:s, s:s, s:s}", "784350743", "api", "11", "web", "1", "");
	fuzz_assert(services != NULL);
	confs[1].services = services;
	for (size_t i = 0; i < 2; i++) {
		char err[FUZZ_ERRLEN];
		json_t *out = (json_t *)&err;
		ingest_status rc = ingest_uptimerobot(fields, &confs[i], &out, err, sizeof(err));

		fuzz_check_result(rc, out, err, 1);
		fuzz_assert(rc != INGEST_OK || json_array_size(out) == 1);
		json_decref(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *q = memchr(data, '?', size);
	const alert_limits *lims[] = {&alert_limits_default, &fuzz_tight_limits};
	char err[FUZZ_ERRLEN];
	json_t *fields;
	ingest_status rc;

	for (size_t i = 0; i < 2; i++) {
		fields = (json_t *)&err;
		rc = ingest_uptimerobot_json(text, size, lims[i], &fields, err, sizeof(err));
		fuzz_check_result(rc, fields, err, 0);
		fuzz_assert(rc != INGEST_IGNORED);
		if (rc == INGEST_OK)
			fuzz_fields(fields);
		json_decref(fields);
	}

	fields = (json_t *)&err;
	rc = ingest_form_decode(text, size, &fields, err, sizeof(err));
	fuzz_check_result(rc, fields, err, 0);
	fuzz_assert(rc != INGEST_IGNORED);
	if (rc == INGEST_OK)
		fuzz_fields(fields);
	json_decref(fields);

	if (q) {
		q++;
		fields = (json_t *)&err;
		rc = ingest_form_decode(q, size - (size_t)(q - text), &fields, err, sizeof(err));
		fuzz_check_result(rc, fields, err, 0);
		if (rc == INGEST_OK)
			fuzz_fields(fields);
		json_decref(fields);
	}
	return 0;
}
