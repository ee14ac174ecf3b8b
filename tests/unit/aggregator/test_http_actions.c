/*
 * The action routes end to end: a real API on 127.0.0.1 over a temporary
 * store, in front of a real policy engine (and, for some tests, a real
 * executor), called over HTTP with libcurl. Actions the listing tests need
 * are written by the test's own writer (store_action_put()), with every
 * field set, so each record, filter and page can be checked exactly;
 * manual actions go through POST /actions/execute and are followed with
 * GET /actions/{id}/status.
 *
 * The engine's thread is slowed to once an hour: it decides nothing while a
 * test runs.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "tests/lib/api_client.h"
#include "tests/lib/api_fixture.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/series_feed.h"

TestSuite(http_actions, .fini = test_no_leaks);

#define MS_PER_S   1000ll
#define MS_PER_MIN (60 * MS_PER_S)

static struct {
	struct api_fixture agg;
	struct store *writer; /* the test's: crafted actions go in through it */
	int64_t now_ms;
} fx;

/* ---- fixture ---- */

static void start(unsigned flags)
{
	memset(&fx, 0, sizeof(fx));
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	api_fixture_start(&fx.agg, "http-actions", API_FIXTURE_ENGINE | flags);
	cr_assert_eq(store_open(&fx.writer, &fx.agg.so), 0);
}

static void setup(void)
{
	start(0);
}

static void setup_executor(void)
{
	start(API_FIXTURE_EXECUTOR);
}

static void teardown(void)
{
	store_close(fx.writer);
	api_fixture_stop(&fx.agg);
	test_no_leaks();
}

/* @seconds one-second windows of @service ending now. */
static void add_windows(const char *service, int seconds)
{
	series_feed(fx.agg.series, service, seconds, (int64_t)(time_real_ns() / NSEC_PER_SEC),
		    series_feed_http,
		    &(struct series_feed_http){
			    .route = "/", .requests = 20, .latency_ns = 10 * NSEC_PER_MSEC });
}

struct spec {
	const char *tenant; /* NULL: default */
	const char *policy; /* NULL: a manual action */
	const char *service;
	const char *type;
	enum store_action_status status;
	int64_t created_ago_ms;
	char *parameters, *reason, *result, *logs; /* borrowed; NULL: none */
	int64_t started_after_ms, completed_after_ms; /* 0: not reached */
};

/* Writes one action of @sp; returns its id. */
static int64_t put(const struct spec *sp)
{
	struct store_action a;

	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "%s", sp->tenant ? sp->tenant : "default");
	snprintf(a.policy_name, sizeof(a.policy_name), "%s", sp->policy ? sp->policy : "");
	snprintf(a.service, sizeof(a.service), "%s", sp->service);
	snprintf(a.type, sizeof(a.type), "%s", sp->type);
	a.status = sp->status;
	a.created_ms = fx.now_ms - sp->created_ago_ms;
	a.started_ms = sp->started_after_ms ? a.created_ms + sp->started_after_ms : 0;
	a.completed_ms = sp->completed_after_ms ? a.created_ms + sp->completed_after_ms : 0;
	a.parameters = sp->parameters;
	a.reason = sp->reason;
	a.result = sp->result;
	a.logs = sp->logs;
	cr_assert_eq(store_action_put(fx.writer, &a), 0, "put %s/%s", sp->service, sp->type);
	cr_assert_gt(a.id, 0);
	return a.id;
}

/* ---- calling it ---- */

static json_t *expect(long status, const char *method, const char *path, const char *body)
{
	return api_client_expect(api_fixture_port(&fx.agg), status, method, path, body, NULL);
}

static json_t *get_ok(const char *path)
{
	return expect(200, "GET", path, NULL);
}

/* @method @path with @body sent as @ctype (NULL: application/json), expecting the envelope. */
static void expect_error_ct(const char *method, const char *path, const char *body,
			    const char *ctype, long status, const char *code)
{
	struct api_answer a = api_client_expect_error(api_fixture_port(&fx.agg), method, path, body,
						      ctype, status, code);

	json_decref(a.doc);
}

