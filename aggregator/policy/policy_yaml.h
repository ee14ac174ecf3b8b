/*
 * What policy_doc.c and policy_action.c share to read a loaded YAML
 * document against a schema: typed scalar readers and a mapping walker that
 * refuses unknown and duplicate keys, each failing with
 * "LINE:COLUMN: field 'X': message" in a struct policy_error. Internal to
 * aggregator/policy/.
 */
#ifndef PRP_AGGREGATOR_POLICY_POLICY_YAML_H
#define PRP_AGGREGATOR_POLICY_POLICY_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/compiler.h"

struct policy_error;

struct policy_yaml {
	yaml_document_t doc;
	struct policy_error *err; /* may be NULL */
};

/* Fills y->err at @line:@column (1-based; 0: no position) and returns -EINVAL. */
PRP_PRINTF(5, 6)
int policy_yaml_fail_at(struct policy_error *err, int line, int column, const char *field,
			const char *fmt, ...);
/* The same at the start of @n. */
PRP_PRINTF(4, 5)
int policy_yaml_fail(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		     const char *fmt, ...);

#define POLICY_FIELD_MAX 192

/* @prefix.@key into @buf (POLICY_FIELD_MAX bytes), or @key when @prefix is "". */
void policy_yaml_field(char *buf, const char *prefix, const char *key);

/* The node @id of the document (borrowed, lives as long as the document). */
yaml_node_t *policy_yaml_node(const struct policy_yaml *y, int id);
/* A plain "", "~" or "null": YAML's null. */
bool policy_yaml_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "a scalar": for messages. */
const char *policy_yaml_describe(const yaml_node_t *n);

/*
 * Walks mapping @map whose keys must be among @keys[0..nkeys): vals[i] is
 * set to the value node of keys[i], or NULL when absent. Unknown keys,
 * duplicates and non-scalar keys fail, naming @prefix + the key.
 */
PRP_MUST_CHECK int policy_yaml_map(const struct policy_yaml *y, const yaml_node_t *map,
				   const char *prefix, const char *const *keys, size_t nkeys,
				   const yaml_node_t **vals);

/* A non-null scalar of at most @max bytes without NUL; *out is borrowed from the document. */
PRP_MUST_CHECK int policy_yaml_text(const struct policy_yaml *y, const yaml_node_t *n,
				    const char *field, size_t max, const char **out);
PRP_MUST_CHECK int policy_yaml_bool(const struct policy_yaml *y, const yaml_node_t *n,
				    const char *field, bool *out);
PRP_MUST_CHECK int policy_yaml_int(const struct policy_yaml *y, const yaml_node_t *n,
				   const char *field, int64_t min, int64_t max, int64_t *out);
PRP_MUST_CHECK int policy_yaml_number(const struct policy_yaml *y, const yaml_node_t *n,
				      const char *field, double min, double max, double *out);
/* A duration: seconds or "500ms", "30s", "5m", "1h", within [min_ms, max_ms]. */
PRP_MUST_CHECK int policy_yaml_duration_ms(const struct policy_yaml *y, const yaml_node_t *n,
					   const char *field, int64_t min_ms, int64_t max_ms,
					   int64_t *out);

#endif
