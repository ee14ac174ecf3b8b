/*
 * The three demo services as real processes on ephemeral ports of 127.0.0.1,
 * driven over real sockets with curl and with prp-loadgen: the orders →
 * users/payments calls, and each chaos knob measured from outside.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "tests/lib/http.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"

#define SERVICE PRP_BUILD_DIR "/prp-demo-service"
#define LOADGEN PRP_BUILD_DIR "/prp-loadgen"

struct service {
	struct proc proc;
	char url[64];
};

static struct service users, payments, orders;

/* Starts one service on port 0 and reads its real address from its log. */
static void service_start(struct service *s, const char *const argv[])
{
	const char *at;
	int port = 0;

	cr_assert_eq(proc_start(&s->proc, argv), 0);
	cr_assert_eq(proc_wait_for(&s->proc, "listening on http://", 10000), 0,
		     "%s did not start: %s", argv[2], buf_str(&s->proc.err));
	at = strstr(buf_str(&s->proc.err), "listening on http://");
	cr_assert_eq(sscanf(at, "listening on http://127.0.0.1:%d", &port), 1);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", port);
}

static void start_all(void)
{
	char call_users[96], call_payments[96];

	service_start(&users,
		      (const char *const[]){ SERVICE, "--name", "users", "--port", "0", NULL });
	service_start(&payments,
		      (const char *const[]){ SERVICE, "--name", "payments", "--port", "0", NULL });
	snprintf(call_users, sizeof(call_users), "users=%s", users.url);
	snprintf(call_payments, sizeof(call_payments), "payments=%s", payments.url);
	service_start(&orders,
		      (const char *const[]){ SERVICE, "--name", "orders", "--port", "0", "--call",
					     call_users, "--call", call_payments, NULL });
}

static void stop_all(void)
{
	struct service *all[] = { &orders, &payments, &users };

	for (size_t i = 0; i < 3; i++) {
		if (all[i]->proc.pid)
			cr_expect_eq(proc_stop(&all[i]->proc, 5000), 0);
		proc_release(&all[i]->proc);
	}
	test_no_leaks();
}

TestSuite(demo, .init = start_all, .fini = stop_all, .timeout = 120);

/* One request; returns the parsed JSON answer (caller owns) and the status. */
static json_t *call(const char *method, const struct service *s, const char *path, const char *body,
		    long *status)
{
	char url[256];
	struct buf resp;
	json_t *doc;

	buf_init(&resp, 1 << 20);
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	cr_assert_eq(http_call(method, url, body, status, &resp, NULL), 0, "%s %s: no answer",
		     method, url);
	doc = json_loadb((const char *)resp.data, resp.len, 0, NULL);
	cr_assert_not_null(doc, "%s %s answered non-JSON: %s", method, url, buf_str(&resp));
	buf_release(&resp);
	return doc;
}

static json_int_t int_field(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);

	cr_assert(json_is_integer(v), "no integer '%s' in %s", key, json_dumps(doc, 0));
	return json_integer_value(v);
}

Test(demo, an_order_checks_the_customer_and_charges_a_payment)
{
	long status;
	json_t *order, *payment, *again;
	char path[64];
	json_int_t id, payment_id;

	order = call(
		"POST", &orders, "/orders",
		"{\"customer_id\": 7, \"items\": [{\"sku\": \"a\", \"qty\": 2}], \"total\": 19.5}",
		&status);
	cr_assert_eq(status, 201, "POST /orders: %ld", status);
	id = int_field(order, "id");
	payment_id = int_field(order, "payment_id");
	cr_assert_eq(int_field(order, "customer_id"), 7);

	/* the payment really exists on the payments service, for this order */
	snprintf(path, sizeof(path), "/payments/%lld", (long long)payment_id);
	payment = call("GET", &payments, path, NULL, &status);
	cr_assert_eq(status, 200);
	cr_assert_eq(int_field(payment, "order_id"), id);
	cr_assert_float_eq(json_number_value(json_object_get(payment, "amount")), 19.5, 1e-9);

	snprintf(path, sizeof(path), "/orders/%lld", (long long)id);
	again = call("GET", &orders, path, NULL, &status);
	cr_assert_eq(status, 200);
	cr_assert_eq(int_field(again, "payment_id"), payment_id);
	json_decref(order);
	json_decref(payment);
	json_decref(again);
}

