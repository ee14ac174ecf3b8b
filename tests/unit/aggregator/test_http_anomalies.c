/*
 * The anomaly and prediction routes without a socket: a struct api_env over
 * a temporary store (anomalies written with store_anomaly_put() by the
 * test's writer, read through the per-thread readers as the daemon does)
 * and an in-memory series, requests built with req_init() and answered by
 * routes_dispatch(). Records field by field, filters, pagination, tenants,
 * every error with its envelope; then the routes that need detection, with
 * none (503) and with a real one.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/detect/detection.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/readers.h"
#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/http/routes.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "tests/lib/api_client.h"
#include "tests/lib/jget.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/series_feed.h"
#include "tests/lib/tmpdir.h"

TestSuite(http_anomalies, .fini = test_no_leaks);

#define MS_PER_S   1000ll
#define MS_PER_MIN (60 * MS_PER_S)
#define REQUEST_ID "test-request-1"

static struct {
	char dir[64];
	struct store_options so;
	struct store *writer; /* the test's: anomalies go in through it */
	struct series *series;
	struct detection *detection;
	struct api_env env;
	int64_t now_ms;
} fx;

/* ---- fixture ---- */

static void start(bool with_detection)
{
	memset(&fx, 0, sizeof(fx));
	tmpdir_make(fx.dir, sizeof(fx.dir), "http-anomalies");
	fx.so = (struct store_options){ .dir = fx.dir, .raw_hours = 24, .minute_days = 14 };
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_MSEC);
	cr_assert_eq(store_open(&fx.writer, &fx.so), 0);
	fx.series = series_new();
	if (with_detection) {
		struct detection_config c;

		detection_config_default(&c);
		c.series = fx.series;
		c.store = fx.so;
		cr_assert_eq(detection_start(&fx.detection, &c), 0);
	}
	fx.env.version = "test";
	fx.env.start_mono_ns = time_mono_ns();
	fx.env.series = fx.series;
	fx.env.detection = fx.detection;
	cr_assert_eq(readers_new(&fx.env.readers, &fx.so), 0);
}

static void setup(void)
{
	start(false);
}

static void setup_detection(void)
{
	start(true);
}

static void teardown(void)
{
	readers_free(fx.env.readers);
	detection_stop(fx.detection);
	series_free(fx.series);
	store_close(fx.writer);
	tmpdir_remove(fx.dir);
	test_no_leaks();
}

/* ---- data ---- */

struct spec {
	const char *tenant; /* NULL: default */
	const char *service;
	const char *metric;
	enum store_severity severity;
	bool open;
	int64_t started_ago_ms;
};

/* Writes one anomaly of @sp with fixed values; returns its id. */
static int64_t put(const struct spec *sp)
{
	static char evidence[] =
		"[{\"type\":\"deviation\",\"metric\":\"latency_p99\",\"value\":850.5}]";
	static char details[] = "{\"baseline\":{\"mean\":100,\"min\":80,\"max\":120},"
				"\"unit\":\"ms\"}";
	struct store_anomaly a;

	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "%s", sp->tenant ? sp->tenant : "default");
	snprintf(a.service, sizeof(a.service), "%s", sp->service);
	snprintf(a.metric, sizeof(a.metric), "%s", sp->metric);
	a.severity = sp->severity;
	a.open = sp->open;
	a.score = 0.75;
	a.confidence = 0.9;
	a.current_value = 850.5;
	a.peak_value = 900.25;
	a.expected_min = 80;
	a.expected_max = 120;
	a.expected_mean = 100;
	a.started_ms = fx.now_ms - sp->started_ago_ms;
	a.updated_ms = a.started_ms + 30 * MS_PER_S;
	a.resolved_ms = sp->open ? 0 : a.started_ms + 90 * MS_PER_S;
	a.evidence = evidence; /* borrowed: put() only reads them */
	a.details = details;
	cr_assert_eq(store_anomaly_put(fx.writer, &a), 0, "put %s/%s", sp->service, sp->metric);
	cr_assert_gt(a.id, 0);
	return a.id;
}

/* What each second of add_windows() holds. */
struct load {
	uint64_t requests;
	bool http; /* else syscalls only */
};

/* A series_feed_fn: requests and latency, or syscalls, by @arg (a struct load). */
static void fill(struct window *w, int ago, void *arg)
{
	const struct load *l = arg;

	if (l->http) {
		struct window_http *h = window_http_get(w, "GET", "/orders", 200);

		h->count = l->requests;
		hist_record_n(&h->latency_ns, (uint64_t)(10 + ago % 3) * NSEC_PER_MSEC,
			      l->requests);
	} else {
		struct window_syscall *rd = window_syscall_get(w, 0, "read");

		rd->count = 100;
		hist_record_n(&rd->latency_ns, 2000, 100);
	}
}

/* Adds @seconds windows of @service ending now (one per second): requests and latency. */
static void add_windows(const char *service, int seconds, uint64_t requests, bool http)
{
	series_feed(fx.series, service, seconds, fx.now_ms / MS_PER_S, fill,
		    &(struct load){ .requests = requests, .http = http });
}

