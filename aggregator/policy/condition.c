/*
 * The condition language: a recursive-descent parser over a one-token
 * lookahead lexer, building nodes into a fixed array (CONDITION_NODES_MAX)
 * that is copied into one allocation at the end, so a condition is freed
 * with one free() and a failed parse leaves nothing behind.
 *
 * Recursion is bounded twice: the parser only recurses through "(" and
 * "not" (CONDITION_DEPTH_MAX levels); "and" and "or" chains are loops that
 * build left-leaning trees, whose height is bounded by the node count, so
 * evaluation and formatting recurse at most CONDITION_NODES_MAX deep.
 */
#include "aggregator/policy/condition.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/strparse.h"

enum node_kind { NODE_OR, NODE_AND, NODE_NOT, NODE_METRIC, NODE_ANOMALY, NODE_SEVERITY, NODE_BREACH };
enum cmp_op { OP_GT, OP_GE, OP_LT, OP_LE, OP_EQ, OP_NE };

struct node {
	double value;	 /* the right-hand side, in the metric's base unit */
	uint16_t left;	 /* children of OR, AND (both) and NOT (left) */
	uint16_t right;
	uint8_t kind;	 /* enum node_kind */
	uint8_t op;	 /* enum cmp_op */
	int8_t metric;	 /* enum condition_metric; -1 for anomaly() on any metric */
};

struct condition {
	uint16_t root;
	uint16_t n;
	struct node node[];
};

/* How a metric's numbers are written: decides which suffixes are allowed. */
enum value_unit { UNIT_PLAIN, UNIT_RATIO, UNIT_MS, UNIT_SECONDS };

static const struct {
	const char *name;
	enum value_unit unit;
} metrics[CONDITION_METRIC_COUNT] = {
	[CONDITION_REQUEST_RATE] = { "request_rate", UNIT_PLAIN },
	[CONDITION_ERROR_RATE] = { "error_rate", UNIT_RATIO },
	[CONDITION_LATENCY_P50] = { "latency_p50", UNIT_MS },
	[CONDITION_LATENCY_P95] = { "latency_p95", UNIT_MS },
	[CONDITION_LATENCY_P99] = { "latency_p99", UNIT_MS },
	[CONDITION_SYSCALL_ERROR_RATE] = { "syscall_error_rate", UNIT_RATIO },
	[CONDITION_TCP_RETRANSMITS] = { "tcp_retransmits", UNIT_PLAIN },
	[CONDITION_TCP_RESETS] = { "tcp_resets", UNIT_PLAIN },
	[CONDITION_TCP_CONNECT_FAILURES] = { "tcp_connect_failures", UNIT_PLAIN },
};
#define KNOWN_METRICS                                                                       \
	"request_rate, error_rate, latency_p50, latency_p95, latency_p99, syscall_error_rate, " \
	"tcp_retransmits, tcp_resets, tcp_connect_failures"

static const char *const op_text[] = { ">", ">=", "<", "<=", "==", "!=" };
static const char *const level_text[] = { "info", "warning", "critical" };

void condition_facts_init(struct condition_facts *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < CONDITION_METRIC_COUNT; i++)
		f->metric[i] = NAN;
	f->max_severity = CONDITION_SEVERITY_NONE;
	f->predicted_breach_s = INFINITY;
}

const char *condition_metric_name(enum condition_metric m)
{
	return (unsigned)m < CONDITION_METRIC_COUNT ? metrics[m].name : NULL;
}

int condition_metric_find(const char *name)
{
	for (int i = 0; i < CONDITION_METRIC_COUNT; i++)
		if (!strcasecmp(name, metrics[i].name))
			return i;
	return -1;
}

/* ---- lexer ---- */

enum tok_kind { TOK_END, TOK_WORD, TOK_NUMBER, TOK_OP, TOK_LPAREN, TOK_RPAREN, TOK_BAD };

struct token {
	enum tok_kind kind;
	size_t start, len; /* bytes of the text */
	enum cmp_op op;	   /* TOK_OP */
};

struct parser {
	const char *text;
	size_t pos; /* where the lexer goes on, after tok */
	struct token tok;
	int depth;
	size_t n;
	struct node node[CONDITION_NODES_MAX];
	struct condition_error *err;
};

static bool is_word_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool is_number_start(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]));
}

