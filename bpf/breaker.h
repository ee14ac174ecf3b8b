/*
 * ABI of bpf/breaker.bpf.c: in-kernel circuit breakers. A cgroup/connect4 and
 * a cgroup/connect6 program look each new TCP connect() up in `breakers`
 * and refuse it (the caller's connect() fails with EPERM at once) while the
 * destination's breaker is open. agent/breaker.c fills the map; see
 * docs/breaker.md for what a caller sees. STYLE.md §2 has the rules on these
 * structs.
 *
 * Map filled by user space, updated by the kernel side:
 *	breakers	struct breaker_key -> struct breaker_entry (hash)
 *
 * Addresses. Every key holds a 16-byte IPv6 address: an IPv4 destination is
 * stored v4-mapped (::ffff:a.b.c.d) with family BREAKER_FAMILY_V4. An IPv6
 * socket connecting to a v4-mapped address reaches the same entry, because
 * the connect6 program folds ::ffff:a.b.c.d to family BREAKER_FAMILY_V4 too.
 *
 * Any address. An entry whose address is the family's any address (0.0.0.0,
 * i.e. ::ffff:0.0.0.0 with BREAKER_FAMILY_V4, or :: with BREAKER_FAMILY_V6)
 * matches every destination of that family on its port: a service reached
 * through several addresses (loopback, node address, a VIP) is broken with
 * one entry. An exact entry is looked up first and wins over it.
 */
#ifndef PRP_BPF_BREAKER_H
#define PRP_BPF_BREAKER_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* Breakers open at once on one host: far more than sick services at a time. */
#define BREAKER_MAX_ENTRIES 1024

enum breaker_family {
	BREAKER_FAMILY_V4 = 4,
	BREAKER_FAMILY_V6 = 6,
};

/*
 * States of an entry. A destination with no entry is closed (connects pass);
 * user space deletes the entry to close a breaker, so BREAKER_CLOSED only
 * ever appears in an entry a program must ignore (it passes too).
 */
enum breaker_state {
	BREAKER_CLOSED = 0,
	BREAKER_OPEN = 1,      /* every new connect is refused */
	BREAKER_HALF_OPEN = 2, /* one connect per probe_interval_ns passes, the rest are refused */
};

/* Key of breakers. Padding must be zero: the kernel hashes every byte. */
struct breaker_key {
	__u32 addr[4]; /* network order, as in6_addr's s6_addr32; IPv4 v4-mapped */
	__u16 port;    /* destination port, host order */
	__u8 family;   /* enum breaker_family */
	__u8 pad0;
};
_Static_assert(sizeof(struct breaker_key) == 20, "struct breaker_key is ABI");

/* Value of breakers. */
struct breaker_entry {
	__u64 opened_at_ns;	 /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when it last went OPEN */
	__u64 probe_interval_ns; /* HALF_OPEN: at most one connect passes per interval */
	/*
	 * HALF_OPEN: the earliest time the next probe may pass. The kernel
	 * side moves it forward with a compare-and-exchange, so of several
	 * CPUs connecting at once exactly one wins the probe. 0 lets the first
	 * connect after the switch to HALF_OPEN through at once.
	 */
	__u64 next_probe_ns;
	__u64 refused; /* connects refused through this entry, since it was created */
	__u64 probes;  /* connects let through in HALF_OPEN */
	__u8 state;    /* enum breaker_state */
	__u8 pad0[7];
};
_Static_assert(sizeof(struct breaker_entry) == 48, "struct breaker_entry is ABI");

#endif
