/*
 * ingest_alertmanager() on one body, N times, outside the daemon: the figure
 * to compare parser changes by, since wall-clock throughput on the shared VM
 * drifts by +-20% and instruction counts do not.
 *
 *   cc ... -o ingest_driver tests/bench/ingest_driver.c build/libcrier.a -ljansson -lm
 *   ingest_driver [N] < BODY      prints ns per call (parse, then free the result)
 *   valgrind --tool=callgrind --toggle-collect=driver_one ingest_driver 1000 < BODY
 *                                 instructions per call = total Ir / N
 *
 * tests/bench/webhook-body.json is a body tests/bench/load.lua sent (captured
 * with an HTTP sink): 10 alerts, 3,275 bytes.
 */
#include "ingest.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* One request's parse, and later the result dropped (the core thread holds
 * it in between). The uncached path: crierd's HTTP workers call
 * ingest_alertmanager_cached with a cache each, which spares them the
 * alerts they have parsed before; this measures the parser itself. Not
 * static and not inlined, so callgrind can collect it by name. */
__attribute__((noinline)) int driver_one(const char *body, size_t len);

int driver_one(const char *body, size_t len)
{
	char err[256];
	json_t *out = NULL;
	ingest_status st = ingest_alertmanager(body, len, &alert_limits_default, &out, err, sizeof(err));
	size_t n = json_array_size(out);

	json_decref(out);
	if (st != INGEST_OK) {
		fprintf(stderr, "ingest_driver: %s\n", err);
		return -1;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	size_t len = 0;
	long n = argc > 1 ? atol(argv[1]) : 10000;
	char *body;
	int alerts = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [N] < BODY\n", argv[0]);
		return 2;
	}
	/* Any file's whole text, not only a template's, up to 1 MiB: crierd's
	 * default http.max_body_bytes too. */
	body = strbuf_read_file("/dev/stdin", 1 << 20, &len, NULL);
	if (!body) {
		fprintf(stderr, "ingest_driver: cannot read stdin\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		alerts = driver_one(body, len);
		if (alerts < 0)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(body);
	if (alerts < 0)
		return 1;
	printf("ingest_driver: %ld calls, %d alerts each, %.0f ns per call\n", n, alerts,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n);
	return 0;
}
