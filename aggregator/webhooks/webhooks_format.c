/*
 * Webhook bodies (webhooks_format.h). The summary reads the fields the
 * publishers put in each type's data (aggregator/detect/detection.c,
 * aggregator/policy/executor_events.c, engine_policies.c); a field that is
 * missing is left out of the line rather than failing the delivery, so an
 * event of POST /trigger with any data still gets a summary.
 */
#include "aggregator/webhooks/webhooks_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/compiler.h"
#include "common/timeutil.h"

/* PagerDuty keeps dedup keys of at most 255 characters. */
#define WEBHOOKS_DEDUP_MAX 255

static const char *const format_names[STORE_WEBHOOK_FORMAT_COUNT] = {
	[STORE_WEBHOOK_JSON] = "json",
	[STORE_WEBHOOK_SLACK] = "slack",
	[STORE_WEBHOOK_PAGERDUTY] = "pagerduty",
};

const char *webhooks_format_name(int format)
{
	return format >= 0 && format < STORE_WEBHOOK_FORMAT_COUNT ? format_names[format] : NULL;
}

int webhooks_format_find(const char *name)
{
	for (int i = 0; name && i < STORE_WEBHOOK_FORMAT_COUNT; i++)
		if (!strcmp(name, format_names[i]))
			return i;
	return -1;
}

static const char *severity_name(enum store_severity s)
{
	return s == STORE_SEVERITY_CRITICAL  ? "critical"
	       : s == STORE_SEVERITY_WARNING ? "warning"
					     : "info";
}

char *webhooks_format_event_json(enum bus_type type, int64_t at_ms, json_t *data)
{
	char iso[TIME_ISO_LEN];
	json_t *doc;
	char *text;

	time_format_iso((uint64_t)at_ms * NSEC_PER_MSEC, iso);
	/* the bus's own encoding (bus.c event_json()), so a test looks like the real thing */
	doc = data ? json_pack("{s:s, s:s, s:O}", "event", bus_type_name(type), "timestamp", iso,
			       "data", data)
		   : json_pack("{s:s, s:s, s:{}}", "event", bus_type_name(type), "timestamp", iso,
			       "data");
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(doc);
	return text;
}

/* A line being written, cut at WEBHOOKS_SUMMARY_MAX. */
struct line {
	char text[WEBHOOKS_SUMMARY_MAX + 1];
	size_t len;
};

static void line_add(struct line *l, const char *fmt, ...) PRP_PRINTF(2, 3);
static void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = l->len + (size_t)n < sizeof(l->text) ? l->len + (size_t)n
							      : sizeof(l->text) - 1;
}

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* " = 350" and such: " @prefix<number>" when @key is a number, else nothing. */
static void add_number(struct line *l, const json_t *o, const char *key, const char *prefix)
{
	json_t *v = json_object_get(o, key);

	if (json_is_number(v))
		line_add(l, "%s%.6g", prefix, json_number_value(v));
}

static void summary_anomaly(struct line *l, const json_t *d)
{
	const char *metric = str_of(d, "metric");

	if (metric)
		line_add(l, " %s", metric);
	add_number(l, d, "current_value", " = ");
	add_number(l, json_object_get(d, "expected_range"), "mean", " (expected ");
	if (json_is_number(json_object_get(json_object_get(d, "expected_range"), "mean")))
		line_add(l, ")");
}

static void summary_action(struct line *l, const json_t *d)
{
	const char *action = str_of(d, "action"), *status = str_of(d, "status");
	const char *policy = str_of(d, "policy_name"), *reason = str_of(d, "reason");

	if (action)
		line_add(l, " %s", action);
	if (status)
		line_add(l, " %s", status);
	if (policy && *policy)
		line_add(l, " (policy %s)", policy);
	if (reason && *reason)
		line_add(l, ": %s", reason);
}

static void summary_data(struct line *l, const struct webhooks_event *e, const json_t *d)
{
	const char *s;

	switch (e->type) {
	case BUS_ANOMALY_DETECTED:
	case BUS_ANOMALY_RESOLVED:
		summary_anomaly(l, d);
		break;
	case BUS_INCIDENT_STARTED:
		if ((s = str_of(d, "metric")))
			line_add(l, " incident started on %s", s);
		break;
	case BUS_INCIDENT_RESOLVED:
		line_add(l, " incident resolved");
		add_number(l, d, "duration_s", " after ");
		if (json_is_number(json_object_get(d, "duration_s")))
			line_add(l, " s");
		break;
	case BUS_PREDICTION_BREACH:
		if ((s = str_of(d, "metric")))
			line_add(l, " %s", s);
		add_number(l, d, "current", " = ");
		add_number(l, d, "threshold", ", predicted to cross ");
		add_number(l, d, "breach_in_s", " in ");
		if (json_is_number(json_object_get(d, "breach_in_s")))
			line_add(l, " s");
		break;
	case BUS_ACTION_EXECUTED:
	case BUS_ACTION_FAILED:
		summary_action(l, d);
		break;
	case BUS_POLICY_CHANGED:
		if ((s = str_of(d, "name")))
			line_add(l, " policy %s", s);
		if ((s = str_of(d, "change")))
			line_add(l, " %s", s);
		break;
	default:
		break;
	}
	if ((s = str_of(d, "message")))
		line_add(l, "%s%s", l->text[l->len - 1] == ':' ? " " : ": ", s);
}

