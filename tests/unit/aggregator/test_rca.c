/*
 * Root cause analysis (aggregator/analysis/rca.c) on hand-built evidence:
 * the demo's call graph (orders calls users and payments) with one fault at
 * a time (payments slow, payments failing, payments down, users burning
 * CPU, orders leaking memory), an isolated service, an unwatched database
 * seen only through its callers, two faults one after the other, a target
 * service, an anomaly, and no data at all. Each scenario builds the figures
 * the agents would have sent: a steady baseline, and per second of the span
 * what each service answered and how its calls went.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/analysis/rca.h"
#include "tests/lib/leakcheck.h"

TestSuite(rca, .fini = test_no_leaks);

#define T0_MS	 1790000000000ll
#define SPAN_S	 30
#define SVC_MAX	 8
#define EDGE_MAX 16

/* One second of a service, as it answered. */
struct sec {
	double rps, p50, p99, err; /* err: 5xx fraction */
	double cf;		   /* its failed connects in that second */
};

struct tsvc {
	char name[SERVICE_NAME_MAX];
	bool observed;
	struct sec base;	       /* every second of the baseline */
	struct sec span[SPAN_S];       /* each second of the span */
	double alloc_base, alloc_span; /* allocation syscalls per request */
	double sys_base, sys_span;     /* ms in syscalls per request */
	struct evidence_errno errnos[2];
	size_t nerrnos;
};

struct tedge {
	const char *from, *to;
	struct evidence_calls base, span;
};

static struct {
	struct tsvc s[SVC_MAX];
	size_t ns;
	struct tedge e[EDGE_MAX];
	size_t ne;
	struct evidence_anomaly an[16];
	size_t nan;
} t;

static struct evidence ev;
static struct rca_result res;

static void reset(void)
{
	memset(&t, 0, sizeof(t));
	memset(&ev, 0, sizeof(ev));
	memset(&res, 0, sizeof(res));
}

static void finish(void)
{
	rca_result_release(&res);
	evidence_release(&ev);
	test_no_leaks();
}

TestSuite(rca_cases, .init = reset, .fini = finish);

/* ---- building the evidence ---- */

static struct tsvc *svc(const char *name, double rps, double p50, double p99)
{
	struct tsvc *x = &t.s[t.ns++];

	snprintf(x->name, sizeof(x->name), "%s", name);
	x->observed = true;
	x->base = (struct sec){ .rps = rps, .p50 = p50, .p99 = p99 };
	for (int i = 0; i < SPAN_S; i++)
		x->span[i] = x->base;
	x->alloc_base = x->alloc_span = 0.01;
	x->sys_base = x->sys_span = 0.2;
	return x;
}

static struct tsvc *find(const char *name)
{
	for (size_t i = 0; i < t.ns; i++)
		if (!strcmp(t.s[i].name, name))
			return &t.s[i];
	cr_assert_fail("no service %s", name);
	return NULL;
}

/* From second @from of the span on, @name answers with @sec's figures (a negative keeps it). */
static void from_second(const char *name, int from, struct sec v)
{
	struct tsvc *x = find(name);

	for (int i = from; i < SPAN_S; i++) {
		if (v.rps >= 0)
			x->span[i].rps = v.rps;
		if (v.p50 >= 0)
			x->span[i].p50 = v.p50;
		if (v.p99 >= 0)
			x->span[i].p99 = v.p99;
		if (v.err >= 0)
			x->span[i].err = v.err;
		if (v.cf >= 0)
			x->span[i].cf = v.cf;
	}
}

static const struct sec KEEP = { -1, -1, -1, -1, -1 };

static struct sec with_p(double p50, double p99)
{
	struct sec v = KEEP;

	v.p50 = p50;
	v.p99 = p99;
	return v;
}

static struct sec with_err(double err)
{
	struct sec v = KEEP;

	v.err = err;
	return v;
}

static struct tedge *edge(const char *from, const char *to, double calls_per_s, double p50,
			  double p99)
{
	struct tedge *e = &t.e[t.ne++];
	uint64_t n = (uint64_t)(calls_per_s * SPAN_S);

	e->from = from;
	e->to = to;
	e->base = (struct evidence_calls){ .requests = n, .p50_ms = p50, .p99_ms = p99 };
	e->span = e->base;
	return e;
}

