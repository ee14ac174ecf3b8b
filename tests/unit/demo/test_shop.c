/*
 * The handlers of the three roles, called directly; orders talks to a fake
 * users and payments through struct upstream.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "demo/reply.h"
#include "demo/req.h"
#include "demo/shop.h"
#include "demo/upstream.h"
#include "tests/lib/leakcheck.h"

TestSuite(shop, .fini = test_no_leaks);

/* ---- fake upstream ---- */

struct fake_service {
	int fail;	  /* a negative errno: no response at all */
	long status;	  /* otherwise this status */
	const char *body; /* and this body */
	int calls;
	char last_method[8];
	char last_path[64];
	char last_body[512];
	char last_request_id[REQ_ID_MAX + 1];
};

struct fake {
	struct fake_service users;
	struct fake_service payments;
};

static int fake_call(void *ctx, const struct upstream_request *rq, struct upstream_response *rs,
		     char *err, size_t errlen)
{
	struct fake *f = ctx;
	struct fake_service *svc = !strcmp(rq->service, "users") ? &f->users : &f->payments;

	svc->calls++;
	snprintf(svc->last_method, sizeof(svc->last_method), "%s", rq->method);
	snprintf(svc->last_path, sizeof(svc->last_path), "%s", rq->path);
	snprintf(svc->last_body, sizeof(svc->last_body), "%s", rq->body ? rq->body : "");
	snprintf(svc->last_request_id, sizeof(svc->last_request_id), "%s",
		 rq->request_id ? rq->request_id : "");
	if (svc->fail) {
		snprintf(err, errlen, "%s %s: Connection refused", rq->method, rq->path);
		return svc->fail;
	}
	rs->status = svc->status;
	cr_assert_eq(buf_append_str(&rs->body, svc->body ? svc->body : ""), 0);
	return 0;
}

/* A healthy users and payments. */
static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->users.status = 200;
	f->users.body = "{\"id\":7}";
	f->payments.status = 201;
	f->payments.body = "{\"id\":77,\"status\":\"completed\"}";
}

/* ---- helpers ---- */

static struct shop *shop_of(enum shop_role role, struct fake *f)
{
	struct shop_config cfg;

	shop_config_init(&cfg, role);
	if (f)
		cfg.upstream = (struct upstream){ .call = fake_call, .ctx = f };
	return shop_new(&cfg);
}

struct result {
	unsigned status;
	json_t *doc;
};

static struct result run(struct shop *s, shop_handler_fn *fn, const char *method, uint64_t id,
			 const char *query_limit, const char *body)
{
	struct result r;
	struct reply rp;
	struct req rq;

	req_init(&rq, method, "/x", "rid-9");
	rq.id = id;
	if (query_limit)
		cr_assert_eq(req_add_query(&rq, "limit", query_limit), 0);
	if (body) {
		rq.body = (const unsigned char *)body;
		rq.body_len = strlen(body);
	}
	reply_init(&rp, rq.request_id);
	fn(s, &rq, &rp);
	r.status = rp.status;
	r.doc = json_loadb(rp.body, rp.body_len, 0, NULL);
	cr_assert_not_null(r.doc, "not JSON: %s", rp.body);
	reply_release(&rp);
	return r;
}

static struct result post(struct shop *s, shop_handler_fn *fn, const char *body)
{
	return run(s, fn, "POST", 0, NULL, body);
}

static struct result get(struct shop *s, shop_handler_fn *fn, uint64_t id)
{
	return run(s, fn, "GET", id, NULL, NULL);
}

static const char *code(const struct result *r)
{
	return json_string_value(json_object_get(json_object_get(r->doc, "error"), "code"));
}

static const char *message(const struct result *r)
{
	return json_string_value(json_object_get(json_object_get(r->doc, "error"), "message"));
}

static json_int_t ifield(const struct result *r, const char *key)
{
	json_t *v = json_object_get(r->doc, key);

	cr_assert(json_is_integer(v), "no integer '%s'", key);
	return json_integer_value(v);
}

