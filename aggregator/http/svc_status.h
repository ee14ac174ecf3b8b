/*
 * A service's status word from its recent health: healthy, warning,
 * degraded or critical (API.md), the worst of what its error rate and its
 * p99 latency say. Fixed thresholds until detection (a later issue) can
 * raise a status from anomalies. Pure; any thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_SVC_STATUS_H
#define PRP_AGGREGATOR_HTTP_SVC_STATUS_H

#include "aggregator/series.h"

/* 5xx fraction of requests at or past which the status is warning, degraded, critical. */
#define SVC_STATUS_ERRORS_WARNING  0.01
#define SVC_STATUS_ERRORS_DEGRADED 0.05
#define SVC_STATUS_ERRORS_CRITICAL 0.20
/* p99 latency in ms at or past which the status is warning, degraded, critical. */
#define SVC_STATUS_P99_WARNING_MS  500.0
#define SVC_STATUS_P99_DEGRADED_MS 1000.0
#define SVC_STATUS_P99_CRITICAL_MS 2000.0

/* A literal: "healthy", "warning", "degraded" or "critical". */
const char *svc_status_name(const struct series_health *h);

#endif