Test(demo, an_unknown_customer_is_422_and_charges_nothing)
{
	long status;
	json_t *doc = call("POST", &orders, "/orders",
			   "{\"customer_id\": 999999, \"items\": [1], \"total\": 5}", &status);
	json_t *list;

	cr_assert_eq(status, 422);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
			 "unknown_customer");
	list = call("GET", &payments, "/payments/1", NULL, &status);
	cr_assert_eq(status, 404, "a payment was made for a refused order");
	json_decref(doc);
	json_decref(list);
}

Test(demo, orders_answers_502_when_users_is_down)
{
	long status;
	json_t *doc;

	cr_assert_eq(proc_stop(&users.proc, 5000), 0);
	doc = call("POST", &orders, "/orders", "{\"customer_id\": 1, \"items\": [1], \"total\": 5}",
		   &status);
	cr_assert_eq(status, 502);
	cr_assert_eq(int_field(json_object_get(doc, "error"), "status"), 502);
	json_decref(doc);
}

Test(demo, bad_input_gets_the_json_error_envelope)
{
	long status;
	json_t *doc = call("POST", &users, "/users", "{\"name\": ", &status);
	json_t *err = json_object_get(doc, "error");

	cr_assert_eq(status, 400);
	cr_assert_str_eq(json_string_value(json_object_get(err, "code")), "invalid_json");
	cr_assert(json_is_string(json_object_get(err, "request_id")));
	json_decref(doc);
	doc = call("GET", &users, "/nowhere", NULL, &status);
	cr_assert_eq(status, 404);
	json_decref(doc);
	doc = call("POST", &users, "/users", "{\"email\": \"a@b\"}", &status);
	cr_assert_eq(status, 400, "missing name accepted");
	json_decref(doc);
}

/* prp-loadgen's summary of a run against @s. */
struct load_result {
	long sent, ok, errors;
	double p50, p90, p99, max;
	double wall_s;
};

static struct load_result load(const struct service *s, const char *mix, const char *rps,
			       const char *duration)
{
	struct load_result r = { 0 };
	uint64_t t0 = time_mono_ns();
	struct proc p;
	const char *out;

	cr_assert_eq(
		proc_start(&p, (const char *const[]){ LOADGEN, "--target", s->url, "--mix", mix,
						      "--rps", rps, "--duration", duration, NULL }),
		0);
	cr_assert_eq(proc_wait_exit(&p, 60000), 0, "loadgen did not finish");
	r.wall_s = (double)(time_mono_ns() - t0) / 1e9;
	cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "loadgen failed: %s",
		  buf_str(&p.err));
	out = buf_str(&p.out);
	cr_assert_eq(sscanf(out, "sent %ld ok %ld errors %ld", &r.sent, &r.ok, &r.errors), 3,
		     "no counts in: %s", out);
	cr_assert_eq(sscanf(strstr(out, "latency_ms"), "latency_ms p50 %lf p90 %lf p99 %lf max %lf",
			    &r.p50, &r.p90, &r.p99, &r.max),
		     4, "no percentiles in: %s", out);
	proc_release(&p);
	return r;
}

static void chaos(const struct service *s, const char *json)
{
	long status;
	json_t *doc = call("POST", s, "/chaos", json, &status);

	cr_assert_eq(status, 200, "POST /chaos %s: %ld", json, status);
	json_decref(doc);
}

Test(demo, loadgen_drives_the_whole_chain_without_errors)
{
	struct load_result r = load(&orders, "orders", "50", "3");

	cr_assert_geq(r.sent, 140, "sent %ld in 3 s at 50 rps", r.sent);
	cr_assert_eq(r.errors, 0, "errors %ld", r.errors);
	cr_assert_eq(r.ok, r.sent);
}

Test(demo, error_rate_one_fails_every_request_but_chaos_itself)
{
	struct load_result r;
	long status;
	json_t *doc;

	chaos(&users, "{\"error_rate\": 1}");
	r = load(&users, "users", "50", "2");
	cr_assert_gt(r.sent, 0);
	cr_assert_eq(r.ok, 0, "ok %ld with error_rate 1", r.ok);
	cr_assert_eq(r.errors, r.sent);
	doc = call("GET", &users, "/chaos", NULL, &status);
	cr_assert_eq(status, 200, "/chaos must stay reachable");
	json_decref(doc);
	/* and orders, which calls users, fails too */
	doc = call("POST", &orders, "/orders", "{\"customer_id\": 1, \"items\": [1], \"total\": 5}",
		   &status);
	cr_assert_eq(status, 502);
	json_decref(doc);
}