/* ---- calling the routes ---- */

struct answer {
	unsigned status;
	json_t *doc; /* caller decrefs; NULL for an empty body */
};

struct call {
	const char *method;
	const char *path;
	const char *query;	  /* "k=v&k=v" (not encoded), or NULL */
	const char *body;	  /* or NULL */
	const char *content_type; /* NULL: application/json when there is a body */
	const char *tenant;	  /* NULL: default */
};

static struct answer dispatch(const struct call *c)
{
	char qbuf[1024], *save = NULL;
	struct answer a = { 0 };
	struct resp rp;
	struct req rq;
	json_error_t jerr;

	req_init(&rq, &fx.env, c->method, c->path, REQUEST_ID);
	rq.role = ROLE_ADMIN; /* as the gate makes it with auth off */
	if (c->tenant)
		rq.tenant = c->tenant;
	if (c->body) {
		rq.body = (const unsigned char *)c->body;
		rq.body_len = strlen(c->body);
		rq.content_type = c->content_type ? c->content_type : "application/json";
	}
	snprintf(qbuf, sizeof(qbuf), "%s", c->query ? c->query : "");
	for (char *kv = strtok_r(qbuf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		req_add_query(&rq, kv, eq);
	}
	resp_init(&rp, rq.request_id);
	routes_dispatch(&rq, &rp);
	a.status = rp.status;
	if (rp.body && rp.body_len) {
		a.doc = json_loadb(rp.body, rp.body_len, 0, &jerr);
		cr_assert_not_null(a.doc, "%s %s: not JSON: %s", c->method, c->path, jerr.text);
	}
	resp_release(&rp);
	return a;
}

/* @method @path?@query expecting 200; the document (caller decrefs). */
static json_t *ok(const char *method, const char *path, const char *query, const char *body)
{
	struct answer a = dispatch(
		&(struct call){ .method = method, .path = path, .query = query, .body = body });

	cr_assert_eq(a.status, 200, "%s %s?%s: %u", method, path, query ? query : "", a.status);
	cr_assert(json_is_object(a.doc));
	return a.doc;
}

static json_t *get(const char *path, const char *query)
{
	return ok("GET", path, query, NULL);
}

/* Checks that @a is the envelope of @status and @code; frees it. */
static void expect_envelope(struct answer a, const struct call *c, unsigned status,
			    const char *code)
{
	char what[1200];

	snprintf(what, sizeof(what), "%s %s?%s", c->method, c->path, c->query ? c->query : "");
	cr_assert_eq(a.status, status, "%s: %u, want %u", what, a.status, status);
	api_client_check_error(a.doc, status, code, what);
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(a.doc, "error"), "request_id")),
		REQUEST_ID);
	json_decref(a.doc);
}

static void expect_error(const struct call *c, unsigned status, const char *code)
{
	expect_envelope(dispatch(c), c, status, code);
}

static void expect_get_error(const char *path, const char *query, unsigned status, const char *code)
{
	expect_error(&(struct call){ .method = "GET", .path = path, .query = query }, status, code);
}

static void expect_post_error(const char *path, const char *body, const char *ctype,
			      unsigned status, const char *code)
{
	expect_error(
		&(struct call){
			.method = "POST", .path = path, .body = body, .content_type = ctype },
		status, code);
}

/* The ids of @doc's anomalies, in order, into @ids; returns how many. */
static size_t ids_of(const json_t *doc, int64_t *ids, size_t cap)
{
	return api_client_list_ids(doc, "anomalies", "id", ids, cap);
}

/* GET /anomalies?@query has exactly the ids @want (in that order, -1 ends). */
static void expect_ids(const char *query, const int64_t *want)
{
	json_t *doc = get("/anomalies", query);
	char what[640];

	snprintf(what, sizeof(what), "?%s", query ? query : "");
	api_client_expect_ids(doc, "anomalies", "id", want, what);
	json_decref(doc);
}

/* ---- GET /anomalies ---- */

