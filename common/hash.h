/*
 * FNV-1a, for the small open hash tables keyed by strings (agents by
 * tenant and id, keys by tenant and id): short keys, no adversary able to
 * grow a chain past the table's fixed size.
 */
#ifndef PRP_COMMON_HASH_H
#define PRP_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 1469598103934665603ull
#define HASH_FNV_PRIME 1099511628211ull

static inline uint64_t hash_fnv1a_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * HASH_FNV_PRIME;
	return h;
}

/* Continues @h over the @n bytes at @p (binary keys: addresses, ids). */
static inline uint64_t hash_fnv1a_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * HASH_FNV_PRIME;
	return h;
}

/* The hash of "@a/@b". */
static inline uint64_t hash_fnv1a_pair(const char *a, const char *b)
{
	uint64_t h = hash_fnv1a_str(HASH_FNV_OFFSET, a);

	return hash_fnv1a_str((h ^ '/') * HASH_FNV_PRIME, b);
}

#endif
