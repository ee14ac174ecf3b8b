/*
 * Webhook deliveries end to end (aggregator/webhooks/webhooks.c): a bus
 * and the webhooks over a temporary store, receivers on 127.0.0.1
 * (tests/lib/http_sink). A receiver gets the event's exact bytes signed
 * with HMAC-SHA256; one that fails three times gets it once more after
 * the retries, and nothing after; a hook's deliveries keep their order
 * while one is retried; hooks get only their types and tenant; deliveries
 * give up after max_attempts; and nothing is lost or doubled across a
 * stop or a kill: pending deliveries are sent after a restart, events
 * published while the webhooks were stopped are delivered once, and a
 * process killed with SIGKILL mid-stream leaves every event queued exactly
 * once and delivered after the restart.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregator/events/bus.h"
#include "aggregator/store/store.h"
#include "aggregator/webhooks/webhooks.h"
#include "common/alloc.h"
#include "common/hmac.h"
#include "common/timeutil.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

static char dir[64];
static struct store_options so;
static struct bus *bus;
static struct webhooks *wh;

static void init(void)
{
	tmpdir_make(dir, sizeof(dir), "webhooks");
	so = (struct store_options){ .dir = dir, .raw_hours = 24, .minute_days = 14 };
	cr_assert_eq(bus_open(&bus, &so), 0);
}

static void fini(void)
{
	webhooks_stop(wh);
	wh = NULL;
	bus_close(bus);
	bus = NULL;
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(webhooks, .init = init, .fini = fini, .timeout = 30);

/* Starts the webhooks: @attempts at most, @backoff_ms then doubling (to 10 times it). */
static void start(unsigned attempts, unsigned backoff_ms)
{
	struct webhooks_config c = { .store = so,
				     .bus = bus,
				     .max_attempts = attempts,
				     .backoff_ms = backoff_ms,
				     .backoff_max_ms = 10 * backoff_ms,
				     .timeout_ms = 2000 };

	cr_assert_eq(webhooks_start(&wh, &c), 0);
}

static void stop(void)
{
	webhooks_stop(wh);
	wh = NULL;
}

static struct http_sink *sink(const int *statuses, size_t n)
{
	return http_sink_start(statuses, n, NULL);
}

static struct http_sink *sink_ok(void)
{
	static const int ok[] = { 200 };

	return sink(ok, 1);
}

/* A hook of @tenant to @s, of @events (0: all), with @secret (NULL: none). */
static int64_t hook_to(const char *tenant, struct http_sink *s, unsigned events, const char *secret,
		       int format)
{
	struct webhooks_change c = WEBHOOKS_CHANGE_NONE;
	struct store_webhook h;
	char url[64], err[256] = "";
	int64_t id;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", http_sink_port(s));
	c.url = url;
	c.events = events;
	c.secret = secret;
	c.format = format;
	c.headers = "{\"X-Team\":\"ops\"}";
	if (format == STORE_WEBHOOK_PAGERDUTY)
		c.routing_key = "R0UT1NG";
	cr_assert_eq(webhooks_create(wh, tenant, &c, (int64_t)(time_real_ns() / NSEC_PER_MSEC), &h,
				     err, sizeof(err)),
		     0, "%s", err);
	id = h.id;
	store_webhook_release(&h);
	return id;
}

static int64_t publish(const char *tenant, enum bus_type type, int n)
{
	int64_t id = bus_publish(bus, tenant, type, "payments", STORE_SEVERITY_CRITICAL,
				 json_pack("{s:i, s:s}", "n", n, "service", "payments"));

	cr_assert_gt(id, 0);
	return id;
}

/* Waits until @s has had @n requests (at most @ms). */
static void wait_requests(struct http_sink *s, size_t n, int ms)
{
	for (int i = 0; i < ms / 5 && http_sink_count(s) < n; i++)
		usleep(5000);
	cr_assert_eq(http_sink_count(s), n, "%zu requests, not %zu", http_sink_count(s), n);
}

/* Waits until the dispatcher is past event @id. */
static void wait_dispatched(int64_t id)
{
	struct webhooks_stats st;

	for (int i = 0; i < 400; i++) {
		webhooks_stats(wh, &st);
		if (st.cursor >= id)
			return;
		usleep(5000);
	}
	cr_assert_fail("the dispatcher did not reach event %lld", (long long)id);
}