Test(http_anomalies, lists_newest_first_with_every_field, .init = setup, .fini = teardown)
{
	int64_t first = put(&(struct spec){ .service = "orders",
					    .metric = "error_rate",
					    .severity = STORE_SEVERITY_WARNING,
					    .started_ago_ms = 10 * MS_PER_MIN });
	int64_t second = put(&(struct spec){ .service = "orders",
					     .metric = "latency_p99",
					     .severity = STORE_SEVERITY_CRITICAL,
					     .open = true,
					     .started_ago_ms = 5 * MS_PER_MIN });
	json_t *doc = get("/anomalies", NULL), *list = json_object_get(doc, "anomalies");
	json_t *a, *b, *range, *ev;

	cr_assert_eq(json_array_size(list), 2);
	cr_assert_eq(json_integer_value(json_object_get(doc, "count")), 2);
	cr_assert_null(json_object_get(doc, "next_cursor"), "nothing more");
	a = json_array_get(list, 0);
	b = json_array_get(list, 1);
	cr_assert_eq(json_integer_value(json_object_get(a, "id")), second);
	cr_assert_eq(json_integer_value(json_object_get(b, "id")), first);

	/* the open one */
	cr_assert_str_eq(jget_str(a, "service"), "orders");
	cr_assert_str_eq(jget_str(a, "metric"), "latency_p99");
	cr_assert_float_eq(jget_num(a, "current_value"), 850.5, 1e-9);
	range = json_object_get(a, "expected_range");
	cr_assert(json_is_object(range));
	cr_assert_float_eq(jget_num(range, "min"), 80, 1e-9);
	cr_assert_float_eq(jget_num(range, "max"), 120, 1e-9);
	cr_assert_float_eq(jget_num(range, "mean"), 100, 1e-9);
	cr_assert(json_is_true(json_object_get(a, "anomaly")));
	cr_assert_float_eq(jget_num(a, "confidence"), 0.9, 1e-9);
	cr_assert_str_eq(jget_str(a, "severity"), "critical");
	cr_assert_float_eq(jget_num(a, "score"), 0.75, 1e-9);
	cr_assert_str_eq(jget_str(a, "status"), "open");
	api_client_check_time(json_object_get(a, "started_at"), fx.now_ms - 5 * MS_PER_MIN,
			      "started_at");
	cr_assert(json_is_null(json_object_get(a, "resolved_at")), "null while open");
	api_client_check_time(json_object_get(a, "timestamp"),
			      fx.now_ms - 5 * MS_PER_MIN + 30 * MS_PER_S, "timestamp");
	cr_assert_float_eq(jget_num(a, "peak_value"), 900.25, 1e-9);
	cr_assert_float_eq(jget_num(a, "duration_s"), 30, 1e-9);
	ev = json_object_get(a, "evidence");
	cr_assert(json_is_array(ev));
	cr_assert_eq(json_array_size(ev), 1);
	cr_assert_str_eq(jget_str(json_array_get(ev, 0), "type"), "deviation");
	cr_assert_null(json_object_get(a, "details"), "details only in GET /anomalies/{id}");

	/* the resolved one */
	cr_assert_str_eq(jget_str(b, "severity"), "warning");
	cr_assert_str_eq(jget_str(b, "status"), "resolved");
	api_client_check_time(json_object_get(b, "resolved_at"),
			      fx.now_ms - 10 * MS_PER_MIN + 90 * MS_PER_S, "resolved_at");
	cr_assert_float_eq(jget_num(b, "duration_s"), 90, 1e-9);
	json_decref(doc);
}

Test(http_anomalies, an_empty_store_lists_nothing, .init = setup, .fini = teardown)
{
	json_t *doc = get("/anomalies", NULL);

	cr_assert_eq(json_array_size(json_object_get(doc, "anomalies")), 0);
	cr_assert_eq(json_integer_value(json_object_get(doc, "count")), 0);
	cr_assert_null(json_object_get(doc, "next_cursor"));
	json_decref(doc);
}

Test(http_anomalies, filters, .init = setup, .fini = teardown)
{
	int64_t o_lat = put(&(struct spec){ "default", "orders", "latency_p99", STORE_SEVERITY_INFO,
					    false, 50 * MS_PER_MIN });
	int64_t o_err = put(&(struct spec){ "default", "orders", "error_rate",
					    STORE_SEVERITY_WARNING, true, 40 * MS_PER_MIN });
	int64_t p_lat = put(&(struct spec){ "default", "payments", "latency_p99",
					    STORE_SEVERITY_CRITICAL, false, 30 * MS_PER_MIN });
	int64_t p_err = put(&(struct spec){ "default", "payments", "error_rate",
					    STORE_SEVERITY_CRITICAL, true, 20 * MS_PER_MIN });
	int64_t old = put(&(struct spec){ "default", "orders", "latency_p99",
					  STORE_SEVERITY_WARNING, false, 3 * 3600 * MS_PER_S });
	/* newest id first, whatever the start: old was written last */

	expect_ids(NULL, (int64_t[]){ old, p_err, p_lat, o_err, o_lat, -1 });
	expect_ids("service=orders", (int64_t[]){ old, o_err, o_lat, -1 });
	expect_ids("service=nope", (int64_t[]){ -1 });
	expect_ids("metric=error_rate", (int64_t[]){ p_err, o_err, -1 });
	expect_ids("service=payments&metric=latency_p99", (int64_t[]){ p_lat, -1 });
	/* severity is a minimum, with the old platform's aliases */
	expect_ids("severity=info", (int64_t[]){ old, p_err, p_lat, o_err, o_lat, -1 });
	expect_ids("severity=warning", (int64_t[]){ old, p_err, p_lat, o_err, -1 });
	expect_ids("severity=medium", (int64_t[]){ old, p_err, p_lat, o_err, -1 });
	expect_ids("severity=critical", (int64_t[]){ p_err, p_lat, -1 });
	expect_ids("severity=high", (int64_t[]){ p_err, p_lat, -1 });
	expect_ids("severity=low", (int64_t[]){ old, p_err, p_lat, o_err, o_lat, -1 });
	expect_ids("status=open", (int64_t[]){ p_err, o_err, -1 });
	expect_ids("status=active", (int64_t[]){ p_err, o_err, -1 });
	expect_ids("status=resolved", (int64_t[]){ old, p_lat, o_lat, -1 });
	expect_ids("status=all", (int64_t[]){ old, p_err, p_lat, o_err, o_lat, -1 });
	expect_ids("status=open&severity=critical&service=payments", (int64_t[]){ p_err, -1 });
	/* since/until bound the start: [since, until) */
	expect_ids("since=1h", (int64_t[]){ p_err, p_lat, o_err, o_lat, -1 });
	expect_ids("since=35m", (int64_t[]){ p_err, p_lat, -1 });
	expect_ids("until=45m", (int64_t[]){ old, o_lat, -1 });
	expect_ids("since=45m&until=25m", (int64_t[]){ p_lat, o_err, -1 });
	expect_ids("since=1m", (int64_t[]){ -1 });
}

