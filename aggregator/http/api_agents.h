/*
 * GET /agents: {agents: [{agent_id, tenant, host, version, connected,
 * first_seen, last_seen, frames, last_seq, spool_bytes, spool_lost}], count,
 * total, next_cursor?}, by agent id, paginated (limit, cursor). connected
 * means heard from within the last API_AGENT_CONNECTED_MS.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_AGENTS_H
#define PRP_AGGREGATOR_HTTP_API_AGENTS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

#define API_AGENT_CONNECTED_MS 5000

int api_agents_list(struct req *rq, struct resp *rp);

#endif
