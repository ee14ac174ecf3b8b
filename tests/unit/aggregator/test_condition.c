/*
 * The condition language (aggregator/policy/condition.c): every operator,
 * precedence and parentheses, units, severity and anomaly forms, unknown
 * (NaN) metrics, the canonical text and its round trip, matched atoms, and
 * every error with its column.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/condition.h"
#include "tests/lib/leakcheck.h"

TestSuite(condition, .fini = test_no_leaks);

static struct condition *parse_ok(const char *text)
{
	struct condition_error ce = { 0 };
	struct condition *c = NULL;
	int err = condition_parse(text, &c, &ce);

	cr_assert_eq(err, 0, "'%s': column %d: %s", text, ce.column, ce.message);
	return c;
}

static bool holds(const char *text, const struct condition_facts *f)
{
	struct condition *c = parse_ok(text);
	bool r = condition_eval(c, f);

	condition_free(c);
	return r;
}

static void expect_canonical(const char *text, const char *want)
{
	struct condition *c = parse_ok(text), *again;
	char *s = condition_to_string(c), *s2;

	cr_expect_str_eq(s, want, "'%s'", text);
	again = parse_ok(s);
	s2 = condition_to_string(again);
	cr_expect_str_eq(s2, s, "round trip of '%s'", text);
	free(s2);
	free(s);
	condition_free(again);
	condition_free(c);
}

static void expect_error(const char *text, int code, int column, const char *part)
{
	struct condition_error ce = { 0 };
	struct condition *c = (struct condition *)1;

	cr_expect_eq(condition_parse(text, &c, &ce), code, "'%s' accepted", text);
	cr_expect_null(c);
	cr_expect_eq(ce.column, column, "'%s': column %d, want %d (%s)", text, ce.column, column,
		     ce.message);
	cr_expect(strstr(ce.message, part) != NULL, "'%s': '%s' lacks '%s'", text, ce.message,
		  part);
}

Test(condition, every_operator_compares_and_nan_never_matches)
{
	struct condition_facts f;

	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.2;
	cr_expect(!holds("error_rate > 0.2", &f));
	cr_expect(holds("error_rate >= 0.2", &f));
	cr_expect(!holds("error_rate < 0.2", &f));
	cr_expect(holds("error_rate <= 0.2", &f));
	cr_expect(holds("error_rate == 0.2", &f));
	cr_expect(!holds("error_rate != 0.2", &f));
	cr_expect(holds("error_rate != 0.1", &f));
	/* unknown metrics: no comparison holds, not even != */
	cr_expect(!holds("latency_p99 > 0", &f));
	cr_expect(!holds("latency_p99 <= 0", &f));
	cr_expect(!holds("latency_p99 != 5", &f));
	cr_expect(holds("not latency_p99 > 0", &f));
}

Test(condition, and_binds_tighter_than_or_and_parentheses_override)
{
	struct condition_facts f;

	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.5;
	f.metric[CONDITION_LATENCY_P99] = 100;
	f.metric[CONDITION_REQUEST_RATE] = 10;
	/* true or (false and false) */
	cr_expect(holds("error_rate > 0.2 or latency_p99 > 500 and request_rate > 100", &f));
	cr_expect(!holds("(error_rate > 0.2 or latency_p99 > 500) and request_rate > 100", &f));
	cr_expect(holds("request_rate > 100 and latency_p99 > 500 or error_rate > 0.2", &f));
	cr_expect(holds("NOT latency_p99 > 500 AND error_rate > 0.2", &f));
	cr_expect(!holds("not (latency_p99 < 500 and error_rate > 0.2)", &f));
	cr_expect(holds("not not error_rate > 0.2", &f));
	expect_canonical("error_rate > 0.2 OR latency_p99 > 500 And request_rate > 100",
			 "error_rate > 0.2 or latency_p99 > 500 and request_rate > 100");
	expect_canonical("(error_rate > 0.2 or latency_p99 > 500) and request_rate > 100",
			 "(error_rate > 0.2 or latency_p99 > 500) and request_rate > 100");
	expect_canonical("((error_rate > 0.2))", "error_rate > 0.2");
	expect_canonical("(request_rate > 1 and request_rate > 2) and request_rate > 3",
			 "request_rate > 1 and request_rate > 2 and request_rate > 3");
	expect_canonical("request_rate > 1 and (request_rate > 2 and request_rate > 3)",
			 "request_rate > 1 and (request_rate > 2 and request_rate > 3)");
	expect_canonical("not (error_rate > 0.1 or anomaly)", "not (error_rate > 0.1 or anomaly())");
}

