/*
 * Policies and the engine's controls (API.md "Policies and actions"). The
 * engine validates, stores and audits; these handlers only check what HTTP
 * adds (the id in the path, the Content-Type, the shape of the JSON they
 * read themselves) and pass its answers on (api_engine.h). Policy bodies
 * go to the engine as the bytes that came: the engine's parser gives the
 * line and column of an error in them, which re-encoding would lose.
 */
#include "aggregator/http/api_policies.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/http/api_anomalies.h"
#include "aggregator/http/api_common.h"
#include "aggregator/http/api_engine.h"
#include "aggregator/http/api_env.h"
#include "aggregator/policy/condition.h"
#include "aggregator/policy/engine.h"
#include "aggregator/policy/executor.h"
#include "common/strparse.h"
#include "common/timeutil.h"

/* ---- policy documents ---- */

/* The Content-Types of YAML in use: the registered one and the two older ones. */
static const char *const yaml_types[] = { "application/yaml", "application/x-yaml", "text/yaml" };

/* Whether a body without a Content-Type is JSON: a JSON policy is an object. */
static bool api_policies_looks_json(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && p[i] == '{';
}

/* A policy body is present and of a known type: 0 and *yaml, or the 400/415 answered. */
static int api_policies_body(struct req *rq, struct resp *rp, bool *yaml)
{
	const char *ct = rq->content_type;

	if (!rq->body_len)
		return resp_error(rp, 400, "bad_request",
				  "a policy body is required (JSON or YAML)");
	if (!ct || !ct[0]) {
		*yaml = !api_policies_looks_json(rq->body, rq->body_len);
		return 0;
	}
	if (api_common_media_is(ct, "application/json")) {
		*yaml = false;
		return 0;
	}
	for (size_t i = 0; i < sizeof(yaml_types) / sizeof(yaml_types[0]); i++) {
		if (api_common_media_is(ct, yaml_types[i])) {
			*yaml = true;
			return 0;
		}
	}
	return resp_error(rp, 415, "unsupported_media_type",
			  "Content-Type '%.64s' is not application/json or application/yaml", ct);
}

int api_policies_list(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };

	if (!e)
		return -EIO;
	engine_policy_list(e, rq->tenant, &r);
	return api_engine_answer(rp, &r);
}

int api_policies_get(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	int64_t id;

	if (!e)
		return -EIO;
	if (api_common_id(rq, rp, "policy", &id))
		return -EINVAL;
	engine_policy_get(e, rq->tenant, id, &r);
	return api_engine_answer(rp, &r);
}

int api_policies_create(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	bool yaml;

	if (!e)
		return -EIO;
	if (api_policies_body(rq, rp, &yaml))
		return -EINVAL;
	/* the engine reads either form: JSON is YAML */
	engine_policy_create(e, rq->tenant, api_common_actor(rq), (const char *)rq->body,
			     rq->body_len, &r);
	return api_engine_answer(rp, &r);
}

int api_policies_update(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	int64_t id;
	bool yaml;

	if (!e)
		return -EIO;
	if (api_common_id(rq, rp, "policy", &id) || api_policies_body(rq, rp, &yaml))
		return -EINVAL;
	engine_policy_update(e, rq->tenant, api_common_actor(rq), id, (const char *)rq->body,
			     rq->body_len, yaml, &r);
	return api_engine_answer(rp, &r);
}

int api_policies_delete(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	int64_t id;

	if (!e)
		return -EIO;
	if (api_common_id(rq, rp, "policy", &id))
		return -EINVAL;
	engine_policy_delete(e, rq->tenant, api_common_actor(rq), id, &r);
	return api_engine_answer(rp, &r);
}

/* ---- the dry run ---- */

/* 400 for a metric name condition.h does not know, listing those it does. */
static int api_policies_unknown_metric(struct resp *rp, const char *field, const char *name)
{
	char known[512];
	size_t used = 0;

	known[0] = '\0';
	for (int m = 0; m < CONDITION_METRIC_COUNT && used < sizeof(known); m++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", m ? ", " : "",
					 condition_metric_name((enum condition_metric)m));
	return resp_error(rp, 400, "bad_request", "%s: unknown metric '%.64s' (known: %s)", field,
			  name, known);
}