static const char *sfield(const struct result *r, const char *key)
{
	return json_string_value(json_object_get(r->doc, key));
}

/* Expects @status and, for errors, @want_code; frees the result. */
static void expect(struct result r, unsigned status, const char *want_code)
{
	cr_assert_eq(r.status, status, "status %u, want %u: %s", r.status, status,
		     json_dumps(r.doc, 0));
	if (want_code) {
		cr_assert_str_eq(code(&r), want_code);
		cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.doc, "error"),
								   "request_id")),
				 "rid-9");
	}
	json_decref(r.doc);
}

/* ---- roles and health ---- */

Test(shop, role_names_round_trip)
{
	enum shop_role role;

	cr_assert_eq(shop_role_parse("orders", &role), 0);
	cr_assert_eq(role, SHOP_ORDERS);
	cr_assert_eq(shop_role_parse("users", &role), 0);
	cr_assert_eq(role, SHOP_USERS);
	cr_assert_eq(shop_role_parse("payments", &role), 0);
	cr_assert_str_eq(shop_role_name(role), "payments");
	cr_assert_eq(shop_role_parse("Users", &role), -EINVAL);
	cr_assert_eq(shop_role_parse("", &role), -EINVAL);
}

Test(shop, health_names_the_service)
{
	struct shop *s = shop_of(SHOP_PAYMENTS, NULL);
	struct result r = get(s, shop_health, 0);

	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(sfield(&r, "status"), "healthy");
	cr_assert_str_eq(sfield(&r, "service"), "payments");
	cr_assert_geq(ifield(&r, "uptime_s"), 0);
	json_decref(r.doc);
	shop_free(s);
}

/* ---- users ---- */

Test(shop, users_start_with_ids_1_to_1000)
{
	struct shop *s = shop_of(SHOP_USERS, NULL);
	struct result r = get(s, shop_get, 1);

	cr_assert_eq(r.status, 200);
	cr_assert_eq(ifield(&r, "id"), 1);
	cr_assert_str_eq(sfield(&r, "name"), "User 1");
	cr_assert_str_eq(sfield(&r, "email"), "user1@example.com");
	cr_assert_str_eq(sfield(&r, "role"), "customer");
	cr_assert_eq(strlen(sfield(&r, "created_at")), 24, "RFC 3339 with ms");
	cr_assert_eq(sfield(&r, "created_at")[23], 'Z');
	json_decref(r.doc);
	r = get(s, shop_get, 1000);
	cr_assert_str_eq(sfield(&r, "name"), "User 1000");
	json_decref(r.doc);
	expect(get(s, shop_get, 1001), 404, "not_found");
	shop_free(s);
}

Test(shop, other_roles_start_empty)
{
	struct shop *o = shop_of(SHOP_ORDERS, NULL), *p = shop_of(SHOP_PAYMENTS, NULL);
	struct result r = get(o, shop_list, 0);

	cr_assert_eq(ifield(&r, "count"), 0);
	cr_assert_eq(json_array_size(json_object_get(r.doc, "orders")), 0);
	json_decref(r.doc);
	expect(get(p, shop_get, 1), 404, "not_found");
	shop_free(o);
	shop_free(p);
}

