/*
 * The webhooks routes (api_webhooks.h). A body is checked whole before
 * anything changes: each field's type and rule here (400 naming the
 * field), then the hook as a whole by webhooks.c (a PagerDuty hook needs a
 * routing key, also after a partial PUT). Delivery lists are paged by id,
 * like /actions: the cursor is the last id of a page, and the next page
 * the ids below it.
 */
#include "aggregator/http/api_webhooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/auth/audit_log.h"
#include "aggregator/events/bus.h"
#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/http/query.h"
#include "aggregator/store/store.h"
#include "aggregator/webhooks/webhooks.h"
#include "aggregator/webhooks/webhooks_check.h"
#include "aggregator/webhooks/webhooks_format.h"

#define API_WEBHOOKS_ERR_MAX 256

static struct webhooks *api_webhooks_running(struct req *rq, struct resp *rp)
{
	if (!rq->env || !rq->env->webhooks)
		resp_error(rp, 503, "unavailable", "webhooks are not running");
	return rq->env ? rq->env->webhooks : NULL;
}

static json_t *api_webhooks_time(int64_t ms)
{
	return ms ? resp_time(ms) : json_null();
}

/* ["*"] for every type, else the names of the types of @mask. */
static json_t *api_webhooks_events(unsigned mask)
{
	json_t *list = json_array();

	if (!mask)
		json_array_append_new(list, json_string("*"));
	for (int t = 0; t < BUS_TYPE_COUNT; t++)
		if (mask & (1u << t))
			json_array_append_new(list, json_string(bus_type_name((enum bus_type)t)));
	return list;
}

/* The hook as the API shows it: never its secret or routing key. */
static json_t *api_webhooks_item(const struct store_webhook *h)
{
	json_t *headers = h->headers ? json_loads(h->headers, 0, NULL) : NULL;
	const char *format = webhooks_format_name(h->format);

	if (!json_is_object(headers)) {
		json_decref(headers);
		headers = json_object();
	}
	return json_pack(
		"{s:I, s:s, s:o, s:b, s:o, s:s, s:o, s:o, s:b, s:b}", "id", (json_int_t)h->id,
		"url", h->url, "events", api_webhooks_events(h->events), "enabled", h->enabled,
		"headers", headers, "format", format ? format : "json", "created_at",
		resp_time(h->created_ms), "updated_at", resp_time(h->updated_ms), "has_secret",
		h->secret && *h->secret, "has_routing_key", h->routing_key && *h->routing_key);
}

/* Only the fields of a hook: a misspelt one is an error, not silently ignored. */
static const char *const api_webhooks_known[] = { "url",     "events", "secret",     "enabled",
						  "headers", "format", "routing_key" };