static struct tedge *find_edge(const char *from, const char *to)
{
	for (size_t i = 0; i < t.ne; i++)
		if (!strcmp(t.e[i].from, from) && !strcmp(t.e[i].to, to))
			return &t.e[i];
	cr_assert_fail("no edge %s -> %s", from, to);
	return NULL;
}

static void anomaly(int64_t id, const char *service, const char *metric, int second, double peak,
		    double expected)
{
	struct evidence_anomaly *a = &t.an[t.nan++];

	memset(a, 0, sizeof(*a));
	a->id = id;
	snprintf(a->service, sizeof(a->service), "%s", service);
	snprintf(a->metric, sizeof(a->metric), "%s", metric);
	a->severity = STORE_SEVERITY_CRITICAL;
	a->open = true;
	a->score = 0.9;
	a->peak_value = a->current_value = peak;
	a->expected_mean = expected;
	a->started_ms = T0_MS + second * 1000;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void level(struct evidence_level *l, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	l->typical = n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
	l->peak = n ? v[n >= 2 ? n - 2 : 0] : 0;
}

/* The request-weighted quantile @q of the seconds' values @key (p50 or p99). */
static double weighted(const struct tsvc *x, bool p99)
{
	double total = 0, acc = 0, v[SPAN_S], w[SPAN_S];
	int idx[SPAN_S], n = 0;

	for (int i = 0; i < SPAN_S; i++)
		if (x->span[i].rps > 0) {
			v[n] = p99 ? x->span[i].p99 : x->span[i].p50;
			w[n] = x->span[i].rps;
			idx[n] = n;
			total += w[n++];
		}
	/* the value that a fraction 1 - q of the requests is above */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[idx[j]] > v[idx[i]]) {
				int k = idx[i];

				idx[i] = idx[j];
				idx[j] = k;
			}
	for (int i = 0; i < n; i++) {
		acc += w[idx[i]];
		if (acc >= total * (p99 ? 0.01 : 0.5))
			return v[idx[i]];
	}
	return 0;
}

static void span_stats(const struct tsvc *x, struct evidence_service *sv)
{
	struct evidence_stats *s = &sv->span;
	double rate[SPAN_S], err[SPAN_S], p50[SPAN_S], p99[SPAN_S];
	size_t nr = 0, nl = 0, ne = 0;
	double cf = 0;

	for (int i = 0; i < SPAN_S; i++) {
		const struct sec *c = &x->span[i];
		uint64_t req = (uint64_t)llround(c->rps), e = (uint64_t)llround(c->rps * c->err);

		sv->steps[i] = (struct evidence_step){ .windows = x->observed,
						       .requests = req,
						       .errors = e,
						       .p50_ms = req ? c->p50 : 0,
						       .p99_ms = req ? c->p99 : 0,
						       .connect_failures = (uint64_t)c->cf };
		s->requests += req;
		s->errors += e;
		cf += c->cf;
		rate[nr++] = (double)req;
		if (req >= 3)
			err[ne++] = (double)e / (double)req;
		if (req) {
			p50[nl] = c->p50;
			p99[nl++] = c->p99;
			sv->last_active_step = i;
		}
	}
	s->windows = x->observed ? SPAN_S : 0;
	s->request_rate.total = (double)s->requests / SPAN_S;
	s->error_rate.total = s->requests ? (double)s->errors / (double)s->requests : 0;
	level(&s->request_rate, rate, nr);
	if (ne)
		level(&s->error_rate, err, ne);
	else
		s->error_rate.typical = s->error_rate.peak = s->error_rate.total;
	level(&s->p50_ms, p50, nl);
	level(&s->p99_ms, p99, nl);
	s->p50_ms.total = weighted(x, false);
	s->p99_ms.total = weighted(x, true);
	s->tcp.connect_failures = (uint64_t)cf;
	s->alloc_syscalls_per_request = s->requests ? x->alloc_span : -1;
	s->syscall_ms_per_request = s->requests ? x->sys_span : -1;
}

