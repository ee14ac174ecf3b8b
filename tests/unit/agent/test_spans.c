/*
 * agent/spans.c with synthetic kernel records: one external POST /orders
 * and its two calls make one trace of five spans with the right parents;
 * concurrent requests get the calls of the latest-starting one (or of the
 * thread that made them); a call nothing contains becomes its own trace
 * after the bound; sampling keeps or drops whole traces, by trace id,
 * errors and slowness; every buffer is bounded and its drops counted.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spans.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"

TestSuite(spans, .fini = test_no_leaks);

enum { ORDERS = 1, USERS = 2, PAYMENTS = 3, BATCH = 4 };

/* The kernel's clock in these tests: far from 0, like a real uptime. */
#define T0    (1000ull * NSEC_PER_SEC)
#define MS(x) (T0 + (uint64_t)(x)*NSEC_PER_MSEC)

struct got {
	struct span *v;
	size_t n, alloc;
};

static void collect_span(void *arg, const struct span *s)
{
	struct got *g = arg;

	if (g->n == g->alloc) {
		g->alloc = g->alloc ? 2 * g->alloc : 16;
		g->v = realloc(g->v, g->alloc * sizeof(*g->v));
		cr_assert_not_null(g->v);
	}
	g->v[g->n++] = *s;
}

static struct spans *new_spans(double rate, void (*tweak)(struct spans_config *))
{
	struct service_set *set = calloc(1, sizeof(*set));
	static const char *const names[] = { NULL, "orders", "users", "payments", "batch" };
	struct spans_config c;
	struct spans *s;

	spans_config_default(&c);
	c.sample_rate = rate;
	c.host = "node-1";
	if (tweak)
		tweak(&c);
	s = spans_new(&c);
	for (uint16_t id = 1; id <= BATCH; id++) {
		struct service *sv = &set->items[set->n++];

		sv->id = id;
		snprintf(sv->name, sizeof(sv->name), "%s", names[id]);
	}
	spans_set_services(s, set);
	free(set);
	return s;
}

/* A request of @client (0: from outside) to @server (0: unwatched), from @start to @end ms. */
static void add(struct spans *s, uint16_t client, uint16_t server, uint64_t start_ms,
		uint64_t end_ms, uint16_t status, uint8_t method, const char *route)
{
	struct http_span_event e;

	memset(&e, 0, sizeof(e));
	snprintf(e.route, sizeof(e.route), "%s", route);
	e.start_ns = MS(start_ms);
	e.end_ns = MS(end_ms);
	e.family = 4;
	e.caddr[0] = 127, e.caddr[3] = 1;
	e.saddr[0] = 127, e.saddr[3] = 1;
	e.cport = 40000;
	e.sport = (uint16_t)(8000 + server);
	e.client_svc = client;
	e.server_svc = server;
	e.status = status;
	e.method = method;
	spans_add(s, &e);
}

/* One POST /orders at @t ms lasting 100 ms, with its calls to users and payments. */
static void add_order(struct spans *s, uint64_t t, uint16_t payment_status, uint64_t len_ms)
{
	add(s, ORDERS, USERS, t + 10, t + 30, 200, HTTP_METHOD_GET, "/users/{id}");
	add(s, ORDERS, PAYMENTS, t + 40, t + 80, payment_status, HTTP_METHOD_POST, "/payments");
	add(s, 0, ORDERS, t, t + len_ms, payment_status >= 500 ? 502 : 201, HTTP_METHOD_POST,
	    "/orders");
}

static const struct span *find(const struct got *g, uint8_t kind, const char *service,
			       const char *peer)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].kind == kind && !strcmp(g->v[i].service, service) &&
		    (!peer || !strcmp(g->v[i].peer_service, peer)))
			return &g->v[i];
	return NULL;
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, SPAN_ID_LEN);
}

/* Asserts @child's parent is @parent and its interval lies within the parent's. */
static void expect_child(const struct span *child, const struct span *parent)
{
	cr_assert_not_null(child);
	cr_assert_not_null(parent);
	cr_expect(same_id(child->parent_span_id, parent->span_id), "%s %u: wrong parent",
		  child->service, child->kind);
	cr_expect(!memcmp(child->trace_id, parent->trace_id, SPAN_TRACE_ID_LEN));
	cr_expect_geq(child->start_ns, parent->start_ns);
	cr_expect_leq(child->end_ns, parent->end_ns);
}

