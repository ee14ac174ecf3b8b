/*
 * Members of a JSON object read by tests: each asserts (Criterion) that the
 * member is there with its type, so that a test reads a value in one call.
 */
#ifndef PRP_TESTS_LIB_JGET_H
#define PRP_TESTS_LIB_JGET_H

#include <jansson.h>

/* The string member @key of @obj; borrowed from @obj. */
const char *jget_str(const json_t *obj, const char *key);
/* The integer member @key of @obj. */
json_int_t jget_int(const json_t *obj, const char *key);
/* The number member @key of @obj, integer or real. */
double jget_num(const json_t *obj, const char *key);

#endif