/* A number with its unit: [+-] digits and dots, an exponent, then letters or '%'. */
static size_t number_len(const char *s)
{
	size_t i = (*s == '-' || *s == '+');

	while (isdigit((unsigned char)s[i]) || s[i] == '.')
		i++;
	if ((s[i] == 'e' || s[i] == 'E') &&
	    (isdigit((unsigned char)s[i + 1]) ||
	     ((s[i + 1] == '-' || s[i + 1] == '+') && isdigit((unsigned char)s[i + 2])))) {
		i += 2;
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	while (isalpha((unsigned char)s[i]) || s[i] == '%')
		i++;
	return i;
}

static size_t op_len(const char *s, enum cmp_op *op)
{
	static const struct {
		const char *text;
		enum cmp_op op;
	} ops[] = { { ">=", OP_GE }, { "<=", OP_LE }, { "==", OP_EQ }, { "!=", OP_NE },
		    { ">", OP_GT },  { "<", OP_LT } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].text);

		if (!strncmp(s, ops[i].text, n)) {
			*op = ops[i].op;
			return n;
		}
	}
	return 0;
}

static void advance(struct parser *p)
{
	const char *s = p->text;
	struct token *t = &p->tok;
	size_t i = p->pos;

	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	t->start = i;
	t->len = 1;
	if (!s[i]) {
		t->kind = TOK_END;
		t->len = 0;
	} else if (is_word_start(s[i])) {
		t->kind = TOK_WORD;
		while (isalnum((unsigned char)s[i + t->len]) || s[i + t->len] == '_')
			t->len++;
	} else if (is_number_start(s + i)) {
		t->kind = TOK_NUMBER;
		t->len = number_len(s + i);
	} else if (s[i] == '(' || s[i] == ')') {
		t->kind = s[i] == '(' ? TOK_LPAREN : TOK_RPAREN;
	} else if ((t->len = op_len(s + i, &t->op))) {
		t->kind = TOK_OP;
	} else {
		t->kind = TOK_BAD;
		t->len = 1;
	}
	p->pos = i + t->len;
}

static bool tok_is(const struct parser *p, const char *word)
{
	return p->tok.kind == TOK_WORD && strlen(word) == p->tok.len &&
	       !strncasecmp(p->text + p->tok.start, word, p->tok.len);
}

static bool tok_is_keyword(const struct parser *p)
{
	return tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not");
}

/* ---- errors ---- */

/* libyaml counts columns in characters: so do we (UTF-8 continuation bytes are not counted). */
static int column_of(const char *text, size_t at)
{
	int col = 1;

	for (size_t i = 0; i < at && text[i]; i++)
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			col++;
	return col;
}

static PRP_PRINTF(4, 5) int fail(struct parser *p, size_t at, int code, const char *fmt, ...)
{
	va_list ap;

	if (!p->err)
		return code;
	p->err->column = column_of(p->text, at);
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return code;
}

/* The current token for a message: 'text' (cut at 40 bytes) or "the end of the text". */
static const char *tok_desc(const struct parser *p, char *buf, size_t len)
{
	int n = p->tok.len > 40 ? 40 : (int)p->tok.len;

	if (p->tok.kind == TOK_END)
		return "the end of the text";
	snprintf(buf, len, "'%.*s%s'", n, p->text + p->tok.start, p->tok.len > 40 ? "..." : "");
	return buf;
}

/* ---- parser ---- */

static int add_node(struct parser *p, size_t at, const struct node *nd, int *idx)
{
	if (p->n >= CONDITION_NODES_MAX)
		return fail(p, at, -E2BIG, "more than %d operators and conditions",
			    CONDITION_NODES_MAX);
	p->node[p->n] = *nd;
	*idx = (int)p->n++;
	return 0;
}

static int enter(struct parser *p)
{
	if (++p->depth > CONDITION_DEPTH_MAX)
		return fail(p, p->tok.start, -E2BIG, "nested deeper than %d levels",
			    CONDITION_DEPTH_MAX);
	return 0;
}

static int parse_or(struct parser *p, int *out);

