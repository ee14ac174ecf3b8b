/*
 * The analyst's routes (API.md "Analysis"): POST /rca.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ANALYSIS_H
#define PRP_AGGREGATOR_HTTP_API_ANALYSIS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* The body limit of POST /rca. */
#define API_ANALYSIS_MAX_BODY (16 * 1024)
/* time_range when the body gives none. */
#define API_ANALYSIS_RANGE_DEFAULT_MS (3600 * 1000)
/* With anomaly_id, the span starts this long before the anomaly (its cause may lead it). */
#define API_ANALYSIS_ANOMALY_LEAD_MS (60 * 1000)

/*
 * POST /rca {time_range?, service?, anomaly_id?}: root cause analysis of
 * the span time_range long up to now (or of an anomaly's life), answered
 * from the worker's read-only store.
 */
int api_analysis_rca(struct req *rq, struct resp *rp);

#endif
