/*
 * Actions (API.md "Policies and actions"): what policies decided and
 * operators asked for, read from the store newest first, and POST
 * /actions/execute, which hands a manual action to the policy engine.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ACTIONS_H
#define PRP_AGGREGATOR_HTTP_API_ACTIONS_H

#include <jansson.h>

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/store/store.h"

/* GET /actions: every action, newest first, a page at a time (limit, cursor). */
int api_actions_list(struct req *rq, struct resp *rp);
/* GET /actions/recent: the newest @limit (default 10), no cursor. */
int api_actions_recent(struct req *rq, struct resp *rp);
/* GET /actions/history: filters service, action, status, policy, since, until; paged. */
int api_actions_history(struct req *rq, struct resp *rp);
/* POST /actions/execute: {action, service, reason?, parameters?} -> 202. */
int api_actions_execute(struct req *rq, struct resp *rp);
/* GET /actions/{id}/status: one record. */
int api_actions_status(struct req *rq, struct resp *rp);

/* The JSON record of API.md for @a (a new reference; NULL only out of memory). */
json_t *api_actions_item(const struct store_action *a);

#endif
