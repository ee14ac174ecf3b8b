#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aggregator/detect/forecast.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/rng.h"

TestSuite(forecast, .fini = test_no_leaks);

/* ---- helpers ------------------------------------------------------------ */

static void params_undamped(struct forecast_params *p)
{
	forecast_params_default(p);
	p->phi = 1.0;
}

/* Feeds start + slope * t for t in [0, n), plus sd * N(0,1) noise. */
static void feed_ramp(struct forecast *f, double start, double slope, unsigned n, double sd,
		      uint64_t *rng)
{
	for (unsigned t = 0; t < n; t++)
		forecast_update(f, start + slope * t + (sd > 0 ? sd * rng_normal(rng) : 0.0));
}

static void assert_near(double got, double want, double tol)
{
	cr_assert(fabs(got - want) <= tol, "got %.9g, want %.9g (tolerance %g)", got, want, tol);
}

/* ---- forecasts ---------------------------------------------------------- */

Test(forecast, ramp_is_forecast_as_its_continuation)
{
	struct forecast_params p;
	struct forecast f;
	double mean, lo, hi;

	params_undamped(&p);
	forecast_init(&f, &p);
	feed_ramp(&f, 10.0, 0.5, 100, 0, NULL);
	cr_assert(forecast_ready(&f));
	/* the last point is t = 99: step h is t = 99 + h */
	for (unsigned h = 1; h <= 600; h += 7) {
		forecast_ahead(&f, h, &mean, &lo, &hi);
		assert_near(mean, 10.0 + 0.5 * (99 + h), 1e-6);
		/* no one-step error at all: the interval is the point */
		assert_near(hi - lo, 0.0, 1e-6);
	}
}

Test(forecast, noisy_ramp_is_forecast_close_to_its_continuation)
{
	struct forecast_params p;
	struct forecast f;
	uint64_t rng = 1;
	double mean;

	params_undamped(&p);
	forecast_init(&f, &p);
	feed_ramp(&f, 100.0, 1.0, 300, 0.5, &rng);
	forecast_ahead(&f, 10, &mean, NULL, NULL);
	/* truth 409; the slope is estimated to within a few percent */
	assert_near(mean, 409.0, 3.0);
}

Test(forecast, damped_forecasts_level_off)
{
	struct forecast f;
	double m1800, m3600, m1, m2, bound;

	forecast_init(&f, NULL);
	feed_ramp(&f, 0.0, 1.0, 200, 0, NULL);
	cr_assert_gt(f.trend, 0.0);
	forecast_ahead(&f, 1, &m1, NULL, NULL);
	forecast_ahead(&f, 2, &m2, NULL, NULL);
	forecast_ahead(&f, 1800, &m1800, NULL, NULL);
	forecast_ahead(&f, 3600, &m3600, NULL, NULL);
	/* phi^1800 is 1.6e-16: the forecast has converged to its limit */
	bound = f.level + f.trend * f.p.phi / (1.0 - f.p.phi);
	assert_near(m3600, bound, 1e-9 * bound);
	assert_near(m1800, m3600, 1e-9 * bound);
	cr_assert_gt(m2, m1);
	/* an undamped ramp would be at 199 + 3600 */
	cr_assert_lt(m3600, 199.0 + 100.0);
}

/* ---- intervals ---------------------------------------------------------- */

Test(forecast, interval_widens_with_the_horizon)
{
	struct forecast f;
	uint64_t rng = 2;
	double prev = 0.0;

	forecast_init(&f, NULL);
	feed_ramp(&f, 50.0, 0.2, 500, 1.0, &rng);
	for (unsigned h = 1; h <= 3600; h += h < 100 ? 1 : 37) {
		double mean, lo, hi;

		forecast_ahead(&f, h, &mean, &lo, &hi);
		cr_assert(lo < mean && mean < hi);
		cr_assert_gt(hi - lo, prev, "h %u: width %g after %g", h, hi - lo, prev);
		prev = hi - lo;
	}
	/* h = 1: +-1.96 sigma, sigma near the noise's 1 */
	{
		double lo, hi;

		forecast_ahead(&f, 1, NULL, &lo, &hi);
		assert_near((hi - lo) / 2.0 / 1.96, 1.0, 0.35);
	}
}