/* The number of the current token in the unit of @unit; @what names the left side. */
static int number_value(struct parser *p, enum value_unit unit, const char *what, double *out)
{
	char num[64], q[64];
	uint64_t ns;
	size_t len = p->tok.len;
	int err = 0;

	if (p->tok.kind != TOK_NUMBER)
		return fail(p, p->tok.start, -EINVAL, "expected a number after '%s', got %s", what,
			    tok_desc(p, q, sizeof(q)));
	if (len >= sizeof(num))
		return fail(p, p->tok.start, -EINVAL, "number longer than %zu characters",
			    sizeof(num) - 1);
	memcpy(num, p->text + p->tok.start, len);
	num[len] = '\0';
	if (unit == UNIT_MS || unit == UNIT_SECONDS) {
		/* strparse owns the unit names (STYLE.md §7); a bare number is ms or s */
		err = strparse_duration_ns(num, unit == UNIT_MS ? 1000000ull : 1000000000ull, &ns);
		/*
		 * Below 2^53 ns every count is an exact double, so the canonical
		 * text reads back to the same ns; 90 days is past any latency or
		 * prediction horizon and below 2^53 ns (104 days).
		 */
		if (!err && ns > 90ull * 86400 * 1000000000)
			err = -ERANGE;
		*out = (double)ns / (unit == UNIT_MS ? 1e6 : 1e9);
	} else {
		bool pct = unit == UNIT_RATIO && len > 1 && num[len - 1] == '%';

		if (pct)
			num[len - 1] = '\0';
		err = strparse_double(num, -DBL_MAX, DBL_MAX, out);
		if (!err && pct)
			*out /= 100;
	}
	if (err == -ERANGE)
		return fail(p, p->tok.start, -EINVAL, "number '%s' is out of range%s", num,
			    unit == UNIT_MS || unit == UNIT_SECONDS ? " (at most 90 days)" : "");
	if (err)
		return fail(p, p->tok.start, -EINVAL, "'%s' is not a %s", num,
			    unit == UNIT_MS	   ? "latency (500, 500ms, 0.5s)"
			    : unit == UNIT_SECONDS ? "duration (300, 300s, 5m)"
			    : unit == UNIT_RATIO   ? "ratio (0.05 or 5%)"
						   : "number");
	return 0;
}

static int expect_op(struct parser *p, const char *what, enum cmp_op *op)
{
	char q[64];

	if (p->tok.kind != TOK_OP)
		return fail(p, p->tok.start, -EINVAL,
			    "expected a comparison (> >= < <= == !=) after '%s', got %s", what,
			    tok_desc(p, q, sizeof(q)));
	*op = p->tok.op;
	advance(p);
	return 0;
}

static int parse_metric(struct parser *p, int metric, int *out)
{
	struct node nd = { .kind = NODE_METRIC, .metric = (int8_t)metric };
	size_t at = p->tok.start, vat;
	enum cmp_op op = OP_GT;
	int err;

	advance(p);
	err = expect_op(p, metrics[metric].name, &op);
	if (err)
		return err;
	nd.op = op;
	vat = p->tok.start;
	err = number_value(p, metrics[metric].unit, op_text[op], &nd.value);
	if (err)
		return err;
	if (metrics[metric].unit == UNIT_RATIO && (nd.value < 0 || nd.value > 1))
		return fail(p, vat, -EINVAL, "%s is a ratio from 0 to 1: write 0.05 or 5%%",
			    metrics[metric].name);
	advance(p);
	return add_node(p, at, &nd, out);
}

static int parse_severity(struct parser *p, int *out)
{
	static const char *const aliases[] = { "low", "medium", "high" };
	struct node nd = { .kind = NODE_SEVERITY, .metric = -1 };
	size_t at = p->tok.start;
	char q[64];
	enum cmp_op op = OP_GT;
	int err;

	advance(p);
	err = expect_op(p, "severity", &op);
	if (err)
		return err;
	nd.op = op;
	nd.value = -1;
	for (int i = 0; i < 3; i++)
		if (tok_is(p, level_text[i]) || tok_is(p, aliases[i]))
			nd.value = i;
	if (nd.value < 0)
		return fail(p, p->tok.start, -EINVAL,
			    "expected a severity (info, warning, critical) after '%s', got %s",
			    op_text[op], tok_desc(p, q, sizeof(q)));
	advance(p);
	return add_node(p, at, &nd, out);
}

