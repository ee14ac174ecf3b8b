/*
 * The HTTP API end to end: a real server on 127.0.0.1 (ephemeral port) over
 * a temporary data directory whose store is filled through store.h with
 * crafted windows, called over real HTTP with libcurl. Every endpoint's
 * fields and exact values, every error path with its envelope, request ids.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/http/api.h"
#include "aggregator/series.h"
#include "aggregator/store/store.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/window.h"
#include "common/window_wire.h"
#include "tests/lib/api_client.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/tmpdir.h"

TestSuite(http_api, .fini = test_no_leaks);

#define MS_PER_S 1000ll

static struct {
	char dir[64];
	struct series *series;
	struct api *api;
	int64_t now_ms; /* whole second; windows end before it */
	bool ingest_running;
} fx;

/* ---- fixture: a store with orders (3 windows), payments, and users long ago ---- */

struct win_spec {
	const char *service;
	const char *host;
	int64_t end_ms;
	bool orders; /* orders' mix; else one POST /payments 201 x 20 */
};

/* Fills @ws with one window of @sp; @b borrows it. */
static void build_batch(const struct win_spec *sp, struct window_set *ws,
			struct window_batch_item *item, struct window_batch *b)
{
	struct window *w;

	window_set_init(ws);
	w = window_set_get(ws, 1);
	if (sp->orders) {
		struct window_http *ok = window_http_get(w, "GET", "/orders", 200);
		struct window_http *bad = window_http_get(w, "POST", "/orders", 500);
		struct window_syscall *rd = window_syscall_get(w, 0, "read");
		struct window_call *c = window_call_get(w, "127.0.0.1:8003");

		ok->count = 100;
		hist_record_n(&ok->latency_ns, 10 * NSEC_PER_MSEC, 100);
		bad->count = 5;
		hist_record_n(&bad->latency_ns, 50 * NSEC_PER_MSEC, 5);
		rd->count = 1000;
		rd->errors = 10;
		window_syscall_add_errno(rd, EAGAIN, 10);
		hist_record_n(&rd->latency_ns, 2000, 1000);
		snprintf(c->peer, sizeof(c->peer), "payments");
		c->count = 20;
		c->errors = 1;
		hist_record_n(&c->latency_ns, 30 * NSEC_PER_MSEC, 20);
		w->tcp.retransmits = 2;
		w->tcp.resets = 1;
	} else {
		struct window_http *h = window_http_get(w, "POST", "/payments", 201);

		h->count = 20;
		hist_record_n(&h->latency_ns, 5 * NSEC_PER_MSEC, 20);
	}
	memset(item, 0, sizeof(*item));
	snprintf(item->service, sizeof(item->service), "%s", sp->service);
	item->w = w;
	memset(b, 0, sizeof(*b));
	snprintf(b->host, sizeof(b->host), "%s", sp->host);
	b->end_ms = sp->end_ms;
	b->interval_ms = 1000;
	b->items = item;
	b->n = 1;
}

static void put_agent(struct store *st, const char *id, const char *host, int64_t last_seen_ms,
		      uint64_t spool_bytes, uint64_t spool_lost)
{
	struct store_agent a;

	memset(&a, 0, sizeof(a));
	snprintf(a.tenant, sizeof(a.tenant), "default");
	snprintf(a.agent_id, sizeof(a.agent_id), "%s", id);
	snprintf(a.host, sizeof(a.host), "%s", host);
	snprintf(a.version, sizeof(a.version), "0.1.0");
	a.first_seen_ms = fx.now_ms - 3 * 3600 * MS_PER_S;
	a.last_seen_ms = last_seen_ms;
	a.spool_bytes = spool_bytes;
	a.spool_lost = spool_lost;
	cr_assert_eq(store_agent_update(st, &a), 0);
}

