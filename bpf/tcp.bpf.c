// SPDX-License-Identifier: GPL-2.0
/*
 * TCP trouble per watched service, aggregated in the kernel: retransmits,
 * resets sent and received, and connects that failed (SYN_SENT -> CLOSE,
 * which covers refused, unreachable and timed-out connects). Nothing wakes
 * user space; it reads tcp_stats once per window (bpf/tcp.h: generations).
 *
 * Attribution. These tracepoints mostly run in softirq context, where the
 * current task is whoever was interrupted, so events are attributed by socket:
 *  - a client socket belongs to the service of the process that called
 *    connect(): the SYN_SENT transition runs in that process's context and
 *    records the socket in sk_owner; the entry goes when the socket is
 *    destroyed (or, without tcp_destroy_sock, when it reaches CLOSE);
 *  - any other socket belongs to the service listening on its local port
 *    (svc_by_port), which covers listeners and accepted sockets.
 * Accepted: svc_by_port knows ports, not network namespaces, so a socket in
 * another namespace on a watched port counts for that service.
 *
 * Counters are per CPU and need no atomics: a tracepoint program never nests
 * in another on the same CPU (the kernel's bpf_prog_active guard skips, and
 * counts as a miss, a program that would).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "bpf/tcp.h"

char LICENSE[] SEC("license") = "GPL";

/* Flipped between 0 and 1 by user space; part of every tcp_stats key. */
__u32 gen = 0;
/* Set before load when tcp_destroy_sock is attached: sk_owner entries then outlive CLOSE. */
const volatile __u8 owner_until_destroy = 0;

/* local port (host order) -> service id, filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCP_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u16);
} svc_by_port SEC(".maps");

/* tgid -> service id, filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCP_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u16);
} svc_by_tgid SEC(".maps");

/* socket address -> service id of the connecting process; LRU because a missed event orphans one */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCP_MAX_OWNERS);
	__type(key, __u64);
	__type(value, __u16);
} sk_owner SEC(".maps");

/* Keys are (gen in {0, 1}, service id): it cannot fill, and an LRU could evict counts */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TCP_MAX_STATS);
	__type(key, struct tcp_trouble_key);
	__type(value, struct tcp_trouble);
} tcp_stats SEC(".maps");

/*
 * Tracepoint layouts that changed, as CO-RE flavours so that the object does
 * not depend on the vmlinux.h it was built with; each program checks which
 * one the running kernel has.
 *
 * tcp_retransmit_skb: its own class in recent kernels (this 6.18 one), which
 * added `err` and fires on failed attempts too; before, the tcp_event_sk_skb
 * class. Only the layout of the running kernel is tested here.
 *
 * Where a program reads the same field from one flavour or the other, clang
 * likes to merge the two loads into one through ctx + (offset chosen by
 * branch), which the verifier rejects ("dereference of modified ctx ptr"):
 * ctx_loaded() after the loads of each branch keeps them apart.
 */
struct trace_event_raw_tcp_retransmit_skb___n {
	const void *skaddr;
	__u16 sport;
	int err; /* 0, a negative errno, or a positive NET_XMIT_* code */
} __attribute__((preserve_access_index));

/* the class tcp_send_reset and tcp_retransmit_skb used to share */
struct trace_event_raw_tcp_event_sk_skb___o {
	const void *skaddr;
	__u16 sport;
} __attribute__((preserve_access_index));

/*
 * tcp_send_reset in its own class: skaddr may be NULL (a reset for a segment
 * no socket wanted), and the local side is saddr, a sockaddr_in or
 * sockaddr_in6 taken from the socket or from the segment; a layout with a
 * plain sport is read as such.
 */
struct trace_event_raw_tcp_send_reset___n {
	const void *skaddr;
	__u16 sport;
	__u8 saddr[28];
} __attribute__((preserve_access_index));

/* A compiler barrier: loads above it stay in their branch. */
#define ctx_loaded() asm volatile("" ::: "memory")

enum tcp_counter {
	TCP_RETRANSMITS = 0,
	TCP_RESETS_SENT = 1,
	TCP_RESETS_RECEIVED = 2,
	TCP_CONNECT_FAILURES = 3,
};

