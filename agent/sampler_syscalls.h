/*
 * The syscalls sampler: loads bpf/syscalls.bpf.c, tells it which processes
 * belong to which service, and once per window moves its in-kernel counts
 * (calls, errors by errno, latency histograms per service and syscall) into
 * the window set. Counts are exact: every syscall of a watched process that
 * exits after the process became watched is added to exactly one collect
 * (see the generation scheme in bpf/syscalls.h).
 *
 * One owning thread (the agent's main loop); no locks.
 */
#ifndef PRP_AGENT_SAMPLER_SYSCALLS_H
#define PRP_AGENT_SAMPLER_SYSCALLS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/services.h"
#include "common/window.h"
#include "common/compiler.h"

struct syscalls_bpf;
struct syscall_key;

/* A watched process: the mirror of one svc_by_tgid entry. */
struct sampler_syscalls_target {
	uint32_t tgid;
	uint16_t svc;
};

struct sampler_syscalls {
	struct syscalls_bpf *skel; /* NULL while stopped */
	uint32_t gen;		   /* the generation the programs count into */
	/* what svc_by_tgid and watch_bits hold, sorted by tgid */
	struct sampler_syscalls_target *targets;
	size_t ntargets;
	/* collect's scratch, allocated by start: a batch of keys and their per-CPU values */
	struct syscall_key *keys;
	uint64_t *values;
	struct syscall_key *done; /* the old generation's keys, deleted after reading */
	size_t ndone;
	int ncpu;
	/* totals since start, for logs and tests */
	uint64_t dropped; /* syscalls not counted because sc_counts was full */
	/* sampling: see above; all times on the monotonic clock */
	uint64_t sample_ns, window_ns; /* sample_ns 0: always attached */
	bool attached;
	uint16_t epoch;
	uint64_t attached_at;	 /* when the current stretch began */
	uint64_t attached_ns;	 /* attached time since the last collect, closed stretches */
	uint64_t last_collect;	 /* start of the current window */
	uint64_t next_toggle;	 /* when tick() attaches or detaches next; UINT64_MAX: never */
	uint64_t missed;  /* program runs the kernel skipped (recursion_misses) */
};

/*
 * Opens, loads and attaches the programs, watching nothing yet. @s must be
 * zeroed or stopped. Returns 0, or a negative errno after logging one warning
 * line, with everything released and @s stopped. Needs loader_init() first.
 */
PRP_MUST_CHECK int sampler_syscalls_start(struct sampler_syscalls *s);

/* Detaches and frees everything; @s is then stopped. A stopped @s is a no-op. */
void sampler_syscalls_stop(struct sampler_syscalls *s);

/*
 * Makes the watched processes those of @set (borrowed during the call): adds
 * the new tgids with their service id, removes the ones gone, moves the ones
 * whose service changed. A tgid listed by two services stays with the first.
 * Returns 0, -ENODEV when stopped, or the negative errno of a failed map
 * update (the processes done so far stay changed; the next call retries).
 */
PRP_MUST_CHECK int sampler_syscalls_set_targets(struct sampler_syscalls *s,
						const struct service_set *set);

/*
 * Sampling: attach for @sample_ns of every window of @window_ns (0, or
 * @sample_ns >= @window_ns: always). Call before the first collect.
 */
void sampler_syscalls_set_sampling(struct sampler_syscalls *s, uint64_t sample_ns,
				   uint64_t window_ns);

/*
 * Attaches or detaches the programs when sampling says so at @now
 * (time_mono_ns()); returns when it wants to be called next (UINT64_MAX:
 * never).
 */
uint64_t sampler_syscalls_tick(struct sampler_syscalls *s, uint64_t now);

/*
 * Starts a new generation, waits SYSCALLS_GRACE_MS, then adds every count of
 * the older generations into @ws (call count, error count, per-errno counts,
 * latency buckets, under the syscall's name) and deletes them from the
 * kernel. Counts of services @ws has no window for (bad ids) are dropped.
 * Returns 0, -ENODEV when stopped, or the negative errno of a failed map
 * operation; counts not yet read then stay for the next collect.
 */
PRP_MUST_CHECK int sampler_syscalls_collect(struct sampler_syscalls *s, struct window_set *ws);

#endif
