/*
 * The payload of a FRAME_WINDOWS frame: the windows of every service of one
 * agent that closed at the same time, in a compact binary form (varints,
 * histograms in their wire form of common/hist.h); docs/protocol.md has the
 * layout. The aggregator decodes into the same struct window the agent filled.
 *
 * Decoding untrusted bytes: every count and length is checked against the
 * bytes left and the limits of common/window.h (at most SERVICES_MAX
 * windows, WINDOW_BATCH_ENTRIES_MAX entries of each kind per window, names
 * within their arrays and of printable characters), so no input makes the
 * decoder read out of bounds, allocate without bound, or crash; anything
 * inconsistent is -EPROTO and nothing is returned.
 */
#ifndef PRP_COMMON_WINDOW_WIRE_H
#define PRP_COMMON_WINDOW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/window.h"

#define WINDOW_WIRE_VERSION 1
#define WINDOW_HOST_MAX 256
#define WINDOW_PIDS_MAX 256
/* Entries of each kind (http, syscalls, calls) in one decoded window. */
#define WINDOW_BATCH_ENTRIES_MAX 4096

/* One service's window in a batch. */
struct window_batch_item {
	char service[SERVICE_NAME_MAX];
	uint32_t pids[WINDOW_PIDS_MAX];
	size_t npids;
	struct window *w; /* owned by the batch when decoded; borrowed when encoding */
};

/* The windows of one agent that closed at end_ms. */
struct window_batch {
	char host[WINDOW_HOST_MAX];
	int64_t end_ms;	       /* window end, ms since the epoch */
	uint32_t interval_ms;  /* the windows' length */
	uint64_t spool_bytes;  /* the agent's unacknowledged spool when it encoded this */
	uint64_t spool_lost;   /* frames the agent's spool has dropped at its bound, ever */
	struct window_batch_item *items;
	size_t n;
};

/*
 * Appends the encoded @b to @out. 0, or -E2BIG when @out's cap is reached,
 * or -EINVAL when @b breaks a rule the decoder enforces (docs/protocol.md),
 * leaving @out as it was. An item's NULL window encodes as an empty one.
 */
int window_batch_encode(const struct window_batch *b, struct buf *out);

/*
 * Decodes @len bytes at @p into @b (which it initializes): 0, or -EPROTO for
 * any malformed input (then @b holds nothing to release). On success release
 * with window_batch_release().
 */
int window_batch_decode(const void *p, size_t len, struct window_batch *b);

/* Frees what window_batch_decode() allocated. */
void window_batch_release(struct window_batch *b);

#endif