Test(http_anomalies, pages_visit_each_anomaly_once, .init = setup, .fini = teardown)
{
	enum { N = 11, LIMIT = 4 };
	int64_t want[N], seen[N];
	char query[600];
	size_t nseen = 0, pages = 0;
	const char *cursor = NULL;
	json_t *doc = NULL;

	for (int i = 0; i < N; i++)
		want[N - 1 - i] = put(&(struct spec){ .service = i % 2 ? "orders" : "payments",
						      .metric = "latency_p99",
						      .severity = STORE_SEVERITY_WARNING,
						      .open = i % 3 == 0,
						      .started_ago_ms = (60 - i) * MS_PER_S });
	do {
		int64_t ids[LIMIT + 1];
		size_t n;

		if (cursor)
			snprintf(query, sizeof(query), "limit=%d&cursor=%s", LIMIT, cursor);
		else
			snprintf(query, sizeof(query), "limit=%d", LIMIT);
		json_decref(doc);
		doc = get("/anomalies", query);
		n = ids_of(doc, ids, LIMIT + 1);
		cr_assert_leq(n, LIMIT);
		for (size_t i = 0; i < n; i++) {
			cr_assert_lt(nseen, N, "more anomalies than there are");
			seen[nseen++] = ids[i];
		}
		cursor = json_string_value(json_object_get(doc, "next_cursor"));
		cr_assert(cursor || n < LIMIT || nseen == N, "a full page without a cursor");
		cr_assert_lt(++pages, 10);
	} while (cursor);
	json_decref(doc);
	cr_assert_eq(pages, (N + LIMIT - 1) / LIMIT);
	cr_assert_eq(nseen, N);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(seen[i], want[i], "[%zu] is %lld, want %lld", i, (long long)seen[i],
			     (long long)want[i]);

	/* a cursor with a filter: the open ones, two by two */
	doc = get("/anomalies", "status=open&limit=2");
	cr_assert_eq(json_array_size(json_object_get(doc, "anomalies")), 2);
	snprintf(query, sizeof(query), "status=open&limit=2&cursor=%s",
		 jget_str(doc, "next_cursor"));
	json_decref(doc);
	doc = get("/anomalies", query);
	cr_assert_eq(json_array_size(json_object_get(doc, "anomalies")), 2, "4 of 11 are open");
	cr_assert_null(json_object_get(doc, "next_cursor"));
	json_decref(doc);
}

Test(http_anomalies, bad_parameters_are_400, .init = setup, .fini = teardown)
{
	put(&(struct spec){ .service = "orders",
			    .metric = "latency_p99",
			    .open = true,
			    .started_ago_ms = MS_PER_MIN });
	expect_get_error("/anomalies", "severity=bad", 400, "bad_request");
	expect_get_error("/anomalies", "severity=", 400, "bad_request");
	expect_get_error("/anomalies", "status=bad", 400, "bad_request");
	expect_get_error("/anomalies", "status=OPEN", 400, "bad_request");
	expect_get_error("/anomalies", "service=a&service=b", 400, "bad_request");
	expect_get_error("/anomalies", "limit=0", 400, "bad_request");
	expect_get_error("/anomalies", "limit=1001", 400, "bad_request");
	expect_get_error("/anomalies", "limit=x", 400, "bad_request");
	expect_get_error("/anomalies", "since=x", 400, "bad_request");
	expect_get_error("/anomalies", "since=10m&until=20m", 400, "bad_request");
	/* forged cursors: not hex, hex of a non-number, of 0, of a negative */
	expect_get_error("/anomalies", "cursor=zz", 400, "bad_request");
	expect_get_error("/anomalies", "cursor=616263", 400, "bad_request");
	expect_get_error("/anomalies", "cursor=30", 400, "bad_request");
	expect_get_error("/anomalies", "cursor=2d31", 400, "bad_request");
}