static void expect_error(const char *method, const char *path, const char *body, long status,
			 const char *code)
{
	expect_error_ct(method, path, body, NULL, status, code);
}

/* The action ids of @doc in order into @ids; checks count. Returns how many. */
static size_t ids_of(const json_t *doc, int64_t *ids, size_t cap)
{
	return api_client_list_ids(doc, "actions", "action_id", ids, cap);
}

/* GET @path has exactly the ids @want (in that order, -1 ends). */
static void expect_ids(const char *path, const int64_t *want)
{
	json_t *doc = get_ok(path);

	api_client_expect_ids(doc, "actions", "action_id", want, path);
	json_decref(doc);
}

/* ---- the record ---- */

Test(http_actions, a_record_has_every_field, .init = setup, .fini = teardown)
{
	static char params[] = "{\"duration\":60,\"state\":\"open\"}";
	static char reason[] = "error_rate > 0.2 held for 10 s";
	static char result[] = "{\"agents\":2,\"ok\":true}";
	static char logs[] = "sent to web-1\nsent to web-2\n";
	static char text_result[] = "exit status 3";
	static char bad_utf8[] = "caf\xe9 output";
	int64_t full = put(&(struct spec){ .policy = "payments_high_error_rate",
					   .service = "payments",
					   .type = "circuit_breaker",
					   .status = STORE_ACTION_SUCCEEDED,
					   .created_ago_ms = 5 * MS_PER_MIN,
					   .parameters = params,
					   .reason = reason,
					   .result = result,
					   .logs = logs,
					   .started_after_ms = 100,
					   .completed_after_ms = 1500 });
	int64_t bare = put(&(struct spec){ .service = "orders",
					   .type = "restart",
					   .status = STORE_ACTION_PENDING,
					   .created_ago_ms = MS_PER_MIN });
	int64_t text = put(&(struct spec){ .service = "orders",
					   .type = "exec",
					   .status = STORE_ACTION_FAILED,
					   .created_ago_ms = 30 * MS_PER_S,
					   .result = text_result,
					   .logs = bad_utf8,
					   .started_after_ms = 10,
					   .completed_after_ms = 20 });
	char path[64];
	json_t *d, *p;

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)full);
	d = get_ok(path);
	cr_assert_eq(jget_int(d, "action_id"), full);
	cr_assert_str_eq(jget_str(d, "policy_name"), "payments_high_error_rate");
	cr_assert(json_is_false(json_object_get(d, "manual")));
	cr_assert_str_eq(jget_str(d, "service"), "payments");
	cr_assert_str_eq(jget_str(d, "action"), "circuit_breaker");
	p = json_object_get(d, "parameters");
	cr_assert(json_is_object(p));
	cr_assert_eq(json_integer_value(json_object_get(p, "duration")), 60);
	cr_assert_str_eq(jget_str(p, "state"), "open");
	cr_assert_str_eq(jget_str(d, "reason"), reason);
	cr_assert_str_eq(jget_str(d, "status"), "succeeded");
	api_client_check_time(json_object_get(d, "created_at"), fx.now_ms - 5 * MS_PER_MIN,
			      "created_at");
	api_client_check_time(json_object_get(d, "started_at"), fx.now_ms - 5 * MS_PER_MIN + 100,
			      "started_at");
	api_client_check_time(json_object_get(d, "completed_at"), fx.now_ms - 5 * MS_PER_MIN + 1500,
			      "completed_at");
	cr_assert(json_is_object(json_object_get(d, "result")), "JSON results are parsed");
	cr_assert(json_is_true(json_object_get(json_object_get(d, "result"), "ok")));
	cr_assert_str_eq(jget_str(d, "logs"), logs);
	json_decref(d);

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)bare);
	d = get_ok(path);
	cr_assert_str_eq(jget_str(d, "policy_name"), "");
	cr_assert(json_is_true(json_object_get(d, "manual")));
	cr_assert_str_eq(jget_str(d, "status"), "pending");
	cr_assert_eq(json_object_size(json_object_get(d, "parameters")), 0, "{} when none");
	cr_assert(json_is_null(json_object_get(d, "reason")));
	cr_assert(json_is_null(json_object_get(d, "started_at")), "null until reached");
	cr_assert(json_is_null(json_object_get(d, "completed_at")));
	cr_assert(json_is_null(json_object_get(d, "result")));
	cr_assert(json_is_null(json_object_get(d, "logs")));
	json_decref(d);

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)text);
	d = get_ok(path);
	cr_assert_str_eq(jget_str(d, "result"), "exit status 3",
			 "text that is not JSON stays text");
	cr_assert_str_eq(jget_str(d, "logs"), "caf? output", "bytes that are not UTF-8 become '?'");
	cr_assert_str_eq(jget_str(d, "status"), "failed");
	json_decref(d);

	/* the list shows the same records */
	d = get_ok("/actions");
	cr_assert_eq(jget_int(d, "count"), 3);
	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)full);
	{
		json_t *one = get_ok(path);

		cr_assert(json_equal(json_array_get(json_object_get(d, "actions"), 2), one));
		json_decref(one);
	}
	json_decref(d);
}

