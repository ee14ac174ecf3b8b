/*
 * The circuit breakers of services, as the aggregator's `circuit_breaker`
 * commands set them (docs/remediation.md): the kernel breaker of
 * agent/breaker.h, and for each service the targets, the state and the
 * lease the last command gave it. Opening also resets the callers'
 * established connections to the targets (agent/sockdiag.h), since a
 * keep-alive pool never connects again and so would never meet the breaker.
 *
 * Commands are declarative: each one lists all of the service's targets,
 * and a target an earlier command listed that this one does not is closed.
 * So the aggregator can move a service without remembering what it opened,
 * and a lease that runs out knows exactly what to close.
 *
 * Threads: a struct breakers belongs to its caller; agent/remediation.c
 * calls it under its lock from two threads.
 */
#ifndef PRP_AGENT_BREAKERS_H
#define PRP_AGENT_BREAKERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Targets of one command. */
#define BREAKERS_TARGETS_MAX 64
/* Services with breakers open or half-open at once. */
#define BREAKERS_SERVICES_MAX 64

struct breakers;

/*
 * Attaches the kernel breaker to the cgroup v2 directory @cgroup_path
 * (borrowed for the call; NULL: /sys/fs/cgroup/unified, else
 * /sys/fs/cgroup, the root of the host). Does not fail: a breaker that
 * cannot attach is logged once, and every command then fails with the
 * reason. The caller owns the result: breakers_free(). Fork children that do
 * not exec before this (breaker.h).
 */
struct breakers *breakers_new(const char *cgroup_path);

/* Whether the kernel breaker is attached. */
bool breakers_attached(const struct breakers *bs);

/*
 * Carries out one circuit_breaker command with @args (borrowed): returns
 * true when it succeeded. *@result is set either way (the caller owns it:
 * json_decref()): docs/remediation.md's result object, or a message
 * string saying what was wrong.
 */
bool breakers_command(struct breakers *bs, json_t *args, json_t **result);

/*
 * Closes the breakers of every service whose lease ended at @now_ns
 * (CLOCK_MONOTONIC) or before, logging each. Returns the earliest lease end
 * still to come, or UINT64_MAX when there is none.
 */
uint64_t breakers_expire(struct breakers *bs, uint64_t now_ns);

/* Detaches the kernel breaker (every breaker closes) and frees @bs; NULL does nothing. */
void breakers_free(struct breakers *bs);

#endif