/* The deliveries of @tenant, newest first (free them). */
static size_t deliveries(const char *tenant, struct store_webhook_delivery **v)
{
	struct store_delivery_filter f = { .tenant = tenant, .status = -1, .bodies = true };
	struct store_options ro = so;
	struct store *r;
	size_t n;

	ro.read_only = true;
	cr_assert_eq(store_open(&r, &ro), 0);
	cr_assert_eq(store_webhook_deliveries_list(r, &f, v, &n, NULL), 0);
	store_close(r);
	return n;
}

/* Waits until delivery @id is no longer pending; its row (release it). */
static struct store_webhook_delivery finished(const char *tenant, int64_t id)
{
	for (int i = 0; i < 400; i++) {
		struct store_webhook_delivery *v, d = { 0 };
		size_t n = deliveries(tenant, &v);

		for (size_t k = 0; k < n; k++) {
			if (v[k].id == id && v[k].status != STORE_DELIVERY_PENDING) {
				d = v[k];
				memset(&v[k], 0, sizeof(v[k]));
			}
		}
		store_webhook_deliveries_free(v, n);
		if (d.id)
			return d;
		usleep(5000);
	}
	cr_assert_fail("delivery %lld is still pending", (long long)id);
	return (struct store_webhook_delivery){ 0 };
}

/* Request @i of @s: its head and body (free both). */
static void request(struct http_sink *s, size_t i, char **head, char **body)
{
	cr_assert(http_sink_get(s, i, head, body), "no request %zu", i);
}

/* The header @name of @head as a number. */
static long long header_num(const char *head, const char *name)
{
	char *v = http_sink_header(head, name);
	long long n;

	cr_assert_not_null(v, "no %s", name);
	n = atoll(v);
	free(v);
	return n;
}

static void expect_header(const char *head, const char *name, const char *want)
{
	char *v = http_sink_header(head, name);

	cr_assert_not_null(v, "no %s in %s", name, head);
	cr_assert_str_eq(v, want, "%s", name);
	free(v);
}

/* The "n" of the data of the event in @body. */
static int event_n(const char *body)
{
	json_t *d = json_loads(body, 0, NULL);
	int n;

	cr_assert_not_null(d, "%s", body);
	n = (int)jget_int(json_object_get(d, "data"), "n");
	json_decref(d);
	return n;
}

/* The event @id as the bus has it. */
static char *bus_json(int64_t id)
{
	struct bus_filter f = { .tenant = "t" };
	struct bus_event *e;
	int64_t next;
	size_t n;
	char *json;

	cr_assert_eq(bus_read(bus, id - 1, &f, &e, 1, &n, &next), 0);
	cr_assert_eq(n, 1);
	json = strdup(e->json);
	bus_event_unref(e);
	return json;
}

Test(webhooks, delivers_the_event_bytes_signed)
{
	struct http_sink *s = sink_ok();
	char sig[HMAC_SHA256_HEX_LEN], want[80], *head, *body, *json;
	struct store_webhook_delivery *v;
	int64_t id, now_s;

	start(3, 20);
	(void)hook_to("t", s, 0, "s3cret", STORE_WEBHOOK_JSON);
	id = publish("t", BUS_ANOMALY_DETECTED, 1);
	wait_requests(s, 1, 3000);
	request(s, 0, &head, &body);
	json = bus_json(id);
	cr_assert_str_eq(body, json, "the event's bytes as the bus has them");
	cr_assert(!strncmp(head, "POST /hook HTTP/1.1", 19), "%s", head);
	expect_header(head, "Content-Type", "application/json");
	expect_header(head, "X-Webhook-Event", "anomaly.detected");
	expect_header(head, "X-Team", "ops");
	cr_assert_eq(hmac_sha256_hex("s3cret", 6, body, strlen(body), sig), 0);
	snprintf(want, sizeof(want), "sha256=%s", sig);
	expect_header(head, "X-Webhook-Signature", want);
	now_s = (int64_t)(time_real_ns() / NSEC_PER_SEC);
	cr_assert_leq(llabs(header_num(head, "X-Webhook-Timestamp") - now_s), 5);
	cr_assert_eq(deliveries("t", &v), 1);
	cr_assert_eq(header_num(head, "X-Webhook-ID"), v[0].id);
	cr_assert_eq(v[0].event_id, id);
	store_webhook_deliveries_free(v, 1);
	free(head);
	free(body);
	free(json);
	http_sink_stop(s);
}

