/*
 * Request bodies: JSON parsing and per-field validation for the demo's POST
 * handlers (STYLE.md §9). Each function checks one thing and, on failure,
 * returns -EINVAL and writes a message into @err that names the field and
 * says why, ready for a 400 `invalid_json` or `invalid_field`. Thread-safe.
 */
#ifndef PRP_DEMO_BODY_H
#define PRP_DEMO_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* Longest string field accepted in a record, in bytes. */
#define BODY_STRING_MAX 256

/*
 * Parses @data as one JSON object, duplicate keys rejected. On success *@out
 * is a new reference (caller owns: json_decref()). On failure -EINVAL with
 * jansson's text and line/column in @err.
 */
PRP_MUST_CHECK int body_parse_object(const void *data, size_t len, json_t **out, char *err,
				     size_t errlen);

/* Fails with "unknown field 'x'" when @obj has a key not in NULL-terminated @keys. */
PRP_MUST_CHECK int body_check_keys(json_t *obj, const char *const *keys, char *err, size_t errlen);

/*
 * Field getters. A field that is absent, or null, is an error when @required;
 * otherwise *@present (if given) is set false and *@out is left alone.
 */

/* An integer in [@min, @max] (a real such as 5.0 is refused). */
PRP_MUST_CHECK int body_int(const json_t *obj, const char *key, bool required, json_int_t min,
			    json_int_t max, json_int_t *out, bool *present, char *err,
			    size_t errlen);

/* A number, integer or real, in [@min, @max]. *@out borrows the value from @obj. */
PRP_MUST_CHECK int body_number(const json_t *obj, const char *key, bool required, double min,
			       double max, json_t **out, bool *present, char *err, size_t errlen);

/*
 * A string of 1..BODY_STRING_MAX bytes (0 allowed unless @nonempty).
 * *@out borrows from @obj: valid while @obj is.
 */
PRP_MUST_CHECK int body_string(const json_t *obj, const char *key, bool required, bool nonempty,
			       const char **out, bool *present, char *err, size_t errlen);

/* A non-empty array. *@out borrows from @obj. */
PRP_MUST_CHECK int body_array(const json_t *obj, const char *key, json_t **out, char *err,
			      size_t errlen);

#endif
