/*
 * Per-service series in memory: the last SERIES_SECONDS seconds of every
 * service the agents report, one point per second, merged across the
 * agents (hosts) that run the service. Ingest adds each stored window;
 * /services/health reads the recent past; detection (later) reads the
 * points. Memory grows with the number of services, not with time: a
 * fixed ring per service.
 *
 * Threads: one writer (ingest) and many readers (HTTP workers): a rwlock.
 *
 * Merging. Windows of several hosts for the same second add their counts.
 * Latency percentiles need the merged histogram of the second, which is
 * kept only while the second is "open": each service has two open merged
 * histograms, for the two newest seconds it has seen (hosts' windows for a
 * second arrive slightly apart, so the newest second is not enough). The
 * writer refreshes the point's p50/p95/p99 from the open histogram after
 * every window it merges, so readers never touch a histogram and a point's
 * percentiles are those of every window merged so far (within the
 * histogram's 1/256; stored as floats). When a newer second arrives, the
 * oldest open one closes and its histogram is reused. A window for an
 * older second (late, or replayed from an agent's spool) still adds its
 * counts; its latency is discarded (series_stats.late_latency), except that
 * a second with no latency yet takes that window's own percentiles, so a
 * replay of a single host's service keeps them.
 *
 * A window lands in the second its batch's end_ms falls in. Windows older
 * than the service's newest second by SERIES_SECONDS or more are dropped
 * (series_stats.stale); so are batches with end_ms before the epoch's
 * first second (series_stats.invalid). end_ms is trusted: ingest should
 * reject clocks far from its own, as one window far in the future moves a
 * service's ring past every other host's windows.
 *
 * Health over a span (series_health, snapshots): the seconds t with
 * now_s - window_s < t <= now_s (window_s clamped to 1..SERIES_SECONDS).
 *  - Rates are per second of the span: a second without a point counts as
 *    idle, so a service that stops reporting decays to 0 over window_s.
 *    But a service first seen less than window_s ago is rated over the
 *    seconds since it first appeared, min(window_s, now_s - first_s + 1),
 *    so a new service is not under-reported.
 *  - Latency is approximated from the per-second percentiles, since the
 *    per-second histograms are not kept: p50 is the request-weighted mean
 *    of the seconds' p50, p95 and p99 the largest of the seconds' p95 and
 *    p99. The tail is thus never under-reported (a single slow second
 *    shows), at the cost of over-reporting when load is uneven.
 *
 * Memory per service: about 1.2 KiB, plus the ring in pages of 60 points
 * (4.7 KiB each, allocated when first written: 71 KiB for a service that
 * reported during all of the last 15 minutes), plus the chunks of the two
 * open histograms (about 1 KiB per power of two their latencies span).
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
/* Distinct window_s values whose snapshot is cached at once. */
#define SERIES_SNAPSHOT_CACHE 4

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
	int64_t last_seen_s; /* the service's newest point, even outside the span */
	double request_rate; /* requests per second */
	double error_rate;   /* 5xx fraction of requests, 0 when none */
	/* over the whole span: see "Health over a span" above */
	double latency_p50_ms, latency_p95_ms, latency_p99_ms;
	double syscall_error_rate; /* failed fraction of syscalls */
	uint64_t tcp_retransmits, tcp_resets, tcp_connect_failures;
};

struct series_stats {
	size_t services;
	uint64_t dropped;      /* windows of services past SERIES_MAX_SERVICES */
	uint64_t late_latency; /* windows whose latency came too late to merge */
	uint64_t stale;	       /* windows older than their service's ring */
	uint64_t invalid;      /* windows of batches with no usable tenant or end_ms */
};

struct series;
struct series_snapshot;

/* The caller owns the result: series_free(). */
struct series *series_new(void);
/* series_new() with a bound other than SERIES_MAX_SERVICES (small deployments, tests). */
struct series *series_new_max(size_t max_services);
/* Snapshots still held stay valid: they are independent of @s. */
void series_free(struct series *s);

/*
 * Adds every window of @b, of @tenant, to the second b->end_ms falls in. Both
 * borrowed. Items are views (window_batch_decode_view(), what ingest passes)
 * or struct windows (encoded first, for tests and tools). An HTTP error is a
 * status of 500..599.
 */
void series_add(struct series *s, const char *tenant, const struct window_batch *b);

/*
 * The health of every service of @tenant (NULL: every tenant) over the
 * @window_s seconds up to @now_s, sorted by service name (then tenant);
 * free() *out. Every service known is listed, also one idle in the span.
 * Returns 0 (*out NULL and *n 0 when there is none). Any thread.
 */
int series_health(struct series *s, const char *tenant, int64_t now_s, unsigned window_s,
		  struct series_health **out, size_t *n);

/*
 * Copies the points of one service from @since_s on, oldest first; free() *out
 * (NULL when there is none). -ENOENT if unknown. Any thread.
 */
int series_points(struct series *s, const char *tenant, const char *service, int64_t since_s,
		  struct series_point **out, size_t *n);

void series_stats(struct series *s, struct series_stats *st);

/*
 * Cached health for the HTTP hot path. A snapshot is the series_health()
 * of every tenant at one (@now_s, @window_s), immutable and reference
 * counted; it is rebuilt at most once per second per window_s (for the
 * SERIES_SNAPSHOT_CACHE most recently used window_s). So what it shows may
 * miss the windows added since it was built, during the same second.
 *
 * series_snapshot_get() returns the cached snapshot when it was built for
 * @now_s (or for @now_s + 1, by a thread whose clock ticked first); else it
 * rebuilds it, under the read lock, one builder at a time. While another
 * thread rebuilds, a snapshot of @now_s - 1 is returned rather than
 * waiting. Never NULL; the caller owns a reference: series_snapshot_put().
 * Any thread.
 */
struct series_snapshot *series_snapshot_get(struct series *s, int64_t now_s, unsigned window_s);
/* Drops a reference; the last frees the snapshot. NULL does nothing. Any thread. */
void series_snapshot_put(struct series_snapshot *snap);
/* The second and span the snapshot was built for. */
int64_t series_snapshot_now(const struct series_snapshot *snap);
unsigned series_snapshot_window(const struct series_snapshot *snap);
/*
 * The health of @tenant's services (NULL: all), sorted by tenant then service
 * name; *@n entries, NULL when none. Borrowed: valid while @snap is held.
 */
const struct series_health *series_snapshot_health(const struct series_snapshot *snap,
						   const char *tenant, size_t *n);

#endif
