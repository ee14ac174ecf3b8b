/*
 * Agent actions. A breaker's command goes to every connected agent of the
 * tenant, because the callers to cut off may run anywhere; rate limits and
 * restarts go only to the agents hosting the service. An agent that hosts
 * it but is not connected counts as failed ("not connected"): the action
 * did not reach every instance, and an operator should know.
 *
 * Each breaker command carries a lease: the agent closes the breaker by
 * itself when no new command renews it in time, so a breaker never
 * outlives an aggregator that died while it was open.
 */
#include "aggregator/policy/action_agent.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/ingest.h"
#include "aggregator/policy/breaker_loop.h"
#include "aggregator/policy/service_hosts.h"
#include "common/log.h"
#include "common/timeutil.h"

#define DEFAULT_DURATION_MS 60000

static int64_t now_real_ms(void)
{
	return (int64_t)(time_real_ns() / NSEC_PER_MSEC);
}

/*
 * The lease of a breaker command: two durations and a margin, so that the
 * transition that renews it can be late by a whole duration; a half-open
 * one also outlasts every probe window it may stay for. At most a day,
 * what agents take: a breaker opened for longer than about 12 h closes at
 * the agents after a day (the safe way to be wrong) until its next step.
 */
static int64_t lease_ms(const char *state, int64_t duration_ms, int64_t probe_window_ms)
{
	int64_t l = 2 * duration_ms + ACTION_AGENT_LEASE_SLACK_MS;
	int64_t probing =
		BREAKER_LOOP_UNKNOWN_WINDOWS * probe_window_ms + ACTION_AGENT_LEASE_SLACK_MS;

	if (!strcmp(state, "half_open") && probing > l)
		l = probing;
	return l < ACTION_AGENT_LEASE_MAX_MS ? l : ACTION_AGENT_LEASE_MAX_MS;
}

int action_agent_breaker_cmds(struct ingest *in, const char *tenant, const char *service,
			      const char *state, int64_t duration_ms, int64_t probe_window_ms,
			      struct agent_cmds *c, char *err, size_t errlen,
			      struct action_ctx *ctx)
{
	struct ingest_agent_info *v = NULL;
	size_t n = 0, sent = 0;

	agent_cmds_init(c, tenant, "circuit_breaker");
	ingest_agents_info(in, tenant, &v, &n);
	if (strcmp(state, "closed") && !service_hosts_count(v, n, service)) {
		snprintf(err, errlen, "no agent reports service %s listening", service);
		free(v);
		return -ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		size_t dropped;
		json_t *targets;

		if (!v[i].connected)
			continue;
		targets = service_hosts_targets(v, n, service, &v[i], &dropped);
		if (dropped && ctx)
			action_ctx_log(ctx, "%s: %zu targets left out (an agent holds %d)",
				       v[i].agent_id, dropped, SERVICE_HOSTS_TARGETS_MAX);
		agent_cmds_add(
			c, v[i].agent_id,
			json_pack("{s:s, s:s, s:o, s:I, s:I}", "service", service, "state", state,
				  "targets", targets, "probe_interval_ms",
				  (json_int_t)ACTION_AGENT_PROBE_INTERVAL_MS, "lease_ms",
				  (json_int_t)lease_ms(state, duration_ms, probe_window_ms)));
		sent++;
	}
	free(v);
	if (!sent) {
		snprintf(err, errlen, "no agent of tenant %s is connected", tenant);
		return -ENOTCONN;
	}
	return 0;
}

/* The result's "error" when not every agent succeeded: which did not, and why. */
static void note_failures(struct action_ctx *ctx, const struct agent_cmds *c,
			  enum store_action_status st)
{
	char why[400];

	if (st == STORE_ACTION_SUCCEEDED)
		return;
	agent_cmds_failures(c, why, sizeof(why));
	json_object_set_new(ctx->result, "error", json_string(why));
}

