/*
 * The body of GET /services/health, rendered about twice a second per
 * tenant and shared by every request meanwhile: the endpoint must answer
 * 1000 services at 20,000 requests/s with a p99 of 5 ms, which neither a
 * render per request (the series' snapshot, JSON of 1000 objects and gzip take
 * 20 to 50 ms) nor a render on a worker once a second (stalling the
 * requests queued behind it) allows. So a refresher thread of its own
 * re-renders every body requested in the last HEALTH_CACHE_IDLE_S before it
 * is HEALTH_CACHE_REFRESH_MS old; a worker renders only the first body of a
 * tenant, or one past HEALTH_CACHE_MAX_AGE_MS if the refresher fell behind.
 * Any thread.
 *
 * Body: {services: [{service, status, last_seen, metrics: {request_rate,
 * error_rate, latency_p50, latency_p95, latency_p99 (ms), syscall_error_rate,
 * tcp_retransmits, tcp_resets, tcp_connect_failures}, anomalies_detected}],
 * count, window_s, timestamp}.
 */
#ifndef PRP_AGGREGATOR_HTTP_HEALTH_CACHE_H
#define PRP_AGGREGATOR_HTTP_HEALTH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

struct blob;
struct health_cache;
struct detection;
struct series;

/* The span each service's health covers. */
#define HEALTH_CACHE_WINDOW_S 60
/* A rendered body is served for at most this long ... */
#define HEALTH_CACHE_MAX_AGE_MS 1000
/* ... and re-rendered by the refresher once this old (it checks every TICK). */
#define HEALTH_CACHE_REFRESH_MS 500
#define HEALTH_CACHE_TICK_MS	250
/* Bodies nobody asked for in this long are no longer refreshed. */
#define HEALTH_CACHE_IDLE_S 10
/* Reals with 6 significant digits: plenty for rates and ms, and a smaller body. */
#define HEALTH_CACHE_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))
/* Tenants cached at once; the least recently rendered is replaced. */
#define HEALTH_CACHE_TENANTS 32

/*
 * Starts the refresher. @series is borrowed (may be NULL: every body lists
 * no service, and no refresher runs); so is @detection, which gives each
 * service's open anomalies (NULL: none). 0, or the errno of pthread_create();
 * the caller owns *out: health_cache_free().
 */
PRP_MUST_CHECK int health_cache_new(struct health_cache **out, struct series *series,
				    struct detection *detection);
/* Stops the refresher and frees every body. NULL does nothing. */
void health_cache_free(struct health_cache *hc);

/*
 * The body for @tenant at @now_ms (ms since the epoch), rendered if the
 * cached one is older than HEALTH_CACHE_MAX_AGE_MS; with @gzip, the same
 * body gzip-compressed (1000 services are about 350 KB of JSON and 16 KB
 * gzipped: sending the plain body is what limits the request rate). The
 * caller owns one reference (blob_unref()). NULL when rendering failed
 * (out of memory in jansson or zlib).
 */
struct blob *health_cache_get(struct health_cache *hc, const char *tenant, int64_t now_ms,
			      bool gzip);

#endif
