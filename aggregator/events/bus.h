/*
 * The event bus (API.md: events): every anomaly, incident, predicted
 * breach, action and policy change, published once by the part that knows
 * of it, stored with an id and a time, and handed to every subscriber (the
 * SSE and WebSocket streams, the webhooks) in id order. A subscriber that
 * comes back with the last id it saw gets what it missed: from memory while
 * the event is among the last BUS_RING_EVENTS, else from the store.
 *
 * Publishing stores the event first (the bus's own writer), so an id a
 * subscriber saw is never lost, then wakes the subscribers; it never waits
 * for one. Thread-safe: any thread publishes, any thread reads.
 */
#ifndef PRP_AGGREGATOR_EVENTS_BUS_H
#define PRP_AGGREGATOR_EVENTS_BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/store/store.h"
#include "common/compiler.h"

/* Events kept in memory for subscribers and quick resumes. */
#define BUS_RING_EVENTS 4096
#define BUS_TYPE_MAX	32

/* The event types of API.md, each a bit for filters. */
enum bus_type {
	BUS_ANOMALY_DETECTED = 0,
	BUS_ANOMALY_RESOLVED,
	BUS_INCIDENT_STARTED,
	BUS_INCIDENT_RESOLVED,
	BUS_PREDICTION_BREACH,
	BUS_ACTION_EXECUTED,
	BUS_ACTION_FAILED,
	BUS_POLICY_CHANGED,
	BUS_WEBHOOK_TEST,
	BUS_TYPE_COUNT
};
#define BUS_ALL_TYPES ((1u << BUS_TYPE_COUNT) - 1)

/* "anomaly.detected", ... */
const char *bus_type_name(enum bus_type t);
/* The type called @name, or -1. */
int bus_type_find(const char *name);

/* One event, shared (reference-counted) between the ring and its readers. Read-only. */
struct bus_event {
	int64_t id; /* > 0, ascending in publish order */
	int64_t at_ms;
	enum bus_type type;
	enum store_severity severity; /* info for events without one */
	char tenant[FRAME_ID_MAX];
	char service[SERVICE_NAME_MAX]; /* "" for none */
	char *json;	 /* as webhooks send it: {"event", "timestamp", "data"} */
	size_t json_len;
	int refs; /* atomic */
};
void bus_event_ref(struct bus_event *e);
void bus_event_unref(struct bus_event *e);

/* What a subscriber wants; every field must match. */
struct bus_filter {
	const char *tenant;		/* required: a subscriber sees its tenant's only */
	unsigned types;			/* bits of enum bus_type; 0: all */
	enum store_severity min_severity;
	const char *const *services;	/* NULL: any; else one of these */
	size_t nservices;
};
bool bus_filter_match(const struct bus_filter *f, const struct bus_event *e);

struct bus;

/* Opens its writer on the store of @so (not read-only) and reads the last id. 0 or -errno. */
PRP_MUST_CHECK int bus_open(struct bus **out, const struct store_options *so);
/* Forgets every watch and frees; every publisher and reader must be done. NULL does nothing. */
void bus_close(struct bus *b);

/*
 * Publishes: stores the event, puts it in the ring, wakes the waiters.
 * @data (taken; may be NULL) is the event's data object. Returns the id
 * (> 0), or -errno when it could not be stored (logged; not published).
 */
int64_t bus_publish(struct bus *b, const char *tenant, enum bus_type type, const char *service,
		    enum store_severity severity, json_t *data);

/*
 * The events after @after_id that match @f, oldest first, at most @max,
 * into @out (references the caller drops with bus_event_unref()); when the
 * ring no longer holds the next one, from the store. *n is how many.
 * *next_after is the id to continue after (past every event looked at,
 * matching or not). 0 or -errno.
 */
int bus_read(struct bus *b, int64_t after_id, const struct bus_filter *f, struct bus_event **out,
	     size_t max, size_t *n, int64_t *next_after);

/* The newest id published (0: none yet). */
int64_t bus_last_id(struct bus *b);

/*
 * A subscriber's wake-up: @fn(@arg) is called (on the publishing thread,
 * with no lock held, so it must only signal: resume a connection, write
 * an eventfd) after each publish, until bus_unwatch(). Returns a handle.
 */
typedef void bus_wake_fn(void *arg);
struct bus_watch;
struct bus_watch *bus_watch(struct bus *b, bus_wake_fn *fn, void *arg);
/* Stops the calls; when it returns, @fn runs no more for this watch. */
void bus_unwatch(struct bus *b, struct bus_watch *w);
/* Subscribers watching now. */
size_t bus_watchers(struct bus *b);

#endif