/* Coverage of the nominal 95% interval at @h, over one noisy ramp. */
static double coverage(const struct forecast_params *p, unsigned h, uint64_t seed)
{
	enum { N = 4000, START = 100 };
	static double y[N];
	struct forecast f;
	unsigned inside = 0, total = 0;

	for (unsigned t = 0; t < N; t++)
		y[t] = 20.0 + 0.05 * t + rng_normal(&seed);
	forecast_init(&f, p);
	for (unsigned t = 0; t + h < N; t++) {
		forecast_update(&f, y[t]);
		if (t >= START) {
			double lo, hi;

			forecast_ahead(&f, h, NULL, &lo, &hi);
			inside += lo <= y[t + h] && y[t + h] <= hi;
			total++;
		}
	}
	return (double)inside / total;
}

Test(forecast, interval_covers_a_noisy_ramp)
{
	struct forecast_params p;
	static const unsigned hs[] = { 1, 5, 20, 60 };

	params_undamped(&p);
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		double c = coverage(&p, hs[i], 7 + i);

		cr_assert_geq(c, 0.85, "undamped h %u: coverage %.3f", hs[i], c);
	}
	forecast_params_default(&p);
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		double c = coverage(&p, hs[i], 17 + i);

		cr_assert_geq(c, 0.85, "default h %u: coverage %.3f", hs[i], c);
	}
}

/* The closed form of the variance sum (h > 64) against the plain sum. */
static void check_variance(double phi)
{
	struct forecast_params p;
	struct forecast f;
	uint64_t rng = 3;
	static const unsigned hs[] = { 1, 2, 63, 64, 65, 66, 200, 3600 };

	forecast_params_default(&p);
	p.phi = phi;
	forecast_init(&f, &p);
	feed_ramp(&f, 0.0, 0.1, 100, 1.0, &rng);
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		double sum = 1.0, s = 0.0, want, mean, lo, hi;

		for (unsigned j = 1; j < hs[i]; j++) {
			double c;

			s = f.p.phi * (1.0 + s);
			c = f.p.alpha * (1.0 + f.p.beta * s);
			sum += c * c;
		}
		want = f.p.interval_z * sqrt(f.err_var * sum);
		forecast_ahead(&f, hs[i], &mean, &lo, &hi);
		assert_near((hi - lo) / 2.0, want, 1e-7 * want);
	}
}

Test(forecast, interval_closed_form_matches_the_sum)
{
	check_variance(0.98);
	check_variance(0.5);
	check_variance(0.99999);
	check_variance(1.0);
}

Test(forecast, one_outlier_does_not_blow_up_sigma)
{
	struct forecast f;
	uint64_t rng = 4;
	double before;

	forecast_init(&f, NULL);
	feed_ramp(&f, 100.0, 0.0, 300, 1.0, &rng);
	before = f.err_var;
	forecast_update(&f, 1e4);
	/* clipped at 4 sigma: at most 1 + 0.05 * 15 times */
	cr_assert_leq(f.err_var, 1.76 * before);
}

/* ---- time to a threshold ------------------------------------------------ */

Test(forecast, steps_to_counts_the_steps_on_a_ramp)
{
	struct forecast_params p;
	struct forecast f;
	double conf;

	params_undamped(&p);
	forecast_init(&f, &p);
	feed_ramp(&f, 10.0, 0.5, 100, 0, NULL);
	/* now 59.5; 80 is reached at 59.5 + 0.5 h >= 80: h = 41 */
	cr_assert_eq(forecast_steps_to(&f, 80.0, 3600, &conf), 41);
	/* no noise at all: certain */
	assert_near(conf, 1.0, 1e-12);
	/* beyond max_h: none */
	cr_assert_eq(forecast_steps_to(&f, 80.0, 40, &conf), 0);
	cr_assert_eq(conf, 0.0);
	cr_assert_eq(forecast_steps_to(&f, 80.0, 41, NULL), 41);
}

Test(forecast, steps_to_on_a_noisy_ramp_is_close)
{
	struct forecast_params p;
	struct forecast f;
	uint64_t rng = 5;
	unsigned h;
	double conf;

	params_undamped(&p);
	forecast_init(&f, &p);
	feed_ramp(&f, 10.0, 0.5, 200, 0.3, &rng);
	/* the ramp is at 109.5; 150 is 81 steps away */
	h = forecast_steps_to(&f, 150.0, 3600, &conf);
	cr_assert(h >= 73 && h <= 89, "h %u", h);
	/* at the first crossing the mean is just above: a bit over a coin toss */
	cr_assert(conf >= 0.5 && conf < 1.0, "confidence %g", conf);
}

