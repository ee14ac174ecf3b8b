/*
 * Query-string parsing of the HTTP API (aggregator/http/query.c): defaults,
 * since/until in both forms, limit bounds, step and the points cap, cursors,
 * metric, and every way a parameter can be bad, each naming the parameter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/http/query.h"
#include "aggregator/http/req.h"
#include "tests/lib/leakcheck.h"

TestSuite(http_query, .fini = test_no_leaks);

/* 2026-11-27T10:00:00.000Z */
#define NOW_MS	1795773600000ll
#define MIN_MS	60000ll
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS	(24 * HOUR_MS)
#define ALL	(QUERY_SINCE | QUERY_UNTIL | QUERY_LIMIT | QUERY_CURSOR)

/* Parses "k=v&k=v" (no escapes) with @keys; returns query_parse()'s result. */
static int parse(const char *qs, unsigned keys, int64_t range_ms, struct query *q, char *err,
		 size_t errlen)
{
	static char copy[4096];
	struct req_param p[64];
	size_t n = 0;
	char *save = NULL;

	snprintf(copy, sizeof(copy), "%s", qs);
	for (char *tok = strtok_r(copy, "&", &save); tok && n < 64;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq++ = '\0';
		p[n].key = tok;
		p[n].value = eq ? eq : "";
		n++;
	}
	err[0] = '\0';
	return query_parse(q, p, n, keys, NOW_MS, range_ms, err, errlen);
}

