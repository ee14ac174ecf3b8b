/*
 * Circuit breakers enforced in the kernel (bpf/breaker.bpf.c): while a
 * destination's breaker is open, every new TCP connect() to it from a
 * process under the attached cgroup fails at once with EPERM. The aggregator
 * decides; this module only opens, half-opens and closes. docs/breaker.md
 * describes what callers see.
 *
 * A destination is a struct sockaddr_in or sockaddr_in6 (address and port);
 * the any address (0.0.0.0 or ::) stands for every address of its family on
 * that port. An IPv4 destination also covers IPv6 sockets that connect to it
 * as ::ffff:a.b.c.d.
 *
 * Threads: a struct breaker belongs to one thread; the kernel side needs no
 * locking from the caller.
 */
#ifndef PRP_AGENT_BREAKER_H
#define PRP_AGENT_BREAKER_H

#include <linux/types.h>
#include <sys/socket.h>

#include "bpf/breaker.h"
#include "common/compiler.h"

struct breaker;

/*
 * Loads the programs and attaches both (connect4 and connect6) to the cgroup
 * v2 directory @cgroup_path (borrowed), which covers every process in it and
 * below: the agent passes the root of the unified hierarchy. The attachment
 * is a BPF link owned by this process, so the programs are detached by
 * breaker_stop(), and by the kernel when the process exits however it
 * exits: no breaker outlives prp-agent. The link fds are close-on-exec, but a
 * child forked without exec shares them and keeps the programs attached until
 * it exits: fork such children before breaker_start().
 *
 * On success *@out is the caller's (breaker_stop()). Errors, each with one
 * line logged and *@out set to NULL: -ENOTDIR when @cgroup_path is not a
 * cgroup v2 directory, -ENOENT when it does not exist, -EPERM without the
 * privileges, and the kernel's or libbpf's -errno when the kernel lacks cgroup
 * connect programs, BPF links on cgroups (5.7) or BPF atomics (5.12), or when
 * an exclusive (non-multi) connect program is already attached there.
 */
PRP_MUST_CHECK int breaker_start(struct breaker **out, const char *cgroup_path);

/*
 * Opens the breaker of @addr: new connects to it are refused from now on.
 * An existing entry (half-open, or already open) keeps its counters; its
 * open time is reset unless it was already open. Returns 0, -EAFNOSUPPORT
 * for a family other than AF_INET/AF_INET6, or -E2BIG when
 * BREAKER_MAX_ENTRIES breakers are already open or half-open.
 */
PRP_MUST_CHECK int breaker_open(struct breaker *b, const struct sockaddr *addr);

/*
 * Half-opens the breaker of @addr: one connect per @probe_interval_ns passes
 * (the first one at once), the others are refused. Creates the entry when
 * there is none. Returns 0, -EINVAL for a zero interval, or as breaker_open().
 */
PRP_MUST_CHECK int breaker_half_open(struct breaker *b, const struct sockaddr *addr,
				     __u64 probe_interval_ns);

/*
 * Closes the breaker of @addr: connects pass again. Its entry and counters
 * are deleted (read breaker_refused() first if you want them). Returns 0,
 * -ENOENT when it was not open, or -EAFNOSUPPORT.
 */
PRP_MUST_CHECK int breaker_close(struct breaker *b, const struct sockaddr *addr);

/*
 * Copies the entry of @addr (exactly this key: an exact address does not
 * report the any-address entry that matched its connects) into @out.
 * Returns 0, -ENOENT when the breaker is closed, or -EAFNOSUPPORT.
 */
PRP_MUST_CHECK int breaker_lookup(struct breaker *b, const struct sockaddr *addr,
				  struct breaker_entry *out);

/* Sets *@count to the connects refused by @addr's breaker. Errors as breaker_lookup(). */
PRP_MUST_CHECK int breaker_refused(struct breaker *b, const struct sockaddr *addr, __u64 *count);

/* Detaches the programs (every breaker closes), frees @b. NULL does nothing. */
void breaker_stop(struct breaker *b);

#endif
