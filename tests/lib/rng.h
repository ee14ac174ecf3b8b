/*
 * A seeded PRNG for tests and benchmarks (splitmix64), so that every run
 * sees the same data. Header-only: benchmarks link no tests/lib objects.
 */
#ifndef PRP_TESTS_LIB_RNG_H
#define PRP_TESTS_LIB_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static inline double rng_unit(uint64_t *s)
{
	return (double)((rng_next(s) >> 11) + 1) / 9007199254740992.0;
}

/* A standard normal draw (Box-Muller). */
static inline double rng_normal(uint64_t *s)
{
	return sqrt(-2.0 * log(rng_unit(s))) * cos(2.0 * M_PI * rng_unit(s));
}

#endif