Test(spans, one_order_is_one_trace_of_five_spans)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;
	const struct span *root, *to_users, *to_payments, *users, *payments;
	int64_t offset = (int64_t)(time_real_ns() - time_mono_ns());

	add_order(s, 0, 201, 100);
	spans_collect(s, MS(2000), collect_span, &g);
	cr_assert_eq(g.n, 5);
	root = find(&g, SPAN_KIND_SERVER, "orders", NULL);
	to_users = find(&g, SPAN_KIND_CLIENT, "orders", "users");
	to_payments = find(&g, SPAN_KIND_CLIENT, "orders", "payments");
	users = find(&g, SPAN_KIND_SERVER, "users", NULL);
	payments = find(&g, SPAN_KIND_SERVER, "payments", NULL);
	cr_assert_not_null(root);
	cr_expect(span_is_root(root));
	cr_expect_eq(&g.v[0], root, "the root is emitted first");
	expect_child(to_users, root);
	expect_child(to_payments, root);
	expect_child(users, to_users);
	expect_child(payments, to_payments);
	for (size_t i = 0; i < g.n; i++) {
		cr_expect(!span_id_is_zero(g.v[i].span_id, SPAN_ID_LEN));
		cr_expect(!span_id_is_zero(g.v[i].trace_id, SPAN_TRACE_ID_LEN));
		cr_expect_str_eq(g.v[i].host, "node-1");
		for (size_t j = 0; j < i; j++)
			cr_expect(!same_id(g.v[i].span_id, g.v[j].span_id));
		cr_expect(i == 0 || !span_is_root(&g.v[i]));
	}
	/* what each span says */
	cr_expect_str_eq(root->method, "POST");
	cr_expect_str_eq(root->route, "/orders");
	cr_expect_eq(root->status, 201);
	cr_expect_str_eq(root->server_address, "");
	cr_expect_str_eq(to_users->method, "GET");
	cr_expect_str_eq(to_users->route, "/users/{id}");
	cr_expect_str_eq(to_users->server_address, "127.0.0.1");
	cr_expect_eq(to_users->server_port, 8000 + USERS);
	cr_expect_eq(to_payments->status, 201);
	/* unix times: the kernel's monotonic ones moved by the clocks' offset */
	cr_expect_lt(llabs(root->start_ns - ((int64_t)MS(0) + offset)), (int64_t)NSEC_PER_SEC);
	cr_expect_eq(root->end_ns - root->start_ns, 100 * (int64_t)NSEC_PER_MSEC);
	cr_expect_eq(users->start_ns - root->start_ns, 10 * (int64_t)NSEC_PER_MSEC);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces, 1);
	cr_expect_eq(st.traces_kept, 1);
	cr_expect_eq(st.spans_emitted, 5);
	cr_expect_eq(st.pending, 0);
	free(g.v);
	spans_free(s);
}

Test(spans, a_trace_is_built_once_its_root_has_settled)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;

	add_order(s, 0, 201, 100);
	spans_collect(s, MS(100) + SPANS_SETTLE_NS / 2, collect_span, &g);
	cr_expect_eq(g.n, 0);
	spans_get_stats(s, &st);
	cr_expect_eq(st.pending, 3);
	spans_collect(s, MS(100) + SPANS_SETTLE_NS, collect_span, &g);
	cr_expect_eq(g.n, 5);
	spans_collect(s, MS(5000), collect_span, &g);
	cr_expect_eq(g.n, 5, "built once");
	free(g.v);
	spans_free(s);
}

