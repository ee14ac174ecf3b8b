/*
 * The stream routes (api_stream.h). A subscriber is set up here, checked
 * whole before the answer starts: a bad filter is a 400, not a stream that
 * says nothing. A WebSocket subscriber's `connected` message is built here
 * too, on the worker, which has a store; the hub thread never reads one
 * but through the bus.
 */
#include "aggregator/http/api_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "aggregator/events/bus.h"
#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_env.h"
#include "aggregator/stream/sse.h"
#include "aggregator/stream/ws_frame.h"
#include "aggregator/stream/ws_hub.h"
#include "aggregator/store/store.h"
#include "common/strparse.h"

/* The one WebSocket path, as /stream/status shows it. */
#define API_STREAM_WS_URL "/stream/anomalies"

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
	/* past the newest (a store restored from an older backup): from now on */
	if (*after > bus_last_id(bus))
		*after = bus_last_id(bus);
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
	return resp_stream(rp, "text/event-stream", &sse_stream_ops, sse_new(bus, &f, after, rq->env->keys, rq->key_id));
}

/* True when the comma list @v has @token (case aside, blanks around items ignored). */
static bool api_stream_has_token(const char *v, const char *token)
{
	size_t tlen = strlen(token);

	while (v && *v) {
		size_t len;

		v += strspn(v, " \t,");
		len = strcspn(v, ",");
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == tlen && !strncasecmp(v, token, tlen))
			return true;
		v += strcspn(v, ",");
	}
	return false;
}

/* The Sec-WebSocket-Accept for the request's key into @accept: 0, or the 400 answered. */
static int api_stream_accept(struct req *rq, struct resp *rp, char accept[WS_ACCEPT_LEN + 1])
{
	const char *k = rq->ws_key ? rq->ws_key + strspn(rq->ws_key, " \t") : "";
	size_t len = strlen(k);
	char key[WS_ACCEPT_LEN + 1];

	while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
		len--;
	if (len < sizeof(key)) {
		memcpy(key, k, len);
		key[len] = '\0';
	}
	if (len >= sizeof(key) || ws_accept_key(key, accept))
		return resp_error(rp, 400, "bad_request",
				  "Sec-WebSocket-Key: 16 random bytes in base64 (24 characters)");
	return 0;
}

/*
 * The `connected` message: the tenant's open anomalies now, as GET
 * /anomalies lists them. Caller owns *out (free()); 0 or the error answered.
 */
static int api_stream_connected(struct req *rq, struct resp *rp, int64_t after, char **out)
{
	struct store_anomaly_filter af = { .tenant = rq->tenant,
					   .status = 1,
					   .limit = QUERY_LIMIT_MAX };
	struct store *st = api_common_store(rq, rp);
	struct store_anomaly *v = NULL;
	json_t *list, *doc;
	size_t n = 0;

	if (!st)
		return -EIO;
	if (store_anomalies_list(st, &af, &v, &n, NULL))
		return resp_error(rp, 500, "internal", "cannot read the anomalies");
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, api_anomalies_item(&v[i]));
	store_anomalies_free(v, n);
	doc = json_pack("{s:s, s:o, s:o, s:I, s:I}", "event", "connected", "anomalies", list,
			"timestamp", resp_time(rq->now_ms), "last_event_id", (json_int_t)after,
			"count", (json_int_t)n);
	*out = doc ? json_dumps(doc, RESP_JSON_FLAGS) : NULL;
	json_decref(doc);
	if (!*out)
		return resp_error(rp, 500, "internal", "cannot encode the anomalies");
	return 0;
}

int api_stream_anomalies(struct req *rq, struct resp *rp)
{
	char names[SSE_SERVICES_MAX][SERVICE_NAME_MAX];
	const char *ptrs[SSE_SERVICES_MAX];
	struct bus *bus = rq->env ? rq->env->bus : NULL;
	struct ws_hub *hub = rq->env ? rq->env->ws_hub : NULL;
	char accept[WS_ACCEPT_LEN + 1];
	struct bus_filter f;
	int64_t after;
	char *greeting;

	/* RFC 6455 §4.2.2: a request that is no WebSocket handshake (HEAD neither), or of
	 * another version */
	if (strcmp(rq->method, "GET") || !rq->upgrade || strcasecmp(rq->upgrade, "websocket") ||
	    !api_stream_has_token(rq->connection, "upgrade") || !rq->ws_version ||
	    strcmp(rq->ws_version, "13"))
		return resp_error(rp, 426, "upgrade_required",
				  "a WebSocket handshake (RFC 6455) is required: Upgrade: "
				  "websocket, Connection: Upgrade, Sec-WebSocket-Version: 13");
	if (api_stream_accept(rq, rp, accept))
		return -EINVAL;
	if (!bus || !hub)
		return resp_error(rp, 503, "unavailable", "the event bus is not running");
	if (api_stream_filter(rq, rp, &f, names, ptrs) || api_stream_after(rq, rp, bus, &after) ||
	    api_stream_connected(rq, rp, after, &greeting))
		return -EINVAL;
	return resp_upgrade(rp, accept, &ws_hub_upgrade_ops,
			    ws_hub_client_new(hub, &f, after, greeting, strlen(greeting),
					      rq->env->keys, rq->key_id));
}

int api_stream_status(struct req *rq, struct resp *rp)
{
	json_t *events = json_array();
	size_t sse = sse_active();
	size_t ws = ws_hub_clients(rq->env ? rq->env->ws_hub : NULL);
	int64_t last = rq->env && rq->env->bus ? bus_last_id(rq->env->bus) : 0;

	for (int t = 0; t < BUS_TYPE_COUNT; t++)
		json_array_append_new(events, json_string(bus_type_name((enum bus_type)t)));
	return resp_json(rp, 200,
			 json_pack("{s:I, s:I, s:I, s:s, s:s, s:o, s:I}", "active_connections",
				   (json_int_t)(sse + ws), "sse_connections", (json_int_t)sse,
				   "ws_connections", (json_int_t)ws, "websocket_url",
				   API_STREAM_WS_URL, "sse_url", "/stream/events",
				   "supported_events", events, "last_event_id", (json_int_t)last));
}
