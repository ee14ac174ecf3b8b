/*
 * Traces end to end, with the real programs: the demo trio watched by
 * prp-agent with traces on, the aggregator exporting OTLP/HTTP JSON to a
 * collector stand-in (tests/lib/http_sink.h). One POST /orders must arrive
 * as one trace of five spans: orders' server span, its two client spans to
 * users and payments, and the server spans of users and payments, each
 * child's parent right; and every body the collector got must pass
 * OpenTelemetry's own schema (tests/lib/otel_check.h).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/otel_check.h"
#include "tests/lib/platform.h"

#define ORDER "{\"customer_id\": 2, \"items\": [1], \"total\": 4}"

static struct platform pf;
static struct http_sink *collector;

static void setup(void)
{
	static const int ok[] = { 200 };
	char url[64];

	collector = http_sink_start(ok, 1, "{}");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_sink_port(collector));
	platform_start(&pf, 19270, 19281,
		       (const char *const[]){ "--otlp-url", url, "--otlp-flush-interval", "200ms",
					      NULL },
		       (const char *const[]){ "--traces-enabled", "--traces-sample-rate", "1",
					      NULL },
		       NULL);
}

static void teardown(void)
{
	platform_stop(&pf);
	http_sink_stop(collector);
	test_no_leaks();
}

TestSuite(traces, .init = setup, .fini = teardown, .timeout = 180);

/* A span as the test needs it, from the OTLP JSON. */
struct got_span {
	char service[64], name[128], trace[33], id[17], parent[17];
	int kind;
	double start, end;
};

static const char *attr_string(json_t *attrs, const char *key)
{
	size_t i;
	json_t *kv;

	json_array_foreach(attrs, i, kv) {
		if (!strcmp(json_string_value(json_object_get(kv, "key")), key))
			return json_string_value(
				json_object_get(json_object_get(kv, "value"), "stringValue"));
	}
	return NULL;
}

/* Every span of every body the collector got, each body checked by OpenTelemetry first. */
static size_t collect(struct got_span *out, size_t cap)
{
	size_t n = 0, posts = http_sink_count(collector);

	for (size_t p = 0; p < posts; p++) {
		char *head, *body, msg[4096];
		json_t *doc, *rs, *ss, *sp;
		size_t i, j, k;

		cr_assert(http_sink_get(collector, p, &head, &body));
		cr_assert_not_null(strstr(head, "POST /v1/traces "), "%s", head);
		cr_assert_eq(otel_check(body, msg, sizeof(msg)), 0,
			     "OpenTelemetry's schema refuses the body: %s\n%.2000s", msg, body);
		doc = json_loads(body, 0, NULL);
		cr_assert_not_null(doc);
		json_array_foreach(json_object_get(doc, "resourceSpans"), i, rs) {
			const char *svc = attr_string(
				json_object_get(json_object_get(rs, "resource"), "attributes"),
				"service.name");

			json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
				json_array_foreach(json_object_get(ss, "spans"), k, sp) {
					struct got_span *g = &out[n];
					const char *parent =
						json_string_value(json_object_get(sp, "parentSpanId"));

					cr_assert_lt(n, cap);
					memset(g, 0, sizeof(*g));
					snprintf(g->service, sizeof(g->service), "%s", svc ? svc : "");
					snprintf(g->name, sizeof(g->name), "%s",
						 json_string_value(json_object_get(sp, "name")));
					snprintf(g->trace, sizeof(g->trace), "%s",
						 json_string_value(json_object_get(sp, "traceId")));
					snprintf(g->id, sizeof(g->id), "%s",
						 json_string_value(json_object_get(sp, "spanId")));
					snprintf(g->parent, sizeof(g->parent), "%s",
						 parent ? parent : "");
					g->kind = (int)json_integer_value(json_object_get(sp, "kind"));
					g->start = atof(json_string_value(
						json_object_get(sp, "startTimeUnixNano")));
					g->end = atof(json_string_value(
						json_object_get(sp, "endTimeUnixNano")));
					n++;
				}
			}
		}
		json_decref(doc);
		free(head);
		free(body);
	}
	return n;
}

static const struct got_span *find(const struct got_span *v, size_t n, const char *trace,
				   const char *service, int kind, const char *name_part)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].trace, trace) && !strcmp(v[i].service, service) &&
		    v[i].kind == kind && strstr(v[i].name, name_part))
			return &v[i];
	return NULL;
}

Test(traces, one_order_is_one_trace_of_orders_users_and_payments)
{
	static struct got_span spans[4096];
	const struct got_span *root = NULL, *to_users, *to_payments, *users, *payments;
	size_t n = 0, in_trace = 0;

	/* the agent has found the three services once they show in the API */
	time_sleep_ns(3 * NSEC_PER_SEC);
	demo_request(&pf.trio.orders, "POST", "/orders", ORDER, 201);

	/* the agent builds the trace after its root, sends it with a window, the exporter posts */
	for (int i = 0; i < 60 && !root; i++) {
		time_sleep_ns(NSEC_PER_SEC / 2);
		n = collect(spans, 4096);
		for (size_t k = 0; k < n && !root; k++)
			if (!strcmp(spans[k].service, "orders") && spans[k].kind == 2 &&
			    !spans[k].parent[0] && strstr(spans[k].name, "POST /orders"))
				root = &spans[k];
	}
	cr_assert_not_null(root, "no server span of POST /orders reached the collector (%zu spans)"
				 "\naggregator: %s",
			   n, buf_str(&pf.aggregator.err));
	for (size_t k = 0; k < n; k++)
		in_trace += !strcmp(spans[k].trace, root->trace);
	to_users = find(spans, n, root->trace, "orders", 3, "");
	cr_assert_not_null(to_users, "no client span of orders");
	/* the two client spans of orders: one to users, one to payments */
	users = find(spans, n, root->trace, "users", 2, "");
	payments = find(spans, n, root->trace, "payments", 2, "");
	cr_assert_not_null(users, "no server span of users in the trace");
	cr_assert_not_null(payments, "no server span of payments in the trace");
	to_users = NULL;
	to_payments = NULL;
	for (size_t k = 0; k < n; k++) {
		if (strcmp(spans[k].trace, root->trace) || spans[k].kind != 3)
			continue;
		if (!strcmp(spans[k].id, users->parent))
			to_users = &spans[k];
		if (!strcmp(spans[k].id, payments->parent))
			to_payments = &spans[k];
	}
	printf("traces: one POST /orders: %zu spans in its trace, of %zu received\n", in_trace, n);
	cr_assert_eq(in_trace, 5, "the trace has %zu spans, not 5", in_trace);
	cr_assert_not_null(to_users, "users' server span is not the child of a client span");
	cr_assert_not_null(to_payments, "payments' server span is not the child of a client span");
	cr_assert_str_eq(to_users->service, "orders");
	cr_assert_str_eq(to_payments->service, "orders");
	cr_assert_str_eq(to_users->parent, root->id, "orders -> users is not under the order");
	cr_assert_str_eq(to_payments->parent, root->id, "orders -> payments is not under the order");
	/* children within their parents */
	cr_assert(to_users->start >= root->start && to_users->end <= root->end);
	cr_assert(users->start >= to_users->start - 1e6 && users->end <= to_users->end + 1e6);
}
