/*
 * Actions and their parameters. Each type lists the parameters it takes
 * (anything else is refused, so a typo never silently becomes a default);
 * each value is checked and converted into a JSON object, which is then
 * completed with defaults, cross-checked (replicas or scale_up_by, url or
 * webhook_id) and read back into the typed fields, so the stored JSON and
 * the struct cannot disagree.
 */
#include "aggregator/policy/policy_action.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggregator/policy/condition.h"
#include "aggregator/policy/policy_yaml.h"
#include "common/alloc.h"

enum param_kind { PARAM_INT, PARAM_NUMBER, PARAM_DURATION, PARAM_STRING, PARAM_STATE,
		  PARAM_SEVERITY, PARAM_URL };

struct param_def {
	const char *name;
	enum param_kind kind;
	int64_t min, max; /* integers; ms for durations; bytes for strings; max for numbers */
};

#define DAY_MS (86400 * 1000ll)

static const struct param_def scale_params[] = {
	{ "replicas", PARAM_INT, 0, 1000 },
	{ "scale_up_by", PARAM_INT, 1, 1000 },
	{ "min", PARAM_INT, 0, 1000 },
	{ "max", PARAM_INT, 1, 1000 },
};
static const struct param_def breaker_params[] = {
	{ "state", PARAM_STATE, 0, 0 },
	{ "duration", PARAM_DURATION, 1000, 7 * DAY_MS },
};
static const struct param_def rate_limit_params[] = {
	{ "limit", PARAM_NUMBER, 0, 1000000000 },
	{ "window", PARAM_DURATION, 1, DAY_MS },
};
static const struct param_def alert_params[] = {
	{ "channel", PARAM_STRING, 1, 63 },
	{ "severity", PARAM_SEVERITY, 0, 0 },
	{ "message", PARAM_STRING, 0, 1024 },
};
static const struct param_def webhook_params[] = {
	{ "url", PARAM_URL, 8, 2048 },
	{ "webhook_id", PARAM_STRING, 1, 63 },
};
static const struct param_def exec_params[] = {
	{ "command", PARAM_STRING, 1, 1024 },
};

#define PARAMS_MAX 4

static const struct {
	const char *name, *alias1, *alias2;
	const struct param_def *params;
	size_t nparams;
} types[POLICY_ACTION_COUNT] = {
	[POLICY_ACTION_RESTART] = { "restart", "restart_container", "restart_pod", NULL, 0 },
	[POLICY_ACTION_SCALE] = { "scale", "scale_up", NULL, scale_params, 4 },
	[POLICY_ACTION_CIRCUIT_BREAKER] = { "circuit_breaker", NULL, NULL, breaker_params, 2 },
	[POLICY_ACTION_RATE_LIMIT] = { "rate_limit", NULL, NULL, rate_limit_params, 2 },
	[POLICY_ACTION_ALERT] = { "alert", NULL, NULL, alert_params, 3 },
	[POLICY_ACTION_WEBHOOK] = { "webhook", NULL, NULL, webhook_params, 2 },
	[POLICY_ACTION_EXEC] = { "exec", NULL, NULL, exec_params, 1 },
};

static const char *const level_names[] = { "info", "warning", "critical" };
static const char *const level_aliases[] = { "low", "medium", "high" };

const char *policy_action_type_name(enum policy_action_type t)
{
	return (unsigned)t < POLICY_ACTION_COUNT ? types[t].name : NULL;
}

static int type_find(const char *name)
{
	for (int i = 0; i < POLICY_ACTION_COUNT; i++)
		if (!strcmp(name, types[i].name) ||
		    (types[i].alias1 && !strcmp(name, types[i].alias1)) ||
		    (types[i].alias2 && !strcmp(name, types[i].alias2)))
			return i;
	return -1;
}

/* Whole numbers as JSON integers: 60, not 60.0, in the canonical text. */
static json_t *number_json(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static int level_find(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcasecmp(s, level_names[i]) || !strcasecmp(s, level_aliases[i]))
			return i;
	return -1;
}

