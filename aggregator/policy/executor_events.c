/* The events of an action's end (executor_events.h). */
#include "aggregator/policy/executor_events.h"

#include <stdlib.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/action_json.h"

void executor_events_publish(struct bus *b, const struct store_action *a)
{
	enum bus_type type;
	enum store_severity sev;

	if (!b)
		return;
	switch (a->status) {
	case STORE_ACTION_SUCCEEDED:
		type = BUS_ACTION_EXECUTED;
		sev = STORE_SEVERITY_INFO;
		break;
	case STORE_ACTION_FAILED:
	case STORE_ACTION_TIMED_OUT:
		type = BUS_ACTION_FAILED;
		sev = STORE_SEVERITY_WARNING;
		break;
	default:
		return;
	}
	/* a failure to store is logged by the bus; the action itself is done either way */
	(void)bus_publish(b, a->tenant, type, a->service, sev, action_json(a, false));
}
