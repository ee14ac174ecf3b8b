#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/series.h"
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/rng.h"

TestSuite(series, .fini = test_no_leaks);

#define T0 1700000000 /* a second in 2023: any positive epoch second works */

/* ---- helpers ------------------------------------------------------------ */

/* Lognormal latency in ns around @median_ns. */
static uint64_t rng_latency(uint64_t *s, double median_ns)
{
	double n = sqrt(-2.0 * log(rng_unit(s))) * cos(2.0 * M_PI * rng_unit(s));

	return (uint64_t)(median_ns * exp(0.8 * n));
}

/* One host's batch: windows of several services, all ending in one second. */
struct fixture {
	struct window_set ws;
	struct window_batch_item items[16];
	struct window_batch b;
};

static void fx_init(struct fixture *f, const char *host, int64_t t_s)
{
	memset(f, 0, sizeof(*f));
	window_set_init(&f->ws);
	snprintf(f->b.host, sizeof(f->b.host), "%s", host);
	f->b.end_ms = t_s * 1000 + 500;
	f->b.interval_ms = 1000;
	f->b.items = f->items;
}

static struct window *fx_window(struct fixture *f, const char *service)
{
	struct window_batch_item *it = &f->items[f->b.n];

	cr_assert_lt(f->b.n, sizeof(f->items) / sizeof(f->items[0]));
	snprintf(it->service, sizeof(it->service), "%s", service);
	it->w = window_set_get(&f->ws, (uint16_t)(f->b.n + 1));
	f->b.n++;
	return it->w;
}

static void fx_release(struct fixture *f)
{
	window_set_release(&f->ws);
}

/* @n requests of @status, each taking @latency_ns. */
static void add_http(struct window *w, uint16_t status, uint64_t n, uint64_t latency_ns)
{
	struct window_http *h = window_http_get(w, "GET", "/orders", status);

	h->count += n;
	hist_record_n(&h->latency_ns, latency_ns, n);
}

/* Adds @requests (@errors of them 5xx) of @latency_ns to @service of @tenant at @t_s. */
static void add_simple(struct series *s, const char *tenant, const char *host, const char *service,
		       int64_t t_s, uint64_t requests, uint64_t errors, uint64_t latency_ns)
{
	struct fixture f;
	struct window *w;

	fx_init(&f, host, t_s);
	w = fx_window(&f, service);
	if (requests > errors)
		add_http(w, 200, requests - errors, latency_ns);
	if (errors)
		add_http(w, 503, errors, latency_ns);
	series_add(s, tenant, &f.b);
	fx_release(&f);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Points keep percentiles as floats: allow their rounding. */
static void assert_close(double got, double want)
{
	cr_assert(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9, "got %.9f, want %.9f", got, want);
}

/* ---- counts ------------------------------------------------------------- */

Test(series, counts_are_summed_across_hosts_per_second)
{
	struct series *s = series_new();
	struct series_point *p;
	size_t n;

	for (int host = 0; host < 3; host++) {
		char name[16];
		struct fixture f;
		struct window *w;
		struct window_syscall *sc;

		snprintf(name, sizeof(name), "web-%d", host);
		fx_init(&f, name, T0);
		w = fx_window(&f, "orders");
		add_http(w, 200, 10, 1000000);
		add_http(w, 500, 2, 1000000);
		add_http(w, 404, 1, 1000000);
		sc = window_syscall_get(w, 0, "read");
		sc->count = 100;
		sc->errors = 3;
		sc = window_syscall_get(w, 1, "write");
		sc->count = 50;
		sc->errors = 1;
		w->tcp.retransmits = 1;
		w->tcp.resets = 2;
		w->tcp.connect_failures = 3;
		series_add(s, "acme", &f.b);
		fx_release(&f);
	}
	add_simple(s, "acme", "web-0", "orders", T0 + 1, 7, 0, 1000000);

	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0].t_s, T0);
	cr_assert_eq(p[0].requests, 39);
	cr_assert_eq(p[0].errors, 6); /* 5xx only: the 404s are not errors */
	cr_assert_eq(p[0].syscalls, 450);
	cr_assert_eq(p[0].syscall_errors, 12);
	cr_assert_eq(p[0].tcp_retransmits, 3);
	cr_assert_eq(p[0].tcp_resets, 6);
	cr_assert_eq(p[0].tcp_connect_failures, 9);
	cr_assert_eq(p[1].t_s, T0 + 1);
	cr_assert_eq(p[1].requests, 7);
	cr_assert_eq(p[1].errors, 0);
	free(p);
	series_free(s);
}

