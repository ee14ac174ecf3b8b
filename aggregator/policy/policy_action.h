/*
 * The actions a policy takes and their parameters (API.md "Policies and
 * actions"): the type names and aliases, the parameters each type accepts
 * with their types, bounds and defaults, and the canonical JSON of them
 * kept for storage. Used by policy_doc.c; pure, any thread.
 */
#ifndef PRP_AGGREGATOR_POLICY_POLICY_ACTION_H
#define PRP_AGGREGATOR_POLICY_POLICY_ACTION_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "common/compiler.h"

#define POLICY_ACTIONS_MAX 16

struct policy_yaml;

enum policy_action_type {
	POLICY_ACTION_RESTART,
	POLICY_ACTION_SCALE,
	POLICY_ACTION_CIRCUIT_BREAKER,
	POLICY_ACTION_RATE_LIMIT,
	POLICY_ACTION_ALERT,
	POLICY_ACTION_WEBHOOK,
	POLICY_ACTION_EXEC,
	POLICY_ACTION_COUNT
};

/*
 * One action with its validated parameters, both typed (for the engine) and
 * as canonical JSON (for storage and the API). Only the member of @type's
 * kind is meaningful. Strings are owned by the action (freed with the doc).
 */
struct policy_action {
	enum policy_action_type type;
	/* compact, sorted keys, durations in seconds, defaults filled: {"duration":60,"state":"open"} */
	char *params_json;
	struct {
		int64_t replicas;    /* absolute target; 0: relative, see scale_up_by */
		int64_t scale_up_by; /* 1 when neither is given */
		int64_t min, max;    /* 0: no bound */
	} scale;
	struct {
		bool open;	     /* state: open (default) or closed */
		int64_t duration_ms; /* default 60 s */
	} breaker;
	struct {
		double limit;	   /* > 0 requests per window */
		int64_t window_ms; /* default 1 s */
	} rate_limit;
	struct {
		char *channel;	/* default "log" */
		int severity;	/* CONDITION_SEVERITY_*; default warning */
		char *message;	/* NULL: the engine's default text */
	} alert;
	struct {
		char *url;	  /* exactly one of url and webhook_id */
		char *webhook_id;
	} webhook;
	struct {
		char *command; /* checked against the configured allow-list by the engine */
	} exec;
};

/* The canonical name of @t ("circuit_breaker"), or NULL when out of range. */
const char *policy_action_type_name(enum policy_action_type t);

/*
 * Fills @a from @node of @y's document: a type name ("restart") or a
 * mapping {type, parameters}; @field names it in errors ("actions[0]").
 * Returns 0, or -EINVAL with the error in @y; either way release @a with
 * policy_action_release() (it starts zeroed by the caller).
 */
PRP_MUST_CHECK int policy_action_parse(const struct policy_yaml *y, const yaml_node_t *node,
				       const char *field, struct policy_action *a);
/* Frees what @a owns, not @a itself. */
void policy_action_release(struct policy_action *a);

#endif
