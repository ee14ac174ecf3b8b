/*
 * POST /advice (API.md "Analysis"): what to do about an anomaly, as
 * aggregator/analysis/advice.h decides it, with a ready policy; the prose
 * by the built-in analyst, or by the LLM when one is configured.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ADVICE_H
#define PRP_AGGREGATOR_HTTP_API_ADVICE_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* The largest body of POST /advice. */
#define API_ADVICE_BODY_MAX (16 * 1024)
/* The span looked at when no anomaly record is found, and the longest one taken. */
#define API_ADVICE_RANGE_DEFAULT_S (15 * 60)
#define API_ADVICE_RANGE_MAX_S	   (24 * 3600)
/* Around an anomaly's record: from a minute before it started to a minute after it ended. */
#define API_ADVICE_MARGIN_MS   (60 * 1000)
#define API_ADVICE_SPAN_MIN_MS (2 * 60 * 1000)

int api_advice_post(struct req *rq, struct resp *rp);

#endif