Test(webhooks, an_unsigned_hook_sends_no_signature)
{
	struct http_sink *s = sink_ok();
	char *head, *body, *sig;

	start(3, 20);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ACTION_EXECUTED, 1);
	wait_requests(s, 1, 3000);
	request(s, 0, &head, &body);
	sig = http_sink_header(head, "X-Webhook-Signature");
	cr_assert_null(sig);
	free(head);
	free(body);
	http_sink_stop(s);
}

Test(webhooks, three_failures_then_exactly_one_more_delivery)
{
	static const int script[] = { 500, 500, 500, 200 };
	struct http_sink *s = sink(script, 4);
	struct store_webhook_delivery *v, d;
	char *head, *body, *first_body = NULL;
	long long first_id = 0;

	start(5, 20);
	(void)hook_to("t", s, 0, "k", STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ANOMALY_DETECTED, 1);
	wait_requests(s, 4, 5000);
	cr_assert_eq(deliveries("t", &v), 1);
	d = finished("t", v[0].id);
	store_webhook_deliveries_free(v, 1);
	cr_assert_eq(d.status, STORE_DELIVERY_SUCCEEDED);
	cr_assert_eq(d.attempts, 4);
	cr_assert_eq(d.last_status_code, 200);
	cr_assert_null(d.last_error);
	cr_assert_gt(d.completed_ms, 0);
	for (size_t i = 0; i < 4; i++) {
		request(s, i, &head, &body);
		if (!i) {
			first_body = strdup(body);
			first_id = header_num(head, "X-Webhook-ID");
		}
		cr_assert_str_eq(body, first_body, "the same bytes every attempt");
		cr_assert_eq(header_num(head, "X-Webhook-ID"), first_id,
			     "one id for every attempt");
		free(head);
		free(body);
	}
	usleep(300 * 1000);
	cr_assert_eq(http_sink_count(s), 4, "nothing after the 2xx");
	store_webhook_delivery_release(&d);
	free(first_body);
	http_sink_stop(s);
}

Test(webhooks, a_hooks_deliveries_keep_their_order_while_one_is_retried)
{
	static const int script[] = { 500, 500, 200 };
	struct http_sink *s = sink(script, 3), *other = sink_ok();
	static const int want[] = { 1, 1, 1, 2, 3 };
	char *head, *body;

	start(5, 30);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)hook_to("t", other, 0, NULL, STORE_WEBHOOK_JSON);
	for (int n = 1; n <= 3; n++)
		(void)publish("t", BUS_ANOMALY_DETECTED, n);
	wait_requests(s, 5, 5000);
	for (size_t i = 0; i < 5; i++) {
		request(s, i, &head, &body);
		cr_assert_eq(event_n(body), want[i], "request %zu", i);
		free(head);
		free(body);
	}
	wait_requests(other, 3, 3000);
	for (size_t i = 0; i < 3; i++) {
		request(other, i, &head, &body);
		cr_assert_eq(event_n(body), (int)i + 1, "the other hook's, in order too");
		free(head);
		free(body);
	}
	http_sink_stop(s);
	http_sink_stop(other);
}

Test(webhooks, a_hook_gets_only_its_types_and_its_tenant)
{
	struct http_sink *s = sink_ok(), *all = sink_ok();
	char *head, *body;
	int64_t last;

	start(3, 20);
	(void)hook_to("t", s, 1u << BUS_ANOMALY_DETECTED, NULL, STORE_WEBHOOK_JSON);
	(void)hook_to("u", all, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ACTION_EXECUTED, 1);
	(void)publish("u", BUS_ANOMALY_DETECTED, 2);
	(void)publish("t", BUS_ANOMALY_DETECTED, 3);
	last = publish("t", BUS_POLICY_CHANGED, 4);
	wait_dispatched(last);
	wait_requests(s, 1, 3000);
	wait_requests(all, 1, 3000);
	usleep(100 * 1000);
	cr_assert_eq(http_sink_count(s), 1);
	cr_assert_eq(http_sink_count(all), 1, "tenant u's hook gets only u's event");
	request(s, 0, &head, &body);
	cr_assert_eq(event_n(body), 3);
	free(head);
	free(body);
	request(all, 0, &head, &body);
	cr_assert_eq(event_n(body), 2);
	free(head);
	free(body);
	http_sink_stop(s);
	http_sink_stop(all);
}

