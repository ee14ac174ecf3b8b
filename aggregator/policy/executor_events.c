/* The events of an action's end (executor_events.h). */
#include "aggregator/policy/executor_events.h"

#include <stdlib.h>
#include <string.h>

#include "aggregator/events/bus.h"
#include "aggregator/policy/action_json.h"

/* The severity parameter of an alert action; warning when absent. */
static enum store_severity alert_severity(const struct store_action *a)
{
	json_t *p = a->parameters ? json_loads(a->parameters, 0, NULL) : NULL;
	const char *s = json_string_value(json_object_get(p, "severity"));
	enum store_severity sev = !s			    ? STORE_SEVERITY_WARNING
				  : !strcmp(s, "critical") ? STORE_SEVERITY_CRITICAL
				  : !strcmp(s, "info")	    ? STORE_SEVERITY_INFO
							    : STORE_SEVERITY_WARNING;

	json_decref(p);
	return sev;
}

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
	/* an alert is as grave as it says: hooks and streams filter on it */
	if (type == BUS_ACTION_EXECUTED && !strcmp(a->type, "alert"))
		sev = alert_severity(a);
	(void)bus_publish(b, a->tenant, type, a->service, sev, action_json(a, false));
}