static __always_inline void count(__u16 svc, enum tcp_counter what)
{
	struct tcp_trouble_key key = { .gen = gen, .svc_id = svc };
	struct tcp_trouble *st, zero = {};

	st = bpf_map_lookup_elem(&tcp_stats, &key);
	if (!st) {
		/* BPF_NOEXIST: another CPU may have created it meanwhile; fine */
		bpf_map_update_elem(&tcp_stats, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&tcp_stats, &key);
		if (!st)
			return;
	}
	switch (what) {
	case TCP_RETRANSMITS:
		st->retransmits++;
		break;
	case TCP_RESETS_SENT:
		st->resets_sent++;
		break;
	case TCP_RESETS_RECEIVED:
		st->resets_received++;
		break;
	case TCP_CONNECT_FAILURES:
		st->connect_failures++;
		break;
	}
}

/* The service a socket belongs to, 0 for none; @lport is its local port, host order. */
static __always_inline __u16 svc_of(const void *skaddr, __u16 lport)
{
	__u64 sk = (__u64)skaddr;
	__u16 *id;

	if (sk) {
		id = bpf_map_lookup_elem(&sk_owner, &sk);
		if (id)
			return *id;
	}
	if (lport) {
		id = bpf_map_lookup_elem(&svc_by_port, &lport);
		if (id)
			return *id;
	}
	return 0;
}

static __always_inline void count_sk(const void *skaddr, __u16 lport, enum tcp_counter what)
{
	__u16 svc = svc_of(skaddr, lport);

	if (svc)
		count(svc, what);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retrans(void *ctx)
{
	const void *sk;
	__u16 lport;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___n)) {
		struct trace_event_raw_tcp_retransmit_skb___n *c = ctx;

		/*
		 * A negative err is an attempt given up before anything was sent
		 * (-EBUSY: the original is still queued below TCP; -EAGAIN,
		 * -ENOMEM), which TCP tries again later: not a retransmit. A
		 * positive one is a NET_XMIT_* drop below TCP of a segment that
		 * did go out, which RetransSegs counts: so do we.
		 */
		if (bpf_core_field_exists(c->err) && c->err < 0)
			return 0;
		sk = c->skaddr;
		lport = c->sport;
		ctx_loaded();
	} else {
		struct trace_event_raw_tcp_event_sk_skb___o *c = ctx;

		sk = c->skaddr;
		lport = c->sport;
		ctx_loaded();
	}
	count_sk(sk, lport, TCP_RETRANSMITS);
	return 0;
}

/* A listener retransmitting a SYN-ACK: counted by port, as RetransSegs counts it. */
SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	count_sk(NULL, ctx->sport, TCP_RETRANSMITS);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_rst_sent(void *ctx)
{
	const void *sk;
	__u16 lport;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset___n)) {
		struct trace_event_raw_tcp_send_reset___n *c = ctx;

		sk = c->skaddr;
		if (bpf_core_field_exists(c->sport))
			lport = c->sport;
		else /* sin_port / sin6_port: bytes 2-3, network order */
			lport = (__u16)c->saddr[2] << 8 | c->saddr[3];
		ctx_loaded();
	} else {
		struct trace_event_raw_tcp_event_sk_skb___o *c = ctx;

		sk = c->skaddr;
		lport = c->sport;
		ctx_loaded();
	}
	count_sk(sk, lport, TCP_RESETS_SENT);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_rst_recv(struct trace_event_raw_tcp_event_sk *ctx)
{
	count_sk(ctx->skaddr, ctx->sport, TCP_RESETS_RECEIVED);
	return 0;
}

/* Called for every TCP socket that is freed, after any reset it sends while closing. */
SEC("tracepoint/tcp/tcp_destroy_sock")
int tcp_destroy(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;

	bpf_map_delete_elem(&sk_owner, &sk);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	int newstate = ctx->newstate;
	__u16 *id;

	if (bpf_core_field_exists(ctx->protocol) && ctx->protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		/* inside connect(): the current process owns the socket */
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		id = bpf_map_lookup_elem(&svc_by_tgid, &tgid);
		if (id)
			bpf_map_update_elem(&sk_owner, &sk, id, BPF_ANY);
		else /* a stale entry of a freed socket at the same address */
			bpf_map_delete_elem(&sk_owner, &sk);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	/*
	 * By owner only: a socket in SYN_SENT is a client, and its local port
	 * can be a watched listening port of another network namespace.
	 */
	if (ctx->oldstate == TCP_SYN_SENT) {
		id = bpf_map_lookup_elem(&sk_owner, &sk);
		if (id)
			count(*id, TCP_CONNECT_FAILURES);
	}
	if (!owner_until_destroy)
		bpf_map_delete_elem(&sk_owner, &sk);
	return 0;
}
