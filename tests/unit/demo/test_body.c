#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "demo/body.h"
#include "tests/lib/leakcheck.h"

TestSuite(body, .fini = test_no_leaks);

static char err[512];

static int parse(const char *text, json_t **out)
{
	err[0] = '\0';
	return body_parse_object(text, strlen(text), out, err, sizeof(err));
}

static json_t *obj(const char *text)
{
	json_t *v = NULL;

	cr_assert_eq(parse(text, &v), 0, "%s: %s", text, err);
	return v;
}

Test(body, parses_an_object)
{
	json_t *v = obj("{\"a\": 1}");

	cr_assert(json_is_object(v));
	json_decref(v);
}

Test(body, invalid_json_quotes_jansson_and_the_position)
{
	json_t *v = NULL;

	cr_assert_eq(parse("{\"name\": ", &v), -EINVAL);
	cr_assert_null(v);
	cr_assert_not_null(strstr(err, "line 1 column"), "%s", err);
	cr_assert_not_null(strstr(err, "invalid JSON"), "%s", err);
	cr_assert_eq(parse("{\n\"a\": tru}", &v), -EINVAL);
	cr_assert_not_null(strstr(err, "line 2"), "%s", err);
}

Test(body, refuses_what_is_not_one_object)
{
	json_t *v = NULL;

	cr_assert_eq(parse("[1, 2]", &v), -EINVAL);
	cr_assert_not_null(strstr(err, "object"), "%s", err);
	cr_assert_eq(parse("", &v), -EINVAL);
	cr_assert_not_null(strstr(err, "empty"), "%s", err);
	cr_assert_eq(parse("{} {}", &v), -EINVAL);
	cr_assert_eq(parse("\"str\"", &v), -EINVAL);
	cr_assert_eq(parse("42", &v), -EINVAL);
}

Test(body, refuses_duplicate_keys)
{
	json_t *v = NULL;

	cr_assert_eq(parse("{\"a\": 1, \"a\": 2}", &v), -EINVAL);
	cr_assert_not_null(strstr(err, "duplicate"), "%s", err);
}

Test(body, refuses_numbers_jansson_cannot_hold_and_nul_bytes)
{
	json_t *v = NULL;

	cr_assert_eq(parse("{\"a\": 1e400}", &v), -EINVAL);
	cr_assert_eq(parse("{\"a\": 99999999999999999999999}", &v), -EINVAL);
	cr_assert_eq(parse("{\"a\": \"x\\u0000y\"}", &v), -EINVAL);
	cr_assert_eq(body_parse_object("{\"a\":\"\xff\"}", 9, &v, err, sizeof(err)), -EINVAL);
}

Test(body, check_keys_names_an_unknown_field)
{
	static const char *const keys[] = { "a", "b", NULL };
	json_t *v = obj("{\"a\": 1, \"zz\": 2}");
	json_t *ok = obj("{\"b\": 1}");

	cr_assert_eq(body_check_keys(v, keys, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown field 'zz'");
	cr_assert_eq(body_check_keys(ok, keys, err, sizeof(err)), 0);
	json_decref(v);
	json_decref(ok);
}

Test(body, int_checks_presence_type_and_range)
{
	json_t *v =
		obj("{\"n\": 5, \"s\": \"5\", \"r\": 5.0, \"b\": true, \"z\": 0, \"null\": null,"
		    " \"big\": 9223372036854775807}");
	json_int_t n = -1;
	bool present = true;

	cr_assert_eq(body_int(v, "n", true, 1, 10, &n, NULL, err, sizeof(err)), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(body_int(v, "missing", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'missing' is required");
	cr_assert_eq(body_int(v, "s", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 's' must be an integer");
	cr_assert_eq(body_int(v, "r", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(body_int(v, "b", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(body_int(v, "z", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "between 1 and 10"), "%s", err);
	cr_assert_eq(body_int(v, "big", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(body_int(v, "null", true, 1, 10, &n, NULL, err, sizeof(err)), -EINVAL);
	n = 77;
	cr_assert_eq(body_int(v, "null", false, 1, 10, &n, &present, err, sizeof(err)), 0);
	cr_assert_not(present);
	cr_assert_eq(n, 77, "an absent optional field leaves the default");
	json_decref(v);
}

Test(body, number_takes_integers_and_reals_in_range)
{
	json_t *v = obj("{\"i\": 3, \"r\": 2.5, \"neg\": -0.01, \"s\": \"1\", \"huge\": 1e300}");
	json_t *out = NULL;
	bool present = false;

	cr_assert_eq(body_number(v, "i", true, 0, 10, &out, &present, err, sizeof(err)), 0);
	cr_assert(present);
	cr_assert_eq(json_integer_value(out), 3);
	cr_assert_eq(body_number(v, "r", true, 0, 10, &out, NULL, err, sizeof(err)), 0);
	cr_assert_float_eq(json_real_value(out), 2.5, 1e-12);
	cr_assert_eq(body_number(v, "neg", true, 0, 10, &out, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "'neg'"), "%s", err);
	cr_assert_eq(body_number(v, "s", true, 0, 10, &out, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 's' must be a number");
	cr_assert_eq(body_number(v, "huge", true, 0, 1e12, &out, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(body_number(v, "absent", true, 0, 10, &out, NULL, err, sizeof(err)), -EINVAL);
	json_decref(v);
}

Test(body, string_checks_type_emptiness_and_length)
{
	char text[BODY_STRING_MAX + 64];
	const char *s = "default";
	json_t *v, *big;

	v = obj("{\"s\": \"abc\", \"e\": \"\", \"n\": 1, \"z\": null}");
	cr_assert_eq(body_string(v, "s", true, true, &s, NULL, err, sizeof(err)), 0);
	cr_assert_str_eq(s, "abc");
	cr_assert_eq(body_string(v, "e", true, true, &s, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'e' must not be empty");
	cr_assert_eq(body_string(v, "e", true, false, &s, NULL, err, sizeof(err)), 0);
	cr_assert_eq(body_string(v, "n", true, true, &s, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'n' must be a string");
	s = "default";
	cr_assert_eq(body_string(v, "z", false, true, &s, NULL, err, sizeof(err)), 0);
	cr_assert_str_eq(s, "default");
	json_decref(v);

	snprintf(text, sizeof(text), "{\"s\": \"%0*d\"}", BODY_STRING_MAX + 1, 0);
	big = obj(text);
	cr_assert_eq(body_string(big, "s", true, true, &s, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "at most"), "%s", err);
	json_decref(big);
}

Test(body, array_must_be_a_non_empty_array)
{
	json_t *v = obj("{\"a\": [1], \"e\": [], \"o\": {}}");
	json_t *out = NULL;

	cr_assert_eq(body_array(v, "a", &out, err, sizeof(err)), 0);
	cr_assert_eq(json_array_size(out), 1);
	cr_assert_eq(body_array(v, "e", &out, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'e' must not be empty");
	cr_assert_eq(body_array(v, "o", &out, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'o' must be an array");
	cr_assert_eq(body_array(v, "x", &out, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "field 'x' is required");
	json_decref(v);
}
