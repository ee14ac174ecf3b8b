/*
 * The events of an action's end (executor_events.h). The JSON is built
 * here rather than with aggregator/http/api_actions.c's api_actions_item(),
 * which needs the HTTP layer (resp_time()); the two must show the same
 * fields the same way.
 */
#include "aggregator/policy/executor_events.h"

#include <stdlib.h>

#include "aggregator/events/bus.h"
#include "common/alloc.h"
#include "common/timeutil.h"

/* Text as a JSON string; bytes not UTF-8 become '?' (a command's output may be anything). */
static json_t *text_json(const char *s)
{
	json_t *v;
	char *copy;

	if (!s)
		return json_null();
	if ((v = json_string(s)))
		return v;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* The parameters as an object: {} when absent or not an object. */
static json_t *parameters_json(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	if (json_is_object(v))
		return v;
	json_decref(v);
	return json_object();
}

/* The result parsed when it is JSON (the executor's are), else as text; null when none. */
static json_t *result_json(const char *text)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : text_json(text);
}

/* An instant in ISO 8601; null for 0 (not reached). */
static json_t *time_json(int64_t ms)
{
	char iso[TIME_ISO_LEN];

	if (ms <= 0)
		return json_null();
	time_format_iso((uint64_t)ms * NSEC_PER_MSEC, iso);
	return json_string(iso);
}

json_t *executor_events_action_json(const struct store_action *a)
{
	const char *status = store_action_status_name(a->status);

	return json_pack("{s:I, s:s, s:b, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}",
			 "action_id", (json_int_t)a->id, "policy_name", a->policy_name, "manual",
			 !a->policy_name[0], "service", a->service, "action", a->type, "parameters",
			 parameters_json(a->parameters), "reason", text_json(a->reason), "status",
			 status ? status : "unknown", "created_at", time_json(a->created_ms),
			 "started_at", time_json(a->started_ms), "completed_at",
			 time_json(a->completed_ms), "result", result_json(a->result));
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
	(void)bus_publish(b, a->tenant, type, a->service, sev, executor_events_action_json(a));
}
