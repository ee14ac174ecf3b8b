/*
 * Automatic discovery: with no selector, every process tree holding a
 * listening TCP socket is a service, named after its executable. How
 * holders are grouped and named is explained in discovery_auto.c.
 *
 * Threads: a struct discovery_auto belongs to the thread of the discovery
 * that embeds it.
 */
#ifndef PRP_AGENT_DISCOVERY_AUTO_H
#define PRP_AGENT_DISCOVERY_AUTO_H

#include <stdint.h>

#include "agent/proctable.h"
#include "agent/services.h"

/* Settings and warnings of automatic discovery, embedded in struct discovery. */
struct discovery_auto {
	uint64_t excluded[PROCTABLE_PORT_WORDS]; /* ports ignored, a bitmap */
	uint32_t self_pid;			 /* the agent: never a service */
	unsigned warned;			 /* the bounds already logged */
};

/* Sets up @a (allocates nothing; nothing to release) to leave out @self_pid. */
void discovery_auto_init(struct discovery_auto *a, uint32_t self_pid);

/*
 * Ignores listening sockets on @port: a process that listens only on
 * excluded ports is no service, and excluded ports are left out of the
 * services' port lists.
 */
void discovery_auto_exclude_port(struct discovery_auto *a, uint16_t port);

/*
 * Fills @set with one service per group of holders in @t (refreshed by the
 * caller), at most SERVICES_MAX, those with the lowest ports; the names are
 * unique, pids and ports sorted, and the ids 0: the caller gives them out.
 * Reads the parent of every holder and the exe (or comm) of every owner
 * through @t. Logs one warning the first time a bound is hit.
 */
void discovery_auto_build(struct discovery_auto *a, struct proctable *t, struct service_set *set);

#endif
