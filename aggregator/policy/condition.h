/*
 * The condition language of policies (docs/policies.md): text such as
 * "(error_rate > 5% or anomaly(latency_p99)) and severity >= warning",
 * parsed once into a small immutable tree and evaluated against a snapshot
 * of facts about one service. Pure: no I/O, no globals, no locks; a parsed
 * condition may be read by any number of threads at once.
 *
 * Grammar (keywords and names in any case):
 *   expr    = and { "or" and }
 *   and     = unary { "and" unary }
 *   unary   = "not" unary | primary
 *   primary = "(" expr ")" | METRIC OP NUMBER | "anomaly" [ "(" [METRIC] ")" ]
 *           | "severity" OP LEVEL | "predicted_breach" OP SECONDS
 *   OP      = ">" | ">=" | "<" | "<=" | "==" | "!="
 * Values are kept in the metric's base unit (ratios 0..1, latency in ms,
 * seconds for predicted_breach), so "5%" and "0.05", "0.5s" and "500ms"
 * give the same tree and the same canonical text.
 */
#ifndef PRP_AGGREGATOR_POLICY_CONDITION_H
#define PRP_AGGREGATOR_POLICY_CONDITION_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* Bounds on what condition_parse() accepts; past them it fails. */
#define CONDITION_TEXT_MAX  1024 /* bytes of text */
#define CONDITION_DEPTH_MAX 32	 /* nested parentheses and "not" */
#define CONDITION_NODES_MAX 256	 /* operators and primaries */

/* The metrics a condition may name; values as condition_metric_name() spells them. */
enum condition_metric {
	CONDITION_REQUEST_RATE,
	CONDITION_ERROR_RATE, /* ratio 0..1 */
	CONDITION_LATENCY_P50, /* ms */
	CONDITION_LATENCY_P95,
	CONDITION_LATENCY_P99,
	CONDITION_SYSCALL_ERROR_RATE, /* ratio 0..1 */
	CONDITION_TCP_RETRANSMITS,
	CONDITION_TCP_RESETS,
	CONDITION_TCP_CONNECT_FAILURES,
	CONDITION_METRIC_COUNT
};

/* Severity levels; the values are those of enum store_severity. */
#define CONDITION_SEVERITY_NONE	    (-1) /* no anomaly open */
#define CONDITION_SEVERITY_INFO	    0
#define CONDITION_SEVERITY_WARNING  1
#define CONDITION_SEVERITY_CRITICAL 2

/*
 * What is known about one service at one instant. Fill it after
 * condition_facts_init(), which makes every metric unknown (NaN), no
 * anomaly open, no severity and no predicted breach (+infinity).
 */
struct condition_facts {
	double metric[CONDITION_METRIC_COUNT]; /* NaN: unknown; comparisons with it are false */
	bool anomaly[CONDITION_METRIC_COUNT];  /* an anomaly is open on this metric */
	bool anomaly_other; /* one is open on a metric outside the table (anomaly() sees it) */
	int max_severity;   /* the highest open, CONDITION_SEVERITY_*; NONE: no comparison holds */
	double predicted_breach_s; /* smallest time to a predicted SLO breach; INFINITY: none */
};

struct condition; /* opaque, immutable once parsed */

/* Where and why condition_parse() failed. Render as "column %d: %s". */
struct condition_error {
	int column;	   /* 1-based, in characters of the text */
	char message[192]; /* lowercase, no column in it: "expected a number after '>'" */
};

void condition_facts_init(struct condition_facts *f);

/* The metric's name ("latency_p99"), or NULL when @m is out of range. */
const char *condition_metric_name(enum condition_metric m);
/* The metric called @name (any case), or -1. */
int condition_metric_find(const char *name);

/*
 * Parses @text (NUL-terminated). On success *out is the tree, caller owns:
 * condition_free(). On failure returns -EINVAL (bad text) or -E2BIG (past a
 * bound, which includes a canonical text longer than CONDITION_TEXT_MAX, so
 * that every condition's canonical text parses), leaves *out NULL and fills
 * @err (which may be NULL).
 */
PRP_MUST_CHECK int condition_parse(const char *text, struct condition **out,
				   struct condition_error *err);
void condition_free(struct condition *c);

/* Whether @c holds for @f. */
bool condition_eval(const struct condition *c, const struct condition_facts *f);

/*
 * Called once per atom of @c that holds for @f, in text order, with its
 * canonical text (valid during the call only). An atom is a primary, or a
 * "not" with everything under it ("not anomaly(latency_p99)"): a primary
 * that holds under a "not" worked against the match and is not reported.
 */
typedef void condition_match_fn(const char *atom, void *arg);
/* Returns the number of atoms reported; what the API calls matched_conditions. */
size_t condition_matched(const struct condition *c, const struct condition_facts *f,
			 condition_match_fn *fn, void *arg);

/*
 * The canonical text of @c into @buf (always NUL-terminated when @len > 0),
 * like snprintf(): returns the length the whole text needs, so a result
 * >= @len means it was cut. Canonical: lowercase keywords, base units, the
 * fewest parentheses; condition_parse() of it formats to the same text.
 */
size_t condition_format(const struct condition *c, char *buf, size_t len);
/* The canonical text in a new string; caller owns: free(). */
char *condition_to_string(const struct condition *c);

#endif
