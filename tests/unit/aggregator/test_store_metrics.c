/*
 * The counters of /metrics in the store: exact, binned as Prometheus
 * wants, written with the windows (a rollback undoes both), kept across a
 * reopen, separate per tenant, and capped per service.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/store/store.h"
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

static char dir[64];

static void dir_make(void)
{
	tmpdir_make(dir, sizeof(dir), "store-metrics");
}

static void fini(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(store_metrics, .init = dir_make, .fini = fini);

static struct store *open_store(unsigned series_max)
{
	struct store_options o = { .dir = dir, .metric_series_max = series_max };
	struct store *s = NULL;

	cr_assert_eq(store_open(&s, &o), 0);
	return s;
}

#define T0 1700000000000LL
#define MS 1000000ULL

/* One window of @service: GET @route 200 with @n requests of @lat_ns each, and more. */
static void put_window(struct store *s, const char *tenant, const char *service,
		       const char *route, uint64_t n, uint64_t lat_ns, uint64_t seq)
{
	struct window_batch_item item = { 0 };
	struct window_batch b = { 0 };
	struct window *w = window_new(1);
	struct window_http *h = window_http_get(w, "GET", route, 200);
	struct window_syscall *y = window_syscall_get(w, 0, "read");
	struct window_call *c = window_call_get(w, "127.0.0.1:8002");

	h->count = n;
	hist_record_n(&h->latency_ns, lat_ns, n);
	h = window_http_get(w, "POST", "/orders", 503);
	h->count = 1;
	hist_record(&h->latency_ns, 20000 * MS); /* 20 s: past the last bound */
	y->count = 7;
	y->errors = 2;
	window_syscall_add_errno(y, EAGAIN, 2);
	hist_record_n(&y->latency_ns, 1000, 7);
	snprintf(c->peer, sizeof(c->peer), "users");
	c->count = 3;
	c->errors = 1;
	hist_record_n(&c->latency_ns, 2 * MS, 3);
	w->tcp.retransmits = 4;
	w->tcp.resets = 5;
	w->tcp.connect_failures = 6;

	snprintf(b.host, sizeof(b.host), "host-1");
	b.end_ms = T0 + (int64_t)seq * 1000;
	b.interval_ms = 1000;
	b.items = &item;
	b.n = 1;
	snprintf(item.service, sizeof(item.service), "%s", service);
	item.w = w;
	cr_assert_eq(store_put_windows(s, tenant, "agent-1", seq, &b), 0);
	window_free(w);
}

/* Every series of a tenant, copied. */
struct all {
	struct store_metric v[64];
	size_t n;
};

static int collect(void *arg, const struct store_metric *m)
{
	struct all *a = arg;

	cr_assert_lt(a->n, 64);
	a->v[a->n++] = *m;
	return 0;
}

static void read_all(struct store *s, const char *tenant, struct all *a)
{
	memset(a, 0, sizeof(*a));
	cr_assert_eq(store_metrics_each(s, tenant, collect, a), 0);
}

static const struct store_metric *find(const struct all *a, const char *service, int family,
				       const char *l1, const char *l2, int64_t l3)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].service, service) && a->v[i].family == family &&
		    !strcmp(a->v[i].l1, l1) && !strcmp(a->v[i].l2, l2) && a->v[i].l3 == l3)
			return &a->v[i];
	return NULL;
}

Test(store_metrics, counts_every_family_exactly_with_latencies_in_their_bins)
{
	struct store *s = open_store(0);
	const struct store_metric *m;
	struct all a;

	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/users/{id}", 10, 30 * MS, 1); /* 30 ms: le 0.05 */
	put_window(s, "default", "orders", "/users/{id}", 5, 5 * MS, 2);   /* 5 ms: le 0.005 */
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "default", &a);

	m = find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/users/{id}", 200);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 15);
	cr_assert_eq(m->sum_ns, (double)(10 * 30 * MS + 5 * 5 * MS));
	cr_assert_eq(m->bins[0], 5, "5 ms is <= the first bound, 0.005 s");
	cr_assert_eq(m->bins[3], 10, "30 ms is in (0.025, 0.05]");
	m = find(&a, "orders", STORE_METRIC_HTTP_SERVER, "POST", "/orders", 503);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 2);
	cr_assert_eq(m->bins[STORE_METRIC_BOUNDS], 2, "20 s is past the last bound");
	m = find(&a, "orders", STORE_METRIC_HTTP_CLIENT, "users", "", 0);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 6);
	cr_assert_eq(m->errors, 2);
	cr_assert_eq(m->bins[0], 6);
	m = find(&a, "orders", STORE_METRIC_SYSCALL, "read", "", 0);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 14);
	cr_assert_eq(m->errors, 4);
	m = find(&a, "orders", STORE_METRIC_SYSCALL_ERRNO, "read", "", EAGAIN);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 4);
	cr_assert_eq(find(&a, "orders", STORE_METRIC_TCP_RETRANSMITS, "", "", 0)->count, 8);
	cr_assert_eq(find(&a, "orders", STORE_METRIC_TCP_RESETS, "", "", 0)->count, 10);
	cr_assert_eq(find(&a, "orders", STORE_METRIC_TCP_CONNECT_FAILURES, "", "", 0)->count, 12);
	cr_assert_null(find(&a, "orders", STORE_METRIC_OVERFLOW, "http_server", "", 0));
	for (size_t i = 1; i < a.n; i++)
		cr_assert_leq(a.v[i - 1].family, a.v[i].family, "ordered by family");
	store_close(s);
}

