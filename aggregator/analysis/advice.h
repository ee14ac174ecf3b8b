/*
 * Advice (POST /advice, API.md "Analysis"): for an anomaly of a service and
 * the evidence around it, the action to take among the platform's action
 * types, why (with the evidence's numbers), what it should change, how
 * risky it is, whether prp can do it by itself, and a ready policy that
 * would have done it.
 *
 * The rules, first match wins (docs/analysis.md "Advice"):
 *   1. the service stopped answering (requests fell to none against a
 *      baseline that had them)                         -> restart it
 *   2. a dependency it calls is sick (its own figures, or the calls to it,
 *      moved) and the service suffers: the deepest sick one along the
 *      calls, D:  D stopped or leaks memory            -> restart D
 *                 D's latency is CPU-bound              -> scale D
 *                 D is not watched by an agent          -> alert
 *                 otherwise (callers pile up on it)     -> circuit_breaker on D
 *   3. memory syscalls (mmap, brk) per request up       -> restart
 *   4. a surge of requests                              -> rate_limit
 *   5. latency up and CPU-bound (the time is not in syscalls) or saturated
 *      (more requests, not a surge)                     -> scale
 *   6. latency or errors up and its callers pile up     -> circuit_breaker on it
 *   7. something moved and none of the above           -> alert
 *   8. nothing moved                                    -> alert, no action needed
 * "Moved" uses detection's floors (aggregator/detect/signals.h): a figure
 * of the span (its peak step) against the baseline's typical step.
 *
 * Pure: reads a struct evidence, no I/O; any thread.
 */
#ifndef PRP_AGGREGATOR_ANALYSIS_ADVICE_H
#define PRP_AGGREGATOR_ANALYSIS_ADVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/analysis/evidence.h"
#include "aggregator/policy/condition.h"
#include "aggregator/policy/policy_action.h"
#include "aggregator/policy/policy_doc.h"

#define ADVICE_TEXT_MAX 1024
/* Depth of the search for the deepest sick dependency. */
#define ADVICE_DEPTH_MAX 8
/* scale's recommended bound: a policy never scales past this many replicas. */
#define ADVICE_SCALE_MAX 10

enum advice_rule {
	ADVICE_RULE_STOPPED,	     /* restart: stopped answering */
	ADVICE_RULE_DEPENDENCY,	     /* circuit_breaker on a sick dependency */
	ADVICE_RULE_DEPENDENCY_FIX,  /* restart or scale a sick dependency */
	ADVICE_RULE_UNWATCHED,	     /* alert: the sick dependency has no agent */
	ADVICE_RULE_LEAK,	     /* restart: memory growing */
	ADVICE_RULE_SURGE,	     /* rate_limit */
	ADVICE_RULE_CPU_BOUND,	     /* scale */
	ADVICE_RULE_SATURATED,	     /* scale */
	ADVICE_RULE_CALLERS_PILE_UP, /* circuit_breaker on the service itself */
	ADVICE_RULE_NOTHING_SAFE,    /* alert */
	ADVICE_RULE_HEALTHY,	     /* alert, nothing to do now */
	ADVICE_RULE_COUNT
};

/* What advice is asked for. */
struct advice_target {
	const char *service; /* required; borrowed */
	/* the anomaly's metric ("latency_p99"); NULL: the service's worst signal */
	const char *metric;
	/* the anomaly's record when there is one (borrowed); NULL: none known */
	const struct evidence_anomaly *anomaly;
	enum store_severity severity; /* without a record: as asked (default warning) */
	bool executor;		      /* an executor runs actions in this aggregator */
};

/* The policy that would have handled it: valid for policy_doc_parse(). */
struct advice_policy {
	char name[POLICY_NAME_MAX];
	char service[SERVICE_NAME_MAX];
	char condition[256]; /* parses with condition_parse() */
	int64_t for_s, cooldown_s;
	char parameters[256]; /* a JSON object text valid for the action */
};

struct advice {
	enum advice_rule rule;
	enum policy_action_type action;
	char target[SERVICE_NAME_MAX]; /* the service the action acts on */
	bool action_needed;	       /* false for ADVICE_RULE_HEALTHY */
	double confidence;	       /* 0..1 */
	const char *risk_level;	       /* "low", "medium", "high"; static */
	bool automation_available;
	char automation_note[ADVICE_TEXT_MAX];
	char headline[256]; /* "Open a circuit breaker on payments" */
	char rationale[ADVICE_TEXT_MAX];
	char expected_impact[ADVICE_TEXT_MAX];
	struct advice_policy policy;
};

/* "stopped", "dependency", ... (the JSON's "rule"); static. */
const char *advice_rule_name(enum advice_rule r);

/*
 * Advises on @t (borrowed for the call) from @ev (borrowed for the call;
 * gathered around the anomaly, its focus @t->service) into @out. Cannot
 * fail: a service the evidence does not hold gets the alert of rule 7.
 */
void advice_build(const struct evidence *ev, const struct advice_target *t, struct advice *out);

/* The advice as short Markdown (the API's "advice"). Caller owns: free(). */
char *advice_markdown(const struct advice *a);

/*
 * The body of a POST /policies that creates the recommended policy:
 * {name, service, condition, for, cooldown, actions: [{type, parameters}]}.
 * Caller owns: json_decref().
 */
json_t *advice_policy_json(const struct advice *a);

/*
 * The structured answer (API.md POST /advice, without the prose):
 * action, confidence, rationale, expected_impact, risk_level,
 * automation_available, automation_note, target_service, rule,
 * action_needed, policy_recommendation {condition, action, parameters,
 * name, service, for, cooldown, policy}. Caller owns: json_decref().
 */
json_t *advice_json(const struct advice *a);

/* The task given to an LLM to write the advice from @markdown (borrowed). Caller owns: free(). */
char *advice_llm_task(const struct advice_target *t, const char *markdown, const char *context);

#endif
