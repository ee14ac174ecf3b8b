/*
 * The webhooks routes (API.md: webhooks; docs/webhooks.md): a tenant's
 * hooks, their delivery log, test deliveries, and POST /trigger, which
 * publishes an event on the bus. Reads come from the worker's read-only
 * store; changes go through aggregator/webhooks/webhooks.h. 503 when the
 * webhooks do not run (POST /trigger: when the bus does not). A secret or
 * a routing key is never shown, only whether there is one.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_WEBHOOKS_H
#define PRP_AGGREGATOR_HTTP_API_WEBHOOKS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

/* Largest body of POST /webhooks, PUT /webhooks/{id} and POST /trigger. */
#define API_WEBHOOKS_BODY_MAX (64 * 1024)

/*
 * {url, events?, secret?, enabled?, headers?, format?, routing_key?} → 201
 * {id, url, events, enabled, headers, format, created_at, updated_at,
 * has_secret, has_routing_key}. Operator.
 */
int api_webhooks_create(struct req *rq, struct resp *rp);
/* {webhooks, count}: the tenant's hooks by id. */
int api_webhooks_list(struct req *rq, struct resp *rp);
int api_webhooks_get(struct req *rq, struct resp *rp);
/* The fields given change, the others stay: the hook as it now is. Operator. */
int api_webhooks_update(struct req *rq, struct resp *rp);
/* {id, status: "deleted"}; its pending deliveries are failed. Operator. */
int api_webhooks_delete(struct req *rq, struct resp *rp);
/* Queues a webhook.test to this hook alone → 202 {delivery_id, webhook_id, status}. Operator. */
int api_webhooks_test(struct req *rq, struct resp *rp);
/* The tenant's deliveries, newest first: {deliveries, count, next_cursor}. */
int api_webhooks_history(struct req *rq, struct resp *rp);
/* The same, of one hook. */
int api_webhooks_deliveries(struct req *rq, struct resp *rp);
/* {event, data?, service?, severity?} → 202 {event_id, event, status}: published on the bus.
 * Operator. */
int api_webhooks_trigger(struct req *rq, struct resp *rp);

#endif
