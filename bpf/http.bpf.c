// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP/1.x requests of watched services, from TCP packets at tc.
 *
 * Why packets and not syscalls: enabled syscall tracepoints tax every
 * syscall of every process on the host, while a tc program runs only for
 * packets, and returns after four array look-ups for packets of unwatched
 * ports (docs/agent.md has the measurements). On loopback every packet
 * crosses lo's ingress once, so one program there sees both the request and
 * the response; on other interfaces it is attached to ingress and egress.
 *
 * A request is a TCP segment whose payload starts with a method and a space;
 * its response is the next segment in the other direction whose payload
 * starts with "HTTP/1.x NNN" (1xx interim answers are skipped). Latency runs
 * from the first request segment to the first response segment. A segment
 * seen again with the same sequence number is a retransmit and is ignored,
 * so each request counts exactly once. Pipelining and HTTP/2 are not
 * handled; TLS payloads do not parse and are ignored.
 *
 * Counting is in the kernel: one counter per (service, route, method,
 * status, latency bucket), and per (calling service, peer, error, bucket) for
 * outbound calls, added to atomically (a per-CPU value would be one more page
 * to touch per response). Every key carries the generation in `http_gen`,
 * which user space flips before reading and deleting the previous one, so no
 * increment is lost.
 *
 * Cost per packet is mostly memory the program touches, so a packet does as
 * little as it can: a segment without payload (an ACK) returns after the
 * parse, one of an unwatched port after four array look-ups (inlined, no
 * helper call); a request of a kept-alive connection is one
 * hash look-up and an in-place rewrite (never an LRU update); a response is
 * one look-up of the connection and one of its counter.
 *
 * Client sockets of watched processes are learnt from sock:inet_sock_set_state:
 * the connect() that moves a socket to SYN_SENT runs in the caller's context.
 *
 * Spans: when user space turns them on (http_span_cfg), each response also
 * writes one struct http_span_event to the http_spans ring buffer, without
 * waking the reader (which drains it at each window's end) except when the
 * ring crosses half and three quarters full. Off, they cost the response
 * one inlined array look-up; the request always notes its thread (a helper
 * call, within the noise of docs/agent.md's measurements).
 *
 * traceparent: with spans on, a request from outside (no watched client
 * socket) also writes, at its first segment, a struct http_head_event with
 * the segment's first HTTP_HEAD_BYTES bytes to the same ring; user space
 * looks for the header there. The program never scans the bytes: a scan
 * cost 280 to 690 ns a request (docs/agent.md), the copy into a second
 * record about 200 ns (most of it the record, not the bytes), whatever the
 * request holds. Calls between watched services need no header: the agent
 * links them itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/hist.h"
#include "bpf/http.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
/*
 * Every answer is TC_ACT_UNSPEC: the packet goes on to the programs and
 * filters after ours (TCX_NEXT on a tcx link, the next filter on a classic
 * one), so another agent's program on the same hook sees it too.
 */
#define TC_ACT_UNSPEC	(-1)
#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT	2
#define TCP_CLOSE	7
#define HEAD_LEN	16 /* "GET / HTTP/1.1\r\n" and "HTTP/1.1 200 OK\r" are 16 */
/* A record's room in the ring: the record and the ring's 8-byte header. */
#define SPAN_REC_SPACE (sizeof(struct http_span_event) + 8)
#define HEAD_REC_SPACE (sizeof(struct http_head_event) + 8)

/*
 * The size of http_spans as loaded, set by user space before load (a
 * constant to the verifier: the wake-up thresholds below cost nothing).
 */
const volatile __u32 spans_ring_bytes = HTTP_SPANS_RING_BYTES;

/*
 * The generation every stats key carries, flipped by user space. A one-entry
 * array rather than a global: globals live in an mmapable, hence vmalloc()ed,
 * map, and a small array is kmalloc()ed, so a response touches one 4 KiB
 * vmalloc page fewer (pti without PCID flushes the TLB on every kernel entry
 * here). Within the noise in docs/agent.md's measurements, but not worse.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} http_gen SEC(".maps");

/* listening port -> service id (0: not watched) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HTTP_PORTS);
	__type(key, __u32);
	__type(value, __u16);
} port_svc SEC(".maps");

/* local port of a watched process's client socket -> service id */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HTTP_PORTS);
	__type(key, __u32);
	__type(value, __u16);
} client_svc SEC(".maps");

/* tgid -> service id, filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u16);
} svc_by_tgid SEC(".maps");

/* socket being connected by a watched process -> service id */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_OWNERS_MAX);
	__type(key, __u64);
	__type(value, __u16);
} owners SEC(".maps");

