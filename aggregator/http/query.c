/*
 * Query parameters. Parameters are matched by exact name; the first error
 * found wins, in the order of query_names[], so a message always names one
 * parameter. Times are ms since the epoch; every sum below stays far from
 * overflow because instants are bounded by time_parse_since() (< 2^64 ns,
 * so < 2^45 ms) and durations by QUERY_RANGE_MAX_MS.
 */
#include "aggregator/http/query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/strparse.h"
#include "common/timeutil.h"

/* Indexed by the bit number of enum query_keys. */
static const char *const query_names[] = { "since", "until", "limit", "step", "cursor", "metric" };
#define QUERY_NKEYS (sizeof(query_names) / sizeof(query_names[0]))

static const char *const query_metrics[] = {
	"requests",	   "errors",	  "request_rate",	  "error_rate",
	"latency_p50",	   "latency_p90", "latency_p95",	  "latency_p99",
	"latency_max",	   "syscalls",	  "syscall_errors",	  "syscall_error_rate",
	"tcp_retransmits", "tcp_resets",  "tcp_connect_failures",
};

bool query_metric_valid(const char *metric)
{
	for (size_t i = 0; i < sizeof(query_metrics) / sizeof(query_metrics[0]); i++) {
		if (!strcmp(metric, query_metrics[i]))
			return true;
	}
	return false;
}

static int query_fail(char *err, size_t errlen, const char *fmt, ...) PRP_PRINTF(3, 4);

static int query_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int query_instant(const char *name, const char *s, int64_t now_ms, int64_t *out, char *err,
			 size_t errlen)
{
	uint64_t ns;

	if (time_parse_since(s, (uint64_t)now_ms * NSEC_PER_MSEC, &ns))
		return query_fail(err, errlen,
				  "%s: '%.64s' is neither an ISO-8601 instant "
				  "(2026-11-27T10:00:00Z) nor a duration before now (15m, 2h, 7d)",
				  name, s);
	*out = (int64_t)(ns / NSEC_PER_MSEC);
	return 0;
}

static int query_range(struct query *q, const char *const *raw, int64_t now_ms,
		       int64_t default_range_ms, char *err, size_t errlen)
{
	int ret;

	q->until_ms = now_ms;
	if (raw[1] && (ret = query_instant("until", raw[1], now_ms, &q->until_ms, err, errlen)))
		return ret;
	q->since_ms = q->until_ms - default_range_ms;
	if (raw[0] && (ret = query_instant("since", raw[0], now_ms, &q->since_ms, err, errlen)))
		return ret;
	if (q->since_ms >= q->until_ms)
		return query_fail(err, errlen, "%s: must be before until", "since");
	if (q->until_ms - q->since_ms > QUERY_RANGE_MAX_MS)
		return query_fail(err, errlen, "%s: the range to until is longer than 31 days",
				  "since");
	return 0;
}

static int query_limit(struct query *q, const char *s, char *err, size_t errlen)
{
	uint64_t v;
	int ret = strparse_u64(s, 1, QUERY_LIMIT_MAX, &v);

	if (ret == -ERANGE)
		return query_fail(err, errlen, "%s: '%.64s' is out of range: 1 to 1000", "limit",
				  s);
	if (ret)
		return query_fail(err, errlen, "%s: '%.64s' is not a whole number", "limit", s);
	q->limit = (uint32_t)v;
	return 0;
}

static int query_step(struct query *q, const char *s, char *err, size_t errlen)
{
	int64_t range = q->until_ms - q->since_ms;
	uint64_t ns;
	int64_t points;

	if (s) {
		if (strparse_duration_ns(s, NSEC_PER_SEC, &ns))
			return query_fail(err, errlen,
					  "%s: '%.64s' is not a duration (60, 30s, 5m, 1h)", "step",
					  s);
		if (ns < NSEC_PER_SEC || ns > (uint64_t)QUERY_RANGE_MAX_MS * NSEC_PER_MSEC)
			return query_fail(err, errlen, "%s: '%.64s' is out of range: 1s to 31d",
					  "step", s);
		q->step_ms = (int64_t)(ns / NSEC_PER_MSEC);
	} else {
		/* range / 300, rounded up to whole seconds */
		q->step_ms = (range / QUERY_STEP_POINTS + 999) / 1000 * 1000;
		if (q->step_ms < QUERY_STEP_DEFAULT_MS)
			q->step_ms = QUERY_STEP_DEFAULT_MS;
	}
	points = (range + q->step_ms - 1) / q->step_ms;
	if (points > QUERY_POINTS_MAX)
		return query_fail(err, errlen,
				  "step: %lld points over the range, at most %d: use a larger step",
				  (long long)points, QUERY_POINTS_MAX);
	return 0;
}

static int query_values(struct query *q, const char *const *raw, unsigned keys, char *err,
			size_t errlen)
{
	int ret;

	if ((keys & QUERY_LIMIT) && raw[2] && (ret = query_limit(q, raw[2], err, errlen)))
		return ret;
	if ((keys & QUERY_STEP) && (ret = query_step(q, raw[3], err, errlen)))
		return ret;
	if (raw[4]) {
		if (strlen(raw[4]) > QUERY_CURSOR_MAX)
			return query_fail(err, errlen, "%s: too long", "cursor");
		q->cursor = raw[4];
	}
	if (keys & QUERY_METRIC) {
		if (!raw[5])
			return query_fail(err, errlen, "%s: required", "metric");
		if (!query_metric_valid(raw[5]))
			return query_fail(err, errlen,
					  "%s: unknown metric '%.64s' (requests, errors, "
					  "request_rate, error_rate, latency_p50, latency_p90, "
					  "latency_p95, latency_p99, latency_max, syscalls, "
					  "syscall_errors, syscall_error_rate, tcp_retransmits, "
					  "tcp_resets, tcp_connect_failures)",
					  "metric", raw[5]);
		q->metric = raw[5];
	}
	return 0;
}

int query_parse(struct query *q, const struct req_param *p, size_t n, unsigned keys, int64_t now_ms,
		int64_t default_range_ms, char *err, size_t errlen)
{
	const char *raw[QUERY_NKEYS] = { NULL };
	int ret;

	memset(q, 0, sizeof(*q));
	q->limit = QUERY_LIMIT_DEFAULT;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < QUERY_NKEYS; k++) {
			if (!(keys & (1u << k)) || strcmp(p[i].key, query_names[k]))
				continue;
			if (raw[k])
				return query_fail(err, errlen, "%s: given more than once",
						  query_names[k]);
			if (!p[i].value || !p[i].value[0])
				return query_fail(err, errlen, "%s: empty", query_names[k]);
			raw[k] = p[i].value;
			q->given |= 1u << k;
		}
	}
	if ((keys & (QUERY_SINCE | QUERY_UNTIL)) &&
	    (ret = query_range(q, raw, now_ms, default_range_ms, err, errlen)))
		return ret;
	return query_values(q, raw, keys, err, errlen);
}

static int query_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int query_cursor_encode(const char *key, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = strlen(key);

	if (cap < 2 * n + 1)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[(unsigned char)key[i] >> 4];
		out[2 * i + 1] = digits[(unsigned char)key[i] & 0xf];
	}
	out[2 * n] = '\0';
	return 0;
}

int query_cursor_decode(const char *cursor, char *out, size_t cap)
{
	size_t n = strlen(cursor);

	if (n == 0 || n % 2 || n / 2 + 1 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = query_hex(cursor[2 * i]), lo = query_hex(cursor[2 * i + 1]);

		/* a NUL byte would cut the key short: never written by encode */
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		out[i] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	return 0;
}
