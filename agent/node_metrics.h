/*
 * What the agent's local /metrics shows (docs/agent.md, "Local /metrics"):
 * per-service counters summed over every window closed since the agent
 * started, named and labelled as the aggregator's /metrics names them
 * (docs/metrics.md): http_server_request_duration_seconds and the client's
 * in OpenTelemetry's default bins, prp_http_client_errors_total,
 * prp_syscalls_total, prp_syscall_errors_total, prp_tcp_*_total and
 * prp_metrics_series_overflow_total; and the agent's own health
 * (prp_agent_*), as the main loop hands it over.
 *
 * Bounds. A service keeps at most `series_per_service` HTTP series, server
 * and client together; past it, a new series's counts go to the service's
 * overflow series (method "_OTHER", route "{overflow}", no status; callee
 * "{overflow}") and prp_metrics_series_overflow_total counts the window
 * entries that took that path, as the aggregator does. Syscall series need
 * no cap: names and errnos are finite. At most NODE_METRICS_SERVICES_MAX
 * service names are kept (with automatic discovery, names can come and go
 * over an agent's life); windows of any further service are left out, with
 * one warning.
 *
 * Threads. The main loop owns the live counters: it calls node_metrics_add()
 * for each service after a window closes, then node_metrics_publish(), which
 * copies the counters into an immutable snapshot and swaps a pointer to it
 * under the lock. The server's thread calls node_metrics_render(), which
 * takes a reference to the current snapshot under the same lock and writes
 * the text without it. So neither waits for the other longer than a pointer
 * swap; a scrape sees the counters as of the last closed window.
 */
#ifndef PRP_AGENT_NODE_METRICS_H
#define PRP_AGENT_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/window.h"

#define NODE_METRICS_SERVICES_MAX 1024
/* OpenTelemetry's default bounds for http.*.request.duration: 5 ms to 10 s. */
#define NODE_METRICS_BOUNDS	  14
#define NODE_METRICS_DROPS_MAX	  8
#define NODE_METRICS_SAMPLERS_MAX 4

/* The agent's own state when a window closed; strings are static literals. */
struct node_metrics_health {
	uint64_t windows;	 /* closed since the agent started */
	size_t services_watched; /* now */
	struct {
		const char *name; /* "http", "syscalls", "tcp" */
		bool on;
	} samplers[NODE_METRICS_SAMPLERS_MAX];
	size_t nsamplers;
	struct {
		const char *sampler, *reason; /* "http", "map_full" */
		uint64_t count;		      /* since the sampler started */
	} drops[NODE_METRICS_DROPS_MAX];
	size_t ndrops;
	bool uplink; /* windows are sent: the fields below mean something */
	bool uplink_connected;
	uint64_t frames_sent, frames_acked, spool_bytes, spool_lost_frames;
};

struct node_metrics;

/*
 * Empty counters, with @series_per_service as the HTTP series cap and
 * @start_time_s (seconds since the epoch) as prp_agent_start_time_seconds.
 * Publishes an empty snapshot, so a scrape before the first window gets a
 * valid answer. The caller owns the result: node_metrics_free().
 */
struct node_metrics *node_metrics_new(uint64_t series_per_service, double start_time_s);
/* Frees everything; no render may be running (stop the server first). NULL is fine. */
void node_metrics_free(struct node_metrics *m);

/*
 * Adds the closed window @w (borrowed; NULL for a quiet service, which is
 * then known, with zero counters) of the service named @service. Main loop.
 */
void node_metrics_add(struct node_metrics *m, const char *service, const struct window *w);

/* Makes the counters added so far, and @h (copied), what scrapes see. Main loop. */
void node_metrics_publish(struct node_metrics *m, const struct node_metrics_health *h);

/*
 * The exposition of the last published snapshot: the Prometheus text format
 * 0.0.4, or OpenMetrics 1.0 with @openmetrics. Returns the text (*@len
 * bytes), which the caller owns (free()). Any thread; matches
 * metrics_http_render_fn with @m as the argument.
 */
char *node_metrics_render(void *m, bool openmetrics, size_t *len);

#endif