/* What the breaker loop learns from a breaker action that ran (or could not). */
static void tell_loop(struct action_ctx *ctx, const char *state, int64_t duration_ms, bool went_out)
{
	const struct store_action *a = ctx->a;
	int64_t now = now_real_ms();

	if (!strcmp(state, "open")) {
		/*
		 * A step of the loop moves it on whatever came back (the next step
		 * goes to every agent again, and the leases bound the rest); a
		 * decision opens a breaker once any agent holds it, so that the loop
		 * is what closes it.
		 */
		if (ctx->transition || went_out) {
			breaker_loop_opened(ctx->loop, a->tenant, a->service, a->policy_name,
					    duration_ms, now);
			log_info("executor: breaker %s open for %g s tenant=%s", a->service,
				 (double)duration_ms / 1000, a->tenant);
		}
	} else if (!strcmp(state, "half_open")) {
		if (breaker_loop_half_opened(ctx->loop, a->tenant, a->service, now,
					     ctx->cfg->probe_window_ms))
			log_info("executor: breaker %s half-open tenant=%s", a->service, a->tenant);
	}
}

enum store_action_status action_agent_breaker(struct action_ctx *ctx)
{
	const struct store_action *a = ctx->a;
	const char *state = action_ctx_str(ctx, "state", "open");
	int64_t duration_ms =
		llround(action_ctx_num(ctx, "duration", DEFAULT_DURATION_MS / 1000.0) * 1000);
	enum store_action_status st;
	struct agent_cmds c;
	bool went_out = false;
	char err[256];
	int ret;

	if (strcmp(state, "open") && strcmp(state, "half_open") && strcmp(state, "closed"))
		return action_ctx_fail(ctx, "unknown breaker state '%s'", state);
	if (!strcmp(state, "closed") && breaker_loop_forget(ctx->loop, a->tenant, a->service))
		/* at once: the loop must not half-open what is being closed */
		log_info("executor: breaker %s closed tenant=%s", a->service, a->tenant);
	if (!ctx->cfg->ingest) {
		tell_loop(ctx, state, duration_ms, false);
		return action_ctx_fail(ctx, "agent commands need ingest, which is not running");
	}
	ret = action_agent_breaker_cmds(ctx->cfg->ingest, a->tenant, a->service, state, duration_ms,
					ctx->cfg->probe_window_ms, &c, err, sizeof(err), ctx);
	if (ret) {
		agent_cmds_release(&c);
		tell_loop(ctx, state, duration_ms, false);
		return action_ctx_fail(ctx, "%s", err);
	}
	agent_cmds_send(&c, ctx->cfg->ingest, ctx);
	agent_cmds_wait(&c, ctx->cfg->ingest, agent_cmd_now_ms() + ctx->cfg->agent_timeout_ms, ctx);
	st = agent_cmds_status(&c);
	for (size_t i = 0; i < c.n; i++)
		went_out |= c.v[i].status == STORE_ACTION_SUCCEEDED;
	action_ctx_result(ctx, json_pack("{s:s, s:o, s:I}", "state", state, "agents",
					 agent_cmds_json(&c), "lease_ms",
					 (json_int_t)lease_ms(state, duration_ms,
							      ctx->cfg->probe_window_ms)));
	note_failures(ctx, &c, st);
	agent_cmds_release(&c);
	tell_loop(ctx, state, duration_ms, went_out);
	return st;
}

/*
 * The commands to the agents hosting the service, with @args_of(ports) for
 * each; the hosts not connected fail. -ENOENT when no agent hosts it.
 */
static int to_hosts(struct action_ctx *ctx, struct agent_cmds *c, const char *command,
		    json_t *(*args_of)(struct action_ctx *, const struct ingest_agent_service *))
{
	const struct store_action *a = ctx->a;
	struct ingest_agent_info *v = NULL;
	size_t n = 0, hosts = 0;

	agent_cmds_init(c, a->tenant, command);
	ingest_agents_info(ctx->cfg->ingest, a->tenant, &v, &n);
	for (size_t i = 0; i < n; i++) {
		const struct ingest_agent_service *svc = service_hosts_find(&v[i], a->service);

		if (!svc)
			continue;
		hosts++;
		if (!v[i].connected) {
			action_ctx_log(ctx, "%s: failed: hosts %s but is not connected",
				       v[i].agent_id, a->service);
			agent_cmds_add_failed(c, v[i].agent_id, "not connected");
			continue;
		}
		agent_cmds_add(c, v[i].agent_id, args_of(ctx, svc));
	}
	free(v);
	return hosts ? 0 : -ENOENT;
}

