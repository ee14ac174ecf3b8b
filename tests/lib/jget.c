/*
 * Members of a JSON object read by tests (jget.h).
 */
#include "tests/lib/jget.h"

#include <criterion/criterion.h>

const char *jget_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	cr_assert(json_is_string(v), "%s: not a string", key);
	return json_string_value(v);
}

json_int_t jget_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	cr_assert(json_is_integer(v), "%s: not an integer", key);
	return json_integer_value(v);
}

double jget_num(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	cr_assert(json_is_number(v), "%s: not a number", key);
	return json_number_value(v);
}