Test(shop, list_defaults_to_100_newest_first)
{
	struct shop *s = shop_of(SHOP_USERS, NULL);
	struct result r = get(s, shop_list, 0);
	json_t *users = json_object_get(r.doc, "users");

	cr_assert_eq(r.status, 200);
	cr_assert_eq(ifield(&r, "count"), 100);
	cr_assert_eq(json_array_size(users), 100);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(users, 0), "id")), 1000);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(users, 99), "id")), 901);
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, list_limit_is_checked)
{
	struct shop *s = shop_of(SHOP_USERS, NULL);
	struct result r = run(s, shop_list, "GET", 0, "5", NULL);

	cr_assert_eq(ifield(&r, "count"), 5);
	json_decref(r.doc);
	r = run(s, shop_list, "GET", 0, "1000", NULL);
	cr_assert_eq(ifield(&r, "count"), 1000);
	json_decref(r.doc);
	r = run(s, shop_list, "GET", 0, "1", NULL);
	cr_assert_eq(ifield(&r, "count"), 1);
	json_decref(r.doc);
	expect(run(s, shop_list, "GET", 0, "0", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "1001", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "-1", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "abc", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "5x", NULL), 400, "invalid_query");
	expect(run(s, shop_list, "GET", 0, "99999999999999999999999", NULL), 400, "invalid_query");
	shop_free(s);
}

Test(shop, users_create_answers_201_and_stores_the_user)
{
	struct shop *s = shop_of(SHOP_USERS, NULL);
	struct result r =
		post(s, shop_users_create, "{\"name\": \"Ada\", \"email\": \"ada@example.com\"}");
	json_t *list;

	cr_assert_eq(r.status, 201);
	cr_assert_eq(ifield(&r, "id"), 1001);
	cr_assert_str_eq(sfield(&r, "role"), "customer", "role defaults to customer");
	cr_assert_not_null(sfield(&r, "created_at"));
	json_decref(r.doc);
	r = get(s, shop_get, 1001);
	cr_assert_str_eq(sfield(&r, "name"), "Ada");
	json_decref(r.doc);
	r = run(s, shop_list, "GET", 0, "1", NULL);
	list = json_object_get(r.doc, "users");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(list, 0), "id")), 1001);
	json_decref(r.doc);
	r = post(s, shop_users_create,
		 "{\"name\": \"Bob\", \"email\": \"b@x\", \"role\": \"admin\"}");
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(sfield(&r, "role"), "admin");
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, users_create_validates_every_field)
{
	struct shop *s = shop_of(SHOP_USERS, NULL);
	struct result r;
	char body[1024];

	expect(post(s, shop_users_create, "{\"name\": "), 400, "invalid_json");
	expect(post(s, shop_users_create, ""), 400, "invalid_json");
	expect(post(s, shop_users_create, "[1]"), 400, "invalid_json");
	expect(post(s, shop_users_create, "{\"name\":\"a\",\"name\":\"b\",\"email\":\"a@b\"}"), 400,
	       "invalid_json");
	r = post(s, shop_users_create, "{\"email\": \"a@b\"}");
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(code(&r), "invalid_field");
	cr_assert_str_eq(message(&r), "field 'name' is required");
	json_decref(r.doc);
	expect(post(s, shop_users_create, "{\"name\": \"\", \"email\": \"a@b\"}"), 400,
	       "invalid_field");
	expect(post(s, shop_users_create, "{\"name\": 5, \"email\": \"a@b\"}"), 400,
	       "invalid_field");
	expect(post(s, shop_users_create, "{\"name\": \"A\"}"), 400, "invalid_field");
	expect(post(s, shop_users_create, "{\"name\": \"A\", \"email\": 1}"), 400, "invalid_field");
	r = post(s, shop_users_create, "{\"name\": \"A\", \"email\": \"nope\"}");
	cr_assert_str_eq(message(&r), "field 'email' must contain '@'");
	json_decref(r.doc);
	expect(post(s, shop_users_create, "{\"name\": \"A\", \"email\": \"a@b\", \"role\": 1}"),
	       400, "invalid_field");
	expect(post(s, shop_users_create, "{\"name\": \"A\", \"email\": \"a@b\", \"role\": \"\"}"),
	       400, "invalid_field");
	expect(post(s, shop_users_create, "{\"name\": \"A\", \"email\": \"a@b\", \"x\": 1}"), 400,
	       "invalid_field");
	snprintf(body, sizeof(body), "{\"name\": \"%0*d\", \"email\": \"a@b\"}", 300, 0);
	expect(post(s, shop_users_create, body), 400, "invalid_field");
	r = get(s, shop_list, 0);
	cr_assert_eq(json_integer_value(json_object_get(
			     json_array_get(json_object_get(r.doc, "users"), 0), "id")),
		     1000, "a refused user was stored");
	json_decref(r.doc);
	shop_free(s);
}

