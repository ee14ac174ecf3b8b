/*
 * The anomaly state machine (aggregator/detect/incident.c) and the signal
 * floors it relies on (signals.c), driven with hand-made detector results.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/detect/incident.h"
#include "aggregator/detect/signals.h"
#include "tests/lib/leakcheck.h"

TestSuite(incident, .fini = test_no_leaks);
TestSuite(signals, .fini = test_no_leaks);

static const struct incident_params params = { .min_score = 0.9,
					       .open_after_points = 2,
					       .resolve_after_s = 5,
					       .slo = 500,
					       .hold_max_ms = 60000 };

/* A warm detector's verdict: baseline 5 ms (3..7), @score. */
static struct detector_result verdict(double score)
{
	return (struct detector_result){ .score = score, .expected = 5, .lower = 3, .upper = 7,
					  .warm = true, .deviation = score > 0.5 ? 20 : 0 };
}

static enum incident_event step(struct incident *in, int64_t t_s, double value, double score)
{
	struct detector_result r = verdict(score);

	return incident_step(in, SIGNAL_LATENCY_P99, &params, t_s * 1000, value, &r);
}

Test(incident, one_slow_second_opens_nothing_two_open_an_anomaly)
{
	struct incident in;

	incident_init(&in);
	cr_expect_eq(step(&in, 1, 5, 0.1), INCIDENT_NONE);
	cr_expect_eq(step(&in, 2, 300, 0.99), INCIDENT_NONE);
	cr_expect_eq(step(&in, 3, 5, 0.1), INCIDENT_NONE);
	cr_expect_eq(in.state, INCIDENT_IDLE);
	cr_expect_eq(step(&in, 4, 300, 0.99), INCIDENT_NONE);
	/* the second bad point needs no high score: the detector may have adapted already */
	cr_assert_eq(step(&in, 5, 310, 0.2), INCIDENT_OPENED);
	cr_expect_str_eq(in.rec.metric, "latency_p99");
	cr_expect(in.rec.open);
	cr_expect_eq(in.rec.started_ms, 5000);
	cr_expect_float_eq(in.rec.expected_mean, 5, 1e-9);
	cr_expect_float_eq(in.rec.expected_min, 3, 1e-9);
	cr_expect_float_eq(in.rec.expected_max, 7, 1e-9);
	cr_expect_float_eq(in.rec.score, 0.99, 1e-9);
	cr_expect_eq(in.rec.severity, STORE_SEVERITY_CRITICAL, "300 ms is 12x the 25 ms floor");
	incident_release(&in);
}

Test(incident, a_move_within_the_floors_is_never_an_anomaly)
{
	struct incident in;

	incident_init(&in);
	/* 5 -> 20 ms: very unusual (score 1) but under the 25 ms floor of a p99 */
	for (int t = 1; t < 20; t++)
		cr_expect_eq(step(&in, t, 20, 1.0), INCIDENT_NONE);
	/* and an improvement is not an anomaly of latency either */
	for (int t = 20; t < 40; t++)
		cr_expect_eq(step(&in, t, 0.5, 1.0), INCIDENT_NONE);
	cr_expect_eq(in.state, INCIDENT_IDLE);
	incident_release(&in);
}

Test(incident, severity_follows_the_sustained_size_and_only_rises)
{
	struct incident in;

	incident_init(&in);
	/* 5 -> 65 ms: 60 ms is 2.4x the floor, 13x the baseline: warning */
	step(&in, 1, 65, 0.95);
	cr_assert_eq(step(&in, 2, 65, 0.95), INCIDENT_OPENED);
	cr_expect_eq(in.rec.severity, STORE_SEVERITY_WARNING);
	/* one spike does not escalate: the smaller of the last two counts */
	cr_expect_eq(step(&in, 3, 400, 0.99), INCIDENT_NONE);
	cr_expect_eq(step(&in, 4, 65, 0.95), INCIDENT_NONE);
	cr_expect_eq(in.rec.severity, STORE_SEVERITY_WARNING);
	cr_expect_float_eq(in.rec.peak_value, 400, 1e-9);
	/* two in a row past the SLO do */
	cr_expect_eq(step(&in, 5, 600, 0.99), INCIDENT_NONE, "not sustained yet");
	cr_expect_eq(step(&in, 6, 600, 0.99), INCIDENT_ESCALATED);
	cr_expect_eq(in.rec.severity, STORE_SEVERITY_CRITICAL);
	cr_expect_float_eq(in.rec.current_value, 600, 1e-9);
	cr_expect_float_eq(in.rec.peak_value, 600, 1e-9);
	incident_release(&in);
}

Test(incident, resolves_after_enough_normal_seconds_measured_against_the_frozen_baseline)
{
	struct incident in;
	int64_t t = 1;

	incident_init(&in);
	step(&in, t++, 300, 0.99);
	cr_assert_eq(step(&in, t++, 300, 0.99), INCIDENT_OPENED);
	/* the detector adapts (expected follows the new level): still open */
	for (int i = 0; i < 20; i++) {
		struct detector_result r = verdict(0.1);

		r.expected = 300;
		cr_expect_eq(incident_step(&in, SIGNAL_LATENCY_P99, &params, t++ * 1000, 300, &r),
			     INCIDENT_NONE);
	}
	/* back to normal; a missing second counts for neither */
	for (int i = 0; i < 4; i++)
		cr_expect_eq(step(&in, t++, 6, 0.1), INCIDENT_NONE);
	cr_expect_eq(step(&in, t++, NAN, 0), INCIDENT_NONE);
	cr_assert_eq(step(&in, t, 6, 0.1), INCIDENT_RESOLVED);
	cr_expect_not(in.rec.open);
	cr_expect_eq(in.rec.resolved_ms, t * 1000);
	cr_expect_eq(in.state, INCIDENT_IDLE);
	incident_release(&in);
}

