/*
 * prp-agent's HTTP spans, read from --print-spans, against the real demo
 * services on the real kernel: one POST /orders is one trace of five spans
 * (orders' server span and its two client spans, the server spans of users
 * and payments) with the right parents and each child within its parent;
 * an order sent with a W3C traceparent header is those five spans in the
 * header's trace, under the header's parent id (kept at rate 0: the
 * header says sampled); concurrent orders each keep their own calls; with a
 * sample rate of 0 only
 * the traces with an error are kept, whole.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/demo_services.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"

#define AGENT	PRP_BUILD_DIR "/prp-agent"
#define LOADGEN PRP_BUILD_DIR "/prp-loadgen"
#define LOCK	"/tmp/prp-agent-spans-test.lock"
#define ORDER	"{\"customer_id\": 2, \"items\": [1], \"total\": 4}"

static struct demo_trio demo;
static struct proc agent;

/* Starts the agent watching the trio, with spans at @rate, and waits until it watches. */
static void agent_start(const char *rate)
{
	char users[64], payments[64], orders[64];

	snprintf(users, sizeof(users), "users=port:%d", demo.users.port);
	snprintf(payments, sizeof(payments), "payments=port:%d", demo.payments.port);
	snprintf(orders, sizeof(orders), "orders=port:%d", demo.orders.port);
	cr_assert_eq(proc_start(&agent,
				(const char *const[]){ AGENT, "--print-spans", "--traces-enabled",
						       "--traces-sample-rate", rate,
						       "--interval-ms", "500", "--lock-file", LOCK,
						       "--service", users, "--service", payments,
						       "--service", orders, NULL }),
		     0);
	cr_assert_eq(proc_wait_for(&agent, "agent: watching 3 services", 15000), 0,
		     "the agent did not start: %s", buf_str(&agent.err));
}

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the agent tests need root");
	/* orders connects to users and payments lazily, after the agent is up */
	demo_trio_start(&demo);
}

static void teardown(void)
{
	if (agent.pid)
		proc_stop(&agent, 10000);
	proc_release(&agent);
	demo_trio_stop(&demo);
	test_no_leaks();
}

TestSuite(spans, .init = setup, .fini = teardown, .timeout = 180);

