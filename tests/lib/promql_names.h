/*
 * The metric and label names that one PromQL expression refers to, for tests
 * that hold Grafana dashboards to the metrics prp exports (docs/grafana.md).
 *
 * This is a tokenizer with a little context, not a PromQL parser: it checks
 * that brackets balance and strings close, and nothing else of the grammar.
 * It skips function and aggregation names (an identifier followed by '(' is
 * a function), keywords (by, without, on, ignoring, group_left, group_right,
 * bool, and, or, unless, atan2, offset, Inf, NaN), numbers, durations,
 * whatever is inside [...], string literals, comments, and Grafana variables
 * ($name, ${name}, ${name:fmt}, [[name]], $__interval, $__rate_interval).
 * Everything else outside {...} is a metric name.
 */
#ifndef PRP_TESTS_LIB_PROMQL_NAMES_H
#define PRP_TESTS_LIB_PROMQL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* Where a label name appeared: the bits of promql_names.label_uses[]. */
enum promql_label_use {
	PROMQL_LABEL_MATCHER = 1 << 0,	/* a selector's matcher: {a="x", b=~"y"} */
	PROMQL_LABEL_GROUPING = 1 << 1, /* by, without, on, ignoring, group_left, group_right */
	PROMQL_LABEL_SRC = 1 << 2, /* read: a source of label_replace, label_join, sort_by_label */
	PROMQL_LABEL_DST = 1 << 3, /* made by the expression: label_replace, label_join and
				    * count_values destinations */
};

/*
 * Names in order of first appearance, each once. A label that
 * label_replace() or label_join() names as a string literal counts only
 * when the argument is that literal alone and a valid label name; "$dst"
 * and computed arguments are skipped. {__name__="m"} counts as metric m.
 */
struct promql_names {
	char **metrics; /* n_metrics strings */
	size_t n_metrics;
	char **labels;	      /* n_labels strings */
	unsigned *label_uses; /* per label: enum promql_label_use bits */
	size_t n_labels;
};

/*
 * Lists the names @expr refers to into @out (caller owns: release with
 * promql_names_release()). Returns 0; or -EINVAL for an unbalanced (, {, [,
 * an unterminated string or variable, or a character PromQL does not use,
 * -E2BIG for brackets nested deeper than 64, and then fills @err with
 * "LINE:COLUMN: what" and leaves @out empty (releasing it is harmless).
 * Thread-safe; @expr is borrowed for the call.
 */
PRP_MUST_CHECK int promql_names(const char *expr, struct promql_names *out, char *err,
				size_t errlen);
/* Frees what promql_names() filled in and empties @names; an empty one is fine. */
void promql_names_release(struct promql_names *names);

/* Whether @names lists metric @metric. */
bool promql_names_has_metric(const struct promql_names *names, const char *metric);
/* The enum promql_label_use bits of label @label in @names; 0 when absent. */
unsigned promql_names_label_uses(const struct promql_names *names, const char *label);

#endif