/* metrics: {name: number | null}; null leaves the metric unknown. */
static int api_policies_metrics(struct resp *rp, json_t *metrics, struct condition_facts *f)
{
	const char *name;
	json_t *v;

	if (!json_is_object(metrics))
		return resp_error(rp, 400, "bad_request",
				  "metrics: must be an object of metric names and numbers");
	json_object_foreach (metrics, name, v) {
		int m = condition_metric_find(name);

		if (m < 0)
			return api_policies_unknown_metric(rp, "metrics", name);
		if (!json_is_number(v) && !json_is_null(v))
			return resp_error(rp, 400, "bad_request", "metrics.%.64s: must be a number",
					  name);
		f->metric[m] = json_is_null(v) ? NAN : json_number_value(v);
	}
	return 0;
}

/* anomalies: [metric, ...], the metrics with an anomaly open. */
static int api_policies_anomalies(struct resp *rp, json_t *list, struct condition_facts *f)
{
	size_t i;
	json_t *v;

	if (!json_is_array(list))
		return resp_error(rp, 400, "bad_request", "anomalies: must be a list of metrics");
	json_array_foreach (list, i, v) {
		int m = json_is_string(v) ? condition_metric_find(json_string_value(v)) : -1;
		char field[32];

		if (!json_is_string(v))
			return resp_error(rp, 400, "bad_request",
					  "anomalies[%zu]: must be a metric name", i);
		snprintf(field, sizeof(field), "anomalies[%zu]", i);
		if (m < 0)
			return api_policies_unknown_metric(rp, field, json_string_value(v));
		f->anomaly[m] = true;
	}
	return 0;
}

/* severity: a level or an alias: the highest open. */
static int api_policies_severity(struct resp *rp, json_t *v, struct condition_facts *f)
{
	enum store_severity s;

	if (!json_is_string(v) || api_anomalies_severity_parse(json_string_value(v), &s))
		return resp_error(rp, 400, "bad_request",
				  "severity: must be info, warning or critical");
	f->max_severity = (int)s;
	return 0;
}

/* predicted_breach: seconds (a number, or a duration such as "5m"). */
static int api_policies_breach(struct resp *rp, json_t *v, struct condition_facts *f)
{
	uint64_t ns;

	if (json_is_number(v) && json_number_value(v) >= 0) {
		f->predicted_breach_s = json_number_value(v);
		return 0;
	}
	if (json_is_string(v) && !strparse_duration_ns(json_string_value(v), NSEC_PER_SEC, &ns)) {
		f->predicted_breach_s = (double)ns / NSEC_PER_SEC;
		return 0;
	}
	return resp_error(rp, 400, "bad_request",
			  "predicted_breach: must be seconds (a number at least 0, or \"5m\")");
}

/*
 * The facts of the body into @f: *given is true when it names any, else the
 * test runs on the live facts. 0, or the 400 answered.
 */
static int api_policies_facts(struct resp *rp, json_t *body, const char **service,
			      struct condition_facts *f, bool *given)
{
	json_t *metrics = NULL, *anomalies = NULL, *severity = NULL, *breach = NULL;
	json_error_t jerr;

	*service = NULL;
	*given = false;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?s, s?o, s?o, s?o, s?o}", "service",
			   service, "metrics", &metrics, "anomalies", &anomalies, "severity",
			   &severity, "predicted_breach", &breach))
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	/* a member given as null is as if absent */
	metrics = json_is_null(metrics) ? NULL : metrics;
	anomalies = json_is_null(anomalies) ? NULL : anomalies;
	severity = json_is_null(severity) ? NULL : severity;
	breach = json_is_null(breach) ? NULL : breach;
	condition_facts_init(f);
	*given = metrics || anomalies || severity || breach;
	if ((metrics && api_policies_metrics(rp, metrics, f)) ||
	    (anomalies && api_policies_anomalies(rp, anomalies, f)) ||
	    (severity && api_policies_severity(rp, severity, f)) ||
	    (breach && api_policies_breach(rp, breach, f)))
		return -EINVAL;
	return 0;
}