static int parse_breach(struct parser *p, int *out)
{
	struct node nd = { .kind = NODE_BREACH, .metric = -1 };
	size_t at = p->tok.start;
	enum cmp_op op = OP_GT;
	int err;

	advance(p);
	err = expect_op(p, "predicted_breach", &op);
	if (err)
		return err;
	nd.op = op;
	err = number_value(p, UNIT_SECONDS, op_text[op], &nd.value);
	if (err)
		return err;
	advance(p);
	return add_node(p, at, &nd, out);
}

/* "anomaly", "anomaly()" or "anomaly(METRIC)". */
static int parse_anomaly(struct parser *p, int *out)
{
	struct node nd = { .kind = NODE_ANOMALY, .metric = -1 };
	size_t at = p->tok.start, open;
	char q[64];

	advance(p);
	if (p->tok.kind != TOK_LPAREN)
		return add_node(p, at, &nd, out);
	open = p->tok.start;
	advance(p);
	if (p->tok.kind == TOK_WORD) {
		char name[64];
		int n = p->tok.len > 40 ? 40 : (int)p->tok.len;

		snprintf(name, sizeof(name), "%.*s", n, p->text + p->tok.start);
		nd.metric = (int8_t)condition_metric_find(name);
		if (nd.metric < 0 || p->tok.len > 40)
			return fail(p, p->tok.start, -EINVAL, "unknown metric '%s' (known: %s)",
				    name, KNOWN_METRICS);
		advance(p);
	}
	if (p->tok.kind != TOK_RPAREN)
		return fail(p, p->tok.start, -EINVAL,
			    "expected ')' to close the '(' at column %d, got %s",
			    column_of(p->text, open), tok_desc(p, q, sizeof(q)));
	advance(p);
	return add_node(p, at, &nd, out);
}

static int parse_paren(struct parser *p, int *out)
{
	size_t open = p->tok.start;
	char q[64];
	int err;

	err = enter(p);
	if (err)
		return err;
	advance(p);
	err = parse_or(p, out);
	if (err)
		return err;
	if (p->tok.kind != TOK_RPAREN)
		return fail(p, p->tok.start, -EINVAL,
			    "expected ')' to close the '(' at column %d, got %s",
			    column_of(p->text, open), tok_desc(p, q, sizeof(q)));
	advance(p);
	p->depth--;
	return 0;
}

static int parse_primary(struct parser *p, int *out)
{
	char q[64];
	int metric;

	if (p->tok.kind == TOK_LPAREN)
		return parse_paren(p, out);
	if (p->tok.kind != TOK_WORD || tok_is_keyword(p))
		return fail(p, p->tok.start, -EINVAL, "expected a condition, got %s",
			    tok_desc(p, q, sizeof(q)));
	if (tok_is(p, "anomaly"))
		return parse_anomaly(p, out);
	if (tok_is(p, "severity"))
		return parse_severity(p, out);
	if (tok_is(p, "predicted_breach"))
		return parse_breach(p, out);
	metric = -1;
	if (p->tok.len < 64) {
		char name[64];

		memcpy(name, p->text + p->tok.start, p->tok.len);
		name[p->tok.len] = '\0';
		metric = condition_metric_find(name);
	}
	if (metric < 0)
		return fail(p, p->tok.start, -EINVAL, "unknown metric %s (known: %s)",
			    tok_desc(p, q, sizeof(q)), KNOWN_METRICS);
	return parse_metric(p, metric, out);
}

static int parse_unary(struct parser *p, int *out)
{
	struct node nd = { .kind = NODE_NOT, .metric = -1 };
	size_t at = p->tok.start;
	int err, child;

	if (!tok_is(p, "not"))
		return parse_primary(p, out);
	err = enter(p);
	if (err)
		return err;
	advance(p);
	err = parse_unary(p, &child);
	if (err)
		return err;
	p->depth--;
	nd.left = (uint16_t)child;
	return add_node(p, at, &nd, out);
}

/* A left-leaning chain of @kind joined by @word, each side parsed by @sub. */
static int parse_chain(struct parser *p, enum node_kind kind, const char *word,
		       int (*sub)(struct parser *, int *), int *out)
{
	int err, right;

	err = sub(p, out);
	while (!err && tok_is(p, word)) {
		struct node nd = { .kind = (uint8_t)kind, .metric = -1, .left = (uint16_t)*out };
		size_t at = p->tok.start;

		advance(p);
		err = sub(p, &right);
		if (err)
			break;
		nd.right = (uint16_t)right;
		err = add_node(p, at, &nd, out);
	}
	return err;
}

