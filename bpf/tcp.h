/*
 * ABI of bpf/tcp.bpf.c: TCP trouble (retransmits, resets, failed connects)
 * per watched service, aggregated in the kernel and read by
 * agent/sampler_tcp.c from the tcp_stats map. See STYLE.md §2 for the rules on
 * these structs.
 *
 * Maps filled by user space:
 *	svc_by_port	__u16 local port (host order) -> __u16 service id
 *	svc_by_tgid	__u32 tgid -> __u16 service id
 * Maps kept by the kernel side:
 *	sk_owner	__u64 socket address -> __u16 service id of the process
 *			that called connect() (LRU)
 *	tcp_stats	struct tcp_trouble_key -> struct tcp_trouble, per CPU
 *
 * Generations. The .bss global `gen` is part of every tcp_stats key. User
 * space alternates it between 0 and 1: it flips it, waits until no program
 * can still be using the old value, then reads and deletes the old
 * generation's entries. So at most 2 * TCP_SVC_IDS keys ever exist.
 */
#ifndef PRP_BPF_TCP_H
#define PRP_BPF_TCP_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* Service ids are 1..255 (agent/services.h); 0 means "not watched". */
#define TCP_SVC_IDS 256
/* Bounds of the maps; agent/sampler_tcp.c checks them against agent/services.h. */
#define TCP_MAX_PORTS  8192  /* >= SERVICES_MAX * SERVICE_PORTS_MAX (8160) */
#define TCP_MAX_TGIDS  65536 /* >= SERVICES_MAX * SERVICE_PIDS_MAX (65280) */
#define TCP_MAX_OWNERS 65536 /* client sockets of watched processes alive at once */
#define TCP_MAX_STATS  (2 * TCP_SVC_IDS)

/* Key of tcp_stats. */
struct tcp_trouble_key {
	__u32 gen;    /* the value of the `gen` global when the event was counted */
	__u16 svc_id; /* 1..255 */
	__u16 pad0;
};
_Static_assert(sizeof(struct tcp_trouble_key) == 8, "struct tcp_trouble_key is ABI");

/* Value of tcp_stats, per CPU: user space sums the CPUs. */
struct tcp_trouble {
	__u64 retransmits;     /* segments (and SYN-ACKs) retransmitted, failed attempts excluded */
	__u64 resets_sent;     /* RSTs sent from the service's sockets or ports */
	__u64 resets_received; /* RSTs received on the service's sockets */
	__u64 connect_failures; /* sockets that went from SYN_SENT to CLOSE */
};
_Static_assert(sizeof(struct tcp_trouble) == 32, "struct tcp_trouble is ABI");

#endif