Test(spans, concurrent_requests_get_the_calls_of_the_latest_starting_one)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	const struct span *a = NULL, *b = NULL;

	/* A: 0..100 ms, B: 10..90 ms, both orders; the records come in order of end */
	add(s, ORDERS, 0, 5, 8, 200, HTTP_METHOD_GET, "/early");       /* in A only */
	add(s, ORDERS, 0, 20, 30, 200, HTTP_METHOD_GET, "/both");      /* in A and B */
	add(s, 0, ORDERS, 10, 90, 201, HTTP_METHOD_POST, "/orders/b"); /* B */
	add(s, ORDERS, 0, 92, 95, 200, HTTP_METHOD_GET, "/late");      /* in A only */
	add(s, 0, ORDERS, 0, 100, 201, HTTP_METHOD_POST, "/orders/a"); /* A */
	spans_collect(s, MS(1000), collect_span, &g);
	cr_assert_eq(g.n, 5);
	for (size_t i = 0; i < g.n; i++) {
		if (g.v[i].kind == SPAN_KIND_SERVER && !strcmp(g.v[i].route, "/orders/a"))
			a = &g.v[i];
		if (g.v[i].kind == SPAN_KIND_SERVER && !strcmp(g.v[i].route, "/orders/b"))
			b = &g.v[i];
	}
	cr_assert(a && b);
	cr_expect(memcmp(a->trace_id, b->trace_id, SPAN_TRACE_ID_LEN), "two traces");
	for (size_t i = 0; i < g.n; i++) {
		const struct span *c = &g.v[i];

		if (c->kind != SPAN_KIND_CLIENT)
			continue;
		expect_child(c, !strcmp(c->route, "/both") ? b : a);
	}
	free(g.v);
	spans_free(s);
}

Test(spans, the_thread_that_made_a_call_wins_over_the_latest_start)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct http_span_event e = { .start_ns = MS(20),
				     .end_ns = MS(30),
				     .family = 4,
				     .client_svc = ORDERS,
				     .req_tid = 7,
				     .status = 200,
				     .method = HTTP_METHOD_GET };
	const struct span *a = NULL, *call = NULL;

	spans_add(s, &e); /* made by thread 7 */
	/* B, 10..90 ms, answered by thread 8 */
	e = (struct http_span_event){ .start_ns = MS(10),
				      .end_ns = MS(90),
				      .family = 4,
				      .server_svc = ORDERS,
				      .resp_tid = 8,
				      .status = 200,
				      .method = HTTP_METHOD_POST };
	spans_add(s, &e);
	/* A, 0..100 ms, answered by thread 7 */
	e.start_ns = MS(0), e.end_ns = MS(100), e.resp_tid = 7;
	spans_add(s, &e);
	spans_collect(s, MS(1000), collect_span, &g);
	cr_assert_eq(g.n, 3);
	for (size_t i = 0; i < g.n; i++) {
		if (g.v[i].kind == SPAN_KIND_CLIENT)
			call = &g.v[i];
		else if (g.v[i].end_ns - g.v[i].start_ns == 100 * (int64_t)NSEC_PER_MSEC)
			a = &g.v[i];
	}
	expect_child(call, a);
	free(g.v);
	spans_free(s);
}

Test(spans, a_call_in_no_request_becomes_its_own_trace_after_the_bound)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;
	const struct span *call, *users;

	add(s, BATCH, USERS, 0, 10, 200, HTTP_METHOD_GET, "/users");
	spans_collect(s, MS(10) + SPANS_ORPHAN_NS - 1, collect_span, &g);
	cr_expect_eq(g.n, 0, "still waiting for a request that contains it");
	spans_collect(s, MS(10) + SPANS_ORPHAN_NS, collect_span, &g);
	cr_assert_eq(g.n, 2);
	call = find(&g, SPAN_KIND_CLIENT, "batch", "users");
	users = find(&g, SPAN_KIND_SERVER, "users", NULL);
	cr_assert_not_null(call);
	cr_expect(span_is_root(call));
	expect_child(users, call);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces_orphan, 1);
	cr_expect_eq(st.pending, 0);
	free(g.v);
	spans_free(s);
}

Test(spans, a_call_to_an_unwatched_server_names_it_by_address)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct http_span_event e = { .start_ns = MS(0),
				     .end_ns = MS(5),
				     .family = 6,
				     .client_svc = ORDERS,
				     .sport = 5432,
				     .status = 200,
				     .method = HTTP_METHOD_GET };

	cr_assert_eq(inet_pton(AF_INET6, "fd00::9", e.saddr), 1);
	spans_add(s, &e);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_assert_eq(g.n, 1);
	cr_expect_eq(g.v[0].kind, SPAN_KIND_CLIENT);
	cr_expect_str_eq(g.v[0].peer_service, "");
	cr_expect_str_eq(g.v[0].server_address, "fd00::9");
	cr_expect_eq(g.v[0].server_port, 5432);
	free(g.v);
	spans_free(s);
}