/* ---- payments ---- */

Test(shop, payments_create_records_a_completed_payment)
{
	struct shop *s = shop_of(SHOP_PAYMENTS, NULL);
	struct result r =
		post(s, shop_payments_create,
		     "{\"order_id\": 4, \"amount\": 19.99, \"payment_method\": \"card\"}");

	cr_assert_eq(r.status, 201);
	cr_assert_eq(ifield(&r, "id"), 1);
	cr_assert_eq(ifield(&r, "order_id"), 4);
	cr_assert_float_eq(json_number_value(json_object_get(r.doc, "amount")), 19.99, 1e-9);
	cr_assert_str_eq(sfield(&r, "status"), "completed");
	cr_assert_str_eq(sfield(&r, "payment_method"), "card");
	json_decref(r.doc);
	r = get(s, shop_get, 1);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(ifield(&r, "order_id"), 4);
	json_decref(r.doc);
	r = post(s, shop_payments_create,
		 "{\"order_id\": 5, \"amount\": 0, \"payment_method\": \"paypal\"}");
	cr_assert_eq(r.status, 201, "a zero amount is fine");
	cr_assert(json_is_integer(json_object_get(r.doc, "amount")), "amount keeps its type");
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, payments_create_validates_every_field)
{
	static const char *const bad[] = {
		"{\"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": 0, \"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": -3, \"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": \"1\", \"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": 1.5, \"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": 1e20, \"amount\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": 1, \"payment_method\": \"card\"}",
		"{\"order_id\": 1, \"amount\": -0.01, \"payment_method\": \"card\"}",
		"{\"order_id\": 1, \"amount\": \"5\", \"payment_method\": \"card\"}",
		"{\"order_id\": 1, \"amount\": 1e13, \"payment_method\": \"card\"}",
		"{\"order_id\": 1, \"amount\": 1}",
		"{\"order_id\": 1, \"amount\": 1, \"payment_method\": \"\"}",
		"{\"order_id\": 1, \"amount\": 1, \"payment_method\": [\"card\"]}",
		"{\"order_id\": 1, \"amount\": 1, \"payment_method\": \"card\", \"extra\": 0}",
	};
	struct shop *s = shop_of(SHOP_PAYMENTS, NULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(post(s, shop_payments_create, bad[i]), 400, "invalid_field");
	expect(post(s, shop_payments_create, "{\"order_id\": 1e400}"), 400, "invalid_json");
	expect(post(s, shop_payments_create, "{\"order_id\": 123456789012345678901234}"), 400,
	       "invalid_json");
	expect(get(s, shop_get, 1), 404, "not_found");
	shop_free(s);
}

/* ---- orders ---- */

#define ORDER "{\"customer_id\": 7, \"items\": [{\"sku\": \"a\", \"qty\": 2}], \"total\": 19.5}"

Test(shop, an_order_checks_the_customer_charges_and_is_stored)
{
	struct fake f;
	struct shop *s;
	struct result r;
	json_t *charge;

	fake_init(&f);
	s = shop_of(SHOP_ORDERS, &f);
	r = post(s, shop_orders_create, ORDER);
	cr_assert_eq(r.status, 201, "%s", json_dumps(r.doc, 0));
	cr_assert_eq(ifield(&r, "id"), 1);
	cr_assert_eq(ifield(&r, "customer_id"), 7);
	cr_assert_eq(ifield(&r, "payment_id"), 77);
	cr_assert_str_eq(sfield(&r, "status"), "paid");
	cr_assert_float_eq(json_number_value(json_object_get(r.doc, "total")), 19.5, 1e-12);
	cr_assert_eq(json_array_size(json_object_get(r.doc, "items")), 1);
	cr_assert_not_null(sfield(&r, "created_at"));
	json_decref(r.doc);

	cr_assert_eq(f.users.calls, 1);
	cr_assert_str_eq(f.users.last_method, "GET");
	cr_assert_str_eq(f.users.last_path, "/users/7");
	cr_assert_str_eq(f.users.last_request_id, "rid-9", "the request id travels along");
	cr_assert_eq(f.payments.calls, 1);
	cr_assert_str_eq(f.payments.last_method, "POST");
	cr_assert_str_eq(f.payments.last_path, "/payments");
	charge = json_loads(f.payments.last_body, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(charge, "order_id")), 1);
	cr_assert_float_eq(json_number_value(json_object_get(charge, "amount")), 19.5, 1e-12);
	cr_assert_str_eq(json_string_value(json_object_get(charge, "payment_method")), "card");
	json_decref(charge);

	r = get(s, shop_get, 1);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(ifield(&r, "payment_id"), 77);
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, an_order_passes_its_payment_method_on)
{
	struct fake f;
	struct shop *s;

	fake_init(&f);
	s = shop_of(SHOP_ORDERS, &f);
	expect(post(s, shop_orders_create,
		    "{\"customer_id\": 1, \"items\": [1], \"total\": 3, \"payment_method\": \"paypal\"}"),
	       201, NULL);
	cr_assert_not_null(strstr(f.payments.last_body, "\"payment_method\":\"paypal\""), "%s",
			   f.payments.last_body);
	shop_free(s);
}