Test(http_actions, unknown_or_malformed_ids, .init = setup, .fini = teardown)
{
	int64_t mine = put(
		&(struct spec){ .service = "orders", .type = "restart", .created_ago_ms = 1000 });
	int64_t other = put(&(struct spec){
		.tenant = "acme", .service = "orders", .type = "restart", .created_ago_ms = 1000 });
	char path[64];

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)other);
	expect_error("GET", path, NULL, 404, "not_found"); /* another tenant's */
	expect_error("GET", "/actions/999/status", NULL, 404, "not_found");
	expect_error("GET", "/actions/0/status", NULL, 404, "not_found");
	expect_error("GET", "/actions/-1/status", NULL, 404, "not_found");
	expect_error("GET", "/actions/abc/status", NULL, 400, "bad_request");
	expect_error("GET", "/actions/1/nope", NULL, 404, "not_found");
	expect_error("POST", "/actions/1/status", "{}", 405, "method_not_allowed");
	expect_ids("/actions", (int64_t[]){ mine, -1 });
}

/* ---- lists ---- */

Test(http_actions, pages_visit_each_action_once, .init = setup, .fini = teardown)
{
	enum { N = 25, LIMIT = 10 };
	int64_t want[N], seen[N];
	size_t nseen = 0, pages = 0;
	char path[700], cursor[600] = "";

	for (int i = 0; i < N; i++)
		want[N - 1 - i] = put(&(struct spec){ .service = i % 2 ? "orders" : "payments",
						      .type = "alert",
						      .status = STORE_ACTION_SUCCEEDED,
						      .created_ago_ms = (N - i) * MS_PER_S });
	do {
		json_t *doc, *next;
		int64_t ids[LIMIT + 1];
		size_t n;

		snprintf(path, sizeof(path), "/actions?limit=%d%s%s", LIMIT,
			 cursor[0] ? "&cursor=" : "", cursor);
		doc = get_ok(path);
		n = ids_of(doc, ids, LIMIT);
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < nseen; k++)
				cr_assert_neq(seen[k], ids[i], "%lld twice", (long long)ids[i]);
			cr_assert_lt(nseen, N);
			seen[nseen++] = ids[i];
		}
		next = json_object_get(doc, "next_cursor");
		cr_assert(!next || json_is_string(next));
		snprintf(cursor, sizeof(cursor), "%s", next ? json_string_value(next) : "");
		cr_assert(next || nseen == N, "no cursor before the end");
		json_decref(doc);
		pages++;
	} while (cursor[0]);
	cr_assert_eq(pages, 3);
	cr_assert_eq(nseen, N);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(seen[i], want[i], "newest first: [%zu]", i);

	/* the whole list in one page has no cursor */
	{
		json_t *doc = get_ok("/actions");

		cr_assert_eq(jget_int(doc, "count"), N);
		cr_assert_null(json_object_get(doc, "next_cursor"));
		json_decref(doc);
	}
	expect_error("GET", "/actions?cursor=zz", NULL, 400, "bad_request");
	expect_error("GET", "/actions?cursor=6162", NULL, 400, "bad_request"); /* "ab" */
	expect_error("GET", "/actions?limit=0", NULL, 400, "bad_request");
	expect_error("GET", "/actions?limit=1001", NULL, 400, "bad_request");
	expect_error("GET", "/actions?limit=ten", NULL, 400, "bad_request");
}

