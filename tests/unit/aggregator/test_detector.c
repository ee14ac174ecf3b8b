/*
 * The streaming anomaly detector (aggregator/detect/detector.c) on synthetic
 * series with a fixed-seed PRNG: what it must alarm on (spikes, level
 * shifts, a jump in a flat series, an off-phase excursion), what it must
 * not (noise, a slow trend, a daily pattern's own peaks), and its contract
 * (scores in [0,1], missing points, determinism, fixed memory).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aggregator/detect/detector.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/rng.h"

TestSuite(detector, .fini = test_no_leaks);

#define T0 1700000000.0 /* any epoch second works */

/* Feeds @n points of mean @mean and noise @sd, 1 s apart from *@t; returns the alarms. */
static unsigned feed_noise(struct detector *d, double *t, unsigned n, double mean, double sd,
			   uint64_t *seed)
{
	struct detector_result r;
	unsigned alarms = 0;

	for (unsigned i = 0; i < n; i++) {
		detector_update(d, (*t)++, mean + sd * rng_normal(seed), &r);
		alarms += r.alarm;
	}
	return alarms;
}

Test(detector, noise_only_almost_never_alarms)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 1;
	unsigned alarms = 0, warm_at = 0;

	for (unsigned i = 0; i < 20000; i++) {
		detector_update(d, T0 + i, 100 + 5 * rng_normal(&seed), &r);
		alarms += r.alarm;
		if (r.warm && !warm_at)
			warm_at = i;
		cr_assert(r.score >= 0 && r.score <= 1);
	}
	cr_expect(warm_at > 0 && warm_at <= 500, "warm after %u points", warm_at);
	cr_expect_leq(alarms, 2, "%u alarms on 20,000 points of Gaussian noise", alarms);
	detector_free(d);
}

Test(detector, single_spike_is_alarmed_on_that_point)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 2;
	double t = T0;

	feed_noise(d, &t, 1000, 50, 2, &seed);
	detector_update(d, t++, 50 + 2 * 15, &r);
	cr_expect(r.alarm, "a 15 sigma spike: score %f", r.score);
	cr_expect_eq(r.direction, 1);
	cr_expect_gt(r.deviation, 8);
	cr_expect_lt(r.upper, 50 + 2 * 15);
	cr_expect(fabs(r.expected - 50) < 2, "expected %f", r.expected);
	cr_expect_leq(feed_noise(d, &t, 1000, 50, 2, &seed), 1, "noise after the spike");
	detector_free(d);
}

/* The aggregator's case: p99 latency near 5 ms jumps to 300 ms and stays, then recovers. */
Test(detector, level_shift_is_alarmed_at_once_then_learnt)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 3;
	double t = T0, max_score = 0;
	int first = -1;
	bool shifted = false;

	feed_noise(d, &t, 600, 5, 0.3, &seed);
	for (int i = 0; i < 1000; i++) {
		detector_update(d, t++, 300 + 15 * rng_normal(&seed), &r);
		if (r.alarm && first < 0)
			first = i;
		if (i >= 200)
			cr_expect(!r.alarm, "still alarming %d points after the shift up", i);
	}
	cr_expect(first == 0 || first == 1, "first alarm at jumped point %d", first);
	/*
	 * Back down. While the scale grew from 0.3 to 15 ms the detector saw
	 * hundreds of large |z| and learnt a heavy tail, so the way back is
	 * flagged as a level shift but scores low (about 0.14): a known limit
	 * (docs/detection.md, "Limits"). What must hold: no late alarm, the
	 * CUSUM flags it, and the detector settles on 5 ms.
	 */
	first = -1;
	for (int i = 0; i < 1000; i++) {
		detector_update(d, t++, 5 + 0.3 * rng_normal(&seed), &r);
		if (i < 5) {
			max_score = fmax(max_score, r.score);
			shifted |= r.level_shift;
		}
		if (r.alarm && first < 0)
			first = i;
		if (i >= 200)
			cr_expect(!r.alarm, "still alarming %d points after the shift down", i);
	}
	cr_expect(first < 0 || first <= 3, "shift down alarmed late, at point %d", first);
	cr_expect_lt(max_score, 1.01);
	cr_expect(shifted, "the CUSUM did not flag the shift down");
	cr_expect(r.direction == 0 && fabs(r.expected - 5) < 1, "adapted: expected %f", r.expected);
	detector_free(d);
}