/* A string field that may also be null ("" then, which clears it): 0 or the 400 answered. */
static int api_webhooks_text(json_t *body, struct resp *rp, const char *field, const char **out)
{
	json_t *v = json_object_get(body, field);

	*out = NULL;
	if (!v)
		return 0;
	if (json_is_null(v) && strcmp(field, "url")) {
		*out = "";
		return 0;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return resp_error(rp, 400, "bad_request", "%s: a string", field);
	*out = json_string_value(v);
	return 0;
}

/*
 * The change @body asks for into @c (its strings borrowed from @body;
 * *headers, the headers' text, the caller frees): 0 or the 400 answered.
 */
static int api_webhooks_change(json_t *body, struct resp *rp, struct webhooks_change *c,
			       char **headers)
{
	char err[API_WEBHOOKS_ERR_MAX];
	const char *format;
	unsigned mask;
	json_t *v;

	*c = WEBHOOKS_CHANGE_NONE;
	*headers = NULL;
	if (api_common_fields(body, rp, "a webhook", api_webhooks_known,
			      PRP_ARRAY_SIZE(api_webhooks_known)) ||
	    api_webhooks_text(body, rp, "url", &c->url) ||
	    api_webhooks_text(body, rp, "secret", &c->secret) ||
	    api_webhooks_text(body, rp, "routing_key", &c->routing_key) ||
	    api_webhooks_text(body, rp, "format", &format))
		return -EINVAL;
	if (c->url && webhooks_check_url(c->url, err, sizeof(err)))
		return resp_error(rp, 400, "bad_request", "%s", err);
	if (c->secret && strlen(c->secret) > STORE_WEBHOOK_SECRET_MAX)
		return resp_error(rp, 400, "bad_request", "secret: at most %d characters",
				  STORE_WEBHOOK_SECRET_MAX);
	if (c->routing_key && strlen(c->routing_key) > STORE_WEBHOOK_ROUTING_KEY_MAX)
		return resp_error(rp, 400, "bad_request", "routing_key: at most %d characters",
				  STORE_WEBHOOK_ROUTING_KEY_MAX);
	if (format && (c->format = webhooks_format_find(format)) < 0)
		return resp_error(rp, 400, "bad_request", "format: one of json, slack, pagerduty");
	if ((v = json_object_get(body, "events"))) {
		if (webhooks_check_events(v, &mask, err, sizeof(err)))
			return resp_error(rp, 400, "bad_request", "%s", err);
		c->events = mask;
	}
	if ((v = json_object_get(body, "enabled"))) {
		if (!json_is_boolean(v))
			return resp_error(rp, 400, "bad_request", "enabled: true or false");
		c->enabled = json_is_true(v);
	}
	if ((v = json_object_get(body, "headers")) && !json_is_null(v)) {
		if (webhooks_check_headers(v, err, sizeof(err)))
			return resp_error(rp, 400, "bad_request", "%s", err);
		*headers = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		if (!*headers)
			return resp_error(rp, 500, "internal", "cannot encode the headers");
		c->headers = *headers;
	} else if (v) {
		c->headers = "{}";
	}
	return 0;
}

/*
 * Audits @action on hook @id with @detail (taken): never a secret, a
 * routing key or a header's value (an Authorization header is a secret
 * too), only the headers' names.
 */
static void api_webhooks_audit(struct req *rq, const char *action, int64_t id, json_t *detail)
{
	json_t *headers = json_object_get(detail, "headers"), *names;
	const char *name;
	char subject[40];
	json_t *v;

	json_object_del(detail, "secret");
	json_object_del(detail, "routing_key");
	if (json_is_object(headers)) {
		names = json_array();
		json_object_foreach(headers, name, v)
			json_array_append_new(names, json_string(name));
		json_object_set_new(detail, "headers", names);
	}
	snprintf(subject, sizeof(subject), "webhook:%lld", (long long)id);
	if (rq->env->audit)
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), action, subject,
				detail);
	else
		json_decref(detail);
}

/* The answer to webhooks_create()/webhooks_update()'s failure @err. */
static int api_webhooks_failed(struct resp *rp, int err, int64_t id, const char *msg)
{
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no webhook with id %lld", (long long)id);
	if (err == -EINVAL)
		return resp_error(rp, 400, "bad_request", "%s", msg);
	return resp_error(rp, 500, "internal", "the webhook could not be stored");
}

int api_webhooks_create(struct req *rq, struct resp *rp)
{
	struct webhooks *wh = api_webhooks_running(rq, rp);
	char err[API_WEBHOOKS_ERR_MAX] = "";
	struct webhooks_change c;
	struct store_webhook h;
	char *headers = NULL;
	json_t *body, *doc;
	int ret;

	if (!wh || api_common_body(rq, rp, false, &body))
		return -EINVAL;
	ret = api_webhooks_change(body, rp, &c, &headers);
	if (!ret && !c.url)
		ret = resp_error(rp, 400, "bad_request", "url: required");
	if (!ret) {
		ret = webhooks_create(wh, rq->tenant, &c, rq->now_ms, &h, err, sizeof(err));
		if (ret)
			ret = api_webhooks_failed(rp, ret, 0, err);
	}
	free(headers);
	json_decref(body);
	if (ret)
		return ret;
	doc = api_webhooks_item(&h);
	api_webhooks_audit(rq, "webhook.created", h.id, json_deep_copy(doc));
	store_webhook_release(&h);
	return resp_json(rp, 201, doc);
}

