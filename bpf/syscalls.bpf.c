// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall counts, errors and time per watched process, aggregated in the
 * kernel: sys_enter stamps the thread, sys_exit adds to a per-CPU counter, and
 * nothing wakes user space, which reads sc_stats once per window. Only
 * processes in `targets` pay more than one hash lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/syscalls.h"

char LICENSE[] SEC("license") = "GPL";

/* Largest errno the kernel returns as a negative value (MAX_ERRNO). */
#define SC_MAX_ERRNO 4095

struct sc_inflight {
	__u64 start_ns;
	__u32 nr;
	__u32 pad0;
};

/* tgid -> 1: the processes we watch, filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCALLS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* pid_tgid -> syscall in flight; LRU because a thread can die inside one */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SYSCALLS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct sc_inflight);
} sc_inflight SEC(".maps");

/* LRU: entries of processes that exited age out instead of filling the map */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, SYSCALLS_MAX_STATS);
	__type(key, struct syscall_key);
	__type(value, struct syscall_stats);
} sc_stats SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int sc_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct sc_inflight in = {};

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	in.start_ns = bpf_ktime_get_ns();
	in.nr = (__u32)ctx->id;
	bpf_map_update_elem(&sc_inflight, &id, &in, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sc_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sc_inflight *in = bpf_map_lookup_elem(&sc_inflight, &id);
	struct syscall_stats *st, zero = {};
	struct syscall_key key;
	__u64 dt;

	if (!in)
		return 0;
	dt = bpf_ktime_get_ns() - in->start_ns;
	key.tgid = id >> 32;
	key.nr = in->nr;
	bpf_map_delete_elem(&sc_inflight, &id);

	st = bpf_map_lookup_elem(&sc_stats, &key);
	if (!st) {
		/* BPF_NOEXIST: another CPU may have created it meanwhile; fine */
		bpf_map_update_elem(&sc_stats, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&sc_stats, &key);
		if (!st)
			return 0;
	}
	/* per-CPU value: no atomics needed */
	st->count++;
	if (ctx->ret < 0 && ctx->ret >= -SC_MAX_ERRNO)
		st->errors++;
	st->total_ns += dt;
	return 0;
}