/* Stops the agent (it builds every waiting trace on SIGTERM) and returns its span lines. */
static json_t *agent_spans(void)
{
	json_t *spans = json_array();
	const char *p;

	cr_assert_eq(proc_stop(&agent, 15000), 0, "agent did not stop on SIGTERM");
	cr_assert(WIFEXITED(agent.status) && WEXITSTATUS(agent.status) == 0, "agent exit %d: %s",
		  agent.status, buf_str(&agent.err));
	for (p = buf_str(&agent.out); *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_error_t jerr;
		json_t *o = json_loadb(p, len, 0, &jerr);

		cr_assert_not_null(o, "bad line: %.*s (%s)", (int)len, p, jerr.text);
		if (json_object_get(o, "trace_id"))
			json_array_append(spans, o);
		json_decref(o);
		p += len + (nl ? 1 : 0);
	}
	return spans;
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The spans whose parent is @parent (NULL: the roots), into @out; returns how many. */
static size_t children(json_t *spans, json_t *parent, json_t **out, size_t max)
{
	size_t i, n = 0;
	json_t *s;

	json_array_foreach(spans, i, s) {
		json_t *p = json_object_get(s, "parent_span_id");
		bool match = parent ? json_is_string(p) &&
					      !strcmp(json_string_value(p), str(parent, "span_id"))
				    : json_is_null(p);

		if (match && parent && strcmp(str(s, "trace_id"), str(parent, "trace_id")))
			cr_expect_fail("span %s: its parent is in another trace",
				       str(s, "span_id"));
		if (match && n < max)
			out[n] = s;
		n += match;
	}
	return n;
}

/* Asserts @child lies within @parent in time. */
static void expect_within(json_t *child, json_t *parent)
{
	cr_expect_geq(num(child, "start_unix_ns"), num(parent, "start_unix_ns"),
		      "%s %s starts before its parent", str(child, "kind"), str(child, "service"));
	cr_expect_leq(num(child, "end_unix_ns"), num(parent, "end_unix_ns"),
		      "%s %s ends after its parent", str(child, "kind"), str(child, "service"));
	cr_expect_leq(num(child, "start_unix_ns"), num(child, "end_unix_ns"));
}

/*
 * Checks the trace under @root is one order: two client spans of orders,
 * to users and to payments, each with the callee's server span under it.
 * Returns false (after saying why) when it is not.
 */
static bool check_order(json_t *spans, json_t *root, long status, long payment_status)
{
	json_t *calls[4], *server[2];
	bool seen_users = false, seen_payments = false;
	size_t ncalls = children(spans, root, calls, 4);

	cr_expect_str_eq(str(root, "service"), "orders");
	cr_expect_str_eq(str(root, "kind"), "server");
	cr_expect_str_eq(str(root, "method"), "POST");
	cr_expect_str_eq(str(root, "route"), "/orders");
	cr_expect_eq(num(root, "status"), status);
	if (ncalls != 2) {
		cr_expect_fail("an order with %zu calls (trace %s)", ncalls, str(root, "trace_id"));
		return false;
	}
	for (size_t i = 0; i < ncalls; i++) {
		const char *peer = str(calls[i], "peer_service");
		bool to_users = !strcmp(peer, "users");

		cr_expect_str_eq(str(calls[i], "kind"), "client");
		cr_expect_str_eq(str(calls[i], "service"), "orders");
		cr_expect(to_users || !strcmp(peer, "payments"), "a call to '%s'", peer);
		seen_users |= to_users;
		seen_payments |= !to_users;
		expect_within(calls[i], root);
		cr_assert_eq(children(spans, calls[i], server, 2), 1);
		cr_expect_str_eq(str(server[0], "kind"), "server");
		cr_expect_str_eq(str(server[0], "service"), peer);
		cr_expect_str_eq(str(server[0], "route"), to_users ? "/users/{id}" : "/payments");
		if (!to_users)
			cr_expect_eq(num(server[0], "status"), payment_status);
		expect_within(server[0], calls[i]);
		cr_expect_eq(children(spans, server[0], server, 2), 0);
	}
	cr_expect(seen_users && seen_payments);
	return seen_users && seen_payments;
}

Test(spans, one_order_is_one_trace_of_orders_users_and_payments)
{
	json_t *spans, *roots[2];
	size_t i;
	json_t *s;

	agent_start("1");
	demo_request(&demo.orders, "POST", "/orders", ORDER, 201);
	spans = agent_spans();
	cr_assert_eq(json_array_size(spans), 5, "%zu spans: %s", json_array_size(spans),
		     buf_str(&agent.out));
	cr_assert_eq(children(spans, NULL, roots, 2), 1);
	json_array_foreach(spans, i, s) {
		cr_expect_str_eq(str(s, "trace_id"), str(roots[0], "trace_id"));
		cr_expect_eq(strlen(str(s, "trace_id")), 32);
		cr_expect_eq(strlen(str(s, "span_id")), 16);
		cr_expect_gt(num(s, "end_unix_ns"), num(s, "start_unix_ns"));
	}
	check_order(spans, roots[0], 201, 201);
	json_decref(spans);
}

Test(spans, an_order_with_a_traceparent_joins_the_callers_trace)
{
	static const char trace[] = "0af7651916cd43dd8448eb211c80319c";
	static const char parent[] = "b7ad6b7169203331";
	char header[128], url[256];
	json_t *spans, *roots[2], *root = NULL, *s;
	struct buf resp;
	long status = 0;
	size_t i;

	snprintf(header, sizeof(header), "traceparent: 00-%s-%s-01", trace, parent);
	snprintf(url, sizeof(url), "%s/orders", demo.orders.url);
	agent_start("0"); /* rate 0: the header's sampled flag alone keeps the trace */
	buf_init(&resp, 1 << 20);
	cr_assert_eq(http_call_hdr("POST", url, ORDER, header, &status, &resp, NULL), 0);
	cr_assert_eq(status, 201, "POST /orders: %ld %s", status, buf_str(&resp));
	buf_release(&resp);
	spans = agent_spans();
	cr_assert_eq(json_array_size(spans), 5, "%zu spans: %s", json_array_size(spans),
		     buf_str(&agent.out));
	/* the root of our part has the caller's span as its parent: none of ours is a root */
	cr_expect_eq(children(spans, NULL, roots, 2), 0);
	json_array_foreach(spans, i, s) {
		cr_expect_str_eq(str(s, "trace_id"), trace);
		if (!strcmp(str(s, "kind"), "server") && !strcmp(str(s, "service"), "orders"))
			root = s;
	}
	cr_assert_not_null(root, "no server span of orders: %s", buf_str(&agent.out));
	cr_expect_str_eq(str(root, "parent_span_id"), parent);
	check_order(spans, root, 201, 201);
	json_decref(spans);
}

Test(spans, concurrent_orders_each_keep_their_own_calls)
{
	json_t *spans, *s, *roots[512];
	size_t i, nroots, orders = 0, bad = 0;
	struct proc lg;

	/* users answers in 20 ms: several orders are in flight at once */
	demo_request(&demo.users, "POST", "/chaos", "{\"latency_ms\": 20}", 200);
	agent_start("1");
	cr_assert_eq(proc_start(&lg, (const char *const[]){ LOADGEN, "--target", demo.orders.url,
							    "--mix", "orders", "--rps", "150",
							    "--duration", "2", "--connections",
							    "16", "--progress-s", "0", NULL }),
		     0);
	cr_assert_eq(proc_wait_exit(&lg, 30000), 0);
	proc_release(&lg);
	spans = agent_spans();
	nroots = children(spans, NULL, roots, 512);
	cr_assert_leq(nroots, 512);
	for (i = 0; i < nroots; i++) {
		json_t *calls[1];

		cr_expect_str_eq(str(roots[i], "service"), "orders", "a root of %s",
				 str(roots[i], "service"));
		if (!strcmp(str(roots[i], "method"), "POST") && num(roots[i], "status") == 201) {
			orders++;
			bad += !check_order(spans, roots[i], 201, 201);
		} else if (!strcmp(str(roots[i], "method"), "GET")) {
			/* reads and health checks call nobody */
			cr_expect_eq(children(spans, roots[i], calls, 1), 0, "%s %s has calls",
				     str(roots[i], "method"), str(roots[i], "route"));
		}
	}
	cr_expect_gt(orders, 30, "only %zu orders traced", orders);
	cr_expect_eq(bad, 0, "%zu of %zu orders are not one trace each", bad, orders);
	/* no call was left without its request (an orphan trace would be rooted at it) */
	json_array_foreach(spans, i, s)
		cr_expect(!json_is_null(json_object_get(s, "parent_span_id")) ||
				  !strcmp(str(s, "kind"), "server"),
			  "a client span of %s is a root", str(s, "service"));
	json_decref(spans);
}

Test(spans, at_rate_zero_only_the_traces_with_an_error_are_kept)
{
	json_t *spans, *roots[8];
	size_t nroots;

	agent_start("0");
	for (int i = 0; i < 5; i++)
		demo_request(&demo.orders, "POST", "/orders", ORDER, 201);
	demo_request(&demo.payments, "POST", "/chaos", "{\"error_rate\": 1}", 200);
	for (int i = 0; i < 3; i++)
		demo_request(&demo.orders, "POST", "/orders", ORDER, 502);
	spans = agent_spans();
	nroots = children(spans, NULL, roots, 8);
	cr_expect_eq(nroots, 3, "%zu traces kept: %s", nroots, buf_str(&agent.out));
	cr_expect_eq(json_array_size(spans), 15);
	for (size_t i = 0; i < nroots && i < 8; i++)
		check_order(spans, roots[i], 502, 500);
	json_decref(spans);
}