Test(condition, percent_and_units_are_base_units)
{
	struct condition_facts f;

	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.06;
	f.metric[CONDITION_LATENCY_P99] = 600;
	f.metric[CONDITION_SYSCALL_ERROR_RATE] = 0.001;
	cr_expect(holds("latency_p99 >= 500 and error_rate > 5%", &f));
	cr_expect(holds("latency_p99 > 500ms", &f));
	cr_expect(holds("latency_p99 > 0.5s", &f));
	cr_expect(!holds("latency_p99 > 1s", &f));
	cr_expect(holds("syscall_error_rate < 0.2%", &f));
	cr_expect(holds("error_rate > 6e-2 or error_rate == 6E-2", &f));
	expect_canonical("error_rate > 5%", "error_rate > 0.05");
	expect_canonical("latency_p99 > 0.5s", "latency_p99 > 500");
	expect_canonical("latency_p50 > 1500us", "latency_p50 > 1.5");
	expect_canonical("predicted_breach < 5m", "predicted_breach < 300");
	expect_canonical("tcp_resets > 1e3", "tcp_resets > 1000");
	expect_canonical("request_rate >= .5", "request_rate >= 0.5");
	expect_canonical("tcp_connect_failures>=0.1", "tcp_connect_failures >= 0.1");
	expect_canonical("tcp_retransmits > 0.30000000000000004", "tcp_retransmits > 0.30000000000000004");
	expect_canonical("latency_p95 > 1h", "latency_p95 > 3600000");
}

Test(condition, severity_levels_and_aliases)
{
	struct condition_facts f;

	condition_facts_init(&f);
	cr_expect(!holds("severity >= info", &f), "nothing open matches no level");
	cr_expect(!holds("severity < critical", &f));
	f.max_severity = CONDITION_SEVERITY_WARNING;
	cr_expect(holds("severity >= warning", &f));
	cr_expect(holds("severity >= medium", &f));
	cr_expect(holds("severity > low", &f));
	cr_expect(holds("severity < high", &f));
	cr_expect(!holds("severity == critical", &f));
	cr_expect(holds("severity != info", &f));
	cr_expect(holds("SEVERITY >= Warning", &f));
	expect_canonical("severity >= HIGH", "severity >= critical");
	expect_canonical("severity < medium", "severity < warning");
	expect_canonical("severity == low", "severity == info");
}

Test(condition, anomaly_forms)
{
	struct condition_facts f;

	condition_facts_init(&f);
	cr_expect(!holds("anomaly", &f));
	cr_expect(!holds("anomaly()", &f));
	cr_expect(holds("not anomaly(latency_p99)", &f));
	f.anomaly_other = true;
	cr_expect(holds("anomaly", &f), "any metric, even one outside the table");
	f.anomaly_other = false;
	f.anomaly[CONDITION_LATENCY_P99] = true;
	cr_expect(holds("anomaly()", &f));
	cr_expect(holds("Anomaly(latency_p99)", &f));
	cr_expect(!holds("anomaly(error_rate)", &f));
	cr_expect(!holds("not anomaly(latency_p99)", &f));
	expect_canonical("anomaly", "anomaly()");
	expect_canonical("anomaly ( latency_p99 )", "anomaly(latency_p99)");
	expect_canonical("not anomaly(latency_p99)", "not anomaly(latency_p99)");
}

