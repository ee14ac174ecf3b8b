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

/*
 * A window as the aggregator ingests it (window_batch_decode_view()): its
 * totals, computed while checking it, and its three sections as they are
 * on the wire, borrowed from the payload. A section is a varint count then
 * that many entries (docs/protocol.md); window_wire_iter_*() walk one.
 * Nothing is allocated per entry: no histogram is materialized.
 */
struct window_view {
	uint64_t requests;	 /* the HTTP counts, summed (saturating) */
	uint64_t errors;	 /* of which status 500..599 */
	uint64_t syscalls;	 /* the syscall counts, summed */
	uint64_t syscall_errors; /* their errors, summed */
	struct window_tcp tcp;
	/* each section's bytes: a varint count, then the entries; NULL: no view */
	const uint8_t *http_wire, *syscalls_wire, *calls_wire;
	size_t http_wire_len, syscalls_wire_len, calls_wire_len;
};

/* One service's window in a batch. */
struct window_batch_item {
	char service[SERVICE_NAME_MAX];
	uint32_t pids[WINDOW_PIDS_MAX];
	size_t npids;
	struct window *w; /* owned by the batch when decoded; borrowed when encoding */
	struct window_view view; /* set by window_batch_decode_view() instead of @w */
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

/* Frees what window_batch_decode() or window_batch_decode_view() allocated. */
void window_batch_release(struct window_batch *b);

/*
 * Decodes @len bytes at @p into @b, as window_batch_decode() and by exactly
 * its rules (the same inputs are refused, with -EPROTO and nothing to
 * release), but each item gets a view (w is NULL) that borrows @p: keep
 * the bytes until @b is released. Histograms are checked, not built, so
 * this costs a pass over the bytes and one allocation for the items.
 */
int window_batch_decode_view(const void *p, size_t len, struct window_batch *b);

/*
 * For producers of struct window batches that must hand a consumer of views
 * (the store, the series) a batch: encodes @b into @scratch (reset first)
 * and decodes its views into @out, which borrows @scratch. 0, -EINVAL when
 * @b would not encode, -E2BIG past @scratch's cap. Release @out with
 * window_batch_release().
 */
int window_batch_view_of(const struct window_batch *b, struct buf *scratch,
			 struct window_batch *out);

/* ---- Walking the sections of a view (or of bytes kept from one) ---- */

/* An HTTP entry; strings are not NUL-terminated; borrowed from the section. */
struct window_wire_http {
	const char *method, *route;
	size_t method_len, route_len;
	uint16_t status;
	uint64_t count;
	const uint8_t *hist; /* the serialized latency_ns histogram (common/hist.h) */
	size_t hist_len;
};

struct window_wire_syscall {
	uint32_t nr;
	const char *name;
	size_t name_len;
	uint64_t count, errors;
	struct window_errno errnos[WINDOW_ERRNOS_MAX];
	size_t nerrnos;
	const uint8_t *hist;
	size_t hist_len;
};

struct window_wire_call {
	const char *address, *peer;
	size_t address_len, peer_len;
	uint64_t count, errors;
	const uint8_t *hist;
	size_t hist_len;
};

struct window_wire_iter {
	const uint8_t *p;
	size_t len, off;
	uint64_t left; /* entries not read yet */
};

/*
 * Starts a walk of the section at @p (@len bytes, borrowed; NULL or 0 is an
 * empty section). 0, or -EPROTO when its count is bad. Each _next() checks
 * the entry by the rules of the decoder (histograms included, but not the
 * uniqueness of entries, a rule of the whole window) and returns 1 with
 * *@out, 0 at the end when the section's bytes are used exactly, or -EPROTO.
 * Safe on untrusted bytes (a stored blob).
 */
int window_wire_iter_init(struct window_wire_iter *it, const void *p, size_t len);
int window_wire_next_http(struct window_wire_iter *it, struct window_wire_http *out);
int window_wire_next_syscall(struct window_wire_iter *it, struct window_wire_syscall *out);
int window_wire_next_call(struct window_wire_iter *it, struct window_wire_call *out);

#endif