static int parse_and(struct parser *p, int *out)
{
	return parse_chain(p, NODE_AND, "and", parse_unary, out);
}

static int parse_or(struct parser *p, int *out)
{
	return parse_chain(p, NODE_OR, "or", parse_and, out);
}

int condition_parse(const char *text, struct condition **out, struct condition_error *err)
{
	struct parser *p;
	size_t len = strnlen(text, CONDITION_TEXT_MAX + 1);
	char q[64];
	int ret, root;

	*out = NULL;
	if (len > CONDITION_TEXT_MAX) {
		if (err) {
			err->column = column_of(text, CONDITION_TEXT_MAX);
			snprintf(err->message, sizeof(err->message),
				 "condition longer than %d bytes", CONDITION_TEXT_MAX);
		}
		return -E2BIG;
	}
	/* about 6 KiB of nodes: on the heap, callers may run on small thread stacks */
	p = xcalloc(1, sizeof(*p));
	p->text = text;
	p->err = err;
	advance(p);
	ret = parse_or(p, &root);
	if (!ret && p->tok.kind != TOK_END)
		ret = fail(p, p->tok.start, -EINVAL, "expected 'and', 'or' or the end, got %s",
			   tok_desc(p, q, sizeof(q)));
	if (!ret) {
		*out = xmalloc(sizeof(**out) + p->n * sizeof(struct node));
		(*out)->root = (uint16_t)root;
		(*out)->n = (uint16_t)p->n;
		memcpy((*out)->node, p->node, p->n * sizeof(struct node));
	}
	free(p);
	/*
	 * Canonical text can be longer than what was written (">.5" is "> 0.5"):
	 * refuse what could not be parsed back from its own canonical text.
	 */
	if (!ret && condition_format(*out, NULL, 0) > CONDITION_TEXT_MAX) {
		condition_free(*out);
		*out = NULL;
		if (err) {
			err->column = 1;
			snprintf(err->message, sizeof(err->message),
				 "condition longer than %d bytes once written canonically",
				 CONDITION_TEXT_MAX);
		}
		ret = -E2BIG;
	}
	return ret;
}

void condition_free(struct condition *c)
{
	free(c);
}

/* ---- evaluation ---- */

static bool compare(double a, enum cmp_op op, double b)
{
	if (isnan(a) || isnan(b)) /* unknown: no comparison holds, not even != */
		return false;
	switch (op) {
	case OP_GT:
		return a > b;
	case OP_GE:
		return a >= b;
	case OP_LT:
		return a < b;
	case OP_LE:
		return a <= b;
	case OP_EQ:
		return a == b;
	default:
		return a != b;
	}
}

static bool any_anomaly(const struct condition_facts *f)
{
	for (size_t i = 0; i < CONDITION_METRIC_COUNT; i++)
		if (f->anomaly[i])
			return true;
	return f->anomaly_other;
}

static bool eval_node(const struct condition *c, unsigned i, const struct condition_facts *f)
{
	const struct node *nd = &c->node[i];

	switch (nd->kind) {
	case NODE_OR:
		return eval_node(c, nd->left, f) || eval_node(c, nd->right, f);
	case NODE_AND:
		return eval_node(c, nd->left, f) && eval_node(c, nd->right, f);
	case NODE_NOT:
		return !eval_node(c, nd->left, f);
	case NODE_METRIC:
		return compare(f->metric[nd->metric], nd->op, nd->value);
	case NODE_ANOMALY:
		return nd->metric < 0 ? any_anomaly(f) : f->anomaly[nd->metric];
	case NODE_SEVERITY:
		/* nothing open is below every level yet matches none: "severity < warning" is false */
		return f->max_severity >= 0 && compare(f->max_severity, nd->op, nd->value);
	default:
		return compare(f->predicted_breach_s, nd->op, nd->value);
	}
}

bool condition_eval(const struct condition *c, const struct condition_facts *f)
{
	return eval_node(c, c->root, f);
}

/* ---- formatting ---- */

