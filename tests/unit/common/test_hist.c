#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/hist.h"
#include "common/buf.h"
#include "common/hist.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/rng.h"

TestSuite(hist, .fini = test_no_leaks);

/* ---- helpers ------------------------------------------------------------ */

static uint64_t clamp_ns(double x)
{
	if (x < 0)
		return 0;
	if (x > 1e15)
		return 1000000000000000ULL;
	return (uint64_t)x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact nearest-rank quantile of sorted @v: the ceil(q * n)-th smallest. */
static uint64_t exact_quantile(const uint64_t *v, size_t n, double q)
{
	double r = ceil(q * (double)n);

	if (r < 1)
		r = 1;
	if (r > (double)n)
		r = (double)n;
	return v[(size_t)r - 1];
}

static uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/*
 * Records @v, then checks count, min, max and sum exactly and the quantiles
 * against the exact nearest-rank ones: within 1/256 (so within 1%), and
 * exact at q = 0 and q = 1. Sorts @v.
 */
static void check_quantiles(const char *what, uint64_t *v, size_t n)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 0.25, 0.75, 0.1, 0.001 };
	struct hist h;
	uint64_t sum = 0;

	hist_init(&h);
	for (size_t i = 0; i < n; i++) {
		hist_record(&h, v[i]);
		sum = sat_add_u64(sum, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	cr_assert_eq(hist_count(&h), n, "%s: count", what);
	cr_assert_eq(hist_min(&h), v[0], "%s: min", what);
	cr_assert_eq(hist_max(&h), v[n - 1], "%s: max", what);
	cr_assert_eq(hist_sum(&h), sum, "%s: sum", what);
	cr_assert_eq(hist_quantile(&h, 0.0), v[0], "%s: q=0 is the exact min", what);
	cr_assert_eq(hist_quantile(&h, 1.0), v[n - 1], "%s: q=1 is the exact max", what);
	for (size_t i = 0; i < PRP_ARRAY_SIZE(qs); i++) {
		uint64_t exact = exact_quantile(v, n, qs[i]);
		uint64_t got = hist_quantile(&h, qs[i]);
		uint64_t diff = got > exact ? got - exact : exact - got;

		cr_assert_leq(diff, exact / 256, "%s: q=%g exact %llu got %llu", what, qs[i],
			      (unsigned long long)exact, (unsigned long long)got);
		/* the stated bound, spelt out as a relative error */
		cr_assert(exact == 0 ? diff == 0 : (double)diff / (double)exact <= 0.01);
	}
	hist_release(&h);
}

static struct hist *record_all(struct hist *h, const uint64_t *v, size_t n)
{
	hist_init(h);
	for (size_t i = 0; i < n; i++)
		hist_record(h, v[i]);
	return h;
}

static size_t serialize(const struct hist *h, unsigned char *out, size_t cap)
{
	struct buf b;
	size_t len;

	buf_init(&b, HIST_WIRE_MAX_BYTES);
	cr_assert_eq(hist_serialize(h, &b), 0);
	cr_assert_leq(b.len, cap);
	memcpy(out, b.data, b.len);
	len = b.len;
	buf_release(&b);
	return len;
}

/* A histogram of 2000 lognormal latencies and a few extremes. */
static void make_sample(struct hist *h, uint64_t seed)
{
	hist_init(h);
	for (int i = 0; i < 2000; i++)
		hist_record(h, clamp_ns(exp(log(1e5) + 2.0 * rng_normal(&seed))));
	hist_record(h, 0);
	hist_record(h, UINT64_MAX);
	hist_record_n(h, 127, 5);
}

/* ---- bucket math (bpf/hist.h) --------------------------------------------- */

Test(hist, msb_is_the_highest_set_bit)
{
	cr_assert_eq(hist_msb64(0), 0);
	for (uint32_t b = 0; b < 64; b++) {
		uint64_t v = 1ULL << b;

		cr_assert_eq(hist_msb64(v), b, "1 << %u", b);
		cr_assert_eq(hist_msb64(v | (v - 1)), b, "all ones below %u", b);
		if (b > 0)
			cr_assert_eq(hist_msb64(v | 1), b);
	}
	cr_assert_eq(hist_msb64(UINT64_MAX), 63);
}

Test(hist, bucket_index_of_known_values)
{
	cr_assert_eq(HIST_BUCKETS, 7424);
	cr_assert_eq(hist_bucket_index(0), 0);
	cr_assert_eq(hist_bucket_index(1), 1);
	cr_assert_eq(hist_bucket_index(127), 127);
	cr_assert_eq(hist_bucket_index(128), 128);
	cr_assert_eq(hist_bucket_index(255), 255);
	cr_assert_eq(hist_bucket_index(256), 256);
	cr_assert_eq(hist_bucket_index(257), 256, "width 2 from 256");
	cr_assert_eq(hist_bucket_index(258), 257);
	cr_assert_eq(hist_bucket_index(300), 278);
	cr_assert_eq(hist_bucket_index(511), 383);
	cr_assert_eq(hist_bucket_index(512), 384);
	cr_assert_eq(hist_bucket_index(UINT64_MAX), HIST_BUCKETS - 1);
	cr_assert_eq(hist_bucket_index(1ULL << 63), HIST_BUCKETS - HIST_SUB_BUCKETS);
}

Test(hist, bucket_bounds_tile_the_whole_range)
{
	cr_assert_eq(hist_bucket_lower(0), 0);
	cr_assert_eq(hist_bucket_upper(HIST_BUCKETS - 1), UINT64_MAX);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_lower(i), hi = hist_bucket_upper(i);
		uint64_t width = hi - lo + 1;

		cr_assert_leq(lo, hi, "bucket %u", i);
		cr_assert_eq(hist_bucket_index(lo), i, "lower of %u", i);
		cr_assert_eq(hist_bucket_index(hi), i, "upper of %u", i);
		cr_assert_eq(width & (width - 1), 0, "width of %u is a power of two", i);
		/* width / value <= 1/128 wherever a bucket holds more than one value */
		if (width > 1)
			cr_assert_geq(lo / width, 128, "bucket %u: width %llu at %llu", i,
				      (unsigned long long)width, (unsigned long long)lo);
		if (i + 1 < HIST_BUCKETS)
			cr_assert_eq(hist_bucket_lower(i + 1), hi + 1, "no gap after %u", i);
	}
	/* out of range counts as the last bucket rather than shifting by >= 64 */
	cr_assert_eq(hist_bucket_lower(HIST_BUCKETS), hist_bucket_lower(HIST_BUCKETS - 1));
	cr_assert_eq(hist_bucket_upper(UINT32_MAX), UINT64_MAX);
}