Test(webhooks, a_hook_gets_no_events_from_before_it_was_made)
{
	struct http_sink *s = sink_ok();
	char *head, *body;

	(void)publish("t", BUS_ANOMALY_DETECTED, 1);
	usleep(5000);
	start(3, 20);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ANOMALY_DETECTED, 2);
	wait_requests(s, 1, 3000);
	usleep(100 * 1000);
	cr_assert_eq(http_sink_count(s), 1);
	request(s, 0, &head, &body);
	cr_assert_eq(event_n(body), 2);
	free(head);
	free(body);
	http_sink_stop(s);
}

Test(webhooks, a_delivery_gives_up_after_max_attempts)
{
	static const int script[] = { 503 };
	struct http_sink *s = sink(script, 1);
	struct store_webhook_delivery *v, d;
	struct webhooks_stats st;

	start(3, 20);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_INCIDENT_STARTED, 1);
	wait_requests(s, 3, 5000);
	cr_assert_eq(deliveries("t", &v), 1);
	d = finished("t", v[0].id);
	store_webhook_deliveries_free(v, 1);
	cr_assert_eq(d.status, STORE_DELIVERY_FAILED);
	cr_assert_eq(d.attempts, 3);
	cr_assert_eq(d.last_status_code, 503);
	cr_assert_str_eq(d.last_error, "HTTP 503");
	usleep(300 * 1000);
	cr_assert_eq(http_sink_count(s), 3, "no attempt past the limit");
	webhooks_stats(wh, &st);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(st.sent, 3);
	store_webhook_delivery_release(&d);
	http_sink_stop(s);
}

Test(webhooks, a_receiver_that_is_down_is_retried)
{
	struct store_webhook_delivery *v, d;
	struct webhooks_change c = WEBHOOKS_CHANGE_NONE;
	struct store_webhook h;
	char err[256];
	size_t n = 0;

	start(2, 20);
	c.url = "http://127.0.0.1:1/nobody"; /* port 1: refused */
	cr_assert_eq(webhooks_create(wh, "t", &c, 0, &h, err, sizeof(err)), 0, "%s", err);
	store_webhook_release(&h);
	(void)publish("t", BUS_ANOMALY_DETECTED, 1);
	for (int i = 0; i < 400 && (n = deliveries("t", &v)) == 0; i++)
		usleep(5000);
	cr_assert_eq(n, 1);
	d = finished("t", v[0].id);
	store_webhook_deliveries_free(v, 1);
	cr_assert_eq(d.status, STORE_DELIVERY_FAILED);
	cr_assert_eq(d.attempts, 2);
	cr_assert_eq(d.last_status_code, 0, "no answer came");
	cr_assert_not_null(d.last_error);
	store_webhook_delivery_release(&d);
}

Test(webhooks, pending_deliveries_are_sent_after_a_kill)
{
	struct http_sink *s = sink_ok();
	struct store_webhook_delivery rows[3] = { 0 }, last;
	char *head, *body;
	struct store *w;
	int64_t hid;

	start(3, 20);
	hid = hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	stop();
	/*
	 * What a kill leaves: rows still pending, one of them tried already
	 * (it was in flight), written here as the webhooks would have
	 */
	cr_assert_eq(store_open(&w, &so), 0);
	for (int i = 0; i < 3; i++) {
		rows[i].webhook_id = hid;
		snprintf(rows[i].tenant, sizeof(rows[i].tenant), "t");
		rows[i].type = BUS_ANOMALY_DETECTED;
		rows[i].body =
			xasprintf("{\"event\":\"anomaly.detected\",\"data\":{\"n\":%d}}", i + 1);
		rows[i].body_len = strlen(rows[i].body);
		rows[i].attempts = i == 0;
		rows[i].next_attempt_ms = 1;
	}
	cr_assert_eq(store_webhook_deliveries_add(w, rows, 3, 0), 0);
	store_close(w);

	start(3, 20);
	wait_requests(s, 3, 5000);
	for (size_t i = 0; i < 3; i++) {
		request(s, i, &head, &body);
		cr_assert_eq(event_n(body), (int)i + 1, "in order");
		cr_assert_eq(header_num(head, "X-Webhook-ID"), rows[i].id);
		free(head);
		free(body);
	}
	last = finished("t", rows[2].id);
	cr_assert_eq(last.status, STORE_DELIVERY_SUCCEEDED);
	store_webhook_delivery_release(&last);
	for (int i = 0; i < 3; i++)
		free(rows[i].body);
	http_sink_stop(s);
}

