/* A string-keyed hash map (open addressing, linear probing). Keys are
 * copied; values are borrowed pointers the caller manages. Not thread-safe:
 * the core thread is its only user. */
#ifndef CRIER_HMAP_H
#define CRIER_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmap hmap;

/* FNV-1a 64 of a string: the map's own hash, for anyone else who needs one (pure, any thread). */
uint64_t hmap_hash(const char *s);
/* The same of n bytes, NULs included. */
uint64_t hmap_hashn(const char *s, size_t n);

hmap *hmap_new(void);
/* Frees the map and its keys, not the values. */
void hmap_free(hmap *m);
void *hmap_get(const hmap *m, const char *key);
/* The same, for a caller that has hmap_hash(key) already (hash must be that). */
void *hmap_get_hashed(const hmap *m, const char *key, uint64_t hash);
/* Insert or replace. Returns 0, or -1 on OOM (map unchanged). */
int hmap_put(hmap *m, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void *hmap_del(hmap *m, const char *key);
size_t hmap_size(const hmap *m);
/* Visit every entry; fn may not modify the map. */
void hmap_each(const hmap *m, void (*fn)(const char *key, void *value, void *ctx), void *ctx);

#endif
