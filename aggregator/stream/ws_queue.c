/*
 * WebSocket output queues (ws_queue.h). The item array is a window
 * v[head .. head + n) that slides as items are sent: when it reaches the
 * end it moves down if more than half is free, else the array doubles, so
 * that both push and send stay amortised O(1) per item.
 */
#include "aggregator/stream/ws_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/alloc.h"
#include "common/buf.h"

#define WS_QUEUE_IOV 64 /* items per sendmsg() */

static struct ws_queue_item *ws_queue_item_wrap(struct buf *b)
{
	struct ws_queue_item *it = xcalloc(1, sizeof(*it));

	it->refs = 1;
	it->data = buf_detach(b, &it->len);
	return it;
}

struct ws_queue_item *ws_queue_item_new(enum ws_opcode opcode, const void *p, size_t len)
{
	struct buf b;

	buf_init(&b, len + WS_HEADER_MAX);
	if (ws_frame_encode(&b, opcode, p, len)) {
		buf_release(&b);
		return NULL;
	}
	return ws_queue_item_wrap(&b);
}

struct ws_queue_item *ws_queue_item_close(uint16_t code, const char *reason)
{
	struct buf b;

	buf_init(&b, WS_HEADER_MAX + WS_CONTROL_MAX);
	if (code == WS_CLOSE_NO_STATUS ? ws_frame_encode(&b, WS_CLOSE, NULL, 0)
				       : ws_frame_encode_close(&b, code, reason)) {
		buf_release(&b);
		return NULL;
	}
	return ws_queue_item_wrap(&b);
}

void ws_queue_item_ref(struct ws_queue_item *it)
{
	it->refs++;
}

void ws_queue_item_unref(struct ws_queue_item *it)
{
	if (it && !--it->refs) {
		free(it->data);
		free(it);
	}
}

void ws_queue_push(struct ws_queue *q, struct ws_queue_item *it)
{
	if (q->head + q->n == q->cap) {
		if (q->head > q->cap / 2) {
			memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
			q->head = 0;
		} else {
			q->cap = q->cap ? 2 * q->cap : 16;
			q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
		}
	}
	q->v[q->head + q->n++] = it;
	q->bytes += it->len;
}

/* Drops @len sent bytes from the head. */
static void ws_queue_consume(struct ws_queue *q, size_t len)
{
	q->bytes -= len;
	while (len) {
		struct ws_queue_item *it = q->v[q->head];
		size_t left = it->len - q->head_off;

		if (len < left) {
			q->head_off += len;
			return;
		}
		len -= left;
		ws_queue_item_unref(it);
		q->head++;
		q->n--;
		q->head_off = 0;
	}
	if (!q->n)
		q->head = 0;
}

void ws_queue_cut(struct ws_queue *q)
{
	size_t keep = q->head_off ? 1 : 0;

	for (size_t i = keep; i < q->n; i++)
		ws_queue_item_unref(q->v[q->head + i]);
	q->n = keep;
	q->bytes = keep ? q->v[q->head]->len - q->head_off : 0;
	if (!keep)
		q->head = 0;
}

void ws_queue_release(struct ws_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		ws_queue_item_unref(q->v[q->head + i]);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

int ws_queue_send(struct ws_queue *q, int fd)
{
	while (q->n) {
		struct iovec iov[WS_QUEUE_IOV];
		size_t k = 0, want = 0;
		ssize_t w;

		for (; k < q->n && k < WS_QUEUE_IOV; k++) {
			struct ws_queue_item *it = q->v[q->head + k];
			size_t off = k ? 0 : q->head_off;

			iov[k] = (struct iovec){ .iov_base = it->data + off,
						 .iov_len = it->len - off };
			want += it->len - off;
		}
		w = sendmsg(fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = k },
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		ws_queue_consume(q, (size_t)w);
		if ((size_t)w < want)
			return 0; /* the socket is full */
	}
	return 0;
}
