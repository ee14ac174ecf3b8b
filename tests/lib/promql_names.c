/*
 * Names in a PromQL expression (promql_names.h). Two passes: lex() cuts the
 * expression into tokens, collect() walks them with a stack of the open
 * brackets, and the innermost one says what an identifier is: a label in
 * {...} or in a grouping clause, nothing in [...], and outside them a
 * function before '(', a keyword, or else a metric.
 */
#include "tests/lib/promql_names.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

/* Dashboards nest five or six deep; this only bounds the stack. */
#define PROMQL_MAX_DEPTH 64
/* An argument index that no call reaches. */
#define ARG_NONE UINT_MAX

enum tok_kind {
	TOK_IDENT,
	TOK_STRING,
	TOK_NUMBER,   /* numbers and durations: 0.99, 1e-3, 0x1f, 5m, 1h30m */
	TOK_VAR,      /* a Grafana variable, or an identifier with one inside */
	TOK_MATCH_OP, /* = != =~ !~ */
	TOK_OP,
	TOK_COMMA,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LBRACKET,
	TOK_RBRACKET,
};

struct tok {
	enum tok_kind kind;
	size_t start; /* byte offset in the expression */
	size_t len;
};

struct toks {
	struct tok *v;
	size_t n;
	size_t cap;
};

enum ctx_kind { CTX_PAREN, CTX_CALL, CTX_GROUPING, CTX_BRACE, CTX_RANGE };

/* Functions whose string arguments name labels; the indexes count from 0. */
struct label_fn {
	const char *name;
	unsigned dst;	    /* the argument that names a new label, or ARG_NONE */
	unsigned src_first; /* the arguments that name existing labels, or ARG_NONE */
	unsigned src_last;
};

static const struct label_fn label_fns[] = {
	{ "label_replace", 1, 3, 3 },		   /* (v, dst, replacement, src, regex) */
	{ "label_join", 1, 3, UINT_MAX - 1 },	   /* (v, dst, separator, src...) */
	{ "count_values", 0, ARG_NONE, ARG_NONE }, /* (dst, v) */
	{ "sort_by_label", ARG_NONE, 1, UINT_MAX - 1 },
	{ "sort_by_label_desc", ARG_NONE, 1, UINT_MAX - 1 },
};

/* An open bracket. */
struct ctx {
	enum ctx_kind kind;
	size_t open;		   /* offset of the bracket, for errors */
	const struct label_fn *fn; /* CTX_CALL of a function in label_fns[], else NULL */
	unsigned arg;		   /* CTX_CALL: index of the argument being read */
};

/* PromQL matches keywords and aggregation names in any case. */
static const char *const keywords[] = { "by",	       "without", "on",	 "ignoring", "group_left",
					"group_right", "bool",	  "and", "or",	     "unless",
					"atan2",       "offset",  "inf", "nan",	     NULL };
static const char *const grouping_keywords[] = { "by",	       "without",     "on", "ignoring",
						 "group_left", "group_right", NULL };
static const char *const aggregations[] = { "sum",	    "min",	   "max",    "avg",
					    "group",	    "stddev",	   "stdvar", "count",
					    "count_values", "bottomk",	   "topk",   "quantile",
					    "limitk",	    "limit_ratio", NULL };

