/*
 * The body of GET /metrics: what the agents saw of a tenant's services,
 * named as OpenTelemetry's HTTP semantic conventions are when Prometheus
 * exports them (http_server_request_duration_seconds and the client's), plus
 * prp's own series and, for the default tenant, the aggregator's health.
 * docs/metrics.md lists every family and label.
 *
 * The service counters come from the store (store_metrics_each()): they
 * survive restarts and agree with the stored windows. Scores, open
 * anomalies and predictions are read live from detection.
 */
#ifndef PRP_AGGREGATOR_EXPORT_METRICS_H
#define PRP_AGGREGATOR_EXPORT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct detection;

#define METRICS_REASONS_MAX   16
#define METRICS_EXPORTERS_MAX 4

/* The aggregator's own health, shown to the default tenant only. */
struct metrics_platform {
	const char *version;
	double start_time_s; /* the process's start, seconds since the epoch */
	uint64_t frames_received, windows_received, agents_connected;
	struct {
		const char *reason; /* a literal: "hmac", "duplicate"... */
		uint64_t count;
	} rejected[METRICS_REASONS_MAX];
	size_t nrejected;
	struct {
		const char *exporter; /* "loki", "otlp" */
		uint64_t sent, dropped;
	} exporters[METRICS_EXPORTERS_MAX];
	size_t nexporters;
};

struct metrics_request {
	struct store *store;	       /* a reader */
	struct detection *detection;   /* may be NULL: no scores, anomalies or predictions */
	const char *tenant;
	const struct metrics_platform *platform; /* NULL: not shown */
	bool openmetrics;		 /* OpenMetrics 1.0 rather than the text format 0.0.4 */
};

/* The body, *@len bytes the caller frees; NULL and a negative errno in *@err on failure. */
char *metrics_render(const struct metrics_request *r, size_t *len, int *err);

#endif
