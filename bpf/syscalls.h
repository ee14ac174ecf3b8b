/*
 * ABI of bpf/syscalls.bpf.c: per-process syscall counters aggregated in the
 * kernel, read by user space from the sc_stats map. Shared by the BPF program
 * and agent/; see STYLE.md §2 for the rules on these structs.
 */
#ifndef PRP_BPF_SYSCALLS_H
#define PRP_BPF_SYSCALLS_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* Bounds of the maps: processes watched, and (process, syscall) pairs kept. */
#define SYSCALLS_MAX_TARGETS 4096
#define SYSCALLS_MAX_STATS   16384
/* Threads with a syscall in flight at once. */
#define SYSCALLS_MAX_INFLIGHT 16384

/* Key of sc_stats: one entry per watched process and syscall number. */
struct syscall_key {
	__u32 tgid;
	__u32 nr;
};
_Static_assert(sizeof(struct syscall_key) == 8, "struct syscall_key is ABI");

/* Value of sc_stats, per CPU: user space sums the CPUs. */
struct syscall_stats {
	__u64 count;
	__u64 errors;	/* returns in [-4095, -1] */
	__u64 total_ns; /* sum of enter-to-exit time */
};
_Static_assert(sizeof(struct syscall_stats) == 24, "struct syscall_stats is ABI");

#endif
