#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "aggregator/store/store_internal.h" /* store_hist_put() */
#include "common/hist.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

/* ---- a temporary data directory per test ---- */

static char dir[64];

static void dir_make(void)
{
	tmpdir_make(dir, sizeof(dir), "store");
}

static void dir_remove(void)
{
	tmpdir_remove(dir);
}

static void fini(void)
{
	dir_remove();
	test_no_leaks();
}

TestSuite(store, .init = dir_make, .fini = fini);

static struct store *open_store(unsigned raw_hours, unsigned minute_days)
{
	struct store_options o = { .dir = dir, .raw_hours = raw_hours, .minute_days = minute_days };
	struct store *s = NULL;

	cr_assert_eq(store_open(&s, &o), 0);
	return s;
}

/* ---- windows with known contents ---- */

/* What the store must report for a service: summed independently of it. */
struct expect {
	uint64_t requests, errors, windows, syscalls, syscall_errors, retransmits;
	uint64_t read_count, read_eagain, write_epipe;
	struct hist latency_ns;
};

static void expect_init(struct expect *e)
{
	memset(e, 0, sizeof(*e));
	hist_init(&e->latency_ns);
}

static void expect_add(struct expect *e, const struct window *w)
{
	e->windows++;
	e->retransmits += w->tcp.retransmits;
	for (size_t i = 0; i < w->nhttp; i++) {
		e->requests += w->http[i].count;
		if (w->http[i].status >= 500)
			e->errors += w->http[i].count;
		hist_merge(&e->latency_ns, &w->http[i].latency_ns);
	}
	for (size_t i = 0; i < w->nsyscalls; i++) {
		e->syscalls += w->syscalls[i].count;
		e->syscall_errors += w->syscalls[i].errors;
		if (!strcmp(w->syscalls[i].name, "read"))
			e->read_count += w->syscalls[i].count;
		for (size_t j = 0; j < w->syscalls[i].nerrnos; j++) {
			if (w->syscalls[i].errnos[j].err == EAGAIN)
				e->read_eagain += w->syscalls[i].errnos[j].count;
			if (w->syscalls[i].errnos[j].err == EPIPE)
				e->write_epipe += w->syscalls[i].errnos[j].count;
		}
	}
}

/* A deterministic window that depends on @k. */
static void fill_window(struct window *w, uint64_t k)
{
	struct window_http *h = window_http_get(w, "GET", "/users/{id}", 200);
	struct window_syscall *y;
	struct window_call *c;

	h->count = 10 + k % 7;
	for (uint64_t i = 0; i < h->count; i++)
		hist_record(&h->latency_ns, 1000000 + k * 1000 + i * 37);
	h = window_http_get(w, "POST", "/orders", 503);
	h->count = k % 3;
	for (uint64_t i = 0; i < h->count; i++)
		hist_record(&h->latency_ns, 50000000 + i);
	y = window_syscall_get(w, 0, "read");
	y->count = 5 + k;
	y->errors = 1;
	window_syscall_add_errno(y, EAGAIN, 1);
	hist_record_n(&y->latency_ns, 2000 + k, y->count);
	y = window_syscall_get(w, 1, "write");
	y->count = 3;
	y->errors = k % 2;
	if (y->errors)
		window_syscall_add_errno(y, EPIPE, 1);
	hist_record_n(&y->latency_ns, 4000, 3);
	c = window_call_get(w, "127.0.0.1:8002");
	snprintf(c->peer, sizeof(c->peer), "users");
	c->count = 4;
	c->errors = k % 2;
	hist_record_n(&c->latency_ns, 3000000 + k, 4);
	w->tcp.retransmits = 1;
}

/* The windows of @nservices services (svc0, svc1...) of one agent at @end_ms. */
struct frame {
	struct window_set ws;
	struct window_batch b;
	struct window_batch_item items[8];
};

