/*
 * GET /health: {status: "healthy"|"degraded", service: "prp-aggregator",
 * version, uptime_s, timestamp, components: {store, ingest, agents_connected}}.
 * "degraded" when this worker cannot open the store or ingest is not running.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_HEALTH_H
#define PRP_AGGREGATOR_HTTP_API_HEALTH_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_health_get(struct req *rq, struct resp *rp);

#endif
