/*
 * An action as the API and the events show it (action_json.h): one place,
 * so that GET /actions and the action.* events cannot drift apart.
 */
#include "aggregator/policy/action_json.h"

#include <stdlib.h>

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

json_t *action_json(const struct store_action *a, bool with_logs)
{
	const char *status = store_action_status_name(a->status);

	json_t *v = json_pack("{s:I, s:s, s:b, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}",
			 "action_id", (json_int_t)a->id, "policy_name", a->policy_name, "manual",
			 !a->policy_name[0], "service", a->service, "action", a->type, "parameters",
			 parameters_json(a->parameters), "reason", text_json(a->reason), "status",
			 status ? status : "unknown", "created_at", time_json(a->created_ms),
			 "started_at", time_json(a->started_ms), "completed_at",
			 time_json(a->completed_ms), "result", result_json(a->result));

	if (v && with_logs)
		json_object_set_new(v, "logs", text_json(a->logs));
	return v;
}