Test(spans, records_of_unknown_services_are_ignored)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;

	add(s, 0, 99, 0, 5, 200, HTTP_METHOD_GET, "/x"); /* never learnt */
	add(s, 0, 0, 0, 5, 200, HTTP_METHOD_GET, "/x");
	add(s, 0, USERS, 10, 5, 200, HTTP_METHOD_GET, "/x"); /* ends before it starts */
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(g.n, 0);
	spans_get_stats(s, &st);
	cr_expect_eq(st.records, 3);
	cr_expect_eq(st.records_ignored, 3);
	free(g.v);
	spans_free(s);
}

/* ---- sampling ---- */

static void slow_500ms(struct spans_config *c)
{
	c->slow_ns = 500 * NSEC_PER_MSEC;
}

/* How many spans each trace id has in @g; asserts every trace is whole (@per spans). */
static size_t count_traces(const struct got *g, size_t per)
{
	size_t traces = 0;

	for (size_t i = 0; i < g->n; i++) {
		size_t same = 0, first = i;

		for (size_t j = 0; j < g->n; j++) {
			if (!memcmp(g->v[i].trace_id, g->v[j].trace_id, SPAN_TRACE_ID_LEN)) {
				same++;
				if (j < first)
					first = j;
			}
		}
		cr_expect_eq(same, per, "a trace with %zu spans", same);
		traces += first == i;
	}
	return traces;
}

Test(spans, rate_zero_keeps_only_error_and_slow_traces)
{
	struct spans *s = new_spans(0, slow_500ms);
	struct got g = { 0 };
	struct spans_stats st;

	add_order(s, 0, 201, 100);    /* fine */
	add_order(s, 1000, 500, 100); /* payments fails */
	add_order(s, 2000, 201, 600); /* slow */
	add_order(s, 3000, 201, 500); /* exactly the bound: not slow */
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(count_traces(&g, 5), 2);
	cr_expect_not_null(find(&g, SPAN_KIND_SERVER, "payments", NULL));
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces, 4);
	cr_expect_eq(st.traces_kept, 2);
	cr_expect_eq(st.traces_sampled_out, 2);
	free(g.v);
	spans_free(s);
}

Test(spans, rate_one_keeps_every_trace)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };

	for (int i = 0; i < 20; i++)
		add_order(s, (uint64_t)i * 1000, 201, 100);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(count_traces(&g, 5), 20);
	free(g.v);
	spans_free(s);
}

Test(spans, whole_traces_are_kept_or_dropped_by_their_id)
{
	struct spans *s = new_spans(0.5, NULL);
	struct got g = { 0 };
	size_t traces;

	for (int i = 0; i < 200; i++)
		add_order(s, (uint64_t)i * 1000, 201, 100);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	traces = count_traces(&g, 5);
	/* binomial(200, 0.5): mean 100, sd about 7 */
	cr_expect(traces >= 65 && traces <= 135, "%zu of 200 traces kept", traces);
	for (size_t i = 0; i < g.n; i++)
		cr_expect(spans_trace_sampled(g.v[i].trace_id, 0.5));
	free(g.v);
	spans_free(s);
}

Test(spans, the_trace_id_rule_is_the_exporters)
{
	uint8_t id[SPAN_TRACE_ID_LEN] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0xff };
	uint8_t high[SPAN_TRACE_ID_LEN] = { 0x20 };
	uint8_t top[SPAN_TRACE_ID_LEN];

	/* 0x10/0x100 = 0.0625 of the id space lies below, 0x20 is 0.125 */
	cr_expect(spans_trace_sampled(id, 0.1));
	cr_expect(spans_trace_sampled(id, 0.1), "the same id, the same decision");
	cr_expect_not(spans_trace_sampled(high, 0.1));
	cr_expect(spans_trace_sampled(high, 0.2));
	cr_expect_not(spans_trace_sampled(id, 0));
	cr_expect_not(spans_trace_sampled(id, NAN));
	memset(top, 0xff, sizeof(top));
	cr_expect(spans_trace_sampled(top, 1));
	cr_expect_not(spans_trace_sampled(top, 0.999999));
}

/* ---- bounds ---- */

static void pending_4(struct spans_config *c)
{
	c->max_pending = 4;
}