Test(hist, bucket_index_is_monotonic_and_within_bounds)
{
	uint64_t seed = 1;
	uint32_t prev_i = 0;

	/* every value up to 2^17, then around each power of two */
	for (uint64_t v = 0; v < (1 << 17); v++) {
		uint32_t i = hist_bucket_index(v);

		cr_assert_geq(i, prev_i, "index falls at %llu", (unsigned long long)v);
		cr_assert(hist_bucket_lower(i) <= v && v <= hist_bucket_upper(i));
		prev_i = i;
	}
	for (uint32_t b = 1; b < 64; b++) {
		uint64_t p = 1ULL << b;
		const uint64_t around[] = { p - 2, p - 1, p, p + 1, p + 2 };

		for (size_t k = 0; k < PRP_ARRAY_SIZE(around); k++) {
			uint32_t i = hist_bucket_index(around[k]);

			cr_assert(hist_bucket_lower(i) <= around[k] &&
				  around[k] <= hist_bucket_upper(i));
			cr_assert_lt(i, HIST_BUCKETS);
		}
		cr_assert_lt(hist_bucket_index(p - 1), hist_bucket_index(p));
	}
	/* random values at every magnitude, checked in sorted pairs */
	for (int k = 0; k < 200000; k++) {
		uint64_t v = rng_next(&seed) >> (rng_next(&seed) % 64);
		uint64_t w = rng_next(&seed) >> (rng_next(&seed) % 64);
		uint32_t i = hist_bucket_index(v);

		cr_assert(hist_bucket_lower(i) <= v && v <= hist_bucket_upper(i), "%llu",
			  (unsigned long long)v);
		if (v <= w)
			cr_assert_leq(i, hist_bucket_index(w));
		else
			cr_assert_geq(i, hist_bucket_index(w));
	}
}

/* ---- quantiles -------------------------------------------------------------- */

Test(hist, quantiles_of_uniform_data_within_one_percent)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 42;

	for (size_t i = 0; i < N; i++)
		v[i] = rng_next(&seed) % 1000000000ULL;
	check_quantiles("uniform", v, N);
	free(v);
}

Test(hist, quantiles_of_exponential_latencies_within_one_percent)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 7;

	for (size_t i = 0; i < N; i++)
		v[i] = clamp_ns(-log(rng_unit(&seed)) * 1e6); /* mean 1 ms */
	check_quantiles("exponential", v, N);
	free(v);
}

Test(hist, quantiles_of_lognormal_from_ns_to_seconds_within_one_percent)
{
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 2024;

	/* median 100 us, sigma 3: the tails reach single ns and tens of seconds */
	for (size_t i = 0; i < N; i++)
		v[i] = clamp_ns(exp(log(1e5) + 3.0 * rng_normal(&seed)));
	check_quantiles("lognormal", v, N);
	free(v);
}

Test(hist, quantiles_of_pareto_heavy_tail_within_one_percent)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 99;

	for (size_t i = 0; i < N; i++)
		v[i] = clamp_ns(1000.0 / pow(rng_unit(&seed), 1.0 / 1.1));
	check_quantiles("pareto", v, N);
	free(v);
}