Test(webhooks, a_delivery_being_retried_at_a_stop_is_finished_after_the_start)
{
	static const int script[] = { 500, 200 };
	struct http_sink *s = sink(script, 2);
	struct store_webhook_delivery *v, d;

	start(5, 400);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ANOMALY_DETECTED, 1);
	wait_requests(s, 1, 3000);
	stop(); /* within the 320..480 ms before the retry */
	cr_assert_eq(http_sink_count(s), 1);
	cr_assert_eq(deliveries("t", &v), 1);
	cr_assert_eq(v[0].status, STORE_DELIVERY_PENDING);
	cr_assert_eq(v[0].attempts, 1);
	start(5, 400);
	wait_requests(s, 2, 3000);
	d = finished("t", v[0].id);
	cr_assert_eq(d.status, STORE_DELIVERY_SUCCEEDED);
	cr_assert_eq(d.attempts, 2);
	store_webhook_delivery_release(&d);
	store_webhook_deliveries_free(v, 1);
	http_sink_stop(s);
}

Test(webhooks, events_published_while_stopped_are_delivered_once)
{
	struct http_sink *s = sink_ok();
	struct store_webhook_delivery *v;
	int64_t last;
	char *head, *body;
	size_t n;

	start(3, 20);
	(void)hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	(void)publish("t", BUS_ANOMALY_DETECTED, 1);
	wait_requests(s, 1, 3000);
	stop();
	(void)publish("t", BUS_ANOMALY_DETECTED, 2);
	last = publish("t", BUS_ANOMALY_RESOLVED, 3);
	usleep(50 * 1000);
	cr_assert_eq(http_sink_count(s), 1);
	start(3, 20);
	wait_requests(s, 3, 3000);
	wait_dispatched(last);
	stop();
	start(3, 20); /* and again: the cursor is past them */
	wait_dispatched(last);
	usleep(200 * 1000);
	cr_assert_eq(http_sink_count(s), 3, "none twice");
	for (size_t i = 0; i < 3; i++) {
		request(s, i, &head, &body);
		cr_assert_eq(event_n(body), (int)i + 1);
		free(head);
		free(body);
	}
	n = deliveries("t", &v);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].event_id, last);
	cr_assert_neq(v[1].event_id, v[2].event_id);
	store_webhook_deliveries_free(v, n);
	http_sink_stop(s);
}

Test(webhooks, a_test_goes_to_its_hook_alone_whatever_it_subscribes_to)
{
	struct http_sink *s = sink_ok(), *other = sink_ok();
	struct webhooks_change off = WEBHOOKS_CHANGE_NONE;
	struct store_webhook h;
	int64_t id, other_id, delivery;
	char *head, *body, err[256];
	json_t *data = json_pack("{s:s}", "message", "hello");

	start(3, 20);
	id = hook_to("t", s, 1u << BUS_ANOMALY_DETECTED, "k", STORE_WEBHOOK_JSON);
	other_id = hook_to("t", other, 0, NULL, STORE_WEBHOOK_JSON);
	cr_assert_eq(webhooks_enqueue(wh, "t", id, BUS_WEBHOOK_TEST, "", STORE_SEVERITY_INFO, data,
				      1000, &delivery),
		     0);
	wait_requests(s, 1, 3000);
	request(s, 0, &head, &body);
	expect_header(head, "X-Webhook-Event", "webhook.test");
	cr_assert_eq(header_num(head, "X-Webhook-ID"), delivery);
	cr_assert_str_eq(body,
			 "{\"event\":\"webhook.test\",\"timestamp\":\"1970-01-01T00:00:01.000Z\","
			 "\"data\":{\"message\":\"hello\"}}");
	free(head);
	free(body);
	usleep(100 * 1000);
	cr_assert_eq(http_sink_count(other), 0);

	cr_assert_eq(webhooks_enqueue(wh, "u", id, BUS_WEBHOOK_TEST, "", 0, data, 1, &delivery),
		     -ENOENT, "another tenant's hook");
	cr_assert_eq(webhooks_enqueue(wh, "t", 999, BUS_WEBHOOK_TEST, "", 0, data, 1, &delivery),
		     -ENOENT);
	off.enabled = 0;
	cr_assert_eq(webhooks_update(wh, "t", other_id, &off, 2, &h, err, sizeof(err)), 0);
	cr_assert_not(h.enabled);
	store_webhook_release(&h);
	cr_assert_eq(
		webhooks_enqueue(wh, "t", other_id, BUS_WEBHOOK_TEST, "", 0, data, 1, &delivery),
		-EPERM, "disabled");
	json_decref(data);
	http_sink_stop(s);
	http_sink_stop(other);
}

