/*
 * The WebSocket subscribers of GET /stream/anomalies (API.md): one thread
 * with an epoll set owns every upgraded socket (non-blocking), and one
 * eventfd wakes it for the event bus (a single bus_watch for the whole hub,
 * held while it has a client), for new clients and for the stop.
 *
 * A client gets, in this order: the `connected` text its handshake built,
 * then each event of the bus that matches its filter after its resume id,
 * as a text frame {"id": N, "event": TYPE, "timestamp": ..., "data": {...}}.
 * It may send {"action": "subscribe", "filters": {"services": [...],
 * "severity": "...", "events": [...]}} (answered {"event": "subscribed",
 * "filters": {...}}) and {"action": "ping"} (answered {"event": "pong"});
 * anything else is answered {"event": "error", "message": ...}, and the
 * WS_HUB_ERRORS_MAX-th such error closes with 1008.
 *
 * Bounds, so that a stuck browser neither holds the server back nor grows
 * its memory: messages from a client of at most WS_HUB_MAX_MESSAGE bytes
 * (1009 past it); an output queue of queue_bytes per client. Live events
 * are queued as they are published, and a client whose queue would pass
 * the bound is closed with 1013 "too slow". A client that resumes from an
 * older id (since_id) is fed at its own pace instead: its backlog is read
 * from the bus only while its queue is under half the bound, until it has
 * caught up. Event frames are built once and shared by every client.
 *
 * Liveness: a ping every ping_ms; a client heard nothing from for idle_ms
 * is closed with 1001 "idle timeout". Every close the hub starts queues a
 * close frame (what was queued and not begun is dropped), then waits for
 * the peer's close frame or end of stream, at most WS_HUB_CLOSE_LINGER_MS,
 * before the socket is given back with http_upgraded_close().
 */
#ifndef PRP_AGGREGATOR_STREAM_WS_HUB_H
#define PRP_AGGREGATOR_STREAM_WS_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/http/resp.h"
#include "common/compiler.h"

#define WS_HUB_MAX_MESSAGE     (64 * 1024) /* the longest message a client may send */
#define WS_HUB_QUEUE_BYTES     (1u << 20)  /* default output queue bound per client */
#define WS_HUB_PING_MS	       30000
#define WS_HUB_IDLE_MS	       75000 /* 2.5 pings unanswered */
#define WS_HUB_ERRORS_MAX      5
#define WS_HUB_CLOSE_LINGER_MS 5000

struct ws_hub_options {
	struct bus *bus;    /* borrowed; must outlive the hub */
	size_t queue_bytes; /* 0: WS_HUB_QUEUE_BYTES */
	unsigned ping_ms;   /* 0: WS_HUB_PING_MS */
	unsigned idle_ms;   /* 0: WS_HUB_IDLE_MS */
};

struct ws_hub;
struct ws_hub_client;

/*
 * Starts the hub's thread. On success *out is the hub (the caller owns it:
 * ws_hub_stop() before the HTTP server stops, ws_hub_free() after). 0, or
 * -errno when the epoll set, the eventfd or the thread cannot be made.
 */
PRP_MUST_CHECK int ws_hub_new(struct ws_hub **out, const struct ws_hub_options *o);

/*
 * Closes every client (a close frame 1001 "server stopping", written
 * without waiting, then http_upgraded_close()) and ends the thread. A
 * connection upgraded after this is closed the same way at once, on the
 * server thread that hands it over. Call it before http_stop(): MHD must
 * not stop with upgraded connections open. NULL or a second call does nothing.
 */
void ws_hub_stop(struct ws_hub *h);

/* Stops if needed, then frees @h; after http_stop(), which ends the handovers. NULL does nothing.
 */
void ws_hub_free(struct ws_hub *h);

/* Clients connected now (closing ones included). Any thread; NULL: 0. */
size_t ws_hub_clients(const struct ws_hub *h);

/*
 * A client to be, for resp_upgrade(rp, accept, &ws_hub_upgrade_ops, ctx):
 * it will see the events of @f (copied, strings too; at most
 * WS_FILTER_SERVICES_MAX services) after @after_id, and first the text
 * @greeting (taken: free(); @len bytes of UTF-8 JSON). The hub takes the
 * connection over once the 101 is sent; otherwise the server frees it.
 */
struct keys;
/* With @keys, the client is closed (1008) once key @key_id (0: none) is revoked. */
struct ws_hub_client *ws_hub_client_new(struct ws_hub *h, const struct bus_filter *f,
					int64_t after_id, char *greeting, size_t len,
					struct keys *keys, int64_t key_id);
extern const struct resp_upgrade_ops ws_hub_upgrade_ops;

#endif
