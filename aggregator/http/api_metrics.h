/*
 * GET /metrics: the Prometheus exposition of the key's tenant
 * (aggregator/export/metrics.h), in OpenMetrics when Accept asks for it;
 * the aggregator's own health only for keys of the default tenant.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_METRICS_H
#define PRP_AGGREGATOR_HTTP_API_METRICS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_metrics_get(struct req *rq, struct resp *rp);

#endif