/*
 * local port of a client socket -> the socket that claimed it in
 * client_svc. A port number is not one socket's: other addresses and
 * other network namespaces (containers, tests) use it too, and the close
 * of one of those must not clear our claim. Ports claimed by user space
 * (connections made before the agent watched) have no entry here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_OWNERS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} client_claims SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_CONNS_MAX);
	__type(key, struct http_conn_key);
	__type(value, struct http_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTP_STATS_MAX);
	__type(key, struct http_stats_key);
	__type(value, __u64);
} http_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HTTP_CALLS_MAX);
	__type(key, struct http_call_key);
	__type(value, __u64);
} http_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} http_drops SEC(".maps");

/* Whether to write span records; set by user space (agent/sampler_http.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_span_cfg);
} http_span_cfg SEC(".maps");

/*
 * One struct http_span_event per answered request, when spans are on, and
 * one struct http_head_event per request from outside before it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HTTP_SPANS_RING_BYTES); /* user space may shrink it before load */
} http_spans SEC(".maps");

/*
 * What the route folding callback works on, on on_request()'s stack (208
 * bytes): a per-CPU scratch map would be one more page per request. It fits
 * because on_request() and on_response() are subprograms, so their locals do
 * not add up in one frame.
 */
struct fold_ctx {
	char path[HTTP_PATH_SCAN];
	struct route_fold fold;
};

static __always_inline void count_drop(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&http_drops, &which);

	if (n)
		(*n)++;
}

static __always_inline __u16 lookup_port(void *map, __u16 port)
{
	__u32 k = port;
	__u16 *svc = bpf_map_lookup_elem(map, &k);

	return svc ? *svc : 0;
}

/* Adds one to a shared counter, creating it when absent. */
static __always_inline void count_key(void *map, const void *key)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(map, key);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* EEXIST: another CPU created it meanwhile; add to it */
	if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(map, key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			count_drop(HTTP_DROP_STATS_FULL);
	}
}

/* The method at the start of a payload, and its length with the space. */
static __always_inline __u8 parse_method(const char *h, __u32 *len)
{
	if (h[0] == 'G' && h[1] == 'E' && h[2] == 'T' && h[3] == ' ') {
		*len = 4;
		return HTTP_METHOD_GET;
	}
	if (h[0] == 'P' && h[1] == 'O' && h[2] == 'S' && h[3] == 'T' && h[4] == ' ') {
		*len = 5;
		return HTTP_METHOD_POST;
	}
	if (h[0] == 'P' && h[1] == 'U' && h[2] == 'T' && h[3] == ' ') {
		*len = 4;
		return HTTP_METHOD_PUT;
	}
	if (h[0] == 'D' && h[1] == 'E' && h[2] == 'L' && h[3] == 'E' && h[4] == 'T' &&
	    h[5] == 'E' && h[6] == ' ') {
		*len = 7;
		return HTTP_METHOD_DELETE;
	}
	if (h[0] == 'H' && h[1] == 'E' && h[2] == 'A' && h[3] == 'D' && h[4] == ' ') {
		*len = 5;
		return HTTP_METHOD_HEAD;
	}
	if (h[0] == 'P' && h[1] == 'A' && h[2] == 'T' && h[3] == 'C' && h[4] == 'H' &&
	    h[5] == ' ') {
		*len = 6;
		return HTTP_METHOD_PATCH;
	}
	if (h[0] == 'O' && h[1] == 'P' && h[2] == 'T' && h[3] == 'I' && h[4] == 'O' &&
	    h[5] == 'N' && h[6] == 'S' && h[7] == ' ') {
		*len = 8;
		return HTTP_METHOD_OPTIONS;
	}
	return HTTP_METHOD_OTHER;
}