Test(hist, quantiles_of_values_at_every_magnitude_within_one_percent)
{
	enum { N = 50000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 5;

	for (size_t i = 0; i < N; i++)
		v[i] = rng_next(&seed) >> (rng_next(&seed) % 64);
	check_quantiles("all magnitudes", v, N); /* sum saturates here */
	free(v);
}

Test(hist, quantiles_of_one_and_two_values_are_exact)
{
	const uint64_t singles[] = { 0, 1, 127, 128, 1000, 123456789, UINT64_MAX };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(singles); i++) {
		uint64_t v[1] = { singles[i] };
		struct hist h;

		check_quantiles("one value", v, 1);
		record_all(&h, v, 1);
		cr_assert_eq(hist_quantile(&h, 0.5), singles[i],
			     "a single value is every quantile");
		cr_assert_eq(hist_quantile(&h, 0.99), singles[i]);
		hist_release(&h);
	}
	for (size_t i = 0; i < PRP_ARRAY_SIZE(singles); i++) {
		for (size_t j = 0; j < PRP_ARRAY_SIZE(singles); j++) {
			uint64_t v[2] = { singles[i], singles[j] };
			uint64_t lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] ^ v[1] ^ lo;
			struct hist h;

			record_all(&h, v, 2);
			/* rank 1 of 2 up to q = 0.5, rank 2 above: both known exactly */
			cr_assert_eq(hist_quantile(&h, 0.5), lo);
			cr_assert_eq(hist_quantile(&h, 0.9), hi);
			cr_assert_eq(hist_quantile(&h, 0.99), hi);
			hist_release(&h);
			check_quantiles("two values", v, 2);
		}
	}
}

Test(hist, quantiles_of_duplicates_are_exact)
{
	enum { N = 10000 };
	uint64_t *v = malloc(N * sizeof(*v)), seed = 3;
	const uint64_t few[] = { 1500, 1500000, 150000000 };

	for (size_t i = 0; i < N; i++)
		v[i] = 987654321;
	check_quantiles("all equal", v, N);
	for (size_t i = 0; i < N; i++)
		v[i] = few[rng_next(&seed) % 3];
	check_quantiles("three distinct", v, N);
	free(v);
}

Test(hist, quantile_clamps_q)
{
	const uint64_t v[] = { 10, 20, 30000, 40000000 };
	struct hist h;

	record_all(&h, v, 4);
	cr_assert_eq(hist_quantile(&h, -1.0), 10);
	cr_assert_eq(hist_quantile(&h, NAN), 10);
	cr_assert_eq(hist_quantile(&h, -INFINITY), 10);
	cr_assert_eq(hist_quantile(&h, 2.0), 40000000);
	cr_assert_eq(hist_quantile(&h, INFINITY), 40000000);
	cr_assert_eq(hist_quantile(&h, 0.5), 20);
	hist_release(&h);
}

Test(hist, mean_is_sum_over_count)
{
	const uint64_t v[] = { 1, 2, 3, 1000000 };
	struct hist h;

	record_all(&h, v, 4);
	cr_assert_float_eq(hist_mean(&h), 1000006.0 / 4, 1e-9);
	hist_release(&h);
}

/* ---- record, reset, empty ------------------------------------------------- */

Test(hist, empty_histogram_reports_zeros)
{
	struct hist h;

	hist_init(&h);
	cr_assert_eq(hist_count(&h), 0);
	cr_assert_eq(hist_min(&h), 0);
	cr_assert_eq(hist_max(&h), 0);
	cr_assert_eq(hist_sum(&h), 0);
	cr_assert_eq(hist_mean(&h), 0.0);
	cr_assert_eq(hist_quantile(&h, 0.0), 0);
	cr_assert_eq(hist_quantile(&h, 0.99), 0);
	cr_assert_eq(hist_quantile(&h, 1.0), 0);
	for (size_t g = 0; g < HIST_GROUPS; g++)
		cr_assert_null(h.chunks[g], "init allocates nothing");
	hist_release(&h);
	hist_release(&h); /* releasing an empty histogram is harmless */
}

Test(hist, record_n_equals_n_records)
{
	struct hist a, b;

	hist_init(&a);
	hist_init(&b);
	for (int i = 0; i < 37; i++)
		hist_record(&a, 123456);
	hist_record(&a, 5);
	hist_record_n(&b, 123456, 37);
	hist_record_n(&b, 5, 1);
	hist_record_n(&b, 999999999, 0); /* n = 0 changes nothing, not even max */
	cr_assert(hist_equal(&a, &b));
	cr_assert_eq(hist_max(&b), 123456);
	cr_assert_eq(hist_bucket_count(&b, hist_bucket_index(123456)), 37);
	hist_release(&a);
	hist_release(&b);
}

Test(hist, allocates_one_chunk_per_power_of_two_touched)
{
	struct hist h;
	size_t chunks = 0;

	hist_init(&h);
	for (uint64_t v = 10000; v < 100000000; v += 9973) /* 10 us .. 100 ms */
		hist_record(&h, v);
	for (size_t g = 0; g < HIST_GROUPS; g++)
		chunks += h.chunks[g] != NULL;
	cr_assert_eq(chunks, 14, "2^13 .. 2^27: %zu chunks", chunks);
	hist_release(&h);
}

Test(hist, reset_empties_and_keeps_storage)
{
	struct hist h, fresh;
	uint64_t *kept;

	make_sample(&h, 11);
	kept = h.chunks[hist_bucket_index(100000) >> HIST_SUB_BITS];
	cr_assert_not_null(kept);
	hist_reset(&h);
	cr_assert_eq(hist_count(&h), 0);
	cr_assert_eq(hist_min(&h), 0);
	cr_assert_eq(hist_max(&h), 0);
	cr_assert_eq(hist_sum(&h), 0);
	cr_assert_eq(hist_quantile(&h, 0.5), 0);
	cr_assert_eq(h.chunks[hist_bucket_index(100000) >> HIST_SUB_BITS], kept);
	hist_init(&fresh);
	cr_assert(hist_equal(&h, &fresh), "a reset histogram equals an empty one");
	hist_record(&h, 777);
	hist_record(&fresh, 777);
	cr_assert(hist_equal(&h, &fresh));
	cr_assert_eq(hist_min(&h), 777);
	hist_release(&h);
	hist_release(&fresh);
}

