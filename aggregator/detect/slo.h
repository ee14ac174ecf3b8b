/*
 * Service level objectives: what a breach is for each service's p99
 * latency and error rate. Every service has the defaults (slo.latency_p99_ms,
 * slo.error_rate); `slo.service` entries override them per service name
 * (in every tenant):
 *
 *     payments:latency_p99_ms=300,error_rate=0.01
 *
 * Parsed from the configuration, checked at load (--check-config names the
 * bad entry), then read-only: any thread.
 */
#ifndef PRP_AGGREGATOR_DETECT_SLO_H
#define PRP_AGGREGATOR_DETECT_SLO_H

#include <stddef.h>

#include "aggregator/detect/signals.h"
#include "common/compiler.h"
#include "common/window.h"

struct slo_override {
	char service[SERVICE_NAME_MAX];
	double latency_p99_ms; /* 0: the default */
	double error_rate;     /* 0: the default */
};

struct slo_table {
	double latency_p99_ms, error_rate; /* the defaults */
	struct slo_override *items;	   /* owned */
	size_t n;
};

/*
 * Fills @t from the defaults and the `slo.service` entries @items[0..n).
 * Returns 0, or -EINVAL with the entry and the reason in @err (@t is then
 * empty). The caller owns @t: slo_table_release().
 */
PRP_MUST_CHECK int slo_table_init(struct slo_table *t, double latency_p99_ms, double error_rate,
				  const char *const *items, size_t n, char *err, size_t errlen);
void slo_table_release(struct slo_table *t);
/* A deep copy of @src into @dst (release it). */
void slo_table_copy(struct slo_table *dst, const struct slo_table *src);

/* The objective of @sig for @service: its override, else the default; 0 when @sig has none. */
double slo_table_get(const struct slo_table *t, const char *service, enum signal_id sig);

#endif