/* The status of a response start "HTTP/1.x NNN", or -1. */
static __always_inline int parse_status(const char *h)
{
	if (!(h[0] == 'H' && h[1] == 'T' && h[2] == 'T' && h[3] == 'P' && h[4] == '/' &&
	      h[5] == '1' && h[6] == '.' && h[8] == ' '))
		return -1;
	if (h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
		return -1;
	return (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
}

static long fold_one(__u32 i, void *data)
{
	struct fold_ctx *s = data;

	return route_fold_step(&s->fold, s->path[i & (HTTP_PATH_SCAN - 1)]);
}

struct packet {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u32 seq;
	__u32 payload_off;
	__u32 payload_len;
	__u8 family;
	__u8 method;	 /* of a request: enum http_method */
	__u8 method_len; /* with its space */
};

/* Parses Ethernet, IPv4 or IPv6, and TCP. Returns 0 for a TCP segment. */
static __always_inline int parse_packet(struct __sk_buff *skb, struct packet *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;
	__u32 l4_off, ip_len;

	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
			return -1;
		if (ip->frag_off & bpf_htons(0x3fff)) /* fragments: not worth parsing */
			return -1;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		p->family = 4;
		l4_off = ETH_HLEN + ip->ihl * 4;
		ip_len = bpf_ntohs(ip->tot_len) - ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return -1;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		p->family = 6;
		l4_off = ETH_HLEN + sizeof(*ip6);
		ip_len = bpf_ntohs(ip6->payload_len);
	} else {
		return -1;
	}
	tcp = data + l4_off;
	if ((void *)(tcp + 1) > end)
		return -1;
	p->sport = bpf_ntohs(tcp->source);
	p->dport = bpf_ntohs(tcp->dest);
	p->seq = bpf_ntohl(tcp->seq);
	p->payload_off = l4_off + tcp->doff * 4;
	p->payload_len = ip_len > tcp->doff * 4u ? ip_len - tcp->doff * 4 : 0;
	return 0;
}

/*
 * Whether a ring holding @avail bytes, our record included, has just
 * crossed half or three quarters full: then the reader is woken once (an
 * approximation: two CPUs writing at once may both miss a crossing; the
 * next one, or the window's drain, catches up).
 */
static __always_inline bool spans_crossed(__u64 avail, __u64 rec_space)
{
	__u64 half = spans_ring_bytes / 2, q3 = spans_ring_bytes / 4 * 3;

	return (avail >= half && avail - rec_space < half) ||
	       (avail >= q3 && avail - rec_space < q3);
}

/*
 * The head of a request from outside, for user space to find a traceparent
 * in (bpf/http.h). A fixed-size record, so the copy is one helper call of
 * 1..HTTP_HEAD_BYTES bytes and no loop; the bytes past len are whatever
 * an earlier record left in the ring, which user space had already.
 */
static __always_inline void emit_head(struct __sk_buff *skb, const struct packet *p,
				      const struct http_conn_key *key, __u64 now)
{
	struct http_head_event *h = bpf_ringbuf_reserve(&http_spans, sizeof(*h), 0);
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 n = p->payload_len;

	if (!h) {
		count_drop(HTTP_DROP_SPANS_FULL);
		return;
	}
	if (n > HTTP_HEAD_BYTES)
		n = HTTP_HEAD_BYTES;
	/* the same 1..HTTP_HEAD_BYTES (the caller saw HEAD_LEN), as the verifier wants it */
	n = ((n - 1) & (HTTP_HEAD_BYTES - 1)) + 1;
	if (bpf_skb_load_bytes(skb, p->payload_off, h->data, n)) {
		bpf_ringbuf_discard(h, BPF_RB_NO_WAKEUP);
		return;
	}
	h->start_ns = now;
	__builtin_memcpy(h->caddr, key->caddr, 16);
	__builtin_memcpy(h->saddr, key->saddr, 16);
	h->cport = key->cport;
	h->sport = key->sport;
	h->len = n;
	h->pad0[0] = h->pad0[1] = 0;
	if (spans_crossed(bpf_ringbuf_query(&http_spans, BPF_RB_AVAIL_DATA), HEAD_REC_SPACE))
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(h, flags);
}

static __noinline void on_request(struct __sk_buff *skb, const struct packet *p, __u16 server,
				  __u16 client)
{
	struct http_conn_key key = {};
	struct http_conn *c;
	struct fold_ctx ctx, *s = &ctx;
	struct http_span_cfg *span_cfg;
	__u32 n, zero = 0;
	__u64 now;

	__builtin_memcpy(key.caddr, p->src, 16);
	__builtin_memcpy(key.saddr, p->dst, 16);
	key.cport = p->sport;
	key.sport = p->dport;
	c = bpf_map_lookup_elem(&conns, &key);
	/*
	 * The same first sequence number again is a retransmission, answered or
	 * not: a later request on the connection starts further on.
	 */
	if (c && c->req_seq == p->seq) {
		count_drop(HTTP_DROP_RETRANSMIT);
		return;
	}
	if (c && c->start_ns)
		count_drop(HTTP_DROP_UNANSWERED);
	n = p->payload_len - p->method_len; /* > 0: the caller saw HEAD_LEN bytes */
	if (n > HTTP_PATH_SCAN)
		n = HTTP_PATH_SCAN;
	/* the same 1..HTTP_PATH_SCAN, in a form the verifier follows into a subprogram */
	n = ((n - 1) & (HTTP_PATH_SCAN - 1)) + 1;
	if (bpf_skb_load_bytes(skb, p->payload_off + p->method_len, s->path, n))
		return;
	route_fold_init(&s->fold);
	bpf_loop(n, fold_one, s, 0);
	route_fold_finish(&s->fold);

	now = bpf_ktime_get_ns();
	/* a request from outside, spans on: its head, for a traceparent */
	if (server && !client) {
		span_cfg = bpf_map_lookup_elem(&http_span_cfg, &zero);
		if (span_cfg && span_cfg->on)
			emit_head(skb, p, &key, now);
	}
	if (!c) {
		struct http_conn fresh = {};

		/* the first request of a connection: the only update of the map */
		__builtin_memcpy(fresh.route, s->fold.out, ROUTE_MAX);
		fresh.start_ns = now;
		fresh.req_seq = p->seq;
		fresh.server_svc = server;
		fresh.client_svc = client;
		fresh.method = p->method;
		fresh.req_tid = (__u32)bpf_get_current_pid_tgid();
		bpf_map_update_elem(&conns, &key, &fresh, BPF_ANY);
		return;
	}
	/*
	 * A kept-alive connection: rewrite the entry in place; an LRU update
	 * takes a fresh node and two locks (about 110 ns, docs/agent.md). No
	 * response can be matched before this request reaches the server, which
	 * is after we return, and start_ns, which the response side tests, is
	 * written last.
	 */
	__builtin_memcpy(c->route, s->fold.out, ROUTE_MAX);
	c->req_seq = p->seq;
	c->server_svc = server;
	c->client_svc = client;
	c->method = p->method;
	c->req_tid = (__u32)bpf_get_current_pid_tgid();
	c->start_ns = now;
}

/*
 * One record per answered request, never waking the reader per record
 * (BPF_RB_NO_WAKEUP): user space drains the ring at each window's end, and
 * when woken at a crossing above.
 */
static __always_inline void emit_span(const struct packet *p, const struct http_conn *c, int status,
				      __u64 now)
{
	struct http_span_event *e = bpf_ringbuf_reserve(&http_spans, sizeof(*e), 0);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!e) {
		count_drop(HTTP_DROP_SPANS_FULL);
		return;
	}
	__builtin_memcpy(e->route, c->route, ROUTE_MAX);
	e->start_ns = c->start_ns;
	e->end_ns = now;
	/* a response: the server is its source */
	__builtin_memcpy(e->caddr, p->dst, 16);
	__builtin_memcpy(e->saddr, p->src, 16);
	e->req_tid = c->req_tid;
	e->resp_tid = (__u32)bpf_get_current_pid_tgid();
	e->cport = p->dport;
	e->sport = p->sport;
	e->server_svc = c->server_svc;
	e->client_svc = c->client_svc;
	e->status = status;
	e->method = c->method;
	e->family = p->family;
	/* ring memory is not cleared: no stale kernel bytes to user space */
	__builtin_memset(e->pad0, 0, sizeof(e->pad0));
	if (spans_crossed(bpf_ringbuf_query(&http_spans, BPF_RB_AVAIL_DATA), SPAN_REC_SPACE))
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __noinline void on_response(const struct packet *p, int status)
{
	struct http_conn_key key = {};
	struct http_call_key call = {};
	struct http_conn *c;
	struct http_span_cfg *span_cfg;
	__u32 zero = 0, bucket, gen, *g;
	__u64 now = bpf_ktime_get_ns();

	__builtin_memcpy(key.caddr, p->dst, 16);
	__builtin_memcpy(key.saddr, p->src, 16);
	key.cport = p->dport;
	key.sport = p->sport;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || !c->start_ns)
		return;
	bucket = hist_bucket_index(now - c->start_ns);
	g = bpf_map_lookup_elem(&http_gen, &zero);
	gen = g ? *g : 0;
	if (c->server_svc) {
		struct http_stats_key stats = {};

		__builtin_memcpy(stats.route, c->route, ROUTE_MAX);
		stats.gen = gen;
		stats.bucket = bucket;
		stats.svc = c->server_svc;
		stats.status = status;
		stats.method = c->method;
		count_key(&http_stats, &stats);
	}
	if (c->client_svc) {
		__builtin_memcpy(call.daddr, p->src, 16);
		call.gen = gen;
		call.bucket = bucket;
		call.svc = c->client_svc;
		call.dport = p->sport;
		call.family = p->family;
		call.error = status >= 500;
		count_key(&http_calls, &call);
	}
	/* spans off: this array look-up (inlined by the verifier) is all they cost */
	span_cfg = bpf_map_lookup_elem(&http_span_cfg, &zero);
	if (span_cfg && span_cfg->on)
		emit_span(p, c, status, now);
	/* keep the entry: the next request on this kept-alive connection reuses it */
	c->start_ns = 0;
}

