#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "demo/loadmix.h"
#include "tests/lib/leakcheck.h"

TestSuite(loadmix, .fini = test_no_leaks);

Test(loadmix, knows_the_four_mixes_and_refuses_others)
{
	struct loadmix m;

	cr_assert_eq(loadmix_init(&m, "orders", 1), 0);
	cr_assert_eq(m.kind, LOADMIX_ORDERS);
	cr_assert_eq(loadmix_init(&m, "users", 1), 0);
	cr_assert_eq(loadmix_init(&m, "payments", 1), 0);
	cr_assert_eq(loadmix_init(&m, "health", 1), 0);
	cr_assert_str_eq(loadmix_name(m.kind), "health");
	cr_assert_eq(loadmix_init(&m, "Orders", 1), -EINVAL);
	cr_assert_eq(loadmix_init(&m, "", 1), -EINVAL);
}

Test(loadmix, is_deterministic_for_a_seed)
{
	struct loadmix a, b;
	struct loadmix_request ra, rb;

	cr_assert_eq(loadmix_init(&a, "users", 42), 0);
	cr_assert_eq(loadmix_init(&b, "users", 42), 0);
	for (int i = 0; i < 200; i++) {
		loadmix_next(&a, &ra);
		loadmix_next(&b, &rb);
		cr_assert_str_eq(ra.path, rb.path);
		cr_assert_str_eq(ra.body, rb.body);
	}
}

/* Every body is valid JSON with the fields the services require. */
static void check_body(const struct loadmix_request *r)
{
	json_error_t jerr;
	json_t *doc;

	if (!r->body[0]) {
		cr_assert_str_eq(r->method, "GET");
		return;
	}
	cr_assert_str_eq(r->method, "POST");
	doc = json_loads(r->body, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert_not_null(doc, "bad JSON '%s': %s", r->body, jerr.text);
	if (!strcmp(r->path, "/orders"))
		cr_assert_eq(json_unpack(doc, "{s:I, s:[{}], s:F}", "customer_id",
					 &(json_int_t){ 0 }, "items", "total", &(double){ 0 }),
			     0, "order body %s", r->body);
	else if (!strcmp(r->path, "/users"))
		cr_assert_eq(json_unpack(doc, "{s:s, s:s}", "name", &(const char *){ NULL },
					 "email", &(const char *){ NULL }),
			     0);
	else if (!strcmp(r->path, "/payments"))
		cr_assert_eq(json_unpack(doc, "{s:I, s:F, s:s}", "order_id", &(json_int_t){ 0 },
					 "amount", &(double){ 0 }, "payment_method",
					 &(const char *){ NULL }),
			     0);
	else
		cr_assert_fail("unexpected POST %s", r->path);
	json_decref(doc);
}

Test(loadmix, sends_valid_bodies_in_every_mix)
{
	static const char *const mixes[] = { "orders", "users", "payments", "health" };
	struct loadmix_request r;
	struct loadmix m;

	for (size_t k = 0; k < 4; k++) {
		cr_assert_eq(loadmix_init(&m, mixes[k], 7), 0);
		for (int i = 0; i < 1000; i++) {
			loadmix_next(&m, &r);
			check_body(&r);
			if (r.is_create)
				loadmix_created(&m, (uint64_t)i + 1);
		}
	}
}

Test(loadmix, reads_only_ids_it_created)
{
	struct loadmix_request r;
	struct loadmix m;
	int creates = 0, reads = 0;

	cr_assert_eq(loadmix_init(&m, "orders", 3), 0);
	/* nothing created yet: no read by id may be sent */
	for (int i = 0; i < 50; i++) {
		loadmix_next(&m, &r);
		cr_assert(strncmp(r.path, "/orders/", 8), "read %s before any create", r.path);
	}
	loadmix_created(&m, 77);
	for (int i = 0; i < 1000; i++) {
		loadmix_next(&m, &r);
		if (!strncmp(r.path, "/orders/", 8)) {
			cr_assert_str_eq(r.path, "/orders/77");
			reads++;
		}
		creates += r.is_create;
	}
	/* the mix is about 30% creates and 50% reads; allow wide sampling noise */
	cr_assert(creates > 200 && creates < 400, "creates %d", creates);
	cr_assert(reads > 400 && reads < 600, "reads %d", reads);
}

Test(loadmix, remembers_a_bounded_window_of_ids)
{
	struct loadmix m;

	cr_assert_eq(loadmix_init(&m, "payments", 1), 0);
	for (uint64_t id = 1; id <= 3 * LOADMIX_IDS; id++)
		loadmix_created(&m, id);
	cr_assert_eq(m.ncreated, LOADMIX_IDS);
	for (size_t i = 0; i < LOADMIX_IDS; i++)
		cr_assert_gt(m.created[i], 2 * LOADMIX_IDS, "old id %llu kept",
			     (unsigned long long)m.created[i]);
}
