/*
 * The webhooks routes end to end (aggregator/http/api_webhooks.c): a real
 * API on 127.0.0.1 with keys, the bus and the webhooks over a temporary
 * store, receivers on sockets (tests/lib/http_sink). Hooks are made,
 * changed (PUT is partial), tested and deleted; the secret never appears
 * in any answer, nor it or a header's value in the audit log; bad inputs
 * are 400 naming the field; POST /trigger reaches the hooks subscribed to
 * its type, signed, and retries show in the delivery log; a tenant sees
 * and changes only its own hooks and deliveries; viewers read, operators
 * change.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hmac.h"
#include "tests/lib/api_client.h"
#include "common/timeutil.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/series_feed.h"
#include "tests/lib/http.h"
#include "tests/lib/http_sink.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_webhooks, .fini = test_no_leaks, .timeout = 30);

#define SECRET "top-s3cret-v4lue"

static struct api_fixture fx;

static void setup(void)
{
	api_fixture_start(&fx, "http-webhooks", API_FIXTURE_WEBHOOKS | API_FIXTURE_AUTH);
}

static void setup_off(void)
{
	api_fixture_start(&fx, "http-webhooks", 0);
}

static void teardown(void)
{
	api_fixture_stop(&fx);
	test_no_leaks();
}

struct answer {
	long status;
	json_t *doc;
	char *raw; /* the body as it came */
};

static void answer_free(struct answer *a)
{
	json_decref(a->doc);
	free(a->raw);
}

/* @method @path with @body as @key (NULL: the admin's). */
static struct answer call(const char *key, const char *method, const char *path, const char *body)
{
	struct answer a = { 0 };
	struct buf resp;
	char url[512], h[160];

	buf_init(&resp, 16 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", api_fixture_port(&fx), path);
	snprintf(h, sizeof(h), "X-API-Key: %s", key ? key : fx.admin_key);
	cr_assert_eq(http_call_full(method, url, body, NULL, h, &a.status, &resp, NULL), 0,
		     "%s %s: no answer", method, path);
	a.raw = strndup(resp.data ? (const char *)resp.data : "", resp.len);
	a.doc = resp.len ? json_loadb((const char *)resp.data, resp.len, 0, NULL) : NULL;
	buf_release(&resp);
	cr_assert(!strstr(a.raw, SECRET), "%s %s shows the secret: %s", method, path, a.raw);
	return a;
}

/* Expects @status: the document (caller decrefs). */
static json_t *expect(const char *key, long status, const char *method, const char *path,
		      const char *body)
{
	struct answer a = call(key, method, path, body);
	json_t *doc = a.doc;

	cr_assert_eq(a.status, status, "%s %s: %ld, not %ld: %s", method, path, a.status, status,
		     a.raw);
	a.doc = NULL;
	answer_free(&a);
	return doc;
}

/* Expects a 400 whose message starts with @field. */
static void expect_400(const char *method, const char *path, const char *body, const char *field)
{
	json_t *d = expect(NULL, 400, method, path, body);
	const char *msg = jget_str(json_object_get(d, "error"), "message");

	cr_assert(!strncmp(msg, field, strlen(field)), "%s: '%s' does not name '%s'", body, msg,
		  field);
	json_decref(d);
}

/* A key of @role in @tenant (NULL: the default), made by the admin. */
static void make_key(const char *name, const char *role, const char *tenant,
		     char out[APIKEY_LEN + 1])
{
	char body[256];
	json_t *d;

	snprintf(body, sizeof(body), "{\"name\": \"%s\", \"role\": \"%s\"%s%s%s}", name, role,
		 tenant ? ", \"tenant\": \"" : "", tenant ? tenant : "", tenant ? "\"" : "");
	d = expect(NULL, 201, "POST", "/keys", body);
	snprintf(out, APIKEY_LEN + 1, "%s", jget_str(d, "key"));
	json_decref(d);
}

/* Makes a hook to @s as @key with the JSON @extra fields (may be ""); its id. */
static int64_t make_hook(const char *key, struct http_sink *s, const char *extra)
{
	char body[1024];
	json_t *d;
	int64_t id;

	snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:%u/in\"%s%s}", http_sink_port(s),
		 *extra ? ", " : "", extra);
	d = expect(key, 201, "POST", "/webhooks", body);
	id = jget_int(d, "id");
	json_decref(d);
	return id;
}

