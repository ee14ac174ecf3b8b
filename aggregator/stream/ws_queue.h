/*
 * A WebSocket connection's output: a queue of whole server frames, each
 * reference-counted so that one event's frame, built once, sits on the
 * queues of every subscriber it goes to. The queue is sent from its head
 * with sendmsg(), the head frame possibly partly sent already, which is
 * why a close cuts the queue after that frame and never inside it.
 *
 * Not thread-safe, counts included: a queue and its items belong to one
 * thread (the WebSocket hub's).
 */
#ifndef PRP_AGGREGATOR_STREAM_WS_QUEUE_H
#define PRP_AGGREGATOR_STREAM_WS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/stream/ws_frame.h"
#include "common/compiler.h"

/* One encoded frame, read-only once made. */
struct ws_queue_item {
	unsigned refs;
	int64_t id; /* the caller's tag (an event id); 0 when made */
	size_t len;
	unsigned char *data;
};

/* A frame of @opcode with @len bytes of @p (borrowed); one reference, or NULL when
 * ws_frame_encode() refuses it (a text that is not UTF-8, a control frame too long). */
struct ws_queue_item *ws_queue_item_new(enum ws_opcode opcode, const void *p, size_t len);
/* A close frame with @code and @reason (NULL: none); WS_CLOSE_NO_STATUS makes an empty
 * one (the echo of a peer's empty close). One reference, or NULL for a code never sent. */
struct ws_queue_item *ws_queue_item_close(uint16_t code, const char *reason);
void ws_queue_item_ref(struct ws_queue_item *it);
/* Drops a reference; frees with the last. NULL does nothing. */
void ws_queue_item_unref(struct ws_queue_item *it);

/* Zero it to start: an empty queue allocates nothing. The fields are read-only outside. */
struct ws_queue {
	struct ws_queue_item **v;
	size_t cap, head, n; /* the items are v[head .. head + n) */
	size_t head_off;     /* bytes of v[head] sent */
	size_t bytes;	     /* bytes not sent yet, of all items */
};

/* Appends @it, taking the caller's reference. */
void ws_queue_push(struct ws_queue *q, struct ws_queue_item *it);
/* Drops every item not begun; the head one stays when it is partly sent. */
void ws_queue_cut(struct ws_queue *q);
/* Drops every item and frees; @q is then empty. */
void ws_queue_release(struct ws_queue *q);
/*
 * Sends what the non-blocking socket @fd takes now (MSG_NOSIGNAL): 0, also
 * when it is full, or -errno when the connection is gone (EPIPE, ECONNRESET).
 */
PRP_MUST_CHECK int ws_queue_send(struct ws_queue *q, int fd);

#endif
