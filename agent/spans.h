/*
 * HTTP spans from the kernel's span records (struct http_span_event, one per
 * answered request, bpf/http.h), linked into traces by the agent's own
 * correlation. Pure logic: no kernel, no clock but the one spans_collect()
 * reads for the monotonic-to-unix offset, so it is unit-tested with
 * synthetic records.
 *
 * What a record becomes (S, C: watched services; the kernel names the two
 * ends of the connection by service id, 0 for an unwatched end):
 *  - client 0, server S: a request from outside, a SERVER span of S and the
 *    root of a trace;
 *  - client C: a call of C, a CLIENT span of C (peer: the server's service,
 *    else its address and port) and, when the server S is watched too, a
 *    SERVER span of S whose parent is that client span.
 * The parent of C's client span is the SERVER span of C (either kind of
 * record above) whose interval contains the call's: the request C was
 * serving when it made the call. When several do (concurrent requests),
 * the one whose response was sent by the thread that sent the call's
 * request (the kernel's thread hint), else the latest-starting one. That
 * is a guess: with one thread serving many requests at once (an event
 * loop) a call made for an older request is given to a newer one, and a
 * container whose record arrives only after the trace of another one was
 * built cannot claim its calls back.
 *
 * A request's calls end before it does, and the kernel writes records in
 * response order, so a trace is complete when its root's record has
 * arrived; it is built settle_ns after the root ended (so that a longer
 * concurrent container, still running, can claim the calls that are
 * really its own). A call in no server span (background work, or a service
 * that only calls) becomes the root of its own trace orphan_ns after it
 * ended. At most max_pending records wait; past that the oldest are dropped
 * and counted.
 *
 * A request from outside whose head (struct http_head_event, written by
 * the kernel before its span record) carries a valid W3C traceparent
 * header joins the caller's trace: its SERVER span takes the header's
 * trace id, and the header's parent id as its parent, and every call under
 * it is in that trace. The head's bytes are parsed once, as they arrive;
 * only heads with a valid header are kept, at most SPANS_HEADS_MAX of them
 * (one slot per connection hash: a collision forgets the older one).
 *
 * Sampling is per trace, the rule of the aggregator's OTLP exporter
 * (otlp_keep()): a trace is kept when the first 8 bytes of its trace id,
 * big-endian, are below sample_rate * 2^64, or when any of its spans has a
 * status >= 500 or lasts longer than slow_ns; so every span of a trace is
 * kept or none is. A trace whose traceparent has the sampled flag is kept
 * too: the caller recorded its part, and ours completes it. Trace and span
 * ids are random (getrandom(2)), never zero, unless a traceparent gives
 * them; times are unix ns.
 *
 * Threads: a struct spans belongs to one thread (the agent's main loop).
 */
#ifndef PRP_AGENT_SPANS_H
#define PRP_AGENT_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/services.h"
#include "bpf/http.h"
#include "common/span.h"

#define SPANS_SAMPLE_RATE    0.1
#define SPANS_SLOW_NS	     (500ull * 1000 * 1000)
#define SPANS_MAX_PER_WINDOW 10000
/* 184 bytes each (struct spans_node): 16384 waiting records are under 3 MiB. */
#define SPANS_PENDING_MAX 16384
#define SPANS_ORPHAN_NS	  (30ull * 1000 * 1000 * 1000)
#define SPANS_SETTLE_NS	  (100ull * 1000 * 1000)
/* Heads with a traceparent waiting for their span record: 72 bytes each, 288 KiB. */
#define SPANS_HEADS_MAX 4096
/* The sampled bit of a traceparent's flags (W3C Trace Context, trace-flags). */
#define SPANS_TRACEPARENT_SAMPLED 0x01

/* A valid W3C traceparent header's value, version 00. */
struct spans_traceparent {
	uint8_t trace_id[SPAN_TRACE_ID_LEN]; /* never all zero */
	uint8_t parent_id[SPAN_ID_LEN];	     /* never all zero */
	uint8_t flags;			     /* trace-flags */
};

