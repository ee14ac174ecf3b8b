// SPDX-License-Identifier: GPL-2.0
/*
 * Circuit breakers in the kernel: cgroup/connect4 and cgroup/connect6 run in
 * the connecting process's context, before the SYN is sent, for every
 * connect() of a socket created in (or below) the cgroup they are attached
 * to. A TCP connect to a destination whose breaker is open returns 0, which
 * the kernel turns into EPERM for the caller: the caller fails in
 * microseconds instead of queueing on a sick service. Everything else
 * returns 1 and goes on untouched. Established connections never pass here.
 *
 * The key layout (v4-mapped IPv4, host-order port, the any-address entries)
 * is described in bpf/breaker.h.
 *
 * Only SOCK_STREAM sockets (TCP, MPTCP) are judged: a UDP connect() sends
 * nothing, so refusing it would only break datagram clients without
 * protecting anything.
 *
 * Counters are updated with atomic adds: the entry is shared by every CPU.
 * There is a race here: user space replaces an entry's value (open after
 * half-open) by writing a new element, and a refusal counted on the old one
 * between user space's read and its write is lost. A few counts at a state
 * change are an accepted error; the decision itself is never wrong.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/breaker.h"

char LICENSE[] SEC("license") = "GPL";

#define CONNECT_PASS   1
#define CONNECT_REFUSE 0 /* the kernel returns -EPERM from connect() */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BREAKER_MAX_ENTRIES);
	__type(key, struct breaker_key);
	__type(value, struct breaker_entry);
} breakers SEC(".maps");

/* Whether a connect under entry @e may pass; counts it either way. */
static __always_inline int judge(struct breaker_entry *e)
{
	__u64 now, next;

	if (e->state == BREAKER_HALF_OPEN) {
		now = bpf_ktime_get_ns();
		next = e->next_probe_ns;
		/*
		 * Only the CPU whose exchange succeeds gets the probe: two
		 * connects racing for it see the same `next`, and one of them
		 * fails the exchange and is refused.
		 */
		if (now >= next &&
		    __sync_val_compare_and_swap(&e->next_probe_ns, next,
						now + e->probe_interval_ns) == next) {
			__sync_fetch_and_add(&e->probes, 1);
			return CONNECT_PASS;
		}
	} else if (e->state != BREAKER_OPEN) {
		return CONNECT_PASS;
	}
	__sync_fetch_and_add(&e->refused, 1);
	return CONNECT_REFUSE;
}

/*
 * Looks up the exact destination in @key, then the any address of its
 * family on the same port. @key is clobbered.
 */
static __always_inline int decide(struct breaker_key *key)
{
	struct breaker_entry *e;

	e = bpf_map_lookup_elem(&breakers, key);
	if (e)
		return judge(e);
	key->addr[0] = 0;
	key->addr[1] = 0;
	/* the any address of IPv4 is stored v4-mapped like every other one */
	key->addr[2] = key->family == BREAKER_FAMILY_V4 ? bpf_htonl(0xffff) : 0;
	key->addr[3] = 0;
	e = bpf_map_lookup_elem(&breakers, key);
	if (e)
		return judge(e);
	return CONNECT_PASS;
}

SEC("cgroup/connect4")
int brk_connect4(struct bpf_sock_addr *ctx)
{
	struct breaker_key key = {};

	if (ctx->type != SOCK_STREAM)
		return CONNECT_PASS;
	key.addr[2] = bpf_htonl(0xffff);
	key.addr[3] = ctx->user_ip4;
	/* user_port holds the port in network order in its low 16 bits */
	key.port = bpf_ntohs((__u16)ctx->user_port);
	key.family = BREAKER_FAMILY_V4;
	return decide(&key);
}

SEC("cgroup/connect6")
int brk_connect6(struct bpf_sock_addr *ctx)
{
	struct breaker_key key = {};

	if (ctx->type != SOCK_STREAM)
		return CONNECT_PASS;
	/* the context allows 4-byte loads of user_ip6 only, one word at a time */
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	key.port = bpf_ntohs((__u16)ctx->user_port);
	/*
	 * An IPv6 socket connecting to ::ffff:a.b.c.d talks IPv4 (the kernel
	 * hands it to tcp_v4_connect, after this hook and without running
	 * connect4): fold it into the IPv4 entry of that address.
	 */
	if (!key.addr[0] && !key.addr[1] && key.addr[2] == bpf_htonl(0xffff))
		key.family = BREAKER_FAMILY_V4;
	else
		key.family = BREAKER_FAMILY_V6;
	return decide(&key);
}
