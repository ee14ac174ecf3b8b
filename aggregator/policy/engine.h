/*
 * The policy engine (docs/policies.md): holds the policies (loaded from
 * the store, and from the policies/ directory at start), evaluates every
 * enabled one against every service it covers once per second, after
 * detection's cycle, and hands what fires to the executor (executor.h).
 *
 * A policy fires for a service when its condition has held for `for`
 * (continuously, second by second) and the policy's cooldown for that
 * service has passed. What it decides is always recorded as an action:
 * executed (submitted to the executor), or skipped with the reason: dry
 * run, cooldown, the hourly brake (max actions per hour, every tenant and
 * policy together), auto-remediation off. A decision skipped for cooldown
 * is recorded once per cooldown, not every second.
 *
 * Changes (create, update, delete) are validated (policy_doc.h), written
 * to the store, audited, published (policy.changed) and effective at the
 * next evaluation, without a restart.
 *
 * Threads: engine_start()/engine_stop() by one thread (main); every other
 * function from any thread (the HTTP workers). Evaluations run one at a
 * time.
 */
#ifndef PRP_AGGREGATOR_POLICY_ENGINE_H
#define PRP_AGGREGATOR_POLICY_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/policy/condition.h"
#include "aggregator/policy/policy_doc.h"
#include "aggregator/store/store.h"
#include "common/compiler.h"

struct bus;
struct series;
struct detection;
struct executor;

#define ENGINE_DEFAULT_TENANT "default" /* the tenant of policies loaded from files */

struct engine_config {
	struct store_options store;  /* copied; the engine opens its own writer */
	const char *policies_dir;    /* *.yaml and *.yml loaded at start; NULL: none */
	struct series *series;	     /* borrowed: the metrics of conditions */
	struct detection *detection; /* borrowed; may be NULL: no anomalies, no predictions */
	struct executor *executor;   /* borrowed; may be NULL: decisions are only recorded */
	bool auto_remediation;	     /* default true */
	unsigned max_actions_per_hour; /* the brake; default 20; 0: no brake */
	unsigned interval_ms;	       /* default 1000; the evaluation thread's period */
	/*
	 * borrowed; may be NULL: no events. policy.changed for each policy
	 * created, updated or deleted (by the API, or by a file at start), and
	 * action.failed for a manual action recorded failed for want of an
	 * executor (the executor publishes the others: executor_config.bus).
	 */
	struct bus *bus;
};
void engine_config_default(struct engine_config *c);

struct engine;

/*
 * Opens the store, loads the stored policies, then the files of
 * policies_dir (a file's policy replaces a stored one of the same name
 * that came from a file; one the API changed is kept), and starts the
 * evaluation thread. A file that does not validate stops the start with
 * its error logged ("policies/x.yaml:3:5: field ...") and -EINVAL.
 */
PRP_MUST_CHECK int engine_start(struct engine **out, const struct engine_config *c);
void engine_stop(struct engine *e);

/* ---- policies (the API's CRUD) ---- */
/* A policy as the API shows it: policy_to_json() plus id, origin ("api", "file:PATH"), created_at, updated_at (ISO 8601). */
struct engine_result {
	int status;		/* the HTTP status to answer: 200, 201, 400, 404, 409, 422 */
	/* owned: the answer's JSON; an error is {"error": {status, code, message}}, and a
	 * policy that does not validate adds line, column, field and detail */
	json_t *body;
};
void engine_result_release(struct engine_result *r);

/*
 * Creates one policy from @body (@len bytes of YAML or JSON: one policy
 * mapping, or "policies:" with exactly one). 201 {id, status: "created",
 * policy}; 422 with line, column and field when it does not validate; 409
 * when the tenant has the name. @actor is audited ("api", a key id).
 */
void engine_policy_create(struct engine *e, const char *tenant, const char *actor,
			  const char *body, size_t len, struct engine_result *r);
/*
 * Updates policy @id. A JSON object body may be partial: its keys replace
 * those of the policy. A YAML body is a whole policy. 200 {id, status:
 * "updated", policy}, 404, 409 (renamed onto another's name), 422.
 */
void engine_policy_update(struct engine *e, const char *tenant, const char *actor, int64_t id,
			  const char *body, size_t len, bool yaml, struct engine_result *r);
/* 200 {id, status: "deleted"} or 404. It never fires again, even mid-evaluation. */
void engine_policy_delete(struct engine *e, const char *tenant, const char *actor, int64_t id,
			  struct engine_result *r);
/* 200 {policies: [...], count} by id. */
void engine_policy_list(struct engine *e, const char *tenant, struct engine_result *r);
/* 200 the policy, or 404. */
void engine_policy_get(struct engine *e, const char *tenant, int64_t id, struct engine_result *r);
/*
 * Dry run of policy @id: against @given when not NULL (for @service,
 * which may then be NULL), else against the live facts of @service, or
 * of every service it covers when @service is NULL. 200 {would_trigger,
 * matched_conditions, actions_to_execute, services: [{service,
 * would_trigger, matched_conditions, facts}]}; 404; 400 for an unknown
 * service. Nothing is recorded, nothing runs.
 */
void engine_policy_test(struct engine *e, const char *tenant, int64_t id, const char *service,
			const struct condition_facts *given, struct engine_result *r);

/* ---- evaluation and control ---- */
/* Evaluates every policy now (POST /evaluate): 200 {message, actions: [the decisions]}. */
void engine_evaluate_now(struct engine *e, const char *tenant, struct engine_result *r);
/* Sets auto-remediation (@on 0 or 1) or flips it (-1); returns the new state; audited. */
bool engine_toggle(struct engine *e, const char *tenant, const char *actor, int on);
/*
 * A manual action (POST /actions/execute): @type and @params (a JSON
 * object, may be NULL) validated as a policy's action would be. 202
 * {action_id, status: "pending"}; 400 naming the field; 404 for an unknown
 * service. Runs even with auto-remediation off; audited. @params is
 * borrowed. Without an executor the action is recorded failed at once, and
 * the 202 says "failed".
 */
void engine_execute(struct engine *e, const char *tenant, const char *actor, const char *type,
		    const char *service, const char *reason, json_t *params,
		    struct engine_result *r);

struct engine_status {
	bool auto_remediation_enabled;
	size_t policies_loaded;	  /* enabled or not */
	size_t policies_enabled;
	uint64_t actions_executed; /* submitted to the executor since the start */
	uint64_t actions_skipped;
	uint64_t evaluations;
	int64_t last_check_ms;	   /* 0 before the first */
	unsigned max_actions_per_hour;
	uint64_t actions_last_hour; /* counted against the brake */
};
void engine_get_status(struct engine *e, struct engine_status *st);

/*
 * The live facts of @service of @tenant: the metrics of its last complete
 * seconds (series), its open anomalies and their highest severity and the
 * nearest predicted breach (detection). false for a service the series
 * does not know.
 */
bool engine_facts(struct engine *e, const char *tenant, const char *service,
		  struct condition_facts *f);
/* The facts as JSON {metric: value, ...} for answers. */
json_t *engine_facts_json(const struct condition_facts *f);

#endif
