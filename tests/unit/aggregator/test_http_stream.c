/*
 * GET /stream/events and /stream/status end to end: a real API on
 * 127.0.0.1 with the event bus over a temporary store, real SSE clients on
 * sockets. Events arrive in order and within 100 ms of their publishing,
 * filters hold (a payments/critical subscriber gets nothing else), tenants
 * see their own, a subscriber resumes from Last-Event-ID or since_id (from
 * memory, and from the store once the ring has moved on), bad filters are
 * 400, and stopping the API with subscribers connected ends their streams.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "tests/lib/api_client.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/sse_client.h"

TestSuite(http_stream, .fini = test_no_leaks);

static struct api_fixture fx;

static void setup(void)
{
	api_fixture_start(&fx, "http-stream", 0);
}

static void setup_auth(void)
{
	api_fixture_start(&fx, "http-stream", API_FIXTURE_AUTH);
}

static void teardown(void)
{
	api_fixture_stop(&fx);
	test_no_leaks();
}

static int64_t publish(const char *service, enum bus_type type, enum store_severity sev)
{
	int64_t id = bus_publish(fx.bus, "default", type, service, sev,
				 json_pack("{s:s}", "service", service));

	cr_assert_gt(id, 0);
	return id;
}

static void subscribe(struct sse_client *c, const char *path, const char *key, const char *last)
{
	cr_assert_eq(sse_client_open(c, api_fixture_port(&fx), path, key, last, 5000), 0, "%s",
		     path);
	cr_assert_eq(c->status, 200, "%s: %d", path, c->status);
}

/* The next event, which must come within @ms: its id. */
static long long expect_event(struct sse_client *c, const char *type, const char *service, int ms)
{
	struct sse_event ev;
	json_t *d;
	long long id;

	cr_assert_eq(sse_client_next(c, ms, &ev), 1, "no %s event within %d ms", type, ms);
	cr_assert_str_eq(ev.type, type);
	d = json_loads(ev.data, 0, NULL);
	cr_assert_not_null(d, "%s", ev.data);
	cr_assert_str_eq(jget_str(d, "event"), type);
	cr_assert(json_is_string(json_object_get(d, "timestamp")));
	cr_assert_str_eq(jget_str(json_object_get(d, "data"), "service"), service);
	json_decref(d);
	free(ev.data);
	id = ev.id;
	cr_assert_gt(id, 0);
	return id;
}

static void expect_nothing(struct sse_client *c, int ms)
{
	struct sse_event ev;
	int r = sse_client_next(c, ms, &ev);

	cr_assert_eq(r, 0, "an event came: %s %s", r == 1 ? ev.type : "", r == 1 ? ev.data : "");
}

/* Waits until the API counts @n subscribers (a stream starts after its headers). */
static void wait_subscribers(size_t n)
{
	for (int i = 0; i < 200 && bus_watchers(fx.bus) != n; i++)
		usleep(5000);
	cr_assert_eq(bus_watchers(fx.bus), n);
}

Test(http_stream, events_arrive_in_order_and_fast, .init = setup, .fini = teardown)
{
	struct sse_client c;
	int64_t id1, id2;
	uint64_t t0;

	subscribe(&c, "/stream/events", NULL, NULL);
	wait_subscribers(1);
	t0 = time_mono_ns();
	id1 = publish("payments", BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL);
	cr_assert_eq(expect_event(&c, "anomaly.detected", "payments", 1000), id1);
	cr_assert_lt(time_mono_ns() - t0, 100 * NSEC_PER_MSEC, "the event took over 100 ms");
	id2 = publish("orders", BUS_ACTION_EXECUTED, STORE_SEVERITY_INFO);
	cr_assert_eq(expect_event(&c, "action.executed", "orders", 1000), id2);
	sse_client_close(&c);
}

Test(http_stream, a_payments_critical_subscriber_gets_nothing_else, .init = setup,
     .fini = teardown)
{
	struct sse_client c, all;
	int64_t id;

	subscribe(&c, "/stream/events?services=payments&severity=critical", NULL, NULL);
	subscribe(&all, "/stream/events?events=anomaly.detected,anomaly.resolved", NULL, NULL);
	wait_subscribers(2);
	publish("payments", BUS_ANOMALY_DETECTED, STORE_SEVERITY_WARNING);
	publish("orders", BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL);
	publish("payments", BUS_ACTION_FAILED, STORE_SEVERITY_WARNING);
	id = publish("payments", BUS_ANOMALY_RESOLVED, STORE_SEVERITY_CRITICAL);
	cr_assert_eq(expect_event(&c, "anomaly.resolved", "payments", 1000), id);
	expect_nothing(&c, 200);
	/* the other filter: two detected and the resolved, not the action */
	expect_event(&all, "anomaly.detected", "payments", 1000);
	expect_event(&all, "anomaly.detected", "orders", 1000);
	cr_assert_eq(expect_event(&all, "anomaly.resolved", "payments", 1000), id);
	expect_nothing(&all, 200);
	sse_client_close(&c);
	sse_client_close(&all);
}