Test(webhooks, a_deleted_or_disabled_hook_is_sent_nothing_more)
{
	static const int script[] = { 500 };
	struct http_sink *s = sink(script, 1), *quiet = sink_ok();
	struct webhooks_change off = WEBHOOKS_CHANGE_NONE;
	struct store_webhook_delivery *v, d;
	struct store_webhook h;
	char err[256];
	int64_t id, qid, last;
	size_t before;

	start(50, 30);
	id = hook_to("t", s, 0, NULL, STORE_WEBHOOK_JSON);
	qid = hook_to("t", quiet, 0, NULL, STORE_WEBHOOK_JSON);
	off.enabled = 0;
	cr_assert_eq(webhooks_update(wh, "t", qid, &off, 2, &h, err, sizeof(err)), 0);
	store_webhook_release(&h);
	last = publish("t", BUS_ANOMALY_DETECTED, 1);
	wait_requests(s, 2, 3000);
	cr_assert_eq(webhooks_delete(wh, "t", id, 5), 0);
	cr_assert_eq(webhooks_delete(wh, "t", id, 5), -ENOENT);
	wait_dispatched(last);
	cr_assert_eq(deliveries("t", &v), 1, "none for the disabled hook");
	d = finished("t", v[0].id);
	store_webhook_deliveries_free(v, 1);
	cr_assert_eq(d.status, STORE_DELIVERY_FAILED);
	store_webhook_delivery_release(&d);
	before = http_sink_count(s);
	usleep(300 * 1000);
	/* one attempt may have been in flight at the delete */
	cr_assert_leq(http_sink_count(s), before + 1);
	cr_assert_eq(http_sink_count(quiet), 0);
	http_sink_stop(s);
	http_sink_stop(quiet);
}

Test(webhooks, slack_and_pagerduty_receivers_get_their_shapes)
{
	struct http_sink *sl = sink_ok(), *pd = sink_ok();
	char *head, *body, sig[HMAC_SHA256_HEX_LEN], want[80];
	json_t *doc;

	start(3, 20);
	(void)hook_to("t", sl, 0, "k", STORE_WEBHOOK_SLACK);
	(void)hook_to("t", pd, 0, NULL, STORE_WEBHOOK_PAGERDUTY);
	cr_assert_gt(bus_publish(bus, "t", BUS_ANOMALY_DETECTED, "payments",
				 STORE_SEVERITY_CRITICAL,
				 json_pack("{s:s, s:s, s:i, s:{s:i}}", "service", "payments",
					   "metric", "latency_p99", "current_value", 350,
					   "expected_range", "mean", 120)),
		     0);
	wait_requests(sl, 1, 3000);
	wait_requests(pd, 1, 3000);
	request(sl, 0, &head, &body);
	cr_assert_str_eq(body,
			 "{\"text\":\"[critical] anomaly.detected: payments latency_p99 = 350 "
			 "(expected 120)\"}");
	cr_assert_eq(hmac_sha256_hex("k", 1, body, strlen(body), sig), 0);
	snprintf(want, sizeof(want), "sha256=%s", sig);
	expect_header(head, "X-Webhook-Signature", want);
	free(head);
	free(body);
	request(pd, 0, &head, &body);
	doc = json_loads(body, 0, NULL);
	cr_assert_str_eq(jget_str(doc, "routing_key"), "R0UT1NG");
	cr_assert_str_eq(jget_str(doc, "event_action"), "trigger");
	cr_assert_str_eq(jget_str(json_object_get(doc, "payload"), "severity"), "critical");
	json_decref(doc);
	free(head);
	free(body);
	http_sink_stop(sl);
	http_sink_stop(pd);
}

