/*
 * Schema reading over a libyaml document (see policy_yaml.h). Values come
 * from the document, which policy_doc.c has already checked for size,
 * depth and aliases before loading it; every reader here converts one
 * scalar through common/strparse.c and states its bounds in the message.
 */
#include "aggregator/policy/policy_yaml.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/policy/policy_doc.h"
#include "common/strparse.h"

int policy_yaml_fail_at(struct policy_error *err, int line, int column, const char *field,
			const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err)
		return -EINVAL;
	err->line = line;
	err->column = column;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = snprintf(err->text, sizeof(err->text), "%d:%d: ", line, column);
	if (n >= 0 && (size_t)n < sizeof(err->text))
		snprintf(err->text + n, sizeof(err->text) - (size_t)n, "%s%s%s%s", *err->field ? "field '" : "",
			 err->field, *err->field ? "': " : "", err->message);
	return -EINVAL;
}

int policy_yaml_fail(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		     const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return policy_yaml_fail_at(y->err, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1,
				   field, "%s", msg);
}

void policy_yaml_field(char *buf, const char *prefix, const char *key)
{
	int n = snprintf(buf, POLICY_FIELD_MAX, "%s%s%s", prefix, *prefix ? "." : "", key);

	if (n < 0 || n >= POLICY_FIELD_MAX) /* cut: still a usable, terminated name */
		buf[POLICY_FIELD_MAX - 1] = '\0';
}

yaml_node_t *policy_yaml_node(const struct policy_yaml *y, int id)
{
	/* yaml_document_get_node() without its non-const parameter */
	if (id < 1 || id > y->doc.nodes.top - y->doc.nodes.start)
		return NULL;
	return y->doc.nodes.start + id - 1;
}

bool policy_yaml_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp((const char *)n->data.scalar.value, nulls[i]))
			return true;
	return false;
}

const char *policy_yaml_describe(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return policy_yaml_is_null(n) ? "nothing (null)" : "a scalar";
}

/* One key of policy_yaml_map(): its index in @keys, or an error. */
static int map_key(const struct policy_yaml *y, const yaml_node_t *k, const char *prefix,
		   const char *const *keys, size_t nkeys, size_t *idx)
{
	const char *name;

	if (k->type != YAML_SCALAR_NODE)
		return policy_yaml_fail(y, k, prefix, "expected a key name, got %s",
					policy_yaml_describe(k));
	name = (const char *)k->data.scalar.value;
	for (size_t i = 0; i < nkeys; i++) {
		if (!strcmp(name, keys[i]) && strlen(name) == k->data.scalar.length) {
			*idx = i;
			return 0;
		}
	}
	{
		char known[512] = "";
		size_t off = 0;

		for (size_t i = 0; i < nkeys && off < sizeof(known); i++)
			off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s",
						i ? ", " : "", keys[i]);
		return policy_yaml_fail(y, k, prefix, "unknown key '%.64s' (known: %s)", name, known);
	}
}

int policy_yaml_map(const struct policy_yaml *y, const yaml_node_t *map, const char *prefix,
		    const char *const *keys, size_t nkeys, const yaml_node_t **vals)
{
	char field[POLICY_FIELD_MAX];

	for (size_t i = 0; i < nkeys; i++)
		vals[i] = NULL;
	if (map->type != YAML_MAPPING_NODE)
		return policy_yaml_fail(y, map, prefix, "expected a mapping, got %s",
					policy_yaml_describe(map));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = policy_yaml_node(y, p->key);
		size_t idx = 0;
		int err = map_key(y, k, prefix, keys, nkeys, &idx);

		if (err)
			return err;
		policy_yaml_field(field, prefix, keys[idx]);
		if (vals[idx])
			return policy_yaml_fail(y, k, field, "duplicate key (first at line %d)",
						(int)vals[idx]->start_mark.line + 1);
		vals[idx] = policy_yaml_node(y, p->value);
	}
	return 0;
}

int policy_yaml_text(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		     size_t max, const char **out)
{
	if (n->type != YAML_SCALAR_NODE || policy_yaml_is_null(n))
		return policy_yaml_fail(y, n, field, "expected a string, got %s",
					policy_yaml_describe(n));
	/* double quotes can spell a NUL ("\0"), which a C string cannot hold */
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return policy_yaml_fail(y, n, field, "holds a NUL byte");
	if (n->data.scalar.length > max)
		return policy_yaml_fail(y, n, field, "longer than %zu bytes", max);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int policy_yaml_bool(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		     bool *out)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, 16, &s);

	if (!err && strparse_bool(s, out))
		err = policy_yaml_fail(y, n, field, "expected true or false, got '%s'", s);
	return err;
}

int policy_yaml_int(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		    int64_t min, int64_t max, int64_t *out)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, 32, &s);

	if (err)
		return err;
	err = strparse_i64(s, min, max, out);
	if (err == -ERANGE)
		return policy_yaml_fail(y, n, field, "%s is out of range [%lld, %lld]", s,
					(long long)min, (long long)max);
	if (err)
		return policy_yaml_fail(y, n, field, "expected an integer, got '%s'", s);
	return 0;
}

int policy_yaml_number(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		       double min, double max, double *out)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, 64, &s);

	if (err)
		return err;
	err = strparse_double(s, min, max, out);
	if (err == -ERANGE)
		return policy_yaml_fail(y, n, field, "%s is out of range [%g, %g]", s, min, max);
	if (err)
		return policy_yaml_fail(y, n, field, "expected a number, got '%s'", s);
	return 0;
}

int policy_yaml_duration_ms(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
			    int64_t min_ms, int64_t max_ms, int64_t *out)
{
	const char *s;
	uint64_t ns;
	int err = policy_yaml_text(y, n, field, 64, &s);

	if (err)
		return err;
	err = strparse_duration_ns(s, 1000000000ull, &ns);
	if (err == -EINVAL)
		return policy_yaml_fail(y, n, field,
					"expected a duration (seconds, or 500ms, 30s, 5m, 1h), got '%s'",
					s);
	if (err || ns / 1000000 < (uint64_t)min_ms || ns / 1000000 > (uint64_t)max_ms)
		return policy_yaml_fail(y, n, field, "'%s' is out of range [%llds, %llds]", s,
					(long long)(min_ms / 1000), (long long)(max_ms / 1000));
	*out = (int64_t)(ns / 1000000);
	return 0;
}
