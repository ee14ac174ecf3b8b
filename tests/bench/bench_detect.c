/*
 * Cost of the streaming anomaly detector (aggregator/detect/detector.c), as
 * `BENCH <name> <value> <unit>` lines. The load is what the aggregator
 * feeds it: 10,000 series (1000 services x latency p99, error rate, request
 * rate, ... ) of 1,000 points each at 1 Hz, with realistic values
 * (lognormal latency near 5 ms, request rates near 200/s, sparse TCP
 * resets), updated round-robin (one point per series per second), as the
 * aggregator does. The values are generated before timing.
 *
 *   detect_ns_per_point      detector_update() per point, median of 5 runs (target <= 1000)
 *   detect_bytes_per_series  detector_size() with the default parameters
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aggregator/detect/detector.h"
#include "common/timeutil.h"
#include "tests/lib/rng.h"

#define BENCH_SERIES 10000
#define BENCH_POINTS 1000
#define BENCH_RUNS   5
#define BENCH_KINDS  4 /* latency, error fraction, request rate, sparse counts */
#define T0	     1700000000.0

/* Keeps results observable so the optimizer cannot drop the work. */
static volatile double sink;

/* One point of series @i at second @t: its kind is i % BENCH_KINDS. */
static float value(unsigned i, unsigned t, uint64_t *seed)
{
	switch (i % BENCH_KINDS) {
	case 0: /* p99 latency, ms, with a jump now and then */
		return (float)(5 * exp(0.3 * rng_normal(seed)) * (t % 500 > 490 ? 20 : 1));
	case 1: /* error rate, a fraction */
		return (float)(rng_unit(seed) < 0.9 ? 0 : 0.01 * rng_unit(seed));
	case 2: /* request rate, per second */
		return (float)(200 + 15 * rng_normal(seed));
	default: /* TCP resets per second: mostly 0 */
		return (float)(rng_unit(seed) < 0.97 ? 0 : 1 + (rng_next(seed) % 3));
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct detector **d = calloc(BENCH_SERIES, sizeof(*d));
	float *v = malloc(sizeof(float) * BENCH_SERIES * BENCH_POINTS);
	double ns[BENCH_RUNS];
	uint64_t seed = 1;

	if (!d || !v)
		return 1;
	for (unsigned t = 0; t < BENCH_POINTS; t++)
		for (unsigned i = 0; i < BENCH_SERIES; i++)
			v[(size_t)t * BENCH_SERIES + i] = value(i, t, &seed);

	for (int run = 0; run < BENCH_RUNS; run++) {
		struct detector_result r;
		double acc = 0;
		uint64_t start;

		for (unsigned i = 0; i < BENCH_SERIES; i++)
			d[i] = detector_new(NULL);
		start = time_mono_ns();
		for (unsigned t = 0; t < BENCH_POINTS; t++) {
			const float *row = v + (size_t)t * BENCH_SERIES;

			for (unsigned i = 0; i < BENCH_SERIES; i++) {
				detector_update(d[i], T0 + t, row[i], &r);
				acc += r.score;
			}
		}
		ns[run] = (double)(time_mono_ns() - start) / ((double)BENCH_SERIES * BENCH_POINTS);
		sink += acc;
		for (unsigned i = 0; i < BENCH_SERIES; i++)
			detector_free(d[i]);
	}
	qsort(ns, BENCH_RUNS, sizeof(ns[0]), cmp_double);
	printf("BENCH detect_ns_per_point %.1f ns\n", ns[BENCH_RUNS / 2]);
	printf("BENCH detect_bytes_per_series %zu bytes\n", detector_size(NULL));
	free(d);
	free(v);
	return 0;
}