Test(series, window_lands_in_the_second_its_end_falls_in)
{
	struct series *s = series_new();
	struct series_point *p;
	struct fixture f;
	size_t n;

	fx_init(&f, "web-0", T0);
	add_http(fx_window(&f, "orders"), 200, 1, 1000);
	f.b.end_ms = (int64_t)T0 * 1000; /* exactly on the second */
	series_add(s, "acme", &f.b);
	f.b.end_ms = (int64_t)T0 * 1000 + 999;
	series_add(s, "acme", &f.b);
	fx_release(&f);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(p[0].t_s, T0);
	cr_assert_eq(p[0].requests, 2);
	free(p);
	series_free(s);
}

Test(series, several_services_in_one_batch)
{
	struct series *s = series_new();
	struct series_stats st;
	struct series_point *p;
	struct fixture f;
	size_t n;

	fx_init(&f, "web-0", T0);
	add_http(fx_window(&f, "orders"), 200, 3, 1000);
	add_http(fx_window(&f, "users"), 200, 5, 1000);
	fx_window(&f, "idle"); /* nothing happened: still a service with a point */
	series_add(s, "acme", &f.b);
	fx_release(&f);
	series_stats(s, &st);
	cr_assert_eq(st.services, 3);
	cr_assert_eq(series_points(s, "acme", "users", 0, &p, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(p[0].requests, 5);
	free(p);
	cr_assert_eq(series_points(s, "acme", "idle", 0, &p, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(p[0].requests, 0);
	cr_assert_eq(p[0].latency_p99_ms, 0);
	free(p);
	series_free(s);
}

/* ---- latency ------------------------------------------------------------ */

/*
 * Three hosts with different distributions in one second: the point's
 * percentiles are those of the merged histogram, both while the second is
 * open and once two newer seconds have closed it.
 */
Test(series, latency_percentiles_are_those_of_the_merged_histogram)
{
	static const double medians_ns[] = { 200e3, 1e6, 8e6 };
	struct series *s = series_new();
	struct series_point *p;
	struct hist ref;
	uint64_t seed = 42;
	size_t n;

	hist_init(&ref);
	for (int host = 0; host < 3; host++) {
		struct fixture f;
		struct window *w;

		fx_init(&f, "web", T0);
		w = fx_window(&f, "orders");
		for (int route = 0; route < 3; route++) {
			struct window_http *h = window_http_get(w, "GET", route ? "/a" : "/b",
								route == 2 ? 500 : 200);

			for (int i = 0; i < 2000; i++) {
				uint64_t v = rng_latency(&seed, medians_ns[host]);

				h->count++;
				hist_record(&h->latency_ns, v);
				hist_record(&ref, v);
			}
		}
		series_add(s, "acme", &f.b);
		fx_release(&f);
	}

	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(p[0].requests, 18000);
	assert_close(p[0].latency_p50_ms, ms(hist_quantile(&ref, 0.50)));
	assert_close(p[0].latency_p95_ms, ms(hist_quantile(&ref, 0.95)));
	assert_close(p[0].latency_p99_ms, ms(hist_quantile(&ref, 0.99)));
	/* a multi-modal mix: its p99 is in the slow host's range, far from the others' */
	cr_assert_gt(p[0].latency_p99_ms, 8.0);
	free(p);

	add_simple(s, "acme", "web", "orders", T0 + 1, 1, 0, 1000);
	add_simple(s, "acme", "web", "orders", T0 + 2, 1, 0, 1000); /* closes T0 */
	cr_assert_eq(series_points(s, "acme", "orders", T0, &p, &n), 0);
	cr_assert_eq(n, 3);
	assert_close(p[0].latency_p50_ms, ms(hist_quantile(&ref, 0.50)));
	assert_close(p[0].latency_p95_ms, ms(hist_quantile(&ref, 0.95)));
	assert_close(p[0].latency_p99_ms, ms(hist_quantile(&ref, 0.99)));
	assert_close(p[1].latency_p99_ms, ms(1000));
	free(p);
	hist_release(&ref);
	series_free(s);
}

/* Windows of the second before the newest still merge: hosts are not in step. */
Test(series, previous_second_still_merges_latency)
{
	struct series *s = series_new();
	struct series_point *p;
	struct series_stats st;
	struct hist ref;
	size_t n;

	hist_init(&ref);
	add_simple(s, "acme", "a", "orders", T0, 100, 0, 1000000);
	add_simple(s, "acme", "a", "orders", T0 + 1, 100, 0, 5000000);
	add_simple(s, "acme", "b", "orders", T0, 100, 0, 9000000); /* b is behind */
	hist_record_n(&ref, 1000000, 100);
	hist_record_n(&ref, 9000000, 100);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0].requests, 200);
	assert_close(p[0].latency_p50_ms, ms(hist_quantile(&ref, 0.50)));
	assert_close(p[0].latency_p99_ms, ms(hist_quantile(&ref, 0.99)));
	free(p);
	series_stats(s, &st);
	cr_assert_eq(st.late_latency, 0);
	hist_release(&ref);
	series_free(s);
}

/* Two newer seconds: a window for the older one adds its counts, not its latency. */
Test(series, late_window_adds_counts_but_not_latency)
{
	struct series *s = series_new();
	struct series_point *p;
	struct series_stats st;
	size_t n;

	add_simple(s, "acme", "a", "orders", T0, 100, 0, 1000000);
	add_simple(s, "acme", "a", "orders", T0 + 1, 100, 0, 1000000);
	add_simple(s, "acme", "a", "orders", T0 + 2, 100, 0, 1000000);
	add_simple(s, "acme", "late", "orders", T0, 1000, 10, 900000000);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(p[0].requests, 1100);
	cr_assert_eq(p[0].errors, 10);
	assert_close(p[0].latency_p99_ms, 1.0);
	free(p);
	series_stats(s, &st);
	cr_assert_eq(st.late_latency, 1);
	series_free(s);
}

/* A replay from an agent's spool into seconds nobody else reported keeps its latency. */
Test(series, late_window_into_an_empty_second_keeps_its_latency)
{
	struct series *s = series_new();
	struct series_point *p;
	struct series_stats st;
	size_t n;

	add_simple(s, "acme", "a", "orders", T0 + 10, 1, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 11, 1, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 1, 5, 0, 3000000);
	add_simple(s, "acme", "b", "orders", T0 + 1, 5, 0, 700000000); /* discarded */
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(p[0].t_s, T0 + 1);
	cr_assert_eq(p[0].requests, 10);
	assert_close(p[0].latency_p50_ms, 3.0);
	assert_close(p[0].latency_p99_ms, 3.0);
	free(p);
	series_stats(s, &st);
	cr_assert_eq(st.late_latency, 1);
	series_free(s);
}

/* ---- the ring ----------------------------------------------------------- */

Test(series, ring_wraps_after_series_seconds)
{
	struct series *s = series_new();
	struct series_point *p;
	struct series_stats st;
	size_t n;

	add_simple(s, "acme", "a", "orders", T0, 1, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 1, 2, 0, 1000);
	/* same slot as T0, one lap later: T0 is reset, T0 + 1 is out of range */
	add_simple(s, "acme", "a", "orders", T0 + SERIES_SECONDS, 3, 0, 2000);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0].t_s, T0 + 1);
	cr_assert_eq(p[0].requests, 2);
	cr_assert_eq(p[1].t_s, T0 + SERIES_SECONDS);
	cr_assert_eq(p[1].requests, 3); /* not 1 + 3 */
	assert_close(p[1].latency_p50_ms, ms(2000));
	free(p);

	/* one more second: T0 + 1 leaves the ring */
	add_simple(s, "acme", "a", "orders", T0 + SERIES_SECONDS + 1, 4, 0, 2000);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0].t_s, T0 + SERIES_SECONDS);
	cr_assert_eq(p[1].requests, 4);
	free(p);

	/* a window from before the ring is dropped, and does not clobber a newer slot */
	add_simple(s, "acme", "a", "orders", T0 + 1, 50, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0, 50, 0, 1000);
	series_stats(s, &st);
	cr_assert_eq(st.stale, 2);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0].requests, 3);
	cr_assert_eq(p[1].requests, 4);
	free(p);
	series_free(s);
}

