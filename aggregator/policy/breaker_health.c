/*
 * The half-open judgement (breaker_health.h). Only whole seconds after
 * @since count, so the second the breaker half-opened in, which still
 * holds the failures that opened it, does not condemn the probe.
 */
#include "aggregator/policy/breaker_health.h"

#include <stdlib.h>

#include "aggregator/detect/detection.h"
#include "aggregator/series.h"

#define BREAKER_HEALTH_P99_MS	  500.0 /* without detection: DESIGN's default SLOs */
#define BREAKER_HEALTH_ERROR_RATE 0.05

enum executor_health breaker_health_judge(const char *tenant, const char *service,
					  int64_t since_ms, void *arg)
{
	const struct breaker_health *bh = arg;
	struct series_point *p = NULL;
	double p99_slo = BREAKER_HEALTH_P99_MS, err_slo = BREAKER_HEALTH_ERROR_RATE;
	uint64_t requests = 0, errors = 0;
	bool slow = false;
	size_t n = 0;

	if (bh->detection) {
		double v = detection_slo(bh->detection, service, SIGNAL_LATENCY_P99);

		if (v > 0)
			p99_slo = v;
		v = detection_slo(bh->detection, service, SIGNAL_ERROR_RATE);
		if (v > 0)
			err_slo = v;
	}
	if (series_points(bh->series, tenant, service, since_ms / 1000 + 1, &p, &n))
		return EXECUTOR_HEALTH_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		requests += p[i].requests;
		errors += p[i].errors;
		if (p[i].requests && p[i].latency_p99_ms > p99_slo)
			slow = true;
	}
	free(p);
	if (!requests)
		return EXECUTOR_HEALTH_UNKNOWN;
	if (slow || (double)errors / (double)requests > err_slo)
		return EXECUTOR_HEALTH_BAD;
	return EXECUTOR_HEALTH_GOOD;
}
