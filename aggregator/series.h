/*
 * Per-service series in memory: the last SERIES_SECONDS seconds of every
 * service the agents report, one point per second, merged across the
 * agents (hosts) that run the service. Ingest adds each stored window;
 * /services/health reads the recent past; detection (later) reads the
 * points. Memory grows with the number of services, not with time: a
 * fixed ring per service.
 *
 * Threads: one writer (ingest) and many readers (HTTP workers): a rwlock.
 */
#ifndef PRP_AGGREGATOR_SERIES_H
#define PRP_AGGREGATOR_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "common/frame.h"
#include "common/window_wire.h"

#define SERIES_SECONDS 900
/* Services tracked; past it new services are counted in series_stats.dropped. */
#define SERIES_MAX_SERVICES 100000

/* One second of one service, summed over its hosts. */
struct series_point {
	int64_t t_s; /* the second (epoch) the windows ended in; 0 for an empty slot */
	uint64_t requests, errors;
	uint64_t syscalls, syscall_errors;
	uint64_t tcp_retransmits, tcp_resets, tcp_connect_failures;
	double latency_p50_ms, latency_p95_ms, latency_p99_ms; /* of the merged histogram */
};

/* What /services/health shows for one service: the last @window_s seconds. */
struct series_health {
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	int64_t last_seen_s;
	double request_rate;	   /* requests per second */
	double error_rate;	   /* 5xx fraction of requests, 0 when none */
	double latency_p50_ms, latency_p95_ms, latency_p99_ms; /* over the whole span */
	double syscall_error_rate; /* failed fraction of syscalls */
	uint64_t tcp_retransmits, tcp_resets, tcp_connect_failures;
};

struct series_stats {
	size_t services;
	uint64_t dropped; /* windows of services past SERIES_MAX_SERVICES */
};

struct series;

struct series *series_new(void);
void series_free(struct series *s);

/* Adds every window of @b, of @tenant, to the second b->end_ms falls in. */
void series_add(struct series *s, const char *tenant, const struct window_batch *b);

/*
 * The health of every service of @tenant (NULL: every tenant) over the
 * @window_s seconds up to @now_s, sorted by service name; free() *out.
 */
int series_health(struct series *s, const char *tenant, int64_t now_s, unsigned window_s,
		  struct series_health **out, size_t *n);

/* Copies the points of one service from @since_s on, oldest first; free() *out. -ENOENT if unknown. */
int series_points(struct series *s, const char *tenant, const char *service, int64_t since_s,
		  struct series_point **out, size_t *n);

void series_stats(struct series *s, struct series_stats *st);

#endif
