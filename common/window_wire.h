/*
 * The payload of a FRAME_WINDOWS frame: the windows of every service of one
 * agent that closed at the same time, in a compact binary form (varints,
 * histograms in their wire form of common/hist.h); docs/protocol.md has the
 * layout. The aggregator decodes into the same struct window the agent filled.
 * Version 2 adds, per window, the lines the service wrote to stdout and
 * stderr and its spans (window_wire_v2.c); version 1 is still read, and
 * written when a batch has neither.
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

/*
 * The newest version this code reads and writes. Version 1 is version 2
 * without the logs and spans sections of each window; both are read, and
 * the encoder writes the lowest one that carries the batch (docs/protocol.md).
 */
#define WINDOW_WIRE_VERSION 2
#define WINDOW_WIRE_VERSION_MIN 1
#define WINDOW_HOST_MAX 256
#define WINDOW_PIDS_MAX 256
/* Entries of each kind (http, syscalls, calls) in one decoded window. */
#define WINDOW_BATCH_ENTRIES_MAX 4096
/*
 * Log lines in one window (agent: logs.max_lines_per_window is at most
 * this), and the bytes of one line: 3 x 64 KiB, the longest logs.max_line
 * with every byte replaced by U+FFFD (3 bytes) when it was not UTF-8.
 */
#define WINDOW_LOG_LINES_MAX 65536
#define WINDOW_LOG_LINE_MAX (3 * 65536)
/* Spans in one window. */
#define WINDOW_SPANS_MAX 4096

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
	/* version 2: the log lines and the spans, walked the same way; NULL in version 1 */
	const uint8_t *logs_wire, *spans_wire;
	size_t logs_wire_len, spans_wire_len;
	size_t nlogs, nspans; /* their counts */
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
	/*
	 * The payload version: set by the decoders to what they read. For the
	 * encoder, 0 picks the lowest that carries the batch (1 unless a window
	 * has log lines or spans); 1 or 2 asks for that one (1 with lines or
	 * spans is -EINVAL), so a decoded batch encodes to its own bytes.
	 */
	uint8_t version;
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

/* A log line; its text is borrowed from the section, not NUL-terminated. */
struct window_wire_log {
	int64_t ts_ns;
	uint8_t stream; /* enum window_log_stream */
	const char *text;
	size_t len;
};

struct span;
/*
 * The logs and spans sections (version 2) have counts of their own bounds
 * (WINDOW_LOG_LINES_MAX, WINDOW_SPANS_MAX): start their walks with these,
 * as window_wire_iter_init() otherwise. Lines are checked as the decoder
 * checks them; a span fills *@out but its service and host (the window's
 * and the batch's), which are left empty.
 */
int window_wire_iter_init_logs(struct window_wire_iter *it, const void *p, size_t len);
int window_wire_iter_init_spans(struct window_wire_iter *it, const void *p, size_t len);
int window_wire_next_log(struct window_wire_iter *it, struct window_wire_log *out);
int window_wire_next_span(struct window_wire_iter *it, struct span *out);

#endif