static void frame_make(struct frame *f, const char *host, int64_t end_ms, int nservices,
		       uint64_t k)
{
	memset(f, 0, sizeof(*f));
	window_set_init(&f->ws);
	snprintf(f->b.host, sizeof(f->b.host), "%s", host);
	f->b.end_ms = end_ms;
	f->b.interval_ms = 1000;
	f->b.items = f->items;
	f->b.n = (size_t)nservices;
	for (int i = 0; i < nservices; i++) {
		snprintf(f->items[i].service, sizeof(f->items[i].service), "svc%d", i);
		f->items[i].w = window_set_get(&f->ws, (uint16_t)(i + 1));
		fill_window(f->items[i].w, k + (uint64_t)i);
	}
}

static void frame_release(struct frame *f)
{
	window_set_release(&f->ws);
}

/*
 * Stores frames of @nagents agents (agent-N on host-N), one per second from
 * @start_ms for @seconds, @nservices services each; adds svc0's windows
 * with end_ms in [lo, hi) to @e. Sequence numbers continue from *seq.
 */
static void put_frames(struct store *s, int nagents, int64_t start_ms, int seconds,
		       int nservices, uint64_t *seq, struct expect *e, int64_t lo, int64_t hi)
{
	cr_assert_eq(store_begin(s), 0);
	for (int t = 0; t < seconds; t++) {
		for (int a = 0; a < nagents; a++) {
			char host[32], agent[32];
			int64_t end_ms = start_ms + t * 1000;
			struct frame f;

			snprintf(host, sizeof(host), "host-%d", a);
			snprintf(agent, sizeof(agent), "agent-%d", a);
			frame_make(&f, host, end_ms, nservices, (uint64_t)(t * 31 + a));
			cr_assert_eq(store_put_windows(s, "default", agent, ++seq[a], &f.b), 0);
			if (e && end_ms >= lo && end_ms < hi)
				expect_add(e, f.items[0].w);
			frame_release(&f);
		}
	}
	cr_assert_eq(store_commit(s), 0);
}

static const struct store_syscall_total *find_syscall(const struct store_summary *sum,
						      const char *name)
{
	for (size_t i = 0; i < sum->nsyscalls; i++)
		if (!strcmp(sum->syscalls[i].name, name))
			return &sum->syscalls[i];
	return NULL;
}

static uint64_t errno_count(const struct store_syscall_total *t, int err)
{
	for (size_t i = 0; i < t->nerrnos; i++)
		if (t->errnos[i].err == err)
			return t->errnos[i].count;
	return 0;
}

static void check_summary(struct store *s, const char *service, int64_t since, int64_t until,
			  const struct expect *e)
{
	struct store_summary sum;
	const struct store_syscall_total *rd, *wr;

	cr_assert_eq(store_service_summary(s, "default", service, since, until, &sum), 0);
	cr_assert_eq(sum.windows, e->windows, "windows %lu, expected %lu",
		     (unsigned long)sum.windows, (unsigned long)e->windows);
	cr_assert_eq(sum.requests, e->requests, "requests %lu, expected %lu",
		     (unsigned long)sum.requests, (unsigned long)e->requests);
	cr_assert_eq(sum.errors, e->errors);
	cr_assert_eq(sum.tcp.retransmits, e->retransmits);
	cr_assert(hist_equal(&sum.latency_ns, &e->latency_ns), "merged latency differs");
	if (e->windows) {
		rd = find_syscall(&sum, "read");
		wr = find_syscall(&sum, "write");
		cr_assert_not_null(rd);
		cr_assert_not_null(wr);
		cr_assert_eq(rd->count, e->read_count);
		cr_assert_eq(errno_count(rd, EAGAIN), e->read_eagain);
		cr_assert_eq(errno_count(wr, EPIPE), e->write_epipe);
		cr_assert_eq(rd->count + wr->count, e->syscalls);
		cr_assert_eq(rd->errors + wr->errors, e->syscall_errors);
		cr_assert_eq(hist_count(&rd->latency_ns), e->read_count);
	}
	store_summary_release(&sum);
}

#define T0 1700000000000LL /* 20 s into a minute */
#define M0 (T0 - T0 % 60000)

/* ---- schema ---- */