Test(series, full_ring_keeps_series_seconds_points)
{
	struct series *s = series_new();
	struct series_point *p;
	size_t n;

	for (int64_t t = 0; t < 2 * SERIES_SECONDS + 17; t++)
		add_simple(s, "acme", "a", "orders", T0 + t, (uint64_t)t, 0, 1000);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, SERIES_SECONDS);
	for (size_t i = 0; i < n; i++) {
		int64_t t = SERIES_SECONDS + 17 + (int64_t)i;

		cr_assert_eq(p[i].t_s, T0 + t);
		cr_assert_eq(p[i].requests, (uint64_t)t);
	}
	free(p);
	series_free(s);
}

/* ---- points ------------------------------------------------------------- */

Test(series, points_are_oldest_first_from_since)
{
	struct series *s = series_new();
	struct series_point *p;
	size_t n;

	/* added out of order, with gaps */
	add_simple(s, "acme", "a", "orders", T0 + 5, 5, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 9, 9, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 2, 2, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 7, 7, 0, 1000);

	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(p[i].requests, (uint64_t)(p[i].t_s - T0));
	cr_assert_eq(p[0].t_s, T0 + 2);
	cr_assert_eq(p[1].t_s, T0 + 5);
	cr_assert_eq(p[2].t_s, T0 + 7);
	cr_assert_eq(p[3].t_s, T0 + 9);
	free(p);

	cr_assert_eq(series_points(s, "acme", "orders", T0 + 5, &p, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(p[0].t_s, T0 + 5); /* since is inclusive */
	cr_assert_eq(p[2].t_s, T0 + 9);
	free(p);

	cr_assert_eq(series_points(s, "acme", "orders", T0 + 10, &p, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(p);
	series_free(s);
}

Test(series, unknown_service_or_tenant_is_enoent)
{
	struct series *s = series_new();
	struct series_point *p = NULL;
	size_t n = 99;

	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), -ENOENT);
	add_simple(s, "acme", "a", "orders", T0, 1, 0, 1000);
	cr_assert_eq(series_points(s, "acme", "users", 0, &p, &n), -ENOENT);
	cr_assert_eq(series_points(s, "other", "orders", 0, &p, &n), -ENOENT);
	cr_assert_eq(series_points(s, "acme", "order", 0, &p, &n), -ENOENT);
	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(n, 1);
	free(p);
	series_free(s);
}

/* ---- tenants and bounds ------------------------------------------------- */

Test(series, tenants_are_isolated)
{
	struct series *s = series_new();
	struct series_health *h;
	struct series_point *p;
	size_t n;

	add_simple(s, "acme", "a", "orders", T0, 10, 0, 1000);
	add_simple(s, "globex", "a", "orders", T0, 20, 5, 1000);
	add_simple(s, "globex", "a", "billing", T0, 1, 0, 1000);

	cr_assert_eq(series_points(s, "acme", "orders", 0, &p, &n), 0);
	cr_assert_eq(p[0].requests, 10);
	cr_assert_eq(p[0].errors, 0);
	free(p);
	cr_assert_eq(series_points(s, "globex", "orders", 0, &p, &n), 0);
	cr_assert_eq(p[0].requests, 20);
	free(p);
	cr_assert_eq(series_points(s, "acme", "billing", 0, &p, &n), -ENOENT);

	cr_assert_eq(series_health(s, "acme", T0, 60, &h, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(h[0].tenant, "acme");
	cr_assert_str_eq(h[0].service, "orders");
	free(h);

	cr_assert_eq(series_health(s, "nobody", T0, 60, &h, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(h);

	/* every tenant: by service name, then tenant */
	cr_assert_eq(series_health(s, NULL, T0, 60, &h, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(h[0].service, "billing");
	cr_assert_str_eq(h[1].service, "orders");
	cr_assert_str_eq(h[1].tenant, "acme");
	cr_assert_str_eq(h[2].service, "orders");
	cr_assert_str_eq(h[2].tenant, "globex");
	free(h);
	series_free(s);
}

Test(series, services_past_the_bound_are_counted_as_dropped)
{
	struct series *s = series_new_max(3);
	struct series_stats st;
	struct series_point *p;
	size_t n;

	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "svc-%d", i);
		add_simple(s, "acme", "a", name, T0, 1, 0, 1000);
		add_simple(s, "acme", "a", name, T0 + 1, 1, 0, 1000);
	}
	/* the bound is over all tenants */
	add_simple(s, "globex", "a", "svc-0", T0, 1, 0, 1000);
	series_stats(s, &st);
	cr_assert_eq(st.services, 3);
	cr_assert_eq(st.dropped, 5); /* two windows of svc-3 and svc-4 each, one of globex */
	/* services already known keep getting windows */
	add_simple(s, "acme", "a", "svc-0", T0 + 2, 1, 0, 1000);
	cr_assert_eq(series_points(s, "acme", "svc-0", 0, &p, &n), 0);
	cr_assert_eq(n, 3);
	free(p);
	cr_assert_eq(series_points(s, "acme", "svc-4", 0, &p, &n), -ENOENT);
	series_free(s);
}

Test(series, many_services_grow_the_table)
{
	struct series *s = series_new();
	struct series_stats st;
	struct series_point *p;
	size_t n;

	for (int i = 0; i < 2000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "svc-%d", i);
		add_simple(s, i % 2 ? "acme" : "globex", "a", name, T0, (uint64_t)i, 0, 1000);
	}
	series_stats(s, &st);
	cr_assert_eq(st.services, 2000);
	for (int i = 0; i < 2000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "svc-%d", i);
		cr_assert_eq(series_points(s, i % 2 ? "acme" : "globex", name, 0, &p, &n), 0);
		cr_assert_eq(p[0].requests, (uint64_t)i);
		free(p);
	}
	series_free(s);
}

Test(series, unusable_batches_are_counted_as_invalid)
{
	struct series *s = series_new();
	struct series_stats st;
	char long_tenant[FRAME_ID_MAX + 1];
	struct fixture f;

	memset(long_tenant, 't', sizeof(long_tenant) - 1);
	long_tenant[sizeof(long_tenant) - 1] = '\0';
	fx_init(&f, "a", T0);
	add_http(fx_window(&f, "orders"), 200, 1, 1000);
	series_add(s, NULL, &f.b);
	series_add(s, long_tenant, &f.b);
	f.b.end_ms = 999; /* second 0 is the empty slot's mark */
	series_add(s, "acme", &f.b);
	f.b.end_ms = -5000;
	series_add(s, "acme", &f.b);
	series_add(s, "acme", NULL);
	fx_release(&f);
	series_stats(s, &st);
	cr_assert_eq(st.invalid, 4);
	cr_assert_eq(st.services, 0);
	series_free(s);
}

/* ---- health ------------------------------------------------------------- */

/*
 * 30 s of data, a 60 s span. A service first seen 30 s ago is rated over
 * those 30 s; one that was seen before the span and idle since is rated over
 * the whole span, so a service that stops reporting decays.
 */
Test(series, health_rates_are_over_the_span_or_since_first_seen)
{
	struct series *s = series_new();
	struct series_health *h;
	int64_t now = T0 + 1000;
	size_t n;

	for (int64_t t = now - 29; t <= now; t++) {
		add_simple(s, "acme", "a", "new", t, 10, 1, 1000000);
		add_simple(s, "acme", "a", "old", t, 10, 1, 1000000);
	}
	add_simple(s, "acme", "a", "old", now - 500, 1000, 0, 1000000); /* first seen long ago */
	cr_assert_eq(series_health(s, "acme", now, 60, &h, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(h[0].service, "new");
	cr_assert_float_eq(h[0].request_rate, 10.0, 1e-9);
	cr_assert_float_eq(h[0].error_rate, 0.1, 1e-9);
	cr_assert_eq(h[0].last_seen_s, now);
	cr_assert_str_eq(h[1].service, "old");
	cr_assert_float_eq(h[1].request_rate, 300.0 / 60, 1e-9); /* the 1000 are outside */
	free(h);

	/* 10 s later, no data: old decays over the span, new is rated since first seen */
	cr_assert_eq(series_health(s, "acme", now + 10, 60, &h, &n), 0);
	cr_assert_float_eq(h[0].request_rate, 300.0 / 40, 1e-9);
	cr_assert_float_eq(h[1].request_rate, 300.0 / 60, 1e-9);
	cr_assert_eq(h[1].last_seen_s, now);
	free(h);

	/* long after: nothing in the span, listed still, with zero rates */
	cr_assert_eq(series_health(s, "acme", now + 5000, 60, &h, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(h[0].request_rate, 0);
	cr_assert_eq(h[0].error_rate, 0);
	cr_assert_eq(h[0].latency_p99_ms, 0);
	free(h);

	/* a span of 1 s is the one second; a span past the ring is clamped to it */
	cr_assert_eq(series_health(s, "acme", now, 1, &h, &n), 0);
	cr_assert_float_eq(h[0].request_rate, 10.0, 1e-9);
	free(h);
	cr_assert_eq(series_health(s, "acme", now, 100000, &h, &n), 0);
	cr_assert_float_eq(h[1].request_rate, 1300.0 / 501, 1e-9); /* first seen 501 s ago */
	free(h);
	series_free(s);
}

Test(series, health_excludes_seconds_after_now)
{
	struct series *s = series_new();
	struct series_health *h;
	size_t n;

	add_simple(s, "acme", "a", "orders", T0, 10, 0, 1000);
	add_simple(s, "acme", "a", "orders", T0 + 5, 1000, 0, 1000);
	cr_assert_eq(series_health(s, "acme", T0 + 1, 10, &h, &n), 0);
	cr_assert_float_eq(h[0].request_rate, 10.0 / 2, 1e-9);
	free(h);
	series_free(s);
}

Test(series, health_sums_syscalls_and_tcp)
{
	struct series *s = series_new();
	struct series_health *h;
	size_t n;

	for (int64_t t = T0; t < T0 + 4; t++) {
		struct fixture f;
		struct window *w;
		struct window_syscall *sc;

		fx_init(&f, "a", t);
		w = fx_window(&f, "orders");
		sc = window_syscall_get(w, 0, "read");
		sc->count = 100;
		sc->errors = 25;
		w->tcp.retransmits = 1;
		w->tcp.resets = 2;
		w->tcp.connect_failures = 3;
		series_add(s, "acme", &f.b);
		fx_release(&f);
	}
	cr_assert_eq(series_health(s, "acme", T0 + 3, 60, &h, &n), 0);
	cr_assert_float_eq(h[0].syscall_error_rate, 0.25, 1e-9);
	cr_assert_eq(h[0].tcp_retransmits, 4);
	cr_assert_eq(h[0].tcp_resets, 8);
	cr_assert_eq(h[0].tcp_connect_failures, 12);
	cr_assert_eq(h[0].request_rate, 0);
	cr_assert_eq(h[0].error_rate, 0);
	free(h);
	series_free(s);
}

/*
 * The span's p50 is the request-weighted mean of the seconds' p50, its p95
 * and p99 the largest of the seconds' (series.h). Seconds: 300 requests at
 * 1 ms, 100 at 5 ms, and a quiet one with 1 slow request at 200 ms.
 */
Test(series, health_latency_is_weighted_p50_and_max_tail)
{
	struct series *s = series_new();
	struct series_health *h;
	struct hist h1, h2;
	double p50;
	size_t n;

	hist_init(&h1);
	hist_init(&h2);
	hist_record_n(&h1, 1000000, 300);
	hist_record_n(&h2, 5000000, 100);
	add_simple(s, "acme", "a", "orders", T0, 300, 0, 1000000);
	add_simple(s, "acme", "a", "orders", T0 + 1, 100, 0, 5000000);
	add_simple(s, "acme", "a", "orders", T0 + 2, 1, 0, 200000000);
	add_simple(s, "acme", "a", "orders", T0 + 3, 0, 0, 0); /* no requests: no weight */

	cr_assert_eq(series_health(s, "acme", T0 + 3, 60, &h, &n), 0);
	p50 = 300 * ms(hist_quantile(&h1, 0.5)) + 100 * ms(hist_quantile(&h2, 0.5)) + 200.0;
	cr_assert_float_eq(h[0].latency_p50_ms, p50 / 401, 1e-6);
	cr_assert_float_eq(h[0].latency_p95_ms, 200.0, 1e-6);
	cr_assert_float_eq(h[0].latency_p99_ms, 200.0, 1e-6);
	free(h);

	/* without the slow second, the tail is the 5 ms second's */
	cr_assert_eq(series_health(s, "acme", T0 + 1, 60, &h, &n), 0);
	cr_assert_float_eq(h[0].latency_p99_ms, ms(hist_quantile(&h2, 0.99)), 1e-6);
	cr_assert_float_eq(h[0].latency_p50_ms,
			   (300 * ms(hist_quantile(&h1, 0.5)) + 100 * ms(hist_quantile(&h2, 0.5))) /
				   400,
			   1e-6);
	free(h);
	hist_release(&h1);
	hist_release(&h2);
	series_free(s);
}

/* ---- snapshots ---------------------------------------------------------- */

static void assert_health_eq(const struct series_health *a, const struct series_health *b)
{
	cr_assert_str_eq(a->tenant, b->tenant);
	cr_assert_str_eq(a->service, b->service);
	cr_assert_eq(a->last_seen_s, b->last_seen_s);
	cr_assert_eq(a->request_rate, b->request_rate);
	cr_assert_eq(a->error_rate, b->error_rate);
	cr_assert_eq(a->latency_p50_ms, b->latency_p50_ms);
	cr_assert_eq(a->latency_p95_ms, b->latency_p95_ms);
	cr_assert_eq(a->latency_p99_ms, b->latency_p99_ms);
	cr_assert_eq(a->syscall_error_rate, b->syscall_error_rate);
	cr_assert_eq(a->tcp_retransmits, b->tcp_retransmits);
}

Test(series, snapshot_matches_health_and_is_cached_per_second)
{
	static const char *tenants[] = { "globex", "acme", "initech" };
	struct series *s = series_new();
	struct series_snapshot *a, *b, *c;
	const struct series_health *sh;
	struct series_health *h;
	size_t n, sn;

	for (int t = 0; t < 3; t++)
		for (int i = 0; i < 20; i++) {
			char name[16];

			snprintf(name, sizeof(name), "svc-%02d", 19 - i);
			add_simple(s, tenants[t], "a", name, T0 + i, (uint64_t)(i + t), 1,
				   1000 * (uint64_t)(i + 1));
		}

	a = series_snapshot_get(s, T0 + 19, 60);
	cr_assert_eq(series_snapshot_now(a), T0 + 19);
	cr_assert_eq(series_snapshot_window(a), 60);
	for (int t = 0; t < 3; t++) {
		cr_assert_eq(series_health(s, tenants[t], T0 + 19, 60, &h, &n), 0);
		sh = series_snapshot_health(a, tenants[t], &sn);
		cr_assert_eq(sn, n);
		for (size_t i = 0; i < n; i++)
			assert_health_eq(&sh[i], &h[i]);
		free(h);
	}
	sh = series_snapshot_health(a, NULL, &sn);
	cr_assert_eq(sn, 60);
	cr_assert_str_eq(sh[0].tenant, "acme");
	cr_assert_str_eq(sh[59].tenant, "initech");
	cr_assert_null(series_snapshot_health(a, "nobody", &sn));
	cr_assert_eq(sn, 0);
	cr_assert_null(series_snapshot_health(a, "b", &sn)); /* between two tenants */
	cr_assert_null(series_snapshot_health(a, "zzz", &sn));

	/* the same second: the same snapshot, even though a window came in since */
	add_simple(s, "acme", "a", "svc-00", T0 + 19, 1000, 0, 1000);
	b = series_snapshot_get(s, T0 + 19, 60);
	cr_assert_eq(a, b);
	/* a newer snapshot serves a caller whose clock is a second behind */
	c = series_snapshot_get(s, T0 + 20, 60);
	cr_assert_neq(c, a);
	series_snapshot_put(b);
	b = series_snapshot_get(s, T0 + 19, 60);
	cr_assert_eq(b, c);
	series_snapshot_put(b);
	/* ... and shows the window */
	sh = series_snapshot_health(c, "acme", &sn);
	cr_assert_str_eq(sh[0].service, "svc-00");
	cr_assert_float_eq(sh[0].request_rate, 1020.0 / 2, 1e-9); /* first seen at T0 + 19 */

	/* snapshots outlive the series */
	series_free(s);
	cr_assert_eq(series_snapshot_health(a, "acme", &sn)[0].last_seen_s, T0 + 19);
	series_snapshot_put(a);
	series_snapshot_put(c);
	series_snapshot_put(NULL);
}

Test(series, snapshots_are_cached_per_window)
{
	struct series *s = series_new();
	struct series_snapshot *snaps[SERIES_SNAPSHOT_CACHE + 1], *again;
	const struct series_health *sh;
	size_t sn;

	add_simple(s, "acme", "a", "orders", T0, 10, 0, 1000);
	for (unsigned i = 0; i <= SERIES_SNAPSHOT_CACHE; i++) {
		snaps[i] = series_snapshot_get(s, T0, 10 * (i + 1));
		sh = series_snapshot_health(snaps[i], "acme", &sn);
		cr_assert_eq(sn, 1);
		cr_assert_float_eq(sh[0].request_rate, 10.0, 1e-9); /* first seen at T0 */
	}
	/* the newest SERIES_SNAPSHOT_CACHE are cached; the first was evicted */
	for (unsigned i = 1; i <= SERIES_SNAPSHOT_CACHE; i++) {
		again = series_snapshot_get(s, T0, 10 * (i + 1));
		cr_assert_eq(again, snaps[i]);
		series_snapshot_put(again);
	}
	again = series_snapshot_get(s, T0, 10);
	cr_assert_neq(again, snaps[0]);
	series_snapshot_put(again);
	/* window_s is clamped as in series_health */
	again = series_snapshot_get(s, T0, 0);
	cr_assert_eq(series_snapshot_window(again), 1);
	series_snapshot_put(again);
	for (unsigned i = 0; i <= SERIES_SNAPSHOT_CACHE; i++)
		series_snapshot_put(snaps[i]);
	series_free(s);
}

Test(series, empty_series)
{
	struct series *s = series_new();
	struct series_snapshot *snap;
	struct series_health *h;
	struct series_stats st;
	size_t n;

	cr_assert_eq(series_health(s, NULL, T0, 60, &h, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(h);
	snap = series_snapshot_get(s, T0, 60);
	cr_assert_null(series_snapshot_health(snap, NULL, &n));
	cr_assert_eq(n, 0);
	series_snapshot_put(snap);
	series_stats(s, &st);
	cr_assert_eq(st.services, 0);
	series_free(s);
	series_free(NULL);
}

/* ---- threads ------------------------------------------------------------ */

#define THREAD_SECONDS	200
#define THREAD_SERVICES 8

struct thread_arg {
	struct series *s;
	int id;
};

/* Writer @id: its own host, every service, every second, 1 request each. */
static void *writer(void *p)
{
	const struct thread_arg *a = p;
	uint64_t seed = (uint64_t)a->id + 1;

	for (int64_t t = 0; t < THREAD_SECONDS; t++) {
		struct fixture f;
		char host[16];

		snprintf(host, sizeof(host), "host-%d", a->id);
		fx_init(&f, host, T0 + t);
		for (int i = 0; i < THREAD_SERVICES; i++) {
			char name[16];

			snprintf(name, sizeof(name), "svc-%d", i);
			add_http(fx_window(&f, name), 200, 1, rng_latency(&seed, 1e6));
		}
		series_add(a->s, "acme", &f.b);
		fx_release(&f);
	}
	return NULL;
}

static void *reader(void *p)
{
	const struct thread_arg *a = p;

	for (int i = 0; i < 300; i++) {
		struct series_snapshot *snap = series_snapshot_get(a->s, T0 + i / 2, 60);
		struct series_health *h;
		struct series_point *pt;
		struct series_stats st;
		size_t n;

		(void)series_snapshot_health(snap, "acme", &n);
		series_snapshot_put(snap);
		if (series_health(a->s, "acme", T0 + i, 30, &h, &n) == 0)
			free(h);
		if (series_points(a->s, "acme", "svc-3", T0 + i / 2, &pt, &n) == 0)
			free(pt);
		series_stats(a->s, &st);
	}
	return NULL;
}

Test(series, concurrent_adds_and_reads)
{
	enum { WRITERS = 3, READERS = 4 };
	struct series *s = series_new();
	struct thread_arg args[WRITERS + READERS];
	pthread_t th[WRITERS + READERS];
	struct series_point *p;
	size_t n;

	for (int i = 0; i < WRITERS + READERS; i++) {
		args[i].s = s;
		args[i].id = i;
		cr_assert_eq(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &args[i]),
			     0);
	}
	for (int i = 0; i < WRITERS + READERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREAD_SERVICES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "svc-%d", i);
		cr_assert_eq(series_points(s, "acme", name, 0, &p, &n), 0);
		cr_assert_eq(n, THREAD_SECONDS);
		for (size_t j = 0; j < n; j++)
			cr_assert_eq(p[j].requests, WRITERS);
		free(p);
	}
	series_free(s);
}