Test(spans, the_oldest_records_go_first_at_the_pending_bound)
{
	struct spans *s = new_spans(1, pending_4);
	struct got g = { 0 };
	struct spans_stats st;
	int64_t offset = (int64_t)(time_real_ns() - time_mono_ns());

	for (uint64_t i = 0; i < 6; i++)
		add(s, BATCH, 0, i * 100, i * 100 + 10, 200, HTTP_METHOD_GET, "/job");
	spans_get_stats(s, &st);
	cr_expect_eq(st.pending, 4);
	cr_expect_eq(st.pending_dropped, 2);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_assert_eq(g.n, 4);
	/* the four newest: from 200 ms on */
	cr_expect_lt(llabs(g.v[0].start_ns - (int64_t)MS(200) - offset),
		     50 * (int64_t)NSEC_PER_MSEC);
	cr_expect_eq(g.v[3].start_ns - g.v[0].start_ns, 300 * (int64_t)NSEC_PER_MSEC);
	/* the ring wraps: more records after a collect keep their order */
	for (uint64_t i = 10; i < 15; i++)
		add(s, BATCH, 0, i * 100, i * 100 + 10, 200, HTTP_METHOD_GET, "/job");
	g.n = 0;
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_assert_eq(g.n, 4);
	for (size_t i = 1; i < g.n; i++)
		cr_expect_eq(g.v[i].start_ns - g.v[i - 1].start_ns, 100 * (int64_t)NSEC_PER_MSEC);
	spans_get_stats(s, &st);
	cr_expect_eq(st.pending_dropped, 3);
	free(g.v);
	spans_free(s);
}

static void cap_12(struct spans_config *c)
{
	c->max_spans_per_window = 12;
}

Test(spans, a_window_emits_at_most_max_spans_per_window_in_whole_traces)
{
	struct spans *s = new_spans(1, cap_12);
	struct got g = { 0 };
	struct spans_stats st;

	for (int i = 0; i < 3; i++)
		add_order(s, (uint64_t)i * 1000, 201, 100);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(count_traces(&g, 5), 2);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces_over_cap, 1);
	cr_expect_eq(st.spans_emitted, 10);
	/* within the window, no more; the next window has a budget of its own */
	add_order(s, 10000, 201, 100);
	g.n = 0;
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(g.n, 0);
	add_order(s, 20000, 201, 100);
	spans_window_reset(s);
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(g.n, 5);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces_over_cap, 2);
	free(g.v);
	spans_free(s);
}

Test(spans, many_concurrent_requests_each_get_their_own_calls)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;

	/*
	 * 500 orders, a new one every 10 ms, each 100 ms long: about ten
	 * overlap at any time. Each call carries its thread, as the kernel's
	 * records do, so the hint picks the right request among the ten.
	 */
	for (uint64_t i = 0; i < 500; i++) {
		struct http_span_event e = { .start_ns = MS(i * 10 + 10),
					     .end_ns = MS(i * 10 + 30),
					     .family = 4,
					     .client_svc = ORDERS,
					     .server_svc = USERS,
					     .req_tid = (uint32_t)(100 + i % 16),
					     .resp_tid = 1,
					     .status = 200,
					     .method = HTTP_METHOD_GET };

		spans_add(s, &e);
		e.start_ns = MS(i * 10), e.end_ns = MS(i * 10 + 100);
		e.client_svc = 0, e.server_svc = ORDERS, e.resp_tid = e.req_tid, e.req_tid = 0;
		spans_add(s, &e);
	}
	spans_collect(s, UINT64_MAX, collect_span, &g);
	cr_expect_eq(count_traces(&g, 3), 500);
	for (size_t i = 0; i < g.n; i++)
		if (g.v[i].kind == SPAN_KIND_CLIENT)
			for (size_t j = 0; j < g.n; j++)
				if (same_id(g.v[i].parent_span_id, g.v[j].span_id))
					cr_expect_eq(g.v[i].start_ns - g.v[j].start_ns,
						     10 * (int64_t)NSEC_PER_MSEC);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces_orphan, 0);
	free(g.v);
	spans_free(s);
}

/* ---- traceparent ---- */

#define TP_TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_PARENT "00f067aa0ba902b7"
#define TP_VALUE  "00-" TP_TRACE "-" TP_PARENT "-01"
#define REQ_LINE  "POST /orders HTTP/1.1\r\nHost: orders\r\n"

static bool parse(const char *head, struct spans_traceparent *tp)
{
	return spans_parse_traceparent(head, strlen(head), tp);
}

