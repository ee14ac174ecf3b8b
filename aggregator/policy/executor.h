/*
 * The executor runs actions: the decisions of the policy engine
 * (engine.h) and the operators' POST /actions/execute. Every action is a
 * row of the store (struct store_action) that goes pending -> running ->
 * succeeded | failed | timed_out; decisions that are not run (dry run,
 * cooldown, the hourly brake, auto-remediation off) are recorded as
 * skipped. docs/policies.md ("Actions") describes what each type does.
 *
 * How each type runs:
 *   circuit_breaker  agent command "circuit_breaker" to every connected
 *                    agent of the tenant, with the targets (address:port)
 *                    where the service listens (ingest_agents_info()); then
 *                    the breaker's own loop (executor_tick()): after
 *                    `duration` it half-opens, judges the service by
 *                    executor_health_fn, closes when good, opens again when
 *                    bad. Every transition is an action of its own.
 *   rate_limit       agent command "rate_limit" to the agents hosting it.
 *   restart          agent command "restart" to the agents hosting it.
 *   scale            the configured scale command, or PATCH of the
 *                    Kubernetes deployment's scale subresource (libcurl).
 *   alert, webhook   a signed HTTP POST (API.md "Webhook delivery").
 *   exec             a command of the allow-list, with a timeout.
 *
 * Threads: executor_start()/executor_stop() by one thread; the rest from
 * any thread. Workers run actions in parallel; a slow one (a restart)
 * never holds up a breaker.
 */
#ifndef PRP_AGGREGATOR_POLICY_EXECUTOR_H
#define PRP_AGGREGATOR_POLICY_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/compiler.h"

struct bus;
struct webhooks;
struct ingest;

/* What the executor knows of a service's health while a breaker half-opens. */
enum executor_health {
	EXECUTOR_HEALTH_UNKNOWN = 0, /* no requests got through: no evidence either way */
	EXECUTOR_HEALTH_GOOD,
	EXECUTOR_HEALTH_BAD,
};
/* The health of @service of @tenant over [since_ms, now); any thread. */
typedef enum executor_health executor_health_fn(const char *tenant, const char *service,
						int64_t since_ms, void *arg);

struct executor_config {
	struct store_options store; /* copied; the executor opens its own writer */
	struct ingest *ingest;	    /* borrowed; agent commands; NULL: agent actions fail */
	const char *const *exec_allow; /* copied: the commands `exec` may run, exactly as written */
	size_t nexec_allow;
	unsigned exec_timeout_ms;    /* default 30000 */
	unsigned agent_timeout_ms;   /* an agent's answer to a command; default 10000 */
	unsigned restart_timeout_ms; /* a restart, service back included; default 60000 */
	const char *scale_command;   /* copied; "{service}", "{replicas}" substituted; NULL: none */
	const char *kube_api;	     /* copied; "https://10.0.0.1:6443"; NULL: no Kubernetes */
	const char *kube_namespace;  /* copied; default "default" */
	const char *kube_token_file; /* copied; a bearer token; NULL: none */
	const char *kube_ca_file;    /* copied; CA bundle (PEM) for kube_api; NULL: the system's */
	const char *alert_url;	     /* copied; where alert actions POST; NULL: alerts are logged */
	const char *webhook_secret;  /* copied; signs deliveries; NULL: unsigned */
	unsigned workers;	     /* default 2 */
	unsigned probe_window_ms;    /* a half-open breaker is judged after this; default 10000 */
	executor_health_fn *health;  /* NULL: every half-open breaker closes after its window */
	void *health_arg;
	/*
	 * borrowed; may be NULL: no events. Each action that ends publishes
	 * action.executed (succeeded) or action.failed (failed, timed_out) on
	 * it, those a previous run left unfinished and the stop's too: it must
	 * outlive executor_stop().
	 */
	struct bus *bus;
	/*
	 * borrowed; may be NULL. A webhook action naming a hook
	 * ({webhook_id}) queues its delivery here (durable, retried, in the
	 * hook's format); must outlive executor_stop().
	 */
	struct webhooks *webhooks;
};
void executor_config_default(struct executor_config *c);

struct executor;

/*
 * Opens the store, marks actions a previous run left pending or running as
 * failed ("the aggregator stopped while it ran") and starts the workers.
 * 0 or a negative errno, with nothing left running.
 */
PRP_MUST_CHECK int executor_start(struct executor **out, const struct executor_config *c);
/*
 * Stops taking actions, lets the running ones finish (at most their
 * timeouts), records the queued ones as failed ("the aggregator stopped"),
 * sends agents a close for every breaker still open (each recorded as an
 * action, all waited for together, at most agent_timeout_ms), frees @x.
 * Call it before ingest_stop(): the closes go out through ingest.
 */
void executor_stop(struct executor *x);

/*
 * Stores @a as pending (sets a->id, created_ms) and queues it. a->type is
 * a canonical type name (policy_action_type_name()), a->parameters its
 * canonical JSON (policy_action.h), a->service, a->reason and
 * a->policy_name ("" for a manual action) set by the caller. Returns 0,
 * -EINVAL for an unknown type, -ESHUTDOWN once executor_stop() began, or
 * the store's error.
 */
PRP_MUST_CHECK int executor_submit(struct executor *x, struct store_action *a);
/* Stores @a as it is (a decision not run: status skipped, result set); sets a->id. */
PRP_MUST_CHECK int executor_record(struct executor *x, struct store_action *a);

/* Drives the breakers' loop; the engine calls it once per second. */
void executor_tick(struct executor *x, int64_t now_ms);

enum executor_breaker_state { EXECUTOR_BREAKER_OPEN = 1, EXECUTOR_BREAKER_HALF_OPEN = 2 };
struct executor_breaker {
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX];
	enum executor_breaker_state state;
	int64_t opened_ms;     /* this open (or re-open) */
	int64_t next_ms;       /* when it next changes state */
	int64_t duration_ms;
	unsigned reopened;     /* times a probe found the service still bad */
	char policy_name[STORE_POLICY_NAME_MAX];
};
/* The breakers open or half-open now, of @tenant (NULL: all); free() *out. */
int executor_breakers(struct executor *x, const char *tenant, struct executor_breaker **out,
		      size_t *n);

struct executor_stats {
	uint64_t submitted, succeeded, failed, timed_out, recorded;
	size_t queued, running;
	size_t breakers_open;
};
void executor_get_stats(struct executor *x, struct executor_stats *st);

#endif