Test(http_anomalies, tenants_are_isolated, .init = setup, .fini = teardown)
{
	int64_t mine = put(&(struct spec){ .service = "orders",
					   .metric = "latency_p99",
					   .open = true,
					   .started_ago_ms = MS_PER_MIN });
	int64_t theirs = put(&(struct spec){ .tenant = "acme",
					     .service = "orders",
					     .metric = "latency_p99",
					     .open = true,
					     .started_ago_ms = 2 * MS_PER_MIN });
	struct call c = { .method = "GET", .path = "/anomalies", .tenant = "acme" };
	struct answer a = dispatch(&c);
	char path[64];
	int64_t ids[4];

	cr_assert_eq(a.status, 200);
	cr_assert_eq(ids_of(a.doc, ids, 4), 1);
	cr_assert_eq(ids[0], theirs);
	json_decref(a.doc);
	c.tenant = "nobody";
	a = dispatch(&c);
	cr_assert_eq(a.status, 200);
	cr_assert_eq(ids_of(a.doc, ids, 4), 0, "another tenant sees nothing");
	json_decref(a.doc);
	c.path = "/predict";
	a = dispatch(&c);
	cr_assert_eq(a.status, 200);
	cr_assert_eq(ids_of(a.doc, ids, 4), 0, "another tenant has nothing open");
	json_decref(a.doc);
	expect_ids(NULL, (int64_t[]){ mine, -1 });

	/* nor one by id */
	snprintf(path, sizeof(path), "/anomalies/%lld", (long long)theirs);
	expect_get_error(path, NULL, 404, "not_found");
	c = (struct call){ .method = "GET", .path = path, .tenant = "acme" };
	a = dispatch(&c);
	cr_assert_eq(a.status, 200);
	json_decref(a.doc);
	snprintf(path, sizeof(path), "/anomalies/%lld", (long long)mine);
	c.path = path;
	expect_error(&c, 404, "not_found");
}

/* ---- GET /anomalies/{id} ---- */

Test(http_anomalies, one_with_details_and_similar_incidents, .init = setup, .fini = teardown)
{
	int64_t older = put(&(struct spec){ .service = "orders",
					    .metric = "latency_p99",
					    .severity = STORE_SEVERITY_CRITICAL,
					    .started_ago_ms = 3 * 3600 * MS_PER_S });
	int64_t old = put(&(struct spec){ .service = "orders",
					  .metric = "latency_p99",
					  .severity = STORE_SEVERITY_WARNING,
					  .started_ago_ms = 3600 * MS_PER_S });
	int64_t other_metric;
	int64_t other_service;
	int64_t id, later;
	json_t *doc, *details, *sim;
	char path[64];

	other_metric = put(&(struct spec){
		.service = "orders", .metric = "error_rate", .started_ago_ms = 30 * MS_PER_MIN });
	other_service = put(&(struct spec){ .service = "payments",
					    .metric = "latency_p99",
					    .started_ago_ms = 20 * MS_PER_MIN });
	id = put(&(struct spec){ .service = "orders",
				 .metric = "latency_p99",
				 .severity = STORE_SEVERITY_CRITICAL,
				 .open = true,
				 .started_ago_ms = 5 * MS_PER_MIN });
	later = put(&(struct spec){ .service = "orders",
				    .metric = "latency_p99",
				    .open = true,
				    .started_ago_ms = MS_PER_MIN });
	(void)other_metric;
	(void)other_service;
	(void)later;

	snprintf(path, sizeof(path), "/anomalies/%lld", (long long)id);
	doc = get(path, NULL);
	cr_assert_eq(json_integer_value(json_object_get(doc, "id")), id);
	cr_assert_str_eq(jget_str(doc, "service"), "orders");
	cr_assert_str_eq(jget_str(doc, "metric"), "latency_p99");
	cr_assert_str_eq(jget_str(doc, "severity"), "critical");
	cr_assert_str_eq(jget_str(doc, "status"), "open");
	cr_assert(json_is_true(json_object_get(doc, "anomaly")));
	cr_assert(json_is_null(json_object_get(doc, "resolved_at")));
	cr_assert(json_is_array(json_object_get(doc, "evidence")));
	cr_assert(json_is_object(json_object_get(doc, "expected_range")));
	details = json_object_get(doc, "details");
	cr_assert(json_is_object(details));
	cr_assert_float_eq(jget_num(json_object_get(details, "baseline"), "mean"), 100, 1e-9);
	cr_assert_str_eq(jget_str(details, "unit"), "ms", "what detection stored is kept");
	/* earlier ones of the same service and metric only, newest first */
	sim = json_object_get(details, "similar_incidents");
	cr_assert(json_is_array(sim));
	cr_assert_eq(json_array_size(sim), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(sim, 0), "id")), old);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(sim, 1), "id")), older);
	cr_assert_str_eq(jget_str(json_array_get(sim, 0), "severity"), "warning");
	cr_assert_str_eq(jget_str(json_array_get(sim, 0), "status"), "resolved");
	cr_assert_float_eq(jget_num(json_array_get(sim, 0), "peak_value"), 900.25, 1e-9);
	api_client_check_time(json_object_get(json_array_get(sim, 1), "started_at"),
			      fx.now_ms - 3 * 3600 * MS_PER_S, "similar started_at");
	json_decref(doc);

	/* the first one has none */
	snprintf(path, sizeof(path), "/anomalies/%lld", (long long)older);
	doc = get(path, NULL);
	cr_assert_eq(json_array_size(
			     json_object_get(json_object_get(doc, "details"), "similar_incidents")),
		     0);
	json_decref(doc);
}