Test(http_actions, recent_is_the_newest_few, .init = setup, .fini = teardown)
{
	int64_t ids[15], got[20];
	json_t *doc;
	size_t n;

	for (int i = 0; i < 15; i++)
		ids[i] = put(&(struct spec){ .service = "orders",
					     .type = "restart",
					     .status = STORE_ACTION_SKIPPED,
					     .created_ago_ms = (15 - i) * MS_PER_S });
	doc = get_ok("/actions/recent");
	n = ids_of(doc, got, 20);
	cr_assert_eq(n, 10, "10 by default");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], ids[14 - i]);
	cr_assert_null(json_object_get(doc, "next_cursor"), "no pages");
	json_decref(doc);
	expect_ids("/actions/recent?limit=3", (int64_t[]){ ids[14], ids[13], ids[12], -1 });
	doc = get_ok("/actions/recent?limit=1000");
	cr_assert_eq(jget_int(doc, "count"), 15);
	json_decref(doc);
	expect_error("GET", "/actions/recent?limit=0", NULL, 400, "bad_request");
	expect_error("GET", "/actions/recent?limit=1001", NULL, 400, "bad_request");
}

Test(http_actions, history_filters, .init = setup, .fini = teardown)
{
	int64_t a = put(&(struct spec){ .policy = "p1", .service = "orders", .type = "restart",
					.status = STORE_ACTION_SUCCEEDED,
					.created_ago_ms = 50 * MS_PER_MIN });
	int64_t b = put(&(struct spec){ .policy = "p1", .service = "payments",
					.type = "circuit_breaker", .status = STORE_ACTION_FAILED,
					.created_ago_ms = 40 * MS_PER_MIN });
	int64_t c = put(&(struct spec){ .policy = "p2", .service = "orders", .type = "alert",
					.status = STORE_ACTION_SKIPPED,
					.created_ago_ms = 30 * MS_PER_MIN });
	int64_t d = put(&(struct spec){ .service = "orders", .type = "restart",
					.status = STORE_ACTION_FAILED,
					.created_ago_ms = 20 * MS_PER_MIN });
	int64_t old = put(&(struct spec){ .policy = "p1", .service = "orders", .type = "restart",
					  .status = STORE_ACTION_SUCCEEDED,
					  .created_ago_ms = 40 * 86400 * MS_PER_S });
	char path[256];

	put(&(struct spec){ .tenant = "acme", .policy = "p1", .service = "orders",
			    .type = "restart", .created_ago_ms = MS_PER_MIN });
	/* no filter: the whole history of the tenant, however old */
	expect_ids("/actions/history", (int64_t[]){ old, d, c, b, a, -1 });
	expect_ids("/actions/history?service=orders", (int64_t[]){ old, d, c, a, -1 });
	expect_ids("/actions/history?service=nope", (int64_t[]){ -1 });
	expect_ids("/actions/history?action=restart", (int64_t[]){ old, d, a, -1 });
	expect_ids("/actions/history?status=failed", (int64_t[]){ d, b, -1 });
	expect_ids("/actions/history?status=skipped", (int64_t[]){ c, -1 });
	expect_ids("/actions/history?status=pending", (int64_t[]){ -1 });
	expect_ids("/actions/history?policy=p1", (int64_t[]){ old, b, a, -1 });
	expect_ids("/actions/history?policy=p1&service=orders&action=restart&status=succeeded",
		   (int64_t[]){ old, a, -1 });
	/* since/until bound the creation: [since, until) */
	expect_ids("/actions/history?since=1h", (int64_t[]){ d, c, b, a, -1 });
	expect_ids("/actions/history?since=35m", (int64_t[]){ d, c, -1 });
	expect_ids("/actions/history?until=45m", (int64_t[]){ old, a, -1 });
	expect_ids("/actions/history?since=45m&until=25m", (int64_t[]){ c, b, -1 });
	expect_ids("/actions/history?since=1h&service=orders&limit=2", (int64_t[]){ d, c, -1 });
	/* a value longer than any stored one matches nothing */
	snprintf(path, sizeof(path), "/actions/history?service=%0200d", 7);
	expect_ids(path, (int64_t[]){ -1 });

	/* pages with the filters kept */
	{
		json_t *doc = get_ok("/actions/history?service=orders&limit=2");
		char next[256];

		cr_assert(json_is_string(json_object_get(doc, "next_cursor")));
		snprintf(next, sizeof(next), "/actions/history?service=orders&limit=2&cursor=%s",
			 jget_str(doc, "next_cursor"));
		json_decref(doc);
		expect_ids(next, (int64_t[]){ c, a, -1 });
	}

	expect_error("GET", "/actions/history?status=done", NULL, 400, "bad_request");
	expect_error("GET", "/actions/history?status=", NULL, 400, "bad_request");
	expect_error("GET", "/actions/history?service=a&service=b", NULL, 400, "bad_request");
	expect_error("GET", "/actions/history?since=yesterday", NULL, 400, "bad_request");
	expect_error("GET", "/actions/history?since=10m&until=20m", NULL, 400, "bad_request");
	expect_error("GET", "/actions/history?cursor=nothex", NULL, 400, "bad_request");
}