Test(store, migrates_an_empty_directory_and_reopens_with_the_data)
{
	uint64_t seq[2] = { 0 }, last;
	struct expect e;
	struct store *s = open_store(0, 0);

	cr_assert_geq(store_schema_version(), 1);
	expect_init(&e);
	put_frames(s, 2, T0, 5, 2, seq, &e, 0, INT64_MAX);
	store_close(s);

	s = open_store(0, 0);
	check_summary(s, "svc0", 0, INT64_MAX / 4, &e);
	cr_assert_eq(store_agent_last_seq(s, "default", "agent-1", &last), 0);
	cr_assert_eq(last, 5);
	cr_assert_gt(store_size_bytes(s), 0);
	store_close(s);
	hist_release(&e.latency_ns);
}

Test(store, refuses_a_database_with_a_newer_schema)
{
	struct store_options o = { .dir = dir };
	char path[128], sql[64];
	struct store *s = open_store(0, 0);
	sqlite3 *db;

	store_close(s);
	snprintf(path, sizeof(path), "%s/prp.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 store_schema_version() + 1);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = (struct store *)1;
	cr_assert_eq(store_open(&s, &o), -EPROTO);
	cr_assert_null(s);
	o.read_only = true;
	cr_assert_eq(store_open(&s, &o), -EPROTO);
}

Test(store, a_reader_needs_an_existing_database)
{
	struct store_options o = { .dir = dir, .read_only = true };
	struct store *s = NULL, *w;
	struct store_summary sum;

	cr_assert_eq(store_open(&s, &o), -ENOENT);
	w = open_store(0, 0);
	cr_assert_eq(store_open(&s, &o), 0);
	cr_assert_eq(store_begin(s), -EINVAL, "a reader does not write");
	cr_assert_eq(store_service_summary(s, "default", "nope", 0, 1, &sum), -ENOENT);
	store_summary_release(&sum);
	store_close(s);
	store_close(w);
}

/* ---- summaries ---- */

Test(store, summaries_are_exact_over_ranges_with_inclusive_since_exclusive_until)
{
	uint64_t seq[3] = { 0 };
	struct expect all, mid, one;
	struct store *s = open_store(0, 0);

	expect_init(&all);
	expect_init(&mid);
	expect_init(&one);
	/* 3 agents x 10 s x 3 services; svc0 is checked */
	put_frames(s, 3, T0, 10, 3, seq, &all, T0, T0 + 10000);
	memset(seq, 0, sizeof(seq));
	store_close(s);
	dir_remove();
	dir_make();

	s = open_store(0, 0);
	put_frames(s, 3, T0, 10, 3, seq, &mid, T0 + 2000, T0 + 7000);
	check_summary(s, "svc0", T0, T0 + 10000, &all);
	check_summary(s, "svc0", T0 + 2000, T0 + 7000, &mid);
	/* since is inclusive, until exclusive: [T0 + 9000, T0 + 9001) is the last second */
	memset(seq, 0, sizeof(seq));
	store_close(s);
	dir_remove();
	dir_make();
	s = open_store(0, 0);
	put_frames(s, 3, T0, 10, 3, seq, &one, T0 + 9000, T0 + 9001);
	check_summary(s, "svc0", T0 + 9000, T0 + 9001, &one);
	cr_assert_eq(one.windows, 3);

	struct expect none;
	expect_init(&none);
	check_summary(s, "svc0", T0 + 10000, T0 + 20000, &none);
	check_summary(s, "svc0", T0 - 5000, T0, &none);

	struct store_summary sum;
	cr_assert_eq(store_service_summary(s, "default", "nope", T0, T0 + 1, &sum), -ENOENT);
	cr_assert_eq(store_service_summary(s, "other", "svc0", T0, T0 + 1, &sum), -ENOENT,
		     "tenants see only their own services");
	cr_assert_eq(store_service_summary(s, "default", "svc0", T0 + 1, T0, &sum), -EINVAL);
	store_close(s);
	hist_release(&all.latency_ns);
	hist_release(&mid.latency_ns);
	hist_release(&one.latency_ns);
}

Test(store, lists_services_with_their_hosts)
{
	uint64_t seq[3] = { 0 };
	struct store_service *v;
	size_t n;
	struct store *s = open_store(0, 0);

	put_frames(s, 3, T0, 4, 2, seq, NULL, 0, 0);
	cr_assert_eq(store_services(s, "default", &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].name, "svc0");
	cr_assert_str_eq(v[1].name, "svc1");
	cr_assert_eq(v[0].nhosts, 3);
	cr_assert_str_eq(v[0].hosts[2], "host-2");
	cr_assert_eq(v[0].first_seen_ms, T0);
	cr_assert_eq(v[0].last_seen_ms, T0 + 3000);
	store_services_free(v, n);
	cr_assert_eq(store_services(s, "other", &v, &n), 0);
	cr_assert_eq(n, 0);
	store_services_free(v, n);
	store_close(s);
}

/* ---- series ---- */

Test(store, series_sum_each_step_and_leave_out_empty_steps)
{
	uint64_t seq[2] = { 0 };
	struct store_point *p;
	size_t n;
	struct expect e[4];
	struct store *s = open_store(0, 0);

	for (int i = 0; i < 4; i++)
		expect_init(&e[i]);
	/* 2 agents, seconds 0..9 and 30..39 from T0 */
	put_frames(s, 2, T0, 10, 1, seq, &e[0], T0, T0 + 5000);
	put_frames(s, 2, T0 + 30000, 10, 1, seq, &e[2], T0 + 30000, T0 + 35000);
	/* recompute the other halves the same way */
	memset(seq, 0, sizeof(seq));
	store_close(s);
	dir_remove();
	dir_make();
	s = open_store(0, 0);
	put_frames(s, 2, T0, 10, 1, seq, &e[1], T0 + 5000, T0 + 10000);
	put_frames(s, 2, T0 + 30000, 10, 1, seq, &e[3], T0 + 35000, T0 + 40000);

	cr_assert_eq(store_service_series(s, "default", "svc0", "requests", T0, T0 + 60000, 5000,
					  &p, &n),
		     0);
	cr_assert_eq(n, 4, "steps without windows are left out (got %zu)", n);
	cr_assert_eq(p[0].t_ms, T0);
	cr_assert_eq(p[1].t_ms, T0 + 5000);
	cr_assert_eq(p[2].t_ms, T0 + 30000);
	cr_assert_eq(p[3].t_ms, T0 + 35000);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(p[i].v, (double)e[i].requests);
	free(p);

	cr_assert_eq(store_service_series(s, "default", "svc0", "request_rate", T0, T0 + 60000,
					  5000, &p, &n),
		     0);
	cr_assert_float_eq(p[0].v, (double)e[0].requests / 5.0, 1e-9);
	free(p);
	cr_assert_eq(store_service_series(s, "default", "svc0", "error_rate", T0, T0 + 60000,
					  5000, &p, &n),
		     0);
	cr_assert_float_eq(p[1].v, (double)e[1].errors / (double)e[1].requests, 1e-9);
	free(p);
	cr_assert_eq(store_service_series(s, "default", "svc0", "latency_p99", T0, T0 + 60000,
					  5000, &p, &n),
		     0);
	cr_assert_float_eq(p[2].v, (double)hist_quantile(&e[2].latency_ns, 0.99) / 1e6, 1e-9);
	free(p);
	cr_assert_eq(store_service_series(s, "default", "svc0", "latency_max", T0, T0 + 60000,
					  60000, &p, &n),
		     0);
	cr_assert_eq(n, 1);
	cr_assert_float_eq(p[0].v, 50000001 / 1e6, 1e-9);
	free(p);
	cr_assert_eq(store_service_series(s, "default", "svc0", "tcp_retransmits", T0,
					  T0 + 60000, 1000, &p, &n),
		     0);
	cr_assert_eq(n, 20);
	cr_assert_eq(p[0].v, 2.0, "two agents, one retransmit each");
	free(p);

	cr_assert_eq(store_service_series(s, "default", "svc0", "bogus", T0, T0 + 1000, 1000, &p,
					  &n),
		     -EINVAL);
	cr_assert_eq(store_service_series(s, "default", "svc0", "requests", T0, T0 + 1000, 999,
					  &p, &n),
		     -EINVAL);
	cr_assert_eq(store_service_series(s, "default", "svc0", "requests", T0,
					  T0 + 100001LL * 1000, 1000, &p, &n),
		     -E2BIG);
	cr_assert_eq(store_service_series(s, "default", "svc0", "requests", T0,
					  T0 + 100000LL * 1000, 1000, &p, &n),
		     0);
	free(p);
	cr_assert_eq(store_service_series(s, "default", "gone", "requests", T0, T0 + 1000, 1000,
					  &p, &n),
		     -ENOENT);
	store_close(s);
	for (int i = 0; i < 4; i++)
		hist_release(&e[i].latency_ns);
}

/* The value of @metric at step @t_ms, read alone through store_service_series(). */
static double series_at(struct store *s, const char *metric, int64_t t_ms, int64_t step)
{
	struct store_point *p;
	size_t n;
	double v = -1;

	cr_assert_eq(store_service_series(s, "default", "svc0", metric, T0, T0 + 60000, step, &p,
					  &n),
		     0);
	for (size_t i = 0; i < n; i++)
		if (p[i].t_ms == t_ms)
			v = p[i].v;
	free(p);
	return v;
}

Test(store, steps_give_every_figure_of_a_step_in_one_pass)
{
	uint64_t seq[2] = { 0 };
	struct store_step *v;
	size_t n;
	struct store *s = open_store(0, 0);

	put_frames(s, 2, T0, 10, 1, seq, NULL, 0, 0);
	put_frames(s, 2, T0 + 30000, 10, 1, seq, NULL, 0, 0);
	cr_assert_eq(store_service_steps(s, "default", "svc0", T0, T0 + 60000, 5000, &v, &n), 0);
	cr_assert_eq(n, 4, "steps without windows are left out (got %zu)", n);
	for (size_t i = 0; i < n; i++) {
		int64_t t = v[i].t_ms;

		cr_assert_eq(t, T0 + (i < 2 ? 0 : 20000) + (int64_t)i * 5000);
		cr_assert_eq(v[i].windows, 10, "2 agents x 5 s");
		cr_assert_eq((double)v[i].requests, series_at(s, "requests", t, 5000));
		cr_assert_eq((double)v[i].errors, series_at(s, "errors", t, 5000));
		cr_assert_eq((double)v[i].syscalls, series_at(s, "syscalls", t, 5000));
		cr_assert_eq((double)v[i].syscall_errors, series_at(s, "syscall_errors", t, 5000));
		cr_assert_eq((double)v[i].tcp.retransmits, series_at(s, "tcp_retransmits", t, 5000));
		cr_assert_float_eq(v[i].latency_p50_ms, series_at(s, "latency_p50", t, 5000), 1e-9);
		cr_assert_float_eq(v[i].latency_p99_ms, series_at(s, "latency_p99", t, 5000), 1e-9);
	}
	free(v);
	cr_assert_eq(store_service_steps(s, "default", "svc0", T0, T0 + 1000, 999, &v, &n),
		     -EINVAL);
	cr_assert_eq(store_service_steps(s, "default", "svc0", T0 + 1000, T0, 1000, &v, &n),
		     -EINVAL);
	cr_assert_eq(store_service_steps(s, "default", "svc0", T0, T0 + 100001LL * 1000, 1000, &v,
					 &n),
		     -E2BIG);
	cr_assert_eq(store_service_steps(s, "default", "gone", T0, T0 + 1000, 1000, &v, &n),
		     -ENOENT);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	store_close(s);
}

/* ---- topology ---- */

Test(store, topology_sums_each_edge_over_the_range)
{
	uint64_t seq[4] = { 0 };
	struct store_edge *v;
	size_t n;
	struct store *s = open_store(0, 0);

	put_frames(s, 4, T0, 6, 2, seq, NULL, 0, 0);
	cr_assert_eq(store_topology(s, "default", T0, T0 + 6000, &v, &n), 0);
	cr_assert_eq(n, 2, "svc0 -> users and svc1 -> users");
	cr_assert_str_eq(v[0].from, "svc0");
	cr_assert_str_eq(v[0].to, "users");
	cr_assert_eq(v[0].requests, 4 * 6 * 4);
	/* errors: k % 2 with k = t * 31 + a (+1 for svc1) */
	uint64_t errs = 0;
	for (int t = 0; t < 6; t++)
		for (int a = 0; a < 4; a++)
			errs += (uint64_t)(t * 31 + a) % 2;
	cr_assert_eq(v[0].errors, errs);
	cr_assert_eq(hist_count(&v[0].latency_ns), 4 * 6 * 4);
	store_topology_free(v, n);

	cr_assert_eq(store_topology(s, "default", T0 + 2000, T0 + 3000, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[1].requests, 4 * 4);
	store_topology_free(v, n);
	cr_assert_eq(store_topology(s, "default", T0 + 6000, T0 + 9000, &v, &n), 0);
	cr_assert_eq(n, 0);
	store_topology_free(v, n);
	store_close(s);
}

/* ---- agents and de-duplication ---- */

Test(store, last_seq_survives_reopen_and_a_rollback_leaves_it_unchanged)
{
	uint64_t seq[2] = { 0 }, last;
	struct store_summary sum;
	struct frame f;
	struct store *s = open_store(0, 0);

	cr_assert_eq(store_agent_last_seq(s, "default", "agent-0", &last), 0);
	cr_assert_eq(last, 0, "unknown agent: 0");
	put_frames(s, 2, T0, 3, 1, seq, NULL, 0, 0);
	store_close(s);
	s = open_store(0, 0);
	cr_assert_eq(store_agent_last_seq(s, "default", "agent-0", &last), 0);
	cr_assert_eq(last, 3);

	cr_assert_eq(store_begin(s), 0);
	frame_make(&f, "host-0", T0 + 10000, 1, 1);
	cr_assert_eq(store_put_windows(s, "default", "agent-0", 4, &f.b), 0);
	cr_assert_eq(store_agent_last_seq(s, "default", "agent-0", &last), 0);
	cr_assert_eq(last, 4, "inside the transaction it sees its own write");
	store_rollback(s);
	frame_release(&f);
	cr_assert_eq(store_agent_last_seq(s, "default", "agent-0", &last), 0);
	cr_assert_eq(last, 3);
	cr_assert_eq(store_service_summary(s, "default", "svc0", T0, T0 + 20000, &sum), 0);
	cr_assert_eq(sum.windows, 6, "the rolled-back window is not stored");
	store_summary_release(&sum);

	/* and the store goes on after the rollback */
	put_frames(s, 2, T0 + 20000, 1, 1, seq, NULL, 0, 0);
	cr_assert_eq(store_agent_last_seq(s, "default", "agent-0", &last), 0);
	cr_assert_eq(last, 4);
	store_close(s);
}

Test(store, keeps_agent_status_and_counts_frames)
{
	uint64_t seq[2] = { 0 };
	struct store_agent a = { .tenant = "default",
				 .agent_id = "agent-1",
				 .host = "web-1",
				 .version = "1.2.3",
				 .connected = true,
				 .last_seen_ms = T0 + 5000,
				 .spool_bytes = 42,
				 .spool_lost = 7 },
			   *v;
	size_t n;
	struct store *s = open_store(0, 0);

	put_frames(s, 2, T0, 3, 1, seq, NULL, 0, 0);
	cr_assert_eq(store_agent_update(s, &a), 0);
	snprintf(a.agent_id, sizeof(a.agent_id), "agent-9");
	snprintf(a.tenant, sizeof(a.tenant), "blue");
	cr_assert_eq(store_agent_update(s, &a), 0);
	cr_assert_eq(store_agents(s, "default", &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[1].agent_id, "agent-1");
	cr_assert_str_eq(v[1].host, "web-1");
	cr_assert_str_eq(v[1].version, "1.2.3");
	cr_assert(v[1].connected);
	cr_assert_eq(v[1].frames, 3);
	cr_assert_eq(v[1].last_seq, 3);
	cr_assert_eq(v[1].first_seen_ms, T0, "first seen at its first window");
	cr_assert_eq(v[1].last_seen_ms, T0 + 5000);
	cr_assert_eq(v[1].spool_bytes, 42);
	cr_assert_eq(v[1].spool_lost, 7);
	cr_assert_eq(v[0].frames, 3);
	free(v);
	cr_assert_eq(store_agents(s, NULL, &v, &n), 0);
	cr_assert_eq(n, 3);
	free(v);
	cr_assert_eq(store_agents(s, "blue", &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].frames, 0);
	free(v);
	store_close(s);
}

Test(store, refuses_bad_arguments_without_writing)
{
	struct frame f;
	uint64_t last;
	char big[300];
	struct store *s = open_store(0, 0);

	frame_make(&f, "h", T0, 1, 0);
	cr_assert_eq(store_put_windows(s, "default", "a", 1, &f.b), -EINVAL, "no transaction");
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_begin(s), -EINVAL);
	cr_assert_eq(store_put_windows(s, "", "a", 1, &f.b), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(store_put_windows(s, big, "a", 1, &f.b), -EINVAL);
	cr_assert_eq(store_put_windows(s, "default", big, 1, &f.b), -EINVAL);
	f.b.end_ms = -5;
	cr_assert_eq(store_put_windows(s, "default", "a", 1, &f.b), -EINVAL);
	f.b.end_ms = T0;
	f.items[0].service[0] = '\0';
	cr_assert_eq(store_put_windows(s, "default", "a", 1, &f.b), -EINVAL);
	cr_assert_eq(store_maintain(s, T0, &(bool){ false }), -EINVAL, "not inside a transaction");
	/* an undecodable frame: no windows, its seq is still consumed */
	struct window_batch empty = { 0 };
	cr_assert_eq(store_put_windows(s, "default", "a", 9, &empty), 0);
	cr_assert_eq(store_commit(s), 0);
	cr_assert_eq(store_agent_last_seq(s, "default", "a", &last), 0);
	cr_assert_eq(last, 9);
	frame_release(&f);
	store_close(s);
}

/* ---- rollup and retention ---- */

static void maintain_all(struct store *s, int64_t now_ms, int *calls)
{
	bool more = true;

	*calls = 0;
	while (more) {
		cr_assert_eq(store_maintain(s, now_ms, &more), 0);
		(*calls)++;
		cr_assert_lt(*calls, 10000);
	}
}

static size_t series_n(struct store *s, int64_t since, int64_t until, int64_t step)
{
	struct store_point *p;
	size_t n;

	cr_assert_eq(store_service_series(s, "default", "svc0", "requests", since, until, step,
					  &p, &n),
		     0);
	free(p);
	return n;
}

Test(store, rollup_keeps_totals_exact_and_retention_drops_raw_rows)
{
	uint64_t seq[15] = { 0 };
	struct expect e;
	struct store_edge *v;
	size_t n;
	int calls;
	struct store *s = open_store(1, 2);

	expect_init(&e);
	/* 15 agents x 3 services, 200 s from M0: 4 minutes, the last one partial */
	put_frames(s, 15, M0, 200, 3, seq, &e, M0, M0 + 240000);
	check_summary(s, "svc0", M0, M0 + 240000, &e);
	cr_assert_eq(series_n(s, M0, M0 + 240000, 1000), 200);

	/* roll up at M0 + 150 s: the first two minutes; bounded steps */
	maintain_all(s, M0 + 150000, &calls);
	cr_assert_gt(calls, 1, "5400 raw windows take more than one bounded step");
	check_summary(s, "svc0", M0, M0 + 240000, &e);
	maintain_all(s, M0 + 150000, &calls);
	cr_assert_eq(calls, 1, "nothing is rolled up twice");
	check_summary(s, "svc0", M0, M0 + 240000, &e);

	/* a late window for a rolled-up minute goes straight into its minute row */
	struct frame f;
	frame_make(&f, "host-late", M0 + 30500, 1, 99);
	expect_add(&e, f.items[0].w);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_put_windows(s, "default", "agent-late", 1, &f.b), 0);
	cr_assert_eq(store_commit(s), 0);
	frame_release(&f);
	check_summary(s, "svc0", M0, M0 + 240000, &e);

	/* two hours later: everything rolled up, raw rows gone, minute rows exact */
	int64_t later = M0 + 2 * 3600 * 1000 + 300000;
	maintain_all(s, later, &calls);
	check_summary(s, "svc0", M0, M0 + 240000, &e);
	cr_assert_eq(series_n(s, M0, M0 + 240000, 1000), 4,
		     "past raw retention only the minute rows are left");
	cr_assert_eq(store_topology(s, "default", M0, M0 + 240000, &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].requests, 4 * 200 * 15 + 4, "and the late window's 4 calls");
	store_topology_free(v, n);
	store_close(s);

	/* past minute retention too: nothing is left, not even the service */
	s = open_store(1, 2);
	maintain_all(s, M0 + 3 * 86400000LL, &calls);
	struct store_summary sum;
	struct store_service *sv;
	cr_assert_eq(store_service_summary(s, "default", "svc0", M0, M0 + 240000, &sum), -ENOENT);
	cr_assert_eq(store_services(s, "default", &sv, &n), 0);
	cr_assert_eq(n, 0);
	store_services_free(sv, n);
	cr_assert_eq(store_topology(s, "default", M0, M0 + 240000, &v, &n), 0);
	cr_assert_eq(n, 0);
	store_topology_free(v, n);
	store_close(s);
	hist_release(&e.latency_ns);
}

/* ---- crash safety ---- */

Test(store, a_kill_in_the_middle_of_a_transaction_leaves_the_store_consistent)
{
	int fds[2];
	pid_t pid;
	char c;
	uint64_t total = 0, last;
	struct store_summary sum;
	struct store *s;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint64_t seq[10] = { 0 };

		close(fds[0]);
		s = open_store(0, 0);
		for (int i = 0;; i++) {
			put_frames(s, 10, T0 + i * 20000, 20, 3, seq, NULL, 0, 0);
			if (i == 0 && write(fds[1], "x", 1) != 1)
				_exit(1);
		}
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 1);
	usleep(150000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fds[0]);

	s = open_store(0, 0);
	for (int a = 0; a < 10; a++) {
		char agent[32];

		snprintf(agent, sizeof(agent), "agent-%d", a);
		cr_assert_eq(store_agent_last_seq(s, "default", agent, &last), 0);
		cr_assert_geq(last, 20);
		total += last;
	}
	cr_assert_eq(store_service_summary(s, "default", "svc1", 0, INT64_MAX / 4, &sum), 0);
	cr_assert_eq(sum.windows, total, "one svc1 window per stored frame: %lu != %lu",
		     (unsigned long)sum.windows, (unsigned long)total);
	store_summary_release(&sum);
	store_close(s);
}

/* ---- the store's histogram encoder ---- */

Test(store, its_histogram_encoder_writes_the_bytes_of_hist_serialize)
{
	uint64_t x = 7;

	for (int round = 0; round < 200; round++) {
		struct buf a, b;
		struct hist h;
		int n = round % 50;

		hist_init(&h);
		for (int i = 0; i < n * 7; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			hist_record(&h, (x >> 11) % (round % 3 == 0 ? 300 : 1ULL << (10 + round % 40)));
		}
		if (round == 199)
			hist_record_n(&h, 12345, UINT64_MAX); /* a saturated count */
		buf_init(&a, 1 << 20);
		buf_init(&b, 1 << 20);
		cr_assert_eq(hist_serialize(&h, &a), 0);
		cr_assert_eq(store_hist_put(&h, &b), 0);
		cr_assert_eq(a.len, b.len, "round %d", round);
		cr_assert_eq(memcmp(a.data, b.data, a.len), 0, "round %d", round);
		buf_release(&a);
		buf_release(&b);
		hist_release(&h);
	}
}
