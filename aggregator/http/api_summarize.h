/*
 * POST /summarize (API.md "Analysis"): the incidents of a time range, as
 * aggregator/analysis/summary.h groups them, with short Markdown written by
 * the built-in analyst, or by the LLM when one is configured.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_SUMMARIZE_H
#define PRP_AGGREGATOR_HTTP_API_SUMMARIZE_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* The largest body of POST /summarize. */
#define API_SUMMARIZE_BODY_MAX (16 * 1024)
/* time_range when none is given, and the longest one taken. */
#define API_SUMMARIZE_RANGE_DEFAULT_S 3600
#define API_SUMMARIZE_RANGE_MAX_S     (31 * 24 * 3600)

int api_summarize_post(struct req *rq, struct resp *rp);

/*
 * A duration field of an analysis body: a string ("1h", "30m", "90s") or a
 * number of seconds, 1 s to @max_s, into *@out_ms. 0, or the 400 answered
 * naming @field. Shared with POST /advice (context.time_range).
 */
int api_summarize_duration(struct resp *rp, const char *field, const json_t *v, int64_t max_s,
			   int64_t *out_ms);

#endif
