/*
 * alert and webhook. Retries happen inside the action (3 attempts, 0.5 s
 * then 1 s apart) rather than later from the store: a delivery queue that
 * survives restarts comes with the webhook registry.
 */
#include "aggregator/policy/action_notify.h"

#include <stdlib.h>
#include <string.h>

#include "aggregator/policy/deliver.h"
#include "common/log.h"

/* The message of the alert, its placeholders filled; caller frees. */
static char *message_of(const struct action_ctx *ctx, const char *severity)
{
	static const char *const names[] = { "service", "reason", "policy", "severity" };
	const struct store_action *a = ctx->a;
	const char *values[] = { a->service, a->reason ? a->reason : "", a->policy_name, severity };

	return action_ctx_expand(action_ctx_str(ctx, "message", ACTION_NOTIFY_DEFAULT_MESSAGE),
				 names, values, 4);
}

static json_t *data_of(const struct action_ctx *ctx, const char *severity, const char *message)
{
	const struct store_action *a = ctx->a;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "service", a->service, "severity",
			 severity, "message", message, "policy", a->policy_name, "reason",
			 a->reason ? a->reason : "", "action_id", (json_int_t)a->id);
}

/* POSTs @data (taken) to @url; the result and the status. */
static enum store_action_status post(struct action_ctx *ctx, const char *url, json_t *data)
{
	struct deliver_webhook w = { .url = url,
				     .secret = ctx->cfg->webhook_secret,
				     .event = ACTION_NOTIFY_EVENT,
				     .data = data };
	struct deliver_webhook_result r;
	int err = deliver_webhook_send(&w, &r);

	json_decref(data);
	action_ctx_log(ctx, "POST %s: %s after %u attempts (delivery %s)%s%s", url,
		       err ? "failed" : "delivered", r.attempts, r.delivery_id, err ? ": " : "",
		       err ? r.error : "");
	action_ctx_result(ctx, json_pack("{s:I, s:I, s:s}", "status_code",
					 (json_int_t)r.status_code, "attempts",
					 (json_int_t)r.attempts, "delivery_id", r.delivery_id));
	if (err)
		return action_ctx_fail(ctx, "the delivery to %s failed: %s", url,
				       *r.error ? r.error : "bad arguments");
	return STORE_ACTION_SUCCEEDED;
}

enum store_action_status action_notify_alert(struct action_ctx *ctx)
{
	const char *channel = action_ctx_str(ctx, "channel", "log");
	const char *severity = action_ctx_str(ctx, "severity", "warning");
	const struct store_action *a = ctx->a;
	char *message = message_of(ctx, severity);
	enum log_level level = !strcmp(severity, "critical") ? LOG_LEVEL_ERROR
			       : !strcmp(severity, "info")   ? LOG_LEVEL_INFO
							     : LOG_LEVEL_WARN;
	json_t *data = data_of(ctx, severity, message);
	enum store_action_status st;

	/* the log always has it, so no alert is lost to a receiver that is down */
	log_msg(level, 0, "executor: alert [%s] %s: %s policy=%s tenant=%s", severity, a->service,
		message, a->policy_name, a->tenant);
	action_ctx_log(ctx, "alert [%s] %s", severity, message);
	json_object_set_new(data, "channel", json_string(channel));
	if (ctx->cfg->alert_url && *ctx->cfg->alert_url) {
		st = post(ctx, ctx->cfg->alert_url, data);
	} else if (!strcmp(channel, "log")) {
		json_decref(data);
		action_ctx_result(ctx,
				  json_pack("{s:s, s:s}", "channel", channel, "message", message));
		st = STORE_ACTION_SUCCEEDED;
	} else {
		json_decref(data);
		st = action_ctx_fail(ctx,
				     "alert channel '%s' needs alert_url, which is not configured "
				     "(the alert is in the log)",
				     channel);
	}
	free(message);
	return st;
}

enum store_action_status action_notify_webhook(struct action_ctx *ctx)
{
	const char *url = action_ctx_str(ctx, "url", NULL);
	enum store_action_status st;
	char *message;

	if (!url)
		return action_ctx_fail(ctx, action_ctx_str(ctx, "webhook_id", NULL)
						    ? "webhooks are not configured yet"
						    : "webhook needs a url");
	message = message_of(ctx, "warning");
	st = post(ctx, url, data_of(ctx, "warning", message));
	free(message);
	return st;
}