Test(http_query, defaults_without_parameters)
{
	struct query q;
	char err[256];

	cr_assert_eq(parse("", ALL, 5 * MIN_MS, &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(q.until_ms, NOW_MS);
	cr_assert_eq(q.since_ms, NOW_MS - 5 * MIN_MS);
	cr_assert_eq(q.limit, 50);
	cr_assert_null(q.cursor);
	cr_assert_null(q.metric);
	cr_assert_eq(q.given, 0);
	cr_assert_eq(q.step_ms, 0);
}

struct ok_case {
	const char *qs;
	int64_t since_ms, until_ms;
	uint32_t limit;
};

Test(http_query, accepts_valid_values)
{
	static const struct ok_case cases[] = {
		{ "since=15m", NOW_MS - 15 * MIN_MS, NOW_MS, 50 },
		{ "since=2h&until=1h", NOW_MS - 2 * HOUR_MS, NOW_MS - HOUR_MS, 50 },
		{ "since=7d", NOW_MS - 7 * DAY_MS, NOW_MS, 50 },
		{ "since=31d", NOW_MS - 31 * DAY_MS, NOW_MS, 50 },
		{ "since=2026-11-27T09:00:00Z", NOW_MS - HOUR_MS, NOW_MS, 50 },
		{ "since=2026-11-27T09:00:00.250Z&until=2026-11-27T09:30:00Z",
		  NOW_MS - HOUR_MS + 250, NOW_MS - 30 * MIN_MS, 50 },
		{ "until=2026-11-27T09:00:00Z", NOW_MS - HOUR_MS - 5 * MIN_MS, NOW_MS - HOUR_MS,
		  50 },
		{ "limit=1", NOW_MS - 5 * MIN_MS, NOW_MS, 1 },
		{ "limit=1000", NOW_MS - 5 * MIN_MS, NOW_MS, 1000 },
		{ "limit=7&ignored=whatever&other", NOW_MS - 5 * MIN_MS, NOW_MS, 7 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct query q;
		char err[256];

		cr_assert_eq(parse(cases[i].qs, ALL, 5 * MIN_MS, &q, err, sizeof(err)), 0, "%s: %s",
			     cases[i].qs, err);
		cr_assert_eq(q.since_ms, cases[i].since_ms, "%s: since %lld", cases[i].qs,
			     (long long)q.since_ms);
		cr_assert_eq(q.until_ms, cases[i].until_ms, "%s: until %lld", cases[i].qs,
			     (long long)q.until_ms);
		cr_assert_eq(q.limit, cases[i].limit, "%s", cases[i].qs);
	}
}

struct bad_case {
	const char *qs;
	const char *param; /* the message must start with "<param>:" */
};

Test(http_query, rejects_bad_values_naming_the_parameter)
{
	static const struct bad_case cases[] = {
		{ "since=", "since" },
		{ "since", "since" },
		{ "since=yesterday", "since" },
		{ "since=15", "since" },
		{ "since=-15m", "since" },
		{ "since=15x", "since" },
		{ "since=2026-13-01T00:00:00Z", "since" },
		{ "since=2026-11-27T25:00:00Z", "since" },
		{ "since=2026-11-27T10:00:00Zjunk", "since" },
		{ "since=99999999999999999999m", "since" },
		{ "since=%zz%00", "since" },
		{ "until=never", "until" },
		{ "until=2026-11-27T10:00:00Q", "until" },
		{ "since=1h&since=2h", "since" },
		{ "until=1h&until=1h", "until" },
		{ "since=1h&until=2h", "since" },	   /* since after until */
		{ "since=1h&until=1h", "since" },	   /* empty range */
		{ "since=2026-11-27T11:00:00Z", "since" }, /* in the future, until is now */
		{ "since=32d", "since" },		   /* longer than 31 days */
		{ "since=1970-01-01T00:00:00Z", "since" },
		{ "limit=0", "limit" },
		{ "limit=1001", "limit" },
		{ "limit=99999", "limit" },
		{ "limit=-1", "limit" },
		{ "limit=abc", "limit" },
		{ "limit=10abc", "limit" },
		{ "limit= 10", "limit" },
		{ "limit=1e3", "limit" },
		{ "limit=18446744073709551616", "limit" },
		{ "limit=99999999999999999999999999999999", "limit" },
		{ "limit=", "limit" },
		{ "limit=5&limit=5", "limit" },
		{ "cursor=", "cursor" },
		{ "cursor=a&cursor=b", "cursor" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct query q;
		char err[256], want[64];

		cr_assert_eq(parse(cases[i].qs, ALL, 5 * MIN_MS, &q, err, sizeof(err)), -EINVAL,
			     "%s: accepted", cases[i].qs);
		snprintf(want, sizeof(want), "%s: ", cases[i].param);
		cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s: message '%s'", cases[i].qs,
			     err);
	}
}

Test(http_query, ignores_parameters_the_route_does_not_take)
{
	struct query q;
	char err[256];

	/* a route without limit does not judge it, and unknown names are left alone */
	cr_assert_eq(parse("limit=abc&since=junk&foo=bar", QUERY_CURSOR, 0, &q, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(q.limit, 50);
	cr_assert_eq(q.given, 0);
}

Test(http_query, rejects_a_huge_cursor)
{
	char qs[1024] = "cursor=";
	struct query q;
	char err[256];

	memset(qs + 7, 'a', QUERY_CURSOR_MAX + 1);
	qs[7 + QUERY_CURSOR_MAX + 1] = '\0';
	cr_assert_eq(parse(qs, ALL, MIN_MS, &q, err, sizeof(err)), -EINVAL);
	cr_assert_eq(strncmp(err, "cursor: ", 8), 0, "%s", err);
	qs[7 + QUERY_CURSOR_MAX] = '\0';
	cr_assert_eq(parse(qs, ALL, MIN_MS, &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(q.cursor), QUERY_CURSOR_MAX);
}

struct step_case {
	const char *qs;
	int64_t step_ms; /* 0: an error naming step */
};

Test(http_query, step_defaults_and_bounds)
{
	static const struct step_case cases[] = {
		{ "metric=requests", 60000 },		  /* 1 h / 300 = 12 s: 60 s */
		{ "metric=requests&since=1d", 288000 },	  /* 1 d / 300 = 288 s */
		{ "metric=requests&since=31d", 8928000 }, /* 31 d / 300 */
		{ "metric=requests&since=1001s", 60000 },
		{ "metric=requests&since=7h", 84000 },	   /* 7 h / 300 = 84 s */
		{ "metric=requests&since=7h&step=1s", 0 }, /* 25,200 points: too many */
		{ "metric=requests&step=10", 10000 },	   /* bare number: seconds */
		{ "metric=requests&step=1.5s", 1500 },
		{ "metric=requests&step=5m", 300000 },
		{ "metric=requests&step=500ms", 0 }, /* under 1 s */
		{ "metric=requests&step=0", 0 },
		{ "metric=requests&step=-5s", 0 },
		{ "metric=requests&step=soon", 0 },
		{ "metric=requests&step=32d", 0 },
		{ "metric=requests&step=99999999999999999999h", 0 },
		{ "metric=requests&step=1m&step=2m", 0 },
		{ "metric=requests&since=31d&step=1m", 0 }, /* 44,640 points */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned keys = QUERY_SINCE | QUERY_UNTIL | QUERY_STEP | QUERY_METRIC;
		struct query q;
		char err[256];
		int ret = parse(cases[i].qs, keys, HOUR_MS, &q, err, sizeof(err));
		int64_t want = cases[i].step_ms;

		if (want) {
			cr_assert_eq(ret, 0, "%s: %s", cases[i].qs, err);
			cr_assert_eq(q.step_ms, want, "%s: step %lld", cases[i].qs,
				     (long long)q.step_ms);
			cr_assert_str_eq(q.metric, "requests");
		} else {
			cr_assert_eq(ret, -EINVAL, "%s: accepted", cases[i].qs);
			cr_assert_eq(strncmp(err, "step: ", 6), 0, "%s: '%s'", cases[i].qs, err);
		}
	}
}

Test(http_query, metric_is_required_and_checked)
{
	unsigned keys = QUERY_SINCE | QUERY_UNTIL | QUERY_STEP | QUERY_METRIC;
	static const char *const good[] = { "requests",	       "errors",
					    "request_rate",    "error_rate",
					    "latency_p50",     "latency_p99",
					    "latency_max",     "syscall_error_rate",
					    "tcp_retransmits", "tcp_connect_failures" };
	static const char *const bad[] = { "metric",
					   "metric=",
					   "metric=latency",
					   "metric=REQUESTS",
					   "metric=requests%20",
					   "metric=requests&metric=errors",
					   "" };
	struct query q;
	char err[256], qs[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(qs, sizeof(qs), "metric=%s", good[i]);
		cr_assert_eq(parse(qs, keys, HOUR_MS, &q, err, sizeof(err)), 0, "%s: %s", qs, err);
		cr_assert_str_eq(q.metric, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i], keys, HOUR_MS, &q, err, sizeof(err)), -EINVAL, "%s",
			     bad[i]);
		cr_assert_eq(strncmp(err, "metric: ", 8), 0, "%s: '%s'", bad[i], err);
	}
}

Test(http_query, cursors_round_trip_and_garbage_is_refused)
{
	static const char *const keys[] = { "a", "orders", "svc-with.dots_and-dashes",
					    "\xc3\xa9t\xc3\xa9" };
	static const char *const garbage[] = { "",     "0",    "abc",	 "zz",	"6G",
					       "0000", "6f00", "ORDERS", "6F72" };
	char enc[256], dec[128];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cr_assert_eq(query_cursor_encode(keys[i], enc, sizeof(enc)), 0);
		cr_assert_eq(query_cursor_decode(enc, dec, sizeof(dec)), 0, "%s", enc);
		cr_assert_str_eq(dec, keys[i]);
	}
	cr_assert_eq(query_cursor_encode("orders", enc, 12), -E2BIG);
	cr_assert_eq(query_cursor_encode("orders", enc, 13), 0);
	cr_assert_str_eq(enc, "6f7264657273");
	cr_assert_eq(query_cursor_decode("6f7264657273", dec, 6), -EINVAL);
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		cr_assert_eq(query_cursor_decode(garbage[i], dec, sizeof(dec)), -EINVAL, "'%s'",
			     garbage[i]);
}