Test(http_anomalies, unknown_or_malformed_id_is_404, .init = setup, .fini = teardown)
{
	put(&(struct spec){ .service = "orders",
			    .metric = "latency_p99",
			    .open = true,
			    .started_ago_ms = MS_PER_MIN });
	expect_get_error("/anomalies/999", NULL, 404, "not_found");
	expect_get_error("/anomalies/0", NULL, 404, "not_found");
	expect_get_error("/anomalies/-1", NULL, 404, "not_found");
	expect_get_error("/anomalies/abc", NULL, 404, "not_found");
	expect_get_error("/anomalies/1x", NULL, 404, "not_found");
	expect_get_error("/anomalies/99999999999999999999999", NULL, 404, "not_found");
	expect_get_error("/anomalies/1/more", NULL, 404, "not_found");
}

/* ---- GET /predict ---- */

Test(http_anomalies, get_predict_lists_only_open_ones, .init = setup, .fini = teardown)
{
	int64_t a = put(&(struct spec){ .service = "orders",
					.metric = "latency_p99",
					.open = true,
					.started_ago_ms = 40 * 86400 * MS_PER_S });
	int64_t b = put(&(struct spec){
		.service = "orders", .metric = "error_rate", .started_ago_ms = 5 * MS_PER_MIN });
	int64_t c = put(&(struct spec){ .service = "payments",
					.metric = "error_rate",
					.severity = STORE_SEVERITY_CRITICAL,
					.open = true,
					.started_ago_ms = 2 * MS_PER_MIN });
	json_t *doc = get("/predict", NULL);
	int64_t ids[8];

	(void)b;
	cr_assert_eq(ids_of(doc, ids, 8), 2);
	cr_assert_eq(ids[0], c);
	cr_assert_eq(ids[1], a, "open, however long ago it started");
	cr_assert_str_eq(jget_str(json_array_get(json_object_get(doc, "anomalies"), 0), "status"),
			 "open");
	json_decref(doc);
}

/* ---- without detection ---- */

Test(http_anomalies, without_detection_its_routes_are_503, .init = setup, .fini = teardown)
{
	expect_get_error("/predictions/all", NULL, 503, "unavailable");
	expect_get_error("/predictions/orders", NULL, 503, "unavailable");
	expect_get_error("/ml/status", NULL, 503, "unavailable");
	expect_post_error("/detect/manual", NULL, NULL, 503, "unavailable");
	expect_post_error("/detect/manual", "{}", NULL, 503, "unavailable");
	expect_post_error("/ml/toggle", "{}", NULL, 503, "unavailable");
}

/* ---- POST /predict and POST /forecast: bad requests ---- */

Test(http_anomalies, predict_rejects_bad_bodies, .init = setup, .fini = teardown)
{
	expect_post_error("/predict", "not json", NULL, 400, "invalid_json");
	expect_post_error("/predict", "[1]", NULL, 400, "invalid_json");
	expect_post_error("/predict", "{\"service\":\"a\",\"service\":\"b\"}", NULL, 400,
			  "invalid_json");
	expect_post_error("/predict", NULL, NULL, 400, "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\"}", "text/plain", 415,
			  "unsupported_media_type");
	expect_post_error("/predict", "{}", NULL, 400, "bad_request");
	expect_post_error("/predict", "{\"service\":7}", NULL, 400, "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"extra\":1}", NULL, 400,
			  "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"metrics\":[\"nope\"]}", NULL, 400,
			  "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"metrics\":[1]}", NULL, 400,
			  "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"metrics\":\"error_rate\"}", NULL,
			  400, "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"time_window\":\"soon\"}", NULL,
			  400, "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"time_window\":0}", NULL, 400,
			  "bad_request");
	expect_post_error("/predict", "{\"service\":\"orders\",\"time_window\":\"2d\"}", NULL, 400,
			  "bad_request");
	/* well formed, but the series has never seen it */
	expect_post_error("/predict", "{\"service\":\"orders\"}", NULL, 404, "not_found");
	expect_post_error("/predict",
			  "{\"service\":\"orders\",\"time_window\":\"1h\","
			  "\"metrics\":[\"request_rate\"]}",
			  "application/json; charset=utf-8", 404, "not_found");
}