Test(incident, the_slo_method_opens_only_past_the_slo)
{
	struct incident_params p = params;
	struct incident in;
	struct detector_result r = { 0 }; /* no detector verdict at all */

	p.slo_only = true;
	incident_init(&in);
	for (int t = 1; t < 10; t++)
		cr_expect_eq(incident_step(&in, SIGNAL_LATENCY_P99, &p, t * 1000, 450, &r),
			     INCIDENT_NONE);
	cr_expect_eq(incident_step(&in, SIGNAL_LATENCY_P99, &p, 10000, 550, &r), INCIDENT_NONE);
	cr_assert_eq(incident_step(&in, SIGNAL_LATENCY_P99, &p, 11000, 560, &r), INCIDENT_OPENED);
	cr_expect_eq(in.rec.severity, STORE_SEVERITY_CRITICAL);
	cr_expect_float_eq(in.rec.expected_mean, 500, 1e-9);
	incident_release(&in);
}

Test(incident, an_adopted_anomaly_goes_on_and_resolves)
{
	struct store_anomaly a = { .id = 42, .open = true, .severity = STORE_SEVERITY_WARNING,
				   .score = 0.97, .expected_mean = 5, .expected_min = 3,
				   .expected_max = 7, .started_ms = 1000, .current_value = 90 };
	struct incident in;
	int64_t t = 10;

	snprintf(a.metric, sizeof(a.metric), "latency_p99");
	a.evidence = strdup("[{\"type\":\"deviation\"}]");
	incident_init(&in);
	incident_adopt(&in, &a);
	free(a.evidence);
	cr_expect_eq(in.rec.id, 42);
	cr_expect_str_eq(in.rec.evidence, "[{\"type\":\"deviation\"}]");
	for (int i = 0; i < 4; i++)
		cr_expect_eq(step(&in, t++, 5, 0), INCIDENT_NONE);
	cr_assert_eq(step(&in, t, 5, 0), INCIDENT_RESOLVED);
	cr_expect_eq(in.rec.id, 42);
	incident_release(&in);
}

Test(incident, the_points_of_an_anomaly_are_held_out_of_the_baseline_for_a_while)
{
	struct detector_result bad = verdict(0.99), calm = verdict(0.1);
	struct incident in;

	incident_init(&in);
	cr_expect_not(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 1000, 6, &calm));
	cr_expect_not(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 1000, 20, &bad),
		      "unusual but under the floors: learnt");
	cr_expect(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 1000, 300, &bad));
	step(&in, 1, 300, 0.99);
	cr_expect(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 2000, 300, &calm),
		  "a candidate's points are held whatever their score");
	cr_assert_eq(step(&in, 2, 300, 0.2), INCIDENT_OPENED);
	cr_expect(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 61000, 300, &calm));
	cr_expect_not(incident_holds(&in, SIGNAL_LATENCY_P99, &params, 62000, 300, &calm),
		      "held for hold_max_ms at most: a lasting change becomes the new normal");
	incident_release(&in);
}

Test(signals, values_say_nothing_without_enough_data)
{
	struct series_point p = { .t_s = 1 };

	cr_expect(isnan(signal_value(SIGNAL_LATENCY_P99, &p)), "no request, no latency");
	cr_expect_float_eq(signal_value(SIGNAL_REQUEST_RATE, &p), 0, 1e-12);
	p.requests = 4;
	p.errors = 4;
	cr_expect(isnan(signal_value(SIGNAL_ERROR_RATE, &p)), "4 requests make no rate");
	p.requests = 10;
	p.errors = 3;
	p.latency_p99_ms = 12.5;
	cr_expect_float_eq(signal_value(SIGNAL_ERROR_RATE, &p), 0.3, 1e-12);
	cr_expect_float_eq(signal_value(SIGNAL_LATENCY_P99, &p), 12.5, 1e-12);
	p.tcp_retransmits = 7;
	cr_expect_float_eq(signal_value(SIGNAL_TCP_RETRANSMITS, &p), 7, 1e-12);
}

Test(signals, magnitude_counts_only_the_harmful_way_past_both_floors)
{
	/* p99: 25 ms and x1.5 */
	cr_expect_float_eq(signal_magnitude(SIGNAL_LATENCY_P99, 105, 5), 4.0, 1e-9);
	cr_expect_eq(signal_magnitude(SIGNAL_LATENCY_P99, 5, 105), 0, "faster is fine");
	cr_expect_eq(signal_magnitude(SIGNAL_LATENCY_P99, 120, 100), 0, "x1.2 is under x1.5");
	/* request rate hurts both ways: halving is 1 (x2 floor), a drop to 0 counts by delta */
	cr_expect_float_eq(signal_magnitude(SIGNAL_REQUEST_RATE, 10, 20), 1.0, 1e-9);
	cr_expect_float_eq(signal_magnitude(SIGNAL_REQUEST_RATE, 0, 30), 10.0, 1e-9);
	cr_expect_float_eq(signal_magnitude(SIGNAL_REQUEST_RATE, 120, 30), 3.0, 1e-9);
	/* from a zero error rate only the delta floor applies */
	cr_expect_float_eq(signal_magnitude(SIGNAL_ERROR_RATE, 0.3, 0), 6.0, 1e-9);
	cr_expect_eq(signal_magnitude(SIGNAL_ERROR_RATE, NAN, 0), 0);
	cr_expect_eq(signal_find("tcp_resets"), SIGNAL_TCP_RESETS);
	cr_expect_eq(signal_find("nope"), -1);
}
