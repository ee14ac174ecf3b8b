/*
 * GET /topology: the call graph the agents saw over since/until (default the
 * last 5 min): {since, until, nodes: [{service, status}], edges: [{from, to,
 * requests, errors, error_rate, latency_p99 (ms)}]}. A node's status is its
 * /services/health status; "unknown" for a peer with no live series (an
 * address no agent watches, or a service quiet for the last minute).
 */
#ifndef PRP_AGGREGATOR_HTTP_API_TOPOLOGY_H
#define PRP_AGGREGATOR_HTTP_API_TOPOLOGY_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_topology_get(struct req *rq, struct resp *rp);

#endif