Test(hist, sum_saturates_and_min_max_stay_exact)
{
	struct hist h;

	hist_init(&h);
	hist_record(&h, UINT64_MAX - 1);
	hist_record(&h, 3);
	cr_assert_eq(hist_sum(&h), UINT64_MAX);
	cr_assert_eq(hist_min(&h), 3);
	cr_assert_eq(hist_max(&h), UINT64_MAX - 1);
	hist_record_n(&h, 1ULL << 40, 1ULL << 30);
	cr_assert_eq(hist_sum(&h), UINT64_MAX);
	cr_assert_eq(hist_count(&h), 2 + (1ULL << 30));
	hist_release(&h);
}

Test(hist, count_saturates_and_still_round_trips)
{
	unsigned char wire[256];
	struct hist h, back;
	size_t len;

	hist_init(&h);
	hist_init(&back);
	hist_record_n(&h, 1000, UINT64_MAX);
	hist_record_n(&h, 1000, 5);
	hist_record_n(&h, 7, UINT64_MAX - 1);
	cr_assert_eq(hist_count(&h), UINT64_MAX);
	cr_assert_eq(hist_bucket_count(&h, hist_bucket_index(1000)), UINT64_MAX);
	cr_assert_eq(hist_quantile(&h, 0.5), 7);
	len = serialize(&h, wire, sizeof(wire));
	cr_assert_eq(hist_deserialize(&back, wire, len, NULL), 0);
	cr_assert(hist_equal(&h, &back));
	hist_release(&h);
	hist_release(&back);
}

/* ---- add_bucket and merge ----------------------------------------------- */

Test(hist, add_bucket_counts_values_at_the_bucket_midpoint)
{
	struct hist h;
	uint32_t idx = hist_bucket_index(1000000); /* width 2^12 */
	uint64_t lo = hist_bucket_lower(idx), hi = hist_bucket_upper(idx);
	uint64_t mid = lo + (hi - lo) / 2;

	hist_init(&h);
	cr_assert_eq(hist_add_bucket(&h, idx, 10), 0);
	cr_assert_eq(hist_add_bucket(&h, 3, 2), 0);
	cr_assert_eq(hist_add_bucket(&h, 3, 0), 0);
	cr_assert_eq(hist_count(&h), 12);
	cr_assert_eq(hist_bucket_count(&h, idx), 10);
	cr_assert_eq(hist_bucket_count(&h, 3), 2);
	cr_assert_eq(hist_min(&h), 3);
	cr_assert_eq(hist_max(&h), mid);
	cr_assert_eq(hist_sum(&h), 10 * mid + 6);
	cr_assert_eq(hist_quantile(&h, 0.5), mid);
	cr_assert_eq(hist_quantile(&h, 0.1), 3);
	hist_release(&h);
}

Test(hist, add_bucket_rejects_an_index_past_the_end)
{
	struct hist h, empty;

	hist_init(&h);
	hist_init(&empty);
	cr_assert_eq(hist_add_bucket(&h, HIST_BUCKETS, 1), -EINVAL);
	cr_assert_eq(hist_add_bucket(&h, UINT32_MAX, 1), -EINVAL);
	cr_assert(hist_equal(&h, &empty));
	cr_assert_eq(hist_add_bucket(&h, HIST_BUCKETS - 1, 1), 0);
	cr_assert_eq(hist_bucket_count(&h, HIST_BUCKETS - 1), 1);
	cr_assert_eq(hist_bucket_count(&h, HIST_BUCKETS), 0);
	hist_release(&h);
	hist_release(&empty);
}

Test(hist, add_bucket_loads_what_a_bpf_map_would_hold)
{
	/* what user space does with a BPF array of HIST_BUCKETS counts */
	static uint64_t map[HIST_BUCKETS];
	uint64_t seed = 17, *v = malloc(20000 * sizeof(*v));
	struct hist h;

	memset(map, 0, sizeof(map));
	for (size_t i = 0; i < 20000; i++) {
		v[i] = clamp_ns(exp(log(2e6) + 1.5 * rng_normal(&seed)));
		map[hist_bucket_index(v[i])]++;
	}
	hist_init(&h);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		cr_assert_eq(hist_add_bucket(&h, i, map[i]), 0);
	qsort(v, 20000, sizeof(*v), cmp_u64);
	cr_assert_eq(hist_count(&h), 20000);
	for (double q = 0.5; q < 1.0; q = 1.0 - (1.0 - q) / 10) {
		uint64_t exact = exact_quantile(v, 20000, q), got = hist_quantile(&h, q);
		uint64_t diff = got > exact ? got - exact : exact - got;

		cr_assert_leq(diff, exact / 256, "q=%g exact %llu got %llu", q,
			      (unsigned long long)exact, (unsigned long long)got);
	}
	hist_release(&h);
	free(v);
}