Test(shop, an_unknown_customer_is_422_and_charges_nothing)
{
	struct fake f;
	struct shop *s;

	fake_init(&f);
	f.users.status = 404;
	f.users.body = "{\"error\":{}}";
	s = shop_of(SHOP_ORDERS, &f);
	expect(post(s, shop_orders_create, ORDER), 422, "unknown_customer");
	cr_assert_eq(f.payments.calls, 0);
	expect(get(s, shop_get, 1), 404, "not_found");
	shop_free(s);
}

Test(shop, users_down_is_502_naming_users)
{
	struct fake f;
	struct shop *s;
	struct result r;

	fake_init(&f);
	f.users.fail = -ECONNREFUSED;
	s = shop_of(SHOP_ORDERS, &f);
	r = post(s, shop_orders_create, ORDER);
	cr_assert_eq(r.status, 502);
	cr_assert_str_eq(code(&r), "upstream_failed");
	cr_assert_not_null(strstr(message(&r), "users"), "%s", message(&r));
	json_decref(r.doc);
	cr_assert_eq(f.payments.calls, 0);
	shop_free(s);
}

Test(shop, users_failing_with_5xx_is_502)
{
	struct fake f;
	struct shop *s;

	fake_init(&f);
	f.users.status = 500;
	s = shop_of(SHOP_ORDERS, &f);
	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	f.users.status = 400;
	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	cr_assert_eq(f.payments.calls, 0);
	shop_free(s);
}

Test(shop, a_failed_payment_is_502_and_the_order_is_not_stored)
{
	struct fake f;
	struct shop *s;
	struct result r;

	fake_init(&f);
	f.payments.fail = -ETIMEDOUT;
	s = shop_of(SHOP_ORDERS, &f);
	r = post(s, shop_orders_create, ORDER);
	cr_assert_eq(r.status, 502);
	cr_assert_str_eq(code(&r), "upstream_failed");
	cr_assert_not_null(strstr(message(&r), "payments"), "%s", message(&r));
	json_decref(r.doc);
	expect(get(s, shop_get, 1), 404, "not_found");
	r = get(s, shop_list, 0);
	cr_assert_eq(ifield(&r, "count"), 0);
	json_decref(r.doc);

	f.payments.fail = 0;
	f.payments.status = 500;
	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	f.payments.status = 201;
	f.payments.body = "{\"status\":\"completed\"}";
	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	f.payments.body = "not json";
	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	r = get(s, shop_list, 0);
	cr_assert_eq(ifield(&r, "count"), 0);
	json_decref(r.doc);

	/* and once payments works again, ids keep increasing past the failed ones */
	f.payments.body = "{\"id\":3}";
	r = post(s, shop_orders_create, ORDER);
	cr_assert_eq(r.status, 201);
	cr_assert_eq(ifield(&r, "id"), 5);
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, an_order_without_upstream_is_502)
{
	struct shop *s = shop_of(SHOP_ORDERS, NULL);

	expect(post(s, shop_orders_create, ORDER), 502, "upstream_failed");
	shop_free(s);
}