Test(demo, latency_100ms_shows_in_loadgen_p50)
{
	struct load_result r;

	chaos(&users, "{\"latency_ms\": 100}");
	r = load(&users, "users", "20", "2");
	cr_assert_gt(r.sent, 30);
	cr_assert_eq(r.errors, 0);
	cr_assert_geq(r.p50, 100.0, "p50 %.2f ms", r.p50);
}

Test(demo, jitter_spreads_latency_around_the_mean)
{
	struct load_result r;

	chaos(&users, "{\"latency_ms\": 100, \"jitter_ms\": 50}");
	r = load(&users, "users", "20", "3");
	cr_assert_eq(r.errors, 0);
	/* uniform in [50, 150] ms: p50 near 100, p90 near 140 */
	cr_assert_geq(r.p50, 60.0, "p50 %.2f", r.p50);
	cr_assert_geq(r.p90, r.p50 + 15.0, "p50 %.2f p90 %.2f: no spread", r.p50, r.p90);
}

Test(demo, a_slow_request_does_not_hold_back_the_others)
{
	struct load_result r;

	/* 20 requests due within 1 s, each held 1 s: served concurrently,
	 * the run takes about 2 s; one at a time, it would take 20 s */
	chaos(&users, "{\"latency_ms\": 1000}");
	r = load(&users, "users", "20", "1");
	cr_assert_eq(r.errors, 0);
	cr_assert_geq(r.sent, 15);
	cr_assert_lt(r.max, 5000.0, "max %.0f ms: requests were served one at a time", r.max);
}

/* utime + stime of a process, in clock ticks */
static long cpu_ticks(pid_t pid)
{
	char path[64], line[1024];
	long utime = 0, stime = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	p = strrchr(line, ')');
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime,
			    &stime),
		     2);
	return utime + stime;
}

Test(demo, cpu_burn_spends_cpu_per_request)
{
	long before = cpu_ticks(users.proc.pid), after, hz = sysconf(_SC_CLK_TCK);
	struct load_result r;

	chaos(&users, "{\"cpu_burn_ms\": 50}");
	r = load(&users, "health", "10", "2");
	after = cpu_ticks(users.proc.pid);
	cr_assert_eq(r.errors, 0);
	cr_assert_geq(r.p50, 50.0, "p50 %.2f ms", r.p50);
	/* at least 20 requests x 50 ms = 1 s of CPU; allow for tick granularity */
	cr_assert_geq((double)(after - before) / (double)hz, 0.8, "cpu %.2f s for %ld requests",
		      (double)(after - before) / (double)hz, r.sent);
}

Test(demo, leak_grows_memory_until_chaos_is_cleared)
{
	long before = proc_rss_kb(users.proc.pid), grown, after, status;
	struct load_result r;
	json_t *doc;

	chaos(&users, "{\"leak_kb_per_req\": 1024}");
	r = load(&users, "health", "20", "2");
	grown = proc_rss_kb(users.proc.pid);
	cr_assert_eq(r.errors, 0);
	/* about 40 requests x 1 MiB */
	cr_assert_geq(grown - before, (r.sent - 5) * 1024, "rss %ld -> %ld kB after %ld requests",
		      before, grown, r.sent);
	doc = call("DELETE", &users, "/chaos", NULL, &status);
	cr_assert_eq(status, 200);
	json_decref(doc);
	after = proc_rss_kb(users.proc.pid);
	cr_assert_lt(after, grown - 20 * 1024, "rss %ld kB after DELETE /chaos (was %ld)", after,
		     grown);
}

Test(demo, chaos_switches_itself_off_after_its_duration)
{
	long status;
	json_t *doc;

	chaos(&users, "{\"error_rate\": 1, \"duration_s\": 1}");
	doc = call("GET", &users, "/users/1", NULL, &status);
	cr_assert_eq(status, 500);
	json_decref(doc);
	time_sleep_ns(1500 * NSEC_PER_MSEC);
	doc = call("GET", &users, "/users/1", NULL, &status);
	cr_assert_eq(status, 200, "chaos still on after its duration");
	json_decref(doc);
}