/* A string-valued parameter: plain, a state, a severity or a URL. */
static int param_text(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		      const struct param_def *d, json_t **out)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, d->kind == PARAM_STRING || d->kind == PARAM_URL ?
						       (size_t)d->max : 16, &s);

	if (err)
		return err;
	if (d->kind == PARAM_STATE && strcmp(s, "open") && strcmp(s, "closed"))
		return policy_yaml_fail(y, n, field, "expected open or closed, got '%s'", s);
	if (d->kind == PARAM_SEVERITY) {
		if (level_find(s) < 0)
			return policy_yaml_fail(y, n, field,
						"expected info, warning or critical, got '%s'", s);
		s = level_names[level_find(s)];
	}
	if (d->kind == PARAM_URL && strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return policy_yaml_fail(y, n, field, "expected an http:// or https:// URL");
	if (strlen(s) < (size_t)d->min)
		return policy_yaml_fail(y, n, field, "must not be empty");
	*out = json_string(s);
	if (!*out)
		return policy_yaml_fail(y, n, field, "is not valid UTF-8");
	return 0;
}

static int param_value(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		       const struct param_def *d, json_t **out)
{
	int64_t i;
	double v;
	int err;

	switch (d->kind) {
	case PARAM_INT:
		err = policy_yaml_int(y, n, field, d->min, d->max, &i);
		*out = err ? NULL : json_integer(i);
		return err;
	case PARAM_NUMBER:
		err = policy_yaml_number(y, n, field, 0, (double)d->max, &v);
		if (!err && v <= 0)
			err = policy_yaml_fail(y, n, field, "must be more than 0");
		*out = err ? NULL : number_json(v);
		return err;
	case PARAM_DURATION:
		err = policy_yaml_duration_ms(y, n, field, d->min, d->max, &i);
		*out = err ? NULL : number_json((double)i / 1000);
		return err;
	default:
		return param_text(y, n, field, d, out);
	}
}

/* The parameters mapping (or null: none) into @obj, each checked against @t's table. */
static int read_params(const struct policy_yaml *y, const yaml_node_t *n, const char *prefix,
		       enum policy_action_type t, json_t *obj)
{
	const char *keys[PARAMS_MAX];
	const yaml_node_t *vals[PARAMS_MAX];
	char field[POLICY_FIELD_MAX];
	json_t *v = NULL;
	int err;

	if (!n || policy_yaml_is_null(n))
		return 0;
	for (size_t i = 0; i < types[t].nparams; i++)
		keys[i] = types[t].params[i].name;
	if (!types[t].nparams && n->type == YAML_MAPPING_NODE &&
	    n->data.mapping.pairs.start == n->data.mapping.pairs.top)
		return 0; /* "parameters: {}" on a type that takes none */
	if (!types[t].nparams && n->type == YAML_MAPPING_NODE)
		return policy_yaml_fail(y, n, prefix, "%s takes no parameters", types[t].name);
	err = policy_yaml_map(y, n, prefix, keys, types[t].nparams, vals);
	for (size_t i = 0; !err && i < types[t].nparams; i++) {
		if (!vals[i])
			continue;
		policy_yaml_field(field, prefix, keys[i]);
		err = param_value(y, vals[i], field, &types[t].params[i], &v);
		if (!err)
			json_object_set_new(obj, keys[i], v);
	}
	return err;
}

static void set_default(json_t *obj, const char *key, json_t *v)
{
	if (!json_object_get(obj, key))
		json_object_set_new(obj, key, v);
	else
		json_decref(v);
}

static int64_t get_int(const json_t *obj, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(obj, key));
}

static char *get_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? xstrdup(s) : NULL;
}

static int finish_scale(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
			json_t *obj, struct policy_action *a)
{
	bool abs = json_object_get(obj, "replicas"), rel = json_object_get(obj, "scale_up_by");

	if (abs && rel)
		return policy_yaml_fail(y, n, field, "give replicas or scale_up_by, not both");
	if (!abs)
		set_default(obj, "scale_up_by", json_integer(1));
	a->scale.replicas = get_int(obj, "replicas");
	a->scale.scale_up_by = get_int(obj, "scale_up_by");
	a->scale.min = get_int(obj, "min");
	a->scale.max = get_int(obj, "max");
	if (a->scale.max && a->scale.min > a->scale.max)
		return policy_yaml_fail(y, n, field, "min %lld is above max %lld",
					(long long)a->scale.min, (long long)a->scale.max);
	if (abs && (a->scale.replicas < a->scale.min ||
		    (a->scale.max && a->scale.replicas > a->scale.max)))
		return policy_yaml_fail(y, n, field, "replicas %lld is outside [min, max]",
					(long long)a->scale.replicas);
	return 0;
}