Test(http_anomalies, forecast_rejects_bad_bodies, .init = setup, .fini = teardown)
{
	expect_post_error("/forecast", "{\"service\":", NULL, 400, "invalid_json");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\","
			  "\"periods\":10}",
			  "application/x-www-form-urlencoded", 415, "unsupported_media_type");
	expect_post_error("/forecast", "{\"metric\":\"latency_p99\",\"periods\":10}", NULL, 400,
			  "bad_request");
	expect_post_error("/forecast", "{\"service\":\"orders\",\"periods\":10}", NULL, 400,
			  "bad_request");
	expect_post_error("/forecast", "{\"service\":\"orders\",\"metric\":\"latency_p99\"}", NULL,
			  400, "bad_request");
	expect_post_error("/forecast", "{\"service\":\"orders\",\"metric\":\"cpu\",\"periods\":10}",
			  NULL, 400, "bad_request");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":0}", NULL,
			  400, "bad_request");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":5000}",
			  NULL, 400, "bad_request");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":\"9\"}",
			  NULL, 400, "bad_request");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":10,"
			  "\"step\":\"never\"}",
			  NULL, 400, "bad_request");
	/* 1000 x 1 h is past the 7 days ahead */
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":1000,"
			  "\"step\":\"1h\"}",
			  NULL, 400, "bad_request");
	expect_post_error("/forecast",
			  "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":10}",
			  NULL, 404, "not_found");
}

/* ---- POST /predict and POST /forecast on data ---- */

static void expect_curve(const json_t *curve, size_t n, size_t width, const char *what)
{
	cr_assert(json_is_array(curve), "%s: not an array", what);
	cr_assert_eq(json_array_size(curve), n, "%s: %zu points, want %zu", what,
		     json_array_size(curve), n);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(curve, i);

		cr_assert_eq(json_array_size(p), width, "%s[%zu]", what, i);
		cr_assert(json_is_string(json_array_get(p, 0)), "%s[%zu]: no time", what, i);
		for (size_t k = 1; k < width; k++)
			cr_assert(json_is_number(json_array_get(p, k)), "%s[%zu]", what, i);
	}
}

Test(http_anomalies, forecast_and_predict_from_the_series, .init = setup, .fini = teardown)
{
	json_t *doc, *preds, *p;

	add_windows("orders", 120, 50, true);
	doc = ok("POST", "/forecast", NULL,
		 "{\"service\":\"orders\",\"metric\":\"latency_p99\",\"periods\":12,"
		 "\"step\":\"5m\"}");
	cr_assert_str_eq(jget_str(doc, "service"), "orders");
	cr_assert_str_eq(jget_str(doc, "metric"), "latency_p99");
	cr_assert_gt(jget_num(doc, "current"), 5);
	cr_assert_lt(jget_num(doc, "current"), 20);
	expect_curve(json_object_get(doc, "forecast"), 12, 2, "forecast");
	expect_curve(json_object_get(doc, "interval"), 12, 3, "interval");
	cr_assert_geq(jget_num(doc, "forecasted_max"), jget_num(doc, "current"));
	cr_assert(json_is_false(json_object_get(doc, "will_breach")), "flat, far below any SLO");
	cr_assert(json_is_null(json_object_get(doc, "breach_time")));
	cr_assert_str_eq(jget_str(doc, "method"), "holt_damped");
	cr_assert_eq(json_integer_value(json_object_get(doc, "step_s")), 300);
	json_decref(doc);

	doc = ok("POST", "/forecast", NULL,
		 "{\"service\":\"orders\",\"metric\":\"request_rate\",\"periods\":3,\"step\":30}");
	cr_assert_float_eq(jget_num(doc, "current"), 50, 1, "50 requests a second");
	cr_assert_eq(json_integer_value(json_object_get(doc, "step_s")), 30);
	json_decref(doc);

	doc = ok("POST", "/predict", NULL, "{\"service\":\"orders\",\"time_window\":\"10m\"}");
	cr_assert_str_eq(jget_str(doc, "service"), "orders");
	cr_assert_str_eq(jget_str(doc, "time_window"), "10m");
	preds = json_object_get(doc, "predictions");
	cr_assert_eq(json_array_size(preds), 2, "latency_p99 and error_rate by default");
	cr_assert_str_eq(jget_str(json_array_get(preds, 0), "metric"), "latency_p99");
	cr_assert_str_eq(jget_str(json_array_get(preds, 1), "metric"), "error_rate");
	p = json_array_get(preds, 0);
	expect_curve(json_object_get(p, "predicted"), 30, 2, "predicted");
	expect_curve(json_object_get(p, "interval"), 30, 3, "interval");
	cr_assert(json_is_false(json_object_get(p, "will_breach_threshold")));
	cr_assert(json_is_null(json_object_get(p, "estimated_breach_time")));
	cr_assert(json_is_number(json_object_get(p, "confidence")));
	cr_assert(json_is_number(json_object_get(p, "threshold")));
	cr_assert_str_eq(jget_str(p, "recommendation"), "no action needed");
	json_decref(doc);

	doc = ok("POST", "/predict", NULL,
		 "{\"service\":\"orders\",\"time_window\":600,\"metrics\":[\"request_rate\"]}");
	cr_assert_eq(json_array_size(json_object_get(doc, "predictions")), 1);
	cr_assert_str_eq(jget_str(doc, "time_window"), "600s", "the window asked, not the default");
	json_decref(doc);
}

