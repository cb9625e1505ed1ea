/* Open addressing with linear probing and backward-shift deletion, so there
 * are no tombstones and lookups stay short under churn. */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	char *key; /* NULL = empty */
	uint64_t hash;
	void *value;
} slot;

struct hmap {
	slot *slots;
	size_t cap; /* power of two */
	size_t len;
};

uint64_t hmap_hashn(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64: offset basis, then prime */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t hmap_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64: offset basis, then prime */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

hmap *hmap_new(void)
{
	hmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(slot));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void hmap_free(hmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static size_t find(const hmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return i;
	}
}

static int grow(hmap *m)
{
	size_t ncap = m->cap * 2;
	slot *ns = calloc(ncap, sizeof(slot));
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		slot *s = &m->slots[i];
		if (!s->key)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

void *hmap_get_hashed(const hmap *m, const char *key, uint64_t hash)
{
	const slot *s = &m->slots[find(m, key, hash)];
	return s->key ? s->value : NULL;
}

void *hmap_get(const hmap *m, const char *key)
{
	return hmap_get_hashed(m, key, hmap_hash(key));
}

int hmap_put(hmap *m, const char *key, void *value)
{
	if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	uint64_t h = hmap_hash(key);
	slot *s = &m->slots[find(m, key, h)];
	if (s->key) {
		s->value = value;
		return 0;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	s->key = k;
	s->hash = h;
	s->value = value;
	m->len++;
	return 0;
}

void *hmap_del(hmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	size_t i = find(m, key, hmap_hash(key));
	if (!m->slots[i].key)
		return NULL;
	void *v = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->len--;
	/* Backward shift: pull later members of the probe run into the hole. */
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		/* j's entry may move to i only if i lies cyclically in [home, j). */
		int movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return v;
}

size_t hmap_size(const hmap *m)
{
	return m->len;
}

void hmap_each(const hmap *m, void (*fn)(const char *key, void *value, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			fn(m->slots[i].key, m->slots[i].value, ctx);
}
