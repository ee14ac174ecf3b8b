/*
 * Detection end to end, with the real programs: the three demo services
 * under prp-loadgen, prp-agent watching them through eBPF, prp-aggregator
 * detecting. Chaos on payments (300 ms of latency, or 30% errors) must be
 * listed by GET /anomalies within seconds; steady load must raise no
 * anomaly of severity warning or above; a latency that climbs step by step
 * must be predicted to breach its SLO before it does.
 *
 * The figures are printed. The assertions hold generous bounds (this runs
 * on shared, noisy machines); tests/bench/detection.sh runs the same test
 * longer (PRP_DETECT_TRIALS, PRP_STEADY_S) for the BENCH figures.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/platform.h"

#define WARMUP_S    "30"
#define LOAD_RPS    "40"
/* Below the default 500 ms so that a climb of 2 ms/s breaches it in minutes. */
#define SLO_P99_MS  "200"

/* What the issue asks, and the generous bound the test asserts. */
#define TARGET_MEDIAN_S	  5.0
#define TARGET_WORST_S	  10.0
#define ASSERT_WORST_S	  20.0
#define TARGET_LEAD_S	  30.0

static struct platform pf;

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? atoi(v) : def;
}

static void setup(void)
{
	platform_start(&pf, 18570, 18581,
		       (const char *const[]){ "--detect-warmup", WARMUP_S, "--slo-latency-p99-ms",
					      SLO_P99_MS, NULL },
		       NULL, LOAD_RPS);
}

static void teardown(void)
{
	platform_stop(&pf);
	test_no_leaks();
}

TestSuite(detection, .init = setup, .fini = teardown, .timeout = 3600);

static json_t *api(const char *method, const char *path, const char *body)
{
	return platform_api(&pf, method, path, body);
}

static void chaos(const char *body)
{
	char url[128];
	long status;

	snprintf(url, sizeof(url), "%s/chaos", pf.trio.payments.url);
	json_decref(platform_call(body ? "POST" : "DELETE", url, body, &status));
	cr_assert(status >= 200 && status < 300, "chaos: %ld", status);
}

static double now_s(void)
{
	return (double)time_real_ns() / 1e9;
}

/* Waits until every signal the three services have is past warm-up. */
static void wait_warm(void)
{
	json_int_t warm = 0, series = 0;

	for (int i = 0; i < 240; i++) {
		json_t *st = api("GET", "/ml/status", NULL);

		warm = json_integer_value(json_object_get(st, "series_warm"));
		series = json_integer_value(json_object_get(st, "series"));
		json_decref(st);
		/* latency, request rate and error rate of the three services at least */
		if (series >= 21 && warm >= 9 && i >= atoi(WARMUP_S) + 15)
			return;
		time_sleep_ns(NSEC_PER_SEC);
	}
	cr_assert_fail("detection did not warm up: %lld of %lld signals warm\naggregator: %s",
		       (long long)warm, (long long)series, buf_str(&pf.aggregator.err));
}

/* The newest anomaly id there is (0: none yet). */
static json_int_t newest_anomaly_id(void)
{
	json_t *l = api("GET", "/anomalies?limit=1", NULL);
	json_t *first = json_array_get(json_object_get(l, "anomalies"), 0);
	json_int_t id = first ? json_integer_value(json_object_get(first, "id")) : 0;

	json_decref(l);
	return id;
}

/* Polls until payments has an anomaly on @metric with an id above @after; its delay, or -1. */
static double wait_anomaly(json_int_t after, const char *metric, double t0, double timeout_s)
{
	char path[128];

	snprintf(path, sizeof(path), "/anomalies?service=payments&metric=%s&limit=5", metric);
	while (now_s() - t0 < timeout_s) {
		json_t *l = api("GET", path, NULL), *a;
		size_t i;
		bool found = false;

		json_array_foreach (json_object_get(l, "anomalies"), i, a)
			found |= json_integer_value(json_object_get(a, "id")) > after;
		json_decref(l);
		if (found)
			return now_s() - t0;
		time_sleep_ns(100 * NSEC_PER_MSEC);
	}
	return -1;
}