int api_webhooks_list(struct req *rq, struct resp *rp)
{
	struct store *st;
	struct store_webhook *v;
	json_t *list;
	size_t n;

	if (!api_webhooks_running(rq, rp) || !(st = api_common_store(rq, rp)))
		return -EIO;
	if (store_webhooks_list(st, rq->tenant, false, &v, &n))
		return resp_error(rp, 500, "internal", "cannot read the webhooks");
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_webhooks_item(&v[i]));
	store_webhooks_free(v, n);
	return resp_json(rp, 200,
			 json_pack("{s:o, s:I}", "webhooks", list, "count", (json_int_t)n));
}

/* Hook {id} of the caller's tenant into @h (release it): 0 or the error answered. */
static int api_webhooks_find(struct req *rq, struct resp *rp, struct store_webhook *h)
{
	struct store *st;
	int64_t id;
	int err;

	memset(h, 0, sizeof(*h));
	if (!api_webhooks_running(rq, rp) || api_common_id(rq, rp, "webhook", &id) ||
	    !(st = api_common_store(rq, rp)))
		return -EINVAL;
	err = store_webhook_get(st, rq->tenant, id, h);
	if (err == -ENOENT)
		return resp_error(rp, 404, "not_found", "no webhook with id %lld", (long long)id);
	if (err)
		return resp_error(rp, 500, "internal", "cannot read the webhook");
	return 0;
}

int api_webhooks_get(struct req *rq, struct resp *rp)
{
	struct store_webhook h;
	json_t *doc;

	if (api_webhooks_find(rq, rp, &h))
		return -EINVAL;
	doc = api_webhooks_item(&h);
	store_webhook_release(&h);
	return resp_json(rp, 200, doc);
}

int api_webhooks_update(struct req *rq, struct resp *rp)
{
	struct webhooks *wh = api_webhooks_running(rq, rp);
	char err[API_WEBHOOKS_ERR_MAX] = "";
	struct webhooks_change c;
	struct store_webhook h;
	char *headers = NULL;
	json_t *body, *doc;
	int64_t id;
	int ret;

	if (!wh || api_common_id(rq, rp, "webhook", &id) || api_common_body(rq, rp, false, &body))
		return -EINVAL;
	ret = api_webhooks_change(body, rp, &c, &headers);
	if (!ret) {
		ret = webhooks_update(wh, rq->tenant, id, &c, rq->now_ms, &h, err, sizeof(err));
		if (ret)
			ret = api_webhooks_failed(rp, ret, id, err);
	}
	free(headers);
	if (ret) {
		json_decref(body);
		return ret;
	}
	doc = api_webhooks_item(&h);
	api_webhooks_audit(rq, "webhook.updated", id, body); /* what was asked for */
	store_webhook_release(&h);
	return resp_json(rp, 200, doc);
}

int api_webhooks_delete(struct req *rq, struct resp *rp)
{
	struct webhooks *wh = api_webhooks_running(rq, rp);
	int64_t id;
	int ret;

	if (!wh || api_common_id(rq, rp, "webhook", &id))
		return -EINVAL;
	ret = webhooks_delete(wh, rq->tenant, id, rq->now_ms);
	if (ret == -ENOENT)
		return resp_error(rp, 404, "not_found", "no webhook with id %lld", (long long)id);
	if (ret)
		return resp_error(rp, 500, "internal", "cannot delete the webhook");
	api_webhooks_audit(rq, "webhook.deleted", id, NULL);
	return resp_json(rp, 200,
			 json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "deleted"));
}