static struct http_sink *sink_ok(void)
{
	static const int ok[] = { 200 };

	return http_sink_start(ok, 1, NULL);
}

static void wait_requests(struct http_sink *s, size_t n)
{
	for (int i = 0; i < 600 && http_sink_count(s) < n; i++)
		usleep(5000);
	cr_assert_eq(http_sink_count(s), n, "%zu requests, not %zu", http_sink_count(s), n);
}

/* Waits until the newest delivery of @path is no longer pending: the page (decref it). */
static json_t *wait_delivered(const char *key, const char *path)
{
	for (int i = 0; i < 600; i++) {
		json_t *d = expect(key, 200, "GET", path, NULL);
		json_t *first = json_array_get(json_object_get(d, "deliveries"), 0);

		if (first && strcmp(jget_str(first, "status"), "pending"))
			return d;
		json_decref(d);
		usleep(5000);
	}
	cr_assert_fail("%s: still pending", path);
	return NULL;
}

static void check_signature(const char *head, const char *body, const char *secret)
{
	char sig[HMAC_SHA256_HEX_LEN], want[80],
		*got = http_sink_header(head, "X-Webhook-Signature");

	cr_assert_eq(hmac_sha256_hex(secret, strlen(secret), body, strlen(body), sig), 0);
	snprintf(want, sizeof(want), "sha256=%s", sig);
	cr_assert_not_null(got, "unsigned: %s", head);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(http_webhooks, a_hook_is_made_shown_changed_and_deleted, .init = setup, .fini = teardown)
{
	struct http_sink *s = sink_ok();
	char path[64];
	json_t *d, *list;
	int64_t id;

	id = make_hook(
		NULL, s,
		"\"events\": [\"anomaly.detected\", \"incident.started\"], \"secret\": \"" SECRET
		"\", \"headers\": {\"X-Team\": \"ops\"}");
	snprintf(path, sizeof(path), "/webhooks/%lld", (long long)id);
	d = expect(NULL, 200, "GET", path, NULL);
	cr_assert_eq(jget_int(d, "id"), id);
	cr_assert(json_is_true(json_object_get(d, "has_secret")));
	cr_assert(json_is_true(json_object_get(d, "enabled")));
	cr_assert_str_eq(jget_str(d, "format"), "json");
	cr_assert_str_eq(jget_str(json_object_get(d, "headers"), "X-Team"), "ops");
	list = json_object_get(d, "events");
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_str_eq(json_string_value(json_array_get(list, 0)), "anomaly.detected");
	cr_assert(json_is_string(json_object_get(d, "created_at")));
	cr_assert_null(json_object_get(d, "secret"));
	json_decref(d);

	d = expect(NULL, 200, "GET", "/webhooks", NULL);
	cr_assert_eq(jget_int(d, "count"), 1);
	json_decref(d);

	/* partial: only what is given changes */
	d = expect(NULL, 200, "PUT", path, "{\"enabled\": false, \"events\": [\"*\"]}");
	cr_assert(json_is_false(json_object_get(d, "enabled")));
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(d, "events"), 0)), "*");
	cr_assert(json_is_true(json_object_get(d, "has_secret")), "the secret stays");
	cr_assert(strstr(jget_str(d, "url"), "/in"));
	json_decref(d);
	expect_400("PUT", path, "{\"format\": \"pagerduty\"}", "routing_key");
	d = expect(NULL, 200, "PUT", path,
		   "{\"format\": \"pagerduty\", \"routing_key\": \"R0UT1NG\", \"secret\": null}");
	cr_assert_str_eq(jget_str(d, "format"), "pagerduty");
	cr_assert(json_is_true(json_object_get(d, "has_routing_key")));
	cr_assert(json_is_false(json_object_get(d, "has_secret")), "null clears it");
	cr_assert_null(json_object_get(d, "routing_key"));
	json_decref(d);

	d = expect(NULL, 200, "DELETE", path, NULL);
	cr_assert_str_eq(jget_str(d, "status"), "deleted");
	json_decref(d);
	json_decref(expect(NULL, 404, "GET", path, NULL));
	json_decref(expect(NULL, 404, "DELETE", path, NULL));
	json_decref(expect(NULL, 404, "PUT", path, "{\"enabled\": true}"));
	json_decref(expect(NULL, 400, "GET", "/webhooks/abc", NULL));
	d = expect(NULL, 200, "GET", "/webhooks", NULL);
	cr_assert_eq(jget_int(d, "count"), 0);
	json_decref(d);
	http_sink_stop(s);
}