/* Sends @c, waits until @timeout_ms, sets the result with @extra's fields (taken). */
static enum store_action_status run_cmds(struct action_ctx *ctx, struct agent_cmds *c,
					 unsigned timeout_ms, json_t *extra)
{
	enum store_action_status st;

	agent_cmds_send(c, ctx->cfg->ingest, ctx);
	agent_cmds_wait(c, ctx->cfg->ingest, agent_cmd_now_ms() + timeout_ms, ctx);
	st = agent_cmds_status(c);
	json_object_set_new(extra, "agents", agent_cmds_json(c));
	action_ctx_result(ctx, extra);
	note_failures(ctx, c, st);
	return st;
}

/*
 * The rate of a rate_limit: `limit` connections per `window` seconds as a
 * whole number per second, rounded up (a limit is never made stricter than
 * asked), at least 1.
 */
static json_int_t rate_per_s(const struct action_ctx *ctx)
{
	double limit = action_ctx_num(ctx, "limit", 0), window_s = action_ctx_num(ctx, "window", 1);
	double r = window_s > 0 ? ceil(limit / window_s) : limit;

	return r < 1 ? 1 : r > 1e12 ? (json_int_t)1e12 : (json_int_t)r;
}

static json_t *rate_limit_args(struct action_ctx *ctx, const struct ingest_agent_service *svc)
{
	json_int_t rate = rate_per_s(ctx);

	/* burst = one second's worth: the window is already folded into the rate */
	return json_pack("{s:s, s:o, s:s, s:I, s:I}", "service", ctx->a->service, "ports",
			 service_hosts_ports(svc), "state", "set", "rate_per_s", rate, "burst",
			 rate);
}

static json_t *restart_args(struct action_ctx *ctx, const struct ingest_agent_service *svc)
{
	(void)svc;
	return json_pack("{s:s, s:I}", "service", ctx->a->service, "timeout_ms",
			 (json_int_t)ctx->cfg->restart_timeout_ms);
}

enum store_action_status action_agent_rate_limit(struct action_ctx *ctx)
{
	json_int_t rate = rate_per_s(ctx);
	enum store_action_status st;
	struct agent_cmds c;

	if (!ctx->cfg->ingest)
		return action_ctx_fail(ctx, "agent commands need ingest, which is not running");
	if (to_hosts(ctx, &c, "rate_limit", rate_limit_args)) {
		agent_cmds_release(&c);
		return action_ctx_fail(ctx, "no agent reports service %s listening",
				       ctx->a->service);
	}
	action_ctx_log(ctx, "limit %lld new connections per second, burst %lld", (long long)rate,
		       (long long)rate);
	st = run_cmds(ctx, &c, ctx->cfg->agent_timeout_ms,
		      json_pack("{s:I, s:I}", "rate_per_s", rate, "burst", rate));
	agent_cmds_release(&c);
	return st;
}

enum store_action_status action_agent_restart(struct action_ctx *ctx)
{
	enum store_action_status st;
	struct agent_cmds c;

	if (!ctx->cfg->ingest)
		return action_ctx_fail(ctx, "agent commands need ingest, which is not running");
	if (to_hosts(ctx, &c, "restart", restart_args)) {
		agent_cmds_release(&c);
		return action_ctx_fail(ctx, "no agent reports service %s listening",
				       ctx->a->service);
	}
	st = run_cmds(ctx, &c, ctx->cfg->restart_timeout_ms + ACTION_AGENT_RESTART_SLACK_MS,
		      json_pack("{s:I}", "timeout_ms", (json_int_t)ctx->cfg->restart_timeout_ms));
	agent_cmds_release(&c);
	return st;
}