Test(forecast, damped_steps_to_is_late_but_finite)
{
	struct forecast f;
	unsigned h;

	forecast_init(&f, NULL);
	feed_ramp(&f, 0.0, 1.0, 200, 0, NULL);
	/* truth: 10 steps. Damping under-extrapolates a steady ramp (about
	 * 15 steps with the defaults, docs/prediction.md), never early. */
	h = forecast_steps_to(&f, 199.0 + 10.0, 3600, NULL);
	cr_assert(h >= 10 && h <= 20, "h %u", h);
	/* beyond the damped limit level + 49 trend: never */
	cr_assert_eq(forecast_steps_to(&f, 199.0 + 100.0, 3600, NULL), 0);
}

Test(forecast, flat_noisy_series_never_predicts_a_far_threshold)
{
	struct forecast f;
	uint64_t rng = 6;
	unsigned crossings = 0;

	forecast_init(&f, NULL);
	for (unsigned t = 0; t < 20000; t++) {
		forecast_update(&f, 100.0 + rng_normal(&rng));
		crossings += forecast_steps_to(&f, 130.0, 3600, NULL) != 0;
	}
	cr_assert_eq(crossings, 0);
}

Test(forecast, already_above_the_threshold_gives_zero)
{
	struct forecast f;
	double conf = -1.0;

	forecast_init(&f, NULL);
	feed_ramp(&f, 0.0, 1.0, 100, 0, NULL);
	cr_assert_eq(forecast_steps_to(&f, 50.0, 3600, &conf), 0);
	cr_assert_eq(conf, 0.0);
	/* the level is at 99: exactly at it is "already" too */
	cr_assert_eq(forecast_steps_to(&f, f.level, 3600, NULL), 0);
	cr_assert_eq(forecast_steps_to(&f, NAN, 3600, NULL), 0);
	/* a falling series never reaches a threshold above */
	forecast_init(&f, NULL);
	feed_ramp(&f, 100.0, -1.0, 100, 0, NULL);
	cr_assert_eq(forecast_steps_to(&f, 150.0, 3600, NULL), 0);
}

Test(forecast, not_ready_before_warmup)
{
	struct forecast f;
	double mean, lo, hi;

	forecast_init(&f, NULL);
	cr_assert_not(forecast_ready(&f));
	forecast_ahead(&f, 1, &mean, &lo, &hi);
	cr_assert(isnan(mean) && isnan(lo) && isnan(hi));
	feed_ramp(&f, 0.0, 1.0, 29, 0, NULL);
	cr_assert_not(forecast_ready(&f));
	cr_assert_eq(forecast_steps_to(&f, 40.0, 3600, NULL), 0);
	forecast_update(&f, 29.0);
	cr_assert(forecast_ready(&f));
	/* 11 steps on the ramp; damping makes it a few more */
	cr_assert_geq(forecast_steps_to(&f, 40.0, 3600, NULL), 11);
}

Test(forecast, non_finite_values_are_ignored)
{
	struct forecast a, b;
	uint64_t rng = 8;

	forecast_init(&a, NULL);
	forecast_init(&b, NULL);
	for (unsigned t = 0; t < 100; t++) {
		double v = 5.0 + 0.1 * t + rng_normal(&rng);

		forecast_update(&a, v);
		forecast_update(&b, v);
		if (t % 7 == 0)
			forecast_update(&b, NAN);
		if (t % 11 == 0)
			forecast_update(&b, INFINITY);
		if (t % 13 == 0)
			forecast_update(&b, -INFINITY);
	}
	cr_assert_eq(a.n, b.n);
	cr_assert_eq(a.level, b.level);
	cr_assert_eq(a.trend, b.trend);
	cr_assert_eq(a.err_var, b.err_var);
	cr_assert(isfinite(b.level) && isfinite(b.trend) && isfinite(b.err_var));
}

Test(forecast, invalid_params_fall_back_to_defaults)
{
	struct forecast_params p, d;
	struct forecast f;

	forecast_params_default(&d);
	memset(&p, 0, sizeof(p));
	p.alpha = NAN;
	p.beta = 1.5;
	p.phi = -1.0;
	p.interval_z = INFINITY;
	forecast_init(&f, &p);
	cr_assert_eq(f.p.alpha, d.alpha);
	cr_assert_eq(f.p.beta, d.beta);
	cr_assert_eq(f.p.phi, d.phi);
	cr_assert_eq(f.p.interval_z, d.interval_z);
	cr_assert_eq(f.p.sigma_alpha, d.sigma_alpha);
	cr_assert_eq(f.p.warmup_points, 0);
	/* a warm-up of 0 is ready from the first point, not before it */
	cr_assert_not(forecast_ready(&f));
	forecast_update(&f, 1.0);
	cr_assert(forecast_ready(&f));
}
