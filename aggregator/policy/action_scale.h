/*
 * The scale action, by the configured scale command or by the Kubernetes
 * API (docs/policies.md "Actions"):
 *
 *   scale_command  "{service}" and "{replicas}" substituted, run like exec
 *                  (action_exec.h). {replicas} is the count the action
 *                  asks for: "3" for {replicas: 3}, "+1" for {scale_up_by:
 *                  1}: the command adds, only it knows the current count.
 *   kube_api       PATCH {kube_api}/apis/apps/v1/namespaces/{ns}/deployments/
 *                  {service}/scale, merge patch {"spec":{"replicas":N}};
 *                  for scale_up_by the scale is read first and N = current
 *                  + scale_up_by, clamped to [min, max]. Bearer token from
 *                  kube_token_file, read at each action (tokens rotate).
 *
 * The command wins when both are configured; with neither the action
 * fails ("scale is not configured"). Threads: the executor's workers.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_SCALE_H
#define PRP_AGGREGATOR_POLICY_ACTION_SCALE_H

#include "aggregator/policy/action_ctx.h"

#define ACTION_SCALE_KUBE_TIMEOUT_MS 10000 /* each call to the API server */
#define ACTION_SCALE_TOKEN_MAX	     16384 /* a service account token is ~1 KiB */

enum store_action_status action_scale_run(struct action_ctx *ctx);

#endif