int api_policies_test(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	struct condition_facts f;
	const char *service;
	json_t *body;
	bool given = false;
	int64_t id;

	if (!e)
		return -EIO;
	if (api_common_id(rq, rp, "policy", &id) || api_common_body(rq, rp, true, &body))
		return -EINVAL;
	if (api_policies_facts(rp, body, &service, &f, &given)) {
		json_decref(body);
		return -EINVAL;
	}
	/* service is borrowed from body: the engine has answered before body goes */
	engine_policy_test(e, rq->tenant, id, service, given ? &f : NULL, &r);
	json_decref(body);
	return api_engine_answer(rp, &r);
}

/* ---- evaluation and control ---- */

int api_policies_evaluate(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_result r = { 0 };
	json_t *body;

	if (!e)
		return -EIO;
	/* old clients send {} or nothing; members are ignored, as by POST /detect/manual */
	if (api_common_body(rq, rp, true, &body))
		return -EINVAL;
	json_decref(body);
	engine_evaluate_now(e, rq->tenant, &r);
	return api_engine_answer(rp, &r);
}

int api_policies_toggle(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	json_error_t jerr;
	int enabled = -1; /* engine_toggle()'s "flip" */
	json_t *body;
	bool on;

	if (!e)
		return -EIO;
	if (api_common_platform(rq, rp, "auto-remediation") ||
	    api_common_body(rq, rp, true, &body))
		return -EINVAL;
	if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?b}", "enabled", &enabled)) {
		json_decref(body);
		return resp_error(rp, 400, "bad_request", "%s", jerr.text);
	}
	json_decref(body);
	on = engine_toggle(e, rq->tenant, api_common_actor(rq), enabled < 0 ? -1 : !!enabled);
	return resp_json(rp, 200, json_pack("{s:b}", "auto_remediation_enabled", on));
}

static const char *api_policies_breaker_state(enum executor_breaker_state s)
{
	return s == EXECUTOR_BREAKER_HALF_OPEN ? "half_open" : "open";
}

/* The executor's counters and the breakers open now; null and [] without an executor. */
static void api_policies_executor(struct req *rq, json_t *doc)
{
	struct executor *x = rq->env->executor;
	struct executor_breaker *b = NULL;
	struct executor_stats st;
	json_t *list = json_array();
	size_t n = 0;

	if (!x) {
		json_object_set_new(doc, "executor", json_null());
		json_object_set_new(doc, "breakers", list);
		return;
	}
	executor_get_stats(x, &st);
	json_object_set_new(
		doc, "executor",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "submitted",
			  (json_int_t)st.submitted, "succeeded", (json_int_t)st.succeeded,
			  "failed", (json_int_t)st.failed, "timed_out", (json_int_t)st.timed_out,
			  "recorded", (json_int_t)st.recorded, "queued", (json_int_t)st.queued,
			  "running", (json_int_t)st.running, "breakers_open",
			  (json_int_t)st.breakers_open));
	/* a failure to list them leaves the list empty: the counters above still hold */
	if (executor_breakers(x, rq->tenant, &b, &n))
		n = 0;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			list,
			json_pack("{s:s, s:s, s:o, s:o, s:f, s:I, s:s}", "service", b[i].service,
				  "state", api_policies_breaker_state(b[i].state), "opened_at",
				  resp_time(b[i].opened_ms), "next_at", resp_time(b[i].next_ms),
				  "duration_s", (double)b[i].duration_ms / 1000.0, "reopened",
				  (json_int_t)b[i].reopened, "policy_name", b[i].policy_name));
	free(b);
	json_object_set_new(doc, "breakers", list);
}

int api_policies_status(struct req *rq, struct resp *rp)
{
	struct engine *e = api_engine_get(rq, rp);
	struct engine_status st;
	json_t *doc;

	if (!e)
		return -EIO;
	engine_get_status(e, &st);
	doc = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "auto_remediation_enabled",
			st.auto_remediation_enabled, "policies_loaded",
			(json_int_t)st.policies_loaded, "policies_enabled",
			(json_int_t)st.policies_enabled, "actions_executed",
			(json_int_t)st.actions_executed, "actions_skipped",
			(json_int_t)st.actions_skipped, "evaluations", (json_int_t)st.evaluations,
			"last_check", st.last_check_ms ? resp_time(st.last_check_ms) : json_null(),
			"max_actions_per_hour", (json_int_t)st.max_actions_per_hour,
			"actions_last_hour", (json_int_t)st.actions_last_hour);
	if (doc)
		api_policies_executor(rq, doc);
	return resp_json(rp, 200, doc);
}
