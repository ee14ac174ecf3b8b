/*
 * docs/openapi.yaml and the route table of aggregator/http/routes.c list the
 * same (method, path) pairs: every route is documented, and nothing
 * documented is missing from the table.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "aggregator/http/routes.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_openapi, .fini = test_no_leaks);

#define OPS_MAX 256

struct op {
	char method[16]; /* upper case */
	char path[256];
};

static FILE *open_spec(void)
{
	/* from the repository root (make), else from the binary in
	 * build/[asan/]tests/unit/aggregator */
	static const char *const ups[] = { "../../../../docs/openapi.yaml",
					   "../../../../../docs/openapi.yaml" };
	char exe[PATH_MAX], dir[PATH_MAX], path[2 * PATH_MAX];
	ssize_t n;
	FILE *f = fopen("docs/openapi.yaml", "rb");

	if (f)
		return f;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]) && !f; i++) {
		memcpy(dir, exe, (size_t)n + 1); /* dirname() writes into its argument */
		snprintf(path, sizeof(path), "%s/%s", dirname(dir), ups[i]);
		f = fopen(path, "rb");
	}
	return f;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_method(const char *k)
{
	static const char *const methods[] = { "get",	  "put",  "post",  "delete",
					       "options", "head", "patch", "trace" };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (!strcmp(k, methods[i]))
			return true;
	}
	return false;
}

/* Reads every (method, path) of the spec's paths into @ops; returns how many. */
static size_t read_spec(struct op *ops)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *paths = NULL;
	FILE *f = open_spec();
	size_t n = 0;

	cr_assert_not_null(f, "cannot open docs/openapi.yaml");
	cr_assert(yaml_parser_initialize(&parser));
	yaml_parser_set_input_file(&parser, f);
	cr_assert(yaml_parser_load(&parser, &doc), "docs/openapi.yaml: %s at line %zu",
		  parser.problem, parser.problem_mark.line + 1);
	root = yaml_document_get_root_node(&doc);
	cr_assert(root && root->type == YAML_MAPPING_NODE);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(&doc, p->key));

		if (k && !strcmp(k, "paths"))
			paths = yaml_document_get_node(&doc, p->value);
	}
	cr_assert(paths && paths->type == YAML_MAPPING_NODE, "no paths mapping");
	for (yaml_node_pair_t *p = paths->data.mapping.pairs.start;
	     p < paths->data.mapping.pairs.top; p++) {
		const char *path = scalar(yaml_document_get_node(&doc, p->key));
		yaml_node_t *item = yaml_document_get_node(&doc, p->value);

		cr_assert(path && item && item->type == YAML_MAPPING_NODE);
		for (yaml_node_pair_t *q = item->data.mapping.pairs.start;
		     q < item->data.mapping.pairs.top; q++) {
			const char *m = scalar(yaml_document_get_node(&doc, q->key));

			if (!m || !is_method(m))
				continue;
			cr_assert_lt(n, OPS_MAX);
			for (size_t i = 0; m[i] && i < sizeof(ops[n].method) - 1; i++)
				ops[n].method[i] = (char)toupper((unsigned char)m[i]);
			snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
			n++;
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return n;
}

static bool has_op(const struct op *ops, size_t n, const char *method, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(ops[i].method, method) && !strcmp(ops[i].path, path))
			return true;
	}
	return false;
}

Test(http_openapi, every_route_is_documented)
{
	static struct op ops[OPS_MAX];
	size_t nops = read_spec(ops), nroutes;
	const struct route *r = routes_table(&nroutes);

	cr_assert_gt(nroutes, 0);
	for (size_t i = 0; i < nroutes; i++)
		cr_assert(has_op(ops, nops, r[i].method, r[i].pattern),
			  "%s %s is in the route table but not in docs/openapi.yaml", r[i].method,
			  r[i].pattern);
}

Test(http_openapi, everything_documented_is_routed)
{
	static struct op ops[OPS_MAX];
	size_t nops = read_spec(ops), nroutes;
	const struct route *r = routes_table(&nroutes);

	cr_assert_gt(nops, 0);
	for (size_t i = 0; i < nops; i++) {
		bool found = false;

		for (size_t k = 0; k < nroutes && !found; k++)
			found = !strcmp(r[k].method, ops[i].method) &&
				!strcmp(r[k].pattern, ops[i].path);
		cr_assert(found, "%s %s is in docs/openapi.yaml but not in the route table",
			  ops[i].method, ops[i].path);
	}
}

Test(http_openapi, routes_are_unique_and_well_formed)
{
	size_t n;
	const struct route *r = routes_table(&n);

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(r[i].pattern[0], '/', "%s", r[i].pattern);
		cr_assert_not_null(r[i].handler);
		/* API.md: reads are for viewers (keys and the audit log for admins only) */
		if (!strcmp(r[i].method, "GET") && strcmp(r[i].pattern, "/keys") &&
		    strcmp(r[i].pattern, "/audit"))
			cr_assert_leq(r[i].role, ROLE_VIEWER, "%s %s: a read must be open to viewers",
				      r[i].method, r[i].pattern);
		cr_assert(r[i].role <= ROLE_ADMIN, "%s %s", r[i].method, r[i].pattern);
		for (size_t k = 0; k < i; k++)
			cr_assert(strcmp(r[i].method, r[k].method) ||
					  strcmp(r[i].pattern, r[k].pattern),
				  "%s %s twice", r[i].method, r[i].pattern);
	}
}