static void fill_store(void)
{
	const struct win_spec specs[] = {
		{ "orders", "web-1", fx.now_ms - 30 * MS_PER_S, true },
		{ "orders", "web-1", fx.now_ms - 20 * MS_PER_S, true },
		{ "orders", "web-1", fx.now_ms - 10 * MS_PER_S, true },
		{ "payments", "web-2", fx.now_ms - 10 * MS_PER_S, false },
		{ "users", "web-2", fx.now_ms - 2 * 3600 * MS_PER_S, false },
	};
	const char *agent[] = { "agent-1", "agent-1", "agent-1", "agent-2", "agent-2" };
	const uint64_t seq[] = { 1, 2, 3, 1, 2 };
	struct store_options o = { .dir = fx.dir, .raw_hours = 24, .minute_days = 14 };
	struct store *st;

	cr_assert_eq(store_open(&st, &o), 0);
	cr_assert_eq(store_begin(st), 0);
	put_agent(st, "agent-1", "web-1", fx.now_ms - 1 * MS_PER_S, 1234, 2);
	put_agent(st, "agent-2", "web-2", fx.now_ms - 60 * MS_PER_S, 0, 0);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct window_batch_item item;
		struct window_batch b;
		struct window_set ws;

		build_batch(&specs[i], &ws, &item, &b);
		cr_assert_eq(store_put_windows(st, "default", agent[i], seq[i], &b), 0, "put %zu",
			     i);
		/* the series keeps the last 15 minutes: users' old window is not live */
		if (specs[i].end_ms > fx.now_ms - 60 * MS_PER_S)
			series_add(fx.series, "default", &b);
		window_set_release(&ws);
	}
	cr_assert_eq(store_commit(st), 0);
	store_close(st);
}

static void ingest_status(void *arg, struct api_ingest_status *out)
{
	(void)arg;
	out->running = fx.ingest_running;
	out->frames_received = 5;
	out->agents_connected = 1;
	out->rejected[0].reason = "hmac";
	out->rejected[0].count = 3;
	out->rejected[1].reason = "truncated";
	out->rejected[1].count = 1;
	out->nrejected = 2;
}

static void start_api(bool with_data)
{
	struct store_options o = { .dir = fx.dir, .raw_hours = 24, .minute_days = 14 };
	struct api_config c = {
		.bind_address = "127.0.0.1",
		.port = 0,
		.threads = 2,
		.version = "1.2.3-test",
		.store = &o,
		.ingest_status = ingest_status,
	};

	tmpdir_make(fx.dir, sizeof(fx.dir), "http-api");
	fx.now_ms = (int64_t)(time_real_ns() / NSEC_PER_SEC) * MS_PER_S;
	fx.series = series_new();
	fx.ingest_running = true;
	if (with_data)
		fill_store();
	c.series = fx.series;
	cr_assert_eq(api_start(&fx.api, &c), 0);
	cr_assert_neq(api_port(fx.api), 0);
}

static void setup(void)
{
	start_api(true);
}

static void setup_empty(void)
{
	start_api(false);
}

static void teardown(void)
{
	api_stop(fx.api);
	series_free(fx.series);
	tmpdir_remove(fx.dir);
	test_no_leaks();
}

/* ---- calling it ---- */

static struct api_answer call(const char *method, const char *path, const char *body)
{
	return api_client_call(api_port(fx.api), method, path, body, NULL);
}

/* GET @path, expecting 200; returns the document (caller decrefs). */
static json_t *get_ok(const char *path)
{
	struct api_answer a = call("GET", path, NULL);

	cr_assert_eq(a.status, 200, "GET %s: %ld", path, a.status);
	cr_assert_not_null(a.doc);
	cr_assert_str_not_empty(a.request_id);
	return a.doc;
}

/* Expects an error envelope of @status and @code whose message starts with @prefix (NULL: any). */
static void expect_error(const char *method, const char *path, const char *body, long status,
			 const char *code, const char *prefix)
{
	struct api_answer a =
		api_client_expect_error(api_port(fx.api), method, path, body, NULL, status, code);
	json_t *err = json_object_get(a.doc, "error");

	if (prefix)
		cr_assert_eq(strncmp(json_string_value(json_object_get(err, "message")), prefix,
				     strlen(prefix)),
			     0, "%s %s: message '%s'", method, path,
			     json_string_value(json_object_get(err, "message")));
	cr_assert_str_not_empty(a.request_id);
	cr_assert_str_eq(json_string_value(json_object_get(err, "request_id")), a.request_id);
	json_decref(a.doc);
}

