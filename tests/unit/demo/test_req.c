#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "demo/req.h"
#include "tests/lib/leakcheck.h"

TestSuite(req, .fini = test_no_leaks);

Test(req, init_leaves_no_body_query_or_id)
{
	struct req rq;

	req_init(&rq, "GET", "/users", "abc");
	cr_assert_str_eq(rq.method, "GET");
	cr_assert_str_eq(rq.path, "/users");
	cr_assert_str_eq(rq.request_id, "abc");
	cr_assert_null(rq.body);
	cr_assert_eq(rq.body_len, 0);
	cr_assert_eq(rq.id, 0);
	cr_assert_eq(rq.query_len, 0);
	cr_assert_null(req_query(&rq, "limit"));
}

Test(req, query_returns_the_first_value_of_a_key)
{
	struct req rq;

	req_init(&rq, "GET", "/users", "x");
	cr_assert_eq(req_add_query(&rq, "limit", "5"), 0);
	cr_assert_eq(req_add_query(&rq, "limit", "7"), 0);
	cr_assert_eq(req_add_query(&rq, "flag", NULL), 0);
	cr_assert_str_eq(req_query(&rq, "limit"), "5");
	cr_assert_str_eq(req_query(&rq, "flag"), "", "a key without value reads as empty");
	cr_assert_null(req_query(&rq, "other"));
}

Test(req, query_is_bounded)
{
	struct req rq;

	req_init(&rq, "GET", "/", "x");
	for (int i = 0; i < REQ_QUERY_MAX; i++)
		cr_assert_eq(req_add_query(&rq, "k", "v"), 0);
	cr_assert_eq(req_add_query(&rq, "late", "v"), -E2BIG);
	cr_assert_null(req_query(&rq, "late"));
}

Test(req, id_valid_accepts_safe_tokens_only)
{
	char long_id[REQ_ID_MAX + 2];

	cr_assert(req_id_valid("abc-123_x.y"));
	cr_assert(req_id_valid("A"));
	cr_assert_not(req_id_valid(""));
	cr_assert_not(req_id_valid("has space"));
	cr_assert_not(req_id_valid("quote\""));
	cr_assert_not(req_id_valid("new\nline"));
	cr_assert_not(req_id_valid("caf\xc3\xa9"));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[REQ_ID_MAX] = '\0';
	cr_assert(req_id_valid(long_id), "exactly REQ_ID_MAX is fine");
	long_id[REQ_ID_MAX] = 'a';
	long_id[REQ_ID_MAX + 1] = '\0';
	cr_assert_not(req_id_valid(long_id));
}

Test(req, generated_ids_are_valid_and_distinct)
{
	char prev[REQ_ID_MAX + 1] = "", id[REQ_ID_MAX + 1];

	for (int i = 0; i < 1000; i++) {
		req_id_generate(id);
		cr_assert(req_id_valid(id), "'%s'", id);
		cr_assert_str_neq(id, prev);
		strcpy(prev, id);
	}
}