SEC("tc")
int http_tc(struct __sk_buff *skb)
{
	struct packet p = {};
	char head[HEAD_LEN];
	__u16 server_in, server_out, client_in, client_out;
	__u32 method_len = 0;
	__u8 method;
	int status;

	if (parse_packet(skb, &p) || p.payload_len < HEAD_LEN)
		return TC_ACT_UNSPEC;
	/* the cheap filter: is either end a watched server port or client socket? */
	server_in = lookup_port(&port_svc, p.dport);
	client_out = lookup_port(&client_svc, p.sport);
	server_out = lookup_port(&port_svc, p.sport);
	client_in = lookup_port(&client_svc, p.dport);
	if (!(server_in | client_out | server_out | client_in))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, p.payload_off, head, HEAD_LEN))
		return TC_ACT_UNSPEC;
	method = parse_method(head, &method_len);
	if (method != HTTP_METHOD_OTHER) {
		p.method = method;
		p.method_len = method_len;
		if (server_in || client_out)
			on_request(skb, &p, server_in, client_out);
		return TC_ACT_UNSPEC;
	}
	status = parse_status(head);
	if (status >= 200 && (server_out || client_in))
		on_response(&p, status);
	return TC_ACT_UNSPEC;
}

/*
 * Learns which local ports belong to watched processes' client sockets, and
 * forgets connections when their socket closes.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int http_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	__u16 *svc;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->newstate == TCP_SYN_SENT) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		svc = bpf_map_lookup_elem(&svc_by_tgid, &tgid);
		if (svc)
			bpf_map_update_elem(&owners, &sk, svc, BPF_ANY);
		return 0;
	}
	if (ctx->newstate == TCP_ESTABLISHED && ctx->oldstate == TCP_SYN_SENT) {
		svc = bpf_map_lookup_elem(&owners, &sk);
		if (svc) {
			__u32 port = ctx->sport;

			bpf_map_update_elem(&client_svc, &port, svc, BPF_ANY);
			bpf_map_update_elem(&client_claims, &port, &sk, BPF_ANY);
		}
		return 0;
	}
	if (ctx->newstate == TCP_CLOSE) {
		struct http_conn_key key = {};
		__u32 port = ctx->sport;
		__u64 *claim = bpf_map_lookup_elem(&client_claims, &port);
		__u16 zero = 0;

		/*
		 * The local port is free again, if this is the socket that
		 * claimed it: by the SYN_SENT path above, or by user space for
		 * connections made before the agent watched (no claim kept).
		 * A listening port is never in client_svc.
		 */
		if (!claim || *claim == sk) {
			if (lookup_port(&client_svc, ctx->sport))
				bpf_map_update_elem(&client_svc, &port, &zero, BPF_ANY);
			if (claim)
				bpf_map_delete_elem(&client_claims, &port);
		}
		bpf_map_delete_elem(&owners, &sk);
		/* the connection in both orientations: we do not know who was the client */
		/* tracepoint fields at a computed offset: read, not dereferenced */
		if (ctx->family == AF_INET) {
			bpf_probe_read_kernel(key.caddr, 4, ctx->saddr);
			bpf_probe_read_kernel(key.saddr, 4, ctx->daddr);
		} else {
			bpf_probe_read_kernel(key.caddr, 16, ctx->saddr_v6);
			bpf_probe_read_kernel(key.saddr, 16, ctx->daddr_v6);
		}
		key.cport = ctx->sport;
		key.sport = ctx->dport;
		bpf_map_delete_elem(&conns, &key);
		if (ctx->family == AF_INET) {
			bpf_probe_read_kernel(key.caddr, 4, ctx->daddr);
			bpf_probe_read_kernel(key.saddr, 4, ctx->saddr);
		} else {
			bpf_probe_read_kernel(key.caddr, 16, ctx->daddr_v6);
			bpf_probe_read_kernel(key.saddr, 16, ctx->saddr_v6);
		}
		key.cport = ctx->dport;
		key.sport = ctx->sport;
		bpf_map_delete_elem(&conns, &key);
	}
	return 0;
}
