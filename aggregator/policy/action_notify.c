/*
 * alert and webhook. An alert is always logged, and its end is an
 * action.executed event (with the alert's severity) that the streams and
 * every webhook subscribed to it get, durably and retried; with
 * action.alert_url it is also POSTed there. A webhook action naming a
 * registered hook ({webhook_id}) queues its delivery with the webhooks
 * (aggregator/webhooks/): durable, retried with backoff, in the hook's
 * format and signed with its secret. One naming a bare {url} is posted at
 * once, retried inside the action (3 attempts, 0.5 s then 1 s apart):
 * there is no hook to keep its queue.
 */
#include "aggregator/policy/action_notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/deliver.h"
#include "aggregator/webhooks/webhooks.h"
#include "common/log.h"
#include "common/strparse.h"
#include "common/timeutil.h"

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
	} else {
		/* the action.executed event at its end carries it to the streams and hooks */
		json_decref(data);
		action_ctx_result(ctx, json_pack("{s:s, s:s, s:s}", "channel", channel, "message",
						 message, "delivered_by",
						 "the action.executed event (streams, webhooks)"));
		st = STORE_ACTION_SUCCEEDED;
	}
	free(message);
	return st;
}

/* The registered hook @id: its delivery queued, durable. */
static enum store_action_status queue(struct action_ctx *ctx, int64_t id)
{
	const struct store_action *a = ctx->a;
	char *message = message_of(ctx, "warning");
	json_t *data = data_of(ctx, "warning", message);
	int64_t delivery = 0;
	int err;

	free(message);
	if (!ctx->cfg->webhooks) {
		json_decref(data);
		return action_ctx_fail(ctx, "webhook %lld: webhooks are not running", (long long)id);
	}
	err = webhooks_enqueue(ctx->cfg->webhooks, a->tenant, id, BUS_ACTION_EXECUTED, a->service,
			       STORE_SEVERITY_WARNING, data,
			       (int64_t)(time_real_ns() / NSEC_PER_MSEC), &delivery);
	json_decref(data);
	if (err == -ENOENT)
		return action_ctx_fail(ctx, "no webhook %lld in tenant %s", (long long)id, a->tenant);
	if (err == -EPERM)
		return action_ctx_fail(ctx, "webhook %lld is disabled", (long long)id);
	if (err)
		return action_ctx_fail(ctx, "webhook %lld: the delivery could not be queued",
				       (long long)id);
	action_ctx_log(ctx, "queued delivery %lld to webhook %lld", (long long)delivery,
		       (long long)id);
	action_ctx_result(ctx, json_pack("{s:I, s:I, s:b}", "webhook_id", (json_int_t)id,
					 "delivery_id", (json_int_t)delivery, "queued", 1));
	return STORE_ACTION_SUCCEEDED;
}

enum store_action_status action_notify_webhook(struct action_ctx *ctx)
{
	const char *url = action_ctx_str(ctx, "url", NULL);
	json_t *hook = json_object_get(ctx->params, "webhook_id");
	enum store_action_status st;
	char *message;

	if (hook) {
		int64_t id = json_is_integer(hook) ? json_integer_value(hook) : 0;

		/* policy documents keep it as text ("12") */
		if (json_is_string(hook) && strparse_i64(json_string_value(hook), 1, INT64_MAX, &id))
			id = 0;
		if (id <= 0)
			return action_ctx_fail(ctx, "webhook_id must be a hook's id (a whole number)");
		return queue(ctx, id);
	}
	if (!url)
		return action_ctx_fail(ctx, "webhook needs a url or a webhook_id");
	message = message_of(ctx, "warning");
	st = post(ctx, url, data_of(ctx, "warning", message));
	free(message);
	return st;
}
