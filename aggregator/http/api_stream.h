/*
 * The live streams (API.md): GET /stream/events (Server-Sent Events) and
 * GET /stream/status. Filters as query parameters: services (comma list),
 * severity (the least), events (comma list of event types); the resume
 * point from Last-Event-ID or since_id. The caller's tenant's events only.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_STREAM_H
#define PRP_AGGREGATOR_HTTP_API_STREAM_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_stream_events(struct req *rq, struct resp *rp);
/* {active_connections, websocket_url, supported_events} */
int api_stream_status(struct req *rq, struct resp *rp);

#endif
