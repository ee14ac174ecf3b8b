/*
 * Webhooks (API.md: webhooks; docs/webhooks.md): a tenant's hooks, and the
 * delivery of the bus's events to them, durably and at least once.
 *
 * A dispatcher thread watches the bus. For each event after its cursor, in
 * id order, it queues a delivery (a row of the store, with the body as it
 * will be sent) to every enabled hook of the event's tenant subscribed to
 * its type, and moves the cursor, in one transaction: across any crash an
 * event is turned into deliveries once. Delivery workers send the due
 * deliveries over libcurl, each hook's in order (a hook's next delivery
 * waits while an earlier one is being retried); a 2xx answer is success,
 * anything else is retried with an exponential, jittered backoff until
 * max_attempts, then the delivery is failed. Every attempt is written to
 * the store. A delivery in flight when the process dies is sent again
 * after a restart: receivers drop repeats by X-Webhook-ID.
 *
 * Changes to the hooks go through here (this module has the store writer
 * the webhooks tables are written with); reads may use any store.
 *
 * Threads: webhooks_start()/webhooks_stop() by one thread; every other
 * function from any thread, while started.
 */
#ifndef PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_H
#define PRP_AGGREGATOR_WEBHOOKS_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregator/events/bus.h"
#include "aggregator/store/store.h"
#include "common/compiler.h"

#define WEBHOOKS_MAX_ATTEMPTS	8
#define WEBHOOKS_BACKOFF_MS	1000
#define WEBHOOKS_BACKOFF_MAX_MS (10 * 60 * 1000)
#define WEBHOOKS_TIMEOUT_MS	10000
#define WEBHOOKS_WORKERS	2
#define WEBHOOKS_WORKERS_MAX	32
#define WEBHOOKS_KEEP_DAYS	7 /* finished deliveries are pruned after this */

struct webhooks_config {
	struct store_options store; /* copied (dir too); opened as its own writer */
	/*
	 * borrowed; must outlive the webhooks. NULL: no events are delivered
	 * (but the store's events table is still read once a second, so events
	 * stored by a bus of this store are)
	 */
	struct bus *bus;
	unsigned max_attempts;	 /* 0: WEBHOOKS_MAX_ATTEMPTS */
	unsigned backoff_ms;	 /* the first pause; doubles each attempt; 0: WEBHOOKS_BACKOFF_MS */
	unsigned backoff_max_ms; /* 0: WEBHOOKS_BACKOFF_MAX_MS */
	unsigned timeout_ms;	 /* per attempt, connecting included; 0: WEBHOOKS_TIMEOUT_MS */
	unsigned workers;	 /* parallel deliveries (to distinct hooks); 0: WEBHOOKS_WORKERS */
	const char *ca_file;	 /* copied; PEM bundle for https; NULL: the system's */
};

struct webhooks;

/*
 * Opens the store (migrating it as needed), reads the cursor, and starts
 * the dispatcher and the workers: pending deliveries left by an earlier
 * run are sent, events stored after the cursor are dispatched. 0, or
 * -EINVAL (a read-only store, more than WEBHOOKS_WORKERS_MAX workers) or
 * the store's error; nothing is left running on failure.
 */
PRP_MUST_CHECK int webhooks_start(struct webhooks **out, const struct webhooks_config *c);

/*
 * Stops the dispatcher, waits for the deliveries in flight (each at most
 * timeout_ms) and writes their outcome; pending deliveries stay in the
 * store for the next start. Frees @w. NULL does nothing.
 */
void webhooks_stop(struct webhooks *w);

/*
 * What a change to a hook sets: a NULL pointer or a negative number leaves
 * the field as it is. "" clears the secret or the routing key.
 */
struct webhooks_change {
	const char *url;
	long long events; /* bits of enum bus_type, 0: all; -1: unchanged */
	const char *secret;
	int enabled;	     /* 0, 1; -1: unchanged */
	const char *headers; /* JSON object text; "{}" for none */
	int format;	     /* enum store_webhook_format; -1: unchanged */
	const char *routing_key;
};
/* A change that changes nothing, to fill in. */
#define WEBHOOKS_CHANGE_NONE ((struct webhooks_change){ .events = -1, .enabled = -1, .format = -1 })

/*
 * Makes a hook of @tenant from @c (url required; other fields default to
 * every event, no secret, enabled, no headers, json) into @out (release
 * it). Returns 0; -EINVAL with a message in @err naming the field (a bad
 * URL, headers, format, PagerDuty without a routing key); -EIO.
 */
PRP_MUST_CHECK int webhooks_create(struct webhooks *w, const char *tenant,
				   const struct webhooks_change *c, int64_t now_ms,
				   struct store_webhook *out, char *err, size_t errlen);

/*
 * Applies @c to hook @id of @tenant and writes it, atomically with respect
 * to other changes; the hook as it now is into @out (release it). Returns
 * 0, -ENOENT, or as webhooks_create().
 */
PRP_MUST_CHECK int webhooks_update(struct webhooks *w, const char *tenant, int64_t id,
				   const struct webhooks_change *c, int64_t now_ms,
				   struct store_webhook *out, char *err, size_t errlen);

/* Deletes hook @id of @tenant; its pending deliveries are failed. 0, -ENOENT or -EIO. */
PRP_MUST_CHECK int webhooks_delete(struct webhooks *w, const char *tenant, int64_t id,
				   int64_t now_ms);

/*
 * Queues a delivery of an event of @type with @data (borrowed; NULL: {})
 * to hook @id of @tenant alone, whatever it subscribes to, and not on the
 * bus: a webhook.test, or a policy's webhook action. *delivery_id is its
 * id. 0, -ENOENT (no such hook), -EPERM (it is disabled), -EINVAL or -EIO.
 */
PRP_MUST_CHECK int webhooks_enqueue(struct webhooks *w, const char *tenant, int64_t id,
				    enum bus_type type, const char *service,
				    enum store_severity severity, json_t *data, int64_t now_ms,
				    int64_t *delivery_id);

/* What the webhooks are doing now (for /health and tests). */
struct webhooks_stats {
	int64_t cursor;	    /* the last bus event dispatched */
	uint64_t in_flight; /* deliveries being sent now */
	uint64_t sent;	    /* attempts made since start */
	uint64_t succeeded; /* deliveries that succeeded since start */
	uint64_t failed;    /* deliveries that failed for good since start */
};
void webhooks_stats(struct webhooks *w, struct webhooks_stats *out);

#endif
