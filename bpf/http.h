/*
 * ABI of bpf/http.bpf.c: HTTP/1.x requests seen in TCP packets by a tc
 * program, aggregated in the kernel per service, route, method, status and
 * latency bucket (inbound), and per calling service, peer and bucket
 * (outbound). See STYLE.md §2 for the rules on these structs.
 */
#ifndef PRP_BPF_HTTP_H
#define PRP_BPF_HTTP_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

#include "bpf/route.h"

#define HTTP_PORTS 65536
/* Connections with a request in flight or kept alive, on the whole host. */
#define HTTP_CONNS_MAX 65536
/* Stats keys per generation: services x routes x statuses x latency buckets. */
#define HTTP_STATS_MAX	65536
#define HTTP_CALLS_MAX	16384
#define HTTP_OWNERS_MAX 65536
/* Bytes of the request target read to fold the route; a power of two. */
#define HTTP_PATH_SCAN 128
/*
 * The span ring (http_spans), in bytes: a power of two, at least a page.
 * 2 MiB holds about 14,500 span records (136 bytes and an 8-byte header
 * each), or about 2,900 requests from outside (each also writes a 560-byte
 * head); the program wakes the reader when the ring crosses half and three
 * quarters full, which at 40,000 requests/s leaves it 180 ms (37 ms for
 * requests from outside) to come and drain before a record is lost. The reader maps the data pages twice (so
 * that a record may wrap), so the ring counts double in the agent's
 * resident memory: 4 MiB here. With spans off the agent shrinks it to one
 * page before loading.
 */
#define HTTP_SPANS_RING_BYTES (2u << 20)
/*
 * Bytes of a request's first segment copied into a struct http_head_event
 * when spans are on (a power of two), for user space to find a W3C
 * traceparent header in: the request line and the headers after it. A
 * header that starts or ends past them is not seen.
 */
#define HTTP_HEAD_BYTES 512

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET = 1,
	HTTP_METHOD_POST = 2,
	HTTP_METHOD_PUT = 3,
	HTTP_METHOD_DELETE = 4,
	HTTP_METHOD_HEAD = 5,
	HTTP_METHOD_PATCH = 6,
	HTTP_METHOD_OPTIONS = 7,
};

/* Indexes of the http_drops per-CPU counters. */
enum http_drop {
	HTTP_DROP_STATS_FULL = 0, /* a stats or calls map was full: a request not counted */
	HTTP_DROP_UNANSWERED = 1, /* a new request replaced one that had no response */
	HTTP_DROP_RETRANSMIT = 2, /* a request segment seen again (not a loss: a dedup) */
	HTTP_DROP_SPANS_FULL = 3, /* the http_spans ring was full: a span or head record lost */
	HTTP_DROP_MAX = 4,
};

/* Key of http_stats (value: __u64 count per CPU): inbound requests. */
struct http_stats_key {
	char route[ROUTE_MAX]; /* folded, NUL-padded */
	__u32 gen;
	__u32 bucket; /* bpf/hist.h bucket of the latency in ns */
	__u16 svc;
	__u16 status;
	__u8 method; /* enum http_method */
	__u8 pad0[3];
};
_Static_assert(sizeof(struct http_stats_key) == 80, "struct http_stats_key is ABI");

/* Key of http_calls (value: __u64 count per CPU): outbound calls of a service. */
struct http_call_key {
	__u8 daddr[16]; /* the server; IPv4 in the first 4 bytes */
	__u32 gen;
	__u32 bucket;
	__u16 svc;   /* the calling service */
	__u16 dport; /* host order */
	__u8 family; /* 4 or 6 */
	__u8 error;  /* 1: the answer was a 5xx */
	__u8 pad0[2];
};
_Static_assert(sizeof(struct http_call_key) == 32, "struct http_call_key is ABI");

/* A TCP connection, oriented: the client sent the request. */
struct http_conn_key {
	__u8 caddr[16];
	__u8 saddr[16];
	__u16 cport;
	__u16 sport;
	__u32 pad0;
};
_Static_assert(sizeof(struct http_conn_key) == 40, "struct http_conn_key is ABI");

struct http_conn {
	char route[ROUTE_MAX];
	__u64 start_ns; /* 0: no request in flight */
	__u32 req_seq;	/* TCP sequence number of the request's first segment */
	__u16 server_svc;
	__u16 client_svc;
	__u8 method;
	__u8 pad0[3];
	__u32 req_tid; /* spans on: the thread current when the request was seen (its sender) */
};
_Static_assert(sizeof(struct http_conn) == 88, "struct http_conn is ABI");

/* The one entry of http_span_cfg: whether to write span records. */
struct http_span_cfg {
	__u32 on; /* 0: no records (the response path pays one array look-up) */
};
_Static_assert(sizeof(struct http_span_cfg) == 4, "struct http_span_cfg is ABI");

/*
 * One answered request, written to the http_spans ring buffer at its
 * response when spans are on (agent/spans.h builds the spans). Times are
 * bpf_ktime_get_ns(), that is CLOCK_MONOTONIC. The thread ids are those of
 * the task current when tc saw the segment: on loopback and on egress that
 * is, almost always, the thread that sent it (the softirq runs on the
 * sender's way out), a hint that ties a service's outbound call to the
 * inbound request the same thread was serving; 0 or a foreign thread when
 * the segment was handled elsewhere (ksoftirqd, a NIC's interrupt).
 */
struct http_span_event {
	char route[ROUTE_MAX]; /* folded, NUL-padded */
	__u64 start_ns;	       /* the request's first segment */
	__u64 end_ns;	       /* the response's first segment */
	__u8 caddr[16];	       /* the client; IPv4 in the first 4 bytes */
	__u8 saddr[16];	       /* the server */
	__u32 req_tid;	       /* sender of the request, see above */
	__u32 resp_tid;	       /* sender of the response */
	__u16 cport;	       /* host order */
	__u16 sport;
	__u16 server_svc; /* 0: the server is not a watched service */
	__u16 client_svc; /* 0: the client is not a watched service's socket */
	__u16 status;
	__u8 method; /* enum http_method */
	__u8 family; /* 4 or 6 */
	__u8 pad0[4];
};
_Static_assert(sizeof(struct http_span_event) == 136, "struct http_span_event is ABI");

/*
 * The head of a request from outside (its client is no watched socket, its
 * server a watched service), written to the http_spans ring at the
 * request's first segment when spans are on, before the request's span
 * record (which is written at the response). User space pairs the two by
 * connection and start_ns, and reads a traceparent header from @data
 * (agent/spans.h). Told apart from a span record by its size.
 */
struct http_head_event {
	__u64 start_ns; /* the request's start_ns, as its span record will carry it */
	__u8 caddr[16];
	__u8 saddr[16];
	__u16 cport; /* host order */
	__u16 sport;
	__u16 len; /* bytes of @data that are the request's, 1..HTTP_HEAD_BYTES */
	__u8 pad0[2];
	char data[HTTP_HEAD_BYTES]; /* the segment's payload from its first byte; past len: stale */
};
_Static_assert(sizeof(struct http_head_event) == 560, "struct http_head_event is ABI");

#endif
