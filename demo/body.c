/*
 * JSON body parsing and field checks. Messages quote field names, which come
 * from our own tables, never the peer's values; reply_error() sanitises what
 * ends up in a response anyway.
 */
#include "demo/body.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int body_parse_object(const void *data, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *v;

	if (!len) {
		snprintf(err, errlen, "invalid JSON: the body is empty, expected an object");
		return -EINVAL;
	}
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(err, errlen, "the body must be a JSON object");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int body_check_keys(json_t *obj, const char *const *keys, char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value) {
		size_t i;

		(void)value;
		for (i = 0; keys[i]; i++) {
			if (!strcmp(key, keys[i]))
				break;
		}
		if (!keys[i]) {
			snprintf(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
	}
	return 0;
}

/* Looks @key up; 0 with *@v set, 1 when absent and optional, or -EINVAL. */
static int body_field(const json_t *obj, const char *key, bool required, json_t **v, bool *present,
		      char *err, size_t errlen)
{
	*v = json_object_get(obj, key);
	if (*v && !json_is_null(*v)) {
		if (present)
			*present = true;
		return 0;
	}
	if (required) {
		snprintf(err, errlen, "field '%s' is required", key);
		return -EINVAL;
	}
	if (present)
		*present = false;
	return 1;
}

int body_int(const json_t *obj, const char *key, bool required, json_int_t min, json_int_t max,
	     json_int_t *out, bool *present, char *err, size_t errlen)
{
	json_int_t n;
	json_t *v;
	int rc;

	rc = body_field(obj, key, required, &v, present, err, errlen);
	if (rc)
		return rc < 0 ? rc : 0;
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "field '%s' must be an integer", key);
		return -EINVAL;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		snprintf(err, errlen, "field '%s' must be between %lld and %lld", key,
			 (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int body_number(const json_t *obj, const char *key, bool required, double min, double max,
		json_t **out, bool *present, char *err, size_t errlen)
{
	json_t *v;
	double n;
	int rc;

	rc = body_field(obj, key, required, &v, present, err, errlen);
	if (rc)
		return rc < 0 ? rc : 0;
	if (!json_is_number(v)) {
		snprintf(err, errlen, "field '%s' must be a number", key);
		return -EINVAL;
	}
	n = json_number_value(v);
	if (!(n >= min && n <= max)) {
		snprintf(err, errlen, "field '%s' must be between %g and %g", key, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int body_string(const json_t *obj, const char *key, bool required, bool nonempty, const char **out,
		bool *present, char *err, size_t errlen)
{
	json_t *v;
	size_t len;
	int rc;

	rc = body_field(obj, key, required, &v, present, err, errlen);
	if (rc)
		return rc < 0 ? rc : 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "field '%s' must be a string", key);
		return -EINVAL;
	}
	len = json_string_length(v);
	if (nonempty && len == 0) {
		snprintf(err, errlen, "field '%s' must not be empty", key);
		return -EINVAL;
	}
	if (len > BODY_STRING_MAX) {
		snprintf(err, errlen, "field '%s' must be at most %d bytes", key, BODY_STRING_MAX);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int body_array(const json_t *obj, const char *key, json_t **out, char *err, size_t errlen)
{
	json_t *v;
	int rc;

	rc = body_field(obj, key, true, &v, NULL, err, errlen);
	if (rc)
		return rc;
	if (!json_is_array(v)) {
		snprintf(err, errlen, "field '%s' must be an array", key);
		return -EINVAL;
	}
	if (json_array_size(v) == 0) {
		snprintf(err, errlen, "field '%s' must not be empty", key);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