Test(detector, slow_trend_does_not_alarm_continually)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 4;
	unsigned alarms = 0;

	/* 100 -> 300 over 10,000 points, noise sd 2: the drift per point is 1% of sigma */
	for (unsigned i = 0; i < 10000; i++) {
		detector_update(d, T0 + i, 100 + 0.02 * i + 2 * rng_normal(&seed), &r);
		alarms += r.alarm;
	}
	cr_expect_leq(alarms, 3, "%u alarms on a slow trend", alarms);
	detector_free(d);
}

/* 5-minute points of a daily pattern: quiet nights, a busy plateau 9:00-18:00. */
static double daily(double t, uint64_t *seed)
{
	double h = fmod(t, 86400) / 3600;
	double busy = h >= 9 && h < 18 ? 60 + 10 * sin((h - 9) / 9 * M_PI) : 0;

	return 20 + busy + 2 * rng_normal(seed);
}

Test(detector, daily_peaks_are_normal_but_an_off_phase_peak_is_not)
{
	struct detector_params p;
	struct detector *d;
	struct detector_result r;
	uint64_t seed = 5;
	unsigned alarms = 0;
	double t = 0;

	detector_params_default(&p);
	p.season_s = 86400;
	d = detector_new(&p);
	for (int i = 0; i < 288 * 12; i++, t += 300) {
		detector_update(d, t, daily(t, &seed), &r);
		if (i >= 288 * 3)
			alarms += r.alarm;
	}
	cr_expect_leq(alarms, 1, "%u alarms on days 4-12 of a normal daily pattern", alarms);
	/* day 13 at 03:00: the daytime level, at night */
	for (; fmod(t, 86400) < 3 * 3600; t += 300)
		detector_update(d, t, daily(t, &seed), &r);
	detector_update(d, t, 80 + 2 * rng_normal(&seed), &r);
	cr_expect(r.alarm, "daytime level at 03:00: score %f", r.score);
	cr_expect_eq(r.direction, 1);
	detector_free(d);
}

Test(detector, flat_series_then_small_jump)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	unsigned alarms = 0;

	for (int i = 0; i < 1000; i++) {
		detector_update(d, T0 + i, 10.0, &r);
		alarms += r.alarm;
		cr_assert(isfinite(r.deviation) && r.score == 0, "flat: score %f", r.score);
	}
	cr_expect_eq(alarms, 0);
	detector_update(d, T0 + 1000, 10.5, &r);
	cr_expect(r.alarm, "5%% jump after a flat series: score %f", r.score);
	detector_free(d);
}

Test(detector, missing_points_leave_state_unchanged)
{
	struct detector *a = detector_new(NULL), *b = detector_new(NULL);
	struct detector_result ra, rb, zero;
	uint64_t seed = 6;

	memset(&zero, 0, sizeof(zero));
	for (int i = 0; i < 3000; i++) {
		double v = 10 + rng_normal(&seed) + (i == 2000 ? 30 : 0);

		if (i % 7 == 3) {
			detector_update(b, T0 + i - 0.5, i % 2 ? NAN : INFINITY, &rb);
			cr_assert(!memcmp(&rb, &zero, sizeof(rb)), "a missing point's result is zero");
		}
		detector_update(a, T0 + i, v, &ra);
		detector_update(b, T0 + i, v, &rb);
		cr_assert(!memcmp(&ra, &rb, sizeof(ra)), "point %d differs", i);
	}
	detector_free(a);
	detector_free(b);
}

Test(detector, scores_stay_in_unit_interval_on_wild_input)
{
	static const double wild[] = { 0, 1e300, -1e300, 1e-300, 5, -5, 1e12, 0, 0, 3 };
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 7;

	for (int i = 0; i < 20000; i++) {
		double v = i % 50 == 0 ? wild[(i / 50) % 10] : exp(3 * rng_normal(&seed));
		/* time goes back now and then: treated as equal to the last */
		double t = T0 + i - (i % 97 == 0 ? 1000 : 0);

		detector_update(d, t, v, &r);
		cr_assert(r.score >= 0 && r.score <= 1, "point %d: score %f", i, r.score);
		cr_assert(!isnan(r.expected) && !isnan(r.lower) && !isnan(r.upper));
	}
	detector_free(d);
}

