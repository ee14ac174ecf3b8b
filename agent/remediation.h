/*
 * The agent's hands: the commands the aggregator sends on its replies
 * (docs/remediation.md), carried out on this host. `circuit_breaker` opens,
 * half-opens and closes the kernel breakers of agent/breaker.h and resets
 * the callers' established connections to the targets (agent/sockdiag.h);
 * `rate_limit` sets and clears the SYN limits of agent/ratelimit.h on every
 * interface; `restart` runs the service's restart command (agent/restart.h)
 * and waits until discovery sees the service listening again.
 *
 * Breaker and rate-limit commands are quick and run on the caller's thread.
 * A restart may take its whole timeout, so it is queued to a worker thread
 * and its result is handed later to the done function. A third thread
 * closes the breakers and lifts the limits whose lease ran out, so that no
 * breaker outlives an aggregator that stopped renewing it.
 *
 * Results are the COMMAND_RESULT payloads of docs/protocol.md, JSON
 * {"id", "status": "succeeded" | "failed" | "timed_out", "result"}.
 *
 * Threads: remediation_run() and remediation_set_done() from any one
 * thread at a time (the sender's); the kernel objects are guarded inside.
 */
#ifndef PRP_AGENT_REMEDIATION_H
#define PRP_AGENT_REMEDIATION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/service_view.h"
#include "common/compiler.h"

/* Restarts queued or running at once; the sender remembers more commands than this. */
#define REMEDIATION_QUEUE_MAX 8

struct remediation_config {
	/*
	 * The cgroup v2 directory the breakers attach to (borrowed for the
	 * call); NULL: /sys/fs/cgroup/unified, else /sys/fs/cgroup.
	 */
	const char *cgroup_path;
	/* `restart.command` entries (restart.h), checked already; copied. */
	const char *const *restart_commands;
	size_t nrestart_commands;
	/* Where restarts see the services; borrowed, outlives the remediation. */
	struct service_view *services;
};

struct remediation;

/*
 * Called once per queued command, on the worker thread, with its result
 * (the caller of remediation_set_done() owns @result: free()).
 */
typedef void remediation_done_fn(void *arg, uint64_t id, char *result);

/*
 * Attaches the breakers and starts the threads. Rate limits are attached on
 * the first rate_limit command. A breaker that cannot attach (no privileges,
 * an old kernel) is logged once and its commands fail with the reason; the
 * rest works. A child that is forked without exec must be forked before
 * this (breaker.h). Returns 0 with *@out the caller's (remediation_stop()), or
 * -EAGAIN when a thread cannot be made.
 */
PRP_MUST_CHECK int remediation_start(struct remediation **out, const struct remediation_config *c);

/*
 * Where the results of queued commands go (@fn NULL: nowhere, they are
 * logged and dropped). After it returns, the previous function is not
 * running and is never called again: call it with NULL before freeing @arg.
 */
void remediation_set_done(struct remediation *r, remediation_done_fn *fn, void *arg);

/*
 * Runs command @id named @command with @args (borrowed; NULL when the
 * command had none). Returns its result (caller owns: free()), or NULL
 * when it was queued: the done function then gets it. Unknown commands
 * (`ping` is the sender's) and bad arguments are results too (status
 * "failed", a message as result). Logs one line with each result, and one
 * when a restart starts.
 */
char *remediation_run(struct remediation *r, uint64_t id, const char *command, json_t *args);

/*
 * Kills a restart command still running (its result is dropped), drops the
 * queued ones, detaches every breaker and rate limit, and frees @r. NULL
 * does nothing.
 */
void remediation_stop(struct remediation *r);

#endif
