/*
 * Rate limits on new TCP connections to local ports, enforced in the kernel
 * (bpf/ratelimit.bpf.c): a SYN to a limited port that finds its token bucket
 * empty is dropped at tc ingress, and the client's kernel retransmits it
 * later. The aggregator decides the limits; this module only sets and clears
 * them on one interface. docs/ratelimit.md describes what callers see.
 *
 * Threads: a struct ratelimit belongs to one thread; the kernel side needs no
 * locking from the caller.
 */
#ifndef PRP_AGENT_RATELIMIT_H
#define PRP_AGENT_RATELIMIT_H

#include <linux/types.h>

#include "bpf/ratelimit.h"
#include "common/compiler.h"

struct ratelimit;

/*
 * Loads the program and attaches it to the ingress of interface @ifname
 * (borrowed; "lo" for services reached over loopback). Where the kernel has
 * tcx (6.6), the attachment is a BPF link that only this process holds: it
 * goes away on ratelimit_stop() and when the process exits however it exits,
 * so no limit outlives prp-agent. The link fd is close-on-exec, but a child
 * forked without exec shares it: fork such children before ratelimit_start().
 * On older kernels it falls back to a classic tc filter on a clsact qdisc
 * (the HTTP sampler's method), which a killed agent leaves behind until its
 * next start replaces it; the log line says which method was used.
 *
 * On success *@out is the caller's (ratelimit_stop()). Errors, each with one
 * line logged and *@out set to NULL: -ENODEV when there is no such interface,
 * -EPERM without root (CAP_BPF and CAP_NET_ADMIN), and the kernel's or
 * libbpf's -errno when the kernel lacks tc BPF programs or BPF atomics (5.12).
 */
PRP_MUST_CHECK int ratelimit_start(struct ratelimit **out, const char *ifname);

/*
 * Limits new connections to local @port (host order) to @rate_per_s per
 * second, with bursts of up to @burst back to back after a quiet spell. A new
 * limit starts with a full bucket; changing an existing one keeps its
 * counters and how full its bucket is. Returns 0, -EINVAL for a zero port,
 * rate or burst or a rate above 10^9/s, or -E2BIG when RATELIMIT_MAX_ENTRIES
 * ports are already limited.
 */
PRP_MUST_CHECK int ratelimit_set(struct ratelimit *rl, __u16 port, __u32 rate_per_s, __u32 burst);

/*
 * Lifts the limit on @port: its SYNs pass again. Its counters are deleted
 * with it (read ratelimit_stats() first if you want them). Returns 0, or
 * -ENOENT when the port was not limited.
 */
PRP_MUST_CHECK int ratelimit_clear(struct ratelimit *rl, __u16 port);

/*
 * Sets *@passed and *@dropped (both required) to the SYNs to @port let
 * through and dropped since its limit was set; a client's retransmitted SYN
 * counts again. Returns 0, or -ENOENT when the port is not limited.
 */
PRP_MUST_CHECK int ratelimit_stats(struct ratelimit *rl, __u16 port, __u64 *passed, __u64 *dropped);

/* Detaches the program (every limit is lifted), frees @rl. NULL does nothing. */
void ratelimit_stop(struct ratelimit *rl);

#endif