static void base_stats(const struct tsvc *x, struct evidence_stats *b)
{
	const struct sec *c = &x->base;

	b->windows = x->observed ? SPAN_S : 0;
	b->requests = (uint64_t)llround(c->rps * SPAN_S);
	b->errors = (uint64_t)llround(c->rps * SPAN_S * c->err);
	b->request_rate = (struct evidence_level){ c->rps, c->rps, c->rps };
	b->error_rate = (struct evidence_level){ c->err, c->err, c->err };
	b->p50_ms = (struct evidence_level){ c->p50, c->p50, c->p50 * 1.1 };
	b->p99_ms = (struct evidence_level){ c->p99, c->p99 * 0.8, c->p99 };
	b->tcp.connect_failures = (uint64_t)(c->cf * SPAN_S);
	b->alloc_syscalls_per_request = b->requests ? x->alloc_base : -1;
	b->syscall_ms_per_request = b->requests ? x->sys_base : -1;
}

static int cmp_tsvc(const void *a, const void *b)
{
	return strcmp(((const struct tsvc *)a)->name, ((const struct tsvc *)b)->name);
}

/* The evidence of everything built so far, then the analysis with @o (may be NULL). */
static int analyse(const struct rca_options *o)
{
	snprintf(ev.tenant, sizeof(ev.tenant), "default");
	ev.since_ms = T0_MS;
	ev.until_ms = T0_MS + SPAN_S * 1000;
	ev.baseline_since_ms = T0_MS - SPAN_S * 1000;
	ev.step_ms = 1000;
	ev.nsteps = ev.nsteps_data = SPAN_S;
	qsort(t.s, t.ns, sizeof(t.s[0]), cmp_tsvc);
	ev.services = calloc(t.ns + 1, sizeof(*ev.services));
	for (size_t i = 0; i < t.ns; i++) {
		struct evidence_service *sv = &ev.services[ev.nservices++];

		snprintf(sv->name, sizeof(sv->name), "%s", t.s[i].name);
		sv->observed = t.s[i].observed;
		sv->last_active_step = -1;
		if (!sv->observed)
			continue;
		base_stats(&t.s[i], &sv->baseline);
		span_stats(&t.s[i], sv);
		memcpy(sv->errnos, t.s[i].errnos, sizeof(t.s[i].errnos));
		sv->nerrnos = t.s[i].nerrnos;
	}
	ev.edges = calloc(t.ne + 1, sizeof(*ev.edges));
	for (size_t i = 0; i < t.ne; i++) {
		struct evidence_edge *e = &ev.edges[ev.nedges++];

		snprintf(e->from, sizeof(e->from), "%s", t.e[i].from);
		snprintf(e->to, sizeof(e->to), "%s", t.e[i].to);
		e->from_idx = evidence_service_index(&ev, e->from);
		e->to_idx = evidence_service_index(&ev, e->to);
		e->span = t.e[i].span;
		e->baseline = t.e[i].base;
	}
	ev.anomalies = calloc(t.nan + 1, sizeof(*ev.anomalies));
	memcpy(ev.anomalies, t.an, t.nan * sizeof(*t.an));
	ev.nanomalies = t.nan;
	return rca_analyse(&ev, o, &res);
}

/* The demo's graph, healthy: orders (40/s) calls users and payments (12/s each). */
static void demo(void)
{
	svc("orders", 40, 0.2, 8);
	svc("users", 12, 0.1, 5);
	svc("payments", 12, 0.1, 4);
	edge("orders", "users", 12, 0.1, 5);
	edge("orders", "payments", 12, 0.1, 4);
}

/* ---- reading the result ---- */

static const struct rca_suspect *suspect(const char *name)
{
	for (size_t i = 0; i < res.nsuspects; i++)
		if (!strcmp(res.suspects[i].service, name))
			return &res.suspects[i];
	return NULL;
}

static bool mentions(const struct rca_suspect *s, const char *needle)
{
	for (size_t i = 0; s && i < s->nevidence; i++)
		if (strstr(s->evidence[i], needle))
			return true;
	return false;
}