Test(http_stream, a_subscriber_resumes_after_the_last_id_it_saw, .init = setup, .fini = teardown)
{
	struct sse_client c;
	char last[32], path[64];
	int64_t first = 0, id = 0;

	for (int i = 0; i < 3; i++)
		id = publish("users", BUS_ANOMALY_DETECTED, STORE_SEVERITY_WARNING);
	first = id - 2;
	snprintf(last, sizeof(last), "%lld", (long long)first);
	subscribe(&c, "/stream/events", NULL, last);
	cr_assert_eq(expect_event(&c, "anomaly.detected", "users", 1000), first + 1);
	cr_assert_eq(expect_event(&c, "anomaly.detected", "users", 1000), first + 2);
	expect_nothing(&c, 100);
	sse_client_close(&c);

	/* far behind: past the ring, from the store, then the ring, in order, none missed */
	for (int i = 0; i < BUS_RING_EVENTS + 50; i++)
		publish("users", BUS_ACTION_EXECUTED, STORE_SEVERITY_INFO);
	snprintf(path, sizeof(path), "/stream/events?since_id=%lld", (long long)first);
	subscribe(&c, path, NULL, NULL);
	for (int64_t want = first + 1; want <= bus_last_id(fx.bus); want++) {
		struct sse_event ev;

		cr_assert_eq(sse_client_next(&c, 2000, &ev), 1, "event %lld missing",
			     (long long)want);
		cr_assert_eq(ev.id, want);
		free(ev.data);
	}
	expect_nothing(&c, 100);
	sse_client_close(&c);
}

Test(http_stream, bad_filters_are_400, .init = setup, .fini = teardown)
{
	const char *bad[] = { "/stream/events?events=anomaly.bogus", "/stream/events?severity=extreme",
			      "/stream/events?services=", "/stream/events?services=a,,b",
			      "/stream/events?since_id=minus", "/stream/events?events=a,b," };

	for (size_t i = 0; i < PRP_ARRAY_SIZE(bad); i++) {
		struct api_answer a = api_client_expect_error(api_fixture_port(&fx), "GET", bad[i],
							      NULL, NULL, 400, "bad_request");

		json_decref(a.doc);
	}
}

Test(http_stream, status_counts_the_subscribers, .init = setup, .fini = teardown)
{
	struct sse_client c[3];
	json_t *d;

	for (int i = 0; i < 3; i++)
		subscribe(&c[i], "/stream/events", NULL, NULL);
	wait_subscribers(3);
	d = api_client_expect(api_fixture_port(&fx), 200, "GET", "/stream/status", NULL, NULL);
	cr_assert_eq(jget_int(d, "active_connections"), 3);
	cr_assert_eq(json_array_size(json_object_get(d, "supported_events")), BUS_TYPE_COUNT);
	json_decref(d);
	for (int i = 0; i < 3; i++)
		sse_client_close(&c[i]);
}

Test(http_stream, tenants_and_keys_apply, .init = setup_auth, .fini = teardown)
{
	struct sse_client c, b;
	struct store_key rec = { .tenant = "team-b", .name = "b", .role = ROLE_VIEWER };
	char bkey[APIKEY_LEN + 1];
	int64_t id;

	cr_assert_eq(sse_client_open(&c, api_fixture_port(&fx), "/stream/events", NULL, NULL, 5000),
		     0);
	cr_assert_eq(c.status, 401, "a stream without a key");
	sse_client_close(&c);
	cr_assert_eq(keys_create(fx.keys, &rec, 1, bkey), 0);
	subscribe(&c, "/stream/events", fx.admin_key, NULL);
	subscribe(&b, "/stream/events", bkey, NULL);
	wait_subscribers(2);
	id = publish("payments", BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL);
	cr_assert_eq(expect_event(&c, "anomaly.detected", "payments", 1000), id);
	expect_nothing(&b, 200);
	sse_client_close(&c);
	sse_client_close(&b);
}

Test(http_stream, stopping_the_api_ends_the_streams, .init = setup)
{
	struct sse_client c[2];
	struct sse_event ev;
	uint64_t t0;

	for (int i = 0; i < 2; i++)
		subscribe(&c[i], "/stream/events", NULL, NULL);
	wait_subscribers(2);
	t0 = time_mono_ns();
	api_fixture_stop(&fx);
	cr_assert_lt(time_mono_ns() - t0, 3 * NSEC_PER_SEC, "the stop waited on the streams");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(sse_client_next(&c[i], 2000, &ev), -1, "the stream goes on");
		sse_client_close(&c[i]);
	}
	test_no_leaks();
}

Test(http_stream, a_revoked_key_ends_its_streams, .init = setup_auth, .fini = teardown)
{
	struct store_key rec = { .tenant = "default", .name = "v", .role = ROLE_VIEWER };
	char key[APIKEY_LEN + 1];
	struct sse_client c;
	struct sse_event ev;
	int r;

	cr_assert_eq(keys_create(fx.keys, &rec, 1, key), 0);
	subscribe(&c, "/stream/events", key, NULL);
	wait_subscribers(1);
	publish("payments", BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL);
	expect_event(&c, "anomaly.detected", "payments", 1000);
	cr_assert_eq(keys_revoke(fx.keys, "default", rec.id, 2), 0);
	publish("payments", BUS_ANOMALY_RESOLVED, STORE_SEVERITY_CRITICAL);
	r = sse_client_next(&c, 2000, &ev);
	cr_assert_eq(r, -1, "the stream of a revoked key goes on (%d)", r);
	sse_client_close(&c);
}
