/*
 * Cost of hist_record() and hist_quantile(), each the median of 5 runs, as
 * `BENCH <name> <value> <unit>` lines. The values are lognormal latencies
 * (median 100 us, reaching from ns to seconds) drawn before timing, so the
 * loop measures the histogram and not the random number generator.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/hist.h"
#include "common/timeutil.h"
#include "tests/lib/rng.h"

#define BENCH_RUNS	   5
#define BENCH_VALUES	   (1u << 20) /* 8 MiB of values: more than L2, as real traffic */
#define BENCH_RECORD_OPS   (16u * BENCH_VALUES)
#define BENCH_QUANTILE_OPS 200000u

/* Keeps results observable so the optimizer cannot drop the work. */
static volatile uint64_t sink;

static uint64_t *make_values(void)
{
	uint64_t *v = xcalloc(BENCH_VALUES, sizeof(*v)), seed = 1;

	for (size_t i = 0; i < BENCH_VALUES; i++) {
		double n = sqrt(-2.0 * log(rng_unit(&seed))) * cos(2.0 * M_PI * rng_unit(&seed));
		double x = exp(log(1e5) + 2.0 * n);

		v[i] = x > 1e12 ? 1000000000000ULL : (uint64_t)x;
	}
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *x, size_t n)
{
	qsort(x, n, sizeof(*x), cmp_double);
	return x[n / 2];
}

static double bench_record(const uint64_t *v)
{
	double ns_per_op[BENCH_RUNS];
	struct hist h;

	hist_init(&h);
	for (int run = 0; run < BENCH_RUNS; run++) {
		uint64_t start;

		hist_reset(&h); /* keeps the chunks: the steady state of a window */
		for (size_t i = 0; i < BENCH_VALUES; i++)
			hist_record(&h, v[i]);
		start = time_mono_ns();
		for (size_t i = 0; i < BENCH_RECORD_OPS; i++)
			hist_record(&h, v[i & (BENCH_VALUES - 1)]);
		ns_per_op[run] = (double)(time_mono_ns() - start) / BENCH_RECORD_OPS;
		sink += hist_count(&h);
	}
	hist_release(&h);
	return median(ns_per_op, BENCH_RUNS);
}

static double bench_quantile(const uint64_t *v, double q)
{
	double ns_per_op[BENCH_RUNS];
	struct hist h;

	hist_init(&h);
	for (size_t i = 0; i < BENCH_VALUES; i++)
		hist_record(&h, v[i]);
	for (int run = 0; run < BENCH_RUNS; run++) {
		uint64_t start = time_mono_ns(), acc = 0;

		for (size_t i = 0; i < BENCH_QUANTILE_OPS; i++)
			acc += hist_quantile(&h, q);
		ns_per_op[run] = (double)(time_mono_ns() - start) / BENCH_QUANTILE_OPS;
		sink += acc;
	}
	hist_release(&h);
	return median(ns_per_op, BENCH_RUNS);
}

int main(void)
{
	uint64_t *v = make_values();

	printf("BENCH hist_record %.1f ns/op\n", bench_record(v));
	printf("BENCH hist_quantile_p50 %.1f ns/op\n", bench_quantile(v, 0.5));
	printf("BENCH hist_quantile_p99 %.1f ns/op\n", bench_quantile(v, 0.99));
	free(v);
	return 0;
}
