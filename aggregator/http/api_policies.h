/*
 * The policy engine's routes (API.md "Policies and actions"): policies
 * (GET, POST, PUT, DELETE, and a dry run), POST /evaluate, POST /toggle
 * and GET /status. Every one answers 503 when the engine is not running.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_POLICIES_H
#define PRP_AGGREGATOR_HTTP_API_POLICIES_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* GET /policies and GET /policies/{id}. */
int api_policies_list(struct req *rq, struct resp *rp);
int api_policies_get(struct req *rq, struct resp *rp);
/*
 * POST /policies and PUT /policies/{id}: a JSON body (application/json)
 * or a YAML one (application/yaml, application/x-yaml, text/yaml); any
 * other Content-Type is 415. PUT's JSON may be partial; its YAML is a
 * whole policy. Without a Content-Type a body starting with '{' is JSON.
 */
int api_policies_create(struct req *rq, struct resp *rp);
int api_policies_update(struct req *rq, struct resp *rp);
int api_policies_delete(struct req *rq, struct resp *rp);
/*
 * POST /policies/{id}/test: a dry run. Body (optional): {service?,
 * metrics?: {error_rate: 0.3, ...}, anomalies?: [metric...], severity?,
 * predicted_breach?: seconds}. With any of the facts, the policy is judged
 * against them; without, against the live facts.
 */
int api_policies_test(struct req *rq, struct resp *rp);
/* POST /evaluate: every policy now. */
int api_policies_evaluate(struct req *rq, struct resp *rp);
/* POST /toggle: body (optional) {enabled: bool}; without it, flips auto-remediation. */
int api_policies_toggle(struct req *rq, struct resp *rp);
/* GET /status: the engine's state, the executor's and the breakers open now. */
int api_policies_status(struct req *rq, struct resp *rp);

#endif
