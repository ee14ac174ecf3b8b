/*
 * The route table: which role answers which path, 404/405/400 from routing,
 * /chaos, and chaos applied to every other request.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "common/timeutil.h"
#include "demo/reply.h"
#include "demo/req.h"
#include "demo/router.h"
#include "demo/shop.h"
#include "tests/lib/leakcheck.h"

TestSuite(router, .fini = test_no_leaks);

struct result {
	unsigned status;
	const char *allow;
	json_t *doc;
};

static struct result handle(struct shop *s, const char *method, const char *path, const char *body)
{
	struct result r;
	struct reply rp;
	struct req rq;

	req_init(&rq, method, path, "rid-r");
	if (body) {
		rq.body = (const unsigned char *)body;
		rq.body_len = strlen(body);
	}
	reply_init(&rp, rq.request_id);
	router_handle(s, &rq, &rp);
	r.status = rp.status;
	r.allow = rp.allow;
	r.doc = json_loadb(rp.body, rp.body_len, 0, NULL);
	cr_assert_not_null(r.doc, "%s %s: not JSON", method, path);
	reply_release(&rp);
	return r;
}

static const char *code(const struct result *r)
{
	return json_string_value(json_object_get(json_object_get(r->doc, "error"), "code"));
}

/* Expects @status (and @want_code for errors); frees the result. */
static void expect(struct shop *s, const char *method, const char *path, const char *body,
		   unsigned status, const char *want_code)
{
	struct result r = handle(s, method, path, body);

	cr_assert_eq(r.status, status, "%s %s: %u, want %u", method, path, r.status, status);
	if (want_code)
		cr_assert_str_eq(code(&r), want_code, "%s %s", method, path);
	json_decref(r.doc);
}

static struct shop *shop_of(enum shop_role role)
{
	struct shop_config cfg;

	shop_config_init(&cfg, role);
	return shop_new(&cfg);
}

#define PAYMENT "{\"order_id\": 1, \"amount\": 1, \"payment_method\": \"card\"}"

Test(router, every_role_answers_health_and_chaos)
{
	for (int role = SHOP_ORDERS; role <= SHOP_PAYMENTS; role++) {
		struct shop *s = shop_of((enum shop_role)role);

		expect(s, "GET", "/health", NULL, 200, NULL);
		expect(s, "GET", "/chaos", NULL, 200, NULL);
		shop_free(s);
	}
}

Test(router, users_routes)
{
	struct shop *s = shop_of(SHOP_USERS);

	expect(s, "GET", "/users", NULL, 200, NULL);
	expect(s, "GET", "/users/5", NULL, 200, NULL);
	expect(s, "POST", "/users", "{\"name\": \"a\", \"email\": \"a@b\"}", 201, NULL);
	expect(s, "GET", "/orders", NULL, 404, "not_found");
	expect(s, "POST", "/payments", PAYMENT, 404, "not_found");
	shop_free(s);
}

Test(router, payments_routes)
{
	struct shop *s = shop_of(SHOP_PAYMENTS);

	expect(s, "POST", "/payments", PAYMENT, 201, NULL);
	expect(s, "GET", "/payments/1", NULL, 200, NULL);
	expect(s, "GET", "/payments/2", NULL, 404, "not_found");
	expect(s, "GET", "/users/1", NULL, 404, "not_found");
	shop_free(s);
}

Test(router, orders_routes)
{
	struct shop *s = shop_of(SHOP_ORDERS);

	expect(s, "GET", "/orders", NULL, 200, NULL);
	expect(s, "GET", "/orders/1", NULL, 404, "not_found");
	/* no upstream in this shop: the route is reached and fails upstream */
	expect(s, "POST", "/orders", "{\"customer_id\": 1, \"items\": [1], \"total\": 1}", 502,
	       "upstream_failed");
	expect(s, "GET", "/users", NULL, 404, "not_found");
	shop_free(s);
}

Test(router, unknown_paths_are_404)
{
	struct shop *s = shop_of(SHOP_USERS);

	expect(s, "GET", "/", NULL, 404, "not_found");
	expect(s, "GET", "/nowhere", NULL, 404, "not_found");
	expect(s, "GET", "/users/1/extra", NULL, 404, "not_found");
	expect(s, "GET", "/usersx", NULL, 404, "not_found");
	expect(s, "GET", "/health/", NULL, 404, "not_found");
	expect(s, "GET", "/chaos/x", NULL, 404, "not_found");
	expect(s, "GET", "/\xff\x01", NULL, 404, "not_found");
	shop_free(s);
}

static void expect_405(struct shop *s, const char *method, const char *path, const char *allow)
{
	struct result r = handle(s, method, path, NULL);

	cr_assert_eq(r.status, 405, "%s %s: %u", method, path, r.status);
	cr_assert_str_eq(code(&r), "method_not_allowed");
	cr_assert_not_null(r.allow);
	cr_assert_str_eq(r.allow, allow);
	json_decref(r.doc);
}

Test(router, other_methods_are_405_with_allow)
{
	struct shop *u = shop_of(SHOP_USERS), *p = shop_of(SHOP_PAYMENTS);

	expect_405(u, "DELETE", "/users", "GET, POST");
	expect_405(u, "POST", "/users/1", "GET");
	expect_405(u, "PUT", "/users/abc", "GET");
	expect_405(u, "POST", "/health", "GET");
	expect_405(u, "PUT", "/chaos", "GET, POST, DELETE");
	expect_405(p, "GET", "/payments", "POST");
	expect_405(p, "DELETE", "/payments/1", "GET");
	shop_free(u);
	shop_free(p);
}

