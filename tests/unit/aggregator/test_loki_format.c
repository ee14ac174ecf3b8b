/*
 * What the Loki exporter sends (aggregator/export/loki_format.c): a line's
 * guessed level, an event's level, a line cleaned and cut at a character,
 * the static labels' rules, and a body: one stream per label set, values
 * in time order, JSON escaping that jansson reads back byte for byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/export/loki.h"
#include "aggregator/export/loki_format.h"
#include "common/buf.h"
#include "tests/lib/leakcheck.h"

TestSuite(loki_format, .fini = test_no_leaks);

static const char *line_level(const char *line, bool is_stderr)
{
	return loki_format_level_name(loki_format_line_level(line, strlen(line), is_stderr));
}

Test(loki_format, a_line_level_is_its_level_word_or_its_stream)
{
	static const struct {
		const char *line;
		bool is_stderr;
		const char *level;
	} cases[] = {
		{ "GET /health 200", false, "info" },
		{ "connection reset by peer", true, "error" },
		{ "2025-01-02T03:04:05Z ERROR cannot open db", false, "error" },
		{ "[WARN] disk 91% full", false, "warning" },
		{ "WARNING: deprecated flag", true, "warning" },
		{ "INFO listening on :8001", true, "info" },
		{ "FATAL out of memory", false, "critical" },
		{ "panic: PANIC in handler", false, "critical" },
		{ "DEBUG cache miss", true, "debug" },
		{ "ts=1 level=warn msg=slow", true, "warning" },
		{ "{\"level\":\"error\",\"msg\":\"x\"}", false, "error" },
		{ "lvl: Info", true, "info" },
		{ "no error here", false, "info" },	      /* lower case is prose, not a level */
		{ "ERRNO 5 from read", false, "info" },	      /* a whole word only */
		{ "level=verbose something", true, "error" }, /* an unknown level */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_str_eq(line_level(cases[i].line, cases[i].is_stderr), cases[i].level,
				 "'%s'", cases[i].line);
}

Test(loki_format, an_event_level_follows_its_type_then_its_severity)
{
	cr_expect_eq(loki_format_event_level(BUS_ANOMALY_DETECTED, STORE_SEVERITY_CRITICAL),
		     LOKI_LEVEL_CRITICAL);
	cr_expect_eq(loki_format_event_level(BUS_INCIDENT_STARTED, STORE_SEVERITY_WARNING),
		     LOKI_LEVEL_WARNING);
	cr_expect_eq(loki_format_event_level(BUS_ACTION_EXECUTED, STORE_SEVERITY_INFO),
		     LOKI_LEVEL_INFO);
	cr_expect_eq(loki_format_event_level(BUS_ACTION_FAILED, STORE_SEVERITY_INFO),
		     LOKI_LEVEL_ERROR);
	cr_expect_eq(loki_format_event_level(BUS_ANOMALY_RESOLVED, STORE_SEVERITY_CRITICAL),
		     LOKI_LEVEL_INFO);
	cr_expect_eq(loki_format_event_level(BUS_INCIDENT_RESOLVED, STORE_SEVERITY_CRITICAL),
		     LOKI_LEVEL_INFO);
	cr_expect_eq(loki_format_event_source(BUS_PREDICTION_BREACH), LOKI_SOURCE_PREDICTION);
	cr_expect_eq(loki_format_event_source(BUS_POLICY_CHANGED), -1);
	cr_expect_eq(loki_format_event_source(BUS_WEBHOOK_TEST), -1);
}

Test(loki_format, a_long_line_is_cut_at_a_character_with_a_marker)
{
	size_t len = 3 * LOKI_LINE_MAX;
	char *line = malloc(len);
	struct loki_entry *e;

	/* "é" is two bytes: a cut in the middle of one would leave half a character */
	for (size_t i = 0; i + 1 < len; i += 2)
		memcpy(line + i, "\xc3\xa9", 2);
	e = loki_format_entry(NULL, NULL, "h", LOKI_LEVEL_INFO, LOKI_SOURCE_STDOUT, 1, line, len);
	cr_assert_leq(e->len, LOKI_LINE_MAX);
	cr_expect_eq(strlen(e->line), e->len);
	cr_expect(strstr(e->line, " [truncated from 49152 bytes]"), "%s", e->line + e->len - 40);
	cr_expect_eq((size_t)(strstr(e->line, " [truncated") - e->line),
		     e->len - strlen(" [truncated from 49152 bytes]"), "the marker ends the line");
	cr_expect_eq((strstr(e->line, " [truncated") - e->line) % 2, 0, "cut between characters");
	cr_expect_str_eq(e->tenant, "default");
	cr_expect_str_eq(e->service, "aggregator");
	free(e);
	free(line);

	e = loki_format_entry("t", "s", "h", LOKI_LEVEL_INFO, LOKI_SOURCE_STDOUT, 1, "a\r\n", 3);
	cr_expect_str_eq(e->line, "a");
	free(e);
	e = loki_format_entry("t", "s", "h", LOKI_LEVEL_INFO, LOKI_SOURCE_STDOUT, 1,
			      "\xed\xa0\x80 \xc0\xaf", 6); /* a surrogate, an overlong '/' */
	cr_expect_str_eq(e->line, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
				  "\xef\xbf\xbd\xef\xbf\xbd");
	free(e);
}