/* Defaults, cross-checks and the typed fields; @n and @field locate the parameters. */
static int finish(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		  json_t *obj, struct policy_action *a)
{
	switch (a->type) {
	case POLICY_ACTION_SCALE:
		return finish_scale(y, n, field, obj, a);
	case POLICY_ACTION_CIRCUIT_BREAKER:
		set_default(obj, "state", json_string("open"));
		set_default(obj, "duration", json_integer(60));
		a->breaker.open = !strcmp(json_string_value(json_object_get(obj, "state")), "open");
		a->breaker.duration_ms =
			llround(json_number_value(json_object_get(obj, "duration")) * 1000);
		return 0;
	case POLICY_ACTION_RATE_LIMIT:
		if (!json_object_get(obj, "limit"))
			return policy_yaml_fail(y, n, field, "rate_limit needs a limit");
		set_default(obj, "window", json_integer(1));
		a->rate_limit.limit = json_number_value(json_object_get(obj, "limit"));
		a->rate_limit.window_ms =
			llround(json_number_value(json_object_get(obj, "window")) * 1000);
		return 0;
	case POLICY_ACTION_ALERT:
		set_default(obj, "channel", json_string("log"));
		set_default(obj, "severity", json_string("warning"));
		a->alert.channel = get_str(obj, "channel");
		a->alert.severity = level_find(json_string_value(json_object_get(obj, "severity")));
		a->alert.message = get_str(obj, "message");
		return 0;
	case POLICY_ACTION_WEBHOOK:
		if (!json_object_get(obj, "url") == !json_object_get(obj, "webhook_id"))
			return policy_yaml_fail(y, n, field, "webhook needs url or webhook_id (one)");
		a->webhook.url = get_str(obj, "url");
		a->webhook.webhook_id = get_str(obj, "webhook_id");
		return 0;
	case POLICY_ACTION_EXEC:
		a->exec.command = get_str(obj, "command");
		if (!a->exec.command)
			return policy_yaml_fail(y, n, field, "exec needs a command");
		return 0;
	default:
		return 0;
	}
}

/* The type of an action: from its scalar form or its "type" key. */
static int read_type(const struct policy_yaml *y, const yaml_node_t *n, const char *field,
		     enum policy_action_type *t)
{
	const char *s;
	int err = policy_yaml_text(y, n, field, 64, &s), i;

	if (err)
		return err;
	i = type_find(s);
	if (i < 0)
		return policy_yaml_fail(y, n, field,
					"unknown action '%s' (known: restart, restart_container, "
					"restart_pod, scale, scale_up, circuit_breaker, rate_limit, "
					"alert, webhook, exec)",
					s);
	*t = (enum policy_action_type)i;
	return 0;
}

int policy_action_parse(const struct policy_yaml *y, const yaml_node_t *node, const char *field,
			struct policy_action *a)
{
	static const char *const keys[] = { "type", "parameters" };
	const yaml_node_t *vals[2] = { NULL, NULL };
	char sub[POLICY_FIELD_MAX];
	json_t *obj;
	int err;

	if (node->type == YAML_SCALAR_NODE) {
		policy_yaml_field(sub, "", field);
		err = read_type(y, node, sub, &a->type);
	} else {
		err = policy_yaml_map(y, node, field, keys, 2, vals);
		policy_yaml_field(sub, field, "type");
		if (!err && !vals[0])
			err = policy_yaml_fail(y, node, sub, "missing: every action has a type");
		if (!err)
			err = read_type(y, vals[0], sub, &a->type);
	}
	if (err)
		return err;
	obj = json_object();
	policy_yaml_field(sub, field, "parameters");
	err = read_params(y, vals[1], sub, a->type, obj);
	if (!err)
		err = finish(y, vals[1] ? vals[1] : node, sub, obj, a);
	if (!err)
		a->params_json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	return err;
}

void policy_action_release(struct policy_action *a)
{
	free(a->params_json);
	free(a->alert.channel);
	free(a->alert.message);
	free(a->webhook.url);
	free(a->webhook.webhook_id);
	free(a->exec.command);
}
