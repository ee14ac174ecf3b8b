/*
 * An action (a row of the store) as JSON, as GET /actions shows it and the
 * action.* events carry it: action_id, policy_name, manual, service,
 * action, parameters, reason, status, created_at, started_at, completed_at,
 * result, and logs when asked (events leave them out: up to 64 KiB). Text
 * that is not UTF-8 (a command's output) shows '?' for its other bytes.
 * Pure; any thread.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_JSON_H
#define PRP_AGGREGATOR_POLICY_ACTION_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "aggregator/store/store.h"

/* Caller owns: json_decref(); NULL only out of memory. */
json_t *action_json(const struct store_action *a, bool with_logs);

#endif
