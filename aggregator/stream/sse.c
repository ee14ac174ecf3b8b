/*
 * A Server-Sent Events subscriber (sse.h). It holds one formatted batch at
 * most (a read of SSE_BATCH events), sent as the socket takes it, then
 * reads the bus again: memory per subscriber stays a few KiB whatever the
 * rate of events.
 */
#include "aggregator/stream/sse.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/auth/keys.h"
#include "aggregator/http/http.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#define SSE_BATCH     32
#define SSE_OUT_MAX   (8u << 20) /* a batch of the largest events */
#define SSE_RETRY_MS  3000	  /* how soon a browser reconnects */

struct sse {
	struct bus *bus;
	struct bus_watch *watch;
	struct keys *keys; /* NULL: auth off */
	int64_t key_id;
	char tenant[FRAME_ID_MAX];
	char services[SSE_SERVICES_MAX][SERVICE_NAME_MAX];
	const char *service_ptrs[SSE_SERVICES_MAX];
	struct bus_filter filter;
	int64_t after_id;
	struct buf out;
	size_t off; /* of out, sent */
	uint64_t last_send_ns;
	bool greeted;
};

static atomic_size_t sse_count;

size_t sse_active(void)
{
	return atomic_load(&sse_count);
}

struct sse *sse_new(struct bus *bus, const struct bus_filter *f, int64_t after_id,
		    struct keys *keys, int64_t key_id)
{
	struct sse *s = xcalloc(1, sizeof(*s));

	s->bus = bus;
	s->keys = keys;
	s->key_id = key_id;
	snprintf(s->tenant, sizeof(s->tenant), "%s", f->tenant);
	s->filter = *f;
	s->filter.tenant = s->tenant;
	if (f->services) {
		s->filter.nservices = f->nservices < SSE_SERVICES_MAX ? f->nservices
								       : SSE_SERVICES_MAX;
		for (size_t i = 0; i < s->filter.nservices; i++) {
			snprintf(s->services[i], sizeof(s->services[i]), "%s", f->services[i]);
			s->service_ptrs[i] = s->services[i];
		}
		s->filter.services = s->service_ptrs;
	}
	s->after_id = after_id;
	buf_init(&s->out, SSE_OUT_MAX);
	s->last_send_ns = time_mono_ns();
	return s;
}

static void sse_wake(void *stream)
{
	http_stream_wake(stream);
}

static void sse_start(void *ctx, struct http_stream *stream)
{
	struct sse *s = ctx;

	atomic_fetch_add(&sse_count, 1);
	s->watch = bus_watch(s->bus, sse_wake, stream);
}

static void sse_free(void *ctx)
{
	struct sse *s = ctx;

	if (s->watch) {
		bus_unwatch(s->bus, s->watch);
		atomic_fetch_sub(&sse_count, 1);
	}
	buf_release(&s->out);
	free(s);
}

/* The next batch into s->out: 0, or -1 when the stream must end. */
static int sse_fill(struct sse *s)
{
	struct bus_event *ev[SSE_BATCH];
	int ret = 0;

	buf_reset(&s->out);
	s->off = 0;
	if (s->keys && s->key_id && !keys_valid(s->keys, s->key_id))
		return -1; /* its key was revoked: the stream ends */
	if (!s->greeted) {
		s->greeted = true;
		if (buf_appendf(&s->out, "retry: %d\n: connected\n\n", SSE_RETRY_MS))
			return -1;
	}
	/* events that match nothing of this filter move the cursor on: a few rounds at most */
	for (int round = 0; round < 8 && !ret; round++) {
		int64_t next;
		size_t n = 0;

		if (bus_read(s->bus, s->after_id, &s->filter, ev, SSE_BATCH, &n, &next)) {
			log_ratelimited(LOG_LEVEL_WARN, "stream: cannot read the events");
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (!ret && buf_appendf(&s->out, "id: %lld\nevent: %s\ndata: %s\n\n",
						(long long)ev[i]->id, bus_type_name(ev[i]->type),
						ev[i]->json))
				ret = -1;
			bus_event_unref(ev[i]);
		}
		if (n || next == s->after_id) {
			s->after_id = next;
			break;
		}
		s->after_id = next;
	}
	if (!ret && !s->out.len &&
	    time_mono_ns() - s->last_send_ns >= SSE_KEEPALIVE_S * NSEC_PER_SEC)
		ret = buf_append_str(&s->out, ": keep-alive\n\n") ? -1 : 0;
	return ret;
}

static long sse_read(void *ctx, char *dst, size_t max)
{
	struct sse *s = ctx;
	size_t n;

	if (s->off == s->out.len && sse_fill(s))
		return -1;
	n = s->out.len - s->off;
	if (!n)
		return 0;
	if (n > max)
		n = max;
	memcpy(dst, s->out.data + s->off, n);
	s->off += n;
	s->last_send_ns = time_mono_ns();
	return (long)n;
}

const struct resp_stream_ops sse_stream_ops = {
	.start = sse_start,
	.read = sse_read,
	.free = sse_free,
};