Test(http_webhooks, bad_inputs_are_400_naming_the_field, .init = setup, .fini = teardown)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{ "{}", "url" },
		{ "{\"url\": \"ftp://example.com/x\"}", "url" },
		{ "{\"url\": \"http://\"}", "url" },
		{ "{\"url\": \"not a url\"}", "url" },
		{ "{\"url\": \"example.com\"}", "url" },
		{ "{\"url\": 5}", "url" },
		{ "{\"url\": \"http://x.io\", \"events\": [\"anomaly.exploded\"]}", "events[0]" },
		{ "{\"url\": \"http://x.io\", \"events\": []}", "events" },
		{ "{\"url\": \"http://x.io\", \"events\": \"anomaly.detected\"}", "events" },
		{ "{\"url\": \"http://x.io\", \"format\": \"pagerduty\"}", "routing_key" },
		{ "{\"url\": \"http://x.io\", \"format\": \"xml\"}", "format" },
		{ "{\"url\": \"http://x.io\", \"headers\": {\"X-Webhook-Signature\": \"x\"}}",
		  "headers.X-Webhook-Signature" },
		{ "{\"url\": \"http://x.io\", \"headers\": {\"A\": 1}}", "headers.A" },
		{ "{\"url\": \"http://x.io\", \"headers\": [\"A: b\"]}", "headers" },
		{ "{\"url\": \"http://x.io\", \"enabled\": \"yes\"}", "enabled" },
		{ "{\"url\": \"http://x.io\", \"secret\": 12}", "secret" },
		{ "{\"url\": \"http://x.io\", \"nmae\": \"x\"}", "nmae" },
	};
	char *longest = malloc(2200);
	json_t *d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_400("POST", "/webhooks", cases[i].body, cases[i].field);
	snprintf(longest, 2200, "{\"url\": \"http://x.io/%02100d\"}", 0);
	expect_400("POST", "/webhooks", longest, "url");
	free(longest);
	d = expect(NULL, 400, "POST", "/webhooks", "{\"url\": ");
	cr_assert_str_eq(jget_str(json_object_get(d, "error"), "code"), "invalid_json");
	json_decref(d);
	d = expect(NULL, 200, "GET", "/webhooks", NULL);
	cr_assert_eq(jget_int(d, "count"), 0, "nothing was made");
	json_decref(d);
}