Test(spans, parses_a_valid_traceparent)
{
	struct spans_traceparent tp;
	uint8_t trace[SPAN_TRACE_ID_LEN], parent[SPAN_ID_LEN];

	cr_assert(parse(REQ_LINE "traceparent: " TP_VALUE "\r\nAccept: */*\r\n\r\n", &tp));
	cr_assert_eq(span_unhex(TP_TRACE, trace, sizeof(trace)), 0);
	cr_assert_eq(span_unhex(TP_PARENT, parent, sizeof(parent)), 0);
	cr_expect_arr_eq(tp.trace_id, trace, sizeof(trace));
	cr_expect_arr_eq(tp.parent_id, parent, sizeof(parent));
	cr_expect_eq(tp.flags, 1);
	/* no space after the colon, a bare \n, trailing blanks, flags 00 */
	cr_expect(parse(REQ_LINE "traceparent:00-" TP_TRACE "-" TP_PARENT "-00 \t\n\n", &tp));
	cr_expect_eq(tp.flags, 0);
}

Test(spans, the_header_name_is_case_insensitive)
{
	struct spans_traceparent tp;

	cr_expect(parse(REQ_LINE "TraceParent: " TP_VALUE "\r\n\r\n", &tp));
	cr_expect(parse(REQ_LINE "TRACEPARENT: " TP_VALUE "\r\n\r\n", &tp));
}

Test(spans, refuses_uppercase_hex_other_versions_and_zero_ids)
{
	struct spans_traceparent tp;

	cr_expect_not(parse(REQ_LINE "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-" TP_PARENT
				     "-01\r\n\r\n",
			    &tp));
	cr_expect_not(
		parse(REQ_LINE "traceparent: 00-" TP_TRACE "-00F067AA0BA902B7-01\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparent: 00-" TP_TRACE "-" TP_PARENT "-0A\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparent: 01-" TP_TRACE "-" TP_PARENT "-01\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparent: ff-" TP_TRACE "-" TP_PARENT "-01\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparent: 00-00000000000000000000000000000000-" TP_PARENT
				     "-01\r\n\r\n",
			    &tp));
	cr_expect_not(
		parse(REQ_LINE "traceparent: 00-" TP_TRACE "-0000000000000000-01\r\n\r\n", &tp));
	/* a longer value (version 00 has exactly 55 characters), a shorter one */
	cr_expect_not(parse(REQ_LINE "traceparent: " TP_VALUE "-00\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparent: 00-" TP_TRACE "-" TP_PARENT "-1\r\n\r\n", &tp));
}

Test(spans, takes_the_header_only_at_a_line_start_and_before_the_body)
{
	struct spans_traceparent tp;

	cr_expect_not(parse(REQ_LINE "x-traceparent: " TP_VALUE "\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "Referer: /a\r\n traceparent: " TP_VALUE "\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "\r\ntraceparent: " TP_VALUE "\r\n", &tp));
	cr_expect_not(parse("GET /traceparent: " TP_VALUE "\r\n\r\n", &tp));
	cr_expect_not(parse(REQ_LINE "traceparentx: " TP_VALUE "\r\n\r\n", &tp));
}

Test(spans, ignores_a_header_cut_by_the_end_of_the_head)
{
	static const char full[] = REQ_LINE "traceparent: " TP_VALUE "\r\n\r\n";
	struct spans_traceparent tp;
	size_t value_end = sizeof(full) - 1 - 4; /* where "\r\n\r\n" starts */

	cr_assert(spans_parse_traceparent(full, sizeof(full) - 1, &tp));
	/* cut anywhere before the line's \n, even right after the value or its \r */
	for (size_t len = 0; len <= value_end + 1; len++)
		cr_expect_not(spans_parse_traceparent(full, len, &tp), "taken when cut at %zu",
			      len);
	cr_expect(spans_parse_traceparent(full, value_end + 2, &tp));
}

/* The head of @server's request from outside that add(s, 0, @server, @start_ms, ...) adds. */
static void add_head(struct spans *s, uint16_t server, uint64_t start_ms, const char *text)
{
	struct http_head_event h;

	memset(&h, 0, sizeof(h));
	h.start_ns = MS(start_ms);
	h.caddr[0] = 127, h.caddr[3] = 1;
	h.saddr[0] = 127, h.saddr[3] = 1;
	h.cport = 40000;
	h.sport = (uint16_t)(8000 + server);
	h.len = (uint16_t)strlen(text);
	memcpy(h.data, text, h.len);
	spans_add_head(s, &h);
}