struct spans_config {
	double sample_rate;	     /* the fraction of traces kept, 0..1 */
	uint64_t slow_ns;	     /* a trace with a span longer than this is kept; 0: no rule */
	size_t max_spans_per_window; /* spans emitted between two window resets; 0: no bound */
	size_t max_pending;	     /* records waiting at most, >= 1 */
	uint64_t orphan_ns;	     /* a call in no server span: its own trace after this */
	uint64_t settle_ns;	     /* a root's trace is built this long after it ended */
	const char *host;	     /* copied into every span; NULL: "" */
};

struct spans_stats {
	uint64_t records;	     /* handed to spans_add() */
	uint64_t records_ignored;    /* with neither end watched, or ending before starting */
	uint64_t pending_dropped;    /* the oldest, dropped at max_pending */
	uint64_t traces;	     /* built */
	uint64_t traces_orphan;	     /* of which rooted at a call in no server span */
	uint64_t traces_linked;	     /* of which joined a caller's trace by its traceparent */
	uint64_t heads_traceparent;  /* request heads with a valid traceparent */
	uint64_t traces_kept;	     /* sampled in, and emitted */
	uint64_t traces_sampled_out; /* by the sampling rule: not a loss */
	uint64_t traces_over_cap;    /* sampled in but past max_spans_per_window: lost */
	uint64_t spans_emitted;
	size_t pending; /* records waiting now */
};

struct spans;

/* Receives one finished span, borrowed for the call only. */
typedef void spans_emit_fn(void *arg, const struct span *s);

/* Fills @c with the defaults above (host NULL). */
void spans_config_default(struct spans_config *c);

/* A new builder (caller owns: spans_free()). @c is copied. */
struct spans *spans_new(const struct spans_config *c);
/* Frees @s and every record still waiting. NULL does nothing. */
void spans_free(struct spans *s);

/*
 * Learns the names of the services of @set by id (ids are stable for the
 * agent's life, so a name once learnt stays right). A record naming an id
 * never learnt treats that end as unwatched.
 */
void spans_set_services(struct spans *s, const struct service_set *set);

/*
 * Takes one record (copied). Past max_pending the oldest waiting one is
 * dropped. A request from outside takes the traceparent of its head, if
 * spans_add_head() was given one.
 */
void spans_add(struct spans *s, const struct http_span_event *e);

/*
 * Takes one request head (borrowed for the call): when its bytes carry a
 * valid traceparent (spans_parse_traceparent()), keeps it for the span
 * record of the same connection and start.
 */
void spans_add_head(struct spans *s, const struct http_head_event *h);

/*
 * Finds a traceparent header in the @len bytes at @head (a request's first
 * bytes: the request line, then headers): a line that starts with the name
 * in any case, ':', optional spaces or tabs, then exactly
 * "00-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>", optional
 * spaces or tabs and the line's end ("\r\n" or "\n"), which must be within
 * @len: a header cut by the end of the bytes is not taken. The ids must not
 * be all zero. Only version 00 is accepted. The first traceparent line
 * decides. True and @out filled, or false (@out unchanged).
 */
bool spans_parse_traceparent(const char *head, size_t len, struct spans_traceparent *out);

/*
 * Builds every trace that is due at @now_mono_ns (CLOCK_MONOTONIC, the
 * kernel's clock), samples it, and hands each span of each kept trace to
 * @emit, parents before their children. May be called any number of times
 * a window (the agent also calls it when the kernel's ring fills); all the
 * calls of one window emit at most max_spans_per_window spans together (a
 * whole trace that would pass the bound is dropped and counted).
 * @now_mono_ns UINT64_MAX builds everything that waits (at exit).
 */
void spans_collect(struct spans *s, uint64_t now_mono_ns, spans_emit_fn *emit, void *arg);

/* Starts a new window: max_spans_per_window may be emitted again. */
void spans_window_reset(struct spans *s);

/* The counters since spans_new(). */
void spans_get_stats(const struct spans *s, struct spans_stats *out);

/*
 * The trace-id half of the sampling rule: whether the first 8 bytes of
 * @trace_id, big-endian, are below @rate * 2^64 (always for @rate >= 1,
 * never for @rate <= 0).
 */
bool spans_trace_sampled(const uint8_t trace_id[SPAN_TRACE_ID_LEN], double rate);

#endif