static double num(const json_t *v, const char *path)
{
	cr_assert(json_is_number(v), "%s: not a number", path);
	return json_number_value(v);
}

static int64_t integer(const json_t *v, const char *path)
{
	cr_assert(json_is_integer(v), "%s: not an integer", path);
	return json_integer_value(v);
}

/* A latency within the histograms' 1/256 relative error. */
static void expect_ms(const json_t *v, double want, const char *what)
{
	double got = num(v, what);

	cr_assert(fabs(got - want) <= want / 256 + 1e-9, "%s: %g ms, want %g", what, got, want);
}

/* ---- endpoints ---- */

Test(http_api, health_is_healthy_with_store_and_ingest, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/health"), *c = json_object_get(d, "components");
	json_t *in = json_object_get(c, "ingest");

	cr_assert_str_eq(json_string_value(json_object_get(d, "status")), "healthy");
	cr_assert_str_eq(json_string_value(json_object_get(d, "service")), "prp-aggregator");
	cr_assert_str_eq(json_string_value(json_object_get(d, "version")), "1.2.3-test");
	cr_assert(integer(json_object_get(d, "uptime_s"), "uptime_s") >= 0);
	cr_assert(json_is_string(json_object_get(d, "timestamp")));
	cr_assert_str_eq(json_string_value(json_object_get(c, "store")), "ok");
	cr_assert_str_eq(json_string_value(json_object_get(in, "status")), "running");
	cr_assert_eq(integer(json_object_get(in, "frames_received"), "frames_received"), 5);
	cr_assert_eq(integer(json_object_get(in, "frames_rejected"), "frames_rejected"), 4);
	cr_assert_eq(json_integer_value(
			     json_object_get(json_object_get(in, "rejected_by_reason"), "hmac")),
		     3);
	cr_assert_eq(integer(json_object_get(c, "agents_connected"), "agents_connected"), 1);
	json_decref(d);
}

Test(http_api, health_is_degraded_when_ingest_stops, .init = setup, .fini = teardown)
{
	json_t *d;

	fx.ingest_running = false;
	d = get_ok("/health");
	cr_assert_str_eq(json_string_value(json_object_get(d, "status")), "degraded");
	cr_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_object_get(d, "components"), "ingest"), "status")),
		"stopped");
	json_decref(d);
}

Test(http_api, health_is_degraded_without_a_store, .init = setup_empty, .fini = teardown)
{
	json_t *d = get_ok("/health");

	cr_assert_str_eq(json_string_value(json_object_get(d, "status")), "degraded");
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(d, "components"), "store")),
		"unavailable");
	json_decref(d);
	expect_error("GET", "/services", NULL, 503, "unavailable", NULL);
	expect_error("GET", "/agents", NULL, 503, "unavailable", NULL);
}

Test(http_api, services_lists_every_service_with_hosts, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/services"), *list = json_object_get(d, "services"), *s;
	static const char *const names[] = { "orders", "payments", "users" };
	static const char *const hosts[] = { "web-1", "web-2", "web-2" };

	cr_assert_eq(json_array_size(list), 3);
	cr_assert_eq(integer(json_object_get(d, "count"), "count"), 3);
	cr_assert_eq(integer(json_object_get(d, "total"), "total"), 3);
	cr_assert_null(json_object_get(d, "next_cursor"));
	for (size_t i = 0; i < 3; i++) {
		s = json_array_get(list, i);
		cr_assert_str_eq(json_string_value(json_object_get(s, "service")), names[i]);
		cr_assert_eq(json_array_size(json_object_get(s, "hosts")), 1);
		cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "hosts"), 0)),
				 hosts[i]);
	}
	/* orders: first window ended 30 s ago, last 10 s ago */
	s = json_array_get(list, 0);
	api_client_check_time(json_object_get(s, "first_seen"), fx.now_ms - 30 * MS_PER_S,
			      "first_seen");
	api_client_check_time(json_object_get(s, "last_seen"), fx.now_ms - 10 * MS_PER_S,
			      "last_seen");
	json_decref(d);
}