/* ---- POST /actions/execute ---- */

Test(http_actions, execute_refuses_bad_requests, .init = setup, .fini = teardown)
{
	add_windows("orders", 10);
	expect_error("POST", "/actions/execute", NULL, 400, "bad_request");
	expect_error("POST", "/actions/execute", "{\"action\":", 400, "invalid_json");
	expect_error("POST", "/actions/execute", "[]", 400, "invalid_json");
	expect_error_ct("POST", "/actions/execute", "action=restart", "text/plain", 415,
			"unsupported_media_type");
	expect_error("POST", "/actions/execute", "{\"service\":\"orders\"}", 400, "bad_request");
	expect_error("POST", "/actions/execute", "{\"action\":\"restart\"}", 400, "bad_request");
	expect_error("POST", "/actions/execute", "{\"action\":1,\"service\":\"orders\"}", 400,
		     "bad_request");
	expect_error("POST", "/actions/execute",
		     "{\"action\":\"restart\",\"service\":\"orders\",\"colour\":1}", 400,
		     "bad_request");
	expect_error("POST", "/actions/execute",
		     "{\"action\":\"restart\",\"service\":\"orders\",\"parameters\":[1]}", 400,
		     "bad_request");
	expect_error("POST", "/actions/execute", "{\"action\":\"explode\",\"service\":\"orders\"}",
		     400, "bad_request");
	expect_error("POST", "/actions/execute",
		     "{\"action\":\"circuit_breaker\",\"service\":\"orders\","
		     "\"parameters\":{\"state\":\"ajar\"}}",
		     400, "bad_request");
	expect_error("POST", "/actions/execute",
		     "{\"action\":\"rate_limit\",\"service\":\"orders\",\"parameters\":{}}", 400,
		     "bad_request");
	/* well formed, but no agent has reported the service */
	expect_error("POST", "/actions/execute", "{\"action\":\"restart\",\"service\":\"nope\"}",
		     404, "not_found");
	/* nothing refused was recorded */
	expect_ids("/actions", (int64_t[]){ -1 });
}

/* POST /actions/execute with @body, expecting 202; returns the action's id, its status in @status. */
static int64_t execute(const char *body, char *status, size_t cap)
{
	json_t *d = expect(202, "POST", "/actions/execute", body);
	int64_t id = jget_int(d, "action_id");

	cr_assert_gt(id, 0);
	snprintf(status, cap, "%s", jget_str(d, "status"));
	json_decref(d);
	return id;
}