Test(http_webhooks, a_test_is_delivered_signed_and_logged, .init = setup, .fini = teardown)
{
	struct http_sink *s = sink_ok();
	char path[64], *head, *body, *v;
	json_t *d, *first;
	int64_t id, delivery;

	id = make_hook(NULL, s, "\"events\": [\"anomaly.detected\"], \"secret\": \"" SECRET "\"");
	snprintf(path, sizeof(path), "/webhooks/%lld/test", (long long)id);
	d = expect(NULL, 202, "POST", path, NULL);
	delivery = jget_int(d, "delivery_id");
	cr_assert_gt(delivery, 0);
	json_decref(d);
	wait_requests(s, 1);
	cr_assert(http_sink_get(s, 0, &head, &body));
	v = http_sink_header(head, "X-Webhook-Event");
	cr_assert_str_eq(v, "webhook.test");
	free(v);
	v = http_sink_header(head, "X-Webhook-ID");
	cr_assert_not_null(v);
	cr_assert_eq(atoll(v), delivery);
	free(v);
	check_signature(head, body, SECRET);
	d = json_loads(body, 0, NULL);
	cr_assert_str_eq(jget_str(d, "event"), "webhook.test");
	cr_assert_eq(jget_int(json_object_get(d, "data"), "webhook_id"), id);
	json_decref(d);
	free(head);
	free(body);

	snprintf(path, sizeof(path), "/webhooks/%lld/deliveries", (long long)id);
	d = wait_delivered(NULL, path);
	cr_assert_eq(jget_int(d, "count"), 1);
	first = json_array_get(json_object_get(d, "deliveries"), 0);
	cr_assert_eq(jget_int(first, "id"), delivery);
	cr_assert_eq(jget_int(first, "webhook_id"), id);
	cr_assert_str_eq(jget_str(first, "event"), "webhook.test");
	cr_assert_eq(jget_int(first, "event_id"), 0);
	cr_assert_eq(jget_int(first, "status_code"), 200);
	cr_assert(json_is_true(json_object_get(first, "success")));
	cr_assert_str_eq(jget_str(first, "status"), "succeeded");
	cr_assert_eq(jget_int(first, "attempts"), 1);
	cr_assert(json_is_string(json_object_get(first, "timestamp")));
	cr_assert(json_is_string(json_object_get(first, "completed_at")));
	cr_assert(json_is_null(json_object_get(first, "last_error")));
	json_decref(d);
	d = expect(NULL, 200, "GET", "/webhooks/history", NULL);
	cr_assert_eq(jget_int(d, "count"), 1);
	json_decref(d);

	json_decref(expect(NULL, 404, "POST", "/webhooks/999/test", NULL));
	json_decref(expect(NULL, 404, "GET", "/webhooks/999/deliveries", NULL));
	snprintf(path, sizeof(path), "/webhooks/%lld", (long long)id);
	json_decref(expect(NULL, 200, "PUT", path, "{\"enabled\": false}"));
	snprintf(path, sizeof(path), "/webhooks/%lld/test", (long long)id);
	json_decref(expect(NULL, 409, "POST", path, NULL));
	http_sink_stop(s);
}

Test(http_webhooks, trigger_reaches_the_hooks_of_its_type, .init = setup, .fini = teardown)
{
	struct http_sink *a = sink_ok(), *b = sink_ok();
	char *head, *body;
	json_t *d;
	int64_t event;

	(void)make_hook(NULL, a, "\"events\": [\"anomaly.detected\"], \"secret\": \"" SECRET "\"");
	(void)make_hook(NULL, b, "\"events\": [\"action.failed\"]");
	d = expect(NULL, 202, "POST", "/trigger",
		   "{\"event\": \"anomaly.detected\", \"data\": {\"service\": \"payments\", "
		   "\"metric\": \"latency_p99\", \"severity\": \"high\"}}");
	event = jget_int(d, "event_id");
	cr_assert_gt(event, 0);
	json_decref(d);
	wait_requests(a, 1);
	cr_assert(http_sink_get(a, 0, &head, &body));
	check_signature(head, body, SECRET);
	d = json_loads(body, 0, NULL);
	cr_assert_str_eq(jget_str(d, "event"), "anomaly.detected");
	cr_assert_str_eq(jget_str(json_object_get(d, "data"), "metric"), "latency_p99");
	json_decref(d);
	free(head);
	free(body);
	d = wait_delivered(NULL, "/webhooks/history");
	cr_assert_eq(jget_int(json_array_get(json_object_get(d, "deliveries"), 0), "event_id"),
		     event);
	json_decref(d);
	usleep(100 * 1000);
	cr_assert_eq(http_sink_count(b), 0, "not its type");

	expect_400("POST", "/trigger", "{}", "event");
	expect_400("POST", "/trigger", "{\"event\": \"anomaly.exploded\"}", "event");
	expect_400("POST", "/trigger", "{\"event\": 3}", "event");
	expect_400("POST", "/trigger", "{\"event\": \"anomaly.detected\", \"data\": [1]}", "data");
	expect_400("POST", "/trigger", "{\"event\": \"anomaly.detected\", \"datta\": {}}", "datta");
	expect_400("POST", "/trigger", "{\"event\": \"anomaly.detected\", \"severity\": \"huge\"}",
		   "severity");
	http_sink_stop(a);
	http_sink_stop(b);
}