Test(condition, predicted_breach_is_infinite_without_a_prediction)
{
	struct condition_facts f;

	condition_facts_init(&f);
	cr_expect(!holds("predicted_breach < 300", &f));
	cr_expect(holds("predicted_breach > 300", &f));
	f.predicted_breach_s = 120;
	cr_expect(holds("predicted_breach < 5m", &f));
	cr_expect(holds("predicted_breach <= 120s", &f));
	cr_expect(!holds("predicted_breach < 2m", &f));
}

Test(condition, the_example_of_the_api)
{
	struct condition_facts f;
	const char *text = "(error_rate > 0.2 or anomaly(latency_p99)) and severity >= warning";

	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.01;
	f.anomaly[CONDITION_LATENCY_P99] = true;
	cr_expect(!holds(text, &f), "no severity");
	f.max_severity = CONDITION_SEVERITY_CRITICAL;
	cr_expect(holds(text, &f));
	expect_canonical(text, text);
}

struct matches {
	char text[8][128];
	size_t n;
};

static void collect(const char *atom, void *arg)
{
	struct matches *m = arg;

	cr_assert_lt(m->n, 8);
	snprintf(m->text[m->n++], sizeof(m->text[0]), "%s", atom);
}

Test(condition, matched_reports_the_atoms_that_hold)
{
	struct condition *c = parse_ok("(error_rate > 5% or anomaly(latency_p99)) and not "
				       "anomaly(error_rate) and not (latency_p99 > 1s or severity "
				       ">= high) or predicted_breach < 60");
	struct condition_facts f;
	struct matches m = { 0 };

	condition_facts_init(&f);
	f.metric[CONDITION_ERROR_RATE] = 0.1;
	f.metric[CONDITION_LATENCY_P99] = 200;
	f.anomaly[CONDITION_LATENCY_P99] = true;
	cr_expect(condition_eval(c, &f));
	cr_expect_eq(condition_matched(c, &f, collect, &m), 4);
	cr_assert_eq(m.n, 4);
	cr_expect_str_eq(m.text[0], "error_rate > 0.05");
	cr_expect_str_eq(m.text[1], "anomaly(latency_p99)");
	cr_expect_str_eq(m.text[2], "not anomaly(error_rate)");
	cr_expect_str_eq(m.text[3], "not (latency_p99 > 1000 or severity >= critical)");
	condition_free(c);
}

Test(condition, format_is_like_snprintf)
{
	struct condition *c = parse_ok("error_rate > 0.2");
	char small[8], big[64];

	cr_expect_eq(condition_format(c, small, sizeof(small)), strlen("error_rate > 0.2"));
	cr_expect_str_eq(small, "error_r");
	cr_expect_eq(condition_format(c, big, sizeof(big)), 16);
	cr_expect_str_eq(big, "error_rate > 0.2");
	cr_expect_eq(condition_format(c, NULL, 0), 16);
	condition_free(c);
}

Test(condition, metric_names)
{
	cr_expect_eq(condition_metric_find("LATENCY_P95"), CONDITION_LATENCY_P95);
	cr_expect_eq(condition_metric_find("latency"), -1);
	cr_expect_str_eq(condition_metric_name(CONDITION_TCP_CONNECT_FAILURES),
			 "tcp_connect_failures");
	cr_expect_null(condition_metric_name(CONDITION_METRIC_COUNT));
}

