/*
 * One Server-Sent Events subscriber (GET /stream/events): the events of
 * the bus that match its filter, from the id it resumes after, each as
 *
 *	id: 42
 *	event: anomaly.detected
 *	data: {"event": ..., "timestamp": ..., "data": {...}}
 *
 * and a comment every SSE_KEEPALIVE_S of silence, so proxies keep the
 * connection and a client that left is noticed. Nothing is queued per
 * subscriber: it reads the bus at its own pace (the ring, then the store
 * when it fell behind), so a slow one costs memory to nobody.
 */
#ifndef PRP_AGGREGATOR_STREAM_SSE_H
#define PRP_AGGREGATOR_STREAM_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/http/resp.h"

#define SSE_KEEPALIVE_S	 15
#define SSE_SERVICES_MAX 32

struct sse;

/*
 * A subscriber of @bus for @f (copied, strings too) that starts with the
 * events after @after_id (bus_last_id() for "from now on"), as the ctx of a
 * stream response: resp_stream(rp, "text/event-stream", &sse_stream_ops, s).
 */
struct keys;
/*
 * With @keys, the stream ends once key @key_id (its subscriber's; 0: none)
 * is revoked: at the next event or keep-alive.
 */
struct sse *sse_new(struct bus *bus, const struct bus_filter *f, int64_t after_id,
		    struct keys *keys, int64_t key_id);
extern const struct resp_stream_ops sse_stream_ops;

/* Subscribers connected now, in this process. */
size_t sse_active(void);

#endif