Test(http_anomalies, a_signal_without_values_is_404, .init = setup, .fini = teardown)
{
	json_t *doc;

	/* a service with syscalls and no request: no latency, no error rate */
	add_windows("worker", 30, 0, false);
	expect_post_error("/forecast",
			  "{\"service\":\"worker\",\"metric\":\"latency_p99\",\"periods\":10}",
			  NULL, 404, "not_found");
	expect_post_error("/predict", "{\"service\":\"worker\",\"metrics\":[\"latency_p99\"]}",
			  NULL, 404, "not_found");
	/* the default metrics it has no value of are left out */
	doc = ok("POST", "/predict", NULL, "{\"service\":\"worker\"}");
	cr_assert_eq(json_array_size(json_object_get(doc, "predictions")), 0);
	json_decref(doc);
	doc = ok("POST", "/predict", NULL,
		 "{\"service\":\"worker\",\"metrics\":[\"request_rate\",\"tcp_resets\"]}");
	cr_assert_eq(json_array_size(json_object_get(doc, "predictions")), 2);
	cr_assert_float_eq(
		jget_num(json_array_get(json_object_get(doc, "predictions"), 0), "current"), 0,
		1e-9, "no request at all");
	json_decref(doc);
}

/* ---- with detection running ---- */

Test(http_anomalies, ml_status_and_toggle, .init = setup_detection, .fini = teardown)
{
	json_t *doc = get("/ml/status", NULL);

	cr_assert_str_eq(jget_str(doc, "method"), "robust");
	cr_assert(json_is_true(json_object_get(doc, "enabled")));
	cr_assert_eq(json_array_size(json_object_get(doc, "methods")), 2);
	cr_assert(json_is_object(json_object_get(doc, "config")));
	cr_assert_float_eq(
		jget_num(json_object_get(json_object_get(doc, "config"), "slo"), "latency_p99_ms"),
		500, 1e-9);
	json_decref(doc);

	doc = ok("POST", "/ml/toggle", NULL, "{\"method\":\"slo\"}");
	cr_assert_str_eq(jget_str(doc, "method"), "slo");
	json_decref(doc);
	doc = get("/ml/status", NULL);
	cr_assert_str_eq(jget_str(doc, "method"), "slo", "the switch holds");
	json_decref(doc);
	doc = ok("POST", "/ml/toggle", NULL, "{}");
	cr_assert_str_eq(jget_str(doc, "method"), "robust", "{} switches to the next");
	json_decref(doc);
	doc = ok("POST", "/ml/toggle", NULL, "{\"enabled\":false}");
	cr_assert_str_eq(jget_str(doc, "method"), "robust", "enabled alone keeps the method");
	cr_assert(json_is_false(json_object_get(doc, "enabled")));
	json_decref(doc);
	doc = ok("POST", "/ml/toggle", NULL, "{\"method\":\"robust\",\"enabled\":true}");
	cr_assert(json_is_true(json_object_get(doc, "enabled")));
	json_decref(doc);

	expect_post_error("/ml/toggle", "{\"method\":\"x\"}", NULL, 400, "bad_request");
	expect_post_error("/ml/toggle", "{\"method\":1}", NULL, 400, "bad_request");
	expect_post_error("/ml/toggle", "{\"mode\":\"slo\"}", NULL, 400, "bad_request");
	expect_post_error("/ml/toggle", "nope", NULL, 400, "invalid_json");
	expect_post_error("/ml/toggle", "{}", "text/yaml", 415, "unsupported_media_type");
	doc = get("/ml/status", NULL);
	cr_assert_str_eq(jget_str(doc, "method"), "robust", "a rejected toggle changes nothing");
	json_decref(doc);
}

Test(http_anomalies, detect_manual_and_predictions, .init = setup_detection, .fini = teardown)
{
	int64_t open_id = put(&(struct spec){ .service = "orders",
					      .metric = "latency_p99",
					      .open = true,
					      .started_ago_ms = MS_PER_MIN });
	json_t *doc;
	int64_t ids[8];

	put(&(struct spec){
		.service = "orders", .metric = "error_rate", .started_ago_ms = 2 * MS_PER_MIN });
	doc = ok("POST", "/detect/manual", NULL, NULL);
	cr_assert(json_is_array(json_object_get(doc, "anomalies")));
	cr_assert(json_is_integer(json_object_get(doc, "count")));
	cr_assert_eq(ids_of(doc, ids, 8), 1, "the open ones");
	cr_assert_eq(ids[0], open_id);
	json_decref(doc);
	doc = ok("POST", "/detect/manual", NULL, "{}");
	json_decref(doc);
	expect_post_error("/detect/manual", "[]", NULL, 400, "invalid_json");

	doc = get("/ml/status", NULL);
	cr_assert_geq(json_integer_value(json_object_get(doc, "cycles")), 2);
	cr_assert(json_is_string(json_object_get(doc, "last_cycle")));
	json_decref(doc);

	doc = get("/predictions/all", NULL);
	cr_assert(json_is_array(json_object_get(doc, "predictions")));
	cr_assert_eq(json_integer_value(json_object_get(doc, "count")),
		     (json_int_t)json_array_size(json_object_get(doc, "predictions")));
	json_decref(doc);
	expect_get_error("/predictions/nope", NULL, 404, "not_found");
}