int api_webhooks_test(struct req *rq, struct resp *rp)
{
	struct webhooks *wh = api_webhooks_running(rq, rp);
	int64_t id, delivery = 0;
	json_t *data;
	int ret;

	if (!wh || api_common_id(rq, rp, "webhook", &id))
		return -EINVAL;
	data = json_pack("{s:I, s:s, s:s}", "webhook_id", (json_int_t)id, "message",
			 "a test delivery from prp", "tenant", rq->tenant);
	ret = webhooks_enqueue(wh, rq->tenant, id, BUS_WEBHOOK_TEST, "", STORE_SEVERITY_INFO, data,
			       rq->now_ms, &delivery);
	json_decref(data);
	if (ret == -ENOENT)
		return resp_error(rp, 404, "not_found", "no webhook with id %lld", (long long)id);
	if (ret == -EPERM)
		return resp_error(rp, 409, "conflict",
				  "webhook %lld is disabled; enable it to send it a test",
				  (long long)id);
	if (ret)
		return resp_error(rp, 500, "internal", "cannot queue the test delivery");
	return resp_json(rp, 202,
			 json_pack("{s:I, s:I, s:s, s:s}", "delivery_id", (json_int_t)delivery,
				   "webhook_id", (json_int_t)id, "event", "webhook.test", "status",
				   "pending"));
}

static json_t *api_webhooks_delivery(const struct store_webhook_delivery *d)
{
	const char *status = store_delivery_status_name(d->status);
	bool pending = d->status == STORE_DELIVERY_PENDING;

	return json_pack("{s:I, s:I, s:s, s:I, s:o, s:b, s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)d->id, "webhook_id", (json_int_t)d->webhook_id, "event",
			 bus_type_name((enum bus_type)d->type), "event_id", (json_int_t)d->event_id,
			 "status_code",
			 d->last_status_code ? json_integer(d->last_status_code) : json_null(),
			 "success", d->status == STORE_DELIVERY_SUCCEEDED, "status",
			 status ? status : "unknown", "attempts", (json_int_t)d->attempts,
			 "timestamp", resp_time(d->created_ms), "completed_at",
			 api_webhooks_time(d->completed_ms), "next_attempt_at",
			 pending ? api_webhooks_time(d->next_attempt_ms) : json_null(),
			 "last_error", d->last_error ? json_string(d->last_error) : json_null(),
			 "created_at", resp_time(d->created_ms));
}

/* Answers a page of the deliveries of @f (its tenant set here). */
static int api_webhooks_page(struct req *rq, struct resp *rp, struct store *st,
			     struct store_delivery_filter *f)
{
	struct store_webhook_delivery *v;
	const char *status;
	bool more = false;
	struct query q;
	json_t *list, *doc;
	size_t n;

	if (api_common_query(rq, rp, &q, QUERY_LIMIT | QUERY_CURSOR, QUERY_RANGE_MAX_MS) ||
	    api_common_before_id(&q, rp, &f->before_id) ||
	    api_common_param(rq, rp, "status", &status))
		return -EINVAL;
	f->status = -1;
	if (status && (f->status = store_delivery_status_find(status)) < 0)
		return resp_error(rp, 400, "bad_request", "status: pending, succeeded or failed");
	f->tenant = rq->tenant;
	f->limit = q.limit;
	if (store_webhook_deliveries_list(st, f, &v, &n, &more))
		return resp_error(rp, 500, "internal", "cannot read the deliveries");
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_webhooks_delivery(&v[i]));
	doc = api_common_page("deliveries", list, more, n ? v[n - 1].id : 0);
	store_webhook_deliveries_free(v, n);
	return resp_json(rp, 200, doc);
}

int api_webhooks_history(struct req *rq, struct resp *rp)
{
	struct store_delivery_filter f = { .status = -1 };
	struct store *st;

	if (!api_webhooks_running(rq, rp) || !(st = api_common_store(rq, rp)))
		return -EIO;
	return api_webhooks_page(rq, rp, st, &f);
}

