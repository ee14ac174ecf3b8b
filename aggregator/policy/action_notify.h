/*
 * The notifying actions, alert and webhook: a signed POST of
 * {"event": "alert", "timestamp", "data": {service, severity, message,
 * policy, reason, action_id, channel?}} (API.md "Webhook delivery";
 * deliver.h does the signing and the retries).
 *
 *   alert    to alert_url when configured (whatever the channel); without
 *            it, channel "log" writes the alert to the log and succeeds,
 *            any other channel fails (it is logged all the same). The
 *            message's "{service}", "{reason}", "{policy}" and
 *            "{severity}" are substituted; the default message is
 *            "{service}: {reason}".
 *   webhook  {url}: the same POST to that URL, severity "warning" and the
 *            default message; {webhook_id}: fails until the webhook
 *            registry exists ("webhooks are not configured yet").
 *
 * The result: {status_code, attempts, delivery_id}. Threads: the
 * executor's workers.
 */
#ifndef PRP_AGGREGATOR_POLICY_ACTION_NOTIFY_H
#define PRP_AGGREGATOR_POLICY_ACTION_NOTIFY_H

#include "aggregator/policy/action_ctx.h"

#define ACTION_NOTIFY_EVENT	      "alert"
#define ACTION_NOTIFY_DEFAULT_MESSAGE "{service}: {reason}"

enum store_action_status action_notify_alert(struct action_ctx *ctx);
enum store_action_status action_notify_webhook(struct action_ctx *ctx);

#endif