Test(hist, merge_equals_recording_everything_into_one)
{
	struct hist all, part[3], merged;
	uint64_t seed = 123;

	hist_init(&all);
	for (int k = 0; k < 3; k++)
		hist_init(&part[k]);
	for (int i = 0; i < 30000; i++) {
		uint64_t v = clamp_ns(exp(log(1e4) + 2.5 * rng_normal(&seed)));

		hist_record(&all, v);
		hist_record(&part[rng_next(&seed) % 3], v);
	}
	hist_record(&part[1], UINT64_MAX);
	hist_record(&all, UINT64_MAX);
	hist_init(&merged);
	for (int k = 0; k < 3; k++)
		hist_merge(&merged, &part[k]);
	cr_assert(hist_equal(&merged, &all));
	cr_assert_eq(hist_quantile(&merged, 0.99), hist_quantile(&all, 0.99));
	cr_assert_eq(hist_min(&merged), hist_min(&all));
	cr_assert_eq(hist_max(&merged), UINT64_MAX);
	/* merging in the other order, into a non-empty one, gives the same */
	hist_merge(&part[2], &part[0]);
	hist_merge(&part[2], &part[1]);
	cr_assert(hist_equal(&part[2], &all));
	hist_release(&all);
	hist_release(&merged);
	for (int k = 0; k < 3; k++)
		hist_release(&part[k]);
}

Test(hist, merge_with_empty_and_with_itself)
{
	struct hist h, empty, twice;

	make_sample(&h, 5);
	hist_init(&empty);
	hist_init(&twice);
	hist_merge(&twice, &h);
	hist_merge(&twice, &h);
	hist_merge(&h, &empty);
	hist_merge(&empty, &empty);
	cr_assert_eq(hist_count(&empty), 0);
	cr_assert_eq(hist_min(&empty), 0);
	hist_merge(&h, &h);
	cr_assert(hist_equal(&h, &twice), "merging a histogram into itself doubles it");
	hist_release(&h);
	hist_release(&empty);
	hist_release(&twice);
}

/* ---- serialized form ------------------------------------------------------ */

Test(hist, serializes_to_the_documented_bytes)
{
	static const unsigned char two[] = { 0x01, 0x02, 0x05, 0xac, 0x02, 0xb1, 0x02,
					     0x02, 0x05, 0x01, 0x91, 0x02, 0x01 };
	static const unsigned char none[] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 };
	const uint64_t v[] = { 5, 300 };
	unsigned char wire[64];
	struct hist h;

	record_all(&h, v, 2);
	cr_assert_eq(serialize(&h, wire, sizeof(wire)), sizeof(two));
	cr_assert_arr_eq(wire, two, sizeof(two));
	hist_reset(&h);
	cr_assert_eq(serialize(&h, wire, sizeof(wire)), sizeof(none));
	cr_assert_arr_eq(wire, none, sizeof(none));
	hist_release(&h);
}

Test(hist, round_trips_through_serialize)
{
	static unsigned char wire[HIST_WIRE_MAX_BYTES];
	struct hist h, back, empty;
	size_t len, used = 0;

	make_sample(&h, 77);
	hist_init(&back);
	len = serialize(&h, wire, sizeof(wire));
	cr_assert_eq(hist_deserialize(&back, wire, len, &used), 0);
	cr_assert_eq(used, len);
	cr_assert(hist_equal(&h, &back));
	cr_assert_eq(hist_quantile(&back, 0.999), hist_quantile(&h, 0.999));
	/* the target is replaced, not merged into */
	cr_assert_eq(hist_deserialize(&back, wire, len, &used), 0);
	cr_assert(hist_equal(&h, &back));
	/* and an empty one replaces a full one */
	hist_init(&empty);
	len = serialize(&empty, wire, sizeof(wire));
	cr_assert_eq(hist_deserialize(&back, wire, len, NULL), 0);
	cr_assert(hist_equal(&back, &empty));
	hist_release(&h);
	hist_release(&back);
}

Test(hist, round_trips_every_bucket_at_once)
{
	static unsigned char wire[HIST_WIRE_MAX_BYTES];
	struct hist h, back;
	size_t len;

	hist_init(&h);
	hist_init(&back);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		cr_assert_eq(hist_add_bucket(&h, i, 1), 0);
		hist_record(&h, hist_bucket_upper(i));
	}
	hist_record_n(&h, 1ULL << 62, UINT64_MAX / 2);
	len = serialize(&h, wire, sizeof(wire));
	cr_assert_leq(len, HIST_WIRE_MAX_BYTES);
	cr_assert_eq(hist_deserialize(&back, wire, len, NULL), 0);
	cr_assert(hist_equal(&h, &back));
	hist_release(&h);
	hist_release(&back);
}

Test(hist, deserialize_reports_consumed_and_leaves_what_follows)
{
	static unsigned char wire[2 * HIST_WIRE_MAX_BYTES];
	struct hist h, a, b;
	size_t la, lb, used;

	make_sample(&h, 1);
	la = serialize(&h, wire, sizeof(wire));
	hist_record(&h, 42);
	lb = serialize(&h, wire + la, sizeof(wire) - la);
	hist_init(&a);
	hist_init(&b);
	cr_assert_eq(hist_deserialize(&a, wire, la + lb, &used), 0);
	cr_assert_eq(used, la);
	cr_assert_eq(hist_deserialize(&b, wire + used, la + lb - used, &used), 0);
	cr_assert_eq(used, lb);
	cr_assert(hist_equal(&b, &h));
	cr_assert_eq(hist_count(&b), hist_count(&a) + 1);
	/* without @consumed, trailing bytes are an error */
	cr_assert_eq(hist_deserialize(&a, wire, la + 1, NULL), -EPROTO);
	hist_release(&h);
	hist_release(&a);
	hist_release(&b);
}