Test(http_webhooks, retries_show_in_the_log_and_end_in_one_success, .init = setup, .fini = teardown)
{
	static const int script[] = { 500, 500, 500, 200 };
	struct http_sink *s = http_sink_start(script, 4, NULL);
	json_t *d, *first;

	(void)make_hook(NULL, s, "");
	json_decref(expect(NULL, 202, "POST", "/trigger", "{\"event\": \"incident.started\"}"));
	wait_requests(s, 4);
	d = wait_delivered(NULL, "/webhooks/history");
	first = json_array_get(json_object_get(d, "deliveries"), 0);
	cr_assert_str_eq(jget_str(first, "status"), "succeeded");
	cr_assert_eq(jget_int(first, "attempts"), 4);
	cr_assert_eq(jget_int(first, "status_code"), 200);
	json_decref(d);
	usleep(200 * 1000);
	cr_assert_eq(http_sink_count(s), 4);
	http_sink_stop(s);
}

Test(http_webhooks, a_tenant_sees_and_changes_only_its_own, .init = setup, .fini = teardown)
{
	struct http_sink *mine = sink_ok(), *theirs = sink_ok();
	char other[APIKEY_LEN + 1], path[64];
	int64_t id, their_id;
	json_t *d;

	make_key("b-admin", "admin", "team-b", other);
	id = make_hook(NULL, mine, "");
	their_id = make_hook(other, theirs, "");
	d = expect(other, 200, "GET", "/webhooks", NULL);
	cr_assert_eq(jget_int(d, "count"), 1);
	cr_assert_eq(jget_int(json_array_get(json_object_get(d, "webhooks"), 0), "id"), their_id);
	json_decref(d);
	snprintf(path, sizeof(path), "/webhooks/%lld", (long long)id);
	json_decref(expect(other, 404, "GET", path, NULL));
	json_decref(expect(other, 404, "PUT", path, "{\"enabled\": false}"));
	json_decref(expect(other, 404, "DELETE", path, NULL));
	snprintf(path, sizeof(path), "/webhooks/%lld/test", (long long)id);
	json_decref(expect(other, 404, "POST", path, NULL));
	snprintf(path, sizeof(path), "/webhooks/%lld/deliveries", (long long)id);
	json_decref(expect(other, 404, "GET", path, NULL));

	json_decref(expect(other, 202, "POST", "/trigger", "{\"event\": \"policy.changed\"}"));
	wait_requests(theirs, 1);
	d = wait_delivered(other, "/webhooks/history");
	cr_assert_eq(jget_int(d, "count"), 1);
	json_decref(d);
	d = expect(NULL, 200, "GET", "/webhooks/history", NULL);
	cr_assert_eq(jget_int(d, "count"), 0, "the default tenant has no deliveries");
	json_decref(d);
	usleep(100 * 1000);
	cr_assert_eq(http_sink_count(mine), 0, "team-b's event stays in team-b");
	http_sink_stop(mine);
	http_sink_stop(theirs);
}