Test(condition, errors_give_their_column)
{
	expect_error("", -EINVAL, 1, "expected a condition, got the end");
	expect_error("   ", -EINVAL, 4, "expected a condition");
	expect_error("error_rate >", -EINVAL, 13, "expected a number after '>'");
	expect_error("error_rate > 0.2 and latency > 5", -EINVAL, 22,
		     "unknown metric 'latency' (known: request_rate, error_rate");
	expect_error("error_rate 0.2", -EINVAL, 12, "expected a comparison");
	expect_error("error_rate = 0.2", -EINVAL, 12, "expected a comparison");
	expect_error("error_rate > 5", -EINVAL, 14, "ratio from 0 to 1");
	expect_error("error_rate > -1%", -EINVAL, 14, "ratio from 0 to 1");
	expect_error("error_rate > 5ms", -EINVAL, 14, "is not a ratio");
	expect_error("request_rate > 5%", -EINVAL, 16, "is not a number");
	expect_error("latency_p99 > 5parsecs", -EINVAL, 15, "is not a latency");
	expect_error("latency_p99 > -5", -EINVAL, 15, "is not a latency");
	expect_error("predicted_breach < soon", -EINVAL, 20, "expected a number after '<'");
	expect_error("tcp_resets > 1e999", -EINVAL, 14, "out of range");
	expect_error("latency_p99 > 91d", -EINVAL, 15, "out of range (at most 90 days)");
	expect_error("predicted_breach < 1e10", -EINVAL, 20, "out of range (at most 90 days)");
	expect_error("severity >= urgent", -EINVAL, 13, "expected a severity");
	expect_error("severity warning", -EINVAL, 10, "expected a comparison");
	expect_error("anomaly(latency)", -EINVAL, 9, "unknown metric 'latency'");
	expect_error("anomaly(latency_p99", -EINVAL, 20, "expected ')' to close the '(' at column 8");
	expect_error("(error_rate > 0.1", -EINVAL, 18, "expected ')' to close the '(' at column 1");
	expect_error("error_rate > 0.1)", -EINVAL, 17, "expected 'and', 'or' or the end, got ')'");
	expect_error("error_rate > 0.1 and", -EINVAL, 21, "expected a condition");
	expect_error("and error_rate > 0.1", -EINVAL, 1, "got 'and'");
	expect_error("error_rate > 0.1 # x", -EINVAL, 18, "got '#'");
	expect_error("error_rate > 1.2.3", -EINVAL, 14, "is not a ratio");
	expect_error("é > 1", -EINVAL, 1, "expected a condition");
	expect_error("error_rate > 0.1 or é", -EINVAL, 21, "expected a condition");
}

Test(condition, bounds_are_enforced)
{
	char text[CONDITION_TEXT_MAX + 2], *p;
	struct condition_error ce;
	struct condition *c = NULL;

	memset(text, ' ', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "anomaly", 7);
	cr_expect_eq(condition_parse(text, &c, &ce), -E2BIG);
	cr_expect(strstr(ce.message, "longer than 1024") != NULL, "%s", ce.message);
	text[CONDITION_TEXT_MAX] = '\0';
	cr_expect_eq(condition_parse(text, &c, &ce), 0, "exactly the bound: %s", ce.message);
	condition_free(c);

	p = text;
	for (int i = 0; i < 33; i++)
		*p++ = '(';
	strcpy(p, "anomaly");
	p += 7;
	for (int i = 0; i < 33; i++)
		*p++ = ')';
	*p = '\0';
	cr_expect_eq(condition_parse(text, &c, &ce), -E2BIG);
	cr_expect_eq(ce.column, 33);
	cr_expect(strstr(ce.message, "deeper than 32") != NULL, "%s", ce.message);
	cr_expect_eq(condition_parse(text + 1, &c, &ce), -EINVAL, "32 levels parse, then a ')' is left over");

	/* ">.5" is "> 0.5" canonically: past the bound once written out */
	p = text;
	for (int i = 0; i < 53; i++) /* 1003 bytes, 1162 canonically */
		p += sprintf(p, "%srequest_rate>.5", i ? " or " : "");
	cr_expect_eq(condition_parse(text, &c, &ce), -E2BIG);
	cr_expect(strstr(ce.message, "once written canonically") != NULL, "%s", ce.message);

	/*
	 * The node bound cannot be reached within 1024 bytes (each node takes
	 * at least 4 of them): it guards the arrays if the text bound grows.
	 * The longest chain that fits parses and evaluates.
	 */
	p = text;
	for (int i = 0; i < 78; i++) /* 1010 bytes */
		p += sprintf(p, "%sanomaly()", i ? " or " : "");
	cr_expect_eq(condition_parse(text, &c, &ce), 0, "155 nodes: %s", ce.message);
	condition_free(c);
	condition_free(NULL);
}