Test(store_metrics, a_rollback_undoes_them_with_the_windows_and_a_reopen_keeps_them)
{
	struct store *s = open_store(0);
	struct all a;

	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/a", 10, MS, 1);
	store_rollback(s);
	read_all(s, "default", &a);
	cr_assert_eq(a.n, 0, "the rolled back window counts nowhere");

	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/a", 10, MS, 1);
	cr_assert_eq(store_commit(s), 0);
	store_close(s);

	s = open_store(0);
	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/a", 3, MS, 2);
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "default", &a);
	cr_assert_eq(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/a", 200)->count, 13,
		     "the counter goes on from where it was");
	store_close(s);
}

Test(store_metrics, tenants_do_not_see_each_others)
{
	struct store *s = open_store(0);
	struct all a;

	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/a", 10, MS, 1);
	put_window(s, "team-b", "orders", "/b", 2, MS, 1);
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "team-b", &a);
	cr_assert_not_null(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/b", 200));
	cr_assert_null(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/a", 200));
	store_close(s);
}

Test(store_metrics, a_service_past_its_cap_folds_new_series_into_the_overflow_exactly)
{
	/* 3 HTTP series: POST /orders 503, the client call to users, and GET /r0 */
	struct store *s = open_store(3);
	const struct store_metric *m;
	struct all a;
	char route[32];
	uint64_t total = 0, seq = 0;

	cr_assert_eq(store_begin(s), 0);
	for (int r = 0; r < 4; r++) {
		snprintf(route, sizeof(route), "/r%d", r);
		put_window(s, "default", "orders", route, 10 + (uint64_t)r, MS, ++seq);
		total += 10 + (uint64_t)r + 1;
	}
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "default", &a);
	cr_assert_not_null(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/r0", 200));
	cr_assert_null(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/r1", 200));
	m = find(&a, "orders", STORE_METRIC_HTTP_SERVER, "_OTHER", "{overflow}", 0);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 11 + 12 + 13, "/r1, /r2 and /r3 are counted in the overflow");
	m = find(&a, "orders", STORE_METRIC_OVERFLOW, "http_server", "", 0);
	cr_assert_not_null(m);
	cr_assert_eq(m->count, 3);

	/* totals stay exact */
	uint64_t sum = 0;
	for (size_t i = 0; i < a.n; i++)
		if (a.v[i].family == STORE_METRIC_HTTP_SERVER)
			sum += a.v[i].count;
	cr_assert_eq(sum, total);
	store_close(s);

	/* after a restart the service is still at its cap, and its known series still count */
	s = open_store(3);
	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "orders", "/r0", 1, MS, ++seq);
	put_window(s, "default", "orders", "/r9", 1, MS, ++seq);
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "default", &a);
	cr_assert_eq(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/r0", 200)->count, 11);
	cr_assert_null(find(&a, "orders", STORE_METRIC_HTTP_SERVER, "GET", "/r9", 200));
	cr_assert_eq(find(&a, "orders", STORE_METRIC_OVERFLOW, "http_server", "", 0)->count, 4);
	/* another service has its own budget */
	cr_assert_eq(store_begin(s), 0);
	put_window(s, "default", "users", "/r9", 1, MS, ++seq);
	cr_assert_eq(store_commit(s), 0);
	read_all(s, "default", &a);
	cr_assert_not_null(find(&a, "users", STORE_METRIC_HTTP_SERVER, "GET", "/r9", 200));
	store_close(s);
}

Test(store_metrics, bins_follow_the_bounds_for_one_value_each)
{
	static const struct {
		uint64_t ns;
		int bin;
	} cases[] = {
		{ 1, 0 },	    { 5 * MS, 0 },	 { 5 * MS + 1, 1 }, { 10 * MS, 1 },
		{ 99 * MS, 5 },	    { 100 * MS, 5 },	 { 1000 * MS, 9 },  { 10000 * MS, 13 },
		{ 10001 * MS, 14 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t bins[STORE_METRIC_BOUNDS + 1] = { 0 }, count = 0, sum = 0;
		struct hist h;
		struct buf b;

		hist_init(&h);
		buf_init(&b, HIST_WIRE_MAX_BYTES);
		hist_record(&h, cases[i].ns);
		cr_assert_eq(hist_serialize(&h, &b), 0);
		cr_assert_eq(hist_wire_bins(b.data, b.len, store_metric_bounds_ns,
					    STORE_METRIC_BOUNDS, bins, &count, &sum),
			     0);
		cr_assert_eq(bins[cases[i].bin], 1, "%lu ns in bin %d", (unsigned long)cases[i].ns,
			     cases[i].bin);
		cr_assert_eq(count, 1);
		cr_assert_eq(sum, cases[i].ns);
		hist_release(&h);
		buf_release(&b);
	}
}