static json_t *action_status(int64_t id)
{
	char path[64];

	snprintf(path, sizeof(path), "/actions/%lld/status", (long long)id);
	return get_ok(path);
}

Test(http_actions, execute_without_an_executor_is_recorded, .init = setup, .fini = teardown)
{
	char status[32];
	int64_t id;
	json_t *d, *p;

	add_windows("orders", 10);
	id = execute("{\"action\":\"circuit_breaker\",\"service\":\"orders\",\"reason\":\"by hand\","
		     "\"parameters\":{\"duration\":\"2m\"}}",
		     status, sizeof(status));
	d = action_status(id);
	cr_assert_eq(jget_int(d, "action_id"), id);
	cr_assert_str_eq(jget_str(d, "action"), "circuit_breaker");
	cr_assert_str_eq(jget_str(d, "service"), "orders");
	cr_assert_str_eq(jget_str(d, "reason"), "by hand");
	cr_assert_str_eq(jget_str(d, "policy_name"), "");
	cr_assert(json_is_true(json_object_get(d, "manual")));
	p = json_object_get(d, "parameters");
	cr_assert_eq(json_integer_value(json_object_get(p, "duration")), 120,
		     "canonical: seconds, defaults filled");
	cr_assert_str_eq(jget_str(p, "state"), "open");
	cr_assert(json_is_string(json_object_get(d, "created_at")));
	/* with no executor nothing can run it: what the 202 said is what is recorded */
	cr_assert_str_eq(jget_str(d, "status"), status);
	json_decref(d);

	/* aliases are recorded by their canonical name; the reason has a default */
	id = execute("{\"action\":\"restart_pod\",\"service\":\"orders\"}", status, sizeof(status));
	d = action_status(id);
	cr_assert_str_eq(jget_str(d, "action"), "restart");
	cr_assert(json_is_string(json_object_get(d, "reason")));
	json_decref(d);
	expect_ids("/actions/history?action=restart", (int64_t[]){ id, -1 });
}

/* Polls the action until it leaves pending and running (at most 10 s); returns the record. */
static json_t *wait_done(int64_t id)
{
	for (int i = 0; i < 200; i++) {
		json_t *d = action_status(id);
		const char *s = jget_str(d, "status");

		if (strcmp(s, "pending") && strcmp(s, "running"))
			return d;
		json_decref(d);
		usleep(50 * 1000);
	}
	cr_assert_fail("action %lld still pending or running after 10 s", (long long)id);
	return NULL;
}

Test(http_actions, execute_with_an_executor_runs_it, .init = setup_executor, .fini = teardown)
{
	char status[32];
	int64_t id;
	json_t *d;

	add_windows("orders", 10);
	/* the allow-list is empty: the command is refused when it runs */
	id = execute("{\"action\":\"exec\",\"service\":\"orders\",\"reason\":\"try it\","
		     "\"parameters\":{\"command\":\"/bin/true\"}}",
		     status, sizeof(status));
	cr_assert_str_eq(status, "pending");
	d = wait_done(id);
	cr_assert_str_eq(jget_str(d, "status"), "failed");
	cr_assert_str_eq(jget_str(d, "action"), "exec");
	cr_assert_str_eq(jget_str(d, "reason"), "try it");
	cr_assert(json_is_string(json_object_get(d, "completed_at")), "set once it ended");
	cr_assert_not(json_is_null(json_object_get(d, "result")), "why it failed");
	json_decref(d);

	/* /status shows the executor */
	d = get_ok("/status");
	cr_assert(json_is_object(json_object_get(d, "executor")));
	cr_assert_geq(jget_int(json_object_get(d, "executor"), "submitted"), 1);
	cr_assert(json_is_array(json_object_get(d, "breakers")));
	json_decref(d);
	expect_ids("/actions/history?status=failed&action=exec", (int64_t[]){ id, -1 });
}
