/*
 * The TCP sampler: loads bpf/tcp.bpf.c, which counts retransmits, resets and
 * failed connects per watched service in the kernel, and adds those counts to
 * the agent's windows. Services are matched by their processes (client
 * sockets, by the process that called connect()) and by their listening ports
 * (every other socket). One owning thread (the agent's main loop); no locks.
 */
#ifndef PRP_AGENT_SAMPLER_TCP_H
#define PRP_AGENT_SAMPLER_TCP_H

#include "agent/services.h"
#include "common/window.h"
#include "common/compiler.h"

struct tcp_bpf;
struct tcp_trouble;

struct sampler_tcp {
	struct tcp_bpf *skel;	    /* NULL while stopped */
	struct tcp_trouble *percpu; /* read buffer, one value per possible CPU */
	int ncpus;		    /* libbpf_num_possible_cpus() */
};

/*
 * Opens, loads and attaches the BPF programs; @s needs no initialization.
 * A tracepoint this kernel lacks switches off that program alone, with one
 * warning. Returns 0, or a negative errno after logging one line and leaving
 * @s stopped, holding nothing. Call loader_init() first.
 */
PRP_MUST_CHECK int sampler_tcp_start(struct sampler_tcp *s);
/* Detaches and frees everything; @s is then stopped. Safe on a stopped sampler. */
void sampler_tcp_stop(struct sampler_tcp *s);

/*
 * Makes the kernel's port and process maps match @set (borrowed for the call):
 * a socket on a service's listening port, or connected by one of its
 * processes, counts for that service. When two services claim the same port
 * or process, the first in @set wins. Returns 0, -ENODEV when stopped, or the
 * negative errno of a failed map update (the maps may then be partly updated;
 * calling again repairs them).
 */
PRP_MUST_CHECK int sampler_tcp_set_targets(struct sampler_tcp *s, const struct service_set *set);

/*
 * Moves the counts gathered since the previous call into
 * window_set_get(@ws, id)->tcp, adding to what is there. Nothing is lost or
 * counted twice between calls. Sleeps about TCP_COLLECT_WAIT_MS (see the .c).
 * Returns 0, -ENODEV when stopped, or a negative errno of a map read (the
 * counts not read then stay in the kernel and come with a later call).
 */
PRP_MUST_CHECK int sampler_tcp_collect(struct sampler_tcp *s, struct window_set *ws);

#endif
