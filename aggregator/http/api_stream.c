/*
 * The stream routes (api_stream.h). A subscriber is set up here, checked
 * whole before the answer starts: a bad filter is a 400, not a stream that
 * says nothing.
 */
#include "aggregator/http/api_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/stream/sse.h"
#include "common/strparse.h"

/* Splits the comma list @v into @out (at most @max items of @cap bytes): the count, or -1. */
static int api_stream_list(const char *v, char (*out)[SERVICE_NAME_MAX], size_t max)
{
	size_t n = 0;

	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ",");

		if (!len || len >= SERVICE_NAME_MAX || n == max)
			return -1;
		memcpy(out[n], p, len);
		out[n++][len] = '\0';
		p += len;
		if (*p == ',' && !*++p)
			return -1; /* a trailing comma */
	}
	return (int)n;
}

/* The filter of the query into @f (strings in @names): 0 or the 400 answered. */
static int api_stream_filter(struct req *rq, struct resp *rp, struct bus_filter *f,
			     char (*names)[SERVICE_NAME_MAX], const char **ptrs)
{
	const char *services, *severity, *events;
	char types[BUS_TYPE_COUNT][SERVICE_NAME_MAX];
	int n;

	if (api_common_param(rq, rp, "services", &services) ||
	    api_common_param(rq, rp, "severity", &severity) ||
	    api_common_param(rq, rp, "events", &events))
		return -EINVAL;
	if (!services && api_common_param(rq, rp, "service", &services))
		return -EINVAL;
	*f = (struct bus_filter){ .tenant = rq->tenant };
	if (services) {
		n = api_stream_list(services, names, SSE_SERVICES_MAX);
		if (n < 0)
			return resp_error(rp, 400, "bad_request",
					  "services: a comma list of at most %d service names",
					  SSE_SERVICES_MAX);
		for (int i = 0; i < n; i++)
			ptrs[i] = names[i];
		f->services = ptrs;
		f->nservices = (size_t)n;
	}
	if (severity && api_anomalies_severity_parse(severity, &f->min_severity))
		return resp_error(rp, 400, "bad_request",
				  "severity: info, warning or critical (or low, medium, high)");
	if (events) {
		n = api_stream_list(events, types, BUS_TYPE_COUNT);
		for (int i = 0; i < n; i++) {
			int t = bus_type_find(types[i]);

			if (t < 0)
				return resp_error(rp, 400, "bad_request",
						  "events: '%.40s' is not an event type", types[i]);
			f->types |= 1u << t;
		}
		if (n < 0)
			return resp_error(rp, 400, "bad_request", "events: a comma list of event types");
	}
	return 0;
}

/* The id to resume after: Last-Event-ID, else since_id, else now. 0 or the 400 answered. */
static int api_stream_after(struct req *rq, struct resp *rp, struct bus *bus, int64_t *after)
{
	const char *since;
	const char *v;

	if (api_common_param(rq, rp, "since_id", &since))
		return -EINVAL;
	v = rq->last_event_id && *rq->last_event_id ? rq->last_event_id : since;
	if (!v) {
		*after = bus_last_id(bus);
		return 0;
	}
	if (strparse_i64(v, 0, INT64_MAX, after))
		return resp_error(rp, 400, "bad_request",
				  "%s: an event id (a whole number)",
				  v == since ? "since_id" : "Last-Event-ID");
	return 0;
}

int api_stream_events(struct req *rq, struct resp *rp)
{
	char names[SSE_SERVICES_MAX][SERVICE_NAME_MAX];
	const char *ptrs[SSE_SERVICES_MAX];
	struct bus *bus = rq->env ? rq->env->bus : NULL;
	struct bus_filter f;
	int64_t after;

	if (!bus)
		return resp_error(rp, 503, "unavailable", "the event bus is not running");
	if (api_stream_filter(rq, rp, &f, names, ptrs) || api_stream_after(rq, rp, bus, &after))
		return -EINVAL;
	return resp_stream(rp, "text/event-stream", &sse_stream_ops, sse_new(bus, &f, after));
}

int api_stream_status(struct req *rq, struct resp *rp)
{
	json_t *events = json_array();

	for (int t = 0; t < BUS_TYPE_COUNT; t++)
		json_array_append_new(events, json_string(bus_type_name((enum bus_type)t)));
	return resp_json(rp, 200,
			 json_pack("{s:I, s:I, s:n, s:s, s:o, s:I}", "active_connections",
				   (json_int_t)sse_active(), "sse_connections",
				   (json_int_t)sse_active(), "websocket_url", "sse_url",
				   "/stream/events", "supported_events", events, "last_event_id",
				   (json_int_t)(rq->env && rq->env->bus ? bus_last_id(rq->env->bus)
									: 0)));
}
