/* Backoff with jitter, and the hash map the core indexes with. */
#include "check.h"
#include "hmap.h"
#include "outbox.h"

#include <stdio.h>

int main(void)
{
	config_delivery d = {
	    .max_attempts = 10, .max_age_ms = 86400000, .backoff_initial_ms = 1000, .backoff_max_ms = 60000};
	/* Doubling from the initial step, jitter keeps it within [step/2, step). */
	CHECK(outbox_backoff(&d, 1, 0.0) == 500);
	CHECK(outbox_backoff(&d, 1, 0.999) >= 999 && outbox_backoff(&d, 1, 0.999) < 1000);
	CHECK(outbox_backoff(&d, 2, 0.0) == 1000);
	CHECK(outbox_backoff(&d, 3, 0.0) == 2000);
	CHECK(outbox_backoff(&d, 4, 0.5) == 6000);
	/* Capped. */
	CHECK(outbox_backoff(&d, 30, 0.0) == 30000);
	CHECK(outbox_backoff(&d, 1000, 0.999) < 60000);
	/* Jitter spreads: different random draws give different delays. */
	CHECK(outbox_backoff(&d, 5, 0.1) != outbox_backoff(&d, 5, 0.9));

	hmap *m = hmap_new();
	CHECK(m != NULL);
	char k[32];
	static int vals[5000];
	int put_ok = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		vals[i] = i;
		put_ok &= hmap_put(m, k, &vals[i]) == 0;
	}
	CHECK(put_ok);
	CHECK(hmap_size(m) == 5000);
	int ok = 1;
	for (int i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "key-%d", i);
		ok &= hmap_del(m, k) == &vals[i];
	}
	CHECK(ok);
	CHECK(hmap_size(m) == 2500);
	ok = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		int *v = hmap_get(m, k);
		ok &= (i % 2) ? (v == &vals[i]) : (v == NULL);
	}
	CHECK(ok); /* deletions never lose a neighbour in the probe run */
	CHECK(hmap_get(m, "absent") == NULL);
	hmap_free(m);
	return check_summary("test_outbox");
}
