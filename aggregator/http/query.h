/*
 * Query-string parameters shared by the API's routes (API.md conventions):
 * since/until (ISO-8601, or relative 15m/2h/7d before now), limit (1..1000,
 * default 50), step (a duration, at least 1 s), cursor (opaque) and metric.
 * Each route says which it takes; others are ignored (old clients send
 * extras). A bad, empty or repeated parameter it takes is an error whose
 * message starts with the parameter's name. Pure functions; any thread.
 */
#ifndef PRP_AGGREGATOR_HTTP_QUERY_H
#define PRP_AGGREGATOR_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/http/req.h"
#include "common/compiler.h"

enum query_keys {
	QUERY_SINCE = 1 << 0,
	QUERY_UNTIL = 1 << 1,
	QUERY_LIMIT = 1 << 2,
	QUERY_STEP = 1 << 3, /* needs QUERY_SINCE | QUERY_UNTIL */
	QUERY_CURSOR = 1 << 4,
	QUERY_METRIC = 1 << 5, /* required when taken */
};

#define QUERY_LIMIT_DEFAULT 50
#define QUERY_LIMIT_MAX	    1000
/* Longest range since..until: 31 days (a month of minute rollups). */
#define QUERY_RANGE_MAX_MS (31ll * 24 * 3600 * 1000)
/* Series: the default step is the larger of 60 s and range / 300 (a chart's width) ... */
#define QUERY_STEP_DEFAULT_MS 60000
#define QUERY_STEP_POINTS     300
/* ... and no series has more than this many points (31 days of 5-minute steps fit). */
#define QUERY_POINTS_MAX 10000
#define QUERY_CURSOR_MAX 256

struct query {
	unsigned given;	  /* QUERY_* bits of the parameters present */
	int64_t since_ms; /* given, or until - the route's default range */
	int64_t until_ms; /* given, or now */
	uint32_t limit;
	int64_t step_ms;    /* given, or the default; 0 without QUERY_STEP */
	const char *cursor; /* borrowed from the request; NULL when absent */
	const char *metric; /* borrowed from the request; NULL when absent */
};

/*
 * Parses the parameters @keys names out of @p[0..n) into @q. @now_ms is the
 * request's instant; @default_range_ms the span when since is absent.
 * Returns 0, or -EINVAL with a message in @err naming the parameter:
 * "since: ...". Ranges: since < until, at most QUERY_RANGE_MAX_MS.
 */
PRP_MUST_CHECK int query_parse(struct query *q, const struct req_param *p, size_t n, unsigned keys,
			       int64_t now_ms, int64_t default_range_ms, char *err, size_t errlen);

/* True for the metrics the store serves as series (store.h's list). */
bool query_metric_valid(const char *metric);

/*
 * Cursors are the key of the last item of a page (a service name, an agent
 * id), hex-encoded so they are opaque and URL-safe. Encode writes into
 * @out (at least 2 * strlen(key) + 1 bytes, else -E2BIG); decode returns
 * -EINVAL for anything encode would not write or that does not fit @cap.
 */
PRP_MUST_CHECK int query_cursor_encode(const char *key, char *out, size_t cap);
PRP_MUST_CHECK int query_cursor_decode(const char *cursor, char *out, size_t cap);

#endif