static void position(const char *s, size_t at, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < at && s[i]; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Fills @err with "LINE:COLUMN: message" for offset @at; returns @code. */
PRP_PRINTF(6, 7)
static int fail(const char *s, size_t at, char *err, size_t errlen, int code, const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;
	int n;

	if (!err || !errlen)
		return code;
	position(s, at, &line, &col);
	n = snprintf(err, errlen, "%u:%u: ", line, col);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

static bool is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == ':';
}

static bool is_label_name(const char *p, size_t len)
{
	if (!len || !(isalpha((unsigned char)p[0]) || p[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '_')
			return false;
	return true;
}

static bool is_metric_name(const char *p, size_t len)
{
	if (!len || !is_ident_start(p[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_ident_char(p[i]))
			return false;
	return true;
}

static bool in_list(const char *const *list, const char *p, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && !strncasecmp(*list, p, len))
			return true;
	return false;
}

static const struct label_fn *find_label_fn(const char *p, size_t len)
{
	for (size_t i = 0; i < PRP_ARRAY_SIZE(label_fns); i++)
		if (strlen(label_fns[i].name) == len && !strncmp(label_fns[i].name, p, len))
			return &label_fns[i];
	return NULL;
}

static void push_tok(struct toks *t, enum tok_kind kind, size_t start, size_t end)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 32;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = (struct tok){ .kind = kind, .start = start, .len = end - start };
}

/* A Grafana variable at s[*i] == '$': $name, ${name}, ${name:format}. */
static int lex_var(const char *s, size_t *i, char *err, size_t errlen)
{
	size_t start = *i;

	if (s[start + 1] == '{') {
		const char *close = strchr(s + start + 2, '}');

		if (!close)
			return fail(s, start, err, errlen, -EINVAL, "unterminated variable '${'");
		*i = (size_t)(close - s) + 1;
		return 0;
	}
	for (*i = start + 1; isalnum((unsigned char)s[*i]) || s[*i] == '_'; (*i)++)
		;
	if (*i == start + 1)
		return fail(s, start, err, errlen, -EINVAL, "'$' without a variable name");
	return 0;
}

/* One word: identifier characters and variables run together ("x_$sfx"). */
static int lex_word(const char *s, size_t *i, bool *has_var, char *err, size_t errlen)
{
	int rc;

	*has_var = false;
	for (;;) {
		if (s[*i] == '$') {
			rc = lex_var(s, i, err, errlen);
			if (rc)
				return rc;
			*has_var = true;
		} else if (is_ident_char(s[*i])) {
			(*i)++;
		} else {
			return 0;
		}
	}
}

static int lex_string(const char *s, size_t *i, char *err, size_t errlen)
{
	char quote = s[*i];
	size_t start = *i;

	for ((*i)++; s[*i] && s[*i] != quote; (*i)++)
		if (s[*i] == '\\' && quote != '`' && s[*i + 1])
			(*i)++;
	if (!s[*i])
		return fail(s, start, err, errlen, -EINVAL, "unterminated string");
	(*i)++;
	return 0;
}

static void lex_number(const char *s, size_t *i)
{
	bool hex = s[*i] == '0' && (s[*i + 1] == 'x' || s[*i + 1] == 'X');

	for ((*i)++;; (*i)++) {
		char c = s[*i], before = s[*i - 1];

		if (isalnum((unsigned char)c) || c == '.' || c == '_')
			continue;
		if ((c == '+' || c == '-') && !hex && (before == 'e' || before == 'E'))
			continue;
		return;
	}
}

/* Operators and brackets, longest first. */
static const struct {
	const char *text;
	enum tok_kind kind;
} puncts[] = {
	{ "=~", TOK_MATCH_OP }, { "!~", TOK_MATCH_OP }, { "!=", TOK_MATCH_OP },
	{ "==", TOK_OP },	{ ">=", TOK_OP },	{ "<=", TOK_OP },
	{ "=", TOK_MATCH_OP },	{ "<", TOK_OP },	{ ">", TOK_OP },
	{ "+", TOK_OP },	{ "-", TOK_OP },	{ "*", TOK_OP },
	{ "/", TOK_OP },	{ "%", TOK_OP },	{ "^", TOK_OP },
	{ "@", TOK_OP },	{ ":", TOK_OP },	{ ",", TOK_COMMA },
	{ "(", TOK_LPAREN },	{ ")", TOK_RPAREN },	{ "{", TOK_LBRACE },
	{ "}", TOK_RBRACE },	{ "[", TOK_LBRACKET },	{ "]", TOK_RBRACKET },
};

static int lex_punct(const char *s, size_t *i, struct toks *t, char *err, size_t errlen)
{
	unsigned char c = (unsigned char)s[*i];

	for (size_t k = 0; k < PRP_ARRAY_SIZE(puncts); k++) {
		size_t len = strlen(puncts[k].text);

		if (!strncmp(s + *i, puncts[k].text, len)) {
			push_tok(t, puncts[k].kind, *i, *i + len);
			*i += len;
			return 0;
		}
	}
	if (isprint(c))
		return fail(s, *i, err, errlen, -EINVAL, "unexpected character '%c'", c);
	return fail(s, *i, err, errlen, -EINVAL, "unexpected byte 0x%02x", c);
}

static int lex(const char *s, struct toks *t, char *err, size_t errlen)
{
	size_t i = 0, start;
	bool has_var;
	int rc;

	while (s[i]) {
		char c = s[i];

		start = i;
		if (isspace((unsigned char)c)) {
			i++;
			continue;
		}
		if (c == '#') {
			while (s[i] && s[i] != '\n')
				i++;
			continue;
		}
		if (c == '"' || c == '\'' || c == '`') {
			rc = lex_string(s, &i, err, errlen);
			if (rc)
				return rc;
			push_tok(t, TOK_STRING, start, i);
		} else if (c == '[' && s[i + 1] == '[' && s[i + 2] != '[') {
			/* Grafana's old [[name]]; in "[[[name]]]" the first '[' is a range */
			const char *close = strstr(s + i + 2, "]]");

			if (!close)
				return fail(s, i, err, errlen, -EINVAL,
					    "unterminated variable '[['");
			i = (size_t)(close - s) + 2;
			push_tok(t, TOK_VAR, start, i);
		} else if (isdigit((unsigned char)c) ||
			   (c == '.' && isdigit((unsigned char)s[i + 1]))) {
			lex_number(s, &i);
			push_tok(t, TOK_NUMBER, start, i);
		} else if (is_ident_start(c) || c == '$') {
			rc = lex_word(s, &i, &has_var, err, errlen);
			if (rc)
				return rc;
			push_tok(t, has_var ? TOK_VAR : TOK_IDENT, start, i);
		} else {
			rc = lex_punct(s, &i, t, err, errlen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void add_metric(struct promql_names *out, const char *p, size_t len)
{
	for (size_t i = 0; i < out->n_metrics; i++)
		if (strlen(out->metrics[i]) == len && !strncmp(out->metrics[i], p, len))
			return;
	out->metrics = xreallocarray(out->metrics, out->n_metrics + 1, sizeof(*out->metrics));
	out->metrics[out->n_metrics++] = xstrndup(p, len);
}

static void add_label(struct promql_names *out, const char *p, size_t len, unsigned use)
{
	for (size_t i = 0; i < out->n_labels; i++) {
		if (strlen(out->labels[i]) == len && !strncmp(out->labels[i], p, len)) {
			out->label_uses[i] |= use;
			return;
		}
	}
	out->labels = xreallocarray(out->labels, out->n_labels + 1, sizeof(*out->labels));
	out->label_uses =
		xreallocarray(out->label_uses, out->n_labels + 1, sizeof(*out->label_uses));
	out->labels[out->n_labels] = xstrndup(p, len);
	out->label_uses[out->n_labels++] = use;
}

static char closer_of(enum ctx_kind kind)
{
	switch (kind) {
	case CTX_BRACE:
		return '}';
	case CTX_RANGE:
		return ']';
	default:
		return ')';
	}
}

static char opener_of(enum ctx_kind kind)
{
	switch (kind) {
	case CTX_BRACE:
		return '{';
	case CTX_RANGE:
		return '[';
	default:
		return '(';
	}
}

/* The context that the bracket t[i] opens. */
static struct ctx open_ctx(const char *s, const struct toks *t, size_t i)
{
	const struct tok *k = &t->v[i], *prev = i ? &t->v[i - 1] : NULL;
	struct ctx c = { .kind = CTX_PAREN, .open = k->start };

	if (k->kind == TOK_LBRACE) {
		c.kind = CTX_BRACE;
	} else if (k->kind == TOK_LBRACKET) {
		c.kind = CTX_RANGE;
	} else if (prev && prev->kind == TOK_IDENT) {
		const char *p = s + prev->start;

		if (in_list(grouping_keywords, p, prev->len)) {
			c.kind = CTX_GROUPING;
		} else if (!in_list(keywords, p, prev->len)) {
			c.kind = CTX_CALL;
			c.fn = find_label_fn(p, prev->len);
		}
	}
	return c;
}

/* A string literal that is a whole argument of a function in label_fns[]. */
static void string_arg(const char *s, const struct toks *t, size_t i, const struct ctx *top,
		       struct promql_names *out)
{
	const struct tok *k = &t->v[i];
	enum tok_kind before = i ? t->v[i - 1].kind : TOK_OP;
	enum tok_kind after = i + 1 < t->n ? t->v[i + 1].kind : TOK_OP;
	const char *p = s + k->start + 1; /* inside the quotes */
	size_t len = k->len - 2;
	unsigned use = 0;

	if (!top || top->kind != CTX_CALL || !top->fn)
		return;
	if ((before != TOK_LPAREN && before != TOK_COMMA) ||
	    (after != TOK_COMMA && after != TOK_RPAREN))
		return;
	if (top->arg == top->fn->dst)
		use = PROMQL_LABEL_DST;
	else if (top->arg >= top->fn->src_first && top->arg <= top->fn->src_last)
		use = PROMQL_LABEL_SRC;
	if (use && is_label_name(p, len))
		add_label(out, p, len, use);
}

/* An identifier t[i] inside {...}: a label when a matcher operator follows. */
static void matcher_ident(const char *s, const struct toks *t, size_t i, struct promql_names *out)
{
	const struct tok *k = &t->v[i];
	const struct tok *op = i + 1 < t->n ? &t->v[i + 1] : NULL;
	const struct tok *val = i + 2 < t->n ? &t->v[i + 2] : NULL;

	if (!op || op->kind != TOK_MATCH_OP)
		return;
	/* {__name__="m"} selects metric m; a regex selects names we cannot list. */
	if (k->len == 8 && !strncmp(s + k->start, "__name__", 8) && op->len == 1 && val &&
	    val->kind == TOK_STRING && is_metric_name(s + val->start + 1, val->len - 2)) {
		add_metric(out, s + val->start + 1, val->len - 2);
		return;
	}
	add_label(out, s + k->start, k->len, PROMQL_LABEL_MATCHER);
}

static void bare_ident(const char *s, const struct toks *t, size_t i, struct promql_names *out)
{
	const struct tok *k = &t->v[i];
	const char *p = s + k->start;

	if (in_list(keywords, p, k->len) || in_list(aggregations, p, k->len))
		return;
	if (i + 1 < t->n && t->v[i + 1].kind == TOK_LPAREN)
		return; /* a function */
	add_metric(out, p, k->len);
}

static int collect(const char *s, const struct toks *t, struct promql_names *out, char *err,
		   size_t errlen)
{
	struct ctx stack[PROMQL_MAX_DEPTH];
	size_t depth = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct tok *k = &t->v[i];
		struct ctx *top = depth ? &stack[depth - 1] : NULL;
		unsigned line, col;

		switch (k->kind) {
		case TOK_LPAREN:
		case TOK_LBRACE:
		case TOK_LBRACKET:
			if (depth == PROMQL_MAX_DEPTH)
				return fail(s, k->start, err, errlen, -E2BIG,
					    "brackets nested deeper than %d", PROMQL_MAX_DEPTH);
			stack[depth++] = open_ctx(s, t, i);
			break;
		case TOK_RPAREN:
		case TOK_RBRACE:
		case TOK_RBRACKET:
			if (!top)
				return fail(s, k->start, err, errlen, -EINVAL,
					    "unbalanced '%c': nothing to close", s[k->start]);
			if (closer_of(top->kind) != s[k->start]) {
				position(s, top->open, &line, &col);
				return fail(s, k->start, err, errlen, -EINVAL,
					    "unbalanced '%c': '%c' opened at %u:%u is still open",
					    s[k->start], opener_of(top->kind), line, col);
			}
			depth--;
			break;
		case TOK_COMMA:
			if (top && top->kind == CTX_CALL)
				top->arg++;
			break;
		case TOK_STRING:
			string_arg(s, t, i, top, out);
			break;
		case TOK_IDENT:
			if (top && top->kind == CTX_RANGE)
				break;
			if (top && top->kind == CTX_BRACE)
				matcher_ident(s, t, i, out);
			else if (top && top->kind == CTX_GROUPING)
				add_label(out, s + k->start, k->len, PROMQL_LABEL_GROUPING);
			else
				bare_ident(s, t, i, out);
			break;
		default:
			break;
		}
	}
	if (depth)
		return fail(s, stack[depth - 1].open, err, errlen, -EINVAL,
			    "unbalanced '%c': never closed", opener_of(stack[depth - 1].kind));
	return 0;
}

int promql_names(const char *expr, struct promql_names *out, char *err, size_t errlen)
{
	struct toks t = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	rc = lex(expr, &t, err, errlen);
	if (!rc)
		rc = collect(expr, &t, out, err, errlen);
	free(t.v);
	if (rc)
		promql_names_release(out);
	return rc;
}

void promql_names_release(struct promql_names *names)
{
	for (size_t i = 0; i < names->n_metrics; i++)
		free(names->metrics[i]);
	for (size_t i = 0; i < names->n_labels; i++)
		free(names->labels[i]);
	free(names->metrics);
	free(names->labels);
	free(names->label_uses);
	memset(names, 0, sizeof(*names));
}

bool promql_names_has_metric(const struct promql_names *names, const char *metric)
{
	for (size_t i = 0; i < names->n_metrics; i++)
		if (!strcmp(names->metrics[i], metric))
			return true;
	return false;
}

unsigned promql_names_label_uses(const struct promql_names *names, const char *label)
{
	for (size_t i = 0; i < names->n_labels; i++)
		if (!strcmp(names->labels[i], label))
			return names->label_uses[i];
	return 0;
}
