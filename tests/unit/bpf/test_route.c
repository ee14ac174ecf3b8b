#include <criterion/criterion.h>
#include <string.h>

#include "bpf/route.h"
#include "tests/lib/leakcheck.h"

TestSuite(route, .fini = test_no_leaks);

static const char *fold(const char *target, char *out)
{
	struct route_fold f;

	route_fold_init(&f);
	for (const char *p = target; *p; p++)
		if (route_fold_step(&f, *p))
			break;
	route_fold_finish(&f);
	memcpy(out, f.out, ROUTE_MAX);
	cr_assert_eq(strlen(out), f.len, "len %u for '%s'", f.len, out);
	return out;
}

#define cr_assert_folds(in, want)                                                   \
	do {                                                                        \
		char got_[ROUTE_MAX];                                               \
		cr_assert_str_eq(fold(in, got_), want, "'%s' folded to '%s'", in, got_); \
	} while (0)

Test(route, keeps_plain_routes)
{
	cr_assert_folds("/health", "/health");
	cr_assert_folds("/v2/users", "/v2/users");
	cr_assert_folds("/", "/");
	cr_assert_folds("", "/");
}

Test(route, folds_numeric_segments)
{
	cr_assert_folds("/users/42", "/users/{id}");
	cr_assert_folds("/orders/17/items", "/orders/{id}/items");
	cr_assert_folds("/a/1/b/2", "/a/{id}/b/{id}");
	cr_assert_folds("/0", "/{id}");
}

Test(route, folds_id_like_segments)
{
	cr_assert_folds("/a/550e8400-e29b-41d4-a716-446655440000", "/a/{id}");
	cr_assert_folds("/blob/deadbeef01", "/blob/{id}");
	/* short hex words and hex-only words without digits are names */
	cr_assert_folds("/cafe/decade", "/cafe/decade");
	cr_assert_folds("/ab12", "/ab12");
}

Test(route, stops_at_query_fragment_and_space)
{
	cr_assert_folds("/users?limit=20", "/users");
	cr_assert_folds("/users/9?x=1", "/users/{id}");
	cr_assert_folds("/p#frag", "/p");
	cr_assert_folds("/orders/5 HTTP/1.1\r\n", "/orders/{id}");
}

Test(route, cuts_long_paths_at_a_segment)
{
	char got[ROUTE_MAX];
	const char *long_path =
		"/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/eeeeeeeeee/ffffffffff/gggg";

	fold(long_path, got);
	cr_assert_lt(strlen(got), ROUTE_MAX);
	cr_assert(strstr(got, "/...") != NULL, "no cut marker in '%s'", got);
	cr_assert_eq(strncmp(got, "/aaaaaaaaaa/bbbbbbbbbb/", 23), 0, "'%s'", got);
	fold("/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", got);
	cr_assert_str_eq(got, "/...");
}

/* The whole buffer is a map key: what a folded or cut segment left past the end must be 0. */
Test(route, zeroes_every_byte_past_the_route)
{
	static const char *const paths[] = {
		"/a/550e8400-e29b-41d4-a716-446655440000",
		"/a/550e8400-e29b-41d4-a716-446655440000/items/123456789012",
		"/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/eeeeeeeeee/ffffffffff/gggg",
		"/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"/1234567", /* len 7: the byte-by-byte part of the zeroing */
		"/12345678/x",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct route_fold f;

		route_fold_init(&f);
		for (const char *p = paths[i]; *p; p++)
			if (route_fold_step(&f, *p))
				break;
		route_fold_finish(&f);
		for (unsigned j = f.len; j < ROUTE_MAX; j++)
			cr_assert_eq(f.out[j], 0, "'%s': byte %u of '%.*s' is %d", paths[i], j,
				     (int)f.len, f.out, f.out[j]);
	}
}