Test(detector, same_input_gives_same_output)
{
	struct detector *a = detector_new(NULL), *b = detector_new(NULL);
	struct detector_result ra, rb;
	uint64_t s1 = 8, s2 = 8;

	for (int i = 0; i < 5000; i++) {
		double va = 100 * rng_unit(&s1) + (i % 500 == 0 ? 1000 : 0);
		double vb = 100 * rng_unit(&s2) + (i % 500 == 0 ? 1000 : 0);

		detector_update(a, T0 + 60.0 * i, va, &ra);
		detector_update(b, T0 + 60.0 * i, vb, &rb);
		cr_assert(!memcmp(&ra, &rb, sizeof(ra)), "point %d differs", i);
	}
	detector_free(a);
	detector_free(b);
}

Test(detector, memory_is_fixed_and_small)
{
	struct detector_params p;
	size_t with_season, without;

	detector_params_default(&p);
	with_season = detector_size(&p);
	cr_expect_eq(detector_size(NULL), with_season);
	cr_expect_leq(with_season, 4096, "%zu bytes per series", with_season);
	p.season_s = 0;
	without = detector_size(&p);
	cr_expect_lt(without, with_season);
	/* out-of-range knobs are clamped, so the size stays bounded */
	p.season_s = 86400;
	p.season_bins = 1u << 30;
	cr_expect_leq(detector_size(&p), 64 * 1024);
	detector_free(NULL);
}

/*
 * The aggregator's 1 Hz signals (docs/detection.md): ten minutes of a
 * steady, quiet series, then a fault that must alarm on its first point.
 * The noise is what such a signal has at 1 Hz; the steps are 13 to 1000
 * of its sigmas.
 */
static struct detector_result fault_after_steady(double mean, double sd, double fault,
						 uint64_t seed)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	double t = T0;

	cr_expect_eq(feed_noise(d, &t, 600, mean, sd, &seed), 0, "alarms on the steady part");
	detector_update(d, t, fault, &r);
	detector_free(d);
	return r;
}

Test(detector, request_rate_falling_to_zero_alarms_at_once)
{
	struct detector_result r = fault_after_steady(200, 15, 0, 11);

	cr_expect(r.alarm, "200 +- 15 req/s -> 0: score %f", r.score);
	cr_expect_eq(r.direction, -1);
}

Test(detector, error_rate_rising_fivefold_alarms_at_once)
{
	/* 1% of 1,000 req/s: a binomial sd of 0.3 points */
	struct detector_result r = fault_after_steady(0.01, 0.003, 0.05, 12);

	cr_expect(r.alarm, "error rate 1%% -> 5%%: score %f", r.score);
	cr_expect_eq(r.direction, 1);
}

Test(detector, p99_doubling_alarms_at_once)
{
	struct detector_result r = fault_after_steady(5, 0.5, 12, 13);

	cr_expect(r.alarm, "p99 5 -> 12 ms: score %f", r.score);
	cr_expect_eq(r.direction, 1);
}

Test(detector, p99_jump_to_300ms_alarms_at_once)
{
	struct detector_result r = fault_after_steady(5, 0.5, 300, 14);

	cr_expect(r.alarm, "p99 5 -> 300 ms: score %f", r.score);
	cr_expect_eq(r.score, 1);
}

/* TCP resets per second: mostly 0, now and then 1 or 2, then a burst of 20. */
Test(detector, sparse_counter_jumping_to_20_alarms_at_once)
{
	struct detector *d = detector_new(NULL);
	struct detector_result r;
	uint64_t seed = 15;
	unsigned alarms = 0;

	for (int i = 0; i < 1800; i++) {
		double u = rng_unit(&seed);

		detector_update(d, T0 + i, u < 0.95 ? 0 : u < 0.99 ? 1 : 2, &r);
		alarms += r.alarm;
	}
	cr_expect_eq(alarms, 0, "%u alarms on the usual 0, 1 and 2", alarms);
	detector_update(d, T0 + 1800, 20, &r);
	cr_expect(r.alarm, "resets 0-2 -> 20: score %f", r.score);
	detector_free(d);
}

Test(detector, long_gaussian_noise_never_alarms)
{
	struct detector *d = detector_new(NULL);
	uint64_t seed = 16;
	double t = T0;
	unsigned alarms = feed_noise(d, &t, 200000, 200, 15, &seed);

	cr_expect_eq(alarms, 0, "%u alarms on 200,000 points of Gaussian noise", alarms);
	detector_free(d);
}