/* Waits until payments has no open anomaly (after chaos is lifted). */
static void wait_payments_resolved(void)
{
	for (int i = 0; i < 120; i++) {
		json_t *l = api("GET", "/anomalies?service=payments&status=open", NULL);
		json_int_t n = json_integer_value(json_object_get(l, "count"));

		json_decref(l);
		if (n == 0)
			return;
		time_sleep_ns(NSEC_PER_SEC);
	}
	cr_assert_fail("payments' anomalies did not resolve within 120 s\naggregator: %s",
		       buf_str(&pf.aggregator.err));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Anomalies of severity warning or above opened since the test began. */
static json_int_t warnings_since(json_int_t after)
{
	json_t *l = api("GET", "/anomalies?severity=warning&limit=1000", NULL), *a;
	json_int_t n = 0;
	size_t i;

	json_array_foreach (json_object_get(l, "anomalies"), i, a) {
		if (json_integer_value(json_object_get(a, "id")) <= after)
			continue;
		n++;
		fprintf(stderr, "false alarm: %s\n", json_dumps(a, JSON_COMPACT));
	}
	json_decref(l);
	return n;
}

Test(detection, steady_load_is_quiet_and_chaos_on_payments_is_listed_within_seconds)
{
	int trials = env_int("PRP_DETECT_TRIALS", 4), steady_s = env_int("PRP_STEADY_S", 90);
	double delays[64], median;
	json_int_t first, warnings;

	wait_warm();
	first = newest_anomaly_id();
	time_sleep_ns((uint64_t)steady_s * NSEC_PER_SEC);
	warnings = warnings_since(first);
	printf("BENCH false_alarms_per_hour %.1f alarms/h (%lld in %d s of steady load)\n",
	       (double)warnings * 3600.0 / steady_s, (long long)warnings, steady_s);
	cr_expect_eq(warnings, 0, "%lld anomalies of severity warning or above under steady load",
		     (long long)warnings);

	if (trials > 64)
		trials = 64;
	for (int i = 0; i < trials; i++) {
		bool errors = i % 2;
		const char *metric = errors ? "error_rate" : "latency_p99";
		json_int_t after = newest_anomaly_id();
		double t0 = now_s();

		chaos(errors ? "{\"error_rate\": 0.3}" : "{\"latency_ms\": 300}");
		delays[i] = wait_anomaly(after, metric, t0, 60);
		chaos(NULL);
		printf("trial %d: %s on payments listed after %.2f s\n", i + 1, metric, delays[i]);
		cr_assert(delays[i] >= 0, "trial %d: no %s anomaly within 60 s\naggregator: %s",
			  i + 1, metric, buf_str(&pf.aggregator.err));
		wait_payments_resolved();
		time_sleep_ns(20 * NSEC_PER_SEC); /* the detectors settle back */
	}
	qsort(delays, (size_t)trials, sizeof(double), cmp_double);
	median = trials % 2 ? delays[trials / 2] : (delays[trials / 2 - 1] + delays[trials / 2]) / 2;
	printf("BENCH detect_delay_s %.2f s (median of %d trials; worst %.2f s; targets %.0f and "
	       "%.0f)\n",
	       median, trials, delays[trials - 1], TARGET_MEDIAN_S, TARGET_WORST_S);
	cr_assert_leq(delays[trials - 1], ASSERT_WORST_S, "worst delay %.2f s", delays[trials - 1]);
}

/* The latency_p99 prediction of payments: will_breach and breached. */
static void payments_prediction(bool *will_breach, bool *breached)
{
	json_t *l = api("GET", "/predictions/payments", NULL), *p;
	size_t i;

	*will_breach = *breached = false;
	json_array_foreach (json_object_get(l, "predictions"), i, p) {
		if (strcmp(json_string_value(json_object_get(p, "metric")), "latency_p99"))
			continue;
		*will_breach = json_is_true(json_object_get(p, "will_breach"));
		*breached = json_is_true(json_object_get(p, "breached"));
	}
	json_decref(l);
}

Test(detection, a_climbing_latency_is_predicted_to_breach_its_slo_before_it_does)
{
	double t0, predicted_at = -1, breached_at = -1, lead;
	char body[64];
	int latency_ms = 0;

	wait_warm();
	t0 = now_s();
	/* +10 ms every 5 s: 2 ms/s, through the 200 ms SLO after about 100 s */
	while (breached_at < 0 && now_s() - t0 < 400) {
		bool will, past;

		if (now_s() - t0 >= latency_ms / 2.0) {
			latency_ms += 10;
			snprintf(body, sizeof(body), "{\"latency_ms\": %d}", latency_ms);
			chaos(body);
		}
		payments_prediction(&will, &past);
		if (will && predicted_at < 0)
			predicted_at = now_s() - t0;
		if (past)
			breached_at = now_s() - t0;
		time_sleep_ns(250 * NSEC_PER_MSEC);
	}
	chaos(NULL);
	cr_assert(breached_at > 0, "the p99 of payments never reached the SLO\naggregator: %s",
		  buf_str(&pf.aggregator.err));
	cr_assert(predicted_at >= 0, "no breach was predicted before it happened at %.0f s\n"
		  "aggregator: %s", breached_at, buf_str(&pf.aggregator.err));
	lead = breached_at - predicted_at;
	printf("BENCH breach_lead_time_s %.1f s (predicted at %.1f s, breached at %.1f s; "
	       "target >= %.0f)\n", lead, predicted_at, breached_at, TARGET_LEAD_S);
	cr_assert_gt(lead, 0, "the breach was predicted %.1f s after it happened", -lead);
}
