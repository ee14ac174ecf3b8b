/*
 * POST /rca (aggregator/http/api_analysis.c) end to end over HTTP: a real
 * API on 127.0.0.1 over a temporary store filled with the windows the
 * agents would send for the demo's three services (orders calling users
 * and payments): two healthy minutes, then payments 300 ms slow for the
 * last 30 s, and the anomaly detection would have opened. The answer's
 * fields and values; the target service and anomaly forms; every bad input
 * with its envelope; and a store with no data at all, which is an answer,
 * not an error.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/api_client.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/leakcheck.h"

#define MS_PER_S 1000ll
/* Seconds of windows stored, and the last ones in which payments is slow. */
#define HISTORY_S 120
#define SLOW_S	  30

static struct {
	struct api_fixture agg;
	int64_t now_ms;
	int64_t anomaly_id;
} fx;

/* ---- the store: the demo's windows ---- */

static void http_entry(struct window *w, const char *method, const char *route, uint16_t status,
		       uint64_t n, double ms)
{
	struct window_http *h = window_http_get(w, method, route, status);

	h->count += n;
	hist_record_n(&h->latency_ns, (uint64_t)(ms * NSEC_PER_MSEC), n);
}

static void call_entry(struct window *w, const char *address, const char *peer, uint64_t n,
		       double ms)
{
	struct window_call *c = window_call_get(w, address);

	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->count += n;
	hist_record_n(&c->latency_ns, (uint64_t)(ms * NSEC_PER_MSEC), n);
}

/* The three services' windows of the second ending at @end_ms; payments slow when @slow. */
static void put_second(struct store *st, uint64_t seq, int64_t end_ms, bool slow)
{
	const char *names[3] = { "orders", "users", "payments" };
	struct window_batch_item items[3];
	struct window_batch b;
	struct window_set ws;
	double pay_ms = slow ? 300 : 1 + (double)(seq % 3);

	window_set_init(&ws);
	for (int i = 0; i < 3; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		snprintf(items[i].service, sizeof(items[i].service), "%s", names[i]);
		items[i].w = window_set_get(&ws, (uint16_t)(i + 1));
	}
	http_entry(items[0].w, "GET", "/orders/{id}", 200, 28, 0.3);
	http_entry(items[0].w, "POST", "/orders", 201, 12, pay_ms + 2);
	call_entry(items[0].w, "127.0.0.1:8002", "users", 12, 0.2);
	call_entry(items[0].w, "127.0.0.1:8003", "payments", 12, pay_ms);
	http_entry(items[1].w, "GET", "/users/{id}", 200, 12, 0.2);
	http_entry(items[2].w, "POST", "/payments", 201, 12, pay_ms - 0.5);
	memset(&b, 0, sizeof(b));
	snprintf(b.host, sizeof(b.host), "web-1");
	b.end_ms = end_ms;
	b.interval_ms = 1000;
	b.items = items;
	b.n = 3;
	cr_assert_eq(store_put_windows(st, "default", "agent-1", seq, &b), 0);
	window_set_release(&ws);
}

static void fill_store(void)
{
	struct store_anomaly a;
	struct store *st;

	cr_assert_eq(store_open(&st, &fx.agg.so), 0);
	cr_assert_eq(store_begin(st), 0);
	for (int k = HISTORY_S; k >= 1; k--)
		put_second(st, (uint64_t)(HISTORY_S - k + 1), fx.now_ms - k * MS_PER_S + 500,
			   k <= SLOW_S);
	cr_assert_eq(store_commit(st), 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "default");
	snprintf(a.service, sizeof(a.service), "payments");
	snprintf(a.metric, sizeof(a.metric), "latency_p99");
	a.severity = STORE_SEVERITY_CRITICAL;
	a.open = true;
	a.score = a.confidence = 0.9;
	a.current_value = a.peak_value = 300;
	a.expected_mean = 2;
	a.expected_max = 4;
	a.started_ms = fx.now_ms - (SLOW_S - 2) * MS_PER_S;
	a.updated_ms = fx.now_ms - MS_PER_S;
	cr_assert_eq(store_anomaly_put(st, &a), 0);
	fx.anomaly_id = a.id;
	store_close(st);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	api_fixture_start(&fx.agg, "http-rca", 0);
	fill_store();
}