Test(shop, orders_create_validates_every_field_before_calling_anyone)
{
	static const char *const bad[] = {
		"{\"items\": [1], \"total\": 1}",
		"{\"customer_id\": 0, \"items\": [1], \"total\": 1}",
		"{\"customer_id\": -1, \"items\": [1], \"total\": 1}",
		"{\"customer_id\": \"7\", \"items\": [1], \"total\": 1}",
		"{\"customer_id\": 7.0, \"items\": [1], \"total\": 1}",
		"{\"customer_id\": 7, \"total\": 1}",
		"{\"customer_id\": 7, \"items\": [], \"total\": 1}",
		"{\"customer_id\": 7, \"items\": {}, \"total\": 1}",
		"{\"customer_id\": 7, \"items\": \"a\", \"total\": 1}",
		"{\"customer_id\": 7, \"items\": [1]}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": -1}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": \"1\"}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": 1e200}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": 1, \"payment_method\": 3}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": 1, \"payment_method\": \"\"}",
		"{\"customer_id\": 7, \"items\": [1], \"total\": 1, \"coupon\": \"x\"}",
	};
	struct fake f;
	struct shop *s;

	fake_init(&f);
	s = shop_of(SHOP_ORDERS, &f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(post(s, shop_orders_create, bad[i]), 400, "invalid_field");
	expect(post(s, shop_orders_create, "{\"customer_id\": 7,"), 400, "invalid_json");
	expect(post(s, shop_orders_create, "null"), 400, "invalid_json");
	cr_assert_eq(f.users.calls + f.payments.calls, 0);
	shop_free(s);
}

/* ---- bounds ---- */

Test(shop, stores_are_bounded_and_evict_the_oldest)
{
	struct shop_config cfg;
	struct shop *s;
	struct result r;

	shop_config_init(&cfg, SHOP_PAYMENTS);
	cr_assert_eq(cfg.store_max_records, SHOP_STORE_MAX_RECORDS);
	cfg.store_max_records = 3;
	s = shop_new(&cfg);
	for (int i = 0; i < 5; i++)
		expect(post(s, shop_payments_create,
			    "{\"order_id\": 1, \"amount\": 1, \"payment_method\": \"card\"}"),
		       201, NULL);
	expect(get(s, shop_get, 1), 404, "not_found");
	expect(get(s, shop_get, 2), 404, "not_found");
	expect(get(s, shop_get, 3), 200, NULL);
	r = get(s, shop_list, 0);
	cr_assert_eq(ifield(&r, "count"), 3);
	json_decref(r.doc);
	r = post(s, shop_payments_create,
		 "{\"order_id\": 1, \"amount\": 1, \"payment_method\": \"card\"}");
	cr_assert_eq(ifield(&r, "id"), 6);
	json_decref(r.doc);
	shop_free(s);
}

Test(shop, seeded_users_respect_the_bound_too)
{
	struct shop_config cfg;
	struct shop *s;

	shop_config_init(&cfg, SHOP_USERS);
	cfg.store_max_records = 10;
	s = shop_new(&cfg);
	expect(get(s, shop_get, 990), 404, "not_found");
	expect(get(s, shop_get, 991), 200, NULL);
	shop_free(s);
	shop_free(NULL);
}