static void dump(void)
{
	fprintf(stderr, "cause %s (%.2f): %s\n", res.found ? res.cause : "-", res.confidence,
		res.reason);
	for (size_t i = 0; i < res.nsuspects; i++) {
		const struct rca_suspect *s = &res.suspects[i];

		fprintf(stderr,
			"  %s %.3f %s sick %.2f own %.2f first %.2f depth %.2f kernel %.2f\n",
			s->service, s->score, rca_role_name(s->role), s->sick, s->own, s->first,
			s->depth, s->kernel);
		for (size_t j = 0; j < s->nevidence; j++)
			fprintf(stderr, "    - %s\n", s->evidence[j]);
	}
}

static void expect_cause(const char *name)
{
	if (!res.found || strcmp(res.cause, name) || getenv("PRP_RCA_DUMP"))
		dump();
	cr_assert(res.found, "no cause found: %s", res.reason);
	cr_assert_str_eq(res.cause, name, "cause %s, want %s", res.cause, name);
	cr_assert_str_eq(res.suspects[0].service, name);
	cr_assert_gt(res.confidence, 0.4, "confidence %.2f", res.confidence);
	cr_assert_leq(res.confidence, 1.0);
	cr_assert(strstr(res.markdown, name), "the account names it");
	cr_assert(strstr(res.reason, name));
	for (size_t i = 0; i < res.nsuspects; i++) {
		cr_assert(res.suspects[i].score >= 0 && res.suspects[i].score <= 1);
		cr_assert_gt(res.suspects[i].nevidence, 0, "%s has no evidence",
			     res.suspects[i].service);
		if (i)
			cr_assert_geq(res.suspects[i - 1].score, res.suspects[i].score);
	}
}

static void expect_victim(const char *name)
{
	const struct rca_suspect *s = suspect(name);

	if (!s || s->role != RCA_ROLE_VICTIM)
		dump();
	cr_assert_not_null(s, "%s is not among the suspects", name);
	cr_assert_eq(s->role, RCA_ROLE_VICTIM, "%s is %s", name, rca_role_name(s->role));
	cr_assert_lt(s->score, res.suspects[0].score - 0.2, "%s scores %.2f against %.2f", name,
		     s->score, res.suspects[0].score);
}

/* ---- scenarios ---- */

Test(rca_cases, a_slow_payments_is_the_cause_and_orders_waiting_on_it_a_victim)
{
	demo();
	from_second("payments", 5, with_p(300, 310));
	/* orders' POSTs wait on payments: its p99 (and, with 30% POSTs, not its p50) rises */
	from_second("orders", 5, with_p(0.3, 312));
	find_edge("orders", "payments")->span.p50_ms = 300;
	find_edge("orders", "payments")->span.p99_ms = 310;
	anomaly(7, "orders", "latency_p99", 7, 312, 8);
	anomaly(8, "payments", "latency_p99", 8, 310, 4);
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
	expect_victim("orders");
	cr_assert_null(suspect("users"), "users is healthy");
	cr_assert(mentions(suspect("orders"), "waiting on payments"));
	cr_assert(mentions(suspect("payments"), "p99 latency"));
	/* both anomalies on the timeline, in time order */
	cr_assert_eq(res.nevents, 2);
	cr_assert_str_eq(res.events[0].service, "orders");
	cr_assert(strstr(res.events[0].text, "anomaly 7"));
	cr_assert_leq(res.events[0].t_ms, res.events[1].t_ms);
}

Test(rca_cases, failing_payments_is_the_cause_of_orders_502s)
{
	demo();
	from_second("payments", 4, with_err(0.5));
	from_second("orders", 4, with_err(0.15)); /* its POSTs answer 502 */
	find_edge("orders", "payments")->span.errors = 26 * 6;
	anomaly(3, "orders", "error_rate", 5, 0.15, 0);
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
	expect_victim("orders");
	cr_assert(mentions(suspect("orders"), "follow payments'"));
	cr_assert(mentions(suspect("payments"), "5xx"));
}