Test(http_api, services_pages_with_limit_and_cursor, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/services?limit=2"), *d2;
	char path[256];

	cr_assert_eq(json_array_size(json_object_get(d, "services")), 2);
	cr_assert_eq(integer(json_object_get(d, "count"), "count"), 2);
	cr_assert(json_is_string(json_object_get(d, "next_cursor")));
	snprintf(path, sizeof(path), "/services?limit=2&cursor=%s",
		 json_string_value(json_object_get(d, "next_cursor")));
	d2 = get_ok(path);
	cr_assert_eq(json_array_size(json_object_get(d2, "services")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(d2, "services"), 0), "service")),
			 "users");
	cr_assert_null(json_object_get(d2, "next_cursor"));
	json_decref(d);
	json_decref(d2);
	expect_error("GET", "/services?cursor=nothex", NULL, 400, "bad_request", "cursor:");
}

Test(http_api, services_health_from_the_live_series, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/services/health"), *list = json_object_get(d, "services");
	json_t *o, *m, *p;

	cr_assert_eq(json_array_size(list), 2, "orders and payments are live, users is not");
	cr_assert_eq(integer(json_object_get(d, "count"), "count"), 2);
	o = json_array_get(list, 0);
	p = json_array_get(list, 1);
	cr_assert_str_eq(json_string_value(json_object_get(o, "service")), "orders");
	cr_assert_str_eq(json_string_value(json_object_get(p, "service")), "payments");
	/* 15 of 315 requests failed: 4.8%, past the 1% warning line */
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "warning");
	cr_assert_str_eq(json_string_value(json_object_get(p, "status")), "healthy");
	cr_assert_eq(integer(json_object_get(o, "anomalies_detected"), "anomalies"), 0);
	m = json_object_get(o, "metrics");
	/* the cached body has reals to 6 significant digits */
	cr_assert(fabs(num(json_object_get(m, "error_rate"), "error_rate") - 15.0 / 315) < 1e-7);
	cr_assert(num(json_object_get(m, "request_rate"), "request_rate") > 0);
	expect_ms(json_object_get(m, "latency_p50"), 10, "p50");
	expect_ms(json_object_get(m, "latency_p99"), 50, "p99");
	cr_assert_eq(integer(json_object_get(m, "tcp_retransmits"), "retransmits"), 6);
	cr_assert_eq(integer(json_object_get(m, "tcp_resets"), "resets"), 3);
	cr_assert(fabs(num(json_object_get(m, "syscall_error_rate"), "sys") - 0.01) < 1e-7);
	cr_assert(json_is_number(json_object_get(m, "latency_p95")));
	api_client_check_time(json_object_get(o, "last_seen"), fx.now_ms - 10 * MS_PER_S,
			      "last_seen");
	json_decref(d);
}

Test(http_api, services_health_is_served_from_the_cache, .init = setup, .fini = teardown)
{
	json_t *a = get_ok("/services/health"), *b = get_ok("/services/health");

	/* within a second the same rendered body, timestamp included */
	if (!strcmp(json_string_value(json_object_get(a, "timestamp")),
		    json_string_value(json_object_get(b, "timestamp"))))
		cr_assert(json_equal(a, b));
	json_decref(a);
	json_decref(b);
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
	return buf_append(userdata, p, size * n) ? 0 : size * n;
}

/* GET @path with Accept-Encoding: @enc; curl decodes. Fills the body and headers. */
static void get_encoded(const char *path, const char *enc, struct buf *body, struct buf *headers)
{
	char url[256];
	CURL *c = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", api_port(fx.api), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, enc);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, headers);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	cr_assert_eq(status, 200);
	curl_easy_cleanup(c);
}