Test(hist, serialize_refuses_past_the_cap_and_leaves_the_buffer)
{
	struct hist h;
	struct buf b;
	size_t full;

	make_sample(&h, 9);
	buf_init(&b, HIST_WIRE_MAX_BYTES);
	cr_assert_eq(hist_serialize(&h, &b), 0);
	full = b.len;
	buf_release(&b);

	buf_init(&b, full - 1 + 3);
	cr_assert_eq(buf_append(&b, "abc", 3), 0);
	cr_assert_eq(hist_serialize(&h, &b), -E2BIG);
	cr_assert_eq(b.len, 3);
	cr_assert_str_eq(buf_str(&b), "abc");
	buf_release(&b);

	buf_init(&b, full + 3);
	cr_assert_eq(buf_append(&b, "abc", 3), 0);
	cr_assert_eq(hist_serialize(&h, &b), 0, "exactly at the cap fits");
	cr_assert_eq(b.len, full + 3);
	buf_release(&b);
	hist_release(&h);
}

Test(hist, deserialize_rejects_every_truncation)
{
	static unsigned char wire[HIST_WIRE_MAX_BYTES];
	struct hist h, target, before;
	size_t len, used;

	make_sample(&h, 31);
	len = serialize(&h, wire, sizeof(wire));
	hist_init(&target);
	hist_init(&before);
	hist_record(&target, 5);
	hist_record(&before, 5);
	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past the end */
		unsigned char *cut = malloc(n ? n : 1);

		memcpy(cut, wire, n);
		cr_assert_eq(hist_deserialize(&target, cut, n, &used), -EPROTO, "length %zu", n);
		cr_assert_eq(hist_deserialize(&target, cut, n, NULL), -EPROTO, "length %zu", n);
		free(cut);
	}
	cr_assert(hist_equal(&target, &before), "a failed parse leaves the target alone");
	hist_release(&h);
	hist_release(&target);
	hist_release(&before);
}

/* Expects -EPROTO for the @len bytes at @p, with or without @consumed. */
static void expect_rejected(const char *what, const unsigned char *p, size_t len)
{
	struct hist h;
	size_t used;

	hist_init(&h);
	cr_assert_eq(hist_deserialize(&h, p, len, &used), -EPROTO, "%s", what);
	cr_assert_eq(hist_deserialize(&h, p, len, NULL), -EPROTO, "%s", what);
	cr_assert_eq(hist_count(&h), 0);
	hist_release(&h);
}

#define REJECT(what, ...)                                                                          \
	do {                                                                                       \
		static const unsigned char bytes_[] = { __VA_ARGS__ };                             \
		expect_rejected(what, bytes_, sizeof(bytes_));                                     \
	} while (0)