Test(router, bad_ids_are_400_invalid_id)
{
	static const char *const bad[] = { "/users/abc",
					   "/users/0",
					   "/users/-1",
					   "/users/",
					   "/users/1.5",
					   "/users/99999999999999999999",
					   "/users/9223372036854775808",
					   "/users/1x" };
	struct shop *s = shop_of(SHOP_USERS);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(s, "GET", bad[i], NULL, 400, "invalid_id");
	expect(s, "GET", "/users/9223372036854775807", NULL, 404, "not_found");
	shop_free(s);
}

Test(router, errors_carry_the_request_id)
{
	struct shop *s = shop_of(SHOP_USERS);
	struct result r = handle(s, "GET", "/nowhere", NULL);

	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(r.doc, "error"), "request_id")),
		"rid-r");
	json_decref(r.doc);
	shop_free(s);
}

Test(router, chaos_post_get_delete)
{
	struct shop *s = shop_of(SHOP_USERS);
	struct result r = handle(s, "POST", "/chaos", "{\"latency_ms\": 1, \"duration_s\": 60}");

	cr_assert_eq(r.status, 200);
	cr_assert(json_is_true(json_object_get(r.doc, "active")));
	cr_assert_eq(json_integer_value(json_object_get(r.doc, "remaining_s")), 60);
	json_decref(r.doc);
	r = handle(s, "GET", "/chaos", NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(json_integer_value(json_object_get(r.doc, "latency_ms")), 1);
	json_decref(r.doc);
	r = handle(s, "DELETE", "/chaos", NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(json_is_false(json_object_get(r.doc, "active")));
	json_decref(r.doc);
	shop_free(s);
}

Test(router, chaos_post_refuses_bad_bodies)
{
	struct shop *s = shop_of(SHOP_USERS);

	expect(s, "POST", "/chaos", "{\"latency_ms\": ", 400, "invalid_json");
	expect(s, "POST", "/chaos", NULL, 400, "invalid_json");
	expect(s, "POST", "/chaos", "{\"error_rate\": 2}", 400, "invalid_field");
	expect(s, "POST", "/chaos", "{\"error_rate\": \"1\"}", 400, "invalid_field");
	expect(s, "POST", "/chaos", "{\"boom\": 1}", 400, "invalid_field");
	expect(s, "GET", "/health", NULL, 200, NULL); /* and nothing was set */
	shop_free(s);
}

Test(router, error_rate_one_fails_everything_but_chaos)
{
	struct shop *s = shop_of(SHOP_USERS);

	expect(s, "POST", "/chaos", "{\"error_rate\": 1}", 200, NULL);
	expect(s, "GET", "/health", NULL, 500, "chaos_injected");
	expect(s, "GET", "/users", NULL, 500, "chaos_injected");
	expect(s, "GET", "/users/1", NULL, 500, "chaos_injected");
	expect(s, "POST", "/users", "{\"name\": \"a\", \"email\": \"a@b\"}", 500, "chaos_injected");
	expect(s, "GET", "/nowhere", NULL, 500, "chaos_injected");
	expect(s, "GET", "/chaos", NULL, 200, NULL);
	expect(s, "DELETE", "/chaos", NULL, 200, NULL);
	expect(s, "GET", "/users/1", NULL, 200, NULL);
	shop_free(s);
}

Test(router, error_rate_zero_answers_normally)
{
	struct shop *s = shop_of(SHOP_USERS);

	expect(s, "POST", "/chaos", "{\"error_rate\": 0}", 200, NULL);
	for (int i = 0; i < 100; i++)
		expect(s, "GET", "/users/1", NULL, 200, NULL);
	shop_free(s);
}

Test(router, latency_applies_to_health_but_not_to_chaos)
{
	struct shop *s = shop_of(SHOP_PAYMENTS);
	uint64_t t0;

	expect(s, "POST", "/chaos", "{\"latency_ms\": 100}", 200, NULL);
	t0 = time_mono_ns();
	expect(s, "GET", "/health", NULL, 200, NULL);
	cr_assert_geq(time_mono_ns() - t0, 100 * NSEC_PER_MSEC);
	t0 = time_mono_ns();
	expect(s, "GET", "/chaos", NULL, 200, NULL);
	cr_assert_lt(time_mono_ns() - t0, 50 * NSEC_PER_MSEC);
	shop_free(s);
}

Test(router, leak_is_freed_by_delete)
{
	struct shop *s = shop_of(SHOP_USERS);
	struct result r;

	expect(s, "POST", "/chaos", "{\"leak_kb_per_req\": 32}", 200, NULL);
	for (int i = 0; i < 4; i++)
		expect(s, "GET", "/health", NULL, 200, NULL);
	r = handle(s, "GET", "/chaos", NULL);
	cr_assert_eq(json_integer_value(json_object_get(r.doc, "leaked_kb")), 128);
	json_decref(r.doc);
	r = handle(s, "DELETE", "/chaos", NULL);
	cr_assert_eq(json_integer_value(json_object_get(r.doc, "leaked_kb")), 0);
	json_decref(r.doc);
	cr_assert_eq(chaos_leaked_bytes(&s->chaos), 0);
	shop_free(s);
}

Test(router, body_too_large_is_413)
{
	struct reply rp;
	json_t *doc;

	reply_init(&rp, "rid");
	router_body_too_large(&rp);
	cr_assert_eq(rp.status, 413);
	doc = json_loadb(rp.body, rp.body_len, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
			 "body_too_large");
	json_decref(doc);
	reply_release(&rp);
}