Test(http_api, services_health_is_gzipped_for_clients_that_accept_it, .init = setup,
     .fini = teardown)
{
	struct buf plain, plain_h, gz, gz_h;
	char enc[32];
	json_t *a, *b;

	buf_init(&plain, 1 << 20);
	buf_init(&plain_h, 1 << 16);
	buf_init(&gz, 1 << 20);
	buf_init(&gz_h, 1 << 16);
	get_encoded("/services/health", "identity", &plain, &plain_h);
	get_encoded("/services/health", "gzip", &gz, &gz_h);
	http_header_value(buf_str(&plain_h), "Content-Encoding", enc, sizeof(enc));
	cr_assert_str_empty(enc);
	http_header_value(buf_str(&gz_h), "Content-Encoding", enc, sizeof(enc));
	cr_assert_str_eq(enc, "gzip");
	http_header_value(buf_str(&gz_h), "Vary", enc, sizeof(enc));
	cr_assert_str_eq(enc, "Accept-Encoding");
	a = json_loadb((const char *)plain.data, plain.len, 0, NULL);
	b = json_loadb((const char *)gz.data, gz.len, 0, NULL);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(json_array_size(json_object_get(b, "services")), 2);
	/* one render serves both, unless the second crossed into the next second */
	if (!strcmp(json_string_value(json_object_get(a, "timestamp")),
		    json_string_value(json_object_get(b, "timestamp"))))
		cr_assert(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	buf_release(&plain);
	buf_release(&plain_h);
	buf_release(&gz);
	buf_release(&gz_h);
}

Test(http_api, service_summary_has_exact_totals, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/services/orders"), *sys, *rd, *tcp;

	cr_assert_str_eq(json_string_value(json_object_get(d, "service")), "orders");
	cr_assert_eq(integer(json_object_get(d, "requests"), "requests"), 315);
	cr_assert_eq(integer(json_object_get(d, "errors"), "errors"), 15);
	cr_assert(fabs(num(json_object_get(d, "error_rate"), "error_rate") - 15.0 / 315) < 1e-12);
	/* the default range is the last 5 minutes */
	cr_assert(fabs(num(json_object_get(d, "request_rate"), "rate") - 315.0 / 300) < 1e-9);
	expect_ms(json_object_get(d, "latency_p50"), 10, "p50");
	expect_ms(json_object_get(d, "latency_p95"), 10, "p95"); /* rank 300 of 315 */
	expect_ms(json_object_get(d, "latency_p99"), 50, "p99");
	expect_ms(json_object_get(d, "latency_max"), 50, "max");
	tcp = json_object_get(d, "tcp");
	cr_assert_eq(integer(json_object_get(tcp, "retransmits"), "retransmits"), 6);
	cr_assert_eq(integer(json_object_get(tcp, "resets"), "resets"), 3);
	cr_assert_eq(integer(json_object_get(tcp, "connect_failures"), "cf"), 0);
	sys = json_object_get(d, "syscalls");
	cr_assert_eq(integer(json_object_get(sys, "count"), "sys count"), 3000);
	cr_assert_eq(integer(json_object_get(sys, "errors"), "sys errors"), 30);
	rd = json_object_get(json_object_get(sys, "by_name"), "read");
	cr_assert_eq(integer(json_object_get(rd, "count"), "read count"), 3000);
	cr_assert_eq(integer(json_object_get(json_object_get(rd, "errnos"), "EAGAIN"), "EAGAIN"),
		     30);
	expect_ms(json_object_get(rd, "latency_p50"), 0.002, "read p50");
	json_decref(d);
}

Test(http_api, service_summary_over_a_given_range, .init = setup, .fini = teardown)
{
	char path[256], since[TIME_ISO_LEN], until[TIME_ISO_LEN];
	json_t *d;

	/* [now - 25 s, now - 15 s): only the window that ended 20 s ago */
	time_format_iso((uint64_t)(fx.now_ms - 25 * MS_PER_S) * NSEC_PER_MSEC, since);
	time_format_iso((uint64_t)(fx.now_ms - 15 * MS_PER_S) * NSEC_PER_MSEC, until);
	snprintf(path, sizeof(path), "/services/orders?since=%s&until=%s", since, until);
	d = get_ok(path);
	cr_assert_eq(integer(json_object_get(d, "requests"), "requests"), 105);
	cr_assert_eq(integer(json_object_get(d, "errors"), "errors"), 5);
	cr_assert(fabs(num(json_object_get(d, "request_rate"), "rate") - 10.5) < 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(d, "since")), since);
	cr_assert_str_eq(json_string_value(json_object_get(d, "until")), until);
	json_decref(d);

	/* users reported 2 h ago: known, but nothing in the last 5 minutes */
	d = get_ok("/services/users");
	cr_assert_eq(integer(json_object_get(d, "requests"), "requests"), 0);
	cr_assert_eq(num(json_object_get(d, "error_rate"), "error_rate"), 0);
	json_decref(d);
	d = get_ok("/services/users?since=3h");
	cr_assert_eq(integer(json_object_get(d, "requests"), "requests"), 20);
	json_decref(d);
}

