/*
 * How the executor judges a service while its circuit breaker half-opens
 * (executor_health_fn): by the requests that got through since the
 * half-open began, against the service's SLOs. Good when some got through
 * and both their error rate and every second's p99 are within the SLOs;
 * bad when either is past them; unknown when none got through (the
 * breaker lets one connection per probe interval pass, and a caller may
 * not have tried).
 */
#ifndef PRP_AGGREGATOR_POLICY_BREAKER_HEALTH_H
#define PRP_AGGREGATOR_POLICY_BREAKER_HEALTH_H

#include <stdint.h>

#include "aggregator/policy/executor.h"

struct series;
struct detection;

struct breaker_health {
	struct series *series;	     /* borrowed */
	struct detection *detection; /* borrowed: the SLOs; NULL: DESIGN's defaults */
};

/* An executor_health_fn; @arg is a struct breaker_health. */
enum executor_health breaker_health_judge(const char *tenant, const char *service,
					  int64_t since_ms, void *arg);

#endif
