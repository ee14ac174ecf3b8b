/*
 * What the end of an action tells the event bus (aggregator/events/bus.h,
 * API.md "events"): action.executed when it succeeded, action.failed when
 * it failed or timed out, with the action as GET /actions shows it. Used
 * by the executor where an action ends, and by the engine for a manual
 * action it records failed at once for want of an executor.
 *
 * Pure but for bus_publish(); any thread. Call it with no lock held that
 * a subscriber could want (publishing writes to the store).
 */
#ifndef PRP_AGGREGATOR_POLICY_EXECUTOR_EVENTS_H
#define PRP_AGGREGATOR_POLICY_EXECUTOR_EVENTS_H

#include <jansson.h>

#include "aggregator/store/store.h"

struct bus;

/*
 * Publishes the end of @a on @b (borrowed; NULL: nothing): action.executed
 * (info) for succeeded, action.failed (warning) for failed and timed_out;
 * nothing for any other status.
 */
void executor_events_publish(struct bus *b, const struct store_action *a);

#endif
