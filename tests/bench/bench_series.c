/*
 * Cost of the in-memory series (aggregator/series.c), as `BENCH <name>
 * <value> <unit>` lines. The load is 1000 services of one tenant, each run
 * by 10 hosts, so 10,000 windows a second arrive as 40 batches of 250
 * services (a batch holds at most SERVICES_MAX windows). Each window is
 * realistic: four HTTP entries (three routes, one of them also failing)
 * with lognormal latencies around 2 ms, six syscalls, TCP counters. The
 * windows are built before timing, so the loop measures series_add().
 *
 *   series_add_windows_per_s    windows merged per second, median of 3 runs of 60 s of data
 *   series_health_1000_us       a snapshot rebuild over 60 s for the 1000 services, median of 21
 *   series_snapshot_get_ns      a cached series_snapshot_get() + put, one thread
 *   series_rss_1000_services_kib  resident memory after 201 s of data (a ring is 900 s)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/series.h"
#include "common/hist.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/rng.h"

#define BENCH_SERVICES	    1000
#define BENCH_HOSTS_PER_SVC 10
#define BENCH_PER_BATCH	    250 /* services per host */
#define BENCH_GROUPS	    (BENCH_SERVICES / BENCH_PER_BATCH)
#define BENCH_HOSTS	    (BENCH_GROUPS * BENCH_HOSTS_PER_SVC)
#define BENCH_RUN_SECONDS   60
#define BENCH_RUNS	    3
#define BENCH_HEALTH_RUNS   21
#define BENCH_GET_OPS	    1000000
#define T0		    1700000000

/* Keeps results observable so the optimizer cannot drop the work. */
static volatile uint64_t sink;

static uint64_t rng_latency(uint64_t *s, double median_ns)
{
	double n = sqrt(-2.0 * log(rng_unit(s))) * cos(2.0 * M_PI * rng_unit(s));

	return (uint64_t)(median_ns * exp(0.7 * n));
}

static void fill_http(struct window *w, const char *method, const char *route, uint16_t status,
		      unsigned n, double median_ns, uint64_t *seed)
{
	struct window_http *h = window_http_get(w, method, route, status);

	for (unsigned i = 0; i < n; i++) {
		h->count++;
		hist_record(&h->latency_ns, rng_latency(seed, median_ns));
	}
}

static void fill_window(struct window *w, uint64_t *seed)
{
	static const char *const syscalls[] = { "read",	 "write",  "epoll_wait",
						"futex", "sendto", "recvfrom" };

	fill_http(w, "GET", "/orders", 200, 60, 2e6, seed);
	fill_http(w, "POST", "/orders", 201, 15, 5e6, seed);
	fill_http(w, "GET", "/orders/{id}", 200, 30, 1e6, seed);
	fill_http(w, "GET", "/orders/{id}", 500, 1, 30e6, seed);
	for (uint32_t i = 0; i < 6; i++) {
		struct window_syscall *sc = window_syscall_get(w, i, syscalls[i]);

		sc->count = 100 + rng_next(seed) % 400;
		sc->errors = rng_next(seed) % 3;
	}
	w->tcp.retransmits = rng_next(seed) % 2;
}

/* One batch per host; hosts of a group share the group's windows (read only). */
struct load {
	struct window_set sets[BENCH_GROUPS];
	struct window_batch_item items[BENCH_GROUPS][BENCH_PER_BATCH];
	struct window_batch batches[BENCH_HOSTS];
};

static void load_init(struct load *l)
{
	uint64_t seed = 1;

	memset(l, 0, sizeof(*l));
	for (int g = 0; g < BENCH_GROUPS; g++) {
		window_set_init(&l->sets[g]);
		for (int i = 0; i < BENCH_PER_BATCH; i++) {
			struct window_batch_item *it = &l->items[g][i];

			snprintf(it->service, sizeof(it->service), "service-%04d",
				 g * BENCH_PER_BATCH + i);
			it->w = window_set_get(&l->sets[g], (uint16_t)(i + 1));
			fill_window(it->w, &seed);
		}
	}
	for (int h = 0; h < BENCH_HOSTS; h++) {
		struct window_batch *b = &l->batches[h];

		snprintf(b->host, sizeof(b->host), "host-%02d", h);
		b->interval_ms = 1000;
		b->items = l->items[h / BENCH_HOSTS_PER_SVC];
		b->n = BENCH_PER_BATCH;
	}
}

static void load_release(struct load *l)
{
	for (int g = 0; g < BENCH_GROUPS; g++)
		window_set_release(&l->sets[g]);
}

/* Every host's windows for second @t; hosts' order rotates, as arrival does. */
static void add_second(struct series *s, struct load *l, int64_t t)
{
	for (int i = 0; i < BENCH_HOSTS; i++) {
		struct window_batch *b = &l->batches[(i + t * 7) % BENCH_HOSTS];

		b->end_ms = t * 1000 + 900;
		series_add(s, "acme", b);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *x, size_t n)
{
	qsort(x, n, sizeof(*x), cmp_double);
	return x[n / 2];
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * 4;
}

int main(void)
{
	struct load *l = calloc(1, sizeof(*l));
	struct series *s = series_new();
	double per_s[BENCH_RUNS], us[BENCH_HEALTH_RUNS];
	int64_t t = T0;
	uint64_t start;

	if (!l || !s)
		return 1;
	load_init(l);

	for (int run = 0; run < BENCH_RUNS; run++) {
		start = time_mono_ns();
		for (int i = 0; i < BENCH_RUN_SECONDS; i++)
			add_second(s, l, t++);
		per_s[run] = (double)BENCH_RUN_SECONDS * BENCH_SERVICES * BENCH_HOSTS_PER_SVC /
			     ((double)(time_mono_ns() - start) / 1e9);
	}
	printf("BENCH series_add_windows_per_s %.0f windows/s\n", median(per_s, BENCH_RUNS));

	/* once per second, as the HTTP workers would: a new second, a rebuild */
	for (int run = 0; run < BENCH_HEALTH_RUNS; run++) {
		struct series_snapshot *snap;
		size_t n;

		add_second(s, l, t);
		start = time_mono_ns();
		snap = series_snapshot_get(s, t, 60);
		us[run] = (double)(time_mono_ns() - start) / 1e3;
		sink += (uint64_t)series_snapshot_health(snap, "acme", &n)[0].request_rate + n;
		series_snapshot_put(snap);
		t++;
	}
	printf("BENCH series_health_1000_us %.1f us\n", median(us, BENCH_HEALTH_RUNS));

	start = time_mono_ns();
	for (int i = 0; i < BENCH_GET_OPS; i++) {
		struct series_snapshot *snap = series_snapshot_get(s, t - 1, 60);

		sink += series_snapshot_window(snap);
		series_snapshot_put(snap);
	}
	printf("BENCH series_snapshot_get_ns %.1f ns\n",
	       (double)(time_mono_ns() - start) / BENCH_GET_OPS);
	printf("BENCH series_rss_1000_services_kib %ld KiB\n", rss_kib());

	series_free(s);
	load_release(l);
	free(l);
	return 0;
}