char *webhooks_format_summary(const struct webhooks_event *e, const json_t *data)
{
	struct line l = { .len = 0 };
	const char *service = e->service && *e->service ? e->service : str_of(data, "service");

	l.text[0] = '\0';
	line_add(&l, "[%s] %s:", severity_name(e->severity), bus_type_name(e->type));
	if (service && *service)
		line_add(&l, " %s", service);
	if (json_is_object(data))
		summary_data(&l, e, data);
	return xstrdup(l.text);
}

/* Who PagerDuty groups the triggers and the resolve of one problem under. */
static void dedup_key(const struct webhooks_event *e, const json_t *data, const char *ts, char *out,
		      size_t cap)
{
	const char *metric = str_of(data, "metric"), *service = e->service ? e->service : "";
	json_t *action_id = json_object_get(data, "action_id");

	switch (e->type) {
	case BUS_ANOMALY_DETECTED:
	case BUS_ANOMALY_RESOLVED:
		snprintf(out, cap, "prp/%s/%s/%s", e->tenant, service, metric ? metric : "");
		break;
	case BUS_INCIDENT_STARTED:
	case BUS_INCIDENT_RESOLVED:
		snprintf(out, cap, "prp/%s/%s/incident", e->tenant, service);
		break;
	case BUS_PREDICTION_BREACH:
		snprintf(out, cap, "prp/%s/%s/%s/prediction", e->tenant, service,
			 metric ? metric : "");
		break;
	case BUS_ACTION_EXECUTED:
	case BUS_ACTION_FAILED:
		if (json_is_integer(action_id)) {
			snprintf(out, cap, "prp/%s/action/%lld", e->tenant,
				 (long long)json_integer_value(action_id));
			break;
		}
		/* fall through */
	default: /* one event each: by its bus id, or (a test has none) its time */
		if (e->id)
			snprintf(out, cap, "prp/%s/%s/%lld", e->tenant, bus_type_name(e->type),
				 (long long)e->id);
		else
			snprintf(out, cap, "prp/%s/%s/%s", e->tenant, bus_type_name(e->type),
				 ts ? ts : "");
		break;
	}
}

static json_t *pagerduty(const char *routing_key, const struct webhooks_event *e,
			 const json_t *event)
{
	json_t *data = json_object_get(event, "data"), *payload;
	const char *ts = str_of(event, "timestamp"), *metric = str_of(data, "metric");
	bool resolve = e->type == BUS_ANOMALY_RESOLVED || e->type == BUS_INCIDENT_RESOLVED;
	char key[WEBHOOKS_DEDUP_MAX + 1];
	char *summary = webhooks_format_summary(e, data);

	dedup_key(e, data, ts, key, sizeof(key));
	payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "summary", summary, "source",
			    e->service && *e->service ? e->service : "prp", "severity",
			    severity_name(e->severity), "timestamp", ts ? ts : "", "group",
			    e->tenant, "class", bus_type_name(e->type), "custom_details",
			    json_is_object(data) ? json_incref(data) : json_object());
	free(summary);
	if (payload && metric)
		json_object_set_new(payload, "component", json_string(metric));
	if (!payload)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:o, s:s}", "routing_key", routing_key ? routing_key : "",
			 "event_action", resolve ? "resolve" : "trigger", "dedup_key", key,
			 "payload", payload, "client", "prp");
}

char *webhooks_format_body(int format, const char *routing_key, const struct webhooks_event *e,
			   size_t *len)
{
	json_t *event, *doc = NULL;
	char *body = NULL, *summary;

	*len = 0;
	if (format == STORE_WEBHOOK_JSON) {
		if (!e->json || e->json_len > STORE_WEBHOOK_BODY_MAX)
			return NULL;
		*len = e->json_len;
		return xstrndup(e->json, e->json_len);
	}
	event = e->json ? json_loadb(e->json, e->json_len, 0, NULL) : NULL;
	if (!json_is_object(event)) {
		json_decref(event);
		return NULL;
	}
	if (format == STORE_WEBHOOK_SLACK) {
		summary = webhooks_format_summary(e, json_object_get(event, "data"));
		doc = json_pack("{s:s}", "text", summary);
		free(summary);
	} else if (format == STORE_WEBHOOK_PAGERDUTY) {
		doc = pagerduty(routing_key, e, event);
	}
	json_decref(event);
	if (doc)
		body = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(doc);
	if (body && strlen(body) > STORE_WEBHOOK_BODY_MAX) {
		free(body);
		body = NULL;
	}
	*len = body ? strlen(body) : 0;
	return body;
}
