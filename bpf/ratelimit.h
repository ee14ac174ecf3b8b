/*
 * ABI of bpf/ratelimit.bpf.c: an in-kernel rate limit on the new TCP
 * connections a local service accepts. A tc ingress program on the interface
 * the service is reached through looks the destination port of every TCP SYN
 * (not SYN-ACK) up in `rl_buckets` and drops the SYN when that port's token
 * bucket is empty. agent/ratelimit.c fills the map; docs/ratelimit.md says
 * what a caller over the limit sees. STYLE.md §2 has the rules on these
 * structs.
 *
 * Map filled by user space, updated by the kernel side:
 *	rl_buckets	struct ratelimit_key -> struct ratelimit_bucket (hash)
 *
 * The bucket is kept in GCRA form (ATM's generic cell rate algorithm, the
 * "virtual scheduling" form of a token bucket): instead of a token count and the
 * time of the last refill, which two CPUs would have to update together
 * under a lock, it holds one instant, tat_ns, the "theoretical arrival time"
 * of the next SYN. With interval T = 1 s / rate_per_s, a SYN arriving at
 * `now` passes when tat_ns - now <= (burst - 1) * T, and then moves tat_ns
 * to max(tat_ns, now) + T. It is exactly a bucket of `burst` tokens refilled
 * at rate_per_s: the tokens left at `now` are
 *	burst - (max(tat_ns, now) - now) / T
 * and one 64-bit word is updated with a single compare-and-exchange.
 */
#ifndef PRP_BPF_RATELIMIT_H
#define PRP_BPF_RATELIMIT_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* Limited ports on one host at a time: far more than services being shed. */
#define RATELIMIT_MAX_ENTRIES 1024

/*
 * Key of rl_buckets: the local (destination) port. IPv4 and IPv6 SYNs to the
 * port share the bucket, as a dual-stack service's capacity is one. Padding
 * must be zero: the kernel hashes every byte.
 */
struct ratelimit_key {
	__u16 port; /* host order */
	__u8 pad0[2];
};
_Static_assert(sizeof(struct ratelimit_key) == 4, "struct ratelimit_key is ABI");

/* Value of rl_buckets. */
struct ratelimit_bucket {
	/*
	 * CLOCK_MONOTONIC (bpf_ktime_get_ns) instant the bucket is "paid up
	 * to"; 0 for a new bucket, which is then full. Only the kernel moves
	 * it, with a compare-and-exchange.
	 */
	__u64 tat_ns;
	__u64 passed;	  /* SYNs let through since the entry was created */
	__u64 dropped;	  /* SYNs dropped since the entry was created */
	__u32 rate_per_s; /* tokens added per second; 0 passes everything */
	__u32 burst;	  /* bucket size: SYNs that may pass back to back; >= 1 */
};
_Static_assert(sizeof(struct ratelimit_bucket) == 32, "struct ratelimit_bucket is ABI");

#endif
