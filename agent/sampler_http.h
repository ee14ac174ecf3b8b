/*
 * The HTTP sampler: loads bpf/http.bpf.c, attaches its tc program to every
 * network interface (loopback: ingress; others: ingress and egress) and its
 * socket-state tracepoint, and turns the kernel's counters into windows.
 * When asked, it also hands on the kernel's span records (one per answered
 * request, agent/spans.h builds the spans).
 * One owning thread (the agent's main loop).
 */
#ifndef PRP_AGENT_SAMPLER_HTTP_H
#define PRP_AGENT_SAMPLER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/services.h"
#include "common/window.h"
#include "common/compiler.h"

#define SAMPLER_HTTP_HOOKS_MAX 64

struct http_bpf;
struct http_span_event;
struct http_head_event;
struct ring_buffer;

/*
 * Receives one span record (bpf/http.h), borrowed for the call only; runs
 * in the thread that calls sampler_http_spans_drain() or _wait().
 */
typedef void sampler_http_span_fn(void *arg, const struct http_span_event *e);
/* Receives one request head (bpf/http.h), borrowed for the call only; the same thread. */
typedef void sampler_http_head_fn(void *arg, const struct http_head_event *h);

/* How to start; zeroed means sampler_http_start(): no span records. */
struct sampler_http_opts {
	/*
	 * Bytes of the span ring (a power of two, at least a page; 0: no spans,
	 * and the ring is shrunk to one page). Spans are written only once
	 * sampler_http_spans_enable() turns them on.
	 */
	size_t spans_ring_bytes;
	sampler_http_span_fn *on_span; /* required with a ring */
	void *span_arg;		       /* borrowed, passed to on_span and on_head */
	sampler_http_head_fn *on_head; /* NULL: request heads are skipped */
};

struct sampler_http_hook {
	int ifindex;
	int attach_point;  /* BPF_TC_INGRESS or BPF_TC_EGRESS */
	int created_qdisc; /* we made the clsact qdisc, so we remove it */
	int link_fd;	   /* the tcx link (tcx.h), or -1 with a classic filter */
};

struct sampler_http {
	struct http_bpf *skel;
	struct sampler_http_hook hooks[SAMPLER_HTTP_HOOKS_MAX];
	int nhooks;
	uint16_t *port_svc;		     /* shadow of the port_svc map, HTTP_PORTS entries */
	char (*port_name)[SERVICE_NAME_MAX]; /* port -> service name, for peers */
	uint32_t *tgids;		     /* tgids now in svc_by_tgid */
	size_t ntgids;
	uint64_t drops[4]; /* totals of http_drops (HTTP_DROP_MAX), for the status line */
	uint32_t gen;	   /* the generation the kernel counts into (the http_gen map) */
	struct ring_buffer *spans_rb; /* NULL: started without a span ring */
	int spans_epfd;		      /* edge-triggered epoll on the ring (with spans_rb) */
	sampler_http_span_fn *on_span;
	sampler_http_head_fn *on_head;
	void *span_arg;
};

/* Loads and attaches. Returns 0, or a negative errno after one warning line. */
PRP_MUST_CHECK int sampler_http_start(struct sampler_http *s);
/* As sampler_http_start(), with a span ring when @o asks for one. */
PRP_MUST_CHECK int sampler_http_start_opts(struct sampler_http *s,
					   const struct sampler_http_opts *o);
/*
 * Turns span records on or off in the kernel (the http_span_cfg map).
 * 0, -ENOTSUP without a span ring, or the map update's -errno.
 */
PRP_MUST_CHECK int sampler_http_spans_enable(struct sampler_http *s, bool on);
/*
 * Hands every record in the ring to on_span, without waiting. Returns the
 * number handed, or a negative errno; 0 without a ring.
 */
int sampler_http_spans_drain(struct sampler_http *s);
/*
 * Waits up to @timeout_ns (rounded up to a millisecond) for the kernel's
 * wake-up (the ring half or three quarters full), then drains. Without a
 * ring it just sleeps. Returns what sampler_http_spans_drain() would, or
 * -EINTR when a signal cut the wait short.
 */
int sampler_http_spans_wait(struct sampler_http *s, uint64_t timeout_ns);
/* Detaches everything, removes qdiscs we created, frees. Safe after a failed start. */
void sampler_http_stop(struct sampler_http *s);
/* Makes the kernel watch exactly the ports and processes of @set. */
PRP_MUST_CHECK int sampler_http_set_targets(struct sampler_http *s, const struct service_set *set);
/* Moves what the kernel counted since the last collect into @ws. */
PRP_MUST_CHECK int sampler_http_collect(struct sampler_http *s, struct window_set *ws);

#endif