Test(spans, a_request_with_a_traceparent_joins_the_callers_trace)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;
	uint8_t trace[SPAN_TRACE_ID_LEN], parent[SPAN_ID_LEN];
	const struct span *root;

	cr_assert_eq(span_unhex(TP_TRACE, trace, sizeof(trace)), 0);
	cr_assert_eq(span_unhex(TP_PARENT, parent, sizeof(parent)), 0);
	add_head(s, ORDERS, 0,
		 REQ_LINE "traceparent: 00-" TP_TRACE "-" TP_PARENT "-00\r\nAccept: */*\r\n\r\n");
	add_order(s, 0, 201, 100);
	spans_collect(s, MS(2000), collect_span, &g);
	cr_assert_eq(g.n, 5);
	root = find(&g, SPAN_KIND_SERVER, "orders", NULL);
	cr_assert_not_null(root);
	cr_expect_arr_eq(root->parent_span_id, parent, SPAN_ID_LEN);
	for (size_t i = 0; i < g.n; i++)
		cr_expect_arr_eq(g.v[i].trace_id, trace, SPAN_TRACE_ID_LEN, "span %zu not in it",
				 i);
	expect_child(find(&g, SPAN_KIND_CLIENT, "orders", "users"), root);
	expect_child(find(&g, SPAN_KIND_CLIENT, "orders", "payments"), root);
	expect_child(find(&g, SPAN_KIND_SERVER, "users", NULL),
		     find(&g, SPAN_KIND_CLIENT, "orders", "users"));
	spans_get_stats(s, &st);
	cr_expect_eq(st.heads_traceparent, 1);
	cr_expect_eq(st.traces_linked, 1);
	free(g.v);
	spans_free(s);
}

Test(spans, a_head_of_another_request_or_without_the_header_links_nothing)
{
	struct spans *s = new_spans(1, NULL);
	struct got g = { 0 };
	struct spans_stats st;
	uint8_t trace[SPAN_TRACE_ID_LEN];

	cr_assert_eq(span_unhex(TP_TRACE, trace, sizeof(trace)), 0);
	/* an earlier request on the connection (another start) */
	add_head(s, ORDERS, 0, REQ_LINE "traceparent: " TP_VALUE "\r\n\r\n");
	add(s, 0, ORDERS, 5, 20, 200, HTTP_METHOD_POST, "/orders");
	/* no header */
	add_head(s, USERS, 30, REQ_LINE "Accept: */*\r\n\r\n");
	add(s, 0, USERS, 30, 40, 200, HTTP_METHOD_GET, "/users/{id}");
	spans_collect(s, MS(2000), collect_span, &g);
	cr_assert_eq(g.n, 2);
	for (size_t i = 0; i < g.n; i++) {
		cr_expect(memcmp(g.v[i].trace_id, trace, SPAN_TRACE_ID_LEN));
		cr_expect(span_is_root(&g.v[i]));
	}
	spans_get_stats(s, &st);
	cr_expect_eq(st.heads_traceparent, 1);
	cr_expect_eq(st.traces_linked, 0);
	free(g.v);
	spans_free(s);
}

Test(spans, an_upstream_sampled_trace_is_kept_whatever_the_rate)
{
	struct spans *s = new_spans(0, NULL);
	struct got g = { 0 };
	struct spans_stats st;

	/* sampled upstream (flags 01): kept at rate 0 */
	add_head(s, ORDERS, 0, REQ_LINE "traceparent: " TP_VALUE "\r\n\r\n");
	add_order(s, 0, 201, 100);
	/* not sampled upstream (flags 00): the trace-id rule, which at rate 0 drops it */
	add_head(s, ORDERS, 1000, REQ_LINE "traceparent: 00-" TP_TRACE "-" TP_PARENT "-00\r\n\r\n");
	add_order(s, 1000, 201, 100);
	spans_collect(s, MS(5000), collect_span, &g);
	cr_expect_eq(g.n, 5);
	spans_get_stats(s, &st);
	cr_expect_eq(st.traces_linked, 2);
	cr_expect_eq(st.traces_kept, 1);
	cr_expect_eq(st.traces_sampled_out, 1);
	free(g.v);
	spans_free(s);
}