Test(rca_cases, payments_down_is_found_from_the_connects_orders_cannot_make)
{
	struct tsvc *o;

	demo();
	/* stopped at second 6: it answers nothing more; orders gets refused and answers 502 */
	from_second("payments", 6, (struct sec){ 0, 0, 0, 0, 0 });
	from_second("orders", 6, (struct sec){ -1, -1, -1, 0.3, 12 });
	find_edge("orders", "payments")->span.requests = 12 * 6;
	o = find("orders");
	o->errnos[0] = (struct evidence_errno){
		.err = ECONNREFUSED, .name = "ECONNREFUSED", .syscall = "connect", .span = 288
	};
	o->nerrnos = 1;
	anomaly(11, "orders", "error_rate", 7, 0.3, 0);
	anomaly(12, "payments", "request_rate", 8, 0, 12);
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
	expect_victim("orders");
	cr_assert(mentions(suspect("payments"), "failed to connect"));
	cr_assert(mentions(suspect("payments"), "ECONNREFUSED"));
	cr_assert(mentions(suspect("payments"), "no requests answered"));
	cr_assert_gt(suspect("payments")->kernel, 0.9);
}

Test(rca_cases, payments_down_without_its_own_windows_is_still_found)
{
	struct tsvc *p;

	demo();
	/* the agent lost it with its process: no window of it at all in the span */
	p = find("payments");
	for (int i = 0; i < SPAN_S; i++)
		p->span[i] = (struct sec){ 0 };
	from_second("orders", 0, (struct sec){ -1, -1, -1, 0.3, 12 });
	find_edge("orders", "payments")->span.requests = 0;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
}

Test(rca_cases, users_burning_cpu_is_the_cause_and_payments_stays_healthy)
{
	demo();
	from_second("users", 3, with_p(85, 290));
	from_second("orders", 3, with_p(0.3, 320));
	find_edge("orders", "users")->span.p50_ms = 86;
	find_edge("orders", "users")->span.p99_ms = 292;
	/* a busy host: payments a little slower, below every floor */
	from_second("payments", 3, with_p(0.2, 9));
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("users");
	expect_victim("orders");
	cr_assert_null(suspect("payments"));
	cr_assert(mentions(suspect("users"), "CPU-bound"), "its syscalls do not explain it");
}

Test(rca_cases, orders_leaking_memory_is_its_own_trouble)
{
	struct tsvc *o;

	demo();
	from_second("orders", 2, with_p(6, 90));
	o = find("orders");
	o->alloc_span = 0.9;
	find_edge("orders", "users")->span.p50_ms = 0.15;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("orders");
	cr_assert_eq(res.suspects[0].role, RCA_ROLE_CAUSE);
	cr_assert(mentions(suspect("orders"), "memory is growing"));
	cr_assert(mentions(suspect("orders"), "look healthy"));
}

Test(rca_cases, a_leak_is_found_from_memory_syscalls_before_latency_moves)
{
	demo();
	/* p50 0.2 -> 3 ms: a real change, below every latency floor */
	from_second("orders", 2, with_p(3, 7));
	find("orders")->alloc_span = 0.74;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("orders");
	cr_assert(mentions(suspect("orders"), "memory is growing"));
	cr_assert_eq(res.nsuspects, 1);
}

Test(rca_cases, a_victim_mapping_memory_for_requests_piling_up_stays_a_victim)
{
	demo();
	from_second("payments", 5, with_p(300, 310));
	from_second("orders", 5, with_p(0.3, 312));
	find_edge("orders", "payments")->span.p50_ms = 300;
	find_edge("orders", "payments")->span.p99_ms = 310;
	/* threads waiting on payments: their stacks are mapped */
	find("orders")->alloc_span = 0.5;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
	expect_victim("orders");
}

Test(rca_cases, an_isolated_service_failing_is_named)
{
	demo();
	svc("billing", 5, 1, 3);
	from_second("billing", 10, with_err(0.6));
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("billing");
	cr_assert_eq(res.nsuspects, 1);
	cr_assert(mentions(suspect("billing"), "calls no other"));
}

Test(rca_cases, an_unwatched_database_is_named_from_its_callers_calls)
{
	svc("users", 20, 1, 5);
	edge("users", "10.0.0.5:5432", 20, 0.5, 2);
	find_edge("users", "10.0.0.5:5432")->span.p50_ms = 250;
	find_edge("users", "10.0.0.5:5432")->span.p99_ms = 400;
	from_second("users", 5, with_p(251, 402));
	/* the database has no agent: a node of the graph only */
	snprintf(t.s[t.ns].name, sizeof(t.s[t.ns].name), "10.0.0.5:5432");
	t.s[t.ns++].observed = false;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("10.0.0.5:5432");
	expect_victim("users");
}