Test(http_webhooks, viewers_read_and_operators_change, .init = setup, .fini = teardown)
{
	struct http_sink *s = sink_ok();
	char viewer[APIKEY_LEN + 1], operator[APIKEY_LEN + 1];
	const char *body = "{\"url\": \"http://127.0.0.1:9/x\"}";

	make_key("v", "viewer", NULL, viewer);
	make_key("o", "operator", NULL, operator);
	json_decref(expect(viewer, 200, "GET", "/webhooks", NULL));
	json_decref(expect(viewer, 200, "GET", "/webhooks/history", NULL));
	json_decref(expect(viewer, 403, "POST", "/webhooks", body));
	json_decref(expect(viewer, 403, "POST", "/trigger", "{\"event\": \"webhook.test\"}"));
	(void)make_hook(operator, s, "");
	json_decref(expect(operator, 202, "POST", "/trigger", "{\"event\": \"webhook.test\"}"));
	wait_requests(s, 1);
	http_sink_stop(s);
}

Test(http_webhooks, changes_are_audited_without_secrets, .init = setup, .fini = teardown)
{
	static const char *const want[] = { "webhook.created", "webhook.updated", "webhook.deleted",
					    "trigger" };
	struct http_sink *s = sink_ok();
	char path[64];
	struct answer a;
	int64_t id;

	id = make_hook(NULL, s,
		       "\"secret\": \"" SECRET
		       "\", \"headers\": {\"Authorization\": \"Bearer hdr-t0ken\"}");
	snprintf(path, sizeof(path), "/webhooks/%lld", (long long)id);
	json_decref(expect(NULL, 200, "PUT", path,
			   "{\"secret\": \"" SECRET
			   "2\", \"headers\": {\"X-A\": \"hdr-t0ken2\"}}"));
	json_decref(expect(NULL, 200, "DELETE", path, NULL));
	json_decref(expect(NULL, 202, "POST", "/trigger", "{\"event\": \"webhook.test\"}"));
	a = call(NULL, "GET", "/audit", NULL); /* call() asserts the secret is absent */
	cr_assert_eq(a.status, 200, "%s", a.raw);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(a.raw, want[i]), "no %s in %s", want[i], a.raw);
	cr_assert(strstr(a.raw, "Authorization"), "the header's name is there: %s", a.raw);
	cr_assert_null(strstr(a.raw, "hdr-t0ken"), "not its value: %s", a.raw);
	answer_free(&a);
	http_sink_stop(s);
}

Test(http_webhooks, the_log_is_paged, .init = setup, .fini = teardown)
{
	struct http_sink *s = sink_ok();
	char path[128];
	json_t *d;
	int64_t id;

	id = make_hook(NULL, s, "");
	snprintf(path, sizeof(path), "/webhooks/%lld/test", (long long)id);
	for (int i = 0; i < 3; i++)
		json_decref(expect(NULL, 202, "POST", path, NULL));
	wait_requests(s, 3);
	d = expect(NULL, 200, "GET", "/webhooks/history?limit=2", NULL);
	cr_assert_eq(jget_int(d, "count"), 2);
	snprintf(path, sizeof(path), "/webhooks/history?limit=2&cursor=%s",
		 jget_str(d, "next_cursor"));
	json_decref(d);
	d = expect(NULL, 200, "GET", path, NULL);
	cr_assert_eq(jget_int(d, "count"), 1);
	cr_assert_null(json_object_get(d, "next_cursor"));
	json_decref(d);
	expect_400("GET", "/webhooks/history?status=lost", NULL, "status");
	http_sink_stop(s);
}

Test(http_webhooks, without_webhooks_the_routes_are_503, .init = setup_off, .fini = teardown)
{
	struct api_answer a;

	a = api_client_expect_error(api_fixture_port(&fx), "GET", "/webhooks", NULL, NULL, 503,
				    "unavailable");
	json_decref(a.doc);
	a = api_client_expect_error(api_fixture_port(&fx), "POST", "/webhooks",
				    "{\"url\": \"http://x.io\"}", NULL, 503, "unavailable");
	json_decref(a.doc);
	/* the bus still runs: a trigger still publishes (the streams get it) */
	json_decref(api_client_expect(api_fixture_port(&fx), 202, "POST", "/trigger",
				      "{\"event\": \"webhook.test\"}", NULL));
}

/* ---- the policy actions alert and webhook go through the hooks ---- */

