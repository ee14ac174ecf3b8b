/*
 * The logs sampler: loads bpf/logs.bpf.c, which copies what watched
 * processes write to fds 1 and 2 into a ring buffer, and turns those bytes
 * into lines (agent/log_lines.h) that ride in each service's window
 * (struct window_log, common/window.h) to the aggregator, which pushes
 * them to Loki: the services' stdout and stderr with no log shipper.
 *
 * Threads. A drain thread of its own empties the ring every LOGS_POLL_MS,
 * or at once when the kernel says it is half full, and cuts lines; the
 * main loop's collect takes the lines of the window. Everything below the
 * skeleton is guarded by @lock; the other functions belong to the thread
 * that started the sampler (the agent's main loop).
 *
 * Bounds, each drop counted: the ring (LOGS_RING_BYTES), the records of
 * one write (bpf/logs.h), rate_limit lines per second per service,
 * max_lines_per_window lines per service per window, and
 * SAMPLER_LOGS_WINDOW_BYTES bytes of lines per window over all services,
 * which keeps a window's frame under FRAME_PAYLOAD_MAX.
 */
#ifndef PRP_AGENT_SAMPLER_LOGS_H
#define PRP_AGENT_SAMPLER_LOGS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/log_lines.h"
#include "agent/services.h"
#include "common/compiler.h"
#include "common/window.h"

/*
 * Bytes of lines one window may carry over all services, as they are on the
 * wire: half a frame's payload, the rest left to the counters.
 */
#define SAMPLER_LOGS_WINDOW_BYTES (8u << 20)
/* A partial line this old is flushed as it is. */
#define SAMPLER_LOGS_MAX_AGE_NS (1000ull * 1000 * 1000)

struct logs_bpf;
struct ring_buffer;
struct logs_drops;

struct sampler_logs_config {
	size_t max_line;	     /* logs.max_line (agent/log_lines.h bounds it) */
	uint32_t rate_limit;	     /* logs.rate_limit, lines/s per service; 0: none */
	size_t max_lines_per_window; /* logs.max_lines_per_window, per service */
};

struct sampler_logs_stats {
	struct log_lines_stats lines; /* reassembly */
	/* the kernel's (struct logs_drops), summed over the CPUs */
	uint64_t writes, ring_full, truncated, unread;
	uint64_t window_full; /* lines dropped at max_lines_per_window */
	uint64_t bytes_full;  /* lines dropped at SAMPLER_LOGS_WINDOW_BYTES */
};

struct sampler_logs {
	struct logs_bpf *skel; /* NULL while stopped */
	pthread_t thread;
	bool thread_on;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards every field below it */
	struct ring_buffer *rb;
	struct log_lines *lines;
	struct window_set pending; /* lines not collected yet, by service id */
	size_t pending_bytes;
	size_t max_lines_per_window;
	int64_t real_minus_mono_ns; /* unix time minus CLOCK_MONOTONIC, at the last drain */
	uint64_t window_full, bytes_full;
	uint64_t drops_logged; /* drops already reported in the log */
	uint64_t last_report_ns;
	/* the main loop's alone */
	uint32_t *tgids; /* tgids now in svc_by_tgid, sorted */
	size_t ntgids;
	struct logs_drops *percpu; /* read buffer, one value per possible CPU */
	int ncpus;
};

/*
 * Opens, loads and attaches the programs and starts the drain thread; @s
 * needs no initialization. When the kernel lacks the write tracepoints or
 * what the programs need (task storage: 5.11), returns a negative errno
 * after one warning, leaving @s stopped, holding nothing. Call
 * loader_init() first.
 */
PRP_MUST_CHECK int sampler_logs_start(struct sampler_logs *s, const struct sampler_logs_config *c);
/* Stops the thread, detaches and frees everything, lines not collected too. Safe when stopped. */
void sampler_logs_stop(struct sampler_logs *s);

/*
 * Watches the processes of @set (borrowed for the call): their writes to
 * fds 1 and 2 are copied. Returns 0, -ENODEV when stopped, or the negative
 * errno of a failed map update (calling again repairs the map).
 */
PRP_MUST_CHECK int sampler_logs_set_targets(struct sampler_logs *s, const struct service_set *set);

/*
 * Drains the ring and moves every finished line since the last call into
 * window_set_get(@ws, id)->logs, in order, with unix timestamps. Returns
 * 0, or -ENODEV when stopped.
 */
PRP_MUST_CHECK int sampler_logs_collect(struct sampler_logs *s, struct window_set *ws);

/* Drains the ring and finishes every partial line as it is: before the last collect. */
void sampler_logs_flush(struct sampler_logs *s);

/* The counters since start. */
void sampler_logs_get_stats(struct sampler_logs *s, struct sampler_logs_stats *out);

#endif