Test(rca_cases, of_two_faults_the_one_that_began_first_leads)
{
	demo();
	from_second("payments", 2, with_p(300, 310));
	from_second("orders", 2, with_p(0.3, 312));
	find_edge("orders", "payments")->span.p50_ms = 300;
	find_edge("orders", "payments")->span.p99_ms = 310;
	from_second("users", 18, with_err(0.5));
	from_second("orders", 18, with_err(0.15));
	find_edge("orders", "users")->span.errors = 12 * 12 / 2;
	cr_assert_eq(analyse(NULL), 0);
	expect_cause("payments");
	cr_assert_not_null(suspect("users"), "the second fault is a suspect too");
	cr_assert_gt(suspect("payments")->first, suspect("users")->first);
}

Test(rca_cases, a_target_narrows_the_suspects_to_it_and_its_dependencies)
{
	struct rca_options o = { .service = "users" };

	demo();
	from_second("payments", 5, with_p(300, 310));
	from_second("orders", 5, with_p(0.3, 312));
	find_edge("orders", "payments")->span.p50_ms = 300;
	find_edge("orders", "payments")->span.p99_ms = 310;
	cr_assert_eq(analyse(&o), 0);
	cr_assert_not(res.found, "users and what it depends on are healthy");
	cr_assert(strstr(res.reason, "users"), "%s", res.reason);
	rca_result_release(&res);
	o.service = "orders";
	cr_assert_eq(rca_analyse(&ev, &o, &res), 0);
	expect_cause("payments");
}

Test(rca_cases, an_anomaly_names_its_service_as_the_target)
{
	struct rca_options o = { .anomaly_id = 8 };

	demo();
	from_second("payments", 5, with_p(300, 310));
	from_second("orders", 5, with_p(0.3, 312));
	find_edge("orders", "payments")->span.p99_ms = 310;
	anomaly(8, "orders", "latency_p99", 7, 312, 8);
	cr_assert_eq(analyse(&o), 0);
	expect_cause("payments");
	o.anomaly_id = 99;
	rca_result_release(&res);
	cr_assert_eq(rca_analyse(&ev, &o, &res), -EINVAL);
	cr_assert_not(res.found);
	cr_assert_not_null(res.reason);
	cr_assert_not_null(res.markdown);
	rca_result_release(&res);
	o = (struct rca_options){ .service = "nosuch" };
	cr_assert_eq(rca_analyse(&ev, &o, &res), -EINVAL);
}

Test(rca_cases, healthy_services_give_no_cause)
{
	demo();
	/* noise below the floors */
	from_second("orders", 10, with_p(0.4, 15));
	from_second("payments", 20, with_err(0.01));
	cr_assert_eq(analyse(NULL), 0);
	if (res.found)
		dump();
	cr_assert_not(res.found);
	cr_assert_eq(res.confidence, 0);
	cr_assert_eq(res.nsuspects, 0);
	cr_assert(strstr(res.reason, "None of the 3 services"), "%s", res.reason);
	cr_assert(strstr(res.markdown, "No root cause"), "%s", res.markdown);
}

Test(rca_cases, no_data_is_nothing_to_analyse)
{
	cr_assert_eq(analyse(NULL), 0);
	cr_assert_not(res.found);
	cr_assert_eq(res.nsuspects, 0);
	cr_assert_eq(res.nevents, 0);
	cr_assert(strstr(res.reason, "Nothing to analyse"), "%s", res.reason);
	cr_assert_not_null(res.markdown);
}

Test(rca, release_of_an_empty_result_is_safe)
{
	struct rca_result r;

	memset(&r, 0, sizeof(r));
	rca_result_release(&r);
	rca_result_release(NULL);
	cr_assert_str_eq(rca_role_name(RCA_ROLE_CAUSE), "cause");
	cr_assert_str_eq(rca_role_name(RCA_ROLE_VICTIM), "victim");
}