Test(hist, deserialize_rejects_wrong_version)
{
	REJECT("version 0", 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
	REJECT("version 2", 0x02, 0x00, 0x00, 0x00, 0x00, 0x00);
	REJECT("version 255", 0xff, 0x00, 0x00, 0x00, 0x00, 0x00);
}

Test(hist, deserialize_rejects_bad_varints)
{
	/* count 0 written in two bytes */
	REJECT("overlong zero", 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00);
	/* count 2 written as 0x82 0x00 */
	REJECT("overlong two", 0x01, 0x82, 0x00, 0x05, 0xac, 0x02, 0xb1, 0x02, 0x02, 0x05, 0x01,
	       0x91, 0x02, 0x01);
	/* 2^64 and more: the 10th byte may only be 0x01 */
	REJECT("2^64", 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x00, 0x00,
	       0x00, 0x00);
	REJECT("11 bytes", 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00,
	       0x00, 0x00, 0x00, 0x00);
	REJECT("endless continuation", 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0xff, 0xff, 0xff, 0xff);
}

Test(hist, deserialize_accepts_the_largest_varint)
{
	/* a single value UINT64_MAX: count 1, min = max = sum = 2^64 - 1 */
	static const unsigned char max1[] = {
		0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0xff, 0x39, 0x01,
	};
	struct hist h;

	hist_init(&h);
	cr_assert_eq(hist_deserialize(&h, max1, sizeof(max1), NULL), 0);
	cr_assert_eq(hist_max(&h), UINT64_MAX);
	cr_assert_eq(hist_count(&h), 1);
	cr_assert_eq(hist_bucket_count(&h, HIST_BUCKETS - 1), 1);
	hist_release(&h);
}

Test(hist, deserialize_rejects_totals_that_disagree_with_the_buckets)
{
	/* the good one, for reference: 5 and 300 */
	static const unsigned char good[] = { 0x01, 0x02, 0x05, 0xac, 0x02, 0xb1, 0x02,
					      0x02, 0x05, 0x01, 0x91, 0x02, 0x01 };
	struct hist h;

	hist_init(&h);
	cr_assert_eq(hist_deserialize(&h, good, sizeof(good), NULL), 0);
	hist_release(&h);

	REJECT("count 3, buckets add to 2", 0x01, 0x03, 0x05, 0xac, 0x02, 0xb1, 0x02, 0x02, 0x05,
	       0x01, 0x91, 0x02, 0x01);
	REJECT("count 1, buckets add to 2", 0x01, 0x01, 0x05, 0xac, 0x02, 0xb1, 0x02, 0x02, 0x05,
	       0x01, 0x91, 0x02, 0x01);
	REJECT("min > max", 0x01, 0x02, 0xac, 0x02, 0x05, 0xb1, 0x02, 0x02, 0x05, 0x01, 0x91, 0x02,
	       0x01);
	/* with count * min and count * max both saturated, only min <= max is left */
	REJECT("min > max, saturated", 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x01, 0x81, 0x02, 0x80, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x01, 0x01, 0x80, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	REJECT("min outside the first bucket", 0x01, 0x02, 0x04, 0xac, 0x02, 0xb0, 0x02, 0x02, 0x05,
	       0x01, 0x91, 0x02, 0x01);
	REJECT("max outside the last bucket", 0x01, 0x02, 0x05, 0xae, 0x02, 0xb3, 0x02, 0x02, 0x05,
	       0x01, 0x91, 0x02, 0x01);
	REJECT("sum below count * min", 0x01, 0x02, 0x05, 0xac, 0x02, 0x09, 0x02, 0x05, 0x01, 0x91,
	       0x02, 0x01);
	REJECT("sum above count * max", 0x01, 0x02, 0x05, 0xac, 0x02, 0xd9, 0x04, 0x02, 0x05, 0x01,
	       0x91, 0x02, 0x01);
	/* 256 and 257 share bucket 256: only the single-value rule catches this */
	REJECT("one value, min != max", 0x01, 0x01, 0x80, 0x02, 0x81, 0x02, 0x80, 0x02, 0x01, 0x80,
	       0x02, 0x01);
	REJECT("empty with a min", 0x01, 0x00, 0x01, 0x00, 0x00, 0x00);
	REJECT("empty with a max", 0x01, 0x00, 0x00, 0x01, 0x00, 0x00);
	REJECT("empty with a sum", 0x01, 0x00, 0x00, 0x00, 0x01, 0x00);
	REJECT("empty with a bucket", 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01);
	REJECT("values but no bucket", 0x01, 0x01, 0x05, 0x05, 0x05, 0x00);
}

Test(hist, deserialize_rejects_malformed_bucket_lists)
{
	REJECT("zero bucket count", 0x01, 0x02, 0x05, 0xac, 0x02, 0xb1, 0x02, 0x03, 0x05, 0x01,
	       0x01, 0x00, 0x90, 0x02, 0x01);
	REJECT("index not increasing", 0x01, 0x02, 0x05, 0x05, 0x0a, 0x02, 0x05, 0x01, 0x00, 0x01);
	/* first index 7424 = 0x1d00 */
	REJECT("index past the end", 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x80, 0x3a, 0x01);
	/* 7423 then + 1 */
	REJECT("delta past the end", 0x01, 0x02, 0x00, 0x00, 0x00, 0x02, 0xff, 0x39, 0x01, 0x01,
	       0x01);
	/* 7425 buckets announced, with bytes enough for them all */
	{
		static unsigned char many[8 + 2 * 7425];

		memset(many, 0x01, sizeof(many));
		many[0] = 0x01;
		many[1] = 0x01;
		many[2] = 0x01;
		many[3] = 0x01;
		many[4] = 0x01;
		many[5] = 0x81;
		many[6] = 0x3a;
		expect_rejected("more buckets than exist", many, sizeof(many));
	}
	REJECT("more buckets than bytes", 0x01, 0x05, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01);
	REJECT("nothing", 0x01);
}

Test(hist, deserialize_survives_garbage)
{
	uint64_t seed = 4242;
	unsigned char junk[512];
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t len = rng_next(&seed) % sizeof(junk);
		struct hist h;
		size_t used = 0;

		for (size_t i = 0; i < len; i++)
			junk[i] = (unsigned char)rng_next(&seed);
		if (round & 1)
			junk[0] = HIST_WIRE_VERSION; /* get past the first check */
		hist_init(&h);
		if (hist_deserialize(&h, junk, len, &used) == 0) {
			accepted++;
			cr_assert_leq(used, len);
		}
		hist_release(&h);
	}
	/* an accepted random string must be tiny and consistent: almost none are */
	cr_assert_lt(accepted, 200, "%d random strings accepted", accepted);
}

Test(hist, deserialize_rejects_a_single_flipped_byte_or_reserializes_the_same)
{
	static unsigned char wire[HIST_WIRE_MAX_BYTES];
	static unsigned char again[HIST_WIRE_MAX_BYTES];
	struct hist h;
	size_t len;

	make_sample(&h, 8);
	len = serialize(&h, wire, sizeof(wire));
	cr_assert_leq(len, sizeof(again));
	hist_release(&h);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct hist t;
			size_t used;

			wire[i] ^= (unsigned char)(1 << bit);
			hist_init(&t);
			/* canonical: whatever is accepted is written back byte for byte */
			if (hist_deserialize(&t, wire, len, &used) == 0) {
				cr_assert_eq(serialize(&t, again, sizeof(again)), used);
				cr_assert_arr_eq(again, wire, used);
			}
			hist_release(&t);
			wire[i] ^= (unsigned char)(1 << bit);
		}
	}
}

