/*
 * Time to SLO breach (aggregator/detect/prediction.c) on 1 Hz series:
 * a climb is predicted well before it crosses, a step or noise never.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "aggregator/detect/prediction.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/rng.h"

TestSuite(prediction, .fini = test_no_leaks);

/*
 * Feeds @value(t) for t = 0.. until it passes @threshold (or @max_s); returns
 * the lead: seconds between the first will_breach and the crossing (-1: never
 * predicted; -2: never crossed), and the number of will_breach starts.
 */
static double lead_time(double (*value)(int t, uint64_t *seed), double threshold, int max_s,
			int *starts)
{
	struct detection_prediction out = { 0 };
	struct predictor p;
	uint64_t seed = 7;
	int predicted = -1;

	*starts = 0;
	predictor_init(&p);
	for (int t = 0; t < max_s; t++) {
		double v = value(t, &seed);

		*starts += predictor_step(&p, v, (int64_t)t * 1000, threshold, 600, &out);
		if (out.will_breach && predicted < 0)
			predicted = t;
		if (v >= threshold)
			return predicted < 0 ? -1 : t - predicted;
	}
	return -2;
}

static double ramp(int t, uint64_t *seed)
{
	return 5 + (t > 60 ? 2.0 * (t - 60) : 0) + 0.5 * rng_normal(seed);
}

static double staircase(int t, uint64_t *seed)
{
	return 5 + (t > 60 ? 10.0 * ((t - 60) / 5) : 0) + 0.5 * rng_normal(seed);
}

static double step(int t, uint64_t *seed)
{
	return (t > 120 ? 200 : 0.3) + 0.1 * rng_normal(seed);
}

static double noisy_flat(int t, uint64_t *seed)
{
	(void)t;
	return fabs(5 + 2 * rng_normal(seed)) + (rng_unit(seed) < 0.01 ? 60 : 0);
}

Test(prediction, a_steady_climb_is_predicted_well_before_it_crosses)
{
	int starts;
	double lead = lead_time(ramp, 200, 1000, &starts);

	cr_expect_geq(lead, 30, "2 ms/s towards 200 ms: predicted %.0f s ahead", lead);
	lead = lead_time(staircase, 200, 1000, &starts);
	cr_expect_geq(lead, 30, "+10 ms every 5 s: predicted %.0f s ahead", lead);
}

Test(prediction, a_step_is_not_a_climb)
{
	int starts;
	double lead = lead_time(step, 500, 600, &starts);

	cr_expect_eq(lead, -2, "the step never crosses 500");
	cr_expect_eq(starts, 0, "a 0.3 -> 200 ms step predicted a breach of 500 ms");
}

Test(prediction, noise_far_below_the_threshold_predicts_nothing)
{
	int starts;

	cr_expect_eq(lead_time(noisy_flat, 200, 20000, &starts), -2);
	cr_expect_eq(starts, 0);
}