Test(http_api, service_series_points_sum_to_the_total, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/services/orders/series?metric=requests&since=5m&step=10s"), *pts, *pt;
	double sum = 0;
	size_t i;

	cr_assert_str_eq(json_string_value(json_object_get(d, "service")), "orders");
	cr_assert_str_eq(json_string_value(json_object_get(d, "metric")), "requests");
	cr_assert_eq(num(json_object_get(d, "step_s"), "step_s"), 10);
	pts = json_object_get(d, "points");
	cr_assert_eq(json_array_size(pts), 3, "three windows, three steps");
	json_array_foreach(pts, i, pt) {
		cr_assert_eq(json_array_size(pt), 2);
		cr_assert(json_is_string(json_array_get(pt, 0)));
		sum += num(json_array_get(pt, 1), "v");
	}
	cr_assert_eq(sum, 315);
	json_decref(d);

	/* default step over the default hour: 60 s */
	d = get_ok("/services/orders/series?metric=latency_p99");
	cr_assert_eq(num(json_object_get(d, "step_s"), "step_s"), 60);
	json_decref(d);
}

Test(http_api, topology_has_nodes_with_status_and_edges, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/topology"), *nodes = json_object_get(d, "nodes");
	json_t *edges = json_object_get(d, "edges"), *e;

	cr_assert_eq(json_array_size(nodes), 2, "users is outside the last 5 minutes");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 0), "service")),
			 "orders");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 0), "status")),
			 "warning");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 1), "service")),
			 "payments");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 1), "status")),
			 "healthy");
	cr_assert_eq(json_array_size(edges), 1);
	e = json_array_get(edges, 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "from")), "orders");
	cr_assert_str_eq(json_string_value(json_object_get(e, "to")), "payments");
	cr_assert_eq(integer(json_object_get(e, "requests"), "requests"), 60);
	cr_assert_eq(integer(json_object_get(e, "errors"), "errors"), 3);
	expect_ms(json_object_get(e, "latency_p99"), 30, "edge p99");
	json_decref(d);
}

Test(http_api, agents_with_status, .init = setup, .fini = teardown)
{
	json_t *d = get_ok("/agents"), *list = json_object_get(d, "agents"), *a, *b;

	cr_assert_eq(json_array_size(list), 2);
	cr_assert_eq(integer(json_object_get(d, "count"), "count"), 2);
	a = json_array_get(list, 0);
	b = json_array_get(list, 1);
	cr_assert_str_eq(json_string_value(json_object_get(a, "agent_id")), "agent-1");
	cr_assert_str_eq(json_string_value(json_object_get(a, "host")), "web-1");
	cr_assert_str_eq(json_string_value(json_object_get(a, "version")), "0.1.0");
	cr_assert_str_eq(json_string_value(json_object_get(a, "tenant")), "default");
	cr_assert(json_is_true(json_object_get(a, "connected")));
	api_client_check_time(json_object_get(a, "last_seen"), fx.now_ms - 1 * MS_PER_S,
			      "last_seen");
	cr_assert_eq(integer(json_object_get(a, "frames"), "frames"), 3);
	cr_assert_eq(integer(json_object_get(a, "spool_bytes"), "spool_bytes"), 1234);
	cr_assert_eq(integer(json_object_get(a, "spool_lost"), "spool_lost"), 2);
	cr_assert_str_eq(json_string_value(json_object_get(b, "agent_id")), "agent-2");
	cr_assert(json_is_false(json_object_get(b, "connected")), "silent for 60 s");
	cr_assert_eq(integer(json_object_get(b, "frames"), "frames"), 2);
	json_decref(d);

	d = get_ok("/agents?limit=1");
	cr_assert_eq(json_array_size(json_object_get(d, "agents")), 1);
	cr_assert(json_is_string(json_object_get(d, "next_cursor")));
	json_decref(d);
}