Test(hist, merge_wire_checked_equals_deserialize_then_merge)
{
	struct hist a, b, want, got;
	struct buf w;
	unsigned char junk[64];

	hist_init(&a);
	hist_init(&b);
	hist_init(&want);
	hist_init(&got);
	buf_init(&w, HIST_WIRE_MAX_BYTES);
	for (uint64_t i = 1; i < 5000; i++) {
		hist_record(&a, i * i * 37 % 100000007);
		hist_record(&b, i * 13);
	}
	cr_assert_eq(hist_serialize(&a, &w), 0);
	hist_merge(&want, &b);
	hist_merge(&want, &a);
	hist_merge(&got, &b);
	cr_assert_eq(hist_merge_wire_checked(&got, w.data, w.len), 0);
	cr_expect(hist_equal(&want, &got));
	/* bytes nobody checked: in bounds, refused or merged, never a crash */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 97 + 1);
	junk[0] = HIST_WIRE_VERSION;
	for (size_t n = 0; n <= sizeof(junk); n++) {
		int ret = hist_merge_wire_checked(&got, junk, n);

		cr_expect(ret == 0 || ret == -EPROTO);
	}
	buf_release(&w);
	hist_release(&a);
	hist_release(&b);
	hist_release(&want);
	hist_release(&got);
}

/* ---- hist_bins: Prometheus's fixed bins from a histogram in memory ------ */

/* OpenTelemetry's default bounds for HTTP durations, in ns (as /metrics uses). */
static const uint64_t otel_bounds_ns[] = {
	5000000,   10000000,   25000000,   50000000,   75000000,   100000000,  250000000,
	500000000, 750000000, 1000000000, 2500000000, 5000000000, 7500000000, 10000000000,
};
#define OTEL_BOUNDS (sizeof(otel_bounds_ns) / sizeof(otel_bounds_ns[0]))

Test(hist, bins_put_a_lone_value_on_the_right_side_of_its_bound)
{
	uint64_t bins[OTEL_BOUNDS + 1];
	struct hist h;

	hist_init(&h);
	/* a value equal to a bound is <= it: that bound's bin */
	for (size_t i = 0; i < OTEL_BOUNDS; i++) {
		memset(bins, 0, sizeof(bins));
		hist_reset(&h);
		hist_record(&h, otel_bounds_ns[i]);
		hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, bins);
		cr_expect_eq(bins[i], 1, "%llu ns not in bin %zu",
			     (unsigned long long)otel_bounds_ns[i], i);
		/* one past it: the next bin, although both share a bucket (clamped to min) */
		memset(bins, 0, sizeof(bins));
		hist_reset(&h);
		hist_record(&h, otel_bounds_ns[i] + 1);
		hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, bins);
		cr_expect_eq(bins[i + 1], 1, "%llu ns not in bin %zu",
			     (unsigned long long)otel_bounds_ns[i] + 1, i + 1);
	}
	hist_release(&h);
}

Test(hist, bins_add_to_what_is_there_and_keep_the_count)
{
	uint64_t bins[OTEL_BOUNDS + 1] = { 0 }, total = 0;
	struct hist h;

	hist_init(&h);
	hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, bins); /* empty: nothing */
	for (size_t i = 0; i <= OTEL_BOUNDS; i++)
		cr_assert_eq(bins[i], 0);
	hist_record_n(&h, 1000, 7);		  /* 1 us: the first bin */
	hist_record_n(&h, 60000000, 5);		  /* 60 ms: (50, 75] ms */
	hist_record_n(&h, 20 * 1000000000ull, 3); /* 20 s: past the last bound */
	hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, bins);
	hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, bins); /* twice: everything doubles */
	cr_expect_eq(bins[0], 14);
	cr_expect_eq(bins[4], 10);
	cr_expect_eq(bins[OTEL_BOUNDS], 6);
	for (size_t i = 0; i <= OTEL_BOUNDS; i++)
		total += bins[i];
	cr_expect_eq(total, 2 * hist_count(&h));
	hist_release(&h);
}

Test(hist, bins_agree_with_the_bins_of_the_wire_form)
{
	uint64_t seed = 42;
	struct buf w;

	buf_init(&w, HIST_WIRE_MAX_BYTES);
	for (int round = 0; round < 50; round++) {
		uint64_t mem[OTEL_BOUNDS + 1] = { 0 }, wire[OTEL_BOUNDS + 1] = { 0 };
		uint64_t count = 0, sum = 0;
		struct hist h;
		int n = 1 + (int)(rng_next(&seed) % 2000);

		hist_init(&h);
		/* log-normal latencies around 30 ms, spread over every bin */
		for (int i = 0; i < n; i++)
			hist_record(&h, clamp_ns(3e7 * exp(2.0 * rng_normal(&seed))));
		buf_reset(&w);
		cr_assert_eq(hist_serialize(&h, &w), 0);
		hist_bins(&h, otel_bounds_ns, OTEL_BOUNDS, mem);
		cr_assert_eq(hist_wire_bins(w.data, w.len, otel_bounds_ns, OTEL_BOUNDS, wire,
					    &count, &sum),
			     0);
		cr_expect_arr_eq(mem, wire, sizeof(mem), "round %d", round);
		cr_expect_eq(count, hist_count(&h));
		cr_expect_eq(sum, hist_sum(&h));
		hist_release(&h);
	}
	buf_release(&w);
}