/* An empty store, as a new aggregator has. */
static void setup_empty(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	api_fixture_start(&fx.agg, "http-rca", 0);
}

static void teardown(void)
{
	api_fixture_stop(&fx.agg);
	test_no_leaks();
}

TestSuite(http_rca, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(http_rca_empty, .init = setup_empty, .fini = teardown, .timeout = 60);

/* ---- calling it ---- */

static json_t *rca_ok(const char *body)
{
	return api_client_expect(api_fixture_port(&fx.agg), 200, "POST", "/rca", body, NULL);
}

static void expect_error(const char *body, const char *ctype, long status, const char *code)
{
	struct api_answer a = api_client_expect_error(api_fixture_port(&fx.agg), "POST", "/rca",
						      body, ctype, status, code);

	json_decref(a.doc);
}

static const char *cause_of(const json_t *doc)
{
	return json_string_value(json_object_get(json_object_get(doc, "root_cause"), "service"));
}

/* The suspect called @name in @doc, or NULL. */
static json_t *suspect(json_t *doc, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "suspected_services"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "service")), name))
			return s;
	return NULL;
}

/* ---- the answer ---- */

Test(http_rca, finds_the_slow_payments_behind_the_slow_orders)
{
	json_t *doc = rca_ok("{\"time_range\": \"30s\"}"), *top, *orders, *ev, *e;
	const char *rca_md;
	bool found = false;
	size_t i;

	cr_assert_str_eq(cause_of(doc), "payments");
	cr_assert(json_string_length(
			  json_object_get(json_object_get(doc, "root_cause"), "reason")) > 0);
	cr_assert_gt(json_real_value(json_object_get(doc, "confidence")), 0.5);
	rca_md = json_string_value(json_object_get(doc, "rca"));
	cr_assert(rca_md && strstr(rca_md, "Root cause: payments"), "%s", rca_md);
	top = json_array_get(json_object_get(doc, "suspected_services"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(top, "service")), "payments");
	cr_assert_str_eq(json_string_value(json_object_get(top, "role")), "cause");
	cr_assert(json_real_value(json_object_get(top, "score")) > 0.5);
	cr_assert_gt(json_array_size(json_object_get(top, "evidence")), 0);
	cr_assert(json_is_object(json_object_get(top, "parts")));
	cr_assert(json_is_string(json_object_get(top, "onset")));
	orders = suspect(doc, "orders");
	cr_assert_not_null(orders);
	cr_assert_str_eq(json_string_value(json_object_get(orders, "role")), "victim");
	json_array_foreach(json_object_get(orders, "evidence"), i, e)
		found |= strstr(json_string_value(e), "waiting on payments") != NULL;
	cr_assert(found, "orders waits on payments");
	cr_assert_null(suspect(doc, "users"), "users is healthy");
	/* the anomaly on the timeline */
	ev = json_array_get(json_object_get(doc, "correlated_events"), 0);
	cr_assert_not_null(ev);
	cr_assert_str_eq(json_string_value(json_object_get(ev, "service")), "payments");
	cr_assert(strstr(json_string_value(json_object_get(ev, "event")), "latency_p99"));
	api_client_check_time(json_object_get(ev, "timestamp"), fx.now_ms - (SLOW_S - 2) * MS_PER_S,
			      "the anomaly's start");
	cr_assert(json_is_string(json_object_get(doc, "timestamp")));
	cr_assert(json_is_string(json_object_get(json_object_get(doc, "time_range"), "since")));
	cr_assert(json_is_string(json_object_get(json_object_get(doc, "baseline"), "until")));
	cr_assert_eq(json_integer_value(json_object_get(doc, "services_analysed")), 3);
	cr_assert(json_is_null(json_object_get(doc, "service")));
	cr_assert(json_is_null(json_object_get(doc, "anomaly_id")));
	json_decref(doc);
}