/* ---- errors ---- */

Test(http_api, unknown_service_is_404_with_envelope, .init = setup, .fini = teardown)
{
	expect_error("GET", "/services/nope", NULL, 404, "not_found", "no service 'nope'");
	expect_error("GET", "/services/nope/series?metric=requests", NULL, 404, "not_found", NULL);
	expect_error(
		"GET",
		"/services/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		NULL, 404, "not_found", NULL);
}

Test(http_api, bad_ranges_are_400_naming_the_parameter, .init = setup, .fini = teardown)
{
	expect_error("GET", "/services/orders?since=garbage", NULL, 400, "bad_request", "since:");
	expect_error("GET", "/services/orders?until=tomorrow", NULL, 400, "bad_request", "until:");
	expect_error("GET", "/services/orders?since=1h&until=2h", NULL, 400, "bad_request",
		     "since:");
	expect_error("GET", "/services/orders?since=1h&until=1h", NULL, 400, "bad_request",
		     "since:");
	expect_error("GET", "/services/orders?since=40d", NULL, 400, "bad_request", "since:");
	expect_error("GET", "/services/orders?since=1h&since=2h", NULL, 400, "bad_request",
		     "since:");
	expect_error("GET", "/topology?until=2026-02-30T00:00:00Z", NULL, 400, "bad_request",
		     "until:");
}

Test(http_api, bad_limits_are_400, .init = setup, .fini = teardown)
{
	expect_error("GET", "/agents?limit=99999", NULL, 400, "bad_request", "limit:");
	expect_error("GET", "/services?limit=0", NULL, 400, "bad_request", "limit:");
	expect_error("GET", "/services?limit=-5", NULL, 400, "bad_request", "limit:");
	expect_error("GET", "/services?limit=184467440737095516160", NULL, 400, "bad_request",
		     "limit:");
	expect_error("GET", "/services?limit=ten", NULL, 400, "bad_request", "limit:");
	expect_error("GET", "/services?limit=1&limit=2", NULL, 400, "bad_request", "limit:");
}

Test(http_api, series_parameters_are_checked, .init = setup, .fini = teardown)
{
	expect_error("GET", "/services/orders/series", NULL, 400, "bad_request", "metric:");
	expect_error("GET", "/services/orders/series?metric=bogus", NULL, 400, "bad_request",
		     "metric:");
	expect_error("GET", "/services/orders/series?metric=requests&since=31d&step=1s", NULL, 400,
		     "bad_request", "step:");
	expect_error("GET", "/services/orders/series?metric=requests&step=fast", NULL, 400,
		     "bad_request", "step:");
}

Test(http_api, garbage_query_strings, .init = setup, .fini = teardown)
{
	static const char *const paths[] = {
		"/services/orders?since=%zz",
		"/services/orders?since=%00",
		"/services/orders?since",
		"/services/orders?since=&until=",
		"/services/orders?&&&since=%FF%FE",
		"/services/orders?since=1h%00junk",
		"/services?limit=0x10",
		"/services?limit=5%20",
	};
	json_t *d;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect_error("GET", paths[i], NULL, 400, "bad_request", NULL);
	/* garbage the routes do not read is left alone */
	d = get_ok("/services?%%%&&==&x=%zz&=");
	json_decref(d);
}

Test(http_api, unknown_paths_and_methods, .init = setup, .fini = teardown)
{
	struct api_answer a;

	expect_error("GET", "/nope", NULL, 404, "not_found", NULL);
	expect_error("GET", "/", NULL, 404, "not_found", NULL);
	expect_error("GET", "/services/", NULL, 404, "not_found", NULL);
	expect_error("GET", "/services/orders/series/extra", NULL, 404, "not_found", NULL);
	expect_error("DELETE", "/nope", NULL, 404, "not_found", NULL);

	a = call("POST", "/services", "{}");
	cr_assert_eq(a.status, 405);
	cr_assert_str_eq(a.allow, "GET, HEAD, OPTIONS");
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(a.doc, "error"), "code")),
		"method_not_allowed");
	json_decref(a.doc);
	expect_error("DELETE", "/services/orders", NULL, 405, "method_not_allowed", NULL);
	expect_error("PUT", "/health", "{}", 405, "method_not_allowed", NULL);

	a = call("OPTIONS", "/services/orders/series", NULL);
	cr_assert_eq(a.status, 204);
	cr_assert_str_eq(a.allow, "GET, HEAD, OPTIONS");
	cr_assert_null(a.doc);

	a = call("HEAD", "/health", NULL);
	cr_assert_eq(a.status, 200);
	cr_assert_eq(a.body_len, 0);
	cr_assert_str_not_empty(a.request_id);
}

