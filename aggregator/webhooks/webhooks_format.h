/*
 * The bodies a webhook sends, per its format (docs/webhooks.md):
 *
 *   json       the event as the bus has it, byte for byte: {"event",
 *              "timestamp", "data"} (what SSE and WebSocket subscribers get)
 *   slack      {"text": one line}, what a Slack incoming webhook takes:
 *              "[critical] anomaly.detected: payments latency_p99 = 350 (expected 120)"
 *   pagerduty  an Events API v2 event: {routing_key, event_action (trigger,
 *              or resolve for the *.resolved events), dedup_key (the same
 *              for an anomaly's trigger and its resolve), payload: {summary,
 *              source, severity, timestamp, component, group, class,
 *              custom_details: the event's data}}
 *
 * A body is built once, when the delivery is queued, and kept: every
 * attempt sends (and signs) the same bytes. Pure functions; any thread.
 */
#ifndef PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_FORMAT_H
#define PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/store/store.h"

/* The longest summary (PagerDuty's limit); longer ones are cut. */
#define WEBHOOKS_SUMMARY_MAX 1024

/* "json", "slack", "pagerduty"; NULL for an unknown value. */
const char *webhooks_format_name(int format);
/* The format called @name (enum store_webhook_format), or -1. */
int webhooks_format_find(const char *name);

/* An event as a body is made of it: a bus event, or a test. Borrowed fields. */
struct webhooks_event {
	int64_t id; /* the bus id; 0 for a test */
	enum bus_type type;
	enum store_severity severity;
	const char *tenant;
	const char *service; /* "" for none */
	const char *json;    /* {"event", "timestamp", "data"}, as bus_event.json */
	size_t json_len;
};

/*
 * The event as the bus writes it (compact): {"event", "timestamp" (of
 * @at_ms), "data" (@data, borrowed; NULL: {})}. Caller frees; NULL when it
 * cannot be encoded.
 */
char *webhooks_format_event_json(enum bus_type type, int64_t at_ms, json_t *data);

/*
 * The one-line summary of @e, whose data is @data (borrowed; may be NULL),
 * at most WEBHOOKS_SUMMARY_MAX bytes. Caller frees.
 */
char *webhooks_format_summary(const struct webhooks_event *e, const json_t *data);

/*
 * The body of @e for a hook of @format (@routing_key for PagerDuty; may be
 * NULL otherwise): caller frees, *len its length. NULL when @e's JSON is
 * not an event object, or the body would pass STORE_WEBHOOK_BODY_MAX.
 */
char *webhooks_format_body(int format, const char *routing_key, const struct webhooks_event *e,
			   size_t *len);

#endif