Test(http_rca, a_target_service_or_an_anomaly_gives_the_same_cause)
{
	char body[96];
	json_t *doc = rca_ok("{\"time_range\": \"30s\", \"service\": \"orders\"}");

	cr_assert_str_eq(cause_of(doc), "payments");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "service")), "orders");
	json_decref(doc);
	/* users depends on nothing and is healthy: nothing explains its (absent) trouble */
	doc = rca_ok("{\"time_range\": 30, \"service\": \"users\"}");
	cr_assert(json_is_null(json_object_get(json_object_get(doc, "root_cause"), "service")));
	cr_assert_eq(json_real_value(json_object_get(doc, "confidence")), 0);
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"anomaly_id\": %lld}", (long long)fx.anomaly_id);
	doc = rca_ok(body);
	cr_assert_str_eq(cause_of(doc), "payments");
	cr_assert_eq(json_integer_value(json_object_get(doc, "anomaly_id")), fx.anomaly_id);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "service")), "payments");
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"anomaly_id\": \"%lld\", \"service\": \"payments\"}",
		 (long long)fx.anomaly_id);
	json_decref(rca_ok(body));
}

Test(http_rca, an_empty_body_analyses_the_last_hour)
{
	json_t *doc = rca_ok(NULL);

	/* two healthy minutes and a slow one: over the hour, payments still stands out */
	cr_assert_str_eq(cause_of(doc), "payments");
	json_decref(doc);
	json_decref(rca_ok("{}"));
}

Test(http_rca, bad_inputs_are_answered_with_the_envelope)
{
	char body[96], *big;

	expect_error("{\"time_range\": \"soon\"}", NULL, 400, "bad_request");
	expect_error("{\"time_range\": \"0s\"}", NULL, 400, "bad_request");
	expect_error("{\"time_range\": 0}", NULL, 400, "bad_request");
	expect_error("{\"time_range\": \"60d\"}", NULL, 400, "bad_request");
	expect_error("{\"time_range\": true}", NULL, 400, "bad_request");
	expect_error("{\"service\": 3}", NULL, 400, "bad_request");
	expect_error("{\"service\": \"\"}", NULL, 400, "bad_request");
	expect_error("{\"query\": \"why\"}", NULL, 400, "bad_request");
	expect_error("{\"anomaly_id\": \"x\"}", NULL, 400, "bad_request");
	expect_error("{\"anomaly_id\": 1.5}", NULL, 400, "bad_request");
	expect_error("{\"time_range\": ", NULL, 400, "invalid_json");
	expect_error("[1]", NULL, 400, "invalid_json");
	expect_error("{\"service\": \"nosuch\"}", NULL, 404, "not_found");
	expect_error("{\"anomaly_id\": 424242}", NULL, 404, "not_found");
	expect_error("{\"anomaly_id\": -1}", NULL, 404, "not_found");
	snprintf(body, sizeof(body), "{\"anomaly_id\": %lld, \"service\": \"users\"}",
		 (long long)fx.anomaly_id);
	expect_error(body, NULL, 400, "bad_request");
	expect_error("time_range=1h", "application/x-www-form-urlencoded", 415,
		     "unsupported_media_type");
	big = malloc(20 * 1024);
	cr_assert_not_null(big);
	memset(big, ' ', 20 * 1024 - 1);
	memcpy(big, "{}", 2);
	big[20 * 1024 - 1] = '\0';
	expect_error(big, NULL, 413, "payload_too_large");
	free(big);
}

Test(http_rca, only_post_is_allowed)
{
	struct api_answer a = api_client_call(api_fixture_port(&fx.agg), "GET", "/rca", NULL, NULL);

	cr_assert_eq(a.status, 405);
	cr_assert(strstr(a.allow, "POST"), "Allow: %s", a.allow);
	json_decref(a.doc);
}

Test(http_rca_empty, no_data_is_an_answer_that_says_so)
{
	json_t *doc = rca_ok("{\"time_range\": \"1h\"}");
	const char *reason =
		json_string_value(json_object_get(json_object_get(doc, "root_cause"), "reason"));

	cr_assert(json_is_null(json_object_get(json_object_get(doc, "root_cause"), "service")));
	cr_assert(reason && strstr(reason, "Nothing to analyse"), "%s", reason);
	cr_assert_eq(json_real_value(json_object_get(doc, "confidence")), 0);
	cr_assert_eq(json_array_size(json_object_get(doc, "suspected_services")), 0);
	cr_assert_eq(json_array_size(json_object_get(doc, "correlated_events")), 0);
	cr_assert(strstr(json_string_value(json_object_get(doc, "rca")), "Nothing to analyse"));
	cr_assert_eq(json_integer_value(json_object_get(doc, "services_analysed")), 0);
	json_decref(doc);
	expect_error("{\"service\": \"orders\"}", NULL, 404, "not_found");
}