Test(http_api, a_body_too_large_is_413, .init = setup, .fini = teardown)
{
	size_t n = API_MAX_BODY_BYTES + 1;
	char *big = malloc(n + 1);

	memset(big, 'x', n);
	big[n] = '\0';
	expect_error("POST", "/services", big, 413, "payload_too_large", NULL);
	expect_error("POST", "/nope", big, 413, "payload_too_large", NULL);
	free(big);
	/* a body at the limit is read, and the route answers */
	big = malloc(API_MAX_BODY_BYTES + 1);
	memset(big, 'x', API_MAX_BODY_BYTES);
	big[API_MAX_BODY_BYTES] = '\0';
	expect_error("POST", "/services", big, 405, "method_not_allowed", NULL);
	free(big);
}

Test(http_api, request_ids_are_present_and_unique, .init = setup, .fini = teardown)
{
	char seen[40][80];
	const char *paths[] = { "/health", "/nope", "/services", "/services/nope" };

	for (size_t i = 0; i < 40; i++) {
		struct api_answer a = call("GET", paths[i % 4], NULL);

		cr_assert_str_not_empty(a.request_id);
		snprintf(seen[i], sizeof(seen[i]), "%s", a.request_id);
		for (size_t k = 0; k < i; k++)
			cr_assert_str_neq(seen[k], seen[i], "request id %s repeated", seen[i]);
		json_decref(a.doc);
	}
}

Test(http_api, one_access_log_line_per_request_at_debug, .init = setup, .fini = teardown)
{
	char log[8192], want[160];
	struct api_answer a;
	int fds[2];
	ssize_t n;

	cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
	log_init("test", LOG_LEVEL_DEBUG, LOG_TO_STDERR);
	log_set_fd(fds[1]);
	a = call("GET", "/services/nope?since=1h", NULL);
	/* the line is written when MHD reports the request complete, just after the answer */
	for (int i = 0; i < 200; i++) {
		n = read(fds[0], log, sizeof(log) - 1);
		if (n > 0)
			break;
		usleep(10000);
	}
	log_set_fd(2);
	log_init("test", LOG_LEVEL_INFO, LOG_TO_STDERR);
	cr_assert_gt(n, 0, "no log line");
	log[n] = '\0';
	snprintf(want, sizeof(want), "debug http: GET /services/nope 404 ");
	cr_assert_not_null(strstr(log, want), "log: %s", log);
	snprintf(want, sizeof(want), "request_id=%s\n", a.request_id);
	cr_assert_not_null(strstr(log, want), "log: %s", log);
	json_decref(a.doc);
	close(fds[0]);
	close(fds[1]);
}
