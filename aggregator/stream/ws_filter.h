/*
 * A WebSocket subscriber's filter, owned: the strings of a struct
 * bus_filter copied into the struct itself, and the JSON form of the
 * client's {"action": "subscribe", "filters": {...}} (ws_hub.h) both ways.
 * A struct ws_filter points into itself: never copy one with '='.
 */
#ifndef PRP_AGGREGATOR_STREAM_WS_FILTER_H
#define PRP_AGGREGATOR_STREAM_WS_FILTER_H

#include <jansson.h>
#include <stddef.h>

#include "aggregator/events/bus.h"
#include "common/compiler.h"

#define WS_FILTER_SERVICES_MAX 32

struct ws_filter {
	struct bus_filter f; /* what bus_read() takes; its strings are the members below */
	char tenant[FRAME_ID_MAX];
	char services[WS_FILTER_SERVICES_MAX][SERVICE_NAME_MAX];
	const char *service_ptrs[WS_FILTER_SERVICES_MAX];
};

/* Sets @w to a copy of @f (strings too; services past WS_FILTER_SERVICES_MAX dropped). */
void ws_filter_set(struct ws_filter *w, const struct bus_filter *f);

/*
 * Sets @w, for @tenant, from the "filters" member of a subscribe message
 * (borrowed; NULL or null: everything): an object with any of "services"
 * (an array of names, or one comma list), "severity" (the least: info,
 * warning, critical, or low, medium, high) and "events" (an array of event
 * types, or one comma list); a null or empty member means any. Returns 0,
 * or -EINVAL with @err saying what is wrong (@w then unchanged).
 */
PRP_MUST_CHECK int ws_filter_parse(struct ws_filter *w, const char *tenant, json_t *filters,
				   char *err, size_t errlen);

/* {"services": [...] | null, "severity": "...", "events": [...] | null}: a new reference. */
json_t *ws_filter_json(const struct ws_filter *w);

#endif
