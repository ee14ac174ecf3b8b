// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall counts, errors by errno and latency histograms per watched service,
 * aggregated in the kernel (the ABI and the generation scheme are described in
 * bpf/syscalls.h). sys_enter stamps the thread, sys_exit adds one to the
 * latency bucket of the (service, syscall) and, for a failure, one to its
 * errno; nothing wakes user space, which reads sc_counts once per window.
 *
 * Cost. Enabled syscall hooks tax every syscall of every process on the host
 * (RECIPES.md §2), so the unwatched path is one inlined array load and a bit
 * test on each side: raw tracepoints, because they skip the perf buffer that
 * a classic tracepoint fills before the program runs, and a bitmap indexed by
 * tgid, because an array look-up is inlined by the verifier where a hash
 * look-up hashes the key and walks a bucket. docs/agent.md has the numbers.
 *
 * Watched path. svc_by_tgid gives the service id; sc_inflight keeps one entry
 * per thread, reused from one syscall to the next (start_ns = 0 between
 * them), so a thread costs one insertion in its life and no deletion. It is an
 * LRU map: the entries of threads that exited age out.
 *
 * Not counted: a syscall that was in flight when its process became watched
 * (no stamp), and exit/exit_group (no sys_exit, so not even stamped). A
 * syscall whose thread entry the LRU evicted while it was blocked is not
 * counted either; that takes more than SYSCALLS_MAX_INFLIGHT busy threads.
 * When a process stops being watched, a thread blocked in a syscall keeps its
 * stamp (sys_exit no longer looks): user space deletes the process's entries,
 * so that the stamp is not counted if the process is watched again.
 *
 * Sampling. User space may attach the programs for part of each window only
 * (agent/sampler_syscalls.h): a syscall is then counted when both its enter
 * and its exit ran in the same attached stretch (same epoch).
 *
 * Errors. A return in [-4095, -1] is an error, as libc reads it:
 * fcntl(F_GETOWN) returning a process group is the one known false error.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "bpf/hist.h"
#include "bpf/syscalls.h"

char LICENSE[] SEC("license") = "GPL";

/* arch/x86/include/asm/thread_info.h: set while a 32-bit syscall runs */
#define TS_COMPAT 0x0002

/* The generation new counts go to; user space bumps it (bpf/syscalls.h). */
__u32 gen;
/*
 * Bumped by user space each time it attaches the programs (sampling mode):
 * a stamp left by a syscall that exited while they were detached belongs
 * to an older epoch, and its exit must not be timed against it.
 */
__u16 epoch;

/* Bit (tgid % 64) of word (tgid / 64): tgid is watched. The fast filter. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSCALLS_WATCH_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} watch_bits SEC(".maps");

/* tgid -> service id, for the tgids whose bit is set; filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCALLS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u16);
} svc_by_tgid SEC(".maps");

/* pid_tgid -> the thread's syscall in flight; LRU: threads die without telling us */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SYSCALLS_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct syscall_inflight);
} sc_inflight SEC(".maps");

/* per-CPU: every syscall of a busy service hits the same few keys */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SYSCALLS_MAX_COUNTS);
	__type(key, struct syscall_key);
	__type(value, __u64);
} sc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct syscall_drops);
} sc_drops SEC(".maps");

static __always_inline bool watched(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&watch_bits, &word);

	return bits && ((*bits >> (tgid % 64)) & 1);
}

/*
 * Adds one to @key's count on this CPU. The programs run with preemption off,
 * so the plain increment of a per-CPU value cannot interleave with another.
 */
static __always_inline void count_add(const struct syscall_key *key)
{
	struct syscall_drops *drops;
	__u64 *v, one = 1;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&sc_counts, key);
	if (v) {
		*v += 1;
		return;
	}
	/* a new entry: this CPU's slot is 1, the others' 0 */
	if (!bpf_map_update_elem(&sc_counts, key, &one, BPF_NOEXIST))
		return;
	/* -EEXIST: another CPU created it since our look-up; else the map is full */
	v = bpf_map_lookup_elem(&sc_counts, key);
	if (v) {
		*v += 1;
		return;
	}
	drops = bpf_map_lookup_elem(&sc_drops, &zero);
	if (drops)
		drops->counts_full++;
}

/* ia32 syscalls (int 0x80, sysenter) number from the i386 table */
static __always_inline __u32 syscall_abi_bits(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (bpf_core_field_exists(t->thread_info.status) && (t->thread_info.status & TS_COMPAT))
		return SYSCALLS_NR_IA32;
	return 0;
}

/*
 * exit and exit_group never reach sys_exit: a stamp would stay behind, and a
 * later thread with the same pid_tgid would count it. x86_64 (and x32, bit
 * 30) numbers 60 and 231, i386 numbers 1 and 252.
 */
static __always_inline bool never_returns(__u32 nr)
{
	if (nr & SYSCALLS_NR_IA32)
		return nr == (SYSCALLS_NR_IA32 | 1) || nr == (SYSCALLS_NR_IA32 | 252);
	nr &= ~SYSCALLS_NR_X32;
	return nr == 60 || nr == 231;
}

/* raw_syscalls:sys_enter(struct pt_regs *regs, long id) */
SEC("raw_tracepoint/sys_enter")
int sc_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct syscall_inflight *in, fresh = {};
	__u16 *svc;

	if (!watched(tgid))
		return 0;
	svc = bpf_map_lookup_elem(&svc_by_tgid, &tgid);
	if (!svc)
		return 0;
	fresh.nr = (__u32)ctx->args[1] | syscall_abi_bits();
	if (never_returns(fresh.nr))
		return 0;
	fresh.svc = *svc;
	fresh.epoch = epoch;
	in = bpf_map_lookup_elem(&sc_inflight, &id);
	if (in) {
		in->nr = fresh.nr;
		in->svc = fresh.svc;
		in->epoch = fresh.epoch;
		in->start_ns = bpf_ktime_get_ns();
		return 0;
	}
	fresh.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&sc_inflight, &id, &fresh, BPF_ANY);
	return 0;
}

/* raw_syscalls:sys_exit(struct pt_regs *regs, long ret) */
SEC("raw_tracepoint/sys_exit")
int sc_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__s64 ret = (__s64)ctx->args[1];
	struct syscall_key key = {};
	struct syscall_inflight *in;
	__u64 now;

	if (!watched(id >> 32))
		return 0;
	in = bpf_map_lookup_elem(&sc_inflight, &id);
	if (!in || !in->start_ns)
		return 0;
	if (in->epoch != epoch) {
		in->start_ns = 0;
		return 0;
	}
	now = bpf_ktime_get_ns();
	key.gen = gen;
	key.nr = in->nr;
	key.svc = in->svc;
	key.kind = SYSCALL_COUNT_BUCKET;
	key.sub = hist_bucket_index(now - in->start_ns);
	in->start_ns = 0;
	count_add(&key);
	if (ret < 0 && ret >= -SYSCALLS_MAX_ERRNO) {
		key.kind = SYSCALL_COUNT_ERRNO;
		key.sub = (__u32)-ret;
		count_add(&key);
	}
	return 0;
}