static void setup_actions(void)
{
	api_fixture_start(&fx, "http-webhooks",
			  API_FIXTURE_WEBHOOKS | API_FIXTURE_AUTH | API_FIXTURE_ENGINE |
				  API_FIXTURE_EXECUTOR);
	series_feed(fx.series, "payments", 5, (int64_t)(time_real_ns() / NSEC_PER_SEC),
		    series_feed_http,
		    &(struct series_feed_http){ .route = "/pay",
						.requests = 10,
						.latency_ns = 10 * NSEC_PER_MSEC });
}

/* Runs @body through POST /actions/execute and waits for its end: the action (decref). */
static json_t *run_action(const char *body)
{
	json_t *d = expect(NULL, 202, "POST", "/actions/execute", body);
	char path[64];

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)jget_int(d, "action_id"));
	json_decref(d);
	for (int i = 0; i < 400; i++) {
		const char *st;

		d = expect(NULL, 200, "GET", path, NULL);
		st = jget_str(d, "status");
		if (strcmp(st, "pending") && strcmp(st, "running"))
			return d;
		json_decref(d);
		usleep(5000);
	}
	cr_assert_fail("%s never ended", path);
	return NULL;
}

Test(http_webhooks, a_webhook_action_queues_to_its_hook_and_an_alert_reaches_the_subscribers,
     .init = setup_actions, .fini = teardown)
{
	struct http_sink *direct = sink_ok(), *subscribed = sink_ok();
	char body[256], *head, *text, *v;
	json_t *d, *sent;
	int64_t hook;

	hook = make_hook(NULL, direct, "\"events\": [\"incident.started\"], \"secret\": \"" SECRET "\"");
	make_hook(NULL, subscribed, "\"events\": [\"action.executed\"]");

	/* webhook {webhook_id}: a durable delivery to that hook alone, signed with its secret */
	snprintf(body, sizeof(body),
		 "{\"service\": \"payments\", \"action\": \"webhook\", \"parameters\": "
		 "{\"webhook_id\": \"%lld\"}}",
		 (long long)hook);
	d = run_action(body);
	cr_assert_str_eq(jget_str(d, "status"), "succeeded", "%s", json_dumps(d, 0));
	cr_assert_gt(jget_int(json_object_get(d, "result"), "delivery_id"), 0);
	json_decref(d);
	wait_requests(direct, 1);
	cr_assert(http_sink_get(direct, 0, &head, &text));
	check_signature(head, text, SECRET);
	sent = json_loads(text, 0, NULL);
	cr_assert_str_eq(jget_str(json_object_get(sent, "data"), "service"), "payments");
	json_decref(sent);
	free(head);
	free(text);

	/* alert: its action.executed event, critical, reaches the hook subscribed to it */
	d = run_action("{\"service\": \"payments\", \"action\": \"alert\", \"parameters\": "
		       "{\"severity\": \"critical\", \"message\": \"payments is down\"}}");
	cr_assert_str_eq(jget_str(d, "status"), "succeeded");
	json_decref(d);
	/* the webhook action's own end came first to this hook, then the alert's */
	wait_requests(subscribed, 2);
	cr_assert(http_sink_get(subscribed, 1, &head, &text));
	v = http_sink_header(head, "X-Webhook-Event");
	cr_assert_str_eq(v, "action.executed");
	free(v);
	sent = json_loads(text, 0, NULL);
	cr_assert_str_eq(jget_str(json_object_get(sent, "data"), "action"), "alert");
	cr_assert_str_eq(jget_str(json_object_get(json_object_get(sent, "data"), "parameters"),
				  "message"),
			 "payments is down");
	json_decref(sent);
	free(head);
	free(text);

	/* a hook the tenant has not: the action fails and says why */
	d = run_action("{\"service\": \"payments\", \"action\": \"webhook\", \"parameters\": "
		       "{\"webhook_id\": \"999\"}}");
	cr_assert_str_eq(jget_str(d, "status"), "failed");
	json_decref(d);
	http_sink_stop(direct);
	http_sink_stop(subscribed);
}