struct out {
	char *buf;
	size_t len, need; /* need: what the whole text takes, may pass len */
};

static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->need < o->len) {
		size_t room = o->len - o->need - 1;

		memcpy(o->buf + o->need, s, n < room ? n : room);
		o->buf[o->need + (n < room ? n : room)] = '\0';
	}
	o->need += n;
}

/*
 * The shortest of %.15g and %.17g that reads back as @v, so parse(format) is
 * exact. A duration (@decimals 6 for ms, 9 for s) is a whole number of ns
 * (number_value()): it is written as that, in fixed point with the trailing
 * zeros cut, since %.17g of ns / 1e9 can read back as the neighbouring ns.
 */
static void put_number(struct out *o, double v, int decimals)
{
	char s[48];

	if (decimals) {
		size_t n = (size_t)snprintf(s, sizeof(s), "%.*f", decimals, v);

		while (n > 1 && s[n - 1] == '0')
			s[--n] = '\0';
		if (n > 1 && s[n - 1] == '.')
			s[--n] = '\0';
		put(o, s);
		return;
	}
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	put(o, s);
}

static int prec(const struct node *nd)
{
	return nd->kind == NODE_OR ? 1 : nd->kind == NODE_AND ? 2 : nd->kind == NODE_NOT ? 3 : 4;
}

static void put_node(struct out *o, const struct condition *c, unsigned i);

static void put_child(struct out *o, const struct condition *c, unsigned i, bool parens)
{
	if (parens)
		put(o, "(");
	put_node(o, c, i);
	if (parens)
		put(o, ")");
}

static void put_node(struct out *o, const struct condition *c, unsigned i)
{
	const struct node *nd = &c->node[i];

	switch (nd->kind) {
	case NODE_OR:
	case NODE_AND:
		/* chains lean left: a right child of the same precedence was written in ( ) */
		put_child(o, c, nd->left, prec(&c->node[nd->left]) < prec(nd));
		put(o, nd->kind == NODE_OR ? " or " : " and ");
		put_child(o, c, nd->right, prec(&c->node[nd->right]) <= prec(nd));
		return;
	case NODE_NOT:
		put(o, "not ");
		put_child(o, c, nd->left, prec(&c->node[nd->left]) < prec(nd));
		return;
	case NODE_ANOMALY:
		put(o, "anomaly(");
		put(o, nd->metric < 0 ? "" : metrics[nd->metric].name);
		put(o, ")");
		return;
	default:
		break;
	}
	put(o, nd->kind == NODE_METRIC	   ? metrics[nd->metric].name
	       : nd->kind == NODE_SEVERITY ? "severity"
					   : "predicted_breach");
	put(o, " ");
	put(o, op_text[nd->op]);
	put(o, " ");
	if (nd->kind == NODE_SEVERITY)
		put(o, level_text[(int)nd->value]);
	else if (nd->kind == NODE_BREACH)
		put_number(o, nd->value, 9);
	else
		put_number(o, nd->value, metrics[nd->metric].unit == UNIT_MS ? 6 : 0);
}

static char *node_string(const struct condition *c, unsigned i)
{
	struct out o = { 0 };

	put_node(&o, c, i);
	o.len = o.need + 1;
	o.buf = xmalloc(o.len);
	o.need = 0;
	o.buf[0] = '\0';
	put_node(&o, c, i);
	return o.buf;
}

size_t condition_format(const struct condition *c, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };

	if (len)
		buf[0] = '\0';
	put_node(&o, c, c->root);
	return o.need;
}

char *condition_to_string(const struct condition *c)
{
	return node_string(c, c->root);
}

static size_t match_node(const struct condition *c, unsigned i, const struct condition_facts *f,
			 condition_match_fn *fn, void *arg)
{
	const struct node *nd = &c->node[i];
	char *text;

	if (nd->kind == NODE_OR || nd->kind == NODE_AND)
		return match_node(c, nd->left, f, fn, arg) + match_node(c, nd->right, f, fn, arg);
	if (!eval_node(c, i, f))
		return 0;
	text = node_string(c, i);
	fn(text, arg);
	free(text);
	return 1;
}

size_t condition_matched(const struct condition *c, const struct condition_facts *f,
			 condition_match_fn *fn, void *arg)
{
	return match_node(c, c->root, f, fn, arg);
}