Test(loki_format, labels_parse_and_refuse_with_a_reason)
{
	struct loki_label l[LOKI_LABELS_MAX];
	char err[200];
	size_t n;

	cr_assert_eq(loki_format_labels_parse(" cluster = prod ,region=eu-west,", l,
					      LOKI_LABELS_MAX, &n, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(l[0].name, "cluster");
	cr_expect_str_eq(l[0].value, "prod");
	cr_expect_str_eq(l[1].name, "region");
	cr_expect_str_eq(l[1].value, "eu-west");
	cr_expect_eq(loki_format_labels_parse("", l, LOKI_LABELS_MAX, &n, err, sizeof(err)), 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(loki_format_labels_parse("a=1,b=2,c=3", l, 2, &n, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "more than 2"), "%s", err);
	cr_expect_eq(loki_format_labels_parse("level=x", l, 2, &n, err, sizeof(err)), -EINVAL);
	cr_expect_eq(loki_format_labels_parse("a b=x", l, 2, &n, err, sizeof(err)), -EINVAL);
	cr_expect(loki_format_label_name_ok("_a1"));
	cr_expect(loki_format_label_name_ok("Zone"));
	cr_expect(!loki_format_label_name_ok("1a"));
	cr_expect(!loki_format_label_name_ok("a.b"));
	cr_expect(!loki_format_label_name_ok(""));
}

static struct loki_entry *entry(const char *service, enum loki_level level, int64_t ts,
				const char *line)
{
	return loki_format_entry(NULL, service, "web-1", level, LOKI_SOURCE_STDOUT, ts, line,
				 strlen(line));
}

Test(loki_format, a_body_has_one_stream_per_label_set_in_time_order)
{
	struct loki_label labels[] = { { "cluster", "prod" } };
	struct loki_entry *v[5];
	json_t *doc, *streams, *s0, *s1;
	struct buf b;
	json_error_t jerr;
	const char *tricky = "q\"b\\s/\x01\t\n\xc3\xa9\x7f";

	v[0] = entry("orders", LOKI_LEVEL_INFO, 30, "third");
	v[1] = entry("users", LOKI_LEVEL_INFO, 5, tricky);
	v[2] = entry("orders", LOKI_LEVEL_INFO, 10, "first");
	v[3] = entry("orders", LOKI_LEVEL_INFO, 20, "second");
	v[4] = entry("orders", LOKI_LEVEL_INFO, 20, "second, later");
	for (int i = 0; i < 5; i++)
		v[i]->seq = (uint64_t)i;
	buf_init(&b, 1 << 20);
	cr_assert_eq(loki_format_body(&b, v, 5, labels, 1), 0);
	doc = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert(doc, "%s: %s", jerr.text, buf_str(&b));
	streams = json_object_get(doc, "streams");
	cr_assert_eq(json_array_size(streams), 2, "%s", buf_str(&b));
	s0 = json_array_get(streams, 0);
	s1 = json_array_get(streams, 1);
	cr_expect_str_eq(
		json_string_value(json_object_get(json_object_get(s0, "stream"), "service_name")),
		"orders");
	cr_expect_str_eq(
		json_string_value(json_object_get(json_object_get(s0, "stream"), "cluster")),
		"prod");
	cr_expect_eq(json_object_size(json_object_get(s0, "stream")), 5);
	cr_expect_str_eq(json_string_value(json_array_get(
				 json_array_get(json_object_get(s0, "values"), 0), 1)),
			 "first");
	cr_expect_str_eq(json_string_value(json_array_get(
				 json_array_get(json_object_get(s0, "values"), 2), 1)),
			 "second, later", "equal times keep their queue order");
	cr_expect_str_eq(json_string_value(json_array_get(
				 json_array_get(json_object_get(s0, "values"), 0), 0)),
			 "10");
	cr_expect_str_eq(json_string_value(json_array_get(
				 json_array_get(json_object_get(s1, "values"), 0), 1)),
			 tricky, "escaped and read back byte for byte");
	json_decref(doc);
	buf_release(&b);
	for (int i = 0; i < 5; i++)
		free(v[i]);

	buf_init(&b, 1 << 20);
	cr_assert_eq(loki_format_body(&b, v, 0, labels, 1), 0);
	cr_expect_str_eq(buf_str(&b), "{\"streams\":[]}");
	buf_release(&b);
}