Test(webhooks, bad_hooks_are_refused_naming_the_field)
{
	struct webhooks_change c = WEBHOOKS_CHANGE_NONE;
	struct store_webhook h;
	char err[256];
	int64_t id;

	start(3, 20);
	c.url = "gopher://x";
	cr_assert_eq(webhooks_create(wh, "t", &c, 1, &h, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "url:", 4), "%s", err);
	c.url = "http://x.io/";
	c.format = STORE_WEBHOOK_PAGERDUTY;
	cr_assert_eq(webhooks_create(wh, "t", &c, 1, &h, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "routing_key:", 12), "%s", err);
	c.format = -1;
	c.headers = "{\"X-Webhook-ID\":\"1\"}";
	cr_assert_eq(webhooks_create(wh, "t", &c, 1, &h, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "headers", 7), "%s", err);
	c.headers = NULL;
	cr_assert_eq(webhooks_create(wh, "t", &c, 1, &h, err, sizeof(err)), 0, "%s", err);
	id = h.id;
	cr_assert(h.enabled);
	cr_assert_eq(h.format, STORE_WEBHOOK_JSON);
	cr_assert_eq(h.events, 0);
	store_webhook_release(&h);
	c = WEBHOOKS_CHANGE_NONE;
	c.format = STORE_WEBHOOK_PAGERDUTY; /* a partial change checked whole */
	cr_assert_eq(webhooks_update(wh, "t", id, &c, 2, &h, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "routing_key:", 12), "%s", err);
	c.routing_key = "k";
	cr_assert_eq(webhooks_update(wh, "t", id, &c, 2, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(h.url, "http://x.io/", "left as it was");
	store_webhook_release(&h);
	cr_assert_eq(webhooks_update(wh, "u", id, &c, 2, &h, err, sizeof(err)), -ENOENT);
}

/*
 * The child of the kill test: a hook, @n events, a byte on @fd when they
 * are all published, then it waits to be killed.
 */
static void child_run(unsigned port, int n, int fd)
{
	struct webhooks_change c = WEBHOOKS_CHANGE_NONE;
	struct store_webhook h;
	char url[64], err[256];
	struct bus *b;

	if (bus_open(&b, &so))
		_exit(2);
	bus = b;
	start(5, 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", port);
	c.url = url;
	if (webhooks_create(wh, "t", &c, 0, &h, err, sizeof(err)))
		_exit(3);
	store_webhook_release(&h);
	for (int i = 1; i <= n; i++)
		if (bus_publish(b, "t", BUS_ANOMALY_DETECTED, "payments", STORE_SEVERITY_CRITICAL,
				json_pack("{s:i}", "n", i)) <= 0)
			_exit(4);
	if (write(fd, "p", 1) != 1)
		_exit(5);
	for (;;)
		pause();
}

Test(webhooks, a_kill_9_loses_no_event_and_queues_none_twice)
{
	enum { EVENTS = 30 };
	/* the first event is retried for ~140 ms: the kill comes while most are queued */
	static const int script[] = { 500, 500, 500, 200 };
	struct http_sink *s = sink(script, 4);
	struct store_webhook_delivery *v;
	bool seen[EVENTS + 1] = { false };
	size_t n, distinct = 0, at_kill;
	int status, fds[2];
	char byte;
	pid_t pid;

	bus_close(bus); /* the child has the store to itself until the kill */
	bus = NULL;
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		child_run(http_sink_port(s), EVENTS, fds[1]);
	cr_assert_eq(read(fds[0], &byte, 1), 1, "the child did not publish");
	close(fds[0]);
	close(fds[1]);
	usleep(20 * 1000);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status), "the child ended by itself: %d", status);
	at_kill = http_sink_count(s);
	cr_assert_lt(at_kill, EVENTS, "killed before the end");

	cr_assert_eq(bus_open(&bus, &so), 0);
	start(5, 20);
	for (int i = 0; i < 1000 && distinct < EVENTS; i++) {
		for (size_t k = 0; k < http_sink_count(s); k++) {
			char *head, *body;
			int e;

			request(s, k, &head, &body);
			e = event_n(body);
			cr_assert(e >= 1 && e <= EVENTS);
			if (!seen[e]) {
				seen[e] = true;
				distinct++;
			}
			free(head);
			free(body);
		}
		usleep(5000);
	}
	cr_assert_eq(distinct, EVENTS, "every event reached the receiver (%zu before the kill)",
		     at_kill);
	n = deliveries("t", &v);
	cr_assert_eq(n, EVENTS, "one delivery per event, none queued twice");
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert_neq(v[i].event_id, v[i + 1].event_id);
	store_webhook_deliveries_free(v, n);
	/* the 3 failures, one per event, and a repeat of an answer the kill cut short */
	cr_assert_leq(http_sink_count(s), EVENTS + 3 + 1);
	http_sink_stop(s);
}
