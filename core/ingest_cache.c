/*
 * The alert cache (ingest_cache.h): a direct-mapped table keyed by a hash of
 * the text, each slot holding a copy of the text so a hit is an exact match,
 * never a guess. A new text takes its slot from whatever held it.
 *
 * A text is kept the second time it is put, not the first. What a busy
 * Alertmanager sends is mostly alerts that come back (a group is re-sent
 * whole), plus a few that are new and, once answered, gone: kept on first
 * sight, each of those would push out one that comes back, and be freed
 * later, walking memory gone cold. The texts seen once are remembered by
 * hash alone, in a table as wide as the slots', eight bytes each, in pairs.
 */
#include "ingest_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longer alerts are parsed each time: rare, and not worth keeping. */
#define INGEST_CACHE_MAX_TEXT 4096
/* At most this much text kept (and the alerts built from it, a few times
 * as much): whoever may post alerts cannot make a worker hold more. */
#define INGEST_CACHE_MAX_BYTES ((size_t)1 << 20)

typedef struct slot {
	uint64_t hash;
	char *raw; /* owned; NULL when empty */
	size_t len;
	json_t *alert; /* one reference */
	alert_head head;
} slot;

struct ingest_cache {
	slot *v;
	uint64_t *seen; /* hashes of texts put once and not kept; 0 = none */
	size_t mask;
	alert_limits lim;
	int have_lim;
	size_t bytes; /* text held, all slots */
};

ingest_cache *ingest_cache_new(size_t slots)
{
	size_t n = 16;
	while (n < slots)
		n <<= 1;
	ingest_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->v = calloc(n, sizeof(*c->v));
	c->seen = calloc(n, sizeof(*c->seen));
	if (!c->v || !c->seen) {
		free(c->v);
		free(c->seen);
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

/* Eight bytes a step (a slot is checked byte for byte anyway, so the hash
 * only has to spread texts well, not resist anyone). */
static uint64_t text_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static void slot_clear(ingest_cache *c, slot *s)
{
	c->bytes -= s->raw ? s->len : 0;
	free(s->raw);
	json_decref(s->alert);
	memset(s, 0, sizeof(*s));
}

void ingest_cache_free(ingest_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		slot_clear(c, &c->v[i]);
	free(c->v);
	free(c->seen);
	free(c);
}

static int same_limits(const alert_limits *a, const alert_limits *b)
{
	return a->max_alerts == b->max_alerts && a->max_labels == b->max_labels && a->max_name_len == b->max_name_len &&
	       a->max_value_len == b->max_value_len && a->max_depth == b->max_depth;
}

/* Adopt lim, forgetting everything parsed under others. */
static void use_limits(ingest_cache *c, const alert_limits *lim)
{
	if (c->have_lim && same_limits(&c->lim, lim))
		return;
	for (size_t i = 0; i <= c->mask; i++)
		slot_clear(c, &c->v[i]);
	memset(c->seen, 0, (c->mask + 1) * sizeof(*c->seen));
	c->lim = *lim;
	c->have_lim = 1;
}

json_t *ingest_cache_get(ingest_cache *c, const alert_limits *lim, const char *raw, size_t len, const alert_head **head)
{
	if (!c || len > INGEST_CACHE_MAX_TEXT)
		return NULL;
	use_limits(c, lim);
	uint64_t h = text_hash(raw, len);
	slot *s = &c->v[h & c->mask];
	if (s->raw && s->hash == h && s->len == len && memcmp(s->raw, raw, len) == 0) {
		*head = &s->head;
		return s->alert;
	}
	return NULL;
}

size_t ingest_cache_bytes(const ingest_cache *c)
{
	return c ? c->bytes : 0;
}

void ingest_cache_put(ingest_cache *c, const alert_limits *lim, const char *raw, size_t len, json_t *alert,
                      const alert_head *head)
{
	if (!c || !alert || len > INGEST_CACHE_MAX_TEXT)
		return;
	use_limits(c, lim);
	uint64_t h = text_hash(raw, len);
	/* First sight: remembered by hash only, in a pair of entries chosen by
	 * other bits than the slot's (texts that share a slot do not share a
	 * pair too). Two texts of one pair that keep coming back in turn each
	 * keep an entry; with one entry, each would wipe out the other's note
	 * and neither would ever be kept. */
	uint64_t tag = h | 1, *pair = &c->seen[(h >> 32) & c->mask & ~(size_t)1];
	int at = pair[0] == tag ? 0 : pair[1] == tag ? 1 : -1;
	if (at < 0) {
		/* An empty entry, else the one the hash picks. */
		pair[!pair[0] ? 0 : !pair[1] ? 1 : (int)((h >> 20) & 1)] = tag;
		return;
	}
	pair[at] = 0;
	slot *s = &c->v[h & c->mask];
	/* Full: make room by dropping the next alerts along the table, which
	 * the hash has put there in no particular order. */
	size_t i = (size_t)h & c->mask;
	for (size_t step = 1; step <= c->mask && c->bytes - (s->raw ? s->len : 0) + len > INGEST_CACHE_MAX_BYTES;
	     step++)
		if (c->v[(i + step) & c->mask].raw)
			slot_clear(c, &c->v[(i + step) & c->mask]);
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, raw, len);
	slot_clear(c, s);
	*s = (slot){.hash = h, .raw = copy, .len = len, .alert = json_incref(alert), .head = *head};
	c->bytes += len;
}
