/*
 * The live streams (API.md): GET /stream/events (Server-Sent Events), the
 * WebSocket GET /stream/anomalies, and GET /stream/status. Filters as query
 * parameters: services (comma list), severity (the least), events (comma
 * list of event types); the resume point from Last-Event-ID or since_id.
 * The caller's tenant's events only.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_STREAM_H
#define PRP_AGGREGATOR_HTTP_API_STREAM_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_stream_events(struct req *rq, struct resp *rp);
/*
 * The WebSocket handshake (RFC 6455 §4.2): 426 unless Upgrade: websocket,
 * Connection: upgrade and Sec-WebSocket-Version: 13; 400 for a bad
 * Sec-WebSocket-Key or filter; else a 101 that hands the connection to
 * the hub (aggregator/stream/ws_hub.h) with its `connected` message:
 * {"event": "connected", "anomalies": [the open ones, as GET /anomalies
 * items], "timestamp", "last_event_id": the id the events sent next follow}.
 */
int api_stream_anomalies(struct req *rq, struct resp *rp);
/* {active_connections (SSE and WebSocket), sse_connections, ws_connections, websocket_url,
 * sse_url, supported_events, last_event_id} */
int api_stream_status(struct req *rq, struct resp *rp);

#endif
