// SPDX-License-Identifier: GPL-2.0
/*
 * Rate limit on new TCP connections to a local port, at tc ingress of the
 * interface the service is reached through (lo for loopback clients).
 *
 * Only a SYN without ACK (a connection request) is judged: everything else,
 * including SYN-ACKs, data of established connections and every packet of a
 * port without a bucket, goes on untouched. A judged SYN takes a token from
 * its port's bucket (bpf/ratelimit.h describes the GCRA form it is kept in)
 * and is dropped when there is none. The client's kernel sees no answer and
 * retransmits the SYN after its SYN timeout (1 s, then 2 s, 4 s...), and
 * each retransmission is judged, and counted, again: `passed` and `dropped`
 * count SYN packets, not connections. Dropping rather than answering with a
 * RST is deliberate: a RST makes clients fail at once (ECONNREFUSED) and
 * often retry at once, while a dropped SYN spreads their retries out, the
 * same back-pressure a full accept queue gives.
 *
 * Return values: on pass the program answers TC_ACT_UNSPEC, which is
 * TCX_NEXT for tcx and "next filter" for a classic cls_bpf filter, so the
 * programs after it (the HTTP sampler's filter on the same hook) still see
 * the packet. TC_ACT_SHOT drops it.
 *
 * Parsing covers Ethernet (lo has a zeroed Ethernet header too), IPv4
 * without fragments and IPv6 whose first next header is TCP. A SYN behind
 * IPv6 extension headers or in a VLAN tag passes unjudged: rare enough to
 * accept, and passing is the safe side of a rate limit.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/ratelimit.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT   2
#define NSEC_PER_SEC  1000000000ull
/*
 * Compare-and-exchange attempts before giving up. Each failed attempt means
 * another CPU took a token in between, so running out of attempts needs
 * this many SYNs to the same port within a few hundred nanoseconds; the SYN
 * is then dropped, as the bucket was being emptied anyway.
 */
#define CAS_TRIES 8

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RATELIMIT_MAX_ENTRIES);
	__type(key, struct ratelimit_key);
	__type(value, struct ratelimit_bucket);
} rl_buckets SEC(".maps");

/* The destination port of @skb in host order when it is a TCP SYN without ACK, else 0. */
static __always_inline __u16 syn_dport(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
			return 0;
		/* a later fragment has no TCP header; a SYN is never fragmented */
		if (ip->frag_off & bpf_htons(0x3fff))
			return 0;
		tcp = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return 0;
		tcp = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if ((void *)(tcp + 1) > end)
		return 0;
	if (!tcp->syn || tcp->ack)
		return 0;
	return bpf_ntohs(tcp->dest);
}

/* Takes a token from @b. Returns 1 when the SYN may pass. */
static __always_inline int take_token(struct ratelimit_bucket *b)
{
	__u64 rate = b->rate_per_s, burst = b->burst, interval, tau, now, tat, base;

	if (!rate)
		return 1;
	interval = NSEC_PER_SEC / rate;
	/* a bucket of `burst` tokens: that many SYNs may pass back to back */
	tau = (burst ? burst - 1 : 0) * interval;
	for (int i = 0; i < CAS_TRIES; i++) {
		now = bpf_ktime_get_ns();
		tat = *(volatile __u64 *)&b->tat_ns;
		base = tat > now ? tat : now;
		if (base - now > tau)
			return 0; /* empty: nothing to write */
		if (__sync_val_compare_and_swap(&b->tat_ns, tat, base + interval) == tat)
			return 1;
	}
	return 0;
}

SEC("tc")
int rl_ingress(struct __sk_buff *skb)
{
	struct ratelimit_key key = {};
	struct ratelimit_bucket *b;

	key.port = syn_dport(skb);
	if (!key.port)
		return TC_ACT_UNSPEC;
	b = bpf_map_lookup_elem(&rl_buckets, &key);
	if (!b)
		return TC_ACT_UNSPEC;
	if (take_token(b)) {
		__sync_fetch_and_add(&b->passed, 1);
		return TC_ACT_UNSPEC;
	}
	__sync_fetch_and_add(&b->dropped, 1);
	return TC_ACT_SHOT;
}
