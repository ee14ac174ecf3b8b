/*
 * The request helpers of aggregator/http/req.c: Accept-Encoding, path
 * parameters, query overflow, request ids.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/http/req.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_req, .fini = test_no_leaks);

struct enc_case {
	const char *header;
	bool gzip;
};

Test(http_req, accept_encoding_gzip)
{
	static const struct enc_case cases[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },
		{ "GZIP", true },
		{ "deflate, gzip;q=0.8", true },
		{ "br,gzip", true },
		{ "x-gzip", true },
		{ "*", true },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "gzip;q=0.5", true },
		{ "identity", false },
		{ "gzipper", false },
		{ "deflate, br", false },
		{ ",,, ,gzip", true },
		{ "gzip;q=0, *", true },
	};
	struct req rq;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req_init(&rq, NULL, "GET", "/", "id");
		rq.accept_encoding = cases[i].header;
		cr_assert_eq(req_accepts_gzip(&rq), cases[i].gzip, "'%s'",
			     cases[i].header ? cases[i].header : "(none)");
	}
}

Test(http_req, query_past_the_maximum_sets_overflow)
{
	struct req rq;

	req_init(&rq, NULL, "GET", "/", "id");
	for (int i = 0; i < REQ_QUERY_MAX; i++)
		req_add_query(&rq, "k", NULL);
	cr_assert_not(rq.query_overflow);
	cr_assert_str_eq(rq.query[0].value, "");
	req_add_query(&rq, "k", "v");
	cr_assert(rq.query_overflow);
	cr_assert_eq(rq.nquery, REQ_QUERY_MAX);
	cr_assert_null(req_param(&rq, "name"));
	cr_assert_str_eq(rq.tenant, REQ_DEFAULT_TENANT);
	cr_assert_null(req_store(&rq), "no env, no store");
}

Test(http_req, ids_are_valid_and_distinct)
{
	char a[REQ_ID_MAX + 1], b[REQ_ID_MAX + 1];

	req_id_generate(a);
	req_id_generate(b);
	cr_assert(req_id_valid(a));
	cr_assert(req_id_valid(b));
	cr_assert_str_neq(a, b);
	cr_assert_not(req_id_valid(""));
	cr_assert_not(req_id_valid("has space"));
	cr_assert_not(req_id_valid("quote\""));
	memset(a, 'a', REQ_ID_MAX);
	a[REQ_ID_MAX] = '\0';
	cr_assert(req_id_valid(a));
	{
		char longer[REQ_ID_MAX + 2];

		memset(longer, 'a', REQ_ID_MAX + 1);
		longer[REQ_ID_MAX + 1] = '\0';
		cr_assert_not(req_id_valid(longer));
	}
}
