/*
 * The actions carried out by agents (docs/protocol.md, commands): the
 * circuit breaker, the connection rate limit and the restart. Each finds
 * where the service runs from the agents' HELLOs (service_hosts.h), sends
 * one command per agent (agent_cmd.h), waits for the answers and tells
 * the breaker loop what went out (breakers.h).
 *
 * Command arguments:
 *   circuit_breaker  {service, state: open|half_open|closed, targets: ["10.0.0.5:8003",
 *                    "127.0.0.1:8003", "[::1]:8003"], probe_interval_ms, lease_ms}
 *                    to every connected agent of the tenant
 *   rate_limit       {service, ports, state: "set", rate_per_s, burst} to the agents hosting it
 *   restart          {service, timeout_ms} to the agents hosting it
 *
 * Threads: the executor's workers.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_AGENT_H
#define PRP_AGGREGATOR_POLICY_ACTION_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/policy/action_ctx.h"
#include "aggregator/policy/agent_cmd.h"

#define ACTION_AGENT_PROBE_INTERVAL_MS 1000 /* one connect per second passes a half-open breaker   \
					     */
#define ACTION_AGENT_LEASE_SLACK_MS   30000 /* lease = 2 x duration + this */
#define ACTION_AGENT_LEASE_MAX_MS     86400000 /* what an agent takes (agent/breakers.c) */
#define ACTION_AGENT_RESTART_SLACK_MS 2000     /* a restart's answer travels after its timeout */

enum store_action_status action_agent_breaker(struct action_ctx *ctx);
enum store_action_status action_agent_rate_limit(struct action_ctx *ctx);
enum store_action_status action_agent_restart(struct action_ctx *ctx);

/*
 * The breaker commands for @service of @tenant in @state ("open",
 * "half_open", "closed"), one per connected agent, into @c (initialised
 * here; release it whatever the return). Returns 0, or -ENOENT with @err
 * when no agent hosts the service (for a state other than closed: a close
 * goes out anyway, so the agents drop whatever they hold) or -ENOTCONN
 * when no agent of the tenant is connected. Notes (targets left out) go
 * to @ctx, which may be NULL.
 */
int action_agent_breaker_cmds(struct ingest *in, const char *tenant, const char *service,
			      const char *state, int64_t duration_ms, int64_t probe_window_ms,
			      struct agent_cmds *c, char *err, size_t errlen,
			      struct action_ctx *ctx);

#endif
