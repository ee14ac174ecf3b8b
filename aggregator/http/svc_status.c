/*
 * Status words. A service with no requests in the span has no error rate or
 * latency to judge, and is healthy.
 */
#include "aggregator/http/svc_status.h"

static const char *const svc_status_names[] = { "healthy", "warning", "degraded", "critical" };

static int svc_status_level(double v, double warning, double degraded, double critical)
{
	if (v >= critical)
		return 3;
	if (v >= degraded)
		return 2;
	if (v >= warning)
		return 1;
	return 0;
}

const char *svc_status_name(const struct series_health *h)
{
	int e = svc_status_level(h->error_rate, SVC_STATUS_ERRORS_WARNING,
				 SVC_STATUS_ERRORS_DEGRADED, SVC_STATUS_ERRORS_CRITICAL);
	int l = svc_status_level(h->latency_p99_ms, SVC_STATUS_P99_WARNING_MS,
				 SVC_STATUS_P99_DEGRADED_MS, SVC_STATUS_P99_CRITICAL_MS);

	return svc_status_names[e > l ? e : l];
}