int api_webhooks_deliveries(struct req *rq, struct resp *rp)
{
	struct store_delivery_filter f = { .status = -1 };
	struct store_webhook h;

	if (api_webhooks_find(rq, rp, &h))
		return -EINVAL;
	f.webhook_id = h.id;
	store_webhook_release(&h);
	return api_webhooks_page(rq, rp, req_store(rq), &f);
}

/*
 * The service and severity of a trigger: given beside the data, or in it
 * (a data severity that is not one is left as data). 0 or the 400 answered.
 */
static int api_webhooks_trigger_about(json_t *body, json_t *data, struct resp *rp,
				      const char **service, enum store_severity *sev)
{
	json_t *s = json_object_get(body, "service"), *v = json_object_get(body, "severity");
	json_t *ds = json_object_get(data, "service"), *dv = json_object_get(data, "severity");

	if (!s && json_is_string(ds) && json_string_length(ds) < SERVICE_NAME_MAX)
		s = ds;
	if (s && (!json_is_string(s) || json_string_length(s) >= SERVICE_NAME_MAX ||
		  strlen(json_string_value(s)) != json_string_length(s)))
		return resp_error(rp, 400, "bad_request", "service: a service name");
	*service = s ? json_string_value(s) : "";
	if (v && (!json_is_string(v) || api_anomalies_severity_parse(json_string_value(v), sev)))
		return resp_error(rp, 400, "bad_request",
				  "severity: info, warning or critical (low, medium, high)");
	if (!v && json_is_string(dv))
		(void)api_anomalies_severity_parse(json_string_value(dv), sev); /* else info */
	return 0;
}

int api_webhooks_trigger(struct req *rq, struct resp *rp)
{
	static const char *const trigger_known[] = { "event", "data", "service", "severity" };
	enum store_severity sev = STORE_SEVERITY_INFO;
	json_t *body, *ev, *data;
	const char *service = "";
	int64_t id;
	int type;

	if (!rq->env || !rq->env->bus)
		return resp_error(rp, 503, "unavailable", "the event bus is not running");
	if (api_common_body(rq, rp, false, &body))
		return -EINVAL;
	if (api_common_fields(body, rp, "a trigger", trigger_known, PRP_ARRAY_SIZE(trigger_known))) {
		json_decref(body);
		return -EINVAL;
	}
	ev = json_object_get(body, "event");
	data = json_object_get(body, "data");
	type = bus_type_find(json_string_value(ev));
	if (!ev || type < 0 || (data && !json_is_object(data)) ||
	    api_webhooks_trigger_about(body, data, rp, &service, &sev)) {
		if (!rp->status && !ev)
			resp_error(rp, 400, "bad_request", "event: required (an event type)");
		else if (!rp->status && type < 0)
			resp_error(rp, 400, "bad_request", "event: '%.64s' is not an event type",
				   json_is_string(ev) ? json_string_value(ev) : "(not a string)");
		else if (!rp->status)
			resp_error(rp, 400, "bad_request", "data: an object");
		json_decref(body);
		return -EINVAL;
	}
	id = bus_publish(rq->env->bus, rq->tenant, (enum bus_type)type, service, sev,
			 data ? json_incref(data) : json_object());
	json_decref(body);
	if (id < 0)
		return resp_error(rp, 500, "internal", "the event could not be stored");
	if (rq->env->audit) {
		char subject[40];

		snprintf(subject, sizeof(subject), "event:%lld", (long long)id);
		audit_log_write(rq->env->audit, rq->tenant, api_common_actor(rq), "trigger",
				subject, json_pack("{s:s}", "event", bus_type_name(type)));
	}
	return resp_json(rp, 202,
			 json_pack("{s:I, s:s, s:s}", "event_id", (json_int_t)id, "event",
				   bus_type_name(type), "status", "accepted"));
}
