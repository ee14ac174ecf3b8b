/*
 * What the stream benchmarks (bench_stream.c: SSE, bench_stream_ws.c:
 * WebSocket) share: the aggregator's API and event bus in this process over
 * a fresh store, events published with the time they were published, and
 * the report of the receipts' latencies. Header-only: each benchmark is
 * one program.
 */
#ifndef PRP_TESTS_BENCH_STREAM_RIG_H
#define PRP_TESTS_BENCH_STREAM_RIG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "aggregator/events/bus.h"
#include "aggregator/http/api.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/log.h"
#include "common/timeutil.h"

struct stream_rig {
	const char *name; /* the benchmark's, for its messages */
	char dir[64];
	struct store_options so;
	struct series *series;
	struct bus *bus;
	struct api *api;
};

static inline void stream_rig_die(const struct stream_rig *r, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", r->name, what, strerror(errno));
	exit(1);
}

/* Starts the store, the bus and the API for @subscribers clients, as many descriptors allowed. */
static inline void stream_rig_start(struct stream_rig *r, const char *name, int subscribers)
{
	struct store_options ro;
	struct rlimit rl;
	struct store *st;

	memset(r, 0, sizeof(*r));
	r->name = name;
	log_init(name, LOG_LEVEL_WARN, LOG_TO_STDERR);
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(r->dir, sizeof(r->dir), "/tmp/prp-%s-XXXXXX", name);
	if (!mkdtemp(r->dir))
		stream_rig_die(r, "mkdtemp");
	r->so = (struct store_options){ .dir = r->dir, .raw_hours = 24, .minute_days = 14 };
	if (store_open(&st, &r->so))
		stream_rig_die(r, "store");
	store_close(st);
	r->series = series_new();
	if (bus_open(&r->bus, &r->so))
		stream_rig_die(r, "bus");
	ro = r->so;
	ro.read_only = true;
	if (api_start(&r->api, &(struct api_config){ .bind_address = "127.0.0.1",
						     .threads = 2,
						     .connection_limit = 4 * (unsigned)subscribers,
						     .version = "bench",
						     .series = r->series,
						     .store = &ro,
						     .bus = r->bus }))
		stream_rig_die(r, "api_start");
}

/* Publishes an event whose data is {"t_ns": now}: what the clients measure from. */
static inline void stream_rig_publish(struct stream_rig *r)
{
	bus_publish(r->bus, "default", BUS_ANOMALY_DETECTED, "payments", STORE_SEVERITY_CRITICAL,
		    json_pack("{s:I}", "t_ns", (json_int_t)time_mono_ns()));
}

static inline int stream_rig_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints BENCH @metric (the median) and @p99_metric of the @n receipts in @samples (sorted here). */
static inline void stream_rig_report(const char *metric, const char *p99_metric, double *samples,
				     size_t n, int subscribers)
{
	qsort(samples, n, sizeof(double), stream_rig_cmp_double);
	printf("BENCH %s %.2f ms (median of %zu receipts; p99 %.2f ms; %d subscribers)\n", metric,
	       samples[n / 2], n, samples[n * 99 / 100], subscribers);
	printf("BENCH %s %.2f ms\n", p99_metric, samples[n * 99 / 100]);
}

/* Stops what stream_rig_start() started and removes the store: 0, or 1 when it cannot. */
static inline int stream_rig_stop(struct stream_rig *r)
{
	char cmd[128];

	api_stop(r->api);
	bus_close(r->bus);
	series_free(r->series);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	return system(cmd) ? 1 : 0;
}

#endif
